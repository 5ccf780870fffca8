//! Whether the package registries a template installs from answer: the tester checks before
//! installing, so a machine without access to one blocks the task naming that registry
//! instead of failing deep inside a package manager's retry loop, and the API reports it in
//! a template's availability.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a probe result is reused; fix rounds in quick succession probe once.
const REMEMBER: Duration = Duration::from_secs(60);

/// When each registry was last probed, and how that went.
type Seen = HashMap<String, (Instant, Result<(), String>)>;

/// Probes registries over HTTP; any HTTP answer (even 404) counts as reachable.
#[derive(Clone)]
pub struct Registries {
    http: reqwest::Client,
    seen: Arc<Mutex<Seen>>,
}

impl Registries {
    pub fn new(timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            http,
            seen: Arc::default(),
        }
    }

    /// The registries of `urls` that did not answer, each with why; probed concurrently.
    pub async fn unreachable(&self, urls: &[String]) -> Vec<(String, String)> {
        let probes = urls
            .iter()
            .map(|url| async move { self.probe(url).await.err().map(|why| (url.clone(), why)) });
        futures::future::join_all(probes)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    async fn probe(&self, url: &str) -> Result<(), String> {
        if let Some((at, result)) = self.seen.lock().expect("registry cache").get(url)
            && at.elapsed() < REMEMBER
        {
            return result.clone();
        }
        let result = match self.http.head(url).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(describe(&e)),
        };
        self.seen
            .lock()
            .expect("registry cache")
            .insert(url.to_owned(), (Instant::now(), result.clone()));
        result
    }
}

/// The innermost cause, which is the part that says what went wrong (DNS, refused, TLS).
fn describe(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut last = e.to_string();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    if e.is_timeout() {
        format!("no answer ({last})")
    } else {
        last
    }
}

/// The task's blocking reason for unreachable registries.
pub fn blocked_reason(template: &str, unreachable: &[(String, String)]) -> String {
    let list: Vec<String> = unreachable
        .iter()
        .map(|(url, why)| format!("{url} ({why})"))
        .collect();
    format!(
        "package registry unreachable from the tester host: {} (needed by template {template} to install dependencies)",
        list.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn any_http_answer_is_reachable_and_a_closed_port_is_not() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = format!("http://{}/", listener.local_addr().unwrap());
        let app =
            axum::Router::new().fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "") });
        tokio::spawn(async move { axum::serve(listener, app).await });
        // A port that was free a moment ago: nothing listens there.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/", l.local_addr().unwrap())
        };
        let registries = Registries::new(Duration::from_secs(5));
        let down = registries
            .unreachable(&[open.clone(), closed.clone()])
            .await;
        assert_eq!(down.len(), 1, "{down:?}");
        assert_eq!(down[0].0, closed);
        assert!(down[0].1.to_lowercase().contains("refused"), "{down:?}");
        let reason = blocked_reason("laravel", &down);
        assert!(
            reason.contains(&closed) && reason.contains("laravel"),
            "{reason}"
        );
    }
}
