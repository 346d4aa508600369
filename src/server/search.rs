//! Server-side search: the [`SiteSearch`] the server asks. The engine is
//! [`super::IndexedSearch`], the tantivy index of `runbook search` (kept in memory where its
//! folder cannot be written). Where even that cannot be opened, [`Unavailable`] answers every
//! search with why, and the server says 503 "search unavailable": no second engine guesses.

use super::state::WorkError;
use crate::index::{IndexError, SearchRequest, SearchResults};
use crate::model::{Kb, RunbookIdx};

/// Default and largest number of hits.
pub(crate) const DEFAULT_LIMIT: usize = 10;
pub(crate) const MAX_LIMIT: usize = 100;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SearchError {
    /// There is no index to ask (it could not be opened when the server started).
    #[error("search unavailable: {0}")]
    Unavailable(String),
    #[error("search unavailable: {0}")]
    Index(#[from] IndexError),
    #[error("search {0}")]
    Stopped(#[from] WorkError),
}

/// What `/search` and `/api/search` ask. Implementations must never fail on odd input: a query
/// that cannot be parsed finds nothing, or finds it leniently.
pub(crate) trait SiteSearch: Send + Sync {
    fn search(&self, request: &SearchRequest) -> Result<SearchResults, SearchError>;

    /// Called after the knowledge base changed and the site was rebuilt.
    fn refresh(&self) {}

    /// Called after runbooks `changed` of `kb` were read again, and nothing else changed:
    /// an engine that can indexes those alone.
    fn refresh_runbooks(&self, _kb: &Kb, _changed: &[RunbookIdx]) {
        self.refresh();
    }

    /// Called after the records of runs `written` (folder names) were written, and nothing
    /// else changed but runbooks already refreshed: an engine that can indexes those alone.
    fn refresh_runs(&self, _written: &[String]) {
        self.refresh();
    }
}

/// The search of a server whose index could not be opened: every answer says why.
pub(crate) struct Unavailable {
    reason: String,
}

impl Unavailable {
    pub(crate) fn new(reason: impl Into<String>) -> Unavailable {
        Unavailable { reason: reason.into() }
    }
}

impl SiteSearch for Unavailable {
    fn search(&self, _request: &SearchRequest) -> Result<SearchResults, SearchError> {
        Err(SearchError::Unavailable(self.reason.clone()))
    }
}
