//! A fleet run (DESIGN §17): one runbook on many hosts, `forks` of them at a time. Each host
//! gets a preflight (which opens its master connection), then an ordinary engine run whose steps
//! go through the host's transport, archived under the fleet run's folder as `hosts/<host>/`.
//! The fleet run's own `run.json` aggregates them: one record per step with the hosts' results
//! folded, findings folded by host, and the [`Fleet`] part listing every host's outcome.

use super::context::RunContext;
use super::engine::{self, RunRequest};
use super::plan::{ExecOptions, Invalid};
use super::remote::attempt::RemoteHost;
use super::remote::preflight::{LocalBinary, Preflight, preflight};
use super::remote::transport::Connection;
use super::report::{DryDiagnosis, DryStep, Reporter, StepStart};
use super::stream::StreamKind;
use crate::archive::store::Archives;
use crate::archive::writer::RunWriter;
use crate::model::step::Action;
use crate::model::{Body, Kb, Runbook};
use crate::record::fleet::{fold_results, host_result, step_result, worst_outcome};
use crate::record::{DiagnosisRecord, Finding, Fleet, FleetHost, HostOutcome, RunRecord, StepRecord, Target, Verdict};
use crate::util::text::file_safe;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One host to run on, as `--on` or the inventory names it.
#[derive(Debug, Clone)]
pub(crate) struct HostSpec {
    pub name: String,
    pub target: Target,
    /// Inventory vars: they set the runbook's variables of the same name on this host.
    pub vars: BTreeMap<String, serde_json::Value>,
}

/// What a fleet run is made of.
pub(crate) struct FleetRequest<'a> {
    pub kb: &'a Kb,
    pub runbook: &'a Runbook,
    pub body: &'a Body,
    /// The options every host's run starts from.
    pub options: &'a ExecOptions,
    pub context: &'a RunContext,
    pub interrupted: &'a AtomicBool,
    pub hosts: Vec<HostSpec>,
    /// How the hosts were chosen, as typed (recorded).
    pub selection: String,
    pub forks: usize,
    pub connection: Connection,
    /// `--resume`: the fleet run this one continues.
    pub resume: Option<FleetResume>,
}

/// The fleet run a `--resume` continues: each of its hosts that passed is carried over as it
/// was (its folder copied into the new run), each other one resumes its own run from the step
/// that did not pass (DESIGN §4's `--resume`, per host), or starts again when it never ran.
#[derive(Debug, Clone)]
pub(crate) struct FleetResume {
    pub run_id: String,
    pub dir: PathBuf,
    /// Its hosts, as it recorded them (`running` for a run that was killed).
    pub hosts: Vec<FleetHost>,
}

impl FleetResume {
    /// The fleet run in `dir` (its record read already), if it can be continued with `body`:
    /// refused when every host passed or the runbook changed since. Nothing has run yet.
    pub(crate) fn new(dir: PathBuf, previous: &RunRecord, body: &Body) -> Result<FleetResume, Invalid> {
        let id = &previous.runbook.id;
        let Some(fleet) = &previous.fleet else {
            return Err(super::plan::invalid(format!("{} is not a fleet run", previous.run_id), None));
        };
        if matches!(previous.verdict, Verdict::Passed | Verdict::Warning) {
            return Err(super::plan::invalid(
                format!("nothing to resume: fleet run {} of {id} ended {}", previous.run_id, previous.verdict),
                Some(format!("run it again with `runbook exec {id} --on …`")),
            ));
        }
        if previous.runbook.sha256 != body.sha256 {
            return Err(super::plan::invalid(
                format!("{id} changed since run {}: resuming would mix two versions of it", previous.run_id),
                Some(format!("start a fresh run with `runbook exec {id} --on …`, or --retry-failed")),
            ));
        }
        Ok(FleetResume { run_id: previous.run_id.clone(), dir, hosts: fleet.hosts.clone() })
    }

    fn host(&self, name: &str) -> Option<&FleetHost> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Where a host's run of the earlier fleet run is, and its record, when it has one.
    fn host_run(&self, host: &FleetHost) -> Option<(PathBuf, RunRecord)> {
        let relative = if host.dir.is_empty() { host_dir(&host.name) } else { host.dir.clone() };
        let dir = self.dir.join(relative);
        crate::archive::store::read(&dir).ok().map(|record| (dir, record))
    }
}

/// A host's folder in its fleet run's folder.
fn host_dir(name: &str) -> String {
    format!("hosts/{}", file_safe(name))
}

/// What `--resume` does with one host.
enum HostResume {
    /// It passed: carried over unchanged.
    Carry(Box<FleetHost>, Box<RunRecord>, PathBuf),
    /// Its run continues from this folder's record.
    From(PathBuf),
    /// It never ran (or nothing of it can be read): it starts again.
    Fresh,
}

/// Where a fleet run's progress goes; shared by the hosts' threads.
pub(crate) trait FleetReporter: Sync {
    /// The reporter of one host's run (its events, tagged with the host where that is wanted).
    fn host(&self, host: &str) -> Box<dyn Reporter + '_>;
    /// Asks the person running the fleet; called once per step, under a lock.
    fn ask(&self, question: &str, interrupted: &AtomicBool) -> Option<bool>;
    fn fleet_started(&self, run_id: &str, hosts: &[HostSpec], archive: Option<&Path>);
    fn host_finished(&self, host: &FleetHost);
    /// The fleet run's record, complete.
    fn fleet_finished(&self, run: &RunRecord, archive: Option<&Path>);
}

/// How a fleet run ended.
#[derive(Debug)]
pub(crate) struct FleetOutcome {
    pub record: RunRecord,
    pub archive_error: Option<String>,
}

/// Runs the request's runbook on every host, `forks` at a time.
pub(crate) fn run(request: &FleetRequest, reporter: &dyn FleetReporter) -> Result<FleetOutcome, Invalid> {
    let started = request.context.clock.now();
    let mut record = fleet_record(request, started);
    let mut archive_error = None;
    let mut writer = None;
    if request.options.archive {
        match RunWriter::create(&Archives::new(&request.options.archives_dir), &record.run_id) {
            Ok((w, run_id)) => {
                record.run_id = run_id;
                writer = Some(w);
            }
            Err(err) => archive_error = Some(format!("cannot create the fleet run's archive: {err}")),
        }
    }
    if let Some(w) = &mut writer
        && let Err(err) = w.write_record(&record, false)
    {
        archive_error.get_or_insert(format!("cannot write the fleet run's record: {err}"));
    }
    let dir = writer.as_ref().map(|w| w.dir().to_path_buf());
    reporter.fleet_started(&record.run_id, &request.hosts, dir.as_deref());
    let binary = if has_probe_steps(request.body) { Some(LocalBinary::current()) } else { None };
    let gate = ConfirmGate { reporter, answers: Mutex::new(HashMap::new()) };
    let shared = Shared { request, fleet_run: record.run_id.clone(), dir: dir.clone(), binary, gate };
    let results = shared.run_all(reporter);
    finish(&mut record, request, &results, started);
    if let Some(w) = &mut writer {
        let written = w.write_record(&record, true).and_then(|()| w.write_markdown(&record));
        if let Err(err) = written {
            archive_error.get_or_insert(format!("cannot write the fleet run's record: {err}"));
        }
    }
    reporter.fleet_finished(&record, dir.as_deref());
    let archive_error = archive_error.or_else(|| results.iter().find_map(|r| r.archive_error.clone()));
    Ok(FleetOutcome { record, archive_error })
}

/// What every host's thread reads.
struct Shared<'a> {
    request: &'a FleetRequest<'a>,
    fleet_run: String,
    dir: Option<PathBuf>,
    /// This binary, for hosts' probe steps (`None`: the runbook has none).
    binary: Option<Result<LocalBinary, String>>,
    gate: ConfirmGate<'a>,
}

/// How one host's part ended.
struct HostResult {
    host: FleetHost,
    record: Option<RunRecord>,
    archive_error: Option<String>,
}

impl Shared<'_> {
    /// The hosts in order, `forks` threads taking the next one as they finish.
    fn run_all(&self, reporter: &dyn FleetReporter) -> Vec<HostResult> {
        let hosts = &self.request.hosts;
        let next = Mutex::new(0usize);
        let results: Mutex<Vec<Option<HostResult>>> = Mutex::new((0..hosts.len()).map(|_| None).collect());
        let threads = self.request.forks.clamp(1, hosts.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let index = {
                            let mut next = next.lock().unwrap_or_else(|e| e.into_inner());
                            let index = *next;
                            *next += 1;
                            index
                        };
                        let Some(spec) = hosts.get(index) else { break };
                        let result = self.run_host(spec);
                        reporter.host_finished(&result.host);
                        results.lock().unwrap_or_else(|e| e.into_inner())[index] = Some(result);
                    }
                });
            }
        });
        let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
        results.into_iter().zip(hosts).map(|(r, spec)| r.unwrap_or_else(|| not_started(spec))).collect()
    }

    /// Preflight, then the host's own run.
    fn run_host(&self, spec: &HostSpec) -> HostResult {
        let watch = self.request.context.clock.stopwatch();
        let request = self.request;
        if request.interrupted.load(Ordering::SeqCst) {
            return ended(spec, HostOutcome::Interrupted, "interrupted before it started".into());
        }
        let resume_from = match self.resume_of(spec) {
            HostResume::Carry(host, record, from) => return self.carry(*host, *record, &from),
            HostResume::From(dir) => Some(dir),
            HostResume::Fresh => None,
        };
        let binary = match &self.binary {
            Some(Ok(binary)) => Some(binary),
            Some(Err(why)) => return ended(spec, HostOutcome::Failed, why.clone()),
            None => None,
        };
        let facts = match preflight(&request.connection, &spec.target, binary) {
            Preflight::Ready(facts) => facts,
            Preflight::Unreachable(why) => return ended(spec, HostOutcome::Unreachable, why),
            Preflight::Unfit(why) => return ended(spec, HostOutcome::Failed, why),
        };
        let host_dir = host_dir(&spec.name);
        let remote = RemoteHost {
            name: spec.name.clone(),
            target: spec.target.clone(),
            connection: request.connection.clone(),
            fleet_run: self.fleet_run.clone(),
            facts,
            secrets: secret_names(request),
        };
        let mut context = request.context.clone();
        context.remote = Some(Arc::new(remote));
        let mut options = request.options.clone();
        options.host_vars = spec.vars.clone();
        options.run_dir = self.dir.as_ref().map(|d| (d.join(&host_dir), format!("{}/{host_dir}", self.fleet_run)));
        options.archive = self.dir.is_some();
        options.resume = resume_from.is_some();
        options.resume_from = resume_from;
        let run = RunRequest {
            kb: request.kb,
            runbook: request.runbook,
            body: request.body,
            options: &options,
            context: &context,
            interrupted: request.interrupted,
        };
        let mut reporter = GatedReporter { inner: self.gate.reporter.host(&spec.name), gate: &self.gate };
        let outcome = match engine::execute(&run, &mut reporter) {
            Ok(outcome) => outcome,
            Err(invalid) => return ended(spec, HostOutcome::Failed, invalid.message),
        };
        let (outcome_kind, reason) = judge(&outcome.record);
        let host = FleetHost {
            name: spec.name.clone(),
            outcome: outcome_kind,
            verdict: outcome.record.verdict,
            reason,
            dir: if outcome.archive_dir.is_some() { host_dir } else { String::new() },
            target: spec.target.clone(),
            vars: spec.vars.clone(),
            duration_ms: watch.elapsed_ms(),
            resumed: false,
        };
        HostResult { host, record: Some(outcome.record), archive_error: outcome.archive_error }
    }

    /// What `--resume` does with this host, from its run in the fleet run resumed: a host whose
    /// own run passed is carried over (even when the fleet run was killed before it could say
    /// so), one whose run did not pass continues it, one that never ran starts again.
    fn resume_of(&self, spec: &HostSpec) -> HostResume {
        let Some(resume) = &self.request.resume else { return HostResume::Fresh };
        let Some(previous) = resume.host(&spec.name) else { return HostResume::Fresh };
        let Some((dir, record)) = resume.host_run(previous) else { return HostResume::Fresh };
        let (outcome, reason) = judge(&record);
        match outcome {
            HostOutcome::Passed => {
                let host = FleetHost { outcome, reason, verdict: record.verdict, resumed: true, ..previous.clone() };
                HostResume::Carry(Box::new(host), Box::new(record), dir)
            }
            _ => HostResume::From(dir),
        }
    }

    /// A host that passed in the resumed run: its folder copied into this run, its record as it was.
    fn carry(&self, mut host: FleetHost, record: RunRecord, from: &Path) -> HostResult {
        let mut archive_error = None;
        host.dir = String::new();
        if let Some(dir) = &self.dir {
            let relative = host_dir(&host.name);
            match crate::archive::store::copy_run(from, &dir.join(&relative)) {
                Ok(()) => host.dir = relative,
                Err(err) => {
                    archive_error = Some(format!("cannot copy {}'s run from {}: {err}", host.name, from.display()))
                }
            }
        }
        HostResult { host, record: Some(record), archive_error }
    }
}

/// A host's outcome from its run's record, and why it did not pass.
fn judge(record: &RunRecord) -> (HostOutcome, Option<String>) {
    if let Some(why) = record.remote.as_ref().and_then(|r| r.unreachable.clone()) {
        return (HostOutcome::Unreachable, Some(why));
    }
    let first_failure = || {
        record
            .steps
            .iter()
            .find(|s| s.outcome.is_failure() && s.severity == crate::record::Severity::Critical)
            .map(|s| format!("{}: {}", s.id, s.why().unwrap_or_else(|| s.outcome.to_string())))
    };
    match record.verdict {
        Verdict::Passed | Verdict::Warning => (HostOutcome::Passed, None),
        Verdict::Interrupted => (HostOutcome::Interrupted, Some("interrupted".into())),
        Verdict::Failed | Verdict::Running => (HostOutcome::Failed, first_failure()),
    }
}

fn ended(spec: &HostSpec, outcome: HostOutcome, reason: String) -> HostResult {
    let verdict = if outcome == HostOutcome::Interrupted { Verdict::Interrupted } else { Verdict::Failed };
    let host = FleetHost {
        name: spec.name.clone(),
        outcome,
        verdict,
        reason: Some(reason),
        dir: String::new(),
        target: spec.target.clone(),
        vars: spec.vars.clone(),
        duration_ms: 0,
        resumed: false,
    };
    HostResult { host, record: None, archive_error: None }
}

fn not_started(spec: &HostSpec) -> HostResult {
    ended(spec, HostOutcome::Interrupted, "not started".into())
}

fn has_probe_steps(body: &Body) -> bool {
    body.steps.iter().any(|s| matches!(s.action, Action::Probe(_)))
}

fn secret_names(request: &FleetRequest) -> Vec<String> {
    let kb = &request.kb.config.secrets;
    kb.iter().chain(&request.runbook.secrets).chain(&request.options.secret_names).cloned().collect()
}

/// `confirm` (and `manual`'s "Done?") asked once per step for the whole fleet: the first host to
/// reach the step asks the person; the others wait for that answer and take it.
struct ConfirmGate<'a> {
    reporter: &'a dyn FleetReporter,
    answers: Mutex<HashMap<String, Option<bool>>>,
}

impl ConfirmGate<'_> {
    fn ask(&self, step_id: &str, question: &str, interrupted: &AtomicBool) -> Option<bool> {
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(answer) = answers.get(step_id) {
            return *answer;
        }
        let question = format!("{question} (step `{step_id}`, answered once for every host of this run)");
        let answer = self.reporter.ask(&question, interrupted);
        answers.insert(step_id.to_string(), answer);
        answer
    }
}

/// A host's reporter whose questions go to the gate.
struct GatedReporter<'a> {
    inner: Box<dyn Reporter + 'a>,
    gate: &'a ConfirmGate<'a>,
}

impl Reporter for GatedReporter<'_> {
    fn run_started(&mut self, run: &RunRecord, total: usize, archive: Option<&Path>) {
        self.inner.run_started(run, total, archive);
    }
    fn step_started(&mut self, number: usize, total: usize, step: &StepStart) {
        self.inner.step_started(number, total, step);
    }
    fn output(&mut self, step_id: &str, stream: StreamKind, line: &str) {
        self.inner.output(step_id, stream, line);
    }
    fn step_finished(&mut self, number: usize, total: usize, step: &StepRecord) {
        self.inner.step_finished(number, total, step);
    }
    fn run_finished(&mut self, run: &RunRecord, archive: Option<&Path>) {
        self.inner.run_finished(run, archive);
    }
    fn attempt(&mut self, step_id: &str, attempt: u32, attempts: u32) {
        self.inner.attempt(step_id, attempt, attempts);
    }
    fn notice(&mut self, text: &str) {
        self.inner.notice(text);
    }
    fn ask(&mut self, step_id: &str, question: &str, interrupted: &AtomicBool) -> Option<bool> {
        self.gate.ask(step_id, question, interrupted)
    }
    fn dry_run_step(&mut self, number: usize, total: usize, step: &DryStep) {
        self.inner.dry_run_step(number, total, step);
    }
    fn dry_run_diagnosis(&mut self, diagnosis: &DryDiagnosis) {
        self.inner.dry_run_diagnosis(diagnosis);
    }
}

/// The fleet run's record before any host ran; each host's run has its own vars and diagnoses
/// (in `hosts/<host>/run.json`).
fn fleet_record(request: &FleetRequest, started: jiff::Timestamp) -> RunRecord {
    let FleetRequest { runbook, body, options, context, .. } = request;
    let mut record = engine::initial_record(runbook, body, options, context, started);
    record.options.resumed_from = request.resume.as_ref().map(|r| r.run_id.clone());
    // Every host `running` until it ends: a fleet run killed halfway still says which hosts
    // it had, for --resume and --retry-failed.
    let hosts = request.hosts.iter().map(|spec| running(spec, options.archive)).collect();
    record.fleet =
        Some(Fleet { selection: request.selection.clone(), forks: request.forks, hosts, summary: String::new() });
    record
}

fn running(spec: &HostSpec, archived: bool) -> FleetHost {
    FleetHost {
        name: spec.name.clone(),
        outcome: HostOutcome::Running,
        verdict: Verdict::Running,
        reason: None,
        dir: if archived { host_dir(&spec.name) } else { String::new() },
        target: spec.target.clone(),
        vars: spec.vars.clone(),
        duration_ms: 0,
        resumed: false,
    }
}

/// Fills the fleet record from the hosts' results: steps and findings folded, the verdict.
fn finish(record: &mut RunRecord, request: &FleetRequest, results: &[HostResult], started: jiff::Timestamp) {
    let now = request.context.clock.now();
    record.finished_at = Some(super::context::rfc3339(now));
    record.duration_ms = u64::try_from(now.duration_since(started).as_millis()).unwrap_or(0);
    record.steps = fold_steps(results);
    record.findings = fold_findings(results);
    record.diagnoses = fold_diagnoses(results);
    let hosts: Vec<FleetHost> = results.iter().map(|r| r.host.clone()).collect();
    record.verdict = fleet_verdict(&hosts);
    let summary = fold_results(hosts.iter().map(|h| {
        let (rank, text) = host_result(h.outcome, h.reason.as_deref());
        (h.name.as_str(), rank, text)
    }));
    record.fleet = Some(Fleet { selection: request.selection.clone(), forks: request.forks, hosts, summary });
}

fn fleet_verdict(hosts: &[FleetHost]) -> Verdict {
    if hosts.iter().any(|h| h.outcome == HostOutcome::Interrupted) {
        Verdict::Interrupted
    } else if hosts.iter().any(|h| matches!(h.outcome, HostOutcome::Failed | HostOutcome::Unreachable)) {
        Verdict::Failed
    } else if hosts.iter().any(|h| h.verdict == Verdict::Warning) {
        Verdict::Warning
    } else {
        Verdict::Passed
    }
}

/// One record per step across hosts: the worst outcome any host saw, and as its reason every
/// host's result folded (`gpu[01-06,08] passed · gpu07 failed: exit code 1`).
fn fold_steps(results: &[HostResult]) -> Vec<StepRecord> {
    let mut order: Vec<String> = Vec::new();
    let mut by_step: BTreeMap<String, Vec<(&str, &StepRecord)>> = BTreeMap::new();
    for result in results {
        for step in result.record.iter().flat_map(|r| &r.steps) {
            if !by_step.contains_key(&step.id) {
                order.push(step.id.clone());
            }
            by_step.entry(step.id.clone()).or_default().push((result.host.name.as_str(), step));
        }
    }
    order
        .into_iter()
        .filter_map(|id| {
            let on_hosts = by_step.remove(&id)?;
            let (_, first) = on_hosts.first()?;
            let mut step = (*first).clone();
            step.outcome = worst_outcome(on_hosts.iter().map(|(_, s)| s.outcome));
            step.reason = Some(fold_results(on_hosts.iter().map(|(host, s)| {
                let (rank, text) = step_result(s);
                (*host, rank, text)
            })));
            step.duration_ms = on_hosts.iter().map(|(_, s)| s.duration_ms).max().unwrap_or(0);
            step.checks.clear();
            step.captures.clear();
            step.stdout = Default::default();
            step.stderr = Default::default();
            step.stdout_tail = String::new();
            step.stderr_tail = String::new();
            step.exit_code = None;
            step.signal = None;
            Some(step)
        })
        .collect()
}

/// The hosts' findings, identical ones once with their hosts folded in front.
fn fold_findings(results: &[HostResult]) -> Vec<Finding> {
    let findings =
        results.iter().flat_map(|r| r.record.iter().flat_map(|rec| &rec.findings).map(|f| (r.host.name.as_str(), f)));
    fold_by_host(findings)
}

/// Findings seen on hosts, identical ones once, with their hosts folded in front of the message
/// (`gpu[03,07]: exit code: expected 0, saw 1`).
fn fold_by_host<'a>(findings: impl IntoIterator<Item = (&'a str, &'a Finding)>) -> Vec<Finding> {
    let mut groups: Vec<(&Finding, Vec<&str>)> = Vec::new();
    for (host, finding) in findings {
        let same = |f: &&Finding| {
            f.step == finding.step
                && f.message == finding.message
                && f.outcome == finding.outcome
                && f.severity == finding.severity
        };
        match groups.iter_mut().find(|(f, _)| same(f)) {
            Some((_, hosts)) => hosts.push(host),
            None => groups.push((finding, vec![host])),
        }
    }
    groups
        .into_iter()
        .map(|(finding, hosts)| {
            let mut finding = finding.clone();
            finding.message = format!("{}: {}", crate::model::hosts::fold(hosts), finding.message);
            finding
        })
        .collect()
}

/// The hosts' diagnoses, each once with the hosts where it matched (folded) and its evidence
/// folded by host. First the one that is the most likely cause on the most hosts.
fn fold_diagnoses(results: &[HostResult]) -> Vec<DiagnosisRecord> {
    struct Group<'a> {
        diagnosis: &'a DiagnosisRecord,
        hosts: Vec<&'a str>,
        most_likely_on: usize,
        evidence: Vec<(&'a str, &'a Finding)>,
    }
    let mut groups: Vec<Group> = Vec::new();
    for result in results {
        let host = result.host.name.as_str();
        for (rank, diagnosis) in result.record.iter().flat_map(|r| r.diagnoses.iter().enumerate()) {
            let index = match groups.iter().position(|g| g.diagnosis.id == diagnosis.id) {
                Some(index) => index,
                None => {
                    groups.push(Group { diagnosis, hosts: Vec::new(), most_likely_on: 0, evidence: Vec::new() });
                    groups.len() - 1
                }
            };
            let group = &mut groups[index];
            group.hosts.push(host);
            group.most_likely_on += usize::from(rank == 0);
            group.evidence.extend(diagnosis.evidence.iter().map(|f| (host, f)));
        }
    }
    // Stable: among equals, the order the hosts first showed them.
    groups.sort_by_key(|g| (std::cmp::Reverse(g.most_likely_on), std::cmp::Reverse(g.hosts.len())));
    groups
        .into_iter()
        .map(|g| DiagnosisRecord {
            evidence: fold_by_host(g.evidence),
            hosts: Some(crate::model::hosts::fold(g.hosts)),
            ..g.diagnosis.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, outcome: HostOutcome, verdict: Verdict) -> FleetHost {
        FleetHost {
            name: name.into(),
            outcome,
            verdict,
            reason: None,
            dir: String::new(),
            target: Target::Docker { container: name.into() },
            vars: BTreeMap::new(),
            duration_ms: 0,
            resumed: false,
        }
    }

    #[test]
    fn an_unreachable_host_fails_the_fleet_and_an_interrupted_one_interrupts_it() {
        let passed = host("a", HostOutcome::Passed, Verdict::Passed);
        let warned = host("b", HostOutcome::Passed, Verdict::Warning);
        let unreachable = host("c", HostOutcome::Unreachable, Verdict::Failed);
        let interrupted = host("d", HostOutcome::Interrupted, Verdict::Interrupted);
        assert_eq!(fleet_verdict(std::slice::from_ref(&passed)), Verdict::Passed);
        assert_eq!(fleet_verdict(&[passed.clone(), warned.clone()]), Verdict::Warning);
        assert_eq!(fleet_verdict(&[passed.clone(), unreachable.clone()]), Verdict::Failed);
        assert_eq!(fleet_verdict(&[unreachable, interrupted]), Verdict::Interrupted);
    }
}
