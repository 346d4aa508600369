//! `runbook build [--out DIR]`: the knowledge base as a static site.

use super::Context;
use super::output::{self, YELLOW, paint};
use crate::archive::store::Archives;
use crate::cli::error::{Error, Result, exit};
use crate::render::{Mode, Site, writer};
use crate::util::text::plural;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder (emptied first if an earlier build wrote it)
    #[arg(long, value_name = "DIR", default_value = "public")]
    out: PathBuf,
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    let started = Instant::now();
    let kb = ctx.load_kb()?;
    let archives = Archives::new(kb.archives_dir(ctx.archives.as_deref()));
    let with_errors = kb.runbooks.iter().filter(|rb| rb.has_errors()).count();
    let out = ctx.cwd.join(&args.out);
    let site = Site::new(kb, &archives, Mode::Static)?;
    if ctx.verbose {
        eprintln!("gathered the site in {} ms", started.elapsed().as_millis());
    }
    let report = writer::build(&site, &out)?;
    let mut stderr = output::stderr(ctx.color);
    if ctx.verbose {
        for (phase, took) in &report.phases {
            let _ = writeln!(stderr, "{phase}: {} ms", took.as_millis());
        }
    }
    for warning in &report.warnings {
        let _ = writeln!(stderr, "{} {warning}", paint(YELLOW, "warning:"));
    }
    if with_errors > 0 {
        let _ = writeln!(
            stderr,
            "{} {} {} errors (their pages list them; `runbook check` for details)",
            paint(YELLOW, "warning:"),
            plural(with_errors, "runbook"),
            if with_errors == 1 { "has" } else { "have" }
        );
    }
    if !ctx.quiet {
        let mut stdout = output::stdout(ctx.color);
        writeln!(
            stdout,
            "wrote {} pages ({} files, {:.1} MB) to {} in {:.2} s",
            report.pages,
            report.files,
            report.bytes as f64 / 1e6,
            args.out.display(),
            started.elapsed().as_secs_f64()
        )
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::io("stdout", e))?;
    }
    Ok(exit::OK)
}
