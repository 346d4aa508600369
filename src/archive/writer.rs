//! Writing one run's folder: `run.json` (atomically, after every step), `run.md`, step logs.

use super::markdown;
use super::store::{Archives, MARKDOWN_FILE, RECORD_FILE, STEPS_DIR};
use crate::record::{EngineVersion, Fleet, Host, Remote, RunOptions, RunRecord, RunbookRef, Trigger, Verdict};
use crate::util::fs::write_atomic;
use crate::util::text::file_safe;
use rustix::fs::{CWD, RenameFlags};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Writes the folder of one run (read back as an [`ArchivedRun`](super::store::ArchivedRun)).
#[derive(Debug)]
pub(crate) struct RunWriter {
    dir: PathBuf,
    /// Compact JSON of the steps written so far: `run.json` is rewritten after every step, and
    /// serializing only the new step keeps that linear.
    steps_json: Vec<String>,
    record: RecordFile,
}

impl RunWriter {
    /// Creates the run's folder with its `steps/`; a second run in the same second gets `-2`,
    /// `-3`, …. Returns the writer and the final run id.
    pub(crate) fn create(archives: &Archives, run_id: &str) -> std::io::Result<(RunWriter, String)> {
        std::fs::create_dir_all(archives.dir())?;
        for n in 1..1000 {
            let id = if n == 1 { run_id.to_string() } else { format!("{run_id}-{n}") };
            let dir = archives.run_dir(&id);
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    std::fs::create_dir(dir.join(STEPS_DIR))?;
                    let record = RecordFile::new(&dir);
                    return Ok((RunWriter { dir, steps_json: Vec::new(), record }, id));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other(format!("too many runs named {run_id}")))
    }

    /// Creates the run folder `dir` itself (a fleet host's `hosts/<host>/`); it must not exist.
    pub(crate) fn create_at(dir: &Path) -> std::io::Result<RunWriter> {
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::create_dir(dir)?;
        std::fs::create_dir(dir.join(STEPS_DIR))?;
        let record = RecordFile::new(dir);
        Ok(RunWriter { dir: dir.to_path_buf(), steps_json: Vec::new(), record })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the log of one stream of step number `number` (1-based) goes: the full path and
    /// the path relative to the run folder. The file is created by whoever writes first.
    pub(crate) fn step_log(&self, number: usize, step_id: &str, stream: &str) -> (PathBuf, String) {
        let relative = format!("{STEPS_DIR}/{number:02}-{}.{stream}", file_safe(step_id));
        (self.dir.join(&relative), relative)
    }

    /// Rewrites `run.json` atomically: a reader, or a crash, sees the old or the new record,
    /// never half of one.
    /// Compact while the run goes on (it is rewritten after every step), indented at the end.
    pub(crate) fn write_record(&mut self, record: &RunRecord, pretty: bool) -> std::io::Result<()> {
        let bytes = if pretty {
            serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?
        } else {
            self.compact(record)?.into_bytes()
        };
        self.record.write(&bytes)?;
        if pretty {
            self.record.finish();
        }
        Ok(())
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
            remote: &record.remote,
            fleet: &record.fleet,
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

    pub(crate) fn write_markdown(&self, record: &RunRecord) -> std::io::Result<()> {
        write_atomic(&self.dir.join(MARKDOWN_FILE), markdown::render(record).as_bytes())
    }
}

/// `run.json`, rewritten after every step without creating or deleting a file each time: the
/// record and a spare (`.run.json.spare`) are two open files; each new record is written into
/// the spare in place, then the two names are swapped in one atomic step (`renameat2` with
/// `RENAME_EXCHANGE`), so a reader — or a crash — sees the old record or the new one, never half
/// of one. A temp file renamed over `run.json` does the same, but ext4 flushes the data of a file
/// renamed over another (`auto_da_alloc`): up to a millisecond and more per step on a busy disk.
/// Where names cannot be exchanged (some network filesystems), it falls back to exactly that.
#[derive(Debug)]
struct RecordFile {
    path: PathBuf,
    spare_path: PathBuf,
    /// The file named `run.json` and the spare, with their lengths; `None` before the first
    /// write, or once exchanging failed.
    files: Option<[(File, u64); 2]>,
    spare: usize,
    exchange: bool,
}

impl RecordFile {
    fn new(dir: &Path) -> RecordFile {
        RecordFile {
            path: dir.join(RECORD_FILE),
            spare_path: dir.join(".run.json.spare"),
            files: None,
            spare: 1,
            exchange: true,
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if !self.exchange {
            return write_atomic(&self.path, bytes);
        }
        let Some(files) = &mut self.files else {
            // The first record: created whole, then both files kept open.
            write_atomic(&self.path, bytes)?;
            let record = OpenOptions::new().write(true).open(&self.path)?;
            let spare = OpenOptions::new().write(true).create(true).truncate(true).open(&self.spare_path)?;
            self.files = Some([(record, bytes.len() as u64), (spare, 0)]);
            self.spare = 1;
            return Ok(());
        };
        let (file, len) = &mut files[self.spare];
        file.write_all_at(bytes, 0)?;
        if (bytes.len() as u64) < *len {
            file.set_len(bytes.len() as u64)?;
        }
        *len = bytes.len() as u64;
        match rustix::fs::renameat_with(CWD, &self.spare_path, CWD, &self.path, RenameFlags::EXCHANGE) {
            Ok(()) => {
                self.spare ^= 1;
                Ok(())
            }
            Err(_) => {
                self.exchange = false;
                self.files = None;
                let _ = std::fs::remove_file(&self.spare_path);
                write_atomic(&self.path, bytes)
            }
        }
    }

    /// The run is over: the spare goes.
    fn finish(&mut self) {
        self.files = None;
        let _ = std::fs::remove_file(&self.spare_path);
    }
}

/// Every field of [`RunRecord`] but `steps` and `findings`, which [`RunWriter::compact`] adds.
#[derive(Serialize)]
struct Head<'a> {
    schema: u32,
    run_id: &'a str,
    runbook: &'a RunbookRef,
    engine: &'a EngineVersion,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    remote: &'a Option<Remote>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fleet: &'a Option<Fleet>,
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
            engine: EngineVersion { name: "runbook".into(), version: "0".into() },
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
                    kind: crate::record::StepKind::Run,
                    severity: crate::record::Severity::Critical,
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
                    source_sha256: None,
                    expected_output: None,
                })
                .collect(),
            findings: Vec::new(),
            remote: Some(Remote {
                host: "gpu07".into(),
                target: crate::record::Target::Docker { container: "c".into() },
                fleet_run: "f".into(),
                unreachable: None,
            }),
            fleet: None,
            diagnoses: Vec::new(),
            declares_diagnoses: true,
        }
    }

    #[test]
    fn record_rewrites_leave_one_complete_file() {
        let dir = tempfile::tempdir().unwrap();
        let (mut archive, _) = RunWriter::create(&Archives::new(dir.path()), "r").unwrap();
        for steps in [0, 1, 2, 3, 5] {
            archive.write_record(&record(steps), false).unwrap();
            let text = std::fs::read_to_string(archive.dir().join("run.json")).unwrap();
            let read: RunRecord = serde_json::from_str(&text).unwrap();
            assert_eq!(read.steps.len(), steps);
        }
        // A shorter record (the last one, pretty, may be either) leaves no old bytes behind.
        archive.write_record(&record(1), true).unwrap();
        let read: RunRecord =
            serde_json::from_str(&std::fs::read_to_string(archive.dir().join("run.json")).unwrap()).unwrap();
        assert_eq!(read.steps.len(), 1);
        let names: Vec<String> = std::fs::read_dir(archive.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.iter().filter(|n| n.starts_with('.')).count(), 0, "{names:?}");
    }

    #[test]
    fn incremental_json_equals_full_json() {
        let dir = tempfile::tempdir().unwrap();
        let (mut archive, _) = RunWriter::create(&Archives::new(dir.path()), "r").unwrap();
        for steps in [0, 1, 2, 5] {
            let record = record(steps);
            let compact: serde_json::Value = serde_json::from_str(&archive.compact(&record).unwrap()).unwrap();
            assert_eq!(compact, serde_json::to_value(&record).unwrap());
        }
    }
}
