//! `needs:` and `yaml diagnosis` blocks (DESIGN §4): one cause named, first, everywhere a run is
//! reported.

use crate::test::{Test, unindent};

/// A host with no driver: the driver check fails, the two checks that need it are skipped, and
/// the diagnosis names the cause with the repair that applies.
const NO_DRIVER: &str = r#"
    # GPU

    ```yaml step
    id: driver
    run: "echo 'NVIDIA-SMI has failed: NO DRIVER'; exit 9"
    continue_on_error: true
    ```

    ```yaml step
    id: module
    run: "echo module loaded"
    needs: driver
    ```

    ```yaml step
    id: devices
    run: "echo nodes"
    needs: [driver, module]
    ```

    ```yaml step
    id: install_driver
    run: "echo installing"
    confirm: Install the driver?
    ```

    ## No driver

    ```yaml diagnosis
    id: no-driver
    when: '"NO DRIVER" in steps.driver.stdout'
    cause: No NVIDIA driver is installed
    fix: [install_driver, other.md]
    ```

    ```yaml diagnosis
    id: anything-else
    when: steps.driver.status == "failed"
    cause: The driver does not answer
    severity: warning
    ```
"#;

fn no_driver_kb() -> Test {
    Test::new()
        .file("runbooks/gpu.md", NO_DRIVER)
        .file("runbooks/other.md", "# Other\n\n```yaml step\nrun: \"true\"\n```\n")
}

#[test]
fn needs_skips_dependents_without_findings_of_their_own() {
    let ran = no_driver_kb().args(["exec", "gpu", "--json"]).status(1).run();
    let events: Vec<serde_json::Value> = ran.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let finished = |id: &str| events.iter().find(|e| e["event"] == "step_finished" && e["step"] == id).unwrap().clone();
    assert_eq!(finished("module")["outcome"], "skipped");
    assert_eq!(finished("module")["reason"], "needs driver, which failed");
    assert_eq!(finished("devices")["reason"], "needs driver, which failed");
    let run = events.iter().find(|e| e["event"] == "run_finished").unwrap();
    assert_eq!(run["findings"].as_array().unwrap().len(), 1, "{run}");
    assert_eq!(run["diagnosis"], "no-driver");
    let diagnoses: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "diagnosis").collect();
    assert_eq!(diagnoses.len(), 2, "every match is reported, in document order");
    assert_eq!(diagnoses[0]["id"], "no-driver");
    assert_eq!(diagnoses[0]["most_likely"], true);
    assert_eq!(diagnoses[0]["next"][0], "runbook exec gpu --from install_driver");
    assert_eq!(diagnoses[0]["next"][1], "runbook exec other");
    assert_eq!(diagnoses[0]["evidence"][0]["step"], "driver");
    assert_eq!(diagnoses[1]["id"], "anything-else");
}

#[test]
fn the_terminal_leads_with_the_diagnosis() {
    let ran = no_driver_kb().args(["exec", "gpu"]).status(1).run();
    let diagnosis = ran.stdout.find("Diagnosis: No NVIDIA driver is installed (no-driver)").expect(&ran.stdout);
    let findings = ran.stdout.find("Findings").expect(&ran.stdout);
    assert!(diagnosis < findings, "{}", ran.stdout);
    assert!(ran.stdout.contains("fix: runbook exec gpu --from install_driver"), "{}", ran.stdout);
    assert!(ran.stdout.contains("Also matched:\n  • The driver does not answer (anything-else)"), "{}", ran.stdout);
}

#[test]
fn the_archive_records_the_diagnosis() {
    let ran = no_driver_kb().args(["exec", "gpu", "--junit", "junit.xml"]).status(1).run();
    let run_dir = std::fs::read_dir(ran.path().join("archives")).unwrap().flatten().next().unwrap().path();
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(record["diagnoses"][0]["id"], "no-driver");
    assert_eq!(record["diagnoses"][0]["fix"][1]["runbook"], "other");
    let markdown = std::fs::read_to_string(run_dir.join("run.md")).unwrap();
    assert!(
        markdown.contains("## Diagnosis\n\n**No NVIDIA driver is installed** (`no-driver`, critical)"),
        "{markdown}"
    );
    let junit = std::fs::read_to_string(ran.path().join("junit.xml")).unwrap();
    assert!(junit.contains("diagnosis.1") && junit.contains("no-driver: No NVIDIA driver is installed"), "{junit}");
}

#[test]
fn no_known_cause_is_said_so() {
    let text =
        NO_DRIVER.replace("failed: NO DRIVER", "something odd").replace("steps.driver.status == \"failed\"", "false");
    Test::new()
        .file("runbooks/gpu.md", &text)
        .file("runbooks/other.md", "# Other\n")
        .args(["exec", "gpu"])
        .status(1)
        .stdout_has("Diagnosis: no known cause matched")
        .run();
}

#[test]
fn the_cycle_report_has_one_blocker_per_diagnosed_run() {
    let ran = no_driver_kb().args(["exec", "gpu"]).status(1).run();
    let dir = ran.dir;
    let mut cycle = std::process::Command::new(crate::test::BIN);
    let out = cycle.current_dir(dir.path()).args(["cycle", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cycle --json");
    let blockers = report["blockers"].as_array().unwrap();
    assert_eq!(blockers.len(), 1, "{report:#}");
    assert_eq!(blockers[0]["diagnosis"], "no-driver");
    assert_eq!(blockers[0]["supporting"][0]["step"], "driver");
    let actions = report["next_actions"].as_array().unwrap();
    assert_eq!(actions[0]["fix"], serde_json::json!(["runbook exec gpu --from install_driver", "runbook exec other"]));
}

#[test]
fn dry_run_lists_the_declared_diagnoses() {
    no_driver_kb()
        .args(["exec", "gpu", "--dry-run"])
        .stdout_has("diagnosis no-driver — No NVIDIA driver is installed (critical)")
        .stdout_has("when: \"NO DRIVER\" in steps.driver.stdout")
        .stdout_has("fix: install_driver, other.md")
        .stdout_has("needs: driver, module")
        .run();
}

#[test]
fn check_rejects_bad_needs_with_their_place() {
    let text = unindent(
        r#"
        # T

        ```yaml step
        id: a
        run: "true"
        needs: [b, nope]
        ```

        ```yaml step
        id: b
        run: "true"
        needs: b
        ```
        "#,
    );
    Test::new()
        .file("runbooks/t.md", &text)
        .args(["check"])
        .status(1)
        .stdout_has("error: `needs: b` refers to a step that runs later")
        .stdout_has("runbooks/t.md:6:9")
        .stdout_has("error: unknown step `nope` in `needs`")
        .stdout_has("runbooks/t.md:6:12")
        .stdout_has("error: step `b` needs itself")
        .run();
}

#[test]
fn check_rejects_bad_diagnoses_with_their_place() {
    let text = unindent(
        r#"
        # T

        ```yaml step
        id: driver
        run: "true"
        ```

        ```yaml diagnosis
        id: d
        when: not steps.drivr.passed
        cause: x
        fix: [reload, missing.md]
        ```

        ```yaml diagnosis
        id: e
        when: steps.driver.passed and (
        cause: y
        ```

        ```yaml diagnosis
        id: f
        cuase: z
        ```
        "#,
    );
    Test::new()
        .file("runbooks/t.md", &text)
        .args(["check"])
        .status(1)
        .stdout_has("error: unknown step `drivr` in `steps.drivr`")
        .stdout_has("runbooks/t.md:10:11")
        .stdout_has("did you mean `driver`?")
        .stdout_has("error: unknown step `reload` in `fix`")
        .stdout_has("runbooks/t.md:12:7")
        .stdout_has("error: link to missing runbook `missing.md`")
        .stdout_has("runbooks/t.md:12:15")
        .stdout_has("invalid expression")
        .stdout_has("error: unknown key `cuase` in diagnosis")
        .run();
}

#[test]
fn check_warns_about_passes_without_evidence() {
    let text = "# T\n\n```yaml step\nid: log\nrun: journalctl -u ollama\nexpect:\n  stdout: [\"!error\", \"!/fail(ed)?/\"]\n```\n\n```yaml step\nid: anchored\nrun: journalctl -u ollama\nexpect:\n  stdout: [\"Started\", \"!error\"]\n```\n";
    let ran = Test::new().file("runbooks/t.md", text).args(["check"]).run();
    assert!(ran.stdout.contains("warning: step `log` passes when the evidence is absent"), "{}", ran.stdout);
    assert!(ran.stdout.contains("runbooks/t.md:6:1"), "{}", ran.stdout);
    assert!(ran.stdout.contains("add a positive anchor"), "{}", ran.stdout);
    assert!(!ran.stdout.contains("step `anchored`"), "{}", ran.stdout);
}
