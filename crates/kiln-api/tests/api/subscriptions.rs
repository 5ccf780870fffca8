//! Outbound webhooks through the API: an admin subscribes a URL, the API process's sender
//! POSTs each matching task event signed, retries a subscriber that fails, records every
//! attempt, and none of it slows or changes the task.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use kiln_store::auth::Role;
use kiln_testkit::TestEnv;
use serde_json::{Value, json};

use crate::common::{Api, assert_problem};

/// What a subscriber received: each request's headers and body.
type Received = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// A subscriber that answers 500 to its first `failures` deliveries, then 200, and keeps
/// what it received.
struct Subscriber {
    url: String,
    got: Received,
}

async fn subscriber(failures: usize) -> Subscriber {
    let got: Received = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let mut got = sink.lock().unwrap();
                got.push((headers, body.to_vec()));
                if got.len() <= failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    Subscriber { url, got }
}

#[tokio::test]
async fn a_subscriber_failing_three_times_gets_the_signed_event_on_the_fourth_attempt() {
    let api = Api::with_config(|c| {
        c.webhooks.first_retry_ms = 200;
        c.webhooks.max_retry_secs = 1;
        c.webhooks.poll_ms = 100;
    })
    .await;
    let hook = subscriber(3).await;
    let resp = api
        .post_json(
            "/api/v1/subscriptions",
            &json!({ "url": hook.url, "kinds": ["created"], "description": "ci" }),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.expect("json");
    let secret = created["secret"].as_str().expect("secret once").to_owned();
    let id = created["subscription"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let listed = api.get("/api/v1/subscriptions").await.text().await.unwrap();
    assert!(!listed.contains(&secret), "listings never show the secret");

    // A subscriber of tasks that end deployed hears nothing of a task just created.
    let deployed_only = subscriber(0).await;
    let resp = api
        .post_json(
            "/api/v1/subscriptions",
            &json!({ "url": deployed_only.url, "statuses": ["deployed"] }),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let task = api.create("hooked").await;
    let task_id = task["id"].as_str().unwrap().to_owned();
    let deliveries = TestEnv::eventually("a delivered event", Duration::from_secs(30), || async {
        let page: Value = api
            .get(&format!("/api/v1/subscriptions/{id}/deliveries"))
            .await
            .json()
            .await
            .ok()?;
        (page["items"][0]["status"] == "delivered").then_some(page)
    })
    .await;
    let delivery = &deliveries["items"][0];
    assert_eq!(delivery["kind"], "created");
    assert_eq!(delivery["task_id"], task_id.as_str());
    assert_eq!(delivery["attempts"], 4, "{delivery:#}");
    let log = delivery["attempt_log"].as_array().expect("attempts");
    let statuses: Vec<Value> = log.iter().map(|a| a["status_code"].clone()).collect();
    assert_eq!(statuses, [json!(500), json!(500), json!(500), json!(200)]);

    let got = hook.got.lock().unwrap().clone();
    assert_eq!(got.len(), 4, "one POST per attempt");
    for (n, (headers, body)) in got.iter().enumerate() {
        let signature = headers["kiln-signature"].to_str().unwrap();
        kiln_webhooks::verify(
            &secret,
            signature,
            body,
            time::OffsetDateTime::now_utc(),
            Duration::from_secs(300),
        )
        .expect("signed with the subscription's secret");
        assert_eq!(
            headers["kiln-attempt"].to_str().unwrap(),
            (n + 1).to_string()
        );
        let event: Value = serde_json::from_slice(body).expect("json body");
        assert!(event.to_string().contains(&task_id), "{event}");
    }
    let forged = kiln_webhooks::verify(
        "whsec_someone_else",
        got[0].0["kiln-signature"].to_str().unwrap(),
        &got[0].1,
        time::OffsetDateTime::now_utc(),
        Duration::from_secs(300),
    );
    assert!(forged.is_err(), "another secret does not verify");

    let status: Value = api.get("/api/v1/subscriptions").await.json().await.unwrap();
    let sub = status["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .expect("listed");
    assert_eq!(
        (sub["delivered"].clone(), sub["failing"].clone()),
        (json!(1), json!(false))
    );
    assert!(
        sub["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("500")),
        "{sub:#}"
    );

    assert!(
        deployed_only.got.lock().unwrap().is_empty(),
        "a created event leaves the task queued, not deployed"
    );

    // The task never waited for the subscriber.
    let now: Value = api
        .get(&format!("/api/v1/tasks/{task_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["status"], "queued");
    api.stop().await;
}

#[tokio::test]
async fn subscriptions_are_for_admins_and_bad_urls_are_refused() {
    let api = Api::start().await;
    for url in [
        "ftp://example.com/x",
        "http://user:pw@example.com/",
        "not a url",
    ] {
        let resp = api
            .post_json("/api/v1/subscriptions", &json!({ "url": url }))
            .await;
        assert_problem(resp, 422, "url").await;
    }
    let resp = api
        .post_json(
            "/api/v1/subscriptions",
            &json!({ "url": "http://127.0.0.1:9/x", "kinds": ["Not-A-Kind"] }),
        )
        .await;
    assert_problem(resp, 422, "kind").await;
    let resp = api
        .post_json(
            "/api/v1/subscriptions",
            &json!({ "url": "http://127.0.0.1:9/x", "statuses": ["shipped"] }),
        )
        .await;
    assert_problem(resp, 422, "shipped").await;
    assert_eq!(api.count("webhook_subscriptions").await, 0);

    let operator = TestEnv::client_with_token(&api.env.token("op", Role::Operator).await);
    let resp = operator
        .post(api.url("/api/v1/subscriptions"))
        .json(&json!({ "url": "http://127.0.0.1:9/x" }))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 403, "admin").await;

    let resp = api
        .post_json(
            "/api/v1/subscriptions",
            &json!({ "url": "http://127.0.0.1:9/x" }),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let id = resp.json::<Value>().await.unwrap()["subscription"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = api
        .http
        .delete(api.url(&format!("/api/v1/subscriptions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = api
        .http
        .delete(api.url(&format!("/api/v1/subscriptions/{id}")))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 404, &id).await;
    let resp = api.get("/api/v1/subscriptions/not-a-uuid/deliveries").await;
    assert_problem(resp, 400, "not-a-uuid").await;
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE action LIKE 'subscription.%' ORDER BY id",
    )
    .fetch_all(&api.env.pool)
    .await
    .unwrap();
    assert_eq!(actions, ["subscription.create", "subscription.delete"]);
    api.stop().await;
}

#[tokio::test]
async fn tasks_ready_calls_back_once_when_its_task_ends_and_only_for_that_task() {
    let api = Api::with_config(|c| c.webhooks.poll_ms = 100).await;
    let hook = subscriber(0).await;
    let mut body = crate::common::task_body("evaluated");
    body["evaluation_url"] = json!(hook.url);
    let resp = api.post_json("/api/v1/tasks/ready", &body).await;
    assert_eq!(resp.status(), 202);
    let accepted: Value = resp.json().await.expect("json");
    let id = accepted["task"]["id"].as_str().expect("task id").to_owned();
    let secret = accepted["callback"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let other = api.create("bystander").await;

    // Neither task's creation is an end; cancelling the other task is not ours.
    let cancel = |task: String| {
        let http = api.http.clone();
        let url = api.url(&format!("/api/v1/tasks/{task}/cancel"));
        async move { http.post(url).send().await.expect("cancel").status() }
    };
    assert_eq!(cancel(other["id"].as_str().unwrap().to_owned()).await, 200);
    assert_eq!(cancel(id.clone()).await, 200);
    TestEnv::eventually("the callback", Duration::from_secs(20), || async {
        (!hook.got.lock().unwrap().is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = hook.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "one callback: the end of this task");
    let (headers, payload) = &got[0];
    kiln_webhooks::verify(
        &secret,
        headers["kiln-signature"].to_str().unwrap(),
        payload,
        time::OffsetDateTime::now_utc(),
        Duration::from_secs(300),
    )
    .expect("signed");
    let event: Value = serde_json::from_slice(payload).unwrap();
    assert_eq!(event["task_id"], id.as_str());
    assert_eq!(event["status"], "cancelled");
    assert_eq!(event["project"], "evaluated");

    // Bad input stores nothing.
    let before = api.count("tasks").await;
    let mut bad = crate::common::task_body("no-callback");
    let resp = api.post_json("/api/v1/tasks/ready", &bad).await;
    assert_problem(resp, 400, "evaluation_url").await;
    bad["evaluation_url"] = json!("file:///etc/passwd");
    let resp = api.post_json("/api/v1/tasks/ready", &bad).await;
    assert_problem(resp, 422, "http").await;
    assert_eq!(api.count("tasks").await, before);
    api.stop().await;
}
