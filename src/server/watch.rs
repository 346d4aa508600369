//! Watching the knowledge base: a change to a runbook, template, asset, `runbook.toml`, run or
//! cycle report rebuilds the site (re-parsing only what changed, through the parse cache),
//! refreshes search and reloads open pages.

use super::state::AppState;
use crate::model::kb::STATE_DIR;
use notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use std::path::{Component, Path};
use std::sync::Arc;
use std::time::Duration;

/// Changes closer together than this are one change.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// Starts watching; the watch lasts as long as the returned debouncer. `None` for the built-in
/// KB, which cannot change.
pub fn spawn(state: Arc<AppState>) -> Result<Option<Debouncer<RecommendedWatcher, RecommendedCache>>, notify::Error> {
    let dirs = state.loader.watched();
    let Some(root) = dirs.first().cloned() else {
        return Ok(None);
    };
    let handler = Arc::clone(&state);
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        let Ok(events) = result else { return };
        // Reading files (the reload itself does) is not a change.
        let changed = events
            .iter()
            .filter(|e| !matches!(e.event.kind, EventKind::Access(_)))
            .any(|e| e.event.paths.iter().any(|path| relevant(&root, path)));
        if changed && let Err(err) = handler.reload() {
            eprintln!("warning: the site was not reloaded: {err}");
        }
    })?;
    for dir in &dirs {
        debouncer.watch(dir, RecursiveMode::Recursive)?;
    }
    Ok(Some(debouncer))
}

/// Whether a changed path can change the site. Hidden files (the parse cache in `.runbook/`,
/// editors' swap files, the archive's temporary files) and step logs do not.
pub fn relevant(root: &Path, path: &Path) -> bool {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let hidden = relative.components().any(|c| match c {
        Component::Normal(name) => name.to_string_lossy().starts_with('.') || name == STATE_DIR,
        _ => false,
    });
    if hidden {
        return false;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    relative.starts_with("templates")
        || relative.starts_with("site")
        || name == "runbook.toml"
        || name == "run.json"
        || crate::model::discovery::is_markdown_path(&name)
        || (path.extension().is_none() && !path.exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_counts_as_a_change() {
        let root = Path::new("/kb");
        for path in [
            "/kb/runbooks/a.md",
            "/kb/templates/base.html",
            "/kb/site/style.css",
            "/kb/runbook.toml",
            "/kb/archives/r/run.json",
        ] {
            assert!(relevant(root, Path::new(path)), "{path}");
        }
        for path in [
            "/kb/.runbook/parse-cache.json",
            "/kb/archives/r/steps/01-x.stdout",
            "/kb/runbooks/.a.md.swp",
            "/kb/archives/r/.run.json.1.tmp",
        ] {
            assert!(!relevant(root, Path::new(path)), "{path}");
        }
    }
}
