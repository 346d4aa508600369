//! `--json`: one JSON object per line and event, for machines. Nothing else goes to stdout.

use super::{DryDiagnosis, DryStep, Reporter, StepStart};
use crate::exec::context::Clock;
use crate::exec::stream::StreamKind;
use crate::record::{RunRecord, StepRecord};
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;

pub struct JsonReporter {
    out: std::io::Stdout,
    /// The run's clock, so pinned runs print pinned times.
    clock: Clock,
}

impl JsonReporter {
    pub fn new(clock: Clock) -> JsonReporter {
        JsonReporter { out: std::io::stdout(), clock }
    }
}

impl JsonReporter {
    fn emit(&mut self, event: serde_json::Value) {
        let mut lock = self.out.lock();
        let _ = serde_json::to_writer(&mut lock, &event);
        let _ = lock.write_all(b"\n");
        let _ = lock.flush();
    }
}

impl Reporter for JsonReporter {
    fn run_started(&mut self, run: &RunRecord, total: usize, archive: Option<&Path>) {
        self.emit(json!({
            "event": "run_started",
            "time": self.clock.rfc3339(),
            "run_id": run.run_id,
            "runbook": run.runbook,
            "steps": total,
            "vars": run.vars,
            "archive": archive.map(|a| a.display().to_string()),
        }));
    }

    fn step_started(&mut self, number: usize, _total: usize, step: &StepStart) {
        self.emit(json!({
            "event": "step_started",
            "time": self.clock.rfc3339(),
            "step": step.id,
            "number": number,
            "name": step.name,
            "kind": step.kind,
            "command": step.command,
        }));
    }

    fn output(&mut self, step_id: &str, stream: StreamKind, line: &str) {
        self.emit(json!({"event": "output", "step": step_id, "stream": stream.as_str(), "line": line}));
    }

    fn step_finished(&mut self, number: usize, _total: usize, step: &StepRecord) {
        self.emit(json!({
            "event": "step_finished",
            "time": self.clock.rfc3339(),
            "step": step.id,
            "number": number,
            "outcome": step.outcome,
            "reason": step.reason,
            "duration_ms": step.duration_ms,
            "exit_code": step.exit_code,
            "attempts": step.attempts,
            "checks": step.checks,
            "captures": step.captures,
        }));
    }

    fn run_finished(&mut self, run: &RunRecord, archive: Option<&Path>) {
        for (rank, diagnosis) in run.diagnoses.iter().enumerate() {
            self.emit(json!({
                "event": "diagnosis",
                "time": self.clock.rfc3339(),
                "run_id": run.run_id,
                "rank": rank + 1,
                "most_likely": rank == 0,
                "id": diagnosis.id,
                "cause": diagnosis.cause,
                "severity": diagnosis.severity,
                "fix": diagnosis.fix,
                "next": diagnosis.fix.iter().map(|f| f.command(&run.runbook.id)).collect::<Vec<_>>(),
                "evidence": diagnosis.evidence,
            }));
        }
        let counts: serde_json::Map<String, serde_json::Value> =
            run.counts().into_iter().map(|(o, n)| (o.as_str().to_string(), json!(n))).collect();
        self.emit(json!({
            "event": "run_finished",
            "time": self.clock.rfc3339(),
            "run_id": run.run_id,
            "verdict": run.verdict,
            "duration_ms": run.duration_ms,
            "counts": counts,
            "findings": run.findings,
            "diagnosis": run.diagnoses.first().map(|d| &d.id),
            "archive": archive.map(|a| a.display().to_string()),
        }));
    }

    fn attempt(&mut self, step_id: &str, attempt: u32, attempts: u32) {
        self.emit(json!({"event": "retry", "time": self.clock.rfc3339(), "step": step_id, "attempt": attempt, "of": attempts}));
    }

    fn notice(&mut self, text: &str) {
        self.emit(json!({"event": "notice", "time": self.clock.rfc3339(), "message": text}));
    }

    fn ask(&mut self, _question: &str, _interrupted: &AtomicBool) -> Option<bool> {
        None
    }

    fn dry_run_step(&mut self, number: usize, _total: usize, step: &DryStep) {
        self.emit(json!({
            "event": "dry_run_step",
            "step": step.id,
            "number": number,
            "name": step.name,
            "kind": step.kind,
            "command": step.command,
            "checks": step.checks,
            "notes": step.notes,
        }));
    }

    fn dry_run_diagnosis(&mut self, diagnosis: &DryDiagnosis) {
        self.emit(json!({
            "event": "dry_run_diagnosis",
            "id": diagnosis.id,
            "when": diagnosis.when,
            "cause": diagnosis.cause,
            "severity": diagnosis.severity,
            "fix": diagnosis.fix,
        }));
    }
}
