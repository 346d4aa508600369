//! `runbook test` (DESIGN §13): runbooks run inside recorded worlds and compared with what the
//! scenarios expect; isolation from the host; bad scenario files rejected with their place.

use crate::test::Test;

const RUNBOOK: &str = r#"
    ---
    vars: {ollama_url: "http://127.0.0.1:11434"}
    ---
    # Node

    ```yaml step
    id: module
    run: |
      v=$(cat "${RUNBOOK_ROOT:-}/sys/module/nvidia/version" 2>/dev/null || true)
      [ -n "$v" ] || { echo "NO MODULE"; exit 1; }
      echo "module $v"
    continue_on_error: true
    ```

    ```yaml step
    id: smi
    run: nvidia-smi
    needs: module
    expect: {stdout: ["Driver Version"]}
    continue_on_error: true
    ```

    ```yaml step
    id: uvm
    file: {path: /dev/nvidia-uvm, exists: true, type: char}
    continue_on_error: true
    ```

    ```yaml step
    id: disk
    disk: {path: /var/lib, avail: {gt: 1GiB}}
    continue_on_error: true
    ```

    ```yaml step
    id: api
    http: {url: "{{ ollama_url }}/api/version", status: 200, json: {"/version": "0.16.2"}}
    continue_on_error: true
    ```

    ```yaml step
    id: service
    process: {name: ollama}
    continue_on_error: true
    ```

    ```yaml step
    id: gpu
    gpu: {count: {ge: 1}}
    continue_on_error: true
    ```

    ```yaml step
    id: repair
    run: echo repaired
    confirm: Repair it?
    ```

    ```yaml diagnosis
    id: no-module
    when: '"NO MODULE" in steps.module.stdout'
    cause: The nvidia kernel module is not loaded
    fix: [repair]
    ```

    ```yaml diagnosis
    id: disk-full
    when: steps.disk.status == "failed"
    cause: The disk is full
    ```
"#;

const SCENARIOS: &str = r#"
    scenarios:
      - name: healthy
        files:
          /sys/module/nvidia/version: "580.95.05\n"
          /dev/nvidia-uvm: {char: true}
        commands: &ok
          nvidia-smi: {file: smi.txt}
        disk: {"/": {size: 100GiB, avail: 50GiB}}
        http: {"{{ ollama_url }}/api/version": {json: {version: "0.16.2"}}}
        processes: [ollama]
        gpu:
          - {index: 0, name: NVIDIA L4, driver_version: "580.95.05", memory_total: 24152899584, memory_used: 0}
        answers: {repair: yes}
        expect:
          verdict: passed
          diagnosis: none
          steps: {module: passed, smi: passed, uvm: passed, disk: passed, api: passed, service: passed, gpu: passed, repair: passed}
      - name: no module, full disk
        commands:
          <<: *ok
        disk: {"/": {size: 100GiB, avail: 28KiB}}
        gpu: none
        expect:
          verdict: failed
          diagnosis: no-module
          steps: {module: failed, smi: skipped, uvm: failed, disk: failed, api: failed, service: failed, gpu: failed, repair: skipped}
"#;

fn kb(scenarios: &str) -> Test {
    Test::new().file("runbooks/node.md", RUNBOOK).file("runbooks/node.scenarios.yaml", scenarios).file(
        "runbooks/node.scenarios/smi.txt",
        "| NVIDIA-SMI 580.95.05   Driver Version: 580.95.05   CUDA Version: 13.0 |\n",
    )
}

#[test]
fn scenarios_pass_when_the_runbook_concludes_what_they_expect() {
    kb(SCENARIOS)
        .args(["test"])
        .stdout_has("✔ node › healthy")
        .stdout_has("✔ node › no module, full disk")
        .stdout_has("2 scenarios in 1 runbook: 2 passed, 0 failed")
        .run();
}

#[test]
fn a_scenario_whose_expectation_is_deliberately_wrong_fails_with_a_clear_message() {
    let wrong =
        SCENARIOS.replace("diagnosis: no-module", "diagnosis: disk-full").replace("smi: skipped", "smi: passed");
    let ran = kb(&wrong).args(["test"]).status(1).run();
    assert!(ran.stdout.contains("✘ node › no module, full disk"), "{}", ran.stdout);
    assert!(ran.stdout.contains("    diagnosis: expected disk-full, saw no-module (then disk-full)"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("    step smi: expected passed, saw skipped (needs module, which failed)"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("2 scenarios in 1 runbook: 1 passed, 1 failed"), "{}", ran.stdout);
}

#[test]
fn json_junit_and_coverage() {
    let ran = kb(SCENARIOS).args(["test", "node", "--json", "--junit", "scenarios.xml", "--coverage"]).run();
    let events: Vec<serde_json::Value> = ran.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let scenario = events.iter().find(|e| e["event"] == "scenario" && e["name"] == "no module, full disk").unwrap();
    assert_eq!(scenario["passed"], true);
    assert_eq!(scenario["diagnosis"], "no-module");
    // `disk-full` matches (second) in one scenario; `smi` and `repair` fail in none.
    let uncovered: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "uncovered")
        .map(|e| format!("{} {}", e["kind"].as_str().unwrap(), e["id"].as_str().unwrap()))
        .collect();
    assert_eq!(uncovered, ["step smi", "step repair"], "{}", ran.stdout);
    assert_eq!(events.last().unwrap()["passed"], 2);
    let junit = std::fs::read_to_string(ran.path().join("scenarios.xml")).unwrap();
    assert!(junit.contains("<testcase name=\"no module, full disk\""), "{junit}");
}

#[test]
fn a_scenario_never_reaches_the_host() {
    let text = r#"
        # Reach

        ```yaml step
        id: remote
        http: {url: "https://example.com/health", status: 200}
        continue_on_error: true
        ```

        ```yaml step
        id: gpu
        gpu: {count: {ge: 1}}
        continue_on_error: true
        ```

        ```yaml step
        id: root_disk
        disk: {path: /, avail: {gt: 1GiB}}
        continue_on_error: true
        ```

        ```yaml step
        id: host_tools
        run: uname -r; id -u
        ```
    "#;
    let scenarios = "scenarios:\n  - name: bare\n    expect: {steps: {host_tools: failed}}\n";
    let ran = Test::new()
        .file("runbooks/reach.md", text)
        .file("runbooks/reach.scenarios.yaml", scenarios)
        .args(["test"])
        .status(1)
        .run();
    for reached in [
        "reached outside the scenario for the network: https://example.com/health (no http fixture)",
        "reached outside the scenario for the host's GPU through NVML (the scenario has no `gpu`)",
        "reached outside the scenario for the host's disk at / (no disk fixture)",
    ] {
        assert!(ran.stdout.contains(reached), "{reached}\n{}", ran.stdout);
    }
    // Programs that read the host are absent unless the scenario provides them.
    assert!(!ran.stdout.contains("step host_tools"), "{}", ran.stdout);
}

#[test]
fn a_script_that_reaches_the_network_fails_the_scenario_naming_it() {
    let text = "# Out\n\n```yaml step\nid: outside\nrun: exec 3<>/dev/tcp/192.0.2.1/80\n```\n";
    let scenarios =
        "scenarios:\n  - name: the script reaches out\n    expect: {verdict: failed, steps: {outside: failed}}\n";
    Test::new()
        .file("runbooks/out.md", text)
        .file("runbooks/out.scenarios.yaml", scenarios)
        .args(["test"])
        .status(1)
        .stdout_has("reached outside the scenario for the network: a connection to 192.0.2.1:80 (from step outside)")
        .stdout_has("0 passed, 1 failed")
        .run();
}

#[test]
fn a_script_that_reads_the_hosts_files_fails_the_scenario_naming_each() {
    let text = r#"
        # Host files

        ```yaml step
        id: careless
        run: |
          cat /proc/driver/nvidia/version 2>/dev/null || true
          for node in /dev/nvidia*; do :; done
          cd / && head -n 1 etc/os-release 2>/dev/null || true
          echo checked
        ```

        ```yaml step
        id: careful
        run: |
          cat "${RUNBOOK_ROOT:-}/proc/driver/nvidia/version"
          ls -l /dev/null >/dev/null && sort /dev/null && date >/dev/null
          mkdir -p "$RUNBOOK_ROOT/var/cache/x" && cd "$RUNBOOK_ROOT/var/cache/x" && realpath . >/dev/null
        expect: {stdout: [NVRM version]}
        ```
    "#;
    let scenarios = "scenarios:\n  - name: reads the host\n    files: {/proc/driver/nvidia/version: \"NVRM version: 580.95.05\\n\"}\n    expect: {verdict: passed}\n";
    let ran = Test::new()
        .file("runbooks/host.md", text)
        .file("runbooks/host.scenarios.yaml", scenarios)
        .args(["test"])
        .status(1)
        .stdout_has(r#"reached outside the scenario for the host's file /proc/driver/nvidia/version (from step careless; a scenario's files are under $RUNBOOK_ROOT: "${RUNBOOK_ROOT:-}/proc/driver/nvidia/version")"#)
        // A glob lists the host's folder; a relative path is judged from the working folder.
        .stdout_has("reached outside the scenario for the host's file /dev (from step careless;")
        .stdout_has("reached outside the scenario for the host's file /etc/os-release (from step careless;")
        .stdout_has("0 passed, 1 failed")
        .run();
    // The tools' own files, /dev/null and the scenario's folders are no reach.
    assert!(!ran.stdout.contains("from step careful"), "{}", ran.stdout);
}

#[test]
fn a_canned_command_under_timeout_answers_as_itself_and_a_slow_script_still_times_out() {
    let text = r#"
        # Limits

        ```yaml step
        id: limits
        run: |
          timeout 20 nvidia-smi
          rc=0; timeout --signal=KILL 5 failing || rc=$?; echo "failing: $rc"
          rc=0; timeout -k 1 1 slow || rc=$?; echo "slow: $rc"
        expect: {stdout: ["Driver Version: 580.95.05", "failing: 3", "slow: 124"]}
        ```
    "#;
    let scenarios = r#"scenarios:
  - name: canned and slow
    commands:
      nvidia-smi: {stdout: "Driver Version: 580.95.05
"}
      failing: {exit: 3}
      slow: {script: "sleep 5"}
    expect: {verdict: passed}
"#;
    Test::new()
        .file("runbooks/limits.md", text)
        .file("runbooks/limits.scenarios.yaml", scenarios)
        .args(["test"])
        .stdout_has("1 passed, 0 failed")
        .run();
}

#[test]
fn a_script_reaches_the_scenarios_tcp_fixtures_and_finds_the_rest_of_this_host_closed() {
    let text = "# Ports\n\n```yaml step\nid: served\nrun: exec 3<>/dev/tcp/127.0.0.1/8000 && echo connected\nexpect: {stdout: [connected]}\n```\n\n```yaml step\nid: closed\nrun: exec 3<>/dev/tcp/127.0.0.1/8001\ncontinue_on_error: true\n```\n";
    let scenarios = "scenarios:\n  - name: one port listens\n    tcp: [\"localhost:8000\"]\n    expect: {steps: {served: passed, closed: failed}}\n";
    Test::new()
        .file("runbooks/ports.md", text)
        .file("runbooks/ports.scenarios.yaml", scenarios)
        .args(["test"])
        .stdout_has("1 passed, 0 failed")
        .run();
}

#[test]
fn loopback_targets_without_a_fixture_are_down() {
    let text = "# Down\n\n```yaml step\nid: api\nhttp: {url: \"http://127.0.0.1:11434/\", status: 200}\n```\n\n```yaml step\nid: port\ntcp: {address: \"localhost:8000\"}\n```\n";
    let scenarios = "scenarios:\n  - name: nothing listens\n    expect: {verdict: failed, steps: {api: failed}}\n  - name: the port listens\n    tcp: [\"localhost:8000\"]\n    http: {\"http://127.0.0.1:11434/\": {status: 200, body: ok}}\n    expect: {verdict: passed}\n";
    Test::new()
        .file("runbooks/down.md", text)
        .file("runbooks/down.scenarios.yaml", scenarios)
        .args(["test"])
        .stdout_has("2 passed, 0 failed")
        .run();
}

/// Every rule for bad scenario input: an error at its place in the scenario file, exit 2.
#[test]
fn bad_scenario_files_are_errors_with_their_place() {
    let cases = [
        (
            "scenarios:\n  - name: x\n    expect: {}\n    comands: {}\n",
            "runbooks/node.scenarios.yaml:4:5",
            "unknown field `comands`",
        ),
        (
            "scenarios:\n  - name: x\n    commands:\n      nvidia-smi: {file: gone.txt}\n    expect: {}\n",
            "runbooks/node.scenarios.yaml:4:19",
            "fixture file `gone.txt` does not exist",
        ),
        (
            "scenarios:\n  - name: x\n    files:\n      /etc/x: {file: ../node.md}\n    expect: {}\n",
            "runbooks/node.scenarios.yaml:4:15",
            "fixture file `../node.md` is outside node.scenarios/",
        ),
        (
            "scenarios:\n  - name: x\n    expect: {steps: {modul: failed}}\n",
            "runbooks/node.scenarios.yaml:3:22",
            "expect.steps names unknown step `modul`",
        ),
        (
            "scenarios:\n  - name: x\n    expect:\n      diagnosis: no-drver\n",
            "runbooks/node.scenarios.yaml:4:18",
            "expect.diagnosis names unknown diagnosis `no-drver`",
        ),
        (
            "scenarios:\n  - name: x\n    answers: {repiar: yes}\n    expect: {}\n",
            "runbooks/node.scenarios.yaml:3:15",
            "answers names unknown step `repiar`",
        ),
        (
            "scenarios:\n  - name: x\n    expect: {verdict: fine}\n",
            "runbooks/node.scenarios.yaml:3:23",
            "unknown verdict `fine`",
        ),
        (
            "scenarios:\n  - name: x\n    expect: {steps: {module: fine}}\n",
            "runbooks/node.scenarios.yaml:3:30",
            "unknown outcome `fine`",
        ),
        (
            "scenarios:\n  - name: x\n    expect: {}\n  - name: x\n    expect: {}\n",
            "runbooks/node.scenarios.yaml:4:5",
            "duplicate scenario name `x`",
        ),
        (
            "scenarios:\n  - name: x\n    commands:\n      nvidia-smi: {stdout: a, script: b}\n    expect: {}\n",
            "runbooks/node.scenarios.yaml:4:19",
            "command `nvidia-smi` mixes canned output, `file` and `script`",
        ),
        (
            "scenarios:\n  - name: x\n    commands:\n      /usr/bin/smi: {stdout: a}\n    expect: {}\n",
            "runbooks/node.scenarios.yaml:4:21",
            "bad command name `/usr/bin/smi`",
        ),
        (
            "scenarios:\n  - name: x\n    files:\n      etc/x: hello\n    expect: {}\n",
            "runbooks/node.scenarios.yaml:4:14",
            "file path `etc/x` is not absolute",
        ),
        ("scenarios: [\n", "runbooks/node.scenarios.yaml:1:12", "unclosed bracket"),
    ];
    for (scenarios, place, message) in cases {
        let ran = kb(scenarios).args(["test"]).status(2).run();
        assert!(ran.stdout.contains(place), "{place}\n{}", ran.stdout);
        assert!(ran.stdout.contains(message), "{message}\n{}", ran.stdout);
        // `check` reports the same error at the same place, with the runbook's own.
        for args in [&["check"][..], &["check", "runbooks/node.scenarios.yaml"]] {
            let ran = kb(scenarios).args(args).status(1).run();
            assert!(ran.stdout.contains(&format!("error: {message}")), "{args:?} {message}\n{}", ran.stdout);
            assert!(ran.stdout.contains(&format!(" --> {place}")), "{args:?} {place}\n{}", ran.stdout);
            assert!(ran.stdout.contains("checked 1 runbook: 1 error"), "{args:?}\n{}", ran.stdout);
        }
    }
    // A good scenario file checks clean.
    kb(SCENARIOS).args(["check"]).stdout_has("checked 1 runbook: 0 errors").run();
}

#[test]
fn check_reads_a_plain_docs_scenarios_against_its_plain_steps() {
    let scenarios =
        "scenarios:\n  - name: x\n    vars: {namespace: a, job: b}\n    expect: {steps: {diagnosis-3: passed}}\n";
    alert_kb(scenarios)
        .args(["check", "--json"])
        .status(1)
        .stdout_has(r#""rule":"scenario""#)
        .stdout_has("expect.steps names unknown step `diagnosis-3`")
        .stdout_has(r#""line":4,"column":22"#)
        .run();
    alert_kb(ALERT_SCENARIOS).args(["check"]).stdout_has("checked 1 runbook: 0 errors").run();
}

#[test]
fn the_shipped_scenarios_pass() {
    Test::new().args(["--kb", env!("CARGO_MANIFEST_DIR"), "test"]).stdout_has(" 0 failed").run();
}

/// An alert page as teams write them (DESIGN §14): placeholders in `$ ` transcripts, blocks
/// inside list items, a Mitigation that changes the cluster.
const ALERT_PAGE: &str = r#"
    # KubeJobFailed

    ## Meaning

    A Job in namespace `<namespace>` did not complete.

    ## Diagnosis

    1. Find the job:

       ```console
       $ kubectl get job <job> -n <namespace>
       NAME      COMPLETIONS   DURATION   AGE
       nightly   0/1           5m         5m
       ```

    2. Look at why its pods failed:

       ```console
       $ kubectl describe job <job> -n <namespace> | grep -E 'Pods Statuses:.*[1-9] Failed'
       Pods Statuses:  0 Active / 0 Succeeded / 1 Failed
       ```

    ## Mitigation

    ```console
    $ kubectl delete job <job> -n <namespace>
    ```

    If its pod lingers:

    ```console
    $ kubectl delete pod <failed-pod> -n <namespace>
    ```
"#;

/// A fake `kubectl` that answers only for the nightly job in `batch`, and fails on anything else.
const FAKE_KUBECTL: &str = r#"[ "$3" = nightly ] && [ "$4" = -n ] && [ "$5" = batch ] || { echo "kubectl: unexpected $*" >&2; exit 1; }; case "$1" in get) echo "nightly 0/1 5m 5m";; describe) echo "Pods Statuses:  0 Active / 0 Succeeded / 1 Failed";; delete) echo "job deleted";; *) exit 1;; esac"#;

fn alert_kb(scenarios: &str) -> Test {
    Test::new()
        .file("runbook.toml", "plain = true\n")
        .file("runbooks/KubeJobFailed.md", ALERT_PAGE)
        .file("runbooks/KubeJobFailed.scenarios.yaml", &scenarios.replace("FAKE_KUBECTL", FAKE_KUBECTL))
}

const ALERT_SCENARIOS: &str = r#"
    scenarios:
      - name: the nightly job failed
        vars: {namespace: batch, job: nightly}
        commands:
          kubectl: {script: 'FAKE_KUBECTL'}
        expect:
          verdict: passed
          steps: {diagnosis-1: passed, diagnosis-2: passed, mitigation-1: skipped}
      - name: deleting it when asked
        vars: {namespace: batch, job: nightly}
        commands:
          kubectl: {script: 'FAKE_KUBECTL'}
        answers: {mitigation-1: yes}
        expect:
          verdict: passed
          steps: {mitigation-1: passed, mitigation-2: skipped}
"#;

#[test]
fn a_plain_docs_scenarios_run_its_shell_blocks_with_the_scenarios_vars() {
    alert_kb(ALERT_SCENARIOS)
        .args(["test"])
        .stdout_has("✔ KubeJobFailed › the nightly job failed")
        .stdout_has("✔ KubeJobFailed › deleting it when asked")
        .stdout_has("2 scenarios in 1 runbook: 2 passed, 0 failed")
        .run();
}

#[test]
fn a_plain_docs_scenario_whose_expectation_is_deliberately_wrong_fails_with_a_clear_message() {
    let wrong = ALERT_SCENARIOS.replace("diagnosis-2: passed", "diagnosis-2: failed");
    let ran = alert_kb(&wrong).args(["test"]).status(1).run();
    assert!(ran.stdout.contains("✘ KubeJobFailed › the nightly job failed"), "{}", ran.stdout);
    assert!(ran.stdout.contains("    step diagnosis-2: expected failed, saw passed\n"), "{}", ran.stdout);
    assert!(ran.stdout.contains("1 passed, 1 failed"), "{}", ran.stdout);
    // A value the fake kubectl does not know reaches it, and the mismatch says what it printed.
    let other = ALERT_SCENARIOS.replacen("job: nightly}", "job: weekly}", 1);
    let ran = alert_kb(&other).args(["test"]).status(1).run();
    assert!(
        ran.stdout.contains(
            "    step diagnosis-1: expected passed, saw failed (exit code: expected 0, saw 1 — kubectl: unexpected get job weekly -n batch)"
        ),
        "{}",
        ran.stdout
    );
}

#[test]
fn a_plain_docs_scenario_without_a_placeholders_value_says_which_and_where() {
    let scenarios = r#"
        scenarios:
          - name: no job given
            vars: {namespace: batch}
            expect: {verdict: passed}
          - name: a var that is no placeholder
            vars: {namespace: batch, job: nightly, pod: x}
            expect: {verdict: passed}
          - name: a step that would run lacks a value
            vars: {namespace: batch, job: nightly}
            answers: {mitigation-2: yes}
            expect: {verdict: passed}
    "#;
    // Without `plain = true`: a document's scenarios can only mean its plain steps.
    let ran = Test::new()
        .file("runbooks/KubeJobFailed.md", ALERT_PAGE)
        .file("runbooks/KubeJobFailed.scenarios.yaml", scenarios)
        .args(["test"])
        .status(1)
        .run();
    assert!(
        ran.stdout.contains(
            "    the run could not start: no value for the placeholder `job` (<job> at runbooks/KubeJobFailed.md:12:22): give it in the scenario's `vars:`"
        ),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains(
            "    vars: `pod` is no placeholder of KubeJobFailed (its placeholders: job, namespace, failed_pod)"
        ),
        "{}",
        ran.stdout
    );
    // Unanswered, it would be skipped and need no value (the scenarios above).
    assert!(
        ran.stdout.contains(
            "    the run could not start: no value for the placeholder `failed_pod` (<failed-pod> at runbooks/KubeJobFailed.md:33:22): give it in the scenario's `vars:`"
        ),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("0 passed, 3 failed"), "{}", ran.stdout);
}

const CANNED: &str = r#"
    # Canned

    ```yaml step
    id: exact
    run: |
      set -o pipefail
      tool > "$RUNBOOK_ROOT/got"
      cmp "$RUNBOOK_ROOT/want" "$RUNBOOK_ROOT/got" && echo same
      tool 2>&1 >/dev/null | grep -c 'warn: 50%'
    expect: {stdout: ["same"]}
    ```

    ```yaml step
    id: nul
    run: binary | tr '\0' '@'
    expect: {stdout: ["a@b"]}
    ```

    ```yaml step
    id: early
    run: |
      set -o pipefail
      tool | head -1
    expect: {stdout: ["it's 100% \\\\n done"]}
    ```

    ```yaml step
    id: through_a_program
    run: |
      timeout 5 tool > "$RUNBOOK_ROOT/got2"
      cmp "$RUNBOOK_ROOT/want" "$RUNBOOK_ROOT/got2" && echo same
      set +e
      failing >/dev/null; direct=$?
      timeout 5 failing >/dev/null; program=$?
      echo "exit $direct $program"
    expect: {stdout: ["same", "exit 3 3"]}
    ```
"#;

/// Canned command output is printed by bash's `printf` since scenarios got faster: the text
/// must come out byte for byte (quotes, `%`, backslashes, a missing last newline), on stderr
/// too; output with a NUL byte (kept in a data file, printed by `cat`) too; and a reader that
/// stops early must not fail the command under `pipefail`.
#[test]
fn canned_output_comes_out_byte_for_byte_and_survives_a_reader_that_stops_early() {
    // Past a pipe's 64 KiB, so `head -1` closes it while printf still writes.
    let filler = "filler line\n".repeat(20_000);
    let text = format!("it's 100% \\\\n done\n\"second\" line $HOME `x`\n{filler}no newline at the end");
    let scenario = format!(
        "scenarios:\n  - name: canned\n    files:\n      /want: {text:?}\n    commands:\n      tool: {{stdout: {text:?}, stderr: \"warn: 50%\\n\"}}\n      binary: {{stdout: \"a\\0b\\n\"}}\n      failing: {{stdout: \"x\", exit: 3}}\n    expect:\n      verdict: passed\n      steps: {{exact: passed, nul: passed, early: passed, through_a_program: passed}}\n"
    );
    Test::new()
        .file("runbooks/canned.md", CANNED)
        .file("runbooks/canned.scenarios.yaml", &scenario)
        .args(["test"])
        .stdout_has("✔ canned › canned")
        .stdout_has("1 scenario in 1 runbook: 1 passed, 0 failed")
        .run();
}
