//! The writer and reader paths end to end against real git: create, branch, commit, push,
//! look up by trailer, check out detached, and read files straight from the bare repository.

mod common;

use common::{Fixture, plain_git};
use kiln_git::{Error, Git, Identity, with_trailers};

#[tokio::test]
async fn fresh_repo_branch_commit_push_round_trip() {
    let fx = Fixture::new().await;
    // Idempotent on an existing repository.
    fx.git
        .ensure_bare(&fx.bare)
        .await
        .expect("second ensure_bare");
    assert_eq!(fx.git.branch_head(&fx.bare, "main").await.unwrap(), None);

    let wd = fx.checkout("main").await;
    assert_eq!(
        wd.head().await.unwrap(),
        None,
        "fresh repo has an unborn branch"
    );
    assert!(wd.path().is_absolute());

    wd.write_file("README.md", b"# app\n", false).await.unwrap();
    wd.write_file("src/main.rs", b"fn main() {}\n", false)
        .await
        .unwrap();
    wd.write_file("bin/run.sh", b"#!/bin/sh\necho hi\n", true)
        .await
        .unwrap();
    let sha = wd
        .commit_all("initial\n\n# heading kept")
        .await
        .unwrap()
        .expect("a commit");
    assert_eq!(sha.len(), 40);
    assert_eq!(wd.head().await.unwrap().as_deref(), Some(sha.as_str()));

    assert_eq!(
        wd.commit_all("nothing").await.unwrap(),
        None,
        "nothing changed"
    );

    wd.push("main").await.unwrap();
    assert_eq!(
        fx.git.branch_head(&fx.bare, "main").await.unwrap(),
        Some(sha.clone())
    );

    let log = plain_git(
        &fx.bare,
        &["log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", &sha],
    );
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(
        log.starts_with("Kiln <kiln@localhost>|Kiln <kiln@localhost>|initial"),
        "{log}"
    );
    assert!(
        log.contains("# heading kept"),
        "markdown lines survive cleanup: {log}"
    );
}

#[tokio::test]
async fn commit_identity_can_be_overridden() {
    let fx = Fixture::new().await;
    let wd = fx.checkout("main").await;
    wd.write_file("a", b"a", false).await.unwrap();
    let who = Identity::new("Codegen Bot", "codegen@kiln.local").unwrap();
    let sha = wd.commit_all_as("as bot", &who).await.unwrap().unwrap();
    let log = plain_git(
        wd.path(),
        &["log", "-1", "--format=%an <%ae>|%cn <%ce>", &sha],
    );
    assert_eq!(
        String::from_utf8_lossy(&log.stdout).trim(),
        "Codegen Bot <codegen@kiln.local>|Codegen Bot <codegen@kiln.local>"
    );
}

#[tokio::test]
async fn deletions_are_committed() {
    let fx = Fixture::new().await;
    fx.commit_on("main", &[("a", b"1"), ("b", b"2")], &[], "two")
        .await;
    let sha = fx.commit_on("main", &[], &["b"], "drop b").await;
    let paths: Vec<String> = fx
        .git
        .list_files(&fx.bare, &sha)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(paths, ["a"]);

    let wd = fx.checkout("main").await;
    assert!(!wd.remove_file("b").await.unwrap(), "already gone");
}

#[tokio::test]
async fn trailer_lookup_finds_the_matching_commit() {
    let fx = Fixture::new().await;
    let task = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    let round0 = fx
        .commit_on(
            "main",
            &[("a", b"0")],
            &[],
            &with_trailers("round 0", &[("Kiln-Task", task), ("Kiln-Round", "0")]).unwrap(),
        )
        .await;
    let round1 = fx
        .commit_on(
            "main",
            &[("a", b"1")],
            &[],
            &with_trailers(
                "round 1\n\nbody",
                &[("Kiln-Task", task), ("Kiln-Round", "1")],
            )
            .unwrap(),
        )
        .await;
    fx.commit_on("main", &[("a", b"2")], &[], "unrelated").await;

    let find = |pairs: Vec<(&'static str, &'static str)>| {
        let (git, bare) = (fx.git.clone(), fx.bare.clone());
        async move {
            git.find_commit_by_trailers(&bare, "main", &pairs)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        find(vec![("Kiln-Task", task), ("Kiln-Round", "0")]).await,
        Some(round0.clone())
    );
    assert_eq!(
        find(vec![("Kiln-Task", task), ("Kiln-Round", "1")]).await,
        Some(round1.clone())
    );
    assert_eq!(
        find(vec![("kiln-task", task)]).await,
        Some(round1),
        "newest first, key case-insensitive"
    );
    assert_eq!(
        find(vec![("Kiln-Task", task), ("Kiln-Round", "2")]).await,
        None
    );
    assert_eq!(find(vec![("Kiln-Task", "other")]).await, None);
    assert_eq!(
        fx.git
            .find_commit_by_trailers(&fx.bare, "nope", &[("Kiln-Task", task)])
            .await
            .unwrap(),
        None,
        "missing branch"
    );
    assert!(
        fx.git
            .find_commit_by_trailers(&fx.bare, "main", &[])
            .await
            .is_err()
    );
}

#[tokio::test]
async fn new_branch_starts_from_main() {
    let fx = Fixture::new().await;
    let main = fx
        .commit_on("main", &[("base.txt", b"base\n")], &[], "base")
        .await;

    let wd = fx.checkout("kiln/task-1").await;
    assert_eq!(wd.head().await.unwrap(), Some(main.clone()));
    assert_eq!(
        wd.read_file("base.txt").await.unwrap().as_deref(),
        Some(&b"base\n"[..])
    );
    wd.write_file("feature.txt", b"new\n", false).await.unwrap();
    let tip = wd.commit_all("feature").await.unwrap().unwrap();
    wd.push("kiln/task-1").await.unwrap();

    assert_eq!(
        fx.git.branch_head(&fx.bare, "kiln/task-1").await.unwrap(),
        Some(tip.clone())
    );
    assert_eq!(
        fx.git.branch_head(&fx.bare, "main").await.unwrap(),
        Some(main.clone())
    );
    let parent = plain_git(&fx.bare, &["rev-parse", &format!("{tip}^")]);
    assert_eq!(String::from_utf8_lossy(&parent.stdout).trim(), main);

    // Checking out the now existing branch continues it.
    let again = fx.checkout("kiln/task-1").await;
    assert_eq!(again.head().await.unwrap(), Some(tip));
}

#[tokio::test]
async fn new_branch_without_main_is_an_orphan() {
    let fx = Fixture::new().await;
    let first = fx.commit_on("feature", &[("f", b"f")], &[], "first").await;
    assert_eq!(fx.git.branch_head(&fx.bare, "main").await.unwrap(), None);

    // Another new branch while main still does not exist: unborn, and the existing
    // branch's files must not leak into it.
    let wd = fx.checkout("other").await;
    assert_eq!(wd.head().await.unwrap(), None);
    assert_eq!(wd.read_file("f").await.unwrap(), None);
    wd.write_file("o", b"o", false).await.unwrap();
    let sha = wd.commit_all("other").await.unwrap().unwrap();
    wd.push("other").await.unwrap();
    let files = fx.git.list_files(&fx.bare, &sha).await.unwrap();
    assert_eq!(
        files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        ["o"]
    );
    assert_eq!(
        fx.git.branch_head(&fx.bare, "feature").await.unwrap(),
        Some(first)
    );
}

#[tokio::test]
async fn detached_checkout_of_a_sha() {
    let fx = Fixture::new().await;
    let old = fx.commit_on("main", &[("v", b"1")], &[], "v1").await;
    fx.commit_on("main", &[("v", b"2")], &[], "v2").await;

    for wd in [
        fx.git
            .checkout_commit(&fx.bare, &old, &fx.dest())
            .await
            .unwrap(),
        fx.git.checkout(&fx.bare, &old, &fx.dest()).await.unwrap(),
    ] {
        assert_eq!(wd.head().await.unwrap(), Some(old.clone()));
        assert_eq!(wd.read_file("v").await.unwrap().as_deref(), Some(&b"1"[..]));
        let head = std::fs::read_to_string(wd.path().join(".git/HEAD")).unwrap();
        assert_eq!(head.trim(), old, "HEAD is detached");
    }

    let missing = "0123456789abcdef0123456789abcdef01234567";
    let err = fx
        .git
        .checkout_commit(&fx.bare, missing, &fx.dest())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownRevision { .. }), "{err}");
}

#[tokio::test]
async fn list_files_reports_sizes_and_modes() {
    let fx = Fixture::new().await;
    let wd = fx.checkout("main").await;
    wd.write_file("a.txt", b"hello", false).await.unwrap();
    wd.write_file("dir/nested/b.bin", &[0u8; 1000], false)
        .await
        .unwrap();
    wd.write_file("run.sh", b"#!/bin/sh\n", true).await.unwrap();
    wd.write_file("empty", b"", false).await.unwrap();
    let sha = wd.commit_all("files").await.unwrap().unwrap();
    wd.push("main").await.unwrap();

    let mut files = fx.git.list_files(&fx.bare, &sha).await.unwrap();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let summary: Vec<(&str, u64, bool)> = files
        .iter()
        .map(|f| (f.path.as_str(), f.size, f.executable))
        .collect();
    assert_eq!(
        summary,
        [
            ("a.txt", 5, false),
            ("dir/nested/b.bin", 1000, false),
            ("empty", 0, false),
            ("run.sh", 10, true)
        ]
    );
    // A branch name works as the commit too.
    assert_eq!(fx.git.list_files(&fx.bare, "main").await.unwrap().len(), 4);
}

#[tokio::test]
async fn show_file_distinguishes_missing_files_from_missing_commits() {
    let fx = Fixture::new().await;
    let sha = fx
        .commit_on(
            "main",
            &[("src/lib.rs", b"pub fn x() {}\n"), ("bin", &[0, 1, 2, 255])],
            &[],
            "c",
        )
        .await;
    let show = |path: &'static str| {
        let (git, bare, sha) = (fx.git.clone(), fx.bare.clone(), sha.clone());
        async move { git.show_file(&bare, &sha, path).await }
    };
    assert_eq!(
        show("src/lib.rs").await.unwrap().as_deref(),
        Some(&b"pub fn x() {}\n"[..])
    );
    assert_eq!(
        show("bin").await.unwrap().as_deref(),
        Some(&[0u8, 1, 2, 255][..])
    );
    assert_eq!(show("nope.rs").await.unwrap(), None);
    assert_eq!(
        show("src").await.unwrap(),
        None,
        "a directory is not a file"
    );
    let err = fx
        .git
        .show_file(&fx.bare, "no-such-branch", "src/lib.rs")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownRevision { .. }), "{err}");
}

#[tokio::test]
async fn push_that_is_not_a_fast_forward_is_rejected() {
    let fx = Fixture::new().await;
    fx.commit_on("main", &[("a", b"0")], &[], "base").await;
    let first = fx.checkout("main").await;
    let second = fx.checkout("main").await;

    first.write_file("a", b"1", false).await.unwrap();
    first.commit_all("first").await.unwrap().unwrap();
    first.push("main").await.unwrap();

    second.write_file("a", b"2", false).await.unwrap();
    second.commit_all("second").await.unwrap().unwrap();
    let err = second.push("main").await.unwrap_err();
    assert!(matches!(err, Error::PushRejected { .. }), "{err}");
    assert!(err.to_string().contains("rejected"), "{err}");
}

#[tokio::test]
async fn concurrent_pushes_to_different_branches_both_land() {
    let fx = Fixture::new().await;
    fx.commit_on("main", &[("a", b"0")], &[], "base").await;
    let branches: Vec<String> = (0..4).map(|i| format!("kiln/task-{i}")).collect();
    let results = push_branches_concurrently(&fx, &branches).await;
    for (branch, sha) in branches.iter().zip(results) {
        assert_eq!(
            fx.git.branch_head(&fx.bare, branch).await.unwrap(),
            Some(sha)
        );
    }
}

async fn push_branches_concurrently(fx: &Fixture, branches: &[String]) -> Vec<String> {
    let mut handles = Vec::new();
    for branch in branches {
        let (git, bare, dest, branch) =
            (fx.git.clone(), fx.bare.clone(), fx.dest(), branch.clone());
        handles.push(tokio::spawn(async move {
            let wd = git.checkout_branch(&bare, &branch, &dest).await.unwrap();
            wd.write_file(&format!("{branch}.txt"), branch.as_bytes(), false)
                .await
                .unwrap();
            let sha = wd.commit_all(&branch).await.unwrap().unwrap();
            wd.push(&branch).await.unwrap();
            sha
        }));
    }
    let mut shas = Vec::new();
    for handle in handles {
        shas.push(handle.await.unwrap());
    }
    shas
}

#[tokio::test]
async fn concurrent_ensure_bare_calls_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("deep/dir/shared.git");
    let git = Git::new();
    let mut handles = Vec::new();
    for _ in 0..6 {
        let (git, path) = (git.clone(), path.clone());
        handles.push(tokio::spawn(async move { git.ensure_bare(&path).await }));
    }
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        ["shared.git"],
        "no staging directories left behind"
    );
    let out = plain_git(&path, &["rev-parse", "--is-bare-repository"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "true");
    let head = plain_git(&path, &["symbolic-ref", "HEAD"]);
    assert_eq!(
        String::from_utf8_lossy(&head.stdout).trim(),
        "refs/heads/main"
    );
}

#[tokio::test]
async fn ensure_bare_refuses_a_non_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("not-a-repo");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("file"), "x").unwrap();
    let err = Git::new().ensure_bare(&path).await.unwrap_err();
    assert!(matches!(err, Error::NotBareRepository { .. }), "{err}");

    // An existing empty directory is fine to create into.
    let empty = tmp.path().join("empty.git");
    std::fs::create_dir(&empty).unwrap();
    Git::new().ensure_bare(&empty).await.unwrap();
}

#[tokio::test]
async fn checkout_refuses_a_non_empty_destination() {
    let fx = Fixture::new().await;
    let dest = fx.dest();
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("keep"), "x").unwrap();
    let err = fx
        .git
        .checkout_branch(&fx.bare, "main", &dest)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DestinationNotEmpty { .. }), "{err}");
    assert!(dest.join("keep").exists());

    let empty = fx.dest();
    std::fs::create_dir_all(&empty).unwrap();
    fx.git
        .checkout_branch(&fx.bare, "main", &empty)
        .await
        .unwrap();
}

#[tokio::test]
async fn git_failures_carry_command_and_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Git::new()
        .branch_head(&tmp.path().join("missing.git"), "main")
        .await
        .unwrap_err();
    match &err {
        Error::Command {
            args,
            status,
            stderr,
        } => {
            assert!(args.contains("for-each-ref"), "{args}");
            assert_ne!(*status, 0);
            assert!(stderr.contains("not a git repository"), "{stderr}");
        }
        other => panic!("unexpected error {other:?}"),
    }
    let text = err.to_string();
    assert!(text.starts_with("git "), "{text}");

    let err = Git::with_binary("/nonexistent/git")
        .branch_head(tmp.path(), "main")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Spawn { .. }), "{err}");
}

#[tokio::test]
async fn text_files_reads_every_text_file_in_one_pass_and_skips_binary_and_large_ones() {
    let fx = Fixture::new().await;
    let big = "x".repeat(5000);
    let sha = fx
        .commit_on(
            "main",
            &[
                ("README.md", b"# hi\n"),
                ("src/app.js", b"console.log('a');\n"),
                ("empty.txt", b""),
                ("logo.bin", &[0xff, 0xfe, 0x00, 0x01]),
                ("big.txt", big.as_bytes()),
            ],
            &[],
            "files",
        )
        .await;
    let files = fx.git.text_files(&fx.bare, &sha, 1000).await.unwrap();
    let paths: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(paths, ["README.md", "empty.txt", "src/app.js"]);
    for (path, text) in &files {
        let one = fx
            .git
            .show_file(&fx.bare, &sha, path)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            text.as_bytes(),
            one.as_slice(),
            "{path} reads the same as show_file"
        );
    }
    let all = fx.git.text_files(&fx.bare, &sha, 10_000).await.unwrap();
    assert_eq!(all["big.txt"].len(), 5000, "the size limit is the caller's");
}

#[tokio::test]
async fn fast_forward_moves_main_only_onto_a_descendant() {
    let fx = Fixture::new().await;
    let main = fx
        .commit_on("main", &[("base.txt", b"base\n")], &[], "base")
        .await;
    let wd = fx.checkout("kiln/change").await;
    wd.write_file("feature.txt", b"new\n", false).await.unwrap();
    let change = wd.commit_all("change").await.unwrap().unwrap();
    wd.push("kiln/change").await.unwrap();

    // Someone else's change lands on main first: the task's change no longer contains it.
    let other = fx
        .commit_on("main", &[("other.txt", b"other\n")], &[], "other")
        .await;
    assert_ne!(other, main);
    assert!(
        !fx.git
            .fast_forward(&fx.bare, "main", &change)
            .await
            .unwrap()
    );
    assert_eq!(
        fx.git.branch_head(&fx.bare, "main").await.unwrap(),
        Some(other.clone()),
        "a refused fast-forward changes nothing"
    );

    // A change on top of main fast-forwards it; doing it again is a no-op that succeeds.
    let wd = fx.checkout("kiln/next").await;
    wd.write_file("next.txt", b"next\n", false).await.unwrap();
    let next = wd.commit_all("next").await.unwrap().unwrap();
    wd.push("kiln/next").await.unwrap();
    assert!(fx.git.fast_forward(&fx.bare, "main", &next).await.unwrap());
    assert!(fx.git.fast_forward(&fx.bare, "main", &next).await.unwrap());
    assert_eq!(
        fx.git.branch_head(&fx.bare, "main").await.unwrap(),
        Some(next)
    );
}
