//! Every page of the site: which paths exist, and how each renders. The static build walks
//! [`Site::pages`]; the server maps a request path with [`Site::resolve`]. Both call
//! [`Site::render`].

use super::error::RenderError;
use super::markdown::{self, BrokenLink, Resolved};
use super::site::Site;
use super::views::{AutoDiagnosis, RunBadge, RunRow, RunView, RunbookHead, StepCard};
use crate::index::{Kind, SearchResults};
use crate::model::RunbookIdx;
use crate::model::markdown::Heading;
use crate::model::outline::{Fence, Outline};
use crate::model::runbook::LinkKind;
use crate::model::slug::heading_anchor;
use minijinja::Value;
use serde::Serialize;
use std::collections::HashMap;

/// Runs on one page of `/archives/`: a page of 50,000 runs would be megabytes.
pub(crate) const RUNS_PER_PAGE: usize = 100;

/// Where a page of runs is among the others.
#[derive(Serialize)]
struct Pager {
    page: usize,
    pages: usize,
    /// Its runs' places, 1-based.
    first: usize,
    last: usize,
    total: String,
    newer: Option<String>,
    older: Option<String>,
    oldest: Option<String>,
}

/// One page of the site.
#[derive(Debug, Clone)]
pub(crate) enum Page {
    Index,
    Runbook(RunbookIdx),
    Tags,
    /// By lowercase tag.
    Tag(String),
    /// A page of the runs, newest first: 1 is `/archives/`.
    Archives(usize),
    Run(usize),
    Cycles,
    Cycle(usize),
    Search {
        query: String,
        results: Option<Result<SearchResults, String>>,
    },
    NotFound,
}

/// What a request path is.
#[derive(Debug)]
pub(crate) enum Resolution {
    Page(Page),
    /// The same page with a trailing slash.
    Redirect(String),
    NotFound,
}

/// A rendered page and the links in it that lead nowhere.
#[derive(Debug, Default)]
pub(crate) struct RenderedPage {
    pub html: String,
    pub broken_links: Vec<BrokenLink>,
}

impl Site {
    /// Every page the static build writes, with its path relative to the site root (a folder
    /// path ending in `/`, or a file name).
    pub(crate) fn pages(&self) -> Vec<(String, Page)> {
        let mut pages = vec![(String::new(), Page::Index)];
        for (idx, rb) in self.kb.iter() {
            pages.push((format!("runbooks/{}/", rb.id), Page::Runbook(idx)));
        }
        pages.push(("tags/".into(), Page::Tags));
        for key in self.tags.keys() {
            pages.push((format!("tags/{key}/"), Page::Tag(key.clone())));
        }
        pages.push(("archives/".into(), Page::Archives(1)));
        for page in 2..=self.runs_pages() {
            pages.push((format!("archives/page/{page}/"), Page::Archives(page)));
        }
        for (i, run) in self.runs.iter().enumerate() {
            pages.push((format!("archives/{}/", run.run_id), Page::Run(i)));
        }
        if !self.cycles.is_empty() {
            pages.push(("cycles/".into(), Page::Cycles));
            for (i, cycle) in self.cycles.iter().enumerate() {
                pages.push((format!("cycles/{}/", cycle.name), Page::Cycle(i)));
            }
        }
        pages.push(("search/".into(), Page::Search { query: String::new(), results: None }));
        pages.push(("404.html".into(), Page::NotFound));
        pages
    }

    /// The page at a site-relative, percent-decoded path (`runbooks/cuda-304/`).
    pub(crate) fn resolve(&self, path: &str) -> Resolution {
        let (trimmed, slash) = match path.strip_suffix('/') {
            Some(t) => (t, true),
            None => (path, path.is_empty()),
        };
        let page = match trimmed.split_once('/') {
            None => match trimmed {
                "" => Some(Page::Index),
                "tags" => Some(Page::Tags),
                "archives" => Some(Page::Archives(1)),
                "cycles" if !self.cycles.is_empty() => Some(Page::Cycles),
                "search" => Some(Page::Search { query: String::new(), results: None }),
                _ => None,
            },
            Some(("runbooks", id)) => self.kb.by_id(id).map(Page::Runbook),
            Some(("tags", tag)) => self.tags.contains_key(&tag.to_lowercase()).then(|| Page::Tag(tag.to_lowercase())),
            Some(("archives", rest)) => match rest.strip_prefix("page/") {
                Some(n) => n.parse().ok().filter(|n| (2..=self.runs_pages()).contains(n)).map(Page::Archives),
                None => self.run_index(rest).map(Page::Run),
            },
            Some(("cycles", name)) => self.cycle_index(name).map(Page::Cycle),
            _ => None,
        };
        match page {
            // `/search` is a page too (`/search?q=`), with or without the slash.
            Some(page @ Page::Search { .. }) => Resolution::Page(page),
            Some(page) if slash => Resolution::Page(page),
            Some(_) => Resolution::Redirect(format!("{}{path}/", self.urls.base())),
            None => Resolution::NotFound,
        }
    }

    pub(crate) fn render(&self, page: &Page) -> Result<RenderedPage, RenderError> {
        let html = match page {
            Page::Index => self.index_page()?,
            Page::Runbook(i) => return self.runbook_page(*i),
            Page::Tags => self.tags_page()?,
            Page::Tag(key) => self.tag_page(key)?,
            Page::Archives(n) => self.archives_page(*n)?,
            Page::Run(i) => self.run_page(*i)?,
            Page::Cycles => self.templates.render("cycles.html", crate::ctx! { cycles => self.cycle_links() })?,
            Page::Cycle(i) => self.cycle_page(*i)?,
            Page::Search { query, results } => self.search_page(query, results.as_ref())?,
            Page::NotFound => self.templates.render("404.html", crate::ctx! {})?,
        };
        Ok(RenderedPage { html, broken_links: Vec::new() })
    }

    fn index_page(&self) -> Result<String, RenderError> {
        #[derive(Serialize)]
        struct Category {
            name: String,
            anchor: String,
            runbooks: minijinja::Value,
        }
        let categories: Vec<Category> = self
            .categories
            .iter()
            .map(|(name, members)| Category {
                name: name.clone(),
                anchor: heading_anchor(name),
                runbooks: super::views::Rows::value(members.iter().map(|&idx| self.row(idx)).collect()),
            })
            .collect();
        self.templates.render(
            "index.html",
            crate::ctx! { categories => categories, total => self.kb.runbooks.len(), runs => self.runs.len() },
        )
    }

    /// The causes a runbook can name, with where its prose explains them and what fixes them.
    fn diagnosis_cards(&self, rb: &crate::model::Runbook, body: &crate::model::Body) -> Vec<DiagnosisCard> {
        body.diagnoses
            .iter()
            .map(|d| DiagnosisCard {
                id: d.id.clone(),
                cause: d.cause.clone(),
                when: d.when.source.clone(),
                severity: d.severity.as_str(),
                section: d.section.clone(),
                fix: d
                    .fix
                    .iter()
                    .map(|fix| match fix {
                        crate::model::diagnosis::Fix::Step(step) => {
                            FixLink { label: step.clone(), url: Some(format!("#step-{step}")) }
                        }
                        crate::model::diagnosis::Fix::Link(dest) => {
                            let target = rb.links.iter().find(|l| &l.dest == dest).and_then(|l| l.target.as_ref());
                            let url = target.map(|t| {
                                let base = self.urls.runbook(&self.kb[t.runbook].id);
                                match &t.anchor {
                                    Some(anchor) => format!("{base}#{anchor}"),
                                    None => base,
                                }
                            });
                            FixLink {
                                label: target.map(|t| self.kb[t.runbook].id.clone()).unwrap_or(dest.clone()),
                                url,
                            }
                        }
                    })
                    .collect(),
            })
            .collect()
    }

    fn runbook_page(&self, idx: RunbookIdx) -> Result<RenderedPage, RenderError> {
        self.render_runbook(idx, self.kb.body(idx))
    }

    /// The page of a runbook from a body the caller already has (or could not read).
    pub(crate) fn render_runbook(
        &self,
        idx: RunbookIdx,
        body: std::io::Result<std::sync::Arc<crate::model::Body>>,
    ) -> Result<RenderedPage, RenderError> {
        let rb = &self.kb[idx];
        let (body, load_error) = match body {
            Ok(body) => (Some(body), None),
            Err(err) => (None, Some(format!("cannot read {}: {err}", rb.path))),
        };
        let targets: HashMap<&str, (Option<&crate::model::runbook::LinkTarget>, LinkKind)> =
            rb.links.iter().map(|l| (l.dest.as_str(), (l.target.as_ref(), l.kind))).collect();
        let resolve = |dest: &str| match targets.get(dest) {
            Some((Some(target), _)) if target.runbook == idx && dest.starts_with('#') => Resolved::Keep,
            Some((Some(target), _)) => {
                let url = self.urls.runbook(&self.kb[target.runbook].id);
                match &target.anchor {
                    Some(anchor) => Resolved::Url(format!("{url}#{anchor}")),
                    None => Resolved::Url(url),
                }
            }
            Some((None, LinkKind::Shortcode)) => Resolved::Broken,
            Some((None, _)) if is_cross_reference(dest) => Resolved::Broken,
            _ => Resolved::Keep,
        };
        let mut card_error = None;
        let mut number = 0;
        let mut card = |fence: &Fence| {
            number += 1;
            let step = body.as_ref().and_then(|b| b.steps.iter().find(|s| s.line == fence.line));
            let view = match step {
                Some(step) => StepCard::new(number, step, &fence.content),
                None => StepCard::broken(number, fence.line, &fence.content),
            };
            match self.templates.render("step.html", crate::ctx! { step => view }) {
                Ok(html) => html,
                Err(err) => {
                    card_error.get_or_insert(err);
                    String::new()
                }
            }
        };
        let empty = Outline::default();
        let source = body.as_ref().map(|b| b.markdown()).unwrap_or_default();
        let outline = body.as_ref().map_or(&empty, |b| &b.outline);
        let admonitions = body.as_ref().map(|b| b.prepared.admonitions.as_slice()).unwrap_or_default();
        let rendered = markdown::render(source, outline, admonitions, &resolve, &mut card);
        if let Some(err) = card_error {
            return Err(err);
        }
        let toc = toc(outline);
        let runs: Vec<RunBadge> = self.runs_of(&rb.id).take(5).map(|run| RunBadge::new(&self.urls, &run)).collect();
        // The latest run an alert started, among the recent ones.
        let auto_diagnosis = self.runs_of(&rb.id).take(50).find_map(|run| AutoDiagnosis::of(&self.urls, &run));
        let backlinks = self.backlinks(idx);
        let plain = body.as_ref().filter(|_| rb.is_document()).and_then(|b| PlainHint::of(&self.kb, rb, b));
        let diagnoses = body.as_ref().map(|b| self.diagnosis_cards(rb, b)).unwrap_or_default();
        let html = self.templates.render(
            "runbook.html",
            crate::ctx! {
                rb => RunbookHead::new(&self.urls, rb),
                plain => plain,
                toc => toc,
                body => Value::from_safe_string(rendered.html),
                diagnostics => &rb.diagnostics,
                diagnoses => diagnoses,
                load_error => load_error,
                runs => runs,
                auto_diagnosis => auto_diagnosis,
                backlinks => backlinks,
            },
        )?;
        Ok(RenderedPage { html, broken_links: rendered.broken_links })
    }

    /// The runbooks that link to runbook `idx`.
    fn backlinks(&self, idx: RunbookIdx) -> Vec<Backlink<'_>> {
        self.kb
            .backlinks(idx)
            .iter()
            .map(|link| {
                let from = &self.kb[link.from];
                Backlink { id: &from.id, title: &from.title, url: self.urls.runbook(&from.id) }
            })
            .collect()
    }

    fn tags_page(&self) -> Result<String, RenderError> {
        #[derive(Serialize)]
        struct Tag {
            name: String,
            url: String,
            count: usize,
        }
        let tags: Vec<Tag> = self
            .tags
            .iter()
            .map(|(key, group)| Tag { name: group.name.clone(), url: self.urls.tag(key), count: group.runbooks.len() })
            .collect();
        self.templates.render("tags.html", crate::ctx! { tags => tags })
    }

    fn tag_page(&self, key: &str) -> Result<String, RenderError> {
        let Some(group) = self.tags.get(key) else {
            return self.templates.render("404.html", crate::ctx! {});
        };
        let rows = super::views::Rows::value(group.runbooks.iter().map(|&i| self.row(i)).collect());
        self.templates.render("tag.html", crate::ctx! { tag => group.name, runbooks => rows })
    }

    /// Pages of runs: at least one, which says when there are none.
    pub(crate) fn runs_pages(&self) -> usize {
        self.runs.len().div_ceil(RUNS_PER_PAGE).max(1)
    }

    fn archives_page(&self, page: usize) -> Result<String, RenderError> {
        let known = |id: &str| self.knows_runbook(id);
        let first = (page - 1) * RUNS_PER_PAGE;
        let runs: Vec<RunRow> = self.runs[first.min(self.runs.len())..]
            .iter()
            .take(RUNS_PER_PAGE)
            .map(|folder| RunRow::new(&self.urls, &folder.read(), &known))
            .collect();
        let pages = self.runs_pages();
        let pager = (pages > 1).then(|| Pager {
            page,
            pages,
            first: first + 1,
            last: first + runs.len(),
            total: crate::util::text::thousands(self.runs.len()),
            newer: (page > 1).then(|| self.urls.runs_page(page - 1)),
            older: (page < pages).then(|| self.urls.runs_page(page + 1)),
            oldest: (page < pages).then(|| self.urls.runs_page(pages)),
        });
        self.templates
            .render("archives.html", crate::ctx! { runs => runs, pager => pager, cycles => self.cycle_links() })
    }

    fn run_page(&self, index: usize) -> Result<String, RenderError> {
        let known = |id: &str| self.knows_runbook(id);
        let run = RunView::new(&self.urls, &self.run(index), &known);
        self.templates.render("run.html", crate::ctx! { run => run })
    }

    fn cycle_links(&self) -> Vec<CycleLink> {
        self.cycles
            .iter()
            .map(|c| CycleLink { name: c.name.clone(), title: c.title.clone(), url: self.urls.cycle(&c.name) })
            .collect()
    }

    fn cycle_page(&self, index: usize) -> Result<String, RenderError> {
        let cycle = &self.cycles[index];
        let source = match &cycle.source {
            Ok(source) => source.clone(),
            Err(err) => format!("This report cannot be read: {err}"),
        };
        let outline = Outline::new(&source);
        let rendered = markdown::render(&source, &outline, &[], &|_| Resolved::Keep, &mut |fence| {
            format!("<pre><code>{}</code></pre>", markdown::escape_attr(&fence.content))
        });
        let toc = toc(&outline);
        self.templates.render(
            "cycle.html",
            crate::ctx! {
                cycle => CycleLink { name: cycle.name.clone(), title: cycle.title.clone(), url: self.urls.cycle(&cycle.name) },
                toc => toc,
                body => Value::from_safe_string(rendered.html),
            },
        )
    }

    fn search_page(&self, query: &str, results: Option<&Result<SearchResults, String>>) -> Result<String, RenderError> {
        #[derive(Serialize)]
        struct Results {
            suggestion: Option<String>,
            hits: Vec<HitView>,
        }
        let (results, error) = match results {
            Some(Ok(found)) => (
                Some(Results {
                    suggestion: found.suggestion.clone(),
                    hits: found.hits.iter().map(|h| self.hit_view(h)).collect(),
                }),
                None,
            ),
            Some(Err(err)) => (None, Some(format!("Search failed: {err}"))),
            None => (None, None),
        };
        self.templates.render("search.html", crate::ctx! { query => query, results => results, error => error })
    }

    /// A search hit for templates: with the URL of its page and a snippet that is safe HTML.
    pub(crate) fn hit_view(&self, hit: &crate::index::Hit) -> HitView {
        let page = match hit.kind {
            Kind::Runbook => {
                let id = self.kb.by_id(&hit.id).map(|idx| self.kb[idx].id.as_str()).unwrap_or(&hit.id);
                self.urls.runbook(id)
            }
            Kind::Archive => self.urls.run(&hit.id),
            Kind::Cycle => self.urls.cycle(&hit.id),
        };
        let at = |anchor: &str| if anchor.is_empty() { page.clone() } else { format!("{page}#{anchor}") };
        HitView {
            kind: hit.kind.as_str(),
            title: hit.title.clone(),
            heading: hit.heading.clone(),
            url: at(&hit.anchor),
            snippet: Value::from_safe_string(safe_snippet(&hit.snippet)),
            path: hit.path.clone(),
            line: hit.line,
            errors: hit.errors,
            more: hit.more.iter().map(|s| MoreView { heading: s.heading.clone(), url: at(&s.anchor) }).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
struct CycleLink {
    name: String,
    title: String,
    url: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct HitView {
    pub kind: &'static str,
    pub title: String,
    pub heading: String,
    pub url: String,
    pub snippet: Value,
    pub path: String,
    pub line: u64,
    /// Errors in the page's file.
    pub errors: usize,
    /// The page's other matching sections.
    pub more: Vec<MoreView>,
}

#[derive(Debug, Serialize)]
pub(crate) struct MoreView {
    pub heading: String,
    pub url: String,
}

/// A link written as a cross-reference: a relative `.md` path or a bare `#anchor`.
fn is_cross_reference(dest: &str) -> bool {
    let file = dest.split('#').next().unwrap_or_default();
    let file = file.split('?').next().unwrap_or_default();
    if file.is_empty() {
        return dest.starts_with('#');
    }
    !file.contains(':') && !file.starts_with('/') && crate::model::discovery::is_markdown_path(file)
}

/// A snippet whose only markup is `<mark>`: whatever the search engine sent, everything else is
/// unescaped once and escaped again, so stray markup can never reach the page.
pub(crate) fn safe_snippet(snippet: &str) -> String {
    let mut out = String::with_capacity(snippet.len() + 16);
    let mut rest = snippet;
    loop {
        let next = [rest.find("<mark>"), rest.find("</mark>")].into_iter().flatten().min();
        let Some(at) = next else {
            out.push_str(&markdown::escape_attr(&unescape(rest)));
            break;
        };
        out.push_str(&markdown::escape_attr(&unescape(&rest[..at])));
        if rest[at..].starts_with("<mark>") {
            out.push_str("<mark>");
            rest = &rest[at + "<mark>".len()..];
        } else {
            out.push_str("</mark>");
            rest = &rest[at + "</mark>".len()..];
        }
    }
    out
}

fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_keep_only_marks() {
        assert_eq!(safe_snippet("a <mark>b</mark> &lt;c&gt;"), "a <mark>b</mark> &lt;c&gt;");
        assert_eq!(safe_snippet("<script>x</script><mark>y</mark>"), "&lt;script&gt;x&lt;/script&gt;<mark>y</mark>");
        assert_eq!(safe_snippet("&amp;lt;"), "&amp;lt;");
    }

    #[test]
    fn cross_references() {
        assert!(is_cross_reference("other.md#x"));
        assert!(is_cross_reference("#x"));
        assert!(!is_cross_reference("https://x/y.md"));
        assert!(!is_cross_reference("script.sh"));
    }
}

/// "Runnable as plain steps": on the page of a document whose shell blocks run (DESIGN §14).
#[derive(Serialize)]
struct PlainHint {
    command: String,
    steps: usize,
    read_only: usize,
    asks: usize,
    manual: usize,
}

impl PlainHint {
    fn of(kb: &crate::model::Kb, rb: &crate::model::Runbook, body: &crate::model::Body) -> Option<PlainHint> {
        let none = std::collections::BTreeMap::new();
        let env_has = |_: &str| false;
        let input = crate::model::plain::Input {
            path: &rb.path,
            text: &body.source,
            severity: rb.severity,
            section: None,
            values: &none,
            env_has: &env_has,
            overlay: None,
        };
        let counts = crate::model::plain::plan(&input).counts();
        let command =
            if kb.config.plain { format!("runbook exec {}", rb.id) } else { format!("runbook exec {} --plain", rb.id) };
        (counts.steps > 0).then_some(PlainHint {
            command,
            steps: counts.steps,
            read_only: counts.read_only,
            asks: counts.asks,
            manual: counts.manual,
        })
    }
}

/// The table of contents of a page: its H2 and H3 headings.
fn toc(outline: &Outline) -> Vec<&Heading> {
    outline.headings.iter().filter(|h| (2..=3).contains(&h.level)).collect()
}

/// A runbook that links to the page.
#[derive(Serialize)]
struct Backlink<'a> {
    id: &'a str,
    title: &'a str,
    url: String,
}

/// A declared diagnosis on its runbook's page.
#[derive(Serialize)]
struct DiagnosisCard {
    id: String,
    cause: String,
    when: String,
    severity: &'static str,
    section: Option<String>,
    fix: Vec<FixLink>,
}

#[derive(Serialize)]
struct FixLink {
    label: String,
    url: Option<String>,
}
