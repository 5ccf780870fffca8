//! Private working trees cloned from a shared bare repository: writers (codegen) edit,
//! commit and push one; readers (tester, deployer) get a detached snapshot of one commit.
//! The bare repository is only ever touched through git's transport, never the filesystem.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use crate::git::{Invocation, Location, single_line};
use crate::repo::unique_suffix;
use crate::validate::{check_branch_name, check_relative_path, check_revision, is_full_object_id};
use crate::{Error, Git, Identity};

/// The branch a new branch starts from when it does not exist yet.
pub const BASE_BRANCH: &str = "main";

/// A working tree with its own `.git`, cloned from a bare repository (its origin).
///
/// Methods take `&self`, but commits and pushes of one working tree should not overlap:
/// git's index lock turns an overlap into an error rather than corruption. The directory
/// is left in place when this value is dropped; its owner decides when to delete it.
///
/// Hooks and fsmonitor are disabled from the command line and pushes go to the stored
/// origin path, so a tampered `.git/config` cannot redirect them. It can still define
/// clean/smudge filters that `.gitattributes` would invoke on commit, so only commit from a
/// working tree in which no generated code has been executed; readers that run code should
/// use a fresh [`Git::checkout_commit`] and discard it afterwards.
#[derive(Debug, Clone)]
pub struct Workdir {
    git: Git,
    path: PathBuf,
    origin: PathBuf,
}

impl Git {
    /// Checks out `rev` into `dest`: a full 40/64-hex sha as a detached commit
    /// ([`Git::checkout_commit`]), anything else as a branch ([`Git::checkout_branch`]).
    pub async fn checkout(&self, bare: &Path, rev: &str, dest: &Path) -> Result<Workdir, Error> {
        if is_full_object_id(rev) {
            self.checkout_commit(bare, rev, dest).await
        } else {
            self.checkout_branch(bare, rev, dest).await
        }
    }

    /// Clones `bare` into `dest` (missing or empty) with `branch` checked out, ready to
    /// commit and push. A branch that does not exist yet starts from [`BASE_BRANCH`] when
    /// that exists, otherwise as an unborn branch with an empty tree.
    pub async fn checkout_branch(
        &self,
        bare: &Path,
        branch: &str,
        dest: &Path,
    ) -> Result<Workdir, Error> {
        check_branch_name(branch)?;
        require_empty_destination(dest).await?;
        // Checking first and cloning second can race with a push creating the branch; the
        // loser then fails its own push as a non-fast-forward, which is the right outcome.
        if self.branch_head(bare, branch).await?.is_some() {
            self.clone_into(bare, dest, &["--branch", branch]).await?;
        } else if self.branch_head(bare, BASE_BRANCH).await?.is_some() {
            self.clone_into(bare, dest, &["--branch", BASE_BRANCH])
                .await?;
            let inv = Invocation::worktree(dest).args(["checkout", "--quiet", "-b", branch]);
            self.run(&inv).await?;
        } else {
            self.clone_into(bare, dest, &["--no-checkout"]).await?;
            let head = format!("refs/heads/{branch}");
            self.run(&Invocation::worktree(dest).args(["symbolic-ref", "HEAD", &head]))
                .await?;
            // Whatever the clone staged for the origin's default branch must not leak into
            // the first commit of an orphan branch.
            self.run(&Invocation::worktree(dest).args(["read-tree", "--empty"]))
                .await?;
        }
        self.workdir(bare, dest).await
    }

    /// Clones `bare` into `dest` (missing or empty) with the commit `rev` resolves to
    /// checked out detached, for readers that must see exactly one commit.
    pub async fn checkout_commit(
        &self,
        bare: &Path,
        rev: &str,
        dest: &Path,
    ) -> Result<Workdir, Error> {
        check_revision(rev)?;
        require_empty_destination(dest).await?;
        let sha = self.require_commit(bare, rev).await?;
        self.clone_into(bare, dest, &["--no-checkout"]).await?;
        let inv = Invocation::worktree(dest).args(["checkout", "--quiet", "--detach", &sha]);
        self.run(&inv).await?;
        self.workdir(bare, dest).await
    }

    async fn clone_into(&self, bare: &Path, dest: &Path, extra: &[&str]) -> Result<(), Error> {
        let mut upload_pack = std::ffi::OsString::from("--upload-pack=");
        upload_pack.push(self.transport_helper("upload-pack"));
        // --no-local: the default local clone hard-links object files, and code running in
        // the working tree could then rewrite the shared repository's objects in place.
        // --template=: no sample hooks or other template files in the new .git.
        let inv = Invocation::new(Location::None)
            .args(["clone", "--quiet", "--no-local", "--template="])
            .arg(upload_pack)
            .args(extra)
            .arg("--")
            .arg(bare)
            .arg(dest);
        self.run(&inv).await.map(drop)
    }

    async fn workdir(&self, bare: &Path, dest: &Path) -> Result<Workdir, Error> {
        // Absolute paths, so later commands do not depend on the process's current directory.
        let path = tokio::fs::canonicalize(dest)
            .await
            .map_err(|e| Error::io("resolve", dest, e))?;
        let origin = tokio::fs::canonicalize(bare)
            .await
            .map_err(|e| Error::io("resolve", bare, e))?;
        Ok(Workdir {
            git: self.clone(),
            path,
            origin,
        })
    }
}

impl Workdir {
    /// The working tree's root directory (absolute).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bare repository this working tree was cloned from and pushes to (absolute).
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// Writes `contents` to `rel`, creating parent directories, with mode 0755 when
    /// `executable` and 0644 otherwise.
    ///
    /// The file is written under a temporary name and renamed into place, so an existing
    /// symlink or hard link at `rel` is replaced rather than written through. A parent
    /// directory that is a symlink is refused, since it could lead outside the tree.
    pub async fn write_file(
        &self,
        rel: &str,
        contents: &[u8],
        executable: bool,
    ) -> Result<(), Error> {
        let (rel, target) = self.resolve(rel).await?;
        let Some(parent) = target.parent() else {
            return Err(Error::UnsafePath {
                path: rel,
                reason: "path has no parent directory",
            });
        };
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| Error::io("create directory", parent, e))?;
        let staging = parent.join(format!(".kiln-write-{}.tmp", unique_suffix()));
        let result = write_new_file(&staging, contents, executable).await;
        let result = match result {
            Ok(()) => tokio::fs::rename(&staging, &target)
                .await
                .map_err(|e| Error::io("write", &target, e)),
            Err(e) => Err(e),
        };
        if result.is_err() {
            let _ = tokio::fs::remove_file(&staging).await;
        }
        result
    }

    /// Reads `rel` from the working tree, `None` when it does not exist. A symlink is
    /// refused rather than followed: it could point at a host file outside the tree.
    pub async fn read_file(&self, rel: &str) -> Result<Option<Vec<u8>>, Error> {
        let (rel, target) = self.resolve(rel).await?;
        match tokio::fs::symlink_metadata(&target).await {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Error::UnsafePath {
                    path: rel,
                    reason: "path is a symlink",
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("inspect", &target, e)),
        }
        tokio::fs::read(&target)
            .await
            .map(Some)
            .map_err(|e| Error::io("read", &target, e))
    }

    /// Deletes `rel` from the working tree; returns whether it existed. A symlink is
    /// removed itself, never its target. The deletion is recorded by the next commit.
    pub async fn remove_file(&self, rel: &str) -> Result<bool, Error> {
        let (_, target) = self.resolve(rel).await?;
        match tokio::fs::remove_file(&target).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("remove", &target, e)),
        }
    }

    /// Stages everything (new, modified, deleted files) and commits as Kiln. Returns the
    /// new commit's sha, or `None` when the tree is unchanged and nothing was committed.
    pub async fn commit_all(&self, message: &str) -> Result<Option<String>, Error> {
        self.commit_all_as(message, &Identity::kiln()).await
    }

    /// Records a commit even though nothing changed: a step's trailers mark it as done, so a
    /// redelivered message does not repeat the step.
    pub async fn commit_empty(&self, message: &str) -> Result<Option<String>, Error> {
        if message.trim().is_empty() {
            return Err(Error::invalid(
                "commit message",
                message,
                "message is empty",
            ));
        }
        let identity = Identity::kiln();
        let commit = self
            .inv()
            .args([
                "commit",
                "--quiet",
                "--no-verify",
                "--allow-empty",
                "--cleanup=whitespace",
                "--file=-",
            ])
            .stdin(message.as_bytes().to_vec())
            .identity(&identity);
        self.git.run(&commit).await?;
        self.head().await
    }

    /// [`Workdir::commit_all`] with `identity` as author and committer.
    pub async fn commit_all_as(
        &self,
        message: &str,
        identity: &Identity,
    ) -> Result<Option<String>, Error> {
        if message.trim().is_empty() {
            return Err(Error::invalid(
                "commit message",
                message,
                "message is empty",
            ));
        }
        let git = &self.git;
        git.run(&self.inv().args(["add", "--all", "--", "."]))
            .await?;
        // Exit status 1 means "staged changes exist"; an unborn branch compares against the
        // empty tree, so the first commit is detected too.
        let quiet = self
            .inv()
            .args(["diff", "--cached", "--quiet", "--no-ext-diff"]);
        let output = git.output(&quiet).await?;
        match output.status.code() {
            Some(0) => return Ok(None),
            Some(1) => {}
            _ => return Err(quiet.failed(output.status, &output.stderr)),
        }
        // The message goes through stdin so it never needs quoting or length limits, and
        // `whitespace` cleanup keeps `#` lines (Markdown headings) that `strip` would drop.
        let commit = self
            .inv()
            .args([
                "commit",
                "--quiet",
                "--no-verify",
                "--cleanup=whitespace",
                "--file=-",
            ])
            .stdin(message.as_bytes().to_vec())
            .identity(identity);
        git.run(&commit).await?;
        self.head().await
    }

    /// Pushes `HEAD` to `refs/heads/<branch>` of the origin. Only fast-forwards are
    /// accepted; otherwise [`Error::PushRejected`].
    pub async fn push(&self, branch: &str) -> Result<(), Error> {
        check_branch_name(branch)?;
        let mut receive_pack = std::ffi::OsString::from("--receive-pack=");
        receive_pack.push(self.git.transport_helper("receive-pack"));
        // The stored origin path is used rather than the `origin` remote, whose URL lives
        // in `.git/config` inside the working tree.
        let inv = self
            .inv()
            .args(["push", "--quiet", "--porcelain"])
            .arg(receive_pack)
            .arg(&self.origin)
            .arg(format!("HEAD:refs/heads/{branch}"));
        let output = self.git.output(&inv).await?;
        if output.status.success() {
            return Ok(());
        }
        // Porcelain lines are `<flag>\t<from>:<to>\t<summary>`; `!` marks a rejected ref.
        let stdout = String::from_utf8_lossy(&output.stdout);
        if let Some(reason) = stdout
            .lines()
            .filter_map(|line| line.strip_prefix("!\t"))
            .map(|rest| rest.split('\t').nth(1).unwrap_or(rest).to_owned())
            .next()
        {
            return Err(Error::PushRejected {
                branch: branch.to_owned(),
                reason,
            });
        }
        Err(inv.failed(output.status, &output.stderr))
    }

    /// The sha `HEAD` points at, or `None` on an unborn branch.
    pub async fn head(&self) -> Result<Option<String>, Error> {
        let inv = self
            .inv()
            .args(["rev-parse", "--quiet", "--verify", "HEAD"]);
        let output = self.git.output(&inv).await?;
        match output.status.code() {
            Some(0) => single_line(&inv, &output.stdout).map(Some),
            Some(1) => Ok(None),
            _ => Err(inv.failed(output.status, &output.stderr)),
        }
    }

    fn inv(&self) -> Invocation<'_> {
        Invocation::worktree(&self.path)
    }

    /// Validates `rel` and refuses it when an existing parent directory is a symlink.
    /// Returns the normalized relative path and the absolute target.
    async fn resolve(&self, rel: &str) -> Result<(String, PathBuf), Error> {
        let rel = check_relative_path(rel)?;
        let mut current = self.path.clone();
        let mut parents: Vec<&str> = rel.split('/').collect();
        parents.pop();
        for segment in parents {
            current.push(segment);
            match tokio::fs::symlink_metadata(&current).await {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(Error::UnsafePath {
                        path: rel,
                        reason: "path passes through a symlink",
                    });
                }
                Ok(_) => {}
                // Nothing below a missing directory exists yet, so nothing can be a symlink.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(Error::io("inspect", &current, e)),
            }
        }
        let target = self.path.join(&rel);
        Ok((rel, target))
    }
}

async fn require_empty_destination(dest: &Path) -> Result<(), Error> {
    match tokio::fs::symlink_metadata(dest).await {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("inspect", dest, e)),
        Ok(meta) if meta.is_dir() => {
            let mut entries = tokio::fs::read_dir(dest)
                .await
                .map_err(|e| Error::io("list", dest, e))?;
            match entries.next_entry().await {
                Ok(None) => Ok(()),
                Ok(Some(_)) => Err(Error::DestinationNotEmpty {
                    path: dest.to_owned(),
                }),
                Err(e) => Err(Error::io("list", dest, e)),
            }
        }
        Ok(_) => Err(Error::DestinationNotEmpty {
            path: dest.to_owned(),
        }),
    }
}

async fn write_new_file(path: &Path, contents: &[u8], executable: bool) -> Result<(), Error> {
    let mode = if executable { 0o755 } else { 0o644 };
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .await
        .map_err(|e| Error::io("create", path, e))?;
    file.write_all(contents)
        .await
        .map_err(|e| Error::io("write", path, e))?;
    file.flush()
        .await
        .map_err(|e| Error::io("write", path, e))?;
    // The creation mode is filtered by the umask; git records exactly what is on disk.
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .await
        .map_err(|e| Error::io("set permissions on", path, e))
}
