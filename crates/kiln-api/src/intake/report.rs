//! The reporter: one progress message per task thread, edited in place as the task moves.
//!
//! Task events (a durable consumer `intake` on the events stream) only wake it; what it
//! shows is re-rendered from the database, and `task_threads.last_reported` holds the text
//! the chat last took. A thread whose chat API is down or rate limited simply stays behind
//! and is caught up on a later pass, so task work never waits for chat. Jira issues get
//! comments rather than one edited message (see [`super::jira`]). While a pause is in
//! force nothing is written; the next pass after the resume catches up.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer};
use futures::StreamExt;
use kiln_intake::report::{StageLine, TaskSnapshot};
use kiln_intake::{Surface, telegram as tg};
use kiln_store::TaskStatus;
use kiln_store::control;
use kiln_store::records;
use kiln_store::tasks as store;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::IntakeState;
use crate::error::Error;

/// Durable name of the events consumer the API replicas share.
pub const CONSUMER: &str = kiln_contracts::permissions::INTAKE_CONSUMER;
/// Passes run at least this often, for threads whose last attempt failed.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// Longest wait after a chat API failure.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What a task's progress text is rendered from, read from its records.
pub(crate) async fn snapshot(db: &PgPool, id: Uuid) -> Result<Option<TaskSnapshot>, Error> {
    let Some(task) = store::get_task(db, id).await? else {
        return Ok(None);
    };
    let kind = if task.kind == "revision" {
        "revise"
    } else {
        "new"
    };
    let mut s = TaskSnapshot::new(id, &task.project, &task.template, kind, task.status);
    s.status_reason = task.status_reason.clone();
    s.stages = records::stage_runs(db, id)
        .await?
        .iter()
        .map(StageLine::from)
        .collect();
    if task.status == TaskStatus::AwaitingClarification {
        s.questions = kiln_store::people::clarifications(db, id)
            .await?
            .into_iter()
            .filter(|c| c.answer.is_none())
            .map(|c| c.question)
            .collect();
    }
    if s.waiting().is_some() {
        s.awaiting_detail = task.status_reason.clone();
    }
    s.live_url = records::task_deployments(db, id)
        .await?
        .into_iter()
        .rev()
        .find(|d| d.status == "live")
        .map(|d| d.url);
    Ok(Some(s))
}

/// Follows task events and keeps every thread up to date until shutdown.
pub(crate) async fn run(state: IntakeState) {
    let shutdown = state.app.shutdown.clone();
    let client = state.app.config.telegram.client();
    let discord = state.app.config.discord.client();
    let jira = state.app.config.jira.client();
    tokio::spawn(follow_events(state.clone()));
    let mut backoff = Duration::ZERO;
    // Jira has its own backoff: a rate-limited Jira does not hold the chats back.
    let mut jira_after = tokio::time::Instant::now();
    loop {
        let wait = if backoff.is_zero() {
            SWEEP_EVERY
        } else {
            backoff
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = state.wake.notified(), if backoff.is_zero() => {}
            _ = tokio::time::sleep(wait) => {}
        }
        // Let a burst of events settle into one pass.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(discord) = &discord
            && let Err(e) = super::discord::sweep(&state, discord).await
        {
            tracing::warn!(error = %e, "discord threads not read; retrying");
        }
        if let Some(jira) = &jira
            && tokio::time::Instant::now() >= jira_after
        {
            match super::jira::sweep(&state, jira).await {
                Ok(None) => {}
                Ok(Some(wait)) => jira_after = tokio::time::Instant::now() + wait.min(MAX_BACKOFF),
                Err(e) => tracing::warn!(error = %e, "jira threads not read; retrying"),
            }
        }
        let Some(client) = &client else { continue };
        backoff = match sweep(&state, client).await {
            Ok(()) => Duration::ZERO,
            Err(Failure::Remote(e)) => {
                let next = e
                    .retry_after()
                    .unwrap_or_else(|| (backoff * 2).clamp(Duration::from_secs(1), MAX_BACKOFF));
                tracing::warn!(error = %e, retry_in = ?next, "telegram progress not reported; kept for later");
                next.min(MAX_BACKOFF)
            }
            Err(Failure::Store(e)) => {
                tracing::warn!(error = %e, "chat threads not read; retrying");
                Duration::from_secs(2)
            }
        };
    }
}

/// Why a pass over chat or tracker threads stopped: the remote service (`E`, worth a retry
/// later) or our own store.
pub(crate) enum Failure<E> {
    Remote(E),
    Store(Error),
}

impl<E> From<Error> for Failure<E> {
    fn from(e: Error) -> Self {
        Failure::Store(e)
    }
}

impl<E> From<sqlx::Error> for Failure<E> {
    fn from(e: sqlx::Error) -> Self {
        Failure::Store(e.into())
    }
}

impl<E> From<kiln_store::Error> for Failure<E> {
    fn from(e: kiln_store::Error) -> Self {
        Failure::Store(e.into())
    }
}

/// One pass over every open Telegram thread; stops at the first chat failure.
async fn sweep(state: &IntakeState, client: &tg::Client) -> Result<(), Failure<tg::Error>> {
    let db = &state.app.ctx.db;
    if control::paused(db, None).await?.is_some() {
        return Ok(());
    }
    let open: Vec<Uuid> = sqlx::query_scalar(
        "SELECT task_id FROM task_threads WHERE source = 'telegram' \
         AND NOT (detail ? 'final') ORDER BY created_at LIMIT 200",
    )
    .fetch_all(db)
    .await?;
    for task in open {
        report_one(state, client, task).await?;
    }
    Ok(())
}

/// Brings one task's Telegram message up to date: sends it when it was never sent, edits it
/// when its text changed. The thread's row stays locked meanwhile, so two replicas never
/// send the same message twice.
pub(crate) async fn report_one(
    state: &IntakeState,
    client: &tg::Client,
    task: Uuid,
) -> Result<(), Failure<tg::Error>> {
    let db = &state.app.ctx.db;
    let mut tx = db.begin().await?;
    let row = sqlx::query(
        "SELECT channel, message_id, last_reported FROM task_threads \
         WHERE task_id = $1 AND source = 'telegram' FOR UPDATE SKIP LOCKED",
    )
    .bind(task)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let channel: String = row.try_get("channel")?;
    let message_id: Option<String> = row.try_get("message_id")?;
    let last: Option<String> = row.try_get("last_reported")?;
    let Some(snapshot) = snapshot(db, task).await? else {
        return Ok(());
    };
    if control::paused(db, Some(&snapshot.project))
        .await?
        .is_some()
    {
        return Ok(());
    }
    let Ok(chat) = channel.parse::<i64>() else {
        tracing::warn!(%task, %channel, "telegram thread with an unreadable chat id dropped");
        mark(&mut tx, task, None, None, true).await?;
        tx.commit().await?;
        return Ok(());
    };
    let text = kiln_intake::progress_text(&snapshot, Surface::Telegram);
    let buttons = kiln_intake::buttons(&snapshot);
    let done = snapshot.status.is_terminal();
    let sent = match message_id.and_then(|m| m.parse::<i64>().ok()) {
        None => client.send_message(chat, &text, &buttons).await,
        Some(id) if last.as_deref() != Some(text.as_str()) => client
            .edit_message_text(chat, id, &text, &buttons)
            .await
            .map(|()| id),
        Some(_) => {
            if done {
                mark(&mut tx, task, None, None, true).await?;
                tx.commit().await?;
            }
            return Ok(());
        }
    };
    let message_id = match sent {
        Ok(id) => id,
        Err(e) if !retryable(&e) => {
            // The chat refused for good (the bot was removed, the message deleted): the
            // thread is closed rather than retried forever.
            tracing::warn!(%task, error = %e, "telegram thread closed");
            mark(&mut tx, task, None, None, true).await?;
            tx.commit().await?;
            return Ok(());
        }
        Err(e) => return Err(Failure::Remote(e)),
    };
    mark(&mut tx, task, Some(message_id), Some(&text), done).await?;
    tx.commit().await?;
    tracing::debug!(%task, status = %snapshot.status, "telegram progress reported");
    Ok(())
}

/// Whether a failed call may succeed later: transport errors, rate limits and the service's
/// own 5xx; anything else Telegram refused on the merits.
fn retryable(e: &tg::Error) -> bool {
    match e {
        tg::Error::Api { code, .. } => *code >= 500 || *code == 429,
        _ => true,
    }
}

async fn mark(
    conn: &mut sqlx::PgConnection,
    task: Uuid,
    message_id: Option<i64>,
    text: Option<&str>,
    done: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE task_threads SET message_id = COALESCE($2, message_id), \
         last_reported = COALESCE($3, last_reported), \
         detail = CASE WHEN $4 THEN detail || '{\"final\": true}'::jsonb ELSE detail END, \
         updated_at = now() WHERE task_id = $1 AND source = 'telegram'",
    )
    .bind(task)
    .bind(message_id.map(|m| m.to_string()))
    .bind(text)
    .bind(done)
    .execute(conn)
    .await?;
    Ok(())
}

/// Opens a task's Telegram thread in `chat`; the reporter sends its first message.
pub(crate) async fn open_thread(db: &PgPool, task: Uuid, chat: i64) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO task_threads (task_id, source, channel) VALUES ($1, 'telegram', $2) \
         ON CONFLICT (task_id, source) DO NOTHING",
    )
    .bind(task)
    .bind(chat.to_string())
    .execute(db)
    .await?;
    Ok(())
}

/// Wakes the reporter on every task event, reconnecting the consumer when it goes away.
async fn follow_events(state: IntakeState) {
    let shutdown = state.app.shutdown.clone();
    let mut delay = Duration::from_millis(200);
    while !shutdown.is_cancelled() {
        match follow(&state).await {
            Ok(()) => delay = Duration::from_millis(200),
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?delay, "task events not followed for chat");
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => {}
        }
    }
}

async fn follow(state: &IntakeState) -> Result<(), String> {
    let ctx = &state.app.ctx;
    let spec = ctx.subjects.events_stream();
    let stream = ctx
        .js
        .get_stream(&spec.name)
        .await
        .map_err(|e| e.to_string())?;
    let consumer: consumer::PullConsumer = stream
        .get_or_create_consumer(
            CONSUMER,
            consumer::pull::Config {
                durable_name: Some(CONSUMER.to_owned()),
                filter_subject: ctx.subjects.events_of(None),
                deliver_policy: consumer::DeliverPolicy::New,
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
    let shutdown = &state.app.shutdown;
    loop {
        let msg: Option<Result<jetstream::Message, _>> = tokio::select! {
            m = messages.next() => m,
            _ = shutdown.cancelled() => return Ok(()),
        };
        match msg {
            Some(Ok(msg)) => {
                // The thread's state is in Postgres; the event only says "look again".
                state.wake.notify_one();
                if let Err(e) = msg.ack_with(AckKind::Ack).await {
                    tracing::debug!(error = %e, "task event not acknowledged");
                }
            }
            Some(Err(e)) => tracing::warn!(error = %e, "task event not received"),
            None => return Ok(()),
        }
    }
}
