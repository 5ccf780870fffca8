//! A fake Jira Cloud REST v3 API with a tiny workflow, and Jira's side of the webhook: it
//! signs event bodies with `X-Hub-Signature: sha256=<hex>` and posts them.
//!
//! Routes: `GET /rest/api/3/issue/{key}`, `GET|POST /rest/api/3/issue/{key}/comment`,
//! `GET|POST /rest/api/3/issue/{key}/transitions`, `POST /rest/api/3/issue`. Every call needs
//! basic auth with the fake's email and API token (401 otherwise). Comment and description
//! bodies must be ADF documents, as REST v3 requires. Errors use Jira's
//! `{"errorMessages":[..],"errors":{..}}`; rate limits answer 429 with `Retry-After`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Common, Mode, Server, common_api, lock, whole_secs};

pub const EMAIL: &str = "kiln@example.com";
pub const API_TOKEN: &str = "fake-jira-api-token";
/// The account the fake's API user has, which its comments are authored by.
pub const ACCOUNT_ID: &str = "557058:kiln-bot";

/// A workflow status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub id: String,
    pub name: String,
}

/// A workflow transition, available from every status but its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowTransition {
    pub id: String,
    pub name: String,
    pub to: Status,
}

/// An issue as the fake holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredIssue {
    pub id: String,
    pub key: String,
    pub project_key: String,
    pub summary: String,
    pub description: Value,
    pub issue_type: String,
    pub status: Status,
    pub parent: Option<String>,
    pub labels: Vec<String>,
    /// Comment objects as Jira returns them (`id`, `author`, `body` ADF, ...).
    pub comments: Vec<Value>,
    /// Names of the statuses it moved through, oldest first.
    pub history: Vec<String>,
}

fn status(id: &str, name: &str) -> Status {
    Status {
        id: id.to_owned(),
        name: name.to_owned(),
    }
}

/// `To Do` -> `Ready for Kiln` -> `In Progress` -> `In Review` -> `Done`, with every
/// transition available from every other status.
pub fn default_workflow() -> Vec<WorkflowTransition> {
    [
        ("11", "To Do", status("10000", "To Do")),
        ("21", "Send to Kiln", status("10010", "Ready for Kiln")),
        ("31", "Start progress", status("3", "In Progress")),
        ("41", "Ready for review", status("10011", "In Review")),
        ("51", "Done", status("10001", "Done")),
    ]
    .into_iter()
    .map(|(id, name, to)| WorkflowTransition {
        id: id.to_owned(),
        name: name.to_owned(),
        to,
    })
    .collect()
}

#[derive(Default)]
struct State_ {
    workflow: Vec<WorkflowTransition>,
    issues: BTreeMap<String, StoredIssue>,
    next_issue: BTreeMap<String, u64>,
    next_id: u64,
}

impl State_ {
    fn id(&mut self) -> String {
        self.next_id += 1;
        (10_000 + self.next_id).to_string()
    }

    fn find(&self, key_or_id: &str) -> Option<&StoredIssue> {
        self.issues
            .get(key_or_id)
            .or_else(|| self.issues.values().find(|i| i.id == key_or_id))
    }

    fn find_mut(&mut self, key_or_id: &str) -> Option<&mut StoredIssue> {
        let key = self.find(key_or_id)?.key.clone();
        self.issues.get_mut(&key)
    }
}

struct Inner {
    common: Common,
    state: std::sync::Mutex<State_>,
    auth: String,
    base: std::sync::OnceLock<String>,
    http: reqwest::Client,
}

/// The fake Jira site; the server stops when this is dropped.
pub struct FakeJira {
    inner: Arc<Inner>,
    server: Server,
}

impl FakeJira {
    pub async fn start() -> Self {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{API_TOKEN}"));
        let inner = Arc::new(Inner {
            common: Common::default(),
            state: std::sync::Mutex::new(State_ {
                workflow: default_workflow(),
                ..State_::default()
            }),
            auth: format!("Basic {auth}"),
            base: std::sync::OnceLock::new(),
            http: reqwest::Client::new(),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let server = Server::start(app, "jira").await;
        let _ = inner.base.set(format!("http://{}", server.addr));
        Self { inner, server }
    }

    /// `http://127.0.0.1:port`, the site's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    pub fn email(&self) -> &str {
        EMAIL
    }

    pub fn api_token(&self) -> &str {
        API_TOKEN
    }

    common_api!();

    /// Replaces the workflow's transitions.
    pub fn set_workflow(&self, workflow: Vec<WorkflowTransition>) {
        lock(&self.inner.state).workflow = workflow;
    }

    /// Creates an issue in project `project_key` in status `To Do` (or the first status of
    /// the workflow); returns its key.
    pub fn add_issue(&self, project_key: &str, summary: &str, description: &str) -> String {
        let mut state = lock(&self.inner.state);
        let initial = state
            .workflow
            .iter()
            .find(|t| t.to.name == "To Do")
            .or(state.workflow.first())
            .map_or_else(|| status("10000", "To Do"), |t| t.to.clone());
        let description = adf_text(description);
        create(
            &mut state,
            project_key,
            summary,
            description,
            "Task",
            None,
            initial,
        )
    }

    /// The issue as it stands now.
    pub fn issue(&self, key: &str) -> Option<StoredIssue> {
        lock(&self.inner.state).find(key).cloned()
    }

    /// The sub-tasks of `parent_key`.
    pub fn subtasks(&self, parent_key: &str) -> Vec<StoredIssue> {
        lock(&self.inner.state)
            .issues
            .values()
            .filter(|i| i.parent.as_deref() == Some(parent_key))
            .cloned()
            .collect()
    }

    /// Moves the issue to the status named `to` as a person would in the UI, and returns
    /// the `jira:issue_updated` webhook body Jira sends for it.
    pub fn move_issue(&self, key: &str, to: &str) -> Value {
        let mut state = lock(&self.inner.state);
        let target = state
            .workflow
            .iter()
            .find(|t| t.to.name.eq_ignore_ascii_case(to))
            .map(|t| t.to.clone())
            .unwrap_or_else(|| panic!("move_issue: no status {to:?} in the workflow"));
        let issue = state
            .find_mut(key)
            .unwrap_or_else(|| panic!("move_issue: no issue {key}"));
        let from = std::mem::replace(&mut issue.status, target.clone());
        issue.history.push(target.name.clone());
        let issue = issue.clone();
        drop(state);
        let base = self.base_url();
        json!({
            "timestamp": super::now_unix() * 1000,
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "user": {"accountId": "557058:person-1", "displayName": "Test Person", "accountType": "atlassian"},
            "issue": issue_json(&base, &issue),
            "changelog": {"id": "10100", "items": [{
                "field": "status", "fieldtype": "jira", "fieldId": "status",
                "from": from.id, "fromString": from.name, "to": target.id, "toString": target.name
            }]}
        })
    }

    /// Adds a comment by a person (not the API user) and returns the `comment_created`
    /// webhook body Jira sends for it.
    pub fn person_comments(&self, key: &str, account_id: &str, text: &str) -> Value {
        let mut state = lock(&self.inner.state);
        let id = state.id();
        let base = self.base_url();
        let issue = state
            .find_mut(key)
            .unwrap_or_else(|| panic!("person_comments: no issue {key}"));
        let comment = comment_json(
            &base,
            &issue.id,
            &id,
            account_id,
            "Test Person",
            adf_text(text),
        );
        issue.comments.push(comment.clone());
        let issue = issue.clone();
        json!({
            "timestamp": super::now_unix() * 1000,
            "webhookEvent": "comment_created",
            "issue": issue_json(&base, &issue),
            // Webhooks carry the body as wiki text.
            "comment": {
                "id": id,
                "author": {"accountId": account_id, "displayName": "Test Person"},
                "body": text,
                "created": "2025-06-15T10:00:00.000+0000",
            }
        })
    }

    /// `sha256=<hex hmac>` of `body` under `secret`, as Jira signs webhooks.
    pub fn signature(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("hmac accepts keys of any length");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    /// Posts a webhook event to `url`, signed with `secret` when given; returns the status.
    pub async fn deliver_webhook(
        &self,
        url: &str,
        secret: Option<&str>,
        event: &Value,
    ) -> StatusCode {
        let body = serde_json::to_vec(event).unwrap_or_default();
        let mut request = self
            .inner
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                "X-Atlassian-Webhook-Identifier",
                uuid::Uuid::new_v4().to_string(),
            );
        if let Some(secret) = secret {
            request = request.header("X-Hub-Signature", Self::signature(secret, &body));
        }
        let response = request
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("deliver_webhook: {e}"));
        StatusCode::from_u16(response.status().as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

fn adf_text(text: &str) -> Value {
    if text.is_empty() {
        return json!({"type": "doc", "version": 1, "content": []});
    }
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    ]})
}

fn create(
    state: &mut State_,
    project_key: &str,
    summary: &str,
    description: Value,
    issue_type: &str,
    parent: Option<String>,
    initial: Status,
) -> String {
    let number = state.next_issue.entry(project_key.to_owned()).or_insert(0);
    *number += 1;
    let key = format!("{project_key}-{number}");
    let id = state.id();
    state.issues.insert(
        key.clone(),
        StoredIssue {
            id,
            key: key.clone(),
            project_key: project_key.to_owned(),
            summary: summary.to_owned(),
            description,
            issue_type: issue_type.to_owned(),
            status: initial.clone(),
            parent,
            labels: Vec::new(),
            comments: Vec::new(),
            history: vec![initial.name],
        },
    );
    key
}

fn issue_json(base: &str, issue: &StoredIssue) -> Value {
    let mut fields = json!({
        "summary": issue.summary,
        "description": issue.description,
        "status": {"id": issue.status.id, "name": issue.status.name},
        "project": {"id": "10000", "key": issue.project_key},
        "issuetype": {"id": "10002", "name": issue.issue_type, "subtask": issue.parent.is_some()},
        "labels": issue.labels,
    });
    if let Some(parent) = &issue.parent {
        fields["parent"] = json!({"key": parent});
    }
    json!({
        "id": issue.id,
        "key": issue.key,
        "self": format!("{base}/rest/api/3/issue/{}", issue.id),
        "fields": fields,
    })
}

fn comment_json(
    base: &str,
    issue_id: &str,
    id: &str,
    account_id: &str,
    name: &str,
    body: Value,
) -> Value {
    json!({
        "id": id,
        "self": format!("{base}/rest/api/3/issue/{issue_id}/comment/{id}"),
        "author": {"accountId": account_id, "displayName": name, "active": true},
        "body": body,
        "created": "2025-06-15T10:00:00.000+0000",
        "updated": "2025-06-15T10:00:00.000+0000",
    })
}

fn errors(status: StatusCode, messages: &[&str], fields: Value) -> Response {
    (
        status,
        axum::Json(json!({"errorMessages": messages, "errors": fields})),
    )
        .into_response()
}

fn not_found() -> Response {
    errors(
        StatusCode::NOT_FOUND,
        &["Issue does not exist or you do not have permission to see it."],
        json!({}),
    )
}

/// Whether `v` is an ADF document whose text nodes are all non-empty, as Jira requires.
fn valid_adf(v: &Value) -> bool {
    fn nodes_ok(node: &Value, depth: usize) -> bool {
        if depth > 64 {
            return false;
        }
        let Some(kind) = node.get("type").and_then(Value::as_str) else {
            return false;
        };
        if kind == "text" {
            return node
                .get("text")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty());
        }
        match node.get("content") {
            None => true,
            Some(Value::Array(children)) => children.iter().all(|c| nodes_ok(c, depth + 1)),
            Some(_) => false,
        }
    }
    v.get("type").and_then(Value::as_str) == Some("doc")
        && v.get("version").and_then(Value::as_u64) == Some(1)
        && v.get("content").is_some_and(Value::is_array)
        && nodes_ok(v, 0)
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (recorded, fault) = inner.common.record(&method, &uri, &headers, &body);
    match fault {
        Some(
            Mode::RateLimited { retry_after_secs } | Mode::GloballyRateLimited { retry_after_secs },
        ) => {
            let mut response = errors(
                StatusCode::TOO_MANY_REQUESTS,
                &["Rate limit exceeded."],
                json!({}),
            );
            if let Ok(v) = HeaderValue::from_str(&whole_secs(retry_after_secs).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return response;
        }
        Some(Mode::Down) => {
            return errors(
                StatusCode::INTERNAL_SERVER_ERROR,
                &["Internal server error"],
                json!({}),
            );
        }
        Some(Mode::Normal) | None => {}
    }
    if recorded.header("authorization") != Some(inner.auth.as_str()) {
        return errors(
            StatusCode::UNAUTHORIZED,
            &["You are not authenticated. Authentication required to perform this operation."],
            json!({}),
        );
    }
    let base = inner.base.get().cloned().unwrap_or_default();
    let body = recorded.body;
    let Some(rest) = uri.path().strip_prefix("/rest/api/3/issue") else {
        return errors(StatusCode::NOT_FOUND, &["Not found"], json!({}));
    };
    let parts: Vec<&str> = rest
        .trim_start_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let mut state = lock(&inner.state);
    match (method, parts.as_slice()) {
        (Method::POST, []) => create_issue(&mut state, &base, &body),
        (Method::GET, [key]) => match state.find(key) {
            Some(issue) => (StatusCode::OK, axum::Json(issue_json(&base, issue))).into_response(),
            None => not_found(),
        },
        (Method::GET, [key, "comment"]) => match state.find(key) {
            Some(issue) => {
                let total = issue.comments.len();
                (StatusCode::OK, axum::Json(json!({"startAt": 0, "maxResults": 5000, "total": total, "comments": issue.comments}))).into_response()
            }
            None => not_found(),
        },
        (Method::POST, [key, "comment"]) => {
            let Some(adf) = body.get("body").filter(|b| valid_adf(b)).cloned() else {
                return errors(
                    StatusCode::BAD_REQUEST,
                    &[],
                    json!({"comment": "Comment body is not valid!"}),
                );
            };
            let id = state.id();
            let Some(issue) = state.find_mut(key) else {
                return not_found();
            };
            let comment = comment_json(&base, &issue.id, &id, ACCOUNT_ID, "Kiln", adf);
            issue.comments.push(comment.clone());
            (StatusCode::CREATED, axum::Json(comment)).into_response()
        }
        (Method::GET, [key, "transitions"]) => {
            let workflow = state.workflow.clone();
            let Some(issue) = state.find(key) else {
                return not_found();
            };
            let transitions: Vec<Value> = workflow
                .iter()
                .filter(|t| t.to.id != issue.status.id)
                .map(|t| {
                    json!({
                        "id": t.id, "name": t.name,
                        "to": {"self": format!("{base}/rest/api/3/status/{}", t.to.id), "id": t.to.id, "name": t.to.name,
                               "statusCategory": {"id": 4, "key": "indeterminate"}},
                        "hasScreen": false, "isGlobal": true, "isInitial": false,
                        "isAvailable": true, "isConditional": false, "isLooped": false
                    })
                })
                .collect();
            (
                StatusCode::OK,
                axum::Json(json!({"expand": "transitions", "transitions": transitions})),
            )
                .into_response()
        }
        (Method::POST, [key, "transitions"]) => {
            let wanted = body.pointer("/transition/id").and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
            let workflow = state.workflow.clone();
            let Some(issue) = state.find_mut(key) else {
                return not_found();
            };
            let Some(wanted) = wanted else {
                return errors(
                    StatusCode::BAD_REQUEST,
                    &["Missing 'transition' identifier"],
                    json!({}),
                );
            };
            match workflow
                .iter()
                .find(|t| t.id == wanted && t.to.id != issue.status.id)
            {
                Some(t) => {
                    issue.status = t.to.clone();
                    issue.history.push(t.to.name.clone());
                    StatusCode::NO_CONTENT.into_response()
                }
                None => errors(
                    StatusCode::BAD_REQUEST,
                    &[&format!(
                        "Transition id '{wanted}' is not valid for this issue."
                    )],
                    json!({}),
                ),
            }
        }
        _ => errors(StatusCode::NOT_FOUND, &["Not found"], json!({})),
    }
}

fn create_issue(state: &mut State_, base: &str, body: &Value) -> Response {
    let fields = body.get("fields").cloned().unwrap_or(Value::Null);
    let mut problems = serde_json::Map::new();
    let project = fields
        .pointer("/project/key")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let summary = fields
        .get("summary")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let issue_type = fields
        .pointer("/issuetype/name")
        .or_else(|| fields.pointer("/issuetype/id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let parent = fields
        .pointer("/parent/key")
        .or_else(|| fields.pointer("/parent/id"))
        .and_then(Value::as_str);
    if project.is_none() {
        problems.insert("project".into(), json!("Specify a valid project ID or key"));
    }
    if summary.trim().is_empty() {
        problems.insert(
            "summary".into(),
            json!("You must specify a summary of the issue."),
        );
    } else if summary.chars().count() > 255 || summary.contains('\n') {
        problems.insert(
            "summary".into(),
            json!("Summary must be less than 255 characters and one line."),
        );
    }
    if issue_type.is_none() {
        problems.insert("issuetype".into(), json!("Specify an issue type"));
    }
    let description = fields.get("description").cloned().unwrap_or(Value::Null);
    if !description.is_null() && !valid_adf(&description) {
        problems.insert(
            "description".into(),
            json!(
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            ),
        );
    }
    let parent_key = match parent {
        Some(p) => match state.find(p) {
            Some(issue) => Some(issue.key.clone()),
            None => {
                problems.insert("parent".into(), json!("Could not find issue by id or key."));
                None
            }
        },
        None => None,
    };
    let is_subtask = issue_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("subtask") || t.eq_ignore_ascii_case("sub-task"));
    if is_subtask && parent.is_none() {
        problems.insert(
            "parent".into(),
            json!("Given parent work item does not belong to appropriate hierarchy."),
        );
    }
    if !problems.is_empty() {
        return errors(StatusCode::BAD_REQUEST, &[], Value::Object(problems));
    }
    let initial = state
        .workflow
        .iter()
        .find(|t| t.to.name == "To Do")
        .or(state.workflow.first())
        .map_or_else(|| status("10000", "To Do"), |t| t.to.clone());
    let project = project.unwrap_or_default();
    let key = create(
        state,
        &project,
        &summary,
        description,
        issue_type.as_deref().unwrap_or("Task"),
        parent_key,
        initial,
    );
    let id = state
        .issues
        .get(&key)
        .map(|i| i.id.clone())
        .unwrap_or_default();
    (
        StatusCode::CREATED,
        axum::Json(json!({"id": id, "key": key, "self": format!("{base}/rest/api/3/issue/{id}")})),
    )
        .into_response()
}
