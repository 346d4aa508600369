//! `runbook serve` against the real server on 127.0.0.1:0: every page and API, security,
//! live reload, graceful shutdown.

use crate::site_kit::{Server, eventually, get, kb, kb_with_run, request, runbook};
use std::time::Duration;

fn html(server: &Server, path: &str) -> String {
    let response = server.get(path);
    assert_eq!(response.status, 200, "{path}: {response:?}");
    assert_eq!(response.header("content-type"), Some("text/html; charset=utf-8"), "{path}");
    response.body
}

#[test]
fn every_page_answers() {
    let dir = kb_with_run();
    let server = Server::start(dir.path());
    let index = html(&server, "/");
    assert!(index.contains("Disk is full") && index.contains("verdict-passed"), "{index}");
    assert!(html(&server, "/runbooks/disk/").contains("Room on the filesystem"));
    assert!(html(&server, "/runbooks/DISK/").contains("Room on the filesystem"), "ids are case-insensitive");
    assert!(html(&server, "/tags/").contains("storage"));
    assert!(html(&server, "/tags/gpu/").contains("Disk is full"));
    let archives = html(&server, "/archives/");
    assert!(archives.contains("xss") && archives.contains("verdict-passed"), "{archives}");
    let runs = server.get("/api/archives").json();
    let run = runs[0]["run_id"].as_str().unwrap().to_string();
    let page = html(&server, &format!("/archives/{run}/"));
    assert!(
        page.contains("Prints &lt;b&gt;markup&lt;/b&gt;") && page.contains("&lt;script&gt;window.__xss = 6"),
        "{page}"
    );
    assert!(html(&server, "/runbooks/xss/").contains("Recent runs"));
    assert!(html(&server, "/cycles/").contains("Week 1 readiness"));
    assert!(html(&server, "/cycles/2026-w01/").contains("<h2 id=\"findings\">"));
    assert!(html(&server, "/search?q=nvidia-smi").contains("GPU notes"));
    assert!(html(&server, "/search/?q=nvidia-smi").contains("<mark>nvidia-smi</mark>"));
    assert!(html(&server, "/search").contains("<h1>Search</h1>"));
    let missing = server.get("/runbooks/nothing-here/");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("Not found"));
    let redirect = server.get("/runbooks/disk");
    assert_eq!(redirect.status, 308);
    assert_eq!(redirect.header("location"), Some("/runbooks/disk/"));
    // Assets: fingerprinted, cached for good.
    let app = index.split("src=\"").nth(1).and_then(|s| s.split('"').next()).unwrap();
    let asset = server.get(app);
    assert_eq!(asset.status, 200);
    assert_eq!(asset.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert!(asset.header("cache-control").unwrap().contains("immutable"));
}

/// An index that cannot be opened (its files damaged) leaves the site up and every search a
/// 503 that says so; there is no second engine to guess with.
#[test]
fn a_broken_index_makes_search_unavailable_not_the_site() {
    let dir = kb_with_run();
    assert!(runbook(dir.path(), &["index"]).status.success());
    std::fs::write(dir.path().join(".runbook/index/meta.json"), "{ not json").unwrap();
    let server = Server::start_unwatched(dir.path());
    let api = server.get("/api/search?q=disk");
    assert_eq!(api.status, 503, "{api:?}");
    assert!(api.json()["error"].as_str().unwrap().starts_with("search unavailable: search index in"), "{api:?}");
    let page = server.get("/search?q=disk");
    assert_eq!(page.status, 503, "{page:?}");
    assert!(page.body.contains("search unavailable"), "{}", page.body);
    assert_eq!(server.get("/runbooks/disk/").status, 200);
    assert_eq!(server.get("/api/runbooks").status, 200);
    let (code, stderr) = server.stop();
    assert_eq!(code, 0);
    assert!(stderr.contains("warning: search unavailable") && stderr.contains("runbook index --rebuild"), "{stderr}");
}

#[test]
fn json_api() {
    let dir = kb_with_run();
    let server = Server::start(dir.path());
    let response = server.get("/api/search?q=nvidia-smi&limit=5");
    assert_eq!(response.header("content-type"), Some("application/json"));
    let results = response.json();
    assert_eq!(results["query"], "nvidia-smi");
    assert!(results["suggestion"].is_null());
    let hit = &results["hits"][0];
    for field in ["kind", "id", "title", "heading", "anchor", "path", "line", "score", "snippet"] {
        assert!(!hit[field].is_null(), "hit lacks {field}: {results}");
    }
    assert_eq!(hit["id"], "gpu");
    assert!(hit["snippet"].as_str().unwrap().contains("<mark>nvidia-smi</mark>"));
    // Search as you type: the unfinished last word matches the words it begins, highlighted.
    let typing = server.get("/api/search?q=check%20nvidia-sm&prefix=1").json();
    assert_eq!(typing["hits"][0]["id"], "gpu", "{typing}");
    assert!(typing["hits"][0]["snippet"].as_str().unwrap().contains("<mark>nvidia-smi</mark>"), "{typing}");
    let finished = server.get("/api/search?q=nvidia-sm").json();
    assert!(finished["hits"].as_array().unwrap().iter().all(|h| h["id"] != "gpu") || !finished["suggestion"].is_null());
    let limited = server.get("/api/search?q=the&limit=1").json();
    assert_eq!(limited["hits"].as_array().unwrap().len(), 1);
    let tagged = server.get("/api/search?q=disk&tag=storage").json();
    assert!(tagged["hits"].as_array().unwrap().iter().all(|h| h["id"] == "disk"), "{tagged}");
    let runs = server.get("/api/search?q=shout&kind=archive").json();
    assert!(runs["hits"].as_array().unwrap().iter().all(|h| h["kind"] == "archive"), "{runs}");
    assert!(!runs["hits"].as_array().unwrap().is_empty(), "{runs}");
    let bad = server.get("/api/search?q=x&kind=everything");
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].as_str().unwrap().contains("unknown kind"));

    let list = server.get("/api/runbooks").json();
    let disk = list.as_array().unwrap().iter().find(|r| r["id"] == "disk").unwrap();
    assert_eq!(disk["url"], "/runbooks/disk/");
    assert_eq!(disk["steps"], 2);
    let xss = list.as_array().unwrap().iter().find(|r| r["id"] == "xss").unwrap();
    assert_eq!(xss["last_run"]["verdict"], "passed");
    // The same JSON as `runbook show --json`.
    let shown = server.get("/api/runbooks/disk").json();
    let show = runbook(dir.path(), &["show", "disk", "--json"]);
    let expected: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(shown, expected);
    assert_eq!(server.get("/api/runbooks/df").json()["id"], "disk", "aliases resolve");
    assert_eq!(server.get("/api/runbooks/nothing").status, 404);
    let archives = server.get("/api/archives").json();
    assert_eq!(archives[0]["runbook"], "xss");
    assert_eq!(archives[0]["verdict"], "passed");

    let health = server.get("/healthz");
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
}

#[test]
fn metrics_in_prometheus_format() {
    let dir = kb_with_run();
    let server = Server::start(dir.path());
    server.get("/");
    server.get("/api/search?q=disk");
    let metrics = server.get("/metrics");
    assert!(metrics.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    let text = metrics.body;
    assert!(text.contains("\nrunbook_runbooks 4\n"), "{text}");
    assert!(text.contains("runbook_last_run_verdict{runbook=\"xss\",verdict=\"passed\""), "{text}");
    assert!(text.contains("runbook_last_run_passed{runbook=\"xss\"} 1"), "{text}");
    assert!(text.contains("runbook_last_run_timestamp_seconds{runbook=\"xss\"} 1"), "{text}");
    assert!(text.contains("runbook_last_run_steps{runbook=\"xss\",outcome=\"passed\"} 1"), "{text}");
    assert!(text.contains("runbook_last_run_checks{runbook=\"xss\",result=\"passed\"}"), "{text}");
    assert!(text.contains("runbook_http_request_duration_seconds_bucket{route=\"page\",le=\"+Inf\"} "), "{text}");
    assert!(text.contains("runbook_search_duration_seconds_count 1"), "{text}");
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "bad sample line {line:?}");
    }
}

#[test]
fn path_traversal_is_not_found() {
    let dir = kb().file("secret.txt", "root:x:0:0\n").run_dir();
    let server = Server::start(dir.path());
    for path in [
        "/..%2f..%2fetc/passwd",
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/assets/..%2f..%2fsecret.txt",
        "/assets/../secret.txt",
        "/runbooks/..%2f..%2fsecret.txt/",
        "/runbooks/../../secret.txt",
        "/secret.txt",
        "/runbooks/operations/disk.md",
        "/archives/..%2f..%2fsecret.txt/",
        "/cycles/..%2f2026-w01/",
        "/tags/%00/",
        "//etc/passwd",
        "/%c0%ae%c0%ae/etc/passwd",
    ] {
        let response = server.get(path);
        assert_eq!(response.status, 404, "{path}: {}", response.status);
        assert!(!response.body.contains("root:x"), "{path} leaked a file");
    }
}

#[test]
fn any_query_string_is_safe() {
    let dir = kb().run_dir();
    let server = Server::start(dir.path());
    let long = "a".repeat(6000);
    for query in [
        "q=".to_string(),
        "q".to_string(),
        "q=%".to_string(),
        "q=%zz%ff%fe".to_string(),
        "q=%00%01".to_string(),
        "q=\"unbalanced AND (OR".to_string(),
        "q=*&limit=-1".to_string(),
        "q=x&limit=99999999999999999999999".to_string(),
        "q=x&limit=&tag=&kind=".to_string(),
        "q=x&q=y&q=z&tag=%3Cscript%3E".to_string(),
        format!("q={long}"),
        "&&&===&&".to_string(),
        "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_string(),
    ] {
        for path in ["/search", "/api/search", "/", "/runbooks/disk/", "/metrics"] {
            let response = server.get(&format!("{path}?{query}"));
            assert!((200..500).contains(&response.status), "{path}?{query}: {}", response.status);
            let is_html = response.header("content-type").is_some_and(|t| t.starts_with("text/html"));
            assert!(!(is_html && response.body.contains("<script>alert(1)")), "{path}?{query} reflected a script");
        }
    }
}

#[test]
fn read_only_and_loopback_only() {
    let dir = kb().run_dir();
    let server = Server::start(dir.path());
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let response = request(
            &server.addr,
            &format!("{method} / HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", server.addr),
        );
        assert_eq!(response.status, 405, "{method}");
        let api = request(
            &server.addr,
            &format!(
                "{method} /api/search HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                server.addr
            ),
        );
        assert_eq!(api.status, 405, "{method} /api/search");
    }
    let big = "x".repeat(100_000);
    let response = request(
        &server.addr,
        &format!(
            "GET /api/search HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{big}",
            server.addr,
            big.len()
        ),
    );
    assert!(response.status == 413 || response.status == 200, "{}", response.status);
    let rebinding = request(&server.addr, "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
    assert_eq!(rebinding.status, 421);
    let page = get(&server.addr, "/");
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
}

#[test]
fn escapes_runbook_and_run_output() {
    let dir = kb_with_run();
    let server = Server::start(dir.path());
    let runs = server.get("/api/archives").json();
    let run = runs[0]["run_id"].as_str().unwrap().to_string();
    for path in ["/runbooks/xss/".to_string(), format!("/archives/{run}/"), "/cycles/2026-w01/".into(), "/".into()] {
        let body = server.get(&path).body;
        assert!(!body.contains("<script>window.__xss"), "{path} has a live script");
        assert!(!body.contains("<img src=\"x\" onerror") && !body.contains("<img src=x onerror"), "{path}");
        assert!(!body.contains("href=\"javascript:"), "{path}");
    }
}

#[test]
fn broken_runbook_shows_its_error_not_a_dead_site() {
    let dir = kb().run_dir();
    let server = Server::start(dir.path());
    let page = html(&server, "/runbooks/broken/");
    assert!(page.contains("problem") && page.contains("runn"), "{page}");
    assert!(html(&server, "/").contains("Broken runbook"));
    assert!(html(&server, "/runbooks/disk/").contains("Room on the filesystem"));
}

#[test]
fn live_reload_shows_edits() {
    let dir = kb().run_dir();
    let server = Server::start(dir.path());
    assert!(html(&server, "/runbooks/gpu/").contains("GPU notes"));
    assert!(html(&server, "/").contains("data-reload=\"/_reload\""));
    // Asked before the edit: the answer (nothing) must not outlive the change.
    assert!(server.get("/api/search?q=edited").json()["hits"].as_array().unwrap().is_empty());
    let file = dir.path().join("runbooks/architecture/gpu.md");
    let text = std::fs::read_to_string(&file).unwrap().replace("# GPU notes", "# GPU notes, edited live");
    std::fs::write(&file, text).unwrap();
    let changed =
        eventually(Duration::from_secs(10), || server.get("/runbooks/gpu/").body.contains("GPU notes, edited live"));
    assert!(changed, "the page did not change");
    assert!(server.get("/api/search?q=edited").json()["hits"][0]["id"] == "gpu", "search sees the edit");
    // A runbook that stops parsing shows its error; the site stays up.
    std::fs::write(&file, "# GPU notes\n\n```yaml step\nrun: [unclosed\n```\n").unwrap();
    let broken = eventually(Duration::from_secs(10), || server.get("/runbooks/gpu/").body.contains("problem"));
    assert!(broken, "the error is not shown");
    assert_eq!(server.get("/").status, 200);
    let hits = server.get("/api/search?q=edited").json()["hits"].clone();
    assert!(hits.as_array().unwrap().iter().all(|h| h["id"] != "gpu"), "a broken runbook leaves search: {hits}");
    // A new runbook appears, in search too.
    std::fs::write(dir.path().join("runbooks/operations/new.md"), "# Brand new runbook\n").unwrap();
    assert!(eventually(Duration::from_secs(10), || server.get("/").body.contains("Brand new runbook")));
    assert_eq!(server.get("/api/search?q=brand").json()["hits"][0]["id"], "new");
}

/// How many reloads of this kind (`partial`, `full`) `/metrics` has counted.
fn reloads(server: &Server, kind: &str) -> u64 {
    let metrics = server.get("/metrics").body;
    let line = format!("runbook_site_reload_duration_seconds_count{{kind=\"{kind}\"}} ");
    let count = metrics.lines().find_map(|l| l.strip_prefix(line.as_str()));
    count.and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no {line:?} in {metrics}"))
}

/// An edit in place that leaves what names a runbook and what the navigation shows alone reads
/// that file again and nothing else, and every page that shows it follows: its own, the page
/// of a runbook it now links to (kept from before the edit), its new tag's, search, and
/// another process's search after it.
#[test]
fn an_edit_in_place_reloads_only_that_runbook_and_every_page_follows() {
    let dir = kb().run_dir();
    let server = Server::start(dir.path());
    for path in ["/runbooks/gpu/", "/runbooks/xss/", "/runbooks/disk/", "/runbooks/broken/", "/tags/security/"] {
        html(&server, path);
    }
    assert!(!html(&server, "/runbooks/xss/").contains("Referenced by"));
    assert_eq!(server.get("/tags/zebra/").status, 404);
    let file = dir.path().join("runbooks/architecture/gpu.md");
    let text = std::fs::read_to_string(&file).unwrap();
    let edited = format!(
        "---\ntags: [zebra]\n---\n{}\nZebra crossings and [the hostile page](../operations/xss.md).\n",
        text.trim_start()
    );
    std::fs::write(&file, edited).unwrap();
    let changed = eventually(Duration::from_secs(10), || server.get("/runbooks/gpu/").body.contains("Zebra crossings"));
    assert!(changed, "the page did not change");
    assert_eq!((reloads(&server, "partial"), reloads(&server, "full")), (1, 0), "read again alone");
    let xss = html(&server, "/runbooks/xss/");
    assert!(xss.contains("Referenced by") && xss.contains("GPU notes"), "the new link's backlink: {xss}");
    assert!(html(&server, "/runbooks/disk/").contains("GPU notes"), "the old backlink stays");
    assert!(html(&server, "/tags/zebra/").contains("GPU notes"), "the new tag's page");
    assert_eq!(server.get("/api/search?q=zebra").json()["hits"][0]["id"], "gpu");
    let cli = runbook(dir.path(), &["search", "--json", "zebra"]);
    assert!(cli.status.success(), "{cli:?}");
    let found: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(found["hits"][0]["id"], "gpu", "{found}");
    // A new title: the navigation (an asset every page links to) is rendered again too.
    let nav_before = nav_of(&html(&server, "/runbooks/disk/"));
    let renamed = std::fs::read_to_string(&file).unwrap().replace("# GPU notes", "# GPU notes, renamed");
    std::fs::write(&file, renamed).unwrap();
    let changed =
        eventually(Duration::from_secs(10), || server.get("/runbooks/gpu/").body.contains("GPU notes, renamed"));
    assert!(changed, "the page did not change");
    assert_eq!((reloads(&server, "partial"), reloads(&server, "full")), (2, 0));
    assert!(html(&server, "/runbooks/xss/").contains("GPU notes, renamed"), "the backlink's title");
    let nav = nav_of(&html(&server, "/runbooks/broken/"));
    assert_ne!(nav, nav_before, "a page kept from before links to the navigation before, gone now");
    assert!(server.get(&nav).body.contains("GPU notes, renamed"), "the navigation");
    // A new file changes what every link may lead to: the whole site is loaded again.
    std::fs::write(dir.path().join("runbooks/operations/new.md"), "# Brand new runbook\n").unwrap();
    assert!(eventually(Duration::from_secs(10), || server.get("/").body.contains("Brand new runbook")));
    assert_eq!(reloads(&server, "full"), 1);
}

/// A run recorded while the server runs (what `watch` and the alert hooks do all day) joins
/// the site and search without the whole site loaded again.
#[test]
fn a_run_recorded_while_serving_joins_the_site_without_a_whole_reload() {
    let dir = kb_with_run();
    let server = Server::start(dir.path());
    assert_eq!(server.get("/api/archives").json().as_array().unwrap().len(), 1);
    html(&server, "/archives/");
    html(&server, "/runbooks/xss/");
    // A second apart: run ids keep whole seconds.
    std::thread::sleep(Duration::from_millis(1100));
    let ran = runbook(dir.path(), &["exec", "xss", "--quiet"]);
    assert!(ran.status.success(), "{ran:?}");
    let two = eventually(Duration::from_secs(10), || server.get("/api/archives").json().as_array().unwrap().len() == 2);
    assert!(two, "the new run is not listed");
    let runs = server.get("/api/archives").json();
    let newest = runs[0]["run_id"].as_str().unwrap().to_string();
    assert!(html(&server, &format!("/archives/{newest}/")).contains("Prints &lt;b&gt;markup&lt;/b&gt;"));
    assert!(html(&server, "/archives/").contains(&newest), "the runs page kept from before");
    assert_eq!(reloads(&server, "full"), 0, "no whole reload");
    assert!(reloads(&server, "partial") >= 1);
    let hits = server.get("/api/search?q=markup&kind=archive").json()["hits"].clone();
    assert!(hits.as_array().unwrap().iter().any(|h| h["id"] == newest.as_str()), "search finds the new run: {hits}");
}

/// The URL of the navigation a page loads.
fn nav_of(page: &str) -> String {
    page.split("data-nav=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap().to_string()
}

#[test]
fn prints_its_url_warns_off_loopback_and_stops_on_sigterm() {
    let dir = kb().run_dir();
    let server = Server::start(dir.path());
    assert!(server.addr.starts_with("127.0.0.1:") && !server.addr.ends_with(":0"), "{}", server.addr);
    assert_eq!(server.get("/healthz").status, 200);
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
    let open = Server::start_at(dir.path(), "0.0.0.0:0");
    let (code, stderr) = open.stop();
    assert_eq!(code, 0);
    assert!(stderr.contains("warning: listening on 0.0.0.0:"), "{stderr}");
}
