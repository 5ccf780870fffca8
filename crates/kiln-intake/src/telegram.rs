//! Telegram Bot API: the update types Kiln reads, webhook verification and a client for the
//! few methods a chat thread needs, so the API can take commands by webhook or long polling
//! and keep one progress message per task up to date.
//!
//! Messages are sent without `parse_mode`: text is shown exactly as sent, so nothing a user
//! or a model wrote can turn into markup or links.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use kiln_store::auth::Role;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::debug;

use crate::Secret;
use crate::command::{Aliases, Button};
use crate::http;

/// Where the Bot API lives unless a test or a local Bot API server says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.telegram.org";
/// Header carrying the secret set with `setWebhook`.
pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";
/// Telegram's limit on a message's text.
pub const MAX_MESSAGE_CHARS: usize = 4096;
/// Telegram's limit on a callback query answer.
const MAX_CALLBACK_ANSWER_CHARS: usize = 200;

/// One incoming update; kinds Kiln does not handle leave both fields empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    pub update_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_query: Option<CallbackQuery>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub message_id: i64,
    /// Empty for messages sent on behalf of a channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<User>,
    pub chat: Chat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chat {
    pub id: i64,
}

/// A press on one of our inline buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackQuery {
    pub id: String,
    pub from: User,
    /// The message the button was under; absent when it is too old for Telegram to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl Update {
    /// Who sent the message or pressed the button.
    pub fn sender(&self) -> Option<&User> {
        match (&self.message, &self.callback_query) {
            (_, Some(q)) => Some(&q.from),
            (Some(m), None) => m.from.as_ref(),
            (None, None) => None,
        }
    }

    /// The chat the update belongs to.
    pub fn chat_id(&self) -> Option<i64> {
        match (&self.message, &self.callback_query) {
            (_, Some(q)) => q.message.as_ref().map(|m| m.chat.id),
            (Some(m), None) => Some(m.chat.id),
            (None, None) => None,
        }
    }
}

/// Whether a `/cmd@Name` message is meant for another bot in the same group, so that only
/// the bot it names answers. Commands without `@` are for every bot.
pub fn addressed_elsewhere(text: &str, bot_username: &str) -> bool {
    let first = text
        .trim_start()
        .split(char::is_whitespace)
        .next()
        .unwrap_or_default();
    match first.split_once('@') {
        Some((_, name)) => !name.eq_ignore_ascii_case(bot_username.trim_start_matches('@')),
        None => false,
    }
}

/// Checks the webhook's secret header against the configured secret in constant time.
/// Both sides are hashed first so neither length nor content leaks through timing; an empty
/// expected secret never matches, so a missing configuration cannot open the webhook.
pub fn verify_secret(header: Option<&str>, expected: &str) -> bool {
    header.is_some_and(|h| crate::http::same_secret(h, expected))
}

/// The Kiln role of an allow-listed Telegram user; none for anyone not on the list.
pub fn role_for(user_id: i64, allowed: &BTreeMap<i64, Role>) -> Option<Role> {
    allowed.get(&user_id).copied()
}

/// `setMyCommands` entries: Telegram allows 100 commands of `[a-z0-9_]{1,32}` with a
/// description of 1 to 256 characters.
fn menu(aliases: &Aliases) -> Vec<Value> {
    let built_in = [
        ("new", "Start a new app: /new <template> <Name> <brief>"),
        ("revise", "Change a project: /revise <project> <brief>"),
        ("status", "One task, or what is running"),
        ("answer", "Answer a task's questions"),
        ("approve", "Approve a plan or a release"),
        ("reject", "Reject it, saying why"),
        ("cancel", "Stop a task"),
        ("pause", "Pause everything or one project"),
        ("resume", "Lift a pause"),
        ("projects", "List projects"),
        ("help", "What Kiln can do"),
    ];
    let mut entries: Vec<Value> = built_in
        .iter()
        .map(|(c, d)| json!({ "command": c, "description": d }))
        .collect();
    for (alias, template) in aliases.iter() {
        let description =
            http::truncate(&format!("New {template} app: /{alias} <Name> <brief>"), 256);
        entries.push(json!({ "command": alias, "description": description }));
    }
    entries.truncate(100);
    entries
}

/// What a Bot API call can end in besides success.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request did not complete (connection, timeout); its URL, which holds the token,
    /// is removed.
    #[error("telegram request failed")]
    Http(#[source] reqwest::Error),
    /// Too many requests: try again after `retry_after`.
    #[error("telegram rate limit, retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// Telegram refused the call (`ok: false`), e.g. 401 for a wrong token.
    #[error("telegram refused {method}: {code} {description}")]
    Api {
        method: &'static str,
        code: i64,
        description: String,
    },
    /// The answer was not the Bot API's envelope.
    #[error("telegram answered {method} with an unreadable body (status {status})")]
    Decode {
        method: &'static str,
        status: u16,
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// How long to wait before trying again, when Telegram said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    ok: bool,
    #[serde(default)]
    result: Value,
    #[serde(default)]
    error_code: Option<i64>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    #[serde(default)]
    retry_after: Option<u64>,
}

/// A Bot API client for one bot. The token is part of every URL and is never printed.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("telegram::Client")
            .field("base", &self.base)
            .field("token", &self.token)
            .finish()
    }
}

impl Client {
    /// A client of the public Bot API.
    pub fn new(token: Secret) -> Self {
        Self::with_base_url(DEFAULT_BASE_URL, token)
    }

    /// A client of the Bot API at `base` (a local Bot API server, or a fake in tests).
    pub fn with_base_url(base: impl Into<String>, token: Secret) -> Self {
        Self {
            http: http::client(),
            base: http::trim_base(base),
            token,
        }
    }

    /// Sends `text` as plain text, with approve/reject buttons under it; returns the new
    /// message's id so later progress edits it instead of adding messages.
    pub async fn send_message(
        &self,
        chat_id: i64,
        text: &str,
        buttons: &[Button],
    ) -> Result<i64, Error> {
        let mut body = json!({
            "chat_id": chat_id,
            "text": http::truncate(text, MAX_MESSAGE_CHARS),
        });
        if !buttons.is_empty() {
            body["reply_markup"] = keyboard(buttons);
        }
        let result = self.call("sendMessage", &body, None).await?;
        let message: Message = serde_json::from_value(result).map_err(|source| Error::Decode {
            method: "sendMessage",
            status: 200,
            source,
        })?;
        Ok(message.message_id)
    }

    /// Replaces a message's text and buttons (no buttons removes them). An edit that changes
    /// nothing succeeds: progress is re-rendered on every event, often identically.
    pub async fn edit_message_text(
        &self,
        chat_id: i64,
        message_id: i64,
        text: &str,
        buttons: &[Button],
    ) -> Result<(), Error> {
        let body = json!({
            "chat_id": chat_id,
            "message_id": message_id,
            "text": http::truncate(text, MAX_MESSAGE_CHARS),
            "reply_markup": keyboard(buttons),
        });
        match self.call("editMessageText", &body, None).await {
            Ok(_) => Ok(()),
            Err(Error::Api { description, .. })
                if description.contains("message is not modified") =>
            {
                debug!(chat_id, message_id, "message already up to date");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Acknowledges a button press (Telegram shows a spinner until this is called), with an
    /// optional short notice.
    pub async fn answer_callback_query(&self, id: &str, text: Option<&str>) -> Result<(), Error> {
        let mut body = json!({ "callback_query_id": id });
        if let Some(text) = text {
            body["text"] = json!(http::truncate(text, MAX_CALLBACK_ANSWER_CHARS));
        }
        self.call("answerCallbackQuery", &body, None)
            .await
            .map(drop)
    }

    /// Long polling: waits up to `timeout_secs` for updates from `offset` on (the last seen
    /// `update_id + 1`, which also confirms the earlier ones).
    pub async fn get_updates(
        &self,
        offset: Option<i64>,
        timeout_secs: u32,
    ) -> Result<Vec<Update>, Error> {
        let mut body = json!({
            "timeout": timeout_secs,
            "allowed_updates": ["message", "callback_query"],
        });
        if let Some(offset) = offset {
            body["offset"] = json!(offset);
        }
        // Telegram holds the request open for the poll's length; allow that plus the usual.
        let timeout = Duration::from_secs(u64::from(timeout_secs)) + http::REQUEST_TIMEOUT;
        let result = self.call("getUpdates", &body, Some(timeout)).await?;
        serde_json::from_value(result).map_err(|source| Error::Decode {
            method: "getUpdates",
            status: 200,
            source,
        })
    }

    /// The bot itself: its id and username (for [`addressed_elsewhere`]), and a check that
    /// the token works.
    pub async fn get_me(&self) -> Result<User, Error> {
        let result = self.call("getMe", &json!({}), None).await?;
        serde_json::from_value(result).map_err(|source| Error::Decode {
            method: "getMe",
            status: 200,
            source,
        })
    }

    /// Removes the webhook, which long polling needs (Telegram refuses `getUpdates` while
    /// one is set).
    pub async fn delete_webhook(&self) -> Result<(), Error> {
        self.call("deleteWebhook", &json!({}), None).await.map(drop)
    }

    /// The command menu Telegram shows: every built-in command and every template alias.
    pub async fn set_my_commands(&self, aliases: &Aliases) -> Result<(), Error> {
        let body = json!({ "commands": menu(aliases) });
        self.call("setMyCommands", &body, None).await.map(drop)
    }

    /// Points Telegram at `url`, sending `secret` in [`SECRET_HEADER`] with every update.
    pub async fn set_webhook(&self, url: &str, secret: &Secret) -> Result<(), Error> {
        let body = json!({
            "url": url,
            "secret_token": secret.expose(),
            "allowed_updates": ["message", "callback_query"],
        });
        self.call("setWebhook", &body, None).await.map(drop)
    }

    async fn call(
        &self,
        method: &'static str,
        body: &Value,
        timeout: Option<Duration>,
    ) -> Result<Value, Error> {
        let url = format!("{}/bot{}/{method}", self.base, self.token.expose());
        let mut request = self.http.post(url).json(body);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Error::Http(http::scrub(e)))?;
        let status = response.status().as_u16();
        let header_delay = http::retry_after_header(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::Http(http::scrub(e)))?;
        let envelope: Envelope = match serde_json::from_slice(&bytes) {
            Ok(envelope) => envelope,
            // A proxy or an outage page can still say "slow down" by status alone.
            Err(_) if status == 429 => {
                return Err(Error::RateLimited {
                    retry_after: header_delay.unwrap_or(Duration::from_secs(1)),
                });
            }
            Err(source) => {
                return Err(Error::Decode {
                    method,
                    status,
                    source,
                });
            }
        };
        if envelope.ok {
            return Ok(envelope.result);
        }
        let code = envelope.error_code.unwrap_or(i64::from(status));
        if code == 429 {
            let body_delay = envelope
                .parameters
                .and_then(|p| p.retry_after)
                .map(Duration::from_secs);
            return Err(Error::RateLimited {
                retry_after: body_delay
                    .or(header_delay)
                    .unwrap_or(Duration::from_secs(1)),
            });
        }
        Err(Error::Api {
            method,
            code,
            description: envelope.description.unwrap_or_default(),
        })
    }
}

/// An inline keyboard with the buttons on one row; an empty one removes any keyboard.
fn keyboard(buttons: &[Button]) -> Value {
    let row: Vec<Value> = buttons
        .iter()
        .map(|b| json!({ "text": b.label(), "callback_data": b.data() }))
        .collect();
    if row.is_empty() {
        json!({ "inline_keyboard": [] })
    } else {
        json!({ "inline_keyboard": [row] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Aliases, Command, parse};
    use uuid::Uuid;

    #[test]
    fn secret_must_match_exactly() {
        assert!(verify_secret(Some("s3cret-token"), "s3cret-token"));
        assert!(!verify_secret(Some("s3cret-tokem"), "s3cret-token"));
        assert!(!verify_secret(Some("s3cret"), "s3cret-token"));
        assert!(!verify_secret(None, "s3cret-token"));
        assert!(
            !verify_secret(Some(""), ""),
            "an unset secret never matches"
        );
    }

    #[test]
    fn reads_message_and_callback_updates() {
        let message: Update = serde_json::from_value(json!({
            "update_id": 10,
            "message": {
                "message_id": 5, "date": 1, "text": "/expo Tadwerak Build it",
                "from": {"id": 7_000_000_001_i64, "is_bot": false, "username": "sara"},
                "chat": {"id": -100_123, "type": "group"}
            }
        }))
        .expect("message update");
        assert_eq!(message.chat_id(), Some(-100_123));
        assert_eq!(message.sender().map(|u| u.id), Some(7_000_000_001));
        let text = message
            .message
            .as_ref()
            .and_then(|m| m.text.as_deref())
            .unwrap();
        let aliases = Aliases::new([("expo", "expo")]).unwrap();
        assert!(matches!(parse(text, &aliases), Ok(Command::New { .. })));

        let task = Uuid::now_v7();
        let callback: Update = serde_json::from_value(json!({
            "update_id": 11,
            "callback_query": {
                "id": "cb1", "chat_instance": "x",
                "from": {"id": 8, "username": "ali"},
                "message": {"message_id": 6, "chat": {"id": 3}, "text": "progress"},
                "data": Button::Approve(task).data()
            }
        }))
        .expect("callback update");
        assert_eq!(callback.chat_id(), Some(3));
        assert_eq!(
            callback.sender().and_then(|u| u.username.as_deref()),
            Some("ali")
        );
        let data = callback.callback_query.and_then(|q| q.data).unwrap();
        assert_eq!(Button::parse(&data), Ok(Button::Approve(task)));

        let other: Update =
            serde_json::from_value(json!({"update_id": 12, "edited_message": {}})).unwrap();
        assert_eq!((&other.message, other.chat_id()), (&None, None));
    }

    #[test]
    fn commands_for_other_bots_are_recognised() {
        assert!(addressed_elsewhere("/status@OtherBot", "KilnBot"));
        assert!(!addressed_elsewhere("/status@kilnbot 0193a4b2", "@KilnBot"));
        assert!(!addressed_elsewhere("/status", "KilnBot"));
    }

    #[test]
    fn keyboards_carry_button_data_and_empty_ones_clear() {
        let task = Uuid::now_v7();
        let k = keyboard(&Button::pair(task));
        assert_eq!(
            k["inline_keyboard"][0][0]["callback_data"],
            Button::Approve(task).data()
        );
        assert_eq!(k["inline_keyboard"][0][1]["text"], "Reject");
        assert_eq!(keyboard(&[]), json!({"inline_keyboard": []}));
    }

    #[test]
    fn the_menu_lists_commands_and_aliases_and_roles_come_from_the_list() {
        let aliases = Aliases::new([("static-site", "web"), ("expo", "expo")]).unwrap();
        let menu = menu(&aliases);
        assert_eq!(menu.len(), 13);
        assert_eq!(menu[0]["command"], "new");
        assert!(menu.iter().any(|c| c["command"] == "web"
            && c["description"] == "New static-site app: /web <Name> <brief>"));
        let allowed = BTreeMap::from([(7_i64, Role::Operator)]);
        assert_eq!(role_for(7, &allowed), Some(Role::Operator));
        assert_eq!(role_for(8, &allowed), None);
    }

    #[test]
    fn the_token_never_prints() {
        let client = Client::new(Secret::new("123:abc-very-secret"));
        let debug = format!("{client:?}");
        assert!(!debug.contains("very-secret"), "{debug}");
    }
}
