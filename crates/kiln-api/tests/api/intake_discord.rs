//! Discord intake against the fake Discord: signatures (valid, forged, stale), PING, a slash
//! command answered deferred and completed by editing the original reply, and the allow-list.

use std::collections::BTreeMap;
use std::time::Duration;

use kiln_intake::Button;
use kiln_store::auth::Role;
use kiln_testkit::fakes::FakeDiscord;
use serde_json::json;
use sqlx::Row;

use crate::common::{Api, assert_problem};

const OPERATORS: &str = "1400000000000000001";
const VIEWERS: &str = "1400000000000000002";

async fn start() -> (Api, FakeDiscord) {
    let dc = FakeDiscord::start().await;
    let (key, app, base) = (
        dc.public_key_hex(),
        dc.application_id().to_owned(),
        dc.base_url(),
    );
    let api = Api::with_config(move |c| {
        c.discord.public_key = key;
        c.discord.application_id = app;
        c.discord.api_base = base;
        c.discord.roles = BTreeMap::from([
            (OPERATORS.to_owned(), Role::Operator),
            (VIEWERS.to_owned(), Role::Viewer),
        ]);
    })
    .await;
    (api, dc)
}

#[tokio::test]
async fn only_signed_interactions_are_taken_and_ping_gets_pong() {
    let (api, dc) = start().await;
    let url = api.url("/api/v1/webhooks/discord");
    let (status, body) = dc.post_interaction(&url, &dc.ping()).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"type": 1}));

    let interaction = dc.slash_command(
        "new",
        &[
            ("template", "static-site"),
            ("name", "forged"),
            ("brief", "A page"),
        ],
        "77",
        &[OPERATORS],
    );
    let body = serde_json::to_vec(&interaction).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (signature, timestamp) = dc.sign(now, &body);
    // Signed for another body, signed long ago, or not signed at all.
    let (other_sig, _) = dc.sign(now, b"{}");
    let (stale_sig, stale_ts) = dc.sign(now - 3600, &body);
    for (sig, ts) in [
        (Some(other_sig), Some(timestamp.clone())),
        (Some(stale_sig), Some(stale_ts)),
        (None, None),
        (Some(signature.clone()), None),
    ] {
        let mut req = api
            .anonymous
            .post(&url)
            .header("content-type", "application/json");
        if let Some(sig) = sig {
            req = req.header("X-Signature-Ed25519", sig);
        }
        if let Some(ts) = ts {
            req = req.header("X-Signature-Timestamp", ts);
        }
        let resp = req.body(body.clone()).send().await.expect("answered");
        assert_problem(resp, 401, "Discord signature").await;
    }
    assert_eq!(api.count("tasks").await, 0);
    assert_eq!(api.count("intake_deliveries").await, 0);
    api.stop().await;
}

#[tokio::test]
async fn a_slash_command_defers_then_edits_the_original_with_the_progress() {
    let (api, dc) = start().await;
    let url = api.url("/api/v1/webhooks/discord");
    let interaction = dc.slash_command(
        "new",
        &[
            ("template", "static-site"),
            ("name", "Bakery"),
            ("brief", "A landing page for a bakery"),
        ],
        "77",
        &[OPERATORS],
    );
    let token = interaction["token"].as_str().unwrap().to_owned();
    let (status, body) = dc.post_interaction(&url, &interaction).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], 5, "deferred: {body}");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let original = loop {
        if let Some(m) = dc.original(&token) {
            break m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:#?}",
            dc.requests()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(original.content.contains("bakery"), "{original:#?}");
    let row = sqlx::query("SELECT requested_by, source FROM tasks")
        .fetch_one(&api.env.pool)
        .await
        .expect("task created");
    assert_eq!(row.get::<String, _>("requested_by"), "discord:user77#77");
    assert_eq!(row.get::<String, _>("source"), "discord");
    let threads: i64 =
        sqlx::query_scalar("SELECT count(*) FROM task_threads WHERE source = 'discord'")
            .fetch_one(&api.env.pool)
            .await
            .expect("thread");
    assert_eq!(threads, 1);

    // The same interaction again creates nothing more.
    let (status, _) = dc.post_interaction(&url, &interaction).await;
    assert_eq!(status, 200);
    assert_eq!(api.count("tasks").await, 1);

    // A member without a mapped role is refused, ephemerally, and audited.
    let stranger = dc.slash_command("status", &[], "88", &["1400000000000000999"]);
    let (status, body) = dc.post_interaction(&url, &stranger).await;
    assert_eq!(status, 200);
    assert_eq!(body["type"], 4, "{body}");
    assert!(
        body["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("none of your roles")
    );
    let denied: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'intake.denied' AND source = 'discord'",
    )
    .fetch_one(&api.env.pool)
    .await
    .expect("audit");
    assert_eq!(denied, 1);
    api.stop().await;
}

/// Puts a task where a plan waits for approval, as the planner would.
async fn awaiting_plan(api: &Api, id: uuid::Uuid) {
    let mut conn = api.env.pool.acquire().await.expect("conn");
    kiln_store::tasks::set_status(
        &mut *conn,
        id,
        kiln_store::TaskStatus::AwaitingPlanApproval,
        Some("3 files, 2 features"),
    )
    .await
    .expect("status");
    kiln_store::people::park(
        &mut *conn,
        id,
        kiln_store::people::WaitKind::PlanApproval,
        &api.env.subjects().work(kiln_contracts::Stage::Codegen),
        b"",
        &json!({}),
    )
    .await
    .expect("park");
}

/// The original reply of interaction `token` once Kiln has edited it, within 10 seconds.
async fn wait_original(
    dc: &FakeDiscord,
    token: &str,
) -> kiln_testkit::fakes::discord::StoredMessage {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(m) = dc.original(token) {
            return m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:#?}",
            dc.requests()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn status_of(api: &Api, id: uuid::Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM tasks WHERE id = $1")
        .bind(id)
        .fetch_one(&api.env.pool)
        .await
        .expect("status")
}

#[tokio::test]
async fn the_approve_button_works_for_operators_and_is_refused_to_viewers() {
    let (api, dc) = start().await;
    let url = api.url("/api/v1/webhooks/discord");
    let task = api.create("button-plan").await;
    let id = uuid::Uuid::parse_str(task["id"].as_str().unwrap()).unwrap();
    awaiting_plan(&api, id).await;
    let data = Button::Approve(id).data();

    // A viewer may look but not approve: refused, audited, and the task still waits.
    let press = dc.button_press(&data, "88", &[VIEWERS]);
    let token = press["token"].as_str().unwrap().to_owned();
    let (status, body) = dc.post_interaction(&url, &press).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], 5, "deferred: {body}");
    let reply = wait_original(&dc, &token).await;
    assert!(
        reply.content.contains("needs the operator role"),
        "{reply:#?}"
    );
    let denied = sqlx::query(
        "SELECT actor, target FROM audit_log WHERE action = 'intake.denied' AND source = 'discord'",
    )
    .fetch_one(&api.env.pool)
    .await
    .expect("refusal audited");
    assert_eq!(denied.get::<String, _>("actor"), "discord:user88#88");
    assert_eq!(denied.get::<String, _>("target"), "approve");
    assert_eq!(status_of(&api, id).await, "awaiting_plan_approval");
    assert_eq!(api.count("approvals").await, 0);

    // An operator's press approves the plan.
    let press = dc.button_press(&data, "77", &[OPERATORS]);
    let token = press["token"].as_str().unwrap().to_owned();
    let (status, body) = dc.post_interaction(&url, &press).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], 5, "deferred: {body}");
    let reply = wait_original(&dc, &token).await;
    assert!(reply.content.starts_with("Approved"), "{reply:#?}");
    assert_ne!(status_of(&api, id).await, "awaiting_plan_approval");
    let approval = sqlx::query("SELECT kind, decision, actor FROM approvals WHERE task_id = $1")
        .bind(id)
        .fetch_one(&api.env.pool)
        .await
        .expect("approval recorded");
    assert_eq!(approval.get::<String, _>("kind"), "plan_approval");
    assert_eq!(approval.get::<String, _>("decision"), "approve");
    assert_eq!(approval.get::<String, _>("actor"), "discord:user77#77");
    let audited: String = sqlx::query_scalar(
        "SELECT actor FROM audit_log WHERE action = 'plan_approval.approve' AND task_id = $1",
    )
    .bind(id)
    .fetch_one(&api.env.pool)
    .await
    .expect("approval audited");
    assert_eq!(audited, "discord:user77#77");
    api.stop().await;
}
