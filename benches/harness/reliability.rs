//! Reliability: `runbook serve` on the synthetic KB under mixed load for a minute while a script
//! edits, adds and deletes runbooks every second — errors, latency, reloads, memory before and
//! after — and the fuzzing figures `fuzz/run` left in `fuzz/RESULTS.md`.

use crate::load::{Served, WrkResult, encode, on_path, rotation_script, wrk};
use crate::search::queries as search_queries;
use crate::{synth, thousands};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const LOAD_SECONDS: u32 = 60;
pub const CONNECTIONS: u32 = 64;
/// Paths in the rotation.
const PATHS: usize = 2000;

pub struct LoadReport {
    runbooks: usize,
    result: WrkResult,
    /// Resident memory (KiB), as the heap (anonymous pages, where a leak would show) and in all
    /// (adding the mapped index files, which the kernel can drop): after a warm-up; sampled twice
    /// a second under load, the median of the first and of the second half (growth would show as
    /// the second above the first) and the largest sample; ten seconds after the load.
    before: Memory,
    first_half: Memory,
    second_half: Memory,
    max: Memory,
    after: Memory,
    reloads: u64,
    edits: u64,
    alive: bool,
}

/// What the load asks for: runbook pages (half), searches of every shape (three in ten), the
/// index, tags, one runbook's JSON and `/metrics`.
fn paths(runbooks: usize) -> Vec<String> {
    let queries = search_queries(PATHS);
    (0..PATHS)
        .map(|i| match i % 20 {
            0..=9 => format!("/runbooks/{}/", synth::id((i * 7919) % runbooks)),
            10..=15 => format!("/api/search?limit=10&q={}", encode(&queries[i])),
            16 => "/metrics".to_string(),
            17 => "/".to_string(),
            18 => format!("/api/runbooks/{}", synth::id((i * 104_729) % runbooks)),
            _ => "/tags/".to_string(),
        })
        .collect()
}

/// Every second: append a line to a runbook the load reads, add a new runbook, delete the one
/// added the second before. Returns how many changes it made.
fn edit_every_second(kb: &Path, runbooks: usize, stop: &AtomicBool, changes: &AtomicU64) -> Result<(), String> {
    let added = |tick: u64| kb.join("runbooks/operations").join(format!("load-{tick}.md"));
    let mut tick = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let target = kb.join("runbooks").join(synth::relative_path((tick as usize * 13) % runbooks));
        let mut text = std::fs::read_to_string(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        text.push_str(&format!("\nEdited under load, change {tick}.\n"));
        std::fs::write(&target, text).map_err(|e| format!("{}: {e}", target.display()))?;
        let new = format!(
            "# Added under load {tick}\n\nA runbook that lives for one second.\n\n```yaml step\nrun: true\n```\n"
        );
        std::fs::write(added(tick), new).map_err(|e| e.to_string())?;
        if tick > 0 {
            std::fs::remove_file(added(tick - 1)).map_err(|e| e.to_string())?;
        }
        changes.fetch_add(3, Ordering::Relaxed);
        tick += 1;
        std::thread::sleep(Duration::from_secs(1));
    }
    Ok(())
}

fn reloads(base: &str) -> u64 {
    ureq::get(&format!("{base}/metrics"))
        .call()
        .ok()
        .and_then(|mut response| response.body_mut().read_to_string().ok())
        .and_then(|text| {
            text.lines().find_map(|l| l.strip_prefix("runbook_site_reloads_total ")).and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The load test. `None` without `wrk`.
pub fn load_under_edits(runbooks: usize, scratch: &Path) -> Result<Option<LoadReport>, String> {
    if on_path("wrk").is_none() {
        eprintln!("wrk not found (apt-get install wrk): skipping the reliability load test");
        return Ok(None);
    }
    let kb = scratch.join("kb-under-load");
    synth::write_kb(&kb, runbooks).map_err(|e| e.to_string())?;
    eprintln!("reliability: serve under {LOAD_SECONDS} s of mixed load while the KB changes…");
    let mut served = Served::start(&kb, true)?;
    let script = rotation_script(scratch, "mixed.lua", &paths(runbooks))?;
    // Warm-up, so "before" is the memory of a server that has rendered and searched.
    wrk(&served.base, 2, CONNECTIONS, 10, Some(&script))?;
    std::thread::sleep(Duration::from_secs(1));
    let before = memory(served.pid()).unwrap_or_default();
    let reloads_before = reloads(&served.base);

    let stop = Arc::new(AtomicBool::new(false));
    let changes = Arc::new(AtomicU64::new(0));
    let editor = {
        let (kb, stop, changes) = (kb.clone(), Arc::clone(&stop), Arc::clone(&changes));
        std::thread::spawn(move || edit_every_second(&kb, runbooks, &stop, &changes))
    };
    let pid = served.pid();
    let sampler = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                samples.extend(memory(pid));
                std::thread::sleep(Duration::from_millis(500));
            }
            samples
        })
    };
    let started = Instant::now();
    let result = wrk(&served.base, 2, CONNECTIONS, LOAD_SECONDS, Some(&script));
    stop.store(true, Ordering::Relaxed);
    let edited = editor.join().map_err(|_| "the editing thread panicked".to_string())?;
    let samples = sampler.join().map_err(|_| "the memory sampler panicked".to_string())?;
    let result = result?;
    edited?;
    eprintln!("  {} requests in {:.0?}", result.requests, started.elapsed());
    // The last change settles (debounce, reload, memory given back) before memory is read again.
    std::thread::sleep(Duration::from_secs(10));
    let after = memory(served.pid()).unwrap_or_default();
    let (first, second) = samples.split_at(samples.len() / 2);
    Ok(Some(LoadReport {
        runbooks,
        reloads: reloads(&served.base).saturating_sub(reloads_before),
        alive: served.alive(),
        result,
        before,
        first_half: Memory::median(first),
        second_half: Memory::median(second),
        max: Memory::max(&samples),
        after,
        edits: changes.load(Ordering::Relaxed),
    }))
}

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    heap: u64,
    total: u64,
}

impl Memory {
    fn median(samples: &[Memory]) -> Memory {
        Memory { heap: median(samples.iter().map(|m| m.heap)), total: median(samples.iter().map(|m| m.total)) }
    }

    fn max(samples: &[Memory]) -> Memory {
        Memory {
            heap: samples.iter().map(|m| m.heap).max().unwrap_or_default(),
            total: samples.iter().map(|m| m.total).max().unwrap_or_default(),
        }
    }

    /// "heap / total".
    fn show(self) -> String {
        format!("{} / {}", mib(self.heap), mib(self.total))
    }
}

fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    Some(Memory { heap: field("RssAnon:")?, total: field("VmRSS:")? })
}

fn median(samples: impl Iterator<Item = u64>) -> u64 {
    let mut sorted: Vec<u64> = samples.collect();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

/// The Reliability section of BENCHMARKS.md.
pub fn section(load: Option<&LoadReport>, fuzz_results: &Path) -> String {
    let mut text = String::from("\n## Reliability\n\n");
    match load {
        Some(load) => {
            let r = &load.result;
            text.push_str(&format!(
                "`runbook serve` on {} synthetic runbooks, watching them, under `wrk -t2 -c{CONNECTIONS} -d{LOAD_SECONDS}s` \
                 on loopback with a rotation of {} paths (half runbook pages, three in ten `/api/search` queries of \
                 every shape, the index, tags, `/api/runbooks/<id>`, `/metrics`), while a script edits a runbook the \
                 load reads, adds one and deletes one every second:\n\n",
                thousands(load.runbooks),
                thousands(PATHS),
            ));
            text.push_str("| requests | requests/s | errors | p50 | p99 | changes made | reloads | still serving |\n|---|---|---|---|---|---|---|---|\n");
            text.push_str(&format!(
                "| {} | {:.0} | {} | {} | {} | {} | {} | {} |\n",
                thousands(r.requests as usize),
                r.requests_per_second,
                r.errors,
                r.p50,
                r.p99,
                load.edits,
                load.reloads,
                if load.alive { "yes" } else { "**no**" },
            ));
            text.push_str(
                "\nResident memory, as heap (anonymous pages: where a leak would show) / in all (adding the \
                 memory-mapped search index, whose pages the kernel can drop and which grows with the segments \
                 the edits write):\n\n| after warm-up | under load: median of 1st half | median of 2nd half | \
                 largest | 10 s after the load |\n|---|---|---|---|---|\n",
            );
            text.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                load.before.show(),
                load.first_half.show(),
                load.second_half.show(),
                load.max.show(),
                load.after.show(),
            ));
            text.push_str("\nReproduce: `cargo bench --bench harness -- --only reliability`.\n");
        }
        None => text.push_str("The load test was skipped: `wrk` was not found.\n"),
    }
    text.push_str(
        "\n**Faults.** `cargo test --test integration faults` runs `runbook exec` of a long runbook and kills it \
         with SIGKILL at 50 moments spread over the run: all 50 times, every `run.json` left behind parses and \
         holds every step that had finished. An archive folder on a full 64 KiB tmpfs, and one on a 256 KiB \
         tmpfs that fills during the run: a clear error naming the cause, the result still printed, exit 1 \
         (CI runs as root; elsewhere these two skip with a reason). Steps that close stdout early and linger, \
         flood stderr, fork a daemon that keeps the pipes open, or leave their process group end at their \
         timeout with nothing left running; a runbook edited while it runs keeps running as started, and the \
         archive records the hash of that version. `runbook exec` killed with SIGKILL mid-step (alone, or its \
         whole process group) while the step runs a child and a `setsid` daemon: within a second nothing the \
         step started is alive (the process guard, `exec::watchdog`).\n",
    );
    text.push_str(
        "\n**Hostile requests.** `cargo test --test integration hostile` sends 10,000 random and hostile \
         requests to `runbook serve` (long and encoded paths, traversal, huge and malformed query strings, odd \
         methods and headers, garbage bytes): no 5xx, no crash, nothing from outside the site.\n",
    );
    text.push_str("\n**Fuzzing** (cargo-fuzz, libFuzzer; `fuzz/run`, see `fuzz/README.md`):\n\n");
    match std::fs::read_to_string(fuzz_results) {
        Ok(results) => text.push_str(&results),
        Err(_) => text.push_str("No results yet: run `fuzz/run` (nightly toolchain and cargo-fuzz).\n"),
    }
    text
}
