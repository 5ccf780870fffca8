//! Per-task live log lines on `<prefix>.logs.<task_id>`, replayable from the logs stream.
//!
//! Lines are also written to this process's own log. Publishing is best effort: a log line
//! that cannot be published never fails the work it describes.

use kiln_contracts::{LogLine, Stage, Subjects};
use time::OffsetDateTime;

/// Writes log lines for one task from one service and stage.
#[derive(Clone)]
pub struct TaskLog {
    js: async_nats::jetstream::Context,
    subject: String,
    task_id: String,
    service: &'static str,
    stage: Stage,
}

impl TaskLog {
    pub fn new(
        js: async_nats::jetstream::Context,
        subjects: &Subjects,
        task_id: &str,
        service: &'static str,
        stage: Stage,
    ) -> Self {
        Self {
            js,
            subject: subjects.logs(task_id),
            task_id: task_id.to_owned(),
            service,
            stage,
        }
    }

    pub async fn info(&self, message: impl Into<String>) {
        self.line("info", message.into()).await
    }

    pub async fn warn(&self, message: impl Into<String>) {
        self.line("warn", message.into()).await
    }

    pub async fn error(&self, message: impl Into<String>) {
        self.line("error", message.into()).await
    }

    pub async fn line(&self, level: &str, message: String) {
        match level {
            "error" => tracing::error!(task_id = %self.task_id, "{message}"),
            "warn" => tracing::warn!(task_id = %self.task_id, "{message}"),
            _ => tracing::info!(task_id = %self.task_id, "{message}"),
        }
        let line = LogLine {
            task_id: self.task_id.clone(),
            time_unix_ms: (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
            level: level.to_owned(),
            service: self.service.to_owned(),
            stage: self.stage as i32,
            message,
        };
        let payload = prost::Message::encode_to_vec(&line);
        // Awaiting the send (not the ack) keeps lines in order without a round trip each.
        if let Err(e) = self.js.publish(self.subject.clone(), payload.into()).await {
            tracing::debug!(error = %e, "log line not published");
        }
    }
}
