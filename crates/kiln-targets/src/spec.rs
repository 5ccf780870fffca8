//! The data every target speaks: what to deploy, where it ended up and how verification went.
//! Validation lives here so every target rejects the same bad input before touching disk or hosts.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;

/// What to deploy: one built app at one commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploySpec {
    /// App name, `[a-z][a-z0-9-]*`; it becomes part of URLs and directory names.
    pub app: String,
    /// Build stamp (git sha); it names the release directory.
    pub commit: String,
    /// Directory that already holds the built app (install and build already ran).
    pub source_dir: PathBuf,
    pub kind: ServeKind,
    /// Path below the app URL that answers 2xx when the app is healthy, e.g. `/healthz` or `/`.
    pub health_path: String,
    /// Path below the app URL that serves `commit` as text, e.g. `/__kiln/version`.
    pub version_path: String,
    /// Strings the page at `/` must contain.
    pub expect_text: Vec<String>,
}

/// How the app is served.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ServeKind {
    /// Files served by the target itself from `dir`, relative to the source directory.
    Static { dir: PathBuf },
    /// A long-running process started with `sh -c run` that listens on `$PORT`.
    Process {
        run: String,
        env: Vec<(String, String)>,
    },
}

// Env values are often secrets; keep them out of logs and error reports.
impl fmt::Debug for ServeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeKind::Static { dir } => f.debug_struct("Static").field("dir", dir).finish(),
            ServeKind::Process { run, env } => {
                let keys: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
                f.debug_struct("Process")
                    .field("run", run)
                    .field("env_keys", &keys)
                    .finish()
            }
        }
    }
}

/// Where a deploy ended up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployed {
    /// Public URL of the app, ending in `/`.
    pub url: String,
    /// Port the app process listens on, when there is one; inside the app's own network
    /// namespace when the local target's sandbox gives it one (then nothing listens there on
    /// the host).
    pub port: Option<u16>,
    /// Release directory on the target.
    pub dir: PathBuf,
}

/// Outcome of checking a deployed app over HTTP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// True only when every check passed.
    pub ok: bool,
    pub checks: Vec<Check>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// What was asked and what was found, for people reading a failed deploy.
    pub detail: String,
}

impl DeploySpec {
    /// Rejects anything that could escape a directory, break a URL or confuse a shell environment.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| Error::InvalidSpec {
            app: self.app.clone(),
            reason,
        };
        if !valid_app_name(&self.app) {
            return Err(invalid(
                "app name must match [a-z][a-z0-9-]* and be at most 63 characters".into(),
            ));
        }
        if !valid_commit(&self.commit) {
            return Err(invalid(format!(
                "commit {:?} must be 1-128 characters of [A-Za-z0-9._-] not starting with '.'",
                self.commit
            )));
        }
        for (what, path) in [
            ("health_path", &self.health_path),
            ("version_path", &self.version_path),
        ] {
            if !path.starts_with('/') {
                return Err(invalid(format!("{what} {path:?} must start with '/'")));
            }
        }
        if relative_file_path(&self.version_path).is_none() {
            return Err(invalid(format!(
                "version_path {:?} must name a file without '..', '?' or a trailing '/'",
                self.version_path
            )));
        }
        match &self.kind {
            ServeKind::Static { dir } => {
                if !is_plain_relative(dir) {
                    return Err(invalid(format!(
                        "static dir {} must be relative without '..'",
                        dir.display()
                    )));
                }
            }
            ServeKind::Process { run, env } => {
                if run.trim().is_empty() {
                    return Err(invalid("run command is empty".into()));
                }
                if run.contains('\0') {
                    return Err(invalid("run command contains a NUL byte".into()));
                }
                for (key, value) in env {
                    if key.is_empty() || key.contains(['=', '\0']) || value.contains('\0') {
                        return Err(invalid(format!(
                            "env variable {key:?} has an invalid name or value"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn valid_app_name(app: &str) -> bool {
    let mut chars = app.chars();
    app.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub(crate) fn valid_commit(commit: &str) -> bool {
    !commit.is_empty()
        && commit.len() <= 128
        && !commit.starts_with('.')
        && commit
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn is_plain_relative(path: &Path) -> bool {
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Turns a URL path like `/__kiln/version` into a relative file path, or `None` when it could
/// not be a file inside the release.
pub(crate) fn relative_file_path(url_path: &str) -> Option<PathBuf> {
    let trimmed = url_path.trim_start_matches('/');
    if trimmed.is_empty() || trimmed.ends_with('/') || trimmed.contains(['?', '#', '\\', '\0', '%'])
    {
        return None;
    }
    let path = PathBuf::from(trimmed);
    let all_normal = path.components().all(|c| matches!(c, Component::Normal(_)));
    all_normal.then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DeploySpec {
        DeploySpec {
            app: "todo-app".into(),
            commit: "abc123".into(),
            source_dir: "/tmp/src".into(),
            kind: ServeKind::Static { dir: "dist".into() },
            health_path: "/".into(),
            version_path: "/__kiln/version".into(),
            expect_text: vec![],
        }
    }

    #[test]
    fn accepts_a_plain_spec() {
        assert!(spec().validate().is_ok());
    }

    #[test]
    fn rejects_bad_names_commits_and_paths() {
        for app in ["", "Todo", "1app", "a_b", "a/b", ".."] {
            let s = DeploySpec {
                app: app.into(),
                ..spec()
            };
            assert!(s.validate().is_err(), "app {app:?} accepted");
        }
        for commit in ["", "..", ".hidden", "a/b", "a b"] {
            let s = DeploySpec {
                commit: commit.into(),
                ..spec()
            };
            assert!(s.validate().is_err(), "commit {commit:?} accepted");
        }
        for version_path in ["/", "/../x", "/a/", "version", "/a?b", "/%2e%2e/x"] {
            let s = DeploySpec {
                version_path: version_path.into(),
                ..spec()
            };
            assert!(
                s.validate().is_err(),
                "version path {version_path:?} accepted"
            );
        }
        let s = DeploySpec {
            kind: ServeKind::Static {
                dir: "../outside".into(),
            },
            ..spec()
        };
        assert!(s.validate().is_err());
        let s = DeploySpec {
            kind: ServeKind::Process {
                run: "node server.js".into(),
                env: vec![("A=B".into(), "x".into())],
            },
            ..spec()
        };
        assert!(s.validate().is_err());
    }

    #[test]
    fn debug_hides_env_values() {
        let kind = ServeKind::Process {
            run: "node server.js".into(),
            env: vec![("API_KEY".into(), "hunter2".into())],
        };
        let shown = format!("{kind:?}");
        assert!(shown.contains("API_KEY"));
        assert!(!shown.contains("hunter2"));
    }
}
