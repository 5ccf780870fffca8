//! `GET /api/v1/system`: which replicas of which services are alive, how much work waits at
//! each stage, and what was dead-lettered, so an operator sees the pipeline's health on one
//! page.
//!
//! Liveness comes from the heartbeats every process publishes on core NATS
//! (`<prefix>.heartbeat.<service>`): the API subscribes when it starts and keeps the last beat
//! of each worker in memory, so the figures cost no database query and need no extra service.
//! Queue figures are JetStream consumer info of each stage's durable consumer; dead letters
//! are read from the DLQ stream.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt;
use kiln_contracts::{DeadLetter, Stage, StageName};
use kiln_runtime::Ctx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use tracing::instrument;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{Error, Problem};

/// Dead letters listed in full, newest first.
const RECENT_DEAD_LETTERS: usize = 20;
/// A worker not heard from for this long is forgotten (it shows as dead until then).
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Missed beats after which a replica counts as dead.
const MISSED_BEATS: u64 = 3;
/// Every service `kiln serve` runs, listed even before (or without) a replica beating.
pub(crate) const SERVICES: [&str; 8] = [
    "api", "planner", "codegen", "tester", "reviewer", "gate", "deployer", "indexer",
];

/// The health of the whole installation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SystemView {
    /// Every known service with its replicas, by name.
    pub services: Vec<ServiceView>,
    /// Work waiting at each stage's durable consumer, in pipeline order.
    pub stages: Vec<StageQueueView>,
    pub dead_letters: DeadLettersView,
    /// Whether the kill switch is on for everything (`/api/v1/system/pause` has the details).
    pub paused: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceView {
    pub service: String,
    /// Replicas that have sent a heartbeat recently, by worker name; empty when none runs.
    pub replicas: Vec<ReplicaView>,
}

/// One running process of a service, as its heartbeats describe it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReplicaView {
    /// Worker name, e.g. `codegen.2`.
    pub worker: String,
    /// When the process started (RFC 3339, as the replica reported it).
    pub started_at: String,
    /// When the API last received its heartbeat.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    /// Whether a beat arrived within three beat intervals.
    pub alive: bool,
    /// What the replica cannot do as configured, e.g. `dense retrieval is off, results are
    /// BM25 only: the embedding model file ... is missing`.
    pub warnings: Vec<String>,
}

/// Queue figures of one stage's durable consumer; null figures mean the consumer does not
/// exist yet (no replica of the stage's service has started).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StageQueueView {
    /// Stage name (`plan` ... `deploy`, and `index`).
    pub stage: String,
    /// Durable consumer name on the work stream.
    pub consumer: String,
    /// Work items waiting to be delivered.
    #[schema(required = true)]
    pub pending: Option<u64>,
    /// Work items delivered and not yet acknowledged (in progress).
    #[schema(required = true)]
    pub ack_pending: Option<u64>,
    /// Work items delivered more than once (a worker died or was slow).
    #[schema(required = true)]
    pub redelivered: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadLettersView {
    /// Dead letters kept in the DLQ stream.
    pub count: u64,
    /// The newest ones, newest first.
    pub recent: Vec<DeadLetterView>,
}

/// A message that exhausted its deliveries or failed permanently.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterView {
    pub stage: String,
    /// Task the message belonged to; empty when unknown.
    pub task_id: String,
    /// Why it was dead-lettered.
    pub reason: String,
    pub deliveries: u64,
    /// When it was dead-lettered.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
}

/// The last beat of one worker.
#[derive(Debug, Clone)]
struct Beat {
    started_at: String,
    beat_secs: u64,
    last_seen: OffsetDateTime,
    warnings: Vec<String>,
}

/// A heartbeat as `kiln_runtime` publishes it.
#[derive(Debug, Deserialize)]
struct BeatMessage {
    service: String,
    worker: String,
    #[serde(default)]
    started_at: String,
    beat_secs: u64,
    #[serde(default)]
    warnings: Vec<String>,
}

/// The last beat of every worker, by (service, worker).
#[derive(Debug, Default)]
pub(crate) struct Heartbeats(Mutex<HashMap<(String, String), Beat>>);

impl Heartbeats {
    fn record(&self, payload: &[u8], now: OffsetDateTime) {
        let beat: BeatMessage = match serde_json::from_slice(payload) {
            Ok(beat) => beat,
            Err(e) => {
                tracing::debug!(error = %e, "heartbeat not understood; ignored");
                return;
            }
        };
        let mut beats = self.0.lock().unwrap_or_else(|p| p.into_inner());
        beats.retain(|_, b| now - b.last_seen < FORGET_AFTER);
        beats.insert(
            (beat.service, beat.worker),
            Beat {
                started_at: beat.started_at,
                beat_secs: beat.beat_secs.max(1),
                last_seen: now,
                warnings: beat.warnings,
            },
        );
    }

    /// Workers heard from within three beats.
    pub(crate) fn alive_workers(&self, now: OffsetDateTime) -> Vec<String> {
        self.services(now)
            .into_iter()
            .flat_map(|s| s.replicas)
            .filter(|r| r.alive)
            .map(|r| r.worker)
            .collect()
    }

    fn services(&self, now: OffsetDateTime) -> Vec<ServiceView> {
        let beats = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut services: BTreeMap<String, Vec<ReplicaView>> = SERVICES
            .iter()
            .map(|s| ((*s).to_owned(), Vec::new()))
            .collect();
        for ((service, worker), beat) in beats.iter() {
            let horizon = Duration::from_secs(beat.beat_secs.saturating_mul(MISSED_BEATS));
            services
                .entry(service.clone())
                .or_default()
                .push(ReplicaView {
                    worker: worker.clone(),
                    started_at: beat.started_at.clone(),
                    last_seen: beat.last_seen,
                    alive: now - beat.last_seen <= horizon,
                    warnings: beat.warnings.clone(),
                });
        }
        services
            .into_iter()
            .map(|(service, mut replicas)| {
                replicas.sort_by(|a, b| a.worker.cmp(&b.worker));
                ServiceView { service, replicas }
            })
            .collect()
    }
}

#[derive(Clone)]
pub struct SystemState {
    pub(crate) ctx: Arc<Ctx>,
    pub(crate) beats: Arc<Heartbeats>,
}

/// The `/api/v1/system` route; starts listening to heartbeats until the API shuts down.
pub fn router(state: &AppState) -> Router {
    let beats = Arc::new(Heartbeats::default());
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::spawn(listen(
            state.ctx.clone(),
            beats.clone(),
            state.shutdown.clone(),
        ));
    } else {
        tracing::warn!("no async runtime; replica liveness will not be shown");
    }
    Router::new()
        .route("/api/v1/system", get(get_system))
        .route(
            "/api/v1/system/pause",
            get(crate::pause::get_pause).put(crate::pause::set_pause),
        )
        .route(
            "/api/v1/system/guards",
            get(crate::guards::get_guards).put(crate::guards::set_guard),
        )
        .with_state(SystemState {
            ctx: state.ctx.clone(),
            beats,
        })
}

/// Records every heartbeat until `shutdown`, resubscribing after a failure.
async fn listen(ctx: Arc<Ctx>, beats: Arc<Heartbeats>, shutdown: CancellationToken) {
    let subject = ctx.subjects.heartbeats();
    while !shutdown.is_cancelled() {
        match ctx.nats.subscribe(subject.clone()).await {
            Ok(mut sub) => loop {
                tokio::select! {
                    _ = shutdown.cancelled() => {
                        let _ = sub.unsubscribe().await;
                        return;
                    }
                    msg = sub.next() => match msg {
                        Some(msg) => beats.record(&msg.payload, OffsetDateTime::now_utc()),
                        None => break,
                    },
                }
            },
            Err(e) => tracing::warn!(error = %e, "cannot subscribe to heartbeats; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Show the health of the installation.
///
/// Services with their replicas (alive when a heartbeat arrived within three beat intervals),
/// work waiting and redelivered at each stage, and the newest dead letters.
#[utoipa::path(
    get,
    path = "/api/v1/system",
    tag = "system",
    responses(
        (status = 200, description = "Services, queues and dead letters", body = SystemView),
        (status = 503, description = "NATS is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all)]
pub async fn get_system(State(state): State<SystemState>) -> Result<Json<SystemView>, Error> {
    let services = state.beats.services(OffsetDateTime::now_utc());
    let stages = stage_queues(&state.ctx).await?;
    let dead_letters = dead_letters(&state.ctx).await?;
    let paused = kiln_store::control::paused(&state.ctx.db, None)
        .await?
        .is_some();
    Ok(Json(SystemView {
        services,
        stages,
        dead_letters,
        paused,
    }))
}

fn nats<E: std::fmt::Display>(context: &'static str) -> impl FnOnce(E) -> Error {
    move |e| Error::Nats {
        context,
        message: e.to_string(),
    }
}

async fn stage_queues(ctx: &Ctx) -> Result<Vec<StageQueueView>, Error> {
    let stream = ctx
        .js
        .get_stream(ctx.subjects.work_stream().name)
        .await
        .map_err(nats("work stream"))?;
    // Consumer names only; ack wait and deliveries do not matter here.
    let (wait, deliver) = (Duration::from_secs(30), 1);
    let consumers = Stage::all()
        .into_iter()
        .map(|s| {
            let spec = ctx.subjects.stage_consumer(s, wait, deliver);
            (s.name().to_owned(), spec.durable_name)
        })
        .chain(std::iter::once((
            "index".to_owned(),
            ctx.subjects.index_consumer(wait, deliver).durable_name,
        )));
    let mut out = Vec::new();
    for (stage, consumer) in consumers {
        let info = match stream.consumer_info(&consumer).await {
            Ok(info) => Some(info),
            Err(e) => {
                tracing::debug!(error = %e, consumer, "no consumer info");
                None
            }
        };
        out.push(StageQueueView {
            stage,
            consumer,
            pending: info.as_ref().map(|i| i.num_pending),
            ack_pending: info.as_ref().map(|i| i.num_ack_pending as u64),
            redelivered: info.as_ref().map(|i| i.num_redelivered as u64),
        });
    }
    Ok(out)
}

async fn dead_letters(ctx: &Ctx) -> Result<DeadLettersView, Error> {
    let mut stream = ctx
        .js
        .get_stream(ctx.subjects.dlq_stream().name)
        .await
        .map_err(nats("dead letter stream"))?;
    let state = stream
        .info()
        .await
        .map_err(nats("dead letter stream"))?
        .state
        .clone();
    let mut recent = Vec::new();
    if state.messages > 0 {
        let mut seq = state.last_sequence;
        // Deleted sequences are skipped; give up after a bounded number of lookups.
        let mut lookups = 0;
        while seq >= state.first_sequence.max(1)
            && recent.len() < RECENT_DEAD_LETTERS
            && lookups < RECENT_DEAD_LETTERS * 3
        {
            lookups += 1;
            match stream.get_raw_message(seq).await {
                Ok(msg) => match <DeadLetter as prost::Message>::decode(msg.payload.clone()) {
                    Ok(dl) => recent.push(DeadLetterView {
                        stage: Stage::try_from(dl.stage)
                            .map(|s| s.name())
                            .unwrap_or("unspecified")
                            .to_owned(),
                        task_id: dl.task_id,
                        reason: dl.reason,
                        deliveries: dl.deliveries,
                        time: msg.time,
                    }),
                    Err(e) => tracing::warn!(error = %e, seq, "undecodable dead letter; skipped"),
                },
                Err(e) => tracing::debug!(error = %e, seq, "dead letter not readable"),
            }
            seq -= 1;
        }
    }
    Ok(DeadLettersView {
        count: state.messages,
        recent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(service: &str, worker: &str, secs: u64) -> Vec<u8> {
        serde_json::json!({
            "service": service, "worker": worker,
            "started_at": "2026-01-01T00:00:00Z", "beat_secs": secs,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn replicas_are_alive_within_three_beats_and_forgotten_later() {
        let beats = Heartbeats::default();
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        beats.record(&beat("codegen", "codegen.2", 5), t0);
        beats.record(&beat("codegen", "codegen.1", 5), t0);
        beats.record(&beat("custom", "custom.1", 5), t0);
        beats.record(b"not json", t0);

        let at = |secs: u64| {
            let s = beats.services(t0 + Duration::from_secs(secs));
            s.into_iter()
                .map(|s| {
                    let r: Vec<_> = s
                        .replicas
                        .iter()
                        .map(|r| (r.worker.clone(), r.alive))
                        .collect();
                    (s.service, r)
                })
                .collect::<BTreeMap<_, _>>()
        };
        let now = at(15);
        assert_eq!(
            now["codegen"],
            [
                ("codegen.1".to_owned(), true),
                ("codegen.2".to_owned(), true)
            ]
        );
        assert!(
            now["api"].is_empty(),
            "known services are listed without replicas"
        );
        assert_eq!(
            now["custom"].len(),
            1,
            "unknown services that beat are listed"
        );
        assert!(!at(16)["codegen"][0].1, "dead after three missed beats");

        // A later beat of another worker forgets the long-silent ones.
        beats.record(
            &beat("api", "api.1", 5),
            t0 + FORGET_AFTER + Duration::from_secs(1),
        );
        let later = beats.services(t0 + FORGET_AFTER + Duration::from_secs(1));
        let codegen = later.iter().find(|s| s.service == "codegen").unwrap();
        assert!(codegen.replicas.is_empty());
    }
}
