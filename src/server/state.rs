//! What the server shares between requests: the current site (swapped whole when the KB
//! changes), rendered pages, the search engine, metrics, and the reload signal.

use super::metrics::Metrics;
use super::search::SiteSearch;
use crate::archive::store::Archives;
use crate::model::{Kb, KbSource};
use crate::render::{Mode, RenderError, Site};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
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
    pages: HashMap<String, bytes::Bytes>,
    bytes: usize,
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
        self.cache.lock().ok()?.pages.get(key).cloned()
    }

    /// Keeps a page rendered from `site`, unless the site changed meanwhile.
    pub(crate) fn store(&self, site: &Arc<Site>, key: String, page: bytes::Bytes) {
        if !Arc::ptr_eq(site, &self.site()) {
            return;
        }
        if let Ok(mut cache) = self.cache.lock() {
            if cache.bytes + page.len() > CACHE_BYTES {
                *cache = PageCache::default();
            }
            cache.bytes += page.len();
            cache.pages.insert(key, page);
        }
    }

    /// Reloads the site from disk, refreshes search, and tells open pages to reload. On error
    /// (a KB template that no longer compiles) the old site stays.
    pub(crate) fn reload(&self) -> Result<u64, RenderError> {
        let site = Arc::new(self.loader.load()?);
        self.search.refresh();
        if let Ok(mut current) = self.site.write() {
            *current = site;
        }
        if let Ok(mut cache) = self.cache.lock() {
            *cache = PageCache::default();
        }
        self.metrics.reloads.fetch_add(1, Ordering::Relaxed);
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let _ = self.reload.send(generation);
        Ok(generation)
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<u64> {
        self.reload.subscribe()
    }
}
