//! Helpers shared by the whole-stack tests.

#![allow(dead_code)] // each test binary uses its own subset

pub mod script;

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tokio::task::JoinHandle;

/// Collects a task's live log lines from `/ws/logs` until aborted.
pub fn collect_logs(
    api: &str,
    token: &str,
    task_id: &str,
) -> (JoinHandle<()>, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut url = format!(
        "{}/ws/logs?task_id={task_id}",
        api.replacen("http", "ws", 1)
    )
    .into_client_request()
    .expect("ws request");
    url.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = lines.clone();
    let handle = tokio::spawn(async move {
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        while let Some(Ok(msg)) = ws.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(text) = msg {
                let v: Value = serde_json::from_str(&text).expect("log lines are JSON");
                sink.lock().expect("log sink").push(v);
            }
        }
    });
    (handle, lines)
}

/// GETs `url` and returns (status, body).
pub async fn fetch(url: &str) -> (u16, String) {
    let resp = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client")
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// Waits until the task reaches `status` (or finishes otherwise, which fails the test).
pub async fn wait_status(stack: &kiln_testkit::stack::Stack, id: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let task = stack.task(id).await;
        let now = task["status"].as_str().unwrap_or("").to_owned();
        if now == status {
            return task;
        }
        let terminal =
            ["deployed", "blocked", "failed", "cancelled", "rolled_back"].contains(&now.as_str());
        if terminal || tokio::time::Instant::now() > deadline {
            stack.dump_logs();
            panic!("task {id} never reached {status}; it is {now}: {task:#}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// POSTs `body` to `/api/v1/tasks/{id}/{action}`; returns (status, JSON).
pub async fn decide(
    stack: &kiln_testkit::stack::Stack,
    id: &str,
    action: &str,
    body: Value,
) -> (u16, Value) {
    // Decisions are made by the person the body names, with their own approver token: the
    // admin token that created the task may not release it.
    let who = body["actor"].as_str().unwrap_or("approver");
    let resp = stack
        .person(who)
        .await
        .post(format!("{}/api/v1/tasks/{id}/{action}", stack.api))
        .json(&body)
        .send()
        .await
        .expect("decision request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Runs git in `dir` as a developer would (default branch `trunk`), panicking with
/// stderr when it fails; returns trimmed stdout.
pub fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.com",
            "-c",
            "init.defaultBranch=trunk",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Writes `text` to `root/path`, creating directories.
pub fn write(root: &std::path::Path, path: &str, text: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}
