//! The cost of living on GitHub, offline, against the fake GitHub: how long from a labelled
//! issue's webhook to its pull request being open, and how many GitHub API calls one task
//! makes, beside a baseline measured in the same run (the same change on a local project,
//! from `POST /api/v1/tasks` to its commit being recorded: the moment a pull request could
//! first be opened). Not part of the test suite (it only prints figures):
//!
//! ```text
//! cargo nextest run -p kiln --test bench_github --run-ignored only --no-capture
//! ```

mod common;

use std::time::{Duration, Instant};

use kiln_testkit::TestEnv;
use kiln_testkit::fakes::github::FakeGitHub;
use kiln_testkit::stack::Stack;
use serde_json::json;

const ROUNDS: usize = 5;
const SECRET: &str = "whsec-bench";
const FILES: &[(&str, &str)] = &[
    ("shop/__init__.py", ""),
    ("shop/pricing.py", "def total(a, b):\n    return a * b\n"),
    ("tests/__init__.py", ""),
    (
        "tests/test_pricing.py",
        "import unittest\n\nfrom shop.pricing import total\n\n\nclass T(unittest.TestCase):\n    def test_total(self):\n        self.assertEqual(total(2, 3), 6)\n",
    ),
    (
        ".kiln/project.toml",
        "[commands]\ntest = \"python3 -m unittest discover -s tests\"\n",
    ),
];

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

async fn wait<F: Fn() -> bool>(what: &str, done: F) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
#[ignore = "a benchmark: run with --run-ignored only"]
async fn github_publishing_costs() {
    let gh = FakeGitHub::start().await;
    gh.add_installation("acme");
    gh.add_repo("acme/shop", FILES);
    gh.set_permission("acme/shop", "ada", "write");
    let env = TestEnv::new().await;
    let root = env.data_path().join("sources/local");
    std::fs::create_dir_all(&root).unwrap();
    common::git(&root, &["init", "-q"]);
    for (path, text) in FILES {
        common::write(&root, path, text);
    }
    common::git(&root, &["add", "-A"]);
    common::git(&root, &["commit", "-q", "-m", "shop"]);
    let extra = vec![
        ("KILN_GITHUB__API_URL".to_owned(), gh.base_url()),
        ("KILN_GITHUB__APP_ID".into(), FakeGitHub::APP_ID.to_string()),
        (
            "KILN_GITHUB__PRIVATE_KEY_FILE".into(),
            FakeGitHub::private_key_path().display().to_string(),
        ),
        ("KILN_GITHUB__WEBHOOK_SECRET".into(), SECRET.into()),
        (
            "KILN_API__IMPORT_ROOTS".into(),
            format!("[\"{}\"]", root.parent().unwrap().display()),
        ),
        ("KILN_RAG__DENSE".into(), "false".into()),
        ("KILN_RUNTIME__LOG_FILTER".into(), "warn".into()),
    ];
    let stack = Stack::start_with(env, env!("CARGO_BIN_EXE_kiln"), extra).await;
    for body in [
        json!({"name": "shop", "host": "github", "repository": "acme/shop"}),
        json!({"name": "local", "import": {"url": format!("file://{}", root.display()), "branch": "trunk"}}),
    ] {
        let resp = stack
            .http
            .post(format!("{}/api/v1/projects", stack.api))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            201,
            "{}",
            resp.text().await.unwrap()
        );
    }
    let db = stack.env.pool.clone();
    let hook = format!("{}/api/v1/webhooks/github", stack.api);

    let mut local = Vec::new();
    let mut hosted = Vec::new();
    let mut calls = Vec::new();
    for round in 0..ROUNDS {
        // Baseline: the same change on the local project, until its commit is recorded.
        let started = Instant::now();
        let (status, body) = stack
            .post_task(
                &json!({"kind": "change", "project": "local", "brief": format!("Change {round}")}),
                None,
            )
            .await;
        assert_eq!(status, 202, "{body:#}");
        let id = body["id"].as_str().unwrap().to_owned();
        loop {
            let n: i64 =
                sqlx::query_scalar("SELECT count(*) FROM commits WHERE task_id = $1::uuid")
                    .bind(&id)
                    .fetch_one(&db)
                    .await
                    .unwrap();
            if n > 0 {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(120));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        local.push(started.elapsed());
        stack.wait_finished(&id, Duration::from_secs(300)).await;

        // On GitHub: a labelled issue's webhook, until its pull request is open.
        gh.clear_requests();
        let issue = gh.open_issue(
            "acme/shop",
            "ada",
            &format!("Change {round}"),
            "",
            &["kiln"],
        );
        let payload = json!({
            "action": "labeled",
            "issue": {"number": issue, "title": format!("Change {round}"), "body": "", "labels": [{"name": "kiln"}]},
            "label": {"name": "kiln"},
            "repository": {"full_name": "acme/shop"},
            "sender": {"login": "ada", "id": 7},
        });
        let pulls_before = gh.pulls("acme/shop").len();
        let started = Instant::now();
        let (code, _) = gh
            .send_webhook(&hook, SECRET, "issues", None, &payload)
            .await;
        assert_eq!(code, 200);
        wait("the pull request", || {
            gh.pulls("acme/shop").len() > pulls_before
        })
        .await;
        hosted.push(started.elapsed());
        let id: String =
            sqlx::query_scalar("SELECT task_id::text FROM github_issues WHERE number = $1")
                .bind(issue as i64)
                .fetch_one(&db)
                .await
                .unwrap();
        stack.wait_finished(&id, Duration::from_secs(300)).await;
        wait("the release gate's check", || {
            gh.check_runs("acme/shop").iter().any(|c| {
                c.name == "kiln/release-gate"
                    && c.external_id.as_deref() == Some(id.as_str())
                    && c.status == "completed"
            })
        })
        .await;
        // Let the publisher settle: a finished task is looked at once more.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let requests = gh.requests();
        let git = requests.iter().filter(|r| r.path.contains(".git/")).count();
        let rest: Vec<_> = requests
            .iter()
            .filter(|r| !r.path.contains(".git/"))
            .collect();
        let reads = rest.iter().filter(|r| r.method == "GET").count();
        if std::env::var_os("KILN_BENCH_VERBOSE").is_some() {
            for r in &rest {
                println!("    {} {}", r.method, r.path);
            }
        }
        calls.push((rest.len(), reads, rest.len() - reads, git));
    }

    let (l, h) = (median(local), median(hosted));
    println!("GitHub publishing, offline, median of {ROUNDS} tasks (same run):");
    println!(
        "  local change, POST to commit recorded:  {:>7.0} ms (baseline)",
        l.as_secs_f64() * 1000.0
    );
    println!(
        "  GitHub issue, webhook to PR opened:     {:>7.0} ms ({:.2}x the baseline)",
        h.as_secs_f64() * 1000.0,
        h.as_secs_f64() / l.as_secs_f64()
    );
    for (i, (all, reads, writes, git)) in calls.iter().enumerate() {
        println!(
            "  task {}: {all} GitHub API calls ({reads} reads, {writes} writes), {git} git HTTP requests",
            i + 1
        );
    }
}
