//! OpenAI's chat completions wire format, which most self-hosted and aggregator servers
//! (vLLM, Ollama, OpenRouter, ...) also speak; plain or streamed as server-sent events.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::error::truncate_chars;
use crate::http::{Http, safe_name, temperature};
use crate::sse::SseParser;
use crate::types::complete;
use crate::{ChatRequest, ChatResponse, Error, FinishReason, LlmClient, ModelConfig, Role, Usage};

#[derive(Debug)]
pub struct OpenAiCompat {
    config: ModelConfig,
    http: Http,
}

impl OpenAiCompat {
    pub fn new(config: ModelConfig) -> Result<Self, Error> {
        let http = Http::new(&config)?;
        Ok(Self { config, http })
    }
}

impl LlmClient for OpenAiCompat {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, Error> {
        let url = format!("{}/chat/completions", self.config.endpoint());
        let mut headers = HeaderMap::new();
        if let Some(key) = self.http.key() {
            let (name, value) = self
                .http
                .secret_header("authorization", &format!("Bearer {}", key.expose()))?;
            headers.insert(name, value);
        }
        let body = request_body(&self.config, req);
        let stream = self.config.stream;
        let mut response = self.http.post(&url, headers, &body, !stream).await?;
        if !stream {
            let value = self.http.json(response).await?;
            return parse_response(&self.config, req, &value);
        }
        let mut parser = SseParser::default();
        let mut state = StreamState::default();
        while !state.done {
            let Some(chunk) = self.http.next_chunk(&mut response).await? else {
                for data in parser.finish() {
                    state.event(&data)?;
                }
                break;
            };
            for data in parser.push(&chunk) {
                state.event(&data)?;
                if state.done {
                    break;
                }
            }
        }
        state.into_response(&self.config, req)
    }

    fn model(&self) -> &ModelConfig {
        &self.config
    }
}

fn role(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

pub(crate) fn request_body(config: &ModelConfig, req: &ChatRequest) -> Value {
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if !req.system.is_empty() {
        messages.push(json!({"role": "system", "content": req.system}));
    }
    messages.extend(
        req.messages
            .iter()
            .map(|m| json!({"role": role(m.role), "content": m.content})),
    );
    // `max_tokens` rather than `max_completion_tokens`: compatible servers know only it.
    let mut body = json!({
        "model": config.model,
        "messages": messages,
        "max_tokens": req.max_output_tokens,
        "temperature": temperature(req.temperature),
    });
    if let Some(schema) = &req.schema {
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": {
                "name": safe_name(&schema.name),
                "schema": schema.schema,
                "strict": true,
            },
        });
    }
    if config.stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

fn finish_reason(value: &Value) -> FinishReason {
    match value.as_str() {
        Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some(other) => FinishReason::Other(other.into()),
        None => FinishReason::Other("unspecified".into()),
    }
}

fn usage(value: &Value) -> Option<Usage> {
    if !value.is_object() {
        return None;
    }
    Some(Usage {
        input_tokens: value["prompt_tokens"].as_u64().unwrap_or(0),
        output_tokens: value["completion_tokens"].as_u64().unwrap_or(0),
        cached_tokens: value["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap_or(0),
    })
}

/// Message content as text: a string, or (some compatible servers) a list of text parts.
fn text(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<String>(),
        ),
        _ => None,
    }
}

pub(crate) fn parse_response(
    config: &ModelConfig,
    req: &ChatRequest,
    value: &Value,
) -> Result<ChatResponse, Error> {
    let choice = value["choices"].get(0).ok_or_else(|| Error::Malformed {
        reason: "completion has no choices".into(),
    })?;
    let message = &choice["message"];
    let content = match (text(&message["content"]), message["refusal"].as_str()) {
        (Some(content), _) => content,
        (None, Some(refusal)) => {
            return Err(Error::Malformed {
                reason: format!("model refused: {}", truncate_chars(refusal, 200)),
            });
        }
        (None, None) => String::new(),
    };
    let model = value["model"].as_str().unwrap_or(&config.model).to_string();
    complete(
        req,
        config.provider,
        model,
        content,
        usage(&value["usage"]),
        finish_reason(&choice["finish_reason"]),
    )
}

/// What a stream has delivered so far.
#[derive(Debug, Default)]
struct StreamState {
    content: String,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    model: Option<String>,
    done: bool,
}

impl StreamState {
    fn event(&mut self, data: &str) -> Result<(), Error> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| Error::Malformed {
            reason: format!("stream chunk is not json: {e}"),
        })?;
        if let Some(error) = chunk.get("error") {
            let message = error["message"].as_str().unwrap_or("unspecified");
            return Err(Error::Malformed {
                reason: format!("error in stream: {}", truncate_chars(message, 200)),
            });
        }
        if let Some(model) = chunk["model"].as_str() {
            self.model = Some(model.into());
        }
        if let Some(choice) = chunk["choices"].get(0) {
            if let Some(piece) = choice["delta"]["content"].as_str() {
                self.content.push_str(piece);
            }
            if !choice["finish_reason"].is_null() {
                self.finish = Some(finish_reason(&choice["finish_reason"]));
            }
        }
        if let Some(usage) = usage(&chunk["usage"]) {
            self.usage = Some(usage);
        }
        Ok(())
    }

    fn into_response(self, config: &ModelConfig, req: &ChatRequest) -> Result<ChatResponse, Error> {
        let finish = match (self.finish, self.done) {
            (Some(finish), _) => finish,
            (None, true) => FinishReason::Other("unspecified".into()),
            (None, false) => {
                return Err(Error::Malformed {
                    reason: "stream ended before the answer was finished".into(),
                });
            }
        };
        let model = self.model.unwrap_or_else(|| config.model.clone());
        complete(
            req,
            config.provider,
            model,
            self.content,
            self.usage,
            finish,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{JsonSchema, Provider};

    fn config() -> ModelConfig {
        ModelConfig::new(Provider::OpenAi, "http://x/v1", "gpt-test")
    }

    #[test]
    fn request_carries_system_messages_and_schema() {
        let req = ChatRequest::new("be brief", "hi")
            .with_schema(JsonSchema::new("plan v1", json!({"type": "object"})));
        let body = request_body(&config(), &req);
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "be brief"})
        );
        assert_eq!(
            body["messages"][1],
            json!({"role": "user", "content": "hi"})
        );
        assert_eq!(body["response_format"]["json_schema"]["name"], "plan_v1");
        assert_eq!(body["response_format"]["json_schema"]["strict"], true);
        assert_eq!(body["temperature"], json!(0.2));
        assert!(body.get("stream").is_none());
    }

    #[test]
    fn stream_events_assemble_content_finish_and_usage() {
        let mut state = StreamState::default();
        for data in [
            r#"{"model":"gpt-x","choices":[{"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"choices":[{"delta":{"content":"Hel"}}]}"#,
            r#"{"choices":[{"delta":{"content":"lo"},"finish_reason":null}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"length"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":3}}}"#,
            "[DONE]",
        ] {
            state.event(data).expect("event");
        }
        let r = state
            .into_response(&config(), &ChatRequest::new("", "x"))
            .expect("response");
        assert_eq!(r.content, "Hello");
        assert_eq!(r.model, "gpt-x");
        assert_eq!(r.finish, FinishReason::Length);
        assert_eq!(
            r.usage,
            Usage {
                input_tokens: 7,
                output_tokens: 2,
                cached_tokens: 3
            }
        );
    }

    #[test]
    fn a_cut_stream_is_malformed() {
        let mut state = StreamState::default();
        state
            .event(r#"{"choices":[{"delta":{"content":"Hel"}}]}"#)
            .expect("event");
        let err = state
            .into_response(&config(), &ChatRequest::new("", "x"))
            .expect_err("cut stream");
        assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    }
}
