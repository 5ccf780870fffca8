//! Discord intake: `POST /api/v1/webhooks/discord`, the application's interactions endpoint,
//! verified with the application's Ed25519 key. PINGs are answered with PONG; slash commands
//! and button presses are answered with a deferred response at once and completed with an
//! edit of the original reply, which for a new task is its progress message from then on.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use kiln_intake::Surface;
use kiln_intake::discord::{self as dc, Incoming, Interaction};
use kiln_store::audit::source;
use kiln_store::auth::Role;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;
use tracing::instrument;
use uuid::Uuid;

use super::{IntakeState, Outcome};
use crate::error::{Error, Problem};

/// `[api.discord]`: off unless `public_key` and `application_id` are set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscordConfig {
    /// The application's public key, hex, from the developer portal.
    pub public_key: String,
    pub application_id: String,
    /// Discord's API (a fake in tests).
    pub api_base: String,
    /// Guild role id -> Kiln role; a member gets the highest of their roles' grants.
    pub roles: BTreeMap<String, Role>,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        Self {
            public_key: String::new(),
            application_id: String::new(),
            api_base: dc::DEFAULT_BASE_URL.to_owned(),
            roles: BTreeMap::new(),
        }
    }
}

impl DiscordConfig {
    pub fn enabled(&self) -> bool {
        !self.public_key.trim().is_empty() && !self.application_id.trim().is_empty()
    }

    pub(crate) fn client(&self) -> Option<dc::Client> {
        self.enabled()
            .then(|| dc::Client::with_base_url(self.api_base.clone(), self.application_id.clone()))
    }
}

/// Take a Discord interaction.
///
/// Discord's interactions endpoint: every request is signed with the application's key and
/// refused unless the signature and its timestamp check out.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/discord", operation_id = "discord_webhook",
    tag = "intake",
    params(
        ("X-Signature-Ed25519" = Option<String>, Header, description = "Ed25519 signature of timestamp + body"),
        ("X-Signature-Timestamp" = Option<String>, Header, description = "Unix seconds the request was signed at"),
    ),
    request_body(content = Object, description = "A Discord interaction", content_type = "application/json"),
    responses(
        (status = 200, description = "The interaction response (PONG, a deferred response or a message)", body = Object),
        (status = 401, description = "Missing, stale or forged signature, or Discord intake is not configured", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all)]
pub async fn webhook(
    State(state): State<IntakeState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Error> {
    let config = &state.app.config.discord;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (signature, timestamp) = (header(dc::SIGNATURE_HEADER), header(dc::TIMESTAMP_HEADER));
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::BodyTooLarge {
                limit: state.app.config.max_body_bytes,
            }
        } else {
            Error::BodyUnreadable(rejection.body_text())
        }
    });
    let unauthorized = || Error::Unauthorized("the Discord signature is missing or wrong".into());
    if !config.enabled() {
        return Err(unauthorized());
    }
    // A body too large to read cannot be verified either.
    let body = body.map_err(|_| unauthorized())?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    dc::verify(
        &config.public_key,
        &signature,
        &timestamp,
        &body,
        now,
        dc::DEFAULT_MAX_SKEW_SECS,
    )
    .map_err(|e| Error::Unauthorized(format!("the Discord signature is not valid: {e}")))?;
    let interaction: Interaction = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            Error::InvalidBody(e.to_string())
        } else {
            Error::MalformedJson(e.to_string())
        }
    })?;
    handle(&state, interaction).await.map(Json)
}

async fn handle(state: &IntakeState, interaction: Interaction) -> Result<Value, Error> {
    let incoming = match interaction.incoming(&state.aliases) {
        Ok(Incoming::Ping) => return Ok(dc::pong()),
        Ok(incoming) => incoming,
        Err(usage) => return Ok(dc::message(&usage.to_string(), &[], true)),
    };
    let db = &state.app.ctx.db;
    if !super::first_delivery(db, source::DISCORD, &interaction.id).await? {
        tracing::info!(id = %interaction.id, "discord interaction replayed; ignored");
        return Ok(dc::message("Already taken.", &[], true));
    }
    let Some(user) = interaction.user_id().map(str::to_owned) else {
        return Ok(dc::message("Who is asking?", &[], true));
    };
    let display = interaction
        .member
        .as_ref()
        .and_then(|m| m.user.as_ref())
        .or(interaction.user.as_ref())
        .and_then(|u| u.username.clone())
        .unwrap_or_else(|| user.clone());
    let Some(role) = dc::role_for(interaction.member_roles(), &state.app.config.discord.roles)
    else {
        super::audit_denied(
            db,
            &super::chat_actor("discord", &user, &display),
            source::DISCORD,
            &format!("user {user}"),
            "no Discord role of theirs is on the allow-list",
            json!({ "user_id": user, "roles": interaction.member_roles() }),
        )
        .await;
        return Ok(dc::message(
            "Sorry, none of your roles may use Kiln here. Ask an admin.",
            &[],
            true,
        ));
    };
    let who = super::chat_principal(
        source::DISCORD,
        &user,
        &display,
        role,
        &format!("discord-{}", interaction.id),
    );
    let command = match incoming {
        Incoming::Command(c) => c,
        Incoming::Button(b) => b.command(),
        Incoming::Ping => return Ok(dc::pong()),
    };
    let ephemeral = !matches!(
        command,
        kiln_intake::Command::New { .. } | kiln_intake::Command::Revise { .. }
    );
    let Some(client) = state.app.config.discord.client() else {
        return Ok(dc::message("Discord is not configured.", &[], true));
    };
    // Discord wants an answer within 3 seconds: defer, then finish with an edit.
    let state = state.clone();
    let token = interaction.token.clone();
    let delivery = interaction.id.clone();
    tokio::spawn(async move {
        let text = match super::execute(&state, &who, command).await {
            Ok(Outcome::Reply(text)) => text,
            Ok(Outcome::Created(snapshot)) => {
                let db = &state.app.ctx.db;
                let opened = open_thread(db, snapshot.id, &token).await;
                let noted = super::delivery_task(db, source::DISCORD, &delivery, snapshot.id).await;
                if let Err(e) = opened.and(noted) {
                    tracing::warn!(error = %e, "discord thread not recorded");
                }
                let text = kiln_intake::progress_text(&snapshot, Surface::Discord);
                let buttons = kiln_intake::buttons(&snapshot);
                match client.edit_original(&token, &text, &buttons).await {
                    Ok(()) => {
                        let _ = mark(db, snapshot.id, &text, false).await;
                    }
                    Err(e) => tracing::warn!(error = %e, "discord progress not sent yet"),
                }
                state.wake.notify_one();
                return;
            }
            Err(e) => e.to_string(),
        };
        if let Err(e) = client.edit_original(&token, &text, &[]).await {
            tracing::warn!(error = %e, "discord reply not delivered");
        }
    });
    Ok(dc::deferred(ephemeral))
}

async fn open_thread(db: &sqlx::PgPool, task: Uuid, token: &str) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO task_threads (task_id, source, channel, message_id) \
         VALUES ($1, 'discord', $2, '@original') ON CONFLICT (task_id, source) DO NOTHING",
    )
    .bind(task)
    .bind(token)
    .execute(db)
    .await?;
    Ok(())
}

async fn mark(db: &sqlx::PgPool, task: Uuid, text: &str, done: bool) -> Result<(), Error> {
    sqlx::query(
        "UPDATE task_threads SET last_reported = $2, updated_at = now(), \
         detail = CASE WHEN $3 THEN detail || '{\"final\": true}'::jsonb ELSE detail END \
         WHERE task_id = $1 AND source = 'discord'",
    )
    .bind(task)
    .bind(text)
    .bind(done)
    .execute(db)
    .await?;
    Ok(())
}

/// Interaction tokens last 15 minutes; a thread older than this is closed.
const TOKEN_LIFETIME_SECS: f64 = 14.0 * 60.0;

/// One pass over the open Discord threads: edits each original reply whose text changed.
/// Failures are left for the next pass (until the token expires).
pub(crate) async fn sweep(state: &IntakeState, client: &dc::Client) -> Result<(), Error> {
    let db = &state.app.ctx.db;
    let rows = sqlx::query(
        "SELECT task_id, channel, last_reported, \
         EXTRACT(EPOCH FROM now() - created_at)::float8 AS age FROM task_threads \
         WHERE source = 'discord' AND NOT (detail ? 'final') ORDER BY created_at LIMIT 200",
    )
    .fetch_all(db)
    .await?;
    for row in rows {
        let task: Uuid = row.try_get("task_id")?;
        let token: String = row.try_get("channel")?;
        let last: Option<String> = row.try_get("last_reported")?;
        let age: f64 = row.try_get("age")?;
        let Some(snapshot) = super::report::snapshot(db, task).await? else {
            continue;
        };
        if kiln_store::control::paused(db, Some(&snapshot.project))
            .await?
            .is_some()
        {
            continue;
        }
        let done = snapshot.status.is_terminal();
        let text = kiln_intake::progress_text(&snapshot, Surface::Discord);
        if age > TOKEN_LIFETIME_SECS {
            mark(db, task, last.as_deref().unwrap_or_default(), true).await?;
            continue;
        }
        if last.as_deref() == Some(text.as_str()) {
            if done {
                mark(db, task, &text, true).await?;
            }
            continue;
        }
        let buttons = kiln_intake::buttons(&snapshot);
        match client.edit_original(&token, &text, &buttons).await {
            Ok(()) => mark(db, task, &text, done).await?,
            Err(e) => {
                tracing::warn!(%task, error = %e, "discord progress not reported; kept for later");
                return Ok(());
            }
        }
    }
    Ok(())
}
