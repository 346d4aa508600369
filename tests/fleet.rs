//! Fleet runs (DESIGN §17) against a real OpenSSH server: `sshd` started by the test on a free
//! loopback port with a temporary host key and an authorized test key, and an `ssh_config` that
//! names several hosts pointing at it, one whose port nothing listens on (unreachable) and one
//! behind a `ProxyCommand` that never answers (a connect timeout). The "remote" side is this
//! machine, so the tests can see what is left running there.
//!
//! The "remote" side's cache folder (where probe steps' copy of the binary goes) is the test's own:
//! the client sends `XDG_CACHE_HOME` (`SetEnv`) and the server accepts it.
//!
//! Without `sshd` the tests skip with a reason, except when `CI` is set: then they fail.

use crate::test::{BIN, Test};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

/// A running `sshd` and the client files that reach it; killed on drop.
struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Sshd {
    /// Starts sshd, or says why it cannot (`None` outside CI).
    fn start() -> Option<Sshd> {
        if !Path::new(SSHD).exists() || which("ssh").is_none() || which("ssh-keygen").is_none() {
            assert!(std::env::var_os("CI").is_none(), "CI is set and sshd or ssh is missing: .ci/run installs them");
            eprintln!("skipped: {SSHD} or ssh is not installed (apt-get install openssh-server openssh-client)");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        for key in ["host_key", "user_key"] {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", ""])
                .arg("-f")
                .arg(d.join(key))
                .status()
                .expect("ssh-keygen");
            assert!(status.success(), "ssh-keygen failed");
        }
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).expect("authorized_keys");
        // sshd refuses to start without its privilege separation folder (root only).
        if rustix::process::getuid().is_root() {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nAuthorizedKeysFile {dir}/authorized_keys\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nStrictModes no\n\
             UsePAM no\nPermitRootLogin prohibit-password\nPidFile {dir}/sshd.pid\nMaxSessions 200\nMaxStartups 200\n\
             AcceptEnv XDG_CACHE_HOME\n",
            dir = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).expect("sshd_config");
        let host_key = std::fs::read_to_string(d.join("host_key.pub")).expect("host key");
        std::fs::write(d.join("known_hosts"), format!("[127.0.0.1]:{port} {host_key}")).expect("known_hosts");
        let mut client = String::new();
        for host in ["gpu01", "gpu02", "gpu03", "gpu04", "gpu05", "gpu06", "gpu07", "gpu08"] {
            client.push_str(&format!("Host {host}\n  HostName 127.0.0.1\n  Port {port}\n"));
        }
        client.push_str(&format!("Host down1\n  HostName 127.0.0.1\n  Port {}\n", free_port()));
        client.push_str("Host hang1\n  HostName 127.0.0.1\n  ProxyCommand sleep 30\n");
        client.push_str(&format!(
            "Host *\n  User {user}\n  IdentityFile {dir}/user_key\n  IdentitiesOnly yes\n  UserKnownHostsFile {dir}/known_hosts\n  \
             StrictHostKeyChecking yes\n  LogLevel ERROR\n  SetEnv XDG_CACHE_HOME={dir}/remote-cache\n",
            user = whoami(),
            dir = d.display()
        ));
        std::fs::write(d.join("ssh_config"), client).expect("ssh_config");
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("sshd.log")).expect("sshd log"))
            .spawn()
            .expect("start sshd");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "sshd did not listen: {}", log(d));
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Sshd { child, dir })
    }

    /// The server and every sshd process serving a connection die at once (sessions start
    /// their own process groups): connections drop mid-step. What the sessions run is left to
    /// notice on its own, as on a host whose network went away.
    fn drop_everything(&self) {
        let mut doomed = vec![self.child.id()];
        let mut index = 0;
        while index < doomed.len() {
            let parent = doomed[index];
            doomed.extend(
                processes()
                    .into_iter()
                    .filter(|(_, ppid, comm)| *ppid == parent && comm.starts_with("sshd"))
                    .map(|(pid, ..)| pid),
            );
            index += 1;
        }
        for pid in doomed {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    }

    fn config(&self) -> String {
        self.dir.path().join("ssh_config").display().to_string()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
}

/// Every process: pid, parent pid, command name.
fn processes() -> Vec<(u32, u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (head, rest) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1.to_string();
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid, comm))
        })
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file()))
}

fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Processes on this machine (the "remote" side) whose command line holds `marker`.
fn running(marker: &str) -> Vec<String> {
    let out = Command::new("pgrep").args(["-af", marker]).output().expect("pgrep");
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.contains("pgrep")).map(str::to_string).collect()
}

/// Waits until nothing holding `marker` runs; the processes left when `limit` passes.
fn gone_within(marker: &str, limit: Duration) -> Vec<String> {
    let started = Instant::now();
    loop {
        let left = running(marker);
        if left.is_empty() || started.elapsed() > limit {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

const DRIVER: &str = r#"
    ---
    id: driver-check
    title: Driver check
    vars:
      driver: "550"
    ---

    # Driver check

    ```yaml step
    id: whoami
    name: Which host
    run: echo "on $RUNBOOK_HOST"
    ```

    ```yaml step
    id: driver
    name: Driver is new enough
    run: echo "driver {{ vars.driver }}"; test {{ vars.driver }} -ge 550
    ```
"#;

const INVENTORY: &str = "
    [gpu]
    gpu01 driver=550
    gpu02 driver=550
    gpu03 driver=535
    gpu04 driver=555
    [spare]
    gpu05 driver=550
    [broken]
    down1
";

fn fleet_json(dir: &Path) -> (PathBuf, serde_json::Value) {
    let archives = dir.join("archives");
    let run = std::fs::read_dir(&archives).expect("archives").next().expect("one run").expect("entry").path();
    let text = std::fs::read_to_string(run.join("run.json")).expect("fleet run.json");
    (run, serde_json::from_str(&text).expect("run.json is JSON"))
}

#[test]
fn a_fleet_run_folds_identical_results_and_keeps_one_archive_with_every_host() {
    let Some(sshd) = Sshd::start() else { return };
    let config = sshd.config();
    let ran = Test::new()
        .file("runbooks/driver.md", DRIVER)
        .file("hosts.ini", INVENTORY)
        .args(["exec", "driver-check", "--inventory", "hosts.ini", "--limit", "gpu:broken", "--ssh-config", &config])
        .args(["--connect-timeout", "3"])
        .status(1)
        .stdout_has("on 5 hosts: down1,gpu[01-04]")
        .stdout_has("whoami  gpu[01-04] passed")
        .stdout_has("driver  gpu[01-02,04] passed · gpu03 failed: exit code: expected 0, saw 1")
        .stdout_has("✘ failed · 3 passed · 1 failed · 1 unreachable")
        .stdout_has("down1 unreachable: ssh: connect to host 127.0.0.1 port")
        .stdout_lacks("gpu05")
        .run();
    let (run_dir, fleet) = fleet_json(ran.path());
    assert_eq!(fleet["verdict"], "failed");
    let hosts = fleet["fleet"]["hosts"].as_array().expect("hosts");
    let outcome = |name: &str| hosts.iter().find(|h| h["name"] == name).map(|h| h["outcome"].clone());
    assert_eq!(outcome("gpu01"), Some("passed".into()));
    assert_eq!(outcome("gpu03"), Some("failed".into()));
    assert_eq!(outcome("down1"), Some("unreachable".into()));
    assert!(fleet["fleet"]["summary"].as_str().expect("summary").starts_with("gpu[01-02,04] passed · gpu03 failed"));
    // Each host that answered has its own ordinary run, with its inventory vars applied.
    let gpu03: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("hosts/gpu03/run.json")).expect("gpu03"))
            .expect("JSON");
    assert_eq!(gpu03["verdict"], "failed");
    assert_eq!(gpu03["remote"]["host"], "gpu03");
    assert_eq!(gpu03["vars"]["driver"], 535, "an INI inventory's number is a number, as in Ansible");
    let log = std::fs::read_to_string(run_dir.join("hosts/gpu01/steps/01-whoami.stdout")).expect("step log");
    assert_eq!(log.trim(), "on gpu01");
    assert!(!run_dir.join("hosts/down1").exists(), "an unreachable host ran nothing");
    let markdown = std::fs::read_to_string(run_dir.join("run.md")).expect("run.md");
    assert!(markdown.contains("gpu[01-02,04] passed · gpu03 failed"), "{markdown}");
    assert!(markdown.contains("| gpu03 | failed |") && markdown.contains("(hosts/gpu03/run.md)"), "{markdown}");
}

#[test]
fn a_fleet_run_that_passes_exits_0_and_its_json_events_carry_the_host() {
    let Some(sshd) = Sshd::start() else { return };
    let ran = Test::new()
        .file("runbooks/driver.md", DRIVER)
        .args(["exec", "driver-check", "--on", "gpu[01-03]", "--ssh-config", &sshd.config(), "--json"])
        .run();
    let events: Vec<serde_json::Value> =
        ran.stdout.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let finished: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "step_finished").collect();
    assert_eq!(finished.len(), 6, "2 steps on 3 hosts: {}", ran.stdout);
    for host in ["gpu01", "gpu02", "gpu03"] {
        assert_eq!(finished.iter().filter(|e| e["host"] == host).count(), 2, "{host}: {}", ran.stdout);
    }
    let last = events.last().expect("events");
    assert_eq!(last["event"], "fleet_finished");
    assert_eq!(last["verdict"], "passed");
    assert_eq!(last["summary"], "gpu[01-03] passed");
}

#[test]
fn a_host_that_hangs_at_connect_is_unreachable_and_the_others_are_unaffected() {
    let Some(sshd) = Sshd::start() else { return };
    let started = Instant::now();
    Test::new()
        .file("runbooks/driver.md", DRIVER)
        .args(["exec", "driver-check", "--on", "gpu01,hang1,gpu02", "--ssh-config", &sshd.config()])
        .args(["--connect-timeout", "1"])
        .status(1)
        .stdout_has("hang1 unreachable: Connection timed out during banner exchange")
        .stdout_has("gpu[01-02] passed · hang1 unreachable")
        .run();
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}

#[test]
fn a_remote_step_past_its_timeout_is_stopped_on_the_host_too() {
    let Some(sshd) = Sshd::start() else { return };
    let runbook = r#"
        ---
        id: slow
        title: Slow
        ---

        # Slow

        ```yaml step
        id: hang
        name: Hangs
        run: sleep 3171.5
        timeout: 2s
        ```
    "#;
    Test::new()
        .file("runbooks/slow.md", runbook)
        .args(["exec", "slow", "--on", "gpu01,gpu02", "--ssh-config", &sshd.config()])
        .status(1)
        .stdout_has("hang  gpu[01-02] timed_out")
        .run();
    let left = gone_within("sleep 3171.5", Duration::from_secs(8));
    assert!(left.is_empty(), "still running on the host: {left:?}");
}

#[test]
fn sigkill_of_runbook_leaves_nothing_running_on_the_hosts() {
    let Some(sshd) = Sshd::start() else { return };
    let runbook = r#"
        ---
        id: slow
        title: Slow
        ---

        # Slow

        ```yaml step
        id: hang
        name: Hangs
        run: sleep 3172.5
        timeout: 5m
        ```
    "#;
    let (_dir, mut command) = Test::new()
        .file("runbooks/slow.md", runbook)
        .args(["exec", "slow", "--on", "gpu01,gpu02", "--ssh-config", &sshd.config()])
        .into_command();
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("runbook");
    let started = Instant::now();
    while running("sleep 3172.5").len() < 2 {
        assert!(started.elapsed() < Duration::from_secs(20), "the steps did not start on both hosts");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let left = gone_within("sleep 3172.5", Duration::from_secs(10));
    assert!(left.is_empty(), "still running on the hosts after SIGKILL: {left:?}");
}

#[test]
fn confirm_is_asked_once_for_the_fleet_and_never_answered_without_a_person() {
    let Some(sshd) = Sshd::start() else { return };
    let runbook = r#"
        ---
        id: restart
        title: Restart
        ---

        # Restart

        ```yaml step
        id: restart
        name: Restart the daemon
        run: touch "$MARKER_DIR/$RUNBOOK_HOST"
        env:
          MARKER_DIR: "{{ env.MARKERS }}"
        confirm: Restart the daemon?
        ```
    "#;
    let test = Test::new().file("runbooks/restart.md", runbook).dir("markers");
    let markers = test.path().join("markers");
    let ran = test
        .env("MARKERS", &markers.display().to_string())
        .args(["exec", "restart", "--on", "gpu[01-02]", "--ssh-config", &sshd.config()])
        .stdout_has("restart  gpu[01-02] skipped: needs confirmation: Restart the daemon?")
        .run();
    assert_eq!(std::fs::read_dir(&markers).expect("markers").count(), 0, "nothing ran unconfirmed: {}", ran.stdout);
    // --yes is the person's own answer, given up front.
    let dir = ran.dir;
    let mut command = Command::new(BIN);
    command.current_dir(dir.path()).env("HOME", dir.path()).env("NO_COLOR", "1").env("MARKERS", &markers).args([
        "exec",
        "restart",
        "--yes",
        "--on",
        "gpu[01-02]",
        "--ssh-config",
        &sshd.config(),
    ]);
    let output = command.output().expect("runbook");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(markers.join("gpu01").exists() && markers.join("gpu02").exists());
}

#[test]
fn bad_host_lists_and_inventories_are_refused_before_anything_runs() {
    let kb = |t: Test| t.file("runbooks/driver.md", DRIVER);
    kb(Test::new())
        .args(["exec", "driver-check", "--on", "gpu[01-"])
        .status(2)
        .stderr_has("bad host pattern `gpu[01-`")
        .run();
    kb(Test::new())
        .args(["exec", "driver-check", "--on", "@gpu"])
        .status(2)
        .stderr_has("`@gpu` names an inventory group, and no inventory was given")
        .run();
    kb(Test::new())
        .args(["exec", "driver-check", "--inventory", "missing.ini"])
        .status(2)
        .stderr_has("cannot read inventory")
        .run();
    kb(Test::new())
        .file("hosts.ini", INVENTORY)
        .args(["exec", "driver-check", "--inventory", "hosts.ini", "--limit", "gpu99"])
        .status(2)
        .stderr_has("gpu99")
        .run();
    kb(Test::new())
        .args(["exec", "driver-check", "--on", "gpu01", "--resume"])
        .status(2)
        .stderr_has("nothing to resume: no earlier fleet run of driver-check")
        .run();
}

/// Three steps on each host; the second passes only where `fixed-<host>` exists. Each step
/// appends to `<host>.log` what ran.
const RESUMABLE: &str = r#"
    ---
    id: staged
    title: Staged
    ---

    # Staged

    ```yaml step
    id: one
    name: First
    run: echo one >> "$M/$RUNBOOK_HOST.log"
    env:
      M: "{{ env.MARKERS }}"
    ```

    ```yaml step
    id: two
    name: Needs the fix
    run: test -f "$M/fixed-$RUNBOOK_HOST" && echo two >> "$M/$RUNBOOK_HOST.log"
    env:
      M: "{{ env.MARKERS }}"
    ```

    ```yaml step
    id: three
    name: Last
    run: echo three >> "$M/$RUNBOOK_HOST.log"
    env:
      M: "{{ env.MARKERS }}"
    ```
"#;

/// The newest run folder's record.
fn newest_run(dir: &Path) -> (PathBuf, serde_json::Value) {
    let mut runs: Vec<PathBuf> =
        std::fs::read_dir(dir.join("archives")).expect("archives").flatten().map(|e| e.path()).collect();
    runs.sort();
    let run = runs.pop().expect("a run");
    let text = std::fs::read_to_string(run.join("run.json")).expect("run.json");
    (run, serde_json::from_str(&text).expect("JSON"))
}

#[test]
fn resume_continues_each_host_where_it_stopped() {
    let Some(sshd) = Sshd::start() else { return };
    let config = sshd.config();
    let test = Test::new().file("runbooks/staged.md", RESUMABLE).dir("markers");
    let markers = test.path().join("markers");
    std::fs::write(markers.join("fixed-gpu01"), "").expect("marker");
    let markers_env = markers.display().to_string();
    let first = test
        .env("MARKERS", &markers_env)
        .args(["exec", "staged", "--on", "gpu01,gpu02,down1", "--ssh-config", &config, "--connect-timeout", "3"])
        .status(1)
        .stdout_has("gpu02 failed: two")
        .run();
    let (first_dir, first_run) = newest_run(first.path());
    let log = |host: &str| std::fs::read_to_string(markers.join(format!("{host}.log"))).unwrap_or_default();
    assert_eq!((log("gpu01"), log("gpu02")), ("one\ntwo\nthree\n".into(), "one\n".into()));
    std::fs::write(markers.join("fixed-gpu02"), "").expect("marker");
    // The hosts come from the run resumed, with how they were reached.
    let resumed = first
        .again()
        .env("MARKERS", &markers_env)
        .args(["exec", "staged", "--resume", "--ssh-config", &config, "--connect-timeout", "3"])
        .status(1)
        .stdout_has("on 3 hosts: down1,gpu[01-02]")
        .stdout_has("gpu01 passed (carried over from the resumed run)")
        .stdout_has("down1 unreachable")
        .run();
    // gpu01 passed: not run again. gpu02 went on from its failed step. down1 never ran: from the start.
    assert_eq!(log("gpu01"), "one\ntwo\nthree\n");
    assert_eq!(log("gpu02"), "one\ntwo\nthree\n");
    let (run_dir, run) = newest_run(resumed.path());
    assert_ne!(run_dir, first_dir, "a new run, linked to the one it resumed");
    assert_eq!(run["options"]["resumed_from"], first_run["run_id"]);
    let hosts = run["fleet"]["hosts"].as_array().expect("hosts");
    let host = |name: &str| hosts.iter().find(|h| h["name"] == name).cloned().expect("host");
    assert_eq!((host("gpu01")["outcome"].clone(), host("gpu01")["resumed"].clone()), ("passed".into(), true.into()));
    assert_eq!((host("gpu02")["outcome"].clone(), host("gpu02").get("resumed")), ("passed".into(), None));
    assert_eq!(host("down1")["outcome"], "unreachable");
    let read = |path: PathBuf| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&path).expect("host run.json")).expect("JSON")
    };
    let gpu01 = read(run_dir.join("hosts/gpu01/run.json"));
    assert_eq!(gpu01["verdict"], "passed", "the host that passed is kept in the new run's folder");
    let gpu02 = read(run_dir.join("hosts/gpu02/run.json"));
    let first_id = first_run["run_id"].as_str().expect("run id");
    assert_eq!(gpu02["options"]["resumed_from"], format!("{first_id}/hosts/gpu02"));
    let steps = gpu02["steps"].as_array().expect("steps");
    let resumed_steps: Vec<&str> =
        steps.iter().filter(|s| s["resumed"] == true).filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(resumed_steps, ["one"]);
    assert_eq!(run["steps"][1]["reason"], "gpu[01-02] passed", "the carried host's steps are folded in too");
    // A named run; narrowed to one host, which passed: nothing is left to run on it.
    let run_id = run["run_id"].as_str().expect("run id").to_string();
    resumed
        .again()
        .args(["exec", "staged", "--resume", &run_id, "--on", "gpu02", "--ssh-config", &config])
        .stdout_has("on 1 host: gpu02")
        .stdout_has("gpu02 passed (carried over from the resumed run)")
        .run();
}

#[test]
fn resume_of_a_fleet_run_is_refused_when_there_is_nothing_to_continue() {
    let Some(sshd) = Sshd::start() else { return };
    let config = sshd.config();
    let passed = Test::new()
        .file("runbooks/driver.md", DRIVER)
        .file("runbooks/other.md", "# Other\n\n```yaml step\nrun: \"true\"\n```\n")
        .args(["exec", "driver-check", "--on", "gpu01", "--ssh-config", &config])
        .run();
    let (_, run) = newest_run(passed.path());
    let run_id = run["run_id"].as_str().expect("run id").to_string();
    let passed = passed
        .again()
        .args(["exec", "driver-check", "--resume", "--ssh-config", &config])
        .status(2)
        .stderr_has(&format!("nothing to resume: fleet run {run_id} of driver-check ended passed"))
        .run();
    passed
        .again()
        .args(["exec", "other", "--resume", &run_id])
        .status(2)
        .stderr_has("it is a run of driver-check, not of other")
        .run();
}

#[test]
fn retry_failed_runs_again_only_on_the_hosts_that_did_not_pass() {
    let Some(sshd) = Sshd::start() else { return };
    let config = sshd.config();
    let test = Test::new().file("runbooks/driver.md", DRIVER).file("hosts.ini", INVENTORY);
    let dir = test
        .args(["exec", "driver-check", "--inventory", "hosts.ini", "--limit", "gpu01,gpu03,down1"])
        .args(["--ssh-config", &config, "--connect-timeout", "3"])
        .status(1)
        .run()
        .dir;
    let retry = |args: &[&str]| {
        let mut command = Command::new(BIN);
        command.current_dir(dir.path()).env("HOME", dir.path()).env("NO_COLOR", "1").args(args);
        let output = command.output().expect("runbook");
        (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let (code, stdout) = retry(&["exec", "driver-check", "--retry-failed", "--ssh-config", &config]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("on 2 hosts: down1,gpu03"), "{stdout}");
    assert!(stdout.contains("gpu03 failed: driver"), "its inventory vars came along: {stdout}");
    // Narrowed by --on: only gpu03 of those (as the inventory had it), and a host that passed
    // is not retried.
    let (code, stdout) =
        retry(&["exec", "driver-check", "--retry-failed", "--on", "gpu03,gpu01", "--ssh-config", &config]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("on 1 host: gpu03"), "{stdout}");
}

#[test]
fn a_host_that_drops_mid_step_is_unreachable_and_nothing_is_left_running_there() {
    let Some(sshd) = Sshd::start() else { return };
    let runbook = r#"
        ---
        id: long
        title: Long
        ---

        # Long

        ```yaml step
        id: wait
        name: Waits
        run: sleep 3173.5
        timeout: 60s
        ```

        ```yaml step
        id: after
        name: After
        run: echo after
        ```
    "#;
    let (_dir, mut command) = Test::new()
        .file("runbooks/long.md", runbook)
        .args(["exec", "long", "--on", "gpu01", "--ssh-config", &sshd.config()])
        .into_command();
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("runbook");
    let started = Instant::now();
    while running("sleep 3173.5").is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "the step did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    sshd.drop_everything();
    let mut child = child;
    let dropped = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if dropped.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("runbook did not notice the dropped connection within 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("runbook ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("gpu01 unreachable"), "{stdout}");
    assert!(stdout.contains("after  gpu01 skipped: not run: gpu01 is unreachable"), "{stdout}");
    let left = gone_within("sleep 3173.5", Duration::from_secs(10));
    assert!(left.is_empty(), "still running on the host: {left:?}");
}

/// DRIVER with a diagnosis that names the cause of a failed driver check.
const DIAGNOSED: &str = r#"
    ---
    id: driver-check
    title: Driver check
    vars:
      driver: "550"
    ---

    # Driver check

    ```yaml step
    id: whoami
    name: Which host
    run: echo "on $RUNBOOK_HOST"
    ```

    ```yaml step
    id: driver
    name: Driver is new enough
    run: echo "driver {{ vars.driver }} on $RUNBOOK_HOST"; test {{ vars.driver }} -ge 550
    ```

    An older driver cannot run the CUDA 12 images.

    ```yaml diagnosis
    id: old-driver
    when: steps.driver.status == "failed"
    cause: The driver is older than 550
    ```
"#;

#[test]
fn cycles_search_the_site_and_the_archive_list_group_a_fleet_run_by_host() {
    let Some(sshd) = Sshd::start() else { return };
    let config = sshd.config();
    let ran = Test::new()
        .file("runbooks/driver.md", DIAGNOSED)
        .file("hosts.ini", INVENTORY)
        .args(["exec", "driver-check", "--inventory", "hosts.ini", "--limit", "gpu01,gpu02,gpu03,gpu04"])
        .args(["--ssh-config", &config])
        .status(1)
        .stdout_has("Diagnosis: gpu03: The driver is older than 550 (old-driver)")
        .run();
    let (run_dir, run) = newest_run(ran.path());
    let run_id = run["run_id"].as_str().expect("run id").to_string();
    assert_eq!(run["diagnoses"][0]["hosts"], "gpu03", "the hosts' diagnoses folded: {}", run["diagnoses"]);
    let markdown = std::fs::read_to_string(run_dir.join("run.md")).expect("run.md");
    assert!(markdown.contains("**The driver is older than 550** (`old-driver`, critical) on gpu03"), "{markdown}");

    // The cycle report: the blocker names the host and quotes its output; the fleet run is
    // listed with its hosts' outcomes folded.
    let ran = ran.again().args(["cycle", "--json"]).run();
    let report = ran.json();
    let blocker = &report["blockers"][0];
    assert_eq!((blocker["diagnosis"].clone(), blocker["hosts"].clone()), ("old-driver".into(), "gpu03".into()));
    assert!(blocker["evidence"].as_str().expect("evidence").contains("gpu03:\ndriver 535 on gpu03"), "{blocker:#}");
    let fleet = &report["fleets"][0];
    assert_eq!(fleet["run"]["run_id"], run_id.as_str());
    let summary = "gpu[01-02,04] passed · gpu03 failed: driver: exit code: expected 0, saw 1 — driver 535 on gpu03";
    assert_eq!(fleet["summary"], summary);
    assert_eq!((fleet["outcomes"]["passed"].clone(), fleet["outcomes"]["failed"].clone()), (3.into(), 1.into()));
    let cycles = ran.path().join("archives/cycles");
    let cycle_md = std::fs::read_dir(&cycles)
        .expect("cycles")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "md"))
        .expect("a cycle report");
    let cycle_md = std::fs::read_to_string(cycle_md).expect("cycle report");
    assert!(
        cycle_md.contains("## Fleet runs") && cycle_md.contains("gpu[01-02,04] passed · gpu03 failed"),
        "{cycle_md}"
    );
    assert!(cycle_md.contains("most likely cause in 1 run · on gpu03"), "{cycle_md}");

    // Search finds the run by a host's name, folded away in its steps' results.
    let ran = ran.again().args(["search", "gpu02", "--kind", "archive", "--json"]).run();
    assert!(ran.stdout.contains(&run_id), "{}", ran.stdout);
    // And so does the archive list, by name or pattern; a host it did not have finds nothing.
    let ran = ran.again().args(["archive", "list", "--host", "gpu0[2-3]", "--json"]).run();
    let rows = ran.json();
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows:#}");
    assert_eq!(rows[0]["hosts"], summary);
    let ran = ran.again().args(["archive", "list", "--host", "gpu09", "--json"]).stdout("[]\n").run();

    // The site's run page: a section per host with its own steps, the failed one open.
    let ran = ran.again().args(["build", "--out", "public"]).run();
    let page = std::fs::read_to_string(ran.path().join(format!("public/archives/{run_id}/index.html"))).expect("page");
    assert!(page.contains(r#"<h2 id="hosts">Hosts</h2>"#), "{page}");
    for host in ["gpu01", "gpu02", "gpu03", "gpu04"] {
        assert!(page.contains(&format!(r#"<h3 class="step-name">{host}</h3>"#)), "{host}: {page}");
    }
    let gpu03 = page.split(r#"<h3 class="step-name">gpu03</h3>"#).nth(1).expect("gpu03's section");
    let gpu03 = gpu03.split("</details>").next().unwrap_or_default();
    assert!(gpu03.contains("driver 535 on gpu03") && gpu03.contains("The driver is older than 550"), "{gpu03}");
    assert!(page.contains(r#"id="h-3" open>"#), "a host that did not pass is open: {page}");
}

#[test]
fn a_probe_step_runs_on_the_host_by_the_copied_binary() {
    let Some(sshd) = Sshd::start() else { return };
    let runbook = r#"
        ---
        id: room
        title: Room
        ---

        # Room

        ```yaml step
        id: room
        name: Room left
        disk: {path: "{{ env.PROBE_DIR }}", avail: {gt: 1KiB}}
        ```

        ```yaml step
        id: huge
        name: A petabyte disk
        severity: warning
        disk: {path: "{{ env.PROBE_DIR }}", size: {gt: 1000TiB}}
        ```
    "#;
    let test = Test::new().file("runbooks/room.md", runbook).dir("probed");
    let probed = test.path().join("probed").display().to_string();
    let ran = test
        .env("PROBE_DIR", &probed)
        .args(["exec", "room", "--on", "gpu[01-02]", "--ssh-config", &sshd.config()])
        .stdout_has("room  gpu[01-02] passed")
        // The filesystem's size, not its free space: other processes writing to the disk
        // between the two hosts' probes made their results differ, so they did not fold.
        .stdout_has("huge  gpu[01-02] failed: size: expected > 1000.0 TiB, saw")
        .run();
    // One copy of this very binary, content-addressed, in the host's cache folder.
    let copies: Vec<PathBuf> = std::fs::read_dir(sshd.dir.path().join("remote-cache/runbook/bin"))
        .expect("the binary's folder on the host")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(std::fs::read(&copies[0]).expect("copy"), std::fs::read(BIN).expect("binary"));
    let (run_dir, _) = newest_run(ran.path());
    let gpu02: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("hosts/gpu02/run.json")).expect("gpu02"))
            .expect("JSON");
    let room = &gpu02["steps"][0];
    assert_eq!((room["kind"].clone(), room["outcome"].clone()), ("disk".into(), "passed".into()), "{room:#}");
    assert!(room["checks"][0]["message"].as_str().expect("check").starts_with("available "), "{room:#}");
    // The hosts' probes read the host: the folder is this machine's, so a path it lacks fails there.
    let ran = ran
        .again()
        .env("PROBE_DIR", "/nonexistent/runbook-probe")
        .args(["exec", "room", "--on", "gpu01", "--ssh-config", &sshd.config()])
        .status(1)
        .stdout_has("room  gpu01 ")
        .run();
    assert!(ran.stdout.contains("/nonexistent/runbook-probe"), "{}", ran.stdout);
}

#[test]
fn dry_run_on_hosts_lists_them_and_renders_the_steps_for_each_group_of_vars() {
    // No host is contacted: no sshd, and an unknown host is no problem.
    let ran = Test::new()
        .file("runbooks/driver.md", DRIVER)
        .file("hosts.ini", INVENTORY)
        .args(["exec", "driver-check", "--inventory", "hosts.ini", "--limit", "gpu", "--dry-run"])
        .stdout_has("dry run on 4 hosts: gpu[01-04]")
        .stdout_has("gpu03  ssh gpu03  driver=535")
        .stdout_has("steps on gpu[01-02]:")
        .stdout_has("$ echo \"driver 550\"; test 550 -ge 550")
        .stdout_has("steps on gpu03:")
        .stdout_has("$ echo \"driver 535\"; test 535 -ge 550")
        .run();
    assert!(!ran.path().join("archives").exists(), "a dry run writes no archive");
    let ran =
        ran.again().args(["exec", "driver-check", "--on", "nosuchhost1,nosuchhost2", "--dry-run", "--json"]).run();
    let events: Vec<serde_json::Value> = ran.stdout.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(events[0]["event"], "fleet_dry_run");
    assert_eq!(events[0]["hosts"].as_array().map(Vec::len), Some(2));
    let steps: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "dry_run_step").collect();
    assert_eq!(steps.len(), 2, "{}", ran.stdout);
    assert!(steps.iter().all(|e| e["host"] == "nosuchhost[1-2]"), "{}", ran.stdout);
}

#[test]
fn a_hosts_steps_share_one_session_and_keep_their_output_apart() {
    let Some(sshd) = Sshd::start() else { return };
    // `loop` is the bootstrap's pid on the host: the parent of the step's `timeout`.
    let runbook = r#"
        ---
        id: steps
        title: Steps
        ---

        # Steps

        ```yaml step
        id: first
        name: No last newline
        run: printf 'loop %s version 1.2' "$(cut -d' ' -f4 /proc/$PPID/stat)"; printf 'warn' >&2
        capture: {version: 'version (\S+)'}
        ```

        ```yaml step
        id: broken
        name: Fails, as a warning
        run: echo broken; exit 3
        severity: warning
        ```

        ```yaml step
        id: later
        name: Reads the capture
        run: printf 'loop %s got {{ version }} in %s\n' "$(cut -d' ' -f4 /proc/$PPID/stat)" "$RUNBOOK_STEP"
        ```
    "#;
    let ran = Test::new()
        .file("runbooks/steps.md", runbook)
        .args(["exec", "steps", "--on", "gpu[01-02]", "--ssh-config", &sshd.config()])
        .stdout_has("first   gpu[01-02] passed")
        .stdout_has("broken  gpu[01-02] failed: exit code: expected 0, saw 3 — broken")
        .stdout_has("later   gpu[01-02] passed")
        .run();
    let (run_dir, _) = newest_run(ran.path());
    let log = |host: &str, name: &str| {
        std::fs::read_to_string(run_dir.join(format!("hosts/{host}/steps/{name}"))).expect("step log")
    };
    for host in ["gpu01", "gpu02"] {
        let first = log(host, "01-first.stdout");
        let (loop_pid, rest) = first.strip_prefix("loop ").and_then(|r| r.split_once(' ')).expect("a pid");
        assert_eq!(rest, "version 1.2", "the output, without a newline and without the step's end: {first:?}");
        assert_eq!(log(host, "01-first.stderr"), "warn");
        assert_eq!(log(host, "02-broken.stdout"), "broken\n");
        assert_eq!(log(host, "03-later.stdout"), format!("loop {loop_pid} got 1.2 in later\n"), "one session");
    }
}

#[test]
fn a_step_that_times_out_in_a_session_stops_on_the_host_and_the_next_step_runs() {
    let Some(sshd) = Sshd::start() else { return };
    let runbook = r#"
        ---
        id: slow
        title: Slow
        ---

        # Slow

        ```yaml step
        id: hang
        name: Hangs
        run: sleep 3177.5 & sleep 3177.6
        timeout: 1s
        severity: warning
        ```

        ```yaml step
        id: next
        name: Runs after it
        run: echo next on $RUNBOOK_HOST
        ```
    "#;
    Test::new()
        .file("runbooks/slow.md", runbook)
        .args(["exec", "slow", "--on", "gpu01", "--ssh-config", &sshd.config()])
        .stdout_has("hang  gpu01 timed_out")
        .stdout_has("next  gpu01 passed")
        .run();
    let left = gone_within("sleep 3177", Duration::from_secs(8));
    assert!(left.is_empty(), "still running on the host: {left:?}");
}
