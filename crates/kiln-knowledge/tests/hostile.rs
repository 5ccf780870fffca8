//! Secrets, commit style, broken and hostile repository content, output bounds.

mod support;

use kiln_knowledge::{Knowledge, MAX_SUMMARY};
use support::{Fixture, names};

#[test]
fn secrets_are_flagged_and_never_read() {
    let k = Fixture::new()
        .skipped_with_text(
            ".env",
            "secret",
            "DATABASE_URL=postgres://admin:hunter2@db/prod\n",
        )
        .skipped("deploy/id_rsa", "secret")
        .skipped("config/credentials.yml.enc", "secret")
        .file("config/.env.example", "DATABASE_URL=\n")
        .file(
            "certs/server.pem",
            "-----BEGIN PRIVATE KEY-----\nsupersecretmaterial\n",
        )
        .lines("src/main.py", 10)
        .scan();
    let flagged: Vec<(&str, &str)> = k
        .secrets
        .iter()
        .map(|s| (s.path.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        flagged,
        vec![
            (".env", "secret: environment file"),
            ("deploy/id_rsa", "secret: private key"),
            ("config/credentials.yml.enc", "secret"),
            (
                "certs/server.pem",
                "likely secret by file name: key or certificate"
            ),
        ]
    );
    let json = serde_json::to_string(&k).expect("serializes");
    assert!(!json.contains("hunter2"), "secret content leaked");
    assert!(
        !json.contains("supersecretmaterial"),
        "secret content leaked"
    );
    assert!(
        k.summary.contains("4 files flagged as secrets"),
        "{}",
        k.summary
    );
    // Secret files do not count as lines either.
    assert_eq!(k.lines, 11);
}

#[test]
fn conventional_commit_subjects() {
    let k = Fixture::new()
        .lines("src/lib.rs", 1)
        .subjects(&[
            "Merge pull request #12 from acme/feature",
            "feat(api): add order refunds",
            "fix: reject negative totals",
            "docs(readme): explain setup",
            "Update README",
            "refactor!: drop the v1 routes",
        ])
        .scan();
    let style = k.conventions.commit_style.expect("style");
    assert_eq!(style.style, "conventional commits");
    assert_eq!(
        (style.matching, style.total),
        (4, 5),
        "merges are not counted"
    );
    assert_eq!(
        style.example.as_deref(),
        Some("feat(api): add order refunds")
    );
}

#[test]
fn free_form_commit_subjects() {
    let k = Fixture::new()
        .lines("src/lib.rs", 1)
        .subjects(&[
            "Add refunds to the orders API",
            "net: fix socket leak",
            "fix: typo",
            "Bump version\u{7} to 1.2",
        ])
        .scan();
    let style = k.conventions.commit_style.expect("style");
    assert_eq!(style.style, "free-form");
    assert_eq!((style.matching, style.total), (1, 4));
    assert_eq!(
        style.example.as_deref(),
        Some("Add refunds to the orders API")
    );
    assert!(k.summary.contains("free-form"), "{}", k.summary);

    let none = Fixture::new().lines("a.rs", 1).scan();
    assert_eq!(none.conventions.commit_style, None);
}

#[test]
fn commit_examples_are_cleaned_and_capped() {
    let long = format!("feat: {}\u{202E}", "x".repeat(500));
    let k = Fixture::new().lines("a.rs", 1).subjects(&[&long]).scan();
    let example = k
        .conventions
        .commit_style
        .and_then(|s| s.example)
        .expect("example");
    assert_eq!(example.chars().count(), 100);
    assert!(!example.contains('\u{202E}'));
}

#[test]
fn broken_manifests_become_notes() {
    let k = Fixture::new()
        .file(
            "package.json",
            "{\n  \"name\": \"x\",\n  \"scripts\": { \"test\": \"jest\" \n",
        )
        .file("tools/Cargo.toml", "[package\nname = \"broken\"\n")
        .file(
            "py/pyproject.toml",
            "[project]\ndependencies = [\"fastapi\"\n",
        )
        .lines("src/index.js", 10)
        .lines("tools/src/main.rs", 10)
        .scan();
    assert!(
        k.notes
            .iter()
            .any(|n| n.starts_with("package.json: could not parse (invalid JSON at line")),
        "{:?}",
        k.notes
    );
    assert!(
        k.notes
            .iter()
            .any(|n| n.starts_with("tools/Cargo.toml: could not parse (invalid TOML at line 1")),
        "{:?}",
        k.notes
    );
    assert!(
        k.notes
            .iter()
            .any(|n| n.starts_with("py/pyproject.toml: could not parse")),
        "{:?}",
        k.notes
    );
    // Still detected by name, but nothing is invented from the broken content.
    let systems = names(&k);
    assert!(
        systems.contains(&("npm", ".")) && systems.contains(&("cargo", "tools")),
        "{systems:?}"
    );
    assert_eq!(
        k.commands.test, None,
        "the broken package.json's test script is not trusted"
    );
}

#[test]
fn manifests_that_are_not_objects_or_are_skipped() {
    let k = Fixture::new()
        .file("package.json", "[1, 2, 3]")
        .skipped("big/package.json", "too_large")
        .lines("index.js", 3)
        .scan();
    assert!(
        k.notes.iter().any(|n| n.contains("not a JSON object")),
        "{:?}",
        k.notes
    );
    assert!(
        k.notes.iter().any(|n| n == "big/package.json: manifest content not available; detected by name only"),
        "{:?}",
        k.notes
    );
}

#[test]
fn unsafe_directory_names_never_reach_a_command() {
    let k = Fixture::new()
        .file("x;rm -rf ~/Cargo.toml", "[package]\nname = \"x\"\n")
        .file("x;rm -rf ~/src/main.rs", "fn main() {}\n")
        .scan();
    assert_eq!(k.build_systems[0].root, "x;rm -rf ~");
    assert_eq!(k.commands.test, None);
    assert_eq!(k.commands.build, None);
    assert!(
        k.notes
            .iter()
            .any(|n| n.contains("not safe in a shell command")),
        "{:?}",
        k.notes
    );
}

#[test]
fn hostile_names_are_stripped_of_control_characters() {
    let k = Fixture::new()
        .file(
            "package.json",
            "{\"dependencies\":{\"react\\u202e\":\"1\",\"express\":\"4\"},\"scripts\":{\"te\\u0007st\":\"x\"}}",
        )
        .file("src/evil\u{202E}txt.js", "a\n")
        .file("src/bell\u{7}.js", "a\n")
        .scan();
    let json = serde_json::to_string(&k).expect("serializes");
    assert!(!json.contains('\u{202E}') && !json.contains('\u{7}'));
    assert!(
        !json.contains("\\u0007") && !json.contains("\\u202e"),
        "{json}"
    );
    assert_eq!(
        k.frameworks,
        vec!["express"],
        "names with hidden characters are dropped"
    );
}

#[test]
fn paths_escaping_the_repository_or_duplicated_are_ignored() {
    let k = Fixture::new()
        .lines("src/a.rs", 2)
        .lines("./src/a.rs", 5)
        .lines("../outside.rs", 5)
        .lines("", 5)
        .scan();
    assert_eq!(k.files, 1);
    assert_eq!(k.lines, 2);
    assert!(
        k.notes.iter().any(|n| n.starts_with("3 files ignored")),
        "{:?}",
        k.notes
    );
}

fn assert_bounded(k: &Knowledge) {
    assert!(k.summary.chars().count() <= MAX_SUMMARY);
    assert!(k.languages.len() <= 30);
    assert!(k.build_systems.len() <= 30);
    assert!(k.frameworks.len() <= 40);
    assert!(k.entry_points.len() <= 40);
    assert!(k.directories.len() <= 40);
    assert!(k.conventions.tools.len() <= 40);
    assert!(k.conventions.ci.len() <= 20);
    assert!(k.notes.len() <= 51);
    assert!(k.secrets.len() <= 200);
    for c in [
        &k.commands.install,
        &k.commands.build,
        &k.commands.test,
        &k.commands.lint,
        &k.commands.run,
    ]
    .into_iter()
    .flatten()
    {
        assert!(c.chars().count() <= 200, "{c}");
    }
    for p in k
        .entry_points
        .iter()
        .chain(k.directories.iter().map(|d| &d.path))
    {
        assert!(p.chars().count() <= 300);
    }
    for n in &k.notes {
        assert!(n.chars().count() <= 200);
    }
}

#[test]
fn huge_repositories_are_bounded() {
    let mut f = Fixture::new();
    for i in 0..300 {
        f = f
            .file(
                &format!("svc{i}/package.json"),
                &format!("{{\"dependencies\":{{\"react\":\"1\",\"dep{i}\":\"1\"}},\"main\":\"index.js\"}}"),
            )
            .lines(&format!("svc{i}/index.js"), 3)
            .skipped(&format!("svc{i}/.env"), "secret")
            .file(&format!("svc{i}/cmd/tool{i}/main.go"), "package main\n")
            .lines(&format!("top{i}/x.rs"), 1);
    }
    let deep = format!("{}/Cargo.toml", vec!["d"; 200].join("/"));
    let k = f
        .file(&deep, "[package]\nname = \"deep\"\n")
        .file(&"p".repeat(5000), "x\n")
        .scan();
    assert_bounded(&k);
    assert_eq!(k.build_systems.len(), 30);
    assert!(
        k.notes.iter().any(|n| n.contains("build systems found")),
        "{:?}",
        k.notes
    );
    assert!(
        k.notes
            .iter()
            .any(|n| n.contains("more secret files not listed")),
        "{:?}",
        k.notes
    );
}

/// A small deterministic generator, so the "random input" test is reproducible.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn text(&mut self, len: usize) -> String {
        const ALPHABET: &[char] = &[
            '{', '}', '[', ']', '"', ':', ',', '=', '\n', ' ', 'a', 'z', '0', '\\', '/', '.', '*',
            '<', '>', '(', ')', '\u{0}', '\u{202E}', 'é', '\t', '#', '-', '`', 't', 'e', 's',
        ];
        (0..len)
            .map(|_| ALPHABET[(self.next() as usize) % ALPHABET.len()])
            .collect()
    }
}

#[test]
fn random_manifest_content_never_panics() {
    const NAMES: &[&str] = &[
        "package.json",
        "Cargo.toml",
        "pyproject.toml",
        "composer.json",
        "pom.xml",
        "go.mod",
        "Gemfile",
        "Makefile",
        "build.gradle",
        "requirements.txt",
        "Pipfile",
        "CMakeLists.txt",
        "deno.json",
        "App.csproj",
        "main.py",
        "main.go",
        "Main.java",
        "setup.cfg",
        ".kiln/project.toml",
    ];
    let mut rng = Lcg(42);
    for round in 0..40 {
        let mut f = Fixture::new();
        for (i, name) in NAMES.iter().enumerate() {
            let len = (rng.next() % 400) as usize;
            let dir = if i % 3 == 0 {
                String::new()
            } else {
                format!("d{}/", rng.next() % 3)
            };
            f = f.file(&format!("{dir}{name}"), &rng.text(len));
        }
        let subject = rng.text(50);
        let k = f.clone().subjects(&[&subject]).scan();
        assert_bounded(&k);
        let k = f.scan_repository();
        assert_bounded(&k);
        let _ = round;
    }
    // Deeply nested JSON and TOML.
    let k = Fixture::new()
        .file(
            "package.json",
            &format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        )
        .file(
            "Cargo.toml",
            &format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000)),
        )
        .scan();
    assert_eq!(k.notes.len(), 2, "{:?}", k.notes);
}

#[test]
fn knowledge_round_trips_through_json() {
    let k = Fixture::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"x\"\n[dependencies]\naxum = \"0.8\"\n",
        )
        .lines("src/main.rs", 10)
        .skipped(".env", "secret")
        .subjects(&["feat: x"])
        .scan();
    let json = serde_json::to_string(&k).expect("serializes");
    let back: Knowledge = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, k);
    let value: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(value["summary_source"], "outline");
    assert_eq!(value["commands"]["test"], "cargo test");
    assert_eq!(value["commands"]["sources"]["test"], "Cargo.toml");
    // Older records without the newer fields still load.
    let minimal: Knowledge = serde_json::from_str("{\"summary\":\"x\"}").expect("defaults");
    assert_eq!(minimal.summary, "x");
}

#[test]
fn scans_are_deterministic() {
    let f = Fixture::new()
        .file(
            "a/package.json",
            "{\"dependencies\":{\"react\":\"1\",\"vue\":\"3\"}}",
        )
        .file("b/package.json", "{\"dependencies\":{\"express\":\"1\"}}")
        .lines("a/x.ts", 10)
        .lines("b/y.ts", 10)
        .lines("c/z.py", 10)
        .file("c/requirements.txt", "flask\n");
    let first = f.scan();
    for _ in 0..5 {
        assert_eq!(f.scan(), first);
    }
}
