//! `runbook exec ID`: run a runbook step by step, live, with its checks and an archive — here,
//! or on many hosts (`fleet`).

mod fleet;

use super::Context;
use super::context::find;
use super::diagnostics::DiagnosticRenderer;
use super::output;
use super::plain;
use crate::cli::error::{Error, Result, exit};
use crate::exec::context::RunContext;
use crate::exec::engine::{self, RunRequest};
use crate::exec::fleet::FleetResume;
use crate::exec::plan::ExecOptions;
use crate::exec::probe::gpu;
use crate::exec::report::Reporter;
use crate::exec::report::json::JsonReporter;
use crate::exec::report::terminal::TerminalReporter;
use crate::model::alerting::unattended_refusal;
use crate::model::runbook::Body;
use crate::model::{Kb, Runbook};
use crate::record::{Trigger, Verdict};
use crate::util::text::plural;
use std::collections::BTreeSet;
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
    /// Continue the latest failed or unfinished run (or run RUN: an id, a unique prefix) from
    /// its first step that did not pass; a fleet run continues on each host where it stopped
    #[arg(long, value_name = "RUN", num_args = 0..=1, default_missing_value = "",
          conflicts_with_all = ["from", "only", "dry_run", "retry_failed"])]
    resume: Option<String>,
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
    /// Run the doc's plain shell blocks as steps (`runbook show ID --plain` shows them)
    #[arg(long)]
    plain: bool,
    /// With --plain: only the blocks under this heading (its text or anchor)
    #[arg(long, value_name = "HEADING")]
    section: Option<String>,
    #[command(flatten)]
    fleet: fleet::FleetArgs,
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    let trigger = args.trigger.as_deref().map(Trigger::parse).transpose().map_err(|err| Error::Invalid {
        message: format!("bad --trigger: {err}"),
        hint: Some(r#"pass a JSON object such as --trigger '{"kind":"cron"}'"#.into()),
    })?;
    if args.fleet.wanted() {
        refuse_in_fleet(&args)?;
    }
    let kb = ctx.load_summaries()?;
    let idx = find(&kb, &args.id)?;
    let rb = &kb[idx];
    let plain = plain::wanted(&kb, rb, args.plain);
    refuse_unrunnable(ctx, &kb, rb, plain, args.section.is_some())?;
    let body = kb.body(idx).map_err(|e| Error::io(ctx.display_path(&kb, &rb.path), e))?;
    let vars = super::context::parse_vars(&args.vars)?;
    let (rb, body, vars) = if plain {
        let (rb, body) = plain_steps(ctx, &kb, rb, &body, args.section.as_deref(), &vars, missing_values(&args))?;
        (std::borrow::Cow::Owned(rb), Arc::new(body), Vec::new())
    } else {
        (std::borrow::Cow::Borrowed(rb), body, vars)
    };
    let rb: &Runbook = &rb;
    let resumed = match &args.resume {
        Some(query) => Some(resumed_run(ctx, &kb, rb, query, args.fleet.wanted())?),
        None => None,
    };
    let opts = ExecOptions {
        vars,
        yes: args.yes,
        dry_run: args.dry_run,
        from: args.from,
        only: args.only,
        resume: resumed.is_some(),
        archive: !args.no_archive && !args.dry_run,
        archives_dir: kb.archives_dir(ctx.archives.as_deref()),
        secret_names: args.secrets,
        diagnose: args.diagnose,
        trigger,
        plain,
        section: args.section,
        host_vars: Default::default(),
        run_dir: None,
        resume_from: resumed.as_ref().map(|run| run.dir.clone()),
        answers: None,
    };
    let gpu: Arc<dyn gpu::GpuSource> = Arc::from(gpu::source_from_env());
    let context =
        RunContext::from_process(ctx.cwd.clone(), gpu).map_err(|message| Error::Invalid { message, hint: None })?;
    let interrupted = interrupt_flag();
    let fleet_resume = match resumed.filter(|run| run.record.fleet.is_some()) {
        Some(run) => Some(FleetResume::new(run.dir, &run.record, &body)?),
        None => None,
    };
    if args.fleet.wanted() || fleet_resume.is_some() {
        let request = RunRequest {
            kb: &kb,
            runbook: rb,
            body: &body,
            options: &opts,
            context: &context,
            interrupted: &interrupted,
        };
        let prepared = fleet::Prepared { kb: &kb, request: &request, json: args.json, resume: fleet_resume };
        return fleet::run(ctx, &args.fleet, prepared);
    }
    let mut reporter: Box<dyn Reporter> = if args.json {
        Box::new(JsonReporter::new(context.clock))
    } else {
        Box::new(TerminalReporter::new(output::use_color(ctx.color), ctx.quiet))
    };
    let request =
        RunRequest { kb: &kb, runbook: rb, body: &body, options: &opts, context: &context, interrupted: &interrupted };
    let outcome = engine::execute(&request, reporter.as_mut())?;
    if args.dry_run {
        return Ok(exit::OK);
    }
    finish(ctx, args.junit.as_ref(), outcome)
}

/// How a plain doc's placeholders without a value are handled: an alert's diagnosis runs
/// without the steps that need them, `--json` has nobody to ask, a terminal is asked.
fn missing_values(args: &Args) -> Missing {
    if args.diagnose {
        Missing::RefuseUnlessSkipped
    } else if args.json {
        Missing::Refuse
    } else {
        Missing::Ask
    }
}

/// After a local run: the JUnit file if asked for, an incomplete archive as an error, the exit
/// code from the verdict.
fn finish(ctx: &Context, junit: Option<&PathBuf>, outcome: engine::RunOutcome) -> Result<i32> {
    if let Some(path) = junit {
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

/// What a fleet run does not do (yet): each says what to do instead.
fn refuse_in_fleet(args: &Args) -> Result<()> {
    let refused = [(args.junit.is_some(), "--junit", "read the fleet run's run.json")];
    match refused.iter().find(|(given, ..)| *given) {
        Some((_, flag, hint)) => Err(Error::Invalid {
            message: format!("{flag} does not work with a fleet run (--on or --inventory)"),
            hint: Some((*hint).into()),
        }),
        None => Ok(()),
    }
}

/// A run found by `--resume [RUN]` (of this runbook, not passed yet).
struct ResumedRun {
    dir: PathBuf,
    record: crate::record::RunRecord,
}

/// The run `--resume` continues: RUN (an id, a unique prefix, `latest`), else the runbook's
/// latest run — its latest fleet run when hosts are named. A fleet run resumes as a fleet.
fn resumed_run(ctx: &Context, kb: &Kb, rb: &Runbook, query: &str, fleet: bool) -> Result<ResumedRun> {
    let archives = crate::archive::store::Archives::new(kb.archives_dir(ctx.archives.as_deref()));
    let invalid = |message: String, hint: Option<String>| Error::Invalid { message, hint };
    let found = if query.is_empty() {
        archives.records_of(&rb.id).find(|(_, record)| !fleet || record.fleet.is_some()).ok_or_else(|| {
            let kind = if fleet { "fleet run" } else { "run" };
            invalid(format!("nothing to resume: no earlier {kind} of {}", rb.id), None)
        })?
    } else {
        let run = archives.find(query).map_err(|e| {
            invalid(format!("cannot resume: {e}"), Some("`runbook archive list` shows the runs".into()))
        })?;
        let record = run.record.map_err(|e| invalid(format!("cannot resume {}: {e}", run.run_id), None))?;
        if record.runbook.id != rb.id {
            return Err(invalid(
                format!("cannot resume {}: it is a run of {}, not of {}", record.run_id, record.runbook.id, rb.id),
                Some(format!("`runbook exec {} --resume {}`", record.runbook.id, record.run_id)),
            ));
        }
        if fleet && record.fleet.is_none() {
            return Err(invalid(
                format!("cannot resume {} on hosts: it ran on this machine", record.run_id),
                Some("leave out --on/--inventory to resume it here".into()),
            ));
        }
        (run.dir, record)
    };
    Ok(ResumedRun { dir: found.0, record: found.1 })
}

/// A runbook with errors (shown first) or without steps does not run; nor does `--section`
/// outside a plain run.
fn refuse_unrunnable(ctx: &Context, kb: &Kb, rb: &Runbook, plain: bool, section: bool) -> Result<()> {
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
    if section && !plain {
        return Err(Error::Invalid {
            message: "--section selects blocks of a plain doc".into(),
            hint: Some(format!("add --plain: `runbook exec {} --plain --section …`", rb.id)),
        });
    }
    if rb.is_document() && !plain {
        return Err(Error::Invalid {
            message: format!("{} is a document: it has no steps to run", rb.id),
            hint: Some(format!(
                "`runbook exec {0} --plain` runs its shell blocks (`runbook show {0} --plain` shows them), `runbook show {0}` prints it",
                rb.id
            )),
        });
    }
    Ok(())
}

/// What a plain run does about a placeholder without a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    /// Ask for it on a terminal, then refuse.
    Ask,
    /// Refuse (exit 2): `--json` reads no answers.
    Refuse,
    /// `--diagnose` (an alert, an agent): refuse only for the steps that will run; the
    /// placeholders of the steps it skips (those that ask) need no value.
    RefuseUnlessSkipped,
}

/// The doc read as plain steps, as a runbook the engine runs like any other: its placeholders
/// become its variables (with their values), its blocks its steps. Exit 2 before anything runs
/// when a placeholder has no value (after asking for it on a terminal).
fn plain_steps(
    ctx: &Context,
    kb: &Kb,
    rb: &Runbook,
    body: &Body,
    section: Option<&str>,
    given: &[(String, String)],
    missing: Missing,
) -> Result<(Runbook, Body)> {
    let overlay = plain::overlay(ctx, kb, rb)?;
    let mut values = plain::values(kb, given);
    let mut read = plain::read(rb, &body.source, section, &values, overlay.as_ref());
    if let Some(section) = section
        && !read.section_found
    {
        return Err(plain::no_section(rb, section));
    }
    // A `--var` may name a placeholder of any section.
    match section {
        Some(_) => plain::check_given(rb, &plain::read(rb, &body.source, None, &values, overlay.as_ref()), given)?,
        None => plain::check_given(rb, &read, given)?,
    }
    if read.steps.is_empty() {
        return Err(Error::Invalid {
            message: format!(
                "{} has no shell blocks to run{}",
                rb.id,
                section.map(|s| format!(" under `{s}`")).unwrap_or_default()
            ),
            hint: Some(format!("`runbook show {} --plain` shows every block and why it does not run", rb.id)),
        });
    }
    if !read.unresolved().is_empty() && missing == Missing::Ask {
        let answers = plain::prompt(ctx, kb, rb, &read.unresolved());
        if !answers.is_empty() {
            values.extend(answers);
            read = plain::read(rb, &body.source, section, &values, overlay.as_ref());
        }
    }
    let mut unresolved = read.unresolved();
    if missing == Missing::RefuseUnlessSkipped {
        let runs = |s: &&crate::model::plain::PlainStep| unattended_refusal(&s.step).is_none();
        let needed: BTreeSet<&str> = read.steps.iter().filter(runs).flat_map(|s| &s.vars).map(String::as_str).collect();
        unresolved.retain(|v| needed.contains(v.name.as_str()));
    }
    if !unresolved.is_empty() {
        return Err(plain::unresolved_error(ctx, kb, rb, &unresolved));
    }
    if !ctx.quiet {
        plain::print_diagnostics(ctx, kb, &read.warnings);
    }
    Ok(read.runbook(rb, body))
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
