//! `GET /ws/logs`: a task's log lines over WebSocket, history first, then live.
//!
//! Each connection reads the logs stream through its own ordered consumer filtered to the
//! task's subject, so lines arrive in stream order without gaps or duplicates, and a client
//! that reconnects with `after_seq` resumes exactly after the last line it saw. Everything
//! that can fail is checked before the upgrade, so failures are problem responses.

use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{
    CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code,
    rejection::WebSocketUpgradeRejection,
};
use axum::extract::{Query, State};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use kiln_contracts::{LogLine, Stage, StageName};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, field, instrument};
use uuid::Uuid;

use crate::AppState;
use crate::error::{Error, Problem};
use crate::model::{LogFrame, LogsQuery};

/// Consecutive consumer errors after which the connection is closed (the client reconnects
/// with `after_seq`); the ordered consumer recreates itself on the ones before.
const MAX_CONSECUTIVE_ERRORS: u32 = 20;
/// How long to wait for the client's close reply when the server closes.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Stream a task's log lines.
///
/// Replays the task's log history, then follows new lines until the client closes. Each text
/// frame is one `LogFrame` as JSON.
#[utoipa::path(
    get,
    path = "/ws/logs",
    tag = "logs",
    params(LogsQuery),
    responses(
        (status = 101, description = "Switching to WebSocket; every text frame is a LogFrame", body = LogFrame),
        (status = 400, description = "Missing or malformed task_id or after_seq", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task", body = Problem, content_type = "application/problem+json"),
        (status = 426, description = "Not a WebSocket handshake", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(task_id = field::Empty))]
pub async fn stream_logs(
    State(state): State<AppState>,
    query: Result<Query<LogsQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, Error> {
    let Query(q) = query.map_err(|e| Error::InvalidQuery(e.body_text()))?;
    let raw = q
        .task_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::InvalidQuery("task_id is required".to_owned()))?;
    let id = Uuid::parse_str(&raw).map_err(|_| Error::InvalidTaskId(raw))?;
    tracing::Span::current().record("task_id", field::display(id));
    let after_seq = q
        .after_seq
        .filter(|s| !s.is_empty())
        .map(|raw| {
            raw.parse::<u64>().map_err(|_| {
                Error::InvalidQuery(format!(
                    "after_seq must be a non-negative integer (the seq of the last line received), got {raw:?}"
                ))
            })
        })
        .transpose()?;
    if kiln_store::tasks::get_task(&state.ctx.db, id)
        .await?
        .is_none()
    {
        return Err(Error::TaskNotFound(id));
    }
    let upgrade = upgrade.map_err(|e| Error::UpgradeRequired(e.body_text()))?;
    let lines = subscribe(&state, id, after_seq).await?;
    let shutdown = state.shutdown.clone();
    let span = tracing::info_span!("log_stream", task_id = %id);
    Ok(upgrade.on_upgrade(move |socket| pump(socket, lines, shutdown).instrument(span)))
}

/// An ordered consumer over the task's log subject, from the start or after `after_seq`.
async fn subscribe(state: &AppState, id: Uuid, after_seq: Option<u64>) -> Result<Ordered, Error> {
    let ctx = &state.ctx;
    let stream = ctx
        .js
        .get_stream(ctx.subjects.logs_stream().name)
        .await
        .map_err(nats("logs stream"))?;
    let deliver_policy = match after_seq {
        None => DeliverPolicy::All,
        Some(seq) => DeliverPolicy::ByStartSequence {
            start_sequence: seq.saturating_add(1),
        },
    };
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: ctx.subjects.logs(&id.to_string()),
            deliver_policy,
            ..Default::default()
        })
        .await
        .map_err(nats("log consumer"))?;
    consumer
        .messages()
        .await
        .map_err(nats("log consumer messages"))
}

fn nats<E: std::fmt::Display>(context: &'static str) -> impl FnOnce(E) -> Error {
    move |e| Error::Nats {
        context,
        message: e.to_string(),
    }
}

/// Forwards lines until the client closes, the server shuts down, or the stream fails.
async fn pump(mut socket: WebSocket, mut lines: Ordered, shutdown: CancellationToken) {
    tracing::debug!("log stream opened");
    let mut errors = 0u32;
    let close = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Some((close_code::AWAY, "server shutting down")),
            incoming = socket.recv() => match incoming {
                // The library answers pings and the client's close itself; other frames from
                // the client mean nothing here.
                Some(Ok(Message::Close(_))) | None => break None,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "log stream client failed");
                    break None;
                }
            },
            next = lines.next() => match next {
                Some(Ok(msg)) => {
                    errors = 0;
                    let Some(frame) = frame(&msg) else { continue };
                    let text = match serde_json::to_string(&frame) {
                        Ok(text) => text,
                        Err(e) => {
                            tracing::warn!(error = %e, seq = frame.seq, "log frame not encodable; skipped");
                            continue;
                        }
                    };
                    if let Err(e) = socket.send(Message::Text(text.into())).await {
                        tracing::debug!(error = %e, "log stream client gone");
                        break None;
                    }
                }
                Some(Err(e)) => {
                    errors += 1;
                    tracing::debug!(error = %e, errors, "log consumer error; it recreates itself");
                    if errors >= MAX_CONSECUTIVE_ERRORS {
                        tracing::warn!(error = %e, "log consumer keeps failing; closing the stream");
                        break Some((close_code::ERROR, "log stream unavailable; reconnect with after_seq"));
                    }
                }
                None => break Some((close_code::ERROR, "log stream ended; reconnect with after_seq")),
            },
        }
    };
    match close {
        // Flushes the library's reply to the client's close frame.
        None => {
            let _ = socket.close().await;
        }
        Some((code, reason)) => {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            if socket.send(Message::Close(Some(frame))).await.is_ok() {
                // Give the client a moment to answer, completing the closing handshake.
                let _ = tokio::time::timeout(CLOSE_GRACE, async {
                    while let Some(Ok(msg)) = socket.recv().await {
                        if matches!(msg, Message::Close(_)) {
                            break;
                        }
                    }
                })
                .await;
            }
        }
    }
    tracing::debug!("log stream closed");
}

/// The JSON frame of one stored log line; `None` (logged) for a payload that is not a LogLine.
fn frame(msg: &async_nats::jetstream::Message) -> Option<LogFrame> {
    let seq = match msg.info() {
        Ok(info) => info.stream_sequence,
        Err(e) => {
            tracing::warn!(error = %e, "log message without stream info; skipped");
            return None;
        }
    };
    let line = match <LogLine as prost::Message>::decode(msg.payload.clone()) {
        Ok(line) => line,
        Err(e) => {
            tracing::warn!(error = %e, seq, "undecodable log line; skipped");
            return None;
        }
    };
    Some(to_frame(seq, line))
}

fn to_frame(seq: u64, line: LogLine) -> LogFrame {
    let time = OffsetDateTime::from_unix_timestamp_nanos(i128::from(line.time_unix_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let stage = Stage::try_from(line.stage)
        .unwrap_or(Stage::Unspecified)
        .name();
    LogFrame {
        seq,
        time,
        level: line.level,
        service: line.service,
        stage: stage.to_owned(),
        message: line.message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_names_and_rfc3339_times() {
        let line = LogLine {
            task_id: "t".into(),
            time_unix_ms: 1_754_000_000_123,
            level: "info".into(),
            service: "tester".into(),
            stage: Stage::Test as i32,
            message: "npm test passed".into(),
        };
        let json = serde_json::to_value(to_frame(7, line)).unwrap();
        assert_eq!(json["seq"], 7);
        assert_eq!(json["stage"], "test");
        assert_eq!(json["time"], "2025-07-31T22:13:20.123Z");
        let odd = LogLine {
            stage: 99,
            ..Default::default()
        };
        assert_eq!(to_frame(1, odd).stage, "unspecified");
    }
}
