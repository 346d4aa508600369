//! The first exchange with a host, before any step: it opens the master connection, learns the
//! host's system and architecture (`uname -sm`), checks the tools the bootstrap needs, and, when
//! the runbook has probe steps, makes sure this very `runbook` binary is there — copied once to a
//! content-addressed path (`~/.cache/runbook/bin/runbook-<sha256>`), skipped when present. A host
//! of another architecture or system gets no binary: its probe steps fail with the reason, its
//! `run:` steps still run.

use super::transport::{Captured, Connection, Input, Role, run_captured};
use crate::record::Target;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;

/// The binary probe steps run with, on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LocalBinary {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub os: String,
    pub arch: String,
}

impl LocalBinary {
    /// This process's own executable, hashed.
    pub(crate) fn current() -> Result<LocalBinary, String> {
        let path = std::env::current_exe().map_err(|e| format!("cannot find the runbook binary: {e}"))?;
        let mut file = std::fs::File::open(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            use std::io::Read;
            let n = file.read(&mut buffer).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            size += n as u64;
        }
        let sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(LocalBinary { path, sha256, size, os: std::env::consts::OS.into(), arch: std::env::consts::ARCH.into() })
    }

    /// Where it goes on a host (the shell expands `$HOME` there).
    fn remote_path(&self) -> String {
        format!("${{XDG_CACHE_HOME:-$HOME/.cache}}/runbook/bin/runbook-{}", &self.sha256[..16])
    }
}

/// What preflight learned of a host that answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Facts {
    /// `uname -s`, lower case: `linux`.
    pub os: String,
    /// `uname -m`: `x86_64`, `aarch64`.
    pub arch: String,
    /// The runbook binary on the host for probe steps, or why there is none; `None` when the
    /// runbook has no probe steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<Result<String, String>>,
    /// The binary was copied now (not found there already).
    #[serde(default)]
    pub copied: bool,
}

/// How the preflight of one host went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Preflight {
    Ready(Facts),
    /// The host did not answer, with why (ssh's own words).
    Unreachable(String),
    /// It answered but cannot run steps: why.
    Unfit(String),
}

/// Asks the host what it is, opening the master connection.
pub(crate) fn preflight(connection: &Connection, target: &Target, binary: Option<&LocalBinary>) -> Preflight {
    let script = format!(
        "printf 'os=%s\\narch=%s\\n' \"$(uname -s)\" \"$(uname -m)\"; \
         for t in timeout sleep bash; do command -v \"$t\" >/dev/null 2>&1 && echo \"has=$t\"; done; {}",
        match binary {
            Some(b) =>
                format!("b=\"{}\"; echo \"binary=$b\"; [ -x \"$b\" ] && echo present=yes; true", b.remote_path()),
            None => "true".into(),
        }
    );
    let words = ["sh".to_string(), "-c".to_string(), script];
    let limit = Duration::from_secs(connection.connect_timeout_s * 2 + 10);
    let answer = match connection.command(target, &words, Role::Master) {
        Ok((program, args)) => run_captured(&program, &args, Input::Null, limit),
        Err(why) => Err(why),
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(why) => return Preflight::Unreachable(why),
    };
    let lines: Vec<(&str, &str)> = answer.stdout.lines().filter_map(|l| l.split_once('=')).collect();
    let value = |key: &str| lines.iter().find(|(k, _)| *k == key).map(|(_, v)| v.trim().to_string());
    let (Some(os), Some(arch)) = (value("os"), value("arch")) else {
        return Preflight::Unreachable(unreachable_why(&answer, connection.connect_timeout_s));
    };
    let has = |tool: &str| lines.iter().any(|(k, v)| *k == "has" && *v == tool);
    if !has("timeout") {
        return Preflight::Unfit(
            "it has no `timeout` command (GNU coreutils or BusyBox): remote steps run under it".into(),
        );
    }
    let mut facts = Facts { os: os.to_ascii_lowercase(), arch: normalize_arch(&arch), binary: None, copied: false };
    if let Some(binary) = binary {
        facts.binary =
            Some(place_binary(connection, target, binary, &facts, value("binary"), value("present").is_some()));
        facts.copied = matches!(&facts.binary, Some(Ok(_))) && value("present").is_none();
    }
    Preflight::Ready(facts)
}

fn unreachable_why(answer: &Captured, connect_timeout: u64) -> String {
    if answer.timed_out {
        return format!("no answer within {}s", connect_timeout * 2 + 10);
    }
    answer.why()
}

/// `uname -m` names as Rust names them: `arm64` is `aarch64`, `amd64` is `x86_64`.
fn normalize_arch(arch: &str) -> String {
    match arch {
        "arm64" => "aarch64".into(),
        "amd64" => "x86_64".into(),
        "i686" | "i586" | "i386" => "x86".into(),
        other => other.into(),
    }
}

/// The binary's path on the host: found there, copied now, or why it cannot be.
fn place_binary(
    connection: &Connection,
    target: &Target,
    binary: &LocalBinary,
    facts: &Facts,
    remote_path: Option<String>,
    present: bool,
) -> Result<String, String> {
    if facts.os != binary.os || facts.arch != binary.arch {
        return Err(format!(
            "the host is {} {}, this runbook binary is {} {}: probe steps need runbook built for the host there",
            facts.os, facts.arch, binary.os, binary.arch
        ));
    }
    let path = remote_path.ok_or("the host did not say where the runbook binary goes")?;
    if present {
        return Ok(path);
    }
    copy_binary(connection, target, binary, &path)?;
    Ok(path)
}

/// Streams the binary to a temporary name next to `path`, checks its size, then renames it into
/// place, so a host never sees half a binary under the real name.
fn copy_binary(connection: &Connection, target: &Target, binary: &LocalBinary, path: &str) -> Result<(), String> {
    let script = "umask 077; b=$1; t=\"$b.part.$$\"; mkdir -p \"${b%/*}\" && cat > \"$t\" && \
                  [ \"$(wc -c < \"$t\" | tr -d ' ')\" = \"$2\" ] && chmod 700 \"$t\" && mv -f \"$t\" \"$b\" \
                  || { rm -f \"$t\"; echo \"cannot write $b\" >&2; exit 1; }";
    let words = ["sh", "-c", script, "runbook-copy", path, &binary.size.to_string()].map(String::from).to_vec();
    let (program, args) = connection.command(target, &words, Role::Session)?;
    let file = std::fs::File::open(&binary.path).map_err(|e| format!("cannot read {}: {e}", binary.path.display()))?;
    // A generous limit: a slow link, a big binary.
    let limit = Duration::from_secs(60 + binary.size / (256 * 1024));
    let answer = run_captured(&program, &args, Input::File(file), limit)?;
    if answer.exit == Some(0) { Ok(()) } else { Err(format!("cannot copy the runbook binary there: {}", answer.why())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures_are_named_like_rust_names_them() {
        assert_eq!(normalize_arch("arm64"), "aarch64");
        assert_eq!(normalize_arch("x86_64"), "x86_64");
    }

    #[test]
    fn another_architecture_gets_no_binary() {
        let binary = LocalBinary {
            path: "/bin/true".into(),
            sha256: "ab".repeat(32),
            size: 1,
            os: "linux".into(),
            arch: "x86_64".into(),
        };
        let facts = Facts { os: "linux".into(), arch: "aarch64".into(), binary: None, copied: false };
        let connection = Connection {
            ssh: None,
            docker: None,
            kubectl: None,
            ssh_config: None,
            control_dir: "/tmp".into(),
            connect_timeout_s: 1,
            persist_s: 1,
        };
        let target = Target::Docker { container: "x".into() };
        let err = place_binary(&connection, &target, &binary, &facts, Some("/x".into()), false).unwrap_err();
        assert_eq!(
            err,
            "the host is linux aarch64, this runbook binary is linux x86_64: probe steps need runbook built for the host there"
        );
        assert!(binary.remote_path().ends_with("runbook/bin/runbook-abababababababab"));
    }
}
