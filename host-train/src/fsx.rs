//! Atomic writes: a file or directory appears complete at its final path or not at all.
//!
//! Everything is first written under a temporary name in the destination's own directory
//! (see [`partial_path`]; the process id keeps concurrent jobs sharing a folder apart) and then renamed
//! into place, so a killed run never leaves half a report, checkpoint or cache entry where a
//! complete one is expected.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// A file or directory could not be written.
#[derive(Debug, thiserror::Error)]
#[error("failed to write {}", path.display())]
pub struct WriteError {
    /// The destination.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: io::Error,
}

impl WriteError {
    /// `source` while writing `path`.
    pub fn new(path: &Path, source: io::Error) -> Self {
        Self {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Creates `dir` and its parents.
pub fn create_dir_all(dir: &Path) -> Result<(), WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError::new(dir, source))
}

/// The temporary sibling `path` is built under before the rename:
/// `<stem>.partial-<pid>.<extension>` (the extension kept for writers that go by it).
pub fn partial_path(path: &Path) -> PathBuf {
    let pid = std::process::id();
    let stem = path.file_stem().unwrap_or(path.as_os_str());
    let mut name: OsString = stem.to_owned();
    name.push(format!(".partial-{pid}"));
    if let Some(ext) = path.extension() {
        name.push(".");
        name.push(ext);
    }
    path.with_file_name(name)
}

/// Writes `bytes` to `path` atomically. The parent directory must exist.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), WriteError> {
    write_with(path, |tmp| {
        std::fs::write(tmp, bytes).map_err(|source| WriteError::new(path, source))
    })
}

/// Writes the file `path` atomically with `write`, which is given the temporary path to
/// create (for writers that open the file themselves). The parent directory must exist.
pub fn write_with<E: From<WriteError>>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let tmp = partial_path(path);
    if let Err(e) = write(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        WriteError::new(path, source)
    })?;
    Ok(())
}

/// Builds a directory with `fill` (called with a fresh temporary directory beside `dir`) and
/// renames it to `dir`, replacing a previous one. On failure nothing changes at `dir`.
pub fn write_dir<E: From<WriteError>>(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let tmp = partial_path(dir);
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|source| WriteError::new(&tmp, source))?;
    if let Err(e) = fill(&tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|source| WriteError::new(dir, source))?;
    }
    std::fs::rename(&tmp, dir).map_err(|source| WriteError::new(dir, source))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write(&path, "one").unwrap();
        write(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing = dir.path().join("no-such-dir").join("a.json");
        let err = write(&missing, "x").unwrap_err();
        assert_eq!(err.path, missing);
    }

    #[test]
    fn a_failed_directory_leaves_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("model");
        write_dir(&target, |tmp| write(&tmp.join("f"), "1")).unwrap();
        let failed: Result<(), WriteError> = write_dir(&target, |tmp| {
            write(&tmp.join("f"), "2")?;
            Err(WriteError::new(tmp, io::Error::other("stop")))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(target.join("f")).unwrap(), "1");
        write_dir(&target, |tmp| write(&tmp.join("g"), "3")).unwrap();
        assert!(!target.join("f").exists(), "replaced, not merged");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
