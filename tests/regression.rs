//! One test per past bug, named after the bug, with a line saying what broke; each fails if
//! its bug comes back. (The SIGKILL orphan of issue 12 is pinned in faults.rs, beside the other
//! kill -9 tests that share its helpers.)

use crate::errors::assert_error;
use crate::site_kit::{Server, kb_with_run};
use crate::test::Test;

// `check` (model/kb.rs) and the site (render/url.rs) each had a hand-written percent-decoder
// that sliced a `%` escape by bytes and panicked when a multi-byte character cut it short.
#[test]
fn percent_escape_cut_by_a_multibyte_character_panicked() {
    assert_error("# T\n\nSee [the other](%1é.md) page.\n", 3, "link to missing runbook `%1é.md`");
    Test::new()
        .file("runbooks/ops/t.md", "# T\n\nSee [the other](%1é.md) page.\n")
        .args(["build", "--out", "site"])
        .stderr(
            "warning: runbooks/ops/t.md:3: link to missing runbook or anchor `%1é.md`\n\
             warning: 1 runbook has errors (their pages list them; `runbook check` for details)\n",
        )
        .run();
}

// A step with an error of its own also made every `steps.<id>` reference to it an error.
#[test]
fn a_broken_step_cascaded_into_reference_errors() {
    let text = "# T\n\n```yaml step\nid: a\nrun: true\nexpect: {stdout: []}\n```\n\n```yaml step\nrun: true\nwhen: steps.a.passed\n```\n";
    assert_error(text, 6, "empty matcher list");
}

// `archive prune --older-than soon` said "bad --since `soon`": the flag of another command.
#[test]
fn prune_older_than_named_the_since_flag() {
    Test::new()
        .args(["archive", "prune", "--older-than", "soon"])
        .status(2)
        .stderr("error: bad --older-than `soon`\n  hint: write a number with a unit: 90m, 36h, 7d, 2w\n")
        .run();
    Test::new()
        .args(["cycle", "--from", "last-tuesday"])
        .status(2)
        .stderr("error: bad date `last-tuesday`\n  hint: write 2026-11-20 or 2026-11-20T08:00:00Z\n")
        .run();
}

// A runbook file deleted after `serve` loaded the KB made /api/runbooks/<id> a 500.
#[test]
fn a_runbook_removed_under_serve_was_a_server_error() {
    let dir = kb_with_run();
    let server = Server::start_unwatched(dir.path());
    assert_eq!(server.get("/api/runbooks/disk").status, 200);
    std::fs::remove_file(dir.path().join("runbooks/operations/disk.md")).unwrap();
    let api = server.get("/api/runbooks/disk");
    assert_eq!(api.status, 404, "{api:?}");
    assert!(api.json()["error"].as_str().unwrap().contains("disk.md was removed"), "{api:?}");
    let page = server.get("/runbooks/disk/");
    assert!(page.status < 500, "{page:?}");
    assert!(page.body.contains("cannot read"), "{}", page.body);
}

// A loop of loops in a step template never ended: `exec` hung while rendering (found by fuzzing).
#[test]
fn a_loop_of_loops_in_a_step_template_hung_exec() {
    let bomb = "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}";
    let started = std::time::Instant::now();
    Test::new()
        .file("runbooks/t.md", &format!("# T\n\n```yaml step\nid: bomb\nrun: echo '{bomb}'\n```\n"))
        .args(["exec", "t", "--no-archive"])
        .status(2)
        .stderr_has("it does too much work")
        .stderr_has("loop in the script instead")
        .stdout_lacks("0123")
        .run();
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "took {:?}", started.elapsed());
}

// `show` and `exec` found a runbook's body with `index_of_path(..).unwrap_or_default()`: a path
// the lookup missed silently read runbook 0's body. Every runbook must show and run its own steps,
// whether it is first, last, addressed by path, or read from the parse cache.
#[test]
fn index_of_path_unwrap_or_default_picked_runbook_0() {
    let runbooks = [
        ("first", "First", "one", "ran-first"),
        ("b/notes", "B notes", "two", "ran-b-notes"),
        ("c/notes", "C notes", "three", "ran-c-notes"),
    ];
    let mut test = Test::new()
        .file("runbooks/a/first.md", "# First\n\n```yaml step\nid: one\nrun: echo ran-first\n```\n")
        .file("runbooks/b/notes.md", "# B notes\n\n```yaml step\nid: two\nrun: echo ran-b-notes\n```\n")
        .file("runbooks/c/notes.md", "# C notes\n\n```yaml step\nid: three\nrun: echo ran-c-notes\n```\n");
    // The first command fills the parse cache; the second round reads from it.
    for _round in 0..2 {
        for (id, title, step, output) in runbooks {
            let others: Vec<&str> = runbooks.iter().map(|r| r.3).filter(|o| *o != output).collect();
            let mut show = test.args(["show", id]).stdout_has(title).stdout_has(&format!("$ echo {output}"));
            for other in &others {
                show = show.stdout_lacks(other);
            }
            let mut exec = show.run().again().args(["exec", id, "--no-archive"]).stdout_has(output).stdout_has(step);
            for other in &others {
                exec = exec.stdout_lacks(other);
            }
            test = exec.run().again();
        }
    }
}

// A Hugo shortcode's look-ahead window was cut at a byte count, inside a multi-byte character:
// an unclosed `{{<` followed by non-ASCII text panicked every command that read the page.
#[test]
fn a_look_ahead_cut_inside_a_utf8_character_panicked() {
    // Two spaces put every `é` at an odd offset from the `{{<`, so the 4096-byte window ends
    // inside one.
    let page = format!("# Notes\n\nAn unclosed tag: {{{{<  {} and the end.\n", "é".repeat(4096));
    let test =
        Test::new().file("runbooks/notes.md", &page).args(["check"]).stdout_has("checked 1 runbook: 0 errors").run();
    let test = test.again().args(["show", "notes"]).stdout_has("Notes").run();
    test.again().args(["search", "unclosed"]).stdout_has("notes").run();
}

// Heading anchors dropped combining marks (Hindi vowel signs, a nukta), so links to the
// headings of a Hindi README resolved nowhere and `check` reported missing anchors.
#[test]
fn heading_anchors_dropped_combining_marks() {
    Test::new()
        .file("runbooks/readme.md", "# README\n\n## वर्कफ़्लो\n\n## Cafe\u{301} menu\n\nSee [the workflow](#वर्कफ़्लो) and [the menu](#cafe\u{301}-menu).\n")
        .args(["check"])
        .stdout("checked 1 runbook: 0 errors, 0 warnings\n")
        .run();
}

// A failed run of a runbook that declares no diagnoses said "Diagnosis: no known cause matched"
// in the terminal, run.md and the run page, as if causes had been looked for and not found.
#[test]
fn no_known_cause_was_claimed_for_runbooks_without_diagnoses() {
    let failing = "# T\n\n```yaml step\nid: probe\nrun: \"false\"\n```\n";
    let ran = Test::new().file("runbooks/t.md", failing).args(["exec", "t"]).status(1).stdout_lacks("Diagnosis:").run();
    let run = crate::exec::run_dir(ran.path());
    let run_md = std::fs::read_to_string(run.join("run.md")).unwrap();
    assert!(!run_md.contains("## Diagnosis"), "{run_md}");
    let record = std::fs::read_to_string(run.join("run.json")).unwrap();
    assert!(record.contains("\"declares_diagnoses\": false"), "{record}");

    let declared =
        format!("{failing}\n```yaml diagnosis\nid: never\nwhen: steps.probe.passed\ncause: impossible\n```\n");
    let ran = Test::new()
        .file("runbooks/t.md", &declared)
        .args(["exec", "t"])
        .status(1)
        .stdout_has("Diagnosis: no known cause matched")
        .run();
    let run_md = std::fs::read_to_string(crate::exec::run_dir(ran.path()).join("run.md")).unwrap();
    assert!(run_md.contains("No known cause matched."), "{run_md}");
}
