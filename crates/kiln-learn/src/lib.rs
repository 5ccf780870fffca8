//! Project knowledge for the stages that work on a repository Kiln did not write.
//!
//! [`scan_commit`] reads one commit from git (never following symlinks, never reading a
//! secret's content, skipping what the indexer skips) and scans it with `kiln-knowledge`.
//! [`ensure`] stores that scan once per commit in `project_knowledge`, so the planner, the
//! tester, the deployer and the indexer agree on what they learned whichever ran first.
//! [`recipe`] turns knowledge into the same shape a stack template has (commands,
//! toolchains, registries, caches), so the tester and deployer run an attached project's
//! own commands through the code paths they use for templates.
//!
//! The recipe of a task always comes from its base commit, never from the commit under
//! test: a change the model made to `.kiln/project.toml` or to a manifest cannot choose the
//! commands that judge it.

use std::path::Path;

use kiln_code::{FileVerdict, SkipReason};
use kiln_git::Git;
use kiln_knowledge::Knowledge;
use kiln_templates::{CacheKind, Commands, Manifest, Serve, ServeKind, Template};
use sqlx::PgPool;

/// Files larger than this are not read for the scan (manifests are small).
pub const MAX_SCAN_BYTES: u64 = 256 * 1024;

/// Blobs read from git per `cat-file --batch`.
const READ_BATCH: usize = 256;

/// Commit subjects read for the commit-style convention.
const SUBJECTS: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading the repository")]
    Git(#[from] kiln_git::Error),
    #[error("project knowledge store")]
    Store(#[from] kiln_store::Error),
    #[error("project {0:?} has no code on its main branch")]
    NoCode(String),
    #[error("stored project settings are invalid: {0}")]
    Settings(String),
    #[error("stored project knowledge of {commit} does not decode")]
    Decode {
        commit: String,
        source: serde_json::Error,
    },
}

/// Scans `commit` of the bare repository `repo`.
pub async fn scan_commit(git: &Git, repo: &Path, commit: &str) -> Result<Knowledge, Error> {
    let listed = git.list_files(repo, commit).await?;
    let mut skipped: Vec<Option<&'static str>> = Vec::with_capacity(listed.len());
    let mut wanted = Vec::new();
    for (i, f) in listed.iter().enumerate() {
        let verdict = if f.symlink {
            FileVerdict::Skip(SkipReason::Symlink)
        } else {
            kiln_code::path_verdict(&f.path, f.size, MAX_SCAN_BYTES)
        };
        match verdict {
            FileVerdict::Skip(r) => skipped.push(Some(r.as_str())),
            FileVerdict::Index => {
                skipped.push(None);
                wanted.push(i);
            }
        }
    }
    let mut texts: Vec<Option<String>> = vec![None; listed.len()];
    for batch in wanted.chunks(READ_BATCH) {
        let oids: Vec<String> = batch.iter().map(|&i| listed[i].oid.clone()).collect();
        let blobs = git.read_blobs(repo, &oids).await?;
        for (&i, bytes) in batch.iter().zip(blobs) {
            let Some(bytes) = bytes else { continue };
            match kiln_code::content_verdict(&listed[i].path, &bytes) {
                FileVerdict::Index => texts[i] = Some(String::from_utf8_lossy(&bytes).into_owned()),
                FileVerdict::Skip(r) => skipped[i] = Some(r.as_str()),
            }
        }
    }
    let subjects = git.subjects(repo, commit, SUBJECTS).await?;
    let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
    let files: Vec<kiln_knowledge::ScanFile<'_>> = listed
        .iter()
        .enumerate()
        .map(|(i, f)| kiln_knowledge::ScanFile {
            path: &f.path,
            size: f.size,
            text: texts[i].as_deref(),
            skipped: skipped[i],
        })
        .collect();
    Ok(kiln_knowledge::scan_repository(
        &kiln_knowledge::ScanInput {
            files: &files,
            commit_subjects: &subjects,
        },
    ))
}

/// What [`ensure`] found.
#[derive(Debug, Clone)]
pub struct Learned {
    pub knowledge: Knowledge,
    /// Whether this call scanned the commit (false: it was stored already).
    pub scanned: bool,
}

/// `k` with the project's API settings applied on top of what the repository says. The
/// stored scan never includes them, so changing settings takes effect at once for every
/// commit.
async fn with_settings(db: &PgPool, project: &str, mut k: Knowledge) -> Result<Knowledge, Error> {
    if let Some(settings) = kiln_store::knowledge::settings(db, project).await? {
        let overrides = kiln_knowledge::parse_project_json(&settings.to_string())
            .map_err(|e| Error::Settings(e.to_string()))?;
        kiln_knowledge::apply_overrides(&mut k, &overrides);
    }
    Ok(k)
}

/// The knowledge of `commit` of `project` (stored, or scanned now and stored), with the
/// project's API settings applied. `None` when the project does not exist.
pub async fn ensure(
    db: &PgPool,
    git: &Git,
    project: &str,
    repo: &Path,
    commit: &str,
) -> Result<Option<Learned>, Error> {
    let Some(project_id) = kiln_store::knowledge::project_id(db, project).await? else {
        return Ok(None);
    };
    if let Some(stored) = kiln_store::knowledge::get(db, project, Some(commit)).await? {
        let knowledge =
            serde_json::from_value(stored.knowledge).map_err(|source| Error::Decode {
                commit: commit.to_owned(),
                source,
            })?;
        return Ok(Some(Learned {
            knowledge: with_settings(db, project, knowledge).await?,
            scanned: false,
        }));
    }
    let knowledge = scan_commit(git, repo, commit).await?;
    let json = serde_json::to_value(&knowledge).map_err(|source| Error::Decode {
        commit: commit.to_owned(),
        source,
    })?;
    kiln_store::knowledge::put(db, project_id, commit, &json).await?;
    Ok(Some(Learned {
        knowledge: with_settings(db, project, knowledge).await?,
        scanned: true,
    }))
}

/// A change task's starting point and what Kiln knows there.
#[derive(Debug, Clone)]
pub struct Base {
    /// The commit the change starts from: the project's main branch when the task began.
    pub commit: String,
    pub knowledge: Knowledge,
}

/// The base of a change task: the commit recorded on the task, or (the first time) the head
/// of the project's main branch, recorded now so every stage and every redelivery agrees.
/// Its knowledge is scanned once and stored.
pub async fn task_base(
    db: &PgPool,
    git: &Git,
    task: &kiln_store::tasks::Task,
    repo: &Path,
) -> Result<Base, Error> {
    let commit = match &task.base_commit {
        Some(c) => c.clone(),
        None => {
            let head = git
                .branch_head(repo, kiln_git::BASE_BRANCH)
                .await?
                .ok_or_else(|| Error::NoCode(task.project.clone()))?;
            kiln_store::tasks::set_base_commit(db, task.id, &head).await?;
            // A concurrent delivery may have recorded another head first: it wins.
            kiln_store::tasks::get_task(db, task.id)
                .await?
                .and_then(|t| t.base_commit)
                .unwrap_or(head)
        }
    };
    let learned = ensure(db, git, &task.project, repo, &commit)
        .await?
        .ok_or_else(|| Error::NoCode(task.project.clone()))?;
    Ok(Base {
        commit,
        knowledge: learned.knowledge,
    })
}

/// Package registries the install phase of a build system downloads from. The tester asks
/// each before installing, so an unreachable one blocks by name.
fn registries_of(build_system: &str) -> &'static [&'static str] {
    match build_system {
        "npm" | "pnpm" | "yarn" | "bun" => &["https://registry.npmjs.org/"],
        "cargo" => &["https://index.crates.io/config.json"],
        "pip" | "poetry" | "uv" | "pdm" | "pipenv" => &["https://pypi.org/simple/"],
        "maven" | "gradle" => &["https://repo.maven.apache.org/maven2/"],
        "go" => &["https://proxy.golang.org/"],
        "composer" => &["https://repo.packagist.org/packages.json"],
        _ => &[],
    }
}

fn cache_of(build_system: &str) -> Option<CacheKind> {
    match build_system {
        "npm" | "pnpm" | "yarn" | "bun" => Some(CacheKind::Npm),
        "cargo" => Some(CacheKind::Cargo),
        "pip" | "poetry" | "uv" | "pdm" | "pipenv" => Some(CacheKind::Pip),
        _ => None,
    }
}

/// The executable a command line starts, when it names one on `PATH` (a plain word, not a
/// path like `./gradlew` and not a shell construct).
fn program_of(command: &str) -> Option<&str> {
    let first = command
        .split_whitespace()
        // Leading `VAR=value` assignments are not the program.
        .find(|w| !w.contains('=') || w.starts_with('='))?;
    let plain = first
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'));
    (plain && !first.starts_with('.')).then_some(first)
}

/// Executables the commands need, in order of first use. Package managers that run on
/// Node.js also need `node`.
fn toolchains(commands: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        if !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    };
    for c in commands {
        // `cd web && npm test`: every program of an `&&` chain counts.
        for part in c.split("&&") {
            let Some(program) = program_of(part) else {
                continue;
            };
            if matches!(program, "cd" | "true" | "test" | "echo" | "exit") {
                continue;
            }
            add(program);
            if matches!(program, "npm" | "npx" | "pnpm" | "yarn") {
                add("node");
            }
        }
    }
    out
}

/// The recipe of an attached project: its own install, build and test commands (none
/// invented: an unknown stack has no test command), the toolchains they start, the
/// registries and caches of its build systems, and how it is served when its project file
/// has a `[deploy]` section.
/// Where a static site's build stamp is served: the deployer writes the commit there.
pub const STAMP_PATH: &str = "/__kiln/version";

pub fn recipe(project: &str, k: &Knowledge) -> Template {
    let c = &k.commands;
    let one = |o: &Option<String>| o.iter().cloned().collect::<Vec<_>>();
    let commands = Commands {
        install: one(&c.install),
        build: one(&c.build),
        test: one(&c.test),
    };
    let all: Vec<&str> = commands
        .install
        .iter()
        .chain(&commands.build)
        .chain(&commands.test)
        .map(String::as_str)
        .collect();
    let systems: Vec<&str> = k.build_systems.iter().map(|b| b.name.as_str()).collect();
    let mut registries: Vec<String> = Vec::new();
    let mut caches: Vec<CacheKind> = Vec::new();
    if !commands.install.is_empty() {
        for s in &systems {
            for r in registries_of(s) {
                if !registries.iter().any(|x| x == r) {
                    registries.push((*r).to_owned());
                }
            }
        }
    }
    for s in &systems {
        if let Some(cache) = cache_of(s)
            && !caches.contains(&cache)
        {
            caches.push(cache);
        }
    }
    // A recipe that reached the knowledge was validated: a process has its command and
    // version path, a static site gets Kiln's stamp written into it by the deployer.
    let health = |d: &kiln_knowledge::DeployRecipe| d.health.clone().unwrap_or_else(|| "/".into());
    let (deploy, serve) = match &k.deploy {
        Some(d) if d.kind.as_deref() == Some("process") => (
            vec!["local".to_owned()],
            Serve {
                kind: ServeKind::Process,
                run: d.command.clone(),
                static_dir: None,
                health_path: health(d),
                version_path: d.version.clone().unwrap_or_else(|| STAMP_PATH.into()),
            },
        ),
        Some(d) if d.kind.as_deref() == Some("static") => (
            vec!["local".to_owned()],
            Serve {
                kind: ServeKind::Static,
                run: None,
                static_dir: Some(d.dir.clone().unwrap_or_else(|| ".".into()).into()),
                health_path: health(d),
                version_path: STAMP_PATH.into(),
            },
        ),
        _ => (
            vec![],
            Serve {
                kind: ServeKind::Static,
                run: None,
                static_dir: None,
                health_path: "/".into(),
                version_path: STAMP_PATH.into(),
            },
        ),
    };
    Template::for_project(Manifest {
        name: project.to_owned(),
        alias: None,
        title: project.to_owned(),
        description: k.summary.clone(),
        // The primary build system names the stack; without one, the main language does.
        stack: systems
            .first()
            .copied()
            .or(k.languages.first().map(|l| l.name.as_str()))
            .unwrap_or("unknown")
            .to_owned(),
        requires: toolchains(&all),
        deploy,
        registries,
        caches,
        database: None,
        commands,
        serve,
    })
}

/// Knowledge as a short Markdown outline for a prompt: what the planner and codegen are
/// told about a repository. Every value is bounded data from the scan (no file content).
pub fn outline(k: &Knowledge) -> String {
    let mut out = String::new();
    out.push_str(&format!("summary: {}\n", k.summary));
    let langs: Vec<String> = k
        .languages
        .iter()
        .take(6)
        .map(|l| format!("{} {:.0}%", l.name, l.percent))
        .collect();
    if !langs.is_empty() {
        out.push_str(&format!("languages: {}\n", langs.join(", ")));
    }
    let systems: Vec<String> = k
        .build_systems
        .iter()
        .take(6)
        .map(|b| format!("{} ({})", b.name, b.manifest))
        .collect();
    if !systems.is_empty() {
        out.push_str(&format!("build systems: {}\n", systems.join(", ")));
    }
    if !k.frameworks.is_empty() {
        out.push_str(&format!("frameworks: {}\n", k.frameworks.join(", ")));
    }
    for (label, cmd) in [
        ("install", &k.commands.install),
        ("build", &k.commands.build),
        ("test", &k.commands.test),
    ] {
        if let Some(cmd) = cmd {
            out.push_str(&format!("{label} command: {cmd}\n"));
        }
    }
    if k.commands.test.is_none() {
        out.push_str("test command: none found (changes cannot be tested automatically)\n");
    }
    if !k.entry_points.is_empty() {
        out.push_str(&format!("entry points: {}\n", k.entry_points.join(", ")));
    }
    let dirs: Vec<String> = k
        .directories
        .iter()
        .take(15)
        .map(|d| match &d.role {
            Some(role) => format!("{} ({role})", d.path),
            None => d.path.clone(),
        })
        .collect();
    if !dirs.is_empty() {
        out.push_str(&format!("directories: {}\n", dirs.join(", ")));
    }
    if let Some(layout) = &k.conventions.test_layout {
        out.push_str(&format!("test layout: {layout}\n"));
    }
    let tools: Vec<&str> = k
        .conventions
        .tools
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    if !tools.is_empty() {
        out.push_str(&format!("formatters and linters: {}\n", tools.join(", ")));
    }
    if !k.protected_paths.is_empty() {
        out.push_str(&format!(
            "paths that must not change: {}\n",
            k.protected_paths.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_knowledge::{BuildSystem, DeployRecipe};

    fn knowledge(system: &str, install: Option<&str>, test: Option<&str>) -> Knowledge {
        let mut k = Knowledge::default();
        k.build_systems.push(BuildSystem {
            name: system.into(),
            manifest: "package.json".into(),
            root: ".".into(),
            workspace: false,
        });
        k.commands.install = install.map(Into::into);
        k.commands.test = test.map(Into::into);
        k
    }

    #[test]
    fn a_node_project_needs_node_its_registry_and_the_npm_cache() {
        let k = knowledge("npm", Some("npm ci"), Some("cd web && npm test"));
        let t = recipe("shop", &k);
        let m = &t.manifest;
        assert_eq!(m.stack, "npm");
        assert_eq!(m.requires, ["npm", "node"]);
        assert_eq!(m.registries, ["https://registry.npmjs.org/"]);
        assert_eq!(m.caches, [CacheKind::Npm]);
        assert_eq!(m.commands.install, ["npm ci"]);
        assert_eq!(m.commands.test, ["cd web && npm test"]);
        assert!(
            m.deploy.is_empty(),
            "no [deploy] section, nothing to deploy"
        );
        assert_eq!(t.output_paths().count(), 0, "a recipe renders no files");
    }

    #[test]
    fn an_unknown_stack_gets_no_invented_commands() {
        let t = recipe("mystery", &Knowledge::default());
        let m = &t.manifest;
        assert_eq!(m.stack, "unknown");
        assert!(m.commands.install.is_empty() && m.commands.build.is_empty());
        assert!(m.commands.test.is_empty());
        assert!(m.requires.is_empty() && m.registries.is_empty());
    }

    #[test]
    fn registries_are_asked_only_when_something_is_installed() {
        let t = recipe("lib", &knowledge("pip", None, Some("python3 -m unittest")));
        assert!(t.manifest.registries.is_empty());
        assert_eq!(t.manifest.requires, ["python3"]);
        assert_eq!(t.manifest.caches, [CacheKind::Pip]);
    }

    #[test]
    fn programs_are_plain_words_only() {
        assert_eq!(program_of("CI=1 npm test"), Some("npm"));
        assert_eq!(program_of("./gradlew test"), None);
        assert_eq!(program_of("$(curl evil) x"), None);
        assert_eq!(program_of("   "), None);
        assert_eq!(
            toolchains(&["mvn -B test", "cd x && cargo test && true"]),
            ["mvn", "cargo"]
        );
    }

    #[test]
    fn a_deploy_section_makes_the_project_deployable() {
        let mut k = knowledge("npm", None, Some("npm test"));
        k.deploy = Some(DeployRecipe {
            kind: Some("static".into()),
            dir: Some("public".into()),
            ..DeployRecipe::default()
        });
        let t = recipe("site", &k);
        assert_eq!(t.manifest.deploy, ["local"]);
        assert_eq!(
            t.manifest.serve.static_dir.as_deref(),
            Some(Path::new("public"))
        );
        assert_eq!(t.manifest.serve.version_path, STAMP_PATH);
        assert_eq!(t.manifest.serve.health_path, "/");

        k.deploy = Some(DeployRecipe {
            kind: Some("process".into()),
            command: Some("python3 -m app".into()),
            health: Some("/healthz".into()),
            version: Some("/version".into()),
            ..DeployRecipe::default()
        });
        let t = recipe("api", &k);
        assert_eq!(t.manifest.serve.kind, ServeKind::Process);
        assert_eq!(t.manifest.serve.run.as_deref(), Some("python3 -m app"));
        assert_eq!(
            (
                t.manifest.serve.health_path.as_str(),
                t.manifest.serve.version_path.as_str()
            ),
            ("/healthz", "/version")
        );
    }

    #[test]
    fn the_outline_says_when_there_is_no_test_command() {
        let k = knowledge("make", None, None);
        let o = outline(&k);
        assert!(o.contains("test command: none found"), "{o}");
        assert!(o.contains("build systems: make (package.json)"), "{o}");
    }
}
