//! `GET /api/v1/tasks/{id}/rounds/{round}/diff`: what a round's commit changed, as a unified
//! diff against its parent, read straight from the project's bare repository so the dashboard
//! can show each round's code without the database storing it twice.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kiln_git::Git;
use tracing::{field, instrument};
use uuid::Uuid;

use crate::AppState;
use crate::error::{Error, Problem, problem_response};

/// Largest diff returned; a longer one is cut at a line boundary and ends with
/// [`kiln_git::DIFF_TRUNCATED_MARKER`].
pub const MAX_DIFF_BYTES: usize = 2 << 20;

/// A problem response of a kind only this endpoint has.
fn problem(status: StatusCode, slug: &str, title: &str, detail: String) -> Response {
    let problem = Problem {
        type_: format!("urn:kiln:problem:{slug}"),
        title: title.to_owned(),
        status: status.as_u16(),
        detail,
    };
    problem_response(status, &problem)
}

fn git_failed(e: kiln_git::Error) -> Response {
    // 5xx details are logged, never returned.
    tracing::error!(error = %kiln_runtime::harness::error_chain(&e), "diff failed");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal server error",
        "the API failed to read the diff; the error has been logged".to_owned(),
    )
}

/// Read the diff of a round.
///
/// The unified diff of the round's commit against its parent (or against nothing, for a
/// first commit), as plain text. Diffs over 2 MiB are cut at a line boundary and end with
/// `[kiln-git: diff truncated]`.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}/rounds/{round}/diff",
    tag = "tasks",
    params(
        ("id" = Uuid, Path, description = "Task id"),
        ("round" = u32, Path, description = "Round (0 for the first commit, 1.. for fix rounds)"),
    ),
    responses(
        (status = 200, description = "The unified diff", body = String, content_type = "text/plain"),
        (status = 400, description = "The id is not a UUID or the round not a number", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task, or the round has no commit", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(task_id = field::Empty, round = field::Empty))]
pub async fn round_diff(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, Response> {
    let Path((raw_id, raw_round)) =
        path.map_err(|e| Error::InvalidTaskId(e.body_text()).into_response())?;
    let id = Uuid::parse_str(&raw_id).map_err(|_| Error::InvalidTaskId(raw_id).into_response())?;
    let Some(round) = raw_round.parse::<i32>().ok().filter(|r| *r >= 0) else {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "invalid-round",
            "Invalid round",
            format!("invalid round {raw_round:?}: expected a non-negative integer such as 0"),
        ));
    };
    let span = tracing::Span::current();
    span.record("task_id", field::display(id));
    span.record("round", round);

    let db = &state.ctx.db;
    let task = kiln_store::tasks::get_task(db, id)
        .await
        .map_err(|e| Error::from(e).into_response())?
        .ok_or_else(|| Error::TaskNotFound(id).into_response())?;
    let sha: Option<String> =
        sqlx::query_scalar("SELECT sha FROM commits WHERE task_id = $1 AND round = $2")
            .bind(id)
            .bind(round)
            .fetch_optional(db)
            .await
            .map_err(|e| Error::from(e).into_response())?;
    let Some(sha) = sha else {
        return Err(problem(
            StatusCode::NOT_FOUND,
            "commit-not-found",
            "Commit not found",
            format!("task {id} has no commit for round {round}"),
        ));
    };

    let git = Git::new();
    let bare = state.ctx.repo_path(&task.project);
    let parent = git
        .resolve_commit(&bare, &format!("{sha}^"))
        .await
        .map_err(git_failed)?;
    let text = git
        .diff(&bare, parent.as_deref(), &sha, MAX_DIFF_BYTES)
        .await
        .map_err(git_failed)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}
