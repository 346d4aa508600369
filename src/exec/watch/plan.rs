//! What `runbook watch` checks: the runbooks with `watch:` in their front matter, or the ones
//! named on the command line, each with its steps, interval, timeout and flap thresholds.

use crate::model::alerting::{Watch, unattended_refusal};
use crate::model::{Body, Kb, Lookup, RunbookIdx};
use std::sync::Arc;
use std::time::Duration;

/// The longest a round may take when neither the runbook nor the command line says.
const DEFAULT_TIMEOUT_CAP: Duration = Duration::from_secs(300);

/// One runbook's checks on a schedule.
#[derive(Debug, Clone)]
pub(crate) struct CheckPlan {
    pub runbook: String,
    /// Index into `kb.runbooks`.
    pub index: RunbookIdx,
    /// Read once: a round every few seconds should not parse the file again each time.
    pub body: Arc<Body>,
    pub steps: Vec<String>,
    pub every: Duration,
    pub timeout: Duration,
    pub fail_after: u32,
    pub recover_after: u32,
}

/// Command-line choices that override the front matter.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlanOptions {
    /// Runbook ids or aliases; empty means every runbook with `watch:`.
    pub ids: Vec<String>,
    pub every: Option<Duration>,
    pub timeout: Option<Duration>,
    pub fail_after: Option<u32>,
    pub recover_after: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PlanError {
    #[error("no runbook `{0}`")]
    Unknown(String),
    #[error("`{0}` names several runbooks")]
    Ambiguous(String),
    #[error("{id} has no `watch:` in its front matter; pass --every to watch it anyway")]
    NoSchedule { id: String },
    #[error("{id} cannot be watched: {reason}")]
    Unwatchable { id: String, reason: String },
    #[error("no runbook has `watch:` in its front matter")]
    NothingToWatch,
}

/// The checks to run, in KB order.
pub(crate) fn plan(kb: &Kb, options: &PlanOptions) -> Result<Vec<CheckPlan>, PlanError> {
    let indexes: Vec<RunbookIdx> = if options.ids.is_empty() {
        kb.iter().filter(|(_, rb)| rb.watch.is_some()).map(|(idx, _)| idx).collect()
    } else {
        options.ids.iter().map(|id| find(kb, id)).collect::<Result<_, _>>()?
    };
    if indexes.is_empty() {
        return Err(PlanError::NothingToWatch);
    }
    indexes.into_iter().map(|index| plan_one(kb, index, options)).collect()
}

fn find(kb: &Kb, id: &str) -> Result<RunbookIdx, PlanError> {
    match kb.lookup(id) {
        Lookup::Found(idx) => Ok(idx),
        Lookup::Ambiguous(_) => Err(PlanError::Ambiguous(id.into())),
        Lookup::NotFound { .. } => Err(PlanError::Unknown(id.into())),
    }
}

fn plan_one(kb: &Kb, index: RunbookIdx, options: &PlanOptions) -> Result<CheckPlan, PlanError> {
    let rb = &kb[index];
    let unwatchable = |reason: String| PlanError::Unwatchable { id: rb.id.clone(), reason };
    if rb.has_errors() {
        return Err(unwatchable(format!("it has errors (`runbook check {}`)", rb.path)));
    }
    let body = kb.body(index).map_err(|e| unwatchable(format!("cannot read {}: {e}", rb.path)))?;
    let watch = match (&rb.watch, options.every) {
        (Some(watch), _) => watch.clone(),
        (None, Some(every)) => Watch {
            every: crate::model::duration::Duration(every),
            steps: Vec::new(),
            timeout: None,
            fail_after: None,
            recover_after: None,
        },
        (None, None) => return Err(PlanError::NoSchedule { id: rb.id.clone() }),
    };
    if let Some(problem) = watch.problems(&body.steps).into_iter().next() {
        return Err(unwatchable(problem));
    }
    let steps = watch.step_ids(&body);
    // A step listed by id was checked above; one taken by default is read-only by construction.
    debug_assert!(steps.iter().all(|id| body.step(id).is_some_and(|s| unattended_refusal(s).is_none())));
    let every = options.every.unwrap_or(watch.every.as_std());
    let timeout = options
        .timeout
        .or(watch.timeout.map(|t| t.as_std()))
        .unwrap_or_else(|| every.min(DEFAULT_TIMEOUT_CAP))
        .max(Duration::from_secs(1));
    Ok(CheckPlan {
        runbook: rb.id.clone(),
        index,
        body,
        steps,
        every,
        timeout,
        fail_after: options.fail_after.or(watch.fail_after).unwrap_or(1).max(1),
        recover_after: options.recover_after.or(watch.recover_after).unwrap_or(1).max(1),
    })
}
