//! Stuck detection for the fix loop: two rounds that made the same change and got the same
//! errors are going in circles, even if timings, addresses or hunk positions differ.
//! [`fingerprint`] reduces a round to a hash that is equal exactly then.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use sha2::{Digest, Sha256};

use crate::errors::StructuredError;

static HUNK_HEADER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^@@+ [^@]* @@+").expect("hunk header pattern"));
/// Hex-ish tokens containing a digit (addresses, hashes, UUID parts, temp names).
static HEXISH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:0[xX])?[0-9a-fA-F]*[0-9][0-9a-fA-F]*\b").expect("hex pattern")
});
static DIGITS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[0-9]+").expect("digit pattern"));

/// SHA-256 (hex) over the normalized diff and the set of normalized errors.
///
/// Normalized away: `index …` lines and hunk line numbers of the diff (they change when
/// unrelated lines move), the order and duplicates of errors, and every number and
/// hex-like token in error messages (timings, addresses, ports, temporary names). Kept:
/// each error's file and line, which only change when the code does.
pub fn fingerprint(diff: &str, errors: &[StructuredError]) -> String {
    let mut hash = Sha256::new();
    hash.update(b"kiln-fingerprint-v1\0diff\0");
    for line in diff.lines() {
        if line.starts_with("index ") {
            continue;
        }
        let line = HUNK_HEADER.replace(line, "@@ @@");
        hash.update(line.as_bytes());
        hash.update(b"\n");
    }
    let normalized: BTreeSet<(&str, u32, String)> = errors
        .iter()
        .map(|e| {
            (
                e.file.as_deref().unwrap_or_default(),
                e.line.unwrap_or(0),
                normalize_message(&e.message),
            )
        })
        .collect();
    hash.update(b"\0errors\0");
    for (file, line, message) in normalized {
        field(&mut hash, file.as_bytes());
        hash.update(line.to_be_bytes());
        field(&mut hash, message.as_bytes());
    }
    hex::encode(hash.finalize())
}

/// Length-prefixed, so no choice of field contents can make two different lists hash
/// the same bytes.
fn field(hash: &mut Sha256, bytes: &[u8]) {
    hash.update((bytes.len() as u64).to_be_bytes());
    hash.update(bytes);
}

fn normalize_message(message: &str) -> String {
    let message = HEXISH.replace_all(message, "#");
    let message = DIGITS.replace_all(&message, "#");
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(file: &str, line: u32, message: &str) -> StructuredError {
        StructuredError {
            file: Some(file.to_owned()),
            line: Some(line),
            column: None,
            message: message.to_owned(),
            tool: "node-test".to_owned(),
        }
    }

    const DIFF: &str = "diff --git a/src/a.js b/src/a.js\nindex 3b18e51..a9c4f2d 100644\n--- a/src/a.js\n+++ b/src/a.js\n@@ -10,7 +10,7 @@ function total(items) {\n-  return sum;\n+  return sum + 1;\n";

    #[test]
    fn is_hex_sha256() {
        let fp = fingerprint(DIFF, &[]);
        assert_eq!(fp.len(), 64);
        assert!(fp.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(fp, fingerprint(DIFF, &[]));
    }

    #[test]
    fn ignores_index_lines_and_hunk_positions() {
        let moved = DIFF
            .replace("index 3b18e51..a9c4f2d", "index 77aa001..0c0ffee")
            .replace("@@ -10,7 +10,7 @@", "@@ -42,7 +44,7 @@");
        assert_eq!(fingerprint(DIFF, &[]), fingerprint(&moved, &[]));
        let changed = DIFF.replace("sum + 1", "sum + 2");
        assert_ne!(fingerprint(DIFF, &[]), fingerprint(&changed, &[]));
    }

    #[test]
    fn ignores_timings_addresses_order_and_duplicates() {
        let first = [
            error("test/a.test.js", 10, "total: expected 3 got 4 (12.5ms)"),
            error("src/b.js", 3, "TypeError at 0x7ffd5e8a3c10 after 1503ms"),
        ];
        let second = [
            error("src/b.js", 3, "TypeError at 0x7ffd11112222 after 98ms"),
            error("test/a.test.js", 10, "total: expected 3 got 4 (7.1ms)"),
            error("test/a.test.js", 10, "total: expected 3 got 4 (7.9ms)"),
        ];
        assert_eq!(fingerprint(DIFF, &first), fingerprint(DIFF, &second));
    }

    #[test]
    fn different_errors_or_places_differ() {
        let base = [error("src/a.js", 3, "ReferenceError: x is not defined")];
        let other_message = [error("src/a.js", 3, "ReferenceError: y is not defined")];
        let other_line = [error("src/a.js", 4, "ReferenceError: x is not defined")];
        let other_file = [error("src/b.js", 3, "ReferenceError: x is not defined")];
        let fp = fingerprint(DIFF, &base);
        assert_ne!(fp, fingerprint(DIFF, &other_message));
        assert_ne!(fp, fingerprint(DIFF, &other_line));
        assert_ne!(fp, fingerprint(DIFF, &other_file));
        assert_ne!(fp, fingerprint(DIFF, &[]));
    }

    #[test]
    fn diff_and_errors_cannot_be_confused() {
        // Text moved between the diff and an error message must change the hash.
        let a = fingerprint("x", &[error("f", 1, "y")]);
        let b = fingerprint("xy", &[error("f", 1, "")]);
        assert_ne!(a, b);
        let c = fingerprint("", &[error("ab", 1, "c")]);
        let d = fingerprint("", &[error("a", 1, "bc")]);
        assert_ne!(c, d);
    }

    #[test]
    fn message_normalization() {
        assert_eq!(normalize_message("took 12.5ms"), "took #.#ms");
        assert_eq!(normalize_message("at 0xDEADbeef1 now"), "at # now");
        assert_eq!(
            normalize_message("id 550e8400-e29b-41d4-a716-446655440000"),
            "id #-#-#-#-#"
        );
        assert_eq!(normalize_message("file2.ts  line\n 3"), "file#.ts line #");
        assert_eq!(normalize_message("no numbers"), "no numbers");
    }
}
