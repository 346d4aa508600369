//! A runbook in full as JSON: `runbook show --json` and the site's `/api/runbooks/<id>`.

use crate::model::runbook::{Body, RunbookIdx};
use crate::model::step::{Action, Step};
use crate::model::{Diagnostic, Kb};
use serde::Serialize;
use std::collections::BTreeMap;

/// The JSON form of a runbook (`runbook show --json` and the site's `/api/runbooks/<id>`).
#[derive(Serialize)]
pub(crate) struct RunbookView<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub path: &'a str,
    pub kind: &'static str,
    pub category: &'a str,
    pub tags: &'a [String],
    pub aliases: &'a [String],
    pub summary: &'a str,
    pub severity: &'static str,
    pub owner: Option<&'a str>,
    pub sha256: &'a str,
    pub vars: &'a BTreeMap<String, serde_json::Value>,
    pub secrets: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub alerts: &'a [String],
    /// Left out when no alert may run it (the default).
    #[serde(skip_serializing_if = "crate::model::alerting::OnAlert::is_none")]
    pub on_alert: crate::model::alerting::OnAlert,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch: Option<&'a crate::model::alerting::Watch>,
    /// Front-matter keys that are not runbook keys, as written (the site generator's).
    pub extra: &'a BTreeMap<String, serde_json::Value>,
    pub sections: Vec<SectionView<'a>>,
    pub steps: Vec<StepView<'a>>,
    pub diagnoses: Vec<DiagnosisView<'a>>,
    pub links: Vec<LinkView<'a>>,
    pub backlinks: Vec<BacklinkView<'a>>,
    pub diagnostics: &'a [Diagnostic],
}

#[derive(Serialize)]
pub(crate) struct SectionView<'a> {
    pub level: u8,
    pub heading: &'a str,
    pub anchor: &'a str,
    pub line: usize,
}

#[derive(Serialize)]
pub(crate) struct StepView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub kind: &'static str,
    pub line: usize,
    pub section: Option<&'a str>,
    pub severity: &'static str,
    pub timeout: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<String>,
    pub continue_on_error: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manual: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    pub checks: Vec<String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub needs: &'a [String],
}

/// A declared diagnosis (DESIGN §4), as `show --json` and the API give it.
#[derive(Serialize)]
pub(crate) struct DiagnosisView<'a> {
    pub id: &'a str,
    pub when: &'a str,
    pub cause: &'a str,
    pub fix: Vec<&'a str>,
    pub severity: &'static str,
    pub line: usize,
}

#[derive(Serialize)]
pub(crate) struct LinkView<'a> {
    pub dest: &'a str,
    pub line: usize,
    pub target: Option<&'a str>,
    pub anchor: Option<&'a str>,
}

#[derive(Serialize)]
pub(crate) struct BacklinkView<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub path: &'a str,
    pub line: usize,
}

impl<'a> RunbookView<'a> {
    pub(crate) fn new(kb: &'a Kb, idx: RunbookIdx, body: &'a Body) -> Self {
        let rb = &kb[idx];
        RunbookView {
            id: &rb.id,
            title: &rb.title,
            path: &rb.path,
            kind: if rb.is_document() { "document" } else { "runbook" },
            category: &rb.category,
            tags: &rb.tags,
            aliases: &rb.aliases,
            summary: &rb.summary,
            severity: rb.severity.as_str(),
            owner: rb.owner.as_deref(),
            sha256: &rb.sha256,
            vars: &rb.vars,
            secrets: &rb.secrets,
            alerts: &rb.alerts,
            on_alert: rb.on_alert,
            watch: rb.watch.as_ref(),
            extra: &rb.extra,
            sections: rb
                .headings
                .iter()
                .filter(|h| h.level <= 3)
                .map(|h| SectionView { level: h.level, heading: h.text, anchor: h.anchor, line: h.line })
                .collect(),
            steps: body.steps.iter().map(StepView::new).collect(),
            diagnoses: body
                .diagnoses
                .iter()
                .map(|d| DiagnosisView {
                    id: &d.id,
                    when: &d.when.source,
                    cause: &d.cause,
                    fix: d.fix.iter().map(|f| f.as_str()).collect(),
                    severity: d.severity.as_str(),
                    line: d.line,
                })
                .collect(),
            links: rb
                .links
                .iter()
                .map(|l| LinkView {
                    dest: &l.dest,
                    line: l.line,
                    target: l.target.as_ref().map(|t| kb[t.runbook].id.as_str()),
                    anchor: l.target.as_ref().and_then(|t| t.anchor.as_deref()),
                })
                .collect(),
            backlinks: kb
                .backlinks(idx)
                .iter()
                .map(|link| {
                    let from = &kb[link.from];
                    BacklinkView { id: &from.id, title: &from.title, path: &from.path, line: link.line }
                })
                .collect(),
            diagnostics: &rb.diagnostics,
        }
    }
}

impl<'a> StepView<'a> {
    pub(crate) fn new(step: &'a Step) -> Self {
        let (run, shell, manual, probe) = match &step.action {
            Action::Run(run) => {
                (Some(run.script.source.as_str()), (!run.shell.is_empty()).then(|| run.shell.join(" ")), None, None)
            }
            Action::Manual(text) => (None, None, Some(text.source.as_str()), None),
            Action::Probe(probe) => (None, None, None, Some(probe.subject())),
        };
        StepView {
            id: &step.id,
            name: &step.name.source,
            kind: step.kind().as_str(),
            line: step.line,
            section: step.section.as_deref(),
            severity: step.severity.as_str(),
            timeout: step.timeout.to_string(),
            retry: step.retry.map(|r| format!("{} attempts, {} apart", r.attempts, r.delay)),
            continue_on_error: step.continue_on_error,
            when: step.when.as_ref().map(|w| w.source.as_str()),
            confirm: step.confirm.as_ref().map(|c| c.source.as_str()),
            run,
            shell,
            manual,
            probe,
            checks: step.expectations(),
            needs: &step.needs,
        }
    }
}
