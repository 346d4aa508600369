//! The builder every integration test uses: write files into a temp KB, run the real binary,
//! assert status, stdout, stderr (as substrings, exactly, or against an insta snapshot) and files.

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
    stdout: Option<String>,
    stderr: Option<String>,
    snapshots: Vec<(Stream, String)>,
    snapshot_filters: Vec<(String, String)>,
}

/// Which output a snapshot is taken of.
#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// The instant, host and user that `pinned()` fixes (see `RUNBOOK_CLOCK` in src/exec/context.rs).
pub const PINNED_CLOCK: &str = "2026-01-02T03:04:05Z";
pub const PINNED_HOST: &str = "pinned-host";
pub const PINNED_USER: &str = "tester";

/// What the temp dir is shown as in snapshots: its path changes every run.
const TEMP_DIR_STANDS_IN: &str = "[TEMP]";

pub struct Ran {
    pub dir: tempfile::TempDir,
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
}

impl Test {
    pub fn new() -> Test {
        Test::in_dir(tempfile::tempdir().expect("temp dir"))
    }

    /// A test on a temp dir that earlier runs left files in (see `Ran::again`).
    fn in_dir(dir: tempfile::TempDir) -> Test {
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
            stdout: None,
            stderr: None,
            snapshots: Vec::new(),
            snapshot_filters: Vec::new(),
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

    /// Stdout must be exactly `text` (unindented, as fixtures are).
    pub fn stdout(mut self, text: &str) -> Test {
        self.stdout = Some(unindent(text));
        self
    }

    /// Stderr must be exactly `text` (unindented, as fixtures are).
    pub fn stderr(mut self, text: &str) -> Test {
        self.stderr = Some(unindent(text));
        self
    }

    /// Pins what changes from run to run: every timestamp is `PINNED_CLOCK` and every duration
    /// 0 ms, the host is `PINNED_HOST`, the user `PINNED_USER`.
    pub fn pinned(self) -> Test {
        self.env("RUNBOOK_CLOCK", PINNED_CLOCK).env("RUNBOOK_HOSTNAME", PINNED_HOST).env("USER", PINNED_USER)
    }

    /// Stdout must match the committed snapshot `tests/snapshots/NAME.snap`, with the temp dir's
    /// path shown as `[TEMP]`. With `CI` set a missing or different snapshot fails (nothing is
    /// written); elsewhere insta writes `NAME.snap.new` beside it for review.
    pub fn stdout_snapshot(mut self, name: &str) -> Test {
        self.snapshots.push((Stream::Stdout, name.to_string()));
        self
    }

    /// Stderr against the committed snapshot `tests/snapshots/NAME.snap` (see `stdout_snapshot`).
    pub fn stderr_snapshot(mut self, name: &str) -> Test {
        self.snapshots.push((Stream::Stderr, name.to_string()));
        self
    }

    /// In this test's snapshots, text matching `regex` is shown as `replacement`: for a value
    /// that varies between runs and cannot be pinned (assert it some other way).
    pub fn snapshot_filter(mut self, regex: &str, replacement: &str) -> Test {
        self.snapshot_filters.push((regex.to_string(), replacement.to_string()));
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
        let temp_dir = temp_dir_spellings(self.dir.path());
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
        if let Some(text) = &self.stdout {
            assert_eq!(&ran.stdout, text, "stdout is not exactly as expected{}", context());
        }
        if let Some(text) = &self.stderr {
            assert_eq!(&ran.stderr, text, "stderr is not exactly as expected{}", context());
        }
        if !self.snapshots.is_empty() {
            let mut filters: Vec<(String, String)> =
                temp_dir.iter().map(|dir| (regex::escape(dir), TEMP_DIR_STANDS_IN.to_string())).collect();
            filters.extend(self.snapshot_filters.iter().cloned());
            assert_snapshots(&self.snapshots, &self.args, &filters, &ran);
        }
        ran
    }
}

/// Compares each chosen output with its committed snapshot, after the filters (regex, replacement).
fn assert_snapshots(snapshots: &[(Stream, String)], args: &[String], filters: &[(String, String)], ran: &Ran) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(format!("runbook {}", args.join(" ")));
    for (regex, replacement) in filters {
        settings.add_filter(regex, replacement.as_str());
    }
    // Run records name the machine's architecture; the snapshots hold on any.
    settings.add_filter(&format!(r"\b{}\b", regex::escape(std::env::consts::ARCH)), "[ARCH]");
    settings.bind(|| {
        for (stream, name) in snapshots {
            let text = match stream {
                Stream::Stdout => &ran.stdout,
                Stream::Stderr => &ran.stderr,
            };
            insta::assert_snapshot!(name.as_str(), text);
        }
    });
}

/// The temp dir's path as the binary may print it: as made, and with symlinks resolved (the
/// longer first, so a spelling that contains the other is replaced whole).
fn temp_dir_spellings(dir: &Path) -> Vec<String> {
    let made = dir.display().to_string();
    let mut spellings = vec![made.clone()];
    if let Ok(real) = dir.canonicalize() {
        let real = real.display().to_string();
        if real != made {
            spellings.push(real);
        }
    }
    spellings.sort_by_key(|s| std::cmp::Reverse(s.len()));
    spellings
}

impl Ran {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Another command on the same temp dir (with what this run left there), from its root,
    /// with no arguments or environment of its own yet.
    pub fn again(self) -> Test {
        Test::in_dir(self.dir)
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
