//! After the run: which declared diagnoses match (DESIGN §4). Every match is kept, in document
//! order, with the failed checks its `when` reads as evidence and its `fix` resolved to steps
//! and runbooks; the first is the most likely cause.

use super::scope::Scope;
use super::template::Renderer;
use crate::model::diagnosis::{Diagnosis, Fix};
use crate::model::{Kb, Runbook};
use crate::record::{DiagnosisRecord, Finding, FixRecord, StepRecord};

/// Evaluates every diagnosis over the finished steps. A `when` that cannot be evaluated is a
/// problem of the runbook, returned beside the matches so the run can say so.
pub(super) fn evaluate(
    diagnoses: &[Diagnosis],
    steps: &[StepRecord],
    scope: &Scope,
    renderer: &Renderer,
    kb: &Kb,
    runbook: &Runbook,
) -> (Vec<DiagnosisRecord>, Vec<String>) {
    let value = scope.value();
    let mut matched = Vec::new();
    let mut problems = Vec::new();
    for diagnosis in diagnoses {
        match renderer.truthy(&diagnosis.when, &value) {
            Ok(true) => matched.push(record(diagnosis, steps, kb, runbook)),
            Ok(false) => {}
            Err(err) => problems.push(format!("diagnosis `{}`: {err}", diagnosis.id)),
        }
    }
    (matched, problems)
}

fn record(diagnosis: &Diagnosis, steps: &[StepRecord], kb: &Kb, runbook: &Runbook) -> DiagnosisRecord {
    let evidence = diagnosis
        .evidence_steps()
        .iter()
        .filter_map(|id| steps.iter().find(|s| &s.id == id))
        .filter(|s| s.outcome.is_failure())
        .map(Finding::of)
        .collect();
    DiagnosisRecord {
        id: diagnosis.id.clone(),
        cause: diagnosis.cause.clone(),
        severity: diagnosis.severity,
        fix: diagnosis.fix.iter().map(|fix| fix_record(fix, kb, runbook)).collect(),
        evidence,
        hosts: None,
    }
}

/// A fix as the record keeps it: a step id, or a link with the runbook it resolves to.
fn fix_record(fix: &Fix, kb: &Kb, runbook: &Runbook) -> FixRecord {
    match fix {
        Fix::Step(step) => FixRecord { step: Some(step.clone()), link: None, runbook: None, anchor: None },
        Fix::Link(dest) => {
            let target = runbook.links.iter().find(|l| &l.dest == dest).and_then(|l| l.target.as_ref());
            FixRecord {
                step: None,
                link: Some(dest.clone()),
                runbook: target.map(|t| kb[t.runbook].id.clone()),
                anchor: target.and_then(|t| t.anchor.clone()),
            }
        }
    }
}
