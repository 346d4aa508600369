//! The record of every run for agents: a listing, and one run in full — with its diagnosis and
//! trigger whenever the record has them.

use super::args::{DEFAULT_RUNS, GetRunArgs, ListRunsArgs, MAX_RUNS};
use super::error::ToolError;
use super::knowledge::find;
use crate::archive::store::{ArchivedRun, Archives, RecordError, RunFolder};
use crate::model::Kb;
use crate::record::Verdict;
use serde_json::{Value, json};
use std::path::Path;

/// `list_runs`: runs newest first, as `runbook archive list --json` lists them, with each run's
/// trigger and diagnosis.
pub(super) fn list(kb: &Kb, archives: &Path, args: ListRunsArgs) -> Result<Value, ToolError> {
    let limit = args.limit.unwrap_or(DEFAULT_RUNS);
    if !(1..=MAX_RUNS).contains(&limit) {
        return Err(ToolError::Arguments(format!("`limit` must be 1 to {MAX_RUNS}, not {limit}")));
    }
    // Runs of a runbook that no longer exists are still asked for by the id they recorded.
    let runbook = match &args.runbook {
        Some(query) => Some(match find(kb, query) {
            Ok(idx) => kb[idx].id.clone(),
            Err(err) if !has_runs_of(archives, query) => return Err(err),
            Err(_) => query.clone(),
        }),
        None => None,
    };
    let verdict = args.verdict.map(Verdict::from);
    // Folders are named after their runbook: only theirs are read, and without a verdict to
    // check, only the ones shown.
    let candidates: Vec<RunFolder> = Archives::new(archives)
        .run_folders()
        .into_iter()
        .filter(|folder| runbook.as_deref().is_none_or(|id| folder.may_be_of(id)))
        .collect();
    let wanted = |run: &ArchivedRun| {
        runbook.as_deref().is_none_or(|id| run.is_of(id))
            && verdict.is_none_or(|v| run.record.as_ref().is_ok_and(|r| r.verdict == v))
    };
    let (total, shown): (usize, Vec<ArchivedRun>) = if verdict.is_none() {
        (candidates.len(), candidates.into_iter().take(limit).map(|folder| folder.read()).filter(wanted).collect())
    } else {
        let selected: Vec<ArchivedRun> = candidates.into_iter().map(|folder| folder.read()).filter(wanted).collect();
        (selected.len(), selected.into_iter().take(limit).collect())
    };
    let rows: Vec<Value> = shown.iter().map(row).collect();
    Ok(json!({"total": total, "shown": rows.len(), "runs": rows}))
}

fn has_runs_of(archives: &Path, id: &str) -> bool {
    Archives::new(archives).run_folders().iter().any(|folder| folder.may_be_of(id))
}

/// One run as a row: what `archive list --json` says, plus its trigger and diagnosis.
fn row(run: &ArchivedRun) -> Value {
    let Ok(record) = &run.record else {
        return json!({"run_id": run.run_id, "error": run.record.as_ref().err().map(RecordError::cause)});
    };
    json!({
        "run_id": run.run_id,
        "runbook": record.runbook.id,
        "title": record.runbook.title,
        "verdict": record.verdict,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "duration_ms": record.duration_ms,
        "steps": record.steps.len(),
        "failed": record.steps.iter().filter(|s| s.outcome.is_failure()).count(),
        "findings": record.findings.len(),
        "trigger": record.trigger,
        // The most likely cause: the first of the diagnoses that matched, in document order.
        "diagnosis": record.diagnoses.first(),
    })
}

/// `run.json` as written, with every field it has.
fn raw_record(dir: &Path) -> Result<Value, String> {
    let path = dir.join("run.json");
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{} is damaged: {e}", path.display()))
}

/// `get_run`: one run's `run.json` in full, and its folder.
pub(super) fn get(archives: &Path, args: GetRunArgs) -> Result<Value, ToolError> {
    let archives = Archives::new(archives);
    let run = archives.find(args.run_id.trim()).map_err(|message| {
        // A prefix shared by several runs already lists them; a miss gets the closest ids.
        let runs = archives.run_folders();
        let missed = !runs.iter().any(|r| r.run_id.starts_with(args.run_id.trim()));
        let ids = runs.iter().map(|r| r.run_id.as_str()).filter(|_| missed);
        let suggestions = crate::util::suggest::ranked(&args.run_id, ids, 3).into_iter().map(str::to_string).collect();
        ToolError::UnknownRun { message: message.to_string(), suggestions }
    })?;
    let mut record = raw_record(&run.dir).map_err(ToolError::Failed)?;
    if let Value::Object(map) = &mut record {
        map.insert("folder".into(), json!(run.dir.display().to_string()));
    }
    Ok(record)
}

/// A run's record read back for `run_diagnosis`: the same as `get_run` gives.
pub(super) fn read_back(dir: &Path) -> Result<Value, String> {
    raw_record(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_run(archives: &Path, id: &str, runbook: &str, verdict: &str, extra: Value) {
        let dir = archives.join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let mut record = json!({
            "schema": 1, "run_id": id,
            "runbook": {"id": runbook, "title": "T", "path": "p.md", "sha256": "00"},
            "engine": {"name": "runbook", "version": "0"}, "host": {"name": "h", "os": "linux", "arch": "x"},
            "user": "u", "started_at": "2026-01-01T00:00:00Z", "duration_ms": 5,
            "options": {"yes": false, "interactive": false}, "vars": {}, "verdict": verdict, "steps": [],
        });
        if let (Value::Object(map), Value::Object(more)) = (&mut record, extra) {
            map.extend(more);
        }
        std::fs::write(dir.join("run.json"), record.to_string()).unwrap();
    }

    fn empty_kb() -> (tempfile::TempDir, Kb) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("runbooks")).unwrap();
        std::fs::write(dir.path().join("runbooks/disk.md"), "# Disk\n").unwrap();
        let kb = Kb::load(crate::model::KbSource::for_dir(dir.path().to_path_buf()));
        (dir, kb)
    }

    #[test]
    fn runs_list_newest_first_with_their_diagnosis() {
        let (dir, kb) = empty_kb();
        let archives = dir.path().join("archives");
        write_run(&archives, "20260101T000000Z-disk", "disk", "passed", json!({}));
        let diagnoses = json!([
            {"id": "full", "cause": "the disk is full", "severity": "critical"},
            {"id": "inodes", "cause": "no inodes are left", "severity": "critical"}
        ]);
        write_run(&archives, "20260102T000000Z-disk", "disk", "failed", json!({"diagnoses": diagnoses}));
        write_run(&archives, "20260103T000000Z-gone", "gone", "passed", json!({"trigger": {"kind": "mcp"}}));
        let all = list(&kb, &archives, ListRunsArgs { runbook: None, verdict: None, limit: None }).unwrap();
        assert_eq!(all["total"], 3);
        assert_eq!(all["runs"][0]["run_id"], "20260103T000000Z-gone");
        assert_eq!(all["runs"][0]["trigger"]["kind"], "mcp");
        assert_eq!(all["runs"][1]["diagnosis"]["cause"], "the disk is full");
        let failed = list(
            &kb,
            &archives,
            ListRunsArgs {
                runbook: Some("disk".into()),
                verdict: Some(super::super::args::VerdictArg::Failed),
                limit: None,
            },
        )
        .unwrap();
        assert_eq!(failed["total"], 1);
        // A runbook deleted since still has its runs.
        let gone =
            list(&kb, &archives, ListRunsArgs { runbook: Some("gone".into()), verdict: None, limit: None }).unwrap();
        assert_eq!(gone["total"], 1);
        let err = list(&kb, &archives, ListRunsArgs { runbook: Some("dsk".into()), verdict: None, limit: None });
        assert!(err.unwrap_err().to_string().contains("did you mean `disk`?"));
        let err = list(&kb, &archives, ListRunsArgs { runbook: None, verdict: None, limit: Some(0) });
        assert!(err.unwrap_err().to_string().contains("`limit` must be 1 to 200"));
    }

    #[test]
    fn a_run_is_found_by_prefix_or_latest_and_a_miss_suggests() {
        let dir = tempfile::tempdir().unwrap();
        write_run(dir.path(), "20260101T000000Z-disk", "disk", "passed", json!({}));
        write_run(dir.path(), "20260102T000000Z-disk", "disk", "failed", json!({}));
        let run = get(dir.path(), GetRunArgs { run_id: "latest".into() }).unwrap();
        assert_eq!(run["run_id"], "20260102T000000Z-disk");
        assert!(run["folder"].as_str().unwrap().ends_with("20260102T000000Z-disk"));
        let run = get(dir.path(), GetRunArgs { run_id: "20260101".into() }).unwrap();
        assert_eq!(run["verdict"], "passed");
        let err = get(dir.path(), GetRunArgs { run_id: "20260103T000000Z-disk".into() }).unwrap_err();
        assert!(err.to_string().contains("did you mean"), "{err}");
        let err = get(dir.path(), GetRunArgs { run_id: "2026".into() }).unwrap_err();
        assert!(err.to_string().contains("matches 2 runs"), "{err}");
    }
}
