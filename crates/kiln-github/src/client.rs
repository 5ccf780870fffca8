//! The GitHub client: `octocrab` for authentication (App JWT, installation tokens scoped to
//! one repository and refreshed before they expire) and transport; Kiln's own types for the
//! few REST calls it makes, so every answer is checked for exactly the fields Kiln reads.
//!
//! Every call makes one request (octocrab itself retries once with a fresh installation
//! token after a `401`). Failures come back classified ([`Error::is_transient`],
//! [`Error::retry_after`]) for the caller to retry on its own schedule: the pipeline never
//! waits inside this client.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use kiln_runtime::config::Secret;
use octocrab::Octocrab;
use octocrab::models::{AppId, InstallationId};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Config, Error, RepoName, Result};

/// Installation tokens are renewed when they have less than this left, so a push or a long
/// call never starts with a token about to expire.
const TOKEN_MARGIN_MINUTES: i64 = 5;
/// Waited when GitHub rate-limits without saying for how long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A repository as Kiln reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Repository {
    pub full_name: String,
    pub default_branch: Option<String>,
    pub private: bool,
    pub html_url: String,
    /// The HTTPS URL git clones and pushes over.
    pub clone_url: String,
}

/// A branch of a pull request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PullRef {
    #[serde(rename = "ref")]
    pub branch: String,
    pub sha: String,
}

/// A pull request as Kiln reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Pull {
    pub number: u64,
    pub node_id: String,
    pub html_url: String,
    /// `open` or `closed`.
    pub state: String,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub merged: Option<bool>,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    pub head: PullRef,
    pub base: PullRef,
    #[serde(default)]
    pub body: Option<String>,
}

impl Pull {
    /// Merged, whether the answer says so by `merged` (single pull) or `merged_at` (lists).
    pub fn is_merged(&self) -> bool {
        self.merged.unwrap_or(false) || self.merged_at.is_some()
    }
}

/// A pull request to open.
#[derive(Debug, Clone, Serialize)]
pub struct NewPull<'a> {
    pub title: &'a str,
    /// The branch with the changes (in the same repository).
    pub head: &'a str,
    pub base: &'a str,
    pub body: &'a str,
    pub draft: bool,
}

/// An annotation on a file line of a check run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    /// `notice`, `warning` or `failure`.
    pub annotation_level: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// What a check run shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckOutput {
    pub title: String,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
}

/// A check run to create or update: `status` is `queued`, `in_progress` or `completed`
/// (then with a `conclusion`: `success`, `failure`, `neutral`, `cancelled`, `skipped`,
/// `timed_out` or `action_required`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRunWrite {
    pub name: String,
    pub head_sha: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub output: CheckOutput,
}

/// A check run as Kiln reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
}

/// An issue as Kiln reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IssueRef {
    pub number: u64,
    pub state: String,
    #[serde(default)]
    pub body: Option<String>,
    pub html_url: String,
}

/// An issue or pull-request comment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Comment {
    pub id: u64,
    pub body: String,
    pub html_url: String,
}

#[derive(Deserialize)]
struct CheckRunList {
    check_runs: Vec<CheckRun>,
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
}

#[derive(Deserialize)]
struct MergeResult {
    sha: String,
}

enum Auth {
    /// Authenticates as the App (JWT); repository calls go through installation clients.
    App(Octocrab),
    /// The personal-token fallback, with its token for git.
    Token(Arc<Octocrab>, Secret),
}

struct Inner {
    auth: Auth,
    /// Installation clients by repository, each minting tokens scoped to that repository.
    /// Shared, never cloned: an `Octocrab` clone starts with its own copy of the token
    /// cache, so a clone per call would mint a token per call.
    installs: Mutex<HashMap<RepoName, Arc<Octocrab>>>,
    calls: AtomicU64,
}

/// A GitHub connection; clones share the token cache and the call counter.
#[derive(Clone)]
pub struct GitHub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.inner.auth {
            Auth::App(_) => "app",
            Auth::Token(..) => "personal token",
        };
        f.debug_struct("GitHub").field("auth", &kind).finish()
    }
}

type Builder = octocrab::OctocrabBuilder<
    octocrab::NoSvc,
    octocrab::DefaultOctocrabBuilderConfig,
    octocrab::NoAuth,
    octocrab::NotLayerReady,
>;

fn builder(config: &Config) -> Result<Builder> {
    let timeout = Some(Duration::from_secs(config.timeout_secs));
    octocrab::OctocrabBuilder::new()
        .base_uri(config.api_url.trim_end_matches('/'))
        .map(|b| b.set_connect_timeout(timeout).set_read_timeout(timeout))
        .map_err(|e| Error::Config(format!("[github] api_url `{}`: {e}", config.api_url)))
}

impl GitHub {
    /// A client from `[github]`, or `None` when GitHub is not configured.
    pub fn from_config(config: &Config) -> Result<Option<Self>> {
        config.validate().map_err(Error::Config)?;
        let auth = if let Some(app_id) = config.app_id {
            let pem = match (&config.private_key, &config.private_key_file) {
                (Some(pem), _) => pem.expose().as_bytes().to_vec(),
                (None, Some(path)) => std::fs::read(path)
                    .map_err(|e| Error::Key(format!("{}: {e}", path.display())))?,
                (None, None) => unreachable!("validate() requires a key with app_id"),
            };
            let crab = builder(config)?
                .app_from_rsa_pem(AppId(app_id), pem)
                .map_err(|_| Error::Key("not an RSA private key in PEM".into()))?
                .build()
                .map_err(|e| Error::Config(format!("[github]: {e}")))?;
            Auth::App(crab)
        } else if let Some(token) = &config.token {
            let crab = builder(config)?
                .personal_token(token.expose().to_owned())
                .build()
                .map_err(|e| Error::Config(format!("[github]: {e}")))?;
            Auth::Token(Arc::new(crab), token.clone())
        } else {
            return Ok(None);
        };
        Ok(Some(Self {
            inner: Arc::new(Inner {
                auth,
                installs: Mutex::new(HashMap::new()),
                calls: AtomicU64::new(0),
            }),
        }))
    }

    /// Whether this client authenticates as an App (rather than a personal token).
    pub fn is_app(&self) -> bool {
        matches!(self.inner.auth, Auth::App(_))
    }

    /// REST requests made so far (for `kiln bench`), token requests included.
    pub fn api_calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// The client that acts on `repo`: the App's installation on its owner with a token
    /// scoped to that one repository, or the personal token.
    async fn crab(&self, repo: &RepoName) -> Result<Arc<Octocrab>> {
        let app = match &self.inner.auth {
            Auth::Token(crab, _) => return Ok(crab.clone()),
            Auth::App(app) => app,
        };
        if let Some(crab) = lock(&self.inner.installs).get(repo) {
            return Ok(crab.clone());
        }
        let what = format!("finding the App's installation on {repo}");
        let found: Option<Installation> = self
            .call_opt(
                app,
                Method::GET,
                &format!("{}/installation", repo.path()),
                None,
                &what,
            )
            .await?;
        let Some(installation) = found else {
            return Err(Error::NotInstalled {
                owner: repo.owner().to_owned(),
                repository: repo.to_string(),
            });
        };
        let crab = Arc::new(
            app.installation_builder(InstallationId(installation.id))
                .repositories(vec![repo.name().to_owned()])
                .build()
                .map_err(|e| Error::Config(format!("[github]: {e}")))?,
        );
        // Two callers may race here; the first client stays, so all share one token cache.
        Ok(lock(&self.inner.installs)
            .entry(repo.clone())
            .or_insert(crab)
            .clone())
    }

    /// The client that may create repositories under `owner`: the App's installation on
    /// that account (organisations only, as GitHub allows), or the personal token.
    async fn owner_crab(&self, owner: &str) -> Result<Arc<Octocrab>> {
        let app = match &self.inner.auth {
            Auth::Token(crab, _) => return Ok(crab.clone()),
            Auth::App(app) => app,
        };
        let what = format!("finding the App's installation on {owner}");
        let found: Option<Installation> = self
            .call_opt(
                app,
                Method::GET,
                &format!("/orgs/{owner}/installation"),
                None,
                &what,
            )
            .await?;
        let Some(installation) = found else {
            return Err(Error::NotInstalled {
                owner: owner.to_owned(),
                repository: format!("{owner}/*"),
            });
        };
        app.installation(InstallationId(installation.id))
            .map(Arc::new)
            .map_err(|e| Error::Config(format!("[github]: {e}")))
    }

    /// A token git can push and fetch `repo` with: an installation token scoped to it with at
    /// least five minutes left (minted again when needed), or the personal token.
    pub async fn git_token(&self, repo: &RepoName) -> Result<Secret> {
        if let Auth::Token(_, token) = &self.inner.auth {
            return Ok(token.clone());
        }
        let crab = self.crab(repo).await?;
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        let token = crab
            .installation_token_with_buffer(chrono::Duration::minutes(TOKEN_MARGIN_MINUTES))
            .await
            .map_err(|e| transport(&format!("an installation token for {repo}"), &e))?;
        Ok(Secret::new(token.expose_secret().to_owned()))
    }

    /// The repository, or `None` when it does not exist (or the credentials cannot see it).
    pub async fn repository(&self, repo: &RepoName) -> Result<Option<Repository>> {
        let crab = match self.crab(repo).await {
            Ok(crab) => crab,
            Err(Error::NotInstalled { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        self.call_opt(
            &crab,
            Method::GET,
            &repo.path(),
            None,
            &format!("reading {repo}"),
        )
        .await
    }

    /// Creates `repo` with one initial commit (a README) on its default branch, so pull
    /// requests have a base from the start.
    pub async fn create_repository(&self, repo: &RepoName, private: bool) -> Result<Repository> {
        let crab = self.owner_crab(repo.owner()).await?;
        let path = match &self.inner.auth {
            Auth::Token(..) if self.token_login(&crab).await? == repo.owner() => {
                "/user/repos".to_owned()
            }
            _ => format!("/orgs/{}/repos", repo.owner()),
        };
        let body = json!({
            "name": repo.name(),
            "private": private,
            "auto_init": true,
            "description": "Built with Kiln",
        });
        self.call(
            &crab,
            Method::POST,
            &path,
            Some(&body),
            &format!("creating {repo}"),
        )
        .await
    }

    async fn token_login(&self, crab: &Octocrab) -> Result<String> {
        #[derive(Deserialize)]
        struct User {
            login: String,
        }
        let user: User = self
            .call(crab, Method::GET, "/user", None, "reading the token's user")
            .await?;
        Ok(user.login)
    }

    /// The pull request (open or closed) whose head is `branch` of `repo`, newest first.
    pub async fn find_pull(&self, repo: &RepoName, branch: &str) -> Result<Option<Pull>> {
        let crab = self.crab(repo).await?;
        let path = format!(
            "{}/pulls?state=all&head={}:{}&per_page=100",
            repo.path(),
            repo.owner(),
            query_escape(branch)
        );
        let pulls: Vec<Pull> = self
            .call(
                &crab,
                Method::GET,
                &path,
                None,
                &format!("listing pull requests of {repo}"),
            )
            .await?;
        Ok(pulls
            .into_iter()
            .filter(|p| p.head.branch == branch)
            .max_by_key(|p| p.number))
    }

    pub async fn pull(&self, repo: &RepoName, number: u64) -> Result<Pull> {
        let crab = self.crab(repo).await?;
        let path = format!("{}/pulls/{number}", repo.path());
        self.call(
            &crab,
            Method::GET,
            &path,
            None,
            &format!("reading pull request #{number} of {repo}"),
        )
        .await
    }

    pub async fn create_pull(&self, repo: &RepoName, pull: &NewPull<'_>) -> Result<Pull> {
        let crab = self.crab(repo).await?;
        let body = serde_json::to_value(pull).expect("a pull request serialises");
        let path = format!("{}/pulls", repo.path());
        self.call(
            &crab,
            Method::POST,
            &path,
            Some(&body),
            &format!("opening a pull request on {repo}"),
        )
        .await
    }

    /// Rewrites the title and body.
    pub async fn update_pull(
        &self,
        repo: &RepoName,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<Pull> {
        let crab = self.crab(repo).await?;
        let path = format!("{}/pulls/{number}", repo.path());
        let body = json!({ "title": title, "body": body });
        self.call(
            &crab,
            Method::PATCH,
            &path,
            Some(&body),
            &format!("updating pull request #{number} of {repo}"),
        )
        .await
    }

    /// Takes a draft out of draft (GitHub offers this only through GraphQL).
    pub async fn mark_ready(&self, repo: &RepoName, node_id: &str) -> Result<()> {
        let crab = self.crab(repo).await?;
        let body = json!({
            "query": "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } } }",
            "variables": { "id": node_id },
        });
        let what = format!("marking a pull request of {repo} ready for review");
        let answer: Value = self
            .call(&crab, Method::POST, "/graphql", Some(&body), &what)
            .await?;
        if let Some(errors) = answer.get("errors").and_then(Value::as_array) {
            let message = errors
                .iter()
                .filter_map(|e| e.get("message").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::Status {
                what,
                status: 200,
                message,
            });
        }
        Ok(())
    }

    /// Merges the pull request if its head is still `sha`; the merge commit.
    pub async fn merge_pull(
        &self,
        repo: &RepoName,
        number: u64,
        sha: &str,
        title: &str,
    ) -> Result<String> {
        let crab = self.crab(repo).await?;
        let path = format!("{}/pulls/{number}/merge", repo.path());
        let body = json!({ "sha": sha, "merge_method": "merge", "commit_title": title });
        let merged: MergeResult = self
            .call(
                &crab,
                Method::PUT,
                &path,
                Some(&body),
                &format!("merging pull request #{number} of {repo}"),
            )
            .await?;
        Ok(merged.sha)
    }

    /// Every check run on `sha`.
    pub async fn check_runs(&self, repo: &RepoName, sha: &str) -> Result<Vec<CheckRun>> {
        let crab = self.crab(repo).await?;
        let mut out = Vec::new();
        for page in 1.. {
            let path = format!(
                "{}/commits/{sha}/check-runs?per_page=100&page={page}",
                repo.path()
            );
            let list: CheckRunList = self
                .call(
                    &crab,
                    Method::GET,
                    &path,
                    None,
                    &format!("listing check runs of {repo}"),
                )
                .await?;
            let n = list.check_runs.len();
            out.extend(list.check_runs);
            if n < 100 {
                break;
            }
        }
        Ok(out)
    }

    pub async fn create_check_run(&self, repo: &RepoName, run: &CheckRunWrite) -> Result<CheckRun> {
        let crab = self.crab(repo).await?;
        let body = serde_json::to_value(run).expect("a check run serialises");
        let path = format!("{}/check-runs", repo.path());
        self.call(
            &crab,
            Method::POST,
            &path,
            Some(&body),
            &format!("creating check run {} on {repo}", run.name),
        )
        .await
    }

    pub async fn update_check_run(
        &self,
        repo: &RepoName,
        id: u64,
        run: &CheckRunWrite,
    ) -> Result<CheckRun> {
        let crab = self.crab(repo).await?;
        let body = serde_json::to_value(run).expect("a check run serialises");
        let path = format!("{}/check-runs/{id}", repo.path());
        self.call(
            &crab,
            Method::PATCH,
            &path,
            Some(&body),
            &format!("updating check run {} on {repo}", run.name),
        )
        .await
    }

    /// Comments on an issue or pull request.
    pub async fn comment(&self, repo: &RepoName, number: u64, body: &str) -> Result<Comment> {
        let crab = self.crab(repo).await?;
        let path = format!("{}/issues/{number}/comments", repo.path());
        self.call(
            &crab,
            Method::POST,
            &path,
            Some(&json!({ "body": body })),
            &format!("commenting on #{number} of {repo}"),
        )
        .await
    }

    /// The first 100 comments of an issue or pull request.
    pub async fn comments(&self, repo: &RepoName, number: u64) -> Result<Vec<Comment>> {
        let crab = self.crab(repo).await?;
        let path = format!("{}/issues/{number}/comments?per_page=100", repo.path());
        self.call(
            &crab,
            Method::GET,
            &path,
            None,
            &format!("reading comments of #{number} of {repo}"),
        )
        .await
    }

    /// Opens an issue with `labels`.
    pub async fn create_issue(
        &self,
        repo: &RepoName,
        title: &str,
        body: &str,
        labels: &[&str],
    ) -> Result<IssueRef> {
        let crab = self.crab(repo).await?;
        let path = format!("{}/issues", repo.path());
        let body = json!({ "title": title, "body": body, "labels": labels });
        self.call(
            &crab,
            Method::POST,
            &path,
            Some(&body),
            &format!("opening an issue on {repo}"),
        )
        .await
    }

    /// The first issue (open or closed) labelled `label` whose body contains `marker`, among
    /// the 100 newest with that label.
    pub async fn find_issue(
        &self,
        repo: &RepoName,
        label: &str,
        marker: &str,
    ) -> Result<Option<IssueRef>> {
        let crab = self.crab(repo).await?;
        let path = format!(
            "{}/issues?state=all&labels={}&per_page=100",
            repo.path(),
            query_escape(label)
        );
        let issues: Vec<IssueRef> = self
            .call(
                &crab,
                Method::GET,
                &path,
                None,
                &format!("listing issues of {repo}"),
            )
            .await?;
        Ok(issues
            .into_iter()
            .find(|i| i.body.as_deref().is_some_and(|b| b.contains(marker))))
    }

    /// Closes an issue as completed.
    pub async fn close_issue(&self, repo: &RepoName, number: u64) -> Result<IssueRef> {
        let crab = self.crab(repo).await?;
        let path = format!("{}/issues/{number}", repo.path());
        let body = json!({ "state": "closed", "state_reason": "completed" });
        self.call(
            &crab,
            Method::PATCH,
            &path,
            Some(&body),
            &format!("closing #{number} of {repo}"),
        )
        .await
    }

    /// `login`'s permission on `repo`: `admin`, `maintain`, `write`, `triage`, `read` or
    /// `none`.
    pub async fn permission(&self, repo: &RepoName, login: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct Permission {
            permission: String,
        }
        if !login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '[' || c == ']')
            || login.is_empty()
        {
            return Ok("none".into());
        }
        let crab = self.crab(repo).await?;
        let path = format!("{}/collaborators/{login}/permission", repo.path());
        let what = format!("reading {login}'s permission on {repo}");
        let found: Option<Permission> = self
            .call_opt(&crab, Method::GET, &path, None, &what)
            .await?;
        Ok(found.map_or_else(|| "none".into(), |p| p.permission))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        crab: &Octocrab,
        method: Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<T> {
        let (status, bytes) = self.send(crab, method, path, body, what).await?;
        decode(status, &bytes, what)
    }

    /// Like [`call`](Self::call), with `404` as `None`.
    async fn call_opt<T: DeserializeOwned>(
        &self,
        crab: &Octocrab,
        method: Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Option<T>> {
        match self.send(crab, method, path, body, what).await {
            Ok((status, bytes)) => decode(status, &bytes, what).map(Some),
            Err(Error::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends one request (the path is relative, so octocrab adds the credentials) and
    /// returns a success status with its body, or the classified error.
    async fn send(
        &self,
        crab: &Octocrab,
        method: Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<(StatusCode, Bytes)> {
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        let response = match method {
            Method::GET => crab._get(path).await,
            Method::POST => crab._post(path, body).await,
            Method::PATCH => crab._patch(path, body).await,
            Method::PUT => crab._put(path, body).await,
            other => unreachable!("no {other} requests are made"),
        }
        .map_err(|e| transport(what, &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| transport(what, &e))?
            .to_bytes();
        if status.is_success() {
            return Ok((status, bytes));
        }
        Err(classify(what, status, &headers, &bytes))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn transport(what: &str, e: &octocrab::Error) -> Error {
    // octocrab's errors name the request, never its headers, so no token is in them.
    let reason = match e {
        octocrab::Error::GitHub { source, .. } => source.message.clone(),
        other => other.to_string(),
    };
    Error::Transport {
        what: what.to_owned(),
        reason,
    }
}

fn decode<T: DeserializeOwned>(status: StatusCode, bytes: &[u8], what: &str) -> Result<T> {
    // 204 No Content decodes as JSON null.
    let bytes: &[u8] = if status == StatusCode::NO_CONTENT || bytes.is_empty() {
        b"null"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| Error::Decode {
        what: what.to_owned(),
        reason: e.to_string(),
    })
}

/// Turns an error answer into an [`Error`], recognising both of GitHub's rate limits: the
/// secondary one (`429`, or `403` with `retry-after`) and the primary one (`403` with
/// `x-ratelimit-remaining: 0`, waiting until `x-ratelimit-reset`).
fn classify(what: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("no message").to_owned());
    let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
    let spent = header("x-ratelimit-remaining") == Some("0");
    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (spent
                || retry_after.is_some()
                || message.to_ascii_lowercase().contains("rate limit")));
    if limited {
        let wait = retry_after.map(Duration::from_secs).or_else(|| {
            let reset = header("x-ratelimit-reset")?.parse::<u64>().ok()?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs();
            Some(Duration::from_secs(reset.saturating_sub(now).max(1)))
        });
        return Error::RateLimited {
            what: what.to_owned(),
            retry_after: wait.unwrap_or(DEFAULT_RETRY_AFTER),
        };
    }
    Error::Status {
        what: what.to_owned(),
        status: status.as_u16(),
        message,
    }
}

/// Escapes a branch name for a query string (branch names are checked refs, but may hold
/// `/` and `+`).
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(*n, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn both_rate_limits_are_recognised() {
        let e = classify(
            "x",
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("retry-after", "7")]),
            b"{}",
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert!(e.is_transient());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let reset = (now + 30).to_string();
        let e = classify(
            "x",
            StatusCode::FORBIDDEN,
            &headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset),
            ]),
            br#"{"message":"API rate limit exceeded for installation ID 1."}"#,
        );
        let wait = e.retry_after().unwrap().as_secs();
        assert!((28..=30).contains(&wait), "{wait}");
        let e = classify(
            "reading",
            StatusCode::FORBIDDEN,
            &headers(&[("x-ratelimit-remaining", "4000")]),
            br#"{"message":"Resource not accessible by integration"}"#,
        );
        assert!(!e.is_transient());
        assert_eq!(
            e.to_string(),
            "reading: GitHub answered 403: Resource not accessible by integration"
        );
        let e = classify("x", StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>");
        assert!(e.is_transient());
        assert!(e.to_string().ends_with("502: Bad Gateway"));
    }

    #[test]
    fn branch_names_are_escaped_for_the_query() {
        assert_eq!(query_escape("kiln/0190-ab"), "kiln/0190-ab");
        assert_eq!(query_escape("a+b&c"), "a%2Bb%26c");
    }
}
