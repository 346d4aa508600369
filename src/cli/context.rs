//! What every subcommand gets: the options that apply everywhere, and ways to load the KB and
//! its search index.

use super::output::{self, YELLOW, paint};
use super::{Cli, ColorMode};
use crate::archive::store::Archives;
use crate::cli::error::{Error, Result};
use crate::index::{SearchIndex, SyncReport};
use crate::model::config::Config;
use crate::model::{Kb, KbSource, Lookup, RunbookIdx};
use crate::util::text::plural;
use std::io::Write;
use std::path::PathBuf;

/// Keys of re-indexed sources listed under `-v`.
const LISTED_KEYS: usize = 20;

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

    /// The KB's search index, brought up to date (`runbook search`, `runbook index`), saying
    /// under `-v` what that took. When file sizes and times show nothing changed, the KB is not
    /// even loaded.
    pub fn fresh_index(&self) -> Result<(SearchIndex, SyncReport, KbSource)> {
        let source = self.kb_source()?;
        let (config, _) = Config::load(&source);
        let archives = Archives::new(source.archives_dir(&config, self.archives.as_deref()));
        let (index, report) = SearchIndex::open_fresh(&source, &config, &archives)?;
        if self.verbose {
            report_sync(&report);
        }
        self.warn_about_sync(&report);
        Ok((index, report, source))
    }

    /// The KB's index, with `work` done on it once it is known to be fresh (see
    /// [`SearchIndex::open_fresh_then`]).
    pub fn with_fresh_index<T>(&self, work: impl Fn(&SearchIndex) -> T) -> Result<(T, KbSource)> {
        let source = self.kb_source()?;
        let (config, _) = Config::load(&source);
        let archives = Archives::new(source.archives_dir(&config, self.archives.as_deref()));
        let (_, report, done) = SearchIndex::open_fresh_then(&source, &config, &archives, work)?;
        if self.verbose {
            report_sync(&report);
        }
        self.warn_about_sync(&report);
        Ok((done, source))
    }

    fn warn_about_sync(&self, report: &SyncReport) {
        let mut stderr = output::stderr(self.color);
        if report.stale {
            let _ = writeln!(
                stderr,
                "{} another runbook process is updating the index: results may be slightly out of date",
                paint(YELLOW, "note:")
            );
        }
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

/// What a sync did, for `-v`.
fn report_sync(report: &SyncReport) {
    eprintln!(
        "index: {}{} re-indexed, {} removed in {} ms",
        if report.rebuilt { "built anew; " } else { "" },
        plural(report.indexed.len(), "document source"),
        report.removed.len(),
        report.elapsed.as_millis()
    );
    for key in report.indexed.iter().take(LISTED_KEYS) {
        eprintln!("  indexed {key}");
    }
    if report.indexed.len() > LISTED_KEYS {
        eprintln!("  … and {} more", report.indexed.len() - LISTED_KEYS);
    }
}

/// Resolves `query` to one runbook, or the error the user should see.
pub(super) fn find(kb: &Kb, query: &str) -> Result<RunbookIdx> {
    match kb.lookup(query) {
        Lookup::Found(idx) => Ok(idx),
        Lookup::Ambiguous(list) => {
            const SHOWN: usize = 8;
            let mut candidates: Vec<String> = list.iter().take(SHOWN).map(|&idx| format!("`{}`", kb[idx].id)).collect();
            if list.len() > SHOWN {
                candidates.push(format!("and {} more (see `runbook list`)", list.len() - SHOWN));
            }
            Err(Error::AmbiguousRunbook { query: query.to_string(), candidates })
        }
        Lookup::NotFound { suggestions } => Err(Error::UnknownRunbook { query: query.to_string(), suggestions }),
    }
}

/// `--var name=value` pairs.
pub(super) fn parse_vars(pairs: &[String]) -> Result<Vec<(String, String)>> {
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
