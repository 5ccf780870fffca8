//! Project memory through the API: people read, add, edit and delete the lessons Kiln feeds
//! into later prompts.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kiln_store::memory::{self, Lesson};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use kiln_store::audit;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{Error, Problem};

/// The `{name}/{id}` of a lesson route; an id that is not a UUID is a problem, not plain text.
fn lesson_path(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(String, Uuid), Error> {
    let Path((name, raw)) = path.map_err(|e| Error::InvalidPath(e.body_text()))?;
    let id = Uuid::parse_str(&raw)
        .map_err(|_| Error::InvalidPath(format!("lesson id {raw:?} is not a UUID")))?;
    Ok((name, id))
}

/// A project's lessons, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LessonList {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Lesson>,
}

/// Body of a new or edited lesson.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LessonBody {
    pub lesson: String,
}

async fn project_id(state: &AppState, name: &str) -> Result<Uuid, Error> {
    kiln_store::tasks::get_project(&state.ctx.db, name)
        .await?
        .map(|p| p.id)
        .ok_or_else(|| Error::ProjectNotFound(name.to_owned()))
}

fn lesson_text(raw: Result<Bytes, BytesRejection>) -> Result<String, Error> {
    let raw = raw.map_err(|e| Error::BodyUnreadable(e.body_text()))?;
    let body: LessonBody =
        serde_json::from_slice(&raw).map_err(|e| Error::InvalidBody(e.to_string()))?;
    let text = body.lesson.trim();
    if text.is_empty() || text.chars().count() > memory::MAX_LESSON_CHARS {
        return Err(Error::InvalidDecision(format!(
            "a lesson is 1 to {} characters",
            memory::MAX_LESSON_CHARS
        )));
    }
    Ok(text.to_owned())
}

#[utoipa::path(get, path = "/api/v1/projects/{name}/memory", tag = "projects",
    params(("name" = String, Path, description = "Project name")),
    responses((status = 200, body = LessonList), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<LessonList>, Error> {
    let id = project_id(&state, &name).await?;
    Ok(Json(LessonList {
        items: memory::lessons(&state.ctx.db, id).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/projects/{name}/memory", tag = "projects",
    params(("name" = String, Path, description = "Project name")), request_body = LessonBody,
    responses((status = 201, body = LessonList), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let text = lesson_text(raw)?;
    let id = project_id(&state, &name).await?;
    let mut tx = state.ctx.db.begin().await?;
    let items = memory::remember(&mut tx, id, None, &[text]).await?;
    audit::append(&mut *tx, &who.audit("memory.added", &name)).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(LessonList { items })).into_response())
}

#[utoipa::path(put, path = "/api/v1/projects/{name}/memory/{id}", tag = "projects",
    params(("name" = String, Path), ("id" = Uuid, Path)), request_body = LessonBody,
    responses((status = 200, body = LessonList),
        (status = 400, description = "The lesson id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The lesson is empty or too long", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn edit(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    path: Result<Path<(String, String)>, PathRejection>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<LessonList>, Error> {
    let (name, lesson) = lesson_path(path)?;
    let text = lesson_text(raw)?;
    let id = project_id(&state, &name).await?;
    let mut tx = state.ctx.db.begin().await?;
    if !memory::edit(&mut *tx, id, lesson, &text).await? {
        return Err(Error::LessonNotFound(lesson));
    }
    audit::append(
        &mut *tx,
        &who.audit("memory.edited", &name)
            .detail(serde_json::json!({ "lesson": lesson })),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(LessonList {
        items: memory::lessons(&state.ctx.db, id).await?,
    }))
}

#[utoipa::path(delete, path = "/api/v1/projects/{name}/memory/{id}", tag = "projects",
    params(("name" = String, Path), ("id" = Uuid, Path)),
    responses((status = 204),
        (status = 400, description = "The lesson id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, Error> {
    let (name, lesson) = lesson_path(path)?;
    let id = project_id(&state, &name).await?;
    let mut tx = state.ctx.db.begin().await?;
    if !memory::forget(&mut *tx, id, lesson).await? {
        return Err(Error::LessonNotFound(lesson));
    }
    audit::append(
        &mut *tx,
        &who.audit("memory.deleted", &name)
            .detail(serde_json::json!({ "lesson": lesson })),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
