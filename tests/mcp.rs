//! `runbook mcp` and `/mcp` of `runbook serve`, driven by a real MCP client: the official `mcp`
//! Python SDK, through `tests/mcp_client.py`. The client lists tools, searches, shows a runbook,
//! reads resources, runs a diagnosis and reads the run back — over stdio and over streamable
//! HTTP — and feeds every kind of bad input, which must come back as errors a model can act on
//! while the session goes on.
//!
//! Without python3 and the `mcp` package these tests skip with a reason, except when `CI` is
//! set: then they fail (`.ci/run` installs them).

use crate::site_kit::Server;
use crate::test::{BIN, unindent};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SECRET: &str = "s3cr3t-v4lue-of-the-token";

/// The runbook the agent diagnoses: a step that passes (printing a secret and a variable), one
/// that would change the system, one for a person, and one whose process crashes.
const SERVICE: &str = r#"
    ---
    summary: Checks that the frobnicator service answers on its port.
    tags: [service, network]
    vars: {greeting: hello, marker: /nonexistent/restarted}
    secrets: [MCP_TEST_TOKEN]
    ---
    # Service check

    The frobnicator listens on its port; when it does not, its process has usually crashed.

    ```yaml step
    id: look
    name: Say what we look for
    run: echo "{{ greeting }} token=$MCP_TEST_TOKEN"
    expect: {stdout: ["{{ greeting }}"]}
    ```

    ```yaml step
    id: restart
    name: Restart the frobnicator
    run: touch {{ marker | shell_quote }}
    confirm: Restart the frobnicator?
    ```

    ```yaml step
    id: rack
    manual: Look at the lights on the rack.
    ```

    ```yaml step
    id: listening
    name: The port answers
    run: kill -SEGV $$
    ```

    ```yaml diagnosis
    id: crashed
    when: steps.listening.status == "failed"
    cause: The frobnicator crashed
    fix: [restart]
    severity: critical
    ```
"#;

const NOTES: &str = "# Notes on the frobnicator\n\nIt was installed in 2019.\n";

const HANGS: &str = r#"
    # Hangs

    ```yaml step
    id: wait
    name: Waits for ever
    run: sleep 600
    ```
"#;

/// The real python3 that has the `mcp` package, or `None` (and why) on a machine without.
fn python() -> Option<&'static Path> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let probe = Command::new("python3")
            .args(["-c", "import sys, mcp, mcp.client.stdio; print(sys.executable)"])
            .output()
            .map_err(|e| format!("python3 not found ({e})"))?;
        if !probe.status.success() {
            return Err(format!("the mcp package is missing: {}", String::from_utf8_lossy(&probe.stderr).trim()));
        }
        Ok(PathBuf::from(String::from_utf8_lossy(&probe.stdout).trim()))
    });
    match found {
        Ok(path) => Some(path),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("CI is set and {why}: .ci/run installs python3 and the mcp package")
        }
        Err(why) => {
            println!("skipping the MCP test: {why} (pip install 'mcp>=2,<3')");
            None
        }
    }
}

/// A KB with the service runbook, a document, and a runbook that hangs.
fn kb() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in [
        ("runbooks/ops/service-check.md", unindent(SERVICE)),
        ("runbooks/notes.md", NOTES.to_string()),
        ("runbooks/ops/hangs.md", unindent(HANGS)),
    ] {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, text).expect("write runbook");
    }
    dir
}

/// Runs the client with `ops` against `target` (`stdio BIN ARGS…` or `http URL`); returns one
/// result per operation.
fn session(python: &Path, dir: &Path, mode: &str, target: &[&str], ops: &Value) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_client.py");
    let mut child = Command::new(python)
        .arg(script)
        .args(["--mode", mode])
        .args(target)
        .current_dir(dir)
        .env_remove("RUNBOOK_KB")
        .env_remove("RUNBOOK_ARCHIVES")
        .env("NO_COLOR", "1")
        .env("XDG_STATE_HOME", dir.join(".state"))
        .env("MCP_TEST_TOKEN", SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the MCP client");
    child.stdin.take().expect("stdin").write_all(ops.to_string().as_bytes()).expect("send the operations");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().expect("wait for the client").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the MCP client hung; its stderr:\n{}", errors.join().unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = reader.join().unwrap_or_default();
    let err = errors.join().unwrap_or_default();
    let results: Vec<Value> = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("the client printed no results ({e}):\n{out}\n--- stderr:\n{err}"));
    for (op, result) in ops.as_array().expect("ops").iter().zip(&results) {
        assert!(result.get("exception").is_none(), "{op} raised {result}\n--- stderr:\n{err}");
    }
    assert!(!out.contains(SECRET), "a secret reached the client:\n{out}");
    results
}

fn stdio(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut target = vec!["stdio".to_string(), BIN.to_string(), "--kb".into(), dir.display().to_string(), "mcp".into()];
    target.extend(extra.iter().map(|s| s.to_string()));
    target
}

fn ok(result: &Value) -> &Value {
    result.get("ok").unwrap_or_else(|| panic!("expected a result, got {result}"))
}

/// The structured content of a tool call that worked.
fn answer(result: &Value) -> &Value {
    let call = ok(result);
    assert_eq!(call["is_error"], false, "the call failed: {}", call["text"]);
    &call["structured"]
}

/// The text of a tool call that failed as a tool error.
fn tool_error(result: &Value) -> String {
    let call = ok(result);
    assert_eq!(call["is_error"], true, "expected a tool error, got {call}");
    call["text"].as_str().unwrap_or_default().to_string()
}

/// The run just made, found by a word only its output holds.
static ARCHIVE_SEARCH: std::sync::LazyLock<Value> = std::sync::LazyLock::new(
    || json!({"op": "call", "tool": "search_runbooks", "args": {"query": "bonjour", "kind": "archive"}}),
);

fn diagnosis_ops(marker: &Path) -> Value {
    json!([
        {"op": "tools"},
        {"op": "call", "tool": "search_runbooks", "args": {"query": "frobnicator port"}},
        {"op": "call", "tool": "show_runbook", "args": {"id": "service-check"}},
        {"op": "resources"},
        {"op": "templates"},
        {"op": "read", "uri": "runbook://service-check"},
        {"op": "call", "tool": "run_diagnosis", "save": "run",
         "args": {"runbook": "service-check", "vars": {"greeting": "bonjour", "marker": marker.display().to_string()}}},
        {"op": "call", "tool": "get_run", "args": {"run_id": "@run.run_id"}},
        {"op": "call", "tool": "list_runs", "args": {"runbook": "service-check"}},
        ARCHIVE_SEARCH.clone(),
    ])
}

/// What every transport must get the same: the tools, the knowledge base, a diagnosis and its
/// record.
fn assert_round_trip(dir: &Path, results: &[Value], marker: &Path) {
    let tools = ok(&results[0]).as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["get_run", "list_runs", "run_diagnosis", "search_runbooks", "show_runbook"]);
    for tool in tools {
        assert!(tool["description"].as_str().is_some_and(|d| d.len() > 200), "{tool}");
        let properties = tool["input_schema"]["properties"].as_object().expect("properties");
        for (name, schema) in properties {
            assert!(schema["description"].is_string(), "argument {name} of {} has no description", tool["name"]);
        }
    }

    let hits = &answer(&results[1])["hits"];
    assert_eq!(hits[0]["id"], "service-check", "{hits}");
    assert!(hits[0]["snippet"].as_str().unwrap_or_default().contains("<mark>"), "{hits}");

    let shown = answer(&results[2]);
    assert_eq!(shown["runbook"]["id"], "service-check");
    assert_eq!(shown["runbook"]["vars"]["greeting"], "hello");
    assert_eq!(shown["runbook"]["steps"][1]["confirm"], "Restart the frobnicator?");
    assert!(shown["markdown"].as_str().unwrap_or_default().starts_with("---\nsummary: Checks"), "{shown}");

    let resources = &ok(&results[3])["resources"];
    let uris: Vec<&str> = resources.as_array().expect("resources").iter().filter_map(|r| r["uri"].as_str()).collect();
    assert_eq!(uris.len(), 3, "{resources}");
    for uri in ["runbook://service-check", "runbook://notes", "runbook://hangs"] {
        assert!(uris.contains(&uri), "{uri} not in {uris:?}");
    }
    assert!(resources.as_array().expect("resources").iter().all(|r| r["mime_type"] == "text/markdown"));
    assert_eq!(ok(&results[4])[0]["uri_template"], "runbook://{id}");
    let read = &ok(&results[5])[0];
    let file = std::fs::read_to_string(dir.join("runbooks/ops/service-check.md")).expect("read the runbook");
    assert_eq!(read["text"].as_str(), Some(file.as_str()));

    let run = answer(&results[6]);
    assert_eq!(run["verdict"], "failed", "{run}");
    assert_eq!(run["runbook"], "service-check");
    let outcomes: Vec<(&str, &str)> = run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| (s["id"].as_str().unwrap_or_default(), s["outcome"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(outcomes, [("look", "passed"), ("restart", "skipped"), ("rack", "skipped"), ("listening", "failed")]);
    assert_eq!(run["not_run"], json!(["restart", "rack"]));
    assert_eq!(run["diagnosis"]["id"], "crashed", "{run}");
    assert_eq!(run["diagnosis"]["cause"], "The frobnicator crashed", "{run}");
    assert!(!run["findings"].as_array().expect("findings").is_empty(), "{run}");
    assert!(!marker.exists(), "run_diagnosis ran a confirm step");

    let record = answer(&results[7]);
    assert_eq!(record["run_id"], run["run_id"]);
    assert_eq!(record["trigger"], json!({"kind": "mcp", "client": "runbook-tests"}));
    assert_eq!(record["options"]["diagnose"], true);
    assert_eq!(record["options"]["yes"], false);
    let look = &record["steps"][0];
    assert_eq!(look["stdout_tail"].as_str().map(str::trim), Some("bonjour token=****"), "{look}");
    assert!(Path::new(record["folder"].as_str().unwrap_or_default()).join("run.json").is_file());

    let runs = answer(&results[8]);
    assert_eq!(runs["total"], 1, "{runs}");
    assert_eq!(runs["runs"][0]["trigger"]["client"], "runbook-tests");
}

fn found_the_run(result: &Value) -> bool {
    answer(result)["hits"][0]["kind"] == "archive"
}

#[test]
fn mcp_round_trip_over_stdio() {
    let Some(python) = python() else { return };
    let dir = kb();
    let marker = dir.path().join("restarted");
    let target = stdio(dir.path(), &["--allow-diagnosis"]);
    let target: Vec<&str> = target.iter().map(String::as_str).collect();
    // `legacy`: the initialize handshake names the client.
    let results = session(python, dir.path(), "legacy", &target, &diagnosis_ops(&marker));
    assert_round_trip(dir.path(), &results, &marker);
    // `runbook mcp` reloads before the next call after a run of its own.
    assert!(found_the_run(&results[9]), "the new run is not searchable: {}", results[9]);
}

#[test]
fn mcp_round_trip_over_http_on_serve() {
    let Some(python) = python() else { return };
    let dir = kb();
    let marker = dir.path().join("restarted");
    let server = Server::start_with_env(
        dir.path(),
        &["--addr", "127.0.0.1:0", "--allow-diagnosis"],
        &[("MCP_TEST_TOKEN", SECRET)],
    );
    let url = format!("{}/mcp", server.base);
    // `auto`: the current protocol, where every request names the client in its metadata.
    let results = session(python, dir.path(), "auto", &["http", &url], &diagnosis_ops(&marker));
    assert_round_trip(dir.path(), &results, &marker);
    // `serve` picks the new run up when its watcher sees the archive.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = results[9].clone();
    while !found_the_run(&last) {
        assert!(Instant::now() < deadline, "the new run never became searchable: {last}");
        std::thread::sleep(Duration::from_millis(300));
        last = session(python, dir.path(), "auto", &["http", &url], &json!([*ARCHIVE_SEARCH])).remove(0);
    }

    let (status, _) = post(&server.addr, "/mcp", &[("Origin", "http://evil.example")]);
    assert_eq!(status, 403, "a request from a web page must be refused");
    server.stop();

    let plain = Server::start(dir.path());
    let url = format!("{}/mcp", plain.base);
    let results = session(python, dir.path(), "auto", &["http", &url], &json!([{"op": "tools"}]));
    let names: Vec<&str> =
        ok(&results[0]).as_array().expect("tools").iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(!names.contains(&"run_diagnosis"), "serve without --allow-diagnosis offers {names:?}");
}

/// A bare JSON-RPC POST, for what an MCP client would never send.
fn post(addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, response)
}

#[test]
fn mcp_without_allow_diagnosis_does_not_offer_run_diagnosis() {
    let Some(python) = python() else { return };
    let dir = kb();
    let target = stdio(dir.path(), &[]);
    let target: Vec<&str> = target.iter().map(String::as_str).collect();
    let ops = json!([
        {"op": "tools"},
        {"op": "call", "tool": "run_diagnosis", "args": {"runbook": "service-check"}},
        {"op": "call", "tool": "list_runs", "args": {}},
    ]);
    let results = session(python, dir.path(), "auto", &target, &ops);
    let names: Vec<&str> =
        ok(&results[0]).as_array().expect("tools").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["get_run", "list_runs", "search_runbooks", "show_runbook"]);
    let refused = &results[1]["error"];
    assert_eq!(refused["code"], -32602, "{}", results[1]);
    assert!(refused["message"].as_str().unwrap_or_default().contains("started without --allow-diagnosis"), "{refused}");
    assert_eq!(answer(&results[2])["total"], 0);
    assert!(!dir.path().join("archives").exists(), "something ran");
}

#[test]
fn mcp_bad_input_gets_errors_a_model_can_act_on() {
    let Some(python) = python() else { return };
    let dir = kb();
    let target = stdio(dir.path(), &["--allow-diagnosis"]);
    let target: Vec<&str> = target.iter().map(String::as_str).collect();
    let ops = json!([
        {"op": "call", "tool": "serch_runbooks", "args": {"query": "x"}},
        {"op": "call", "tool": "show_runbook", "args": {"id": "service-chek"}},
        {"op": "call", "tool": "search_runbooks", "args": {"query": 42}},
        {"op": "call", "tool": "search_runbooks", "args": {"query": "x", "limit": "ten"}},
        {"op": "call", "tool": "search_runbooks", "args": {"qurey": "x"}},
        {"op": "call", "tool": "search_runbooks", "args": {"query": "x", "limit": 5000}},
        {"op": "call", "tool": "run_diagnosis", "args": {"runbook": "service-check", "vars": {"greting": "x"}}},
        {"op": "call", "tool": "run_diagnosis", "args": {"runbook": "service-check", "vars": {"greeting": {"a": 1}}}},
        {"op": "call", "tool": "run_diagnosis", "args": {"runbook": "notes"}},
        {"op": "call", "tool": "get_run", "args": {"run_id": "20990101T000000Z-nope"}},
        {"op": "call", "tool": "show_runbook", "args": {}},
        {"op": "read", "uri": "runbook://nope"},
        {"op": "read", "uri": "file:///etc/passwd"},
        {"op": "call", "tool": "search_runbooks", "args": {"query": "frobnicator port"}},
    ]);
    let results = session(python, dir.path(), "legacy", &target, &ops);
    let unknown = results[0]["error"]["message"].as_str().unwrap_or_default();
    assert!(unknown.contains("unknown tool `serch_runbooks`: did you mean `search_runbooks`?"), "{}", results[0]);
    let says = |i: usize, text: &str| {
        let error = tool_error(&results[i]);
        assert!(error.contains(text), "result {i}: {error:?} lacks {text:?}");
    };
    says(1, "no runbook `service-chek`: did you mean `service-check`?");
    says(2, "`query`: invalid type: integer `42`, expected a string");
    says(3, "`limit`: invalid type: string \"ten\"");
    says(4, "unknown field `qurey`, expected one of `query`, `tag`, `kind`, `limit`");
    says(5, "`limit` must be 1 to 50, not 5000");
    says(6, "`service-check` declares no variable `greting`: did you mean `greeting`?");
    says(7, "variable `greeting` must be a string, number or boolean, not an object");
    says(8, "`notes` is a document: it has no steps to run");
    says(9, "no run `20990101T000000Z-nope`");
    says(10, "missing field `id`");
    for (i, text) in [(11, "no runbook `nope`"), (12, "runbook URIs look like `runbook://ID`")] {
        let message = results[i]["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(text), "result {i}: {}", results[i]);
    }
    // The session is still there after all of it.
    assert_eq!(answer(&results[13])["hits"][0]["id"], "service-check");
    assert!(!dir.path().join("archives").exists(), "bad input ran something");
}

#[test]
fn mcp_sees_a_runbook_written_while_the_session_is_open() {
    let Some(python) = python() else { return };
    let dir = kb();
    let target = stdio(dir.path(), &[]);
    let target: Vec<&str> = target.iter().map(String::as_str).collect();
    let search = json!({"query": "zebracorn"});
    let ops = json!([
        {"op": "call", "tool": "search_runbooks", "args": search},
        {"op": "write", "path": "runbooks/zebra.md", "text": "# Zebracorn stripes\n\nCounted daily.\n"},
        {"op": "call", "tool": "search_runbooks", "args": search, "until_hits": 20},
        {"op": "read", "uri": "runbook://zebra"},
    ]);
    let results = session(python, dir.path(), "auto", &target, &ops);
    assert_eq!(answer(&results[0])["hits"], json!([]));
    assert_eq!(answer(&results[2])["hits"][0]["id"], "zebra", "{}", results[2]);
    assert_eq!(ok(&results[3])[0]["text"], "# Zebracorn stripes\n\nCounted daily.\n");
}

#[test]
fn mcp_diagnosis_that_hangs_is_stopped_at_the_time_limit() {
    let Some(python) = python() else { return };
    let dir = kb();
    let target = stdio(dir.path(), &["--allow-diagnosis", "--diagnosis-timeout", "2s"]);
    let target: Vec<&str> = target.iter().map(String::as_str).collect();
    let ops = json!([
        {"op": "call", "tool": "run_diagnosis", "args": {"runbook": "hangs"}},
        {"op": "call", "tool": "search_runbooks", "args": {"query": "frobnicator port"}},
    ]);
    let started = Instant::now();
    let results = session(python, dir.path(), "auto", &target, &ops);
    let run = answer(&results[0]);
    assert_eq!(run["verdict"], "interrupted", "{run}");
    assert!(
        run["note"].as_str().unwrap_or_default().starts_with("stopped after 2s (the server's diagnosis time limit)"),
        "{run}"
    );
    assert_eq!(run["steps"][0]["outcome"], "interrupted", "{run}");
    assert!(started.elapsed() < Duration::from_secs(60), "the time limit did not stop the run");
    assert_eq!(answer(&results[1])["hits"][0]["id"], "service-check", "the session did not survive");
    let ps = Command::new("ps").args(["-eo", "args"]).output().expect("ps");
    assert!(!String::from_utf8_lossy(&ps.stdout).lines().any(|l| l.trim() == "sleep 600"), "the step outlived its run");
}
