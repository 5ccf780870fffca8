//! Logging and tracing for every process, and W3C trace context carried in NATS headers.
//!
//! Spans are created by `tracing`; an OpenTelemetry layer gives them trace and span ids so a
//! task's trace continues across services through the `traceparent` header.

use std::collections::HashMap;
use std::io::IsTerminal;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Keeps the tracer provider alive; dropping it flushes spans.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// Installs the global subscriber. Call once per process, from the binary.
pub fn init(service: &str, format: LogFormat, filter: &str) -> Telemetry {
    let provider = SdkTracerProvider::builder().build();
    let tracer = provider.tracer(format!("kiln-{service}"));
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Trace context must flow whatever the log level, so spans get their own filter.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(LevelFilter::INFO);
    let registry = tracing_subscriber::registry().with(otel);
    let result = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(false)
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(std::io::stdout().is_terminal())
                    .with_filter(filter),
            )
            .try_init(),
    };
    // A second init (tests running several services in one process) keeps the first one.
    drop(result);
    Telemetry { provider }
}

struct HeaderInjector<'a>(&'a mut HashMap<String, String>);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct HeaderExtractor<'a>(&'a async_nats::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_ref()).collect()
    }
}

/// `traceparent` (and `tracestate`) of the current span, for outgoing messages.
pub fn current_trace_headers() -> Vec<(String, String)> {
    let cx = tracing::Span::current().context();
    let mut map = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(&mut map));
    let mut headers: Vec<_> = map.into_iter().collect();
    headers.sort();
    headers
}

/// Makes `span` a child of the trace carried by incoming `headers`, when they carry one.
pub fn adopt_parent(span: &tracing::Span, headers: Option<&async_nats::HeaderMap>) {
    if let Some(headers) = headers {
        let cx = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        let _ = span.set_parent(cx);
    }
}
