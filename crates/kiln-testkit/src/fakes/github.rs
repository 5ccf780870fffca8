//! A fake GitHub: the REST v3 API, a sliver of GraphQL, git's smart HTTP protocol and
//! GitHub's side of webhooks, on one `127.0.0.1:<random port>` that is both the API root
//! (octocrab's `base_uri`) and the git host.
//!
//! It holds one GitHub App ([`FakeGitHub::APP_ID`], key [`FakeGitHub::private_key_pem`]),
//! its installations, private repositories (real bare repositories, served by
//! `git http-backend`), pull requests, issues, comments and check runs. Authentication is
//! GitHub's: an RS256 app JWT for `/app...` and `GET /repos/{o}/{r}/installation`, and an
//! installation token (`ghs_...`) or personal access token (`ghp_...`) for everything else,
//! as `Authorization: Bearer|token` on REST and basic auth on git. Errors are GitHub's
//! `{"message", "documentation_url"}` bodies (422 adds `errors`), lists paginate with `Link`
//! headers, and every REST answer carries the `x-ratelimit-*` headers.
//!
//! Routes (`{r}` = `{owner}/{repo}`; `/repositories/{id}/...`, which `Link` headers use,
//! is an alias of `/repos/{r}/...`; POST is taken for PATCH on update routes, as GitHub does):
//! - app (JWT): `GET /app`, `GET /app/installations[/{id}]`,
//!   `POST /app/installations/{id}/access_tokens`, `GET /repos/{r}/installation`,
//!   `GET /orgs/{org}/installation`, `GET /users/{user}/installation`;
//! - `GET /user`, `POST /user/repos` (personal token), `POST /orgs/{org}/repos`
//!   (installation token), `GET /repos/{r}`, `GET /repos/{r}/collaborators/{u}/permission`;
//! - `GET|POST /repos/{r}/pulls`, `GET|PATCH /repos/{r}/pulls/{n}`,
//!   `GET|PUT /repos/{r}/pulls/{n}/merge`, `POST /graphql` (ready for review / to draft);
//! - `POST /repos/{r}/check-runs`, `GET|PATCH /repos/{r}/check-runs/{id}[/annotations]`,
//!   `GET /repos/{r}/commits/{ref}/check-runs`;
//! - `GET|POST /repos/{r}/issues`, `GET|PATCH /repos/{r}/issues/{n}`,
//!   `GET|POST /repos/{r}/issues/{n}/comments`, `GET|PATCH|DELETE /repos/{r}/issues/comments/{id}`;
//! - git: `/{r}.git/info/refs`, `/{r}.git/git-upload-pack`, `/{r}.git/git-receive-pack`.
//!
//! The default branch is protected: a push that moves or deletes it is declined by a
//! `pre-receive` hook (one that creates it in an empty repository is let through), and it
//! moves only through merges ([`FakeGitHub::merge_pull`] or the merge endpoint), which
//! write real merge, squash or rebased commits with git's plumbing. [`Mode`] faults apply to
//! REST and GraphQL only, never to git.
//!
//! ```ignore
//! let gh = FakeGitHub::start().await;
//! let installation = gh.add_installation("acme");
//! gh.add_repo("acme/shop", &[("README.md", "# shop\n")]);
//! let app = octocrab::Octocrab::builder()
//!     .base_uri(gh.base_url())?
//!     .app(FakeGitHub::APP_ID.into(), EncodingKey::from_rsa_pem(FakeGitHub::private_key_pem().as_bytes())?)
//!     .build()?;
//! let crab = app.installation(installation.into())?;
//! ```

mod auth;
mod git;
mod json;
mod rest;
mod state;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::{Common, Mode, Server, common_api, lock};
use state::{Fault, State_};

/// A pull request as the fake holds it; `head_sha` is the head branch's tip while it is open.
#[derive(Debug, Clone, PartialEq)]
pub struct Pull {
    /// Its number, shared with issues as on GitHub.
    pub number: u64,
    /// The GraphQL id (`PR_...`) the ready-for-review and draft mutations take.
    pub node_id: String,
    pub title: String,
    /// The description; empty when none.
    pub body: String,
    /// `open` or `closed`.
    pub state: String,
    /// Whether it is a draft (not mergeable until marked ready).
    pub draft: bool,
    /// The head branch, without `refs/heads/`.
    pub head_ref: String,
    /// The head commit.
    pub head_sha: String,
    /// The branch it merges into, without `refs/heads/`.
    pub base_ref: String,
    /// Whether it was merged (it is then `closed` too).
    pub merged: bool,
    /// The commit the merge left the base branch at.
    pub merge_commit_sha: Option<String>,
    /// The login that opened it (`kiln-app[bot]` for an installation token).
    pub author: String,
}

/// A check run as the fake holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRun {
    /// Its id in `/check-runs/{id}`.
    pub id: u64,
    /// The check's name, e.g. `kiln/test`.
    pub name: String,
    /// The commit it reports on.
    pub head_sha: String,
    /// `queued`, `in_progress` or `completed`.
    pub status: String,
    /// `success`, `failure`, ... once completed.
    pub conclusion: Option<String>,
    /// `output.title`, as last sent.
    pub title: Option<String>,
    /// `output.summary`, as last sent.
    pub summary: Option<String>,
    /// `output.text`, as last sent.
    pub text: Option<String>,
    /// The integrator's page for the run.
    pub details_url: Option<String>,
    /// The integrator's id for the run.
    pub external_id: Option<String>,
    /// Every annotation received, in order, as sent.
    pub annotations: Vec<Value>,
    /// How many PATCHes it received.
    pub updates: u32,
}

/// A comment on an issue or pull request.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    /// Its id in `/issues/comments/{id}`.
    pub id: u64,
    /// The login that wrote it (`kiln-app[bot]` for an installation token).
    pub author: String,
    /// The text, as last edited.
    pub body: String,
}

/// An issue (never a pull request).
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    /// Its number, shared with pull requests as on GitHub.
    pub number: u64,
    pub title: String,
    /// The description; empty when none.
    pub body: String,
    /// `open` or `closed`.
    pub state: String,
    /// Label names, in the order given.
    pub labels: Vec<String>,
    /// The login that opened it.
    pub author: String,
}

/// One ref a `git push` over HTTP changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// `owner/name`.
    pub repo: String,
    /// The full ref name, e.g. `refs/heads/kiln/x`.
    pub refname: String,
    /// The sha before; `None` when the push created the ref.
    pub old: Option<String>,
    /// The sha after; `None` when the push deleted the ref.
    pub new: Option<String>,
    /// `app` for an installation token, else the personal access token's login.
    pub pusher: String,
}

pub(crate) struct Inner {
    common: Common,
    state: std::sync::Mutex<State_>,
    base: OnceLock<String>,
    /// Holds the bare repositories under `repos/`; removed with the fake.
    root: tempfile::TempDir,
    jwt_key: jsonwebtoken::DecodingKey,
    /// One receive-pack at a time, so the refs read around it belong to that push.
    push_lock: tokio::sync::Mutex<()>,
    http: reqwest::Client,
}

impl Inner {
    fn base(&self) -> String {
        self.base.get().cloned().unwrap_or_default()
    }

    fn repos_root(&self) -> PathBuf {
        self.root.path().join("repos")
    }
}

/// The fake GitHub; clones share it, and the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeGitHub {
    inner: Arc<Inner>,
    server: Arc<Server>,
}

impl FakeGitHub {
    /// The id of the one GitHub App the fake knows (its slug is `kiln-app`).
    pub const APP_ID: u64 = 4242;

    /// Starts the fake on `127.0.0.1:0`.
    pub async fn start() -> Self {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("fake github tempdir: {e}"));
        std::fs::create_dir_all(root.path().join("repos"))
            .unwrap_or_else(|e| panic!("fake github repos dir: {e}"));
        let jwt_key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY_PEM.as_bytes())
            .unwrap_or_else(|e| panic!("fake github public key: {e}"));
        let inner = Arc::new(Inner {
            common: Common::default(),
            state: std::sync::Mutex::new(State_::new()),
            base: OnceLock::new(),
            root,
            jwt_key,
            push_lock: tokio::sync::Mutex::new(()),
            http: reqwest::Client::new(),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let server = Server::start(app, "github").await;
        let _ = inner.base.set(format!("http://{}", server.addr));
        Self {
            inner,
            server: Arc::new(server),
        }
    }

    /// `http://127.0.0.1:port`: the REST root (octocrab's `base_uri`) and the git host.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// `http://127.0.0.1:port/owner/name.git`, the repository's clone URL.
    pub fn git_url(&self, full_name: &str) -> String {
        format!("{}/{full_name}.git", self.base_url())
    }

    /// The app's private key on disk (PKCS#1 PEM), for clients that read a key file.
    pub fn private_key_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/github-app-test-key.pem")
    }

    /// The app's private key (PKCS#1 PEM) that signs its JWTs.
    pub fn private_key_pem() -> &'static str {
        PRIVATE_KEY_PEM
    }

    common_api!();

    /// Installs the app on account `account` (a user, if a personal token was minted for
    /// it, else an organization) for all of its repositories; returns the installation id.
    /// Installing twice returns the same id.
    pub fn add_installation(&self, account: &str) -> u64 {
        lock(&self.inner.state).add_installation(account)
    }

    /// Creates the private repository `owner/name` with default branch `main`: one initial
    /// commit holding `files`, or no commit at all when `files` is empty.
    pub fn add_repo(&self, full_name: &str, files: &[(&str, &str)]) {
        let (owner, name) = full_name
            .split_once('/')
            .unwrap_or_else(|| panic!("add_repo: {full_name:?} is not owner/name"));
        let mut state = lock(&self.inner.state);
        let path = state
            .create_repo(&self.inner.repos_root(), owner, name, None)
            .unwrap_or_else(|e| panic!("add_repo {full_name}: {e}"));
        if !files.is_empty() {
            let author = git::Ident::github();
            git::initial_commit(&path, files, "Initial commit", &author)
                .unwrap_or_else(|e| panic!("add_repo {full_name}: {e}"));
        }
    }

    /// Gives `login` a role on the repository: `admin`, `maintain`, `write`, `triage`,
    /// `read` or `none`. The owner of a user's repository is always `admin`.
    pub fn set_permission(&self, full_name: &str, login: &str, permission: &str) {
        let mut state = lock(&self.inner.state);
        state.account(login);
        let repo = state
            .repo_mut(full_name)
            .unwrap_or_else(|| panic!("set_permission: no repository {full_name}"));
        repo.collaborators
            .insert(login.to_ascii_lowercase(), permission.to_owned());
    }

    /// Mints a personal access token (`ghp_...`, no expiry) acting as user `login`.
    pub fn personal_token(&self, login: &str) -> String {
        lock(&self.inner.state).mint_pat(login)
    }

    /// The lifetime of installation tokens minted from now on (default one hour).
    pub fn set_token_ttl(&self, ttl: Duration) {
        lock(&self.inner.state).token_ttl = ttl;
    }

    /// Expires every installation token minted so far (personal tokens stay valid).
    pub fn expire_tokens(&self) {
        lock(&self.inner.state).expire_installation_tokens();
    }

    /// Every installation token and personal token handed out, oldest first.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.inner.state).issued.clone()
    }

    /// The repository's pull requests by number.
    pub fn pulls(&self, full_name: &str) -> Vec<Pull> {
        let mut state = lock(&self.inner.state);
        let Some(repo) = state.repo_mut(full_name) else {
            return Vec::new();
        };
        let path = repo.path.clone();
        repo.pulls
            .values_mut()
            .map(|p| {
                p.refresh_head(&path);
                p.public()
            })
            .collect()
    }

    /// The repository's check runs, oldest first.
    pub fn check_runs(&self, full_name: &str) -> Vec<CheckRun> {
        let state = lock(&self.inner.state);
        state
            .repo(full_name)
            .map(|r| {
                r.check_runs
                    .iter()
                    .map(state::CheckRunState::public)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The comments on issue or pull request `number`, oldest first.
    pub fn comments(&self, full_name: &str, number: u64) -> Vec<Comment> {
        let state = lock(&self.inner.state);
        state
            .repo(full_name)
            .map(|r| {
                r.comments
                    .iter()
                    .filter(|c| c.number == number)
                    .map(state::CommentState::public)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The repository's issues (not pull requests) by number.
    pub fn issues(&self, full_name: &str) -> Vec<Issue> {
        let state = lock(&self.inner.state);
        state
            .repo(full_name)
            .map(|r| r.issues.values().map(state::IssueState::public).collect())
            .unwrap_or_default()
    }

    /// Every ref of the repository (`refs/heads/main` -> sha), read from the bare repository.
    pub fn refs(&self, full_name: &str) -> BTreeMap<String, String> {
        git::refs(&self.repo_path(full_name)).unwrap_or_default()
    }

    /// Every ref a `git push` over HTTP changed, in order.
    pub fn pushes(&self) -> Vec<Push> {
        lock(&self.inner.state).pushes.clone()
    }

    /// The bare repository on disk (it need not exist yet).
    pub fn repo_path(&self, full_name: &str) -> PathBuf {
        let state = lock(&self.inner.state);
        match state.repo(full_name) {
            Some(repo) => repo.path.clone(),
            None => self.inner.repos_root().join(format!("{full_name}.git")),
        }
    }

    /// Closes pull request `number` without merging, as a person does on github.com.
    pub fn close_pull(&self, full_name: &str, number: u64) {
        let mut state = lock(&self.inner.state);
        let repo = state
            .repo_mut(full_name)
            .unwrap_or_else(|| panic!("close_pull: no repository {full_name}"));
        let path = repo.path.clone();
        let pull = repo
            .pulls
            .get_mut(&number)
            .unwrap_or_else(|| panic!("close_pull: no pull request #{number}"));
        pull.refresh_head(&path);
        pull.close();
    }

    /// Merges pull request `number` with a merge commit, as the repository's owner does on
    /// github.com; returns the merge commit's sha. Panics when it is not mergeable (closed,
    /// draft or conflicting), as the button is then disabled.
    pub fn merge_pull(&self, full_name: &str, number: u64) -> String {
        let mut state = lock(&self.inner.state);
        let owner = state
            .repo(full_name)
            .map(|r| r.owner.clone())
            .unwrap_or_else(|| panic!("merge_pull: no repository {full_name}"));
        let merger = state::Actor::User { login: owner };
        let request = rest::MergeRequest {
            method: "merge".into(),
            sha: None,
            title: None,
            message: None,
        };
        match rest::merge(&mut state, full_name, number, &merger, &request) {
            Ok(sha) => sha,
            Err(e) => panic!("merge_pull {full_name}#{number}: {}", e.message),
        }
    }

    /// Opens an issue by `author`, as a person does on github.com; returns its number.
    pub fn open_issue(
        &self,
        full_name: &str,
        author: &str,
        title: &str,
        body: &str,
        labels: &[&str],
    ) -> u64 {
        let mut state = lock(&self.inner.state);
        let labels: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
        state
            .open_issue(full_name, author, title, body, &labels)
            .unwrap_or_else(|| panic!("open_issue: no repository {full_name}"))
    }

    /// Delivers a webhook as GitHub does: POSTs `payload` to `url` with `X-GitHub-Event`,
    /// `X-GitHub-Delivery` (`delivery`, or a new uuid), `X-Hub-Signature-256`
    /// (`sha256=` + hex HMAC-SHA256 of the raw body under `secret`) and User-Agent
    /// `GitHub-Hookshot/fake`. Returns the receiver's status and the delivery id.
    pub async fn send_webhook(
        &self,
        url: &str,
        secret: &str,
        event: &str,
        delivery: Option<&str>,
        payload: &Value,
    ) -> (u16, String) {
        let body = serde_json::to_vec(payload).unwrap_or_default();
        let delivery = delivery.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        let response = self
            .inner
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, "GitHub-Hookshot/fake")
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", &delivery)
            .header("X-GitHub-Hook-ID", "1")
            .header("X-GitHub-Hook-Installation-Target-Type", "integration")
            .header(
                "X-GitHub-Hook-Installation-Target-ID",
                Self::APP_ID.to_string(),
            )
            .header("X-Hub-Signature-256", Self::signature(secret, &body))
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("send_webhook to {url}: {e}"));
        (response.status().as_u16(), delivery)
    }

    /// `sha256=<hex hmac>` of `body` under `secret`, as GitHub signs webhook deliveries.
    pub fn signature(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("hmac accepts keys of any length");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }
}

const PRIVATE_KEY_PEM: &str = include_str!("../../fixtures/github-app-test-key.pem");
const PUBLIC_KEY_PEM: &str = include_str!("../../fixtures/github-app-test-key.pub.pem");

/// Largest REST body read (GitHub's own limit is far larger than anything Kiln sends).
const MAX_REST_BODY: usize = 25 * 1024 * 1024;

async fn handle(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    if let Some(target) = git::Target::parse(request.uri()) {
        return git::serve(inner, target, request).await;
    }
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_REST_BODY).await {
        Ok(body) => body,
        Err(_) => Bytes::new(),
    };
    let (recorded, fault) = inner
        .common
        .record(&parts.method, &parts.uri, &parts.headers, &body);
    let fault = fault.map(|m| match m {
        Mode::RateLimited { retry_after_secs } => Fault::Secondary(retry_after_secs),
        Mode::GloballyRateLimited { retry_after_secs } => Fault::Primary(retry_after_secs),
        Mode::Down | Mode::Normal => Fault::Down,
    });
    let json_ok = body.is_empty() || !recorded.body.is_null() || body.trim_ascii() == b"null";
    let request = rest::RestRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body: recorded.body,
        json_ok,
        fault,
    };
    let worker = inner.clone();
    match tokio::task::spawn_blocking(move || rest::handle(&worker, request)).await {
        Ok(response) => response,
        Err(e) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("fake github: {e}"),
        ),
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut response = (status, Body::from(format!("{text}\n"))).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
