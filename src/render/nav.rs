//! The site's navigation: the folder tree of the KB, as docs sites show it. A folder's
//! `_index.md`, `index.md` or `README.md` is the folder's own page; pages and folders are ordered
//! by the generators' `weight` / `sidebar_position` / `nav_order` when they have one, then by title.

use super::url::Urls;
use crate::model::Kb;
use crate::model::runbook::{Runbook, is_index_stem};
use serde::Serialize;
use std::collections::BTreeMap;

/// Front-matter keys that order pages in the generators' navigation.
const WEIGHT_KEYS: [&str; 3] = ["weight", "sidebar_position", "nav_order"];
/// Front-matter keys holding the shorter title a navigation shows.
const LABEL_KEYS: [&str; 3] = ["linkTitle", "sidebar_label", "nav_title"];

/// An entry of the navigation: a page, or a folder with its page (if it has one) and entries.
#[derive(Debug, Serialize)]
pub(crate) struct NavNode {
    pub title: String,
    pub url: Option<String>,
    pub children: Vec<NavNode>,
    #[serde(skip)]
    weight: Option<f64>,
}

/// A folder while the tree is built.
#[derive(Default)]
struct Folder {
    page: Option<usize>,
    pages: Vec<usize>,
    folders: BTreeMap<String, Folder>,
}

/// The navigation tree of every runbook of `kb`.
pub(crate) fn tree(kb: &Kb, urls: &Urls) -> Vec<NavNode> {
    let mut root = Folder::default();
    for (i, rb) in kb.runbooks.iter().enumerate() {
        let mut parts: Vec<&str> = rb.stem_path.split('/').collect();
        let stem = parts.pop().unwrap_or_default();
        let folder = parts.iter().fold(&mut root, |folder, part| folder.folders.entry(part.to_string()).or_default());
        if is_index_stem(stem) && folder.page.is_none() {
            folder.page = Some(i);
        } else {
            folder.pages.push(i);
        }
    }
    let mut top = entries(kb, urls, root.folders, root.pages);
    // The KB's own front page (a top-level README or _index) comes first.
    if let Some(page) = root.page {
        top.insert(0, page_node(kb, urls, page));
    }
    top
}

fn entries(kb: &Kb, urls: &Urls, folders: BTreeMap<String, Folder>, pages: Vec<usize>) -> Vec<NavNode> {
    let mut out: Vec<NavNode> = pages.into_iter().map(|i| page_node(kb, urls, i)).collect();
    for (name, folder) in folders {
        let children = entries(kb, urls, folder.folders, folder.pages);
        let node = match folder.page {
            Some(page) => NavNode { children, ..page_node(kb, urls, page) },
            None => NavNode { title: name, url: None, children, weight: None },
        };
        out.push(node);
    }
    out.sort_by(|a, b| order(a).partial_cmp(&order(b)).unwrap_or(std::cmp::Ordering::Equal));
    out
}

/// Weighted entries first (Hugo leaves a weight of 0 unset), then by title.
fn order(node: &NavNode) -> (bool, f64, String) {
    let weight = node.weight.filter(|w| *w != 0.0);
    (weight.is_none(), weight.unwrap_or(0.0), node.title.to_lowercase())
}

fn page_node(kb: &Kb, urls: &Urls, index: usize) -> NavNode {
    let rb = &kb.runbooks[index];
    NavNode { title: label(rb), url: Some(urls.runbook(&rb.id)), children: Vec::new(), weight: weight(rb) }
}

/// Whether the navigation shows `new` otherwise than `old` (its label or its place).
pub(crate) fn shows_differently(old: &Runbook, new: &Runbook) -> bool {
    label(old) != label(new) || weight(old) != weight(new)
}

fn label(rb: &Runbook) -> String {
    LABEL_KEYS
        .iter()
        .find_map(|key| rb.extra.get(*key).and_then(|v| v.as_str()).map(str::trim).filter(|t| !t.is_empty()))
        .unwrap_or(&rb.title)
        .to_string()
}

fn weight(rb: &Runbook) -> Option<f64> {
    WEIGHT_KEYS.iter().find_map(|key| {
        let value = rb.extra.get(*key)?;
        value.as_f64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
    })
}
