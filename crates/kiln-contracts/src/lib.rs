//! Kiln's wire contracts: every protobuf message, subject, stream, consumer and header.
//!
//! Invariant: this crate knows nothing about tokio, NATS clients or databases. It describes
//! the wire; the runtime crate turns these descriptions into live streams and consumers.
//! Every subject builder takes the deployment's prefix so tests and tenants isolate themselves.

pub mod apps;
pub mod headers;
pub mod permissions;
pub mod rag;
pub mod stage;
pub mod subjects;

/// Generated protobuf types of `proto/kiln/v1`.
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/kiln.v1.rs"));
}

pub use stage::StageName;
pub use subjects::{ConsumerSpec, Retention, StreamSpec, Subjects};
pub use v1::{DeadLetter, IndexRequest, LogLine, Stage, TaskEvent, WorkItem};
