//! Telegram intake against the fake Bot API: the webhook's secret, replays, the allow-list,
//! usage replies, tasks created from chat with their one progress message, and approving a
//! plan with the inline button.

use std::collections::BTreeMap;
use std::time::Duration;

use kiln_intake::telegram::Client;
use kiln_intake::{Button, Secret};
use kiln_store::auth::Role;
use kiln_testkit::fakes::FakeTelegram;
use kiln_testkit::fakes::telegram::StoredMessage;
use serde_json::{Value, json};
use sqlx::Row;

use crate::common::{Api, assert_problem};

const SECRET: &str = "tg-webhook-secret-42";
const CHAT: i64 = 5_550_001;
const OPERATOR: i64 = 4_242;
const STRANGER: i64 = 6_666;

async fn start() -> (Api, FakeTelegram) {
    let tg = FakeTelegram::start().await;
    let base = tg.base_url();
    let token = tg.token().to_owned();
    let api = Api::with_config(move |c| {
        c.telegram.bot_token = Some(Secret::new(token));
        c.telegram.webhook_secret = Some(Secret::new(SECRET));
        c.telegram.api_base = base;
        c.telegram.users = BTreeMap::from([(OPERATOR.to_string(), Role::Operator)]);
    })
    .await;
    Client::with_base_url(tg.base_url(), Secret::new(tg.token()))
        .set_webhook(&api.url("/api/v1/webhooks/telegram"), &Secret::new(SECRET))
        .await
        .expect("webhook set on the fake");
    (api, tg)
}

/// The bot's messages in `chat` once `pred` holds for them, within `secs`.
async fn wait_messages(
    tg: &FakeTelegram,
    chat: i64,
    secs: u64,
    pred: impl Fn(&[StoredMessage]) -> bool,
) -> Vec<StoredMessage> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let messages = tg.messages_in(chat);
        if pred(&messages) {
            return messages;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chat {chat} never got there: {messages:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_forged_or_missing_secret_is_refused_and_stores_nothing() {
    let (api, tg) = start().await;
    let update = tg.message_update(
        CHAT,
        OPERATOR,
        "/new static-site forged A page for a bakery",
    );
    for secret in [Some("wrong-secret"), None] {
        let mut req = api.anonymous.post(api.url("/api/v1/webhooks/telegram"));
        if let Some(s) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        let resp = req.json(&update).send().await.expect("answered");
        assert_problem(resp, 401, "secret").await;
    }
    assert_eq!(api.count("intake_deliveries").await, 0);
    assert_eq!(api.count("tasks").await, 0);
    assert!(tg.messages_in(CHAT).is_empty());
    api.stop().await;
}

#[tokio::test]
async fn a_chat_command_creates_one_task_with_one_progress_message_even_when_replayed() {
    let (api, tg) = start().await;
    let mut update = tg.message_update(
        CHAT,
        OPERATOR,
        "/web Bakery A landing page for a bakery with opening hours",
    );
    update["update_id"] = json!(900_001);
    assert_eq!(tg.deliver_webhook(update.clone()).await, 200);
    assert_eq!(tg.deliver_webhook(update).await, 200, "a replay is taken");

    let rows = sqlx::query("SELECT id, requested_by, source FROM tasks")
        .fetch_all(&api.env.pool)
        .await
        .expect("tasks");
    assert_eq!(rows.len(), 1, "the replay created nothing");
    let id: uuid::Uuid = rows[0].get("id");
    assert_eq!(
        rows[0].get::<String, _>("requested_by"),
        "telegram:user4242#4242"
    );
    assert_eq!(rows[0].get::<String, _>("source"), "telegram");
    let messages = wait_messages(&tg, CHAT, 10, |m| !m.is_empty()).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let first = &messages[0];
    assert!(
        first.text.contains("Kiln: bakery (static-site, new app)"),
        "{first:#?}"
    );
    assert!(first.text.contains(&id.to_string()[..8]), "{first:#?}");
    assert_eq!(first.parse_mode, None, "plain text only");

    let thread = sqlx::query("SELECT channel, message_id, last_reported FROM task_threads WHERE task_id = $1 AND source = 'telegram'")
        .bind(id)
        .fetch_one(&api.env.pool)
        .await
        .expect("thread recorded");
    assert_eq!(thread.get::<String, _>("channel"), CHAT.to_string());
    assert_eq!(
        thread.get::<Option<String>, _>("message_id"),
        Some(first.message_id.to_string())
    );
    let audit = sqlx::query("SELECT actor, source FROM audit_log WHERE action = 'task.created'")
        .fetch_one(&api.env.pool)
        .await
        .expect("audited");
    assert_eq!(audit.get::<String, _>("source"), "telegram");

    // The task moves; the same message is edited, and gains the approval buttons.
    awaiting_plan(&api, id).await;
    let messages = wait_messages(&tg, CHAT, 15, |m| {
        m.len() == 1 && m[0].text.contains("waiting for plan approval")
    })
    .await;
    assert!(messages[0].edits >= 1);
    assert_eq!(
        messages[0].reply_markup["inline_keyboard"][0][0]["callback_data"],
        Button::Approve(id).data()
    );

    // An operator approves the plan with the button.
    let (press, callback) = tg.callback_update(
        CHAT,
        OPERATOR,
        messages[0].message_id,
        &Button::Approve(id).data(),
    );
    assert_eq!(tg.deliver_webhook(press).await, 200);
    let answered = tg.answered_callbacks();
    assert!(
        answered.iter().any(|(cb, text)| *cb == callback
            && text.as_deref().is_some_and(|t| t.starts_with("Approved"))),
        "{answered:?}"
    );
    let status: String = sqlx::query_scalar("SELECT status FROM tasks WHERE id = $1")
        .bind(id)
        .fetch_one(&api.env.pool)
        .await
        .expect("status");
    assert_eq!(status, "generating");
    let actor: String = sqlx::query_scalar(
        "SELECT actor FROM audit_log WHERE action LIKE 'plan_approval.%' AND task_id = $1",
    )
    .bind(id)
    .fetch_one(&api.env.pool)
    .await
    .expect("approval audited");
    assert_eq!(actor, "telegram:user4242#4242");
    wait_messages(&tg, CHAT, 15, |m| {
        m.len() == 1 && m[0].reply_markup.is_null() && m[0].text.contains("writing code")
    })
    .await;
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

#[tokio::test]
async fn strangers_are_refused_politely_and_audited_and_bad_commands_get_usage() {
    let (api, tg) = start().await;
    let update = tg.message_update(CHAT, STRANGER, "/new static-site shop A shop");
    assert_eq!(tg.deliver_webhook(update).await, 200);
    let messages = wait_messages(&tg, CHAT, 5, |m| !m.is_empty()).await;
    assert!(
        messages[0].text.contains("not on this Kiln's list"),
        "{messages:#?}"
    );
    let row =
        sqlx::query("SELECT actor, source, reason FROM audit_log WHERE action = 'intake.denied'")
            .fetch_one(&api.env.pool)
            .await
            .expect("refusal audited");
    assert_eq!(row.get::<String, _>("actor"), "telegram:user6666#6666");
    assert_eq!(row.get::<String, _>("source"), "telegram");
    assert_eq!(api.count("tasks").await, 0);

    let update = tg.message_update(CHAT, OPERATOR, "/new static-site");
    assert_eq!(tg.deliver_webhook(update).await, 200);
    let messages = wait_messages(&tg, CHAT, 5, |m| m.len() == 2).await;
    assert!(
        messages[1]
            .text
            .contains("usage: /new <template> <Name> <brief>"),
        "{messages:#?}"
    );

    // An operator may not pause: that needs an admin.
    let update = tg.message_update(CHAT, OPERATOR, "/pause -- maintenance");
    assert_eq!(tg.deliver_webhook(update).await, 200);
    let messages = wait_messages(&tg, CHAT, 5, |m| m.len() == 3).await;
    assert!(
        messages[2].text.contains("needs the admin role"),
        "{messages:#?}"
    );
    assert_eq!(api.count("control_flags").await, 0);
    api.stop().await;
}

#[tokio::test]
async fn the_reporter_holds_edits_while_paused_and_catches_up_after() {
    let (api, tg) = start().await;
    let update = tg.message_update(CHAT, OPERATOR, "/web held A landing page for a bakery");
    assert_eq!(tg.deliver_webhook(update).await, 200);
    let messages = wait_messages(&tg, CHAT, 10, |m| m.len() == 1).await;
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM tasks")
        .fetch_one(&api.env.pool)
        .await
        .expect("task");
    let resp = api
        .http
        .put(api.url("/api/v1/system/pause"))
        .json(&json!({"paused": true, "reason": "chat test"}))
        .send()
        .await
        .expect("paused");
    assert_eq!(resp.status(), 200);
    awaiting_plan(&api, id).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let held = tg.message(CHAT, messages[0].message_id).expect("message");
    assert_eq!(held.edits, 0, "no edit while paused: {held:#?}");

    // Telegram is rate limiting when the pause lifts: the edit waits and then lands.
    tg.fail_next(kiln_testkit::fakes::Mode::RateLimited {
        retry_after_secs: 1.0,
    });
    let resp = api
        .http
        .put(api.url("/api/v1/system/pause"))
        .json(&json!({"paused": false}))
        .send()
        .await
        .expect("resumed");
    assert_eq!(resp.status(), 200);
    let after = wait_messages(&tg, CHAT, 20, |m| {
        m.len() == 1 && m[0].text.contains("waiting for plan approval")
    })
    .await;
    assert!(after[0].edits >= 1);
    let calls: Vec<Value> = tg
        .requests_to("editMessageText")
        .into_iter()
        .map(|r| r.body)
        .collect();
    assert!(!calls.is_empty());
    api.stop().await;
}

#[tokio::test]
async fn long_polling_removes_the_webhook_and_takes_each_update_once() {
    let tg = FakeTelegram::start().await;
    // A webhook left over from before: long polling must remove it, or getUpdates is refused.
    Client::with_base_url(tg.base_url(), Secret::new(tg.token()))
        .set_webhook("https://old.example/hook", &Secret::new(SECRET))
        .await
        .expect("webhook set on the fake");
    let base = tg.base_url();
    let token = tg.token().to_owned();
    let api = Api::with_config(move |c| {
        c.telegram.bot_token = Some(Secret::new(token));
        c.telegram.api_base = base;
        c.telegram.users = BTreeMap::from([(OPERATOR.to_string(), Role::Operator)]);
        c.telegram.long_poll = true;
    })
    .await;

    let update_id = tg.push_message(CHAT, OPERATOR, "/web shop A shop page");
    let messages = wait_messages(&tg, CHAT, 15, |m| !m.is_empty()).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(messages[0].text.contains("Kiln: shop"), "{messages:#?}");
    assert!(!tg.requests_to("deleteWebhook").is_empty());
    assert_eq!(tg.webhook(), None, "the webhook was removed");

    let rows = sqlx::query("SELECT id, source, requested_by FROM tasks")
        .fetch_all(&api.env.pool)
        .await
        .expect("tasks");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<String, _>("source"), "telegram");
    assert_eq!(
        rows[0].get::<String, _>("requested_by"),
        "telegram:user4242#4242"
    );
    let id: uuid::Uuid = rows[0].get("id");
    let thread: Option<String> = sqlx::query_scalar(
        "SELECT message_id FROM task_threads WHERE task_id = $1 AND source = 'telegram'",
    )
    .bind(id)
    .fetch_one(&api.env.pool)
    .await
    .expect("thread recorded");
    assert_eq!(thread, Some(messages[0].message_id.to_string()));

    // The next poll confirms the update: its offset is past it, and the fake drops it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let confirmed = tg
            .requests_to("getUpdates")
            .iter()
            .any(|r| r.body.get("offset").and_then(Value::as_i64) == Some(update_id + 1));
        if confirmed && tg.pending_updates() == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the offset never moved past {update_id}: {:#?}",
            tg.requests_to("getUpdates")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A later message is taken too, and the first one is not taken again.
    tg.push_message(CHAT, OPERATOR, "/web blog A blog page");
    wait_messages(&tg, CHAT, 15, |m| m.len() == 2).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(api.count("tasks").await, 2, "one task per update");
    api.stop().await;
}
