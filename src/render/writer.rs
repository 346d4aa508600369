//! `runbook build`: every page, asset and search-index file written under the output folder.
//! The output is deterministic (the same KB gives the same bytes). A folder an earlier build
//! wrote is updated in place: unchanged files are not rewritten, stale ones are removed; any
//! other non-empty folder is refused.

use super::error::RenderError;
use super::pages::Page;
use super::search_index::SearchPage;
use super::sections::{SearchSection, sections};
use super::site::Site;
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

/// Marks a folder as written by `runbook build`, so the next build may empty it.
const MARKER: &str = ".runbook-build";

#[derive(Debug, Default)]
pub(crate) struct BuildReport {
    pub pages: usize,
    /// Every file written: pages, assets, index.
    pub files: usize,
    pub bytes: u64,
    /// Broken links, as `path:line: …`, sorted.
    pub warnings: Vec<String>,
    /// Time per phase, for `-v`.
    pub phases: Vec<(&'static str, std::time::Duration)>,
}

pub(crate) fn build(site: &Site, out: &Path) -> Result<BuildReport, RenderError> {
    let mut clock = std::time::Instant::now();
    let mut phases = Vec::new();
    let mut lap = |name: &'static str| {
        phases.push((name, clock.elapsed()));
        clock = std::time::Instant::now();
    };
    let existing = prepare(out)?;
    lap("look at the output folder");
    let mut report = BuildReport::default();
    let mut written: HashSet<PathBuf> = HashSet::new();

    let (mut outputs, all_sections) = runbook_pages(site, out)?;
    outputs.extend(other_pages(site, out)?);
    report.pages = outputs.len();
    for (file, bytes, warnings) in outputs {
        written.insert(file);
        report.bytes += bytes;
        report.warnings.extend(warnings);
    }
    report.warnings.sort();
    lap("render and write pages");
    for asset in site.assets.iter() {
        let file = site_file(out, &asset.path)?;
        write(&file, &asset.bytes)?;
        written.insert(file);
        report.bytes += asset.bytes.len() as u64;
    }
    let index = super::search_index::build(&search_pages(site, all_sections))?;
    lap("build the search index");
    for file in index {
        let path = site_file(out, &file.path)?;
        write(&path, &file.bytes)?;
        written.insert(path);
        report.bytes += file.bytes.len() as u64;
    }
    report.files = written.len();
    remove_stale(out, existing, &written)?;
    lap("write the search index, remove stale files");
    report.phases = phases;
    Ok(report)
}

/// Every runbook page, written, and each runbook's sections for search.
fn runbook_pages(site: &Site, out: &Path) -> Result<(Vec<Output>, Vec<Vec<SearchSection>>), RenderError> {
    let runbooks: Vec<Result<(Output, Vec<SearchSection>), RenderError>> = site
        .kb
        .iter()
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(idx, rb)| {
            let body = site.kb.body(idx);
            let cut = body.as_ref().map(|b| sections(&b.outline)).unwrap_or_default();
            let rendered = site.render_runbook(idx, body)?;
            let file = page_file(out, &format!("runbooks/{}/", rb.id))?;
            write(&file, rendered.html.as_bytes())?;
            let warnings = rendered
                .broken_links
                .iter()
                .map(|l| format!("{}:{}: link to missing runbook or anchor `{}`", rb.path, l.line, l.dest))
                .collect();
            Ok(((file, rendered.html.len() as u64, warnings), cut))
        })
        .collect();
    let mut all_sections = Vec::with_capacity(runbooks.len());
    let mut outputs = Vec::with_capacity(runbooks.len());
    for result in runbooks {
        let (output, cut) = result?;
        outputs.push(output);
        all_sections.push(cut);
    }
    Ok((outputs, all_sections))
}

/// What the static search finds: every runbook, run and cycle report.
fn search_pages(site: &Site, runbook_sections: Vec<Vec<SearchSection>>) -> Vec<SearchPage> {
    let mut pages: Vec<SearchPage> =
        runbook_sections.into_iter().enumerate().map(|(idx, cut)| SearchPage::runbook(site, idx, cut)).collect();
    pages.par_extend(site.runs.par_iter().map(|folder| SearchPage::run(site, &folder.read())));
    pages.extend(site.cycles.iter().map(|cycle| SearchPage::cycle(site, cycle)));
    pages
}

/// Every other page, written.
fn other_pages(site: &Site, out: &Path) -> Result<Vec<Output>, RenderError> {
    let pages = site.pages();
    let others: Vec<Result<Output, RenderError>> = pages
        .par_iter()
        .filter(|(_, page)| !matches!(page, Page::Runbook(_)))
        .map(|(path, page)| {
            let rendered = site.render(page)?;
            let file = page_file(out, path)?;
            write(&file, rendered.html.as_bytes())?;
            Ok((file, rendered.html.len() as u64, Vec::new()))
        })
        .collect();
    others.into_iter().collect()
}

/// A written page: its file, size and warnings.
type Output = (PathBuf, u64, Vec<String>);

/// Checks that `out` is ours (empty, missing, or marked by an earlier build) and lists the files
/// in it, which the build then rewrites only where they changed.
fn prepare(out: &Path) -> Result<Vec<PathBuf>, RenderError> {
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            let empty = entries.next().is_none();
            if !empty && !out.join(MARKER).is_file() {
                return Err(RenderError::ForeignOutput(out.to_path_buf()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(RenderError::io(out, e)),
    }
    std::fs::create_dir_all(out).map_err(|e| RenderError::io(out, e))?;
    write(&out.join(MARKER), b"Written by `runbook build`; the next build replaces what is in this folder.\n")?;
    let mut files = Vec::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| RenderError::io(&dir, e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(_) if path != out.join(MARKER) => files.push(path),
                _ => {}
            }
        }
    }
    Ok(files)
}

/// Removes what an earlier build wrote and this one did not, then folders left empty.
fn remove_stale(out: &Path, existing: Vec<PathBuf>, written: &HashSet<PathBuf>) -> Result<(), RenderError> {
    let mut dirs = HashSet::new();
    for file in existing.into_iter().filter(|f| !written.contains(f)) {
        std::fs::remove_file(&file).map_err(|e| RenderError::io(&file, e))?;
        dirs.extend(file.parent().map(Path::to_path_buf));
    }
    let mut dirs: Vec<PathBuf> = dirs.into_iter().filter(|d| d != out).collect();
    // Deepest first, so a parent is tried after its children.
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for dir in dirs {
        let mut current = Some(dir.as_path());
        while let Some(d) = current.filter(|d| *d != out) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            current = d.parent();
        }
    }
    Ok(())
}

/// The file of a page path: `runbooks/x/` → `out/runbooks/x/index.html`.
fn page_file(out: &Path, path: &str) -> Result<PathBuf, RenderError> {
    if path.is_empty() || path.ends_with('/') {
        site_file(out, &format!("{path}index.html"))
    } else {
        site_file(out, path)
    }
}

/// `out/relative`, refusing any path that could leave `out`.
fn site_file(out: &Path, relative: &str) -> Result<PathBuf, RenderError> {
    let relative = Path::new(relative);
    if relative.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(out.join(relative))
    } else {
        let message = format!("refusing to write outside the output folder: {}", relative.display());
        Err(RenderError::io(out, std::io::Error::new(std::io::ErrorKind::InvalidInput, message)))
    }
}

/// Writes `bytes` unless the file already holds exactly them (a rebuild of an unchanged KB
/// rewrites nothing).
fn write(path: &Path, bytes: &[u8]) -> Result<(), RenderError> {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.is_file()
        && meta.len() == bytes.len() as u64
        && std::fs::read(path).is_ok_and(|old| old == bytes)
    {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| RenderError::io(dir, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| RenderError::io(path, e))
}
