//! A step's attempt on a fleet host: another kind of attempt beside `exec::attempt`'s local
//! ones, returning the same [`Attempt`]. A `run:` script goes through the host's transport to
//! the bootstrap (`exec::remote::bootstrap`); a probe runs there by the copied `runbook` binary
//! (`runbook probe --json`), and its report comes back as the probe's checks.

use super::bootstrap::{self, Job, Mode, Status};
use super::preflight::Facts;
use super::probe_request::{ProbeReport, ProbeRequest};
use super::transport::{Connection, Role};
use crate::exec::attempt::{Attempt, AttemptIo, Ending, Interpret, Script, run_script};
use crate::exec::process::{self, Finished, Spawn};
use crate::exec::stream::{StreamKind, StreamSink};
use crate::exec::watchdog::Watchdog;
use crate::model::duration::Duration;
use crate::model::step::Expect;
use crate::record::{Outcome, Target};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;

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
        let spawn = match self.spawn(&job, &call) {
            Ok(spawn) => spawn,
            Err(why) => return Attempt::stopped(Outcome::Error, why),
        };
        let lost: RefCell<Option<String>> = RefCell::new(None);
        let interpret = |finished: &mut Finished| self.interpret(finished, &lost);
        let interpret: &Interpret = &interpret;
        let script = Script {
            spawn,
            timeout: call.timeout,
            expect,
            captures,
            watchdog: call.watchdog,
            interpret: Some(interpret),
        };
        let mut attempt = run_script(script, io);
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
        let spawn = match self.spawn(&job, &call) {
            Ok(spawn) => spawn,
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
        let mut finished =
            match process::run(spawn, call.timeout.as_std(), sinks, io.interrupted, call.watchdog, &mut quiet) {
                Ok(finished) => finished,
                Err(why) => return Attempt::stopped(Outcome::Error, why),
            };
        if finished.interrupted {
            return Attempt::stopped(Outcome::Interrupted, "interrupted while the probe ran");
        }
        if finished.timed_out {
            return Attempt::stopped(Outcome::TimedOut, format!("the probe did not answer within {}", call.timeout));
        }
        let lost = RefCell::new(None);
        if let Some(Ending::Stopped(outcome, reason)) = self.interpret(&mut finished, &lost) {
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

    fn spawn(&self, job: &Job, call: &Call) -> Result<Spawn, String> {
        let prepared = bootstrap::prepare(job);
        let (program, args) = self.connection.command(&self.target, &prepared.words, Role::Session)?;
        Ok(Spawn {
            program: program.display().to_string(),
            args,
            env: call.local_env.clone(),
            cwd: call.local_cwd.clone(),
            stdin: Some(prepared.stdin),
            // Other hosts' steps run beside it; its remote side is the bootstrap's to stop.
            solo: false,
        })
    }

    /// What the transport's exit says: the connection was lost (the host is then unreachable),
    /// the bootstrap failed, or the script's exit code (a 255 of its own restored).
    fn interpret(&self, finished: &mut Finished, lost: &RefCell<Option<String>>) -> Option<Ending> {
        if self.connection.lost(&self.target, finished.exit_code) {
            let why = last_line(&finished.stderr.tail).unwrap_or_else(|| "ssh exited 255".into());
            *lost.borrow_mut() = Some(why.clone());
            return Some(Ending::Stopped(Outcome::Error, Some(format!("lost the connection to {}: {why}", self.name))));
        }
        match bootstrap::interpret(finished.exit_code?, &finished.stderr.tail) {
            Status::Failed(why) => Some(Ending::Stopped(Outcome::Error, Some(format!("on {}: {why}", self.name)))),
            Status::Exited(code) => {
                finished.exit_code = Some(code);
                None
            }
        }
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
