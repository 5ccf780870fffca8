//! `POST /api/v1/projects`: attach an existing repository (mirrored with its history), and
//! `GET /api/v1/projects/{name}/knowledge`: what Kiln learned about a commit of it.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use tracing::instrument;
use utoipa::{IntoParams, ToSchema};

use kiln_contracts::rag::{RagIndex, RagIndexReply};
use kiln_git::{ImportError, ImportUrl};
use kiln_store::audit;

use crate::auth::Principal;
use crate::error::{Error, Problem};
use crate::{AppState, queries};

/// How long mirroring a repository may take.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(600);

/// Where to mirror the repository from.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportSource {
    /// `https://host/owner/repo.git`, `ssh://git@host/owner/repo.git`, or `file:///path`
    /// inside `[api] import_roots`. Credentials in the URL are used for the clone only and
    /// never stored, logged or shown.
    pub url: String,
    /// The branch to import (default `main`); it becomes the project's base branch.
    pub branch: Option<String>,
}

/// A new project: an existing repository mirrored in (`import`), or a repository on GitHub
/// that the project is bound to (`host: "github"`), created there first when `create` is
/// true.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    /// Project name: lowercase letters, digits and '-'.
    pub name: String,
    /// Mirror an existing repository from any git host (not with `host`).
    pub import: Option<ImportSource>,
    /// `github`: the project's code lives in `repository` on GitHub; Kiln mirrors its default
    /// branch and publishes every task as a pull request with check runs.
    pub host: Option<String>,
    /// `owner/name` on GitHub (with `host`).
    pub repository: Option<String>,
    /// Create `repository` on GitHub (default false: bind one that exists).
    pub create: Option<bool>,
    /// `private` (default) or `public`, for a repository Kiln creates.
    pub visibility: Option<String>,
    /// When Kiln merges an approved pull request: `auto` (the default: once the gate
    /// approves) or `on_approval` (once a person other than the requester approved too, in
    /// Kiln, with `/kiln approve` on the pull request, or with an approving review).
    pub merge_policy: Option<String>,
    /// Write each task's plan as a tracking issue on GitHub, one task-list item per story,
    /// closed once the pull request is merged (default false).
    pub plan_as_issues: Option<bool>,
}

/// The imported project.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectImported {
    pub name: String,
    /// `local`, or `github` for a project bound to a GitHub repository.
    pub host: String,
    /// `owner/name` on GitHub, for a GitHub project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The source, credentials masked.
    pub source_url: String,
    pub branch: String,
    /// The imported branch's head, now the project's base branch.
    pub commit: String,
    /// Commits of its history.
    pub commits: u64,
}

/// Import an existing repository as a project.
#[utoipa::path(
    post,
    path = "/api/v1/projects",
    tag = "catalog",
    request_body = CreateProject,
    responses(
        (status = 201, description = "Mirrored (and, for GitHub, bound to the repository); indexing and the knowledge scan follow", body = ProjectImported),
        (status = 502, description = "GitHub could not be reached or refused the request", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Malformed JSON or a body that does not match the schema", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken, or the repository could not be mirrored (unreachable, private, no such branch, empty)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid name, URL, branch, host, repository, visibility or merge policy, or GitHub is not configured", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all)]
pub async fn create_project(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ProjectImported>), Error> {
    crate::tasks::check_content_type(&headers)?;
    let body = body.map_err(|r| crate::tasks::body_error(r, state.config.max_body_bytes))?;
    let request: CreateProject = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            Error::InvalidBody(e.to_string())
        } else {
            Error::MalformedJson(e.to_string())
        }
    })?;
    let name = crate::validate::project_name(request.name.clone())?;
    let (url, branch, bound) = match (&request.import, request.host.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(Error::InvalidBody(
                "give either `import` or `host`, not both".into(),
            ));
        }
        (None, None) => {
            return Err(Error::InvalidBody(
                "give `import` (a repository to mirror) or `host: \"github\"` with `repository`"
                    .into(),
            ));
        }
        (Some(import), None) => {
            if request.repository.is_some()
                || request.create.is_some()
                || request.visibility.is_some()
                || request.merge_policy.is_some()
                || request.plan_as_issues.is_some()
            {
                return Err(Error::InvalidBody(
                    "`repository`, `create`, `visibility`, `merge_policy` and `plan_as_issues` go with `host`".into(),
                ));
            }
            let branch = import
                .branch
                .clone()
                .unwrap_or_else(|| kiln_git::BASE_BRANCH.to_owned());
            let url = ImportUrl::parse(&import.url, &state.config.import_roots)
                .map_err(|e| Error::ImportRefused(e.to_string()))?;
            if queries::project_exists(&state.ctx.db, &name).await? {
                return Err(Error::ProjectExists {
                    name,
                    suggestion: None,
                });
            }
            (url, branch, None)
        }
        (None, Some(host)) => {
            let bound = crate::github::prepare(&state, &name, host, &request).await?;
            (bound.url.clone(), bound.branch.clone(), Some(bound))
        }
    };
    let repo = state.ctx.repo_path(&name);
    let git = kiln_git::Git::new();
    let imported = tokio::time::timeout(IMPORT_TIMEOUT, git.import(&url, &branch, &repo))
        .await
        .map_err(|_| {
            Error::ImportFailed(format!(
                "mirroring {} took longer than {} s",
                url.shown(),
                IMPORT_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| match e {
            ImportError::InvalidUrl(_) | ImportError::InvalidBranch(_) => {
                Error::ImportRefused(e.to_string())
            }
            other => Error::ImportFailed(other.to_string()),
        })?;
    // The repository is in place; the row makes it a project. Losing the race for the name
    // (or the database) removes the mirror again, so nothing half-made stays.
    let id = uuid::Uuid::now_v7();
    let mut tx = state.ctx.db.begin().await?;
    let claimed = match &bound {
        None => {
            kiln_store::knowledge::insert_imported(&mut *tx, id, &name, url.shown(), &branch).await
        }
        Some(b) => {
            let repository = b.repository.to_string();
            let project = kiln_store::github::NewProject {
                id,
                name: &name,
                repository: &repository,
                source_url: url.shown(),
                branch: &branch,
                merge_policy: &b.merge_policy,
                plan_as_issues: b.plan_as_issues,
            };
            kiln_store::github::insert_project(&mut *tx, &project).await
        }
    };
    let claimed = match claimed {
        Ok(true) => {
            let entry = match &bound {
                None => who
                    .audit("project.imported", &name)
                    .detail(serde_json::json!({ "url": url.shown(), "branch": branch, "commit": imported.commit })),
                Some(b) => who.audit("project.bound", &name).detail(serde_json::json!({
                    "host": "github",
                    "repository": b.repository.to_string(),
                    "created": b.created,
                    "branch": branch,
                    "commit": imported.commit,
                    "merge_policy": b.merge_policy,
                    "plan_as_issues": b.plan_as_issues,
                })),
            };
            match audit::append(&mut *tx, &entry).await {
                Ok(()) => tx.commit().await.map_err(kiln_store::Error::from),
                Err(e) => Err(e),
            }
            .map(|()| true)
        }
        Ok(false) => Ok(false),
        Err(e) => Err(e),
    };
    if !matches!(claimed, Ok(true)) {
        let _ = tokio::fs::remove_dir_all(&repo).await;
    }
    if !claimed? {
        return Err(Error::ProjectExists {
            name,
            suggestion: None,
        });
    }
    tracing::info!(project = %name, url = %url.shown(), commit = %imported.commit, "repository imported");
    // Index and scan right away when an indexer runs; otherwise the first search, index or
    // knowledge request does it.
    let (bg, project, commit) = (state.clone(), name.clone(), imported.commit.clone());
    tokio::spawn(async move { ask_index(&bg, &project, &commit).await });
    Ok((
        StatusCode::CREATED,
        Json(ProjectImported {
            name,
            host: if bound.is_some() { "github" } else { "local" }.to_owned(),
            repository: bound.as_ref().map(|b| b.repository.to_string()),
            source_url: url.shown().to_owned(),
            branch,
            commit: imported.commit,
            commits: imported.commits,
        }),
    ))
}

/// Asks the indexer to index (and scan) `commit` of `project`, waiting for it; a missing
/// indexer is not an error here (the caller reports what is stored).
async fn ask_index(state: &AppState, project: &str, commit: &str) {
    let ask = RagIndex {
        project: project.to_owned(),
        commit: Some(commit.to_owned()),
    };
    let body = serde_json::to_vec(&ask).unwrap_or_default();
    let request = async_nats::Request::new()
        .payload(body.into())
        .timeout(Some(IMPORT_TIMEOUT));
    let reply = state
        .ctx
        .nats
        .send_request(state.ctx.subjects.rag_index(), request)
        .await;
    match reply {
        Err(e) => tracing::info!(project, error = %e, "not indexed yet: no indexer answered"),
        Ok(reply) => {
            if let Ok(RagIndexReply::Failed { reason }) = serde_json::from_slice(&reply.payload) {
                tracing::warn!(project, %reason, "indexing failed");
            }
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KnowledgeParams {
    /// The commit (default: the head of the project's base branch).
    pub commit: Option<String>,
}

/// What Kiln learned about one commit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectKnowledge {
    pub project: String,
    pub commit: String,
    #[schema(value_type = String, format = DateTime)]
    pub scanned_at: String,
    /// Languages by lines, build systems, frameworks, install/build/test commands, entry
    /// points, a directory map, conventions, flagged secrets (paths only), a summary, and
    /// which fields `.kiln/project.toml` overrode.
    #[schema(value_type = Object)]
    pub knowledge: serde_json::Value,
}

/// Show a project's knowledge.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/knowledge",
    tag = "catalog",
    params(("name" = String, Path, description = "Project name"), KnowledgeParams),
    responses(
        (status = 200, description = "The knowledge of the commit", body = ProjectKnowledge),
        (status = 400, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or the commit could not be scanned yet (no indexer answered)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(project = %name))]
pub async fn knowledge(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Result<Query<KnowledgeParams>, QueryRejection>,
) -> Result<Json<ProjectKnowledge>, Error> {
    let Query(params) = params.map_err(|e| Error::InvalidQuery(e.body_text()))?;
    if let Some(c) = &params.commit {
        crate::search::check_commit(c)?;
    }
    if !queries::project_exists(&state.ctx.db, &name).await? {
        return Err(Error::ProjectNotFound(name));
    }
    // The base branch's head when no commit is named: scanned now if it was not yet (the
    // indexer scans every commit it indexes; this catches commits it never saw).
    let commit = match params.commit {
        Some(c) => Some(c),
        None => kiln_git::Git::new()
            .branch_head(&state.ctx.repo_path(&name), kiln_git::BASE_BRANCH)
            .await
            .ok()
            .flatten(),
    };
    let commit = commit.ok_or_else(|| Error::NoKnowledge(name.clone()))?;
    let learned = kiln_learn::ensure(
        &state.ctx.db,
        &kiln_git::Git::new(),
        &name,
        &state.ctx.repo_path(&name),
        &commit,
    )
    .await
    .map_err(|e| match e {
        kiln_learn::Error::Store(e) => Error::Store(e),
        other => {
            tracing::info!(error = %kiln_runtime::harness::error_chain(&other), "no knowledge");
            Error::NoKnowledge(name.clone())
        }
    })?
    .ok_or_else(|| Error::ProjectNotFound(name.clone()))?;
    let scanned_at = kiln_store::knowledge::get(&state.ctx.db, &name, Some(&commit))
        .await?
        .map(|s| s.scanned_at)
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    Ok(Json(ProjectKnowledge {
        project: name,
        commit,
        scanned_at: scanned_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        knowledge: serde_json::to_value(&learned.knowledge).unwrap_or_default(),
    }))
}

/// A project's settings: the overrides of `.kiln/project.toml`, given through the API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectSettings {
    pub project: String,
    /// `commands` (`install`, `build`, `test`, `lint`, `run`; `""` means none), `summary`,
    /// `frameworks`, `entry_points`, `deploy`, `protected_paths`; `null` when none are set.
    #[schema(value_type = Option<Object>, required = true)]
    pub settings: Option<serde_json::Value>,
}

/// Show a project's settings.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/settings",
    tag = "catalog",
    params(("name" = String, Path, description = "Project name")),
    responses(
        (status = 200, description = "The settings", body = ProjectSettings),
        (status = 404, description = "No such project", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(project = %name))]
pub async fn get_settings(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ProjectSettings>, Error> {
    if !queries::project_exists(&state.ctx.db, &name).await? {
        return Err(Error::ProjectNotFound(name));
    }
    let settings = kiln_store::knowledge::settings(&state.ctx.db, &name).await?;
    Ok(Json(ProjectSettings {
        project: name,
        settings,
    }))
}

/// Replace a project's settings. They override what Kiln detected and what the
/// repository's `.kiln/project.toml` says, for every commit, from the next stage that reads
/// them; `{}` clears them.
#[utoipa::path(
    put,
    path = "/api/v1/projects/{name}/settings",
    tag = "catalog",
    params(("name" = String, Path, description = "Project name")),
    request_body(content = Object, description = "The fields of .kiln/project.toml as JSON, without `ignore`"),
    responses(
        (status = 200, description = "Stored", body = ProjectSettings),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown field or an invalid value, named", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(project = %name))]
pub async fn put_settings(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ProjectSettings>, Error> {
    crate::tasks::check_content_type(&headers)?;
    let body = body.map_err(|r| crate::tasks::body_error(r, state.config.max_body_bytes))?;
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| Error::MalformedJson(e.to_string()))?;
    if !value.is_object() {
        return Err(Error::InvalidSettings(
            "settings must be a JSON object".into(),
        ));
    }
    let overrides = kiln_knowledge::parse_project_json(&value.to_string())
        .map_err(|e| Error::InvalidSettings(e.to_string()))?;
    if !overrides.ignore.is_empty() {
        return Err(Error::InvalidSettings(
            "`ignore`: what is indexed is decided by the repository's own .kiln/project.toml, \
             not by settings"
                .into(),
        ));
    }
    let stored = value
        .as_object()
        .is_some_and(|o| !o.is_empty())
        .then_some(value);
    let mut tx = state.ctx.db.begin().await?;
    if !kiln_store::knowledge::set_settings(&mut *tx, &name, stored.as_ref()).await? {
        return Err(Error::ProjectNotFound(name));
    }
    audit::append(
        &mut *tx,
        &who.audit("project.settings", &name)
            .detail(serde_json::json!({ "settings": stored })),
    )
    .await?;
    tx.commit().await.map_err(kiln_store::Error::from)?;
    Ok(Json(ProjectSettings {
        project: name,
        settings: stored,
    }))
}
