//! `runbook build`: every page, deterministic output, step cards, links, the search index.

use crate::site_kit::{files, kb, kb_with_run, runbook};
use std::path::Path;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn build(dir: &Path, out: &str) -> std::process::Output {
    let output = runbook(dir, &["build", "--out", out]);
    assert!(output.status.success(), "build failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

fn run_id(dir: &Path) -> String {
    std::fs::read_dir(dir.join("archives"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n != "cycles")
        .expect("a run")
}

#[test]
fn build_writes_every_page() {
    let dir = kb_with_run();
    let output = build(dir.path(), "public");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("wrote ") && stdout.contains(" pages (") && stdout.contains(" s\n"), "{stdout}");
    let out = dir.path().join("public");
    let run = run_id(dir.path());
    for page in [
        "index.html".to_string(),
        "runbooks/disk/index.html".into(),
        "runbooks/gpu/index.html".into(),
        "runbooks/broken/index.html".into(),
        "tags/index.html".into(),
        "tags/gpu/index.html".into(),
        "archives/index.html".into(),
        format!("archives/{run}/index.html"),
        "cycles/index.html".into(),
        "cycles/2026-w01/index.html".into(),
        "search/index.html".into(),
        "404.html".into(),
        "search-index/meta.json".into(),
    ] {
        assert!(out.join(&page).is_file(), "{page} missing");
    }
    let index = read(&out.join("index.html"));
    assert!(index.contains("Disk is full") && index.contains("operations") && index.contains("architecture"));
    assert!(index.contains("verdict-passed"), "the index shows the latest run of xss");
    let assets: Vec<String> = files(&out.join("assets")).iter().map(|p| p.to_string_lossy().into_owned()).collect();
    for prefix in ["app.", "style.", "search.", "nav.", "favicon."] {
        let found = assets.iter().find(|a| a.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix} in {assets:?}"));
        let fingerprint = found.split('.').nth(1).unwrap();
        assert!(fingerprint.len() == 10 && fingerprint.chars().all(|c| c.is_ascii_hexdigit()), "{found}");
        assert!(index.contains(&format!("/assets/{found}")) || prefix == "search." || prefix == "nav.", "{found}");
    }
    // The nav (every runbook) is one shared file, not part of every page.
    let nav = assets.iter().find(|a| a.starts_with("nav.")).unwrap();
    let disk = read(&out.join("runbooks/disk/index.html"));
    assert!(disk.contains(&format!("/assets/{nav}")));
    assert!(!disk.contains("GPU notes</a></li>"), "the nav is not inlined");
}

#[test]
fn build_is_deterministic() {
    let dir = kb_with_run();
    build(dir.path(), "one");
    build(dir.path(), "two");
    let one = files(&dir.path().join("one"));
    assert_eq!(one, files(&dir.path().join("two")));
    for file in &one {
        let a = std::fs::read(dir.path().join("one").join(file)).unwrap();
        let b = std::fs::read(dir.path().join("two").join(file)).unwrap();
        assert!(a == b, "{} differs between two builds", file.display());
    }
    // A rebuild into the same folder replaces it.
    build(dir.path(), "one");
    assert_eq!(files(&dir.path().join("one")), one);
}

#[test]
fn build_refuses_a_folder_it_did_not_write() {
    let dir = kb().file("mine/notes.txt", "keep me\n").run_dir();
    let output = runbook(dir.path(), &["build", "--out", "mine"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("was not written by `runbook build`"));
    assert!(dir.path().join("mine/notes.txt").is_file());
}

#[test]
fn runbook_page_has_cards_links_backlinks_and_markdown() {
    let dir = kb().run_dir();
    build(dir.path(), "public");
    let disk = read(&dir.path().join("public/runbooks/disk/index.html"));
    // Steps as cards: name, the command with a copy button, checks in words, severity, confirm.
    assert!(disk.contains("Room on the filesystem") && disk.contains("Biggest directories"));
    assert!(disk.contains("du -xh --max-depth=1"), "the command is shown");
    assert!(disk.contains("class=\"copy\""), "copy buttons");
    assert!(disk.contains("used_percent &lt; 90") || disk.contains("used_percent"), "checks in words");
    assert!(disk.contains("asks first: List the biggest directories?"));
    assert!(disk.contains("sev-warning"));
    assert!(disk.contains("runbook exec disk"));
    // Heading anchors as the model makes them; a relative .md link rewritten to the page URL.
    assert!(disk.contains("<h2 id=\"check\">"));
    assert!(disk.contains("href=\"/runbooks/gpu/#drivers\""), "cross-reference rewritten");
    // Tables, task lists, footnotes.
    assert!(disk.contains("<table>") && disk.contains("type=\"checkbox\"") && disk.contains("footnote-definition"));
    // Backlinks: gpu.md links to disk.md.
    let gpu = read(&dir.path().join("public/runbooks/gpu/index.html"));
    assert!(gpu.contains("Referenced by") && gpu.contains("href=\"/runbooks/disk/\""));
    assert!(disk.contains("href=\"/runbooks/gpu/\""), "disk is referenced by gpu");
}

#[test]
fn broken_runbook_shows_its_error_and_links_warn() {
    let dir = kb()
        .file("runbooks/operations/links.md", "# Links\n\nSee [nothing](missing.md) and [here](#nowhere).\n")
        .run_dir();
    let output = runbook(dir.path(), &["build"]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning: runbooks/operations/links.md:3: link to missing runbook or anchor `missing.md`"),
        "{stderr}"
    );
    assert!(stderr.contains("`#nowhere`"), "{stderr}");
    let broken = read(&dir.path().join("public/runbooks/broken/index.html"));
    assert!(broken.contains("problem") && broken.contains("runn"), "the page lists its error");
    let check = runbook(dir.path(), &["check"]);
    assert_eq!(check.status.code(), Some(1), "broken links are errors in check");
}

#[test]
fn kb_templates_override_per_file() {
    let dir = kb().file("templates/404.html", "{% extends \"base.html\" %}{% block title %}Lost{% endblock %}{% block main %}<p>Our own 404</p>{% endblock %}").run_dir();
    build(dir.path(), "public");
    assert!(read(&dir.path().join("public/404.html")).contains("Our own 404"));
    assert!(read(&dir.path().join("public/index.html")).contains("Disk is full"), "other templates stay built in");
}

#[test]
fn static_search_index_is_chunked() {
    let dir = kb().run_dir();
    build(dir.path(), "public");
    let index = dir.path().join("public/search-index");
    let meta: serde_json::Value = serde_json::from_str(&read(&index.join("meta.json"))).unwrap();
    assert!(meta["sections"].as_u64().unwrap() >= 5, "{meta}");
    let shards = meta["shards"].as_array().unwrap();
    assert!(shards.len() > 5, "one shard per term prefix: {meta}");
    // "nvidia" lives in the shard of "nv".
    let shard: serde_json::Value = serde_json::from_str(&read(&index.join("t-6e76.json"))).unwrap();
    assert!(shard.get("nvidia").is_some(), "{shard}");
    let docs: serde_json::Value = serde_json::from_str(&read(&index.join("d-0.json"))).unwrap();
    assert!(docs["s"].as_array().unwrap().iter().any(|s| s[1] == "drivers"), "{docs}");
}

#[test]
fn escaped_everywhere_in_the_build() {
    let dir = kb_with_run();
    build(dir.path(), "public");
    let out = dir.path().join("public");
    for file in files(&out).iter().filter(|f| f.extension().is_some_and(|e| e == "html")) {
        let html = read(&out.join(file));
        assert!(!html.contains("<script>window.__xss"), "{} has a live script", file.display());
        assert!(!html.contains("<img src=\"x\" onerror") && !html.contains("<img src=x onerror"), "{}", file.display());
        assert!(!html.contains("href=\"javascript:"), "{} has a javascript: link", file.display());
    }
    let run = read(&out.join(format!("archives/{}/index.html", run_id(dir.path()))));
    assert!(run.contains("&lt;script&gt;window.__xss = 6&lt;"), "the output is shown, escaped");
}

#[test]
fn rebuild_touches_only_what_changed() {
    let dir = kb().run_dir();
    build(dir.path(), "public");
    let page = dir.path().join("public/runbooks/disk/index.html");
    let gpu = dir.path().join("public/runbooks/gpu/index.html");
    let before = std::fs::metadata(&page).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::remove_file(dir.path().join("runbooks/architecture/gpu.md")).unwrap();
    build(dir.path(), "public");
    assert!(!gpu.exists(), "the page of a removed runbook goes");
    assert!(!dir.path().join("public/runbooks/gpu").exists(), "and its folder");
    assert!(read(&page).contains("Disk is full"));
    // disk.md links to gpu.md, so its page changed (the link is now broken); the tag page of
    // `storage` did not.
    let tag = dir.path().join("public/tags/storage/index.html");
    let tag_before = std::fs::metadata(&tag).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    build(dir.path(), "public");
    assert_eq!(std::fs::metadata(&tag).unwrap().modified().unwrap(), tag_before, "unchanged files are not rewritten");
    assert!(std::fs::metadata(&page).unwrap().modified().unwrap() >= before);
}

#[test]
fn a_triggered_run_page_shows_its_trigger_escaped() {
    let trigger = r#"{"kind":"alertmanager","receiver":"oncall","fingerprint":"f00d","status":"firing",
        "labels":{"alertname":"DiskFull","instance":"<script>window.__xss=9</script>"}}"#;
    let ran = kb().args(["exec", "disk", "--quiet", "--diagnose", "--trigger", trigger]).any_status().run();
    build(ran.path(), "public");
    let run = read(&ran.path().join(format!("public/archives/{}/index.html", run_id(ran.path()))));
    assert!(run.contains("<dt>triggered by</dt><dd>Alertmanager alert DiskFull (firing)</dd>"), "{run}");
    assert!(run.contains("<dt>receiver</dt><dd>oncall</dd>"), "{run}");
    assert!(run.contains("instance=&lt;script&gt;window.__xss=9&lt;/script&gt;"), "{run}");
}

/// The pages the static search index gives for one term, as `site/search.js` looks them up:
/// the term's shard, its sections, their chunks' pages. `[url, title, kind]` each.
fn static_search(public: &Path, term: &str) -> Vec<serde_json::Value> {
    let json = |path: &Path| -> serde_json::Value { serde_json::from_str(&read(path)).unwrap() };
    let meta = json(&public.join("search-index/meta.json"));
    let chunk = meta["chunk"].as_u64().unwrap();
    let prefix: String = term.chars().take(2).collect();
    let shard_name: String = prefix.bytes().map(|b| format!("{b:02x}")).collect();
    let shard = public.join(format!("search-index/t-{shard_name}.json"));
    if !shard.is_file() {
        return Vec::new();
    }
    let postings = &json(&shard)[term];
    let mut sections: Vec<u64> = Vec::new();
    for list in postings.as_array().into_iter().flatten() {
        let mut at = 0;
        for delta in list.as_array().unwrap() {
            at += delta.as_u64().unwrap();
            sections.push(at);
        }
    }
    sections.sort_unstable();
    sections.dedup();
    sections
        .iter()
        .map(|n| {
            let docs = json(&public.join(format!("search-index/d-{}.json", n / chunk)));
            let owner = docs["s"][(n % chunk) as usize][0].as_u64().unwrap();
            docs["r"][owner.to_string()].clone()
        })
        .collect()
}

#[test]
fn the_static_search_finds_runs_and_cycle_reports_too() {
    let ran = kb()
        .file(
            "runbooks/operations/store.md",
            "# Model store\n\n```yaml step\nid: room\nrun: exit 1\n```\n\n```yaml diagnosis\nid: full\nwhen: steps.room.status == \"failed\"\ncause: The quokka store is full\nseverity: critical\n```\n",
        )
        .args(["exec", "store", "--quiet"])
        .status(1)
        .run();
    build(ran.path(), "public");
    let public = ran.path().join("public");
    let run = run_id(ran.path());
    let found = static_search(&public, "quokka");
    let kinds: Vec<(&str, &str)> = found.iter().map(|p| (p[0].as_str().unwrap(), p[2].as_str().unwrap())).collect();
    assert!(kinds.contains(&("/runbooks/store/", "runbook")), "{found:?}");
    let run_url = format!("/archives/{run}/");
    assert!(kinds.contains(&(run_url.as_str(), "archive")), "the run's diagnosis is found: {found:?}");
    let run_page = found.iter().find(|p| p[2] == "archive").unwrap();
    assert!(run_page[1].as_str().unwrap().starts_with("Run of Model store · failed · "), "{run_page}");
    let found = static_search(&public, "readiness");
    assert!(
        found.iter().any(|p| p[0] == "/cycles/2026-w01/" && p[2] == "cycle" && p[1] == "Week 1 readiness"),
        "{found:?}"
    );
    assert!(static_search(&public, "nothingsuchword").is_empty());
    // Run ids are not terms: each would be unique, and a year of them would fill one shard.
    let stamp = run.split('-').next().unwrap().to_lowercase();
    assert!(static_search(&public, &stamp).is_empty(), "{stamp}");
}
