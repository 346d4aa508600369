//! The benchmark harness (DESIGN §11). Generates a deterministic synthetic KB, times the real
//! release binary as whole processes, and writes the table to BENCHMARKS.md. With `--only NAME`
//! it replaces just that group's rows (and its section), keeping the rest of the file.
//!
//! ```text
//! cargo bench --bench harness                      # 10,000 runbooks, 5 runs each
//! cargo bench --bench harness -- --runbooks 2000 --runs 3 --corpus ~/docs --out /tmp/b.md --keep /tmp/kb
//! cargo bench --bench harness -- --only site     # one group: list, search, mcp, site, exec, plain, scenarios, reliability
//! cargo bench --bench harness -- --only serve    # the serve rows of `site`, without the builds
//! cargo bench --bench harness -- --only mcp      # `search_runbooks` over `runbook mcp` (stdio)
//! cargo bench --bench harness -- --only plain    # `show --plain --json` over 1,000 alert pages
//! cargo bench --bench harness -- --only alerts   # hooks posts/s and the cost of watch (10 minutes)
//! cargo bench --bench harness -- --only fleet    # exec --on 64 hosts of a loopback sshd beside clush
//! cargo bench --bench harness -- --only archive  # archive list and cycle over a year of runs (50,000)
//! ```

mod alerts;
mod archive;
mod exec;
mod fleet;
mod load;
mod mcp;
mod measure;
mod plain;
mod reliability;
mod report;
mod scenarios;
mod search;
mod site;
mod synth;

use measure::{Stats, format_duration, repeat, repeat_with_setup};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The header of the main table, and of the serve throughput table (`site::serve_table`): how
/// `--only` finds them again.
const MAIN_TABLE: &str = "| benchmark | input | median | p99 | min | max | peak RSS | compared with | its median | ratio | budget | within budget |";
pub const SERVE_TABLE: &str = "| benchmark | requests/s | errors | p99 latency | budget | within budget |";

pub const BIN: &str = env!("CARGO_BIN_EXE_runbook");

struct Options {
    runbooks: usize,
    runs: usize,
    corpus: Option<PathBuf>,
    out: PathBuf,
    /// Generate the synthetic KB here and keep it, instead of in a temp dir.
    keep: Option<PathBuf>,
    /// Only this group: `list`, `search`, `mcp`, `site`, `serve` (part of `site`), `exec`, `plain`,
    /// `reliability`, `alerts`, `fleet` or `archive`.
    only: Option<String>,
    /// How long the watch row measures `runbook watch`.
    watch_seconds: u64,
}

fn options() -> Result<Options, String> {
    let mut opts = Options {
        runbooks: 10_000,
        runs: 5,
        corpus: None,
        out: Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md"),
        keep: None,
        only: None,
        watch_seconds: 600,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--runbooks" => opts.runbooks = value("--runbooks")?.parse().map_err(|e| format!("--runbooks: {e}"))?,
            "--runs" => opts.runs = value("--runs")?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--corpus" => opts.corpus = Some(PathBuf::from(value("--corpus")?)),
            "--out" => opts.out = PathBuf::from(value("--out")?),
            "--keep" => opts.keep = Some(PathBuf::from(value("--keep")?)),
            "--only" => opts.only = Some(value("--only")?),
            "--watch-seconds" => {
                opts.watch_seconds = value("--watch-seconds")?.parse().map_err(|e| format!("--watch-seconds: {e}"))?
            }
            "--bench" => {}
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if opts.runs == 0 || opts.runbooks == 0 {
        return Err("--runs and --runbooks must be positive".into());
    }
    Ok(opts)
}

/// One line of the table.
pub struct Row {
    pub benchmark: String,
    pub input: String,
    pub stats: Stats,
    /// The command it is compared with, measured side by side.
    pub peer: Option<(String, Stats)>,
    pub budget: Budget,
}

/// What a row must achieve.
pub enum Budget {
    None,
    /// Median wall time below this.
    Wall(Duration),
    /// Median at most this many times the peer's median.
    Ratio(f64),
    /// Both a ratio to the peer and a peak RSS (MiB).
    RatioAndRss(f64, u64),
    /// Median and 99th percentile below these.
    Percentiles(Duration, Duration),
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        self.peer.as_ref().map(|(_, peer)| self.stats.median.as_secs_f64() / peer.median.as_secs_f64())
    }

    fn budget_text(&self) -> (String, &'static str) {
        let yes = |ok: bool| if ok { "yes" } else { "**no**" };
        let rss_mib = self.stats.max_rss_kib as f64 / 1024.0;
        match (&self.budget, self.ratio()) {
            (Budget::None, _) => ("—".into(), "—"),
            (Budget::Wall(limit), _) => (format!("< {}", format_duration(*limit)), yes(self.stats.median < *limit)),
            (Budget::Ratio(limit), Some(ratio)) => (format!("≤ {limit}×"), yes(ratio <= *limit)),
            (Budget::RatioAndRss(limit, mib), Some(ratio)) => {
                (format!("≤ {limit}×, RSS < {mib} MiB"), yes(ratio <= *limit && rss_mib < *mib as f64))
            }
            (Budget::Percentiles(p50, p99), _) => (
                format!("p50 < {}, p99 < {}", format_duration(*p50), format_duration(*p99)),
                yes(self.stats.median < *p50 && self.stats.p99 < *p99),
            ),
            (_, None) => ("—".into(), "—"),
        }
    }
}

fn runbook(kb: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.arg("--kb").arg(kb).args(args).env("NO_COLOR", "1");
    command
}

fn main() {
    if let Err(err) = run() {
        eprintln!("benchmark failed: {err}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let opts = options()?;
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    if opts.only.as_deref() == Some("alerts") {
        // One group, no synthetic KB: update its section of the existing report, keep the rest.
        let section = alerts_section(&opts, tmp.path())?;
        let old = std::fs::read_to_string(&opts.out).unwrap_or_else(|_| "# Benchmarks\n".into());
        std::fs::write(&opts.out, report::replace_section(&old, "## Alerts and watch", &section))
            .map_err(|e| format!("writing {}: {e}", opts.out.display()))?;
        eprintln!("updated the alerts section of {}", opts.out.display());
        return Ok(());
    }
    if let Some(group @ ("fleet" | "archive")) = opts.only.as_deref() {
        // No synthetic KB either: its rows replace their old ones in the existing table.
        let rows = if group == "fleet" {
            fleet::rows(tmp.path(), opts.runs)?
        } else {
            // `--keep DIR` keeps the synthetic archive (DIR/archives) to time other builds on.
            archive::rows(opts.keep.as_deref().unwrap_or(tmp.path()), opts.runs)?
        };
        return update_report(&opts.out, group, &rows, "", None)
            .map_err(|e| format!("writing {}: {e}", opts.out.display()));
    }
    let kb = opts.keep.clone().unwrap_or_else(|| tmp.path().join("kb"));
    eprintln!("generating {} synthetic runbooks…", opts.runbooks);
    let bytes = synth::write_kb(&kb, opts.runbooks).map_err(|e| e.to_string())?;
    let input = format!("{} synthetic runbooks ({:.0} MB)", thousands(opts.runbooks), bytes as f64 / 1e6);

    // Sanity: the generated KB is valid, so the figures are for real parsing, not error paths.
    let check = runbook(&kb, &["check", "--json", "--quiet"]).output().map_err(|e| e.to_string())?;
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).map_err(|e| format!("check output: {e}"))?;
    if report["errors"] != 0 {
        return Err(format!("the synthetic KB has errors: {}", report["diagnostics"][0]));
    }

    let mut rows = Vec::new();
    let wanted = |group: &str| opts.only.as_deref().is_none_or(|only| only == group);
    if wanted("list") {
        eprintln!("runbook list --json…");
        let state = kb.join(".runbook");
        let forget_state = || match std::fs::remove_dir_all(&state) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("removing {}: {e}", state.display())),
            _ => Ok(()),
        };
        rows.push(Row {
            benchmark: "`runbook list --json`, first run (no parse cache)".into(),
            input: input.clone(),
            stats: repeat_with_setup(opts.runs, &[0], forget_state, || runbook(&kb, &["list", "--json"]))?,
            peer: None,
            budget: Budget::None,
        });
        rows.push(Row {
            benchmark: "`runbook list --json`".into(),
            input: input.clone(),
            stats: repeat(opts.runs, &[0], || runbook(&kb, &["list", "--json"]))?,
            peer: None,
            budget: Budget::Wall(Duration::from_secs(1)),
        });
        if let Some(corpus) = &opts.corpus {
            let files = count_markdown(corpus);
            rows.push(Row {
                benchmark: "`runbook list --json`".into(),
                input: format!("{} ({} Markdown files)", corpus.display(), thousands(files)),
                stats: repeat(opts.runs, &[0], || runbook(corpus, &["list", "--json"]))?,
                peer: None,
                budget: Budget::None,
            });
        }
    }
    if wanted("search") {
        rows.extend(search::rows(&kb, &input, opts.runs, opts.corpus.as_deref(), opts.runbooks)?);
    }
    if wanted("mcp") {
        rows.extend(mcp::rows(&kb, &input)?);
    }
    let mut serve = String::new();
    if wanted("site") {
        rows.extend(site::build_rows(&kb, tmp.path(), opts.runs, &input, opts.runbooks)?);
    }
    if wanted("site") || wanted("serve") {
        let (throughput, memory) = site::serve_rows(&kb, tmp.path())?;
        serve = site::serve_table(&throughput, memory, opts.runbooks);
        rows.extend(site::reload_rows(&kb, &input)?);
    }
    if wanted("exec") {
        rows.extend(exec::rows(tmp.path(), opts.runs)?);
    }
    if wanted("fleet") {
        rows.extend(fleet::rows(tmp.path(), opts.runs)?);
    }
    if wanted("archive") {
        rows.extend(archive::rows(tmp.path(), opts.runs)?);
    }
    if wanted("plain") {
        rows.extend(plain::rows(tmp.path(), opts.runs, opts.corpus.as_deref())?);
    }
    let alerts = if wanted("alerts") { Some(alerts_section(&opts, tmp.path())?) } else { None };
    if wanted("scenarios") {
        rows.extend(scenarios::rows(opts.runs)?);
    }
    let load = if wanted("reliability") { reliability::load_under_edits(opts.runbooks, tmp.path())? } else { None };
    let fuzz_results = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/RESULTS.md");
    let reliability = reliability::section(load.as_ref(), &fuzz_results);
    let reliability = reliability + &alerts.unwrap_or_default();
    let written = match &opts.only {
        Some(group) => update_report(&opts.out, group, &rows, &serve, load.is_some().then_some(reliability.as_str())),
        None => write_report(&opts, &rows, &serve, &reliability),
    };
    written.map_err(|e| format!("writing {}: {e}", opts.out.display()))?;
    eprintln!("wrote {}", opts.out.display());
    Ok(())
}

fn alerts_section(opts: &Options, tmp: &Path) -> Result<String, String> {
    let hooks = alerts::hooks(tmp)?;
    let watches = alerts::watches(tmp, opts.watch_seconds)?;
    Ok(alerts::section(hooks.as_ref(), &watches))
}

fn write_report(opts: &Options, rows: &[Row], serve: &str, reliability: &str) -> std::io::Result<()> {
    let mut text = String::from("# Benchmarks\n\n");
    text.push_str(&format!(
        "Written by `cargo bench --bench harness -- --runbooks {} --runs {}{}` on {} ({} CPUs), runbook {}.\n\
         Every figure times the release binary as a whole process (wall clock; one warm-up run, then the \
         median of {} runs), with the largest peak resident memory (RSS) of those runs.\n\n",
        opts.runbooks,
        opts.runs,
        opts.corpus.as_ref().map(|c| format!(" --corpus {}", c.display())).unwrap_or_default(),
        cpu_model(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        env!("CARGO_PKG_VERSION"),
        opts.runs,
    ));
    text.push_str(&format!("{MAIN_TABLE}\n|---|---|---|---|---|---|---|---|---|---|---|---|\n"));
    rows.iter().for_each(|row| text.push_str(&row_line(row)));
    text.push_str(serve);
    text.push_str(
        "\n`runbook` keeps a parse cache in the KB's `.runbook/` folder (keyed by each file's size and \
         modification time), so only files that changed since the last command are parsed again; the \
         first-run row deletes it before every run.\n",
    );
    text.push_str(
        "\nThe synthetic KB is generated by `benches/harness/synth.rs`: runbooks shaped like the shipped \
         ones (front matter, H2/H3 sections, 4–10 steps mixing scripts and probes, cross-links), the \
         same bytes on every machine.\n",
    );
    text.push_str(reliability);
    std::fs::write(&opts.out, text)
}

/// After one group (`--only`): its rows replace their old versions in the existing report, the
/// rest of the report stays (a fresh report holds just them).
fn update_report(out: &Path, group: &str, rows: &[Row], serve: &str, reliability: Option<&str>) -> std::io::Result<()> {
    let mut text = std::fs::read_to_string(out).unwrap_or_else(|_| "# Benchmarks\n".into());
    let lines: Vec<String> = rows.iter().map(row_line).collect();
    text = report::merge_rows(&text, MAIN_TABLE, &lines, 2);
    let serve_rows: Vec<String> = serve.lines().filter(|l| l.starts_with("| `")).map(|l| format!("{l}\n")).collect();
    if !serve_rows.is_empty() {
        text = report::merge_rows(&text, SERVE_TABLE, &serve_rows, 1);
    }
    if let Some(section) = reliability {
        text = report::replace_section(&text, "## Reliability", section.trim_end_matches('\n'));
    }
    eprintln!("updated the {group} rows of {}", out.display());
    std::fs::write(out, text)
}

/// One row of the main table.
fn row_line(row: &Row) -> String {
    let (budget, verdict) = row.budget_text();
    let (peer, peer_median) = match &row.peer {
        Some((name, stats)) => (name.clone(), format_duration(stats.median)),
        None => ("—".into(), "—".into()),
    };
    let ratio = row.ratio().map(|r| format!("{r:.2}×")).unwrap_or_else(|| "—".into());
    let rss = if row.stats.max_rss_kib == 0 {
        "—".to_string()
    } else {
        format!("{:.0} MiB", row.stats.max_rss_kib as f64 / 1024.0)
    };
    format!(
        "| {} | {} | {} | {} | {} | {} | {rss} | {peer} | {peer_median} | {ratio} | {budget} | {verdict} |\n",
        row.benchmark,
        row.input,
        format_duration(row.stats.median),
        format_duration(row.stats.p99),
        format_duration(row.stats.min),
        format_duration(row.stats.max),
    )
}

fn count_markdown(dir: &Path) -> usize {
    let mut count = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                count += 1;
            }
        }
    }
    count
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "an unknown CPU".into())
}

pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
