//! The crate's single error type, so callers match on one enum and every message names the
//! repository, path or git invocation it is about.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while driving git.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The git binary could not be started at all (missing, not executable).
    #[error("cannot run {program}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },

    /// git ran and exited unsuccessfully. `status` is -1 when it was killed by a signal;
    /// `stderr` keeps only the last ~2 KiB because that is where git puts the reason.
    #[error("git {args} exited with status {status}: {stderr}")]
    Command {
        args: String,
        status: i32,
        stderr: String,
    },

    /// The origin refused the pushed ref, typically because it is not a fast-forward of
    /// the branch (someone else pushed first).
    #[error("push to branch {branch} was rejected: {reason}")]
    PushRejected { branch: String, reason: String },

    /// Kiln pushes only `kiln/...` branches to a remote host.
    #[error("refusing to push to {0:?}: Kiln pushes only kiln/<task> branches")]
    RefusedPush(String),

    /// A remote URL that is not a plain http(s) URL without credentials.
    #[error("invalid remote {0}: an http(s) URL without credentials is needed")]
    InvalidRemote(String),

    /// A path given to the API could escape the working tree or reach git's metadata.
    #[error("unsafe path {path:?}: {reason}")]
    UnsafePath { path: String, reason: &'static str },

    /// A branch name, revision, identity or trailer cannot be passed to git safely.
    #[error("invalid {kind} {value:?}: {reason}")]
    InvalidInput {
        kind: &'static str,
        value: String,
        reason: &'static str,
    },

    /// A revision does not name a commit in the repository.
    #[error("unknown revision {rev:?} in {}", repo.display())]
    UnknownRevision { repo: PathBuf, rev: String },

    /// A path that should hold a bare repository holds something else.
    #[error("{} is not a bare git repository", path.display())]
    NotBareRepository { path: PathBuf },

    /// A checkout destination already has content, which a clone would mix with.
    #[error("checkout destination {} exists and is not empty", path.display())]
    DestinationNotEmpty { path: PathBuf },

    /// A filesystem operation around git failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// git succeeded but printed something this crate cannot parse; a git version skew
    /// or a bug here, never a user error.
    #[error("unexpected output from git {args}: {detail}")]
    UnexpectedOutput { args: String, detail: String },
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(kind: &'static str, value: &str, reason: &'static str) -> Self {
        Error::InvalidInput {
            kind,
            value: value.to_owned(),
            reason,
        }
    }
}
