//! `runbook new ID`: a new runbook from the scaffold template, valid as written.

use super::Context;
use crate::assets;
use crate::cli::error::{Error, Result, exit};
use crate::model::slug::is_valid_id;
use crate::model::{Kb, KbSource, Lookup};
use std::path::PathBuf;

/// The scaffold; a KB's own `templates/new-runbook.md` replaces it.
const SCAFFOLD: &str = "new-runbook.md";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Id of the new runbook (also its file name)
    id: String,
    /// Folder under runbooks/ (its category)
    #[arg(long, default_value = "operations", value_name = "CATEGORY")]
    category: String,
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    if !is_valid_id(&args.id) {
        return Err(Error::BadId(args.id));
    }
    if !is_valid_id(&args.category) {
        return Err(Error::BadId(args.category));
    }
    let source = ctx.kb_source()?;
    // The built-in KB is read-only: a new runbook starts a KB in the working directory.
    let (root, runbooks_dir) = match &source {
        KbSource::Dir { root, runbooks_dir } => (Some(root.clone()), runbooks_dir.clone()),
        KbSource::Builtin => (None, ctx.cwd.join("runbooks")),
    };
    if matches!(source, KbSource::Dir { .. }) {
        let kb = Kb::load(source.clone());
        if let Lookup::Found(existing) = kb.lookup(&args.id) {
            return Err(Error::AlreadyExists { id: args.id, path: ctx.display_path(&kb, &kb[existing].path) });
        }
    }
    let dir = runbooks_dir.join(&args.category);
    let file: PathBuf = dir.join(format!("{}.md", args.id));
    if file.exists() {
        return Err(Error::AlreadyExists { id: args.id, path: file.display().to_string() });
    }
    let template = assets::template(root.as_deref(), SCAFFOLD).unwrap_or_default();
    let title = title_from_id(&args.id);
    let text = minijinja::Environment::new()
        .render_str(&template, minijinja::context! { id => &args.id, title => &title, category => &args.category })
        .map_err(|e| Error::io(SCAFFOLD, std::io::Error::other(e.to_string())))?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    std::fs::write(&file, text).map_err(|e| Error::io(&file, e))?;
    let shown = file.strip_prefix(&ctx.cwd).unwrap_or(&file).display().to_string();
    if !ctx.quiet {
        println!("created {shown}");
        println!("next: edit it, then `runbook check {shown}` and `runbook exec {} --dry-run`", args.id);
    }
    Ok(exit::OK)
}

/// `gpu-memory-leak` → `Gpu memory leak`.
fn title_from_id(id: &str) -> String {
    let words = id.replace(['-', '_', '.'], " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
