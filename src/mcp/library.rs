//! What the tools read: the knowledge base as of now, its search index, its archive folder.
//!
//! [`Library`] is the seam between the tools and whoever keeps those fresh: `runbook serve`
//! already does (its site and search follow the files), and `runbook mcp` uses
//! [`LocalLibrary`], which loads the KB once and reloads only when a watcher sees a change — a
//! search then costs a query, not a walk of ten thousand files.

use crate::archive::store::Archives;
use crate::exec::redact::Redactor;
use crate::index::{IndexError, SearchIndex, SearchRequest, SearchResults};
use crate::model::changes::is_relevant;
use crate::model::config::Config;
use crate::model::{Kb, KbSource};
use notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// A knowledge base held by someone: a plain [`Kb`], or the server's site that owns one.
pub(crate) type KbRef = Arc<dyn AsRef<Kb> + Send + Sync>;

impl AsRef<Kb> for Kb {
    fn as_ref(&self) -> &Kb {
        self
    }
}

/// The KB and where its runs are, as of one moment.
#[derive(Clone)]
pub(crate) struct Snapshot {
    pub kb: KbRef,
    pub archives: PathBuf,
}

impl Snapshot {
    pub(crate) fn kb(&self) -> &Kb {
        (*self.kb).as_ref()
    }

    /// Masks the values of every secret the KB names (`secrets` in `runbook.toml` and in any
    /// runbook), as this process's environment has them.
    pub(crate) fn redactor(&self) -> Redactor {
        let kb = self.kb();
        let names: BTreeSet<&str> =
            kb.config.secrets.iter().chain(kb.runbooks.iter().flat_map(|rb| &rb.secrets)).map(String::as_str).collect();
        Redactor::new(names.into_iter().filter_map(|name| std::env::var(name).ok()))
    }
}

/// The knowledge base and its search, kept fresh by whoever implements this.
pub(crate) trait Library: Send + Sync {
    fn snapshot(&self) -> Snapshot;
    fn search(&self, request: &SearchRequest) -> Result<SearchResults, String>;
    /// Called after a diagnosis wrote a run, for a library that watches files and might not
    /// see a folder that did not exist before.
    fn ran(&self) {}
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LibraryError {
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// Changes closer together than this are one change.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// The library of `runbook mcp`: loaded once, reloaded when a watched file changes (or, where
/// nothing can be watched, whenever the index finds itself stale).
pub(crate) struct LocalLibrary {
    source: KbSource,
    archives_override: Option<PathBuf>,
    index: SearchIndex,
    current: RwLock<Snapshot>,
    /// Set by the watcher; cleared by the reload it asks for.
    changed: Arc<AtomicBool>,
    /// Held while checking for and making a reload, so concurrent calls see it done.
    reloading: Mutex<()>,
    watcher: Option<Debouncer<RecommendedWatcher, RecommendedCache>>,
    warn: Box<dyn Fn(&str) + Send + Sync>,
}

impl LocalLibrary {
    /// Loads the KB, brings its index up to date and starts watching. `warn` hears what goes
    /// wrong later (a reload that failed), since a tool call cannot report it.
    pub(crate) fn open(
        source: KbSource,
        archives_override: Option<PathBuf>,
        warn: Box<dyn Fn(&str) + Send + Sync>,
    ) -> Result<LocalLibrary, LibraryError> {
        let changed = Arc::new(AtomicBool::new(false));
        // Watching starts before loading, so a change made while the KB loads is not lost.
        let watcher = match watch(&source, archives_override.as_deref(), Arc::clone(&changed)) {
            Ok(watcher) => watcher,
            Err(err) => {
                warn(&format!("cannot watch the knowledge base ({err}); checking for changes on every call"));
                None
            }
        };
        let snapshot = load(&source, archives_override.as_deref());
        let index = SearchIndex::open(&source.index_dir())?;
        index.refresh(&source, &snapshot.kb().config, &Archives::new(&snapshot.archives))?;
        Ok(LocalLibrary {
            source,
            archives_override,
            index,
            current: RwLock::new(snapshot),
            changed,
            reloading: Mutex::new(()),
            watcher,
            warn,
        })
    }

    /// Reloads the KB and syncs the index if something changed since the last call.
    fn refresh(&self) {
        let _reloading = self.reloading.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let stale = self.changed.swap(false, Ordering::AcqRel)
            || (self.watcher.is_none()
                && self.index.needs_sync(&self.source, &Archives::new(&self.snapshot_now().archives)));
        if !stale {
            return;
        }
        let snapshot = load(&self.source, self.archives_override.as_deref());
        if let Err(err) = self.index.sync(snapshot.kb(), &Archives::new(&snapshot.archives)) {
            (self.warn)(&format!("search index not updated: {err}"));
            self.changed.store(true, Ordering::Release);
        }
        if let Ok(mut current) = self.current.write() {
            *current = snapshot;
        }
    }

    fn snapshot_now(&self) -> Snapshot {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl Library for LocalLibrary {
    fn snapshot(&self) -> Snapshot {
        self.refresh();
        self.snapshot_now()
    }

    fn search(&self, request: &SearchRequest) -> Result<SearchResults, String> {
        self.refresh();
        self.index.search(request).map_err(|e| e.to_string())
    }

    fn ran(&self) {
        // The archive folder may not have existed (so not be watched) before this run made it.
        self.changed.store(true, Ordering::Release);
    }
}

fn load(source: &KbSource, archives_override: Option<&Path>) -> Snapshot {
    let kb = Kb::load_summaries(source.clone());
    let archives = kb.archives_dir(archives_override);
    Snapshot { kb: Arc::new(kb), archives }
}

/// Watches the KB root and the archive folder (when it exists outside the root); `None` when
/// there is nothing to watch (the built-in KB, with no runs yet).
fn watch(
    source: &KbSource,
    archives_override: Option<&Path>,
    changed: Arc<AtomicBool>,
) -> Result<Option<Debouncer<RecommendedWatcher, RecommendedCache>>, notify::Error> {
    let (config, _) = Config::load(source);
    let archives = source.archives_dir(&config, archives_override);
    let mut roots: Vec<PathBuf> = source.root().map(Path::to_path_buf).into_iter().collect();
    if archives.is_dir() && !roots.iter().any(|root| archives.starts_with(root)) {
        roots.push(archives);
    }
    if roots.is_empty() {
        return Ok(None);
    }
    let watched = roots.clone();
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        let Ok(events) = result else { return };
        let relevant = events.iter().filter(|e| !matches!(e.event.kind, EventKind::Access(_))).any(|e| {
            e.event
                .paths
                .iter()
                .any(|path| watched.iter().filter(|root| path.starts_with(root)).any(|root| is_relevant(root, path)))
        });
        if relevant {
            changed.store(true, Ordering::Release);
        }
    })?;
    for root in &roots {
        debouncer.watch(root, RecursiveMode::Recursive)?;
    }
    Ok(Some(debouncer))
}
