//! GitHub intake: `POST /api/v1/webhooks/github`, deliveries of the GitHub App's webhook,
//! signed with the shared secret (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
//! body>`, checked in constant time) and de-duplicated by `X-GitHub-Delivery`.
//!
//! - An issue labelled with `[github] label` (default `kiln`), or a comment `/kiln <brief>`
//!   on an issue, becomes a `change` task on the project bound to the repository. Kiln
//!   answers with a comment linking the task; the publisher comments again with the pull
//!   request, whose body resolves the issue.
//! - `/kiln approve [reason]`, `/kiln reject <feedback>` and `/kiln answer <text>` on a Kiln
//!   pull request drive the same people-in-the-loop operations as the HTTP routes.
//! - An approving review on a Kiln pull request approves its release, as `/kiln approve`; a
//!   review requesting changes makes a fix round with its words and proposes a lesson from
//!   them, which `/kiln lesson approve` keeps in the project's memory (`/kiln lesson drop`
//!   drops it).
//! - A Kiln pull request closed without merging cancels its task, with that reason.
//!
//! The sender's permission on the repository decides what they may do: `write` and above
//! act as an approver (Kiln's self-approval rule still applies: the person who started a task
//! cannot release it), anything less is refused with a reply that says why. Issue text,
//! comments and review bodies are data: they only ever become a brief, an answer, feedback or
//! a reason, never configuration, a target or a permission. Other events are acknowledged and
//! ignored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use kiln_github::RepoName;
use kiln_intake::Command;
use kiln_intake::jira as jr;
use kiln_store::audit::source;
use kiln_store::auth::Role;
use kiln_store::control;
use kiln_store::github as store;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::instrument;
use uuid::Uuid;

use super::{IntakeState, Outcome};
use crate::error::{Error, Problem};
use crate::model::{CreateTask, TaskKind};

pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
pub const EVENT_HEADER: &str = "X-GitHub-Event";
pub const DELIVERY_HEADER: &str = "X-GitHub-Delivery";

#[derive(Debug, Deserialize)]
struct User {
    login: String,
    id: u64,
}

#[derive(Debug, Deserialize)]
struct Label {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Issue {
    number: i64,
    title: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    labels: Vec<Label>,
    /// Present when the "issue" is a pull request.
    #[serde(default)]
    pull_request: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Debug, Deserialize)]
struct Comment {
    body: String,
    user: User,
}

#[derive(Debug, Deserialize)]
struct Pull {
    number: i64,
    #[serde(default)]
    merged: bool,
}

#[derive(Debug, Deserialize)]
struct Review {
    state: String,
    #[serde(default)]
    body: Option<String>,
    user: User,
}

/// The parts of an event Kiln reads; anything else in it is ignored.
#[derive(Debug, Deserialize)]
struct Event {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    issue: Option<Issue>,
    #[serde(default)]
    label: Option<Label>,
    #[serde(default)]
    comment: Option<Comment>,
    #[serde(default)]
    pull_request: Option<Pull>,
    #[serde(default)]
    review: Option<Review>,
    repository: Option<Repository>,
    sender: Option<User>,
}

/// A `/kiln ...` comment, parsed.
#[derive(Debug, PartialEq, Eq)]
enum Ask {
    Approve(Option<String>),
    Reject(String),
    Answer(String),
    /// `/kiln lesson approve` (true) or `/kiln lesson drop` (false).
    Lesson(bool),
    /// On an issue: start a change with this brief.
    Brief(String),
}

/// Reads a comment's command: the first line starts with `/kiln`; on a pull request the next
/// word is the verb, on an issue the rest is the brief. `None` for anything else.
fn parse_ask(body: &str, on_pull: bool) -> Result<Option<Ask>, String> {
    let body = body.trim();
    let Some(rest) = body.strip_prefix("/kiln") else {
        return Ok(None);
    };
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return Ok(None);
    }
    let rest = rest.trim();
    if !on_pull {
        if rest.is_empty() {
            return Err("say what to do after /kiln, e.g. `/kiln add a bulk discount`".into());
        }
        return Ok(Some(Ask::Brief(rest.to_owned())));
    }
    let (verb, text) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(v, t)| (v, t.trim()));
    match verb {
        "approve" => Ok(Some(Ask::Approve(
            (!text.is_empty()).then(|| text.to_owned()),
        ))),
        "reject" if !text.is_empty() => Ok(Some(Ask::Reject(text.to_owned()))),
        "reject" => Err("`/kiln reject` needs feedback: `/kiln reject <what to change>`".into()),
        "answer" if !text.is_empty() => Ok(Some(Ask::Answer(text.to_owned()))),
        "answer" => Err("`/kiln answer` needs the answer: `/kiln answer <text>`".into()),
        "lesson" if text == "approve" => Ok(Some(Ask::Lesson(true))),
        "lesson" if text == "drop" => Ok(Some(Ask::Lesson(false))),
        "lesson" => Err("use `/kiln lesson approve` or `/kiln lesson drop`".into()),
        other => Err(format!(
            "unknown command `{}` on a pull request; use `/kiln approve [reason]`, `/kiln reject <feedback>`, `/kiln answer <text>` or `/kiln lesson approve|drop`",
            other.chars().take(40).collect::<String>()
        )),
    }
}

/// The role a permission on the repository carries: write access and above may start,
/// steer and approve tasks; less may not.
fn role_of(permission: &str) -> Option<Role> {
    match permission {
        "admin" | "maintain" | "write" => Some(Role::Approver),
        _ => None,
    }
}

/// Take a GitHub webhook delivery.
///
/// The GitHub App's webhook points here. A delivery is refused unless its body signature
/// matches `[github] webhook_secret`; a delivery id already seen is acknowledged and
/// ignored, as is any event that does not concern Kiln.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/github", operation_id = "github_webhook",
    tag = "intake",
    params(
        ("X-Hub-Signature-256" = String, Header,
         description = "sha256=<hex HMAC-SHA256 of the raw body under the webhook secret>"),
        ("X-GitHub-Event" = String, Header, description = "The event's name, e.g. issues"),
        ("X-GitHub-Delivery" = String, Header, description = "GitHub's id of the delivery"),
    ),
    request_body(content = Object, description = "A GitHub webhook event", content_type = "application/json"),
    responses(
        (status = 200, description = "Handled, ignored, or a redelivery ignored", body = Object),
        (status = 400, description = "Signed, but without a delivery id or not a readable event", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong signature, or no webhook secret configured", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(event = tracing::field::Empty, delivery = tracing::field::Empty))]
pub async fn webhook(
    State(state): State<IntakeState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), Error> {
    let config = &state.app.config.github;
    let unauthorized = |why: &str| Error::Unauthorized(format!("GitHub webhook refused: {why}"));
    let secret = config
        .webhook_secret
        .as_ref()
        .map(|s| s.expose())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| unauthorized("no [github] webhook_secret is configured"))?;
    // A body too large to read cannot be verified either.
    let body = body.map_err(|_| unauthorized("the body could not be read"))?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    jr::verify_signature(header(SIGNATURE_HEADER), secret, &body)
        .map_err(|e| unauthorized(&format!("{SIGNATURE_HEADER}: {e}")))?;
    let event = header(EVENT_HEADER).unwrap_or_default().to_owned();
    let delivery = header(DELIVERY_HEADER)
        .filter(|d| !d.is_empty() && d.len() <= 100)
        .ok_or_else(|| Error::InvalidBody(format!("{DELIVERY_HEADER} is missing")))?
        .to_owned();
    tracing::Span::current().record("event", event.as_str());
    tracing::Span::current().record("delivery", delivery.as_str());
    let parsed: Event = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            Error::InvalidBody(e.to_string())
        } else {
            Error::MalformedJson(e.to_string())
        }
    })?;
    if !super::first_delivery(&state.app.ctx.db, source::GITHUB, &delivery).await? {
        tracing::info!("GitHub redelivered a webhook already handled; nothing done");
        return Ok((
            StatusCode::OK,
            Json(json!({ "ok": true, "duplicate": true })),
        ));
    }
    let outcome = handle(&state, &event, &delivery, parsed).await?;
    Ok((
        StatusCode::OK,
        Json(json!({ "ok": true, "outcome": outcome })),
    ))
}

/// What handling a delivery came to, for the answer and the logs.
async fn handle(
    state: &IntakeState,
    event: &str,
    delivery: &str,
    e: Event,
) -> Result<String, Error> {
    let (Some(repository), Some(sender)) = (&e.repository, &e.sender) else {
        return Ok("ignored".into());
    };
    let db = &state.app.ctx.db;
    let Some(project) = store::project_of(db, &repository.full_name).await? else {
        return Ok("ignored: no project is bound to this repository".into());
    };
    let repo = RepoName::parse(&repository.full_name).map_err(Error::InvalidBody)?;
    // Kiln's own comments (the App's bot) are never commands.
    if sender.login.ends_with("[bot]") {
        return Ok("ignored: a bot".into());
    }
    let action = e.action.as_deref().unwrap_or_default();
    match (event, action) {
        ("ping", _) => Ok("pong".into()),
        ("issues", "labeled" | "opened") => {
            let Some(issue) = &e.issue else {
                return Ok("ignored".into());
            };
            let label = &state.app.config.github.label;
            let labelled = match action {
                "labeled" => e.label.as_ref().is_some_and(|l| &l.name == label),
                _ => issue.labels.iter().any(|l| &l.name == label),
            };
            if !labelled || issue.pull_request.is_some() {
                return Ok("ignored: not labelled for Kiln".into());
            }
            let brief = format!(
                "{}\n\n{}",
                issue.title.trim(),
                issue.body.as_deref().unwrap_or("").trim()
            );
            start(
                state,
                &repo,
                &project,
                issue.number,
                sender,
                brief.trim(),
                delivery,
            )
            .await
        }
        ("issue_comment", "created") => {
            let (Some(issue), Some(comment)) = (&e.issue, &e.comment) else {
                return Ok("ignored".into());
            };
            let on_pull = issue.pull_request.is_some();
            let ask = match parse_ask(&comment.body, on_pull) {
                Ok(None) => return Ok("ignored: not a command".into()),
                Ok(Some(ask)) => ask,
                Err(why) => {
                    reply(
                        state,
                        &repo,
                        issue.number,
                        &format!("{}: {why}", comment.user.login),
                    )
                    .await;
                    return Ok("refused: not a command Kiln knows".into());
                }
            };
            if let Ask::Brief(brief) = ask {
                return start(
                    state,
                    &repo,
                    &project,
                    issue.number,
                    &comment.user,
                    &brief,
                    delivery,
                )
                .await;
            }
            let Some(task) = store::task_of_pull(db, &repo.to_string(), issue.number).await? else {
                return Ok("ignored: not a Kiln pull request".into());
            };
            if let Ask::Lesson(keep) = ask {
                return lesson(
                    state,
                    &repo,
                    issue.number,
                    &comment.user,
                    task,
                    keep,
                    delivery,
                )
                .await;
            }
            let command = match ask {
                Ask::Approve(reason) => Command::Approve {
                    task: task.to_string(),
                    reason,
                },
                Ask::Reject(feedback) => Command::Reject {
                    task: task.to_string(),
                    feedback,
                },
                Ask::Answer(text) => Command::Answer {
                    task: task.to_string(),
                    text,
                },
                Ask::Brief(_) | Ask::Lesson(_) => unreachable!("handled above"),
            };
            steer(state, &repo, issue.number, &comment.user, command, delivery).await
        }
        ("pull_request_review", "submitted") => {
            let (Some(pull), Some(review)) = (&e.pull_request, &e.review) else {
                return Ok("ignored".into());
            };
            let approved = review.state.eq_ignore_ascii_case("approved");
            let changes = review.state.eq_ignore_ascii_case("changes_requested");
            if !approved && !changes {
                return Ok("ignored: a comment-only review".into());
            }
            let Some(task) = store::task_of_pull(db, &repo.to_string(), pull.number).await? else {
                return Ok("ignored: not a Kiln pull request".into());
            };
            if changes {
                let feedback = review.body.as_deref().unwrap_or("").trim().to_owned();
                return fix_round(
                    state,
                    &repo,
                    pull.number,
                    &review.user,
                    task,
                    &feedback,
                    delivery,
                )
                .await;
            }
            let reason = review
                .body
                .as_deref()
                .map(str::trim)
                .filter(|b| !b.is_empty())
                .map(|b| b.chars().take(500).collect())
                .or_else(|| Some("approved on GitHub".to_owned()));
            let command = Command::Approve {
                task: task.to_string(),
                reason,
            };
            steer(state, &repo, pull.number, &review.user, command, delivery).await
        }
        ("pull_request", "closed") => {
            let Some(pull) = &e.pull_request else {
                return Ok("ignored".into());
            };
            if pull.merged {
                return Ok("ignored: merged".into());
            }
            let Some(task) = store::task_of_pull(db, &repo.to_string(), pull.number).await? else {
                return Ok("ignored: not a Kiln pull request".into());
            };
            let who = super::chat_principal(
                source::GITHUB,
                &sender.id.to_string(),
                &sender.login,
                Role::Operator,
                delivery,
            );
            let reason = format!(
                "pull request #{} was closed on GitHub by {}",
                pull.number, sender.login
            );
            match crate::tasks::cancel_with(&state.app, &who, task, &reason).await {
                Ok(_) => {
                    state.wake.notify_one();
                    Ok(format!("cancelled task {task}"))
                }
                Err(Error::TaskFinished { .. }) => Ok("ignored: the task had ended".into()),
                Err(e) => Err(e),
            }
        }
        _ => Ok("ignored".into()),
    }
}

/// The sender as a principal, with the role their permission on the repository carries;
/// `Err` with the refusal to reply when it carries none.
async fn principal(
    state: &IntakeState,
    repo: &RepoName,
    user: &User,
    delivery: &str,
) -> Result<Result<crate::auth::Principal, String>, Error> {
    let Some(github) = &state.app.github else {
        return Ok(Err("Kiln has no GitHub credentials configured".into()));
    };
    let permission = github
        .permission(repo, &user.login)
        .await
        .map_err(|e| Error::GitHub(e.to_string()))?;
    match role_of(&permission) {
        Some(role) => Ok(Ok(super::chat_principal(
            source::GITHUB,
            &user.id.to_string(),
            &user.login,
            role,
            delivery,
        ))),
        None => {
            let why = format!(
                "{}: Kiln takes commands only from people with write access to {repo}; your permission is `{permission}`.",
                user.login
            );
            super::audit_denied(
                &state.app.ctx.db,
                &super::chat_actor(source::GITHUB, &user.id.to_string(), &user.login),
                source::GITHUB,
                &repo.to_string(),
                &why,
                json!({ "permission": permission }),
            )
            .await;
            Ok(Err(why))
        }
    }
}

/// [`principal`], answering on `number` with the refusal when the sender may not act.
async fn allowed(
    state: &IntakeState,
    repo: &RepoName,
    number: i64,
    user: &User,
    delivery: &str,
) -> Result<Option<crate::auth::Principal>, Error> {
    match principal(state, repo, user, delivery).await? {
        Ok(who) => Ok(Some(who)),
        Err(why) => {
            reply(state, repo, number, &why).await;
            Ok(None)
        }
    }
}

/// Starts a change from an issue and answers on the issue with the task's link.
async fn start(
    state: &IntakeState,
    repo: &RepoName,
    project: &str,
    issue: i64,
    sender: &User,
    brief: &str,
    delivery: &str,
) -> Result<String, Error> {
    let Some(who) = allowed(state, repo, issue, sender, delivery).await? else {
        return Ok("refused: no write access".into());
    };
    let request = CreateTask {
        kind: TaskKind::Change,
        template: None,
        name: None,
        project: Some(project.to_owned()),
        brief: brief.to_owned(),
        options: None,
    };
    let snapshot = match super::create(&state.app, &who, request).await {
        Ok(Outcome::Created(snapshot)) => snapshot,
        Ok(Outcome::Reply(text)) => {
            reply(state, repo, issue, &text).await;
            return Ok("refused".into());
        }
        Err(e) => {
            reply(
                state,
                repo,
                issue,
                &format!("{}: Kiln could not start a task: {e}", sender.login),
            )
            .await;
            return Ok(format!("refused: {e}"));
        }
    };
    let id: Uuid = snapshot.id;
    let db = &state.app.ctx.db;
    store::link_issue(db, id, &repo.to_string(), issue).await?;
    super::delivery_task(db, source::GITHUB, delivery, id).await?;
    state.wake.notify_one();
    let link = state
        .app
        .config
        .github
        .task_url(&id.to_string())
        .map(|u| format!(" Follow it here: {u}."))
        .unwrap_or_default();
    reply(
        state,
        repo,
        issue,
        &format!(
            "Kiln started task `{id}` for this issue.{link} A pull request will be linked here when it opens."
        ),
    )
    .await;
    Ok(format!("created task {id}"))
}

/// Runs a people-in-the-loop command from a pull request and replies with the result.
async fn steer(
    state: &IntakeState,
    repo: &RepoName,
    number: i64,
    user: &User,
    command: Command,
    delivery: &str,
) -> Result<String, Error> {
    let Some(who) = allowed(state, repo, number, user, delivery).await? else {
        return Ok("refused: no write access".into());
    };
    let verb = command.name();
    let text = match super::execute(state, &who, command).await {
        Ok(Outcome::Reply(text)) => text,
        Ok(Outcome::Created(_)) => "Done.".into(),
        Err(e) => format!("{}: Kiln could not {verb}: {e}", user.login),
    };
    reply(state, repo, number, &text).await;
    Ok(format!("{verb}: {text}"))
}

/// A person requested changes in a review: a fix round with their words, and a lesson
/// proposed from them.
async fn fix_round(
    state: &IntakeState,
    repo: &RepoName,
    number: i64,
    user: &User,
    task: Uuid,
    feedback: &str,
    delivery: &str,
) -> Result<String, Error> {
    let Some(who) = allowed(state, repo, number, user, delivery).await? else {
        return Ok("refused: no write access".into());
    };
    let text = match crate::review::request_changes(&state.app, &who, task, feedback).await {
        Ok(done) => {
            state.wake.notify_one();
            let mut text = format!(
                "{}: Kiln is making fix round {} for your review.",
                user.login, done.round
            );
            if let Some(p) = &done.proposal {
                text.push_str(&format!(
                    "\n\nProposed lesson for this project's memory: \"{}\". Keep it with `/kiln lesson approve`, or `/kiln lesson drop`.",
                    p.lesson.replace('"', "'")
                ));
            }
            text
        }
        Err(e) => format!("{}: Kiln could not act on the review: {e}", user.login),
    };
    reply(state, repo, number, &text).await;
    Ok(text)
}

/// `/kiln lesson approve|drop`: decides the task's newest proposed lesson.
async fn lesson(
    state: &IntakeState,
    repo: &RepoName,
    number: i64,
    user: &User,
    task: Uuid,
    keep: bool,
    delivery: &str,
) -> Result<String, Error> {
    let Some(who) = allowed(state, repo, number, user, delivery).await? else {
        return Ok("refused: no write access".into());
    };
    let db = &state.app.ctx.db;
    let open = kiln_store::memory::open_proposal(db, task).await?;
    let project = kiln_store::tasks::get_task(db, task)
        .await?
        .map(|t| t.project_id)
        .ok_or(Error::TaskNotFound(task))?;
    let text = match open {
        None => format!("{}: there is no proposed lesson to decide.", user.login),
        Some(p) => {
            match crate::review::decide_lesson(&state.app, &who, project, p.id, keep).await {
                Ok(Some(p)) if keep => format!(
                    "Kept in the project's memory: \"{}\".",
                    p.lesson.replace('"', "'")
                ),
                Ok(Some(_)) => "Dropped the proposed lesson.".into(),
                Ok(None) => format!("{}: the lesson was decided meanwhile.", user.login),
                Err(e) => format!("{}: Kiln could not decide the lesson: {e}", user.login),
            }
        }
    };
    reply(state, repo, number, &text).await;
    Ok(text)
}

/// Comments on an issue or pull request, unless GitHub writes are off. A reply that cannot
/// be written is logged: the command itself has been carried out.
async fn reply(state: &IntakeState, repo: &RepoName, number: i64, text: &str) {
    let Some(github) = &state.app.github else {
        return;
    };
    let db = &state.app.ctx.db;
    let project = store::project_of(db, &repo.to_string())
        .await
        .ok()
        .flatten();
    if let Some(project) = project {
        match control::guard_off(db, kiln_github::publish::WRITES_GUARD, &project).await {
            Ok(Some(_)) => {
                tracing::info!(%repo, number, "GitHub writes are off; reply not written");
                return;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "write guard not read; reply not written");
                return;
            }
        }
    }
    if let Err(e) = github.comment(repo, number as u64, text).await {
        tracing::warn!(%repo, number, error = %e, "reply to GitHub not written");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_read_from_the_first_word_only() {
        assert_eq!(parse_ask("thanks!", true), Ok(None));
        assert_eq!(parse_ask("/kilnx approve", true), Ok(None));
        assert_eq!(
            parse_ask("/kiln approve", true),
            Ok(Some(Ask::Approve(None)))
        );
        assert_eq!(
            parse_ask("  /kiln approve  looks good ", true),
            Ok(Some(Ask::Approve(Some("looks good".into()))))
        );
        assert_eq!(
            parse_ask("/kiln reject use cents", true),
            Ok(Some(Ask::Reject("use cents".into())))
        );
        assert!(
            parse_ask("/kiln reject", true)
                .unwrap_err()
                .contains("feedback")
        );
        assert!(parse_ask("/kiln answer", true).is_err());
        assert!(
            parse_ask("/kiln merge now", true)
                .unwrap_err()
                .contains("unknown command `merge`")
        );
        assert_eq!(
            parse_ask("/kiln add a bulk discount", false),
            Ok(Some(Ask::Brief("add a bulk discount".into())))
        );
        assert!(parse_ask("/kiln", false).is_err());
        assert_eq!(
            parse_ask("/kiln lesson approve", true),
            Ok(Some(Ask::Lesson(true)))
        );
        assert_eq!(
            parse_ask("/kiln lesson drop", true),
            Ok(Some(Ask::Lesson(false)))
        );
        assert!(parse_ask("/kiln lesson keep", true).is_err());
    }

    #[test]
    fn only_write_access_and_above_may_steer() {
        for p in ["admin", "maintain", "write"] {
            assert_eq!(role_of(p), Some(Role::Approver), "{p}");
        }
        for p in ["triage", "read", "none", "anything"] {
            assert_eq!(role_of(p), None, "{p}");
        }
    }
}
