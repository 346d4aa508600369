//! Snapshots of the user-facing output of `show`, `check`, `exec` (terminal and `--json`),
//! `search` and `archive show`, on a small KB written here, with the clock, host and user pinned
//! (`Test::pinned`). The snapshots are committed under tests/snapshots/; with `CI` set a missing
//! or changed one fails the test.

use crate::test::Test;

const DISK_FULL: &str = r#"
---
id: disk-full
title: Disk is full
aliases: [df]
summary: Find what fills the disk and make room.
tags: [storage, disk]
category: operations
owner: sre
vars: {mount: /srv, threshold: 90}
---

# Disk is full

When a filesystem fills, writes fail and services stop. See [the storage notes](../architecture/storage.md).

## Check

```yaml step
id: usage
name: Usage of the mount
run: echo "{{ mount }} 97%"
capture: {used: '(\d+)%'}
assert: ["used | int < threshold"]
```

```yaml step
id: inodes
name: Inodes left
run: echo inodes free 1200
expect: {stdout: ["inodes free"]}
severity: warning
```

## Make room

```yaml step
id: logs
name: Old logs
when: not steps.usage.passed
run: echo "would remove 3 files under {{ mount }}/log"
```

```yaml step
id: rotate
name: Rotate now
confirm: Rotate the logs of every service on {{ mount }}?
run: echo rotated
```
"#;

const STORAGE: &str = r#"
# Storage notes

Volumes live under /srv. When one fills up, follow [disk full](../operations/disk-full.md#check).

## Quotas

Each service has a quota of 50 GiB on its volume.
"#;

const BROKEN: &str =
    "# Broken\n\n```yaml step\nid: wait\nrun: sleep 1\ntimeout: forever\n```\n\n[gone](gone.md)\n\n```sh\nunclosed\n";

fn kb() -> Test {
    Test::new()
        .file("runbooks/operations/disk-full.md", DISK_FULL)
        .file("runbooks/architecture/storage.md", STORAGE)
        .pinned()
}

#[test]
fn show_a_runbook() {
    kb().args(["show", "disk-full"]).stdout_snapshot("show_runbook").run();
}

#[test]
fn show_a_document() {
    kb().args(["show", "storage"]).stdout_snapshot("show_document").run();
}

#[test]
fn show_a_runbook_as_json() {
    kb().args(["show", "df", "--json"]).stdout_snapshot("show_runbook_json").run();
}

#[test]
fn check_a_clean_kb() {
    kb().args(["check"]).stdout_snapshot("check_clean").run();
}

#[test]
fn check_a_broken_runbook() {
    kb().file("runbooks/operations/broken.md", BROKEN).args(["check"]).status(1).stdout_snapshot("check_broken").run();
}

#[test]
fn check_a_broken_runbook_as_json() {
    kb().file("runbooks/operations/broken.md", BROKEN)
        .args(["check", "--json"])
        .status(1)
        .stdout_snapshot("check_broken_json")
        .run();
}

#[test]
fn exec_in_the_terminal() {
    kb().args(["exec", "disk-full"]).status(1).stdout_snapshot("exec_terminal").run();
}

#[test]
fn exec_as_json_events() {
    kb().args(["exec", "disk-full", "--json"]).status(1).stdout_snapshot("exec_json").run();
}

#[test]
fn exec_with_a_var_that_passes() {
    kb().args(["exec", "disk-full", "--var", "threshold=99", "--yes"]).stdout_snapshot("exec_terminal_passed").run();
}

#[test]
fn exec_refuses_a_broken_runbook() {
    kb().file("runbooks/operations/broken.md", BROKEN)
        .args(["exec", "broken"])
        .status(2)
        .stdout("")
        .stderr_snapshot("exec_refused")
        .run();
}

#[test]
fn search_in_the_terminal() {
    kb().args(["search", "fills"]).stdout_snapshot("search_terminal").run();
}

// BM25 scores differ in their last digits from one index build to the next (float sums in
// another order), so the snapshot shows `[SCORE]`; the order of the hits is in the snapshot, and
// the scores are checked here to be positive and falling. The query has no tied hits, whose
// order could change with the index's segments.
#[test]
fn search_as_json() {
    let ran = kb()
        .args(["search", "fills", "--json"])
        .snapshot_filter(r#""score":[0-9.eE+-]+"#, r#""score":"[SCORE]""#)
        .stdout_snapshot("search_json")
        .run();
    let scores: Vec<f64> =
        ran.json()["hits"].as_array().unwrap().iter().map(|hit| hit["score"].as_f64().unwrap()).collect();
    assert_eq!(scores.len(), 2, "{}", ran.stdout);
    assert!(scores.iter().all(|s| *s > 0.0), "{scores:?}");
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

#[test]
fn archive_show_of_a_run() {
    kb().args(["exec", "disk-full", "--quiet"])
        .status(1)
        .run()
        .again()
        .pinned()
        .args(["archive", "show", "latest"])
        .stdout_snapshot("archive_show")
        .run();
}

#[test]
fn archive_show_of_a_run_as_json() {
    kb().args(["exec", "disk-full", "--quiet"])
        .status(1)
        .run()
        .again()
        .pinned()
        .args(["archive", "show", "latest", "--json"])
        .stdout_snapshot("archive_show_json")
        .run();
}
