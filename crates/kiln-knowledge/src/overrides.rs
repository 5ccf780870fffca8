//! `.kiln/project.toml`: what the repository's owners tell Kiln, winning over detection.

use serde::{Deserialize, Serialize};

use crate::text::{self, MAX_COMMAND, MAX_PATH};
use crate::{Knowledge, SummarySource, summary};

/// Largest project file accepted.
pub const MAX_PROJECT_FILE_BYTES: usize = 64 * 1024;
/// Longest summary accepted or produced, in characters.
pub const MAX_SUMMARY: usize = 1200;
const MAX_LIST: usize = 40;
const MAX_GLOBS: usize = 200;
const MAX_GLOB_LEN: usize = 256;
const MAX_FRAMEWORK_NAME: usize = 64;
const MAX_KIND: usize = 32;

/// Overrides checked into the repository as `.kiln/project.toml` (or sent to the API as
/// JSON with the same shape). Every field is optional; unknown fields are rejected.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// `[commands]`: replaces detected commands one by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<CommandOverrides>,
    /// Replaces the outline summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Replaces the detected frameworks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frameworks: Option<Vec<String>>,
    /// Replaces the detected entry points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_points: Option<Vec<String>>,
    /// `[deploy]`: how to deploy the project. Without it the project has no deploy recipe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeployRecipe>,
    /// Globs of paths Kiln must not change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected_paths: Vec<String>,
    /// Globs of paths the indexer must not index (see [`Overrides::ignored`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
}

/// `[commands]`. `Some("")` means "explicitly none" (for `test`: the project has no
/// tests), which is different from `None` ("not overridden, keep what was detected").
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct CommandOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// `[deploy]`: how the deployer serves the project once a change is approved.
///
/// `kind = "static"` serves `dir` (after the project's own build command) and Kiln writes
/// the build stamp to `/__kiln/version` in it; `kind = "process"` runs `command` with
/// `$PORT`, `$HOST` and `$KILN_BUILD_SHA` set, and the app must serve that stamp at
/// `version`, so Kiln can verify what is live.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct DeployRecipe {
    /// `"static"` or `"process"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// What starts a process app (run in the repository's root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The directory a static site is served from, relative to the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// The path that must answer 2xx once the app is live (default `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// The path where a process app serves `$KILN_BUILD_SHA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Why a project file was rejected. Messages name the field and, for syntax and unknown
/// fields, the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    #[error("project file is {size} bytes; at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("unknown field `{field}`{} at line {line}, column {column}; expected one of: {expected}", table.as_ref().map(|t| format!(" in [{t}]")).unwrap_or_default())]
    UnknownField {
        field: String,
        /// The table the field was found in (`commands`, `deploy`), `None` at the top level.
        table: Option<String>,
        line: usize,
        column: usize,
        expected: String,
    },
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("`{field}`: {message}")]
    Invalid { field: String, message: String },
}

/// Parses and validates `.kiln/project.toml`.
pub fn parse_project_toml(text: &str) -> Result<Overrides, OverrideError> {
    if text.len() > MAX_PROJECT_FILE_BYTES {
        return Err(OverrideError::TooLarge {
            size: text.len(),
            max: MAX_PROJECT_FILE_BYTES,
        });
    }
    let overrides: Overrides = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| text::line_col(text, s.start));
        classify(e.message(), line, column)
    })?;
    overrides.validate()?;
    Ok(overrides)
}

/// Parses and validates the JSON form the API accepts.
pub fn parse_project_json(text: &str) -> Result<Overrides, OverrideError> {
    if text.len() > MAX_PROJECT_FILE_BYTES {
        return Err(OverrideError::TooLarge {
            size: text.len(),
            max: MAX_PROJECT_FILE_BYTES,
        });
    }
    let overrides: Overrides = serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full);
        classify(message, e.line(), e.column())
    })?;
    overrides.validate()?;
    Ok(overrides)
}

/// Turns a deserializer message into an [`OverrideError`], recognising serde's
/// "unknown field `x`, expected one of `a`, `b`" form.
fn classify(message: &str, line: usize, column: usize) -> OverrideError {
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    if message.starts_with("unknown field `")
        && let Some((field, expected)) = quoted.split_first()
    {
        let table = if expected.contains(&"install") {
            Some("commands".to_string())
        } else if expected.contains(&"health") {
            Some("deploy".to_string())
        } else {
            None
        };
        return OverrideError::UnknownField {
            field: text::clean(field, text::MAX_NAME),
            table,
            line,
            column,
            expected: expected.join(", "),
        };
    }
    OverrideError::Syntax {
        line,
        column,
        message: text::clean(message.lines().next().unwrap_or(message), text::MAX_NOTE),
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> OverrideError {
    OverrideError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Hidden characters other than line breaks and tabs (allowed in multi-line summaries).
fn has_controls(s: &str) -> bool {
    s.chars()
        .any(|c| text::is_hidden(c) && !matches!(c, '\n' | '\r' | '\t'))
}

fn check_command(field: &str, value: &str) -> Result<(), OverrideError> {
    if text::has_hidden(value) {
        return Err(invalid(field, "contains control characters"));
    }
    if value.chars().count() > MAX_COMMAND {
        return Err(invalid(
            field,
            format!("longer than {MAX_COMMAND} characters"),
        ));
    }
    Ok(())
}

/// A `[deploy]` section the deployer can act on, or the field that stops it.
fn check_deploy(d: &DeployRecipe) -> Result<(), OverrideError> {
    // A field the other kind uses is refused rather than silently ignored.
    let unused = |field: &str, set: bool, why: &str| {
        if set {
            Err(invalid(field, why.to_owned()))
        } else {
            Ok(())
        }
    };
    match d.kind.as_deref() {
        None => {
            return Err(invalid(
                "deploy.kind",
                "is required: \"static\" or \"process\"",
            ));
        }
        Some("static") => {
            unused(
                "deploy.command",
                d.command.is_some(),
                "is for kind = \"process\"; a static site is built by [commands] build",
            )?;
            unused(
                "deploy.version",
                d.version.is_some(),
                "is for kind = \"process\"; Kiln writes a static site's stamp itself",
            )?;
            if let Some(dir) = &d.dir {
                check_relative_path("deploy.dir", dir)?;
            }
        }
        Some("process") => {
            match &d.command {
                Some(c) if !c.trim().is_empty() => check_command("deploy.command", c)?,
                _ => {
                    return Err(invalid(
                        "deploy.command",
                        "is required for kind = \"process\": what starts the app on $PORT",
                    ));
                }
            }
            unused(
                "deploy.dir",
                d.dir.is_some(),
                "is for kind = \"static\"; a process app runs in the repository's root",
            )?;
            match &d.version {
                Some(v) => check_url_path("deploy.version", v, false)?,
                None => {
                    return Err(invalid(
                        "deploy.version",
                        "is required for kind = \"process\": the path where the app serves \
                         $KILN_BUILD_SHA, so Kiln can verify what is live",
                    ));
                }
            }
        }
        Some(other) => {
            return Err(invalid(
                "deploy.kind",
                format!(
                    "{:?} is not a kind Kiln deploys; use \"static\" or \"process\"",
                    text::clean(other, MAX_KIND)
                ),
            ));
        }
    }
    if let Some(h) = &d.health {
        check_url_path("deploy.health", h, true)?;
    }
    Ok(())
}

/// A path on the app's own origin: `/`, then printable ASCII without `..`, a query, a
/// fragment or (unless `dir_ok`) a trailing `/`.
fn check_url_path(field: &str, value: &str, dir_ok: bool) -> Result<(), OverrideError> {
    let ok = value.starts_with('/')
        && value.len() <= MAX_PATH
        && value.bytes().all(|b| b.is_ascii_graphic())
        && !value.contains(['?', '#', '\\', '%'])
        && !value.split('/').any(|s| s == "..")
        && (dir_ok || (!value.ends_with('/')));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!(
                "must be a path starting with `/` (no `..`, `?`, `#`, `%`{})",
                if dir_ok { "" } else { " or trailing `/`" }
            ),
        ))
    }
}

fn check_relative_path(field: &str, value: &str) -> Result<(), OverrideError> {
    if text::has_hidden(value) {
        return Err(invalid(field, "contains control characters"));
    }
    if value.chars().count() > MAX_PATH {
        return Err(invalid(field, format!("longer than {MAX_PATH} characters")));
    }
    if value.trim().is_empty() {
        return Err(invalid(field, "is empty"));
    }
    if value.starts_with('/') || value.contains('\\') {
        return Err(invalid(
            field,
            "must be a relative path with forward slashes",
        ));
    }
    if value.split('/').any(|s| s == "..") {
        return Err(invalid(field, "must not contain `..`"));
    }
    Ok(())
}

fn check_globs(field: &str, globs: &[String]) -> Result<(), OverrideError> {
    if globs.len() > MAX_GLOBS {
        return Err(invalid(field, format!("more than {MAX_GLOBS} entries")));
    }
    for (i, g) in globs.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if text::has_hidden(g) {
            return Err(invalid(f, "contains control characters"));
        }
        if g.trim().is_empty() || g.trim() == "/" {
            return Err(invalid(f, "is empty"));
        }
        if g.chars().count() > MAX_GLOB_LEN {
            return Err(invalid(f, format!("longer than {MAX_GLOB_LEN} characters")));
        }
        if g.starts_with('!') {
            return Err(invalid(f, "negated patterns (`!`) are not supported"));
        }
        if g.split('/').any(|s| s == "..") {
            return Err(invalid(f, "must not contain `..`"));
        }
    }
    Ok(())
}

impl Overrides {
    /// Checks every value against the limits Kiln applies to repository content.
    pub fn validate(&self) -> Result<(), OverrideError> {
        if let Some(c) = &self.commands {
            for (name, value) in [
                ("install", &c.install),
                ("build", &c.build),
                ("test", &c.test),
                ("lint", &c.lint),
                ("run", &c.run),
            ] {
                if let Some(v) = value {
                    check_command(&format!("commands.{name}"), v)?;
                }
            }
        }
        if let Some(s) = &self.summary {
            if has_controls(s) {
                return Err(invalid("summary", "contains control characters"));
            }
            if s.chars().count() > MAX_SUMMARY {
                return Err(invalid(
                    "summary",
                    format!("longer than {MAX_SUMMARY} characters"),
                ));
            }
        }
        if let Some(list) = &self.frameworks {
            if list.len() > MAX_LIST {
                return Err(invalid(
                    "frameworks",
                    format!("more than {MAX_LIST} entries"),
                ));
            }
            for (i, f) in list.iter().enumerate() {
                let field = format!("frameworks[{i}]");
                if f.trim().is_empty() {
                    return Err(invalid(field, "is empty"));
                }
                if text::has_hidden(f) || f.chars().count() > MAX_FRAMEWORK_NAME {
                    return Err(invalid(
                        field,
                        format!(
                            "must be a name of at most {MAX_FRAMEWORK_NAME} printable characters"
                        ),
                    ));
                }
            }
        }
        if let Some(list) = &self.entry_points {
            if list.len() > MAX_LIST {
                return Err(invalid(
                    "entry_points",
                    format!("more than {MAX_LIST} entries"),
                ));
            }
            for (i, p) in list.iter().enumerate() {
                check_relative_path(&format!("entry_points[{i}]"), p)?;
            }
        }
        if let Some(d) = &self.deploy {
            check_deploy(d)?;
        }
        check_globs("protected_paths", &self.protected_paths)?;
        check_globs("ignore", &self.ignore)?;
        Ok(())
    }

    /// True when the indexer must not index `path` (a repository-relative path).
    pub fn ignored(&self, path: &str) -> bool {
        self.ignore
            .iter()
            .any(|g| Glob::new(g).is_some_and(|g| g.matches(path)))
    }

    /// True when Kiln must not change `path`.
    pub fn protected(&self, path: &str) -> bool {
        self.protected_paths
            .iter()
            .any(|g| Glob::new(g).is_some_and(|g| g.matches(path)))
    }
}

/// Applies overrides to detected knowledge. Overridden fields win and are listed in
/// `k.overridden`; an outline summary is rebuilt so it reflects the overridden values.
pub fn apply_overrides(k: &mut Knowledge, o: &Overrides) {
    fn mark(k: &mut Knowledge, field: &str) {
        if !k.overridden.iter().any(|f| f == field) {
            k.overridden.push(field.to_string());
        }
    }
    if let Some(c) = &o.commands {
        let fields = [
            ("install", &c.install),
            ("build", &c.build),
            ("test", &c.test),
            ("lint", &c.lint),
            ("run", &c.run),
        ];
        for (name, value) in fields {
            let Some(value) = value else {
                continue;
            };
            let value = value.trim();
            let (slot, source) = match name {
                "install" => (&mut k.commands.install, &mut k.commands.sources.install),
                "build" => (&mut k.commands.build, &mut k.commands.sources.build),
                "test" => (&mut k.commands.test, &mut k.commands.sources.test),
                "lint" => (&mut k.commands.lint, &mut k.commands.sources.lint),
                _ => (&mut k.commands.run, &mut k.commands.sources.run),
            };
            // Values that would not pass validation are not applied.
            if text::has_hidden(value) || value.chars().count() > MAX_COMMAND {
                continue;
            }
            *slot = (!value.is_empty()).then(|| value.to_string());
            *source = Some("override".to_string());
            if name == "test" {
                k.commands.no_tests = value.is_empty();
            }
            mark(k, &format!("commands.{name}"));
        }
    }
    if let Some(list) = &o.frameworks {
        k.frameworks = clean_list(list, MAX_FRAMEWORK_NAME);
        mark(k, "frameworks");
    }
    if let Some(list) = &o.entry_points {
        k.entry_points = list
            .iter()
            .filter(|p| check_relative_path("", p).is_ok())
            .filter_map(|p| text::normalize_path(p))
            .take(MAX_LIST)
            .collect();
        mark(k, "entry_points");
    }
    if let Some(d) = o.deploy.as_ref().filter(|d| check_deploy(d).is_ok()) {
        k.deploy = Some(DeployRecipe {
            dir: d
                .dir
                .as_deref()
                .map(|p| text::normalize_path(p).unwrap_or_else(|| ".".to_string())),
            ..d.clone()
        });
        mark(k, "deploy");
    }
    if !o.protected_paths.is_empty() {
        k.protected_paths = clean_list(&o.protected_paths, MAX_GLOB_LEN);
        k.protected_paths.truncate(MAX_GLOBS);
        mark(k, "protected_paths");
    }
    if !o.ignore.is_empty() {
        k.ignore = clean_list(&o.ignore, MAX_GLOB_LEN);
        k.ignore.truncate(MAX_GLOBS);
        mark(k, "ignore");
    }
    if let Some(s) = &o.summary {
        k.summary = text::clean(s, MAX_SUMMARY);
        k.summary_source = SummarySource::Override;
        mark(k, "summary");
    } else if k.summary_source == SummarySource::Outline {
        k.summary = summary::outline(k);
    }
}

fn clean_list(list: &[String], max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in list.iter().take(MAX_GLOBS) {
        let c = text::clean(item, max);
        if !c.is_empty() && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// One compiled glob pattern.
///
/// `*` matches within one path component, `**` across components (`a/**/b` also matches
/// `a/b`), `?` one character other than `/`. A pattern without a `/` (other than a trailing
/// one) matches at any depth, like `.gitignore`; a leading `/` anchors it at the top. A
/// trailing `/` matches directories only. A pattern that matches a directory also matches
/// everything beneath it. Character classes and negation are not supported.
#[derive(Clone, Debug)]
pub struct Glob {
    toks: Vec<Tok>,
    dir_only: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tok {
    Lit(char),
    /// `?`
    One,
    /// `*`
    Star,
    /// `**` not followed by `/`
    AnyDeep,
    /// `**/`: nothing, or anything ending with `/`.
    Dirs,
}

impl Glob {
    /// Compiles a pattern; `None` for empty or over-long patterns.
    pub fn new(pattern: &str) -> Option<Glob> {
        let p = pattern.trim();
        if p.is_empty() || p.chars().count() > MAX_GLOB_LEN || text::has_hidden(p) {
            return None;
        }
        let dir_only = p.ends_with('/');
        let p = p.trim_end_matches('/');
        let anchored = p.starts_with('/') || p.contains('/');
        let p = p.trim_start_matches('/');
        let p = p.strip_prefix("./").unwrap_or(p);
        if p.is_empty() {
            return None;
        }
        let mut toks = Vec::with_capacity(p.len() + 1);
        if !anchored {
            toks.push(Tok::Dirs);
        }
        let chars: Vec<char> = p.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => {
                    let mut j = i;
                    while j < chars.len() && chars[j] == '*' {
                        j += 1;
                    }
                    if j - i >= 2 {
                        if j < chars.len() && chars[j] == '/' {
                            toks.push(Tok::Dirs);
                            j += 1;
                        } else {
                            toks.push(Tok::AnyDeep);
                        }
                    } else {
                        toks.push(Tok::Star);
                    }
                    i = j;
                }
                '?' => {
                    toks.push(Tok::One);
                    i += 1;
                }
                c => {
                    toks.push(Tok::Lit(c));
                    i += 1;
                }
            }
        }
        Some(Glob { toks, dir_only })
    }

    /// True when `path` (or one of its ancestor directories) matches.
    pub fn matches(&self, path: &str) -> bool {
        let path = path.trim_start_matches("./").trim_start_matches('/');
        let s: Vec<char> = path.chars().collect();
        let n = s.len();
        // prev[j]: tokens so far match s[..j]. Linear in tokens × path length.
        let mut prev = vec![false; n + 1];
        prev[0] = true;
        let mut cur = vec![false; n + 1];
        for tok in &self.toks {
            let mut seen_prev = false;
            for j in 0..=n {
                let c = if j > 0 { Some(s[j - 1]) } else { None };
                cur[j] = match tok {
                    Tok::Lit(l) => j > 0 && prev[j - 1] && c == Some(*l),
                    Tok::One => j > 0 && prev[j - 1] && c != Some('/'),
                    Tok::Star => prev[j] || (j > 0 && cur[j - 1] && c != Some('/')),
                    Tok::AnyDeep => prev[j] || (j > 0 && cur[j - 1]),
                    Tok::Dirs => prev[j] || (c == Some('/') && seen_prev),
                };
                seen_prev |= prev[j];
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        let prefix_match = (1..n).any(|j| s[j] == '/' && prev[j]);
        prefix_match || (!self.dir_only && prev[n])
    }
}

/// A set of globs compiled once, for filtering many paths.
#[derive(Clone, Debug, Default)]
pub struct GlobSet {
    globs: Vec<Glob>,
}

impl GlobSet {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> GlobSet {
        GlobSet {
            globs: patterns
                .iter()
                .take(MAX_GLOBS)
                .filter_map(|p| Glob::new(p.as_ref()))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
    }

    pub fn matches(&self, path: &str) -> bool {
        self.globs.iter().any(|g| g.matches(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        Glob::new(pattern).is_some_and(|g| g.matches(path))
    }

    #[test]
    fn star_stays_in_one_component() {
        assert!(m("*.log", "a.log"));
        assert!(
            m("*.log", "deep/dir/a.log"),
            "unanchored matches at any depth"
        );
        assert!(m("docs/*.md", "docs/a.md"));
        assert!(!m("docs/*.md", "docs/sub/a.md"));
        assert!(
            !m("docs/*.md", "other/docs/a.md"),
            "a pattern with / is anchored"
        );
    }

    #[test]
    fn double_star_crosses_components() {
        assert!(m("docs/**/*.md", "docs/a.md"));
        assert!(m("docs/**/*.md", "docs/x/y/a.md"));
        assert!(m("**/fixtures/**", "a/b/fixtures/c/d.json"));
        assert!(m("assets/**", "assets/img/logo.png"));
        assert!(!m("assets/**", "src/assets.rs"));
    }

    #[test]
    fn question_mark_and_directories() {
        assert!(m("file?.txt", "file1.txt"));
        assert!(!m("file?.txt", "file10.txt"));
        assert!(!m("a?b", "a/b"));
        assert!(m("build/", "build/out.o"));
        assert!(m("build/", "sub/build/out.o"), "no inner slash: any depth");
        assert!(!m("build/", "build"), "trailing slash: directories only");
        assert!(m("/generated", "generated/x.rs"));
        assert!(!m("/generated", "src/generated/x.rs"));
        assert!(m("target", "target/debug/x"));
    }

    #[test]
    fn hostile_patterns_stay_linear() {
        let p = "*a".repeat(100);
        let path = "a".repeat(3000);
        let g = Glob::new(&p).expect("compiles");
        assert!(g.matches(&path));
        assert!(!g.matches(&format!("{path}b")));
        assert!(Glob::new("").is_none());
        assert!(Glob::new(&"x".repeat(MAX_GLOB_LEN + 1)).is_none());
    }
}
