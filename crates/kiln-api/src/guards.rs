//! Write guards: `PUT /api/v1/system/guards` switches one kind of external write off (or
//! back on), everywhere or for one project. While `github_writes` is off Kiln writes nothing
//! to GitHub and records, per task, what it would have written (`github_withheld`). The rest
//! of Kiln keeps working; unlike the kill switch, nothing parks.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use kiln_store::audit;
use kiln_store::control::{self, GUARDS, PauseFlag};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::instrument;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{Error, Problem};
use crate::system::SystemState;
use crate::tokens::json_body;

/// Body of `PUT /api/v1/system/guards`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetGuard {
    /// `github_writes` (every write to GitHub) or `auto_merge` (merges Kiln makes itself).
    pub guard: String,
    /// False switches the writes off, true back on.
    pub enabled: bool,
    /// Why; required when switching off.
    #[serde(default)]
    pub reason: Option<String>,
    /// One project only; absent means everywhere.
    #[serde(default)]
    pub project: Option<String>,
}

/// A guard that is off.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GuardOff {
    pub guard: String,
    /// The project, or null when it is off everywhere.
    #[schema(required = true)]
    pub project: Option<String>,
    pub reason: String,
    pub actor: String,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

/// Every guard that is off (a guard not listed is on).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GuardsView {
    pub guards: Vec<String>,
    pub off: Vec<GuardOff>,
}

async fn view(db: &sqlx::PgPool) -> Result<GuardsView, Error> {
    let off = control::guards_off(db)
        .await?
        .into_iter()
        .map(|(guard, project, f)| GuardOff {
            guard,
            project,
            reason: f.reason,
            actor: f.actor,
            since: f.since,
        })
        .collect();
    Ok(GuardsView {
        guards: GUARDS.iter().map(|g| (*g).to_owned()).collect(),
        off,
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/system/guards",
    tag = "system",
    responses((status = 200, description = "The write guards and which are off", body = GuardsView)),
)]
#[instrument(skip_all)]
pub async fn get_guards(State(state): State<SystemState>) -> Result<Json<GuardsView>, Error> {
    Ok(Json(view(&state.ctx.db).await?))
}

/// Switch a write guard off or on, everywhere or for one project.
#[utoipa::path(
    put,
    path = "/api/v1/system/guards",
    tag = "system",
    request_body = SetGuard,
    responses(
        (status = 200, description = "The guards now", body = GuardsView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown guard, or switching off without a reason", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[instrument(skip_all)]
pub async fn set_guard(
    State(state): State<SystemState>,
    Extension(who): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<GuardsView>, Error> {
    let req: SetGuard = json_body(body)?;
    if !GUARDS.contains(&req.guard.as_str()) {
        return Err(Error::InvalidDecision(format!(
            "unknown guard {:?}; the guards are {}",
            req.guard,
            GUARDS.join(", ")
        )));
    }
    let project = req.project.as_deref().map(str::trim);
    let mut tx = state.ctx.db.begin().await?;
    if let Some(p) = project
        && sqlx::query("SELECT 1 FROM projects WHERE name = $1")
            .bind(p)
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
    {
        return Err(Error::ProjectNotFound(p.to_owned()));
    }
    let target = format!("{}:{}", req.guard, project.unwrap_or("*"));
    let flag = if req.enabled {
        None
    } else {
        let reason = req
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty() && r.chars().count() <= 500)
            .ok_or_else(|| {
                Error::InvalidDecision(
                    "switching a guard off needs a reason of 1 to 500 characters".into(),
                )
            })?;
        Some(PauseFlag {
            reason: reason.to_owned(),
            actor: who.name.clone(),
            since: OffsetDateTime::now_utc(),
        })
    };
    if control::set_guard(&mut *tx, &req.guard, project, flag.as_ref()).await? {
        let action = if req.enabled { "guard.on" } else { "guard.off" };
        audit::append(
            &mut *tx,
            &who.audit(action, &target)
                .reason(flag.as_ref().map(|f| f.reason.as_str())),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(view(&state.ctx.db).await?))
}
