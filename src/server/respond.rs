//! Building responses: HTML, JSON, text, with the right content types.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;

pub(crate) fn with_type(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub(crate) fn html(status: StatusCode, body: impl Into<Body>) -> Response {
    with_type(status, "text/html; charset=utf-8", body)
}

pub(crate) fn text(status: StatusCode, body: impl Into<Body>) -> Response {
    with_type(status, "text/plain; charset=utf-8", body)
}

pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => with_type(status, "application/json", bytes),
        Err(err) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot write JSON: {err}\n")),
    }
}

/// `{"error": "…"}` with a status.
pub(crate) fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    #[derive(Serialize)]
    struct ErrorBody {
        error: String,
    }
    json(status, &ErrorBody { error: message.into() })
}

/// A page that failed to render (a broken template override): the error, escaped.
pub(crate) fn render_failure(err: &crate::render::RenderError) -> Response {
    let message = crate::render::markdown::escape_attr(&err.to_string());
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!(
            "<!doctype html><meta charset=\"utf-8\"><title>Render error</title><h1>This page could not be rendered</h1><pre>{message}</pre>"
        ),
    )
}

pub(crate) fn method_not_allowed() -> Response {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "this site is read-only: GET and HEAD only\n");
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}
