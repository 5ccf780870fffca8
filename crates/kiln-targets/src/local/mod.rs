//! The local target: apps run on this machine behind one reverse proxy, which is how a single
//! box (or a developer laptop) serves every app Kiln builds without extra infrastructure.
//!
//! Under a sandbox that isolates the network, an app reaches nothing but its own database
//! (through `dbgate`) and is reached only through the proxy (over `network`'s socket).

mod dbgate;
mod network;
mod process;
mod proxy;
mod release;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tracing::{info, warn};

use crate::{DeploySpec, Deployed, Error, ServeKind, Target, Verification};
use process::{Health, Instance, Launch, Policy};

/// Tuning for [`LocalTarget`]; the defaults suit production, tests shorten the waits.
#[derive(Clone, Debug)]
pub struct LocalConfig {
    /// How long a new process may take to accept connections on its port.
    pub readiness_timeout: Duration,
    /// Time between SIGTERM and SIGKILL when stopping a process.
    pub stop_grace: Duration,
    /// First restart delay after a crash; it doubles per crash in `crash_window`.
    pub restart_backoff_initial: Duration,
    pub restart_backoff_max: Duration,
    /// Crashes within `crash_window` after which an app is given up until redeployed.
    pub max_crashes: u32,
    pub crash_window: Duration,
    /// How long `verify` keeps retrying requests to a warming app.
    pub verify_window: Duration,
    /// Output lines kept per app for [`LocalTarget::logs`].
    pub log_lines: usize,
    /// `PATH` given to app processes. The crate never reads the environment, so a deployer that
    /// wants apps to see its own `PATH` passes it here.
    pub app_path: String,
    /// Runs app processes isolated: each sees its release directory (writable) and the
    /// read-only system and toolchains, but nothing else of the data directory, no other
    /// process and no host secret. Under bubblewrap each also has a network of its own: the
    /// proxy reaches it over a Unix socket, and its `DATABASE_URL` leads (through a gate that
    /// admits only its own role or user and database) to its database and nowhere else.
    /// `None` runs apps directly as the deployer's user.
    pub sandbox: Option<kiln_sandbox::Sandbox>,
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig {
            readiness_timeout: Duration::from_secs(20),
            stop_grace: Duration::from_secs(5),
            restart_backoff_initial: Duration::from_secs(1),
            restart_backoff_max: Duration::from_secs(30),
            max_crashes: 5,
            crash_window: Duration::from_secs(60),
            verify_window: Duration::from_secs(10),
            log_lines: 200,
            app_path: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            sandbox: None,
        }
    }
}

/// Deploys apps into a data directory on this machine and serves them under
/// `{public_base_url}/apps/<app>/` through [`LocalTarget::router`].
///
/// Cloning is cheap and clones share state. Process deploys must be awaited on a tokio worker
/// or the runtime's main thread (not inside `spawn_blocking`): on Linux, apps are killed when
/// the thread that spawned them exits.
#[derive(Clone, Debug)]
pub struct LocalTarget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    root: PathBuf,
    base_url: String,
    public_scheme: String,
    public_authority: String,
    config: LocalConfig,
    apps: Mutex<HashMap<String, Live>>,
    /// Serialises deploys and stops per app; different apps proceed in parallel.
    deploy_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    client: Client<HttpConnector, Body>,
}

#[derive(Debug)]
struct Live {
    commit: String,
    deployed: Deployed,
    serve: Serve,
}

#[derive(Clone, Debug)]
pub(crate) enum Serve {
    Static { dir: PathBuf },
    Process { instance: Arc<Instance> },
}

impl Inner {
    pub(crate) fn serve_for(&self, app: &str) -> Option<Serve> {
        let apps = self.apps.lock().unwrap_or_else(PoisonError::into_inner);
        apps.get(app).map(|live| live.serve.clone())
    }

    fn deploy_lock(&self, app: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .deploy_locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        locks.entry(app.to_owned()).or_default().clone()
    }

    fn policy(&self) -> Policy {
        let config = &self.config;
        Policy {
            readiness_timeout: config.readiness_timeout,
            stop_grace: config.stop_grace,
            backoff_initial: config.restart_backoff_initial,
            backoff_max: config.restart_backoff_max,
            max_crashes: config.max_crashes.max(1),
            crash_window: config.crash_window,
            log_lines: config.log_lines,
        }
    }
}

impl LocalTarget {
    /// `root` is a data directory this target owns; `public_base_url` (e.g.
    /// `http://127.0.0.1:8081`) is where [`LocalTarget::router`] is reachable.
    pub fn new(root: PathBuf, public_base_url: String) -> Self {
        Self::with_config(root, public_base_url, LocalConfig::default())
    }

    pub fn with_config(root: PathBuf, public_base_url: String, config: LocalConfig) -> Self {
        let base_url = public_base_url.trim_end_matches('/').to_owned();
        let (public_scheme, rest) = base_url.split_once("://").unwrap_or(("http", &base_url));
        let public_authority = rest.split('/').next().unwrap_or_default().to_owned();
        let public_scheme = public_scheme.to_owned();

        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);

        LocalTarget {
            inner: Arc::new(Inner {
                root,
                base_url,
                public_scheme,
                public_authority,
                config,
                apps: Mutex::new(HashMap::new()),
                deploy_locks: Mutex::new(HashMap::new()),
                client,
            }),
        }
    }

    /// Routes `/apps/<app>/...` to the apps; mount it where `public_base_url` points.
    pub fn router(&self) -> Router {
        proxy::router(self.inner.clone())
    }

    /// Public URL of `app`, whether or not it is deployed.
    pub fn app_url(&self, app: &str) -> String {
        format!("{}/apps/{app}/", self.inner.base_url)
    }

    /// The last output lines of the app's live process (empty for static apps).
    pub fn logs(&self, app: &str) -> Vec<String> {
        match self.inner.serve_for(app) {
            Some(Serve::Process { instance }) => instance.logs(),
            _ => Vec::new(),
        }
    }

    /// Stops every app process; deploy records stay so [`LocalTarget::restore`] can bring the
    /// apps back on the next start.
    pub async fn shutdown(&self) {
        let drained: Vec<(String, Live)> = {
            let mut apps = self
                .inner
                .apps
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            apps.drain().collect()
        };
        let instances: Vec<Arc<Instance>> = drained
            .into_iter()
            .filter_map(|(_, live)| match live.serve {
                Serve::Process { instance } => Some(instance),
                Serve::Static { .. } => None,
            })
            .collect();
        // Signal all first so the grace periods run in parallel.
        for instance in &instances {
            instance.request_stop();
        }
        for instance in &instances {
            instance.stop().await;
        }
        info!(processes = instances.len(), "local target shut down");
    }

    /// Redeploys every app that was live when the target last ran (after a crash, a SIGKILL or
    /// a graceful [`LocalTarget::shutdown`]), reusing the existing release directories.
    pub async fn restore(&self) -> Vec<(String, Result<Deployed, Error>)> {
        // Sockets of instances that died with an earlier run of the target.
        let run = self.inner.root.join(".run");
        if let Err(err) = tokio::fs::remove_dir_all(&run).await
            && err.kind() != std::io::ErrorKind::NotFound
        {
            warn!(dir = %run.display(), error = %err, "could not clear stale app sockets");
        }
        let root = self.inner.root.clone();
        let records = match tokio::task::spawn_blocking(move || release::read_records(&root)).await
        {
            Ok(records) => records,
            Err(source) => {
                return vec![(
                    String::new(),
                    Err(Error::Task {
                        app: String::new(),
                        what: "restore",
                        source,
                    }),
                )];
            }
        };
        let mut restored = Vec::with_capacity(records.len());
        for record in records {
            match record {
                Ok(spec) => {
                    let result = self.deploy_local(&spec).await;
                    if let Err(err) = &result {
                        warn!(app = %spec.app, commit = %spec.commit, error = %err, "app restore failed");
                    }
                    restored.push((spec.app, result));
                }
                Err(err) => {
                    warn!(error = %err, "unreadable deploy record");
                    restored.push((String::new(), Err(err)));
                }
            }
        }
        restored
    }

    async fn deploy_local(&self, spec: &DeploySpec) -> Result<Deployed, Error> {
        spec.validate()?;
        let inner = &self.inner;
        let lock = inner.deploy_lock(&spec.app);
        let _guard = lock.lock().await;

        if let Some(deployed) = self.already_live(spec) {
            info!(app = %spec.app, commit = %spec.commit, "release already live");
            return Ok(deployed);
        }

        let (release, static_dir) = {
            let root = inner.root.clone();
            let owned = spec.clone();
            tokio::task::spawn_blocking(move || prepare_release(&root, &owned))
                .await
                .map_err(|source| Error::Task {
                    app: spec.app.clone(),
                    what: "copy",
                    source,
                })??
        };

        {
            let root = inner.root.clone();
            let owned = spec.clone();
            let written =
                tokio::task::spawn_blocking(move || release::write_release_spec(&root, &owned))
                    .await
                    .map_err(|source| Error::Task {
                        app: spec.app.clone(),
                        what: "record",
                        source,
                    })
                    .and_then(|result| result);
            if let Err(err) = written {
                // Serving works without it; only a later rollback to this release would fail.
                warn!(app = %spec.app, commit = %spec.commit, error = %err, "could not record release spec");
            }
        }

        let url = self.app_url(&spec.app);
        let (serve, port) = match (&spec.kind, static_dir) {
            (ServeKind::Process { run, env }, _) => {
                let mut env = env.clone();
                let network = self.app_network(&spec.app, &mut env)?;
                let port = loop {
                    let port = process::free_port().map_err(|source| Error::Port {
                        app: spec.app.clone(),
                        source,
                    })?;
                    // Inside its namespace the database's port is taken by the bridge.
                    if network.as_ref().and_then(|n| n.database_port()) != Some(port) {
                        break port;
                    }
                };
                let launch = Launch {
                    app: spec.app.clone(),
                    commit: spec.commit.clone(),
                    release: release.clone(),
                    run: run.clone(),
                    env: self.app_env(spec, &release, &env, port),
                    port,
                    sandbox: inner.config.sandbox.clone(),
                    network,
                };
                let instance = Instance::start(launch, inner.policy()).await?;
                (
                    Serve::Process {
                        instance: Arc::new(instance),
                    },
                    Some(port),
                )
            }
            (ServeKind::Static { .. }, Some(dir)) => (Serve::Static { dir }, None),
            (ServeKind::Static { .. }, None) => {
                return Err(Error::InvalidSpec {
                    app: spec.app.clone(),
                    reason: "static release has no serve directory".into(),
                });
            }
        };
        let deployed = Deployed {
            url,
            port,
            dir: release,
        };

        let root = inner.root.clone();
        let record = spec.clone();
        let recorded = tokio::task::spawn_blocking(move || release::write_record(&root, &record))
            .await
            .map_err(|source| Error::Task {
                app: spec.app.clone(),
                what: "record",
                source,
            })
            .and_then(|result| result);
        if let Err(err) = recorded {
            // The app is fine; only an automatic restore after a restart would miss it.
            warn!(app = %spec.app, error = %err, "could not record deploy");
        }

        let previous = {
            let mut apps = inner.apps.lock().unwrap_or_else(PoisonError::into_inner);
            apps.insert(
                spec.app.clone(),
                Live {
                    commit: spec.commit.clone(),
                    deployed: deployed.clone(),
                    serve,
                },
            )
        };
        info!(app = %spec.app, commit = %spec.commit, url = %deployed.url, port, "app deployed");
        if let Some(Live {
            commit,
            serve: Serve::Process { instance },
            ..
        }) = previous
        {
            instance.stop().await;
            info!(app = %spec.app, commit = %commit, "previous release stopped");
        }
        Ok(deployed)
    }

    /// The live deployment when `spec` is already serving, so a redelivered deploy is a no-op.
    fn already_live(&self, spec: &DeploySpec) -> Option<Deployed> {
        let apps = self
            .inner
            .apps
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let live = apps.get(&spec.app)?;
        let serving = match &live.serve {
            Serve::Static { .. } => true,
            Serve::Process { instance } => {
                !matches!(instance.health(), Health::GaveUp { .. } | Health::Stopped)
            }
        };
        (live.commit == spec.commit && serving).then(|| live.deployed.clone())
    }

    /// The network of a new instance when the sandbox gives apps their own: the proxy's
    /// socket, and the gate to the database `DATABASE_URL` names, which `env` then points at
    /// the app's own loopback.
    fn app_network(
        &self,
        app: &str,
        env: &mut [(String, String)],
    ) -> Result<Option<Arc<network::AppNetwork>>, Error> {
        let isolated = self
            .inner
            .config
            .sandbox
            .as_ref()
            .is_some_and(kiln_sandbox::Sandbox::isolates_network);
        if !isolated {
            return Ok(None);
        }
        let mut database = None;
        // The last definition wins, as for the process environment.
        if let Some((_, url)) = env.iter_mut().rev().find(|(k, _)| k == "DATABASE_URL") {
            match network::database(app, url) {
                Some((db, inside)) => {
                    *url = inside;
                    database = Some(db);
                }
                None => warn!(
                    app,
                    "DATABASE_URL is not a database URL Kiln can gate; the app cannot reach it"
                ),
            }
        }
        let network = network::AppNetwork::create(&self.inner.root.join(".run"), app, database)?;
        Ok(Some(Arc::new(network)))
    }

    /// The whole environment of an app process: nothing leaks in from the deployer. The spec
    /// may override defaults like `NODE_ENV`, but not the variables the proxy relies on.
    fn app_env(
        &self,
        spec: &DeploySpec,
        release: &std::path::Path,
        extra: &[(String, String)],
        port: u16,
    ) -> Vec<(String, String)> {
        let mut env = vec![
            ("PATH".to_owned(), self.inner.config.app_path.clone()),
            ("HOME".to_owned(), release.display().to_string()),
            ("NODE_ENV".to_owned(), "production".to_owned()),
        ];
        env.extend(extra.iter().cloned());
        env.extend([
            ("PORT".to_owned(), port.to_string()),
            ("HOST".to_owned(), "127.0.0.1".to_owned()),
            ("BASE_PATH".to_owned(), format!("/apps/{}", spec.app)),
            ("KILN_BUILD_SHA".to_owned(), spec.commit.clone()),
        ]);
        env
    }

    async fn stop_app(&self, app: &str) -> Result<(), Error> {
        if !crate::spec::valid_app_name(app) {
            return Ok(());
        }
        let lock = self.inner.deploy_lock(app);
        let _guard = lock.lock().await;
        self.stop_locked(app).await
    }

    /// Starts an earlier release again from its recorded spec; the build directory may be gone.
    async fn activate_local(&self, app: &str, commit: &str) -> Result<Deployed, Error> {
        let missing = || Error::ReleaseMissing {
            app: app.to_owned(),
            commit: commit.to_owned(),
        };
        if !crate::spec::valid_app_name(app) || !crate::spec::valid_commit(commit) {
            return Err(missing());
        }
        let root = self.inner.root.clone();
        let (owned_app, owned_commit) = (app.to_owned(), commit.to_owned());
        let spec = tokio::task::spawn_blocking(move || {
            release::read_release_spec(&root, &owned_app, &owned_commit)
        })
        .await
        .map_err(|source| Error::Task {
            app: app.to_owned(),
            what: "activate",
            source,
        })??
        .ok_or_else(missing)?;
        self.deploy_local(&spec).await
    }

    async fn remove_app(&self, app: &str) -> Result<(), Error> {
        if !crate::spec::valid_app_name(app) {
            return Ok(());
        }
        let lock = self.inner.deploy_lock(app);
        let _guard = lock.lock().await;
        self.stop_locked(app).await?;
        let root = self.inner.root.clone();
        let owned = app.to_owned();
        tokio::task::spawn_blocking(move || release::remove_app(&root, &owned))
            .await
            .map_err(|source| Error::Task {
                app: app.to_owned(),
                what: "remove",
                source,
            })??;
        info!(app, "app removed");
        Ok(())
    }

    /// Takes the app offline; the caller holds the app's deploy lock.
    async fn stop_locked(&self, app: &str) -> Result<(), Error> {
        let inner = &self.inner;
        let removed = {
            let mut apps = inner.apps.lock().unwrap_or_else(PoisonError::into_inner);
            apps.remove(app)
        };
        if let Some(Live {
            serve: Serve::Process { instance },
            ..
        }) = &removed
        {
            instance.stop().await;
        }
        let root = inner.root.clone();
        let owned = app.to_owned();
        tokio::task::spawn_blocking(move || release::remove_record(&root, &owned))
            .await
            .map_err(|source| Error::Task {
                app: app.to_owned(),
                what: "stop",
                source,
            })??;
        if let Some(live) = removed {
            info!(app, commit = %live.commit, "app taken offline");
        }
        Ok(())
    }
}

/// Copies (or reuses) the release and, for static apps, returns the directory to serve after
/// making sure it serves the version stamp.
fn prepare_release(
    root: &std::path::Path,
    spec: &DeploySpec,
) -> Result<(PathBuf, Option<PathBuf>), Error> {
    let (release, reused) =
        release::ensure_release(root, &spec.app, &spec.commit, &spec.source_dir)?;
    info!(app = %spec.app, commit = %spec.commit, dir = %release.display(), reused, "release ready");
    let ServeKind::Static { dir } = &spec.kind else {
        return Ok((release, None));
    };
    let serve_dir = release.join(dir);
    if !serve_dir.is_dir() {
        return Err(Error::InvalidSpec {
            app: spec.app.clone(),
            reason: format!("static dir {} is missing from the build", dir.display()),
        });
    }
    let version_file =
        crate::spec::relative_file_path(&spec.version_path).ok_or_else(|| Error::InvalidSpec {
            app: spec.app.clone(),
            reason: format!("version_path {:?} is not a file path", spec.version_path),
        })?;
    release::ensure_version_file(&serve_dir, &version_file, &spec.commit)?;
    Ok((release, Some(serve_dir)))
}

impl Target for LocalTarget {
    fn kind(&self) -> &'static str {
        "local"
    }

    async fn deploy(&self, spec: &DeploySpec) -> Result<Deployed, Error> {
        self.deploy_local(spec).await
    }

    async fn verify(&self, spec: &DeploySpec, deployed: &Deployed) -> Verification {
        crate::verify_http(spec, deployed, self.inner.config.verify_window).await
    }

    async fn stop(&self, app: &str) -> Result<(), Error> {
        self.stop_app(app).await
    }

    async fn activate(&self, app: &str, commit: &str) -> Result<Deployed, Error> {
        self.activate_local(app, commit).await
    }

    async fn remove(&self, app: &str) -> Result<(), Error> {
        self.remove_app(app).await
    }

    async fn current(&self, app: &str) -> Option<(String, Deployed)> {
        let apps = self
            .inner
            .apps
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        apps.get(app)
            .map(|live| (live.commit.clone(), live.deployed.clone()))
    }
}
