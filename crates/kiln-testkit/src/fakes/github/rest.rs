//! The REST v3 routes (and `POST /graphql`), answered synchronously under the state lock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::{Value, json};

use super::auth::{Credential, JWT_UNDECODABLE, verify_jwt};
use super::git::{self, Ident};
use super::json;
use super::state::{Actor, BOT_ID, BOT_LOGIN, Fault, RateView, Role, State_, level_rank};
use super::{FakeGitHub, Inner, lock};
use crate::fakes::{now_unix, whole_secs};

mod checks;
mod issues;
mod pulls;

pub(super) use pulls::{MergeRequest, merge};

/// Where every error body points.
pub(super) const DOCS: &str = "https://docs.github.com/rest";
const PER_PAGE_DEFAULT: usize = 30;
const PER_PAGE_MAX: usize = 100;

/// One REST request, with its body already parsed.
pub(super) struct RestRequest {
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) query: Option<String>,
    pub(super) headers: HeaderMap,
    pub(super) body: Value,
    /// The body was empty or valid JSON.
    pub(super) json_ok: bool,
    pub(super) fault: Option<Fault>,
}

/// An error answer in GitHub's format.
#[derive(Debug)]
pub(super) struct Error {
    pub(super) status: StatusCode,
    pub(super) message: String,
    pub(super) errors: Option<Value>,
}

impl Error {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            errors: None,
        }
    }

    fn body(&self) -> Value {
        let mut body = json!({"message": self.message, "documentation_url": DOCS});
        if let Some(errors) = &self.errors {
            body["errors"] = errors.clone();
        }
        body
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let body = self.body();
        (self.status, axum::Json(body)).into_response()
    }
}

fn not_found() -> Error {
    Error::new(StatusCode::NOT_FOUND, "Not Found")
}

fn bad_credentials() -> Error {
    Error::new(StatusCode::UNAUTHORIZED, "Bad credentials")
}

fn not_integration_accessible() -> Error {
    Error::new(
        StatusCode::FORBIDDEN,
        "Resource not accessible by integration",
    )
}

/// 422 `Validation Failed` with GitHub's `errors` list.
fn validation(errors: Value) -> Error {
    Error {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: "Validation Failed".into(),
        errors: Some(errors),
    }
}

fn missing_field(resource: &str, field: &str) -> Error {
    validation(json!([{"resource": resource, "code": "missing_field", "field": field}]))
}

fn invalid_field(resource: &str, field: &str) -> Error {
    validation(json!([{"resource": resource, "code": "invalid", "field": field}]))
}

fn custom(resource: &str, message: &str) -> Error {
    validation(json!([{"resource": resource, "code": "custom", "message": message}]))
}

fn internal(message: String) -> Error {
    Error::new(StatusCode::INTERNAL_SERVER_ERROR, message)
}

type Answer = Result<Response, Error>;

fn reply(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

fn created(value: Value) -> Response {
    let location = value.get("url").and_then(Value::as_str).map(str::to_owned);
    let mut response = reply(StatusCode::CREATED, value);
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// Who sent the request.
enum Caller {
    None,
    /// An app JWT and whether it verified.
    Jwt(Result<(), &'static str>),
    Actor(Actor),
}

/// What a route needs from the caller on a repository.
#[derive(Clone, Copy)]
struct Need {
    /// The role a personal token's user needs.
    role: Role,
    /// The installation permissions an installation token needs (`(name, level)`).
    app: &'static [(&'static str, &'static str)],
}

const READ_META: Need = Need {
    role: Role::Read,
    app: &[("metadata", "read")],
};

/// The request being answered.
struct Cx<'a> {
    st: &'a mut State_,
    root: PathBuf,
    base: String,
    method: Method,
    query: Option<String>,
    body: Value,
    caller: Caller,
}

impl Cx<'_> {
    /// The decoded value of query parameter `name`.
    fn q(&self, name: &str) -> Option<String> {
        query_pairs(self.query.as_deref())
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    fn body_str(&self, key: &str) -> Option<String> {
        self.body
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// A token's actor; 401 for a JWT or no credential.
    fn actor(&self) -> Result<Actor, Error> {
        match &self.caller {
            Caller::Actor(a) => Ok(a.clone()),
            Caller::Jwt(_) => Err(bad_credentials()),
            Caller::None => Err(Error::new(
                StatusCode::UNAUTHORIZED,
                "Requires authentication",
            )),
        }
    }

    /// Passes only a verified app JWT.
    fn require_jwt(&self) -> Result<(), Error> {
        match &self.caller {
            Caller::Jwt(Ok(())) => Ok(()),
            Caller::Jwt(Err(message)) => Err(Error::new(StatusCode::UNAUTHORIZED, *message)),
            _ => Err(Error::new(StatusCode::UNAUTHORIZED, JWT_UNDECODABLE)),
        }
    }

    /// Checks the caller may do what `need` says on `owner/name`; returns the actor and
    /// the repository's full name. Repositories the caller cannot see are 404.
    fn authorize(&self, owner: &str, name: &str, need: Need) -> Result<(Actor, String), Error> {
        let actor = match &self.caller {
            Caller::Actor(a) => a.clone(),
            Caller::Jwt(_) => return Err(bad_credentials()),
            Caller::None => return Err(not_found()),
        };
        let repo = self
            .st
            .repo(&format!("{owner}/{name}"))
            .ok_or_else(not_found)?;
        match &actor {
            Actor::App {
                installation,
                repos,
                permissions,
            } => {
                let installed = self
                    .st
                    .installation_for(&repo.owner)
                    .is_some_and(|i| i.id == *installation);
                if !installed {
                    return Err(not_found());
                }
                if repos.as_ref().is_some_and(|r| !r.contains(&repo.id)) {
                    return Err(not_integration_accessible());
                }
                for (perm, level) in need.app {
                    let has = permissions.get(*perm).map_or(0, |l| level_rank(l));
                    if has < level_rank(level) {
                        return Err(not_integration_accessible());
                    }
                }
            }
            Actor::User { login } => {
                let role = self.st.role(repo, login);
                if role == Role::None {
                    return Err(not_found());
                }
                if role < need.role {
                    let message = if need.role >= Role::Admin {
                        "Must have admin rights to Repository."
                    } else {
                        "Must have push access to repository"
                    };
                    return Err(Error::new(StatusCode::FORBIDDEN, message));
                }
            }
        }
        Ok((actor, repo.full_name()))
    }

    /// The role the caller has on `full`, for the repository's `permissions` field.
    fn role_on(&self, actor: &Actor, full: &str) -> Option<Role> {
        let repo = self.st.repo(full)?;
        Some(match actor {
            Actor::App { permissions, .. } => {
                if permissions.get("contents").map_or(0, |l| level_rank(l)) >= 2 {
                    Role::Write
                } else {
                    Role::Read
                }
            }
            Actor::User { login } => self.st.role(repo, login),
        })
    }

    /// Slices `items` to the requested page and adds GitHub's `Link` header.
    fn page(&self, items: Vec<Value>, link_path: &str) -> Response {
        let (range, link) = self.page_range(items.len(), link_path);
        let page: Vec<Value> = items.into_iter().skip(range.0).take(range.1).collect();
        with_link(reply(StatusCode::OK, Value::Array(page)), link)
    }

    /// `(skip, take)` of the requested page and its `Link` header.
    fn page_range(&self, total: usize, link_path: &str) -> ((usize, usize), Option<String>) {
        let per_page = self
            .q("per_page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .map_or(PER_PAGE_DEFAULT, |n| n.min(PER_PAGE_MAX));
        let page = self
            .q("page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(1);
        let last = total.div_ceil(per_page).max(1);
        let kept: Vec<&str> = self
            .query
            .as_deref()
            .unwrap_or_default()
            .split('&')
            .filter(|p| {
                !p.is_empty() && decode(p.split('=').next().unwrap_or_default(), true) != "page"
            })
            .collect();
        let url = |n: usize| {
            let mut params = kept.join("&");
            if !params.is_empty() {
                params.push('&');
            }
            format!("<{}{link_path}?{params}page={n}>", self.base)
        };
        let mut links = Vec::new();
        if page > 1 {
            links.push(format!("{}; rel=\"prev\"", url((page - 1).min(last))));
        }
        if page < last {
            links.push(format!("{}; rel=\"next\"", url(page + 1)));
            links.push(format!("{}; rel=\"last\"", url(last)));
        }
        if page > 1 {
            links.push(format!("{}; rel=\"first\"", url(1)));
        }
        let skip = (page - 1).saturating_mul(per_page);
        (
            (skip, per_page),
            (!links.is_empty()).then(|| links.join(", ")),
        )
    }
}

fn with_link(mut response: Response, link: Option<String>) -> Response {
    if let Some(v) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LINK, v);
    }
    response
}

/// Percent-decodes `s` (`+` as space in query strings).
fn decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
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

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k, true), decode(v, true))
        })
        .collect()
}

fn request_id() -> String {
    let mut rng = rand::rng();
    format!(
        "{:04X}:{:05X}:{:06X}:{:07X}:{:08X}",
        rng.random_range(0..0x1_0000u32),
        rng.random_range(0..0x10_0000u32),
        rng.random_range(0..0x100_0000u32),
        rng.random_range(0..0x1000_0000u32),
        rng.random::<u32>()
    )
}

/// Answers one REST request.
pub(super) fn handle(inner: &Inner, request: RestRequest) -> Response {
    let mut st = lock(&inner.state);
    let credential = Credential::of(&request.headers);
    let caller = match &credential {
        Credential::None => Caller::None,
        Credential::Jwt(token) => Caller::Jwt(verify_jwt(&inner.jwt_key, token)),
        Credential::Token(token) => match st.actor(token) {
            Some(actor) => Caller::Actor(actor),
            None => Caller::None,
        },
    };
    let bad_token =
        matches!(credential, Credential::Token(_)) && !matches!(caller, Caller::Actor(_));
    let rate_key = match &credential {
        Credential::None => "anonymous".to_owned(),
        Credential::Jwt(_) => "app".to_owned(),
        Credential::Token(t) if !bad_token => format!("token:{t}"),
        Credential::Token(_) => "anonymous".to_owned(),
    };
    let resource = if request.path == "/graphql" {
        "graphql"
    } else {
        "core"
    };
    let id = request_id();
    if let Some(fault) = request.fault {
        let rate = st.rate(&rate_key, false);
        let subject = match &caller {
            Caller::Actor(Actor::App { installation, .. }) => {
                format!("installation ID {installation}")
            }
            Caller::Actor(Actor::User { login }) => {
                format!("user ID {}", st.account_info(login).0)
            }
            Caller::Jwt(_) if !bad_token => format!("app ID {}", FakeGitHub::APP_ID),
            _ => "127.0.0.1".to_owned(),
        };
        return fault_response(fault, rate, resource, &id, &subject);
    }
    let rate = st.rate(&rate_key, true);
    let response = if bad_token {
        bad_credentials().into_response()
    } else if !request.json_ok
        && matches!(request.method, Method::POST | Method::PATCH | Method::PUT)
    {
        Error::new(StatusCode::BAD_REQUEST, "Problems parsing JSON").into_response()
    } else {
        let mut cx = Cx {
            st: &mut st,
            root: inner.repos_root(),
            base: inner.base(),
            method: request.method,
            query: request.query,
            body: request.body,
            caller,
        };
        match route(&mut cx, &request.path) {
            Ok(response) => response,
            Err(e) => e.into_response(),
        }
    };
    finish(response, &rate, resource, &id)
}

fn set(headers: &mut HeaderMap, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        headers.insert(name, v);
    }
}

/// Adds the headers every GitHub answer carries.
fn finish(mut response: Response, rate: &RateView, resource: &str, id: &str) -> Response {
    let status = response.status();
    let headers = response.headers_mut();
    set(headers, "x-ratelimit-limit", rate.limit);
    set(headers, "x-ratelimit-remaining", rate.remaining);
    set(headers, "x-ratelimit-used", rate.used);
    set(headers, "x-ratelimit-reset", rate.reset);
    set(headers, "x-ratelimit-resource", resource);
    set(headers, "x-github-request-id", id);
    set(headers, "x-github-media-type", "github.v3; format=json");
    set(headers, "x-github-api-version-selected", "2022-11-28");
    if status != StatusCode::NO_CONTENT {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    response
}

fn fault_response(
    fault: Fault,
    rate: RateView,
    resource: &str,
    id: &str,
    subject: &str,
) -> Response {
    match fault {
        Fault::Secondary(secs) => {
            let error = Error::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID {id}."
                ),
            );
            let mut response = finish(error.into_response(), &rate, resource, id);
            set(response.headers_mut(), "retry-after", whole_secs(secs));
            response
        }
        Fault::Primary(secs) => {
            let error = Error::new(
                StatusCode::FORBIDDEN,
                format!(
                    "API rate limit exceeded for {subject}. If you reach out to GitHub Support for help, please include the request ID {id}."
                ),
            );
            let exhausted = RateView {
                limit: rate.limit,
                remaining: 0,
                used: rate.limit,
                reset: now_unix() + whole_secs(secs) as i64,
            };
            finish(error.into_response(), &exhausted, resource, id)
        }
        Fault::Down => finish(
            Error::new(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response(),
            &rate,
            resource,
            id,
        ),
    }
}

fn route(cx: &mut Cx<'_>, path: &str) -> Answer {
    let mut segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| decode(s, false))
        .collect();
    // `/repositories/{id}/...` is GitHub's own spelling of `/repos/{owner}/{name}/...`
    // (its `Link` headers use it).
    if segs.first().map(String::as_str) == Some("repositories") && segs.len() >= 2 {
        let repo = segs[1]
            .parse::<u64>()
            .ok()
            .and_then(|id| cx.st.repo_by_id(id))
            .map(|r| (r.owner.clone(), r.name.clone()));
        let Some((owner, name)) = repo else {
            return Err(not_found());
        };
        segs.splice(0..2, ["repos".to_owned(), owner, name]);
    }
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = cx.method.clone();
    match (&method, segs.as_slice()) {
        (&Method::GET, ["app"]) => {
            cx.require_jwt()?;
            Ok(reply(StatusCode::OK, json::app(&cx.base, cx.st)))
        }
        (&Method::GET, ["app", "installations"]) => {
            cx.require_jwt()?;
            let items: Vec<Value> = cx
                .st
                .installations
                .values()
                .map(|i| json::installation(&cx.base, cx.st, i))
                .collect();
            Ok(cx.page(items, "/app/installations"))
        }
        (&Method::GET, ["app", "installations", id]) => {
            cx.require_jwt()?;
            let inst = id
                .parse::<u64>()
                .ok()
                .and_then(|id| cx.st.installations.get(&id))
                .ok_or_else(not_found)?;
            Ok(reply(
                StatusCode::OK,
                json::installation(&cx.base, cx.st, inst),
            ))
        }
        (&Method::POST, ["app", "installations", id, "access_tokens"]) => {
            cx.require_jwt()?;
            access_token(cx, id)
        }
        (&Method::GET, ["repos", owner, name, "installation"]) => {
            cx.require_jwt()?;
            let repo = cx
                .st
                .repo(&format!("{owner}/{name}"))
                .ok_or_else(not_found)?;
            let inst = cx.st.installation_for(&repo.owner).ok_or_else(not_found)?;
            Ok(reply(
                StatusCode::OK,
                json::installation(&cx.base, cx.st, inst),
            ))
        }
        (&Method::GET, ["orgs" | "users", account, "installation"]) => {
            cx.require_jwt()?;
            let inst = cx.st.installation_for(account).ok_or_else(not_found)?;
            Ok(reply(
                StatusCode::OK,
                json::installation(&cx.base, cx.st, inst),
            ))
        }
        (_, ["app", ..]) => {
            cx.require_jwt()?;
            Err(not_found())
        }
        (&Method::GET, ["user"]) => match cx.actor()? {
            Actor::User { login } => {
                let mut user = json::user(&cx.base, cx.st, &login);
                user["name"] = json!(login);
                user["created_at"] = json!(json::time(1_700_000_000));
                user["updated_at"] = json!(json::time(1_700_000_000));
                Ok(reply(StatusCode::OK, user))
            }
            Actor::App { .. } => Err(not_integration_accessible()),
        },
        (&Method::POST, ["user", "repos"]) => match cx.actor()? {
            Actor::User { login } => create_repo(
                cx,
                &login,
                &Actor::User {
                    login: login.clone(),
                },
            ),
            Actor::App { .. } => Err(not_integration_accessible()),
        },
        (&Method::POST, ["orgs", org, "repos"]) => {
            let actor = cx.actor()?;
            match &actor {
                Actor::App {
                    installation,
                    permissions,
                    ..
                } => {
                    let installed = cx
                        .st
                        .installation_for(org)
                        .is_some_and(|i| i.id == *installation);
                    if !installed {
                        return Err(not_found());
                    }
                    if permissions
                        .get("administration")
                        .map_or(0, |l| level_rank(l))
                        < 2
                    {
                        return Err(not_integration_accessible());
                    }
                }
                Actor::User { .. } => {
                    return Err(Error::new(
                        StatusCode::FORBIDDEN,
                        "You need admin access to the organization before adding a repository to it.",
                    ));
                }
            }
            let org = cx.st.canonical_login(org);
            create_repo(cx, &org, &actor)
        }
        (&Method::POST, ["graphql"]) => pulls::graphql(cx),
        (_, ["repos", owner, name, rest @ ..]) => {
            let (owner, name) = ((*owner).to_owned(), (*name).to_owned());
            repo_route(cx, &method, &owner, &name, rest)
        }
        _ => Err(not_found()),
    }
}

fn repo_route(cx: &mut Cx<'_>, method: &Method, owner: &str, name: &str, rest: &[&str]) -> Answer {
    const PULLS_READ: Need = Need {
        role: Role::Read,
        app: &[("pull_requests", "read")],
    };
    const PULLS_WRITE: Need = Need {
        role: Role::Write,
        app: &[("pull_requests", "write")],
    };
    const MERGE: Need = Need {
        role: Role::Write,
        app: &[("pull_requests", "write"), ("contents", "write")],
    };
    const CHECKS_READ: Need = Need {
        role: Role::Read,
        app: &[("checks", "read")],
    };
    const ISSUES_READ: Need = Need {
        role: Role::Read,
        app: &[("issues", "read")],
    };
    const ISSUES_WRITE: Need = Need {
        role: Role::Read,
        app: &[("issues", "write")],
    };
    // GitHub takes POST for PATCH on its update endpoints (octocrab updates comments so).
    let patch_alias = *method == Method::POST
        && matches!(
            rest,
            ["pulls", _] | ["issues", _] | ["issues", "comments", _] | ["check-runs", _]
        );
    let method = if patch_alias { &Method::PATCH } else { method };
    match (method, rest) {
        (&Method::GET, []) => {
            let (actor, full) = cx.authorize(owner, name, READ_META)?;
            let role = cx.role_on(&actor, &full);
            let repo = cx.st.repo(&full).ok_or_else(not_found)?;
            Ok(reply(
                StatusCode::OK,
                json::repo(&cx.base, cx.st, repo, role),
            ))
        }
        (&Method::GET, ["pulls"]) => {
            let (_, full) = cx.authorize(owner, name, PULLS_READ)?;
            pulls::list_pulls(cx, &full)
        }
        (&Method::POST, ["pulls"]) => {
            let (actor, full) = cx.authorize(owner, name, PULLS_WRITE)?;
            pulls::create_pull(cx, &full, &actor)
        }
        (&Method::GET, ["pulls", n]) => {
            let (_, full) = cx.authorize(owner, name, PULLS_READ)?;
            let number = n.parse::<u64>().map_err(|_| not_found())?;
            pulls::pull_answer(cx, &full, number, StatusCode::OK)
        }
        (&Method::PATCH, ["pulls", n]) => {
            let (_, full) = cx.authorize(owner, name, PULLS_WRITE)?;
            let number = n.parse::<u64>().map_err(|_| not_found())?;
            pulls::update_pull(cx, &full, number)
        }
        (&Method::GET, ["pulls", n, "merge"]) => {
            let (_, full) = cx.authorize(owner, name, PULLS_READ)?;
            let merged = n
                .parse::<u64>()
                .ok()
                .and_then(|n| cx.st.repo(&full)?.pulls.get(&n).map(|p| p.merged));
            if merged == Some(true) {
                Ok(StatusCode::NO_CONTENT.into_response())
            } else {
                Err(not_found())
            }
        }
        (&Method::PUT, ["pulls", n, "merge"]) => {
            let (actor, full) = cx.authorize(owner, name, MERGE)?;
            let number = n.parse::<u64>().map_err(|_| not_found())?;
            let request = MergeRequest {
                method: cx
                    .body_str("merge_method")
                    .unwrap_or_else(|| "merge".into()),
                sha: cx.body_str("sha"),
                title: cx.body_str("commit_title"),
                message: cx.body_str("commit_message"),
            };
            let sha = merge(cx.st, &full, number, &actor, &request)?;
            Ok(reply(
                StatusCode::OK,
                json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}),
            ))
        }
        (&Method::POST, ["check-runs"]) => {
            let full = authorize_checks_write(cx, owner, name)?;
            checks::create_check_run(cx, &full)
        }
        (&Method::GET, ["check-runs", id]) => {
            let (_, full) = cx.authorize(owner, name, CHECKS_READ)?;
            let id = id.parse::<u64>().map_err(|_| not_found())?;
            let value = checks::check_run_json(cx, &full, id)?;
            Ok(reply(StatusCode::OK, value))
        }
        (&Method::PATCH, ["check-runs", id]) => {
            let full = authorize_checks_write(cx, owner, name)?;
            let id = id.parse::<u64>().map_err(|_| not_found())?;
            checks::update_check_run(cx, &full, id)
        }
        (&Method::GET, ["check-runs", id, "annotations"]) => {
            let (_, full) = cx.authorize(owner, name, CHECKS_READ)?;
            let id = id.parse::<u64>().map_err(|_| not_found())?;
            let repo = cx.st.repo(&full).ok_or_else(not_found)?;
            let run = repo
                .check_runs
                .iter()
                .find(|r| r.id == id)
                .ok_or_else(not_found)?;
            let items = run
                .annotations
                .iter()
                .map(|a| json::annotation(&cx.base, repo, run, a))
                .collect();
            let link = format!("/repositories/{}/check-runs/{id}/annotations", repo.id);
            Ok(cx.page(items, &link))
        }
        (&Method::GET, ["commits", reference @ .., "check-runs"]) if !reference.is_empty() => {
            let (_, full) = cx.authorize(owner, name, CHECKS_READ)?;
            checks::list_check_runs(cx, &full, &reference.join("/"))
        }
        (&Method::GET, ["issues"]) => {
            let (_, full) = cx.authorize(owner, name, ISSUES_READ)?;
            issues::list_issues(cx, &full)
        }
        (&Method::POST, ["issues"]) => {
            let (actor, full) = cx.authorize(owner, name, ISSUES_WRITE)?;
            issues::create_issue(cx, &full, &actor)
        }
        (&Method::GET, ["issues", "comments", id]) => {
            let (_, full) = cx.authorize(owner, name, ISSUES_READ)?;
            let id = id.parse::<u64>().map_err(|_| not_found())?;
            let repo = cx.st.repo(&full).ok_or_else(not_found)?;
            let comment = repo
                .comments
                .iter()
                .find(|c| c.id == id)
                .ok_or_else(not_found)?;
            Ok(reply(
                StatusCode::OK,
                json::comment(&cx.base, cx.st, repo, comment),
            ))
        }
        (&Method::PATCH | &Method::DELETE, ["issues", "comments", id]) => {
            let (actor, full) = cx.authorize(owner, name, ISSUES_WRITE)?;
            let id = id.parse::<u64>().map_err(|_| not_found())?;
            issues::edit_comment(cx, &full, &actor, id)
        }
        (&Method::GET, ["issues", n]) => {
            let (_, full) = cx.authorize(owner, name, ISSUES_READ)?;
            let number = n.parse::<u64>().map_err(|_| not_found())?;
            issues::issue_answer(cx, &full, number, StatusCode::OK)
        }
        (&Method::PATCH, ["issues", n]) => {
            let (actor, full) = cx.authorize(owner, name, ISSUES_WRITE)?;
            let number = n.parse::<u64>().map_err(|_| not_found())?;
            issues::update_issue(cx, &full, &actor, number)
        }
        (&Method::GET, ["issues", n, "comments"]) => {
            let (_, full) = cx.authorize(owner, name, ISSUES_READ)?;
            let number = n.parse::<u64>().map_err(|_| not_found())?;
            let repo = cx.st.repo(&full).ok_or_else(not_found)?;
            if !repo.issues.contains_key(&number) && !repo.pulls.contains_key(&number) {
                return Err(not_found());
            }
            let items = repo
                .comments
                .iter()
                .filter(|c| c.number == number)
                .map(|c| json::comment(&cx.base, cx.st, repo, c))
                .collect();
            let link = format!("/repositories/{}/issues/{number}/comments", repo.id);
            Ok(cx.page(items, &link))
        }
        (&Method::POST, ["issues", n, "comments"]) => {
            let (actor, full) = cx.authorize(owner, name, ISSUES_WRITE)?;
            let number = n.parse::<u64>().map_err(|_| not_found())?;
            issues::create_comment(cx, &full, &actor, number)
        }
        (&Method::GET, ["collaborators", user, "permission"]) => {
            let (_, full) = cx.authorize(owner, name, READ_META)?;
            let repo = cx.st.repo(&full).ok_or_else(not_found)?;
            let role = cx.st.role(repo, user);
            Ok(reply(
                StatusCode::OK,
                json::permission(&cx.base, cx.st, user, role),
            ))
        }
        _ => {
            // Unknown routes of a hidden repository are as unknown as the repository.
            cx.authorize(owner, name, READ_META)?;
            Err(not_found())
        }
    }
}

/// Check-run writes: only an installation token with `checks: write`.
fn authorize_checks_write(cx: &Cx<'_>, owner: &str, name: &str) -> Result<String, Error> {
    const CHECKS_WRITE: Need = Need {
        role: Role::Write,
        app: &[("checks", "write")],
    };
    let (actor, full) = cx.authorize(
        owner,
        name,
        Need {
            role: Role::Read,
            ..CHECKS_WRITE
        },
    )?;
    if matches!(actor, Actor::User { .. }) {
        return Err(Error::new(
            StatusCode::FORBIDDEN,
            "You must authenticate via a GitHub App.",
        ));
    }
    Ok(full)
}

fn access_token(cx: &mut Cx<'_>, id: &str) -> Answer {
    let inst = id
        .parse::<u64>()
        .ok()
        .and_then(|id| cx.st.installations.get(&id))
        .ok_or_else(not_found)?;
    let (inst_id, account, granted) = (inst.id, inst.account.clone(), inst.permissions.clone());
    let inaccessible = || {
        Error::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "There is at least one repository that does not exist or is not accessible to the parent installation.",
        )
    };
    let mut scope: Option<BTreeSet<u64>> = None;
    if let Some(names) = cx.body.get("repositories").filter(|v| !v.is_null()) {
        let names = names.as_array().ok_or_else(inaccessible)?;
        let set = scope.get_or_insert_with(BTreeSet::new);
        for name in names {
            let name = name.as_str().ok_or_else(inaccessible)?;
            let name = name.rsplit('/').next().unwrap_or(name);
            let repo = cx
                .st
                .repo(&format!("{account}/{name}"))
                .ok_or_else(inaccessible)?;
            set.insert(repo.id);
        }
    }
    if let Some(ids) = cx.body.get("repository_ids").filter(|v| !v.is_null()) {
        let ids = ids.as_array().ok_or_else(inaccessible)?;
        let set = scope.get_or_insert_with(BTreeSet::new);
        for id in ids {
            let repo = id
                .as_u64()
                .and_then(|id| cx.st.repo_by_id(id))
                .filter(|r| r.owner.eq_ignore_ascii_case(&account))
                .ok_or_else(inaccessible)?;
            set.insert(repo.id);
        }
    }
    let permissions = match cx.body.get("permissions").filter(|v| !v.is_null()) {
        None => granted,
        Some(asked) => {
            let not_granted = || {
                Error::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "The permissions requested are not granted to this installation.",
                )
            };
            let asked = asked.as_object().ok_or_else(not_granted)?;
            let mut permissions = BTreeMap::new();
            for (name, level) in asked {
                let level = level.as_str().ok_or_else(not_granted)?;
                let has = granted.get(name).map_or(0, |l| level_rank(l));
                if level_rank(level) == 0 || level_rank(level) > has {
                    return Err(not_granted());
                }
                permissions.insert(name.clone(), level.to_owned());
            }
            permissions
        }
    };
    let (token, expires) =
        cx.st
            .mint_installation_token(inst_id, scope.clone(), permissions.clone());
    let expires_unix = expires
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut body = json!({
        "token": token,
        "expires_at": json::time(expires_unix),
        "permissions": permissions,
        "repository_selection": if scope.is_some() { "selected" } else { "all" },
    });
    if let Some(scope) = &scope {
        let repos: Vec<Value> = scope
            .iter()
            .filter_map(|id| cx.st.repo_by_id(*id))
            .map(|r| json::repo(&cx.base, cx.st, r, None))
            .collect();
        body["repositories"] = json!(repos);
    }
    Ok(reply(StatusCode::CREATED, body))
}

fn valid_repo_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name != "."
        && name != ".."
        && !name.ends_with(".git")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn create_repo(cx: &mut Cx<'_>, owner: &str, actor: &Actor) -> Answer {
    let Some(name) = cx.body_str("name") else {
        return Err(missing_field("Repository", "name"));
    };
    if !valid_repo_name(&name) {
        return Err(Error {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "Repository creation failed.".into(),
            errors: Some(json!([{
                "resource": "Repository", "code": "custom", "field": "name",
                "message": "name is invalid"
            }])),
        });
    }
    let full = format!("{owner}/{name}");
    if cx.st.repo(&full).is_some() {
        return Err(Error {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "Repository creation failed.".into(),
            errors: Some(json!([{
                "resource": "Repository", "code": "custom", "field": "name",
                "message": "name already exists on this account"
            }])),
        });
    }
    let private = match (
        cx.body.get("private").and_then(Value::as_bool),
        cx.body.get("visibility").and_then(Value::as_str),
    ) {
        (Some(p), _) => p,
        (None, Some(v)) => v != "public",
        (None, None) => true,
    };
    let description = cx.body_str("description");
    let path = cx
        .st
        .create_repo(&cx.root, owner, &name, description)
        .map_err(internal)?;
    if let Some(repo) = cx.st.repo_mut(&full) {
        repo.private = private;
    }
    if cx.body.get("auto_init").and_then(Value::as_bool) == Some(true) {
        let readme = format!("# {name}\n");
        let author = commit_ident(cx.st, actor.login());
        git::initial_commit(&path, &[("README.md", &readme)], "Initial commit", &author)
            .map_err(internal)?;
    }
    let role = cx.role_on(actor, &full).map(|r| r.max(Role::Admin));
    let repo = cx.st.repo(&full).ok_or_else(not_found)?;
    Ok(created(json::repo(&cx.base, cx.st, repo, role)))
}

/// The commit identity of `login`.
fn commit_ident(st: &State_, login: &str) -> Ident {
    if login == BOT_LOGIN {
        return Ident::user(BOT_LOGIN, BOT_ID);
    }
    Ident::user(&st.canonical_login(login), st.account_info(login).0)
}
