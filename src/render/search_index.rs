//! The static site's search index: small files the browser loads only when search is used, and
//! then only the parts a query needs (the idea of Pagefind's chunked index, built our own way).
//!
//! - `search-index/meta.json`: counts and the list of shards.
//! - `search-index/t-<hex>.json`: the terms that begin with `<hex>` (UTF-8, hex: two characters,
//!   or more where a shard would pass [`SHARD_LIMIT`]: a term is in the shard of the longest
//!   key its own hex begins with), each with two lists of section numbers: where the term is in
//!   a title, heading or tag ("strong"), and where it is in the text. A list is its numbers
//!   delta-encoded, or, where that is longer (a term in most sections), a bitmap of every
//!   section in base64: bit `n % 8` of byte `n / 8` for section `n`.
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
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

pub(crate) const META: &str = "search-index/meta.json";
const DIR: &str = "search-index";
/// Sections per docs file.
const CHUNK: usize = 500;
/// Characters of a section's text kept for result lists.
const EXCERPT: usize = 160;
/// Characters of the term that pick its shard, at least.
const PREFIX: usize = 2;
/// Shards larger than this are cut by a longer prefix (issue 19: no file over 1 MB at 100,000
/// runbooks, where a two-character shard reached 6 MB).
const SHARD_LIMIT: usize = 256 * 1024;
/// The longest prefix a shard is cut by.
const MAX_PREFIX: usize = 12;
/// Longer tokens (hashes, base64) are not worth indexing.
const MAX_TERM: usize = 40;

/// One file of the index, relative to the site root.
pub(crate) struct IndexFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// Whether a run of letters and digits, or a part of one, is long enough to be a term and
/// short enough to be worth one.
fn worth(term: &str) -> bool {
    let chars = if term.is_ascii() { term.len() } else { term.chars().count() };
    (2..=MAX_TERM).contains(&chars)
}

/// Calls `each` with the terms of `text`: each run as the browser cuts queries, then its
/// camelCase parts, lowercased. A run without capitals is neither cut nor lowercased, and an
/// ASCII one is lowercased in a buffer that is used again: this runs for every word of every
/// section of the site.
fn for_each_term(text: &str, mut each: impl FnMut(&str)) {
    let mut lower = String::new();
    let mut lowercased = |term: &str, each: &mut dyn FnMut(&str)| {
        if !term.is_ascii() {
            each(&term.to_lowercase());
        } else if term.bytes().any(|b| b.is_ascii_uppercase()) {
            lower.clear();
            lower.push_str(term);
            lower.make_ascii_lowercase();
            each(&lower);
        } else {
            each(term);
        }
    };
    for run in text.split(|c: char| !(c.is_alphabetic() || c.is_numeric())).filter(|run| worth(run)) {
        lowercased(run, &mut each);
        if crate::index::tokenizer::is_one_part(run) {
            continue;
        }
        let parts = crate::index::tokenizer::parts(run);
        if parts.len() > 1 {
            for (_, part) in parts.into_iter().filter(|(_, part)| worth(part)) {
                lowercased(part, &mut each);
            }
        }
    }
}

/// The terms of one shard: each with its strong and weak postings.
type Shard<'a> = BTreeMap<&'a str, (List, List)>;

/// A posting list as the browser reads it.
#[derive(Serialize)]
#[serde(untagged)]
enum List {
    /// Section numbers, each as the difference from the one before.
    Deltas(Vec<u32>),
    /// Every section, a bit each, in base64.
    Bitmap(String),
}

impl List {
    /// The shorter of the two forms of the (ascending) `sections`.
    fn of(sections: &[u32]) -> List {
        let deltas = deltas(sections);
        let as_numbers = json_len(&deltas);
        let bytes = sections.last().map_or(0, |&last| last as usize / 8 + 1);
        if bytes.div_ceil(3) * 4 + 2 >= as_numbers {
            return List::Deltas(deltas);
        }
        let mut bitmap = vec![0u8; bytes];
        for &n in sections {
            bitmap[n as usize / 8] |= 1 << (n % 8);
        }
        use base64::Engine as _;
        List::Bitmap(base64::engine::general_purpose::STANDARD.encode(bitmap))
    }

    /// Bytes it takes in the shard's JSON, about.
    fn size(&self) -> usize {
        match self {
            List::Deltas(deltas) => json_len(deltas),
            List::Bitmap(text) => text.len() + 2,
        }
    }
}

/// The length of `numbers` as a JSON array: `[1,23,4]`.
fn json_len(numbers: &[u32]) -> usize {
    let digits: usize = numbers.iter().map(|n| n.checked_ilog10().unwrap_or(0) as usize + 1).sum();
    2 + digits + numbers.len().saturating_sub(1)
}

/// Terms in shards of at most [`SHARD_LIMIT`] bytes where a longer prefix can make them so:
/// the terms of each prefix of `chars` characters, cut by one character more while too large
/// (a term as long as the prefix stays in the shard of its own).
fn cut_shards<'a>(terms: Vec<(&'a str, usize)>, chars: usize, out: &mut Vec<(String, Vec<&'a str>)>) {
    let mut groups: BTreeMap<String, Vec<(&'a str, usize)>> = BTreeMap::new();
    for (term, size) in terms {
        groups.entry(term.chars().take(chars).collect()).or_default().push((term, size));
    }
    for (prefix, group) in groups {
        let size: usize = group.iter().map(|(_, size)| size).sum();
        let (whole, longer): (Vec<_>, Vec<_>) = group.into_iter().partition(|(term, _)| term.chars().count() <= chars);
        if size <= SHARD_LIMIT || chars >= MAX_PREFIX || longer.is_empty() {
            out.push((prefix, whole.into_iter().chain(longer).map(|(term, _)| term).collect()));
            continue;
        }
        if !whole.is_empty() {
            out.push((prefix, whole.into_iter().map(|(term, _)| term).collect()));
        }
        cut_shards(longer, chars + 1, out);
    }
}

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

/// Each term's postings over `pages`, whose first section is number `first`.
fn postings_of(pages: &[SearchPage], first: u32) -> HashMap<String, Postings> {
    let mut postings: HashMap<String, Postings> = HashMap::new();
    let mut add = |term: &str, number: u32, strong: bool| {
        let term_postings = match postings.get_mut(term) {
            Some(found) => found,
            None => postings.entry(term.to_string()).or_default(),
        };
        push(if strong { &mut term_postings.strong } else { &mut term_postings.weak }, number);
    };
    let mut number = first;
    for page in pages {
        for (k, section) in page.sections.iter().enumerate() {
            // The page's names weigh like a title in its first section.
            if k == 0 {
                for_each_term(&page.names, |term| add(term, number, true));
            }
            for_each_term(&section.heading, |term| add(term, number, true));
            for_each_term(&section.text, |term| add(term, number, false));
            number += 1;
        }
    }
    postings
}

/// Every term of `pages` with its postings, in term order. The pages are read in parts on
/// every core, each part's sections numbered from where the part begins; the parts' lists are
/// then joined in order, so each stays ascending.
fn postings(pages: &[SearchPage]) -> Vec<(String, Postings)> {
    let firsts: Vec<u32> = pages
        .iter()
        .scan(0u32, |next, page| {
            let first = *next;
            *next += page.sections.len() as u32;
            Some(first)
        })
        .collect();
    let part = pages.len().div_ceil(rayon::current_num_threads() * 2).max(1);
    let parts: Vec<HashMap<String, Postings>> = pages
        .par_chunks(part)
        .zip(firsts.par_chunks(part))
        .map(|(pages, firsts)| postings_of(pages, firsts.first().copied().unwrap_or(0)))
        .collect();
    let mut all: HashMap<String, Postings> = HashMap::new();
    for part in parts {
        for (term, postings) in part {
            match all.entry(term) {
                Entry::Occupied(mut joined) => {
                    joined.get_mut().strong.extend(postings.strong);
                    joined.get_mut().weak.extend(postings.weak);
                }
                Entry::Vacant(new) => {
                    new.insert(postings);
                }
            }
        }
    }
    let mut sorted: Vec<(String, Postings)> = all.into_iter().collect();
    sorted.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
    sorted
}

/// Builds the index from every page's sections.
pub(crate) fn build(pages: &[SearchPage]) -> Result<Vec<IndexFile>, serde_json::Error> {
    let docs: Vec<(usize, &SearchSection)> =
        pages.iter().enumerate().flat_map(|(r, page)| page.sections.iter().map(move |section| (r, section))).collect();
    let postings = postings(pages);
    let lists: Vec<(&str, (List, List))> = postings
        .par_iter()
        .map(|(term, list)| (term.as_str(), (List::of(&list.strong), List::of(&list.weak))))
        .collect();
    let mut lists: BTreeMap<&str, (List, List)> = lists.into_iter().collect();
    let sizes = lists.iter().map(|(term, (strong, weak))| (*term, term.len() + strong.size() + weak.size() + 6));
    let mut cut = Vec::new();
    cut_shards(sizes.collect(), PREFIX, &mut cut);
    let mut shards: BTreeMap<String, Shard> = BTreeMap::new();
    for (prefix, terms) in cut {
        let shard = shards.entry(hex(prefix.as_bytes())).or_default();
        for term in terms {
            if let Some(term_lists) = lists.remove(term) {
                shard.insert(term, term_lists);
            }
        }
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

    fn terms(text: &str) -> Vec<String> {
        let mut found = Vec::new();
        for_each_term(text, |term| found.push(term.to_string()));
        found
    }

    /// The terms by their definition, without the shortcuts of [`for_each_term`].
    fn terms_as_defined(text: &str) -> Vec<String> {
        let worth = |t: &&str| (2..=MAX_TERM).contains(&t.chars().count());
        let mut found = Vec::new();
        for run in text.split(|c: char| !(c.is_alphabetic() || c.is_numeric())).filter(worth) {
            let parts = crate::index::tokenizer::parts(run);
            let split = parts.len() > 1;
            found.push(run.to_lowercase());
            found
                .extend(parts.into_iter().map(|(_, part)| part).filter(|_| split).filter(worth).map(str::to_lowercase));
        }
        found
    }

    #[test]
    fn the_shortcuts_give_the_terms_as_defined() {
        for text in [
            "KubeJobFailed on HTTPServer, nvidia-smi: CUDA_ERROR_OPERATING_SYSTEM (304)",
            "ΣΟΦΙΑ ΟΔΟΣ Straße ÜberPrüfung naïveCafé ǅemal İstanbul x y2 ab",
            "a1 B2 cD eFgHiJ KLMnop qrsTUVwxyz 0123456789012345678901234567890123456789extra",
            "",
        ] {
            assert_eq!(terms(text), terms_as_defined(text), "{text}");
        }
    }

    #[test]
    fn terms_keep_what_people_search_for() {
        let found = terms("Run `nvidia-smi`: CUDA_ERROR_OPERATING_SYSTEM (304) in /dev/nvidia-uvm, a");
        assert_eq!(
            found,
            ["run", "nvidia", "smi", "cuda", "error", "operating", "system", "304", "in", "dev", "nvidia", "uvm"]
        );
        let found = terms("KubeJobFailed on HTTPServer");
        assert_eq!(found, ["kubejobfailed", "kube", "job", "failed", "on", "httpserver", "http", "server"]);
        assert_eq!(deltas(&[1, 4, 9]), vec![1, 3, 5]);
    }

    /// The sections a list holds, read as `site/search.js` reads it.
    fn sections_of(list: &serde_json::Value) -> Vec<u32> {
        use base64::Engine as _;
        match list {
            serde_json::Value::String(text) => {
                let bytes = base64::engine::general_purpose::STANDARD.decode(text).expect("base64");
                (0..bytes.len() as u32 * 8).filter(|n| bytes[*n as usize / 8] & (1 << (n % 8)) != 0).collect()
            }
            numbers => numbers
                .as_array()
                .expect("numbers")
                .iter()
                .scan(0, |n, d| {
                    *n += d.as_u64().expect("number") as u32;
                    Some(*n)
                })
                .collect(),
        }
    }

    #[test]
    fn a_list_is_the_shorter_of_numbers_and_a_bitmap() {
        let sparse = [3, 900, 70_000];
        let dense: Vec<u32> = (0..5000).filter(|n| n % 3 != 0).collect();
        for sections in [&sparse[..], &dense[..], &[][..], &[0][..]] {
            let list = serde_json::to_value(List::of(sections)).expect("json");
            assert_eq!(sections_of(&list), sections);
            assert_eq!(List::of(sections).size(), list.to_string().len(), "the size it says it takes");
        }
        assert!(matches!(List::of(&sparse), List::Deltas(_)));
        assert!(matches!(List::of(&dense), List::Bitmap(_)));
    }

    /// Regression (issue 19): at 100,000 runbooks a two-character shard held the postings of
    /// the commonest terms and reached 6 MB.
    #[test]
    fn no_file_passes_the_limit_and_every_term_is_in_the_shard_its_longest_key_names() {
        let words = ["check", "checks", "change", "chunk", "ch", "cha", "driver", "dr", "drain", "Ünïcode"];
        let pages: Vec<SearchPage> = (0..6000)
            .map(|i| SearchPage {
                url: format!("/runbooks/r{i}/"),
                title: format!("Runbook {i}"),
                kind: "runbook",
                names: format!("r{i}"),
                sections: (0..5)
                    .map(|k| SearchSection {
                        anchor: format!("s{k}"),
                        heading: format!("Check the {} {k}", words[(i + k) % words.len()]),
                        text: format!("{} {} w{}", words[i % words.len()], words[k % words.len()], i * 7 + k),
                    })
                    .collect(),
            })
            .collect();
        let files = build(&pages).expect("index");
        let largest = files.iter().map(|f| f.bytes.len()).max().expect("files");
        assert!(largest <= SHARD_LIMIT + 64 * 1024, "largest file {largest} bytes");
        let meta: serde_json::Value =
            serde_json::from_slice(&files.iter().find(|f| f.path == META).expect("meta").bytes).expect("json");
        let keys: Vec<&str> = meta["shards"].as_array().expect("shards").iter().filter_map(|k| k.as_str()).collect();
        assert!(keys.len() > 1 && keys.iter().any(|k| k.len() > 2 * PREFIX), "cut by longer prefixes: {keys:?}");
        for file in files.iter().filter(|f| f.path.starts_with(&format!("{DIR}/t-"))) {
            let key = &file.path[DIR.len() + 3..file.path.len() - 5];
            let shard: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&file.bytes).expect("json");
            for (term, lists) in &shard {
                let own = keys.iter().filter(|k| hex(term.as_bytes()).starts_with(*k)).max_by_key(|k| k.len());
                assert_eq!(own, Some(&key), "{term} is looked for where it is");
                assert!(!sections_of(&lists[0]).is_empty() || !sections_of(&lists[1]).is_empty());
            }
        }
        let check = files.iter().filter(|f| f.path.starts_with(&format!("{DIR}/t-"))).find_map(|f| {
            let shard: serde_json::Value = serde_json::from_slice(&f.bytes).ok()?;
            shard.get("check").map(|lists| sections_of(&lists[0]).len())
        });
        assert_eq!(check, Some(30_000), "every heading says Check");
    }
}
