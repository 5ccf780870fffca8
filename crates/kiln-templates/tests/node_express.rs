//! End-to-end check of the `node-express` template: the rendered app installs and passes its
//! own `node:test` suite, and that suite catches a view that drops a story.

mod common;

use std::fs;
use std::path::PathBuf;

use common::{describe, instantiate, run_all, sh};
use kiln_templates::Catalog;

/// npm cache shared across runs so reruns install from disk.
fn npm_cache() -> PathBuf {
    std::env::temp_dir().join("kiln-templates-npm-cache")
}

#[test]
fn installs_passes_its_tests_and_catches_a_broken_view() {
    let catalog = Catalog::embedded().unwrap_or_else(|e| panic!("embedded catalog: {e:?}"));
    let template = catalog
        .get("node-express")
        .expect("node-express is embedded");
    let missing = template.missing_toolchains();
    if !missing.is_empty() {
        eprintln!("SKIPPED node-express end-to-end test: {missing:?} not on PATH");
        return;
    }

    let dir = tempfile::tempdir().expect("create tempdir");
    let root = dir.path();
    instantiate(template, root);

    let cache = npm_cache();
    let cache = cache.to_str().expect("temp dir path is UTF-8");
    let npm_env = [
        ("npm_config_cache", cache),
        ("npm_config_prefer_offline", "true"),
        ("npm_config_update_notifier", "false"),
    ];
    let commands = &template.manifest.commands;
    run_all(root, "install", &commands.install, &npm_env);
    run_all(root, "build", &commands.build, &npm_env);
    run_all(root, "test", &commands.test, &npm_env);

    let view = root.join("views/index.ejs");
    let original = fs::read_to_string(&view).expect("read view");
    let broken = original.replace("<%= story.title %>", "<%= 'untitled' %>");
    assert_ne!(
        broken, original,
        "view no longer prints story.title; update this test"
    );
    fs::write(&view, broken).expect("write broken view");

    let output = commands
        .test
        .iter()
        .map(|line| sh(root, line, &npm_env))
        .find(|output| !output.status.success())
        .unwrap_or_else(|| panic!("npm test passed although the view drops story titles"));
    let all = describe(&output);
    assert!(
        all.contains("story title missing: Browse the menu"),
        "failure should name the missing story\n{all}"
    );
}
