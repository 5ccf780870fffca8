//! Input checks done in Rust before anything reaches git or the filesystem, because the
//! paths and names come from generated (untrusted) content and git's own rules differ per
//! command: one place decides what is allowed, with a reason a caller can show.

use crate::Error;

/// Validates a path written or read through the API and returns it normalized to
/// `a/b/c` form (empty and `.` segments dropped).
///
/// Refused: empty paths, absolute paths, `..` segments, any `.git` segment (also the
/// case-folded and NTFS-alias spellings git itself refuses, so the check fails here with a
/// clear reason instead of later inside `git add`), backslashes and control characters
/// (they make paths ambiguous across platforms and break line-based git protocols).
pub fn check_relative_path(path: &str) -> Result<String, Error> {
    let unsafe_path = |reason| Error::UnsafePath {
        path: path.to_owned(),
        reason,
    };
    if path.is_empty() {
        return Err(unsafe_path("path is empty"));
    }
    if path.starts_with('/') {
        return Err(unsafe_path("path is absolute"));
    }
    if path.chars().any(char::is_control) {
        return Err(unsafe_path("path contains a control character"));
    }
    if path.contains('\\') {
        return Err(unsafe_path("path contains a backslash"));
    }
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(unsafe_path("path contains a `..` segment")),
            _ if is_git_dir_alias(segment) => {
                return Err(unsafe_path("path is inside a .git directory"));
            }
            _ => segments.push(segment),
        }
    }
    if segments.is_empty() {
        return Err(unsafe_path("path names no file"));
    }
    Ok(segments.join("/"))
}

/// `.git`, `.GIT`, `.git.`, `.git ` and the 8.3 short name `git~1` all reach the metadata
/// directory on some filesystem git supports.
fn is_git_dir_alias(segment: &str) -> bool {
    let trimmed = segment.trim_end_matches(['.', ' ']);
    trimmed.eq_ignore_ascii_case(".git") || segment.eq_ignore_ascii_case("git~1")
}

/// Validates a branch name (the part after `refs/heads/`) with git's ref-format rules,
/// plus no leading `-` so it can never be read as an option.
pub fn check_branch_name(name: &str) -> Result<(), Error> {
    let invalid = |reason| Err(Error::invalid("branch name", name, reason));
    if name.is_empty() {
        return invalid("name is empty");
    }
    if name.len() > 200 {
        return invalid("name is longer than 200 bytes");
    }
    if name.starts_with('-') {
        return invalid("name starts with `-`");
    }
    if name == "HEAD" || name == "@" {
        return invalid("name is reserved");
    }
    if name
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
    {
        return invalid("name contains a character git forbids in refs");
    }
    if name.contains("..") || name.contains("@{") || name.contains("//") {
        return invalid("name contains `..`, `@{` or `//`");
    }
    if name.starts_with('/') || name.ends_with('/') || name.ends_with('.') {
        return invalid("name starts or ends with `/`, or ends with `.`");
    }
    if name
        .split('/')
        .any(|part| part.starts_with('.') || part.ends_with(".lock"))
    {
        return invalid("a component starts with `.` or ends with `.lock`");
    }
    Ok(())
}

/// Validates a revision expression (sha, branch, `main~1`, ...) before it is put on a git
/// command line: no leading `-` (option injection), no whitespace or control characters,
/// no `:` (which would make it name a path inside a tree instead of a commit).
pub(crate) fn check_revision(rev: &str) -> Result<(), Error> {
    let invalid = |reason| Err(Error::invalid("revision", rev, reason));
    if rev.is_empty() {
        return invalid("revision is empty");
    }
    if rev.len() > 256 {
        return invalid("revision is longer than 256 bytes");
    }
    if rev.starts_with('-') {
        return invalid("revision starts with `-`");
    }
    if rev
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == ':')
    {
        return invalid("revision contains whitespace, a control character or `:`");
    }
    Ok(())
}

/// True for a full object id (SHA-1 or SHA-256), which [`crate::Git::checkout`] treats as a
/// commit rather than a branch name.
pub(crate) fn is_full_object_id(rev: &str) -> bool {
    (rev.len() == 40 || rev.len() == 64) && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Validates one `key: value` trailer; keys follow git's token shape so the lookup side
/// parses exactly what the writing side produced.
pub(crate) fn check_trailer(key: &str, value: &str) -> Result<(), Error> {
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::invalid(
            "trailer key",
            key,
            "key must be non-empty ASCII letters, digits, `-` or `_`",
        ));
    }
    if value.chars().any(char::is_control) || value.trim() != value {
        return Err(Error::invalid(
            "trailer value",
            value,
            "value must be one line without surrounding whitespace",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_normalized() {
        assert_eq!(
            check_relative_path("a/b.txt").ok().as_deref(),
            Some("a/b.txt")
        );
        assert_eq!(check_relative_path("./a//b/").ok().as_deref(), Some("a/b"));
        assert_eq!(
            check_relative_path(".github/x").ok().as_deref(),
            Some(".github/x")
        );
        assert_eq!(
            check_relative_path(".gitignore").ok().as_deref(),
            Some(".gitignore")
        );
    }

    #[test]
    fn escaping_paths_are_refused() {
        for bad in [
            "",
            ".",
            "/abs",
            "../x",
            "a/../../x",
            ".git/hooks/pre-commit",
            "sub/.git/config",
            ".GIT/config",
            ".git./config",
            "GIT~1/config",
            "a\\b",
            "a\nb",
        ] {
            assert!(
                matches!(check_relative_path(bad), Err(Error::UnsafePath { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn branch_names_follow_ref_rules() {
        for good in ["main", "kiln/task-1", "feature/a.b", "v1"] {
            assert!(check_branch_name(good).is_ok(), "{good:?} refused");
        }
        for bad in [
            "", "-x", "HEAD", "a..b", "a b", "a~1", "a:b", "a/", "/a", "a//b", ".a", "a/.b",
            "a.lock", "a.", "a@{1}", "a*",
        ] {
            assert!(check_branch_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn revisions_cannot_be_options_or_paths() {
        assert!(check_revision("main~1").is_ok());
        assert!(check_revision("--output=/tmp/x").is_err());
        assert!(check_revision("main:secret").is_err());
        assert!(check_revision("a b").is_err());
    }

    #[test]
    fn trailers_are_single_tokens() {
        assert!(check_trailer("Kiln-Task", "abc").is_ok());
        assert!(check_trailer("Kiln Task", "abc").is_err());
        assert!(check_trailer("Kiln-Task", "a\nb").is_err());
        assert!(check_trailer("", "x").is_err());
    }
}
