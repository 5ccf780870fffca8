//! A fake Discord API for interaction follow-ups, and Discord's side of the interactions
//! endpoint: it signs interactions with its own Ed25519 key and posts them, as Discord does.
//!
//! Routes (under `/api/v10`): `POST /webhooks/{app_id}/{token}` (a follow-up),
//! `GET|PATCH|DELETE /webhooks/{app_id}/{token}/messages/{id|@original}`. Tokens must be
//! issued by [`FakeDiscord::new_token`] (Discord answers an unknown one with 401, code
//! 50027). Rate limits answer 429 with `{"message","retry_after","global"}` and the
//! `Retry-After` and `X-RateLimit-*` headers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

use super::{Common, Mode, Server, common_api, lock, now_unix, whole_secs};

/// The fake application's id.
pub const APPLICATION_ID: &str = "1300000000000000001";
const MAX_CONTENT_CHARS: usize = 2000;

/// A message as the fake holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub id: String,
    /// The interaction token it belongs to.
    pub token: String,
    /// Whether it is the interaction's original reply.
    pub original: bool,
    pub content: String,
    pub components: Value,
    pub allowed_mentions: Value,
    pub flags: u64,
    pub edits: u32,
}

#[derive(Default)]
struct State_ {
    tokens: BTreeSet<String>,
    /// By message id.
    messages: BTreeMap<String, StoredMessage>,
    /// Token -> id of its original reply.
    originals: BTreeMap<String, String>,
    next_id: u64,
}

impl State_ {
    fn snowflake(&mut self) -> String {
        self.next_id += 1;
        (1_310_000_000_000_000_000_u64 + self.next_id).to_string()
    }
}

struct Inner {
    common: Common,
    application_id: String,
    key: SigningKey,
    state: std::sync::Mutex<State_>,
    http: reqwest::Client,
}

/// The fake Discord; the server stops when this is dropped.
pub struct FakeDiscord {
    inner: Arc<Inner>,
    server: Server,
}

impl FakeDiscord {
    pub async fn start() -> Self {
        // A fresh key per fake, from random bytes.
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        let inner = Arc::new(Inner {
            common: Common::default(),
            application_id: APPLICATION_ID.to_owned(),
            key: SigningKey::from_bytes(&seed),
            state: std::sync::Mutex::new(State_::default()),
            http: reqwest::Client::new(),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let server = Server::start(app, "discord").await;
        Self { inner, server }
    }

    /// `http://127.0.0.1:port/api/v10`, the client's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v10", self.server.addr)
    }

    pub fn application_id(&self) -> &str {
        &self.inner.application_id
    }

    /// The application's public key, hex, as the developer portal shows it.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.inner.key.verifying_key().to_bytes())
    }

    common_api!();

    /// A fresh interaction token the follow-up routes accept.
    pub fn new_token(&self) -> String {
        let token = format!("aW50ZXJhY3Rpb246{}", uuid::Uuid::new_v4().simple());
        lock(&self.inner.state).tokens.insert(token.clone());
        token
    }

    /// Signs `body` at `timestamp` as Discord does: `(X-Signature-Ed25519,
    /// X-Signature-Timestamp)` header values.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> (String, String) {
        let timestamp = timestamp.to_string();
        let mut message = timestamp.as_bytes().to_vec();
        message.extend_from_slice(body);
        (
            hex::encode(self.inner.key.sign(&message).to_bytes()),
            timestamp,
        )
    }

    /// Posts `interaction`, signed now, to an interactions endpoint; returns the status and
    /// the JSON answer (`Null` when it is not JSON).
    pub async fn post_interaction(&self, url: &str, interaction: &Value) -> (StatusCode, Value) {
        let body = serde_json::to_vec(interaction).unwrap_or_default();
        let (signature, timestamp) = self.sign(now_unix(), &body);
        let response = self
            .inner
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .header("X-Signature-Ed25519", signature)
            .header("X-Signature-Timestamp", timestamp)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("post_interaction: {e}"));
        let status = StatusCode::from_u16(response.status().as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A `/kiln <sub>` slash-command interaction with string options, from guild member
    /// `user_id` holding `roles`, with a fresh token.
    pub fn slash_command(
        &self,
        sub: &str,
        options: &[(&str, &str)],
        user_id: &str,
        roles: &[&str],
    ) -> Value {
        let options: Vec<Value> = options
            .iter()
            .map(|(name, value)| json!({"name": name, "type": 3, "value": value}))
            .collect();
        let mut state = lock(&self.inner.state);
        let id = state.snowflake();
        drop(state);
        json!({
            "id": id,
            "application_id": self.inner.application_id,
            "type": 2,
            "token": self.new_token(),
            "version": 1,
            "guild_id": "1200000000000000001",
            "channel_id": "1200000000000000002",
            "member": {"user": {"id": user_id, "username": format!("user{user_id}")}, "roles": roles},
            "data": {"id": "1300000000000000100", "name": "kiln", "type": 1, "options": [
                {"name": sub, "type": 1, "options": options}
            ]},
        })
    }

    /// A press of the button with `custom_id`, from guild member `user_id` holding `roles`.
    pub fn button_press(&self, custom_id: &str, user_id: &str, roles: &[&str]) -> Value {
        let id = lock(&self.inner.state).snowflake();
        json!({
            "id": id,
            "application_id": self.inner.application_id,
            "type": 3,
            "token": self.new_token(),
            "version": 1,
            "guild_id": "1200000000000000001",
            "channel_id": "1200000000000000002",
            "member": {"user": {"id": user_id, "username": format!("user{user_id}")}, "roles": roles},
            "data": {"custom_id": custom_id, "component_type": 2},
        })
    }

    /// A PING, as Discord sends to check the endpoint.
    pub fn ping(&self) -> Value {
        json!({"id": "1", "application_id": self.inner.application_id, "type": 1, "token": self.new_token(), "version": 1})
    }

    /// The messages of one interaction (original reply first if there is one, then
    /// follow-ups in order), as they stand now.
    pub fn messages_for(&self, token: &str) -> Vec<StoredMessage> {
        let state = lock(&self.inner.state);
        let mut out: Vec<StoredMessage> = state
            .messages
            .values()
            .filter(|m| m.token == token)
            .cloned()
            .collect();
        out.sort_by_key(|m| (!m.original, m.id.clone()));
        out
    }

    /// The interaction's original reply, once edited.
    pub fn original(&self, token: &str) -> Option<StoredMessage> {
        let state = lock(&self.inner.state);
        let id = state.originals.get(token)?;
        state.messages.get(id).cloned()
    }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn error(status: StatusCode, code: u64, message: &str) -> Response {
    reply(status, json!({"message": message, "code": code}))
}

fn rate_limited(retry_after: f64, global: bool) -> Response {
    let mut response = reply(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": global}),
    );
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("retry-after", whole_secs(retry_after).to_string());
    set("x-ratelimit-limit", "5".into());
    set("x-ratelimit-remaining", "0".into());
    set("x-ratelimit-reset-after", format!("{retry_after:.3}"));
    set(
        "x-ratelimit-bucket",
        "fakebucket0000000000000000000000".into(),
    );
    set(
        "x-ratelimit-scope",
        if global { "global" } else { "user" }.into(),
    );
    if global {
        set("x-ratelimit-global", "true".into());
    }
    response
}

fn message_json(app_id: &str, m: &StoredMessage) -> Value {
    json!({
        "id": m.id,
        "type": if m.original { 20 } else { 0 },
        "channel_id": "1200000000000000002",
        "content": m.content,
        "components": m.components,
        "flags": m.flags,
        "webhook_id": app_id,
        "application_id": app_id,
        "author": {"id": app_id, "username": "Kiln", "bot": true},
        "timestamp": "2025-06-15T10:00:00.000000+00:00",
        "edited_timestamp": if m.edits > 0 { json!("2025-06-15T10:00:01.000000+00:00") } else { Value::Null },
        "mentions": [],
        "embeds": [],
        "attachments": [],
    })
}

/// Checks a message body like Discord's form validation.
fn check_body(body: &Value, creating: bool) -> Option<Response> {
    let Some(obj) = body.as_object() else {
        return Some(error(
            StatusCode::BAD_REQUEST,
            50109,
            "The request body contains invalid JSON.",
        ));
    };
    let content = obj.get("content").and_then(Value::as_str);
    if content.is_some_and(|c| c.chars().count() > MAX_CONTENT_CHARS) {
        return Some(reply(
            StatusCode::BAD_REQUEST,
            json!({"message": "Invalid Form Body", "code": 50035, "errors": {"content": {"_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
            ]}}}),
        ));
    }
    let has_components = obj
        .get("components")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty());
    let has_embeds = obj
        .get("embeds")
        .and_then(Value::as_array)
        .is_some_and(|e| !e.is_empty());
    if creating && content.is_none_or(str::is_empty) && !has_components && !has_embeds {
        return Some(error(
            StatusCode::BAD_REQUEST,
            50006,
            "Cannot send an empty message",
        ));
    }
    if let Some(rows) = obj.get("components").and_then(Value::as_array) {
        for button in rows.iter().flat_map(|r| {
            r.get("components")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        }) {
            let id_len = button
                .get("custom_id")
                .and_then(Value::as_str)
                .map_or(0, str::len);
            let link = button.get("style").and_then(Value::as_u64) == Some(5);
            if !link && !(1..=100).contains(&id_len) {
                return Some(error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body"));
            }
        }
    }
    None
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (recorded, fault) = inner.common.record(&method, &uri, &headers, &body);
    match fault {
        Some(Mode::RateLimited { retry_after_secs }) => {
            return rate_limited(retry_after_secs, false);
        }
        Some(Mode::GloballyRateLimited { retry_after_secs }) => {
            return rate_limited(retry_after_secs, true);
        }
        Some(Mode::Down) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                0,
                "500: Internal Server Error",
            );
        }
        Some(Mode::Normal) | None => {}
    }
    let path = uri.path();
    let Some(rest) = path.strip_prefix("/api/v10/webhooks/") else {
        return error(StatusCode::NOT_FOUND, 0, "404: Not Found");
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let (app_id, token) = match parts.as_slice() {
        [app, token, ..] => (*app, *token),
        _ => return error(StatusCode::NOT_FOUND, 0, "404: Not Found"),
    };
    if app_id != inner.application_id {
        return error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook");
    }
    if !lock(&inner.state).tokens.contains(token) {
        return error(StatusCode::UNAUTHORIZED, 50027, "Invalid Webhook Token");
    }
    let body = recorded.body;
    let app = inner.application_id.clone();
    match (method, &parts[2..]) {
        (Method::POST, []) => {
            if let Some(response) = check_body(&body, true) {
                return response;
            }
            let mut state = lock(&inner.state);
            let id = state.snowflake();
            let message = stored(id.clone(), token, false, &body, None);
            let json = message_json(&app, &message);
            state.messages.insert(id, message);
            reply(StatusCode::OK, json)
        }
        (method, ["messages", which]) => {
            let mut state = lock(&inner.state);
            let id = if *which == "@original" {
                state.originals.get(token).cloned()
            } else {
                state
                    .messages
                    .get(*which)
                    .filter(|m| m.token == token)
                    .map(|m| m.id.clone())
            };
            match method {
                Method::GET => match id.and_then(|id| state.messages.get(&id)) {
                    Some(m) => reply(StatusCode::OK, message_json(&app, m)),
                    None => error(StatusCode::NOT_FOUND, 10008, "Unknown Message"),
                },
                Method::PATCH => {
                    if let Some(response) = check_body(&body, false) {
                        return response;
                    }
                    // The original reply exists from the interaction response on (a deferred
                    // "thinking" one included), so editing it before any edit creates it.
                    let id = match (id, *which) {
                        (Some(id), _) => id,
                        (None, "@original") => {
                            let id = state.snowflake();
                            state.originals.insert(token.to_owned(), id.clone());
                            id
                        }
                        (None, _) => return error(StatusCode::NOT_FOUND, 10008, "Unknown Message"),
                    };
                    let previous = state.messages.remove(&id);
                    let original =
                        *which == "@original" || previous.as_ref().is_some_and(|p| p.original);
                    let message = stored(id.clone(), token, original, &body, previous);
                    let json = message_json(&app, &message);
                    state.messages.insert(id, message);
                    reply(StatusCode::OK, json)
                }
                Method::DELETE => match id {
                    Some(id) => {
                        state.messages.remove(&id);
                        StatusCode::NO_CONTENT.into_response()
                    }
                    None => error(StatusCode::NOT_FOUND, 10008, "Unknown Message"),
                },
                _ => error(StatusCode::METHOD_NOT_ALLOWED, 0, "405: Method Not Allowed"),
            }
        }
        _ => error(StatusCode::NOT_FOUND, 0, "404: Not Found"),
    }
}

/// The message after applying `body` (an edit keeps what it does not mention).
fn stored(
    id: String,
    token: &str,
    original: bool,
    body: &Value,
    previous: Option<StoredMessage>,
) -> StoredMessage {
    let previous = previous.unwrap_or(StoredMessage {
        id: id.clone(),
        token: token.to_owned(),
        original,
        content: String::new(),
        components: json!([]),
        allowed_mentions: Value::Null,
        flags: 0,
        edits: 0,
    });
    let edits =
        if previous.content.is_empty() && previous.edits == 0 && previous.components == json!([]) {
            0
        } else {
            previous.edits + 1
        };
    StoredMessage {
        id,
        token: token.to_owned(),
        original,
        content: body
            .get("content")
            .and_then(Value::as_str)
            .map_or(previous.content, str::to_owned),
        components: body
            .get("components")
            .cloned()
            .unwrap_or(previous.components),
        allowed_mentions: body
            .get("allowed_mentions")
            .cloned()
            .unwrap_or(previous.allowed_mentions),
        flags: body
            .get("flags")
            .and_then(Value::as_u64)
            .unwrap_or(previous.flags),
        edits,
    }
}
