//! Filesystem helpers.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Writes `path` through a temporary file in the same folder and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result =
        File::create(&tmp).and_then(|mut file| file.write_all(bytes)).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Removes `path`; one that is not there is already what was wanted.
pub(crate) fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// An exclusive advisory lock on `path` (created if need be), held until the file is dropped.
/// `None` where the lock file cannot be created (a read-only folder): the caller goes on
/// unlocked, as it would have without one.
pub(crate) fn lock_exclusive(path: &Path) -> Option<File> {
    let file = File::options().create(true).truncate(false).write(true).open(path).ok()?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).ok()?;
    Some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_what_is_not_there_is_not_an_error_and_a_folder_still_is() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let file = dir.path().join("f");
        std::fs::write(&file, "x").expect("file");
        remove_if_present(&file).expect("removed");
        assert!(!file.exists());
        remove_if_present(&file).expect("already gone");
        assert!(remove_if_present(dir.path()).is_err(), "a folder is not a file to remove");
    }

    #[test]
    fn a_held_lock_keeps_others_out_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = lock_exclusive(&path).unwrap();
        let other = File::options().write(true).open(&path).unwrap();
        assert!(rustix::fs::flock(&other, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err());
        drop(held);
        assert!(rustix::fs::flock(&other, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok());
    }
}
