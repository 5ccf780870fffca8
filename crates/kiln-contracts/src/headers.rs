//! Envelope headers carried by every Kiln message.
//!
//! `Nats-Msg-Id` gives JetStream publish de-duplication and the consumer's inbox key;
//! CloudEvents binary-mode attributes describe the event; `traceparent` carries W3C trace
//! context across services.

/// JetStream de-duplication id; Kiln sets it to the outbox row id.
pub const MSG_ID: &str = "Nats-Msg-Id";
/// CloudEvents spec version attribute.
pub const CE_SPECVERSION: &str = "ce-specversion";
/// CloudEvents id; equal to [`MSG_ID`].
pub const CE_ID: &str = "ce-id";
/// CloudEvents type, e.g. `dev.kiln.work.v1`.
pub const CE_TYPE: &str = "ce-type";
/// CloudEvents source: `/kiln/<service>`.
pub const CE_SOURCE: &str = "ce-source";
/// CloudEvents time (RFC 3339).
pub const CE_TIME: &str = "ce-time";
/// CloudEvents subject: the task id, when there is one.
pub const CE_SUBJECT: &str = "ce-subject";
/// W3C trace context.
pub const TRACEPARENT: &str = "traceparent";
/// W3C trace state.
pub const TRACESTATE: &str = "tracestate";
/// Task id, duplicated outside the payload so an undecodable message can still fail its task.
pub const TASK_ID: &str = "Kiln-Task-Id";
/// Protobuf content type of the payload.
pub const CONTENT_TYPE: &str = "content-type";

/// CloudEvents spec version Kiln speaks.
pub const SPECVERSION: &str = "1.0";
/// Payload content type of every Kiln message.
pub const PROTOBUF: &str = "application/protobuf";

/// CloudEvents type names, one per message type and major version.
pub mod types {
    pub const WORK: &str = "dev.kiln.work.v1";
    pub const INDEX: &str = "dev.kiln.index.v1";
    pub const EVENT: &str = "dev.kiln.event.v1";
    pub const LOG: &str = "dev.kiln.log.v1";
    pub const DEAD_LETTER: &str = "dev.kiln.dlq.v1";
}
