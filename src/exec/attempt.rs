//! One attempt of a step's action, as a value. There is one function per kind of action —
//! [`run_script`], [`run_probe`], [`run_manual`] — and each returns an [`Attempt`]: what happened
//! and what was seen, with no judgement of the step as a whole. The step runner
//! (`exec::step`) turns attempts into a step record: it applies redaction to what is recorded,
//! evaluates the asserts and decides the outcome, in one place for every kind.
//!
//! Another way of running an action (a remote host over ssh, a container) is another function
//! returning an `Attempt`.

use super::check::{LineScanner, excerpt};
use super::logs::StepLogs;
use super::probe::{self, ProbeEnv, ProbeOutcome, ProbeStatus, ProbeWorld};
use super::process::{self, Finished, Spawn};
use super::redact::Redactor;
use super::report::Reporter;
use super::stream::{Live, StreamKind, StreamSink, StreamSummary};
use super::watchdog::Watchdog;
use crate::model::duration::Duration;
use crate::model::matcher::{LinesMatcher, Matcher};
use crate::model::probe::Probe;
use crate::model::step::{ExitExpect, Expect};
use crate::record::{CheckResult, Observation, Outcome};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The action ran to its end: its checks (and the step's asserts) decide.
    Ran,
    /// It did not get that far: this outcome, and why.
    Stopped(Outcome, Option<String>),
}

/// One output stream as the record keeps it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Output {
    /// The last few KiB (already redacted).
    pub tail: String,
    pub bytes: u64,
    pub truncated: bool,
}

/// What one attempt of a step did and saw.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub ending: Ending,
    pub checks: Vec<CheckResult>,
    /// The numbers a probe saw (for `runbook watch`'s gauges).
    pub observed: Vec<Observation>,
    pub captures: BTreeMap<String, String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Output,
    pub stderr: Output,
    /// The start of stdout, as templates read it (`steps.<id>.stdout`).
    pub stdout_head: String,
    /// Who confirmed a manual step.
    pub confirmed_by: Option<String>,
    /// Step logs that could not be written (the archive is then incomplete).
    pub log_errors: Vec<String>,
    /// The host the step ran on could not be reached, or the connection was lost: why. The run
    /// on that host stops here (DESIGN §17).
    pub unreachable: Option<String>,
}

impl Attempt {
    pub(crate) fn new(ending: Ending) -> Attempt {
        Attempt {
            ending,
            checks: Vec::new(),
            observed: Vec::new(),
            captures: BTreeMap::new(),
            exit_code: None,
            signal: None,
            stdout: Output::default(),
            stderr: Output::default(),
            stdout_head: String::new(),
            confirmed_by: None,
            log_errors: Vec::new(),
            unreachable: None,
        }
    }

    pub(crate) fn stopped(outcome: Outcome, reason: impl Into<String>) -> Attempt {
        Attempt::new(Ending::Stopped(outcome, Some(reason.into())))
    }
}

/// What every attempt needs from the run around it.
pub(crate) struct AttemptIo<'a> {
    pub step_id: &'a str,
    pub reporter: &'a mut dyn Reporter,
    pub interrupted: &'a AtomicBool,
    /// Masks secret values in everything shown and logged.
    pub redactor: &'a Redactor,
    pub logs: &'a StepLogs,
}

impl AttemptIo<'_> {
    fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}

// ---- scripts ----

/// A `run` step, rendered.
pub(crate) struct Script<'a> {
    pub spawn: Spawn,
    pub timeout: Duration,
    pub expect: &'a Expect,
    /// Variable name → regex with one group.
    pub captures: &'a [(String, regex::Regex)],
    /// Guards the step's processes if `runbook` is killed meanwhile.
    pub watchdog: Option<&'a mut Watchdog>,
}

/// See [`Checks::interpret`].
pub(crate) type Interpret<'a> = dyn Fn(&mut Finished) -> Option<Ending> + 'a;

/// Runs the script in its own process group and checks its exit code, output and captures.
pub(crate) fn run_script(script: Script, io: &mut AttemptIo) -> Attempt {
    let Script { spawn, timeout, expect, captures, watchdog } = script;
    let interrupted = io.interrupted;
    let run = move |sinks: [StreamSink; 2], live: &mut Live| {
        process::run(spawn, timeout.as_std(), sinks, interrupted, watchdog, live)
    };
    run_checked(run, Checks { timeout, expect, captures, interpret: None }, io)
}

/// What a script's run is checked against, however it runs.
pub(crate) struct Checks<'a> {
    pub timeout: Duration,
    pub expect: &'a Expect,
    /// Variable name → regex with one group.
    pub captures: &'a [(String, regex::Regex)],
    /// Reads what the process's exit means before it is checked, for a process that stands
    /// between the step and its script (`ssh` to a host): it may correct the exit code, or end
    /// the attempt with an outcome of its own.
    pub interpret: Option<&'a Interpret<'a>>,
}

/// Runs a script by `run` (handed the streams' sinks and where live lines go; it returns how
/// the process ended, or why it could not start) and checks its exit code, output and captures.
pub(crate) fn run_checked(
    run: impl FnOnce([StreamSink; 2], &mut Live) -> Result<Finished, String>,
    checks: Checks,
    io: &mut AttemptIo,
) -> Attempt {
    let Checks { timeout, expect, captures, interpret } = checks;
    let stdout = sink(StreamKind::Stdout, io, &expect.stdout, captures.to_vec());
    let stderr = sink(StreamKind::Stderr, io, &expect.stderr, Vec::new());
    let step_id = io.step_id;
    let reporter = &mut *io.reporter;
    let mut live = |kind, line: &str| reporter.output(step_id, kind, line);
    let mut finished = match run([stdout, stderr], &mut live) {
        Ok(finished) => finished,
        Err(err) => return Attempt::stopped(Outcome::Error, err),
    };
    let interpreted = match interpret {
        Some(interpret) if !finished.timed_out && !finished.interrupted => interpret(&mut finished),
        _ => None,
    };
    let mut attempt = Attempt::new(Ending::Ran);
    attempt.exit_code = finished.exit_code;
    attempt.signal = finished.signal;
    attempt.stdout = output(&finished.stdout);
    attempt.stderr = output(&finished.stderr);
    attempt.log_errors =
        [&finished.stdout.log_error, &finished.stderr.log_error].into_iter().flatten().cloned().collect();
    if let Some(ending) = stopped_early(&finished, timeout).or(interpreted) {
        attempt.ending = ending;
        return attempt;
    }
    attempt.checks.push(exit_check(&expect.exit, &finished));
    attempt.checks.extend(finished.stdout.checks.iter().cloned());
    attempt.checks.extend(finished.stderr.checks.iter().cloned());
    for (name, value) in &finished.stdout.captures {
        match value {
            Some(value) => {
                attempt.captures.insert(name.clone(), value.clone());
            }
            None => attempt.checks.push(missing_capture(name, captures)),
        }
    }
    attempt.stdout_head = finished.stdout.head;
    attempt
}

fn sink(
    kind: StreamKind,
    io: &AttemptIo,
    matcher: &Option<LinesMatcher>,
    captures: Vec<(String, regex::Regex)>,
) -> StreamSink {
    let scanner = match matcher.as_ref().map(|m| &m.0) {
        Some(Matcher::Lines(patterns)) => LineScanner::new(kind.as_str(), patterns).ok(),
        _ => None,
    };
    StreamSink {
        kind,
        redactor: io.redactor.clone(),
        log: io.logs.path(kind),
        scanner,
        captures,
        keep_head: kind == StreamKind::Stdout,
    }
}

fn output(summary: &StreamSummary) -> Output {
    Output { tail: summary.tail.clone(), bytes: summary.bytes, truncated: summary.truncated }
}

/// Interrupted or timed out: the process's own exit says nothing about the step then.
fn stopped_early(finished: &Finished, timeout: Duration) -> Option<Ending> {
    if finished.interrupted {
        return Some(Ending::Stopped(
            Outcome::Interrupted,
            Some("interrupted; the step's processes were stopped".into()),
        ));
    }
    finished.timed_out.then(|| {
        Ending::Stopped(Outcome::TimedOut, Some(format!("timed out after {timeout}; the step's processes were killed")))
    })
}

/// The exit code against `expect`; when it fails, with the script's last words beside it.
fn exit_check(expect: &ExitExpect, finished: &Finished) -> CheckResult {
    let expected = expect.to_string();
    let expected = expected.strip_prefix("exit code ").unwrap_or(&expected).to_string();
    let mut check = match (finished.exit_code, finished.signal) {
        (Some(code), _) => CheckResult::new("exit code", expected, code.to_string(), expect.accepts(code)),
        (None, Some(signal)) => CheckResult::failed("exit code", expected, format!("killed by signal {signal}")),
        (None, None) => CheckResult::failed("exit code", expected, "no exit status".into()),
    };
    if !check.passed {
        // The script's own last words usually say why; put them next to the code.
        if let Some(last) = last_line(&finished.stderr.tail).or_else(|| last_line(&finished.stdout.tail)) {
            check.message = format!("{} — {last}", check.message);
        }
    }
    check
}

/// The last non-blank line of some output, shortened.
fn last_line(tail: &str) -> Option<String> {
    tail.lines().rev().map(str::trim).find(|l| !l.is_empty()).map(excerpt)
}

fn missing_capture(name: &str, captures: &[(String, regex::Regex)]) -> CheckResult {
    let regex = captures.iter().find(|(n, _)| n == name).map(|(_, r)| r.as_str()).unwrap_or("");
    CheckResult::new(
        &format!("capture `{name}`"),
        format!("a line of stdout matching /{regex}/"),
        "no line matched".into(),
        false,
    )
}

// ---- probes ----

/// Runs a probe on its own thread, so a hung NVML call or a dead NFS mount cannot outlive the
/// step's timeout or Ctrl-C (the thread is abandoned then). What it saw is shown and logged as
/// the step's stdout.
pub(crate) fn run_probe(probe: &Probe, world: ProbeWorld, timeout: Duration, io: &mut AttemptIo) -> Attempt {
    let outcome = match probe_with_deadline(probe, world, timeout, io.interrupted) {
        Some(outcome) => outcome,
        None if io.interrupted() => return Attempt::stopped(Outcome::Interrupted, "interrupted while the probe ran"),
        None => {
            let reason = format!("the {} probe did not answer within {timeout}", probe.kind());
            return Attempt::stopped(Outcome::TimedOut, reason);
        }
    };
    probe_attempt(outcome, io)
}

/// A probe's outcome, local or reported from a host, as the step's attempt: what it saw is the
/// step's output (redacted, shown and logged), its checks and observed values the step's.
pub(crate) fn probe_attempt(outcome: ProbeOutcome, io: &mut AttemptIo) -> Attempt {
    let mut observed = String::new();
    for line in &outcome.observed {
        let line = io.redactor.redact(line);
        io.reporter.output(io.step_id, StreamKind::Stdout, &line);
        io.logs.write_line(StreamKind::Stdout, &line);
        observed.push_str(&line);
        observed.push('\n');
    }
    let ending = match outcome.status {
        ProbeStatus::Done => Ending::Ran,
        ProbeStatus::Skipped(reason) => Ending::Stopped(Outcome::Skipped, Some(reason)),
        ProbeStatus::Error(reason) => Ending::Stopped(Outcome::Error, Some(reason)),
    };
    let mut attempt = Attempt::new(ending);
    attempt.stdout = Output { tail: observed.trim_end().to_string(), bytes: observed.len() as u64, truncated: false };
    attempt.checks = outcome.checks;
    attempt.observed = outcome.values;
    attempt.stdout_head = observed;
    attempt
}

/// `None` on timeout or interrupt.
pub(crate) fn probe_with_deadline(
    probe: &Probe,
    world: ProbeWorld,
    timeout: Duration,
    interrupted: &AtomicBool,
) -> Option<ProbeOutcome> {
    let (tx, rx) = std::sync::mpsc::channel();
    let probe = probe.clone();
    let limit = timeout.as_std();
    std::thread::spawn(move || {
        let env = ProbeEnv::new(&world, limit);
        let _ = tx.send(probe::run(&probe, &env));
    });
    let deadline = Instant::now() + limit;
    loop {
        if interrupted.load(Ordering::SeqCst) {
            return None;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        match rx.recv_timeout(left.min(std::time::Duration::from_millis(50))) {
            Ok(outcome) => return Some(outcome),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Some(ProbeOutcome::error("the probe stopped unexpectedly"));
            }
        }
    }
}

// ---- manual steps ----

/// Shows the instruction and asks whether it is done; `confirmed_by` says who answered.
pub(crate) fn run_manual(instruction: &str, confirmed_by: impl FnOnce() -> String, io: &mut AttemptIo) -> Attempt {
    for line in instruction.lines() {
        io.reporter.output(io.step_id, StreamKind::Stdout, line);
    }
    match io.reporter.ask(io.step_id, "Done?", io.interrupted) {
        Some(true) => {
            let mut attempt = Attempt::new(Ending::Ran);
            attempt.confirmed_by = Some(confirmed_by());
            attempt
        }
        Some(false) => Attempt::stopped(Outcome::Failed, "the person running it said it is not done"),
        None if io.interrupted() => Attempt::new(Ending::Stopped(Outcome::Interrupted, None)),
        None => Attempt::stopped(Outcome::Skipped, "needs a person at a terminal (manual step)"),
    }
}
