//! HTTP API service (`kiln serve api`): validates and stores tasks, serves lifecycle queries,
//! templates and projects, streams live task logs over WebSocket, and describes itself with
//! OpenAPI.
//!
//! Invariants: bad input is always a 4xx problem, never a 5xx; a request either stores all of
//! its effects (task, idempotency claim, audit entry, outbox rows) in one transaction or none;
//! the API publishes nothing to NATS directly, the outbox relay does.

mod apps;
mod audit;
pub mod auth;
mod compat;
mod cursor;
mod dashboard;
mod diff;
pub mod error;
mod github;
mod guards;
mod idempotency;
mod imports;
pub mod intake;
mod logs;
mod memory;
mod metrics;
pub mod model;
pub mod openapi;
mod pause;
mod people;
mod projects;
mod queries;
mod review;
mod search;
mod subscriptions;
mod system;
mod tasks;
mod templates;
mod tokens;
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
    /// Tasks one token may create per minute (a steady rate with a burst of the same size);
    /// past it, `POST /api/v1/tasks` answers 429 with `Retry-After`.
    pub tasks_per_minute: u32,
    /// Whether the person who requested a task may approve its release (off: a second
    /// person must).
    pub allow_self_approval: bool,
    /// How long a dashboard sign-in lasts, in hours.
    pub session_hours: u32,
    /// Mark the session cookies `Secure` (only sent over HTTPS): set it when the dashboard
    /// is served over HTTPS.
    pub secure_cookies: bool,
    /// Outbound webhooks (`[api.webhooks]`): retries and timeouts of the sender that runs in
    /// the API process.
    pub webhooks: kiln_webhooks::Config,
    /// `[api.telegram]`: commands and progress in Telegram (off without a bot token).
    pub telegram: intake::TelegramConfig,
    /// `[api.discord]`: the Discord interactions endpoint (off without a public key).
    pub discord: intake::DiscordConfig,
    /// `[api.jira]`: issues moved to a status become tasks (off without an API token).
    pub jira: intake::JiraConfig,
    /// Directories `file://` imports (`POST /api/v1/projects`) may read repositories from;
    /// empty (the default) refuses every `file://` URL.
    pub import_roots: Vec<PathBuf>,
    /// The `[llm]` section, set by the binary: revisions need a model, budgets need defaults.
    #[serde(skip)]
    pub llm: Option<kiln_llm::LlmConfig>,
    /// The `[github]` section, set by the binary: projects hosted on GitHub, and the
    /// publisher of their pull requests and checks, which runs in the API process.
    #[serde(skip)]
    pub github: kiln_github::Config,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_brief_chars: 20_000,
            max_body_bytes: 1 << 20,
            dashboard_dir: None,
            tasks_per_minute: 30,
            allow_self_approval: false,
            session_hours: 12,
            secure_cookies: false,
            webhooks: kiln_webhooks::Config::default(),
            telegram: intake::TelegramConfig::default(),
            discord: intake::DiscordConfig::default(),
            jira: intake::JiraConfig::default(),
            import_roots: Vec::new(),
            llm: None,
            github: kiln_github::Config::default(),
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
    #[error("[github] configuration")]
    GitHub(#[from] kiln_github::Error),
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
    pub limits: auth::SharedLimits,
    /// The GitHub client, when `[github]` is configured.
    pub github: Option<kiln_github::GitHub>,
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
        let github = kiln_github::GitHub::from_config(&config.github)?;
        Ok(Self(Arc::new(Shared {
            ctx,
            catalog,
            // Short: a person is waiting on the template list.
            registries: kiln_runtime::registries::Registries::new(std::time::Duration::from_secs(
                3,
            )),
            limits: Arc::new(auth::Limits::new(config.tasks_per_minute)),
            config,
            shutdown,
            github,
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
    let api = Router::new()
        .route(
            "/api/v1/tasks",
            get(tasks::list_tasks).post(tasks::create_task),
        )
        .route("/api/v1/tasks/ready", post(compat::ready))
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
            "/api/v1/projects/{name}/memory/proposals",
            get(review::list_proposals),
        )
        .route(
            "/api/v1/projects/{name}/memory/proposals/{id}",
            post(review::decide_proposal),
        )
        .route(
            "/api/v1/tasks/{id}/rounds/{round}/diff",
            get(diff::round_diff),
        )
        .route("/api/v1/templates", get(templates::list_templates))
        .route(
            "/api/v1/projects",
            get(projects::list_projects).post(imports::create_project),
        )
        .route("/api/v1/projects/{name}/knowledge", get(imports::knowledge))
        .route(
            "/api/v1/projects/{name}/settings",
            get(imports::get_settings).put(imports::put_settings),
        )
        .route("/api/v1/projects/{name}/search", get(search::search))
        .route(
            "/api/v1/projects/{name}/index",
            axum::routing::post(search::index),
        )
        .route(
            "/api/v1/projects/{name}/app",
            axum::routing::delete(apps::delete_app),
        )
        .route("/api/v1/audit", get(audit::list))
        .route(
            "/api/v1/tokens",
            get(tokens::list_tokens).post(tokens::create_token),
        )
        .route(
            "/api/v1/tokens/{id}",
            axum::routing::delete(tokens::revoke_token),
        )
        .route(
            "/api/v1/session",
            get(tokens::get_session)
                .post(tokens::sign_in)
                .delete(tokens::sign_out),
        )
        .route(
            "/api/v1/subscriptions",
            get(subscriptions::list).post(subscriptions::create),
        )
        .route(
            "/api/v1/subscriptions/{id}",
            axum::routing::delete(subscriptions::delete),
        )
        .route(
            "/api/v1/subscriptions/{id}/deliveries",
            get(subscriptions::deliveries),
        )
        .route("/ws/logs", get(logs::stream_logs))
        .route("/api/openapi.json", get(openapi::serve))
        .with_state(state.clone())
        .merge(system::router(&state))
        .merge(intake::router(&state))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ));
    api.merge(kiln_runtime::http::router(ctx))
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
    // The outbound webhook sender lives with the API: it needs no stage of its own, and it
    // stops with the API. An invalid `[api.webhooks]` is reported and nothing is sent.
    tokio::spawn({
        let (js, db, subjects, stop) = (
            ctx.js.clone(),
            ctx.db.clone(),
            ctx.subjects.clone(),
            shutdown.clone(),
        );
        let webhooks = config.webhooks.clone();
        async move {
            if let Err(e) = kiln_webhooks::run(js, db, &subjects, webhooks, stop).await {
                tracing::error!(error = %e, "outbound webhooks stopped");
            }
        }
    });
    let state = AppState::new(ctx, catalog, config, shutdown.clone())?;
    // The GitHub publisher lives with the API too: it only reads records and writes to
    // GitHub, and any number of replicas share the work (one per task at a time).
    if let Some(github) = state.github.clone() {
        let publisher = kiln_github::publish::Publisher {
            github,
            config: state.config.github.clone(),
            db: state.ctx.db.clone(),
            git_dir: state.ctx.data_dir.join("git"),
            git: kiln_git::Git::new(),
        };
        tokio::spawn(publisher.run(shutdown.clone()));
    }
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
