//! The HTTP face of the local target: `/apps/<app>/...` is answered from a static release or
//! forwarded to the app: over its Unix socket when it has a network of its own (the sandbox
//! carries the request to its port inside), else to its port on host loopback. Every app
//! shares one public address.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Uri, Version};
use tower_http::services::ServeDir;
use tracing::warn;

use super::process::{Health, Instance};
use super::{Inner, Serve};

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/apps/{app}", any(handle))
        .route("/apps/{app}/", any(handle))
        .route("/apps/{app}/{*rest}", any(handle))
        .with_state(inner)
}

fn text(status: StatusCode, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

async fn handle(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    // Path extractors would percent-decode; the raw path is what gets forwarded and checked.
    let path = req.uri().path().to_owned();
    let after = path.strip_prefix("/apps/").unwrap_or_default();
    let (app, rest) = match after.split_once('/') {
        Some((app, rest)) => (app, Some(rest)),
        None => (after, None),
    };
    let Some(serve) = inner.serve_for(app) else {
        let shown = if crate::spec::valid_app_name(app) {
            app
        } else {
            "that name"
        };
        return text(StatusCode::NOT_FOUND, format!("no app named {shown}\n"));
    };
    let query = req.uri().query().map(str::to_owned);
    let Some(rest) = rest else {
        // Relative so it stays right when the router is nested under another prefix.
        return redirect(&format!("{app}/"), query.as_deref());
    };
    let Some(relative) = decode_relative(rest) else {
        return text(StatusCode::BAD_REQUEST, "invalid path\n".into());
    };
    match serve {
        Serve::Static { dir } => serve_static(&dir, rest, &relative, query.as_deref(), req).await,
        Serve::Process { instance } => match instance.health() {
            Health::Running { .. } => forward(&inner, app, &instance, rest, req).await,
            Health::Restarting { crashes } => text(
                StatusCode::BAD_GATEWAY,
                format!("app {app} crashed ({crashes} times recently) and is restarting\n"),
            ),
            Health::GaveUp { crashes } => text(
                StatusCode::BAD_GATEWAY,
                format!(
                    "app {app} crashed {crashes} times within {}s and was given up; redeploy it to start again\n",
                    instance.crash_window().as_secs()
                ),
            ),
            Health::Stopped => text(StatusCode::BAD_GATEWAY, format!("app {app} is stopped\n")),
        },
    }
}

fn redirect(location: &str, query: Option<&str>) -> Response {
    let location = match query {
        Some(query) => format!("{location}?{query}"),
        None => location.to_owned(),
    };
    match HeaderValue::from_str(&location) {
        Ok(value) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, value)]).into_response(),
        Err(_) => text(StatusCode::BAD_REQUEST, "invalid path\n".into()),
    }
}

/// Percent-decodes `raw` into a relative path, or `None` when any segment is `..`, absolute or
/// otherwise able to leave the app's directory (including `%2e%2e` and `%2f` tricks).
fn decode_relative(raw: &str) -> Option<PathBuf> {
    let decoded = percent_decode(raw)?;
    if decoded.contains(['\\', '\0']) {
        return None;
    }
    let path = PathBuf::from(decoded.trim_start_matches('/'));
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        .then_some(path)
}

pub(crate) fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

async fn serve_static(
    dir: &Path,
    raw: &str,
    relative: &Path,
    query: Option<&str>,
    req: Request,
) -> Response {
    let target = dir.join(relative);
    // Symlinks inside a build could point anywhere; only serve what really lies under `dir`.
    if let (Ok(base), Ok(resolved)) = (
        tokio::fs::canonicalize(dir).await,
        tokio::fs::canonicalize(&target).await,
    ) {
        if !resolved.starts_with(&base) {
            return text(StatusCode::NOT_FOUND, "not found\n".into());
        }
        // Without the slash, relative links in the directory's index.html would resolve one level up.
        if !raw.is_empty() && !raw.ends_with('/') && resolved.is_dir() {
            let last = raw.rsplit('/').next().unwrap_or(raw);
            return redirect(&format!("{last}/"), query);
        }
    }
    // A leading "//" would otherwise parse as an authority.
    let raw = raw.trim_start_matches('/');
    let path_and_query = match query {
        Some(query) => format!("/{raw}?{query}"),
        None => format!("/{raw}"),
    };
    let Ok(uri) = path_and_query.parse::<Uri>() else {
        return text(StatusCode::BAD_REQUEST, "invalid path\n".into());
    };
    let (mut parts, _body) = req.into_parts();
    parts.uri = uri;
    let req = http::Request::from_parts(parts, Body::empty());
    match ServeDir::new(dir).try_call(req).await {
        Ok(response) => response.map(Body::new),
        Err(err) => {
            warn!(dir = %dir.display(), error = %err, "static file serving failed");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not read file\n".into(),
            )
        }
    }
}

/// Headers that describe one connection rather than the message and must not be forwarded.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

async fn forward(
    inner: &Inner,
    app: &str,
    instance: &Instance,
    rest: &str,
    req: Request,
) -> Response {
    let port = instance.port();
    let socket = instance.inbound_socket();
    let (parts, body) = req.into_parts();
    let path = match parts.uri.query() {
        Some(query) => format!("/{rest}?{query}"),
        None => format!("/{rest}"),
    };
    // Over the app's socket there is no connection pool that needs an authority.
    let uri = match socket {
        Some(_) => path,
        None => format!("http://127.0.0.1:{port}{path}"),
    };
    let Ok(uri) = uri.parse::<Uri>() else {
        return text(StatusCode::BAD_REQUEST, "invalid path\n".into());
    };
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    let forwarded_host = headers
        .get(header::HOST)
        .cloned()
        .or_else(|| HeaderValue::from_str(&inner.public_authority).ok());
    if let Ok(host) = HeaderValue::from_str(&format!("127.0.0.1:{port}")) {
        headers.insert(header::HOST, host);
    }
    if let Some(host) = forwarded_host {
        headers.insert(HeaderName::from_static("x-forwarded-host"), host);
    }
    if let Ok(proto) = HeaderValue::from_str(&inner.public_scheme) {
        headers.insert(HeaderName::from_static("x-forwarded-proto"), proto);
    }
    if let Ok(prefix) = HeaderValue::from_str(&format!("/apps/{app}")) {
        headers.insert(HeaderName::from_static("x-forwarded-prefix"), prefix);
    }

    let mut upstream = http::Request::new(body);
    *upstream.method_mut() = parts.method;
    *upstream.uri_mut() = uri;
    *upstream.version_mut() = Version::HTTP_11;
    *upstream.headers_mut() = headers;

    let response = match socket {
        Some(socket) => send_over(socket, upstream).await,
        None => inner
            .client
            .request(upstream)
            .await
            .map_err(|e| e.to_string()),
    };
    match response {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, Body::new(body))
        }
        Err(err) => {
            warn!(app, port, error = %err, "upstream request failed");
            text(
                StatusCode::BAD_GATEWAY,
                format!("app {app} is not reachable\n"),
            )
        }
    }
}

/// One request over a fresh connection to the app's socket (the sandbox forwards it to the
/// app's port inside its own network).
async fn send_over(
    socket: &Path,
    request: http::Request<Body>,
) -> Result<http::Response<hyper::body::Incoming>, String> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|e| format!("connecting to {}: {e}", socket.display()))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        // Ends when the response is done or the app hangs up; either is no news.
        let _ = connection.await;
    });
    sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_rejects_escapes() {
        for raw in [
            "../etc/passwd",
            "a/../../b",
            "%2e%2e/etc",
            "%2E%2E%2Fetc",
            "a%2f..%2f..",
            "a%5c..",
            "bad%zz",
            "%",
        ] {
            assert!(decode_relative(raw).is_none(), "{raw:?} accepted");
        }
        assert_eq!(decode_relative(""), Some(PathBuf::new()));
        // Leading slashes stay inside: the path is joined relative to the app's directory.
        assert_eq!(
            decode_relative("/etc/passwd"),
            Some(PathBuf::from("etc/passwd"))
        );
        assert_eq!(decode_relative("%2fetc"), Some(PathBuf::from("etc")));
        assert_eq!(
            decode_relative("a%20b/./c.txt"),
            Some(PathBuf::from("a b/./c.txt"))
        );
    }
}
