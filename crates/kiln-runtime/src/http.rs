//! `/health` and `/metrics`, served by every service.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::{Ctx, Error};

/// Routes for health and metrics; the API merges them into its own router.
pub fn router(cx: Arc<Ctx>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(cx)
}

async fn health(State(cx): State<Arc<Ctx>>) -> impl IntoResponse {
    let nats = matches!(
        cx.nats.connection_state(),
        async_nats::connection::State::Connected
    );
    let database = sqlx::query("SELECT 1").execute(&cx.db).await.is_ok();
    let ok = nats && database;
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "degraded" },
        "service": cx.service,
        "worker": cx.worker,
        "nats": if nats { "connected" } else { "disconnected" },
        "database": if database { "ok" } else { "unreachable" },
        // Degraded features, not failures: the replica works, without them.
        "warnings": cx.warnings.list(),
    });
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body))
}

async fn metrics(State(cx): State<Arc<Ctx>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        cx.metrics.render(),
    )
}

/// Serves `router` on `addr` until `shutdown`; returns the bound address once listening.
pub async fn serve(
    router: Router,
    addr: SocketAddr,
    shutdown: CancellationToken,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Bind { addr, source: e })?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Bind { addr, source: e })?;
    let handle = tokio::spawn(async move {
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "http server stopped");
        }
    });
    Ok((bound, handle))
}
