//! Parse summaries kept between runs in the KB state dir (`.runbook/parse-cache/`), so that
//! listing or checking ten thousand runbooks re-parses only the files whose size or modification
//! time changed. Parsing the YAML of every step is most of the cost of reading a KB.
//!
//! The cache is split into shards by path, and only shards that changed are written back: one
//! edited file costs one small write, not a rewrite of every summary.

use super::runbook::Runbook;
use crate::util::fs::write_atomic;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const CACHE_DIR: &str = "parse-cache";
const SHARDS: usize = 64;

/// Bump when the parser's output changes shape or meaning, so older caches are ignored.
const FORMAT: u32 = 4;

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

    /// The stamp of the file at `path`, if it can be read.
    pub fn of_path(path: &Path) -> Option<FileStamp> {
        std::fs::metadata(path).ok().and_then(|m| FileStamp::of(&m))
    }

    /// Too recent to trust: another write could land within the same timestamp.
    pub fn is_racy(&self) -> bool {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Duration::from_nanos(self.mtime_ns) + RACY_WINDOW > now
    }
}

#[derive(Serialize, Deserialize, Default)]
struct Shard {
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

/// The cache of one KB for one process: read at load, written back where something changed.
pub(crate) struct ParseCache {
    dir: Option<PathBuf>,
    context: String,
    entries: HashMap<String, Entry>,
}

fn shard_of(path: &str) -> usize {
    // FNV-1a: stable across runs and platforms, unlike the std hasher.
    let hash = path.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    (hash % SHARDS as u64) as usize
}

fn shard_file(dir: &Path, shard: usize) -> PathBuf {
    dir.join(format!("{shard:02}.json"))
}

impl ParseCache {
    /// Opens the cache in `state_dir`; missing, unreadable or incompatible shards are empty.
    pub(crate) fn open(state_dir: Option<&Path>, context: String) -> ParseCache {
        let dir = state_dir.map(|d| d.join(CACHE_DIR));
        let entries = match &dir {
            Some(dir) if dir.is_dir() => (0..SHARDS)
                .into_par_iter()
                .filter_map(|shard| std::fs::read(shard_file(dir, shard)).ok())
                .filter_map(|bytes| serde_json::from_slice::<Shard>(&bytes).ok())
                .filter(|s| s.format == FORMAT && s.engine == env!("CARGO_PKG_VERSION") && s.context == context)
                .flat_map_iter(|s| s.entries)
                .collect(),
            _ => HashMap::new(),
        };
        ParseCache { dir, context, entries }
    }

    /// Takes the cached summary of `path` out of the cache if the file still has this stamp.
    pub(crate) fn take(&mut self, path: &str, stamp: FileStamp) -> Option<Runbook> {
        match self.entries.get(path) {
            Some(entry) if entry.stamp == stamp => self.entries.remove(path).map(|e| e.runbook),
            _ => None,
        }
    }

    /// Writes back the shards that changed: those with a fresh parse, and those still holding
    /// entries nobody took (files edited or gone). `current` is every runbook of the KB with its
    /// stamp and whether it was parsed now. Failing to write (read-only KB, full disk) only costs
    /// speed next time, so it is not an error.
    pub(crate) fn save<'a>(self, current: impl Iterator<Item = (&'a Runbook, Option<FileStamp>, bool)>) {
        let Some(dir) = self.dir else { return };
        let current: Vec<(&Runbook, Option<FileStamp>, bool)> = current.collect();
        let mut dirty = [false; SHARDS];
        for path in self.entries.keys() {
            dirty[shard_of(path)] = true;
        }
        for (runbook, stamp, fresh) in &current {
            if *fresh && stamp.is_some_and(|s| !s.is_racy()) {
                dirty[shard_of(&runbook.path)] = true;
            }
        }
        if !dirty.iter().any(|d| *d) {
            return;
        }
        if let Some(state) = dir.parent()
            && super::state::ensure_state_dir(state).is_err()
        {
            return;
        }
        if std::fs::create_dir_all(&dir).is_err() {
            return;
        }
        let mut shards: Vec<BTreeMap<&str, EntryRef>> = (0..SHARDS).map(|_| BTreeMap::new()).collect();
        for (runbook, stamp, _) in &current {
            let shard = shard_of(&runbook.path);
            if let (true, Some(stamp)) = (dirty[shard], stamp.filter(|s| !s.is_racy())) {
                shards[shard].insert(&runbook.path, EntryRef { stamp, runbook });
            }
        }
        let context = self.context;
        shards.into_par_iter().enumerate().filter(|(i, _)| dirty[*i]).for_each(|(i, entries)| {
            let shard = ShardRef { format: FORMAT, engine: env!("CARGO_PKG_VERSION"), context: &context, entries };
            // A shard that cannot be written only costs speed next time.
            if let Ok(bytes) = serde_json::to_vec(&shard) {
                let _ = write_atomic(&shard_file(&dir, i), &bytes);
            }
        });
    }
}

/// A shard as written: borrowed, with the same JSON shape as [`Shard`].
#[derive(Serialize)]
struct ShardRef<'a> {
    format: u32,
    engine: &'a str,
    context: &'a str,
    entries: BTreeMap<&'a str, EntryRef<'a>>,
}

/// A runbook as cached: its summary (serde skips the body).
#[derive(Serialize)]
struct EntryRef<'a> {
    stamp: FileStamp,
    runbook: &'a Runbook,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(shard_of("runbooks/a.md"), shard_of("runbooks/a.md"));
        let used: std::collections::HashSet<usize> =
            (0..1000).map(|i| shard_of(&format!("runbooks/x{i}.md"))).collect();
        assert!(used.len() > SHARDS / 2);
    }
}
