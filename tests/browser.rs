//! The site in a real browser: headless Chromium (Debian's `chromium`) driven over WebDriver by
//! `chromedriver` and fantoccini. A person's path: open `/`, press `/`, type, see results, open
//! one, follow a cross-reference — against `runbook serve` and against the `build` output served
//! from disk — with no console errors, and a screenshot of each in the test's temp dir (also
//! copied to `$RUNBOOK_SCREENSHOTS` when set). Hostile runbooks and run output must not run.
//!
//! Without Chromium the tests skip with a reason, except when `CI` is set: then they fail.

use crate::site_kit::{Server, kb_with_run, runbook};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(15);

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file()))
}

/// Chromium and chromedriver, or `None` (and why) when this machine lacks them.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = find_program(&["chromedriver"]);
    match (chromium, driver) {
        (Some(chromium), Some(driver)) => Some((chromium, driver)),
        (chromium, driver) => {
            let missing = [("chromium", chromium.is_none()), ("chromedriver", driver.is_none())]
                .iter()
                .filter(|(_, gone)| *gone)
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(" and ");
            if std::env::var_os("CI").is_some() {
                panic!("CI is set and {missing} is missing: .ci/run installs chromium and chromium-driver");
            }
            println!("skipping the browser test: {missing} not found (apt-get install chromium chromium-driver)");
            None
        }
    }
}

/// chromedriver on a free port, and a headless Chromium session through it.
struct Browser {
    driver: Child,
    client: Option<Client>,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let capabilities = serde_json::json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--window-size=1280,900", format!("--user-data-dir={}", profile.path().display()),
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities.as_object().cloned().unwrap_or_default())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Browser { driver, client: Some(client), _profile: profile }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("open session")
    }

    /// Errors the page logged to the console since the last call.
    async fn console_errors(&self) -> Vec<String> {
        let log = self.client().issue_cmd(BrowserLog).await.expect("browser log");
        log.as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn screenshot(&self, dir: &Path, name: &str) {
        let png = self.client().screenshot().await.expect("screenshot");
        let path = dir.join(name);
        std::fs::write(&path, &png).expect("write screenshot");
        println!("screenshot: {}", path.display());
        if let Some(keep) = std::env::var_os("RUNBOOK_SCREENSHOTS") {
            let _ = std::fs::create_dir_all(&keep);
            let _ = std::fs::copy(&path, Path::new(&keep).join(name));
        }
    }

    async fn eval(&self, script: &str) -> serde_json::Value {
        self.client().execute(script, vec![]).await.expect("run a script")
    }

    async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // A test that failed mid-way never closed its session: end the browser it started
        // (every process of it names the profile folder), so none outlives the test.
        kill_processes_naming(self._profile.path());
    }
}

fn kill_processes_naming(path: &Path) {
    let marker = path.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else { return };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<libc::pid_t>() else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        if String::from_utf8_lossy(&cmdline).contains(&marker) {
            // SAFETY: a plain kill(2) of a process this test started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// chromedriver's log endpoint (needs `goog:loggingPrefs`).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_string()))
    }
}

async fn wait_for_path(client: &Client, path: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let url = client.current_url().await.expect("current URL");
        if url.path() == path {
            return;
        }
        assert!(Instant::now() < deadline, "expected to reach {path}, still at {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a person does: `/` to search, type, open a result, follow a cross-reference.
async fn search_and_browse(browser: &Browser, base: &str, shots: &Path, label: &str) {
    let client = browser.client();
    client.goto(&format!("{base}/")).await.expect("open /");
    let title = client.title().await.expect("title");
    assert!(title.contains("Runbooks"), "{title}");
    client
        .perform_actions(
            KeyActions::new("keyboard".into()).then(KeyAction::Down { value: '/' }).then(KeyAction::Up { value: '/' }),
        )
        .await
        .expect("press /");
    assert_eq!(browser.eval("return document.activeElement.id").await, "search-input", "`/` focuses search");
    let input = client.find(Locator::Id("search-input")).await.expect("search box");
    input.send_keys("nvidia-sm").await.expect("type");
    let first =
        client.wait().at_most(WAIT).for_element(Locator::Css("#search-popup li a")).await.expect("results appear");
    let text = first.text().await.expect("result text");
    assert!(text.contains("GPU notes"), "first result: {text}");
    browser.screenshot(shots, &format!("{label}-search.png")).await;
    first.click().await.expect("open the result");
    wait_for_path(client, "/runbooks/gpu/").await;
    let link = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(".prose a[href^=\"/runbooks/disk/\"]"))
        .await
        .expect("a cross-reference");
    link.click().await.expect("follow it");
    wait_for_path(client, "/runbooks/disk/").await;
    let heading = client.find(Locator::Css("main h1")).await.expect("h1").text().await.expect("h1 text");
    assert!(heading.starts_with("Disk is full"), "{heading}");
    let copies = browser.eval("return document.querySelectorAll('button.copy:not([hidden])').length").await;
    assert!(copies.as_u64().unwrap_or(0) >= 2, "copy buttons shown: {copies}");
    client.find(Locator::Css("#nav-all summary")).await.expect("nav").click().await.expect("open the nav");
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#nav-tree a[aria-current=\"page\"]"))
        .await
        .expect("shared nav loads");
    browser.screenshot(shots, &format!("{label}-runbook.png")).await;
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

/// The hostile runbook and the run whose output holds markup: nothing of theirs may run.
async fn nothing_hostile_runs(browser: &Browser, base: &str, run: &str) {
    let client = browser.client();
    for path in ["/runbooks/xss/".to_string(), format!("/archives/{run}/"), "/cycles/2026-w01/".into()] {
        client.goto(&format!("{base}{path}")).await.expect("open page");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(client.get_alert_text().await.is_err(), "{path} opened an alert");
        let xss = browser.eval("return typeof window.__xss").await;
        assert_eq!(xss, "undefined", "{path} ran a script");
        let title = client.title().await.expect("title");
        assert_ne!(title, "pwned", "{path} ran a script");
    }
    let shown = browser.eval("return document.body.textContent").await;
    assert!(shown.as_str().unwrap_or_default().contains("All runbooks were run."), "the report is shown, cleaned");
    // The hostile image keeps its (missing) picture, without its handler: that 404 is expected.
    let errors: Vec<String> =
        browser.console_errors().await.into_iter().filter(|e| !e.contains("/runbooks/xss/x - ")).collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

fn run_id(dir: &Path) -> String {
    std::fs::read_dir(dir.join("archives"))
        .expect("archives")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n != "cycles")
        .expect("a run")
}

#[test]
fn browser_on_the_live_server() {
    let Some((chromium, chromedriver)) = tools() else { return };
    let dir = kb_with_run();
    let server = Server::start(dir.path());
    let run = run_id(dir.path());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let browser = Browser::start(&chromium, &chromedriver).await;
        search_and_browse(&browser, &server.base, dir.path(), "served").await;
        nothing_hostile_runs(&browser, &server.base, &run).await;
        browser.client().set_window_size(390, 844).await.expect("phone size");
        browser.client().goto(&format!("{}/runbooks/disk/", server.base)).await.expect("open");
        browser.screenshot(dir.path(), "served-phone.png").await;
        browser.close().await;
    });
}

#[test]
fn browser_on_the_static_build() {
    let Some((chromium, chromedriver)) = tools() else { return };
    let dir = kb_with_run();
    let built = runbook(dir.path(), &["build", "--out", "public"]);
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let run = run_id(dir.path());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        // The build output as any static host serves it.
        let app = axum::Router::new().fallback_service(tower_http::services::ServeDir::new(dir.path().join("public")));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let browser = Browser::start(&chromium, &chromedriver).await;
        search_and_browse(&browser, &base, dir.path(), "static").await;
        nothing_hostile_runs(&browser, &base, &run).await;
        // The search page renders results in the browser.
        browser.client().goto(&format!("{base}/search/?q=error+304")).await.expect("search page");
        let hit = browser.client().wait().at_most(WAIT).for_element(Locator::Css("#search-results .hit a")).await;
        assert!(hit.expect("full results").text().await.expect("text").contains("GPU notes"));
        // A term in most sections is kept as a bitmap of them (`the` here), the others as numbers.
        browser.client().goto(&format!("{base}/search/?q=the")).await.expect("search page");
        browser.client().wait().at_most(WAIT).for_element(Locator::Css("#search-results .hit a")).await.expect("hits");
        let titles = browser
            .eval("return [...document.querySelectorAll('#search-results .hit a')].map(a => a.textContent).join('|')")
            .await;
        assert!(titles.as_str().is_some_and(|t| t.contains("Disk is full")), "hits found through a bitmap: {titles}");
        // Cycle reports and runs are in the static index too, and their hits lead to their pages.
        browser.client().goto(&format!("{base}/search/?q=readiness")).await.expect("search page");
        let hit = browser.client().wait().at_most(WAIT).for_element(Locator::Css("#search-results .hit a")).await;
        let href = hit.expect("a cycle report hit").attr("href").await.expect("href");
        assert_eq!(href.as_deref(), Some("/cycles/2026-w01/"));
        browser.close().await;
    });
}
