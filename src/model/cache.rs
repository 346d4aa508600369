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

    /// The stamps of `files`, in order, on every core, in chunks that each keep the last
    /// folder open (see [`StampsByFolder`]): a sorted list of paths keeps a folder's files
    /// together.
    pub(crate) fn of_paths(files: &[Option<&Path>]) -> Vec<Option<FileStamp>> {
        const CHUNK: usize = 256;
        files
            .par_chunks(CHUNK)
            .flat_map_iter(|chunk| {
                let mut by_folder = StampsByFolder::default();
                chunk.iter().map(move |file| file.and_then(|file| by_folder.stamp(file))).collect::<Vec<_>>()
            })
            .collect()
    }

    fn of_statx(st: &rustix::fs::Statx) -> Option<FileStamp> {
        let seconds = u64::try_from(st.stx_mtime.tv_sec).ok()?;
        let mtime_ns = seconds.checked_mul(1_000_000_000)?.checked_add(u64::from(st.stx_mtime.tv_nsec))?;
        Some(FileStamp { size: st.stx_size, mtime_ns })
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

/// Stamps of files met folder by folder, as a walk meets them: each is looked up by name from
/// its folder, opened once, so `statx` resolves one name instead of every component from the
/// root. Where the folder cannot be opened or `statx` leaves the time out, by path.
#[derive(Default)]
pub(crate) struct StampsByFolder {
    folder: Option<(PathBuf, Option<rustix::fd::OwnedFd>)>,
}

impl StampsByFolder {
    pub(crate) fn stamp(&mut self, file: &Path) -> Option<FileStamp> {
        use rustix::fs::{AtFlags, Mode, OFlags, StatxFlags};
        let (Some(parent), Some(name)) = (file.parent(), file.file_name()) else {
            return FileStamp::of_path(file);
        };
        if self.folder.as_ref().is_none_or(|(open, _)| open != parent) {
            let fd = rustix::fs::open(parent, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok();
            self.folder = Some((parent.to_path_buf(), fd));
        }
        let Some((_, Some(folder))) = &self.folder else {
            return FileStamp::of_path(file);
        };
        let wanted = StatxFlags::SIZE | StatxFlags::MTIME;
        match rustix::fs::statx(folder, name, AtFlags::empty(), wanted) {
            Ok(st) if st.stx_mask & wanted.bits() == wanted.bits() => FileStamp::of_statx(&st),
            Ok(_) => FileStamp::of_path(file),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_by_folder_are_the_stamps_by_path() {
        let tmp = tempfile::tempdir().expect("temporary folder");
        let root = tmp.path();
        std::fs::create_dir_all(root.join("a/b")).expect("folders");
        for (file, text) in [("a/one.md", "1"), ("a/two.md", "22"), ("a/b/three.md", "333"), ("four.md", "4444")] {
            std::fs::write(root.join(file), text).expect("file");
        }
        std::os::unix::fs::symlink(root.join("a/two.md"), root.join("a/link.md")).expect("symlink");
        // Folders left and come back to, a missing file and a missing folder.
        let files: Vec<PathBuf> =
            ["a/one.md", "a/b/three.md", "a/link.md", "a/missing.md", "four.md", "gone/x.md", "a/two.md", "a"]
                .iter()
                .map(|p| root.join(p))
                .collect();
        let mut by_folder = StampsByFolder::default();
        let stamps: Vec<Option<FileStamp>> = files.iter().map(|file| by_folder.stamp(file)).collect();
        let by_path: Vec<Option<FileStamp>> = files.iter().map(|file| FileStamp::of_path(file)).collect();
        assert_eq!(stamps, by_path);
        let mut listed: Vec<Option<&Path>> = files.iter().map(|file| Some(file.as_path())).collect();
        listed.insert(2, None);
        let mut expected = by_path.clone();
        expected.insert(2, None);
        assert_eq!(FileStamp::of_paths(&listed), expected);
        // More files than one chunk holds, in order.
        let many: Vec<PathBuf> = (0..600).map(|i| root.join(format!("a/b/n{i:03}.md"))).collect();
        for (i, file) in many.iter().enumerate() {
            std::fs::write(file, "x".repeat(i)).expect("file");
        }
        let listed: Vec<Option<&Path>> = many.iter().map(|p| Some(p.as_path())).collect();
        let sizes: Vec<Option<u64>> = FileStamp::of_paths(&listed).iter().map(|s| s.map(|s| s.size)).collect();
        assert_eq!(sizes, (0..600).map(Some).collect::<Vec<_>>());
        let sizes: Vec<Option<u64>> = stamps.iter().map(|s| s.map(|s| s.size)).take(7).collect();
        assert_eq!(sizes, [Some(1), Some(3), Some(2), None, Some(4), None, Some(2)]);
    }

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(shard_of("runbooks/a.md"), shard_of("runbooks/a.md"));
        let used: std::collections::HashSet<usize> =
            (0..1000).map(|i| shard_of(&format!("runbooks/x{i}.md"))).collect();
        assert!(used.len() > SHARDS / 2);
    }
}
