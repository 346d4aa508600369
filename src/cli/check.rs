//! `runbook check [PATH…]`: lint runbooks — schema, templates, links, ids. Exit 1 on errors.

use super::Context;
use super::diagnostics::DiagnosticRenderer;
use super::output::{self, GREEN, RED, YELLOW, paint};
use crate::cli::error::{Error, Result, exit};
use crate::model::{Diagnostic, Kb, KbSource};
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
}

pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let targets = targets(ctx, &args.paths)?;
    let mut runbooks = 0;
    // Each diagnostic with the number of its target, whose renderer shows it.
    let mut selected: Vec<(usize, &Diagnostic)> = Vec::new();
    for (number, target) in targets.iter().enumerate() {
        runbooks += target.kb.runbooks.iter().filter(|rb| target.covers(&rb.path)).count();
        if target.prefixes.is_none() {
            selected.extend(target.kb.diagnostics.iter().map(|d| (number, d)));
        }
        for rb in target.kb.runbooks.iter().filter(|rb| target.covers(&rb.path)) {
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
