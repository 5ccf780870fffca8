//! Conventions: formatter and linter configuration, test layout and naming, commit style, CI.

use std::collections::{BTreeMap, BTreeSet};

use crate::manifest::{Manifest, Parsed};
use crate::repo::{self, Repo};
use crate::text;
use crate::{CiConfig, CommitStyle, Conventions, TestPattern, ToolConfig};

const MAX_TOOLS: usize = 40;
const MAX_CI: usize = 20;
const MAX_TEST_PATTERNS: usize = 20;
const MAX_SUBJECTS: usize = 200;
const MAX_EXAMPLE: usize = 100;

pub(crate) fn detect(repo: &Repo<'_>, manifests: &[Manifest], subjects: &[&str]) -> Conventions {
    let (test_layout, test_patterns) = tests(repo);
    Conventions {
        tools: tools(repo, manifests),
        test_layout,
        test_patterns,
        commit_style: commit_style(subjects),
        ci: ci(repo),
    }
}

/// A formatter/linter/editor configuration file by name: (tool, kind).
fn tool_file(name: &str) -> Option<(&'static str, &'static str)> {
    const FORMATTER: &str = "formatter";
    const LINTER: &str = "linter";
    let found = match name {
        "rustfmt.toml" | ".rustfmt.toml" => ("rustfmt", FORMATTER),
        "clippy.toml" | ".clippy.toml" => ("clippy", LINTER),
        "biome.json" | "biome.jsonc" => ("biome", LINTER),
        ".editorconfig" => ("editorconfig", "editor"),
        "ruff.toml" | ".ruff.toml" => ("ruff", LINTER),
        ".flake8" => ("flake8", LINTER),
        ".pylintrc" | "pylintrc" => ("pylint", LINTER),
        "mypy.ini" | ".mypy.ini" => ("mypy", "types"),
        ".isort.cfg" => ("isort", FORMATTER),
        ".pre-commit-config.yaml" | ".pre-commit-config.yml" => ("pre-commit", "hooks"),
        "phpcs.xml" | "phpcs.xml.dist" | ".phpcs.xml" | ".phpcs.xml.dist" => ("phpcs", LINTER),
        "phpstan.neon" | "phpstan.neon.dist" | "phpstan.dist.neon" => ("phpstan", LINTER),
        ".php-cs-fixer.php" | ".php-cs-fixer.dist.php" => ("php-cs-fixer", FORMATTER),
        "pint.json" => ("pint", FORMATTER),
        ".golangci.yml" | ".golangci.yaml" | ".golangci.toml" | ".golangci.json" => {
            ("golangci-lint", LINTER)
        }
        ".rubocop.yml" => ("rubocop", LINTER),
        ".clang-format" => ("clang-format", FORMATTER),
        ".clang-tidy" => ("clang-tidy", LINTER),
        ".swiftlint.yml" => ("swiftlint", LINTER),
        ".swiftformat" => ("swiftformat", FORMATTER),
        ".scalafmt.conf" => ("scalafmt", FORMATTER),
        "detekt.yml" => ("detekt", LINTER),
        ".shellcheckrc" => ("shellcheck", LINTER),
        ".jshintrc" => ("jshint", LINTER),
        "tsconfig.json" => ("typescript", "types"),
        _ => {
            if name == ".prettierrc"
                || name.starts_with(".prettierrc.")
                || name.starts_with("prettier.config.")
            {
                ("prettier", FORMATTER)
            } else if name == ".eslintrc"
                || name.starts_with(".eslintrc.")
                || name.starts_with("eslint.config.")
            {
                ("eslint", LINTER)
            } else if name.starts_with(".stylelintrc") || name.starts_with("stylelint.config.") {
                ("stylelint", LINTER)
            } else if name.starts_with(".markdownlint") {
                ("markdownlint", LINTER)
            } else if name.to_ascii_lowercase().contains("checkstyle") && name.ends_with(".xml") {
                ("checkstyle", LINTER)
            } else {
                return None;
            }
        }
    };
    Some(found)
}

fn tools(repo: &Repo<'_>, manifests: &[Manifest]) -> Vec<ToolConfig> {
    let mut found: BTreeSet<(usize, &'static str, &'static str, String)> = BTreeSet::new();
    let mut add = |name: &'static str, kind: &'static str, path: &str| {
        found.insert((
            text::depth(text::parent(path)),
            name,
            kind,
            path.to_string(),
        ));
    };
    for e in repo.files.iter().filter(|e| e.own()) {
        if repo::in_fixture_dir(e.dir()) {
            continue;
        }
        if let Some((name, kind)) = tool_file(e.name()) {
            add(name, kind, &e.path);
        }
        if matches!(e.name(), "setup.cfg" | "tox.ini")
            && let Some(t) = e.text
        {
            for (section, name, kind) in [
                ("[flake8]", "flake8", "linter"),
                ("[isort]", "isort", "formatter"),
                ("[tool:isort]", "isort", "formatter"),
                ("[mypy]", "mypy", "types"),
                ("[pycodestyle]", "pycodestyle", "linter"),
            ] {
                if t.lines().any(|l| l.trim() == section) {
                    add(name, kind, &e.path);
                }
            }
        }
    }
    for m in manifests {
        let path = m.path.as_str();
        match &m.parsed {
            Parsed::PyProject(p) => {
                for (tool, name, kind) in [
                    ("black", "black", "formatter"),
                    ("ruff", "ruff", "linter"),
                    ("isort", "isort", "formatter"),
                    ("mypy", "mypy", "types"),
                    ("pylint", "pylint", "linter"),
                    ("flake8", "flake8", "linter"),
                    ("pyright", "pyright", "types"),
                ] {
                    if p.tools.contains(tool) {
                        add(name, kind, path);
                    }
                }
            }
            Parsed::Npm(p) => {
                if p.prettier_key {
                    add("prettier", "formatter", path);
                }
                if p.eslint_key {
                    add("eslint", "linter", path);
                }
            }
            Parsed::Cargo(c) if c.clippy_lints => add("clippy", "linter", path),
            Parsed::Maven(p) => {
                if p.artifacts.contains("maven-checkstyle-plugin") {
                    add("checkstyle", "linter", path);
                }
                if p.artifacts.contains("spotless-maven-plugin") {
                    add("spotless", "formatter", path);
                }
            }
            Parsed::Gradle(g) if g.checkstyle => add("checkstyle", "linter", path),
            _ => {}
        }
    }
    found
        .into_iter()
        .take(MAX_TOOLS)
        .map(|(_, name, kind, path)| ToolConfig {
            name: name.to_string(),
            kind: kind.to_string(),
            path: text::clean(&path, text::MAX_PATH),
        })
        .collect()
}

/// The naming pattern of a test file, if it is one.
fn test_pattern(e: &repo::Entry<'_>) -> Option<String> {
    let name = e.name();
    let lang = e.lang?;
    let ext = text::extension(name).unwrap_or_default();
    let p = match lang {
        "go" if name.ends_with("_test.go") => "*_test.go".to_string(),
        "python" if name.starts_with("test_") && ext == "py" => "test_*.py".to_string(),
        "python" if name.ends_with("_test.py") => "*_test.py".to_string(),
        "javascript" | "typescript" => {
            let stem = name.strip_suffix(&format!(".{ext}")).unwrap_or(name);
            if stem.ends_with(".test") {
                format!("*.test.{ext}")
            } else if stem.ends_with(".spec") {
                format!("*.spec.{ext}")
            } else if e.dir().split('/').any(|s| s == "__tests__") {
                "__tests__/*".to_string()
            } else {
                return None;
            }
        }
        "java" | "kotlin" | "php" | "csharp" | "swift" | "groovy" | "scala" => {
            let stem = name.strip_suffix(&format!(".{ext}")).unwrap_or(name);
            if stem.ends_with("Tests") {
                format!("*Tests.{ext}")
            } else if stem.ends_with("Test") {
                format!("*Test.{ext}")
            } else if stem.ends_with("IT") && lang == "java" {
                "*IT.java".to_string()
            } else if stem.ends_with("Spec") {
                format!("*Spec.{ext}")
            } else {
                return None;
            }
        }
        "ruby" if name.ends_with("_spec.rb") => "*_spec.rb".to_string(),
        "ruby" if name.ends_with("_test.rb") => "*_test.rb".to_string(),
        "elixir" if name.ends_with("_test.exs") => "*_test.exs".to_string(),
        "dart" if name.ends_with("_test.dart") => "*_test.dart".to_string(),
        "rust" if text::file_name(e.dir()) == "tests" => "tests/*.rs".to_string(),
        "rust" if e.text.is_some_and(|t| t.contains("#[cfg(test)]")) => {
            "#[cfg(test)] modules".to_string()
        }
        _ => return None,
    };
    Some(p)
}

fn tests(repo: &Repo<'_>) -> (Option<String>, Vec<TestPattern>) {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let (mut in_dir, mut beside) = (0u64, 0u64);
    for e in repo.files.iter().filter(|e| e.own()) {
        let Some(pattern) = test_pattern(e) else {
            continue;
        };
        if pattern != "#[cfg(test)] modules" && repo::in_test_dir(e.dir()) {
            in_dir += 1;
        } else {
            beside += 1;
        }
        *counts.entry(pattern).or_default() += 1;
    }
    let total = in_dir + beside;
    let layout = if total == 0 {
        None
    } else if in_dir * 5 >= total * 4 {
        Some("tests/ directory".to_string())
    } else if beside * 5 >= total * 4 {
        Some("tests beside code".to_string())
    } else {
        Some("mixed (tests/ directory and beside code)".to_string())
    };
    let mut patterns: Vec<TestPattern> = counts
        .into_iter()
        .map(|(pattern, files)| TestPattern { pattern, files })
        .collect();
    patterns.sort_by(|a, b| {
        b.files
            .cmp(&a.files)
            .then_with(|| a.pattern.cmp(&b.pattern))
    });
    patterns.truncate(MAX_TEST_PATTERNS);
    (layout, patterns)
}

const CONVENTIONAL_TYPES: &[&str] = &[
    "feat", "fix", "docs", "doc", "style", "refactor", "perf", "test", "tests", "build", "ci",
    "chore", "revert", "deps", "release", "security",
];

/// `type(scope)!: description` with a known type.
pub(crate) fn is_conventional(subject: &str) -> bool {
    let Some((head, rest)) = subject.split_once(": ") else {
        return false;
    };
    if rest.trim().is_empty() {
        return false;
    }
    let head = head.strip_suffix('!').unwrap_or(head);
    let ty = match head.find('(') {
        Some(i) => {
            let Some(scope) = head[i + 1..].strip_suffix(')') else {
                return false;
            };
            if scope.is_empty() || scope.contains(['(', ')']) {
                return false;
            }
            &head[..i]
        }
        None => head,
    };
    CONVENTIONAL_TYPES.contains(&ty)
}

fn commit_style(subjects: &[&str]) -> Option<CommitStyle> {
    let considered: Vec<&str> = subjects
        .iter()
        .take(MAX_SUBJECTS)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty() && !s.starts_with("Merge ") && !s.starts_with("Revert \""))
        .collect();
    if considered.is_empty() {
        return None;
    }
    let matching = considered.iter().filter(|s| is_conventional(s)).count();
    let conventional = matching * 2 > considered.len();
    let example = considered
        .iter()
        .find(|s| is_conventional(s) == conventional)
        .map(|s| text::clean(s, MAX_EXAMPLE));
    Some(CommitStyle {
        style: if conventional {
            "conventional commits"
        } else {
            "free-form"
        }
        .to_string(),
        matching: matching as u32,
        total: considered.len() as u32,
        example,
    })
}

/// The CI system a file configures, if any (only at the places each system reads).
fn ci_system(path: &str) -> Option<&'static str> {
    let dir = text::parent(path);
    let name = text::file_name(path);
    let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
    Some(match (dir, name) {
        (".github/workflows", _) if yaml => "github-actions",
        (".gitea/workflows", _) if yaml => "gitea-actions",
        (".forgejo/workflows", _) if yaml => "forgejo-actions",
        ("", ".gitlab-ci.yml") => "gitlab-ci",
        (".circleci", "config.yml") => "circleci",
        ("", "Jenkinsfile") => "jenkins",
        ("", ".travis.yml") => "travis",
        ("", "azure-pipelines.yml") => "azure-pipelines",
        (".azure-pipelines", _) if yaml => "azure-pipelines",
        ("", "bitbucket-pipelines.yml") => "bitbucket-pipelines",
        (".buildkite", _) if yaml => "buildkite",
        ("", ".drone.yml") => "drone",
        ("", ".woodpecker.yml") => "woodpecker",
        (".woodpecker", _) if yaml => "woodpecker",
        ("", "appveyor.yml" | ".appveyor.yml") => "appveyor",
        _ => return None,
    })
}

fn ci(repo: &Repo<'_>) -> Vec<CiConfig> {
    let mut found: Vec<CiConfig> = repo
        .files
        .iter()
        .filter_map(|e| {
            ci_system(&e.path).map(|system| CiConfig {
                system: system.to_string(),
                path: text::clean(&e.path, text::MAX_PATH),
            })
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found.truncate(MAX_CI);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventional_subjects() {
        assert!(is_conventional("feat(api): add login"));
        assert!(is_conventional("fix: handle empty input"));
        assert!(is_conventional("refactor!: drop v1"));
        assert!(is_conventional("feat(ui)!: new layout"));
        assert!(!is_conventional("Add login"));
        assert!(!is_conventional("net: fix a leak"));
        assert!(!is_conventional("feat(): x"));
        assert!(!is_conventional("feat:missing space"));
        assert!(!is_conventional("fix: "));
    }

    #[test]
    fn ci_paths() {
        assert_eq!(
            ci_system(".github/workflows/ci.yml"),
            Some("github-actions")
        );
        assert_eq!(ci_system(".github/workflows/README.md"), None);
        assert_eq!(ci_system(".gitlab-ci.yml"), Some("gitlab-ci"));
        assert_eq!(ci_system("sub/.gitlab-ci.yml"), None);
        assert_eq!(ci_system("Jenkinsfile"), Some("jenkins"));
    }
}
