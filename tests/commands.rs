//! `list`, `show`, `check`, `new`, `completions` and the global options.

use crate::test::Test;

const DISK: &str = r#"
---
id: disk
title: Disk is full
aliases: [df]
summary: Find what fills the disk.
tags: [storage, Disk]
category: operations
owner: sre
vars: {path: /}
---

# Disk is full

Prose that is not the summary.

## Check

```yaml step
id: space
name: Room on the filesystem
disk: {path: "{{ path }}", used_percent: {lt: 90}, avail: {gt: 20GiB}}
```

```yaml step
id: biggest
when: not steps.space.passed
confirm: List the biggest directories?
run: du -xh --max-depth=1 {{ path | shell_quote }} | sort -rh | head
severity: warning
```
"#;

const GPU: &str = r#"
# GPU notes

A document about GPUs. See [disk](../operations/disk.md#check).
"#;

fn kb() -> Test {
    Test::new().file("runbooks/operations/disk.md", DISK).file("runbooks/architecture/gpu.md", GPU)
}

#[test]
fn list_json_has_the_documented_fields() {
    let ran = kb().args(["list", "--json"]).run();
    let rows = ran.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let disk = rows.iter().find(|r| r["id"] == "disk").unwrap();
    assert_eq!(disk["title"], "Disk is full");
    assert_eq!(disk["path"], "runbooks/operations/disk.md");
    assert_eq!(disk["category"], "operations");
    assert_eq!(disk["tags"], serde_json::json!(["storage", "Disk"]));
    assert_eq!(disk["summary"], "Find what fills the disk.");
    assert_eq!(disk["steps"], 2);
    assert_eq!(disk["errors"], 0);
    assert_eq!(disk["kind"], "runbook");
    let gpu = rows.iter().find(|r| r["id"] == "gpu").unwrap();
    assert_eq!(gpu["summary"], "A document about GPUs. See disk.");
    assert_eq!(gpu["kind"], "document");
    assert_eq!(gpu["category"], "architecture");
}

#[test]
fn list_filters_by_tag_and_category() {
    let ran = kb().args(["list", "--json", "--tag", "disk"]).run();
    assert_eq!(ran.json().as_array().unwrap().len(), 1);
    let ran = kb().args(["list", "--json", "--category", "ARCHITECTURE"]).run();
    assert_eq!(ran.json()[0]["id"], "gpu");
    kb().args(["list", "--tag", "nothing"]).stdout_has("no runbooks match").run();
    kb().args(["list", "--category", "operations"]).stdout_has("disk").stdout_lacks("GPU notes").run();
}

#[test]
fn list_text_groups_by_category() {
    let ran = kb().args(["list"]).run();
    let architecture = ran.stdout.find("architecture").unwrap();
    let operations = ran.stdout.find("operations").unwrap();
    assert!(architecture < operations, "{}", ran.stdout);
    assert!(ran.stdout.contains("disk  Disk is full"), "{}", ran.stdout);
    assert!(ran.stdout.contains("2 steps"));
    assert!(ran.stdout.contains("document"));
}

#[test]
fn list_follows_category_order_of_runbook_toml() {
    let ran = kb().file("runbook.toml", "categories = [\"operations\"]\n").args(["list"]).run();
    assert!(ran.stdout.find("operations").unwrap() < ran.stdout.find("architecture").unwrap());
}

#[test]
fn show_prints_steps_in_plain_words() {
    kb().args(["show", "disk"])
        .stdout_has("Disk is full")
        .stdout_has("id disk · operations · critical · owner sre")
        .stdout_has("aliases: df")
        .stdout_has("Find what fills the disk.")
        .stdout_has("Steps (2)")
        .stdout_has("run: runbook exec disk")
        .stdout_has("disk at {{ path }}: used < 90%")
        .stdout_has("disk at {{ path }}: available > 20.0 GiB")
        .stdout_has("when not steps.space.passed")
        .stdout_has("asks first: List the biggest directories?")
        .stdout_has("$ du -xh --max-depth=1 {{ path | shell_quote }} | sort -rh | head")
        .stdout_has("[warning]")
        .stdout_has("Referenced by: gpu")
        .run();
}

#[test]
fn show_json() {
    let ran = kb().args(["show", "df", "--json"]).run();
    let json = ran.json();
    assert_eq!(json["id"], "disk");
    assert_eq!(json["steps"][0]["kind"], "disk");
    assert_eq!(json["steps"][0]["checks"][0], "disk at {{ path }}: used < 90%");
    assert_eq!(json["steps"][1]["confirm"], "List the biggest directories?");
    assert_eq!(json["steps"][1]["severity"], "warning");
    assert_eq!(json["steps"][1]["timeout"], "5m");
    assert_eq!(json["sections"][1]["anchor"], "check");
    assert_eq!(json["backlinks"][0]["id"], "gpu");
    assert_eq!(json["vars"]["path"], "/");
}

#[test]
fn show_a_document_and_its_links() {
    let ran = kb().args(["show", "gpu", "--json"]).run();
    let json = ran.json();
    assert_eq!(json["kind"], "document");
    assert_eq!(json["links"][0]["target"], "disk");
    assert_eq!(json["links"][0]["anchor"], "check");
}

#[test]
fn show_a_broken_runbook_with_its_errors() {
    Test::new()
        .file(
            "runbooks/b.md",
            "# Broken\n\n```yaml step\nid: ok\nrun: echo fine\n```\n\n```yaml step\nrun: true\ntimeout: never\n```\n",
        )
        .args(["show", "b"])
        .stdout_has("Broken")
        .stdout_has("bad duration `never`")
        .stdout_has("runbooks/b.md:10:10")
        .stdout_has("$ echo fine")
        .run();
}

#[test]
fn unknown_id_suggests() {
    kb().args(["show", "dsk"])
        .status(2)
        .stdout("")
        .stderr("error: no runbook `dsk`\n  hint: did you mean `disk`?\n")
        .run();
    kb().args(["show", "zzzzzz"])
        .status(2)
        .stdout("")
        .stderr("error: no runbook `zzzzzz`\n  hint: `runbook list` shows every runbook\n")
        .run();
}

#[test]
fn check_json_schema() {
    let ran = kb()
        .file("runbooks/operations/bad.md", "# Bad\n\n[x](nowhere.md)\n\n```sh\n")
        .args(["check", "--json"])
        .status(1)
        .run();
    let json = ran.json();
    assert_eq!(json["errors"], 1);
    assert_eq!(json["warnings"], 1);
    assert_eq!(json["runbooks"], 3);
    for diag in json["diagnostics"].as_array().unwrap() {
        for key in ["path", "line", "column", "severity", "message"] {
            assert!(diag.get(key).is_some(), "{key} missing in {diag}");
        }
    }
}

#[test]
fn check_warnings_alone_exit_zero() {
    kb().file("runbooks/w.md", "# W\n\n```sh\nunclosed\n")
        .args(["check"])
        .stdout(
            "
            warning: code fence is never closed
             --> runbooks/w.md:3:1
              |
            3 | ```sh
              | ^^^^^
              |
              = help: everything after it renders as code; close it with a matching fence line
            checked 3 runbooks: 0 errors, 1 warning
            ",
        )
        .stderr("")
        .run();
}

#[test]
fn check_paths_narrow_the_check() {
    let test = || kb().file("runbooks/bad/x.md", "# X\n\n```yaml step\n```\n");
    test().args(["check", "runbooks/operations"]).stdout("checked 1 runbook: 0 errors, 0 warnings\n").run();
    test()
        .args(["check", "runbooks/bad/x.md"])
        .status(1)
        .stdout(
            "
            error: step has nothing to do
             --> runbooks/bad/x.md:3:1
              |
            3 | ```yaml step
              | ^^^^^^^
              |
              = help: give it `run: <script>`, a probe (disk, gpu, http, tcp, file, command, process) or `manual: <instruction>`
            checked 1 runbook: 1 error, 0 warnings
            ",
        )
        .run();
    test()
        .args(["check", "runbooks/nope.md"])
        .status(2)
        .stdout("")
        .stderr("error: no such path `runbooks/nope.md`\n")
        .run();
}

#[test]
fn check_a_path_outside_the_kb() {
    Test::new()
        .file("kb/runbooks/a.md", "# A\n")
        .file("loose/notes.md", "# Notes\n\n[gone](gone.md)\n")
        .current_dir("kb")
        .args(["check", "../loose/notes.md"])
        .status(1)
        .stdout_has("link to missing runbook `gone.md`")
        .run();
}

#[test]
fn new_scaffold_passes_check() {
    let ran = Test::new().dir("runbooks").args(["new", "gpu-memory-leak", "--category", "gpu"]).run();
    assert!(ran.stdout.contains("created runbooks/gpu/gpu-memory-leak.md"), "{}", ran.stdout);
    let text = std::fs::read_to_string(ran.path().join("runbooks/gpu/gpu-memory-leak.md")).unwrap();
    assert!(text.contains("id: gpu-memory-leak"));
    assert!(text.contains("title: Gpu memory leak"));
    assert!(text.contains("{{ path | shell_quote }}"));
    let check = std::process::Command::new(crate::test::BIN)
        .args(["check", "--json"])
        .current_dir(ran.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(report["errors"], 0, "{report:#}");
    assert_eq!(report["warnings"], 0, "{report:#}");
}

#[test]
fn new_refuses_existing_and_bad_ids() {
    kb().args(["new", "disk"])
        .status(2)
        .stderr("error: runbook `disk` already exists at runbooks/operations/disk.md\n")
        .run();
    kb().args(["new", "DF"])
        .status(2)
        .stderr("error: runbook `DF` already exists at runbooks/operations/disk.md\n")
        .run();
    kb().args(["new", "bad id"])
        .status(2)
        .stderr(
            "
            error: bad runbook id `bad id`
              hint: ids use letters, digits, `.`, `_` and `-`, starting with a letter or digit
            ",
        )
        .run();
}

#[test]
fn new_without_a_kb_starts_one_here() {
    let ran = Test::new().args(["new", "first"]).run();
    assert!(ran.path().join("runbooks/operations/first.md").is_file());
}

#[test]
fn new_uses_the_kb_template_override() {
    let ran = kb()
        .file("templates/new-runbook.md", "---\nid: {{ id }}\n---\n# Custom {{ title }}\n")
        .args(["new", "mine"])
        .run();
    let text = std::fs::read_to_string(ran.path().join("runbooks/operations/mine.md")).unwrap();
    assert_eq!(text, "---\nid: mine\n---\n# Custom Mine");
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let ran = Test::new().args(["completions", shell]).run();
        assert!(ran.stdout.contains("runbook"), "{shell}: {}", ran.stdout);
        assert!(ran.stdout.contains("check"), "{shell}");
    }
    Test::new().args(["completions", "tcsh"]).status(2).run();
}

#[test]
fn color_modes() {
    let ran = kb().args(["--color", "always", "list"]).run();
    assert!(ran.stdout.contains("\u{1b}["), "--color always colours even with NO_COLOR set");
    let ran = kb().args(["--color", "never", "list"]).run();
    assert!(!ran.stdout.contains("\u{1b}["));
    let ran = kb().args(["list"]).run();
    assert!(!ran.stdout.contains("\u{1b}["), "auto + NO_COLOR + pipe: plain");
    let ran = kb().env("CLICOLOR_FORCE", "1").env("NO_COLOR", "").args(["list"]).run();
    assert!(ran.stdout.contains("\u{1b}["), "CLICOLOR_FORCE colours a pipe");
}

#[test]
fn usage_errors_exit_two() {
    Test::new().args(["list", "--bogus"]).status(2).run();
    Test::new().args(["nosuchcommand"]).status(2).run();
}

#[test]
fn quiet_and_verbose() {
    kb().args(["list", "-q"]).stdout("gpu\ndisk\n").run();
    kb().args(["-v", "list"]).stderr_has("loaded 2 runbooks from").stderr_has("2 parsed").run();
    let ran = kb().args(["check", "-q"]).run();
    assert_eq!(ran.stdout, "", "a clean check is silent with -q");
}
