//! The provider-neutral request and response every stage works with, and the client trait.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::{Error, ModelConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// A JSON Schema the answer must follow (structured output).
///
/// Give an object at the root with every property listed in `required` and
/// `additionalProperties: false`: that is what OpenAI's strict mode and Anthropic's tool
/// input accept, and Gemini gets the same schema minus the keywords it rejects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchema {
    /// Names the schema for the provider (`[A-Za-z0-9_-]`, other characters are replaced).
    pub name: String,
    pub schema: serde_json::Value,
}

impl JsonSchema {
    pub fn new(name: impl Into<String>, schema: serde_json::Value) -> Self {
        Self {
            name: name.into(),
            schema,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The stable prefix of the prompt (role, rules, project memory). Kept first and
    /// unchanged between calls so providers can cache it.
    pub system: String,
    pub messages: Vec<Message>,
    pub schema: Option<JsonSchema>,
    pub max_output_tokens: u32,
    pub temperature: f32,
}

impl ChatRequest {
    /// A single-turn request with a modest output allowance and a low temperature.
    pub fn new(system: impl Into<String>, user: impl Into<String>) -> Self {
        Self {
            system: system.into(),
            messages: vec![Message::user(user)],
            schema: None,
            max_output_tokens: 4096,
            temperature: 0.2,
        }
    }

    pub fn with_schema(mut self, schema: JsonSchema) -> Self {
        self.schema = Some(schema);
        self
    }

    pub fn with_max_output_tokens(mut self, max: u32) -> Self {
        self.max_output_tokens = max;
        self
    }

    /// An estimate of the prompt's tokens: all characters of the system prompt and the
    /// messages divided by four, rounded up. Providers tokenize differently, so this only
    /// serves window checks and budget reservations, never billing.
    pub fn estimated_input_tokens(&self) -> u64 {
        let chars = self.system.chars().count()
            + self
                .messages
                .iter()
                .map(|m| m.content.chars().count())
                .sum::<usize>();
        (chars as u64).div_ceil(4)
    }

    /// The estimated prompt plus the whole output allowance: what the context window and
    /// the budget must have room for.
    pub fn estimated_total_tokens(&self) -> u64 {
        self.estimated_input_tokens() + u64::from(self.max_output_tokens)
    }
}

/// An estimate of the tokens of `text`: characters divided by four, rounded up.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// Tokens of one call. `input_tokens` counts the whole prompt including the part served
/// from the provider's cache, which `cached_tokens` reports separately.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FinishReason {
    Stop,
    /// The output allowance ran out: the content is cut off (and structured output is
    /// probably invalid JSON).
    Length,
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The answer; with a schema, the JSON document as text.
    pub content: String,
    pub usage: Usage,
    /// `openai`, `anthropic` or `gemini`.
    pub provider: String,
    /// The model as the provider reported it (it may name a dated version).
    pub model: String,
    pub finish: FinishReason,
}

impl ChatResponse {
    /// The structured answer as `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(&self.content).map_err(|e| Error::Malformed {
            reason: format!("answer does not match the expected structure: {e}"),
        })
    }
}

/// One model call. Implemented by each wire adapter and by the fallback chain.
pub trait LlmClient: Send + Sync {
    fn chat(&self, req: &ChatRequest) -> impl Future<Output = Result<ChatResponse, Error>> + Send;

    /// The configuration of the model this client calls first.
    fn model(&self) -> &ModelConfig;
}

/// Finishes a parsed answer the same way for every provider: usage estimated when the
/// provider reported none (so budgets still hold), and structured answers checked to be
/// JSON unless they were cut off (the caller sees `Length` then).
pub(crate) fn complete(
    req: &ChatRequest,
    provider: crate::Provider,
    model: String,
    content: String,
    usage: Option<Usage>,
    finish: FinishReason,
) -> Result<ChatResponse, Error> {
    if req.schema.is_some()
        && finish != FinishReason::Length
        && serde_json::from_str::<serde_json::Value>(&content).is_err()
    {
        return Err(Error::Malformed {
            reason: "structured answer is not json".into(),
        });
    }
    let usage = usage.unwrap_or_else(|| Usage {
        input_tokens: req.estimated_input_tokens(),
        output_tokens: estimate_tokens(&content),
        cached_tokens: 0,
    });
    Ok(ChatResponse {
        content,
        usage,
        provider: provider.as_str().into(),
        model,
        finish,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_round_up_over_system_and_messages() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcde"), 2);
        let mut req = ChatRequest::new("abc", "de");
        req.messages.push(Message::assistant("é"));
        assert_eq!(req.estimated_input_tokens(), 2, "6 chars, not bytes");
        req.max_output_tokens = 10;
        assert_eq!(req.estimated_total_tokens(), 12);
    }
}
