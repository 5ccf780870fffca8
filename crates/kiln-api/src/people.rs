//! People in the loop: approving or rejecting what a task waits for, answering its
//! clarifying questions, and overriding a blocked release. Every decision is recorded with
//! who made it and why, and resumes the task by putting its parked step back in the outbox
//! in the same transaction.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use kiln_contracts::headers as h;
use kiln_contracts::{Stage, WorkItem};
use kiln_store::TaskStatus;
use kiln_store::audit;
use kiln_store::auth::Role;
use kiln_store::delivery;
use kiln_store::people::{self, BudgetOptions, TaskOptions, WaitKind};
use kiln_store::records::{self, GateDecision, Reason};
use kiln_store::tasks as store;
use serde::Deserialize;
use sqlx::PgConnection;
use tracing::{field, instrument};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Principal;
use crate::error::Error;
use crate::model::TaskDetail;
use crate::tasks::{budget_defaults, load_detail, task_id};

/// Body of `POST /api/v1/tasks/{id}/approve`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// Deprecated and not recorded: the decision is recorded under the caller's token name.
    #[serde(default)]
    pub actor: Option<String>,
    /// Why; required to override a blocked release.
    #[serde(default)]
    pub reason: Option<String>,
    /// Raised limits; required to resume a task paused by its budget.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub budget: Option<BudgetOptions>,
}

/// Body of `POST /api/v1/tasks/{id}/reject`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    #[serde(default)]
    pub actor: Option<String>,
    /// What should change; a rejected plan is re-planned with it.
    pub feedback: String,
}

/// One answer to a clarifying question.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub id: Uuid,
    pub answer: String,
}

/// Body of `POST /api/v1/tasks/{id}/answers`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswersRequest {
    pub answers: Vec<Answer>,
}

fn body<T: serde::de::DeserializeOwned>(raw: Result<Bytes, BytesRejection>) -> Result<T, Error> {
    let raw = raw.map_err(|e| Error::BodyUnreadable(e.body_text()))?;
    let raw: &[u8] = if raw.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &raw
    };
    let value: serde_json::Value =
        serde_json::from_slice(raw).map_err(|e| Error::MalformedJson(e.to_string()))?;
    serde_json::from_value(value).map_err(|e| Error::InvalidBody(e.to_string()))
}

fn actor(raw: &Option<String>) -> Result<String, Error> {
    let a = raw.as_deref().map(str::trim).unwrap_or("anonymous");
    if a.is_empty() || a.chars().count() > 100 || a.chars().any(char::is_control) {
        return Err(Error::InvalidDecision(
            "actor must be 1 to 100 visible characters".into(),
        ));
    }
    Ok(a.to_owned())
}

/// The status a resumed step puts the task in, from the stage its subject names.
fn resumed_status(subject: &str) -> TaskStatus {
    match subject.rsplit('.').next() {
        Some("plan") => TaskStatus::Planning,
        Some("codegen") => TaskStatus::Generating,
        Some("test") => TaskStatus::Testing,
        Some("review") => TaskStatus::Reviewing,
        Some("gate") => TaskStatus::Gating,
        _ => TaskStatus::Deploying,
    }
}

/// Puts the parked step back in the outbox with a fresh message id.
pub(crate) async fn resume(
    ctx: &kiln_runtime::Ctx,
    tx: &mut PgConnection,
    id: Uuid,
    expect: WaitKind,
) -> Result<TaskStatus, Error> {
    let parked = people::unpark(tx, id)
        .await?
        .filter(|p| p.kind == expect)
        .ok_or_else(|| {
            Error::InvalidDecision(format!(
                "task {id} has no step waiting for {}",
                expect.as_str()
            ))
        })?;
    let status = resumed_status(&parked.subject);
    let task = id.to_string();
    let msg = kiln_runtime::envelope::raw(
        parked.subject,
        h::types::WORK,
        "api",
        Some(&task),
        parked.payload,
    );
    delivery::enqueue(&mut *tx, &msg).await?;
    store::set_status(&mut *tx, id, status, None).await?;
    delivery::enqueue(
        &mut *tx,
        &ctx.event_message(
            id,
            "resumed",
            status,
            Stage::Unspecified,
            0,
            "resumed by a person",
        ),
    )
    .await?;
    Ok(status)
}

async fn finish(
    state: &AppState,
    id: Uuid,
    tx: sqlx::Transaction<'_, sqlx::Postgres>,
) -> Result<TaskDetail, Error> {
    tx.commit().await?;
    state.ctx.wake_relay();
    load_detail(&state.ctx.db, id, budget_defaults(state))
        .await?
        .ok_or(Error::TaskNotFound(id))
}

/// Approve what the task waits for (plan, release, raised budget), or override a block.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/approve",
    tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    request_body = ApproveRequest,
    responses(
        (status = 200, description = "Approved; the task resumed", body = TaskDetail),
        (status = 404, description = "No such task", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The task waits for nothing to approve", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing reason or budget", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(task_id = field::Empty))]
pub async fn approve(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<TaskDetail>, Error> {
    let id = task_id(path)?;
    let req: ApproveRequest = body(raw)?;
    if let Some(a) = &req.actor {
        actor(&Some(a.clone()))?;
    }
    approve_task(&state, &who, id, &req).await.map(Json)
}

/// Releasing (approving a release, overriding the gate) needs an approver who, unless the
/// installation allows it, is not the person who asked for the task.
async fn may_release(
    state: &AppState,
    tx: &mut PgConnection,
    who: &Principal,
    id: Uuid,
    what: &str,
) -> Result<(), Error> {
    who.require(Role::Approver, what)?;
    let requested_by: String = sqlx::query_scalar("SELECT requested_by FROM tasks WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    if requested_by == who.name && !state.config.allow_self_approval {
        return Err(Error::Forbidden(format!(
            "{what}: {:?} requested this task and may not release it; another approver must \
             (or set [api] allow_self_approval)",
            who.name
        )));
    }
    Ok(())
}

fn paused_error(id: Uuid, action: &'static str) -> Error {
    Error::NotWaiting {
        id,
        status: TaskStatus::Paused,
        action,
        waits: "a person; it is parked by the kill switch (lift it with PUT /api/v1/system/pause)",
    }
}

/// Approves what the task waits for, as `who`: the operation behind the HTTP route and the
/// chat commands.
pub(crate) async fn approve_task(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    req: &ApproveRequest,
) -> Result<TaskDetail, Error> {
    let reason = req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let mut tx = state.ctx.db.begin().await?;
    let status = store::lock_task(&mut tx, id)
        .await?
        .ok_or(Error::TaskNotFound(id))?;
    let kind = match WaitKind::of_status(status) {
        _ if status == TaskStatus::Blocked => {
            may_release(state, &mut tx, who, id, "overriding the gate").await?;
            return override_block(state, tx, id, who, reason).await;
        }
        Some(WaitKind::Paused) => return Err(paused_error(id, "approve")),
        Some(kind) if kind != WaitKind::Clarification => kind,
        _ => {
            return Err(Error::NotWaiting {
                id,
                status,
                action: "approve",
                waits: "a plan, release or budget approval, or is blocked",
            });
        }
    };
    if kind == WaitKind::ReleaseApproval {
        may_release(state, &mut tx, who, id, "approving a release").await?;
    }
    if kind == WaitKind::BudgetApproval {
        let raised = req.budget.clone().ok_or_else(|| {
            Error::InvalidDecision("resuming a task paused by its budget needs \"budget\" with at least one raised limit".into())
        })?;
        let task = store::get_task(&mut *tx, id)
            .await?
            .ok_or(Error::TaskNotFound(id))?;
        let mut options = TaskOptions::of(&task.options);
        let mut budget = options.budget.clone().unwrap_or_default();
        if raised == BudgetOptions::default() {
            return Err(Error::InvalidDecision(
                "\"budget\" must raise at least one of max_tokens, max_cost_usd, max_calls".into(),
            ));
        }
        budget.max_tokens = raised.max_tokens.or(budget.max_tokens);
        budget.max_cost_usd = raised.max_cost_usd.or(budget.max_cost_usd);
        budget.max_calls = raised.max_calls.or(budget.max_calls);
        options.budget = Some(budget);
        people::set_options(&mut *tx, id, &options).await?;
    }
    people::record_approval(&mut *tx, id, kind.as_str(), "approve", &who.name, reason).await?;
    audit::append(
        &mut *tx,
        &who.audit(&format!("{}.approve", kind.as_str()), id.to_string())
            .task(id)
            .reason(reason),
    )
    .await?;
    let resumed = resume(&state.ctx, &mut tx, id, kind).await?;
    tracing::info!(kind = kind.as_str(), actor = %who.name, status = %resumed, "approved");
    finish(state, id, tx).await
}

/// A person overrides the gate: recorded as a decision of its own, then the task deploys.
async fn override_block(
    state: &AppState,
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    id: Uuid,
    principal: &Principal,
    reason: Option<&str>,
) -> Result<TaskDetail, Error> {
    let who = principal.name.as_str();
    let why = reason.ok_or_else(|| {
        Error::InvalidDecision("overriding a blocked release needs a \"reason\"".into())
    })?;
    let task = store::get_task(&mut *tx, id)
        .await?
        .ok_or(Error::TaskNotFound(id))?;
    let commit = records::commits(&mut *tx, id)
        .await?
        .into_iter()
        .last()
        .ok_or_else(|| {
            Error::InvalidDecision(
                "the task was blocked before any code existed; nothing to release".into(),
            )
        })?;
    let previous = records::gate_decision(&mut *tx, id).await?;
    let mut reasons = vec![Reason {
        code: "override".into(),
        kind: "info".into(),
        message: format!("{who} overrode the gate: {why}"),
    }];
    reasons.extend(
        previous
            .into_iter()
            .flat_map(|d| d.reasons)
            .filter(|r| r.kind == "hard")
            .map(|r| Reason {
                kind: "info".into(),
                message: format!("overridden: {}", r.message),
                ..r
            }),
    );
    records::insert_gate_decision(
        &mut *tx,
        id,
        &GateDecision {
            round: commit.round,
            decision: "approved".into(),
            reasons,
            decided_by: format!("person:{who}"),
        },
    )
    .await?;
    people::record_approval(&mut *tx, id, "gate_override", "approve", who, Some(why)).await?;
    audit::append(
        &mut *tx,
        &principal
            .audit("gate.override", id.to_string())
            .task(id)
            .reason(Some(why)),
    )
    .await?;
    if !store::reopen_blocked(&mut *tx, id, TaskStatus::Deploying).await? {
        return Err(Error::NotWaiting {
            id,
            status: task.status,
            action: "override",
            waits: "a blocked release",
        });
    }
    let deploy = WorkItem {
        task_id: id.to_string(),
        project: task.project.clone(),
        stage: Stage::Deploy as i32,
        round: commit.round as u32,
        commit: commit.sha,
        branch: commit.branch,
    };
    delivery::enqueue(&mut *tx, &state.ctx.work_message(&deploy)).await?;
    delivery::enqueue(
        &mut *tx,
        &state.ctx.event_message(
            id,
            "overridden",
            TaskStatus::Deploying,
            Stage::Gate,
            commit.round,
            why,
        ),
    )
    .await?;
    tracing::info!(actor = %who, "gate overridden");
    finish(state, id, tx).await
}

/// Reject what the task waits for; a rejected plan is re-planned with the feedback.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/reject",
    tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    request_body = RejectRequest,
    responses(
        (status = 200, description = "Rejected", body = TaskDetail),
        (status = 404, description = "No such task", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The task waits for no decision", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing feedback", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(task_id = field::Empty))]
pub async fn reject(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<TaskDetail>, Error> {
    let id = task_id(path)?;
    let req: RejectRequest = body(raw)?;
    if let Some(a) = &req.actor {
        actor(&Some(a.clone()))?;
    }
    reject_task(&state, &principal, id, &req.feedback)
        .await
        .map(Json)
}

/// Rejects what the task waits for, as `principal`.
pub(crate) async fn reject_task(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    feedback: &str,
) -> Result<TaskDetail, Error> {
    let who = principal.name.clone();
    let feedback = feedback.trim();
    if feedback.is_empty() || feedback.chars().count() > 4000 {
        return Err(Error::InvalidDecision(
            "feedback must be 1 to 4000 characters saying what should change".into(),
        ));
    }
    let mut tx = state.ctx.db.begin().await?;
    let status = store::lock_task(&mut tx, id)
        .await?
        .ok_or(Error::TaskNotFound(id))?;
    let Some(kind) = WaitKind::of_status(status) else {
        return Err(Error::NotWaiting {
            id,
            status,
            action: "reject",
            waits: "a person's decision",
        });
    };
    if kind == WaitKind::Paused {
        return Err(paused_error(id, "reject"));
    }
    if kind == WaitKind::ReleaseApproval {
        principal.require(Role::Approver, "rejecting a release")?;
    }
    people::unpark(&mut tx, id).await?;
    people::record_approval(&mut *tx, id, kind.as_str(), "reject", &who, Some(feedback)).await?;
    audit::append(
        &mut *tx,
        &principal
            .audit(&format!("{}.reject", kind.as_str()), id.to_string())
            .task(id)
            .reason(Some(feedback)),
    )
    .await?;
    let (next, reason) = match kind {
        WaitKind::PlanApproval => {
            let task = store::get_task(&mut *tx, id)
                .await?
                .ok_or(Error::TaskNotFound(id))?;
            let plan = WorkItem {
                task_id: id.to_string(),
                project: task.project,
                stage: Stage::Plan as i32,
                round: 0,
                commit: String::new(),
                branch: task.branch,
            };
            delivery::enqueue(&mut *tx, &state.ctx.work_message(&plan)).await?;
            (TaskStatus::Planning, None)
        }
        WaitKind::ReleaseApproval => (
            TaskStatus::Blocked,
            Some(format!("{who} rejected the release: {feedback}")),
        ),
        WaitKind::BudgetApproval => (
            TaskStatus::Cancelled,
            Some(format!("{who} declined to raise the budget: {feedback}")),
        ),
        WaitKind::Clarification => (
            TaskStatus::Cancelled,
            Some(format!("{who} declined to answer: {feedback}")),
        ),
        WaitKind::Paused => unreachable!("refused above"),
    };
    store::set_status(&mut *tx, id, next, reason.as_deref()).await?;
    if next.is_terminal() {
        let project_id = store::get_task(&mut *tx, id)
            .await?
            .ok_or(Error::TaskNotFound(id))?
            .project_id;
        let lessons = kiln_store::memory::derive(&mut tx, id).await?;
        kiln_store::memory::remember(&mut tx, project_id, Some(id), &lessons).await?;
    }
    delivery::enqueue(
        &mut *tx,
        &state
            .ctx
            .event_message(id, "rejected", next, Stage::Unspecified, 0, feedback),
    )
    .await?;
    tracing::info!(kind = kind.as_str(), actor = %who, "rejected");
    finish(state, id, tx).await
}

/// Answer the task's clarifying questions; planning resumes with the answers.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/answers",
    tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    request_body = AnswersRequest,
    responses(
        (status = 200, description = "Answered; planning resumed", body = TaskDetail),
        (status = 404, description = "No such task", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The task asks no questions", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or unknown answers", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(task_id = field::Empty))]
pub async fn answers(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<TaskDetail>, Error> {
    let id = task_id(path)?;
    let req: AnswersRequest = body(raw)?;
    answer_task(&state, &principal, id, &req).await.map(Json)
}

/// Answers the task's open questions, as `principal`.
pub(crate) async fn answer_task(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    req: &AnswersRequest,
) -> Result<TaskDetail, Error> {
    let mut tx = state.ctx.db.begin().await?;
    let status = store::lock_task(&mut tx, id)
        .await?
        .ok_or(Error::TaskNotFound(id))?;
    if status != TaskStatus::AwaitingClarification {
        return Err(Error::NotWaiting {
            id,
            status,
            action: "answers",
            waits: "answers to clarifying questions",
        });
    }
    let open: Vec<Uuid> = people::clarifications(&mut *tx, id)
        .await?
        .into_iter()
        .filter(|c| c.answer.is_none())
        .map(|c| c.id)
        .collect();
    for a in &req.answers {
        if !open.contains(&a.id) {
            return Err(Error::InvalidDecision(format!(
                "{} is not an open question of this task",
                a.id
            )));
        }
        let text = a.answer.trim();
        if text.is_empty() || text.chars().count() > 4000 {
            return Err(Error::InvalidDecision(format!(
                "the answer to {} must be 1 to 4000 characters",
                a.id
            )));
        }
        people::answer(&mut tx, id, a.id, text).await?;
    }
    let missing: Vec<String> = open
        .iter()
        .filter(|q| !req.answers.iter().any(|a| a.id == **q))
        .map(Uuid::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(Error::InvalidDecision(format!(
            "every open question needs an answer; missing: {}",
            missing.join(", ")
        )));
    }
    audit::append(
        &mut *tx,
        &principal
            .audit("task.answer", id.to_string())
            .task(id)
            .detail(serde_json::json!({ "answers": req.answers.len() })),
    )
    .await?;
    resume(&state.ctx, &mut tx, id, WaitKind::Clarification).await?;
    finish(state, id, tx).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumed_steps_put_the_task_in_their_stage_status() {
        assert_eq!(resumed_status("kiln.work.plan"), TaskStatus::Planning);
        assert_eq!(resumed_status("t1.work.codegen"), TaskStatus::Generating);
        assert_eq!(resumed_status("kiln.work.deploy"), TaskStatus::Deploying);
    }

    #[test]
    fn actors_are_checked() {
        assert_eq!(actor(&None).unwrap(), "anonymous");
        assert_eq!(actor(&Some(" ada ".into())).unwrap(), "ada");
        assert!(actor(&Some("".into())).is_err());
        assert!(actor(&Some("a\nb".into())).is_err());
    }
}
