//! HTTP verification of a deployed app; every target exposes apps over HTTP, so they all share it.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::{Check, DeploySpec, Deployed, Verification};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const RETRY_PAUSE: Duration = Duration::from_millis(300);
/// Pages larger than this are only searched in their first part; verification must stay bounded.
const BODY_LIMIT: usize = 2 * 1024 * 1024;
const SHOWN_LIMIT: usize = 200;

/// Runs the health, version and content checks against `deployed.url`.
///
/// Requests that fail or answer non-2xx are retried until `window` has passed, because an app
/// may still be warming up right after its port opened; each check gets at least one attempt.
pub async fn verify_http(spec: &DeploySpec, deployed: &Deployed, window: Duration) -> Verification {
    let client = match reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            return finish(vec![Check {
                name: "client".into(),
                ok: false,
                detail: format!("could not build http client: {err}"),
            }]);
        }
    };
    let deadline = Instant::now() + window;
    let base = deployed.url.trim_end_matches('/');

    let health_url = format!("{base}{}", spec.health_path);
    let health = match fetch(&client, &health_url, deadline).await {
        Ok(got) => Check {
            name: "health".into(),
            ok: true,
            detail: format!("GET {health_url} answered {}", got.status),
        },
        Err(detail) => Check {
            name: "health".into(),
            ok: false,
            detail,
        },
    };

    let version_url = format!("{base}{}", spec.version_path);
    let version = match fetch(&client, &version_url, deadline).await {
        Ok(got) => {
            let served = got.body.trim();
            Check {
                name: "version".into(),
                ok: served == spec.commit,
                detail: if served == spec.commit {
                    format!("GET {version_url} served {:?}", spec.commit)
                } else {
                    format!(
                        "GET {version_url} served {:?}, expected {:?}",
                        shorten(served),
                        spec.commit
                    )
                },
            }
        }
        Err(detail) => Check {
            name: "version".into(),
            ok: false,
            detail,
        },
    };

    let page_url = format!("{base}/");
    let content = match fetch(&client, &page_url, deadline).await {
        Ok(got) => {
            let missing: Vec<&String> = spec
                .expect_text
                .iter()
                .filter(|text| !got.body.contains(text.as_str()))
                .collect();
            Check {
                name: "content".into(),
                ok: missing.is_empty(),
                detail: if missing.is_empty() {
                    format!(
                        "GET {page_url} contains all {} expected strings",
                        spec.expect_text.len()
                    )
                } else {
                    format!(
                        "GET {page_url} ({} bytes) is missing {}",
                        got.body.len(),
                        missing
                            .iter()
                            .map(|text| format!("{text:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            }
        }
        Err(detail) => Check {
            name: "content".into(),
            ok: false,
            detail,
        },
    };

    finish(vec![health, version, content])
}

fn finish(checks: Vec<Check>) -> Verification {
    Verification {
        ok: checks.iter().all(|check| check.ok),
        checks,
    }
}

struct Fetched {
    status: StatusCode,
    body: String,
}

/// GETs `url` until it answers 2xx or the deadline passes; the error is the failure detail.
async fn fetch(client: &reqwest::Client, url: &str, deadline: Instant) -> Result<Fetched, String> {
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let failure = match client.get(url).send().await {
            Ok(response) if response.status().is_success() => {
                let status = response.status();
                match read_capped(response).await {
                    Ok(body) => return Ok(Fetched { status, body }),
                    Err(err) => format!("GET {url} answered {status} but the body failed: {err}"),
                }
            }
            Ok(response) => format!("GET {url} answered {}", response.status()),
            Err(err) => format!("GET {url} failed: {}", error_chain(&err)),
        };
        if Instant::now() + RETRY_PAUSE >= deadline {
            return Err(format!("{failure} (after {attempts} attempts)"));
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<String, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = BODY_LIMIT - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= BODY_LIMIT {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// reqwest's top-level message hides the useful part ("connection refused") in its sources.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let part = inner.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = inner.source();
    }
    text
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(SHOWN_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
