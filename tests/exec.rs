//! `runbook exec`: real processes, real probes, real archives.

use crate::test::{Ran, Test};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A KB with one runbook `t` made of `steps` (each a YAML body), with optional front matter.
fn runbook(front: &str, steps: &[&str]) -> Test {
    let mut text = String::new();
    if !front.is_empty() {
        text.push_str(&format!("---\n{front}---\n"));
    }
    text.push_str("# T\n\n");
    for step in steps {
        text.push_str(&format!("```yaml step\n{step}```\n\n"));
    }
    Test::new().bytes("runbooks/t.md", text.as_bytes())
}

/// The only run folder of a test's archives.
pub(crate) fn run_dir(root: &Path) -> PathBuf {
    let archives = root.join("archives");
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&archives)
        .unwrap_or_else(|e| panic!("no archives in {}: {e}", archives.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("run.json").exists())
        .collect();
    runs.sort();
    runs.pop().expect("a run folder")
}

fn record(ran: &Ran) -> Value {
    let text = std::fs::read_to_string(run_dir(ran.path()).join("run.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn step<'a>(record: &'a Value, id: &str) -> &'a Value {
    record["steps"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("no step {id}"))
}

fn alive(pid: u32) -> bool {
    // A zombie is not alive: it is only waiting for its parent to collect it.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

#[test]
fn passing_run_writes_its_archive() {
    let ran = runbook("", &["id: hello\nname: Say hello\nrun: echo hello\nexpect: {stdout: [\"hello\"]}\n"])
        .args(["exec", "t"])
        .stdout_has("▶ T (t)")
        .stdout_has("│ hello")
        .stdout_has("✔ [1/1] hello — Say hello")
        .stdout_has("✔ passed · 1 passed")
        .stdout_has("archive:")
        .run();
    let record = record(&ran);
    assert_eq!(record["schema"], 1);
    assert_eq!(record["verdict"], "passed");
    assert_eq!(record["runbook"]["id"], "t");
    assert_eq!(record["runbook"]["path"], "runbooks/t.md");
    assert_eq!(record["runbook"]["sha256"].as_str().unwrap().len(), 64);
    assert!(record["run_id"].as_str().unwrap().ends_with("-t"));
    let hello = step(&record, "hello");
    for key in ["id", "name", "outcome", "exit_code", "duration_ms", "attempts", "checks", "stdout_tail", "stderr_tail"]
    {
        assert!(hello.get(key).is_some(), "step lacks {key}: {hello:#}");
    }
    assert_eq!(hello["outcome"], "passed");
    assert_eq!(hello["exit_code"], 0);
    assert_eq!(hello["attempts"], 1);
    assert_eq!(hello["stdout_tail"], "hello");
    assert_eq!(hello["checks"][0]["expected"], "exit code 0");
    assert_eq!(hello["checks"][0]["actual"], "0");
    assert_eq!(hello["checks"][0]["passed"], true);
    let dir = run_dir(ran.path());
    assert_eq!(std::fs::read_to_string(dir.join("steps/01-hello.stdout")).unwrap(), "hello\n");
    let md = std::fs::read_to_string(dir.join("run.md")).unwrap();
    assert!(md.contains("# ✅ T — passed"), "{md}");
    assert!(md.contains("| ✅ | `hello` Say hello | passed |"), "{md}");
}

#[test]
fn failed_check_says_expected_and_seen_and_exit_codes_follow_the_verdict() {
    let ran = runbook("", &["id: out\nrun: echo 'disk is 97% full'\nexpect: {stdout: [\"!97%\"]}\n"])
        .args(["exec", "t"])
        .status(1)
        .stdout_has("✘ [1/1] out")
        .stdout_has("stdout: expected has no line containing \"97%\", saw line 1: disk is 97% full")
        .stdout_has("✘ failed")
        .run();
    assert_eq!(record(&ran)["verdict"], "failed");
    // Only a warning step failing: verdict warning, exit 0.
    let ran = runbook("", &["run: exit 4\nseverity: warning\n"]).args(["exec", "t"]).run();
    assert_eq!(record(&ran)["verdict"], "warning");
}

#[test]
fn a_failed_critical_step_stops_the_run_unless_told_otherwise() {
    let ran = runbook("", &["id: a\nrun: exit 1\n", "id: b\nrun: echo never\n"]).args(["exec", "t"]).status(1).run();
    let record = record(&ran);
    assert_eq!(step(&record, "b")["outcome"], "skipped");
    assert_eq!(step(&record, "b")["reason"], "not run: step `a` failed");
    let ran = runbook("defaults: {continue_on_error: true}\n", &["id: a\nrun: exit 1\n", "id: b\nrun: echo ran\n"])
        .args(["exec", "t"])
        .status(1)
        .run();
    assert_eq!(step(&record_of(&ran), "b")["outcome"], "passed");
}

fn record_of(ran: &Ran) -> Value {
    record(ran)
}

#[test]
fn grandchild_is_killed_on_timeout() {
    let ran = runbook("", &["id: hang\nrun: |\n  (sleep 1000 & echo $! > grandchild.pid; wait)\ntimeout: 1s\n"])
        .args(["exec", "t"])
        .status(1)
        .stdout_has("timed out after 1s")
        .run();
    let pid: u32 = std::fs::read_to_string(ran.path().join("grandchild.pid")).unwrap().trim().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "the background sleep {pid} survived the timeout");
    let record = record(&ran);
    assert_eq!(step(&record, "hang")["outcome"], "timed_out");
}

#[test]
fn a_daemon_that_left_the_process_group_is_killed_too() {
    let ran = runbook("", &["id: daemon\nrun: |\n  setsid sleep 1000 > /dev/null 2>&1 < /dev/null &\n  echo $! > daemon.pid\n  sleep 1000\ntimeout: 1s\n"])
        .args(["exec", "t"])
        .status(1)
        .run();
    let pid: u32 = std::fs::read_to_string(ran.path().join("daemon.pid")).unwrap().trim().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "the setsid daemon {pid} survived the timeout");
}

/// Starts `runbook exec --json`, waits for `step_started` of `step`, then returns the child.
fn start_and_wait_for(
    test: Test,
    step: &str,
) -> (tempfile::TempDir, std::process::Child, BufReader<std::process::ChildStdout>) {
    let (dir, mut command) = test.args(["exec", "t", "--json"]).into_command();
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "runbook ended before step {step} started");
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["event"] == "step_started" && event["step"] == step {
            break;
        }
    }
    (dir, child, reader)
}

#[test]
fn ctrl_c_interrupts_records_and_exits_130() {
    let test = runbook(
        "",
        &[
            "id: first\nrun: echo done\n",
            "id: slow\nrun: echo $$ > slow.pid; sleep 30\n",
            "id: after\nrun: echo never\n",
        ],
    );
    let (dir, mut child, mut reader) = start_and_wait_for(test, "slow");
    // Give the step a moment to write its pid.
    std::thread::sleep(Duration::from_millis(300));
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(status.code(), Some(130));
    let mut rest = String::new();
    std::io::Read::read_to_string(reader.get_mut(), &mut rest).unwrap();
    let last: Value = serde_json::from_str(rest.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "run_finished");
    assert_eq!(last["verdict"], "interrupted");
    let run =
        serde_json::from_str::<Value>(&std::fs::read_to_string(run_dir(dir.path()).join("run.json")).unwrap()).unwrap();
    assert_eq!(run["verdict"], "interrupted");
    assert_eq!(step(&run, "first")["outcome"], "passed");
    assert_eq!(step(&run, "slow")["outcome"], "interrupted");
    assert_eq!(step(&run, "after")["outcome"], "skipped");
    let pid: u32 = std::fs::read_to_string(dir.path().join("slow.pid")).unwrap().trim().parse().unwrap();
    assert!(!alive(pid), "the interrupted step's shell survived");
    assert!(run_dir(dir.path()).join("run.md").is_file());
}

#[test]
fn kill_9_leaves_a_readable_record_of_the_finished_steps() {
    let test = runbook(
        "",
        &["id: one\nrun: echo 1\n", "id: two\nrun: echo 2\n", "id: three\nrun: echo $$ > three.pid; sleep 30\n"],
    );
    let (dir, mut child, _reader) = start_and_wait_for(test, "three");
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let run: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir(dir.path()).join("run.json")).unwrap()).unwrap();
    assert_eq!(run["verdict"], "running");
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["outcome"], "passed");
    assert_eq!(steps[1]["outcome"], "passed");
    // The orphaned step is not ours to clean up any more; the test does it.
    if let Ok(pid) = std::fs::read_to_string(dir.path().join("three.pid")) {
        let pid = rustix::process::Pid::from_raw(pid.trim().parse().unwrap()).unwrap();
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

#[test]
fn large_output_is_logged_completely_with_a_bounded_tail() {
    let ran =
        runbook("", &["id: big\nrun: head -c 200000000 /dev/zero | tr '\\0' x\n"]).args(["exec", "t", "--quiet"]).run();
    let record = record(&ran);
    let big = step(&record, "big");
    assert_eq!(big["stdout"]["bytes"], 200_000_000);
    assert_eq!(big["stdout"]["truncated"], true);
    assert!(big["stdout_tail"].as_str().unwrap().len() <= 8 * 1024);
    let log = run_dir(ran.path()).join(big["stdout"]["file"].as_str().unwrap());
    assert_eq!(std::fs::metadata(log).unwrap().len(), 200_000_000);
    assert!(std::fs::metadata(run_dir(ran.path()).join("run.json")).unwrap().len() < 64 * 1024);
}

/// Past its first MiB, output nothing needs to read goes from the pipe to the log inside the
/// kernel; the record must not tell the difference.
#[test]
fn output_passed_straight_to_the_log_keeps_its_tail_and_size() {
    let script = "run: |\n  awk 'BEGIN { for (i = 0; i < 300000; i++) print \"some line\" }'\n  echo last line\n";
    let ran = runbook("", &[&format!("id: big\n{script}")]).args(["exec", "t", "--quiet"]).run();
    let record = record(&ran);
    let big = step(&record, "big");
    assert_eq!(big["stdout"]["bytes"], 3_000_000 + 10);
    assert_eq!(big["stdout"]["truncated"], true);
    let tail = big["stdout_tail"].as_str().unwrap();
    assert!(tail.ends_with("some line\nsome line\nlast line"), "{tail:?}");
    assert!(tail.starts_with("some line\n"), "whole lines only");
    assert!(tail.len() <= 8 * 1024 && tail.len() > 8 * 1024 - 20, "{}", tail.len());
    let log = std::fs::read(run_dir(ran.path()).join(big["stdout"]["file"].as_str().unwrap())).unwrap();
    assert_eq!(log.len(), 3_000_000 + 10);
    assert!(log.ends_with(b"some line\nlast line\n"));
}

/// A secret, a pattern or a capture past the first MiB is still seen: such output is never
/// passed through unread.
#[test]
fn secrets_and_patterns_past_the_first_mebibyte_are_still_seen() {
    let secret = "s3cr3t-after-two-mebibytes";
    let steps = [
        "id: masked\nrun: |\n  head -c 2500000 /dev/zero | tr '\\0' y\n  echo\n  echo \"key=$API_TOKEN\"\n",
        "id: pattern\nrun: |\n  head -c 2500000 /dev/zero | tr '\\0' y\n  echo\n  echo 'FATAL: late error'\nexpect: {stdout: [\"!FATAL\"]}\ncontinue_on_error: true\n",
        "id: captured\nrun: |\n  head -c 2500000 /dev/zero | tr '\\0' y\n  echo\n  echo 'version 9.9'\ncapture: {v: 'version (\\S+)'}\n",
    ];
    let ran = runbook("secrets: [API_TOKEN]\n", &steps)
        .env("API_TOKEN", secret)
        .args(["exec", "t", "--quiet"])
        .any_status()
        .run();
    let record = record(&ran);
    let log = std::fs::read_to_string(run_dir(ran.path()).join("steps/01-masked.stdout")).unwrap();
    assert!(!log.contains(secret) && log.ends_with("key=****\n"), "{}", &log[log.len() - 30..]);
    assert_eq!(step(&record, "pattern")["outcome"], "failed");
    assert_eq!(step(&record, "captured")["captures"]["v"], "9.9");
}

#[test]
fn secrets_never_reach_stdout_or_the_archive() {
    let secret = "pa55-w0rd-9f8e7d";
    let ran = runbook(
        "secrets: [API_TOKEN]\nvars: {token: \"\"}\n",
        &[
            "id: leak\nrun: |\n  echo \"token is $API_TOKEN\"\n  echo \"again: $API_TOKEN\" >&2\n  echo \"$API_TOKEN\" | rev | rev\nexpect: {stdout: [\"!nothing\"]}\n",
            "id: in_command\nrun: echo {{ env.API_TOKEN }}\ncapture: {tok: '(\\S+)'}\n",
        ],
    )
    .env("API_TOKEN", secret)
    .args(["exec", "t", "--junit", "junit.xml"])
    .stdout_has("token is ****")
    .run();
    assert!(!ran.stdout.contains(secret) && !ran.stderr.contains(secret));
    let mut files = vec![ran.path().join("junit.xml")];
    let mut stack = vec![run_dir(ran.path())];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    assert!(files.len() >= 6, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains(secret), "{} holds the secret:\n{text}", file.display());
    }
    let record = record(&ran);
    assert_eq!(step(&record, "in_command")["command"], "echo ****");
}

#[test]
fn secret_flag_redacts_any_variable() {
    Test::new()
        .file("runbooks/t.md", "# T\n\n```yaml step\nrun: echo \"$OTHER\"\n```\n")
        .env("OTHER", "visible-unless-redacted")
        .args(["exec", "t", "--secret", "OTHER", "--no-archive"])
        .stdout_has("│ ****")
        .stdout_lacks("visible-unless-redacted")
        .run();
}

#[test]
fn confirm_without_a_terminal_is_skipped_and_yes_runs_it() {
    let test = || runbook("", &["id: change\nconfirm: Reload the module?\nrun: touch changed\n"]);
    let ran = test().args(["exec", "t"]).stdout_has("needs confirmation: Reload the module?").run();
    assert!(!ran.path().join("changed").exists());
    assert_eq!(step(&record(&ran), "change")["outcome"], "skipped");
    let ran = test().args(["exec", "t", "--yes"]).run();
    assert!(ran.path().join("changed").exists());
    assert!(step(&record(&ran), "change")["confirmed_by"].as_str().unwrap().starts_with("--yes"));
}

#[test]
fn manual_steps_need_a_person() {
    let ran = runbook("", &["id: look\nmanual: Check the fan spins.\n"]).args(["exec", "t", "--yes"]).run();
    let look = step(&record(&ran), "look").clone();
    assert_eq!(look["outcome"], "skipped");
    assert!(look["reason"].as_str().unwrap().contains("needs a person"));
}

#[test]
fn when_reads_an_earlier_outcome() {
    let ran = runbook(
        "defaults: {continue_on_error: true}\n",
        &[
            "id: probe\nrun: exit 1\n",
            "id: fix\nwhen: not steps.probe.passed\nrun: echo fixing\n",
            "id: celebrate\nwhen: steps.probe.passed\nrun: echo party\n",
            "id: status\nwhen: steps.probe.status == 'failed' and steps.probe.exit == 1\nrun: echo seen\n",
        ],
    )
    .args(["exec", "t"])
    .status(1)
    .run();
    let record = record(&ran);
    assert_eq!(step(&record, "fix")["outcome"], "passed");
    assert_eq!(step(&record, "celebrate")["outcome"], "skipped");
    assert_eq!(step(&record, "celebrate")["reason"], "`when: steps.probe.passed` is false");
    assert_eq!(step(&record, "status")["outcome"], "passed");
}

#[test]
fn retry_passes_on_the_third_attempt() {
    let ran = runbook("", &["id: flaky\nrun: |\n  n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count\n  echo attempt $n\n  [ $n -ge 3 ]\nretry: {attempts: 5, delay: 100ms}\n"])
        .args(["exec", "t"])
        .stdout_has("attempt 3 of 5")
        .run();
    let flaky = step(&record(&ran), "flaky").clone();
    assert_eq!(flaky["outcome"], "passed");
    assert_eq!(flaky["attempts"], 3);
    let log = std::fs::read_to_string(run_dir(ran.path()).join("steps/01-flaky.stdout")).unwrap();
    assert!(log.contains("attempt 1") && log.contains("──── attempt 3 ────") && log.contains("attempt 3"), "{log}");
}

#[test]
fn capture_and_assert() {
    let ran = runbook(
        "",
        &[
            "id: free\nrun: \"echo 'free: 42 GB'\"\ncapture: {free_gb: 'free: (\\d+)'}\nassert: [\"free_gb | int > 20\", \"steps.free.exit == 0\"]\n",
            "id: use\nrun: echo \"we have {{ free_gb }} GB\"\nexpect: {stdout: [\"we have 42 GB\"]}\n",
            "id: low\nrun: \"echo 'free: 3 GB'\"\ncapture: {left: 'free: (\\d+)'}\nassert: [\"left | int > 20\"]\n",
        ],
    )
    .args(["exec", "t"])
    .status(1)
    .stdout_has("assert: expected left | int > 20, saw false")
    .run();
    let record = record(&ran);
    assert_eq!(step(&record, "free")["captures"]["free_gb"], "42");
    assert_eq!(step(&record, "use")["outcome"], "passed");
    assert_eq!(step(&record, "low")["outcome"], "failed");
}

#[test]
fn a_capture_that_finds_nothing_fails_the_step() {
    runbook("", &["run: echo nothing\ncapture: {version: 'version (\\S+)'}\n"])
        .args(["exec", "t"])
        .status(1)
        .stdout_has("capture `version`: expected a line of stdout matching /version (\\S+)/, saw no line matched")
        .run();
}

#[test]
fn resume_continues_after_a_failure() {
    let test = runbook(
        "",
        &[
            "id: one\nrun: echo one | tee -a ran.log\ncapture: {word: '(\\w+)'}\n",
            "id: two\nrun: test -f fixed && echo two >> ran.log\n",
            "id: three\nrun: echo \"three {{ word }}\" >> ran.log\n",
        ],
    );
    let ran = test.args(["exec", "t"]).status(1).run();
    std::fs::write(ran.path().join("fixed"), "").unwrap();
    let resume = std::process::Command::new(crate::test::BIN)
        .args(["exec", "t", "--resume"])
        .current_dir(ran.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(resume.status.code(), Some(0), "{}", String::from_utf8_lossy(&resume.stdout));
    assert_eq!(std::fs::read_to_string(ran.path().join("ran.log")).unwrap(), "one\ntwo\nthree one\n");
    let latest = record(&ran);
    assert_eq!(latest["verdict"], "passed");
    assert!(latest["options"]["resumed_from"].as_str().unwrap().ends_with("-t"));
    assert_eq!(step(&latest, "one")["resumed"], true);
    // Nothing left to resume once it passed.
    let again = std::process::Command::new(crate::test::BIN)
        .args(["exec", "t", "--resume"])
        .current_dir(ran.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing to resume"));
}

#[test]
fn resume_is_refused_when_the_runbook_changed() {
    let ran = runbook("", &["id: a\nrun: exit 1\n"]).args(["exec", "t"]).status(1).run();
    std::fs::write(ran.path().join("runbooks/t.md"), "# T\n\n```yaml step\nid: a\nrun: exit 0\n```\n").unwrap();
    let resume = std::process::Command::new(crate::test::BIN)
        .args(["exec", "t", "--resume"])
        .current_dir(ran.path())
        .output()
        .unwrap();
    assert_eq!(resume.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&resume.stderr);
    assert!(stderr.contains("t changed since run"), "{stderr}");
}

#[test]
fn bad_vars_and_templates_stop_before_anything_runs() {
    let test = || {
        runbook("vars: {path: /}\n", &["id: a\nrun: touch ran\n", "id: b\nrun: echo {{ env.RUNBOOK_TEST_MISSING }}\n"])
    };
    let ran = test()
        .args(["exec", "t", "--var", "pth=/x"])
        .status(2)
        .stdout("")
        .stderr("error: unknown variable `pth` for t\n  hint: did you mean `path`?\n")
        .run();
    assert!(!ran.path().join("ran").exists());
    let ran = test()
        .args(["exec", "t", "--var", "path"])
        .status(2)
        .stdout("")
        .stderr("error: bad --var `path`\n  hint: write --var name=value\n")
        .run();
    assert!(!ran.path().join("ran").exists());
    let ran = test().args(["exec", "t"]).status(2).stderr_has("step `b` cannot be rendered").run();
    assert!(!ran.path().join("ran").exists(), "nothing runs when a template cannot render");
    assert!(!ran.path().join("archives").exists());
}

#[test]
fn vars_override_defaults() {
    runbook("vars: {who: world}\n", &["run: echo hello {{ who | shell_quote }}\n"])
        .args(["exec", "t", "--var", "who=big team", "--no-archive"])
        .stdout_has("│ hello big team")
        .run();
}

#[test]
fn dry_run_renders_everything_and_runs_nothing() {
    let ran = runbook(
        "vars: {path: /srv/data}\n",
        &[
            "id: a\nrun: touch ran; du -sh {{ path | shell_quote }}\n",
            "id: b\nwhen: steps.a.passed\ndisk: {path: \"{{ path }}\", used_percent: {lt: 90}}\n",
        ],
    )
    .args(["exec", "t", "--dry-run"])
    .stdout_has("$ touch ran; du -sh /srv/data")
    .stdout_has("disk probe: disk at /srv/data")
    .stdout_has("used < 90%")
    .stdout_has("when: steps.a.passed")
    .run();
    assert!(!ran.path().join("ran").exists());
    assert!(!ran.path().join("archives").exists());
}

#[test]
fn from_and_only_select_steps() {
    let steps =
        ["id: a\nrun: echo a >> ran.log\n", "id: b\nrun: echo b >> ran.log\n", "id: c\nrun: echo c >> ran.log\n"];
    let ran = runbook("", &steps).args(["exec", "t", "--from", "b"]).run();
    assert_eq!(std::fs::read_to_string(ran.path().join("ran.log")).unwrap(), "b\nc\n");
    let ran = runbook("", &steps).args(["exec", "t", "--only", "a", "--only", "c"]).run();
    assert_eq!(std::fs::read_to_string(ran.path().join("ran.log")).unwrap(), "a\nc\n");
    runbook("", &steps)
        .args(["exec", "t", "--from", "bb"])
        .status(2)
        .stderr_has("no step `bb` for --from")
        .stderr_has("did you mean `b`?")
        .run();
}

#[test]
fn json_events_parse() {
    let ran = runbook("", &["id: a\nrun: echo hi\n", "id: b\nrun: exit 2\nseverity: warning\n"])
        .args(["exec", "t", "--json"])
        .run();
    let events: Vec<Value> =
        ran.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"run_started"));
    assert_eq!(kinds.last(), Some(&"run_finished"));
    assert_eq!(kinds.iter().filter(|k| **k == "step_started").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "step_finished").count(), 2);
    assert!(events.iter().any(|e| e["event"] == "output" && e["line"] == "hi" && e["stream"] == "stdout"));
    let last = events.last().unwrap();
    assert_eq!(last["verdict"], "warning");
    assert!(last["archive"].as_str().unwrap().contains("archives"));
    let b = events.iter().find(|e| e["event"] == "step_finished" && e["step"] == "b").unwrap();
    assert_eq!(b["outcome"], "failed");
    assert_eq!(b["exit_code"], 2);
}

#[test]
fn junit_is_valid_xml() {
    let ran = runbook(
        "defaults: {continue_on_error: true}\n",
        &[
            "id: ok\nrun: 'true'\n",
            "id: bad\nrun: echo '<b>&amp;</b>'; exit 1\n",
            "id: later\nwhen: 'false'\nrun: 'true'\n",
        ],
    )
    .args(["exec", "t", "--junit", "report.xml"])
    .status(1)
    .run();
    let xml = std::fs::read_to_string(ran.path().join("report.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("invalid XML ({e}):\n{xml}"));
    let cases: Vec<roxmltree::Node> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), 3);
    assert!(cases[1].children().any(|c| c.has_tag_name("failure")));
    assert!(cases[2].children().any(|c| c.has_tag_name("skipped")));
    assert!(xml.contains("&lt;b&gt;"), "output is escaped");
}

#[test]
fn no_archive_writes_nothing() {
    let ran = runbook("", &["run: echo hi\n"]).args(["exec", "t", "--no-archive"]).stdout_lacks("archive:").run();
    assert!(!ran.path().join("archives").exists());
}

#[test]
fn quiet_shows_only_results() {
    runbook("", &["id: a\nrun: echo chatter\n"])
        .args(["exec", "t", "--quiet", "--no-archive"])
        .stdout_lacks("│ chatter")
        .stdout_lacks("▶")
        .stdout_has("✔ [1/1] a")
        .stdout_has("✔ passed")
        .run();
}

#[test]
fn step_env_cwd_and_shell() {
    let ran = runbook(
        "vars: {greeting: hi}\n",
        &[
            "id: env\nrun: echo \"$GREETING from $RUNBOOK_STEP\"\nenv: {GREETING: \"{{ greeting }}\"}\nexpect: {stdout: [\"hi from env\"]}\n",
            "id: cwd\nrun: pwd\ncwd: sub\nexpect: {stdout: [\"/sub\"]}\n",
            "id: py\nshell: sh -c\nrun: echo \"$0\"\nexpect: {stdout: [\"sh\"]}\n",
            "id: exits\nrun: exit 3\nexpect: {exit: [0, 3]}\n",
            "id: any\nrun: exit 9\nexpect: {exit: any}\n",
        ],
    )
    .dir("sub")
    .args(["exec", "t"])
    .run();
    let record = record(&ran);
    for id in ["env", "cwd", "py", "exits", "any"] {
        assert_eq!(step(&record, id)["outcome"], "passed", "{id}: {:#}", step(&record, id));
    }
}

#[test]
fn a_missing_working_directory_is_an_error_outcome() {
    let ran = runbook("", &["id: nowhere\nrun: 'true'\ncwd: does-not-exist\n"]).args(["exec", "t"]).status(1).run();
    let nowhere = step(&record(&ran), "nowhere").clone();
    assert_eq!(nowhere["outcome"], "error");
    assert!(nowhere["reason"].as_str().unwrap().contains("does not exist"), "{nowhere:#}");
}

#[test]
fn broken_runbooks_and_documents_are_refused() {
    Test::new()
        .file("runbooks/b.md", "# B\n\n```yaml step\nrun: true\ntimeout: soon\n```\n")
        .args(["exec", "b"])
        .status(2)
        .stderr_has("bad duration `soon`")
        .stderr_has("b has 1 error: it will not run")
        .run();
    Test::new()
        .file("runbooks/doc.md", "# Just prose\n")
        .args(["exec", "doc"])
        .status(2)
        .stderr_has("is a document")
        .run();
    Test::new().file("runbooks/a.md", "# A\n").args(["exec", "nope"]).status(2).stderr_has("no runbook `nope`").run();
}

#[test]
fn archive_list_and_show() {
    let ran = runbook("", &["id: a\nrun: echo hi\n"]).args(["exec", "t"]).run();
    let run_id = record(&ran)["run_id"].as_str().unwrap().to_string();
    let list = std::process::Command::new(crate::test::BIN)
        .args(["archive", "list", "--json"])
        .current_dir(ran.path())
        .output()
        .unwrap();
    let rows: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(rows[0]["run_id"], run_id.as_str());
    assert_eq!(rows[0]["verdict"], "passed");
    assert_eq!(rows[0]["runbook"], "t");
    for (args, expect) in [
        (vec!["archive", "list", "--runbook", "t"], run_id.as_str()),
        (vec!["archive", "list", "--verdict", "failed"], "no runs"),
        (vec!["archive", "show", "latest"], "# ✅ T — passed"),
        (vec!["archive", "show", &run_id[..10]], "# ✅ T — passed"),
    ] {
        let out = std::process::Command::new(crate::test::BIN)
            .args(&args)
            .current_dir(ran.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(expect), "{args:?}: {stdout}");
    }
    let show = std::process::Command::new(crate::test::BIN)
        .args(["archive", "show", "latest", "--json"])
        .current_dir(ran.path())
        .output()
        .unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&show.stdout).unwrap()["run_id"], run_id.as_str());
    let bad = std::process::Command::new(crate::test::BIN)
        .args(["archive", "list", "--verdict", "meh"])
        .current_dir(ran.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn archives_flag_moves_the_archive() {
    let ran = runbook("", &["run: echo hi\n"]).args(["--archives", "elsewhere", "exec", "t"]).run();
    assert!(ran.path().join("elsewhere").is_dir());
    assert!(!ran.path().join("archives").exists());
}

#[test]
fn colours_follow_the_flag() {
    let ran = runbook("", &["run: echo hi\n"]).args(["--color", "always", "exec", "t", "--no-archive"]).run();
    assert!(ran.stdout.contains("\u{1b}["), "--color always colours exec output");
    let ran = runbook("", &["run: echo hi\n"]).args(["exec", "t", "--no-archive"]).run();
    assert!(!ran.stdout.contains("\u{1b}["), "NO_COLOR and a pipe: no colour");
}

/// Runs `runbook` under a pseudo-terminal (util-linux `script`), typing `input` once it asks.
fn in_a_terminal(test: Test, args: &str, input: &str) -> (tempfile::TempDir, String) {
    let (dir, command) = test.into_command();
    let command_line = format!("{} {args}", crate::test::BIN);
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command_line, "/dev/null"])
        .current_dir(command.get_current_dir().unwrap())
        .env("HOME", dir.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs commands under a pseudo-terminal");
    // Answer after the prompt is up; the terminal buffers the line until it is read.
    std::thread::sleep(Duration::from_millis(500));
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    (dir, String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn confirm_in_a_terminal_asks_and_obeys() {
    let steps = ["id: change\nconfirm: Reload the module?\nrun: touch changed\n"];
    let (dir, screen) = in_a_terminal(runbook("", &steps), "exec t", "y\n");
    assert!(screen.contains("Reload the module? [y/N]"), "{screen}");
    assert!(dir.path().join("changed").exists(), "answered yes: it ran\n{screen}");
    let run =
        serde_json::from_str::<Value>(&std::fs::read_to_string(run_dir(dir.path()).join("run.json")).unwrap()).unwrap();
    let by = step(&run, "change")["confirmed_by"].as_str().unwrap().to_string();
    assert!(by.contains(" at 20"), "who and when: {by}");

    let (dir, screen) = in_a_terminal(runbook("", &steps), "exec t", "n\n");
    assert!(!dir.path().join("changed").exists(), "answered no: it did not run\n{screen}");
    let run =
        serde_json::from_str::<Value>(&std::fs::read_to_string(run_dir(dir.path()).join("run.json")).unwrap()).unwrap();
    assert_eq!(step(&run, "change")["reason"], "declined: Reload the module?");
}

/// A runbook with a read-only step, a step that changes the system and a manual one.
fn mixed_runbook() -> Test {
    runbook(
        "",
        &[
            "id: read\nrun: echo reading\n",
            "id: change\nconfirm: Reload the module?\nrun: touch changed\n",
            "id: look\nmanual: Check the fan spins.\n",
        ],
    )
}

#[test]
fn diagnose_runs_only_the_steps_that_change_nothing_and_need_no_person() {
    let ran = mixed_runbook().args(["exec", "t", "--diagnose"]).run();
    assert!(!ran.path().join("changed").exists());
    let record = record(&ran);
    assert_eq!(record["verdict"], "passed");
    assert_eq!(record["options"]["diagnose"], true);
    assert_eq!(step(&record, "read")["outcome"], "passed");
    assert_eq!(step(&record, "change")["reason"], "not run by --diagnose: it changes the system");
    assert_eq!(step(&record, "look")["reason"], "not run by --diagnose: it needs a person");
    let run_md = std::fs::read_to_string(run_dir(ran.path()).join("run.md")).unwrap();
    assert!(run_md.contains("| mode | diagnose: read-only steps only |"), "{run_md}");
}

#[test]
fn diagnose_never_asks_even_on_a_terminal() {
    // On a terminal a plain run asks "Reload the module? [y/N]" and waits; --diagnose must not.
    let dir = mixed_runbook().run_dir();
    let root = dir.path().to_path_buf();
    let command = format!("{} exec t --diagnose --color never", crate::test::BIN);
    let output = std::process::Command::new("timeout")
        .args(["20", "script", "-qec", &command, "/dev/null"])
        .current_dir(&root)
        .env("NO_COLOR", "1")
        .env("HOME", &root)
        .env("TERM", "dumb")
        .env_remove("RUNBOOK_KB")
        .stdin(Stdio::null())
        .output()
        .expect("run script(1)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(!text.contains("[y/N]"), "--diagnose asked a question:\n{text}");
    assert!(text.contains("not run by --diagnose: it needs a person"), "{text}");
}

#[test]
fn diagnose_refuses_yes() {
    mixed_runbook().args(["exec", "t", "--diagnose", "--yes"]).status(2).stderr_has("--yes").run();
}

#[test]
fn trigger_is_recorded_in_run_json_and_run_md() {
    let trigger = r#"{"kind":"alertmanager","receiver":"runbook","fingerprint":"c0ffee","status":"firing",
        "labels":{"alertname":"DiskFull","mountpoint":"/"},"starts_at":"2026-01-01T00:00:00Z",
        "generator_url":"http://prometheus:9090/graph","external_url":"http://alertmanager:9093"}"#;
    let ran = mixed_runbook().args(["exec", "t", "--diagnose", "--trigger", trigger]).run();
    let record = record(&ran);
    assert_eq!(record["trigger"]["kind"], "alertmanager");
    assert_eq!(record["trigger"]["fingerprint"], "c0ffee");
    assert_eq!(record["trigger"]["labels"]["mountpoint"], "/");
    assert_eq!(record["trigger"]["generator_url"], "http://prometheus:9090/graph");
    let run_md = std::fs::read_to_string(run_dir(ran.path()).join("run.md")).unwrap();
    assert!(run_md.contains("| triggered by | Alertmanager alert DiskFull (firing) |"), "{run_md}");
    assert!(run_md.contains("| fingerprint | c0ffee |"), "{run_md}");
    assert!(run_md.contains("| labels | alertname=DiskFull mountpoint=/ |"), "{run_md}");
}

#[test]
fn a_run_without_trigger_records_none() {
    let ran = mixed_runbook().args(["exec", "t", "--diagnose"]).run();
    assert!(record(&ran).get("trigger").is_none());
}

#[test]
fn malformed_trigger_is_invalid_input_and_nothing_runs() {
    for (bad, says) in [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object, not a list"),
        (r#"{"receiver":"x"}"#, "missing field `kind`"),
        (r#"{"kind":"alertmanager","labels":{"a":[1]}}"#, "fields do not fit"),
    ] {
        let ran = mixed_runbook().args(["exec", "t", "--trigger", bad]).status(2).stderr_has(says).run();
        assert!(!ran.path().join("archives").exists(), "{bad}: a run started");
    }
}

/// Snapshot tests pin what a run reads from the world: time and host.
#[test]
fn a_pinned_clock_and_host_make_the_record_repeatable() {
    let ran = runbook("", &["id: a\nrun: sleep 0.05\n"])
        .env("RUNBOOK_CLOCK", "2026-01-02T03:04:05Z")
        .env("RUNBOOK_HOSTNAME", "pinned-host")
        .env("USER", "tester")
        .args(["exec", "t", "--quiet"])
        .run();
    let record = record(&ran);
    assert_eq!(record["run_id"], "20260102T030405Z-t");
    assert_eq!(record["started_at"], "2026-01-02T03:04:05Z");
    assert_eq!(record["finished_at"], "2026-01-02T03:04:05Z");
    assert_eq!(record["duration_ms"], 0);
    assert_eq!(record["host"]["name"], "pinned-host");
    assert_eq!(record["user"], "tester");
    assert_eq!(step(&record, "a")["duration_ms"], 0);
    assert_eq!(step(&record, "a")["started_at"], "2026-01-02T03:04:05Z");
}

#[test]
fn a_bad_pinned_clock_is_invalid_input() {
    runbook("", &["run: \"true\"\n"])
        .env("RUNBOOK_CLOCK", "yesterday")
        .args(["exec", "t"])
        .status(2)
        .stderr_has("bad RUNBOOK_CLOCK `yesterday`")
        .run();
}
