//! `runbook search`: relevance on the shipped KB, freshness, concurrency, awkward input.

use crate::test::{BIN, Test};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Searches the built-in KB and returns the hits.
fn shipped(query: &[&str]) -> Vec<Value> {
    let mut args = vec!["search", "--json"];
    args.extend(query);
    let ran = Test::new().args(&args).any_status().run();
    ran.json()["hits"].as_array().cloned().unwrap_or_default()
}

fn first(hits: &[Value]) -> (String, String) {
    let hit = hits.first().expect("at least one hit");
    (hit["id"].as_str().unwrap().to_string(), hit["heading"].as_str().unwrap().to_string())
}

#[test]
fn disk_full_finds_the_storage_crisis_first() {
    assert_eq!(first(&shipped(&["disk", "full"])).0, "storage-crisis");
    assert_eq!(first(&shipped(&["disk full ollama"])).0, "storage-crisis");
}

#[test]
fn cuda_invalid_context_finds_304() {
    let hits = shipped(&["cuda invalid context"]);
    assert_eq!(first(&hits).0, "cuda-304");
}

#[test]
fn size_vram_finds_the_ollama_section() {
    let (id, heading) = first(&shipped(&["size_vram"]));
    assert_eq!(id, "ollama-gpu");
    assert!(heading.contains("size_vram"), "{heading}");
}

#[test]
fn nvidia_smi_finds_the_steps_that_run_it() {
    let hits = shipped(&["nvidia-smi", "--limit", "20"]);
    assert!(hits.len() >= 3);
    assert!(hits.iter().any(|h| h["id"] == "cuda-304" && h["heading"].as_str().unwrap().contains("nvidia-smi")));
    assert!(hits.iter().any(|h| h["id"] == "container-gpu-access"));
}

#[test]
fn identifiers_whole_and_in_parts() {
    assert_eq!(first(&shipped(&["CUDA_ERROR_OPERATING_SYSTEM"])).0, "cuda-304");
    assert_eq!(first(&shipped(&["cudaErrorOperatingSystem"])).0, "cuda-304");
    assert_eq!(first(&shipped(&["\"operating system\""])).0, "cuda-304");
    assert_eq!(first(&shipped(&["/dev/nvidia-uvm"])).0, "cuda-304");
    assert_eq!(first(&shipped(&["304"])).0, "cuda-304");
}

#[test]
fn a_typo_gets_a_suggestion() {
    let ran = Test::new().args(["search", "--json", "nvdia"]).run();
    let json = ran.json();
    assert_eq!(json["suggestion"], "nvidia");
    assert!(!json["hits"].as_array().unwrap().is_empty());
    Test::new().args(["search", "nvdia"]).stdout_has("`nvdia` found nothing; showing `nvidia`").run();
}

#[test]
fn nothing_found_exits_one_and_empty_query_exits_two() {
    Test::new().args(["search", "zzqqxxjj"]).status(1).stdout_has("no results for `zzqqxxjj`").run();
    Test::new().args(["search", "   "]).status(2).stderr_has("empty search").run();
    Test::new().args(["search"]).status(2).run();
}

#[test]
fn json_hits_have_every_field() {
    let ran = Test::new().args(["search", "--json", "seccomp"]).run();
    let json = ran.json();
    assert_eq!(json["query"], "seccomp");
    assert!(json["suggestion"].is_null());
    let hit = &json["hits"][0];
    for key in ["kind", "id", "title", "heading", "anchor", "path", "line", "score", "snippet"] {
        assert!(hit.get(key).is_some(), "hit lacks {key}: {hit:#}");
    }
    assert_eq!(hit["kind"], "runbook");
    assert!(hit["snippet"].as_str().unwrap().contains("<mark>"), "{hit:#}");
    assert!(hit["path"].as_str().unwrap().starts_with("runbooks/"));
}

#[test]
fn filters_by_tag_kind_and_category() {
    let tagged = Test::new().args(["list", "--json", "--tag", "docker"]).run().json();
    let tagged: Vec<&str> = tagged.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect::<Vec<_>>();
    let tagged: Vec<String> = tagged.into_iter().map(str::to_string).collect();
    let hits = shipped(&["gpu", "--tag", "docker", "--limit", "50"]);
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| tagged.iter().any(|t| h["id"] == t.as_str())), "{hits:#?}");
    let hits = shipped(&["gpu", "--category", "architecture", "--limit", "50"]);
    assert!(hits.iter().all(|h| h["id"] == "gpu-acceleration"), "{hits:#?}");
    let hits = shipped(&["gpu", "tag:docker"]);
    assert!(hits.iter().all(|h| tagged.iter().any(|t| h["id"] == t.as_str())));
    let ran = Test::new().args(["search", "--json", "gpu", "--kind", "cycle"]).status(1).run();
    assert!(ran.json()["hits"].as_array().unwrap().is_empty());
}

fn kb() -> Test {
    Test::new()
        .file(
            "runbooks/ops/alpha.md",
            "---\ntags: [net]\n---\n# Alpha\n\n## Router reboot\n\nThe flux capacitor is fine.\n",
        )
        .file("runbooks/ops/beta.md", "# Beta\n\n## Disk\n\nThe quantum widget hums.\n")
}

fn search_in(dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let mut full = vec!["-v", "search", "--json"];
    full.extend(args);
    let out = Command::new(BIN).args(&full).current_dir(dir).env("NO_COLOR", "1").output().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Moves a file's mtime away from now, so the parse cache and the index trust it.
fn age(file: &Path) {
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
    std::fs::File::options().write(true).open(file).unwrap().set_modified(then).unwrap();
}

#[test]
fn edits_additions_and_deletions_are_seen_and_only_they_are_reindexed() {
    let ran = kb().args(["search", "capacitor"]).stdout_has("alpha › Router reboot").run();
    let dir = ran.path();
    let (_, _, stderr) = search_in(dir, &["capacitor"]);
    assert!(stderr.contains("0 document sources re-indexed"), "{stderr}");

    std::fs::write(dir.join("runbooks/ops/beta.md"), "# Beta\n\n## Disk\n\nThe quantum gizmo sings.\n").unwrap();
    let (code, json, stderr) = search_in(dir, &["gizmo"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json["hits"][0]["id"], "beta");
    assert!(stderr.contains("1 document source re-indexed"), "{stderr}");
    assert!(stderr.contains("indexed rb:runbooks/ops/beta.md"), "{stderr}");
    assert!(!stderr.contains("alpha"), "only the edited file is re-indexed: {stderr}");
    assert_eq!(search_in(dir, &["widget"]).0, 1, "the old text is gone");

    std::fs::write(dir.join("runbooks/ops/gamma.md"), "# Gamma\n\nA brand new zeppelin.\n").unwrap();
    let (code, json, stderr) = search_in(dir, &["zeppelin"]);
    assert_eq!(code, 0);
    assert_eq!(json["hits"][0]["id"], "gamma");
    assert!(stderr.contains("indexed rb:runbooks/ops/gamma.md") && !stderr.contains("beta"), "{stderr}");

    std::fs::remove_file(dir.join("runbooks/ops/alpha.md")).unwrap();
    let (code, _, stderr) = search_in(dir, &["capacitor"]);
    assert_eq!(code, 1, "a deleted runbook is no longer found");
    assert!(stderr.contains("1 removed"), "{stderr}");
}

/// Sets a file's mtime `seconds` before now.
fn aged_by(file: &Path, seconds: u64) {
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(seconds);
    std::fs::File::options().write(true).open(file).unwrap().set_modified(then).unwrap();
}

#[test]
fn the_quick_freshness_check_sees_a_same_size_edit_and_distrusts_a_missing_signature() {
    let ran = kb().args(["list"]).run();
    let dir = ran.path();
    let beta = dir.join("runbooks/ops/beta.md");
    for file in ["runbooks/ops/alpha.md", "runbooks/ops/beta.md"] {
        aged_by(&dir.join(file), 600);
    }
    assert_eq!(search_in(dir, &["widget"]).0, 0);
    let signature = dir.join(".runbook/index/runbook-signature");
    let written = std::fs::read_to_string(&signature).unwrap();
    assert_eq!(written.lines().next().map(str::len), Some(64), "a SHA-256 in hex: {written}");
    // Same size, an older time than any check would call racy: only the stamp tells.
    std::fs::write(&beta, "# Beta\n\n## Disk\n\nThe quantum gizmo  hums.\n").unwrap();
    aged_by(&beta, 300);
    let (code, json, stderr) = search_in(dir, &["gizmo"]);
    assert_eq!((code, &json["hits"][0]["id"]), (0, &Value::from("beta")), "{stderr}");
    assert!(stderr.contains("indexed rb:runbooks/ops/beta.md"), "{stderr}");
    assert_ne!(std::fs::read_to_string(&signature).unwrap(), written, "the new state is signed");
    // A lost or garbled signature is a reason to look again, never an error or stale results.
    std::fs::remove_file(&signature).unwrap();
    assert_eq!(search_in(dir, &["gizmo"]).0, 0);
    assert_eq!(std::fs::read_to_string(&signature).unwrap().lines().next().map(str::len), Some(64));
    std::fs::write(&signature, "garbage").unwrap();
    std::fs::write(&beta, "# Beta\n\n## Disk\n\nThe quantum gadget hums.\n").unwrap();
    aged_by(&beta, 200);
    let (code, json, _) = search_in(dir, &["gadget"]);
    assert_eq!((code, &json["hits"][0]["id"]), (0, &Value::from("beta")));
}

#[test]
fn another_schema_version_rebuilds_the_index() {
    let ran = kb().args(["search", "capacitor"]).run();
    let version = ran.path().join(".runbook/index/runbook-index.json");
    assert!(version.is_file());
    std::fs::write(&version, "{\"schema\": 0}").unwrap();
    let (code, _, stderr) = search_in(ran.path(), &["capacitor"]);
    assert_eq!(code, 0);
    assert!(stderr.contains("built anew"), "{stderr}");
    std::fs::write(&version, "garbage").unwrap();
    assert_eq!(search_in(ran.path(), &["capacitor"]).0, 0);
}

#[test]
fn a_damaged_manifest_means_reindexing_not_failing() {
    let ran = kb().args(["search", "capacitor"]).run();
    std::fs::write(ran.path().join(".runbook/index/runbook-manifest.bin"), "runbook-manifest 2\n\x07damaged").unwrap();
    let (code, json, _) = search_in(ran.path(), &["capacitor"]);
    assert_eq!(code, 0);
    assert_eq!(json["hits"].as_array().unwrap().len(), 1, "re-indexing replaced, it did not duplicate");
}

#[test]
fn concurrent_searches_never_fail() {
    let ran = kb().args(["list"]).run();
    for file in ["runbooks/ops/alpha.md", "runbooks/ops/beta.md"] {
        age(&ran.path().join(file));
    }
    // Four processes at once on an index that does not exist yet: they race to build it.
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(BIN)
                .args(["search", "--json", "capacitor"])
                .current_dir(ran.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["hits"][0]["id"], "alpha");
    }
}

#[test]
fn a_held_writer_lock_gives_stale_results_not_an_error() {
    let ran = kb().args(["search", "capacitor"]).run();
    let dir = ran.path().to_path_buf();
    std::fs::write(dir.join("runbooks/ops/beta.md"), "# Beta\n\nChanged while locked.\n").unwrap();
    let lock = dir.join(".runbook/index/.tantivy-writer.lock");
    let mut holder = Command::new("flock").arg("-x").arg(&lock).args(["sleep", "8"]).spawn().expect("util-linux flock");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = Command::new(BIN).args(["search", "capacitor"]).current_dir(&dir).env("NO_COLOR", "1").output().unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("may be slightly out of date"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("alpha"));
}

#[test]
fn awkward_queries_never_error() {
    let ran = kb().args(["search", "capacitor"]).run();
    let long = "x".repeat(10 * 1024);
    let awkward: Vec<&str> = vec![
        "\"unbalanced",
        "((((",
        "title:",
        "body:capacitor",
        "AND OR NOT",
        "!!!???",
        "---",
        "+-&&||!(){}[]^\"~*?:\\/",
        "über größe ñandú 日本語",
        "🔥",
        long.as_str(),
        "'single'",
        "%s %n",
    ];
    for query in awkward {
        let out = Command::new(BIN).args(["search", "--json", "--", query]).current_dir(ran.path()).output().unwrap();
        let code = out.status.code();
        assert!(
            matches!(code, Some(0) | Some(1)),
            "{query:?} exited {code:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{query:?}: {e}"));
        assert!(json["hits"].is_array());
    }
}

/// Diagnostics never hide a file (DESIGN §3): a runbook with errors is searchable, and its hits
/// carry the error count.
#[test]
fn a_broken_runbook_is_searchable_and_marked() {
    let ran = kb()
        .file(
            "runbooks/ops/broken.md",
            "# Broken\n\nMentions the capacitor too.\n\n```yaml step\ntimeout: never\nrun: true\n```\n",
        )
        .args(["search", "--json", "capacitor"])
        .run();
    assert!(!ran.stderr.contains("not searchable"), "{}", ran.stderr);
    let hits = ran.json()["hits"].as_array().unwrap().clone();
    let broken = hits.iter().find(|h| h["id"] == "broken").expect("the broken runbook is found");
    assert_eq!(broken["errors"], 1, "{broken:#}");
    let alpha = hits.iter().find(|h| h["id"] == "alpha").expect("alpha is found");
    assert_eq!(alpha["errors"], 0, "{alpha:#}");
}

#[test]
fn runs_are_searchable_too() {
    let test = Test::new().file(
        "runbooks/t.md",
        "# T\n\n```yaml step\nid: probe_dns\nrun: echo 'resolver timed out talking to 10.9.8.7'; exit 1\n```\n",
    );
    let ran = test.args(["exec", "t"]).status(1).run();
    let (code, json, _) = search_in(ran.path(), &["resolver", "--kind", "archive"]);
    assert_eq!(code, 0);
    let hit = &json["hits"][0];
    assert_eq!(hit["kind"], "archive");
    assert!(hit["id"].as_str().unwrap().ends_with("-t"));
    assert!(hit["path"].as_str().unwrap().ends_with("/run.md"));
}

/// The one run in `dir`'s archive: its folder and record.
fn the_run(dir: &Path) -> (std::path::PathBuf, Value) {
    let folder = std::fs::read_dir(dir.join("archives"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("run.json").is_file())
        .unwrap();
    let record = serde_json::from_slice(&std::fs::read(folder.join("run.json")).unwrap()).unwrap();
    (folder, record)
}

#[test]
fn a_run_still_being_written_is_looked_at_again_and_new_or_removed_runs_are_seen() {
    let test =
        Test::new().file("runbooks/t.md", "# T\n\n```yaml step\nid: probe_dns\nrun: echo 'resolver timed out'\n```\n");
    let ran = test.args(["exec", "t", "--quiet"]).run();
    let dir = ran.path();
    // Old enough to trust: a file written within the last moments is always looked at again.
    aged_by(&dir.join("runbooks/t.md"), 900);
    let (folder, mut record) = the_run(dir);
    // As a run in progress leaves it: verdict `running`, one step so far.
    record["verdict"] = Value::from("running");
    record["steps"][0]["name"] = Value::from("walrus lookup");
    std::fs::write(folder.join("run.json"), serde_json::to_vec(&record).unwrap()).unwrap();
    aged_by(&folder.join("run.json"), 600);
    let (code, json, _) = search_in(dir, &["walrus", "--kind", "archive"]);
    assert_eq!((code, json["hits"].as_array().map(Vec::len)), (0, Some(1)), "{json}");
    // The run goes on and finishes: its record is rewritten, and the next search sees that.
    record["verdict"] = Value::from("passed");
    record["steps"][0]["name"] = Value::from("narwhal lookup");
    std::fs::write(folder.join("run.json"), serde_json::to_vec(&record).unwrap()).unwrap();
    aged_by(&folder.join("run.json"), 300);
    let (code, _, stderr) = search_in(dir, &["narwhal", "--kind", "archive"]);
    assert_eq!(code, 0, "the open run was looked at again: {stderr}");
    assert_eq!(search_in(dir, &["walrus", "--kind", "archive"]).0, 1, "the old text is gone");
    // A new run folder, and a removed one, change the names the check lists.
    let copy = dir.join("archives").join(format!("{}-2", folder.file_name().unwrap().to_string_lossy()));
    std::fs::create_dir_all(&copy).unwrap();
    record["steps"][0]["name"] = Value::from("beluga lookup");
    record["run_id"] = Value::from(copy.file_name().unwrap().to_string_lossy().into_owned());
    std::fs::write(copy.join("run.json"), serde_json::to_vec(&record).unwrap()).unwrap();
    aged_by(&copy.join("run.json"), 300);
    assert_eq!(search_in(dir, &["beluga", "--kind", "archive"]).0, 0, "a new run is found");
    std::fs::remove_dir_all(&copy).unwrap();
    assert_eq!(search_in(dir, &["beluga", "--kind", "archive"]).0, 1, "a removed run is gone");
    // Once finished, a run is known by its name: the signature lists no run to look at.
    let signature_file = dir.join(".runbook/index/runbook-signature");
    let signature = std::fs::read_to_string(&signature_file).unwrap();
    assert_eq!(signature.lines().count(), 1, "{signature}");

    // A folder without a record (a run killed before its first write) is expected, not a
    // reason to sync on every search: the check stays fresh without reading the manifest.
    let empty = dir.join("archives/20200101T000000Z-t");
    std::fs::create_dir_all(&empty).unwrap();
    assert_eq!(search_in(dir, &["narwhal", "--kind", "archive"]).0, 0);
    let signature = std::fs::read_to_string(&signature_file).unwrap();
    assert_eq!(signature.lines().nth(1), Some("20200101T000000Z-t"), "{signature}");
    let manifest = dir.join(".runbook/index/runbook-manifest.bin");
    std::fs::write(&manifest, "not read by a fresh check").unwrap();
    assert_eq!(search_in(dir, &["narwhal", "--kind", "archive"]).0, 0);
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), "not read by a fresh check", "no sync ran");
    // Its record appears: that is a change.
    record["steps"][0]["name"] = Value::from("orca lookup");
    record["run_id"] = Value::from("20200101T000000Z-t");
    std::fs::write(empty.join("run.json"), serde_json::to_vec(&record).unwrap()).unwrap();
    aged_by(&empty.join("run.json"), 300);
    assert_eq!(search_in(dir, &["orca", "--kind", "archive"]).0, 0, "the new record is found");
}

#[test]
fn index_rebuild_command() {
    kb().args(["index", "--rebuild"]).stdout_has("index built: 2 document sources indexed").run();
}
