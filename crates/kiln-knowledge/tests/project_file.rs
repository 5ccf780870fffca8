//! `.kiln/project.toml`: parsing, validation, applying, ignore globs.

mod support;

use kiln_knowledge::{
    DeployRecipe, GlobSet, OverrideError, Overrides, SummarySource, apply_overrides,
    parse_project_json, parse_project_toml,
};
use support::Fixture;

const FULL: &str = r#"
summary = "Order service for the shop."
frameworks = ["axum", "htmx"]
entry_points = ["src/bin/server.rs"]
protected_paths = ["migrations/**", ".github/"]
ignore = ["fixtures/", "*.snap"]

[commands]
install = "cargo fetch"
test = "cargo nextest run"

[deploy]
kind = "process"
command = "./target/release/server"
health = "/healthz"
version = "/version"
"#;

#[test]
fn parses_every_field() {
    let o = parse_project_toml(FULL).expect("valid");
    let c = o.commands.as_ref().expect("commands");
    assert_eq!(c.install.as_deref(), Some("cargo fetch"));
    assert_eq!(c.test.as_deref(), Some("cargo nextest run"));
    assert_eq!(c.build, None);
    assert_eq!(o.summary.as_deref(), Some("Order service for the shop."));
    assert_eq!(
        o.frameworks,
        Some(vec!["axum".to_string(), "htmx".to_string()])
    );
    assert_eq!(
        o.deploy,
        Some(DeployRecipe {
            kind: Some("process".to_string()),
            command: Some("./target/release/server".to_string()),
            dir: None,
            health: Some("/healthz".to_string()),
            version: Some("/version".to_string()),
        })
    );
    assert_eq!(o.protected_paths, vec!["migrations/**", ".github/"]);
    assert_eq!(
        parse_project_toml("").expect("empty is valid"),
        Overrides::default()
    );
}

#[test]
fn unknown_top_level_field_is_named_with_its_line() {
    let err =
        parse_project_toml("summary = \"x\"\n\nfrmeworks = [\"axum\"]\n").expect_err("unknown");
    match &err {
        OverrideError::UnknownField {
            field,
            table,
            line,
            expected,
            ..
        } => {
            assert_eq!(field, "frmeworks");
            assert_eq!(table, &None);
            assert_eq!(*line, 3);
            assert!(expected.contains("frameworks"), "{expected}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "unknown field `frmeworks` at line 3, column 1; expected one of: commands, summary"
        ),
        "{msg}"
    );
}

#[test]
fn unknown_field_in_a_table_names_the_table() {
    let err = parse_project_toml("[commands]\ntest = \"make test\"\ntset = \"x\"\n")
        .expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "unknown field `tset` in [commands] at line 3, column 1; expected one of: install, build, test, lint, run"
    );
    let err =
        parse_project_toml("[deploy]\nkind = \"static\"\nhost = \"x\"\n").expect_err("unknown");
    assert!(
        err.to_string()
            .starts_with("unknown field `host` in [deploy] at line 3"),
        "{err}"
    );
}

#[test]
fn syntax_and_type_errors_have_a_line() {
    let err = parse_project_toml("summary = \"x\"\n[commands\n").expect_err("syntax");
    assert!(
        matches!(err, OverrideError::Syntax { line: 2, .. }),
        "{err:?}"
    );
    let err = parse_project_toml("[deploy]\nkind = 7\n").expect_err("type");
    assert!(
        matches!(err, OverrideError::Syntax { line: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn validation_rejects_unsafe_values() {
    let cases = [
        (
            "[commands]\ntest = \"make test\\nrm -rf /\"\n",
            "`commands.test`: contains control characters",
        ),
        (
            &format!("[commands]\nbuild = \"{}\"\n", "x".repeat(201)),
            "`commands.build`: longer than 200 characters",
        ),
        (
            "[deploy]\ndir = \"site\"\n",
            "`deploy.kind`: is required: \"static\" or \"process\"",
        ),
        (
            "[deploy]\nkind = \"static\"\ndir = \"../other\"\n",
            "`deploy.dir`: must not contain `..`",
        ),
        (
            "[deploy]\nkind = \"heroku\"\n",
            "`deploy.kind`: \"heroku\" is not a kind Kiln deploys; use \"static\" or \"process\"",
        ),
        (
            "[deploy]\nkind = \"static\"\ncommand = \"serve\"\n",
            "`deploy.command`: is for kind = \"process\"; a static site is built by [commands] build",
        ),
        (
            "[deploy]\nkind = \"process\"\nversion = \"/v\"\n",
            "`deploy.command`: is required for kind = \"process\": what starts the app on $PORT",
        ),
        (
            "[deploy]\nkind = \"process\"\ncommand = \"./serve\"\n",
            "`deploy.version`: is required for kind = \"process\": the path where the app serves $KILN_BUILD_SHA, so Kiln can verify what is live",
        ),
        (
            "[deploy]\nkind = \"process\"\ncommand = \"./serve\"\nversion = \"/../v\"\n",
            "`deploy.version`: must be a path starting with `/` (no `..`, `?`, `#`, `%` or trailing `/`)",
        ),
        (
            "[deploy]\nkind = \"static\"\nhealth = \"healthz\"\n",
            "`deploy.health`: must be a path starting with `/` (no `..`, `?`, `#`, `%`)",
        ),
        (
            "ignore = [\"!keep.txt\"]\n",
            "`ignore[0]`: negated patterns (`!`) are not supported",
        ),
        (
            "entry_points = [\"/etc/passwd\"]\n",
            "`entry_points[0]`: must be a relative path with forward slashes",
        ),
        ("frameworks = [\"\"]\n", "`frameworks[0]`: is empty"),
    ];
    for (input, expected) in cases {
        let err = parse_project_toml(input).expect_err(input);
        assert_eq!(err.to_string(), expected, "{input}");
    }
    let big = format!("summary = \"{}\"\n", "x".repeat(70_000));
    assert!(matches!(
        parse_project_toml(&big),
        Err(OverrideError::TooLarge { .. })
    ));
}

#[test]
fn empty_test_command_means_no_tests() {
    let explicit = parse_project_toml("[commands]\ntest = \"\"\n").expect("valid");
    let unset = parse_project_toml("[commands]\nbuild = \"make\"\n").expect("valid");
    assert_eq!(
        explicit.commands.as_ref().and_then(|c| c.test.as_deref()),
        Some("")
    );
    assert_eq!(
        unset.commands.as_ref().and_then(|c| c.test.as_deref()),
        None
    );

    let detected = Fixture::new()
        .file("Cargo.toml", "[package]\nname = \"x\"\n")
        .lines("src/lib.rs", 10)
        .scan();
    assert_eq!(detected.commands.test.as_deref(), Some("cargo test"));

    let mut k = detected.clone();
    apply_overrides(&mut k, &explicit);
    assert_eq!(k.commands.test, None);
    assert!(k.commands.no_tests);
    assert_eq!(k.commands.sources.test.as_deref(), Some("override"));
    assert_eq!(
        k.commands.build.as_deref(),
        Some("cargo build"),
        "untouched"
    );
    assert_eq!(k.overridden, vec!["commands.test"]);
    assert!(
        k.summary.contains("No tests (declared by the project)"),
        "{}",
        k.summary
    );
    assert_eq!(k.summary_source, SummarySource::Outline);

    let mut k = detected;
    apply_overrides(&mut k, &unset);
    assert_eq!(k.commands.test.as_deref(), Some("cargo test"));
    assert!(!k.commands.no_tests);
    assert_eq!(k.commands.build.as_deref(), Some("make"));
    assert_eq!(k.overridden, vec!["commands.build"]);
}

#[test]
fn overrides_win_and_are_recorded() {
    let mut k = Fixture::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"x\"\n[dependencies]\naxum = \"0.8\"\n",
        )
        .lines("src/main.rs", 10)
        .scan();
    let o = parse_project_toml(FULL).expect("valid");
    apply_overrides(&mut k, &o);
    assert_eq!(k.commands.test.as_deref(), Some("cargo nextest run"));
    assert_eq!(k.commands.install.as_deref(), Some("cargo fetch"));
    assert_eq!(k.commands.build.as_deref(), Some("cargo build"));
    assert_eq!(k.commands.sources.build.as_deref(), Some("Cargo.toml"));
    assert_eq!(k.frameworks, vec!["axum", "htmx"]);
    assert_eq!(k.entry_points, vec!["src/bin/server.rs"]);
    assert_eq!(k.summary, "Order service for the shop.");
    assert_eq!(k.summary_source, SummarySource::Override);
    assert_eq!(
        k.deploy.as_ref().and_then(|d| d.version.as_deref()),
        Some("/version")
    );
    assert!(k.summary_source == SummarySource::Override && !k.summary.contains("deploy"));
    assert_eq!(k.protected_paths, vec!["migrations/**", ".github/"]);
    assert_eq!(
        k.overridden,
        vec![
            "commands.install",
            "commands.test",
            "frameworks",
            "entry_points",
            "deploy",
            "protected_paths",
            "ignore",
            "summary"
        ]
    );
    // Applying twice changes nothing.
    let once = k.clone();
    apply_overrides(&mut k, &o);
    assert_eq!(k, once);
    // A model summary does not replace an overridden one.
    k.set_model_summary("model text");
    assert_eq!(k.summary, "Order service for the shop.");
}

#[test]
fn without_deploy_table_there_is_no_recipe() {
    let mut k = Fixture::new().lines("index.html", 3).scan();
    apply_overrides(
        &mut k,
        &parse_project_toml("frameworks = []\n").expect("valid"),
    );
    assert!(k.frameworks.is_empty());
    assert_eq!(k.deploy, None);
    k.set_model_summary("A static page.\u{7}");
    assert_eq!(k.summary, "A static page.");
    assert_eq!(k.summary_source, SummarySource::Model);
}

#[test]
fn json_form_matches_toml() {
    let json =
        r#"{"commands":{"test":""},"deploy":{"kind":"static","dir":"dist"},"ignore":["docs/"]}"#;
    let o = parse_project_json(json).expect("valid");
    assert_eq!(
        o.commands.as_ref().and_then(|c| c.test.as_deref()),
        Some("")
    );
    assert_eq!(
        o.deploy.as_ref().and_then(|d| d.kind.as_deref()),
        Some("static")
    );
    let same = parse_project_toml("ignore = [\"docs/\"]\n[commands]\ntest = \"\"\n[deploy]\nkind = \"static\"\ndir = \"dist\"\n")
        .expect("valid");
    assert_eq!(o, same);

    let err = parse_project_json("{\n  \"commands\": {\"tests\": \"x\"}\n}").expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "unknown field `tests` in [commands] at line 2, column 22; expected one of: install, build, test, lint, run"
    );
    let err = parse_project_json("{\"deploy\": {\"kind\": \"process\", \"command\": \"./serve\"}}")
        .expect_err("invalid");
    assert_eq!(
        err.to_string(),
        "`deploy.version`: is required for kind = \"process\": the path where the app serves $KILN_BUILD_SHA, so Kiln can verify what is live"
    );
    // Round trip through serde keeps `Some("")` distinct from absent.
    let back: Overrides =
        serde_json::from_str(&serde_json::to_string(&o).expect("ser")).expect("de");
    assert_eq!(back, o);
}

#[test]
fn ignore_globs() {
    let o = parse_project_toml(
        "ignore = [\"fixtures/\", \"*.snap\", \"/generated\", \"docs/**/*.png\", \"data/?.csv\"]\n",
    )
    .expect("valid");
    for ignored in [
        "fixtures/a.json",
        "tests/fixtures/big/b.json",
        "src/__snapshots__/x.snap",
        "x.snap",
        "generated/api.rs",
        "docs/img/a.png",
        "docs/a.png",
        "./data/1.csv",
    ] {
        assert!(o.ignored(ignored), "{ignored} should be ignored");
    }
    for kept in [
        "fixtures",
        "src/fixtures.rs",
        "src/generated/api.rs",
        "docs/a.jpg",
        "data/10.csv",
        "data/a/b.csv",
        "snap",
    ] {
        assert!(!o.ignored(kept), "{kept} should be kept");
    }
    let protected =
        parse_project_toml("protected_paths = [\".github/\", \"migrations/**\"]\n").expect("valid");
    assert!(protected.protected(".github/workflows/ci.yml"));
    assert!(protected.protected("migrations/001_init.sql"));
    assert!(!protected.protected("src/migrations.rs"));
    let set = GlobSet::new(&["*.lock", "vendor/"]);
    assert!(set.matches("Cargo.lock") && set.matches("a/vendor/x.go") && !set.matches("src/x.go"));
    assert!(GlobSet::new::<&str>(&[]).is_empty());
}

#[test]
fn scan_repository_applies_the_checked_in_project_file() {
    let k = Fixture::new()
        .file(
            ".kiln/project.toml",
            "ignore = [\"legacy/\"]\n\n[commands]\ntest = \"\"\n",
        )
        .file(
            "package.json",
            "{\"scripts\":{\"test\":\"jest\"},\"devDependencies\":{\"jest\":\"29\"}}",
        )
        .lines("src/index.js", 50)
        .lines("legacy/old.php", 5000)
        .scan_repository();
    assert!(
        k.languages.iter().all(|l| l.name != "php"),
        "ignored paths are not scanned"
    );
    assert_eq!(k.commands.test, None);
    assert!(k.commands.no_tests);
    assert_eq!(k.ignore, vec!["legacy/"]);
    assert_eq!(k.overridden, vec!["commands.test", "ignore"]);
    let config = k
        .directories
        .iter()
        .find(|d| d.path == ".kiln")
        .expect(".kiln");
    assert_eq!(config.role.as_deref(), Some("config"));

    let broken = Fixture::new()
        .file(".kiln/project.toml", "[commands]\ntset = \"x\"\n")
        .file("package.json", "{\"scripts\":{\"test\":\"jest\"}}")
        .scan_repository();
    assert_eq!(
        broken.commands.test.as_deref(),
        Some("npm test"),
        "a broken file changes nothing"
    );
    assert!(
        broken.notes.iter().any(|n| n
            == ".kiln/project.toml: unknown field `tset` in [commands] at line 2, column 1; expected one of: install, build, test, lint, run; overrides not applied"),
        "{:?}",
        broken.notes
    );
}
