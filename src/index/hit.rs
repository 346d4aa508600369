//! What a search asks and what it finds: the types `runbook search --json`, the site's
//! `/api/search` and the library API share.

use crate::util::names::named_enum;
use serde::{Deserialize, Serialize};

named_enum! {
    /// What kind of document a hit is.
    pub enum Kind {
        /// A section (H1–H3) of a runbook or document.
        Runbook = "runbook",
        /// A recorded run.
        Archive = "archive",
        /// A cycle report.
        Cycle = "cycle",
    }
}

impl Kind {
    pub fn parse(text: &str) -> Option<Kind> {
        Kind::from_name(text)
    }
}

/// A search: the text as typed, plus filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SearchRequest {
    pub query: String,
    pub tag: Option<String>,
    pub kind: Option<Kind>,
    pub category: Option<String>,
    /// At most this many hits (default 10).
    pub limit: Option<usize>,
    /// The last word may be the start of a longer one: search as you type.
    #[serde(default)]
    pub prefix: bool,
}

/// One ranked result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hit {
    pub kind: Kind,
    /// The runbook id, run id or cycle name.
    pub id: String,
    /// The runbook (or run, or cycle) title.
    pub title: String,
    /// The section heading.
    pub heading: String,
    /// The section's anchor on its page (`""` for the top).
    pub anchor: String,
    /// Path relative to the KB root.
    pub path: String,
    /// Line of the section in the file.
    pub line: u64,
    /// Errors in the runbook's file (its front matter and steps; `runbook check` lists them).
    /// The file is searchable all the same.
    #[serde(default)]
    pub errors: usize,
    pub score: f32,
    /// Plain text with `<mark>…</mark>` around matched terms; everything else HTML-escaped.
    pub snippet: String,
    /// The other sections of the same page that match, best first: folded under this hit, so
    /// that ten hits are ten pages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<MoreSection>,
}

/// A further matching section of a hit's page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MoreSection {
    pub heading: String,
    pub anchor: String,
    pub line: u64,
    pub score: f32,
}

/// The answer to a [`SearchRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchResults {
    pub query: String,
    /// "Did you mean …", when the query found nothing as typed.
    pub suggestion: Option<String>,
    pub hits: Vec<Hit>,
}
