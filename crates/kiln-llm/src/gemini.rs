//! Google's Gemini `generateContent` wire format, with structured output through its
//! OpenAPI-style schema subset.

use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

use crate::error::truncate_chars;
use crate::http::{Http, temperature};
use crate::types::complete;
use crate::{ChatRequest, ChatResponse, Error, FinishReason, LlmClient, ModelConfig, Role, Usage};

#[derive(Debug)]
pub struct Gemini {
    config: ModelConfig,
    http: Http,
}

impl Gemini {
    pub fn new(config: ModelConfig) -> Result<Self, Error> {
        let http = Http::new(&config)?;
        Ok(Self { config, http })
    }
}

impl LlmClient for Gemini {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, Error> {
        let model = self
            .config
            .model
            .strip_prefix("models/")
            .unwrap_or(&self.config.model);
        let url = format!(
            "{}/v1beta/models/{model}:generateContent",
            self.config.endpoint()
        );
        let mut headers = HeaderMap::new();
        // The key goes in a header, never in the `?key=` query where URLs get logged.
        if let Some(key) = self.http.key() {
            let (name, value) = self.http.secret_header("x-goog-api-key", key.expose())?;
            headers.insert(name, value);
        }
        let body = request_body(req);
        let response = self.http.post(&url, headers, &body, true).await?;
        let value = self.http.json(response).await?;
        parse_response(&self.config, req, &value)
    }

    fn model(&self) -> &ModelConfig {
        &self.config
    }
}

pub(crate) fn request_body(req: &ChatRequest) -> Value {
    let mut system: Vec<Value> = Vec::new();
    if !req.system.is_empty() {
        system.push(json!({"text": req.system}));
    }
    let mut contents = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        match m.role {
            Role::System => system.push(json!({"text": m.content})),
            Role::User => contents.push(json!({"role": "user", "parts": [{"text": m.content}]})),
            Role::Assistant => {
                contents.push(json!({"role": "model", "parts": [{"text": m.content}]}))
            }
        }
    }
    let mut generation = json!({
        "maxOutputTokens": req.max_output_tokens,
        "temperature": temperature(req.temperature),
    });
    if let Some(schema) = &req.schema {
        generation["responseMimeType"] = json!("application/json");
        generation["responseSchema"] = response_schema(&schema.schema);
    }
    let mut body = json!({"contents": contents, "generationConfig": generation});
    if !system.is_empty() {
        body["systemInstruction"] = json!({"parts": system});
    }
    body
}

/// Keywords of Gemini's schema subset; everything else (`$schema`, `additionalProperties`,
/// `$ref`, `oneOf`, ...) is rejected by the API and dropped here. References are not
/// resolved: schemas for Gemini should be written inline.
const SUPPORTED: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "items",
    "properties",
    "required",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "anyOf",
    "propertyOrdering",
    "default",
    "example",
];

/// A JSON Schema rewritten into the subset Gemini accepts.
pub(crate) fn response_schema(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        match key.as_str() {
            // Property names are data, not keywords: keep every one, convert its schema.
            "properties" => {
                let props = value
                    .as_object()
                    .map(|p| {
                        p.iter()
                            .map(|(name, s)| (name.clone(), response_schema(s)))
                            .collect::<Map<_, _>>()
                    })
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Object(props));
            }
            "items" => {
                out.insert(key.clone(), response_schema(value));
            }
            "anyOf" => {
                let variants = value
                    .as_array()
                    .map(|v| v.iter().map(response_schema).collect())
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Array(variants));
            }
            // `["string", "null"]` is `type: string, nullable: true` in the subset.
            "type" if value.is_array() => {
                let types: Vec<&str> = value
                    .as_array()
                    .map(|t| t.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if let Some(first) = types.iter().find(|t| **t != "null") {
                    out.insert(key.clone(), json!(first));
                }
                if types.contains(&"null") {
                    out.insert("nullable".into(), json!(true));
                }
            }
            "const" => {
                out.insert("enum".into(), json!([value]));
            }
            k if SUPPORTED.contains(&k) => {
                out.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    Value::Object(out)
}

pub(crate) fn parse_response(
    config: &ModelConfig,
    req: &ChatRequest,
    value: &Value,
) -> Result<ChatResponse, Error> {
    let Some(candidate) = value["candidates"].get(0) else {
        let blocked = value["promptFeedback"]["blockReason"]
            .as_str()
            .unwrap_or("no reason given");
        return Err(Error::Malformed {
            reason: format!(
                "response has no candidates ({})",
                truncate_chars(blocked, 100)
            ),
        });
    };
    // Thought summaries are not part of the answer.
    let content: String = candidate["content"]["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter(|p| p["thought"] != json!(true))
                .filter_map(|p| p["text"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let finish = match candidate["finishReason"].as_str() {
        Some("STOP") => FinishReason::Stop,
        Some("MAX_TOKENS") => FinishReason::Length,
        Some(other) => FinishReason::Other(other.into()),
        None => FinishReason::Other("unspecified".into()),
    };
    let usage = value["usageMetadata"].is_object().then(|| {
        let u = &value["usageMetadata"];
        let n = |k: &str| u[k].as_u64().unwrap_or(0);
        // Thinking tokens are billed as output.
        Usage {
            input_tokens: n("promptTokenCount"),
            output_tokens: n("candidatesTokenCount") + n("thoughtsTokenCount"),
            cached_tokens: n("cachedContentTokenCount"),
        }
    });
    let model = value["modelVersion"]
        .as_str()
        .unwrap_or(&config.model)
        .to_string();
    complete(req, config.provider, model, content, usage, finish)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_keeps_property_names_and_drops_rejected_keywords() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "additionalProperties": {"type": "string"},
                "title": {"type": ["string", "null"], "const": "x"},
                "items": {"type": "array", "items": {"type": "object", "additionalProperties": false, "properties": {}}}
            },
            "required": ["title"]
        });
        let out = response_schema(&schema);
        assert_eq!(
            out,
            json!({
                "type": "object",
                "properties": {
                    "additionalProperties": {"type": "string"},
                    "title": {"type": "string", "nullable": true, "enum": ["x"]},
                    "items": {"type": "array", "items": {"type": "object", "properties": {}}}
                },
                "required": ["title"]
            })
        );
    }

    #[test]
    fn roles_map_to_user_and_model() {
        let mut req = ChatRequest::new("sys", "q");
        req.messages.push(crate::Message::assistant("a"));
        let body = request_body(&req);
        assert_eq!(body["systemInstruction"]["parts"][0]["text"], "sys");
        assert_eq!(body["contents"][0]["role"], "user");
        assert_eq!(body["contents"][1]["role"], "model");
        assert!(body["generationConfig"].get("responseSchema").is_none());
    }
}
