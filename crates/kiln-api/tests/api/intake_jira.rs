//! Jira intake against the fake Jira site: the webhook's signature, replays, transitions to
//! other statuses, the task link comment, answers as comments, the result comment with the
//! transition at the end, and no Jira writes while paused.

use std::collections::BTreeMap;
use std::time::Duration;

use kiln_api::intake::JiraProject;
use kiln_intake::Secret;
use kiln_store::TaskStatus;
use kiln_testkit::fakes::FakeJira;
use kiln_testkit::fakes::jira::{ACCOUNT_ID, StoredIssue};
use serde_json::json;
use sqlx::Row;
use uuid::Uuid;

use crate::common::{Api, assert_problem};

const SECRET: &str = "jira-webhook-secret-42";
const TRIGGER: &str = "Ready for Kiln";
const DASHBOARD: &str = "http://kiln.example.test";
const PERSON: &str = "557058:person-1";
const BREAKDOWN: &str = "Ready for Breakdown";

async fn start() -> (Api, FakeJira) {
    start_with(|_| {}).await
}

async fn start_with(
    adjust: impl FnOnce(&mut kiln_api::Config) + Send + 'static,
) -> (Api, FakeJira) {
    let jira = FakeJira::start().await;
    let base = jira.base_url();
    let api = Api::with_config(move |c| {
        c.jira.base_url = base;
        c.jira.email = kiln_testkit::fakes::jira::EMAIL.to_owned();
        c.jira.api_token = Some(Secret::new(kiln_testkit::fakes::jira::API_TOKEN));
        c.jira.webhook_secret = Some(Secret::new(SECRET));
        c.jira.account_id = ACCOUNT_ID.to_owned();
        c.jira.trigger_status = TRIGGER.to_owned();
        c.jira.done_status = "Done".to_owned();
        c.jira.failed_status = Some("To Do".to_owned());
        c.jira.dashboard_url = Some(DASHBOARD.to_owned());
        c.jira.projects = BTreeMap::from([(
            "SHOP".to_owned(),
            JiraProject {
                template: Some("static-site".to_owned()),
                project: None,
            },
        )]);
        adjust(c);
    })
    .await;
    (api, jira)
}

fn hook(api: &Api) -> String {
    api.url("/api/v1/webhooks/jira")
}

/// The comments' bodies (ADF) as JSON text, oldest first.
fn comment_texts(issue: &StoredIssue) -> Vec<String> {
    issue
        .comments
        .iter()
        .map(|c| c["body"].to_string())
        .collect()
}

/// The issue once `pred` holds for it, within `secs`.
async fn wait_issue(
    jira: &FakeJira,
    key: &str,
    secs: u64,
    pred: impl Fn(&StoredIssue) -> bool,
) -> StoredIssue {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let issue = jira.issue(key).expect("issue");
        if pred(&issue) {
            return issue;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "issue {key} never got there: {issue:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An issue of SHOP moved to the trigger status, delivered signed; returns its key and task.
async fn triggered(api: &Api, jira: &FakeJira) -> (String, Uuid) {
    let key = jira.add_issue(
        "SHOP",
        "Bakery landing page",
        "A landing page for a bakery with opening hours",
    );
    let event = jira.move_issue(&key, TRIGGER);
    assert_eq!(
        jira.deliver_webhook(&hook(api), Some(SECRET), &event).await,
        200
    );
    let id: Uuid = sqlx::query_scalar("SELECT id FROM tasks")
        .fetch_one(&api.env.pool)
        .await
        .expect("one task");
    (key, id)
}

fn has_link(issue: &StoredIssue, id: Uuid) -> bool {
    let href = format!("{DASHBOARD}/tasks/{id}");
    comment_texts(issue).iter().any(|c| c.contains(&href))
}

#[tokio::test]
async fn a_signed_transition_creates_one_task_with_a_link_comment_even_when_replayed() {
    let (api, jira) = start().await;
    let key = jira.add_issue(
        "SHOP",
        "Bakery landing page",
        "A landing page for a bakery with opening hours",
    );
    let event = jira.move_issue(&key, TRIGGER);
    assert_eq!(
        jira.deliver_webhook(&hook(&api), Some(SECRET), &event)
            .await,
        200
    );
    // The same delivery again (Jira's retry, or a replay with a fresh identifier header).
    assert_eq!(
        jira.deliver_webhook(&hook(&api), Some(SECRET), &event)
            .await,
        200
    );

    let rows = sqlx::query("SELECT id, requested_by, source, brief FROM tasks")
        .fetch_all(&api.env.pool)
        .await
        .expect("tasks");
    assert_eq!(rows.len(), 1, "the replay created nothing");
    let id: Uuid = rows[0].get("id");
    assert_eq!(rows[0].get::<String, _>("source"), "jira");
    assert_eq!(
        rows[0].get::<String, _>("requested_by"),
        format!("jira:Test Person#{PERSON}")
    );
    assert!(rows[0].get::<String, _>("brief").contains("opening hours"));
    assert_eq!(api.count("intake_deliveries").await, 1);

    let issue = wait_issue(&jira, &key, 10, |i| has_link(i, id)).await;
    assert_eq!(issue.comments.len(), 1, "{issue:#?}");
    assert_eq!(issue.comments[0]["author"]["accountId"], ACCOUNT_ID);
    let thread = sqlx::query(
        "SELECT channel, message_id FROM task_threads WHERE task_id = $1 AND source = 'jira'",
    )
    .bind(id)
    .fetch_one(&api.env.pool)
    .await
    .expect("thread");
    assert_eq!(thread.get::<String, _>("channel"), key);
    assert_eq!(
        thread.get::<Option<String>, _>("message_id").as_deref(),
        issue.comments[0]["id"].as_str()
    );
    // Kiln's own comment coming back as a webhook answers nothing and creates nothing.
    let own = jira.person_comments(&key, ACCOUNT_ID, "an echo of Kiln");
    assert_eq!(
        jira.deliver_webhook(&hook(&api), Some(SECRET), &own).await,
        200
    );
    assert_eq!(api.count("intake_deliveries").await, 1);
    api.stop().await;
}

#[tokio::test]
async fn a_forged_or_missing_signature_is_refused_and_stores_nothing() {
    let (api, jira) = start().await;
    let key = jira.add_issue("SHOP", "Forged", "A page nobody asked for");
    let event = jira.move_issue(&key, TRIGGER);
    jira.clear_requests();
    for secret in [Some("wrong-secret"), None] {
        assert_eq!(jira.deliver_webhook(&hook(&api), secret, &event).await, 401);
    }
    // The problem document, and a token header that is not the secret.
    let resp = api
        .anonymous
        .post(hook(&api))
        .header("X-Kiln-Jira-Token", "not-the-secret")
        .json(&event)
        .send()
        .await
        .expect("answered");
    assert_problem(resp, 401, "not trusted").await;
    // A valid signature over a different body is forged too.
    let resp = api
        .anonymous
        .post(hook(&api))
        .header("X-Hub-Signature", FakeJira::signature(SECRET, b"{}"))
        .json(&event)
        .send()
        .await
        .expect("answered");
    assert_problem(resp, 401, "does not match").await;
    assert_eq!(api.count("intake_deliveries").await, 0);
    assert_eq!(api.count("tasks").await, 0);
    assert!(jira.requests().is_empty(), "{:#?}", jira.requests());
    api.stop().await;
}

#[tokio::test]
async fn a_transition_to_another_status_or_an_unmapped_project_is_ignored() {
    let (api, jira) = start().await;
    let key = jira.add_issue("SHOP", "Not yet", "Still being written");
    let event = jira.move_issue(&key, "In Progress");
    let other = jira.add_issue("OPS", "Elsewhere", "A project Kiln does not take");
    let unmapped = jira.move_issue(&other, TRIGGER);
    jira.clear_requests();
    assert_eq!(
        jira.deliver_webhook(&hook(&api), Some(SECRET), &event)
            .await,
        200
    );
    assert_eq!(
        jira.deliver_webhook(&hook(&api), Some(SECRET), &unmapped)
            .await,
        200
    );
    // Signed but not an event at all.
    let resp = api
        .anonymous
        .post(hook(&api))
        .header("X-Hub-Signature", FakeJira::signature(SECRET, b"[1]"))
        .header("content-type", "application/json")
        .body("[1]")
        .send()
        .await
        .expect("answered");
    assert_problem(resp, 400, "").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(api.count("tasks").await, 0);
    assert_eq!(api.count("intake_deliveries").await, 0);
    assert!(jira.requests().is_empty(), "{:#?}", jira.requests());
    api.stop().await;
}

#[tokio::test]
async fn a_persons_comment_answers_the_tasks_questions() {
    let (api, jira) = start().await;
    let (key, id) = triggered(&api, &jira).await;
    wait_issue(&jira, &key, 10, |i| has_link(i, id)).await;
    {
        let mut conn = api.env.pool.acquire().await.expect("conn");
        kiln_store::tasks::set_status(&mut *conn, id, TaskStatus::AwaitingClarification, None)
            .await
            .expect("status");
        kiln_store::people::ask(
            &mut conn,
            id,
            &["Which colours should the page use?".into()],
        )
        .await
        .expect("ask");
        kiln_store::people::park(
            &mut *conn,
            id,
            kiln_store::people::WaitKind::Clarification,
            &api.env.subjects().work(kiln_contracts::Stage::Plan),
            b"",
            &json!({}),
        )
        .await
        .expect("park");
    }
    // The reporter asks on the issue.
    let issue = wait_issue(&jira, &key, 15, |i| {
        comment_texts(i)
            .iter()
            .any(|c| c.contains("Which colours should the page use?"))
    })
    .await;
    assert!(
        comment_texts(&issue)
            .iter()
            .any(|c| c.contains("comment on this issue")),
        "{issue:#?}"
    );

    let answer = jira.person_comments(&key, PERSON, "Blue and white, please");
    assert_eq!(
        jira.deliver_webhook(&hook(&api), Some(SECRET), &answer)
            .await,
        200
    );
    let row = sqlx::query("SELECT answer FROM clarifications WHERE task_id = $1")
        .bind(id)
        .fetch_one(&api.env.pool)
        .await
        .expect("question");
    assert_eq!(
        row.get::<Option<String>, _>("answer").as_deref(),
        Some("Blue and white, please")
    );
    let status: String = sqlx::query_scalar("SELECT status FROM tasks WHERE id = $1")
        .bind(id)
        .fetch_one(&api.env.pool)
        .await
        .expect("status");
    assert_ne!(status, "awaiting_clarification");
    let actor: String = sqlx::query_scalar(
        "SELECT source FROM audit_log WHERE task_id = $1 AND action LIKE '%answer%' LIMIT 1",
    )
    .bind(id)
    .fetch_one(&api.env.pool)
    .await
    .expect("answer audited");
    assert_eq!(actor, "jira");
    api.stop().await;
}

#[tokio::test]
async fn when_the_task_ends_the_issue_gets_the_result_and_moves_to_done() {
    let (api, jira) = start().await;
    let (key, id) = triggered(&api, &jira).await;
    wait_issue(&jira, &key, 10, |i| has_link(i, id)).await;
    let mut conn = api.env.pool.acquire().await.expect("conn");
    sqlx::query(
        "INSERT INTO deployments (id, task_id, project_id, commit_sha, target, url, status, verification) \
         SELECT $1, t.id, t.project_id, 'abc123', 'local', 'https://shop-1.apps.example.test', 'live', '{}'::jsonb \
         FROM tasks t WHERE t.id = $2",
    )
    .bind(Uuid::now_v7())
    .bind(id)
    .execute(&mut *conn)
    .await
    .expect("deployment");
    kiln_store::tasks::set_status(&mut *conn, id, TaskStatus::Deployed, None)
        .await
        .expect("status");
    drop(conn);
    let issue = wait_issue(&jira, &key, 15, |i| i.status.name == "Done").await;
    let texts = comment_texts(&issue);
    assert!(
        texts
            .iter()
            .any(|c| c.contains("https://shop-1.apps.example.test") && c.contains("deployed")),
        "{texts:#?}"
    );
    let final_: bool = sqlx::query_scalar(
        "SELECT detail ? 'final' FROM task_threads WHERE task_id = $1 AND source = 'jira'",
    )
    .bind(id)
    .fetch_one(&api.env.pool)
    .await
    .expect("thread");
    assert!(final_);
    // Nothing more is written once the thread is closed.
    let before = jira.requests().len();
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(jira.requests().len(), before);
    api.stop().await;
}

#[tokio::test]
async fn a_failed_task_moves_its_issue_to_the_failed_status() {
    let (api, jira) = start().await;
    let (key, id) = triggered(&api, &jira).await;
    wait_issue(&jira, &key, 10, |i| has_link(i, id)).await;
    let mut conn = api.env.pool.acquire().await.expect("conn");
    kiln_store::tasks::set_status(
        &mut *conn,
        id,
        TaskStatus::Failed,
        Some("tests kept failing"),
    )
    .await
    .expect("status");
    drop(conn);
    let issue = wait_issue(&jira, &key, 15, |i| i.status.name == "To Do").await;
    assert!(
        comment_texts(&issue)
            .iter()
            .any(|c| c.contains("tests kept failing")),
        "{issue:#?}"
    );
    api.stop().await;
}

#[tokio::test]
async fn nothing_is_written_to_jira_while_paused_and_the_reporter_catches_up_after() {
    let (api, jira) = start().await;
    let resp = api
        .http
        .put(api.url("/api/v1/system/pause"))
        .json(&json!({"paused": true, "reason": "jira test"}))
        .send()
        .await
        .expect("paused");
    assert_eq!(resp.status(), 200);
    let key = jira.add_issue("SHOP", "Held page", "A landing page for a bakery");
    let event = jira.move_issue(&key, TRIGGER);
    jira.clear_requests();
    assert_eq!(
        jira.deliver_webhook(&hook(&api), Some(SECRET), &event)
            .await,
        200
    );
    assert_eq!(
        api.count("tasks").await,
        1,
        "the task is taken while paused"
    );
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(jira.requests().is_empty(), "{:#?}", jira.requests());

    // Jira is rate limiting when the pause lifts: the comment waits and then lands.
    jira.fail_next(kiln_testkit::fakes::Mode::RateLimited {
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
    let id: Uuid = sqlx::query_scalar("SELECT id FROM tasks")
        .fetch_one(&api.env.pool)
        .await
        .expect("task");
    let issue = wait_issue(&jira, &key, 20, |i| has_link(i, id)).await;
    assert_eq!(issue.comments.len(), 1, "one link comment: {issue:#?}");
    assert!(
        jira.requests_to("comment").len() >= 2,
        "the rate-limited try and the one that landed"
    );
    api.stop().await;
}

#[tokio::test]
async fn an_issue_to_break_down_gets_its_approved_plan_as_subtasks_exactly_once() {
    let (api, jira) = start_with(|c| c.jira.breakdown_status = Some(BREAKDOWN.to_owned())).await;
    let mut workflow = kiln_testkit::fakes::jira::default_workflow();
    workflow.push(kiln_testkit::fakes::jira::WorkflowTransition {
        id: "61".into(),
        name: "Break down".into(),
        to: kiln_testkit::fakes::jira::Status {
            id: "10012".into(),
            name: BREAKDOWN.into(),
        },
    });
    jira.set_workflow(workflow);
    let key = jira.add_issue(
        "SHOP",
        "Bakery shop",
        "A shop for a bakery with a menu and an order form",
    );
    let event = jira.move_issue(&key, BREAKDOWN);
    assert_eq!(
        jira.deliver_webhook(&hook(&api), Some(SECRET), &event)
            .await,
        200
    );
    let row = sqlx::query("SELECT id, options FROM tasks")
        .fetch_one(&api.env.pool)
        .await
        .expect("one task");
    let id: Uuid = row.get("id");
    let options: serde_json::Value = row.get("options");
    assert_eq!(options["approval"], "plan", "{options}");
    wait_issue(&jira, &key, 10, |i| has_link(i, id)).await;

    // The planner stores its plan and parks the task for approval.
    let plan = kiln_store::records::Plan {
        epic: "Bakery shop".into(),
        planner: "test".into(),
        stories: vec![
            kiln_store::records::Story {
                title: "Menu page".into(),
                description: "List the breads and cakes with prices".into(),
                acceptance: vec!["every item shows a price".into()],
            },
            kiln_store::records::Story {
                title: "Order form".into(),
                description: "Take orders for pick-up".into(),
                acceptance: vec!["an order needs a name".into(), "a pick-up time".into()],
            },
            kiln_store::records::Story {
                title: "Opening hours".into(),
                description: "Show when the shop is open".into(),
                acceptance: vec![],
            },
        ],
    };
    let mut conn = api.env.pool.acquire().await.expect("conn");
    let version = kiln_store::records::insert_plan(&mut conn, id, &plan)
        .await
        .expect("plan");
    kiln_store::tasks::set_status(
        &mut *conn,
        id,
        TaskStatus::AwaitingPlanApproval,
        Some("3 stories planned"),
    )
    .await
    .expect("status");
    kiln_store::people::park(
        &mut *conn,
        id,
        kiln_store::people::WaitKind::PlanApproval,
        &api.env.subjects().work(kiln_contracts::Stage::Codegen),
        b"",
        &json!({ "plan_version": version }),
    )
    .await
    .expect("park");
    drop(conn);
    let issue = wait_issue(&jira, &key, 15, |i| {
        comment_texts(i).iter().any(|c| c.contains("Order form"))
    })
    .await;
    assert!(
        comment_texts(&issue)
            .iter()
            .any(|c| c.contains("Menu page") && c.contains("an order needs a name")),
        "the plan is commented: {issue:#?}"
    );
    assert!(jira.subtasks(&key).is_empty(), "nothing before approval");

    // An operator approves the plan through the API. Jira takes the first sub-task and then
    // fails: the next pass makes only the ones still missing.
    jira.fail_next(kiln_testkit::fakes::Mode::Normal);
    jira.fail_next(kiln_testkit::fakes::Mode::Down);
    let operator = kiln_testkit::TestEnv::client_with_token(
        &api.env
            .token("olga", kiln_store::auth::Role::Operator)
            .await,
    );
    let resp = operator
        .post(api.url(&format!("/api/v1/tasks/{id}/approve")))
        .json(&json!({ "reason": "good plan" }))
        .send()
        .await
        .expect("answered");
    assert_eq!(
        resp.status(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );

    let issue = wait_issue(&jira, &key, 15, |i| {
        comment_texts(i)
            .iter()
            .any(|c| c.contains("sub-tasks of this issue"))
    })
    .await;
    // Two more reporter passes make nothing more.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let subtasks = jira.subtasks(&key);
    assert_eq!(subtasks.len(), 3, "{subtasks:#?}");
    let creates = jira
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/rest/api/3/issue"))
        .count();
    assert_eq!(creates, 4, "three sub-tasks and the one Jira failed");
    let mut titles: Vec<&str> = subtasks.iter().map(|s| s.summary.as_str()).collect();
    titles.sort_unstable();
    assert_eq!(titles, ["Menu page", "Opening hours", "Order form"]);
    let order = subtasks
        .iter()
        .find(|s| s.summary == "Order form")
        .expect("order form");
    let description = order.description.to_string();
    assert!(
        description.contains("Take orders for pick-up") && description.contains("a pick-up time"),
        "{description}"
    );
    assert!(subtasks.iter().all(|s| s.project_key == "SHOP"));
    let listed = comment_texts(&issue)
        .iter()
        .filter(|c| c.contains("sub-tasks of this issue"))
        .count();
    assert_eq!(listed, 1);
    let after = jira.issue(&key).expect("issue");
    assert_eq!(
        comment_texts(&after)
            .iter()
            .filter(|c| c.contains("sub-tasks of this issue"))
            .count(),
        1,
        "the list is commented once"
    );
    for s in &subtasks {
        assert!(
            comment_texts(&after).iter().any(|c| c.contains(&s.key)),
            "{} is listed",
            s.key
        );
    }
    let recorded: serde_json::Value = sqlx::query_scalar(
        "SELECT detail -> 'breakdown' FROM task_threads WHERE task_id = $1 AND source = 'jira'",
    )
    .bind(id)
    .fetch_one(&api.env.pool)
    .await
    .expect("thread");
    assert_eq!(recorded["finished"], true, "{recorded}");
    assert_eq!(
        recorded["subtasks"].as_object().map(|m| m.len()),
        Some(3),
        "{recorded}"
    );

    // The task then goes on as any: its result comment and the move to Done.
    let mut conn = api.env.pool.acquire().await.expect("conn");
    kiln_store::tasks::set_status(&mut *conn, id, TaskStatus::Deployed, None)
        .await
        .expect("status");
    drop(conn);
    wait_issue(&jira, &key, 15, |i| i.status.name == "Done").await;
    assert_eq!(jira.subtasks(&key).len(), 3);
    api.stop().await;
}
