//! The KB state folder (`.runbook/`): created on first use, ignored by git.

use std::path::Path;

/// Creates the state folder with a `.gitignore` that ignores everything in it, so the search
/// index and caches never show up in the team's repository.
pub(crate) fn ensure_state_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(".gitignore"), "# Created by runbook: caches and the search index.\n*\n")
}
