//! The HTTP side of `runbook watch`: `/metrics` (the checks and what the probes observed),
//! `/healthz` (200, or 503 naming the failing checks) and `/api/checks` (the board as JSON).

use super::ServeError;
use super::respond;
use crate::exec::watch::Board;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;

pub(crate) fn router(board: Arc<Board>) -> Router {
    let metrics = Arc::clone(&board);
    let health = Arc::clone(&board);
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let text = metrics.metrics_text();
                async move { respond::with_type(StatusCode::OK, crate::util::prometheus::CLASSIC_CONTENT_TYPE, text) }
            }),
        )
        .route(
            "/healthz",
            get(move || {
                let (healthy, text) = health.health();
                let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
                async move { respond::text(status, text) }
            }),
        )
        .route(
            "/api/checks",
            get(move || {
                let checks = board.snapshot();
                async move { respond::json(StatusCode::OK, &serde_json::json!({ "checks": checks })) }
            }),
        )
}

/// Serves the board on `addr` until the process ends.
pub(crate) async fn serve(
    addr: SocketAddr,
    board: Arc<Board>,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    on_listening(listener.local_addr()?);
    axum::serve(listener, router(board)).await?;
    Ok(())
}
