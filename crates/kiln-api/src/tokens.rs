//! Token administration (`/api/v1/tokens`, admins only) and dashboard sign-in
//! (`/api/v1/session`): a person pastes a token once, and the browser keeps an HttpOnly,
//! SameSite=Strict session cookie plus a CSRF token that every mutation must echo.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kiln_store::audit::{self, source};
use kiln_store::auth::{self as store, Role};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::instrument;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{CSRF_COOKIE, Principal, SESSION_COOKIE};
use crate::error::{Error, Problem};

/// A token as the API shows it: never its secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    /// `viewer`, `operator`, `approver` or `admin`.
    pub role: String,
    /// The first characters of the secret, to tell tokens apart.
    pub hint: String,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(required = true)]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(required = true)]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<store::Token> for TokenView {
    fn from(t: store::Token) -> Self {
        Self {
            id: t.id,
            name: t.name,
            role: t.role.as_str().to_owned(),
            hint: t.hint,
            created_by: t.created_by,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// 1 to 64 characters: letters, digits, `-`, `_`, `.`, `@`, `:`.
    pub name: String,
    /// `viewer`, `operator`, `approver` or `admin`.
    pub role: String,
}

/// A new token with its secret, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    pub token: TokenView,
    /// The bearer secret. Kiln keeps only its hash: it cannot be shown again.
    pub secret: String,
}

/// Body of `POST /api/v1/session`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// An API token's secret.
    pub token: String,
}

/// Who is signed in, with the CSRF token to send as `X-CSRF-Token` on mutations.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    pub name: String,
    pub role: String,
    /// Empty for a bearer-token caller, which needs no CSRF token.
    pub csrf: String,
}

pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    raw: Result<Bytes, BytesRejection>,
) -> Result<T, Error> {
    let raw = raw.map_err(|e| Error::BodyUnreadable(e.body_text()))?;
    let value: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| Error::MalformedJson(e.to_string()))?;
    serde_json::from_value(value).map_err(|e| Error::InvalidBody(e.to_string()))
}

/// Validates a token name (the actor in every audit row it leaves).
pub fn valid_token_name(name: &str) -> Result<&str, Error> {
    let name = name.trim();
    if !store::valid_name(name) {
        return Err(Error::InvalidBody(format!(
            "token name {name:?} must be 1 to 64 letters, digits, '-', '_', '.', '@' or ':'"
        )));
    }
    Ok(name)
}

#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "access",
    responses(
        (status = 200, description = "Every live token, newest first", body = [TokenView]),
    ),
)]
#[instrument(skip_all)]
pub async fn list_tokens(State(state): State<AppState>) -> Result<Json<Vec<TokenView>>, Error> {
    let tokens = store::list_tokens(&state.ctx.db, false).await?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "access",
    request_body = CreateToken,
    responses(
        (status = 201, description = "Token created; its secret is in this answer only", body = CreatedToken),
        (status = 400, description = "Malformed body or name", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A live token has this name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown role", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[instrument(skip_all)]
pub async fn create_token(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let req: CreateToken = json_body(body)?;
    let name = valid_token_name(&req.name)?;
    let role: Role = req.role.parse().map_err(Error::InvalidDecision)?;
    let mut tx = state.ctx.db.begin().await?;
    let Some((token, secret)) = store::create_token(&mut *tx, name, role, &who.name).await? else {
        return Err(Error::Conflict(format!(
            "a live token is already named {name:?}; revoke it first or choose another name"
        )));
    };
    audit::append(
        &mut *tx,
        &who.audit("token.create", name)
            .detail(serde_json::json!({ "role": role, "token_id": token.id })),
    )
    .await?;
    tx.commit().await?;
    let body = CreatedToken {
        token: token.into(),
        secret,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "access",
    params(("id" = String, Path, description = "Token id or name")),
    responses(
        (status = 204, description = "Token revoked; its sessions ended"),
        (status = 404, description = "No live token with this id or name", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[instrument(skip_all)]
pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, Error> {
    let Path(id) = path.map_err(|e| Error::InvalidPath(e.body_text()))?;
    let mut tx = state.ctx.db.begin().await?;
    let token = store::revoke_token(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::TokenNotFound(id.clone()))?;
    audit::append(
        &mut *tx,
        &who.audit("token.revoke", &token.name)
            .detail(serde_json::json!({ "token_id": token.id, "role": token.role })),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

fn cookie_header(
    name: &str,
    value: &str,
    http_only: bool,
    max_age: i64,
    secure: bool,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; SameSite=Strict; Max-Age={max_age}");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("cookie values are ASCII")
}

#[utoipa::path(
    post,
    path = "/api/v1/session",
    tag = "access",
    request_body = SignIn,
    responses(
        (status = 200, description = "Signed in; sets the `kiln_session` (HttpOnly) and `kiln_csrf` cookies", body = SessionView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown or revoked token", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[instrument(skip_all)]
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let req: SignIn = json_body(body)?;
    let db = &state.ctx.db;
    let request_id = headers
        .get(crate::auth::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(token) = store::authenticate(db, req.token.trim()).await? else {
        let entry = audit::Entry::new("anonymous", source::DASHBOARD, "session.denied", "")
            .request(request_id.as_deref())
            .reason(Some("unknown or revoked token"));
        audit::append(db, &entry).await?;
        return Err(Error::Unauthorized(
            "that token is not valid: unknown or revoked".into(),
        ));
    };
    let hours = i64::from(state.config.session_hours.max(1));
    let mut tx = db.begin().await?;
    let session = store::create_session(&mut *tx, token.id, time::Duration::hours(hours)).await?;
    let entry = audit::Entry::new(
        &token.name,
        source::DASHBOARD,
        "session.create",
        &token.name,
    )
    .request(request_id.as_deref());
    audit::append(&mut *tx, &entry).await?;
    tx.commit().await?;
    let secure = state.config.secure_cookies;
    let max_age = hours * 3600;
    let mut response = Json(SessionView {
        name: token.name,
        role: token.role.as_str().to_owned(),
        csrf: session.csrf.clone(),
    })
    .into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie_header(SESSION_COOKIE, &session.secret, true, max_age, secure),
    );
    h.append(
        header::SET_COOKIE,
        cookie_header(CSRF_COOKIE, &session.csrf, false, max_age, secure),
    );
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/api/v1/session",
    tag = "access",
    responses(
        (status = 200, description = "Who the request authenticates as", body = SessionView),
    ),
)]
#[instrument(skip_all)]
pub async fn get_session(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
) -> Result<Json<SessionView>, Error> {
    let csrf = match cookie_secret(&headers) {
        Some(secret) if who.source == source::DASHBOARD => store::session(&state.ctx.db, secret)
            .await?
            .map(|(_, csrf)| csrf)
            .unwrap_or_default(),
        _ => String::new(),
    };
    Ok(Json(SessionView {
        name: who.name,
        role: who.role.as_str().to_owned(),
        csrf,
    }))
}

fn cookie_secret(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v)
}

#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "access",
    responses(
        (status = 204, description = "Signed out; the cookies are cleared"),
    ),
)]
#[instrument(skip_all)]
pub async fn sign_out(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    if let Some(secret) = cookie_secret(&headers) {
        store::delete_session(&state.ctx.db, secret).await?;
        audit::append(&state.ctx.db, &who.audit("session.end", &who.name)).await?;
    }
    let secure = state.config.secure_cookies;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie_header(SESSION_COOKIE, "", true, 0, secure),
    );
    h.append(
        header::SET_COOKIE,
        cookie_header(CSRF_COOKIE, "", false, 0, secure),
    );
    Ok(response)
}
