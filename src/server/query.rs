//! Query strings, read leniently: any bytes, any length, repeated or unknown keys — never an
//! error the user did not cause, and never a panic.

use super::search::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::index::{Kind, SearchRequest};

/// The longest query text searched; the rest is ignored.
const MAX_QUERY_CHARS: usize = 256;
const MAX_FILTER_CHARS: usize = 100;

/// `key=value` pairs of a query string, percent-decoded (invalid UTF-8 replaced).
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: Option<&str>) -> Params {
        let pairs = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .take(64)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Params(pairs)
    }

    /// The first value of `key`, if it is there and not blank.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.trim().is_empty())
    }
}

fn truncated(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// A search request from `q`, `limit`, `tag`, `kind`, `category` and `prefix`. A limit that is not a number
/// means the default; an unknown kind is the only error.
pub(crate) fn search_request(params: &Params, default_limit: usize) -> Result<SearchRequest, String> {
    let kind = match params.get("kind") {
        None => None,
        Some(text) => Some(Kind::parse(text.trim()).ok_or_else(|| {
            format!("unknown kind `{}`: use runbook, archive or cycle", truncated(text, MAX_FILTER_CHARS))
        })?),
    };
    let limit = params
        .get("limit")
        .and_then(|l| l.trim().parse::<usize>().ok())
        .unwrap_or(default_limit.clamp(1, MAX_LIMIT))
        .clamp(1, MAX_LIMIT);
    Ok(SearchRequest {
        query: truncated(params.get("q").unwrap_or_default().trim(), MAX_QUERY_CHARS),
        tag: params.get("tag").map(|t| truncated(t.trim(), MAX_FILTER_CHARS)),
        kind,
        category: params.get("category").map(|c| truncated(c.trim(), MAX_FILTER_CHARS)),
        limit: Some(limit),
        // Search as you type: the last word is not finished yet.
        prefix: params.get("prefix").is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes")),
    })
}

/// The default number of hits for `/api/search`.
pub(crate) const API_LIMIT: usize = DEFAULT_LIMIT;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_parsing() {
        let params = Params::parse(Some("q=cuda%20304&limit=abc&tag=&kind=runbook&q=second&%ff=%ff"));
        let request = search_request(&params, 10).unwrap();
        assert_eq!(request.query, "cuda 304");
        assert_eq!(request.limit, Some(10));
        assert_eq!(request.tag, None);
        assert_eq!(request.kind, Some(Kind::Runbook));
        let long = format!("q={}&limit=100000", "x".repeat(10_000));
        let request = search_request(&Params::parse(Some(&long)), 10).unwrap();
        assert_eq!(request.query.len(), 256);
        assert_eq!(request.limit, Some(100));
        assert!(search_request(&Params::parse(Some("kind=<script>")), 10).is_err());
        assert_eq!(search_request(&Params::parse(None), 10).unwrap().query, "");
    }
}
