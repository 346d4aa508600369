//! `runbook cycle`: a period of runs turned into the engineering record, saved as Markdown and
//! JSON under `archives/cycles/`.

use super::Context;
use super::output::{self, BOLD, DIM, GREEN, RED, YELLOW, paint};
use crate::archive::cycle::{self, CycleReport, Request};
use crate::archive::store::Archives;
use crate::archive::{cycle_markdown, period};
use crate::cli::error::{Error, Result, exit};
use crate::util::fs::write_atomic;
use crate::util::text::title_slug;
use jiff::Timestamp;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The period back from now: 7d, 36h, 2w (default 7d)
    #[arg(long, value_name = "DURATION", conflicts_with_all = ["from", "to"])]
    since: Option<String>,
    /// Start of the period: 2026-11-20 or an RFC 3339 time
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// End of the period (default: now); a date means the end of that day
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// Only runs of runbooks with this tag (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Only runs of this runbook (repeatable)
    #[arg(long = "runbook", value_name = "ID")]
    runbooks: Vec<String>,
    /// The report's title
    #[arg(long, value_name = "TEXT")]
    title: Option<String>,
    /// Also write the Markdown report to FILE
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    let now = Timestamp::now();
    let (from, to) = period::between(args.since.as_deref(), args.from.as_deref(), args.to.as_deref(), now)
        .map_err(|source| Error::Period { flag: "--since", source })?;
    let kb = ctx.load_summaries()?;
    let archives = Archives::new(kb.archives_dir(ctx.archives.as_deref()));
    let title = args
        .title
        .clone()
        .unwrap_or_else(|| format!("Cycle report {} → {}", from.strftime("%Y-%m-%d"), to.strftime("%Y-%m-%d")));
    let name = archives.unused_cycle_name(&format!("{}-{}", now.strftime("%Y-%m-%d"), title_slug(&title)));
    let request = Request {
        title,
        name: name.clone(),
        from,
        to,
        tags: args.tags.clone(),
        runbooks: args.runbooks.clone(),
        generated_at: now,
        archives: archives.dir(),
    };
    let report = cycle::build(&kb, &archives.runs_started_between(from, to), &request);
    let mut stderr = output::stderr(ctx.color);
    for warning in &report.warnings {
        let _ = writeln!(stderr, "{} {warning}", paint(YELLOW, "warning:"));
    }
    if report.summary.runs == 0 {
        let _ = writeln!(
            stderr,
            "no runs between {} and {} in {}: nothing to report, nothing written",
            from.strftime("%Y-%m-%d %H:%M"),
            to.strftime("%Y-%m-%d %H:%M"),
            archives.dir().display()
        );
        return Ok(exit::FAILED);
    }
    write(ctx, &args, &archives, &name, &report)
}

/// Keeps the report in the archive (and in `--out`), then prints it or its summary.
fn write(ctx: &Context, args: &Args, archives: &Archives, name: &str, report: &CycleReport) -> Result<i32> {
    let markdown = cycle_markdown::render(report);
    let json = serde_json::to_vec_pretty(report)?;
    let paths = archives.write_cycle(name, &json, &markdown)?;
    if let Some(out) = &args.out {
        let out = ctx.cwd.join(out);
        write_atomic(&out, markdown.as_bytes()).map_err(|e| Error::io(&out, e))?;
    }
    let mut stdout = output::stdout(ctx.color);
    let io = |e| Error::io("stdout", e);
    if args.json {
        stdout.write_all(&json).map_err(io)?;
        writeln!(stdout).map_err(io)?;
    } else {
        print_summary(&mut stdout, report, &paths.markdown, &paths.json).map_err(io)?;
    }
    stdout.flush().map_err(io)?;
    Ok(exit::OK)
}

fn print_summary<W: Write>(
    out: &mut W,
    report: &CycleReport,
    md: &std::path::Path,
    json: &std::path::Path,
) -> std::io::Result<()> {
    let s = &report.summary;
    writeln!(out, "{}", paint(BOLD, &report.title))?;
    writeln!(
        out,
        "{} runs of {} runbooks · {} · {} · {} · pass rate {:.0}%",
        s.runs,
        s.runbooks,
        paint(GREEN, format!("{} passed", s.passed)),
        paint(YELLOW, format!("{} warning", s.warning)),
        paint(RED, format!("{} failed", s.failed + s.interrupted + s.unfinished)),
        s.pass_rate * 100.0
    )?;
    for blocker in report.blockers.iter().filter(|b| b.open) {
        writeln!(out, "  {} {} › {}: {}", paint(RED, "✘"), blocker.runbook, blocker.step, blocker.message)?;
    }
    for action in &report.next_actions {
        for fix in &action.fix {
            writeln!(out, "  {} {fix}", paint(DIM, "fix:"))?;
        }
    }
    writeln!(out, "{} {}", paint(DIM, "report:"), md.display())?;
    writeln!(out, "{} {}", paint(DIM, "json:"), json.display())
}
