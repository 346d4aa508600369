//! Plain docs (DESIGN §14): alert runbooks as teams write them — prompts with output,
//! placeholders, list-item blocks, sessions, a Mitigation `delete`, a prompt-less `console`
//! block, heredocs — run against fake `oc`, `kubectl` and `ssh` programs that record their
//! argv and stdin.

use crate::test::{Ran, Test};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The doc, in the shape of the public OpenShift alert runbooks.
const ALERT: &str = r#"# KubePodCrashLooping

## Meaning

A pod keeps restarting.

## Diagnosis

Check the pods of the namespace:

```console
$ NAMESPACE='<value of namespace label from alert>'
$ oc -n $NAMESPACE get pods
NAME    READY   STATUS             RESTARTS
web-1   0/1     CrashLoopBackOff   7
oc delete pod web-1
```

1. Describe the pod:

   ```bash
   oc -n $NAMESPACE describe pod <pod-name>
   ```

2. Look at the node's disks:

   ```shell
   $ ssh <node-address>
   $ df -h /var
   $ cat /proc/mdstat
   $ exit
   ```

The events look like this:

```console
Events:
  Back-off restarting failed container
```

3. Check the kubelet on the node:

   ```shell
   $ oc debug node/<node-name>
   sh-4.4# chroot /host
   sh-4.4# journalctl -u kubelet --no-pager -n 20
   ```

Count the running pods:

```bash
grep -c web <<EOF
$(oc -n $NAMESPACE get pods)
EOF
```

## Mitigation

```bash
oc -n $NAMESPACE delete pod <pod-name>
```
"#;

/// A fake program: logs `argv: a|b|c` and `stdin: line` for each stdin line, answers `get pods`.
const FAKE: &str = r#"#!/bin/sh
{
  printf 'argv: %s' "$(basename "$0")"
  for arg in "$@"; do printf '|%s' "$arg"; done
  printf '\n'
  while IFS= read -r line; do printf 'stdin: %s\n' "$line"; done
} >> "$FAKE_LOG"
case " $* " in
  *" get pods "*) echo "web-1   1/1   Running   0" ;;
  *" describe "*) [ -n "$FAIL_DESCRIBE" ] && { echo "describe failed" >&2; exit 1; } ;;
esac
exit 0
"#;

const VARS: [&str; 8] = [
    "--var",
    "namespace=openshift-monitoring",
    "--var",
    "pod_name=web 1",
    "--var",
    "node_address=node1",
    "--var",
    "node_name=worker-0",
];

/// A KB with the alert doc and the fakes first on PATH.
fn kb(doc: &str) -> Test {
    let mut test =
        Test::new().file("runbook.toml", "title = \"Alerts\"\n").bytes("alerts/KubePodCrashLooping.md", doc.as_bytes());
    for name in ["oc", "kubectl", "ssh"] {
        test = test.bytes(&format!("bin/{name}"), FAKE.as_bytes());
    }
    make_executable(test.path());
    let bin = test.path().join("bin");
    let log = test.path().join("fake.log");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    test.env("PATH", &path).env("FAKE_LOG", &log.display().to_string())
}

fn make_executable(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for name in ["oc", "kubectl", "ssh"] {
        let path = root.join("bin").join(name);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn log(root: &Path) -> String {
    std::fs::read_to_string(root.join("fake.log")).unwrap_or_default()
}

fn run_dirs(root: &Path) -> Vec<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(root.join("archives"))
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.join("run.json").exists()).collect())
        .unwrap_or_default();
    runs.sort();
    runs
}

fn record(ran: &Ran) -> Value {
    let dir = run_dirs(ran.path()).pop().expect("a run");
    serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap()
}

fn step<'a>(record: &'a Value, id: &str) -> &'a Value {
    record["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {record:#}"))
}

/// The binary on a test folder that already exists, with the fakes first on PATH.
fn command(root: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(crate::test::BIN);
    command
        .arg("--kb")
        .arg(root)
        .current_dir(root)
        .env_remove("RUNBOOK_KB")
        .env_remove("RUNBOOK_ARCHIVES")
        .env("NO_COLOR", "1")
        .env("HOME", root)
        .env("XDG_STATE_HOME", root.join(".state"))
        .env("FAKE_LOG", root.join("fake.log"))
        .env("PATH", format!("{}:{}", root.join("bin").display(), std::env::var("PATH").unwrap_or_default()));
    command
}

fn with_args(test: Test, args: &[&str]) -> Test {
    test.args(args.iter().copied().chain(VARS))
}

#[test]
fn a_diagnosis_section_runs_only_its_read_only_commands_in_order() {
    let ran = with_args(kb(ALERT), &["exec", "KubePodCrashLooping", "--plain", "--section", "Diagnosis"])
        .stdout_has("expected (from the doc):")
        .stdout_has("│ web-1   0/1     CrashLoopBackOff   7")
        .run();
    let log = log(ran.path());
    assert_eq!(
        log,
        "argv: oc|-n|openshift-monitoring|get|pods\n\
         argv: oc|-n|openshift-monitoring|describe|pod|web 1\n\
         argv: ssh|node1|bash|-s\n\
         stdin: set -eo pipefail\n\
         stdin: df -h /var\n\
         stdin: cat /proc/mdstat\n\
         argv: oc|-n|openshift-monitoring|get|pods\n",
        "the debug pod asks (skipped without a terminal), Mitigation is outside the section, output lines never run"
    );
    let record = record(&ran);
    assert_eq!(record["options"]["plain"], true);
    assert_eq!(record["options"]["section"], "Diagnosis");
    assert_eq!(record["vars"]["namespace"], "openshift-monitoring");
    let ids: Vec<&str> = record["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["diagnosis-1", "diagnosis-2", "diagnosis-3", "diagnosis-5", "diagnosis-6"]);
    let first = step(&record, "diagnosis-1");
    assert_eq!(first["outcome"], "passed");
    assert_eq!(first["name"], "Diagnosis");
    assert_eq!(first["source_sha256"].as_str().unwrap().len(), 64);
    assert!(first["expected_output"].as_str().unwrap().contains("CrashLoopBackOff"));
    assert_eq!(first["stdout_tail"], "web-1   1/1   Running   0");
    assert_eq!(step(&record, "diagnosis-2")["name"], "Describe the pod");
    let debug = step(&record, "diagnosis-5");
    assert_eq!(debug["outcome"], "skipped");
    assert!(debug["reason"].as_str().unwrap().contains("needs confirmation"), "{debug:#}");
    assert_eq!(step(&record, "diagnosis-6")["stdout_tail"], "1");
    assert_eq!(record["verdict"], "passed");
}

#[test]
fn with_yes_sessions_and_the_mitigation_run_with_quoted_values() {
    let ran = with_args(kb(ALERT), &["exec", "KubePodCrashLooping", "--plain", "--yes"]).run();
    let log = log(ran.path());
    assert!(
        log.contains("argv: oc|debug|node/worker-0|--|chroot|/host|bash|-s\nstdin: set -eo pipefail\nstdin: journalctl -u kubelet --no-pager -n 20\n"),
        "{log}"
    );
    assert!(log.ends_with("argv: oc|-n|openshift-monitoring|delete|pod|web 1\n"), "{log}");
    assert!(!log.contains("delete|pod|web-1"), "an output line ran: {log}");
    let record = record(&ran);
    assert!(step(&record, "mitigation-1")["confirmed_by"].as_str().unwrap().starts_with("--yes"));
}

#[test]
fn unresolved_placeholders_stop_the_run_before_anything_runs() {
    let ran = kb(ALERT)
        .args(["exec", "KubePodCrashLooping", "--plain", "--var", "namespace=x"])
        .status(2)
        .stderr_has("KubePodCrashLooping needs 3 values before anything runs: pod_name, node_address, node_name")
        .stderr_has("pod_name  <pod-name>  alerts/KubePodCrashLooping.md:22:34")
        .stderr_has("hint: pass --var pod_name=… --var node_address=… --var node_name=… (nothing has run)")
        .run();
    assert_eq!(log(ran.path()), "", "nothing ran");
    assert!(run_dirs(ran.path()).is_empty(), "no archive for a run that never started");
}

#[test]
fn mutating_commands_ask_and_are_skipped_without_a_terminal() {
    let ran = with_args(kb(ALERT), &["exec", "KubePodCrashLooping", "--plain", "--section", "mitigation"])
        .stdout_has("needs confirmation: Run `oc -n $NAMESPACE delete pod 'web 1'`? It asks because `oc delete` changes the cluster")
        .run();
    assert_eq!(log(ran.path()), "");
    let record = record(&ran);
    assert_eq!(step(&record, "mitigation-1")["outcome"], "skipped");
}

#[test]
fn show_plain_says_what_runs_and_why() {
    let ran = kb(ALERT)
        .args(["show", "KubePodCrashLooping", "--plain"])
        .stdout_has("Plain steps (6)  run: runbook exec KubePodCrashLooping --plain")
        .stdout_has("1. diagnosis-1 Diagnosis  runs (read-only)")
        .stdout_has("why: only reads: oc get")
        .stdout_has("3. diagnosis-3 Look at the node's disks  runs (read-only)")
        .stdout_has("session: ssh")
        .stdout_has("4. diagnosis-5 Check the kubelet on the node  asks first")
        .stdout_has("why: `oc debug` starts a privileged debug pod on the node")
        .stdout_has("6. mitigation-1 Mitigation  asks first")
        .stdout_has("namespace needs --var namespace=…  <value of namespace label from alert>")
        .stdout_has("console block 4 under “Diagnosis”: output only: a console block without prompt lines")
        .run();
    assert!(!ran.stdout.contains("$ oc delete pod web-1"), "output lines are no commands");
    let json = kb(ALERT).args(["show", "KubePodCrashLooping", "--plain", "--json"]).run().json();
    assert_eq!(json["run"], "runbook exec KubePodCrashLooping --plain");
    let counts = &json["counts"];
    assert_eq!(
        (counts["steps"].as_u64(), counts["read_only"].as_u64(), counts["asks"].as_u64()),
        (Some(6), Some(4), Some(2))
    );
    assert_eq!(counts["sessions"], 2);
    assert_eq!(counts["placeholders"], 4);
    assert_eq!(counts["output_blocks"], 1);
    let steps = json["steps"].as_array().unwrap();
    assert_eq!(steps[0]["class"], "read_only");
    assert_eq!(steps[5]["class"], "asks");
    assert_eq!(steps[5]["why"], "`oc delete` changes the cluster");
    assert_eq!(
        steps[2]["script"],
        "ssh <node-address> bash -s <<'RUNBOOK_SESSION'\nset -eo pipefail\ndf -h /var\ncat /proc/mdstat\nRUNBOOK_SESSION"
    );
    // Several docs at once: a list.
    let list = kb(ALERT)
        .file("alerts/Other.md", "# Other\n\n```bash\nkubectl get nodes\n```\n")
        .args(["show", "--plain", "--json", "KubePodCrashLooping", "Other"])
        .run()
        .json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[1]["steps"][0]["class"], "read_only");
}

#[test]
fn a_document_without_plain_says_how_to_run_it() {
    kb(ALERT)
        .args(["exec", "KubePodCrashLooping"])
        .status(2)
        .stderr_has("KubePodCrashLooping is a document: it has no steps to run")
        .stderr_has("`runbook exec KubePodCrashLooping --plain` runs its shell blocks")
        .run();
    kb(ALERT)
        .args(["show", "KubePodCrashLooping"])
        .stdout_has("its shell blocks run as 6 plain steps: `runbook exec KubePodCrashLooping --plain`")
        .run();
}

#[test]
fn plain_true_in_runbook_toml_runs_documents_as_plain_steps() {
    let ran = kb(ALERT)
        .file("runbook.toml", "plain = true\n")
        .args(["exec", "KubePodCrashLooping", "--section", "Diagnosis"])
        .args(VARS)
        .run();
    assert!(log(ran.path()).starts_with("argv: oc|-n|openshift-monitoring|get|pods\n"));
}

#[test]
fn bad_input_is_exit_2_with_what_to_do() {
    kb(ALERT)
        .args(["exec", "KubePodCrashLooping", "--plain", "--var", "namespce=x"])
        .status(2)
        .stderr_has("unknown variable `namespce` for KubePodCrashLooping")
        .stderr_has("did you mean `namespace`?")
        .run();
    kb(ALERT)
        .args(["exec", "KubePodCrashLooping", "--plain", "--section", "Diagnosys"])
        .status(2)
        .stderr_has("no heading `Diagnosys` in KubePodCrashLooping")
        .stderr_has("did you mean `Diagnosis`?")
        .run();
    kb(ALERT)
        .args(["exec", "KubePodCrashLooping", "--section", "Diagnosis"])
        .status(2)
        .stderr_has("--section selects blocks of a plain doc")
        .run();
    kb(ALERT)
        .args(["exec", "KubePodCrashLooping", "--plain", "--var", "namespace=a\nb"])
        .args(&VARS[2..])
        .status(2)
        .stderr_has("the value of `namespace` has a line break")
        .run();
    kb("# Notes\n\nNothing to run.\n\n```yaml\nkind: x\n```\n")
        .file("alerts/Notes.md", "# Notes\n\n```yaml\nkind: x\n```\n")
        .args(["exec", "Notes", "--plain"])
        .status(2)
        .stderr_has("Notes has no shell blocks to run")
        .run();
}

#[test]
fn resume_refuses_an_edited_block_and_carries_unchanged_ones() {
    let test = with_args(kb(ALERT), &["exec", "KubePodCrashLooping", "--plain", "--section", "Diagnosis"])
        .env("FAIL_DESCRIBE", "1")
        .status(1);
    let dir = test.run().dir;
    let root = dir.path().to_path_buf();
    let doc = root.join("alerts/KubePodCrashLooping.md");
    let rerun = |expect: i32| {
        let out = command(&root)
            .args(["exec", "KubePodCrashLooping", "--plain", "--section", "Diagnosis", "--resume"])
            .args(VARS)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(expect), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // Prose edits do not matter; an edited block does.
    std::fs::write(&doc, ALERT.replace("A pod keeps restarting.", "A pod restarts again and again.")).unwrap();
    std::fs::write(&doc, ALERT.replace("describe pod <pod-name>", "describe pods <pod-name>")).unwrap();
    let stderr = rerun(2);
    assert!(stderr.contains("block `diagnosis-2` (line 21) of KubePodCrashLooping changed since run"), "{stderr}");
    // Back as it was: the run resumes at the block that failed; the first one is carried over.
    std::fs::write(&doc, ALERT.replace("A pod keeps restarting.", "A pod restarts again and again.")).unwrap();
    std::fs::remove_file(root.join("fake.log")).unwrap();
    rerun(0);
    let log = std::fs::read_to_string(root.join("fake.log")).unwrap();
    assert!(log.starts_with("argv: oc|-n|openshift-monitoring|describe|pod|web 1\n"), "{log}");
}

#[test]
fn check_plain_warns_with_positions() {
    let doc = "# Broken\n\n## Diagnosis\n\n```bash\noc get pods -n <namespace>\nif true; then echo\n```\n\n```bash\noc debug node/<node>\n```\n\nThen look around.\n";
    let ran = kb(ALERT)
        .file("alerts/Broken.md", doc)
        .args(["check", "--plain", "alerts/Broken.md"])
        .stdout_has("warning: block `diagnosis-1` does not parse: -c: line 3: syntax error: unexpected end of file")
        .stdout_has("--> alerts/Broken.md:6:1")
        .stdout_has("warning: placeholder `<namespace>` has no value")
        .stdout_has("--> alerts/Broken.md:6:16")
        .stdout_has(
            "warning: session not understood: `oc debug node/<node>` opens a shell, but no commands follow it here",
        )
        .stdout_has("--> alerts/Broken.md:11:1")
        .stdout_has("checked 1 runbook: 0 errors, 4 warnings")
        .run();
    assert!(ran.stdout.contains("placeholder `<node>` has no value"));
    // Without --plain, plain docs are documents: nothing to say.
    kb(ALERT).file("alerts/Broken.md", doc).args(["check", "alerts/Broken.md"]).stdout_has("0 warnings").run();
}

#[test]
fn overlays_rename_skip_vouch_and_notice_upstream_changes() {
    let overlay = "vars: {namespace: openshift-monitoring}\nblocks:\n  - heading: Diagnosis\n    block: 1\n    name: List the pods\n  - {heading: Diagnosis, block: 2, skip: true}\n  - {heading: Diagnosis, block: 5, confirm: false}\n";
    let ran = kb(ALERT)
        .file("alerts/KubePodCrashLooping.runbook.yaml", overlay)
        .args([
            "exec",
            "KubePodCrashLooping",
            "--plain",
            "--section",
            "Diagnosis",
            "--var",
            "node_address=n1",
            "--var",
            "node_name=w0",
        ])
        .run();
    let log = log(ran.path());
    assert!(!log.contains("describe"), "skipped by the overlay: {log}");
    assert!(log.contains("argv: oc|debug|node/w0|--|chroot|/host|bash|-s\n"), "vouched for by the overlay: {log}");
    let record = record(&ran);
    assert_eq!(step(&record, "diagnosis-1")["name"], "List the pods");
    // `import --overlay` writes the hashes; check warns once the doc changes upstream.
    let test = kb(ALERT);
    let dir = test.args(["import", "alerts/KubePodCrashLooping.md", "--overlay"]).run().dir;
    let sidecar = std::fs::read_to_string(dir.path().join("alerts/KubePodCrashLooping.runbook.yaml")).unwrap();
    assert!(sidecar.contains("  - heading: \"Mitigation\"\n    block: 1\n    sha256: "), "{sidecar}");
    let check = |root: &Path| {
        let out = command(root).arg("check").output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(check(dir.path()).contains("0 warnings"), "{}", check(dir.path()));
    std::fs::write(dir.path().join("alerts/KubePodCrashLooping.md"), ALERT.replace("delete pod", "delete --wait pod"))
        .unwrap();
    let out = check(dir.path());
    assert!(
        out.contains("warning: the block of overlay entry “Mitigation” block 1 changed since the overlay was written"),
        "{out}"
    );
    assert!(out.contains("set `sha256: "), "{out}");
}

#[test]
fn a_broken_overlay_is_an_error_at_its_line() {
    kb(ALERT)
        .file("alerts/KubePodCrashLooping.runbook.yaml", "blocks:\n  - heading: Diagnosis\n    block: 1\n    nmae: x\n")
        .args(["exec", "KubePodCrashLooping", "--plain"])
        .status(2)
        .stderr_has("alerts/KubePodCrashLooping.runbook.yaml:4:5")
        .stderr_has("the overlay of KubePodCrashLooping does not read")
        .run();
}

#[test]
fn import_writes_a_runbook_that_checks_clean_and_runs_the_same_commands() {
    let test = kb(ALERT);
    let dir = test.args(["import", "alerts/KubePodCrashLooping.md", "--out", "ops/crashloop.md"]).run().dir;
    let root = dir.path();
    let imported = std::fs::read_to_string(root.join("ops/crashloop.md")).unwrap();
    assert!(imported.contains("```yaml step\nid: diagnosis-1\n"), "{imported}");
    assert!(imported.contains("  pod_name: ~\n"), "{imported}");
    let run = |args: &[&str]| {
        let out = command(root).args(args).args(VARS).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let log = std::fs::read_to_string(root.join("fake.log")).unwrap_or_default();
        let _ = std::fs::remove_file(root.join("fake.log"));
        log
    };
    let check = command(root).arg("check").arg(root.join("ops/crashloop.md")).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    assert!(String::from_utf8_lossy(&check.stdout).contains("0 errors, 0 warnings"));
    let plain = run(&["exec", "KubePodCrashLooping", "--plain", "--yes"]);
    let steps = run(&["exec", "crashloop", "--yes"]);
    assert!(plain.contains("stdin: journalctl"), "{plain}");
    assert_eq!(plain, steps, "the imported runbook runs the same commands with the same stdin");
    // Without values it refuses before anything runs, naming them.
    let out = command(root).args(["exec", "crashloop"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("crashloop needs 4 values before anything runs"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn plain_runs_are_archived_searched_shown_on_the_site_and_in_cycles() {
    let test = with_args(kb(ALERT), &["exec", "KubePodCrashLooping", "--plain", "--section", "Diagnosis"]);
    let dir = test.run().dir;
    let root = dir.path();
    let base = |args: &[&str]| {
        let out = command(root).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let list = base(&["archive", "list", "--runbook", "KubePodCrashLooping"]);
    assert!(list.contains("KubePodCrashLooping"), "{list}");
    let found = base(&["search", "Running", "--kind", "archive"]);
    assert!(found.contains("KubePodCrashLooping"), "{found}");
    base(&["build", "--out", "public"]);
    let page = std::fs::read_to_string(root.join("public/runbooks/KubePodCrashLooping/index.html")).unwrap();
    assert!(page.contains("runnable as plain steps:"), "{page}");
    assert!(page.contains("<code class=\"copy-text\">runbook exec KubePodCrashLooping --plain</code>"));
    let run = run_dirs(root).pop().unwrap();
    let run_id = run.file_name().unwrap().to_string_lossy().into_owned();
    let run_page = std::fs::read_to_string(root.join(format!("public/archives/{run_id}/index.html"))).unwrap();
    assert!(run_page.contains("expected (from the doc)"), "{run_page}");
    assert!(run_page.contains("CrashLoopBackOff"));
    let run_md = std::fs::read_to_string(run.join("run.md")).unwrap();
    assert!(run_md.contains("expected (from the doc):"), "{run_md}");
    let cycle = base(&["cycle", "--since", "1d", "--json"]);
    assert!(cycle.contains("KubePodCrashLooping"), "{cycle}");
}

#[test]
fn overlays_in_runbook_toml_name_their_doc() {
    let toml = "[[overlay]]\nrunbook = \"KubePodCrashLooping\"\nheading = \"Diagnosis\"\nblock = 1\nskip = true\n\n[[overlay]]\nrunbook = \"alerts/Other\"\nheading = \"Diagnosis\"\nblock = 2\nskip = true\n";
    let ran = with_args(
        kb(ALERT).file("runbook.toml", toml),
        &["exec", "KubePodCrashLooping", "--plain", "--section", "Diagnosis"],
    )
    .run();
    let log = log(ran.path());
    assert!(
        log.starts_with("argv: oc|-n|openshift-monitoring|describe|"),
        "the first block is skipped, the second is not: {log}"
    );
}

#[test]
fn missing_values_are_asked_for_on_a_terminal() {
    let test = kb(ALERT);
    let root = test.path().to_path_buf();
    let (dir, command) = test.into_command();
    let line = format!(
        "{} exec KubePodCrashLooping --plain --section Diagnosis --var 'pod_name=web 1' --var node_address=node1 --var node_name=w0",
        crate::test::BIN
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(command.get_current_dir().unwrap())
        .envs(command.get_envs().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs commands under a pseudo-terminal");
    std::thread::sleep(std::time::Duration::from_millis(500));
    // The namespace, then "no" to the debug pod.
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"openshift-monitoring\nn\n").unwrap();
    let output = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(
        screen.contains("namespace (<value of namespace label from alert> at alerts/KubePodCrashLooping.md:12:14): "),
        "{screen}"
    );
    let log = std::fs::read_to_string(root.join("fake.log")).unwrap_or_default();
    assert!(log.starts_with("argv: oc|-n|openshift-monitoring|get|pods\n"), "{log}\n{screen}");
    assert!(!log.contains("debug"), "answered no: {log}");
    drop(dir);
}

/// A diagnosis that reads one label, and a mitigation that needs a value only a person has.
const JOB_FAILED: &str = r#"# KubeJobFailed

## Diagnosis

```console
$ NAMESPACE='<value of namespace label from alert>'
$ oc -n $NAMESPACE get pods
```

## Mitigation

```bash
oc -n $NAMESPACE delete job <job-name>
```
"#;

#[test]
fn diagnose_needs_only_the_placeholders_of_the_steps_it_runs() {
    // An alert fills `namespace`; `job_name` belongs to the mitigation, which --diagnose skips.
    let ran = kb(JOB_FAILED)
        .args(["exec", "KubePodCrashLooping", "--plain", "--diagnose", "--var", "namespace=prod"])
        .stdout_has("not run by --diagnose: it changes the system")
        .run();
    assert_eq!(log(ran.path()), "argv: oc|-n|prod|get|pods\n");
    let record = record(&ran);
    assert_eq!(step(&record, "mitigation-1")["outcome"], "skipped");
    // Without --diagnose the mitigation may run, so its value is needed before anything runs.
    let ran = kb(JOB_FAILED)
        .args(["exec", "KubePodCrashLooping", "--plain", "--json", "--var", "namespace=prod"])
        .status(2)
        .stderr_has("needs 1 value before anything runs: job_name")
        .run();
    assert_eq!(log(ran.path()), "");
    // A placeholder of a step --diagnose runs is still required.
    kb(JOB_FAILED)
        .args(["exec", "KubePodCrashLooping", "--plain", "--diagnose"])
        .status(2)
        .stderr_has("needs 1 value before anything runs: namespace")
        .run();
}
