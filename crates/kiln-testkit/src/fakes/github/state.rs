//! What the fake GitHub holds: accounts, installations, tokens, repositories and their pull
//! requests, issues, comments and check runs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rand::Rng;
use serde_json::Value;

use super::{CheckRun, Comment, Issue, Pull, Push, git};
use crate::fakes::now_unix;

/// The login of the app's bot user, the author of what an installation token writes.
pub(super) const BOT_LOGIN: &str = "kiln-app[bot]";
pub(super) const APP_SLUG: &str = "kiln-app";
pub(super) const APP_NAME: &str = "Kiln";
/// The organization that owns the app.
pub(super) const APP_OWNER: &str = "kiln-dev";
pub(super) const BOT_ID: u64 = 900_000 + super::FakeGitHub::APP_ID;

/// A fault a [`crate::fakes::Mode`] asks for, in GitHub's terms.
#[derive(Debug, Clone, Copy)]
pub(super) enum Fault {
    /// The secondary rate limit: 429 with `retry-after`.
    Secondary(f64),
    /// The primary rate limit: 403 with `x-ratelimit-remaining: 0`.
    Primary(f64),
    /// 503.
    Down,
}

/// The permissions the app asks for when installed.
pub(super) fn app_permissions() -> BTreeMap<String, String> {
    [
        ("administration", "write"),
        ("checks", "write"),
        ("contents", "write"),
        ("issues", "write"),
        ("metadata", "read"),
        ("pull_requests", "write"),
        ("statuses", "write"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The webhook events the app subscribes to.
pub(super) const APP_EVENTS: &[&str] = &[
    "check_run",
    "check_suite",
    "issue_comment",
    "issues",
    "pull_request",
    "pull_request_review",
    "push",
];

/// `read` < `write` < `admin`; anything else ranks below `read`.
pub(super) fn level_rank(level: &str) -> u8 {
    match level {
        "read" => 1,
        "write" => 2,
        "admin" => 3,
        _ => 0,
    }
}

/// A user's role on a repository, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Role {
    None,
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

impl Role {
    pub(super) fn parse(s: &str) -> Self {
        match s {
            "admin" => Self::Admin,
            "maintain" => Self::Maintain,
            "write" | "push" => Self::Write,
            "triage" => Self::Triage,
            "read" | "pull" => Self::Read,
            _ => Self::None,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Maintain => "maintain",
            Self::Write => "write",
            Self::Triage => "triage",
            Self::Read => "read",
            Self::None => "none",
        }
    }

    /// The legacy `permission` field: maintain reads as write, triage as read.
    pub(super) fn legacy(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Maintain | Self::Write => "write",
            Self::Triage | Self::Read => "read",
            Self::None => "none",
        }
    }
}

/// Who a request acts as.
#[derive(Debug, Clone)]
pub(super) enum Actor {
    /// An installation token.
    App {
        installation: u64,
        /// The repositories it is scoped to; `None` = all of the installation's.
        repos: Option<BTreeSet<u64>>,
        permissions: BTreeMap<String, String>,
    },
    /// A personal access token.
    User { login: String },
}

impl Actor {
    /// The login that authors what this actor writes.
    pub(super) fn login(&self) -> &str {
        match self {
            Self::App { .. } => BOT_LOGIN,
            Self::User { login } => login,
        }
    }
}

pub(super) struct Account {
    pub(super) login: String,
    pub(super) id: u64,
    /// A user (a personal token was minted for it) rather than an organization.
    pub(super) user: bool,
}

pub(super) struct Installation {
    pub(super) id: u64,
    pub(super) account: String,
    pub(super) permissions: BTreeMap<String, String>,
    pub(super) created_at: i64,
}

pub(super) enum TokenKind {
    Installation {
        installation: u64,
        repos: Option<BTreeSet<u64>>,
        permissions: BTreeMap<String, String>,
    },
    Pat {
        login: String,
    },
}

pub(super) struct Token {
    pub(super) kind: TokenKind,
    pub(super) expires_at: Option<SystemTime>,
}

impl Token {
    fn valid(&self) -> bool {
        self.expires_at.is_none_or(|t| SystemTime::now() < t)
    }
}

struct Bucket {
    used: u32,
    reset: i64,
}

/// The rate-limit headers' values for one answer.
pub(super) struct RateView {
    pub(super) limit: u32,
    pub(super) remaining: u32,
    pub(super) used: u32,
    pub(super) reset: i64,
}

pub(super) const RATE_LIMIT: u32 = 5000;

pub(super) struct PullState {
    pub(super) id: u64,
    pub(super) number: u64,
    pub(super) node_id: String,
    pub(super) title: String,
    pub(super) body: Option<String>,
    pub(super) state: String,
    pub(super) draft: bool,
    pub(super) head_ref: String,
    /// The head's tip: refreshed from the branch while open, frozen once closed.
    pub(super) head_sha: String,
    pub(super) base_ref: String,
    pub(super) author: String,
    pub(super) merged: bool,
    pub(super) merge_commit_sha: Option<String>,
    pub(super) merged_by: Option<String>,
    pub(super) labels: Vec<String>,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    pub(super) closed_at: Option<i64>,
    pub(super) merged_at: Option<i64>,
}

impl PullState {
    /// Re-reads the head sha from the head branch while the pull request is open.
    pub(super) fn refresh_head(&mut self, repo: &Path) {
        if self.state != "open" {
            return;
        }
        if let Some(sha) = git::branch_sha(repo, &self.head_ref) {
            self.head_sha = sha;
        }
    }

    pub(super) fn close(&mut self) {
        let now = now_unix();
        self.state = "closed".into();
        self.closed_at = Some(now);
        self.updated_at = now;
    }

    pub(super) fn public(&self) -> Pull {
        Pull {
            number: self.number,
            node_id: self.node_id.clone(),
            title: self.title.clone(),
            body: self.body.clone().unwrap_or_default(),
            state: self.state.clone(),
            draft: self.draft,
            head_ref: self.head_ref.clone(),
            head_sha: self.head_sha.clone(),
            base_ref: self.base_ref.clone(),
            merged: self.merged,
            merge_commit_sha: self.merge_commit_sha.clone(),
            author: self.author.clone(),
        }
    }
}

pub(super) struct IssueState {
    pub(super) id: u64,
    pub(super) number: u64,
    pub(super) node_id: String,
    pub(super) title: String,
    pub(super) body: Option<String>,
    pub(super) state: String,
    pub(super) state_reason: Option<String>,
    pub(super) labels: Vec<String>,
    pub(super) author: String,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    pub(super) closed_at: Option<i64>,
}

impl IssueState {
    pub(super) fn public(&self) -> Issue {
        Issue {
            number: self.number,
            title: self.title.clone(),
            body: self.body.clone().unwrap_or_default(),
            state: self.state.clone(),
            labels: self.labels.clone(),
            author: self.author.clone(),
        }
    }
}

pub(super) struct CommentState {
    pub(super) id: u64,
    pub(super) node_id: String,
    /// The issue or pull request it is on.
    pub(super) number: u64,
    pub(super) author: String,
    pub(super) body: String,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
}

impl CommentState {
    pub(super) fn public(&self) -> Comment {
        Comment {
            id: self.id,
            author: self.author.clone(),
            body: self.body.clone(),
        }
    }
}

pub(super) struct CheckRunState {
    pub(super) id: u64,
    pub(super) node_id: String,
    pub(super) name: String,
    pub(super) head_sha: String,
    pub(super) status: String,
    pub(super) conclusion: Option<String>,
    pub(super) started_at: Option<i64>,
    pub(super) completed_at: Option<i64>,
    pub(super) details_url: Option<String>,
    pub(super) external_id: Option<String>,
    pub(super) title: Option<String>,
    pub(super) summary: Option<String>,
    pub(super) text: Option<String>,
    pub(super) annotations: Vec<Value>,
    pub(super) updates: u32,
    pub(super) suite_id: u64,
}

impl CheckRunState {
    pub(super) fn public(&self) -> CheckRun {
        CheckRun {
            id: self.id,
            name: self.name.clone(),
            head_sha: self.head_sha.clone(),
            status: self.status.clone(),
            conclusion: self.conclusion.clone(),
            title: self.title.clone(),
            summary: self.summary.clone(),
            text: self.text.clone(),
            details_url: self.details_url.clone(),
            external_id: self.external_id.clone(),
            annotations: self.annotations.clone(),
            updates: self.updates,
        }
    }
}

pub(super) struct Repo {
    pub(super) id: u64,
    pub(super) node_id: String,
    pub(super) owner: String,
    pub(super) name: String,
    pub(super) private: bool,
    pub(super) description: Option<String>,
    pub(super) default_branch: String,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    pub(super) path: PathBuf,
    /// Lowercase login -> role name.
    pub(super) collaborators: BTreeMap<String, String>,
    /// Issues and pull requests share one sequence.
    pub(super) next_number: u64,
    pub(super) pulls: BTreeMap<u64, PullState>,
    pub(super) issues: BTreeMap<u64, IssueState>,
    pub(super) comments: Vec<CommentState>,
    pub(super) check_runs: Vec<CheckRunState>,
    /// Head sha -> check suite id.
    pub(super) suites: BTreeMap<String, u64>,
    /// Label name -> id.
    pub(super) labels: BTreeMap<String, u64>,
}

impl Repo {
    pub(super) fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    pub(super) fn next_number(&mut self) -> u64 {
        self.next_number += 1;
        self.next_number
    }
}

pub(super) struct State_ {
    next_id: u64,
    accounts: BTreeMap<String, Account>,
    pub(super) installations: BTreeMap<u64, Installation>,
    repos: BTreeMap<String, Repo>,
    tokens: HashMap<String, Token>,
    pub(super) issued: Vec<String>,
    pub(super) token_ttl: Duration,
    rate: HashMap<String, Bucket>,
    pub(super) pushes: Vec<Push>,
}

/// `n` random ASCII letters and digits.
fn random_alnum(n: usize) -> String {
    rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// A GraphQL-style node id: `prefix` + base64 of the numeric id.
pub(super) fn node_id(prefix: &str, id: u64) -> String {
    use base64::Engine;
    let raw = format!("0:{id}");
    format!(
        "{prefix}_kwDO{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

impl State_ {
    pub(super) fn new() -> Self {
        Self {
            next_id: 1000,
            accounts: BTreeMap::new(),
            installations: BTreeMap::new(),
            repos: BTreeMap::new(),
            tokens: HashMap::new(),
            issued: Vec::new(),
            token_ttl: Duration::from_secs(3600),
            rate: HashMap::new(),
            pushes: Vec::new(),
        }
    }

    /// A new id, unique across every kind of object.
    pub(super) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The account `login`, created (as an organization) if new.
    pub(super) fn account(&mut self, login: &str) -> &mut Account {
        let next_id = &mut self.next_id;
        self.accounts
            .entry(login.to_ascii_lowercase())
            .or_insert_with(|| {
                *next_id += 1;
                Account {
                    login: login.to_owned(),
                    id: *next_id,
                    user: false,
                }
            })
    }

    /// `(id, type)` of `login` for JSON: `Bot`, `User` or `Organization`.
    pub(super) fn account_info(&self, login: &str) -> (u64, &'static str) {
        if login == BOT_LOGIN {
            return (BOT_ID, "Bot");
        }
        if login == APP_OWNER {
            return (1, "Organization");
        }
        match self.accounts.get(&login.to_ascii_lowercase()) {
            Some(a) => (a.id, if a.user { "User" } else { "Organization" }),
            None => (0, "User"),
        }
    }

    /// The login as first registered (GitHub keeps the account's own casing).
    pub(super) fn canonical_login(&self, login: &str) -> String {
        self.accounts
            .get(&login.to_ascii_lowercase())
            .map_or_else(|| login.to_owned(), |a| a.login.clone())
    }

    pub(super) fn add_installation(&mut self, account: &str) -> u64 {
        if let Some(existing) = self.installation_for(account) {
            return existing.id;
        }
        let login = self.account(account).login.clone();
        let id = self.id();
        self.installations.insert(
            id,
            Installation {
                id,
                account: login,
                permissions: app_permissions(),
                created_at: now_unix(),
            },
        );
        id
    }

    /// The app's installation on `owner`, if any.
    pub(super) fn installation_for(&self, owner: &str) -> Option<&Installation> {
        self.installations
            .values()
            .find(|i| i.account.eq_ignore_ascii_case(owner))
    }

    pub(super) fn repo(&self, full_name: &str) -> Option<&Repo> {
        self.repos.get(&full_name.to_ascii_lowercase())
    }

    pub(super) fn repo_mut(&mut self, full_name: &str) -> Option<&mut Repo> {
        self.repos.get_mut(&full_name.to_ascii_lowercase())
    }

    pub(super) fn repo_by_id(&self, id: u64) -> Option<&Repo> {
        self.repos.values().find(|r| r.id == id)
    }

    pub(super) fn repos(&self) -> impl Iterator<Item = &Repo> {
        self.repos.values()
    }

    /// Creates the bare repository `owner/name` (no commits); `Err` when the name is taken
    /// or git fails.
    pub(super) fn create_repo(
        &mut self,
        root: &Path,
        owner: &str,
        name: &str,
        description: Option<String>,
    ) -> Result<PathBuf, String> {
        let owner = self.account(owner).login.clone();
        let full_name = format!("{owner}/{name}");
        if self.repo(&full_name).is_some() {
            return Err("name already exists on this account".into());
        }
        let path = root.join(&owner).join(format!("{name}.git"));
        git::init_bare(&path, "main")?;
        let id = self.id();
        let now = now_unix();
        self.repos.insert(
            full_name.to_ascii_lowercase(),
            Repo {
                id,
                node_id: node_id("R", id),
                owner,
                name: name.to_owned(),
                private: true,
                description,
                default_branch: "main".into(),
                created_at: now,
                updated_at: now,
                path: path.clone(),
                collaborators: BTreeMap::new(),
                next_number: 0,
                pulls: BTreeMap::new(),
                issues: BTreeMap::new(),
                comments: Vec::new(),
                check_runs: Vec::new(),
                suites: BTreeMap::new(),
                labels: BTreeMap::new(),
            },
        );
        Ok(path)
    }

    pub(super) fn mint_pat(&mut self, login: &str) -> String {
        let account = self.account(login);
        account.user = true;
        let login = account.login.clone();
        let token = format!("ghp_{}", random_alnum(36));
        self.tokens.insert(
            token.clone(),
            Token {
                kind: TokenKind::Pat { login },
                expires_at: None,
            },
        );
        self.issued.push(token.clone());
        token
    }

    /// Mints an installation token; returns it and when it expires.
    pub(super) fn mint_installation_token(
        &mut self,
        installation: u64,
        repos: Option<BTreeSet<u64>>,
        permissions: BTreeMap<String, String>,
    ) -> (String, SystemTime) {
        let token = format!("ghs_{}", random_alnum(36));
        // Whole seconds, so `expires_at` on the wire is exactly when it stops working.
        let expires = SystemTime::UNIX_EPOCH
            + Duration::from_secs(
                (now_unix().max(0) as u64).saturating_add(self.token_ttl.as_secs().max(1)),
            );
        self.tokens.insert(
            token.clone(),
            Token {
                kind: TokenKind::Installation {
                    installation,
                    repos,
                    permissions,
                },
                expires_at: Some(expires),
            },
        );
        self.issued.push(token.clone());
        (token, expires)
    }

    pub(super) fn expire_installation_tokens(&mut self) {
        let now = SystemTime::now();
        for token in self.tokens.values_mut() {
            if matches!(token.kind, TokenKind::Installation { .. }) {
                token.expires_at = Some(now);
            }
        }
    }

    /// Who `token` acts as; `None` when it is unknown or expired.
    pub(super) fn actor(&self, token: &str) -> Option<Actor> {
        let token = self.tokens.get(token).filter(|t| t.valid())?;
        Some(match &token.kind {
            TokenKind::Installation {
                installation,
                repos,
                permissions,
            } => Actor::App {
                installation: *installation,
                repos: repos.clone(),
                permissions: permissions.clone(),
            },
            TokenKind::Pat { login } => Actor::User {
                login: login.clone(),
            },
        })
    }

    /// The rate-limit window of `key` after this request (`count` = it costs one).
    pub(super) fn rate(&mut self, key: &str, count: bool) -> RateView {
        let now = now_unix();
        let bucket = self.rate.entry(key.to_owned()).or_insert(Bucket {
            used: 0,
            reset: now + 3600,
        });
        if bucket.reset <= now {
            bucket.used = 0;
            bucket.reset = now + 3600;
        }
        if count {
            bucket.used = bucket.used.saturating_add(1);
        }
        RateView {
            limit: RATE_LIMIT,
            remaining: RATE_LIMIT.saturating_sub(bucket.used),
            used: bucket.used.min(RATE_LIMIT),
            reset: bucket.reset,
        }
    }

    /// The role `login` has on `repo`: admin for the owner of a user's repository.
    pub(super) fn role(&self, repo: &Repo, login: &str) -> Role {
        if repo.owner.eq_ignore_ascii_case(login) {
            return Role::Admin;
        }
        repo.collaborators
            .get(&login.to_ascii_lowercase())
            .map_or(Role::None, |r| Role::parse(r))
    }

    /// Opens an issue; `None` when the repository does not exist.
    pub(super) fn open_issue(
        &mut self,
        full_name: &str,
        author: &str,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Option<u64> {
        let author = self.canonical_login(author);
        if author != BOT_LOGIN {
            let account = self.account(&author);
            account.user = true;
        }
        self.repo(full_name)?;
        let id = self.id();
        let mut label_ids = Vec::new();
        for _ in labels {
            label_ids.push(self.id());
        }
        let repo = self.repo_mut(full_name)?;
        for (label, lid) in labels.iter().zip(label_ids) {
            repo.labels.entry(label.clone()).or_insert(lid);
        }
        let number = repo.next_number();
        let now = now_unix();
        repo.issues.insert(
            number,
            IssueState {
                id,
                number,
                node_id: node_id("I", id),
                title: title.to_owned(),
                body: (!body.is_empty()).then(|| body.to_owned()),
                state: "open".into(),
                state_reason: None,
                labels: labels.to_vec(),
                author,
                created_at: now,
                updated_at: now,
                closed_at: None,
            },
        );
        Some(number)
    }

    /// Ids for the labels `names` of `full_name`, created if new.
    pub(super) fn ensure_labels(&mut self, full_name: &str, names: &[String]) {
        let missing: Vec<String> = match self.repo(full_name) {
            Some(repo) => names
                .iter()
                .filter(|n| !repo.labels.contains_key(*n))
                .cloned()
                .collect(),
            None => return,
        };
        let ids: Vec<u64> = missing.iter().map(|_| self.id()).collect();
        if let Some(repo) = self.repo_mut(full_name) {
            for (name, id) in missing.into_iter().zip(ids) {
                repo.labels.insert(name, id);
            }
        }
    }

    /// The check suite of `head_sha` in `full_name`, created if new.
    pub(super) fn suite(&mut self, full_name: &str, head_sha: &str) -> u64 {
        if let Some(id) = self
            .repo(full_name)
            .and_then(|r| r.suites.get(head_sha).copied())
        {
            return id;
        }
        let id = self.id();
        if let Some(repo) = self.repo_mut(full_name) {
            repo.suites.insert(head_sha.to_owned(), id);
        }
        id
    }
}
