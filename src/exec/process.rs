//! Running one step's process: its own process group, stdin from `/dev/null`, output streamed
//! through [`stream::pump`], and on timeout or Ctrl-C the whole group terminated — SIGTERM, then
//! SIGKILL after a grace period — including descendants that left the group.

use super::stream::{self, Event, StreamKind, StreamSink, StreamSummary};
use rustix::process::{Pid, Signal};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long a process group gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(2);
/// How often the wait loop looks at the clock and the interrupt flag.
const TICK: Duration = Duration::from_millis(50);

/// What to run.
pub struct Spawn {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

/// How the process ended.
#[derive(Debug)]
pub struct Finished {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub interrupted: bool,
    pub duration: Duration,
    pub stdout: StreamSummary,
    pub stderr: StreamSummary,
}

/// Runs `spawn` to completion, timeout or interruption, handing every live output line to
/// `on_line`. Returns an error only when the process cannot be started.
pub fn run(
    spawn: Spawn,
    timeout: Duration,
    stdout: StreamSink,
    stderr: StreamSink,
    events: mpsc::Receiver<Event>,
    interrupted: &AtomicBool,
    on_line: &mut dyn FnMut(StreamKind, &str),
) -> Result<Finished, String> {
    let started = Instant::now();
    let mut command = Command::new(&spawn.program);
    command
        .args(&spawn.args)
        .envs(spawn.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spawn.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a timeout or Ctrl-C can then signal everything it started.
        .process_group(0);
    let mut child = command.spawn().map_err(|err| spawn_error(&spawn, &err))?;
    let pid = child.id();
    // Processes of ours older than the step (daemons earlier steps meant to leave running) are
    // not its strays.
    let born = start_time(pid).unwrap_or(0);
    let live = stdout.live.clone();
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        return Err("cannot capture the output of the process".into());
    };
    std::thread::spawn(move || stream::pump(out, stdout));
    std::thread::spawn(move || stream::pump(err, stderr));
    std::thread::spawn(move || {
        let _ = live.send(Event::Exited(child.wait()));
    });

    let deadline = started + timeout;
    let mut status = None;
    let mut summaries: [Option<StreamSummary>; 2] = [None, None];
    let mut timed_out = false;
    let mut stopping = false;
    let mut kill_at: Option<Instant> = None;
    let mut abandon_at: Option<Instant> = None;
    loop {
        if status.is_some() && summaries.iter().all(Option::is_some) {
            break;
        }
        let now = Instant::now();
        if !stopping && (now >= deadline || interrupted.load(Ordering::SeqCst)) {
            timed_out = now >= deadline && !interrupted.load(Ordering::SeqCst);
            stopping = true;
            signal_group(pid, Signal::TERM);
            kill_at = Some(now + KILL_GRACE);
        }
        if let Some(at) = kill_at
            && now >= at
        {
            signal_group(pid, Signal::KILL);
            kill_strays(pid, born);
            kill_at = None;
            // Pipes held by something we could not find must not hang the run forever.
            abandon_at = Some(now + Duration::from_secs(1));
        }
        if abandon_at.is_some_and(|at| now >= at) && status.is_some() {
            break;
        }
        match events.recv_timeout(TICK) {
            Ok(Event::Line(kind, text)) => on_line(kind, &text),
            Ok(Event::LiveCut(kind)) => on_line(kind, &live_cut_notice(kind)),
            Ok(Event::Exited(result)) => {
                status = Some(result);
                // The main process is gone; whatever it left running in its group still holds
                // the pipes only if the step meant it to (or misbehaves): wait for the timeout.
            }
            Ok(Event::Done(kind, summary)) => {
                let slot = match kind {
                    StreamKind::Stdout => 0,
                    StreamKind::Stderr => 1,
                };
                summaries[slot] = Some(*summary);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    if stopping {
        // Make sure nothing survives, even after the group exited within the grace period:
        // not the group, and not what left it (`setsid` daemons, re-parented to us).
        signal_group(pid, Signal::KILL);
        kill_strays(pid, born);
    }
    let (exit_code, signal) = match status {
        Some(Ok(status)) => (status.code(), status.signal()),
        _ => (None, None),
    };
    let [out, err] = summaries;
    Ok(Finished {
        exit_code,
        signal,
        timed_out,
        interrupted: stopping && !timed_out,
        duration: started.elapsed(),
        stdout: out.unwrap_or_default(),
        stderr: err.unwrap_or_default(),
    })
}

fn live_cut_notice(kind: StreamKind) -> String {
    format!(
        "… more {} than {} MiB: the rest is only in the log file",
        kind.as_str(),
        stream::LIVE_BYTES / (1024 * 1024)
    )
}

fn spawn_error(spawn: &Spawn, err: &std::io::Error) -> String {
    if err.kind() == std::io::ErrorKind::NotFound {
        if !spawn.cwd.is_dir() {
            return format!("working directory {} does not exist", spawn.cwd.display());
        }
        return format!("cannot start `{}`: not found", spawn.program);
    }
    format!("cannot start `{}`: {err}", spawn.program)
}

/// Signals the step's whole process group; a group that is already gone is fine.
fn signal_group(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// Kills processes the step started that left its process group (`setsid` daemons). They are
/// found as our children (`runbook` is a child subreaper, so orphans are re-parented to it) that
/// started no earlier than the step.
fn kill_strays(step_pid: u32, born: u64) {
    for pid in our_children() {
        if pid == step_pid || start_time(pid).is_none_or(|t| t < born) {
            continue;
        }
        if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
            let _ = rustix::process::kill_process_group(pid, Signal::KILL);
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
    }
}

/// Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks since boot.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields follow the last ')'.
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

/// Pids whose parent is this process.
fn our_children() -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            // The command name may hold spaces and parentheses: the fields follow the last ')'.
            let parent =
                stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
            parent == Some(me)
        })
        .collect()
}

/// Makes `runbook` the reaper of orphans its steps leave behind, so a timeout can find them.
pub fn become_subreaper() {
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
}

/// Collects exited orphans (zombies) re-parented to us; never blocks.
pub fn reap_orphans() {
    while let Ok(Some(_)) = rustix::process::wait(rustix::process::WaitOptions::NOHANG) {}
}
