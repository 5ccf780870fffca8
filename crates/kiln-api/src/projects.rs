//! `GET /api/v1/projects`: every app Kiln has built, with its live URL and latest task.

use axum::Json;
use axum::extract::State;
use tracing::instrument;

use crate::error::{Error, Problem};
use crate::model::ProjectList;
use crate::{AppState, queries};

/// List projects.
#[utoipa::path(
    get,
    path = "/api/v1/projects",
    tag = "catalog",
    responses(
        (status = 200, description = "Every project, by name", body = ProjectList),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all)]
pub async fn list_projects(State(state): State<AppState>) -> Result<Json<ProjectList>, Error> {
    let items = queries::projects(&state.ctx.db).await?;
    Ok(Json(ProjectList { items }))
}
