//! The archive folder, and the one place that knows its layout: a folder per run
//! (`<run id>/run.json`, `run.md`, `steps/`) and cycle reports in `cycles/` (`<name>.md` and
//! `<name>.json`). Reading tolerates damaged records.

use super::cycle::CycleReport;
use crate::model::cache::FileStamp;
use crate::record::{FleetHost, RunRecord};
use crate::util::fs::write_atomic;
use crate::util::text::file_safe;
use std::path::{Path, PathBuf};

/// The record of a run, in its folder.
pub(crate) const RECORD_FILE: &str = "run.json";
/// The run for people, in its folder.
pub(crate) const MARKDOWN_FILE: &str = "run.md";
/// Full step output, in the run folder.
pub(crate) const STEPS_DIR: &str = "steps";
pub(crate) const CYCLES_DIR: &str = "cycles";

/// The archive folder of a KB (`DIR/archives/`, or `--archives`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archives {
    dir: PathBuf,
}

/// A file of the archive with its size and time, for the search index.
#[derive(Debug, Clone)]
pub struct ArchiveFile {
    /// The run id, or the cycle report's name.
    pub name: String,
    /// What is indexed: a run's `run.json`, a cycle report's Markdown.
    pub file: PathBuf,
    /// What people read: a run's `run.md`, the cycle report itself.
    pub readable: PathBuf,
    pub stamp: FileStamp,
}

/// A cycle report's Markdown, as the site shows it.
#[derive(Debug)]
pub struct Cycle {
    /// The file stem, which is its URL.
    pub name: String,
    pub title: String,
    pub path: PathBuf,
    /// The Markdown, or why it could not be read.
    pub source: Result<String, String>,
}

/// Where a cycle report was written.
#[derive(Debug)]
pub struct CyclePaths {
    pub markdown: PathBuf,
    pub json: PathBuf,
}

/// A file of the archive that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Why a run's record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot read {}: {source}", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("{} is damaged: {source}", path.display())]
    Damaged { path: PathBuf, source: serde_json::Error },
}

impl RecordError {
    /// What is wrong, without the path (for pages that must not show where files live).
    pub fn cause(&self) -> String {
        match self {
            RecordError::Unreadable { source, .. } => source.to_string(),
            RecordError::Damaged { source, .. } => source.to_string(),
        }
    }
}

/// One run folder and what could be read of it.
#[derive(Debug)]
pub struct ArchivedRun {
    pub dir: PathBuf,
    /// The folder name, which is the run id.
    pub run_id: String,
    /// The record, or why it could not be read (a run killed before its first write).
    pub record: Result<RunRecord, RecordError>,
}

impl ArchivedRun {
    pub fn markdown_path(&self) -> PathBuf {
        self.dir.join(MARKDOWN_FILE)
    }

    /// When the run started, read from its folder name (`20261126T213000Z-…`, UTC): for
    /// records too damaged to say.
    pub fn started_from_name(&self) -> Option<jiff::Timestamp> {
        started_from_name(&self.run_id)
    }

    /// A fleet run's hosts in the record's order, each with its own run read from its folder
    /// (`hosts/<host>/`): `None` for a host that has none (it never ran) or whose record cannot be
    /// read, and for a folder that is not under this run's (a record edited by hand). Empty for
    /// a run that is not a fleet run.
    pub fn host_runs(&self) -> Vec<(&FleetHost, Option<RunRecord>)> {
        let Ok(record) = &self.record else { return Vec::new() };
        let Some(fleet) = &record.fleet else { return Vec::new() };
        fleet
            .hosts
            .iter()
            .map(|host| {
                let inside = !host.dir.is_empty()
                    && Path::new(&host.dir).components().all(|c| matches!(c, std::path::Component::Normal(_)));
                (host, inside.then(|| read(&self.dir.join(&host.dir)).ok()).flatten())
            })
            .collect()
    }

    /// The runbook id its folder name ends with (`20261126T213000Z-cuda-304` → `cuda-304`),
    /// for records too damaged to say.
    pub fn runbook_from_name(&self) -> &str {
        runbook_from_name(&self.run_id)
    }

    /// Whether this is a run of `runbook_id` (any case): as its record says, or, when the record
    /// cannot be read, as its folder name may say.
    pub fn is_of(&self, runbook_id: &str) -> bool {
        match &self.record {
            Ok(record) => record.runbook.id.eq_ignore_ascii_case(runbook_id),
            Err(_) => name_may_be_of(self.runbook_from_name(), runbook_id),
        }
    }
}

/// A run folder, listed but not read yet.
#[derive(Debug, Clone)]
pub struct RunFolder {
    pub dir: PathBuf,
    /// The folder name, which is the run id.
    pub run_id: String,
}

impl RunFolder {
    /// Reads its record.
    pub fn read(&self) -> ArchivedRun {
        ArchivedRun { dir: self.dir.clone(), run_id: self.run_id.clone(), record: read(&self.dir) }
    }

    /// When the run started, from the folder name.
    pub fn started_from_name(&self) -> Option<jiff::Timestamp> {
        started_from_name(&self.run_id)
    }

    /// The runbook id the folder name ends with, as [`file_safe`] wrote it.
    pub fn runbook_from_name(&self) -> &str {
        runbook_from_name(&self.run_id)
    }

    /// Whether the folder name can be a run of `runbook_id`: it ends with the id, or with the
    /// id and `-N` (a second run that started in the same second). Only the record can say for
    /// sure: runbook `a-2` and a second run of `a` share the name `<time>-a-2`.
    pub fn may_be_of(&self, runbook_id: &str) -> bool {
        name_may_be_of(self.runbook_from_name(), runbook_id)
    }
}

/// See [`RunFolder::may_be_of`].
fn name_may_be_of(name: &str, runbook_id: &str) -> bool {
    let wanted = file_safe(runbook_id);
    let Some(start) = name.get(..wanted.len()) else { return false };
    start.eq_ignore_ascii_case(&wanted)
        && match &name[wanted.len()..] {
            "" => true,
            rest => rest.strip_prefix('-').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        }
}

/// The runbook part of a folder name without a same-second `-N` suffix (`a-2` → `a`), or `None`
/// when it has none.
pub(crate) fn without_same_second_suffix(name: &str) -> Option<&str> {
    let (stem, n) = name.rsplit_once('-')?;
    (!stem.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(stem)
}

impl Archives {
    pub fn new(dir: impl Into<PathBuf>) -> Archives {
        Archives { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder of one run.
    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.dir.join(run_id)
    }

    /// Every run, newest first, read. Folders without `run.json` are not runs (`cycles/`, for one).
    pub fn runs(&self) -> Vec<ArchivedRun> {
        self.run_folders().iter().map(RunFolder::read).collect()
    }

    /// Every run folder, newest first, without reading a record: listing 50,000 runs costs a
    /// directory read and a `stat` each, so callers read only the records they show.
    pub fn run_folders(&self) -> Vec<RunFolder> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut folders: Vec<RunFolder> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter(|e| e.path().join(RECORD_FILE).exists())
            .map(|e| RunFolder { dir: e.path(), run_id: e.file_name().to_string_lossy().into_owned() })
            .collect();
        // Run ids start with a UTC timestamp, so name order is time order.
        folders.sort_by(|a, b| b.run_id.cmp(&a.run_id));
        folders
    }

    /// The runs that started between `from` and `to` (inclusive), newest first, read. A run's
    /// folder is named after its start, so only those folders are read; a folder whose name
    /// tells no time is read too, and its record decides.
    pub fn runs_started_between(&self, from: jiff::Timestamp, to: jiff::Timestamp) -> Vec<ArchivedRun> {
        // Folder names keep whole seconds of the start.
        let from = from - jiff::SignedDuration::from_secs(1);
        self.run_folders()
            .into_iter()
            .filter(|folder| folder.started_from_name().is_none_or(|t| t >= from && t <= to))
            .map(|folder| folder.read())
            .collect()
    }

    /// The readable runs of one runbook, newest first, each read only when the iterator gets
    /// to it: `--resume` and `--retry-failed` want the latest one that fits. Runs are found by
    /// folder name, which ends with the runbook id.
    pub fn records_of<'a>(&self, runbook_id: &'a str) -> impl Iterator<Item = (PathBuf, RunRecord)> + use<'a> {
        self.run_folders()
            .into_iter()
            .filter(move |folder| folder.may_be_of(runbook_id))
            .filter_map(|folder| read(&folder.dir).ok().map(|record| (folder.dir, record)))
            .filter(move |(_, record)| record.runbook.id == runbook_id)
    }

    /// One run, by id, unique id prefix, or `latest`; only its record is read.
    pub fn find(&self, query: &str) -> Result<ArchivedRun, FindRunError> {
        find(self.run_folders(), query).map(|folder| folder.read())
    }

    /// The names of the folders that may be runs, from the directory listing alone (no `stat`):
    /// every folder but `cycles/` and hidden ones. Whether each has a record is not looked at.
    pub fn run_folder_names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| name != CYCLES_DIR && !name.starts_with('.'))
            .collect()
    }

    /// Every run's `run.json`, with its stamp, unread.
    pub fn run_files(&self) -> Vec<ArchiveFile> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        entries
            .flatten()
            .filter_map(|entry| {
                let file = entry.path().join(RECORD_FILE);
                let stamp = FileStamp::of_path(&file)?;
                let readable = entry.path().join(MARKDOWN_FILE);
                Some(ArchiveFile { name: entry.file_name().to_string_lossy().into_owned(), file, readable, stamp })
            })
            .collect()
    }

    /// Where cycle reports go.
    pub fn cycles_dir(&self) -> PathBuf {
        self.dir.join(CYCLES_DIR)
    }

    /// Files in `cycles/` with this extension, by name (newest name first).
    fn cycle_paths(&self, extension: &str) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.cycles_dir()) else { return Vec::new() };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == extension))
            .collect();
        paths.sort_by(|a, b| b.file_name().cmp(&a.file_name()));
        paths
    }

    /// Every cycle report's Markdown, with its stamp, unread.
    pub fn cycle_files(&self) -> Vec<ArchiveFile> {
        self.cycle_paths("md")
            .into_iter()
            .filter_map(|file| {
                let stamp = FileStamp::of_path(&file)?;
                let name = file.file_stem()?.to_string_lossy().into_owned();
                Some(ArchiveFile { name, readable: file.clone(), file, stamp })
            })
            .collect()
    }

    /// Every cycle report's Markdown, read, newest name first.
    pub fn cycles(&self) -> Vec<Cycle> {
        self.cycle_paths("md")
            .into_iter()
            .filter_map(|path| {
                let name = path.file_stem()?.to_str()?.to_string();
                let source = std::fs::read_to_string(&path).map_err(|e| e.to_string());
                let title = source.as_deref().map_or_else(|_| name.clone(), |text| cycle_title(text, &name));
                Some(Cycle { name, title, path, source })
            })
            .collect()
    }

    /// Every cycle report that can be read from its JSON, with the path of its Markdown.
    pub fn cycle_reports(&self) -> Vec<(CycleReport, PathBuf)> {
        self.cycle_paths("json")
            .into_iter()
            .filter_map(|path| {
                let report: CycleReport = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
                Some((report, path.with_extension("md")))
            })
            .collect()
    }

    /// A name for a new cycle report: `base`, or `base-2`, `base-3`, … when that is taken.
    pub fn unused_cycle_name(&self, base: &str) -> String {
        let dir = self.cycles_dir();
        let taken = |name: &str| dir.join(format!("{name}.json")).exists() || dir.join(format!("{name}.md")).exists();
        (1..)
            .map(|n| if n == 1 { base.to_string() } else { format!("{base}-{n}") })
            .find(|name| !taken(name))
            .unwrap_or_else(|| base.to_string())
    }

    /// Writes a cycle report as JSON and Markdown, each atomically.
    pub fn write_cycle(&self, name: &str, json: &[u8], markdown: &str) -> Result<CyclePaths, WriteError> {
        let dir = self.cycles_dir();
        std::fs::create_dir_all(&dir).map_err(|source| WriteError { path: dir.clone(), source })?;
        let paths = CyclePaths { markdown: dir.join(format!("{name}.md")), json: dir.join(format!("{name}.json")) };
        write_atomic(&paths.json, json).map_err(|source| WriteError { path: paths.json.clone(), source })?;
        write_atomic(&paths.markdown, markdown.as_bytes())
            .map_err(|source| WriteError { path: paths.markdown.clone(), source })?;
        Ok(paths)
    }
}

/// A cycle report's title: its first `# ` heading, else its name.
pub(crate) fn cycle_title(markdown: &str, name: &str) -> String {
    markdown.lines().find_map(|l| l.strip_prefix("# ")).map_or_else(|| name.to_string(), |t| t.trim().to_string())
}

/// The record in a run folder.
pub(crate) fn read(dir: &Path) -> Result<RunRecord, RecordError> {
    let path = dir.join(RECORD_FILE);
    let parse = || {
        let bytes = std::fs::read(&path).map_err(|source| RecordError::Unreadable { path: path.clone(), source })?;
        serde_json::from_slice(&bytes).map_err(|source| RecordError::Damaged { path: path.clone(), source })
    };
    // A run in progress swaps its record for a newer one after every step; a read that spanned
    // a whole step may see the file being reused (see `writer::RecordFile`): read again.
    parse().or_else(|_| parse())
}

/// Copies a run folder (its record, its Markdown, its step logs) to `to`, which must not exist
/// yet: a resumed fleet run keeps the hosts that had passed, as they were. Only files and
/// folders are copied; a link in an archive is not the engine's and stays behind.
pub(crate) fn copy_run(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to.parent().unwrap_or(to))?;
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_run(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Why [`find`] found no single run.
#[derive(Debug, thiserror::Error)]
pub enum FindRunError {
    #[error("there are no runs yet")]
    NoRuns,
    #[error("no run `{0}`")]
    NoSuchRun(String),
    /// `shown` holds the first few of the `count` runs the prefix matches.
    #[error("`{query}` matches {count} runs: {}", shown.join(", "))]
    Ambiguous { query: String, count: usize, shown: Vec<String> },
}

/// Runs named when a prefix matches several.
const SHOWN_MATCHES: usize = 5;

/// The runbook id a run folder's name ends with (`20261126T213000Z-cuda-304` → `cuda-304`).
fn runbook_from_name(run_id: &str) -> &str {
    run_id.split_once('-').map(|(_, id)| id).unwrap_or(run_id)
}

/// Finds a run among `runs` (newest first) by id, unique id prefix, or `latest`.
fn find(mut runs: Vec<RunFolder>, query: &str) -> Result<RunFolder, FindRunError> {
    if query == "latest" {
        return if runs.is_empty() { Err(FindRunError::NoRuns) } else { Ok(runs.swap_remove(0)) };
    }
    if let Some(exact) = runs.iter().position(|r| r.run_id == query) {
        return Ok(runs.swap_remove(exact));
    }
    let mut matches: Vec<RunFolder> = runs.into_iter().filter(|r| r.run_id.starts_with(query)).collect();
    match matches.len() {
        1 => Ok(matches.swap_remove(0)),
        0 => Err(FindRunError::NoSuchRun(query.to_string())),
        count => Err(FindRunError::Ambiguous {
            query: query.to_string(),
            count,
            shown: matches.iter().take(SHOWN_MATCHES).map(|r| r.run_id.clone()).collect(),
        }),
    }
}

/// The folder name of a run of `runbook_id` that started at `started`: its UTC start, then the
/// id (`20261126T213000Z-cuda-304`), so that name order is time order.
pub(crate) fn run_id(started: jiff::Timestamp, runbook_id: &str) -> String {
    format!("{}-{}", started.strftime(RUN_ID_TIME), file_safe(runbook_id))
}

const RUN_ID_TIME: &str = "%Y%m%dT%H%M%SZ";

/// When a run started, read from its folder name (`20261126T213000Z-…`, UTC).
fn started_from_name(run_id: &str) -> Option<jiff::Timestamp> {
    let stamp = run_id.get(..16)?;
    let datetime = jiff::civil::DateTime::strptime(RUN_ID_TIME, stamp).ok()?;
    jiff::tz::TimeZone::UTC.to_timestamp(datetime).ok()
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_tell_the_time() {
        let started: jiff::Timestamp = "2026-11-26T21:30:00Z".parse().unwrap();
        assert_eq!(run_id(started, "node/_index"), "20261126T213000Z-node._index");
        assert_eq!(started_from_name(&run_id(started, "x")), Some(started));
        assert_eq!(started_from_name("20261126T213000Z-cuda-304").unwrap().to_string(), "2026-11-26T21:30:00Z");
        assert!(started_from_name("cycles").is_none());
    }

    #[test]
    fn a_folder_name_may_be_a_run_of_its_runbook_or_a_second_one_in_the_same_second() {
        let folder = |name: &str| RunFolder { dir: PathBuf::from(name), run_id: name.to_string() };
        assert!(folder("20261126T213000Z-cuda-304").may_be_of("cuda-304"));
        assert!(folder("20261126T213000Z-CUDA-304-2").may_be_of("cuda-304"));
        assert!(folder("20261126T213000Z-cuda-304-12").may_be_of("cuda-304"));
        assert!(folder("20261126T213000Z-node._index").may_be_of("node/_index"));
        assert!(!folder("20261126T213000Z-cuda-3045").may_be_of("cuda-304"));
        assert!(!folder("20261126T213000Z-cuda-304-x").may_be_of("cuda-304"));
        assert!(!folder("20261126T213000Z-cuda-304-").may_be_of("cuda-304"));
        assert!(!folder("20261126T213000Z-cuda").may_be_of("cuda-304"));
        assert_eq!(without_same_second_suffix("cuda-304-2"), Some("cuda-304"));
        assert_eq!(without_same_second_suffix("cuda-304"), Some("cuda"), "ambiguous: the record decides");
        assert_eq!(without_same_second_suffix("disk"), None);
    }

    #[test]
    fn a_period_reads_only_the_folders_named_in_it() {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["20261101T000000Z-a", "20261115T120000Z-b", "20261130T235959Z-a", "20261201T000001Z-a", "odd-name"]
        {
            std::fs::create_dir_all(tmp.path().join(name)).unwrap();
            // Not a record: what is read says so, and what is not read cannot.
            std::fs::write(tmp.path().join(name).join(RECORD_FILE), "{").unwrap();
        }
        std::fs::create_dir_all(tmp.path().join("cycles")).unwrap();
        let archives = Archives::new(tmp.path());
        let names = |runs: Vec<ArchivedRun>| runs.into_iter().map(|r| r.run_id).collect::<Vec<_>>();
        let from = "2026-11-15T12:00:00Z".parse().unwrap();
        let to = "2026-11-30T23:59:59Z".parse().unwrap();
        assert_eq!(
            names(archives.runs_started_between(from, to)),
            ["odd-name", "20261130T235959Z-a", "20261115T120000Z-b"]
        );
        let folders: Vec<String> = archives.run_folders().into_iter().map(|f| f.run_id).collect();
        assert_eq!(folders.len(), 5, "cycles/ has no record: {folders:?}");
        assert_eq!(archives.records_of("a").count(), 0, "damaged records are not runs to resume");
        assert_eq!(archives.find("20261115").unwrap().run_id, "20261115T120000Z-b");
    }

    #[test]
    fn a_run_folder_is_copied_with_its_logs_and_never_over_another() {
        let tmp = tempfile::tempdir().unwrap();
        let from = tmp.path().join("a/hosts/gpu01");
        std::fs::create_dir_all(from.join("steps")).unwrap();
        std::fs::write(from.join("run.json"), "{}").unwrap();
        std::fs::write(from.join("steps/01-x.stdout"), "out").unwrap();
        let to = tmp.path().join("b/hosts/gpu01");
        copy_run(&from, &to).unwrap();
        assert_eq!(std::fs::read_to_string(to.join("steps/01-x.stdout")).unwrap(), "out");
        assert_eq!(std::fs::read_to_string(to.join("run.json")).unwrap(), "{}");
        assert!(copy_run(&from, &to).is_err(), "an existing folder is not overwritten");
    }
}
