//! Which paths a model-written edit may name: [`check_path`] keeps every write inside the
//! working tree and out of git's metadata, [`is_protected`] marks files that steer CI,
//! deployment or Kiln's own gate, so a code change cannot quietly rewrite its own checks.

use crate::truncate_chars;

/// Longest accepted path; far beyond any real project file, short enough to keep error
/// messages and maps small when the model emits garbage.
pub const MAX_PATH_BYTES: usize = 1024;

/// Longest accepted path segment (the common filesystem limit).
pub const MAX_SEGMENT_BYTES: usize = 255;

/// Files an edit from the model must not change without a human (or a stage that owns the
/// policy) deciding so: CI definitions, deployment configuration and Kiln's own policy.
///
/// Patterns follow gitignore conventions (see [`glob_match`]): without a `/` they match a
/// file name at any depth (a `Dockerfile` in a subdirectory is deploy config too), with a
/// `/` they are anchored at the repository root. App data such as `kiln.json` is
/// deliberately absent.
pub const DEFAULT_PROTECTED: &[&str] = &[
    // CI: a workflow can run anything with the repository's secrets.
    ".github/workflows/**",
    ".github/actions/**",
    ".gitlab-ci.yml",
    ".circleci/**",
    // Deployment: what gets built and how it runs in production.
    "Dockerfile",
    "Dockerfile.*",
    "docker-compose*.yml",
    "docker-compose*.yaml",
    "compose.yml",
    "compose.yaml",
    "Procfile",
    "fly.toml",
    "vercel.json",
    "netlify.toml",
    // Kiln's own gate policy.
    ".kiln/**",
    // Submodule URLs make a clone fetch arbitrary repositories.
    ".gitmodules",
];

/// A path from untrusted input that cannot be used; `reason` says why in words the model
/// can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsafe path {path:?}: {reason}")]
pub struct PathError {
    /// The offending path, shortened to 200 characters so garbage stays readable.
    pub path: String,
    pub reason: &'static str,
}

/// Validates a relative file path from untrusted input and returns it normalized to
/// `a/b/c` form (empty and `.` segments dropped).
///
/// Refused: empty or overlong paths; absolute paths, `~` and drive letters; `..`; any
/// `.git` segment including the spellings some filesystem maps onto it (`.GIT`, `.git.`,
/// `git~1`); backslashes, `:` and control characters (ambiguous across platforms, and they
/// break line-based protocols); invisible and bidirectional formatting characters (they
/// make a path display as a different one); segments with surrounding whitespace or a
/// trailing dot (dropped silently by some filesystems); and `name -> target`, the shape of
/// a symlink listing rather than of a file name.
pub fn check_path(path: &str) -> Result<String, PathError> {
    let refuse = |reason| {
        Err(PathError {
            path: truncate_chars(path, 200),
            reason,
        })
    };
    if path.is_empty() {
        return refuse("path is empty");
    }
    if path.len() > MAX_PATH_BYTES {
        return refuse("path is longer than 1024 bytes");
    }
    if path.chars().any(char::is_control) {
        return refuse("path contains a control character");
    }
    if path.chars().any(is_invisible) {
        return refuse("path contains an invisible or bidirectional formatting character");
    }
    if path.contains('\\') {
        return refuse("path contains a backslash; use `/` between directories");
    }
    if path.starts_with('/') {
        return refuse("path is absolute; use a path relative to the repository root");
    }
    if path.starts_with('~') {
        return refuse("path starts with `~`; use a path relative to the repository root");
    }
    if path.contains(':') {
        return refuse("path contains `:` (a drive letter or stream name on Windows)");
    }
    if path.contains(" -> ") {
        return refuse("path looks like a symlink listing (`name -> target`), not a file name");
    }
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return refuse("path contains a `..` segment"),
            _ => {}
        }
        if is_git_dir_alias(segment) {
            return refuse("path is or is inside a .git directory");
        }
        if segment.len() > MAX_SEGMENT_BYTES {
            return refuse("a path segment is longer than 255 bytes");
        }
        if segment.starts_with(char::is_whitespace) || segment.ends_with(char::is_whitespace) {
            return refuse("a path segment starts or ends with whitespace");
        }
        if segment.ends_with('.') {
            return refuse("a path segment ends with `.`, which some filesystems drop");
        }
        segments.push(segment);
    }
    if segments.is_empty() {
        return refuse("path names no file");
    }
    Ok(segments.join("/"))
}

/// `.git`, `.GIT`, `.git.`, `.git ` and the 8.3 short name `git~1` all reach the metadata
/// directory on some filesystem git supports.
fn is_git_dir_alias(segment: &str) -> bool {
    let trimmed = segment.trim_end_matches(['.', ' ']);
    trimmed.eq_ignore_ascii_case(".git") || segment.eq_ignore_ascii_case("git~1")
}

/// Zero-width, joiner, bidi-override and similar format characters: invisible when shown,
/// and some (HFS+) filesystems ignore them, so `.g\u{200c}it` is `.git` there.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
    )
}

/// True when `path` is matched by one of `patterns` (see [`glob_match`]), compared without
/// ASCII case because case-insensitive checkouts treat `dockerfile` as `Dockerfile`.
///
/// A path that [`check_path`] refuses counts as protected: this answers "may an edit touch
/// it", and such a path may not be touched at all.
pub fn is_protected<S: AsRef<str>>(path: &str, patterns: &[S]) -> bool {
    let Ok(normalized) = check_path(path) else {
        return true;
    };
    let folded = normalized.to_ascii_lowercase();
    patterns
        .iter()
        .any(|pattern| glob_match(&pattern.as_ref().to_ascii_lowercase(), &folded))
}

/// [`is_protected`] with [`DEFAULT_PROTECTED`].
pub fn is_protected_by_default(path: &str) -> bool {
    is_protected(path, DEFAULT_PROTECTED)
}

/// Matches a `/`-separated path against a gitignore-style glob.
///
/// `*` matches any run of characters within one segment, `?` one character, and a `**`
/// segment any number of segments (including none). A pattern without `/` (other than a
/// trailing one) matches at any depth; with one it is anchored at the root. A pattern that
/// matches a directory matches everything inside it, and a trailing `/` is allowed.
/// Matching is exact in case; [`is_protected`] folds case itself.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let mut pattern = pattern.trim();
    let mut anchored = false;
    if let Some(rest) = pattern.strip_prefix('/') {
        pattern = rest;
        anchored = true;
    }
    let pattern = pattern.trim_end_matches('/');
    if pattern.is_empty() {
        return false;
    }
    anchored |= pattern.contains('/');
    let mut pattern_segments: Vec<&str> = Vec::new();
    if !anchored {
        pattern_segments.push("**");
    }
    pattern_segments.extend(pattern.split('/').filter(|s| !s.is_empty()));
    let path_segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // A match on a directory covers its contents, as in gitignore.
    (1..=path_segments.len()).any(|end| segments_match(&pattern_segments, &path_segments[..end]))
}

/// Dynamic programming over segments so `**` never backtracks exponentially.
fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    let n = path.len();
    // `next[j]`: pattern[i + 1..] matches path[j..]
    let mut next = vec![false; n + 1];
    next[n] = true;
    for segment in pattern.iter().rev() {
        let mut current = vec![false; n + 1];
        for j in (0..=n).rev() {
            current[j] = if *segment == "**" {
                next[j] || (j < n && current[j + 1])
            } else {
                j < n && next[j + 1] && wildcard_match(segment, path[j])
            };
        }
        next = current;
    }
    next[0]
}

/// `*` and `?` within one segment; the classic single-star backtracking is linear per
/// star, so hostile patterns stay cheap.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_normalized() {
        for (input, expected) in [
            ("a/b.txt", "a/b.txt"),
            ("./a//b/", "a/b"),
            ("src/./main.rs", "src/main.rs"),
            (".github/x", ".github/x"),
            (".gitignore", ".gitignore"),
            ("docs/My Notes.md", "docs/My Notes.md"),
            ("pages/[id].tsx", "pages/[id].tsx"),
            ("é/ü.txt", "é/ü.txt"),
        ] {
            assert_eq!(check_path(input).as_deref(), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn escaping_and_tricky_paths_are_refused_with_a_reason() {
        for (bad, reason) in [
            ("", "path is empty"),
            (".", "path names no file"),
            ("./", "path names no file"),
            ("/etc/passwd", "absolute"),
            ("~/.ssh/id_rsa", "`~`"),
            ("C:/x", "`:`"),
            ("a.txt::$DATA", "`:`"),
            ("../x", "`..`"),
            ("a/../../x", "`..`"),
            (".git/hooks/pre-commit", ".git"),
            ("sub/.git/config", ".git"),
            (".GIT/config", ".git"),
            (".git./config", ".git"),
            (".git", ".git"),
            ("GIT~1/config", ".git"),
            ("a\\b", "backslash"),
            ("a\nb", "control"),
            ("a\0b", "control"),
            (".g\u{200c}it/config", "invisible"),
            ("evil\u{202e}txt.js", "invisible"),
            ("link -> /etc/passwd", "symlink"),
            (" a.txt", "whitespace"),
            ("a.txt ", "whitespace"),
            ("dir./a", "ends with `.`"),
        ] {
            let err = check_path(bad).expect_err(bad);
            assert!(
                err.reason.contains(reason),
                "{bad:?}: {} lacks {reason:?}",
                err.reason
            );
        }
    }

    #[test]
    fn overlong_paths_are_refused_and_reported_shortened() {
        let long = "a/".repeat(600) + "b";
        let err = check_path(&long).unwrap_err();
        assert!(err.reason.contains("1024"));
        assert!(err.path.chars().count() <= 200);
        let segment = "x".repeat(300);
        assert!(check_path(&segment).unwrap_err().reason.contains("255"));
    }

    #[test]
    fn path_error_display_is_a_lowercase_fragment() {
        let message = check_path("../x").unwrap_err().to_string();
        assert_eq!(
            message,
            "unsafe path \"../x\": path contains a `..` segment"
        );
    }

    #[test]
    fn globs_match_segments() {
        for (pattern, path) in [
            (".github/workflows/**", ".github/workflows/ci.yml"),
            (".github/workflows/**", ".github/workflows/deep/x.yml"),
            ("Dockerfile", "Dockerfile"),
            ("Dockerfile", "services/api/Dockerfile"),
            ("docker-compose*.yml", "docker-compose.yml"),
            ("docker-compose*.yml", "docker-compose.prod.yml"),
            ("src/*.rs", "src/main.rs"),
            ("src/**/*.rs", "src/main.rs"),
            ("src/**/*.rs", "src/a/b/c.rs"),
            ("a?c", "abc"),
            (".circleci", ".circleci/config.yml"),
            (".circleci/", ".circleci/config.yml"),
            ("/fly.toml", "fly.toml"),
            ("**", "anything/at/all"),
        ] {
            assert!(
                glob_match(pattern, path),
                "{pattern:?} should match {path:?}"
            );
        }
        for (pattern, path) in [
            (".github/workflows/**", ".github/dependabot.yml"),
            ("src/*.rs", "src/a/main.rs"),
            ("/fly.toml", "sub/fly.toml"),
            ("Dockerfile", "Dockerfile.md/x"),
            ("docker-compose*.yml", "docker-compose.yaml"),
            ("a?c", "ac"),
            ("", "x"),
            ("/", "x"),
        ] {
            assert!(
                !glob_match(pattern, path),
                "{pattern:?} should not match {path:?}"
            );
        }
    }

    #[test]
    fn hostile_globs_stay_fast() {
        let pattern = "*a*a*a*a*a*a*a*a*a*a*b";
        let text = "a".repeat(5000);
        assert!(!glob_match(pattern, &text));
        let deep = "**/".repeat(200) + "z";
        let path = "a/".repeat(200) + "y";
        assert!(!glob_match(&deep, &path));
    }

    #[test]
    fn default_protected_list() {
        for path in [
            ".github/workflows/ci.yml",
            ".github/actions/setup/action.yml",
            ".gitlab-ci.yml",
            ".circleci/config.yml",
            "Dockerfile",
            "api/Dockerfile",
            "dockerfile",
            "Dockerfile.prod",
            "docker-compose.yml",
            "docker-compose.override.yaml",
            "compose.yaml",
            "Procfile",
            "fly.toml",
            "vercel.json",
            "netlify.toml",
            ".kiln/policy.toml",
            ".gitmodules",
            "./.github//workflows/x.yml",
        ] {
            assert!(
                is_protected_by_default(path),
                "{path:?} should be protected"
            );
        }
        for path in [
            "kiln.json",
            "src/main.ts",
            ".github/ISSUE_TEMPLATE.md",
            "docs/deploy.md",
            "package.json",
            "kiln/notes.md",
        ] {
            assert!(
                !is_protected_by_default(path),
                "{path:?} should not be protected"
            );
        }
    }

    #[test]
    fn unsafe_paths_count_as_protected() {
        assert!(is_protected("../x", &["nothing"]));
        assert!(is_protected(".git/config", &[] as &[&str]));
    }

    #[test]
    fn custom_patterns() {
        let patterns = vec!["migrations/**".to_owned(), "*.lock".to_owned()];
        assert!(is_protected("migrations/001.sql", &patterns));
        assert!(is_protected("web/yarn.lock", &patterns));
        assert!(!is_protected("src/lock.rs", &patterns));
    }
}
