//! Writing one run's folder: `run.json` (atomically, after every step), `run.md`, step logs.

use super::markdown;
use crate::record::{Engine, Host, RunOptions, RunRecord, RunbookRef, Trigger, Verdict};
use crate::util::fs::write_atomic;
use crate::util::text::file_safe;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The run folder of one run.
#[derive(Debug)]
pub struct RunArchive {
    dir: PathBuf,
    /// Compact JSON of the steps written so far: `run.json` is rewritten after every step, and
    /// serializing only the new step keeps that linear.
    steps_json: Vec<String>,
}

impl RunArchive {
    /// Creates `archives/<run_id>/steps/`; a second run in the same second gets `-2`, `-3`, ….
    /// Returns the archive and the final run id.
    pub fn create(archives: &Path, run_id: &str) -> std::io::Result<(RunArchive, String)> {
        std::fs::create_dir_all(archives)?;
        for n in 1..1000 {
            let id = if n == 1 { run_id.to_string() } else { format!("{run_id}-{n}") };
            let dir = archives.join(&id);
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    std::fs::create_dir(dir.join("steps"))?;
                    return Ok((RunArchive { dir, steps_json: Vec::new() }, id));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other(format!("too many runs named {run_id}")))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the log of one stream of step number `number` (1-based) goes: the full path and
    /// the path relative to the run folder. The file is created by whoever writes first.
    pub fn step_log(&self, number: usize, step_id: &str, stream: &str) -> (PathBuf, String) {
        let relative = format!("steps/{number:02}-{}.{stream}", file_safe(step_id));
        (self.dir.join(&relative), relative)
    }

    /// Rewrites `run.json` atomically: a reader, or a crash, sees the old or the new record,
    /// never half of one.
    /// Compact while the run goes on (it is rewritten after every step), indented at the end.
    pub fn write_record(&mut self, record: &RunRecord, pretty: bool) -> std::io::Result<()> {
        let bytes = if pretty {
            serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?
        } else {
            self.compact(record)?.into_bytes()
        };
        write_atomic(&self.dir.join("run.json"), &bytes)
    }

    /// The record as compact JSON, from the cached JSON of earlier steps plus the new ones.
    fn compact(&mut self, record: &RunRecord) -> std::io::Result<String> {
        if self.steps_json.len() > record.steps.len() {
            self.steps_json.clear();
        }
        for step in &record.steps[self.steps_json.len()..] {
            self.steps_json.push(serde_json::to_string(step).map_err(std::io::Error::other)?);
        }
        let head = Head {
            schema: record.schema,
            run_id: &record.run_id,
            runbook: &record.runbook,
            engine: &record.engine,
            host: &record.host,
            user: &record.user,
            started_at: &record.started_at,
            finished_at: &record.finished_at,
            duration_ms: record.duration_ms,
            options: &record.options,
            trigger: &record.trigger,
            vars: &record.vars,
            verdict: record.verdict,
        };
        let head = serde_json::to_string(&head).map_err(std::io::Error::other)?;
        let findings = serde_json::to_string(&record.findings).map_err(std::io::Error::other)?;
        let steps_len: usize = self.steps_json.iter().map(|s| s.len() + 1).sum();
        let mut out = String::with_capacity(head.len() + steps_len + findings.len() + 32);
        out.push_str(head.strip_suffix('}').unwrap_or(&head));
        out.push_str(",\"steps\":[");
        out.push_str(&self.steps_json.join(","));
        out.push_str("],\"findings\":");
        out.push_str(&findings);
        out.push('}');
        Ok(out)
    }

    pub fn write_markdown(&self, record: &RunRecord) -> std::io::Result<()> {
        write_atomic(&self.dir.join("run.md"), markdown::render(record).as_bytes())
    }
}

/// Every field of [`RunRecord`] but `steps` and `findings`, which [`RunArchive::compact`] adds.
#[derive(Serialize)]
struct Head<'a> {
    schema: u32,
    run_id: &'a str,
    runbook: &'a RunbookRef,
    engine: &'a Engine,
    host: &'a Host,
    user: &'a str,
    started_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: &'a Option<String>,
    duration_ms: u64,
    options: &'a RunOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    trigger: &'a Option<Trigger>,
    vars: &'a BTreeMap<String, serde_json::Value>,
    verdict: Verdict,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Outcome, SCHEMA, StepRecord, StreamRecord};

    fn record(steps: usize) -> RunRecord {
        RunRecord {
            schema: SCHEMA,
            run_id: "20260101T000000Z-x".into(),
            runbook: RunbookRef {
                id: "x".into(),
                title: "X \"quoted\"".into(),
                path: "x.md".into(),
                sha256: "ab".into(),
            },
            engine: Engine { name: "runbook".into(), version: "0".into() },
            host: Host { name: "h".into(), os: "linux".into(), arch: "x86_64".into() },
            user: "u".into(),
            started_at: "t".into(),
            finished_at: None,
            duration_ms: 5,
            options: RunOptions::default(),
            trigger: Some(Trigger { kind: "alertmanager".into(), ..Trigger::default() }),
            vars: BTreeMap::from([("steps".to_string(), serde_json::json!([]))]),
            verdict: Verdict::Running,
            steps: (0..steps)
                .map(|i| StepRecord {
                    id: format!("s{i}"),
                    name: "n".into(),
                    kind: "run".into(),
                    severity: "critical".into(),
                    command: Some("echo }".into()),
                    outcome: Outcome::Passed,
                    reason: None,
                    started_at: None,
                    finished_at: None,
                    duration_ms: 1,
                    exit_code: Some(0),
                    signal: None,
                    attempts: 1,
                    checks: Vec::new(),
                    observed: Vec::new(),
                    captures: BTreeMap::new(),
                    confirmed_by: None,
                    stdout_tail: "out".into(),
                    stderr_tail: String::new(),
                    stdout: StreamRecord::default(),
                    stderr: StreamRecord::default(),
                    resumed: false,
                })
                .collect(),
            findings: Vec::new(),
        }
    }

    #[test]
    fn incremental_json_equals_full_json() {
        let dir = tempfile::tempdir().unwrap();
        let (mut archive, _) = RunArchive::create(dir.path(), "r").unwrap();
        for steps in [0, 1, 2, 5] {
            let record = record(steps);
            let compact: serde_json::Value = serde_json::from_str(&archive.compact(&record).unwrap()).unwrap();
            assert_eq!(compact, serde_json::to_value(&record).unwrap());
        }
    }
}
