//! What the server shares between requests: the current site (swapped for a new one when the
//! KB changes), rendered pages, the search engine, metrics, and the reload signal.

use super::metrics::{Histogram, Metrics};
use super::search::SiteSearch;
use crate::archive::store::{Archives, CYCLES_DIR, MARKDOWN_FILE, RECORD_FILE};
use crate::model::changes::is_relevant;
use crate::model::discovery::is_markdown_path;
use crate::model::{Kb, KbSource, RunbookIdx};
use crate::render::{Mode, RenderError, Site};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio::sync::{broadcast, watch};

/// Rendered pages kept in memory, up to this many bytes in all (then the cache starts over).
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Why CPU-bound work did not finish.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorkError {
    #[error("the server is stopping")]
    Stopping,
    /// The work panicked or was cancelled.
    #[error("stopped: {0}")]
    Stopped(#[from] tokio::task::JoinError),
}

/// How to (re)load the site from disk.
#[derive(Debug, Clone)]
pub(crate) struct Loader {
    pub source: KbSource,
    /// `--archives`, when given.
    pub archives: Option<PathBuf>,
    pub live_reload: bool,
}

impl Loader {
    /// The KB's summaries (steps are read per page, so memory stays small on a large KB), its
    /// runs and cycle reports, as a site.
    pub(crate) fn load(&self) -> Result<Site, RenderError> {
        let kb = Kb::load_summaries(self.source.clone());
        let archives = Archives::new(kb.archives_dir(self.archives.as_deref()));
        Site::new(kb, &archives, Mode::Served { live_reload: self.live_reload })
    }

    /// Folders whose changes matter: the KB root and the archive folder.
    pub(crate) fn watched(&self) -> Vec<PathBuf> {
        let Some(root) = self.source.root() else {
            return Vec::new();
        };
        let mut dirs = vec![root.to_path_buf()];
        if let Some(archives) = &self.archives
            && !archives.starts_with(root)
        {
            dirs.push(archives.clone());
        }
        dirs
    }
}

#[derive(Default)]
struct PageCache {
    pages: HashMap<String, CachedPage>,
    bytes: usize,
}

struct CachedPage {
    html: bytes::Bytes,
    /// The runbook whose page it is; `None` for lists and other pages, which show many.
    runbook: Option<RunbookIdx>,
}

impl PageCache {
    /// Keeps the pages of runbooks not in `changed`: every other page may show a change.
    fn keep_unchanged(&mut self, changed: &BTreeSet<RunbookIdx>) {
        self.pages.retain(|_, page| page.runbook.is_some_and(|idx| !changed.contains(&idx)));
        self.bytes = self.pages.values().map(|page| page.html.len()).sum();
    }
}

pub(crate) struct AppState {
    site: RwLock<Arc<Site>>,
    cache: Mutex<PageCache>,
    pub search: Arc<dyn SiteSearch>,
    pub metrics: Metrics,
    pub loader: Loader,
    generation: AtomicU64,
    reload: broadcast::Sender<u64>,
    /// Becomes `true` when the server stops, so long-lived responses end.
    pub shutdown: watch::Receiver<bool>,
    /// Rendering, searching and building JSON are CPU-bound: at most one per core at a time,
    /// the rest wait their turn. More would only add threads, each with its own memory.
    work_slots: tokio::sync::Semaphore,
    /// The alert hooks, when `serve --hooks` runs them (their counters join `/metrics`).
    pub hooks: std::sync::OnceLock<Arc<super::hooks::Hooks>>,
}

impl AppState {
    pub(crate) fn new(
        site: Site,
        search: Arc<dyn SiteSearch>,
        loader: Loader,
        shutdown: watch::Receiver<bool>,
    ) -> AppState {
        let (reload, _) = broadcast::channel(16);
        AppState {
            site: RwLock::new(Arc::new(site)),
            cache: Mutex::new(PageCache::default()),
            search,
            metrics: Metrics::default(),
            loader,
            generation: AtomicU64::new(0),
            reload,
            shutdown,
            work_slots: tokio::sync::Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)),
            hooks: std::sync::OnceLock::new(),
        }
    }

    /// Runs CPU-bound `work` on a blocking thread once a slot is free.
    pub(crate) async fn work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, WorkError> {
        let _slot = self.work_slots.acquire().await.map_err(|_| WorkError::Stopping)?;
        Ok(tokio::task::spawn_blocking(work).await?)
    }

    /// The site as of now.
    pub(crate) fn site(&self) -> Arc<Site> {
        match self.site.read() {
            Ok(site) => Arc::clone(&site),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub(crate) fn cached(&self, key: &str) -> Option<bytes::Bytes> {
        self.cache.lock().ok()?.pages.get(key).map(|page| page.html.clone())
    }

    /// Keeps a page rendered from `site` (the page of `runbook`, if it is one), unless the
    /// site changed meanwhile. Checked with the cache locked, as sites are swapped: a page of
    /// the site before never lands after the change.
    pub(crate) fn store(&self, site: &Arc<Site>, key: String, html: bytes::Bytes, runbook: Option<RunbookIdx>) {
        if let Ok(mut cache) = self.cache.lock() {
            if !Arc::ptr_eq(site, &self.site()) {
                return;
            }
            if cache.bytes + html.len() > CACHE_BYTES {
                *cache = PageCache::default();
            }
            cache.bytes += html.len();
            cache.pages.insert(key, CachedPage { html, runbook });
        }
    }

    /// Brings the site up to date after `paths` changed. When they are all runbooks edited in
    /// place and runs written, only those are read again ([`Site::with_reread`],
    /// [`Site::with_runs`]) and indexed again, and only the pages that may show them dropped;
    /// otherwise the whole site is loaded again. `None` when none of the paths changes the
    /// site (a file that came and went).
    pub(crate) fn apply_changes(&self, paths: &[PathBuf]) -> Result<Option<u64>, RenderError> {
        let started = Instant::now();
        let site = self.site();
        let archives = Archives::new(site.kb.archives_dir(self.loader.archives.as_deref()));
        let Some(Changes { runbooks, runs }) = changes(&site, archives.dir(), paths) else {
            return self.reload_since(started).map(Some);
        };
        if runbooks.is_empty() && runs.is_empty() {
            return Ok(None);
        }
        let (mut next, mut affected) = (site, Some(BTreeSet::new()));
        if !runbooks.is_empty() {
            match next.with_reread(&runbooks) {
                Ok((reread, pages)) => (next, affected) = (Arc::new(reread), pages),
                Err(_) => return self.reload_since(started).map(Some),
            }
            self.search.refresh_runbooks(&next.kb, &runbooks);
        }
        if !runs.is_empty() {
            // Lists, run pages and the pages of the runs' runbooks show them: every page may.
            (next, affected) = (Arc::new(next.with_runs(&archives, &runs)), None);
            self.search.refresh_runs(&runs);
        }
        Ok(Some(self.install(next, affected.as_ref(), &self.metrics.partial_reload, started)))
    }

    /// Reloads the site from disk, refreshes search, and tells open pages to reload. On error
    /// (a KB template that no longer compiles) the old site stays.
    pub(crate) fn reload(&self) -> Result<u64, RenderError> {
        self.reload_since(Instant::now())
    }

    /// [`Self::reload`] of a change seen at `started`.
    fn reload_since(&self, started: Instant) -> Result<u64, RenderError> {
        let site = Arc::new(self.loader.load()?);
        self.search.refresh();
        Ok(self.install(site, None, &self.metrics.full_reload, started))
    }

    /// Makes `site` the current one, dropping the pages that may have changed (all of them,
    /// or all but the pages of runbooks outside `changed`), counts the time since the change
    /// was seen at `started` in `timing`, and then tells open pages to reload (so that
    /// whoever reloads finds the update counted).
    fn install(
        &self,
        site: Arc<Site>,
        changed: Option<&BTreeSet<RunbookIdx>>,
        timing: &Histogram,
        started: Instant,
    ) -> u64 {
        if let Ok(mut cache) = self.cache.lock() {
            if let Ok(mut current) = self.site.write() {
                *current = site;
            }
            match changed {
                Some(changed) => cache.keep_unchanged(changed),
                None => *cache = PageCache::default(),
            }
        }
        self.metrics.reloads.fetch_add(1, Ordering::Relaxed);
        timing.observe(started.elapsed());
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let _ = self.reload.send(generation);
        generation
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<u64> {
        self.reload.subscribe()
    }
}

/// Changes a site can follow without loading everything again.
struct Changes {
    /// Runbooks edited in place.
    runbooks: Vec<RunbookIdx>,
    /// Runs (folder names) whose record or Markdown was written.
    runs: Vec<String>,
}

/// The runbooks of `site` edited in place and the runs written in `archives` among `paths`
/// (changed files under the watched folders); `None` when some path is anything else: a new,
/// deleted or renamed runbook, a folder, a template, an asset, `runbook.toml`, a run folder
/// gone, a cycle report. A Markdown file that is not there and never was a runbook (an
/// editor's file that came and went) changes nothing.
fn changes(site: &Site, archives: &Path, paths: &[PathBuf]) -> Option<Changes> {
    let root = site.kb.source.root()?;
    let (mut runbooks, mut runs) = (BTreeSet::new(), BTreeSet::new());
    for path in paths {
        if let Ok(relative) = path.strip_prefix(archives) {
            match archive_change(relative, path) {
                ArchiveChange::Run(run) => {
                    runs.insert(run);
                }
                ArchiveChange::Nothing => {}
                ArchiveChange::Other => return None,
            }
            continue;
        }
        if !is_relevant(root, path) {
            continue;
        }
        let known = path.strip_prefix(root).ok().and_then(Path::to_str).and_then(|rel| site.kb.by_path(rel));
        match known {
            Some(idx) if path.is_file() => {
                runbooks.insert(idx);
            }
            None if !path.exists() && path.to_str().is_some_and(is_markdown_path) => {}
            _ => return None,
        }
    }
    Some(Changes { runbooks: runbooks.into_iter().collect(), runs: runs.into_iter().collect() })
}

/// What a change at `path` (`relative` to the archive folder) is to the site.
#[derive(Debug, PartialEq, Eq)]
enum ArchiveChange {
    /// A run's folder made, or its record or Markdown written.
    Run(String),
    /// Step logs, the writer's temporary files: nothing a page shows.
    Nothing,
    /// A run folder gone, a cycle report, anything else.
    Other,
}

/// A run folder is watched only once it exists, so files written into it at once may come
/// with no event of their own: the folder's is taken for the run's.
fn archive_change(relative: &Path, path: &Path) -> ArchiveChange {
    let parts: Vec<Option<&str>> = relative.components().map(|c| c.as_os_str().to_str()).collect();
    let Some(Some(run)) = parts.first().copied() else { return ArchiveChange::Other };
    if run == CYCLES_DIR {
        return ArchiveChange::Other;
    }
    if run.starts_with('.') {
        return ArchiveChange::Nothing;
    }
    match parts.as_slice() {
        [_] if path.is_dir() => ArchiveChange::Run(run.to_string()),
        [_] => ArchiveChange::Other,
        [_, Some(RECORD_FILE | MARKDOWN_FILE)] if path.is_file() => ArchiveChange::Run(run.to_string()),
        [_, Some(RECORD_FILE | MARKDOWN_FILE)] => ArchiveChange::Other,
        _ => ArchiveChange::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_change_in_the_archive_is() {
        let archive = tempfile::tempdir().expect("temporary folder");
        let run_dir = archive.path().join("20260101T000000Z-disk");
        std::fs::create_dir_all(run_dir.join("steps")).expect("run folder");
        std::fs::write(run_dir.join(RECORD_FILE), "{}").expect("record");
        let change = |relative: &str| archive_change(Path::new(relative), &archive.path().join(relative));
        let run = ArchiveChange::Run("20260101T000000Z-disk".into());
        assert_eq!(change("20260101T000000Z-disk/run.json"), run);
        assert_eq!(change("20260101T000000Z-disk"), run, "a folder made");
        assert_eq!(change("20260101T000000Z-disk/steps/01-a.stdout"), ArchiveChange::Nothing);
        assert_eq!(change("20260101T000000Z-disk/.run.json.1.tmp"), ArchiveChange::Nothing);
        assert_eq!(change(".tmp-x/run.json"), ArchiveChange::Nothing);
        assert_eq!(change("20260101T000000Z-disk/run.md"), ArchiveChange::Other, "written, then gone");
        assert_eq!(change("20250101T000000Z-gone"), ArchiveChange::Other, "a run folder deleted");
        assert_eq!(change("cycles/2026-w01.md"), ArchiveChange::Other);
    }
}
