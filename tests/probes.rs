//! Probes through `runbook exec`: a real HTTP server on 127.0.0.1:0, a closed TCP port, a full
//! tmpfs, fake GPU inventories and the real no-driver path, and the shipped runbooks.

use crate::test::{Ran, Test};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn one_runbook(front: &str, steps: &[&str]) -> Test {
    let mut text = format!("---\n{front}defaults: {{continue_on_error: true}}\n---\n# P\n\n");
    for step in steps {
        text.push_str(&format!("```yaml step\n{step}```\n\n"));
    }
    Test::new().bytes("runbooks/p.md", text.as_bytes())
}

fn latest_record(root: &Path) -> Value {
    let archives = root.join("archives");
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&archives).unwrap().flatten().map(|e| e.path()).collect();
    runs.sort();
    serde_json::from_str(&std::fs::read_to_string(runs.last().unwrap().join("run.json")).unwrap()).unwrap()
}

fn outcome(record: &Value, id: &str) -> (String, String) {
    let step = record["steps"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap();
    let why = step["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["message"].as_str().unwrap().to_string())
        .chain(step["reason"].as_str().map(str::to_string))
        .collect::<Vec<_>>()
        .join(" | ");
    (step["outcome"].as_str().unwrap().to_string(), why)
}

/// A tiny HTTP/1.1 server in a thread, answering like Ollama's API; `/slow` never answers in time.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (status, body) = match path.as_str() {
                    "/" => ("200 OK", "Ollama is running".to_string()),
                    "/api/ps" => {
                        ("200 OK", r#"{"models":[{"name":"llama3:8b","size":4900000000,"size_vram":0}]}"#.to_string())
                    }
                    "/slow" => {
                        std::thread::sleep(Duration::from_secs(3));
                        ("200 OK", "late".to_string())
                    }
                    _ => ("404 Not Found", "no such page".to_string()),
                };
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    format!("http://{address}")
}

#[test]
fn http_probe_against_a_real_server() {
    let url = serve();
    let ran = one_runbook(
        &format!("vars: {{base: \"{url}\"}}\n"),
        &[
            "id: up\nhttp: {url: \"{{ base }}/\", status: 200, body: [\"Ollama is running\"]}\n",
            "id: loaded\nhttp: {url: \"{{ base }}/api/ps\", json: {\"/models/0/name\": [\"llama3\"], \"/models/0/size\": {gt: 1GB}}}\n",
            "id: on_gpu\nhttp: {url: \"{{ base }}/api/ps\", json: {\"/models/0/size_vram\": {gt: 0}}}\n",
            "id: second_model\nhttp: {url: \"{{ base }}/api/ps\", json: {\"/models/1/name\": [\"mistral\"]}}\n",
            "id: missing\nhttp: {url: \"{{ base }}/nope\"}\n",
            "id: slow\nhttp: {url: \"{{ base }}/slow\", timeout: 500ms}\n",
        ],
    )
    .args(["exec", "p"])
    .status(1)
    .run();
    let record = latest_record(ran.path());
    assert_eq!(outcome(&record, "up").0, "passed");
    assert_eq!(outcome(&record, "loaded").0, "passed");
    let (result, why) = outcome(&record, "on_gpu");
    assert_eq!(result, "failed");
    assert!(why.contains("/models/0/size_vram: expected > 0, saw 0"), "{why}");
    let (_, why) = outcome(&record, "second_model");
    assert!(why.contains("missing from the response"), "{why}");
    let (_, why) = outcome(&record, "missing");
    assert!(why.contains("status: expected < 400, saw 404"), "{why}");
    let (result, why) = outcome(&record, "slow");
    assert_eq!(result, "failed");
    assert!(why.contains("response: expected an HTTP response"), "{why}");
}

#[test]
fn tcp_probe_on_a_closed_port() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let ran = one_runbook(
        &format!("vars: {{port: {port}}}\n"),
        &[
            "id: open\ntcp: {address: \"127.0.0.1:{{ port }}\", timeout: 1s}\n",
            "id: closed\ntcp: {address: \"127.0.0.1:{{ port }}\", reachable: false}\n",
        ],
    )
    .args(["exec", "p"])
    .status(1)
    .run();
    let record = latest_record(ran.path());
    let (result, why) = outcome(&record, "open");
    assert_eq!(result, "failed");
    assert!(why.contains("connection refused"), "{why}");
    assert_eq!(outcome(&record, "closed").0, "passed");
}

/// A small tmpfs, filled to the last byte, unmounted on drop. Needs root (CI runs as root).
struct FullTmpfs {
    dir: tempfile::TempDir,
}

impl FullTmpfs {
    fn mount() -> Option<FullTmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run as root so the full-disk tests run: mounting a tmpfs failed"
            );
            eprintln!("skipped locally: mounting a tmpfs needs root");
            return None;
        }
        let _ = std::process::Command::new("dd")
            .args(["if=/dev/zero", "bs=1M", "count=16"])
            .arg(format!("of={}", dir.path().join("fill").display()))
            .stderr(std::process::Stdio::null())
            .status();
        Some(FullTmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for FullTmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn disk_probe_on_a_full_filesystem() {
    let Some(full) = FullTmpfs::mount() else { return };
    let path = full.path().display().to_string();
    let ran = one_runbook(
        "vars: {path: /}\n",
        &["id: room\ndisk: {path: \"{{ path }}\", used_percent: {lt: 90}, avail: {gt: 1MiB}, inodes_used_percent: {lt: 90}}\n"],
    )
    .args(["exec", "p", "--var", &format!("path={path}")])
    .status(1)
    .stdout_has("used: expected < 90%, saw 100%")
    .stdout_has("available: expected > 1.0 MiB, saw 0 B")
    .run();
    let record = latest_record(ran.path());
    let step = &record["steps"][0];
    assert_eq!(step["outcome"], "failed");
    let checks = step["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 3);
    assert_eq!(checks[2]["passed"], true, "inodes are fine: {:#}", checks[2]);
    assert!(step["stdout_tail"].as_str().unwrap().contains("100% used"), "{step:#}");
}

#[test]
fn shipped_storage_crisis_reports_a_full_disk_with_numbers() {
    let Some(full) = FullTmpfs::mount() else { return };
    let path = full.path().display().to_string();
    let ran = Test::new().args(["exec", "storage-crisis", "--var", &format!("path={path}")]).status(1).run();
    assert!(ran.stdout.contains("used: expected < 90%, saw 100%"), "{}", ran.stdout);
    let record = shipped_record(&ran);
    assert_eq!(record["verdict"], "failed");
    assert!(record["findings"].as_array().unwrap().iter().any(|f| f["message"].as_str().unwrap().contains("saw 100%")));
    assert_no_confirmed_step_ran(&record);
    // One cause: the full disk leads; a CPU fallback would be its consequence, not a finding.
    assert_eq!(record["diagnoses"][0]["id"], "full-disk", "{:#}", record["diagnoses"]);
    assert_eq!(outcome(&record, "gpu_services"), ("skipped".to_string(), "needs disk_usage, which failed".to_string()));
}

/// Runs of the built-in KB land in the XDG state dir the test builder sets.
fn shipped_record(ran: &Ran) -> Value {
    let archives = ran.path().join(".state/runbook/archives");
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&archives).unwrap().flatten().map(|e| e.path()).collect();
    runs.sort();
    serde_json::from_str(&std::fs::read_to_string(runs.last().unwrap().join("run.json")).unwrap()).unwrap()
}

fn assert_no_confirmed_step_ran(record: &Value) {
    for step in record["steps"].as_array().unwrap() {
        assert!(step.get("confirmed_by").is_none(), "{} was confirmed without a TTY or --yes", step["id"]);
    }
}

const HEALTHY: &str = r#"{
  "driver_version": "575.57.08",
  "cuda_version": "12.9",
  "gpus": [
    {"index": 0, "name": "NVIDIA GeForce RTX 4090", "memory_total": 25757220864, "memory_used": 1073741824,
     "memory_free": 24683479040, "utilization_percent": 3, "temperature_c": 45, "power_w": 30.5,
     "compute_capability": "8.9"}
  ]
}"#;

#[test]
fn gpu_matchers_against_fake_inventories() {
    let steps = [
        "id: driver\ngpu: {count: {ge: 1}, driver_version: {version: \">=570\"}, cuda_version: {version: \">=12.8\"}}\n",
        "id: capability\ngpu: {compute_capability: {version: \">=7.0\"}, name: [\"RTX\"]}\n",
        "id: busy\ngpu: {utilization_percent: {ge: 50}}\n",
        "id: vram\ngpu: {memory_free: {gt: 20GiB}, memory_used_percent: {lt: 95}}\n",
        "id: optional\ngpu: {count: {ge: 1}, require: false}\n",
    ];
    let test = one_runbook("", &steps).file("healthy.json", HEALTHY);
    let inventory = test.path().join("healthy.json").display().to_string();
    let ran = test.env("RUNBOOK_GPU_INVENTORY", &inventory).args(["exec", "p"]).status(1).run();
    let record = latest_record(ran.path());
    for id in ["driver", "capability", "vram", "optional"] {
        assert_eq!(outcome(&record, id).0, "passed", "{id}: {}", outcome(&record, id).1);
    }
    let (result, why) = outcome(&record, "busy");
    assert_eq!(result, "failed");
    assert!(why.contains("expected ≥ 50%, saw 3%"), "{why}");

    let old = HEALTHY.replace("575.57.08", "550.120").replace("\"12.9\"", "\"12.4\"");
    let test = one_runbook("", &steps[..1]).file("old.json", &old);
    let inventory = test.path().join("old.json").display().to_string();
    let ran = test.env("RUNBOOK_GPU_INVENTORY", &inventory).args(["exec", "p"]).status(1).run();
    let (_, why) = outcome(&latest_record(ran.path()), "driver");
    assert!(why.contains("driver: expected version >= 570, saw 550.120"), "{why}");
    assert!(why.contains("CUDA: expected version >= 12.8, saw 12.4"), "{why}");

    let test =
        one_runbook("", &steps[4..]).file("none.json", r#"{"unavailable": "no NVIDIA driver", "kind": "no_driver"}"#);
    let inventory = test.path().join("none.json").display().to_string();
    let ran = test.env("RUNBOOK_GPU_INVENTORY", &inventory).args(["exec", "p"]).run();
    let (result, why) = outcome(&latest_record(ran.path()), "optional");
    assert_eq!(result, "skipped");
    assert!(why.contains("NVML unavailable"), "{why}");
}

/// True when this machine has an NVIDIA kernel driver loaded.
fn nvidia_driver_present() -> bool {
    Path::new("/proc/driver/nvidia/version").exists()
}

#[test]
fn real_nvml_without_a_driver() {
    let ran = one_runbook("", &["id: gpu\ngpu: {count: {ge: 1}}\n"]).args(["exec", "p"]).any_status().run();
    let (result, why) = outcome(&latest_record(ran.path()), "gpu");
    if nvidia_driver_present() {
        assert_eq!(result, "passed", "{why}");
    } else {
        assert_eq!(result, "failed");
        assert!(
            why.starts_with("NVML: NVML unavailable: no NVIDIA driver") || why.contains("NVML unavailable"),
            "{why}"
        );
        assert_eq!(ran.status, 1);
    }
}

#[test]
fn shipped_cuda_304_on_a_machine_without_a_gpu() {
    if nvidia_driver_present() {
        eprintln!("this machine has an NVIDIA driver: the no-GPU expectations do not apply");
        return;
    }
    let ran = Test::new().args(["exec", "cuda-304"]).status(1).stdout_has("NVML unavailable").run();
    let record = shipped_record(&ran);
    assert_eq!(record["verdict"], "failed");
    assert_eq!(record["runbook"]["id"], "cuda-304");
    let findings = record["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["message"].as_str().unwrap().contains("NVML unavailable")), "{findings:#?}");
    assert_no_confirmed_step_ran(&record);
    // The run did not stop at the first failure...
    let steps = record["steps"].as_array().unwrap();
    assert!(steps.iter().filter(|s| s["outcome"] != "skipped").count() >= 8, "{steps:#?}");
    // ...and leads with one cause, whose fix is the driver runbook, not a repair that cannot apply.
    let first = &record["diagnoses"][0];
    assert_eq!(first["id"], "no-driver", "{:#}", record["diagnoses"]);
    assert_eq!(first["fix"][0]["runbook"], "nvidia-driver-not-loaded", "{first:#}");
    assert_eq!(outcome(&record, "cuinit"), ("skipped".to_string(), "needs driver, which failed".to_string()));
    for diagnosis in record["diagnoses"].as_array().unwrap() {
        assert!(!diagnosis["fix"].to_string().contains("reload_uvm"), "{diagnosis:#}");
    }
    let dir = ran.path().join(".state/runbook/archives");
    let run = std::fs::read_dir(dir).unwrap().flatten().next().unwrap().path();
    assert!(run.join("run.md").is_file());
}
