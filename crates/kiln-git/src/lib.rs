//! Git repositories through the git CLI: bare repos, task branches, commits, diffs.
//!
//! Kiln keeps every app's code in a bare repository in the data directory. Writers clone it
//! into a private [`Workdir`], commit and push a branch; readers resolve a commit and
//! either read it straight from the bare repository ([`Git::list_files`], [`Git::show_file`],
//! [`Git::diff_stat`], [`Git::diff`]) or take a detached checkout.
//!
//! The repositories hold generated, untrusted code, so every git process runs hardened
//! (see `git.rs`): no hooks on either side of a push, no system or user config, a scrubbed
//! environment, no prompts, a fixed identity; and paths given to the API are checked
//! ([`check_relative_path`]) so they cannot leave the working tree or reach `.git`.
//!
//! The real `git` binary is used rather than libgit2 so behaviour (locking, packing,
//! concurrent pushes to different branches of one repository) is exactly git's.

mod diff;
mod error;
mod git;
mod import;
mod remote;
mod repo;
mod validate;
mod workdir;

pub use diff::{ChangeStatus, DIFF_TRUNCATED_MARKER, DiffStat, FileChange};
pub use error::Error;
pub use git::{Git, Identity};
pub use import::{ImportError, ImportUrl, Imported, redact};
pub use remote::HttpAuth;
pub use repo::{FileEntry, with_trailers};
pub use validate::{check_branch_name, check_relative_path};
pub use workdir::{BASE_BRANCH, Workdir};
