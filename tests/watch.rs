//! `runbook watch`, `runbook alerts` and `runbook dashboard`: scheduled checks and their metrics,
//! checked by the real promtool.

use std::path::Path;
use std::process::{Command, Stdio};

/// `promtool check metrics` on `text`: fails the test with promtool's words when it objects.
pub fn promtool_check_metrics(promtool: &Path, text: &str) {
    use std::io::Write;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("feed promtool");
    let output = child.wait_with_output().expect("promtool");
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n--- metrics:\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

use crate::site_kit::{eventually, get};
use crate::test::{Test, real_tool};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::Child;
use std::time::{Duration, Instant};

/// Two GPUs, as the gpu probe reads them from `RUNBOOK_GPU_INVENTORY`.
const GPUS: &str = r#"{"driver_version": "575.57.08", "cuda_version": "12.9", "gpus": [
  {"index": 0, "name": "NVIDIA H100", "memory_total": 85899345920, "memory_used": 42949672960,
   "utilization_percent": 98, "temperature_c": 71, "power_w": 350.0, "compute_capability": "9.0"},
  {"index": 1, "name": "NVIDIA H100", "memory_total": 85899345920, "memory_used": 1073741824,
   "utilization_percent": 0, "temperature_c": 40, "compute_capability": "9.0"}]}"#;

/// A watched runbook: disk and GPU probes, and a check that fails while `$HOME/broken` exists.
const WATCHED: &str = r#"---
id: node
watch: {every: 1s, steps: [space, gpus, flag], fail_after: 2}
vars: {path: "."}
---
# Node

```yaml step
id: space
name: "{{ path }} has room"
disk: {path: "{{ path }}", used_percent: {le: 100}}
```

```yaml step
id: gpus
gpu: {count: {ge: 1}}
```

```yaml step
id: flag
run: test ! -e "$HOME/broken"
```

```yaml step
id: repair
confirm: Repair?
run: rm -f "$HOME/broken"
```
"#;

fn watched_kb() -> Test {
    Test::new().file("runbooks/node.md", WATCHED).file("gpus.json", GPUS).dir("textfile")
}

/// `runbook watch` on `dir`, killed when dropped.
struct Watch {
    child: Child,
    addr: String,
}

impl Watch {
    fn start(dir: &Path, args: &[&str]) -> Watch {
        let mut child = Command::new(crate::test::BIN)
            .arg("--kb")
            .arg(dir)
            .arg("watch")
            .args(["--listen", "127.0.0.1:0", "--jitter", "0"])
            .args(args)
            .current_dir(dir)
            .env("HOME", dir)
            .env("XDG_STATE_HOME", dir.join(".state"))
            .env("RUNBOOK_GPU_INVENTORY", dir.join("gpus.json"))
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start runbook watch");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the listening line");
        let addr = line.trim().trim_start_matches("listening on http://").trim_end_matches('/').to_string();
        assert!(addr.starts_with("127.0.0.1:"), "{line:?}");
        Watch { child, addr }
    }

    fn checks(&self) -> Vec<Value> {
        get(&self.addr, "/api/checks").json()["checks"].as_array().cloned().unwrap_or_default()
    }

    fn wait_for_rounds(&self, rounds: u64) {
        let done = eventually(Duration::from_secs(30), || {
            self.checks()
                .iter()
                .all(|c| c["runs_passed"].as_u64().unwrap_or(0) + c["runs_failed"].as_u64().unwrap_or(0) >= rounds)
        });
        assert!(done, "watch did not run {rounds} rounds: {:?}", self.checks());
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn archived(dir: &Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(dir.join("archives")) else { return Vec::new() };
    let mut runs: Vec<(String, Value)> = entries
        .flatten()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("run.json")).ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), serde_json::from_str(&text).ok()?))
        })
        .collect();
    runs.sort_by(|a, b| a.0.cmp(&b.0));
    runs.into_iter().map(|(_, v)| v).collect()
}

/// Metric names of an exposition (without label sets and `_total`-style suffixes kept).
fn metric_names(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next().map(str::to_string))
        .collect()
}

#[test]
fn watch_metrics_hold_checks_and_probe_gauges_and_pass_promtool() {
    let dir = watched_kb().run_dir();
    let watch = Watch::start(dir.path(), &[]);
    watch.wait_for_rounds(1);
    let metrics = get(&watch.addr, "/metrics");
    assert_eq!(metrics.status, 200);
    let text = metrics.body;
    for line in [
        "runbook_watch_check_success{runbook=\"node\",step=\"space\"} 1.0",
        "runbook_watch_check_success{runbook=\"node\",step=\"gpus\"} 1.0",
        "runbook_watch_check_interval_seconds{runbook=\"node\",step=\"flag\"} 1.0",
        "runbook_gpu_devices{runbook=\"node\",step=\"gpus\"} 2.0",
        "runbook_gpu_utilization_percent{runbook=\"node\",step=\"gpus\",gpu=\"0\",name=\"NVIDIA H100\"} 98.0",
        "runbook_gpu_memory_used_bytes{runbook=\"node\",step=\"gpus\",gpu=\"0\",name=\"NVIDIA H100\"} 42949672960.0",
        "runbook_gpu_memory_total_bytes{runbook=\"node\",step=\"gpus\",gpu=\"1\",name=\"NVIDIA H100\"} 85899345920.0",
        "runbook_gpu_temperature_celsius{runbook=\"node\",step=\"gpus\",gpu=\"1\",name=\"NVIDIA H100\"} 40.0",
        "runbook_gpu_driver_info{runbook=\"node\",step=\"gpus\",cuda_version=\"12.9\",driver_version=\"575.57.08\"} 1.0",
    ] {
        assert!(text.contains(&format!("{line}\n")), "missing {line:?} in\n{text}");
    }
    // The disk gauges hold what df would say about the same filesystem.
    let used = text
        .lines()
        .find(|l| l.starts_with("runbook_disk_used_percent{runbook=\"node\",step=\"space\",path="))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no disk gauge in\n{text}"));
    let df = Command::new("df").args(["--output=pcent", "."]).current_dir(dir.path()).output().unwrap();
    let df: f64 =
        String::from_utf8_lossy(&df.stdout).lines().nth(1).unwrap().trim().trim_end_matches('%').parse().unwrap();
    assert!((used - df).abs() <= 1.0, "gauge {used}% vs df {df}%");
    for name in ["runbook_disk_avail_bytes", "runbook_disk_inodes_free", "runbook_disk_inodes_used_percent"] {
        assert!(text.contains(&format!("\n{name}{{")), "{name} missing");
    }
    // Every metric the dashboard queries is one watch serves.
    let dashboard = Test::new().args(["dashboard"]).run().json();
    let served = metric_names(&text);
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in
                expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("runbook_"))
            {
                assert!(served.iter().any(|s| s == word), "the dashboard reads {word}, which watch does not serve");
            }
        }
    }
    if let Some(promtool) = real_tool(&["promtool"]) {
        promtool_check_metrics(&promtool, &text);
    }
}

#[test]
fn healthz_names_failing_checks_and_only_state_changes_are_archived() {
    let dir = watched_kb().run_dir();
    let watch = Watch::start(dir.path(), &[]);
    watch.wait_for_rounds(1);
    assert_eq!(get(&watch.addr, "/healthz").status, 200);
    assert!(archived(dir.path()).is_empty(), "passing rounds are not archived");
    std::fs::write(dir.path().join("broken"), "").unwrap();
    assert!(eventually(Duration::from_secs(20), || get(&watch.addr, "/healthz").status == 503));
    let health = get(&watch.addr, "/healthz").body;
    assert!(health.contains("node/flag: exit code: expected 0, saw 1"), "{health}");
    assert!(!health.contains("node/space"), "{health}");
    // Two more failing rounds with the same failure: nothing new to archive.
    let runs = watch.checks().iter().find(|c| c["step"] == "flag").unwrap()["runs_failed"].as_u64().unwrap();
    watch.wait_for_rounds(runs + 3);
    std::fs::remove_file(dir.path().join("broken")).unwrap();
    assert!(eventually(Duration::from_secs(20), || get(&watch.addr, "/healthz").status == 200));
    let archives = archived(dir.path());
    assert_eq!(archives.len(), 3, "first failure, failing (2 in a row), recovery: {archives:#?}");
    assert!(archives.iter().all(|r| r["trigger"]["kind"] == "watch" && r["options"]["diagnose"] == true));
    let repair = archives[0]["steps"].as_array().unwrap().iter().find(|s| s["id"] == "repair").unwrap();
    assert_eq!(repair["outcome"], "skipped", "watch never runs a step that changes the system");
    assert_eq!(archives[2]["verdict"], "passed");
}

#[test]
fn textfile_dir_gets_the_metrics_for_node_exporter() {
    let dir = watched_kb().run_dir();
    let watch = Watch::start(dir.path(), &["--textfile-dir", "textfile"]);
    watch.wait_for_rounds(2);
    let written: Vec<String> = std::fs::read_dir(dir.path().join("textfile"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written, ["runbook_watch.prom"], "one file, no temporary left behind");
    let text = std::fs::read_to_string(dir.path().join("textfile/runbook_watch.prom")).unwrap();
    assert!(text.contains("runbook_watch_check_success{runbook=\"node\",step=\"flag\"} 1.0"), "{text}");
    if let Some(promtool) = real_tool(&["promtool"]) {
        promtool_check_metrics(&promtool, &text);
    }
}

#[test]
fn rounds_never_overlap_and_a_round_past_its_timeout_is_stopped() {
    let slow = "---\nid: slow\nwatch: {every: 1s, timeout: 3s}\n---\n# Slow\n\n```yaml step\nid: work\nrun: |\n  echo start >> \"$HOME/log\"\n  sleep 1.5\n  echo end >> \"$HOME/log\"\n```\n";
    let dir = Test::new().file("runbooks/slow.md", slow).run_dir();
    let watch = Watch::start(dir.path(), &[]);
    watch.wait_for_rounds(3);
    drop(watch);
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    for pair in lines.chunks(2) {
        assert!(pair[0] == "start" && pair.get(1).is_none_or(|l| *l == "end"), "rounds overlapped:\n{log}");
    }
    let hung =
        "---\nid: hung\nwatch: {every: 1m, timeout: 1s}\n---\n# Hung\n\n```yaml step\nid: stuck\nrun: sleep 60\n```\n";
    let started = Instant::now();
    let ran = Test::new().file("runbooks/hung.md", hung).args(["watch", "--once"]).status(1).run();
    assert!(started.elapsed() < Duration::from_secs(20), "the round was not stopped");
    assert!(
        ran.stdout.contains("hung/stuck") && ran.stdout.contains("stopped: the round took longer than 1s"),
        "{}",
        ran.stdout
    );
}

#[test]
fn watch_refuses_what_it_cannot_run() {
    let bad = "---\nid: bad\nwatch: {every: 1m, steps: [fix, nothing]}\n---\n# Bad\n\n```yaml step\nid: fix\nconfirm: Fix?\nrun: \"true\"\n```\n";
    let ran = Test::new().file("runbooks/bad.md", bad).args(["check"]).status(1).run();
    assert!(
        ran.stdout.contains("`watch.steps` names `fix`, which cannot run on a schedule: it changes the system"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("`watch.steps` names `nothing`, which is no step of this runbook"), "{}", ran.stdout);
    assert!(ran.stdout.contains("runbooks/bad.md:3:1"), "points at the watch line: {}", ran.stdout);
    let unknown_key =
        "---\nid: typo\nwatch: {every: 1m, step: [a]}\n---\n# T\n\n```yaml step\nid: a\nrun: \"true\"\n```\n";
    Test::new()
        .file("runbooks/typo.md", unknown_key)
        .args(["check"])
        .status(1)
        .stdout_has("unknown key `step`")
        .stdout_has("did you mean `steps`?")
        .run();
    let plain = "# Plain\n\n```yaml step\nid: a\nrun: \"true\"\n```\n";
    Test::new()
        .file("runbooks/plain.md", plain)
        .args(["watch", "plain", "--once"])
        .status(2)
        .stderr_has("pass --every")
        .run();
    Test::new().file("runbooks/plain.md", plain).args(["watch", "plain", "--once", "--every", "1m"]).run();
    Test::new()
        .file("runbooks/plain.md", plain)
        .args(["watch", "--once"])
        .status(2)
        .stderr_has("no runbook has `watch:`")
        .run();
}

#[test]
fn alert_rules_of_the_shipped_kb_pass_promtool_and_the_disk_rule_fires() {
    let Some(promtool) = real_tool(&["promtool"]) else { return };
    let ran = Test::new().args(["alerts", "--base-url", "https://kb.example/"]).run();
    let dir = ran.dir;
    std::fs::write(dir.path().join("rules.yml"), &ran.stdout).unwrap();
    let check = Command::new(&promtool).args(["check", "rules", "rules.yml"]).current_dir(dir.path()).output().unwrap();
    assert!(
        check.status.success(),
        "{}{}\n{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr),
        ran.stdout
    );
    assert!(ran.stdout.contains("runbook_url: https://kb.example/runbooks/storage-crisis/"), "{}", ran.stdout);
    // The disk check of storage-crisis fails from the third minute: the rule fires with the
    // runbook's labels (its `path` variable among them) and points at the runbook.
    let test = r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'runbook_watch_check_failing{runbook="storage-crisis",step="disk_usage",instance="gpu01:9096",job="runbook"}'
        values: '0 0 1 1 1 1'
      - series: 'runbook_watch_check_failing{runbook="storage-crisis",step="inodes",instance="gpu01:9096",job="runbook"}'
        values: '0 0 0 0 0 0'
    alert_rule_test:
      - eval_time: 1m
        alertname: StorageCrisisCheckFailing
        exp_alerts: []
      - eval_time: 3m
        alertname: StorageCrisisCheckFailing
        exp_alerts:
          - exp_labels:
              severity: critical
              runbook: storage-crisis
              step: disk_usage
              path: /
              max_used_percent: "90"
              min_free: 20GiB
              team: platform-team
              instance: gpu01:9096
              job: runbook
            exp_annotations:
              summary: "Storage crisis — full disk pushes LLM services onto the CPU: check disk_usage is failing on gpu01:9096"
              description: "/ has free space failed 1 round(s) in a row. Diagnose with: runbook exec storage-crisis --diagnose"
              runbook_url: https://kb.example/runbooks/storage-crisis/
"#;
    std::fs::write(dir.path().join("test.yml"), test).unwrap();
    let tested = Command::new(&promtool).args(["test", "rules", "test.yml"]).current_dir(dir.path()).output().unwrap();
    assert!(
        tested.status.success(),
        "promtool test rules failed:\n{}{}\n--- rules:\n{}",
        String::from_utf8_lossy(&tested.stdout),
        String::from_utf8_lossy(&tested.stderr),
        ran.stdout
    );
}

#[test]
fn the_dashboard_opens_with_gpu_panels_then_disk() {
    let dashboard = Test::new().args(["dashboard", "--title", "Fleet"]).run().json();
    assert_eq!(dashboard["title"], "Fleet");
    let titles: Vec<&str> =
        dashboard["panels"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap()).collect();
    let first_disk = titles.iter().position(|t| t.starts_with("Disk")).unwrap();
    assert!(titles[..first_disk].iter().all(|t| t.starts_with("GPU")), "{titles:?}");
    assert!(titles[first_disk..].iter().all(|t| !t.starts_with("GPU")), "{titles:?}");
    let mut cells = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let g = &panel["gridPos"];
        let cell = (g["x"].as_u64().unwrap(), g["y"].as_u64().unwrap());
        assert!(cells.insert(cell), "two panels at {cell:?}");
        assert!(!panel["targets"].as_array().unwrap().is_empty());
        assert_eq!(panel["datasource"]["uid"], "${datasource}");
    }
}
