//! `runbook search QUERY…`: ranked sections with highlighted snippets, from an index that is
//! brought up to date first.

use super::Context;
use super::output::{self, BOLD, CYAN, DIM, YELLOW, paint};
use crate::cli::error::{Error, Result, exit};
use crate::index::{Kind, SearchIndex, SearchRequest, SearchResults, SyncReport, snippet};
use crate::model::config::Config;
use crate::model::discovery::KbSource;
use crate::util::text::{did_you_mean_one_of, plural};
use std::io::Write;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Words to look for; quote a phrase ("cuda context"); tag:, kind:, category: filter
    #[arg(value_name = "QUERY", required = true)]
    query: Vec<String>,
    /// Only runbooks with this tag
    #[arg(long, value_name = "TAG")]
    tag: Option<String>,
    /// Only this kind of document
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
    /// Only this category
    #[arg(long, value_name = "CATEGORY")]
    category: Option<String>,
    /// At most this many hits
    #[arg(long, default_value_t = 10, value_name = "N")]
    limit: usize,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum KindArg {
    Runbook,
    Archive,
    Cycle,
}

impl From<KindArg> for Kind {
    fn from(kind: KindArg) -> Kind {
        match kind {
            KindArg::Runbook => Kind::Runbook,
            KindArg::Archive => Kind::Archive,
            KindArg::Cycle => Kind::Cycle,
        }
    }
}

/// Opens the KB's index and brings it up to date, saying under `-v` what that took. When file
/// sizes and times show nothing changed, the KB is not even loaded.
pub fn fresh_index(ctx: &Context) -> Result<(SearchIndex, SyncReport, KbSource)> {
    let source = ctx.kb_source()?;
    let (config, _) = Config::load(&source);
    let archives = source.archives_dir(&config, ctx.archives.as_deref());
    let dir = source.state_dir().join("index");
    let index = SearchIndex::open(&dir).map_err(|e| Error::Failed { message: e.to_string(), hint: None })?;
    let report = match index.is_fresh(&source, &archives) {
        Some(skipped) => SyncReport { skipped, ..SyncReport::default() },
        None => index.sync_files(&source, &config, &archives).map_err(|e| Error::Failed {
            message: e.to_string(),
            hint: Some("`runbook index --rebuild` starts the index afresh".into()),
        })?,
    };
    if ctx.verbose {
        eprintln!(
            "index: {}{} re-indexed, {} removed in {} ms",
            if report.rebuilt { "built anew; " } else { "" },
            plural(report.indexed.len(), "document source"),
            report.removed.len(),
            report.elapsed.as_millis()
        );
        const LISTED: usize = 20;
        for key in report.indexed.iter().take(LISTED) {
            eprintln!("  indexed {key}");
        }
        if report.indexed.len() > LISTED {
            eprintln!("  … and {} more", report.indexed.len() - LISTED);
        }
    }
    let mut stderr = output::stderr(ctx.color);
    if report.stale {
        let _ = writeln!(
            stderr,
            "{} another runbook process is updating the index: results may be slightly out of date",
            paint(YELLOW, "note:")
        );
    }
    if !report.skipped.is_empty() && !ctx.quiet {
        let _ = writeln!(
            stderr,
            "{} {} with errors not searchable until fixed: {} (see `runbook check`)",
            paint(YELLOW, "warning:"),
            plural(report.skipped.len(), "runbook"),
            report.skipped.join(", ")
        );
    }
    Ok((index, report, source))
}

pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let query = args.query.join(" ");
    if query.trim().is_empty() {
        return Err(Error::Invalid { message: "empty search".into(), hint: Some("runbook search WORDS…".into()) });
    }
    let (index, _, source) = fresh_index(ctx)?;
    let request = SearchRequest {
        query,
        tag: args.tag,
        kind: args.kind.map(Kind::from),
        category: args.category,
        limit: Some(args.limit),
        prefix: false,
    };
    let results = index.search(&request).map_err(|e| Error::Failed { message: e.to_string(), hint: None })?;
    let mut out = output::stdout(ctx.color);
    let io = |e| Error::io("stdout", e);
    if args.json {
        serde_json::to_writer(&mut out, &results)?;
        writeln!(out).map_err(io)?;
    } else {
        print(&mut out, ctx, source.root(), &results).map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(if results.hits.is_empty() { exit::FAILED } else { exit::OK })
}

fn print<W: Write>(out: &mut W, ctx: &Context, root: Option<&Path>, results: &SearchResults) -> std::io::Result<()> {
    if results.hits.is_empty() {
        write!(out, "no results for `{}`", results.query)?;
        if let Some(suggestion) = &results.suggestion {
            write!(out, " — {}", did_you_mean_one_of(&[suggestion]))?;
        }
        return writeln!(out);
    }
    if let Some(suggestion) = &results.suggestion {
        writeln!(out, "{} `{}` found nothing; showing `{suggestion}`\n", paint(YELLOW, "note:"), results.query)?;
    }
    let bold = (format!("{}", BOLD.render()), format!("{}", BOLD.render_reset()));
    for hit in &results.hits {
        let place = match root {
            Some(root) => {
                let file = root.join(&hit.path);
                let shown = file.strip_prefix(&ctx.cwd).unwrap_or(&file).display().to_string();
                format!("{shown}:{}", hit.line)
            }
            None => format!("{}:{}", hit.path, hit.line),
        };
        let label = match hit.kind {
            Kind::Runbook => hit.id.clone(),
            Kind::Archive => format!("run {}", hit.id),
            Kind::Cycle => format!("cycle {}", hit.id),
        };
        writeln!(
            out,
            "{} {} {}  {}",
            paint(BOLD, label),
            paint(DIM, "›"),
            paint(CYAN, &hit.heading),
            paint(DIM, place)
        )?;
        writeln!(out, "    {}\n", snippet::for_terminal(&hit.snippet, (&bold.0, &bold.1)))?;
    }
    Ok(())
}
