//! People's reviews as work: a person who requests changes on a task waiting for its
//! release approval gets a fix round with their words as the errors to fix, and Kiln
//! proposes a lesson for the project's memory from them, kept only once a person approves
//! it. Driven from GitHub (a "request changes" review, `/kiln lesson approve`) and from the
//! API (`/api/v1/projects/{name}/memory/proposals`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use kiln_contracts::{Stage, WorkItem};
use kiln_store::TaskStatus;
use kiln_store::audit;
use kiln_store::auth::Role;
use kiln_store::delivery;
use kiln_store::memory::{self, Proposal};
use kiln_store::people::{self, TaskOptions, WaitKind};
use kiln_store::records::{self, TestError};
use kiln_store::tasks as store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{Error, Problem};

/// The most fix rounds a task may have (the tester's limit).
const MAX_FIX_ROUNDS: u32 = 5;

/// What requesting changes did.
pub(crate) struct ChangesRequested {
    pub round: i32,
    pub proposal: Option<Proposal>,
}

/// `who` asks for changes on task `id`, which waits for its release approval: the
/// feedback becomes the errors of its newest round, codegen makes the next round, and a
/// lesson distilled from the feedback is proposed for the project.
pub(crate) async fn request_changes(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    feedback: &str,
) -> Result<ChangesRequested, Error> {
    who.require(Role::Approver, "requesting changes on a release")?;
    let feedback = feedback.trim();
    if feedback.is_empty() || feedback.chars().count() > 4000 {
        return Err(Error::InvalidDecision(
            "say what should change (1 to 4000 characters)".into(),
        ));
    }
    let llm = state.config.llm.as_ref().filter(|l| l.enabled());
    let Some(llm) = llm else {
        return Err(Error::InvalidDecision(
            "fix rounds need a model; offline mode does not change code (reject the release instead)".into(),
        ));
    };
    let mut tx = state.ctx.db.begin().await?;
    let status = store::lock_task(&mut tx, id)
        .await?
        .ok_or(Error::TaskNotFound(id))?;
    if WaitKind::of_status(status) != Some(WaitKind::ReleaseApproval) {
        return Err(Error::NotWaiting {
            id,
            status,
            action: "request changes",
            waits: "its release approval",
        });
    }
    let task = store::get_task(&mut *tx, id)
        .await?
        .ok_or(Error::TaskNotFound(id))?;
    let last = records::commits(&mut *tx, id)
        .await?
        .into_iter()
        .last()
        .ok_or_else(|| Error::InvalidDecision("the task has no commit to change".into()))?;
    let limit = TaskOptions::of(&task.options)
        .max_fix_rounds
        .unwrap_or(llm.max_fix_rounds)
        .min(MAX_FIX_ROUNDS);
    if last.round as u32 >= limit {
        return Err(Error::InvalidDecision(format!(
            "the task has used its {limit} fix rounds; reject the release and start a new change"
        )));
    }
    people::unpark(&mut tx, id).await?;
    people::record_approval(
        &mut *tx,
        id,
        WaitKind::ReleaseApproval.as_str(),
        "changes_requested",
        &who.name,
        Some(feedback),
    )
    .await?;
    let error = TestError {
        tool: "review".into(),
        command: format!("review by {}", who.name),
        file: None,
        line: None,
        column: None,
        message: format!("a person requested changes: {feedback}"),
    };
    records::append_test_errors(&mut tx, id, last.round, &[error]).await?;
    let lesson = memory::distill(feedback);
    let proposal = if lesson.is_empty() {
        None
    } else {
        let pid = memory::propose(&mut *tx, task.project_id, id, &lesson, &who.name).await?;
        Some(Proposal {
            id: pid,
            task_id: Some(id),
            lesson,
            proposed_from: who.name.clone(),
            status: "proposed".into(),
            decided_by: None,
        })
    };
    let round = last.round + 1;
    store::set_status(
        &mut *tx,
        id,
        TaskStatus::Fixing,
        Some(&format!(
            "{} requested changes; fix round {round}",
            who.name
        )),
    )
    .await?;
    let fix = WorkItem {
        task_id: id.to_string(),
        project: task.project.clone(),
        stage: Stage::Codegen as i32,
        round: round as u32,
        commit: last.sha.clone(),
        branch: task.branch.clone(),
    };
    delivery::enqueue(&mut *tx, &state.ctx.work_message(&fix)).await?;
    audit::append(
        &mut *tx,
        &who.audit("release_approval.changes_requested", id.to_string())
            .task(id)
            .reason(Some(feedback)),
    )
    .await?;
    delivery::enqueue(
        &mut *tx,
        &state.ctx.event_message(
            id,
            "changes_requested",
            TaskStatus::Fixing,
            Stage::Unspecified,
            round,
            feedback,
        ),
    )
    .await?;
    tx.commit().await?;
    state.ctx.wake_relay();
    tracing::info!(task = %id, actor = %who.name, round, "changes requested: fix round");
    Ok(ChangesRequested { round, proposal })
}

/// Keeps or drops an undecided proposal of `project` as `who`; `None` when there is none.
pub(crate) async fn decide_lesson(
    state: &AppState,
    who: &Principal,
    project_id: Uuid,
    proposal: Uuid,
    keep: bool,
) -> Result<Option<Proposal>, Error> {
    who.require(Role::Approver, "deciding on a proposed lesson")?;
    let mut tx = state.ctx.db.begin().await?;
    let decided = memory::decide(&mut tx, project_id, proposal, keep, &who.name).await?;
    if let Some(p) = &decided {
        let action = if keep {
            "memory.lesson_kept"
        } else {
            "memory.lesson_dropped"
        };
        audit::append(
            &mut *tx,
            &who.audit(action, proposal.to_string())
                .detail(serde_json::json!({ "lesson": p.lesson, "task": p.task_id })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(decided)
}

/// A project's proposed lessons, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposalList {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Proposal>,
}

/// Body of a decision on a proposed lesson.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LessonDecision {
    /// True keeps it in the project's memory; false drops it.
    pub keep: bool,
}

async fn project_id(state: &AppState, name: &str) -> Result<Uuid, Error> {
    store::get_project(&state.ctx.db, name)
        .await?
        .map(|p| p.id)
        .ok_or_else(|| Error::ProjectNotFound(name.to_owned()))
}

/// List the lessons Kiln proposed from people's reviews.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/memory/proposals",
    tag = "catalog",
    params(("name" = String, Path, description = "Project name")),
    responses(
        (status = 200, description = "Proposed, kept and dropped lessons, newest first", body = ProposalList),
        (status = 404, description = "No such project", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_proposals(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ProposalList>, Error> {
    let id = project_id(&state, &name).await?;
    Ok(Json(ProposalList {
        items: memory::proposals(&state.ctx.db, id).await?,
    }))
}

/// Keep or drop a proposed lesson.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{name}/memory/proposals/{id}",
    tag = "catalog",
    params(("name" = String, Path, description = "Project name"), ("id" = Uuid, Path, description = "Proposal id")),
    request_body = LessonDecision,
    responses(
        (status = 200, description = "Decided (a kept lesson joins the project's memory)", body = Object),
        (status = 400, description = "Malformed body or id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or no undecided proposal with that id in it", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn decide_proposal(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    path: Result<Path<(String, String)>, PathRejection>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Proposal>, Error> {
    let Path((name, raw_id)) = path.map_err(|e| Error::InvalidPath(e.body_text()))?;
    let id = Uuid::parse_str(&raw_id)
        .map_err(|_| Error::InvalidPath(format!("proposal id {raw_id:?} is not a UUID")))?;
    let body: LessonDecision = crate::tokens::json_body(raw)?;
    let project = project_id(&state, &name).await?;
    decide_lesson(&state, &who, project, id, body.keep)
        .await?
        .map(Json)
        .ok_or(Error::LessonNotFound(id))
}
