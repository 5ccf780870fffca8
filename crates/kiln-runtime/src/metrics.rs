//! Prometheus metrics of the harness; services register their own in the same registry.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

/// Metrics every service process exports on `/metrics`.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Work items by stage and outcome (`ok`, `duplicate`, `skipped`, `retry`, `dead_letter`).
    pub messages: IntCounterVec,
    pub handle_seconds: HistogramVec,
    pub outbox_published: IntCounter,
    pub outbox_pending: IntGauge,
    pub relay_seconds: Histogram,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let messages = IntCounterVec::new(
            Opts::new(
                "kiln_harness_messages_total",
                "work items handled, by stage and outcome",
            ),
            &["stage", "outcome"],
        )
        .expect("valid metric");
        let handle_seconds = HistogramVec::new(
            HistogramOpts::new(
                "kiln_harness_handle_seconds",
                "time to handle one work item",
            )
            .buckets(vec![
                0.005, 0.02, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0,
            ]),
            &["stage"],
        )
        .expect("valid metric");
        let outbox_published = IntCounter::new(
            "kiln_harness_outbox_published_total",
            "outbox messages published to JetStream",
        )
        .expect("valid metric");
        let outbox_pending = IntGauge::new(
            "kiln_harness_outbox_pending",
            "outbox messages not yet published, as last seen by this relay",
        )
        .expect("valid metric");
        let relay_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "kiln_harness_relay_batch_seconds",
                "time to publish one outbox batch",
            )
            .buckets(vec![0.001, 0.005, 0.02, 0.1, 0.5, 2.0]),
        )
        .expect("valid metric");
        for c in [
            Box::new(messages.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(handle_seconds.clone()),
            Box::new(outbox_published.clone()),
            Box::new(outbox_pending.clone()),
            Box::new(relay_seconds.clone()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        Self {
            registry,
            messages,
            handle_seconds,
            outbox_published,
            outbox_pending,
            relay_seconds,
        }
    }

    /// The registry in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let encoder = prometheus::TextEncoder::new();
        if let Err(e) = encoder.encode_utf8(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "metrics encoding failed");
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
