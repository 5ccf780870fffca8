//! The docker target: each release becomes an image and runs as one container through the
//! `docker` CLI, for hosts where a container engine is the unit of deployment.
//!
//! Each app keeps one published port (`127.0.0.1:<port>:<port>`), recorded as a container label,
//! so the URL an operator's proxy points at stays the same across releases. A new release stops
//! the old container, starts its own and only removes the old one once the new one listens;
//! otherwise the old container is started again. The app's environment goes through a 0600
//! `--env-file`, never the command line.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::process::Command;
use tracing::{info, warn};

use crate::{DeploySpec, Deployed, Error, ServeKind, Target, Verification};

/// How to reach the engine and which images to build on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerConfig {
    /// Passed as `DOCKER_HOST`, e.g. `unix:///var/run/docker.sock` or `ssh://deploy@web1`.
    pub docker_host: String,
    #[serde(default = "default_docker")]
    pub docker_program: PathBuf,
    /// Base URL of a proxy that forwards `/apps/<app>/` to the app's published port with the
    /// prefix stripped; without one, apps are reached directly at `http://127.0.0.1:<port>/`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Image static sites are served from (nginx based).
    #[serde(default = "default_static_image")]
    pub static_image: String,
    /// Runtime image per template stack (`stack` in template.toml), e.g. `node`.
    #[serde(default = "default_stack_images")]
    pub stack_images: BTreeMap<String, String>,
    /// Runtime image for a stack missing from `stack_images`.
    #[serde(default = "default_process_image")]
    pub default_process_image: String,
    #[serde(default = "default_ports")]
    pub ports: crate::PortRange,
    #[serde(default = "default_readiness")]
    pub readiness_timeout_secs: u64,
    #[serde(default = "default_verify_window")]
    pub verify_window_secs: u64,
}

fn default_docker() -> PathBuf {
    "docker".into()
}
fn default_static_image() -> String {
    "nginx:1.27-alpine".into()
}
fn default_stack_images() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("node".to_owned(), "node:20-bookworm-slim".to_owned()),
        ("python".to_owned(), "python:3.12-slim".to_owned()),
    ])
}
fn default_process_image() -> String {
    "debian:bookworm-slim".into()
}
fn default_ports() -> crate::PortRange {
    crate::PortRange {
        start: 21000,
        end: 21999,
    }
}
fn default_readiness() -> u64 {
    30
}
fn default_verify_window() -> u64 {
    10
}

impl DockerConfig {
    pub fn new(docker_host: impl Into<String>) -> Self {
        DockerConfig {
            docker_host: docker_host.into(),
            docker_program: default_docker(),
            public_url: None,
            static_image: default_static_image(),
            stack_images: default_stack_images(),
            default_process_image: default_process_image(),
            ports: default_ports(),
            readiness_timeout_secs: default_readiness(),
            verify_window_secs: default_verify_window(),
        }
    }

    /// The runtime image for `stack`.
    pub fn runtime_image(&self, stack: &str) -> &str {
        self.stack_images
            .get(stack)
            .unwrap_or(&self.default_process_image)
    }
}

/// Deploys apps as containers; see the module documentation. Not tested against a real engine
/// in this repository (its tests run where only the client is installed).
#[derive(Clone, Debug)]
pub struct DockerTarget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: DockerConfig,
    locks: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A finished docker CLI call.
struct Ran {
    ok: bool,
    status: String,
    stdout: String,
    stderr: String,
}

pub(crate) fn container_name(app: &str, commit: &str) -> String {
    format!("kiln-{app}-{commit}")
}

fn image_tag(app: &str, commit: &str) -> String {
    format!("kiln/{app}:{commit}")
}

/// The stack a run command belongs to, for callers that only have a spec.
pub(crate) fn stack_of_run(run: &str) -> &'static str {
    let program = run.split_whitespace().next().unwrap_or_default();
    let program = program.rsplit('/').next().unwrap_or(program);
    match program {
        "node" | "npm" | "npx" | "yarn" | "pnpm" => "node",
        "python" | "python3" | "uvicorn" | "gunicorn" | "flask" => "python",
        _ => "",
    }
}

/// The Dockerfile for a release. The build context is the build directory itself.
pub(crate) fn dockerfile(
    config: &DockerConfig,
    spec: &DeploySpec,
    stack: &str,
    port: u16,
) -> Result<String, Error> {
    let json = |text: &str| serde_json::Value::from(text).to_string();
    match &spec.kind {
        ServeKind::Static { dir } => {
            let version = crate::spec::relative_file_path(&spec.version_path)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let site = format!(
                "server {{\n    listen {port};\n    root /usr/share/nginx/html;\n    index index.html;\n    location / {{ try_files $uri $uri/ =404; }}\n}}\n"
            );
            let dir = dir.to_string_lossy();
            let dir = if dir.is_empty() { "." } else { &dir };
            Ok(format!(
                "# Generated by kiln for {app} at {commit}.\n\
FROM {image}\n\
COPY [{src}, \"/usr/share/nginx/html/\"]\n\
RUN printf '%s' {site} > /etc/nginx/conf.d/default.conf \\\n && f=/usr/share/nginx/html/{version} \\\n && if [ ! -f \"$f\" ]; then mkdir -p \"$(dirname \"$f\")\" && printf '%s' {commit} > \"$f\"; fi\n\
LABEL kiln.app={app} kiln.commit={commit}\n\
EXPOSE {port}\n",
                app = spec.app,
                commit = spec.commit,
                image = config.static_image,
                src = json(&format!("{dir}/")),
                site = crate::ssh::quote(&site),
            ))
        }
        ServeKind::Process { run, .. } => Ok(format!(
            "# Generated by kiln for {app} at {commit}.\n\
FROM {image}\n\
WORKDIR /app\n\
COPY . /app\n\
ENV NODE_ENV=production\n\
LABEL kiln.app={app} kiln.commit={commit}\n\
EXPOSE {port}\n\
CMD [\"/bin/sh\", \"-c\", {run}]\n",
            app = spec.app,
            commit = spec.commit,
            image = config.runtime_image(stack),
            run = json(&format!("exec {run}")),
        )),
    }
}

/// `docker build` arguments; the Dockerfile lives outside the build so the build stays as built.
pub(crate) fn build_args(spec: &DeploySpec, dockerfile: &Path) -> Vec<String> {
    vec![
        "build".into(),
        "--quiet".into(),
        "--tag".into(),
        image_tag(&spec.app, &spec.commit),
        "--file".into(),
        dockerfile.display().to_string(),
        spec.source_dir.display().to_string(),
    ]
}

/// `docker run` arguments: published on loopback only, the environment from a file.
pub(crate) fn run_args(spec: &DeploySpec, port: u16, env_file: &Path) -> Vec<String> {
    vec![
        "run".into(),
        "--detach".into(),
        "--name".into(),
        container_name(&spec.app, &spec.commit),
        "--label".into(),
        format!("kiln.app={}", spec.app),
        "--label".into(),
        format!("kiln.commit={}", spec.commit),
        "--label".into(),
        format!("kiln.port={port}"),
        "--restart".into(),
        "unless-stopped".into(),
        "--publish".into(),
        format!("127.0.0.1:{port}:{port}"),
        "--env-file".into(),
        env_file.display().to_string(),
        image_tag(&spec.app, &spec.commit),
    ]
}

/// The env file's lines; docker reads values verbatim, so a newline cannot be represented.
pub(crate) fn env_lines(
    spec: &DeploySpec,
    port: u16,
    base_path: Option<&str>,
) -> Result<String, Error> {
    let mut env: Vec<(String, String)> = vec![("NODE_ENV".into(), "production".into())];
    if let ServeKind::Process { env: extra, .. } = &spec.kind {
        for (key, value) in extra {
            if value.contains(['\n', '\r']) {
                return Err(Error::InvalidSpec {
                    app: spec.app.clone(),
                    reason: format!(
                        "env variable {key} has a line break, which docker's env files cannot carry"
                    ),
                });
            }
            env.push((key.clone(), value.clone()));
        }
    }
    env.push(("PORT".into(), port.to_string()));
    env.push(("HOST".into(), "0.0.0.0".into()));
    if let Some(base) = base_path {
        env.push(("BASE_PATH".into(), base.to_owned()));
    }
    env.push(("KILN_BUILD_SHA".into(), spec.commit.clone()));
    Ok(env.iter().map(|(k, v)| format!("{k}={v}\n")).collect())
}

impl DockerTarget {
    pub fn new(config: DockerConfig) -> Result<Self, Error> {
        if config.docker_host.trim().is_empty() {
            return Err(Error::Config {
                target: "docker",
                reason: "docker_host is empty".into(),
            });
        }
        if config.ports.start == 0 || config.ports.start > config.ports.end {
            return Err(Error::Config {
                target: "docker",
                reason: format!(
                    "port range {}-{} is empty",
                    config.ports.start, config.ports.end
                ),
            });
        }
        Ok(DockerTarget {
            inner: Arc::new(Inner {
                config,
                locks: Mutex::new(BTreeMap::new()),
            }),
        })
    }

    fn url(&self, app: &str, port: u16) -> String {
        match &self.inner.config.public_url {
            Some(base) => format!("{}/apps/{app}/", base.trim_end_matches('/')),
            None => format!("http://127.0.0.1:{port}/"),
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

    async fn docker(&self, args: &[String]) -> Result<Ran, Error> {
        let config = &self.inner.config;
        let output = Command::new(&config.docker_program)
            .args(args)
            .env("DOCKER_HOST", &config.docker_host)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|source| Error::Command {
                program: config.docker_program.display().to_string(),
                source,
            })?;
        Ok(Ran {
            ok: output.status.success(),
            status: output.status.to_string(),
            stdout: String::from_utf8_lossy(&output.stdout).trim().to_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }

    async fn docker_ok(
        &self,
        app: &str,
        action: &'static str,
        args: &[String],
    ) -> Result<String, Error> {
        let ran = self.docker(args).await?;
        if ran.ok {
            Ok(ran.stdout)
        } else {
            Err(Error::Docker {
                app: app.to_owned(),
                action,
                status: ran.status,
                output: crate::ssh::tail(&ran.stderr, 4000),
            })
        }
    }

    /// Asks the engine for its version; the first thing every change does, so an unreachable
    /// engine fails before anything is built or stopped.
    async fn ping(&self) -> Result<(), Error> {
        let args = ["version", "--format", "{{.Server.Version}}"].map(String::from);
        let ran = self.docker(&args).await?;
        if ran.ok && !ran.stdout.is_empty() {
            return Ok(());
        }
        let reason = ran
            .stderr
            .lines()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("the engine did not answer")
            .trim()
            .to_owned();
        Err(Error::DockerUnreachable {
            host: self.inner.config.docker_host.clone(),
            reason,
        })
    }

    /// Containers of `app` as (name, commit, port, running).
    async fn containers(&self, app: &str) -> Result<Vec<(String, String, u16, bool)>, Error> {
        let args = [
            "ps".to_owned(),
            "--all".to_owned(),
            "--filter".to_owned(),
            format!("label=kiln.app={app}"),
            "--format".to_owned(),
            "{{.Names}} {{.Label \"kiln.commit\"}} {{.Label \"kiln.port\"}} {{.State}}".to_owned(),
        ];
        let out = self.docker_ok(app, "ps", &args).await?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let mut parts = line.split_whitespace();
                let name = parts.next()?.to_owned();
                let commit = parts.next()?.to_owned();
                let port = parts.next()?.parse().ok()?;
                let running = parts.next() == Some("running");
                Some((name, commit, port, running))
            })
            .collect())
    }

    /// Deploys with the runtime image of `stack` (the template's `stack`); [`Target::deploy`]
    /// guesses the stack from the run command.
    pub async fn deploy_stack(&self, spec: &DeploySpec, stack: &str) -> Result<Deployed, Error> {
        spec.validate()?;
        let lock = self.lock(&spec.app);
        let _guard = lock.lock().await;
        self.ping().await?;
        let containers = self.containers(&spec.app).await?;
        let name = container_name(&spec.app, &spec.commit);
        if let Some((_, _, port, _)) = containers
            .iter()
            .find(|(n, _, _, running)| *n == name && *running)
        {
            return Ok(self.deployed(spec, *port));
        }
        let port = match containers.first() {
            Some((_, _, port, _)) => *port,
            None => self.free_port()?,
        };

        let scratch = tempfile::Builder::new()
            .prefix("kiln-docker")
            .tempdir()
            .map_err(|source| Error::Io {
                action: "create scratch directory",
                path: std::env::temp_dir(),
                source,
            })?;
        let file = scratch.path().join("Dockerfile");
        write_private(&file, &dockerfile(&self.inner.config, spec, stack, port)?)?;
        self.docker_ok(&spec.app, "build", &build_args(spec, &file))
            .await?;
        let env_file = scratch.path().join("env");
        let base = self
            .inner
            .config
            .public_url
            .as_ref()
            .map(|_| format!("/apps/{}", spec.app));
        write_private(&env_file, &env_lines(spec, port, base.as_deref())?)?;

        let running: Vec<String> = containers
            .iter()
            .filter(|(_, _, _, running)| *running)
            .map(|(name, ..)| name.clone())
            .collect();
        for old in &running {
            self.docker_ok(&spec.app, "stop", &["stop".into(), old.clone()])
                .await?;
        }
        // A stopped container of this very commit (an earlier failed attempt) is replaced.
        let _ = self
            .docker(&["rm".into(), "--force".into(), name.clone()])
            .await;
        let started = self
            .docker_ok(&spec.app, "run", &run_args(spec, port, &env_file))
            .await;
        let ready = match started {
            Ok(_) => self.wait_ready(&spec.app, &spec.commit, port).await,
            Err(err) => Err(err),
        };
        if let Err(err) = ready {
            warn!(app = %spec.app, commit = %spec.commit, error = %err, "container failed, restarting the previous one");
            let _ = self.docker(&["rm".into(), "--force".into(), name]).await;
            for old in &running {
                let _ = self.docker(&["start".into(), old.clone()]).await;
            }
            return Err(err);
        }
        info!(app = %spec.app, commit = %spec.commit, port, "container live");
        Ok(self.deployed(spec, port))
    }

    fn deployed(&self, spec: &DeploySpec, port: u16) -> Deployed {
        Deployed {
            url: self.url(&spec.app, port),
            port: Some(port),
            dir: PathBuf::from(image_tag(&spec.app, &spec.commit)),
        }
    }

    /// The first port in the range nothing on this machine listens on.
    fn free_port(&self) -> Result<u16, Error> {
        let range = self.inner.config.ports;
        (range.start..=range.end)
            .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
            .ok_or_else(|| Error::PortsExhausted {
                app: String::new(),
                host: self.inner.config.docker_host.clone(),
                start: range.start,
                end: range.end,
            })
    }

    async fn wait_ready(&self, app: &str, commit: &str, port: u16) -> Result<(), Error> {
        let timeout = Duration::from_secs(self.inner.config.readiness_timeout_secs);
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let logs = self
            .docker(&[
                "logs".into(),
                "--tail".into(),
                "30".into(),
                container_name(app, commit),
            ])
            .await
            .map(|ran| format!("{}\n{}", ran.stdout, ran.stderr))
            .unwrap_or_default();
        Err(Error::NotReady {
            app: app.to_owned(),
            commit: commit.to_owned(),
            port,
            timeout,
            output: crate::ssh::tail(logs.trim(), 4000),
        })
    }
}

fn write_private(path: &Path, contents: &str) -> Result<(), Error> {
    let io = |source| Error::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(contents.as_bytes()).map_err(io)
}

impl Target for DockerTarget {
    fn kind(&self) -> &'static str {
        "docker"
    }

    async fn deploy(&self, spec: &DeploySpec) -> Result<Deployed, Error> {
        let stack = match &spec.kind {
            ServeKind::Process { run, .. } => stack_of_run(run),
            ServeKind::Static { .. } => "",
        };
        self.deploy_stack(spec, stack).await
    }

    async fn verify(&self, spec: &DeploySpec, deployed: &Deployed) -> Verification {
        let window = Duration::from_secs(self.inner.config.verify_window_secs);
        crate::verify_http(spec, deployed, window).await
    }

    async fn stop(&self, app: &str) -> Result<(), Error> {
        let lock = self.lock(app);
        let _guard = lock.lock().await;
        self.ping().await?;
        for (name, _, _, running) in self.containers(app).await? {
            if running {
                self.docker_ok(app, "stop", &["stop".into(), name]).await?;
            }
        }
        Ok(())
    }

    async fn activate(&self, app: &str, commit: &str) -> Result<Deployed, Error> {
        let lock = self.lock(app);
        let _guard = lock.lock().await;
        self.ping().await?;
        let containers = self.containers(app).await?;
        let name = container_name(app, commit);
        let Some((_, _, port, running)) = containers.iter().find(|(n, ..)| *n == name).cloned()
        else {
            return Err(Error::ReleaseMissing {
                app: app.to_owned(),
                commit: commit.to_owned(),
            });
        };
        let deployed = Deployed {
            url: self.url(app, port),
            port: Some(port),
            dir: PathBuf::from(image_tag(app, commit)),
        };
        if running {
            return Ok(deployed);
        }
        for (other, _, _, other_running) in &containers {
            if *other_running {
                self.docker_ok(app, "stop", &["stop".into(), other.clone()])
                    .await?;
            }
        }
        self.docker_ok(app, "start", &["start".into(), name])
            .await?;
        self.wait_ready(app, commit, port).await?;
        Ok(deployed)
    }

    async fn remove(&self, app: &str) -> Result<(), Error> {
        let lock = self.lock(app);
        let _guard = lock.lock().await;
        self.ping().await?;
        for (name, commit, ..) in self.containers(app).await? {
            self.docker_ok(app, "rm", &["rm".into(), "--force".into(), name])
                .await?;
            let _ = self.docker(&["rmi".into(), image_tag(app, &commit)]).await;
        }
        Ok(())
    }

    async fn current(&self, app: &str) -> Option<(String, Deployed)> {
        let containers = self.containers(app).await.ok()?;
        let (_, commit, port, _) = containers.into_iter().find(|(.., running)| *running)?;
        let deployed = Deployed {
            url: self.url(app, port),
            port: Some(port),
            dir: PathBuf::from(image_tag(app, &commit)),
        };
        Some((commit, deployed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: ServeKind) -> DeploySpec {
        DeploySpec {
            app: "todo".into(),
            commit: "abc123".into(),
            source_dir: "/builds/todo".into(),
            kind,
            health_path: "/healthz".into(),
            version_path: "/__kiln/version".into(),
            expect_text: vec![],
        }
    }

    #[test]
    fn process_dockerfile_uses_the_stack_image_and_runs_the_command() {
        let config = DockerConfig::new("unix:///var/run/docker.sock");
        let spec = spec(ServeKind::Process {
            run: "node server.js".into(),
            env: vec![("DATABASE_URL".into(), "postgres://u:pw@db/x".into())],
        });
        let file = dockerfile(&config, &spec, "node", 21003).expect("dockerfile");
        assert!(file.contains("FROM node:20-bookworm-slim\n"), "{file}");
        assert!(file.contains("CMD [\"/bin/sh\", \"-c\", \"exec node server.js\"]\n"));
        assert!(file.contains("EXPOSE 21003\n"));
        assert!(
            !file.contains("postgres://"),
            "secrets must not be baked in"
        );
        let other = dockerfile(&config, &spec, "elixir", 21003).expect("dockerfile");
        assert!(other.contains("FROM debian:bookworm-slim\n"));
        assert_eq!(stack_of_run("npm start"), "node");
        assert_eq!(stack_of_run("/usr/bin/python3 app.py"), "python");
    }

    #[test]
    fn static_dockerfile_serves_the_dir_on_the_app_port_with_a_version() {
        let config = DockerConfig::new("unix:///var/run/docker.sock");
        let spec = spec(ServeKind::Static { dir: "dist".into() });
        let file = dockerfile(&config, &spec, "", 21004).expect("dockerfile");
        assert!(file.contains("FROM nginx:1.27-alpine\n"), "{file}");
        assert!(file.contains("COPY [\"dist/\", \"/usr/share/nginx/html/\"]"));
        assert!(file.contains("listen 21004;"));
        assert!(file.contains("f=/usr/share/nginx/html/__kiln/version"));
    }

    #[test]
    fn command_lines_publish_on_loopback_and_use_an_env_file() {
        let spec = spec(ServeKind::Process {
            run: "node server.js".into(),
            env: vec![("TOKEN".into(), "s3cret-value".into())],
        });
        let run = run_args(&spec, 21005, Path::new("/tmp/x/env"));
        let line = run.join(" ");
        assert!(
            line.starts_with("run --detach --name kiln-todo-abc123 "),
            "{line}"
        );
        assert!(line.contains("--publish 127.0.0.1:21005:21005"));
        assert!(line.contains("--env-file /tmp/x/env"));
        assert!(line.ends_with("kiln/todo:abc123"));
        assert!(!line.contains("s3cret"));
        let build = build_args(&spec, Path::new("/tmp/x/Dockerfile")).join(" ");
        assert_eq!(
            build,
            "build --quiet --tag kiln/todo:abc123 --file /tmp/x/Dockerfile /builds/todo"
        );
        let env = env_lines(&spec, 21005, Some("/apps/todo")).expect("env");
        assert!(
            env.contains("TOKEN=s3cret-value\nPORT=21005\nHOST=0.0.0.0\nBASE_PATH=/apps/todo\n")
        );
        let broken = DeploySpec {
            kind: ServeKind::Process {
                run: "x".into(),
                env: vec![("A".into(), "two\nlines".into())],
            },
            ..spec
        };
        assert!(env_lines(&broken, 1, None).is_err());
    }
}
