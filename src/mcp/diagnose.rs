//! `run_diagnosis`: a runbook's read-only steps, run for an agent. The engine decides what
//! runs — `runbook exec --diagnose` skips every `confirm` and `manual` step and is never given
//! `--yes` — and the run is a child process with a time limit, so a step that hangs or crashes
//! cannot take the MCP session with it. Every run is archived with an `mcp` trigger naming the
//! client.

use super::args::DiagnoseArgs;
use super::error::ToolError;
use super::knowledge::find;
use super::library::Snapshot;
use super::runs::read_back;
use crate::model::step::Action;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;
use tokio_util::codec::{FramedRead, LinesCodec};
use tokio_util::sync::CancellationToken;

/// Diagnoses running at once, across all sessions of one server.
pub(super) const MAX_AT_ONCE: usize = 2;
/// How long a stopped run gets to finish its step and write its archive before it is killed.
const GRACE: Duration = Duration::from_secs(10);
/// Longest event line read from the child; longer ones (a huge output line) are skipped.
const MAX_EVENT_BYTES: usize = 1024 * 1024;
/// How much of the child's stderr is kept, from its end, to explain a failure.
const STDERR_TAIL: usize = 8 * 1024;
/// The longest client name recorded (it comes from the client).
const MAX_CLIENT_NAME: usize = 100;

/// What a diagnosis will run: checked before anything starts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Plan {
    pub runbook: String,
    pub vars: Vec<(String, String)>,
    pub kb_root: Option<PathBuf>,
    pub archives: PathBuf,
    /// Steps `--diagnose` will leave out: they ask first or need a person.
    pub not_run: Vec<String>,
}

/// Checks a `run_diagnosis` call against the KB: the runbook exists and can run, every
/// variable is one it declares, with a plain value.
pub(super) fn plan(snapshot: &Snapshot, args: DiagnoseArgs) -> Result<Plan, ToolError> {
    let kb = snapshot.kb();
    let idx = find(kb, &args.runbook)?;
    let rb = &kb[idx];
    let not_runnable = |why: String| ToolError::NotRunnable { runbook: rb.id.clone(), why };
    if rb.is_document() {
        return Err(not_runnable("is a document: it has no steps to run (`show_runbook` reads it)".into()));
    }
    if rb.has_errors() {
        return Err(not_runnable(format!(
            "has {} error{} and will not run until they are fixed (`runbook check` lists them)",
            rb.error_count(),
            if rb.error_count() == 1 { "" } else { "s" }
        )));
    }
    let body = kb.body(idx).map_err(|e| ToolError::Failed(format!("cannot read {}: {e}", rb.path)))?;
    let (asks, runs): (Vec<_>, Vec<_>) =
        body.steps.iter().partition(|s| s.confirm.is_some() || matches!(s.action, Action::Manual(_)));
    if runs.is_empty() {
        return Err(not_runnable(
            "has no read-only step: every step asks for confirmation or is for a person, so there is nothing to diagnose"
                .into(),
        ));
    }
    let mut declared: Vec<&str> = kb.config.vars.keys().chain(rb.vars.keys()).map(String::as_str).collect();
    declared.sort_unstable();
    declared.dedup();
    let vars = args
        .vars
        .into_iter()
        .map(|(name, value)| {
            if !declared.contains(&name.as_str()) {
                return Err(ToolError::UndeclaredVar {
                    runbook: rb.id.clone(),
                    hint: var_hint(&name, &declared),
                    name,
                });
            }
            Ok((name.clone(), plain(&name, value)?))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Plan {
        runbook: rb.id.clone(),
        vars,
        kb_root: kb.source.root().map(std::path::Path::to_path_buf),
        archives: snapshot.archives.clone(),
        not_run: asks.iter().map(|s| s.id.clone()).collect(),
    })
}

fn var_hint(name: &str, declared: &[&str]) -> String {
    match crate::util::text::did_you_mean(name, declared.iter().copied()) {
        Some(hint) => hint,
        None if declared.is_empty() => "it declares no variables, so pass none".into(),
        None => format!("it declares {}", declared.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")),
    }
}

/// A variable's value as `--var` takes it.
fn plain(name: &str, value: Value) -> Result<String, ToolError> {
    let found = match value {
        Value::String(text) => return Ok(text),
        Value::Number(n) => return Ok(n.to_string()),
        Value::Bool(b) => return Ok(b.to_string()),
        Value::Null => "null",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    Err(ToolError::BadVarValue { name: name.to_string(), found })
}

/// Starts diagnoses as child `runbook exec` processes, a few at a time.
pub(super) struct Diagnoser {
    /// The `runbook` binary.
    exe: PathBuf,
    timeout: Duration,
    slots: Arc<Semaphore>,
}

/// How the child ended.
enum Ending {
    Exited(std::process::ExitStatus),
    TimedOut,
    Cancelled,
}

/// What the child said on stdout that matters here.
#[derive(Default)]
struct Events {
    archive: Option<PathBuf>,
    run_id: Option<String>,
    finished: Option<Value>,
    diagnosis: Option<Value>,
}

impl Diagnoser {
    pub(super) fn new(exe: PathBuf, timeout: Duration) -> Diagnoser {
        Diagnoser { exe, timeout, slots: Arc::new(Semaphore::new(MAX_AT_ONCE)) }
    }

    /// Runs `plan` for `client`; the run is stopped when `cancel` fires (the client gave up).
    pub(super) async fn run(&self, plan: Plan, client: &str, cancel: CancellationToken) -> Result<Value, ToolError> {
        let _slot = self.slots.clone().try_acquire_owned().map_err(|_| {
            ToolError::Busy(format!(
                "{MAX_AT_ONCE} diagnoses are already running, the most at once; wait for one to finish, then call run_diagnosis again"
            ))
        })?;
        let mut child = self
            .command(&plan, client)
            .spawn()
            .map_err(|e| ToolError::Exec(format!("cannot start {}: {e}", self.exe.display())))?;
        let stop = StopOnDrop(child.id());
        let stdout = child.stdout.take().map(|out| tokio::spawn(read_events(out)));
        let stderr = child.stderr.take().map(|err| tokio::spawn(read_tail(err)));
        let ending = self.wait(&mut child, &cancel).await;
        stop.disarm();
        let events = finish(stdout).await;
        let stderr = finish(stderr).await;
        self.result(&plan, ending, events, &stderr)
    }

    fn command(&self, plan: &Plan, client: &str) -> Command {
        let client: String = client.chars().filter(|c| !c.is_control()).take(MAX_CLIENT_NAME).collect();
        let trigger = json!({"kind": "mcp", "client": client}).to_string();
        let mut command = Command::new(&self.exe);
        if let Some(root) = &plan.kb_root {
            command.arg("--kb").arg(root);
        }
        command.arg("--archives").arg(&plan.archives).args(["--color", "never", "exec", &plan.runbook]);
        command.args(["--diagnose", "--json", "--trigger", &trigger]);
        for (name, value) in &plan.vars {
            command.arg("--var").arg(format!("{name}={value}"));
        }
        // Its own process group: a Ctrl-C meant for a terminal running the MCP server is not
        // the run's; the server stops the run itself.
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
        command
    }

    /// Waits for the child, stopping it (SIGTERM, then SIGKILL after a grace period) when the
    /// time is up or the caller cancelled.
    async fn wait(&self, child: &mut Child, cancel: &CancellationToken) -> Ending {
        let ending = tokio::select! {
            status = child.wait() => match status {
                Ok(status) => return Ending::Exited(status),
                Err(_) => Ending::Cancelled,
            },
            () = tokio::time::sleep(self.timeout) => Ending::TimedOut,
            () = cancel.cancelled() => Ending::Cancelled,
        };
        // `runbook exec` stops its step, records the run as interrupted and writes the archive.
        terminate(child.id());
        if tokio::time::timeout(GRACE, child.wait()).await.is_err() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        ending
    }

    fn result(&self, plan: &Plan, ending: Ending, events: Events, stderr: &str) -> Result<Value, ToolError> {
        let note = match &ending {
            Ending::TimedOut => Some(format!(
                "stopped after {} (the server's diagnosis time limit); the steps that finished are recorded",
                crate::model::duration::Duration(self.timeout)
            )),
            Ending::Cancelled => Some("stopped because the request was cancelled".to_string()),
            Ending::Exited(_) => None,
        };
        let Some(archive) = events.archive.clone() else {
            let why = match (&ending, stderr.trim()) {
                (_, text) if !text.is_empty() => text.to_string(),
                (Ending::Exited(status), _) => format!("`runbook exec` ended ({status}) before the run started"),
                _ => note.clone().unwrap_or_default(),
            };
            return Err(ToolError::Exec(why));
        };
        let record = read_back(&archive).ok().or(events.finished.clone()).unwrap_or(Value::Null);
        Ok(summary(plan, &record, &events, note))
    }
}

/// The answer to `run_diagnosis`: verdict, diagnosis, findings and the run id, with each step
/// in a line.
fn summary(plan: &Plan, record: &Value, events: &Events, note: Option<String>) -> Value {
    let steps: Vec<Value> =
        record["steps"].as_array().map(|steps| steps.iter().map(step_line).collect()).unwrap_or_default();
    // `diagnoses` in run.json, in document order: the first is the most likely cause.
    let matched = record["diagnoses"].as_array().map(Vec::as_slice).unwrap_or_default();
    let diagnosis = matched.first().or(events.diagnosis.as_ref()).cloned().unwrap_or(Value::Null);
    let also_matched: Vec<&Value> = matched.iter().skip(1).map(|d| &d["id"]).collect();
    let run_id = record.get("run_id").cloned().or_else(|| events.run_id.clone().map(Value::String));
    let mut out = json!({
        "run_id": run_id,
        "runbook": plan.runbook,
        "verdict": record.get("verdict").or_else(|| events.finished.as_ref().and_then(|f| f.get("verdict"))),
        "diagnosis": diagnosis,
        "also_matched": also_matched,
        "findings": record.get("findings").cloned().unwrap_or_else(|| json!([])),
        "steps": steps,
        "not_run": plan.not_run,
        "next": "get_run with this run_id returns every step in full: commands, checks and output",
    });
    if let (Some(note), Value::Object(map)) = (note, &mut out) {
        map.insert("note".into(), Value::String(note));
    }
    out
}

fn step_line(step: &Value) -> Value {
    let failed_check = step["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["passed"] == false))
        .and_then(|c| c.get("message"))
        .cloned();
    json!({
        "id": step["id"],
        "name": step["name"],
        "outcome": step["outcome"],
        "why": failed_check.or_else(|| step.get("reason").cloned()),
    })
}

/// What a reader of the child's pipes found. A pipe still held open by something the child left
/// behind is not waited for long.
async fn finish<T: Default>(task: Option<tokio::task::JoinHandle<T>>) -> T {
    const PIPE_GRACE: Duration = Duration::from_secs(5);
    let Some(task) = task else { return T::default() };
    let abort = task.abort_handle();
    match tokio::time::timeout(PIPE_GRACE, task).await {
        Ok(Ok(found)) => found,
        Ok(Err(_)) => T::default(),
        Err(_) => {
            abort.abort();
            T::default()
        }
    }
}

/// Reads the child's JSON events, keeping what matters and skipping the rest (output lines).
async fn read_events(stdout: tokio::process::ChildStdout) -> Events {
    let mut events = Events::default();
    let mut lines = FramedRead::new(stdout, LinesCodec::new_with_max_length(MAX_EVENT_BYTES));
    while let Some(line) = lines.next().await {
        let line = match line {
            Ok(line) => line,
            // Too long to be an event that matters; the codec skips to the next line.
            Err(tokio_util::codec::LinesCodecError::MaxLineLengthExceeded) => continue,
            Err(tokio_util::codec::LinesCodecError::Io(_)) => break,
        };
        let Ok(event) = serde_json::from_str::<Value>(&line) else { continue };
        match event["event"].as_str() {
            Some("run_started") => {
                events.run_id = event["run_id"].as_str().map(str::to_string);
                events.archive = event["archive"].as_str().map(PathBuf::from);
            }
            Some("run_finished") => events.finished = Some(event),
            // The first is the most likely cause; the record lists the others.
            Some("diagnosis") if events.diagnosis.is_none() => events.diagnosis = Some(event),
            _ => {}
        }
    }
    events
}

/// The end of the child's stderr, as text.
async fn read_tail(mut stderr: tokio::process::ChildStderr) -> String {
    let mut tail: Vec<u8> = Vec::new();
    let mut buffer = [0u8; 8192];
    while let Ok(n) = stderr.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&buffer[..n]);
        if tail.len() > 2 * STDERR_TAIL {
            tail.drain(..tail.len() - STDERR_TAIL);
        }
    }
    let start = tail.len().saturating_sub(STDERR_TAIL);
    String::from_utf8_lossy(&tail[start..]).into_owned()
}

fn terminate(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
}

/// Stops the child if the call is dropped before it ends (the session closed, the server is
/// stopping): the run records itself as interrupted rather than running on unwatched.
struct StopOnDrop(Option<u32>);

impl StopOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        terminate(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kb, KbSource};
    use std::collections::BTreeMap;

    const RUNBOOK: &str = "---\nvars: {url: 'http://127.0.0.1:1', retries: 1}\n---\n# Check\n\n\
        ```yaml step\nid: look\nrun: echo hi\n```\n\n\
        ```yaml step\nid: fix\nrun: echo fix\nconfirm: Restart it?\n```\n\n\
        ```yaml step\nid: ask\nmanual: Look at the lights.\n```\n";

    fn snapshot(files: &[(&str, &str)]) -> (tempfile::TempDir, Snapshot) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let file = dir.path().join("runbooks").join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        let kb = Kb::load(KbSource::for_dir(dir.path().to_path_buf()));
        let archives = dir.path().join("archives");
        (dir, Snapshot { kb: Arc::new(kb), archives })
    }

    fn args(runbook: &str, vars: Value) -> DiagnoseArgs {
        let vars: BTreeMap<String, Value> = serde_json::from_value(vars).unwrap();
        DiagnoseArgs { runbook: runbook.into(), vars }
    }

    #[test]
    fn a_plan_names_what_it_leaves_out_and_passes_plain_values() {
        let (_dir, snap) = snapshot(&[("check.md", RUNBOOK)]);
        let plan = plan(&snap, args("check", json!({"url": "http://x", "retries": 3}))).unwrap();
        assert_eq!(plan.runbook, "check");
        assert_eq!(plan.not_run, vec!["fix", "ask"]);
        assert_eq!(plan.vars, vec![("retries".to_string(), "3".to_string()), ("url".into(), "http://x".into())]);
    }

    #[test]
    fn an_undeclared_variable_is_refused_with_the_right_name() {
        let (_dir, snap) = snapshot(&[("check.md", RUNBOOK)]);
        let err = plan(&snap, args("check", json!({"uri": "x"}))).unwrap_err();
        assert_eq!(err.to_string(), "`check` declares no variable `uri`: did you mean `url`?");
        let err = plan(&snap, args("check", json!({"zzz": "x"}))).unwrap_err();
        assert_eq!(err.to_string(), "`check` declares no variable `zzz`: it declares `retries`, `url`");
        let err = plan(&snap, args("check", json!({"url": ["a"]}))).unwrap_err();
        assert_eq!(err.to_string(), "variable `url` must be a string, number or boolean, not a list");
    }

    #[test]
    fn documents_broken_runbooks_and_all_confirm_runbooks_do_not_run() {
        let (_dir, snap) = snapshot(&[
            ("doc.md", "# Just text\n"),
            ("broken.md", "# B\n\n```yaml step\nid: x\nrun: true\nbogus: 1\n```\n"),
            ("asks.md", "# A\n\n```yaml step\nid: x\nrun: rm -rf /tmp/x\nconfirm: Delete?\n```\n"),
        ]);
        let why = |id: &str| plan(&snap, args(id, json!({}))).unwrap_err().to_string();
        assert!(why("doc").contains("is a document"), "{}", why("doc"));
        assert!(why("broken").contains("has 1 error and will not run"), "{}", why("broken"));
        assert!(why("asks").contains("has no read-only step"), "{}", why("asks"));
        assert!(why("nope").starts_with("no runbook `nope`"), "{}", why("nope"));
    }

    #[test]
    fn a_summary_carries_the_verdict_diagnosis_and_why_steps_failed() {
        let plan = Plan {
            runbook: "check".into(),
            vars: vec![],
            kb_root: None,
            archives: PathBuf::new(),
            not_run: vec!["fix".into()],
        };
        let record = json!({
            "run_id": "r1", "verdict": "failed", "findings": [{"step": "look"}],
            "diagnoses": [{"id": "down", "cause": "the service is down"}, {"id": "disk", "cause": "the disk is full"}],
            "steps": [{"id": "look", "name": "Look", "outcome": "failed",
                       "checks": [{"passed": true, "message": "ok"}, {"passed": false, "message": "exit 1, expected 0"}]},
                      {"id": "fix", "name": "Fix", "outcome": "skipped", "reason": "not run by --diagnose", "checks": []}],
        });
        let out = summary(&plan, &record, &Events::default(), Some("stopped".into()));
        assert_eq!(out["run_id"], "r1");
        assert_eq!(out["verdict"], "failed");
        assert_eq!(out["diagnosis"]["cause"], "the service is down", "the first match is the most likely cause");
        assert_eq!(out["also_matched"], json!(["disk"]));
        assert_eq!(out["steps"][0]["why"], "exit 1, expected 0");
        assert_eq!(out["steps"][1]["why"], "not run by --diagnose");
        assert_eq!(out["not_run"], json!(["fix"]));
        assert_eq!(out["note"], "stopped");
    }
}
