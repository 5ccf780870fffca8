//! Subscriptions and their deliveries in Postgres: what the API creates, lists and removes,
//! and what a person reads to see why a subscriber is failing.
//!
//! Functions take an executor so callers decide the transaction; queries are checked at
//! runtime (no `query!` macros), so building never needs a database.

use serde::Serialize;
use sqlx::{PgExecutor, Row};
use time::OffsetDateTime;
use url::Url;
use uuid::Uuid;

use crate::{Error, Result};

/// Longest URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// Most event kinds one subscription may name.
pub const MAX_KINDS: usize = 64;
/// Longest description accepted, in characters.
pub const MAX_DESCRIPTION: usize = 1000;

/// What a person asks for.
#[derive(Debug, Clone, Default)]
pub struct NewSubscription {
    pub url: String,
    /// Event kinds wanted; empty means every kind.
    pub kinds: Vec<String>,
    pub description: String,
    /// The actor creating it (token name).
    pub created_by: String,
    /// Only this task's events; none: every task's.
    pub task_id: Option<Uuid>,
    /// Only events that leave the task in one of these statuses; empty: any.
    pub statuses: Vec<String>,
}

/// A subscription as shown to people: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscription {
    pub id: Uuid,
    pub url: String,
    pub kinds: Vec<String>,
    pub description: String,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
    /// Only this task's events, when set.
    pub task_id: Option<Uuid>,
    /// Only events leaving the task in one of these statuses; empty: any.
    pub statuses: Vec<String>,
}

/// A new subscription with its signing secret, which is shown this once.
#[derive(Clone, Serialize)]
pub struct Created {
    pub subscription: Subscription,
    /// `whsec_<64 hex>`; the HMAC key of every delivery.
    pub secret: String,
}

impl std::fmt::Debug for Created {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Created")
            .field("subscription", &self.subscription)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A subscription with how its deliveries are going.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionStatus {
    #[serde(flatten)]
    pub subscription: Subscription,
    /// Deliveries not yet delivered nor given up.
    pub pending: i64,
    /// Deliveries given up on.
    pub failed: i64,
    pub delivered: i64,
    /// The error of the latest failed attempt, even when later attempts succeeded.
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_attempt_at: Option<OffsetDateTime>,
    /// The latest attempt failed, or a delivery was given up on in the last day.
    pub failing: bool,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One event for one subscriber, with every attempt made so far.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub event_id: String,
    pub task_id: Option<Uuid>,
    pub kind: String,
    /// The JSON body sent.
    pub payload: serde_json::Value,
    pub status: DeliveryStatus,
    pub attempts: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
    /// Oldest first.
    pub attempt_log: Vec<Attempt>,
}

/// One POST and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub attempt: i32,
    /// The subscriber's HTTP status, when it answered.
    pub status_code: Option<i32>,
    /// Why the attempt failed; `None` when it succeeded.
    pub error: Option<String>,
    pub duration_ms: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub attempted_at: OffsetDateTime,
}

/// Filter and cursor for listing a subscription's deliveries, newest first.
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    pub status: Option<DeliveryStatus>,
    /// Exclusive upper bound `(created_at, id)` from the previous page.
    pub after: Option<(OffsetDateTime, Uuid)>,
    pub limit: i64,
}

/// Refuses URLs Kiln will not POST to: other schemes, embedded credentials (they would
/// show in every listing and log), no host, or longer than [`MAX_URL_LEN`].
pub fn validate_url(raw: &str) -> Result<Url> {
    if raw.len() > MAX_URL_LEN {
        return Err(Error::UrlTooLong {
            len: raw.len(),
            max: MAX_URL_LEN,
        });
    }
    let url = Url::parse(raw).map_err(|e| Error::UrlUnparsable {
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::UrlScheme {
            scheme: url.scheme().to_owned(),
        });
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::UrlCredentials);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::UrlNoHost);
    }
    Ok(url)
}

/// Checks every kind and returns them sorted without repeats.
pub fn validate_kinds(kinds: &[String]) -> Result<Vec<String>> {
    if kinds.len() > MAX_KINDS {
        return Err(Error::TooManyKinds {
            count: kinds.len(),
            max: MAX_KINDS,
        });
    }
    let valid = |k: &str| {
        (1..=64).contains(&k.len())
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    if let Some(bad) = kinds.iter().find(|k| !valid(k)) {
        return Err(Error::InvalidKind { kind: bad.clone() });
    }
    let mut out = kinds.to_vec();
    out.sort();
    out.dedup();
    Ok(out)
}

fn new_secret() -> String {
    format!("whsec_{}", hex::encode(rand::random::<[u8; 32]>()))
}

const SUBSCRIPTION_COLUMNS: &str = "s.id, s.url, s.kinds, s.description, s.created_by, s.created_at, s.disabled_at, \
     s.task_id, s.statuses";

fn subscription_from_row(row: &sqlx::postgres::PgRow) -> Result<Subscription> {
    Ok(Subscription {
        id: row.try_get("id")?,
        url: row.try_get("url")?,
        kinds: row.try_get("kinds")?,
        description: row.try_get("description")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        disabled_at: row.try_get("disabled_at")?,
        task_id: row.try_get("task_id")?,
        statuses: row.try_get("statuses")?,
    })
}

/// Validates and stores a subscription; the secret is in the answer and nowhere else
/// people can read.
pub async fn create<'e>(db: impl PgExecutor<'e>, new: &NewSubscription) -> Result<Created> {
    let url = validate_url(&new.url)?;
    let kinds = validate_kinds(&new.kinds)?;
    let chars = new.description.chars().count();
    if chars > MAX_DESCRIPTION {
        return Err(Error::DescriptionTooLong {
            len: chars,
            max: MAX_DESCRIPTION,
        });
    }
    let secret = new_secret();
    let sql = format!(
        "INSERT INTO webhook_subscriptions AS s \
         (id, url, kinds, secret, description, created_by, task_id, statuses) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {SUBSCRIPTION_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(Uuid::now_v7())
        .bind(url.as_str())
        .bind(&kinds)
        .bind(&secret)
        .bind(&new.description)
        .bind(&new.created_by)
        .bind(new.task_id)
        .bind(&new.statuses)
        .fetch_one(db)
        .await?;
    Ok(Created {
        subscription: subscription_from_row(&row)?,
        secret,
    })
}

/// Subscriptions with their delivery counts and health; `only` narrows to one.
fn status_sql() -> String {
    format!(
        "SELECT {SUBSCRIPTION_COLUMNS}, c.pending, c.failed, c.delivered, \
                la.attempted_at AS last_attempt_at, la.ok AS last_ok, le.error AS last_error, \
                EXISTS (SELECT 1 FROM webhook_deliveries d \
                        JOIN webhook_attempts a ON a.delivery_id = d.id \
                        WHERE d.subscription_id = s.id AND d.status = 'failed' \
                          AND a.attempted_at > now() - interval '1 day') AS failed_recently \
         FROM webhook_subscriptions s \
         CROSS JOIN LATERAL ( \
             SELECT count(*) FILTER (WHERE d.status = 'pending') AS pending, \
                    count(*) FILTER (WHERE d.status = 'failed') AS failed, \
                    count(*) FILTER (WHERE d.status = 'delivered') AS delivered \
             FROM webhook_deliveries d WHERE d.subscription_id = s.id) c \
         LEFT JOIN LATERAL ( \
             SELECT a.attempted_at, a.error IS NULL AS ok \
             FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id \
             WHERE d.subscription_id = s.id \
             ORDER BY a.attempted_at DESC, a.attempt DESC LIMIT 1) la ON true \
         LEFT JOIN LATERAL ( \
             SELECT a.error \
             FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id \
             WHERE d.subscription_id = s.id AND a.error IS NOT NULL \
             ORDER BY a.attempted_at DESC, a.attempt DESC LIMIT 1) le ON true \
         WHERE ($1::uuid IS NULL OR s.id = $1) \
         ORDER BY s.created_at DESC, s.id DESC"
    )
}

fn status_from_row(row: &sqlx::postgres::PgRow) -> Result<SubscriptionStatus> {
    let last_ok: Option<bool> = row.try_get("last_ok")?;
    let failed_recently: bool = row.try_get("failed_recently")?;
    Ok(SubscriptionStatus {
        subscription: subscription_from_row(row)?,
        pending: row.try_get("pending")?,
        failed: row.try_get("failed")?,
        delivered: row.try_get("delivered")?,
        last_error: row.try_get("last_error")?,
        last_attempt_at: row.try_get("last_attempt_at")?,
        failing: last_ok == Some(false) || failed_recently,
    })
}

/// Every subscription, disabled ones included, newest first.
pub async fn list<'e>(db: impl PgExecutor<'e>) -> Result<Vec<SubscriptionStatus>> {
    let rows = sqlx::query(&status_sql())
        .bind(None::<Uuid>)
        .fetch_all(db)
        .await?;
    rows.iter().map(status_from_row).collect()
}

pub async fn get<'e>(db: impl PgExecutor<'e>, id: Uuid) -> Result<Option<SubscriptionStatus>> {
    let row = sqlx::query(&status_sql())
        .bind(Some(id))
        .fetch_optional(db)
        .await?;
    row.as_ref().map(status_from_row).transpose()
}

/// Stops new deliveries and the sending of pending ones; true when it was enabled.
pub async fn disable<'e>(db: impl PgExecutor<'e>, id: Uuid) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_subscriptions SET disabled_at = now() WHERE id = $1 AND disabled_at IS NULL",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a subscription with its deliveries and attempts; true when it existed.
pub async fn delete<'e>(db: impl PgExecutor<'e>, id: Uuid) -> Result<bool> {
    // One statement, so it is atomic on any executor; foreign keys are checked at its end.
    let row = sqlx::query(
        "WITH a AS (DELETE FROM webhook_attempts WHERE delivery_id IN \
                      (SELECT id FROM webhook_deliveries WHERE subscription_id = $1)), \
              d AS (DELETE FROM webhook_deliveries WHERE subscription_id = $1) \
         DELETE FROM webhook_subscriptions WHERE id = $1 RETURNING id",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.is_some())
}

/// Up to `limit` deliveries of a subscription, newest first, each with its attempts, and
/// whether more follow.
pub async fn deliveries<'e>(
    db: impl PgExecutor<'e>,
    subscription_id: Uuid,
    q: &DeliveryQuery,
) -> Result<(Vec<Delivery>, bool)> {
    let rows = sqlx::query(
        "SELECT d.id, d.subscription_id, d.event_id, d.task_id, d.kind, d.payload, d.status, \
                d.attempts, d.next_attempt_at, d.last_error, d.created_at, d.delivered_at, \
                coalesce(a.attempt, '{}') AS a_attempt, coalesce(a.status_code, '{}') AS a_status, \
                coalesce(a.error, '{}') AS a_error, coalesce(a.duration_ms, '{}') AS a_duration, \
                coalesce(a.attempted_at, '{}') AS a_at \
         FROM webhook_deliveries d \
         LEFT JOIN LATERAL ( \
             SELECT array_agg(x.attempt ORDER BY x.attempt) AS attempt, \
                    array_agg(x.status_code ORDER BY x.attempt) AS status_code, \
                    array_agg(x.error ORDER BY x.attempt) AS error, \
                    array_agg(x.duration_ms ORDER BY x.attempt) AS duration_ms, \
                    array_agg(x.attempted_at ORDER BY x.attempt) AS attempted_at \
             FROM webhook_attempts x WHERE x.delivery_id = d.id) a ON true \
         WHERE d.subscription_id = $1 \
           AND ($2::text IS NULL OR d.status = $2) \
           AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3, $4)) \
         ORDER BY d.created_at DESC, d.id DESC LIMIT $5",
    )
    .bind(subscription_id)
    .bind(q.status.map(DeliveryStatus::as_str))
    .bind(q.after.map(|a| a.0))
    .bind(q.after.map(|a| a.1))
    .bind(q.limit.max(0) + 1)
    .fetch_all(db)
    .await?;
    let more = rows.len() as i64 > q.limit.max(0);
    let deliveries = rows
        .iter()
        .take(q.limit.max(0) as usize)
        .map(delivery_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok((deliveries, more))
}

fn delivery_from_row(row: &sqlx::postgres::PgRow) -> Result<Delivery> {
    let status: String = row.try_get("status")?;
    let attempt: Vec<i32> = row.try_get("a_attempt")?;
    let status_code: Vec<Option<i32>> = row.try_get("a_status")?;
    let error: Vec<Option<String>> = row.try_get("a_error")?;
    let duration: Vec<i32> = row.try_get("a_duration")?;
    let at: Vec<OffsetDateTime> = row.try_get("a_at")?;
    let attempt_log = attempt
        .into_iter()
        .zip(status_code)
        .zip(error)
        .zip(duration)
        .zip(at)
        .map(
            |((((attempt, status_code), error), duration_ms), attempted_at)| Attempt {
                attempt,
                status_code,
                error,
                duration_ms,
                attempted_at,
            },
        )
        .collect();
    Ok(Delivery {
        id: row.try_get("id")?,
        subscription_id: row.try_get("subscription_id")?,
        event_id: row.try_get("event_id")?,
        task_id: row.try_get("task_id")?,
        kind: row.try_get("kind")?,
        payload: row.try_get("payload")?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| {
            Error::Database(sqlx::Error::Decode(
                format!("unexpected delivery status {status:?}").into(),
            ))
        })?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        delivered_at: row.try_get("delivered_at")?,
        attempt_log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_urls() {
        for ok in [
            "https://hooks.example.com/kiln",
            "http://127.0.0.1:8080/in?x=1",
            "https://[::1]/h",
        ] {
            validate_url(ok).unwrap_or_else(|e| panic!("{ok} refused: {e}"));
        }
    }

    #[test]
    fn refuses_urls_precisely() {
        assert!(matches!(
            validate_url("ftp://example.com/x"),
            Err(Error::UrlScheme { scheme }) if scheme == "ftp"
        ));
        assert!(matches!(
            validate_url("file:///etc/passwd"),
            Err(Error::UrlScheme { .. })
        ));
        assert!(matches!(
            validate_url("https://user:pw@example.com/"),
            Err(Error::UrlCredentials)
        ));
        assert!(matches!(
            validate_url("https://user@example.com/"),
            Err(Error::UrlCredentials)
        ));
        assert!(matches!(
            validate_url("example.com/hook"),
            Err(Error::UrlUnparsable { .. })
        ));
        assert!(matches!(
            validate_url("http://"),
            Err(Error::UrlUnparsable { .. } | Error::UrlNoHost)
        ));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(matches!(
            validate_url(&long),
            Err(Error::UrlTooLong {
                max: MAX_URL_LEN,
                ..
            })
        ));
    }

    #[test]
    fn credentials_never_reach_the_message() {
        let e = validate_url("https://user:hunter2@example.com/").unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn kinds_are_checked_sorted_and_deduplicated() {
        let kinds = ["deployed", "created", "deployed"].map(String::from);
        assert_eq!(validate_kinds(&kinds).unwrap(), ["created", "deployed"]);
        assert!(matches!(
            validate_kinds(&["Deployed".into()]),
            Err(Error::InvalidKind { kind }) if kind == "Deployed"
        ));
        assert!(matches!(
            validate_kinds(&["a.b".into()]),
            Err(Error::InvalidKind { .. })
        ));
        assert!(matches!(
            validate_kinds(&[String::new()]),
            Err(Error::InvalidKind { .. })
        ));
    }

    #[test]
    fn secrets_are_prefixed_random_hex() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        let hex = a.strip_prefix("whsec_").unwrap();
        assert_eq!(hex.len(), 64);
        assert!(hex.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
