//! `runbook cycle`: real runs with known outcomes, then the report checked against them.

use crate::test::{BIN, Test};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn kb() -> Test {
    Test::new()
        .file("runbooks/ops/disk.md", "---\ntags: [storage]\n---\n# Disk\n\n```yaml step\nid: room\nrun: |\n  echo 'disk fine: 22% used'\n```\n")
        .file(
            "runbooks/ops/gpu.md",
            "---\ntags: [gpu]\n---\n# GPU\n\n```yaml step\nid: driver\nname: NVIDIA driver answers\nrun: |\n  echo 'probing the driver'\n  echo 'NVML unavailable: no NVIDIA driver' >&2\n  exit 1\ncontinue_on_error: true\n```\n\n```yaml step\nid: disk_ok\nname: Scratch space\ndisk: {path: /, used_percent: {lt: 100}}\n```\n\n```yaml step\nid: reload\nwhen: not steps.driver.passed\nconfirm: Reload the driver?\nrun: echo reloading\n```\n",
        )
        .file("runbooks/ops/net.md", "# Net\n\n```yaml step\nid: ping\nrun: echo pong\n```\n\n```yaml step\nid: mtu\nrun: exit 1\nseverity: warning\n```\n")
        .file(
            "runbooks/arch/flaky.md",
            "# Flaky\n\n```yaml step\nid: maybe\nrun: |\n  n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count\n  [ $((n % 2)) -eq 0 ]\n```\n",
        )
}

fn runbook(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).current_dir(dir).env("NO_COLOR", "1").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the scripted cycle: disk ×2 (pass), gpu ×2 (fail), net ×1 (warning), flaky ×2 (pass, fail).
fn scripted() -> Test {
    let test = kb();
    for (id, expected) in [("disk", 0), ("gpu", 1), ("net", 0), ("flaky", 0), ("disk", 0), ("gpu", 1), ("flaky", 1)] {
        let (code, stdout, _) = runbook(test.path(), &["exec", id, "--quiet"]);
        assert_eq!(code, expected, "{id}: {stdout}");
        // Runs of one runbook in the same second get distinct folders, but keep order obvious.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    test
}

fn find<'a>(items: &'a Value, key: &str, value: &str) -> &'a Value {
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i[key] == value)
        .unwrap_or_else(|| panic!("no {key}={value} in {items:#}"))
}

#[test]
fn a_scripted_cycle_is_reported_accurately() {
    let test = scripted();
    let ran = test.args(["cycle", "--json", "--title", "GPU acceleration cycle", "--out", "report.md"]).run();
    let report = ran.json();
    let s = &report["summary"];
    assert_eq!(s["runs"], 7);
    assert_eq!(s["runbooks"], 4);
    assert_eq!(s["passed"], 3);
    assert_eq!(s["warning"], 1);
    assert_eq!(s["failed"], 3);
    assert_eq!(s["interrupted"], 0);
    assert!((s["pass_rate"].as_f64().unwrap() - 4.0 / 7.0).abs() < 1e-9);
    assert!(s["time_spent_ms"].as_u64().is_some());

    let driver = find(&report["blockers"], "step", "driver");
    assert_eq!(driver["runbook"], "gpu");
    assert_eq!(driver["occurrences"], 2);
    assert_eq!(driver["open"], true);
    assert!(driver["message"].as_str().unwrap().contains("exit code: expected 0, saw 1"), "{driver:#}");
    assert!(driver["evidence"].as_str().unwrap().contains("NVML unavailable"), "{driver:#}");
    assert_eq!(driver["runs"].as_array().unwrap().len(), 2);
    let maybe = find(&report["blockers"], "step", "maybe");
    assert_eq!(maybe["occurrences"], 1);
    assert_eq!(maybe["open"], true, "flaky's latest run failed");
    assert!(
        report["blockers"].as_array().unwrap().iter().all(|b| b["step"] != "mtu"),
        "warning steps are not blockers"
    );

    let healthy = &report["healthy"];
    assert!(find(healthy, "runbook", "disk")["checks"][0].as_str().unwrap().contains("room"));
    assert!(
        find(healthy, "runbook", "gpu")["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().contains("disk_ok")),
        "the probe that held in a failing runbook"
    );

    let readiness = &report["readiness"];
    assert_eq!(find(&readiness["runbooks"], "runbook", "disk")["status"], "ready");
    assert_eq!(find(&readiness["runbooks"], "runbook", "gpu")["status"], "blocked");
    assert_eq!(find(&readiness["runbooks"], "runbook", "net")["status"], "degraded");
    assert_eq!(find(&readiness["runbooks"], "runbook", "flaky")["status"], "blocked");
    let ops = find(&readiness["categories"], "category", "ops");
    assert_eq!(
        (ops["status"].as_str(), ops["ready"].as_u64(), ops["degraded"].as_u64(), ops["blocked"].as_u64()),
        (Some("blocked"), Some(1), Some(1), Some(1))
    );

    assert_eq!(report["changes"]["source"], "mtime");
    assert_eq!(report["changes"]["files"].as_array().unwrap().len(), 4);

    let metrics = &report["metrics"];
    assert!(metrics["time_to_first_finding_ms"].as_u64().is_some());
    assert!(metrics["mean_run_duration_ms"].as_u64().is_some());
    let flaky = find(&metrics["flaky_steps"], "step", "maybe");
    assert_eq!((flaky["passed"].as_u64(), flaky["failed"].as_u64()), (Some(1), Some(1)));

    let action = find(&report["next_actions"], "runbook", "gpu");
    assert_eq!(action["fix"][0], "runbook exec gpu --from reload");
    assert_eq!(action["verify"], "runbook exec gpu");
    let flaky_action = find(&report["next_actions"], "runbook", "flaky");
    assert!(flaky_action["note"].as_str().unwrap().contains("no remediation steps"));

    let name = report["name"].as_str().unwrap();
    assert!(name.ends_with("-gpu-acceleration-cycle"), "{name}");
    let folder = ran.path().join("archives/cycles");
    let md = std::fs::read_to_string(folder.join(format!("{name}.md"))).unwrap();
    for section in [
        "# GPU acceleration cycle",
        "## Executive summary",
        "## Critical findings and blockers",
        "## What is healthy",
        "## Readiness",
        "## What changed",
        "## Metrics",
        "## Next actions",
    ] {
        assert!(md.contains(section), "{section} missing:\n{md}");
    }
    assert!(md.contains("7 runs of 4 runbooks: 3 passed, 1 with warnings, 3 failed"), "{md}");
    assert!(md.contains("`runbook exec gpu --from reload`"));
    assert_eq!(std::fs::read_to_string(ran.path().join("report.md")).unwrap(), md);
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join(format!("{name}.json"))).unwrap()).unwrap();
    assert_eq!(on_disk, report);

    let (_, listed, _) = runbook(ran.path(), &["archive", "list", "--kind", "cycle", "--json"]);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["name"], name);
    assert_eq!(listed[0]["open_blockers"], 2);
    let (code, found, _) = runbook(ran.path(), &["search", "--json", "--kind", "cycle", "blockers"]);
    assert_eq!(code, 0, "{found}");
    assert_eq!(serde_json::from_str::<Value>(&found).unwrap()["hits"][0]["id"], name);
}

#[test]
fn filters_by_runbook_and_tag() {
    let test = scripted();
    let ran = test.args(["cycle", "--json", "--runbook", "gpu"]).run();
    assert_eq!(ran.json()["summary"]["runs"], 2);
    let (_, stdout, _) = runbook(ran.path(), &["cycle", "--json", "--tag", "storage"]);
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap()["summary"]["runs"], 2);
}

#[test]
fn an_empty_period_writes_nothing() {
    let test = scripted();
    let ran = test
        .args(["cycle", "--from", "2001-01-01", "--to", "2001-01-31"])
        .status(1)
        .stderr_has("no runs between")
        .run();
    assert!(!ran.path().join("archives/cycles").exists());
    let ran = kb().args(["cycle"]).status(1).stderr_has("nothing to report").run();
    assert!(!ran.path().join("archives/cycles").exists());
    Test::new().args(["cycle", "--since", "soon"]).status(2).stderr_has("bad --since").run();
    Test::new()
        .args(["cycle", "--from", "2026-12-01", "--to", "2026-11-01"])
        .status(2)
        .stderr_has("starts after it ends")
        .run();
}

#[test]
fn damaged_and_unfinished_runs_are_counted_not_fatal() {
    let test = scripted();
    let archives = test.path().join("archives");
    let mut runs: Vec<_> = std::fs::read_dir(&archives)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("run.json").exists())
        .collect();
    runs.sort();
    // A run killed mid-way: verdict still `running`, no end.
    let partial = &runs[0];
    let mut record: Value = serde_json::from_str(&std::fs::read_to_string(partial.join("run.json")).unwrap()).unwrap();
    record["verdict"] = "running".into();
    record.as_object_mut().unwrap().remove("finished_at");
    std::fs::write(partial.join("run.json"), serde_json::to_vec(&record).unwrap()).unwrap();
    // A record cut off by a full disk, in a folder named like a run of today.
    let name = format!("{}-gpu-damaged", jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ"));
    std::fs::create_dir_all(archives.join(&name)).unwrap();
    std::fs::write(archives.join(&name).join("run.json"), "{\"schema\": 1, \"run_id\": \"trunc").unwrap();
    let ran = test.args(["cycle", "--json"]).stderr_has("never finished").stderr_has("is unreadable").run();
    let report = ran.json();
    assert_eq!(report["summary"]["runs"], 8);
    assert_eq!(report["summary"]["unreadable"], 1);
    assert_eq!(report["summary"]["unfinished"], 1);
    assert_eq!(report["warnings"].as_array().unwrap().len(), 2);
}

#[test]
fn pruning_keeps_cycle_reports_readable() {
    let test = scripted();
    let ran = test.args(["cycle", "--json"]).run();
    let name = ran.json()["name"].as_str().unwrap().to_string();
    let (code, stdout, _) = runbook(ran.path(), &["archive", "prune", "--keep", "1", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("would delete 3 of 7 runs"), "{stdout}");
    assert_eq!(std::fs::read_dir(ran.path().join("archives")).unwrap().count(), 8, "a dry run deletes nothing");
    let (_, stdout, _) = runbook(ran.path(), &["archive", "prune", "--keep", "1"]);
    assert!(stdout.contains("deleted 3 of 7 runs"), "{stdout}");
    let (_, listed, _) = runbook(ran.path(), &["archive", "list", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&listed).unwrap().as_array().unwrap().len(), 4);
    let md = std::fs::read_to_string(ran.path().join(format!("archives/cycles/{name}.md"))).unwrap();
    assert!(md.contains("NVML unavailable"), "the evidence is quoted, not linked only");
    let (_, listed, _) = runbook(ran.path(), &["archive", "list", "--kind", "cycle", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&listed).unwrap()[0]["name"], name.as_str());
    let (_, stdout, _) = runbook(ran.path(), &["archive", "prune", "--older-than", "1h"]);
    assert!(stdout.contains("deleted 0 of 4 runs"), "{stdout}");
    Test::new().args(["archive", "prune"]).status(2).run();
}

#[test]
fn changes_come_from_git_when_the_kb_is_a_repository() {
    let test = kb();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=Ada", "-c", "user.email=ada@example.invalid"])
            .args(args)
            .current_dir(test.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "runbooks"]);
    git(&["commit", "-q", "-m", "Add the GPU runbooks"]);
    runbook(test.path(), &["exec", "disk", "--quiet"]);
    let ran = test.args(["cycle", "--json"]).run();
    let changes = &ran.json()["changes"];
    assert_eq!(changes["source"], "git");
    let gpu = find(&changes["files"], "path", "runbooks/ops/gpu.md");
    assert_eq!(gpu["author"], "Ada");
    assert_eq!(gpu["subject"], "Add the GPU runbooks");
    assert_eq!(gpu["runbook"], "gpu");
}
