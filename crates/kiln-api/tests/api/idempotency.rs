//! `Idempotency-Key`: a retried request gets the same task, a reused key with another body is
//! refused, and concurrent requests with one key create one task.

use serde_json::Value;

use crate::common::{Api, assert_problem, task_body};

async fn post_with_key(api: &Api, key: &str, body: String) -> reqwest::Response {
    api.http
        .post(api.url("/api/v1/tasks"))
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("answered")
}

#[tokio::test]
async fn the_same_key_and_body_replay_the_same_task() {
    let api = Api::start().await;
    let first = post_with_key(&api, "order-42", task_body("demo").to_string()).await;
    assert_eq!(first.status(), 202);
    assert!(first.headers().get("idempotency-replayed").is_none());
    let first: Value = first.json().await.expect("task");

    // Same meaning, different spelling: keys reordered, other whitespace.
    let respelled = r#"{ "options": {}, "brief": "A landing page for a bakery with opening hours and a contact form",
        "name": "demo", "template": "static-site", "kind": "new_app" }"#;
    let second = post_with_key(&api, "order-42", respelled.to_owned()).await;
    assert_eq!(second.status(), 202);
    assert_eq!(second.headers()["idempotency-replayed"], "true");
    assert_eq!(
        second.headers()["location"].to_str().expect("location"),
        format!("/api/v1/tasks/{}", first["id"].as_str().expect("id"))
    );
    let second: Value = second.json().await.expect("task");
    assert_eq!(second["id"], first["id"]);
    assert_eq!(api.count("tasks").await, 1);
    assert_eq!(api.count("idempotency_keys").await, 1);
    assert_eq!(api.count("outbox").await, 2, "a replay publishes nothing");

    let mut other = task_body("demo");
    other["brief"] = "Something else entirely".into();
    let resp = post_with_key(&api, "order-42", other.to_string()).await;
    assert_problem(
        resp,
        422,
        "Idempotency-Key \"order-42\" was already used with a different request body",
    )
    .await;
    let mut other_name = task_body("demo-2");
    other_name["brief"] = "Something else entirely".into();
    let resp = post_with_key(&api, "order-42", other_name.to_string()).await;
    assert_problem(resp, 422, "already used with a different request body").await;
    assert_eq!(api.count("tasks").await, 1);
    assert_eq!(api.count("projects").await, 1);
    api.stop().await;
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_task() {
    let api = Api::start().await;
    let body = task_body("racer").to_string();
    let requests = (0..8).map(|_| post_with_key(&api, "race-key", body.clone()));
    let responses = futures::future::join_all(requests).await;
    let mut ids = Vec::new();
    let mut fresh = 0;
    for resp in responses {
        let status = resp.status();
        let replayed = resp.headers().get("idempotency-replayed").is_some();
        let text = resp.text().await.expect("body");
        assert_eq!(status, 202, "{text}");
        if !replayed {
            fresh += 1;
        }
        let task: Value = serde_json::from_str(&text).expect("task json");
        ids.push(task["id"].as_str().expect("id").to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every response names the same task: {ids:?}");
    assert_eq!(
        fresh, 1,
        "exactly one request created the task; the rest replayed it"
    );
    assert_eq!(api.count("tasks").await, 1);
    assert_eq!(api.count("projects").await, 1);
    assert_eq!(api.count("idempotency_keys").await, 1);
    assert_eq!(api.count("audit_log").await, 1);
    assert_eq!(api.count("outbox").await, 2);
    api.stop().await;
}
