//! `POST /api/v1/tasks/ready`: the seed API's "task with a callback" as a thin route over
//! the real operations. It creates the task exactly as `POST /api/v1/tasks` does and
//! subscribes its `evaluation_url` to that one task's end (deployed, failed, blocked,
//! cancelled, rolled back) through the outbound webhooks, so the callback is signed, retried
//! for a day and every attempt is recorded like any other delivery.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kiln_store::{TaskStatus, audit};
use kiln_webhooks::store::{self, NewSubscription};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{Error, Problem};
use crate::model::{CreateTask, TaskDetail};
use crate::tokens::json_body;

/// Body of `POST /api/v1/tasks/ready`: the fields of `POST /api/v1/tasks`, plus where to
/// report the task's end. (Documentation only: the handler reads the task's fields with the
/// same strictness as `POST /api/v1/tasks`.)
#[derive(Debug, Clone, ToSchema)]
#[allow(dead_code)]
pub struct ReadyTask {
    /// `http` or `https` URL that receives one signed POST when the task ends.
    pub evaluation_url: String,
    pub kind: crate::model::TaskKind,
    pub template: Option<String>,
    pub name: Option<String>,
    pub project: Option<String>,
    pub brief: String,
    #[schema(value_type = Option<Object>)]
    pub options: Option<serde_json::Value>,
}

/// The task, and the callback subscription with the secret its POST is signed with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadyAccepted {
    pub task: TaskDetail,
    pub callback: Callback,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Callback {
    /// See its attempts at `GET /api/v1/subscriptions/{id}/deliveries` (admins).
    pub subscription_id: Uuid,
    /// HMAC-SHA256 key of the `Kiln-Signature` header, shown this once.
    pub secret: String,
}

/// The statuses a task ends in: the callback fires on the event that leaves it there.
fn terminal_statuses() -> Vec<String> {
    TaskStatus::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.as_str().to_owned())
        .collect()
}

/// Create a task that calls back when it ends.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/ready",
    tag = "tasks",
    request_body = ReadyTask,
    responses(
        (status = 202, description = "Task accepted; the callback is subscribed", body = ReadyAccepted),
        (status = 409, description = "A project with this name exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule, or Kiln will not call that URL", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "This token created too many tasks in the last minute", body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = String, description = "Seconds until the token may create a task again"))),
    )
)]
pub async fn ready(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    // The task's own fields keep their strictness (unknown fields refused), so the callback
    // URL is taken out before they are read.
    let mut value: serde_json::Value = json_body(body)?;
    let Some(fields) = value.as_object_mut() else {
        return Err(Error::InvalidBody("expected a JSON object".into()));
    };
    let Some(serde_json::Value::String(raw_url)) = fields.remove("evaluation_url") else {
        return Err(Error::InvalidBody(
            "evaluation_url is required: the URL to POST the task's end to".into(),
        ));
    };
    let task: CreateTask =
        serde_json::from_value(value).map_err(|e| Error::InvalidBody(e.to_string()))?;
    // Refuse the URL before anything is stored.
    let url = store::validate_url(&raw_url).map_err(|e| Error::InvalidDecision(e.to_string()))?;
    let llm_enabled = state.config.llm.as_ref().is_some_and(|l| l.enabled());
    let app = crate::validate::request(
        task,
        &state.catalog,
        state.config.max_brief_chars,
        llm_enabled,
    )?;
    state.limits.take_task(&who)?;
    let (task, _) = crate::tasks::create(&state, &who, app, None).await?;
    let id = task.summary.id;
    let mut tx = state.ctx.db.begin().await?;
    let created = store::create(
        &mut *tx,
        &NewSubscription {
            url: url.to_string(),
            kinds: vec![],
            description: format!("evaluation callback of task {id}"),
            created_by: who.name.clone(),
            task_id: Some(id),
            statuses: terminal_statuses(),
        },
    )
    .await
    .map_err(|e| Error::Nats {
        context: "subscribing the evaluation callback",
        message: e.to_string(),
    })?;
    audit::append(
        &mut *tx,
        &who.audit("subscription.create", created.subscription.id.to_string())
            .task(id)
            .detail(serde_json::json!({ "url": created.subscription.url, "callback": true })),
    )
    .await?;
    tx.commit().await?;
    let body = ReadyAccepted {
        task,
        callback: Callback {
            subscription_id: created.subscription.id,
            secret: created.secret,
        },
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
