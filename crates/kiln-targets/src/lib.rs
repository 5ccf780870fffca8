//! Deploy targets behind one trait, so the deployer can put a built app somewhere reachable without
//! knowing whether "somewhere" is this machine, a host over ssh or a container runtime.
//!
//! [`LocalTarget`] keeps releases under a data directory, serves static sites itself and supervises
//! app processes behind its reverse-proxy [`LocalTarget::router`]. [`SshTarget`] does the same on
//! another host through the system `ssh` client, with nginx in front and systemd or PM2 keeping
//! processes up. [`DockerTarget`] runs each release as a container through the `docker` CLI.

mod docker;
mod local;
mod spec;
mod ssh;
mod target;
mod verify;

use std::path::PathBuf;
use std::time::Duration;

pub use docker::{DockerConfig, DockerTarget};
pub use local::{LocalConfig, LocalTarget};
pub use spec::{Check, DeploySpec, Deployed, ServeKind, Verification};
pub use ssh::{PortRange, SshConfig, SshTarget, Supervisor};
pub use target::Target;
pub use verify::verify_http;

/// Everything a target can fail at; shared by all targets so callers handle one type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid deploy spec for app {app:?}: {reason}")]
    InvalidSpec { app: String, reason: String },

    #[error("failed to {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("no free loopback port for app {app}")]
    Port {
        app: String,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to spawn app {app} at commit {commit}")]
    Spawn {
        app: String,
        commit: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "app {app} at commit {commit} exited during startup ({status}); last output:\n{output}"
    )]
    ExitedOnStart {
        app: String,
        commit: String,
        status: String,
        output: String,
    },

    #[error(
        "app {app} at commit {commit} did not accept connections on port {port} within {timeout:?}; last output:\n{output}"
    )]
    NotReady {
        app: String,
        commit: String,
        port: u16,
        timeout: Duration,
        output: String,
    },

    #[error("background {what} task for app {app} failed")]
    Task {
        app: String,
        what: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },

    #[error("failed to read deploy record {}", path.display())]
    Record {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("app {app} has no release {commit} on this target; deploy that commit again")]
    ReleaseMissing { app: String, commit: String },

    #[error("invalid {target} target configuration: {reason}")]
    Config {
        target: &'static str,
        reason: String,
    },

    #[error("failed to run {program}")]
    Command {
        program: String,
        #[source]
        source: std::io::Error,
    },

    /// The host could not be reached at all; retrying later may help.
    #[error("ssh to {destination} failed: {reason}")]
    SshUnreachable { destination: String, reason: String },

    #[error("ssh to {destination} failed: the host rejected the key {} ({reason})", identity.display())]
    SshAuth {
        destination: String,
        identity: PathBuf,
        reason: String,
    },

    #[error("ssh to {destination} failed: its host key is not trusted by {} ({reason})", known_hosts.display())]
    SshHostKey {
        destination: String,
        known_hosts: PathBuf,
        reason: String,
    },

    #[error("{tool} is not installed on {host}: `{command}` not found")]
    ToolMissing {
        tool: &'static str,
        host: String,
        command: String,
    },

    #[error("nginx on {host} rejects its configuration (`{command}`): {output}")]
    NginxConfig {
        host: String,
        command: String,
        output: String,
    },

    #[error("{action} on {destination} failed ({status}): {output}")]
    Remote {
        destination: String,
        action: &'static str,
        status: String,
        output: String,
    },

    #[error("{action} on {destination} did not finish within {timeout:?}")]
    RemoteTimeout {
        destination: String,
        action: &'static str,
        timeout: Duration,
    },

    #[error("no free port for app {app} in {start}-{end} on {host}")]
    PortsExhausted {
        app: String,
        host: String,
        start: u16,
        end: u16,
    },

    #[error("no Docker engine at {host}: {reason}")]
    DockerUnreachable { host: String, reason: String },

    #[error("docker {action} for app {app} failed ({status}): {output}")]
    Docker {
        app: String,
        action: &'static str,
        status: String,
        output: String,
    },
}
