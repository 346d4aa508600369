//! Search: building the index, keeping it fresh, and answering — as processes and in process.

use crate::measure::{Stats, of_durations, repeat, repeat_varied, repeat_with_setup};
use crate::synth::Rng;
use crate::{BIN, Budget, Row};
use runbook::index::{SearchIndex, SearchRequest};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

const QUERIES: usize = 1000;

fn runbook(kb: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.arg("--kb").arg(kb).args(args).env("NO_COLOR", "1");
    command
}

/// Queries of every shape: words, pairs, identifiers, phrases, filters, typos, misses.
pub fn queries(n: usize) -> Vec<String> {
    const WORDS: [&str; 16] = [
        "driver",
        "cuda",
        "disk",
        "memory",
        "service",
        "timeout",
        "model",
        "container",
        "kernel",
        "inode",
        "socket",
        "vram",
        "latency",
        "journal",
        "restore",
        "capacity",
    ];
    const CODE: [&str; 8] = [
        "nvidia-smi",
        "CUDA_ERROR_OPERATING_SYSTEM",
        "/dev/nvidia-uvm",
        "size_vram",
        "OLLAMA_MODELS",
        "lsof",
        "dmesg",
        "cudaErrorInsufficientDriver",
    ];
    let mut rng = Rng::new(42);
    (0..n)
        .map(|i| {
            let w = || WORDS[rng_index(i, WORDS.len())];
            match i % 7 {
                0 => w().to_string(),
                1 => format!("{} {}", WORDS[(i / 7) % WORDS.len()], WORDS[(i / 3) % WORDS.len()]),
                2 => CODE[rng.below(CODE.len())].to_string(),
                3 => format!("\"check the {}\"", WORDS[rng.below(WORDS.len())]),
                4 => format!("{} tag:{}", WORDS[rng.below(WORDS.len())], WORDS[rng.below(WORDS.len())]),
                5 => {
                    let word = WORDS[rng.below(WORDS.len())];
                    format!("{}x{}", &word[..2], &word[2..])
                }
                _ => format!("zq{}", rng.below(1000)),
            }
        })
        .collect()
}

fn rng_index(i: usize, n: usize) -> usize {
    (i * 7919) % n
}

fn touch_old(file: &Path) -> Result<(), String> {
    let then = SystemTime::now() - Duration::from_secs(120);
    std::fs::File::options().write(true).open(file).and_then(|f| f.set_modified(then)).map_err(|e| e.to_string())
}

pub fn rows(kb: &Path, input: &str, runs: usize, corpus: Option<&Path>, runbooks: usize) -> Result<Vec<Row>, String> {
    // Issue 19's budgets: at 10,000 runbooks and below, and at 100,000.
    let large = runbooks > 10_000;
    let mut rows = Vec::new();
    eprintln!("search: full index build…");
    let stats = repeat(runs, &[0], || runbook(kb, &["index", "--rebuild", "--quiet"]))?;
    rows.push(Row {
        benchmark: "full index build (`runbook index --rebuild`)".into(),
        input: input.into(),
        stats,
        peer: None,
        budget: Budget::Wall(Duration::from_secs(if large { 60 } else { 10 })),
    });

    eprintln!("search: incremental sync…");
    let edited = kb.join("runbooks/gpu/synth-00005.md");
    let original = std::fs::read_to_string(&edited).map_err(|e| e.to_string())?;
    let mut edit = 0;
    let stats = repeat_varied(runs, &[0], |i| {
        edit += 1;
        let text = format!("{original}\nEdit number {edit} mentions the word syncword{i}.\n");
        let _ = std::fs::write(&edited, text).and_then(|()| touch_old(&edited).map_err(std::io::Error::other));
        runbook(kb, &["search", &format!("syncword{i}")])
    })?;
    std::fs::write(&edited, &original).map_err(|e| e.to_string())?;
    touch_old(&edited)?;
    rows.push(Row {
        benchmark: "`runbook search` right after one runbook changed (sync + search, whole process)".into(),
        input: input.into(),
        stats,
        peer: None,
        // Issue 19's budget at 10,000 runbooks (it was 150 ms); it sets none at 100,000.
        budget: if large { Budget::None } else { Budget::Wall(Duration::from_millis(60)) },
    });

    eprintln!("search: fresh index…");
    // One search to absorb the restore of the edited file.
    let _ = runbook(kb, &["search", "driver"]).output();
    let varied = queries(runs * 4);
    let stats = repeat_varied(runs * 4, &[0, 1], |i| runbook(kb, &["search", &varied[i % varied.len()]]))?;
    rows.push(Row {
        benchmark: format!("`runbook search` on a fresh index ({} varied queries, whole process)", runs * 4),
        input: input.into(),
        stats,
        peer: None,
        // Issue 19's budgets: 15 ms at 10,000 runbooks (it was 50 ms), 40 ms at 100,000.
        budget: Budget::Wall(Duration::from_millis(if large { 40 } else { 15 })),
    });

    eprintln!("search: {QUERIES} queries in process…");
    rows.push(Row {
        benchmark: format!("query latency in process ({QUERIES} varied queries, with snippets)"),
        input: input.into(),
        stats: in_process(&kb.join(".runbook/index"))?,
        peer: None,
        budget: Budget::Percentiles(Duration::from_millis(2), Duration::from_millis(20)),
    });

    if let Some(corpus) = corpus {
        let state = corpus.join(".runbook");
        let forget = || match std::fs::remove_dir_all(&state) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
            _ => Ok(()),
        };
        let stats = repeat_with_setup(runs, &[0], forget, || runbook(corpus, &["index", "--quiet"]))?;
        rows.push(Row {
            benchmark: "index a real docs folder from scratch (`runbook index`)".into(),
            input: corpus.display().to_string(),
            stats,
            peer: None,
            budget: Budget::None,
        });
        let _ = runbook(corpus, &["index", "--quiet"]).output();
        let varied = queries(runs * 4);
        let stats = repeat_varied(runs * 4, &[0, 1], |i| runbook(corpus, &["search", &varied[i % varied.len()]]))?;
        rows.push(Row {
            benchmark: "`runbook search` in a real docs folder (whole process)".into(),
            input: corpus.display().to_string(),
            stats,
            peer: None,
            budget: Budget::None,
        });
        let _ = std::fs::remove_dir_all(&state);
    }
    Ok(rows)
}

/// Opens the index as the site server does and times each query, snippets included.
fn in_process(dir: &Path) -> Result<Stats, String> {
    let index = SearchIndex::open(dir).map_err(|e| e.to_string())?;
    let queries = queries(QUERIES);
    let mut walls = Vec::with_capacity(QUERIES);
    for query in &queries {
        let request = SearchRequest { query: query.clone(), limit: Some(10), ..SearchRequest::default() };
        let started = Instant::now();
        index.search(&request).map_err(|e| e.to_string())?;
        walls.push(started.elapsed());
    }
    Ok(of_durations(walls))
}
