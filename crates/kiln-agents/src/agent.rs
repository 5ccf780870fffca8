//! The stages' handle on a model: redacts, meters (budgets), asks for structured output and
//! repairs it once, and turns every failure into a clear outcome for the harness.

use std::sync::Arc;

use kiln_llm::{
    BudgetExceeded, CallContext, ChatRequest, ChatResponse, FinishReason, JsonSchema, Message,
    Metered,
};
use kiln_runtime::HandlerError;
use kiln_store::people::{BudgetOptions, WaitKind};
use serde::de::DeserializeOwned;

use crate::prompts::invalid_output;
use crate::redact::Redactor;

/// Why an ask did not produce a usable answer.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A budget limit would be crossed: the task waits for a person to raise it.
    #[error("{}", budget_reason(.0))]
    Budget(BudgetExceeded),
    /// The kill switch is on: the task parks until the pause is lifted.
    #[error("paused by {actor}: {reason}")]
    Paused { actor: String, reason: String },
    /// The model (and its fallbacks) could not be reached or kept failing.
    #[error("model unavailable: {0}")]
    Unavailable(String),
    /// The request can never succeed as built (too large for the context window, refused).
    #[error("model request refused: {0}")]
    Refused(String),
    /// The model's output stayed invalid after a repair attempt.
    #[error("model output invalid after a repair attempt: {0}")]
    Invalid(String),
}

fn budget_reason(b: &BudgetExceeded) -> String {
    match b.limit {
        "cost_usd" => format!(
            "budget paused the task: the next model call needs ${:.4} more but ${:.4} of ${:.4} is used",
            b.needed, b.used, b.max
        ),
        limit => format!(
            "budget paused the task: the next model call needs {} more {limit} but {} of {} are used",
            b.needed, b.used, b.max
        ),
    }
}

impl From<AgentError> for HandlerError {
    fn from(e: AgentError) -> Self {
        match e {
            AgentError::Budget(b) => HandlerError::Wait {
                kind: WaitKind::BudgetApproval,
                reason: budget_reason(&b),
                detail: serde_json::json!({"limit": b.limit, "used": b.used, "needed": b.needed, "max": b.max}),
            },
            AgentError::Paused { actor, reason } => HandlerError::Wait {
                kind: WaitKind::Paused,
                reason: format!("paused by {actor}: {reason}"),
                detail: serde_json::json!({"paused_by": actor, "reason": reason}),
            },
            AgentError::Unavailable(m) => {
                HandlerError::Retryable(format!("model unavailable: {m}"))
            }
            e @ (AgentError::Refused(_) | AgentError::Invalid(_)) => {
                HandlerError::Permanent(e.to_string())
            }
        }
    }
}

fn classify(e: kiln_llm::Error) -> AgentError {
    match e {
        kiln_llm::Error::Budget(b) => AgentError::Budget(b),
        kiln_llm::Error::Paused { actor, reason } => AgentError::Paused { actor, reason },
        e if e.is_retryable() => AgentError::Unavailable(e.summary()),
        kiln_llm::Error::Malformed { .. } => AgentError::Invalid(e.summary()),
        e => AgentError::Refused(e.summary()),
    }
}

/// The limits of one task: its own `options.budget` over the configured defaults.
pub fn budget_for(
    options: Option<&BudgetOptions>,
    defaults: &kiln_llm::Budget,
) -> kiln_llm::Budget {
    let mut b = defaults.clone();
    if let Some(o) = options {
        if let Some(v) = o.max_tokens {
            b.max_tokens = v;
        }
        if let Some(v) = o.max_cost_usd {
            b.max_cost_usd = v;
        }
        if let Some(v) = o.max_calls {
            b.max_calls = v;
        }
    }
    b
}

/// Builds the agent of a service from its `[llm]` section; `None` is offline mode.
///
/// Metering gets a small pool of its own so budgets are enforced before the service's
/// harness is up. Known secrets (API keys, the database password) are redacted from prompts.
pub fn from_config(
    mut config: kiln_llm::LlmConfig,
    database_url: &kiln_runtime::Secret,
) -> Result<Option<Agent>, kiln_llm::Error> {
    config.resolve_keys()?;
    let Some(chain) = kiln_llm::Chain::from_config(&config)? else {
        return Ok(None);
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(3)
        .connect_lazy(database_url.expose())
        .map_err(kiln_llm::Error::Store)?;
    let mut secrets: Vec<String> = [config.primary.as_ref(), config.fallback.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|m| m.api_key.as_ref().map(|k| k.expose().to_owned()))
        .collect();
    if let Some(password) = url_password(database_url.expose()) {
        secrets.push(password);
    }
    Ok(Some(Agent::new(
        Metered::new(chain, pool),
        Redactor::new(secrets),
        8192,
        config.budget.clone(),
    )))
}

fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let creds = rest.split_once('@')?.0;
    creds
        .split_once(':')
        .map(|(_, p)| p.to_owned())
        .filter(|p| !p.is_empty())
}

/// A metered, redacting model handle shared by a service's handlers.
#[derive(Clone)]
pub struct Agent {
    llm: Arc<Metered>,
    redactor: Redactor,
    max_output_tokens: u32,
    defaults: kiln_llm::Budget,
}

impl Agent {
    pub fn new(
        llm: Metered,
        redactor: Redactor,
        max_output_tokens: u32,
        defaults: kiln_llm::Budget,
    ) -> Self {
        Self {
            llm: Arc::new(llm),
            redactor,
            max_output_tokens,
            defaults,
        }
    }

    /// Metering context of one task's calls from one stage, with the task's own budget.
    pub fn context(&self, task: &kiln_store::tasks::Task, stage: &str) -> CallContext {
        let options = kiln_store::people::TaskOptions::of(&task.options);
        CallContext {
            task_id: task.id,
            stage: stage.to_owned(),
            budget: budget_for(options.budget.as_ref(), &self.defaults),
        }
    }

    /// `provider/model` of the primary model, recorded as the task's `llm_mode`.
    pub fn mode(&self) -> String {
        let m = self.model();
        format!("{}/{}", m.provider.as_str(), m.model)
    }

    /// The primary model's configuration (edit format, context window).
    pub fn model(&self) -> &kiln_llm::ModelConfig {
        self.llm.primary()
    }

    fn request(
        &self,
        system: &str,
        messages: &[Message],
        schema: Option<&JsonSchema>,
    ) -> ChatRequest {
        let mut req = ChatRequest::new(self.redactor.redact(system), String::new());
        req.messages = messages
            .iter()
            .map(|m| Message {
                role: m.role,
                content: self.redactor.redact(&m.content),
            })
            .collect();
        req.max_output_tokens = self.max_output_tokens;
        if let Some(s) = schema {
            req = req.with_schema(s.clone());
        }
        req
    }

    /// One call; the conversation is `messages` after the system prompt.
    pub async fn chat(
        &self,
        cx: &CallContext,
        system: &str,
        messages: &[Message],
        schema: Option<&JsonSchema>,
    ) -> Result<ChatResponse, AgentError> {
        let req = self.request(system, messages, schema);
        self.llm.chat(cx, &req).await.map_err(classify)
    }

    /// Structured output: parse and validate, re-ask once with the precise error, then give up.
    pub async fn ask_json<T: DeserializeOwned>(
        &self,
        cx: &CallContext,
        system: &str,
        user: &str,
        schema: &JsonSchema,
        validate: impl Fn(&T) -> Result<(), String>,
    ) -> Result<T, AgentError> {
        let mut messages = vec![Message::user(user)];
        let mut last_error = String::new();
        for attempt in 0..2 {
            let reply = match self.chat(cx, system, &messages, Some(schema)).await {
                Ok(reply) => reply,
                // The client already saw the answer was not JSON: repair like any invalid reply.
                Err(AgentError::Invalid(e)) => {
                    tracing::warn!(attempt, error = %e, "model output invalid");
                    messages.push(Message::user(invalid_output(&format!(
                        "not JSON matching the schema: {e}"
                    ))));
                    last_error = e;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let parsed = if reply.finish == FinishReason::Length {
                Err("the reply was cut off at the output limit; answer more briefly".to_owned())
            } else {
                serde_json::from_str::<T>(reply.content.trim())
                    .map_err(|e| format!("not JSON matching the schema: {e}"))
                    .and_then(|v| validate(&v).map(|()| v))
            };
            match parsed {
                Ok(v) => return Ok(v),
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "model output invalid");
                    last_error = e;
                    messages.push(Message::assistant(reply.content));
                    messages.push(Message::user(invalid_output(&last_error)));
                }
            }
        }
        Err(AgentError::Invalid(last_error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_budgets_override_the_defaults_field_by_field() {
        let defaults = kiln_llm::Budget {
            max_tokens: 1000,
            max_cost_usd: 1.0,
            max_calls: 10,
        };
        let b = budget_for(
            Some(&BudgetOptions {
                max_calls: Some(3),
                ..Default::default()
            }),
            &defaults,
        );
        assert_eq!((b.max_tokens, b.max_calls), (1000, 3));
    }

    #[test]
    fn a_budget_stop_becomes_a_wait_with_the_figures() {
        let e = AgentError::Budget(BudgetExceeded {
            limit: "calls",
            used: 5.0,
            needed: 1.0,
            max: 5.0,
        });
        match HandlerError::from(e) {
            HandlerError::Wait {
                kind,
                reason,
                detail,
            } => {
                assert_eq!(kind, WaitKind::BudgetApproval);
                assert!(reason.contains("5 of 5"), "{reason}");
                assert_eq!(detail["limit"], "calls");
            }
            other => panic!("expected a wait, got {other:?}"),
        }
    }
}
