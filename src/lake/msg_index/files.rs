//! The index's files: listing them, publishing a segment, and keeping them owner-only.

use std::path::{Path, PathBuf};

use crate::direct_file::DirectFile;
use crate::error::{Error, Result};
use crate::fsutil::{fsync_dir, write_atomic_with};

use super::*;

/// The segment and log files in the index directory.
#[derive(Default)]
pub(super) struct Files {
    pub segments: Vec<PathBuf>,
    pub logs: Vec<PathBuf>,
}

pub(super) fn list(dir: &Path) -> Result<Files> {
    let mut files = Files::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        if name.ends_with(".seg") {
            files.segments.push(path);
        } else if name.ends_with(".log") {
            files.logs.push(path);
        }
    }
    files.segments.sort();
    files.logs.sort();
    Ok(files)
}

/// Write the segment of `entries` to `path` through the one atomic publisher, owner-only;
/// `label` names its failpoints.
pub(super) fn publish_segment<I: Iterator<Item = std::io::Result<Entry>>>(
    path: &Path,
    label: &str,
    upper_bound: usize,
    entries: impl Fn() -> std::io::Result<I>,
) -> Result<()> {
    write_atomic_with(path, label, |file| {
        private(file)?;
        // Around the page cache (see `direct_file`): the publisher's fsync follows.
        let mut direct = DirectFile::new(file.try_clone()?);
        segment::write(upper_bound, &entries, &mut direct)?;
        direct.finish()?.complete().map(drop)
    })
}

/// Index files are for wxlake alone: owner-only, whatever the raw files' permissions (the
/// index says which days held how many messages).
pub const FILE_MODE: u32 = 0o600;

pub(super) fn private(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
}

pub(super) fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }?;
    fsync_dir(path.parent().unwrap_or(Path::new(".")))
}
