//! Attaching an existing repository: mirror one branch of a remote (with its history) into a
//! new bare repository whose base branch is that branch.
//!
//! The URL is untrusted input: only `https`, `http`, `ssh` and (under configured roots)
//! `file` transports are allowed, git never prompts, credentials in the URL are used for the
//! clone only (the origin remote is removed afterwards, so they are never stored) and every
//! message shows the URL with its credentials masked. Submodules are not fetched and LFS
//! objects are not downloaded: a bare clone has neither.

use std::path::{Path, PathBuf};

use crate::git::Invocation;
use crate::{BASE_BRANCH, Error, Git};

/// Why an import was refused or failed, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("invalid import URL: {0}")]
    InvalidUrl(String),
    #[error("invalid branch name {0:?}")]
    InvalidBranch(String),
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} has no branch {branch:?}; its branches: {available}")]
    NoBranch {
        url: String,
        branch: String,
        available: String,
    },
    #[error("{url} is an empty repository (it has no commits)")]
    Empty { url: String },
    #[error("mirroring {url} failed: {reason}")]
    Failed { url: String, reason: String },
    #[error(transparent)]
    Git(#[from] Error),
}

/// A checked import URL.
#[derive(Clone)]
pub struct ImportUrl {
    url: String,
    shown: String,
    file: bool,
    /// An `Authorization` header for an https source (see [`ImportUrl::with_auth`]).
    auth: Option<String>,
}

impl std::fmt::Debug for ImportUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ImportUrl").field(&self.shown).finish()
    }
}

impl ImportUrl {
    /// Checks `url`: a supported scheme, a host (or, for `file://`, an absolute path inside
    /// one of `file_roots`), no characters git or a shell could misread.
    pub fn parse(url: &str, file_roots: &[PathBuf]) -> Result<Self, ImportError> {
        let url = url.trim();
        if url.is_empty() || url.len() > 2048 {
            return Err(ImportError::InvalidUrl(
                "it must be 1 to 2048 characters".into(),
            ));
        }
        if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ImportError::InvalidUrl(
                "it must not contain spaces or control characters".into(),
            ));
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(ImportError::InvalidUrl(
                "use a URL such as https://host/owner/repo.git, ssh://git@host/owner/repo.git or file:///path/to/repo".into(),
            ));
        };
        let shown = redact(url);
        match scheme {
            "https" | "http" | "ssh" => {
                let authority = rest.split('/').next().unwrap_or_default();
                let host = authority.rsplit('@').next().unwrap_or_default();
                if host.is_empty() || host.starts_with('-') {
                    return Err(ImportError::InvalidUrl(format!("{shown} names no host")));
                }
                Ok(Self {
                    url: url.to_owned(),
                    shown,
                    file: false,
                    auth: None,
                })
            }
            "file" => {
                let path = Path::new(rest);
                if !path.is_absolute() {
                    return Err(ImportError::InvalidUrl(
                        "a file:// URL needs an absolute path (file:///...)".into(),
                    ));
                }
                if file_roots.is_empty() {
                    return Err(ImportError::InvalidUrl(
                        "file:// imports are off: list the directories they may read in [api] import_roots".into(),
                    ));
                }
                let real = path.canonicalize().map_err(|_| ImportError::Unreachable {
                    url: shown.clone(),
                    reason: "no such directory".into(),
                })?;
                let allowed = file_roots
                    .iter()
                    .filter_map(|r| r.canonicalize().ok())
                    .any(|root| real.starts_with(&root));
                if !allowed {
                    return Err(ImportError::InvalidUrl(format!(
                        "{} is outside the directories [api] import_roots allows",
                        real.display()
                    )));
                }
                Ok(Self {
                    url: format!("file://{}", real.display()),
                    shown,
                    file: true,
                    auth: None,
                })
            }
            other => Err(ImportError::InvalidUrl(format!(
                "the {other:?} transport is not allowed; use https, ssh or file"
            ))),
        }
    }

    /// The URL as it may be stored, logged and shown: credentials masked.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Authenticates to an http(s) source with a token, sent as an `Authorization` header
    /// through git's environment: never in the URL, the command line or a stored config.
    pub fn with_auth(mut self, auth: &crate::HttpAuth) -> Self {
        self.auth = Some(auth.header().to_owned());
        self
    }
}

/// `scheme://user:secret@host/...` -> `scheme://***@host/...`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// What an import brought in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The head of the imported branch, now the project's base branch.
    pub commit: String,
    /// Commits of its history.
    pub commits: u64,
}

fn valid_branch(branch: &str) -> bool {
    !branch.is_empty()
        && branch.len() <= 200
        && !branch.starts_with(['-', '/', '.'])
        && !branch.ends_with(['/', '.'])
        && !branch.contains("..")
        && !branch.contains("//")
        && !branch.ends_with(".lock")
        && branch
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

impl Git {
    /// Transport settings for an untrusted URL: only the transport it names, no prompts.
    fn import_args(url: &ImportUrl, rest: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec!["-c".into(), "protocol.allow=never".into()];
        for t in ["https", "http", "ssh"] {
            args.extend(["-c".into(), format!("protocol.{t}.allow=always")]);
        }
        args.extend([
            "-c".into(),
            format!(
                "protocol.file.allow={}",
                if url.file { "always" } else { "never" }
            ),
            "-c".into(),
            "core.sshCommand=ssh -o BatchMode=yes -o ConnectTimeout=20".into(),
        ]);
        args.extend(rest.iter().map(|s| s.to_string()));
        args
    }

    /// Mirrors `branch` of `url`, with its history, into a new bare repository at `dest`
    /// (which must not exist), as its `main`. Nothing is left at `dest` on failure.
    pub async fn import(
        &self,
        url: &ImportUrl,
        branch: &str,
        dest: &Path,
    ) -> Result<Imported, ImportError> {
        if !valid_branch(branch) {
            return Err(ImportError::InvalidBranch(branch.to_owned()));
        }
        let shown = url.shown.clone();
        let scrub = |stderr: &[u8]| {
            let text = String::from_utf8_lossy(stderr).replace(&url.url, &url.shown);
            let line = text
                .lines()
                .rev()
                .find(|l| l.starts_with("fatal:") || l.starts_with("error:"))
                .unwrap_or_else(|| text.lines().last().unwrap_or("git failed"))
                .trim_start_matches("fatal: ")
                .trim_start_matches("error: ")
                .to_owned();
            redact_all(&line)
        };

        // ls-remote first: an unreachable, private or empty repository and a missing branch
        // each get their own answer before anything is written.
        // A local transport's upload-pack would not get our hardening (see transport_helper).
        // (Remote transports run the far side's own git; the flag only matters for file://.)
        let upload_pack = if url.file {
            format!(
                "--upload-pack={}",
                self.transport_helper("upload-pack").to_string_lossy()
            )
        } else {
            "--upload-pack=git-upload-pack".to_owned()
        };
        let ls = Self::import_args(url, &["ls-remote", "--heads", &upload_pack, "--", &url.url]);
        let ls: Vec<&str> = ls.iter().map(String::as_str).collect();
        let out = self
            .output(&Invocation::none().args(ls).auth(url.auth.as_deref()))
            .await?;
        if !out.status.success() {
            return Err(ImportError::Unreachable {
                url: shown,
                reason: scrub(&out.stderr),
            });
        }
        let heads: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                l.split('\t')
                    .nth(1)?
                    .strip_prefix("refs/heads/")
                    .map(str::to_owned)
            })
            .collect();
        if heads.is_empty() {
            return Err(ImportError::Empty { url: shown });
        }
        if !heads.iter().any(|h| h == branch) {
            let mut available: Vec<&str> = heads.iter().map(String::as_str).take(10).collect();
            if heads.len() > 10 {
                available.push("...");
            }
            return Err(ImportError::NoBranch {
                url: shown,
                branch: branch.to_owned(),
                available: available.join(", "),
            });
        }

        let parent = dest.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| Error::io("create", parent, e))?;
        let tmp = parent.join(format!(".import-{}", crate::repo::unique_suffix()));
        let tmp_s = tmp.to_string_lossy().into_owned();
        let result = async {
            let clone = Self::import_args(
                url,
                &[
                    "clone",
                    "--bare",
                    "--single-branch",
                    "--no-tags",
                    &upload_pack,
                    "--branch",
                    branch,
                    "--",
                    &url.url,
                    &tmp_s,
                ],
            );
            let clone: Vec<&str> = clone.iter().map(String::as_str).collect();
            let out = self
                .output(&Invocation::none().args(clone).auth(url.auth.as_deref()))
                .await?;
            if !out.status.success() {
                return Err(ImportError::Failed {
                    url: shown.clone(),
                    reason: scrub(&out.stderr),
                });
            }
            // The credentials in the URL live on only in the origin remote: remove it.
            self.run(&Invocation::bare(&tmp).args(["remote", "remove", "origin"]))
                .await?;
            let head = self
                .run(&Invocation::bare(&tmp).args([
                    "rev-parse",
                    "--verify",
                    &format!("refs/heads/{branch}^{{commit}}"),
                ]))
                .await?;
            let commit = String::from_utf8_lossy(&head).trim().to_owned();
            if branch != BASE_BRANCH {
                self.run(&Invocation::bare(&tmp).args([
                    "update-ref",
                    &format!("refs/heads/{BASE_BRANCH}"),
                    &commit,
                ]))
                .await?;
                self.run(&Invocation::bare(&tmp).args([
                    "update-ref",
                    "-d",
                    &format!("refs/heads/{branch}"),
                ]))
                .await?;
            }
            self.run(&Invocation::bare(&tmp).args([
                "symbolic-ref",
                "HEAD",
                &format!("refs/heads/{BASE_BRANCH}"),
            ]))
            .await?;
            let count = self
                .run(&Invocation::bare(&tmp).args(["rev-list", "--count", &commit]))
                .await?;
            let commits = String::from_utf8_lossy(&count).trim().parse().unwrap_or(0);
            if tokio::fs::try_exists(dest).await.unwrap_or(true) {
                return Err(ImportError::Failed {
                    url: shown.clone(),
                    reason: format!("{} exists already", dest.display()),
                });
            }
            tokio::fs::rename(&tmp, dest)
                .await
                .map_err(|e| Error::io("move the import into", dest, e))?;
            Ok(Imported { commit, commits })
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_dir_all(&tmp).await;
        }
        result
    }
}

impl Git {
    /// First lines of the newest `limit` commit messages reachable from `commit`.
    pub async fn subjects(
        &self,
        bare: &Path,
        commit: &str,
        limit: usize,
    ) -> Result<Vec<String>, Error> {
        let sha = self.require_commit(bare, commit).await?;
        let n = format!("-n{limit}");
        let out = self
            .run(&Invocation::bare(bare).args(["log", "--no-color", "--format=%s", &n, &sha]))
            .await?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .map(str::to_owned)
            .collect())
    }
}

/// Masks credentials of every URL inside a message.
fn redact_all(text: &str) -> String {
    text.split(' ')
        .map(|w| {
            if w.contains("://") {
                redact(w)
            } else {
                w.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show() {
        assert_eq!(
            redact("https://bob:s3cret@example.com/a/b.git"),
            "https://***@example.com/a/b.git"
        );
        assert_eq!(
            redact("https://example.com/a@b.git"),
            "https://example.com/a@b.git"
        );
        let u = ImportUrl::parse("https://x-access-token:ghs_abc@github.com/o/r.git", &[]).unwrap();
        assert_eq!(u.shown(), "https://***@github.com/o/r.git");
        assert!(!format!("{u:?}").contains("ghs_abc"));
        assert_eq!(
            redact_all("fatal: unable to access 'https://u:p@h/x/': 403"),
            "fatal: unable to access 'https://***@h/x/': 403"
        );
    }

    #[test]
    fn only_known_transports_and_allowed_roots() {
        let err = |u: &str, roots: &[PathBuf]| ImportUrl::parse(u, roots).unwrap_err().to_string();
        assert!(err("ext::sh%20-c%20id", &[]).contains("use a URL such as"));
        assert!(err("ext://sh", &[]).contains("not allowed"));
        assert!(err("https:///nohost", &[]).contains("names no host"));
        assert!(err("https://-oProxyCommand=x/r", &[]).contains("names no host"));
        assert!(err("file:///etc", &[]).contains("import_roots"));
        let root = tempfile::tempdir().unwrap();
        let inside = root.path().join("repo");
        std::fs::create_dir(&inside).unwrap();
        let roots = [root.path().to_path_buf()];
        assert!(ImportUrl::parse(&format!("file://{}", inside.display()), &roots).is_ok());
        assert!(err("file:///etc", &roots).contains("outside"));
        // `..` cannot climb out: the path is resolved before it is compared.
        assert!(err(&format!("file://{}/../..", inside.display()), &roots).contains("outside"));
        assert!(err("https://h/a b", &[]).contains("spaces"));
    }

    #[test]
    fn branch_names_are_checked() {
        for ok in ["main", "release/1.2", "feat_x-y"] {
            assert!(valid_branch(ok), "{ok}");
        }
        for bad in ["", "-x", "a..b", "a b", "x.lock", "/a", "a/", "$(x)"] {
            assert!(!valid_branch(bad), "{bad}");
        }
    }
}
