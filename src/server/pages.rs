//! Pages and assets: every path that is not the API is looked up in the site, rendered on first
//! request and kept in memory until the knowledge base changes.

use super::query::{Params, search_request};
use super::respond::{self, method_not_allowed, render_failure};
use super::search::SearchError;
use super::state::AppState;
use crate::index::{SearchRequest, SearchResults};
use crate::render::{Page, Resolution, Site};
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;

/// Results on the `/search` page.
const PAGE_LIMIT: usize = 30;

pub(super) async fn page(State(state): State<Arc<AppState>>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed();
    }
    let site = state.site();
    let Some(relative) = site.urls.relative(uri.path()) else {
        return not_found(&state, site).await;
    };
    if let Some(asset) = site.assets.by_path(&relative) {
        let mut response =
            respond::with_type(StatusCode::OK, asset.content_type, bytes::Bytes::from(asset.bytes.to_vec()));
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
        return response;
    }
    match site.resolve(&relative) {
        Resolution::Redirect(to) => {
            let location = match uri.query() {
                Some(query) => format!("{to}?{query}"),
                None => to,
            };
            let mut response = respond::text(StatusCode::PERMANENT_REDIRECT, "");
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        Resolution::NotFound => not_found(&state, site).await,
        Resolution::Page(Page::Search { .. }) => search(&state, site, uri.query()).await,
        Resolution::Page(page) => cached(&state, site, relative, page, StatusCode::OK).await,
    }
}

/// A page's HTML: kept from an earlier request, or rendered for this one.
enum Html {
    Cached(bytes::Bytes),
    Fresh(bytes::Bytes),
}

/// The page from the cache, or rendered now (off the async threads) and cached.
async fn cached(state: &Arc<AppState>, site: Arc<Site>, key: String, page: Page, status: StatusCode) -> Response {
    if let Some(bytes) = state.cached(&key) {
        return respond::html(status, bytes);
    }
    let runbook = match page {
        Page::Runbook(idx) => Some(idx),
        _ => None,
    };
    let (rendering, waited, cache_key) = (Arc::clone(&site), Arc::clone(state), key.clone());
    // Another request may have rendered it while this one waited for a slot.
    let rendered = state
        .work(move || match waited.cached(&cache_key) {
            Some(bytes) => Ok(Html::Cached(bytes)),
            None => rendering.render(&page).map(|rendered| Html::Fresh(bytes::Bytes::from(rendered.html))),
        })
        .await;
    match rendered {
        Ok(Ok(Html::Cached(bytes))) => respond::html(status, bytes),
        Ok(Ok(Html::Fresh(bytes))) => {
            state.store(&site, key, bytes.clone(), runbook);
            respond::html(status, bytes)
        }
        Ok(Err(err)) => {
            eprintln!("error: {err}");
            render_failure(&err)
        }
        Err(err) => respond::text(StatusCode::INTERNAL_SERVER_ERROR, format!("rendering stopped: {err}\n")),
    }
}

pub(super) async fn not_found(state: &Arc<AppState>, site: Arc<Site>) -> Response {
    // The key cannot be a page path: those never start with a space.
    cached(state, site, " 404".to_string(), Page::NotFound, StatusCode::NOT_FOUND).await
}

/// `/search?q=`: results rendered on the server, so search works without JavaScript.
async fn search(state: &Arc<AppState>, site: Arc<Site>, query: Option<&str>) -> Response {
    let params = Params::parse(query);
    let request = match search_request(&params, PAGE_LIMIT) {
        Ok(request) => request,
        Err(message) => {
            let page = Page::Search { query: String::new(), results: Some(Err(message)) };
            return render_now(state, site, page, StatusCode::BAD_REQUEST).await;
        }
    };
    let results = if request.query.is_empty() {
        None
    } else {
        Some(run_search(state, request.clone()).await.map_err(|err| err.to_string()))
    };
    let status = if matches!(results, Some(Err(_))) { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    render_now(state, site, Page::Search { query: request.query, results }, status).await
}

async fn render_now(state: &Arc<AppState>, site: Arc<Site>, page: Page, status: StatusCode) -> Response {
    match state.work(move || site.render(&page)).await {
        Ok(Ok(rendered)) => respond::html(status, rendered.html),
        Ok(Err(err)) => render_failure(&err),
        Err(err) => respond::text(StatusCode::INTERNAL_SERVER_ERROR, format!("rendering stopped: {err}\n")),
    }
}

/// Asks the search engine on a blocking thread, timing it.
pub(super) async fn run_search(state: &Arc<AppState>, request: SearchRequest) -> Result<SearchResults, SearchError> {
    let engine = Arc::clone(&state.search);
    let result = state
        .work(move || {
            let started = Instant::now();
            (engine.search(&request), started.elapsed())
        })
        .await;
    match result {
        Ok((result, took)) => {
            state.metrics.search.observe(took);
            result
        }
        Err(err) => Err(err.into()),
    }
}
