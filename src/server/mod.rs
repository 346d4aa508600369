//! `runbook serve`: the site from memory, with server-side search, a JSON API, Prometheus
//! metrics, live reload (DESIGN §8) and MCP at `/mcp` (§16). Read-only: nothing here runs a
//! step, except `run_diagnosis` over MCP when started with `--allow-diagnosis` (read-only steps,
//! in a child `runbook exec --diagnose`).
//!
//! Search is whatever [`SiteSearch`] the caller passes in: [`IndexedSearch`] (the tantivy index
//! of `runbook search`), or [`Unavailable`] where no index can be opened.

mod api;
pub(crate) mod checks;
pub(crate) mod hooks;
mod indexed;
mod mcp;
mod metrics;
mod pages;
pub(crate) mod query;
mod reload;
pub(crate) mod respond;
pub(crate) mod search;
mod security;
pub(crate) mod state;
mod watch;

pub(crate) use indexed::IndexedSearch;
pub(crate) use search::{SiteSearch, Unavailable};
pub(crate) use state::{AppState, Loader};

use crate::render::{RenderError, Site};
use axum::Router;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// Longest time a request may take before it is answered 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests have no business sending bodies to a read-only site.
const BODY_LIMIT: usize = 16 * 1024;
/// How long open connections get to finish after Ctrl-C or SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot watch the knowledge base: {0}")]
    Watch(#[from] notify::Error),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

pub(crate) struct Options {
    pub addr: SocketAddr,
    /// Rebuild and reload open pages when the knowledge base changes.
    pub watch: bool,
    /// `--hooks`: also take alerts at `/hooks/…` (DESIGN §15).
    pub hooks: Option<hooks::HooksConfig>,
    /// The MCP server at `/mcp`.
    pub mcp: crate::mcp::Options,
}

/// Every route. `loopback_only` refuses requests whose `Host` is not a loopback name.
pub(crate) fn app(state: Arc<AppState>, loopback_only: bool, mcp: &crate::mcp::Options) -> Router {
    let timed = Router::new()
        .route("/api/search", get(api::search))
        .route("/api/runbooks", get(api::runbooks))
        .route("/api/runbooks/{*id}", get(api::runbook))
        .route("/api/archives", get(api::archives))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .fallback(pages::page)
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT));
    // Live reload and MCP streams last; MCP calls (a diagnosis) may take minutes.
    let mut app = Router::new()
        .route("/_reload", get(reload::events))
        .merge(mcp::routes(Arc::clone(&state), mcp))
        .merge(timed)
        .layer(from_fn_with_state(Arc::clone(&state), security::measure))
        .layer(from_fn(security::headers));
    if loopback_only {
        app = app.layer(from_fn(security::loopback_host));
    }
    app.with_state(state)
}

/// Serves `site` until Ctrl-C or SIGTERM. `on_listening` gets the bound address (the real port
/// when `options.addr` asked for port 0).
pub(crate) async fn run(
    options: Options,
    loader: Loader,
    site: Site,
    search: Arc<dyn SiteSearch>,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    // Registered now, so a signal that comes while the server starts is not lost either.
    let stop = stop_signal()?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let state = Arc::new(AppState::new(site, search, loader, shutdown_rx));
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|source| ServeError::Bind { addr: options.addr, source })?;
    let local = listener.local_addr()?;
    let _watcher = if options.watch { watch::spawn(Arc::clone(&state))? } else { None };
    on_listening(local);
    let mut app = app(Arc::clone(&state), options.addr.ip().is_loopback(), &options.mcp);
    if let Some(hooks_config) = options.hooks {
        // A weak reference: the hooks live inside the state (for `/metrics`), not the other way.
        let weak = Arc::downgrade(&state);
        let current: hooks::CurrentKb =
            Arc::new(move || weak.upgrade().map(|state| state.site() as Arc<dyn hooks::KbSnapshot>));
        let started = hooks::Hooks::start(hooks_config, current);
        app = app.merge(started.router());
        let _ = state.hooks.set(started);
    }
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        stop.await;
        let _ = shutdown_tx.send(true);
        let _ = stopping_tx.send(());
    });
    tokio::select! {
        served = server => served?,
        () = async {
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => {}
    }
    Ok(())
}

/// A future that completes on Ctrl-C (SIGINT) or SIGTERM; the handlers are installed at once.
pub(crate) fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
