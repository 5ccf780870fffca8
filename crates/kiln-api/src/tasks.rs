//! Task endpoints: create (validated at the edge, idempotent, stored with its outbox rows in
//! one transaction), list with cursor pagination, read with every stage record, and cancel.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kiln_contracts::{Stage, WorkItem};
use kiln_store::TaskStatus;
use kiln_store::audit;
use kiln_store::delivery;
use kiln_store::records;
use kiln_store::tasks::{self as store, NewTask, TaskQuery};
use sqlx::PgPool;
use tracing::{field, instrument};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{Error, Problem};
use crate::model::{
    CreateTask, DeploymentView, ListTasksQuery, LlmUsage, TaskDetail, TaskKind, TaskList,
    TaskSummary,
};
use crate::validate::{self, NewApp};
use crate::{AppState, cursor, idempotency, queries};

/// Header carrying the client's idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Response header set when a response replays an earlier request.
pub const IDEMPOTENCY_REPLAYED: &str = "idempotency-replayed";

const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;

/// Create a task.
///
/// Validates the request, then stores the task, its audit entry and its first work item in one
/// transaction. With an `Idempotency-Key`, repeating the same request returns the same task.
#[utoipa::path(
    post,
    path = "/api/v1/tasks",
    tag = "tasks",
    request_body = CreateTask,
    params(
        ("Idempotency-Key" = Option<String>, Header,
         description = "1 to 200 visible ASCII characters; a retry with the same key and body returns the same task"),
    ),
    responses(
        (status = 202, description = "Task accepted and queued", body = TaskDetail,
         headers(
            ("Location" = String, description = "URL of the task"),
            ("Idempotency-Replayed" = String, description = "`true` when this replays an earlier request"),
         )),
        (status = 400, description = "Malformed JSON, wrong types or a bad Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A project with this name exists", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule, or the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "This token created too many tasks in the last minute", body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = String, description = "Seconds until the token may create a task again"))),
    )
)]
#[instrument(skip_all, fields(task_id = field::Empty, project = field::Empty))]
pub async fn create_task(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .map(|v| idempotency::validate_key(v.as_bytes()).map(str::to_owned))
        .transpose()?;
    check_content_type(&headers)?;
    let body = body.map_err(|rejection| body_error(rejection, state.config.max_body_bytes))?;
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| Error::MalformedJson(e.to_string()))?;
    if !value.is_object() {
        // serde would read an array positionally into the struct; the API speaks objects.
        return Err(Error::InvalidBody(format!(
            "expected a JSON object, got {}",
            crate::validate::json_type(&value)
        )));
    }
    let request: CreateTask = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            Error::InvalidBody(e.to_string())
        } else {
            Error::MalformedJson(e.to_string())
        }
    })?;
    let llm_enabled = state.config.llm.as_ref().is_some_and(|l| l.enabled());
    let app = validate::request(
        request,
        &state.catalog,
        state.config.max_brief_chars,
        llm_enabled,
    )?;
    tracing::Span::current().record("project", app.name.as_str());
    let claim = key.map(|key| {
        let hash = idempotency::request_hash(&value);
        (key, hash)
    });

    let (detail, replayed) = create(&state, &who, app, claim).await?;
    Ok(accepted(detail, replayed))
}

/// Stores a validated task as `who` (the operation behind `POST /api/v1/tasks` and the chat
/// commands) and returns it, with whether it replays an earlier request with the same
/// idempotency claim. Rate limits are the caller's to apply.
pub(crate) async fn create(
    state: &AppState,
    who: &Principal,
    app: NewApp,
    claim: Option<(String, String)>,
) -> Result<(TaskDetail, bool), Error> {
    if let Some((key, hash)) = &claim
        && let Some(id) = replay_target(&state.ctx.db, key, hash).await?
    {
        return replay(state, id).await.map(|d| (d, true));
    }
    match insert(state, who, &app, claim.as_ref()).await? {
        Some(id) => {
            tracing::Span::current().record("task_id", field::display(id));
            state.metrics.tasks_created.inc();
            tracing::info!(template = %app.template, "task created");
            let detail = load_detail(&state.ctx.db, id, budget_defaults(state))
                .await?
                .ok_or(Error::Store(kiln_store::Error::Corrupt {
                    what: "task just created",
                    value: id.to_string(),
                }))?;
            Ok((detail, false))
        }
        None => {
            // The name or the key is taken: by an earlier request, or by one that committed
            // while this transaction waited for it. A request with that key replays its task.
            tracing::debug!("project name or idempotency key already taken");
            if let Some((key, hash)) = &claim
                && let Some(id) = replay_target(&state.ctx.db, key, hash).await?
            {
                return replay(state, id).await.map(|d| (d, true));
            }
            let suggestion = queries::suggest_name(&state.ctx.db, &app.name).await?;
            Err(Error::ProjectExists {
                name: app.name,
                suggestion,
            })
        }
    }
}

/// Stores the task, the idempotency claim, the audit entry and the outbox rows in one
/// transaction. `None` when the project name (or the key) is already taken.
async fn insert(
    state: &AppState,
    who: &Principal,
    app: &NewApp,
    claim: Option<&(String, String)>,
) -> Result<Option<Uuid>, Error> {
    let ctx = &state.ctx;
    let id = Uuid::now_v7();
    let mut tx = ctx.db.begin().await?;
    let template = if app.kind == TaskKind::Revision {
        // A revision changes what is live: the project must exist and have deployed code.
        let project = store::get_project(&mut *tx, &app.name)
            .await?
            .ok_or_else(|| Error::ProjectNotFound(app.name.clone()))?;
        if !queries::has_live_deployment(&mut *tx, project.id).await? {
            return Err(Error::NothingDeployed(app.name.clone()));
        }
        project.template
    } else if app.kind == TaskKind::Change {
        // A change starts from the project's main branch: any project with code on it,
        // scaffolded or attached.
        let project = store::get_project(&mut *tx, &app.name)
            .await?
            .ok_or_else(|| Error::ProjectNotFound(app.name.clone()))?;
        let head = kiln_git::Git::new()
            .branch_head(&ctx.repo_path(&app.name), kiln_git::BASE_BRANCH)
            .await
            .ok()
            .flatten();
        if head.is_none() {
            return Err(Error::NoCode(app.name.clone()));
        }
        project.template
    } else {
        if !queries::claim_project(&mut tx, &app.name, &app.template).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        app.template.clone()
    };
    let new = NewTask {
        id,
        project: app.name.clone(),
        kind: app.kind.as_str().to_owned(),
        template: template.clone(),
        brief: app.brief.clone(),
        options: app.options.clone(),
    };
    let task = store::insert_task(&mut tx, &new).await?;
    if let Some((key, hash)) = claim
        && !store::claim_idempotency_key(&mut tx, key, hash, id).await?
    {
        tx.rollback().await?;
        return Ok(None);
    }
    store::set_requester(&mut *tx, id, &who.name, who.source).await?;
    audit::append(
        &mut *tx,
        &who.audit("task.created", &app.name)
            .task(id)
            .detail(serde_json::json!({
                "project": app.name,
                "template": template,
                "kind": new.kind,
                "idempotency_key": claim.map(|(k, _)| k),
            })),
    )
    .await?;
    let work = WorkItem {
        task_id: id.to_string(),
        project: app.name.clone(),
        stage: Stage::Plan as i32,
        round: 0,
        commit: String::new(),
        branch: task.branch.clone(),
    };
    delivery::enqueue(&mut *tx, &ctx.work_message(&work)).await?;
    delivery::enqueue(
        &mut *tx,
        &ctx.event_message(
            id,
            "created",
            TaskStatus::Queued,
            Stage::Unspecified,
            0,
            "task created",
        ),
    )
    .await?;
    tx.commit().await?;
    ctx.wake_relay();
    Ok(Some(id))
}

/// The task an earlier request with `key` created, if the request was the same.
async fn replay_target(db: &PgPool, key: &str, hash: &str) -> Result<Option<Uuid>, Error> {
    match store::idempotent_task(db, key).await? {
        None => Ok(None),
        Some((stored, id)) if stored == hash => Ok(Some(id)),
        Some(_) => Err(Error::IdempotencyMismatch {
            key: key.to_owned(),
        }),
    }
}

async fn replay(state: &AppState, id: Uuid) -> Result<TaskDetail, Error> {
    tracing::Span::current().record("task_id", field::display(id));
    tracing::info!("idempotent request replayed");
    load_detail(&state.ctx.db, id, budget_defaults(state))
        .await?
        .ok_or(Error::TaskNotFound(id))
}

fn accepted(detail: TaskDetail, replayed: bool) -> Response {
    let location = format!("/api/v1/tasks/{}", detail.summary.id);
    let mut response = (StatusCode::ACCEPTED, Json(detail)).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, v);
    }
    if replayed {
        headers.insert(IDEMPOTENCY_REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// Bodies without a content type are read as JSON; any other declared type is refused.
pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), Error> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let essence = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(Error::UnsupportedMediaType(text.into_owned()))
    }
}

pub(crate) fn body_error(rejection: BytesRejection, limit: usize) -> Error {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::BodyTooLarge { limit }
    } else {
        Error::BodyUnreadable(rejection.body_text())
    }
}

/// List tasks, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/tasks",
    tag = "tasks",
    params(ListTasksQuery),
    responses(
        (status = 200, description = "One page of tasks", body = TaskList),
        (status = 400, description = "Bad status, limit or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all)]
pub async fn list_tasks(
    State(state): State<AppState>,
    query: Result<Query<ListTasksQuery>, QueryRejection>,
) -> Result<Json<TaskList>, Error> {
    let Query(q) = query.map_err(|e| Error::InvalidQuery(e.body_text()))?;
    let query = parse_list_query(q)?;
    let (tasks, more) = store::list_tasks(&state.ctx.db, &query).await?;
    let ids: Vec<Uuid> = tasks.iter().map(|t| t.id).collect();
    let mut urls = queries::live_urls(&state.ctx.db, &ids).await?;
    let next_cursor = match tasks.last() {
        Some(last) if more => Some(cursor::encode(last.created_at, last.id)),
        _ => None,
    };
    let items = tasks
        .into_iter()
        .map(|t| {
            let url = urls.remove(&t.id);
            TaskSummary::new(t, url)
        })
        .collect();
    Ok(Json(TaskList { items, next_cursor }))
}

/// Empty parameters (`?status=&project=`) mean "not given".
fn parse_list_query(q: ListTasksQuery) -> Result<TaskQuery, Error> {
    let given = |v: Option<String>| v.filter(|s| !s.is_empty());
    let limit = match given(q.limit) {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                Error::InvalidQuery(format!(
                    "limit must be an integer from 1 to {MAX_LIMIT}, got {raw:?}"
                ))
            })?,
    };
    let status = given(q.status)
        .map(|raw| {
            TaskStatus::parse(&raw).ok_or_else(|| {
                let known: Vec<_> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
                Error::InvalidQuery(format!(
                    "unknown status {raw:?}; known statuses: {}",
                    known.join(", ")
                ))
            })
        })
        .transpose()?;
    let after = given(q.cursor)
        .map(|raw| {
            cursor::decode(&raw).ok_or_else(|| {
                Error::InvalidQuery(format!(
                    "cursor {raw:?} is not one this API issued; pass next_cursor of the previous page unchanged"
                ))
            })
        })
        .transpose()?;
    Ok(TaskQuery {
        status,
        project: given(q.project),
        after,
        limit,
    })
}

/// Read a task with its stages, plan, commits, tests, reviews, gate decision and deployments.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}",
    tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task", body = TaskDetail),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(task_id = field::Empty))]
pub async fn get_task(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<TaskDetail>, Error> {
    let id = task_id(path)?;
    let detail = load_detail(&state.ctx.db, id, budget_defaults(&state))
        .await?
        .ok_or(Error::TaskNotFound(id))?;
    Ok(Json(detail))
}

/// Cancel an unfinished task.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/cancel",
    tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    responses(
        (status = 200, description = "The cancelled task", body = TaskDetail),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The task already finished", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(task_id = field::Empty))]
pub async fn cancel_task(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<TaskDetail>, Error> {
    let id = task_id(path)?;
    cancel(&state, &who, id).await.map(Json)
}

/// Cancels an unfinished task as `who`: the operation behind the route and the chat commands.
pub(crate) async fn cancel(
    state: &AppState,
    who: &Principal,
    id: Uuid,
) -> Result<TaskDetail, Error> {
    cancel_with(state, who, id, "cancelled by a person").await
}

/// [`cancel`] with the reason the task records.
pub(crate) async fn cancel_with(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    reason: &str,
) -> Result<TaskDetail, Error> {
    let ctx = &state.ctx;
    let mut tx = ctx.db.begin().await?;
    let status = store::lock_task(&mut tx, id)
        .await?
        .ok_or(Error::TaskNotFound(id))?;
    if status.is_terminal() {
        return Err(Error::TaskFinished { id, status });
    }
    store::set_status(&mut *tx, id, TaskStatus::Cancelled, Some(reason)).await?;
    audit::append(
        &mut *tx,
        &who.audit("task.cancelled", id.to_string())
            .task(id)
            .detail(serde_json::json!({ "previous_status": status })),
    )
    .await?;
    delivery::enqueue(
        &mut *tx,
        &ctx.event_message(
            id,
            "cancelled",
            TaskStatus::Cancelled,
            Stage::Unspecified,
            0,
            reason,
        ),
    )
    .await?;
    tx.commit().await?;
    ctx.wake_relay();
    tracing::info!(previous = %status, "task cancelled");
    load_detail(&ctx.db, id, budget_defaults(state))
        .await?
        .ok_or(Error::TaskNotFound(id))
}

pub(crate) fn task_id(path: Result<Path<String>, PathRejection>) -> Result<Uuid, Error> {
    let Path(raw) = path.map_err(|e| Error::InvalidTaskId(e.body_text()))?;
    let id = Uuid::parse_str(&raw).map_err(|_| Error::InvalidTaskId(raw))?;
    tracing::Span::current().record("task_id", field::display(id));
    Ok(id)
}

/// The full task JSON, read from one consistent snapshot.
/// Budget defaults when a model serves tasks; `None` in offline mode.
pub(crate) fn budget_defaults(state: &AppState) -> Option<&kiln_llm::Budget> {
    state
        .config
        .llm
        .as_ref()
        .filter(|l| l.enabled())
        .map(|l| &l.budget)
}

pub async fn load_detail(
    db: &PgPool,
    id: Uuid,
    budget_defaults: Option<&kiln_llm::Budget>,
) -> Result<Option<TaskDetail>, Error> {
    let mut tx = db.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let Some(task) = store::get_task(&mut *tx, id).await? else {
        return Ok(None);
    };
    let stages = records::stage_runs(&mut *tx, id).await?;
    let plan = records::get_plan(&mut tx, id).await?;
    let commits = records::commits(&mut *tx, id).await?;
    let test_runs = records::test_runs(&mut tx, id).await?;
    let reviews = records::reviews(&mut tx, id, None).await?;
    let gate = records::gate_decision(&mut *tx, id).await?;
    let deployments = records::task_deployments(&mut *tx, id).await?;
    let clarifications = kiln_store::people::clarifications(&mut *tx, id).await?;
    let approvals = kiln_store::people::approvals(&mut *tx, id).await?;
    let parked = kiln_store::people::parked(&mut *tx, id).await?;
    let errors = records::test_errors(&mut *tx, id, None).await?;
    let usage = kiln_llm::usage(&mut *tx, id)
        .await
        .map_err(|e| Error::Nats {
            context: "llm usage",
            message: e.summary(),
        })?;
    tx.commit().await?;
    let awaiting = parked.map(|p| crate::model::AwaitingView {
        kind: p.kind.as_str().to_owned(),
        since: p
            .parked_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        detail: task.status_reason.clone().unwrap_or_default(),
        figures: (p.detail != serde_json::json!({})).then_some(p.detail),
    });
    let budget = budget_defaults.map(|defaults| {
        let options = kiln_store::people::TaskOptions::of(&task.options);
        let o = options.budget.unwrap_or_default();
        crate::model::BudgetView {
            limits: crate::model::BudgetLimits {
                max_tokens: o.max_tokens.unwrap_or(defaults.max_tokens),
                max_cost_usd: o.max_cost_usd.unwrap_or(defaults.max_cost_usd),
                max_calls: o.max_calls.unwrap_or(defaults.max_calls),
            },
            used: crate::model::BudgetUsed {
                tokens: usage.input_tokens + usage.output_tokens,
                cost_usd: usage.cost_usd,
                calls: usage.calls,
            },
        }
    });
    let rounds = commits
        .iter()
        .map(|c| {
            let run = test_runs.iter().find(|t| t.round == c.round);
            crate::model::RoundView {
                round: c.round,
                commit_sha: c.sha.clone(),
                test_passed: run.map(|t| t.passed),
                errors: errors
                    .iter()
                    .filter(|(r, _)| *r == c.round)
                    .map(|(_, e)| e.clone())
                    .collect(),
                fingerprint: run.and_then(|t| t.fingerprint.clone()),
                stop_reason: run.and_then(|t| t.stop_reason.clone()),
            }
        })
        .collect();

    let deployment_url = deployments
        .iter()
        .rev()
        .find(|d| d.status == "live")
        .map(|d| d.url.clone());
    let deployments: Vec<DeploymentView> =
        deployments.into_iter().map(DeploymentView::from).collect();
    let llm_usage = LlmUsage::from_usage(&task.llm_mode, usage);
    Ok(Some(TaskDetail {
        summary: TaskSummary::new(task, deployment_url),
        stages: stages.into_iter().map(Into::into).collect(),
        plan: plan.map(Into::into),
        commits: commits.into_iter().map(Into::into).collect(),
        test_runs: test_runs.into_iter().map(Into::into).collect(),
        reviews: reviews.into_iter().map(Into::into).collect(),
        gate: gate.map(Into::into),
        deployment: deployments.last().cloned(),
        deployments,
        llm_usage,
        clarifications,
        awaiting,
        budget,
        rounds,
        approvals,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(status: &str, limit: &str, cursor: &str) -> ListTasksQuery {
        ListTasksQuery {
            status: Some(status.into()),
            project: Some(String::new()),
            cursor: Some(cursor.into()),
            limit: Some(limit.into()),
        }
    }

    #[test]
    fn empty_parameters_mean_defaults() {
        let parsed = parse_list_query(q("", "", "")).expect("defaults");
        assert_eq!(parsed.limit, DEFAULT_LIMIT);
        assert!(parsed.status.is_none() && parsed.project.is_none() && parsed.after.is_none());
    }

    #[test]
    fn bad_parameters_are_named() {
        for (query, needle) in [
            (
                q("", "0", ""),
                "limit must be an integer from 1 to 100, got \"0\"",
            ),
            (q("", "101", ""), "got \"101\""),
            (q("", "ten", ""), "got \"ten\""),
            (
                q("done", "", ""),
                "unknown status \"done\"; known statuses: queued, planning",
            ),
            (
                q("", "", "bogus"),
                "cursor \"bogus\" is not one this API issued",
            ),
        ] {
            let e = parse_list_query(query).expect_err(needle);
            assert_eq!(e.status(), StatusCode::BAD_REQUEST);
            assert!(e.to_string().contains(needle), "{e}");
        }
    }

    #[test]
    fn json_and_missing_content_types_are_accepted() {
        let mut h = HeaderMap::new();
        assert!(check_content_type(&h).is_ok());
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(check_content_type(&h).is_ok());
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/merge-patch+json"),
        );
        assert!(check_content_type(&h).is_ok());
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(
            check_content_type(&h).unwrap_err().status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }
}
