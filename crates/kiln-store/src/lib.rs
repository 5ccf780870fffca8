//! Postgres lifecycle records: the single source of truth every service reads and writes.
//!
//! Functions take an executor or a `&mut PgConnection` so callers decide the transaction:
//! a stage writes its results, its inbox row and its outbox rows in one transaction.
//! Queries are checked at runtime (not `query!` macros) so building never needs a database.

pub mod audit;
pub mod auth;
pub mod control;
pub mod delivery;
pub mod github;
pub mod knowledge;
pub mod memory;
pub mod people;
pub mod records;
pub mod status;
pub mod tasks;

pub use status::TaskStatus;

/// The embedded migrations of `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("stored {what} has unexpected value {value:?}")]
    Corrupt { what: &'static str, value: String },
}

impl Error {
    /// Connection-level failures are worth retrying; constraint violations are not.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Database(e) => {
                matches!(
                    e,
                    sqlx::Error::Io(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::WorkerCrashed
                        | sqlx::Error::Protocol(_)
                ) || e
                    .as_database_error()
                    .and_then(|d| d.code())
                    // serialization failure, deadlock, admin shutdown, cannot connect now
                    .is_some_and(|c| matches!(c.as_ref(), "40001" | "40P01" | "57P01" | "57P03"))
            }
            Error::Corrupt { .. } => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
