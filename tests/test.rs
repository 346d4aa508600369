//! The builder every integration test uses: write files into a temp KB, run the real binary,
//! assert status, stdout, stderr and files.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_runbook");

/// Removes the indentation common to all non-empty lines, and a leading newline, so test
/// fixtures can be written indented inside Rust code.
pub fn unindent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent =
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    let mut out: String =
        text.lines().map(|l| l.get(indent..).unwrap_or("").to_string()).collect::<Vec<_>>().join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[must_use]
pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
    status: Option<i32>,
    stdout_has: Vec<String>,
    stdout_lacks: Vec<String>,
    stderr_has: Vec<String>,
}

pub struct Ran {
    pub dir: tempfile::TempDir,
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
}

impl Test {
    pub fn new() -> Test {
        let dir = tempfile::tempdir().expect("temp dir");
        let cwd = dir.path().to_path_buf();
        Test {
            dir,
            args: Vec::new(),
            env: Vec::new(),
            cwd,
            status: Some(0),
            stdout_has: Vec::new(),
            stdout_lacks: Vec::new(),
            stderr_has: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` (unindented) to `path` under the temp dir.
    pub fn file(self, path: &str, text: &str) -> Test {
        self.bytes(path, unindent(text).as_bytes())
    }

    pub fn bytes(self, path: &str, bytes: &[u8]) -> Test {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("create dirs");
        std::fs::write(&full, bytes).expect("write fixture");
        self
    }

    pub fn dir(self, path: &str) -> Test {
        std::fs::create_dir_all(self.dir.path().join(path)).expect("create dir");
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, args: I) -> Test {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Runs from `path` (relative to the temp dir) instead of its root.
    pub fn current_dir(mut self, path: &str) -> Test {
        self.cwd = self.dir.path().join(path);
        std::fs::create_dir_all(&self.cwd).expect("create cwd");
        self
    }

    pub fn status(mut self, code: i32) -> Test {
        self.status = Some(code);
        self
    }

    pub fn any_status(mut self) -> Test {
        self.status = None;
        self
    }

    pub fn stdout_has(mut self, text: &str) -> Test {
        self.stdout_has.push(text.to_string());
        self
    }

    pub fn stdout_lacks(mut self, text: &str) -> Test {
        self.stdout_lacks.push(text.to_string());
        self
    }

    pub fn stderr_has(mut self, text: &str) -> Test {
        self.stderr_has.push(text.to_string());
        self
    }

    fn command(&self) -> Command {
        let state = self.dir.path().join(".state");
        let mut command = Command::new(BIN);
        command
            .args(&self.args)
            .current_dir(&self.cwd)
            .env_remove("RUNBOOK_KB")
            .env_remove("RUNBOOK_ARCHIVES")
            .env_remove("RUNBOOK_GPU_INVENTORY")
            .env_remove("CLICOLOR_FORCE")
            .env("NO_COLOR", "1")
            .env("XDG_STATE_HOME", &state)
            .env("HOME", self.dir.path());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// The prepared command, not run, with the temp dir that must outlive it (for tests that
    /// signal or kill the running process).
    pub fn into_command(self) -> (tempfile::TempDir, Command) {
        let command = self.command();
        (self.dir, command)
    }

    /// The temp dir with the files written so far, for tests that run several commands on it.
    pub fn run_dir(self) -> tempfile::TempDir {
        self.dir
    }

    pub fn run(self) -> Ran {
        let output = self.command().output().expect("run runbook");
        let ran = Ran {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            status: output.status.code().unwrap_or(-1),
            dir: self.dir,
        };
        let context =
            || format!("\n--- args: {:?}\n--- stdout:\n{}\n--- stderr:\n{}", self.args, ran.stdout, ran.stderr);
        if let Some(code) = self.status {
            assert_eq!(ran.status, code, "unexpected exit status{}", context());
        }
        for text in &self.stdout_has {
            assert!(ran.stdout.contains(text), "stdout lacks {text:?}{}", context());
        }
        for text in &self.stdout_lacks {
            assert!(!ran.stdout.contains(text), "stdout has {text:?}{}", context());
        }
        for text in &self.stderr_has {
            assert!(ran.stderr.contains(text), "stderr lacks {text:?}{}", context());
        }
        ran
    }
}

impl Ran {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A real component a test needs (Alertmanager, promtool): its path, or `None` to skip — but
/// with `CI` set a missing component fails the test (`.ci/run` installs them all).
pub fn real_tool(candidates: &[&str]) -> Option<PathBuf> {
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|p| p.is_file()))
    };
    let found = candidates.iter().find_map(|name| {
        let path = Path::new(name);
        if path.is_absolute() { path.is_file().then(|| path.to_path_buf()) } else { on_path(name) }
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is not installed; .ci/run installs it (the test must not skip in CI)",
            candidates.join(" or ")
        );
        eprintln!("skipping: {} is not installed", candidates.join(" or "));
    }
    found
}

/// A free TCP port on loopback (bound, then released: a tiny window for a race, fine in tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}
