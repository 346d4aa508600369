//! Every parser error rule gets bad input, and the diagnostic's message and line are asserted.

use crate::test::Test;
use serde_json::Value;

/// Checks a KB holding `runbooks/ops/t.md` = `text`; returns the diagnostics of `check --json`.
pub(crate) fn diagnostics(text: &str) -> Vec<Value> {
    let ran = Test::new().file("runbooks/ops/t.md", text).args(["check", "--json"]).any_status().run();
    let json = ran.json();
    let errors = json["errors"].as_u64().unwrap();
    assert_eq!(ran.status, if errors > 0 { 1 } else { 0 }, "exit status follows the error count");
    json["diagnostics"].as_array().unwrap().clone()
}

/// Asserts exactly one diagnostic, an error at `line` whose message contains `message`.
#[track_caller]
pub(crate) fn assert_error(text: &str, line: u64, message: &str) -> Value {
    let diags = diagnostics(text);
    assert_eq!(diags.len(), 1, "expected one diagnostic, got {diags:#?}");
    let diag = &diags[0];
    assert_eq!(diag["severity"], "error", "{diag:#}");
    assert_eq!(diag["path"], "runbooks/ops/t.md", "{diag:#}");
    assert_eq!(diag["line"], line, "{diag:#}");
    let text = diag["message"].as_str().unwrap();
    assert!(text.contains(message), "message {text:?} lacks {message:?}");
    diag.clone()
}

fn step(body: &str) -> String {
    format!("# T\n\n```yaml step\n{body}```\n")
}

#[test]
fn unknown_key() {
    let diag = assert_error(&step("id: a\nrun: true\ncontine_on_error: true\n"), 6, "unknown key `contine_on_error`");
    assert_eq!(diag["column"], 1);
    assert_eq!(diag["hint"], "did you mean `continue_on_error`?");
}

/// Front matter is shared with the site generator: an unknown key is kept, and only one that
/// looks like a misspelt runbook key is worth a warning (DESIGN §3).
#[test]
fn misspelt_key_in_front_matter_is_a_warning() {
    let diags = diagnostics("---\nid: t\ntitel: x\nweight: 3\n---\n# T\n");
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let diag = &diags[0];
    assert_eq!(diag["severity"], "warning", "{diag:#}");
    assert_eq!(diag["rule"], "front-matter-key", "{diag:#}");
    assert_eq!((diag["line"].as_u64(), diag["column"].as_u64()), (Some(3), Some(1)));
    assert_eq!(diag["message"], "front-matter key `titel` is not a runbook key");
    assert!(diag["hint"].as_str().unwrap().starts_with("did you mean `title`?"), "{diag:#}");
}

#[test]
fn wrong_type_in_front_matter_keeps_the_other_keys() {
    let text = "---\ntitle: Kept\nseverity: high\ntags: gpu\n---\n# T\n";
    let diag = assert_error(text, 3, "severity");
    assert_eq!(diag["rule"], "front-matter");
    Test::new()
        .file("runbooks/ops/t.md", text)
        .args(["list", "--json"])
        .stdout_has("\"title\":\"Kept\"")
        .stdout_has("\"tags\":[\"gpu\"]")
        .run();
}

#[test]
fn unknown_key_in_a_probe() {
    assert_error(&step("disk: {path: /, use_percent: {lt: 90}}\n"), 4, "unknown key `use_percent`");
}

#[test]
fn duplicate_key() {
    assert_error(&step("run: true\nname: a\nname: b\n"), 6, "duplicate key `name`");
}

#[test]
fn wrong_type() {
    assert_error(&step("run: true\nretry: {attempts: many}\n"), 5, "wrong type for `attempts`");
    assert_error(&step("run: true\ncontinue_on_error: perhaps\n"), 5, "continue_on_error");
}

#[test]
fn empty_matcher_list() {
    assert_error(&step("run: true\nexpect: {stdout: []}\n"), 5, "empty matcher list");
    assert_error(&step("http: {url: http://x, body: []}\n"), 4, "empty matcher list");
}

#[test]
fn invalid_regex_in_a_matcher() {
    let diag =
        assert_error(&step("run: true\nexpect:\n  stdout: [\"/(unclosed/\"]\n"), 6, "invalid regex `/(unclosed/`");
    assert!(diag["message"].as_str().unwrap().contains("unclosed group"));
}

#[test]
fn invalid_capture_regex() {
    assert_error(&step("run: echo v1\ncapture: {version: 'v(\\d+'}\n"), 5, "invalid regex");
    assert_error(&step("run: echo v1\ncapture: {version: 'v\\d+'}\n"), 5, "needs exactly one");
}

#[test]
fn bad_duration() {
    let diag = assert_error(&step("run: true\ntimeout: 5 minutes please\n"), 5, "bad duration `5 minutes please`");
    assert_eq!(diag["column"], 10);
    assert_error(&step("run: true\ntimeout: 30\n"), 5, "bad duration `30`");
}

#[test]
fn bad_size() {
    assert_error(&step("disk: {path: /, avail: {gt: 20 parsecs}}\n"), 4, "bad size `20 parsecs`");
}

#[test]
fn unknown_probe() {
    let diag = assert_error(&step("nvml: {count: 1}\n"), 4, "unknown probe `nvml`");
    assert!(diag["hint"].as_str().unwrap().contains("disk, gpu, http"));
    let diag = assert_error(&step("htpp:\n  url: http://x\n"), 4, "unknown probe `htpp`");
    assert_eq!(diag["hint"], "did you mean the `http` probe?");
}

#[test]
fn step_with_run_and_a_probe() {
    assert_error(&step("run: true\ndisk: {path: /}\n"), 5, "step has both `run` and a `disk` probe");
}

#[test]
fn step_with_two_probes() {
    assert_error(&step("tcp: {address: \"127.0.0.1:1\"}\nfile: {path: /etc}\n"), 5, "a `tcp` probe and a `file` probe");
}

#[test]
fn step_with_nothing_to_do() {
    assert_error(&step("id: a\nname: nothing\n"), 3, "step has nothing to do");
    assert_error("# T\n\n```yaml step\n```\n", 3, "step has nothing to do");
}

#[test]
fn expect_on_a_probe() {
    assert_error(&step("disk: {path: /}\nexpect: {exit: 0}\n"), 5, "`expect` applies to `run` steps only");
}

#[test]
fn duplicate_step_id() {
    let text = "# T\n\n```yaml step\nid: a\nrun: true\n```\n\n```yaml step\nid: a\nrun: false\n```\n";
    let diag = assert_error(text, 9, "duplicate step id `a`");
    assert!(diag["hint"].as_str().unwrap().contains("line 4"));
}

#[test]
fn when_is_not_an_expression() {
    assert_error(&step("run: true\nwhen: steps.a.passed and\n"), 5, "invalid expression");
}

#[test]
fn assert_is_not_an_expression() {
    assert_error(&step("run: echo 3\ncapture: {n: '(\\d+)'}\nassert: [\"n |\"]\n"), 6, "invalid expression");
}

#[test]
fn template_syntax_error() {
    assert_error(&step("run: echo {{ path\n"), 4, "template syntax error");
}

#[test]
fn reference_to_an_unknown_step() {
    let text = "# T\n\n```yaml step\nid: driver\nrun: true\n```\n\n```yaml step\nrun: true\nwhen: not steps.drivr.passed\n```\n";
    let diag = assert_error(text, 10, "unknown step `drivr`");
    assert_eq!(diag["hint"], "did you mean `driver`?");
}

#[test]
fn reference_to_a_later_step() {
    let text =
        "# T\n\n```yaml step\nrun: true\nwhen: steps.later.passed\n```\n\n```yaml step\nid: later\nrun: true\n```\n";
    assert_error(text, 5, "refers to a step that runs later");
}

#[test]
fn undefined_variable() {
    let text = "---\nvars: {path: /}\n---\n# T\n\n```yaml step\nrun: df {{ pth }}\n```\n";
    let diag = assert_error(text, 7, "`pth` is not defined");
    assert_eq!(diag["hint"], "did you mean `path`?");
}

#[test]
fn captures_are_visible_later_and_in_own_assert() {
    let text = "# T\n\n```yaml step\nid: a\nrun: echo 42\ncapture: {n: '(\\d+)'}\nassert: [\"n | int == 42\", \"steps.a.exit == 0\"]\n```\n\n```yaml step\nrun: echo {{ n }}\n```\n";
    assert!(diagnostics(text).is_empty());
}

#[test]
fn duplicate_explicit_ids_name_both_paths() {
    let step = "\n```yaml step\nrun: true\n```\n";
    let ran = Test::new()
        .file("runbooks/a.md", &format!("---\nid: same\n---\n# A\n{step}"))
        .file("runbooks/b.md", &format!("---\nid: same\n---\n# B\n{step}"))
        .args(["check", "--json"])
        .status(1)
        .run();
    let diags = ran.json()["diagnostics"].as_array().unwrap().clone();
    assert_eq!(diags.len(), 2, "{diags:#?}");
    for (diag, (own, other)) in
        diags.iter().zip([("runbooks/a.md", "runbooks/b.md"), ("runbooks/b.md", "runbooks/a.md")])
    {
        assert_eq!(diag["path"], own);
        assert_eq!(diag["line"], 2);
        assert!(diag["message"].as_str().unwrap().contains("duplicate runbook id `same`"));
        assert!(diag["hint"].as_str().unwrap().contains(other));
    }
}

/// Versioned docs (Docusaurus) repeat their pages' ids by design: between documents a shared id
/// is a warning, and each page keeps a page of its own, addressed by its path.
#[test]
fn documents_sharing_an_id_keep_their_own_pages() {
    let ran = Test::new()
        .file("runbooks/v1/cli.md", "---\nid: cli\n---\n# CLI one\n")
        .file("runbooks/v2/cli.md", "---\nid: cli\n---\n# CLI two\n")
        .args(["check", "--json"])
        .run();
    let diags = ran.json()["diagnostics"].as_array().unwrap().clone();
    assert_eq!(diags.len(), 2, "{diags:#?}");
    assert!(diags.iter().all(|d| d["severity"] == "warning" && d["rule"] == "id"), "{diags:#?}");
    let listed = Test::new()
        .file("runbooks/v1/cli.md", "---\nid: cli\n---\n# CLI one\n")
        .file("runbooks/v2/cli.md", "---\nid: cli\n---\n# CLI two\n")
        .args(["list", "--json"])
        .run();
    let ids: Vec<String> =
        listed.json().as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, ["v1/cli", "v2/cli"]);
}

#[test]
fn link_to_a_missing_runbook() {
    let diag = assert_error("# T\n\nSee [the other](other.md) page.\n", 3, "link to missing runbook `other.md`");
    assert_eq!(diag["column"], 5);
}

#[test]
fn link_to_a_missing_anchor() {
    let ran = Test::new()
        .file("runbooks/ops/t.md", "# T\n\n## Disk space\n\nSee [b](b.md#gpu-memmory) and [self](#disk-space).\n")
        .file("runbooks/ops/b.md", "# B\n\n## GPU memory\n")
        .args(["check", "--json"])
        .status(1)
        .run();
    let diags = ran.json()["diagnostics"].as_array().unwrap().clone();
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0]["line"], 5);
    assert!(diags[0]["message"].as_str().unwrap().contains("missing anchor `#gpu-memmory`"));
    assert_eq!(diags[0]["hint"], "did you mean `#gpu-memory`?");
}

#[test]
fn links_that_resolve_are_clean() {
    Test::new()
        .file(
            "runbooks/ops/t.md",
            "# T\n\nSee [b](../arch/b.md#gpu-memory), [web](https://example.com) and [top](#t).\n",
        )
        .file("runbooks/arch/b.md", "# B\n\n## GPU memory\n")
        .args(["check"])
        .stdout_has("checked 2 runbooks: 0 errors, 0 warnings")
        .run();
}

#[test]
fn unclosed_step_fence() {
    let diag = assert_error("# T\n\n```yaml step\nrun: true\n\nMore prose.\n", 3, "unclosed `yaml step` fence");
    assert!(diag["hint"].as_str().unwrap().contains("close it"));
}

#[test]
fn unclosed_ordinary_fence_is_a_warning() {
    let diags = diagnostics("# T\n\n```sh\necho hi\n");
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0]["severity"], "warning");
    assert_eq!(diags[0]["line"], 3);
}

#[test]
fn front_matter_that_is_not_a_mapping() {
    assert_error("---\n- just\n- a list\n---\n# T\n", 2, "front matter is not a mapping");
    assert_error("---\njust text\n---\n# T\n", 2, "front matter is not a mapping");
}

#[test]
fn bad_ids() {
    assert_error("---\nid: has space\n---\n# T\n", 2, "bad runbook id `has space`");
    assert_error(&step("id: a/b\nrun: true\n"), 4, "bad step id `a/b`");
}

#[test]
fn crlf_and_bom_just_work() {
    let text = "\u{feff}---\r\nid: crlf\r\ntags: [a]\r\n---\r\n# CRLF\r\n\r\n```yaml step\r\nid: s\r\nrun: true\r\ntimeout: 5x\r\n```\r\n";
    let ran = Test::new().bytes("runbooks/t.md", text.as_bytes()).args(["check", "--json"]).status(1).run();
    let diags = ran.json()["diagnostics"].as_array().unwrap().clone();
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0]["line"], 10);
    assert_eq!(diags[0]["column"], 10);
    Test::new()
        .bytes("runbooks/t.md", text.replace("5x", "5s").as_bytes())
        .args(["list", "--json"])
        .stdout_has("\"id\":\"crlf\"")
        .stdout_has("\"title\":\"CRLF\"")
        .run();
}

#[test]
fn invalid_utf8_is_an_error_naming_the_file() {
    let ran = Test::new()
        .bytes("runbooks/bad.md", b"# Bad\n\nCaf\xe9 latin-1\n")
        .file("runbooks/good.md", "# Good\n")
        .args(["check"])
        .status(1)
        .run();
    assert!(ran.stdout.contains("file is not valid UTF-8"), "{}", ran.stdout);
    assert!(ran.stdout.contains("runbooks/bad.md:3:4"), "{}", ran.stdout);
    Test::new()
        .bytes("runbooks/bad.md", b"# Bad\n\nCaf\xe9\n")
        .file("runbooks/good.md", "# Good\n")
        .args(["list", "--json"])
        .stdout_has("\"id\":\"good\"")
        .stdout_has("\"id\":\"bad\"")
        .run();
}

#[test]
fn bad_runbook_toml() {
    let ran = Test::new()
        .file("runbook.toml", "title = \"Ops\"\ncolour = \"blue\"\n")
        .file("runbooks/a.md", "# A\n")
        .args(["check", "--json"])
        .status(1)
        .run();
    let diags = ran.json()["diagnostics"].as_array().unwrap().clone();
    assert_eq!(diags[0]["path"], "runbook.toml");
    assert_eq!(diags[0]["line"], 2);
}

#[test]
fn human_output_points_into_the_file() {
    Test::new()
        .file("runbooks/ops/t.md", &step("run: true\ntimeout: 5x\n"))
        .args(["check"])
        .status(1)
        .stdout(
            "
            error: bad duration `5x`: write a number with a unit, like 500ms, 30s, 5m or 1h
             --> runbooks/ops/t.md:5:10
              |
            5 | timeout: 5x
              |          ^^
            checked 1 runbook: 1 error, 0 warnings
            ",
        )
        .run();
}

#[test]
fn one_broken_runbook_never_stops_the_others() {
    let ran = Test::new()
        .file("runbooks/broken.md", "---\nid: [\n---\n# Broken\n\n```yaml step\nrun: true\ndisk: {}\n```\n")
        .file("runbooks/fine.md", "# Fine\n\n```yaml step\nrun: true\n```\n")
        .args(["list", "--json"])
        .run();
    let list = ran.json();
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let broken = rows.iter().find(|r| r["path"] == "runbooks/broken.md").unwrap();
    assert_eq!(broken["errors"], 2);
    assert_eq!(broken["title"], "Broken");
    let fine = rows.iter().find(|r| r["id"] == "fine").unwrap();
    assert_eq!(fine["errors"], 0);
    assert_eq!(fine["steps"], 1);
}

#[test]
fn an_unquoted_colon_gets_a_useful_hint() {
    let diag = assert_error(&step("run: echo 'disk: full'\n"), 4, "a value holding `: ` must be quoted");
    assert!(diag["hint"].as_str().unwrap().contains("run: |"));
}
