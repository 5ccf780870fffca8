//! The in-process API every test talks to, and assertions shared by the tests.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;
use kiln_runtime::Runtime;
use kiln_runtime::telemetry::Telemetry;
use kiln_templates::Catalog;
use kiln_testkit::TestEnv;
use serde_json::{Value, json};
use sqlx::Row;
use tokio_util::sync::CancellationToken;

static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();

/// Installs tracing with OpenTelemetry once per test binary, so outgoing messages carry
/// `traceparent` as they do in a real process.
pub fn telemetry() {
    TELEMETRY.get_or_init(|| {
        kiln_runtime::telemetry::init("api-test", kiln_runtime::config::LogFormat::Pretty, "warn")
    });
}

pub struct Api {
    pub env: TestEnv,
    pub addr: SocketAddr,
    /// Signed in as `admin` (an admin token), so tests of other things need not care.
    pub http: reqwest::Client,
    /// The admin token's secret.
    pub admin: String,
    /// No credentials at all.
    pub anonymous: reqwest::Client,
    pub shutdown: CancellationToken,
    runtime: Option<Runtime>,
}

impl Api {
    pub async fn start() -> Self {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(adjust: impl FnOnce(&mut kiln_api::Config)) -> Self {
        telemetry();
        let env = TestEnv::new().await;
        let shutdown = CancellationToken::new();
        let runtime = Runtime::start(env.config(), "api", &shutdown)
            .await
            .expect("runtime starts against the test services");
        let mut config = kiln_api::Config {
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Default::default()
        };
        adjust(&mut config);
        let catalog = Catalog::load(None).expect("embedded templates load");
        let addr = kiln_api::serve(runtime.cx.clone(), catalog, config, shutdown.clone())
            .await
            .expect("api serves");
        assert_ne!(addr.port(), 0, "serve returns the bound port");
        let admin = env.token("admin", kiln_store::auth::Role::Admin).await;
        Self {
            env,
            addr,
            http: TestEnv::client_with_token(&admin),
            admin,
            anonymous: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            shutdown,
            runtime: Some(runtime),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// A WebSocket upgrade request for `path` carrying the admin token.
    pub fn ws_request(
        &self,
        path: &str,
    ) -> tokio_tungstenite::tungstenite::handshake::client::Request {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = self.ws_url(path).into_client_request().expect("ws request");
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", self.admin).parse().expect("header"),
        );
        request
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("GET answered")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST answered")
    }

    /// Creates a task for project `name` and returns its JSON.
    pub async fn create(&self, name: &str) -> Value {
        let resp = self.post_json("/api/v1/tasks", &task_body(name)).await;
        assert_eq!(resp.status(), 202, "create {name}");
        resp.json().await.expect("task json")
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query(&format!("SELECT count(*) AS n FROM {table}"))
            .fetch_one(&self.env.pool)
            .await
            .expect("count rows")
            .get("n")
    }

    /// Every table a task creation writes to is empty.
    pub async fn assert_nothing_stored(&self, after: &str) {
        for table in [
            "tasks",
            "projects",
            "outbox",
            "idempotency_keys",
            "audit_log",
        ] {
            assert_eq!(
                self.count(table).await,
                0,
                "{table} not empty after {after}"
            );
        }
    }

    /// A fresh consumer over the messages published on `subject` so far and later.
    pub async fn pull(
        &self,
        stream: &str,
        subject: &str,
    ) -> jetstream::consumer::Consumer<jetstream::consumer::pull::Config> {
        let js = self.env.jetstream().await;
        js.get_stream(stream)
            .await
            .expect("stream exists")
            .create_consumer(jetstream::consumer::pull::Config {
                filter_subject: subject.to_owned(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .expect("consumer created")
    }

    /// Messages on `subject`, waiting up to `wait` for at least `want` and then a moment
    /// longer for any extra ones.
    pub async fn messages(
        &self,
        stream: &str,
        subject: &str,
        want: usize,
        wait: Duration,
    ) -> Vec<jetstream::Message> {
        let consumer = self.pull(stream, subject).await;
        let mut messages = consumer.messages().await.expect("message stream");
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        while got.len() < want {
            match tokio::time::timeout_at(deadline, messages.next()).await {
                Ok(Some(Ok(m))) => got.push(m),
                Ok(Some(Err(e))) => panic!("consumer error on {subject}: {e}"),
                Ok(None) | Err(_) => break,
            }
        }
        while let Ok(Some(Ok(m))) =
            tokio::time::timeout(Duration::from_millis(700), messages.next()).await
        {
            got.push(m);
        }
        got
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(runtime) = self.runtime.take() {
            runtime.finish().await;
        }
    }
}

pub fn task_body(name: &str) -> Value {
    json!({
        "kind": "new_app",
        "template": "static-site",
        "name": name,
        "brief": "A landing page for a bakery with opening hours and a contact form",
        "options": {}
    })
}

/// Asserts a problem response and returns its body.
pub async fn assert_problem(resp: reqwest::Response, status: u16, detail_has: &str) -> Value {
    let got = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let text = resp.text().await.expect("problem body");
    assert_eq!(got, status, "status for body {text}");
    assert_eq!(
        content_type, "application/problem+json",
        "content type for {text}"
    );
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("problem is not JSON ({e}): {text}"));
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:kiln:problem:")),
        "{body}"
    );
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(detail_has),
        "detail {detail:?} does not mention {detail_has:?}"
    );
    body
}

pub fn header(msg: &jetstream::Message, name: &str) -> Option<String> {
    msg.headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_owned())
}
