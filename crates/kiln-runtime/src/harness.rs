//! The delivery discipline of design.md §2, implemented once for every stage.
//!
//! A service supplies a [`Handler`]: `work` does the long part outside any transaction
//! (git, builds, tests, deploys; it must be safe to repeat), and `commit` writes its results
//! inside the harness's transaction. The harness owns everything around them:
//!
//! - one durable pull consumer per stage, shared by every replica (competing consumers);
//! - bounded concurrency: never more messages pulled than free handler slots;
//! - progress acks while `work` runs, so live work is never redelivered;
//! - the inbox row, the handler's records, the task status and the outbox rows of the next
//!   step in one Postgres transaction, then the ack; a duplicate delivery is acked and skipped;
//! - error classification: retryable errors NAK with exponential backoff, permanent errors
//!   and exhausted deliveries TERM, copy the message to `<prefix>.dlq.<stage>` and fail the
//!   task with the reason.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind};
use futures::StreamExt;
use kiln_contracts::headers as h;
use kiln_contracts::{ConsumerSpec, DeadLetter, IndexRequest, Stage, TaskEvent, WorkItem};
use kiln_store::TaskStatus;
use kiln_store::delivery::{self, OutboxMessage};
use kiln_store::people::{self, WaitKind};
use kiln_store::records::{self, RunKey};
use kiln_store::tasks::{self, Task};
use sqlx::PgConnection;
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::envelope::envelope;
use crate::{Ctx, Error};

/// A message type a handler can consume: it names its task and fix round.
pub trait WorkMessage: prost::Message + Default + Clone + Send + Sync + 'static {
    fn task_id(&self) -> &str;
    fn round(&self) -> u32;
}

impl WorkMessage for WorkItem {
    fn task_id(&self) -> &str {
        &self.task_id
    }
    fn round(&self) -> u32 {
        self.round
    }
}

impl WorkMessage for IndexRequest {
    fn task_id(&self) -> &str {
        &self.task_id
    }
    fn round(&self) -> u32 {
        0
    }
}

/// How a handler's failure should be treated.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth another delivery: a dependency was down, a timeout, a lost connection.
    #[error("{0}")]
    Retryable(String),
    /// Will fail the same way every time: bad input, an impossible request.
    #[error("{0}")]
    Permanent(String),
    /// Cannot go on without a person (a budget would be crossed): the work item is parked
    /// and runs again from the start of this stage once a person approves.
    #[error("{reason}")]
    Wait {
        kind: WaitKind,
        reason: String,
        detail: serde_json::Value,
    },
}

impl HandlerError {
    pub fn retryable(context: &str, err: &(dyn std::error::Error + 'static)) -> Self {
        Self::Retryable(format!("{context}: {}", error_chain(err)))
    }

    pub fn permanent(context: &str, err: &(dyn std::error::Error + 'static)) -> Self {
        Self::Permanent(format!("{context}: {}", error_chain(err)))
    }
}

impl From<kiln_store::Error> for HandlerError {
    fn from(e: kiln_store::Error) -> Self {
        if e.is_transient() {
            Self::retryable("database", &e)
        } else {
            Self::permanent("database", &e)
        }
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        kiln_store::Error::from(e).into()
    }
}

/// `outer: inner: innermost`, the way errors are logged and stored.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Where a handler is attached and what it does to the task while it runs.
#[derive(Debug, Clone)]
pub struct Binding {
    /// Name in stage runs, metrics and the inbox (`plan`, `codegen`, ..., `index`).
    pub name: &'static str,
    /// Pipeline stage, or `Unspecified` for work outside the pipeline (indexing).
    pub stage: Stage,
    /// Status the task takes while this stage works on it; `None` leaves it alone.
    pub active_status: Option<TaskStatus>,
    /// Skip work for tasks that already finished (cancelled, failed, ...). Pipeline stages
    /// do; bookkeeping such as indexing a commit still happens afterwards.
    pub skip_finished: bool,
}

/// One delivery of one work item, as a handler sees it.
pub struct Job<I> {
    pub input: I,
    pub task: Task,
    /// JetStream delivery count, 1 for the first delivery.
    pub attempt: i32,
    pub message_id: String,
    pub log: crate::tasklog::TaskLog,
}

/// Outcome of a stage run, for its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Succeeded,
    Failed,
    Skipped,
    Paused,
}

impl RunStatus {
    fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Skipped => "skipped",
            RunStatus::Paused => "paused",
        }
    }
}

/// A message set aside until a person decides (the task waits in `kind.status()`).
#[derive(Debug)]
pub struct Park {
    pub kind: WaitKind,
    pub message: OutboxMessage,
    /// What the person needs to decide (figures, questions), shown by the API.
    pub detail: serde_json::Value,
}

/// What `commit` decided: the task's new status and the messages of the next step.
#[derive(Debug)]
pub struct Next {
    pub status: Option<(TaskStatus, Option<String>)>,
    pub run: RunStatus,
    pub summary: String,
    pub messages: Vec<OutboxMessage>,
    /// A step to hold until a person decides; the task status becomes the wait's status.
    pub park: Option<Park>,
}

impl Next {
    /// The stage succeeded and hands work on.
    pub fn advance(summary: impl Into<String>, messages: Vec<OutboxMessage>) -> Self {
        Self {
            status: None,
            run: RunStatus::Succeeded,
            summary: summary.into(),
            messages,
            park: None,
        }
    }

    /// The stage is done but the next step waits for a person.
    pub fn wait(summary: impl Into<String>, park: Park, reason: impl Into<String>) -> Self {
        Self {
            status: Some((park.kind.status(), Some(reason.into()))),
            run: RunStatus::Succeeded,
            summary: summary.into(),
            messages: vec![],
            park: Some(park),
        }
    }
}

/// A stage's logic. See the module docs for the split between `work` and `commit`.
pub trait Handler: Send + Sync + 'static {
    type Input: WorkMessage;
    type Output: Send + 'static;

    fn binding(&self) -> Binding;

    /// The consumer this handler pulls from: by default its stage's shared durable
    /// consumer, or the indexing consumer for work outside the pipeline.
    fn consumer(&self, cx: &Ctx) -> ConsumerSpec {
        let ack_wait = std::time::Duration::from_secs(cx.config.ack_wait_secs);
        match self.binding().stage {
            Stage::Unspecified => cx.subjects.index_consumer(ack_wait, cx.config.max_deliver),
            stage => cx
                .subjects
                .stage_consumer(stage, ack_wait, cx.config.max_deliver),
        }
    }

    /// Long work, outside any transaction. Must be safe to run again for the same input.
    fn work(
        &self,
        cx: &Ctx,
        job: &Job<Self::Input>,
    ) -> impl Future<Output = Result<Self::Output, HandlerError>> + Send;

    /// Writes the results inside the harness's transaction and says what comes next.
    fn commit(
        &self,
        tx: &mut PgConnection,
        cx: &Ctx,
        job: &Job<Self::Input>,
        output: Self::Output,
    ) -> impl Future<Output = Result<Next, HandlerError>> + Send;
}

enum Disposition {
    Ack(&'static str),
    Nak(Duration, &'static str),
    Term(&'static str),
}

/// Runs `handler` until `shutdown`, then lets in-flight work finish for the grace period.
pub async fn run<H: Handler>(
    cx: Arc<Ctx>,
    handler: H,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let handler = Arc::new(handler);
    let spec = handler.consumer(&cx);
    let consumer = crate::nats::ensure_consumer(&cx.js, &spec).await?;
    let binding = handler.binding();
    let slots = Arc::new(Semaphore::new(cx.config.concurrency.max(1)));
    // In-flight work gets the grace period after shutdown; then it is interrupted and NAKed.
    let hard_stop = CancellationToken::new();
    let mut inflight = JoinSet::new();
    tracing::info!(stage = binding.name, consumer = %spec.durable_name, "consuming");

    while !shutdown.is_cancelled() {
        let first = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.map_err(|_| Error::Closed)?,
            _ = shutdown.cancelled() => break,
        };
        let mut permits = vec![first];
        while let Ok(p) = slots.clone().try_acquire_owned() {
            permits.push(p);
        }
        let batch = consumer
            .batch()
            .max_messages(permits.len())
            .expires(Duration::from_secs(2))
            .messages()
            .await;
        let mut messages = match batch {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, stage = binding.name, "pull failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = shutdown.cancelled() => break,
                }
            }
        };
        loop {
            let next = tokio::select! {
                next = messages.next() => next,
                _ = shutdown.cancelled() => break,
            };
            match next {
                Some(Ok(msg)) => {
                    let Some(permit) = permits.pop() else { break };
                    let (cx, handler, binding, hard_stop) = (
                        cx.clone(),
                        handler.clone(),
                        binding.clone(),
                        hard_stop.clone(),
                    );
                    inflight.spawn(async move {
                        handle(&cx, &*handler, &binding, msg, hard_stop).await;
                        drop(permit);
                    });
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "batch ended");
                    break;
                }
                None => break,
            }
        }
        while inflight.try_join_next().is_some() {}
    }

    let grace = Duration::from_secs(cx.config.shutdown_grace_secs);
    if !inflight.is_empty() {
        tracing::info!(
            stage = binding.name,
            in_flight = inflight.len(),
            "finishing in-flight work"
        );
    }
    if tokio::time::timeout(grace, async {
        while inflight.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        hard_stop.cancel();
        while inflight.join_next().await.is_some() {}
    }
    Ok(())
}

async fn handle<H: Handler>(
    cx: &Ctx,
    handler: &H,
    binding: &Binding,
    msg: jetstream::Message,
    hard_stop: CancellationToken,
) {
    let (attempt, seq) = match msg.info() {
        Ok(info) => (info.delivered as i32, info.stream_sequence),
        Err(_) => (1, 0),
    };
    let header = |name: &str| {
        msg.headers
            .as_ref()
            .and_then(|hm| hm.get(name))
            .map(|v| v.as_str().to_owned())
    };
    let message_id = header(h::MSG_ID).unwrap_or_else(|| format!("seq-{seq}"));
    let span = tracing::info_span!(
        "handle",
        stage = binding.name,
        attempt,
        message_id = %message_id,
        task_id = tracing::field::Empty
    );
    crate::telemetry::adopt_parent(&span, msg.headers.as_ref());
    let started = Instant::now();
    let msg = Arc::new(msg);
    // The whole handling, acknowledgement included, runs inside the span; an `enter()`
    // guard held across these awaits would corrupt span state when the task moves threads.
    let outcome = async {
        let disposition = process(cx, handler, binding, &msg, attempt, message_id, hard_stop).await;
        let (result, outcome) = match disposition {
            Disposition::Ack(outcome) => (msg.double_ack().await, outcome),
            Disposition::Nak(delay, outcome) => {
                (msg.ack_with(AckKind::Nak(Some(delay))).await, outcome)
            }
            Disposition::Term(outcome) => (msg.ack_with(AckKind::Term).await, outcome),
        };
        if let Err(e) = result {
            // The inbox makes the redelivery that follows harmless.
            tracing::warn!(error = %e, outcome, "acknowledgement failed; the message will be redelivered");
        }
        outcome
    }
    .instrument(span)
    .await;
    cx.metrics
        .messages
        .with_label_values(&[binding.name, outcome])
        .inc();
    cx.metrics
        .handle_seconds
        .with_label_values(&[binding.name])
        .observe(started.elapsed().as_secs_f64());
}

async fn process<H: Handler>(
    cx: &Ctx,
    handler: &H,
    binding: &Binding,
    msg: &Arc<jetstream::Message>,
    attempt: i32,
    message_id: String,
    hard_stop: CancellationToken,
) -> Disposition {
    let header_task = msg
        .headers
        .as_ref()
        .and_then(|hm| hm.get(h::TASK_ID))
        .map(|v| v.as_str().to_owned());
    let input = match <H::Input as prost::Message>::decode(msg.payload.clone()) {
        Ok(input) => input,
        Err(e) => {
            let reason = format!("undecodable {} work item: {e}", binding.name);
            let task = header_task.as_deref().and_then(|t| Uuid::parse_str(t).ok());
            return dead_letter(cx, binding, msg, attempt, &message_id, task, 0, reason).await;
        }
    };
    let Ok(task_id) = Uuid::parse_str(input.task_id()) else {
        let reason = format!("work item names no valid task id: {:?}", input.task_id());
        return dead_letter(cx, binding, msg, attempt, &message_id, None, 0, reason).await;
    };
    tracing::Span::current().record("task_id", tracing::field::display(task_id));
    let round = input.round() as i32;

    match delivery::inbox_contains(&cx.db, binding.name, &message_id).await {
        Ok(true) => return Disposition::Ack("duplicate"),
        Ok(false) => {}
        Err(e) => return retry_later(cx, attempt, "inbox lookup", &e),
    }
    let task = match tasks::get_task(&cx.db, task_id).await {
        Ok(Some(task)) => task,
        Ok(None) => {
            let reason = format!("unknown task {task_id}");
            return dead_letter(cx, binding, msg, attempt, &message_id, None, round, reason).await;
        }
        Err(e) => return retry_later(cx, attempt, "task lookup", &e),
    };
    if binding.skip_finished && task.status.is_terminal() {
        tracing::info!(status = %task.status, "task already finished; skipping");
        return Disposition::Ack("skipped");
    }
    if attempt as i64 > cx.config.max_deliver {
        let reason = format!(
            "{} gave up after {} deliveries; the worker stopped each time before finishing",
            binding.name, cx.config.max_deliver
        );
        return dead_letter(
            cx,
            binding,
            msg,
            attempt,
            &message_id,
            Some(task_id),
            round,
            reason,
        )
        .await;
    }

    let key = RunKey {
        task_id,
        stage: binding.name,
        round,
        attempt,
    };
    // The kill switch: nothing new starts while paused. Pipeline work parks as it would for a
    // person and runs again from the start of this stage when the pause is lifted.
    if binding.skip_finished {
        match kiln_store::control::paused(&cx.db, Some(&task.project)).await {
            Ok(None) => {}
            Ok(Some(flag)) => {
                let (reason, detail) = crate::control::pause_reason(Some(&task.project), &flag);
                tracing::info!(%reason, "paused; parking the work item");
                if let Err(e) = begin_run(cx, binding, key, &task).await {
                    return retry_later(cx, attempt, "stage start", &e);
                }
                return match park_current(
                    cx,
                    binding,
                    msg,
                    key,
                    &message_id,
                    WaitKind::Paused,
                    &reason,
                    &detail,
                )
                .await
                {
                    Ok(()) => Disposition::Ack("paused"),
                    Err(e) => retry_later(cx, attempt, "parking work", &e),
                };
            }
            Err(e) => return retry_later(cx, attempt, "pause flags", &e),
        }
    }
    if let Err(e) = begin_run(cx, binding, key, &task).await {
        return retry_later(cx, attempt, "stage start", &e);
    }

    let job = Job {
        log: cx.task_log(&task.id.to_string(), binding.stage),
        input,
        task,
        attempt,
        message_id,
    };
    let progress = tokio::spawn(keep_alive(msg.clone(), cx.config.ack_wait_secs));
    let worked = tokio::select! {
        out = handler.work(cx, &job) => Some(out),
        _ = hard_stop.cancelled() => None,
    };
    progress.abort();
    let Some(worked) = worked else {
        let _ = records::finish_stage_run(&cx.db, key, "interrupted", "service shut down mid-work")
            .await;
        return Disposition::Nak(Duration::ZERO, "interrupted");
    };

    let failure = match worked {
        Ok(output) => match commit(cx, handler, binding, key, &job, output).await {
            Ok(true) => return Disposition::Ack("ok"),
            Ok(false) => return Disposition::Ack("duplicate"),
            Err(e) => e,
        },
        Err(e) => e,
    };
    match failure {
        HandlerError::Wait {
            kind,
            reason,
            detail,
        } => {
            job.log
                .warn(format!("waiting for a person: {reason}"))
                .await;
            match park_current(
                cx,
                binding,
                msg,
                key,
                &job.message_id,
                kind,
                &reason,
                &detail,
            )
            .await
            {
                Ok(()) => Disposition::Ack("waiting"),
                Err(e) => retry_later(cx, attempt, "parking work", &e),
            }
        }
        HandlerError::Retryable(reason) if (attempt as i64) < cx.config.max_deliver => {
            let delay = backoff(cx.config.retry_base_ms, attempt);
            job.log
                .warn(format!(
                    "{} attempt {attempt} failed, retrying in {delay:?}: {reason}",
                    binding.name
                ))
                .await;
            let _ =
                records::finish_stage_run(&cx.db, key, "failed", &format!("retrying: {reason}"))
                    .await;
            Disposition::Nak(delay, "retry")
        }
        HandlerError::Retryable(reason) => {
            let reason = format!("{} failed after {attempt} attempts: {reason}", binding.name);
            job.log.error(reason.clone()).await;
            dead_letter(
                cx,
                binding,
                msg,
                attempt,
                &job.message_id,
                Some(task_id),
                round,
                reason,
            )
            .await
        }
        HandlerError::Permanent(reason) => {
            let reason = format!("{} failed: {reason}", binding.name);
            job.log.error(reason.clone()).await;
            dead_letter(
                cx,
                binding,
                msg,
                attempt,
                &job.message_id,
                Some(task_id),
                round,
                reason,
            )
            .await
        }
    }
}

/// Exponential backoff from `base_ms`, doubling per delivery, capped at a minute.
pub fn backoff(base_ms: u64, attempt: i32) -> Duration {
    let exp = (attempt.max(1) - 1).min(16) as u32;
    Duration::from_millis(base_ms.saturating_mul(1u64 << exp).min(60_000))
}

async fn keep_alive(msg: Arc<jetstream::Message>, ack_wait_secs: u64) {
    let every = Duration::from_millis((ack_wait_secs * 1000 / 3).max(200));
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = msg.ack_with(AckKind::Progress).await {
            tracing::debug!(error = %e, "progress ack failed");
        }
    }
}

fn retry_later(cx: &Ctx, attempt: i32, what: &str, err: &kiln_store::Error) -> Disposition {
    tracing::warn!(error = %error_chain(err), what, "infrastructure error; retrying");
    Disposition::Nak(backoff(cx.config.retry_base_ms, attempt), "retry")
}

async fn begin_run(
    cx: &Ctx,
    binding: &Binding,
    key: RunKey<'_>,
    task: &Task,
) -> Result<(), kiln_store::Error> {
    let mut tx = cx.db.begin().await?;
    records::start_stage_run(&mut tx, key, &cx.worker).await?;
    let status = match binding.active_status {
        Some(status) if status != task.status => {
            tasks::set_status(&mut *tx, key.task_id, status, None).await?;
            status
        }
        _ => task.status,
    };
    let summary = format!(
        "{} started (round {}, attempt {})",
        binding.name, key.round, key.attempt
    );
    delivery::enqueue(
        &mut *tx,
        &cx.event_message(
            key.task_id,
            "stage_started",
            status,
            binding.stage,
            key.round,
            &summary,
        ),
    )
    .await?;
    tx.commit().await?;
    cx.relay.wake();
    Ok(())
}

/// Returns false when the message turned out to be a duplicate.
async fn commit<H: Handler>(
    cx: &Ctx,
    handler: &H,
    binding: &Binding,
    key: RunKey<'_>,
    job: &Job<H::Input>,
    output: H::Output,
) -> Result<bool, HandlerError> {
    let mut tx = cx.db.begin().await?;
    if !delivery::record_inbox(&mut tx, binding.name, &job.message_id).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    let current = tasks::lock_task(&mut tx, key.task_id).await?;
    if current.is_none() || (binding.skip_finished && current.is_some_and(TaskStatus::is_terminal))
    {
        let status = current
            .map(|s| s.to_string())
            .unwrap_or_else(|| "gone".into());
        let summary = format!(
            "task became {status} while {} worked; results not applied",
            binding.name
        );
        records::finish_stage_run(&mut *tx, key, RunStatus::Skipped.as_str(), &summary).await?;
        tx.commit().await?;
        job.log.info(summary).await;
        return Ok(true);
    }
    let next = handler.commit(&mut tx, cx, job, output).await?;
    records::finish_stage_run(&mut *tx, key, next.run.as_str(), &next.summary).await?;
    let event_kind = match next.run {
        RunStatus::Failed => "stage_failed",
        _ => "stage_finished",
    };
    let mut status_now = current.unwrap_or(job.task.status);
    if let Some((status, reason)) = &next.status {
        tasks::set_status(&mut *tx, key.task_id, *status, reason.as_deref()).await?;
        status_now = *status;
    }
    delivery::enqueue(
        &mut *tx,
        &cx.event_message(
            key.task_id,
            event_kind,
            status_now,
            binding.stage,
            key.round,
            &next.summary,
        ),
    )
    .await?;
    for m in &next.messages {
        delivery::enqueue(&mut *tx, m).await?;
    }
    if let Some(park) = &next.park {
        people::park(
            &mut *tx,
            key.task_id,
            park.kind,
            &park.message.subject,
            &park.message.payload,
            &park.detail,
        )
        .await?;
    }
    if status_now.is_terminal() {
        remember_lessons(&mut tx, job.task.project_id, key.task_id).await?;
    }
    tx.commit().await?;
    cx.relay.wake();
    Ok(true)
}

/// A finished task leaves its lessons in the project's memory.
async fn remember_lessons(
    tx: &mut PgConnection,
    project_id: Uuid,
    task_id: Uuid,
) -> Result<(), kiln_store::Error> {
    let lessons = kiln_store::memory::derive(&mut *tx, task_id).await?;
    if !lessons.is_empty() {
        kiln_store::memory::remember(tx, project_id, Some(task_id), &lessons).await?;
    }
    Ok(())
}

/// Parks the message being handled: the stage runs again from its start after approval.
#[allow(clippy::too_many_arguments)]
async fn park_current(
    cx: &Ctx,
    binding: &Binding,
    msg: &jetstream::Message,
    key: RunKey<'_>,
    message_id: &str,
    kind: WaitKind,
    reason: &str,
    detail: &serde_json::Value,
) -> Result<(), kiln_store::Error> {
    let mut tx = cx.db.begin().await?;
    if !delivery::record_inbox(&mut tx, binding.name, message_id).await? {
        tx.rollback().await?;
        return Ok(());
    }
    people::park(
        &mut *tx,
        key.task_id,
        kind,
        &msg.subject,
        &msg.payload,
        detail,
    )
    .await?;
    records::finish_stage_run(&mut *tx, key, RunStatus::Paused.as_str(), reason).await?;
    let status = kind.status();
    if tasks::set_status(&mut *tx, key.task_id, status, Some(reason)).await? {
        delivery::enqueue(
            &mut *tx,
            &cx.event_message(
                key.task_id,
                "waiting",
                status,
                binding.stage,
                key.round,
                reason,
            ),
        )
        .await?;
    }
    tx.commit().await?;
    cx.relay.wake();
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn dead_letter(
    cx: &Ctx,
    binding: &Binding,
    msg: &jetstream::Message,
    attempt: i32,
    message_id: &str,
    task_id: Option<Uuid>,
    round: i32,
    reason: String,
) -> Disposition {
    tracing::error!(reason = %reason, "dead-lettering work item");
    let letter = DeadLetter {
        stage: binding.stage as i32,
        subject: msg.subject.to_string(),
        payload: msg.payload.to_vec(),
        reason: reason.clone(),
        deliveries: attempt as u64,
        task_id: task_id.map(|t| t.to_string()).unwrap_or_default(),
        message_id: message_id.to_owned(),
    };
    let dlq_subject = match binding.stage {
        Stage::Unspecified => cx.subjects.dlq_index(),
        stage => cx.subjects.dlq(stage),
    };
    let task_str = task_id.map(|t| t.to_string());
    let stored = async {
        let mut tx = cx.db.begin().await?;
        delivery::record_inbox(&mut tx, binding.name, message_id).await?;
        delivery::enqueue(
            &mut *tx,
            &envelope(
                dlq_subject,
                h::types::DEAD_LETTER,
                cx.service,
                task_str.as_deref(),
                &letter,
            ),
        )
        .await?;
        if let Some(task_id) = task_id {
            let key = RunKey {
                task_id,
                stage: binding.name,
                round,
                attempt,
            };
            records::finish_stage_run(&mut *tx, key, "failed", &reason).await?;
            if binding.active_status.is_some()
                && tasks::set_status(&mut *tx, task_id, TaskStatus::Failed, Some(&reason)).await?
            {
                delivery::enqueue(
                    &mut *tx,
                    &cx.event_message(
                        task_id,
                        "failed",
                        TaskStatus::Failed,
                        binding.stage,
                        round,
                        &reason,
                    ),
                )
                .await?;
                if let Some(task) = tasks::get_task(&mut *tx, task_id).await? {
                    remember_lessons(&mut tx, task.project_id, task_id).await?;
                }
            }
        }
        tx.commit().await?;
        Ok::<_, kiln_store::Error>(())
    }
    .await;
    match stored {
        Ok(()) => {
            cx.relay.wake();
            Disposition::Term("dead_letter")
        }
        Err(e) => retry_later(cx, attempt, "dead-letter", &e),
    }
}

impl Ctx {
    /// A work item for the stage it names, ready for the outbox.
    pub fn work_message(&self, item: &WorkItem) -> OutboxMessage {
        envelope(
            self.subjects.work(item.stage()),
            h::types::WORK,
            self.service,
            Some(&item.task_id),
            item,
        )
    }

    /// An indexing request, ready for the outbox.
    pub fn index_message(&self, req: &IndexRequest) -> OutboxMessage {
        envelope(
            self.subjects.index(&req.project),
            h::types::INDEX,
            self.service,
            Some(&req.task_id),
            req,
        )
    }

    /// A lifecycle event, ready for the outbox.
    pub fn event_message(
        &self,
        task_id: Uuid,
        kind: &str,
        status: TaskStatus,
        stage: Stage,
        round: i32,
        summary: &str,
    ) -> OutboxMessage {
        let task = task_id.to_string();
        let event = TaskEvent {
            task_id: task.clone(),
            kind: kind.to_owned(),
            status: status.as_str().to_owned(),
            stage: stage as i32,
            summary: summary.to_owned(),
            time_unix_ms: (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
            round: round.max(0) as u32,
        };
        envelope(
            self.subjects.event(&task, kind),
            h::types::EVENT,
            self.service,
            Some(&task),
            &event,
        )
    }

    /// Live log lines for `task_id`, written as this service.
    pub fn task_log(&self, task_id: &str, stage: Stage) -> crate::tasklog::TaskLog {
        crate::tasklog::TaskLog::new(
            self.js.clone(),
            &self.subjects,
            task_id,
            self.service,
            stage,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(500, 1), Duration::from_millis(500));
        assert_eq!(backoff(500, 2), Duration::from_millis(1000));
        assert_eq!(backoff(500, 4), Duration::from_millis(4000));
        assert_eq!(backoff(500, 40), Duration::from_secs(60));
        assert_eq!(backoff(500, 0), Duration::from_millis(500));
    }

    #[test]
    fn error_chain_joins_sources_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::other("disk full"));
        assert_eq!(error_chain(&e), "outer: disk full");
    }
}
