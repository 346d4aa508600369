//! `runbook archive list|show`: the record of every run.

use super::Context;
use super::output::{self, BOLD, DIM, GREEN, RED, YELLOW, paint};
use crate::archive::period;
use crate::archive::store::{ArchivedRun, Archives, RunFolder};
use crate::archive::views::ArchiveRow;
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
    /// Only runs with this verdict
    #[arg(long, value_enum, value_name = "VERDICT")]
    verdict: Option<Verdict>,
    /// Only runs on these hosts: fleet runs that had one of them, runs started on one of them
    /// (`gpu07`, `gpu[01-04]`, `a,b`)
    #[arg(long, value_name = "HOSTS")]
    host: Option<String>,
    /// What to list: runs (default) or cycle reports
    #[arg(long, value_enum, default_value = "run")]
    kind: ListKind,
    /// Runs per page, newest first; 0 lists them all (default: 50, and all with --json)
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Which page of --limit runs: 1 is the newest
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = page_number)]
    page: u64,
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

/// A row of `archive list --json`: the run, and its folder.
#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    row: ArchiveRow<'a>,
    path: String,
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
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
    let runs = archives(ctx)?.runs();
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
    let archives = archives(ctx)?;
    let mut rows: Vec<CycleRow> = archives
        .cycle_reports()
        .into_iter()
        .map(|(report, markdown)| CycleRow {
            path: markdown.display().to_string(),
            open_blockers: report.blockers.iter().filter(|b| b.open).count(),
            name: report.name,
            title: report.title,
            from: report.period.from,
            to: report.period.to,
            runs: report.summary.runs,
        })
        .collect();
    rows.sort_by(|a, b| b.name.cmp(&a.name));
    let mut out = output::stdout(ctx.color);
    let io = |e| Error::io("stdout", e);
    if json {
        serde_json::to_writer(&mut out, &rows)?;
        writeln!(out).map_err(io)?;
    } else if rows.is_empty() {
        writeln!(out, "no cycle reports in {}", archives.cycles_dir().display()).map_err(io)?;
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

fn archives(ctx: &Context) -> Result<Archives> {
    let kb = ctx.load_summaries()?;
    Ok(Archives::new(kb.archives_dir(ctx.archives.as_deref())))
}

fn list(ctx: &Context, args: ListArgs) -> Result<i32> {
    if args.kind == ListKind::Cycle {
        return list_cycles(ctx, args.json);
    }
    let verdict = args.verdict;
    let hosts = match &args.host {
        Some(pattern) => Some(host_names(pattern)?),
        None => None,
    };
    let archives = archives(ctx)?;
    // The terminal shows a page; JSON is for programs, which get every run unless they page.
    let limit = match args.limit {
        Some(0) => usize::MAX,
        Some(n) => n,
        None if args.json && args.page == 1 => usize::MAX,
        None => DEFAULT_PAGE,
    };
    let filter = RunFilter { runbook: args.runbook.as_deref(), verdict, hosts: hosts.as_deref() };
    let page = select_page(archives.run_folders(), &filter, limit, args.page);
    let selected: Vec<&ArchivedRun> = page.runs.iter().collect();
    let mut out = output::stdout(ctx.color);
    let io = |e| Error::io("stdout", e);
    if args.json {
        let rows: Vec<Row> =
            selected.iter().map(|run| Row { row: ArchiveRow::new(run), path: run.dir.display().to_string() }).collect();
        serde_json::to_writer(&mut out, &rows)?;
        writeln!(out).map_err(io)?;
    } else if selected.is_empty() && page.first == 0 {
        writeln!(out, "no runs in {}", archives.dir().display()).map_err(io)?;
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
                    paint(DIM, record.fleet.as_ref().map_or_else(|| counts(record), |f| f.summary.clone()))
                ),
                Err(err) => writeln!(out, "{:<width$}  {}", run.run_id, paint(RED, format!("unreadable: {err}"))),
            }
            .map_err(io)?;
        }
    }
    out.flush().map_err(io)?;
    if let Some(more) = page.more_text(args.page)
        && !ctx.quiet
    {
        let _ = writeln!(output::stderr(ctx.color), "{}", paint(DIM, more));
    }
    Ok(exit::OK)
}

/// A `--page` value: 1 or more.
fn page_number(text: &str) -> std::result::Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("pages start at 1, the newest".into()),
        Ok(page) => Ok(page),
        Err(_) => Err("a page number: 1, 2, 3, …".into()),
    }
}

/// Runs the terminal listing shows at once.
const DEFAULT_PAGE: usize = 50;

/// What `archive list` keeps.
struct RunFilter<'a> {
    runbook: Option<&'a str>,
    verdict: Option<Verdict>,
    hosts: Option<&'a [String]>,
}

impl RunFilter<'_> {
    /// Whether the folder name can be of a wanted run: runs are named after their runbook.
    fn may_match(&self, folder: &RunFolder) -> bool {
        self.runbook.is_none_or(|id| folder.may_be_of(id))
    }

    /// Whether only the record can tell (so records are read to skip earlier pages).
    fn reads_records(&self) -> bool {
        self.verdict.is_some() || self.hosts.is_some()
    }

    fn matches(&self, run: &ArchivedRun) -> bool {
        self.runbook.is_none_or(|id| run.is_of(id))
            && self.verdict.is_none_or(|v| run.record.as_ref().is_ok_and(|r| r.verdict == v))
            && self.hosts.is_none_or(|names| run.record.as_ref().is_ok_and(|r| ran_on(r, names)))
    }
}

/// One page of the matching runs, newest first.
struct Page {
    runs: Vec<ArchivedRun>,
    /// Where the page starts among the matches (0-based).
    first: usize,
    /// How many runs match, when that is known without reading every record.
    total: Option<usize>,
    /// Whether runs match beyond this page.
    more: bool,
}

impl Page {
    /// The line under a page that is not everything: where it is, and how to see the rest.
    fn more_text(&self, page: u64) -> Option<String> {
        if !self.more && self.first == 0 {
            return None;
        }
        let shown = if self.runs.is_empty() {
            "no runs on this page".to_string()
        } else {
            format!("runs {}–{}", self.first + 1, self.first + self.runs.len())
        };
        let of = self.total.map(|t| format!(" of {}", crate::util::text::thousands(t))).unwrap_or_default();
        let next = if self.more { format!("; older: --page {}, all: --limit 0", page + 1) } else { String::new() };
        Some(format!("{shown}{of}, newest first{next}"))
    }
}

/// Reads only the records it must: those of the page, and, for filters on what only a record
/// says (verdict, host), those before it.
fn select_page(folders: Vec<RunFolder>, filter: &RunFilter, limit: usize, page: u64) -> Page {
    let candidates: Vec<RunFolder> = folders.into_iter().filter(|f| filter.may_match(f)).collect();
    let skip = usize::try_from(page - 1).unwrap_or(usize::MAX).saturating_mul(limit);
    if !filter.reads_records() {
        let total = candidates.len();
        let runs: Vec<ArchivedRun> = candidates
            .into_iter()
            .skip(skip)
            .take(limit)
            .map(|folder| folder.read())
            .filter(|run| filter.matches(run))
            .collect();
        let more = skip.saturating_add(limit) < total;
        return Page { runs, first: skip.min(total), total: Some(total), more };
    }
    let mut matching = candidates.into_iter().map(|folder| folder.read()).filter(|run| filter.matches(run));
    let before = matching.by_ref().take(skip).count();
    let runs: Vec<ArchivedRun> = matching.by_ref().take(limit).collect();
    let more = matching.next().is_some();
    Page { first: before, total: None, more, runs }
}

/// The host names a `--host` pattern names (`gpu[01-04]`, `a,b`).
fn host_names(pattern: &str) -> Result<Vec<String>> {
    let items = crate::model::hosts::expand(pattern).map_err(|e| Error::Invalid {
        message: format!("bad --host: {e}"),
        hint: Some("write host names like gpu07, gpu[01-04] or a,b".into()),
    })?;
    items
        .into_iter()
        .map(|item| match item {
            crate::model::hosts::Item::Host(name) => Ok(name),
            crate::model::hosts::Item::Group(group) => Err(Error::Invalid {
                message: format!("bad --host: `@{group}` is an inventory group, and runs record host names"),
                hint: Some("name the hosts: --host 'gpu[01-04]'".into()),
            }),
        })
        .collect()
}

/// Whether a run ran on one of `names`: a host of a fleet run, or the machine a run started on.
fn ran_on(record: &RunRecord, names: &[String]) -> bool {
    let named = |name: &str| names.iter().any(|n| n.eq_ignore_ascii_case(name));
    match &record.fleet {
        Some(fleet) => fleet.hosts.iter().any(|h| named(&h.name)),
        None => named(&record.host.name),
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
    let run = archives(ctx)?.find(&args.run)?;
    let markdown = run.markdown_path();
    let record = run.record?;
    let mut out = output::stdout(ctx.color);
    let io = |e| Error::io("stdout", e);
    if args.json {
        serde_json::to_writer_pretty(&mut out, &record)?;
        writeln!(out).map_err(io)?;
    } else {
        let text = std::fs::read_to_string(markdown).unwrap_or_else(|_| crate::archive::markdown::render(&record));
        write!(out, "{text}").map_err(io)?;
        writeln!(out, "\n{} {}", paint(BOLD, "folder:"), run.dir.display()).map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(exit::OK)
}
