//! The ssh target: apps live on another host, uploaded over ssh, kept running by systemd or PM2
//! and published by the host's nginx under `/apps/<app>/`.
//!
//! Remote layout, per app under `remote_root`:
//! `releases/<commit>/` (immutable; kiln's launcher, run command and 0600 env file in `.kiln/`),
//! `current` (symlink to the live release), `port` (the app's stable port) and the supervisor
//! file. nginx gets one snippet per app in `nginx_apps_dir`, which the operator's server block
//! includes. Every deploy starts with a read-only preflight, so an unreachable host, a refused
//! key or a missing nginx fails the deploy before anything changes and the live release keeps
//! serving.

mod client;
mod remote;

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::{DeploySpec, Deployed, Error, ServeKind, Target, Verification};
use client::Ssh;
pub(crate) use client::tail;
pub(crate) use remote::q as quote;
use remote::{Layout, ReleaseKind};

/// Answers in a row showing the new state before a reload counts as done.
const SETTLED_STREAK: u32 = 3;

/// What keeps app processes running on the host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Supervisor {
    /// A `kiln-<app>.service` unit in `systemd_unit_dir`, enabled so it survives reboots.
    #[default]
    Systemd,
    /// A PM2 process `kiln-<app>` started from a generated ecosystem file.
    Pm2,
}

/// Inclusive range apps' ports are chosen from on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

/// Where and how to deploy over ssh. Command fields are shell command prefixes run on the host
/// (e.g. `sudo nginx -t`), trusted like the rest of the operator's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshConfig {
    pub host: String,
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    pub user: String,
    /// Private key offered to the host; no agent and no other key is used.
    pub identity_file: PathBuf,
    /// The only known_hosts file trusted; the host must already be in it (no trust on first use).
    pub known_hosts_file: PathBuf,
    /// Directory on the host holding every app's releases.
    pub remote_root: String,
    /// Base URL of the host's nginx, e.g. `http://web1:8080`; apps are at `<public_url>/apps/<app>/`.
    pub public_url: String,
    /// Directory on the host whose `*.conf` the nginx server block includes.
    pub nginx_apps_dir: String,
    #[serde(default = "default_nginx_test")]
    pub nginx_test: String,
    #[serde(default = "default_nginx_reload")]
    pub nginx_reload: String,
    #[serde(default)]
    pub supervisor: Supervisor,
    #[serde(default = "default_unit_dir")]
    pub systemd_unit_dir: String,
    #[serde(default = "default_systemctl")]
    pub systemctl: String,
    #[serde(default = "default_pm2")]
    pub pm2: String,
    #[serde(default = "default_ports")]
    pub ports: PortRange,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Upper bound for one remote step (an upload of a large build included).
    #[serde(default = "default_command_timeout")]
    pub command_timeout_secs: u64,
    /// How long a new process may take to accept connections on its port.
    #[serde(default = "default_readiness_timeout")]
    pub readiness_timeout_secs: u64,
    /// How long `verify` keeps retrying requests to a warming app.
    #[serde(default = "default_verify_window")]
    pub verify_window_secs: u64,
    /// How long to wait for nginx to serve the new release after a reload.
    #[serde(default = "default_reload_settle")]
    pub reload_settle_secs: u64,
    /// `PATH` of app processes on the host.
    #[serde(default = "default_app_path")]
    pub app_path: String,
    /// The local OpenSSH client.
    #[serde(default = "default_ssh_program")]
    pub ssh_program: PathBuf,
    /// The local tar that packs builds (GNU tar: `--exclude`, several `-C`).
    #[serde(default = "default_tar_program")]
    pub tar_program: PathBuf,
}

fn default_ssh_port() -> u16 {
    22
}
fn default_nginx_test() -> String {
    "nginx -t".into()
}
fn default_nginx_reload() -> String {
    "nginx -s reload".into()
}
fn default_unit_dir() -> String {
    "/etc/systemd/system".into()
}
fn default_systemctl() -> String {
    "systemctl".into()
}
fn default_pm2() -> String {
    "pm2".into()
}
fn default_ports() -> PortRange {
    PortRange {
        start: 20000,
        end: 20999,
    }
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_command_timeout() -> u64 {
    600
}
fn default_readiness_timeout() -> u64 {
    30
}
fn default_verify_window() -> u64 {
    10
}
fn default_reload_settle() -> u64 {
    5
}
fn default_app_path() -> String {
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
}
fn default_ssh_program() -> PathBuf {
    "ssh".into()
}
fn default_tar_program() -> PathBuf {
    "tar".into()
}

impl SshConfig {
    /// A config with the required fields and defaults for the rest.
    pub fn new(
        host: impl Into<String>,
        user: impl Into<String>,
        identity_file: PathBuf,
        known_hosts_file: PathBuf,
        remote_root: impl Into<String>,
        public_url: impl Into<String>,
        nginx_apps_dir: impl Into<String>,
    ) -> Self {
        SshConfig {
            host: host.into(),
            port: default_ssh_port(),
            user: user.into(),
            identity_file,
            known_hosts_file,
            remote_root: remote_root.into(),
            public_url: public_url.into(),
            nginx_apps_dir: nginx_apps_dir.into(),
            nginx_test: default_nginx_test(),
            nginx_reload: default_nginx_reload(),
            supervisor: Supervisor::default(),
            systemd_unit_dir: default_unit_dir(),
            systemctl: default_systemctl(),
            pm2: default_pm2(),
            ports: default_ports(),
            connect_timeout_secs: default_connect_timeout(),
            command_timeout_secs: default_command_timeout(),
            readiness_timeout_secs: default_readiness_timeout(),
            verify_window_secs: default_verify_window(),
            reload_settle_secs: default_reload_settle(),
            app_path: default_app_path(),
            ssh_program: default_ssh_program(),
            tar_program: default_tar_program(),
        }
    }

    pub(crate) fn supervisor_command(&self) -> &str {
        match self.supervisor {
            Supervisor::Systemd => &self.systemctl,
            Supervisor::Pm2 => &self.pm2,
        }
    }

    /// Rejects values that would break the nginx snippets, unit files or ssh options the target
    /// writes; those are not shell-quoted everywhere (nginx and systemd have their own syntax).
    fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| Error::Config {
            target: "ssh",
            reason,
        };
        let plain_path = |path: &str| {
            path.starts_with('/')
                && path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'))
                && !path.split('/').any(|part| part == "..")
        };
        for (name, value) in [
            ("remote_root", &self.remote_root),
            ("nginx_apps_dir", &self.nginx_apps_dir),
            ("systemd_unit_dir", &self.systemd_unit_dir),
        ] {
            if !plain_path(value) || value.trim_end_matches('/').is_empty() {
                return Err(invalid(format!(
                    "{name} {value:?} must be an absolute path of [A-Za-z0-9/._-] other than /"
                )));
            }
        }
        if self.host.is_empty()
            || self.host.starts_with('-')
            || self.host.contains(|c: char| c.is_whitespace() || c == '@')
        {
            return Err(invalid(format!("host {:?} is not a host name", self.host)));
        }
        if self.user.is_empty()
            || self.user.starts_with('-')
            || self.user.contains(|c: char| c.is_whitespace() || c == '@')
        {
            return Err(invalid(format!("user {:?} is not a user name", self.user)));
        }
        let spaced = |path: &Path| path.to_string_lossy().contains(char::is_whitespace);
        if spaced(&self.known_hosts_file) {
            return Err(invalid(
                "known_hosts_file must not contain whitespace (ssh option syntax)".into(),
            ));
        }
        if self.ports.start == 0 || self.ports.start > self.ports.end {
            return Err(invalid(format!(
                "port range {}-{} is empty",
                self.ports.start, self.ports.end
            )));
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return Err(invalid(format!(
                "public_url {:?} must start with http:// or https://",
                self.public_url
            )));
        }
        for (name, value) in [
            ("nginx_test", &self.nginx_test),
            ("nginx_reload", &self.nginx_reload),
            ("systemctl", &self.systemctl),
            ("pm2", &self.pm2),
        ] {
            if value.trim().is_empty() || value.contains(['\0', '\n']) {
                return Err(invalid(format!(
                    "{name} must be one non-empty command line"
                )));
            }
        }
        Ok(())
    }
}

/// Deploys apps to one host over ssh; see the module documentation for the remote layout.
///
/// Cloning is cheap and clones share the per-app locks, so deploys of one app never interleave.
#[derive(Clone, Debug)]
pub struct SshTarget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: SshConfig,
    ssh: Ssh,
    http: reqwest::Client,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl SshTarget {
    pub fn new(config: SshConfig) -> Result<Self, Error> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| Error::Config {
                target: "ssh",
                reason: format!("cannot build an http client: {err}"),
            })?;
        Ok(SshTarget {
            inner: Arc::new(Inner {
                ssh: Ssh::new(&config),
                config,
                http,
                locks: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn config(&self) -> &SshConfig {
        &self.inner.config
    }

    /// Public URL of `app`, whether or not it is deployed.
    pub fn app_url(&self, app: &str) -> String {
        format!(
            "{}/apps/{app}/",
            self.inner.config.public_url.trim_end_matches('/')
        )
    }

    fn layout<'a>(&'a self, app: &'a str) -> Layout<'a> {
        Layout {
            config: &self.inner.config,
            app,
        }
    }

    fn lock(&self, app: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .inner
            .locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        locks.entry(app.to_owned()).or_default().clone()
    }

    fn deployed(&self, app: &str, commit: &str, port: Option<u16>) -> Deployed {
        Deployed {
            url: self.app_url(app),
            port,
            dir: PathBuf::from(self.layout(app).release(commit)),
        }
    }

    /// The checks every change starts with. Nothing on the host is modified, so any error here
    /// leaves the live release serving.
    async fn preflight(
        &self,
        app: &str,
        commit: Option<&str>,
        process: bool,
    ) -> Result<remote::Found, Error> {
        let config = &self.inner.config;
        let ssh = &self.inner.ssh;
        let script = remote::preflight(&self.layout(app), commit, process);
        let found = remote::parse_preflight(&ssh.run("preflight", &script).await?);
        let missing = |tool: &'static str, command: &str| Error::ToolMissing {
            tool,
            host: ssh.host().to_owned(),
            command: command.to_owned(),
        };
        if let Some(tool) = found.missing.first() {
            return Err(match tool.as_str() {
                "nginx" => missing("nginx", &config.nginx_test),
                "tar" => missing("tar", "tar"),
                _ => match config.supervisor {
                    Supervisor::Systemd => missing("systemd", &config.systemctl),
                    Supervisor::Pm2 => missing("pm2", &config.pm2),
                },
            });
        }
        match found.nginx_status {
            Some(0) => Ok(found),
            Some(127) => Err(missing("nginx", &config.nginx_test)),
            _ => Err(Error::NginxConfig {
                host: ssh.host().to_owned(),
                command: config.nginx_test.clone(),
                output: client::tail(&found.nginx_output, 4000),
            }),
        }
    }

    async fn deploy_ssh(&self, spec: &DeploySpec) -> Result<Deployed, Error> {
        spec.validate()?;
        let kind = release_kind(spec)?;
        let lock = self.lock(&spec.app);
        let _guard = lock.lock().await;
        let process = kind == ReleaseKind::Process;
        let found = self
            .preflight(&spec.app, Some(&spec.commit), process)
            .await?;
        if found.current.as_deref() == Some(spec.commit.as_str())
            && found.snippet
            && (!process || found.listening)
        {
            info!(app = %spec.app, commit = %spec.commit, "release already live");
            return Ok(self.deployed(&spec.app, &spec.commit, found.port.filter(|_| process)));
        }
        let port = if process {
            Some(self.ensure_port(&spec.app).await?)
        } else {
            None
        };
        if found.release {
            info!(app = %spec.app, commit = %spec.commit, "release already uploaded");
        } else {
            self.upload(spec, &kind, port).await?;
        }
        let secrets = secret_values(spec);
        match self
            .switch(&spec.app, &spec.commit, &kind, port, &secrets)
            .await
        {
            Ok(deployed) => Ok(deployed),
            Err(err) => {
                // A process app has one port, so the old release was stopped for the new one;
                // bring it back rather than leave the app down.
                if process && let Some(previous) = found.current.filter(|c| *c != spec.commit) {
                    warn!(app = %spec.app, commit = %spec.commit, previous = %previous, error = %err, "new release failed to start, restarting the previous one");
                    if let Err(restore) = self.activate_locked(&spec.app, &previous).await {
                        warn!(app = %spec.app, previous = %previous, error = %restore, "previous release did not come back");
                    }
                }
                Err(err)
            }
        }
    }

    async fn ensure_port(&self, app: &str) -> Result<u16, Error> {
        let config = &self.inner.config;
        let out = self
            .inner
            .ssh
            .run("port assignment", &remote::ensure_port(&self.layout(app)))
            .await?;
        out.trim().parse().map_err(|_| Error::PortsExhausted {
            app: app.to_owned(),
            host: config.host.clone(),
            start: config.ports.start,
            end: config.ports.end,
        })
    }

    /// Streams the build plus kiln's launcher files as one tar.gz into a temp dir on the host.
    async fn upload(
        &self,
        spec: &DeploySpec,
        kind: &ReleaseKind,
        port: Option<u16>,
    ) -> Result<(), Error> {
        let config = &self.inner.config;
        let staging = tempfile::Builder::new()
            .prefix("kiln-ssh-release")
            .tempdir()
            .map_err(|source| Error::Io {
                action: "create staging directory",
                path: std::env::temp_dir(),
                source,
            })?;
        let layout = self.layout(&spec.app);
        write_kiln_dir(staging.path(), &layout, spec, kind, port)?;

        let mut tar = std::process::Command::new(&config.tar_program);
        tar.arg("-C")
            .arg(&spec.source_dir)
            .args(["-czf", "-", "--exclude=.git", "."])
            .arg("-C")
            .arg(staging.path())
            .arg(".kiln")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut tar = tar.spawn().map_err(|source| Error::Command {
            program: config.tar_program.display().to_string(),
            source,
        })?;
        let Some(archive) = tar.stdout.take() else {
            return Err(Error::Command {
                program: config.tar_program.display().to_string(),
                source: std::io::Error::other("tar has no stdout"),
            });
        };
        // Waited on concurrently: tar must be able to write its errors while ssh reads.
        let packed = tokio::task::spawn_blocking(move || tar.wait_with_output());
        let version_file = match kind {
            ReleaseKind::Static { dir } => {
                let file =
                    crate::spec::relative_file_path(&spec.version_path).ok_or_else(|| {
                        Error::InvalidSpec {
                            app: spec.app.clone(),
                            reason: format!(
                                "version_path {:?} is not a file path",
                                spec.version_path
                            ),
                        }
                    })?;
                let file = file.to_string_lossy().into_owned();
                Some(if dir.is_empty() {
                    file
                } else {
                    format!("{dir}/{file}")
                })
            }
            ReleaseKind::Process => None,
        };
        let script = remote::upload(&layout, &spec.commit, version_file.as_deref());
        let started = Instant::now();
        let finished = self
            .inner
            .ssh
            .exec("upload", &script, Some(Stdio::from(archive)))
            .await;
        let packed = packed.await.map_err(|source| Error::Task {
            app: spec.app.clone(),
            what: "tar",
            source,
        })?;
        let finished = finished?;
        if finished.code == Some(255)
            && let Some(err) = self.inner.ssh.connection_error(&finished.stderr)
        {
            return Err(err);
        }
        let packed = packed.map_err(|source| Error::Command {
            program: config.tar_program.display().to_string(),
            source,
        })?;
        if !packed.status.success() {
            return Err(Error::Io {
                action: "pack the build",
                path: spec.source_dir.clone(),
                source: std::io::Error::other(format!(
                    "tar {}: {}",
                    packed.status,
                    String::from_utf8_lossy(&packed.stderr).trim()
                )),
            });
        }
        if finished.code != Some(0) {
            return Err(self.inner.ssh.failure("upload", &finished));
        }
        info!(
            app = %spec.app,
            commit = %spec.commit,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "release uploaded"
        );
        Ok(())
    }

    /// Runs the switch script and maps its outcomes; app output is scrubbed of env values.
    async fn switch(
        &self,
        app: &str,
        commit: &str,
        kind: &ReleaseKind,
        port: Option<u16>,
        secrets: &[String],
    ) -> Result<Deployed, Error> {
        let config = &self.inner.config;
        let ssh = &self.inner.ssh;
        let script = remote::switch(&self.layout(app), commit, kind, port);
        let finished = ssh.exec("switch", &script, None).await?;
        let detail = || {
            let (_, text) = finished
                .stdout
                .split_once(remote::SEPARATOR)
                .unwrap_or_default();
            redact(&client::tail(text.trim(), 4000), secrets)
        };
        match finished.code {
            Some(0) => {}
            Some(remote::EXIT_RELEASE_MISSING) => {
                return Err(Error::ReleaseMissing {
                    app: app.to_owned(),
                    commit: commit.to_owned(),
                });
            }
            Some(remote::EXIT_NOT_READY) => {
                return Err(Error::NotReady {
                    app: app.to_owned(),
                    commit: commit.to_owned(),
                    port: port.unwrap_or_default(),
                    timeout: Duration::from_secs(config.readiness_timeout_secs),
                    output: detail(),
                });
            }
            Some(remote::EXIT_NGINX_REJECTED) => {
                return Err(Error::NginxConfig {
                    host: config.host.clone(),
                    command: config.nginx_test.clone(),
                    output: detail(),
                });
            }
            Some(remote::EXIT_NGINX_RELOAD) => {
                return Err(Error::Remote {
                    destination: ssh.destination().to_owned(),
                    action: "nginx reload",
                    status: format!("`{}` failed", config.nginx_reload),
                    output: detail(),
                });
            }
            _ => return Err(redact_error(ssh.failure("switch", &finished), secrets)),
        }
        info!(app, commit, port, "release live");
        self.settle(app, Some(commit)).await;
        Ok(self.deployed(app, commit, port))
    }

    /// `nginx -s reload` returns before new workers serve; wait until the app's URL carries the
    /// new release's stamp (or, with `None`, no stamp: the app is gone) so a verification right
    /// after sees the new state, not the old workers'.
    async fn settle(&self, app: &str, commit: Option<&str>) {
        let deadline = Instant::now() + Duration::from_secs(self.inner.config.reload_settle_secs);
        let url = self.app_url(app);
        let mut streak = 0;
        loop {
            let stamp = match self.inner.http.get(&url).send().await {
                Ok(response) => Some(
                    response
                        .headers()
                        .get("x-kiln-release")
                        .map(|value| value.as_bytes().to_vec()),
                ),
                Err(_) => None,
            };
            let settled = match (commit, &stamp) {
                (Some(commit), Some(Some(seen))) => seen.as_slice() == commit.as_bytes(),
                (Some(_), _) => false,
                (None, Some(seen)) => seen.is_none(),
                // Unreachable nginx serves nothing of the app either.
                (None, None) => true,
            };
            // Old workers may still take a connection or two right after the new ones answer;
            // only a run of answers in the new state counts.
            streak = if settled { streak + 1 } else { 0 };
            if streak >= SETTLED_STREAK {
                return;
            }
            if Instant::now() >= deadline {
                warn!(app, commit, url = %url, "nginx did not show the change in time; a check right now may see the old state");
                return;
            }
            tokio::time::sleep(Duration::from_millis(if streak > 0 { 50 } else { 100 })).await;
        }
    }

    async fn activate_ssh(&self, app: &str, commit: &str) -> Result<Deployed, Error> {
        if !crate::spec::valid_app_name(app) || !crate::spec::valid_commit(commit) {
            return Err(Error::ReleaseMissing {
                app: app.to_owned(),
                commit: commit.to_owned(),
            });
        }
        let lock = self.lock(app);
        let _guard = lock.lock().await;
        self.activate_locked(app, commit).await
    }

    async fn activate_locked(&self, app: &str, commit: &str) -> Result<Deployed, Error> {
        let ssh = &self.inner.ssh;
        let finished = ssh
            .exec(
                "release lookup",
                &remote::release_kind(&self.layout(app), commit),
                None,
            )
            .await?;
        let kind = match finished.code {
            Some(0) => ReleaseKind::parse(&finished.stdout),
            Some(remote::EXIT_RELEASE_MISSING) => None,
            _ => return Err(ssh.failure("release lookup", &finished)),
        }
        .ok_or_else(|| Error::ReleaseMissing {
            app: app.to_owned(),
            commit: commit.to_owned(),
        })?;
        let process = kind == ReleaseKind::Process;
        let found = self.preflight(app, Some(commit), process).await?;
        if found.current.as_deref() == Some(commit)
            && found.snippet
            && (!process || found.listening)
        {
            return Ok(self.deployed(app, commit, found.port.filter(|_| process)));
        }
        let port = if process {
            Some(self.ensure_port(app).await?)
        } else {
            None
        };
        let deployed = self.switch(app, commit, &kind, port, &[]).await?;
        info!(app, commit, "release activated");
        Ok(deployed)
    }

    async fn stop_ssh(&self, app: &str, delete: bool) -> Result<(), Error> {
        if !crate::spec::valid_app_name(app) {
            return Ok(());
        }
        let lock = self.lock(app);
        let _guard = lock.lock().await;
        let ssh = &self.inner.ssh;
        let action = if delete { "remove" } else { "stop" };
        let finished = ssh
            .exec(action, &remote::stop(&self.layout(app), delete), None)
            .await?;
        match finished.code {
            Some(0) => {}
            Some(remote::EXIT_NGINX_RELOAD) => {
                let (_, output) = finished
                    .stdout
                    .split_once(remote::SEPARATOR)
                    .unwrap_or_default();
                return Err(Error::Remote {
                    destination: ssh.destination().to_owned(),
                    action: "nginx reload",
                    status: format!("`{}` failed", self.inner.config.nginx_reload),
                    output: output.trim().to_owned(),
                });
            }
            _ => return Err(ssh.failure(action, &finished)),
        }
        self.settle(app, None).await;
        info!(app, delete, "app taken offline");
        Ok(())
    }

    async fn current_ssh(&self, app: &str) -> Option<(String, Deployed)> {
        if !crate::spec::valid_app_name(app) {
            return None;
        }
        let out = match self
            .inner
            .ssh
            .run("current lookup", &remote::current(&self.layout(app)))
            .await
        {
            Ok(out) => out,
            Err(err) => {
                warn!(app, error = %err, "could not read the live release");
                return None;
            }
        };
        let (head, serve) = out.split_once(remote::SEPARATOR).unwrap_or((&out, ""));
        let found = remote::parse_preflight(head);
        let commit = found.current?;
        let port = found
            .port
            .filter(|_| ReleaseKind::parse(serve.trim()) == Some(ReleaseKind::Process));
        Some((commit.clone(), self.deployed(app, &commit, port)))
    }
}

/// How the spec's build is served on the host, after the checks only the ssh target needs.
fn release_kind(spec: &DeploySpec) -> Result<ReleaseKind, Error> {
    let invalid = |reason: String| Error::InvalidSpec {
        app: spec.app.clone(),
        reason,
    };
    if !spec.source_dir.is_dir() {
        return Err(invalid(format!(
            "build directory {} does not exist",
            spec.source_dir.display()
        )));
    }
    match &spec.kind {
        ServeKind::Static { dir } => {
            let parts: Vec<String> = dir
                .components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect();
            let dir_text = parts.join("/");
            // The path goes into an nginx `alias`, which has its own quoting rules.
            if !dir_text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'))
            {
                return Err(invalid(format!(
                    "static dir {} must be made of [A-Za-z0-9/._-] for nginx",
                    dir.display()
                )));
            }
            if !spec.source_dir.join(dir).is_dir() {
                return Err(invalid(format!(
                    "static dir {} is missing from the build",
                    dir.display()
                )));
            }
            Ok(ReleaseKind::Static { dir: dir_text })
        }
        ServeKind::Process { env, .. } => {
            // Names become shell assignments in the env file.
            for (key, _) in env {
                let mut chars = key.chars();
                let ok = chars
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    return Err(invalid(format!(
                        "env variable {key:?} must match [A-Za-z_][A-Za-z0-9_]*"
                    )));
                }
            }
            Ok(ReleaseKind::Process)
        }
    }
}

/// Writes `.kiln/` for the release into `staging`: how it is served, and for process apps the
/// run command, the launcher and the 0600 env file.
fn write_kiln_dir(
    staging: &Path,
    layout: &Layout<'_>,
    spec: &DeploySpec,
    kind: &ReleaseKind,
    port: Option<u16>,
) -> Result<(), Error> {
    let dir = staging.join(".kiln");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|source| Error::Io {
            action: "create",
            path: dir.clone(),
            source,
        })?;
    let write = |name: &str, contents: &str, mode: u32| -> Result<(), Error> {
        let path = dir.join(name);
        let io = |source| Error::Io {
            action: "write",
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .map_err(io)?;
        file.write_all(contents.as_bytes()).map_err(io)
    };
    write("serve", &kind.serve_file(), 0o644)?;
    if let (ServeKind::Process { run, env }, Some(port)) = (&spec.kind, port) {
        let release = layout.release(&spec.commit);
        let config = layout.config;
        let mut all = vec![
            ("PATH".to_owned(), config.app_path.clone()),
            ("HOME".to_owned(), release.clone()),
            ("NODE_ENV".to_owned(), "production".to_owned()),
        ];
        all.extend(env.iter().cloned());
        all.extend([
            ("PORT".to_owned(), port.to_string()),
            ("HOST".to_owned(), "127.0.0.1".to_owned()),
            ("BASE_PATH".to_owned(), layout.url_prefix()),
            ("KILN_BUILD_SHA".to_owned(), spec.commit.clone()),
        ]);
        write("env", &remote::env_file(&all), 0o600)?;
        write("run", &format!("{run}\n"), 0o644)?;
        write("start.sh", &remote::launcher(layout, &spec.commit), 0o755)?;
    }
    Ok(())
}

/// Env values worth scrubbing from app output; very short ones would blank out ordinary words.
fn secret_values(spec: &DeploySpec) -> Vec<String> {
    match &spec.kind {
        ServeKind::Process { env, .. } => env
            .iter()
            .map(|(_, value)| value.clone())
            .filter(|value| value.len() >= 6)
            .collect(),
        ServeKind::Static { .. } => Vec::new(),
    }
}

fn redact(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_owned(), |text, secret| {
        text.replace(secret.as_str(), "[redacted]")
    })
}

fn redact_error(err: Error, secrets: &[String]) -> Error {
    match err {
        Error::Remote {
            destination,
            action,
            status,
            output,
        } => Error::Remote {
            destination,
            action,
            status,
            output: redact(&output, secrets),
        },
        other => other,
    }
}

impl Target for SshTarget {
    fn kind(&self) -> &'static str {
        "ssh"
    }

    async fn deploy(&self, spec: &DeploySpec) -> Result<Deployed, Error> {
        self.deploy_ssh(spec).await
    }

    async fn verify(&self, spec: &DeploySpec, deployed: &Deployed) -> Verification {
        let window = Duration::from_secs(self.inner.config.verify_window_secs);
        crate::verify_http(spec, deployed, window).await
    }

    async fn stop(&self, app: &str) -> Result<(), Error> {
        self.stop_ssh(app, false).await
    }

    async fn activate(&self, app: &str, commit: &str) -> Result<Deployed, Error> {
        self.activate_ssh(app, commit).await
    }

    async fn remove(&self, app: &str) -> Result<(), Error> {
        self.stop_ssh(app, true).await
    }

    async fn current(&self, app: &str) -> Option<(String, Deployed)> {
        self.current_ssh(app).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_with_defaults_and_rejects_unknown_fields() {
        let config: SshConfig = serde_json::from_value(serde_json::json!({
            "host": "web1",
            "user": "deploy",
            "identity_file": "/k/id",
            "known_hosts_file": "/k/known",
            "remote_root": "/srv/kiln",
            "public_url": "http://web1:8080",
            "nginx_apps_dir": "/etc/nginx/kiln",
            "supervisor": "pm2",
            "ports": {"start": 21000, "end": 21010}
        }))
        .expect("config");
        assert_eq!(config.port, 22);
        assert_eq!(config.nginx_test, "nginx -t");
        assert_eq!(config.nginx_reload, "nginx -s reload");
        assert_eq!(config.supervisor, Supervisor::Pm2);
        assert!(SshTarget::new(config).is_ok());
        let unknown = serde_json::from_value::<SshConfig>(serde_json::json!({
            "host": "web1", "user": "u", "identity_file": "/k", "known_hosts_file": "/k",
            "remote_root": "/srv", "public_url": "http://w", "nginx_apps_dir": "/n",
            "nginx_tset": "typo"
        }));
        assert!(unknown.is_err());
    }

    #[test]
    fn config_rejects_paths_nginx_cannot_take() {
        let mut config = SshConfig::new(
            "web1",
            "deploy",
            "/k/id".into(),
            "/k/known".into(),
            "/srv/my apps",
            "http://web1",
            "/etc/nginx/kiln",
        );
        let err = SshTarget::new(config.clone()).expect_err("space in root");
        assert!(err.to_string().contains("remote_root"), "{err}");
        config.remote_root = "/".into();
        assert!(SshTarget::new(config.clone()).is_err());
        config.remote_root = "/srv/kiln".into();
        config.ports = PortRange { start: 10, end: 5 };
        assert!(SshTarget::new(config).is_err());
    }

    #[test]
    fn env_names_must_be_shell_names() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let spec = DeploySpec {
            app: "api".into(),
            commit: "c1".into(),
            source_dir: tmp.path().to_path_buf(),
            kind: ServeKind::Process {
                run: "node server.js".into(),
                env: vec![("BAD NAME".into(), "x".into())],
            },
            health_path: "/".into(),
            version_path: "/v".into(),
            expect_text: vec![],
        };
        let err = release_kind(&spec).expect_err("bad env name");
        assert!(err.to_string().contains("BAD NAME"), "{err}");
    }

    #[test]
    fn redaction_hides_env_values() {
        let secrets = vec!["postgres://u:hunter22@db/x".to_owned()];
        assert_eq!(
            redact("connect postgres://u:hunter22@db/x failed", &secrets),
            "connect [redacted] failed"
        );
    }
}
