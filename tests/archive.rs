//! A long archive: `archive list` pages it, the site's runs pages page it, `/api/archives`
//! pages on request, and `cycle` reads only the period's runs.

use crate::site_kit::{Server, kb, runbook};
use serde_json::Value;
use std::path::Path;

/// Copies the one run in `dir`'s archive `count` times, a minute apart and older than it, as
/// if a watch had run it: each copy is a real record with its own id and start. Returns every
/// run id, newest first.
fn copies_of_the_run(dir: &Path, count: usize) -> Vec<String> {
    let archives = dir.join("archives");
    let original = std::fs::read_dir(&archives)
        .unwrap()
        .flatten()
        .find(|e| e.path().join("run.json").is_file())
        .expect("a run to copy")
        .path();
    let record: Value = serde_json::from_slice(&std::fs::read(original.join("run.json")).unwrap()).unwrap();
    let id = record["runbook"]["id"].as_str().unwrap().to_string();
    let mut ids = vec![original.file_name().unwrap().to_string_lossy().into_owned()];
    let oldest_original: jiff::Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
    for n in 0..count {
        let started = oldest_original - jiff::SignedDuration::from_secs(60 * n as i64);
        let run_id = format!("{}-{id}", started.strftime("%Y%m%dT%H%M%SZ"));
        let mut copy = record.clone();
        copy["run_id"] = Value::String(run_id.clone());
        copy["started_at"] = Value::String(started.to_string());
        copy["finished_at"] = Value::String(started.to_string());
        // Every tenth copy failed, so a verdict filter has something to find.
        if n % 10 == 9 {
            copy["verdict"] = Value::String("failed".into());
        }
        std::fs::create_dir_all(archives.join(&run_id)).unwrap();
        std::fs::write(archives.join(&run_id).join("run.json"), serde_json::to_vec(&copy).unwrap()).unwrap();
        ids.push(run_id);
    }
    ids
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

fn first_word(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or_default()
}

#[test]
fn archive_list_shows_the_newest_page_and_says_how_to_see_the_rest() {
    let ran = kb().args(["exec", "disk", "--quiet"]).run();
    let ids = copies_of_the_run(ran.path(), 119);
    let ran = ran
        .again()
        .args(["archive", "list"])
        .stderr("runs 1–50 of 120, newest first; older: --page 2, all: --limit 0\n")
        .run();
    let shown = lines(&ran.stdout);
    assert_eq!(shown.len(), 50, "{}", ran.stdout);
    assert_eq!(first_word(shown[0]), ids[0], "the newest run comes first");
    assert_eq!(first_word(shown[49]), ids[49]);

    let ran = ran.again().args(["archive", "list", "--page", "3"]).stderr("runs 101–120 of 120, newest first\n").run();
    assert_eq!(lines(&ran.stdout).len(), 20);
    assert_eq!(first_word(lines(&ran.stdout)[0]), ids[100]);

    let ran = ran.again().args(["archive", "list", "--limit", "0"]).stderr("").run();
    assert_eq!(lines(&ran.stdout).len(), 120, "--limit 0 lists every run");
    let ran = ran
        .again()
        .args(["archive", "list", "--page", "4"])
        .stderr("no runs on this page of 120, newest first\n")
        .run();
    assert_eq!(ran.stdout, "");

    // JSON is for programs: every run, unless they ask for a page.
    let ran = ran.again().args(["archive", "list", "--json"]).stderr("").run();
    assert_eq!(ran.json().as_array().unwrap().len(), 120);
    let ran = ran.again().args(["archive", "list", "--json", "--limit", "10", "--page", "2"]).run();
    let json = ran.json();
    let page_ids: Vec<&str> = json.as_array().unwrap().iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    assert_eq!(page_ids, ids[10..20].iter().map(String::as_str).collect::<Vec<_>>());

    ran.again().args(["archive", "list", "--page", "0"]).status(2).stderr_has("--page").run();
}

#[test]
fn archive_list_pages_a_filter_on_the_verdict_without_a_total() {
    let ran = kb().args(["exec", "disk", "--quiet"]).run();
    let ids = copies_of_the_run(ran.path(), 60);
    // Copies 9, 19, …, 59 failed: six runs, newest first.
    let failed: Vec<&str> = (0..60).filter(|n| n % 10 == 9).map(|n| ids[n + 1].as_str()).collect();
    let ran = ran
        .again()
        .args(["archive", "list", "--verdict", "failed", "--limit", "4"])
        .stderr("runs 1–4, newest first; older: --page 2, all: --limit 0\n")
        .run();
    assert_eq!(lines(&ran.stdout).iter().map(|l| first_word(l)).collect::<Vec<_>>(), failed[..4]);
    let ran = ran
        .again()
        .args(["archive", "list", "--verdict", "failed", "--limit", "4", "--page", "2"])
        .stderr("runs 5–6, newest first\n")
        .run();
    assert_eq!(lines(&ran.stdout).iter().map(|l| first_word(l)).collect::<Vec<_>>(), failed[4..]);
    let ran = ran.again().args(["archive", "list", "--runbook", "disk", "--limit", "7"]).run();
    assert_eq!(ran.stderr, "runs 1–7 of 61, newest first; older: --page 2, all: --limit 0\n");
    ran.again().args(["archive", "list", "--runbook", "gpu"]).stdout_has("no runs in").stderr("").run();
}

#[test]
fn the_sites_runs_come_a_hundred_to_a_page() {
    let ran = kb().args(["exec", "disk", "--quiet"]).run();
    let ids = copies_of_the_run(ran.path(), 249);
    let server = Server::start(ran.path());
    let first = server.get("/archives/");
    assert_eq!(first.status, 200);
    assert_eq!(first.body.matches("<tr>").count(), 101, "a header row and 100 runs");
    assert!(first.body.contains("runs 1–100 of 250 · page 1 of 3"), "{}", first.body);
    assert!(first.body.contains("href=\"/archives/page/2/\">older →</a>"), "{}", first.body);
    assert!(first.body.contains(&format!("/archives/{}/", ids[0])) && !first.body.contains(&ids[100]));
    let last = server.get("/archives/page/3/");
    assert_eq!(last.status, 200);
    assert_eq!(last.body.matches("<tr>").count(), 51);
    assert!(last.body.contains("runs 201–250 of 250 · page 3 of 3") && last.body.contains("← newer"));
    assert!(last.body.contains(&ids[249]) && !last.body.contains("older →"));
    for missing in ["/archives/page/4/", "/archives/page/1/", "/archives/page/0/", "/archives/page/x/"] {
        assert_eq!(server.get(missing).status, 404, "{missing}");
    }
    // The run pages behind the rows are read when asked for.
    let run = server.get(&format!("/archives/{}/", ids[249]));
    assert_eq!(run.status, 200);

    let api = server.get("/api/archives?limit=10&page=3").json();
    let api_ids: Vec<&str> = api.as_array().unwrap().iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    assert_eq!(api_ids, ids[20..30].iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(server.get("/api/archives").json().as_array().unwrap().len(), 250, "all, unless paged");
    assert_eq!(server.get("/api/archives?limit=abc&page=-1").json().as_array().unwrap().len(), 250, "lenient");
    drop(server);

    let built = runbook(ran.path(), &["build", "--out", "public", "--quiet"]);
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    for page in ["public/archives/index.html", "public/archives/page/2/index.html", "public/archives/page/3/index.html"]
    {
        assert!(ran.path().join(page).is_file(), "{page}");
    }
    assert!(!ran.path().join("public/archives/page/4").exists());
}

#[test]
fn a_cycle_reads_the_runs_of_its_period_only() {
    let ran = kb().args(["exec", "disk", "--quiet"]).run();
    let ids = copies_of_the_run(ran.path(), 30);
    // A damaged record outside the period is not read, so it is no warning of this report.
    let old = ran.path().join("archives").join(&ids[30]);
    std::fs::write(old.join("run.json"), "{ damaged").unwrap();
    // Copies 0..=10 started between 2026-05-31T23:50 and 2026-06-01T00:00.
    let ran =
        ran.again().args(["cycle", "--from", "2026-05-31T23:50:00Z", "--to", "2026-06-01T00:00:00Z", "--json"]).run();
    let report = ran.json();
    assert_eq!(report["summary"]["runs"], 11, "{report}");
    assert!(report["warnings"].as_array().is_none_or(|w| w.is_empty()), "{report}");
    // The same damaged record inside a period is counted, and said.
    let ran =
        ran.again().args(["cycle", "--from", "2026-05-31T23:00:00Z", "--to", "2026-06-01T00:00:00Z", "--json"]).run();
    let report = ran.json();
    assert_eq!(report["summary"]["runs"], 30, "{report}");
    assert!(report["warnings"].to_string().contains("unreadable"), "{report}");
}

#[test]
fn a_second_run_in_the_same_second_is_one_runbooks_run_not_a_second_runbook() {
    let ran = kb().args(["exec", "disk", "--quiet"]).run();
    let archives = ran.path().join("archives");
    let first = copies_of_the_run(ran.path(), 0).remove(0);
    // What the engine names a second run of `disk` that starts within the same second.
    let second = format!("{first}-2");
    std::fs::create_dir_all(archives.join(&second)).unwrap();
    let mut record: Value =
        serde_json::from_slice(&std::fs::read(archives.join(&first).join("run.json")).unwrap()).unwrap();
    record["run_id"] = Value::String(second.clone());
    std::fs::write(archives.join(&second).join("run.json"), serde_json::to_vec(&record).unwrap()).unwrap();

    let server = Server::start(ran.path());
    let metrics = server.get("/metrics").body;
    let latest: Vec<&str> =
        metrics.lines().filter(|l| l.starts_with("runbook_last_run_verdict{runbook=\"disk\"")).collect();
    assert_eq!(latest.len(), 1, "one series per runbook: {latest:?}");
    assert!(latest[0].contains(&format!("run=\"{second}\"")), "the newer of the two: {latest:?}");
    let page = server.get("/runbooks/disk/").body;
    assert!(
        page.contains(&format!("/archives/{first}/")) && page.contains(&format!("/archives/{second}/")),
        "both are its runs"
    );
    drop(server);
    let listed = runbook(ran.path(), &["archive", "list", "--runbook", "disk", "--json"]);
    let rows: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows}");
}
