//! Server-side search: the [`SiteSearch`] trait the server asks, and [`NaiveSearch`], the
//! fallback used only when no search index is available.
//!
//! The real engine (tantivy, `crate::index`) plugs in by implementing [`SiteSearch`] and being
//! passed to [`crate::server::serve`] — see `site_search` in `src/cli/serve.rs`.

use crate::archive::store::ArchivedRun;
use crate::index::{Hit, Kind, SearchRequest, SearchResults};
use crate::render::Site;
use crate::render::markdown::escape_attr;
use crate::render::sections::{Section, sections};
use regex::{Regex, RegexBuilder};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Default and largest number of hits.
pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 100;

/// What `/search` and `/api/search` ask. Implementations must never fail on odd input: a query
/// that cannot be parsed finds nothing, or finds it leniently.
pub trait SiteSearch: Send + Sync {
    fn search(&self, request: &SearchRequest) -> Result<SearchResults, String>;

    /// Called after the knowledge base changed and the site was rebuilt. An engine that syncs
    /// itself before every read (as the tantivy index does) keeps the default: nothing.
    fn refresh(&self, _site: &Site) {}
}

/// One searchable unit: a section of a runbook or cycle report, or one run.
#[derive(Debug)]
struct Doc {
    kind: Kind,
    id: String,
    title: String,
    heading: String,
    anchor: String,
    path: String,
    line: u64,
    /// Lowercase.
    tags: Vec<String>,
    category: String,
    text: String,
}

/// A file's SHA-256 and its sections.
type CachedSections = (String, Arc<Vec<Section>>);

/// The fallback search: scans every section's text for the query's words, case-insensitively.
/// Linear in the size of the KB, so meant only for when no index is available; it answers with
/// the same [`SearchResults`] as the real engine.
#[derive(Default)]
pub struct NaiveSearch {
    docs: RwLock<Arc<Vec<Doc>>>,
    /// Sections of each runbook file by its SHA-256, so a refresh re-reads only changed files.
    sections: RwLock<HashMap<String, CachedSections>>,
}

impl NaiveSearch {
    pub fn new(site: &Site) -> NaiveSearch {
        let search = NaiveSearch::default();
        search.refresh(site);
        search
    }

    fn runbook_sections(&self, site: &Site, index: usize) -> Arc<Vec<Section>> {
        let rb = &site.kb.runbooks[index];
        if let Ok(cache) = self.sections.read()
            && let Some((sha, cached)) = cache.get(&rb.path)
            && *sha == rb.sha256
        {
            return Arc::clone(cached);
        }
        let source = match &rb.file {
            Some(file) => std::fs::read_to_string(file).ok(),
            None => site.kb.body(index).ok().map(|b| b.source.clone()),
        };
        let found = Arc::new(source.map(|s| sections(s.trim_start_matches('\u{feff}'))).unwrap_or_default());
        if let Ok(mut cache) = self.sections.write() {
            cache.insert(rb.path.clone(), (rb.sha256.clone(), Arc::clone(&found)));
        }
        found
    }
}

impl SiteSearch for NaiveSearch {
    fn search(&self, request: &SearchRequest) -> Result<SearchResults, String> {
        let docs = match self.docs.read() {
            Ok(docs) => Arc::clone(&docs),
            Err(_) => return Err("the search data is unavailable".into()),
        };
        let limit = request.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let words: Vec<&str> = request.query.split_whitespace().take(16).collect();
        let mut results = SearchResults { query: request.query.clone(), suggestion: None, hits: Vec::new() };
        if words.is_empty() {
            return Ok(results);
        }
        let patterns: Vec<Regex> = words
            .iter()
            .filter_map(|w| RegexBuilder::new(&regex::escape(w)).case_insensitive(true).build().ok())
            .collect();
        let tag = request.tag.as_ref().map(|t| t.to_lowercase());
        let mut scored: Vec<(f32, usize)> = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            if request.kind.is_some_and(|k| k != doc.kind)
                || tag.as_ref().is_some_and(|t| !doc.tags.contains(t))
                || request.category.as_ref().is_some_and(|c| !doc.category.eq_ignore_ascii_case(c))
            {
                continue;
            }
            let mut score = 0.0;
            let mut all = true;
            for pattern in &patterns {
                let strong = pattern.find_iter(&doc.title).count() + pattern.find_iter(&doc.heading).count();
                let weak = pattern.find_iter(&doc.text).take(20).count();
                if strong + weak == 0 {
                    all = false;
                    break;
                }
                score += 3.0 * strong.min(3) as f32 + (1.0 + weak as f32).ln();
            }
            if all {
                scored.push((score, i));
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for (score, i) in scored.into_iter().take(limit) {
            let doc = &docs[i];
            results.hits.push(Hit {
                kind: doc.kind,
                id: doc.id.clone(),
                title: doc.title.clone(),
                heading: doc.heading.clone(),
                anchor: doc.anchor.clone(),
                path: doc.path.clone(),
                line: doc.line,
                score,
                snippet: snippet(&doc.text, &patterns),
            });
        }
        Ok(results)
    }

    fn refresh(&self, site: &Site) {
        let mut docs = Vec::new();
        for (index, rb) in site.kb.runbooks.iter().enumerate() {
            let tags: Vec<String> = rb.tags.iter().map(|t| t.to_lowercase()).collect();
            for section in self.runbook_sections(site, index).iter() {
                docs.push(Doc {
                    kind: Kind::Runbook,
                    id: rb.id.clone(),
                    title: rb.title.clone(),
                    heading: if section.heading.is_empty() { rb.title.clone() } else { section.heading.clone() },
                    anchor: section.anchor.clone(),
                    path: rb.path.clone(),
                    line: section.line as u64,
                    tags: tags.clone(),
                    category: rb.category.clone(),
                    text: section.text.clone(),
                });
            }
        }
        for run in &site.runs {
            docs.extend(run_doc(run));
        }
        for cycle in &site.cycles {
            let Ok(source) = &cycle.source else { continue };
            for section in sections(source) {
                docs.push(Doc {
                    kind: Kind::Cycle,
                    id: cycle.name.clone(),
                    title: cycle.title.clone(),
                    heading: section.heading.clone(),
                    anchor: section.anchor.clone(),
                    path: format!("archives/cycles/{}.md", cycle.name),
                    line: section.line as u64,
                    tags: Vec::new(),
                    category: String::new(),
                    text: section.text,
                });
            }
        }
        if let Ok(mut current) = self.docs.write() {
            *current = Arc::new(docs);
        }
        let present: std::collections::HashSet<&str> = site.kb.runbooks.iter().map(|rb| rb.path.as_str()).collect();
        if let Ok(mut cache) = self.sections.write() {
            cache.retain(|path, _| present.contains(path.as_str()));
        }
    }
}

/// A run as one document: verdict, findings, steps and their checks.
fn run_doc(run: &ArchivedRun) -> Option<Doc> {
    let record = run.record.as_ref().ok()?;
    let mut text = format!("{} {}", record.verdict.as_str(), record.host.name);
    for finding in &record.findings {
        text.push_str(&format!(" {}: {}", finding.step, finding.message));
    }
    for step in &record.steps {
        text.push_str(&format!(" {} {} {}", step.id, step.name, step.outcome.as_str()));
        for check in &step.checks {
            text.push(' ');
            text.push_str(&check.message);
        }
    }
    Some(Doc {
        kind: Kind::Archive,
        id: run.run_id.clone(),
        title: record.runbook.title.clone(),
        heading: format!("Run {}", run.run_id),
        anchor: String::new(),
        path: format!("archives/{}/run.json", run.run_id),
        line: 1,
        tags: Vec::new(),
        category: String::new(),
        text,
    })
}

/// About 160 characters around the first match, escaped, with every match in `<mark>`.
fn snippet(text: &str, patterns: &[Regex]) -> String {
    const BEFORE: usize = 60;
    const LENGTH: usize = 180;
    let first = patterns.iter().filter_map(|p| p.find(text)).map(|m| m.start()).min().unwrap_or(0);
    let mut start = first.saturating_sub(BEFORE);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + LENGTH).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let window = &text[start..end];
    let mut ranges: Vec<(usize, usize)> =
        patterns.iter().flat_map(|p| p.find_iter(window).map(|m| (m.start(), m.end()))).collect();
    ranges.sort_unstable();
    let mut out = String::with_capacity(window.len() + 32);
    if start > 0 {
        out.push('…');
    }
    let mut at = 0;
    for (s, e) in ranges {
        if s < at {
            continue;
        }
        out.push_str(&escape_attr(&window[at..s]));
        out.push_str("<mark>");
        out.push_str(&escape_attr(&window[s..e]));
        out.push_str("</mark>");
        at = e;
    }
    out.push_str(&escape_attr(&window[at..]));
    if end < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_mark_and_escape() {
        let patterns = vec![RegexBuilder::new("cuda").case_insensitive(true).build().unwrap()];
        let out = snippet("a <b> CUDA error & Cuda", &patterns);
        assert_eq!(out, "a &lt;b&gt; <mark>CUDA</mark> error &amp; <mark>Cuda</mark>");
        let long = format!("{}é cuda", "x".repeat(100));
        assert!(snippet(&long, &patterns).starts_with('…'));
    }
}
