//! `runbook index`: bring the search index up to date now, or `--rebuild` it from nothing. Never
//! needed for freshness (every search syncs first); useful after trouble, or to warm it.

use super::Context;
use crate::cli::error::{Error, Result, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Delete the index and build it anew
    #[arg(long)]
    rebuild: bool,
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    if args.rebuild {
        let dir = ctx.kb_source()?.index_dir();
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
    }
    let (_, report, _) = ctx.fresh_index()?;
    if !ctx.quiet {
        println!(
            "index {}: {} document sources indexed, {} removed, in {} ms",
            if report.rebuilt { "built" } else { "updated" },
            report.indexed.len(),
            report.removed.len(),
            report.elapsed.as_millis()
        );
    }
    Ok(exit::OK)
}
