//! diff_stat and diff against real commits: exact counts for each kind of change, and
//! truncation of large diffs.

mod common;

use common::Fixture;
use kiln_git::{ChangeStatus, DIFF_TRUNCATED_MARKER};

#[tokio::test]
async fn diff_stat_counts_each_kind_of_change_exactly() {
    let fx = Fixture::new().await;
    let moved: String = (1..=40).map(|i| format!("moved line {i}\n")).collect();
    let base = fx
        .commit_on(
            "main",
            &[
                ("keep.txt", b"same\n"),
                ("edit.txt", b"one\ntwo\nthree\n"),
                ("gone.txt", b"a\nb\n"),
                ("image.bin", &[0, 1, 2, 3]),
                ("old_name.txt", moved.as_bytes()),
            ],
            &[],
            "base",
        )
        .await;
    let head = {
        let wd = fx.checkout("main").await;
        wd.write_file("edit.txt", b"one\nTWO\nthree\nfour\n", false)
            .await
            .unwrap();
        wd.remove_file("gone.txt").await.unwrap();
        wd.write_file("new.txt", b"x\ny\nz\n", false).await.unwrap();
        wd.write_file("image.bin", &[0, 9, 9, 3, 0], false)
            .await
            .unwrap();
        wd.remove_file("old_name.txt").await.unwrap();
        wd.write_file("new_name.txt", format!("{moved}extra\n").as_bytes(), false)
            .await
            .unwrap();
        let sha = wd.commit_all("changes").await.unwrap().unwrap();
        wd.push("main").await.unwrap();
        sha
    };

    let stat = fx
        .git
        .diff_stat(&fx.bare, Some(&base), &head)
        .await
        .unwrap();
    let mut files = stat.files.clone();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let summary: Vec<_> = files
        .iter()
        .map(|f| {
            (
                f.path.as_str(),
                f.status,
                f.insertions,
                f.deletions,
                f.binary,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("edit.txt", ChangeStatus::Modified, 2, 1, false),
            ("gone.txt", ChangeStatus::Deleted, 0, 2, false),
            ("image.bin", ChangeStatus::Modified, 0, 0, true),
            ("new.txt", ChangeStatus::Added, 3, 0, false),
            ("new_name.txt", ChangeStatus::Renamed, 1, 0, false),
        ]
    );
    let renamed = files.iter().find(|f| f.path == "new_name.txt").unwrap();
    assert_eq!(renamed.old_path.as_deref(), Some("old_name.txt"));
    assert_eq!(stat.files_changed, 5);
    assert_eq!(stat.insertions, 6);
    assert_eq!(stat.deletions, 3);

    // Against the empty tree every file is an addition.
    let initial = fx.git.diff_stat(&fx.bare, None, &base).await.unwrap();
    assert_eq!(initial.files_changed, 5);
    assert!(
        initial
            .files
            .iter()
            .all(|f| f.status == ChangeStatus::Added)
    );
    assert_eq!(initial.insertions, 1 + 3 + 2 + 40);
    assert_eq!(initial.deletions, 0);

    // Identical endpoints: nothing.
    let none = fx
        .git
        .diff_stat(&fx.bare, Some(&head), &head)
        .await
        .unwrap();
    assert_eq!(none.files_changed, 0);
    assert!(none.files.is_empty());
}

#[tokio::test]
async fn diff_is_complete_when_small_and_truncated_when_large() {
    let fx = Fixture::new().await;
    let base = fx
        .commit_on("main", &[("a.txt", b"old\n")], &[], "base")
        .await;
    let big: String = (0..20_000)
        .map(|i| format!("generated line number {i}\n"))
        .collect();
    let head = fx
        .commit_on(
            "main",
            &[("a.txt", b"new\n"), ("big.txt", big.as_bytes())],
            &[],
            "big",
        )
        .await;

    let small = fx
        .git
        .diff(&fx.bare, Some(&base), &base, 1000)
        .await
        .unwrap();
    assert_eq!(small, "");

    let full = fx.git.diff(&fx.bare, None, &base, 1 << 20).await.unwrap();
    assert!(full.contains("+++ b/a.txt"), "{full}");
    assert!(full.contains("+old"), "{full}");
    assert!(!full.contains(DIFF_TRUNCATED_MARKER));

    let max = 4096;
    let cut = fx
        .git
        .diff(&fx.bare, Some(&base), &head, max)
        .await
        .unwrap();
    assert!(
        cut.ends_with(&format!("\n{DIFF_TRUNCATED_MARKER}\n")),
        "{cut}"
    );
    let body = &cut[..cut.len() - DIFF_TRUNCATED_MARKER.len() - 1];
    assert!(body.len() <= max, "body is {} bytes", body.len());
    assert!(
        body.len() > max - 200,
        "cut near the limit, at a line end: {}",
        body.len()
    );
    assert!(body.contains("-old\n+new"), "{body}");
    assert!(body.ends_with('\n'));
}
