//! Build systems, frameworks and the commands that install, build, test, lint and run the
//! project.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet};

use crate::entry::PyApp;
use crate::manifest::{Manifest, PackageJson, Parsed};
use crate::repo::Repo;
use crate::text::{self, MAX_COMMAND};
use crate::{BuildSystem, CommandSources, Commands, Notes};

/// Caps on the output.
const MAX_BUILD_SYSTEMS: usize = 30;
const MAX_FRAMEWORKS: usize = 40;
/// Build systems ranked by code size when choosing the primary one.
const MAX_RANKED: usize = 500;

/// A build system Kiln knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Sys {
    Cargo,
    Npm,
    Pnpm,
    Yarn,
    Bun,
    Deno,
    Maven,
    Gradle,
    Poetry,
    Uv,
    Pdm,
    Pipenv,
    Pip,
    Go,
    Composer,
    Bundler,
    Dotnet,
    Mix,
    Sbt,
    SwiftPm,
    Dart,
    Flutter,
    Cmake,
    Make,
}

impl Sys {
    pub fn name(self) -> &'static str {
        match self {
            Sys::Cargo => "cargo",
            Sys::Npm => "npm",
            Sys::Pnpm => "pnpm",
            Sys::Yarn => "yarn",
            Sys::Bun => "bun",
            Sys::Deno => "deno",
            Sys::Maven => "maven",
            Sys::Gradle => "gradle",
            Sys::Poetry => "poetry",
            Sys::Uv => "uv",
            Sys::Pdm => "pdm",
            Sys::Pipenv => "pipenv",
            Sys::Pip => "pip",
            Sys::Go => "go",
            Sys::Composer => "composer",
            Sys::Bundler => "bundler",
            Sys::Dotnet => "dotnet",
            Sys::Mix => "mix",
            Sys::Sbt => "sbt",
            Sys::SwiftPm => "swiftpm",
            Sys::Dart => "dart",
            Sys::Flutter => "flutter",
            Sys::Cmake => "cmake",
            Sys::Make => "make",
        }
    }

    /// Languages whose code this build system builds; used to pick the primary one.
    fn langs(self) -> &'static [&'static str] {
        match self {
            Sys::Cargo => &["rust"],
            Sys::Npm | Sys::Pnpm | Sys::Yarn | Sys::Bun | Sys::Deno => {
                &["javascript", "typescript", "vue", "svelte", "astro"]
            }
            Sys::Maven | Sys::Gradle => &["java", "kotlin", "groovy", "scala"],
            Sys::Sbt => &["scala", "java"],
            Sys::Poetry | Sys::Uv | Sys::Pdm | Sys::Pipenv | Sys::Pip => &["python"],
            Sys::Go => &["go"],
            Sys::Composer => &["php"],
            Sys::Bundler => &["ruby"],
            Sys::Dotnet => &["csharp", "fsharp", "vbnet"],
            Sys::Mix => &["elixir"],
            Sys::SwiftPm => &["swift"],
            Sys::Dart | Sys::Flutter => &["dart"],
            Sys::Cmake | Sys::Make => &["c", "cpp"],
        }
    }

    /// Build systems that drive other tools rather than own a language's packages.
    fn generic(self) -> bool {
        matches!(self, Sys::Make | Sys::Cmake)
    }
}

/// Display name of a build system id for the outline.
pub(crate) fn display(name: &str) -> &str {
    match name {
        "cargo" => "Cargo",
        "yarn" => "Yarn",
        "deno" => "Deno",
        "maven" => "Maven",
        "gradle" => "Gradle",
        "poetry" => "Poetry",
        "pdm" => "PDM",
        "pipenv" => "Pipenv",
        "go" => "Go modules",
        "composer" => "Composer",
        "bundler" => "Bundler",
        "dotnet" => ".NET",
        "mix" => "Mix",
        "sbt" => "sbt",
        "swiftpm" => "SwiftPM",
        "dart" => "Dart pub",
        "flutter" => "Flutter",
        "cmake" => "CMake",
        "make" => "Make",
        other => other,
    }
}

/// A build system found in the commit, before ranking.
struct Candidate<'m> {
    sys: Sys,
    root: String,
    manifest: &'m Manifest,
    workspace: bool,
}

/// Everything the stack analysis produces.
pub(crate) struct Stack {
    pub build_systems: Vec<BuildSystem>,
    pub frameworks: Vec<String>,
    pub commands: Commands,
}

/// Shared inputs of the command derivation.
struct Ctx<'r, 'a> {
    repo: &'r Repo<'a>,
    manifests: &'r [Manifest],
    py_apps: &'r [PyApp],
}

pub(crate) fn analyze(
    repo: &Repo<'_>,
    manifests: &[Manifest],
    py_apps: &[PyApp],
    notes: &mut Notes,
) -> Stack {
    let ctx = Ctx {
        repo,
        manifests,
        py_apps,
    };
    let mut candidates = candidates(&ctx);
    // Only the shallowest candidates are ranked by code size; in repositories with more
    // build systems than that the rest follow in path order.
    candidates.sort_by(|a, b| {
        (text::depth(&a.root), &a.manifest.path).cmp(&(text::depth(&b.root), &b.manifest.path))
    });
    let unranked = if candidates.len() > MAX_RANKED {
        candidates.split_off(MAX_RANKED)
    } else {
        Vec::new()
    };
    let lines = lang_lines_by_dir(repo);
    // Rank: systems with code of their own first, then shallow roots, language-specific
    // before generic (make, cmake), more code first, then a fixed order.
    let mut keyed: Vec<(bool, usize, bool, Reverse<u64>, usize, Candidate<'_>)> = candidates
        .drain(..)
        .map(|c| {
            let own = own_lines(&lines, &c);
            let has_code = if c.sys.generic() {
                own > 0 || generic_has_targets(&c)
            } else {
                own > 0
            };
            (
                !has_code,
                text::depth(&c.root),
                c.sys.generic(),
                Reverse(own),
                c.sys as usize,
                c,
            )
        })
        .collect();
    keyed.sort_by(|a, b| {
        (a.0, a.1, a.2, a.3, a.4)
            .cmp(&(b.0, b.1, b.2, b.3, b.4))
            .then_with(|| a.5.manifest.path.cmp(&b.5.manifest.path))
    });
    let ranked: Vec<Candidate<'_>> = keyed.into_iter().map(|k| k.5).chain(unranked).collect();

    let commands = match ranked.first() {
        Some(primary) => commands_for_root(&ctx, primary, &ranked, notes),
        None => Commands::default(),
    };

    if ranked.len() > MAX_BUILD_SYSTEMS {
        notes.push(format!(
            "{} build systems found; only the first {MAX_BUILD_SYSTEMS} are listed",
            ranked.len()
        ));
    }
    let build_systems = ranked
        .iter()
        .take(MAX_BUILD_SYSTEMS)
        .map(|c| BuildSystem {
            name: c.sys.name().to_string(),
            manifest: text::clean(&c.manifest.path, text::MAX_PATH),
            root: if c.root.is_empty() {
                ".".to_string()
            } else {
                text::clean(&c.root, text::MAX_PATH)
            },
            workspace: c.workspace,
        })
        .collect();

    Stack {
        build_systems,
        frameworks: frameworks(manifests),
        commands,
    }
}

/// Lines of own code per (directory, language).
fn lang_lines_by_dir(repo: &Repo<'_>) -> HashMap<(String, &'static str), u64> {
    let mut map: HashMap<(String, &'static str), u64> = HashMap::new();
    for e in repo.files.iter().filter(|e| e.own()) {
        if let Some(lang) = e.lang {
            *map.entry((e.dir().to_string(), lang)).or_default() += e.lines.max(1);
        }
    }
    map
}

fn own_lines(lines: &HashMap<(String, &'static str), u64>, c: &Candidate<'_>) -> u64 {
    let langs = c.sys.langs();
    lines
        .iter()
        .filter(|((dir, lang), _)| langs.contains(lang) && text::is_within(dir, &c.root))
        .map(|(_, n)| *n)
        .sum()
}

fn generic_has_targets(c: &Candidate<'_>) -> bool {
    match &c.manifest.parsed {
        Parsed::Make(targets) => ["test", "check", "build", "all"]
            .iter()
            .any(|t| targets.contains(*t)),
        Parsed::CMake { .. } => true,
        _ => false,
    }
}

/// True when a strict ancestor directory of `dir` is in `roots`.
fn under_root(dir: &str, roots: &HashSet<&str>) -> bool {
    let mut d = dir;
    while !d.is_empty() {
        d = text::parent(d);
        if roots.contains(d) {
            return true;
        }
    }
    false
}

fn dirs_of(manifests: &[Manifest], pred: impl Fn(&Manifest) -> bool) -> HashSet<&str> {
    manifests
        .iter()
        .filter(|m| pred(m))
        .map(|m| m.dir())
        .collect()
}

/// Every build system root in the commit. Members of a workspace (Cargo, npm/pnpm/yarn,
/// Maven modules, Gradle subprojects, go.work, uv, nested CMake/Make) are folded into the
/// root.
fn candidates<'r>(ctx: &Ctx<'r, '_>) -> Vec<Candidate<'r>> {
    let ms = ctx.manifests;
    let repo = ctx.repo;
    let mut out: Vec<Candidate<'r>> = Vec::new();

    let js_roots = dirs_of(ms, |m| match &m.parsed {
        Parsed::Npm(p) => p.workspaces,
        Parsed::PnpmWorkspace => true,
        _ => false,
    });
    let cargo_roots = dirs_of(ms, |m| matches!(&m.parsed, Parsed::Cargo(c) if c.workspace));
    let maven_dirs = dirs_of(ms, |m| matches!(m.parsed, Parsed::Maven(_)));
    let gradle_dirs = dirs_of(ms, |m| matches!(m.parsed, Parsed::Gradle(_)));
    let go_work = dirs_of(ms, |m| matches!(m.parsed, Parsed::GoWork));
    let uv_roots = dirs_of(
        ms,
        |m| matches!(&m.parsed, Parsed::PyProject(p) if p.uv_workspace),
    );
    let make_dirs = dirs_of(ms, |m| matches!(m.parsed, Parsed::Make(_)));
    let cmake_dirs = dirs_of(ms, |m| matches!(m.parsed, Parsed::CMake { .. }));
    let sln_dirs = dirs_of(ms, |m| matches!(m.parsed, Parsed::Solution));

    let mut by_dir: HashMap<&str, Vec<&'r Manifest>> = HashMap::new();
    for m in ms {
        by_dir.entry(m.dir()).or_default().push(m);
    }
    let here = |dir: &str| by_dir.get(dir).map_or(&[][..], Vec::as_slice);

    let mut seen_gradle: HashSet<&str> = HashSet::new();
    let mut seen_python: HashSet<&str> = HashSet::new();
    let mut seen_sln: HashSet<&str> = HashSet::new();
    let mut seen_make: HashSet<&str> = HashSet::new();

    for m in ms {
        let dir = m.dir();
        let mut push = |sys: Sys, workspace: bool| {
            out.push(Candidate {
                sys,
                root: dir.to_string(),
                manifest: m,
                workspace,
            });
        };
        match &m.parsed {
            Parsed::Npm(p) => {
                if !under_root(dir, &js_roots) {
                    push(js_manager(repo, dir, p), js_roots.contains(dir));
                }
            }
            Parsed::Cargo(c) => {
                if !under_root(dir, &cargo_roots) {
                    push(Sys::Cargo, c.workspace);
                }
            }
            Parsed::Maven(p) => {
                if !under_root(dir, &maven_dirs) {
                    push(Sys::Maven, p.modules);
                }
            }
            Parsed::Gradle(_) => {
                if !under_root(dir, &gradle_dirs) && seen_gradle.insert(dir) {
                    // One entry per directory: the settings file when there is one.
                    let chosen = here(dir)
                        .iter()
                        .copied()
                        .find(|o| matches!(&o.parsed, Parsed::Gradle(g) if g.settings))
                        .unwrap_or(m);
                    let workspace = matches!(&chosen.parsed, Parsed::Gradle(g) if g.includes);
                    out.push(Candidate {
                        sys: Sys::Gradle,
                        root: dir.to_string(),
                        manifest: chosen,
                        workspace,
                    });
                }
            }
            Parsed::PyProject(_)
            | Parsed::Requirements(_)
            | Parsed::Pipfile(_)
            | Parsed::SetupPy => {
                if !under_root(dir, &uv_roots) && seen_python.insert(dir) {
                    let (sys, chosen, workspace) = python_system(repo, here(dir), dir, m);
                    out.push(Candidate {
                        sys,
                        root: dir.to_string(),
                        manifest: chosen,
                        workspace,
                    });
                }
            }
            Parsed::GoMod(_) => {
                if !under_root(dir, &go_work) && !go_work.contains(dir) {
                    push(Sys::Go, false);
                }
            }
            Parsed::GoWork => {
                if !under_root(dir, &go_work) {
                    push(Sys::Go, true);
                }
            }
            Parsed::Composer(_) => push(Sys::Composer, false),
            Parsed::Gemfile(_) => push(Sys::Bundler, false),
            Parsed::Solution => {
                if !under_root(dir, &sln_dirs) && seen_sln.insert(dir) {
                    push(Sys::Dotnet, true);
                }
            }
            Parsed::Dotnet(_) => {
                if !sln_dirs.contains(dir) && !under_root(dir, &sln_dirs) {
                    push(Sys::Dotnet, false);
                }
            }
            Parsed::Make(_) => {
                if !under_root(dir, &make_dirs) && seen_make.insert(dir) {
                    push(Sys::Make, false);
                }
            }
            Parsed::CMake { .. } => {
                if !under_root(dir, &cmake_dirs) {
                    push(Sys::Cmake, false);
                }
            }
            Parsed::Deno(_) => push(Sys::Deno, false),
            Parsed::Mix => push(Sys::Mix, false),
            Parsed::Sbt => push(Sys::Sbt, false),
            Parsed::SwiftPm => push(Sys::SwiftPm, false),
            Parsed::Pubspec { flutter } => {
                push(if *flutter { Sys::Flutter } else { Sys::Dart }, false)
            }
            Parsed::PnpmWorkspace => {
                if !repo.has(dir, "package.json") && !under_root(dir, &js_roots) {
                    push(Sys::Pnpm, true);
                }
            }
        }
    }
    out
}

/// npm, pnpm, yarn or bun: the `packageManager` field, else the lock file next to the
/// manifest, else npm.
fn js_manager(repo: &Repo<'_>, dir: &str, p: &PackageJson) -> Sys {
    if let Some((name, _)) = &p.package_manager {
        match name.as_str() {
            "pnpm" => return Sys::Pnpm,
            "yarn" => return Sys::Yarn,
            "bun" => return Sys::Bun,
            "npm" => return Sys::Npm,
            _ => {}
        }
    }
    if repo.has(dir, "pnpm-lock.yaml") || repo.has(dir, "pnpm-workspace.yaml") {
        Sys::Pnpm
    } else if repo.has(dir, "yarn.lock") {
        Sys::Yarn
    } else if repo.has(dir, "bun.lockb") || repo.has(dir, "bun.lock") {
        Sys::Bun
    } else {
        Sys::Npm
    }
}

/// The one Python build system of a directory: Poetry, uv, PDM, Pipenv or pip, and the
/// manifest that decides it.
fn python_system<'r>(
    repo: &Repo<'_>,
    here: &[&'r Manifest],
    dir: &str,
    first: &'r Manifest,
) -> (Sys, &'r Manifest, bool) {
    let pyproject = here.iter().find_map(|m| match &m.parsed {
        Parsed::PyProject(p) => Some((*m, p)),
        _ => None,
    });
    let pipfile = here.iter().find(|m| matches!(m.parsed, Parsed::Pipfile(_)));
    let requirements = here
        .iter()
        .filter(|m| matches!(m.parsed, Parsed::Requirements(_)))
        .min_by_key(|m| (m.path.len(), m.path.clone()));
    if let Some((m, p)) = pyproject {
        if p.poetry || repo.has(dir, "poetry.lock") {
            return (Sys::Poetry, m, false);
        }
        if p.uv || repo.has(dir, "uv.lock") {
            return (Sys::Uv, m, p.uv_workspace);
        }
        if p.pdm || repo.has(dir, "pdm.lock") {
            return (Sys::Pdm, m, false);
        }
    }
    if let Some(m) = pipfile {
        return (Sys::Pipenv, m, false);
    }
    let m = match (pyproject, requirements) {
        (Some((m, p)), _) if p.has_project || p.has_build_system => m,
        (_, Some(r)) => r,
        (Some((m, _)), None) => m,
        (None, None) => here
            .iter()
            .copied()
            .find(|m| matches!(m.parsed, Parsed::SetupPy))
            .unwrap_or(first),
    };
    (Sys::Pip, m, false)
}

/// One derived command and where it came from.
#[derive(Clone, Debug)]
struct Cmd {
    cmd: String,
    source: String,
}

#[derive(Default, Debug)]
struct Cmds {
    install: Option<Cmd>,
    build: Option<Cmd>,
    test: Option<Cmd>,
    lint: Option<Cmd>,
    run: Option<Cmd>,
}

impl Cmds {
    fn fill_from(&mut self, other: Cmds) {
        self.install = self.install.take().or(other.install);
        self.build = self.build.take().or(other.build);
        self.test = self.test.take().or(other.test);
        self.lint = self.lint.take().or(other.lint);
        self.run = self.run.take().or(other.run);
    }
}

fn cmd(cmd: impl Into<String>, source: impl Into<String>) -> Option<Cmd> {
    Some(Cmd {
        cmd: cmd.into(),
        source: source.into(),
    })
}

/// The primary build system's commands, completed by other build systems at the same root
/// (a Makefile next to a pyproject.toml, say), run from the repository root.
fn commands_for_root(
    ctx: &Ctx<'_, '_>,
    primary: &Candidate<'_>,
    ranked: &[Candidate<'_>],
    notes: &mut Notes,
) -> Commands {
    let mut cmds = commands_for(ctx, primary);
    for other in ranked.iter().skip(1).filter(|c| c.root == primary.root) {
        cmds.fill_from(commands_for(ctx, other));
    }
    let prefix = if primary.root.is_empty() {
        Some(String::new())
    } else if text::shell_safe(&primary.root) {
        Some(format!("cd {} && ", primary.root))
    } else {
        notes.push(format!(
            "{}: directory name is not safe in a shell command; no commands derived",
            text::clean(&primary.root, text::MAX_PATH)
        ));
        None
    };
    let Some(prefix) = prefix else {
        return Commands::default();
    };
    let mut out = Commands::default();
    let mut sources = CommandSources::default();
    let fields = [
        (
            "install",
            cmds.install,
            &mut out.install,
            &mut sources.install,
        ),
        ("build", cmds.build, &mut out.build, &mut sources.build),
        ("test", cmds.test, &mut out.test, &mut sources.test),
        ("lint", cmds.lint, &mut out.lint, &mut sources.lint),
        ("run", cmds.run, &mut out.run, &mut sources.run),
    ];
    for (field, found, slot, source) in fields {
        let Some(found) = found else {
            continue;
        };
        let full = format!("{prefix}{}", found.cmd);
        if full.chars().count() > MAX_COMMAND || text::has_hidden(&full) {
            notes.push(format!(
                "{field} command longer than {MAX_COMMAND} characters; dropped"
            ));
            continue;
        }
        *slot = Some(full);
        *source = Some(text::clean(&found.source, text::MAX_PATH));
    }
    out.sources = sources;
    out
}

/// Path of a manifest relative to the build root, for command sources.
fn rel<'p>(c: &'p Candidate<'_>) -> &'p str {
    text::strip_root(&c.manifest.path, &c.root)
}

fn commands_for(ctx: &Ctx<'_, '_>, c: &Candidate<'_>) -> Cmds {
    match c.sys {
        Sys::Npm | Sys::Pnpm | Sys::Yarn | Sys::Bun => js_commands(ctx, c),
        Sys::Cargo => cargo_commands(ctx, c),
        Sys::Maven => maven_commands(ctx, c),
        Sys::Gradle => gradle_commands(ctx, c),
        Sys::Poetry | Sys::Uv | Sys::Pdm | Sys::Pipenv | Sys::Pip => python_commands(ctx, c),
        Sys::Go => go_commands(ctx, c),
        Sys::Composer => composer_commands(ctx, c),
        Sys::Bundler => bundler_commands(ctx, c),
        Sys::Dotnet => dotnet_commands(ctx, c),
        Sys::Make => make_commands(c),
        Sys::Cmake => cmake_commands(c),
        Sys::Deno => deno_commands(c),
        Sys::Mix => Cmds {
            install: cmd("mix deps.get", rel(c)),
            build: cmd("mix compile", rel(c)),
            test: ctx
                .repo
                .has_dir(&text::join(&c.root, "test"))
                .then(|| cmd("mix test", "test/ directory"))
                .flatten(),
            ..Cmds::default()
        },
        Sys::Sbt => Cmds {
            build: cmd("sbt compile", rel(c)),
            test: cmd("sbt test", rel(c)),
            ..Cmds::default()
        },
        Sys::SwiftPm => Cmds {
            build: cmd("swift build", rel(c)),
            test: ctx
                .repo
                .has_dir(&text::join(&c.root, "Tests"))
                .then(|| cmd("swift test", "Tests/ directory"))
                .flatten(),
            ..Cmds::default()
        },
        Sys::Dart | Sys::Flutter => {
            let tool = if c.sys == Sys::Flutter {
                "flutter"
            } else {
                "dart"
            };
            Cmds {
                install: cmd(format!("{tool} pub get"), rel(c)),
                test: ctx
                    .repo
                    .has_dir(&text::join(&c.root, "test"))
                    .then(|| cmd(format!("{tool} test"), "test/ directory"))
                    .flatten(),
                ..Cmds::default()
            }
        }
    }
}

/// npm's `npm init` placeholder, and other scripts that run no tests.
pub(crate) fn placeholder_test_script(script: &str) -> bool {
    let s = script.trim();
    if s.is_empty() || s.contains("no test specified") {
        return true;
    }
    let only_exit = |s: &str| {
        matches!(
            s.trim(),
            "exit 0" | "exit 1" | "true" | "false" | ":" | "exit"
        )
    };
    if only_exit(s) {
        return true;
    }
    // `echo "..."` alone, or followed only by an exit.
    if let Some(rest) = s.strip_prefix("echo ") {
        return match rest.split_once("&&") {
            None => !rest.contains(';') && !rest.contains('|'),
            Some((_, after)) => only_exit(after),
        };
    }
    false
}

fn js_commands(ctx: &Ctx<'_, '_>, c: &Candidate<'_>) -> Cmds {
    let Parsed::Npm(p) = &c.manifest.parsed else {
        // A pnpm-workspace.yaml without package.json: install only.
        return Cmds {
            install: cmd("pnpm install", rel(c)),
            ..Cmds::default()
        };
    };
    let repo = ctx.repo;
    let dir = &c.root;
    let manifest = rel(c);
    let script = |name: &str| p.scripts.get(name).filter(|s| !s.trim().is_empty());
    let (install, run_script, test_cmd, start_cmd) = match c.sys {
        Sys::Pnpm => (
            if repo.has(dir, "pnpm-lock.yaml") {
                cmd("pnpm install --frozen-lockfile", "pnpm-lock.yaml")
            } else {
                cmd("pnpm install", manifest)
            },
            "pnpm run",
            "pnpm test",
            "pnpm start",
        ),
        Sys::Yarn => {
            let berry = repo.has(dir, ".yarnrc.yml")
                || p.package_manager
                    .as_ref()
                    .is_some_and(|(n, major)| n == "yarn" && *major >= 2);
            let install = if !repo.has(dir, "yarn.lock") {
                cmd("yarn install", manifest)
            } else if berry {
                cmd("yarn install --immutable", "yarn.lock")
            } else {
                cmd("yarn install --frozen-lockfile", "yarn.lock")
            };
            (install, "yarn run", "yarn test", "yarn start")
        }
        Sys::Bun => (
            if repo.has(dir, "bun.lockb") || repo.has(dir, "bun.lock") {
                cmd("bun install --frozen-lockfile", "bun lock file")
            } else {
                cmd("bun install", manifest)
            },
            "bun run",
            // `bun test` is Bun's own runner; `bun run test` runs the script.
            "bun run test",
            "bun run start",
        ),
        _ => (
            if repo.has(dir, "package-lock.json") {
                cmd("npm ci", "package-lock.json")
            } else if repo.has(dir, "npm-shrinkwrap.json") {
                cmd("npm ci", "npm-shrinkwrap.json")
            } else {
                cmd("npm install", manifest)
            },
            "npm run",
            "npm test",
            "npm start",
        ),
    };
    let mut out = Cmds {
        install,
        ..Cmds::default()
    };
    if let Some(t) = script("test")
        && !placeholder_test_script(t)
    {
        out.test = cmd(test_cmd, format!("{manifest} scripts.test"));
    }
    if script("build").is_some() {
        out.build = cmd(
            format!("{run_script} build"),
            format!("{manifest} scripts.build"),
        );
    }
    if script("lint").is_some() {
        out.lint = cmd(
            format!("{run_script} lint"),
            format!("{manifest} scripts.lint"),
        );
    }
    if script("start").is_some() {
        out.run = cmd(start_cmd, format!("{manifest} scripts.start"));
    } else if script("dev").is_some() {
        out.run = cmd(
            format!("{run_script} dev"),
            format!("{manifest} scripts.dev"),
        );
    } else if let Some(main) = &p.main
        && let Some(path) = text::resolve(dir, main)
        && repo.exists(&path)
    {
        let relative = text::strip_root(&path, dir);
        if text::shell_safe(relative) {
            out.run = cmd(format!("node {relative}"), format!("{manifest} main"));
        }
    }
    out
}

fn cargo_commands(ctx: &Ctx<'_, '_>, c: &Candidate<'_>) -> Cmds {
    let Parsed::Cargo(cargo) = &c.manifest.parsed else {
        return Cmds::default();
    };
    let ws = if cargo.workspace { " --workspace" } else { "" };
    let manifest = rel(c);
    let mut out = Cmds {
        build: cmd(format!("cargo build{ws}"), manifest),
        test: cmd(format!("cargo test{ws}"), manifest),
        lint: cmd(format!("cargo clippy{ws} --all-targets"), manifest),
        ..Cmds::default()
    };
    let has_bin = |dir: &str, c: &crate::manifest::CargoToml| {
        c.has_bins
            || ctx.repo.has(dir, "src/main.rs")
            || ctx.repo.has_dir(&text::join(dir, "src/bin"))
    };
    if cargo.has_package && has_bin(&c.root, cargo) {
        out.run = cmd("cargo run", manifest);
    } else if cargo.workspace {
        // A virtual workspace with exactly one binary crate can be run by name.
        let bins: Vec<&str> = ctx
            .manifests
            .iter()
            .filter(|m| text::is_within(m.dir(), &c.root) && m.dir() != c.root)
            .filter_map(|m| match &m.parsed {
                Parsed::Cargo(member) if member.has_package && has_bin(m.dir(), member) => {
                    member.name.as_deref()
                }
                _ => None,
            })
            .collect();
        if let [only] = bins.as_slice()
            && text::ident_safe(only)
        {
            out.run = cmd(
                format!("cargo run -p {only}"),
                format!("{manifest} (only binary crate)"),
            );
        }
    }
    out
}

fn maven_commands(ctx: &Ctx<'_, '_>, c: &Candidate<'_>) -> Cmds {
    let Parsed::Maven(pom) = &c.manifest.parsed else {
        return Cmds::default();
    };
    let wrapper = ctx.repo.has(&c.root, "mvnw");
    let (tool, source) = if wrapper {
        ("./mvnw", "pom.xml + mvnw")
    } else {
        ("mvn", "pom.xml")
    };
    let spring = ctx.manifests.iter().any(|m| {
        text::is_within(m.dir(), &c.root)
            && matches!(&m.parsed, Parsed::Maven(p) if p.artifacts.iter().any(|a| a.starts_with("spring-boot")))
    });
    let mut out = Cmds {
        build: cmd(format!("{tool} -B -q package -DskipTests"), source),
        test: cmd(format!("{tool} -B -q test"), source),
        ..Cmds::default()
    };
    if pom.artifacts.contains("maven-checkstyle-plugin") {
        out.lint = cmd(
            format!("{tool} -B -q checkstyle:check"),
            "pom.xml maven-checkstyle-plugin",
        );
    } else if pom.artifacts.contains("spotless-maven-plugin") {
        out.lint = cmd(
            format!("{tool} -B -q spotless:check"),
            "pom.xml spotless-maven-plugin",
        );
    }
    if spring && !pom.modules {
        out.run = cmd(format!("{tool} spring-boot:run"), "pom.xml spring-boot");
    }
    out
}

fn gradle_commands(ctx: &Ctx<'_, '_>, c: &Candidate<'_>) -> Cmds {
    let wrapper = ctx.repo.has(&c.root, "gradlew");
    let (tool, source) = if wrapper {
        ("./gradlew", "gradlew")
    } else {
        ("gradle", rel(c))
    };
    let gradle_here = |pred: fn(&crate::manifest::Gradle) -> bool| {
        ctx.manifests.iter().any(|m| {
            text::is_within(m.dir(), &c.root) && matches!(&m.parsed, Parsed::Gradle(g) if pred(g))
        })
    };
    let mut out = Cmds {
        build: cmd(format!("{tool} assemble"), source),
        test: cmd(format!("{tool} test"), source),
        ..Cmds::default()
    };
    if gradle_here(|g| g.checkstyle) {
        out.lint = cmd(
            format!("{tool} checkstyleMain"),
            "build.gradle checkstyle plugin",
        );
    }
    if gradle_here(|g| g.spring_boot) {
        out.run = cmd(format!("{tool} bootRun"), "build.gradle spring-boot");
    } else if gradle_here(|g| g.application) {
        out.run = cmd(format!("{tool} run"), "build.gradle application plugin");
    }
    out
}

/// Python dependencies declared at one root, with the manifest that declares each.
fn python_deps<'r>(ctx: &Ctx<'r, '_>, root: &str) -> Vec<(&'r str, &'r BTreeSet<String>)> {
    ctx.manifests
        .iter()
        .filter(|m| m.dir() == root)
        .filter_map(|m| {
            let deps = match &m.parsed {
                Parsed::PyProject(p) => &p.deps,
                Parsed::Requirements(d) | Parsed::Pipfile(d) => d,
                _ => return None,
            };
            Some((text::file_name(&m.path), deps))
        })
        .collect()
}

fn python_commands(ctx: &Ctx<'_, '_>, c: &Candidate<'_>) -> Cmds {
    let repo = ctx.repo;
    let root = c.root.as_str();
    let deps = python_deps(ctx, root);
    let dep = |name: &str| deps.iter().find(|(_, d)| d.contains(name)).map(|(m, _)| *m);
    let pyproject = ctx.manifests.iter().find_map(|m| match &m.parsed {
        Parsed::PyProject(p) if m.dir() == root => Some(p),
        _ => None,
    });
    let tool = |name: &str| pyproject.is_some_and(|p| p.tools.contains(name));
    let prefix = match c.sys {
        Sys::Poetry => "poetry run ",
        Sys::Uv => "uv run ",
        Sys::Pdm => "pdm run ",
        Sys::Pipenv => "pipenv run ",
        _ => "",
    };
    let manifest = rel(c);
    let install = match c.sys {
        Sys::Poetry => cmd("poetry install", manifest),
        Sys::Uv => cmd("uv sync", manifest),
        Sys::Pdm => cmd("pdm install", manifest),
        Sys::Pipenv => cmd("pipenv install --dev", manifest),
        _ => {
            let mut reqs: Vec<&str> = ctx
                .manifests
                .iter()
                .filter(|m| m.dir() == root && matches!(m.parsed, Parsed::Requirements(_)))
                .map(|m| text::file_name(&m.path))
                .filter(|n| {
                    let n = n.to_ascii_lowercase();
                    n == "requirements.txt" || ["dev", "test"].iter().any(|k| n.contains(k))
                })
                .filter(|n| text::shell_safe(n))
                .collect();
            reqs.sort_by_key(|n| (*n != "requirements.txt", n.to_string()));
            reqs.truncate(3);
            if !reqs.is_empty() {
                let args: Vec<String> = reqs.iter().map(|r| format!("-r {r}")).collect();
                cmd(format!("pip install {}", args.join(" ")), reqs.join(" + "))
            } else if pyproject.is_some_and(|p| p.has_project || p.has_build_system)
                || repo.has(root, "setup.py")
            {
                cmd("pip install -e .", manifest)
            } else {
                None
            }
        }
    };
    let mut out = Cmds {
        install,
        ..Cmds::default()
    };

    // pytest: a dependency, configured, or test_*.py files under tests/.
    let pytest_source = if let Some(m) = dep("pytest") {
        Some(format!("{m} (pytest dependency)"))
    } else if tool("pytest") {
        Some(format!("{manifest} [tool.pytest]"))
    } else if repo.has(root, "pytest.ini") {
        Some("pytest.ini".to_string())
    } else if repo.has(root, "conftest.py") || repo.has(root, "tests/conftest.py") {
        Some("conftest.py".to_string())
    } else if ["tests", "test"].iter().any(|d| {
        let dir = text::join(root, d);
        repo.own_under(&dir).any(|e| {
            let n = e.name();
            n.ends_with(".py") && (n.starts_with("test_") || n.ends_with("_test.py"))
        })
    }) {
        Some("tests/test_*.py".to_string())
    } else {
        None
    };
    if let Some(source) = pytest_source {
        let runner = if prefix.is_empty() {
            "python -m pytest".to_string()
        } else {
            format!("{prefix}pytest")
        };
        out.test = cmd(runner, source);
    } else if repo.has(root, "manage.py") && dep("django").is_some() {
        out.test = cmd(
            format!("{prefix}python manage.py test"),
            "manage.py (django)",
        );
    }

    if dep("ruff").is_some()
        || tool("ruff")
        || repo.has(root, "ruff.toml")
        || repo.has(root, ".ruff.toml")
    {
        out.lint = cmd(format!("{prefix}ruff check ."), "ruff configuration");
    } else if dep("flake8").is_some() || repo.has(root, ".flake8") {
        out.lint = cmd(format!("{prefix}flake8"), "flake8 configuration");
    }

    if repo.has(root, "manage.py") {
        out.run = cmd(format!("{prefix}python manage.py runserver"), "manage.py");
    } else if let Some(app) = ctx
        .py_apps
        .iter()
        .filter(|a| text::is_within(text::parent(&a.path), root))
        .min_by_key(|a| (text::depth(text::parent(&a.path)), a.path.clone()))
        && let Some(module) = python_module(text::strip_root(&app.path, root))
    {
        let var = &app.var;
        out.run = match app.framework {
            "fastapi" => cmd(
                format!("{prefix}uvicorn {module}:{var}"),
                format!("{} (FastAPI app)", app.path),
            ),
            _ => cmd(
                format!("{prefix}flask --app {module}:{var} run"),
                format!("{} (Flask app)", app.path),
            ),
        };
    }
    out
}

/// `app/main.py` is module `app.main`; `src/` layouts drop the `src` prefix. `None` when a
/// component is not a plain identifier.
fn python_module(path: &str) -> Option<String> {
    let path = path.strip_prefix("src/").unwrap_or(path);
    let stem = path.strip_suffix(".py")?;
    let stem = stem.strip_suffix("/__init__").unwrap_or(stem);
    let parts: Vec<&str> = stem.split('/').collect();
    let ok = parts.iter().all(|p| {
        !p.is_empty()
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !p.starts_with(|c: char| c.is_ascii_digit())
    });
    (ok && parts.len() <= 6).then(|| parts.join("."))
}

fn go_commands(ctx: &Ctx<'_, '_>, c: &Candidate<'_>) -> Cmds {
    let repo = ctx.repo;
    let root = c.root.as_str();
    let manifest = rel(c);
    // `./...` names the module in the root directory. A go.work root without one names
    // each workspace module instead (`./svc/... ./lib/...`).
    let packages = if matches!(c.manifest.parsed, Parsed::GoWork) && !repo.has(root, "go.mod") {
        let mut modules: Vec<&str> = ctx
            .manifests
            .iter()
            .filter(|m| matches!(m.parsed, Parsed::GoMod(_)) && text::is_within(m.dir(), root))
            .map(|m| text::strip_root(m.dir(), root))
            .collect();
        modules.sort_unstable();
        modules.dedup();
        if modules.is_empty() || !modules.iter().all(|m| text::shell_safe(m)) {
            return Cmds::default();
        }
        modules
            .iter()
            .map(|m| format!("./{m}/..."))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        "./...".to_string()
    };
    let mut out = Cmds {
        install: cmd("go mod download", manifest),
        build: cmd(format!("go build {packages}"), manifest),
        test: cmd(format!("go test {packages}"), manifest),
        ..Cmds::default()
    };
    let golangci = [
        ".golangci.yml",
        ".golangci.yaml",
        ".golangci.toml",
        ".golangci.json",
    ]
    .into_iter()
    .find(|n| repo.has(root, n));
    out.lint = match golangci {
        Some(n) => cmd("golangci-lint run", n),
        None => cmd(format!("go vet {packages}"), manifest),
    };
    let cmd_dir = text::join(root, "cmd");
    let mains: Vec<&str> = repo
        .own_under(&cmd_dir)
        .filter(|e| e.name() == "main.go" && text::depth(e.dir()) == text::depth(&cmd_dir) + 1)
        .map(|e| e.dir())
        .collect();
    if let [only] = mains.as_slice() {
        let relative = text::strip_root(only, root);
        if text::shell_safe(relative) {
            out.run = cmd(
                format!("go run ./{relative}"),
                format!("{relative}/main.go"),
            );
        }
    } else if mains.is_empty()
        && let Some(main) = repo.get(&text::join(root, "main.go"))
        && main.text.is_none_or(|t| t.contains("package main"))
    {
        out.run = cmd("go run .", "main.go");
    }
    out
}

fn composer_commands(ctx: &Ctx<'_, '_>, c: &Candidate<'_>) -> Cmds {
    let Parsed::Composer(comp) = &c.manifest.parsed else {
        return Cmds::default();
    };
    let repo = ctx.repo;
    let root = c.root.as_str();
    let manifest = rel(c);
    let dep = |d: &str| comp.deps.contains(d);
    let mut out = Cmds {
        install: cmd("composer install", manifest),
        ..Cmds::default()
    };
    out.test = if comp.scripts.contains("test") {
        cmd("composer test", format!("{manifest} scripts.test"))
    } else if dep("pestphp/pest") {
        cmd("vendor/bin/pest", format!("{manifest} pestphp/pest"))
    } else if dep("phpunit/phpunit") {
        cmd("vendor/bin/phpunit", format!("{manifest} phpunit/phpunit"))
    } else {
        None
    };
    out.lint = if dep("squizlabs/php_codesniffer") {
        cmd(
            "vendor/bin/phpcs",
            format!("{manifest} squizlabs/php_codesniffer"),
        )
    } else if dep("laravel/pint") {
        cmd("vendor/bin/pint --test", format!("{manifest} laravel/pint"))
    } else if dep("phpstan/phpstan") || dep("larastan/larastan") || dep("nunomaduro/larastan") {
        cmd("vendor/bin/phpstan analyse", format!("{manifest} phpstan"))
    } else {
        None
    };
    if dep("laravel/framework") && repo.has(root, "artisan") {
        out.run = cmd("php artisan serve", "artisan (laravel)");
    } else if repo.has(root, "public/index.php") {
        out.run = cmd("php -S 127.0.0.1:8000 -t public", "public/index.php");
    }
    out
}

fn bundler_commands(ctx: &Ctx<'_, '_>, c: &Candidate<'_>) -> Cmds {
    let Parsed::Gemfile(gems) = &c.manifest.parsed else {
        return Cmds::default();
    };
    let repo = ctx.repo;
    let root = c.root.as_str();
    let rails = gems.contains("rails");
    let mut out = Cmds {
        install: cmd("bundle install", "Gemfile"),
        ..Cmds::default()
    };
    out.test = if gems.contains("rspec") || gems.contains("rspec-rails") {
        cmd("bundle exec rspec", "Gemfile rspec")
    } else if rails && repo.has_dir(&text::join(root, "test")) {
        cmd("bin/rails test", "Gemfile rails + test/")
    } else if repo.has(root, "Rakefile") && repo.has_dir(&text::join(root, "test")) {
        cmd("bundle exec rake test", "Rakefile + test/")
    } else {
        None
    };
    if gems.contains("rubocop") || repo.has(root, ".rubocop.yml") {
        out.lint = cmd("bundle exec rubocop", "rubocop");
    }
    if rails {
        out.run = cmd("bin/rails server", "Gemfile rails");
    } else if repo.has(root, "config.ru") {
        out.run = cmd("bundle exec rackup", "config.ru");
    }
    out
}

fn dotnet_commands(ctx: &Ctx<'_, '_>, c: &Candidate<'_>) -> Cmds {
    let name = text::file_name(&c.manifest.path);
    if !text::shell_safe(name) {
        return Cmds::default();
    }
    let has_tests = ctx.manifests.iter().any(|m| {
        text::is_within(m.dir(), &c.root)
            && matches!(&m.parsed, Parsed::Dotnet(d) if d.test_project)
    });
    Cmds {
        install: cmd(format!("dotnet restore {name}"), name),
        build: cmd(format!("dotnet build {name}"), name),
        test: has_tests
            .then(|| {
                cmd(
                    format!("dotnet test {name}"),
                    format!("{name} (test project)"),
                )
            })
            .flatten(),
        ..Cmds::default()
    }
}

fn make_commands(c: &Candidate<'_>) -> Cmds {
    let Parsed::Make(targets) = &c.manifest.parsed else {
        return Cmds::default();
    };
    let file = rel(c);
    let target = |names: &[&'static str]| names.iter().find(|n| targets.contains(**n)).copied();
    let make = |t: &str| cmd(format!("make {t}"), format!("{file} target {t}"));
    Cmds {
        install: target(&["deps", "install-deps", "setup", "bootstrap"]).and_then(make),
        build: match target(&["build", "all"]) {
            Some("all") => cmd("make", format!("{file} target all")),
            Some(t) => make(t),
            None => None,
        },
        test: target(&["test", "check", "tests"]).and_then(make),
        lint: target(&["lint"]).and_then(make),
        run: target(&["run", "serve", "start"]).and_then(make),
    }
}

fn cmake_commands(c: &Candidate<'_>) -> Cmds {
    let tests = matches!(c.manifest.parsed, Parsed::CMake { tests: true });
    Cmds {
        build: cmd(
            "cmake -S . -B build && cmake --build build",
            "CMakeLists.txt",
        ),
        test: tests
            .then(|| cmd("ctest --test-dir build", "CMakeLists.txt enable_testing"))
            .flatten(),
        ..Cmds::default()
    }
}

fn deno_commands(c: &Candidate<'_>) -> Cmds {
    let Parsed::Deno(tasks) = &c.manifest.parsed else {
        return Cmds::default();
    };
    let file = rel(c);
    let task = |t: &str| {
        tasks
            .contains(t)
            .then(|| cmd(format!("deno task {t}"), format!("{file} tasks.{t}")))
            .flatten()
    };
    Cmds {
        build: task("build"),
        test: task("test"),
        lint: task("lint").or_else(|| cmd("deno lint", file)),
        run: task("start").or_else(|| task("dev")),
        ..Cmds::default()
    }
}

/// Frameworks named by the dependencies of every manifest, sorted and deduplicated.
fn frameworks(manifests: &[Manifest]) -> Vec<String> {
    let mut found: BTreeSet<&'static str> = BTreeSet::new();
    for m in manifests {
        match &m.parsed {
            Parsed::Npm(p) => found.extend(p.deps.iter().filter_map(|d| js_framework(d))),
            Parsed::Cargo(c) => found.extend(c.deps.iter().filter_map(|d| rust_framework(d))),
            Parsed::PyProject(p) => found.extend(p.deps.iter().filter_map(|d| python_framework(d))),
            Parsed::Requirements(d) | Parsed::Pipfile(d) => {
                found.extend(d.iter().filter_map(|d| python_framework(d)));
            }
            Parsed::Composer(c) => found.extend(c.deps.iter().filter_map(|d| php_framework(d))),
            Parsed::GoMod(g) => found.extend(g.requires.iter().filter_map(|d| go_framework(d))),
            Parsed::Gemfile(g) => found.extend(g.iter().filter_map(|d| ruby_framework(d))),
            Parsed::Maven(p) => {
                found.extend(p.artifacts.iter().filter_map(|a| java_framework(a)));
                if p.group_ids.iter().any(|g| g == "org.springframework.boot") {
                    found.insert("spring-boot");
                }
            }
            Parsed::Gradle(g) => found.extend(g.frameworks.iter().copied()),
            Parsed::Dotnet(d) => found.extend(d.frameworks.iter().copied()),
            _ => {}
        }
    }
    found
        .into_iter()
        .take(MAX_FRAMEWORKS)
        .map(str::to_string)
        .collect()
}

fn js_framework(dep: &str) -> Option<&'static str> {
    Some(match dep {
        "express" => "express",
        "fastify" => "fastify",
        "koa" => "koa",
        "@hapi/hapi" => "hapi",
        "hono" => "hono",
        "@nestjs/core" => "nestjs",
        "next" => "next",
        "nuxt" => "nuxt",
        "react" => "react",
        "react-native" => "react-native",
        "expo" => "expo",
        "preact" => "preact",
        "vue" => "vue",
        "svelte" => "svelte",
        "@sveltejs/kit" => "sveltekit",
        "@angular/core" => "angular",
        "solid-js" => "solid",
        "astro" => "astro",
        "@remix-run/react" | "@remix-run/node" => "remix",
        "gatsby" => "gatsby",
        "ember-source" => "ember",
        "electron" => "electron",
        "vite" => "vite",
        "jest" => "jest",
        "vitest" => "vitest",
        "mocha" => "mocha",
        "jasmine" => "jasmine",
        "@playwright/test" => "playwright",
        "cypress" => "cypress",
        "prisma" | "@prisma/client" => "prisma",
        _ => return None,
    })
}

fn rust_framework(dep: &str) -> Option<&'static str> {
    Some(match dep {
        "axum" => "axum",
        "actix-web" => "actix-web",
        "rocket" => "rocket",
        "warp" => "warp",
        "poem" => "poem",
        "tokio" => "tokio",
        "tonic" => "tonic",
        "leptos" => "leptos",
        "yew" => "yew",
        "dioxus" => "dioxus",
        "bevy" => "bevy",
        "tauri" => "tauri",
        "diesel" => "diesel",
        "sqlx" => "sqlx",
        "sea-orm" => "sea-orm",
        _ => return None,
    })
}

fn python_framework(dep: &str) -> Option<&'static str> {
    Some(match dep {
        "django" => "django",
        "djangorestframework" => "django-rest-framework",
        "flask" => "flask",
        "fastapi" => "fastapi",
        "starlette" => "starlette",
        "tornado" => "tornado",
        "aiohttp" => "aiohttp",
        "sanic" => "sanic",
        "pyramid" => "pyramid",
        "streamlit" => "streamlit",
        "celery" => "celery",
        "sqlalchemy" => "sqlalchemy",
        "pytest" => "pytest",
        _ => return None,
    })
}

fn php_framework(dep: &str) -> Option<&'static str> {
    Some(match dep {
        "laravel/framework" => "laravel",
        "symfony/framework-bundle" | "symfony/symfony" => "symfony",
        "slim/slim" => "slim",
        "cakephp/cakephp" => "cakephp",
        "yiisoft/yii2" => "yii",
        "laminas/laminas-mvc" => "laminas",
        "codeigniter4/framework" => "codeigniter",
        "phpunit/phpunit" => "phpunit",
        "pestphp/pest" => "pest",
        _ => return None,
    })
}

fn go_framework(module: &str) -> Option<&'static str> {
    let table: &[(&str, &str)] = &[
        ("github.com/gin-gonic/gin", "gin"),
        ("github.com/labstack/echo", "echo"),
        ("github.com/gofiber/fiber", "fiber"),
        ("github.com/go-chi/chi", "chi"),
        ("github.com/gorilla/mux", "gorilla-mux"),
        ("github.com/beego/beego", "beego"),
        ("github.com/stretchr/testify", "testify"),
        ("github.com/onsi/ginkgo", "ginkgo"),
        ("google.golang.org/grpc", "grpc"),
        ("github.com/spf13/cobra", "cobra"),
    ];
    table
        .iter()
        .find(|(prefix, _)| {
            module == *prefix
                || module
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
        .map(|(_, fw)| *fw)
}

fn ruby_framework(gem: &str) -> Option<&'static str> {
    Some(match gem {
        "rails" => "rails",
        "sinatra" => "sinatra",
        "hanami" => "hanami",
        "rspec" | "rspec-rails" => "rspec",
        "minitest" => "minitest",
        _ => return None,
    })
}

fn java_framework(artifact: &str) -> Option<&'static str> {
    if artifact.starts_with("spring-boot") {
        Some("spring-boot")
    } else if artifact.starts_with("quarkus") {
        Some("quarkus")
    } else if artifact.starts_with("micronaut") {
        Some("micronaut")
    } else if artifact == "junit" || artifact.starts_with("junit-jupiter") {
        Some("junit")
    } else if artifact == "testng" {
        Some("testng")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_placeholder_scripts_are_not_tests() {
        assert!(placeholder_test_script(
            "echo \"Error: no test specified\" && exit 1"
        ));
        assert!(placeholder_test_script("echo 'no tests yet'"));
        assert!(placeholder_test_script("exit 0"));
        assert!(placeholder_test_script("  "));
        assert!(!placeholder_test_script("jest"));
        assert!(!placeholder_test_script("echo start && vitest run"));
        assert!(!placeholder_test_script("node --test"));
    }

    #[test]
    fn python_modules() {
        assert_eq!(python_module("app/main.py").as_deref(), Some("app.main"));
        assert_eq!(python_module("src/pkg/api.py").as_deref(), Some("pkg.api"));
        assert_eq!(python_module("pkg/__init__.py").as_deref(), Some("pkg"));
        assert_eq!(python_module("my-app/main.py"), None);
        assert_eq!(python_module("a;b.py"), None);
    }

    #[test]
    fn go_frameworks_match_by_module_prefix() {
        assert_eq!(go_framework("github.com/labstack/echo/v4"), Some("echo"));
        assert_eq!(go_framework("github.com/gin-gonic/gin"), Some("gin"));
        assert_eq!(go_framework("github.com/gin-gonic/ginx"), None);
    }
}
