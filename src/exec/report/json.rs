//! `--json`: one JSON object per line and event, for machines. Nothing else goes to stdout.

use super::{DryDiagnosis, DryStep, Reporter, StepStart};
use crate::exec::context::Clock;
use crate::exec::fleet::{FleetReporter, HostSpec};
use crate::exec::stream::StreamKind;
use crate::record::{FleetHost, RunRecord, StepRecord};
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;

pub(crate) struct JsonReporter {
    out: std::io::Stdout,
    /// The run's clock, so pinned runs print pinned times.
    clock: Clock,
    /// A fleet host's run: every event carries `"host"`.
    host: Option<String>,
}

impl JsonReporter {
    pub(crate) fn new(clock: Clock) -> JsonReporter {
        JsonReporter { out: std::io::stdout(), clock, host: None }
    }

    /// The reporter of one host of a fleet run.
    pub(crate) fn for_host(clock: Clock, host: &str) -> JsonReporter {
        JsonReporter { out: std::io::stdout(), clock, host: Some(host.to_string()) }
    }
}

impl JsonReporter {
    fn emit(&mut self, mut event: serde_json::Value) {
        if let (Some(host), Some(object)) = (&self.host, event.as_object_mut()) {
            object.insert("host".into(), json!(host));
        }
        emit_line(&self.out, &event);
    }
}

/// One event, one line, written whole (fleet hosts' threads share stdout).
pub(crate) fn emit_line(out: &std::io::Stdout, event: &serde_json::Value) {
    let mut lock = out.lock();
    let _ = serde_json::to_writer(&mut lock, event);
    let _ = lock.write_all(b"\n");
    let _ = lock.flush();
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

    fn ask(&mut self, _step_id: &str, _question: &str, _interrupted: &AtomicBool) -> Option<bool> {
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

/// `--json` of a fleet run: every host's events with `"host"`, plus `fleet_started`,
/// `host_finished` and `fleet_finished`. Nothing can answer a question here.
pub(crate) struct FleetJson {
    clock: Clock,
    out: std::io::Stdout,
}

impl FleetJson {
    pub(crate) fn new(clock: Clock) -> FleetJson {
        FleetJson { clock, out: std::io::stdout() }
    }
}

impl FleetReporter for FleetJson {
    fn host(&self, host: &str) -> Box<dyn Reporter + '_> {
        Box::new(JsonReporter::for_host(self.clock, host))
    }

    fn ask(&self, _question: &str, _interrupted: &AtomicBool) -> Option<bool> {
        None
    }

    fn fleet_started(&self, run_id: &str, hosts: &[HostSpec], archive: Option<&Path>) {
        let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
        emit_line(
            &self.out,
            &json!({
                "event": "fleet_started",
                "time": self.clock.rfc3339(),
                "run_id": run_id,
                "hosts": names,
                "archive": archive.map(|a| a.display().to_string()),
            }),
        );
    }

    fn host_finished(&self, host: &FleetHost) {
        emit_line(
            &self.out,
            &json!({
                "event": "host_finished",
                "time": self.clock.rfc3339(),
                "host": host.name,
                "outcome": host.outcome,
                "verdict": host.verdict,
                "reason": host.reason,
                "dir": host.dir,
                "duration_ms": host.duration_ms,
                "resumed": host.resumed,
            }),
        );
    }

    fn fleet_finished(&self, run: &RunRecord, archive: Option<&Path>) {
        let fleet = run.fleet.as_ref();
        emit_line(
            &self.out,
            &json!({
                "event": "fleet_finished",
                "time": self.clock.rfc3339(),
                "run_id": run.run_id,
                "verdict": run.verdict,
                "summary": fleet.map(|f| f.summary.as_str()),
                "steps": run.steps.iter().map(|s| json!({"step": s.id, "outcome": s.outcome, "hosts": s.reason})).collect::<Vec<_>>(),
                "findings": run.findings,
                "duration_ms": run.duration_ms,
                "archive": archive.map(|a| a.display().to_string()),
            }),
        );
    }
}
