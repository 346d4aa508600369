//! From an accepted alert to a diagnosis run: one run per alert fingerprint and status within a
//! cooldown, a bounded queue, a limit on runs at once, and each run a child `runbook exec
//! --diagnose` process whose result is kept for `/api/alerts`.

use super::metrics::HookMetrics;
use crate::model::alerting::MatchRule;
use crate::record::Trigger;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::{Semaphore, mpsc};

/// Alerts kept for `/api/alerts`, newest last.
const EVENTS_KEPT: usize = 1000;
/// Dedup entries before expired ones are swept out.
const SEEN_SWEEP_AT: usize = 10_000;
/// How long a run gets after SIGTERM to write its archive, before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(10);

/// How runs are started and limited.
#[derive(Debug, Clone)]
pub(crate) struct RunnerConfig {
    /// The `runbook` binary to run (this one).
    pub exe: PathBuf,
    /// `--kb` for the child; `None` for the built-in KB.
    pub kb_root: Option<PathBuf>,
    /// `--archives` for the child, so runs land where the site reads them.
    pub archives: PathBuf,
    /// One run per alert fingerprint and status within this time.
    pub cooldown: Duration,
    /// Runs at once.
    pub concurrency: usize,
    /// Runs waiting for a slot; more are dropped (and counted).
    pub queue: usize,
    /// A run still going after this is stopped.
    pub run_timeout: Duration,
}

/// What became of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum AlertOutcome {
    Queued,
    Deduplicated,
    Resolved,
    Unmatched,
    NotOptedIn,
    QueueFull,
}

impl AlertOutcome {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            AlertOutcome::Queued => "queued",
            AlertOutcome::Deduplicated => "deduplicated",
            AlertOutcome::Resolved => "resolved",
            AlertOutcome::Unmatched => "unmatched",
            AlertOutcome::NotOptedIn => "not_opted_in",
            AlertOutcome::QueueFull => "queue_full",
        }
    }
}

/// A run an alert asked for, as `/api/alerts` shows it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct RunSlot {
    pub runbook: String,
    /// `queued`, `running`, `finished`, `error`.
    pub state: &'static str,
    pub outcome: AlertOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// Variables the alert's labels filled.
    pub vars: Vec<String>,
    /// Labels named like a variable that were not used, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused_labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One alert as received, with what became of it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct AlertEvent {
    pub id: u64,
    pub received_at: String,
    pub source: &'static str,
    pub alert: Option<String>,
    pub status: String,
    pub fingerprint: String,
    pub outcome: AlertOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_by: Option<MatchRule>,
    pub runs: Vec<RunSlot>,
}

/// A run to start.
#[derive(Debug)]
pub(super) struct Job {
    pub event: u64,
    pub slot: usize,
    pub runbook: String,
    pub vars: Vec<(String, String)>,
    /// A plain doc: its shell blocks run (`exec --plain`), the read-only ones only.
    pub plain: bool,
    pub trigger: Trigger,
}

/// The shared state of dedup, queue and the record of recent alerts.
pub(super) struct Dispatcher {
    config: RunnerConfig,
    queue: mpsc::Sender<Job>,
    seen: Mutex<HashMap<String, Instant>>,
    events: Mutex<Events>,
    pub metrics: HookMetrics,
}

#[derive(Default)]
struct Events {
    next_id: u64,
    list: VecDeque<AlertEvent>,
}

impl Dispatcher {
    /// The dispatcher and the receiving end of its queue, for [`Dispatcher::run_queue`].
    pub(super) fn new(config: RunnerConfig) -> (Arc<Dispatcher>, mpsc::Receiver<Job>) {
        let (queue, jobs) = mpsc::channel(config.queue.max(1));
        let dispatcher = Dispatcher {
            config,
            queue,
            seen: Mutex::new(HashMap::new()),
            events: Mutex::new(Events::default()),
            metrics: HookMetrics::default(),
        };
        (Arc::new(dispatcher), jobs)
    }

    /// Records a new alert; returns its id.
    pub(super) fn record(&self, mut event: AlertEvent) -> u64 {
        let Ok(mut events) = self.events.lock() else { return 0 };
        events.next_id += 1;
        event.id = events.next_id;
        if events.list.len() == EVENTS_KEPT {
            events.list.pop_front();
        }
        events.list.push_back(event);
        events.next_id
    }

    /// The alerts received lately, newest first.
    pub(super) fn recent(&self) -> Vec<AlertEvent> {
        self.events.lock().map(|e| e.list.iter().rev().cloned().collect()).unwrap_or_default()
    }

    /// Changes the recorded alert `id` (if it is still kept).
    pub(super) fn with_event<T>(&self, id: u64, change: impl FnOnce(&mut AlertEvent) -> T) -> Option<T> {
        let mut events = self.events.lock().ok()?;
        events.list.iter_mut().rev().find(|e| e.id == id).map(change)
    }

    fn update(&self, event: u64, slot: usize, change: impl FnOnce(&mut RunSlot)) {
        self.with_event(event, |e| e.runs.get_mut(slot).map(change));
    }

    /// Whether `key` (source, fingerprint, status, runbook) ran within the cooldown; if not, it
    /// counts as running from now.
    pub(super) fn seen_recently(&self, key: &str) -> bool {
        let Ok(mut seen) = self.seen.lock() else { return false };
        let now = Instant::now();
        if seen.len() >= SEEN_SWEEP_AT {
            let cooldown = self.config.cooldown;
            seen.retain(|_, at| now.duration_since(*at) < cooldown);
        }
        match seen.get(key) {
            Some(at) if now.duration_since(*at) < self.config.cooldown => true,
            _ => {
                seen.insert(key.to_string(), now);
                false
            }
        }
    }

    /// Forgets `key`, so a resend may run it (its run was never queued).
    pub(super) fn forget(&self, key: &str) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.remove(key);
        }
    }

    /// Queues a run; false when the queue is full.
    pub(super) fn enqueue(&self, job: Job) -> bool {
        let queued = self.queue.try_send(job).is_ok();
        if queued {
            self.metrics.queued.inc();
        }
        queued
    }

    /// Takes jobs off the queue and runs them, at most `concurrency` at once, until the queue
    /// closes. Each run is a child process, so a crash there cannot touch the server.
    pub(super) async fn run_queue(self: Arc<Self>, mut jobs: mpsc::Receiver<Job>) {
        let slots = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        while let Some(job) = jobs.recv().await {
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else { break };
            self.metrics.queued.dec();
            let dispatcher = Arc::clone(&self);
            tokio::spawn(async move {
                dispatcher.metrics.running.inc();
                dispatcher.run_one(job).await;
                dispatcher.metrics.running.dec();
                drop(permit);
            });
        }
    }

    async fn run_one(&self, job: Job) {
        let (event, slot, runbook) = (job.event, job.slot, job.runbook.clone());
        self.update(event, slot, |s| s.state = "running");
        match self.spawn(&job).await {
            Ok(result) => {
                let verdict = result.verdict.clone().unwrap_or_else(|| "error".into());
                self.metrics.run(&runbook, &verdict);
                self.update(event, slot, |s| {
                    s.state = if result.verdict.is_some() { "finished" } else { "error" };
                    s.run_id = result.run_id;
                    s.verdict = result.verdict;
                    s.error = result.error;
                });
            }
            Err(err) => {
                self.metrics.run(&runbook, "error");
                self.update(event, slot, |s| {
                    s.state = "error";
                    s.error = Some(err);
                });
            }
        }
    }

    /// Runs `runbook exec ID [--plain] --diagnose --json --trigger … --var …` and reads its events.
    /// Never `--yes`: a step that asks is skipped, whoever sent the alert.
    async fn spawn(&self, job: &Job) -> Result<ChildResult, String> {
        let trigger = serde_json::to_string(&job.trigger).map_err(|e| e.to_string())?;
        let mut command = tokio::process::Command::new(&self.config.exe);
        if let Some(root) = &self.config.kb_root {
            command.arg("--kb").arg(root);
        }
        command.arg("--archives").arg(&self.config.archives).args(["--color", "never", "exec", &job.runbook]);
        if job.plain {
            command.arg("--plain");
        }
        command.args(["--diagnose", "--json", "--trigger", &trigger]);
        for (name, value) in &job.vars {
            command.arg("--var").arg(format!("{name}={value}"));
        }
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| format!("cannot start {}: {e}", self.config.exe.display()))?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let read = async {
            let events = read_events(stdout).await;
            let stderr = read_tail(stderr).await;
            (events, stderr, child.wait().await)
        };
        let finished = tokio::time::timeout(self.config.run_timeout, read).await;
        let (mut result, stderr, status) = match finished {
            Ok(done) => done,
            Err(_) => {
                stop(&mut child).await;
                return Err(format!(
                    "stopped after {}: the run took too long",
                    crate::util::text::duration(ms(self.config.run_timeout))
                ));
            }
        };
        let status = status.map_err(|e| e.to_string())?;
        if result.verdict.is_none() {
            let why = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim().to_string();
            result.error = Some(format!("runbook exec ended with {status}: {why}"));
        }
        Ok(result)
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// SIGTERM (the run records itself as interrupted), then SIGKILL after a grace period.
async fn stop(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id().and_then(|id| rustix::process::Pid::from_raw(id as i32)) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        if tokio::time::timeout(TERM_GRACE, child.wait()).await.is_ok() {
            return;
        }
    }
    let _ = child.kill().await;
}

/// What the child's JSON events said.
#[derive(Debug, Default)]
struct ChildResult {
    run_id: Option<String>,
    verdict: Option<String>,
    error: Option<String>,
}

/// Reads the child's JSON lines, keeping only the run id and the verdict (output lines are
/// read and dropped, so memory stays bounded whatever the steps print).
async fn read_events(stdout: Option<tokio::process::ChildStdout>) -> ChildResult {
    let mut result = ChildResult::default();
    let Some(stdout) = stdout else { return result };
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if !line.contains("\"run_started\"") && !line.contains("\"run_finished\"") {
            continue;
        }
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if let Some(id) = event["run_id"].as_str() {
            result.run_id = Some(id.to_string());
        }
        if event["event"] == "run_finished" {
            result.verdict = event["verdict"].as_str().map(str::to_string);
        }
    }
    result
}

/// The last 4 KiB of the child's stderr.
async fn read_tail(stderr: Option<tokio::process::ChildStderr>) -> String {
    let Some(mut stderr) = stderr else { return String::new() };
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut buf).await {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > 4096 {
            tail.drain(..tail.len() - 4096);
        }
    }
    String::from_utf8_lossy(&tail).into_owned()
}
