//! Reading the archive folder: every run, newest first, tolerating damaged records.

use crate::record::RunRecord;
use std::path::{Path, PathBuf};

/// One run folder and what could be read of it.
#[derive(Debug)]
pub struct ArchivedRun {
    pub dir: PathBuf,
    /// The folder name, which is the run id.
    pub run_id: String,
    /// The record, or why it could not be read (a run killed before its first write).
    pub record: Result<RunRecord, String>,
}

/// Every run under `archives`, newest first. Folders without `run.json` are not runs (the
/// `cycles/` folder, for one).
pub fn list(archives: &Path) -> Vec<ArchivedRun> {
    let Ok(entries) = std::fs::read_dir(archives) else {
        return Vec::new();
    };
    let mut runs: Vec<ArchivedRun> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| e.path().join("run.json").exists())
        .map(|e| {
            let dir = e.path();
            let run_id = e.file_name().to_string_lossy().into_owned();
            let record = read(&dir);
            ArchivedRun { dir, run_id, record }
        })
        .collect();
    // Run ids start with a UTC timestamp, so name order is time order.
    runs.sort_by(|a, b| b.run_id.cmp(&a.run_id));
    runs
}

pub fn read(dir: &Path) -> Result<RunRecord, String> {
    let path = dir.join("run.json");
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{} is damaged: {e}", path.display()))
}

/// Why [`find`] found no single run.
#[derive(Debug, thiserror::Error)]
pub enum FindRunError {
    #[error("there are no runs yet")]
    NoRuns,
    #[error("no run `{0}`")]
    NoSuchRun(String),
    /// `shown` holds the first few of the `count` runs the prefix matches.
    #[error("`{query}` matches {count} runs: {}", shown.join(", "))]
    Ambiguous { query: String, count: usize, shown: Vec<String> },
}

/// Runs named when a prefix matches several.
const SHOWN_MATCHES: usize = 5;

/// Finds a run by id, unique id prefix, or `latest`.
pub fn find<'a>(runs: &'a [ArchivedRun], query: &str) -> Result<&'a ArchivedRun, FindRunError> {
    if query == "latest" {
        return runs.first().ok_or(FindRunError::NoRuns);
    }
    if let Some(run) = runs.iter().find(|r| r.run_id == query) {
        return Ok(run);
    }
    let matches: Vec<&ArchivedRun> = runs.iter().filter(|r| r.run_id.starts_with(query)).collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(FindRunError::NoSuchRun(query.to_string())),
        many => Err(FindRunError::Ambiguous {
            query: query.to_string(),
            count: many.len(),
            shown: many.iter().take(SHOWN_MATCHES).map(|r| r.run_id.clone()).collect(),
        }),
    }
}

/// When a run started, read from its folder name (`20261126T213000Z-…`, UTC): for records too
/// damaged to say.
pub fn started_from_name(run_id: &str) -> Option<jiff::Timestamp> {
    let stamp = run_id.get(..15)?;
    let datetime = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%S", stamp).ok()?;
    jiff::tz::TimeZone::UTC.to_timestamp(datetime).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_tell_the_time() {
        assert_eq!(started_from_name("20261126T213000Z-cuda-304").unwrap().to_string(), "2026-11-26T21:30:00Z");
        assert!(started_from_name("cycles").is_none());
    }
}
