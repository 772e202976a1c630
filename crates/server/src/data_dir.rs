//! The data directory: created on first run, owner-only, checked writable
//! before anything else starts.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The data directory cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot use the data directory {}: {source} (set --data-dir or APIOME_DATA_DIR to a directory this user can write)",
    path.display()
)]
pub struct DataDirError {
    path: PathBuf,
    source: io::Error,
}

/// Creates `path` (mode 0700) if missing and proves it writable by creating
/// and removing a file in it.
pub fn prepare(path: &Path) -> Result<(), DataDirError> {
    let fail = |source| DataDirError {
        path: path.to_owned(),
        source,
    };
    if !path.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(fail)?;
    }
    if !path.is_dir() {
        return Err(fail(io::Error::new(
            io::ErrorKind::NotADirectory,
            "it is not a directory",
        )));
    }
    let probe = path.join(".write-check");
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&probe)
        .map_err(fail)?;
    fs::remove_file(&probe).map_err(fail)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_data_dir_is_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b/data");
        prepare(&dir).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            0,
            "the probe file is removed"
        );
    }

    #[test]
    fn a_file_in_the_way_is_reported() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("data");
        fs::write(&file, "").unwrap();
        let err = prepare(&file).unwrap_err().to_string();
        assert!(
            err.contains("not a directory") && !err.contains('\n'),
            "{err}"
        );
    }

    #[test]
    fn an_unwritable_place_is_reported_on_one_line() {
        let err = prepare(Path::new("/proc/forbidden"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot use the data directory /proc/forbidden"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }
}
