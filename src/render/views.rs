//! View-models: what templates see. Plain serializable structs built from the model and the
//! archive, so templates never reach into internal types and every value they print is text that
//! the environment escapes.

use super::url::Urls;
use crate::archive::store::ArchivedRun;
use crate::model::Runbook;
use crate::model::quantity::HumanBytes;
use crate::model::step::{Action, Step};
use crate::record::{RunRecord, StepRecord};
use crate::util::text::duration;
use serde::Serialize;

/// The `site` global of every template.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SiteGlobals {
    pub title: String,
    pub base: String,
    /// `server` (the live server answers `/api/search`) or `static` (the browser searches a
    /// prebuilt index).
    pub search_mode: &'static str,
    pub nav_url: String,
    pub search_meta_url: Option<String>,
    /// The server's live-reload event stream, when it has one.
    pub reload_url: Option<String>,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TagLink {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct NameValue {
    pub name: String,
    pub value: String,
}

/// A run in one line: its verdict, when, and a link.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunBadge {
    pub verdict: &'static str,
    pub started: String,
    pub url: String,
    pub summary: String,
}

impl RunBadge {
    pub(crate) fn new(urls: &Urls, run: &ArchivedRun) -> RunBadge {
        match &run.record {
            Ok(record) => RunBadge {
                verdict: record.verdict.as_str(),
                started: when(&record.started_at),
                url: urls.run(&run.run_id),
                summary: step_summary(record),
            },
            Err(_) => RunBadge {
                verdict: "unreadable",
                started: run.run_id.clone(),
                url: urls.run(&run.run_id),
                summary: String::new(),
            },
        }
    }
}

/// The banner a runbook's page opens with when an alert ran it: "Diagnosed automatically for
/// ALERT at TIME".
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AutoDiagnosis {
    pub alert: String,
    pub at: String,
    pub verdict: &'static str,
    /// The most likely cause when the run named one, else the first finding.
    pub cause: Option<String>,
    pub summary: String,
    pub url: String,
}

impl AutoDiagnosis {
    /// The banner for `run`, when an alert started it.
    pub(crate) fn of(urls: &Urls, run: &ArchivedRun) -> Option<AutoDiagnosis> {
        let record = run.record.as_ref().ok()?;
        let trigger = record.trigger.as_ref().filter(|t| matches!(t.kind.as_str(), "alertmanager" | "grafana"))?;
        Some(AutoDiagnosis {
            alert: trigger.alert_name().unwrap_or("an alert").to_string(),
            at: when(&record.started_at),
            verdict: record.verdict.as_str(),
            cause: record.findings.first().map(|f| format!("{}: {}", f.step, f.message)),
            summary: step_summary(record),
            url: urls.run(&run.run_id),
        })
    }
}

/// A runbook in a list (index, tag pages).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunbookRow {
    pub id: String,
    pub url: String,
    pub title: String,
    pub summary: String,
    pub tags: Vec<TagLink>,
    pub document: bool,
    pub steps: usize,
    pub errors: usize,
    pub last_run: Option<RunBadge>,
}

impl RunbookRow {
    pub(crate) fn new(urls: &Urls, rb: &Runbook, last_run: Option<RunBadge>) -> RunbookRow {
        RunbookRow {
            id: rb.id.clone(),
            url: urls.runbook(&rb.id),
            title: rb.title.clone(),
            summary: rb.summary.clone(),
            tags: tag_links(urls, &rb.tags),
            document: rb.is_document(),
            steps: rb.step_fences,
            errors: rb.error_count(),
            last_run,
        }
    }
}

/// Runbook rows for a template, turned into template values one at a time as the template reads
/// them: a list of ten thousand rows never exists as template values all at once.
#[derive(Debug)]
pub(crate) struct Rows(pub Vec<RunbookRow>);

impl minijinja::value::Object for Rows {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Seq
    }

    fn get_value(self: &std::sync::Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        self.0.get(key.as_usize()?).map(|row| minijinja::Value::from(minijinja::value::Serde(row)))
    }

    fn enumerate(self: &std::sync::Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(self.0.len())
    }
}

impl Rows {
    pub(crate) fn value(rows: Vec<RunbookRow>) -> minijinja::Value {
        minijinja::Value::from_object(Rows(rows))
    }
}

pub(crate) fn tag_links(urls: &Urls, tags: &[String]) -> Vec<TagLink> {
    tags.iter().map(|t| TagLink { name: t.clone(), url: urls.tag(t) }).collect()
}

/// The head of a runbook page.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunbookHead {
    pub id: String,
    pub title: String,
    pub path: String,
    pub category: String,
    pub category_anchor: String,
    pub tags: Vec<TagLink>,
    pub aliases: Vec<String>,
    pub severity: &'static str,
    pub owner: Option<String>,
    pub vars: Vec<NameValue>,
    pub document: bool,
    pub steps: usize,
    /// Alert names it answers.
    pub alerts: Vec<String>,
    /// Whether an alert runs its read-only steps.
    pub on_alert: bool,
    /// `every 5m`, when `runbook watch` checks it.
    pub watch: Option<String>,
}

impl RunbookHead {
    pub(crate) fn new(urls: &Urls, rb: &Runbook) -> RunbookHead {
        RunbookHead {
            id: rb.id.clone(),
            title: rb.title.clone(),
            path: rb.path.clone(),
            category: rb.category.clone(),
            category_anchor: crate::model::slug::heading_anchor(&rb.category),
            tags: tag_links(urls, &rb.tags),
            aliases: rb.aliases.clone(),
            severity: rb.severity.as_str(),
            owner: rb.owner.clone(),
            vars: rb
                .vars
                .iter()
                .map(|(k, v)| NameValue { name: k.clone(), value: crate::util::text::value_text(v) })
                .collect(),
            document: rb.is_document(),
            steps: rb.step_fences,
            alerts: rb.alerts.clone(),
            on_alert: rb.on_alert == crate::model::alerting::OnAlert::Diagnose,
            watch: rb.watch.as_ref().map(|w| format!("every {}", w.every)),
        }
    }
}

/// A step as a card: what it does, its command, its checks in plain words.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StepCard {
    pub number: usize,
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub severity: &'static str,
    pub when: Option<String>,
    pub needs: Vec<String>,
    pub confirm: Option<String>,
    pub command: Option<String>,
    pub manual: Option<String>,
    pub probe: Option<String>,
    pub checks: Vec<String>,
    pub facts: Vec<String>,
    pub yaml: String,
    /// Set when the fence did not parse into a step.
    pub error: Option<String>,
}

impl StepCard {
    pub(crate) fn new(number: usize, step: &Step, yaml: &str) -> StepCard {
        let (command, manual, probe) = match &step.action {
            Action::Run(run) => (Some(run.script.source.trim_end().to_string()), None, None),
            Action::Manual(text) => (None, Some(text.source.trim_end().to_string()), None),
            Action::Probe(probe) => (None, None, Some(probe.subject())),
        };
        let mut facts = vec![format!("timeout {}", step.timeout)];
        if let Action::Run(run) = &step.action
            && !run.shell.is_empty()
        {
            facts.push(format!("shell {}", run.shell.join(" ")));
        }
        if let Some(retry) = step.retry {
            facts.push(format!("retries: {} attempts, {} apart", retry.attempts, retry.delay));
        }
        if step.continue_on_error {
            facts.push("continues on error".into());
        }
        StepCard {
            number,
            id: step.id.clone(),
            name: step.name.source.clone(),
            kind: step.kind().as_str(),
            severity: step.severity.as_str(),
            when: step.when.as_ref().map(|w| w.source.clone()),
            needs: step.needs.clone(),
            confirm: step.confirm.as_ref().map(|c| c.source.clone()),
            command,
            manual,
            probe,
            checks: step.expectations(),
            facts,
            yaml: yaml.trim_end().to_string(),
            error: None,
        }
    }

    /// A fence that did not parse: its YAML and a pointer to the problems list.
    pub(crate) fn broken(number: usize, line: usize, yaml: &str) -> StepCard {
        StepCard {
            number,
            id: format!("line-{line}"),
            name: format!("Step at line {line}"),
            kind: "invalid",
            severity: "critical",
            when: None,
            needs: Vec::new(),
            confirm: None,
            command: None,
            manual: None,
            probe: None,
            checks: Vec::new(),
            facts: Vec::new(),
            yaml: yaml.trim_end().to_string(),
            error: Some("see the problems listed at the top of the page".into()),
        }
    }
}

/// A run in the archive list.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunRow {
    pub run_id: String,
    pub url: String,
    pub runbook_id: String,
    pub runbook_url: Option<String>,
    pub title: String,
    pub verdict: &'static str,
    pub started: String,
    pub duration: String,
    pub summary: String,
    pub host: String,
    pub damaged: bool,
}

impl RunRow {
    pub(crate) fn new(urls: &Urls, run: &ArchivedRun, runbook_known: &dyn Fn(&str) -> bool) -> RunRow {
        match &run.record {
            Ok(r) => RunRow {
                run_id: run.run_id.clone(),
                url: urls.run(&run.run_id),
                runbook_id: r.runbook.id.clone(),
                runbook_url: runbook_known(&r.runbook.id).then(|| urls.runbook(&r.runbook.id)),
                title: r.runbook.title.clone(),
                verdict: r.verdict.as_str(),
                started: when(&r.started_at),
                duration: duration(r.duration_ms),
                summary: step_summary(r),
                host: r.host.name.clone(),
                damaged: false,
            },
            Err(_) => RunRow {
                run_id: run.run_id.clone(),
                url: urls.run(&run.run_id),
                runbook_id: run_runbook_id(&run.run_id).to_string(),
                runbook_url: None,
                title: run.run_id.clone(),
                verdict: "failed",
                started: run.run_id.clone(),
                duration: String::new(),
                summary: String::new(),
                host: String::new(),
                damaged: true,
            },
        }
    }
}

/// The runbook id part of a run id (`20260101T000000Z-cuda-304` → `cuda-304`).
pub(crate) fn run_runbook_id(run_id: &str) -> &str {
    run_id.split_once('-').map(|(_, id)| id).unwrap_or(run_id)
}

/// One run in full.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunView {
    pub run_id: String,
    pub damaged: Option<String>,
    pub title: String,
    pub runbook_id: String,
    pub runbook_url: Option<String>,
    pub verdict: &'static str,
    pub started: String,
    pub finished: Option<String>,
    pub duration: String,
    pub host: String,
    pub user: String,
    pub summary: String,
    pub vars: Vec<NameValue>,
    pub resumed_from: Option<RunLink>,
    /// What started the run when no person did, as label/value rows.
    pub trigger: Vec<NameValue>,
    pub findings: Vec<FindingView>,
    /// The diagnoses that matched; the first is the most likely cause (DESIGN §4).
    pub diagnoses: Vec<DiagnosisView>,
    /// Whether the runbook declares diagnoses ("no known cause matched" only then).
    pub declares_diagnoses: bool,
    pub steps: Vec<StepRunView>,
    /// A fleet run: its hosts' outcomes folded, and how they were chosen.
    pub fleet: Option<FleetView>,
}

/// The fleet part of a run page (DESIGN §17): one section per host, with the host's own run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FleetView {
    pub summary: String,
    pub selection: String,
    pub hosts: Vec<HostView>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct HostView {
    pub name: String,
    /// `passed`, `failed`, `unreachable`, `interrupted`, `running`.
    pub outcome: &'static str,
    pub reason: Option<String>,
    pub target: String,
    pub duration: String,
    /// Carried over from the run this one resumed.
    pub resumed: bool,
    /// The host's most likely cause, when its run named one.
    pub diagnosis: Option<String>,
    /// Its own run's steps (none when it never ran or its record cannot be read).
    pub steps: Vec<StepRunView>,
}

impl FleetView {
    fn new(run: &ArchivedRun, fleet: &crate::record::Fleet) -> FleetView {
        let hosts = run
            .host_runs()
            .into_iter()
            .map(|(host, record)| HostView {
                name: host.name.clone(),
                outcome: host.outcome.as_str(),
                reason: host.reason.clone(),
                target: host.target.describe(),
                duration: duration(host.duration_ms),
                resumed: host.resumed,
                diagnosis: record.as_ref().and_then(|r| r.diagnoses.first()).map(|d| d.cause.clone()),
                steps: record.iter().flat_map(|r| &r.steps).map(StepRunView::new).collect(),
            })
            .collect();
        FleetView { summary: fleet.summary.clone(), selection: fleet.selection.clone(), hosts }
    }
}

/// A matched diagnosis on the run page: the cause, its fix as links and commands, its evidence.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DiagnosisView {
    pub id: String,
    pub cause: String,
    pub severity: String,
    pub most_likely: bool,
    /// In a fleet run: the hosts where it matched, folded.
    pub hosts: Option<String>,
    pub fix: Vec<FixView>,
    pub evidence: Vec<FindingView>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct FixView {
    /// The step id or the linked runbook.
    pub label: String,
    pub url: Option<String>,
    pub command: String,
}

impl DiagnosisView {
    fn new(urls: &Urls, record: &crate::record::RunRecord, runbook_known: &dyn Fn(&str) -> bool) -> Vec<DiagnosisView> {
        let finding = |f: &crate::record::Finding| FindingView {
            step: f.step.clone(),
            number: record.steps.iter().position(|s| s.id == f.step).map(|i| i + 1).unwrap_or(0),
            severity: f.severity.to_string(),
            outcome: f.outcome.as_str(),
            message: f.message.clone(),
        };
        record
            .diagnoses
            .iter()
            .enumerate()
            .map(|(i, d)| DiagnosisView {
                id: d.id.clone(),
                cause: d.cause.clone(),
                severity: d.severity.to_string(),
                most_likely: i == 0,
                hosts: d.hosts.clone(),
                fix: d
                    .fix
                    .iter()
                    .map(|f| {
                        let (label, url) = match (&f.step, &f.runbook) {
                            (Some(step), _) => (step.clone(), None),
                            (None, Some(other)) => {
                                let url = runbook_known(other).then(|| {
                                    let base = urls.runbook(other);
                                    match &f.anchor {
                                        Some(anchor) => format!("{base}#{anchor}"),
                                        None => base,
                                    }
                                });
                                (other.clone(), url)
                            }
                            (None, None) => (f.link.clone().unwrap_or_default(), None),
                        };
                        FixView { label, url, command: f.command(&record.runbook.id) }
                    })
                    .collect(),
                evidence: d.evidence.iter().map(finding).collect(),
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunLink {
    pub id: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct FindingView {
    pub step: String,
    pub number: usize,
    pub severity: String,
    pub outcome: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct StepRunView {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub outcome: &'static str,
    pub facts: Vec<String>,
    pub reason: Option<String>,
    pub confirmed_by: Option<String>,
    pub command: Option<String>,
    pub checks: Vec<CheckView>,
    pub captures: Vec<NameValue>,
    pub outputs: Vec<OutputView>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct CheckView {
    pub passed: bool,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct OutputView {
    pub label: &'static str,
    pub note: Option<String>,
    pub text: String,
}

impl RunView {
    pub(crate) fn new(urls: &Urls, run: &ArchivedRun, runbook_known: &dyn Fn(&str) -> bool) -> RunView {
        let record = match &run.record {
            Ok(record) => record,
            Err(err) => return RunView::damaged(run, &err.cause()),
        };
        RunView {
            run_id: run.run_id.clone(),
            damaged: None,
            title: record.runbook.title.clone(),
            runbook_id: record.runbook.id.clone(),
            runbook_url: runbook_known(&record.runbook.id).then(|| urls.runbook(&record.runbook.id)),
            verdict: record.verdict.as_str(),
            started: when(&record.started_at),
            finished: record.finished_at.as_deref().map(when),
            duration: duration(record.duration_ms),
            host: format!("{} ({} {})", record.host.name, record.host.os, record.host.arch),
            user: record.user.clone(),
            summary: step_summary(record),
            vars: record
                .vars
                .iter()
                .map(|(k, v)| NameValue { name: k.clone(), value: crate::util::text::value_text(v) })
                .collect(),
            resumed_from: record.options.resumed_from.as_ref().map(|id| RunLink { id: id.clone(), url: urls.run(id) }),
            trigger: record
                .trigger
                .iter()
                .flat_map(|t| t.facts())
                .map(|(name, value)| NameValue { name: name.to_string(), value })
                .collect(),
            findings: record
                .findings
                .iter()
                .map(|f| FindingView {
                    step: f.step.clone(),
                    number: record.steps.iter().position(|s| s.id == f.step).map(|i| i + 1).unwrap_or(0),
                    severity: f.severity.to_string(),
                    outcome: f.outcome.as_str(),
                    message: f.message.clone(),
                })
                .collect(),
            diagnoses: DiagnosisView::new(urls, record, runbook_known),
            declares_diagnoses: record.declares_diagnoses,
            steps: record.steps.iter().map(StepRunView::new).collect(),
            fleet: record.fleet.as_ref().map(|fleet| FleetView::new(run, fleet)),
        }
    }

    fn damaged(run: &ArchivedRun, reason: &str) -> RunView {
        RunView {
            run_id: run.run_id.clone(),
            damaged: Some(format!("run.json is damaged or unreadable ({reason})")),
            title: run.run_id.clone(),
            runbook_id: run_runbook_id(&run.run_id).to_string(),
            runbook_url: None,
            verdict: "failed",
            started: String::new(),
            finished: None,
            duration: String::new(),
            host: String::new(),
            user: String::new(),
            summary: String::new(),
            vars: Vec::new(),
            resumed_from: None,
            trigger: Vec::new(),
            findings: Vec::new(),
            diagnoses: Vec::new(),
            declares_diagnoses: true,
            steps: Vec::new(),
            fleet: None,
        }
    }
}

impl StepRunView {
    fn new(step: &StepRecord) -> StepRunView {
        let mut facts = vec![step.severity.to_string()];
        facts.extend(step.run_facts());
        let mut outputs = Vec::new();
        for (label, tail, stream) in
            [("stdout", &step.stdout_tail, &step.stdout), ("stderr", &step.stderr_tail, &step.stderr)]
        {
            if tail.trim().is_empty() {
                continue;
            }
            let note = match (&stream.file, stream.truncated) {
                (Some(file), true) => Some(format!(
                    "last {} of {}; all of it in {file}",
                    HumanBytes::of(tail.len() as u64),
                    HumanBytes::of(stream.bytes)
                )),
                (None, true) => {
                    Some(format!("last {} of {}", HumanBytes::of(tail.len() as u64), HumanBytes::of(stream.bytes)))
                }
                _ => None,
            };
            outputs.push(OutputView { label, note, text: tail.trim_end_matches('\n').to_string() });
        }
        if let Some(expected) =
            step.expected_output.as_ref().filter(|_| step.outcome != crate::record::Outcome::Skipped)
        {
            let text = expected.trim_end_matches('\n').to_string();
            outputs.push(OutputView { label: "expected (from the doc)", note: None, text });
        }
        StepRunView {
            id: step.id.clone(),
            name: step.name.clone(),
            kind: step.kind.to_string(),
            outcome: step.outcome.as_str(),
            facts,
            reason: step.reason.clone(),
            confirmed_by: step.confirmed_by.clone(),
            command: step.command.clone(),
            checks: step.checks.iter().map(|c| CheckView { passed: c.passed, message: c.message.clone() }).collect(),
            captures: step.captures.iter().map(|(k, v)| NameValue { name: k.clone(), value: v.clone() }).collect(),
            outputs,
        }
    }
}

/// `3 passed, 1 failed`.
pub(crate) fn step_summary(record: &RunRecord) -> String {
    record.counts().iter().map(|(o, n)| format!("{n} {}", o.as_str().replace('_', " "))).collect::<Vec<_>>().join(", ")
}

/// An RFC 3339 timestamp for people: `2026-01-01 12:00:05 UTC`.
pub(crate) fn when(rfc3339: &str) -> String {
    match rfc3339.split_once('T') {
        Some((date, time)) => {
            let time = time.trim_end_matches('Z');
            let time = time.split('.').next().unwrap_or(time);
            format!("{date} {time} UTC")
        }
        None => rfc3339.to_string(),
    }
}
