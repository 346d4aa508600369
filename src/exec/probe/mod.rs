//! The built-in probes: read-only checks with precise messages. Each takes a resolved probe
//! (every template rendered) and reports what it saw and how each expectation fared.

pub mod command;
pub mod disk;
pub mod file;
pub mod gpu;
pub mod http;
pub mod process;
pub mod tcp;

use super::check::CheckResult;
use crate::model::probe::Probe;
use std::path::Path;
use std::time::Duration;

/// What running a probe produced.
#[derive(Debug, Clone)]
pub struct ProbeOutcome {
    pub status: ProbeStatus,
    /// One result per expectation (plus any a probe adds, e.g. "file exists").
    pub checks: Vec<CheckResult>,
    /// What the probe saw, as lines of output: shown live and kept in the step's stdout log.
    pub observed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeStatus {
    /// The probe ran; the checks decide.
    Done,
    /// Nothing to check here, with the reason (a `gpu` probe with `require: false` and no driver).
    Skipped(String),
    /// The probe could not look at all (bad URL, unreadable path): the step fails with this.
    Error(String),
}

impl ProbeOutcome {
    pub fn done(checks: Vec<CheckResult>, observed: Vec<String>) -> ProbeOutcome {
        ProbeOutcome {
            status: ProbeStatus::Done,
            checks,
            observed,
        }
    }

    pub fn error(reason: impl Into<String>) -> ProbeOutcome {
        ProbeOutcome {
            status: ProbeStatus::Error(reason.into()),
            checks: Vec::new(),
            observed: Vec::new(),
        }
    }

    pub fn skipped(reason: impl Into<String>) -> ProbeOutcome {
        ProbeOutcome {
            status: ProbeStatus::Skipped(reason.into()),
            checks: Vec::new(),
            observed: Vec::new(),
        }
    }

    pub fn passed(&self) -> bool {
        self.status == ProbeStatus::Done && self.checks.iter().all(|c| c.passed)
    }
}

/// What probes may need from the run around them.
pub struct ProbeEnv<'a> {
    /// Where relative paths are resolved: the step's working directory.
    pub cwd: &'a Path,
    /// The GPU inventory source (NVML, or a file for tests and demos).
    pub gpu: &'a dyn gpu::GpuSource,
    /// The step's timeout: network probes use it unless they have their own.
    pub timeout: Duration,
}

/// Runs a resolved probe.
pub fn run(probe: &Probe, env: &ProbeEnv) -> ProbeOutcome {
    match probe {
        Probe::Disk(p) => disk::run(p, env),
        Probe::Gpu(p) => gpu::run(p, env),
        Probe::Http(p) => http::run(p, env),
        Probe::Tcp(p) => tcp::run(p, env),
        Probe::File(p) => file::run(p, env),
        Probe::Command(p) => command::run(p, env),
        Probe::Process(p) => process::run(p, env),
    }
}
