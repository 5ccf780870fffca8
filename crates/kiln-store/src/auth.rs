//! Who may steer Kiln: API tokens with a role, and the dashboard sessions signed in with them.
//!
//! A token's secret is shown once, when it is created; only its SHA-256 is stored, and every
//! request is authenticated by looking that hash up. Sessions work the same way: the cookie
//! carries a random secret whose hash is the session's key.

use sha2::{Digest, Sha256};
use sqlx::{PgExecutor, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Result;

/// What a token may do. Each role includes the ones before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read everything.
    Viewer,
    /// Create tasks, answer questions, approve plans, cancel.
    Operator,
    /// Approve or reject releases, override the gate with a reason.
    Approver,
    /// Everything, plus pause, tokens, targets, memory and webhooks.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may do what `needed` allows.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?}; expected viewer, operator, approver or admin")
            })
    }
}

/// Secrets start with this, so a leaked one is easy to recognise (and to scan for).
pub const SECRET_PREFIX: &str = "kiln_";

/// A fresh random secret: the prefix and 32 random bytes, hex.
pub fn new_secret() -> String {
    let a = Uuid::new_v4();
    let b = Uuid::new_v4();
    format!(
        "{SECRET_PREFIX}{}{}",
        hex::encode(a.as_bytes()),
        hex::encode(b.as_bytes())
    )
}

/// What is stored for a secret.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A token as stored (never with its secret).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Token {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    /// The first characters of the secret.
    pub hint: String,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

fn token_from_row(r: &sqlx::postgres::PgRow) -> Result<Token> {
    let role: String = r.try_get("role")?;
    Ok(Token {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: role.parse().map_err(|_| crate::Error::Corrupt {
            what: "token role",
            value: role,
        })?,
        hint: r.try_get("hint")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

const TOKEN_COLUMNS: &str =
    "id, name, role, hint, created_by, created_at, last_used_at, revoked_at";

/// Whether `name` may name a token: 1 to 64 letters, digits, `-`, `_`, `.`, `@` or `:` (it is
/// the actor of every audit row the token leaves, so it stays plain).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@:".contains(&b))
}

/// Creates a token; returns it with its secret, which is not stored and cannot be shown again.
/// `None` when a live token already has this name.
pub async fn create_token<'e>(
    db: impl PgExecutor<'e>,
    name: &str,
    role: Role,
    created_by: &str,
) -> Result<Option<(Token, String)>> {
    let secret = new_secret();
    let hint = secret[..SECRET_PREFIX.len() + 6].to_owned();
    let row = sqlx::query(&format!(
        "INSERT INTO api_tokens (id, name, role, secret_hash, hint, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING {TOKEN_COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(name)
    .bind(role.as_str())
    .bind(secret_hash(&secret))
    .bind(&hint)
    .bind(created_by)
    .fetch_optional(db)
    .await?;
    row.map(|r| Ok((token_from_row(&r)?, secret))).transpose()
}

/// Every token, newest first; revoked ones too when `include_revoked`.
pub async fn list_tokens<'e>(db: impl PgExecutor<'e>, include_revoked: bool) -> Result<Vec<Token>> {
    let rows = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE $1 OR revoked_at IS NULL \
         ORDER BY created_at DESC, id"
    ))
    .bind(include_revoked)
    .fetch_all(db)
    .await?;
    rows.iter().map(token_from_row).collect()
}

/// The live token with this id or name.
pub async fn find_token<'e>(db: impl PgExecutor<'e>, id_or_name: &str) -> Result<Option<Token>> {
    let id = Uuid::parse_str(id_or_name).ok();
    let row = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE revoked_at IS NULL \
         AND (id = $1 OR name = $2)"
    ))
    .bind(id)
    .bind(id_or_name)
    .fetch_optional(db)
    .await?;
    row.as_ref().map(token_from_row).transpose()
}

/// Revokes a live token and ends its sessions; the revoked token, or `None` when no live
/// token has this id or name.
pub async fn revoke_token(
    conn: &mut sqlx::PgConnection,
    id_or_name: &str,
) -> Result<Option<Token>> {
    let id = Uuid::parse_str(id_or_name).ok();
    let row = sqlx::query(&format!(
        "UPDATE api_tokens SET revoked_at = now() WHERE revoked_at IS NULL \
         AND (id = $1 OR name = $2) RETURNING {TOKEN_COLUMNS}"
    ))
    .bind(id)
    .bind(id_or_name)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let token = token_from_row(&row)?;
    sqlx::query("DELETE FROM api_sessions WHERE token_id = $1")
        .bind(token.id)
        .execute(&mut *conn)
        .await?;
    Ok(Some(token))
}

/// The live token a secret belongs to, noting its use (at most once a minute per token, so
/// reads do not turn into a write each).
pub async fn authenticate<'e>(db: impl PgExecutor<'e>, secret: &str) -> Result<Option<Token>> {
    let row = sqlx::query(&format!(
        "WITH t AS (SELECT id FROM api_tokens WHERE secret_hash = $1 AND revoked_at IS NULL), \
         touched AS (UPDATE api_tokens SET last_used_at = now() WHERE id IN (SELECT id FROM t) \
           AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')) \
         SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id IN (SELECT id FROM t)"
    ))
    .bind(secret_hash(secret))
    .fetch_optional(db)
    .await?;
    row.as_ref().map(token_from_row).transpose()
}

/// A dashboard session: its cookie secret (returned once) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub secret: String,
    pub csrf: String,
    pub expires_at: OffsetDateTime,
}

/// Opens a session for a token, valid for `ttl`.
pub async fn create_session<'e>(
    db: impl PgExecutor<'e>,
    token_id: Uuid,
    ttl: time::Duration,
) -> Result<NewSession> {
    let secret = new_secret();
    let csrf = hex::encode(Uuid::new_v4().as_bytes());
    let expires_at = OffsetDateTime::now_utc() + ttl;
    sqlx::query(
        "INSERT INTO api_sessions (secret_hash, token_id, csrf, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(secret_hash(&secret))
    .bind(token_id)
    .bind(&csrf)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(NewSession {
        secret,
        csrf,
        expires_at,
    })
}

/// The token behind a live session cookie, with the session's CSRF token.
pub async fn session<'e>(db: impl PgExecutor<'e>, secret: &str) -> Result<Option<(Token, String)>> {
    let row = sqlx::query(
        "SELECT t.id, t.name, t.role, t.hint, t.created_by, t.created_at, t.last_used_at, \
         t.revoked_at, s.csrf FROM api_sessions s JOIN api_tokens t ON t.id = s.token_id \
         WHERE s.secret_hash = $1 AND s.expires_at > now() AND t.revoked_at IS NULL",
    )
    .bind(secret_hash(secret))
    .fetch_optional(db)
    .await?;
    row.map(|r| Ok((token_from_row(&r)?, r.try_get("csrf")?)))
        .transpose()
}

/// Ends a session (signing out).
pub async fn delete_session<'e>(db: impl PgExecutor<'e>, secret: &str) -> Result<()> {
    sqlx::query("DELETE FROM api_sessions WHERE secret_hash = $1 OR expires_at < now()")
        .bind(secret_hash(secret))
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse() {
        assert!(Role::Admin.allows(Role::Approver));
        assert!(Role::Approver.allows(Role::Operator));
        assert!(!Role::Operator.allows(Role::Approver));
        assert!(!Role::Viewer.allows(Role::Operator));
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().unwrap_err().contains("unknown role"));
    }

    #[test]
    fn secrets_are_unique_and_hashed() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert!(a.starts_with(SECRET_PREFIX));
        assert_eq!(a.len(), SECRET_PREFIX.len() + 64);
        assert_eq!(secret_hash(&a).len(), 32);
        assert_ne!(secret_hash(&a), secret_hash(&b));
    }
}
