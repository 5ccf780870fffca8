//! Who is calling, and whether they may: every API route but `/health` and `/metrics`
//! requires a token (`Authorization: Bearer`) or a dashboard session cookie, and a role.
//!
//! [`ROUTES`] is the one table of what each operation needs. The middleware enforces it, the
//! OpenAPI document is annotated from it, and a test checks that the two cover exactly the
//! same operations, so a new route cannot slip through unguarded: a route missing from the
//! table answers 403 to everyone but admins.
//!
//! A session cookie (the dashboard) must come with `X-CSRF-Token` on every mutation; a bearer
//! token needs none (a browser never attaches it by itself). Refusals are audited.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use kiln_store::audit::{self, Entry, source};
use kiln_store::auth::{self as store, Role, Token};
use uuid::Uuid;

use crate::AppState;
use crate::error::Error;

/// Name of the dashboard's HttpOnly session cookie.
pub const SESSION_COOKIE: &str = "kiln_session";
/// Name of the readable cookie holding the session's CSRF token.
pub const CSRF_COOKIE: &str = "kiln_csrf";
/// Header every cookie-authenticated mutation must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Request id header: taken from the client when valid, otherwise generated; echoed back.
pub const REQUEST_ID: &str = "x-request-id";

/// What a route needs: a role, or nothing because it authenticates itself (sign-in takes a
/// token in its body; chat and tracker webhooks carry their own signatures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Role(Role),
    SelfAuthenticating,
}

use Access::{Role as R, SelfAuthenticating as Own};

/// Every operation of the API with what it needs. Approving or rejecting a release needs
/// `approver`; the route admits operators (who approve plans and budgets) and the handler
/// checks what the task waits for.
pub const ROUTES: &[(Method, &str, Access)] = &[
    (Method::GET, "/api/v1/tasks", R(Role::Viewer)),
    (Method::POST, "/api/v1/tasks", R(Role::Operator)),
    (Method::POST, "/api/v1/tasks/ready", R(Role::Operator)),
    (Method::GET, "/api/v1/tasks/{id}", R(Role::Viewer)),
    (Method::POST, "/api/v1/tasks/{id}/cancel", R(Role::Operator)),
    (
        Method::POST,
        "/api/v1/tasks/{id}/approve",
        R(Role::Operator),
    ),
    (Method::POST, "/api/v1/tasks/{id}/reject", R(Role::Operator)),
    (
        Method::POST,
        "/api/v1/tasks/{id}/answers",
        R(Role::Operator),
    ),
    (
        Method::GET,
        "/api/v1/tasks/{id}/rounds/{round}/diff",
        R(Role::Viewer),
    ),
    (Method::GET, "/api/v1/projects", R(Role::Viewer)),
    (Method::POST, "/api/v1/projects", R(Role::Operator)),
    (
        Method::GET,
        "/api/v1/projects/{name}/knowledge",
        R(Role::Viewer),
    ),
    (
        Method::GET,
        "/api/v1/projects/{name}/search",
        R(Role::Viewer),
    ),
    (
        Method::POST,
        "/api/v1/projects/{name}/index",
        R(Role::Operator),
    ),
    (
        Method::GET,
        "/api/v1/projects/{name}/settings",
        R(Role::Viewer),
    ),
    // Settings choose the commands that test a project's changes: an operator's decision.
    (
        Method::PUT,
        "/api/v1/projects/{name}/settings",
        R(Role::Operator),
    ),
    (
        Method::GET,
        "/api/v1/projects/{name}/memory",
        R(Role::Viewer),
    ),
    (
        Method::POST,
        "/api/v1/projects/{name}/memory",
        R(Role::Admin),
    ),
    (
        Method::PUT,
        "/api/v1/projects/{name}/memory/{id}",
        R(Role::Admin),
    ),
    (
        Method::DELETE,
        "/api/v1/projects/{name}/memory/{id}",
        R(Role::Admin),
    ),
    (
        Method::GET,
        "/api/v1/projects/{name}/memory/proposals",
        R(Role::Viewer),
    ),
    (
        Method::POST,
        "/api/v1/projects/{name}/memory/proposals/{id}",
        R(Role::Approver),
    ),
    (
        Method::DELETE,
        "/api/v1/projects/{name}/app",
        R(Role::Admin),
    ),
    (Method::GET, "/api/v1/templates", R(Role::Viewer)),
    (Method::GET, "/api/v1/system", R(Role::Viewer)),
    (Method::GET, "/api/v1/system/pause", R(Role::Viewer)),
    (Method::PUT, "/api/v1/system/pause", R(Role::Admin)),
    (Method::GET, "/api/v1/system/guards", R(Role::Viewer)),
    (Method::PUT, "/api/v1/system/guards", R(Role::Admin)),
    (Method::GET, "/api/v1/audit", R(Role::Viewer)),
    (Method::GET, "/api/v1/tokens", R(Role::Admin)),
    (Method::POST, "/api/v1/tokens", R(Role::Admin)),
    (Method::DELETE, "/api/v1/tokens/{id}", R(Role::Admin)),
    (Method::GET, "/api/v1/subscriptions", R(Role::Admin)),
    (Method::POST, "/api/v1/subscriptions", R(Role::Admin)),
    (Method::DELETE, "/api/v1/subscriptions/{id}", R(Role::Admin)),
    (
        Method::GET,
        "/api/v1/subscriptions/{id}/deliveries",
        R(Role::Admin),
    ),
    (Method::POST, "/api/v1/session", Own),
    (Method::POST, "/api/v1/webhooks/telegram", Own),
    (Method::POST, "/api/v1/webhooks/discord", Own),
    (Method::POST, "/api/v1/webhooks/jira", Own),
    (Method::POST, "/api/v1/webhooks/github", Own),
    (Method::GET, "/api/v1/session", R(Role::Viewer)),
    (Method::DELETE, "/api/v1/session", R(Role::Viewer)),
    (Method::GET, "/ws/logs", R(Role::Viewer)),
    (Method::GET, "/api/openapi.json", R(Role::Viewer)),
];

/// What `method path` needs; routes missing from [`ROUTES`] need `admin` (fail closed).
pub fn access(method: &Method, path: &str) -> Access {
    ROUTES
        .iter()
        .find(|(m, p, _)| m == method && *p == path)
        .map(|(_, _, a)| *a)
        .unwrap_or(Access::Role(Role::Admin))
}

/// The authenticated caller of a request, in its extensions.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: Uuid,
    /// The token's name: the actor in the audit trail.
    pub name: String,
    pub role: Role,
    /// `api` for a bearer token, `dashboard` for a session cookie.
    pub source: &'static str,
    pub request_id: String,
}

impl Principal {
    /// An audit entry for an action by this caller.
    pub fn audit(&self, action: &str, target: impl Into<String>) -> Entry {
        Entry::new(&self.name, self.source, action, target).request(Some(&self.request_id))
    }

    /// Refuses unless this caller's role allows `needed`.
    pub fn require(&self, needed: Role, what: &str) -> Result<(), Error> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "{what} needs the {needed} role; token {:?} has the {} role",
                self.name, self.role
            )))
        }
    }
}

/// Per-token limits on task creation.
pub struct Limits {
    tasks: DefaultKeyedRateLimiter<Uuid>,
}

impl Limits {
    pub fn new(tasks_per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(tasks_per_minute.max(1)).expect("at least one");
        Self {
            tasks: RateLimiter::keyed(Quota::per_minute(per_minute)),
        }
    }

    /// Takes one task creation from the token's allowance.
    pub fn take_task(&self, who: &Principal) -> Result<(), Error> {
        self.tasks.check_key(&who.token_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            Error::RateLimited {
                token: who.name.clone(),
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Error> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::Unauthorized("the Authorization header is not valid text".into()))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(Error::Unauthorized(
            "the Authorization header must be `Bearer <token>`".into(),
        )),
    }
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::new_v4().to_string())
}

fn is_mutation(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Who the request authenticates as: a bearer token, else a session cookie (with the CSRF
/// check on mutations). `Ok(None)` when it presents neither.
async fn authenticate(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<(Token, &'static str)>, Error> {
    let db = &state.ctx.db;
    if let Some(secret) = bearer(headers)? {
        return match store::authenticate(db, secret).await? {
            Some(token) => Ok(Some((token, source::API))),
            None => Err(Error::Unauthorized(
                "the bearer token is not valid: unknown or revoked".into(),
            )),
        };
    }
    let Some(secret) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some((token, csrf)) = store::session(db, secret).await? else {
        return Err(Error::Unauthorized(
            "the dashboard session has ended; sign in again".into(),
        ));
    };
    if is_mutation(method) {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        let matches = sent.is_some_and(|s| {
            use subtle::ConstantTimeEq as _;
            s.as_bytes().ct_eq(csrf.as_bytes()).into()
        });
        if !matches {
            return Err(Error::Forbidden(format!(
                "a signed-in dashboard request that changes something must send the \
                 {CSRF_HEADER} header with the session's CSRF token"
            )));
        }
    }
    Ok(Some((token, source::DASHBOARD)))
}

/// The middleware on every API route: authenticates, authorises by [`ROUTES`], audits
/// refusals, limits task creation, and tags the request and response with a request id.
pub async fn guard(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    mut req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let path = matched
        .as_ref()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned());
    let request_id = request_id(req.headers());
    let outcome = check(&state, &method, &path, &request_id, req.headers()).await;
    let mut response = match outcome {
        Ok(principal) => {
            if let Some(p) = principal {
                req.extensions_mut().insert(p);
            }
            next.run(req).await
        }
        Err((e, actor)) => {
            let entry = Entry::new(
                &actor,
                source::API,
                "auth.denied",
                format!("{method} {path}"),
            )
            .request(Some(&request_id))
            .reason(Some(&e.to_string()))
            .detail(serde_json::json!({ "status": e.status().as_u16() }));
            if let Err(err) = audit::append(&state.ctx.db, &entry).await {
                tracing::warn!(error = %err, "refusal not audited");
            }
            e.into_response()
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    response
}

async fn check(
    state: &AppState,
    method: &Method,
    path: &str,
    request_id: &str,
    headers: &HeaderMap,
) -> Result<Option<Principal>, (Error, String)> {
    let needed = access(method, path);
    let anonymous = || "anonymous".to_owned();
    let found = match authenticate(state, method, headers).await {
        Ok(found) => found,
        // A self-authenticating route ignores what else the request carries.
        Err(_) if needed == Access::SelfAuthenticating => None,
        Err(e) => return Err((e, anonymous())),
    };
    let principal = found.map(|(token, source)| Principal {
        token_id: token.id,
        name: token.name,
        role: token.role,
        source,
        request_id: request_id.to_owned(),
    });
    let Access::Role(needed) = needed else {
        return Ok(principal);
    };
    let Some(principal) = principal else {
        return Err((
            Error::Unauthorized(format!(
                "{method} {path} needs a token: send `Authorization: Bearer <token>` \
                 (create one with `kiln token create`) or sign in to the dashboard"
            )),
            anonymous(),
        ));
    };
    if let Err(e) = principal.require(needed, &format!("{method} {path}")) {
        return Err((e, principal.name));
    }
    if *method == Method::POST && path == "/api/v1/tasks" {
        state
            .limits
            .take_task(&principal)
            .map_err(|e| (e, principal.name.clone()))?;
    }
    Ok(Some(principal))
}

/// Shared handle to the limits, cheap to clone.
pub type SharedLimits = Arc<Limits>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_routes_need_admin_and_known_ones_their_role() {
        assert_eq!(
            access(&Method::POST, "/api/v1/tasks"),
            Access::Role(Role::Operator)
        );
        assert_eq!(
            access(&Method::PUT, "/api/v1/system/pause"),
            Access::Role(Role::Admin)
        );
        assert_eq!(
            access(&Method::POST, "/api/v1/new-thing"),
            Access::Role(Role::Admin)
        );
        assert_eq!(
            access(&Method::POST, "/api/v1/session"),
            Access::SelfAuthenticating
        );
    }

    #[test]
    fn cookies_and_bearer_headers_parse() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; kiln_session=kiln_abc; kiln_csrf=x"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("kiln_abc"));
        assert_eq!(cookie(&h, "missing"), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer kiln_t"),
        );
        assert_eq!(bearer(&h).unwrap(), Some("kiln_t"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(bearer(&h).is_err());
    }

    #[test]
    fn request_ids_are_kept_only_when_tame() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, HeaderValue::from_static("req-42"));
        assert_eq!(request_id(&h), "req-42");
        h.insert(REQUEST_ID, HeaderValue::from_static("bad id with spaces"));
        assert_ne!(request_id(&h), "bad id with spaces");
    }

    #[test]
    fn the_rate_limit_refuses_past_the_quota_with_a_delay() {
        let limits = Limits::new(2);
        let who = Principal {
            token_id: Uuid::new_v4(),
            name: "ci".into(),
            role: Role::Operator,
            source: source::API,
            request_id: "r".into(),
        };
        assert!(limits.take_task(&who).is_ok());
        assert!(limits.take_task(&who).is_ok());
        match limits.take_task(&who) {
            Err(Error::RateLimited {
                retry_after_secs, ..
            }) => assert!(retry_after_secs >= 1),
            other => panic!("expected a rate limit, got {other:?}"),
        }
    }
}
