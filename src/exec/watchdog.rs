//! No orphan after `kill -9 runbook`. SIGKILL cannot be caught, so the engine cannot clean up
//! after itself; a small guard process does it instead. The engine starts it once per run
//! (`runbook __watchdog`, in its own session so a signal to the engine's process group or a
//! closing terminal does not reach it) and keeps the write end of a pipe to its stdin. Before a
//! step's process starts, the engine tells the guard the step's marker — an environment variable
//! `RUNBOOK_GUARD_<guard pid>_<n>=1` the process and everything it starts inherit — then its
//! process group; after the step, that it is done. When the pipe closes while a step is in
//! flight (the engine died, however), the guard kills that process group and every process that
//! carries the marker: that reaches `setsid` daemons and double forks, which have left the group
//! and been re-parented away from the dead engine.
//!
//! Out of reach: a descendant that leaves the session *and* replaces its whole environment (a
//! daemon started through `sudo` or `env -i`) outlives a `kill -9` of the engine. It is still
//! stopped at a timeout or Ctrl-C, where the engine (a child subreaper) finds it by parentage.

use rustix::process::{Pid, Signal};
use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

/// The subcommand that runs the guard (hidden from `--help`).
pub(crate) const SUBCOMMAND: &str = "__watchdog";

/// The engine's end of the guard.
#[derive(Debug)]
pub(crate) struct Watchdog {
    child: Child,
    pipe: Option<ChildStdin>,
    armed: u64,
}

impl Watchdog {
    /// Starts `program __watchdog` with the read end of a pipe as its stdin.
    pub(crate) fn start(program: &Path) -> std::io::Result<Watchdog> {
        // Its own process group from the moment it exists: `detach` makes it a session of its
        // own only once it runs, and a `kill -9 -<engine's group>` before that (a loaded
        // machine) would take the guard along with the engine it guards.
        let mut child = Command::new(program)
            .arg(SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let pipe = child.stdin.take();
        Ok(Watchdog { child, pipe, armed: 0 })
    }

    /// The marker for the next step process, announced to the guard before the process exists.
    pub(crate) fn arm(&mut self) -> (String, String) {
        self.armed += 1;
        let name = format!("RUNBOOK_GUARD_{}_{}", self.child.id(), self.armed);
        self.send(&format!("marker {name}\n"));
        (name, "1".to_string())
    }

    /// The step's process group, once its process has started.
    pub(crate) fn started(&mut self, group: u32) {
        self.send(&format!("group {group}\n"));
    }

    /// A process started earlier under `marker` (a fleet host's session, which runs all of the
    /// host's steps) runs another step: the guard watches it again, until the next [`done`].
    ///
    /// [`done`]: Watchdog::done
    pub(crate) fn rearm(&mut self, marker: &str, group: u32) {
        self.send(&format!("marker {marker}\ngroup {group}\n"));
    }

    /// The step is over: what it left running on purpose is not the guard's business.
    pub(crate) fn done(&mut self) {
        self.send("done\n");
    }

    fn send(&mut self, line: &str) {
        // A guard that is gone cannot be told anything; the run goes on without it.
        if let Some(pipe) = &mut self.pipe
            && pipe.write_all(line.as_bytes()).is_err()
        {
            self.pipe = None;
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // End of file with no step in flight: the guard exits at once.
        self.pipe = None;
        let _ = self.child.wait();
    }
}

/// The guard itself: reads the engine's messages until end of file, then kills what the step in
/// flight (if any) started. Returns the exit code.
/// (The caller first puts the process in its own session: see [`detach`].)
pub(crate) fn serve(input: impl BufRead) -> i32 {
    let mut marker: Option<String> = None;
    let mut group: Option<u32> = None;
    for line in input.lines() {
        let Ok(line) = line else { break };
        match line.split_once(' ') {
            Some(("marker", name)) => {
                marker = Some(name.to_string());
                group = None;
            }
            Some(("group", pgid)) => group = pgid.parse().ok(),
            _ if line == "done" => {
                marker = None;
                group = None;
            }
            _ => {}
        }
    }
    if let Some(marker) = marker {
        if let Some(pgid) = group.and_then(|g| Pid::from_raw(g as i32)) {
            let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
        }
        kill_marked(&marker);
    }
    0
}

/// Puts the guard in its own session, so `kill -9 -<engine's group>` and the terminal's hangup
/// pass it by, and makes it ignore the signals `pkill runbook` or Ctrl-C would send: it ends
/// when the engine does.
pub(crate) fn detach() {
    let _ = rustix::process::setsid();
    let ignored = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        let _ = signal_hook::flag::register(signal, std::sync::Arc::clone(&ignored));
    }
}

/// Kills every process whose environment holds `marker`, and the process groups they lead;
/// again until none is left (a process may fork while the others die), for at most a second.
fn kill_marked(marker: &str) {
    let entry = format!("{marker}=");
    for _ in 0..50 {
        let marked = marked_processes(entry.as_bytes());
        if marked.is_empty() {
            return;
        }
        for pid in marked {
            if let Some(id) = Pid::from_raw(pid) {
                if rustix::process::getpgid(Some(id)).is_ok_and(|g| g == id) {
                    let _ = rustix::process::kill_process_group(id, Signal::KILL);
                }
                let _ = rustix::process::kill_process(id, Signal::KILL);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Live (non-zombie) processes with an environment entry starting with `entry` (`NAME=`).
fn marked_processes(entry: &[u8]) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            environ.split(|b| *b == 0).any(|var| var.starts_with(entry)) && !is_zombie(*pid)
        })
        .collect()
}

fn is_zombie(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rfind(')').and_then(|i| stat[i + 1..].trim_start().chars().next());
    matches!(state, Some('Z' | 'X'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    fn alive(pid: u32) -> bool {
        !is_zombie(pid as i32) && Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn end_of_input_mid_step_kills_the_group_and_marked_daemons() {
        let name = format!("RUNBOOK_GUARD_TEST_{}", std::process::id());
        // A group leader, and a daemon that left the group but carries the marker.
        let mut leader = Command::new("sleep").arg("30").process_group(0).env(&name, "1").spawn().unwrap();
        let mut daemon = Command::new("setsid").args(["sleep", "30"]).env(&name, "1").spawn().unwrap();
        let mut bystander = Command::new("sleep").arg("30").spawn().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let input = format!("marker {name}\ngroup {}\n", leader.id());
        assert_eq!(serve(input.as_bytes()), 0);
        for child in [&mut leader, &mut daemon] {
            let _ = child.wait();
        }
        assert!(!alive(leader.id()) && !alive(daemon.id()));
        assert!(alive(bystander.id()), "an unmarked process is left alone");
        let _ = bystander.kill();
        let _ = bystander.wait();
    }

    #[test]
    fn a_finished_step_leaves_its_daemons_alone() {
        let name = format!("RUNBOOK_GUARD_DONE_{}", std::process::id());
        let mut daemon = Command::new("sleep").arg("30").env(&name, "1").spawn().unwrap();
        let input = format!("marker {name}\ngroup {}\ndone\n", daemon.id());
        assert_eq!(serve(input.as_bytes()), 0);
        assert!(alive(daemon.id()));
        let _ = daemon.kill();
        let _ = daemon.wait();
    }
}
