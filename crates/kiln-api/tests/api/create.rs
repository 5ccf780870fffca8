//! Creating tasks: validation at the edge leaves nothing behind; a valid task is stored with
//! its audit entry and outbox rows, and its plan work item reaches JetStream with its envelope.

use std::time::Duration;

use kiln_contracts::{Stage, TaskEvent, WorkItem};
use prost::Message;
use serde_json::{Value, json};
use sqlx::Row;

use crate::common::{Api, assert_problem, header, task_body};

fn with(key: &str, value: Value) -> Value {
    let mut body = task_body("demo");
    body[key] = value;
    body
}

#[tokio::test]
async fn rejected_requests_are_problems_and_store_nothing() {
    let api = Api::start().await;
    let raw_cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "malformed JSON",
            r#"{"kind": "new_app", "brief": "#.into(),
            400,
            "not valid JSON",
        ),
        ("empty body", String::new(), 400, "not valid JSON"),
        (
            "trailing garbage",
            format!("{} x", task_body("demo")),
            400,
            "trailing characters",
        ),
    ];
    let name_64 = format!("a{}", "b".repeat(63));
    let value_cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "brief of the wrong type",
            with("brief", json!(5)),
            400,
            "invalid type: integer `5`, expected a string",
        ),
        (
            "name of the wrong type",
            with("name", json!(["demo"])),
            400,
            "invalid type: sequence",
        ),
        (
            "body not an object",
            json!(["new_app", "static-site", "demo", null, "brief", {}]),
            400,
            "expected a JSON object, got an array",
        ),
        (
            "missing brief",
            json!({"kind": "new_app", "template": "static-site", "name": "demo"}),
            400,
            "missing field `brief`",
        ),
        (
            "unknown field",
            with("colour", json!("red")),
            400,
            "unknown field `colour`",
        ),
        (
            "unknown kind",
            with("kind", json!("delete_everything")),
            400,
            "unknown variant `delete_everything`",
        ),
        (
            "unknown template",
            with("template", json!("rails")),
            422,
            "unknown template \"rails\"; available templates: electron, expo, expo-pro, flutter, laravel, nextjs, node-express",
        ),
        (
            "missing template",
            json!({"kind": "new_app", "name": "demo", "brief": "x"}),
            422,
            "template is required",
        ),
        (
            "missing name",
            json!({"kind": "new_app", "template": "static-site", "brief": "x"}),
            422,
            "name is required",
        ),
        (
            "empty brief",
            with("brief", json!("")),
            422,
            "brief must not be empty",
        ),
        (
            "whitespace-only brief",
            with("brief", json!(" \n\t  ")),
            422,
            "brief must not be empty",
        ),
        (
            "oversized brief",
            with("brief", json!("b".repeat(20_001))),
            422,
            "brief is 20001 characters long after trimming; the limit is 20000 characters",
        ),
        (
            "uppercase name",
            with("name", json!("Demo")),
            422,
            "invalid name \"Demo\": use only lowercase ASCII letters, digits and '-'",
        ),
        (
            "leading digit",
            with("name", json!("1demo")),
            422,
            "invalid name \"1demo\": must start with a letter",
        ),
        (
            "too long name",
            with("name", json!(name_64)),
            422,
            "must be 1 to 63 characters",
        ),
        (
            "path in name",
            with("name", json!("../x")),
            422,
            "invalid name \"../x\"",
        ),
        (
            "trailing dash",
            with("name", json!("demo-")),
            422,
            "must not end with '-'",
        ),
        (
            "revision",
            json!({"kind": "revision", "project": "demo", "brief": "Add dark mode"}),
            422,
            "needs an LLM",
        ),
        (
            "project on new_app",
            with("project", json!("demo")),
            422,
            "project is not allowed for kind \"new_app\"",
        ),
        (
            "unknown option",
            with("options", json!({"colour": "blue"})),
            422,
            "unknown field `colour`",
        ),
        (
            "options not an object",
            with("options", json!("fast")),
            422,
            "options must be a JSON object, got a string",
        ),
    ];

    for (case, body, status, needle) in raw_cases {
        let resp = api
            .http
            .post(api.url("/api/v1/tasks"))
            .header("content-type", "application/json")
            .header("idempotency-key", format!("key-{case}").replace(' ', "-"))
            .body(body)
            .send()
            .await
            .expect("answered");
        assert_problem(resp, status, needle).await;
        api.assert_nothing_stored(case).await;
    }
    for (case, body, status, needle) in value_cases {
        let resp = api
            .http
            .post(api.url("/api/v1/tasks"))
            .header("idempotency-key", format!("key-{case}").replace(' ', "-"))
            .json(&body)
            .send()
            .await
            .expect("answered");
        assert_problem(resp, status, needle).await;
        api.assert_nothing_stored(case).await;
    }

    // Bad Idempotency-Key headers on an otherwise valid request.
    for (case, key, needle) in [
        ("empty key", String::new(), "it is empty"),
        ("long key", "k".repeat(201), "longer than 200"),
        ("key with a space", "two words".to_owned(), "visible ASCII"),
    ] {
        let resp = api
            .http
            .post(api.url("/api/v1/tasks"))
            .header("idempotency-key", key)
            .json(&task_body("demo"))
            .send()
            .await
            .expect("answered");
        assert_problem(resp, 400, needle).await;
        api.assert_nothing_stored(case).await;
    }

    // Over the default 1 MiB limit.
    let resp = api
        .post_json("/api/v1/tasks", &with("brief", json!("b".repeat(2 << 20))))
        .await;
    assert_problem(resp, 413, "larger than the limit of 1048576 bytes").await;
    api.assert_nothing_stored("2 MiB body").await;

    let resp = api
        .http
        .post(api.url("/api/v1/tasks"))
        .header("content-type", "text/plain")
        .body(task_body("demo").to_string())
        .send()
        .await
        .expect("answered");
    assert_problem(resp, 415, "content type \"text/plain\" is not supported").await;
    api.assert_nothing_stored("text/plain body").await;
    api.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let api = Api::with_config(|c| c.max_body_bytes = 4096).await;
    let resp = api
        .post_json("/api/v1/tasks", &with("brief", json!("b".repeat(8000))))
        .await;
    assert_problem(resp, 413, "larger than the limit of 4096 bytes").await;
    api.assert_nothing_stored("oversized body").await;

    // Just under the limit is fine.
    let resp = api
        .post_json("/api/v1/tasks", &with("brief", json!("b".repeat(3000))))
        .await;
    assert_eq!(resp.status(), 202);
    api.stop().await;
}

#[tokio::test]
async fn a_created_task_is_queued_and_its_plan_work_item_is_published_once() {
    let api = Api::start().await;
    let resp = api
        .post_json(
            "/api/v1/tasks",
            &with("brief", json!("  A landing page for a bakery  ")),
        )
        .await;
    assert_eq!(resp.status(), 202);
    assert!(resp.headers().get("idempotency-replayed").is_none());
    let location = resp.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let task: Value = resp.json().await.expect("task json");
    let id = task["id"].as_str().expect("id").to_owned();
    assert_eq!(location, format!("/api/v1/tasks/{id}"));
    assert_eq!(task["status"], "queued");
    assert_eq!(task["kind"], "new_app");
    assert_eq!(task["project"], "demo");
    assert_eq!(task["template"], "static-site");
    assert_eq!(
        task["brief"], "A landing page for a bakery",
        "brief is trimmed"
    );
    assert_eq!(task["options"], json!({}));
    assert_eq!(task["branch"], format!("kiln/{id}"));
    assert_eq!(task["llm_mode"], "offline");
    assert_eq!(task["status_reason"], Value::Null);
    assert_eq!(task["finished_at"], Value::Null);
    assert_eq!(task["stages"], json!([]));
    assert_eq!(task["plan"], Value::Null);
    assert_eq!(task["deployment"], Value::Null);
    assert_eq!(
        task["llm_usage"],
        json!({"mode": "offline", "calls": 0, "input_tokens": 0, "output_tokens": 0, "cached_tokens": 0, "cost_usd": 0.0, "by_stage": []})
    );
    for time in ["created_at", "updated_at"] {
        let t = task[time].as_str().expect("time");
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("{time} {t:?} is not RFC 3339: {e}"));
    }

    let fetched: Value = api.get(&location).await.json().await.expect("task json");
    assert_eq!(fetched["id"], task["id"]);
    assert_eq!(fetched["status"], "queued");

    let subjects = api.env.subjects();
    let work = api
        .messages(
            &subjects.work_stream().name,
            &subjects.work(Stage::Plan),
            1,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(work.len(), 1, "exactly one plan work item");
    let msg = &work[0];
    let item = WorkItem::decode(msg.payload.clone()).expect("work item decodes");
    assert_eq!(item.task_id, id);
    assert_eq!(item.project, "demo");
    assert_eq!(item.stage(), Stage::Plan);
    assert_eq!(item.round, 0);
    assert_eq!(item.branch, format!("kiln/{id}"));
    assert_eq!(item.commit, "");
    let msg_id = header(msg, "Nats-Msg-Id").expect("Nats-Msg-Id");
    assert_eq!(header(msg, "ce-id").as_deref(), Some(msg_id.as_str()));
    assert_eq!(header(msg, "ce-type").as_deref(), Some("dev.kiln.work.v1"));
    assert_eq!(header(msg, "ce-source").as_deref(), Some("/kiln/api"));
    assert!(header(msg, "ce-time").is_some_and(|t| t.contains('T')));
    let traceparent = header(msg, "traceparent").expect("traceparent");
    assert_eq!(traceparent.split('-').count(), 4, "{traceparent}");
    assert_eq!(header(msg, "Kiln-Task-Id").as_deref(), Some(id.as_str()));

    let events = api
        .messages(
            &subjects.events_stream().name,
            &subjects.event(&id, "created"),
            1,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(events.len(), 1, "one created event");
    let event = TaskEvent::decode(events[0].payload.clone()).expect("event decodes");
    assert_eq!(
        (event.kind.as_str(), event.status.as_str()),
        ("created", "queued")
    );

    let audit = sqlx::query(
        "SELECT actor, source, action, target, request_id, detail FROM audit_log WHERE task_id = $1",
    )
    .bind(uuid::Uuid::parse_str(&id).expect("uuid"))
    .fetch_all(&api.env.pool)
    .await
    .expect("audit rows");
    assert_eq!(audit.len(), 1);
    assert_eq!(
        audit[0].get::<String, _>("actor"),
        "admin",
        "the token's name"
    );
    assert_eq!(audit[0].get::<String, _>("source"), "api");
    assert_eq!(audit[0].get::<String, _>("action"), "task.created");
    assert_eq!(audit[0].get::<String, _>("target"), "demo");
    assert!(
        audit[0].get::<Option<String>, _>("request_id").is_some(),
        "the request id is recorded"
    );
    let (requested_by, source): (String, String) =
        sqlx::query_as("SELECT requested_by, source FROM tasks WHERE id = $1")
            .bind(uuid::Uuid::parse_str(&id).expect("uuid"))
            .fetch_one(&api.env.pool)
            .await
            .expect("task row");
    assert_eq!((requested_by.as_str(), source.as_str()), ("admin", "api"));
    assert_eq!(
        api.count("outbox WHERE sent_at IS NULL").await,
        0,
        "relay published everything"
    );

    let metrics = api.get("/metrics").await.text().await.expect("metrics");
    assert!(metrics.contains("kiln_tasks_created_total 1"), "{metrics}");
    assert!(
        metrics.contains(r#"kiln_api_requests_total{route="/api/v1/tasks",status="202"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"kiln_api_requests_total{route="/api/v1/tasks/{id}",status="200"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("kiln_api_request_seconds_bucket"),
        "{metrics}"
    );
    assert!(!metrics.contains(&id), "task ids never become labels");
    api.stop().await;
}

#[tokio::test]
async fn an_existing_project_name_is_a_conflict_with_a_suggestion() {
    let api = Api::start().await;
    api.create("demo").await;
    let resp = api.post_json("/api/v1/tasks", &task_body("demo")).await;
    assert_problem(
        resp,
        409,
        "project \"demo\" already exists; choose another name, e.g. \"demo-2\"",
    )
    .await;
    assert_eq!(api.count("tasks").await, 1);
    assert_eq!(api.count("projects").await, 1);
    assert_eq!(
        api.count("outbox").await,
        2,
        "only the first task's work item and event"
    );
    api.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problems() {
    let api = Api::start().await;
    assert_problem(
        api.get("/api/v1/nothing").await,
        404,
        "no route for /api/v1/nothing",
    )
    .await;
    let resp = api
        .http
        .delete(api.url("/api/v1/tasks"))
        .send()
        .await
        .expect("answered");
    let allow = resp
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    assert_problem(resp, 405, "method DELETE is not allowed on /api/v1/tasks").await;
    let allow = allow.expect("allow header");
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let health: Value = api.get("/health").await.json().await.expect("health json");
    assert_eq!(health["status"], "ok");
    api.stop().await;
}
