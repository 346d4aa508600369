//! `runbook hooks --listen ADDR`: the hooks without the site, for a host that only diagnoses.
//! Routes: the hooks, `/api/alerts`, `/metrics` (the hooks' counters) and `/healthz`.

use super::{Hooks, HooksConfig, KbSnapshot};
use crate::model::{Kb, KbSource};
use crate::server::ServeError;
use crate::server::respond;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How often the knowledge base is read again (through the parse cache, so only changed files
/// are parsed): new runbooks and edited front matter are picked up without a restart.
const RELOAD_EVERY: Duration = Duration::from_secs(10);

/// Serves the hooks on `addr` until Ctrl-C or SIGTERM.
pub(crate) async fn run_alone(
    addr: SocketAddr,
    config: HooksConfig,
    source: KbSource,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let stop = crate::server::stop_signal()?;
    let load = source.clone();
    let first = tokio::task::spawn_blocking(move || Kb::load_summaries(load)).await.map_err(std::io::Error::other)?;
    let kb = Arc::new(RwLock::new(Arc::new(first)));
    let reader = Arc::clone(&kb);
    let current: super::CurrentKb = Arc::new(move || {
        let kb = reader.read().ok()?;
        Some(Arc::clone(&*kb) as Arc<dyn KbSnapshot>)
    });
    tokio::spawn(reload(source, Arc::clone(&kb)));
    let hooks = Hooks::start(config, current);
    let metrics = Arc::clone(&hooks);
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let text = metrics.metrics_text();
                async move { respond::with_type(StatusCode::OK, crate::util::prometheus::CLASSIC_CONTENT_TYPE, text) }
            }),
        )
        .route("/healthz", get(|| async { respond::text(StatusCode::OK, "ok\n") }))
        .merge(hooks.router());
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    on_listening(listener.local_addr()?);
    axum::serve(listener, app).with_graceful_shutdown(stop).await?;
    Ok(())
}

async fn reload(source: KbSource, kb: Arc<RwLock<Arc<Kb>>>) {
    let mut every = tokio::time::interval(RELOAD_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        let source = source.clone();
        if let Ok(fresh) = tokio::task::spawn_blocking(move || Kb::load_summaries(source)).await
            && let Ok(mut current) = kb.write()
        {
            *current = Arc::new(fresh);
        }
    }
}
