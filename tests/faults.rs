//! Faults around `runbook exec`: kill -9 at random moments, a full archive disk, steps that
//! misbehave with their pipes and process groups, a runbook edited while it runs.

use crate::test::{BIN, Test};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

fn wait_gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    !alive(pid)
}

fn run_dirs(root: &Path) -> Vec<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(root.join("archives"))
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    runs.sort();
    runs
}

/// A tiny deterministic generator for the kill moments (SplitMix64).
fn moments(n: usize, max_ms: u64) -> Vec<u64> {
    let mut state: u64 = 0x5EED;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % max_ms
        })
        .collect()
}

#[test]
fn kill_9_at_fifty_random_moments_never_loses_a_finished_step() {
    let mut text = String::from("# Long\n\n");
    for i in 0..12 {
        text.push_str(&format!("```yaml step\nid: s{i}\nrun: sleep 0.02; echo s{i} >> done.log\n```\n\n"));
    }
    let test = Test::new().file("runbooks/long.md", &text);
    let dir = test.path().to_path_buf();
    let mut recorded_any = 0;
    for (trial, delay) in moments(50, 450).into_iter().enumerate() {
        let _ = std::fs::remove_file(dir.join("done.log"));
        let _ = std::fs::remove_dir_all(dir.join("archives"));
        let mut child = Command::new(BIN)
            .args(["exec", "long", "--quiet"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        // SIGKILL cannot be caught: the step in flight runs on, orphaned, for its last few ms.
        std::thread::sleep(Duration::from_millis(100));
        let done: Vec<String> =
            std::fs::read_to_string(dir.join("done.log")).unwrap_or_default().lines().map(str::to_string).collect();
        let Some(run) = run_dirs(&dir).pop() else {
            // Killed before the archive existed: nothing had finished to lose.
            assert!(done.len() <= 1, "trial {trial}: {done:?} finished but no archive");
            continue;
        };
        let text = std::fs::read_to_string(run.join("run.json")).unwrap_or_default();
        if text.is_empty() {
            assert!(done.len() <= 1, "trial {trial}: no record yet, {done:?} finished");
            continue;
        }
        let record: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("trial {trial} at {delay} ms: {e}\n{text}"));
        let recorded: Vec<&str> =
            record["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
        recorded_any += usize::from(!recorded.is_empty());
        for id in &recorded {
            assert!(done.iter().any(|d| d == id), "trial {trial}: {id} recorded but never ran");
        }
        // At most the step in flight may be missing from the record.
        assert!(done.len() <= recorded.len() + 1, "trial {trial}: finished {done:?}, recorded {recorded:?}");
    }
    assert!(recorded_any > 20, "the kills landed mid-run often enough to mean something ({recorded_any})");
}

/// A tmpfs of `size` at a temp dir, unmounted on drop (root; CI runs as root).
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(std::env::var_os("CI").is_none(), "CI runs as root: mounting a tmpfs must work");
            eprintln!("skipped locally: mounting a tmpfs needs root");
            return None;
        }
        Some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_archive_disk_is_a_clear_error_and_the_result_is_still_printed() {
    let Some(full) = Tmpfs::mount("64k") else { return };
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=1k", "count=128"])
        .arg(format!("of={}/fill", full.0.path().display()))
        .stderr(Stdio::null())
        .status();
    let ran = Test::new()
        .file("runbooks/t.md", "# T\n\n```yaml step\nid: works\nrun: echo the step itself is fine\n```\n")
        .args(["--archives", full.0.path().to_str().unwrap(), "exec", "t"])
        .status(1)
        .stdout_has("✔ [1/1] works")
        .stdout_has("✔ passed")
        .stderr_has("error: the run's archive is incomplete")
        .run();
    assert!(ran.stderr.contains("No space left on device"), "{}", ran.stderr);
}

#[test]
fn a_disk_that_fills_during_the_run_is_reported() {
    let Some(small) = Tmpfs::mount("256k") else { return };
    let ran = Test::new()
        .file("runbooks/t.md", "# T\n\n```yaml step\nid: chatty\nrun: head -c 2000000 /dev/zero | tr '\\\\0' x\n```\n\n```yaml step\nid: after\nrun: echo still running\n```\n")
        .args(["--archives", small.0.path().to_str().unwrap(), "exec", "t"])
        .status(1)
        .stdout_has("✔ [2/2] after")
        .stderr_has("archive is incomplete")
        .run();
    assert!(
        ran.stderr.contains("No space left") || ran.stdout.contains("No space left"),
        "{}\n{}",
        ran.stdout,
        ran.stderr
    );
}

/// Runs one misbehaving step with a 1 s timeout; returns its outcome and the pids it left in
/// `pids.log`, all of which must be gone.
fn misbehave(script: &str) -> (String, Vec<u32>) {
    let yaml =
        format!("id: bad\ntimeout: 1s\nrun: |\n{}", script.lines().map(|l| format!("  {l}\n")).collect::<String>());
    let test = Test::new().file("runbooks/t.md", &format!("# T\n\n```yaml step\n{yaml}```\n"));
    let started = Instant::now();
    let ran = test.args(["exec", "t", "--quiet"]).any_status().run();
    assert!(started.elapsed() < Duration::from_secs(8), "the step ended near its timeout, not later");
    let run = run_dirs(ran.path()).pop().unwrap();
    let record: Value = serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    let pids: Vec<u32> = std::fs::read_to_string(ran.path().join("pids.log"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for pid in &pids {
        assert!(wait_gone(*pid), "{pid} is still running after the step ended ({script})");
    }
    (record["steps"][0]["outcome"].as_str().unwrap().to_string(), pids)
}

#[test]
fn a_step_that_closes_its_output_and_lingers_ends_at_its_timeout() {
    let (outcome, pids) = misbehave("echo $$ >> pids.log\nexec >&- 2>&-\nsleep 1000");
    assert_eq!(outcome, "timed_out");
    assert_eq!(pids.len(), 1);
}

#[test]
fn a_step_that_floods_stderr_ends_at_its_timeout() {
    let (outcome, _) = misbehave("echo $$ >> pids.log\nyes 'flooding stderr with a long line of text' >&2");
    assert_eq!(outcome, "timed_out");
}

#[test]
fn a_daemon_that_holds_the_pipes_is_killed_at_the_timeout() {
    let (outcome, pids) = misbehave("( sleep 1000 & echo $! >> pids.log )\necho main exits now");
    assert_eq!(outcome, "timed_out", "the pipes stay open until the timeout kills the holder");
    assert_eq!(pids.len(), 1);
}

#[test]
fn a_step_that_changes_its_process_group_leaves_nothing_running() {
    let (outcome, pids) = misbehave(
        "setsid sleep 1000 &\necho $! >> pids.log\nsetsid sh -c 'echo $$ >> pids.log; exec sleep 1000' > /dev/null 2>&1 &\nwait",
    );
    assert_eq!(outcome, "timed_out");
    assert_eq!(pids.len(), 2);
}

#[test]
fn a_runbook_edited_while_it_runs_keeps_the_version_it_started_with() {
    let original = "# T\n\n```yaml step\nid: first\nrun: sleep 1\n```\n\n```yaml step\nid: second\nrun: echo original second step\n```\n";
    let test = Test::new().file("runbooks/t.md", original);
    let dir = test.path().to_path_buf();
    let (_keep, mut command) = test.args(["exec", "t", "--json"]).into_command();
    let child = command.stdout(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    std::fs::write(dir.join("runbooks/t.md"), original.replace("original second step", "EDITED second step")).unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("original second step") && !stdout.contains("EDITED"), "{stdout}");
    let run = run_dirs(&dir).pop().unwrap();
    let record: Value = serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    use sha2::Digest;
    let expected: String = sha2::Sha256::digest(original.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(record["runbook"]["sha256"], expected);
}

/// A step that starts a `setsid` daemon, a background child and waits; `runbook exec` is killed
/// with SIGKILL mid-step (as a process, or its whole process group with `group`). Nothing the
/// step started may be alive a second later.
fn kill_9_mid_step(group: bool) {
    let step = "id: hang\nrun: |\n  setsid sleep 1000 &\n  echo $! >> pids.log\n  sleep 1000 &\n  echo $! >> pids.log\n  echo $$ >> pids.log\n  echo ready > ready\n  wait\n";
    let test = Test::new().file("runbooks/t.md", &format!("# T\n\n```yaml step\n{step}```\n"));
    let dir = test.path().to_path_buf();
    let (_keep, mut command) = test.args(["exec", "t", "--quiet"]).into_command();
    use std::os::unix::process::CommandExt;
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::null()).process_group(0).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.join("ready").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(dir.join("ready").exists(), "the step started");
    let pids: Vec<u32> = std::fs::read_to_string(dir.join("pids.log"))
        .unwrap()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(pids.len(), 3, "{pids:?}");
    let target = if group { format!("-{}", child.id()) } else { child.id().to_string() };
    assert!(Command::new("kill").args(["-KILL", "--", &target]).status().unwrap().success());
    let _ = child.wait();
    let killed = Instant::now();
    for pid in &pids {
        while alive(*pid) && killed.elapsed() < Duration::from_secs(1) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let left: Vec<&u32> = pids.iter().filter(|p| alive(**p)).collect();
    for pid in &left {
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
    assert!(left.is_empty(), "still running a second after kill -9 of runbook: {left:?} of {pids:?}");
}

#[test]
fn kill_9_of_runbook_mid_step_leaves_nothing_the_step_started() {
    kill_9_mid_step(false);
}

#[test]
fn kill_9_of_runbooks_process_group_mid_step_leaves_nothing_the_step_started() {
    kill_9_mid_step(true);
}
