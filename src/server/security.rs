//! Layers every response goes through: security headers, a Host check while bound to loopback
//! (so a web page elsewhere cannot read the site through DNS rebinding), and metrics.

use super::metrics::Route;
use super::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;

/// Pages load only their own scripts, styles and data; inline styles are allowed for table
/// alignment, inline scripts are not.
pub(super) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: http: https:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

pub(super) async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Refuses requests whose `Host` is not a loopback name.
pub(super) async fn loopback_host(request: Request, next: Next) -> Response {
    if let Some(host) = request.headers().get(header::HOST)
        && !is_loopback_host(host.to_str().unwrap_or_default())
    {
        return super::respond::text(StatusCode::MISDIRECTED_REQUEST, "this server answers only to localhost\n");
    }
    next.run(request).await
}

fn is_loopback_host(host: &str) -> bool {
    let name = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    let name = name.to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost") || name == "[::1]" || name.starts_with("127.")
}

pub(super) async fn measure(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route = Route::of(request.uri().path());
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.record(route, response.status().as_u16(), started.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "localhost:8080", "127.0.0.1:1", "[::1]:80", "app.localhost"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["evil.example", "evil.example:8080", "10.0.0.1", "[::2]:80", "localhost.evil.example"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
