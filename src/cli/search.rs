//! `runbook search QUERY…`: ranked sections with highlighted snippets, from an index that is
//! brought up to date first.

use super::Context;
use super::output::{self, BOLD, CYAN, DIM, RED, YELLOW, paint};
use crate::cli::error::{Error, Result, exit};
use crate::index::{Kind, MoreSection, SearchRequest, SearchResults, snippet};
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

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    let query = args.query.join(" ");
    if query.trim().is_empty() {
        return Err(Error::Invalid { message: "empty search".into(), hint: Some("runbook search WORDS…".into()) });
    }
    let request = SearchRequest {
        query,
        tag: args.tag,
        kind: args.kind.map(Kind::from),
        category: args.category,
        limit: Some(args.limit),
        prefix: false,
    };
    let (results, source) = ctx.with_fresh_index(|index| index.search(&request))?;
    let results = results?;
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
        write!(out, "{} {} {}  {}", paint(BOLD, label), paint(DIM, "›"), paint(CYAN, &hit.heading), paint(DIM, place))?;
        if hit.errors > 0 {
            write!(out, "  {}", paint(RED, format!("✘ {}", plural(hit.errors, "error"))))?;
        }
        writeln!(out)?;
        writeln!(out, "    {}", snippet::for_terminal(&hit.snippet, (&bold.0, &bold.1)))?;
        if !hit.more.is_empty() {
            writeln!(out, "    {}", paint(DIM, more_sections(&hit.more)))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// "+ 3 more sections: Impact, Diagnosis, Mitigation", the headings cut after a few.
fn more_sections(more: &[MoreSection]) -> String {
    const NAMED: usize = 4;
    let mut headings: Vec<&str> = more.iter().take(NAMED).map(|s| s.heading.as_str()).collect();
    if more.len() > NAMED {
        headings.push("…");
    }
    let sections = if more.len() == 1 { "section" } else { "sections" };
    format!("+ {} more {sections}: {}", more.len(), headings.join(", "))
}
