//! The service harness: everything a Kiln service process needs besides its own logic.
//!
//! Invariant: only this crate knows how to boot a process (config, telemetry, NATS,
//! Postgres, migrations, health, metrics, shutdown) and how work items are delivered.
//! Service crates implement [`harness::Handler`] and call [`Runtime::start`] and
//! [`Runtime::run`].

pub mod config;
pub mod control;
pub mod envelope;
pub mod harness;
pub mod http;
pub mod metrics;
pub mod nats;
pub mod registries;
pub mod relay;
pub mod tasklog;
pub mod telemetry;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kiln_contracts::Subjects;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio_util::sync::CancellationToken;

pub use config::{Config, Secret};
pub use harness::{Binding, Handler, HandlerError, Job, Next, RunStatus};
pub use tokio_util::sync::CancellationToken as Shutdown;

use crate::metrics::Metrics;
use crate::relay::RelayHandle;

/// Errors that stop a service from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::Error),
    #[error(transparent)]
    Prefix(#[from] kiln_contracts::subjects::InvalidPrefix),
    #[error("nats: {0}")]
    Nats(String),
    #[error("postgres")]
    Database(#[source] sqlx::Error),
    #[error("database migrations failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("shut down before the service was ready")]
    Cancelled,
    #[error("the harness closed")]
    Closed,
}

/// Settings of the harness a handler runs under (the `[runtime]` section, resolved).
#[derive(Debug, Clone)]
pub struct HarnessConfig {
    pub concurrency: usize,
    pub ack_wait_secs: u64,
    pub max_deliver: i64,
    pub retry_base_ms: u64,
    pub shutdown_grace_secs: u64,
}

/// What every handler can reach: connections, subjects, data directory, metrics.
pub struct Ctx {
    pub db: PgPool,
    pub nats: async_nats::Client,
    pub js: async_nats::jetstream::Context,
    pub subjects: Subjects,
    pub data_dir: PathBuf,
    /// Dependency caches shared across tasks (`runtime.cache_dir`, default `<data_dir>/cache`).
    pub cache_dir: PathBuf,
    pub service: &'static str,
    /// This replica's name in stage runs.
    pub worker: String,
    pub metrics: Metrics,
    pub config: HarnessConfig,
    /// The pause flags as this process last read them (decisions re-read Postgres).
    pub pause: control::PauseView,
    /// What this replica cannot do as configured (e.g. dense retrieval without its model):
    /// it keeps working, and says so in `/health` and in its heartbeats.
    pub warnings: Warnings,
    relay: RelayHandle,
}

/// A replica's standing warnings, by topic; setting a topic again replaces its message.
#[derive(Debug, Clone, Default)]
pub struct Warnings(Arc<std::sync::Mutex<std::collections::BTreeMap<String, String>>>);

impl Warnings {
    pub fn set(&self, topic: &str, message: impl Into<String>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(topic.to_owned(), message.into());
    }

    pub fn clear(&self, topic: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(topic);
    }

    /// Every message, in topic order.
    pub fn list(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

impl Ctx {
    /// Wakes the outbox relay after a transaction that wrote outbox rows.
    pub fn wake_relay(&self) {
        self.relay.wake();
    }

    /// The bare repository of `project`, shared by codegen, tester, reviewer, deployer, indexer.
    pub fn repo_path(&self, project: &str) -> PathBuf {
        self.data_dir.join("git").join(format!("{project}.git"))
    }

    /// A fresh scratch directory for one piece of work, removed when the guard drops.
    pub fn scratch(&self, label: &str) -> std::io::Result<Scratch> {
        let parent = self.data_dir.join("work").join(self.service);
        std::fs::create_dir_all(&parent)?;
        let path = parent.join(format!("{label}-{}", uuid::Uuid::new_v4().simple()));
        Ok(Scratch { path })
    }

    /// Moves a task to an intermediate status mid-work (e.g. `verifying`), with its event.
    pub async fn progress_status(
        &self,
        task_id: uuid::Uuid,
        status: kiln_store::TaskStatus,
        stage: kiln_contracts::Stage,
        summary: &str,
    ) -> Result<(), kiln_store::Error> {
        let mut tx = self.db.begin().await?;
        if kiln_store::tasks::set_status(&mut *tx, task_id, status, None).await? {
            kiln_store::delivery::enqueue(
                &mut *tx,
                &self.event_message(task_id, "status", status, stage, 0, summary),
            )
            .await?;
        }
        tx.commit().await?;
        self.wake_relay();
        Ok(())
    }
}

/// A scratch directory that is removed when dropped (also on error paths).
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %e, "scratch directory not removed");
        }
    }
}

/// A booted service process.
pub struct Runtime {
    pub cx: Arc<Ctx>,
    pub config: Config,
    relay: tokio::task::JoinHandle<()>,
    relay_stop: CancellationToken,
}

impl Runtime {
    /// Connects to NATS and Postgres (waiting for them while `shutdown` allows), applies
    /// migrations, ensures streams exist and starts the outbox relay.
    pub async fn start(
        config: Config,
        service: &'static str,
        shutdown: &CancellationToken,
    ) -> Result<Self, Error> {
        let subjects = Subjects::new(&config.nats.prefix)?;
        let nats = wait_for("nats", shutdown, || connect_nats(&config.nats)).await?;
        let js = async_nats::jetstream::new(nats.clone());
        nats::ensure_streams(&js, &subjects).await?;
        let db = wait_for("postgres", shutdown, || connect_db(&config)).await?;
        kiln_store::MIGRATOR
            .run(&db)
            .await
            .map_err(Error::Migrate)?;

        let worker = config.runtime.worker_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
            format!("{service}-{}@{}", std::process::id(), host.trim())
        });
        let metrics = Metrics::new();
        let relay = RelayHandle::default();
        let relay_stop = CancellationToken::new();
        let relay_task = tokio::spawn(relay::run(
            db.clone(),
            js.clone(),
            service,
            relay.clone(),
            metrics.clone(),
            relay_stop.clone(),
        ));
        let rc = &config.runtime;
        let cx = Arc::new(Ctx {
            db,
            nats,
            js,
            subjects,
            data_dir: rc.data_dir.clone(),
            cache_dir: rc
                .cache_dir
                .clone()
                .unwrap_or_else(|| rc.data_dir.join("cache")),
            service,
            worker,
            metrics,
            warnings: Warnings::default(),
            config: HarnessConfig {
                concurrency: rc.concurrency,
                ack_wait_secs: rc.ack_wait_secs,
                max_deliver: rc.max_deliver,
                retry_base_ms: rc.retry_base_ms,
                shutdown_grace_secs: rc.shutdown_grace_secs,
            },
            pause: control::PauseView::default(),
            relay,
        });
        tokio::spawn(heartbeat(cx.clone(), relay_stop.clone()));
        tokio::spawn(control::listen(cx.clone(), relay_stop.clone()));
        tracing::info!(service, worker = %cx.worker, prefix = %cx.subjects.prefix(), "runtime ready");
        Ok(Self {
            cx,
            config,
            relay: relay_task,
            relay_stop,
        })
    }

    /// Serves `/health` and `/metrics` on the `[runtime] http` address.
    pub async fn serve_health(&self, shutdown: &CancellationToken) -> Result<SocketAddr, Error> {
        let (addr, _handle) = http::serve(
            http::router(self.cx.clone()),
            self.config.runtime.http,
            shutdown.clone(),
        )
        .await?;
        tracing::info!(%addr, "health and metrics listening");
        Ok(addr)
    }

    /// Consumes work for `handler` until `shutdown`.
    pub async fn run<H: Handler>(
        &self,
        handler: H,
        shutdown: CancellationToken,
    ) -> Result<(), Error> {
        harness::run(self.cx.clone(), handler, shutdown).await
    }

    /// Stops the relay after a last drain of the outbox.
    pub async fn finish(self) {
        self.relay_stop.cancel();
        let _ = self.relay.await;
        self.cx.nats.flush().await.ok();
    }
}

/// Boots a stage service: runtime, health and metrics, the handler until `shutdown`, and a
/// last outbox drain. Every pipeline service's `run` is this call.
pub async fn serve_stage<H: Handler>(
    config: Config,
    service: &'static str,
    handler: H,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let runtime = Runtime::start(config, service, &shutdown).await?;
    runtime.serve_health(&shutdown).await?;
    runtime.run(handler, shutdown).await?;
    runtime.finish().await;
    Ok(())
}

/// Seconds between liveness beats; a replica silent for three beats is considered gone.
pub const HEARTBEAT_SECS: u64 = 5;

/// Publishes `{service, worker, started_at, beat_secs, warnings}` on `<prefix>.heartbeat.<service>`
/// so the API can show which replicas of which services are alive.
async fn heartbeat(cx: Arc<Ctx>, stop: CancellationToken) {
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let subject = cx.subjects.heartbeat(cx.service);
    let mut tick = tokio::time::interval(Duration::from_secs(HEARTBEAT_SECS));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let beat = serde_json::json!({
            "service": cx.service,
            "worker": cx.worker,
            "started_at": started_at,
            "beat_secs": HEARTBEAT_SECS,
            "warnings": cx.warnings.list(),
        });
        if let Err(e) = cx
            .nats
            .publish(subject.clone(), beat.to_string().into())
            .await
        {
            tracing::debug!(error = %e, "heartbeat not published");
        }
    }
}

/// Connects as `[nats] user` when set, with that identity's private inbox prefix (see
/// `kiln_contracts::permissions`). Refusals by the server's permissions (a publish or
/// subscription outside the allow lists) arrive only as events, so they are logged here.
async fn connect_nats(nats: &config::NatsConfig) -> Result<async_nats::Client, String> {
    let options = match (&nats.user, &nats.password) {
        (Some(user), password) => {
            let password = password.as_ref().map(Secret::expose).unwrap_or_default();
            let options =
                async_nats::ConnectOptions::with_user_and_password(user.clone(), password.into());
            match kiln_contracts::permissions::inbox_prefix(user) {
                Some(prefix) => options.custom_inbox_prefix(prefix),
                None => options,
            }
        }
        (None, Some(_)) => return Err("nats.password is set without nats.user".into()),
        (None, None) => async_nats::ConnectOptions::new(),
    };
    options
        .event_callback(|event| async move {
            if let async_nats::Event::ServerError(e) = event {
                tracing::warn!(error = %e, "nats server refused");
            }
        })
        .name("kiln")
        .connection_timeout(Duration::from_secs(5))
        .connect(&nats.url)
        .await
        .map_err(|e| e.to_string())
}

async fn connect_db(config: &Config) -> Result<PgPool, String> {
    PgPoolOptions::new()
        .max_connections(config.database.max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(config.database.url.expose())
        .await
        .map_err(|e| harness::error_chain(&e))
}

/// Retries `connect` with backoff until it succeeds or `shutdown` fires.
async fn wait_for<T, F, Fut>(
    what: &str,
    shutdown: &CancellationToken,
    mut connect: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let mut delay = Duration::from_millis(200);
    loop {
        match connect().await {
            Ok(v) => return Ok(v),
            Err(e) => tracing::warn!(error = %e, retry_in = ?delay, "waiting for {what}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => return Err(Error::Cancelled),
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
