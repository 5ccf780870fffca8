//! The outbox relay: publishes rows written by committed transactions and marks them sent.
//!
//! Every service process runs one, and it publishes only the rows its own service wrote
//! (their `ce-source` is `/kiln/<service>`), so each service needs broker rights to its own
//! subjects only (`kiln_contracts::permissions`). Another service's rows wait for that
//! service's relay: written while it is down, they go out when it starts. Rows are claimed
//! with `FOR UPDATE SKIP LOCKED`, so relays of many replicas share the work; a relay that
//! dies after publishing but before marking leaves the rows to be published again, and
//! JetStream drops the copies by `Nats-Msg-Id`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_store::delivery;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::envelope::nats_headers;
use crate::metrics::Metrics;

const BATCH: i64 = 200;
/// Picks up rows left by other processes (or missed notifications) at this pace.
const POLL: Duration = Duration::from_millis(500);
/// Sent rows are kept this long (for reading what was sent), then deleted. Far longer than
/// JetStream's duplicate window: a sent row is never published again anyway.
const KEEP_SENT: Duration = Duration::from_secs(3600);
/// How often a relay prunes; several replicas pruning is harmless.
const PRUNE_EVERY: Duration = Duration::from_secs(300);

/// Wakes the relay right after a transaction wrote outbox rows.
#[derive(Clone, Default)]
pub struct RelayHandle {
    notify: Arc<Notify>,
}

impl RelayHandle {
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// The CloudEvents source of the rows `service` writes (`envelope` sets it), which are the
/// rows its relay publishes.
pub fn source(service: &str) -> String {
    format!("/kiln/{service}")
}

/// Runs until `shutdown`, then drains what `service` left pending once more.
pub async fn run(
    db: PgPool,
    js: async_nats::jetstream::Context,
    service: &str,
    handle: RelayHandle,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let source = source(service);
    let mut failures = 0u32;
    let mut last_prune = Instant::now();
    loop {
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = Instant::now();
            match prune(&db).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(rows = n, "pruned sent outbox rows"),
                Err(e) => tracing::warn!(error = %e, "outbox pruning failed"),
            }
        }
        match drain(&db, &js, &source, &metrics).await {
            Ok(_) => failures = 0,
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(error = %e, failures, "outbox relay failed; rows stay pending");
            }
        }
        let backoff = if failures == 0 {
            POLL
        } else {
            Duration::from_millis(200 * 2u64.pow(failures.min(6)))
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = handle.notify.notified() => {}
            _ = tokio::time::sleep(backoff) => {}
        }
    }
    if let Err(e) = drain(&db, &js, &source, &metrics).await {
        tracing::warn!(
            error = %e,
            "final outbox drain failed; another replica or the next start will publish"
        );
    }
}

/// Publishes everything pending from `source` (see [`source`]), batch by batch. Returns how
/// many messages went out.
pub async fn drain(
    db: &PgPool,
    js: &async_nats::jetstream::Context,
    source: &str,
    metrics: &Metrics,
) -> Result<usize, RelayError> {
    let mut total = 0;
    loop {
        let started = Instant::now();
        let mut tx = db.begin().await.map_err(kiln_store::Error::from)?;
        let batch = delivery::claim_pending(&mut tx, source, BATCH).await?;
        if batch.is_empty() {
            break;
        }
        // Send all, then await all acks: one round trip per batch, order kept on the wire.
        let mut acks = Vec::with_capacity(batch.len());
        for msg in &batch {
            let ack = js
                .publish_with_headers(
                    msg.subject.clone(),
                    nats_headers(msg),
                    msg.payload.clone().into(),
                )
                .await
                .map_err(|e| RelayError::Publish(e.to_string()))?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(|e| RelayError::Publish(e.to_string()))?;
        }
        let ids: Vec<_> = batch.iter().map(|m| m.id).collect();
        delivery::mark_sent(&mut tx, &ids).await?;
        tx.commit().await.map_err(kiln_store::Error::from)?;
        metrics.outbox_published.inc_by(ids.len() as u64);
        metrics
            .relay_seconds
            .observe(started.elapsed().as_secs_f64());
        total += ids.len();
        if (batch.len() as i64) < BATCH {
            break;
        }
    }
    if let Ok(n) = delivery::pending_count(db).await {
        metrics.outbox_pending.set(n);
    }
    Ok(total)
}

/// Deletes outbox rows sent more than [`KEEP_SENT`] ago; returns how many.
pub async fn prune(db: &PgPool) -> Result<u64, kiln_store::Error> {
    delivery::prune_sent(db, KEEP_SENT.as_secs() as i64).await
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("outbox storage")]
    Store(#[from] kiln_store::Error),
    #[error("publish to jetstream failed: {0}")]
    Publish(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_contracts::headers as h;

    #[test]
    fn a_relay_claims_the_source_its_service_writes() {
        let msg = crate::envelope::raw(
            "kiln.work.test".into(),
            h::types::WORK,
            "codegen",
            None,
            vec![],
        );
        let written = msg
            .headers
            .iter()
            .find(|(k, _)| k == h::CE_SOURCE)
            .map(|(_, v)| v.as_str());
        assert_eq!(written, Some(source("codegen").as_str()));
    }
}
