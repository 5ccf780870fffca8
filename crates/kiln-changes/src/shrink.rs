//! Revision safety gate: a fix round is meant to repair code, and one that deletes a large
//! share of it (or many files) is more likely a model giving up ("remove the failing
//! feature") than a fix. [`check`] measures the loss and reports it with numbers the model
//! and a reviewer can act on.

use serde::{Deserialize, Serialize};

use crate::Files;

/// How much a revision may remove before it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ShrinkLimits {
    /// Largest share of lines that may disappear (0.3 = at most 30%).
    pub max_shrink_ratio: f64,
    /// Most files that may be deleted.
    pub max_deleted_files: usize,
    /// Largest share of files that may be deleted.
    pub max_deleted_ratio: f64,
}

impl Default for ShrinkLimits {
    fn default() -> Self {
        ShrinkLimits {
            max_shrink_ratio: 0.3,
            max_deleted_files: 3,
            max_deleted_ratio: 0.25,
        }
    }
}

/// A revision that removed more than [`ShrinkLimits`] allow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShrinkViolation {
    pub lines_before: usize,
    pub lines_after: usize,
    /// Share of `lines_before` that is gone (0 when the code grew).
    pub shrink_ratio: f64,
    /// Paths present before and absent after, sorted.
    pub deleted_files: Vec<String>,
    pub message: String,
}

/// Dependency lock files are regenerated wholesale by package managers, so their size says
/// nothing about how much code a revision removed; they are left out of the line count
/// (their deletion still counts as a deleted file).
const LOCK_FILES: &[&str] = &[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "Cargo.lock",
    "poetry.lock",
    "Pipfile.lock",
    "uv.lock",
    "composer.lock",
    "pubspec.lock",
    "Gemfile.lock",
    "go.sum",
];

/// How many deleted paths the message names before summarizing the rest.
const NAMED_FILES: usize = 20;

/// Compares two versions of a file set; `None` when the revision stays within `limits`.
///
/// Limits are upper bounds compared so that a NaN limit refuses rather than allows.
pub fn check(before: &Files, after: &Files, limits: ShrinkLimits) -> Option<ShrinkViolation> {
    let lines_before = count_lines(before);
    let lines_after = count_lines(after);
    let removed = lines_before.saturating_sub(lines_after);
    let shrink_ratio = ratio(removed, lines_before);
    let deleted_files: Vec<String> = before
        .keys()
        .filter(|path| !after.contains_key(*path))
        .cloned()
        .collect();
    let deleted_ratio = ratio(deleted_files.len(), before.len());
    let within = shrink_ratio <= limits.max_shrink_ratio
        && deleted_files.len() <= limits.max_deleted_files
        && deleted_ratio <= limits.max_deleted_ratio;
    if within {
        return None;
    }
    let files_part = if deleted_files.is_empty() {
        format!("deletes none of the {} files", before.len())
    } else {
        let mut named = deleted_files
            .iter()
            .take(NAMED_FILES)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if deleted_files.len() > NAMED_FILES {
            named.push_str(&format!(" and {} more", deleted_files.len() - NAMED_FILES));
        }
        format!(
            "deletes {} of {} files: {named}",
            deleted_files.len(),
            before.len()
        )
    };
    let message = format!(
        "the revision removes {removed} of {lines_before} lines ({}%) and {files_part}; a \
         revision may remove at most {}% of the lines and delete at most {} files ({}% of \
         them)",
        percent(shrink_ratio),
        percent(limits.max_shrink_ratio),
        limits.max_deleted_files,
        percent(limits.max_deleted_ratio),
    );
    Some(ShrinkViolation {
        lines_before,
        lines_after,
        shrink_ratio,
        deleted_files,
        message,
    })
}

fn count_lines(files: &Files) -> usize {
    files
        .iter()
        .filter(|(path, _)| {
            let name = path.rsplit('/').next().unwrap_or(path);
            !LOCK_FILES.contains(&name)
        })
        .map(|(_, content)| content.lines().count())
        .sum()
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn percent(ratio: f64) -> String {
    format!("{:.0}", ratio * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: usize) -> String {
        (0..n).map(|i| format!("line {i}\n")).collect()
    }

    fn set(entries: &[(&str, usize)]) -> Files {
        entries
            .iter()
            .map(|(p, n)| ((*p).to_owned(), lines(*n)))
            .collect()
    }

    #[test]
    fn growth_and_small_changes_pass() {
        let before = set(&[("a.js", 100), ("b.js", 100)]);
        assert_eq!(check(&before, &before, ShrinkLimits::default()), None);
        let grown = set(&[("a.js", 300), ("b.js", 100), ("c.js", 5)]);
        assert_eq!(check(&before, &grown, ShrinkLimits::default()), None);
        let trimmed = set(&[("a.js", 60), ("b.js", 100)]);
        assert_eq!(check(&before, &trimmed, ShrinkLimits::default()), None);
        assert_eq!(
            check(&Files::new(), &Files::new(), ShrinkLimits::default()),
            None
        );
    }

    #[test]
    fn line_loss_beyond_the_ratio_is_a_violation() {
        let before = set(&[("a.js", 500), ("b.js", 400)]);
        let after = set(&[("a.js", 88), ("b.js", 400)]);
        let violation = check(&before, &after, ShrinkLimits::default()).unwrap();
        assert_eq!(violation.lines_before, 900);
        assert_eq!(violation.lines_after, 488);
        assert!((violation.shrink_ratio - 412.0 / 900.0).abs() < 1e-9);
        assert!(violation.deleted_files.is_empty());
        assert_eq!(
            violation.message,
            "the revision removes 412 of 900 lines (46%) and deletes none of the 2 files; a revision may remove at most 30% of the lines and delete at most 3 files (25% of them)"
        );
    }

    #[test]
    fn deleting_too_many_files_is_a_violation() {
        let names: Vec<String> = (0..12).map(|i| format!("src/f{i:02}.js")).collect();
        let before: Files = names.iter().map(|n| (n.clone(), lines(75))).collect();
        let mut after = before.clone();
        for n in &names[..5] {
            after.remove(n);
        }
        let violation = check(&before, &after, ShrinkLimits::default()).unwrap();
        assert_eq!(violation.deleted_files, names[..5].to_vec());
        assert!(
            violation.message.starts_with(
                "the revision removes 375 of 900 lines (42%) and deletes 5 of 12 files: src/f00.js, src/f01.js, src/f02.js, src/f03.js, src/f04.js;"
            ),
            "{}",
            violation.message
        );
    }

    #[test]
    fn deleted_share_counts_even_when_few_files_go() {
        let before = set(&[("a.js", 10), ("b.js", 10), ("big.js", 1000)]);
        let after = set(&[("a.js", 10), ("big.js", 1000)]);
        let violation = check(&before, &after, ShrinkLimits::default()).unwrap();
        assert_eq!(violation.deleted_files, vec!["b.js".to_owned()]);
        let lenient = ShrinkLimits {
            max_deleted_ratio: 0.5,
            ..ShrinkLimits::default()
        };
        assert_eq!(check(&before, &after, lenient), None);
    }

    #[test]
    fn lock_files_do_not_count_as_code() {
        let before = set(&[
            ("package-lock.json", 5000),
            ("web/yarn.lock", 100),
            ("a.js", 100),
        ]);
        let after = set(&[
            ("package-lock.json", 1000),
            ("web/yarn.lock", 10),
            ("a.js", 100),
        ]);
        assert_eq!(check(&before, &after, ShrinkLimits::default()), None);
    }

    #[test]
    fn many_deleted_names_are_summarized() {
        let before: Files = (0..30).map(|i| (format!("f{i:02}"), lines(1))).collect();
        let violation = check(&before, &Files::new(), ShrinkLimits::default()).unwrap();
        assert_eq!(violation.deleted_files.len(), 30);
        assert!(
            violation.message.contains("f19 and 10 more;"),
            "{}",
            violation.message
        );
        assert!(violation.message.contains("removes 30 of 30 lines (100%)"));
    }

    #[test]
    fn nan_limits_refuse() {
        let before = set(&[("a.js", 10)]);
        let nan = ShrinkLimits {
            max_shrink_ratio: f64::NAN,
            ..ShrinkLimits::default()
        };
        assert!(check(&before, &before, nan).is_some());
    }
}
