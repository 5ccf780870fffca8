//! Kiln with a model: every path of the planner, codegen, self-correction, reviewers, gate,
//! budgets and people in the loop, through the real services on NATS and Postgres, against
//! a local fake provider that speaks the real wire formats (the real client code runs).

mod common;

use std::time::Duration;

use common::script::{Say, Script, llm_env};
use common::{decide, fetch, wait_status};
use kiln_testkit::TestEnv;
use kiln_testkit::stack::Stack;
use serde_json::{Value, json};
use sqlx::Row;

const KEY: &str = "sk-kiln-test-secret-0123456789abcdef";
const FINISH: Duration = Duration::from_secs(240);

fn plan(stories: &[&str]) -> Say {
    let stories: Vec<Value> = stories
        .iter()
        .map(|t| json!({"title": t, "description": format!("{t} for the pizza shop"), "acceptance": [format!("{t} works")]}))
        .collect();
    Say::Json(json!({"epic": "A pizza shop", "stories": stories, "questions": []}))
}

fn review(verdict: &str) -> Say {
    Say::Json(json!({"verdict": verdict, "summary": format!("looks {verdict}"), "findings": []}))
}

/// A new test for `/menu`, without the route: `npm test` fails (404).
fn story_without_route() -> Say {
    Say::Text(
        "FILE: test/menu.test.js\n```js\n'use strict';\nconst { test } = require('node:test');\nconst assert = require('node:assert/strict');\nconst { once } = require('node:events');\nconst { createApp } = require('../app');\n\ntest('GET /menu lists the pizzas', async () => {\n  const server = createApp().listen(0, '127.0.0.1');\n  await once(server, 'listening');\n  const res = await fetch(`http://127.0.0.1:${server.address().port}/menu`);\n  const body = await res.text();\n  server.closeAllConnections();\n  server.close();\n  assert.equal(res.status, 200);\n  assert.match(body, /Margherita/);\n});\n```\n"
            .into(),
    )
}

/// The route the test wants, as a SEARCH/REPLACE edit of app.js.
fn fix_with_route() -> Say {
    Say::Text(
        "app.js\n<<<<<<< SEARCH\n  app.get('/healthz', (req, res) => {\n=======\n  app.get('/menu', (req, res) => {\n    res.type('text/plain').send('Margherita, Marinara, Diavola');\n  });\n\n  app.get('/healthz', (req, res) => {\n>>>>>>> REPLACE\n"
            .into(),
    )
}

/// A fix that changes something but never the route (a different comment each round).
fn useless_fix(n: usize) -> Say {
    Say::Text(format!(
        "app.js\n<<<<<<< SEARCH\n'use strict';\n=======\n'use strict';\n// attempt {n}\n>>>>>>> REPLACE\n"
    ))
}

fn flip() -> Say {
    Say::Text(
        "app.js\n<<<<<<< SEARCH\n'use strict';\n=======\n\"use strict\";\n>>>>>>> REPLACE\n".into(),
    )
}

fn flop() -> Say {
    Say::Text(
        "app.js\n<<<<<<< SEARCH\n\"use strict\";\n=======\n'use strict';\n>>>>>>> REPLACE\n".into(),
    )
}

/// A story that implements the route and its test at once: tests pass first time.
fn story_with_route() -> Say {
    let Say::Text(test) = story_without_route() else {
        unreachable!()
    };
    let Say::Text(route) = fix_with_route() else {
        unreachable!()
    };
    Say::Text(format!("{test}\n{route}"))
}

async fn start(script: &Script) -> (Stack, kiln_testkit::fake_llm::FakeLlm) {
    let fake = script.serve().await;
    let mut env = llm_env(&fake, KEY);
    // BM25-only retrieval: its ranking is exact arithmetic, so the pinned transcript (which
    // holds the retrieved context) cannot drift with floating-point noise of the model.
    env.push(("KILN_RAG__DENSE".into(), "false".into()));
    let stack = Stack::start_with(TestEnv::new().await, env!("CARGO_BIN_EXE_kiln"), env).await;
    (stack, fake)
}

async fn create(stack: &Stack, name: &str, options: Value) -> String {
    let (status, body) = stack
        .post_task(
            &json!({"kind": "new_app", "template": "node-express", "name": name,
                    "brief": "A pizza shop page with a menu.", "options": options}),
            None,
        )
        .await;
    assert_eq!(status, 202, "{body:#}");
    body["id"].as_str().expect("id").to_owned()
}

fn reason_codes(task: &Value) -> Vec<String> {
    task["gate"]["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{}:{}",
                r["kind"].as_str().unwrap_or(""),
                r["code"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Replaces what differs between runs (ids, hashes, ports, paths) so prompts can be compared.
fn normalise(text: &str) -> String {
    let uuid =
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let sha = regex::Regex::new(r"\b[0-9a-f]{40}\b").unwrap();
    let port = regex::Regex::new(r"127\.0\.0\.1:\d+").unwrap();
    // Test runners print timings; they are not part of what a prompt means.
    let timing = regex::Regex::new(r"\d+\.\d+").unwrap();
    // The README shows the task id with Markdown escapes (`\-`).
    let text = text.replace("\\-", "-");
    let text = uuid.replace_all(&text, "<uuid>");
    let text = sha.replace_all(&text, "<sha>");
    let text = timing.replace_all(&text, "<n>");
    port.replace_all(&text, "127.0.0.1:<port>").into_owned()
}

#[tokio::test]
async fn a_new_app_whose_first_code_fails_is_fixed_in_round_two() {
    let script = Script::new()
        .on("plan", vec![plan(&["Show the menu"])])
        .on("story", vec![story_without_route()])
        .on("fix", vec![fix_with_route()])
        .on("review", vec![review("pass")]);
    let (stack, fake) = start(&script).await;
    let id = create(&stack, "pizzeria", json!({})).await;
    let task = stack.wait_finished(&id, FINISH).await;
    assert_eq!(task["status"], "deployed", "{task:#}");

    // Round 0 failed with structured errors from node's test runner; round 1 passed.
    let rounds = task["rounds"].as_array().expect("rounds");
    assert_eq!(rounds.len(), 2, "{rounds:#?}");
    assert_eq!(rounds[0]["test_passed"], false);
    assert!(
        rounds[0]["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["file"]
                .as_str()
                .is_some_and(|f| f.contains("menu.test.js")))),
        "structured errors name the failing test: {:#}",
        rounds[0]
    );
    assert_eq!(rounds[1]["test_passed"], true);
    assert!(
        task["gate"]["reasons"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("after 1 fix rounds")
    );
    let (status, menu) = fetch(&format!(
        "{}menu",
        task["deployment"]["url"].as_str().expect("url")
    ))
    .await;
    assert_eq!(
        (status, menu.contains("Margherita")),
        (200, true),
        "the fix is live"
    );
    assert_eq!(task["llm_mode"], "openai/scripted-coder");

    // Every call is accounted per stage.
    let usage = &task["llm_usage"];
    let by_stage: Vec<(String, u64)> = usage["by_stage"]
        .as_array()
        .expect("by_stage")
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap_or("").to_owned(),
                s["calls"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        by_stage,
        [
            ("plan".to_owned(), 1),
            ("codegen".to_owned(), 2),
            ("review".to_owned(), 4)
        ],
        "{usage:#}"
    );
    assert!(
        usage["input_tokens"].as_u64().unwrap_or(0) > 0
            && usage["cost_usd"].as_f64().unwrap_or(0.0) > 0.0
    );
    eprintln!("scripted new app LLM usage: {usage:#}");

    // No secret reached the model or any log.
    let requests = fake.requests();
    assert_eq!(requests.len(), 7);
    for r in &requests {
        assert!(
            !r.body.to_string().contains(KEY),
            "the API key is only ever a header"
        );
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
    }
    for entry in std::fs::read_dir(stack.env.data_path().join("logs")).expect("logs") {
        let text = std::fs::read_to_string(entry.expect("log").path()).unwrap_or_default();
        assert!(!text.contains(KEY), "a service log contains the API key");
    }

    // The transcript of this scripted task is a reviewed fixture: prompts change on purpose.
    let transcript: Vec<Value> = requests
        .iter()
        .map(|r| {
            json!({
                "stage": common::script::stage_of(r),
                "system": normalise(&r.system),
                "user": normalise(&r.last_user),
                "schema": r.body.pointer("/response_format/json_schema/name").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/transcript-new-app.json");
    let actual = serde_json::to_string_pretty(&transcript).expect("json") + "\n";
    if std::env::var_os("KILN_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &actual).expect("write snapshot");
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "the prompts changed; review the difference and, if it is intended, rerun with \
         KILN_UPDATE_SNAPSHOTS=1 and commit {}",
        path.display()
    );
}

#[tokio::test]
async fn a_model_that_never_fixes_it_stops_after_max_fix_rounds() {
    let script = Script::new()
        .on("plan", vec![plan(&["Show the menu"])])
        .on("story", vec![story_without_route()])
        .on("fix", vec![useless_fix(1), useless_fix(2), useless_fix(3)])
        .on("review", vec![review("pass")]);
    let (stack, _fake) = start(&script).await;
    let id = create(&stack, "hopeless", json!({"max_fix_rounds": 2})).await;
    let task = stack.wait_finished(&id, FINISH).await;
    assert_eq!(task["status"], "blocked", "{task:#}");
    assert_eq!(
        task["rounds"].as_array().map(Vec::len),
        Some(3),
        "round 0 and two fix rounds"
    );
    assert!(
        reason_codes(&task).contains(&"hard:fix_rounds_exhausted".to_owned()),
        "{:?}",
        reason_codes(&task)
    );
    assert!(
        task["status_reason"]
            .as_str()
            .unwrap_or("")
            .contains("after 2 fix rounds")
    );
    assert_eq!(script.calls("fix"), 2);
}

#[tokio::test]
async fn a_fix_round_that_repeats_an_earlier_one_stops_as_stuck() {
    let script = Script::new()
        .on("plan", vec![plan(&["Show the menu"])])
        .on("story", vec![story_without_route()])
        // A model oscillating between two broken versions: round 3 repeats round 1.
        .on("fix", vec![flip(), flop(), flip(), flop(), flip()])
        .on("review", vec![review("pass")]);
    let (stack, _fake) = start(&script).await;
    let id = create(&stack, "stuckapp", json!({"max_fix_rounds": 5})).await;
    let task = stack.wait_finished(&id, FINISH).await;
    assert_eq!(task["status"], "blocked", "{task:#}");
    assert!(
        reason_codes(&task).contains(&"hard:stuck".to_owned()),
        "{:?}",
        reason_codes(&task)
    );
    assert!(
        task["status_reason"]
            .as_str()
            .unwrap_or("")
            .contains("fix round 3 repeated round 1"),
        "{}",
        task["status_reason"]
    );
    assert_eq!(
        script.calls("fix"),
        3,
        "stopped early, well before five rounds"
    );
}

#[tokio::test]
async fn the_fallback_model_answers_when_the_primary_keeps_failing() {
    let script = Script::new()
        .on("plan", vec![plan(&["Show the menu"])])
        .on("story", vec![story_with_route()])
        .on("review", vec![review("pass")])
        .provider("openai", Say::Status(500));
    let fake = script.serve().await;
    let mut env = llm_env(&fake, KEY);
    env.push(("KILN_LLM_FALLBACK_PROVIDER".into(), "anthropic".into()));
    env.push(("KILN_LLM_FALLBACK_BASE_URL".into(), fake.anthropic_base()));
    env.push(("KILN_LLM_FALLBACK_MODEL".into(), "scripted-fallback".into()));
    env.push((
        "KILN_LLM_FALLBACK_API_KEY".into(),
        "fallback-key-0123456789".into(),
    ));
    let stack = Stack::start_with(TestEnv::new().await, env!("CARGO_BIN_EXE_kiln"), env).await;
    let id = create(&stack, "fallback", json!({})).await;
    let task = stack.wait_finished(&id, FINISH).await;
    assert_eq!(task["status"], "deployed", "{task:#}");
    let rows = sqlx::query(
        "SELECT provider, outcome, count(*) AS n FROM llm_calls GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(&stack.env.pool)
    .await
    .expect("calls");
    let rows: Vec<(String, String, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(
        rows.iter()
            .any(|(p, o, n)| p == "openai" && o == "error" && *n >= 12),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|(p, o, n)| p == "anthropic" && o == "ok" && *n == 6),
        "{rows:?}"
    );
    assert!(fake.requests().iter().any(|r| r.provider == "anthropic"));
}

#[tokio::test]
async fn a_budget_pauses_the_task_and_approval_with_a_raised_budget_resumes_it() {
    let script = Script::new()
        .on("plan", vec![plan(&["Show the menu"])])
        .on("story", vec![story_with_route()])
        .on("review", vec![review("pass")]);
    let (stack, _fake) = start(&script).await;
    // Planner and one story fit in 3 calls; the four reviewers do not.
    let id = create(&stack, "thrifty", json!({"budget": {"max_calls": 3}})).await;
    let waiting = wait_status(&stack, &id, "awaiting_budget_approval").await;
    assert_eq!(waiting["awaiting"]["kind"], "budget_approval");
    assert_eq!(waiting["awaiting"]["figures"]["limit"], "calls");
    assert!(
        waiting["status_reason"]
            .as_str()
            .unwrap_or("")
            .contains("3 of 3"),
        "{}",
        waiting["status_reason"]
    );
    assert_eq!(waiting["budget"]["used"]["calls"], 3);
    let commits_before = waiting["commits"].clone();

    let (status, body) = decide(&stack, &id, "approve", json!({"actor": "ada"})).await;
    assert_eq!(status, 422, "resuming needs a raised budget: {body:#}");
    let (status, _) = decide(
        &stack,
        &id,
        "approve",
        json!({"actor": "ada", "budget": {"max_calls": 20}}),
    )
    .await;
    assert_eq!(status, 200);
    let task = stack.wait_finished(&id, FINISH).await;
    assert_eq!(task["status"], "deployed", "{task:#}");
    assert_eq!(
        task["commits"], commits_before,
        "work done before the pause was kept"
    );
    assert_eq!(task["budget"]["limits"]["max_calls"], 20);
    assert_eq!(task["approvals"][0]["kind"], "budget_approval");
    assert_eq!(task["approvals"][0]["actor"], "ada");
}

#[tokio::test]
async fn clarifying_questions_wait_for_answers_and_planning_resumes_with_them() {
    let script = Script::new()
        .on("plan", vec![
            Say::Json(json!({"epic": "", "stories": [], "questions": ["Which pizzas should the menu list?"]})),
            plan(&["Show the menu"]),
        ])
        .on("story", vec![story_with_route()])
        .on("review", vec![review("pass")]);
    let (stack, fake) = start(&script).await;
    let id = create(&stack, "curious", json!({})).await;
    let waiting = wait_status(&stack, &id, "awaiting_clarification").await;
    let question = &waiting["clarifications"][0];
    assert_eq!(question["question"], "Which pizzas should the menu list?");
    let qid = question["id"].as_str().expect("question id");
    let (status, _) = decide(&stack, &id, "answers", json!({"answers": []})).await;
    assert_eq!(status, 422, "every question needs an answer");
    let (status, _) = decide(
        &stack,
        &id,
        "answers",
        json!({"answers": [{"id": qid, "answer": "Margherita and Diavola"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let task = stack.wait_finished(&id, FINISH).await;
    assert_eq!(task["status"], "deployed", "{task:#}");
    let replan = fake
        .requests()
        .into_iter()
        .filter(|r| common::script::stage_of(r) == "plan")
        .nth(1)
        .expect("second plan call");
    assert!(
        replan
            .last_user
            .contains("Q: Which pizzas should the menu list?\nA: Margherita and Diavola")
    );
    assert!(replan.system.contains("Do not ask questions"));
}

#[tokio::test]
async fn a_rejected_plan_is_replanned_with_the_feedback_then_approved() {
    let script = Script::new()
        .on(
            "plan",
            vec![
                plan(&["Show the menu", "Take orders", "Track deliveries"]),
                plan(&["Show the menu"]),
            ],
        )
        .on("story", vec![story_with_route()])
        .on("review", vec![review("pass")]);
    let (stack, fake) = start(&script).await;
    let id = create(&stack, "approved", json!({"approval": "plan"})).await;
    let first = wait_status(&stack, &id, "awaiting_plan_approval").await;
    assert_eq!(first["plan"]["stories"].as_array().map(Vec::len), Some(3));
    let (status, _) = decide(
        &stack,
        &id,
        "reject",
        json!({"actor": "ada", "feedback": "Only the menu for now"}),
    )
    .await;
    assert_eq!(status, 200);
    // The re-plan waits for approval again (the policy still asks for it).
    let second = TestEnv::eventually("the re-plan", Duration::from_secs(120), || async {
        let t = stack.task(&id).await;
        (t["status"] == "awaiting_plan_approval"
            && t["plan"]["stories"].as_array().map(Vec::len) == Some(1))
        .then_some(t)
    })
    .await;
    assert_eq!(second["approvals"][0]["decision"], "reject");
    let replan = fake
        .requests()
        .into_iter()
        .filter(|r| common::script::stage_of(r) == "plan")
        .nth(1)
        .expect("re-plan call");
    assert!(
        replan
            .last_user
            .contains("<<<FEEDBACK\nOnly the menu for now\nFEEDBACK>>>")
    );
    let (status, _) = decide(&stack, &id, "approve", json!({"actor": "ada"})).await;
    assert_eq!(status, 200);
    let task = stack.wait_finished(&id, FINISH).await;
    assert_eq!(task["status"], "deployed", "{task:#}");
    // The rejection became a lesson for the project.
    let memory: Value = stack
        .http
        .get(format!("{}/api/v1/projects/approved/memory", stack.api))
        .send()
        .await
        .expect("memory")
        .json()
        .await
        .expect("json");
    assert!(
        memory["items"]
            .to_string()
            .contains("Only the menu for now"),
        "{memory:#}"
    );
}

#[tokio::test]
async fn weakening_existing_tests_is_blocked_by_the_tamper_guard() {
    // The story "passes" by skipping the template's own test of the page.
    let tamper = Say::Text(
        "test/app.test.js\n<<<<<<< SEARCH\ntest('GET / shows the title, brief and every story with its acceptance criteria', async () => {\n=======\ntest.skip('GET / shows the title, brief and every story with its acceptance criteria', async () => {\n>>>>>>> REPLACE\n"
            .into(),
    );
    let script = Script::new()
        .on("plan", vec![plan(&["Show the menu"])])
        .on("story", vec![tamper])
        .on("review", vec![review("pass")]);
    let (stack, _fake) = start(&script).await;
    let id = create(&stack, "tampered", json!({})).await;
    let task = stack.wait_finished(&id, FINISH).await;
    assert_eq!(task["status"], "blocked", "{task:#}");
    assert!(
        reason_codes(&task).contains(&"hard:tamper_guard".to_owned()),
        "{:?}",
        reason_codes(&task)
    );
}

#[tokio::test]
async fn a_reviewer_block_stops_the_release_and_a_person_can_override_it() {
    let block = Say::Json(json!({"verdict": "block", "summary": "unsafe",
        "findings": [{"file": "app.js", "line": 3, "severity": "critical", "message": "menu is served without escaping"}]}));
    let script = Script::new()
        .on("plan", vec![plan(&["Show the menu"])])
        .on("story", vec![story_with_route()])
        .on("review:security", vec![block])
        .on("review", vec![review("pass")]);
    let (stack, _fake) = start(&script).await;
    let id = create(&stack, "overridden", json!({})).await;
    let blocked = stack.wait_finished(&id, FINISH).await;
    assert_eq!(blocked["status"], "blocked", "{blocked:#}");
    assert!(
        reason_codes(&blocked).contains(&"hard:review_blocked".to_owned()),
        "{:?}",
        reason_codes(&blocked)
    );
    let (status, body) = decide(&stack, &id, "approve", json!({"actor": "ada"})).await;
    assert_eq!(status, 422, "an override needs a reason: {body:#}");
    let (status, _) = decide(
        &stack,
        &id,
        "approve",
        json!({"actor": "ada", "reason": "plain text menu, nothing to escape"}),
    )
    .await;
    assert_eq!(status, 200);
    let task = stack.wait_finished(&id, FINISH).await;
    assert_eq!(task["status"], "deployed", "{task:#}");
    assert_eq!(task["gate"]["decided_by"], "person:ada");
    assert!(
        task["gate"]["reasons"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("plain text menu")
    );
}

#[tokio::test]
async fn a_destructive_revision_is_blocked_by_the_safety_gate_with_the_numbers() {
    let gut = Say::Text(
        "DELETE: public/styles.css\nDELETE: README.md\nFILE: views/index.ejs\n```html\n<!doctype html><title><%= kiln.title %></title><h1><%= kiln.title %></h1>\n```\n"
            .into(),
    );
    let script = Script::new()
        .on(
            "plan",
            vec![plan(&["Show the menu"]), plan(&["Simplify the page"])],
        )
        .on("story", vec![story_with_route(), gut])
        .on("review", vec![review("pass")]);
    let (stack, _fake) = start(&script).await;
    let id = create(&stack, "revised", json!({})).await;
    assert_eq!(stack.wait_finished(&id, FINISH).await["status"], "deployed");
    let (status, created) = stack
        .post_task(
            &json!({"kind": "revision", "project": "revised", "brief": "Make the page minimal.",
                    "options": {"max_fix_rounds": 0}}),
            None,
        )
        .await;
    assert_eq!(status, 202, "{created:#}");
    let rev = created["id"].as_str().expect("id").to_owned();
    let task = stack.wait_finished(&rev, FINISH).await;
    assert_eq!(task["status"], "blocked", "{task:#}");
    let reasons = task["gate"]["reasons"].to_string();
    assert!(
        reason_codes(&task).contains(&"hard:safety_gate".to_owned()),
        "{reasons}"
    );
    assert!(
        reasons.contains("lines") && reasons.contains('%'),
        "the numbers are given: {reasons}"
    );
    // The deployed app is untouched.
    let first = stack.task(&id).await;
    assert_eq!(
        fetch(first["deployment"]["url"].as_str().expect("url"))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn invalid_output_is_repaired_once_and_otherwise_fails_clearly() {
    let bad_edit = Say::Text(
        "app.js\n<<<<<<< SEARCH\nthis line is not in app.js\n=======\nanything\n>>>>>>> REPLACE\n"
            .into(),
    );
    let script = Script::new()
        // Task one: the plan is repaired by one re-ask. Task two: it never becomes valid.
        .on(
            "plan",
            vec![
                Say::Text("Sure! Here is the plan.".into()),
                plan(&["Show the menu"]),
                Say::Text("no".into()),
            ],
        )
        // The first edit does not apply; the model gets the precise error and corrects it.
        .on("story", vec![bad_edit, story_with_route()])
        .on("review", vec![review("pass")]);
    let (stack, fake) = start(&script).await;
    let id = create(&stack, "repaired", json!({})).await;
    let task = stack.wait_finished(&id, FINISH).await;
    assert_eq!(task["status"], "deployed", "{task:#}");
    let requests = fake.requests();
    let replan = requests
        .iter()
        .filter(|r| common::script::stage_of(r) == "plan")
        .nth(1)
        .expect("re-ask");
    assert!(
        replan
            .last_user
            .contains("Your reply was invalid: not JSON matching the schema"),
        "{}",
        replan.last_user
    );
    let reedit = requests
        .iter()
        .filter(|r| common::script::stage_of(r) == "story")
        .nth(1)
        .expect("edit re-ask");
    assert!(
        reedit.last_user.contains("Your edits could not be applied"),
        "{}",
        reedit.last_user
    );
    assert!(
        reedit.last_user.contains("app.js"),
        "the error names the file: {}",
        reedit.last_user
    );

    let id = create(&stack, "hopelessplan", json!({})).await;
    let task = stack.wait_finished(&id, FINISH).await;
    assert_eq!(task["status"], "failed", "{task:#}");
    let reason = task["status_reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("model output invalid after a repair attempt"),
        "{reason}"
    );
    assert_eq!(script.calls("plan"), 4, "one re-ask, not a loop");
}

/// A whole-file edit of static-site's stylesheet: a real change that shows nothing new.
fn restyle(colour: &str) -> Say {
    Say::Text(format!(
        "FILE: styles.css\n```css\nbody {{ font-family: sans-serif; color: {colour}; }}\n```\n"
    ))
}

#[tokio::test]
async fn a_revision_that_fails_verification_over_ssh_rolls_back_to_the_verified_release() {
    let host = kiln_testkit::ssh_host::SshHost::start();
    // The second plan promises a story the model never puts on the page: tests pass (the
    // page still matches kiln.json), but the live page lacks it and verification fails.
    let script = Script::new()
        .on(
            "plan",
            vec![plan(&["Show the menu"]), plan(&["Opening hours"])],
        )
        .on("story", vec![restyle("black"), restyle("navy")])
        .on("review", vec![review("pass")]);
    let fake = script.serve().await;
    let mut env = llm_env(&fake, KEY);
    let target = |k: &str, v: String| (format!("KILN_DEPLOYER__TARGETS__WEB__{k}"), v);
    env.extend([
        target("KIND", "ssh".into()),
        target("HOST", host.host.clone()),
        target("PORT", host.port.to_string()),
        target("USER", host.user.clone()),
        target("IDENTITY_FILE", host.identity_file.display().to_string()),
        target(
            "KNOWN_HOSTS_FILE",
            host.known_hosts_file.display().to_string(),
        ),
        target("REMOTE_ROOT", host.remote_root.display().to_string()),
        target("PUBLIC_URL", host.public_url.clone()),
        target("NGINX_APPS_DIR", host.nginx_apps_dir.display().to_string()),
        target("NGINX_TEST", host.nginx_test.clone()),
        target("NGINX_RELOAD", host.nginx_reload.clone()),
    ]);
    let stack = Stack::start_with(TestEnv::new().await, env!("CARGO_BIN_EXE_kiln"), env).await;

    let (status, body) = stack
        .post_task(
            &json!({"kind": "new_app", "template": "static-site", "name": "diner",
                    "brief": "A diner's page with its menu.",
                    "options": {"deploy_target": "web"}}),
            None,
        )
        .await;
    assert_eq!(status, 202, "{body:#}");
    let first = body["id"].as_str().expect("id").to_owned();
    let first = stack.wait_finished(&first, FINISH).await;
    assert_eq!(first["status"], "deployed", "{first:#}");
    let url = first["deployment"]["url"].as_str().expect("url").to_owned();
    assert!(
        url.starts_with(&host.public_url),
        "served by the ssh host's nginx: {url}"
    );
    let sha1 = first["deployment"]["commit_sha"]
        .as_str()
        .expect("sha")
        .to_owned();
    assert_eq!(fetch(&format!("{url}__kiln/version")).await.1.trim(), sha1);

    let (status, body) = stack
        .post_task(
            &json!({"kind": "revision", "project": "diner",
                    "brief": "Show the opening hours.", "options": {"max_fix_rounds": 0}}),
            None,
        )
        .await;
    assert_eq!(status, 202, "{body:#}");
    let rev = body["id"].as_str().expect("id").to_owned();
    let rev = stack.wait_finished(&rev, FINISH).await;
    assert_eq!(rev["status"], "rolled_back", "{rev:#}");
    // The reason names what the live page lacked and what is live instead.
    let reason = rev["status_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("is missing") && reason.contains("Opening hours"),
        "{rev:#}"
    );
    assert!(
        reason.contains(&format!("rolled back to {}", &sha1[..12])),
        "{reason}"
    );
    // Both attempts are on record: the release that failed and the earlier one, live again.
    let mut conn = stack.env.pool.acquire().await.expect("db");
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT d.commit_sha, d.status, d.target FROM deployments d \
         WHERE d.task_id = $1 ORDER BY d.created_at",
    )
    .bind(uuid::Uuid::parse_str(rev["id"].as_str().unwrap()).unwrap())
    .fetch_all(&mut *conn)
    .await
    .expect("deployments");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].1, "rolled_back", "{rows:?}");
    assert_ne!(rows[0].0, sha1, "the failed attempt is the new commit");
    assert_eq!(
        (rows[1].0.as_str(), rows[1].1.as_str()),
        (sha1.as_str(), "live")
    );
    assert_eq!(rows[1].2, "web");
    // nginx serves the verified release again.
    assert_eq!(fetch(&format!("{url}__kiln/version")).await.1.trim(), sha1);
    let (code, page) = fetch(&url).await;
    assert_eq!(code, 200);
    assert!(!page.contains("Opening hours"), "{page}");
}

/// Every ref of the project's repository, as `git for-each-ref` prints them.
fn remote_refs(stack: &Stack, project: &str) -> String {
    let repo = stack
        .env
        .data_path()
        .join("git")
        .join(format!("{project}.git"));
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(&repo)
        .args(["for-each-ref", "--format=%(refname) %(objectname)"])
        .output()
        .expect("git runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn set_pause(stack: &Stack, body: Value) -> Value {
    let resp = stack
        .http
        .put(format!("{}/api/v1/system/pause", stack.api))
        .json(&body)
        .send()
        .await
        .expect("pause request");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("pause view")
}

#[tokio::test]
async fn a_pause_stops_every_side_effect_and_resume_finishes_the_task_with_nothing_lost() {
    let script = Script::new()
        .on("plan", vec![plan(&["Show the menu"])])
        .on("story", vec![story_with_route()])
        .on("review", vec![review("pass")]);
    let (stack, fake) = start(&script).await;
    let id = create(&stack, "paused-shop", json!({"approval": "plan"})).await;
    let waiting = wait_status(&stack, &id, "awaiting_plan_approval").await;
    assert_eq!(waiting["plan"]["stories"].as_array().map(Vec::len), Some(1));

    // Every service hears the pause at once (and reads the flag before each side effect).
    let paused = set_pause(&stack, json!({"paused": true, "reason": "incident 42"})).await;
    assert_eq!(paused["paused"], true);
    let reached: Vec<&str> = paused["reached"]
        .as_array()
        .expect("reached")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for service in kiln_testkit::stack::SERVICES {
        assert!(
            reached.iter().any(|w| w.starts_with(service)),
            "{service} did not acknowledge the pause: {paused:#}"
        );
    }
    eprintln!(
        "pause reached {} workers in {} ms",
        reached.len(),
        paused["reach_ms"]
    );

    // Approving the plan sends work on, which parks at its first side effect.
    let calls_before = fake.requests().len();
    let refs_before = remote_refs(&stack, "paused-shop");
    let (status, body) = decide(&stack, &id, "approve", json!({"actor": "ada"})).await;
    assert_eq!(status, 200, "{body:#}");
    let parked = wait_status(&stack, &id, "paused").await;
    assert!(
        parked["status_reason"]
            .as_str()
            .unwrap_or("")
            .contains("incident 42"),
        "{parked:#}"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(stack.task(&id).await["status"], "paused");
    assert_eq!(
        fake.requests().len(),
        calls_before,
        "no model call while paused"
    );
    assert_eq!(
        remote_refs(&stack, "paused-shop"),
        refs_before,
        "no push while paused"
    );
    assert!(parked["deployments"].as_array().is_none_or(Vec::is_empty));

    // A paused task cannot be approved around the switch.
    let (status, _) = decide(&stack, &id, "approve", json!({"actor": "ada"})).await;
    assert_eq!(status, 409);

    let resumed = set_pause(&stack, json!({"paused": false})).await;
    assert_eq!(resumed["paused"], false);
    assert_eq!(resumed["resumed_tasks"], 1);
    let task = stack.wait_finished(&id, FINISH).await;
    assert_eq!(task["status"], "deployed", "{task:#}");
    assert_eq!(task["approvals"][0]["kind"], "plan_approval");
    assert!(
        fake.requests().len() > calls_before,
        "work went on after resume"
    );
    assert_ne!(
        remote_refs(&stack, "paused-shop"),
        refs_before,
        "the code was pushed"
    );

    let audit: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, actor FROM audit_log WHERE action LIKE 'system.%' ORDER BY id",
    )
    .fetch_all(&stack.env.pool)
    .await
    .expect("audit");
    assert_eq!(
        audit,
        [
            ("system.pause".into(), "admin".into()),
            ("system.resume".into(), "admin".into())
        ]
    );
}
