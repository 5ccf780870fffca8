//! Local fakes of the services Kiln's intake talks to — the Telegram Bot API, Discord's
//! interaction webhooks and Jira Cloud's REST v3 API — speaking their real wire formats on
//! `127.0.0.1:<random port>`, so the clients are tested over real HTTP. The GitHub fake
//! ([`FakeGitHub`]) adds REST v3 with app and token auth, and real repositories behind git's
//! smart HTTP protocol.
//!
//! Each fake records every request ([`Recorded`]: method, path, query, headers, JSON body)
//! for the test to assert on, keeps the state a real service would (messages, updates,
//! issues), and can be switched to answer like a rate-limited or broken service
//! ([`Mode`]), persistently or for the next few requests only.
//!
//! ```ignore
//! let tg = FakeTelegram::start().await;
//! let client = telegram::Client::with_base_url(tg.base_url(), Secret::new(tg.token()));
//! tg.fail_next(Mode::RateLimited { retry_after_secs: 3.0 });
//! ```

pub mod discord;
pub mod github;
pub mod jira;
pub mod telegram;

pub use discord::FakeDiscord;
pub use github::FakeGitHub;
pub use jira::FakeJira;
pub use telegram::FakeTelegram;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::Value;

/// One request a fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    /// The path without the query, e.g. `/bot123:abc/sendMessage`.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// Every header, names lowercase, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The JSON body; `Null` when there was none or it was not JSON.
    pub body: Value,
}

impl Recorded {
    /// The value of header `name` (any case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The last path segment: the Bot API method, or `@original`, `comment`, ...
    pub fn last_segment(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }
}

/// How a fake answers besides normally.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Answer as the real service does.
    Normal,
    /// Too many requests, in the service's format, saying when to retry (Telegram and Jira
    /// round up to whole seconds).
    RateLimited { retry_after_secs: f64 },
    /// Discord's global rate limit (the other fakes treat it as [`Mode::RateLimited`]).
    GloballyRateLimited { retry_after_secs: f64 },
    /// The service is broken: 500 in its error format.
    Down,
}

/// What every fake shares: the request log and the fault switches.
#[derive(Default)]
pub(crate) struct Common {
    log: Mutex<Vec<Recorded>>,
    mode: Mutex<Option<Mode>>,
    next_faults: Mutex<VecDeque<Mode>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Common {
    /// Records the request and returns the fault to answer with, if any.
    pub(crate) fn record(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> (Recorded, Option<Mode>) {
        let recorded = Recorded {
            method: method.as_str().to_owned(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers: headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
        };
        lock(&self.log).push(recorded.clone());
        let fault = lock(&self.next_faults)
            .pop_front()
            .or_else(|| lock(&self.mode).clone())
            .filter(|m| *m != Mode::Normal);
        (recorded, fault)
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        lock(&self.log).clone()
    }

    pub(crate) fn clear(&self) {
        lock(&self.log).clear();
    }

    pub(crate) fn set_mode(&self, mode: Mode) {
        *lock(&self.mode) = Some(mode);
    }

    pub(crate) fn fail_next(&self, mode: Mode) {
        lock(&self.next_faults).push_back(mode);
    }
}

/// The fault-and-log surface every fake offers.
macro_rules! common_api {
    () => {
        /// Every request received, in order of arrival.
        pub fn requests(&self) -> Vec<$crate::fakes::Recorded> {
            self.inner.common.requests()
        }

        /// The requests whose path ends with `/<segment>` (a Bot API method, `comment`, ...).
        pub fn requests_to(&self, segment: &str) -> Vec<$crate::fakes::Recorded> {
            self.requests()
                .into_iter()
                .filter(|r| r.last_segment() == segment)
                .collect()
        }

        /// Forgets the requests recorded so far.
        pub fn clear_requests(&self) {
            self.inner.common.clear()
        }

        /// Answers every request this way from now on (`Mode::Normal` restores).
        pub fn set_mode(&self, mode: $crate::fakes::Mode) {
            self.inner.common.set_mode(mode)
        }

        /// Answers the next request this way, before any persistent mode; calls queue.
        pub fn fail_next(&self, mode: $crate::fakes::Mode) {
            self.inner.common.fail_next(mode)
        }
    };
}
pub(crate) use common_api;

/// A running axum server; stops when dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub(crate) async fn start(app: Router, what: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind the fake {what}: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("fake {what} address: {e}"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Self { addr, task }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Seconds as the whole number a `Retry-After` header carries, rounded up.
pub(crate) fn whole_secs(secs: f64) -> u64 {
    if secs.is_finite() && secs > 0.0 {
        secs.ceil() as u64
    } else {
        0
    }
}

/// Unix seconds now.
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    //! The fakes' wire formats, checked with a plain HTTP client.

    use serde_json::{Value, json};

    use super::*;

    async fn post(
        url: &str,
        body: &Value,
        auth: Option<(&str, &str)>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = reqwest::Client::new().post(url).json(body);
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (
            status,
            headers,
            response.json().await.unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn telegram_speaks_the_bot_api_envelope() {
        let fake = FakeTelegram::start().await;
        let url = |m: &str| format!("{}/bot{}/{m}", fake.base_url(), fake.token());
        let (code, _, body) = post(
            &url("sendMessage"),
            &json!({"chat_id": 1, "text": "hi"}),
            None,
        )
        .await;
        assert_eq!(code, 200);
        assert_eq!(body["ok"], true);
        assert_eq!(body["result"]["message_id"], 1);
        assert_eq!(body["result"]["chat"]["id"], 1);
        let (code, _, body) = post(
            &url("sendMessage"),
            &json!({"chat_id": 1, "text": ""}),
            None,
        )
        .await;
        assert_eq!(
            (code, &body["ok"], &body["error_code"]),
            (400, &json!(false), &json!(400))
        );
        assert_eq!(body["description"], "Bad Request: message text is empty");
        let (code, _, _) = post(
            &format!("{}/botnope/getMe", fake.base_url()),
            &json!({}),
            None,
        )
        .await;
        assert_eq!(code, 401);

        // Parameters may come as a query string too.
        let response = reqwest::Client::new()
            .get(format!("{}?chat_id=1&text=via+query", url("sendMessage")))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            fake.message(1, 2).map(|m| m.text).as_deref(),
            Some("via query")
        );

        fake.fail_next(Mode::RateLimited {
            retry_after_secs: 2.5,
        });
        let (code, headers, body) = post(&url("getMe"), &json!({}), None).await;
        assert_eq!(code, 429);
        assert_eq!(body["parameters"]["retry_after"], 3);
        assert_eq!(
            headers.get("retry-after").and_then(|v| v.to_str().ok()),
            Some("3")
        );
        fake.fail_next(Mode::Down);
        let (code, _, body) = post(&url("getMe"), &json!({}), None).await;
        assert_eq!((code, &body["error_code"]), (500, &json!(500)));

        let requests = fake.requests();
        assert_eq!(requests.len(), 6);
        assert_eq!(requests[0].body["text"], "hi");
        assert_eq!(
            requests[3].query.as_deref(),
            Some("chat_id=1&text=via+query")
        );
        assert_eq!(requests[0].header("content-type"), Some("application/json"));
        fake.clear_requests();
        assert!(fake.requests().is_empty());
    }

    #[tokio::test]
    async fn telegram_long_polls_and_confirms_by_offset() {
        let fake = FakeTelegram::start().await;
        let url = format!("{}/bot{}/getUpdates", fake.base_url(), fake.token());
        let first = fake.push_message(5, 9, "/help");
        let second = fake.push_message(5, 9, "/status");
        let (_, _, body) = post(&url, &json!({"limit": 1}), None).await;
        assert_eq!(body["result"].as_array().map(Vec::len), Some(1));
        assert_eq!(body["result"][0]["update_id"], first);
        assert_eq!(
            body["result"][0]["message"]["entities"][0]["type"],
            "bot_command"
        );
        let (_, _, body) = post(&url, &json!({"offset": first + 1}), None).await;
        assert_eq!(body["result"][0]["update_id"], second);
        let waiter = tokio::spawn({
            let url = url.clone();
            async move { post(&url, &json!({"offset": second + 1, "timeout": 20}), None).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let third = fake.push_message(5, 9, "/projects");
        let (_, _, body) = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken by the update")
            .expect("join");
        assert_eq!(body["result"][0]["update_id"], third);
        assert_eq!(fake.pending_updates(), 1);
    }

    #[tokio::test]
    async fn discord_rate_limits_carry_the_body_and_headers() {
        let fake = FakeDiscord::start().await;
        let token = fake.new_token();
        let url = format!(
            "{}/webhooks/{}/{token}",
            fake.base_url(),
            fake.application_id()
        );
        fake.fail_next(Mode::GloballyRateLimited {
            retry_after_secs: 1.25,
        });
        let (code, headers, body) = post(&url, &json!({"content": "hi"}), None).await;
        assert_eq!(code, 429);
        assert_eq!(
            body,
            json!({"message": "You are being rate limited.", "retry_after": 1.25, "global": true})
        );
        let header = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(header("retry-after").as_deref(), Some("2"));
        assert_eq!(header("x-ratelimit-global").as_deref(), Some("true"));
        assert_eq!(header("x-ratelimit-reset-after").as_deref(), Some("1.250"));
        let (code, _, body) = post(&url, &json!({"content": "hi"}), None).await;
        assert_eq!(code, 200);
        assert_eq!(body["content"], "hi");
        assert_eq!(fake.messages_for(&token).len(), 1);
        let (code, _, body) = post(&url, &json!({"content": "x".repeat(2001)}), None).await;
        assert_eq!((code, &body["code"]), (400, &json!(50035)));
    }

    #[tokio::test]
    async fn jira_checks_basic_auth_and_adf() {
        let fake = FakeJira::start().await;
        let key = fake.add_issue("KILN", "s", "");
        let url = format!("{}/rest/api/3/issue/{key}/comment", fake.base_url());
        let auth = Some((fake.email(), fake.api_token()));
        let adf = json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hi"}]}]});
        let (code, _, _) = post(&url, &json!({"body": adf}), None).await;
        assert_eq!(code, 401);
        let (code, _, _) = post(&url, &json!({"body": adf}), Some((fake.email(), "wrong"))).await;
        assert_eq!(code, 401);
        let (code, _, body) = post(&url, &json!({"body": "wiki text"}), auth).await;
        assert_eq!(code, 400);
        assert_eq!(body["errors"]["comment"], "Comment body is not valid!");
        let (code, _, body) = post(&url, &json!({"body": adf}), auth).await;
        assert_eq!(code, 201);
        assert_eq!(body["author"]["accountId"], jira::ACCOUNT_ID);
        fake.set_mode(Mode::RateLimited {
            retry_after_secs: 4.0,
        });
        let (code, headers, _) = post(&url, &json!({"body": adf}), auth).await;
        assert_eq!(code, 429);
        assert_eq!(
            headers.get("retry-after").and_then(|v| v.to_str().ok()),
            Some("4")
        );
        assert_eq!(fake.issue(&key).map(|i| i.comments.len()), Some(1));
        // RFC 4231-style known answer: HMAC-SHA256("key", "The quick brown fox ...").
        assert_eq!(
            FakeJira::signature("key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
