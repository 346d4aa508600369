//! The knowledge base for agents: search, a runbook in full, and every runbook as a resource.

use super::args::{DEFAULT_HITS, MAX_HITS, SearchArgs, ShowArgs};
use super::error::ToolError;
use super::library::Library;
use crate::index::SearchRequest;
use crate::model::views::RunbookView;
use crate::model::{Kb, Lookup, RunbookIdx};
use serde_json::{Value, json};

/// The URI scheme of runbook resources: `runbook://cuda-304`.
pub(crate) const SCHEME: &str = "runbook://";
/// Resources per page of `resources/list`.
pub(super) const RESOURCES_PER_PAGE: usize = 500;

/// `search_runbooks`: the hits of `runbook search --json`.
pub(super) fn search(library: &dyn Library, args: SearchArgs) -> Result<Value, ToolError> {
    if args.query.trim().is_empty() {
        return Err(ToolError::Arguments(
            "`query` is empty: give words to look for, such as `cuda 304` or `disk full`".into(),
        ));
    }
    let limit = args.limit.unwrap_or(DEFAULT_HITS);
    if !(1..=MAX_HITS).contains(&limit) {
        return Err(ToolError::Arguments(format!("`limit` must be 1 to {MAX_HITS}, not {limit}")));
    }
    let request = SearchRequest {
        query: args.query,
        tag: args.tag.filter(|t| !t.trim().is_empty()),
        kind: args.kind.map(Into::into),
        category: None,
        limit: Some(limit),
        prefix: false,
    };
    let results = library.search(&request).map_err(ToolError::Failed)?;
    serde_json::to_value(&results).map_err(|e| ToolError::Failed(e.to_string()))
}

/// Resolves an id, alias or path to one runbook, or says what the caller may have meant.
pub(super) fn find(kb: &Kb, query: &str) -> Result<RunbookIdx, ToolError> {
    match kb.lookup(query) {
        Lookup::Found(idx) => Ok(idx),
        Lookup::Ambiguous(list) => Err(ToolError::AmbiguousRunbook {
            query: query.to_string(),
            candidates: list.iter().take(8).map(|&idx| format!("`{}`", kb[idx].id)).collect(),
        }),
        Lookup::NotFound { suggestions } => Err(ToolError::UnknownRunbook { query: query.to_string(), suggestions }),
    }
}

/// `show_runbook`: the JSON of `runbook show --json`, and the file's Markdown.
pub(super) fn show(kb: &Kb, args: ShowArgs) -> Result<Value, ToolError> {
    let idx = find(kb, &args.id)?;
    let rb = &kb[idx];
    let body = kb.body(idx).map_err(|e| ToolError::Failed(format!("cannot read {}: {e}", rb.path)))?;
    let view = RunbookView::new(kb, idx, &body);
    let runbook = serde_json::to_value(&view).map_err(|e| ToolError::Failed(e.to_string()))?;
    Ok(json!({"runbook": runbook, "markdown": body.source, "resource": uri(&rb.id)}))
}

pub(super) fn uri(id: &str) -> String {
    format!("{SCHEME}{id}")
}

/// One runbook as a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub uri: String,
    pub id: String,
    pub title: String,
    pub summary: String,
}

/// One page of resources from `cursor` (an offset as text; none for the first page), and the
/// cursor of the next page.
pub(super) fn resources(kb: &Kb, cursor: Option<&str>) -> Result<(Vec<Entry>, Option<String>), ToolError> {
    let start = match cursor {
        None => 0,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= kb.runbooks.len())
            .ok_or_else(|| ToolError::Arguments(format!("bad cursor `{text}`: pass the `nextCursor` of a list")))?,
    };
    let page = kb.runbooks.iter().skip(start).take(RESOURCES_PER_PAGE).map(|rb| Entry {
        uri: uri(&rb.id),
        id: rb.id.clone(),
        title: rb.title.clone(),
        summary: rb.summary.clone(),
    });
    let entries: Vec<Entry> = page.collect();
    let end = start + entries.len();
    Ok((entries, (end < kb.runbooks.len()).then(|| end.to_string())))
}

/// The Markdown of the runbook a `runbook://ID` URI names.
pub(super) fn read(kb: &Kb, uri: &str) -> Result<String, ToolError> {
    let Some(id) = uri.strip_prefix(SCHEME) else {
        return Err(ToolError::Arguments(format!(
            "`{uri}` is not a runbook resource: runbook URIs look like `{SCHEME}ID` (see resources/list)"
        )));
    };
    let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
    let idx = find(kb, id.trim_end_matches('/'))?;
    let rb = &kb[idx];
    let body = kb.body(idx).map_err(|e| ToolError::Failed(format!("cannot read {}: {e}", rb.path)))?;
    Ok(body.source.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KbSource;

    fn kb(files: &[(&str, &str)]) -> (tempfile::TempDir, Kb) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let file = dir.path().join("runbooks").join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        let kb = Kb::load(KbSource::for_dir(dir.path().to_path_buf()));
        (dir, kb)
    }

    #[test]
    fn an_unknown_runbook_suggests_the_closest() {
        let (_dir, kb) = kb(&[("cuda-304.md", "# CUDA 304\n"), ("disk.md", "# Disk\n")]);
        let err = show(&kb, ShowArgs { id: "cuda-34".into() }).unwrap_err();
        assert!(err.to_string().contains("did you mean `cuda-304`?"), "{err}");
    }

    #[test]
    fn show_gives_the_view_and_the_markdown() {
        let (_dir, kb) = kb(&[("disk.md", "---\nsummary: Disks.\n---\n# Disk\n\nText.\n")]);
        let value = show(&kb, ShowArgs { id: "disk".into() }).unwrap();
        assert_eq!(value["runbook"]["id"], "disk");
        assert_eq!(value["runbook"]["summary"], "Disks.");
        assert!(value["markdown"].as_str().unwrap().contains("# Disk\n\nText."));
        assert_eq!(value["resource"], "runbook://disk");
    }

    #[test]
    fn resources_come_in_pages() {
        let files: Vec<(String, String)> =
            (0..RESOURCES_PER_PAGE + 3).map(|i| (format!("r{i:04}.md"), format!("# R {i}\n"))).collect();
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        let (_dir, kb) = kb(&refs);
        let (first, next) = resources(&kb, None).unwrap();
        assert_eq!(first.len(), RESOURCES_PER_PAGE);
        let (second, last) = resources(&kb, next.as_deref()).unwrap();
        assert_eq!(second.len(), 3);
        assert_eq!(last, None);
        assert!(resources(&kb, Some("x")).is_err());
        assert!(resources(&kb, Some("99999")).is_err());
    }

    #[test]
    fn resources_are_read_by_uri() {
        let (_dir, kb) = kb(&[("ops/disk.md", "# Disk\n")]);
        assert_eq!(read(&kb, "runbook://disk").unwrap(), "# Disk\n");
        let err = read(&kb, "file:///etc/passwd").unwrap_err();
        assert!(err.to_string().contains("runbook URIs look like `runbook://ID`"), "{err}");
        assert!(matches!(read(&kb, "runbook://nope"), Err(ToolError::UnknownRunbook { .. })));
    }
}
