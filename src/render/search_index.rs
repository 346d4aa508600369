//! The static site's search index: small files the browser loads only when search is used, and
//! then only the parts a query needs (the idea of Pagefind's chunked index, built our own way).
//!
//! - `search-index/meta.json`: counts and the list of shards.
//! - `search-index/t-<hex>.json`: the terms whose first two characters are `<hex>` (UTF-8, hex),
//!   each with two delta-encoded lists of section numbers: where the term is in a title, heading
//!   or tag ("strong"), and where it is in the text.
//! - `search-index/d-<n>.json`: sections `n*CHUNK ..`: their page (a runbook, a run or a cycle
//!   report, with its URL, title and kind), anchor, heading and the start of their text, for
//!   result lists.
//!
//! Terms are lowercase runs of letters and digits of two characters or more, and the camelCase
//! parts of such a run (`KubeJobFailed` is also `kube`, `job`, `failed`); `site/search.js` cuts
//! queries into runs the same way.

use super::sections::SearchSection;
use super::site::Site;
use crate::archive::store::{ArchivedRun, Cycle};
use crate::util::text::hex;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub(crate) const META: &str = "search-index/meta.json";
const DIR: &str = "search-index";
/// Sections per docs file.
const CHUNK: usize = 500;
/// Characters of a section's text kept for result lists.
const EXCERPT: usize = 160;
/// Characters of the term that pick its shard.
const PREFIX: usize = 2;
/// Longer tokens (hashes, base64) are not worth indexing.
const MAX_TERM: usize = 40;

/// One file of the index, relative to the site root.
pub(crate) struct IndexFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// The terms of `text`: each run as the browser cuts queries, then its camelCase parts.
pub(crate) fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    let worth = |t: &&str| (2..=MAX_TERM).contains(&t.chars().count());
    text.split(|c: char| !(c.is_alphabetic() || c.is_numeric())).filter(worth).flat_map(move |run| {
        let parts = crate::index::tokenizer::parts(run);
        let split = parts.len() > 1;
        std::iter::once(run)
            .chain(parts.into_iter().map(|(_, part)| part).filter(move |_| split))
            .filter(worth)
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
    })
}

/// The terms of one shard: each with its strong and weak postings, delta-encoded.
type Shard<'a> = BTreeMap<&'a str, (Vec<u32>, Vec<u32>)>;

#[derive(Default)]
struct Postings {
    strong: Vec<u32>,
    weak: Vec<u32>,
}

fn push(list: &mut Vec<u32>, section: u32) {
    if list.last() != Some(&section) {
        list.push(section);
    }
}

fn deltas(list: &[u32]) -> Vec<u32> {
    let mut previous = 0;
    list.iter()
        .map(|&n| {
            let delta = n - previous;
            previous = n;
            delta
        })
        .collect()
}

#[derive(Serialize)]
struct Meta<'a> {
    v: String,
    sections: usize,
    chunk: usize,
    chunks: usize,
    prefix: usize,
    shards: Vec<&'a str>,
}

#[derive(Serialize)]
struct DocsChunk<'a> {
    /// Page number → `[url, title, kind]`, for the pages of this chunk.
    r: BTreeMap<usize, (&'a str, &'a str, &'static str)>,
    /// `[page number, anchor, heading, excerpt]`.
    s: Vec<(usize, String, String, String)>,
}

/// A page that search finds: a runbook, a run or a cycle report, with its sections.
pub(crate) struct SearchPage {
    pub url: String,
    pub title: String,
    /// `runbook`, `archive` or `cycle`, as `/api/search` names kinds.
    pub kind: &'static str,
    /// Words that weigh like a title in the first section: ids, tags, aliases.
    pub names: String,
    pub sections: Vec<SearchSection>,
}

impl SearchPage {
    /// A runbook's page, from its sections.
    pub(crate) fn runbook(site: &Site, idx: usize, sections: Vec<SearchSection>) -> SearchPage {
        let rb = &site.kb.runbooks[idx];
        SearchPage {
            url: site.urls.runbook(&rb.id),
            title: rb.title.clone(),
            kind: "runbook",
            names: format!("{} {} {} {}", rb.title, rb.id, rb.tags.join(" "), rb.aliases.join(" ")),
            sections,
        }
    }
}

impl SearchPage {
    /// A run's page: one section, which leads with its diagnoses, then what it found and how
    /// each step ended.
    pub(crate) fn run(site: &Site, run: &ArchivedRun) -> SearchPage {
        let url = site.urls.run(&run.run_id);
        let (title, names, text) = match &run.record {
            Ok(record) => {
                let title = format!(
                    "Run of {} · {} · {}",
                    record.runbook.title,
                    record.verdict.as_str(),
                    record.started_at.get(..16).unwrap_or(&record.started_at).replace('T', " ")
                );
                let causes: String = record.diagnoses.iter().map(|d| format!("{} ", d.cause)).collect();
                // Not the run id: a term no one types, unique to each run, that would fill one
                // shard (`20…`) with a year of runs. The date in the title is searchable.
                let names = format!("{} {} {}", record.runbook.id, record.verdict.as_str(), record.host.name);
                (title, names, format!("{causes}{}", crate::index::documents::run_prose(record)))
            }
            Err(err) => (
                format!("Run {}", run.run_id),
                run.runbook_from_name().to_string(),
                format!("unreadable: {}", err.cause()),
            ),
        };
        let section = SearchSection { anchor: String::new(), heading: title.clone(), text };
        SearchPage { url, title, kind: "archive", names, sections: vec![section] }
    }

    /// A cycle report's page, a section per heading like a runbook's.
    pub(crate) fn cycle(site: &Site, cycle: &Cycle) -> SearchPage {
        let mut sections = match &cycle.source {
            Ok(source) => super::sections::sections(&crate::model::outline::Outline::new(source)),
            Err(_) => Vec::new(),
        };
        // The report's title heading is the top of its page.
        if let Some(first) = sections.first_mut()
            && first.heading == cycle.title
        {
            first.anchor.clear();
        }
        SearchPage {
            url: site.urls.cycle(&cycle.name),
            title: cycle.title.clone(),
            kind: "cycle",
            names: format!("{} {}", cycle.name, cycle.title),
            sections,
        }
    }
}

/// Builds the index from every page's sections.
pub(crate) fn build(pages: &[SearchPage]) -> Result<Vec<IndexFile>, serde_json::Error> {
    let mut postings: BTreeMap<String, Postings> = BTreeMap::new();
    let mut docs: Vec<(usize, &SearchSection)> = Vec::new();
    for (r, page) in pages.iter().enumerate() {
        for (k, section) in page.sections.iter().enumerate() {
            let number = docs.len() as u32;
            docs.push((r, section));
            let mut strong_text = section.heading.clone();
            if k == 0 {
                strong_text = format!("{} {strong_text}", page.names);
            }
            for term in terms(&strong_text) {
                push(&mut postings.entry(term).or_default().strong, number);
            }
            for term in terms(&section.text) {
                push(&mut postings.entry(term).or_default().weak, number);
            }
        }
    }
    let mut shards: BTreeMap<String, Shard> = BTreeMap::new();
    for (term, list) in &postings {
        let key = hex(term.chars().take(PREFIX).collect::<String>().as_bytes());
        shards.entry(key).or_default().insert(term, (deltas(&list.strong), deltas(&list.weak)));
    }
    let mut files = Vec::new();
    for (key, terms) in &shards {
        files.push(IndexFile { path: format!("{DIR}/t-{key}.json"), bytes: serde_json::to_vec(terms)? });
    }
    for (n, chunk) in docs.chunks(CHUNK).enumerate() {
        let mut r = BTreeMap::new();
        let mut s = Vec::with_capacity(chunk.len());
        for (number, section) in chunk {
            let page = &pages[*number];
            r.entry(*number).or_insert((page.url.as_str(), page.title.as_str(), page.kind));
            let excerpt: String = section.text.chars().take(EXCERPT).collect();
            s.push((*number, section.anchor.clone(), section.heading.clone(), excerpt));
        }
        files.push(IndexFile { path: format!("{DIR}/d-{n}.json"), bytes: serde_json::to_vec(&DocsChunk { r, s })? });
    }
    let mut hasher = Sha256::new();
    for file in &files {
        hasher.update(file.path.as_bytes());
        hasher.update(&file.bytes);
    }
    let v = hex(&hasher.finalize()[..5]);
    let meta = Meta {
        v,
        sections: docs.len(),
        chunk: CHUNK,
        chunks: docs.len().div_ceil(CHUNK),
        prefix: PREFIX,
        shards: shards.keys().map(String::as_str).collect(),
    };
    files.push(IndexFile { path: META.to_string(), bytes: serde_json::to_vec(&meta)? });
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_keep_what_people_search_for() {
        let found: Vec<String> =
            terms("Run `nvidia-smi`: CUDA_ERROR_OPERATING_SYSTEM (304) in /dev/nvidia-uvm, a").collect();
        assert_eq!(
            found,
            ["run", "nvidia", "smi", "cuda", "error", "operating", "system", "304", "in", "dev", "nvidia", "uvm"]
        );
        let found: Vec<String> = terms("KubeJobFailed on HTTPServer").collect();
        assert_eq!(found, ["kubejobfailed", "kube", "job", "failed", "on", "httpserver", "http", "server"]);
        assert_eq!(deltas(&[1, 4, 9]), vec![1, 3, 5]);
    }
}
