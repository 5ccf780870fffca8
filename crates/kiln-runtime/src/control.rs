//! The kill switch as every service sees it.
//!
//! The flags live in Postgres (`kiln_store::control`) and are read before every side effect
//! ([`Ctx::pause_point`]), so a service that missed a broadcast still honours a pause. The
//! broadcast on `<prefix>.control.pause` makes every service learn of a change at once: each
//! re-reads the flags, logs the change and replies with its worker name.

use std::sync::{Arc, RwLock};

use futures::StreamExt;
use kiln_store::control::{PauseFlag, PauseState};
use kiln_store::people::WaitKind;
use tokio_util::sync::CancellationToken;

use crate::Ctx;
use crate::harness::HandlerError;

/// The pause state this process last read (for metrics and logs; decisions read Postgres).
#[derive(Debug, Default, Clone)]
pub struct PauseView(Arc<RwLock<PauseState>>);

impl PauseView {
    pub fn get(&self) -> PauseState {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, state: PauseState) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = state;
    }
}

/// What a service answers to a pause broadcast.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PauseAck {
    pub service: String,
    pub worker: String,
    /// Whether this service now sees a global pause.
    pub paused: bool,
}

impl Ctx {
    /// Returns a wait when `project` (or everything) is paused: the caller is about to start
    /// a side effect (a model call, a push, a deploy, an external write) and must not.
    pub async fn pause_point(&self, project: Option<&str>) -> Result<(), HandlerError> {
        match kiln_store::control::paused(&self.db, project).await? {
            None => Ok(()),
            Some(flag) => Err(paused_wait(project, &flag)),
        }
    }
}

/// Why work waits, and what the task record shows about the pause.
pub fn pause_reason(project: Option<&str>, flag: &PauseFlag) -> (String, serde_json::Value) {
    (
        format!("paused by {}: {}", flag.actor, flag.reason),
        serde_json::json!({
            "paused_by": flag.actor,
            "reason": flag.reason,
            "project": project,
        }),
    )
}

/// The wait a paused side effect turns into.
pub fn paused_wait(project: Option<&str>, flag: &PauseFlag) -> HandlerError {
    let (reason, detail) = pause_reason(project, flag);
    HandlerError::Wait {
        kind: WaitKind::Paused,
        reason,
        detail,
    }
}

/// Follows the pause broadcast until `stop`: re-reads the flags, answers with this worker.
pub(crate) async fn listen(cx: Arc<Ctx>, stop: CancellationToken) {
    let mut sub = match cx.nats.subscribe(cx.subjects.control_pause()).await {
        Ok(sub) => sub,
        Err(e) => {
            tracing::warn!(error = %e, "pause broadcast not followed; flags are still read before every side effect");
            return;
        }
    };
    refresh(&cx).await;
    loop {
        let msg = tokio::select! {
            m = sub.next() => match m { Some(m) => m, None => return },
            _ = stop.cancelled() => return,
        };
        let state = refresh(&cx).await;
        if let Some(reply) = msg.reply {
            let ack = PauseAck {
                service: cx.service.to_owned(),
                worker: cx.worker.clone(),
                paused: state.is_some_and(|s| s.global.is_some()),
            };
            let body = serde_json::to_vec(&ack).expect("an ack serialises");
            if let Err(e) = cx.nats.publish(reply, body.into()).await {
                tracing::debug!(error = %e, "pause acknowledgement not sent");
            }
        }
    }
}

async fn refresh(cx: &Ctx) -> Option<PauseState> {
    match kiln_store::control::state(&cx.db).await {
        Ok(state) => {
            let before = cx.pause.get();
            if before != state {
                tracing::warn!(
                    global = state.global.is_some(),
                    projects = state.projects.len(),
                    "pause state changed"
                );
            }
            cx.pause.set(state.clone());
            Some(state)
        }
        Err(e) => {
            tracing::warn!(error = %e, "pause flags not read");
            None
        }
    }
}
