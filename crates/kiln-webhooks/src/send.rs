//! POSTs due deliveries to their subscribers and records every attempt.
//!
//! A delivery is claimed with a lease (`FOR UPDATE SKIP LOCKED`, then its next attempt moved
//! past the request timeout), so replicas never send the same attempt and a replica that
//! dies mid-request leaves the delivery to be sent again once the lease runs out. Nothing
//! is sent while the installation or the delivery's project is paused. This loop shares
//! nothing with the pipeline but the database, so a subscriber that hangs or fails for
//! hours costs only its own deliveries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{PgPool, Row};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::sign;
use crate::{Config, Error, Result};

/// Time a claimed delivery stays invisible to other claims beyond the request timeout.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// Excludes deliveries under a pause: the global `pause` flag or `pause:<project>` of the
/// delivery's task. Used by the claim and re-checked right before each request.
const NOT_PAUSED: &str = "NOT EXISTS (SELECT 1 FROM control_flags f WHERE f.name = 'pause') \
     AND NOT EXISTS (SELECT 1 FROM tasks t JOIN projects p ON p.id = t.project_id \
                     JOIN control_flags f ON f.name = 'pause:' || p.name WHERE t.id = d.task_id)";

/// A claimed delivery and what it takes to send it.
struct Due {
    id: Uuid,
    subscription_id: Uuid,
    url: String,
    secret: String,
    event_id: String,
    kind: String,
    payload: serde_json::Value,
    attempt: i32,
}

/// The client every attempt uses: redirects are never followed (a 3xx is a failed
/// attempt), and the whole request is bounded by the timeout.
pub(crate) fn client(config: &Config) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.timeout())
        .connect_timeout(config.timeout())
        .user_agent(concat!("kiln-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(Error::Client)
}

/// Sends due deliveries until `shutdown`, then lets attempts in flight finish (each is
/// bounded by the request timeout) so they are recorded.
pub(crate) async fn run(
    client: reqwest::Client,
    db: PgPool,
    config: Config,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let lease = config.timeout() + LEASE_MARGIN;
    let mut running = JoinSet::new();
    loop {
        while let Some(done) = running.try_join_next() {
            if let Err(e) = done {
                tracing::error!(error = %e, "webhook attempt panicked; retried after its lease");
            }
        }
        let free = config.concurrency.saturating_sub(running.len());
        if free > 0 {
            match claim(&db, free, lease).await {
                Ok(due) => {
                    for d in due {
                        running.spawn(attempt(client.clone(), db.clone(), config.clone(), d));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "due webhook deliveries not claimed"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = running.join_next(), if !running.is_empty() => {}
            _ = wake.notified() => {}
            _ = tokio::time::sleep(config.poll()) => {}
        }
    }
    while running.join_next().await.is_some() {}
}

async fn claim(db: &PgPool, limit: usize, lease: Duration) -> Result<Vec<Due>> {
    let sql = format!(
        "WITH due AS ( \
             SELECT d.id FROM webhook_deliveries d \
             JOIN webhook_subscriptions s ON s.id = d.subscription_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= now() \
               AND s.disabled_at IS NULL AND {NOT_PAUSED} \
             ORDER BY d.next_attempt_at, d.id \
             LIMIT $1 \
             FOR UPDATE OF d SKIP LOCKED) \
         UPDATE webhook_deliveries d \
         SET next_attempt_at = now() + make_interval(secs => $2) \
         FROM due, webhook_subscriptions s \
         WHERE d.id = due.id AND s.id = d.subscription_id \
         RETURNING d.id, d.subscription_id, s.url, s.secret, d.event_id, d.kind, d.payload, \
                   d.attempts + 1 AS attempt"
    );
    let rows = sqlx::query(&sql)
        .bind(limit as i64)
        .bind(lease.as_secs_f64())
        .fetch_all(db)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Due {
                id: r.try_get("id")?,
                subscription_id: r.try_get("subscription_id")?,
                url: r.try_get("url")?,
                secret: r.try_get("secret")?,
                event_id: r.try_get("event_id")?,
                kind: r.try_get("kind")?,
                payload: r.try_get("payload")?,
                attempt: r.try_get("attempt")?,
            })
        })
        .collect()
}

/// Whether a pause set since the claim now covers the delivery; if so it is released,
/// still pending, for when the pause is lifted.
async fn paused_since_claim(db: &PgPool, id: Uuid) -> Result<bool> {
    let sql = format!(
        "UPDATE webhook_deliveries d SET next_attempt_at = now() \
         WHERE d.id = $1 AND d.status = 'pending' AND NOT ({NOT_PAUSED}) RETURNING d.id"
    );
    Ok(sqlx::query(&sql)
        .bind(id)
        .fetch_optional(db)
        .await?
        .is_some())
}

/// What one request came to.
struct Outcome {
    status_code: Option<i32>,
    /// `None` when delivered.
    error: Option<String>,
    duration: Duration,
}

async fn attempt(client: reqwest::Client, db: PgPool, config: Config, due: Due) {
    match paused_since_claim(&db, due.id).await {
        Ok(false) => {}
        Ok(true) => {
            tracing::info!(delivery_id = %due.id, "webhook delivery held by a pause");
            return;
        }
        // Not knowing is not sending: the lease brings the delivery back.
        Err(e) => {
            tracing::warn!(delivery_id = %due.id, error = %e, "pause flags not read; webhook not sent");
            return;
        }
    }
    let outcome = post(&client, &config, &due).await;
    match &outcome.error {
        None => tracing::info!(
            delivery_id = %due.id,
            subscription_id = %due.subscription_id,
            attempt = due.attempt,
            "webhook delivered"
        ),
        Some(error) => tracing::warn!(
            delivery_id = %due.id,
            subscription_id = %due.subscription_id,
            attempt = due.attempt,
            %error,
            "webhook attempt failed"
        ),
    }
    if let Err(e) = record(&db, &config, &due, &outcome).await {
        tracing::warn!(delivery_id = %due.id, error = %e, "webhook attempt not recorded; retried after its lease");
    }
}

async fn post(client: &reqwest::Client, config: &Config, due: &Due) -> Outcome {
    let body = serde_json::to_vec(&due.payload).expect("a json value serialises");
    let signature = sign::sign(
        &due.secret,
        OffsetDateTime::now_utc().unix_timestamp(),
        &body,
    );
    let started = Instant::now();
    let sent = client
        .post(&due.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(sign::SIGNATURE, signature)
        .header(sign::EVENT_ID, &due.event_id)
        .header(sign::EVENT_KIND, &due.kind)
        .header(sign::DELIVERY_ID, due.id.to_string())
        .header(sign::ATTEMPT, due.attempt.to_string())
        .body(body)
        .send()
        .await;
    let duration = started.elapsed();
    match sent {
        Ok(resp) if resp.status().is_success() => Outcome {
            status_code: Some(i32::from(resp.status().as_u16())),
            error: None,
            duration,
        },
        Ok(resp) => {
            let status = resp.status();
            let redirect = if status.is_redirection() {
                " (redirects are not followed)"
            } else {
                ""
            };
            Outcome {
                status_code: Some(i32::from(status.as_u16())),
                error: Some(format!("unexpected status {status}{redirect}")),
                duration,
            }
        }
        Err(e) => Outcome {
            status_code: None,
            error: Some(describe(&e, config)),
            duration,
        },
    }
}

fn describe(e: &reqwest::Error, config: &Config) -> String {
    if e.is_timeout() {
        return format!("timed out after {} s", config.timeout_secs);
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The attempt row and the delivery's new state, in one transaction. A failed attempt at
/// or beyond `max_age_hours` after the delivery was created gives it up; otherwise the next
/// one is scheduled after the backoff, less up to a fifth of jitter so replicas and
/// subscribers do not retry in lockstep.
async fn record(db: &PgPool, config: &Config, due: &Due, outcome: &Outcome) -> Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (delivery_id, attempt) DO NOTHING",
    )
    .bind(due.id)
    .bind(due.attempt)
    .bind(outcome.status_code)
    .bind(outcome.error.as_deref())
    .bind(i32::try_from(outcome.duration.as_millis()).unwrap_or(i32::MAX))
    .execute(&mut *tx)
    .await?;
    match &outcome.error {
        None => {
            sqlx::query(
                "UPDATE webhook_deliveries SET status = 'delivered', attempts = $2, \
                 delivered_at = now(), next_attempt_at = now() \
                 WHERE id = $1 AND status = 'pending'",
            )
            .bind(due.id)
            .bind(due.attempt)
            .execute(&mut *tx)
            .await?;
        }
        Some(error) => {
            let delay = config
                .backoff(due.attempt)
                .mul_f64(rand::random_range(0.8..=1.0));
            let status: Option<String> = sqlx::query_scalar(
                "UPDATE webhook_deliveries SET attempts = $2, last_error = $3, \
                     status = CASE WHEN now() >= created_at + make_interval(hours => $5) \
                                   THEN 'failed' ELSE 'pending' END, \
                     next_attempt_at = now() + make_interval(secs => $4) \
                 WHERE id = $1 AND status = 'pending' RETURNING status",
            )
            .bind(due.id)
            .bind(due.attempt)
            .bind(error)
            .bind(delay.as_secs_f64())
            .bind(i32::try_from(config.max_age_hours).unwrap_or(i32::MAX))
            .fetch_optional(&mut *tx)
            .await?;
            if status.as_deref() == Some("failed") {
                tracing::warn!(
                    delivery_id = %due.id,
                    subscription_id = %due.subscription_id,
                    attempts = due.attempt,
                    "webhook delivery given up"
                );
            }
        }
    }
    tx.commit().await?;
    Ok(())
}
