//! Entry points: the files a program starts from.

use std::collections::BTreeSet;

use crate::manifest::{Manifest, Parsed};
use crate::repo::{self, Repo};
use crate::text;

const MAX_ENTRY_POINTS: usize = 40;
const MAX_PY_APPS: usize = 20;
/// How many lines of a source file are searched for an app or a `main`.
const SEARCH_LINES: usize = 3000;

/// A FastAPI or Flask application object found in a Python file.
#[derive(Clone, Debug)]
pub(crate) struct PyApp {
    pub path: String,
    pub framework: &'static str,
    /// The variable holding the app (`app` in `app = FastAPI()`), a plain identifier.
    pub var: String,
}

const PY_APP_FILES: &[&str] = &[
    "main.py",
    "app.py",
    "server.py",
    "api.py",
    "asgi.py",
    "wsgi.py",
    "application.py",
    "__init__.py",
];

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `app = FastAPI(...)` / `app = flask.Flask(__name__)` at the start of a line.
fn py_app_in(text: &str) -> Option<(&'static str, String)> {
    for line in text.lines().take(SEARCH_LINES) {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        let lhs = lhs.trim();
        let lhs = lhs.split(':').next().unwrap_or(lhs).trim(); // `app: FastAPI = FastAPI()`
        if !is_identifier(lhs) {
            continue;
        }
        let rhs = rhs.trim_start();
        if rhs.starts_with("FastAPI(") || rhs.starts_with("fastapi.FastAPI(") {
            return Some(("fastapi", lhs.to_string()));
        }
        if rhs.starts_with("Flask(") || rhs.starts_with("flask.Flask(") {
            return Some(("flask", lhs.to_string()));
        }
    }
    None
}

pub(crate) fn python_apps(repo: &Repo<'_>) -> Vec<PyApp> {
    let mut apps = Vec::new();
    for e in repo.files.iter().filter(|e| e.own()) {
        if !PY_APP_FILES.contains(&e.name()) || repo::in_test_dir(e.dir()) {
            continue;
        }
        if let Some(t) = e.text
            && let Some((framework, var)) = py_app_in(t)
        {
            apps.push(PyApp {
                path: e.path.clone(),
                framework,
                var,
            });
            if apps.len() >= MAX_PY_APPS {
                break;
            }
        }
    }
    apps
}

/// Searches the first lines of a text for a marker.
fn has_marker(text: Option<&str>, markers: &[&str]) -> bool {
    text.is_some_and(|t| {
        t.lines()
            .take(SEARCH_LINES)
            .any(|l| markers.iter().any(|m| l.contains(m)))
    })
}

/// The first path-like argument of a runner in a start script (`node server.js`,
/// `ts-node src/index.ts`), resolved against the package directory.
fn script_target(dir: &str, script: &str) -> Option<String> {
    const RUNNERS: &[&str] = &[
        "node",
        "nodemon",
        "ts-node",
        "tsx",
        "bun",
        "deno",
        "ts-node-dev",
    ];
    let tokens: Vec<&str> = script.split_whitespace().take(20).collect();
    tokens.windows(2).find_map(|pair| {
        let looks_like_file = [".js", ".mjs", ".cjs", ".ts", ".mts", ".tsx"]
            .iter()
            .any(|ext| pair[1].ends_with(ext));
        if RUNNERS.contains(&pair[0]) && looks_like_file {
            text::resolve(dir, pair[1])
        } else {
            None
        }
    })
}

/// A declared JavaScript entry when it exists; for build output that is not committed
/// (`dist/server.js`), the source file it is built from (`src/server.ts`) when that exists.
fn existing_or_source(repo: &Repo<'_>, pkg_dir: &str, path: &str) -> Option<String> {
    if repo.exists(path) {
        return Some(path.to_string());
    }
    let rel = text::strip_root(path, pkg_dir);
    let (first, rest) = rel.split_once('/')?;
    if !matches!(first, "dist" | "build" | "lib" | "out") {
        return None;
    }
    let stem = [".js", ".mjs", ".cjs"]
        .iter()
        .find_map(|ext| rest.strip_suffix(ext))?;
    for base in ["src/", ""] {
        for ext in ["ts", "tsx", "mts", "js"] {
            let candidate = text::join(pkg_dir, &format!("{base}{stem}.{ext}"));
            if repo.exists(&candidate) {
                return Some(candidate);
            }
        }
    }
    None
}

pub(crate) fn entry_points(
    repo: &Repo<'_>,
    manifests: &[Manifest],
    py_apps: &[PyApp],
) -> Vec<String> {
    let mut found: BTreeSet<String> = BTreeSet::new();

    // Manifest-declared entry points.
    for m in manifests {
        let dir = m.dir();
        match &m.parsed {
            Parsed::Cargo(c) => {
                for p in &c.bin_paths {
                    if let Some(path) = text::resolve(dir, p)
                        && repo.exists(&path)
                    {
                        found.insert(path);
                    }
                }
            }
            Parsed::Npm(p) => {
                let declared = p
                    .main
                    .iter()
                    .chain(p.bins.iter())
                    .filter_map(|rel| text::resolve(dir, rel))
                    .chain(p.scripts.get("start").and_then(|s| script_target(dir, s)));
                for path in declared {
                    if let Some(path) = existing_or_source(repo, dir, &path) {
                        found.insert(path);
                    }
                }
            }
            Parsed::Composer(c)
                if c.deps.contains("laravel/framework") && repo.has(dir, "artisan") =>
            {
                found.insert(text::join(dir, "artisan"));
            }
            _ => {}
        }
    }
    found.extend(py_apps.iter().map(|a| a.path.clone()));

    // Conventional file locations.
    for e in repo.files.iter().filter(|e| e.own()) {
        let dir = e.dir();
        if repo::in_test_dir(dir) {
            continue;
        }
        let name = e.name();
        let dir_name = text::file_name(dir);
        let hit = match (name, e.lang) {
            // Rust: src/main.rs, src/bin/*.rs, src/bin/*/main.rs.
            ("main.rs", _) if dir_name == "src" => true,
            (_, Some("rust"))
                if dir_name == "bin" && text::file_name(text::parent(dir)) == "src" =>
            {
                true
            }
            ("main.rs", _) if text::file_name(text::parent(dir)) == "bin" => {
                text::file_name(text::parent(text::parent(dir))) == "src"
            }
            // Python.
            ("manage.py", _) => {
                text::depth(dir) <= 3
                    && (e.text.is_none() || has_marker(e.text, &["django", "DJANGO"]))
            }
            ("__main__.py", _) => text::depth(dir) <= 3,
            // Go: any main package's main.go (cmd/*/main.go included).
            ("main.go", _) => e
                .text
                .is_none_or(|t| has_marker(Some(t), &["package main"])),
            // PHP front controllers.
            ("index.php", _) => dir.is_empty() || matches!(dir_name, "public" | "web" | "htdocs"),
            // Static sites.
            ("index.html", _) => dir.is_empty() || matches!(dir, "public" | "src" | "www"),
            // Ruby rack apps.
            ("config.ru", _) => true,
            // .NET.
            ("Program.cs", _) => true,
            (_, Some("csharp")) => {
                has_marker(e.text, &["static void Main(", "static async Task Main("])
            }
            // JVM.
            (_, Some("java")) => has_marker(e.text, &["static void main("]),
            (_, Some("kotlin")) => {
                name.ends_with(".kt")
                    && e.text.is_some_and(|t| {
                        t.lines()
                            .take(SEARCH_LINES)
                            .any(|l| l.starts_with("fun main("))
                    })
            }
            // C and C++ (examples are not the program's entry).
            (_, Some("c" | "cpp")) => {
                !dir.split('/').any(|s| s == "examples" || s == "example")
                    && has_marker(e.text, &["int main("])
            }
            _ => false,
        };
        if hit {
            found.insert(e.path.clone());
        }
    }

    let mut list: Vec<String> = found.into_iter().collect();
    list.sort_by(|a, b| {
        text::depth(text::parent(a))
            .cmp(&text::depth(text::parent(b)))
            .then_with(|| a.cmp(b))
    });
    list.into_iter()
        .take(MAX_ENTRY_POINTS)
        .map(|p| text::clean(&p, text::MAX_PATH))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_fastapi_and_flask_apps() {
        assert_eq!(
            py_app_in("from fastapi import FastAPI\n\napp = FastAPI(title=\"x\")\n"),
            Some(("fastapi", "app".to_string()))
        );
        assert_eq!(
            py_app_in("import flask\nserver: flask.Flask = flask.Flask(__name__)\n"),
            Some(("flask", "server".to_string()))
        );
        assert_eq!(py_app_in("def f():\n    app = FastAPI()\n"), None);
        assert_eq!(py_app_in("x; rm = FastAPI()\n"), None);
    }
}
