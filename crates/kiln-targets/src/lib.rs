//! Deploy targets behind one trait, so the deployer can put a built app somewhere reachable without
//! knowing whether "somewhere" is this machine, a host over ssh or a container runtime.
//!
//! [`LocalTarget`] is the first implementation: it keeps releases under a data directory, serves
//! static sites itself and supervises app processes behind its reverse-proxy [`LocalTarget::router`].

mod local;
mod spec;
mod target;
mod verify;

use std::path::PathBuf;
use std::time::Duration;

pub use local::{LocalConfig, LocalTarget};
pub use spec::{Check, DeploySpec, Deployed, ServeKind, Verification};
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
}
