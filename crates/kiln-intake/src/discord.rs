//! Discord interactions: request signature verification, the interaction types Kiln reads,
//! the responses it sends and a client for follow-up messages, so a `/kiln` slash command
//! and approve/reject buttons reach the same [`Command`]s as Telegram.
//!
//! # Registering the command
//!
//! Discord only sends interactions for registered commands. Register [`command_definition`]
//! once per application (globally, or per guild for instant updates while testing):
//!
//! ```text
//! POST https://discord.com/api/v10/applications/{application_id}/commands
//! POST https://discord.com/api/v10/applications/{application_id}/guilds/{guild_id}/commands
//! Authorization: Bot <bot token>
//! Content-Type: application/json
//!
//! <serde_json::to_string(&command_definition(&aliases))>
//! ```
//!
//! Posting again with the same name replaces the definition. Then set the application's
//! Interactions Endpoint URL to the API's Discord route; Discord checks it with a signed PING.
//!
//! Message content is escaped Markdown sent with mentions disabled, so text a user or a
//! model wrote shows as typed and pings nobody.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use ed25519_dalek::{Signature, VerifyingKey};
use kiln_store::auth::Role;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::command::{
    self, Aliases, Button, Command, MAX_BRIEF_CHARS, MAX_TEXT_CHARS, Usage, malformed,
};
use crate::http;

/// Where the Discord API lives unless a test says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://discord.com/api/v10";
/// Headers Discord signs every interaction request with.
pub const SIGNATURE_HEADER: &str = "X-Signature-Ed25519";
pub const TIMESTAMP_HEADER: &str = "X-Signature-Timestamp";
/// How far a request's timestamp may be from now before it counts as a replay.
pub const DEFAULT_MAX_SKEW_SECS: i64 = 300;
/// Discord's limit on a message's content.
pub const MAX_CONTENT_CHARS: usize = 2000;
/// The slash command's name.
pub const COMMAND_NAME: &str = "kiln";

/// Why an interaction request or a Discord API call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configured public key is not 32 bytes of hex.
    #[error("discord public key is not a valid ed25519 key")]
    BadPublicKey,
    /// The signature header is missing or not 64 bytes of hex.
    #[error("discord signature is malformed")]
    MalformedSignature,
    /// The signature does not match: not from Discord, or altered on the way.
    #[error("discord signature does not match")]
    Forged,
    /// The timestamp is not a number of seconds.
    #[error("discord signature timestamp is malformed")]
    MalformedTimestamp,
    /// Signed too long ago (or in the future): a replay, or a badly wrong clock.
    #[error("discord request is {skew_secs}s away from now, more than {max_skew_secs}s")]
    Stale { skew_secs: i64, max_skew_secs: i64 },
    /// The request did not complete; its URL, which holds the interaction token, is removed.
    #[error("discord request failed")]
    Http(#[source] reqwest::Error),
    /// Too many requests: try again after `retry_after`.
    #[error("discord rate limit (global: {global}), retry after {retry_after:?}")]
    RateLimited { retry_after: Duration, global: bool },
    /// Discord refused the call.
    #[error("discord refused the call: {status} {message} (code {code})")]
    Api {
        status: u16,
        code: i64,
        message: String,
    },
    /// Discord answered something that is not a message object.
    #[error("discord answered an unreadable body (status {status})")]
    Decode {
        status: u16,
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// How long to wait before trying again, when Discord said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

/// Checks that `body` was signed by the application's key at `timestamp`, and that
/// `timestamp` (unix seconds, as sent in [`TIMESTAMP_HEADER`]) is within `max_skew_secs` of
/// `now_unix`, so a captured request cannot be replayed later.
pub fn verify(
    public_key_hex: &str,
    signature_hex: &str,
    timestamp: &str,
    body: &[u8],
    now_unix: i64,
    max_skew_secs: i64,
) -> Result<(), Error> {
    let key: [u8; 32] = hex::decode(public_key_hex.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(Error::BadPublicKey)?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| Error::BadPublicKey)?;
    let signature: [u8; 64] = hex::decode(signature_hex.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(Error::MalformedSignature)?;
    let signature = Signature::from_bytes(&signature);
    let signed_at: i64 = timestamp.parse().map_err(|_| Error::MalformedTimestamp)?;
    let skew_secs = now_unix.saturating_sub(signed_at).saturating_abs();
    if skew_secs > max_skew_secs {
        return Err(Error::Stale {
            skew_secs,
            max_skew_secs,
        });
    }
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    // Strict verification refuses the malleable and small-order edge cases plain `verify`
    // lets through.
    key.verify_strict(&message, &signature)
        .map_err(|_| Error::Forged)
}

/// Interaction types Kiln handles.
pub const PING: u8 = 1;
pub const APPLICATION_COMMAND: u8 = 2;
pub const MESSAGE_COMPONENT: u8 = 3;

/// An incoming interaction, with only the fields Kiln reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: u8,
    /// Valid for 15 minutes, for follow-ups; treat it like a password.
    #[serde(default)]
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    /// Set in guilds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Member>,
    /// Set in direct messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Data>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// Ids of the member's guild roles.
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// A command's name and options, or a component's custom id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Data {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<CommandOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandOption {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// A subcommand's own options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<CommandOption>,
}

/// What an interaction asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Discord checking the endpoint: answer [`pong`].
    Ping,
    /// `/kiln <subcommand>`.
    Command(Command),
    /// One of our buttons was pressed.
    Button(Button),
}

impl Interaction {
    /// The user behind the interaction, in a guild or a direct message.
    pub fn user_id(&self) -> Option<&str> {
        self.member
            .as_ref()
            .and_then(|m| m.user.as_ref())
            .or(self.user.as_ref())
            .map(|u| u.id.as_str())
    }

    /// The member's guild role ids; none outside a guild.
    pub fn member_roles(&self) -> &[String] {
        self.member.as_ref().map_or(&[], |m| m.roles.as_slice())
    }

    /// Reads the interaction as a Kiln request. The error is the usage reply to send back.
    pub fn incoming(&self, aliases: &Aliases) -> Result<Incoming, Usage> {
        match self.kind {
            PING => Ok(Incoming::Ping),
            APPLICATION_COMMAND => {
                let data = self.data.as_ref().ok_or(Usage::NotACommand)?;
                if data.name.as_deref() != Some(COMMAND_NAME) {
                    return Err(Usage::NotACommand);
                }
                let sub = data.options.first().ok_or_else(|| Usage::Unknown {
                    name: COMMAND_NAME.to_owned(),
                    help: command::help_text(aliases),
                })?;
                subcommand(sub, aliases).map(Incoming::Command)
            }
            MESSAGE_COMPONENT => {
                let id = self.data.as_ref().and_then(|d| d.custom_id.as_deref());
                id.and_then(|id| Button::parse(id).ok())
                    .map(Incoming::Button)
                    .ok_or(Usage::NotACommand)
            }
            _ => Err(Usage::NotACommand),
        }
    }
}

/// Maps `/kiln <sub> ...options` onto the command model with the chat grammar's checks.
fn subcommand(sub: &CommandOption, aliases: &Aliases) -> Result<Command, Usage> {
    let opts = Options(&sub.options);
    let command = match sub.name.as_str() {
        "new" => {
            let template = opts.required("new", "template")?;
            let template = aliases
                .resolve(template.trim())
                .map_err(|p| malformed("new", p))?;
            let name = command::check_name(opts.required("new", "name")?)
                .map_err(|p| malformed("new", p))?;
            let brief = opts.text("new", "brief", MAX_BRIEF_CHARS)?;
            Command::New {
                template,
                name,
                brief,
            }
        }
        "revise" => Command::Revise {
            project: opts
                .project("revise")?
                .ok_or_else(|| malformed("revise", "say which project"))?,
            brief: opts.text("revise", "brief", MAX_BRIEF_CHARS)?,
        },
        "status" => Command::Status {
            task: opts.task("status")?,
        },
        "answer" => Command::Answer {
            task: opts.required_task("answer")?,
            text: opts.text("answer", "text", MAX_TEXT_CHARS)?,
        },
        "approve" => Command::Approve {
            task: opts.required_task("approve")?,
            reason: opts.optional_text("approve", "reason", MAX_TEXT_CHARS)?,
        },
        "reject" => Command::Reject {
            task: opts.required_task("reject")?,
            feedback: opts.text("reject", "feedback", MAX_TEXT_CHARS)?,
        },
        "cancel" => Command::Cancel {
            task: opts.required_task("cancel")?,
        },
        "pause" => Command::Pause {
            project: opts.project("pause")?,
            reason: opts.optional_text("pause", "reason", MAX_TEXT_CHARS)?,
        },
        "resume" => Command::Resume {
            project: opts.project("resume")?,
        },
        "projects" => Command::Projects,
        "help" => Command::Help,
        other => {
            return Err(Usage::Unknown {
                name: http::truncate(other, 32),
                help: command::help_text(aliases),
            });
        }
    };
    Ok(command)
}

/// A subcommand's string options by name.
struct Options<'a>(&'a [CommandOption]);

impl<'a> Options<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .find(|o| o.name == name)
            .and_then(|o| o.value.as_ref())
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn required(&self, command: &'static str, name: &str) -> Result<&'a str, Usage> {
        self.get(name)
            .ok_or_else(|| malformed(command, format!("{name} is required")))
    }

    fn task(&self, command: &'static str) -> Result<Option<String>, Usage> {
        self.get("task")
            .map(|t| command::check_task(t.trim()).map_err(|p| malformed(command, p)))
            .transpose()
    }

    fn required_task(&self, command: &'static str) -> Result<String, Usage> {
        self.task(command)?
            .ok_or_else(|| malformed(command, "say which task"))
    }

    fn project(&self, command: &'static str) -> Result<Option<String>, Usage> {
        self.get("project")
            .map(|p| command::check_project(p.trim()).map_err(|p| malformed(command, p)))
            .transpose()
    }

    fn optional_text(
        &self,
        command: &'static str,
        name: &str,
        limit: usize,
    ) -> Result<Option<String>, Usage> {
        self.get(name)
            .map(|t| command::check_text(t, limit).map_err(|p| malformed(command, p)))
            .transpose()
    }

    fn text(&self, command: &'static str, name: &str, limit: usize) -> Result<String, Usage> {
        self.optional_text(command, name, limit)?
            .ok_or_else(|| malformed(command, format!("{name} is required")))
    }
}

/// The Kiln role an allow-listed guild role grants: the highest among the member's roles,
/// none when no role of theirs is mapped.
pub fn role_for(member_roles: &[String], map: &BTreeMap<String, Role>) -> Option<Role> {
    member_roles
        .iter()
        .filter_map(|r| map.get(r))
        .copied()
        .max()
}

/// Answer to a PING.
pub fn pong() -> Value {
    json!({ "type": 1 })
}

/// "Thinking…": the reply comes later as an edit of the original. Discord wants an answer
/// within 3 seconds; anything that waits on the database or NATS should defer first.
pub fn deferred(ephemeral: bool) -> Value {
    let mut response = json!({ "type": 5 });
    if ephemeral {
        response["data"] = json!({ "flags": EPHEMERAL });
    }
    response
}

/// An immediate reply with optional approve/reject buttons; ephemeral replies are seen only
/// by the person who asked (usage errors, refusals).
pub fn message(content: &str, buttons: &[Button], ephemeral: bool) -> Value {
    let mut data = message_body(content, buttons);
    if ephemeral {
        data["flags"] = json!(EPHEMERAL);
    }
    json!({ "type": 4, "data": data })
}

const EPHEMERAL: u32 = 1 << 6;

/// The body shared by replies, follow-ups and edits: escaped content, no mentions, and the
/// buttons (an empty list removes any buttons on edit).
fn message_body(content: &str, buttons: &[Button]) -> Value {
    json!({
        "content": http::truncate(&escape_markdown(content), MAX_CONTENT_CHARS),
        "allowed_mentions": { "parse": [] },
        "components": components(buttons),
    })
}

fn components(buttons: &[Button]) -> Value {
    if buttons.is_empty() {
        return json!([]);
    }
    let row: Vec<Value> = buttons
        .iter()
        .map(|b| {
            // Success (green) and danger (red) styles.
            let style = match b {
                Button::Approve(_) => 3,
                Button::Reject(_) => 4,
            };
            json!({ "type": 2, "style": style, "label": b.label(), "custom_id": b.data() })
        })
        .collect();
    json!([{ "type": 1, "components": row }])
}

/// `text` with every Markdown-significant character escaped, so it renders as typed.
/// Words that are web addresses keep `_`, `-`, `:`, `#` and `@`, which would otherwise break
/// the link, but lose brackets, which could hide a masked link inside them.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut url = false;
    let mut at_word_start = true;
    for (i, c) in text.char_indices() {
        if at_word_start {
            let rest = &text[i..];
            url = rest.starts_with("https://") || rest.starts_with("http://");
        }
        let always = matches!(
            c,
            '\\' | '*' | '~' | '`' | '|' | '>' | '[' | ']' | '(' | ')' | '<'
        );
        let outside_urls = matches!(c, '_' | '-' | '#' | '@' | ':');
        if always || (outside_urls && !url) {
            out.push('\\');
        }
        out.push(c);
        at_word_start = c.is_whitespace();
    }
    out
}

/// The `/kiln` slash command, for registering (see the module docs). Templates are offered
/// as choices (Discord allows 25), listed by name and alias.
pub fn command_definition(aliases: &Aliases) -> Value {
    let string = |name: &str, description: &str, required: bool, max: usize| {
        json!({
            "type": 3, "name": name, "description": description,
            "required": required, "max_length": max,
        })
    };
    let task = |required: bool| string("task", "Task id or its first 8 characters", required, 36);
    let project = |required: bool| string("project", "Project name", required, 63);
    let mut templates: Vec<(&str, &str)> = aliases.iter().map(|(a, t)| (t, a)).collect();
    templates.sort();
    let choices: Vec<Value> = templates
        .iter()
        .take(25)
        .map(|(t, a)| json!({ "name": format!("{t} ({a})"), "value": t }))
        .collect();
    let mut template = string("template", "Stack template", true, 63);
    if !choices.is_empty() {
        template["choices"] = json!(choices);
    }
    let sub = |name: &str, description: &str, options: Vec<Value>| json!({ "type": 1, "name": name, "description": description, "options": options });
    json!({
        "name": COMMAND_NAME,
        "type": 1,
        "description": "Steer Kiln: build apps, follow tasks, approve releases",
        "options": [
            sub("new", "Start a new app from a template", vec![
                template,
                string("name", "Name of the new app (letters, digits, '-')", true, 63),
                string("brief", "What to build", true, MAX_BRIEF_CHARS),
            ]),
            sub("revise", "Change an existing project", vec![
                project(true),
                string("brief", "What to change", true, MAX_BRIEF_CHARS),
            ]),
            sub("status", "One task, or what is running", vec![task(false)]),
            sub("answer", "Answer a task's questions", vec![
                task(true),
                string("text", "Your answer", true, MAX_TEXT_CHARS),
            ]),
            sub("approve", "Approve a plan or a release", vec![
                task(true),
                string("reason", "Why", false, MAX_TEXT_CHARS),
            ]),
            sub("reject", "Reject a plan or a release", vec![
                task(true),
                string("feedback", "What should change", true, MAX_TEXT_CHARS),
            ]),
            sub("cancel", "Stop a task", vec![task(true)]),
            sub("pause", "Pause everything or one project (admin)", vec![
                project(false),
                string("reason", "Why", false, MAX_TEXT_CHARS),
            ]),
            sub("resume", "Lift a pause (admin)", vec![project(false)]),
            sub("projects", "List projects", vec![]),
            sub("help", "What Kiln can do", vec![]),
        ],
    })
}

#[derive(Deserialize)]
struct MessageId {
    id: String,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: i64,
    #[serde(default)]
    retry_after: Option<f64>,
    #[serde(default)]
    global: bool,
}

/// Follow-up messages of one application's interactions. Interaction webhooks need no bot
/// token: the interaction token in the URL is the credential, so it is never logged.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    application_id: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("discord::Client")
            .field("base", &self.base)
            .field("application_id", &self.application_id)
            .finish()
    }
}

impl Client {
    pub fn new(application_id: impl Into<String>) -> Self {
        Self::with_base_url(DEFAULT_BASE_URL, application_id)
    }

    pub fn with_base_url(base: impl Into<String>, application_id: impl Into<String>) -> Self {
        Self {
            http: http::client(),
            base: http::trim_base(base),
            application_id: application_id.into(),
        }
    }

    /// Posts a follow-up message to the interaction; returns its message id.
    pub async fn followup(
        &self,
        token: &str,
        content: &str,
        buttons: &[Button],
    ) -> Result<String, Error> {
        let url = format!("{}/webhooks/{}/{token}", self.base, self.application_id);
        let request = self.http.post(url).json(&message_body(content, buttons));
        Ok(send(request).await?.id)
    }

    /// Replaces the interaction's original reply (the one a deferred response left).
    pub async fn edit_original(
        &self,
        token: &str,
        content: &str,
        buttons: &[Button],
    ) -> Result<(), Error> {
        let url = format!(
            "{}/webhooks/{}/{token}/messages/@original",
            self.base, self.application_id
        );
        let request = self.http.patch(url).json(&message_body(content, buttons));
        send(request).await.map(drop)
    }
}

async fn send(request: reqwest::RequestBuilder) -> Result<MessageId, Error> {
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
    if (200..300).contains(&status) {
        return serde_json::from_slice(&bytes).map_err(|source| Error::Decode { status, source });
    }
    let body: Option<ApiError> = serde_json::from_slice(&bytes).ok();
    if status == 429 {
        // The body's float is more precise than the header's whole seconds.
        let body_delay = body
            .as_ref()
            .and_then(|b| b.retry_after)
            .and_then(http::seconds);
        return Err(Error::RateLimited {
            retry_after: body_delay
                .or(header_delay)
                .unwrap_or(Duration::from_secs(1)),
            global: body.is_some_and(|b| b.global),
        });
    }
    let (code, message) = body.map_or((0, String::new()), |b| (b.code, b.message));
    Err(Error::Api {
        status,
        code,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use uuid::Uuid;

    const NOW: i64 = 1_750_000_000;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn signed(body: &str, timestamp: &str) -> String {
        let mut message = timestamp.as_bytes().to_vec();
        message.extend_from_slice(body.as_bytes());
        hex::encode(key().sign(&message).to_bytes())
    }

    fn public() -> String {
        hex::encode(key().verifying_key().to_bytes())
    }

    #[test]
    fn accepts_a_valid_signature() {
        let body = r#"{"type":1}"#;
        let ts = NOW.to_string();
        verify(
            &public(),
            &signed(body, &ts),
            &ts,
            body.as_bytes(),
            NOW,
            DEFAULT_MAX_SKEW_SECS,
        )
        .expect("valid signature");
    }

    #[test]
    fn refuses_forged_altered_and_malformed_signatures() {
        let body = r#"{"type":1}"#;
        let ts = NOW.to_string();
        let sig = signed(body, &ts);
        let check = |key: &str, sig: &str, ts: &str, body: &str| {
            verify(key, sig, ts, body.as_bytes(), NOW, DEFAULT_MAX_SKEW_SECS)
        };
        assert!(matches!(
            check(&public(), &sig, &ts, r#"{"type":2}"#),
            Err(Error::Forged)
        ));
        let other_ts = (NOW - 1).to_string();
        assert!(matches!(
            check(&public(), &sig, &other_ts, body),
            Err(Error::Forged)
        ));
        let other = hex::encode(SigningKey::from_bytes(&[8; 32]).verifying_key().to_bytes());
        assert!(matches!(check(&other, &sig, &ts, body), Err(Error::Forged)));
        assert!(matches!(
            check(&public(), "abcd", &ts, body),
            Err(Error::MalformedSignature)
        ));
        assert!(matches!(
            check("zz", &sig, &ts, body),
            Err(Error::BadPublicKey)
        ));
        assert!(matches!(
            check(&public(), &sig, "soon", body),
            Err(Error::MalformedTimestamp)
        ));
    }

    #[test]
    fn refuses_stale_and_future_timestamps() {
        let body = "{}";
        for ts in [NOW - 301, NOW + 301] {
            let ts = ts.to_string();
            let e = verify(
                &public(),
                &signed(body, &ts),
                &ts,
                body.as_bytes(),
                NOW,
                300,
            )
            .expect_err("outside the window");
            assert!(matches!(e, Error::Stale { skew_secs: 301, .. }), "{e:?}");
        }
        let ts = (NOW - 300).to_string();
        assert!(
            verify(
                &public(),
                &signed(body, &ts),
                &ts,
                body.as_bytes(),
                NOW,
                300
            )
            .is_ok()
        );
    }

    fn aliases() -> Aliases {
        Aliases::new([("expo", "expo"), ("static-site", "web")]).expect("aliases")
    }

    fn slash(sub: &str, options: Value) -> Interaction {
        serde_json::from_value(json!({
            "id": "1", "type": 2, "token": "tok", "guild_id": "g1",
            "member": {"user": {"id": "u1", "username": "sara"}, "roles": ["r1", "r2"]},
            "data": {"name": "kiln", "type": 1, "options": [
                {"name": sub, "type": 1, "options": options}
            ]}
        }))
        .expect("interaction")
    }

    fn opt(name: &str, value: &str) -> Value {
        json!({"name": name, "type": 3, "value": value})
    }

    #[test]
    fn maps_slash_commands_to_commands() {
        let a = aliases();
        let cases = [
            (
                slash(
                    "new",
                    json!([
                        opt("template", "web"),
                        opt("name", "Landing"),
                        opt("brief", " A page ")
                    ]),
                ),
                Command::New {
                    template: "static-site".into(),
                    name: "Landing".into(),
                    brief: "A page".into(),
                },
            ),
            (slash("status", json!([])), Command::Status { task: None }),
            (
                slash("status", json!([opt("task", "0193A4B2")])),
                Command::Status {
                    task: Some("0193a4b2".into()),
                },
            ),
            (
                slash(
                    "approve",
                    json!([opt("task", "0193a4b2"), opt("reason", "ok")]),
                ),
                Command::Approve {
                    task: "0193a4b2".into(),
                    reason: Some("ok".into()),
                },
            ),
            (
                slash(
                    "reject",
                    json!([opt("task", "0193a4b2"), opt("feedback", "darker")]),
                ),
                Command::Reject {
                    task: "0193a4b2".into(),
                    feedback: "darker".into(),
                },
            ),
            (
                slash("pause", json!([opt("reason", "disk full")])),
                Command::Pause {
                    project: None,
                    reason: Some("disk full".into()),
                },
            ),
            (
                slash("resume", json!([opt("project", "shop")])),
                Command::Resume {
                    project: Some("shop".into()),
                },
            ),
            (slash("projects", json!([])), Command::Projects),
        ];
        for (interaction, want) in cases {
            assert_eq!(interaction.incoming(&a), Ok(Incoming::Command(want)));
        }
        let i = slash("status", json!([]));
        assert_eq!(i.user_id(), Some("u1"));
        assert_eq!(i.member_roles(), ["r1", "r2"]);
        assert_eq!(i.guild_id.as_deref(), Some("g1"));
    }

    #[test]
    fn bad_slash_options_get_the_usage_reply() {
        let a = aliases();
        let cases = [
            (
                slash(
                    "new",
                    json!([opt("template", "web"), opt("name", "1x"), opt("brief", "b")]),
                ),
                "start with a letter",
            ),
            (
                slash("new", json!([opt("name", "x"), opt("brief", "b")])),
                "template is required",
            ),
            (
                slash("reject", json!([opt("task", "0193a4b2")])),
                "feedback is required",
            ),
            (
                slash("approve", json!([opt("task", "0193")])),
                "first 8 characters",
            ),
        ];
        for (interaction, needle) in cases {
            let e = interaction.incoming(&a).expect_err("refused");
            assert!(e.to_string().contains(needle), "{e} lacks {needle}");
        }
        assert!(matches!(
            slash("deploy", json!([])).incoming(&a),
            Err(Usage::Unknown { .. })
        ));
    }

    #[test]
    fn pings_and_buttons_are_recognised() {
        let ping: Interaction = serde_json::from_value(json!({"id": "1", "type": 1})).unwrap();
        assert_eq!(ping.incoming(&aliases()), Ok(Incoming::Ping));
        assert_eq!(pong(), json!({"type": 1}));
        let task = Uuid::now_v7();
        let press: Interaction = serde_json::from_value(json!({
            "id": "2", "type": 3, "token": "t", "user": {"id": "u9"},
            "data": {"custom_id": Button::Reject(task).data(), "component_type": 2}
        }))
        .unwrap();
        assert_eq!(
            press.incoming(&aliases()),
            Ok(Incoming::Button(Button::Reject(task)))
        );
        assert_eq!(press.user_id(), Some("u9"));
        assert!(press.member_roles().is_empty());
        let forged: Interaction = serde_json::from_value(json!({
            "id": "3", "type": 3, "data": {"custom_id": "deploy:now"}
        }))
        .unwrap();
        assert_eq!(forged.incoming(&aliases()), Err(Usage::NotACommand));
    }

    #[test]
    fn the_highest_mapped_role_wins() {
        let map = BTreeMap::from([
            ("ops".to_owned(), Role::Operator),
            ("leads".to_owned(), Role::Approver),
        ]);
        let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            role_for(&roles(&["ops", "leads", "x"]), &map),
            Some(Role::Approver)
        );
        assert_eq!(role_for(&roles(&["ops"]), &map), Some(Role::Operator));
        assert_eq!(role_for(&roles(&["x"]), &map), None);
    }

    #[test]
    fn responses_escape_content_and_carry_buttons() {
        let task = Uuid::now_v7();
        let m = message("**bold** @everyone", &Button::pair(task), true);
        assert_eq!(m["type"], 4);
        assert_eq!(m["data"]["content"], "\\*\\*bold\\*\\* \\@everyone");
        assert_eq!(m["data"]["allowed_mentions"], json!({"parse": []}));
        assert_eq!(m["data"]["flags"], 64);
        let row = &m["data"]["components"][0]["components"];
        assert_eq!(row[0]["custom_id"], Button::Approve(task).data());
        assert_eq!(row[1]["style"], 4);
        assert_eq!(deferred(false), json!({"type": 5}));
        assert_eq!(message("x", &[], false)["data"]["components"], json!([]));
        assert_eq!(
            escape_markdown("see https://a.example/x_y-z#q [a](b) _it_"),
            "see https://a.example/x_y-z#q \\[a\\]\\(b\\) \\_it\\_"
        );
    }

    #[test]
    fn the_definition_lists_every_subcommand_and_template() {
        let d = command_definition(&aliases());
        assert_eq!(d["name"], "kiln");
        let names: Vec<&str> = d["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "new", "revise", "status", "answer", "approve", "reject", "cancel", "pause",
                "resume", "projects", "help"
            ]
        );
        let choices = &d["options"][0]["options"][0]["choices"];
        assert_eq!(
            choices[1],
            json!({"name": "static-site (web)", "value": "static-site"})
        );
        for sub in d["options"].as_array().unwrap() {
            let len = sub["description"].as_str().unwrap().len();
            assert!((1..=100).contains(&len), "{sub}");
        }
    }
}
