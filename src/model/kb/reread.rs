//! A KB with a few runbooks read again, for a server that must not rebuild everything for an
//! edit of one file. What the edit can change is decided again — the file's own findings, its
//! links, the backlinks they give, and the links of others into it when its headings changed —
//! and the rest is shared with the KB before. An edit that changes what names the runbook (its
//! id, aliases), or what other files are parsed with, is not one this can follow: the caller
//! loads the KB again.

use super::{Backlink, Kb, Name, Resolved, apply_resolved, backlinks_from, is_duplicate_id, pages_named_by};
use crate::model::diagnostic::{Diagnostic, Rule};
use crate::model::parse::{self, SourceFile};
use crate::model::runbook::{Runbook, RunbookIdx, is_index_stem};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// The KB after the edit, and whose pages it may have changed.
#[derive(Debug)]
pub struct Reread {
    pub kb: Kb,
    /// The runbooks read again, those their links lead to now or led to before (whose
    /// backlinks changed), and those whose links into them were decided again.
    pub affected: BTreeSet<RunbookIdx>,
}

/// Why an edit needs the whole KB loaded again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotRereadable {
    #[error("the built-in knowledge base does not change")]
    Builtin,
    #[error("{0}: its id or aliases changed, which other runbooks' links and ids depend on")]
    Identity(String),
    #[error("{0}: its id is also another runbook's, whose finding depends on this one")]
    SharedId(String),
    #[error("{0}: a section page of a Hugo site, whose front matter its pages inherit")]
    Section(String),
}

impl Kb {
    /// This KB with the files of `edited` read again. Everything else is shared, so the cost is
    /// that of the edited files and their links, whatever the size of the KB.
    pub fn reread(&self, edited: &[RunbookIdx]) -> Result<Reread, NotRereadable> {
        let mut kb = self.clone();
        let edited: BTreeSet<RunbookIdx> = edited.iter().copied().collect();
        // Runbooks whose links are decided again: the edited ones, and those linking into one
        // whose headings changed (an anchor may have come or gone).
        let mut relinked = edited.clone();
        for &idx in &edited {
            let fresh = self.read_again(idx)?;
            if anchors(&self[idx]) != anchors(&fresh) {
                relinked.extend(self.inbound[idx.position()].iter().copied());
            }
            kb.runbooks[idx.position()] = Arc::new(fresh);
        }
        for &idx in &edited {
            let findings = kb.alias_findings(idx);
            Arc::make_mut(&mut kb.runbooks[idx.position()]).diagnostics.extend(findings);
        }
        let mut affected = relinked.clone();
        let on_disk = kb.source.root().map(Path::to_path_buf);
        let decided: Vec<(RunbookIdx, Vec<Resolved>)> =
            relinked.iter().map(|&idx| (idx, kb.resolve_links_of(idx, &kb[idx], on_disk.as_deref()))).collect();
        for (idx, results) in decided {
            let rb = Arc::make_mut(&mut kb.runbooks[idx.position()]);
            if !edited.contains(&idx) {
                // Only link resolution gives `link` findings: these are the ones decided again.
                rb.diagnostics.retain(|d| d.rule != Rule::Link);
            }
            apply_resolved(rb, results);
            affected.extend(kb.relink(self, idx));
        }
        Ok(Reread { kb, affected })
    }

    /// Runbook `idx` parsed from its file again, with the id it has in this KB; an error when
    /// the edit changed more than its own page.
    fn read_again(&self, idx: RunbookIdx) -> Result<Runbook, NotRereadable> {
        let old = &self[idx];
        let file = old.file.clone().ok_or(NotRereadable::Builtin)?;
        let stem = old.stem_path.rsplit('/').next().unwrap_or_default();
        if self.ctx.hugo_site && is_index_stem(stem) {
            return Err(NotRereadable::Section(old.path.clone()));
        }
        let source = SourceFile::new(old.path.clone(), &format!("{}.md", old.stem_path), Some(file));
        let mut fresh = parse::read_file(source, &self.ctx);
        let same_identity = fresh.explicit_id == old.explicit_id
            && (!old.explicit_id || fresh.id == old.id)
            && fresh.aliases == old.aliases;
        if !same_identity {
            return Err(NotRereadable::Identity(old.path.clone()));
        }
        // Its finding, and the others', depend on all of them (and on which can run).
        if old.diagnostics.iter().any(is_duplicate_id) {
            return Err(NotRereadable::SharedId(old.path.clone()));
        }
        // Ids are decided KB-wide; with the same explicit id, or none, this one's is unchanged.
        fresh.id = old.id.clone();
        if old.body.is_none() {
            fresh.body = None;
        }
        Ok(fresh)
    }

    /// The warnings for aliases of `idx` that are another runbook's id (the id wins), as a
    /// full load gives them.
    fn alias_findings(&self, idx: RunbookIdx) -> Vec<Diagnostic> {
        let rb = &self[idx];
        rb.aliases
            .iter()
            .filter_map(|alias| {
                let key = alias.to_lowercase();
                let Some(Name::Unique(other)) = self.names.names.get(&key) else { return None };
                (*other != idx && self.names.ids.contains_key(&key)).then(|| {
                    Diagnostic::warning(
                        Rule::Id,
                        &rb.path,
                        rb.aliases_line,
                        1,
                        format!("alias `{alias}` is the id of {}", self[*other].path),
                    )
                    .with_hint("the id wins; remove or rename the alias")
                })
            })
            .collect()
    }

    /// Brings the backlinks and inbound links of the runbooks `idx` linked to in `before` and
    /// links to now up to date; those runbooks.
    fn relink(&mut self, before: &Kb, idx: RunbookIdx) -> BTreeSet<RunbookIdx> {
        let (old_links, new_links) = (backlinks_from(idx, &before[idx]), backlinks_from(idx, &self[idx]));
        let mut touched: BTreeSet<RunbookIdx> = old_links.iter().chain(&new_links).map(|(target, _)| *target).collect();
        for &target in &touched {
            let kept = self.backlinks[target.position()].iter().filter(|link| link.from != idx).copied();
            let added = new_links.iter().filter(|(t, _)| *t == target).map(|(_, link)| *link);
            let mut list: Vec<Backlink> = kept.chain(added).collect();
            list.sort_by_key(|link| link.from);
            self.backlinks[target.position()] = Arc::from(list);
        }
        let (old_pages, new_pages) = (pages_named_by(idx, &before[idx]), pages_named_by(idx, &self[idx]));
        for &page in old_pages.symmetric_difference(&new_pages) {
            let kept = self.inbound[page.position()].iter().copied().filter(|&from| from != idx);
            let mut list: Vec<RunbookIdx> = kept.chain(new_pages.contains(&page).then_some(idx)).collect();
            list.sort();
            self.inbound[page.position()] = Arc::from(list);
        }
        touched.extend(old_pages.symmetric_difference(&new_pages));
        touched
    }
}

/// What links into a runbook are checked against: its headings' anchors (and whether each
/// has text), and its HTML anchors.
fn anchors(rb: &Runbook) -> (Vec<(&str, &str)>, &[String]) {
    (rb.headings.iter().map(|h| (h.anchor, h.text)).collect(), &rb.html_anchors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KbSource;
    use std::path::PathBuf;

    /// A KB folder with these runbooks (paths under `runbooks/`).
    fn kb_with(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temporary folder");
        for (path, text) in files {
            write(dir.path(), path, text);
        }
        let root = dir.path().to_path_buf();
        (dir, root)
    }

    fn write(root: &Path, path: &str, text: &str) {
        let file = root.join("runbooks").join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("folders");
        std::fs::write(file, text).expect("runbook");
    }

    fn load(root: &Path) -> Kb {
        Kb::load_summaries(KbSource::for_dir(root.to_path_buf()))
    }

    fn idx(kb: &Kb, id: &str) -> RunbookIdx {
        kb.by_id(id).expect("runbook")
    }

    /// Everything a page or a check shows of the KB's runbooks and their links.
    fn shown(kb: &Kb) -> Vec<String> {
        kb.iter()
            .map(|(idx, rb)| {
                let links: Vec<String> =
                    rb.links.iter().map(|l| format!("{}:{}:{:?}:{:?}", l.dest, l.line, l.target, l.page)).collect();
                format!(
                    "{} {} {:?} {:?} links {:?} backlinks {:?} inbound {:?} findings {:?}",
                    rb.id,
                    rb.title,
                    rb.tags,
                    rb.headings.iter().map(|h| h.anchor).collect::<Vec<_>>(),
                    links,
                    kb.backlinks(idx),
                    kb.inbound[idx.position()],
                    rb.diagnostics,
                )
            })
            .collect()
    }

    /// Edits `path`, then checks that reading it again gives what loading the whole KB gives;
    /// the runbooks whose pages it says changed.
    fn edit_and_compare(root: &Path, before: &Kb, path: &str, text: &str) -> BTreeSet<RunbookIdx> {
        write(root, path, text);
        let edited = before.by_path(&format!("runbooks/{path}")).expect("known");
        let reread = before.reread(&[edited]).expect("rereadable");
        assert_eq!(shown(&reread.kb), shown(&load(root)), "after editing {path}");
        assert!(reread.affected.contains(&edited));
        reread.affected
    }

    #[test]
    fn an_edit_of_the_text_alone_changes_that_runbook_alone() {
        let (_dir, root) = kb_with(&[("a.md", "# A\n\nOld text.\n"), ("b.md", "# B\n\nSee [a](a.md).\n")]);
        let kb = load(&root);
        let affected = edit_and_compare(&root, &kb, "a.md", "# A\n\nNew text, longer than before.\n");
        assert_eq!(affected, BTreeSet::from([idx(&kb, "a")]));
    }

    #[test]
    fn a_link_added_or_removed_changes_the_backlinks_of_its_target() {
        let (_dir, root) = kb_with(&[("a.md", "# A\n\nNothing.\n"), ("b.md", "# B\n"), ("c.md", "# C\n\n[b](b.md)\n")]);
        let kb = load(&root);
        let affected = edit_and_compare(&root, &kb, "a.md", "# A\n\nSee [b](b.md) and [c](c.md#c).\n");
        assert!(affected.contains(&idx(&kb, "b")) && affected.contains(&idx(&kb, "c")));
        let kb = load(&root);
        let affected = edit_and_compare(&root, &kb, "a.md", "# A\n\nOnly [c](c.md) now.\n");
        assert!(affected.contains(&idx(&kb, "b")), "b lost a backlink");
    }

    #[test]
    fn a_heading_added_or_removed_decides_the_links_into_it_again() {
        let (_dir, root) = kb_with(&[
            ("a.md", "# A\n\nText.\n"),
            ("b.md", "# B\n\nSee [the fix](a.md#the-fix).\n"),
            ("c.md", "# C\n\nSee [a](a.md#a).\n"),
        ]);
        let kb = load(&root);
        assert!(kb[idx(&kb, "b")].has_errors(), "the anchor is missing before the edit");
        let affected = edit_and_compare(&root, &kb, "a.md", "# A\n\n## The fix\n\nText.\n");
        assert!(affected.contains(&idx(&kb, "b")));
        let kb = load(&root);
        assert!(!kb[idx(&kb, "b")].has_errors());
        edit_and_compare(&root, &kb, "a.md", "# Not A any more\n\nText.\n");
    }

    #[test]
    fn an_alias_that_is_another_id_still_warns_on_its_new_line() {
        let (_dir, root) = kb_with(&[("a.md", "---\naliases: [b]\n---\n# A\n"), ("b.md", "# B\n")]);
        let kb = load(&root);
        edit_and_compare(&root, &kb, "a.md", "---\ntitle: A\ntags: [x]\naliases: [b]\n---\n# A\n\nMore.\n");
    }

    #[test]
    fn an_edit_of_what_names_a_runbook_needs_the_whole_kb() {
        let (_dir, root) = kb_with(&[("a.md", "---\nid: first\n---\n# A\n"), ("b.md", "# B\n")]);
        let kb = load(&root);
        let a = idx(&kb, "first");
        write(&root, "a.md", "---\nid: second\n---\n# A\n");
        assert!(matches!(kb.reread(&[a]), Err(NotRereadable::Identity(_))));
        write(&root, "a.md", "---\nid: first\naliases: [one]\n---\n# A\n");
        assert!(matches!(kb.reread(&[a]), Err(NotRereadable::Identity(_))));
        let b = idx(&kb, "b");
        write(&root, "b.md", "---\nid: b\n---\n# B\n");
        assert!(matches!(kb.reread(&[b]), Err(NotRereadable::Identity(_))), "an id stated for the first time");
    }

    #[test]
    fn a_runbook_sharing_its_id_needs_the_whole_kb() {
        // The id stated is also `a.md`'s path form, which both get as their ids.
        let (_dir, root) = kb_with(&[("a.md", "---\nid: a\n---\n# A\n"), ("b.md", "---\nid: a\n---\n# B\n")]);
        let kb = load(&root);
        let a = kb.by_path("runbooks/a.md").expect("a");
        write(&root, "a.md", "---\nid: a\n---\n# A, now longer\n");
        assert_eq!(kb.reread(&[a]).map(|_| ()), Err(NotRereadable::SharedId("runbooks/a.md".into())));
    }

    #[test]
    fn a_file_gone_unreadable_is_a_runbook_carrying_its_error() {
        let (_dir, root) = kb_with(&[("a.md", "# A\n"), ("b.md", "# B\n\n[a](a.md)\n")]);
        let kb = load(&root);
        let a = idx(&kb, "a");
        std::fs::write(root.join("runbooks/a.md"), [0xff, 0xfe, 0x00, 0x41]).expect("binary");
        let reread = kb.reread(&[a]).expect("rereadable");
        assert_eq!(shown(&reread.kb), shown(&load(&root)));
    }
}
