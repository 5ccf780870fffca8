//! End-to-end check of the `static-site` template: the rendered app builds and passes its
//! own tests, and those tests catch a broken page.

mod common;

use std::fs;
use std::path::Path;

use common::{describe, instantiate, run_all, sh};
use kiln_templates::Catalog;

fn site() -> (tempfile::TempDir, kiln_templates::Manifest) {
    let catalog = Catalog::embedded().unwrap_or_else(|e| panic!("embedded catalog: {e:?}"));
    let template = catalog.get("static-site").expect("static-site is embedded");
    let dir = tempfile::tempdir().expect("create tempdir");
    instantiate(template, dir.path());
    (dir, template.manifest.clone())
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs the manifest's test commands and returns the first failing output, if any.
fn run_tests(dir: &Path, lines: &[String]) -> Result<(), std::process::Output> {
    for line in lines {
        let output = sh(dir, line, &[]);
        if !output.status.success() {
            return Err(output);
        }
    }
    Ok(())
}

#[test]
fn builds_and_passes_its_tests() {
    let (dir, manifest) = site();
    let root = dir.path();
    run_all(root, "install", &manifest.commands.install, &[]);
    run_all(
        root,
        "build",
        &manifest.commands.build,
        &[("KILN_BUILD_SHA", "abc123")],
    );

    let static_dir = root.join(manifest.serve.static_dir.as_deref().expect("static_dir"));
    assert_eq!(read(&static_dir.join("__kiln/version")), "abc123");
    let html = read(&static_dir.join("index.html"));
    assert!(
        html.contains("&lt;script&gt;"),
        "brief not escaped in built page"
    );
    assert!(!html.contains("<script>"), "raw script in built page");

    if let Err(output) = run_tests(root, &manifest.commands.test) {
        panic!("test.sh failed on a good build\n{}", describe(&output));
    }

    // Without a stamp the build says "dev" rather than leaving the version empty.
    run_all(root, "build", &manifest.commands.build, &[]);
    assert_eq!(read(&static_dir.join("__kiln/version")), "dev");
}

#[test]
fn tests_fail_when_a_story_section_is_missing() {
    let (dir, manifest) = site();
    let root = dir.path();
    run_all(root, "build", &manifest.commands.build, &[]);

    let page = root.join("dist/index.html");
    let html = read(&page);
    let start = html
        .rfind(r#"<section class="story""#)
        .unwrap_or_else(|| panic!("no story section in built page:\n{html}"));
    let end = start
        + html[start..]
            .find("</section>")
            .unwrap_or_else(|| panic!("unterminated story section:\n{html}"))
        + "</section>".len();
    let broken = format!("{}{}", &html[..start], &html[end..]);
    fs::write(&page, broken).expect("write broken page");

    let output = match run_tests(root, &manifest.commands.test) {
        Ok(()) => panic!("test.sh passed although a story section was removed"),
        Err(output) => output,
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("kiln.json lists 3 story(ies) but dist/index.html has 2"),
        "failure should explain the missing story\n{}",
        describe(&output)
    );
}

#[test]
fn tests_fail_without_build_output() {
    let (dir, manifest) = site();
    let root = dir.path();
    match run_tests(root, &manifest.commands.test) {
        Ok(()) => panic!("test.sh passed without dist/"),
        Err(output) => assert!(
            String::from_utf8_lossy(&output.stderr).contains("run 'sh build.sh' first"),
            "{}",
            describe(&output)
        ),
    }

    run_all(root, "build", &manifest.commands.build, &[]);
    fs::remove_file(root.join("dist/__kiln/version")).expect("remove version file");
    match run_tests(root, &manifest.commands.test) {
        Ok(()) => panic!("test.sh passed without dist/__kiln/version"),
        Err(output) => assert!(
            String::from_utf8_lossy(&output.stderr).contains("__kiln/version does not exist"),
            "{}",
            describe(&output)
        ),
    }
}
