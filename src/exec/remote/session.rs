//! A host's session: the bootstrap (`exec::remote::bootstrap`) started once through the host's
//! transport for the whole run, and the host's steps sent to it one frame at a time. One `ssh`
//! process and one remote login shell per host instead of one per step: the login shell
//! (with its `~/.bashrc`) is most of what a short step costs on a host.
//!
//! A step's output is read as the bootstrap writes it, up to the step's token on each stream
//! (stdout's carries the exit status), and goes to the step's sinks exactly as a local step's
//! does. A step stopped here (its timeout, Ctrl-C) or a transport that ends mid-step ends the
//! session: the bootstrap sees end-of-file and stops what the step left, and the next step
//! starts a new session.

use super::bootstrap::Frame;
use crate::exec::process::{Finished, KILL_GRACE, Stopper, signal_group, wait_briefly};
use crate::exec::stream::{Live, StreamSink, StreamState};
use crate::exec::watchdog::Watchdog;
use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags, Signal};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The transport process running the bootstrap, and its pipes.
pub(crate) struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    pidfd: Option<OwnedFd>,
    /// The watchdog's marker the transport process carries, announced again for every step.
    marker: Option<String>,
    /// Output read past the last step's tokens (what an earlier step left in the background
    /// wrote since): the next step's.
    leftover: [Vec<u8>; 2],
    status: Option<ExitStatus>,
    /// A step was stopped here or the transport ended: no more steps on this session.
    over: bool,
}

/// What starts a session: the transport's program and arguments (which run the bootstrap on
/// the host), and the environment and folder of that program here.
pub(crate) struct Start<'a> {
    pub program: &'a Path,
    pub args: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    pub cwd: &'a Path,
}

/// How one step on a session ended.
#[derive(Debug)]
pub(crate) struct StepEnd {
    /// The step's exit status (from its token) when it ran to its end; else the transport's
    /// exit, or how it was stopped here.
    pub finished: Finished,
    /// The transport process ended before the step's tokens came back.
    pub transport_ended: bool,
}

impl Session {
    /// Starts the transport in its own process group, guarded by `watchdog` while steps run.
    pub(crate) fn open(start: &Start, watchdog: Option<&mut Watchdog>) -> Result<Session, String> {
        let mut command = Command::new(start.program);
        command
            .args(start.args)
            .env_clear()
            .envs(start.env)
            .current_dir(start.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut marker = None;
        let mut watchdog = watchdog;
        if let Some(watchdog) = watchdog.as_deref_mut() {
            let (name, value) = watchdog.arm();
            command.env(&name, value);
            marker = Some(name);
        }
        let spawned = command.spawn();
        if let Some(watchdog) = watchdog {
            if let Ok(child) = &spawned {
                watchdog.started(child.id());
            }
            // Between steps nothing runs on the host that the guard should stop.
            watchdog.done();
        }
        let mut child = spawned.map_err(|e| format!("cannot start `{}`: {e}", start.program.display()))?;
        let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        for fd in [stdin.as_ref().map(AsFd::as_fd), stdout.as_ref().map(AsFd::as_fd), stderr.as_ref().map(AsFd::as_fd)]
            .into_iter()
            .flatten()
        {
            let _ = rustix::io::ioctl_fionbio(fd, true);
        }
        let pidfd =
            Pid::from_raw(child.id() as i32).and_then(|p| rustix::process::pidfd_open(p, PidfdFlags::empty()).ok());
        Ok(Session {
            child,
            stdin,
            stdout,
            stderr,
            pidfd,
            marker,
            leftover: Default::default(),
            status: None,
            over: false,
        })
    }

    /// False once a step was stopped here or the transport ended: open another.
    pub(crate) fn usable(&self) -> bool {
        !self.over
    }

    /// Sends `frame` and reads the step's output into `sinks` until its tokens come back, the
    /// transport ends, or `timeout` passes or `interrupted` is set (then the transport's group
    /// is stopped, SIGTERM then SIGKILL, and the bootstrap stops the step on the host).
    pub(crate) fn step(
        &mut self,
        frame: &Frame,
        timeout: Duration,
        [stdout, stderr]: [StreamSink; 2],
        interrupted: &AtomicBool,
        mut watchdog: Option<&mut Watchdog>,
        live: &mut Live,
    ) -> StepEnd {
        let pid = self.child.id();
        if let (Some(watchdog), Some(marker)) = (watchdog.as_deref_mut(), &self.marker) {
            watchdog.rearm(marker, pid);
        }
        let mut streams = [Stream::new(stdout, &frame.token), Stream::new(stderr, &frame.token)];
        for (stream, leftover) in streams.iter_mut().zip(&mut self.leftover) {
            let earlier = std::mem::take(leftover);
            stream.push(&earlier, live);
        }
        let mut unsent: &[u8] = &frame.bytes;
        let deadline = Instant::now() + timeout;
        let mut stopper = Stopper::default();
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            if self.status.is_none() {
                self.status = self.child.try_wait().ok().flatten();
            }
            if streams.iter().all(Stream::ended) {
                break;
            }
            let open = self.stdout.is_some() || self.stderr.is_some();
            if self.status.is_some() && !open {
                break;
            }
            let now = Instant::now();
            if stopper.tick(now, deadline, interrupted.load(Ordering::SeqCst), pid, None) && self.status.is_some() {
                break;
            }
            if stopper.stopping {
                // End of file first: the bootstrap stops the step on the host, whatever the
                // transport makes of the signals.
                self.stdin = None;
            }
            let mut wait = stopper.wait(now, deadline);
            if !open {
                wait = wait.min(Duration::from_millis(10));
            }
            self.wait_for_activity(!unsent.is_empty(), wait);
            self.send(&mut unsent);
            self.drain(&mut streams, &mut buffer, live);
        }
        let transport_ended = !streams.iter().all(Stream::ended);
        for stream in &mut streams {
            stream.flush(live);
        }
        if stopper.stopping {
            signal_group(pid, Signal::KILL);
        }
        if transport_ended || stopper.stopping {
            self.over = true;
            if self.status.is_none() {
                self.status = wait_briefly(&mut self.child);
            }
        }
        if let Some(watchdog) = watchdog {
            watchdog.done();
        }
        let [stdout, stderr] = streams;
        let (exit_code, signal) = match (transport_ended, self.status) {
            (false, _) => (stdout.status.flatten(), None),
            (true, Some(status)) => (status.code(), status.signal()),
            (true, None) => (None, None),
        };
        let finished = Finished {
            exit_code,
            signal,
            timed_out: stopper.timed_out,
            interrupted: stopper.stopping && !stopper.timed_out,
            stdout: stdout.state.finish(live),
            stderr: stderr.state.finish(live),
        };
        self.leftover = [stdout.after, stderr.after];
        StepEnd { finished, transport_ended: transport_ended && !stopper.stopping }
    }

    /// Sleeps until output comes, stdin can take more, the transport exits, or `wait` passes.
    fn wait_for_activity(&self, sending: bool, wait: Duration) {
        let mut fds: Vec<PollFd> = Vec::with_capacity(4);
        if let Some(out) = &self.stdout {
            fds.push(PollFd::new(out, PollFlags::IN));
        }
        if let Some(err) = &self.stderr {
            fds.push(PollFd::new(err, PollFlags::IN));
        }
        if let Some(stdin) = self.stdin.as_ref().filter(|_| sending) {
            fds.push(PollFd::new(stdin, PollFlags::OUT));
        }
        if let Some(pidfd) = self.pidfd.as_ref().filter(|_| self.status.is_none()) {
            fds.push(PollFd::new(pidfd, PollFlags::IN));
        }
        crate::exec::process::poll_or_sleep(&mut fds, wait);
    }

    /// Writes what of the frame the pipe takes now (never blocks). A transport that is gone
    /// takes nothing: its end shows on its output.
    fn send(&mut self, unsent: &mut &[u8]) {
        let Some(stdin) = self.stdin.as_mut() else {
            *unsent = &[];
            return;
        };
        while !unsent.is_empty() {
            match stdin.write(unsent) {
                Ok(0) => break,
                Ok(n) => *unsent = &unsent[n..],
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    *unsent = &[];
                    break;
                }
            }
        }
    }

    /// Reads what both pipes hold now into their streams; a pipe at end of file is closed.
    fn drain(&mut self, streams: &mut [Stream; 2], buffer: &mut [u8], live: &mut Live) {
        let [stdout, stderr] = streams;
        drain_pipe(&mut self.stdout, stdout, buffer, live);
        drain_pipe(&mut self.stderr, stderr, buffer, live);
    }
}

impl Session {
    /// End of file for the bootstrap, which then exits; a transport that does not follow
    /// within the grace period is killed.
    fn close(&mut self) {
        self.stdin = None;
        self.stdout = None;
        self.stderr = None;
        let until = Instant::now() + KILL_GRACE;
        while self.status.is_none() && Instant::now() < until {
            self.status = self.child.try_wait().ok().flatten();
            if self.status.is_none() {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        if self.status.is_none() {
            signal_group(self.child.id(), Signal::KILL);
            self.status = self.child.wait().ok();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}

fn drain_pipe<R: Read>(pipe: &mut Option<R>, stream: &mut Stream, buffer: &mut [u8], live: &mut Live) {
    let Some(reader) = pipe.as_mut() else { return };
    // A bounded number of reads per wake-up, so one chatty stream cannot starve the other.
    for _ in 0..64 {
        match reader.read(buffer) {
            Ok(0) => {
                *pipe = None;
                return;
            }
            Ok(n) => stream.push(&buffer[..n], live),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(_) => {
                *pipe = None;
                return;
            }
        }
    }
}

/// One output stream of a step: its bytes go to the step's state up to the token, the line
/// after the token (stdout's: ` STATUS`) ends the step's part, what follows is kept for later.
struct Stream {
    state: StreamState,
    token: Vec<u8>,
    /// The end of what was read that may be the start of the token: held until more comes.
    held: Vec<u8>,
    /// The token was seen; the rest of its line so far.
    trailer: Option<Vec<u8>>,
    /// The token's line is complete.
    done: bool,
    /// The status the token's line carries (stdout only).
    status: Option<Option<i32>>,
    after: Vec<u8>,
}

impl Stream {
    fn new(sink: StreamSink, token: &str) -> Stream {
        Stream {
            state: StreamState::new(sink),
            token: token.as_bytes().to_vec(),
            held: Vec::new(),
            trailer: None,
            done: false,
            status: None,
            after: Vec::new(),
        }
    }

    fn ended(&self) -> bool {
        self.done
    }

    fn push(&mut self, chunk: &[u8], live: &mut Live) {
        if self.done {
            self.after.extend_from_slice(chunk);
            return;
        }
        if let Some(trailer) = &mut self.trailer {
            trailer.extend_from_slice(chunk);
            self.end_line();
            return;
        }
        let mut data = std::mem::take(&mut self.held);
        data.extend_from_slice(chunk);
        if let Some(at) = memchr::memmem::find(&data, &self.token) {
            self.state.feed(&data[..at], live);
            self.trailer = Some(data[at + self.token.len()..].to_vec());
            self.end_line();
            return;
        }
        let keep = partial_match(&data, &self.token);
        let (output, held) = data.split_at(data.len() - keep);
        self.state.feed(output, live);
        self.held = held.to_vec();
    }

    /// Once the token's line has its newline: the status it carries, and the bytes after it.
    fn end_line(&mut self) {
        let Some(trailer) = &self.trailer else { return };
        let Some(newline) = memchr::memchr(b'\n', trailer) else { return };
        let line = String::from_utf8_lossy(&trailer[..newline]);
        self.status = Some(line.trim().parse::<i32>().ok());
        self.after = trailer[newline + 1..].to_vec();
        self.trailer = None;
        self.done = true;
    }

    /// The stream ended without its token: what was held back is output after all.
    fn flush(&mut self, live: &mut Live) {
        let held = std::mem::take(&mut self.held);
        self.state.feed(&held, live);
    }
}

/// The length of the longest end of `data` that is a start of `token` (shorter than the token).
fn partial_match(data: &[u8], token: &[u8]) -> usize {
    let longest = token.len().saturating_sub(1).min(data.len());
    (1..=longest).rev().find(|&n| data[data.len() - n..] == token[..n]).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::super::bootstrap::{self, Job, Mode, Status};
    use super::*;
    use crate::exec::redact::Redactor;
    use crate::exec::stream::StreamKind;

    /// A session whose transport is the local `sh`: this machine is the host.
    fn local() -> Session {
        let words = bootstrap::words();
        let env: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| k == "PATH").collect();
        let start = Start { program: Path::new(&words[0]), args: &words[1..], env: &env, cwd: Path::new("/") };
        Session::open(&start, None).expect("sh starts")
    }

    fn sinks() -> [StreamSink; 2] {
        let sink = |kind| StreamSink {
            kind,
            redactor: Redactor::default(),
            log: None,
            scanner: None,
            captures: Vec::new(),
            keep_head: true,
        };
        [sink(StreamKind::Stdout), sink(StreamKind::Stderr)]
    }

    fn job<'a>(script: &'a str, env: &'a [(String, String)]) -> Job<'a> {
        Job {
            step_id: "driver",
            script,
            mode: Mode::Script,
            words: &[],
            env,
            cwd: None,
            timeout: Duration::from_secs(20),
        }
    }

    /// Runs `job` on `session`: exit code, stdout, stderr, and whether the transport ended.
    fn run(session: &mut Session, job: &Job) -> (Option<i32>, String, String, bool) {
        let interrupted = AtomicBool::new(false);
        let mut quiet = |_: StreamKind, _: &str| {};
        let end = session.step(&bootstrap::frame(job), job.timeout, sinks(), &interrupted, None, &mut quiet);
        let f = end.finished;
        (f.exit_code, f.stdout.head, f.stderr.tail, end.transport_ended)
    }

    /// Pids of live processes whose command line holds `marker`.
    fn running(marker: &str) -> Vec<String> {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
            .filter_map(|e| {
                let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
                let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
                let zombie = stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
                let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                (text.contains(marker) && !zombie).then_some(text)
            })
            .collect()
    }

    fn gone_within(marker: &str, limit: Duration) -> Vec<String> {
        let until = Instant::now() + limit;
        while !running(marker).is_empty() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        running(marker)
    }

    #[test]
    fn steps_run_one_after_another_in_one_session() {
        let mut session = local();
        let env = [("SECRET".to_string(), "it's\na 'secret' $HOME".to_string())];
        let script = "printf '%s|' \"$SECRET\"\necho \"$0\"\nread -r x || echo no-stdin\nexit 3";
        assert_eq!(
            run(&mut session, &job(script, &env)),
            (Some(3), "it's\na 'secret' $HOME|driver\nno-stdin\n".into(), String::new(), false)
        );
        let frame = bootstrap::frame(&job(script, &env));
        assert!(!String::from_utf8_lossy(&frame.bytes).lines().next().unwrap_or("").contains("secret"));
        // Output without a last newline, on both streams, stays as it was; the next step's
        // output is its own.
        assert_eq!(
            run(&mut session, &job("printf 'no newline'; printf 'err' >&2", &[])),
            (Some(0), "no newline".into(), "err".into(), false)
        );
        assert_eq!(run(&mut session, &job("echo second", &[])).1, "second\n");
        // The variables of one step are not the next one's; a step's 255 is its own, not ssh's.
        assert_eq!(
            run(&mut session, &job("echo \"[${SECRET:-}]\"; exit 255", &[])),
            (Some(255), "[]\n".into(), String::new(), false)
        );
        // Bash's options, and a failed step leaves the session to the steps after it.
        assert_eq!(run(&mut session, &job("false | true\necho not reached", &[])).0, Some(1));
        assert_eq!(run(&mut session, &job("echo after", &[])).1, "after\n");
        assert!(session.usable());
    }

    #[test]
    fn output_that_looks_like_an_end_does_not_end_the_step() {
        let mut session = local();
        let script =
            "echo RUNBOOK-STEP-END-0123456789abcdef0123456789abcdef 0\necho RUNBOOK-STEP-END- >&2\necho still\nexit 4";
        let (code, stdout, stderr, _) = run(&mut session, &job(script, &[]));
        assert_eq!(code, Some(4));
        assert_eq!(stdout, "RUNBOOK-STEP-END-0123456789abcdef0123456789abcdef 0\nstill\n");
        assert_eq!(stderr, "RUNBOOK-STEP-END-");
        assert_eq!(partial_match(b"abcRUN", b"RUNBOOK"), 3);
        assert_eq!(partial_match(b"abc", b"RUNBOOK"), 0);
    }

    #[test]
    fn a_missing_working_directory_fails_that_step_only() {
        let mut session = local();
        let mut j = job("pwd", &[]);
        j.cwd = Some("/nonexistent/dir");
        let (code, _, stderr, ended) = run(&mut session, &j);
        assert!(!ended);
        match bootstrap::interpret(code.unwrap_or(-1), &stderr) {
            Status::Failed(message) => assert!(message.contains("/nonexistent/dir does not exist"), "{message}"),
            other => panic!("{other:?}"),
        }
        j.cwd = Some("/tmp");
        assert_eq!(run(&mut session, &j).1, "/tmp\n");
    }

    #[test]
    fn stdin_mode_feeds_the_program_and_shell_words_run_the_script() {
        let mut session = local();
        let words = ["wc".to_string(), "-l".to_string()];
        let j = Job { mode: Mode::Stdin, words: &words, ..job("a\nb\nRUNBOOK-END-x\n", &[]) };
        assert_eq!(run(&mut session, &j).1.trim(), "3");
        let shell = ["sh".to_string(), "-c".to_string()];
        let j = Job { words: &shell, ..job("echo \"via $0\"", &[]) };
        assert_eq!(run(&mut session, &j).1, "via sh\n");
    }

    #[test]
    fn a_step_past_its_timeout_is_stopped_and_the_next_step_gets_a_new_session() {
        let marker = format!("3174.{}", std::process::id());
        let script = format!("sleep {marker}1 &\nsleep {marker}2\n");
        let mut session = local();
        let mut j = job(&script, &[]);
        j.timeout = Duration::from_millis(500);
        let interrupted = AtomicBool::new(false);
        let mut quiet = |_: StreamKind, _: &str| {};
        let started = Instant::now();
        let end = session.step(&bootstrap::frame(&j), j.timeout, sinks(), &interrupted, None, &mut quiet);
        assert!(end.finished.timed_out && !end.transport_ended, "{end:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "stopped in {:?}", started.elapsed());
        assert!(!session.usable());
        let left = gone_within(&marker, Duration::from_secs(5));
        assert!(left.is_empty(), "left running: {left:?}");
        drop(session);
        let mut session = local();
        assert_eq!(run(&mut session, &job("echo fresh", &[])).1, "fresh\n");
    }

    #[test]
    fn the_hosts_timeout_stops_a_step_nothing_local_waits_for() {
        // The local deadline far away: only the host's `timeout` (1 s + the margin) ends it.
        let marker = format!("3175.{}", std::process::id());
        let script = format!("sleep {marker}");
        let mut session = local();
        let mut j = job(&script, &[]);
        j.timeout = Duration::from_secs(1);
        let interrupted = AtomicBool::new(false);
        let mut quiet = |_: StreamKind, _: &str| {};
        let end = session.step(&bootstrap::frame(&j), Duration::from_secs(30), sinks(), &interrupted, None, &mut quiet);
        assert_eq!(end.finished.exit_code, Some(124), "{end:?}");
        assert!(running(&marker).is_empty());
        assert_eq!(run(&mut session, &job("echo next", &[])).1, "next\n");
    }

    #[test]
    fn closing_stdin_stops_the_step_and_what_it_started() {
        let marker = format!("3176.{}", std::process::id());
        let script = format!("sleep {marker}1 &\nsleep {marker}2\n");
        let words = bootstrap::words();
        let mut child = Command::new(&words[0])
            .args(&words[1..])
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(&bootstrap::frame(&job(&script, &[])).bytes).expect("frame");
        let until = Instant::now() + Duration::from_secs(5);
        while running(&format!("{marker}2")).is_empty() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        let started = Instant::now();
        drop(stdin);
        let status = child.wait().expect("wait");
        assert!(started.elapsed() < Duration::from_secs(5), "stopped in {:?}", started.elapsed());
        assert!(!status.success());
        // Nothing of the step is left: not the script, not what it started in the background.
        let left = gone_within(&marker, Duration::from_secs(5));
        assert!(left.is_empty(), "left running: {left:?}");
    }

    #[test]
    fn end_of_file_between_steps_ends_the_bootstrap() {
        let mut session = local();
        assert_eq!(run(&mut session, &job("true", &[])).0, Some(0));
        let started = Instant::now();
        session.close();
        assert!(started.elapsed() < Duration::from_secs(1), "closed in {:?}", started.elapsed());
        assert!(session.status.is_some_and(|s| s.success()), "it exited on its own: {:?}", session.status);
    }
}
