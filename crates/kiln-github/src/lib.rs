//! GitHub as a git host for Kiln.
//!
//! [`GitHub`] authenticates as a GitHub App (a JWT from the App's private key, then an
//! installation access token per repository, scoped to that repository and renewed before it
//! expires) or, as the documented fallback, with a personal access token. Tokens live only in
//! memory, in [`Secret`](kiln_runtime::config::Secret)s: they are never logged, put in an
//! error, an event, a prompt or a sandbox. Git itself gets them through
//! [`git_token`](GitHub::git_token), for the one push or fetch that needs them.
//!
//! Only the REST calls Kiln makes are here, each with Kiln's own types for the fields it
//! reads; every failure is classified as worth retrying or not ([`Error::is_transient`]) with
//! GitHub's own wait when it gave one ([`Error::retry_after`]).

pub mod client;
pub mod config;
pub mod error;
pub mod name;
pub mod publish;
pub mod render;

pub use client::{
    Annotation, CheckOutput, CheckRun, CheckRunWrite, Comment, GitHub, IssueRef, NewPull, Pull,
    PullRef, Repository,
};
pub use config::Config;
pub use error::{Error, Result};
pub use name::RepoName;

/// The branch a task's work is pushed to: the only kind of branch Kiln ever pushes.
pub fn task_branch(task: &str) -> String {
    format!("kiln/{task}")
}
