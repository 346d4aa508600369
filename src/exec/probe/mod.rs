//! The built-in probes: read-only checks with precise messages. Each takes a resolved probe
//! (every template rendered) and reports what it saw and how each expectation fared.

pub(crate) mod command;
pub(crate) mod disk;
pub(crate) mod file;
pub(crate) mod gpu;
pub(crate) mod http;
pub(crate) mod process;
pub(crate) mod sandbox;
pub(crate) mod tcp;
#[cfg(test)]
mod testing;

use crate::model::probe::Probe;
use crate::record::{CheckResult, Observation};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What running a probe produced.
#[derive(Debug, Clone)]
pub(crate) struct ProbeOutcome {
    pub status: ProbeStatus,
    /// One result per expectation (plus any a probe adds, e.g. "file exists").
    pub checks: Vec<CheckResult>,
    /// What the probe saw, as lines of output: shown live and kept in the step's stdout log.
    pub observed: Vec<String>,
    /// The numbers it saw, for metrics (`runbook watch`).
    pub values: Vec<Observation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProbeStatus {
    /// The probe ran; the checks decide.
    Done,
    /// Nothing to check here, with the reason (a `gpu` probe with `require: false` and no driver).
    Skipped(String),
    /// The probe could not look at all (bad URL, unreadable path): the step fails with this.
    Error(String),
}

impl ProbeOutcome {
    pub(crate) fn done(checks: Vec<CheckResult>, observed: Vec<String>) -> ProbeOutcome {
        ProbeOutcome { status: ProbeStatus::Done, checks, observed, values: Vec::new() }
    }

    pub(crate) fn error(reason: impl Into<String>) -> ProbeOutcome {
        ProbeOutcome {
            status: ProbeStatus::Error(reason.into()),
            checks: Vec::new(),
            observed: Vec::new(),
            values: Vec::new(),
        }
    }

    pub(crate) fn skipped(reason: impl Into<String>) -> ProbeOutcome {
        ProbeOutcome {
            status: ProbeStatus::Skipped(reason.into()),
            checks: Vec::new(),
            observed: Vec::new(),
            values: Vec::new(),
        }
    }

    pub(crate) fn with_values(mut self, values: Vec<Observation>) -> ProbeOutcome {
        self.values = values;
        self
    }

    #[cfg(test)]
    pub(crate) fn passed(&self) -> bool {
        self.status == ProbeStatus::Done && self.checks.iter().all(|c| c.passed)
    }
}

/// What a probe may read of the world, owned: a probe runs on its own thread.
#[derive(Clone)]
pub(crate) struct ProbeWorld {
    /// Where relative paths are resolved: the step's working directory.
    pub cwd: PathBuf,
    /// What `~/` means in a path.
    pub home: Option<PathBuf>,
    /// `PATH` as the step's processes see it (the `command` probe searches it).
    pub path: Option<String>,
    /// The GPU inventory source (NVML, or a file for tests and demos).
    pub gpu: Arc<dyn gpu::GpuSource>,
    /// A scenario's world instead of the host's (DESIGN §13).
    pub sandbox: Option<Arc<sandbox::Sandbox>>,
}

impl ProbeWorld {
    /// The world of a step whose processes start in `cwd` with environment `env`.
    pub(crate) fn new(cwd: PathBuf, env: &BTreeMap<String, String>, gpu: Arc<dyn gpu::GpuSource>) -> ProbeWorld {
        ProbeWorld {
            cwd,
            home: env.get("HOME").filter(|h| !h.is_empty()).map(PathBuf::from),
            path: env.get("PATH").cloned(),
            gpu,
            sandbox: None,
        }
    }
}

/// What probes may need from the run around them.
pub(crate) struct ProbeEnv<'a> {
    pub cwd: &'a Path,
    pub home: Option<&'a Path>,
    pub path: Option<&'a str>,
    pub gpu: &'a dyn gpu::GpuSource,
    /// The step's timeout: network probes use it unless they have their own.
    pub timeout: Duration,
    /// A scenario's world instead of the host's.
    pub sandbox: Option<&'a sandbox::Sandbox>,
}

impl<'a> ProbeEnv<'a> {
    pub(crate) fn new(world: &'a ProbeWorld, timeout: Duration) -> ProbeEnv<'a> {
        ProbeEnv {
            cwd: &world.cwd,
            home: world.home.as_deref(),
            path: world.path.as_deref(),
            gpu: &*world.gpu,
            timeout,
            sandbox: world.sandbox.as_deref(),
        }
    }

    /// Where a probe looks for `path`: `~/` is the home directory, relative paths are under
    /// the working directory.
    pub(crate) fn resolve(&self, path: &str) -> PathBuf {
        let resolved = resolve_path(self.cwd, self.home, path);
        match self.sandbox {
            Some(sandbox) => sandbox.inside(&resolved),
            None => resolved,
        }
    }
}

/// Runs a resolved probe.
pub(crate) fn run(probe: &Probe, env: &ProbeEnv) -> ProbeOutcome {
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

// ---- helpers shared by the probes ----

/// The longest wait a network probe without its own `timeout` allows itself: a dead service
/// should not hold a step for its whole 5-minute budget.
const NETWORK_TIMEOUT_CAP: Duration = Duration::from_secs(10);

/// `path` with `~/` meaning `home` and relative paths under `cwd`.
pub(crate) fn resolve_path(cwd: &Path, home: Option<&Path>, path: &str) -> PathBuf {
    if path == "~"
        && let Some(home) = home
    {
        return home.to_path_buf();
    }
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = home
    {
        return home.join(rest);
    }
    cwd.join(path)
}

/// An OS error in words, without Rust's ` (os error N)` suffix: `Permission denied`.
pub(crate) fn os_error(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

/// How long a network probe waits: its own `timeout`, else the step's capped at 10 s.
pub(crate) fn network_timeout(own: Option<crate::model::duration::Duration>, env: &ProbeEnv) -> Duration {
    own.map(|d| d.as_std()).unwrap_or_else(|| env.timeout.min(NETWORK_TIMEOUT_CAP))
}

/// A duration for messages: `3s`, `500ms`, `1.5s`.
pub(crate) fn format_duration(d: Duration) -> String {
    crate::model::duration::Duration(d).to_string()
}

/// Milliseconds for latency reports: `0.4 ms`, `12 ms`.
pub(crate) fn format_millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 { format!("{ms:.1} ms") } else { format!("{} ms", ms.round()) }
}
