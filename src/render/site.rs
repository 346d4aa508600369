//! The site as data: the KB, its runs and cycle reports, and what pages derive from them
//! (categories, tags, backlinks, latest runs), computed once and shared by every page. The
//! static build and the live server both render from a `Site`.

use super::assets::Assets;
use super::error::RenderError;
use super::templates::Templates;
use super::url::Urls;
use super::views::{RunbookRow, SiteGlobals};
use crate::archive::store::{ArchivedRun, Archives, Cycle, RECORD_FILE, RunFolder, without_same_second_suffix};
use crate::model::kb::{NotRereadable, Reread};
use crate::model::{Kb, RunbookIdx};
use crate::util::text::file_safe;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

/// Where the site goes: files on disk, or a server that renders pages on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Static,
    Served { live_reload: bool },
}

/// Runbooks sharing a tag, grouped case-insensitively.
#[derive(Debug, Clone)]
pub(crate) struct TagGroup {
    /// The spelling first seen.
    pub name: String,
    pub runbooks: Vec<RunbookIdx>,
}

/// What is not the KB is shared (`Arc`), so a site with a few runbooks read again
/// ([`Site::with_reread`]) shares its runs, templates and assets with the site before.
pub(crate) struct Site {
    pub kb: Kb,
    pub urls: Urls,
    /// Newest first, unread: a page reads the records it shows, so a year of runs costs a
    /// directory listing to load, not 50,000 records in memory.
    pub runs: Arc<Vec<RunFolder>>,
    pub cycles: Arc<Vec<Cycle>>,
    pub assets: Arc<Assets>,
    /// Categories in `runbook.toml` order, then alphabetically, with their runbooks by path.
    pub categories: Arc<Vec<(String, Vec<RunbookIdx>)>>,
    /// By lowercase tag.
    pub tags: Arc<BTreeMap<String, TagGroup>>,
    pub(super) templates: Arc<Templates>,
    /// The `site` of every template (the navigation's URL changes with the navigation).
    globals: SiteGlobals,
    run_ids: Arc<HashMap<String, usize>>,
    /// Runbook id as folder names spell it, lowercase → its runs, newest first.
    runs_of: Arc<HashMap<String, Vec<usize>>>,
}

/// Why a site cannot follow an edit by itself ([`Site::with_reread`]).
#[derive(Debug, thiserror::Error)]
pub(crate) enum NotPartial {
    #[error(transparent)]
    Kb(#[from] NotRereadable),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// The navigation of `kb` rendered into `assets` (replacing any before), and the templates
/// whose pages link to it; `globals` with its URL.
fn navigation(
    kb: &Kb,
    urls: &Urls,
    mut assets: Assets,
    mut globals: SiteGlobals,
) -> Result<(Arc<Assets>, Arc<Templates>, SiteGlobals), RenderError> {
    let mut templates = Templates::new(kb.source.root().map(Path::to_path_buf));
    let nav = super::nav::tree(kb, urls);
    let nav_html = templates.render("nav.html", crate::ctx! { nodes => nav })?;
    globals.nav_url = urls.file(&assets.add("nav.html", nav_html.into_bytes()));
    let assets = Arc::new(assets);
    templates.finish(Arc::clone(&assets), urls, &globals);
    Ok((assets, Arc::new(templates), globals))
}

/// Each run's place by its id, and the places of each runbook's runs (by the id as folder
/// names spell it, lowercase), newest first as `runs` is.
fn run_maps(runs: &[RunFolder]) -> (HashMap<String, usize>, HashMap<String, Vec<usize>>) {
    let run_ids = runs.iter().enumerate().map(|(i, r)| (r.run_id.clone(), i)).collect();
    let mut runs_of: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, run) in runs.iter().enumerate() {
        let name = run.runbook_from_name();
        runs_of.entry(name.to_lowercase()).or_default().push(i);
        // `<time>-a-2` is a second run of `a` in the same second, or a run of `a-2`.
        if let Some(stem) = without_same_second_suffix(name) {
            runs_of.entry(stem.to_lowercase()).or_default().push(i);
        }
    }
    (run_ids, runs_of)
}

/// Moves runbook `idx` from the groups of its `old` tags to those of its tags in `kb`; a group
/// left empty goes, and each group touched is named as its first runbook spells it.
fn retag(tags: &mut BTreeMap<String, TagGroup>, kb: &Kb, idx: RunbookIdx, old: &[String]) {
    let new = &kb[idx].tags;
    let keys: BTreeSet<String> = old.iter().chain(new).map(|t| t.to_lowercase()).collect();
    for key in keys {
        let member = new.iter().any(|t| t.to_lowercase() == key);
        let group = tags.entry(key.clone()).or_insert_with(|| TagGroup { name: String::new(), runbooks: Vec::new() });
        group.runbooks.retain(|&i| i != idx);
        if member {
            let at = group.runbooks.partition_point(|&i| i < idx);
            group.runbooks.insert(at, idx);
        }
        match group.runbooks.first() {
            None => {
                tags.remove(&key);
            }
            Some(&first) => {
                if let Some(spelling) = kb[first].tags.iter().find(|t| t.to_lowercase() == key) {
                    group.name = spelling.clone();
                }
            }
        }
    }
}

impl Site {
    /// Gathers everything pages need. Fails only when a template is missing or broken.
    pub(crate) fn new(kb: Kb, archives: &Archives, mode: Mode) -> Result<Site, RenderError> {
        // The server answers at its own address; only the static build honours `base_url`.
        let urls = match mode {
            Mode::Static => Urls::new(kb.config.base_url.as_deref()),
            Mode::Served { .. } => Urls::new(None),
        };
        let title = kb.config.title.clone().unwrap_or_else(|| "Runbooks".to_string());
        let runs = archives.run_folders();
        let cycles = archives.cycles();
        let root = kb.source.root().map(Path::to_path_buf);
        let assets = Assets::load(root.as_deref());

        let (run_ids, runs_of) = run_maps(&runs);
        let mut tags: BTreeMap<String, TagGroup> = BTreeMap::new();
        for (idx, rb) in kb.iter() {
            for tag in &rb.tags {
                let group =
                    tags.entry(tag.to_lowercase()).or_insert_with(|| TagGroup { name: tag.clone(), runbooks: vec![] });
                if group.runbooks.last() != Some(&idx) {
                    group.runbooks.push(idx);
                }
            }
        }
        let categories = kb.categories();
        let globals = SiteGlobals {
            title,
            base: urls.base().to_string(),
            search_mode: if mode == Mode::Static { "static" } else { "server" },
            nav_url: String::new(),
            search_meta_url: (mode == Mode::Static).then(|| urls.file(super::search_index::META)),
            reload_url: matches!(mode, Mode::Served { live_reload: true }).then(|| urls.file("_reload")),
            version: env!("CARGO_PKG_VERSION"),
        };
        let (assets, templates, globals) = navigation(&kb, &urls, assets, globals)?;
        Ok(Site {
            kb,
            urls,
            runs: Arc::new(runs),
            cycles: Arc::new(cycles),
            assets,
            categories: Arc::new(categories),
            tags: Arc::new(tags),
            templates,
            globals,
            run_ids: Arc::new(run_ids),
            runs_of: Arc::new(runs_of),
        })
    }

    /// The site after the files of runbooks `edited` changed, sharing everything else with
    /// this one; and the runbooks whose pages may show the change (every page that is not a
    /// runbook's may too), or `None` when every page may (the navigation, which each links to,
    /// changed). The navigation is rendered again only when it shows an edited runbook
    /// otherwise, and the categories gathered again only when one moved. Fails when an edit
    /// changes what names a runbook ([`Kb::reread`]): then the whole site is built again.
    pub(crate) fn with_reread(
        &self,
        edited: &[RunbookIdx],
    ) -> Result<(Site, Option<BTreeSet<RunbookIdx>>), NotPartial> {
        let Reread { kb, affected } = self.kb.reread(edited)?;
        let mut tags = Arc::clone(&self.tags);
        let (mut renamed, mut moved) = (false, false);
        for &idx in edited {
            let (old, new) = (&self.kb[idx], &kb[idx]);
            renamed |= super::nav::shows_differently(old, new);
            moved |= old.category != new.category;
            if old.tags != new.tags {
                retag(Arc::make_mut(&mut tags), &kb, idx, &old.tags);
            }
        }
        let (assets, templates, globals) = match renamed {
            true => navigation(&kb, &self.urls, (*self.assets).clone(), self.globals.clone())?,
            false => (Arc::clone(&self.assets), Arc::clone(&self.templates), self.globals.clone()),
        };
        let categories = if moved { Arc::new(kb.categories()) } else { Arc::clone(&self.categories) };
        let site = Site {
            kb,
            urls: self.urls.clone(),
            runs: Arc::clone(&self.runs),
            cycles: Arc::clone(&self.cycles),
            assets,
            categories,
            tags,
            templates,
            globals,
            run_ids: Arc::clone(&self.run_ids),
            runs_of: Arc::clone(&self.runs_of),
        };
        Ok((site, (!renamed).then_some(affected)))
    }

    /// The site after the records of runs `written` (folder names) were written in `archives`:
    /// the same site with the new ones among its runs. Records are read by the pages that show
    /// them, so a run written again changes no list; every page may show it.
    pub(crate) fn with_runs(&self, archives: &Archives, written: &[String]) -> Site {
        let new: Vec<RunFolder> = written
            .iter()
            .filter(|id| !self.run_ids.contains_key(*id))
            .map(|id| RunFolder { dir: archives.run_dir(id), run_id: id.clone() })
            .filter(|folder| folder.dir.join(RECORD_FILE).is_file())
            .collect();
        let (runs, run_ids, runs_of) = if new.is_empty() {
            (Arc::clone(&self.runs), Arc::clone(&self.run_ids), Arc::clone(&self.runs_of))
        } else {
            let mut runs: Vec<RunFolder> = self.runs.iter().cloned().chain(new).collect();
            // Newest first, as the archive lists them: run ids start with their time.
            runs.sort_by(|a, b| b.run_id.cmp(&a.run_id));
            let (run_ids, runs_of) = run_maps(&runs);
            (Arc::new(runs), Arc::new(run_ids), Arc::new(runs_of))
        };
        Site {
            kb: self.kb.clone(),
            urls: self.urls.clone(),
            runs,
            cycles: Arc::clone(&self.cycles),
            assets: Arc::clone(&self.assets),
            categories: Arc::clone(&self.categories),
            tags: Arc::clone(&self.tags),
            templates: Arc::clone(&self.templates),
            globals: self.globals.clone(),
            run_ids,
            runs_of,
        }
    }

    pub(crate) fn run_index(&self, run_id: &str) -> Option<usize> {
        self.run_ids.get(run_id).copied()
    }

    pub(crate) fn cycle_index(&self, name: &str) -> Option<usize> {
        self.cycles.iter().position(|c| c.name == name)
    }

    /// Runs of a runbook, newest first, read one by one: its folders are named after it, and
    /// a record that says another runbook (a folder renamed by hand) is left out.
    pub(crate) fn runs_of<'a>(&'a self, id: &'a str) -> impl Iterator<Item = ArchivedRun> + 'a {
        let folders = self.runs_of.get(&file_safe(id).to_lowercase()).map(Vec::as_slice).unwrap_or_default();
        folders.iter().map(|&i| self.runs[i].read()).filter(move |run| run.is_of(id))
    }

    /// One run, read.
    pub(crate) fn run(&self, index: usize) -> ArchivedRun {
        self.runs[index].read()
    }

    /// The latest readable run of every runbook that has one, once each: a run counts under the
    /// key its own runbook id makes, not under another that its folder name also fits.
    pub(crate) fn latest_runs(&self) -> impl Iterator<Item = ArchivedRun> + '_ {
        self.runs_of.iter().filter_map(|(key, list)| {
            list.iter()
                .map(|&i| self.run(i))
                .find(|run| run.record.as_ref().is_ok_and(|r| file_safe(&r.runbook.id).to_lowercase() == *key))
        })
    }

    pub(crate) fn row(&self, idx: RunbookIdx) -> RunbookRow {
        let rb = &self.kb[idx];
        let last = self.runs_of(&rb.id).next().map(|run| super::views::RunBadge::new(&self.urls, &run));
        RunbookRow::new(&self.urls, rb, last)
    }

    /// Whether a run's runbook id names a runbook of this KB.
    pub(crate) fn knows_runbook(&self, id: &str) -> bool {
        self.kb.by_id(id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KbSource;

    fn write(root: &Path, name: &str, text: &str) {
        std::fs::write(root.join("runbooks").join(name), text).expect("runbook");
    }

    fn site_of(root: &Path) -> Site {
        let kb = Kb::load_summaries(KbSource::for_dir(root.to_path_buf()));
        Site::new(kb, &Archives::new(root.join("archives")), Mode::Served { live_reload: false }).expect("site")
    }

    /// What lists and the navigation show.
    fn lists(site: &Site) -> String {
        let nav = site.assets.get("nav.html").map(|a| String::from_utf8_lossy(&a.bytes).into_owned());
        format!("{:?}\n{:?}\n{}\n{nav:?}", site.tags, site.categories, site.globals.nav_url)
    }

    #[test]
    fn an_edit_of_tags_category_and_title_gives_the_lists_a_whole_build_gives() {
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::create_dir_all(dir.path().join("runbooks")).expect("folder");
        write(dir.path(), "a.md", "---\ntags: [One, two]\ncategory: x\n---\n# A\n");
        write(dir.path(), "b.md", "---\ntags: [one, Two]\n---\n# B\n");
        write(dir.path(), "c.md", "---\ntags: [three]\n---\n# C\n");
        let site = site_of(dir.path());
        let a = site.kb.by_id("a").expect("a");
        for (text, renamed) in [
            ("---\ntags: [three, Four, four]\ncategory: y\n---\n# A\n", false),
            ("---\ntags: [one]\ncategory: y\n---\n# A, renamed\n", true),
            ("---\ncategory: x\n---\n# A, renamed\n\nNo tags now.\n", false),
        ] {
            let site = site_of(dir.path());
            write(dir.path(), "a.md", text);
            let (partial, pages) = site.with_reread(&[a]).expect("partial");
            assert_eq!(lists(&partial), lists(&site_of(dir.path())), "after {text:?}");
            assert_eq!(pages.is_none(), renamed, "every page links to the navigation");
        }
    }
}
