//! A step's attempt on a fleet host: another kind of attempt beside `exec::attempt`'s local
//! ones, returning the same [`Attempt`]. A `run:` script goes as a frame to the host's session
//! (`exec::remote::session`, the bootstrap of `exec::remote::bootstrap` started once per run
//! through the host's transport); a probe runs there by the copied `runbook` binary
//! (`runbook probe --json`), and its report comes back as the probe's checks.

use super::bootstrap::{self, Job, Mode, Status};
use super::preflight::Facts;
use super::probe_request::{ProbeReport, ProbeRequest};
use super::session::{Session, Start};
use super::transport::{Connection, Role};
use crate::exec::attempt::{Attempt, AttemptIo, Checks, Ending, Interpret, run_checked};
use crate::exec::process::Finished;
use crate::exec::stream::{Live, StreamKind, StreamSink};
use crate::exec::watchdog::Watchdog;
use crate::model::duration::Duration;
use crate::model::step::Expect;
use crate::record::{Outcome, Target};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One host of a fleet run, as its `runbook exec` child process gets it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RemoteHost {
    pub name: String,
    pub target: Target,
    pub connection: Connection,
    /// The fleet run this host's run belongs to.
    pub fleet_run: String,
    pub facts: Facts,
    /// Environment variables (of this side) whose values the host's steps get, exported there.
    #[serde(default)]
    pub secrets: Vec<String>,
}

/// What a remote attempt needs from the run.
pub(crate) struct Call<'a> {
    pub step_id: &'a str,
    pub timeout: Duration,
    /// Exported on the host: the step's `env`, `RUNBOOK_*`, secrets.
    pub env: Vec<(String, String)>,
    /// Where it runs on the host (relative to the login directory).
    pub cwd: Option<&'a str>,
    /// The environment and folder the local transport program (`ssh`) runs with.
    pub local_env: BTreeMap<String, String>,
    pub local_cwd: PathBuf,
    pub watchdog: Option<&'a mut Watchdog>,
    /// The host's session for this run: opened by the first step, used by the next ones.
    pub session: &'a mut Option<Session>,
}

impl RemoteHost {
    /// Runs a `run:` script on the host.
    pub(crate) fn run_script(
        &self,
        call: Call,
        script: &str,
        shell: &[String],
        expect: &Expect,
        captures: &[(String, regex::Regex)],
        io: &mut AttemptIo,
    ) -> Attempt {
        let job = Job {
            step_id: call.step_id,
            script,
            mode: Mode::Script,
            words: shell,
            env: &call.env,
            cwd: call.cwd,
            timeout: call.timeout.as_std(),
        };
        let frame = bootstrap::frame(&job);
        let Call { timeout, local_env, local_cwd, mut watchdog, session, .. } = call;
        let session = match self.session(session, &local_env, &local_cwd, watchdog.as_deref_mut()) {
            Ok(session) => session,
            Err(why) => return Attempt::stopped(Outcome::Error, why),
        };
        let transport_ended = Cell::new(false);
        let interrupted = io.interrupted;
        let run = |sinks, live: &mut Live| {
            let end = session.step(&frame, timeout.as_std(), sinks, interrupted, watchdog, live);
            transport_ended.set(end.transport_ended);
            Ok(end.finished)
        };
        let lost: RefCell<Option<String>> = RefCell::new(None);
        let interpret = |finished: &mut Finished| self.interpret(finished, transport_ended.get(), &lost);
        let interpret: &Interpret = &interpret;
        let mut attempt = run_checked(run, Checks { timeout, expect, captures, interpret: Some(interpret) }, io);
        attempt.unreachable = lost.into_inner();
        attempt
    }

    /// Runs a probe step on the host with the binary preflight placed there.
    pub(crate) fn run_probe(&self, call: Call, request: &ProbeRequest, io: &mut AttemptIo) -> Attempt {
        let binary = match &self.facts.binary {
            Some(Ok(path)) => path.clone(),
            Some(Err(why)) => {
                return Attempt::stopped(Outcome::Error, format!("probe steps cannot run on {}: {why}", self.name));
            }
            None => return Attempt::stopped(Outcome::Error, format!("no runbook binary was placed on {}", self.name)),
        };
        let Ok(input) = serde_json::to_string(request) else {
            return Attempt::stopped(Outcome::Error, "cannot write the probe request");
        };
        let words = [binary, "probe".into(), "--json".into()];
        let job = Job {
            step_id: call.step_id,
            script: &input,
            mode: Mode::Stdin,
            words: &words,
            env: &call.env,
            cwd: call.cwd,
            timeout: call.timeout.as_std(),
        };
        let frame = bootstrap::frame(&job);
        let Call { timeout, local_env, local_cwd, mut watchdog, session, .. } = call;
        let session = match self.session(session, &local_env, &local_cwd, watchdog.as_deref_mut()) {
            Ok(session) => session,
            Err(why) => return Attempt::stopped(Outcome::Error, why),
        };
        let sink = |kind| StreamSink {
            kind,
            redactor: io.redactor.clone(),
            log: None,
            scanner: None,
            captures: Vec::new(),
            keep_head: kind == StreamKind::Stdout,
        };
        let sinks = [sink(StreamKind::Stdout), sink(StreamKind::Stderr)];
        let mut quiet = |_: StreamKind, _: &str| {};
        let end = session.step(&frame, timeout.as_std(), sinks, io.interrupted, watchdog, &mut quiet);
        let mut finished = end.finished;
        if finished.interrupted {
            return Attempt::stopped(Outcome::Interrupted, "interrupted while the probe ran");
        }
        if finished.timed_out {
            return Attempt::stopped(Outcome::TimedOut, format!("the probe did not answer within {timeout}"));
        }
        let lost = RefCell::new(None);
        if let Some(Ending::Stopped(outcome, reason)) = self.interpret(&mut finished, end.transport_ended, &lost) {
            let mut attempt = Attempt::stopped(outcome, reason.unwrap_or_default());
            attempt.unreachable = lost.into_inner();
            return attempt;
        }
        let report = finished
            .stdout
            .head
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| serde_json::from_str::<ProbeReport>(l).ok());
        match report {
            Some(report) => report_attempt(report, io),
            None => {
                let why = last_line(&finished.stderr.tail).unwrap_or_else(|| format!("exit {:?}", finished.exit_code));
                Attempt::stopped(Outcome::Error, format!("the probe on {} gave no result: {why}", self.name))
            }
        }
    }

    /// The run's session on the host: the one open, or a new one when there is none yet or the
    /// last ended (a step stopped here, the transport gone).
    fn session<'s>(
        &self,
        slot: &'s mut Option<Session>,
        env: &BTreeMap<String, String>,
        cwd: &Path,
        watchdog: Option<&mut Watchdog>,
    ) -> Result<&'s mut Session, String> {
        if slot.as_ref().is_some_and(|s| !s.usable()) {
            // Dropped first: its transport is gone or going, and the new one must not wait on it.
            *slot = None;
        }
        if slot.is_none() {
            let (program, args) = self.connection.command(&self.target, &bootstrap::words(), Role::Session)?;
            let start = Start { program: &program, args: &args, env, cwd };
            *slot = Some(Session::open(&start, watchdog)?);
        }
        slot.as_mut().ok_or_else(|| format!("no session on {}", self.name))
    }

    /// What the step's end says: the connection was lost (the transport ended as `ssh` does
    /// for its own failures: the host is then unreachable), the bootstrap failed, the session
    /// ended under the step, or nothing to add to the script's exit code.
    fn interpret(
        &self,
        finished: &mut Finished,
        transport_ended: bool,
        lost: &RefCell<Option<String>>,
    ) -> Option<Ending> {
        let stopped = |why: String| Some(Ending::Stopped(Outcome::Error, Some(why)));
        if transport_ended && self.connection.lost(&self.target, finished.exit_code) {
            let why = last_line(&finished.stderr.tail).unwrap_or_else(|| "ssh exited 255".into());
            *lost.borrow_mut() = Some(why.clone());
            return stopped(format!("lost the connection to {}: {why}", self.name));
        }
        let status = finished.exit_code.map(|code| bootstrap::interpret(code, &finished.stderr.tail));
        if let Some(Status::Failed(why)) = status {
            return stopped(format!("on {}: {why}", self.name));
        }
        if !transport_ended {
            return None;
        }
        let how = match (finished.exit_code, finished.signal) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            (None, None) => "no exit status".into(),
        };
        let why = last_line(&finished.stderr.tail).map(|l| format!(": {l}")).unwrap_or_default();
        stopped(format!("the session on {} ended before the step did ({how}){why}", self.name))
    }
}

/// A probe report as the attempt the local probe would have made: what it saw is the step's
/// output (shown and logged), its checks the step's checks.
fn report_attempt(report: ProbeReport, io: &mut AttemptIo) -> Attempt {
    crate::exec::attempt::probe_attempt(report.outcome(), io)
}

fn last_line(text: &str) -> Option<String> {
    text.lines().rev().map(str::trim).find(|l| !l.is_empty()).map(str::to_string)
}
