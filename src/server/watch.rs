//! Watching the knowledge base: a change to a runbook, template, asset, `runbook.toml`, run or
//! cycle report brings the site up to date (runbooks edited in place and runs recorded are read
//! again alone, see `AppState::apply_changes`; anything else reloads the whole site, re-parsing
//! only what changed through the parse cache), refreshes search and reloads open pages.

use super::state::AppState;
use crate::model::changes::is_relevant as relevant;
use notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Changes closer together than this are one change.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// Starts watching; the watch lasts as long as the returned debouncer. `None` for the built-in
/// KB, which cannot change.
pub(super) fn spawn(
    state: Arc<AppState>,
) -> Result<Option<Debouncer<RecommendedWatcher, RecommendedCache>>, notify::Error> {
    let dirs = state.loader.watched();
    let Some(root) = dirs.first().cloned() else {
        return Ok(None);
    };
    let archives = state.site().kb.archives_dir(state.loader.archives.as_deref());
    let handler = Arc::clone(&state);
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        let outcome = match result {
            Ok(events) => {
                // Reading files (the reload itself does) is not a change.
                let changes = events.iter().filter(|e| !matches!(e.event.kind, EventKind::Access(_)));
                let mut paths: Vec<PathBuf> = Vec::new();
                let mut rescan = false;
                for change in changes {
                    rescan |= change.event.need_rescan();
                    // In the archive its own rules apply (a new run's folder counts: files written
                    // into it at once may come with no event of their own).
                    let matters = |path: &&PathBuf| relevant(&root, path) || path.starts_with(&archives);
                    paths.extend(change.event.paths.iter().filter(matters).cloned());
                }
                match (rescan, paths.is_empty()) {
                    (true, _) => handler.reload().map(Some),
                    (false, true) => Ok(None),
                    (false, false) => handler.apply_changes(&paths),
                }
            }
            // Events were lost (the kernel's queue overflowed): what changed is unknown.
            Err(_) => handler.reload().map(Some),
        };
        if let Err(err) = outcome {
            eprintln!("warning: the site was not reloaded: {err}");
        }
    })?;
    for dir in &dirs {
        debouncer.watch(dir, RecursiveMode::Recursive)?;
    }
    Ok(Some(debouncer))
}
