//! A consistent view of one partition: its data files, all opened before any is read.
//!
//! Maintenance replaces a partition's files as a whole (new names, old ones removed after an
//! atomic swap), and ingest only adds files. Once a file is open its contents stay readable even
//! if it is unlinked, so a listing whose every file could be opened is a set that existed at one
//! instant; a file that vanished between the listing and its open means the partition changed
//! under us, and the listing is taken again. A query therefore never fails with a missing file,
//! never sees both the old and the new files of a swap, and never misses a message that was
//! there before the maintenance began.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lake::layout::list_data_files;

/// How many times a partition is listed again after a file vanished before giving up.
const ATTEMPTS: usize = 50;

/// Open every data file of the partition directory `dir` (none if it does not exist).
pub fn open_partition(dir: &Path) -> Result<Vec<(PathBuf, File)>> {
    'listing: for attempt in 0..ATTEMPTS {
        let mut files = Vec::new();
        for path in list_data_files(dir)? {
            match File::open(&path) {
                Ok(f) => files.push((path, f)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    tracing::debug!(path = %path.display(), attempt, "file vanished while listing; listing again");
                    std::thread::sleep(std::time::Duration::from_millis(attempt as u64));
                    continue 'listing;
                }
                Err(e) => return Err(Error::io("open", &path, e)),
            }
        }
        return Ok(files);
    }
    Err(Error::io(
        "read a stable listing of",
        dir,
        io::Error::other(format!("its files kept changing over {ATTEMPTS} attempts")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_data_files_only_and_tolerates_a_missing_partition() {
        let dir = tempfile::tempdir().unwrap();
        assert!(open_partition(&dir.path().join("nope")).unwrap().is_empty());
        for name in ["a.parquet", ".hidden.parquet", "_tmp.parquet", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let files = open_partition(dir.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|(p, _)| p.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["a.parquet"]);
    }
}
