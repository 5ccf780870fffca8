//! What Kiln learns about a repository it did not write.
//!
//! [`scan`] turns one commit's file list (with the contents of small text files) into a
//! [`Knowledge`] record: languages, build systems (monorepos included), frameworks, the
//! commands that install, build, test, lint and run the project, entry points, a directory
//! map, conventions (formatters, linters, test layout, commit style, CI), flagged secrets
//! and a deterministic outline summary. The caller stores it per commit and shows it in
//! the API and dashboard.
//!
//! [`parse_project_toml`] reads `.kiln/project.toml`, the overrides a repository's owners
//! check in, and [`apply_overrides`] makes them win over detection. [`scan_repository`]
//! does all three when the project file is part of the scanned commit.
//!
//! Everything here is pure (no I/O, no async, no git) and total: repository content is
//! hostile data. Broken manifests become notes, nothing panics, every list and string in
//! the output is bounded, control and invisible formatting characters are stripped, and
//! no file content is copied into the output except short names (dependencies, script
//! names, make targets). Commands are assembled from fixed words; directory and file names
//! only enter a command when they are plain (`[A-Za-z0-9._/@+-]`).

use serde::{Deserialize, Serialize};

mod conventions;
mod entry;
mod lang;
mod layout;
mod manifest;
mod overrides;
mod repo;
mod stack;
mod summary;
mod text;

pub use overrides::{
    CommandOverrides, DeployRecipe, Glob, GlobSet, MAX_PROJECT_FILE_BYTES, MAX_SUMMARY,
    OverrideError, Overrides, apply_overrides, parse_project_json, parse_project_toml,
};

/// Where the project file lives in a repository.
pub const PROJECT_FILE: &str = ".kiln/project.toml";

const MAX_LANGUAGES: usize = 30;
const MAX_SECRETS: usize = 200;
const MAX_NOTES: usize = 50;

/// One file of the commit as the indexer saw it.
#[derive(Clone, Copy, Debug)]
pub struct ScanFile<'a> {
    /// Repository-relative path.
    pub path: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// Content; `None` when the file is binary, too large or skipped.
    pub text: Option<&'a str>,
    /// The indexer's skip reason: `"secret"`, `"binary"`, `"too_large"`, `"lfs_pointer"`,
    /// `"minified"`, `"vendored"`, ...
    pub skipped: Option<&'a str>,
}

/// The input of a scan.
#[derive(Clone, Copy, Debug)]
pub struct ScanInput<'a> {
    pub files: &'a [ScanFile<'a>],
    /// First lines of recent commit messages, newest first.
    pub commit_subjects: &'a [&'a str],
}

/// Share of one language in the project's own code.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LanguageShare {
    /// Stable lowercase id: `rust`, `python`, `typescript`, `cpp`, `csharp`, `shell` ...
    pub name: String,
    pub files: u64,
    pub lines: u64,
    /// Share of all counted lines, 0 to 100, one decimal.
    pub percent: f64,
}

/// A build system and where it is rooted.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct BuildSystem {
    /// `cargo`, `npm`, `pnpm`, `yarn`, `bun`, `deno`, `maven`, `gradle`, `pip`, `poetry`,
    /// `uv`, `pdm`, `pipenv`, `go`, `composer`, `bundler`, `dotnet`, `mix`, `sbt`,
    /// `swiftpm`, `dart`, `flutter`, `cmake`, `make`.
    pub name: String,
    /// The manifest that defines it (`apps/web/package.json`).
    pub manifest: String,
    /// Its directory, `.` for the repository root.
    pub root: String,
    /// True for a workspace root whose members are folded into this entry.
    #[serde(default)]
    pub workspace: bool,
}

/// Where each command came from (`package.json scripts.test`, `Cargo.toml`, `override`).
/// Paths are relative to the primary build system's root (the directory the command
/// `cd`s into).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(default)]
pub struct CommandSources {
    pub install: Option<String>,
    pub build: Option<String>,
    pub test: Option<String>,
    pub lint: Option<String>,
    pub run: Option<String>,
}

/// Commands to run from the repository root (prefixed with `cd DIR && ` when the primary
/// build system lives in a subdirectory). `None` means unknown; Kiln never invents one.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(default)]
pub struct Commands {
    pub install: Option<String>,
    pub build: Option<String>,
    pub test: Option<String>,
    pub lint: Option<String>,
    pub run: Option<String>,
    /// The project declares it has no tests (`test = ""` in the project file); `test` is
    /// then `None`.
    pub no_tests: bool,
    pub sources: CommandSources,
}

/// One entry of the directory map.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct DirSummary {
    pub path: String,
    /// Files beneath it, at any depth.
    pub files: u64,
    pub lines: u64,
    /// `source`, `tests`, `docs`, `config`, `ci`, `scripts`, `assets`, `deploy`,
    /// `examples`, `data`, `vendored`.
    pub role: Option<String>,
}

/// A formatter, linter or editor configuration.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ToolConfig {
    /// `rustfmt`, `prettier`, `eslint`, `ruff`, `black`, `checkstyle`, ...
    pub name: String,
    /// `formatter`, `linter`, `types`, `editor`, `hooks`.
    pub kind: String,
    /// The file configuring it.
    pub path: String,
}

/// How many test files follow a naming pattern.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TestPattern {
    /// `*_test.go`, `test_*.py`, `*.test.ts`, `*Test.java`, `tests/*.rs`,
    /// `#[cfg(test)] modules`, ...
    pub pattern: String,
    pub files: u64,
}

/// The style of recent commit subjects.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CommitStyle {
    /// `conventional commits` or `free-form`.
    pub style: String,
    /// Subjects that are conventional commits.
    pub matching: u32,
    /// Subjects considered (merges excluded).
    pub total: u32,
    /// A recent subject in this style.
    pub example: Option<String>,
}

/// A CI configuration file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CiConfig {
    /// `github-actions`, `gitlab-ci`, `circleci`, `jenkins`, ...
    pub system: String,
    pub path: String,
}

/// Conventions the project follows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(default)]
pub struct Conventions {
    pub tools: Vec<ToolConfig>,
    /// `tests/ directory`, `tests beside code`, or mixed; `None` without test files.
    pub test_layout: Option<String>,
    /// Test naming patterns, most used first.
    pub test_patterns: Vec<TestPattern>,
    pub commit_style: Option<CommitStyle>,
    pub ci: Vec<CiConfig>,
}

/// A file that must not be read.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Flagged {
    pub path: String,
    pub reason: String,
}

/// Who wrote the summary.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SummarySource {
    /// Built deterministically from the detected fields.
    #[default]
    Outline,
    /// Written by a model from this record.
    Model,
    /// Given in the project file.
    Override,
}

/// Everything Kiln learned about one commit.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(default)]
pub struct Knowledge {
    /// By lines, descending.
    pub languages: Vec<LanguageShare>,
    /// The primary build system first (its commands are [`Knowledge::commands`]).
    pub build_systems: Vec<BuildSystem>,
    /// Sorted names.
    pub frameworks: Vec<String>,
    pub commands: Commands,
    pub entry_points: Vec<String>,
    pub directories: Vec<DirSummary>,
    pub conventions: Conventions,
    pub secrets: Vec<Flagged>,
    pub summary: String,
    pub summary_source: SummarySource,
    /// From the project file only; `None` means the project has no deploy recipe.
    pub deploy: Option<DeployRecipe>,
    /// From the project file: globs of paths Kiln must not change.
    pub protected_paths: Vec<String>,
    /// From the project file: globs of paths that are not indexed.
    pub ignore: Vec<String>,
    /// Fields set by overrides (`commands.test`, `frameworks`, `summary`, ...).
    pub overridden: Vec<String>,
    /// What could not be read or was left out, for the dashboard.
    pub notes: Vec<String>,
    /// Files in the commit.
    pub files: u64,
    /// Lines of all text files in the commit.
    pub lines: u64,
}

impl Knowledge {
    /// Replaces the outline with a model-written summary (capped and cleaned like
    /// everything else). An overridden summary is kept.
    pub fn set_model_summary(&mut self, summary: &str) {
        if self.summary_source == SummarySource::Override {
            return;
        }
        self.summary = text::clean(summary, MAX_SUMMARY);
        self.summary_source = SummarySource::Model;
    }
}

/// Bounded, deduplicated notes.
#[derive(Default)]
pub(crate) struct Notes {
    list: Vec<String>,
    dropped: usize,
}

impl Notes {
    pub fn push(&mut self, note: String) {
        let note = text::clean(&note, text::MAX_NOTE);
        if self.list.contains(&note) {
            return;
        }
        if self.list.len() < MAX_NOTES {
            self.list.push(note);
        } else {
            self.dropped += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.list
                .push(format!("{} more notes omitted", self.dropped));
        }
        self.list
    }
}

/// Scans one commit.
pub fn scan(input: &ScanInput<'_>) -> Knowledge {
    let repo = repo::Repo::new(input.files);
    let mut notes = Notes::default();
    if repo.unusable > 0 {
        notes.push(format!(
            "{} files ignored: empty, duplicate or escaping paths",
            repo.unusable
        ));
    }
    let manifests = manifest::collect(&repo, &mut notes);
    let py_apps = entry::python_apps(&repo);
    let stack = stack::analyze(&repo, &manifests, &py_apps, &mut notes);
    let entry_points = entry::entry_points(&repo, &manifests, &py_apps);
    let secrets = secrets(&repo, &mut notes);
    let mut k = Knowledge {
        languages: languages(&repo),
        build_systems: stack.build_systems,
        frameworks: stack.frameworks,
        commands: stack.commands,
        entry_points,
        directories: layout::directories(&repo),
        conventions: conventions::detect(&repo, &manifests, input.commit_subjects),
        secrets,
        files: repo.files.len() as u64,
        lines: repo.files.iter().map(|e| e.lines).sum(),
        notes: notes.finish(),
        ..Knowledge::default()
    };
    k.summary = summary::outline(&k);
    k
}

/// Scans one commit and applies its `.kiln/project.toml` when there is one: ignored paths
/// are left out of the scan, and the overrides win. A broken project file is reported in
/// `notes` and otherwise ignored.
pub fn scan_repository(input: &ScanInput<'_>) -> Knowledge {
    let project = input
        .files
        .iter()
        .find(|f| text::normalize_path(f.path).as_deref() == Some(PROJECT_FILE));
    let Some(project) = project else {
        return scan(input);
    };
    let Some(content) = project.text else {
        let mut k = scan(input);
        push_note(
            &mut k,
            format!("{PROJECT_FILE}: content not available; overrides not applied"),
        );
        return k;
    };
    match parse_project_toml(content) {
        Ok(o) => {
            let mut k = if o.ignore.is_empty() {
                scan(input)
            } else {
                let globs = GlobSet::new(&o.ignore);
                let kept: Vec<ScanFile<'_>> = input
                    .files
                    .iter()
                    .filter(|f| !globs.matches(f.path))
                    .copied()
                    .collect();
                scan(&ScanInput {
                    files: &kept,
                    commit_subjects: input.commit_subjects,
                })
            };
            apply_overrides(&mut k, &o);
            k
        }
        Err(e) => {
            let mut k = scan(input);
            push_note(
                &mut k,
                format!("{PROJECT_FILE}: {e}; overrides not applied"),
            );
            k
        }
    }
}

fn push_note(k: &mut Knowledge, note: String) {
    if k.notes.len() <= MAX_NOTES {
        k.notes.push(text::clean(&note, text::MAX_NOTE));
    }
}

fn languages(repo: &repo::Repo<'_>) -> Vec<LanguageShare> {
    let mut by: std::collections::HashMap<&'static str, (u64, u64)> = Default::default();
    for e in repo.files.iter().filter(|e| e.own()) {
        if let Some(lang) = e.lang {
            let s = by.entry(lang).or_default();
            s.0 += 1;
            s.1 += e.lines;
        }
    }
    let total: u64 = by.values().map(|s| s.1).sum();
    let mut out: Vec<LanguageShare> = by
        .into_iter()
        .map(|(name, (files, lines))| LanguageShare {
            name: name.to_string(),
            files,
            lines,
            percent: if total == 0 {
                0.0
            } else {
                (lines as f64 * 1000.0 / total as f64).round() / 10.0
            },
        })
        .collect();
    out.sort_by(|a, b| {
        b.lines
            .cmp(&a.lines)
            .then(b.files.cmp(&a.files))
            .then_with(|| a.name.cmp(&b.name))
    });
    out.truncate(MAX_LANGUAGES);
    out
}

fn secrets(repo: &repo::Repo<'_>, notes: &mut Notes) -> Vec<Flagged> {
    let mut out = Vec::new();
    let mut more = 0usize;
    for e in &repo.files {
        let Some(s) = &e.secret else {
            continue;
        };
        if out.len() >= MAX_SECRETS {
            more += 1;
            continue;
        }
        let reason = match (s.by_indexer, s.kind) {
            (true, Some(kind)) => format!("secret: {kind}"),
            (true, None) => "secret".to_string(),
            (false, Some(kind)) => format!("likely secret by file name: {kind}"),
            (false, None) => "secret".to_string(),
        };
        out.push(Flagged {
            path: text::clean(&e.path, text::MAX_PATH),
            reason,
        });
    }
    if more > 0 {
        notes.push(format!("{more} more secret files not listed"));
    }
    out
}
