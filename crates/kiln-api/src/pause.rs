//! The kill switch: `PUT /api/v1/system/pause` pauses everything or one project, with a
//! reason, and lifting it resumes every task the pause parked, from where it stopped.
//!
//! The flag is written to Postgres first (the truth every service reads before a side
//! effect), then broadcast on core NATS; the answer lists the workers that acknowledged the
//! broadcast and how long the last one took.

use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use futures::StreamExt;
use kiln_runtime::control::PauseAck;
use kiln_store::audit;
use kiln_store::control::{self, PauseFlag, PauseState};
use kiln_store::people::{self, WaitKind};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::instrument;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{Error, Problem};
use crate::system::SystemState;
use crate::tokens::json_body;

/// How long the API waits for services to acknowledge a pause broadcast.
const REACH_WINDOW: Duration = Duration::from_secs(2);

/// Body of `PUT /api/v1/system/pause`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPause {
    /// True pauses, false resumes.
    pub paused: bool,
    /// Why; required when pausing.
    #[serde(default)]
    pub reason: Option<String>,
    /// One project only; absent means everything.
    #[serde(default)]
    pub project: Option<String>,
}

/// A pause on one project.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectPause {
    pub project: String,
    pub reason: String,
    pub actor: String,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

/// Every pause in force, and who heard the latest change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PauseView {
    /// Whether everything is paused.
    pub paused: bool,
    #[schema(required = true)]
    pub reason: Option<String>,
    #[schema(required = true)]
    pub actor: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(required = true)]
    pub since: Option<OffsetDateTime>,
    /// Paused projects.
    pub projects: Vec<ProjectPause>,
    /// Workers that acknowledged this change (empty on a read).
    pub reached: Vec<String>,
    /// Milliseconds until the last acknowledgement arrived; null on a read or when none did.
    #[schema(required = true)]
    pub reach_ms: Option<u64>,
    /// Tasks put back to work by this resume.
    pub resumed_tasks: u64,
}

fn view(state: PauseState) -> PauseView {
    let (reason, actor, since) = match state.global {
        Some(f) => (Some(f.reason), Some(f.actor), Some(f.since)),
        None => (None, None, None),
    };
    PauseView {
        paused: reason.is_some(),
        reason,
        actor,
        since,
        projects: state
            .projects
            .into_iter()
            .map(|(project, f)| ProjectPause {
                project,
                reason: f.reason,
                actor: f.actor,
                since: f.since,
            })
            .collect(),
        reached: vec![],
        reach_ms: None,
        resumed_tasks: 0,
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/system/pause",
    tag = "system",
    responses((status = 200, description = "Every pause in force", body = PauseView)),
)]
#[instrument(skip_all)]
pub async fn get_pause(State(state): State<SystemState>) -> Result<Json<PauseView>, Error> {
    Ok(Json(view(control::state(&state.ctx.db).await?)))
}

/// Pause or resume everything, or one project.
///
/// Pausing stops every new side effect (model calls, pushes, deploys, external writes); work
/// in flight parks at its next side-effect point with the task `paused`. Resuming puts every
/// parked step back to work.
#[utoipa::path(
    put,
    path = "/api/v1/system/pause",
    tag = "system",
    request_body = SetPause,
    responses(
        (status = 200, description = "The pauses now in force, with who heard the change", body = PauseView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A pause without a reason", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[instrument(skip_all)]
pub async fn set_pause(
    State(state): State<SystemState>,
    Extension(who): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PauseView>, Error> {
    let req: SetPause = json_body(body)?;
    let (resumed, _) = apply(&state.ctx, &who, &req).await?;
    let (reached, reach_ms) = broadcast(&state).await;
    let mut out = view(control::state(&state.ctx.db).await?);
    out.reached = reached;
    out.reach_ms = reach_ms;
    out.resumed_tasks = resumed;
    Ok(Json(out))
}

/// Writes the change, its audit row and (on resume) the parked steps back to the outbox, in
/// one transaction. Returns the tasks resumed and whether anything changed. Chat commands
/// call this too.
pub(crate) async fn apply(
    ctx: &kiln_runtime::Ctx,
    who: &Principal,
    req: &SetPause,
) -> Result<(u64, bool), Error> {
    let project = req.project.as_deref().map(str::trim);
    let mut tx = ctx.db.begin().await?;
    if let Some(p) = project {
        let exists = sqlx::query("SELECT 1 FROM projects WHERE name = $1")
            .bind(p)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(Error::ProjectNotFound(p.to_owned()));
        }
    }
    let target = project.unwrap_or("*").to_owned();
    let mut resumed = 0;
    let changed = if req.paused {
        let reason = req
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| Error::InvalidDecision("a pause needs a reason".into()))?;
        if reason.chars().count() > 500 {
            return Err(Error::InvalidDecision(
                "a pause reason is at most 500 characters".into(),
            ));
        }
        let flag = PauseFlag {
            reason: reason.to_owned(),
            actor: who.name.clone(),
            since: OffsetDateTime::now_utc(),
        };
        let changed = control::pause(&mut *tx, project, &flag).await?;
        if changed {
            audit::append(
                &mut *tx,
                &who.audit("system.pause", &target).reason(Some(reason)),
            )
            .await?;
        }
        changed
    } else {
        let lifted = control::resume(&mut *tx, project).await?;
        if lifted.is_some() {
            for task in people::paused_tasks(&mut tx, project).await? {
                crate::people::resume(ctx, &mut tx, task, WaitKind::Paused).await?;
                resumed += 1;
            }
            audit::append(
                &mut *tx,
                &who.audit("system.resume", &target)
                    .reason(req.reason.as_deref())
                    .detail(serde_json::json!({ "resumed_tasks": resumed })),
            )
            .await?;
        }
        lifted.is_some()
    };
    tx.commit().await?;
    ctx.wake_relay();
    Ok((resumed, changed))
}

/// Tells every service, and collects acknowledgements until every live worker answered or
/// the window closed.
pub(crate) async fn broadcast(state: &SystemState) -> (Vec<String>, Option<u64>) {
    let nats = &state.ctx.nats;
    let expected = state.beats.alive_workers(OffsetDateTime::now_utc()).len();
    let inbox = nats.new_inbox();
    let mut sub = match nats.subscribe(inbox.clone()).await {
        Ok(sub) => sub,
        Err(e) => {
            tracing::warn!(error = %e, "pause acknowledgements not collected");
            return (vec![], None);
        }
    };
    let started = Instant::now();
    if let Err(e) = nats
        .publish_with_reply(state.ctx.subjects.control_pause(), inbox, "{}".into())
        .await
    {
        tracing::warn!(error = %e, "pause not broadcast; services read the flag before each side effect");
        return (vec![], None);
    }
    let _ = nats.flush().await;
    // Done early once every live worker the heartbeats know of, and at least one worker of
    // every service, has answered; otherwise the window decides.
    let mut reached = Vec::new();
    let mut services = std::collections::BTreeSet::new();
    let mut last = None;
    let deadline = tokio::time::Instant::now() + REACH_WINDOW;
    while reached.len() < expected || services.len() < crate::system::SERVICES.len() {
        let next = tokio::time::timeout_at(deadline, sub.next()).await;
        let Ok(Some(msg)) = next else { break };
        if let Ok(ack) = serde_json::from_slice::<PauseAck>(&msg.payload) {
            if crate::system::SERVICES.contains(&ack.service.as_str()) {
                services.insert(ack.service);
            }
            reached.push(ack.worker);
            last = Some(started.elapsed().as_millis() as u64);
        }
    }
    let _ = sub.unsubscribe().await;
    reached.sort();
    tracing::info!(reached = reached.len(), expected, reach_ms = ?last, "pause broadcast acknowledged");
    (reached, last)
}
