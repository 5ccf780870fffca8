//! Jira Cloud: the webhook events Kiln reads (an issue moved to the configured status, a
//! comment answering a question), their verification, and a REST v3 client for what Kiln
//! writes back (comments, transitions, sub-tasks), so an issue tracker can feed tasks into
//! the same [`Command`] model as the chats.
//!
//! # Verification
//!
//! A Jira Cloud webhook registered with a secret signs its body: `X-Hub-Signature:
//! sha256=<hex hmac_sha256(secret, body)>` ([`verify_signature`]). An automation rule's "send
//! web request" action cannot sign, but can send a fixed header; [`verify_token`] checks that.
//! Either way the comparison is constant-time and an empty secret never matches.
//!
//! Issue text and comments are untrusted: they become a brief or an answer only after the
//! command model's length and character checks, and what Kiln writes back is plain ADF text
//! (no wiki markup is interpreted), with links only where Kiln itself adds them.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::Secret;
use crate::command::{self, Command, MAX_BRIEF_CHARS, MAX_TEXT_CHARS, Usage, malformed};
use crate::http;

/// Header of a Jira Cloud webhook's body signature.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature";
/// Header an automation rule can send a fixed secret in, checked by [`verify_token`].
pub const TOKEN_HEADER: &str = "X-Kiln-Jira-Token";
/// The event of an issue's fields (its status among them) changing.
pub const ISSUE_UPDATED: &str = "jira:issue_updated";
/// The event of a comment being added.
pub const COMMENT_CREATED: &str = "comment_created";
/// Jira's limit on a comment body; Kiln stays a little under it.
pub const MAX_COMMENT_CHARS: usize = 32_000;
/// Jira's limit on an issue summary.
pub const MAX_SUMMARY_CHARS: usize = 255;
/// The sub-task issue type of team-managed projects; company-managed ones call it
/// `Sub-task`, so the type is configurable.
pub const DEFAULT_SUBTASK_TYPE: &str = "Subtask";
/// Longest webhook body worth reading; real ones are a few kilobytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

type HmacSha256 = Hmac<Sha256>;

/// The `X-Hub-Signature` value of `body`: `sha256=<hex>`. Tests and fakes sign with it.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("hmac accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why a webhook request is not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No secret is configured: the webhook stays closed rather than open.
    #[error("no jira webhook secret is configured")]
    NoSecret,
    /// The header is absent.
    #[error("the jira request carries no signature")]
    Missing,
    /// The header is not `sha256=<64 hex digits>`.
    #[error("the jira signature is malformed")]
    Malformed,
    /// The signature does not match the body: not from our Jira, or altered.
    #[error("the jira signature does not match")]
    Forged,
}

/// Checks `X-Hub-Signature: sha256=<hex>` against an HMAC-SHA256 of `body` under `secret`,
/// in constant time.
pub fn verify_signature(
    header: Option<&str>,
    secret: &str,
    body: &[u8],
) -> Result<(), VerifyError> {
    if secret.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let header = header.ok_or(VerifyError::Missing)?.trim();
    let (scheme, digest) = header.split_once('=').ok_or(VerifyError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("sha256") {
        return Err(VerifyError::Malformed);
    }
    let got = hex::decode(digest).map_err(|_| VerifyError::Malformed)?;
    if got.len() != 32 {
        return Err(VerifyError::Malformed);
    }
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("hmac accepts keys of any length");
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&got).map_err(|_| VerifyError::Forged)
}

/// Checks a fixed shared secret (an automation rule's header, see [`TOKEN_HEADER`]) in
/// constant time; both sides are hashed first so the length does not leak either.
pub fn verify_token(header: Option<&str>, secret: &str) -> Result<(), VerifyError> {
    if secret.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let header = header.ok_or(VerifyError::Missing)?;
    if crate::http::same_secret(header, secret) {
        Ok(())
    } else {
        Err(VerifyError::Forged)
    }
}

// ---------------------------------------------------------------- webhook payloads

/// A webhook request body, with only the fields Kiln reads; every other field is ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    /// `jira:issue_updated`, `comment_created`, ...
    pub webhook_event: String,
    /// Milliseconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// Who caused the event (absent for some automation events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<Issue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changelog: Option<Changelog>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<Comment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub id: String,
    pub key: String,
    #[serde(default)]
    pub fields: IssueFields,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueFields {
    #[serde(default)]
    pub summary: String,
    /// ADF in REST v3 and most webhooks, a wiki-markup string in older payloads.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub description: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Named>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuetype: Option<Named>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// A status or issue type: an id and a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRef {
    #[serde(default)]
    pub id: String,
    pub key: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changelog {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub items: Vec<ChangeItem>,
}

/// One field's change; for the status, `from`/`to` are status ids and the `*String` fields
/// their names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeItem {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_string: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_string: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<User>,
    /// ADF, or a wiki-markup string in webhook payloads.
    #[serde(default)]
    pub body: Value,
}

/// An issue's status changing, as the changelog tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub from: Option<Named>,
    pub to: Named,
}

/// What a webhook event asks of Kiln.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The issue entered the trigger status: start a task for it.
    Triggered(IssueRequest),
    /// Someone commented on an issue; the API decides whether it answers a task's question.
    Commented(IssueComment),
    /// Any other event, or a status change to another status.
    Ignored,
}

/// An issue that should become a task.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueRequest {
    pub issue_id: String,
    pub key: String,
    /// The Jira project's key, e.g. `KILN`.
    pub project_key: Option<String>,
    /// Summary and description as plain text (untrusted; see [`IssueRequest::command`]).
    pub text: String,
    pub labels: Vec<String>,
    pub from_status: Option<String>,
    pub by: Option<User>,
}

/// A new comment on an issue.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueComment {
    pub key: String,
    pub comment_id: String,
    pub author: Option<User>,
    /// The body as plain text (untrusted).
    pub text: String,
}

/// What an issue becomes in Kiln, from the API's configuration for its Jira project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A change to an existing Kiln project.
    Revise { project: String },
    /// A new app from `template` named `name`.
    New { template: String, name: String },
}

impl WebhookEvent {
    /// Reads a webhook body; bodies over [`MAX_BODY_BYTES`] are refused unread.
    pub fn from_slice(body: &[u8]) -> Result<Self, serde_json::Error> {
        if body.len() > MAX_BODY_BYTES {
            return Err(serde::de::Error::custom("jira webhook body is too large"));
        }
        serde_json::from_slice(body)
    }

    /// The issue's status change in this event, if its changelog has one.
    pub fn status_change(&self) -> Option<StatusChange> {
        let item = self
            .changelog
            .as_ref()?
            .items
            .iter()
            .find(|i| i.field_id.as_deref() == Some("status") || i.field == "status")?;
        let named = |id: &Option<String>, name: &Option<String>| {
            (id.is_some() || name.is_some()).then(|| Named {
                id: id.clone().unwrap_or_default(),
                name: name.clone().unwrap_or_default(),
            })
        };
        Some(StatusChange {
            from: named(&item.from, &item.from_string),
            to: named(&item.to, &item.to_string)?,
        })
    }

    /// Reads the event against the trigger status (its name, any case, or its id).
    pub fn incoming(&self, trigger_status: &str) -> Incoming {
        match self.webhook_event.as_str() {
            ISSUE_UPDATED => {
                let (Some(issue), Some(change)) = (&self.issue, self.status_change()) else {
                    return Incoming::Ignored;
                };
                let trigger = trigger_status.trim();
                let hit = !trigger.is_empty()
                    && (change.to.name.eq_ignore_ascii_case(trigger) || change.to.id == trigger);
                if !hit {
                    return Incoming::Ignored;
                }
                Incoming::Triggered(IssueRequest {
                    issue_id: issue.id.clone(),
                    key: issue.key.clone(),
                    project_key: issue.fields.project.as_ref().map(|p| p.key.clone()),
                    text: issue.brief_text(),
                    labels: issue.fields.labels.clone(),
                    from_status: change.from.map(|f| f.name),
                    by: self.user.clone(),
                })
            }
            COMMENT_CREATED => {
                let (Some(issue), Some(comment)) = (&self.issue, &self.comment) else {
                    return Incoming::Ignored;
                };
                Incoming::Commented(IssueComment {
                    key: issue.key.clone(),
                    comment_id: comment.id.clone(),
                    author: comment.author.clone(),
                    text: http::truncate(&plain_text(&comment.body), MAX_COMMENT_CHARS),
                })
            }
            _ => Incoming::Ignored,
        }
    }
}

impl Issue {
    /// The summary, a blank line and the description, as plain text.
    pub fn brief_text(&self) -> String {
        let summary = self.fields.summary.trim();
        let description = plain_text(&self.fields.description);
        let description = description.trim();
        if description.is_empty() {
            summary.to_owned()
        } else {
            format!("{summary}\n\n{description}")
        }
    }
}

impl IssueRequest {
    /// The command the issue stands for under `route`, with the chat grammar's checks: the
    /// brief is capped at [`MAX_BRIEF_CHARS`] and must be free of control characters.
    pub fn command(&self, route: &Route) -> Result<Command, Usage> {
        let brief = |name: &'static str| {
            command::check_text(&self.text, MAX_BRIEF_CHARS).map_err(|p| malformed(name, p))
        };
        match route {
            Route::Revise { project } => Ok(Command::Revise {
                project: command::check_project(project).map_err(|p| malformed("revise", p))?,
                brief: brief("revise")?,
            }),
            Route::New { template, name } => Ok(Command::New {
                template: template.clone(),
                name: command::check_name(name).map_err(|p| malformed("new", p))?,
                brief: brief("new")?,
            }),
        }
    }
}

impl IssueComment {
    /// Whether Kiln's own account wrote it: Kiln's comments must not answer Kiln.
    pub fn is_by(&self, account_id: &str) -> bool {
        self.author
            .as_ref()
            .is_some_and(|a| !a.account_id.is_empty() && a.account_id == account_id)
    }

    /// The comment as the answer to `task`'s questions.
    pub fn answer(&self, task: &str) -> Result<Command, Usage> {
        let task = command::check_task(task).map_err(|p| malformed("answer", p))?;
        let text =
            command::check_text(&self.text, MAX_TEXT_CHARS).map_err(|p| malformed("answer", p))?;
        Ok(Command::Answer { task, text })
    }
}

/// The text of an ADF document (or of a plain string): paragraphs and list items on their
/// own lines, hard breaks as line breaks, every mark and attribute dropped.
pub fn plain_text(value: &Value) -> String {
    fn walk(node: &Value, out: &mut String, depth: usize) {
        // Documents nest shallowly; a deep one is hostile and is cut off.
        if depth > 32 {
            return;
        }
        match node {
            Value::String(s) => out.push_str(s),
            Value::Array(items) => items.iter().for_each(|n| walk(n, out, depth + 1)),
            Value::Object(map) => {
                let kind = map.get("type").and_then(Value::as_str).unwrap_or_default();
                match kind {
                    "text" => {
                        if let Some(text) = map.get("text").and_then(Value::as_str) {
                            out.push_str(text);
                        }
                    }
                    "hardBreak" => out.push('\n'),
                    "mention" | "emoji" => {
                        let text = map
                            .get("attrs")
                            .and_then(|a| a.get("text"))
                            .and_then(Value::as_str);
                        out.push_str(text.unwrap_or_default());
                    }
                    _ => {
                        if let Some(content) = map.get("content") {
                            walk(content, out, depth + 1);
                        }
                        let block = matches!(
                            kind,
                            "paragraph"
                                | "heading"
                                | "listItem"
                                | "codeBlock"
                                | "blockquote"
                                | "rule"
                        );
                        if block && !out.ends_with('\n') {
                            out.push('\n');
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = String::new();
    walk(value, &mut out, 0);
    out.trim_end().to_owned()
}

/// A link Kiln adds to a comment, e.g. to the task in the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub text: String,
    pub href: String,
}

/// `text` as an ADF document: a paragraph per blank-line-separated block, line breaks as
/// hard breaks, then `link` as its own paragraph when given and an `http(s)` address. Text
/// nodes are never empty, which Jira refuses.
pub fn adf(text: &str, link: Option<&Link>) -> Value {
    let text = http::truncate(text, MAX_COMMENT_CHARS);
    let mut paragraphs: Vec<Value> = Vec::new();
    for block in text.split("\n\n") {
        let mut content = Vec::new();
        for line in block.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
            if !content.is_empty() {
                content.push(json!({ "type": "hardBreak" }));
            }
            content.push(json!({ "type": "text", "text": line }));
        }
        if !content.is_empty() {
            paragraphs.push(json!({ "type": "paragraph", "content": content }));
        }
    }
    if let Some(link) = link.filter(|l| is_web_address(&l.href)) {
        let label = if link.text.trim().is_empty() {
            link.href.as_str()
        } else {
            link.text.trim()
        };
        paragraphs.push(json!({
            "type": "paragraph",
            "content": [{
                "type": "text",
                "text": http::truncate(label, 200),
                "marks": [{ "type": "link", "attrs": { "href": link.href } }],
            }],
        }));
    }
    json!({ "type": "doc", "version": 1, "content": paragraphs })
}

fn is_web_address(href: &str) -> bool {
    (href.starts_with("https://") || href.starts_with("http://"))
        && href.len() <= 2048
        && !href.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An issue key (`KILN-12`) or numeric id, the only forms that go into a URL path.
pub fn check_issue_key(key: &str) -> Result<&str, Error> {
    let numeric = !key.is_empty() && key.len() <= 20 && key.bytes().all(|b| b.is_ascii_digit());
    let keyed = key.split_once('-').is_some_and(|(project, number)| {
        !project.is_empty()
            && project.len() <= 64
            && project.starts_with(|c: char| c.is_ascii_uppercase())
            && project
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            && !number.is_empty()
            && number.len() <= 18
            && number.bytes().all(|b| b.is_ascii_digit())
    });
    if numeric || keyed {
        Ok(key)
    } else {
        Err(Error::InvalidKey(http::truncate(key, 64)))
    }
}

// ---------------------------------------------------------------- REST client

/// Why a Jira call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request did not complete (connection, timeout).
    #[error("jira request failed")]
    Http(#[source] reqwest::Error),
    /// Too many requests: try again after `retry_after`.
    #[error("jira rate limit, retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// Jira refused the call; `messages` are its `errorMessages` and field errors.
    #[error("jira refused the call: {status} {}", messages.join("; "))]
    Api { status: u16, messages: Vec<String> },
    /// Jira answered something unreadable.
    #[error("jira answered an unreadable body (status {status})")]
    Decode {
        status: u16,
        #[source]
        source: serde_json::Error,
    },
    /// Not an issue key or id, so it is not put into a URL.
    #[error("{0:?} is not a jira issue key")]
    InvalidKey(String),
    /// No transition of the issue leads to the status.
    #[error("issue {key} has no transition to {status:?}")]
    NoTransition { key: String, status: String },
}

impl Error {
    /// How long to wait before trying again, when Jira said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// A transition available from the issue's current status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub id: String,
    pub name: String,
    /// The status it leads to.
    pub to: Named,
}

/// An issue Kiln created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedIssue {
    pub id: String,
    pub key: String,
}

/// A sub-task to create under an issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubtask<'a> {
    pub project_key: &'a str,
    pub parent_key: &'a str,
    /// One line; longer ones are cut at [`MAX_SUMMARY_CHARS`].
    pub summary: &'a str,
    pub description: &'a str,
    /// The sub-task issue type's name, usually [`DEFAULT_SUBTASK_TYPE`] or `Sub-task`.
    pub issue_type: &'a str,
}

#[derive(Deserialize)]
struct Transitions {
    #[serde(default)]
    transitions: Vec<Transition>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiError {
    #[serde(default)]
    error_messages: Vec<String>,
    #[serde(default)]
    errors: serde_json::Map<String, Value>,
}

/// A Jira Cloud REST v3 client authenticated with an account's email and API token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    email: String,
    token: Secret,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("jira::Client")
            .field("base", &self.base)
            .field("email", &self.email)
            .field("token", &self.token)
            .finish()
    }
}

impl Client {
    /// A client of the site at `base`, e.g. `https://example.atlassian.net`.
    pub fn new(base: impl Into<String>, email: impl Into<String>, token: Secret) -> Self {
        Self {
            http: http::client(),
            base: http::trim_base(base),
            email: email.into(),
            token,
        }
    }

    fn issue_url(&self, key: &str, rest: &str) -> Result<String, Error> {
        let key = check_issue_key(key)?;
        Ok(format!("{}/rest/api/3/issue/{key}{rest}", self.base))
    }

    fn request(&self, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .basic_auth(&self.email, Some(self.token.expose()))
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Adds a plain-text comment (with an optional link paragraph); returns the comment id.
    pub async fn add_comment(
        &self,
        key: &str,
        text: &str,
        link: Option<&Link>,
    ) -> Result<String, Error> {
        let url = self.issue_url(key, "/comment")?;
        let request = self
            .request(reqwest::Method::POST, url)
            .json(&json!({ "body": adf(text, link) }));
        let id: IdOnly = decode(send(request).await?)?;
        Ok(id.id)
    }

    /// The transitions the issue can take from its current status.
    pub async fn transitions(&self, key: &str) -> Result<Vec<Transition>, Error> {
        let url = self.issue_url(key, "/transitions")?;
        let list: Transitions = decode(send(self.request(reqwest::Method::GET, url)).await?)?;
        Ok(list.transitions)
    }

    /// Takes the transition with id `transition_id`.
    pub async fn transition(&self, key: &str, transition_id: &str) -> Result<(), Error> {
        let url = self.issue_url(key, "/transitions")?;
        let request = self
            .request(reqwest::Method::POST, url)
            .json(&json!({ "transition": { "id": transition_id } }));
        send(request).await.map(drop)
    }

    /// Moves the issue to the status named `status` (any case) through whichever transition
    /// leads there; returns the transition taken.
    pub async fn transition_to(&self, key: &str, status: &str) -> Result<Transition, Error> {
        let status = status.trim();
        let found = self.transitions(key).await?.into_iter().find(|t| {
            t.to.name.eq_ignore_ascii_case(status) || t.name.eq_ignore_ascii_case(status)
        });
        let Some(transition) = found else {
            return Err(Error::NoTransition {
                key: key.to_owned(),
                status: http::truncate(status, 64),
            });
        };
        self.transition(key, &transition.id).await?;
        Ok(transition)
    }

    /// Creates a sub-task under `parent_key`.
    pub async fn create_subtask(&self, subtask: &NewSubtask<'_>) -> Result<CreatedIssue, Error> {
        let parent = check_issue_key(subtask.parent_key)?;
        let summary: String = subtask
            .summary
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let body = json!({
            "fields": {
                "project": { "key": subtask.project_key },
                "parent": { "key": parent },
                "summary": http::truncate(summary.trim(), MAX_SUMMARY_CHARS),
                "issuetype": { "name": subtask.issue_type },
                "description": adf(subtask.description, None),
            }
        });
        let url = format!("{}/rest/api/3/issue", self.base);
        decode(send(self.request(reqwest::Method::POST, url).json(&body)).await?)
    }
}

/// The body of a successful answer, with its status.
struct Success {
    status: u16,
    bytes: Vec<u8>,
}

fn decode<T: serde::de::DeserializeOwned>(success: Success) -> Result<T, Error> {
    serde_json::from_slice(&success.bytes).map_err(|source| Error::Decode {
        status: success.status,
        source,
    })
}

async fn send(request: reqwest::RequestBuilder) -> Result<Success, Error> {
    let response = request
        .send()
        .await
        .map_err(|e| Error::Http(http::scrub(e)))?;
    let status = response.status().as_u16();
    let header_delay = http::retry_after_header(response.headers());
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Error::Http(http::scrub(e)))?;
    if (200..300).contains(&status) {
        return Ok(Success {
            status,
            bytes: bytes.to_vec(),
        });
    }
    if status == 429 {
        return Err(Error::RateLimited {
            retry_after: header_delay.unwrap_or(Duration::from_secs(1)),
        });
    }
    let messages = match serde_json::from_slice::<ApiError>(&bytes) {
        Ok(body) => {
            let mut messages = body.error_messages;
            for (field, message) in body.errors {
                let message = message
                    .as_str()
                    .map_or_else(|| message.to_string(), str::to_owned);
                messages.push(format!("{field}: {message}"));
            }
            messages
        }
        Err(_) => Vec::new(),
    };
    Err(Error::Api {
        status,
        messages: messages
            .into_iter()
            .map(|m| http::truncate(&m, 500))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "jira-webhook-secret";

    #[test]
    fn signatures_verify_and_forgeries_do_not() {
        let body = br#"{"webhookEvent":"jira:issue_updated"}"#;
        let header = sign(SECRET, body);
        assert!(
            header.starts_with("sha256=") && header.len() == 7 + 64,
            "{header}"
        );
        assert_eq!(verify_signature(Some(&header), SECRET, body), Ok(()));
        assert_eq!(
            verify_signature(
                Some(&header.to_uppercase().replacen("SHA256", "sha256", 1)),
                SECRET,
                body
            ),
            Ok(()),
            "hex case does not matter"
        );
        assert_eq!(
            verify_signature(Some(&header), SECRET, b"{}"),
            Err(VerifyError::Forged)
        );
        assert_eq!(
            verify_signature(Some(&header), "other", body),
            Err(VerifyError::Forged)
        );
        assert_eq!(
            verify_signature(None, SECRET, body),
            Err(VerifyError::Missing)
        );
        assert_eq!(
            verify_signature(Some(&header), "", body),
            Err(VerifyError::NoSecret)
        );
        for bad in [
            "sha256=zz",
            "sha1=abcd",
            "sha256",
            &header[..20],
            "sha256=abcd",
        ] {
            assert_eq!(
                verify_signature(Some(bad), SECRET, body),
                Err(VerifyError::Malformed),
                "{bad}"
            );
        }
        // A signature over the body signed with an empty key is not accepted by a secretless
        // configuration either.
        assert_eq!(
            verify_signature(Some(&sign("", body)), "", body),
            Err(VerifyError::NoSecret)
        );
    }

    #[test]
    fn tokens_compare_exactly() {
        assert_eq!(verify_token(Some("t0ken"), "t0ken"), Ok(()));
        assert_eq!(
            verify_token(Some("t0kem"), "t0ken"),
            Err(VerifyError::Forged)
        );
        assert_eq!(
            verify_token(Some("t0ke"), "t0ken"),
            Err(VerifyError::Forged)
        );
        assert_eq!(verify_token(None, "t0ken"), Err(VerifyError::Missing));
        assert_eq!(verify_token(Some(""), ""), Err(VerifyError::NoSecret));
    }

    fn transition_event(to: &str) -> Value {
        json!({
            "timestamp": 1_750_000_000_000_i64,
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Sara"},
            "issue": {
                "id": "10042", "key": "KILN-12", "self": "https://x.atlassian.net/rest/api/3/issue/10042",
                "fields": {
                    "summary": "Add a dark mode",
                    "description": {"type": "doc", "version": 1, "content": [
                        {"type": "paragraph", "content": [
                            {"type": "text", "text": "Use "},
                            {"type": "text", "text": "system", "marks": [{"type": "strong"}]},
                            {"type": "text", "text": " colours."},
                            {"type": "hardBreak"},
                            {"type": "text", "text": "Keep contrast."}
                        ]},
                        {"type": "bulletList", "content": [
                            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "toggle"}]}]}
                        ]}
                    ]},
                    "status": {"id": "10001", "name": to},
                    "project": {"id": "10000", "key": "KILN"},
                    "issuetype": {"id": "10002", "name": "Task"},
                    "labels": ["frontend"]
                }
            },
            "changelog": {"id": "10100", "items": [
                {"field": "assignee", "fieldtype": "jira", "from": null, "to": "x"},
                {"field": "status", "fieldtype": "jira", "fieldId": "status",
                 "from": "10000", "fromString": "To Do", "to": "10001", "toString": to}
            ]}
        })
    }

    #[test]
    fn a_transition_to_the_trigger_status_becomes_a_request() {
        let body = serde_json::to_vec(&transition_event("Ready for Kiln")).unwrap();
        let event = WebhookEvent::from_slice(&body).expect("event");
        let change = event.status_change().expect("status change");
        assert_eq!(change.from.map(|f| f.name).as_deref(), Some("To Do"));
        assert_eq!(change.to.id, "10001");
        let Incoming::Triggered(request) = event.incoming("ready for kiln") else {
            panic!("not triggered: {:?}", event.incoming("ready for kiln"));
        };
        assert_eq!(request.key, "KILN-12");
        assert_eq!(request.project_key.as_deref(), Some("KILN"));
        assert_eq!(request.from_status.as_deref(), Some("To Do"));
        assert_eq!(
            request.text,
            "Add a dark mode\n\nUse system colours.\nKeep contrast.\ntoggle"
        );
        assert_eq!(
            request.by.map(|u| u.account_id).as_deref(),
            Some("5b10a2844c20165700ede21g")
        );
        assert!(
            matches!(event.incoming("10001"), Incoming::Triggered(_)),
            "by id"
        );
        assert_eq!(event.incoming("Done"), Incoming::Ignored);
        assert_eq!(event.incoming(""), Incoming::Ignored);

        let mut no_status = transition_event("Ready for Kiln");
        no_status["changelog"]["items"]
            .as_array_mut()
            .unwrap()
            .pop();
        let event: WebhookEvent = serde_json::from_value(no_status).unwrap();
        assert_eq!(event.incoming("Ready for Kiln"), Incoming::Ignored);

        let created: WebhookEvent =
            serde_json::from_value(json!({"webhookEvent": "jira:issue_created"})).unwrap();
        assert_eq!(created.incoming("Ready for Kiln"), Incoming::Ignored);
        assert!(WebhookEvent::from_slice(&vec![b' '; MAX_BODY_BYTES + 1]).is_err());
    }

    #[test]
    fn requests_become_commands_with_the_chat_checks() {
        let event: WebhookEvent = serde_json::from_value(transition_event("Ready")).unwrap();
        let Incoming::Triggered(request) = event.incoming("Ready") else {
            panic!("not triggered")
        };
        let revise = request
            .command(&Route::Revise {
                project: "Shop".into(),
            })
            .expect("revise");
        assert!(
            matches!(&revise, Command::Revise { project, brief } if project == "shop" && brief.starts_with("Add a dark mode"))
        );
        let new = request
            .command(&Route::New {
                template: "expo".into(),
                name: "kiln-12".into(),
            })
            .expect("new");
        assert!(matches!(new, Command::New { .. }));
        assert!(
            request
                .command(&Route::Revise {
                    project: "../x".into()
                })
                .is_err()
        );
        let mut long = request.clone();
        long.text = "x".repeat(MAX_BRIEF_CHARS + 1);
        let e = long
            .command(&Route::Revise {
                project: "shop".into(),
            })
            .unwrap_err();
        assert!(e.to_string().contains("too long"), "{e}");
        let mut hostile = request;
        hostile.text = "ok\u{1b}[31m".into();
        assert!(
            hostile
                .command(&Route::Revise {
                    project: "shop".into()
                })
                .is_err()
        );
    }

    #[test]
    fn comments_answer_tasks_unless_kiln_wrote_them() {
        let event: WebhookEvent = serde_json::from_value(json!({
            "webhookEvent": "comment_created",
            "issue": {"id": "10042", "key": "KILN-12", "fields": {"summary": "s"}},
            "comment": {
                "id": "20001",
                "author": {"accountId": "human-1", "displayName": "Sara"},
                "body": "Use euros, please."
            }
        }))
        .unwrap();
        let Incoming::Commented(comment) = event.incoming("Ready") else {
            panic!("not a comment")
        };
        assert_eq!(comment.text, "Use euros, please.");
        assert!(!comment.is_by("kiln-bot"));
        assert!(comment.is_by("human-1"));
        assert_eq!(
            comment.answer("0193a4b2-7c1d-7e3f-8a9b-0c1d2e3f4a5b"),
            Ok(Command::Answer {
                task: "0193a4b2-7c1d-7e3f-8a9b-0c1d2e3f4a5b".into(),
                text: "Use euros, please.".into()
            })
        );
        let adf_comment = Comment {
            id: "1".into(),
            author: None,
            body: adf("line one\nline two\n\nnext", None),
        };
        assert_eq!(plain_text(&adf_comment.body), "line one\nline two\nnext");
    }

    #[test]
    fn adf_is_plain_text_with_only_our_links() {
        let link = Link {
            text: "Task 0193a4b2".into(),
            href: "https://kiln.example/tasks/0193a4b2".into(),
        };
        let doc = adf(
            "Plan:\n- one\n\n\n[x](javascript:alert(1)) *b*",
            Some(&link),
        );
        assert_eq!(doc["type"], "doc");
        assert_eq!(doc["version"], 1);
        let paragraphs = doc["content"].as_array().unwrap();
        assert_eq!(paragraphs.len(), 3);
        assert_eq!(paragraphs[0]["content"][0]["text"], "Plan:");
        assert_eq!(paragraphs[0]["content"][1]["type"], "hardBreak");
        assert_eq!(
            paragraphs[1]["content"][0]["text"],
            "[x](javascript:alert(1)) *b*"
        );
        assert!(paragraphs[1]["content"][0].get("marks").is_none());
        assert_eq!(
            paragraphs[2]["content"][0]["marks"][0]["attrs"]["href"],
            link.href
        );
        let evil = Link {
            text: "click".into(),
            href: "javascript:alert(1)".into(),
        };
        assert_eq!(
            adf("x", Some(&evil))["content"].as_array().unwrap().len(),
            1
        );
        assert_eq!(adf("", None)["content"], json!([]));
    }

    #[test]
    fn only_issue_keys_reach_urls() {
        for good in ["KILN-12", "AB_2-1", "10042"] {
            assert!(check_issue_key(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "kiln-12",
            "KILN-",
            "-12",
            "KILN-12/../../x",
            "KILN-1?x=1",
            "KILN 12",
        ] {
            assert!(check_issue_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_token_never_prints() {
        let client = Client::new(
            "https://x.atlassian.net/",
            "kiln@example.com",
            Secret::new("very-secret"),
        );
        let debug = format!("{client:?}");
        assert!(
            !debug.contains("very-secret") && debug.contains("x.atlassian.net\""),
            "{debug}"
        );
    }
}
