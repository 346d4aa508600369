//! Where tantivy reads the index from: its own memory-mapped folder, except for the files a
//! search reads only a little of at a time.
//!
//! Mapped, every page of stored text, postings and positions that a query ever touched stays in
//! the process's resident memory for as long as the segment lives: a served KB of 10,000
//! runbooks carried ~74 MB of mapped index after 2,000 different searches, 43 MB of it the doc
//! store. Those three kinds of file are read here with `pread` instead, into buffers that go when
//! the query is done (the kernel's page cache still keeps what was read, shared and reclaimable).
//! A read of [`MAP_AT_LEAST`] or more — a merge takes a whole segment's store at once — is mapped
//! for as long as its bytes are held instead, so it costs no copy and no heap. Term dictionaries,
//! fast fields and field norms, which a segment reads whole when it opens, stay mapped.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tantivy::HasLen;
use tantivy::directory::error::{DeleteError, LockError, OpenDirectoryError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes, WatchCallback, WatchHandle, WritePtr,
};

/// Reads at least this long are mapped rather than copied.
const MAP_AT_LEAST: usize = 1 << 20;

/// File extensions of the segment files read piecewise: the doc store, postings and positions.
const READ_PIECEWISE: [&str; 3] = ["store", "idx", "pos"];

/// The index folder: tantivy's [`MmapDirectory`] for everything but opening the files that
/// [`READ_PIECEWISE`] names.
#[derive(Clone, Debug)]
pub struct IndexDirectory {
    mapped: MmapDirectory,
    root: PathBuf,
}

impl IndexDirectory {
    pub fn open(root: &Path) -> Result<IndexDirectory, OpenDirectoryError> {
        Ok(IndexDirectory { mapped: MmapDirectory::open(root)?, root: root.to_path_buf() })
    }
}

fn read_piecewise(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| READ_PIECEWISE.contains(&e))
}

impl Directory for IndexDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        if !read_piecewise(path) {
            return self.mapped.get_file_handle(path);
        }
        let file = File::open(self.root.join(path)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => OpenReadError::FileDoesNotExist(path.to_path_buf()),
            _ => OpenReadError::wrap_io_error(e, path.to_path_buf()),
        })?;
        let len = file.metadata().map_err(|e| OpenReadError::wrap_io_error(e, path.to_path_buf()))?.len();
        let len = usize::try_from(len)
            .map_err(|_| OpenReadError::wrap_io_error(io::Error::other("file too large"), path.to_path_buf()))?;
        Ok(Arc::new(PiecewiseFile { file, len }))
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.mapped.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.mapped.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.mapped.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.mapped.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.mapped.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.mapped.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.mapped.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.mapped.watch(watch_callback)
    }
}

/// A segment file read a range at a time. Segment files are written once and never changed, so
/// the length taken at opening holds, and a mapped range stays valid after the file is deleted.
#[derive(Debug)]
struct PiecewiseFile {
    file: File,
    len: usize,
}

impl HasLen for PiecewiseFile {
    fn len(&self) -> usize {
        self.len
    }
}

impl FileHandle for PiecewiseFile {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        if range.start > range.end || range.end > self.len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bytes {range:?} asked of a file of {} bytes", self.len),
            ));
        }
        let wanted = range.end - range.start;
        if wanted == 0 {
            return Ok(OwnedBytes::empty());
        }
        if wanted >= MAP_AT_LEAST {
            // SAFETY: segment files are immutable once written (see the type's comment).
            let mapped = unsafe { memmap2::MmapOptions::new().offset(range.start as u64).len(wanted).map(&self.file)? };
            return Ok(OwnedBytes::new(mapped));
        }
        let mut buffer = vec![0; wanted];
        self.file.read_exact_at(&mut buffer, range.start as u64)?;
        Ok(OwnedBytes::new(buffer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_of(bytes: &[u8]) -> (tempfile::TempDir, PiecewiseFile) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("seg.store");
        std::fs::write(&path, bytes).expect("write");
        let file = File::open(&path).expect("open");
        (dir, PiecewiseFile { file, len: bytes.len() })
    }

    #[test]
    fn a_range_reads_those_bytes_whether_copied_or_mapped() {
        let bytes: Vec<u8> = (0..3 * MAP_AT_LEAST).map(|i| (i % 251) as u8).collect();
        let (_dir, file) = file_of(&bytes);
        for range in [0..10, 4095..4097, 17..MAP_AT_LEAST + 17, 5..bytes.len(), 0..0] {
            let read = file.read_bytes(range.clone()).expect("read");
            assert_eq!(read.as_slice(), &bytes[range]);
        }
    }

    #[test]
    fn a_range_past_the_end_is_an_error_not_a_panic() {
        let (_dir, file) = file_of(b"twelve bytes");
        assert!(file.read_bytes(5..13).is_err());
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 7..3;
        assert!(file.read_bytes(backwards).is_err());
    }

    #[test]
    fn only_store_postings_and_positions_are_read_piecewise() {
        for (name, piecewise) in [
            ("a1b2.store", true),
            ("a1b2.idx", true),
            ("a1b2.pos", true),
            ("a1b2.term", false),
            ("a1b2.fast", false),
            ("a1b2.fieldnorm", false),
            ("meta.json", false),
        ] {
            assert_eq!(read_piecewise(Path::new(name)), piecewise, "{name}");
        }
    }
}
