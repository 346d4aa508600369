//! The run loop (DESIGN §4): steps in order, each rendered just before it runs (`exec::step`),
//! the run stopped by a failed critical step, the archive rewritten after every step, and the
//! verdict at the end.

use super::context::{RunContext, Stopwatch};
use super::dry_run;
use super::logs::{LogFile, StepLogs};
use super::plan::{ExecOptions, Invalid, Plan, carry_over, invalid, plan, resolve_vars};
use super::process;
use super::redact::Redactor;
use super::report::Reporter;
use super::resolve::{ResolveError, ResolvedStep, resolve_step};
use super::scope::{Scope, StepState};
use super::step::{StepRun, skipped};
use super::template::Renderer;
use super::watchdog::Watchdog;
use crate::archive::store::{self, Archives};
use crate::archive::writer::RunWriter;
use crate::model::step::{Severity, Step};
use crate::model::template::Template;
use crate::model::{Body, Kb, Runbook};
use crate::record::{Finding, Outcome, RunOptions, RunRecord, RunbookRef, SCHEMA, StepRecord, Verdict};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

/// Everything a run is made of: what to run, how, and the inputs it reads from the world.
pub(crate) struct RunRequest<'a> {
    pub kb: &'a Kb,
    pub runbook: &'a Runbook,
    /// The runbook's steps (checked for errors by the caller).
    pub body: &'a Body,
    pub options: &'a ExecOptions,
    pub context: &'a RunContext,
    /// Set by Ctrl-C or SIGTERM.
    pub interrupted: &'a AtomicBool,
}

/// How a run ended.
#[derive(Debug)]
pub(crate) struct RunOutcome {
    pub record: RunRecord,
    pub archive_dir: Option<PathBuf>,
    /// Why the archive is missing or incomplete, if it is.
    pub archive_error: Option<String>,
}

/// Runs the request's runbook (or, with `--dry-run`, shows it), reporting to `reporter`.
pub(crate) fn execute(request: &RunRequest, reporter: &mut dyn Reporter) -> Result<RunOutcome, Invalid> {
    let RunRequest { kb, runbook, body, options, .. } = *request;
    let vars = resolve_vars(kb, runbook, &options.host_vars, &options.vars)?;
    let mut plans = plan(body, options)?;
    let mut resumed_from = None;
    let mut carried_over = Vec::new();
    if options.resume {
        let (carried, from) = carry_over(runbook, body, options)?;
        for (plan, carried) in plans.iter_mut().zip(carried) {
            if let Some(record) = carried {
                carried_over.push(record.clone());
                *plan = Plan::Carry(Box::new(record));
            }
        }
        resumed_from = Some(from);
    }
    let mut engine = Engine::new(request, reporter, vars, resumed_from);
    for record in &carried_over {
        engine.restore(record);
    }
    if options.dry_run { dry_run::show(engine, &plans) } else { engine.run(plans) }
}

/// The archive of the run being written, and the first problem writing it.
#[derive(Default)]
pub(super) struct ArchiveState {
    pub(super) folder: Option<RunWriter>,
    pub(super) error: Option<String>,
}

impl ArchiveState {
    /// Notes the first problem, and tells the person running it once.
    pub(super) fn failed(&mut self, message: String, reporter: &mut dyn Reporter) {
        if self.error.is_none() {
            reporter.notice(&format!("{message} — the run goes on without a complete record"));
            self.error = Some(message);
        }
    }
}

pub(super) struct Engine<'a> {
    pub(super) kb: &'a Kb,
    pub(super) rb: &'a Runbook,
    pub(super) body: &'a Body,
    pub(super) opts: &'a ExecOptions,
    pub(super) ctx: &'a RunContext,
    pub(super) interrupted: &'a AtomicBool,
    pub(super) reporter: &'a mut dyn Reporter,
    pub(super) redactor: Redactor,
    pub(super) renderer: Renderer,
    pub(super) scope: Scope,
    /// Every name a step of this runbook captures: templates reading them are rendered late.
    capture_names: BTreeSet<String>,
    pub(super) record: RunRecord,
    pub(super) archive: ArchiveState,
    pub(super) watchdog: Option<Watchdog>,
    /// A fleet host's session (its steps' bootstrap on the host), opened by its first step.
    pub(super) session: Option<super::remote::session::Session>,
}

impl<'a> Engine<'a> {
    fn new(
        request: &RunRequest<'a>,
        reporter: &'a mut dyn Reporter,
        vars: BTreeMap<String, serde_json::Value>,
        resumed_from: Option<String>,
    ) -> Engine<'a> {
        let RunRequest { kb, runbook, body, options, context, interrupted } = *request;
        let secret_names: BTreeSet<&str> =
            kb.config.secrets.iter().chain(&runbook.secrets).chain(&options.secret_names).map(String::as_str).collect();
        let redactor = Redactor::new(context.values_of(secret_names));
        let scope = Scope::new(&vars, &context.host, &context.env);
        let record = new_record(request, &redactor, vars, resumed_from);
        Engine {
            kb,
            rb: runbook,
            body,
            opts: options,
            ctx: context,
            interrupted,
            reporter,
            redactor,
            renderer: Renderer::new(),
            scope,
            capture_names: body.steps.iter().flat_map(|s| s.capture_names()).map(str::to_string).collect(),
            record,
            archive: ArchiveState::default(),
            watchdog: None,
            session: None,
        }
    }

    /// Makes a step carried over by `--resume` visible to later templates.
    fn restore(&mut self, record: &StepRecord) {
        for (name, value) in &record.captures {
            self.scope.capture(name, value);
        }
        let state = StepState {
            passed: true,
            status: Outcome::Passed,
            exit: record.exit_code,
            stdout: record.stdout_tail.clone(),
        };
        self.scope.record_step(&record.id, state);
    }

    /// True when `template` reads what earlier steps produce, so it can only be rendered late.
    fn is_dynamic(&self, template: &Template) -> bool {
        template.references.iter().any(|r| {
            let root = r.split('.').next().unwrap_or_default();
            root == "steps" || self.capture_names.contains(root)
        })
    }

    /// Renders what can be rendered before anything runs; dynamic templates stay as written.
    pub(super) fn resolve_early(&self, step: &Step) -> Result<ResolvedStep, ResolveError> {
        let scope = self.scope.value();
        resolve_step(step, &|t: &Template| {
            if self.is_dynamic(t) { Ok(None) } else { self.renderer.render(t, &scope).map(Some) }
        })
    }

    fn run(mut self, plans: Vec<Plan>) -> Result<RunOutcome, Invalid> {
        // Templates that need nothing from earlier steps must render before anything runs.
        for (step, plan) in self.body.steps.iter().zip(&plans) {
            if matches!(plan, Plan::Run)
                && let Err(err) = self.resolve_early(step)
            {
                return Err(invalid(
                    format!("step `{}` cannot be rendered: {err}", step.id),
                    Some("nothing has run; fix the template or pass the value with --var name=value".into()),
                ));
            }
        }
        if self.ctx.alone {
            process::become_subreaper();
        }
        self.start_watchdog();
        self.open_archive();
        let total = self.body.steps.len();
        let archive_dir = self.archive_dir();
        self.reporter.run_started(&self.record, total, archive_dir.as_deref());
        let watch = self.ctx.clock.stopwatch();
        let mut stop: Option<String> = None;
        // Steps the run plan left out (`--from`, `--only`): not a reason to skip their dependents.
        let mut left_out: BTreeSet<String> = BTreeSet::new();
        for (index, (step, plan)) in self.body.steps.iter().zip(plans).enumerate() {
            if let Plan::Skip(_) = plan {
                left_out.insert(step.id.clone());
            }
            let plan = match (&plan, self.unmet_need(step, &left_out)) {
                (Plan::Run, Some(reason)) => Plan::Skip(reason),
                _ => plan,
            };
            let run = self.step_run(index + 1, total, step, plan, stop.as_deref());
            if stop.is_none() && stops_the_run(step, &run.record) {
                stop = Some(format!("not run: step `{}` failed", step.id));
            }
            if let Some(why) = &run.unreachable {
                stop = Some(self.unreachable(why));
            }
            // What later templates see as `steps.<id>` (carried steps were restored already).
            if !run.record.resumed {
                let state = StepState {
                    passed: run.record.passed(),
                    status: run.record.outcome,
                    exit: run.record.exit_code,
                    stdout: run.stdout_head,
                };
                self.scope.record_step(&step.id, state);
            }
            self.reporter.step_finished(index + 1, total, &run.record);
            self.record.steps.push(run.record);
            self.record.duration_ms = watch.elapsed_ms();
            self.save(false);
            // In a fleet run the other hosts' children are ours too, and in a scenario run the
            // other scenarios': theirs to reap.
            if self.ctx.alone && self.ctx.remote.is_none() {
                process::reap_orphans();
            }
        }
        // The host's bootstrap ends with its stdin; the host's run is over.
        self.session = None;
        self.finish(watch);
        self.save(true);
        let archive_dir = self.archive_dir();
        self.reporter.run_finished(&self.record, archive_dir.as_deref());
        Ok(RunOutcome { record: self.record, archive_dir, archive_error: self.archive.error })
    }

    /// Why `step` cannot run because a step it `needs` did not pass: "needs driver, which failed".
    fn unmet_need(&self, step: &Step, left_out: &BTreeSet<String>) -> Option<String> {
        step.needs.iter().find_map(|needed| {
            if left_out.iter().any(|id| id.eq_ignore_ascii_case(needed)) {
                return None;
            }
            let record = self.record.steps.iter().find(|s| s.id.eq_ignore_ascii_case(needed))?;
            let how = match record.outcome {
                Outcome::Passed => return None,
                Outcome::Skipped => "was skipped",
                Outcome::TimedOut => "timed out",
                Outcome::Error => "could not run",
                Outcome::Interrupted => "was interrupted",
                Outcome::Failed => "failed",
            };
            Some(format!("needs {}, which {how}", record.id))
        })
    }

    /// What becomes of one step: run, skipped, or carried over.
    fn step_run(&mut self, number: usize, total: usize, step: &Step, plan: Plan, stop: Option<&str>) -> StepRun {
        if self.interrupted.load(Ordering::SeqCst) {
            return skipped(step, "not run: the run was interrupted".into()).into();
        }
        if let Some(reason) = stop {
            return skipped(step, reason.to_string()).into();
        }
        match plan {
            Plan::Skip(reason) => skipped(step, reason).into(),
            Plan::Carry(record) => (*record).into(),
            Plan::Run => self.run_step(number, total, step),
        }
    }

    /// The run's host dropped off: it is recorded unreachable, and no later step runs.
    fn unreachable(&mut self, why: &str) -> String {
        let host = self.record.remote.as_ref().map_or_else(|| self.ctx.host.name.clone(), |r| r.host.clone());
        if let Some(remote) = &mut self.record.remote {
            remote.unreachable = Some(why.to_string());
        }
        format!("not run: {host} is unreachable")
    }

    fn archive_dir(&self) -> Option<PathBuf> {
        self.archive.folder.as_ref().map(|a| a.dir().to_path_buf())
    }

    /// Starts the guard that stops the step's processes if `runbook` is killed.
    fn start_watchdog(&mut self) {
        let Some(program) = &self.ctx.watchdog else { return };
        match Watchdog::start(program) {
            Ok(watchdog) => self.watchdog = Some(watchdog),
            Err(err) => self.reporter.notice(&format!(
                "cannot start the process guard ({err}): if runbook is killed, the running step's processes stay"
            )),
        }
    }

    fn open_archive(&mut self) {
        if !self.opts.archive {
            return;
        }
        if let Some((dir, run_id)) = &self.opts.run_dir {
            match RunWriter::create_at(dir) {
                Ok(archive) => {
                    self.record.run_id = run_id.clone();
                    self.archive.folder = Some(archive);
                    self.save(false);
                }
                Err(err) => {
                    let message = format!("cannot create the archive in {}: {err}", dir.display());
                    self.archive.failed(message, &mut *self.reporter);
                }
            }
            return;
        }
        match RunWriter::create(&Archives::new(&self.opts.archives_dir), &self.record.run_id) {
            Ok((archive, run_id)) => {
                self.record.run_id = run_id;
                self.archive.folder = Some(archive);
                self.save(false);
            }
            Err(err) => {
                let message = format!("cannot create the archive in {}: {err}", self.opts.archives_dir.display());
                self.archive.failed(message, &mut *self.reporter);
            }
        }
    }

    /// Where step number `number`'s logs go (nowhere without an archive).
    pub(super) fn step_logs(&self, number: usize, step_id: &str) -> StepLogs {
        let Some(archive) = &self.archive.folder else {
            return StepLogs::default();
        };
        let log = |stream: &str| {
            let (path, relative) = archive.step_log(number, step_id, stream);
            Some(LogFile { path, relative })
        };
        StepLogs { stdout: log("stdout"), stderr: log("stderr") }
    }

    /// Rewrites `run.json` (and at the end `run.md`).
    fn save(&mut self, last: bool) {
        let Some(archive) = &mut self.archive.folder else { return };
        let mut result = archive.write_record(&self.record, last);
        if last && result.is_ok() {
            result = archive.write_markdown(&self.record);
        }
        if let Err(err) = result {
            let message = format!("cannot write the archive in {}: {err}", archive.dir().display());
            self.archive.failed(message, &mut *self.reporter);
        }
    }

    /// The end of the run: findings and the verdict.
    fn finish(&mut self, watch: Stopwatch) {
        self.record.finished_at = Some(self.ctx.clock.rfc3339());
        self.record.duration_ms = watch.elapsed_ms();
        self.record.findings = findings(&self.record.steps);
        let interrupted = self.interrupted.load(Ordering::SeqCst);
        self.record.verdict = verdict(&self.record.steps, interrupted);
        // A run stopped halfway proves nothing about causes.
        if !interrupted {
            let (diagnoses, problems) = super::diagnose::evaluate(
                &self.body.diagnoses,
                &self.record.steps,
                &self.scope,
                &self.renderer,
                self.kb,
                self.rb,
            );
            for problem in problems {
                self.reporter.notice(&self.redactor.redact(&problem));
            }
            self.record.diagnoses = diagnoses;
        }
    }
}

/// A failed critical step stops the run, unless it may fail (`continue_on_error`); an
/// interrupted one stops it anyway, on its own.
fn stops_the_run(step: &Step, record: &StepRecord) -> bool {
    record.outcome.is_failure()
        && record.outcome != Outcome::Interrupted
        && step.severity == Severity::Critical
        && !step.continue_on_error
}

fn findings(steps: &[StepRecord]) -> Vec<Finding> {
    steps.iter().filter(|s| s.outcome.is_failure()).map(Finding::of).collect()
}

/// DESIGN §4: `failed` if a critical step did not pass, `warning` if only warning/info steps
/// failed, else `passed`; `interrupted` wins over both.
fn verdict(steps: &[StepRecord], interrupted: bool) -> Verdict {
    let failures =
        |critical: bool| steps.iter().any(|s| s.outcome.is_failure() && (s.severity == Severity::Critical) == critical);
    if interrupted || steps.iter().any(|s| s.outcome == Outcome::Interrupted) {
        Verdict::Interrupted
    } else if failures(true) {
        Verdict::Failed
    } else if failures(false) {
        Verdict::Warning
    } else {
        Verdict::Passed
    }
}

/// The record of a run that has not started any step yet.
fn new_record(
    request: &RunRequest,
    redactor: &Redactor,
    vars: BTreeMap<String, serde_json::Value>,
    resumed_from: Option<String>,
) -> RunRecord {
    let RunRequest { runbook, body, options, context, .. } = *request;
    let mut record = initial_record(runbook, body, options, context, context.clock.now());
    record.vars = vars
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k, serde_json::Value::String(redactor.redact(&s).into_owned())),
            other => (k, other),
        })
        .collect();
    record.options.resumed_from = resumed_from;
    record.remote = context.remote.as_ref().map(|host| crate::record::Remote {
        host: host.name.clone(),
        target: host.target.clone(),
        fleet_run: host.fleet_run.clone(),
        unreachable: None,
    });
    record
}

/// What every run's record starts with, a host's or a fleet's: the runbook, this engine, where
/// and by whom, the options; no vars, steps or findings yet.
pub(super) fn initial_record(
    runbook: &Runbook,
    body: &Body,
    options: &ExecOptions,
    context: &RunContext,
    started: jiff::Timestamp,
) -> RunRecord {
    RunRecord {
        schema: SCHEMA,
        run_id: store::run_id(started, &runbook.id),
        runbook: RunbookRef {
            id: runbook.id.clone(),
            title: runbook.title.clone(),
            path: runbook.path.clone(),
            sha256: body.sha256.clone(),
        },
        engine: crate::record::EngineVersion { name: "runbook".into(), version: env!("CARGO_PKG_VERSION").into() },
        host: context.host.clone(),
        user: context.user.clone(),
        started_at: super::context::rfc3339(started),
        finished_at: None,
        duration_ms: 0,
        options: RunOptions {
            yes: options.yes,
            from: options.from.clone(),
            only: options.only.clone(),
            resumed_from: None,
            interactive: false,
            diagnose: options.diagnose,
            plain: options.plain,
            section: options.section.clone(),
        },
        trigger: options.trigger.clone(),
        vars: BTreeMap::new(),
        verdict: Verdict::Running,
        steps: Vec::new(),
        findings: Vec::new(),
        remote: None,
        fleet: None,
        diagnoses: Vec::new(),
        declares_diagnoses: !body.diagnoses.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::StepKind;

    fn step(id: &str, severity: Severity, outcome: Outcome) -> StepRecord {
        StepRecord {
            outcome,
            severity,
            kind: StepKind::Run,
            ..super::super::step::skipped(&test_step(id), String::new())
        }
    }

    fn test_step(id: &str) -> Step {
        let text = format!("# T\n\n```yaml step\nid: {id}\nrun: x\n```\n");
        let rb = crate::model::parse::parse(
            crate::model::parse::SourceFile {
                path: "t.md".into(),
                stem_path: "t".into(),
                category_dir: None,
                file: None,
                bytes: text.into_bytes(),
            },
            &Default::default(),
        );
        rb.body.unwrap().steps[0].clone()
    }

    #[test]
    fn verdict_follows_the_severity_of_what_failed() {
        let passed = step("a", Severity::Critical, Outcome::Passed);
        let warn = step("b", Severity::Warning, Outcome::Failed);
        let crit = step("c", Severity::Critical, Outcome::TimedOut);
        assert_eq!(verdict(std::slice::from_ref(&passed), false), Verdict::Passed);
        assert_eq!(verdict(&[passed.clone(), warn.clone()], false), Verdict::Warning);
        assert_eq!(verdict(&[warn.clone(), crit.clone()], false), Verdict::Failed);
        assert_eq!(verdict(&[passed], true), Verdict::Interrupted);
        let findings = findings(&[warn, crit]);
        assert_eq!(findings.len(), 2);
        assert_eq!(findings[1].severity, Severity::Critical);
    }
}
