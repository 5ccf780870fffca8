//! Telegram intake: `POST /api/v1/webhooks/telegram` (checked against the secret set with
//! `setWebhook`) and, when configured, long polling with `getUpdates`, both feeding one
//! handler.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use kiln_intake::telegram::{self as tg, Update};
use kiln_intake::{Button, Secret, Usage};
use kiln_store::audit::source;
use kiln_store::auth::Role;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::instrument;

use super::{IntakeState, Outcome, report};
use crate::error::{Error, Problem};

/// `[api.telegram]`: off unless `bot_token` is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelegramConfig {
    /// The bot's token from BotFather.
    pub bot_token: Option<Secret>,
    /// The secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` (set with
    /// `setWebhook`); without it the webhook refuses every update.
    pub webhook_secret: Option<Secret>,
    /// The Bot API's address (a local Bot API server, or a fake in tests).
    pub api_base: String,
    /// Telegram user id -> Kiln role. Anyone else is refused.
    pub users: BTreeMap<String, Role>,
    /// Fetch updates with `getUpdates` instead of taking the webhook (removes the webhook).
    pub long_poll: bool,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        Self {
            bot_token: None,
            webhook_secret: None,
            api_base: tg::DEFAULT_BASE_URL.to_owned(),
            users: BTreeMap::new(),
            long_poll: false,
        }
    }
}

impl TelegramConfig {
    pub fn enabled(&self) -> bool {
        self.bot_token
            .as_ref()
            .is_some_and(|t| !t.expose().is_empty())
    }

    pub(crate) fn client(&self) -> Option<tg::Client> {
        let token = self.bot_token.clone().filter(|_| self.enabled())?;
        Some(tg::Client::with_base_url(self.api_base.clone(), token))
    }

    fn role(&self, user_id: i64) -> Option<Role> {
        self.users.get(&user_id.to_string()).copied()
    }
}

/// Take a Telegram update.
///
/// Telegram calls this with every message and button press sent to the bot. The update is
/// refused unless it carries the configured secret; one already taken is acknowledged and
/// ignored.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/telegram", operation_id = "telegram_webhook",
    tag = "intake",
    params(
        ("X-Telegram-Bot-Api-Secret-Token" = Option<String>, Header,
         description = "The secret given to Telegram with setWebhook"),
    ),
    request_body(content = Object, description = "A Telegram Update", content_type = "application/json"),
    responses(
        (status = 200, description = "Taken, or a replay ignored", body = Object),
        (status = 401, description = "Missing or wrong secret, or Telegram intake is not configured", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(update_id = tracing::field::Empty))]
pub async fn webhook(
    State(state): State<IntakeState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Error> {
    let config = &state.app.config.telegram;
    let expected = config
        .webhook_secret
        .as_ref()
        .map(Secret::expose)
        .unwrap_or_default();
    let sent = headers.get(tg::SECRET_HEADER).and_then(|v| v.to_str().ok());
    if !config.enabled() || !tg::verify_secret(sent, expected) {
        return Err(Error::Unauthorized(
            "the Telegram webhook secret is missing or wrong".into(),
        ));
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::BodyTooLarge {
                limit: state.app.config.max_body_bytes,
            }
        } else {
            Error::BodyUnreadable(rejection.body_text())
        }
    })?;
    let update: Update = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            Error::InvalidBody(e.to_string())
        } else {
            Error::MalformedJson(e.to_string())
        }
    })?;
    tracing::Span::current().record("update_id", update.update_id);
    handle(&state, update).await?;
    Ok(Json(json!({ "ok": true })))
}

/// Acts on one update, from the webhook or a long poll. Chat failures are logged, never
/// returned: the update is taken either way.
pub(crate) async fn handle(state: &IntakeState, update: Update) -> Result<(), Error> {
    let Some(client) = state.app.config.telegram.client() else {
        return Ok(());
    };
    let db = &state.app.ctx.db;
    let delivery = update.update_id.to_string();
    if !super::first_delivery(db, source::TELEGRAM, &delivery).await? {
        tracing::info!(
            update_id = update.update_id,
            "telegram update replayed; ignored"
        );
        return Ok(());
    }
    let (Some(sender), Some(chat)) = (update.sender().cloned(), update.chat_id()) else {
        return Ok(());
    };
    let display = sender
        .username
        .clone()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| sender.id.to_string());
    let request_id = format!("telegram-{}", update.update_id);
    let Some(role) = state.app.config.telegram.role(sender.id) else {
        let actor = super::chat_actor("telegram", &sender.id.to_string(), &display);
        super::audit_denied(
            db,
            &actor,
            source::TELEGRAM,
            &format!("chat {chat}"),
            "not on the Telegram allow-list",
            json!({ "user_id": sender.id, "chat_id": chat }),
        )
        .await;
        let refusal = "Sorry, you are not on this Kiln's list of people who may use it. \
                       Ask an admin to add your Telegram user id.";
        match &update.callback_query {
            Some(q) => say(client.answer_callback_query(&q.id, Some(refusal)).await),
            None => say(client.send_message(chat, refusal, &[]).await.map(drop)),
        }
        return Ok(());
    };
    let who = super::chat_principal(
        source::TELEGRAM,
        &sender.id.to_string(),
        &display,
        role,
        &request_id,
    );

    if let Some(q) = &update.callback_query {
        let command = q
            .data
            .as_deref()
            .and_then(|d| Button::parse(d).ok())
            .map(Button::command);
        let answer = match command {
            None => "That button is not one of mine.".to_owned(),
            Some(command) => match super::execute(state, &who, command).await {
                Ok(Outcome::Reply(text)) => text,
                Ok(Outcome::Created(_)) => "Done.".to_owned(),
                Err(e) => e.to_string(),
            },
        };
        say(client.answer_callback_query(&q.id, Some(&answer)).await);
        return Ok(());
    }

    let Some(text) = update.message.as_ref().and_then(|m| m.text.as_deref()) else {
        return Ok(());
    };
    let command = match kiln_intake::parse(text, &state.aliases) {
        Ok(command) => command,
        // Ordinary talk in a group is not for the bot; a private chat gets a pointer.
        Err(Usage::NotACommand) if chat < 0 => return Ok(()),
        Err(usage) => {
            say(client
                .send_message(chat, &usage.to_string(), &[])
                .await
                .map(drop));
            return Ok(());
        }
    };
    match super::execute(state, &who, command).await {
        Ok(Outcome::Created(snapshot)) => {
            report::open_thread(db, snapshot.id, chat).await?;
            super::delivery_task(db, source::TELEGRAM, &delivery, snapshot.id).await?;
            match report::report_one(state, &client, snapshot.id).await {
                Ok(()) => {}
                Err(report::Failure::Remote(e)) => {
                    tracing::warn!(error = %e, "progress message not sent yet; the reporter retries");
                }
                Err(report::Failure::Store(e)) => return Err(e),
            }
            state.wake.notify_one();
        }
        Ok(Outcome::Reply(reply)) => say(client.send_message(chat, &reply, &[]).await.map(drop)),
        Err(e) => {
            if matches!(e, Error::Store(_) | Error::Nats { .. }) {
                tracing::warn!(error = %e, "chat command failed");
            }
            say(client
                .send_message(chat, &e.to_string(), &[])
                .await
                .map(drop));
        }
    }
    Ok(())
}

/// Logs a reply the chat did not take; replies are best effort.
fn say(result: Result<(), tg::Error>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "telegram reply not delivered");
    }
}

/// Long polling: removes the webhook, then feeds every update to [`handle`] until shutdown.
pub(crate) async fn long_poll(state: IntakeState) {
    let Some(client) = state.app.config.telegram.client() else {
        return;
    };
    let shutdown = state.app.shutdown.clone();
    let mut offset: Option<i64> = None;
    let mut delay = Duration::from_secs(1);
    let mut webhook_removed = false;
    while !shutdown.is_cancelled() {
        if !webhook_removed {
            match client.delete_webhook().await {
                Ok(()) => webhook_removed = true,
                Err(e) => tracing::warn!(error = %e, "telegram webhook not removed"),
            }
        }
        let polled = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = client.get_updates(offset, 25) => r,
        };
        match polled {
            Ok(updates) => {
                delay = Duration::from_secs(1);
                for update in updates {
                    offset = Some(update.update_id + 1);
                    if let Err(e) = handle(&state, update).await {
                        tracing::warn!(error = %e, "telegram update not handled");
                    }
                }
            }
            Err(e) => {
                let wait = e.retry_after().unwrap_or(delay);
                tracing::warn!(error = %e, retry_in = ?wait, "telegram updates not fetched");
                delay = (delay * 2).min(Duration::from_secs(30));
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}
