//! The repositories hold untrusted generated code: paths must stay inside the working tree
//! and out of `.git`, and no hook anywhere may run.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Fixture, plain_git};
use kiln_git::Error;

#[tokio::test]
async fn unsafe_paths_are_refused_everywhere() {
    let fx = Fixture::new().await;
    let sha = fx
        .commit_on("main", &[("ok.txt", b"ok")], &[], "base")
        .await;
    let wd = fx.checkout("main").await;
    for bad in [
        "../x",
        "a/../../x",
        ".git/hooks/pre-commit",
        "sub/.GIT/config",
        "/abs",
        "",
        "/etc/passwd",
    ] {
        let is_unsafe = |r: Result<(), Error>| matches!(r, Err(Error::UnsafePath { .. }));
        assert!(
            is_unsafe(wd.write_file(bad, b"x", true).await),
            "write {bad:?}"
        );
        assert!(
            is_unsafe(wd.remove_file(bad).await.map(drop)),
            "remove {bad:?}"
        );
        assert!(is_unsafe(wd.read_file(bad).await.map(drop)), "read {bad:?}");
        assert!(
            is_unsafe(fx.git.show_file(&fx.bare, &sha, bad).await.map(drop)),
            "show {bad:?}"
        );
    }
    assert!(!wd.path().join(".git/hooks/pre-commit").exists());
    assert!(!fx.tmp.path().join("work/x").exists());
}

#[tokio::test]
async fn symlinks_cannot_lead_writes_or_reads_outside_the_tree() {
    let fx = Fixture::new().await;
    let outside = fx.tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), "secret").unwrap();

    let wd = fx.checkout("main").await;
    std::os::unix::fs::symlink(&outside, wd.path().join("link")).unwrap();
    let err = wd
        .write_file("link/planted", b"x", false)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnsafePath { .. }), "{err}");
    assert!(!outside.join("planted").exists());
    let err = wd.read_file("link/secret").await.unwrap_err();
    assert!(matches!(err, Error::UnsafePath { .. }), "{err}");

    // A symlinked file is replaced, not written through, and never read through.
    std::os::unix::fs::symlink(outside.join("secret"), wd.path().join("file")).unwrap();
    let err = wd.read_file("file").await.unwrap_err();
    assert!(matches!(err, Error::UnsafePath { .. }), "{err}");
    wd.write_file("file", b"mine", false).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).unwrap(),
        "secret"
    );
    assert!(
        !std::fs::symlink_metadata(wd.path().join("file"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        wd.read_file("file").await.unwrap().as_deref(),
        Some(&b"mine"[..])
    );
}

fn plant_hook(dir: &Path, name: &str, marker: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let hook = dir.join(name);
    std::fs::write(
        &hook,
        format!("#!/bin/sh\necho {name} >> '{}'\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn hooks_in_the_bare_repo_and_the_workdir_never_run() {
    let fx = Fixture::new().await;
    let marker = fx.tmp.path().join("hook-ran");
    let bare_hooks = fx.bare.join("hooks");
    for hook in [
        "pre-receive",
        "update",
        "post-receive",
        "post-update",
        "reference-transaction",
    ] {
        plant_hook(&bare_hooks, hook, &marker);
    }
    // The bare repository was created with core.hooksPath=/dev/null; remove that so the
    // test proves the per-push hardening, not only the repository's own config.
    let unset = plain_git(&fx.bare, &["config", "--unset", "core.hooksPath"]);
    assert!(unset.status.success());

    let wd = fx.checkout("main").await;
    let wd_hooks = wd.path().join(".git/hooks");
    for hook in [
        "pre-commit",
        "prepare-commit-msg",
        "commit-msg",
        "post-commit",
        "pre-push",
        "post-checkout",
        "reference-transaction",
        "post-index-change",
    ] {
        plant_hook(&wd_hooks, hook, &marker);
    }

    wd.write_file("a.txt", b"a", false).await.unwrap();
    let sha = wd
        .commit_all("with hooks around")
        .await
        .unwrap()
        .expect("commit");
    wd.push("main").await.unwrap();
    wd.write_file("b.txt", b"b", false).await.unwrap();
    wd.commit_all("second").await.unwrap().expect("commit");
    wd.push("kiln/task").await.unwrap();
    fx.git
        .checkout_commit(&fx.bare, &sha, &fx.dest())
        .await
        .unwrap();
    fx.checkout("kiln/task").await;
    assert_eq!(
        fx.git.branch_head(&fx.bare, "main").await.unwrap(),
        Some(sha)
    );

    assert!(
        !marker.exists(),
        "hooks ran: {}",
        std::fs::read_to_string(&marker).unwrap_or_default()
    );

    // Control: the same hooks do run under plain git, so the assertion above is meaningful.
    let commit = plain_git(wd.path(), &["commit", "--allow-empty", "-m", "plain"]);
    assert!(
        commit.status.success(),
        "{}",
        String::from_utf8_lossy(&commit.stderr)
    );
    let push = plain_git(wd.path(), &["push", "origin", "HEAD:refs/heads/main"]);
    assert!(
        push.status.success(),
        "{}",
        String::from_utf8_lossy(&push.stderr)
    );
    let ran = std::fs::read_to_string(&marker).unwrap_or_default();
    assert!(ran.contains("pre-commit"), "{ran}");
    assert!(ran.contains("pre-receive"), "{ran}");
}

#[tokio::test]
async fn bad_branch_names_and_revisions_are_refused() {
    let fx = Fixture::new().await;
    for bad in ["-delete", "a..b", "with space", "x:y", "refs/../x"] {
        let err = fx
            .git
            .checkout_branch(&fx.bare, bad, &fx.dest())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{bad}: {err}");
        assert!(fx.git.branch_head(&fx.bare, bad).await.is_err(), "{bad}");
    }
    for bad in ["--output=/tmp/pwned", "main:secret"] {
        let err = fx.git.list_files(&fx.bare, bad).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{bad}: {err}");
    }
}

#[tokio::test]
async fn checkouts_do_not_share_object_files_with_the_bare_repo() {
    let fx = Fixture::new().await;
    fx.commit_on("main", &[("a", b"content")], &[], "c").await;
    let wd = fx.checkout("main").await;
    // A hard-linked object would let code in the working tree rewrite the shared repo.
    let mut stack = vec![wd.path().join(".git/objects")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                use std::os::unix::fs::MetadataExt;
                assert_eq!(meta.nlink(), 1, "{} is hard-linked", entry.path().display());
            }
        }
    }
}
