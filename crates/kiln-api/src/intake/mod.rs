//! Chat and tracker intake: Telegram (webhook or long polling) turns messages into the same
//! operations the HTTP routes run, as a principal named after the chat user with the role the
//! allow-list gives them, and a reporter keeps one progress message per task up to date.
//!
//! Everything a chat asks for goes through the API's own operations (`tasks::create`,
//! `people::approve_task`, `pause::apply`, ...), so the same checks and audit rows apply. A
//! delivery is recorded in `intake_deliveries` before it is acted on, so a replayed update
//! does nothing twice. Chat is never in the path of task work: the reporter re-renders from
//! the database and retries until the chat API takes the edit.

pub mod discord;
pub mod github;
pub mod jira;
pub mod report;
pub mod telegram;

use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use kiln_intake::report::{TaskSnapshot, short_id};
use kiln_intake::{Aliases, Command, Surface};
use kiln_store::audit::{self, Entry};
use kiln_store::auth::Role;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::Error;
use crate::model::{CreateTask, TaskKind};
use crate::pause::SetPause;
use crate::people::{AnswersRequest, ApproveRequest};
use crate::{AppState, validate};

pub use discord::DiscordConfig;
pub use jira::{JiraConfig, JiraProject};
pub use telegram::TelegramConfig;

/// What the intake routes and the reporter share.
#[derive(Clone)]
pub struct IntakeState {
    pub(crate) app: AppState,
    pub(crate) aliases: Arc<Aliases>,
    /// Wakes the reporter when a task it follows may have moved.
    pub(crate) wake: Arc<Notify>,
}

/// The webhook routes; starts the reporter (and the Telegram long poll when configured).
pub fn router(state: &AppState) -> Router {
    let aliases = match Aliases::new(state.catalog.aliases()) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "template aliases unusable in chat; only /new works");
            Aliases::default()
        }
    };
    let intake = IntakeState {
        app: state.clone(),
        aliases: Arc::new(aliases),
        wake: Arc::new(Notify::new()),
    };
    let chats = state.config.telegram.enabled()
        || state.config.discord.enabled()
        || state.config.jira.enabled();
    if tokio::runtime::Handle::try_current().is_ok() && chats {
        tokio::spawn(report::run(intake.clone()));
        if state.config.telegram.enabled() && state.config.telegram.long_poll {
            tokio::spawn(telegram::long_poll(intake.clone()));
        }
    }
    Router::new()
        .route("/api/v1/webhooks/telegram", post(telegram::webhook))
        .route("/api/v1/webhooks/discord", post(discord::webhook))
        .route("/api/v1/webhooks/jira", post(jira::webhook))
        .route("/api/v1/webhooks/github", post(github::webhook))
        .with_state(intake)
}

/// A stable token id for a chat user, so rate limits follow the person across messages:
/// a name-based UUID (version 8, from SHA-256) of `source:user`.
pub(crate) fn chat_token_id(source: &str, user: &str) -> Uuid {
    let digest = Sha256::digest(format!("kiln-intake:{source}:{user}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Records a delivery; false when it was seen before (a replay, which must do nothing).
pub(crate) async fn first_delivery(db: &PgPool, source: &str, id: &str) -> Result<bool, Error> {
    let done = sqlx::query(
        "INSERT INTO intake_deliveries (source, delivery_id) VALUES ($1, $2) \
         ON CONFLICT (source, delivery_id) DO NOTHING",
    )
    .bind(source)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Notes the task a delivery created.
pub(crate) async fn delivery_task(
    db: &PgPool,
    source: &str,
    id: &str,
    task: Uuid,
) -> Result<(), Error> {
    sqlx::query("UPDATE intake_deliveries SET task_id = $3 WHERE source = $1 AND delivery_id = $2")
        .bind(source)
        .bind(id)
        .bind(task)
        .execute(db)
        .await?;
    Ok(())
}

/// Audits a refused chat request (unknown user, too weak a role).
pub(crate) async fn audit_denied(
    db: &PgPool,
    actor: &str,
    source: &str,
    target: &str,
    reason: &str,
    detail: serde_json::Value,
) {
    let entry = Entry::new(actor, source, "intake.denied", target)
        .reason(Some(reason))
        .detail(detail);
    if let Err(e) = audit::append(db, &entry).await {
        tracing::warn!(error = %e, "intake refusal not audited");
    }
}

/// What running a command came to.
pub(crate) enum Outcome {
    /// A task was created: the caller opens its thread with the progress message.
    Created(Box<TaskSnapshot>),
    /// A reply to send as it is.
    Reply(String),
}

/// Runs `command` as `who`, checking its role first. Errors are the API's own, whose
/// `Display` is the reply.
pub(crate) async fn execute(
    state: &IntakeState,
    who: &Principal,
    command: Command,
) -> Result<Outcome, Error> {
    execute_with(state, who, command, None).await
}

/// [`execute`], with task `options` (as the HTTP route takes them) for the task a `New` or
/// `Revise` command creates.
pub(crate) async fn execute_with(
    state: &IntakeState,
    who: &Principal,
    command: Command,
    options: Option<serde_json::Value>,
) -> Result<Outcome, Error> {
    let app = &state.app;
    if let Err(e) = who.require(command.required_role(), &format!("/{}", command.name())) {
        audit_denied(
            &app.ctx.db,
            &who.name,
            who.source,
            command.name(),
            &e.to_string(),
            serde_json::json!({ "role": who.role }),
        )
        .await;
        return Err(e);
    }
    match command {
        Command::Help => Ok(Outcome::Reply(kiln_intake::help_text(&state.aliases))),
        Command::New {
            template,
            name,
            brief,
        } => {
            let req = CreateTask {
                kind: TaskKind::NewApp,
                template: Some(template),
                name: Some(kiln_intake::command::project_name(&name)),
                project: None,
                brief,
                options,
            };
            create(app, who, req).await
        }
        Command::Revise { project, brief } => {
            let req = CreateTask {
                kind: TaskKind::Revision,
                template: None,
                name: None,
                project: Some(kiln_intake::command::project_name(&project)),
                brief,
                options,
            };
            create(app, who, req).await
        }
        Command::Status { task: Some(task) } => {
            let id = resolve_task(&app.ctx.db, &task).await?;
            let snapshot = report::snapshot(&app.ctx.db, id)
                .await?
                .ok_or(Error::TaskNotFound(id))?;
            Ok(Outcome::Reply(kiln_intake::progress_text(
                &snapshot,
                Surface::Telegram,
            )))
        }
        Command::Status { task: None } => {
            let ids: Vec<Uuid> = sqlx::query_scalar(
                "SELECT id FROM tasks WHERE finished_at IS NULL ORDER BY created_at DESC LIMIT 20",
            )
            .fetch_all(&app.ctx.db)
            .await?;
            let mut lines = Vec::new();
            for id in ids {
                if let Some(s) = report::snapshot(&app.ctx.db, id).await? {
                    lines.push(kiln_intake::summary_line(&s));
                }
            }
            Ok(Outcome::Reply(if lines.is_empty() {
                "Nothing is running.".to_owned()
            } else {
                format!("Running:\n{}", lines.join("\n"))
            }))
        }
        Command::Projects => {
            let projects = crate::queries::projects(&app.ctx.db).await?;
            if projects.is_empty() {
                return Ok(Outcome::Reply("No projects yet.".to_owned()));
            }
            let lines: Vec<String> = projects
                .iter()
                .take(50)
                .map(|p| match &p.deployment_url {
                    Some(url) => format!("{} ({}) - {url}", p.name, p.template),
                    None => format!("{} ({})", p.name, p.template),
                })
                .collect();
            Ok(Outcome::Reply(format!("Projects:\n{}", lines.join("\n"))))
        }
        Command::Answer { task, text } => {
            let id = resolve_task(&app.ctx.db, &task).await?;
            let open: Vec<Uuid> = kiln_store::people::clarifications(&app.ctx.db, id)
                .await?
                .into_iter()
                .filter(|c| c.answer.is_none())
                .map(|c| c.id)
                .collect();
            let answers = split_answers(&text, open.len());
            let req = AnswersRequest {
                answers: open
                    .into_iter()
                    .zip(answers)
                    .map(|(id, answer)| crate::people::Answer { id, answer })
                    .collect(),
            };
            crate::people::answer_task(app, who, id, &req).await?;
            state.wake.notify_one();
            Ok(Outcome::Reply(format!(
                "Thanks, task {} carries on.",
                short_id(id)
            )))
        }
        Command::Approve { task, reason } => {
            let id = resolve_task(&app.ctx.db, &task).await?;
            let req = ApproveRequest {
                actor: None,
                reason,
                budget: None,
            };
            let detail = crate::people::approve_task(app, who, id, &req).await?;
            state.wake.notify_one();
            Ok(Outcome::Reply(format!(
                "Approved task {}: {}.",
                short_id(id),
                kiln_intake::report::status_label(detail.summary.status)
            )))
        }
        Command::Reject { task, feedback } => {
            let id = resolve_task(&app.ctx.db, &task).await?;
            let detail = crate::people::reject_task(app, who, id, &feedback).await?;
            state.wake.notify_one();
            Ok(Outcome::Reply(format!(
                "Rejected task {}: {}.",
                short_id(id),
                kiln_intake::report::status_label(detail.summary.status)
            )))
        }
        Command::Cancel { task } => {
            let id = resolve_task(&app.ctx.db, &task).await?;
            crate::tasks::cancel(app, who, id).await?;
            state.wake.notify_one();
            Ok(Outcome::Reply(format!("Cancelled task {}.", short_id(id))))
        }
        Command::Pause { project, reason } => {
            let req = SetPause {
                paused: true,
                reason: Some(reason.unwrap_or_else(|| format!("paused from chat by {}", who.name))),
                project,
            };
            pause(state, who, &req).await
        }
        Command::Resume { project } => {
            let req = SetPause {
                paused: false,
                reason: None,
                project,
            };
            pause(state, who, &req).await
        }
    }
}

async fn create(app: &AppState, who: &Principal, req: CreateTask) -> Result<Outcome, Error> {
    let llm_enabled = app.config.llm.as_ref().is_some_and(|l| l.enabled());
    let new = validate::request(req, &app.catalog, app.config.max_brief_chars, llm_enabled)?;
    app.limits.take_task(who)?;
    let (detail, _) = crate::tasks::create(app, who, new, None).await?;
    let id = detail.summary.id;
    let snapshot = report::snapshot(&app.ctx.db, id)
        .await?
        .ok_or(Error::TaskNotFound(id))?;
    Ok(Outcome::Created(Box::new(snapshot)))
}

async fn pause(state: &IntakeState, who: &Principal, req: &SetPause) -> Result<Outcome, Error> {
    let (resumed, changed) = crate::pause::apply(&state.app.ctx, who, req).await?;
    let system = crate::system::SystemState {
        ctx: state.app.ctx.clone(),
        beats: Default::default(),
    };
    let (reached, _) = crate::pause::broadcast(&system).await;
    state.wake.notify_one();
    let what = req.project.as_deref().unwrap_or("everything");
    let text = match (req.paused, changed) {
        (true, true) => format!("Paused {what}; {} services heard it.", reached.len()),
        (true, false) => format!("{what} was already paused."),
        (false, true) => format!("Resumed {what}; {resumed} tasks carry on."),
        (false, false) => format!("{what} was not paused."),
    };
    Ok(Outcome::Reply(text))
}

/// Answers as typed: one per line when the task has several open questions and the lines
/// match them (a leading `1.` is dropped), otherwise the whole text for each.
fn split_answers(text: &str, questions: usize) -> Vec<String> {
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let rest = l.trim_start_matches(|c: char| c.is_ascii_digit());
            match rest.strip_prefix(['.', ')']) {
                Some(r) if rest.len() < l.len() => r.trim().to_owned(),
                _ => l.to_owned(),
            }
        })
        .collect();
    if questions > 1 && lines.len() == questions {
        lines
    } else {
        vec![text.trim().to_owned(); questions]
    }
}

/// A task id or an unambiguous prefix of one (the grammar checked its shape).
pub(crate) async fn resolve_task(db: &PgPool, reference: &str) -> Result<Uuid, Error> {
    if let Ok(id) = Uuid::parse_str(reference) {
        return Ok(id);
    }
    let prefix: String = reference
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect();
    let ids: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM tasks WHERE id::text LIKE $1 || '%' LIMIT 2")
            .bind(&prefix)
            .fetch_all(db)
            .await?;
    match ids.as_slice() {
        [id] => Ok(*id),
        [] => Err(Error::InvalidDecision(format!(
            "no task starts with {prefix}"
        ))),
        _ => Err(Error::InvalidDecision(format!(
            "more than one task starts with {prefix}; give more of its id"
        ))),
    }
}

/// The name a chat user acts under: their display name and their id, which they cannot
/// change (a display name can be set to anything, another member's included).
pub(crate) fn chat_actor(source: &str, user: &str, display: &str) -> String {
    if display == user {
        format!("{source}:{user}")
    } else {
        format!("{source}:{display}#{user}")
    }
}

/// The principal of a chat user. The name carries the user's id, which they cannot change
/// (a display name can be set to anything, another member's included), so the audit trail
/// and the self-approval check always tell people apart: `telegram:ada#111`.
pub(crate) fn chat_principal(
    source: &'static str,
    user: &str,
    display: &str,
    role: Role,
    request_id: &str,
) -> Principal {
    Principal {
        token_id: chat_token_id(source, user),
        name: chat_actor(source, user, display),
        role,
        source,
        request_id: request_id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_token_ids_are_stable_and_distinct() {
        assert_eq!(
            chat_token_id("telegram", "1"),
            chat_token_id("telegram", "1")
        );
        assert_ne!(
            chat_token_id("telegram", "1"),
            chat_token_id("telegram", "2")
        );
        assert_ne!(
            chat_token_id("telegram", "1"),
            chat_token_id("discord", "1")
        );
    }

    #[test]
    fn answers_split_by_line_only_when_they_match() {
        assert_eq!(split_answers("1. red\n2) blue", 2), vec!["red", "blue"]);
        assert_eq!(split_answers("red and blue", 2), vec!["red and blue"; 2]);
        assert_eq!(split_answers("just this", 1), vec!["just this"]);
    }
}
