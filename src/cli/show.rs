//! `runbook show ID`: a runbook in the terminal — metadata, summary, every step in plain words.

use super::Context;
use super::context::find;
use super::diagnostics::DiagnosticRenderer;
use super::output::{self, BOLD, CYAN, DIM, HEADING, RED, YELLOW, paint};
use crate::error::{Error, Result, exit};
use crate::model::runbook::{Body, Runbook};
use crate::model::step::{Action, Step};
use crate::model::{Diagnostic, Kb};
use serde::Serialize;
use std::collections::BTreeMap;
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
    let rb = find(&kb, &args.id)?;
    let index = kb.index_of_path(&rb.path).unwrap_or_default();
    let body = kb.body(index).map_err(|e| Error::io(ctx.display_path(&kb, &rb.path), e))?;
    let mut out = output::stdout(ctx.color);
    if args.json {
        let view = RunbookView::new(&kb, rb, &body);
        serde_json::to_writer_pretty(&mut out, &view)?;
        writeln!(out).map_err(|e| Error::io("stdout", e))?;
    } else {
        print_runbook(&mut out, ctx, &kb, rb, &body).map_err(|e| Error::io("stdout", e))?;
    }
    out.flush().map_err(|e| Error::io("stdout", e))?;
    Ok(exit::OK)
}

/// The JSON form of a runbook (`show --json`, and later the site API).
#[derive(Serialize)]
pub struct RunbookView<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub path: &'a str,
    pub kind: &'static str,
    pub category: &'a str,
    pub tags: &'a [String],
    pub aliases: &'a [String],
    pub summary: &'a str,
    pub severity: &'static str,
    pub owner: Option<&'a str>,
    pub sha256: &'a str,
    pub vars: &'a BTreeMap<String, serde_json::Value>,
    pub secrets: &'a [String],
    pub sections: Vec<SectionView<'a>>,
    pub steps: Vec<StepView<'a>>,
    pub links: Vec<LinkView<'a>>,
    pub backlinks: Vec<BacklinkView<'a>>,
    pub diagnostics: &'a [Diagnostic],
}

#[derive(Serialize)]
pub struct SectionView<'a> {
    pub level: u8,
    pub heading: &'a str,
    pub anchor: &'a str,
    pub line: usize,
}

#[derive(Serialize)]
pub struct StepView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub kind: &'static str,
    pub line: usize,
    pub section: Option<&'a str>,
    pub severity: &'static str,
    pub timeout: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<String>,
    pub continue_on_error: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manual: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    pub checks: Vec<String>,
}

#[derive(Serialize)]
pub struct LinkView<'a> {
    pub dest: &'a str,
    pub line: usize,
    pub target: Option<&'a str>,
    pub anchor: Option<&'a str>,
}

#[derive(Serialize)]
pub struct BacklinkView<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub path: &'a str,
    pub line: usize,
}

impl<'a> RunbookView<'a> {
    pub fn new(kb: &'a Kb, rb: &'a Runbook, body: &'a Body) -> Self {
        let index = kb.index_of_path(&rb.path);
        RunbookView {
            id: &rb.id,
            title: &rb.title,
            path: &rb.path,
            kind: if rb.is_document() { "document" } else { "runbook" },
            category: &rb.category,
            tags: &rb.tags,
            aliases: &rb.aliases,
            summary: &rb.summary,
            severity: rb.severity.as_str(),
            owner: rb.owner.as_deref(),
            sha256: &rb.sha256,
            vars: &rb.vars,
            secrets: &rb.secrets,
            sections: rb
                .headings
                .iter()
                .filter(|h| h.level <= 3)
                .map(|h| SectionView { level: h.level, heading: &h.text, anchor: &h.anchor, line: h.line })
                .collect(),
            steps: body.steps.iter().map(StepView::new).collect(),
            links: rb
                .links
                .iter()
                .map(|l| LinkView {
                    dest: &l.dest,
                    line: l.line,
                    target: l.target.as_ref().map(|t| kb.runbooks[t.runbook].id.as_str()),
                    anchor: l.target.as_ref().and_then(|t| t.anchor.as_deref()),
                })
                .collect(),
            backlinks: index
                .map(|i| {
                    kb.backlinks(i)
                        .into_iter()
                        .map(|(from, line)| BacklinkView { id: &from.id, title: &from.title, path: &from.path, line })
                        .collect()
                })
                .unwrap_or_default(),
            diagnostics: &rb.diagnostics,
        }
    }
}

impl<'a> StepView<'a> {
    pub fn new(step: &'a Step) -> Self {
        let (run, shell, manual, probe) = match &step.action {
            Action::Run(run) => {
                (Some(run.script.source.as_str()), (!run.shell.is_empty()).then(|| run.shell.join(" ")), None, None)
            }
            Action::Manual(text) => (None, None, Some(text.source.as_str()), None),
            Action::Probe(probe) => (None, None, None, Some(probe.subject())),
        };
        StepView {
            id: &step.id,
            name: &step.name.source,
            kind: step.kind(),
            line: step.line,
            section: step.section.as_deref(),
            severity: step.severity.as_str(),
            timeout: step.timeout.to_string(),
            retry: step.retry.map(|r| format!("{} attempts, {} apart", r.attempts, r.delay)),
            continue_on_error: step.continue_on_error,
            when: step.when.as_ref().map(|w| w.source.as_str()),
            confirm: step.confirm.as_ref().map(|c| c.source.as_str()),
            run,
            shell,
            manual,
            probe,
            checks: step.expectations(),
        }
    }
}

fn print_runbook<W: Write>(out: &mut W, ctx: &Context, kb: &Kb, rb: &Runbook, body: &Body) -> std::io::Result<()> {
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
    if let Some(index) = kb.index_of_path(&rb.path) {
        let backlinks = kb.backlinks(index);
        if !backlinks.is_empty() {
            writeln!(out)?;
            let names: Vec<String> = backlinks.iter().map(|(from, _)| from.id.clone()).collect();
            writeln!(out, "{} {}", paint(DIM, "Referenced by:"), names.join(", "))?;
        }
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
