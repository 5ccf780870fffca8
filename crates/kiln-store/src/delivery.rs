//! Inbox and outbox tables: the storage half of the delivery discipline (design.md §2).

use sqlx::{PgConnection, PgExecutor, Row};
use uuid::Uuid;

use crate::Result;

/// Records that `consumer` handled `message_id`. False means it was handled before: the
/// caller must roll back and acknowledge the duplicate without repeating its effects.
pub async fn record_inbox(
    conn: &mut PgConnection,
    consumer: &str,
    message_id: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(message_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether `consumer` already handled `message_id` (a cheap check before long work).
pub async fn inbox_contains<'e>(
    db: impl PgExecutor<'e>,
    consumer: &str,
    message_id: &str,
) -> Result<bool> {
    let row = sqlx::query("SELECT 1 AS one FROM inbox WHERE consumer = $1 AND message_id = $2")
        .bind(consumer)
        .bind(message_id)
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}

/// A message waiting in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub id: Uuid,
    pub subject: String,
    pub payload: Vec<u8>,
    /// Header name/value pairs, in order.
    pub headers: Vec<(String, String)>,
}

pub async fn enqueue<'e>(db: impl PgExecutor<'e>, msg: &OutboxMessage) -> Result<()> {
    let headers = serde_json::to_value(&msg.headers).unwrap_or_default();
    sqlx::query("INSERT INTO outbox (id, subject, payload, headers) VALUES ($1, $2, $3, $4)")
        .bind(msg.id)
        .bind(&msg.subject)
        .bind(&msg.payload)
        .bind(headers)
        .execute(db)
        .await?;
    Ok(())
}

/// Locks up to `limit` unsent rows written by `source` (their CloudEvents `ce-source`
/// header, `/kiln/<service>`) for this transaction, oldest first. Rows locked by another
/// relay are skipped, so replicas of one service share its rows without publishing twice.
///
/// Each service publishes only what it wrote, under its own broker identity: another
/// service's rows wait for that service's relay (they are published when it starts), and
/// never block this one's.
pub async fn claim_pending(
    conn: &mut PgConnection,
    source: &str,
    limit: i64,
) -> Result<Vec<OutboxMessage>> {
    // `headers` is a JSON array of [name, value] pairs (see `enqueue`).
    let rows = sqlx::query(
        "SELECT id, subject, payload, headers FROM outbox WHERE sent_at IS NULL \
         AND headers @> jsonb_build_array(jsonb_build_array($1::text, $2::text)) \
         ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED",
    )
    .bind(kiln_contracts::headers::CE_SOURCE)
    .bind(source)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let headers: serde_json::Value = r.try_get("headers")?;
            Ok(OutboxMessage {
                id: r.try_get("id")?,
                subject: r.try_get("subject")?,
                payload: r.try_get("payload")?,
                headers: serde_json::from_value(headers).unwrap_or_default(),
            })
        })
        .collect()
}

pub async fn mark_sent(conn: &mut PgConnection, ids: &[Uuid]) -> Result<()> {
    sqlx::query("UPDATE outbox SET sent_at = now() WHERE id = ANY($1)")
        .bind(ids)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn pending_count<'e>(db: impl PgExecutor<'e>) -> Result<i64> {
    let row = sqlx::query("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
        .fetch_one(db)
        .await?;
    Ok(row.try_get("n")?)
}

/// Deletes sent rows older than the JetStream de-duplication window would ever need.
pub async fn prune_sent<'e>(db: impl PgExecutor<'e>, older_than_secs: i64) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval(secs => $1)",
    )
    .bind(older_than_secs as f64)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
