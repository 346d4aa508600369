//! `runbook show ID`: a runbook in the terminal — metadata, summary, every step in plain words.

use super::Context;
use super::context::find;
use super::diagnostics::DiagnosticRenderer;
use super::output::{self, BOLD, CYAN, DIM, GREEN, HEADING, RED, YELLOW, paint};
use super::plain;
use crate::cli::error::{Error, Result, exit};
use crate::model::Kb;
use crate::model::plain::classify::Kind;
use crate::model::plain::{BlockPlan, Fate, PlainStep, Plan};
use crate::model::runbook::{Body, Runbook, RunbookIdx};
use crate::model::step::{Action, Step};
use crate::model::views::PlainView;
use crate::model::views::RunbookView;
use crate::util::text::plural;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runbook id, alias or path (with --plain: several; --json then prints a list)
    #[arg(required = true, num_args = 1..)]
    ids: Vec<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Show the doc's shell blocks as the plain steps `exec --plain` runs: each with its class and why
    #[arg(long)]
    plain: bool,
    /// With --plain: only the blocks under this heading
    #[arg(long, value_name = "HEADING", requires = "plain")]
    section: Option<String>,
    /// With --plain: a value for a placeholder, to see the commands with it (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE", requires = "plain")]
    vars: Vec<String>,
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    let kb = ctx.load_kb()?;
    if args.plain || args.ids.len() > 1 {
        return show_plain(ctx, &kb, &args);
    }
    let idx = find(&kb, &args.ids[0])?;
    let rb = &kb[idx];
    let body = kb.body(idx).map_err(|e| Error::io(ctx.display_path(&kb, &rb.path), e))?;
    let mut out = output::stdout(ctx.color);
    if args.json {
        let view = RunbookView::new(&kb, idx, &body);
        serde_json::to_writer_pretty(&mut out, &view)?;
        writeln!(out).map_err(|e| Error::io("stdout", e))?;
    } else {
        print_runbook(&mut out, ctx, &kb, idx, &body).map_err(|e| Error::io("stdout", e))?;
    }
    out.flush().map_err(|e| Error::io("stdout", e))?;
    Ok(exit::OK)
}

/// `show --plain`: every block with what becomes of it; several docs at once.
fn show_plain(ctx: &Context, kb: &Kb, args: &Args) -> Result<i32> {
    if !args.plain {
        return Err(Error::Invalid {
            message: "several runbooks at once need --plain".into(),
            hint: Some("show one runbook, or add --plain".into()),
        });
    }
    let given = super::context::parse_vars(&args.vars)?;
    let values = plain::values(kb, &given);
    let mut out = output::stdout(ctx.color);
    let io = |e| Error::io("stdout", e);
    let mut reads = Vec::with_capacity(args.ids.len());
    for id in &args.ids {
        let idx = find(kb, id)?;
        let rb = &kb[idx];
        let body = kb.body(idx).map_err(|e| Error::io(ctx.display_path(kb, &rb.path), e))?;
        let overlay = plain::overlay(ctx, kb, rb)?;
        let read = plain::read(rb, &body.source, args.section.as_deref(), &values, overlay.as_ref());
        if let Some(section) = &args.section
            && !read.section_found
        {
            return Err(plain::no_section(rb, section));
        }
        reads.push((rb, read));
    }
    if args.json {
        let views: Vec<PlainView> = reads
            .iter()
            .map(|(rb, read)| PlainView::new(rb, read, plain::command(kb, rb), args.section.as_deref()))
            .collect();
        if views.len() == 1 {
            serde_json::to_writer_pretty(&mut out, &views[0])?;
        } else {
            serde_json::to_writer(&mut out, &views)?;
        }
        writeln!(out).map_err(io)?;
    } else {
        for (i, (rb, read)) in reads.iter().enumerate() {
            if i > 0 {
                writeln!(out).map_err(io)?;
            }
            print_plain(&mut out, ctx, kb, rb, read).map_err(io)?;
        }
    }
    out.flush().map_err(io)?;
    Ok(exit::OK)
}

fn print_plain<W: Write>(out: &mut W, ctx: &Context, kb: &Kb, rb: &Runbook, read: &Plan) -> std::io::Result<()> {
    let path = ctx.display_path(kb, &rb.path);
    writeln!(out, "{}", paint(BOLD, &rb.title))?;
    writeln!(out, "{} {path}", paint(DIM, format!("id {} · plain steps ·", rb.id)))?;
    print_placeholders(out, &path, read)?;
    writeln!(out)?;
    if read.steps.is_empty() {
        writeln!(out, "{}", paint(DIM, "No shell blocks to run."))?;
    } else {
        writeln!(
            out,
            "{}  {}",
            paint(HEADING, format!("Plain steps ({})", read.steps.len())),
            paint(DIM, format!("run: {}", plain::command(kb, rb)))
        )?;
    }
    for (number, step) in read.steps.iter().enumerate() {
        print_plain_step(out, &path, number + 1, step)?;
    }
    print_not_run(out, &path, read)?;
    if read.other_blocks > 0 {
        let blocks = plural(read.other_blocks, "code block");
        writeln!(out, "  {}", paint(DIM, format!("and {blocks} in other languages (YAML, PromQL, …)")))?;
    }
    if !read.warnings.is_empty() {
        writeln!(out)?;
        let mut renderer = DiagnosticRenderer::new(kb, |p| ctx.display_path(kb, p));
        for diag in &read.warnings {
            writeln!(out, "{}", renderer.render(diag))?;
        }
    }
    Ok(())
}

/// The placeholders a plain doc needs, with their values or the `--var` that gives one.
fn print_placeholders<W: Write>(out: &mut W, path: &str, read: &Plan) -> std::io::Result<()> {
    if read.vars.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "{}", paint(HEADING, "Placeholders"))?;
    for var in &read.vars {
        let value = match &var.value {
            Some(value) => format!("= {value}"),
            None => paint(YELLOW, format!("needs --var {}=…", var.name)),
        };
        writeln!(
            out,
            "  {} {}  {}  {}",
            paint(BOLD, &var.name),
            value,
            var.placeholder,
            paint(DIM, format!("{path}:{}:{}", var.line, var.column))
        )?;
    }
    Ok(())
}

/// Plain step `number`: what it is, why, where it comes from, its script and expected output.
fn print_plain_step<W: Write>(out: &mut W, path: &str, number: usize, step: &PlainStep) -> std::io::Result<()> {
    let class = match step.class {
        Kind::ReadOnly => paint(GREEN, "runs (read-only)"),
        Kind::Asks => paint(RED, "asks first"),
        Kind::Interactive => paint(YELLOW, "manual (a person does it)"),
    };
    writeln!(out, "{:>3}. {} {}  {class}", number, paint(BOLD, &step.id), step.name)?;
    writeln!(out, "     {} {}", paint(DIM, "why:"), step.why)?;
    let mut place = format!("{path}:{}", step.line);
    if let Some(session) = &step.session {
        place.push_str(&format!(" · session: {session}"));
    }
    writeln!(out, "     {} {place} · block {} · sha256 {}", paint(DIM, "from:"), step.block, &step.sha256[..12])?;
    let prefix = if step.class == Kind::Interactive { "☞" } else { "$" };
    for line in step.script.trim_end().lines() {
        writeln!(out, "     {} {line}", paint(CYAN, prefix))?;
    }
    if let Some(expected) = &step.expected_output {
        writeln!(out, "     {}", paint(DIM, "expected output (from the doc):"))?;
        for line in expected.lines().take(12) {
            writeln!(out, "     {} {}", paint(DIM, "│"), paint(DIM, line))?;
        }
        if expected.lines().count() > 12 {
            writeln!(
                out,
                "     {} {}",
                paint(DIM, "│"),
                paint(DIM, format!("… {} more lines", expected.lines().count() - 12))
            )?;
        }
    }
    Ok(())
}

/// The shell blocks that do not become steps, and why.
fn print_not_run<W: Write>(out: &mut W, path: &str, read: &Plan) -> std::io::Result<()> {
    let not_run: Vec<&BlockPlan> =
        read.blocks.iter().filter(|b| !matches!(b.fate, Fate::Step | Fate::Joined)).collect();
    if !not_run.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", paint(HEADING, "Blocks that do not run"))?;
        for block in not_run {
            let why = match block.fate {
                Fate::Output => "output only: a console block without prompt lines",
                Fate::NotShell => "no prompt lines: not read as commands",
                Fate::Empty => "comments only",
                Fate::Variables => "only sets variables, which later blocks use",
                Fate::Skipped => "skipped by the overlay",
                Fate::OutsideSection => "outside --section",
                Fate::Step | Fate::Joined => "",
            };
            let heading = block.heading.as_deref().map(|h| format!(" under “{h}”")).unwrap_or_default();
            let info = if block.info.is_empty() { "untyped".to_string() } else { block.info.clone() };
            writeln!(
                out,
                "  {} {info} block {}{heading}: {why}",
                paint(DIM, format!("{path}:{}", block.line)),
                block.ordinal
            )?;
        }
    }
    Ok(())
}

fn print_runbook<W: Write>(out: &mut W, ctx: &Context, kb: &Kb, idx: RunbookIdx, body: &Body) -> std::io::Result<()> {
    let rb = &kb[idx];
    writeln!(out, "{}", paint(BOLD, &rb.title))?;
    let mut meta = vec![format!("id {}", rb.id), rb.category.clone(), rb.severity.as_str().to_string()];
    if let Some(owner) = &rb.owner {
        meta.push(format!("owner {owner}"));
    }
    writeln!(out, "{}", paint(DIM, meta.join(" · ")))?;
    if !rb.aliases.is_empty() {
        writeln!(out, "{} {}", paint(DIM, "aliases:"), rb.aliases.join(", "))?;
    }
    if !rb.tags.is_empty() {
        writeln!(out, "{} {}", paint(DIM, "tags:"), rb.tags.join(", "))?;
    }
    writeln!(out, "{} {}", paint(DIM, "file:"), ctx.display_path(kb, &rb.path))?;
    if !rb.vars.is_empty() {
        let vars: Vec<String> =
            rb.vars.iter().map(|(k, v)| format!("{k}={}", crate::util::text::value_text(v))).collect();
        writeln!(out, "{} {}", paint(DIM, "vars:"), vars.join("  "))?;
    }
    if !rb.summary.is_empty() {
        writeln!(out)?;
        for line in wrap(&rb.summary, 88) {
            writeln!(out, "{line}")?;
        }
    }
    if !rb.diagnostics.is_empty() {
        writeln!(out)?;
        let mut renderer = DiagnosticRenderer::new(kb, |p| ctx.display_path(kb, p));
        for diag in &rb.diagnostics {
            writeln!(out, "{}", renderer.render(diag))?;
        }
    }
    writeln!(out)?;
    if rb.is_document() {
        let read = plain::read(rb, &body.source, None, &plain::values(kb, &[]), None);
        match read.steps.len() {
            0 => writeln!(out, "{}", paint(DIM, "A document: no steps to run."))?,
            n => writeln!(
                out,
                "{}",
                paint(
                    DIM,
                    format!(
                        "A document; its shell blocks run as {n} plain step{}: `{}` (`runbook show {} --plain` lists them).",
                        if n == 1 { "" } else { "s" },
                        plain::command(kb, rb),
                        rb.id
                    )
                )
            )?,
        }
    } else {
        writeln!(
            out,
            "{}  {}",
            paint(HEADING, format!("Steps ({})", body.steps.len())),
            paint(DIM, format!("run: runbook exec {}", rb.id))
        )?;
        for (number, step) in body.steps.iter().enumerate() {
            print_step(out, number + 1, step)?;
        }
    }
    let backlinks = kb.backlinks(idx);
    if !backlinks.is_empty() {
        writeln!(out)?;
        let names: Vec<&str> = backlinks.iter().map(|link| kb[link.from].id.as_str()).collect();
        writeln!(out, "{} {}", paint(DIM, "Referenced by:"), names.join(", "))?;
    }
    Ok(())
}

fn print_step<W: Write>(out: &mut W, number: usize, step: &Step) -> std::io::Result<()> {
    let badge = match step.severity {
        crate::model::Severity::Critical => String::new(),
        other => format!(" {}", paint(YELLOW, format!("[{}]", other.as_str()))),
    };
    writeln!(out, "{:>3}. {} {}{badge}", number, paint(BOLD, &step.id), step.name.source)?;
    if let Some(when) = &step.when {
        writeln!(out, "     {} {}", paint(DIM, "when"), when.source)?;
    }
    if let Some(confirm) = &step.confirm {
        writeln!(out, "     {} {}", paint(RED, "asks first:"), confirm.source)?;
    }
    match &step.action {
        Action::Run(run) => {
            for line in run.script.source.trim_end().lines() {
                writeln!(out, "     {} {}", paint(CYAN, "$"), line)?;
            }
        }
        Action::Manual(text) => {
            for line in text.source.trim_end().lines() {
                writeln!(out, "     {} {}", paint(CYAN, "☞"), line)?;
            }
        }
        Action::Probe(_) => {}
    }
    for check in step.expectations() {
        writeln!(out, "     {} {check}", paint(DIM, "✓"))?;
    }
    Ok(())
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
