//! Reading: task pages and filters, the full task record, cancellation, templates, projects
//! and the OpenAPI document.

use std::collections::HashSet;
use std::time::Duration;

use kiln_contracts::TaskEvent;
use kiln_store::records::{
    self, CommitRecord, Deployment, Finding, GateDecision, Plan, Reason, Review, Story,
};
use prost::Message;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{Api, assert_problem};

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn pages_filters_and_bad_queries() {
    let api = Api::start().await;
    let mut created = Vec::new();
    for name in ["app-a", "app-b", "app-c", "app-d", "app-e"] {
        created.push(
            api.create(name).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut path = "/api/v1/tasks?limit=2".to_owned();
    loop {
        let page: Value = api.get(&path).await.json().await.expect("page");
        let page_ids = ids(&page);
        sizes.push(page_ids.len());
        seen.extend(page_ids);
        let summary = &page["items"][0];
        assert!(
            summary.get("stages").is_none() && summary.get("plan").is_none(),
            "{summary}"
        );
        assert!(summary.get("deployment_url").is_some(), "{summary}");
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/tasks?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(seen, newest_first, "no overlap, newest first, stable order");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 5);

    let all: Value = api.get("/api/v1/tasks").await.json().await.expect("page");
    assert_eq!(ids(&all), newest_first);
    assert_eq!(all["next_cursor"], Value::Null);
    // The design's URL template sends empty parameters; they mean "not given".
    let blank: Value = api
        .get("/api/v1/tasks?status=&project=&cursor=&limit=")
        .await
        .json()
        .await
        .expect("page");
    assert_eq!(ids(&blank), newest_first);

    let cancelled = &created[2];
    let resp = api
        .http
        .post(api.url(&format!("/api/v1/tasks/{cancelled}/cancel")))
        .send()
        .await
        .expect("cancel");
    assert_eq!(resp.status(), 200);
    let page: Value = api
        .get("/api/v1/tasks?status=cancelled")
        .await
        .json()
        .await
        .expect("page");
    assert_eq!(ids(&page), [cancelled.as_str()]);
    let page: Value = api
        .get("/api/v1/tasks?status=queued&limit=100")
        .await
        .json()
        .await
        .expect("page");
    assert_eq!(page["items"].as_array().expect("items").len(), 4);
    let page: Value = api
        .get("/api/v1/tasks?project=app-d")
        .await
        .json()
        .await
        .expect("page");
    assert_eq!(ids(&page), [created[3].as_str()]);
    let page: Value = api
        .get("/api/v1/tasks?project=app-d&status=cancelled")
        .await
        .json()
        .await
        .expect("page");
    assert_eq!(ids(&page), Vec::<String>::new());

    for (query, needle) in [
        (
            "limit=0",
            "limit must be an integer from 1 to 100, got \"0\"",
        ),
        ("limit=101", "got \"101\""),
        ("limit=many", "got \"many\""),
        (
            "status=done",
            "unknown status \"done\"; known statuses: queued, planning",
        ),
        (
            "cursor=bogus",
            "cursor \"bogus\" is not one this API issued",
        ),
        ("cursor=AAAA", "is not one this API issued"),
        ("sort=name", "unknown field `sort`"),
    ] {
        assert_problem(
            api.get(&format!("/api/v1/tasks?{query}")).await,
            400,
            needle,
        )
        .await;
    }
    api.stop().await;
}

#[tokio::test]
async fn a_task_reads_back_with_every_record() {
    let api = Api::start().await;
    let task = api.create("shop").await;
    let id = Uuid::parse_str(task["id"].as_str().expect("id")).expect("uuid");

    // What the stages would have written.
    let db = &api.env.pool;
    let mut tx = db.begin().await.expect("tx");
    let key = records::RunKey {
        task_id: id,
        stage: "plan",
        round: 0,
        attempt: 1,
    };
    records::start_stage_run(&mut tx, key, "planner-1")
        .await
        .expect("stage run");
    records::finish_stage_run(&mut *tx, key, "succeeded", "2 stories planned")
        .await
        .expect("finish");
    records::insert_plan(
        &mut tx,
        id,
        &Plan {
            epic: "Shop".into(),
            planner: "offline".into(),
            stories: vec![Story {
                title: "Cart".into(),
                description: "A cart".into(),
                acceptance: vec!["adds items".into()],
            }],
        },
    )
    .await
    .expect("plan");
    let commit = CommitRecord {
        round: 0,
        sha: "abc123".into(),
        branch: format!("kiln/{id}"),
        message: "scaffold".into(),
        files_changed: 3,
        insertions: 40,
        deletions: 0,
        protected_paths: vec![],
    };
    records::insert_commit(&mut *tx, id, &commit)
        .await
        .expect("commit");
    records::insert_review(
        &mut tx,
        id,
        &Review {
            round: 0,
            reviewer: "security".into(),
            verdict: "pass".into(),
            summary: "fine".into(),
            findings: vec![Finding {
                rule: "no-eval".into(),
                severity: "info".into(),
                file: None,
                line: None,
                message: "ok".into(),
            }],
        },
    )
    .await
    .expect("review");
    records::insert_gate_decision(
        &mut *tx,
        id,
        &GateDecision {
            round: 0,
            decision: "approved".into(),
            reasons: vec![Reason {
                code: "all_green".into(),
                kind: "info".into(),
                message: "tests and reviews pass".into(),
            }],
            decided_by: "gate".into(),
        },
    )
    .await
    .expect("gate");
    let project_id: Uuid = sqlx::query_scalar("SELECT id FROM projects WHERE name = 'shop'")
        .fetch_one(&mut *tx)
        .await
        .expect("project id");
    records::insert_deployment(
        &mut tx,
        project_id,
        &Deployment {
            id: Uuid::now_v7(),
            task_id: id,
            project: "shop".into(),
            commit_sha: "abc123".into(),
            target: "local".into(),
            url: "http://127.0.0.1:9000/shop/".into(),
            status: "live".into(),
            verification: json!({"ok": true, "checks": []}),
            created_at: time::OffsetDateTime::now_utc(),
        },
    )
    .await
    .expect("deployment");
    tx.commit().await.expect("commit tx");

    let full: Value = api
        .get(&format!("/api/v1/tasks/{id}"))
        .await
        .json()
        .await
        .expect("task");
    let stage = &full["stages"][0];
    assert_eq!(
        (stage["stage"].as_str(), stage["status"].as_str()),
        (Some("plan"), Some("succeeded"))
    );
    assert_eq!(stage["worker"], "planner-1");
    assert!(
        stage["duration_ms"].is_i64() && stage["finished_at"].is_string(),
        "{stage}"
    );
    assert_eq!(
        full["plan"]["stories"][0]["acceptance"],
        json!(["adds items"])
    );
    assert_eq!(full["commits"][0]["sha"], "abc123");
    assert_eq!(full["test_runs"], json!([]));
    assert_eq!(full["reviews"][0]["findings"][0]["rule"], "no-eval");
    assert_eq!(full["gate"]["reasons"][0]["code"], "all_green");
    assert_eq!(full["deployment"]["url"], "http://127.0.0.1:9000/shop/");
    assert_eq!(full["deployment"]["verification"]["ok"], true);
    assert_eq!(
        full["deployments"].as_array().expect("deployments").len(),
        1
    );
    assert_eq!(full["deployment_url"], "http://127.0.0.1:9000/shop/");

    let page: Value = api.get("/api/v1/tasks").await.json().await.expect("page");
    assert_eq!(
        page["items"][0]["deployment_url"],
        "http://127.0.0.1:9000/shop/"
    );
    let projects: Value = api
        .get("/api/v1/projects")
        .await
        .json()
        .await
        .expect("projects");
    let project = &projects["items"][0];
    assert_eq!(project["name"], "shop");
    assert_eq!(project["template"], "static-site");
    assert_eq!(project["deployment_url"], "http://127.0.0.1:9000/shop/");
    assert_eq!(project["last_task_id"], id.to_string());
    assert_eq!(project["last_status"], "queued");

    assert_problem(
        api.get(&format!("/api/v1/tasks/{}", Uuid::now_v7())).await,
        404,
        "no task with id",
    )
    .await;
    assert_problem(
        api.get("/api/v1/tasks/not-a-uuid").await,
        400,
        "invalid task id \"not-a-uuid\"",
    )
    .await;
    api.stop().await;
}

#[tokio::test]
async fn cancel_moves_an_unfinished_task_once() {
    let api = Api::start().await;
    let id = api.create("demo").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let resp = api
        .http
        .post(api.url(&format!("/api/v1/tasks/{id}/cancel")))
        .send()
        .await
        .expect("cancel");
    assert_eq!(resp.status(), 200);
    let task: Value = resp.json().await.expect("task");
    assert_eq!(task["status"], "cancelled");
    assert_eq!(task["status_reason"], "cancelled by a person");
    assert!(task["finished_at"].is_string(), "{task}");

    let subjects = api.env.subjects();
    let events = api
        .messages(
            &subjects.events_stream().name,
            &subjects.event(&id, "cancelled"),
            1,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(events.len(), 1, "one cancelled event");
    let event = TaskEvent::decode(events[0].payload.clone()).expect("event");
    assert_eq!(
        (event.kind.as_str(), event.status.as_str()),
        ("cancelled", "cancelled")
    );
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id")
        .fetch_all(&api.env.pool)
        .await
        .expect("audit");
    assert_eq!(actions, ["task.created", "task.cancelled"]);

    let again = api
        .http
        .post(api.url(&format!("/api/v1/tasks/{id}/cancel")))
        .send()
        .await
        .expect("cancel");
    assert_problem(again, 409, &format!("task {id} is already cancelled")).await;
    let unknown = Uuid::now_v7();
    let resp = api
        .http
        .post(api.url(&format!("/api/v1/tasks/{unknown}/cancel")))
        .send()
        .await
        .expect("cancel");
    assert_problem(resp, 404, &format!("no task with id {unknown}")).await;
    let resp = api
        .http
        .post(api.url("/api/v1/tasks/42/cancel"))
        .send()
        .await
        .expect("cancel");
    assert_problem(resp, 400, "invalid task id \"42\"").await;
    assert_eq!(
        api.count("audit_log").await,
        2,
        "refused cancels leave no trace"
    );
    api.stop().await;
}

#[tokio::test]
async fn templates_projects_and_openapi() {
    let api = Api::start().await;
    let templates: Value = api
        .get("/api/v1/templates")
        .await
        .json()
        .await
        .expect("templates");
    let items = templates["items"].as_array().expect("items");
    let names: Vec<&str> = items.iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(
        names.contains(&"static-site") && names.contains(&"node-express"),
        "{names:?}"
    );
    for t in items {
        for field in ["title", "description", "stack"] {
            assert!(
                t[field].as_str().is_some_and(|s| !s.is_empty()),
                "{field} of {t}"
            );
        }
        let missing = t["missing_toolchains"]
            .as_array()
            .expect("missing_toolchains");
        assert!(t["requires"].is_array() && t["deploy"].is_array(), "{t}");
        assert_eq!(t["available"], missing.is_empty(), "{t}");
    }

    let empty: Value = api
        .get("/api/v1/projects")
        .await
        .json()
        .await
        .expect("projects");
    assert_eq!(empty, json!({"items": []}));
    api.create("zeta").await;
    let task = api.create("alpha").await;
    let projects: Value = api
        .get("/api/v1/projects")
        .await
        .json()
        .await
        .expect("projects");
    let items = projects["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["name"], "alpha", "sorted by name");
    assert_eq!(items[0]["last_task_id"], task["id"]);
    assert_eq!(items[0]["last_status"], "queued");
    assert_eq!(items[0]["deployment_url"], Value::Null);

    let resp = api.get("/api/openapi.json").await;
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.expect("openapi json");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    for (path, method) in [
        ("/api/v1/tasks", "post"),
        ("/api/v1/tasks", "get"),
        ("/api/v1/tasks/{id}", "get"),
        ("/api/v1/tasks/{id}/cancel", "post"),
        ("/api/v1/templates", "get"),
        ("/api/v1/projects", "get"),
        ("/ws/logs", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    assert_eq!(
        doc["paths"]["/api/v1/tasks"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/CreateTask"
    );
    assert!(doc["components"]["schemas"]["TaskDetail"].is_object());
    assert!(doc["components"]["schemas"]["Problem"]["properties"]["detail"].is_object());
    api.stop().await;
}
