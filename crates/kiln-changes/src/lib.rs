//! Pure handling of model-written changes, shared by every stage that lets an LLM touch code.
//!
//! The inputs here are untrusted: model output, repository content, output of tools run on
//! generated code. Keeping the logic free of I/O and async makes it exhaustively testable,
//! and every function is total: odd input (empty, huge, binary-ish, unbalanced markers)
//! yields an error value or an empty result, never a panic. Input text is only ever data;
//! nothing in it is executed or followed.
//!
//! - [`edits`]: parse model output into whole-file, SEARCH/REPLACE and delete edits and apply
//!   them all-or-nothing to a [`Files`] map.
//! - [`paths`]: which paths an edit may name, and which files are protected policy (CI,
//!   deployment, Kiln's own gate).
//! - [`tamper`]: did a revision make the tests weaker instead of the code better.
//! - [`shrink`]: did a revision remove a suspicious share of the code or files.
//! - [`errors`]: structured `file:line: message` errors from compiler, linter and test
//!   runner output.
//! - [`fingerprint`]: a stable hash of one fix round, so a stuck loop can be detected.
//!
//! Error messages are lowercase fragments precise enough to be sent back to the model
//! verbatim, so it can correct its own answer.

use std::collections::BTreeMap;

pub mod edits;
pub mod errors;
pub mod fingerprint;
pub mod paths;
pub mod shrink;
pub mod tamper;

/// A file set: normalized relative path (see [`paths::check_path`]) to UTF-8 content.
pub type Files = BTreeMap<String, String>;

/// Cuts `text` to at most `max_chars` characters, marking the cut with `…` so a reader (or
/// the model) knows something was left out.
pub(crate) fn truncate_chars(text: &str, max_chars: usize) -> String {
    if max_chars == 0 {
        return String::new();
    }
    match text.char_indices().nth(max_chars) {
        None => text.to_owned(),
        Some(_) => {
            let keep: String = text.chars().take(max_chars - 1).collect();
            keep + "…"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::truncate_chars;

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        assert_eq!(truncate_chars("ééé", 2), "é…");
        assert_eq!(truncate_chars("ééé", 2).chars().count(), 2);
        assert_eq!(truncate_chars("x", 0), "");
        assert_eq!(truncate_chars("", 5), "");
    }
}
