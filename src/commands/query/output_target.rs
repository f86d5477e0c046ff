//! Where a query writes: stdout, or an `--output` file that appears only when complete.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Stdout; or, for `--output`, a temp file beside the (regular) file it names, renamed over it
/// once everything is written; or, when it names something else (a FIFO, `/dev/stdout`, a
/// terminal), that thing itself, written directly. A symlink is followed: the file it points at
/// is replaced, the link stays.
pub(super) enum OutputTarget {
    Stdout,
    File {
        file: tempfile::NamedTempFile,
        path: PathBuf,
    },
    Direct {
        file: File,
        path: PathBuf,
    },
}

impl OutputTarget {
    pub fn open(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path else {
            return Ok(OutputTarget::Stdout);
        };
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() && !meta.is_dir() => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| Error::io("open", path, e))?;
                return Ok(OutputTarget::Direct {
                    file,
                    path: path.to_path_buf(),
                });
            }
            _ => {}
        }
        // Through a symlink to a regular file: replace the file, keep the link.
        let target = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                std::fs::canonicalize(path).map_err(|e| Error::io("resolve", path, e))?
            }
            _ => path.to_path_buf(),
        };
        let file = crate::fsutil::temp_for(&target)?;
        Ok(OutputTarget::File { file, path: target })
    }

    pub fn is_stdout(&self) -> bool {
        matches!(self, OutputTarget::Stdout)
    }

    pub fn name(&self) -> PathBuf {
        match self {
            OutputTarget::Stdout => PathBuf::from("standard output"),
            OutputTarget::File { path, .. } | OutputTarget::Direct { path, .. } => path.clone(),
        }
    }

    pub fn commit(self) -> Result<()> {
        if let OutputTarget::File { file, path } = self {
            // Not fsynced: an export is visible only when complete, but its durability
            // across a power cut is not promised (the lake's own files are fsynced).
            crate::fsutil::publish(
                file.into_temp_path(),
                &path,
                crate::fsutil::Publish::Replace,
                crate::fsutil::Durability::VisibleOnly,
            )?;
        }
        Ok(())
    }
}
