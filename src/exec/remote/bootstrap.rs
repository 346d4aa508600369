//! How steps run on a host: one small POSIX `sh` program (the bootstrap) per host and run, started
//! once through the host's transport, that runs the host's steps one after another as the local
//! side sends them on its stdin.
//!
//! The command line is fixed and holds nothing secret: `sh -c BOOTSTRAP runbook-remote`. Each step
//! arrives as a frame, line by line: a header `SENTINEL TOKEN SECONDS MODE`, the variables to
//! export (one `export NAME='…'` per line, secret values included — they never appear in an
//! argument list there), the working folder, the step's `$0` and words (`set -- …`), the
//! sentinel, the script, and the sentinel again. The bootstrap runs the step in a subshell, under
//! the host's `timeout -k 2 SECONDS` (a little past the step's own timeout: the local side, which
//! decides the outcome, gets there first; the host's `timeout` stops the step even when nothing
//! local is left to notice), with stdin from `/dev/null`. The step's stdout and stderr are the
//! bootstrap's own; when the step has exited, the bootstrap writes `TOKEN STATUS` and a newline
//! to stdout and `TOKEN` and a newline to stderr, and the local side strips them: what came
//! before a token is the step's output, ending with a newline or not. The token is random, made
//! anew for every step, and never seen by the step, so no output can end a step early.
//!
//! While a step runs the bootstrap keeps reading its own stdin (a watcher): the local side never
//! writes a frame before the last step's tokens came back and never closes stdin while a step
//! runs, so end-of-file means the local side is gone (killed, timed out, connection lost), and
//! the watcher stops the step's process group (`timeout` leads one) and the bootstrap's — SIGTERM,
//! SIGKILL two seconds later (it ignores SIGTERM from then on, so the bootstrap cannot end it
//! early). A watcher still reading is killed and reaped before the tokens are written, so it
//! never reads a byte of the next frame. End-of-file between steps ends the bootstrap.
//!
//! Processes a step leaves running in the background keep the session's output: what they write
//! after the step has ended goes to the steps after it.
//!
//! Modes: `script` runs the script with `bash --noprofile --norc -eo pipefail -c` (`sh -e -c`
//! where bash is absent), or with WORDS and the script as their last argument (a step's
//! `shell:`), like a local step; `stdin` runs WORDS with the script on their stdin (the probe
//! runner, whose input may hold secrets).
//!
//! The bootstrap's own failures are one stderr line starting `runbook-remote: error:` and status
//! 70 (a working folder missing on the host ends that step only; a frame cut short ends the
//! bootstrap).

use sha2::{Digest, Sha256};
use std::time::Duration;

/// The first argument of the bootstrap (its `$0`), which `ps` on the host shows.
pub(crate) const PROGRAM_NAME: &str = "runbook-remote";
/// Starts the line of a failure of the bootstrap itself.
pub(crate) const ERROR_MARKER: &str = "runbook-remote: error: ";
/// The exit status of a bootstrap failure.
pub(crate) const ERROR_EXIT: i32 = 70;
/// How long the host's `timeout` gives the step past its own timeout: the local side, which
/// decides the outcome, gets there first.
pub(crate) const REMOTE_MARGIN: Duration = Duration::from_secs(2);

const BOOTSTRAP: &str = r#"N='
'
exec 3<&0
while IFS=' ' read -r t k c m; do
  [ -n "$m" ] || { echo "runbook-remote: error: a step arrived garbled" >&2; exit 70; }
  e= s= l=
  while IFS= read -r l; do [ "$l" = "$t" ] && break; e="$e$l$N"; done
  [ "$l" = "$t" ] || { echo "runbook-remote: error: the step arrived incomplete" >&2; exit 70; }
  l=
  while IFS= read -r l; do [ "$l" = "$t" ] && break; s="$s$l$N"; done
  [ "$l" = "$t" ] || { echo "runbook-remote: error: the step arrived incomplete" >&2; exit 70; }
  (
    runbook_cwd= runbook_step=runbook-remote
    set --
    eval "$e"
    if [ -n "$runbook_cwd" ]; then
      cd -- "$runbook_cwd" 2>/dev/null || { echo "runbook-remote: error: working directory $runbook_cwd does not exist on $(uname -n)" >&2; exit 70; }
    fi
    if [ "$m" = stdin ]; then
      i=${s%"$N"}
      exec timeout -k 2 "$c" "$@" <<RUNBOOK_INPUT
$i
RUNBOOK_INPUT
    elif [ $# -gt 0 ]; then exec timeout -k 2 "$c" "$@" "$s" </dev/null
    elif command -v bash >/dev/null 2>&1; then exec timeout -k 2 "$c" bash --noprofile --norc -eo pipefail -c "$s" "$runbook_step" </dev/null
    else exec timeout -k 2 "$c" sh -e -c "$s" "$runbook_step" </dev/null
    fi
  ) 3<&- &
  p=$!
  { while read -r l <&3; do :; done; trap '' TERM; kill -TERM -"$p"; kill -TERM "$p"; kill -TERM 0; sleep 2; kill -KILL -"$p"; kill -KILL "$p"; kill -KILL 0; } >/dev/null 2>&1 &
  w=$!
  wait "$p"; r=$?
  kill -TERM "$w" 2>/dev/null; wait "$w" 2>/dev/null
  printf '%s %s\n' "$k" "$r"
  printf '%s\n' "$k" >&2
done"#;

/// The words that start the bootstrap on a host (through its transport).
pub(crate) fn words() -> Vec<String> {
    ["sh", "-c", BOOTSTRAP, PROGRAM_NAME].map(String::from).to_vec()
}

/// How the bootstrap runs the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Script,
    Stdin,
}

/// What to run on the host.
pub(crate) struct Job<'a> {
    pub step_id: &'a str,
    pub script: &'a str,
    pub mode: Mode,
    /// `shell:` words (mode `script`) or the program (mode `stdin`); empty: the default shell.
    pub words: &'a [String],
    /// Exported to the script (names are checked by the caller).
    pub env: &'a [(String, String)],
    /// Where it runs, relative to the login directory; `None`: the login directory.
    pub cwd: Option<&'a str>,
    pub timeout: Duration,
}

/// A step ready to send: its frame, and the token that ends its output.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub bytes: Vec<u8>,
    pub token: String,
}

/// The frame that runs `job`, ended by a fresh token.
pub(crate) fn frame(job: &Job) -> Frame {
    let token = new_token();
    let sentinel = sentinel(job.script);
    let seconds = (job.timeout + REMOTE_MARGIN).as_secs_f64().ceil() as u64;
    let mode = match job.mode {
        Mode::Script => "script",
        Mode::Stdin => "stdin",
    };
    let mut text = String::with_capacity(job.script.len() + 256);
    text.push_str(&format!("{sentinel} {token} {seconds} {mode}\n"));
    for (name, value) in job.env {
        text.push_str(&format!("export {name}={}\n", quote_one_line(value)));
    }
    if let Some(cwd) = job.cwd.filter(|c| !c.is_empty()) {
        text.push_str(&format!("runbook_cwd={}\n", quote_one_line(cwd)));
    }
    text.push_str(&format!("runbook_step={}\n", quote_one_line(job.step_id)));
    if !job.words.is_empty() {
        let words: Vec<String> = job.words.iter().map(|w| quote_one_line(w)).collect();
        text.push_str(&format!("set -- {}\n", words.join(" ")));
    }
    text.push_str(&sentinel);
    text.push('\n');
    text.push_str(job.script);
    if !job.script.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&sentinel);
    text.push('\n');
    Frame { bytes: text.into_bytes(), token }
}

/// 128 random bits, as the token that ends a step's output: no output can guess it.
fn new_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if random.is_err() {
        // No /dev/urandom (a strange chroot): a hash of what differs between steps and runs.
        static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let count = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let seed = format!("{}-{count}-{now:?}-{:p}", std::process::id(), &bytes);
        bytes.copy_from_slice(&Sha256::digest(seed.as_bytes())[..16]);
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("RUNBOOK-STEP-END-{hex}")
}

/// A line that does not occur in `script`, to end it with.
fn sentinel(script: &str) -> String {
    let digest = Sha256::digest(script.as_bytes());
    let base: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    (0u32..)
        .map(|n| if n == 0 { format!("RUNBOOK-END-{base}") } else { format!("RUNBOOK-END-{base}-{n}") })
        .find(|candidate| !script.lines().any(|line| line == candidate))
        .unwrap_or_default()
}

/// A POSIX shell word for `value` on one line: single quotes, with `'` as `'\''` and each
/// newline as `"$N"` (the bootstrap's newline).
pub(crate) fn quote_one_line(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("'\\''"),
            '\n' => out.push_str("'\"$N\"'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Words as one command line for a remote login shell (`ssh` joins its arguments with spaces).
pub(crate) fn command_line(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shlex::try_quote(w).map(|q| q.into_owned()).unwrap_or_else(|_| quote_one_line(&w.replace('\0', ""))))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the bootstrap's last stderr line says about how the step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    /// The step ran; its exit status is this.
    Exited(i32),
    /// The bootstrap could not run the step: why.
    Failed(String),
}

/// Reads the exit status and the end of stderr as the bootstrap wrote them.
pub(crate) fn interpret(exit: i32, stderr_tail: &str) -> Status {
    let last = stderr_tail.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    if exit == ERROR_EXIT
        && let Some(message) = last.strip_prefix(ERROR_MARKER)
    {
        return Status::Failed(message.to_string());
    }
    Status::Exited(exit)
}
