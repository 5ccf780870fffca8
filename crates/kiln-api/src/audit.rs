//! `GET /api/v1/audit`: the audit trail, newest first, filtered by actor, action, source or
//! task, with cursor pagination.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use kiln_store::audit::{self, Filter, Record};
use serde::{Deserialize, Serialize};
use tracing::instrument;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::error::{Error, Problem};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Token name or chat user.
    pub actor: Option<String>,
    /// Exact action (`release.approve`) or a prefix ending in `.` (`release.`).
    pub action: Option<String>,
    /// `api`, `dashboard`, `cli`, `telegram`, `discord`, `jira`, `github` or `system`.
    pub source: Option<String>,
    pub task_id: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 500, default 50.
    pub limit: Option<i64>,
}

/// One recorded action.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryView {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
    pub actor: String,
    pub source: String,
    pub action: String,
    pub target: String,
    #[schema(required = true)]
    pub reason: Option<String>,
    #[schema(required = true)]
    pub request_id: Option<String>,
    #[schema(required = true)]
    pub task_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<Record> for AuditEntryView {
    fn from(r: Record) -> Self {
        Self {
            id: r.id,
            at: r.at,
            actor: r.actor,
            source: r.source,
            action: r.action,
            target: r.target,
            reason: r.reason,
            request_id: r.request_id,
            task_id: r.task_id,
            detail: r.detail,
        }
    }
}

/// One page of the audit trail.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntryView>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "list_audit",
    tag = "access",
    params(AuditQuery),
    responses(
        (status = 200, description = "Audit entries, newest first", body = AuditPage),
        (status = 400, description = "Bad filter, cursor or limit", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditPage>, Error> {
    let Query(q) = query.map_err(|e| Error::InvalidQuery(e.body_text()))?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::InvalidQuery(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {limit}"
        )));
    }
    let before = q
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                Error::InvalidQuery(format!("cursor {c:?} is not a cursor from this API"))
            })
        })
        .transpose()?;
    let task_id = q
        .task_id
        .as_deref()
        .map(|t| Uuid::parse_str(t).map_err(|_| Error::InvalidTaskId(t.to_owned())))
        .transpose()?;
    let empty_is_none = |v: Option<String>| v.filter(|s| !s.is_empty());
    let filter = Filter {
        actor: empty_is_none(q.actor),
        action: empty_is_none(q.action),
        source: empty_is_none(q.source),
        task_id,
        before,
        limit,
    };
    let (records, more) = audit::list(&state.ctx.db, &filter).await?;
    let next_cursor = more
        .then(|| records.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(Json(AuditPage {
        items: records.into_iter().map(AuditEntryView::from).collect(),
        next_cursor,
    }))
}
