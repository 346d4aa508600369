//! A run as one row of a listing: `runbook archive list --json` and the site's `/api/archives`
//! share it, each adding where the run is (a folder, a URL).

use super::store::ArchivedRun;
use crate::record::Verdict;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
pub(crate) struct ArchiveRow<'a> {
    pub run_id: &'a str,
    pub runbook: Option<&'a str>,
    pub title: Option<&'a str>,
    pub verdict: Option<Verdict>,
    pub started_at: Option<&'a str>,
    pub finished_at: Option<&'a str>,
    pub duration_ms: Option<u64>,
    /// Steps recorded.
    pub steps: Option<usize>,
    /// Steps that failed, timed out, errored or were interrupted.
    pub failed: Option<usize>,
    /// Steps by outcome: `{"passed": 3, "failed": 1}`.
    pub outcomes: Option<BTreeMap<&'static str, usize>>,
    /// A fleet run's hosts' outcomes, folded: `gpu[01-06,08] passed · gpu07 failed: …`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<&'a str>,
    /// Why the record could not be read.
    pub error: Option<String>,
}

impl<'a> ArchiveRow<'a> {
    pub(crate) fn new(run: &'a ArchivedRun) -> ArchiveRow<'a> {
        let record = run.record.as_ref().ok();
        ArchiveRow {
            run_id: &run.run_id,
            runbook: record.map(|r| r.runbook.id.as_str()),
            title: record.map(|r| r.runbook.title.as_str()),
            verdict: record.map(|r| r.verdict),
            started_at: record.map(|r| r.started_at.as_str()),
            finished_at: record.and_then(|r| r.finished_at.as_deref()),
            duration_ms: record.map(|r| r.duration_ms),
            steps: record.map(|r| r.steps.len()),
            failed: record.map(|r| r.steps.iter().filter(|s| s.outcome.is_failure()).count()),
            outcomes: record.map(|r| r.counts().into_iter().map(|(o, n)| (o.as_str(), n)).collect()),
            hosts: record.and_then(|r| r.fleet.as_ref()).map(|f| f.summary.as_str()),
            error: run.record.as_ref().err().map(ToString::to_string),
        }
    }
}
