//! Keeping the archive bounded: drop runs beyond the newest N per runbook, or older than a date.
//! Cycle reports are never pruned; they quote the evidence they need.

use super::store::ArchivedRun;
use std::collections::HashMap;

/// The runs to delete (newest-first input, as `store::list` gives it).
pub(crate) fn select(
    runs: &[ArchivedRun],
    keep: Option<usize>,
    older_than: Option<jiff::Timestamp>,
) -> Vec<&ArchivedRun> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    runs.iter()
        .filter(|run| {
            let runbook = match &run.record {
                Ok(record) => record.runbook.id.clone(),
                Err(_) => run.runbook_from_name().to_string(),
            };
            let rank = seen.entry(runbook).or_insert(0);
            *rank += 1;
            let beyond_keep = keep.is_some_and(|keep| *rank > keep);
            let too_old = older_than.is_some_and(|limit| started(run).is_some_and(|t| t < limit));
            beyond_keep || too_old
        })
        .collect()
}

/// When a run started: from its record, else from its folder name.
pub(crate) fn started(run: &ArchivedRun) -> Option<jiff::Timestamp> {
    match &run.record {
        Ok(record) => record.started_at.parse().ok(),
        Err(_) => run.started_from_name(),
    }
}
