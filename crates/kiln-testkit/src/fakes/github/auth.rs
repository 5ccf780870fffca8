//! GitHub's credentials: the app's RS256 JWT, installation tokens and personal tokens, as
//! `Authorization: Bearer|token <t>` on REST or basic auth (`user:<token>`) on git.

use axum::http::{HeaderMap, header};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::FakeGitHub;
use crate::fakes::now_unix;

/// What the `Authorization` header carries.
pub(super) enum Credential {
    None,
    /// Something shaped like a JWT (three base64url parts).
    Jwt(String),
    /// An installation or personal token (or anything else that is not a JWT).
    Token(String),
}

impl Credential {
    /// The credential of `headers`: `Bearer`/`token` schemes, or the password of `Basic`.
    pub(super) fn of(headers: &HeaderMap) -> Self {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Self::None;
        };
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        let secret =
            if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token") {
                rest.to_owned()
            } else if scheme.eq_ignore_ascii_case("basic") {
                match decode_basic(rest) {
                    Some((_, password)) => password,
                    None => return Self::Token(String::new()),
                }
            } else {
                return Self::Token(String::new());
            };
        if looks_like_jwt(&secret) {
            Self::Jwt(secret)
        } else {
            Self::Token(secret)
        }
    }
}

fn looks_like_jwt(s: &str) -> bool {
    s.starts_with("eyJ") && s.split('.').count() == 3
}

fn decode_basic(encoded: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (user, password) = raw.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The `(user, password)` of a `Basic` authorization header.
pub(super) fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    decode_basic(rest)
}

pub(super) const JWT_UNDECODABLE: &str = "A JSON web token could not be decoded";

/// Checks an app JWT as GitHub does: RS256 under the app's key, `iss` = the app id (number
/// or string), `exp` in the future and at most ten minutes after `iat`. `Err` carries
/// GitHub's message.
pub(super) fn verify_jwt(key: &DecodingKey, token: &str) -> Result<(), &'static str> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(token, key, &validation)
        .map_err(|_| JWT_UNDECODABLE)?
        .claims;
    let iss = match claims.get("iss") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        _ => None,
    };
    if iss != Some(FakeGitHub::APP_ID) {
        return Err(JWT_UNDECODABLE);
    }
    let (Some(iat), Some(exp)) = (
        claims.get("iat").and_then(Value::as_i64),
        claims.get("exp").and_then(Value::as_i64),
    ) else {
        return Err(JWT_UNDECODABLE);
    };
    let now = now_unix();
    if exp <= now {
        return Err(
            "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
        );
    }
    if exp - iat > 600 {
        return Err("'Expiration time' claim ('exp') is too far in the future");
    }
    // GitHub allows a little clock drift on `iat`.
    if iat > now + 60 {
        return Err(
            "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
        );
    }
    Ok(())
}
