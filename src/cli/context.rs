//! What every subcommand gets: the options that apply everywhere and a way to load the KB.

use super::{Cli, ColorMode};
use crate::cli::error::{Error, Result};
use crate::model::{Kb, KbSource, Lookup, Runbook};
use std::path::PathBuf;

pub struct Context {
    pub kb_dir: Option<PathBuf>,
    pub archives: Option<PathBuf>,
    pub color: ColorMode,
    pub quiet: bool,
    pub verbose: bool,
    pub cwd: PathBuf,
}

impl Context {
    pub fn new(cli: &Cli) -> Result<Context> {
        let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
        Ok(Context {
            kb_dir: cli.kb.clone(),
            archives: cli.archives.clone(),
            color: cli.color,
            quiet: cli.quiet,
            verbose: cli.verbose,
            cwd,
        })
    }

    pub fn kb_source(&self) -> Result<KbSource> {
        Ok(KbSource::locate(self.kb_dir.as_deref(), &self.cwd)?)
    }

    pub fn load_kb(&self) -> Result<Kb> {
        Ok(self.report_load(Kb::load(self.kb_source()?)))
    }

    /// The KB without steps in memory, for commands that need metadata and diagnostics only.
    pub fn load_summaries(&self) -> Result<Kb> {
        Ok(self.report_load(Kb::load_summaries(self.kb_source()?)))
    }

    /// With `-v`, says which KB was loaded and what it cost.
    pub fn report_load(&self, kb: Kb) -> Kb {
        if self.verbose {
            let place = match kb.source.root() {
                Some(root) => root.display().to_string(),
                None => "the built-in knowledge base".to_string(),
            };
            eprintln!(
                "loaded {} runbooks from {place} in {} ms ({} parsed, {} from the parse cache)",
                kb.runbooks.len(),
                kb.stats.elapsed.as_millis(),
                kb.stats.parsed,
                kb.stats.cached,
            );
        }
        kb
    }

    /// A path as the user should see it: relative to the working directory when possible.
    pub fn display_path(&self, kb: &Kb, path: &str) -> String {
        match kb.file_path(path) {
            Some(file) => match file.strip_prefix(&self.cwd) {
                Ok(relative) => relative.display().to_string(),
                Err(_) => file.display().to_string(),
            },
            None => path.to_string(),
        }
    }
}

/// Resolves `query` to one runbook, or the error the user should see.
pub fn find<'a>(kb: &'a Kb, query: &str) -> Result<&'a Runbook> {
    match kb.lookup(query) {
        Lookup::Found(rb) => Ok(rb),
        Lookup::Ambiguous(list) => {
            const SHOWN: usize = 8;
            let mut candidates: Vec<String> = list.iter().take(SHOWN).map(|rb| format!("`{}`", rb.id)).collect();
            if list.len() > SHOWN {
                candidates.push(format!("and {} more (see `runbook list`)", list.len() - SHOWN));
            }
            Err(Error::AmbiguousRunbook { query: query.to_string(), candidates })
        }
        Lookup::NotFound { suggestions } => Err(Error::UnknownRunbook { query: query.to_string(), suggestions }),
    }
}
