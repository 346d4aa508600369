//! The inputs a run takes from the world — environment, user, host, clock, working directory,
//! shell, GPU source — gathered once into a [`RunContext`] before anything runs. Everything the
//! engine records or renders comes from this value, so a run is a function of it: tests pin it,
//! scenarios (DESIGN §13) replace it, and no step or probe reads the process environment behind
//! the engine's back.
//!
//! Two variables pin what would otherwise change from run to run, for snapshot tests and demos:
//! `RUNBOOK_CLOCK=2026-01-02T03:04:05Z` fixes every timestamp to that instant and every measured
//! duration to 0 ms; `RUNBOOK_HOSTNAME=name` replaces the host name. (The user is `USER`.)

use super::probe::gpu::GpuSource;
use crate::record::Host;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Fixes the clock: every timestamp is this RFC 3339 instant, every duration 0 ms.
pub(crate) const CLOCK_ENV: &str = "RUNBOOK_CLOCK";
/// Replaces the host name recorded and shown.
pub(crate) const HOSTNAME_ENV: &str = "RUNBOOK_HOSTNAME";

/// Where times come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Clock {
    System,
    /// Always this instant; stopwatches always read 0.
    Fixed(jiff::Timestamp),
}

impl Clock {
    pub(crate) fn now(&self) -> jiff::Timestamp {
        match self {
            Clock::System => jiff::Timestamp::now(),
            Clock::Fixed(at) => *at,
        }
    }

    /// `now()` as `run.json` writes it: RFC 3339 UTC to the millisecond.
    pub(crate) fn rfc3339(&self) -> String {
        rfc3339(self.now())
    }

    pub(crate) fn stopwatch(&self) -> Stopwatch {
        Stopwatch { started: Instant::now(), fixed: matches!(self, Clock::Fixed(_)) }
    }
}

/// A timestamp as `run.json` writes it.
pub(crate) fn rfc3339(ts: jiff::Timestamp) -> String {
    ts.round(jiff::Unit::Millisecond).unwrap_or(ts).to_string()
}

/// Measures a duration for the record (0 under a fixed clock).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stopwatch {
    started: Instant,
    fixed: bool,
}

impl Stopwatch {
    pub(crate) fn elapsed_ms(&self) -> u64 {
        if self.fixed { 0 } else { u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX) }
    }
}

/// Everything a run reads from the world, read once.
#[derive(Clone)]
pub(crate) struct RunContext {
    /// The environment steps start from (plus the `RUNBOOK_*` variables of the run) and that
    /// templates see as `env`.
    pub env: BTreeMap<String, String>,
    pub user: String,
    pub host: Host,
    pub clock: Clock,
    /// Where `runbook` was started: the default working directory of steps.
    pub cwd: PathBuf,
    /// The program and flags a `run` script is appended to, when the step names no `shell`.
    pub shell: Vec<String>,
    pub gpu: Arc<dyn GpuSource>,
    /// The program that guards a run's processes if `runbook` itself is killed (this binary,
    /// started as `runbook __watchdog`); `None` runs without that guard.
    pub watchdog: Option<PathBuf>,
    /// The fleet host this run's steps run on (DESIGN §17); `None`: here.
    pub remote: Option<Arc<super::remote::attempt::RemoteHost>>,
    /// A scenario's world: probes read its fixtures instead of the host (DESIGN §13).
    pub sandbox: Option<Arc<super::probe::sandbox::Sandbox>>,
    /// The only run in this process: it may reap orphans and hunt strays among our children.
    pub alone: bool,
}

impl RunContext {
    /// The context of this process: its environment, user, host name and the system clock
    /// (unless pinned by [`CLOCK_ENV`] / [`HOSTNAME_ENV`]).
    pub(crate) fn from_process(cwd: PathBuf, gpu: Arc<dyn GpuSource>) -> Result<RunContext, String> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let clock = match env.get(CLOCK_ENV).filter(|v| !v.is_empty()) {
            Some(text) => Clock::Fixed(
                text.parse().map_err(|e| format!("bad {CLOCK_ENV} `{text}`: {e} (write an RFC 3339 time)"))?,
            ),
            None => Clock::System,
        };
        let name = match env.get(HOSTNAME_ENV).filter(|v| !v.is_empty()) {
            Some(name) => name.clone(),
            None => gethostname::gethostname().to_string_lossy().into_owned(),
        };
        let host = Host { name, os: std::env::consts::OS.to_string(), arch: std::env::consts::ARCH.to_string() };
        let user = user(&env);
        let shell = default_shell(env.get("PATH").map(String::as_str));
        let watchdog = std::env::current_exe().ok();
        Ok(RunContext { env, user, host, clock, cwd, shell, gpu, watchdog, remote: None, sandbox: None, alone: true })
    }

    /// The values of the environment variables named `names` that are set (to redact them).
    pub(crate) fn values_of<'a>(&'a self, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        names.into_iter().filter_map(|name| self.env.get(name).cloned()).collect()
    }

    /// Who confirmed a step, and when: `alice at 2026-01-02T03:04:05Z`.
    pub(crate) fn confirmed_by(&self) -> String {
        format!("{} at {}", self.user, self.clock.rfc3339())
    }
}

fn user(env: &BTreeMap<String, String>) -> String {
    env.get("USER")
        .or_else(|| env.get("LOGNAME"))
        .cloned()
        .unwrap_or_else(|| format!("uid {}", rustix::process::getuid().as_raw()))
}

/// `bash --noprofile --norc -eo pipefail -c` with bash's full path when bash is on `path`, else
/// `sh -e -c` (DESIGN §3). The full path: spawning by name would search PATH for every step.
pub(crate) fn default_shell(path: Option<&str>) -> Vec<String> {
    let bash = path.and_then(|paths| std::env::split_paths(paths).map(|dir| dir.join("bash")).find(|p| p.is_file()));
    match bash {
        Some(bash) => {
            let mut words = vec![bash.display().to_string()];
            words.extend(["--noprofile", "--norc", "-eo", "pipefail", "-c"].map(String::from));
            words
        }
        None => ["sh", "-e", "-c"].map(String::from).to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_stops_time() {
        let at: jiff::Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        let clock = Clock::Fixed(at);
        let watch = clock.stopwatch();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(watch.elapsed_ms(), 0);
        assert_eq!(clock.rfc3339(), "2026-01-02T03:04:05Z");
        assert!(Clock::System.stopwatch().elapsed_ms() < 1000);
    }

    #[test]
    fn default_shell_prefers_bash_on_path() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(default_shell(Some(&dir.path().display().to_string())), ["sh", "-e", "-c"]);
        std::fs::write(dir.path().join("bash"), "").unwrap();
        let shell = default_shell(Some(&dir.path().display().to_string()));
        assert_eq!(shell[0], dir.path().join("bash").display().to_string());
        assert_eq!(shell[1..], ["--noprofile", "--norc", "-eo", "pipefail", "-c"]);
    }
}
