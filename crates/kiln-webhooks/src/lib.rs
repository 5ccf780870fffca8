//! Outbound webhooks: subscribers register a URL and the event kinds they want, and Kiln
//! POSTs every matching task event to them, signed with HMAC-SHA256 and a timestamp,
//! retried with backoff for a day, every attempt recorded.
//!
//! Two loops, both independent of the pipeline: [`dispatch`] turns task events into
//! pending deliveries (one per subscription and event), [`send`] POSTs due deliveries.
//! They meet only in Postgres, so any number of replicas may run them and a subscriber
//! that hangs never slows a task. While Kiln is paused nothing is sent.
//!
//! ```text
//! <prefix>.events.<task>.<kind> ──dispatch──▶ webhook_deliveries ──send──▶ POST subscriber
//!                                                    └── webhook_attempts
//! ```

pub mod config;
pub mod dispatch;
pub mod error;
pub mod send;
pub mod sign;
pub mod store;

use std::sync::Arc;

use kiln_contracts::Subjects;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use error::{Error, Result};
pub use sign::verify;

/// Runs the dispatcher and the sender until `shutdown`. Returns early only when `config`
/// is invalid; outages of NATS or Postgres are waited out.
///
/// From a booted service: `kiln_webhooks::run(cx.js.clone(), cx.db.clone(), &cx.subjects,
/// config, shutdown)`. The events stream must exist (the runtime creates it at boot).
pub async fn run(
    js: async_nats::jetstream::Context,
    db: PgPool,
    subjects: &Subjects,
    config: Config,
    shutdown: CancellationToken,
) -> Result<()> {
    config.validate()?;
    let client = send::client(&config)?;
    let wake = Arc::new(Notify::new());
    tracing::info!(
        max_age_hours = config.max_age_hours,
        concurrency = config.concurrency,
        "webhooks running"
    );
    tokio::join!(
        dispatch::run(
            js,
            db.clone(),
            dispatch::consumer_spec(subjects),
            wake.clone(),
            shutdown.clone(),
        ),
        send::run(client, db, config, wake, shutdown),
    );
    tracing::info!("webhooks stopped");
    Ok(())
}
