//! `runbook mcp` as an agent's MCP client drives it: one long-lived process, JSON-RPC requests
//! on its stdin and answers on its stdout. The budget is the round trip of `search_runbooks`.

use crate::measure::{Stats, of_durations};
use crate::search::queries;
use crate::{BIN, Budget, Row};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const QUERIES: usize = 1000;
const WARM_UP: usize = 50;

/// A `runbook mcp` child and its pipes.
struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Session {
    fn start(kb: &Path) -> Result<Session, String> {
        let mut child = Command::new(BIN)
            .arg("--kb")
            .arg(kb)
            .arg("mcp")
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start runbook mcp: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        Ok(Session { child, stdin, stdout, next_id: 0 })
    }

    fn send(&mut self, message: &Value) -> Result<(), String> {
        let mut line = message.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).and_then(|()| self.stdin.flush()).map_err(|e| e.to_string())
    }

    /// Sends a request and reads lines until its answer.
    fn request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        let mut line = String::new();
        loop {
            line.clear();
            if self.stdout.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err(format!("runbook mcp closed stdout while answering {method}"));
            }
            let message: Value = serde_json::from_str(&line).map_err(|e| format!("not JSON ({e}): {line}"))?;
            if message["id"] == id {
                return match message.get("error") {
                    Some(error) => Err(format!("{method}: {error}")),
                    None => Ok(message["result"].clone()),
                };
            }
        }
    }

    fn search(&mut self, query: &str) -> Result<Value, String> {
        let result =
            self.request("tools/call", json!({"name": "search_runbooks", "arguments": {"query": query, "limit": 10}}))?;
        if result["isError"] == true {
            return Err(format!("search_runbooks `{query}` failed: {}", result["content"]));
        }
        Ok(result)
    }

    /// Peak resident memory so far, KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    fn close(mut self) -> Result<(), String> {
        drop(self.stdin);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().map_err(|e| e.to_string())?.is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err("runbook mcp did not stop when its stdin closed".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

pub fn rows(kb: &Path, input: &str) -> Result<Vec<Row>, String> {
    // An index built beforehand (the search rows do), so start-up measures loading, not indexing.
    let _ = Command::new(BIN).arg("--kb").arg(kb).args(["index", "--quiet"]).status();
    eprintln!("mcp: start-up and {QUERIES} searches over stdio…");
    let started = Instant::now();
    let mut session = Session::start(kb)?;
    session.request(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}),
    )?;
    session.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;
    let first = session.search("driver")?;
    let startup = started.elapsed();
    if first["structuredContent"]["hits"].as_array().is_none_or(Vec::is_empty) {
        return Err(format!("search_runbooks found nothing for `driver`: {first}"));
    }
    let varied = queries(QUERIES + WARM_UP);
    for query in &varied[..WARM_UP] {
        session.search(query)?;
    }
    let mut walls = Vec::with_capacity(QUERIES);
    for query in &varied[WARM_UP..] {
        let asked = Instant::now();
        session.search(query)?;
        walls.push(asked.elapsed());
    }
    let rss = session.peak_rss_kib();
    session.close()?;
    let stats = Stats { max_rss_kib: rss, ..of_durations(walls) };
    Ok(vec![
        Row {
            benchmark: "`runbook mcp`: start, initialize, first `search_runbooks` answered (one process)".into(),
            input: input.into(),
            stats: Stats { median: startup, p99: startup, min: startup, max: startup, max_rss_kib: 0 },
            peer: None,
            budget: Budget::None,
        },
        Row {
            benchmark: format!(
                "`search_runbooks` over `runbook mcp` stdio ({QUERIES} varied queries, JSON-RPC round trip, snippets)"
            ),
            input: input.into(),
            stats,
            peer: None,
            budget: Budget::Wall(Duration::from_millis(5)),
        },
    ])
}
