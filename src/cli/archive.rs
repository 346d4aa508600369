//! `runbook archive list|show`: the record of every run.

use super::Context;
use super::output::{self, BOLD, DIM, GREEN, RED, YELLOW, paint};
use crate::archive::period;
use crate::archive::store::{self, ArchivedRun};
use crate::cli::error::{Error, Result, exit};
use crate::record::{RunRecord, Verdict};
use serde::Serialize;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List runs, newest first
    List(ListArgs),
    /// Show one run (its id, a unique prefix, or `latest`)
    Show(ShowArgs),
    /// Delete old runs: beyond the newest N per runbook, or older than a duration
    Prune(PruneArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ListKind {
    Run,
    Cycle,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("rule").required(true).multiple(true).args(["keep", "older_than"])))]
struct PruneArgs {
    /// Keep the newest N runs of each runbook
    #[arg(long, value_name = "N")]
    keep: Option<usize>,
    /// Delete runs older than this: 30d, 12h, 8w
    #[arg(long, value_name = "DURATION")]
    older_than: Option<String>,
    /// Only say what would be deleted
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Only runs of this runbook
    #[arg(long, value_name = "ID")]
    runbook: Option<String>,
    /// Only runs with this verdict (passed, warning, failed, interrupted, running)
    #[arg(long, value_name = "VERDICT")]
    verdict: Option<String>,
    /// What to list: runs (default) or cycle reports
    #[arg(long, value_enum, default_value = "run")]
    kind: ListKind,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ShowArgs {
    /// Run id, a unique prefix of one, or `latest`
    run: String,
    /// Print run.json
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Row<'a> {
    run_id: &'a str,
    path: String,
    runbook: Option<&'a str>,
    title: Option<&'a str>,
    verdict: Option<Verdict>,
    started_at: Option<&'a str>,
    finished_at: Option<&'a str>,
    duration_ms: Option<u64>,
    steps: Option<usize>,
    failed: Option<usize>,
    error: Option<&'a str>,
}

pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    match args.command {
        Command::List(args) => list(ctx, args),
        Command::Show(args) => show(ctx, args),
        Command::Prune(args) => prune(ctx, args),
    }
}

fn prune(ctx: &Context, args: PruneArgs) -> Result<i32> {
    let older_than = args
        .older_than
        .as_deref()
        .map(|text| period::ago(text, jiff::Timestamp::now()))
        .transpose()
        .map_err(|source| Error::Period { flag: "--older-than", source })?;
    let dir = archives(ctx)?;
    let runs = store::list(&dir);
    let doomed = crate::archive::prune::select(&runs, args.keep, older_than);
    let mut out = output::stdout(ctx.color);
    let io = |e| Error::io("stdout", e);
    for run in &doomed {
        if !args.dry_run {
            std::fs::remove_dir_all(&run.dir).map_err(|e| Error::io(&run.dir, e))?;
        }
        if !ctx.quiet {
            writeln!(out, "{} {}", if args.dry_run { "would delete" } else { "deleted" }, run.run_id).map_err(io)?;
        }
    }
    writeln!(
        out,
        "{} {} of {} runs; cycle reports keep the evidence they quote",
        if args.dry_run { "would delete" } else { "deleted" },
        doomed.len(),
        runs.len()
    )
    .map_err(io)?;
    out.flush().map_err(io)?;
    Ok(exit::OK)
}

/// One cycle report, as `archive list --kind cycle` shows it.
#[derive(Serialize)]
struct CycleRow {
    name: String,
    title: String,
    from: String,
    to: String,
    runs: usize,
    open_blockers: usize,
    path: String,
}

fn list_cycles(ctx: &Context, json: bool) -> Result<i32> {
    let dir = archives(ctx)?.join("cycles");
    let mut rows: Vec<CycleRow> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| {
            let report: crate::archive::cycle::CycleReport =
                serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            Some(CycleRow {
                path: e.path().with_extension("md").display().to_string(),
                name: report.name,
                title: report.title,
                from: report.period.from,
                to: report.period.to,
                runs: report.summary.runs,
                open_blockers: report.blockers.iter().filter(|b| b.open).count(),
            })
        })
        .collect();
    rows.sort_by(|a, b| b.name.cmp(&a.name));
    let mut out = output::stdout(ctx.color);
    let io = |e| Error::io("stdout", e);
    if json {
        serde_json::to_writer(&mut out, &rows)?;
        writeln!(out).map_err(io)?;
    } else if rows.is_empty() {
        writeln!(out, "no cycle reports in {}", dir.display()).map_err(io)?;
    } else {
        for row in &rows {
            writeln!(
                out,
                "{}  {}  {}",
                paint(BOLD, &row.name),
                row.title,
                paint(DIM, format!("{} runs, {} open blockers", row.runs, row.open_blockers))
            )
            .map_err(io)?;
        }
    }
    out.flush().map_err(io)?;
    Ok(exit::OK)
}

fn archives(ctx: &Context) -> Result<std::path::PathBuf> {
    let kb = ctx.load_summaries()?;
    Ok(kb.archives_dir(ctx.archives.as_deref()))
}

fn list(ctx: &Context, args: ListArgs) -> Result<i32> {
    if args.kind == ListKind::Cycle {
        return list_cycles(ctx, args.json);
    }
    let verdict = match &args.verdict {
        Some(text) => Some(Verdict::parse(text).ok_or_else(|| Error::Invalid {
            message: format!("unknown verdict `{text}`"),
            hint: Some("one of passed, warning, failed, interrupted, running".into()),
        })?),
        None => None,
    };
    let dir = archives(ctx)?;
    let runs = store::list(&dir);
    let selected: Vec<&ArchivedRun> = runs
        .iter()
        .filter(|run| match (&args.runbook, &run.record) {
            (Some(id), Ok(record)) => record.runbook.id.eq_ignore_ascii_case(id),
            (Some(id), Err(_)) => run.run_id.ends_with(&format!("-{id}")),
            (None, _) => true,
        })
        .filter(|run| verdict.is_none_or(|v| run.record.as_ref().is_ok_and(|r| r.verdict == v)))
        .collect();
    let mut out = output::stdout(ctx.color);
    let io = |e| Error::io("stdout", e);
    if args.json {
        let rows: Vec<Row> = selected.iter().map(|run| row(run)).collect();
        serde_json::to_writer(&mut out, &rows)?;
        writeln!(out).map_err(io)?;
    } else if selected.is_empty() {
        writeln!(out, "no runs in {}", dir.display()).map_err(io)?;
    } else {
        let width = selected.iter().map(|r| r.run_id.len()).max().unwrap_or(0);
        for run in &selected {
            match &run.record {
                Ok(record) => writeln!(
                    out,
                    "{:<width$}  {:<12} {:>12}  {}",
                    run.run_id,
                    verdict_text(record.verdict),
                    crate::util::text::duration(record.duration_ms),
                    paint(DIM, counts(record))
                ),
                Err(err) => writeln!(out, "{:<width$}  {}", run.run_id, paint(RED, format!("unreadable: {err}"))),
            }
            .map_err(io)?;
        }
    }
    out.flush().map_err(io)?;
    Ok(exit::OK)
}

fn row(run: &ArchivedRun) -> Row<'_> {
    let record = run.record.as_ref().ok();
    Row {
        run_id: &run.run_id,
        path: run.dir.display().to_string(),
        runbook: record.map(|r| r.runbook.id.as_str()),
        title: record.map(|r| r.runbook.title.as_str()),
        verdict: record.map(|r| r.verdict),
        started_at: record.map(|r| r.started_at.as_str()),
        finished_at: record.and_then(|r| r.finished_at.as_deref()),
        duration_ms: record.map(|r| r.duration_ms),
        steps: record.map(|r| r.steps.len()),
        failed: record.map(|r| r.steps.iter().filter(|s| s.outcome.is_failure()).count()),
        error: run.record.as_ref().err().map(String::as_str),
    }
}

fn verdict_text(verdict: Verdict) -> String {
    let style = match verdict {
        Verdict::Passed => GREEN,
        Verdict::Warning => YELLOW,
        Verdict::Running => DIM,
        Verdict::Failed | Verdict::Interrupted => RED,
    };
    paint(style, verdict.as_str())
}

fn counts(record: &RunRecord) -> String {
    record.counts().iter().map(|(o, n)| format!("{n} {}", o.as_str())).collect::<Vec<_>>().join(", ")
}

fn show(ctx: &Context, args: ShowArgs) -> Result<i32> {
    let dir = archives(ctx)?;
    let runs = store::list(&dir);
    let run = store::find(&runs, &args.run)?;
    let record = run.record.as_ref().map_err(|e| Error::Failed { message: e.clone(), hint: None })?;
    let mut out = output::stdout(ctx.color);
    let io = |e| Error::io("stdout", e);
    if args.json {
        serde_json::to_writer_pretty(&mut out, record)?;
        writeln!(out).map_err(io)?;
    } else {
        let text = std::fs::read_to_string(run.dir.join("run.md"))
            .unwrap_or_else(|_| crate::archive::markdown::render(record));
        write!(out, "{text}").map_err(io)?;
        writeln!(out, "\n{} {}", paint(BOLD, "folder:"), run.dir.display()).map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(exit::OK)
}
