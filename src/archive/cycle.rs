//! Cycle reports (DESIGN §6): the runs of a period turned into the engineering record — summary,
//! blockers with their evidence, what is healthy, readiness, what changed, metrics, next actions.
//!
//! A report quotes its evidence: it stays readable after the runs it cites are pruned.

use super::store::ArchivedRun;
use crate::model::Kb;
use crate::model::step::Action;
use crate::record::fleet::{fold_results, step_result};
use crate::record::{FleetHost, Outcome, RunRecord, Severity, StepKind, StepRecord, Verdict};
use crate::util::names::named_enum;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub(crate) const SCHEMA: u32 = 1;
/// Characters of output quoted as evidence for a blocker.
const EVIDENCE_CHARS: usize = 400;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CycleReport {
    pub schema: u32,
    /// File name without extension: `<date>-<slug>`.
    pub name: String,
    pub title: String,
    pub generated_at: String,
    pub period: Period,
    pub filters: Filters,
    pub summary: Summary,
    pub blockers: Vec<Blocker>,
    pub healthy: Vec<Healthy>,
    pub readiness: Readiness,
    pub changes: Changes,
    pub metrics: CycleMetrics,
    pub next_actions: Vec<NextAction>,
    /// The fleet runs of the period (DESIGN §17), each with its hosts' outcomes folded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fleets: Vec<FleetRun>,
    /// Archives that could not be read in full.
    pub warnings: Vec<String>,
}

/// A fleet run of the period: which hosts ended how.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FleetRun {
    pub runbook: String,
    pub run: CitedRun,
    pub verdict: Verdict,
    /// How its hosts were chosen: `--on gpu[01-08]`.
    pub selection: String,
    /// The hosts' outcomes folded like ClusterShell's `-b`: `gpu[01-06,08] passed · gpu07 failed: …`.
    pub summary: String,
    /// Hosts per outcome: `{"passed": 7, "failed": 1}`.
    pub outcomes: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Period {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Filters {
    pub tags: Vec<String>,
    pub runbooks: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub runs: usize,
    pub runbooks: usize,
    pub passed: usize,
    pub warning: usize,
    pub failed: usize,
    pub interrupted: usize,
    /// Killed before they finished (`run.json` still says running).
    pub unfinished: usize,
    pub unreadable: usize,
    /// Passed or warning, over all runs, 0–1.
    pub pass_rate: f64,
    pub time_spent_ms: u64,
    pub first_run: Option<String>,
    pub last_run: Option<String>,
}

/// A link to a run, with when it started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CitedRun {
    pub run_id: String,
    pub started_at: String,
    /// `run.md` relative to the archives folder.
    pub path: String,
}

/// A critical step that did not pass, grouped over the runs where it did not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Blocker {
    pub runbook: String,
    pub runbook_title: String,
    pub step: String,
    pub step_name: String,
    pub outcome: Outcome,
    /// How many runs of the period it blocked.
    pub occurrences: usize,
    /// Whether the runbook's latest run still has it.
    pub open: bool,
    pub message: String,
    /// A short excerpt of the output, quoted when the report was written.
    pub evidence: String,
    pub runs: Vec<CitedRun>,
    /// Set when the blocker is a diagnosis (DESIGN §6): its id; `step_name` is then its cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<String>,
    /// A diagnosis' evidence: the failed checks that point to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supporting: Vec<crate::record::Finding>,
    /// A diagnosis' fix, as commands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix: Vec<String>,
    /// In a fleet run: the hosts it blocked, folded (`gpu[03,07]`), in the most recent run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Healthy {
    pub runbook: String,
    pub title: String,
    pub latest_run: CitedRun,
    /// What was checked and held, in the latest run.
    pub checks: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ready,
    Degraded,
    Blocked,
}

impl Status {
    pub fn mark(self) -> &'static str {
        match self {
            Status::Ready => "✅ ready",
            Status::Degraded => "⚠️ degraded",
            Status::Blocked => "❌ blocked",
        }
    }

    fn of(verdict: Verdict) -> Status {
        match verdict {
            Verdict::Passed => Status::Ready,
            Verdict::Warning => Status::Degraded,
            Verdict::Failed | Verdict::Interrupted | Verdict::Running => Status::Blocked,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Readiness {
    pub runbooks: Vec<RunbookReadiness>,
    pub categories: Vec<CategoryReadiness>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunbookReadiness {
    pub runbook: String,
    pub title: String,
    pub category: String,
    pub status: Status,
    pub verdict: Verdict,
    pub latest_run: CitedRun,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CategoryReadiness {
    pub category: String,
    /// The worst status among its runbooks.
    pub status: Status,
    pub ready: usize,
    pub degraded: usize,
    pub blocked: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Changes {
    pub source: ChangeSource,
    pub files: Vec<Change>,
}

named_enum! {
    /// Where the list of changed runbooks comes from.
    #[derive(Default)]
    pub enum ChangeSource {
        /// The KB's git history.
        #[default]
        Git = "git",
        /// File modification times (the KB is not a repository).
        Mtime = "mtime",
        /// The built-in KB, which does not change.
        BuiltIn = "built-in",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub path: String,
    pub runbook: Option<String>,
    pub when: String,
    pub author: Option<String>,
    pub subject: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CycleMetrics {
    /// From the first run of the period to the end of the first step that failed.
    pub time_to_first_finding_ms: Option<u64>,
    pub mean_run_duration_ms: Option<u64>,
    /// Steps that both passed and failed in the period.
    pub flaky_steps: Vec<Flaky>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flaky {
    pub runbook: String,
    pub step: String,
    pub passed: usize,
    pub failed: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NextAction {
    pub runbook: String,
    pub blocker: String,
    /// Commands that run the runbook's remediation steps (they ask first).
    pub fix: Vec<String>,
    /// The command that checks again.
    pub verify: String,
    pub note: Option<String>,
}

/// What to report on.
pub(crate) struct Request<'a> {
    pub title: String,
    pub name: String,
    pub from: jiff::Timestamp,
    pub to: jiff::Timestamp,
    pub tags: Vec<String>,
    pub runbooks: Vec<String>,
    pub generated_at: jiff::Timestamp,
    pub archives: &'a Path,
}

/// A run of the period, readable or not.
enum Run<'a> {
    Read(&'a RunRecord, &'a ArchivedRun),
    Unreadable,
}

fn link(run: &RunRecord, archived: &ArchivedRun, archives: &Path) -> CitedRun {
    let path = archived.markdown_path();
    CitedRun {
        run_id: run.run_id.clone(),
        started_at: run.started_at.clone(),
        path: path.strip_prefix(archives).unwrap_or(&path).display().to_string(),
    }
}

fn timestamp(text: &str) -> Option<jiff::Timestamp> {
    text.parse().ok()
}

/// Builds the report from the archived runs (newest first, as `store::list` gives them).
pub(crate) fn build(kb: &Kb, runs: &[ArchivedRun], request: &Request) -> CycleReport {
    let wanted = |id: &str| -> bool {
        let by_id = request.runbooks.is_empty() || request.runbooks.iter().any(|r| r.eq_ignore_ascii_case(id));
        let by_tag = request.tags.is_empty()
            || kb
                .by_id(id)
                .map(|idx| &kb[idx])
                .is_some_and(|rb| rb.tags.iter().any(|t| request.tags.iter().any(|w| w.eq_ignore_ascii_case(t))));
        by_id && by_tag
    };
    let in_period = |started: &str| timestamp(started).is_some_and(|t| t >= request.from && t <= request.to);
    let mut warnings = Vec::new();
    let mut selected: Vec<Run> = Vec::new();
    for archived in runs {
        match &archived.record {
            Ok(record) if in_period(&record.started_at) && wanted(&record.runbook.id) => {
                if record.verdict == Verdict::Running {
                    warnings.push(format!(
                        "run {} never finished (killed?): counted as interrupted, with the {} steps it recorded",
                        record.run_id,
                        record.steps.len()
                    ));
                }
                selected.push(Run::Read(record, archived));
            }
            Ok(_) => {}
            Err(problem) => {
                // A damaged record has no trustworthy time: its folder name (a UTC timestamp) does.
                let started = archived.started_from_name();
                if started.is_some_and(|t| t >= request.from && t <= request.to) {
                    warnings.push(format!("run {} is unreadable and counted as such: {problem}", archived.run_id));
                    selected.push(Run::Unreadable);
                }
            }
        }
    }
    // Oldest first from here on.
    selected.reverse();
    let records: Vec<(&RunRecord, &ArchivedRun)> = selected
        .iter()
        .filter_map(|r| match r {
            Run::Read(record, archived) => Some((*record, *archived)),
            Run::Unreadable => None,
        })
        .collect();
    let unreadable = selected.len() - records.len();

    let summary = summarise(&records, unreadable);
    let latest = latest_per_runbook(&records);
    let blockers = blockers(&records, &latest, request.archives, kb);
    let readiness = readiness(kb, &latest, request.archives);
    let healthy = healthy(&latest, request.archives);
    let metrics = metrics(&records);
    let next_actions = next_actions(kb, &blockers);
    let changes = changes(kb, request);
    let fleets = fleets(&records, request.archives);
    CycleReport {
        schema: SCHEMA,
        name: request.name.clone(),
        title: request.title.clone(),
        generated_at: request.generated_at.to_string(),
        period: Period { from: request.from.to_string(), to: request.to.to_string() },
        filters: Filters { tags: request.tags.clone(), runbooks: request.runbooks.clone() },
        summary,
        blockers,
        healthy,
        readiness,
        changes,
        metrics,
        next_actions,
        fleets,
        warnings,
    }
}

fn summarise(records: &[(&RunRecord, &ArchivedRun)], unreadable: usize) -> Summary {
    let count = |v: Verdict| records.iter().filter(|(r, _)| r.verdict == v).count();
    let runs = records.len() + unreadable;
    let passed = count(Verdict::Passed);
    let warning = count(Verdict::Warning);
    let runbooks: BTreeSet<&str> = records.iter().map(|(r, _)| r.runbook.id.as_str()).collect();
    Summary {
        runs,
        runbooks: runbooks.len(),
        passed,
        warning,
        failed: count(Verdict::Failed),
        interrupted: count(Verdict::Interrupted),
        unfinished: count(Verdict::Running),
        unreadable,
        pass_rate: if runs == 0 { 0.0 } else { (passed + warning) as f64 / runs as f64 },
        time_spent_ms: records.iter().map(|(r, _)| r.duration_ms).sum(),
        first_run: records.first().map(|(r, _)| r.started_at.clone()),
        last_run: records.last().map(|(r, _)| r.started_at.clone()),
    }
}

/// The latest run of each runbook in the period.
fn latest_per_runbook<'a>(
    records: &[(&'a RunRecord, &'a ArchivedRun)],
) -> BTreeMap<String, (&'a RunRecord, &'a ArchivedRun)> {
    let mut latest = BTreeMap::new();
    for (record, archived) in records {
        latest.insert(record.runbook.id.clone(), (*record, *archived));
    }
    latest
}

/// The failed check (or reason) and the last lines of output: what someone needs to see.
fn evidence(step: &StepRecord) -> String {
    let output = if step.stderr_tail.trim().is_empty() { &step.stdout_tail } else { &step.stderr_tail };
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join("\n");
    let text: String = tail.chars().rev().take(EVIDENCE_CHARS).collect::<Vec<_>>().into_iter().rev().collect();
    text
}

fn blockers(
    records: &[(&RunRecord, &ArchivedRun)],
    latest: &BTreeMap<String, (&RunRecord, &ArchivedRun)>,
    archives: &Path,
    kb: &Kb,
) -> Vec<Blocker> {
    let mut grouped: BTreeMap<(String, String), Blocker> = BTreeMap::new();
    for (record, archived) in records {
        let title = || {
            kb.by_id(&record.runbook.id)
                .map(|idx| kb[idx].title.clone())
                .unwrap_or_else(|| record.runbook.title.clone())
        };
        // A fleet run's steps are folded over its hosts: the hosts' own runs say where and why.
        let hosts = if record.fleet.is_some() { Some(archived.host_runs()) } else { None };
        // A diagnosed run has one blocker: its most likely cause, the failed checks its evidence.
        if let Some(diagnosis) = record.diagnoses.first() {
            let key = (record.runbook.id.clone(), format!("diagnosis:{}", diagnosis.id));
            let entry = grouped.entry(key).or_insert_with(|| empty_blocker(record, title(), ""));
            diagnosed(entry, record, diagnosis);
            if let Some(hosts) = &hosts {
                entry.hosts = diagnosis.hosts.clone();
                entry.evidence = on_hosts(hosts, &entry.step).evidence;
            }
            entry.runs.push(link(record, archived, archives));
            continue;
        }
        for step in record.steps.iter().filter(|s| s.outcome.is_failure() && s.severity == Severity::Critical) {
            let key = (record.runbook.id.clone(), step.id.clone());
            let entry = grouped.entry(key).or_insert_with(|| empty_blocker(record, title(), &step.id));
            entry.occurrences += 1;
            // The most recent occurrence speaks for the group.
            entry.step_name = step.name.clone();
            entry.outcome = step.outcome;
            entry.message = step.why().unwrap_or_else(|| step.outcome.as_str().to_string());
            entry.evidence = evidence(step);
            if let Some(hosts) = &hosts {
                let failed = on_hosts(hosts, &step.id);
                entry.hosts = Some(failed.hosts);
                entry.message = failed.results;
                entry.evidence = failed.evidence;
            }
            entry.runs.push(link(record, archived, archives));
        }
    }
    let mut out: Vec<Blocker> = grouped.into_values().collect();
    for blocker in &mut out {
        blocker.open = latest.get(&blocker.runbook).is_some_and(|(record, _)| match &blocker.diagnosis {
            Some(id) => record.diagnoses.first().is_some_and(|d| &d.id == id),
            None => {
                record.diagnoses.is_empty()
                    && record.steps.iter().any(|s| s.id == blocker.step && s.outcome.is_failure())
            }
        });
    }
    // Open blockers first, then the most frequent.
    out.sort_by(|a, b| b.open.cmp(&a.open).then(b.occurrences.cmp(&a.occurrences)).then(a.runbook.cmp(&b.runbook)));
    out
}

/// Where a step of a fleet run did not pass: the hosts folded, their results folded, and the
/// first such host's output as evidence.
struct FailedOnHosts {
    hosts: String,
    results: String,
    evidence: String,
}

fn on_hosts(hosts: &[(&FleetHost, Option<RunRecord>)], step_id: &str) -> FailedOnHosts {
    let failed: Vec<(&str, &StepRecord)> = hosts
        .iter()
        .filter_map(|(host, record)| {
            let step = record.as_ref()?.steps.iter().find(|s| s.id == step_id && s.outcome.is_failure())?;
            Some((host.name.as_str(), step))
        })
        .collect();
    let results = fold_results(failed.iter().map(|(host, step)| {
        let (rank, text) = step_result(step);
        (*host, rank, text)
    }));
    let evidence = failed
        .iter()
        .find(|(_, step)| !evidence(step).is_empty())
        .map(|(host, step)| format!("{host}:\n{}", evidence(step)))
        .unwrap_or_default();
    FailedOnHosts { hosts: crate::model::hosts::fold(failed.iter().map(|(h, _)| *h)), results, evidence }
}

/// The fleet runs of the period, oldest first, each with its hosts' outcomes.
fn fleets(records: &[(&RunRecord, &ArchivedRun)], archives: &Path) -> Vec<FleetRun> {
    records
        .iter()
        .filter_map(|(record, archived)| {
            let fleet = record.fleet.as_ref()?;
            Some(FleetRun {
                runbook: record.runbook.id.clone(),
                run: link(record, archived, archives),
                verdict: record.verdict,
                selection: fleet.selection.clone(),
                summary: fleet.summary.clone(),
                outcomes: fleet.outcome_counts().into_iter().map(|(o, n)| (o.to_string(), n)).collect(),
            })
        })
        .collect()
}

fn empty_blocker(record: &RunRecord, runbook_title: String, step: &str) -> Blocker {
    Blocker {
        runbook: record.runbook.id.clone(),
        runbook_title,
        step: step.to_string(),
        step_name: String::new(),
        outcome: Outcome::Failed,
        occurrences: 0,
        open: false,
        message: String::new(),
        evidence: String::new(),
        runs: Vec::new(),
        diagnosis: None,
        supporting: Vec::new(),
        fix: Vec::new(),
        hosts: None,
    }
}

/// Fills a blocker from a run's most likely cause (the most recent run speaks for the group).
fn diagnosed(entry: &mut Blocker, record: &RunRecord, diagnosis: &crate::record::DiagnosisRecord) {
    entry.occurrences += 1;
    entry.diagnosis = Some(diagnosis.id.clone());
    entry.step = diagnosis.evidence.first().map(|f| f.step.clone()).unwrap_or_else(|| diagnosis.id.clone());
    entry.step_name = diagnosis.cause.clone();
    entry.message = diagnosis.cause.clone();
    entry.outcome = diagnosis.evidence.first().map(|f| f.outcome).unwrap_or(Outcome::Failed);
    entry.supporting = diagnosis.evidence.clone();
    entry.fix = diagnosis.fix.iter().map(|f| f.command(&record.runbook.id)).collect();
    entry.evidence = diagnosis
        .evidence
        .first()
        .and_then(|f| record.steps.iter().find(|s| s.id == f.step))
        .map(evidence)
        .unwrap_or_default();
}

fn readiness(kb: &Kb, latest: &BTreeMap<String, (&RunRecord, &ArchivedRun)>, archives: &Path) -> Readiness {
    let runbooks: Vec<RunbookReadiness> = latest
        .values()
        .map(|(record, archived)| {
            let runbook = kb.by_id(&record.runbook.id).map(|idx| &kb[idx]);
            RunbookReadiness {
                runbook: record.runbook.id.clone(),
                title: runbook.map(|rb| rb.title.clone()).unwrap_or_else(|| record.runbook.title.clone()),
                category: runbook.map(|rb| rb.category.clone()).unwrap_or_else(|| "(removed)".into()),
                status: Status::of(record.verdict),
                verdict: record.verdict,
                latest_run: link(record, archived, archives),
            }
        })
        .collect();
    let mut categories: BTreeMap<String, CategoryReadiness> = BTreeMap::new();
    for item in &runbooks {
        let entry = categories.entry(item.category.clone()).or_insert(CategoryReadiness {
            category: item.category.clone(),
            status: Status::Ready,
            ready: 0,
            degraded: 0,
            blocked: 0,
        });
        entry.status = entry.status.max(item.status);
        match item.status {
            Status::Ready => entry.ready += 1,
            Status::Degraded => entry.degraded += 1,
            Status::Blocked => entry.blocked += 1,
        }
    }
    Readiness { runbooks, categories: categories.into_values().collect() }
}

fn healthy(latest: &BTreeMap<String, (&RunRecord, &ArchivedRun)>, archives: &Path) -> Vec<Healthy> {
    latest
        .values()
        .filter_map(|(record, archived)| {
            // What held in the latest run — all of it for a passing runbook, the passing probes
            // of a failing one (the hardware that was fine while something else was not).
            let checks: Vec<String> = record
                .steps
                .iter()
                .filter(|s| {
                    s.outcome == Outcome::Passed && (record.verdict == Verdict::Passed || s.kind != StepKind::Run)
                })
                .flat_map(|s| s.checks.iter().filter(|c| c.passed).map(move |c| format!("{}: {}", s.id, c.message)))
                .take(12)
                .collect();
            (!checks.is_empty() || record.verdict == Verdict::Passed).then(|| Healthy {
                runbook: record.runbook.id.clone(),
                title: record.runbook.title.clone(),
                latest_run: link(record, archived, archives),
                checks,
            })
        })
        .collect()
}

fn metrics(records: &[(&RunRecord, &ArchivedRun)]) -> CycleMetrics {
    let first_start = records.first().and_then(|(r, _)| timestamp(&r.started_at));
    let first_finding = records
        .iter()
        .flat_map(|(r, _)| r.steps.iter().filter(|s| s.outcome.is_failure()))
        .filter_map(|s| s.finished_at.as_deref().and_then(timestamp))
        .min();
    let time_to_first_finding_ms = match (first_start, first_finding) {
        (Some(start), Some(finding)) => {
            let span = finding.duration_since(start);
            u64::try_from(span.as_millis()).ok()
        }
        _ => None,
    };
    let finished: Vec<u64> =
        records.iter().filter(|(r, _)| r.finished_at.is_some()).map(|(r, _)| r.duration_ms).collect();
    let mut outcomes: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for (record, _) in records {
        for step in &record.steps {
            let entry = outcomes.entry((record.runbook.id.clone(), step.id.clone())).or_default();
            match step.outcome {
                Outcome::Passed => entry.0 += 1,
                outcome if outcome.is_failure() => entry.1 += 1,
                _ => {}
            }
        }
    }
    let flaky_steps = outcomes
        .into_iter()
        .filter(|(_, (passed, failed))| *passed > 0 && *failed > 0)
        .map(|((runbook, step), (passed, failed))| Flaky { runbook, step, passed, failed })
        .collect();
    CycleMetrics {
        time_to_first_finding_ms,
        mean_run_duration_ms: (!finished.is_empty()).then(|| finished.iter().sum::<u64>() / finished.len() as u64),
        flaky_steps,
    }
}

/// The steps of a runbook that repair something: they ask before they run.
fn remediations<'a>(steps: &'a [crate::model::Step], blocker: &str) -> Vec<&'a crate::model::Step> {
    let repairing: Vec<&crate::model::Step> =
        steps.iter().filter(|s| s.confirm.is_some() || matches!(s.action, Action::Manual(_))).collect();
    // Those whose `when` reads the blocking step first: they were written for exactly this.
    let (targeted, others): (Vec<&crate::model::Step>, Vec<&crate::model::Step>) =
        repairing.into_iter().partition(|s| {
            s.when.as_ref().is_some_and(|w| w.references.iter().any(|r| r.starts_with(&format!("steps.{blocker}"))))
        });
    if targeted.is_empty() { others } else { targeted }
}

fn next_actions(kb: &Kb, blockers: &[Blocker]) -> Vec<NextAction> {
    blockers
        .iter()
        .filter(|b| b.open)
        .map(|blocker| {
            let verify = format!("runbook exec {}", blocker.runbook);
            // Only the matched diagnosis' fix: never a repair that does not apply.
            if let Some(id) = &blocker.diagnosis {
                let note = blocker.fix.is_empty().then(|| format!("diagnosis `{id}` names no fix: follow its prose"));
                return NextAction {
                    runbook: blocker.runbook.clone(),
                    blocker: id.clone(),
                    fix: blocker.fix.clone(),
                    verify,
                    note,
                };
            }
            let found = kb.by_id(&blocker.runbook);
            let body = found.and_then(|idx| kb.body(idx).ok());
            let (fix, note) = match (found.map(|idx| &kb[idx]), body) {
                (Some(runbook), Some(body)) => {
                    let steps = remediations(&body.steps, &blocker.step);
                    let fix: Vec<String> = steps
                        .iter()
                        .take(3)
                        .map(|s| format!("runbook exec {} --from {}", blocker.runbook, s.id))
                        .collect();
                    let note = fix.is_empty().then(|| {
                        format!("{} has no remediation steps: follow its prose ({})", blocker.runbook, runbook.path)
                    });
                    (fix, note)
                }
                _ => (Vec::new(), Some(format!("runbook {} is no longer in the knowledge base", blocker.runbook))),
            };
            NextAction { runbook: blocker.runbook.clone(), blocker: blocker.step.clone(), fix, verify, note }
        })
        .collect()
}

/// Runbook files changed in the period: from git when the KB is a repository, else mtimes.
fn changes(kb: &Kb, request: &Request) -> Changes {
    let Some(root) = kb.source.root() else {
        return Changes { source: ChangeSource::BuiltIn, files: Vec::new() };
    };
    let runbook_of = |path: &str| kb.runbooks.iter().find(|rb| rb.path == path).map(|rb| rb.id.clone());
    if let Some(files) = git_changes(root, request) {
        let files = files
            .into_iter()
            .map(|(path, when, author, subject)| Change {
                runbook: runbook_of(&path),
                path,
                when,
                author: Some(author),
                subject: Some(subject),
            })
            .collect();
        return Changes { source: ChangeSource::Git, files };
    }
    let files = kb
        .runbooks
        .iter()
        .filter_map(|rb| {
            let modified = std::fs::metadata(rb.file.as_ref()?).ok()?.modified().ok()?;
            let when = jiff::Timestamp::try_from(modified).ok()?;
            (when >= request.from && when <= request.to).then(|| Change {
                path: rb.path.clone(),
                runbook: Some(rb.id.clone()),
                when: when.to_string(),
                author: None,
                subject: None,
            })
        })
        .collect();
    Changes { source: ChangeSource::Mtime, files }
}

/// `(path, when, author, subject)` of each Markdown file a commit of the period touched, newest
/// first, one entry per file; `None` when the KB is not in a git repository.
fn git_changes(root: &Path, request: &Request) -> Option<Vec<(String, String, String, String)>> {
    let inside = std::process::Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .current_dir(root)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !inside.status.success() {
        return None;
    }
    let toplevel = std::path::PathBuf::from(String::from_utf8_lossy(&inside.stdout).trim());
    let output = std::process::Command::new("git")
        .args([
            "log",
            &format!("--since={}", request.from),
            &format!("--until={}", request.to),
            "--name-only",
            "--format=%x1e%aI%x1f%an%x1f%s",
            "--",
            ".",
        ])
        .current_dir(root)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for commit in text.split('\u{1e}').filter(|c| !c.trim().is_empty()) {
        let mut lines = commit.lines();
        let header = lines.next().unwrap_or_default();
        let mut fields = header.split('\u{1f}');
        let (when, author, subject) =
            (fields.next().unwrap_or(""), fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        for file in lines.filter(|l| crate::model::discovery::is_markdown_path(l)) {
            // git names files from the repository top; the KB names them from its root.
            let absolute = toplevel.join(file);
            let path =
                absolute.strip_prefix(root).map(|p| p.display().to_string()).unwrap_or_else(|_| file.to_string());
            if seen.insert(path.clone()) {
                out.push((path, when.to_string(), author.to_string(), subject.to_string()));
            }
        }
    }
    Some(out)
}
