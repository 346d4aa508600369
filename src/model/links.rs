//! Cross-references the way docs sites write them: a folder's page (`docs/` → `docs/_index.md`),
//! a page without its extension, and Hugo's `{{< ref >}}` / `{{< relref >}}` paths.

use super::diagnostic::{Diagnostic, Rule};
use super::kb::{Kb, Resolved};
use super::runbook::{INDEX_STEMS, Runbook, RunbookIdx, is_index_stem};

/// File names that are the page of their folder, in the order a folder's page is looked for.
const FOLDER_PAGES: [&str; 4] = ["_index.md", "index.md", "README.md", "readme.md"];

/// How a link found its page.
pub(super) enum Found {
    Exact(RunbookIdx),
    /// Only when letter case is ignored (as case-insensitive file systems and sites do).
    IgnoringCase(RunbookIdx),
}

impl Kb {
    /// The page a relative link that is no exact file path leads to: a page without its `.md` or a
    /// folder's page (relative to the page's own URL first in a Hugo site, where `setup.md` is
    /// served at `setup/`), else the file whose path differs only in letter case.
    pub(super) fn page_for_link(&self, rb: &Runbook, decoded: &str, joined: Option<&str>) -> Option<Found> {
        let last = decoded.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
        let pretty = decoded.ends_with('/') || !last.contains('.');
        if pretty {
            let stem = rb.stem_path.rsplit('/').next().unwrap_or_default();
            if self.ctx.hugo_site && !is_index_stem(stem) {
                let page_url = if rb.dir().is_empty() { stem.to_string() } else { format!("{}/{stem}", rb.dir()) };
                if let Some(target) = super::kb::join_relative(&page_url, decoded).and_then(|p| self.page_at(&p)) {
                    return Some(Found::Exact(target));
                }
            }
            if let Some(target) = joined.and_then(|p| self.page_at(p)) {
                return Some(Found::Exact(target));
            }
        }
        let joined = joined?;
        self.by_file_name(&joined.to_lowercase()).map(Found::IgnoringCase)
    }

    /// A link whose path matches a file only ignoring case: it leads there (on the site too), and
    /// `check` warns, since it is broken on Linux and on forges.
    pub(super) fn matched_ignoring_case(
        &self,
        target: RunbookIdx,
        rb: &Runbook,
        anchor: Option<String>,
        written: &str,
        line: usize,
        column: usize,
    ) -> Resolved {
        let resolved = self.check_anchor(target, rb, anchor, line, column);
        if resolved.has_diagnostic() {
            return resolved;
        }
        let path = &self[target].path;
        let message = format!("link `{written}` matches {path} only when letter case is ignored");
        let hint = "it works on case-insensitive file systems and sites, not on Linux or forges: write the name as the file has it";
        resolved.with_diagnostic(Diagnostic::warning(Rule::Link, &rb.path, line, column, message).with_hint(hint))
    }

    /// The runbook at a KB-relative `path` written the way sites link to pages: the file itself,
    /// the path with `.md` added, or the page of the folder it names.
    pub(super) fn page_at(&self, path: &str) -> Option<RunbookIdx> {
        let path = path.trim_end_matches('/');
        if let Some(idx) = self.by_path(path) {
            return Some(idx);
        }
        if !path.is_empty()
            && let Some(idx) = self.by_path(&format!("{path}.md"))
        {
            return Some(idx);
        }
        FOLDER_PAGES.iter().find_map(|page| {
            let candidate = if path.is_empty() { page.to_string() } else { format!("{path}/{page}") };
            self.by_path(&candidate)
        })
    }

    /// Resolves a `ref` shortcode's destination as Hugo does: relative to the page's folder,
    /// then from each folder above it (a site's `content/` root), then any page of that name.
    pub(super) fn resolve_ref(&self, rb: &Runbook, dest: &str, line: usize, column: usize) -> Resolved {
        let (path, anchor) = match dest.split_once('#') {
            Some((path, anchor)) => (path, Some(super::kb::percent_decode(anchor))),
            None => (dest, None),
        };
        let path = super::kb::percent_decode(path);
        let target = if path.is_empty() { self.by_path(&rb.path) } else { self.ref_target(rb, &path) };
        match target {
            Some(target) => self.check_anchor(target, rb, anchor, line, column),
            None => {
                let message = format!("`ref` to missing page `{path}`");
                let hint = "Hugo resolves it from this page's folder, then from the content folder; check the path";
                Resolved::nowhere(Some(Diagnostic::error(Rule::Link, &rb.path, line, column, message).with_hint(hint)))
            }
        }
    }

    fn ref_target(&self, rb: &Runbook, path: &str) -> Option<RunbookIdx> {
        let relative = path.trim_start_matches("./");
        if !path.starts_with('/')
            && let Some(idx) = super::kb::join_relative(rb.dir(), relative).and_then(|p| self.page_at(&p))
        {
            return Some(idx);
        }
        let from_root = path.trim_start_matches('/');
        let folders: Vec<&str> = rb.dir().split('/').filter(|p| !p.is_empty()).collect();
        for depth in (0..=folders.len()).rev() {
            let root = folders[..depth].join("/");
            let candidate = if root.is_empty() { from_root.to_string() } else { format!("{root}/{from_root}") };
            if let Some(idx) = self.page_at(&candidate) {
                return Some(idx);
            }
        }
        self.page_named(from_root)
    }

    /// The one page whose path ends with `name` (without extension, case-insensitively).
    fn page_named(&self, name: &str) -> Option<RunbookIdx> {
        let wanted = logical_path(name);
        if wanted.is_empty() {
            return None;
        }
        let mut found = self.iter().filter(|(_, rb)| {
            let logical = logical_path(&rb.path);
            logical == wanted || logical.ends_with(&format!("/{wanted}"))
        });
        let first = found.next().map(|(idx, _)| idx);
        match found.next() {
            None => first,
            Some(_) => None,
        }
    }
}

/// A page path as Hugo compares them: lowercase, without `.md`, a folder's index as the folder.
fn logical_path(path: &str) -> String {
    let lower = path.trim_matches('/').to_lowercase();
    let bare = lower.strip_suffix(".md").or_else(|| lower.strip_suffix(".markdown")).unwrap_or(&lower);
    let folder = INDEX_STEMS.iter().find_map(|stem| {
        let folder = bare.strip_suffix(stem)?;
        (folder.is_empty() || folder.ends_with('/')).then(|| folder.trim_end_matches('/'))
    });
    folder.unwrap_or(bare).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_paths() {
        assert_eq!(logical_path("content/docs/_index.md"), "content/docs");
        assert_eq!(logical_path("/Docs/Setup.md"), "docs/setup");
        assert_eq!(logical_path("docs/readme.md"), "docs");
        assert_eq!(logical_path("docs/my-index.md"), "docs/my-index");
    }
}
