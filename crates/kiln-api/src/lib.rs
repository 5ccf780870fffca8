//! HTTP API service (`kiln serve api`): validates and stores tasks, serves lifecycle queries,
//! templates and projects, streams live task logs over WebSocket, and describes itself with
//! OpenAPI.
//!
//! Invariants: bad input is always a 4xx problem, never a 5xx; a request either stores all of
//! its effects (task, idempotency claim, audit entry, outbox rows) in one transaction or none;
//! the API publishes nothing to NATS directly, the outbox relay does.

mod apps;
mod cursor;
mod dashboard;
mod diff;
pub mod error;
mod idempotency;
mod logs;
mod memory;
mod metrics;
pub mod model;
pub mod openapi;
mod people;
mod projects;
mod queries;
mod system;
mod tasks;
mod templates;
mod validate;

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{get, post};
use kiln_runtime::{Ctx, Runtime, Shutdown};
use kiln_templates::Catalog;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

pub use error::{Error, PROBLEM_JSON, Problem};
pub use tasks::{IDEMPOTENCY_KEY, IDEMPOTENCY_REPLAYED};

/// API settings (`[api]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the API (with `/health` and `/metrics`) listens on; port 0 picks one.
    pub http: SocketAddr,
    /// Longest brief accepted, in characters after trimming.
    pub max_brief_chars: usize,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Built dashboard (`frontend/dist`) to serve at `/`; none serves only the API.
    pub dashboard_dir: Option<PathBuf>,
    /// The `[llm]` section, set by the binary: revisions need a model, budgets need defaults.
    #[serde(skip)]
    pub llm: Option<kiln_llm::LlmConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_brief_chars: 20_000,
            max_body_bytes: 1 << 20,
            dashboard_dir: None,
            llm: None,
        }
    }
}

/// Why the API could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("runtime")]
    Runtime(#[from] kiln_runtime::Error),
    #[error("templates could not be loaded")]
    Templates(#[from] kiln_templates::Error),
    #[error("api metrics could not be created")]
    Metrics(#[from] prometheus::Error),
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub ctx: Arc<Ctx>,
    pub catalog: Catalog,
    /// Reachability of the templates' package registries (probes remembered for a minute).
    pub registries: kiln_runtime::registries::Registries,
    pub config: Config,
    /// Cancelled at shutdown; open log streams close when it fires.
    pub shutdown: CancellationToken,
    metrics: metrics::ApiMetrics,
}

impl AppState {
    /// Registers the API's metrics in the runtime's registry.
    pub fn new(
        ctx: Arc<Ctx>,
        catalog: Catalog,
        config: Config,
        shutdown: CancellationToken,
    ) -> Result<Self, RunError> {
        let metrics = metrics::ApiMetrics::register(&ctx.metrics.registry)?;
        Ok(Self(Arc::new(Shared {
            ctx,
            catalog,
            // Short: a person is waiting on the template list.
            registries: kiln_runtime::registries::Registries::new(std::time::Duration::from_secs(
                3,
            )),
            config,
            shutdown,
            metrics,
        })))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Every route of the API, plus `/health` and `/metrics`.
pub fn router(state: AppState) -> Router {
    let ctx = state.ctx.clone();
    let max_body = state.config.max_body_bytes;
    Router::new()
        .route(
            "/api/v1/tasks",
            get(tasks::list_tasks).post(tasks::create_task),
        )
        .route("/api/v1/tasks/{id}", get(tasks::get_task))
        .route("/api/v1/tasks/{id}/cancel", post(tasks::cancel_task))
        .route("/api/v1/tasks/{id}/approve", post(people::approve))
        .route("/api/v1/tasks/{id}/reject", post(people::reject))
        .route("/api/v1/tasks/{id}/answers", post(people::answers))
        .route(
            "/api/v1/projects/{name}/memory",
            get(memory::list).post(memory::add),
        )
        .route(
            "/api/v1/projects/{name}/memory/{id}",
            axum::routing::put(memory::edit).delete(memory::delete),
        )
        .route(
            "/api/v1/tasks/{id}/rounds/{round}/diff",
            get(diff::round_diff),
        )
        .route("/api/v1/templates", get(templates::list_templates))
        .route("/api/v1/projects", get(projects::list_projects))
        .route(
            "/api/v1/projects/{name}/app",
            axum::routing::delete(apps::delete_app),
        )
        .route("/ws/logs", get(logs::stream_logs))
        .route("/api/openapi.json", get(openapi::serve))
        .with_state(state.clone())
        .merge(kiln_runtime::http::router(ctx))
        .merge(system::router(&state))
        .fallback_service(dashboard::fallback(state.clone()))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state, metrics::track))
        .layer(DefaultBodyLimit::max(max_body))
}

async fn not_found(uri: Uri) -> Error {
    Error::RouteNotFound {
        path: uri.path().to_owned(),
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> Error {
    Error::MethodNotAllowed {
        method,
        path: uri.path().to_owned(),
    }
}

/// Serves the API on `config.http` until `shutdown`; returns the bound address.
pub async fn serve(
    runtime_ctx: Arc<Ctx>,
    catalog: Catalog,
    config: Config,
    shutdown: CancellationToken,
) -> Result<SocketAddr, RunError> {
    let (addr, _server) = start(runtime_ctx, catalog, config, shutdown).await?;
    Ok(addr)
}

async fn start(
    ctx: Arc<Ctx>,
    catalog: Catalog,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), RunError> {
    let http = config.http;
    let state = AppState::new(ctx, catalog, config, shutdown.clone())?;
    let (addr, server) = kiln_runtime::http::serve(router(state), http, shutdown).await?;
    tracing::info!(%addr, "api listening");
    Ok((addr, server))
}

/// Runs the API service until `shutdown`.
pub async fn run(
    base: kiln_runtime::Config,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let catalog = Catalog::load(base.runtime.templates_dir.as_deref())?;
    let runtime = Runtime::start(base, "api", &shutdown).await?;
    let grace = Duration::from_secs(runtime.cx.config.shutdown_grace_secs);
    let server = match start(runtime.cx.clone(), catalog, config, shutdown.clone()).await {
        Ok((_, server)) => server,
        Err(e) => {
            runtime.finish().await;
            return Err(e);
        }
    };
    shutdown.cancelled().await;
    if tokio::time::timeout(grace, server).await.is_err() {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "requests still running at the end of the grace period"
        );
    }
    runtime.finish().await;
    Ok(())
}
