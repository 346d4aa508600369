//! `runbook import FILE`: a plain doc rewritten as a runbook, its shell blocks as `yaml step`
//! blocks (DESIGN §14); `--overlay` writes the start of a sidecar overlay instead.

use super::Context;
use super::context::find;
use super::plain;
use crate::cli::error::{Error, Result, exit};
use crate::model::plain::import::{self, ImportError};
use crate::model::plain::overlay::sidecar_path;
use crate::model::runbook::RunbookIdx;
use crate::model::{Kb, KbSource};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The doc: a path to its .md file, or its id
    file: String,
    /// Write the result here (default: print it)
    #[arg(long, short, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Overwrite --out (or the sidecar) if it exists
    #[arg(long)]
    force: bool,
    /// Write the doc's sidecar overlay (NAME.runbook.yaml: every block with its hash) instead
    #[arg(long, conflicts_with = "out")]
    overlay: bool,
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    let (kb, idx) = locate(ctx, &args.file)?;
    let rb = &kb[idx];
    let body = kb.body(idx).map_err(|e| Error::io(ctx.display_path(&kb, &rb.path), e))?;
    let overlay = plain::overlay(ctx, &kb, rb)?;
    if args.overlay {
        let read = plain::read(rb, &body.source, None, &plain::values(&kb, &[]), overlay.as_ref());
        let sidecar = sidecar_path(&rb.path);
        let target = kb.file_path(&sidecar).ok_or_else(|| Error::Invalid {
            message: format!("{} is built in: its overlay has no folder to go to", rb.id),
            hint: None,
        })?;
        write_new(&target, &import::overlay_skeleton(&rb.path, &read), args.force)?;
        if !ctx.quiet {
            eprintln!("wrote {} ({})", shown(ctx, &target), import::summary(&read));
        }
        return Ok(exit::OK);
    }
    let imported = import::import(&rb.path, &body.source, rb.severity, overlay.as_ref()).map_err(|err| {
        let hint = match err {
            ImportError::HasSteps => Some(format!("`runbook show {}` shows its steps", rb.id)),
            ImportError::NothingToRun => {
                Some(format!("`runbook show {} --plain` shows why each block does not run", rb.id))
            }
            _ => None,
        };
        Error::Invalid { message: format!("cannot import {}: {err}", ctx.display_path(&kb, &rb.path)), hint }
    })?;
    match &args.out {
        Some(out) => {
            let out = ctx.cwd.join(out);
            write_new(&out, &imported.text, args.force)?;
            if !ctx.quiet {
                let vars = if imported.vars.is_empty() {
                    String::new()
                } else {
                    format!("; variables: {}", imported.vars.join(", "))
                };
                eprintln!(
                    "wrote {}: {} steps ({} ask first, {} manual){vars}; next: `runbook check {0}`",
                    shown(ctx, &out),
                    imported.steps,
                    imported.asks,
                    imported.manual
                );
            }
        }
        None => print!("{}", imported.text),
    }
    Ok(exit::OK)
}

/// The KB holding `file` (a path, or an id in the current KB) and the doc's index in it.
fn locate(ctx: &Context, file: &str) -> Result<(Kb, RunbookIdx)> {
    let path = ctx.cwd.join(file);
    if path.is_file() {
        let path = std::fs::canonicalize(&path).map_err(|e| Error::io(&path, e))?;
        let parent = path.parent().unwrap_or(Path::new("/"));
        let source = match ctx.kb_source()? {
            KbSource::Dir { root, .. } if path.starts_with(&root) => KbSource::for_dir(root),
            _ => match KbSource::locate(None, parent)? {
                KbSource::Builtin => KbSource::for_dir(parent.to_path_buf()),
                found => found,
            },
        };
        let kb = ctx.report_load(Kb::load_summaries(source));
        let index = kb
            .iter()
            .find(|(_, rb)| {
                rb.file.as_deref().and_then(|f| std::fs::canonicalize(f).ok()).as_deref() == Some(path.as_path())
            })
            .map(|(idx, _)| idx)
            .ok_or_else(|| Error::Invalid {
                message: format!("{file} is not a Markdown doc of a knowledge base"),
                hint: None,
            })?;
        return Ok((kb, index));
    }
    let kb = ctx.load_summaries()?;
    let idx = find(&kb, file)?;
    Ok((kb, idx))
}

fn write_new(path: &Path, text: &str, force: bool) -> Result<()> {
    if path.exists() && !force {
        return Err(Error::Invalid {
            message: format!("{} exists", path.display()),
            hint: Some("pass --force to overwrite it".into()),
        });
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    crate::util::fs::write_atomic(path, text.as_bytes()).map_err(|e| Error::io(path, e))
}

fn shown(ctx: &Context, path: &Path) -> String {
    path.strip_prefix(&ctx.cwd).unwrap_or(path).display().to_string()
}
