//! Live reload: `/_reload` is a server-sent event stream that says `reload` whenever the site was
//! rebuilt after a change; `site/app.js` reloads the page. The stream ends when the server stops.

use super::state::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

pub(super) async fn events(State(state): State<Arc<AppState>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = state.subscribe();
    let shutdown = state.shutdown.clone();
    let stream = futures_util::stream::unfold((changes, shutdown), |(mut changes, mut shutdown)| async move {
        if *shutdown.borrow() {
            return None;
        }
        let generation = tokio::select! {
            received = changes.recv() => match received {
                Ok(generation) => generation.to_string(),
                Err(RecvError::Lagged(_)) => "lagged".to_string(),
                Err(RecvError::Closed) => return None,
            },
            _ = shutdown.changed() => return None,
        };
        Some((Ok(Event::default().event("reload").data(generation)), (changes, shutdown)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
