//! What the site tests share: a knowledge base with every kind of page, the real `runbook serve`
//! as a child process on port 0, and a raw HTTP client (so a test controls the exact bytes of a
//! request path, `%2f` and `..` included).

use crate::test::{BIN, Test};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const DISK: &str = r#"
---
id: disk
title: Disk is full
aliases: [df]
summary: Find what fills the disk.
tags: [storage, GPU]
category: operations
vars: {path: /}
---

# Disk is full

The first paragraph. See the [GPU notes](../architecture/gpu.md#drivers) too.

## Check

```yaml step
id: space
name: Room on the filesystem
disk: {path: "{{ path }}", used_percent: {lt: 90}, avail: {gt: 1GiB}}
```

```yaml step
id: biggest
name: Biggest directories
confirm: List the biggest directories?
run: du -xh --max-depth=1 {{ path | shell_quote }} | sort -rh | head
severity: warning
```

| column | meaning |
|:------:|---------|
| a      | b       |

- [x] a done task
- [ ] an open task

A footnote[^1].

[^1]: The note.
"#;

pub const GPU: &str = r#"
# GPU notes

A document about GPUs and `nvidia-smi`. Back to [the disk runbook](../operations/disk.md).

## Drivers

Check `nvidia-smi` first: CUDA_ERROR_OPERATING_SYSTEM means error 304.
"#;

/// Raw HTML in prose, and a step whose output is HTML: neither may run in a browser.
pub const XSS: &str = r#"
---
id: xss
tags: [security]
---

# Hostile <script>window.__xss = 1; document.title = "pwned"</script> text

Prose with <script>window.__xss = 2</script> a script, <img src="x" onerror="window.__xss = 3"> an image,
a [link](javascript:window.__xss=4) and <a href="javascript:window.__xss=5">a raw one</a>.

```yaml step
id: shout
name: Prints <b>markup</b>
run: printf '%s\n' '<script>window.__xss = 6</script>' '<img src=x onerror="window.__xss=7">'
```
"#;

pub const BROKEN: &str = r#"
# Broken runbook

This one does not parse: the step has an unknown key.

```yaml step
id: bad
runn: echo typo
```
"#;

pub const CYCLE: &str = "# Week 1 readiness\n\nAll runbooks were run. See the <script>window.__xss = 8</script> report.\n\n## Findings\n\nNone.\n";

/// A KB with a runbook, a document, a hostile runbook, a broken one and a cycle report.
pub fn kb() -> Test {
    Test::new()
        .file("runbooks/operations/disk.md", DISK)
        .file("runbooks/architecture/gpu.md", GPU)
        .file("runbooks/operations/xss.md", XSS)
        .file("runbooks/operations/broken.md", BROKEN)
        .bytes("archives/cycles/2026-w01.md", CYCLE.as_bytes())
}

/// The KB of [`kb`] with one recorded run of `xss` (whose output holds markup).
pub fn kb_with_run() -> tempfile::TempDir {
    let ran = kb().args(["exec", "xss", "--quiet"]).run();
    ran.dir
}

/// Runs the real binary on `dir`'s KB.
pub fn runbook(dir: &Path, args: &[&str]) -> std::process::Output {
    command(dir).args(args).output().expect("run runbook")
}

fn command(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg("--kb")
        .arg(dir)
        .current_dir(dir)
        .env_remove("RUNBOOK_KB")
        .env_remove("RUNBOOK_ARCHIVES")
        .env("NO_COLOR", "1")
        .env("XDG_STATE_HOME", dir.join(".state"))
        .env("HOME", dir);
    command
}

/// `runbook serve --addr 127.0.0.1:0` on a KB; stopped (SIGTERM) when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
    pub base: String,
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        Server::start_at(dir, "127.0.0.1:0")
    }

    pub fn start_at(dir: &Path, addr: &str) -> Server {
        Server::start_with(dir, &["--addr", addr])
    }

    /// Without watching the KB: changes on disk are not picked up.
    pub fn start_unwatched(dir: &Path) -> Server {
        Server::start_with(dir, &["--addr", "127.0.0.1:0", "--no-watch"])
    }

    pub fn start_with(dir: &Path, args: &[&str]) -> Server {
        Server::start_with_env(dir, args, &[])
    }

    /// With more environment variables (secrets whose values runs must not show).
    pub fn start_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = command(dir)
            .arg("serve")
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start runbook serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
        let base =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let base = base.trim_end_matches('/').to_string();
        let addr = base.strip_prefix("http://").expect("http URL").replace("0.0.0.0", "127.0.0.1");
        Server { child, addr, base }
    }

    pub fn get(&self, path: &str) -> Response {
        get(&self.addr, path)
    }

    /// Stops the server with SIGTERM and returns its exit code and stderr.
    pub fn stop(mut self) -> (i32, String) {
        self.terminate();
        let status = self.child.wait().expect("wait for the server");
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status.code().unwrap_or(-1), stderr)
    }

    fn terminate(&self) {
        // SAFETY: signalling our own child by its pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// `GET path` with `Host: 127.0.0.1`, exactly as written.
pub fn get(addr: &str, path: &str) -> Response {
    request(addr, &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"))
}

/// Sends a raw request and reads the whole answer (the server closes the connection).
pub fn request(addr: &str, raw: &str) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    stream.write_all(raw.as_bytes()).expect("send");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read the answer");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    Response { status, headers, body: body.to_string() }
}

/// Every file under `dir`, relative, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).expect("under dir").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// Polls `check` until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
