//! A runbook as one row of a listing: `runbook list --json` and the site's `/api/runbooks`.

use crate::model::Runbook;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub(crate) struct ListRow<'a> {
    pub id: &'a str,
    pub title: &'a str,
    /// Relative to the KB.
    pub path: &'a str,
    pub category: &'a str,
    pub tags: &'a [String],
    pub aliases: &'a [String],
    pub summary: &'a str,
    pub severity: &'static str,
    /// `runbook`, or `document` for Markdown without steps.
    pub kind: &'static str,
    pub steps: usize,
    pub errors: usize,
    pub warnings: usize,
}

impl<'a> ListRow<'a> {
    pub(crate) fn new(rb: &'a Runbook) -> Self {
        ListRow {
            id: &rb.id,
            title: &rb.title,
            path: &rb.path,
            category: &rb.category,
            tags: &rb.tags,
            aliases: &rb.aliases,
            summary: &rb.summary,
            severity: rb.severity.as_str(),
            kind: if rb.is_document() { "document" } else { "runbook" },
            steps: rb.step_fences,
            errors: rb.error_count(),
            warnings: rb.warning_count(),
        }
    }
}
