//! Fleet runs (DESIGN §17) side by side with ClusterShell (`clush -b`) on 64 host aliases of a
//! loopback OpenSSH server the harness starts: a temporary host key and user key, an
//! `ssh_config` naming `h01`…`h64`, all pointing at it. Both tools get the same `ssh_config`
//! (`-F`) and the same fan-out (16). The server allows `MaxStartups 200` and `MaxSessions 100`
//! so that 16 connections at once are never throttled by its defaults (10:30:100, 10).
//!
//! Every measured run is cold: before it, runbook's `ControlMaster` connections are closed and
//! their sockets removed, so a run pays each host's SSH handshake, as clush (which keeps no
//! connections) always does.

use crate::measure::{pair, repeat_with_setup};
use crate::{BIN, Budget, Row};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";
const CLUSH: &str = "/usr/bin/clush";
const HOSTS: usize = 64;
const FORKS: usize = 16;
const STEPS: usize = 10;
const COMMAND: &str = "uname -r";

/// A running `sshd` and the client files that reach it; killed on drop.
struct Sshd {
    child: Child,
    dir: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool(program: &str, args: &[&str], dir: &Path) -> Result<(), String> {
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("{program}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{program} {args:?} failed: {status}")) }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).map_err(|e| e.to_string())
}

fn user() -> Result<String, String> {
    let out = Command::new("id").arg("-un").output().map_err(|e| format!("id -un: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Sshd {
    fn start(dir: &Path) -> Result<Sshd, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        for key in ["host_key", "user_key"] {
            tool("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", key], dir)?;
        }
        std::fs::copy(dir.join("user_key.pub"), dir.join("authorized_keys")).map_err(|e| e.to_string())?;
        // sshd refuses to start without its privilege separation folder (root only).
        if rustix::process::getuid().is_root() {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let port = free_port()?;
        let d = dir.display();
        write(
            &dir.join("sshd_config"),
            &format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nStrictModes no\n\
                 UsePAM no\nPermitRootLogin prohibit-password\nPidFile {d}/sshd.pid\nMaxSessions 100\nMaxStartups 200\n"
            ),
        )?;
        let host_key = std::fs::read_to_string(dir.join("host_key.pub")).map_err(|e| e.to_string())?;
        write(&dir.join("known_hosts"), &format!("[127.0.0.1]:{port} {host_key}"))?;
        let mut client = String::new();
        for i in 1..=HOSTS {
            client.push_str(&format!("Host h{i:02}\n  HostName 127.0.0.1\n  Port {port}\n"));
        }
        client.push_str(&format!(
            "Host *\n  User {user}\n  IdentityFile {d}/user_key\n  IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  \
             StrictHostKeyChecking yes\n  LogLevel ERROR\n",
            user = user()?
        ));
        write(&dir.join("ssh_config"), &client)?;
        let log = std::fs::File::create(dir.join("sshd.log")).map_err(|e| e.to_string())?;
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {SSHD}: {e}"))?;
        let sshd = Sshd { child, dir: dir.to_path_buf() };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                return Err(format!("sshd did not listen: {}", sshd.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(sshd)
    }

    fn config(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }
}

/// Closes every `ControlMaster` left in `control` (`ssh -O exit`) and removes the folder, so the
/// next run starts cold.
fn close_masters(control: &Path) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(control) else { return Ok(()) };
    for entry in entries.flatten() {
        let socket = entry.path();
        let _ = Command::new("ssh")
            .arg("-S")
            .arg(&socket)
            .args(["-O", "exit", "any"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    match std::fs::remove_dir_all(control) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("removing {}: {e}", control.display())),
        _ => Ok(()),
    }
}

fn kb(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir.join("runbooks")).map_err(|e| e.to_string())?;
    let step = format!("```yaml step\nrun: {COMMAND}\n```\n\n");
    write(&dir.join("runbooks/one.md"), &format!("---\nid: one\ntitle: One step\n---\n\n# One step\n\n{step}"))?;
    let ten = step.repeat(STEPS);
    write(&dir.join("runbooks/ten.md"), &format!("---\nid: ten\ntitle: Ten steps\n---\n\n# Ten steps\n\n{ten}"))
}

pub fn rows(tmp: &Path, runs: usize) -> Result<Vec<Row>, String> {
    if !Path::new(SSHD).exists() || !Path::new(CLUSH).exists() {
        eprintln!("fleet: skipped, {SSHD} or {CLUSH} is missing (apt-get install openssh-server clustershell)");
        return Ok(Vec::new());
    }
    let sshd = Sshd::start(&tmp.join("sshd"))?;
    let config = sshd.config();
    let kb_dir = tmp.join("fleet-kb");
    kb(&kb_dir)?;
    let control = kb_dir.join(".runbook/ssh");
    let archives = kb_dir.join("archives");
    let cold = || {
        close_masters(&control)?;
        match std::fs::remove_dir_all(&archives) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("removing {}: {e}", archives.display())),
            _ => Ok(()),
        }
    };
    let hosts = format!("h[01-{HOSTS}]");
    let forks = FORKS.to_string();
    let runbook = |id: &str| {
        let mut command = Command::new(BIN);
        command.arg("--kb").arg(&kb_dir).args(["exec", id, "--on", &hosts, "--forks", &forks, "--quiet"]);
        command.arg("--ssh-config").arg(&config).env("NO_COLOR", "1");
        command
    };
    let clush = || {
        let mut command = Command::new(CLUSH);
        command.args(["-b", "-f", &forks, "-w", &hosts, "-o"]).arg(format!("-F {}", config.display())).arg(COMMAND);
        command
    };
    let mut rows = Vec::new();
    eprintln!("fleet: one step on {HOSTS} hosts, runbook and clush…");
    let (one, peer) = pair(runs, cold, || runbook("one"), clush)?;
    let input = format!("{HOSTS} aliases of a loopback sshd, {FORKS} at a time, cold (no ControlMaster left)");
    rows.push(Row {
        benchmark: format!("`runbook exec --on h[01-{HOSTS}]` of one step `run: {COMMAND}`"),
        input: input.clone(),
        stats: one,
        peer: Some((format!("`clush -b -f {FORKS} -w h[01-{HOSTS}] {COMMAND}`, same ssh_config"), peer)),
        budget: Budget::Ratio(1.3),
    });
    eprintln!("fleet: {STEPS} steps on {HOSTS} hosts…");
    let ten = repeat_with_setup(runs, &[0], cold, || runbook("ten"))?;
    rows.push(Row {
        benchmark: format!("`runbook exec --on h[01-{HOSTS}]` of {STEPS} steps `run: {COMMAND}` (one master per host)"),
        input,
        stats: ten,
        peer: Some((format!("the one-step run above ({HOSTS} hosts)"), one)),
        budget: Budget::Ratio(3.0),
    });
    cold()?;
    drop(sshd);
    Ok(rows)
}
