//! The scanned commit as an index: normalized paths, classification, and look-ups that the
//! detectors share.

use std::collections::{HashMap, HashSet};

use crate::ScanFile;
use crate::lang;
use crate::text;

/// One file of the commit after normalization.
pub(crate) struct Entry<'a> {
    /// Normalized path without hidden characters (the look-up key, not yet length-capped).
    pub path: String,
    /// Text when the indexer supplied it and the file is not a secret.
    pub text: Option<&'a str>,
    /// Why the file is not the project's own code (vendored, lock, generated), if so.
    pub excluded: Option<&'static str>,
    /// Why the file is flagged as a secret, if it is.
    pub secret: Option<Secret>,
    /// Language id, if the file is in a known language.
    pub lang: Option<&'static str>,
    /// Line count (0 without text).
    pub lines: u64,
}

impl Entry<'_> {
    pub fn dir(&self) -> &str {
        text::parent(&self.path)
    }

    pub fn name(&self) -> &str {
        text::file_name(&self.path)
    }

    /// The project's own, non-secret file.
    pub fn own(&self) -> bool {
        self.excluded.is_none() && self.secret.is_none()
    }
}

/// How a secret was recognised.
#[derive(Clone, Debug)]
pub(crate) struct Secret {
    /// The indexer skipped it as a secret.
    pub by_indexer: bool,
    /// What kind of secret the file name suggests.
    pub kind: Option<&'static str>,
}

/// The whole commit.
pub(crate) struct Repo<'a> {
    pub files: Vec<Entry<'a>>,
    index: HashMap<String, usize>,
    dirs: HashSet<String>,
    /// Input files that could not be used (empty path, `..`, duplicate).
    pub unusable: u64,
}

impl<'a> Repo<'a> {
    pub fn new(input: &'a [ScanFile<'a>]) -> Self {
        let mut files = Vec::with_capacity(input.len());
        let mut index = HashMap::with_capacity(input.len());
        let mut dirs = HashSet::new();
        let mut unusable = 0u64;
        for f in input {
            let Some(normal) = text::normalize_path(f.path) else {
                unusable += 1;
                continue;
            };
            let path: String = normal.chars().filter(|c| !text::is_hidden(*c)).collect();
            if path.is_empty() || index.contains_key(&path) {
                unusable += 1;
                continue;
            }
            let name = text::file_name(&path);
            let kind = secret_kind(name);
            let by_indexer = f.skipped == Some("secret");
            let secret = (by_indexer || kind.is_some()).then_some(Secret { by_indexer, kind });
            let text_ = if secret.is_some() { None } else { f.text };
            let excluded = lang::exclusion(&path, f.skipped, text_);
            let language = lang::language_of(name);
            let lines = text_.map_or(0, text::count_lines);
            let mut dir = text::parent(&path);
            while !dir.is_empty() && dirs.insert(dir.to_string()) {
                dir = text::parent(dir);
            }
            index.insert(path.clone(), files.len());
            files.push(Entry {
                path,
                text: text_,
                excluded,
                secret,
                lang: language,
                lines,
            });
        }
        Repo {
            files,
            index,
            dirs,
            unusable,
        }
    }

    pub fn get(&self, path: &str) -> Option<&Entry<'a>> {
        self.index.get(path).map(|&i| &self.files[i])
    }

    pub fn exists(&self, path: &str) -> bool {
        self.index.contains_key(path)
    }

    /// True when `dir/name` exists.
    pub fn has(&self, dir: &str, name: &str) -> bool {
        self.exists(&text::join(dir, name))
    }

    /// True when some file lies beneath `dir`.
    pub fn has_dir(&self, dir: &str) -> bool {
        dir.is_empty() || self.dirs.contains(dir)
    }

    /// The project's own files beneath `dir` (all of them for `""`).
    pub fn own_under<'s>(&'s self, dir: &'s str) -> impl Iterator<Item = &'s Entry<'a>> + 's {
        self.files
            .iter()
            .filter(move |e| e.own() && text::is_within(e.dir(), dir))
    }
}

/// What a file name says about a secret it may hold. Example and template files are not
/// secrets.
pub(crate) fn secret_kind(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower == ".env" || lower.starts_with(".env.") {
        let template = [
            ".example",
            ".sample",
            ".template",
            ".dist",
            ".defaults",
            ".schema",
        ]
        .iter()
        .any(|s| lower.ends_with(s));
        return (!template).then_some("environment file");
    }
    if matches!(
        lower.as_str(),
        "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519" | "id_ecdsa_sk" | "id_ed25519_sk"
    ) {
        return Some("private key");
    }
    if matches!(
        lower.as_str(),
        ".netrc" | "_netrc" | ".pgpass" | ".htpasswd"
    ) {
        return Some("credentials file");
    }
    match text::extension(&lower).as_deref() {
        Some("pem" | "key" | "p12" | "pfx" | "jks" | "keystore" | "ppk") => {
            Some("key or certificate")
        }
        _ => None,
    }
}

/// Directory names that hold tests.
pub(crate) const TEST_DIRS: &[&str] = &[
    "tests",
    "test",
    "spec",
    "specs",
    "__tests__",
    "testing",
    "e2e",
    "integration-tests",
];

/// True when a directory path contains a test directory.
pub(crate) fn in_test_dir(dir: &str) -> bool {
    !dir.is_empty() && dir.split('/').any(|s| TEST_DIRS.contains(&s))
}

/// Directory names whose manifests are test data, not projects.
const FIXTURE_DIRS: &[&str] = &[
    "fixtures",
    "fixture",
    "__fixtures__",
    "testdata",
    "test-fixtures",
    "test_data",
    "testfixtures",
];

/// True when a directory path lies inside test data.
pub(crate) fn in_fixture_dir(dir: &str) -> bool {
    !dir.is_empty() && dir.split('/').any(|s| FIXTURE_DIRS.contains(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        assert_eq!(secret_kind(".env"), Some("environment file"));
        assert_eq!(secret_kind(".env.production"), Some("environment file"));
        assert_eq!(secret_kind(".env.example"), None);
        assert_eq!(secret_kind("id_rsa"), Some("private key"));
        assert_eq!(secret_kind("id_rsa.pub"), None);
        assert_eq!(secret_kind("server.key"), Some("key or certificate"));
        assert_eq!(secret_kind("main.rs"), None);
    }

    #[test]
    fn index_normalizes_and_dedupes() {
        let files = [
            ScanFile {
                path: "./src/main.rs",
                size: 3,
                text: Some("a\nb\n"),
                skipped: None,
            },
            ScanFile {
                path: "src/main.rs",
                size: 3,
                text: Some("x"),
                skipped: None,
            },
            ScanFile {
                path: "../etc/passwd",
                size: 3,
                text: Some("x"),
                skipped: None,
            },
            ScanFile {
                path: "deploy/.env",
                size: 3,
                text: Some("TOKEN=1"),
                skipped: None,
            },
        ];
        let repo = Repo::new(&files);
        assert_eq!(repo.files.len(), 2);
        assert_eq!(repo.unusable, 2);
        assert_eq!(repo.get("src/main.rs").map(|e| e.lines), Some(2));
        assert!(repo.has_dir("src"));
        assert!(repo.has_dir("deploy"));
        assert!(!repo.has_dir("sr"));
        let env = repo.get("deploy/.env").expect("indexed");
        assert!(env.text.is_none(), "secret text is never kept");
        assert!(env.secret.as_ref().is_some_and(|s| !s.by_indexer));
    }
}
