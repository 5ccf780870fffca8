//! Lenient readers for build manifests. A broken or hostile manifest yields a note, never an
//! error or a panic, and only short names (dependencies, script names, targets) are kept.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::Notes;
use crate::repo::{self, Repo};
use crate::text::{self, MAX_MANIFEST_BYTES, MAX_NAME};

/// Caps on what one manifest may contribute.
const MAX_DEPS: usize = 2000;
const MAX_SCRIPTS: usize = 300;
const MAX_TARGETS: usize = 300;

/// `package.json`.
#[derive(Debug, Default)]
pub(crate) struct PackageJson {
    /// Script name to script text. The text is only inspected, never output.
    pub scripts: BTreeMap<String, String>,
    pub main: Option<String>,
    pub bins: Vec<String>,
    pub deps: BTreeSet<String>,
    pub workspaces: bool,
    /// `packageManager` as (name, major version).
    pub package_manager: Option<(String, u32)>,
    pub prettier_key: bool,
    pub eslint_key: bool,
}

/// `Cargo.toml`.
#[derive(Debug, Default)]
pub(crate) struct CargoToml {
    pub name: Option<String>,
    pub has_package: bool,
    pub workspace: bool,
    pub deps: BTreeSet<String>,
    /// `[[bin]]` paths as written.
    pub bin_paths: Vec<String>,
    pub has_bins: bool,
    pub clippy_lints: bool,
}

/// `pyproject.toml`.
#[derive(Debug, Default)]
pub(crate) struct PyProject {
    pub has_project: bool,
    pub has_build_system: bool,
    pub poetry: bool,
    pub uv: bool,
    pub uv_workspace: bool,
    pub pdm: bool,
    pub deps: BTreeSet<String>,
    /// Keys of the `[tool]` table (`black`, `ruff`, `pytest`, ...).
    pub tools: BTreeSet<String>,
}

/// `composer.json`.
#[derive(Debug, Default)]
pub(crate) struct Composer {
    pub deps: BTreeSet<String>,
    pub scripts: BTreeSet<String>,
}

/// `pom.xml`, read as text.
#[derive(Debug, Default)]
pub(crate) struct Pom {
    pub artifacts: BTreeSet<String>,
    pub group_ids: BTreeSet<String>,
    pub modules: bool,
}

/// `build.gradle(.kts)` or `settings.gradle(.kts)`, read as text.
#[derive(Debug, Default)]
pub(crate) struct Gradle {
    pub settings: bool,
    pub includes: bool,
    pub spring_boot: bool,
    pub application: bool,
    pub checkstyle: bool,
    pub frameworks: BTreeSet<&'static str>,
}

/// `go.mod`.
#[derive(Debug, Default)]
pub(crate) struct GoMod {
    pub requires: BTreeSet<String>,
}

/// `*.csproj` / `*.fsproj` / `*.vbproj`, read as text.
#[derive(Debug, Default)]
pub(crate) struct DotnetProject {
    pub test_project: bool,
    pub frameworks: BTreeSet<&'static str>,
}

/// What a manifest file is, with what was read from it.
#[derive(Debug)]
pub(crate) enum Parsed {
    Npm(PackageJson),
    PnpmWorkspace,
    Cargo(CargoToml),
    PyProject(PyProject),
    Requirements(BTreeSet<String>),
    Pipfile(BTreeSet<String>),
    SetupPy,
    Composer(Composer),
    Maven(Pom),
    Gradle(Gradle),
    GoMod(GoMod),
    GoWork,
    Gemfile(BTreeSet<String>),
    Make(BTreeSet<String>),
    CMake { tests: bool },
    Dotnet(DotnetProject),
    Solution,
    Deno(BTreeSet<String>),
    Mix,
    Sbt,
    SwiftPm,
    Pubspec { flutter: bool },
}

/// One manifest of the commit.
#[derive(Debug)]
pub(crate) struct Manifest {
    pub path: String,
    pub parsed: Parsed,
}

impl Manifest {
    pub fn dir(&self) -> &str {
        text::parent(&self.path)
    }
}

/// Which manifest a file name denotes, if any.
fn manifest_kind(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let kind = match name {
        "package.json" => "npm",
        "pnpm-workspace.yaml" => "pnpm-workspace",
        "Cargo.toml" => "cargo",
        "pyproject.toml" => "pyproject",
        "Pipfile" => "pipfile",
        "setup.py" => "setup.py",
        "composer.json" => "composer",
        "pom.xml" => "maven",
        "build.gradle" | "build.gradle.kts" | "settings.gradle" | "settings.gradle.kts" => "gradle",
        "go.mod" => "gomod",
        "go.work" => "gowork",
        "Gemfile" => "gemfile",
        "Makefile" | "makefile" | "GNUmakefile" => "make",
        "CMakeLists.txt" => "cmake",
        "deno.json" | "deno.jsonc" => "deno",
        "mix.exs" => "mix",
        "build.sbt" => "sbt",
        "Package.swift" => "swiftpm",
        "pubspec.yaml" => "pubspec",
        _ => {
            if lower.ends_with(".csproj")
                || lower.ends_with(".fsproj")
                || lower.ends_with(".vbproj")
            {
                "dotnet"
            } else if lower.ends_with(".sln") {
                "sln"
            } else if is_requirements_name(&lower) {
                "requirements"
            } else {
                return None;
            }
        }
    };
    Some(kind)
}

/// `requirements.txt`, `requirements-dev.txt`, `dev-requirements.txt`, `requirements_test.txt` ...
pub(crate) fn is_requirements_name(lower: &str) -> bool {
    lower.ends_with(".txt") && lower.contains("requirements")
}

/// Reads every manifest of the project's own files (not vendored, not test fixtures).
pub(crate) fn collect(repo: &Repo<'_>, notes: &mut Notes) -> Vec<Manifest> {
    let mut out = Vec::new();
    for e in &repo.files {
        if !e.own() || repo::in_fixture_dir(e.dir()) {
            continue;
        }
        let Some(kind) = manifest_kind(e.name()) else {
            continue;
        };
        let shown = text::clean(&e.path, text::MAX_PATH);
        let parsed = match e.text {
            None => {
                // Presence alone still tells which build system is used.
                notes.push(format!(
                    "{shown}: manifest content not available; detected by name only"
                ));
                presence_only(kind)
            }
            Some(t) if t.len() > MAX_MANIFEST_BYTES => {
                notes.push(format!(
                    "{shown}: manifest too large to read; detected by name only"
                ));
                presence_only(kind)
            }
            Some(t) => parse(kind, e.name(), t, &shown, notes),
        };
        if let Some(parsed) = parsed {
            out.push(Manifest {
                path: e.path.clone(),
                parsed,
            });
        }
    }
    out
}

fn presence_only(kind: &str) -> Option<Parsed> {
    Some(match kind {
        "npm" => Parsed::Npm(PackageJson::default()),
        "pnpm-workspace" => Parsed::PnpmWorkspace,
        "cargo" => Parsed::Cargo(CargoToml {
            has_package: true,
            ..CargoToml::default()
        }),
        "pyproject" => Parsed::PyProject(PyProject::default()),
        "pipfile" => Parsed::Pipfile(BTreeSet::new()),
        "setup.py" => Parsed::SetupPy,
        "composer" => Parsed::Composer(Composer::default()),
        "maven" => Parsed::Maven(Pom::default()),
        "gradle" => Parsed::Gradle(Gradle::default()),
        "gomod" => Parsed::GoMod(GoMod::default()),
        "gowork" => Parsed::GoWork,
        "gemfile" => Parsed::Gemfile(BTreeSet::new()),
        "make" => Parsed::Make(BTreeSet::new()),
        "cmake" => Parsed::CMake { tests: false },
        "deno" => Parsed::Deno(BTreeSet::new()),
        "mix" => Parsed::Mix,
        "sbt" => Parsed::Sbt,
        "swiftpm" => Parsed::SwiftPm,
        "pubspec" => Parsed::Pubspec { flutter: false },
        "dotnet" => Parsed::Dotnet(DotnetProject::default()),
        "sln" => Parsed::Solution,
        "requirements" => Parsed::Requirements(BTreeSet::new()),
        _ => return None,
    })
}

fn parse(kind: &str, name: &str, t: &str, shown: &str, notes: &mut Notes) -> Option<Parsed> {
    let parsed = match kind {
        "npm" => Parsed::Npm(match parse_package_json(t) {
            Ok(p) => p,
            Err(e) => {
                notes.push(format!(
                    "{shown}: could not parse ({e}); scripts and dependencies ignored"
                ));
                PackageJson::default()
            }
        }),
        "pnpm-workspace" => Parsed::PnpmWorkspace,
        "cargo" => Parsed::Cargo(match parse_cargo(t) {
            Ok(c) => c,
            Err(e) => {
                notes.push(format!(
                    "{shown}: could not parse ({e}); dependencies ignored"
                ));
                CargoToml {
                    has_package: true,
                    ..CargoToml::default()
                }
            }
        }),
        "pyproject" => Parsed::PyProject(match parse_pyproject(t) {
            Ok(p) => p,
            Err(e) => {
                notes.push(format!(
                    "{shown}: could not parse ({e}); dependencies ignored"
                ));
                PyProject::default()
            }
        }),
        "pipfile" => Parsed::Pipfile(match parse_pipfile(t) {
            Ok(p) => p,
            Err(e) => {
                notes.push(format!(
                    "{shown}: could not parse ({e}); dependencies ignored"
                ));
                BTreeSet::new()
            }
        }),
        "requirements" => Parsed::Requirements(parse_requirements(t)),
        "setup.py" => Parsed::SetupPy,
        "composer" => Parsed::Composer(match parse_composer(t) {
            Ok(c) => c,
            Err(e) => {
                notes.push(format!(
                    "{shown}: could not parse ({e}); dependencies ignored"
                ));
                Composer::default()
            }
        }),
        "maven" => Parsed::Maven(parse_pom(t)),
        "gradle" => Parsed::Gradle(parse_gradle(name, t)),
        "gomod" => Parsed::GoMod(parse_go_mod(t)),
        "gowork" => Parsed::GoWork,
        "gemfile" => Parsed::Gemfile(parse_gemfile(t)),
        "make" => Parsed::Make(parse_make_targets(t)),
        "cmake" => Parsed::CMake {
            tests: t.contains("enable_testing(") || t.contains("add_test("),
        },
        "deno" => Parsed::Deno(parse_deno_tasks(t)),
        "mix" => Parsed::Mix,
        "sbt" => Parsed::Sbt,
        "swiftpm" => Parsed::SwiftPm,
        "pubspec" => Parsed::Pubspec {
            flutter: t.contains("sdk: flutter"),
        },
        "dotnet" => Parsed::Dotnet(parse_dotnet(name, t)),
        "sln" => Parsed::Solution,
        _ => return None,
    };
    Some(parsed)
}

/// A short, clean name from the repository, or `None` when it is empty or too long to be a
/// real name.
fn short_name(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > MAX_NAME || text::has_hidden(s) {
        return None;
    }
    Some(s.to_string())
}

fn json_error(e: &serde_json::Error) -> String {
    format!("invalid JSON at line {}, column {}", e.line(), e.column())
}

fn toml_error(t: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let (line, col) = text::line_col(t, span.start);
            format!("invalid TOML at line {line}, column {col}")
        }
        None => "invalid TOML".to_string(),
    }
}

fn json_keys(v: Option<&Value>, into: &mut BTreeSet<String>) {
    if let Some(Value::Object(map)) = v {
        for k in map.keys() {
            if into.len() >= MAX_DEPS {
                break;
            }
            if let Some(n) = short_name(k) {
                into.insert(n.to_ascii_lowercase());
            }
        }
    }
}

pub(crate) fn parse_package_json(t: &str) -> Result<PackageJson, String> {
    let v: Value = serde_json::from_str(t).map_err(|e| json_error(&e))?;
    let Value::Object(obj) = v else {
        return Err("not a JSON object".to_string());
    };
    let mut p = PackageJson::default();
    if let Some(Value::Object(scripts)) = obj.get("scripts") {
        for (k, v) in scripts {
            if p.scripts.len() >= MAX_SCRIPTS {
                break;
            }
            if let (Some(name), Value::String(body)) = (short_name(k), v) {
                p.scripts.insert(name, body.clone());
            }
        }
    }
    if let Some(Value::String(main)) = obj.get("main") {
        p.main = Some(main.clone());
    }
    match obj.get("bin") {
        Some(Value::String(b)) => p.bins.push(b.clone()),
        Some(Value::Object(map)) => {
            p.bins.extend(
                map.values()
                    .filter_map(Value::as_str)
                    .take(50)
                    .map(str::to_string),
            );
        }
        _ => {}
    }
    for key in [
        "dependencies",
        "devDependencies",
        "peerDependencies",
        "optionalDependencies",
    ] {
        json_keys(obj.get(key), &mut p.deps);
    }
    p.workspaces = match obj.get("workspaces") {
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => o.get("packages").is_some_and(|v| v.is_array()),
        _ => false,
    };
    if let Some(Value::String(pm)) = obj.get("packageManager") {
        let (name, version) = pm.split_once('@').unwrap_or((pm.as_str(), ""));
        let major = version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .unwrap_or(0);
        if let Some(name) = short_name(name) {
            p.package_manager = Some((name.to_ascii_lowercase(), major));
        }
    }
    p.prettier_key = obj.contains_key("prettier");
    p.eslint_key = obj.contains_key("eslintConfig");
    Ok(p)
}

fn toml_keys(v: Option<&toml::Value>, into: &mut BTreeSet<String>) {
    if let Some(toml::Value::Table(t)) = v {
        for (k, v) in t {
            if into.len() >= MAX_DEPS {
                break;
            }
            // `foo = { package = "real-name" }` renames a dependency.
            let real = v
                .as_table()
                .and_then(|t| t.get("package"))
                .and_then(toml::Value::as_str)
                .unwrap_or(k);
            if let Some(n) = short_name(real) {
                into.insert(n.to_ascii_lowercase());
            }
        }
    }
}

pub(crate) fn parse_cargo(t: &str) -> Result<CargoToml, String> {
    let table: toml::Table = toml::from_str(t).map_err(|e| toml_error(t, &e))?;
    let mut c = CargoToml::default();
    if let Some(toml::Value::Table(pkg)) = table.get("package") {
        c.has_package = true;
        c.name = pkg
            .get("name")
            .and_then(toml::Value::as_str)
            .and_then(short_name);
    }
    for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
        toml_keys(table.get(key), &mut c.deps);
    }
    if let Some(toml::Value::Table(targets)) = table.get("target") {
        for cfg in targets.values() {
            for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
                toml_keys(cfg.get(key), &mut c.deps);
            }
        }
    }
    if let Some(toml::Value::Table(ws)) = table.get("workspace") {
        c.workspace = true;
        toml_keys(ws.get("dependencies"), &mut c.deps);
        c.clippy_lints |= ws.get("lints").and_then(|l| l.get("clippy")).is_some();
    }
    c.clippy_lints |= table.get("lints").and_then(|l| l.get("clippy")).is_some();
    if let Some(toml::Value::Array(bins)) = table.get("bin") {
        c.has_bins = !bins.is_empty();
        c.bin_paths = bins
            .iter()
            .filter_map(|b| b.get("path").and_then(toml::Value::as_str))
            .take(50)
            .map(str::to_string)
            .collect();
    }
    Ok(c)
}

/// Name of a PEP 508 requirement (`Django>=4.2; python_version > "3.8"` is `django`),
/// normalized as pip does (lowercase, runs of `-_.` become `-`).
pub(crate) fn requirement_name(line: &str) -> Option<String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
        return None;
    }
    let raw: String = line
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if raw.is_empty() || raw.len() > MAX_NAME {
        return None;
    }
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    Some(out)
}

fn toml_requirements(v: Option<&toml::Value>, into: &mut BTreeSet<String>) {
    if let Some(toml::Value::Array(a)) = v {
        for item in a {
            if into.len() >= MAX_DEPS {
                break;
            }
            if let Some(n) = item.as_str().and_then(requirement_name) {
                into.insert(n);
            }
        }
    }
}

fn toml_requirement_groups(v: Option<&toml::Value>, into: &mut BTreeSet<String>) {
    if let Some(toml::Value::Table(groups)) = v {
        for group in groups.values() {
            toml_requirements(Some(group), into);
        }
    }
}

fn toml_dep_keys(v: Option<&toml::Value>, into: &mut BTreeSet<String>) {
    if let Some(toml::Value::Table(t)) = v {
        for k in t.keys() {
            if into.len() >= MAX_DEPS {
                break;
            }
            if let Some(n) = requirement_name(k) {
                into.insert(n);
            }
        }
    }
}

pub(crate) fn parse_pyproject(t: &str) -> Result<PyProject, String> {
    let table: toml::Table = toml::from_str(t).map_err(|e| toml_error(t, &e))?;
    let mut p = PyProject::default();
    if let Some(project) = table.get("project") {
        p.has_project = true;
        toml_requirements(project.get("dependencies"), &mut p.deps);
        toml_requirement_groups(project.get("optional-dependencies"), &mut p.deps);
    }
    p.has_build_system = table.contains_key("build-system");
    toml_requirement_groups(table.get("dependency-groups"), &mut p.deps);
    if let Some(toml::Value::Table(tool)) = table.get("tool") {
        p.tools = tool
            .keys()
            .filter_map(|k| short_name(k))
            .take(100)
            .map(|k| k.to_ascii_lowercase())
            .collect();
        if let Some(poetry) = tool.get("poetry") {
            p.poetry = true;
            toml_dep_keys(poetry.get("dependencies"), &mut p.deps);
            toml_dep_keys(poetry.get("dev-dependencies"), &mut p.deps);
            if let Some(toml::Value::Table(groups)) = poetry.get("group") {
                for g in groups.values() {
                    toml_dep_keys(g.get("dependencies"), &mut p.deps);
                }
            }
        }
        if let Some(uv) = tool.get("uv") {
            p.uv = true;
            p.uv_workspace = uv.get("workspace").is_some();
            toml_requirements(uv.get("dev-dependencies"), &mut p.deps);
        }
        if let Some(pdm) = tool.get("pdm") {
            p.pdm = true;
            toml_requirement_groups(pdm.get("dev-dependencies"), &mut p.deps);
        }
    }
    // The interpreter itself is not a dependency.
    p.deps.remove("python");
    Ok(p)
}

pub(crate) fn parse_pipfile(t: &str) -> Result<BTreeSet<String>, String> {
    let table: toml::Table = toml::from_str(t).map_err(|e| toml_error(t, &e))?;
    let mut deps = BTreeSet::new();
    toml_dep_keys(table.get("packages"), &mut deps);
    toml_dep_keys(table.get("dev-packages"), &mut deps);
    Ok(deps)
}

pub(crate) fn parse_requirements(t: &str) -> BTreeSet<String> {
    t.lines()
        .filter_map(requirement_name)
        .take(MAX_DEPS)
        .collect()
}

pub(crate) fn parse_composer(t: &str) -> Result<Composer, String> {
    let v: Value = serde_json::from_str(t).map_err(|e| json_error(&e))?;
    let Value::Object(obj) = v else {
        return Err("not a JSON object".to_string());
    };
    let mut c = Composer::default();
    json_keys(obj.get("require"), &mut c.deps);
    json_keys(obj.get("require-dev"), &mut c.deps);
    json_keys(obj.get("scripts"), &mut c.scripts);
    Ok(c)
}

/// Values of every `<tag>value</tag>` in an XML text (no nesting inside the value).
fn xml_values<'t>(t: &'t str, tag: &str) -> Vec<&'t str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find(&open) {
        rest = &rest[i + open.len()..];
        let Some(j) = rest.find(&close) else {
            break;
        };
        let value = rest[..j].trim();
        if !value.contains('<') {
            out.push(value);
        }
        rest = &rest[j + close.len()..];
        if out.len() >= MAX_DEPS {
            break;
        }
    }
    out
}

pub(crate) fn parse_pom(t: &str) -> Pom {
    Pom {
        artifacts: xml_values(t, "artifactId")
            .into_iter()
            .filter_map(short_name)
            .map(|a| a.to_ascii_lowercase())
            .collect(),
        group_ids: xml_values(t, "groupId")
            .into_iter()
            .filter_map(short_name)
            .map(|a| a.to_ascii_lowercase())
            .collect(),
        modules: t.contains("<modules>"),
    }
}

pub(crate) fn parse_gradle(name: &str, t: &str) -> Gradle {
    let mut g = Gradle {
        settings: name.starts_with("settings."),
        ..Gradle::default()
    };
    g.includes = g.settings && t.lines().any(|l| l.trim_start().starts_with("include"));
    g.spring_boot = t.contains("org.springframework.boot");
    g.application = t.lines().any(|l| {
        let l = l.trim();
        l == "application"
            || l.contains("id 'application'")
            || l.contains("id \"application\"")
            || l.contains("id(\"application\")")
            || l.contains("apply plugin: 'application'")
    });
    g.checkstyle = t.lines().any(|l| {
        let l = l.trim();
        l == "checkstyle" || l.contains("'checkstyle'") || l.contains("\"checkstyle\"")
    });
    let markers: &[(&str, &str)] = &[
        ("org.springframework.boot", "spring-boot"),
        ("io.quarkus", "quarkus"),
        ("io.micronaut", "micronaut"),
        ("io.ktor", "ktor"),
        ("com.android.application", "android"),
        ("com.android.library", "android"),
        ("junit", "junit"),
        ("testng", "testng"),
        ("io.kotest", "kotest"),
    ];
    for (marker, fw) in markers {
        if t.contains(marker) {
            g.frameworks.insert(fw);
        }
    }
    g
}

pub(crate) fn parse_go_mod(t: &str) -> GoMod {
    let mut m = GoMod::default();
    let mut in_block = false;
    for line in t.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        if in_block {
            if line.starts_with(')') {
                in_block = false;
                continue;
            }
            if let Some(path) = line.split_whitespace().next().and_then(short_name) {
                m.requires.insert(path);
            }
        } else if let Some(rest) = line.strip_prefix("require") {
            let rest = rest.trim();
            if rest.starts_with('(') {
                in_block = true;
            } else if let Some(path) = rest.split_whitespace().next().and_then(short_name) {
                m.requires.insert(path);
            }
        }
        if m.requires.len() >= MAX_DEPS {
            break;
        }
    }
    m
}

pub(crate) fn parse_gemfile(t: &str) -> BTreeSet<String> {
    let mut gems = BTreeSet::new();
    for line in t.lines() {
        let Some(rest) = line.trim().strip_prefix("gem ") else {
            continue;
        };
        let rest = rest.trim_start();
        let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        if let Some(end) = rest[1..].find(quote)
            && let Some(name) = short_name(&rest[1..1 + end])
        {
            gems.insert(name.to_ascii_lowercase());
        }
        if gems.len() >= MAX_DEPS {
            break;
        }
    }
    gems
}

/// Rule targets of a Makefile (`test:`, `.PHONY: test lint`), excluding variable assignments
/// and pattern rules.
pub(crate) fn parse_make_targets(t: &str) -> BTreeSet<String> {
    let mut targets = BTreeSet::new();
    for line in t.lines() {
        if line.starts_with('\t') || line.starts_with(' ') || line.starts_with('#') {
            continue;
        }
        let Some(colon) = line.find(':') else {
            continue;
        };
        let after = &line[colon + 1..];
        if after.starts_with('=') || line[..colon].contains('=') {
            continue;
        }
        let names = &line[..colon];
        let phony = names.trim() == ".PHONY";
        let list = if phony { after } else { names };
        for name in list.split_whitespace() {
            if name.contains('%') || name.contains('$') || name.starts_with('.') {
                continue;
            }
            if let Some(n) = short_name(name) {
                targets.insert(n);
            }
        }
        if targets.len() >= MAX_TARGETS {
            break;
        }
    }
    targets
}

fn parse_deno_tasks(t: &str) -> BTreeSet<String> {
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(t) else {
        return BTreeSet::new();
    };
    let mut tasks = BTreeSet::new();
    json_keys(obj.get("tasks"), &mut tasks);
    tasks
}

pub(crate) fn parse_dotnet(name: &str, t: &str) -> DotnetProject {
    let mut d = DotnetProject::default();
    let markers: &[(&str, &str)] = &[("xunit", "xunit"), ("NUnit", "nunit"), ("MSTest", "mstest")];
    for (marker, fw) in markers {
        if t.contains(marker) {
            d.frameworks.insert(fw);
            d.test_project = true;
        }
    }
    if t.contains("Microsoft.NET.Test.Sdk") || name.contains("Tests.") || name.contains("Test.") {
        d.test_project = true;
    }
    if t.contains("Microsoft.NET.Sdk.Web") || t.contains("Microsoft.AspNetCore") {
        d.frameworks.insert("aspnetcore");
    }
    if t.contains("Microsoft.NET.Sdk.BlazorWebAssembly") {
        d.frameworks.insert("blazor");
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_json_reads_scripts_deps_and_workspaces() {
        let p = parse_package_json(
            r#"{"scripts":{"test":"jest","build":"tsc"},"main":"./lib/index.js",
                "bin":{"tool":"bin/tool.js"},"dependencies":{"Express":"^4"},
                "devDependencies":{"jest":"^29"},"workspaces":["packages/*"],
                "packageManager":"pnpm@9.1.0"}"#,
        )
        .expect("valid");
        assert_eq!(p.scripts.get("test").map(String::as_str), Some("jest"));
        assert!(p.deps.contains("express") && p.deps.contains("jest"));
        assert_eq!(p.bins, vec!["bin/tool.js".to_string()]);
        assert!(p.workspaces);
        assert_eq!(p.package_manager, Some(("pnpm".to_string(), 9)));
        assert!(parse_package_json("[1,2]").is_err());
        let err = parse_package_json("{\n  \"name\": ,\n}").expect_err("broken");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn cargo_reads_workspace_deps_and_renames() {
        let c = parse_cargo(
            "[workspace]\nmembers=[\"crates/*\"]\n[workspace.dependencies]\naxum = \"0.8\"\n\
             [dependencies]\nrt = { package = \"tokio\", version = \"1\" }\n\
             [lints.clippy]\nall = \"warn\"\n[[bin]]\nname = \"x\"\npath = \"src/x.rs\"\n",
        )
        .expect("valid");
        assert!(c.workspace && !c.has_package);
        assert!(c.deps.contains("axum") && c.deps.contains("tokio"));
        assert!(c.clippy_lints);
        assert_eq!(c.bin_paths, vec!["src/x.rs".to_string()]);
    }

    #[test]
    fn requirement_names_normalize() {
        assert_eq!(
            requirement_name("Django>=4.2 ; python_version>'3'").as_deref(),
            Some("django")
        );
        assert_eq!(
            requirement_name("pytest_asyncio==0.2").as_deref(),
            Some("pytest-asyncio")
        );
        assert_eq!(
            requirement_name("fastapi[standard]").as_deref(),
            Some("fastapi")
        );
        assert_eq!(requirement_name("-r dev.txt"), None);
        assert_eq!(requirement_name("# comment"), None);
    }

    #[test]
    fn pyproject_reads_all_dependency_tables() {
        let p = parse_pyproject(
            "[project]\ndependencies=[\"fastapi>=0.110\"]\n[project.optional-dependencies]\n\
             dev=[\"pytest\"]\n[dependency-groups]\nlint=[\"ruff\"]\n\
             [tool.poetry.group.test.dependencies]\nhypothesis=\"*\"\n[tool.black]\nline-length=100\n",
        )
        .expect("valid");
        for d in ["fastapi", "pytest", "ruff", "hypothesis"] {
            assert!(p.deps.contains(d), "{d}");
        }
        assert!(p.poetry && p.has_project && p.tools.contains("black"));
    }

    #[test]
    fn make_targets_skip_variables_and_patterns() {
        let t = parse_make_targets(
            "CC := gcc\nX=a:b\n.PHONY: test lint\nall: build\nbuild:\n\tcc x.c\n%.o: %.c\n\ttest: no\n",
        );
        let got: Vec<&str> = t.iter().map(String::as_str).collect();
        assert_eq!(got, vec!["all", "build", "lint", "test"]);
    }

    #[test]
    fn go_mod_and_gemfile() {
        let g = parse_go_mod(
            "module x\n\ngo 1.22\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.9.1 // indirect\n)\nrequire github.com/stretchr/testify v1.8.0\n",
        );
        assert!(g.requires.contains("github.com/gin-gonic/gin"));
        assert!(g.requires.contains("github.com/stretchr/testify"));
        let gems = parse_gemfile("source 'x'\ngem \"rails\", \"~> 7\"\n  gem 'rspec-rails'\n");
        assert!(gems.contains("rails") && gems.contains("rspec-rails"));
    }

    #[test]
    fn pom_values() {
        let p = parse_pom(
            "<project><parent><groupId>org.springframework.boot</groupId>\
             <artifactId>spring-boot-starter-parent</artifactId></parent>\
             <modules><module>a</module></modules></project>",
        );
        assert!(p.artifacts.contains("spring-boot-starter-parent"));
        assert!(p.group_ids.contains("org.springframework.boot"));
        assert!(p.modules);
    }
}
