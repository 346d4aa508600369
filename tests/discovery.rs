//! Knowledge-base discovery (DESIGN §2).

use crate::test::Test;

fn ids(stdout: &str) -> Vec<String> {
    let rows: serde_json::Value = serde_json::from_str(stdout).unwrap();
    rows.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn kb_flag_with_a_runbooks_folder() {
    let ran = Test::new()
        .file("team/runbooks/ops/a.md", "# A\n")
        .file("team/notes.md", "# Not a runbook: outside runbooks/\n")
        .args(["--kb", "team", "list", "--json"])
        .run();
    assert_eq!(ids(&ran.stdout), ["a"]);
    assert!(ran.stdout.contains("\"path\":\"runbooks/ops/a.md\""));
    assert!(ran.stdout.contains("\"category\":\"ops\""));
}

#[test]
fn plain_folder_of_markdown() {
    let ran = Test::new()
        .file("docs/intro.md", "# Intro\n")
        .file("docs/guide/setup.md", "# Setup\n")
        .args(["--kb", "docs", "list", "--json"])
        .run();
    assert_eq!(ids(&ran.stdout), ["setup", "intro"]);
    assert!(ran.stdout.contains("\"path\":\"guide/setup.md\""));
    assert!(ran.stdout.contains("\"category\":\"guide\""));
    assert!(ran.stdout.contains("\"category\":\"general\""));
}

#[test]
fn env_var_names_the_kb() {
    let test = Test::new().file("elsewhere/runbooks/x.md", "# X\n");
    let kb = test.path().join("elsewhere");
    let ran = test.env("RUNBOOK_KB", kb.to_str().unwrap()).args(["list", "--json"]).run();
    assert_eq!(ids(&ran.stdout), ["x"]);
}

#[test]
fn nearest_ancestor_with_runbook_toml() {
    let ran = Test::new()
        .file("kb/runbook.toml", "title = \"Team\"\n")
        .file("kb/a.md", "# A\n")
        .file("kb/sub/deeper/b.md", "# B\n")
        .current_dir("kb/sub/deeper")
        .args(["list", "--json"])
        .run();
    assert_eq!(ids(&ran.stdout), ["a", "b"]);
}

#[test]
fn nearest_ancestor_with_runbooks_folder() {
    let ran = Test::new()
        .file("repo/runbooks/a.md", "# A\n")
        .dir("repo/src/deep")
        .current_dir("repo/src/deep")
        .args(["list", "--json"])
        .run();
    assert_eq!(ids(&ran.stdout), ["a"]);
}

#[test]
fn builtin_kb_when_nothing_is_found() {
    let ran = Test::new().args(["list", "--json"]).run();
    let ids = ids(&ran.stdout);
    for id in
        ["cuda-304", "storage-crisis", "ollama-gpu", "container-gpu-access", "gpu-acceleration", "writing-runbooks"]
    {
        assert!(ids.iter().any(|i| i == id), "built-in KB lacks {id}: {ids:?}");
    }
}

#[test]
fn missing_kb_is_a_usage_error() {
    let test = Test::new();
    let nope = test.path().join("nope");
    test.args(["--kb", "nope", "list"])
        .status(2)
        .stdout("")
        .stderr(&format!(
            "error: knowledge base `{}` does not exist\n  hint: pass --kb DIR (or set RUNBOOK_KB) to a folder of runbooks\n",
            nope.display()
        ))
        .run();
}

#[test]
fn skips_hidden_archives_target_node_modules_and_gitignored() {
    let ran = Test::new()
        .file("runbooks/keep.md", "# Keep\n")
        .file("runbooks/.hidden/h.md", "# H\n")
        .file("runbooks/archives/a.md", "# A\n")
        .file("runbooks/target/t.md", "# T\n")
        .file("runbooks/node_modules/n.md", "# N\n")
        .file("runbooks/drafts/d.md", "# D\n")
        .file("runbooks/.gitignore", "drafts/\n")
        .args(["list", "--json"])
        .run();
    assert_eq!(ids(&ran.stdout), ["keep"]);
}

#[test]
fn repeated_stems_are_addressed_by_path() {
    let test = Test::new()
        .file("docs/node/_index.md", "# Node\n")
        .file("docs/disk/_index.md", "# Disk\n")
        .file("docs/disk/README.md", "# Disk readme\n")
        .file("docs/README.md", "# Top readme\n");
    let ran = test.args(["--kb", "docs", "list", "--json"]).run();
    let mut found = ids(&ran.stdout);
    found.sort();
    assert_eq!(found, ["README", "disk/README", "disk/_index", "node/_index"]);

    let test = Test::new().file("docs/node/_index.md", "# Node\n").file("docs/disk/_index.md", "# Disk\n");
    let ran = test.args(["--kb", "docs", "show", "_index"]).status(2).run();
    assert!(ran.stderr.contains("`_index` matches several runbooks"), "{}", ran.stderr);
    assert!(ran.stderr.contains("disk/_index") && ran.stderr.contains("node/_index"), "{}", ran.stderr);

    Test::new()
        .file("docs/node/_index.md", "# Node\n")
        .file("docs/disk/_index.md", "# Disk\n")
        .args(["--kb", "docs", "show", "NODE/_Index"])
        .stdout_has("Node")
        .run();
}

#[test]
fn ids_and_aliases_resolve_case_insensitively() {
    let test = || {
        Test::new()
            .file("runbooks/ops/cuda.md", "---\nid: cuda-304\naliases: [cudaErrorOperatingSystem]\n---\n# CUDA 304\n")
    };
    test().args(["show", "CUDA-304"]).stdout_has("CUDA 304").run();
    test().args(["show", "cudaerroroperatingsystem"]).stdout_has("CUDA 304").run();
    test().args(["show", "runbooks/ops/cuda.md"]).stdout_has("CUDA 304").run();
    test()
        .args(["show", "cuda304"])
        .status(2)
        .stderr_has("no runbook `cuda304`")
        .stderr_has("did you mean `cuda-304`?")
        .run();
}

#[test]
fn parse_cache_is_used_and_refreshed() {
    let test = Test::new().file("runbooks/a.md", "# Alpha\n");
    let file = test.path().join("runbooks/a.md");
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let set_mtime = |when| std::fs::File::options().write(true).open(&file).unwrap().set_modified(when).unwrap();
    set_mtime(an_hour_ago);
    let ran = test.args(["list", "--json"]).run();
    assert_eq!(ran.json()[0]["title"], "Alpha");
    let cache = ran.path().join(".runbook/parse-cache");
    assert!(cache.is_dir() && std::fs::read_dir(&cache).unwrap().count() > 0, "the first run writes the cache");
    assert_eq!(std::fs::read_to_string(ran.path().join(".runbook/.gitignore")).unwrap().lines().last(), Some("*"));

    // Same size, same mtime: the cached summary is served (this is what makes big KBs fast).
    let file = ran.path().join("runbooks/a.md");
    std::fs::write(&file, "# Gamma\n").unwrap();
    std::fs::File::options().write(true).open(&file).unwrap().set_modified(an_hour_ago).unwrap();
    let list = |dir: &std::path::Path| {
        let out =
            std::process::Command::new(crate::test::BIN).args(["list", "--json"]).current_dir(dir).output().unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    assert_eq!(list(ran.path())[0]["title"], "Alpha");
    // A new mtime: re-parsed.
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(an_hour_ago + std::time::Duration::from_secs(1))
        .unwrap();
    assert_eq!(list(ran.path())[0]["title"], "Gamma");
    // A deleted file disappears; a corrupt cache is ignored.
    std::fs::write(ran.path().join("runbooks/b.md"), "# Beta\n").unwrap();
    std::fs::remove_file(&file).unwrap();
    for shard in std::fs::read_dir(&cache).unwrap().flatten() {
        std::fs::write(shard.path(), "not json").unwrap();
    }
    let rows = list(ran.path());
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["title"], "Beta");
}

#[test]
fn cached_runbooks_still_show_their_steps_and_errors() {
    let test = Test::new().file(
        "runbooks/a.md",
        "# A\n\n```yaml step\nid: one\nrun: echo one\n```\n\n```yaml step\ntimeout: 5x\nrun: true\n```\n",
    );
    let file = test.path().join("runbooks/a.md");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&file).unwrap().set_modified(old).unwrap();
    let ran = test.args(["check"]).status(1).run();
    assert!(ran.path().join(".runbook/parse-cache").is_dir());
    for _ in 0..2 {
        let out = std::process::Command::new(crate::test::BIN)
            .args(["show", "a"])
            .env("NO_COLOR", "1")
            .current_dir(ran.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("$ echo one"), "{stdout}");
        assert!(stdout.contains("bad duration `5x`"), "{stdout}");
        assert!(stdout.contains("runbooks/a.md:9:10"), "{stdout}");
    }
}
