//! `runbook build`: every page, asset and search-index file written under the output folder.
//! The output is deterministic (the same KB gives the same bytes), and the folder is emptied
//! first only when an earlier build wrote it.

use super::error::RenderError;
use super::pages::Page;
use super::sections::sections;
use super::site::Site;
use rayon::prelude::*;
use std::path::{Component, Path, PathBuf};

/// Marks a folder as written by `runbook build`, so the next build may empty it.
const MARKER: &str = ".runbook-build";

#[derive(Debug, Default)]
pub struct BuildReport {
    pub pages: usize,
    /// Every file written: pages, assets, index.
    pub files: usize,
    pub bytes: u64,
    /// Broken links, as `path:line: …`, sorted.
    pub warnings: Vec<String>,
}

pub fn build(site: &Site, out: &Path) -> Result<BuildReport, RenderError> {
    prepare(out)?;
    let pages = site.pages();
    let results: Vec<Result<(u64, Vec<String>), RenderError>> = pages
        .par_iter()
        .map(|(path, page)| {
            let rendered = site.render(page)?;
            let file = page_file(out, path)?;
            write(&file, rendered.html.as_bytes())?;
            let warnings = match page {
                Page::Runbook(i) => {
                    let rb = &site.kb.runbooks[*i];
                    rendered
                        .broken_links
                        .iter()
                        .map(|l| format!("{}:{}: link to missing runbook or anchor `{}`", rb.path, l.line, l.dest))
                        .collect()
                }
                _ => Vec::new(),
            };
            Ok((rendered.html.len() as u64, warnings))
        })
        .collect();
    let mut report = BuildReport { pages: pages.len(), files: pages.len(), ..BuildReport::default() };
    for result in results {
        let (bytes, warnings) = result?;
        report.bytes += bytes;
        report.warnings.extend(warnings);
    }
    report.warnings.sort();
    for asset in site.assets.iter() {
        write(&site_file(out, &asset.path)?, &asset.bytes)?;
        report.files += 1;
        report.bytes += asset.bytes.len() as u64;
    }
    let all_sections: Vec<_> = (0..site.kb.runbooks.len())
        .into_par_iter()
        .map(|i| site.kb.body(i).map(|body| sections(&body.source)).unwrap_or_default())
        .collect();
    for file in super::search_index::build(site, &all_sections)? {
        write(&site_file(out, &file.path)?, &file.bytes)?;
        report.files += 1;
        report.bytes += file.bytes.len() as u64;
    }
    Ok(report)
}

/// Empties `out` if an earlier build wrote it (or it is empty); refuses any other folder.
fn prepare(out: &Path) -> Result<(), RenderError> {
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            let empty = entries.next().is_none();
            if !empty && !out.join(MARKER).is_file() {
                return Err(RenderError::ForeignOutput(out.to_path_buf()));
            }
            if !empty {
                std::fs::remove_dir_all(out).map_err(|e| RenderError::io(out, e))?;
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(RenderError::io(out, e)),
    }
    std::fs::create_dir_all(out).map_err(|e| RenderError::io(out, e))?;
    write(&out.join(MARKER), b"Written by `runbook build`; the next build empties this folder.\n")
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

fn write(path: &Path, bytes: &[u8]) -> Result<(), RenderError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| RenderError::io(dir, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| RenderError::io(path, e))
}
