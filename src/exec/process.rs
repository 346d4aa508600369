//! Running one step's process: its own process group, stdin from `/dev/null`, both output
//! streams read on this thread as they come (`poll`), and on timeout or Ctrl-C the whole group
//! terminated — SIGTERM, then SIGKILL after a grace period — including descendants that left
//! the group. No helper threads: a step costs one `fork`/`exec` and little else.

use super::stream::{Live, StreamSink, StreamState, StreamSummary};
use super::watchdog::Watchdog;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::pipe::SpliceFlags;
use rustix::process::{Pid, PidfdFlags, Signal};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a process group gets between SIGTERM and SIGKILL.
pub(crate) const KILL_GRACE: Duration = Duration::from_secs(2);
/// The longest the loop sleeps before looking at the clock and the interrupt flag again.
const TICK: Duration = Duration::from_millis(50);
/// How long to wait for pipes held by processes that could not be found after SIGKILL.
const ABANDON_AFTER: Duration = Duration::from_secs(1);

/// What to run.
pub(crate) struct Spawn {
    pub program: String,
    pub args: Vec<String>,
    /// The whole environment of the process (nothing is inherited).
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    /// What the process reads on stdin; the pipe stays open until the process ends (a remote
    /// step's bootstrap reads end-of-file as "the local side is gone"). `None`: `/dev/null`.
    pub stdin: Option<Vec<u8>>,
    /// Nothing else of this `runbook` runs meanwhile, so the children of ours born during the
    /// step are its own (`setsid` daemons) and die with it. False for a fleet host's step: the
    /// other hosts' processes are born meanwhile too.
    pub solo: bool,
}

/// How the process ended.
#[derive(Debug)]
pub(crate) struct Finished {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub interrupted: bool,
    pub stdout: StreamSummary,
    pub stderr: StreamSummary,
}

/// One output pipe and what is made of it.
struct Pipe<R> {
    reader: Option<R>,
    state: StreamState,
    /// The pipe's buffer was enlarged for passing output through.
    grown: bool,
    /// `splice` works for this log (a filesystem may refuse it).
    can_splice: bool,
}

impl<R: Read + AsFd> Pipe<R> {
    /// Reads what is there now; closes the pipe at end of file. Never blocks (non-blocking fd).
    fn drain(&mut self, buffer: &mut Vec<u8>, live: &mut Live) {
        if self.pass_through() {
            return;
        }
        let Some(reader) = self.reader.as_mut() else { return };
        // A bounded number of reads per wake-up, so one chatty stream cannot starve the other.
        for _ in 0..64 {
            match reader.read(buffer) {
                Ok(0) => {
                    self.reader = None;
                    return;
                }
                Ok(n) => {
                    self.state.feed(&buffer[..n], live);
                    // Grow while reads keep filling the buffer: few, large reads for big outputs.
                    if n == buffer.len() && buffer.len() < 64 * 1024 {
                        buffer.resize(buffer.len() * 2, 0);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.reader = None;
                    return;
                }
            }
        }
    }

    fn is_open(&self) -> bool {
        self.reader.is_some()
    }

    /// When nothing needs to see the rest of the output (a gigabyte of it, say), moves it from
    /// the pipe to the log file inside the kernel (`splice`), without copying it through here.
    /// False when that does not apply and the pipe must be read.
    fn pass_through(&mut self) -> bool {
        let Some(reader) = self.reader.as_ref().filter(|_| self.can_splice) else { return false };
        let Some(log) = self.state.pass_through() else { return false };
        if !self.grown {
            // Fewer, larger moves: the pipe holds 1 MiB instead of 64 KiB.
            let _ = rustix::pipe::fcntl_setpipe_size(reader, 1 << 20);
            self.grown = true;
        }
        let mut moved = 0u64;
        let result = loop {
            match rustix::pipe::splice(reader, None, log, None, 1 << 20, SpliceFlags::NONBLOCK) {
                Ok(0) => break Ok(true),
                Ok(n) => moved += n as u64,
                Err(Errno::AGAIN) => break Ok(false),
                Err(Errno::INTR) => continue,
                Err(errno) => break Err(errno),
            }
        };
        self.state.passed_through(moved);
        match result {
            Ok(true) => self.reader = None,
            Ok(false) => {}
            // Not possible here (a filesystem without splice): read it instead, as before.
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) if moved == 0 => {
                self.can_splice = false;
                return false;
            }
            Err(errno) => self.state.pass_through_failed(format!("cannot write the log: {errno}")),
        }
        true
    }
}

/// When to escalate from SIGTERM to SIGKILL, and when to stop waiting for pipes nobody closes.
#[derive(Default)]
pub(crate) struct Stopper {
    pub(crate) stopping: bool,
    pub(crate) timed_out: bool,
    kill_at: Option<Instant>,
    abandon_at: Option<Instant>,
}

impl Stopper {
    /// Signals the group as the deadlines pass. True once the loop should give up on the pipes.
    pub(crate) fn tick(
        &mut self,
        now: Instant,
        deadline: Instant,
        interrupted: bool,
        pid: u32,
        born: Option<u64>,
    ) -> bool {
        if !self.stopping && (now >= deadline || interrupted) {
            self.timed_out = !interrupted;
            self.stopping = true;
            signal_group(pid, Signal::TERM);
            self.kill_at = Some(now + KILL_GRACE);
        }
        if self.kill_at.is_some_and(|at| now >= at) {
            signal_group(pid, Signal::KILL);
            if let Some(born) = born {
                kill_strays(pid, born);
            }
            self.kill_at = None;
            self.abandon_at = Some(now + ABANDON_AFTER);
        }
        self.abandon_at.is_some_and(|at| now >= at)
    }

    /// How long the loop may sleep before the next deadline.
    pub(crate) fn wait(&self, now: Instant, deadline: Instant) -> Duration {
        let mut wait = TICK;
        for at in [Some(deadline).filter(|_| !self.stopping), self.kill_at, self.abandon_at].into_iter().flatten() {
            wait = wait.min(at.saturating_duration_since(now));
        }
        wait
    }
}

/// Runs `spawn` to completion, timeout or interruption, handing every live output line to
/// `live`. Returns an error only when the process cannot be started. With a `watchdog`, the
/// process and what it starts are killed even if `runbook` itself is killed meanwhile.
pub(crate) fn run(
    spawn: Spawn,
    timeout: Duration,
    sinks: [StreamSink; 2],
    interrupted: &AtomicBool,
    mut watchdog: Option<&mut Watchdog>,
    live: &mut Live,
) -> Result<Finished, String> {
    let started = Instant::now();
    let mut command = Command::new(&spawn.program);
    command
        .args(&spawn.args)
        .env_clear()
        .envs(&spawn.env)
        .current_dir(&spawn.cwd)
        .stdin(if spawn.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a timeout or Ctrl-C can then signal everything it started.
        .process_group(0);
    if let Some(watchdog) = watchdog.as_deref_mut() {
        let (name, value) = watchdog.arm();
        command.env(name, value);
    }
    let spawned = command.spawn().map_err(|err| spawn_error(&spawn, &err));
    let finished = spawned.and_then(|mut child| {
        if let Some(watchdog) = watchdog.as_deref_mut() {
            watchdog.started(child.id());
        }
        let feeder = child.stdin.take().map(|pipe| Feeder::start(pipe, spawn.stdin.clone().unwrap_or_default()));
        let finished = supervise(child, started, timeout, sinks, interrupted, spawn.solo, live);
        // Only now, with the process gone, does its stdin close.
        drop(feeder);
        finished
    });
    if let Some(watchdog) = watchdog {
        watchdog.done();
    }
    finished
}

/// Writes a process's stdin on a thread of its own (the poll loop stays as it is), then keeps
/// the pipe open until dropped.
struct Feeder {
    thread: Option<std::thread::JoinHandle<std::process::ChildStdin>>,
}

impl Feeder {
    fn start(mut pipe: std::process::ChildStdin, bytes: Vec<u8>) -> Feeder {
        let thread = std::thread::spawn(move || {
            use std::io::Write;
            // A process that exits without reading all of it closes the pipe: nothing to do then.
            let _ = pipe.write_all(&bytes).and_then(|()| pipe.flush());
            pipe
        });
        Feeder { thread: Some(thread) }
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        // Joining closes the pipe. A write still blocked (something the process handed the pipe
        // to keeps it full) is left to fail on its own rather than hold up the run.
        if let Some(thread) = self.thread.take()
            && thread.is_finished()
        {
            drop(thread.join());
        }
    }
}

/// Reads both pipes as the process writes them, until it has exited and closed them, stopping
/// it at the deadline or on interrupt.
fn supervise(
    mut child: Child,
    started: Instant,
    timeout: Duration,
    [stdout, stderr]: [StreamSink; 2],
    interrupted: &AtomicBool,
    spawn_solo: bool,
    live: &mut Live,
) -> Result<Finished, String> {
    let pid = child.id();
    // Processes of ours older than the step (daemons earlier steps meant to leave running) are
    // not its strays.
    // `None`: not a solo step, whose strays cannot be told from other hosts' processes.
    let born = if spawn_solo { Some(start_time(pid).unwrap_or(0)) } else { None };
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err("cannot capture the output of the process".into());
    };
    for fd in [out.as_fd(), err.as_fd()] {
        let _ = rustix::io::ioctl_fionbio(fd, true);
    }
    // A pidfd turns "the process exited" into one more thing to poll; without one (older
    // kernels) the loop asks `try_wait` on every wake-up.
    let pidfd = Pid::from_raw(pid as i32).and_then(|p| rustix::process::pidfd_open(p, PidfdFlags::empty()).ok());
    let mut stdout = Pipe { reader: Some(out), state: StreamState::new(stdout), grown: false, can_splice: true };
    let mut stderr = Pipe { reader: Some(err), state: StreamState::new(stderr), grown: false, can_splice: true };
    let mut buffer = vec![0u8; 4 * 1024];
    let deadline = started + timeout;
    let mut status: Option<ExitStatus> = None;
    let mut stopper = Stopper::default();
    let mut idle = Duration::from_millis(1);
    loop {
        if status.is_none() {
            status = child.try_wait().ok().flatten();
        }
        let open = stdout.is_open() || stderr.is_open();
        if status.is_some() && !open {
            break;
        }
        let now = Instant::now();
        // Pipes held by something we could not find must not hang the run forever.
        if stopper.tick(now, deadline, interrupted.load(Ordering::SeqCst), pid, born) && status.is_some() {
            break;
        }
        let mut wait = stopper.wait(now, deadline);
        if !open {
            // The pipes are closed but the process has not been reaped yet: usually a matter of
            // microseconds, so look again soon, and back off if it lingers.
            wait = wait.min(idle);
            idle = (idle * 2).min(TICK);
        }
        wait_for_activity(&stdout, &stderr, pidfd.as_ref().filter(|_| status.is_none()), wait);
        stdout.drain(&mut buffer, live);
        stderr.drain(&mut buffer, live);
    }
    if stopper.stopping {
        // Make sure nothing survives, even after the group exited within the grace period:
        // not the group, and not what left it (`setsid` daemons, re-parented to us).
        signal_group(pid, Signal::KILL);
        if let Some(born) = born {
            kill_strays(pid, born);
        }
    }
    if status.is_none() {
        status = wait_briefly(&mut child);
    }
    let (exit_code, signal) = match status {
        Some(status) => (status.code(), status.signal()),
        None => (None, None),
    };
    Ok(Finished {
        exit_code,
        signal,
        timed_out: stopper.timed_out,
        interrupted: stopper.stopping && !stopper.timed_out,
        stdout: stdout.state.finish(live),
        stderr: stderr.state.finish(live),
    })
}

/// Sleeps until a pipe has data or closes, the process exits (pidfd), or `wait` passes.
fn wait_for_activity<A: AsFd, B: AsFd>(
    stdout: &Pipe<A>,
    stderr: &Pipe<B>,
    pidfd: Option<&std::os::fd::OwnedFd>,
    wait: Duration,
) {
    let mut fds: Vec<PollFd> = Vec::with_capacity(3);
    if let Some(reader) = &stdout.reader {
        fds.push(PollFd::new(reader, PollFlags::IN));
    }
    if let Some(reader) = &stderr.reader {
        fds.push(PollFd::new(reader, PollFlags::IN));
    }
    if let Some(pidfd) = pidfd {
        fds.push(PollFd::new(pidfd, PollFlags::IN));
    }
    poll_or_sleep(&mut fds, wait);
}

/// Waits until one of `fds` is ready or `wait` has passed (just sleeps when there are none).
pub(crate) fn poll_or_sleep(fds: &mut [PollFd], wait: Duration) {
    let timeout = Timespec::try_from(wait).unwrap_or(Timespec { tv_sec: 0, tv_nsec: 50_000_000 });
    if fds.is_empty() {
        std::thread::sleep(wait);
    } else {
        let _ = poll(fds, Some(&timeout));
    }
}

/// Reaps a process we gave up waiting for, if it is gone within a moment.
pub(crate) fn wait_briefly(child: &mut Child) -> Option<ExitStatus> {
    for _ in 0..20 {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
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
pub(crate) fn signal_group(pid: u32, signal: Signal) {
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
pub(crate) fn become_subreaper() {
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
}

/// Collects exited orphans (zombies) re-parented to us; never blocks.
pub(crate) fn reap_orphans() {
    while let Ok(Some(_)) = rustix::process::wait(rustix::process::WaitOptions::NOHANG) {}
}
