//! How a step runs on a host: a small POSIX `sh` program (the bootstrap) started under the
//! host's `timeout`, with the step on its stdin.
//!
//! The command line is fixed and holds nothing secret:
//! `timeout -k 2 SECS sh -c BOOTSTRAP runbook-remote SENTINEL STEP MODE [WORDS…]`.
//! Stdin carries, line by line, the variables to export (one `export NAME='…'` per line, secret
//! values included — they never appear in an argument list there), a sentinel line, the script,
//! and the sentinel again. The bootstrap then starts the script with stdin from `/dev/null` and
//! keeps reading its own stdin: the local side never writes more and never closes it while the
//! step runs, so end-of-file means the local side is gone (killed, timed out, connection lost),
//! and the bootstrap stops the step's whole process group — SIGTERM, SIGKILL two seconds later.
//! The host's `timeout`, set a little past the step's own, stops it even when nothing local is
//! left to notice.
//!
//! Modes: `script` runs the script with `bash --noprofile --norc -eo pipefail -c` (`sh -e -c`
//! where bash is absent), or with WORDS and the script as their last argument (a step's
//! `shell:`), like a local step; `stdin` runs WORDS with the script on their stdin (the probe
//! runner, whose input may hold secrets).
//!
//! The bootstrap's own failures are one stderr line starting `runbook-remote: error:` and exit
//! 70; a step's exit status 255, which `ssh` uses for its own failures, comes back as 254 with
//! the line `runbook-remote: exit 255`.

use sha2::{Digest, Sha256};
use std::time::Duration;

/// The first argument of the bootstrap (its `$0`), which `ps` on the host shows.
pub(crate) const PROGRAM_NAME: &str = "runbook-remote";
/// Starts the line of a failure of the bootstrap itself.
pub(crate) const ERROR_MARKER: &str = "runbook-remote: error: ";
/// The line that says exit status 254 means the step's 255.
pub(crate) const EXIT_255_MARKER: &str = "runbook-remote: exit 255";
/// The exit status of a bootstrap failure.
pub(crate) const ERROR_EXIT: i32 = 70;
/// How long the host's `timeout` gives the step past its own timeout: the local side, which
/// decides the outcome, gets there first.
pub(crate) const REMOTE_MARGIN: Duration = Duration::from_secs(2);

const BOOTSTRAP: &str = r#"t=$1 n=$2 m=$3; shift 3
N='
'
e= s= l=
while IFS= read -r l; do [ "$l" = "$t" ] && break; e="$e$l$N"; done
[ "$l" = "$t" ] || { echo "runbook-remote: error: the step arrived incomplete" >&2; exit 70; }
l=
while IFS= read -r l; do [ "$l" = "$t" ] && break; s="$s$l$N"; done
[ "$l" = "$t" ] || { echo "runbook-remote: error: the step arrived incomplete" >&2; exit 70; }
runbook_cwd=
eval "$e"
if [ -n "$runbook_cwd" ]; then
  cd -- "$runbook_cwd" 2>/dev/null || { echo "runbook-remote: error: working directory $runbook_cwd does not exist on $(uname -n)" >&2; exit 70; }
fi
if [ "$m" = stdin ]; then printf %s "$s" | "$@" &
elif [ $# -gt 0 ]; then "$@" "$s" </dev/null &
elif command -v bash >/dev/null 2>&1; then bash --noprofile --norc -eo pipefail -c "$s" "$n" </dev/null &
else sh -e -c "$s" "$n" </dev/null &
fi
p=$!
exec 3<&0
{ trap '' TERM; while read -r l <&3; do :; done; kill -TERM 0; sleep 2; kill -KILL 0; } >/dev/null 2>&1 &
w=$!
exec 3<&- 0</dev/null
wait "$p"; r=$?
kill -KILL "$w" 2>/dev/null
if [ "$r" -eq 255 ]; then echo "runbook-remote: exit 255" >&2; exit 254; fi
exit "$r""#;

/// How the bootstrap runs the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Script,
    Stdin,
}

/// A step ready to send: the command words to run on the host, and its stdin.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub words: Vec<String>,
    pub stdin: Vec<u8>,
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

/// The command and stdin for `job`.
pub(crate) fn prepare(job: &Job) -> Prepared {
    let sentinel = sentinel(job.script);
    let mut stdin = String::with_capacity(job.script.len() + 256);
    for (name, value) in job.env {
        stdin.push_str(&format!("export {name}={}\n", quote_one_line(value)));
    }
    if let Some(cwd) = job.cwd.filter(|c| !c.is_empty()) {
        stdin.push_str(&format!("runbook_cwd={}\n", quote_one_line(cwd)));
    }
    stdin.push_str(&sentinel);
    stdin.push('\n');
    stdin.push_str(job.script);
    if !job.script.ends_with('\n') {
        stdin.push('\n');
    }
    stdin.push_str(&sentinel);
    stdin.push('\n');
    let seconds = (job.timeout + REMOTE_MARGIN).as_secs_f64().ceil() as u64;
    let mut words: Vec<String> = ["timeout", "-k", "2"].map(String::from).to_vec();
    words.push(seconds.to_string());
    words.extend(["sh", "-c", BOOTSTRAP, PROGRAM_NAME].map(String::from));
    words.push(sentinel);
    words.push(job.step_id.to_string());
    words.push(match job.mode {
        Mode::Script => "script".into(),
        Mode::Stdin => "stdin".into(),
    });
    words.extend(job.words.iter().cloned());
    Prepared { words, stdin: stdin.into_bytes() }
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
    if exit == 254 && last == EXIT_255_MARKER {
        return Status::Exited(255);
    }
    Status::Exited(exit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    /// Runs a prepared job with the local `sh`, as a host would.
    fn run(job: &Job) -> (i32, String, String) {
        use std::io::Write;
        let prepared = prepare(job);
        let mut child = Command::new(&prepared.words[0])
            .args(&prepared.words[1..])
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&prepared.stdin).unwrap();
        // Kept open while the step runs, as the local side does.
        let out = std::thread::spawn(move || {
            let output = child.wait_with_output().unwrap();
            drop(stdin);
            output
        })
        .join()
        .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn job<'a>(script: &'a str, env: &'a [(String, String)]) -> Job<'a> {
        Job {
            step_id: "driver",
            script,
            mode: Mode::Script,
            words: &[],
            env,
            cwd: None,
            timeout: Duration::from_secs(20),
        }
    }

    #[test]
    fn a_script_runs_with_its_environment_and_exit_status() {
        let env = [("SECRET".to_string(), "it's\na 'secret' $HOME".to_string())];
        let script = "printf '%s|' \"$SECRET\"\necho \"$0\"\nread -r x || echo no-stdin\nexit 3";
        let (code, stdout, _) = run(&job(script, &env));
        assert_eq!(code, 3);
        assert_eq!(stdout, "it's\na 'secret' $HOME|driver\nno-stdin\n");
        let prepared = prepare(&job(script, &env));
        assert!(!prepared.words.iter().any(|w| w.contains("secret")), "secrets stay out of the argument list");
    }

    #[test]
    fn bash_options_and_exit_255() {
        let (code, _, stderr) = run(&job("false | true\necho not reached", &[]));
        assert_eq!(code, 1, "pipefail and -e: {stderr}");
        let (code, _, stderr) = run(&job("exit 255", &[]));
        assert_eq!(interpret(code, &stderr), Status::Exited(255));
    }

    #[test]
    fn a_missing_working_directory_is_the_bootstrap_failing() {
        let mut j = job("pwd", &[]);
        j.cwd = Some("/nonexistent/dir");
        let (code, _, stderr) = run(&j);
        match interpret(code, &stderr) {
            Status::Failed(message) => assert!(message.contains("/nonexistent/dir does not exist"), "{message}"),
            other => panic!("{other:?}"),
        }
        let mut j = job("pwd", &[]);
        j.cwd = Some("/");
        assert_eq!(run(&j).1, "/\n");
    }

    #[test]
    fn stdin_mode_feeds_the_program() {
        let words = ["wc".to_string(), "-l".to_string()];
        let j = Job { mode: Mode::Stdin, words: &words, ..job("a\nb\nRUNBOOK-END-x\n", &[]) };
        assert_eq!(run(&j).1.trim(), "3");
    }

    #[test]
    fn closing_stdin_stops_the_step_and_what_it_started() {
        use std::io::Write;
        let marker = format!("runbook-liveness-{}", std::process::id());
        let script = format!("sleep 30 &\nsleep 31 # {marker}\n");
        let prepared = prepare(&job(&script, &[]));
        let mut child = Command::new(&prepared.words[0])
            .args(&prepared.words[1..])
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&prepared.stdin).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let started = std::time::Instant::now();
        drop(stdin);
        let status = child.wait().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "stopped in {:?}", started.elapsed());
        assert!(!status.success());
        // Nothing of the step is left: not the script, not what it started in the background
        // (the watcher itself goes after its grace period for stubborn processes).
        let group = child.id();
        let left = || -> Vec<String> {
            std::fs::read_dir("/proc")
                .unwrap()
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
                .filter(|stat| {
                    let fields: Vec<&str> =
                        stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
                    fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(group) && fields.first() != Some(&"Z")
                })
                .collect()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !left().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(left().is_empty(), "left running: {:?}", left());
    }

    #[test]
    fn quoting_survives_a_shell() {
        let words = vec!["echo".to_string(), "a b".to_string(), "it's".to_string(), "$HOME".to_string()];
        let out = Command::new("sh").arg("-c").arg(command_line(&words)).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a b it's $HOME\n");
        assert!(sentinel("RUNBOOK-END-x").starts_with("RUNBOOK-END-"));
    }
}
