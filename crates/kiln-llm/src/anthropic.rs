//! Anthropic's messages wire format: the stable system prefix marked for prompt caching, and
//! structured output as one forced tool whose input is the answer.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use crate::http::{Http, safe_name, temperature};
use crate::types::complete;
use crate::{ChatRequest, ChatResponse, Error, FinishReason, LlmClient, ModelConfig, Role, Usage};

const API_VERSION: &str = "2023-06-01";

#[derive(Debug)]
pub struct Anthropic {
    config: ModelConfig,
    http: Http,
}

impl Anthropic {
    pub fn new(config: ModelConfig) -> Result<Self, Error> {
        let http = Http::new(&config)?;
        Ok(Self { config, http })
    }
}

impl LlmClient for Anthropic {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, Error> {
        let url = format!("{}/v1/messages", self.config.endpoint());
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(API_VERSION),
        );
        if let Some(key) = self.http.key() {
            let (name, value) = self.http.secret_header("x-api-key", key.expose())?;
            headers.insert(name, value);
        }
        let body = request_body(&self.config, req);
        let response = self.http.post(&url, headers, &body, true).await?;
        let value = self.http.json(response).await?;
        parse_response(&self.config, req, &value)
    }

    fn model(&self) -> &ModelConfig {
        &self.config
    }
}

pub(crate) fn request_body(config: &ModelConfig, req: &ChatRequest) -> Value {
    let mut system = Vec::new();
    if !req.system.is_empty() {
        // The cache breakpoint sits after the stable prefix, so later calls of the task
        // (fix rounds, other stories) read it from the cache at a fraction of the price.
        system.push(json!({
            "type": "text",
            "text": req.system,
            "cache_control": {"type": "ephemeral"},
        }));
    }
    let mut messages = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        match m.role {
            // The API has no system role in messages: later system text follows the
            // cached prefix, outside the cache breakpoint.
            Role::System => system.push(json!({"type": "text", "text": m.content})),
            Role::User => messages.push(json!({"role": "user", "content": m.content})),
            Role::Assistant => messages.push(json!({"role": "assistant", "content": m.content})),
        }
    }
    let mut body = json!({
        "model": config.model,
        "max_tokens": req.max_output_tokens,
        "temperature": temperature(req.temperature),
        "messages": messages,
    });
    if !system.is_empty() {
        body["system"] = Value::Array(system);
    }
    if let Some(schema) = &req.schema {
        let name = safe_name(&schema.name);
        body["tools"] = json!([{
            "name": name,
            "description": "Give your answer by calling this tool: its input is the answer.",
            "input_schema": schema.schema,
        }]);
        body["tool_choice"] = json!({"type": "tool", "name": name});
    }
    body
}

pub(crate) fn parse_response(
    config: &ModelConfig,
    req: &ChatRequest,
    value: &Value,
) -> Result<ChatResponse, Error> {
    let blocks = value["content"]
        .as_array()
        .ok_or_else(|| Error::Malformed {
            reason: "message has no content blocks".into(),
        })?;
    let finish = match value["stop_reason"].as_str() {
        Some("end_turn" | "stop_sequence" | "tool_use") => FinishReason::Stop,
        Some("max_tokens") => FinishReason::Length,
        Some(other) => FinishReason::Other(other.into()),
        None => FinishReason::Other("unspecified".into()),
    };
    let text: String = blocks
        .iter()
        .filter(|b| b["type"] == "text")
        .filter_map(|b| b["text"].as_str())
        .collect();
    let content = if req.schema.is_some() {
        match blocks.iter().find(|b| b["type"] == "tool_use") {
            Some(tool) => tool["input"].to_string(),
            // Cut off before the tool call: the caller sees `Length`.
            None if finish == FinishReason::Length => text,
            None => {
                return Err(Error::Malformed {
                    reason: "structured answer has no tool_use block".into(),
                });
            }
        }
    } else {
        text
    };
    let usage = value["usage"].is_object().then(|| {
        let u = &value["usage"];
        let n = |k: &str| u[k].as_u64().unwrap_or(0);
        // `input_tokens` excludes cache reads and writes; ours counts the whole prompt.
        Usage {
            input_tokens: n("input_tokens")
                + n("cache_creation_input_tokens")
                + n("cache_read_input_tokens"),
            output_tokens: n("output_tokens"),
            cached_tokens: n("cache_read_input_tokens"),
        }
    });
    let model = value["model"].as_str().unwrap_or(&config.model).to_string();
    complete(req, config.provider, model, content, usage, finish)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{JsonSchema, Message, Provider};

    fn config() -> ModelConfig {
        ModelConfig::new(Provider::Anthropic, "http://x", "claude-test")
    }

    #[test]
    fn later_system_text_follows_the_cached_prefix() {
        let mut req = ChatRequest::new("stable", "hi");
        req.messages.insert(0, Message::system("volatile"));
        let body = request_body(&config(), &req);
        assert_eq!(body["system"][0]["cache_control"]["type"], "ephemeral");
        assert_eq!(
            body["system"][1],
            json!({"type": "text", "text": "volatile"})
        );
        assert_eq!(body["messages"], json!([{"role": "user", "content": "hi"}]));
    }

    #[test]
    fn usage_counts_the_whole_prompt() {
        let req = ChatRequest::new("s", "u").with_schema(JsonSchema::new("a", json!({})));
        let value = json!({
            "model": "claude-test-1",
            "content": [{"type": "tool_use", "id": "t", "name": "a", "input": {"ok": true}}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 10, "cache_creation_input_tokens": 5,
                      "cache_read_input_tokens": 100, "output_tokens": 7}
        });
        let r = parse_response(&config(), &req, &value).expect("response");
        assert_eq!(r.content, r#"{"ok":true}"#);
        assert_eq!(r.finish, FinishReason::Stop);
        assert_eq!(
            r.usage,
            Usage {
                input_tokens: 115,
                output_tokens: 7,
                cached_tokens: 100
            }
        );
    }
}
