//! Which file changes under a KB root can change what the KB holds: runbooks, its config, its
//! templates and assets, runs and cycle reports. Watchers (`serve`, `mcp`) ask this to decide
//! whether to reload.

use super::kb::STATE_DIR;
use std::path::{Component, Path};

/// Whether a changed path can change the KB as served. Hidden files (the parse cache in
/// `.runbook/`, editors' swap files, the archive's temporary files) and step logs do not.
pub(crate) fn is_relevant(root: &Path, path: &Path) -> bool {
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
        || super::discovery::is_markdown_path(&name)
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
            assert!(is_relevant(root, Path::new(path)), "{path}");
        }
        for path in [
            "/kb/.runbook/parse-cache.json",
            "/kb/archives/r/steps/01-x.stdout",
            "/kb/runbooks/.a.md.swp",
            "/kb/archives/r/.run.json.1.tmp",
        ] {
            assert!(!is_relevant(root, Path::new(path)), "{path}");
        }
    }
}
