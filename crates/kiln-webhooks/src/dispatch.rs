//! Follows task events on the events stream and turns each into one pending delivery per
//! matching enabled subscription, exactly once, before acknowledging it.
//!
//! The durable consumer is shared by every replica. A redelivered or replayed event finds
//! its deliveries already there (`UNIQUE (subscription_id, event_id)`) and adds none.
//! Nothing here talks to subscribers, so a slow subscriber never holds events back.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer};
use futures::StreamExt;
use kiln_contracts::headers as h;
use kiln_contracts::{ConsumerSpec, Stage, StageName, Subjects, TaskEvent};
use prost::Message as _;
use sqlx::PgPool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{Error, Result};

/// Durable name of the consumer every webhook replica shares.
pub const CONSUMER: &str = "webhooks";

/// Subscriptions created up to this long after an event still receive it, so a clock a
/// little behind the database's does not lose a subscriber its first events.
const CLOCK_SLACK_SECS: i64 = 60;

/// How long a failed insert waits before the event is redelivered.
const RETRY_DELAY: Duration = Duration::from_secs(5);

/// The consumer over every task's events. `kiln-contracts` describes only work-queue
/// consumers, so this one is described here, in the same shape.
///
/// Delivery starts at the oldest event kept: a first start or a recreated consumer replays
/// the stream, which adds nothing for events already turned into deliveries, and
/// subscriptions receive only events from about their creation on.
pub fn consumer_spec(subjects: &Subjects) -> ConsumerSpec {
    ConsumerSpec {
        stream: subjects.events_stream().name,
        durable_name: CONSUMER.to_owned(),
        filter_subject: subjects.events_of(None),
        ack_wait: Duration::from_secs(30),
        // Never give an event up: a database outage only delays deliveries.
        max_deliver: -1,
        max_ack_pending: 1000,
    }
}

async fn ensure_consumer(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
) -> Result<consumer::PullConsumer> {
    let nats = |reason: String| Error::Nats {
        what: format!("consumer {} on {}", spec.durable_name, spec.stream),
        reason,
    };
    let stream = js
        .get_stream(&spec.stream)
        .await
        .map_err(|e| nats(e.to_string()))?;
    stream
        .get_or_create_consumer(
            &spec.durable_name,
            consumer::pull::Config {
                durable_name: Some(spec.durable_name.clone()),
                filter_subject: spec.filter_subject.clone(),
                deliver_policy: consumer::DeliverPolicy::All,
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: spec.ack_wait,
                max_deliver: spec.max_deliver,
                max_ack_pending: spec.max_ack_pending,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| nats(e.to_string()))
}

/// Consumes events until `shutdown`, reconnecting the consumer whenever it goes away.
pub(crate) async fn run(
    js: jetstream::Context,
    db: PgPool,
    spec: ConsumerSpec,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut delay = Duration::from_millis(200);
    while !shutdown.is_cancelled() {
        match follow(&js, &db, &spec, &wake, &shutdown).await {
            Ok(()) => delay = Duration::from_millis(200),
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?delay, "webhook events not followed");
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => {}
        }
    }
}

/// One life of the consumer: returns when its message stream ends.
async fn follow(
    js: &jetstream::Context,
    db: &PgPool,
    spec: &ConsumerSpec,
    wake: &Notify,
    shutdown: &CancellationToken,
) -> Result<()> {
    let consumer = ensure_consumer(js, spec).await?;
    let mut messages = consumer.messages().await.map_err(|e| Error::Nats {
        what: format!("messages of consumer {}", spec.durable_name),
        reason: e.to_string(),
    })?;
    tracing::info!(consumer = %spec.durable_name, stream = %spec.stream, "following task events for webhooks");
    loop {
        let msg = tokio::select! {
            m = messages.next() => m,
            _ = shutdown.cancelled() => return Ok(()),
        };
        let msg = match msg {
            Some(Ok(msg)) => msg,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "webhook event not received");
                continue;
            }
            None => return Ok(()),
        };
        let outcome = match handle(db, &msg).await {
            Ok(created) => {
                if created > 0 {
                    wake.notify_one();
                }
                AckKind::Ack
            }
            Err(Handling::Undecodable(reason)) => {
                tracing::warn!(subject = %msg.subject, %reason, "undecodable task event dropped");
                AckKind::Term
            }
            Err(Handling::Store(e)) => {
                tracing::warn!(subject = %msg.subject, error = %e, "webhook deliveries not recorded; event redelivered");
                AckKind::Nak(Some(RETRY_DELAY))
            }
        };
        if let Err(e) = msg.ack_with(outcome).await {
            // An event not acknowledged comes back, and adds no deliveries the second time.
            tracing::warn!(subject = %msg.subject, error = %e, "webhook event not acknowledged");
        }
    }
}

enum Handling {
    Undecodable(String),
    Store(sqlx::Error),
}

fn header<'a>(msg: &'a jetstream::Message, name: &str) -> Option<&'a str> {
    msg.headers
        .as_ref()
        .and_then(|hs| hs.get(name))
        .map(|v| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The event's stable id: its CloudEvents id, else its message id, else its place in the
/// stream (stable across redeliveries of that message).
fn event_id(msg: &jetstream::Message) -> std::result::Result<String, String> {
    if let Some(id) = header(msg, h::CE_ID).or_else(|| header(msg, h::MSG_ID)) {
        return Ok(id.to_owned());
    }
    let info = msg.info().map_err(|e| format!("no message info: {e}"))?;
    Ok(format!("{}:{}", info.stream, info.stream_sequence))
}

/// The JSON body subscribers receive.
pub(crate) fn payload(
    id: &str,
    event: &TaskEvent,
    time: OffsetDateTime,
    project: Option<&str>,
) -> serde_json::Value {
    let stage = Stage::try_from(event.stage)
        .ok()
        .filter(|s| *s != Stage::Unspecified)
        .map(StageName::name);
    serde_json::json!({
        "id": id,
        "kind": event.kind,
        "task_id": event.task_id,
        "status": event.status,
        "stage": stage,
        "round": event.round,
        "message": event.summary,
        "time": time.format(&Rfc3339).unwrap_or_default(),
        "project": project,
    })
}

fn event_time(event: &TaskEvent) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(event.time_unix_ms) * 1_000_000)
        .ok()
        .filter(|_| event.time_unix_ms > 0)
        .unwrap_or_else(OffsetDateTime::now_utc)
}

/// Records the deliveries of one event; the number of new ones.
async fn handle(db: &PgPool, msg: &jetstream::Message) -> std::result::Result<u64, Handling> {
    let event = TaskEvent::decode(msg.payload.as_ref())
        .map_err(|e| Handling::Undecodable(e.to_string()))?;
    let id = event_id(msg).map_err(Handling::Undecodable)?;
    let time = event_time(&event);
    let task_id = Uuid::parse_str(&event.task_id).ok();
    let project: Option<String> = match task_id {
        Some(task) => sqlx::query_scalar(
            "SELECT p.name FROM tasks t JOIN projects p ON p.id = t.project_id WHERE t.id = $1",
        )
        .bind(task)
        .fetch_optional(db)
        .await
        .map_err(Handling::Store)?,
        None => None,
    };
    let body = payload(&id, &event, time, project.as_deref());
    let done = sqlx::query(
        "INSERT INTO webhook_deliveries (id, subscription_id, event_id, task_id, kind, payload) \
         SELECT gen_random_uuid(), s.id, $1, $2, $3, $4 FROM webhook_subscriptions s \
         WHERE s.disabled_at IS NULL \
           AND (cardinality(s.kinds) = 0 OR $3 = ANY (s.kinds)) \
           AND (s.task_id IS NULL OR s.task_id = $2) \
           AND (cardinality(s.statuses) = 0 OR $7 = ANY (s.statuses)) \
           AND s.created_at <= $5::timestamptz + make_interval(secs => $6) \
         ON CONFLICT (subscription_id, event_id) DO NOTHING",
    )
    .bind(&id)
    .bind(task_id)
    .bind(&event.kind)
    .bind(&body)
    .bind(time)
    .bind(CLOCK_SLACK_SECS as f64)
    .bind(&event.status)
    .execute(db)
    .await
    .map_err(Handling::Store)?;
    let created = done.rows_affected();
    tracing::debug!(event_id = %id, kind = %event.kind, created, "webhook deliveries recorded");
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_names_every_field() {
        let event = TaskEvent {
            task_id: "0190a3c4-0000-7000-8000-000000000001".into(),
            kind: "stage_finished".into(),
            status: "testing".into(),
            stage: Stage::Codegen as i32,
            summary: "3 files written".into(),
            time_unix_ms: 1_700_000_000_123,
            round: 2,
        };
        let body = payload("ev-1", &event, event_time(&event), Some("pizzadash"));
        assert_eq!(
            body,
            serde_json::json!({
                "id": "ev-1",
                "kind": "stage_finished",
                "task_id": "0190a3c4-0000-7000-8000-000000000001",
                "status": "testing",
                "stage": "codegen",
                "round": 2,
                "message": "3 files written",
                "time": "2023-11-14T22:13:20.123Z",
                "project": "pizzadash",
            })
        );
    }

    #[test]
    fn an_unspecified_stage_and_unknown_project_are_null() {
        let event = TaskEvent {
            kind: "created".into(),
            ..Default::default()
        };
        let body = payload("ev", &event, event_time(&event), None);
        assert_eq!(body["stage"], serde_json::Value::Null);
        assert_eq!(body["project"], serde_json::Value::Null);
        assert!(body["time"].as_str().is_some_and(|t| t.contains('T')));
    }

    #[test]
    fn the_consumer_follows_every_task_of_its_prefix() {
        let spec = consumer_spec(&Subjects::new("t1").unwrap());
        assert_eq!(spec.stream, "T1_EVENTS");
        assert_eq!(spec.filter_subject, "t1.events.*.>");
        assert_eq!(spec.durable_name, "webhooks");
    }
}
