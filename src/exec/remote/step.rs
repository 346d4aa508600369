//! The engine's side of a remote step: what the run hands the host's attempt — the variables
//! exported there, the probe request with the values its templates read.

use super::attempt::{Call, RemoteHost};
use super::probe_request::request_for;
use crate::exec::attempt::{Attempt, AttemptIo};
use crate::exec::engine::Engine;
use crate::exec::logs::StepLogs;
use crate::exec::resolve::{ResolvedAction, ResolvedStep};
use crate::model::step::Step;
use crate::record::Outcome;

impl Engine<'_> {
    /// One attempt of `step` on the run's host.
    pub(in crate::exec) fn remote_attempt(
        &mut self,
        remote: &RemoteHost,
        step: &Step,
        resolved: &ResolvedStep,
        logs: &StepLogs,
    ) -> Attempt {
        let probe_request = match &resolved.action {
            ResolvedAction::Probe(_) => {
                match request_for(&self.body.source, &self.rb.path, step, &self.scope.value()) {
                    Ok(request) => Some(request),
                    Err(why) => return Attempt::stopped(Outcome::Error, why),
                }
            }
            _ => None,
        };
        let call = Call {
            step_id: &step.id,
            timeout: step.timeout,
            env: self.remote_env(remote, step, resolved),
            cwd: resolved.cwd.as_deref(),
            local_env: self.ctx.env.clone(),
            local_cwd: self.ctx.cwd.clone(),
            watchdog: self.watchdog.as_mut(),
            session: &mut self.session,
        };
        let mut io = AttemptIo {
            step_id: &step.id,
            reporter: &mut *self.reporter,
            interrupted: self.interrupted,
            redactor: &self.redactor,
            logs,
        };
        match (&resolved.action, probe_request) {
            (ResolvedAction::Run { script, shell, expect, captures }, _) => {
                remote.run_script(call, script, shell, expect, captures, &mut io)
            }
            (ResolvedAction::Probe(_), Some(request)) => remote.run_probe(call, &request, &mut io),
            _ => Attempt::stopped(Outcome::Error, "this kind of step does not run on a host"),
        }
    }

    /// What a remote step's process sees exported: the step's `env`, the `RUNBOOK_*` variables
    /// a local step gets (plus `RUNBOOK_HOST`), and the secrets this side has values for. The
    /// rest of this side's environment stays here.
    fn remote_env(&self, remote: &RemoteHost, step: &Step, resolved: &ResolvedStep) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![
            ("RUNBOOK_RUN_ID".into(), self.record.run_id.clone()),
            ("RUNBOOK_RUNBOOK".into(), self.rb.id.clone()),
            ("RUNBOOK_STEP".into(), step.id.clone()),
            ("RUNBOOK_HOST".into(), remote.name.clone()),
        ];
        for name in &remote.secrets {
            if let Some(value) = self.ctx.env.get(name) {
                env.push((name.clone(), value.clone()));
            }
        }
        env.extend(resolved.env.iter().cloned());
        env
    }
}
