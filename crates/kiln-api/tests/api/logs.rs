//! `/ws/logs`: history then live lines in stream order, resuming with `after_seq`, and the
//! checks that happen before any upgrade.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use kiln_contracts::{LogLine, Stage};
use prost::Message as _;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use uuid::Uuid;

use crate::common::{Api, assert_problem};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn publish(api: &Api, task: &str, n: usize) {
    let js = api.env.jetstream().await;
    let line = LogLine {
        task_id: task.to_owned(),
        time_unix_ms: 1_754_000_000_000 + n as i64,
        level: "info".into(),
        service: "tester".into(),
        stage: Stage::Test as i32,
        message: format!("line {n}"),
    };
    js.publish(api.env.subjects().logs(task), line.encode_to_vec().into())
        .await
        .expect("publish")
        .await
        .expect("stored");
}

async fn connect(api: &Api, query: &str) -> Socket {
    let (socket, resp) =
        tokio_tungstenite::connect_async(api.ws_request(&format!("/ws/logs?{query}")))
            .await
            .expect("websocket connects");
    assert_eq!(resp.status(), 101);
    socket
}

/// The next text frame as JSON, skipping control frames.
async fn next_frame(socket: &mut Socket) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame within 10s")
            .expect("socket open")
            .expect("frame");
        match msg {
            Message::Text(text) => return serde_json::from_str(&text).expect("frame is JSON"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn assert_silent(socket: &mut Socket) {
    if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(800), socket.next()).await {
        panic!("unexpected frame {msg:?}");
    }
}

#[tokio::test]
async fn history_then_live_then_resume_after_a_sequence() {
    let api = Api::start().await;
    let task = api.create("logs").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // Another task's lines must never show up.
    let other = api.create("other").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for n in 1..=3 {
        publish(&api, &task, n).await;
        publish(&api, &other, n + 100).await;
    }

    let mut socket = connect(&api, &format!("task_id={task}")).await;
    let mut seqs = Vec::new();
    for n in 1..=3 {
        let frame = next_frame(&mut socket).await;
        assert_eq!(frame["message"], format!("line {n}"));
        assert_eq!(frame["level"], "info");
        assert_eq!(frame["service"], "tester");
        assert_eq!(frame["stage"], "test");
        assert!(
            frame["time"]
                .as_str()
                .is_some_and(|t| t.starts_with("2025-07-31T22:13:20.00")),
            "{frame}"
        );
        seqs.push(frame["seq"].as_u64().expect("seq"));
    }
    publish(&api, &task, 4).await;
    let live = next_frame(&mut socket).await;
    assert_eq!(live["message"], "line 4");
    seqs.push(live["seq"].as_u64().expect("seq"));
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "increasing seq: {seqs:?}"
    );

    // Pings are answered while streaming.
    socket
        .send(Message::Ping("are you there".into()))
        .await
        .expect("ping");
    let pong = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("pong within 5s")
        .expect("open")
        .expect("frame");
    assert_eq!(pong, Message::Pong("are you there".into()));

    // A client close is answered with a close.
    socket.close(None).await.expect("close sent");
    let reply = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("close reply");
    assert!(
        matches!(reply, Some(Ok(Message::Close(_))) | None),
        "{reply:?}"
    );

    let mut resumed = connect(&api, &format!("task_id={task}&after_seq={}", seqs[1])).await;
    assert_eq!(next_frame(&mut resumed).await["message"], "line 3");
    assert_eq!(next_frame(&mut resumed).await["message"], "line 4");
    assert_silent(&mut resumed).await;

    // Shutdown closes open streams with "going away".
    api.shutdown.cancel();
    let closing = tokio::time::timeout(Duration::from_secs(5), resumed.next())
        .await
        .expect("closed on shutdown")
        .expect("close frame")
        .expect("frame");
    match closing {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("expected a close frame, got {other:?}"),
    }
    api.stop().await;
}

#[tokio::test]
async fn bad_requests_are_refused_before_the_upgrade() {
    let api = Api::start().await;
    let unknown = Uuid::now_v7();
    match tokio_tungstenite::connect_async(api.ws_request(&format!("/ws/logs?task_id={unknown}")))
        .await
    {
        Ok(_) => panic!("upgraded for an unknown task"),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 404);
            assert_eq!(resp.headers()["content-type"], "application/problem+json");
            let body: Value = serde_json::from_slice(resp.body().as_deref().unwrap_or_default())
                .expect("problem");
            assert!(
                body["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains(&unknown.to_string())),
                "{body}"
            );
        }
        Err(e) => panic!("unexpected error {e}"),
    }
    assert_problem(
        api.get(&format!("/ws/logs?task_id={unknown}")).await,
        404,
        "no task with id",
    )
    .await;
    assert_problem(
        api.get("/ws/logs?task_id=nope").await,
        400,
        "invalid task id \"nope\"",
    )
    .await;
    assert_problem(api.get("/ws/logs").await, 400, "task_id is required").await;
    let task = api.create("demo").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_problem(
        api.get(&format!("/ws/logs?task_id={task}&after_seq=-1"))
            .await,
        400,
        "after_seq must be a non-negative integer",
    )
    .await;
    assert_problem(
        api.get(&format!("/ws/logs?task_id={task}")).await,
        426,
        "WebSocket",
    )
    .await;
    api.stop().await;
}
