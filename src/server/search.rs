//! Server-side search: the [`SiteSearch`] trait the server asks, and [`NaiveSearch`], the
//! fallback used only when the search index cannot be opened (the real engine is
//! [`super::IndexedSearch`]; see `site_search` in `src/cli/serve.rs`).

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

/// A section, lowercased for matching. The original text is read again from the file only for
/// the snippets of the hits, so the KB's text is held in memory once.
#[derive(Debug)]
struct LowSection {
    anchor: String,
    heading: String,
    heading_lower: String,
    line: usize,
    lower: Box<str>,
    /// The original text, kept only where the file cannot be read again (the built-in KB).
    original: Option<Box<str>>,
}

impl LowSection {
    fn new(section: Section, keep_original: bool) -> LowSection {
        LowSection {
            heading_lower: section.heading.to_lowercase(),
            lower: section.text.to_lowercase().into_boxed_str(),
            original: keep_original.then(|| section.text.clone().into_boxed_str()),
            anchor: section.anchor,
            heading: section.heading,
            line: section.line,
        }
    }
}

#[derive(Debug)]
struct RunbookEntry {
    id: String,
    title: String,
    title_lower: String,
    path: String,
    file: Option<std::path::PathBuf>,
    /// Lowercase.
    tags: Vec<String>,
    category: String,
    sections: Arc<Vec<LowSection>>,
}

/// A run or a section of a cycle report: small, so kept whole.
#[derive(Debug)]
struct OtherDoc {
    kind: Kind,
    id: String,
    title: String,
    heading: String,
    anchor: String,
    path: String,
    line: u64,
    text: String,
    lower: String,
    title_lower: String,
}

#[derive(Debug, Default)]
struct Corpus {
    runbooks: Vec<RunbookEntry>,
    others: Vec<OtherDoc>,
}

/// A file's SHA-256 and its sections.
type CachedSections = (String, Arc<Vec<LowSection>>);

/// Where a hit came from, before its snippet is made.
enum Found {
    Section(usize, usize),
    Other(usize),
}

/// The fallback search: scans every section's text for the query's words, case-insensitively.
/// Linear in the size of the KB, so meant only for when no index is available; it answers with
/// the same [`SearchResults`] as the real engine.
#[derive(Default)]
pub struct NaiveSearch {
    corpus: RwLock<Arc<Corpus>>,
    /// Sections of each runbook file by its SHA-256, so a refresh re-reads only changed files.
    sections: RwLock<HashMap<String, CachedSections>>,
}

impl NaiveSearch {
    pub fn new(site: &Site) -> NaiveSearch {
        let search = NaiveSearch::default();
        search.refresh(site);
        search
    }

    fn runbook_sections(&self, site: &Site, index: usize) -> Arc<Vec<LowSection>> {
        let rb = &site.kb.runbooks[index];
        if let Ok(cache) = self.sections.read()
            && let Some((sha, cached)) = cache.get(&rb.path)
            && *sha == rb.sha256
        {
            return Arc::clone(cached);
        }
        let (source, keep) = match &rb.file {
            Some(file) => (std::fs::read_to_string(file).ok(), false),
            None => (site.kb.body(index).ok().map(|b| b.markdown().to_string()), true),
        };
        let found: Vec<LowSection> = source
            .map(|s| sections(s.trim_start_matches('\u{feff}')))
            .unwrap_or_default()
            .into_iter()
            .map(|section| LowSection::new(section, keep))
            .collect();
        let found = Arc::new(found);
        if let Ok(mut cache) = self.sections.write() {
            cache.insert(rb.path.clone(), (rb.sha256.clone(), Arc::clone(&found)));
        }
        found
    }
}

/// How often `finder` occurs in `haystack`, up to `cap`.
fn count(finder: &memchr::memmem::Finder<'_>, haystack: &str, cap: usize) -> usize {
    finder.find_iter(haystack.as_bytes()).take(cap).count()
}

/// Score of a document for all terms, or `None` when a term is missing.
fn score(finders: &[memchr::memmem::Finder<'_>], strong: [&str; 2], weak: &str) -> Option<f32> {
    let mut total = 0.0;
    for finder in finders {
        let strong = count(finder, strong[0], 3) + count(finder, strong[1], 3);
        let weak = count(finder, weak, 20);
        if strong + weak == 0 {
            return None;
        }
        total += 3.0 * strong.min(3) as f32 + (1.0 + weak as f32).ln();
    }
    Some(total)
}

/// The original text of a runbook section, for its snippet.
fn original_text(entry: &RunbookEntry, section: &LowSection) -> String {
    if let Some(text) = &section.original {
        return text.to_string();
    }
    let reread = entry.file.as_ref().and_then(|f| std::fs::read_to_string(f).ok()).and_then(|source| {
        sections(source.trim_start_matches('\u{feff}')).into_iter().find(|s| s.line == section.line).map(|s| s.text)
    });
    reread.unwrap_or_else(|| section.lower.to_string())
}

impl SiteSearch for NaiveSearch {
    fn search(&self, request: &SearchRequest) -> Result<SearchResults, String> {
        let corpus = match self.corpus.read() {
            Ok(corpus) => Arc::clone(&corpus),
            Err(_) => return Err("the search data is unavailable".into()),
        };
        let limit = request.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let words: Vec<String> = request.query.split_whitespace().take(16).map(str::to_lowercase).collect();
        let mut results = SearchResults { query: request.query.clone(), suggestion: None, hits: Vec::new() };
        if words.is_empty() {
            return Ok(results);
        }
        let finders: Vec<memchr::memmem::Finder> =
            words.iter().map(|w| memchr::memmem::Finder::new(w.as_bytes())).collect();
        let tag = request.tag.as_ref().map(|t| t.to_lowercase());
        let mut scored: Vec<(f32, Found)> = Vec::new();
        if request.kind.is_none_or(|k| k == Kind::Runbook) {
            for (r, entry) in corpus.runbooks.iter().enumerate() {
                if tag.as_ref().is_some_and(|t| !entry.tags.contains(t))
                    || request.category.as_ref().is_some_and(|c| !entry.category.eq_ignore_ascii_case(c))
                {
                    continue;
                }
                for (k, section) in entry.sections.iter().enumerate() {
                    if let Some(points) = score(&finders, [&entry.title_lower, &section.heading_lower], &section.lower)
                    {
                        scored.push((points, Found::Section(r, k)));
                    }
                }
            }
        }
        if tag.is_none() && request.category.is_none() {
            for (i, doc) in corpus.others.iter().enumerate() {
                if request.kind.is_some_and(|k| k != doc.kind) {
                    continue;
                }
                if let Some(points) = score(&finders, [&doc.title_lower, ""], &doc.lower) {
                    scored.push((points, Found::Other(i)));
                }
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let patterns: Vec<Regex> = words
            .iter()
            .filter_map(|w| RegexBuilder::new(&regex::escape(w)).case_insensitive(true).build().ok())
            .collect();
        for (points, found) in scored.into_iter().take(limit) {
            let hit = match found {
                Found::Section(r, k) => {
                    let entry = &corpus.runbooks[r];
                    let section = &entry.sections[k];
                    Hit {
                        kind: Kind::Runbook,
                        id: entry.id.clone(),
                        title: entry.title.clone(),
                        heading: if section.heading.is_empty() { entry.title.clone() } else { section.heading.clone() },
                        anchor: section.anchor.clone(),
                        path: entry.path.clone(),
                        line: section.line as u64,
                        errors: 0,
                        score: points,
                        snippet: snippet(&original_text(entry, section), &patterns),
                        more: Vec::new(),
                    }
                }
                Found::Other(i) => {
                    let doc = &corpus.others[i];
                    Hit {
                        kind: doc.kind,
                        id: doc.id.clone(),
                        title: doc.title.clone(),
                        heading: doc.heading.clone(),
                        anchor: doc.anchor.clone(),
                        path: doc.path.clone(),
                        line: doc.line,
                        errors: 0,
                        score: points,
                        snippet: snippet(&doc.text, &patterns),
                        more: Vec::new(),
                    }
                }
            };
            results.hits.push(hit);
        }
        Ok(results)
    }

    fn refresh(&self, site: &Site) {
        let mut corpus = Corpus::default();
        for (index, rb) in site.kb.runbooks.iter().enumerate() {
            corpus.runbooks.push(RunbookEntry {
                id: rb.id.clone(),
                title: rb.title.clone(),
                title_lower: rb.title.to_lowercase(),
                path: rb.path.clone(),
                file: rb.file.clone(),
                tags: rb.tags.iter().map(|t| t.to_lowercase()).collect(),
                category: rb.category.clone(),
                sections: self.runbook_sections(site, index),
            });
        }
        corpus.others.extend(site.runs.iter().filter_map(run_doc));
        for cycle in &site.cycles {
            let Ok(source) = &cycle.source else { continue };
            for section in sections(source) {
                corpus.others.push(OtherDoc {
                    kind: Kind::Cycle,
                    id: cycle.name.clone(),
                    title: cycle.title.clone(),
                    title_lower: cycle.title.to_lowercase(),
                    heading: section.heading.clone(),
                    anchor: section.anchor.clone(),
                    path: format!("archives/cycles/{}.md", cycle.name),
                    line: section.line as u64,
                    lower: format!("{} {}", section.heading, section.text).to_lowercase(),
                    text: section.text,
                });
            }
        }
        if let Ok(mut current) = self.corpus.write() {
            *current = Arc::new(corpus);
        }
        let present: std::collections::HashSet<&str> = site.kb.runbooks.iter().map(|rb| rb.path.as_str()).collect();
        if let Ok(mut cache) = self.sections.write() {
            cache.retain(|path, _| present.contains(path.as_str()));
        }
    }
}

/// A run as one document: verdict, findings, steps and their checks.
fn run_doc(run: &ArchivedRun) -> Option<OtherDoc> {
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
    Some(OtherDoc {
        kind: Kind::Archive,
        id: run.run_id.clone(),
        title: record.runbook.title.clone(),
        title_lower: record.runbook.title.to_lowercase(),
        heading: format!("Run {}", run.run_id),
        anchor: String::new(),
        path: format!("archives/{}/run.json", run.run_id),
        line: 1,
        lower: text.to_lowercase(),
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
