//! Parse summaries kept between runs in the KB state dir (`.runbook/parse-cache.json`), so that
//! listing or checking ten thousand runbooks re-parses only the files whose size or modification
//! time changed. Parsing the YAML of every step is most of the cost of reading a KB.

use super::runbook::Runbook;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const CACHE_FILE: &str = "parse-cache.json";

/// Bump when the parser's output changes shape or meaning, so older caches are ignored.
const FORMAT: u32 = 1;

/// Files modified this recently are not cached: a second write within the same timestamp tick
/// would otherwise go unnoticed.
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub size: u64,
    pub mtime_ns: u64,
}

impl FileStamp {
    pub fn of(metadata: &std::fs::Metadata) -> Option<FileStamp> {
        let mtime = metadata.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
        Some(FileStamp { size: metadata.len(), mtime_ns: u64::try_from(mtime.as_nanos()).ok()? })
    }

    fn is_racy(&self) -> bool {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Duration::from_nanos(self.mtime_ns) + RACY_WINDOW > now
    }
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    format: u32,
    engine: String,
    /// Everything outside the file that parsing depends on (e.g. `runbook.toml` vars).
    context: String,
    entries: HashMap<String, Entry>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Entry {
    stamp: FileStamp,
    runbook: Runbook,
}

/// The cache of one KB for one process: read at load, written back when something changed.
pub struct ParseCache {
    file: Option<PathBuf>,
    context: String,
    entries: HashMap<String, Entry>,
    changed: bool,
}

impl ParseCache {
    /// Opens the cache in `state_dir`; a missing, unreadable or incompatible cache is empty.
    pub fn open(state_dir: Option<&Path>, context: String) -> ParseCache {
        let file = state_dir.map(|dir| dir.join(CACHE_FILE));
        let entries = file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|bytes| serde_json::from_slice::<CacheFile>(&bytes).ok())
            .filter(|c| c.format == FORMAT && c.engine == env!("CARGO_PKG_VERSION") && c.context == context)
            .map(|c| c.entries)
            .unwrap_or_default();
        ParseCache { file, context, entries, changed: false }
    }

    /// The cached summary of `path` if the file still has this stamp.
    pub fn get(&self, path: &str, stamp: FileStamp) -> Option<Runbook> {
        self.entries.get(path).filter(|e| e.stamp == stamp).map(|e| e.runbook.clone())
    }

    /// Records a fresh parse (without its body and without KB-level diagnostics).
    pub fn insert(&mut self, path: &str, stamp: FileStamp, runbook: &Runbook) {
        if stamp.is_racy() {
            self.changed |= self.entries.remove(path).is_some();
            return;
        }
        let mut summary = runbook.clone();
        summary.body = None;
        self.entries.insert(path.to_string(), Entry { stamp, runbook: summary });
        self.changed = true;
    }

    /// Drops entries of files that no longer exist.
    pub fn retain(&mut self, present: &std::collections::HashSet<&str>) {
        let before = self.entries.len();
        self.entries.retain(|path, _| present.contains(path.as_str()));
        self.changed |= self.entries.len() != before;
    }

    /// Writes the cache back if it changed. Failing to write (read-only KB, full disk) only
    /// costs speed next time, so it is not an error.
    pub fn save(self) {
        let (Some(file), true) = (self.file, self.changed) else {
            return;
        };
        let cache = CacheFile {
            format: FORMAT,
            engine: env!("CARGO_PKG_VERSION").to_string(),
            context: self.context,
            entries: self.entries,
        };
        let Some(dir) = file.parent() else { return };
        if super::state::ensure_state_dir(dir).is_err() {
            return;
        }
        let tmp = dir.join(format!("{CACHE_FILE}.{}.tmp", std::process::id()));
        let written = serde_json::to_vec(&cache)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &file));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}
