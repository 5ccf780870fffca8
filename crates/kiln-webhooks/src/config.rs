//! Settings of the webhook dispatcher and sender (the `[webhooks]` section).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;

/// How deliveries are retried and how long a subscriber may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Hours after an event's delivery was created during which failed attempts are
    /// retried; the first attempt failing after that gives the delivery up (`failed`).
    pub max_age_hours: u64,
    /// Delay before the second attempt, in milliseconds; each later delay doubles.
    pub first_retry_ms: u64,
    /// Longest delay between two attempts, in seconds.
    pub max_retry_secs: u64,
    /// How often the sender looks for due deliveries when it has nothing to do, in ms.
    pub poll_ms: u64,
    /// How long one POST may take, connecting included, in seconds.
    pub timeout_secs: u64,
    /// Deliveries one replica sends at the same time.
    pub concurrency: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_age_hours: 24,
            first_retry_ms: 10_000,
            max_retry_secs: 3600,
            poll_ms: 500,
            timeout_secs: 10,
            concurrency: 16,
        }
    }
}

impl Config {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let positive = [
            ("max_age_hours", self.max_age_hours),
            ("first_retry_ms", self.first_retry_ms),
            ("max_retry_secs", self.max_retry_secs),
            ("poll_ms", self.poll_ms),
            ("timeout_secs", self.timeout_secs),
            ("concurrency", self.concurrency as u64),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(Error::Config {
                    field,
                    reason: "must be greater than zero".into(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    pub(crate) fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms)
    }

    /// The delay after failed attempt `attempt` (from 1), before jitter.
    pub(crate) fn backoff(&self, attempt: i32) -> Duration {
        let cap = Duration::from_secs(self.max_retry_secs);
        let doublings = attempt.saturating_sub(1).clamp(0, 40) as u32;
        Duration::from_millis(self.first_retry_ms)
            .checked_mul(1u32 << doublings.min(31))
            .unwrap_or(cap)
            .min(cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_first_delay_up_to_the_cap() {
        let c = Config::default();
        let secs: Vec<u64> = (1..=12).map(|n| c.backoff(n).as_secs()).collect();
        assert_eq!(
            secs,
            [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600]
        );
        assert_eq!(c.backoff(10_000), Duration::from_secs(3600));
        assert_eq!(c.backoff(0), Duration::from_secs(10));
    }

    #[test]
    fn defaults_deserialise_from_an_empty_section() {
        let c: Config = serde_json::from_str("{}").unwrap();
        assert_eq!(c, Config::default());
        assert!(serde_json::from_str::<Config>(r#"{"first_retry":1}"#).is_err());
    }

    #[test]
    fn zero_values_are_refused() {
        let c = Config {
            timeout_secs: 0,
            ..Config::default()
        };
        assert!(matches!(
            c.validate(),
            Err(Error::Config {
                field: "timeout_secs",
                ..
            })
        ));
    }
}
