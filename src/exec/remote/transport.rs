//! The programs that reach a host — the OpenSSH client as found on `PATH`, `docker`,
//! `kubectl` — and the command lines that run something there.
//!
//! SSH runs with `BatchMode=yes` (never a password prompt), `ConnectTimeout`, keep-alives, and
//! multiplexing: the first connection to a host (its preflight) becomes a `ControlMaster` that
//! persists a while, every step after it is a session on that connection. The control sockets
//! live under the state folder (`.runbook/ssh/`), or a short private folder in `/tmp` when that
//! path would pass the 108 bytes a Unix socket path may have. Everything else — `ProxyJump`,
//! certificates, `Include`, known hosts, the agent — is the user's own SSH configuration.

use crate::record::Target;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `sun_path` holds 108 bytes with its NUL; ssh adds `.` and 16 random characters to the path
/// while it sets a master up, and `%C` is 40 hex digits.
const SOCKET_PATH_MAX: usize = 107;
const CONTROL_NAME_LEN: usize = 1 + 16 + 1 + 40 + 17;

/// How every host of a run is reached: the programs and the SSH options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Connection {
    /// The `ssh` program, found on `PATH`.
    pub ssh: Option<PathBuf>,
    pub docker: Option<PathBuf>,
    pub kubectl: Option<PathBuf>,
    /// `--ssh-config FILE`, passed as `-F`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_config: Option<PathBuf>,
    /// Where the `ControlMaster` sockets are.
    pub control_dir: PathBuf,
    pub connect_timeout_s: u64,
    /// How long an idle master connection stays (`ControlPersist`).
    pub persist_s: u64,
}

/// Whether a command may set up the host's master connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The first connection: becomes the master (`ControlMaster=auto`, `ControlPersist`).
    Master,
    /// Uses the master when there is one, else connects on its own.
    Session,
}

impl Connection {
    /// The programs as found on `path` (the `PATH` value), the control folder under
    /// `state_dir`.
    pub(crate) fn new(path: Option<&str>, state_dir: &Path) -> Result<Connection, String> {
        Ok(Connection {
            ssh: find_program("ssh", path),
            docker: find_program("docker", path),
            kubectl: find_program("kubectl", path),
            ssh_config: None,
            control_dir: control_dir(state_dir)?,
            connect_timeout_s: 10,
            persist_s: 60,
        })
    }

    /// The program and arguments that run `words` on `target`.
    pub(crate) fn command(
        &self,
        target: &Target,
        words: &[String],
        role: Role,
    ) -> Result<(PathBuf, Vec<String>), String> {
        match target {
            Target::Ssh { destination, address, port, user } => {
                let ssh =
                    self.ssh.clone().ok_or("`ssh` is not on PATH: install the OpenSSH client (openssh-client)")?;
                let mut args: Vec<String> = Vec::new();
                if let Some(config) = &self.ssh_config {
                    args.extend(["-F".into(), config.display().to_string()]);
                }
                args.push("-T".into());
                let mut option = |text: String| args.extend(["-o".to_string(), text]);
                option("BatchMode=yes".into());
                option(format!("ConnectTimeout={}", self.connect_timeout_s));
                option("ServerAliveInterval=10".into());
                option("ServerAliveCountMax=3".into());
                // One master per host of the run, even for aliases ssh resolves to the same
                // address (`%C` would share one): a host's sessions then never ride on, or
                // outlive, another's connection.
                option(format!("ControlPath={}/{}-%C", self.control_dir.display(), control_name(target)));
                match role {
                    Role::Master => {
                        option("ControlMaster=auto".into());
                        option(format!("ControlPersist={}", self.persist_s));
                    }
                    Role::Session => option("ControlMaster=no".into()),
                }
                if let Some(address) = address {
                    option(format!("HostName={address}"));
                }
                if let Some(port) = port {
                    args.extend(["-p".into(), port.to_string()]);
                }
                if let Some(user) = user {
                    args.extend(["-l".into(), user.clone()]);
                }
                args.push("--".into());
                args.push(destination.clone());
                // The remote login shell reads one command line.
                args.push(super::bootstrap::command_line(words));
                Ok((ssh, args))
            }
            Target::Docker { container } => {
                let docker = self.docker.clone().ok_or("`docker` is not on PATH")?;
                let mut args: Vec<String> = vec!["exec".into(), "-i".into(), container.clone()];
                args.extend(words.iter().cloned());
                Ok((docker, args))
            }
            Target::Kubectl { namespace, pod, container } => {
                let kubectl = self.kubectl.clone().ok_or("`kubectl` is not on PATH")?;
                let mut args: Vec<String> =
                    vec!["exec".into(), "-i".into(), "-n".into(), namespace.clone(), pod.clone()];
                if let Some(container) = container {
                    args.extend(["-c".into(), container.clone()]);
                }
                args.push("--".into());
                args.extend(words.iter().cloned());
                Ok((kubectl, args))
            }
        }
    }

    /// True when a failed command says nothing about the host's steps, only that the host could
    /// not be reached: `ssh` exits 255 for its own failures.
    pub(crate) fn lost(&self, target: &Target, exit: Option<i32>) -> bool {
        matches!(target, Target::Ssh { .. }) && exit == Some(255)
    }
}

/// 16 hex digits naming a target's control socket (with `%C` after it, within the length
/// [`CONTROL_NAME_LEN`] allows).
fn control_name(target: &Target) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{target:?}").as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Parses one item of `--on`: `k8s:NS/POD[/CONTAINER]`, `docker:NAME`, else an SSH destination
/// (`[user@]host[:port]` is left to ssh, which reads `user@` itself; the port goes to `-p`).
pub(crate) fn target_of(item: &str) -> Result<Target, String> {
    if let Some(rest) = item.strip_prefix("k8s:") {
        let parts: Vec<&str> = rest.split('/').collect();
        return match parts.as_slice() {
            [ns, pod] if !ns.is_empty() && !pod.is_empty() => {
                Ok(Target::Kubectl { namespace: ns.to_string(), pod: pod.to_string(), container: None })
            }
            [ns, pod, c] if !ns.is_empty() && !pod.is_empty() && !c.is_empty() => {
                Ok(Target::Kubectl { namespace: ns.to_string(), pod: pod.to_string(), container: Some(c.to_string()) })
            }
            _ => Err(format!("bad target `{item}`: write k8s:NAMESPACE/POD or k8s:NAMESPACE/POD/CONTAINER")),
        };
    }
    if let Some(name) = item.strip_prefix("docker:") {
        if name.is_empty() || name.contains('/') {
            return Err(format!("bad target `{item}`: write docker:CONTAINER"));
        }
        return Ok(Target::Docker { container: name.to_string() });
    }
    let (destination, port) = match item.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() => {
            let port = port.parse::<u16>().map_err(|_| format!("bad port in `{item}`"))?;
            (host.to_string(), Some(port))
        }
        _ => (item.to_string(), None),
    };
    if destination.is_empty() || destination.starts_with('-') {
        return Err(format!("bad host `{item}`"));
    }
    Ok(Target::Ssh { destination, address: None, port, user: None })
}

/// The folder for control sockets: `<state>/ssh`, or `/tmp/runbook-ssh-<uid>` when that path is
/// too long for a socket (created private to the user either way).
pub(crate) fn control_dir(state_dir: &Path) -> Result<PathBuf, String> {
    let preferred = state_dir.join("ssh");
    let fits = |dir: &Path| dir.as_os_str().len() + CONTROL_NAME_LEN <= SOCKET_PATH_MAX;
    let uid = rustix::process::getuid().as_raw();
    let fallback = std::env::var_os("XDG_RUNTIME_DIR")
        .map(|d| PathBuf::from(d).join("runbook-ssh"))
        .filter(|d| fits(d))
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/runbook-ssh-{uid}")));
    let dir = if fits(&preferred) { preferred } else { fallback };
    if !fits(&dir) {
        return Err(format!("no folder for SSH control sockets: {} is too long for a socket path", dir.display()));
    }
    private_dir(&dir)?;
    Ok(dir)
}

/// Creates `dir` with mode 0700, or checks that an existing one is ours and private.
fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    match std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != rustix::process::getuid().as_raw() {
        return Err(format!("{} is not a folder of yours: SSH control sockets cannot go there", dir.display()));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot make {} private: {e}", dir.display()))?;
    }
    Ok(())
}

/// `name` as found on `path` (the value of `PATH`), like a shell would.
pub(crate) fn find_program(name: &str, path: Option<&str>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// What a short command on a host printed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Captured {
    pub exit: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Captured {
    /// The last line of stderr, else a word on how it ended.
    pub(crate) fn why(&self) -> String {
        let last = self.stderr.lines().rev().map(str::trim).find(|l| !l.is_empty());
        match (last, self.timed_out, self.exit) {
            (_, true, _) => "no answer in time".to_string(),
            (Some(line), _, _) => line.to_string(),
            (None, _, Some(code)) => format!("exit {code}"),
            (None, _, None) => "killed by a signal".to_string(),
        }
    }
}

/// Where a captured command's stdin comes from.
pub(crate) enum Input {
    Null,
    File(std::fs::File),
}

/// Runs a command (in its own process group) to completion or `limit`, whichever comes first,
/// and captures its output. Not for steps — those stream through `exec::process` — but for the
/// short exchanges around them: preflight, copying the binary.
pub(crate) fn run_captured(program: &Path, args: &[String], input: Input, limit: Duration) -> Result<Captured, String> {
    let mut command = Command::new(program);
    command.args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    command.stdin(match input {
        Input::Null => Stdio::null(),
        Input::File(file) => Stdio::from(file),
    });
    let mut child = command.spawn().map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let reader = |stream: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = reader(child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
    let stderr = reader(child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                kill_group(child.id());
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok(Captured { exit: status.and_then(|s| s.code()), stdout, stderr, timed_out })
}

fn kill_group(pid: u32) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> Connection {
        Connection {
            ssh: Some("/usr/bin/ssh".into()),
            docker: Some("/usr/bin/docker".into()),
            kubectl: Some("/usr/bin/kubectl".into()),
            ssh_config: Some("/etc/fleet.conf".into()),
            control_dir: "/s/ssh".into(),
            connect_timeout_s: 7,
            persist_s: 60,
        }
    }

    #[test]
    fn ssh_commands_carry_the_options() {
        let target = Target::Ssh {
            destination: "gpu07".into(),
            address: Some("10.0.0.7".into()),
            port: Some(2222),
            user: Some("ops".into()),
        };
        let (program, args) = connection().command(&target, &["echo".into(), "a b".into()], Role::Master).unwrap();
        assert_eq!(program, PathBuf::from("/usr/bin/ssh"));
        assert_eq!(
            args.join(" "),
            format!(
                "-F /etc/fleet.conf -T -o BatchMode=yes -o ConnectTimeout=7 -o ServerAliveInterval=10 \
                 -o ServerAliveCountMax=3 -o ControlPath=/s/ssh/{}-%C -o ControlMaster=auto -o ControlPersist=60 \
                 -o HostName=10.0.0.7 -p 2222 -l ops -- gpu07 echo 'a b'",
                control_name(&target)
            )
        );
        let alias = target_of("gpu08").unwrap();
        assert_ne!(control_name(&alias), control_name(&target_of("gpu09").unwrap()), "one master per host");
        let (_, args) = connection().command(&target_of("gpu01").unwrap(), &["true".into()], Role::Session).unwrap();
        assert!(
            args.contains(&"ControlMaster=no".to_string()) && !args.iter().any(|a| a.starts_with("ControlPersist"))
        );
    }

    #[test]
    fn other_transports() {
        let (program, args) =
            connection().command(&target_of("docker:web1").unwrap(), &["sh".into()], Role::Session).unwrap();
        assert_eq!((program.to_str().unwrap(), args.join(" ").as_str()), ("/usr/bin/docker", "exec -i web1 sh"));
        let (_, args) =
            connection().command(&target_of("k8s:ops/api-0/app").unwrap(), &["sh".into()], Role::Session).unwrap();
        assert_eq!(args.join(" "), "exec -i -n ops api-0 -c app -- sh");
        assert!(target_of("k8s:ops").unwrap_err().contains("k8s:NAMESPACE/POD"));
        assert!(target_of("docker:").is_err());
        assert_eq!(
            target_of("gpu01:2222").unwrap(),
            Target::Ssh { destination: "gpu01".into(), address: None, port: Some(2222), user: None }
        );
    }

    #[test]
    fn control_sockets_fit_in_a_socket_path() {
        let short = tempfile::tempdir().unwrap();
        let dir = control_dir(short.path()).unwrap();
        assert_eq!(dir, short.path().join("ssh"));
        let long = short.path().join("x".repeat(80));
        let dir = control_dir(&long).unwrap();
        assert!(dir.as_os_str().len() + CONTROL_NAME_LEN <= SOCKET_PATH_MAX, "{}", dir.display());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn captured_commands_stop_at_their_limit() {
        let out = run_captured(
            Path::new("/bin/sh"),
            &["-c".into(), "echo hi; echo oops >&2; exit 3".into()],
            Input::Null,
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!((out.exit, out.stdout.as_str(), out.why()), (Some(3), "hi\n", "oops".to_string()));
        let started = Instant::now();
        let out = run_captured(
            Path::new("/bin/sh"),
            &["-c".into(), "sleep 30 & sleep 30".into()],
            Input::Null,
            Duration::from_millis(200),
        )
        .unwrap();
        assert!(out.timed_out && started.elapsed() < Duration::from_secs(5));
        let mut fed = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut fed, b"fed").unwrap();
        std::io::Seek::rewind(&mut fed).unwrap();
        let out = run_captured(Path::new("/bin/cat"), &[], Input::File(fed), Duration::from_secs(5)).unwrap();
        assert_eq!(out.stdout, "fed");
    }
}
