//! What can go wrong talking to GitHub. No message ever holds a token or a key.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `[github]` section is incomplete or contradicts itself.
    #[error("{0}")]
    Config(String),
    /// The App's private key could not be read or is not an RSA key in PEM.
    #[error("the GitHub App's private key: {0}")]
    Key(String),
    /// The App is not installed on the repository's owner (or cannot see the repository).
    #[error(
        "the GitHub App is not installed on `{owner}` (or has no access to {repository}); install it on that account"
    )]
    NotInstalled { owner: String, repository: String },
    /// GitHub could not be reached, or the connection broke.
    #[error("{what}: GitHub could not be reached: {reason}")]
    Transport { what: String, reason: String },
    /// GitHub asked to slow down (`429`, or `403` with the rate limit spent).
    #[error("{what}: GitHub rate limit, retry in {} s", retry_after.as_secs())]
    RateLimited { what: String, retry_after: Duration },
    /// GitHub answered with an error status.
    #[error("{what}: GitHub answered {status}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
    },
    /// GitHub's answer was not what its API documents.
    #[error("{what}: unexpected answer from GitHub: {reason}")]
    Decode { what: String, reason: String },
}

impl Error {
    /// Worth trying again later: GitHub down, unreachable or rate limited.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::RateLimited { .. } => true,
            Error::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// How long GitHub asked to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The HTTP status GitHub answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
