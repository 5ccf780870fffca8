//! Jira intake: `POST /api/v1/webhooks/jira`, a Jira Cloud webhook signed with the shared
//! secret (`X-Hub-Signature: sha256=<hex>`, or an automation rule's fixed
//! `X-Kiln-Jira-Token`). An issue moved to the trigger status becomes a task of the Kiln
//! project its Jira project is mapped to; Kiln comments on the issue with the task link, then
//! with what it needs answered and with the result, and moves the issue on when the task ends.
//! A person's comment on an issue whose task waits for answers is the answer.
//!
//! Issue text is untrusted: it only ever becomes a brief or an answer, run with the
//! configured role (`actor_role`). Jira is never in the path of task work: comments and
//! transitions are written by the reporter from the database and retried until Jira takes
//! them, and none is written while a pause is in force.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use kiln_intake::Secret;
use kiln_intake::Surface;
use kiln_intake::jira::{
    self as jr, Incoming, IssueComment, IssueRequest, Link, Route, WebhookEvent,
};
use kiln_intake::report::{TaskSnapshot, short_id};
use kiln_store::TaskStatus;
use kiln_store::audit::source;
use kiln_store::auth::Role;
use kiln_store::control;
use kiln_store::records;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};
use tracing::instrument;
use uuid::Uuid;

use super::{IntakeState, Outcome, report};
use crate::error::{Error, Problem};

/// Header Jira Cloud gives each webhook delivery (kept in the logs; the replay check uses the
/// signed body, which a replayer cannot change).
pub const DELIVERY_HEADER: &str = "X-Atlassian-Webhook-Identifier";

/// `[api.jira]`: off unless `base_url` and `api_token` are set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JiraConfig {
    /// The Jira site, e.g. `https://example.atlassian.net`.
    pub base_url: String,
    /// The email of Kiln's own Jira account, which the API token belongs to.
    pub email: String,
    pub api_token: Option<Secret>,
    /// The webhook's secret (the signing secret, or an automation rule's fixed header);
    /// without it every delivery is refused.
    pub webhook_secret: Option<Secret>,
    /// Kiln's own Jira account id: its comments are never taken as answers. Without it no
    /// comment is taken as an answer at all.
    pub account_id: String,
    /// The role Jira-originated commands run with.
    pub actor_role: Role,
    /// Jira project key -> what its issues become.
    pub projects: BTreeMap<String, JiraProject>,
    /// The status (name, any case, or id) that hands an issue to Kiln.
    pub trigger_status: String,
    /// The status (name, any case, or id) that hands an issue to Kiln for breaking down: its
    /// task waits for plan approval, and once the plan is approved each of its stories
    /// becomes a sub-task of the issue. None: off.
    pub breakdown_status: Option<String>,
    /// The issue type of those sub-tasks (`Subtask` in team-managed projects, `Sub-task` in
    /// company-managed ones).
    pub subtask_type: String,
    /// Where the issue goes when its task is deployed.
    pub done_status: String,
    /// Where the issue goes when its task fails or is cancelled; none leaves it where it is.
    pub failed_status: Option<String>,
    /// The dashboard's public address, for the task link (`<dashboard_url>/tasks/<id>`).
    pub dashboard_url: Option<String>,
}

/// What the issues of one Jira project become: new apps from `template` (named after the
/// issue key) or revisions of the Kiln `project`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JiraProject {
    pub template: Option<String>,
    pub project: Option<String>,
}

impl Default for JiraConfig {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            email: String::new(),
            api_token: None,
            webhook_secret: None,
            account_id: String::new(),
            actor_role: Role::Operator,
            projects: BTreeMap::new(),
            trigger_status: "Ready for Dev".to_owned(),
            breakdown_status: None,
            subtask_type: jr::DEFAULT_SUBTASK_TYPE.to_owned(),
            done_status: "Done".to_owned(),
            failed_status: None,
            dashboard_url: None,
        }
    }
}

impl JiraConfig {
    pub fn enabled(&self) -> bool {
        !self.base_url.trim().is_empty()
            && self
                .api_token
                .as_ref()
                .is_some_and(|t| !t.expose().is_empty())
    }

    pub(crate) fn client(&self) -> Option<jr::Client> {
        let token = self.api_token.clone().filter(|_| self.enabled())?;
        Some(jr::Client::new(
            self.base_url.clone(),
            self.email.clone(),
            token,
        ))
    }

    /// The route of an issue of Jira project `key`; a project mapped to both is a revision.
    fn route(&self, key: &str, issue_key: &str) -> Option<Route> {
        let mapped = self.projects.get(key)?;
        match (&mapped.project, &mapped.template) {
            (Some(project), _) => Some(Route::Revise {
                project: project.clone(),
            }),
            (None, Some(template)) => Some(Route::New {
                template: template.clone(),
                name: issue_key.to_owned(),
            }),
            (None, None) => None,
        }
    }

    fn breakdown_status(&self) -> Option<&str> {
        self.breakdown_status
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    fn task_link(&self, task: Uuid) -> Option<Link> {
        let base = self.dashboard_url.as_deref()?.trim().trim_end_matches('/');
        (base.starts_with("https://") || base.starts_with("http://")).then(|| Link {
            text: format!("Task {} in Kiln", short_id(task)),
            href: format!("{base}/tasks/{task}"),
        })
    }
}

/// Take a Jira webhook event.
///
/// Jira calls this when an issue changes or is commented on. The request is refused unless
/// its body signature (or fixed token) matches the configured secret; an event already taken
/// is acknowledged and ignored, as is any event that does not concern Kiln.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/jira", operation_id = "jira_webhook",
    tag = "intake",
    params(
        ("X-Hub-Signature" = Option<String>, Header,
         description = "sha256=<hex HMAC-SHA256 of the body under the webhook secret>"),
        ("X-Kiln-Jira-Token" = Option<String>, Header,
         description = "The webhook secret itself, for automation rules that cannot sign"),
        ("X-Atlassian-Webhook-Identifier" = Option<String>, Header,
         description = "Jira's id of the delivery"),
    ),
    request_body(content = Object, description = "A Jira webhook event", content_type = "application/json"),
    responses(
        (status = 200, description = "Taken, ignored, or a replay ignored", body = Object),
        (status = 400, description = "Signed, but not a readable webhook event", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong signature, or Jira intake is not configured", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(delivery = tracing::field::Empty))]
pub async fn webhook(
    State(state): State<IntakeState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Error> {
    let config = &state.app.config.jira;
    let unauthorized =
        || Error::Unauthorized("the Jira webhook signature is missing or wrong".into());
    if !config.enabled() {
        return Err(unauthorized());
    }
    // A body too large to read cannot be verified either.
    let body = body.map_err(|_| unauthorized())?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let secret = config
        .webhook_secret
        .as_ref()
        .map(Secret::expose)
        .unwrap_or_default();
    let verified = match header(jr::SIGNATURE_HEADER) {
        Some(signature) => jr::verify_signature(Some(signature), secret, &body),
        None => jr::verify_token(header(jr::TOKEN_HEADER), secret),
    };
    verified.map_err(|e| Error::Unauthorized(format!("the Jira webhook is not trusted: {e}")))?;
    if let Some(id) = header(DELIVERY_HEADER) {
        tracing::Span::current().record("delivery", id);
    }
    let event = WebhookEvent::from_slice(&body).map_err(|e| {
        if e.is_data() {
            Error::InvalidBody(e.to_string())
        } else {
            Error::MalformedJson(e.to_string())
        }
    })?;
    let taken = handle(&state, &event, &body).await?;
    Ok(Json(json!({ "ok": true, "taken": taken })))
}

/// The replay key of an event: its kind, issue, change or comment and timestamp, all from
/// the signed body; the body's digest when it has no change or comment id.
fn delivery_id(event: &WebhookEvent, body: &[u8]) -> String {
    let issue = event.issue.as_ref().map(|i| i.id.as_str()).unwrap_or("");
    let item = event
        .changelog
        .as_ref()
        .and_then(|c| c.id.clone())
        .or_else(|| event.comment.as_ref().map(|c| c.id.clone()));
    match item {
        Some(item) => format!(
            "{}:{issue}:{item}:{}",
            event.webhook_event,
            event.timestamp.unwrap_or_default()
        ),
        None => format!("body:{}", hex::encode(Sha256::digest(body))),
    }
}

/// Acts on one verified event; true when it was taken (not ignored or replayed). Jira
/// failures are logged and left to the reporter, never returned.
async fn handle(state: &IntakeState, event: &WebhookEvent, body: &[u8]) -> Result<bool, Error> {
    let config = &state.app.config.jira;
    let Some(client) = config.client() else {
        return Ok(false);
    };
    let db = &state.app.ctx.db;
    let mut incoming = event.incoming(&config.trigger_status);
    let mut breakdown = false;
    if matches!(incoming, Incoming::Ignored)
        && let Some(status) = config.breakdown_status()
        && let hit @ Incoming::Triggered(_) = event.incoming(status)
    {
        incoming = hit;
        breakdown = true;
    }
    match incoming {
        Incoming::Ignored => Ok(false),
        Incoming::Triggered(request) => {
            let Some(route) = request
                .project_key
                .as_deref()
                .and_then(|p| config.route(p, &request.key))
            else {
                tracing::info!(issue = %request.key, "jira issue of an unmapped project; ignored");
                return Ok(false);
            };
            let delivery = delivery_id(event, body);
            if !super::first_delivery(db, source::JIRA, &delivery).await? {
                tracing::info!(%delivery, "jira event replayed; ignored");
                return Ok(false);
            }
            triggered(state, &client, &request, &route, &delivery, breakdown).await?;
            Ok(true)
        }
        Incoming::Commented(comment) => {
            if config.account_id.trim().is_empty() || comment.is_by(&config.account_id) {
                return Ok(false);
            }
            let delivery = delivery_id(event, body);
            if !super::first_delivery(db, source::JIRA, &delivery).await? {
                tracing::info!(%delivery, "jira event replayed; ignored");
                return Ok(false);
            }
            commented(state, &client, &comment, &delivery).await
        }
    }
}

fn principal(state: &IntakeState, by: Option<&jr::User>, delivery: &str) -> crate::auth::Principal {
    let (user, display) = match by {
        Some(u) => (
            u.account_id.clone(),
            u.display_name
                .clone()
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| u.account_id.clone()),
        ),
        None => ("unknown".to_owned(), "unknown".to_owned()),
    };
    super::chat_principal(
        source::JIRA,
        &user,
        &display,
        state.app.config.jira.actor_role,
        &format!("jira-{delivery}"),
    )
}

async fn triggered(
    state: &IntakeState,
    client: &jr::Client,
    request: &IssueRequest,
    route: &Route,
    delivery: &str,
    breakdown: bool,
) -> Result<(), Error> {
    let db = &state.app.ctx.db;
    // One task per issue at a time: moving it again while Kiln works on it does nothing.
    if let Some(task) = open_task(db, &request.key).await? {
        tracing::info!(issue = %request.key, %task, "jira issue already has a task; ignored");
        return Ok(());
    }
    let who = principal(state, request.by.as_ref(), delivery);
    let command = match request.command(route) {
        Ok(command) => command,
        Err(usage) => {
            reply(state, client, &request.key, &usage.to_string()).await;
            return Ok(());
        }
    };
    // A task to break down waits for its plan to be approved; the stories become sub-tasks.
    let options = breakdown.then(|| json!({ "approval": "plan" }));
    match super::execute_with(state, &who, command, options).await {
        Ok(Outcome::Created(snapshot)) => {
            let detail = if breakdown {
                json!({ "breakdown": { "project": request.project_key } })
            } else {
                json!({})
            };
            open_thread(db, snapshot.id, &request.key, &detail).await?;
            super::delivery_task(db, source::JIRA, delivery, snapshot.id).await?;
            match report_one(state, client, snapshot.id).await {
                Ok(()) => {}
                Err(Failure::Remote(e)) => {
                    tracing::warn!(error = %e, "jira comment not written yet; the reporter retries");
                }
                Err(Failure::Store(e)) => return Err(e),
            }
            state.wake.notify_one();
        }
        Ok(Outcome::Reply(text)) => reply(state, client, &request.key, &text).await,
        Err(e) => {
            if matches!(e, Error::Store(_) | Error::Nats { .. }) {
                tracing::warn!(error = %e, "jira command failed");
            }
            reply(state, client, &request.key, &e.to_string()).await;
        }
    }
    Ok(())
}

async fn commented(
    state: &IntakeState,
    client: &jr::Client,
    comment: &IssueComment,
    delivery: &str,
) -> Result<bool, Error> {
    let db = &state.app.ctx.db;
    let Some(task) = open_task(db, &comment.key).await? else {
        return Ok(false);
    };
    let waiting = kiln_store::tasks::get_task(db, task)
        .await?
        .is_some_and(|t| t.status == TaskStatus::AwaitingClarification);
    // Comments are ordinary talk unless the task waits for answers.
    if !waiting {
        return Ok(false);
    }
    let who = principal(state, comment.author.as_ref(), delivery);
    let command = match comment.answer(&task.to_string()) {
        Ok(command) => command,
        Err(usage) => {
            reply(state, client, &comment.key, &usage.to_string()).await;
            return Ok(true);
        }
    };
    match super::execute(state, &who, command).await {
        // The reporter comments when the task next needs something or ends.
        Ok(_) => {}
        Err(e) => {
            if matches!(e, Error::Store(_) | Error::Nats { .. }) {
                tracing::warn!(error = %e, "jira answer failed");
            }
            reply(state, client, &comment.key, &e.to_string()).await;
        }
    }
    Ok(true)
}

/// A best-effort comment (a refusal, a usage note); none while paused.
async fn reply(state: &IntakeState, client: &jr::Client, key: &str, text: &str) {
    match control::paused(&state.app.ctx.db, None).await {
        Ok(None) => {}
        Ok(Some(_)) => return,
        Err(e) => {
            tracing::warn!(error = %e, "pause not read; jira reply not written");
            return;
        }
    }
    if let Err(e) = client.add_comment(key, text, None).await {
        tracing::warn!(error = %e, issue = %key, "jira reply not written");
    }
}

/// The task an issue's open thread follows.
async fn open_task(db: &PgPool, key: &str) -> Result<Option<Uuid>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT task_id FROM task_threads WHERE source = 'jira' AND channel = $1 \
         AND NOT (detail ? 'final') ORDER BY created_at DESC LIMIT 1",
    )
    .bind(key)
    .fetch_optional(db)
    .await?)
}

async fn open_thread(db: &PgPool, task: Uuid, key: &str, detail: &Value) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO task_threads (task_id, source, channel, detail) VALUES ($1, 'jira', $2, $3) \
         ON CONFLICT (task_id, source) DO NOTHING",
    )
    .bind(task)
    .bind(key)
    .bind(detail)
    .execute(db)
    .await?;
    Ok(())
}

/// A pass over the Jira threads stops at Jira or at the store.
type Failure = super::report::Failure<jr::Error>;

/// Whether a failed call may succeed later: transport errors, rate limits and Jira's own
/// 5xx; anything else Jira refused on the merits.
fn retryable(e: &jr::Error) -> bool {
    match e {
        jr::Error::Http(_) | jr::Error::RateLimited { .. } => true,
        jr::Error::Api { status, .. } | jr::Error::Decode { status, .. } => {
            *status >= 500 || *status == 429
        }
        jr::Error::InvalidKey(_) | jr::Error::NoTransition { .. } => false,
    }
}

/// One pass over the open Jira threads; stops at the first retryable Jira failure and says
/// how long to wait when Jira said.
pub(crate) async fn sweep(
    state: &IntakeState,
    client: &jr::Client,
) -> Result<Option<Duration>, Error> {
    let db = &state.app.ctx.db;
    if control::paused(db, None).await?.is_some() {
        return Ok(None);
    }
    let open: Vec<Uuid> = sqlx::query_scalar(
        "SELECT task_id FROM task_threads WHERE source = 'jira' \
         AND NOT (detail ? 'final') ORDER BY created_at LIMIT 200",
    )
    .fetch_all(db)
    .await?;
    for task in open {
        match report_one(state, client, task).await {
            Ok(()) => {}
            Err(Failure::Remote(e)) => {
                tracing::warn!(%task, error = %e, "jira progress not reported; kept for later");
                return Ok(Some(e.retry_after().unwrap_or(Duration::from_secs(1))));
            }
            Err(Failure::Store(e)) => return Err(e),
        }
    }
    Ok(None)
}

/// What is worth a comment: the text while the task waits for a person, and at the end.
fn milestone(snapshot: &TaskSnapshot) -> Option<String> {
    (snapshot.waiting().is_some() || snapshot.status.is_terminal())
        .then(|| kiln_intake::progress_text(snapshot, Surface::Jira))
}

/// Brings one task's issue up to date: the task link first, then a comment for each new
/// milestone, then the transition at the end. The thread's row stays locked meanwhile, so
/// two replicas never comment twice; each step is recorded as soon as Jira took it.
pub(crate) async fn report_one(
    state: &IntakeState,
    client: &jr::Client,
    task: Uuid,
) -> Result<(), Failure> {
    let db = &state.app.ctx.db;
    let mut tx = db.begin().await?;
    let row = sqlx::query(
        "SELECT channel, message_id, last_reported, detail FROM task_threads \
         WHERE task_id = $1 AND source = 'jira' AND NOT (detail ? 'final') \
         FOR UPDATE SKIP LOCKED",
    )
    .bind(task)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let key: String = row.try_get("channel")?;
    let link_comment: Option<String> = row.try_get("message_id")?;
    let last: Option<String> = row.try_get("last_reported")?;
    let detail: Value = row.try_get("detail")?;
    let Some(mut snapshot) = report::snapshot(db, task).await? else {
        return Ok(());
    };
    if control::paused(db, Some(&snapshot.project))
        .await?
        .is_some()
    {
        return Ok(());
    }
    let config = &state.app.config.jira;
    let link = config.task_link(task);
    snapshot.task_url = link.as_ref().map(|l| l.href.clone());
    let outcome = steps(
        &mut tx,
        config,
        client,
        &snapshot,
        &key,
        link_comment.is_none(),
        link.as_ref(),
        last.as_deref(),
        &detail,
    )
    .await;
    tx.commit().await?;
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn steps(
    conn: &mut sqlx::PgConnection,
    config: &JiraConfig,
    client: &jr::Client,
    snapshot: &TaskSnapshot,
    key: &str,
    unlinked: bool,
    link: Option<&Link>,
    last: Option<&str>,
    detail: &Value,
) -> Result<(), Failure> {
    let task = snapshot.id;
    let refused = |e: jr::Error| -> Result<bool, Failure> {
        if retryable(&e) {
            Err(Failure::Remote(e))
        } else {
            // Jira refused for good (the issue is gone, Kiln may not comment): the thread
            // is closed rather than retried forever.
            tracing::warn!(%task, issue = %key, error = %e, "jira thread closed");
            Ok(false)
        }
    };
    if unlinked {
        let mut text = format!(
            "Kiln took this issue as task {} ({}, {}). Progress follows in comments here.",
            short_id(task),
            snapshot.project,
            snapshot.template
        );
        if link.is_none() {
            text.push_str(&format!("\nTask id: {task}"));
        }
        match client.add_comment(key, &text, link).await {
            Ok(id) => record(conn, task, Some(&id), None, false).await?,
            Err(e) => {
                refused(e)?;
                return Ok(record(conn, task, None, None, true).await?);
            }
        }
    }
    let breakdown = Breakdown::of(detail);
    if let Some(b) = &breakdown
        && !b.finished
        && plan_approved(conn, task).await?
        && !break_down(conn, config, client, task, key, b).await?
    {
        return Ok(record(conn, task, None, None, true).await?);
    }
    let done = snapshot.status.is_terminal();
    let mut milestone = milestone(snapshot);
    if let Some(text) = &mut milestone
        && breakdown.is_some()
        && snapshot.status == TaskStatus::AwaitingPlanApproval
        && let Some(plan) = records::get_plan(conn, task).await?
    {
        text.push_str(&plan_text(&plan));
    }
    if let Some(text) = milestone
        && last != Some(text.as_str())
    {
        let live = snapshot
            .live_url
            .as_ref()
            .filter(|_| snapshot.status == TaskStatus::Deployed)
            .map(|url| Link {
                text: "Open the app".to_owned(),
                href: url.clone(),
            });
        match client.add_comment(key, &text, live.as_ref()).await {
            Ok(_) => record(conn, task, None, Some(&text), false).await?,
            Err(e) => {
                refused(e)?;
                return Ok(record(conn, task, None, None, true).await?);
            }
        }
    }
    if !done {
        return Ok(());
    }
    let target = if snapshot.status == TaskStatus::Deployed {
        Some(config.done_status.as_str())
    } else {
        config.failed_status.as_deref()
    };
    if let Some(target) = target.map(str::trim).filter(|t| !t.is_empty())
        && let Err(e) = client.transition_to(key, target).await
    {
        refused(e)?;
    }
    record(conn, task, None, None, true).await?;
    tracing::debug!(%task, status = %snapshot.status, "jira issue finished");
    Ok(())
}

/// A breakdown thread's progress, kept in `task_threads.detail`: the Jira project its
/// sub-tasks go to, the sub-task made for each story (by ordinal) as soon as Jira took it,
/// and whether the list was commented.
struct Breakdown {
    project: Option<String>,
    created: BTreeMap<String, String>,
    finished: bool,
}

impl Breakdown {
    fn of(detail: &Value) -> Option<Self> {
        let b = detail.get("breakdown")?;
        Some(Self {
            project: b.get("project").and_then(Value::as_str).map(str::to_owned),
            created: b
                .get("subtasks")
                .and_then(|s| serde_json::from_value(s.clone()).ok())
                .unwrap_or_default(),
            finished: b.get("finished").and_then(Value::as_bool) == Some(true),
        })
    }

    fn json(&self) -> Value {
        json!({
            "project": self.project,
            "subtasks": self.created,
            "finished": self.finished,
        })
    }
}

async fn plan_approved(conn: &mut sqlx::PgConnection, task: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM approvals WHERE task_id = $1 \
         AND kind = 'plan_approval' AND decision = 'approve')",
    )
    .bind(task)
    .fetch_one(conn)
    .await
}

/// The plan, for the comment that asks for its approval.
fn plan_text(plan: &records::Plan) -> String {
    let mut text = format!(
        "\n\nThe plan ({} stories; once it is approved in Kiln each becomes a sub-task here):",
        plan.stories.len()
    );
    for (i, story) in plan.stories.iter().enumerate() {
        text.push_str(&format!(
            "\n\n{}. {}\n{}",
            i + 1,
            story.title,
            story.description
        ));
        for a in &story.acceptance {
            text.push_str(&format!("\n- {a}"));
        }
    }
    text
}

/// A sub-task's description: the story's description and its acceptance criteria.
fn story_description(story: &records::Story) -> String {
    let mut text = story.description.trim().to_owned();
    if !story.acceptance.is_empty() {
        text.push_str("\n\nAcceptance:");
        for a in &story.acceptance {
            text.push_str(&format!("\n- {a}"));
        }
    }
    text
}

/// Makes one sub-task per story of the approved plan that has none yet, recording each as
/// soon as Jira took it (so a later pass, or a restart, never makes it again), then
/// comments the list. False when Jira refused the comment for good (the thread closes).
async fn break_down(
    conn: &mut sqlx::PgConnection,
    config: &JiraConfig,
    client: &jr::Client,
    task: Uuid,
    key: &str,
    b: &Breakdown,
) -> Result<bool, Failure> {
    let mut b = Breakdown {
        project: b.project.clone(),
        created: b.created.clone(),
        finished: false,
    };
    let project = b
        .project
        .clone()
        .or_else(|| key.rsplit_once('-').map(|(p, _)| p.to_owned()))
        .unwrap_or_default();
    let stories = records::get_plan(conn, task)
        .await?
        .map(|p| p.stories)
        .unwrap_or_default();
    let mut problem = None;
    for (i, story) in stories.iter().enumerate() {
        if b.created.contains_key(&i.to_string()) {
            continue;
        }
        let description = story_description(story);
        let subtask = jr::NewSubtask {
            project_key: &project,
            parent_key: key,
            summary: &story.title,
            description: &description,
            issue_type: &config.subtask_type,
        };
        match client.create_subtask(&subtask).await {
            Ok(issue) => {
                b.created.insert(i.to_string(), issue.key);
                note_breakdown(conn, task, &b).await?;
            }
            Err(e) if retryable(&e) => return Err(Failure::Remote(e)),
            Err(e) => {
                // Jira refused on the merits (no such issue type, no permission): say so
                // once instead of retrying forever; the task goes on.
                tracing::warn!(%task, issue = %key, error = %e, "jira sub-task not created");
                problem = Some(e.to_string());
                break;
            }
        }
    }
    let lines: Vec<String> = stories
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            b.created
                .get(&i.to_string())
                .map(|k| format!("{k}: {}", s.title))
        })
        .collect();
    let mut text = if lines.is_empty() {
        "Kiln made no sub-tasks from the approved plan.".to_owned()
    } else {
        format!(
            "The approved plan is now {} sub-tasks of this issue:\n{}",
            lines.len(),
            lines.join("\n")
        )
    };
    if let Some(problem) = problem {
        text.push_str(&format!("\n\nJira refused the rest: {problem}"));
    }
    match client.add_comment(key, &text, None).await {
        Ok(_) => {}
        Err(e) if retryable(&e) => return Err(Failure::Remote(e)),
        Err(e) => {
            tracing::warn!(%task, issue = %key, error = %e, "jira thread closed");
            return Ok(false);
        }
    }
    b.finished = true;
    note_breakdown(conn, task, &b).await?;
    tracing::info!(%task, issue = %key, subtasks = b.created.len(), "jira issue broken down");
    Ok(true)
}

async fn note_breakdown(
    conn: &mut sqlx::PgConnection,
    task: Uuid,
    b: &Breakdown,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE task_threads SET detail = detail || jsonb_build_object('breakdown', $2::jsonb), \
         updated_at = now() WHERE task_id = $1 AND source = 'jira'",
    )
    .bind(task)
    .bind(b.json())
    .execute(conn)
    .await?;
    Ok(())
}

async fn record(
    conn: &mut sqlx::PgConnection,
    task: Uuid,
    comment: Option<&str>,
    text: Option<&str>,
    done: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE task_threads SET message_id = COALESCE($2, message_id), \
         last_reported = COALESCE($3, last_reported), \
         detail = CASE WHEN $4 THEN detail || '{\"final\": true}'::jsonb ELSE detail END, \
         updated_at = now() WHERE task_id = $1 AND source = 'jira'",
    )
    .bind(task)
    .bind(comment)
    .bind(text)
    .bind(done)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_the_project_map() {
        let mut config = JiraConfig::default();
        config.projects.insert(
            "SHOP".into(),
            JiraProject {
                template: Some("static-site".into()),
                project: None,
            },
        );
        config.projects.insert(
            "WEB".into(),
            JiraProject {
                template: None,
                project: Some("site".into()),
            },
        );
        assert_eq!(
            config.route("SHOP", "SHOP-1"),
            Some(Route::New {
                template: "static-site".into(),
                name: "SHOP-1".into()
            })
        );
        assert_eq!(
            config.route("WEB", "WEB-2"),
            Some(Route::Revise {
                project: "site".into()
            })
        );
        assert_eq!(config.route("OTHER", "OTHER-1"), None);
    }

    #[test]
    fn replay_keys_come_from_the_signed_body() {
        let body = br#"{"webhookEvent":"jira:issue_updated","timestamp":7,"issue":{"id":"1","key":"A-1","fields":{"summary":"x"}},"changelog":{"id":"9","items":[]}}"#;
        let event = WebhookEvent::from_slice(body).expect("event");
        assert_eq!(delivery_id(&event, body), "jira:issue_updated:1:9:7");
        let bare = br#"{"webhookEvent":"x"}"#;
        let event = WebhookEvent::from_slice(bare).expect("event");
        assert!(delivery_id(&event, bare).starts_with("body:"));
    }
}
