//! The run loop (DESIGN §4): steps in order, each rendered just before it runs, `when` and
//! `confirm` honoured, processes and probes run, checks and asserts evaluated, and the archive
//! rewritten after every step.

use super::check::LineScanner;
use super::probe::{self, ProbeEnv, ProbeStatus, gpu::GpuSource};
use super::process::{self, Spawn};
use super::redact::Redactor;
use super::report::{DryStep, Reporter, StepStart};
use super::resolve::{ResolvedAction, ResolvedStep, resolve_step};
use super::scope::{Scope, StepState};
use super::stream::{StreamKind, StreamSink};
use super::template::Renderer;
use crate::archive::store;
use crate::archive::writer::RunArchive;
use crate::model::alerting::unattended_refusal;
use crate::model::matcher::{Matcher, Unit};
use crate::model::probe::Probe;
use crate::model::slug::is_identifier;
use crate::model::step::{Action, Severity, Step};
use crate::model::suggest::closest;
use crate::model::template::Template;
use crate::model::{Body, Kb, Runbook};
use crate::record::CheckResult;
use crate::record::{
    Finding, Host, Outcome, RunOptions, RunRecord, RunbookRef, SCHEMA, StepRecord, StreamRecord, Verdict,
};
use crate::util::text::file_safe;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What `runbook exec` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// `--var name=value`, in order.
    pub vars: Vec<(String, String)>,
    pub yes: bool,
    pub dry_run: bool,
    pub from: Option<String>,
    pub only: Vec<String>,
    pub resume: bool,
    /// Write an archive (false with `--no-archive`).
    pub archive: bool,
    pub archives_dir: PathBuf,
    /// `--secret NAME`: more env vars whose values are redacted.
    pub secret_names: Vec<String>,
    /// Where `runbook` was started: the default working directory of steps.
    pub cwd: PathBuf,
    /// `--diagnose`: run only the steps that change nothing and need no person.
    pub diagnose: bool,
    /// `--trigger`: what started the run, recorded in `run.json`.
    pub trigger: Option<crate::record::Trigger>,
}

/// Input that makes the run impossible: nothing has run (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub message: String,
    pub hint: Option<String>,
}

fn invalid(message: impl Into<String>, hint: Option<String>) -> Invalid {
    Invalid { message: message.into(), hint }
}

/// How a run ended.
#[derive(Debug)]
pub struct RunOutcome {
    pub record: RunRecord,
    pub archive_dir: Option<PathBuf>,
    /// Why the archive is missing or incomplete, if it is.
    pub archive_error: Option<String>,
}

/// What to do with each step.
enum Plan {
    Run,
    Skip(String),
    /// A step that passed in the run being resumed.
    Carry(Box<StepRecord>),
}

/// Runs `rb` (already checked for errors by the caller).
pub fn execute(
    kb: &Kb,
    rb: &Runbook,
    body: &Body,
    opts: &ExecOptions,
    reporter: &mut dyn Reporter,
    interrupted: &AtomicBool,
    gpu: Arc<dyn GpuSource>,
) -> Result<RunOutcome, Invalid> {
    let vars = resolve_vars(kb, rb, &opts.vars)?;
    let secret_names: BTreeSet<&str> =
        kb.config.secrets.iter().chain(&rb.secrets).chain(&opts.secret_names).map(String::as_str).collect();
    let redactor = Redactor::new(secret_names.iter().filter_map(|name| std::env::var(name).ok()));
    let host = host();
    let mut scope = Scope::new(&vars, &host);
    let mut plans = plan(body, opts)?;
    let mut resumed_from = None;
    if opts.resume {
        let (carried, from) = carry_over(rb, body, opts, &mut scope)?;
        for (plan, carried) in plans.iter_mut().zip(carried) {
            if let Some(record) = carried {
                *plan = Plan::Carry(Box::new(record));
            }
        }
        resumed_from = Some(from);
    }
    let setup = Setup {
        capture_names: body.steps.iter().flat_map(|s| s.capture_names()).map(str::to_string).collect(),
        redactor,
        scope,
        host,
        vars,
        resumed_from,
    };
    let engine = Engine::new(rb, body, opts, reporter, interrupted, gpu, setup);
    if opts.dry_run { engine.dry_run(&plans) } else { engine.run(plans) }
}

/// What the engine starts from, prepared by [`execute`].
struct Setup {
    redactor: Redactor,
    scope: Scope,
    capture_names: BTreeSet<String>,
    host: Host,
    vars: BTreeMap<String, serde_json::Value>,
    resumed_from: Option<String>,
}

/// Variables: `runbook.toml`, then front matter, then `--var` (only for declared names).
fn resolve_vars(
    kb: &Kb,
    rb: &Runbook,
    overrides: &[(String, String)],
) -> Result<BTreeMap<String, serde_json::Value>, Invalid> {
    let mut vars = kb.config.vars.clone();
    vars.extend(rb.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    for (name, value) in overrides {
        if !is_identifier(name) {
            return Err(invalid(format!("bad variable name `{name}` in --var"), Some("write --var name=value".into())));
        }
        if !vars.contains_key(name) {
            let declared: Vec<&str> = vars.keys().map(String::as_str).collect();
            let hint = match closest(name, declared.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None if declared.is_empty() => format!("{} declares no variables", rb.id),
                None => format!("{} declares: {}", rb.id, declared.join(", ")),
            };
            return Err(invalid(format!("unknown variable `{name}` for {}", rb.id), Some(hint)));
        }
        vars.insert(name.clone(), serde_json::Value::String(value.clone()));
    }
    Ok(vars)
}

/// Which steps run, from `--from` and `--only`.
fn plan(body: &Body, opts: &ExecOptions) -> Result<Vec<Plan>, Invalid> {
    let ids: Vec<&str> = body.steps.iter().map(|s| s.id.as_str()).collect();
    let known = |id: &str, flag: &str| -> Result<(), Invalid> {
        if body.step(id).is_some() {
            return Ok(());
        }
        let hint = match closest(id, ids.iter().copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("steps: {}", ids.join(", ")),
        };
        Err(invalid(format!("no step `{id}` for {flag}"), Some(hint)))
    };
    if let Some(from) = &opts.from {
        known(from, "--from")?;
    }
    for only in &opts.only {
        known(only, "--only")?;
    }
    let start = opts
        .from
        .as_ref()
        .and_then(|from| body.steps.iter().position(|s| s.id.eq_ignore_ascii_case(from)))
        .unwrap_or(0);
    let plans = body
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            if i < start {
                Plan::Skip(format!("before --from {}", opts.from.as_deref().unwrap_or_default()))
            } else if !opts.only.is_empty() && !opts.only.iter().any(|o| o.eq_ignore_ascii_case(&step.id)) {
                Plan::Skip("not selected by --only".into())
            } else if let Some(why) = opts.diagnose.then(|| unattended_refusal(step)).flatten() {
                Plan::Skip(format!("not run by --diagnose: {why}"))
            } else {
                Plan::Run
            }
        })
        .collect();
    Ok(plans)
}

/// For `--resume`: the steps of the latest run that passed, carried over with their results,
/// up to the first one that did not. Refused when the runbook changed since.
fn carry_over(
    rb: &Runbook,
    body: &Body,
    opts: &ExecOptions,
    scope: &mut Scope,
) -> Result<(Vec<Option<StepRecord>>, String), Invalid> {
    let runs = store::list(&opts.archives_dir);
    let previous = runs
        .iter()
        .filter_map(|r| r.record.as_ref().ok())
        .find(|r| r.runbook.id == rb.id)
        .ok_or_else(|| invalid(format!("nothing to resume: no earlier run of {}", rb.id), None))?;
    if matches!(previous.verdict, Verdict::Passed | Verdict::Warning) {
        return Err(invalid(
            format!(
                "nothing to resume: the latest run of {} ({}) ended {}",
                rb.id,
                previous.run_id,
                previous.verdict.as_str()
            ),
            Some(format!("run it again with `runbook exec {}`", rb.id)),
        ));
    }
    if previous.runbook.sha256 != body.sha256 {
        return Err(invalid(
            format!("{} changed since run {}: resuming would mix two versions of it", rb.id, previous.run_id),
            Some(format!("start a fresh run with `runbook exec {}`", rb.id)),
        ));
    }
    let mut carried = Vec::with_capacity(body.steps.len());
    let mut carrying = true;
    for step in &body.steps {
        let before = previous.steps.iter().find(|s| s.id == step.id).filter(|s| s.passed());
        match (carrying, before) {
            (true, Some(record)) => {
                for (name, value) in &record.captures {
                    scope.capture(name, value);
                }
                scope.record_step(
                    &step.id,
                    StepState {
                        passed: true,
                        status: "passed".into(),
                        exit: record.exit_code,
                        stdout: record.stdout_tail.clone(),
                    },
                );
                let mut record = record.clone();
                record.resumed = true;
                carried.push(Some(record));
            }
            _ => {
                carrying = false;
                carried.push(None);
            }
        }
    }
    Ok((carried, previous.run_id.clone()))
}

fn host() -> Host {
    Host {
        name: gethostname::gethostname().to_string_lossy().into_owned(),
        os: std::env::consts::OS.to_string(),
        arch: std::env::consts::ARCH.to_string(),
    }
}

fn user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid {}", rustix::process::getuid().as_raw()))
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn rfc3339(ts: jiff::Timestamp) -> String {
    ts.round(jiff::Unit::Millisecond).unwrap_or(ts).to_string()
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

struct Engine<'a> {
    rb: &'a Runbook,
    body: &'a Body,
    opts: &'a ExecOptions,
    reporter: &'a mut dyn Reporter,
    interrupted: &'a AtomicBool,
    gpu: Arc<dyn GpuSource>,
    redactor: Redactor,
    renderer: Renderer,
    scope: Scope,
    /// Every name a step of this runbook captures: templates reading them are rendered late.
    capture_names: BTreeSet<String>,
    record: RunRecord,
    archive: Option<RunArchive>,
    archive_error: Option<String>,
    shell: Vec<String>,
    /// The start of the last step's stdout, for `steps.<id>.stdout`.
    last_stdout: String,
}

impl<'a> Engine<'a> {
    fn new(
        rb: &'a Runbook,
        body: &'a Body,
        opts: &'a ExecOptions,
        reporter: &'a mut dyn Reporter,
        interrupted: &'a AtomicBool,
        gpu: Arc<dyn GpuSource>,
        setup: Setup,
    ) -> Engine<'a> {
        let Setup { redactor, scope, capture_names, host, vars, resumed_from } = setup;
        let started = now();
        let run_id = format!("{}-{}", started.strftime("%Y%m%dT%H%M%SZ"), file_safe(&rb.id));
        let vars = vars
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => serde_json::Value::String(redactor.redact(&s).into_owned()),
                    other => other,
                };
                (k, v)
            })
            .collect();
        let record = RunRecord {
            schema: SCHEMA,
            run_id,
            runbook: RunbookRef {
                id: rb.id.clone(),
                title: rb.title.clone(),
                path: rb.path.clone(),
                sha256: body.sha256.clone(),
            },
            engine: crate::record::Engine { name: "runbook".into(), version: env!("CARGO_PKG_VERSION").into() },
            host,
            user: user(),
            started_at: rfc3339(started),
            finished_at: None,
            duration_ms: 0,
            options: RunOptions {
                yes: opts.yes,
                from: opts.from.clone(),
                only: opts.only.clone(),
                resumed_from,
                interactive: false,
                diagnose: opts.diagnose,
            },
            trigger: opts.trigger.clone(),
            vars,
            verdict: Verdict::Running,
            steps: Vec::new(),
            findings: Vec::new(),
        };
        Engine {
            rb,
            body,
            opts,
            reporter,
            interrupted,
            gpu,
            redactor,
            renderer: Renderer::new(),
            scope,
            capture_names,
            record,
            archive: None,
            archive_error: None,
            shell: default_shell(),
            last_stdout: String::new(),
        }
    }

    /// True when `template` reads what earlier steps produce, so it can only be rendered late.
    fn is_dynamic(&self, template: &Template) -> bool {
        template.references.iter().any(|r| {
            let root = r.split('.').next().unwrap_or_default();
            root == "steps" || self.capture_names.contains(root)
        })
    }

    /// Renders what can be rendered before anything runs; dynamic templates stay as written.
    fn resolve_early(&self, step: &Step) -> Result<ResolvedStep, String> {
        let scope = self.scope.value();
        resolve_step(step, &|t: &Template| {
            if self.is_dynamic(t) { Ok(None) } else { self.renderer.render(t, &scope).map(Some) }
        })
    }

    fn dry_run(mut self, plans: &[Plan]) -> Result<RunOutcome, Invalid> {
        let total = self.body.steps.len();
        let mut errors = Vec::new();
        for (number, (step, plan)) in self.body.steps.iter().zip(plans).enumerate() {
            let resolved = match self.resolve_early(step) {
                Ok(resolved) => resolved,
                Err(err) => {
                    errors.push(format!("step `{}`: {err}", step.id));
                    continue;
                }
            };
            let mut notes = Vec::new();
            if let Plan::Skip(reason) = plan {
                notes.push(format!("skipped: {reason}"));
            }
            if let Some(when) = &step.when {
                notes.push(format!("when: {}", when.source));
            }
            if let Some(confirm) = &resolved.confirm {
                notes.push(format!("asks first: {confirm}"));
            }
            notes.push(format!(
                "{} · timeout {}{}{}",
                step.severity.as_str(),
                step.timeout,
                step.retry.map(|r| format!(" · retry {}× every {}", r.attempts, r.delay)).unwrap_or_default(),
                if step.continue_on_error { " · continue on error" } else { "" }
            ));
            for (key, value) in &resolved.env {
                notes.push(format!("env {key}={}", self.redactor.redact(value)));
            }
            if let Some(cwd) = &resolved.cwd {
                notes.push(format!("cwd {cwd}"));
            }
            let command = self.redactor.redact(&resolved.command()).into_owned();
            let checks = resolved_checks(step, &resolved);
            self.reporter.dry_run_step(
                number + 1,
                total,
                &DryStep { id: &step.id, name: &resolved.name, kind: step.kind(), command: &command, checks, notes },
            );
        }
        if let Some(first) = errors.first() {
            return Err(invalid(
                format!("{} of {} steps cannot be rendered: {first}", errors.len(), total),
                Some("fix the template, or pass the missing value with --var name=value".into()),
            ));
        }
        self.record.verdict = Verdict::Passed;
        Ok(RunOutcome { record: self.record, archive_dir: None, archive_error: None })
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
        process::become_subreaper();
        self.open_archive();
        let total = self.body.steps.len();
        let archive_dir = self.archive.as_ref().map(|a| a.dir().to_path_buf());
        self.reporter.run_started(&self.record, total, archive_dir.as_deref());
        let started = Instant::now();
        let mut stop: Option<String> = None;
        for (index, (step, plan)) in self.body.steps.iter().zip(plans).enumerate() {
            let number = index + 1;
            let record = if self.interrupted.load(Ordering::SeqCst) {
                skipped(step, "not run: the run was interrupted".into())
            } else if let Some(reason) = &stop {
                skipped(step, reason.clone())
            } else {
                match plan {
                    Plan::Skip(reason) => skipped(step, reason),
                    Plan::Carry(record) => *record,
                    Plan::Run => self.run_step(number, total, step),
                }
            };
            if record.outcome.is_failure()
                && step.severity == Severity::Critical
                && !step.continue_on_error
                && stop.is_none()
                && record.outcome != Outcome::Interrupted
            {
                stop = Some(format!("not run: step `{}` failed", step.id));
            }
            // What later templates see as `steps.<id>` (carried steps were restored already).
            let stdout = std::mem::take(&mut self.last_stdout);
            if !record.resumed {
                self.scope.record_step(
                    &step.id,
                    StepState {
                        passed: record.passed(),
                        status: record.outcome.as_str().into(),
                        exit: record.exit_code,
                        stdout,
                    },
                );
            }
            self.reporter.step_finished(number, total, &record);
            self.record.steps.push(record);
            self.record.duration_ms = ms(started.elapsed());
            self.save(false);
            process::reap_orphans();
        }
        self.finish(started);
        self.save(true);
        let archive_dir = self.archive.as_ref().map(|a| a.dir().to_path_buf());
        self.reporter.run_finished(&self.record, archive_dir.as_deref());
        Ok(RunOutcome { record: self.record, archive_dir, archive_error: self.archive_error })
    }

    fn open_archive(&mut self) {
        if !self.opts.archive {
            return;
        }
        match RunArchive::create(&self.opts.archives_dir, &self.record.run_id) {
            Ok((archive, run_id)) => {
                self.record.run_id = run_id;
                self.archive = Some(archive);
                self.save(false);
            }
            Err(err) => {
                self.archive_failed(format!("cannot create the archive in {}: {err}", self.opts.archives_dir.display()))
            }
        }
    }

    fn archive_failed(&mut self, message: String) {
        if self.archive_error.is_none() {
            self.reporter.notice(&format!("{message} — the run goes on without a complete record"));
            self.archive_error = Some(message);
        }
    }

    /// Rewrites `run.json` (and at the end `run.md`).
    fn save(&mut self, last: bool) {
        let Some(archive) = &mut self.archive else { return };
        let mut result = archive.write_record(&self.record, last);
        if last && result.is_ok() {
            result = archive.write_markdown(&self.record);
        }
        if let Err(err) = result {
            let message = format!("cannot write the archive in {}: {err}", archive.dir().display());
            self.archive_failed(message);
        }
    }

    fn finish(&mut self, started: Instant) {
        self.record.finished_at = Some(rfc3339(now()));
        self.record.duration_ms = ms(started.elapsed());
        self.record.findings = self
            .record
            .steps
            .iter()
            .filter(|s| s.outcome.is_failure())
            .map(|s| Finding {
                step: s.id.clone(),
                severity: s.severity.clone(),
                outcome: s.outcome,
                message: s.why().unwrap_or_else(|| s.outcome.as_str().into()),
            })
            .collect();
        let failures = |critical: bool| {
            self.record.steps.iter().any(|s| s.outcome.is_failure() && (s.severity == "critical") == critical)
        };
        self.record.verdict = if self.interrupted.load(Ordering::SeqCst)
            || self.record.steps.iter().any(|s| s.outcome == Outcome::Interrupted)
        {
            Verdict::Interrupted
        } else if failures(true) {
            Verdict::Failed
        } else if failures(false) {
            Verdict::Warning
        } else {
            Verdict::Passed
        };
    }

    fn run_step(&mut self, number: usize, total: usize, step: &Step) -> StepRecord {
        let started_at = now();
        // A cell: the clock restarts once a person has answered `confirm`, so the duration is the
        // step's own time, not the time it waited for an answer.
        let clock = std::cell::Cell::new(Instant::now());
        let mut record = base_record(step);
        record.started_at = Some(rfc3339(started_at));
        // The name as people should read it, even if the step never gets to run.
        if let Ok(name) = self.renderer.render(&step.name, &self.scope.value()) {
            record.name = self.redactor.redact(&name).into_owned();
        }
        let finish = |mut record: StepRecord| {
            record.finished_at = Some(rfc3339(now()));
            record.duration_ms = ms(clock.get().elapsed());
            record
        };

        if let Some(when) = &step.when {
            match self.renderer.truthy(when, &self.scope.value()) {
                Ok(true) => {}
                Ok(false) => {
                    let reason = format!("`when: {}` is false", when.source);
                    return finish(StepRecord { outcome: Outcome::Skipped, reason: Some(reason), ..record });
                }
                Err(err) => return finish(errored(record, err)),
            }
        }
        let scope = self.scope.value();
        let resolved = match resolve_step(step, &|t: &Template| self.renderer.render(t, &scope).map(Some)) {
            Ok(resolved) => resolved,
            Err(err) => return finish(errored(record, self.redactor.redact(&err).into_owned())),
        };
        record.name = self.redactor.redact(&resolved.name).into_owned();
        record.command = Some(self.redactor.redact(&resolved.command()).into_owned());

        if let Some(question) = &resolved.confirm {
            match self.confirm(question) {
                Confirmation::Yes(by) => {
                    record.confirmed_by = Some(by);
                    clock.set(Instant::now());
                    record.started_at = Some(rfc3339(now()));
                }
                Confirmation::No(reason) => {
                    return finish(StepRecord { reason: Some(reason), ..skipped(step, String::new()) });
                }
                Confirmation::Interrupted => return finish(interrupted_record(record)),
            }
        }
        self.reporter.step_started(
            number,
            total,
            &StepStart { id: &step.id, name: &record.name, kind: step.kind(), command: record.command.as_deref() },
        );
        let attempts = step.retry.map(|r| r.attempts.max(1)).unwrap_or(1);
        let delay = step.retry.map(|r| r.delay.as_std()).unwrap_or_default();
        let logs = self.open_logs(number, &step.id);
        for attempt in 1..=attempts {
            if attempt > 1 {
                self.reporter.attempt(&step.id, attempt, attempts);
                if !self.sleep(delay) {
                    return finish(interrupted_record(record));
                }
                logs.separator(attempt);
            }
            record.attempts = attempt;
            self.attempt(step, &resolved, &mut record, &logs);
            if record.outcome != Outcome::Failed && record.outcome != Outcome::TimedOut {
                break;
            }
        }
        record.stdout.file = StepLogs::written(&logs.stdout);
        record.stderr.file = StepLogs::written(&logs.stderr);
        finish(record)
    }

    /// One attempt of the step's action and asserts; leaves the result in `record`.
    fn attempt(&mut self, step: &Step, resolved: &ResolvedStep, record: &mut StepRecord, logs: &StepLogs) {
        record.checks.clear();
        record.observed.clear();
        record.captures.clear();
        record.reason = None;
        let mut stdout_head = String::new();
        match &resolved.action {
            ResolvedAction::Run { script, shell, expect, captures } => {
                let spawn = self.spawn(step, resolved, script, shell);
                let scanner =
                    |m: &Option<crate::model::matcher::LinesMatcher>, label: &str| match m.as_ref().map(|m| &m.0) {
                        Some(Matcher::Lines(patterns)) => LineScanner::new(label, patterns).ok(),
                        _ => None,
                    };
                let stdout = StreamSink {
                    kind: StreamKind::Stdout,
                    redactor: self.redactor.clone(),
                    log: logs.stdout_path(),
                    scanner: scanner(&expect.stdout, "stdout"),
                    captures: captures.clone(),
                    keep_head: true,
                };
                let stderr = StreamSink {
                    kind: StreamKind::Stderr,
                    redactor: self.redactor.clone(),
                    log: logs.stderr_path(),
                    scanner: scanner(&expect.stderr, "stderr"),
                    captures: Vec::new(),
                    keep_head: false,
                };
                let step_id = step.id.clone();
                let reporter = &mut *self.reporter;
                let finished =
                    process::run(spawn, step.timeout.as_std(), stdout, stderr, self.interrupted, &mut |kind, line| {
                        reporter.output(&step_id, kind, line)
                    });
                let finished = match finished {
                    Ok(finished) => finished,
                    Err(err) => {
                        record.outcome = Outcome::Error;
                        record.reason = Some(err);
                        return;
                    }
                };
                record.exit_code = finished.exit_code;
                record.signal = finished.signal;
                record.stdout_tail = finished.stdout.tail.clone();
                record.stderr_tail = finished.stderr.tail.clone();
                record.stdout =
                    StreamRecord { bytes: finished.stdout.bytes, truncated: finished.stdout.truncated, file: None };
                record.stderr =
                    StreamRecord { bytes: finished.stderr.bytes, truncated: finished.stderr.truncated, file: None };
                for problem in [&finished.stdout.log_error, &finished.stderr.log_error].into_iter().flatten() {
                    self.archive_failed(format!("cannot write the step log: {problem}"));
                }
                if finished.interrupted {
                    record.outcome = Outcome::Interrupted;
                    record.reason = Some("interrupted; the step's processes were stopped".into());
                    return;
                }
                if finished.timed_out {
                    record.outcome = Outcome::TimedOut;
                    record.reason = Some(format!("timed out after {}; the step's processes were killed", step.timeout));
                    return;
                }
                let mut exit = exit_check(&expect.exit, finished.exit_code, finished.signal);
                if !exit.passed {
                    // The script's own last words usually say why; put them next to the code.
                    let last = last_line(&finished.stderr.tail).or_else(|| last_line(&finished.stdout.tail));
                    if let Some(last) = last {
                        exit.message = format!("{} — {last}", exit.message);
                    }
                }
                record.checks.push(exit);
                record.checks.extend(finished.stdout.checks.iter().cloned());
                record.checks.extend(finished.stderr.checks.iter().cloned());
                for (name, value) in &finished.stdout.captures {
                    match value {
                        Some(value) => {
                            record.captures.insert(name.clone(), value.clone());
                        }
                        None => {
                            let regex = captures.iter().find(|(n, _)| n == name).map(|(_, r)| r.as_str()).unwrap_or("");
                            record.checks.push(CheckResult::new(
                                &format!("capture `{name}`"),
                                format!("a line of stdout matching /{regex}/"),
                                "no line matched".into(),
                                false,
                            ));
                        }
                    }
                }
                stdout_head = finished.stdout.head;
            }
            ResolvedAction::Probe(probe) => {
                let outcome = match self.probe(probe, resolved, step.timeout.as_std()) {
                    Some(outcome) => outcome,
                    None if self.interrupted.load(Ordering::SeqCst) => {
                        record.outcome = Outcome::Interrupted;
                        record.reason = Some("interrupted while the probe ran".into());
                        return;
                    }
                    None => {
                        record.outcome = Outcome::TimedOut;
                        record.reason =
                            Some(format!("the {} probe did not answer within {}", probe.kind(), step.timeout));
                        return;
                    }
                };
                let mut observed = String::new();
                for line in &outcome.observed {
                    let line = self.redactor.redact(line).into_owned();
                    self.reporter.output(&step.id, StreamKind::Stdout, &line);
                    logs.write_stdout(&line);
                    observed.push_str(&line);
                    observed.push('\n');
                }
                record.stdout_tail = observed.trim_end().to_string();
                record.stdout = StreamRecord { bytes: observed.len() as u64, truncated: false, file: None };
                record.checks = outcome
                    .checks
                    .iter()
                    .map(|c| CheckResult {
                        expected: self.redactor.redact(&c.expected).into_owned(),
                        actual: self.redactor.redact(&c.actual).into_owned(),
                        passed: c.passed,
                        message: self.redactor.redact(&c.message).into_owned(),
                    })
                    .collect();
                record.observed = outcome.values.clone();
                match outcome.status {
                    ProbeStatus::Done => {}
                    ProbeStatus::Skipped(reason) => {
                        record.outcome = Outcome::Skipped;
                        record.reason = Some(reason);
                        return;
                    }
                    ProbeStatus::Error(reason) => {
                        record.outcome = Outcome::Error;
                        record.reason = Some(self.redactor.redact(&reason).into_owned());
                        return;
                    }
                }
                stdout_head = observed;
            }
            ResolvedAction::Manual(instruction) => {
                for line in instruction.lines() {
                    self.reporter.output(&step.id, StreamKind::Stdout, line);
                }
                match self.reporter.ask("Done?", self.interrupted) {
                    Some(true) => record.confirmed_by = Some(confirmed_by()),
                    Some(false) => {
                        record.outcome = Outcome::Failed;
                        record.reason = Some("the person running it said it is not done".into());
                        return;
                    }
                    None if self.interrupted.load(Ordering::SeqCst) => {
                        record.outcome = Outcome::Interrupted;
                        return;
                    }
                    None => {
                        record.outcome = Outcome::Skipped;
                        record.reason = Some("needs a person at a terminal (manual step)".into());
                        return;
                    }
                }
            }
        }
        let passed = record.checks.iter().all(|c| c.passed);
        for (name, value) in &record.captures {
            self.scope.capture(name, value);
        }
        if !step.assertions.is_empty() {
            // Asserts see the step's own results.
            self.scope.record_step(
                &step.id,
                StepState {
                    passed,
                    status: if passed { "passed" } else { "failed" }.into(),
                    exit: record.exit_code,
                    stdout: stdout_head.clone(),
                },
            );
            let scope = self.scope.value();
            for assertion in &step.assertions {
                let check = match self.renderer.truthy(assertion, &scope) {
                    Ok(holds) => CheckResult::new(
                        "assert",
                        assertion.source.clone(),
                        if holds { "true".into() } else { "false".into() },
                        holds,
                    ),
                    Err(err) => CheckResult::failed("assert", assertion.source.clone(), err),
                };
                record.checks.push(check);
            }
        }
        let passed = record.checks.iter().all(|c| c.passed);
        record.outcome = if passed { Outcome::Passed } else { Outcome::Failed };
        self.last_stdout = stdout_head;
    }

    /// Runs a probe on its own thread, so a hung NVML call or a dead NFS mount cannot outlive
    /// the step's timeout or Ctrl-C (the thread is abandoned then). `None` on timeout/interrupt.
    fn probe(&self, probe: &Probe, resolved: &ResolvedStep, timeout: Duration) -> Option<probe::ProbeOutcome> {
        let (tx, rx) = std::sync::mpsc::channel();
        let probe = probe.clone();
        let cwd = self.step_cwd(resolved);
        let gpu = Arc::clone(&self.gpu);
        std::thread::spawn(move || {
            let env = ProbeEnv { cwd: &cwd, gpu: &*gpu, timeout };
            let _ = tx.send(probe::run(&probe, &env));
        });
        let deadline = Instant::now() + timeout;
        loop {
            if self.interrupted.load(Ordering::SeqCst) {
                return None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            match rx.recv_timeout(left.min(Duration::from_millis(50))) {
                Ok(outcome) => return Some(outcome),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Some(probe::ProbeOutcome::error("the probe stopped unexpectedly"));
                }
            }
        }
    }

    fn step_cwd(&self, resolved: &ResolvedStep) -> PathBuf {
        match &resolved.cwd {
            Some(dir) => self.opts.cwd.join(dir),
            None => self.opts.cwd.clone(),
        }
    }

    fn spawn(&self, step: &Step, resolved: &ResolvedStep, script: &str, shell: &[String]) -> Spawn {
        let (program, mut args) = if shell.is_empty() {
            (self.shell[0].clone(), self.shell[1..].to_vec())
        } else {
            (shell[0].clone(), shell[1..].to_vec())
        };
        args.push(script.to_string());
        if shell.is_empty() {
            // `$0` of the script: error messages then name the step.
            args.push(step.id.clone());
        }
        let mut env = resolved.env.clone();
        env.push(("RUNBOOK_RUN_ID".into(), self.record.run_id.clone()));
        env.push(("RUNBOOK_RUNBOOK".into(), self.rb.id.clone()));
        env.push(("RUNBOOK_STEP".into(), step.id.clone()));
        Spawn { program, args, env, cwd: self.step_cwd(resolved) }
    }

    fn confirm(&mut self, question: &str) -> Confirmation {
        if self.opts.yes {
            return Confirmation::Yes(format!("--yes ({})", confirmed_by()));
        }
        match self.reporter.ask(question, self.interrupted) {
            Some(true) => Confirmation::Yes(confirmed_by()),
            Some(false) => Confirmation::No(format!("declined: {question}")),
            None if self.interrupted.load(Ordering::SeqCst) => Confirmation::Interrupted,
            None => Confirmation::No(format!("needs confirmation: {question} (run it in a terminal, or pass --yes)")),
        }
    }

    /// Sleeps between attempts; false when interrupted meanwhile.
    fn sleep(&self, duration: Duration) -> bool {
        let until = Instant::now() + duration;
        while Instant::now() < until {
            if self.interrupted.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())));
        }
        !self.interrupted.load(Ordering::SeqCst)
    }

    fn open_logs(&mut self, number: usize, step_id: &str) -> StepLogs {
        let Some(archive) = &self.archive else {
            return StepLogs::default();
        };
        StepLogs {
            stdout: Some(archive.step_log(number, step_id, "stdout")),
            stderr: Some(archive.step_log(number, step_id, "stderr")),
        }
    }
}

enum Confirmation {
    Yes(String),
    No(String),
    Interrupted,
}

/// Where one step's logs go (nothing without an archive): full path and run-relative path.
#[derive(Default)]
struct StepLogs {
    stdout: Option<(PathBuf, String)>,
    stderr: Option<(PathBuf, String)>,
}

impl StepLogs {
    fn stdout_path(&self) -> Option<PathBuf> {
        self.stdout.as_ref().map(|(path, _)| path.clone())
    }

    fn stderr_path(&self) -> Option<PathBuf> {
        self.stderr.as_ref().map(|(path, _)| path.clone())
    }

    /// The run-relative names of the logs that were written.
    fn written(log: &Option<(PathBuf, String)>) -> Option<String> {
        log.as_ref().filter(|(path, _)| path.exists()).map(|(_, relative)| relative.clone())
    }

    fn write_stdout(&self, line: &str) {
        use std::io::Write;
        if let Some((path, _)) = &self.stdout
            && let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path)
        {
            let _ = writeln!(file, "{line}");
        }
    }

    /// Marks where a retry begins, in logs that already hold output.
    fn separator(&self, attempt: u32) {
        use std::io::Write;
        for (path, _) in [&self.stdout, &self.stderr].into_iter().flatten() {
            if path.exists()
                && let Ok(mut file) = std::fs::OpenOptions::new().append(true).open(path)
            {
                let _ = writeln!(file, "──── attempt {attempt} ────");
            }
        }
    }
}

fn confirmed_by() -> String {
    format!("{} at {}", user(), rfc3339(now()))
}

fn default_shell() -> Vec<String> {
    let bash = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join("bash")).find(|p| p.is_file()));
    let words: &[&str] =
        if bash.is_some() { &["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"] } else { &["sh", "-e", "-c"] };
    let mut words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    // The full path: spawning by name would search PATH again for every step.
    if let Some(bash) = bash {
        words[0] = bash.display().to_string();
    }
    words
}

fn base_record(step: &Step) -> StepRecord {
    StepRecord {
        id: step.id.clone(),
        name: step.name.source.clone(),
        kind: step.kind().to_string(),
        severity: step.severity.as_str().to_string(),
        command: None,
        outcome: Outcome::Skipped,
        reason: None,
        started_at: None,
        finished_at: None,
        duration_ms: 0,
        exit_code: None,
        signal: None,
        attempts: 0,
        checks: Vec::new(),
        observed: Vec::new(),
        captures: BTreeMap::new(),
        confirmed_by: None,
        stdout_tail: String::new(),
        stderr_tail: String::new(),
        stdout: StreamRecord::default(),
        stderr: StreamRecord::default(),
        resumed: false,
    }
}

fn skipped(step: &Step, reason: String) -> StepRecord {
    StepRecord { outcome: Outcome::Skipped, reason: Some(reason), ..base_record(step) }
}

fn errored(record: StepRecord, reason: String) -> StepRecord {
    StepRecord { outcome: Outcome::Error, reason: Some(reason), ..record }
}

fn interrupted_record(record: StepRecord) -> StepRecord {
    StepRecord { outcome: Outcome::Interrupted, reason: Some("interrupted".into()), ..record }
}

fn exit_check(expect: &crate::model::step::ExitExpect, code: Option<i32>, signal: Option<i32>) -> CheckResult {
    let expected = expect.to_string();
    match (code, signal) {
        (Some(code), _) => {
            CheckResult::new("exit code", expected_code(&expected), code.to_string(), expect.accepts(code))
        }
        (None, Some(signal)) => {
            CheckResult::failed("exit code", expected_code(&expected), format!("killed by signal {signal}"))
        }
        (None, None) => CheckResult::failed("exit code", expected_code(&expected), "no exit status".into()),
    }
}

/// The last non-blank line of some output, shortened.
fn last_line(tail: &str) -> Option<String> {
    tail.lines().rev().map(str::trim).find(|l| !l.is_empty()).map(super::check::excerpt)
}

/// `exit code 0` → `0` (the label already says "exit code").
fn expected_code(text: &str) -> String {
    text.strip_prefix("exit code ").unwrap_or(text).to_string()
}

/// The checks of a resolved step in words, for `--dry-run`.
fn resolved_checks(step: &Step, resolved: &ResolvedStep) -> Vec<String> {
    let mut checks = match &resolved.action {
        ResolvedAction::Run { expect, captures, .. } => {
            let mut out = vec![expect.exit.to_string()];
            if let Some(m) = &expect.stdout {
                out.push(format!("stdout {}", m.0.describe(Unit::Plain)));
            }
            if let Some(m) = &expect.stderr {
                out.push(format!("stderr {}", m.0.describe(Unit::Plain)));
            }
            out.extend(captures.iter().map(|(name, regex)| format!("captures `{name}` from /{}/", regex.as_str())));
            out
        }
        ResolvedAction::Probe(probe) => probe.expectations(),
        ResolvedAction::Manual(_) => vec!["a person confirms it is done".into()],
    };
    if matches!(step.action, Action::Run(_)) {
        checks.dedup();
    }
    checks.extend(step.assertions.iter().map(|a| format!("assert {}", a.source)));
    checks
}
