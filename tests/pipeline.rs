//! A task POSTed to the API becomes a live, verified deployment: every service as its own
//! process, on real NATS JetStream and Postgres, each test with its own prefix and database.

use std::time::Duration;

mod common;

use common::{collect_logs, fetch};
use kiln_testkit::TestEnv;
use kiln_testkit::stack::Stack;
use serde_json::{Value, json};
use sqlx::Row;

const FINISH: Duration = Duration::from_secs(240);

async fn count(env: &TestEnv, sql: &str, task: &str) -> i64 {
    let id = uuid::Uuid::parse_str(task).expect("task id");
    sqlx::query(sql)
        .bind(id)
        .fetch_one(&env.pool)
        .await
        .expect("count query")
        .get::<i64, _>(0)
}

async fn assert_live(task: &Value, expected: &[&str]) {
    assert_eq!(task["status"], "deployed", "{task:#}");
    let url = task["deployment"]["url"]
        .as_str()
        .expect("deployment url")
        .to_owned();
    assert_eq!(task["deployment"]["verification"]["ok"], true, "{task:#}");
    let (status, body) = fetch(&url).await;
    assert_eq!(status, 200, "{url}");
    for text in expected {
        assert!(body.contains(text), "{url} does not show {text:?}:\n{body}");
    }
    let sha = task["commits"][0]["sha"].as_str().expect("commit sha");
    let (status, stamp) = fetch(&format!(
        "{}__kiln/version",
        url.trim_end_matches('/').to_owned() + "/"
    ))
    .await;
    assert_eq!(
        (status, stamp.trim()),
        (200, sha),
        "the live app is the deployed commit"
    );
}

#[tokio::test]
async fn static_site_task_is_planned_built_tested_reviewed_and_deployed() {
    let stack = Stack::start(TestEnv::new().await, env!("CARGO_BIN_EXE_kiln")).await;
    let brief =
        "A landing page for a bakery with opening hours, a cake gallery and a contact form.";
    let (status, created) = stack
        .post_task(
            &json!({"kind": "new_app", "template": "static-site", "name": "bakery", "brief": brief}),
            None,
        )
        .await;
    assert_eq!(status, 202, "{created:#}");
    assert_eq!(created["status"], "queued");
    let id = created["id"].as_str().expect("id").to_owned();
    let (logs_task, logs) = collect_logs(&stack.api, &stack.admin, &id);

    let task = stack.wait_finished(&id, FINISH).await;
    assert_live(
        &task,
        &[
            "Opening hours",
            "A cake gallery",
            "A contact form",
            "bakery",
        ],
    )
    .await;

    // Every stage ran once and is visible with timings and a summary.
    let stages: Vec<&str> = task["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter(|s| s["status"] == "succeeded")
        .map(|s| s["stage"].as_str().unwrap_or(""))
        .collect();
    for s in ["plan", "codegen", "test", "review", "gate", "deploy"] {
        assert!(stages.contains(&s), "stage {s} missing from {stages:?}");
    }
    assert!(task["stages"][0]["duration_ms"].is_number());
    assert_eq!(task["plan"]["stories"].as_array().map(Vec::len), Some(3));
    assert_eq!(task["gate"]["decision"], "approved");
    assert!(
        task["gate"]["reasons"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    assert_eq!(task["test_runs"][0]["passed"], true);
    assert_eq!(task["llm_usage"]["mode"], "offline");

    // Live logs arrived over the WebSocket, from several services, in order.
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let services: std::collections::BTreeSet<String> = logs
                .lock()
                .expect("logs")
                .iter()
                .filter_map(|l| l["service"].as_str().map(str::to_owned))
                .collect();
            if [
                "planner", "codegen", "tester", "reviewer", "gate", "deployer",
            ]
            .iter()
            .all(|s| services.contains(*s))
            {
                return services;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    logs_task.abort();
    let lines = logs.lock().expect("logs").clone();
    assert!(seen.is_ok(), "log lines from every stage: got {lines:#?}");
    let seqs: Vec<u64> = lines.iter().filter_map(|l| l["seq"].as_u64()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "log lines in order without duplicates"
    );
    assert!(lines.iter().any(|l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.contains("planned epic"))
    }));

    // The index caught up with the commit.
    let indexed = TestEnv::eventually("index run", Duration::from_secs(20), || async {
        let n = count(
            &stack.env,
            "SELECT count(*) FROM index_runs WHERE task_id = $1",
            &id,
        )
        .await;
        (n == 1).then_some(n)
    })
    .await;
    assert_eq!(indexed, 1);

    // The deployed code is searchable through the API: hybrid retrieval on the real model.
    let found: Value = stack
        .http
        .get(format!("{}/api/v1/projects/bakery/search", stack.api))
        .query(&[("q", "opening hours of the bakery"), ("k", "3")])
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("search json");
    assert_eq!(found["mode"], "hybrid", "{found:#}");
    assert!(found.get("warning").is_none(), "{found:#}");
    let top = found["files"][0]["path"].as_str().expect("a file");
    let snippet = found["snippets"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["path"] == top))
        .expect("a snippet of the top file");
    assert!(
        snippet["text"]
            .as_str()
            .is_some_and(|t| t.contains("Opening hours")),
        "{found:#}"
    );
    assert!(snippet["start_line"].as_u64().is_some_and(|l| l >= 1));
    let refused = stack
        .http
        .get(format!("{}/api/v1/projects/bakery/search?q=%20", stack.api))
        .send()
        .await
        .expect("empty search");
    assert_eq!(refused.status().as_u16(), 400);

    // The same through the CLI, as the README shows.
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(args)
            .env("KILN_API_URL", &stack.api)
            .env("KILN_TOKEN", &stack.admin)
            .output()
            .expect("run kiln");
        assert!(
            out.status.success(),
            "kiln {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let indexed = cli(&["rag", "index", "--project", "bakery"]);
    assert!(indexed.contains("files indexed, 0 written"), "{indexed}");
    let listed = cli(&[
        "rag",
        "query",
        "--project",
        "bakery",
        "opening hours of the bakery",
        "--top",
        "2",
    ]);
    assert!(
        listed.contains("(hybrid, ") && listed.contains(&format!("1. {top}")),
        "{listed}"
    );
    let json: Value = serde_json::from_str(&cli(&[
        "rag",
        "query",
        "--project",
        "bakery",
        "contact form",
        "--json",
    ]))
    .expect("--json prints JSON");
    assert_eq!(json["project"], "bakery");
    assert!(json["snippets"].as_array().is_some_and(|s| !s.is_empty()));
}

#[tokio::test]
async fn node_express_task_runs_npm_test_and_serves_the_brief() {
    let stack = Stack::start(TestEnv::new().await, env!("CARGO_BIN_EXE_kiln")).await;
    let brief = "An order board for a pizza shop with a menu, an order list and delivery tracking.";
    let (status, created) = stack
        .post_task(
            &json!({"kind": "new_app", "template": "node-express", "name": "pizzaboard", "brief": brief}),
            None,
        )
        .await;
    assert_eq!(status, 202, "{created:#}");
    let id = created["id"].as_str().expect("id").to_owned();
    let task = stack.wait_finished(&id, FINISH).await;
    assert_live(&task, &["A menu", "An order list", "Delivery tracking"]).await;
    let commands: Vec<&str> = task["test_runs"][0]["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .map(|c| c["command"].as_str().unwrap_or(""))
        .collect();
    assert!(commands.contains(&"npm test"), "{commands:?}");
    let health = format!(
        "{}healthz",
        task["deployment"]["url"].as_str().expect("url")
    );
    assert_eq!(fetch(&health).await.0, 200);
}

#[tokio::test]
async fn a_tester_killed_mid_task_loses_nothing_and_the_task_deploys_once() {
    let mut stack = Stack::start(TestEnv::new().await, env!("CARGO_BIN_EXE_kiln")).await;
    let (status, created) = stack
        .post_task(
            &json!({"kind": "new_app", "template": "node-express", "name": "survivor", "brief": "A status page with an uptime list and an incident log."}),
            None,
        )
        .await;
    assert_eq!(status, 202, "{created:#}");
    let id = created["id"].as_str().expect("id").to_owned();
    // Wait until the tester is in the middle of its work (npm install / npm test) ...
    TestEnv::eventually("the tester to start", Duration::from_secs(120), || async {
        let n = count(
            &stack.env,
            "SELECT count(*) FROM stage_runs WHERE task_id = $1 AND stage = 'test' AND status = 'running'",
            &id,
        )
        .await;
        (n > 0).then_some(())
    })
    .await;
    // ... and SIGKILL it: no ack, no graceful shutdown.
    stack.kill("tester").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stack.spawn("tester");

    let task = stack.wait_finished(&id, FINISH).await;
    assert_live(&task, &["An uptime list", "An incident log"]).await;
    let deployments = count(
        &stack.env,
        "SELECT count(*) FROM deployments WHERE task_id = $1",
        &id,
    )
    .await;
    let commits = count(
        &stack.env,
        "SELECT count(*) FROM commits WHERE task_id = $1",
        &id,
    )
    .await;
    let tests = count(
        &stack.env,
        "SELECT count(*) FROM test_runs WHERE task_id = $1",
        &id,
    )
    .await;
    assert_eq!(
        (deployments, commits, tests),
        (1, 1, 1),
        "exactly one deployment, commit and test record"
    );
    let interrupted = count(
        &stack.env,
        "SELECT count(*) FROM stage_runs WHERE task_id = $1 AND stage = 'test' AND status = 'interrupted'",
        &id,
    )
    .await;
    assert_eq!(
        interrupted, 1,
        "the killed attempt is visible as interrupted"
    );
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_and_other_tasks_keep_flowing() {
    let stack = Stack::start(TestEnv::new().await, env!("CARGO_BIN_EXE_kiln")).await;
    // A task whose codegen work item is garbage (as from a buggy or hostile publisher).
    let poisoned = uuid::Uuid::now_v7();
    {
        let mut conn = stack.env.pool.acquire().await.expect("db");
        kiln_store::tasks::insert_task(
            &mut conn,
            &kiln_store::tasks::NewTask {
                id: poisoned,
                project: "poisoned".into(),
                kind: "new_app".into(),
                template: "static-site".into(),
                brief: "never built".into(),
                options: json!({}),
            },
        )
        .await
        .expect("insert task");
    }
    let js = stack.env.jetstream().await;
    let dlq = js
        .get_stream(stack.env.subjects().dlq_stream().name)
        .await
        .expect("dlq stream")
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            filter_subject: stack.env.subjects().dlq(kiln_contracts::Stage::Codegen),
            ..Default::default()
        })
        .await
        .expect("dlq consumer");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Kiln-Task-Id", poisoned.to_string().as_str());
    js.publish_with_headers(
        stack.env.subjects().work(kiln_contracts::Stage::Codegen),
        headers,
        b"\xff\xfe not protobuf".to_vec().into(),
    )
    .await
    .expect("publish")
    .await
    .expect("stored");

    // Meanwhile a healthy task goes all the way.
    let (_, created) = stack
        .post_task(
            &json!({"kind": "new_app", "template": "static-site", "name": "healthy", "brief": "A page with a welcome banner."}),
            None,
        )
        .await;
    let healthy = created["id"].as_str().expect("id").to_owned();

    let failed = stack.wait_finished(&poisoned.to_string(), FINISH).await;
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["status_reason"]
            .as_str()
            .is_some_and(|r| r.contains("undecodable")),
        "{failed:#}"
    );
    let mut letters = dlq
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(10))
        .messages()
        .await
        .expect("fetch");
    let letter = futures::StreamExt::next(&mut letters)
        .await
        .expect("a dead letter")
        .expect("message");
    let letter = <kiln_contracts::DeadLetter as prost::Message>::decode(letter.payload.clone())
        .expect("dead letter");
    assert_eq!(letter.task_id, poisoned.to_string());
    assert!(letter.reason.contains("undecodable"));

    let ok = stack.wait_finished(&healthy, FINISH).await;
    assert_live(&ok, &["A welcome banner"]).await;
}

#[tokio::test]
async fn the_same_idempotency_key_creates_one_task() {
    let stack = Stack::start(TestEnv::new().await, env!("CARGO_BIN_EXE_kiln")).await;
    let body = json!({"kind": "new_app", "template": "static-site", "name": "once", "brief": "A page that says hello."});
    let (s1, first) = stack.post_task(&body, Some("order-7")).await;
    let (s2, second) = stack.post_task(&body, Some("order-7")).await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(first["id"], second["id"]);
    let tasks: i64 = sqlx::query("SELECT count(*) FROM tasks")
        .fetch_one(&stack.env.pool)
        .await
        .expect("count")
        .get(0);
    assert_eq!(tasks, 1);
    let id = first["id"].as_str().expect("id");
    let task = stack.wait_finished(id, FINISH).await;
    assert_eq!(task["status"], "deployed");
    assert_eq!(task["deployments"].as_array().map(Vec::len), Some(1));
}

/// The reasons a blocked task's gate gives, as one string.
fn gate_reasons(task: &Value) -> String {
    task["gate"]["reasons"].to_string()
}

async fn static_site(stack: &Stack, name: &str) -> Value {
    let (status, created) = stack
        .post_task(
            &json!({"kind": "new_app", "template": "static-site", "name": name,
                    "brief": "A page for a bike repair shop with prices."}),
            None,
        )
        .await;
    assert_eq!(status, 202, "{created:#}");
    let id = created["id"].as_str().expect("id").to_owned();
    stack.wait_finished(&id, FINISH).await
}

#[tokio::test]
async fn without_bubblewrap_generated_code_is_refused_unless_the_operator_chose_none() {
    let missing = vec![(
        "KILN_SANDBOX__BWRAP".to_owned(),
        "/nonexistent/bwrap".to_owned(),
    )];
    let stack = Stack::start_with(TestEnv::new().await, env!("CARGO_BIN_EXE_kiln"), missing).await;
    let task = static_site(&stack, "refused").await;
    assert_eq!(task["status"], "blocked", "{task:#}");
    let reasons = gate_reasons(&task);
    assert!(
        reasons.contains("refusing to run generated code") && reasons.contains("bwrap"),
        "{reasons}"
    );
    assert_eq!(task["test_runs"][0]["commands"], json!([]), "nothing ran");
    drop(stack);

    let none = vec![("KILN_SANDBOX__MODE".to_owned(), "none".to_owned())];
    let stack = Stack::start_with(TestEnv::new().await, env!("CARGO_BIN_EXE_kiln"), none).await;
    let task = static_site(&stack, "unsandboxed").await;
    assert_live(&task, &["unsandboxed"]).await;
    assert_eq!(task["test_runs"][0]["isolation"], "none", "{task:#}");
    assert!(
        gate_reasons(&task).contains("\"unsandboxed\""),
        "the decision records the operator's choice: {}",
        gate_reasons(&task)
    );
}

/// A copy of the shipped static-site template named `name`, its manifest edited by `edit`.
fn derived_template(root: &std::path::Path, name: &str, edit: impl Fn(String) -> String) {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kiln-templates/templates/static-site");
    let dest = root.join(name);
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(&source)
        .arg(&dest)
        .status()
        .expect("cp");
    assert!(status.success());
    let manifest = dest.join("template.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    // A chat alias belongs to one template: the copy must not claim static-site's.
    let renamed = text
        .replace("name = \"static-site\"", &format!("name = \"{name}\""))
        .replace("alias = \"web\"\n", "");
    assert_ne!(renamed, text, "static-site's manifest changed shape");
    let edited = edit(renamed.clone());
    assert_ne!(edited, renamed, "the edit did not apply");
    std::fs::write(&manifest, edited).expect("write manifest");
}

#[tokio::test]
async fn an_unreachable_registry_or_a_test_that_never_ends_blocks_with_the_reason() {
    let templates = tempfile::tempdir().expect("templates dir");
    // Port 9 (discard) has no listener on loopback: the registry refuses connections.
    derived_template(templates.path(), "needs-registry", |m| {
        m.replace(
            "requires = [\"sh\"]",
            "requires = [\"sh\"]\nregistries = [\"http://127.0.0.1:9/\"]",
        )
    });
    derived_template(templates.path(), "hangs", |m| {
        m.replace("test = [\"sh test.sh\"]", "test = [\"sleep 600\"]")
    });
    let extra = vec![
        (
            "KILN_TEMPLATES_DIR".to_owned(),
            templates.path().display().to_string(),
        ),
        (
            "KILN_TESTER__COMMAND_TIMEOUT_SECS".to_owned(),
            "5".to_owned(),
        ),
    ];
    let stack = Stack::start_with(TestEnv::new().await, env!("CARGO_BIN_EXE_kiln"), extra).await;
    let mut ids = Vec::new();
    for (template, name) in [("needs-registry", "offline"), ("hangs", "forever")] {
        let (status, created) = stack
            .post_task(
                &json!({"kind": "new_app", "template": template, "name": name,
                        "brief": "A page that says hello."}),
                None,
            )
            .await;
        assert_eq!(status, 202, "{created:#}");
        ids.push(created["id"].as_str().expect("id").to_owned());
    }
    let offline = stack.wait_finished(&ids[0], FINISH).await;
    assert_eq!(offline["status"], "blocked", "{offline:#}");
    let reasons = gate_reasons(&offline);
    assert!(
        reasons.contains("package registry unreachable from the tester host: http://127.0.0.1:9/")
            && reasons.contains("needs-registry"),
        "{reasons}"
    );

    let forever = stack.wait_finished(&ids[1], FINISH).await;
    assert_eq!(forever["status"], "blocked", "{forever:#}");
    let reasons = gate_reasons(&forever);
    assert!(
        reasons.contains("`sleep 600` (test) was stopped by the wall-clock limit"),
        "{reasons}"
    );
    let last = &forever["test_runs"][0]["commands"][1];
    assert_eq!(last["command"], "sleep 600");
    assert!(
        last["limit_hit"]
            .as_str()
            .is_some_and(|l| l.contains("wall-clock")),
        "{last:#}"
    );
    assert_eq!(forever["test_runs"][0]["isolation"], "bubblewrap");
}
