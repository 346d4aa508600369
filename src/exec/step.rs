//! One step of a run, from its `when` to its record: render it, ask `confirm`, run its attempts
//! (`retry`), and judge each attempt — redaction of everything recorded, the asserts, the
//! outcome — in [`Engine::judge`], the one place that does it for every kind of step.

use super::attempt::{Attempt, AttemptIo, Ending, Output, Script, run_manual, run_probe, run_script};
use super::context::Stopwatch;
use super::engine::Engine;
use super::logs::StepLogs;
use super::probe::ProbeWorld;
use super::process::Spawn;
use super::report::StepStart;
use super::resolve::{ResolvedAction, ResolvedStep, resolve_step};
use super::scope::StepState;
use super::stream::StreamKind;
use crate::model::step::Step;
use crate::model::template::Template;
use crate::record::{CheckResult, Observation, Outcome, StepRecord, StreamRecord};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A finished step: its record, and the start of its stdout for `steps.<id>.stdout`.
pub(super) struct StepRun {
    pub record: StepRecord,
    pub stdout_head: String,
    /// The step's host could not be reached, or the connection dropped (DESIGN §17): why.
    pub unreachable: Option<String>,
}

impl From<StepRecord> for StepRun {
    fn from(record: StepRecord) -> StepRun {
        StepRun { record, stdout_head: String::new(), unreachable: None }
    }
}

/// An attempt judged: what the record keeps of it.
struct Judged {
    outcome: Outcome,
    reason: Option<String>,
    checks: Vec<CheckResult>,
    observed: Vec<Observation>,
    captures: BTreeMap<String, String>,
    exit_code: Option<i32>,
    signal: Option<i32>,
    stdout: Output,
    stderr: Output,
    stdout_head: String,
    confirmed_by: Option<String>,
    unreachable: Option<String>,
}

enum Confirmation {
    Yes(String),
    No(String),
    Interrupted,
}

impl Engine<'_> {
    /// Runs step number `number` (1-based) of `total`.
    pub(super) fn run_step(&mut self, number: usize, total: usize, step: &Step) -> StepRun {
        let mut watch = self.ctx.clock.stopwatch();
        let mut record = base_record(step);
        record.started_at = Some(self.ctx.clock.rfc3339());
        // The name as people should read it, even if the step never gets to run.
        if let Ok(name) = self.renderer.render(&step.name, &self.scope.value()) {
            record.name = self.redactor.redact(&name).into_owned();
        }
        let resolved = match self.prepare(step, &mut record, &mut watch) {
            Ok(resolved) => resolved,
            Err(done) => return self.stamp(*done, watch).into(),
        };
        self.reporter.step_started(
            number,
            total,
            &StepStart { id: &step.id, name: &record.name, kind: step.kind(), command: record.command.as_deref() },
        );
        let logs = self.step_logs(number, &step.id);
        let (attempts, judged) = self.attempts(step, &resolved, &logs);
        let stdout_head = judged.stdout_head.clone();
        let unreachable = judged.unreachable.clone();
        let mut record = fill(record, attempts, judged);
        record.stdout.file = logs.written(StreamKind::Stdout);
        record.stderr.file = logs.written(StreamKind::Stderr);
        StepRun { record: self.stamp(record, watch), stdout_head, unreachable }
    }

    fn stamp(&self, mut record: StepRecord, watch: Stopwatch) -> StepRecord {
        record.finished_at = Some(self.ctx.clock.rfc3339());
        record.duration_ms = watch.elapsed_ms();
        record
    }

    /// `when`, rendering and `confirm`: the step as it will run, or its finished record when it
    /// will not run. The clock restarts once a person has answered `confirm`, so the duration
    /// is the step's own time, not the time it waited for an answer.
    fn prepare(
        &mut self,
        step: &Step,
        record: &mut StepRecord,
        watch: &mut Stopwatch,
    ) -> Result<ResolvedStep, Box<StepRecord>> {
        if let Some(when) = &step.when {
            match self.renderer.truthy(when, &self.scope.value()) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(ended(record, Outcome::Skipped, format!("`when: {}` is false", when.source)));
                }
                Err(err) => return Err(ended(record, Outcome::Error, self.redactor.redact(&err).into_owned())),
            }
        }
        let scope = self.scope.value();
        let resolved = resolve_step(step, &|t: &Template| self.renderer.render(t, &scope).map(Some))
            .map_err(|err| ended(record, Outcome::Error, self.redactor.redact(&err.to_string()).into_owned()))?;
        record.name = self.redactor.redact(&resolved.name).into_owned();
        record.command = Some(self.redactor.redact(&resolved.command()).into_owned());
        if let Some(question) = &resolved.confirm {
            match self.confirm(&step.id, question) {
                Confirmation::Yes(by) => {
                    record.confirmed_by = Some(by);
                    *watch = self.ctx.clock.stopwatch();
                    record.started_at = Some(self.ctx.clock.rfc3339());
                }
                Confirmation::No(reason) => {
                    return Err(Box::new(StepRecord { reason: Some(reason), ..base_record(step) }));
                }
                Confirmation::Interrupted => return Err(ended(record, Outcome::Interrupted, "interrupted".into())),
            }
        }
        Ok(resolved)
    }

    fn confirm(&mut self, step_id: &str, question: &str) -> Confirmation {
        // A scenario answers only what it says; nobody else is asked (DESIGN §13).
        if let Some(answers) = &self.opts.answers {
            return match answers.get(step_id) {
                Some(true) => Confirmation::Yes(format!("the scenario ({})", self.ctx.confirmed_by())),
                Some(false) => Confirmation::No(format!("declined by the scenario: {question}")),
                None => Confirmation::No(format!("not answered by the scenario: {question}")),
            };
        }
        if self.opts.yes {
            return Confirmation::Yes(format!("--yes ({})", self.ctx.confirmed_by()));
        }
        match self.reporter.ask(step_id, question, self.interrupted) {
            Some(true) => Confirmation::Yes(self.ctx.confirmed_by()),
            Some(false) => Confirmation::No(format!("declined: {question}")),
            None if self.interrupted.load(Ordering::SeqCst) => Confirmation::Interrupted,
            None => Confirmation::No(format!("needs confirmation: {question} (run it in a terminal, or pass --yes)")),
        }
    }

    /// Attempts until one passes or `retry` is spent; how many ran, and the last one judged.
    fn attempts(&mut self, step: &Step, resolved: &ResolvedStep, logs: &StepLogs) -> (u32, Judged) {
        let attempts = step.retry.map(|r| r.attempts.max(1)).unwrap_or(1);
        let delay = step.retry.map(|r| r.delay.as_std()).unwrap_or_default();
        let mut number = 1;
        loop {
            let attempt = self.attempt(step, resolved, logs);
            let judged = self.judge(step, attempt);
            if number == attempts || !matches!(judged.outcome, Outcome::Failed | Outcome::TimedOut) {
                return (number, judged);
            }
            self.reporter.attempt(&step.id, number + 1, attempts);
            if !self.sleep(delay) {
                return (
                    number,
                    Judged { outcome: Outcome::Interrupted, reason: Some("interrupted".into()), ..judged },
                );
            }
            number += 1;
            logs.separator(number);
        }
    }

    /// One attempt of the step's action, by kind.
    fn attempt(&mut self, step: &Step, resolved: &ResolvedStep, logs: &StepLogs) -> Attempt {
        if let Some(remote) = self.ctx.remote.clone()
            && !matches!(resolved.action, ResolvedAction::Manual(_))
        {
            return self.remote_attempt(&remote, step, resolved, logs);
        }
        let spawn = match &resolved.action {
            ResolvedAction::Run { script, shell, .. } => Some(self.spawn(step, resolved, script, shell)),
            _ => None,
        };
        let world = self.probe_world(resolved);
        let mut io = AttemptIo {
            step_id: &step.id,
            reporter: &mut *self.reporter,
            interrupted: self.interrupted,
            redactor: &self.redactor,
            logs,
        };
        let ctx = self.ctx;
        match (&resolved.action, spawn) {
            (ResolvedAction::Run { expect, captures, .. }, Some(spawn)) => {
                let watchdog = self.watchdog.as_mut();
                run_script(Script { spawn, timeout: step.timeout, expect, captures, watchdog }, &mut io)
            }
            (ResolvedAction::Probe(probe), _) => run_probe(probe, world, step.timeout, &mut io),
            (ResolvedAction::Manual(instruction), _) => run_manual(instruction, || ctx.confirmed_by(), &mut io),
            (ResolvedAction::Run { .. }, None) => Attempt::stopped(Outcome::Error, "the script was not prepared"),
        }
    }

    /// Judges an attempt: redacts what the record keeps, evaluates the asserts over the step's
    /// own results, and decides the outcome. Every kind of step ends here.
    fn judge(&mut self, step: &Step, attempt: Attempt) -> Judged {
        for problem in &attempt.log_errors {
            self.archive.failed(format!("cannot write the step log: {problem}"), &mut *self.reporter);
        }
        // Labels carry what the step named (a path), which may hold a secret.
        let mut observed = attempt.observed;
        for label in observed.iter_mut().flat_map(|o| o.labels.values_mut()) {
            *label = self.redactor.redact(label).into_owned();
        }
        let redact = |text: &str| self.redactor.redact(text).into_owned();
        let mut checks: Vec<CheckResult> = attempt
            .checks
            .iter()
            .map(|c| CheckResult {
                expected: redact(&c.expected),
                actual: redact(&c.actual),
                passed: c.passed,
                message: redact(&c.message),
            })
            .collect();
        let (outcome, reason) = match &attempt.ending {
            Ending::Stopped(outcome, reason) => (*outcome, reason.as_deref().map(redact)),
            Ending::Ran => {
                for (name, value) in &attempt.captures {
                    self.scope.capture(name, value);
                }
                checks.extend(self.asserts(step, &checks, attempt.exit_code, &attempt.stdout_head));
                let passed = checks.iter().all(|c| c.passed);
                (if passed { Outcome::Passed } else { Outcome::Failed }, None)
            }
        };
        Judged {
            outcome,
            reason,
            checks,
            observed,
            captures: attempt.captures,
            exit_code: attempt.exit_code,
            signal: attempt.signal,
            stdout: attempt.stdout,
            stderr: attempt.stderr,
            stdout_head: attempt.stdout_head,
            confirmed_by: attempt.confirmed_by,
            unreachable: attempt.unreachable,
        }
    }

    /// The step's asserts, which see its own results (`steps.<id>`) and captures.
    fn asserts(
        &mut self,
        step: &Step,
        checks: &[CheckResult],
        exit: Option<i32>,
        stdout_head: &str,
    ) -> Vec<CheckResult> {
        if step.assertions.is_empty() {
            return Vec::new();
        }
        let passed = checks.iter().all(|c| c.passed);
        let status = if passed { Outcome::Passed } else { Outcome::Failed };
        self.scope.record_step(&step.id, StepState { passed, status, exit, stdout: stdout_head.to_string() });
        let scope = self.scope.value();
        step.assertions
            .iter()
            .map(|assertion| match self.renderer.truthy(assertion, &scope) {
                Ok(holds) => CheckResult::new(
                    "assert",
                    assertion.source.clone(),
                    if holds { "true" } else { "false" }.into(),
                    holds,
                ),
                Err(err) => CheckResult::failed("assert", assertion.source.clone(), err),
            })
            .collect()
    }

    fn step_cwd(&self, resolved: &ResolvedStep) -> std::path::PathBuf {
        match &resolved.cwd {
            Some(dir) => self.ctx.cwd.join(dir),
            None => self.ctx.cwd.clone(),
        }
    }

    fn probe_world(&self, resolved: &ResolvedStep) -> ProbeWorld {
        let mut world = ProbeWorld::new(self.step_cwd(resolved), &self.ctx.env, std::sync::Arc::clone(&self.ctx.gpu));
        world.sandbox = self.ctx.sandbox.clone();
        world
    }

    /// The process of a `run` step: its shell, the run's environment plus the step's `env`.
    fn spawn(&self, step: &Step, resolved: &ResolvedStep, script: &str, shell: &[String]) -> Spawn {
        let words = if shell.is_empty() { &self.ctx.shell } else { shell };
        let (program, args) = words.split_first().map(|(p, a)| (p.clone(), a.to_vec())).unwrap_or_default();
        let mut args = args;
        args.push(script.to_string());
        if shell.is_empty() {
            // `$0` of the script: error messages then name the step.
            args.push(step.id.clone());
        }
        let mut env = self.ctx.env.clone();
        env.extend(resolved.env.iter().cloned());
        env.insert("RUNBOOK_RUN_ID".into(), self.record.run_id.clone());
        env.insert("RUNBOOK_RUNBOOK".into(), self.rb.id.clone());
        env.insert("RUNBOOK_STEP".into(), step.id.clone());
        if let Some(sandbox) = &self.ctx.sandbox {
            sandbox.entering_step(&step.id);
        }
        Spawn { program, args, env, cwd: self.step_cwd(resolved), stdin: None, solo: self.ctx.alone }
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
}

/// The record of a step before anything has happened: skipped, no output.
pub(super) fn base_record(step: &Step) -> StepRecord {
    StepRecord {
        id: step.id.clone(),
        name: step.name.source.clone(),
        kind: step.kind(),
        severity: step.severity,
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
        source_sha256: step.source.as_ref().map(|s| s.sha256.clone()),
        expected_output: step.source.as_ref().and_then(|s| s.expected_output.clone()),
    }
}

/// A step that is not run, with why.
pub(super) fn skipped(step: &Step, reason: String) -> StepRecord {
    StepRecord { reason: Some(reason), ..base_record(step) }
}

fn ended(record: &StepRecord, outcome: Outcome, reason: String) -> Box<StepRecord> {
    Box::new(StepRecord { outcome, reason: Some(reason), ..record.clone() })
}

/// The record of a step that ran, from its last attempt.
fn fill(record: StepRecord, attempts: u32, judged: Judged) -> StepRecord {
    let stream = |o: &Output| StreamRecord { bytes: o.bytes, truncated: o.truncated, file: None };
    StepRecord {
        outcome: judged.outcome,
        reason: judged.reason,
        exit_code: judged.exit_code,
        signal: judged.signal,
        attempts,
        checks: judged.checks,
        observed: judged.observed,
        captures: judged.captures,
        confirmed_by: judged.confirmed_by.or(record.confirmed_by),
        stdout: stream(&judged.stdout),
        stderr: stream(&judged.stderr),
        stdout_tail: judged.stdout.tail,
        stderr_tail: judged.stderr.tail,
        ..record
    }
}
