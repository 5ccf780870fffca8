//! The one error of a model call, classified so the chain knows what to retry and callers
//! know what to tell a person (a budget to raise, a prompt too large).
//!
//! No variant carries an API key: status bodies are cut to an excerpt with the key
//! redacted, and request headers are never kept.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

use crate::Provider;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach {provider} model {model}")]
    Connect {
        provider: Provider,
        model: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{provider} model {model} did not answer within {after:?}")]
    Timeout {
        provider: Provider,
        model: String,
        after: Duration,
    },
    #[error("provider answered with status {status}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
        /// At most 500 characters of the response body, API key redacted.
        body_excerpt: String,
    },
    #[error("malformed provider response: {reason}")]
    Malformed { reason: String },
    /// `estimated` is the prompt estimate plus the output allowance.
    #[error("request needs an estimated {estimated} tokens, the context window holds {window}")]
    ContextTooLarge { estimated: u64, window: u32 },
    #[error(transparent)]
    Budget(#[from] BudgetExceeded),
    /// The kill switch is on for the task's project or everything: no model call starts.
    #[error("paused by {actor}: {reason}")]
    Paused { actor: String, reason: String },
    #[error("llm call records could not be written")]
    Store(#[from] sqlx::Error),
    #[error("task {task_id} does not exist")]
    UnknownTask { task_id: Uuid },
    #[error("cannot read api key file {path}")]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration of model {model:?}: {reason}")]
    InvalidConfig { model: String, reason: String },
    #[error("cannot build the http client")]
    Client(#[source] reqwest::Error),
}

impl Error {
    /// Transient failures worth another attempt: connection, timeout, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::Timeout { .. } => true,
            Error::Status { status, .. } => *status == 429 || (500..=599).contains(status),
            _ => false,
        }
    }

    /// How long the provider asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A one-line description for call records: the message, its causes and for a status
    /// the start of the body, at most 300 characters.
    pub fn summary(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        if let Error::Status { body_excerpt, .. } = self
            && !body_excerpt.is_empty()
        {
            text.push_str(": ");
            text.push_str(body_excerpt);
        }
        truncate_chars(&text, 300)
    }
}

/// Why a call was refused before it was sent: the task would cross one of its limits.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("llm budget exceeded: {limit} used {used} + needed {needed} > max {max}")]
pub struct BudgetExceeded {
    /// `tokens`, `cost_usd` or `calls`.
    pub limit: &'static str,
    /// Spent and reserved so far by the task.
    pub used: f64,
    /// What this call reserves.
    pub needed: f64,
    pub max: f64,
}

/// The first `max` characters of `text` (never splitting a character).
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => text[..i].to_string(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_retryable_statuses() {
        let status = |status| Error::Status {
            status,
            retry_after: None,
            body_excerpt: String::new(),
        };
        assert!(status(429).is_retryable());
        assert!(status(500).is_retryable());
        assert!(status(529).is_retryable());
        assert!(!status(400).is_retryable());
        assert!(!status(401).is_retryable());
        assert!(!Error::Malformed { reason: "x".into() }.is_retryable());
    }

    #[test]
    fn summary_is_short_and_includes_the_body_start() {
        let e = Error::Status {
            status: 503,
            retry_after: None,
            body_excerpt: "overloaded ".repeat(100),
        };
        let s = e.summary();
        assert!(s.starts_with("provider answered with status 503: overloaded"));
        assert_eq!(s.chars().count(), 300);
        assert_eq!(truncate_chars("héllo", 2), "hé");
    }
}
