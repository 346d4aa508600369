//! Load on `runbook serve`: start it, drive it with `wrk` (one URL, or a rotation of paths
//! through a Lua script), read requests/s, errors and latency percentiles, and its memory.

use crate::BIN;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// `runbook serve` on a free loopback port; stopped with SIGTERM when dropped.
pub struct Served {
    child: Child,
    pub base: String,
}

impl Served {
    pub fn start(kb: &Path, watch: bool) -> Result<Served, String> {
        let mut command = Command::new(BIN);
        command.arg("--kb").arg(kb).args(["serve", "--addr", "127.0.0.1:0", "--quiet"]).env("NO_COLOR", "1");
        if !watch {
            command.arg("--no-watch");
        }
        Served::spawn(&mut command)
    }

    /// Starts `command`, a `runbook serve` on port 0, and reads where it listens.
    pub fn spawn(command: &mut Command) -> Result<Served, String> {
        let mut child =
            command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().map_err(|e| format!("serve: {e}"))?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
        }
        let base = line.trim().trim_start_matches("listening on ").trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            let _ = child.kill();
            return Err(format!("serve did not say where it listens: {line:?}"));
        }
        Ok(Served { child, base })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Current and peak resident memory, KiB.
    pub fn memory_kib(&self) -> Option<(u64, u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let field = |name: &str| {
            status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse().ok())
        };
        Some((field("VmRSS:")?, field("VmHWM:")?, field("RssAnon:")?))
    }

    /// Whether it is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// The body of `GET path` from `addr` (`host:port`), one request on its own connection.
pub fn http_get(addr: &str, path: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(60))).map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
    let mut text = String::new();
    stream.read_to_string(&mut text).map_err(|e| e.to_string())?;
    Ok(text.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default())
}

/// What `wrk` reported.
#[derive(Debug, Default, Clone)]
pub struct WrkResult {
    pub requests: u64,
    pub requests_per_second: f64,
    /// Non-2xx/3xx responses plus socket errors (connect, read, write, timeout).
    pub errors: u64,
    pub p50: String,
    pub p99: String,
}

/// A Lua script for `wrk` that requests `paths` in turn. Each of wrk's threads starts at its own
/// offset, so two threads never ask the same thing at the same moment.
pub fn rotation_script(dir: &Path, name: &str, paths: &[String]) -> Result<PathBuf, String> {
    let mut lua = String::from("local paths = {\n");
    for path in paths {
        lua.push_str(&format!("  {:?},\n", path));
    }
    lua.push_str(
        "}\nlocal threads = 0\nfunction setup(thread)\n  thread:set(\"offset\", threads)\n  threads = threads + 1\nend\n\
         local i = 0\nfunction init(args)\n  i = (offset or 0) * math.floor(#paths / 2)\nend\n\
         function request()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n",
    );
    let file = dir.join(name);
    std::fs::write(&file, lua).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(file)
}

/// Runs `wrk` against `url` (with `script`, if any) and reads its report.
pub fn wrk(
    url: &str,
    threads: u32,
    connections: u32,
    seconds: u32,
    script: Option<&Path>,
) -> Result<WrkResult, String> {
    let wrk = on_path("wrk").ok_or("wrk not found (apt-get install wrk)")?;
    let mut command = Command::new(wrk);
    command.args([
        &format!("-t{threads}"),
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--timeout",
        "10s",
        "--latency",
    ]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let output = command.arg(url).output().map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&output.stderr)));
    }
    let number = |prefix: &str| -> Option<String> {
        text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(|rest| rest.trim().to_string()))
    };
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let non_2xx: u64 = number("Non-2xx or 3xx responses:").and_then(|n| n.parse().ok()).unwrap_or(0);
    let socket: u64 = number("Socket errors:")
        .map(|s| s.split(',').filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Ok(WrkResult {
        requests,
        requests_per_second: number("Requests/sec:").and_then(|n| n.parse().ok()).unwrap_or(0.0),
        errors: non_2xx + socket,
        p50: number("50%").unwrap_or_else(|| "—".into()),
        p99: number("99%").unwrap_or_else(|| "—".into()),
    })
}

/// `text` as a query-string value.
pub fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
