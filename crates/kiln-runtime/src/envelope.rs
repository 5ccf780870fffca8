//! Builds outgoing messages with Kiln's envelope: CloudEvents binary-mode attributes,
//! `traceparent`, the task id, and an id that becomes `Nats-Msg-Id` when published.

use kiln_contracts::headers as h;
use kiln_store::delivery::OutboxMessage;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::telemetry;

/// A protobuf message ready for the outbox (or a direct publish).
pub fn envelope(
    subject: String,
    ce_type: &str,
    service: &str,
    task_id: Option<&str>,
    payload: &impl prost::Message,
) -> OutboxMessage {
    raw(subject, ce_type, service, task_id, payload.encode_to_vec())
}

/// An already-encoded payload (a parked work item put back) with a fresh id and envelope.
pub fn raw(
    subject: String,
    ce_type: &str,
    service: &str,
    task_id: Option<&str>,
    payload: Vec<u8>,
) -> OutboxMessage {
    let id = Uuid::now_v7();
    let mut headers = vec![
        (h::CE_SPECVERSION.to_owned(), h::SPECVERSION.to_owned()),
        (h::CE_ID.to_owned(), id.to_string()),
        (h::CE_TYPE.to_owned(), ce_type.to_owned()),
        (h::CE_SOURCE.to_owned(), format!("/kiln/{service}")),
        (
            h::CE_TIME.to_owned(),
            OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .unwrap_or_default(),
        ),
        (h::CONTENT_TYPE.to_owned(), h::PROTOBUF.to_owned()),
    ];
    if let Some(task) = task_id {
        headers.push((h::CE_SUBJECT.to_owned(), task.to_owned()));
        headers.push((h::TASK_ID.to_owned(), task.to_owned()));
    }
    headers.extend(telemetry::current_trace_headers());
    OutboxMessage {
        id,
        subject,
        payload,
        headers,
    }
}

/// NATS headers of a stored message, with `Nats-Msg-Id` set to its outbox id.
pub fn nats_headers(msg: &OutboxMessage) -> async_nats::HeaderMap {
    let mut map = async_nats::HeaderMap::new();
    map.insert(h::MSG_ID, msg.id.to_string().as_str());
    for (k, v) in &msg.headers {
        map.insert(k.as_str(), v.as_str());
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_contracts::WorkItem;

    #[test]
    fn envelope_carries_cloudevents_and_task_headers() {
        let item = WorkItem {
            task_id: "abc".into(),
            ..Default::default()
        };
        let msg = envelope(
            "kiln.work.plan".into(),
            h::types::WORK,
            "api",
            Some("abc"),
            &item,
        );
        let get = |k: &str| {
            msg.headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get(h::CE_ID), Some(msg.id.to_string()));
        assert_eq!(get(h::CE_TYPE).as_deref(), Some(h::types::WORK));
        assert_eq!(get(h::CE_SOURCE).as_deref(), Some("/kiln/api"));
        assert_eq!(get(h::TASK_ID).as_deref(), Some("abc"));
        assert!(get(h::CE_TIME).is_some_and(|t| t.contains('T')));
        let headers = nats_headers(&msg);
        assert_eq!(
            headers.get(h::MSG_ID).map(|v| v.as_str().to_owned()),
            Some(msg.id.to_string())
        );
        let decoded = <WorkItem as prost::Message>::decode(msg.payload.as_slice()).unwrap();
        assert_eq!(decoded, item);
    }
}
