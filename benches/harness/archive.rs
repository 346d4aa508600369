//! A year of runs: a synthetic archive of 50,000 runs (a `watch` every ten minutes on a few
//! runbooks, and incident runs among them), and the commands that read it. The records are real:
//! each is a copy of a record the release binary wrote for one of a few template runs, with its
//! own run id and times. Deterministic, like the KB generator.

use crate::load::{Served, http_get};
use crate::measure::repeat;
use crate::{Budget, Row, thousands};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Runs in the synthetic archive.
pub const RUNS: usize = 50_000;
/// The newest run's start: the archive ends here, a year after the oldest run.
const NEWEST: &str = "2026-11-30T23:50:00Z";
/// Runbooks the watch runs, in turn.
const WATCHED: [&str; 3] = ["gpu-health", "disk-health", "service-health"];
/// One run in this many is an incident run of `incident`, which fails with a diagnosis.
/// One run in this many is an incident run of `incident`, which fails with a diagnosis.
const INCIDENT_EVERY: usize = 250;
/// One watch run in this many fails.
const FAILED_EVERY: usize = 40;

/// A runbook of `checks` shell checks; `FAIL=N` in the environment makes check N fail.
fn watch_runbook(id: &str, checks: usize) -> String {
    let mut text = format!("---\nid: {id}\ntitle: {id} watch\ntags: [watch]\n---\n\n# {id}\n\n");
    for n in 1..=checks {
        text.push_str(&format!(
            "## Check {n}\n\n```yaml step\nid: check_{n}\nrun: |\n  echo \"check {n}: ${{FAIL:-0}}\"\n  test \"${{FAIL:-0}}\" != {n}\n```\n\n"
        ));
    }
    text
}

const INCIDENT: &str = "---\nid: incident\ntitle: Disk full on the model store\ntags: [storage]\n---\n\n# Disk full\n\n\
## Free space\n\n```yaml step\nid: free_space\nrun: |\n  echo '/dev/sda1 100% /var/lib/ollama'\n  exit 1\n```\n\n\
## Service\n\n```yaml step\nid: service\nneeds: free_space\nrun: echo ok\n```\n\n\
## Free it\n\nSee [the storage runbook](gpu-health.md).\n\n\
```yaml diagnosis\nid: disk_full\nwhen: steps.free_space.status == \"failed\"\ncause: The model store's disk is full.\nfix: [gpu-health.md]\nseverity: critical\n```\n";

/// Writes the template KB, runs each template once with the release binary, and returns the
/// records it wrote: (runbook id, passed record, failed record).
fn templates(scratch: &Path) -> Result<Vec<(String, Value, Value)>, String> {
    let kb = scratch.join("archive-kb");
    std::fs::create_dir_all(&kb).map_err(|e| e.to_string())?;
    let write = |name: &str, text: &str| std::fs::write(kb.join(name), text).map_err(|e| e.to_string());
    for id in WATCHED {
        write(&format!("{id}.md"), &watch_runbook(id, 5))?;
    }
    write("incident.md", INCIDENT)?;
    let record = |id: &str, fail: bool| -> Result<Value, String> {
        let archives = scratch.join(format!("archive-template-{id}-{fail}"));
        fresh(&archives)?;
        let status = Command::new(crate::BIN)
            .arg("--kb")
            .arg(&kb)
            .arg("--archives")
            .arg(&archives)
            .args(["--quiet", "exec", id, "--yes"])
            .env("FAIL", if fail { "5" } else { "0" })
            .env("NO_COLOR", "1")
            .output()
            .map_err(|e| format!("exec {id}: {e}"))?;
        if status.status.success() == fail {
            return Err(format!("exec {id} (fail: {fail}) ended with {}", status.status));
        }
        let run = std::fs::read_dir(&archives)
            .map_err(|e| e.to_string())?
            .flatten()
            .find(|e| e.path().join("run.json").is_file())
            .ok_or(format!("exec {id} wrote no run"))?;
        let text = std::fs::read(run.path().join("run.json")).map_err(|e| e.to_string())?;
        serde_json::from_slice(&text).map_err(|e| format!("{id}'s run.json: {e}"))
    };
    let mut out = Vec::new();
    for id in WATCHED {
        out.push((id.to_string(), record(id, false)?, record(id, true)?));
    }
    let incident = record("incident", true)?;
    out.push(("incident".to_string(), incident.clone(), incident));
    Ok(out)
}

/// Writes [`RUNS`] runs into `archives`, newest at [`NEWEST`], one every 10.5 minutes (a year).
/// Returns the archive's size in bytes.
pub fn write_archive(scratch: &Path, archives: &Path) -> Result<u64, String> {
    fresh(archives)?;
    let templates = templates(scratch)?;
    let newest: jiff::Timestamp = NEWEST.parse().map_err(|e| format!("{e}"))?;
    let mut bytes = 0;
    for n in 0..RUNS {
        let started = newest - jiff::SignedDuration::from_secs(630 * n as i64);
        let (id, passed, failed) = if n % INCIDENT_EVERY == INCIDENT_EVERY - 1 {
            &templates[WATCHED.len()]
        } else {
            &templates[n % WATCHED.len()]
        };
        let mut record = if n % FAILED_EVERY == FAILED_EVERY - 1 { failed.clone() } else { passed.clone() };
        let run_id = format!("{}-{id}", started.strftime("%Y%m%dT%H%M%SZ"));
        let duration = record["duration_ms"].as_u64().unwrap_or(0);
        let finished = started + jiff::SignedDuration::from_millis(duration as i64);
        record["run_id"] = Value::String(run_id.clone());
        record["started_at"] = Value::String(started.to_string());
        record["finished_at"] = Value::String(finished.to_string());
        let dir = archives.join(&run_id);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let json = serde_json::to_vec_pretty(&record).map_err(|e| e.to_string())?;
        let markdown = format!("# {id}: {}\n\nRun {run_id}.\n", record["verdict"].as_str().unwrap_or("?"));
        std::fs::write(dir.join("run.json"), &json).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("run.md"), &markdown).map_err(|e| e.to_string())?;
        bytes += (json.len() + markdown.len()) as u64;
    }
    Ok(bytes)
}

/// Removes what an earlier run of the harness left at `dir`.
fn fresh(dir: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("removing {}: {e}", dir.display())),
        _ => Ok(()),
    }
}

fn runbook(kb: &Path, archives: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(crate::BIN);
    command.arg("--kb").arg(kb).arg("--archives").arg(archives).args(args).env("NO_COLOR", "1");
    command
}

/// The archive rows: listing, a page of JSON, and a cycle report of the last 30 days.
pub fn rows(scratch: &Path, runs: usize) -> Result<Vec<Row>, String> {
    let archives = scratch.join("archives");
    eprintln!("writing a synthetic archive of {} runs…", thousands(RUNS));
    let bytes = write_archive(scratch, &archives)?;
    let kb = scratch.join("archive-kb");
    let input = format!("{} runs ({:.0} MB)", thousands(RUNS), bytes as f64 / 1e6);
    let mut rows = Vec::new();
    for (benchmark, args) in [
        ("`runbook archive list` (newest page)", vec!["archive", "list"]),
        ("`runbook archive list --json --page 20`", vec!["archive", "list", "--json", "--page", "20"]),
        (
            "`runbook archive list --runbook incident --verdict failed`",
            vec!["archive", "list", "--runbook", "incident", "--verdict", "failed"],
        ),
        (
            "`runbook cycle` of the last 30 days (`--from 2026-11-01 --to 2026-11-30`)",
            vec!["cycle", "--from", "2026-11-01", "--to", "2026-11-30", "--quiet"],
        ),
    ] {
        eprintln!("{benchmark}…");
        let stats = repeat(runs, &[0, 1], || runbook(&kb, &archives, &args))?;
        rows.push(Row {
            benchmark: benchmark.into(),
            input: input.clone(),
            stats,
            peer: None,
            budget: Budget::Wall(Duration::from_secs(1)),
        });
    }
    // The index exists, as after any search: the first search after an upgrade reads every
    // record once to learn which runs are finished. Untimed.
    let _ = runbook(&kb, &archives, &["--quiet", "index"]).output();
    eprintln!("runbook search beside a year of runs…");
    rows.push(Row {
        benchmark: "`runbook search disk full`, a year of runs in the archive (fresh index, whole process)".into(),
        input: input.clone(),
        stats: repeat(runs * 2, &[0, 1], || runbook(&kb, &archives, &["search", "disk", "full"]))?,
        peer: None,
        budget: Budget::None,
    });
    rows.extend(serve_rows(&kb, &archives, runs, &input)?);
    rows.push(static_build_row(scratch, &kb, &archives, runs, &input)?);
    Ok(rows)
}

/// The static build of the archive's KB: a page per run, and runs in its search index, whose
/// largest file is named in the row.
fn static_build_row(scratch: &Path, kb: &Path, archives: &Path, runs: usize, input: &str) -> Result<Row, String> {
    eprintln!("runbook build over the archive…");
    let out = scratch.join("archive-site");
    let out_text = out.display().to_string();
    let stats = repeat(runs, &[0], || runbook(kb, archives, &["build", "--out", &out_text, "--quiet"]))?;
    let largest = crate::site::largest_file(&out.join("search-index"))?;
    Ok(Row {
        benchmark: "`runbook build`: a page per run, and runs in the browser's search index".into(),
        // The archive is the same on every machine, so this stays the row's key.
        input: format!("{input}; largest search-index file {:.0} KB", largest as f64 / 1e3),
        stats,
        peer: None,
        budget: Budget::None,
    })
}

/// `runbook serve` over the archive: from its start to the first runs page, and a page deep in
/// the year (both rendered on that first request), with the server's memory after them.
fn serve_rows(kb: &Path, archives: &Path, runs: usize, input: &str) -> Result<Vec<Row>, String> {
    eprintln!("runbook serve over the archive…");
    let last_page = RUNS.div_ceil(100);
    let deep = format!("/archives/page/{last_page}/");
    let (mut first, mut later, mut rss) = (Vec::new(), Vec::new(), 0);
    // Untimed: the first start indexes the new archive for search, as after any upgrade.
    let mut warm_up = runbook(kb, archives, &["serve", "--addr", "127.0.0.1:0", "--no-watch", "--quiet"]);
    http_get(address(&Served::spawn(&mut warm_up)?), "/archives/")?;
    for _ in 0..runs {
        let started = std::time::Instant::now();
        let mut command = runbook(kb, archives, &["serve", "--addr", "127.0.0.1:0", "--no-watch", "--quiet"]);
        let served = Served::spawn(&mut command)?;
        let page = http_get(address(&served), "/archives/")?;
        first.push(started.elapsed());
        if !page.contains(&format!("page 1 of {last_page}")) {
            return Err(format!("/archives/ is not the first of {last_page} pages: {}", &page[..page.len().min(400)]));
        }
        let started = std::time::Instant::now();
        let page = http_get(address(&served), &deep)?;
        later.push(started.elapsed());
        if !page.contains(&format!("page {last_page} of {last_page}")) {
            return Err(format!("{deep} is not the last page"));
        }
        rss = rss.max(served.memory_kib().map_or(0, |(rss, _, _)| rss));
    }
    let mut first = crate::measure::of_durations(first);
    first.max_rss_kib = rss;
    let mut later = crate::measure::of_durations(later);
    later.max_rss_kib = rss;
    Ok(vec![
        Row {
            benchmark: "`runbook serve`: start, then the first request for `/archives/` (the newest 100 runs)".into(),
            input: input.to_string(),
            stats: first,
            peer: None,
            budget: Budget::Wall(Duration::from_secs(1)),
        },
        Row {
            benchmark: format!("`runbook serve`: then `{deep}` (the oldest runs), first request"),
            input: input.to_string(),
            stats: later,
            peer: None,
            budget: Budget::Wall(Duration::from_secs(1)),
        },
    ])
}

/// `host:port` of a started server.
fn address(served: &Served) -> &str {
    served.base.trim_start_matches("http://")
}
