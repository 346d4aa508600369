//! Alerts in, diagnoses out: `runbook serve --hooks` and `runbook hooks` against real senders —
//! Prometheus' Alertmanager on loopback — and against hostile input.

use crate::site_kit::{Response, Server, eventually, request};
use crate::test::{Test, free_port, real_tool};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "hooks-test-token-0123456789";

/// A runbook that opts in: a read-only step that records the label it was given, byte for byte,
/// and a step that would change the system.
const DISK: &str = r#"---
id: disk-full
alerts: [DiskFull, DiskAlmostFull]
on_alert: diagnose
vars:
  mountpoint: /
  target: none
---
# Disk full

```yaml step
id: space
disk: {path: "{{ mountpoint }}", used_percent: {le: 100}}
```

```yaml step
id: record
run: printf '%s' {{ target | shell_quote }} > "$HOME/label.bin"
```

```yaml step
id: clean
confirm: Delete old logs?
run: touch "$HOME/cleaned"
```
"#;

/// Named by alerts, but never run by one.
const LINKED: &str = "---\nid: gpu-idle\nalerts: [GpuIdle]\n---\n# GPU idle\n\n```yaml step\nid: look\nrun: touch \"$HOME/gpu-ran\"\n```\n";

/// Opted in, but its script pastes `target` unquoted: the label must not reach it.
const UNSAFE: &str = "---\nid: unsafe\non_alert: diagnose\nvars: {target: safe}\n---\n# Unsafe\n\n```yaml step\nid: echo\nrun: echo {{ target }} > \"$HOME/unsafe.txt\"\n```\n";

/// Found through the alert's `runbook_url` annotation only.
const BY_URL: &str = "---\nid: node-filesystem\non_alert: diagnose\n---\n# Node filesystem\n\n```yaml step\nid: ok\nrun: \"true\"\n```\n";

fn kb() -> tempfile::TempDir {
    Test::new()
        .file("runbooks/disk-full.md", DISK)
        .file("runbooks/gpu-idle.md", LINKED)
        .file("runbooks/unsafe.md", UNSAFE)
        .file("runbooks/node-filesystem.md", BY_URL)
        .file("token", &format!("{TOKEN}\n"))
        .run_dir()
}

fn serve(dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--addr", "127.0.0.1:0", "--hooks", "token"];
    args.extend_from_slice(extra);
    Server::start_with(dir, &args)
}

fn post(addr: &str, path: &str, token: Option<&str>, body: &str, extra_headers: &str) -> Response {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    request(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{extra_headers}Content-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// An Alertmanager v4 notification with one alert per `(fingerprint, labels)`.
fn notification(status: &str, alerts: &[(&str, Value)]) -> String {
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|(fingerprint, labels)| {
            json!({"status": status, "labels": labels, "annotations": {}, "startsAt": "2026-01-01T00:00:00Z",
                   "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph",
                   "fingerprint": fingerprint})
        })
        .collect();
    json!({"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": status, "receiver": "test",
           "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
           "alerts": alerts})
    .to_string()
}

/// Every run folder's record.
fn runs(dir: &Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(dir.join("archives")) else { return Vec::new() };
    let mut out: Vec<(PathBuf, Value)> = entries
        .flatten()
        .map(|e| e.path().join("run.json"))
        .filter_map(|p| Some((p.clone(), serde_json::from_str(&std::fs::read_to_string(&p).ok()?).ok()?)))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, v)| v).collect()
}

fn finished_runs(dir: &Path) -> Vec<Value> {
    runs(dir).into_iter().filter(|r| r["verdict"] != "running").collect()
}

/// Waits until the hooks have no run queued or running.
fn settle(server: &Server) {
    let idle = eventually(Duration::from_secs(60), || {
        let alerts = server.get("/api/alerts").json();
        alerts["alerts"].as_array().is_some_and(|list| {
            list.iter().flat_map(|a| a["runs"].as_array().cloned().unwrap_or_default()).all(|r| {
                let state = r["state"].as_str().unwrap_or_default();
                state != "queued" && state != "running"
            })
        })
    });
    assert!(idle, "runs still going: {}", server.get("/api/alerts").body);
}

struct Alertmanager {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Alertmanager on loopback with one webhook receiver, `runbook`, pointing at `hook_url`, with
    /// short group and repeat intervals so it sends the same alert again within seconds.
    fn start(binary: &Path, hook_url: &str, token_file: &Path) -> Alertmanager {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = format!(
            "route:\n  receiver: runbook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  \
             repeat_interval: 2s\nreceivers:\n  - name: runbook\n    webhook_configs:\n      - url: {hook_url}\n        \
             send_resolved: true\n        http_config:\n          authorization:\n            type: Bearer\n            \
             credentials_file: {}\n",
            token_file.display()
        );
        std::fs::write(dir.path().join("am.yml"), config).expect("write the config");
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", dir.path().join("am.yml").display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Alertmanager");
        let am = Alertmanager { child, url: format!("127.0.0.1:{port}"), _dir: dir };
        let ready = eventually(Duration::from_secs(30), || {
            std::net::TcpStream::connect(&am.url).is_ok() && crate::site_kit::get(&am.url, "/-/ready").status == 200
        });
        assert!(ready, "Alertmanager did not become ready on {}", am.url);
        am
    }

    /// `POST /api/v2/alerts`, the way Prometheus sends alerts.
    fn fire(&self, alerts: &Value) {
        let body = alerts.to_string();
        let response = request(
            &self.url,
            &format!(
                "POST /api/v2/alerts HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                self.url,
                body.len()
            ),
        );
        assert_eq!(response.status, 200, "Alertmanager refused the alerts: {}", response.body);
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn alertmanager_round_trip_runs_the_matched_runbook_once_with_its_labels() {
    let Some(binary) = real_tool(&["/usr/bin/prometheus-alertmanager", "prometheus-alertmanager", "alertmanager"])
    else {
        return;
    };
    let dir = kb();
    let server = serve(dir.path(), &[]);
    let hook = format!("{}/hooks/alertmanager", server.base);
    let am = Alertmanager::start(&binary, &hook, &dir.path().join("token"));
    let label = "/data; $(touch \"$HOME/pwned\") `id` 'quoted' \"double\"";
    am.fire(&json!([{
        "labels": {"alertname": "DiskFull", "instance": "node1", "target": label, "severity": "critical"},
        "annotations": {"summary": "disk almost full"},
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=disk"
    }]));
    assert!(eventually(Duration::from_secs(60), || finished_runs(dir.path()).len() == 1), "no run finished");
    // Alertmanager sends the group again every repeat_interval (2 s): wait for resends, which the
    // cooldown must absorb.
    let resent = eventually(Duration::from_secs(30), || {
        server.get("/api/alerts").json()["alerts"].as_array().is_some_and(|list| list.len() >= 3)
    });
    assert!(resent, "Alertmanager did not send again: {}", server.get("/api/alerts").body);
    settle(&server);
    let all = runs(dir.path());
    assert_eq!(all.len(), 1, "one run for one alert, not one per notification");
    let run = &all[0];
    assert_eq!(run["runbook"]["id"], "disk-full");
    assert_eq!(run["options"]["diagnose"], true);
    assert_eq!(run["vars"]["target"], label, "the label filled the variable");
    assert_eq!(std::fs::read(dir.path().join("label.bin")).unwrap(), label.as_bytes(), "exact bytes reached the step");
    assert!(!dir.path().join("pwned").exists(), "the label ran as shell code");
    assert!(!dir.path().join("cleaned").exists(), "a confirm step ran on an alert");
    let trigger = &run["trigger"];
    assert_eq!(trigger["kind"], "alertmanager");
    assert_eq!(trigger["receiver"], "runbook");
    assert_eq!(trigger["status"], "firing");
    assert_eq!(trigger["labels"]["alertname"], "DiskFull");
    assert_eq!(trigger["labels"]["instance"], "node1");
    assert_eq!(trigger["generator_url"], "http://prometheus.example:9090/graph?g0.expr=disk");
    let port = am.url.rsplit(':').next().unwrap();
    assert!(trigger["external_url"].as_str().unwrap().contains(&format!(":{port}")), "{trigger}");
    assert_eq!(trigger["fingerprint"].as_str().map(str::len), Some(16), "Alertmanager's fingerprint");
    let alerts = server.get("/api/alerts").json();
    let deduplicated = alerts["alerts"].as_array().unwrap().iter().filter(|a| a["outcome"] == "deduplicated").count();
    assert!(deduplicated >= 2, "{alerts}");
    // The run page shows the trigger; the runbook's page opens with the diagnosis.
    let run_id = run["run_id"].as_str().unwrap();
    let shown = eventually(Duration::from_secs(20), || {
        server.get(&format!("/archives/{run_id}/")).body.contains("Alertmanager alert DiskFull (firing)")
    });
    assert!(shown, "the run page lacks the trigger");
    let page = server.get("/runbooks/disk-full/").body;
    let banner = page.find("Diagnosed automatically for DiskFull at").expect("the banner");
    assert!(banner < page.find("class=\"rb-header\"").unwrap(), "the page opens with the banner");
    assert!(page.contains(&format!("/archives/{run_id}/")), "the banner links the run");
    let metrics = server.get("/metrics").body;
    assert!(metrics.contains("runbook_hooks_runs_total{runbook=\"disk-full\",verdict=\"passed\"} 1"), "{metrics}");
    assert!(metrics.contains("runbook_hooks_alerts_total{source=\"alertmanager\",outcome=\"queued\"} 1"), "{metrics}");
}

#[test]
fn wrong_or_missing_token_is_401_and_nothing_runs() {
    let dir = kb();
    let server = serve(dir.path(), &[]);
    let body = notification("firing", &[("f1", json!({"alertname": "DiskFull"}))]);
    for token in [None, Some("wrong"), Some(&TOKEN[..TOKEN.len() - 1]), Some(&format!("{TOKEN}x")[..])] {
        let response = post(&server.addr, "/hooks/alertmanager", token, &body, "");
        assert_eq!(response.status, 401, "{token:?}: {}", response.body);
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
        assert_eq!(post(&server.addr, "/hooks/grafana", token, &body, "").status, 401);
    }
    let basic = post(&server.addr, "/hooks/alertmanager", None, &body, &format!("Authorization: Basic {TOKEN}\r\n"));
    assert_eq!(basic.status, 401);
    std::thread::sleep(Duration::from_millis(500));
    assert!(runs(dir.path()).is_empty(), "a run started without the token");
    assert!(server.get("/api/alerts").json()["alerts"].as_array().unwrap().is_empty());
    let metrics = server.get("/metrics").body;
    assert!(metrics.contains("runbook_hooks_requests_total{endpoint=\"alertmanager\",code=\"401\"} 5"), "{metrics}");
}

#[test]
fn oversized_and_malformed_bodies_are_4xx() {
    let dir = kb();
    let server = serve(dir.path(), &["--max-body", "4096"]);
    let big = notification("firing", &[("f1", json!({"alertname": "DiskFull", "pad": "x".repeat(5000)}))]);
    assert_eq!(post(&server.addr, "/hooks/alertmanager", Some(TOKEN), &big, "").status, 413);
    for bad in ["", "{", "[]", "{\"status\": \"firing\"}", "{\"alerts\": [{\"labels\": {\"a\": 1}}]}", "\u{0}"] {
        let response = post(&server.addr, "/hooks/alertmanager", Some(TOKEN), bad, "");
        assert_eq!(response.status, 400, "{bad:?}: {}", response.body);
        assert!(response.json()["error"].as_str().unwrap().contains("not a webhook notification"), "{}", response.body);
    }
    let v3 = post(&server.addr, "/hooks/alertmanager", Some(TOKEN), r#"{"version":"3","alerts":[]}"#, "");
    assert_eq!(v3.status, 400);
    assert!(v3.body.contains("version"), "{}", v3.body);
    std::thread::sleep(Duration::from_millis(300));
    assert!(runs(dir.path()).is_empty());
}

#[test]
fn label_values_with_shell_metacharacters_reach_the_step_as_data() {
    let dir = kb();
    let server = serve(dir.path(), &[]);
    let nasty =
        "a'b\"c $(touch \"$HOME/pwned\"); `touch \"$HOME/pwned2\"` \\ | & > < * ? ~ ! # \t{{ 7*7 }} \u{e9}\nline2";
    let body = notification("firing", &[("f-nasty", json!({"alertname": "DiskFull", "target": nasty}))]);
    assert_eq!(post(&server.addr, "/hooks/alertmanager", Some(TOKEN), &body, "").status, 202);
    assert!(eventually(Duration::from_secs(30), || finished_runs(dir.path()).len() == 1));
    assert_eq!(std::fs::read(dir.path().join("label.bin")).unwrap(), nasty.as_bytes());
    assert!(!dir.path().join("pwned").exists() && !dir.path().join("pwned2").exists());
    // A runbook whose script pastes the variable unquoted never gets the label.
    let body = notification("firing", &[("f-unsafe", json!({"alertname": "unsafe", "target": "$(touch x)"}))]);
    let response = post(&server.addr, "/hooks/alertmanager", Some(TOKEN), &body, "");
    assert_eq!(response.json()["alerts"][0]["runbooks"], json!(["unsafe"]));
    assert!(eventually(Duration::from_secs(30), || finished_runs(dir.path()).len() == 2));
    assert_eq!(std::fs::read_to_string(dir.path().join("unsafe.txt")).unwrap(), "safe\n", "the default, not the label");
    let alerts = server.get("/api/alerts").json();
    let refused = &alerts["alerts"][0]["runs"][0]["refused_labels"][0];
    assert!(refused.as_str().unwrap().contains("pastes `target` into its script without `| shell_quote`"), "{alerts}");
}

/// A plain doc, as teams write alert runbooks: the value to copy from the alert is a placeholder.
const PLAIN: &str = r#"---
alerts: [KubePodCrashLooping]
on_alert: diagnose
---
# Pod crash looping

## Diagnosis

```console
$ NAMESPACE='<value of namespace label from alert>'
$ echo "namespace=$NAMESPACE"
```

## Mitigation

```bash
touch "$HOME/restarted-<pod>"
```
"#;

#[test]
fn labels_fill_the_placeholders_of_a_plain_doc_as_values() {
    let dir = Test::new().file("runbooks/pod-crash.md", PLAIN).file("token", &format!("{TOKEN}\n")).run_dir();
    let server = serve(dir.path(), &[]);
    let namespace = "prod'; touch \"$HOME/pwned\"; echo '$(touch \"$HOME/pwned2\") `id`";
    let labels = json!({"alertname": "KubePodCrashLooping", "namespace": namespace, "pod": "web-1"});
    let body = notification("firing", &[("p1", labels)]);
    assert_eq!(post(&server.addr, "/hooks/alertmanager", Some(TOKEN), &body, "").status, 202);
    settle(&server);
    let all = finished_runs(dir.path());
    assert_eq!(all.len(), 1, "{}", server.get("/api/alerts").body);
    let run = &all[0];
    assert_eq!(run["runbook"]["id"], "pod-crash");
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps[0]["outcome"], "passed", "{run:#}");
    assert_eq!(steps[0]["stdout_tail"], format!("namespace={namespace}"), "the label reached the command as data");
    assert_eq!(steps[1]["outcome"], "skipped", "the mitigation asks, so an alert never runs it");
    assert!(!dir.path().join("pwned").exists() && !dir.path().join("pwned2").exists());
    assert!(!dir.path().join("restarted-web-1").exists());
    // A placeholder takes one line: a label with a line break is refused, not cut.
    let labels = json!({"alertname": "KubePodCrashLooping", "namespace": "a\nb"});
    let body = notification("firing", &[("p2", labels)]);
    post(&server.addr, "/hooks/alertmanager", Some(TOKEN), &body, "");
    settle(&server);
    let alerts = server.get("/api/alerts").json();
    let slot = &alerts["alerts"][0]["runs"][0];
    assert!(slot["refused_labels"][0].as_str().unwrap().contains("line break"), "{alerts}");
    assert!(slot["error"].as_str().unwrap().contains("namespace"), "the run says what it lacked: {alerts}");
}

#[test]
fn a_burst_of_1000_identical_alerts_starts_one_run() {
    let dir = kb();
    let server = serve(dir.path(), &[]);
    let body = notification("firing", &[("same-fingerprint", json!({"alertname": "DiskFull"}))]);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..250 {
                    assert_eq!(post(&server.addr, "/hooks/alertmanager", Some(TOKEN), &body, "").status, 202);
                }
            });
        }
    });
    settle(&server);
    assert_eq!(runs(dir.path()).len(), 1);
    let metrics = server.get("/metrics").body;
    assert!(metrics.contains("outcome=\"queued\"} 1\n"), "{metrics}");
    assert!(metrics.contains("outcome=\"deduplicated\"} 999\n"), "{metrics}");
    // The same alert resolving is another status: it is counted, and starts nothing.
    let resolved = notification("resolved", &[("same-fingerprint", json!({"alertname": "DiskFull"}))]);
    let response = post(&server.addr, "/hooks/alertmanager", Some(TOKEN), &resolved, "");
    assert_eq!(response.json()["alerts"][0]["outcome"], "resolved");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(runs(dir.path()).len(), 1);
}

#[test]
fn alerts_for_runbooks_that_did_not_opt_in_or_match_nothing_run_nothing() {
    let dir = kb();
    let server = serve(dir.path(), &[]);
    let body = notification(
        "firing",
        &[("g1", json!({"alertname": "GpuIdle"})), ("n1", json!({"alertname": "SomethingElse", "job": "x"}))],
    );
    let response = post(&server.addr, "/hooks/alertmanager", Some(TOKEN), &body, "");
    assert_eq!(response.status, 202);
    let outcomes: Vec<Value> =
        response.json()["alerts"].as_array().unwrap().iter().map(|a| a["outcome"].clone()).collect();
    assert_eq!(outcomes, [json!("not_opted_in"), json!("unmatched")]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(runs(dir.path()).is_empty());
    assert!(!dir.path().join("gpu-ran").exists());
    let metrics = server.get("/metrics").body;
    assert!(
        metrics.contains("runbook_hooks_alerts_total{source=\"alertmanager\",outcome=\"unmatched\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("outcome=\"not_opted_in\"} 1"), "{metrics}");
}

#[test]
fn runbook_url_then_alert_name_find_the_runbook() {
    let dir = kb();
    let server = serve(dir.path(), &[]);
    let mut body: Value = serde_json::from_str(&notification(
        "firing",
        &[("u1", json!({"alertname": "NodeFilesystemAlmostOutOfSpace"})), ("a1", json!({"alertname": "DISK-FULL"}))],
    ))
    .unwrap();
    body["alerts"][0]["annotations"]["runbook_url"] = json!("https://git.example/ops/blob/main/Node-Filesystem.md#fix");
    let response = post(&server.addr, "/hooks/alertmanager", Some(TOKEN), &body.to_string(), "");
    let alerts = response.json()["alerts"].clone();
    assert_eq!(alerts[0]["runbooks"], json!(["node-filesystem"]), "{alerts}");
    assert_eq!(alerts[1]["runbooks"], json!(["disk-full"]), "{alerts}");
    settle(&server);
    let listed = server.get("/api/alerts").json();
    let rules: Vec<&Value> = listed["alerts"].as_array().unwrap().iter().map(|a| &a["matched_by"]).collect();
    assert_eq!(rules, [&json!("alert_name"), &json!("runbook_url")], "newest first");
}

#[test]
fn grafana_posts_are_verified_by_their_signature_when_configured() {
    let dir = kb();
    std::fs::write(dir.path().join("hmac"), "grafana-secret\n").unwrap();
    let server = serve(
        dir.path(),
        &["--grafana-hmac-secret", "hmac", "--grafana-timestamp-header", "X-Grafana-Alerting-Timestamp"],
    );
    let body = json!({"receiver": "rb", "status": "firing", "orgId": 1, "version": "1", "title": "[FIRING:1]",
        "alerts": [{"status": "firing", "labels": {"alertname": "DiskAlmostFull"}, "fingerprint": "gf1",
                    "dashboardURL": "http://grafana/d/abc", "values": {"B": 97.5}}]})
    .to_string();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let signature = hmac_hex(b"grafana-secret", format!("{now}:{body}").as_bytes());
    let signed = format!("X-Grafana-Alerting-Signature: {signature}\r\nX-Grafana-Alerting-Timestamp: {now}\r\n");
    let forged =
        format!("X-Grafana-Alerting-Signature: {}\r\nX-Grafana-Alerting-Timestamp: {now}\r\n", "ab".repeat(32));
    let rejected = post(&server.addr, "/hooks/grafana", Some(TOKEN), &body, &forged);
    assert_eq!(rejected.status, 401, "{}", rejected.body);
    assert!(rejected.body.contains("signature does not match"), "{}", rejected.body);
    assert_eq!(post(&server.addr, "/hooks/grafana", Some(TOKEN), &body, "").status, 401, "unsigned");
    let accepted = post(&server.addr, "/hooks/grafana", Some(TOKEN), &body, &signed);
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    assert!(eventually(Duration::from_secs(30), || finished_runs(dir.path()).len() == 1));
    let run = &runs(dir.path())[0];
    assert_eq!(run["trigger"]["kind"], "grafana");
    assert_eq!(run["trigger"]["dashboard_url"], "http://grafana/d/abc");
    assert_eq!(run["trigger"]["values"]["B"], 97.5);
}

/// HMAC-SHA256, hex — written out here so the test does not share the server's code.
fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    let output = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", std::str::from_utf8(key).unwrap(), "-hex"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(message)?;
            child.wait_with_output()
        })
        .expect("openssl");
    String::from_utf8(output.stdout).unwrap().rsplit(' ').next().unwrap().trim().to_string()
}

#[test]
fn hooks_alone_take_alerts_and_serve_their_metrics() {
    let dir = kb();
    let mut child = Command::new(crate::test::BIN)
        .args(["--kb"])
        .arg(dir.path())
        .args(["hooks", "--listen", "127.0.0.1:0", "--token-file", "token"])
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path().join(".state"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start runbook hooks");
    let stdout = child.stdout.take().unwrap();
    // Killed when the test ends, passing or not.
    let _child = KilledOnDrop(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    let addr = line.trim().trim_start_matches("listening on http://").trim_end_matches('/').to_string();
    let body = notification("firing", &[("solo", json!({"alertname": "DiskFull"}))]);
    assert_eq!(post(&addr, "/hooks/alertmanager", Some(TOKEN), &body, "").status, 202);
    assert!(eventually(Duration::from_secs(30), || finished_runs(dir.path()).len() == 1));
    assert_eq!(crate::site_kit::get(&addr, "/healthz").status, 200);
    // run.json says the run ended a moment before its process exits and the hooks count it.
    let counted = "runbook_hooks_runs_total{runbook=\"disk-full\",verdict=\"passed\"} 1";
    let ended = eventually(Duration::from_secs(10), || crate::site_kit::get(&addr, "/metrics").body.contains(counted));
    let metrics = crate::site_kit::get(&addr, "/metrics");
    assert!(ended, "{}", metrics.body);
    if let Some(promtool) = real_tool(&["promtool"]) {
        crate::watch::promtool_check_metrics(&promtool, &metrics.body);
    }
}

/// A child process, killed and reaped when dropped.
struct KilledOnDrop(Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_metrics_with_hooks_pass_promtool() {
    let Some(promtool) = real_tool(&["promtool"]) else { return };
    let dir = kb();
    let server = serve(dir.path(), &[]);
    let body =
        notification("firing", &[("p1", json!({"alertname": "DiskFull"})), ("p2", json!({"alertname": "Nope"}))]);
    assert_eq!(post(&server.addr, "/hooks/alertmanager", Some(TOKEN), &body, "").status, 202);
    settle(&server);
    let metrics = server.get("/metrics");
    assert_eq!(metrics.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert!(metrics.body.contains("runbook_hooks_alerts_total"), "{}", metrics.body);
    crate::watch::promtool_check_metrics(&promtool, &metrics.body);
}

#[test]
fn a_missing_token_file_is_invalid_input() {
    let dir = kb();
    let output = Command::new(crate::test::BIN)
        .arg("--kb")
        .arg(dir.path())
        .args(["serve", "--addr", "127.0.0.1:0", "--hooks", "no-such-token"])
        .current_dir(dir.path())
        .env("XDG_STATE_HOME", dir.path().join(".state"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read the token file") && stderr.contains("openssl rand -hex 32"), "{stderr}");
    std::fs::write(dir.path().join("empty"), "\n").unwrap();
    let output = Command::new(crate::test::BIN)
        .arg("--kb")
        .arg(dir.path())
        .args(["hooks", "--listen", "127.0.0.1:0", "--token-file", "empty"])
        .current_dir(dir.path())
        .env("XDG_STATE_HOME", dir.path().join(".state"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is empty"));
}
