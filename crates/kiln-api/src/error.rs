//! The API's one error type and its RFC 9457 `application/problem+json` form, so every
//! failure a client sees has the same shape and a `detail` that names the problem.
//!
//! Client errors (4xx) carry their full explanation. Server errors (5xx) are logged with
//! their error chain and answered with a generic detail: internals never leak to callers.

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kiln_store::TaskStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// URI naming the kind of problem, e.g. `urn:kiln:problem:unknown-template`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary of the kind of problem; the same for every occurrence of a kind.
    pub title: String,
    /// HTTP status code of the response.
    pub status: u16,
    /// What went wrong with this request, precisely enough to fix it.
    pub detail: String,
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("request body does not match the schema: {0}")]
    InvalidBody(String),
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("request body could not be read: {0}")]
    BodyUnreadable(String),
    #[error("content type {0:?} is not supported; send application/json")]
    UnsupportedMediaType(String),
    #[error("invalid Idempotency-Key header: {0}")]
    InvalidIdempotencyKey(&'static str),
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("invalid task id {0:?}: expected a UUID such as 0190f1c2-5e4b-7c3d-9a8e-1f2a3b4c5d6e")]
    InvalidTaskId(String),
    #[error(
        "kind \"revision\" edits an existing project's code and needs an LLM; this installation \
         runs in offline mode (set KILN_LLM_PROVIDER, KILN_LLM_MODEL and KILN_LLM_API_KEY)"
    )]
    RevisionUnsupported,
    #[error("no project named {0:?}")]
    ProjectNotFound(String),
    #[error("project {0:?} has no deployed code to revise yet; deploy it first")]
    NothingDeployed(String),
    #[error("project {0:?} has no code on its main branch to change")]
    NoCode(String),
    #[error("invalid project settings: {0}")]
    InvalidSettings(String),
    #[error("task {id} is {status}; {action} applies only while it waits for {waits}")]
    NotWaiting {
        id: Uuid,
        status: TaskStatus,
        action: &'static str,
        waits: &'static str,
    },
    #[error("{0}")]
    InvalidDecision(String),
    #[error("no lesson {0} in this project's memory")]
    LessonNotFound(Uuid),
    #[error("{field} is required for kind \"new_app\"{hint}")]
    MissingField { field: &'static str, hint: String },
    #[error("{field} is not allowed for kind \"new_app\": {why}")]
    UnexpectedField {
        field: &'static str,
        why: &'static str,
    },
    #[error("unknown template {name:?}; available templates: {}", available.join(", "))]
    UnknownTemplate {
        name: String,
        available: Vec<String>,
    },
    #[error(
        "invalid name {name:?}: {reason} (a name is 1 to 63 lowercase ASCII letters, digits and '-', \
         starts with a letter and does not end with '-')"
    )]
    InvalidName { name: String, reason: String },
    #[error("brief must not be empty (it is empty or only whitespace)")]
    EmptyBrief,
    #[error("brief is {chars} characters long after trimming; the limit is {limit} characters")]
    BriefTooLong { chars: usize, limit: usize },
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    #[error(
        "Idempotency-Key {key:?} was already used with a different request body; \
         send a new key for a new request"
    )]
    IdempotencyMismatch { key: String },
    #[error(
        "project {name:?} already exists; choose another name{} or send kind \"revision\" with \
         \"project\" to change it",
        suggestion.as_ref().map(|s| format!(", e.g. {s:?}")).unwrap_or_default()
    )]
    ProjectExists {
        name: String,
        suggestion: Option<String>,
    },
    #[error("no task with id {0}")]
    TaskNotFound(Uuid),
    #[error("task {id} is already {status}; only unfinished tasks can be cancelled")]
    TaskFinished { id: Uuid, status: TaskStatus },
    #[error("no route for {path}")]
    RouteNotFound { path: String },
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed { method: Method, path: String },
    #[error("this endpoint speaks WebSocket only: {0}")]
    UpgradeRequired(String),
    #[error("app {app:?} could not be removed: {reason}")]
    AppNotRemoved { app: String, reason: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("task creation rate limit reached for token {token:?}; retry in {retry_after_secs} s")]
    RateLimited {
        token: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    Conflict(String),
    /// GitHub could not be reached, or refused what Kiln asked.
    #[error("{0}")]
    GitHub(String),
    #[error("no token {0:?} (it may have been revoked already)")]
    TokenNotFound(String),
    #[error("no webhook subscription {0}")]
    SubscriptionNotFound(Uuid),
    #[error("invalid path parameter: {0}")]
    InvalidPath(String),
    #[error("database")]
    Store(#[from] kiln_store::Error),
    #[error("{0}")]
    ImportRefused(String),
    #[error("{0}")]
    ImportFailed(String),
    #[error(
        "no knowledge of project {0:?} yet: the indexer scans each commit it indexes, and none answered"
    )]
    NoKnowledge(String),
    #[error("search in {project:?} failed: {reason}")]
    SearchFailed { project: String, reason: String },
    #[error("{context}: {message}")]
    Nats {
        context: &'static str,
        message: String,
    },
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Store(e.into())
    }
}

impl Error {
    /// HTTP status, stable slug for the problem `type`, and the problem `title`.
    fn kind(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            Error::MalformedJson(_) => (S::BAD_REQUEST, "malformed-json", "Malformed JSON"),
            Error::InvalidBody(_) => (S::BAD_REQUEST, "invalid-body", "Invalid request body"),
            Error::BodyTooLarge { .. } => (
                S::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Request body too large",
            ),
            Error::BodyUnreadable(_) => {
                (S::BAD_REQUEST, "body-unreadable", "Request body unreadable")
            }
            Error::UnsupportedMediaType(_) => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Error::InvalidIdempotencyKey(_) => (
                S::BAD_REQUEST,
                "invalid-idempotency-key",
                "Invalid Idempotency-Key",
            ),
            Error::InvalidQuery(_) => (S::BAD_REQUEST, "invalid-query", "Invalid query parameter"),
            Error::InvalidTaskId(_) => (S::BAD_REQUEST, "invalid-task-id", "Invalid task id"),
            Error::RevisionUnsupported => (
                S::UNPROCESSABLE_ENTITY,
                "revision-unsupported",
                "Revisions need an LLM",
            ),
            Error::ProjectNotFound(_) => (S::NOT_FOUND, "project-not-found", "Project not found"),
            Error::NothingDeployed(_) => (S::CONFLICT, "nothing-deployed", "Nothing deployed yet"),
            Error::NoCode(_) => (S::CONFLICT, "no-code", "Nothing to change"),
            Error::InvalidSettings(_) => (
                S::UNPROCESSABLE_ENTITY,
                "invalid-settings",
                "Invalid project settings",
            ),
            Error::NotWaiting { .. } => {
                (S::CONFLICT, "not-waiting", "Task is not waiting for this")
            }
            Error::InvalidDecision(_) => (
                S::UNPROCESSABLE_ENTITY,
                "invalid-decision",
                "Invalid decision",
            ),
            Error::LessonNotFound(_) => (S::NOT_FOUND, "lesson-not-found", "Lesson not found"),
            Error::MissingField { .. } => {
                (S::UNPROCESSABLE_ENTITY, "missing-field", "Missing field")
            }
            Error::UnexpectedField { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "unexpected-field",
                "Unexpected field",
            ),
            Error::UnknownTemplate { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "unknown-template",
                "Unknown template",
            ),
            Error::InvalidName { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "invalid-name",
                "Invalid project name",
            ),
            Error::EmptyBrief => (S::UNPROCESSABLE_ENTITY, "empty-brief", "Empty brief"),
            Error::BriefTooLong { .. } => {
                (S::UNPROCESSABLE_ENTITY, "brief-too-long", "Brief too long")
            }
            Error::InvalidOptions(_) => (
                S::UNPROCESSABLE_ENTITY,
                "invalid-options",
                "Invalid options",
            ),
            Error::IdempotencyMismatch { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused with a different request",
            ),
            Error::ProjectExists { .. } => {
                (S::CONFLICT, "project-exists", "Project already exists")
            }
            Error::TaskNotFound(_) => (S::NOT_FOUND, "task-not-found", "Task not found"),
            Error::TaskFinished { .. } => (S::CONFLICT, "task-finished", "Task already finished"),
            Error::RouteNotFound { .. } => (S::NOT_FOUND, "not-found", "Not found"),
            Error::MethodNotAllowed { .. } => (
                S::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Error::UpgradeRequired(_) => (
                S::UPGRADE_REQUIRED,
                "upgrade-required",
                "WebSocket upgrade required",
            ),
            Error::SearchFailed { .. } => (S::CONFLICT, "search-failed", "Search failed"),
            Error::ImportRefused(_) => {
                (S::UNPROCESSABLE_ENTITY, "import-refused", "Import refused")
            }
            Error::ImportFailed(_) => (S::CONFLICT, "import-failed", "Import failed"),
            Error::GitHub(_) => (S::BAD_GATEWAY, "github-failed", "GitHub request failed"),
            Error::NoKnowledge(_) => (S::NOT_FOUND, "no-knowledge", "No project knowledge yet"),
            Error::AppNotRemoved { .. } => {
                (S::CONFLICT, "app-not-removed", "App could not be removed")
            }
            Error::Unauthorized(_) => (S::UNAUTHORIZED, "unauthorized", "Authentication required"),
            Error::Forbidden(_) => (S::FORBIDDEN, "forbidden", "Not allowed"),
            Error::RateLimited { .. } => {
                (S::TOO_MANY_REQUESTS, "rate-limited", "Too many requests")
            }
            Error::Conflict(_) => (S::CONFLICT, "conflict", "Conflict"),
            Error::TokenNotFound(_) => (S::NOT_FOUND, "token-not-found", "Token not found"),
            Error::SubscriptionNotFound(_) => (
                S::NOT_FOUND,
                "subscription-not-found",
                "Subscription not found",
            ),
            Error::InvalidPath(_) => (S::BAD_REQUEST, "invalid-path", "Invalid path parameter"),
            Error::Store(e) if e.is_transient() => (
                S::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service temporarily unavailable",
            ),
            Error::Store(_) => (
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
            Error::Nats { .. } => (
                S::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service temporarily unavailable",
            ),
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.kind().0
    }

    /// The problem body this error answers with (5xx details are generic).
    pub fn problem(&self) -> Problem {
        let (status, slug, title) = self.kind();
        let detail = if status.is_server_error() {
            match status {
                StatusCode::SERVICE_UNAVAILABLE => {
                    "a dependency of the API is unavailable; retry shortly".to_owned()
                }
                _ => "the API failed to handle the request; the error has been logged".to_owned(),
            }
        } else {
            self.to_string()
        };
        Problem {
            type_: format!("urn:kiln:problem:{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %kiln_runtime::harness::error_chain(&self), status = status.as_u16(), "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), detail = %problem.detail, "request rejected");
        }
        let mut response = problem_response(status, &problem);
        match &self {
            Error::RateLimited {
                retry_after_secs, ..
            } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            Error::Unauthorized(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"kiln\""),
                );
            }
            _ => {}
        }
        response
    }
}

/// A problem body with its media type.
pub fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_explain_and_server_errors_do_not() {
        let p = Error::UnknownTemplate {
            name: "rails".into(),
            available: vec!["node-express".into(), "static-site".into()],
        }
        .problem();
        assert_eq!(p.status, 422);
        assert_eq!(p.type_, "urn:kiln:problem:unknown-template");
        assert!(
            p.detail.contains("\"rails\"") && p.detail.contains("node-express, static-site"),
            "{}",
            p.detail
        );

        let secret = "connection to db.internal:5432 refused";
        let e = Error::Store(kiln_store::Error::Corrupt {
            what: "task status",
            value: secret.into(),
        });
        let p = e.problem();
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("db.internal"), "{}", p.detail);
    }

    #[test]
    fn project_conflict_suggests_a_name_when_it_has_one() {
        let with = Error::ProjectExists {
            name: "demo".into(),
            suggestion: Some("demo-2".into()),
        };
        assert!(with.to_string().contains("e.g. \"demo-2\""), "{with}");
        let without = Error::ProjectExists {
            name: "demo".into(),
            suggestion: None,
        };
        assert!(!without.to_string().contains("e.g."), "{without}");
    }
}
