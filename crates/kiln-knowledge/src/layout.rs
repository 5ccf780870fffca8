//! The directory map: the top two levels with sizes and roles.

use std::collections::HashMap;

use crate::DirSummary;
use crate::lang;
use crate::repo::Repo;
use crate::text;

const MAX_DIRS: usize = 40;
const MAX_TOP_LEVEL: usize = 25;

/// The role a directory name conventionally has.
pub(crate) fn role_of(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    Some(match lower.as_str() {
        "src" | "lib" | "app" | "apps" | "pkg" | "cmd" | "internal" | "source" | "sources"
        | "crates" | "packages" | "services" | "modules" | "components" | "server" | "client"
        | "frontend" | "backend" | "web" | "api" | "core" | "main" => "source",
        "tests" | "test" | "spec" | "specs" | "__tests__" | "e2e" | "integration-tests"
        | "testing" | "testdata" | "fixtures" => "tests",
        "docs" | "doc" | "documentation" | "wiki" | "man" => "docs",
        "config" | "configs" | "conf" | ".config" | "settings" | "etc" | ".kiln" | ".vscode"
        | ".idea" | ".devcontainer" => "config",
        ".github" | ".gitlab" | ".circleci" | ".buildkite" | "ci" | ".woodpecker" | ".ci"
        | ".azure-pipelines" => "ci",
        "scripts" | "script" | "bin" | "tools" | "hack" | "tasks" | "utils" => "scripts",
        "assets" | "static" | "public" | "images" | "img" | "media" | "fonts" | "styles"
        | "resources" | "res" => "assets",
        "deploy" | "deployment" | "deployments" | "infra" | "infrastructure" | "k8s" | "helm"
        | "charts" | "terraform" | "docker" | "ops" => "deploy",
        "examples" | "example" | "samples" | "demo" | "demos" => "examples",
        "migrations" | "db" | "database" | "sql" | "schema" | "schemas" => "data",
        "vendor" | "node_modules" | "third_party" | "third-party" | "thirdparty" => "vendored",
        _ => return None,
    })
}

#[derive(Default, Clone, Copy)]
struct Stats {
    files: u64,
    lines: u64,
}

pub(crate) fn directories(repo: &Repo<'_>) -> Vec<DirSummary> {
    let mut top: HashMap<&str, Stats> = HashMap::new();
    let mut second: HashMap<&str, Stats> = HashMap::new();
    for e in &repo.files {
        let path = e.path.as_str();
        let Some(first_slash) = path.find('/') else {
            continue;
        };
        let s = top.entry(&path[..first_slash]).or_default();
        s.files += 1;
        s.lines += e.lines;
        if let Some(second_slash) = path[first_slash + 1..].find('/') {
            let s = second
                .entry(&path[..first_slash + 1 + second_slash])
                .or_default();
            s.files += 1;
            s.lines += e.lines;
        }
    }
    // Largest first, but third-party and build output after the project's own directories.
    let order = |a: &(&str, Stats), b: &(&str, Stats)| {
        lang::in_vendored_dir(a.0)
            .cmp(&lang::in_vendored_dir(b.0))
            .then(b.1.lines.cmp(&a.1.lines))
            .then(b.1.files.cmp(&a.1.files))
            .then_with(|| a.0.cmp(b.0))
    };
    let mut tops: Vec<(&str, Stats)> = top.into_iter().collect();
    tops.sort_by(order);
    tops.truncate(MAX_TOP_LEVEL);

    // Fill the remaining budget with the largest second-level directories of the kept tops.
    let mut seconds: Vec<(&str, Stats)> = second
        .into_iter()
        .filter(|(p, _)| tops.iter().any(|(t, _)| text::parent(p) == *t))
        .collect();
    seconds.sort_by(order);
    seconds.truncate(MAX_DIRS.saturating_sub(tops.len()));

    let mut out = Vec::new();
    for (t, ts) in &tops {
        let role = role_of(t);
        out.push(summary(t, *ts, role));
        let mut children: Vec<&(&str, Stats)> = seconds
            .iter()
            .filter(|(p, _)| text::parent(p) == *t)
            .collect();
        children.sort_by(|a, b| order(a, b));
        for (c, cs) in children {
            let role = role_of(text::file_name(c)).or(role);
            out.push(summary(c, *cs, role));
        }
    }
    out
}

fn summary(path: &str, s: Stats, role: Option<&str>) -> DirSummary {
    DirSummary {
        path: text::clean(path, text::MAX_PATH),
        files: s.files,
        lines: s.lines,
        role: role.map(str::to_string),
    }
}
