//! Read and create operations on the shared bare repositories, which every service reaches
//! directly by path instead of through a working tree, so readers never need a checkout.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::git::{Invocation, Location, single_line};
use crate::validate::{check_branch_name, check_relative_path, check_revision, check_trailer};
use crate::{Error, Git};

/// Appended to a fresh bare repository's config. These protect the repository even from
/// pushes that do not go through this crate: no hooks, no rewriting of published history,
/// and malformed objects (e.g. tree entries named `.git`) refused at the door.
const BARE_CONFIG: &str = "\
[core]
\thooksPath = /dev/null
[receive]
\tdenyNonFastForwards = true
\tfsckObjects = true
";

/// One file of a commit's tree, as listed by [`Git::list_files`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the repository root, `/`-separated.
    pub path: String,
    /// Blob size in bytes (for a symlink, the length of its target).
    pub size: u64,
    /// Whether git records the file as executable (mode 100755).
    pub executable: bool,
    /// Whether the entry is a symbolic link (mode 120000): its blob is the link target.
    pub symlink: bool,
    /// The blob's object id: the content hash, equal for equal contents.
    pub oid: String,
}

impl Git {
    /// Creates a bare repository at `path` unless one is already there. Safe to call from
    /// several processes at once: the repository is built under a temporary name and
    /// renamed into place, so nobody ever sees a half-initialized one.
    pub async fn ensure_bare(&self, path: &Path) -> Result<(), Error> {
        match tokio::fs::metadata(path).await {
            Ok(meta) if meta.is_dir() && !is_empty_dir(path).await? => {
                return self.require_bare(path).await;
            }
            Ok(meta) if !meta.is_dir() => {
                return Err(Error::NotBareRepository {
                    path: path.to_owned(),
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("inspect", path, e)),
        }

        let Some(name) = path.file_name() else {
            return Err(Error::invalid(
                "repository path",
                &path.display().to_string(),
                "path has no final component",
            ));
        };
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| Error::io("create directory", &parent, e))?;

        let mut staging_name = std::ffi::OsString::from(".");
        staging_name.push(name);
        staging_name.push(format!(".kiln-init-{}", unique_suffix()));
        let staging = parent.join(staging_name);

        let result = self.init_bare_at(&staging, path).await;
        if result.is_err() {
            // Best effort: a leftover staging directory is harmless but untidy.
            let _ = tokio::fs::remove_dir_all(&staging).await;
        }
        result
    }

    async fn init_bare_at(&self, staging: &Path, path: &Path) -> Result<(), Error> {
        let inv = Invocation::new(Location::None)
            .args(["init", "--bare", "--quiet", "--template="])
            .arg(staging);
        self.run(&inv).await?;
        let config = staging.join("config");
        let mut text = tokio::fs::read_to_string(&config)
            .await
            .map_err(|e| Error::io("read", &config, e))?;
        text.push_str(BARE_CONFIG);
        tokio::fs::write(&config, text)
            .await
            .map_err(|e| Error::io("write", &config, e))?;

        // rename(2) replaces an empty directory and fails on a non-empty one, which is
        // exactly "create if missing" with a concurrent creator winning cleanly.
        match tokio::fs::rename(staging, path).await {
            Ok(()) => {
                tracing::info!(repo = %path.display(), "created bare repository");
                Ok(())
            }
            Err(rename_error) => {
                if self.require_bare(path).await.is_ok() {
                    let _ = tokio::fs::remove_dir_all(staging).await;
                    Ok(())
                } else {
                    Err(Error::io("move new repository to", path, rename_error))
                }
            }
        }
    }

    async fn require_bare(&self, path: &Path) -> Result<(), Error> {
        let inv = Invocation::bare(path).args(["rev-parse", "--is-bare-repository"]);
        let output = self.output(&inv).await?;
        if output.status.success() && output.stdout.trim_ascii() == b"true" {
            Ok(())
        } else {
            Err(Error::NotBareRepository {
                path: path.to_owned(),
            })
        }
    }

    /// The commit `refs/heads/<branch>` points at, or `None` when the branch does not exist.
    pub async fn branch_head(&self, bare: &Path, branch: &str) -> Result<Option<String>, Error> {
        check_branch_name(branch)?;
        let refname = format!("refs/heads/{branch}");
        // for-each-ref matches the full ref exactly (no DWIM, unlike rev-parse) and exits
        // 0 whether or not the ref exists.
        let inv = Invocation::bare(bare).args([
            "for-each-ref",
            "--format=%(objectname) %(refname)",
            &refname,
        ]);
        let stdout = self.run(&inv).await?;
        let text = String::from_utf8_lossy(&stdout);
        Ok(text.lines().find_map(|line| {
            let (sha, name) = line.split_once(' ')?;
            (name == refname).then(|| sha.to_owned())
        }))
    }

    /// Points `branch` at `sha` in the bare repository (creating it when missing). Used to
    /// record what is deployed; setting a branch to where it already is changes nothing.
    pub async fn set_branch(&self, bare: &Path, branch: &str, sha: &str) -> Result<(), Error> {
        check_branch_name(branch)?;
        check_revision(sha)?;
        let refname = format!("refs/heads/{branch}");
        let inv =
            Invocation::bare(bare).args(["update-ref", "-m", "kiln: deployed", &refname, sha]);
        self.run(&inv).await?;
        Ok(())
    }

    /// Fast-forwards `branch` to `sha` when `sha` descends from where the branch is now,
    /// atomically (the ref moves only if nobody moved it meanwhile). Returns `false`, changing
    /// nothing, when the branch has moved on to a commit `sha` does not contain: merging then
    /// needs a person (or a rebase), never a silent overwrite. A branch already at `sha`, or
    /// missing, counts as advanced.
    pub async fn fast_forward(&self, bare: &Path, branch: &str, sha: &str) -> Result<bool, Error> {
        check_branch_name(branch)?;
        check_revision(sha)?;
        let Some(current) = self.branch_head(bare, branch).await? else {
            self.set_branch(bare, branch, sha).await?;
            return Ok(true);
        };
        if current == sha {
            return Ok(true);
        }
        if !self.is_ancestor(bare, &current, sha).await? {
            return Ok(false);
        }
        let refname = format!("refs/heads/{branch}");
        let inv = Invocation::bare(bare).args([
            "update-ref",
            "-m",
            "kiln: merged",
            &refname,
            sha,
            &current,
        ]);
        let output = self.output(&inv).await?;
        Ok(output.status.success())
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors (so a branch at
    /// `ancestor` can be fast-forwarded to `descendant`).
    pub async fn is_ancestor(
        &self,
        bare: &Path,
        ancestor: &str,
        descendant: &str,
    ) -> Result<bool, Error> {
        check_revision(ancestor)?;
        check_revision(descendant)?;
        let inv =
            Invocation::bare(bare).args(["merge-base", "--is-ancestor", ancestor, descendant]);
        let output = self.output(&inv).await?;
        match output.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(inv.failed(output.status, &output.stderr)),
        }
    }

    /// Resolves any revision (branch, sha, `main~1`) to a full commit sha, or `None` when it
    /// names no commit.
    pub async fn resolve_commit(&self, bare: &Path, rev: &str) -> Result<Option<String>, Error> {
        check_revision(rev)?;
        let inv = Invocation::bare(bare).args([
            "rev-parse",
            "--quiet",
            "--verify",
            &format!("{rev}^{{commit}}"),
        ]);
        let output = self.output(&inv).await?;
        match output.status.code() {
            Some(0) => single_line(&inv, &output.stdout).map(Some),
            Some(1) => Ok(None),
            _ => Err(inv.failed(output.status, &output.stderr)),
        }
    }

    /// Like [`Git::resolve_commit`] but a missing commit is an error.
    pub(crate) async fn require_commit(&self, bare: &Path, rev: &str) -> Result<String, Error> {
        self.resolve_commit(bare, rev)
            .await?
            .ok_or_else(|| Error::UnknownRevision {
                repo: bare.to_owned(),
                rev: rev.to_owned(),
            })
    }

    /// The newest commit on `branch` whose message carries every `key: value` trailer in
    /// `trailers`, or `None` (also when the branch does not exist).
    ///
    /// This is how a redelivered message finds the commit an earlier delivery already made,
    /// so it can skip committing twice. Keys match case-insensitively like git's trailer
    /// handling; values match exactly.
    pub async fn find_commit_by_trailers(
        &self,
        bare: &Path,
        branch: &str,
        trailers: &[(&str, &str)],
    ) -> Result<Option<String>, Error> {
        if trailers.is_empty() {
            return Err(Error::invalid(
                "trailer list",
                "",
                "at least one trailer is needed, otherwise every commit matches",
            ));
        }
        for (key, value) in trailers {
            check_trailer(key, value)?;
        }
        let Some(head) = self.branch_head(bare, branch).await? else {
            return Ok(None);
        };
        // NUL-terminated records: sha, newline, then the trailer block git itself parsed
        // (so "trailer" means exactly what `git interpret-trailers` means).
        let inv = Invocation::bare(bare).args([
            "log",
            "-z",
            "--format=%H%n%(trailers:only,unfold)",
            &head,
            "--",
        ]);
        let stdout = self.run(&inv).await?;
        let text = String::from_utf8_lossy(&stdout);
        for record in text.split('\0') {
            let mut lines = record.lines();
            let Some(sha) = lines.next().filter(|s| !s.is_empty()) else {
                continue;
            };
            let found: Vec<(&str, &str)> = lines
                .filter_map(|line| {
                    let (k, v) = line.split_once(':')?;
                    Some((k.trim(), v.trim()))
                })
                .collect();
            let all_present = trailers.iter().all(|(key, value)| {
                found
                    .iter()
                    .any(|(k, v)| k.eq_ignore_ascii_case(key) && v == value)
            });
            if all_present {
                return Ok(Some(sha.to_owned()));
            }
        }
        Ok(None)
    }

    /// Every file in `commit`'s tree with its size (`git ls-tree -r -l`). Submodule entries
    /// are skipped: they have no content in this repository.
    pub async fn list_files(&self, bare: &Path, commit: &str) -> Result<Vec<FileEntry>, Error> {
        let sha = self.require_commit(bare, commit).await?;
        let inv = Invocation::bare(bare).args(["ls-tree", "-r", "-l", "-z", "--full-tree", &sha]);
        let stdout = self.run(&inv).await?;
        let mut files = Vec::new();
        for record in stdout.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            let record = String::from_utf8_lossy(record);
            let Some((meta, path)) = record.split_once('\t') else {
                return Err(inv.unexpected(format!("no tab in ls-tree record {record:?}")));
            };
            let fields: Vec<&str> = meta.split_ascii_whitespace().collect();
            let [mode, kind, oid, size] = fields[..] else {
                return Err(inv.unexpected(format!("malformed ls-tree record {record:?}")));
            };
            if kind != "blob" {
                continue;
            }
            let size = size
                .parse()
                .map_err(|_| inv.unexpected(format!("bad size in ls-tree record {record:?}")))?;
            files.push(FileEntry {
                path: path.to_owned(),
                size,
                executable: mode == "100755",
                symlink: mode == "120000",
                oid: oid.to_owned(),
            });
        }
        Ok(files)
    }

    /// The content of `path` at `commit`, or `None` when no file is there (missing, or a
    /// directory). An unknown commit is an error, not `None`.
    pub async fn show_file(
        &self,
        bare: &Path,
        commit: &str,
        path: &str,
    ) -> Result<Option<Vec<u8>>, Error> {
        let path = check_relative_path(path)?;
        let sha = self.require_commit(bare, commit).await?;
        // One `cat-file --batch` answers "missing" without an error status, so a missing
        // file needs no stderr parsing.
        let inv = Invocation::bare(bare)
            .args(["cat-file", "--batch"])
            .stdin(format!("{sha}:{path}\n").into_bytes());
        let stdout = self.run(&inv).await?;
        let Some(newline) = stdout.iter().position(|&b| b == b'\n') else {
            return Err(inv.unexpected("no header line"));
        };
        let header = String::from_utf8_lossy(&stdout[..newline]);
        if header.ends_with(" missing") {
            return Ok(None);
        }
        let fields: Vec<&str> = header.split(' ').collect();
        let [_oid, kind, size] = fields[..] else {
            return Err(inv.unexpected(format!("malformed header {header:?}")));
        };
        if kind != "blob" {
            return Ok(None);
        }
        let size: usize = size
            .parse()
            .map_err(|_| inv.unexpected(format!("bad size in header {header:?}")))?;
        let body = &stdout[newline + 1..];
        if body.len() < size {
            return Err(
                inv.unexpected(format!("header announced {size} bytes, got {}", body.len()))
            );
        }
        Ok(Some(body[..size].to_vec()))
    }

    /// Every UTF-8 text file of `commit` up to `max_file_bytes`, path -> content, read through
    /// one `cat-file --batch` (a process per file would cost hundreds of processes on a real
    /// repository). Binary and larger files are left out.
    pub async fn text_files(
        &self,
        bare: &Path,
        commit: &str,
        max_file_bytes: u64,
    ) -> Result<std::collections::BTreeMap<String, String>, Error> {
        let sha = self.require_commit(bare, commit).await?;
        // cat-file --batch reads one object name per line; a path with a newline cannot be named.
        let wanted: Vec<FileEntry> = self
            .list_files(bare, &sha)
            .await?
            .into_iter()
            .filter(|f| f.size <= max_file_bytes && !f.symlink && !f.path.contains('\n'))
            .collect();
        let mut out = std::collections::BTreeMap::new();
        if wanted.is_empty() {
            return Ok(out);
        }
        let input: String = wanted
            .iter()
            .map(|f| format!("{sha}:{}\n", f.path))
            .collect();
        let inv = Invocation::bare(bare)
            .args(["cat-file", "--batch"])
            .stdin(input.into_bytes());
        let stdout = self.run(&inv).await?;
        let mut rest = &stdout[..];
        for file in wanted {
            let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
                return Err(inv.unexpected(format!("no header for {}", file.path)));
            };
            let header = String::from_utf8_lossy(&rest[..newline]).into_owned();
            rest = &rest[newline + 1..];
            if header.ends_with(" missing") {
                continue;
            }
            let size: usize = header
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| inv.unexpected(format!("malformed header {header:?}")))?;
            if rest.len() < size + 1 {
                return Err(
                    inv.unexpected(format!("header announced {size} bytes for {}", file.path))
                );
            }
            if let Ok(text) = std::str::from_utf8(&rest[..size]) {
                out.insert(file.path, text.to_owned());
            }
            rest = &rest[size + 1..];
        }
        Ok(out)
    }
}

impl Git {
    /// The contents of blobs by object id, in order, through one `cat-file --batch`; `None`
    /// for an id the repository does not hold.
    pub async fn read_blobs(
        &self,
        bare: &Path,
        oids: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, Error> {
        if oids.is_empty() {
            return Ok(vec![]);
        }
        if let Some(bad) = oids
            .iter()
            .find(|o| o.is_empty() || !o.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(Error::InvalidInput {
                kind: "object id",
                value: bad.clone(),
                reason: "not a hexadecimal object id",
            });
        }
        let input: String = oids.iter().map(|o| format!("{o}\n")).collect();
        let inv = Invocation::bare(bare)
            .args(["cat-file", "--batch"])
            .stdin(input.into_bytes());
        let stdout = self.run(&inv).await?;
        let mut rest = &stdout[..];
        let mut out = Vec::with_capacity(oids.len());
        for oid in oids {
            let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
                return Err(inv.unexpected(format!("no header for {oid}")));
            };
            let header = String::from_utf8_lossy(&rest[..newline]).into_owned();
            rest = &rest[newline + 1..];
            if header.ends_with(" missing") {
                out.push(None);
                continue;
            }
            let size: usize = header
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| inv.unexpected(format!("malformed header {header:?}")))?;
            if rest.len() < size + 1 {
                return Err(inv.unexpected(format!("header announced {size} bytes for {oid}")));
            }
            let blob = header.split(' ').nth(1) == Some("blob");
            out.push(blob.then(|| rest[..size].to_vec()));
            rest = &rest[size + 1..];
        }
        Ok(out)
    }
}

/// Appends `trailers` to `message` as its final paragraph, in the exact form
/// [`Git::find_commit_by_trailers`] looks for.
pub fn with_trailers(message: &str, trailers: &[(&str, &str)]) -> Result<String, Error> {
    let mut out = message.trim_end().to_owned();
    if trailers.is_empty() {
        return Ok(out);
    }
    out.push_str("\n\n");
    for (key, value) in trailers {
        check_trailer(key, value)?;
        out.push_str(&format!("{key}: {value}\n"));
    }
    Ok(out)
}

async fn is_empty_dir(path: &Path) -> Result<bool, Error> {
    let mut entries = tokio::fs::read_dir(path)
        .await
        .map_err(|e| Error::io("list", path, e))?;
    let first = entries
        .next_entry()
        .await
        .map_err(|e| Error::io("list", path, e))?;
    Ok(first.is_none())
}

/// Distinct per process and per call, for temporary names next to shared paths.
pub(crate) fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}
