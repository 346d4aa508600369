//! The tantivy index (`crate::index`) behind the server's search: the same engine, ranking and
//! snippets as `runbook search`, kept up to date by file stamps after every change, with the
//! latest answers kept for repeated questions.

use super::search::{SearchError, SiteSearch};
use crate::archive::store::Archives;
use crate::index::{IndexError, SearchIndex, SearchRequest, SearchResults, SyncReport};
use crate::model::config::Config;
use crate::model::discovery::KbSource;
use crate::model::{Kb, RunbookIdx};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// Answers kept; when full, the cache starts over (searches are cheap to redo, memory is not).
const CACHED_ANSWERS: usize = 512;

pub(crate) struct IndexedSearch {
    index: SearchIndex,
    source: KbSource,
    /// `--archives`, when given.
    archives: Option<PathBuf>,
    cache: Mutex<Answers>,
}

/// Answers since the index last changed. `generation` counts changes, so an answer computed
/// before a change is never kept after it.
#[derive(Default)]
struct Answers {
    generation: u64,
    results: HashMap<SearchRequest, SearchResults>,
}

impl IndexedSearch {
    /// Opens the KB's index (in its state folder, or in memory where that cannot be written)
    /// and brings it up to date.
    pub(crate) fn open(source: KbSource, archives: Option<PathBuf>) -> Result<IndexedSearch, IndexError> {
        let (config, _) = Config::load(&source);
        let archives_dir = Archives::new(source.archives_dir(&config, archives.as_deref()));
        let (index, _) = SearchIndex::open_fresh(&source, &config, &archives_dir)?;
        Ok(IndexedSearch { index, source, archives, cache: Mutex::new(Answers::default()) })
    }

    /// Answers from before a change are never given after it.
    fn forget_answers(&self) {
        if let Ok(mut answers) = self.cache.lock() {
            answers.generation = answers.generation.wrapping_add(1);
            answers.results.clear();
        }
    }

    /// The KB's config and archive folder, read again each time: `runbook.toml` may have
    /// changed too.
    fn config_and_archives(&self) -> (Config, Archives) {
        let (config, _) = Config::load(&self.source);
        let archives = Archives::new(self.source.archives_dir(&config, self.archives.as_deref()));
        (config, archives)
    }

    fn sync(&self) -> Result<(), IndexError> {
        let (config, archives) = self.config_and_archives();
        self.index.refresh(&self.source, &config, &archives)?;
        Ok(())
    }

    /// After indexing some files alone: answers from before are forgotten; when another process
    /// held the writer, or it failed, a whole sync is tried instead.
    fn settle(&self, reindexed: Result<SyncReport, IndexError>, what: &str) {
        match reindexed {
            Ok(report) if !report.stale => self.forget_answers(),
            // Another process holds the writer: a whole sync, once it is free, sees the change.
            Ok(_) => self.refresh(),
            Err(err) => {
                eprintln!("warning: search index not updated for {what}: {err}");
                self.refresh();
            }
        }
    }
}

impl SiteSearch for IndexedSearch {
    fn search(&self, request: &SearchRequest) -> Result<SearchResults, SearchError> {
        let generation = match self.cache.lock() {
            Ok(answers) => match answers.results.get(request) {
                Some(results) => return Ok(results.clone()),
                None => answers.generation,
            },
            Err(_) => u64::MAX,
        };
        let results = self.index.search(request)?;
        if let Ok(mut answers) = self.cache.lock()
            && answers.generation == generation
        {
            if answers.results.len() >= CACHED_ANSWERS {
                answers.results.clear();
            }
            answers.results.insert(request.clone(), results.clone());
        }
        Ok(results)
    }

    fn refresh(&self) {
        // Searches keep answering from the last good index; the next change tries again.
        if let Err(err) = self.sync() {
            eprintln!("warning: search index not updated: {err}");
        }
        self.forget_answers();
    }

    fn refresh_runs(&self, written: &[String]) {
        let (_, archives) = self.config_and_archives();
        self.settle(self.index.reindex_runs(&self.source, &archives, written), "the runs written");
    }

    fn refresh_runbooks(&self, kb: &Kb, changed: &[RunbookIdx]) {
        self.settle(self.index.reindex_runbooks(kb, changed), "the edit");
    }
}
