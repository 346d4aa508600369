//! The JSON API: `/api/search` (the JSON of `runbook search --json`), `/api/runbooks`,
//! `/api/runbooks/<id>` (the JSON of `runbook show --json`), `/api/archives`; and `/healthz`,
//! `/metrics`.

use super::pages::run_search;
use super::query::{API_LIMIT, Params, search_request};
use super::respond::{self, json, json_error};
use super::state::AppState;
use crate::archive::store::{ArchivedRun, RecordError};
use crate::archive::views::ArchiveRow;
use crate::model::views::RunbookView;
use crate::model::{ListRow, Lookup};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use std::sync::Arc;

pub(super) async fn search(State(state): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    let request = match search_request(&Params::parse(query.as_deref()), API_LIMIT) {
        Ok(request) => request,
        Err(message) => return json_error(StatusCode::BAD_REQUEST, message),
    };
    match run_search(&state, request).await {
        Ok(results) => json(StatusCode::OK, &results),
        Err(err) => json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
    }
}

/// A row of `list --json`, with the page's URL and the latest run.
#[derive(Serialize)]
struct RunbookListing<'a> {
    #[serde(flatten)]
    row: ListRow<'a>,
    url: String,
    last_run: Option<LastRun>,
}

#[derive(Serialize)]
struct LastRun {
    run_id: String,
    verdict: &'static str,
    started_at: String,
    url: String,
}

pub(super) async fn runbooks(State(state): State<Arc<AppState>>) -> Response {
    let site = state.site();
    let rows: Vec<RunbookListing> = site
        .kb
        .runbooks
        .iter()
        .map(|rb| RunbookListing {
            row: ListRow::new(rb),
            url: site.urls.runbook(&rb.id),
            last_run: site.runs_of(&rb.id).next().and_then(|run| {
                let url = site.urls.run(&run.run_id);
                run.record.ok().map(|r| LastRun {
                    run_id: r.run_id,
                    verdict: r.verdict.as_str(),
                    started_at: r.started_at,
                    url,
                })
            }),
        })
        .collect();
    json(StatusCode::OK, &rows)
}

pub(super) async fn runbook(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let site = state.site();
    let id = id.trim_end_matches('/').to_string();
    let idx = match site.kb.lookup(&id) {
        Lookup::Found(idx) => idx,
        Lookup::Ambiguous(list) => {
            let ids: Vec<&str> = list.iter().map(|&idx| site.kb[idx].id.as_str()).collect();
            return json_error(StatusCode::NOT_FOUND, format!("`{id}` matches several runbooks: {}", ids.join(", ")));
        }
        Lookup::NotFound { .. } => return json_error(StatusCode::NOT_FOUND, format!("no runbook `{id}`")),
    };
    let result = state
        .work(move || {
            let rb = &site.kb[idx];
            match site.kb.body(idx) {
                Ok(body) => serde_json::to_vec(&RunbookView::new(&site.kb, idx, &body))
                    .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
                // Deleted since the site was loaded: the reload that drops it is on its way.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    Err((StatusCode::NOT_FOUND, format!("{} was removed", rb.path)))
                }
                Err(err) => Err((StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read {}: {err}", rb.path))),
            }
        })
        .await;
    match result {
        Ok(Ok(bytes)) => respond::with_type(StatusCode::OK, "application/json", bytes),
        Ok(Err((status, message))) => json_error(status, message),
        Err(err) => json_error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
    }
}

/// A row of `archive list --json`, with the run's URL instead of its folder: the API does not
/// say where files live, so a damaged record is described without its path.
#[derive(Serialize)]
struct RunListing<'a> {
    #[serde(flatten)]
    row: ArchiveRow<'a>,
    url: String,
}

/// Every run, newest first; `?limit=N&page=K` pages them (lenient, like every query here: a
/// limit or page that is not a positive number is ignored).
pub(super) async fn archives(State(state): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    let site = state.site();
    let params = Params::parse(query.as_deref());
    let positive = |key: &str| params.get(key).and_then(|v| v.trim().parse::<usize>().ok()).filter(|&n| n > 0);
    let limit = positive("limit").unwrap_or(usize::MAX);
    let skip = positive("page").map_or(0, |page| (page - 1).saturating_mul(limit));
    let runs: Vec<ArchivedRun> = site.runs.iter().skip(skip).take(limit).map(|f| f.read()).collect();
    let rows: Vec<RunListing> = runs
        .iter()
        .map(|run| RunListing {
            row: ArchiveRow { error: run.record.as_ref().err().map(RecordError::cause), ..ArchiveRow::new(run) },
            url: site.urls.run(&run.run_id),
        })
        .collect();
    json(StatusCode::OK, &rows)
}

pub(super) async fn healthz() -> Response {
    respond::text(StatusCode::OK, "ok\n")
}

pub(super) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let site = state.site();
    let mut body = state.metrics.render(&site);
    if let Some(hooks) = state.hooks.get() {
        body.push_str(&hooks.metrics_text());
    }
    respond::with_type(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", body)
}
