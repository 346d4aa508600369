//! The `process` probe: is a program running, and how many copies, found by name in `/proc`.

use super::{ProbeEnv, ProbeOutcome, os_error};
use crate::exec::check::check_measure;
use crate::model::probe::{ProcessField, ProcessProbe};
use crate::record::CheckResult;
use std::path::Path;

/// How many pids `observed` lists before eliding the rest.
const PIDS_SHOWN: usize = 10;

pub(crate) fn run(probe: &ProcessProbe, env: &ProbeEnv) -> ProbeOutcome {
    let name = probe.name.source.trim();
    if name.is_empty() {
        return ProbeOutcome::error("the process name is empty");
    }
    // A scenario's processes live in its own /proc, where no pid is ours: a fixture's pid may
    // equal the one `runbook test` happens to run as.
    let (proc, own) = match env.sandbox {
        Some(sandbox) => (sandbox.root.join("proc"), None),
        None => (Path::new("/proc").to_path_buf(), Some(std::process::id())),
    };
    let pids = match find(&proc, name, own) {
        Ok(pids) => pids,
        Err(e) => {
            return ProbeOutcome::error(format!("cannot list processes in /proc: {}", os_error(&e)));
        }
    };
    let seen = if pids.is_empty() { "no such process".to_string() } else { count_words(&pids) };
    let expected = if probe.running { "running" } else { "not running" }.to_string();
    let mut checks = vec![CheckResult::new(name, expected, seen, pids.is_empty() != probe.running)];
    for m in probe.measures() {
        match m.field {
            ProcessField::Count => checks.push(check_measure(&m, pids.len() as f64)),
        }
    }
    let observed =
        if pids.is_empty() { format!("no process named {name}") } else { format!("{name}: {}", count_words(&pids)) };
    ProbeOutcome::done(checks, vec![observed])
}

/// `2 processes (pids 123, 456)`, `1 process (pid 123)`.
fn count_words(pids: &[u32]) -> String {
    let mut shown: Vec<String> = pids.iter().take(PIDS_SHOWN).map(u32::to_string).collect();
    if pids.len() > PIDS_SHOWN {
        shown.push("…".to_string());
    }
    match pids.len() {
        1 => format!("1 process (pid {})", shown.join(", ")),
        n => format!("{n} processes (pids {})", shown.join(", ")),
    }
}

/// The live processes under `proc` named `name`, except `skip` (ourselves), in pid order.
fn find(proc: &Path, name: &str, skip: Option<u32>) -> std::io::Result<Vec<u32>> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir(proc)? {
        // Processes come and go while we scan: whatever vanishes simply does not count.
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if Some(pid) != skip && is_named(&entry.path(), name) && !is_zombie(&entry.path()) {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    Ok(pids)
}

/// True when the process's `comm` or the file name of its `argv[0]` is exactly `name`. `comm`
/// alone is not enough: the kernel cuts it to 15 characters.
fn is_named(dir: &Path, name: &str) -> bool {
    let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
    if comm.trim_end_matches('\n') == name {
        return true;
    }
    let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let argv0 = String::from_utf8_lossy(argv0);
    !argv0.is_empty() && argv0.rsplit('/').next() == Some(name)
}

/// A zombie has exited and only waits for its parent to reap it: it is not running.
fn is_zombie(dir: &Path) -> bool {
    let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
    // `pid (comm) state …`: comm may hold spaces and parentheses, so look after the last `)`.
    let state = stat.rfind(')').and_then(|i| stat[i + 1..].trim_start().chars().next());
    matches!(state, Some('Z' | 'X'))
}

#[cfg(test)]
mod tests {
    use super::super::ProbeStatus;
    use super::super::testing::env;
    use super::*;
    use std::process::{Child, Command};

    fn probe(yaml: &str) -> ProcessProbe {
        serde_saphyr::from_str(yaml).unwrap()
    }

    /// A child killed and reaped when the test ends, pass or fail.
    struct Reaped(Child);

    impl Drop for Reaped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// The child is named uniquely (its `argv[0]`), so another `sleep` on the machine (another
    /// test, another user) can neither stand in for it nor crowd it out of the listing.
    #[test]
    fn finds_a_sleeping_child() {
        use std::os::unix::process::CommandExt;
        let name = format!("runbook-probe-{}", std::process::id());
        let child = Reaped(Command::new("sleep").arg0(&name).arg("30").spawn().unwrap());
        let pid = child.0.id();
        // `spawn` returns while the kernel may still be setting up the new program: until then
        // its command line reads empty. Wait for it (a process mid-exec has no name yet).
        let cmdline = format!("/proc/{pid}/cmdline");
        for _ in 0..200 {
            if std::fs::read(&cmdline).is_ok_and(|c| !c.is_empty()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let outcome = run(&probe(&format!("{{name: {name}, count: {{ge: 1}}}}")), &env(Path::new("/")));
        assert_eq!(outcome.status, ProbeStatus::Done);
        assert!(outcome.passed(), "{:?}", outcome.checks);
        assert_eq!(outcome.checks.len(), 2);
        assert_eq!(outcome.observed[0], format!("{name}: 1 process (pid {pid})"));
        let inverted = run(&probe(&format!("{{name: {name}, running: false}}")), &env(Path::new("/")));
        assert!(
            inverted.checks[0].message.starts_with(&format!("{name}: expected not running, saw ")),
            "{:?}",
            inverted.checks
        );
        drop(child);
    }

    #[test]
    fn nonsense_is_not_running() {
        let outcome = run(&probe("{name: runbook-no-such-process, count: {ge: 1}}"), &env(Path::new("/")));
        assert_eq!(outcome.status, ProbeStatus::Done);
        assert_eq!(outcome.observed, ["no process named runbook-no-such-process"]);
        let messages: Vec<&str> = outcome.checks.iter().map(|c| c.message.as_str()).collect();
        assert_eq!(
            messages,
            ["runbook-no-such-process: expected running, saw no such process", "count: expected ≥ 1, saw 0"]
        );
        let absent = run(&probe("{name: runbook-no-such-process, running: false}"), &env(Path::new("/")));
        assert!(absent.passed());
        assert_eq!(absent.checks[0].message, "runbook-no-such-process no such process (not running)");
    }

    /// A scenario's fake process whose pid was the pid `runbook test` ran as was skipped as
    /// "ourselves", and the scenario saw "no such process" (flaky in full test runs, where pids
    /// reach the fixtures' 4000 + i).
    #[test]
    fn a_sandbox_fixture_with_our_own_pid_is_still_found() {
        let root = tempfile::tempdir().unwrap();
        let proc = root.path().join("proc");
        std::fs::create_dir(&proc).unwrap();
        fake(&proc, std::process::id(), "ollama", b"/usr/local/bin/ollama\0serve\0", 'S');
        let sandbox = crate::exec::probe::sandbox::Sandbox::new(root.path().to_path_buf());
        let env = ProbeEnv { sandbox: Some(&sandbox), ..env(Path::new("/")) };
        let outcome = run(&probe("{name: ollama}"), &env);
        assert!(outcome.passed(), "{:?}", outcome.checks);
        assert_eq!(outcome.observed, [format!("ollama: 1 process (pid {})", std::process::id())]);
    }

    #[test]
    fn skips_our_own_process() {
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        let own = find(Path::new("/proc"), comm.trim_end(), Some(std::process::id())).unwrap();
        assert!(!own.contains(&std::process::id()));
    }

    /// A fake `/proc/<pid>` entry.
    fn fake(proc: &Path, pid: u32, comm: &str, cmdline: &[u8], state: char) {
        let dir = proc.join(pid.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("comm"), format!("{comm}\n")).unwrap();
        std::fs::write(dir.join("cmdline"), cmdline).unwrap();
        std::fs::write(dir.join("stat"), format!("{pid} ({comm}) {state} 1 1 1")).unwrap();
    }

    #[test]
    fn matches_long_names_by_argv0_and_ignores_zombies() {
        let proc = tempfile::tempdir().unwrap();
        // comm is cut to 15 characters; argv[0] keeps the whole name.
        fake(proc.path(), 10, "nvidia-persiste", b"/usr/bin/nvidia-persistenced\0--verbose\0", 'S');
        fake(proc.path(), 11, "ollama", b"/usr/local/bin/ollama\0serve\0", 'S');
        fake(proc.path(), 12, "ollama", b"", 'Z');
        fake(proc.path(), 13, "ollama", b"ollama\0runner\0", 'R');
        fake(proc.path(), 14, "kworker/0:1", b"", 'I');
        std::fs::create_dir(proc.path().join("self-not-a-pid")).unwrap();
        assert_eq!(find(proc.path(), "nvidia-persistenced", None).unwrap(), [10]);
        assert_eq!(find(proc.path(), "ollama", None).unwrap(), [11, 13]);
        assert_eq!(find(proc.path(), "ollama", Some(13)).unwrap(), [11]);
        assert_eq!(find(proc.path(), "kworker/0:1", None).unwrap(), [14]);
        assert!(find(proc.path(), "olla", None).unwrap().is_empty());
    }

    #[test]
    fn counts_in_words() {
        assert_eq!(count_words(&[7]), "1 process (pid 7)");
        assert_eq!(count_words(&[123, 456]), "2 processes (pids 123, 456)");
        let many: Vec<u32> = (1..=12).collect();
        assert_eq!(count_words(&many), "12 processes (pids 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, …)");
    }
}
