//! A parsed runbook: metadata, steps, sections and links, plus whatever went wrong reading it.

use super::diagnostic::Diagnostic;
use super::docs_syntax::Prepared;
use super::headings::Headings;
use super::outline::Outline;
use super::step::{Severity, Step};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// What the KB knows of every runbook: metadata, sections, links, diagnostics. Cheap to keep for
/// ten thousand files and cached between runs; the steps live in [`Body`], parsed on demand.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Runbook {
    /// Canonical id: front-matter `id`, else the file stem, else (stem shared) the path form.
    pub id: String,
    pub explicit_id: bool,
    /// Line of the `id:` key, or 1.
    pub id_line: usize,
    /// Path relative to the KB root, `/`-separated (`runbooks/operations/cuda-304.md`).
    pub path: String,
    /// Path relative to the runbooks folder, without `.md` (`operations/cuda-304`).
    pub stem_path: String,
    /// The file on disk; `None` for the built-in KB.
    pub file: Option<PathBuf>,
    pub title: String,
    pub aliases: Vec<String>,
    pub summary: String,
    pub tags: Vec<String>,
    pub category: String,
    pub severity: Severity,
    pub owner: Option<String>,
    pub vars: BTreeMap<String, serde_json::Value>,
    pub secrets: Vec<String>,
    /// Alert names this runbook answers (front matter `alerts`).
    #[serde(default)]
    pub alerts: Vec<String>,
    /// Whether an alert may run it (front matter `on_alert`).
    #[serde(default)]
    pub on_alert: super::alerting::OnAlert,
    /// What `runbook watch` checks (front matter `watch`).
    #[serde(default)]
    pub watch: Option<super::alerting::Watch>,
    /// Front-matter keys that are not runbook keys (the site generator's `weight`, `draft`,
    /// `sidebar_position`, a tool's own table), kept as written.
    #[serde(default)]
    pub extra: BTreeMap<String, serde_json::Value>,
    /// Line of the `aliases:` key, for alias diagnostics.
    pub aliases_line: usize,
    /// Number of step fences, including ones that did not parse.
    pub step_fences: usize,
    pub headings: Headings,
    /// Anchors set by raw HTML (`<a name="x">`, `id="x"`).
    #[serde(default)]
    pub html_anchors: Vec<String>,
    pub links: Vec<Link>,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    pub diagnostics: Vec<Diagnostic>,
    /// Errors found in the file itself (not KB-wide ones such as broken links): a runbook with
    /// any is left out of the search index.
    #[serde(default)]
    pub file_errors: usize,
    /// Size and modification time when loaded from disk.
    #[serde(skip)]
    pub stamp: Option<super::cache::FileStamp>,
    /// Set when the file was parsed in this process; absent when the summary came from the cache.
    #[serde(skip)]
    pub body: Option<std::sync::Arc<Body>>,
}

/// The parts of a runbook only execution and rendering need.
#[derive(Debug, Clone)]
pub struct Body {
    /// The text with any BOM removed.
    pub source: String,
    pub steps: Vec<Step>,
    /// The `yaml diagnosis` blocks, in document order (DESIGN §4).
    pub diagnoses: Vec<super::diagnosis::Diagnosis>,
    /// SHA-256 of the bytes this body was parsed from (the file may have changed since the
    /// summary was read).
    pub sha256: String,
    /// The Markdown as the site generator means it (shortcodes, admonitions): what the index
    /// and the site read.
    pub prepared: Arc<Prepared>,
    /// The outline of [`Body::markdown`]: what search, the site and the renderer walk.
    pub outline: Arc<Outline>,
}

impl Body {
    /// The Markdown to walk for search and the site: the prepared text, lines as in the file.
    pub fn markdown(&self) -> &str {
        self.prepared.text(&self.source)
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id.eq_ignore_ascii_case(id))
    }
}

/// A relative link to another `.md` file (or an `#anchor` on the same page).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Link {
    pub dest: String,
    pub line: usize,
    pub column: usize,
    #[serde(default)]
    pub kind: LinkKind,
    /// Set by the KB once every runbook is known.
    #[serde(skip)]
    pub target: Option<LinkTarget>,
    /// The runbook the link's path leads to, even when the anchor it names is not there (then
    /// `target` is `None`): whose headings, when they change, decide this link again.
    #[serde(skip)]
    pub page: Option<RunbookIdx>,
}

/// How a link was written, which decides how it resolves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// `[text](path.md#anchor)`: relative to the file's folder, as forges resolve it.
    #[default]
    Markdown,
    /// `{{< ref "path" >}}` / `{{< relref >}}`: Hugo's rules (extension optional, relative to
    /// the page, then to the content root, then any page of that name).
    Shortcode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTarget {
    pub runbook: RunbookIdx,
    pub anchor: Option<String>,
}

/// A runbook's place in its [`Kb`](super::Kb): `kb[idx]`, `kb.body(idx)`. Meaningful only for
/// the KB that gave it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RunbookIdx(u32);

impl RunbookIdx {
    /// The runbook at `position` of the KB's list. A KB holds far fewer than 2³² runbooks (each
    /// is a file it keeps in memory), so the position always fits.
    pub(crate) fn at(position: usize) -> RunbookIdx {
        RunbookIdx(u32::try_from(position).unwrap_or(u32::MAX))
    }

    /// The position in [`Kb::runbooks`](super::Kb::runbooks).
    pub fn position(self) -> usize {
        self.0 as usize
    }
}

/// File stems that make a file the page of its folder (`_index.md` for Hugo, `index.md`,
/// `README.md` for forges), compared without regard to case.
pub(crate) const INDEX_STEMS: [&str; 3] = ["_index", "index", "readme"];

pub(crate) fn is_index_stem(stem: &str) -> bool {
    INDEX_STEMS.iter().any(|s| s.eq_ignore_ascii_case(stem))
}

impl Runbook {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// Errors that keep it from running: all but broken links, which only `check` minds.
    pub fn blocking_errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.blocks_exec())
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }

    /// A runbook without steps is a document: indexed and rendered, not executable.
    pub fn is_document(&self) -> bool {
        self.step_fences == 0
    }

    /// Whether a link may point at `#anchor`: a heading or an HTML `id`/`name`, compared without
    /// regard to case, as browsers on forges do.
    pub fn has_anchor(&self, anchor: &str) -> bool {
        self.headings.iter().any(|h| h.anchor.eq_ignore_ascii_case(anchor))
            || self.html_anchors.iter().any(|a| a.eq_ignore_ascii_case(anchor))
    }

    /// Whether some heading has no text (only HTML, a generator's macro): its anchor is made by
    /// the site generator, so a link to an unknown anchor here may still work.
    pub fn has_generated_anchors(&self) -> bool {
        // A heading of symbols only (`### $$`) has text but no anchor of GitHub's kind: DocFX
        // names it `section`, `section-1`, … as it would an empty one.
        self.headings.iter().any(|h| {
            h.text.trim().is_empty() || h.anchor.trim_start_matches(|c: char| c == '-' || c.is_ascii_digit()).is_empty()
        })
    }

    /// Gives back what its lists hold beyond their length: they grew by doubling while the file
    /// was parsed or its summary read, and a loaded KB keeps them for as long as it lives.
    pub fn shrink_to_fit(&mut self) {
        self.aliases.shrink_to_fit();
        self.tags.shrink_to_fit();
        self.secrets.shrink_to_fit();
        self.alerts.shrink_to_fit();
        self.html_anchors.shrink_to_fit();
        self.links.shrink_to_fit();
        self.diagnostics.shrink_to_fit();
    }

    /// The folder of the file relative to the KB root (`runbooks/operations`).
    pub fn dir(&self) -> &str {
        self.path.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("")
    }
}
