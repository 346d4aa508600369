//! `runbook watch` (DESIGN §15): read-only checks on a schedule. Each round runs a runbook's
//! watched steps through the engine in this process (NVML and the KB are loaded once), one round
//! at a time — so rounds never overlap and the engine's reaping of orphans never takes another
//! round's child — with jitter, a timeout per round and flap thresholds. A round is archived only
//! when a check changes state or a new failure appears; every round updates the board that
//! `/metrics` and `/healthz` read, and the node_exporter textfile.

pub(crate) mod dashboard;
pub(crate) mod metrics;
pub(crate) mod plan;
pub(crate) mod rules;
pub(crate) mod state;

use super::context::RunContext;
use super::engine::{self, RunRequest};
use super::plan::ExecOptions;
use super::report::silent::SilentReporter;
use crate::archive::store::Archives;
use crate::archive::writer::RunWriter;
use crate::model::Kb;
use crate::record::{Outcome, RunRecord, Trigger};
use plan::CheckPlan;
use state::{CheckStatus, Transition};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// The file node_exporter's textfile collector reads.
pub(crate) const TEXTFILE_NAME: &str = "runbook_watch.prom";
/// The longest sleep between looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(250);

/// Where watch keeps its results, and how it spreads rounds.
#[derive(Debug, Clone)]
pub(crate) struct WatchConfig {
    pub archives_dir: PathBuf,
    /// Up to this fraction of the interval is added to each round's time, so many hosts (or
    /// checks) do not all run at the same second.
    pub jitter: f64,
    /// `--textfile-dir`: write the metrics there after every round.
    pub textfile_dir: Option<PathBuf>,
}

/// The checks' current state, shared with the HTTP side.
#[derive(Debug, Default)]
pub(crate) struct Board {
    checks: Mutex<Vec<CheckStatus>>,
}

impl Board {
    pub(crate) fn snapshot(&self) -> Vec<CheckStatus> {
        self.checks.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub(crate) fn metrics_text(&self) -> String {
        match self.checks.lock() {
            Ok(checks) => metrics::render(&checks),
            Err(_) => String::new(),
        }
    }

    /// `(healthy, text)`: healthy unless a check is failing; the text names the failing ones.
    pub(crate) fn health(&self) -> (bool, String) {
        let checks = self.snapshot();
        let failing: Vec<String> = checks
            .iter()
            .filter(|c| c.failing)
            .map(|c| {
                let why = c.last.as_ref().and_then(|l| l.message.clone()).unwrap_or_default();
                format!("{}: {why}", c.label())
            })
            .collect();
        if failing.is_empty() {
            let run = checks.iter().filter(|c| c.last.is_some()).count();
            (true, format!("ok: {} checks, {run} run so far, none failing\n", checks.len()))
        } else {
            (false, format!("failing: {}\n{}\n", failing.len(), failing.join("\n")))
        }
    }
}

/// What a round tells the person watching.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    Changed { check: String, transition: Transition, message: Option<String>, archive: Option<PathBuf> },
    Notice(String),
}

pub(crate) struct Watcher<'a> {
    kb: &'a Kb,
    plans: Vec<CheckPlan>,
    config: WatchConfig,
    board: Arc<Board>,
    /// What every round reads of the world (environment, host, GPU source), read once.
    context: RunContext,
    stop: Arc<AtomicBool>,
    /// Per plan, the steps that failed in its last round.
    last_failures: Vec<BTreeSet<String>>,
    textfile_failed: bool,
}

impl<'a> Watcher<'a> {
    pub(crate) fn new(
        kb: &'a Kb,
        plans: Vec<CheckPlan>,
        config: WatchConfig,
        context: RunContext,
        stop: Arc<AtomicBool>,
    ) -> Watcher<'a> {
        let checks: Vec<CheckStatus> = plans
            .iter()
            .flat_map(|p| {
                p.steps.iter().map(|step| {
                    CheckStatus::new(&p.runbook, step, p.every.as_secs_f64(), p.fail_after, p.recover_after)
                })
            })
            .collect();
        let board = Arc::new(Board { checks: Mutex::new(checks) });
        let last_failures = vec![BTreeSet::new(); plans.len()];
        Watcher { kb, plans, config, board, context, stop, last_failures, textfile_failed: false }
    }

    pub(crate) fn board(&self) -> Arc<Board> {
        Arc::clone(&self.board)
    }

    pub(crate) fn plans(&self) -> &[CheckPlan] {
        &self.plans
    }

    /// Every check once, in order (`--once`).
    pub(crate) fn run_once(&mut self, on_event: &mut dyn FnMut(&Event)) {
        for i in 0..self.plans.len() {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            self.round(i, on_event);
        }
    }

    /// Runs the checks on their schedules until the stop flag is set.
    pub(crate) fn run(&mut self, on_event: &mut dyn FnMut(&Event)) {
        let mut rng = Jitter::seeded();
        let start = Instant::now();
        // The grid each check keeps to, and the jittered time it runs next.
        let mut base: Vec<Instant> = vec![start; self.plans.len()];
        let mut due: Vec<Instant> =
            self.plans.iter().map(|p| start + rng.spread(p.every, self.config.jitter)).collect();
        while let Some((i, at)) = due.iter().copied().enumerate().min_by_key(|(_, at)| *at) {
            if !self.sleep_until(at) {
                break;
            }
            self.round(i, on_event);
            let every = self.plans[i].every;
            let now = Instant::now();
            // A round that ran past its next turn skips the turns it missed: no overlap, no burst.
            base[i] = (base[i] + every).max(now);
            due[i] = base[i] + rng.spread(every, self.config.jitter);
        }
    }

    /// False when stopped meanwhile.
    fn sleep_until(&self, at: Instant) -> bool {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return false;
            }
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(STOP_POLL));
        }
    }

    fn round(&mut self, i: usize, on_event: &mut dyn FnMut(&Event)) {
        let started_at = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
        let clock = Instant::now();
        let result = self.execute(&self.plans[i]);
        let elapsed = clock.elapsed().as_secs_f64();
        let (changes, failures) = self.update_board(i, &result, started_at, elapsed);
        let new_failure = !failures.is_empty() && failures != self.last_failures[i];
        let archive = match &result {
            Ok(record) if !changes.is_empty() || new_failure => self.archive(record, on_event),
            _ => None,
        };
        self.last_failures[i] = failures;
        for (check, transition, message) in changes {
            on_event(&Event::Changed { check, transition, message, archive: archive.clone() });
        }
        self.write_textfile(on_event);
    }

    /// Records the round on the board; returns the state changes and the failed steps.
    #[allow(clippy::type_complexity)]
    fn update_board(
        &self,
        i: usize,
        result: &Result<RunRecord, String>,
        started_at: f64,
        elapsed: f64,
    ) -> (Vec<(String, Transition, Option<String>)>, BTreeSet<String>) {
        let plan = &self.plans[i];
        let mut changes = Vec::new();
        let mut failures = BTreeSet::new();
        let Ok(mut checks) = self.board.checks.lock() else { return (changes, failures) };
        for check in checks.iter_mut().filter(|c| c.runbook == plan.runbook) {
            let step = result.as_ref().ok().and_then(|r| r.steps.iter().find(|s| s.id == check.step));
            let transition = match (result, step) {
                (_, Some(step)) => check.record(step, started_at),
                (Err(why), None) => check.record_error(why.clone(), started_at, elapsed),
                (Ok(_), None) => check.record_error("the step did not run".into(), started_at, elapsed),
            };
            let last = check.last.as_ref();
            if last.is_some_and(|l| !l.passed) {
                failures.insert(check.step.clone());
            }
            if let Some(transition) = transition {
                changes.push((check.label(), transition, last.and_then(|l| l.message.clone())));
            }
        }
        (changes, failures)
    }

    /// One round of `plan` through the engine, stopped when it outlasts its timeout.
    fn execute(&self, plan: &CheckPlan) -> Result<RunRecord, String> {
        let rb = &self.kb[plan.index];
        let mut trigger = Trigger { kind: "watch".into(), ..Trigger::default() };
        trigger.extra.insert("every".into(), crate::model::duration::Duration(plan.every).to_string().into());
        let opts = ExecOptions {
            only: plan.steps.clone(),
            archive: false,
            archives_dir: self.config.archives_dir.clone(),
            diagnose: true,
            trigger: Some(trigger),
            ..ExecOptions::default()
        };
        let interrupt = Arc::new(AtomicBool::new(false));
        let (done, finished) = mpsc::channel::<()>();
        let watchdog = spawn_watchdog(plan.timeout, Arc::clone(&interrupt), Arc::clone(&self.stop), finished);
        let request = RunRequest {
            kb: self.kb,
            runbook: rb,
            body: &plan.body,
            options: &opts,
            context: &self.context,
            interrupted: &interrupt,
        };
        let outcome = engine::execute(&request, &mut SilentReporter);
        drop(done);
        let timed_out = watchdog.join().unwrap_or(false);
        let mut record = outcome.map_err(|invalid| invalid.message)?.record;
        if timed_out {
            let why = format!("stopped: the round took longer than {}", crate::model::duration::Duration(plan.timeout));
            for step in record.steps.iter_mut().filter(|s| s.outcome == Outcome::Interrupted) {
                step.reason = Some(why.clone());
            }
        }
        Ok(record)
    }

    /// Keeps the round as an archive; its folder, or `None` (with a notice) when that fails.
    fn archive(&self, record: &RunRecord, on_event: &mut dyn FnMut(&Event)) -> Option<PathBuf> {
        let mut record = record.clone();
        let archives = Archives::new(&self.config.archives_dir);
        let written = RunWriter::create(&archives, &record.run_id).and_then(|(mut archive, id)| {
            record.run_id = id;
            archive.write_record(&record, true)?;
            archive.write_markdown(&record)?;
            Ok(archive.dir().to_path_buf())
        });
        match written {
            Ok(dir) => Some(dir),
            Err(err) => {
                on_event(&Event::Notice(format!(
                    "cannot archive the round in {}: {err}",
                    self.config.archives_dir.display()
                )));
                None
            }
        }
    }

    fn write_textfile(&mut self, on_event: &mut dyn FnMut(&Event)) {
        let Some(dir) = &self.config.textfile_dir else { return };
        let path = dir.join(TEXTFILE_NAME);
        match crate::util::fs::write_atomic(&path, self.board.metrics_text().as_bytes()) {
            Ok(()) => self.textfile_failed = false,
            Err(err) if !self.textfile_failed => {
                self.textfile_failed = true;
                on_event(&Event::Notice(format!("cannot write {}: {err}", path.display())));
            }
            Err(_) => {}
        }
    }
}

/// Sets `interrupt` when `timeout` passes or `stop` is set, unless `finished` says the round
/// ended first. Returns whether the timeout hit.
fn spawn_watchdog(
    timeout: Duration,
    interrupt: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    finished: mpsc::Receiver<()>,
) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + timeout;
        loop {
            if stop.load(Ordering::SeqCst) {
                interrupt.store(true, Ordering::SeqCst);
                return false;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                interrupt.store(true, Ordering::SeqCst);
                return true;
            }
            match finished.recv_timeout(left.min(STOP_POLL)) {
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                _ => return false,
            }
        }
    })
}

/// A small xorshift generator for jitter: no need for a cryptographic source, nor for a crate.
struct Jitter(u64);

impl Jitter {
    fn seeded() -> Jitter {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(1);
        Jitter((nanos as u64) ^ (u64::from(std::process::id()) << 32) | 1)
    }

    fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A random part of `fraction` of `every`.
    fn spread(&mut self, every: Duration, fraction: f64) -> Duration {
        every.mul_f64(fraction.clamp(0.0, 1.0) * self.next_unit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_fraction() {
        let mut rng = Jitter(42);
        let every = Duration::from_secs(10);
        let spreads: Vec<Duration> = (0..1000).map(|_| rng.spread(every, 0.1)).collect();
        assert!(spreads.iter().all(|d| *d < Duration::from_secs(1)));
        assert!(spreads.iter().any(|d| *d > Duration::from_millis(900)), "it uses the whole range");
        assert!(spreads.iter().any(|d| *d < Duration::from_millis(100)));
        assert_eq!(rng.spread(every, 0.0), Duration::ZERO);
    }
}
