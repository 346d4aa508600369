//! A reporter that shows nothing: for runs whose result is read from the record afterwards
//! (`runbook watch`). It never answers a question.

use super::{DryDiagnosis, DryStep, Reporter, StepStart};
use crate::exec::stream::StreamKind;
use crate::record::{RunRecord, StepRecord};
use std::path::Path;
use std::sync::atomic::AtomicBool;

#[derive(Debug, Default)]
pub(crate) struct SilentReporter;

impl Reporter for SilentReporter {
    fn run_started(&mut self, _run: &RunRecord, _total: usize, _archive: Option<&Path>) {}
    fn step_started(&mut self, _number: usize, _total: usize, _step: &StepStart) {}
    fn output(&mut self, _step_id: &str, _stream: StreamKind, _line: &str) {}
    fn step_finished(&mut self, _number: usize, _total: usize, _step: &StepRecord) {}
    fn run_finished(&mut self, _run: &RunRecord, _archive: Option<&Path>) {}
    fn attempt(&mut self, _step_id: &str, _attempt: u32, _attempts: u32) {}
    fn notice(&mut self, _text: &str) {}
    fn ask(&mut self, _step_id: &str, _question: &str, _interrupted: &AtomicBool) -> Option<bool> {
        None
    }
    fn dry_run_step(&mut self, _number: usize, _total: usize, _step: &DryStep) {}
    fn dry_run_diagnosis(&mut self, _diagnosis: &DryDiagnosis) {}
}
