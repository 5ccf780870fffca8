//! Subjects, streams and consumers, all derived from one configurable prefix.
//!
//! With prefix `kiln` the work stream is `KILN_WORK` over `kiln.work.>` and `kiln.index.>`;
//! a test using prefix `t3f9a` gets `T3F9A_WORK` over `t3f9a.work.>` and never sees another
//! test's messages.

use std::time::Duration;

use crate::stage::StageName;
use crate::v1::Stage;

/// Why a prefix was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidPrefix(pub String);

impl std::fmt::Display for InvalidPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid subject prefix {:?}: use 1-32 ASCII letters, digits, '_' or '-'",
            self.0
        )
    }
}

impl std::error::Error for InvalidPrefix {}

/// Retention policy of a stream, mirrored from JetStream without depending on a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Each message is removed once acknowledged (work queues).
    WorkQueue,
    /// Messages are kept until age or size limits remove them.
    Limits,
}

/// Declarative description of a JetStream stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    pub name: String,
    pub subjects: Vec<String>,
    pub retention: Retention,
    /// Zero means unlimited.
    pub max_age: Duration,
    /// Zero means unlimited.
    pub max_bytes: i64,
    /// Window in which a repeated `Nats-Msg-Id` is dropped by the server.
    pub duplicate_window: Duration,
}

/// Declarative description of a durable pull consumer shared by all replicas of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSpec {
    pub stream: String,
    pub durable_name: String,
    pub filter_subject: String,
    /// How long a delivered message may stay unacknowledged before redelivery.
    pub ack_wait: Duration,
    /// Deliveries before the harness dead-letters the message.
    pub max_deliver: i64,
    /// Messages delivered but not yet acknowledged, across all replicas.
    pub max_ack_pending: i64,
}

/// Subject and stream names under one prefix.
///
/// Size limits are modest on purpose: JetStream reserves a file stream's `max_bytes` up
/// front, and every test prefix creates its own streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// The default prefix for a production deployment.
    pub const DEFAULT_PREFIX: &'static str = "kiln";

    pub fn new(prefix: &str) -> Result<Self, InvalidPrefix> {
        let valid = !prefix.is_empty()
            && prefix.len() <= 32
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(InvalidPrefix(prefix.to_owned()));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn stream_name(&self, suffix: &str) -> String {
        format!(
            "{}_{suffix}",
            self.prefix.to_ascii_uppercase().replace('-', "_")
        )
    }

    /// `<prefix>.work.<stage>`
    pub fn work(&self, stage: Stage) -> String {
        format!("{}.work.{}", self.prefix, stage.name())
    }

    /// `<prefix>.index.<project>`
    pub fn index(&self, project: &str) -> String {
        format!("{}.index.{project}", self.prefix)
    }

    /// `<prefix>.events.<task_id>.<kind>`
    pub fn event(&self, task_id: &str, kind: &str) -> String {
        format!("{}.events.{task_id}.{kind}", self.prefix)
    }

    /// `<prefix>.events.<task_id>.>`, or every task's events with `None`.
    pub fn events_of(&self, task_id: Option<&str>) -> String {
        format!("{}.events.{}.>", self.prefix, task_id.unwrap_or("*"))
    }

    /// `<prefix>.logs.<task_id>`
    pub fn logs(&self, task_id: &str) -> String {
        format!("{}.logs.{task_id}", self.prefix)
    }

    /// `<prefix>.dlq.<stage>`
    pub fn dlq(&self, stage: Stage) -> String {
        format!("{}.dlq.{}", self.prefix, stage.name())
    }

    /// `<prefix>.dlq.indexer`
    pub fn dlq_index(&self) -> String {
        format!("{}.dlq.indexer", self.prefix)
    }

    /// `<prefix>.heartbeat.<service>`: core NATS liveness beats of every replica (JSON).
    pub fn heartbeat(&self, service: &str) -> String {
        format!("{}.heartbeat.{service}", self.prefix)
    }

    /// `<prefix>.heartbeat.*`
    pub fn heartbeats(&self) -> String {
        format!("{}.heartbeat.*", self.prefix)
    }

    /// `<prefix>.control.pause`: core NATS broadcast that a pause was set or lifted. Every
    /// service re-reads the flags from Postgres and replies with its worker name, so the API
    /// can say who heard it. The flags in Postgres stay the truth.
    pub fn control_pause(&self) -> String {
        format!("{}.control.pause", self.prefix)
    }

    /// `<prefix>.rag.query`: request/reply retrieval served by the indexer.
    pub fn rag_query(&self) -> String {
        format!("{}.rag.query", self.prefix)
    }

    /// `<prefix>.rag.index`: request/reply "bring this project's index to a commit now",
    /// served by the indexer (`kiln rag index`).
    pub fn rag_index(&self) -> String {
        format!("{}.rag.index", self.prefix)
    }

    /// `<prefix>.deploy.remove`: request/reply removal of a deployed app, served by a deployer
    /// (queue group `deployer`): stop it, delete its releases, drop its database.
    pub fn app_remove(&self) -> String {
        format!("{}.deploy.remove", self.prefix)
    }

    /// Work queue for every stage and for indexing.
    pub fn work_stream(&self) -> StreamSpec {
        StreamSpec {
            name: self.stream_name("WORK"),
            subjects: vec![
                format!("{}.work.>", self.prefix),
                format!("{}.index.>", self.prefix),
            ],
            retention: Retention::WorkQueue,
            max_age: Duration::ZERO,
            max_bytes: 0,
            duplicate_window: Duration::from_secs(120),
        }
    }

    /// Lifecycle events for dashboards, metrics and audit.
    pub fn events_stream(&self) -> StreamSpec {
        StreamSpec {
            name: self.stream_name("EVENTS"),
            subjects: vec![format!("{}.events.>", self.prefix)],
            retention: Retention::Limits,
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_bytes: 256 << 20,
            duplicate_window: Duration::from_secs(120),
        }
    }

    /// Live, replayable log lines; bounded by age and size.
    pub fn logs_stream(&self) -> StreamSpec {
        StreamSpec {
            name: self.stream_name("LOGS"),
            subjects: vec![format!("{}.logs.>", self.prefix)],
            retention: Retention::Limits,
            max_age: Duration::from_secs(3 * 24 * 3600),
            max_bytes: 512 << 20,
            duplicate_window: Duration::from_secs(120),
        }
    }

    /// Copies of messages that exhausted their deliveries or failed permanently.
    pub fn dlq_stream(&self) -> StreamSpec {
        StreamSpec {
            name: self.stream_name("DLQ"),
            subjects: vec![format!("{}.dlq.>", self.prefix)],
            retention: Retention::Limits,
            max_age: Duration::from_secs(30 * 24 * 3600),
            max_bytes: 64 << 20,
            duplicate_window: Duration::from_secs(120),
        }
    }

    /// Every stream Kiln needs, in creation order.
    pub fn streams(&self) -> [StreamSpec; 4] {
        [
            self.work_stream(),
            self.events_stream(),
            self.logs_stream(),
            self.dlq_stream(),
        ]
    }

    /// The durable consumer shared by every replica of the service handling `stage`.
    pub fn stage_consumer(
        &self,
        stage: Stage,
        ack_wait: Duration,
        max_deliver: i64,
    ) -> ConsumerSpec {
        ConsumerSpec {
            stream: self.work_stream().name,
            durable_name: stage.name().to_owned(),
            filter_subject: self.work(stage),
            ack_wait,
            max_deliver,
            max_ack_pending: 1000,
        }
    }

    /// The durable consumer shared by every indexer replica.
    pub fn index_consumer(&self, ack_wait: Duration, max_deliver: i64) -> ConsumerSpec {
        ConsumerSpec {
            stream: self.work_stream().name,
            durable_name: "indexer".to_owned(),
            filter_subject: format!("{}.index.>", self.prefix),
            ack_wait,
            max_deliver,
            max_ack_pending: 1000,
        }
    }
}

impl Default for Subjects {
    fn default() -> Self {
        Self {
            prefix: Self::DEFAULT_PREFIX.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_prefix_matches_the_design() {
        let s = Subjects::default();
        assert_eq!(s.work(Stage::Codegen), "kiln.work.codegen");
        assert_eq!(s.index("pizzadash"), "kiln.index.pizzadash");
        assert_eq!(s.event("t1", "status"), "kiln.events.t1.status");
        assert_eq!(s.logs("t1"), "kiln.logs.t1");
        assert_eq!(s.dlq(Stage::Test), "kiln.dlq.test");
        assert_eq!(s.rag_query(), "kiln.rag.query");
        assert_eq!(s.app_remove(), "kiln.deploy.remove");
        assert_eq!(s.work_stream().name, "KILN_WORK");
        assert_eq!(s.events_stream().name, "KILN_EVENTS");
        assert_eq!(s.logs_stream().name, "KILN_LOGS");
    }

    #[test]
    fn prefixes_isolate_streams_and_subjects() {
        let a = Subjects::new("t-a1").unwrap();
        let b = Subjects::new("t-b2").unwrap();
        assert_eq!(a.work_stream().name, "T_A1_WORK");
        assert_ne!(a.work_stream().name, b.work_stream().name);
        for (sa, sb) in a.streams().iter().zip(b.streams().iter()) {
            assert!(sa.subjects.iter().all(|s| s.starts_with("t-a1.")));
            assert!(sb.subjects.iter().all(|s| s.starts_with("t-b2.")));
        }
    }

    #[test]
    fn work_queue_filters_never_overlap() {
        let s = Subjects::default();
        let mut filters: Vec<String> = Stage::all()
            .into_iter()
            .map(|st| {
                s.stage_consumer(st, Duration::from_secs(30), 5)
                    .filter_subject
            })
            .collect();
        filters.push(s.index_consumer(Duration::from_secs(30), 5).filter_subject);
        let unique: std::collections::HashSet<_> = filters.iter().collect();
        assert_eq!(unique.len(), filters.len());
    }

    #[test]
    fn rejects_prefixes_that_would_break_subjects() {
        for bad in ["", "a.b", "a b", "a*", "a>", &"x".repeat(33)] {
            assert!(Subjects::new(bad).is_err(), "{bad:?} accepted");
        }
    }
}
