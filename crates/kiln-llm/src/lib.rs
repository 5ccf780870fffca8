//! Model calls for every stage: one client trait over three wire formats, a fallback chain,
//! and metering that holds each task to its budget.
//!
//! - [`LlmClient`] is the one call every stage makes; [`OpenAiCompat`], [`Anthropic`] and
//!   [`Gemini`] speak their provider's wire format over HTTP, [`Adapter`] picks one by config.
//! - [`Chain`] retries the primary model on transient failures, then falls back.
//! - [`Metered`] reserves the call against the task's [`Budget`] in Postgres before sending
//!   and records what it really cost afterwards (`llm_calls`); [`usage`] sums it up.
//!
//! Invariants: the crate reads no environment variable and no file, except the API key file
//! when the caller asks for it ([`ModelConfig::resolve_key`]); API keys are
//! [`kiln_runtime::Secret`]s and only ever leave the process in the provider's auth header;
//! prompts are never logged.

mod anthropic;
mod chain;
mod config;
mod error;
mod gemini;
mod http;
mod meter;
mod openai;
mod sse;
mod types;

pub use anthropic::Anthropic;
pub use chain::{Adapter, Attempt, Chain, Outcome};
pub use config::{Budget, EditFormat, LlmConfig, ModelConfig, Provider};
pub use error::{BudgetExceeded, Error};
pub use gemini::Gemini;
pub use meter::{CallContext, Metered, StageUsage, TaskUsage, usage};
pub use openai::OpenAiCompat;
pub use types::{
    ChatRequest, ChatResponse, FinishReason, JsonSchema, LlmClient, Message, Role, Usage,
    estimate_tokens,
};
