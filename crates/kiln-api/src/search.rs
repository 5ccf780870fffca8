//! `GET /api/v1/projects/{name}/search`: hybrid retrieval over a project's code, asked of the
//! indexer over `<prefix>.rag.query` (it brings the index to the commit first), and
//! `POST /api/v1/projects/{name}/index` (`<prefix>.rag.index`), which only indexes.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use tracing::instrument;
use utoipa::{IntoParams, ToSchema};

use kiln_contracts::rag::{Mode, RagAnswer, RagIndex, RagIndexReply, RagQuery, RagReply};

use crate::error::{Error, Problem};
use crate::{AppState, queries};

/// Bringing a large repository's index to a new commit may take this long.
const SEARCH_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest query accepted, in characters.
const MAX_QUERY_CHARS: usize = 2000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What to look for: words, identifiers, paths, an error message.
    pub q: String,
    /// Files to return (1-50, default 10).
    pub k: Option<usize>,
    /// The commit to search (default: the project's base branch).
    pub commit: Option<String>,
    /// `hybrid` (default), `dense` or `sparse`.
    pub mode: Option<String>,
    /// Token budget of the snippets (100-32000, default 4000).
    pub budget: Option<usize>,
}

/// A ranked file.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchFile {
    pub path: String,
    pub score: f32,
    /// Its chunks among the candidates.
    pub chunks: usize,
}

/// Lines of a file, with where they are and what they define.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchSnippet {
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub lang: String,
    pub symbols: Vec<String>,
    pub score: f32,
    pub text: String,
}

/// What a search found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResult {
    pub project: String,
    /// The commit searched.
    pub commit: String,
    /// The ranking used: `hybrid`, `dense`, or `sparse` (also when the embedding model is missing).
    pub mode: String,
    /// Set when retrieval is degraded, e.g. BM25-only because the model is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    pub files: Vec<SearchFile>,
    pub snippets: Vec<SearchSnippet>,
    /// Tokens the snippets take.
    pub tokens: usize,
    pub took_ms: u64,
}

impl SearchResult {
    fn from_answer(project: String, a: RagAnswer) -> Self {
        Self {
            project,
            commit: a.commit,
            mode: a.mode.as_str().to_owned(),
            warning: a.warning,
            files: a
                .files
                .into_iter()
                .map(|f| SearchFile {
                    path: f.path,
                    score: f.score,
                    chunks: f.chunks,
                })
                .collect(),
            snippets: a
                .snippets
                .into_iter()
                .map(|s| SearchSnippet {
                    path: s.path,
                    start_line: s.start_line,
                    end_line: s.end_line,
                    lang: s.lang,
                    symbols: s.symbols,
                    score: s.score,
                    text: s.text,
                })
                .collect(),
            tokens: a.tokens,
            took_ms: a.took_ms,
        }
    }
}

/// Validates the parameters into the indexer's question.
fn question(project: &str, p: SearchParams) -> Result<RagQuery, Error> {
    let query = p.q.trim().to_owned();
    if query.is_empty() {
        return Err(Error::InvalidQuery("q must not be empty".into()));
    }
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(Error::InvalidQuery(format!(
            "q is {chars} characters long; the limit is {MAX_QUERY_CHARS}"
        )));
    }
    let k = p.k.unwrap_or(10);
    if !(1..=50).contains(&k) {
        return Err(Error::InvalidQuery(format!(
            "k must be between 1 and 50, not {k}"
        )));
    }
    let budget = p.budget.unwrap_or(4000);
    if !(100..=32_000).contains(&budget) {
        return Err(Error::InvalidQuery(format!(
            "budget must be between 100 and 32000 tokens, not {budget}"
        )));
    }
    let mode = match p.mode.as_deref() {
        None | Some("hybrid") => Mode::Hybrid,
        Some("dense") => Mode::Dense,
        Some("sparse") => Mode::Sparse,
        Some(other) => {
            return Err(Error::InvalidQuery(format!(
                "mode must be hybrid, dense or sparse, not {other:?}"
            )));
        }
    };
    if let Some(c) = &p.commit {
        check_commit(c)?;
    }
    Ok(RagQuery {
        project: project.to_owned(),
        commit: p.commit,
        query,
        k,
        budget_tokens: budget,
        paths: vec![],
        mode: Some(mode),
    })
}

/// Search a project's code.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/search",
    tag = "catalog",
    params(("name" = String, Path, description = "Project name"), SearchParams),
    responses(
        (status = 200, description = "Files and snippets, best first", body = SearchResult),
        (status = 400, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The project cannot be searched yet (no code, unknown commit)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No indexer is running", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(project = %name))]
pub async fn search(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Json<SearchResult>, Error> {
    let Query(params) = params.map_err(|e| Error::InvalidQuery(e.body_text()))?;
    let q = question(&name, params)?;
    if !queries::project_exists(&state.ctx.db, &name).await? {
        return Err(Error::ProjectNotFound(name));
    }
    let body = serde_json::to_vec(&q).unwrap_or_default();
    let request = async_nats::Request::new()
        .payload(body.into())
        .timeout(Some(SEARCH_TIMEOUT));
    let reply = state
        .ctx
        .nats
        .send_request(state.ctx.subjects.rag_query(), request)
        .await
        .map_err(|e| Error::Nats {
            context: "asking the indexer",
            message: e.to_string(),
        })?;
    match serde_json::from_slice::<RagReply>(&reply.payload) {
        Ok(RagReply::Answer(a)) => Ok(Json(SearchResult::from_answer(name, a))),
        Ok(RagReply::Failed { reason }) => Err(Error::SearchFailed {
            project: name,
            reason,
        }),
        Err(e) => Err(Error::Nats {
            context: "reading the indexer's answer",
            message: e.to_string(),
        }),
    }
}

/// What indexing a commit did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IndexResult {
    pub project: String,
    pub commit: String,
    /// Files of the commit in the index.
    pub files: usize,
    /// Files (re)written this time, with their chunks and lines; paths removed.
    pub written: usize,
    pub chunks: usize,
    pub lines: usize,
    pub deleted: usize,
    /// Files left out, by reason (`secret`, `binary`, `vendored`, `lockfile`, ...).
    pub skipped: std::collections::BTreeMap<String, usize>,
    /// Set when dense vectors could not be made (retrieval is BM25-only until fixed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    pub took_ms: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IndexParams {
    /// The commit to index (default: the project's base branch).
    pub commit: Option<String>,
}

/// Index a project's code now.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{name}/index",
    tag = "catalog",
    params(("name" = String, Path, description = "Project name"), IndexParams),
    responses(
        (status = 200, description = "The index holds the commit", body = IndexResult),
        (status = 400, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The project cannot be indexed (no code, unknown commit)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No indexer is running", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(project = %name))]
pub async fn index(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Result<Query<IndexParams>, QueryRejection>,
) -> Result<Json<IndexResult>, Error> {
    let Query(params) = params.map_err(|e| Error::InvalidQuery(e.body_text()))?;
    if let Some(c) = &params.commit {
        check_commit(c)?;
    }
    if !queries::project_exists(&state.ctx.db, &name).await? {
        return Err(Error::ProjectNotFound(name));
    }
    let body = serde_json::to_vec(&RagIndex {
        project: name.clone(),
        commit: params.commit,
    })
    .unwrap_or_default();
    let request = async_nats::Request::new()
        .payload(body.into())
        .timeout(Some(SEARCH_TIMEOUT));
    let reply = state
        .ctx
        .nats
        .send_request(state.ctx.subjects.rag_index(), request)
        .await
        .map_err(|e| Error::Nats {
            context: "asking the indexer",
            message: e.to_string(),
        })?;
    match serde_json::from_slice::<RagIndexReply>(&reply.payload) {
        Ok(RagIndexReply::Indexed(d)) => Ok(Json(IndexResult {
            project: name,
            commit: d.commit,
            files: d.files,
            written: d.written,
            chunks: d.chunks,
            lines: d.lines,
            deleted: d.deleted,
            skipped: d.skipped,
            warning: d.warning,
            took_ms: d.took_ms,
        })),
        Ok(RagIndexReply::Failed { reason }) => Err(Error::SearchFailed {
            project: name,
            reason,
        }),
        Err(e) => Err(Error::Nats {
            context: "reading the indexer's answer",
            message: e.to_string(),
        }),
    }
}

/// A commit named in a query string: a hexadecimal object id, nothing git could read as
/// an option or a revision expression.
pub(crate) fn check_commit(c: &str) -> Result<(), Error> {
    if c.is_empty() || c.len() > 64 || !c.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::InvalidQuery(format!(
            "commit must be a hexadecimal commit id, not {c:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> SearchParams {
        SearchParams {
            q: q.into(),
            k: None,
            commit: None,
            mode: None,
            budget: None,
        }
    }

    #[test]
    fn bad_parameters_are_refused_with_the_reason() {
        let err = |p| question("shop", p).unwrap_err().to_string();
        assert!(err(params("  ")).contains("q must not be empty"));
        assert!(err(params(&"x".repeat(2001))).contains("limit is 2000"));
        assert!(
            err(SearchParams {
                k: Some(0),
                ..params("a")
            })
            .contains("k must be between 1 and 50")
        );
        assert!(
            err(SearchParams {
                mode: Some("magic".into()),
                ..params("a")
            })
            .contains("hybrid, dense or sparse")
        );
        assert!(
            err(SearchParams {
                commit: Some("main; rm".into()),
                ..params("a")
            })
            .contains("hexadecimal")
        );
        assert!(
            err(SearchParams {
                budget: Some(5),
                ..params("a")
            })
            .contains("budget")
        );
        let ok = question(
            "shop",
            SearchParams {
                k: Some(3),
                ..params(" cart total ")
            },
        )
        .unwrap();
        assert_eq!(
            (ok.query.as_str(), ok.k, ok.mode),
            ("cart total", 3, Some(Mode::Hybrid))
        );
    }
}
