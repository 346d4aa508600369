//! `runbook exec ID`: run a runbook step by step, live, with its checks and an archive.

use super::Context;
use super::context::find;
use super::diagnostics::DiagnosticRenderer;
use super::output;
use crate::cli::error::{Error, Result, exit};
use crate::exec::engine::{self, ExecOptions};
use crate::exec::probe::gpu;
use crate::exec::report::Reporter;
use crate::exec::report::json::JsonReporter;
use crate::exec::report::terminal::TerminalReporter;
use crate::model::{Kb, Runbook};
use crate::record::{Trigger, Verdict};
use crate::util::text::plural;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runbook id, alias or path
    id: String,
    /// Set a variable the runbook declares (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// Answer yes to every `confirm` question
    #[arg(short, long)]
    yes: bool,
    /// Run only the read-only steps: those with `confirm` or `manual` are skipped; asks nothing
    #[arg(long, conflicts_with = "yes")]
    diagnose: bool,
    /// For programs that start runs (hooks, agents): what started it, a JSON object with a `kind`
    #[arg(long, value_name = "JSON")]
    trigger: Option<String>,
    /// Print every step fully rendered; run nothing
    #[arg(long)]
    dry_run: bool,
    /// Start at this step (earlier ones are skipped)
    #[arg(long, value_name = "STEP")]
    from: Option<String>,
    /// Run only this step (repeatable)
    #[arg(long, value_name = "STEP")]
    only: Vec<String>,
    /// Continue the latest failed or unfinished run from its first step that did not pass
    #[arg(long, conflicts_with_all = ["from", "only", "dry_run"])]
    resume: bool,
    /// Print JSON lines (one event per line) instead of the live view
    #[arg(long)]
    json: bool,
    /// Also write the run as JUnit XML to FILE
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Do not write an archive
    #[arg(long)]
    no_archive: bool,
    /// Redact the value of this environment variable everywhere (repeatable)
    #[arg(long = "secret", value_name = "NAME")]
    secrets: Vec<String>,
}

pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let trigger = args.trigger.as_deref().map(Trigger::parse).transpose().map_err(|err| Error::Invalid {
        message: format!("bad --trigger: {err}"),
        hint: Some(r#"pass a JSON object such as --trigger '{"kind":"cron"}'"#.into()),
    })?;
    let kb = ctx.load_summaries()?;
    let idx = find(&kb, &args.id)?;
    let rb = &kb[idx];
    refuse_unrunnable(ctx, &kb, rb)?;
    let body = kb.body(idx).map_err(|e| Error::io(ctx.display_path(&kb, &rb.path), e))?;
    let opts = ExecOptions {
        vars: parse_vars(&args.vars)?,
        yes: args.yes,
        dry_run: args.dry_run,
        from: args.from,
        only: args.only,
        resume: args.resume,
        archive: !args.no_archive && !args.dry_run,
        archives_dir: kb.archives_dir(ctx.archives.as_deref()),
        secret_names: args.secrets,
        cwd: ctx.cwd.clone(),
        diagnose: args.diagnose,
        trigger,
    };
    let interrupted = interrupt_flag();
    let mut reporter: Box<dyn Reporter> = if args.json {
        Box::new(JsonReporter::default())
    } else {
        Box::new(TerminalReporter::new(output::use_color(ctx.color), ctx.quiet))
    };
    let gpu: Arc<dyn gpu::GpuSource> = Arc::from(gpu::source_from_env());
    let outcome = engine::execute(&kb, rb, &body, &opts, reporter.as_mut(), &interrupted, gpu)?;
    if args.dry_run {
        return Ok(exit::OK);
    }
    if let Some(path) = &args.junit {
        let xml = crate::exec::junit::render(&outcome.record).map_err(|e| Error::io(path, std::io::Error::other(e)))?;
        let path = ctx.cwd.join(path);
        std::fs::write(&path, xml).map_err(|e| Error::io(&path, e))?;
    }
    if let Some(problem) = outcome.archive_error {
        return Err(Error::Failed {
            message: format!("the run's archive is incomplete: {problem}"),
            hint: Some("free space or fix permissions in the archive folder, or pass --archives DIR".into()),
        });
    }
    Ok(match outcome.record.verdict {
        Verdict::Passed | Verdict::Warning => exit::OK,
        Verdict::Interrupted => exit::INTERRUPTED,
        Verdict::Failed | Verdict::Running => exit::FAILED,
    })
}

/// A runbook with errors (shown first) or without steps does not run.
fn refuse_unrunnable(ctx: &Context, kb: &Kb, rb: &Runbook) -> Result<()> {
    // A broken link is `check`'s business; any other error keeps the runbook from running.
    let blocking = rb.blocking_errors().count();
    if blocking > 0 {
        let mut renderer = DiagnosticRenderer::new(kb, |p| ctx.display_path(kb, p));
        let mut stderr = output::stderr(ctx.color);
        for diag in rb.blocking_errors() {
            let _ = writeln!(stderr, "{}", renderer.render(diag));
        }
        return Err(Error::Invalid {
            message: format!("{} has {}: it will not run", rb.id, plural(blocking, "error")),
            hint: Some(format!("fix them, then `runbook check {}`", ctx.display_path(kb, &rb.path))),
        });
    }
    if rb.is_document() {
        return Err(Error::Invalid {
            message: format!("{} is a document: it has no steps to run", rb.id),
            hint: Some(format!("`runbook show {}` prints it", rb.id)),
        });
    }
    Ok(())
}

/// `--var name=value` pairs.
fn parse_vars(pairs: &[String]) -> Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => Ok((name.trim().to_string(), value.to_string())),
            None => Err(Error::Invalid {
                message: format!("bad --var `{pair}`"),
                hint: Some("write --var name=value".into()),
            }),
        })
        .collect()
}

/// Set by Ctrl-C or SIGTERM; the engine stops the current step and writes the archive. A second
/// Ctrl-C ends `runbook` at once.
fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register_conditional_shutdown(signal, exit::INTERRUPTED, Arc::clone(&flag));
        let _ = signal_hook::flag::register(signal, Arc::clone(&flag));
    }
    flag
}
