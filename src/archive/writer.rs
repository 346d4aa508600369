//! Writing one run's folder: `run.json` (atomically, after every step), `run.md`, step logs.

use super::markdown;
use super::record::RunRecord;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The run folder of one run.
#[derive(Debug)]
pub struct RunArchive {
    dir: PathBuf,
}

impl RunArchive {
    /// Creates `archives/<run_id>/steps/`; a second run in the same second gets `-2`, `-3`, ….
    /// Returns the archive and the final run id.
    pub fn create(archives: &Path, run_id: &str) -> std::io::Result<(RunArchive, String)> {
        std::fs::create_dir_all(archives)?;
        for n in 1..1000 {
            let id = if n == 1 { run_id.to_string() } else { format!("{run_id}-{n}") };
            let dir = archives.join(&id);
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    std::fs::create_dir(dir.join("steps"))?;
                    return Ok((RunArchive { dir }, id));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other(format!("too many runs named {run_id}")))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the log file of one stream of step number `number` (1-based); returns it and its
    /// path relative to the run folder.
    pub fn step_log(&self, number: usize, step_id: &str, stream: &str) -> std::io::Result<(File, String)> {
        let relative = format!("steps/{number:02}-{}.{stream}", file_safe(step_id));
        let file = File::create(self.dir.join(&relative))?;
        Ok((file, relative))
    }

    /// Rewrites `run.json` atomically: a reader, or a crash, sees the old or the new record,
    /// never half of one.
    pub fn write_record(&self, record: &RunRecord) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
        write_atomic(&self.dir.join("run.json"), &bytes)
    }

    pub fn write_markdown(&self, record: &RunRecord) -> std::io::Result<()> {
        write_atomic(&self.dir.join("run.md"), markdown::render(record).as_bytes())
    }
}

/// Writes `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result =
        File::create(&tmp).and_then(|mut file| file.write_all(bytes)).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A step or runbook id as a file-name part (`node/_index` → `node._index`).
pub fn file_safe(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '.' }).collect()
}
