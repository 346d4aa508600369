//! The index on disk and keeping it fresh: before every read, compare what the KB and archives
//! hold with what was indexed (by content hash and id), and re-index only what changed.

use super::directory::IndexDirectory;
use super::documents::{self, archive_document, cycle_document, runbook_documents};
use super::hit::{Hit, Kind, MoreSection, SearchRequest, SearchResults};
use super::query::{self, Builder, ParsedQuery};
use super::schema::{self, Fields, SCHEMA_VERSION};
use super::snippet;
use super::tokenizer;
use crate::archive::store::{ArchiveFile, Archives, MARKDOWN_FILE, RECORD_FILE, cycle_title};
use crate::model::cache::{FileStamp, ParseCache};
use crate::model::config::{CONFIG_FILE, Config};
use crate::model::discovery::KbSource;
use crate::model::hugo::HugoSite;
use crate::model::kb::builtin_signature;
use crate::model::kb::{STATE_DIR, final_ids};
use crate::model::parse::{ParseContext, SourceFile, read_file};
use crate::model::state::ensure_state_dir;
use crate::model::{Kb, Runbook, RunbookIdx};
use crate::record::RunRecord;
use crate::util::fs::{lock_exclusive, remove_if_present, write_atomic};
use crate::util::text::hex;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tantivy::collector::TopDocs;
use tantivy::index::SegmentId;
use tantivy::query::{FuzzyTermQuery, Query};
use tantivy::schema::Value;
use tantivy::{Index, IndexReader, IndexWriter, Opstamp, ReloadPolicy, TantivyDocument, TantivyError, Term};

const VERSION_FILE: &str = "runbook-index.json";
/// The manifest, in postcard after [`MANIFEST_MAGIC`]: at 10,000 runbooks it was 4.3 MB of JSON,
/// read and written again on every sync that changed anything.
const MANIFEST_FILE: &str = "runbook-manifest.bin";
/// The JSON manifest of earlier versions, removed when the first new one is written.
const OLD_MANIFEST_FILE: &str = "runbook-manifest.json";
/// The format of [`MANIFEST_FILE`]; a manifest of another format is not read (the next sync
/// then indexes everything again, as for a damaged one).
const MANIFEST_MAGIC: &[u8] = b"runbook-manifest 2\n";
/// Beside the manifest: the hash of what it records (see [`Signature`]).
const SIGNATURE_FILE: &str = "runbook-signature";
/// Beside the manifest: keys a server indexed again after an edit ([`SearchIndex::reindex_runbooks`]),
/// one per line, whose manifest entries no longer say what the index holds. The next sync
/// indexes them again and empties it; rewriting the whole manifest for one file would cost
/// what the whole KB costs.
const REINDEXED_FILE: &str = "runbook-reindexed";
/// How long a sync waits for another process that is writing the index.
const LOCK_WAIT: Duration = Duration::from_secs(3);
/// How long a search waits for another process building the index from nothing.
const FIRST_BUILD_WAIT: Duration = Duration::from_secs(60);
/// Memory for the index writer, in bytes, per thread.
const WRITER_MEMORY: usize = 48 * 1024 * 1024;
/// Up to this many sources changed, the writer is one thread with tantivy's smallest budget:
/// an edit re-indexes a file or two, and starting threads and arenas sized for a first build
/// would cost more than indexing them.
const SMALL_CHANGE: usize = 16;
/// tantivy's smallest writer budget (its `MEMORY_BUDGET_NUM_BYTES_MIN`, not exported).
const SMALL_WRITER_MEMORY: usize = 15_000_000;

/// Taken in the state folder while the index is opened or created.
const OPEN_LOCK_FILE: &str = "index.lock";

/// Decompressed blocks of stored text kept per segment (tantivy's default is 100). Snippets read
/// a handful of documents per search and a block decompresses in microseconds, while a long-lived
/// `serve` with many segments would otherwise hold megabytes per segment.
const DOC_STORE_CACHE_BLOCKS: usize = 8;
/// Sources (runbooks, runs, cycle reports) turned into documents at a time.
const DOCUMENT_BATCH: usize = 256;
const DEFAULT_LIMIT: usize = 10;
/// Sections fetched per hit asked for, to fold a page's sections under one hit.
const SECTIONS_PER_HIT: usize = 5;
const MIN_SECTIONS: usize = 50;
const MAX_LIMIT: usize = 1000;
/// A word being typed matches at most this many of the words it begins (the most frequent).
const MAX_COMPLETIONS: usize = 16;
/// Dictionary entries looked at per field and segment for those words: a one-letter prefix
/// must not walk the whole dictionary.
const COMPLETION_SCAN: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index in {}: {source}", dir.display())]
    Tantivy { dir: PathBuf, source: TantivyError },
    #[error("search index in {}: {source}", dir.display())]
    Io { dir: PathBuf, source: std::io::Error },
}

/// What a sync did.
#[derive(Debug, Default, Clone)]
pub struct SyncReport {
    /// Keys (`rb:<path>`, `run:<id>`, `cycle:<name>`) indexed anew.
    pub indexed: Vec<String>,
    pub removed: Vec<String>,
    /// The index was rebuilt from nothing (new, or another schema version).
    pub rebuilt: bool,
    /// Another process was writing the index: what is searched may be slightly old.
    pub stale: bool,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct ManifestEntry {
    /// Content hash and id for runbooks; size and mtime for archive files.
    fingerprint: String,
}

/// What the index holds, and the state of the sources when it was synced: enough to tell, by
/// `stat` alone, that nothing changed since.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Manifest {
    entries: HashMap<String, ManifestEntry>,
    /// Runbook file (KB-relative path) → what was known of it.
    #[serde(default)]
    files: BTreeMap<String, FileFacts>,
    #[serde(default)]
    config: Option<FileStamp>,
    /// Sizes and times of the Hugo config files (their `params` show in pages).
    #[serde(default)]
    site: String,
    /// For the built-in KB: its signature.
    #[serde(default)]
    builtin: Option<String>,
    /// Runs (folder names) whose record was still being written, or could not be read, when
    /// they were indexed. A finished record is never rewritten, so the quick freshness check
    /// knows every other run by its folder name alone and `stat`s only these. `None` in a
    /// manifest from before this was kept: every run is looked at once then.
    #[serde(default)]
    open_runs: Option<BTreeSet<String>>,
    /// The [`REINDEXED_FILE`] as read with this manifest; its keys' entries were forgotten.
    #[serde(skip)]
    reindexed: Vec<u8>,
}

impl Manifest {
    /// Forgets what the entries of the keys in `journal` ([`REINDEXED_FILE`]) said, so that
    /// each is indexed again (or removed, when its file is gone).
    fn forget_reindexed(&mut self, journal: Vec<u8>) {
        for key in String::from_utf8_lossy(&journal).lines() {
            if let Some(entry) = self.entries.get_mut(key) {
                entry.fingerprint.clear();
            }
        }
        self.reindexed = journal;
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct VersionInfo {
    schema: u32,
}

pub struct SearchIndex {
    dir: Option<PathBuf>,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// Until the first sync, the index on disk (if any) is not to be trusted.
    rebuilt: AtomicBool,
    /// The manifest of an index that lives in memory only (no folder to keep it in).
    memory_manifest: Mutex<Manifest>,
}

/// What one source contributes to the index.
enum Source {
    /// Index into the runbooks being synced.
    Runbook(usize),
    Archive(ArchiveFile),
    Cycle {
        name: String,
        file: PathBuf,
        path: String,
    },
}

/// What the index remembers of a runbook file between syncs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct FileFacts {
    /// The key it is kept under in the manifest, so not written twice.
    #[serde(skip)]
    path: String,
    stamp: Option<FileStamp>,
    sha256: String,
    /// The front-matter id, if the file sets one.
    explicit_id: Option<String>,
    stem_path: String,
    /// Errors in the file itself, shown with its hits (the file is indexed all the same).
    errors: usize,
}

impl FileFacts {
    fn of(runbook: &Runbook) -> FileFacts {
        FileFacts {
            path: runbook.path.clone(),
            stamp: runbook.stamp,
            sha256: runbook.sha256.clone(),
            explicit_id: runbook.explicit_id.then(|| runbook.id.clone()),
            stem_path: runbook.stem_path.clone(),
            errors: runbook.file_errors,
        }
    }
}

/// A runbook being synced: its facts, its final id, and where its text comes from.
struct Indexed {
    facts: FileFacts,
    id: String,
    origin: Origin,
}

enum Origin {
    /// A runbook of a loaded KB.
    Kb(RunbookIdx),
    /// Parsed during this sync (it changed).
    Parsed(Box<Runbook>),
    /// Unchanged on disk; parsed only if its documents are needed after all (its id changed).
    File(Box<SourceFile>),
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it, or rebuilding it when it was built with another
    /// schema. Where the folder cannot be written, the index lives in memory for this process.
    pub fn open(dir: &Path) -> Result<SearchIndex, IndexError> {
        let err = |source| IndexError::Tantivy { dir: dir.to_path_buf(), source };
        let (schema, fields) = schema::build();
        // Several processes may open a KB's index at once (a script running searches in
        // parallel): one that finds it missing creates it — removing what is there — and another
        // must not open it half made. Opening is short; searches run after the lock is gone.
        let _opening = dir.parent().and_then(|state| {
            ensure_state_dir(state).ok()?;
            lock_exclusive(&state.join(OPEN_LOCK_FILE))
        });
        let compatible = std::fs::read(dir.join(VERSION_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<VersionInfo>(&bytes).ok())
            .is_some_and(|v| v.schema == SCHEMA_VERSION);
        let mut rebuilt = false;
        let index = if compatible && dir.join("meta.json").exists() {
            let directory = IndexDirectory::open(dir).map_err(|e| err(e.into()))?;
            Index::open(directory).map_err(err)?
        } else {
            rebuilt = true;
            match Self::create(dir, &schema) {
                Ok(index) => index,
                Err(_) => {
                    let index = Index::create_in_ram(schema);
                    return Self::finish_open(None, index, fields, true);
                }
            }
        };
        Self::finish_open(Some(dir.to_path_buf()), index, fields, rebuilt)
    }

    fn create(dir: &Path, schema: &tantivy::schema::Schema) -> std::io::Result<Index> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        if let Some(parent) = dir.parent() {
            ensure_state_dir(parent)?;
        }
        std::fs::create_dir_all(dir)?;
        let directory = IndexDirectory::open(dir).map_err(std::io::Error::other)?;
        let index = Index::create(directory, schema.clone(), tantivy::IndexSettings::default())
            .map_err(std::io::Error::other)?;
        let version = serde_json::to_vec(&VersionInfo { schema: SCHEMA_VERSION }).map_err(std::io::Error::other)?;
        write_atomic(&dir.join(VERSION_FILE), &version)?;
        Ok(index)
    }

    fn finish_open(
        dir: Option<PathBuf>,
        index: Index,
        fields: Fields,
        rebuilt: bool,
    ) -> Result<SearchIndex, IndexError> {
        let place = dir.clone().unwrap_or_default();
        for (name, analyzer) in tokenizer::analyzers() {
            index.tokenizers().register(name, analyzer);
        }
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(DOC_STORE_CACHE_BLOCKS)
            .try_into()
            .map_err(|source| IndexError::Tantivy { dir: place, source })?;
        Ok(SearchIndex {
            dir,
            index,
            reader,
            fields,
            rebuilt: AtomicBool::new(rebuilt),
            memory_manifest: Mutex::new(Manifest::default()),
        })
    }

    fn manifest_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(MANIFEST_FILE))
    }

    fn read_manifest(&self) -> Manifest {
        if self.rebuilt.load(Ordering::Acquire) {
            return Manifest::default();
        }
        match self.manifest_path() {
            Some(path) => {
                let mut manifest =
                    std::fs::read(&path).ok().and_then(|bytes| decode_manifest(&bytes)).unwrap_or_default();
                if let Ok(journal) = std::fs::read(path.with_file_name(REINDEXED_FILE)) {
                    manifest.forget_reindexed(journal);
                }
                manifest
            }
            None => self.memory_manifest.lock().map(|m| m.clone()).unwrap_or_default(),
        }
    }

    /// Empties the [`REINDEXED_FILE`] of what `read` (as read with the manifest just replaced)
    /// held, keeping what a server added since. Called with the writer held, as every addition
    /// is made.
    fn settle_reindexed(&self, read: &[u8]) -> Result<(), IndexError> {
        let Some(path) = self.dir.as_ref().map(|dir| dir.join(REINDEXED_FILE)) else {
            return Ok(());
        };
        let now = match std::fs::read(&path) {
            Ok(now) => now,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(self.io_error(err)),
        };
        match now.strip_prefix(read) {
            Some([]) => remove_if_present(&path).map_err(|e| self.io_error(e)),
            Some(added) => write_atomic(&path, added).map_err(|e| self.io_error(e)),
            // Not what was read (changed meanwhile): kept whole, it only costs indexing again.
            None => Ok(()),
        }
    }

    /// Makes the manifest stop vouching for `keys` before they are indexed again outside a
    /// sync: the signature goes (no search trusts the manifest unseen) and the keys are added
    /// to the [`REINDEXED_FILE`], on disk before the commit that needs them. Called with the
    /// writer held.
    fn forget_in_manifest(&self, keys: &[String]) -> Result<(), IndexError> {
        let Some(path) = self.manifest_path() else {
            if let Ok(mut kept) = self.memory_manifest.lock() {
                for key in keys {
                    if let Some(entry) = kept.entries.get_mut(key) {
                        entry.fingerprint.clear();
                    }
                }
                // An index in memory is signed by its manifest; one without its open runs has no
                // signature, and is synced before it is trusted again.
                kept.open_runs = None;
            }
            return Ok(());
        };
        remove_if_present(&path.with_file_name(SIGNATURE_FILE)).map_err(|e| self.io_error(e))?;
        let mut lines = String::new();
        for key in keys {
            lines.push_str(key);
            lines.push('\n');
        }
        let append = || -> std::io::Result<()> {
            use std::io::Write;
            let mut journal =
                std::fs::OpenOptions::new().create(true).append(true).open(path.with_file_name(REINDEXED_FILE))?;
            journal.write_all(lines.as_bytes())?;
            journal.sync_data()
        };
        append().map_err(|e| self.io_error(e))
    }

    /// Indexes the runs `written` (folder names in `archives`) again, and nothing else: for a
    /// server that saw their records written. As [`Self::reindex_runbooks`], the manifest is
    /// not rewritten.
    pub fn reindex_runs(
        &self,
        source: &KbSource,
        archives: &Archives,
        written: &[String],
    ) -> Result<SyncReport, IndexError> {
        let keys = written.iter().map(|run| documents::archive_key(run)).collect();
        self.reindex_alone(keys, |i| {
            let dir = archives.run_dir(&written[i]);
            self.run_documents(source, archives, &dir.join(RECORD_FILE), &dir.join(MARKDOWN_FILE))
        })
    }

    /// Indexes runbooks `changed` of `kb` again, and nothing else: for a server that has read
    /// them again after an edit. Costs what those files cost, however large the KB; the
    /// manifest is not rewritten (see [`REINDEXED_FILE`]).
    pub fn reindex_runbooks(&self, kb: &Kb, changed: &[RunbookIdx]) -> Result<SyncReport, IndexError> {
        let keys = changed.iter().map(|&idx| documents::runbook_key(&kb[idx].path)).collect();
        self.reindex_alone(keys, |i| {
            let idx = changed[i];
            // Unreadable now: it leaves the index, as a sync of a loaded KB does.
            match kb.body(idx) {
                Ok(body) => runbook_documents(&self.fields, &kb[idx], &body, &kb[idx].id),
                Err(_) => Vec::new(),
            }
        })
    }

    /// Replaces the documents of `keys` with `documents(i)` for the `i`th key, outside a sync:
    /// the manifest stops vouching for them first ([`Self::forget_in_manifest`]).
    fn reindex_alone(
        &self,
        keys: Vec<String>,
        documents: impl Fn(usize) -> Vec<TantivyDocument>,
    ) -> Result<SyncReport, IndexError> {
        let started = Instant::now();
        let Some(mut writer) = self.writer(LOCK_WAIT, keys.len())? else {
            self.catch_up()?;
            return Ok(SyncReport { stale: true, elapsed: started.elapsed(), ..SyncReport::default() });
        };
        self.forget_in_manifest(&keys)?;
        for (i, key) in keys.iter().enumerate() {
            writer.delete_term(Term::from_field_text(self.fields.key, key));
            for document in documents(i) {
                writer.add_document(document).map_err(|e| self.tantivy_error(e))?;
            }
        }
        writer.commit().map_err(|e| self.tantivy_error(e))?;
        self.reader.reload().map_err(|e| self.tantivy_error(e))?;
        Ok(SyncReport { indexed: keys, elapsed: started.elapsed(), ..SyncReport::default() })
    }

    /// Opens the KB's own index (in its state folder, or in memory where that cannot be
    /// written) and brings it up to date with [`refresh`](SearchIndex::refresh).
    pub fn open_fresh(
        source: &KbSource,
        config: &Config,
        archives: &Archives,
    ) -> Result<(SearchIndex, SyncReport), IndexError> {
        let index = SearchIndex::open(&source.index_dir())?;
        let report = index.refresh(source, config, archives)?;
        Ok((index, report))
    }

    /// Opens the KB's own index like [`open_fresh`](SearchIndex::open_fresh), but runs `work`
    /// on it while another thread checks that it is fresh: that is the common case, and a
    /// search then costs the longer of the two, not both. When the index was not fresh, it is
    /// synced and `work` runs again on what it holds now.
    pub fn open_fresh_then<T>(
        source: &KbSource,
        config: &Config,
        archives: &Archives,
        work: impl Fn(&SearchIndex) -> T,
    ) -> Result<(SearchIndex, SyncReport, T), IndexError> {
        let index = SearchIndex::open(&source.index_dir())?;
        let ((fresh, seen), done) = std::thread::scope(|scope| {
            let check = scope.spawn(|| index.check(source, archives));
            let done = work(&index);
            // A check that panicked proves nothing: sync.
            (check.join().unwrap_or((false, None)), done)
        });
        if fresh {
            // Fresh by the signature, which another process may have written after this one
            // opened its reader: then `work` saw the index as it was before that commit.
            let done = if index.catch_up()? { work(&index) } else { done };
            return Ok((index, SyncReport::default(), done));
        }
        let report = index.sync_seen(source, config, archives, seen)?;
        let done = work(&index);
        Ok((index, report, done))
    }

    /// Brings the index up to date: nothing to do when file sizes and times show that nothing
    /// changed since the last sync, else [`sync_files`](SearchIndex::sync_files).
    pub fn refresh(&self, source: &KbSource, config: &Config, archives: &Archives) -> Result<SyncReport, IndexError> {
        match self.unchanged_since_sync(source, archives) {
            Some(()) => {
                self.catch_up()?;
                Ok(SyncReport::default())
            }
            None => self.sync_files(source, config, archives),
        }
    }

    /// Whether a file of the KB or the archives may have changed since the last sync (judged
    /// by sizes and times alone), so that a reader holding a loaded KB must reload it.
    pub fn needs_sync(&self, source: &KbSource, archives: &Archives) -> bool {
        self.unchanged_since_sync(source, archives).is_none()
    }

    /// `Some` when the index certainly matches the KB and the archives, judged by file sizes and
    /// modification times alone (no parsing); `None` when anything may have changed, and a sync
    /// must look. The sources as they are now are hashed into one signature and compared with
    /// the one the last sync wrote, so the check reads a few bytes, not the whole manifest.
    fn unchanged_since_sync(&self, source: &KbSource, archives: &Archives) -> Option<()> {
        self.check(source, archives).0.then_some(())
    }

    /// Whether the index is fresh (see [`Self::unchanged_since_sync`]), and the runbook files
    /// the check saw, for the sync that follows when it is not.
    fn check(&self, source: &KbSource, archives: &Archives) -> (bool, Option<Seen>) {
        if self.rebuilt.load(Ordering::Acquire) {
            return (false, None);
        }
        let seen = source.root().map(|_| Seen::now(source));
        let fresh = self.recorded_signature().is_some_and(|recorded| {
            current_signature(source, archives, seen.as_ref(), &recorded.open_runs)
                .is_some_and(|current| current == recorded.signature)
        });
        (fresh, seen)
    }

    /// The signature of the sources as the last sync saw them, with the runs it must `stat`.
    fn recorded_signature(&self) -> Option<Recorded> {
        match self.manifest_path() {
            Some(_) => {
                let path = self.dir.as_ref()?.join(SIGNATURE_FILE);
                Recorded::parse(&std::fs::read_to_string(path).ok()?)
            }
            None => Recorded::parse(&signature_file(&self.read_manifest())),
        }
    }

    /// Brings the index up to date with a loaded KB (the site server's path).
    pub fn sync(&self, kb: &Kb, archives: &Archives) -> Result<SyncReport, IndexError> {
        let runbooks = kb
            .iter()
            .map(|(idx, rb)| Indexed { facts: FileFacts::of(rb), id: rb.id.clone(), origin: Origin::Kb(idx) })
            .collect();
        let ctx = ParseContext::for_kb(&kb.source, &kb.config);
        self.apply(Some(kb), &kb.source, &ctx, runbooks, archives, self.read_manifest())
    }

    /// Brings the index up to date by looking at the files alone: runbooks whose size and time
    /// match the last sync are not read; the others are parsed. The KB is never loaded whole,
    /// which is what keeps `runbook search` fast after an edit.
    pub fn sync_files(
        &self,
        source: &KbSource,
        config: &Config,
        archives: &Archives,
    ) -> Result<SyncReport, IndexError> {
        self.sync_seen(source, config, archives, None)
    }

    /// [`Self::sync_files`], from the files a freshness check just listed and stamped when it
    /// has them (a file changed since then is a change the next search sees).
    fn sync_seen(
        &self,
        source: &KbSource,
        config: &Config,
        archives: &Archives,
        seen: Option<Seen>,
    ) -> Result<SyncReport, IndexError> {
        let manifest = self.read_manifest();
        let ctx = ParseContext::for_kb(source, config);
        let Seen { files, stamps } = seen.unwrap_or_else(|| Seen::now(source));
        let known: Vec<Option<FileFacts>> = files
            .par_iter()
            .zip(&stamps)
            .map(|(file, stamp)| {
                let stamp = (*stamp)?;
                let facts = manifest.files.get(&file.path)?;
                (facts.stamp == Some(stamp) && !stamp.is_racy()).then(|| facts.clone())
            })
            .collect();
        // Ids need every file's facts first. A few changed files are kept parsed for indexing;
        // many (a first build) are parsed again batch by batch, so the whole KB is never held
        // in memory at once. Their facts come from the parse cache where it has them, so that
        // each of those files is parsed once, for its documents, not twice.
        let keep_parsed = known.iter().filter(|k| k.is_none()).count() <= DOCUMENT_BATCH;
        let cached =
            if keep_parsed { vec![None; files.len()] } else { cached_facts(source, &ctx, &files, &stamps, &known) };
        let mut entries: Vec<(FileFacts, Origin)> = files
            .into_par_iter()
            .zip(known)
            .zip(cached)
            .map(|((file, known), cached)| match known.or(cached) {
                Some(facts) => (facts, Origin::File(Box::new(file))),
                None if keep_parsed => {
                    let runbook = read_file(file, &ctx);
                    (FileFacts::of(&runbook), Origin::Parsed(Box::new(runbook)))
                }
                None => {
                    let again = file.clone();
                    (FileFacts::of(&read_file(file, &ctx)), Origin::File(Box::new(again)))
                }
            })
            .collect();
        let ids = final_ids(entries.iter().map(|(f, _)| (f.explicit_id.as_deref(), f.stem_path.as_str())));
        let runbooks = entries.drain(..).zip(ids).map(|((facts, origin), id)| Indexed { facts, id, origin }).collect();
        // The manifest read above is the one the changes are judged against: read it once.
        self.apply(None, source, &ctx, runbooks, archives, manifest)
    }

    /// The shared core of both syncs: decides what changed and updates the index.
    fn apply(
        &self,
        kb: Option<&Kb>,
        source: &KbSource,
        ctx: &ParseContext,
        mut runbooks: Vec<Indexed>,
        archives: &Archives,
        old: Manifest,
    ) -> Result<SyncReport, IndexError> {
        let started = Instant::now();
        let mut report = SyncReport { rebuilt: self.rebuilt.load(Ordering::Acquire), ..SyncReport::default() };
        let (current, files) = wanted(source, ctx, &mut runbooks, archives);
        let mut still_there = 0;
        let changed: Vec<(&String, &Source)> = current
            .iter()
            .filter(|(key, (entry, _))| {
                let before = old.entries.get(*key);
                still_there += usize::from(before.is_some());
                before != Some(entry)
            })
            .map(|(key, (_, source))| (key, source))
            .collect();
        // When every key indexed before is still wanted, nothing was removed: the common case,
        // known without looking each of them up again.
        let removed: Vec<String> = if still_there == old.entries.len() {
            Vec::new()
        } else {
            old.entries.keys().filter(|k| !current.contains_key(*k)).cloned().collect()
        };
        let config = source.root().and_then(|root| FileStamp::of_path(&root.join(CONFIG_FILE)));
        let builtin = source.root().is_none().then(builtin_signature);
        let open_runs = open_runs(&current, &changed, &old, archives);
        // The files' facts are moved into the manifest written, not copied: ten thousand of them.
        let next = |entries: HashMap<String, ManifestEntry>, files: BTreeMap<String, FileFacts>| Manifest {
            entries,
            files,
            config,
            site: ctx.site_stamps.clone(),
            builtin: builtin.clone(),
            open_runs: Some(open_runs.clone()),
            reindexed: Vec::new(),
        };
        // Keys indexed outside a sync that match no file now still need the journal emptied,
        // which takes the writer.
        if changed.is_empty() && removed.is_empty() && old.reindexed.is_empty() {
            // Nothing to index; remember the files' stamps so the next search can skip all this
            // (and sign them again, when the signature was lost).
            let manifest = next(old.entries.clone(), files);
            let unsigned = self.recorded_signature().map(|r| r.signature) != Some(manifest_signature(&manifest));
            if unsigned
                || old.open_runs.as_ref() != Some(&open_runs)
                || old.files != manifest.files
                || old.config != config
                || old.builtin != builtin
                || old.site != ctx.site_stamps
            {
                self.write_manifest(&manifest)?;
            }
            // Nothing changed since the manifest read above, which another process may have
            // written after this one opened its reader.
            self.catch_up()?;
            report.elapsed = started.elapsed();
            return Ok(report);
        }
        // An index never built has nothing to show: wait for whoever is building it instead.
        let wait = if old.entries.is_empty() { FIRST_BUILD_WAIT } else { LOCK_WAIT };
        let Some(mut writer) = self.writer(wait, changed.len())? else {
            // Show at least the last commit of the process that holds the writer.
            self.catch_up()?;
            report.stale = true;
            report.elapsed = started.elapsed();
            return Ok(report);
        };
        for key in removed.iter().chain(changed.iter().map(|(key, _)| *key)) {
            writer.delete_term(Term::from_field_text(self.fields.key, key));
        }
        let sources: Vec<&Source> = changed.iter().map(|(_, source)| *source).collect();
        let documents = |item: &Source| self.documents(kb, source, ctx, &runbooks, item, archives);
        self.add_documents(&mut writer, &sources, &documents)?;
        writer.commit().map_err(|e| self.tantivy_error(e))?;
        self.reader.reload().map_err(|e| self.tantivy_error(e))?;
        report.indexed = changed.iter().map(|(k, _)| (*k).clone()).collect();
        drop((sources, changed));
        // The manifest follows the commit: a crash in between only means indexing those files
        // once more next time. Its entries are moved out of `current`, not copied.
        let entries: HashMap<String, ManifestEntry> = current.into_iter().map(|(k, (e, _))| (k, e)).collect();
        self.write_manifest(&next(entries, files))?;
        self.settle_reindexed(&old.reindexed)?;
        report.removed = removed;
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Adds the documents of `sources`, parsed in parallel a batch at a time, so a first build
    /// of a large KB never holds all of its documents in memory at once.
    fn add_documents(
        &self,
        writer: &mut IndexWriter,
        sources: &[&Source],
        documents: &(dyn Fn(&Source) -> Vec<TantivyDocument> + Sync),
    ) -> Result<(), IndexError> {
        for batch in sources.chunks(DOCUMENT_BATCH) {
            let documents: Vec<TantivyDocument> = batch.par_iter().flat_map_iter(|item| documents(item)).collect();
            for document in documents {
                writer.add_document(document).map_err(|e| self.tantivy_error(e))?;
            }
        }
        Ok(())
    }

    /// Keeps the manifest; from then on the index is trusted (it is no longer "rebuilt").
    fn write_manifest(&self, manifest: &Manifest) -> Result<(), IndexError> {
        match self.manifest_path() {
            Some(path) => {
                let bytes = encode_manifest(manifest).map_err(|e| self.io_error(std::io::Error::other(e)))?;
                // The signature goes last and first away: a manifest without its signature is
                // only ever synced again, never trusted.
                let signature = path.with_file_name(SIGNATURE_FILE);
                remove_if_present(&signature).map_err(|e| self.io_error(e))?;
                write_atomic(&path, &bytes).map_err(|e| self.io_error(e))?;
                write_atomic(&signature, signature_file(manifest).as_bytes()).map_err(|e| self.io_error(e))?;
                remove_if_present(&path.with_file_name(OLD_MANIFEST_FILE)).map_err(|e| self.io_error(e))?;
            }
            None => {
                if let Ok(mut kept) = self.memory_manifest.lock() {
                    *kept = manifest.clone();
                }
            }
        }
        self.rebuilt.store(false, Ordering::Release);
        Ok(())
    }

    /// Reloads the reader when the last commit on disk (another process's) is not the one it
    /// shows; whether it did. Reads `meta.json` only: the segments and their deletions are
    /// compared, not the documents.
    fn catch_up(&self) -> Result<bool, IndexError> {
        if self.dir.is_none() {
            return Ok(false);
        }
        let on_disk: HashSet<(SegmentId, Option<Opstamp>)> = self
            .index
            .searchable_segment_metas()
            .map_err(|e| self.tantivy_error(e))?
            .iter()
            .map(|meta| (meta.id(), meta.delete_opstamp()))
            .collect();
        let shown: HashSet<(SegmentId, Option<Opstamp>)> = self
            .reader
            .searcher()
            .segment_readers()
            .iter()
            .map(|segment| (segment.segment_id(), segment.delete_opstamp()))
            .collect();
        if on_disk == shown {
            return Ok(false);
        }
        self.reader.reload().map_err(|e| self.tantivy_error(e))?;
        Ok(true)
    }

    /// The writer, waiting a little for another process that holds it; `None` if it stays busy.
    fn writer(&self, wait: Duration, sources: usize) -> Result<Option<IndexWriter>, IndexError> {
        let deadline = Instant::now() + wait;
        let (threads, memory) = writer_size(sources);
        loop {
            match self.index.writer_with_num_threads(threads, memory) {
                Ok(writer) => return Ok(Some(writer)),
                Err(TantivyError::LockFailure(..)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(TantivyError::LockFailure(..)) => return Ok(None),
                Err(other) => return Err(self.tantivy_error(other)),
            }
        }
    }

    fn documents(
        &self,
        kb: Option<&Kb>,
        kb_source: &KbSource,
        ctx: &ParseContext,
        runbooks: &[Indexed],
        source: &Source,
        archives: &Archives,
    ) -> Vec<TantivyDocument> {
        match source {
            Source::Runbook(i) => {
                let indexed = &runbooks[*i];
                match &indexed.origin {
                    Origin::Kb(idx) => match kb.map(|kb| (kb, kb.body(*idx))) {
                        Some((kb, Ok(body))) => runbook_documents(&self.fields, &kb[*idx], &body, &indexed.id),
                        _ => Vec::new(),
                    },
                    Origin::Parsed(runbook) => match &runbook.body {
                        Some(body) => runbook_documents(&self.fields, runbook, body, &indexed.id),
                        None => Vec::new(),
                    },
                    Origin::File(file) => {
                        let runbook = read_file((**file).clone(), ctx);
                        match &runbook.body {
                            Some(body) => runbook_documents(&self.fields, &runbook, body, &indexed.id),
                            None => Vec::new(),
                        }
                    }
                }
            }
            Source::Archive(run) => self.run_documents(kb_source, archives, &run.file, &run.readable),
            Source::Cycle { name, file, path } => match std::fs::read_to_string(file) {
                Ok(text) => vec![cycle_document(&self.fields, name, &cycle_title(&text, name), &text, path)],
                Err(_) => Vec::new(),
            },
        }
    }

    /// The document of a run, from its record (`file`); none while it cannot be read. Its
    /// path is that of the `readable` Markdown, from the KB root or else the archive folder.
    fn run_documents(
        &self,
        kb_source: &KbSource,
        archives: &Archives,
        file: &Path,
        readable: &Path,
    ) -> Vec<TantivyDocument> {
        let Some(record) = std::fs::read(file).ok().and_then(|bytes| serde_json::from_slice::<RunRecord>(&bytes).ok())
        else {
            return Vec::new();
        };
        let path = kb_source
            .root()
            .and_then(|root| readable.strip_prefix(root).ok())
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| {
                readable.strip_prefix(archives.dir()).map(|p| p.display().to_string()).unwrap_or_default()
            });
        vec![archive_document(&self.fields, &record, &path)]
    }

    fn tantivy_error(&self, source: TantivyError) -> IndexError {
        IndexError::Tantivy { dir: self.dir.clone().unwrap_or_default(), source }
    }

    fn io_error(&self, source: std::io::Error) -> IndexError {
        IndexError::Io { dir: self.dir.clone().unwrap_or_default(), source }
    }

    /// Runs a search: every word first, then any word, then — only when both find nothing — the
    /// closest words the index knows, offered as "did you mean".
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults, IndexError> {
        let parsed = query::parse(request);
        let limit = request.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let mut results = SearchResults { query: request.query.clone(), suggestion: None, hits: Vec::new() };
        if parsed.is_empty() {
            return Ok(results);
        }
        results.hits = self.run(&parsed, limit)?;
        if results.hits.is_empty()
            && let Some(suggested) = self.suggest(&parsed)
        {
            results.hits = self.run(&suggested, limit)?;
            results.suggestion = Some(suggested.text());
        }
        Ok(results)
    }

    fn run(&self, parsed: &ParsedQuery, limit: usize) -> Result<Vec<Hit>, IndexError> {
        let searcher = self.reader.searcher();
        let (mut whole, parts) = query::analyzers();
        let completions = match parsed.words.last() {
            Some(word) if parsed.prefix => {
                let mut stream = whole.token_stream(word);
                let token = if stream.advance() { stream.token().text.clone() } else { String::new() };
                drop(stream);
                self.completions(&searcher, &token)
            }
            _ => Vec::new(),
        };
        let mut builder = Builder { fields: &self.fields, whole, parts };
        // Sections are fetched several per hit, so that hits are pages: a page's other matching
        // sections fold under its best one instead of crowding out other pages.
        let sections = (limit * SECTIONS_PER_HIT).max(MIN_SECTIONS);
        for query in [builder.all(parsed, &completions), builder.any(parsed, &completions)].into_iter().flatten() {
            let top = searcher
                .search(&*query, &TopDocs::with_limit(sections).order_by_score())
                .map_err(|e| self.tantivy_error(e))?;
            if !top.is_empty() {
                return self.hits(&searcher, &*query, top, limit);
            }
        }
        Ok(Vec::new())
    }

    /// The documents of `top`, best first; on equal scores the later-starting section first. A
    /// page's lead section holds the words of the sections under it, so a tie between them is
    /// the narrower section's to win — and tantivy's order of ties is no order to rely on.
    fn narrowest_first(
        &self,
        searcher: &tantivy::Searcher,
        top: Vec<(f32, tantivy::DocAddress)>,
    ) -> Result<Vec<(f32, TantivyDocument)>, IndexError> {
        let line = |doc: &TantivyDocument| doc.get_first(self.fields.line).and_then(|v| v.as_u64()).unwrap_or_default();
        let mut docs = top
            .into_iter()
            .map(|(score, address)| {
                Ok((score, searcher.doc::<TantivyDocument>(address).map_err(|e| self.tantivy_error(e))?))
            })
            .collect::<Result<Vec<_>, IndexError>>()?;
        docs.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| line(&b.1).cmp(&line(&a.1))));
        Ok(docs)
    }

    fn hits(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
        top: Vec<(f32, tantivy::DocAddress)>,
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        let mut snippets = snippet::Snippets::new(searcher, query, &self.fields);
        let mut hits: Vec<Hit> = Vec::with_capacity(limit);
        let mut by_source: HashMap<(Kind, String), usize> = HashMap::new();
        for (score, doc) in self.narrowest_first(searcher, top)? {
            let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let number = |field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or_default();
            let kind = Kind::parse(&text(self.fields.kind)).unwrap_or(Kind::Runbook);
            let section = MoreSection {
                heading: text(self.fields.heading),
                anchor: text(self.fields.anchor),
                line: number(self.fields.line).max(1),
                score,
            };
            let key = (kind, text(self.fields.id));
            if let Some(&at) = by_source.get(&key) {
                hits[at].more.push(section);
                continue;
            }
            if hits.len() == limit {
                continue;
            }
            by_source.insert(key.clone(), hits.len());
            hits.push(Hit {
                kind,
                id: key.1,
                title: text(self.fields.display),
                heading: section.heading,
                anchor: section.anchor,
                path: text(self.fields.path),
                line: section.line,
                errors: number(self.fields.errors) as usize,
                score,
                snippet: snippets.for_doc(&doc),
                more: Vec::new(),
            });
        }
        Ok(hits)
    }

    /// The indexed words that begin with `prefix` (not `prefix` itself), the most frequent
    /// first: what the word being typed may become.
    fn completions(&self, searcher: &tantivy::Searcher, prefix: &str) -> Vec<String> {
        if prefix.is_empty() {
            return Vec::new();
        }
        let mut found: HashMap<String, u64> = HashMap::new();
        for segment in searcher.segment_readers() {
            for (field, _) in self.fields.weighted() {
                let Ok(inverted) = segment.inverted_index(field) else { continue };
                let Ok(mut stream) = inverted.terms().range().ge(prefix.as_bytes()).into_stream() else { continue };
                let mut seen = 0;
                while stream.advance() && seen < COMPLETION_SCAN {
                    let key = stream.key();
                    if !key.starts_with(prefix.as_bytes()) {
                        break;
                    }
                    seen += 1;
                    if key.len() > prefix.len()
                        && let Ok(word) = std::str::from_utf8(key)
                    {
                        *found.entry(word.to_string()).or_default() += u64::from(stream.value().doc_freq);
                    }
                }
            }
        }
        let mut ranked: Vec<(String, u64)> = found.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.len().cmp(&b.0.len())).then_with(|| a.0.cmp(&b.0)));
        ranked.into_iter().take(MAX_COMPLETIONS).map(|(word, _)| word).collect()
    }

    /// The query with each unknown word replaced by the closest known one, if any changed.
    fn suggest(&self, parsed: &ParsedQuery) -> Option<ParsedQuery> {
        let searcher = self.reader.searcher();
        let mut suggested = parsed.clone();
        let mut changed = false;
        for word in &mut suggested.words {
            let lower = word.to_lowercase();
            if lower.chars().any(|c| !c.is_alphanumeric()) || lower.chars().count() < 3 {
                continue;
            }
            let term = Term::from_field_text(self.fields.vocab, &lower);
            let known = searcher.doc_freq(&term).unwrap_or(0) > 0;
            if known {
                continue;
            }
            let distance = if lower.chars().count() <= 4 { 1 } else { 2 };
            let Ok(automaton) = FuzzyTermQuery::new(term, distance, true).automaton() else { continue };
            let mut best: Option<(u32, String)> = None;
            for segment in searcher.segment_readers() {
                let Ok(inverted) = segment.inverted_index(self.fields.vocab) else { continue };
                let Ok(mut stream) = inverted.terms().search(&automaton).into_stream() else { continue };
                while stream.advance() {
                    let Ok(candidate) = std::str::from_utf8(stream.key()) else { continue };
                    let freq = stream.value().doc_freq;
                    if best.as_ref().is_none_or(|(f, t)| freq > *f || (freq == *f && candidate < t.as_str())) {
                        best = Some((freq, candidate.to_string()));
                    }
                }
            }
            if let Some((_, replacement)) = best {
                *word = replacement;
                changed = true;
            }
        }
        changed.then_some(suggested)
    }
}

/// One hash of what the quick freshness check compares: `runbook.toml`'s and the Hugo config's
/// stamps (or the built-in KB's signature), every runbook file's path and stamp in path order,
/// and every run and cycle report with its stamp in key order.
struct Signature {
    hash: Sha256,
    /// Each line is written here, then hashed: one allocation for ten thousand files.
    line: String,
}

impl Signature {
    fn new(config: Option<FileStamp>, site: &str, builtin: Option<&str>) -> Signature {
        let mut hash = Sha256::new();
        hash.update(format!("config {config:?}\nsite {site}\nbuiltin {builtin:?}\n"));
        Signature { hash, line: String::new() }
    }

    fn file(&mut self, path: &str, stamp: Option<FileStamp>) {
        // The bytes `writeln!("file {path}\0{size}\0{mtime_ns}")` gives, without `fmt`: this
        // runs for every file of the KB on every search.
        self.line.clear();
        self.line.push_str("file ");
        self.line.push_str(path);
        self.line.push('\0');
        match stamp {
            Some(s) => {
                let mut number = itoa::Buffer::new();
                self.line.push_str(number.format(s.size));
                self.line.push('\0');
                self.line.push_str(number.format(s.mtime_ns));
            }
            None => self.line.push_str("none"),
        }
        self.line.push('\n');
        self.hash.update(self.line.as_bytes());
    }

    fn other(&mut self, key: &str, fingerprint: &str) {
        use std::fmt::Write as _;
        self.line.clear();
        let _ = writeln!(self.line, "{key}\0{fingerprint}");
        self.hash.update(self.line.as_bytes());
    }

    fn finish(self) -> String {
        hex(&self.hash.finalize())
    }
}

/// The runbook files of a KB folder with their stamps (`None` where a file cannot be read), as
/// one look at the folder saw them.
struct Seen {
    files: Vec<SourceFile>,
    stamps: Vec<Option<FileStamp>>,
}

impl Seen {
    fn now(source: &KbSource) -> Seen {
        let (files, stamps) = source.files_stamped();
        Seen { files, stamps }
    }
}

/// The hash of `parts` joined with `:`, as the manifest keeps it (hex of 16 bytes).
fn fingerprint(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hash.update(b":");
        }
        hash.update(part);
    }
    hex(&hash.finalize()[..16])
}

/// The manifest as it is kept on disk.
fn encode_manifest(manifest: &Manifest) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_extend(manifest, MANIFEST_MAGIC.to_vec())
}

/// A manifest read back, each file's facts given their path again; `None` for one of another
/// format or damaged.
fn decode_manifest(bytes: &[u8]) -> Option<Manifest> {
    let mut manifest: Manifest = postcard::from_bytes(bytes.strip_prefix(MANIFEST_MAGIC)?).ok()?;
    for (path, facts) in &mut manifest.files {
        facts.path.clone_from(path);
    }
    Some(manifest)
}

/// Indexing threads and their memory in all, for a sync of `sources` changed sources.
fn writer_size(sources: usize) -> (usize, usize) {
    if sources <= SMALL_CHANGE {
        return (1, SMALL_WRITER_MEMORY);
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 4);
    (threads, WRITER_MEMORY * threads)
}

/// The signature of what a manifest records.
fn manifest_signature(manifest: &Manifest) -> String {
    let mut signature = Signature::new(manifest.config, &manifest.site, manifest.builtin.as_deref());
    // The built-in KB is judged by its own signature; its files have no stamps.
    if manifest.builtin.is_none() {
        for (path, facts) in &manifest.files {
            signature.file(path, facts.stamp);
        }
    }
    let open = manifest.open_runs.as_ref();
    let mut others: Vec<(String, &str)> = manifest
        .entries
        .iter()
        .filter(|(key, _)| !key.starts_with("rb:"))
        .map(|(key, entry)| match documents::run_name(key) {
            // A finished run is known by its name; an open one by its stamp too.
            Some(name) if open.is_some_and(|open| !open.contains(name)) => (key.clone(), "finished"),
            _ => (key.clone(), entry.fingerprint.as_str()),
        })
        .collect();
    // Open folders that had no record at all: the check sees their names, and no stamp.
    for name in open.into_iter().flatten() {
        let key = documents::archive_key(name);
        if !manifest.entries.contains_key(&key) {
            others.push((key, GONE));
        }
    }
    others.sort();
    for (key, fingerprint) in others {
        signature.other(&key, fingerprint);
    }
    signature.finish()
}

/// The fingerprint of an open run whose `run.json` is not there.
const GONE: &str = "gone";

/// What the signature file holds: the signature, then the runs the check must `stat`, a line
/// each. A manifest that does not know which runs are open (an older one) signs nothing: the
/// next sync looks at every run once.
fn signature_file(manifest: &Manifest) -> String {
    match &manifest.open_runs {
        Some(open) => {
            let mut text = manifest_signature(manifest);
            for name in open {
                text.push('\n');
                text.push_str(name);
            }
            text.push('\n');
            text
        }
        None => String::new(),
    }
}

/// The signature file, read.
struct Recorded {
    signature: String,
    open_runs: BTreeSet<String>,
}

impl Recorded {
    fn parse(text: &str) -> Option<Recorded> {
        let mut lines = text.lines();
        let signature = lines.next().filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))?;
        Some(Recorded { signature: signature.to_string(), open_runs: lines.map(str::to_string).collect() })
    }
}

/// Runs whose record was still being written, or could not be read, as of this sync: those
/// indexed now are read to tell; the others keep what the last sync knew (every one is read when
/// the manifest is older than this knowledge).
fn open_runs(
    current: &BTreeMap<String, (ManifestEntry, Source)>,
    changed: &[(&String, &Source)],
    old: &Manifest,
    archives: &Archives,
) -> BTreeSet<String> {
    let indexed_now: std::collections::HashSet<&str> = changed.iter().map(|(key, _)| String::as_str(key)).collect();
    let runs: Vec<&ArchiveFile> = current
        .iter()
        .filter_map(|(key, (_, source))| match source {
            Source::Archive(run) if old.open_runs.is_none() || indexed_now.contains(String::as_str(key)) => Some(run),
            _ => None,
        })
        .collect();
    let mut open: BTreeSet<String> =
        runs.par_iter().filter(|run| run_is_open(run)).map(|run| run.name.clone()).collect();
    if let Some(before) = &old.open_runs {
        let still = current.iter().filter_map(|(key, (_, source))| match source {
            Source::Archive(run) if !indexed_now.contains(String::as_str(key)) && before.contains(&run.name) => {
                Some(run.name.clone())
            }
            _ => None,
        });
        open.extend(still);
    }
    // A folder without a record yet (a run killed before its first write, a folder made by
    // hand) is open too: the check then expects it, and notices when a record appears.
    let recordless =
        archives.run_folder_names().into_iter().filter(|name| !current.contains_key(&documents::archive_key(name)));
    open.extend(recordless);
    open
}

/// Whether a run's record is unfinished or unreadable.
fn run_is_open(run: &ArchiveFile) -> bool {
    let record = std::fs::read(&run.file).ok().and_then(|bytes| serde_json::from_slice::<RunRecord>(&bytes).ok());
    record.is_none_or(|record| record.verdict == crate::record::Verdict::Running)
}

/// The signature of the sources as they are now, by `stat` alone; `None` when a stamp is too
/// recent to trust or a file cannot be read (a sync must look then).
fn current_signature(
    source: &KbSource,
    archives: &Archives,
    seen: Option<&Seen>,
    open_runs: &BTreeSet<String>,
) -> Option<String> {
    let mut signature = match (source.root(), seen) {
        (None, _) => Signature::new(None, "", Some(builtin_signature().as_str())),
        (Some(_), None) => return None,
        (Some(root), Some(seen)) => {
            let config = FileStamp::of_path(&root.join(CONFIG_FILE));
            if config.is_some_and(|s| s.is_racy()) {
                return None;
            }
            let mut signature = Signature::new(config, &HugoSite::locate(root).stamps(), None);
            for (file, stamp) in seen.files.iter().zip(&seen.stamps) {
                signature.file(&file.path, Some(stamp.filter(|s| !s.is_racy())?));
            }
            signature
        }
    };
    // Runs by folder name (no `stat`), but those that were open at the last sync by stamp: a
    // finished record is never rewritten.
    let mut others: Vec<(String, String)> = archives
        .run_folder_names()
        .into_iter()
        .map(|name| {
            let fingerprint = if open_runs.contains(&name) {
                FileStamp::of_path(&archives.run_dir(&name).join(RECORD_FILE))
                    .map_or_else(|| GONE.to_string(), |stamp| stamp_entry(stamp).fingerprint)
            } else {
                "finished".to_string()
            };
            (documents::archive_key(&name), fingerprint)
        })
        .chain(
            archives
                .cycle_files()
                .into_iter()
                .map(|cycle| (documents::cycle_key(&cycle.name), stamp_entry(cycle.stamp).fingerprint)),
        )
        .collect();
    others.sort();
    for (key, fingerprint) in &others {
        signature.other(key, fingerprint);
    }
    Some(signature.finish())
}

/// The facts of the files the manifest does not vouch for (`known` is `None`), from the KB's
/// parse cache (`Kb::load` keeps it), for those whose summary it holds at the stamp the check
/// saw; `None` for the rest, and for a stamp too recent to trust.
fn cached_facts(
    source: &KbSource,
    ctx: &ParseContext,
    files: &[SourceFile],
    stamps: &[Option<FileStamp>],
    known: &[Option<FileFacts>],
) -> Vec<Option<FileFacts>> {
    let state_dir = source.root().map(|root| root.join(STATE_DIR));
    let mut cache = ParseCache::open(state_dir.as_deref(), ctx.fingerprint());
    files
        .iter()
        .zip(stamps)
        .zip(known)
        .map(|((file, stamp), known)| {
            let stamp = stamp.filter(|_| known.is_none())?;
            let runbook = cache.take(&file.path, stamp).filter(|_| !stamp.is_racy())?;
            Some(FileFacts { stamp: Some(stamp), ..FileFacts::of(&runbook) })
        })
        .collect()
}

fn stamp_entry(stamp: FileStamp) -> ManifestEntry {
    ManifestEntry { fingerprint: format!("{}:{}", stamp.size, stamp.mtime_ns) }
}
/// Every document the index should hold, keyed, with the manifest entry that says whether the
/// indexed one is current; and the facts of every runbook file.
fn wanted(
    source: &KbSource,
    ctx: &ParseContext,
    runbooks: &mut [Indexed],
    archives: &Archives,
) -> (BTreeMap<String, (ManifestEntry, Source)>, BTreeMap<String, FileFacts>) {
    let mut current: BTreeMap<String, (ManifestEntry, Source)> = BTreeMap::new();
    let mut files = BTreeMap::new();
    // Pages show the Hugo config's params and the sections' cascades: when either changes, every
    // page is indexed again.
    let site = hex(&Sha256::digest(ctx.fingerprint().as_bytes())[..6]);
    for (i, runbook) in runbooks.iter_mut().enumerate() {
        // Moved out: only the manifest needs a runbook's facts from here on.
        let facts = std::mem::take(&mut runbook.facts);
        // Diagnostics never hide a file: one with errors is indexed as far as it could be
        // read, and its hits say how many errors it has.
        // The error count is in the documents, and may change with `runbook.toml` alone.
        // Only ever compared, so kept as a hash: the text repeated the content hash.
        let mut errors = itoa::Buffer::new();
        let text = [facts.sha256.as_str(), runbook.id.as_str(), errors.format(facts.errors), site.as_str()];
        let entry = ManifestEntry { fingerprint: fingerprint(&text) };
        current.insert(documents::runbook_key(&facts.path), (entry, Source::Runbook(i)));
        files.insert(facts.path.clone(), facts);
    }
    for run in archives.run_files() {
        current.insert(documents::archive_key(&run.name), (stamp_entry(run.stamp), Source::Archive(run)));
    }
    for cycle in archives.cycle_files() {
        let path = source
            .root()
            .and_then(|root| cycle.file.strip_prefix(root).ok())
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| cycle.file.display().to_string());
        let key = documents::cycle_key(&cycle.name);
        current.insert(key, (stamp_entry(cycle.stamp), Source::Cycle { name: cycle.name, file: cycle.file, path }));
    }
    (current, files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_runbook_kb() -> (tempfile::TempDir, KbSource, Archives) {
        let kb = tempfile::tempdir().expect("temporary folder");
        let runbooks = kb.path().join("runbooks");
        std::fs::create_dir_all(&runbooks).expect("runbooks folder");
        std::fs::write(runbooks.join("alpha.md"), "# Alpha\n\nThe capacitor is charged.\n").expect("runbook");
        let source = KbSource::for_dir(kb.path().to_path_buf());
        let archives = Archives::new(kb.path().join(".runbook/archives"));
        (kb, source, archives)
    }

    /// A KB of more runbooks than a batch of documents (so a first build is a large sync), each
    /// with an id of its own, written an hour ago (stamps old enough to trust).
    fn many_runbook_kb() -> (tempfile::TempDir, KbSource, Archives) {
        let kb = tempfile::tempdir().expect("temporary folder");
        let runbooks = kb.path().join("runbooks");
        std::fs::create_dir_all(&runbooks).expect("runbooks folder");
        let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
        for n in 0..DOCUMENT_BATCH + 20 {
            let file = runbooks.join(format!("r-{n:03}.md"));
            let text = format!("---\nid: first-{n:03}\n---\n# Runbook {n}\n\nThe capacitor {n} is charged.\n");
            std::fs::write(&file, text).expect("runbook");
            std::fs::File::options().write(true).open(&file).and_then(|f| f.set_modified(an_hour_ago)).expect("mtime");
        }
        let source = KbSource::for_dir(kb.path().to_path_buf());
        let archives = Archives::new(kb.path().join(".runbook/archives"));
        (kb, source, archives)
    }

    /// The facts a first build of `source`'s index records of each file.
    fn first_build_facts(source: &KbSource, archives: &Archives) -> BTreeMap<String, FileFacts> {
        let dir = source.index_dir();
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove the index");
        }
        let index = SearchIndex::open(&dir).expect("open");
        let report = index.sync_files(source, &Config::default(), archives).expect("first build");
        assert_eq!(report.indexed.len(), DOCUMENT_BATCH + 20);
        index.read_manifest().files
    }

    /// A first build parsed every file twice: once for the facts that ids are settled from,
    /// then again for its documents. The facts now come from the parse cache where it holds
    /// the file at the same stamp, and they are the facts parsing gives.
    #[test]
    fn a_first_build_takes_the_facts_of_files_the_parse_cache_holds_from_it() {
        let (kb, source, archives) = many_runbook_kb();
        let parsed = first_build_facts(&source, &archives);
        assert_eq!(parsed["runbooks/r-007.md"].explicit_id.as_deref(), Some("first-007"));
        Kb::load_summaries(source.clone());
        assert_eq!(first_build_facts(&source, &archives), parsed);
        // The same size and time with another id: a file the cache holds is not parsed for its
        // facts (the cache's rule: a stamp it has seen is the text it parsed).
        let file = kb.path().join("runbooks/r-007.md");
        let modified = std::fs::metadata(&file).and_then(|m| m.modified()).expect("mtime");
        let text = std::fs::read_to_string(&file).expect("read").replace("first-007", "other-007");
        std::fs::write(&file, text).expect("rewrite");
        std::fs::File::options().write(true).open(&file).and_then(|f| f.set_modified(modified)).expect("mtime");
        assert_eq!(
            first_build_facts(&source, &archives)["runbooks/r-007.md"].explicit_id.as_deref(),
            Some("first-007")
        );
        // Without the cache, parsing gives the id the file has now.
        std::fs::remove_dir_all(kb.path().join(STATE_DIR)).expect("remove the state folder");
        assert_eq!(
            first_build_facts(&source, &archives)["runbooks/r-007.md"].explicit_id.as_deref(),
            Some("other-007")
        );
    }

    /// A sync knows nothing was removed when every key indexed before is still wanted; a file
    /// renamed keeps the count of keys the same, and its old key must still go.
    #[test]
    fn a_renamed_file_is_removed_under_its_old_name_and_indexed_under_its_new() {
        let (kb, source, archives) = one_runbook_kb();
        let index = SearchIndex::open(&source.index_dir()).expect("open");
        index.sync_files(&source, &Config::default(), &archives).expect("first build");
        let runbooks = kb.path().join("runbooks");
        std::fs::rename(runbooks.join("alpha.md"), runbooks.join("beta.md")).expect("rename");
        let report = index.sync_files(&source, &Config::default(), &archives).expect("sync");
        assert_eq!(report.removed, vec![documents::runbook_key("runbooks/alpha.md")]);
        assert_eq!(report.indexed, vec![documents::runbook_key("runbooks/beta.md")]);
        assert_eq!(hits(&index, "capacitor"), 1);
    }

    /// Two processes' views of one KB's index, both opened before either has built it.
    fn opened_twice(source: &KbSource) -> (SearchIndex, SearchIndex) {
        let builder = SearchIndex::open(&source.index_dir()).expect("open");
        let early = SearchIndex::open(&source.index_dir()).expect("open again");
        (builder, early)
    }

    fn hits(index: &SearchIndex, query: &str) -> usize {
        let request = SearchRequest { query: query.to_string(), ..SearchRequest::default() };
        index.search(&request).expect("search").hits.len()
    }

    /// Regression (`concurrent_searches_never_fail`, red in CI): a search that opened the index
    /// while another process was building it trusted the signature that build wrote after its
    /// commit, and searched the empty index its reader had opened: no hits, exit 1.
    #[test]
    fn a_reader_opened_before_another_processs_build_shows_that_build() {
        let (_kb, source, archives) = one_runbook_kb();
        let config = Config::default();
        let (builder, early) = opened_twice(&source);
        builder.refresh(&source, &config, &archives).expect("first build");
        assert_eq!(hits(&builder, "capacitor"), 1);
        early.refresh(&source, &config, &archives).expect("refresh after the other's build");
        assert_eq!(hits(&early, "capacitor"), 1);
    }

    #[test]
    fn a_sync_that_finds_nothing_changed_still_shows_the_last_commit() {
        let (_kb, source, archives) = one_runbook_kb();
        let config = Config::default();
        let (builder, early) = opened_twice(&source);
        builder.sync_files(&source, &config, &archives).expect("first build");
        let report = early.sync_files(&source, &config, &archives).expect("sync after the other's build");
        assert!(report.indexed.is_empty(), "the other process indexed it: {:?}", report.indexed);
        assert_eq!(hits(&early, "capacitor"), 1);
        assert!(!early.catch_up().expect("compare with meta.json"), "caught up once, nothing more to load");
    }

    /// The KB of `source` as a server holds it, and the index built from it.
    fn served(source: &KbSource, archives: &Archives) -> (Kb, SearchIndex) {
        let index = SearchIndex::open(&source.index_dir()).expect("open");
        index.refresh(source, &Config::default(), archives).expect("build");
        (Kb::load_summaries(source.clone()), index)
    }

    fn edit_alpha(kb: &tempfile::TempDir, text: &str) {
        std::fs::write(kb.path().join("runbooks/alpha.md"), text).expect("edit");
    }

    #[test]
    fn a_runbook_indexed_again_alone_is_found_by_its_new_text_and_not_its_old() {
        let (dir, source, archives) = one_runbook_kb();
        let (_, index) = served(&source, &archives);
        edit_alpha(&dir, "# Alpha\n\nThe flux is inverted.\n");
        let kb = Kb::load_summaries(source.clone());
        let alpha = kb.by_id("alpha").expect("alpha");
        let report = index.reindex_runbooks(&kb, &[alpha]).expect("reindex");
        assert_eq!(report.indexed, ["rb:runbooks/alpha.md"]);
        assert_eq!((hits(&index, "flux"), hits(&index, "capacitor")), (1, 0));
        assert!(!source.index_dir().join(SIGNATURE_FILE).exists(), "the manifest no longer vouches for it");
        // The next sync indexes it once more, and empties the journal.
        let report = index.refresh(&source, &Config::default(), &archives).expect("sync");
        assert_eq!(report.indexed, ["rb:runbooks/alpha.md"]);
        assert_eq!((hits(&index, "flux"), hits(&index, "capacitor")), (1, 0), "once, not twice");
        assert!(!source.index_dir().join(REINDEXED_FILE).exists());
        assert!(index.refresh(&source, &Config::default(), &archives).expect("again").indexed.is_empty());
    }

    /// The case the journal exists for: the manifest still holds the first text's entry, so a
    /// file put back as it was (same bytes, same size and time) looked unchanged to the sync,
    /// and the index kept the text the server had indexed.
    #[test]
    fn a_file_put_back_as_it_was_after_a_server_indexed_its_edit_is_indexed_again() {
        let (dir, source, archives) = one_runbook_kb();
        let file = dir.path().join("runbooks/alpha.md");
        let (original, modified) = (std::fs::read(&file).expect("read"), std::fs::metadata(&file).expect("stat"));
        let (_, index) = served(&source, &archives);
        edit_alpha(&dir, "# Alpha\n\nThe flux is inverted.\n");
        let kb = Kb::load_summaries(source.clone());
        index.reindex_runbooks(&kb, &[kb.by_id("alpha").expect("alpha")]).expect("reindex");
        std::fs::write(&file, original).expect("put back");
        let times = modified.modified().expect("mtime");
        std::fs::File::options().write(true).open(&file).and_then(|f| f.set_modified(times)).expect("old mtime");
        // Another process's search: a fresh view of the same index.
        let other = SearchIndex::open(&source.index_dir()).expect("open");
        other.refresh(&source, &Config::default(), &archives).expect("sync");
        assert_eq!((hits(&other, "capacitor"), hits(&other, "flux")), (1, 0));
    }

    #[test]
    fn the_journal_keeps_what_a_server_added_after_a_sync_read_it() {
        let (_kb, source, archives) = one_runbook_kb();
        let (_, index) = served(&source, &archives);
        let journal = source.index_dir().join(REINDEXED_FILE);
        std::fs::write(&journal, "rb:runbooks/alpha.md\nrb:runbooks/beta.md\n").expect("journal");
        index.settle_reindexed(b"rb:runbooks/alpha.md\n").expect("settle");
        assert_eq!(std::fs::read_to_string(&journal).expect("kept"), "rb:runbooks/beta.md\n");
        index.settle_reindexed(b"something else\n").expect("settle");
        assert!(journal.exists(), "not what was read: kept whole");
        index.settle_reindexed(b"rb:runbooks/beta.md\n").expect("settle");
        assert!(!journal.exists());
    }

    #[test]
    fn the_manifest_reads_back_as_written_and_another_format_is_not_read() {
        let (_kb, source, archives) = one_runbook_kb();
        let index = SearchIndex::open(&source.index_dir()).expect("open");
        index.sync_files(&source, &Config::default(), &archives).expect("build");
        let written = index.read_manifest();
        let bytes = std::fs::read(source.index_dir().join(MANIFEST_FILE)).expect("manifest");
        let read = decode_manifest(&bytes).expect("reads back");
        assert_eq!(read.files, written.files, "each file's facts, its path given back from the key");
        assert_eq!(read.files["runbooks/alpha.md"].path, "runbooks/alpha.md");
        assert_eq!(read.entries, written.entries);
        assert!(decode_manifest(br#"{"entries":{}}"#).is_none(), "the JSON of earlier versions");
        assert!(decode_manifest(&bytes[..bytes.len() - 3]).is_none(), "cut short");
        let mut other = b"runbook-manifest 3\n".to_vec();
        other.extend_from_slice(&bytes[MANIFEST_MAGIC.len()..]);
        assert!(decode_manifest(&other).is_none(), "another format");
    }

    #[test]
    fn the_json_manifest_of_an_earlier_version_is_removed_and_everything_indexed_once_more() {
        let (_kb, source, archives) = one_runbook_kb();
        let dir = source.index_dir();
        SearchIndex::open(&dir).expect("open").sync_files(&source, &Config::default(), &archives).expect("build");
        std::fs::remove_file(dir.join(MANIFEST_FILE)).expect("as if built by an earlier version");
        std::fs::write(dir.join(OLD_MANIFEST_FILE), r#"{"entries":{}}"#).expect("old manifest");
        let index = SearchIndex::open(&dir).expect("open again");
        let report = index.sync_files(&source, &Config::default(), &archives).expect("sync");
        assert_eq!(report.indexed, ["rb:runbooks/alpha.md"]);
        assert_eq!(hits(&index, "capacitor"), 1, "indexed once more, not twice");
        assert!(!dir.join(OLD_MANIFEST_FILE).exists());
    }

    /// The signature's bytes are those the last sync wrote: another spelling of a line would
    /// make every index look stale once, and sync for nothing.
    #[test]
    fn the_signature_hashes_the_lines_it_always_did() {
        let stamp = FileStamp { size: 12, mtime_ns: 34 };
        let mut signature = Signature::new(Some(stamp), "s", None);
        signature.file("runbooks/a.md", Some(stamp));
        signature.file("runbooks/b.md", None);
        signature.other("run:x", "finished");
        let text = format!(
            "config {:?}\nsite s\nbuiltin None\nfile runbooks/a.md\x0012\x0034\nfile runbooks/b.md\x00none\nrun:x\x00finished\n",
            Some(stamp)
        );
        assert_eq!(signature.finish(), hex(&Sha256::digest(text.as_bytes())));
    }

    /// Manifests written before keep matching: the fingerprint hashes the text it always did.
    #[test]
    fn a_fingerprint_hashes_the_text_it_always_did() {
        let text = format!("{}:{}:{}:{}", "0ab1", "disk", 3, "5f");
        assert_eq!(fingerprint(&["0ab1", "disk", "3", "5f"]), hex(&Sha256::digest(text.as_bytes())[..16]));
    }
}
