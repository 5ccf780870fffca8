//! A fake Telegram Bot API: `POST /bot<token>/<method>` with JSON (or query-string)
//! parameters, answering `{"ok":true,"result":...}` or `{"ok":false,"error_code":..,
//! "description":..}` as Telegram does.
//!
//! Methods: `getMe`, `sendMessage`, `editMessageText`, `answerCallbackQuery`, `getUpdates`
//! (offset confirms earlier updates, `timeout` long-polls until an update is pushed),
//! `setWebhook`, `deleteWebhook`, `getWebhookInfo`, `setMyCommands` and `getMyCommands`.
//! `getUpdates` is refused with 409 while a webhook is set, like the real API. A test feeds
//! updates in with
//! [`FakeTelegram::push_message`] / [`FakeTelegram::push_callback`], or posts them to a
//! webhook with [`FakeTelegram::deliver_webhook`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use super::{Common, Mode, Server, common_api, lock, now_unix, whole_secs};

/// The bot's own user id, the part of the default token before `:`.
pub const BOT_ID: i64 = 7_000_000_001;
pub const BOT_USERNAME: &str = "KilnTestBot";
/// Telegram's limits.
const MAX_TEXT_CHARS: usize = 4096;
const MAX_CALLBACK_DATA_BYTES: usize = 64;
/// Telegram caps a long poll at 50 seconds.
const MAX_POLL_SECS: u64 = 50;

/// A message as the fake holds it (the latest text and keyboard).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub chat_id: i64,
    pub message_id: i64,
    pub text: String,
    /// `reply_markup` as last sent; `Null` when none.
    pub reply_markup: Value,
    /// How many times it was edited.
    pub edits: u32,
    /// `parse_mode` as sent, if any (Kiln sends none).
    pub parse_mode: Option<String>,
}

#[derive(Default)]
struct State_ {
    messages: BTreeMap<(i64, i64), StoredMessage>,
    next_message_id: BTreeMap<i64, i64>,
    updates: VecDeque<Value>,
    next_update_id: i64,
    /// Callback queries pushed and not yet answered.
    open_callbacks: BTreeSet<String>,
    answered_callbacks: Vec<(String, Option<String>)>,
    next_callback: u64,
    webhook: Option<(String, Option<String>)>,
    commands: Vec<Value>,
}

struct Inner {
    common: Common,
    token: String,
    state: std::sync::Mutex<State_>,
    new_update: Notify,
    http: reqwest::Client,
}

/// The fake Bot API; the server stops when this is dropped.
pub struct FakeTelegram {
    inner: Arc<Inner>,
    server: Server,
}

impl FakeTelegram {
    /// A fake bot with the token `7000000001:fake-telegram-token`.
    pub async fn start() -> Self {
        Self::with_token(&format!("{BOT_ID}:fake-telegram-token")).await
    }

    pub async fn with_token(token: &str) -> Self {
        let inner = Arc::new(Inner {
            common: Common::default(),
            token: token.to_owned(),
            state: std::sync::Mutex::new(State_ {
                next_update_id: 100_000,
                ..State_::default()
            }),
            new_update: Notify::new(),
            http: reqwest::Client::new(),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let server = Server::start(app, "telegram").await;
        Self { inner, server }
    }

    /// `http://127.0.0.1:port`, the client's base URL (it adds `/bot<token>/<method>`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    pub fn token(&self) -> &str {
        &self.inner.token
    }

    common_api!();

    /// Queues an update for `getUpdates` (or a webhook), assigning its `update_id` when it
    /// has none; returns the id.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let id = {
            let mut state = lock(&self.inner.state);
            let id = match update.get("update_id").and_then(Value::as_i64) {
                Some(id) => {
                    state.next_update_id = state.next_update_id.max(id + 1);
                    id
                }
                None => {
                    let id = state.next_update_id;
                    state.next_update_id += 1;
                    update["update_id"] = json!(id);
                    id
                }
            };
            if let Some(cb) = update.pointer("/callback_query/id").and_then(Value::as_str) {
                state.open_callbacks.insert(cb.to_owned());
            }
            state.updates.push_back(update);
            id
        };
        self.inner.new_update.notify_waiters();
        id
    }

    /// A text message from user `from` in chat `chat_id`, as an update; returns its update id.
    pub fn push_message(&self, chat_id: i64, from: i64, text: &str) -> i64 {
        self.push_update(self.message_update(chat_id, from, text))
    }

    /// The update [`FakeTelegram::push_message`] queues, for delivering to a webhook.
    pub fn message_update(&self, chat_id: i64, from: i64, text: &str) -> Value {
        let message_id = self.next_message_id(chat_id);
        json!({
            "message": {
                "message_id": message_id,
                "date": now_unix(),
                "from": {"id": from, "is_bot": false, "first_name": "Test", "username": format!("user{from}")},
                "chat": chat(chat_id),
                "text": text,
                "entities": command_entity(text),
            }
        })
    }

    /// A press of the button with `data` under message `message_id`, as an update; returns
    /// the callback query id to expect in `answerCallbackQuery`.
    pub fn push_callback(&self, chat_id: i64, from: i64, message_id: i64, data: &str) -> String {
        let (update, id) = self.callback_update(chat_id, from, message_id, data);
        self.push_update(update);
        id
    }

    /// The update [`FakeTelegram::push_callback`] queues and its callback query id.
    pub fn callback_update(
        &self,
        chat_id: i64,
        from: i64,
        message_id: i64,
        data: &str,
    ) -> (Value, String) {
        let (id, text) = {
            let mut state = lock(&self.inner.state);
            state.next_callback += 1;
            let id = format!("{}{:06}", from, state.next_callback);
            state.open_callbacks.insert(id.clone());
            let text = state
                .messages
                .get(&(chat_id, message_id))
                .map(|m| m.text.clone())
                .unwrap_or_default();
            (id, text)
        };
        let update = json!({
            "callback_query": {
                "id": id,
                "from": {"id": from, "is_bot": false, "first_name": "Test", "username": format!("user{from}")},
                "chat_instance": format!("{chat_id}"),
                "message": {
                    "message_id": message_id,
                    "date": now_unix(),
                    "from": bot_user(),
                    "chat": chat(chat_id),
                    "text": text,
                },
                "data": data,
            }
        });
        (update, id)
    }

    /// Posts `update` to the webhook set with `setWebhook`, with its secret header, as
    /// Telegram delivers updates; returns the HTTP status the webhook answered.
    pub async fn deliver_webhook(&self, mut update: Value) -> StatusCode {
        let (url, secret) = self
            .webhook()
            .unwrap_or_else(|| panic!("deliver_webhook: no webhook is set"));
        if update.get("update_id").is_none() {
            let mut state = lock(&self.inner.state);
            update["update_id"] = json!(state.next_update_id);
            state.next_update_id += 1;
        }
        let mut request = self.inner.http.post(url).json(&update);
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("deliver_webhook: {e}"));
        StatusCode::from_u16(response.status().as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The webhook URL and secret set with `setWebhook`.
    pub fn webhook(&self) -> Option<(String, Option<String>)> {
        lock(&self.inner.state).webhook.clone()
    }

    /// The command menu set with `setMyCommands`.
    pub fn commands(&self) -> Vec<Value> {
        lock(&self.inner.state).commands.clone()
    }

    /// The message as it stands now (after edits).
    pub fn message(&self, chat_id: i64, message_id: i64) -> Option<StoredMessage> {
        lock(&self.inner.state)
            .messages
            .get(&(chat_id, message_id))
            .cloned()
    }

    /// Every message the bot sent to `chat_id`, oldest first, as they stand now.
    pub fn messages_in(&self, chat_id: i64) -> Vec<StoredMessage> {
        lock(&self.inner.state)
            .messages
            .values()
            .filter(|m| m.chat_id == chat_id)
            .cloned()
            .collect()
    }

    /// `(callback query id, text)` of every answered callback query.
    pub fn answered_callbacks(&self) -> Vec<(String, Option<String>)> {
        lock(&self.inner.state).answered_callbacks.clone()
    }

    /// Updates queued and not yet confirmed by a later `offset`.
    pub fn pending_updates(&self) -> usize {
        lock(&self.inner.state).updates.len()
    }

    fn next_message_id(&self, chat_id: i64) -> i64 {
        let mut state = lock(&self.inner.state);
        next_id(&mut state, chat_id)
    }
}

fn next_id(state: &mut State_, chat_id: i64) -> i64 {
    let next = state.next_message_id.entry(chat_id).or_insert(1);
    let id = *next;
    *next += 1;
    id
}

fn chat(chat_id: i64) -> Value {
    if chat_id < 0 {
        json!({"id": chat_id, "type": "supergroup", "title": "Test group"})
    } else {
        json!({"id": chat_id, "type": "private", "first_name": "Test"})
    }
}

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Kiln", "username": BOT_USERNAME})
}

fn command_entity(text: &str) -> Value {
    if text.starts_with('/') {
        let len = text
            .split_whitespace()
            .next()
            .map_or(0, |w| w.encode_utf16().count());
        json!([{"type": "bot_command", "offset": 0, "length": len}])
    } else {
        json!([])
    }
}

/// A refusal: the error code and description.
type Fail = (u16, String);

fn fail(code: u16, description: &str) -> Fail {
    (code, description.to_owned())
}

fn ok(result: Value) -> Response {
    reply(StatusCode::OK, json!({"ok": true, "result": result}), None)
}

fn error(code: u16, description: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    reply(
        status,
        json!({"ok": false, "error_code": code, "description": description}),
        None,
    )
}

fn reply(status: StatusCode, body: Value, retry_after: Option<u64>) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(secs) = retry_after
        && let Ok(value) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The method's parameters: the JSON body, or the query string.
fn params(uri: &Uri, body: &Bytes) -> Result<Map<String, Value>, Fail> {
    if !body.is_empty() {
        return match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(fail(400, "Bad Request: can't parse JSON object")),
        };
    }
    let query = uri.query().unwrap_or_default();
    let pairs: Vec<(String, String)> = query_pairs(query);
    Ok(pairs
        .into_iter()
        .map(|(k, v)| {
            let value = serde_json::from_str(&v).unwrap_or(Value::String(v));
            (k, value)
        })
        .collect())
}

/// `a=1&b=x%20y` as pairs (percent-decoding and `+` as space).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, fault) = inner.common.record(&method, &uri, &headers, &body);
    match fault {
        Some(
            Mode::RateLimited { retry_after_secs } | Mode::GloballyRateLimited { retry_after_secs },
        ) => {
            let secs = whole_secs(retry_after_secs);
            return reply(
                StatusCode::TOO_MANY_REQUESTS,
                json!({
                    "ok": false,
                    "error_code": 429,
                    "description": format!("Too Many Requests: retry after {secs}"),
                    "parameters": {"retry_after": secs},
                }),
                Some(secs),
            );
        }
        Some(Mode::Down) => return error(500, "Internal Server Error"),
        Some(Mode::Normal) | None => {}
    }
    let mut segments = uri.path().trim_start_matches('/').splitn(2, '/');
    let (bot, api_method) = (
        segments.next().unwrap_or_default(),
        segments.next().unwrap_or_default(),
    );
    let Some(token) = bot.strip_prefix("bot") else {
        return error(404, "Not Found");
    };
    if token != inner.token {
        return error(401, "Unauthorized");
    }
    if method != Method::POST && method != Method::GET {
        return error(405, "Method Not Allowed");
    }
    let params = match params(&uri, &body) {
        Ok(p) => p,
        Err((code, description)) => return error(code, &description),
    };
    // Method names are case-insensitive in the Bot API.
    match api_method.to_ascii_lowercase().as_str() {
        "getme" => ok(bot_user()),
        "sendmessage" => send_message(&inner, &params),
        "editmessagetext" => edit_message_text(&inner, &params),
        "answercallbackquery" => answer_callback_query(&inner, &params),
        "getupdates" => get_updates(&inner, &params).await,
        "setwebhook" => set_webhook(&inner, &params),
        "deletewebhook" => {
            let mut state = lock(&inner.state);
            state.webhook = None;
            if params.get("drop_pending_updates").and_then(Value::as_bool) == Some(true) {
                state.updates.clear();
            }
            ok(json!(true))
        }
        "setmycommands" => {
            let Some(commands) = params.get("commands").and_then(Value::as_array) else {
                return error(400, "Bad Request: parameter \"commands\" is required");
            };
            let valid = commands.len() <= 100
                && commands.iter().all(|c| {
                    let name = c.get("command").and_then(Value::as_str).unwrap_or_default();
                    let description = c
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    (1..=32).contains(&name.len())
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                        && (1..=256).contains(&description.chars().count())
                });
            if !valid {
                return error(400, "Bad Request: BOT_COMMAND_INVALID");
            }
            lock(&inner.state).commands = commands.clone();
            ok(json!(true))
        }
        "getmycommands" => ok(Value::Array(lock(&inner.state).commands.clone())),
        "getwebhookinfo" => {
            let state = lock(&inner.state);
            let url = state
                .webhook
                .as_ref()
                .map(|(u, _)| u.clone())
                .unwrap_or_default();
            ok(
                json!({"url": url, "has_custom_certificate": false, "pending_update_count": state.updates.len()}),
            )
        }
        _ => error(404, "Not Found: method not found"),
    }
}

fn chat_id(params: &Map<String, Value>) -> Result<i64, Fail> {
    match params.get("chat_id") {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| fail(400, "Bad Request: chat not found")),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| fail(400, "Bad Request: chat not found")),
        _ => Err(fail(400, "Bad Request: chat_id is empty")),
    }
}

fn text(params: &Map<String, Value>) -> Result<String, Fail> {
    let text = params
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if text.trim().is_empty() {
        return Err(fail(400, "Bad Request: message text is empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(fail(400, "Bad Request: message is too long"));
    }
    Ok(text.to_owned())
}

/// `reply_markup` checked like Telegram checks inline keyboards.
fn markup(params: &Map<String, Value>) -> Result<Value, Fail> {
    let markup = match params.get("reply_markup") {
        None | Some(Value::Null) => return Ok(Value::Null),
        // Form-encoded calls send it as a JSON string.
        Some(Value::String(s)) => serde_json::from_str(s).map_err(|_| {
            fail(
                400,
                "Bad Request: can't parse reply keyboard markup JSON object",
            )
        })?,
        Some(v) => v.clone(),
    };
    if let Some(rows) = markup.get("inline_keyboard") {
        let rows = rows
            .as_array()
            .ok_or_else(|| fail(400, "Bad Request: field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array of Arrays"))?;
        for button in rows
            .iter()
            .flat_map(|r| r.as_array().cloned().unwrap_or_default())
        {
            if button
                .get("text")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(fail(
                    400,
                    "Bad Request: text buttons are unallowed in the inline keyboard",
                ));
            }
            if let Some(data) = button.get("callback_data").and_then(Value::as_str)
                && (data.is_empty() || data.len() > MAX_CALLBACK_DATA_BYTES)
            {
                return Err(fail(400, "Bad Request: BUTTON_DATA_INVALID"));
            }
        }
    }
    Ok(markup)
}

fn parse_mode(params: &Map<String, Value>) -> Result<Option<String>, Fail> {
    match params.get("parse_mode").and_then(Value::as_str) {
        None | Some("") => Ok(None),
        Some(mode @ ("HTML" | "Markdown" | "MarkdownV2")) => Ok(Some(mode.to_owned())),
        Some(other) => Err(fail(
            400,
            &format!("Bad Request: unsupported parse_mode \"{other}\""),
        )),
    }
}

fn message_json(m: &StoredMessage, edited: bool) -> Value {
    let mut v = json!({
        "message_id": m.message_id,
        "date": now_unix(),
        "from": bot_user(),
        "chat": chat(m.chat_id),
        "text": m.text,
    });
    if !m.reply_markup.is_null() {
        v["reply_markup"] = m.reply_markup.clone();
    }
    if edited {
        v["edit_date"] = json!(now_unix());
    }
    v
}

fn send_message(inner: &Inner, params: &Map<String, Value>) -> Response {
    let result = (|| {
        let chat_id = chat_id(params)?;
        let text = text(params)?;
        let reply_markup = markup(params)?;
        let parse_mode = parse_mode(params)?;
        let mut state = lock(&inner.state);
        let message_id = next_id(&mut state, chat_id);
        let message = StoredMessage {
            chat_id,
            message_id,
            text,
            reply_markup,
            edits: 0,
            parse_mode,
        };
        let json = message_json(&message, false);
        state.messages.insert((chat_id, message_id), message);
        Ok::<_, Fail>(json)
    })();
    result.map_or_else(|(code, description)| error(code, &description), ok)
}

fn edit_message_text(inner: &Inner, params: &Map<String, Value>) -> Response {
    let result = (|| {
        let chat_id = chat_id(params)?;
        let message_id = params
            .get("message_id")
            .and_then(Value::as_i64)
            .ok_or_else(|| fail(400, "Bad Request: message identifier is not specified"))?;
        let text = text(params)?;
        let reply_markup = markup(params)?;
        let parse_mode = parse_mode(params)?;
        let mut state = lock(&inner.state);
        let message = state
            .messages
            .get_mut(&(chat_id, message_id))
            .ok_or_else(|| fail(400, "Bad Request: message to edit not found"))?;
        // An empty inline keyboard and no keyboard are the same thing to Telegram.
        let normal = |v: &Value| match v.get("inline_keyboard").and_then(Value::as_array) {
            Some(rows) if rows.is_empty() => Value::Null,
            _ => v.clone(),
        };
        if message.text == text && normal(&message.reply_markup) == normal(&reply_markup) {
            return Err(fail(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
            ));
        }
        message.text = text;
        message.reply_markup = normal(&reply_markup);
        message.parse_mode = parse_mode;
        message.edits += 1;
        Ok::<_, Fail>(message_json(message, true))
    })();
    result.map_or_else(|(code, description)| error(code, &description), ok)
}

fn answer_callback_query(inner: &Inner, params: &Map<String, Value>) -> Response {
    let Some(id) = params.get("callback_query_id").and_then(Value::as_str) else {
        return error(
            400,
            "Bad Request: parameter \"callback_query_id\" is required",
        );
    };
    let text = params.get("text").and_then(Value::as_str);
    if text.is_some_and(|t| t.chars().count() > 200) {
        return error(400, "Bad Request: MESSAGE_TOO_LONG");
    }
    let mut state = lock(&inner.state);
    if !state.open_callbacks.remove(id) {
        return error(
            400,
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        );
    }
    state
        .answered_callbacks
        .push((id.to_owned(), text.map(str::to_owned)));
    ok(json!(true))
}

async fn get_updates(inner: &Inner, params: &Map<String, Value>) -> Response {
    let offset = params.get("offset").and_then(Value::as_i64);
    let limit = params
        .get("limit")
        .and_then(Value::as_u64)
        .unwrap_or(100)
        .clamp(1, 100) as usize;
    let timeout = params
        .get("timeout")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(MAX_POLL_SECS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let notified = inner.new_update.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut state = lock(&inner.state);
            if state.webhook.is_some() {
                return error(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
                );
            }
            if let Some(offset) = offset {
                // An offset confirms every update before it.
                while state
                    .updates
                    .front()
                    .and_then(|u| u.get("update_id"))
                    .and_then(Value::as_i64)
                    .is_some_and(|id| id < offset)
                {
                    state.updates.pop_front();
                }
            }
            let batch: Vec<Value> = state.updates.iter().take(limit).cloned().collect();
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                return ok(Value::Array(batch));
            }
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

fn set_webhook(inner: &Inner, params: &Map<String, Value>) -> Response {
    let url = params
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let secret = params.get("secret_token").and_then(Value::as_str);
    if let Some(secret) = secret {
        let allowed = !secret.is_empty()
            && secret.len() <= 256
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !allowed {
            return error(
                400,
                "Bad Request: secret token contains unallowed characters",
            );
        }
    }
    let mut state = lock(&inner.state);
    if url.is_empty() {
        state.webhook = None;
        return ok(json!(true));
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return error(
            400,
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
        );
    }
    state.webhook = Some((url.to_owned(), secret.map(str::to_owned)));
    ok(json!(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode() {
        assert_eq!(
            query_pairs("chat_id=5&text=a+b%21&x"),
            vec![
                ("chat_id".into(), "5".into()),
                ("text".into(), "a b!".into()),
                ("x".into(), String::new())
            ]
        );
        assert_eq!(query_pairs("t=100%"), vec![("t".into(), "100%".into())]);
    }
}
