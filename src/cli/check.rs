//! `runbook check [PATH…]`: lint runbooks — schema, templates, links, ids — and their scenario files. Exit 1 on errors.

use super::Context;
use super::diagnostics::DiagnosticRenderer;
use super::output::{self, GREEN, RED, YELLOW, paint};
use super::plain;
use crate::cli::error::{Error, Result, exit};
use crate::model::runbook::RunbookIdx;
use crate::model::{Diagnostic, Kb, KbSource, Rule};
use crate::util::text::plural;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files or folders to check (default: the whole knowledge base)
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Also lint documents as plain docs: `bash -n` of every block that would run, placeholders
    /// without a value, sessions not understood (warnings)
    #[arg(long)]
    plain: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    runbooks: usize,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<&'a Diagnostic>,
}

/// What to check in one KB: everything, or the files under some KB-relative prefixes.
struct Target {
    kb: Kb,
    prefixes: Option<Vec<String>>,
}

impl Target {
    fn covers(&self, path: &str) -> bool {
        match &self.prefixes {
            None => true,
            Some(prefixes) => prefixes.iter().any(|p| p.is_empty() || path == p || path.starts_with(&format!("{p}/"))),
        }
    }

    /// Whether the runbook at `path` is checked: named itself, or through its scenario file.
    fn covers_runbook(&self, path: &str) -> bool {
        self.covers(path) || self.covers(&scenario_path(path))
    }
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    let targets = targets(ctx, &args.paths)?;
    let extra: Vec<Vec<Diagnostic>> = targets
        .iter()
        .map(|t| {
            let mut extra = plain_diagnostics(t, args.plain);
            extra.extend(scenario_diagnostics(t));
            extra
        })
        .collect();
    let mut runbooks = 0;
    // Each diagnostic with the number of its target, whose renderer shows it.
    let mut selected: Vec<(usize, &Diagnostic)> = Vec::new();
    for (number, (target, extra)) in targets.iter().zip(&extra).enumerate() {
        selected.extend(extra.iter().map(|d| (number, d)));
        runbooks += target.kb.runbooks.iter().filter(|rb| target.covers_runbook(&rb.path)).count();
        if target.prefixes.is_none() {
            selected.extend(target.kb.diagnostics.iter().map(|d| (number, d)));
        }
        for rb in target.kb.runbooks.iter().filter(|rb| target.covers_runbook(&rb.path)) {
            selected.extend(rb.diagnostics.iter().map(|d| (number, d)));
        }
    }
    let errors = selected.iter().filter(|(_, d)| d.is_error()).count();
    let warnings = selected.len() - errors;
    let mut out = output::stdout(ctx.color);
    let io = |e| Error::io("stdout", e);
    if args.json {
        let report = Report { runbooks, errors, warnings, diagnostics: selected.iter().map(|(_, d)| *d).collect() };
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out).map_err(io)?;
    } else {
        // One renderer per KB, so each file's text is read once however many diagnostics it has.
        let mut renderers: Vec<DiagnosticRenderer> =
            targets.iter().map(|t| DiagnosticRenderer::new(&t.kb, |p| ctx.display_path(&t.kb, p))).collect();
        for (number, diag) in &selected {
            writeln!(out, "{}", renderers[*number].render(diag)).map_err(io)?;
        }
        let summary = format!(
            "checked {}: {}, {}",
            plural(runbooks, "runbook"),
            plural(errors, "error"),
            plural(warnings, "warning")
        );
        let style = if errors > 0 {
            RED
        } else if warnings > 0 {
            YELLOW
        } else {
            GREEN
        };
        if !ctx.quiet || errors > 0 {
            writeln!(out, "{}", paint(style, summary)).map_err(io)?;
        }
    }
    out.flush().map_err(io)?;
    Ok(if errors > 0 { exit::FAILED } else { exit::OK })
}

/// Warnings about plain docs: overlays whose blocks changed (always), and with `--plain` the
/// blocks of every document — `bash -n`, placeholders without a value, sessions not understood.
fn plain_diagnostics(target: &Target, all: bool) -> Vec<Diagnostic> {
    use rayon::prelude::*;
    let kb = &target.kb;
    let work: Vec<RunbookIdx> = kb
        .iter()
        .filter(|(_, rb)| target.covers(&rb.path) && !rb.has_errors())
        .filter(|(_, rb)| (all && rb.is_document()) || has_overlay(kb, rb))
        .map(|(idx, _)| idx)
        .collect();
    let mut out: Vec<Diagnostic> = work.par_iter().flat_map_iter(|&i| plain_lint(kb, i, all)).collect();
    out.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    out
}

/// The errors of scenario files (DESIGN §13), as `runbook test` reports them: unknown keys,
/// fixture files that do not exist, expectations naming steps or diagnoses the runbook lacks.
/// A runbook with errors of its own is left out: its steps are not known.
fn scenario_diagnostics(target: &Target) -> Vec<Diagnostic> {
    use rayon::prelude::*;
    let kb = &target.kb;
    let work: Vec<RunbookIdx> = kb
        .iter()
        .filter(|(_, rb)| !rb.has_errors())
        .filter(|(_, rb)| target.covers_runbook(&rb.path))
        .map(|(idx, _)| idx)
        .collect();
    let mut out: Vec<Diagnostic> = work
        .par_iter()
        .flat_map_iter(|&idx| crate::model::scenario::load(kb, idx).map(|l| l.diagnostics).unwrap_or_default())
        .collect();
    out.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    out
}

/// `x.md` → `x.scenarios.yaml`, KB-relative.
fn scenario_path(md: &str) -> String {
    format!("{}.scenarios.yaml", md.strip_suffix(".md").unwrap_or(md))
}

fn has_overlay(kb: &Kb, rb: &crate::model::Runbook) -> bool {
    let sidecar = crate::model::plain::overlay::sidecar_path(&rb.path);
    !kb.config.overlay.is_empty() || kb.file_path(&sidecar).is_some_and(|p| p.is_file())
}

fn plain_lint(kb: &Kb, idx: RunbookIdx, all: bool) -> Vec<Diagnostic> {
    let rb = &kb[idx];
    let Ok(body) = kb.body(idx) else { return Vec::new() };
    let overlay = match crate::model::plain::overlay::for_runbook(kb, rb) {
        Ok(overlay) => overlay,
        Err(diag) => return vec![diag],
    };
    let read = plain::read(rb, &body.source, None, &plain::values(kb, &[]), overlay.as_ref());
    let mut out = read.warnings.clone();
    if !all || !rb.is_document() {
        return out;
    }
    for var in read.unresolved() {
        out.push(
            Diagnostic::warning(
                Rule::Plain,
                &rb.path,
                var.line,
                var.column,
                format!("placeholder `{}` has no value", var.placeholder),
            )
            .with_hint(format!("runs need --var {}=… (or a value in the overlay's `vars:`)", var.name)),
        );
    }
    // Every placeholder filled with its own name: the scripts as bash will read them.
    let names: std::collections::BTreeMap<String, String> =
        read.vars.iter().map(|v| (v.name.clone(), v.name.clone())).collect();
    let filled = plain::read(rb, &body.source, None, &names, overlay.as_ref());
    for step in &filled.steps {
        let crate::model::step::Action::Run(run) = &step.step.action else { continue };
        if !run.shell.is_empty() {
            continue;
        }
        if let Some(error) = crate::exec::syntax::bash_syntax_error(&step.script) {
            out.push(
                Diagnostic::warning(
                    Rule::Plain,
                    &rb.path,
                    step.line,
                    step.column,
                    format!("block `{}` does not parse: {error}", step.id),
                )
                .with_hint(format!("line numbers count in the script `runbook show {} --plain` prints", rb.id)),
            );
        }
    }
    out
}

/// Groups the requested paths by the KB they belong to. A path inside the current KB narrows
/// the check to it; a path elsewhere is checked within its own KB.
fn targets(ctx: &Context, paths: &[PathBuf]) -> Result<Vec<Target>> {
    let base = ctx.kb_source()?;
    if paths.is_empty() {
        return Ok(vec![Target { kb: ctx.report_load(Kb::load_summaries(base)), prefixes: None }]);
    }
    let mut grouped: Vec<(KbSource, Vec<String>)> = Vec::new();
    for path in paths {
        let absolute = ctx.cwd.join(path);
        let absolute = std::fs::canonicalize(&absolute).map_err(|_| Error::NoSuchPath(path.clone()))?;
        let source = match base.root() {
            Some(root) if absolute.starts_with(root) => base.clone(),
            _ => own_source(&absolute)?,
        };
        let root = source.root().map(Path::to_path_buf).unwrap_or_default();
        let prefix = absolute
            .strip_prefix(&root)
            .map(|p| p.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"))
            .unwrap_or_default();
        match grouped.iter_mut().find(|(s, _)| *s == source) {
            Some((_, prefixes)) => prefixes.push(prefix),
            None => grouped.push((source, vec![prefix])),
        }
    }
    Ok(grouped
        .into_iter()
        .map(|(source, prefixes)| Target { kb: ctx.report_load(Kb::load_summaries(source)), prefixes: Some(prefixes) })
        .collect())
}

/// The KB a path outside the current one belongs to: the folder itself, or a file's nearest
/// KB ancestor, or failing that the file's own folder.
fn own_source(path: &Path) -> Result<KbSource> {
    if path.is_dir() {
        return Ok(KbSource::locate(Some(path), Path::new("/"))?);
    }
    let parent = path.parent().unwrap_or(Path::new("/"));
    Ok(match KbSource::locate(None, parent)? {
        KbSource::Builtin => KbSource::for_dir(parent.to_path_buf()),
        found => found,
    })
}
