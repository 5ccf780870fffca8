//! The API's Prometheus metrics, registered in the process registry `/metrics` serves, and
//! the middleware that records every request by its route template (never by an id).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};

use crate::AppState;

/// Route label of requests no route matched, so scanners cannot blow up label cardinality.
const UNMATCHED: &str = "unmatched";

#[derive(Clone)]
pub struct ApiMetrics {
    pub requests: IntCounterVec,
    pub request_seconds: HistogramVec,
    pub tasks_created: IntCounter,
}

impl ApiMetrics {
    /// Creates the metrics and registers them in `registry`. A registry that already holds
    /// them (a second router over the same runtime) keeps the first set; this set then counts
    /// without being exported, which is logged.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let requests = IntCounterVec::new(
            Opts::new(
                "kiln_api_requests_total",
                "HTTP requests answered, by route template and status",
            ),
            &["route", "status"],
        )?;
        let request_seconds = HistogramVec::new(
            HistogramOpts::new(
                "kiln_api_request_seconds",
                "time to answer an HTTP request, by route template",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["route"],
        )?;
        let tasks_created =
            IntCounter::new("kiln_tasks_created_total", "tasks created through the API")?;
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(request_seconds.clone()),
            Box::new(tasks_created.clone()),
        ] {
            if let Err(e) = registry.register(collector) {
                tracing::warn!(error = %e, "api metric not registered; it will not be exported");
            }
        }
        Ok(Self {
            requests,
            request_seconds,
            tasks_created,
        })
    }
}

/// Counts and times each request under its matched route template.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| UNMATCHED.to_owned());
    let started = Instant::now();
    let response = next.run(req).await;
    let metrics = &state.metrics;
    metrics
        .requests
        .with_label_values(&[route.as_str(), response.status().as_str()])
        .inc();
    metrics
        .request_seconds
        .with_label_values(&[route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}
