//! What changed between two commits, as numbers (for gates and dashboards) and as a
//! bounded unified diff (for reviewers and prompts), computed straight from the bare
//! repository.

use std::path::Path;

use crate::git::{Invocation, single_line};
use crate::{Error, Git};

/// The line appended to a diff that was cut at `max_bytes`.
pub const DIFF_TRUNCATED_MARKER: &str = "[kiln-git: diff truncated]";

/// Options shared by both diff forms. Plumbing `diff-tree` ignores porcelain diff config;
/// external diff and textconv drivers are named by repository config and would run programs.
const DIFF_OPTIONS: &[&str] = &["diff-tree", "-r", "-M", "--no-ext-diff", "--no-textconv"];

/// How one file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeStatus {
    Added,
    /// Content or mode changed, including a file turning into a symlink or back.
    Modified,
    Deleted,
    /// Moved (possibly with edits); [`FileChange::old_path`] holds the previous path.
    Renamed,
}

/// One changed file in a [`DiffStat`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Path after the change (for a deletion, the deleted path).
    pub path: String,
    /// Path before a rename.
    pub old_path: Option<String>,
    pub status: ChangeStatus,
    /// Added lines; 0 for binary files.
    pub insertions: u64,
    /// Removed lines; 0 for binary files.
    pub deletions: u64,
    /// git considers the content binary, so it has no line counts.
    pub binary: bool,
}

/// Summary of the changes between two commits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffStat {
    pub files_changed: usize,
    pub insertions: u64,
    pub deletions: u64,
    pub files: Vec<FileChange>,
}

impl Git {
    /// Per-file line counts and statuses from `base` (or the empty tree when `None`) to
    /// `head`, with rename detection.
    pub async fn diff_stat(
        &self,
        bare: &Path,
        base: Option<&str>,
        head: &str,
    ) -> Result<DiffStat, Error> {
        let (base, head) = self.diff_endpoints(bare, base, head).await?;
        // --raw and --numstat in one run list the same files in the same order, so the
        // two records of a file can be paired by position.
        let inv = Invocation::bare(bare).args(DIFF_OPTIONS).args([
            "--raw",
            "--numstat",
            "-z",
            &base,
            &head,
        ]);
        let stdout = self.run(&inv).await?;
        parse_raw_numstat(&stdout).map_err(|detail| inv.unexpected(detail))
    }

    /// Unified diff from `base` (or the empty tree when `None`) to `head`. When it exceeds
    /// `max_bytes` the text is cut at the last line boundary within `max_bytes` and
    /// [`DIFF_TRUNCATED_MARKER`] is appended as a final line (so the result may be longer
    /// than `max_bytes` by the marker's length).
    pub async fn diff(
        &self,
        bare: &Path,
        base: Option<&str>,
        head: &str,
        max_bytes: usize,
    ) -> Result<String, Error> {
        let (base, head) = self.diff_endpoints(bare, base, head).await?;
        let inv =
            Invocation::bare(bare)
                .args(DIFF_OPTIONS)
                .args(["-p", "--no-color", &base, &head]);
        let (mut bytes, truncated) = self.run_capped(&inv, max_bytes).await?;
        if !truncated {
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
        if let Some(last_newline) = bytes.iter().rposition(|&b| b == b'\n') {
            bytes.truncate(last_newline + 1);
        }
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        // A cut inside a multi-byte character shows up as a replacement character; drop it.
        if !text.ends_with('\n') {
            text = text.trim_end_matches('\u{fffd}').to_owned();
            if !text.is_empty() {
                text.push('\n');
            }
        }
        text.push_str(DIFF_TRUNCATED_MARKER);
        text.push('\n');
        Ok(text)
    }

    async fn diff_endpoints(
        &self,
        bare: &Path,
        base: Option<&str>,
        head: &str,
    ) -> Result<(String, String), Error> {
        let base = match base {
            Some(rev) => self.require_commit(bare, rev).await?,
            None => self.empty_tree(bare).await?,
        };
        let head = self.require_commit(bare, head).await?;
        Ok((base, head))
    }

    /// The empty tree's id in this repository's hash algorithm (SHA-1 or SHA-256); git
    /// knows that object without it being stored.
    async fn empty_tree(&self, bare: &Path) -> Result<String, Error> {
        let inv = Invocation::bare(bare).args(["hash-object", "-t", "tree", "/dev/null"]);
        let stdout = self.run(&inv).await?;
        single_line(&inv, &stdout)
    }
}

/// Parses `diff-tree --raw --numstat -z`: first every raw record
/// (`:modes shas STATUS\0path\0`, two paths for renames), then every numstat record
/// (`ins\tdel\tpath\0`, or `ins\tdel\t\0old\0new\0` for renames).
fn parse_raw_numstat(stdout: &[u8]) -> Result<DiffStat, String> {
    let text = String::from_utf8_lossy(stdout);
    let mut fields = text.split('\0');
    let mut files = Vec::new();
    let mut pending_numstat = None;

    while let Some(field) = fields.next() {
        if field.is_empty() {
            continue;
        }
        let Some(meta) = field.strip_prefix(':') else {
            pending_numstat = Some(field);
            break;
        };
        let letter = meta
            .rsplit(' ')
            .next()
            .and_then(|s| s.chars().next())
            .ok_or_else(|| format!("raw record without status: {field:?}"))?;
        let status = match letter {
            'A' | 'C' => ChangeStatus::Added,
            'M' | 'T' => ChangeStatus::Modified,
            'D' => ChangeStatus::Deleted,
            'R' => ChangeStatus::Renamed,
            other => return Err(format!("unexpected status {other:?} in {field:?}")),
        };
        let first = fields
            .next()
            .ok_or_else(|| format!("raw record without path: {field:?}"))?;
        let (path, old_path) = if matches!(letter, 'R' | 'C') {
            let second = fields
                .next()
                .ok_or_else(|| format!("rename without destination: {field:?}"))?;
            let old = (letter == 'R').then(|| first.to_owned());
            (second.to_owned(), old)
        } else {
            (first.to_owned(), None)
        };
        files.push(FileChange {
            path,
            old_path,
            status,
            insertions: 0,
            deletions: 0,
            binary: false,
        });
    }

    let mut index = 0;
    let mut next_numstat = pending_numstat;
    while let Some(record) = next_numstat.take().or_else(|| fields.next()) {
        if record.is_empty() {
            continue;
        }
        let mut parts = record.splitn(3, '\t');
        let (Some(ins), Some(del), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("malformed numstat record {record:?}"));
        };
        if path.is_empty() {
            // A rename: the two paths follow as separate fields.
            fields.next();
            fields.next();
        }
        let file = files
            .get_mut(index)
            .ok_or_else(|| format!("more numstat than raw records at {record:?}"))?;
        if ins == "-" && del == "-" {
            file.binary = true;
        } else {
            file.insertions = ins
                .parse()
                .map_err(|_| format!("bad insertion count in {record:?}"))?;
            file.deletions = del
                .parse()
                .map_err(|_| format!("bad deletion count in {record:?}"))?;
        }
        index += 1;
    }
    if index != files.len() {
        return Err(format!(
            "{} raw records but {index} numstat records",
            files.len()
        ));
    }

    Ok(DiffStat {
        files_changed: files.len(),
        insertions: files.iter().map(|f| f.insertions).sum(),
        deletions: files.iter().map(|f| f.deletions).sum(),
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_renames_binaries_and_deletions() {
        let raw = [
            ":100644 100644 aaa bbb M",
            "a",
            ":100644 100644 ccc ddd R097",
            "big",
            "big2",
            ":100644 100644 eee fff M",
            "bin",
            ":100644 000000 ggg 000 D",
            "gone",
            "1\t0\ta",
            "1\t0\t",
            "big",
            "big2",
            "-\t-\tbin",
            "0\t1\tgone",
            "",
        ]
        .join("\0");
        let stat = parse_raw_numstat(raw.as_bytes()).expect("parses");
        assert_eq!(stat.files_changed, 4);
        assert_eq!((stat.insertions, stat.deletions), (2, 1));
        assert_eq!(stat.files[1].status, ChangeStatus::Renamed);
        assert_eq!(stat.files[1].path, "big2");
        assert_eq!(stat.files[1].old_path.as_deref(), Some("big"));
        assert!(stat.files[2].binary);
        assert_eq!(stat.files[3].status, ChangeStatus::Deleted);
        assert_eq!(stat.files[3].deletions, 1);
    }

    #[test]
    fn empty_output_is_an_empty_stat() {
        assert_eq!(parse_raw_numstat(b"").ok(), Some(DiffStat::default()));
    }
}
