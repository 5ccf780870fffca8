//! The fake GitHub's wire format, checked with a plain HTTP client and the real git CLI.

use std::path::Path;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::*;
use crate::fakes::Mode;

/// An answer: status, headers, JSON body (`Null` when none).
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

async fn call(
    fake: &FakeGitHub,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let url = if path.starts_with("http") {
        path.to_owned()
    } else {
        format!("{}{path}", fake.base_url())
    };
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = reqwest::Client::new()
        .request(method, url)
        .header("accept", "application/vnd.github+json")
        .header("user-agent", "kiln-test");
    if let Some(token) = auth {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

/// An app JWT as octocrab makes it, with `iss` as given.
fn jwt_with(iss: Value, iat_offset: i64, exp_offset: i64) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(FakeGitHub::private_key_pem().as_bytes())
        .expect("test key");
    let now = crate::fakes::now_unix();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &json!({"iss": iss, "iat": now + iat_offset, "exp": now + exp_offset}),
        &key,
    )
    .expect("sign jwt")
}

fn jwt() -> String {
    jwt_with(json!(FakeGitHub::APP_ID), -60, 540)
}

/// Mints an installation token through the API, with `body` as the request.
async fn mint(fake: &FakeGitHub, installation: u64, body: Value) -> String {
    let reply = call(
        fake,
        "POST",
        &format!("/app/installations/{installation}/access_tokens"),
        Some(&jwt()),
        Some(body),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["token"].as_str().expect("token").to_owned()
}

/// A fake with `acme/shop` (one commit) installed on `acme`, and a token for it.
async fn shop() -> (FakeGitHub, String) {
    let fake = FakeGitHub::start().await;
    let installation = fake.add_installation("acme");
    fake.add_repo(
        "acme/shop",
        &[("README.md", "# shop\n"), ("src/lib.rs", "")],
    );
    let token = mint(&fake, installation, json!({})).await;
    (fake, token)
}

/// Runs git (isolated from the machine's configuration) in `dir` without blocking the
/// runtime the fake serves on.
async fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .await
        .expect("run git")
}

async fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args).await;
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Commits `file` = `content` on `branch` (from `start`) straight into the bare repository,
/// past the HTTP side; returns the new sha.
async fn commit_on(
    fake: &FakeGitHub,
    repo: &str,
    branch: &str,
    start: &str,
    file: &str,
    content: &str,
) -> String {
    let work = tempfile::tempdir().expect("tempdir");
    let bare = fake.repo_path(repo);
    let bare = bare.to_str().expect("utf-8 path");
    git_ok(work.path(), &["clone", "--quiet", bare, "w"]).await;
    let w = work.path().join("w");
    git_ok(&w, &["checkout", "--quiet", "-B", branch, start]).await;
    std::fs::write(w.join(file), content).expect("write file");
    git_ok(&w, &["add", "-A"]).await;
    git_ok(&w, &["commit", "--quiet", "-m", &format!("change {file}")]).await;
    git_ok(
        &w,
        &[
            "push",
            "--quiet",
            "origin",
            &format!("HEAD:refs/heads/{branch}"),
        ],
    )
    .await;
    git_ok(&w, &["rev-parse", "HEAD"]).await
}

async fn open_pull(fake: &FakeGitHub, token: &str, head: &str, draft: bool) -> Value {
    let reply = call(
        fake,
        "POST",
        "/repos/acme/shop/pulls",
        Some(token),
        Some(json!({"title": format!("Change {head}"), "head": format!("acme:{head}"), "base": "main", "body": "why", "draft": draft})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

#[tokio::test]
async fn github_app_jwt_mints_an_installation_token_for_rest() {
    let fake = FakeGitHub::start().await;
    let installation = fake.add_installation("acme");
    fake.add_repo("acme/shop", &[("README.md", "# shop\n")]);
    fake.add_repo("other/thing", &[]);

    let reply = call(
        &fake,
        "GET",
        "/repos/acme/shop/installation",
        Some(&jwt()),
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["id"], installation);
    assert_eq!(reply.body["account"]["login"], "acme");
    assert_eq!(reply.body["app_id"], FakeGitHub::APP_ID);
    assert_eq!(reply.body["repository_selection"], "all");
    let reply = call(
        &fake,
        "GET",
        "/repos/other/thing/installation",
        Some(&jwt()),
        None,
    )
    .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body["message"], "Not Found");
    assert_eq!(
        reply.body["documentation_url"],
        "https://docs.github.com/rest"
    );

    // `iss` as a string is accepted too; a bad signature, a far `exp` and no JWT are not.
    let as_string = jwt_with(json!(FakeGitHub::APP_ID.to_string()), -60, 540);
    let reply = call(&fake, "GET", "/app", Some(&as_string), None).await;
    assert_eq!(
        (reply.status, &reply.body["slug"]),
        (200, &json!("kiln-app"))
    );
    let mut tampered = jwt();
    tampered.truncate(tampered.len() - 4);
    tampered.push_str("AAAA");
    for (token, message) in [
        (
            Some(tampered.as_str()),
            "A JSON web token could not be decoded",
        ),
        (None, "A JSON web token could not be decoded"),
        (
            Some(jwt_with(json!(FakeGitHub::APP_ID), -60, 900).as_str()),
            "'Expiration time' claim ('exp') is too far in the future",
        ),
        (
            Some(jwt_with(json!(1), -60, 540).as_str()),
            "A JSON web token could not be decoded",
        ),
    ] {
        let reply = call(
            &fake,
            "POST",
            &format!("/app/installations/{installation}/access_tokens"),
            token,
            Some(json!({})),
        )
        .await;
        assert_eq!(
            (reply.status, reply.body["message"].as_str()),
            (401, Some(message))
        );
    }

    let reply = call(
        &fake,
        "POST",
        &format!("/app/installations/{installation}/access_tokens"),
        Some(&jwt()),
        None,
    )
    .await;
    assert_eq!(reply.status, 201);
    let token = reply.body["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("ghs_") && token.len() == 40, "{token}");
    assert!(token[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    let expires = reply.body["expires_at"].as_str().expect("expires_at");
    assert_eq!(expires.len(), 20, "{expires}");
    assert!(expires.ends_with('Z') && expires.as_bytes()[10] == b'T');
    assert_eq!(reply.body["repository_selection"], "all");
    assert_eq!(reply.body["permissions"]["checks"], "write");
    assert_eq!(fake.issued_tokens(), vec![token.clone()]);

    // The JWT only opens the app's own routes, the token only the others.
    let reply = call(&fake, "GET", "/repos/acme/shop", Some(&jwt()), None).await;
    assert_eq!(reply.status, 401);
    let reply = call(
        &fake,
        "POST",
        &format!("/app/installations/{installation}/access_tokens"),
        Some(&token),
        Some(json!({})),
    )
    .await;
    assert_eq!(reply.status, 401);

    let first = call(&fake, "GET", "/repos/acme/shop", Some(&token), None).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["full_name"], "acme/shop");
    assert_eq!(first.body["private"], true);
    assert_eq!(first.body["visibility"], "private");
    assert_eq!(first.body["default_branch"], "main");
    assert_eq!(first.body["clone_url"], fake.git_url("acme/shop"));
    assert_eq!(first.body["owner"]["type"], "Organization");
    assert_eq!(
        first.header("content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(first.header("x-ratelimit-limit").as_deref(), Some("5000"));
    assert_eq!(
        first.header("x-ratelimit-resource").as_deref(),
        Some("core")
    );
    assert!(first.header("x-github-request-id").is_some());
    assert!(first.header("x-ratelimit-reset").is_some());
    let second = call(&fake, "GET", "/repos/acme/shop", Some(&token), None).await;
    let remaining = |r: &Reply| {
        r.header("x-ratelimit-remaining")
            .and_then(|v| v.parse::<u32>().ok())
            .expect("remaining")
    };
    assert_eq!(remaining(&first) - 1, remaining(&second));
    // The refused call on the app route above counted too.
    assert_eq!(second.header("x-ratelimit-used").as_deref(), Some("3"));

    // Private: other owners' repositories, no token and unknown tokens are refused.
    let reply = call(&fake, "GET", "/repos/other/thing", Some(&token), None).await;
    assert_eq!(reply.status, 404);
    let reply = call(&fake, "GET", "/repos/acme/shop", None, None).await;
    assert_eq!(reply.status, 404);
    let reply = call(&fake, "GET", "/repos/acme/shop", Some("ghs_nope"), None).await;
    assert_eq!(
        (reply.status, &reply.body["message"]),
        (401, &json!("Bad credentials"))
    );
    let reply = call(&fake, "GET", "/nowhere", Some(&token), None).await;
    assert_eq!(
        (reply.status, &reply.body["message"]),
        (404, &json!("Not Found"))
    );
    assert_eq!(fake.requests_to("access_tokens").len(), 6);
}

#[tokio::test]
async fn github_scoped_tokens_reach_only_their_repositories() {
    let fake = FakeGitHub::start().await;
    let installation = fake.add_installation("acme");
    fake.add_repo("acme/a", &[("a", "a")]);
    fake.add_repo("acme/b", &[("b", "b")]);
    let reply = call(
        &fake,
        "POST",
        &format!("/app/installations/{installation}/access_tokens"),
        Some(&jwt()),
        Some(
            json!({"repositories": ["a"], "permissions": {"contents": "read", "metadata": "read"}}),
        ),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["repository_selection"], "selected");
    assert_eq!(reply.body["repositories"][0]["full_name"], "acme/a");
    assert_eq!(
        reply.body["permissions"],
        json!({"contents": "read", "metadata": "read"})
    );
    let token = reply.body["token"].as_str().expect("token").to_owned();
    assert_eq!(
        call(&fake, "GET", "/repos/acme/a", Some(&token), None)
            .await
            .status,
        200
    );
    let reply = call(&fake, "GET", "/repos/acme/b", Some(&token), None).await;
    assert_eq!(
        (reply.status, &reply.body["message"]),
        (403, &json!("Resource not accessible by integration"))
    );
    // Read-only contents cannot push.
    let url = fake
        .git_url("acme/a")
        .replace("http://", &format!("http://x-access-token:{token}@"));
    let work = tempfile::tempdir().expect("tempdir");
    git_ok(work.path(), &["clone", "--quiet", &url, "w"]).await;
    let w = work.path().join("w");
    git_ok(&w, &["checkout", "--quiet", "-b", "kiln/x"]).await;
    git_ok(&w, &["commit", "--quiet", "--allow-empty", "-m", "x"]).await;
    let out = git(&w, &["push", "origin", "kiln/x"]).await;
    assert!(!out.status.success());
    assert!(fake.pushes().is_empty());

    for body in [
        json!({"repositories": ["nope"]}),
        json!({"permissions": {"members": "write"}}),
    ] {
        let reply = call(
            &fake,
            "POST",
            &format!("/app/installations/{installation}/access_tokens"),
            Some(&jwt()),
            Some(body),
        )
        .await;
        assert_eq!(reply.status, 422, "{}", reply.body);
    }
}

#[tokio::test]
async fn github_expired_tokens_get_401_on_rest_and_git() {
    let (fake, token) = shop().await;
    let url = fake
        .git_url("acme/shop")
        .replace("http://", &format!("http://x-access-token:{token}@"));
    let work = tempfile::tempdir().expect("tempdir");
    git_ok(work.path(), &["ls-remote", &url]).await;
    let pat = fake.personal_token("acme-admin");
    fake.set_permission("acme/shop", "acme-admin", "admin");
    fake.expire_tokens();
    let reply = call(&fake, "GET", "/repos/acme/shop", Some(&token), None).await;
    assert_eq!(
        (reply.status, &reply.body["message"]),
        (401, &json!("Bad credentials"))
    );
    let out = git(work.path(), &["ls-remote", &url]).await;
    assert!(!out.status.success());
    let last = fake.requests().pop().expect("git request recorded");
    assert_eq!(last.path, "/acme/shop.git/info/refs");
    assert_eq!(last.body, Value::Null);
    // Personal tokens do not expire.
    assert_eq!(
        call(&fake, "GET", "/repos/acme/shop", Some(&pat), None)
            .await
            .status,
        200
    );

    // Tokens minted with a short lifetime stop working on their own.
    fake.set_token_ttl(Duration::from_secs(5));
    let installation = fake.add_installation("acme");
    let reply = call(
        &fake,
        "POST",
        &format!("/app/installations/{installation}/access_tokens"),
        Some(&jwt()),
        Some(json!({})),
    )
    .await;
    let short = reply.body["token"].as_str().expect("token").to_owned();
    let expires = reply.body["expires_at"]
        .as_str()
        .expect("expires")
        .to_owned();
    let at = time::OffsetDateTime::parse(&expires, &time::format_description::well_known::Rfc3339)
        .expect("rfc3339");
    assert!((at.unix_timestamp() - crate::fakes::now_unix() - 5).abs() <= 1);
    assert_eq!(
        call(&fake, "GET", "/repos/acme/shop", Some(&short), None)
            .await
            .status,
        200
    );
    assert_eq!(fake.issued_tokens().len(), 3);
    assert!(fake.issued_tokens().contains(&pat));

    // Without credentials git is asked for them as GitHub asks.
    let reply = reqwest::get(format!(
        "{}/info/refs?service=git-upload-pack",
        fake.git_url("acme/shop")
    ))
    .await
    .expect("request");
    assert_eq!(reply.status().as_u16(), 401);
    assert_eq!(
        reply
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Basic realm=\"GitHub\"")
    );
}

#[tokio::test]
async fn github_git_clone_and_push_over_smart_http() {
    let (fake, token) = shop().await;
    let url = fake
        .git_url("acme/shop")
        .replace("http://", &format!("http://x-access-token:{token}@"));
    let work = tempfile::tempdir().expect("tempdir");
    git_ok(work.path(), &["clone", "--quiet", &url, "w"]).await;
    let w = work.path().join("w");
    assert_eq!(
        std::fs::read_to_string(w.join("README.md")).expect("README"),
        "# shop\n"
    );
    let main = fake.refs("acme/shop")["refs/heads/main"].clone();
    git_ok(&w, &["checkout", "--quiet", "-b", "kiln/x"]).await;
    std::fs::write(w.join("new.txt"), "new\n").expect("write");
    git_ok(&w, &["add", "new.txt"]).await;
    git_ok(&w, &["commit", "--quiet", "-m", "add new"]).await;
    let sha = git_ok(&w, &["rev-parse", "HEAD"]).await;
    git_ok(&w, &["push", "--quiet", "origin", "kiln/x"]).await;
    assert_eq!(
        fake.pushes(),
        vec![Push {
            repo: "acme/shop".into(),
            refname: "refs/heads/kiln/x".into(),
            old: None,
            new: Some(sha.clone()),
            pusher: "app".into(),
        }]
    );
    assert_eq!(fake.refs("acme/shop")["refs/heads/kiln/x"], sha);

    // The default branch is protected.
    git_ok(&w, &["checkout", "--quiet", "main"]).await;
    git_ok(&w, &["commit", "--quiet", "--allow-empty", "-m", "direct"]).await;
    let out = git(&w, &["push", "origin", "main"]).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("protected branch hook declined"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fake.refs("acme/shop")["refs/heads/main"], main);
    assert_eq!(fake.pushes().len(), 1);

    // A personal token of a writer pushes as that user, with http.extraHeader as CI does.
    let pat = fake.personal_token("dev");
    fake.set_permission("acme/shop", "dev", "write");
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("dev:{pat}"));
    let header = format!("http.extraHeader=Authorization: Basic {basic}");
    git_ok(&w, &["checkout", "--quiet", "kiln/x"]).await;
    git_ok(&w, &["commit", "--quiet", "--allow-empty", "-m", "more"]).await;
    let plain = fake.git_url("acme/shop");
    git_ok(&w, &["-c", &header, "push", "--quiet", &plain, "kiln/x"]).await;
    let pushes = fake.pushes();
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[1].pusher, "dev");
    assert_eq!(pushes[1].old.as_deref(), Some(sha.as_str()));
    // ...and deletes; a reader cannot push at all.
    git_ok(&w, &["-c", &header, "push", "--quiet", &plain, ":kiln/x"]).await;
    assert_eq!(fake.pushes()[2].new, None);
    let reader = fake.personal_token("reader");
    fake.set_permission("acme/shop", "reader", "read");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("reader:{reader}"));
    let header = format!("http.extraHeader=Authorization: Basic {basic}");
    let out = git(&w, &["-c", &header, "push", &plain, "kiln/x"]).await;
    assert!(!out.status.success());
    assert_eq!(fake.pushes().len(), 3);
    let requests = fake.requests_to("git-receive-pack");
    assert!(!requests.is_empty());

    // An empty repository gets its default branch from a first push; then it is protected.
    fake.add_repo("acme/empty", &[]);
    assert!(fake.refs("acme/empty").is_empty());
    let empty = fake
        .git_url("acme/empty")
        .replace("http://", &format!("http://x-access-token:{token}@"));
    git_ok(&w, &["push", "--quiet", &empty, "main:main"]).await;
    let local_main = git_ok(&w, &["rev-parse", "main"]).await;
    assert_eq!(fake.refs("acme/empty")["refs/heads/main"], local_main);
    assert_eq!(fake.pushes()[3].refname, "refs/heads/main");
    git_ok(&w, &["checkout", "--quiet", "main"]).await;
    git_ok(&w, &["commit", "--quiet", "--allow-empty", "-m", "again"]).await;
    let out = git(&w, &["push", &empty, "main:main"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("protected branch hook declined"));
    assert_eq!(fake.refs("acme/empty")["refs/heads/main"], local_main);
}

#[tokio::test]
async fn github_pull_requests_create_list_and_paginate() {
    let (fake, token) = shop().await;
    let head = commit_on(&fake, "acme/shop", "kiln/x", "main", "x.txt", "x").await;
    let pull = open_pull(&fake, &token, "kiln/x", true).await;
    assert_eq!(pull["number"], 1);
    assert_eq!(pull["draft"], true);
    assert_eq!(pull["state"], "open");
    assert_eq!(pull["head"]["ref"], "kiln/x");
    assert_eq!(pull["head"]["sha"], head);
    assert_eq!(pull["head"]["label"], "acme:kiln/x");
    assert_eq!(pull["base"]["ref"], "main");
    assert_eq!(pull["user"]["login"], "kiln-app[bot]");
    assert_eq!(pull["user"]["type"], "Bot");
    assert_eq!(pull["mergeable"], true);
    assert_eq!(pull["mergeable_state"], "draft");
    assert_eq!(pull["merged"], false);
    assert!(
        pull["node_id"]
            .as_str()
            .is_some_and(|n| n.starts_with("PR_"))
    );
    assert_eq!(
        pull["html_url"],
        format!("{}/acme/shop/pull/1", fake.base_url())
    );

    let reply = call(
        &fake,
        "POST",
        "/repos/acme/shop/pulls",
        Some(&token),
        Some(json!({"title": "again", "head": "acme:kiln/x", "base": "main"})),
    )
    .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["message"], "Validation Failed");
    assert_eq!(
        reply.body["errors"][0]["message"],
        "A pull request already exists for acme:kiln/x."
    );
    let reply = call(
        &fake,
        "POST",
        "/repos/acme/shop/pulls",
        Some(&token),
        Some(json!({"title": "t", "head": "acme:missing", "base": "main"})),
    )
    .await;
    assert_eq!(
        (reply.status, &reply.body["errors"][0]["field"]),
        (422, &json!("head"))
    );
    let reply = call(
        &fake,
        "POST",
        "/repos/acme/shop/pulls",
        Some(&token),
        Some(json!({"title": "t", "head": "kiln/x", "base": "nope"})),
    )
    .await;
    assert_eq!(
        (reply.status, &reply.body["errors"][0]["field"]),
        (422, &json!("base"))
    );

    // A push moves the head sha the pull request reports.
    let moved = commit_on(&fake, "acme/shop", "kiln/x", "origin/kiln/x", "y.txt", "y").await;
    let reply = call(&fake, "GET", "/repos/acme/shop/pulls/1", Some(&token), None).await;
    assert_eq!(reply.body["head"]["sha"], moved);
    assert_eq!(fake.pulls("acme/shop")[0].head_sha, moved);

    for i in 2..=5 {
        let branch = format!("kiln/p{i}");
        commit_on(&fake, "acme/shop", &branch, "main", "p.txt", &i.to_string()).await;
        open_pull(&fake, &token, &branch, false).await;
    }
    let reply = call(
        &fake,
        "GET",
        "/repos/acme/shop/pulls?head=acme:kiln/x&state=open",
        Some(&token),
        None,
    )
    .await;
    let items = reply.body.as_array().expect("array");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["number"], 1);
    assert!(reply.header("link").is_none());

    let first = call(
        &fake,
        "GET",
        "/repos/acme/shop/pulls?state=all&per_page=2",
        Some(&token),
        None,
    )
    .await;
    let numbers = |r: &Reply| -> Vec<u64> {
        r.body
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|p| p["number"].as_u64())
            .collect()
    };
    assert_eq!(numbers(&first), vec![5, 4]);
    let link = first.header("link").expect("link header");
    let api = format!("{}/repositories/", fake.base_url());
    assert!(link.starts_with(&format!("<{api}")), "{link}");
    assert!(
        link.contains("/pulls?state=all&per_page=2&page=2>; rel=\"next\""),
        "{link}"
    );
    assert!(link.contains("page=3>; rel=\"last\""), "{link}");
    assert!(!link.contains("rel=\"prev\"") && !link.contains("rel=\"first\""));
    let next = link
        .split(", ")
        .find(|l| l.ends_with("rel=\"next\""))
        .and_then(|l| l.split(['<', '>']).nth(1))
        .expect("next url")
        .to_owned();
    let second = call(&fake, "GET", &next, Some(&token), None).await;
    assert_eq!(numbers(&second), vec![3, 2]);
    let link = second.header("link").expect("link header");
    for rel in ["prev", "next", "last", "first"] {
        assert!(link.contains(&format!("rel=\"{rel}\"")), "{link}");
    }
    let third = call(
        &fake,
        "GET",
        "/repos/acme/shop/pulls?state=all&per_page=2&page=3",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(numbers(&third), vec![1]);
    let link = third.header("link").expect("link header");
    assert!(link.contains("page=2>; rel=\"prev\"") && link.contains("page=1>; rel=\"first\""));
    assert!(!link.contains("rel=\"next\""));

    // Closing and listing by state.
    let reply = call(
        &fake,
        "PATCH",
        "/repos/acme/shop/pulls/2",
        Some(&token),
        Some(json!({"state": "closed", "title": "renamed"})),
    )
    .await;
    assert_eq!(
        (reply.status, &reply.body["state"]),
        (200, &json!("closed"))
    );
    fake.close_pull("acme/shop", 3);
    let closed = call(
        &fake,
        "GET",
        "/repos/acme/shop/pulls?state=closed",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(numbers(&closed), vec![3, 2]);
    assert_eq!(fake.pulls("acme/shop")[1].title, "renamed");
}

#[tokio::test]
async fn github_graphql_marks_ready_for_review_and_back() {
    let (fake, token) = shop().await;
    commit_on(&fake, "acme/shop", "kiln/x", "main", "x.txt", "x").await;
    let pull = open_pull(&fake, &token, "kiln/x", true).await;
    let id = pull["node_id"].as_str().expect("node id").to_owned();
    let reply = call(
        &fake,
        "POST",
        "/graphql",
        Some(&token),
        Some(json!({
            "query": "mutation($pr: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $pr}) { pullRequest { isDraft number } } }",
            "variables": {"pr": id}
        })),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body["data"]["markPullRequestReadyForReview"]["pullRequest"]["isDraft"],
        false
    );
    assert_eq!(
        reply.body["data"]["markPullRequestReadyForReview"]["pullRequest"]["number"],
        1
    );
    assert_eq!(
        reply.header("x-ratelimit-resource").as_deref(),
        Some("graphql")
    );
    assert!(!fake.pulls("acme/shop")[0].draft);
    let reply = call(
        &fake,
        "POST",
        "/graphql",
        Some(&token),
        Some(json!({
            "query": format!("mutation {{ convertPullRequestToDraft(input: {{pullRequestId: \"{id}\"}}) {{ pullRequest {{ isDraft }} }} }}")
        })),
    )
    .await;
    assert_eq!(
        reply.body["data"]["convertPullRequestToDraft"]["pullRequest"]["isDraft"],
        true
    );
    assert!(fake.pulls("acme/shop")[0].draft);
    let reply = call(
        &fake,
        "POST",
        "/graphql",
        Some(&token),
        Some(json!({"query": "{ viewer { login } }"})),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(reply.body["errors"][0]["message"].is_string());
    let reply = call(
        &fake,
        "POST",
        "/graphql",
        Some(&token),
        Some(json!({"query": "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } } }", "variables": {"id": "PR_nope"}})),
    )
    .await;
    assert_eq!(reply.body["errors"][0]["type"], "NOT_FOUND");
}

#[tokio::test]
async fn github_merges_write_real_commits() {
    let (fake, token) = shop().await;
    let head = commit_on(&fake, "acme/shop", "kiln/x", "main", "x.txt", "x").await;
    // Move main so the merge needs two parents.
    commit_on(&fake, "acme/shop", "side", "main", "side.txt", "s").await;
    open_pull(&fake, &token, "side", false).await;
    let side_merge = fake.merge_pull("acme/shop", 1);
    let pull = open_pull(&fake, &token, "kiln/x", true).await;
    let number = pull["number"].as_u64().expect("number");
    assert_eq!(number, 2);

    let merge = |body: Value| {
        let fake = fake.clone();
        let token = token.clone();
        async move {
            call(
                &fake,
                "PUT",
                &format!("/repos/acme/shop/pulls/{number}/merge"),
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    let reply = merge(json!({"sha": head})).await;
    assert_eq!(
        (reply.status, &reply.body["message"]),
        (405, &json!("Pull Request is not mergeable"))
    );
    call(
        &fake,
        "POST",
        "/graphql",
        Some(&token),
        Some(json!({"query": "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } } }", "variables": {"id": pull["node_id"]}})),
    )
    .await;
    let reply = merge(json!({"sha": side_merge})).await;
    assert_eq!(
        (reply.status, &reply.body["message"]),
        (
            409,
            &json!("Head branch was modified. Review and try the merge again.")
        )
    );
    let reply = merge(json!({"sha": head, "merge_method": "merge"})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["merged"], true);
    assert_eq!(reply.body["message"], "Pull Request successfully merged");
    let sha = reply.body["sha"].as_str().expect("sha").to_owned();
    assert_eq!(fake.refs("acme/shop")["refs/heads/main"], sha);
    let bare = fake.repo_path("acme/shop");
    let parents = git_ok(&bare, &["show", "-s", "--format=%P", &sha]).await;
    assert_eq!(parents, format!("{side_merge} {head}"));
    let committer = git_ok(&bare, &["show", "-s", "--format=%cn <%ce>", &sha]).await;
    assert_eq!(committer, "GitHub <noreply@github.com>");
    let subject = git_ok(&bare, &["show", "-s", "--format=%s", &sha]).await;
    assert_eq!(subject, "Merge pull request #2 from acme/kiln/x");
    let files = git_ok(&bare, &["ls-tree", "--name-only", &sha]).await;
    assert!(
        files.contains("x.txt") && files.contains("side.txt"),
        "{files}"
    );
    let pulls = fake.pulls("acme/shop");
    assert!(pulls[1].merged && pulls[1].state == "closed");
    assert_eq!(pulls[1].merge_commit_sha.as_deref(), Some(sha.as_str()));
    let reply = call(&fake, "GET", "/repos/acme/shop/pulls/2", Some(&token), None).await;
    assert_eq!(reply.body["merged"], true);
    assert_eq!(reply.body["merge_commit_sha"], sha);
    assert_eq!(reply.body["merged_by"]["login"], "kiln-app[bot]");
    assert_eq!(merge(json!({})).await.status, 405);

    // Squash makes one parent; a conflict is not mergeable.
    commit_on(&fake, "acme/shop", "kiln/sq", "main", "sq.txt", "q").await;
    open_pull(&fake, &token, "kiln/sq", false).await;
    let reply = call(
        &fake,
        "PUT",
        "/repos/acme/shop/pulls/3/merge",
        Some(&token),
        Some(json!({"merge_method": "squash", "commit_title": "Squashed"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let squashed = reply.body["sha"].as_str().expect("sha").to_owned();
    assert_eq!(
        git_ok(&bare, &["show", "-s", "--format=%P", &squashed]).await,
        sha
    );
    assert_eq!(
        git_ok(&bare, &["show", "-s", "--format=%s", &squashed]).await,
        "Squashed"
    );
    commit_on(&fake, "acme/shop", "c1", "main", "README.md", "one\n").await;
    commit_on(&fake, "acme/shop", "c2", "main", "README.md", "two\n").await;
    open_pull(&fake, &token, "c1", false).await;
    open_pull(&fake, &token, "c2", false).await;
    fake.merge_pull("acme/shop", 4);
    let reply = call(&fake, "GET", "/repos/acme/shop/pulls/5", Some(&token), None).await;
    assert_eq!(reply.body["mergeable"], false);
    assert_eq!(reply.body["mergeable_state"], "dirty");
    let reply = call(
        &fake,
        "PUT",
        "/repos/acme/shop/pulls/5/merge",
        Some(&token),
        Some(json!({})),
    )
    .await;
    assert_eq!(reply.status, 405);
}

#[tokio::test]
async fn github_rebase_merge_replays_the_commits() {
    let (fake, token) = shop().await;
    commit_on(&fake, "acme/shop", "kiln/r", "main", "r.txt", "r").await;
    commit_on(&fake, "acme/shop", "side", "main", "s.txt", "s").await;
    open_pull(&fake, &token, "side", false).await;
    let main = fake.merge_pull("acme/shop", 1);
    open_pull(&fake, &token, "kiln/r", false).await;
    let reply = call(
        &fake,
        "PUT",
        "/repos/acme/shop/pulls/2/merge",
        Some(&token),
        Some(json!({"merge_method": "rebase"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let sha = reply.body["sha"].as_str().expect("sha").to_owned();
    let bare = fake.repo_path("acme/shop");
    assert_eq!(
        git_ok(&bare, &["show", "-s", "--format=%P", &sha]).await,
        main
    );
    assert_eq!(
        git_ok(&bare, &["show", "-s", "--format=%an|%cn|%s", &sha]).await,
        "Test|GitHub|change r.txt"
    );
}

#[tokio::test]
async fn github_check_runs_create_update_and_list() {
    let (fake, token) = shop().await;
    let main = fake.refs("acme/shop")["refs/heads/main"].clone();
    let create = |body: Value, auth: String| {
        let fake = fake.clone();
        async move {
            call(
                &fake,
                "POST",
                "/repos/acme/shop/check-runs",
                Some(&auth),
                Some(body),
            )
            .await
        }
    };
    let reply = create(
        json!({"name": "kiln/test", "head_sha": main, "status": "in_progress", "external_id": "run-1",
               "details_url": "https://kiln.example/runs/1",
               "output": {"title": "Testing", "summary": "running"}}),
        token.clone(),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.body["id"].as_u64().expect("id");
    assert_eq!(reply.body["status"], "in_progress");
    assert_eq!(reply.body["conclusion"], Value::Null);
    assert_eq!(reply.body["head_sha"], main);
    assert_eq!(reply.body["app"]["id"], FakeGitHub::APP_ID);
    assert_eq!(reply.body["output"]["annotations_count"], 0);
    assert!(reply.body["check_suite"]["id"].is_u64());
    assert!(reply.body["started_at"].is_string());
    assert_eq!(reply.body["pull_requests"], json!([]));

    let unknown = "0123456789012345678901234567890123456789";
    let reply = create(json!({"name": "x", "head_sha": unknown}), token.clone()).await;
    assert_eq!(reply.status, 422);
    assert_eq!(
        reply.body["message"],
        format!("No commit found for SHA: {unknown}")
    );
    let reply = create(
        json!({"name": "x", "head_sha": main, "status": "completed"}),
        token.clone(),
    )
    .await;
    assert_eq!(reply.status, 422);
    let annotation = json!({"path": "src/lib.rs", "start_line": 1, "end_line": 1,
                            "annotation_level": "warning", "message": "hm"});
    let reply = create(
        json!({"name": "x", "head_sha": main,
               "output": {"title": "t", "summary": "s", "annotations": vec![annotation.clone(); 51]}}),
        token.clone(),
    )
    .await;
    assert_eq!(reply.status, 422);
    let pat = fake.personal_token("acme");
    let reply = create(json!({"name": "x", "head_sha": main}), pat.clone()).await;
    assert_eq!(
        (reply.status, &reply.body["message"]),
        (403, &json!("You must authenticate via a GitHub App."))
    );

    for _ in 0..2 {
        let reply = call(
            &fake,
            "PATCH",
            &format!("/repos/acme/shop/check-runs/{id}"),
            Some(&token),
            Some(json!({"conclusion": "failure",
                        "output": {"title": "Failed", "summary": "1 failure", "text": "details",
                                   "annotations": [annotation]}})),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["status"], "completed");
    }
    let runs = fake.check_runs("acme/shop");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(
        (
            run.updates,
            run.annotations.len(),
            run.conclusion.as_deref()
        ),
        (2, 2, Some("failure"))
    );
    assert_eq!(run.title.as_deref(), Some("Failed"));
    assert_eq!(run.text.as_deref(), Some("details"));
    assert_eq!(run.external_id.as_deref(), Some("run-1"));
    assert_eq!(
        run.details_url.as_deref(),
        Some("https://kiln.example/runs/1")
    );

    create(
        json!({"name": "kiln/review", "head_sha": main}),
        token.clone(),
    )
    .await;
    let reply = call(
        &fake,
        "GET",
        "/repos/acme/shop/commits/main/check-runs?check_name=kiln/test",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["total_count"], 1);
    assert_eq!(reply.body["check_runs"][0]["id"], id);
    assert_eq!(
        reply.body["check_runs"][0]["output"]["annotations_count"],
        2
    );
    let reply = call(
        &fake,
        "GET",
        &format!("/repos/acme/shop/commits/{main}/check-runs"),
        Some(&pat),
        None,
    )
    .await;
    assert_eq!(reply.body["total_count"], 2);
    let reply = call(
        &fake,
        "GET",
        &format!("/repos/acme/shop/check-runs/{id}/annotations"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(reply.body.as_array().map(Vec::len), Some(2));
    let reply = call(
        &fake,
        "GET",
        &format!("/repos/acme/shop/check-runs/{id}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(reply.body["conclusion"], "failure");
}

#[tokio::test]
async fn github_issues_and_comments() {
    let (fake, token) = shop().await;
    let number = fake.open_issue(
        "acme/shop",
        "alice",
        "Checkout is slow",
        "It takes ages",
        &["kiln"],
    );
    assert_eq!(number, 1);
    commit_on(&fake, "acme/shop", "kiln/x", "main", "x.txt", "x").await;
    let pull = open_pull(&fake, &token, "kiln/x", false).await;
    assert_eq!(pull["number"], 2);
    let reply = call(
        &fake,
        "POST",
        "/repos/acme/shop/issues",
        Some(&token),
        Some(json!({"title": "Follow-up", "body": "later", "labels": ["kiln", "bug"]})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["number"], 3);
    assert_eq!(reply.body["labels"][1]["name"], "bug");
    assert_eq!(reply.body["user"]["login"], "kiln-app[bot]");
    let reply = call(
        &fake,
        "POST",
        "/repos/acme/shop/issues",
        Some(&token),
        Some(json!({"body": "no title"})),
    )
    .await;
    assert_eq!(reply.status, 422);
    assert_eq!(
        fake.issues("acme/shop")
            .iter()
            .map(|i| i.number)
            .collect::<Vec<_>>(),
        vec![1, 3]
    );
    let reply = call(
        &fake,
        "GET",
        "/repos/acme/shop/issues/1",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(reply.body["user"]["login"], "alice");
    assert_eq!(reply.body["labels"][0]["name"], "kiln");
    let reply = call(
        &fake,
        "GET",
        "/repos/acme/shop/issues/2",
        Some(&token),
        None,
    )
    .await;
    assert!(reply.body["pull_request"]["url"].is_string());

    for (n, text) in [(1, "Looking into it"), (2, "Plan: ..."), (1, "Done")] {
        let reply = call(
            &fake,
            "POST",
            &format!("/repos/acme/shop/issues/{n}/comments"),
            Some(&token),
            Some(json!({"body": text})),
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_eq!(reply.body["user"]["login"], "kiln-app[bot]");
        assert!(reply.body["html_url"].is_string() && reply.body["node_id"].is_string());
    }
    let comments = fake.comments("acme/shop", 1);
    assert_eq!(
        comments.iter().map(|c| c.body.as_str()).collect::<Vec<_>>(),
        vec!["Looking into it", "Done"]
    );
    assert_eq!(comments[0].author, "kiln-app[bot]");
    let reply = call(
        &fake,
        "GET",
        "/repos/acme/shop/issues/1/comments?per_page=1",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(reply.body.as_array().map(Vec::len), Some(1));
    assert!(
        reply
            .header("link")
            .is_some_and(|l| l.contains("rel=\"last\""))
    );
    let reply = call(
        &fake,
        "PATCH",
        &format!("/repos/acme/shop/issues/comments/{}", comments[1].id),
        Some(&token),
        Some(json!({"body": "Done, really"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(fake.comments("acme/shop", 1)[1].body, "Done, really");
    assert_eq!(fake.comments("acme/shop", 2).len(), 1);

    let reply = call(
        &fake,
        "PATCH",
        "/repos/acme/shop/issues/1",
        Some(&token),
        Some(json!({"state": "closed", "labels": ["done"]})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["state_reason"], "completed");
    let issue = &fake.issues("acme/shop")[0];
    assert_eq!(
        (issue.state.as_str(), issue.labels.clone()),
        ("closed", vec!["done".to_owned()])
    );

    // A personal token comments as its user.
    let pat = fake.personal_token("bob");
    fake.set_permission("acme/shop", "bob", "triage");
    let reply = call(
        &fake,
        "POST",
        "/repos/acme/shop/issues/3/comments",
        Some(&pat),
        Some(json!({"body": "me too"})),
    )
    .await;
    assert_eq!(reply.body["user"]["login"], "bob");
    assert_eq!(reply.body["author_association"], "COLLABORATOR");
}

#[tokio::test]
async fn github_repositories_are_created_with_auto_init() {
    let (fake, token) = shop().await;
    let reply = call(
        &fake,
        "POST",
        "/orgs/acme/repos",
        Some(&token),
        Some(json!({"name": "fresh", "private": true, "auto_init": true, "description": "new"})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["full_name"], "acme/fresh");
    assert_eq!(reply.body["description"], "new");
    let main = fake.refs("acme/fresh")["refs/heads/main"].clone();
    let bare = fake.repo_path("acme/fresh");
    assert_eq!(
        git_ok(&bare, &["show", &format!("{main}:README.md")]).await,
        "# fresh"
    );
    let reply = call(
        &fake,
        "POST",
        "/orgs/acme/repos",
        Some(&token),
        Some(json!({"name": "fresh"})),
    )
    .await;
    assert_eq!(reply.status, 422);
    assert_eq!(
        reply.body,
        json!({
            "message": "Repository creation failed.",
            "errors": [{"resource": "Repository", "code": "custom", "field": "name",
                        "message": "name already exists on this account"}],
            "documentation_url": "https://docs.github.com/rest"
        })
    );
    let reply = call(
        &fake,
        "POST",
        "/orgs/acme/repos",
        Some(&token),
        Some(json!({"name": "empty"})),
    )
    .await;
    assert_eq!(reply.status, 201);
    assert!(fake.refs("acme/empty").is_empty());

    let pat = fake.personal_token("carol");
    let reply = call(
        &fake,
        "POST",
        "/user/repos",
        Some(&pat),
        Some(json!({"name": "mine", "auto_init": true})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["owner"]["login"], "carol");
    assert_eq!(reply.body["owner"]["type"], "User");
    assert_eq!(reply.body["permissions"]["admin"], true);
    let reply = call(
        &fake,
        "POST",
        "/user/repos",
        Some(&token),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(reply.status, 403);
    // Other users see nothing of it.
    let other = fake.personal_token("dave");
    assert_eq!(
        call(&fake, "GET", "/repos/carol/mine", Some(&other), None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn github_collaborator_permissions() {
    let (fake, token) = shop().await;
    fake.set_permission("acme/shop", "maya", "maintain");
    fake.set_permission("acme/shop", "wes", "write");
    for (login, permission, role) in [
        ("maya", "write", "maintain"),
        ("wes", "write", "write"),
        ("nobody", "none", "none"),
    ] {
        let reply = call(
            &fake,
            "GET",
            &format!("/repos/acme/shop/collaborators/{login}/permission"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["permission"], permission);
        assert_eq!(reply.body["role_name"], role);
        assert_eq!(reply.body["user"]["login"], login);
    }
}

#[tokio::test]
async fn github_faults_carry_rate_limit_headers_and_change_nothing() {
    let (fake, token) = shop().await;
    let installation = fake.add_installation("acme");
    fake.fail_next(Mode::RateLimited {
        retry_after_secs: 1.2,
    });
    let reply = call(
        &fake,
        "POST",
        "/repos/acme/shop/issues",
        Some(&token),
        Some(json!({"title": "x"})),
    )
    .await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after").as_deref(), Some("2"));
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("You have exceeded a secondary rate limit"))
    );
    assert!(fake.issues("acme/shop").is_empty());

    fake.fail_next(Mode::GloballyRateLimited {
        retry_after_secs: 30.0,
    });
    let reply = call(&fake, "GET", "/repos/acme/shop", Some(&token), None).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.header("x-ratelimit-remaining").as_deref(), Some("0"));
    let reset: i64 = reply
        .header("x-ratelimit-reset")
        .and_then(|v| v.parse().ok())
        .expect("reset");
    assert!((reset - crate::fakes::now_unix() - 30).abs() <= 2);
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!(
                "API rate limit exceeded for installation ID {installation}."
            ))),
        "{}",
        reply.body
    );

    fake.set_mode(Mode::Down);
    let reply = call(&fake, "GET", "/repos/acme/shop", Some(&token), None).await;
    assert_eq!(
        (reply.status, &reply.body["message"]),
        (503, &json!("Service Unavailable"))
    );
    // Git is not faulted.
    let url = fake
        .git_url("acme/shop")
        .replace("http://", &format!("http://x-access-token:{token}@"));
    let work = tempfile::tempdir().expect("tempdir");
    git_ok(work.path(), &["ls-remote", &url]).await;
    fake.set_mode(Mode::Normal);
    let reply = call(&fake, "GET", "/repos/acme/shop", Some(&token), None).await;
    assert_eq!(reply.status, 200);
    // Faulted requests were recorded but not counted.
    assert_eq!(reply.header("x-ratelimit-used").as_deref(), Some("1"));
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| r.path == "/repos/acme/shop")
            .count(),
        3
    );
}

#[tokio::test]
async fn github_webhooks_are_signed_like_github() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<(axum::http::HeaderMap, Bytes)>>> = Arc::default();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let seen = seen.clone();
            move |headers: axum::http::HeaderMap, body: Bytes| async move {
                seen.lock().expect("lock").push((headers, body));
                StatusCode::ACCEPTED
            }
        }),
    );
    let receiver = crate::fakes::Server::start(app, "hook receiver").await;
    let fake = FakeGitHub::start().await;
    let url = format!("http://{}/hook", receiver.addr);
    let payload = json!({"action": "opened", "number": 1, "installation": {"id": 7}});
    let (status, delivery) = fake
        .send_webhook(&url, "s3cret", "pull_request", None, &payload)
        .await;
    assert_eq!(status, 202);
    assert_eq!(delivery.len(), 36);
    let (status, given) = fake
        .send_webhook(&url, "s3cret", "ping", Some("fixed-id"), &json!({}))
        .await;
    assert_eq!((status, given.as_str()), (202, "fixed-id"));

    let seen = seen.lock().expect("lock");
    let (headers, body) = &seen[0];
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").expect("hmac");
    mac.update(body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(h("x-hub-signature-256"), expected);
    assert_eq!(h("x-github-event"), "pull_request");
    assert_eq!(h("x-github-delivery"), delivery);
    assert_eq!(h("user-agent"), "GitHub-Hookshot/fake");
    assert_eq!(h("content-type"), "application/json");
    assert_eq!(
        serde_json::from_slice::<Value>(body).expect("json"),
        payload
    );
    assert_eq!(
        seen[1]
            .0
            .get("x-github-delivery")
            .and_then(|v| v.to_str().ok()),
        Some("fixed-id")
    );
    // RFC 4231-style known answer for the signing helper.
    assert_eq!(
        FakeGitHub::signature("key", b"The quick brown fox jumps over the lazy dog"),
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    );
}
