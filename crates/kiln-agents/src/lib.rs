//! What Kiln's stages say to a model and how they read the answers.
//!
//! Prompt builders are pure functions of their inputs so their output can be snapshot-tested;
//! untrusted text (briefs, answers, repository files, test output) is fenced and labelled as
//! data, and secrets are redacted before anything is sent. [`Agent`] wraps the metered LLM
//! client with structured asks that repair invalid output once and map budget stops to a
//! wait for a person.

pub mod agent;
pub mod prompts;
pub mod redact;

pub use agent::{Agent, AgentError};
pub use prompts::{PlanReply, ReviewReply, ReviewerKind};
pub use redact::Redactor;
