//! Shared fixture: a temp dir with one bare repository and helpers to put commits on it,
//! so each test states only what it is about.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use kiln_git::{Git, Workdir};
use tempfile::TempDir;

pub struct Fixture {
    pub tmp: TempDir,
    pub git: Git,
    pub bare: PathBuf,
    next_dest: AtomicUsize,
}

impl Fixture {
    pub async fn new() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let git = Git::new();
        let bare = tmp.path().join("repos").join("app.git");
        git.ensure_bare(&bare).await.expect("ensure_bare");
        Fixture {
            tmp,
            git,
            bare,
            next_dest: AtomicUsize::new(0),
        }
    }

    /// A fresh, not yet existing checkout destination.
    pub fn dest(&self) -> PathBuf {
        let n = self.next_dest.fetch_add(1, Ordering::Relaxed);
        self.tmp.path().join("work").join(format!("w{n}"))
    }

    pub async fn checkout(&self, branch: &str) -> Workdir {
        self.git
            .checkout_branch(&self.bare, branch, &self.dest())
            .await
            .expect("checkout_branch")
    }

    /// Checks out `branch`, applies `writes` and `removes`, commits and pushes; returns the sha.
    pub async fn commit_on(
        &self,
        branch: &str,
        writes: &[(&str, &[u8])],
        removes: &[&str],
        message: &str,
    ) -> String {
        let wd = self.checkout(branch).await;
        for (path, contents) in writes {
            wd.write_file(path, contents, false)
                .await
                .expect("write_file");
        }
        for path in removes {
            assert!(
                wd.remove_file(path).await.expect("remove_file"),
                "{path} existed"
            );
        }
        let sha = wd
            .commit_all(message)
            .await
            .expect("commit_all")
            .expect("something to commit");
        wd.push(branch).await.expect("push");
        sha
    }
}

/// Runs plain git (no hardening) for control experiments and direct inspection.
pub fn plain_git(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .args(args)
        .output()
        .expect("run git")
}
