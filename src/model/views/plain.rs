//! A doc read as plain steps, as JSON: `runbook show ID --plain --json`.

use crate::model::Diagnostic;
use crate::model::plain::{BlockPlan, Counts, PlainStep, Plan, RequiredVar};
use crate::model::runbook::Runbook;
use serde::Serialize;

#[derive(Serialize)]
pub(crate) struct PlainView<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub path: &'a str,
    /// The command that runs these steps.
    pub run: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<&'a str>,
    pub counts: Counts,
    pub steps: &'a [PlainStep],
    pub blocks: &'a [BlockPlan],
    pub vars: &'a [RequiredVar],
    pub warnings: &'a [Diagnostic],
}

impl<'a> PlainView<'a> {
    pub(crate) fn new(rb: &'a Runbook, plan: &'a Plan, run: String, section: Option<&'a str>) -> Self {
        PlainView {
            id: &rb.id,
            title: &rb.title,
            path: &rb.path,
            run,
            section,
            counts: plan.counts(),
            steps: &plan.steps,
            blocks: &plan.blocks,
            vars: &plan.vars,
            warnings: &plan.warnings,
        }
    }
}
