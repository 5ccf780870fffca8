//! The crate's one error type: what a caller can correct (a refused URL, kind or
//! signature) is told apart from what went wrong underneath (database, NATS).

/// Webhook errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("webhook url is {len} bytes long; at most {max} are allowed")]
    UrlTooLong { len: usize, max: usize },
    #[error("webhook url does not parse: {reason}")]
    UrlUnparsable { reason: String },
    #[error("webhook url must use http or https, not {scheme:?}")]
    UrlScheme { scheme: String },
    #[error("webhook url must not carry a user name or password")]
    UrlCredentials,
    #[error("webhook url has no host")]
    UrlNoHost,
    #[error("invalid event kind {kind:?}: use 1-64 lowercase ASCII letters, digits or '_'")]
    InvalidKind { kind: String },
    #[error("{count} event kinds given; at most {max} are allowed")]
    TooManyKinds { count: usize, max: usize },
    #[error("description is {len} characters long; at most {max} are allowed")]
    DescriptionTooLong { len: usize, max: usize },
    #[error("signature header is malformed")]
    SignatureMalformed,
    #[error("signature timestamp is {age_secs} s away from now, outside the tolerance")]
    SignatureStale { age_secs: i64 },
    #[error("signature does not match the body")]
    SignatureMismatch,
    #[error("invalid webhook config: {field} {reason}")]
    Config { field: &'static str, reason: String },
    #[error("http client not built")]
    Client(#[source] reqwest::Error),
    #[error("nats: {what}: {reason}")]
    Nats { what: String, reason: String },
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl Error {
    /// True when the caller's input was refused (an HTTP edge answers 400 with the message).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Error::UrlTooLong { .. }
                | Error::UrlUnparsable { .. }
                | Error::UrlScheme { .. }
                | Error::UrlCredentials
                | Error::UrlNoHost
                | Error::InvalidKind { .. }
                | Error::TooManyKinds { .. }
                | Error::DescriptionTooLong { .. }
        )
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
