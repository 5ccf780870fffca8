//! Who may steer Kiln: tokens, roles, dashboard sessions with CSRF, self-approval, rate limits,
//! the token API and the audit trail of every refusal.

use kiln_store::auth::Role;
use kiln_testkit::TestEnv;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Row;

use crate::common::{Api, assert_problem, task_body};

/// Every operation the OpenAPI document lists, with the role it declares.
fn operations() -> Vec<(Method, String, String)> {
    let doc = serde_json::to_value(kiln_api::openapi::document()).expect("document");
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let role = op[kiln_api::openapi::ROLE_EXTENSION]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} declares no role"))
                .to_owned();
            ops.push((method, path.clone(), role));
        }
    }
    ops
}

/// A concrete URL path for a templated one; the values only need to parse.
fn concrete(path: &str) -> String {
    path.replace("{id}", "0190a0b0-0000-7000-8000-000000000001")
        .replace("{name}", "demo")
        .replace("{round}", "1")
}

async fn send(http: &reqwest::Client, api: &Api, method: &Method, path: &str) -> reqwest::Response {
    http.request(method.clone(), api.url(&concrete(path)))
        .json(&json!({}))
        .send()
        .await
        .expect("answered")
}

#[tokio::test]
async fn every_operation_in_the_document_refuses_no_token_a_bad_one_and_a_weaker_role() {
    let api = Api::start().await;
    let ops = operations();
    assert!(
        ops.len() >= 25,
        "the document lists every operation: {ops:?}"
    );

    let wrong = TestEnv::client_with_token(
        "kiln_0000000000000000000000000000000000000000000000000000000000000000",
    );
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let secret = api.env.token(&format!("as-{role}"), role).await;
        tokens.push((role, TestEnv::client_with_token(&secret)));
    }
    let revoked_secret = api.env.token("revoked", Role::Admin).await;
    let mut conn = api.env.pool.acquire().await.expect("conn");
    assert!(
        kiln_store::auth::revoke_token(&mut conn, "revoked")
            .await
            .expect("revoke")
            .is_some(),
        "revoked"
    );
    drop(conn);
    let revoked = TestEnv::client_with_token(&revoked_secret);

    let mut checked = 0;
    for (method, path, declared) in &ops {
        if declared == "none" {
            continue;
        }
        let needed: Role = declared.parse().expect("a role name");
        for (who, client) in [
            ("no token", &api.anonymous),
            ("a wrong token", &wrong),
            ("a revoked token", &revoked),
        ] {
            let resp = send(client, &api, method, path).await;
            assert_problem(resp, 401, "").await;
            let _ = who;
        }
        for (role, client) in &tokens {
            let resp = send(client, &api, method, path).await;
            let status = resp.status().as_u16();
            if role.allows(needed) {
                assert!(
                    status != 401 && status != 403,
                    "{method} {path} refused {role} ({status}) though it needs only {needed}"
                );
            } else {
                let body = assert_problem(resp, 403, &format!("needs the {needed} role")).await;
                assert!(
                    body["detail"]
                        .as_str()
                        .unwrap_or_default()
                        .contains(role.as_str()),
                    "{body}"
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 24, "checked {checked} guarded operations");

    let denied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'auth.denied'")
            .fetch_one(&api.env.pool)
            .await
            .expect("count");
    assert!(
        denied >= checked as i64 * 3,
        "every refusal is audited ({denied})"
    );
    api.stop().await;
}

#[test]
fn the_route_table_and_the_document_cover_the_same_operations() {
    let documented: std::collections::BTreeSet<(String, String)> = operations()
        .into_iter()
        .map(|(m, p, _)| (m.to_string(), p))
        .collect();
    let guarded: std::collections::BTreeSet<(String, String)> = kiln_api::auth::ROUTES
        .iter()
        .filter(|(_, p, _)| *p != "/api/openapi.json")
        .map(|(m, p, _)| (m.to_string(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, guarded);
}

#[tokio::test]
async fn health_and_metrics_stay_open_and_openapi_needs_a_token() {
    let api = Api::start().await;
    for path in ["/health", "/metrics"] {
        let resp = api
            .anonymous
            .get(api.url(path))
            .send()
            .await
            .expect("answered");
        assert_eq!(resp.status(), 200, "{path}");
    }
    let resp = api
        .anonymous
        .get(api.url("/api/openapi.json"))
        .send()
        .await
        .expect("answered");
    let resp_www = resp.headers().get("www-authenticate").cloned();
    assert_problem(resp, 401, "").await;
    assert!(
        resp_www
            .expect("WWW-Authenticate")
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let doc: Value = api
        .get("/api/openapi.json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["paths"]["/api/v1/system/pause"]["put"]["x-kiln-role"],
        "admin"
    );
    assert_eq!(
        doc["paths"]["/api/v1/tasks"]["post"]["x-kiln-role"],
        "operator"
    );
    api.stop().await;
}

/// Signs in through `POST /api/v1/session` and returns (session cookie, csrf).
async fn sign_in(api: &Api, secret: &str) -> (String, String) {
    let resp = api
        .anonymous
        .post(api.url("/api/v1/session"))
        .json(&json!({ "token": secret }))
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 200);
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("kiln_session="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Strict"), "{session}");
    let csrf_cookie = cookies
        .iter()
        .find(|c| c.starts_with("kiln_csrf="))
        .expect("csrf cookie");
    assert!(
        !csrf_cookie.contains("HttpOnly"),
        "the page reads it: {csrf_cookie}"
    );
    let body: Value = resp.json().await.expect("json");
    let value = session.split(';').next().unwrap().to_owned();
    (value, body["csrf"].as_str().expect("csrf").to_owned())
}

#[tokio::test]
async fn a_dashboard_session_needs_its_csrf_token_on_every_mutation() {
    let api = Api::start().await;
    let secret = api.env.token("dash", Role::Operator).await;

    let resp = api
        .anonymous
        .post(api.url("/api/v1/session"))
        .json(&json!({ "token": "kiln_nope" }))
        .send()
        .await
        .expect("answered");
    assert_problem(resp, 401, "").await;

    let (cookie, csrf) = sign_in(&api, &secret).await;
    let me: Value = api
        .anonymous
        .get(api.url("/api/v1/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str()),
        (Some("dash"), Some("operator"))
    );
    assert_eq!(me["csrf"], csrf.as_str());

    let post = |with_csrf: Option<&str>| {
        let mut req = api
            .anonymous
            .post(api.url("/api/v1/tasks"))
            .header("cookie", &cookie)
            .json(&task_body("from-dashboard"));
        if let Some(token) = with_csrf {
            req = req.header("x-csrf-token", token);
        }
        req.send()
    };
    assert_problem(post(None).await.expect("answered"), 403, "CSRF").await;
    assert_problem(post(Some("forged")).await.expect("answered"), 403, "CSRF").await;
    assert_eq!(
        api.count("tasks").await,
        0,
        "nothing created without the CSRF token"
    );
    let resp = post(Some(&csrf)).await.expect("answered");
    assert_eq!(resp.status(), 202);
    let source: String = sqlx::query_scalar("SELECT source FROM tasks")
        .fetch_one(&api.env.pool)
        .await
        .expect("task");
    assert_eq!(source, "dashboard");

    let resp = api
        .anonymous
        .delete(api.url("/api/v1/session"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 204);
    let resp = api
        .anonymous
        .get(api.url("/api/v1/tasks"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("answered");
    assert_problem(resp, 401, "").await;
    api.stop().await;
}

#[tokio::test]
async fn tokens_are_shown_once_listed_without_secrets_and_revocation_ends_sessions() {
    let api = Api::start().await;
    let resp = api
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "ci-bot", "role": "viewer" }),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.expect("json");
    let secret = created["secret"]
        .as_str()
        .expect("secret shown once")
        .to_owned();
    assert!(secret.starts_with("kiln_"));
    let id = created["token"]["id"].as_str().expect("id").to_owned();

    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT secret_hash FROM api_tokens WHERE name = 'ci-bot'")
            .fetch_one(&api.env.pool)
            .await
            .expect("row");
    assert_eq!(
        stored,
        kiln_store::auth::secret_hash(&secret),
        "only the hash is stored"
    );
    let everything: String = sqlx::query_scalar("SELECT string_agg(t::text, '') FROM api_tokens t")
        .fetch_one(&api.env.pool)
        .await
        .expect("rows");
    assert!(
        !everything.contains(&secret),
        "the secret is nowhere in clear"
    );

    let list = api.get("/api/v1/tokens").await.text().await.expect("text");
    assert!(list.contains("ci-bot") && !list.contains(&secret), "{list}");

    let dup = api
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "ci-bot", "role": "admin" }),
        )
        .await;
    assert_problem(dup, 409, "ci-bot").await;
    let bad = api
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "ci-bot2", "role": "root" }),
        )
        .await;
    assert_problem(bad, 422, "role").await;

    let viewer = TestEnv::client_with_token(&secret);
    assert_eq!(
        viewer
            .get(api.url("/api/v1/tasks"))
            .send()
            .await
            .expect("ok")
            .status(),
        200
    );
    let (cookie, _) = sign_in(&api, &secret).await;

    let resp = api
        .http
        .delete(api.url(&format!("/api/v1/tokens/{id}")))
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 204);
    assert_problem(
        viewer
            .get(api.url("/api/v1/tasks"))
            .send()
            .await
            .expect("ok"),
        401,
        "",
    )
    .await;
    let resp = api
        .anonymous
        .get(api.url("/api/v1/tasks"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("answered");
    assert_problem(resp, 401, "").await;

    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE action LIKE 'token.%' ORDER BY id")
            .fetch_all(&api.env.pool)
            .await
            .expect("audit");
    assert_eq!(actions, ["token.create", "token.revoke"]);
    api.stop().await;
}

#[tokio::test]
async fn task_creation_is_rate_limited_per_token_with_retry_after() {
    let api = Api::with_config(|c| c.tasks_per_minute = 2).await;
    for n in 0..2 {
        let resp = api
            .post_json("/api/v1/tasks", &task_body(&format!("rl-{n}")))
            .await;
        assert_eq!(resp.status(), 202);
    }
    let resp = api.post_json("/api/v1/tasks", &task_body("rl-2")).await;
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_problem(resp, 429, "admin").await;
    // Another token has its own allowance.
    let other = TestEnv::client_with_token(&api.env.token("second", Role::Operator).await);
    let resp = other
        .post(api.url("/api/v1/tasks"))
        .json(&task_body("rl-3"))
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 202);
    assert_eq!(api.count("tasks").await, 3);
    api.stop().await;
}

/// Puts a created task in front of the release gate as if every check had passed.
async fn awaiting_release(api: &Api, task: &Value) -> uuid::Uuid {
    let id = uuid::Uuid::parse_str(task["id"].as_str().unwrap()).unwrap();
    let mut conn = api.env.pool.acquire().await.expect("conn");
    kiln_store::tasks::set_status(
        &mut *conn,
        id,
        kiln_store::TaskStatus::AwaitingReleaseApproval,
        None,
    )
    .await
    .expect("status");
    kiln_store::people::park(
        &mut *conn,
        id,
        kiln_store::people::WaitKind::ReleaseApproval,
        &api.env.subjects().work(kiln_contracts::Stage::Deploy),
        b"",
        &json!({}),
    )
    .await
    .expect("park");
    id
}

#[tokio::test]
async fn the_requester_cannot_approve_their_own_release_and_operators_cannot_release() {
    let api = Api::start().await;
    let alice = TestEnv::client_with_token(&api.env.token("alice", Role::Approver).await);
    let bob = TestEnv::client_with_token(&api.env.token("bob", Role::Approver).await);
    let carol = TestEnv::client_with_token(&api.env.token("carol", Role::Operator).await);
    let resp = alice
        .post(api.url("/api/v1/tasks"))
        .json(&task_body("self-approval"))
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 202);
    let task: Value = resp.json().await.expect("json");
    let id = awaiting_release(&api, &task).await;
    let approve = |client: &reqwest::Client| {
        client
            .post(api.url(&format!("/api/v1/tasks/{id}/approve")))
            .json(&json!({ "reason": "looks right" }))
            .send()
    };
    assert_problem(
        approve(&alice).await.expect("answered"),
        403,
        "requested this task",
    )
    .await;
    assert_problem(
        approve(&carol).await.expect("answered"),
        403,
        "needs the approver role",
    )
    .await;
    let resp = approve(&bob).await.expect("answered");
    assert_eq!(
        resp.status(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let row = sqlx::query("SELECT actor, source, action, target, reason FROM audit_log WHERE action = 'release_approval.approve'")
        .fetch_one(&api.env.pool)
        .await
        .expect("audited");
    assert_eq!(row.get::<String, _>("actor"), "bob");
    assert_eq!(
        row.get::<Option<String>, _>("reason").as_deref(),
        Some("looks right")
    );
    api.stop().await;
}

#[tokio::test]
async fn self_approval_is_allowed_when_the_installation_says_so() {
    let api = Api::with_config(|c| c.allow_self_approval = true).await;
    let task = api.create("solo").await;
    let id = awaiting_release(&api, &task).await;
    let resp = api
        .post_json(&format!("/api/v1/tasks/{id}/approve"), &json!({}))
        .await;
    assert_eq!(
        resp.status(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    api.stop().await;
}

#[tokio::test]
async fn the_audit_trail_is_filtered_paged_and_its_chain_verifies_until_a_row_is_edited() {
    let api = Api::start().await;
    for n in 0..3 {
        api.create(&format!("audited-{n}")).await;
    }
    let _ = api.anonymous.get(api.url("/api/v1/tasks")).send().await;
    let page: Value = api
        .get("/api/v1/audit?action=task.&limit=2")
        .await
        .json()
        .await
        .expect("json");
    let entries = page["items"].as_array().expect("items");
    assert_eq!(entries.len(), 2, "{page}");
    assert!(
        entries
            .iter()
            .all(|e| e["action"] == "task.created" && e["actor"] == "admin"),
        "{page}"
    );
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let rest: Value = api
        .get(&format!("/api/v1/audit?action=task.&cursor={cursor}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1), "{rest}");
    let denied: Value = api
        .get("/api/v1/audit?action=auth.denied")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        denied["items"].as_array().map(Vec::len),
        Some(1),
        "{denied}"
    );

    let mut conn = api.env.pool.acquire().await.expect("conn");
    let ok = kiln_store::audit::verify(&mut conn).await.expect("verify");
    assert!(ok.broken.is_none(), "{ok:?}");
    assert_eq!(ok.rows, 4);
    sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE id = (SELECT min(id) FROM audit_log WHERE action = 'task.created')")
        .execute(&mut *conn)
        .await
        .expect("tamper");
    let bad = kiln_store::audit::verify(&mut conn).await.expect("verify");
    assert!(
        bad.broken.is_some(),
        "an edited row breaks the chain: {bad:?}"
    );
    api.stop().await;
}
