//! The audit trail: every critical action, who did it, from where, to what and why.
//!
//! Rows are hash-chained by the database itself (`kiln_audit_chain` in
//! `migrations/0004_control_plane.sql`): each row's hash covers its fields and the previous
//! row's hash, so [`verify`] finds a row edited or deleted after the fact. Appending needs no
//! cooperation from callers beyond inserting.

use sqlx::{PgExecutor, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Result;

/// Where an action came from.
pub mod source {
    pub const API: &str = "api";
    pub const DASHBOARD: &str = "dashboard";
    pub const CLI: &str = "cli";
    pub const TELEGRAM: &str = "telegram";
    pub const DISCORD: &str = "discord";
    pub const JIRA: &str = "jira";
    pub const GITHUB: &str = "github";
    /// A Kiln service acting on its own (a deployment, a rollback).
    pub const SYSTEM: &str = "system";
}

/// One action to record.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub task_id: Option<Uuid>,
    /// Token name, chat user (`telegram:1234`) or service.
    pub actor: String,
    pub source: String,
    /// What was done: `task.create`, `release.approve`, `system.pause`, ...
    pub action: String,
    /// What it was done to: a task id, a project, a token name.
    pub target: String,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub detail: serde_json::Value,
}

impl Entry {
    pub fn new(actor: &str, source: &str, action: &str, target: impl Into<String>) -> Self {
        Self {
            actor: actor.to_owned(),
            source: source.to_owned(),
            action: action.to_owned(),
            target: target.into(),
            detail: serde_json::json!({}),
            ..Self::default()
        }
    }

    pub fn task(mut self, id: Uuid) -> Self {
        self.task_id = Some(id);
        self
    }

    pub fn reason(mut self, reason: Option<&str>) -> Self {
        self.reason = reason.map(str::to_owned);
        self
    }

    pub fn request(mut self, id: Option<&str>) -> Self {
        self.request_id = id.map(str::to_owned);
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Appends an entry. Inside a transaction, the entry lands with the action or not at all.
pub async fn append<'e>(db: impl PgExecutor<'e>, e: &Entry) -> Result<()> {
    let detail = if e.detail.is_null() {
        serde_json::json!({})
    } else {
        e.detail.clone()
    };
    sqlx::query(
        "INSERT INTO audit_log (task_id, actor, source, action, target, reason, request_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(e.task_id)
    .bind(&e.actor)
    .bind(&e.source)
    .bind(&e.action)
    .bind(&e.target)
    .bind(&e.reason)
    .bind(&e.request_id)
    .bind(detail)
    .execute(db)
    .await?;
    Ok(())
}

/// A recorded entry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Record {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub source: String,
    pub action: String,
    pub target: String,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub task_id: Option<Uuid>,
    pub detail: serde_json::Value,
}

/// Filters of [`list`]; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: Option<String>,
    /// Exact action, or a prefix ending in `.` (`release.` matches every release action).
    pub action: Option<String>,
    pub source: Option<String>,
    pub task_id: Option<Uuid>,
    /// Entries older than this id (the cursor of the previous page).
    pub before: Option<i64>,
    pub limit: i64,
}

/// Entries newest first; the bool says whether more match.
pub async fn list<'e>(db: impl PgExecutor<'e>, f: &Filter) -> Result<(Vec<Record>, bool)> {
    let rows = sqlx::query(
        "SELECT id, at, actor, source, action, target, reason, request_id, task_id, detail \
         FROM audit_log WHERE ($1::text IS NULL OR actor = $1) \
         AND ($2::text IS NULL OR action = $2 OR (right($2, 1) = '.' AND starts_with(action, $2))) \
         AND ($3::text IS NULL OR source = $3) AND ($4::uuid IS NULL OR task_id = $4) \
         AND ($5::bigint IS NULL OR id < $5) ORDER BY id DESC LIMIT $6",
    )
    .bind(&f.actor)
    .bind(&f.action)
    .bind(&f.source)
    .bind(f.task_id)
    .bind(f.before)
    .bind(f.limit + 1)
    .fetch_all(db)
    .await?;
    let more = rows.len() as i64 > f.limit;
    let records = rows
        .iter()
        .take(f.limit as usize)
        .map(|r| {
            Ok(Record {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                source: r.try_get("source")?,
                action: r.try_get("action")?,
                target: r.try_get("target")?,
                reason: r.try_get("reason")?,
                request_id: r.try_get("request_id")?,
                task_id: r.try_get("task_id")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((records, more))
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    /// Rows checked.
    pub rows: u64,
    /// The first row whose hash or link does not hold, with what is wrong.
    pub broken: Option<(i64, String)>,
    /// The hash of the newest row (hex): record it elsewhere to detect removal of the newest
    /// rows, which a chain alone cannot show.
    pub head: Option<String>,
}

/// Walks the whole chain: every row's hash must be what its fields and its predecessor's
/// hash give, and every row must link to the row before it.
pub async fn verify(conn: &mut sqlx::PgConnection) -> Result<Verification> {
    use futures::StreamExt as _;
    let mut rows = sqlx::query(
        "SELECT id, hash, prev_hash, kiln_audit_hash(id, task_id, actor, source, action, target, \
         reason, request_id, detail, at, prev_hash) AS expected FROM audit_log ORDER BY id",
    )
    .fetch(&mut *conn);
    let mut out = Verification {
        rows: 0,
        broken: None,
        head: None,
    };
    let mut prev: Option<Vec<u8>> = None;
    while let Some(row) = rows.next().await {
        let row = row?;
        let id: i64 = row.try_get("id")?;
        let hash: Option<Vec<u8>> = row.try_get("hash")?;
        let link: Option<Vec<u8>> = row.try_get("prev_hash")?;
        let expected: Vec<u8> = row.try_get("expected")?;
        out.rows += 1;
        if out.broken.is_none() {
            if link != prev {
                let what = if prev.is_none() {
                    "the first row links to a row that is not there".to_owned()
                } else {
                    "does not link to the row before it: a row was removed or reordered".to_owned()
                };
                out.broken = Some((id, what));
            } else if hash.as_deref() != Some(expected.as_slice()) {
                out.broken = Some((
                    id,
                    "its contents do not match its hash: the row was changed".to_owned(),
                ));
            }
        }
        prev = hash;
    }
    out.head = prev.map(hex::encode);
    Ok(out)
}
