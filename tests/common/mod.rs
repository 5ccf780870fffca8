//! Helpers shared by the whole-stack tests.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tokio::task::JoinHandle;

/// Collects a task's live log lines from `/ws/logs` until aborted.
pub fn collect_logs(
    api: &str,
    task_id: &str,
) -> (JoinHandle<()>, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let url = format!(
        "{}/ws/logs?task_id={task_id}",
        api.replacen("http", "ws", 1)
    );
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = lines.clone();
    let handle = tokio::spawn(async move {
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
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
