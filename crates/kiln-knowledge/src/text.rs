//! Small string and path helpers shared by every detector.
//!
//! Everything taken from the repository passes through [`clean`] before it reaches the
//! output: control and invisible formatting characters are removed and the length is capped.

/// Longest path kept in the output, in characters.
pub(crate) const MAX_PATH: usize = 300;
/// Longest short name (dependency, script, tool) kept in the output, in characters.
pub(crate) const MAX_NAME: usize = 80;
/// Longest command kept in the output, in characters. Longer commands are dropped, not cut.
pub(crate) const MAX_COMMAND: usize = 200;
/// Longest note, in characters.
pub(crate) const MAX_NOTE: usize = 200;
/// Manifests larger than this are not parsed (a note says so).
pub(crate) const MAX_MANIFEST_BYTES: usize = 512 * 1024;

/// Characters that must never be copied out of the repository: C0/C1 controls and the
/// invisible formatting characters used to make text render differently from what it is
/// (bidirectional overrides, zero-width characters, byte-order mark).
pub(crate) fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Removes hidden characters (whitespace controls become one space), trims, and caps the
/// result at `max` characters, marking a cut with `…`.
pub(crate) fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max.saturating_mul(4)));
    let mut count = 0usize;
    let mut cut = false;
    for c in s.chars() {
        let c = if c == '\t' || c == '\n' || c == '\r' {
            ' '
        } else if is_hidden(c) {
            continue;
        } else {
            c
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        if count == max {
            cut = true;
            break;
        }
        out.push(c);
        count += 1;
    }
    while out.ends_with(' ') {
        out.pop();
    }
    if cut && max > 0 {
        // Make room for the marker so the total stays within `max`.
        out.pop();
        while out.ends_with(' ') {
            out.pop();
        }
        out.push('…');
    }
    out
}

/// True when `s` contains anything [`clean`] would remove or change (other than trimming).
pub(crate) fn has_hidden(s: &str) -> bool {
    s.chars().any(is_hidden)
}

/// Number of lines in a text file: newline count, plus one for an unterminated last line.
pub(crate) fn count_lines(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    let newlines = text.bytes().filter(|&b| b == b'\n').count() as u64;
    if text.ends_with('\n') {
        newlines
    } else {
        newlines + 1
    }
}

/// Normalizes an input path: backslashes become slashes, leading `./` and `/` and repeated
/// slashes are dropped. Returns `None` for paths that are empty or climb out of the
/// repository (`..`).
pub(crate) fn normalize_path(raw: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

/// Directory part of a normalized path, `""` for files at the top.
pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..i],
        None => "",
    }
}

/// Last component of a normalized path.
pub(crate) fn file_name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Lowercase extension of a file name (`"tsx"` for `App.test.tsx`), if any. A leading dot
/// (`.env`) does not start an extension.
pub(crate) fn extension(name: &str) -> Option<String> {
    let i = name.rfind('.')?;
    if i == 0 || i + 1 == name.len() {
        return None;
    }
    Some(name[i + 1..].to_ascii_lowercase())
}

/// Joins a directory (possibly `""`) and a relative path.
pub(crate) fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_string()
    } else if rel.is_empty() {
        dir.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}

/// Resolves `rel` (as written in a manifest, e.g. `./src/index.js`) against `dir`.
/// Returns `None` when it is absolute, climbs out of the repository, or is empty.
pub(crate) fn resolve(dir: &str, rel: &str) -> Option<String> {
    let rel = rel.trim();
    if rel.starts_with('/') || rel.contains('\\') || has_hidden(rel) {
        return None;
    }
    let mut parts: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

/// True when `dir` is `ancestor` or lies beneath it (`""` is the ancestor of everything).
pub(crate) fn is_within(dir: &str, ancestor: &str) -> bool {
    ancestor.is_empty()
        || dir == ancestor
        || (dir.len() > ancestor.len()
            && dir.starts_with(ancestor)
            && dir.as_bytes()[ancestor.len()] == b'/')
}

/// Path relative to `root` (which must contain it).
pub(crate) fn strip_root<'p>(path: &'p str, root: &str) -> &'p str {
    if root.is_empty() {
        path
    } else {
        path.strip_prefix(root)
            .and_then(|p| p.strip_prefix('/'))
            .unwrap_or(path)
    }
}

/// Number of directory levels of a directory path (`""` is 0, `"a/b"` is 2).
pub(crate) fn depth(dir: &str) -> usize {
    if dir.is_empty() {
        0
    } else {
        dir.split('/').count()
    }
}

/// True when a path can be placed into a shell command unquoted: only letters, digits and
/// `._/-+@`, not starting with `-`, and within the path cap.
pub(crate) fn shell_safe(path: &str) -> bool {
    !path.is_empty()
        && path.chars().count() <= MAX_PATH
        && !path.starts_with('-')
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-' | '+' | '@'))
}

/// True for names that are safe identifiers in commands (`cargo run -p NAME`, Python module
/// paths): ASCII letters, digits, `_` and `-`.
pub(crate) fn ident_safe(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// 1-based line and column of a byte offset in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.chars().count(), |i| before[i + 1..].chars().count())
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_strips_controls_and_bidi_and_caps() {
        assert_eq!(clean("a\u{202E}b\u{0007}c", 10), "abc");
        assert_eq!(clean("  a\n\tb  ", 10), "a b");
        assert_eq!(clean("abcdef", 4), "abc…");
        assert_eq!(clean("abcdef", 4).chars().count(), 4);
        assert_eq!(clean("abcd", 4), "abcd");
        assert_eq!(clean("", 4), "");
    }

    #[test]
    fn lines_are_counted_with_and_without_final_newline() {
        assert_eq!(count_lines(""), 0);
        assert_eq!(count_lines("a"), 1);
        assert_eq!(count_lines("a\n"), 1);
        assert_eq!(count_lines("a\nb"), 2);
        assert_eq!(count_lines("\n\n"), 2);
    }

    #[test]
    fn paths_normalize_and_resolve() {
        assert_eq!(normalize_path("./a//b\\c").as_deref(), Some("a/b/c"));
        assert_eq!(normalize_path("../x"), None);
        assert_eq!(normalize_path("/"), None);
        assert_eq!(
            resolve("web", "./src/index.js").as_deref(),
            Some("web/src/index.js")
        );
        assert_eq!(resolve("web", "../lib/x.js").as_deref(), Some("lib/x.js"));
        assert_eq!(resolve("", "../x.js"), None);
        assert_eq!(resolve("", "/etc/passwd"), None);
        assert!(is_within("a/b", "a"));
        assert!(!is_within("ab", "a"));
        assert!(is_within("x", ""));
        assert_eq!(extension("App.test.TSX").as_deref(), Some("tsx"));
        assert_eq!(extension(".env"), None);
    }

    #[test]
    fn shell_safety() {
        assert!(shell_safe("apps/web-ui"));
        assert!(!shell_safe("a b"));
        assert!(!shell_safe("a;rm -rf"));
        assert!(!shell_safe("-rf"));
        assert!(!shell_safe("$(x)"));
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 0), (1, 1));
        assert_eq!(line_col("é", 1), (1, 1));
    }
}
