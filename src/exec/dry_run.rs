//! `--dry-run`: every step fully rendered, with its checks and conditions in words; nothing
//! runs, and a template that cannot be rendered is an error (exit 2).

use super::engine::{Engine, RunOutcome};
use super::plan::{Invalid, Plan, invalid};
use super::report::DryStep;
use super::resolve::{ResolvedAction, ResolvedStep};
use crate::model::step::{ActionChecks, Step};
use crate::record::Verdict;

pub(super) fn show(mut engine: Engine, plans: &[Plan]) -> Result<RunOutcome, Invalid> {
    let total = engine.body.steps.len();
    let mut errors = Vec::new();
    for (number, (step, plan)) in engine.body.steps.iter().zip(plans).enumerate() {
        let resolved = match engine.resolve_early(step) {
            Ok(resolved) => resolved,
            Err(err) => {
                errors.push(format!("step `{}`: {err}", step.id));
                continue;
            }
        };
        let notes = notes(&engine, step, plan, &resolved);
        let command = engine.redactor.redact(&resolved.command()).into_owned();
        let checks = resolved_checks(step, &resolved);
        let dry = DryStep { id: &step.id, name: &resolved.name, kind: step.kind(), command: &command, checks, notes };
        engine.reporter.dry_run_step(number + 1, total, &dry);
    }
    for diagnosis in &engine.body.diagnoses {
        let fix: Vec<&str> = diagnosis.fix.iter().map(|f| f.as_str()).collect();
        engine.reporter.dry_run_diagnosis(&super::report::DryDiagnosis {
            id: &diagnosis.id,
            when: &diagnosis.when.source,
            cause: &diagnosis.cause,
            severity: diagnosis.severity,
            fix,
        });
    }
    if let Some(first) = errors.first() {
        return Err(invalid(
            format!("{} of {} steps cannot be rendered: {first}", errors.len(), total),
            Some("fix the template, or pass the missing value with --var name=value".into()),
        ));
    }
    engine.record.verdict = Verdict::Passed;
    Ok(RunOutcome { record: engine.record, archive_dir: None, archive_error: None })
}

/// `when`, `confirm`, severity, timeout, retry, env and cwd, in words.
fn notes(engine: &Engine, step: &Step, plan: &Plan, resolved: &ResolvedStep) -> Vec<String> {
    let mut notes = Vec::new();
    if let Plan::Skip(reason) = plan {
        notes.push(format!("skipped: {reason}"));
    }
    if let Some(when) = &step.when {
        notes.push(format!("when: {}", when.source));
    }
    if !step.needs.is_empty() {
        notes.push(format!("needs: {}", step.needs.join(", ")));
    }
    if let Some(confirm) = &resolved.confirm {
        notes.push(format!("asks first: {confirm}"));
    }
    notes.push(format!(
        "{} · timeout {}{}{}",
        step.severity,
        step.timeout,
        step.retry.map(|r| format!(" · retry {}× every {}", r.attempts, r.delay)).unwrap_or_default(),
        if step.continue_on_error { " · continue on error" } else { "" }
    ));
    for (key, value) in &resolved.env {
        notes.push(format!("env {key}={}", engine.redactor.redact(value)));
    }
    if let Some(cwd) = &resolved.cwd {
        notes.push(format!("cwd {cwd}"));
    }
    notes
}

/// The checks of a resolved step in words.
fn resolved_checks(step: &Step, resolved: &ResolvedStep) -> Vec<String> {
    let action = match &resolved.action {
        ResolvedAction::Run { expect, captures, .. } => ActionChecks::Run {
            expect,
            captures: captures
                .iter()
                .map(|(name, regex)| format!("captures `{name}` from /{}/", regex.as_str()))
                .collect(),
        },
        ResolvedAction::Probe(probe) => ActionChecks::Probe { probe, with_subject: false },
        ResolvedAction::Manual(_) => ActionChecks::Manual,
    };
    step.checks_in_words(action)
}
