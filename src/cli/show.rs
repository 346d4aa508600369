//! `runbook show ID`: a runbook in the terminal — metadata, summary, every step in plain words.

use super::Context;
use super::context::find;
use super::diagnostics::DiagnosticRenderer;
use super::output::{self, BOLD, CYAN, DIM, HEADING, RED, YELLOW, paint};
use crate::cli::error::{Error, Result, exit};
use crate::model::Kb;
use crate::model::runbook::{Body, RunbookIdx};
use crate::model::step::{Action, Step};
use crate::model::views::RunbookView;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runbook id, alias or path
    id: String,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let kb = ctx.load_kb()?;
    let idx = find(&kb, &args.id)?;
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
        let vars: Vec<String> = rb.vars.iter().map(|(k, v)| format!("{k}={}", plain_value(v))).collect();
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
        writeln!(out, "{}", paint(DIM, "A document: no steps to run."))?;
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

fn plain_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
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
