//! A local fake model provider, so tests exercise the real wire formats without calling a
//! real provider: one server on 127.0.0.1 speaking OpenAI chat completions (plain and
//! streamed), Anthropic messages and Gemini `generateContent`, recording every request and
//! answering as the test's scenario says.
//!
//! ```ignore
//! let calls = AtomicUsize::new(0);
//! let fake = FakeLlm::start(move |r| {
//!     if r.system.contains("planner") { Reply::Json(plan()) }
//!     else if calls.fetch_add(1, SeqCst) == 0 { Reply::Status { code: 503, retry_after: None } }
//!     else { Reply::Text("ok".into()) }
//! }).await;
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `openai`, `anthropic` or `gemini`: which endpoint was called.
    pub provider: &'static str,
    pub model: String,
    /// Every header, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The request body (`Null` when it was not JSON).
    pub body: Value,
    /// The system prompt, all system parts joined by a blank line.
    pub system: String,
    /// Text of the last user message.
    pub last_user: String,
    /// Whether the request asked for a streamed answer.
    pub stream: bool,
}

impl Recorded {
    /// The value of header `name` (any case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the fake answers, in the wire format of the endpoint that was called.
#[derive(Debug, Clone)]
pub enum Reply {
    Text(String),
    /// Structured output: a `tool_use` block for Anthropic requests with tools, the JSON as
    /// text otherwise.
    Json(Value),
    /// An error status in the provider's error format, with `Retry-After` seconds if given.
    Status {
        code: u16,
        retry_after: Option<u64>,
    },
    /// Text cut off at the output limit (finish reason length / max_tokens / MAX_TOKENS).
    Truncated(String),
    /// A 200 whose body is not valid JSON (or, streamed, an invalid chunk).
    Malformed,
    /// Waits this long, then answers with empty text (past the client's timeout, usually).
    Hang(Duration),
    /// `reply` with these usage numbers instead of the default (input = prompt chars / 4,
    /// output = answer chars / 4, cached = 0). `input` includes `cached`.
    WithUsage {
        reply: Box<Reply>,
        input: u64,
        output: u64,
        cached: u64,
    },
}

type Responder = dyn Fn(&Recorded) -> Reply + Send + Sync;

struct Shared {
    responder: Box<Responder>,
    requests: Mutex<Vec<Recorded>>,
    ids: AtomicU64,
}

impl Shared {
    fn record(&self, recorded: Recorded) -> Reply {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(recorded.clone());
        (self.responder)(&recorded)
    }

    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }
}

/// The fake provider; the server stops when this is dropped.
pub struct FakeLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeLlm {
    pub async fn start(responder: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let shared = Arc::new(Shared {
            responder: Box::new(responder),
            requests: Mutex::new(Vec::new()),
            ids: AtomicU64::new(1),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(openai))
            .route("/v1/messages", post(anthropic))
            .route("/v1beta/models/{target}", post(gemini))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake llm");
        let addr = listener.local_addr().expect("fake llm address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Self {
            addr,
            shared,
            server,
        }
    }

    /// `http://127.0.0.1:port/v1`
    pub fn openai_base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://127.0.0.1:port`
    pub fn anthropic_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:port`
    pub fn gemini_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything received, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A base URL where nothing listens: connecting is refused.
pub fn closed_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port to close");
    let addr = listener.local_addr().expect("closed port address");
    drop(listener);
    format!("http://{addr}")
}

/// The answer after waits and usage overrides are applied.
enum Answer {
    Content {
        text: String,
        json: Option<Value>,
        truncated: bool,
        usage: Option<(u64, u64, u64)>,
    },
    Status {
        code: u16,
        retry_after: Option<u64>,
    },
    Malformed,
}

async fn settle(mut reply: Reply) -> Answer {
    let mut usage = None;
    loop {
        reply = match reply {
            Reply::WithUsage {
                reply,
                input,
                output,
                cached,
            } => {
                usage.get_or_insert((input, output, cached));
                *reply
            }
            Reply::Hang(d) => {
                tokio::time::sleep(d).await;
                Reply::Text(String::new())
            }
            Reply::Text(text) => {
                return Answer::Content {
                    text,
                    json: None,
                    truncated: false,
                    usage,
                };
            }
            Reply::Json(v) => {
                return Answer::Content {
                    text: v.to_string(),
                    json: Some(v),
                    truncated: false,
                    usage,
                };
            }
            Reply::Truncated(text) => {
                return Answer::Content {
                    text,
                    json: None,
                    truncated: true,
                    usage,
                };
            }
            Reply::Status { code, retry_after } => return Answer::Status { code, retry_after },
            Reply::Malformed => return Answer::Malformed,
        }
    }
}

fn headers_of(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Text of a message content: a string or a list of text parts/blocks.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

fn usage_or_default(
    usage: Option<(u64, u64, u64)>,
    prompt_chars: usize,
    text: &str,
) -> (u64, u64, u64) {
    usage.unwrap_or((tokens(prompt_chars), tokens(text.chars().count()), 0))
}

fn json_response(status: u16, body: String, retry_after: Option<u64>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn malformed(stream: bool) -> Response {
    if stream {
        let mut response = Response::new(Body::from("data: {\"choices\": [\n\n"));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        return response;
    }
    json_response(200, "{\"id\": \"broken\", \"choices\": [".into(), None)
}

async fn openai(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let system = messages
        .iter()
        .filter(|m| m["role"] == "system")
        .map(|m| text_of(&m["content"]))
        .collect::<Vec<_>>()
        .join("\n\n");
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| text_of(&m["content"]))
        .unwrap_or_default();
    let prompt_chars = messages
        .iter()
        .map(|m| text_of(&m["content"]).chars().count())
        .sum();
    let stream = body["stream"] == json!(true);
    let include_usage = body["stream_options"]["include_usage"] == json!(true);
    let model = body["model"].as_str().unwrap_or_default().to_string();
    let reply = shared.record(Recorded {
        provider: "openai",
        model: model.clone(),
        headers: headers_of(&headers),
        body,
        system,
        last_user,
        stream,
    });
    let id = format!("chatcmpl-fake-{}", shared.next_id());
    match settle(reply).await {
        Answer::Status { code, retry_after } => {
            let kind = match code {
                429 => "rate_limit_exceeded",
                400..=499 => "invalid_request_error",
                _ => "server_error",
            };
            let body = json!({"error": {"message": format!("fake status {code}"), "type": kind, "param": null, "code": null}});
            json_response(code, body.to_string(), retry_after)
        }
        Answer::Malformed => malformed(stream),
        Answer::Content {
            text,
            truncated,
            usage,
            ..
        } => {
            let (input, output, cached) = usage_or_default(usage, prompt_chars, &text);
            let usage = json!({
                "prompt_tokens": input,
                "completion_tokens": output,
                "total_tokens": input + output,
                "prompt_tokens_details": {"cached_tokens": cached},
            });
            let finish = if truncated { "length" } else { "stop" };
            if stream {
                return openai_stream(&id, &model, &text, finish, include_usage.then_some(usage));
            }
            let body = json!({
                "id": id,
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": null},
                    "finish_reason": finish,
                }],
                "usage": usage,
            });
            json_response(200, body.to_string(), None)
        }
    }
}

/// Server-sent chunks as OpenAI streams them, cut into small network pieces so clients
/// must reassemble lines.
fn openai_stream(
    id: &str,
    model: &str,
    text: &str,
    finish: &str,
    usage: Option<Value>,
) -> Response {
    let chunk = |choices: Value| json!({"id": id, "object": "chat.completion.chunk", "created": 0, "model": model, "choices": choices});
    let mut events = vec![chunk(
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
    )];
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(chars.len().div_ceil(3).max(1)) {
        let piece: String = piece.iter().collect();
        events.push(chunk(
            json!([{"index": 0, "delta": {"content": piece}, "finish_reason": null}]),
        ));
    }
    events.push(chunk(
        json!([{"index": 0, "delta": {}, "finish_reason": finish}]),
    ));
    if let Some(usage) = usage {
        let mut last = chunk(json!([]));
        last["usage"] = usage;
        events.push(last);
    }
    let mut sse: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    sse.push_str("data: [DONE]\n\n");
    let pieces: Vec<Result<Bytes, Infallible>> = sse
        .into_bytes()
        .chunks(16)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let mut response = Response::new(Body::from_stream(futures::stream::iter(pieces)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
}

async fn anthropic(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let system = match &body["system"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n\n"),
        _ => String::new(),
    };
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| text_of(&m["content"]))
        .unwrap_or_default();
    let prompt_chars = system.chars().count()
        + messages
            .iter()
            .map(|m| text_of(&m["content"]).chars().count())
            .sum::<usize>();
    let tool = body["tools"][0]["name"].as_str().map(str::to_string);
    let model = body["model"].as_str().unwrap_or_default().to_string();
    let reply = shared.record(Recorded {
        provider: "anthropic",
        model: model.clone(),
        headers: headers_of(&headers),
        stream: body["stream"] == json!(true),
        body,
        system,
        last_user,
    });
    let id = format!("msg_fake_{}", shared.next_id());
    match settle(reply).await {
        Answer::Status { code, retry_after } => {
            let kind = match code {
                400 => "invalid_request_error",
                401 => "authentication_error",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            let body = json!({"type": "error", "error": {"type": kind, "message": format!("fake status {code}")}});
            json_response(code, body.to_string(), retry_after)
        }
        Answer::Malformed => malformed(false),
        Answer::Content {
            text,
            json,
            truncated,
            usage,
        } => {
            let (input, output, cached) = usage_or_default(usage, prompt_chars, &text);
            let input_value = json.or_else(|| serde_json::from_str(&text).ok());
            let (content, stop) = match (&tool, input_value, truncated) {
                (Some(name), Some(input), false) => (
                    json!([{"type": "tool_use", "id": format!("toolu_fake_{}", shared.next_id()), "name": name, "input": input}]),
                    "tool_use",
                ),
                (_, _, true) => (json!([{"type": "text", "text": text}]), "max_tokens"),
                _ => (json!([{"type": "text", "text": text}]), "end_turn"),
            };
            let body = json!({
                "id": id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": stop,
                "stop_sequence": null,
                // Anthropic's input_tokens exclude what was read from the cache.
                "usage": {
                    "input_tokens": input.saturating_sub(cached),
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": cached,
                    "output_tokens": output,
                },
            });
            json_response(200, body.to_string(), None)
        }
    }
}

async fn gemini(
    State(shared): State<Arc<Shared>>,
    Path(target): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = target.split(':').next().unwrap_or_default().to_string();
    let parts_text = |v: &Value| text_of(&v["parts"]);
    let system = body["systemInstruction"]["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n\n")
        })
        .unwrap_or_default();
    let contents = body["contents"].as_array().cloned().unwrap_or_default();
    let last_user = contents
        .iter()
        .rev()
        .find(|c| c["role"] == "user" || c["role"].is_null())
        .map(parts_text)
        .unwrap_or_default();
    let prompt_chars = system.chars().count()
        + contents
            .iter()
            .map(|c| parts_text(c).chars().count())
            .sum::<usize>();
    let reply = shared.record(Recorded {
        provider: "gemini",
        model: model.clone(),
        headers: headers_of(&headers),
        body,
        system,
        last_user,
        stream: target.ends_with(":streamGenerateContent"),
    });
    match settle(reply).await {
        Answer::Status { code, retry_after } => {
            let status = match code {
                400 => "INVALID_ARGUMENT",
                403 => "PERMISSION_DENIED",
                429 => "RESOURCE_EXHAUSTED",
                503 => "UNAVAILABLE",
                _ => "INTERNAL",
            };
            let body = json!({"error": {"code": code, "message": format!("fake status {code}"), "status": status}});
            json_response(code, body.to_string(), retry_after)
        }
        Answer::Malformed => malformed(false),
        Answer::Content {
            text,
            truncated,
            usage,
            ..
        } => {
            let (input, output, cached) = usage_or_default(usage, prompt_chars, &text);
            let body = json!({
                "candidates": [{
                    "content": {"role": "model", "parts": [{"text": text}]},
                    "finishReason": if truncated { "MAX_TOKENS" } else { "STOP" },
                    "index": 0,
                }],
                "usageMetadata": {
                    "promptTokenCount": input,
                    "candidatesTokenCount": output,
                    "totalTokenCount": input + output,
                    "cachedContentTokenCount": cached,
                },
                "modelVersion": model,
            });
            json_response(200, body.to_string(), None)
        }
    }
}
