//! The knowledge base: every runbook, parsed in parallel, with ids resolved and links checked.

use super::cache::{FileStamp, ParseCache};
use super::config::Config;
use super::diagnostic::{Diagnostic, Rule};
pub(crate) use super::discovery::KbSource;
use super::links::Found;
use super::parse::{self, ParseContext, SourceFile};
use super::runbook::{Body, LinkKind, LinkTarget, Runbook, RunbookIdx};
use crate::util::suggest::{closest, ranked};
use crate::util::text::{did_you_mean_one_of, hex};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod reread;
pub(crate) use reread::{NotRereadable, Reread};

/// The runbooks that ship inside the binary (the repository's `runbooks/`).
#[derive(rust_embed::RustEmbed)]
#[folder = "runbooks/"]
#[include = "*.md"]
struct BuiltinRunbooks;

pub(crate) fn builtin_files() -> Vec<SourceFile> {
    let mut files: Vec<SourceFile> = BuiltinRunbooks::iter()
        .filter_map(|name| {
            let content = BuiltinRunbooks::get(&name)?;
            let mut file = SourceFile::new(format!("runbooks/{name}"), &name, None);
            file.bytes = content.data.into_owned();
            Some(file)
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// The ids of runbooks given (explicit id, path without extension): an explicit id stays; a file
/// stem is the id unless another file shares it or an explicit id equals it, and then the path
/// form (`node/_index`) is (DESIGN §3). An explicit id several files claim (the versions of a
/// Docusaurus site) gives way to the path form too, so that every file keeps a page of its own.
pub(crate) fn final_ids<'a>(entries: impl Iterator<Item = (Option<&'a str>, &'a str)>) -> Vec<String> {
    let entries: Vec<(Option<&str>, &str)> = entries.collect();
    let stem = |stem_path: &'a str| stem_path.rsplit('/').next().unwrap_or(stem_path);
    let mut claims: HashMap<Cow<str>, usize> = HashMap::new();
    for id in entries.iter().filter_map(|(id, _)| *id) {
        *claims.entry(lowercase(id)).or_default() += 1;
    }
    let mut stems: HashMap<Cow<str>, usize> = HashMap::with_capacity(entries.len());
    for (id, stem_path) in &entries {
        if id.is_none() {
            *stems.entry(lowercase(stem(stem_path))).or_default() += 1;
        }
    }
    entries
        .iter()
        .map(|(id, stem_path)| match id {
            Some(id) if claims.get(&lowercase(id)).copied().unwrap_or(0) > 1 => stem_path.to_string(),
            Some(id) => id.to_string(),
            None => {
                let key = lowercase(stem(stem_path));
                if stems.get(&key).copied().unwrap_or(0) > 1 || claims.contains_key(&key) {
                    stem_path.to_string()
                } else {
                    stem(stem_path).to_string()
                }
            }
        })
        .collect()
}

/// `text` in lowercase, borrowed when it already is (ASCII without capitals, as most file
/// names are): ids are decided for every file on every sync.
fn lowercase(text: &str) -> Cow<'_, str> {
    if text.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.to_lowercase())
    }
}

/// A fingerprint of the built-in KB: changes exactly when an embedded runbook does.
pub(crate) fn builtin_signature() -> String {
    let mut hasher = Sha256::new();
    for file in builtin_files() {
        hasher.update(file.path.as_bytes());
        hasher.update(Sha256::digest(&file.bytes));
    }
    hex(&hasher.finalize())
}

/// What a name resolves to.
#[derive(Debug, Clone)]
enum Name {
    Unique(RunbookIdx),
    Ambiguous(Vec<RunbookIdx>),
}

impl Name {
    /// `name` now also names `idx`.
    fn add(names: &mut HashMap<String, Name>, name: String, idx: RunbookIdx) {
        let name = match names.entry(name) {
            std::collections::hash_map::Entry::Vacant(vacant) => {
                vacant.insert(Name::Unique(idx));
                return;
            }
            std::collections::hash_map::Entry::Occupied(occupied) => occupied.into_mut(),
        };
        match name {
            Name::Unique(other) if *other == idx => {}
            Name::Unique(other) => *name = Name::Ambiguous(vec![*other, idx]),
            Name::Ambiguous(list) => {
                if !list.contains(&idx) {
                    list.push(idx);
                }
            }
        }
    }
}

/// The outcome of looking a runbook up by id, alias or path.
#[derive(Debug)]
pub enum Lookup {
    Found(RunbookIdx),
    /// A bare stem shared by several files (`README`): each is addressed by its path.
    Ambiguous(Vec<RunbookIdx>),
    NotFound {
        suggestions: Vec<String>,
    },
}

/// A runbook that links to another, and the line of its first such link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlink {
    pub from: RunbookIdx,
    pub line: usize,
}

/// Cheap to clone: runbooks and everything derived from them are shared, so a KB with one
/// runbook read again ([`Kb::reread`]) copies pointers, not runbooks.
#[derive(Debug, Clone)]
pub struct Kb {
    pub source: KbSource,
    pub config: Config,
    pub runbooks: Vec<Arc<Runbook>>,
    /// KB-wide problems (`runbook.toml`).
    pub diagnostics: Vec<Diagnostic>,
    /// How the load went, for `-v`.
    pub stats: LoadStats,
    pub(super) ctx: ParseContext,
    names: Arc<Names>,
    /// Per runbook, the others that link to it, in KB order.
    pub(super) backlinks: Vec<Shared<Backlink>>,
    /// Per runbook, the others with a link whose path names it (whether or not its anchor is
    /// there), in KB order: the runbooks whose links a change of its headings decides again.
    pub(super) inbound: Vec<Shared<RunbookIdx>>,
}

/// A list a KB and the KB made from it by [`Kb::reread`] share until one of them changes it.
type Shared<T> = Arc<[T]>;

/// How runbooks are looked up; changes only when a runbook's id, aliases or path do.
#[derive(Debug, Clone, Default)]
struct Names {
    /// Lowercase id, stem, path form and alias → the runbooks they name.
    names: HashMap<String, Name>,
    /// Lowercase id → its runbook (the first, when two share an explicit id).
    ids: HashMap<String, RunbookIdx>,
    /// KB-relative path → its runbook.
    by_path: HashMap<String, RunbookIdx>,
    /// Lowercase file path (`runbooks/x.md`) or path form with `.md` → its runbook.
    by_file_name: HashMap<String, RunbookIdx>,
}

/// What loading the KB cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadStats {
    /// Files parsed in this process.
    pub parsed: usize,
    /// Summaries taken from the parse cache.
    pub cached: usize,
    pub elapsed: std::time::Duration,
}

/// How the finding on each runbook of several stating one id begins.
const DUPLICATE_ID: &str = "duplicate runbook id";

/// Whether `finding` says the runbook states an id another runbook states too.
pub(super) fn is_duplicate_id(finding: &Diagnostic) -> bool {
    finding.rule == Rule::Id && finding.message.starts_with(DUPLICATE_ID)
}

/// The state folder name inside a KB root.
pub(crate) const STATE_DIR: &str = ".runbook";

impl Kb {
    /// Reads and parses every runbook of `source`. Never fails: unreadable files become runbooks
    /// carrying their error.
    pub fn load(source: KbSource) -> Kb {
        Kb::load_with(source, true)
    }

    /// Like [`Kb::load`], without keeping steps and text in memory: for commands that need only
    /// metadata and diagnostics (`list`, `check`), which then stay small on a large KB.
    pub fn load_summaries(source: KbSource) -> Kb {
        Kb::load_with(source, false)
    }

    fn load_with(source: KbSource, keep_bodies: bool) -> Kb {
        let started = std::time::Instant::now();
        let mut diagnostics = Vec::new();
        let (config, diag) = Config::load(&source);
        diagnostics.extend(diag);
        let ctx = ParseContext::for_kb(&source, &config);
        let cache_dir = source.root().map(|root| root.join(STATE_DIR));
        let mut cache = ParseCache::open(cache_dir.as_deref(), ctx.fingerprint());
        let files = source.files();
        let stamps: Vec<Option<FileStamp>> =
            files.par_iter().map(|f| f.file.as_deref().and_then(FileStamp::of_path)).collect();
        // Cached summaries are moved out of the cache, not copied: ten thousand of them are a
        // lot of memory to allocate twice.
        let work: Vec<(SourceFile, Option<FileStamp>, Option<Runbook>)> = files
            .into_iter()
            .zip(stamps)
            .map(|(file, stamp)| {
                let cached = stamp.and_then(|s| cache.take(&file.path, s));
                (file, stamp, cached)
            })
            .collect();
        // Each summary goes to its own allocation at once: a list of them all, moved into
        // allocations afterwards, would leave its (large) buffer behind in the heap.
        let loaded: Vec<(Arc<Runbook>, Option<FileStamp>, bool)> = work
            .into_par_iter()
            .map(|(file, stamp, cached)| {
                let (mut runbook, fresh) = match cached {
                    Some(cached) => (Runbook { file: file.file, ..cached }, false),
                    None => (parse::read_file(file, &ctx), true),
                };
                runbook.stamp = stamp;
                runbook.shrink_to_fit();
                if !keep_bodies {
                    runbook.body = None;
                }
                (Arc::new(runbook), stamp, fresh)
            })
            .collect();
        cache.save(loaded.iter().map(|(rb, stamp, fresh)| (&**rb, *stamp, *fresh)));
        let parsed = loaded.iter().filter(|(_, _, fresh)| *fresh).count();
        let cached = loaded.len() - parsed;
        let runbooks = loaded.into_iter().map(|(rb, _, _)| rb).collect();
        let mut kb = Kb::assemble(source, config, runbooks, diagnostics);
        kb.stats = LoadStats { parsed, cached, elapsed: started.elapsed() };
        kb
    }

    /// Builds the KB from parsed runbooks: assigns ids, indexes names, resolves links.
    pub fn assemble(source: KbSource, config: Config, runbooks: Vec<Arc<Runbook>>, diagnostics: Vec<Diagnostic>) -> Kb {
        let mut kb = Kb {
            ctx: ParseContext::for_kb(&source, &config),
            source,
            config,
            runbooks,
            diagnostics,
            stats: LoadStats::default(),
            names: Arc::default(),
            backlinks: Vec::new(),
            inbound: Vec::new(),
        };
        kb.assign_ids();
        kb.index_names();
        kb.index_paths();
        kb.resolve_links();
        (kb.backlinks, kb.inbound) = links_into(&kb.runbooks);
        kb
    }

    /// Every runbook with its place.
    pub fn iter(&self) -> impl Iterator<Item = (RunbookIdx, &Runbook)> {
        self.runbooks.iter().enumerate().map(|(i, rb)| (RunbookIdx::at(i), &**rb))
    }

    /// Explicit ids are kept (two equal ones are an error on both); a file stem is the id when
    /// no other file shares it, else the path form (`node/_index`) is.
    fn assign_ids(&mut self) {
        let ids =
            final_ids(self.runbooks.iter().map(|rb| (rb.explicit_id.then_some(rb.id.as_str()), rb.stem_path.as_str())));
        let mut explicit: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, rb) in self.runbooks.iter().enumerate() {
            if rb.explicit_id {
                explicit.entry(rb.id.to_lowercase()).or_default().push(i);
            }
        }
        for indices in explicit.values().filter(|v| v.len() > 1) {
            for &i in indices {
                let others: Vec<&str> =
                    indices.iter().filter(|&&j| j != i).map(|&j| self.runbooks[j].path.as_str()).collect();
                let rb = &self.runbooks[i];
                let message = format!("{DUPLICATE_ID} `{}`", rb.id);
                // Pages of a versioned docs site repeat their ids by design; runbooks must not,
                // or `exec ID` could not tell which one to run.
                let runnable = indices.iter().any(|&j| !self.runbooks[j].is_document());
                let diag = if runnable {
                    Diagnostic::error(Rule::Id, &rb.path, rb.id_line, 1, message)
                        .with_hint(format!("{} also uses it; ids are unique across the KB", others.join(" and ")))
                } else {
                    Diagnostic::warning(Rule::Id, &rb.path, rb.id_line, 1, message).with_hint(format!(
                        "{} also uses it: each page is addressed by its path ({})",
                        others.join(" and "),
                        rb.stem_path
                    ))
                };
                Arc::make_mut(&mut self.runbooks[i]).diagnostics.push(diag);
            }
        }
        for (rb, id) in self.runbooks.iter_mut().zip(ids) {
            Arc::make_mut(rb).id = id;
        }
    }

    fn index_names(&mut self) {
        let mut names: HashMap<String, Name> = HashMap::with_capacity(self.runbooks.len() * 3);
        let mut exact: HashMap<String, RunbookIdx> = HashMap::with_capacity(self.runbooks.len());
        // Ids first: an id always beats a stem or an alias of another runbook.
        for (idx, rb) in self.iter() {
            let id = rb.id.to_lowercase();
            Name::add(&mut names, id.clone(), idx);
            exact.entry(id).or_insert(idx);
        }
        // `exact` now holds every id, lowercase: names that no stem or alias takes.
        for (idx, rb) in self.iter() {
            let stem = lowercase(rb.stem_path.rsplit('/').next().unwrap_or(&rb.stem_path));
            if !exact.contains_key(&*stem) {
                Name::add(&mut names, stem.into_owned(), idx);
            }
            let stem_path = lowercase(&rb.stem_path);
            if !exact.contains_key(&*stem_path) {
                Name::add(&mut names, stem_path.into_owned(), idx);
            }
        }
        let mut alias_warnings = Vec::new();
        for (idx, rb) in self.iter() {
            for alias in &rb.aliases {
                let key = alias.to_lowercase();
                if let Some(Name::Unique(other)) = names.get(&key)
                    && *other != idx
                    && exact.contains_key(&key)
                {
                    alias_warnings.push((idx, alias.clone(), self[*other].path.clone()));
                    continue;
                }
                Name::add(&mut names, key, idx);
            }
        }
        for (idx, alias, other) in alias_warnings {
            let rb = Arc::make_mut(&mut self.runbooks[idx.position()]);
            let diag = Diagnostic::warning(
                Rule::Id,
                &rb.path,
                rb.aliases_line,
                1,
                format!("alias `{alias}` is the id of {other}"),
            )
            .with_hint("the id wins; remove or rename the alias");
            rb.diagnostics.push(diag);
        }
        let lookup = Arc::make_mut(&mut self.names);
        lookup.names = names;
        lookup.ids = exact;
    }

    /// The runbook at this path, compared without regard to case (`.md` may stand for the
    /// file's Markdown extension).
    pub(super) fn by_file_name(&self, lowercase_path: &str) -> Option<RunbookIdx> {
        self.names.by_file_name.get(lowercase_path).copied()
    }

    fn index_paths(&mut self) {
        let lookup = Arc::make_mut(&mut self.names);
        for (i, rb) in self.runbooks.iter().enumerate() {
            let idx = RunbookIdx::at(i);
            lookup.by_path.insert(rb.path.clone(), idx);
            lookup.by_file_name.entry(rb.path.to_lowercase()).or_insert(idx);
            lookup.by_file_name.entry(format!("{}.md", rb.stem_path.to_lowercase())).or_insert(idx);
        }
    }

    /// Looks a runbook up by id, alias, path form or file path, case-insensitively.
    pub fn lookup(&self, query: &str) -> Lookup {
        let key = query.trim().trim_start_matches("./").to_lowercase();
        if super::discovery::is_markdown_path(&key)
            && let Some(&idx) = self.names.by_file_name.get(&key)
        {
            return Lookup::Found(idx);
        }
        match self.names.names.get(&key) {
            Some(Name::Unique(idx)) => Lookup::Found(*idx),
            Some(Name::Ambiguous(list)) => Lookup::Ambiguous(list.clone()),
            None => {
                let candidates = self.runbooks.iter().flat_map(|rb| std::iter::once(&rb.id).chain(rb.aliases.iter()));
                let suggestions = ranked(query, candidates.map(String::as_str), 3);
                Lookup::NotFound { suggestions: suggestions.into_iter().map(str::to_string).collect() }
            }
        }
    }

    /// The runbook with exactly this id (case-insensitive).
    pub fn by_id(&self, id: &str) -> Option<RunbookIdx> {
        self.names.ids.get(&id.to_lowercase()).copied()
    }

    /// The runbook at this KB-relative path (paths are unique; ids may not be).
    pub fn by_path(&self, path: &str) -> Option<RunbookIdx> {
        self.names.by_path.get(path).copied()
    }

    /// Categories in `runbook.toml` order, then alphabetically (case-insensitive; the first
    /// spelling names it), each with its runbooks in path order.
    pub fn categories(&self) -> Vec<(String, Vec<RunbookIdx>)> {
        let mut by_name: BTreeMap<String, (String, Vec<RunbookIdx>)> = BTreeMap::new();
        for (idx, rb) in self.iter() {
            let entry = by_name.entry(rb.category.to_lowercase()).or_insert_with(|| (rb.category.clone(), Vec::new()));
            entry.1.push(idx);
        }
        let mut categories: Vec<(String, Vec<RunbookIdx>)> = by_name.into_values().collect();
        categories.sort_by_key(|(name, _)| {
            let rank = self.config.categories.iter().position(|c| c.eq_ignore_ascii_case(name)).unwrap_or(usize::MAX);
            (rank, name.to_lowercase())
        });
        categories
    }

    /// The other runbooks linking to `idx`, in KB order, each with the line of its first link.
    pub fn backlinks(&self, idx: RunbookIdx) -> &[Backlink] {
        self.backlinks.get(idx.position()).map(|links| &**links).unwrap_or_default()
    }

    /// Every diagnostic, KB-wide ones first, then by path and line.
    pub fn all_diagnostics(&self) -> Vec<&Diagnostic> {
        let mut all: Vec<&Diagnostic> = self.diagnostics.iter().collect();
        all.extend(self.runbooks.iter().flat_map(|rb| rb.diagnostics.iter()));
        all
    }

    /// The steps and text of a runbook: kept from loading, or read and parsed now when the
    /// summary came from the cache.
    pub fn body(&self, idx: RunbookIdx) -> std::io::Result<Arc<Body>> {
        let rb = &self[idx];
        if let Some(body) = &rb.body {
            return Ok(Arc::clone(body));
        }
        let source = match &rb.file {
            Some(file) => {
                let mut source = SourceFile::new(rb.path.clone(), &format!("{}.md", rb.stem_path), Some(file.clone()));
                source.bytes = std::fs::read(file)?;
                source
            }
            None => builtin_files()
                .into_iter()
                .find(|f| f.path == rb.path)
                .ok_or_else(|| std::io::Error::other(format!("{} is not in the built-in knowledge base", rb.path)))?,
        };
        let parsed = parse::parse(source, &self.ctx);
        parsed.body.ok_or_else(|| std::io::Error::other("parser returned no body"))
    }

    /// The source text a diagnostic points into, for snippets.
    pub fn source_of(&self, path: &str) -> Option<String> {
        let idx = self.by_path(path);
        if let Some(body) = idx.and_then(|idx| self[idx].body.as_ref()) {
            return Some(body.source.clone());
        }
        if let Some(root) = self.source.root() {
            return std::fs::read_to_string(root.join(path)).ok();
        }
        self.body(idx?).ok().map(|b| b.source.clone())
    }

    /// Where a KB-relative path lives on disk, for messages that should be clickable.
    pub fn file_path(&self, path: &str) -> Option<PathBuf> {
        self.source.root().map(|root| root.join(path))
    }

    /// Search index and caches (DESIGN §2): `DIR/.runbook/`, or the XDG state dir for the
    /// built-in KB.
    pub fn state_dir(&self) -> PathBuf {
        self.source.state_dir()
    }

    /// Where run archives go: `--archives` wins, then `runbook.toml`, then `DIR/archives/`.
    pub fn archives_dir(&self, override_dir: Option<&Path>) -> PathBuf {
        self.source.archives_dir(&self.config, override_dir)
    }

    fn resolve_links(&mut self) {
        let on_disk = self.source.root().map(Path::to_path_buf);
        // Each runbook's links are resolved against the KB alone: in parallel.
        let resolved: Vec<Vec<Resolved>> = self
            .runbooks
            .par_iter()
            .enumerate()
            .map(|(i, rb)| self.resolve_links_of(RunbookIdx::at(i), rb, on_disk.as_deref()))
            .collect();
        for (rb, results) in self.runbooks.iter_mut().zip(resolved) {
            apply_resolved(Arc::make_mut(rb), results);
        }
    }

    /// Where each link of `rb` (at `idx`) leads, and what is wrong with it.
    fn resolve_links_of(&self, idx: RunbookIdx, rb: &Runbook, on_disk: Option<&Path>) -> Vec<Resolved> {
        rb.links
            .iter()
            .map(|link| match link.kind {
                LinkKind::Shortcode => self.resolve_ref(rb, &link.dest, link.line, link.column),
                LinkKind::Markdown => self.resolve_link(idx, rb, &link.dest, link.line, link.column, on_disk),
            })
            .collect()
    }

    fn resolve_link(
        &self,
        idx: RunbookIdx,
        rb: &Runbook,
        dest: &str,
        line: usize,
        column: usize,
        on_disk: Option<&Path>,
    ) -> Resolved {
        let (file_part, anchor) = match dest.split_once('#') {
            Some((file, anchor)) => (file, Some(percent_decode(anchor))),
            None => (dest, None),
        };
        let file_part = file_part.split('?').next().unwrap_or_default();
        if file_part.is_empty() {
            return self.check_anchor(idx, rb, anchor, line, column);
        }
        let decoded = percent_decode(file_part);
        let joined = join_relative(rb.dir(), &decoded);
        if let Some(target) = joined.as_deref().and_then(|t| self.by_path(t)) {
            return self.check_anchor(target, rb, anchor, line, column);
        }
        match self.page_for_link(rb, &decoded, joined.as_deref()) {
            Some(Found::Exact(target)) => return self.check_anchor(target, rb, anchor, line, column),
            Some(Found::IgnoringCase(target)) => {
                return self.matched_ignoring_case(target, rb, anchor, file_part, line, column);
            }
            None => {}
        }
        // Not a runbook of this KB: fine if the file exists (an image, a script, a doc outside
        // the KB folder); otherwise say so — an error for a missing runbook, a warning for others.
        let base = rb.file.as_deref().and_then(Path::parent).or(on_disk);
        if base.is_some_and(|dir| dir.join(&decoded).exists()) {
            return Resolved::nowhere(None);
        }
        let is_markdown = super::discovery::is_markdown_path(&decoded);
        match joined {
            Some(target) if is_markdown => {
                let hint = match self.similar_runbook(&target) {
                    Some(best) => did_you_mean_one_of(&[relative_to(rb.dir(), best)]),
                    None => "the path is relative to this file's folder".to_string(),
                };
                let message = format!("link to missing runbook `{file_part}`");
                Resolved::nowhere(Some(Diagnostic::error(Rule::Link, &rb.path, line, column, message).with_hint(hint)))
            }
            _ if base.is_some() => {
                let message = format!("link to missing file `{file_part}`");
                Resolved::nowhere(Some(Diagnostic::warning(Rule::Link, &rb.path, line, column, message)))
            }
            _ => Resolved::nowhere(None),
        }
    }

    /// A runbook in the same folder whose file name is close to the missing `target`.
    fn similar_runbook(&self, target: &str) -> Option<&str> {
        let (dir, name) = target.rsplit_once('/').unwrap_or(("", target));
        let siblings = self.runbooks.iter().filter(|r| r.dir() == dir).map(|r| r.path.as_str());
        let names: Vec<(&str, &str)> = siblings.map(|p| (p.rsplit('/').next().unwrap_or(p), p)).collect();
        let best = closest(name, names.iter().map(|(n, _)| *n))?;
        names.iter().find(|(n, _)| *n == best).map(|(_, p)| *p)
    }

    pub(super) fn check_anchor(
        &self,
        target: RunbookIdx,
        rb: &Runbook,
        anchor: Option<String>,
        line: usize,
        column: usize,
    ) -> Resolved {
        let target_rb = &self[target];
        // `#tab/…` is DocFX's tab syntax, not an anchor.
        let anchor = anchor.filter(|a| !a.is_empty() && !a.starts_with("tab/"));
        if let Some(anchor) = &anchor
            && !target_rb.has_anchor(anchor)
        {
            if target_rb.has_generated_anchors() {
                let message = format!("link to anchor `#{anchor}`, which {} may make itself", target_rb.path);
                let hint = "that page has headings without text (its site generator names them): runbook cannot tell";
                let diag = Diagnostic::warning(Rule::Link, &rb.path, line, column, message).with_hint(hint);
                return Resolved::to(target, Some(LinkTarget { runbook: target, anchor: None }), Some(diag));
            }
            let anchors = target_rb.headings.iter().map(|h| h.anchor);
            let hint = match closest(anchor, anchors) {
                Some(best) => did_you_mean_one_of(&[format!("#{best}")]),
                None => format!("{} has no heading with that anchor", target_rb.path),
            };
            let message = format!("link to missing anchor `#{anchor}` in {}", target_rb.path);
            let diag = Diagnostic::error(Rule::Link, &rb.path, line, column, message).with_hint(hint);
            return Resolved::to(target, None, Some(diag));
        }
        Resolved::to(target, Some(LinkTarget { runbook: target, anchor }), None)
    }
}

impl std::ops::Index<RunbookIdx> for Kb {
    type Output = Runbook;

    fn index(&self, idx: RunbookIdx) -> &Runbook {
        &self.runbooks[idx.position()]
    }
}

/// What a link resolved to.
pub(super) struct Resolved {
    /// Where it leads, when it leads somewhere.
    target: Option<LinkTarget>,
    /// What is wrong with it.
    diagnostic: Option<Diagnostic>,
    /// The runbook its path names, even when the anchor is not there.
    page: Option<RunbookIdx>,
}

impl Resolved {
    /// A link to no runbook of the KB.
    pub(super) fn nowhere(diagnostic: Option<Diagnostic>) -> Resolved {
        Resolved { target: None, diagnostic, page: None }
    }

    /// A link whose path names `page`.
    pub(super) fn to(page: RunbookIdx, target: Option<LinkTarget>, diagnostic: Option<Diagnostic>) -> Resolved {
        Resolved { target, diagnostic, page: Some(page) }
    }

    /// The same link with another finding (none of its own).
    pub(super) fn with_diagnostic(self, diagnostic: Diagnostic) -> Resolved {
        Resolved { diagnostic: Some(diagnostic), ..self }
    }

    pub(super) fn has_diagnostic(&self) -> bool {
        self.diagnostic.is_some()
    }
}

/// Sets each link's target and page, and adds its findings to the runbook's.
fn apply_resolved(rb: &mut Runbook, results: Vec<Resolved>) {
    for (link, resolved) in rb.links.iter_mut().zip(results) {
        link.target = resolved.target;
        link.page = resolved.page;
        rb.diagnostics.extend(resolved.diagnostic);
    }
}

/// Per runbook, the others that link to it, each once with the line of its first link; and
/// the others whose links' paths name it.
fn links_into(runbooks: &[Arc<Runbook>]) -> (Vec<Shared<Backlink>>, Vec<Shared<RunbookIdx>>) {
    let mut backlinks = vec![Vec::new(); runbooks.len()];
    let mut inbound = vec![Vec::new(); runbooks.len()];
    for (i, rb) in runbooks.iter().enumerate() {
        let from = RunbookIdx::at(i);
        for link in backlinks_from(from, rb) {
            backlinks[link.0.position()].push(link.1);
        }
        for page in pages_named_by(from, rb) {
            inbound[page.position()].push(from);
        }
    }
    (shared_lists(backlinks), shared_lists(inbound))
}

/// The backlinks runbook `from` gives: each runbook it links to, with the line of the first link.
pub(super) fn backlinks_from(from: RunbookIdx, rb: &Runbook) -> Vec<(RunbookIdx, Backlink)> {
    let mut seen = BTreeSet::new();
    rb.links
        .iter()
        .filter_map(|link| link.target.as_ref().map(|t| (t.runbook, link.line)))
        .filter(|&(target, _)| target != from && seen.insert(target))
        .map(|(target, line)| (target, Backlink { from, line }))
        .collect()
}

/// The other runbooks the paths of `rb`'s links name, each once.
pub(super) fn pages_named_by(from: RunbookIdx, rb: &Runbook) -> BTreeSet<RunbookIdx> {
    rb.links.iter().filter_map(|link| link.page).filter(|&page| page != from).collect()
}

/// Lists that share one allocation when empty, as most are.
fn shared_lists<T: Clone>(lists: Vec<Vec<T>>) -> Vec<Shared<T>> {
    let empty: Shared<T> = Arc::from(Vec::new());
    lists.into_iter().map(|list| if list.is_empty() { Arc::clone(&empty) } else { Arc::from(list) }).collect()
}

/// `dir` + `relative`, with `.` and `..` folded; `None` when it climbs above the root.
pub(super) fn join_relative(dir: &str, relative: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// `target` written relative to `dir`, for hints.
fn relative_to(dir: &str, target: &str) -> String {
    let dir_parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    let target_parts: Vec<&str> = target.split('/').collect();
    let common = dir_parts.iter().zip(&target_parts).take_while(|(a, b)| a == b).count();
    let mut out: Vec<&str> = vec![".."; dir_parts.len() - common];
    out.extend(&target_parts[common..]);
    out.join("/")
}

/// `%XX` escapes decoded; invalid escapes stay as written, invalid UTF-8 becomes U+FFFD.
pub(super) fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

pub(crate) fn xdg_state_dir() -> PathBuf {
    use etcetera::BaseStrategy;
    match etcetera::choose_base_strategy() {
        Ok(strategy) => strategy.state_dir().unwrap_or_else(|| strategy.data_dir()).join("runbook"),
        Err(_) => std::env::temp_dir().join("runbook"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_relative_paths() {
        assert_eq!(
            join_relative("runbooks/operations", "storage-crisis.md").as_deref(),
            Some("runbooks/operations/storage-crisis.md")
        );
        assert_eq!(
            join_relative("runbooks/operations", "../architecture/gpu.md").as_deref(),
            Some("runbooks/architecture/gpu.md")
        );
        assert_eq!(join_relative("", "../x.md"), None);
        assert_eq!(relative_to("runbooks/operations", "runbooks/architecture/gpu.md"), "../architecture/gpu.md");
    }

    #[test]
    fn final_ids_follow_the_rules_of_design_3() {
        let ids = final_ids(
            [
                (None, "ops/disk"),
                (Some("GPU"), "arch/gpu-notes"),
                (None, "a/README"),
                (None, "b/readme"),
                (None, "x/gpu"),
                (Some("same"), "v1/intro"),
                (Some("SAME"), "v2/intro"),
                (None, "Ünïcode/Straße"),
            ]
            .into_iter(),
        );
        assert_eq!(
            ids,
            [
                "disk", "GPU", "a/README", "b/readme",
                // Its stem is another file's explicit id, whatever the case.
                "x/gpu", "v1/intro", "v2/intro", "Straße",
            ]
        );
        assert_eq!(lowercase("Straße"), "straße");
        assert!(matches!(lowercase("synth-00042"), Cow::Borrowed(_)));
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("my%20file.md"), "my file.md");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        // An escape cut short by a multi-byte character (it panicked once).
        assert_eq!(percent_decode("%1é.md"), "%1é.md");
    }
}
