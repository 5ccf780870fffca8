//! The web dashboard: the built frontend (`frontend/dist`) served at `/` by the API itself, so
//! the dashboard and the API share one origin and no CORS or second server is needed.
//!
//! Any path that is not an API route and not a file is a dashboard route (`/tasks/<id>`,
//! `/projects`, ...) and gets `index.html`, the single-page app's entry. The app is built with
//! relative asset URLs; `index.html` is answered with a `<base href>` that leads from the
//! requested path back to the dashboard's root (`../` for `/tasks/<id>`), so it works at `/`
//! and behind a reverse proxy that mounts it under any prefix. API paths (`/api`, `/ws`,
//! `/health`, `/metrics`) keep their routes and their problem responses.

use std::path::{Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::AppState;
use crate::error::{Problem, problem_response};

/// Cache policy of content-hashed build output (`assets/`): it never changes under its name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache policy of everything else: revalidate, so a new build shows at once.
const REVALIDATE: &str = "no-cache";
/// The `<base>` the entry document is built with; replaced per request.
const BASE_MARKER: &str = "<base href=\"/\"";

/// Prefixes that belong to the API even when no route matches below them.
const API_PREFIXES: [&str; 4] = ["/api", "/ws", "/health", "/metrics"];

/// The router's fallback: the dashboard when `dashboard_dir` is set, a 404 problem otherwise.
pub fn fallback(state: AppState) -> MethodRouter {
    any(serve).with_state(state)
}

async fn serve(State(state): State<AppState>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let dir = match &state.config.dashboard_dir {
        Some(dir) if !is_api_path(&path) => dir.clone(),
        _ => return crate::not_found(req.uri().clone()).await.into_response(),
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return crate::method_not_allowed(req.method().clone(), req.uri().clone())
            .await
            .into_response();
    }
    if path == "/" || path == "/index.html" {
        return index(&dir, &path).await;
    }
    let uri = req.uri().clone();
    let served = match ServeDir::new(&dir)
        .append_index_html_on_directories(false)
        .oneshot(req)
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if served.status() != StatusCode::NOT_FOUND {
        let mut response = served.into_response();
        let policy = if path.starts_with("/assets/") && response.status().is_success() {
            IMMUTABLE
        } else {
            REVALIDATE
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
        return response;
    }
    // A missing file (anything with an extension) is a 404, not the app: a script tag that
    // got HTML back would fail in a confusing way.
    let last = path.rsplit('/').next().unwrap_or_default();
    if last.contains('.') {
        return crate::not_found(uri).await.into_response();
    }
    index(&dir, &path).await
}

fn is_api_path(path: &str) -> bool {
    API_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The `<base href>` leading from `path` back to the dashboard's root, relative so that it
/// holds under any mount prefix: `./` for `/` and `/tasks`, `../` for `/tasks/<id>`.
pub fn relative_base(path: &str) -> String {
    let depth = path.matches('/').count().saturating_sub(1);
    if depth == 0 {
        "./".to_owned()
    } else {
        "../".repeat(depth)
    }
}

/// `index.html` with its base set for `path`, never cached.
async fn index(dir: &Path, path: &str) -> Response {
    let file: PathBuf = dir.join("index.html");
    let html = match tokio::fs::read_to_string(&file).await {
        Ok(html) => html,
        Err(e) => {
            tracing::warn!(error = %e, file = %file.display(), "dashboard entry not readable");
            let problem = Problem {
                type_: "urn:kiln:problem:dashboard-missing".to_owned(),
                title: "Dashboard not built".to_owned(),
                status: StatusCode::NOT_FOUND.as_u16(),
                detail: format!(
                    "the dashboard is not built ({} is missing); run `npm run build` in frontend/",
                    file.display()
                ),
            };
            return problem_response(StatusCode::NOT_FOUND, &problem);
        }
    };
    let base = format!("<base href=\"{}\"", relative_base(path));
    let html = html.replacen(BASE_MARKER, &base, 1);
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE)),
        ],
        html,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_leads_back_to_the_root() {
        assert_eq!(relative_base("/"), "./");
        assert_eq!(relative_base("/tasks"), "./");
        assert_eq!(relative_base("/tasks/"), "../");
        assert_eq!(relative_base("/tasks/0190"), "../");
        assert_eq!(relative_base("/a/b/c"), "../../");
    }

    #[test]
    fn api_paths_are_recognised_by_segment() {
        for api in [
            "/api",
            "/api/v1/nope",
            "/ws",
            "/ws/other",
            "/health",
            "/metrics",
        ] {
            assert!(is_api_path(api), "{api}");
        }
        for app in ["/", "/tasks/1", "/apiary", "/healthz", "/system"] {
            assert!(!is_api_path(app), "{app}");
        }
    }
}
