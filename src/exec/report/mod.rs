//! Where a run's progress goes: the terminal (live, with a spinner on a TTY) or JSON lines.

pub(crate) mod json;
pub(crate) mod silent;
pub(crate) mod terminal;

use super::stream::StreamKind;
use crate::record::{RunRecord, StepKind, StepRecord};
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// A step about to run.
pub(crate) struct StepStart<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub kind: StepKind,
    /// The rendered script or probe.
    pub command: Option<&'a str>,
}

/// A step as `--dry-run` shows it.
pub(crate) struct DryStep<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub kind: StepKind,
    pub command: &'a str,
    /// Checks in words, rendered.
    pub checks: Vec<String>,
    /// `when`, `confirm`, timeout, retry, severity…, as `label: value`.
    pub notes: Vec<String>,
}

/// A declared diagnosis as `--dry-run` lists it.
pub(crate) struct DryDiagnosis<'a> {
    pub id: &'a str,
    pub when: &'a str,
    pub cause: &'a str,
    pub severity: crate::record::Severity,
    pub fix: Vec<&'a str>,
}

pub(crate) trait Reporter {
    fn run_started(&mut self, run: &RunRecord, total: usize, archive: Option<&Path>);
    fn step_started(&mut self, number: usize, total: usize, step: &StepStart);
    fn output(&mut self, step_id: &str, stream: StreamKind, line: &str);
    fn step_finished(&mut self, number: usize, total: usize, step: &StepRecord);
    fn run_finished(&mut self, run: &RunRecord, archive: Option<&Path>);
    /// A step runs again (`retry`).
    fn attempt(&mut self, step_id: &str, attempt: u32, attempts: u32);
    /// Something the user should know that is not a step result (an archive that cannot be written).
    fn notice(&mut self, text: &str);
    /// Asks a yes/no question; `None` when nobody can answer (no terminal) or on Ctrl-C.
    /// `step_id` is the step it is asked for: a fleet run asks once per step for all hosts.
    fn ask(&mut self, step_id: &str, question: &str, interrupted: &AtomicBool) -> Option<bool>;
    fn dry_run_step(&mut self, number: usize, total: usize, step: &DryStep);
    /// A diagnosis the run would evaluate at its end.
    fn dry_run_diagnosis(&mut self, diagnosis: &DryDiagnosis);
}
