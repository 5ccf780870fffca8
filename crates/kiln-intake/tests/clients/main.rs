//! The intake clients against the fakes in `kiln_testkit::fakes`, over real HTTP: what they
//! send on the wire, what they make of the answers, rate limits and outages.

mod discord;
mod jira;
mod telegram;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// A webhook receiver in the test: `check` gets the headers and body and answers.
pub struct Endpoint {
    pub url: String,
    pub received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    task: tokio::task::JoinHandle<()>,
}

type Check = dyn Fn(&HeaderMap, &Bytes) -> Response + Send + Sync;

impl Endpoint {
    pub async fn start(
        check: impl Fn(&HeaderMap, &Bytes) -> Response + Send + Sync + 'static,
    ) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let state: (Arc<Check>, _) = (Arc::new(check), received.clone());
        let app = Router::new().fallback(receive).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind endpoint");
        let url = format!(
            "http://{}/hook",
            listener.local_addr().expect("endpoint address")
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Self {
            url,
            received,
            task,
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn receive(
    State((check, received)): State<(Arc<Check>, Received)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let response = check(&headers, &body);
    received
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((headers, body));
    response
}

pub fn status(code: StatusCode) -> Response {
    code.into_response()
}

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
