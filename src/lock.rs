//! The exclusive writer lock: one `flock(2)` on `metadata/wxlake.lock`, held as an RAII value.
//!
//! Every command that changes the lake holds it for its whole run; dropping the [`LakeLock`]
//! (or the process dying, however it dies) releases it. The lock file is never deleted: deleting
//! a lock file that another process has open breaks flock's mutual exclusion. Its contents say who
//! holds it, for the error message another writer prints.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A held exclusive lock; released on drop.
#[derive(Debug)]
pub struct LakeLock {
    _file: File,
    path: PathBuf,
}

impl LakeLock {
    /// Take the lock at `path` for `command`. With `wait`, retry until it is free or `wait` has
    /// passed; without, fail at once with [`Error::LockBusy`].
    pub fn acquire(path: &Path, command: &str, wait: Option<Duration>) -> Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(crate::fsutil::file_mode())
            .open(path)
            .map_err(|e| Error::io("open the lock file", path, e))?;
        let deadline = wait.map(|w| Instant::now() + w);
        let mut announced = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = read_holder(&mut file);
                    match deadline {
                        Some(d) if Instant::now() < d => {
                            if !announced {
                                tracing::info!(lock = %path.display(), holder = %holder.trim(), "waiting for the writer lock");
                                announced = true;
                            }
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        _ => {
                            return Err(Error::LockBusy {
                                path: path.to_path_buf(),
                                holder,
                            });
                        }
                    }
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", path, e)),
            }
        }
        let holder = format!(
            "pid {} running {} since {}\n",
            std::process::id(),
            command,
            chrono::Local::now().format("%Y-%m-%d %H:%M:%S%:z")
        );
        // Best effort: the description only feeds error messages.
        let _ = file
            .set_len(0)
            .and_then(|()| file.write_all(holder.as_bytes()));
        Ok(LakeLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Who holds the lock at `path` right now, without touching it: `flock` locks are listed in
/// `/proc/locks` by inode (taking even a shared lock to find out could make a starting writer
/// fail with "busy"). `None` when nobody does (or the system does not say).
pub fn current_holder(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(path).ok()?.ino();
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let held = locks.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(1) == Some(&"FLOCK")
            && fields
                .get(5)
                .and_then(|dev_inode| dev_inode.rsplit(':').next())
                .is_some_and(|i| i == inode.to_string())
    });
    if !held {
        return None;
    }
    let mut file = File::open(path).ok()?;
    let text = read_holder(&mut file);
    Some(if text.trim().is_empty() {
        "another wxlake".to_string()
    } else {
        text.trim().to_string()
    })
}

fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    // Best effort: an unreadable description just makes the message shorter.
    let _ = file
        .rewind()
        .and_then(|()| file.take(200).read_to_string(&mut text));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_then_admitted_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wxlake.lock");
        let first = LakeLock::acquire(&path, "ingest", None).unwrap();
        let err = LakeLock::acquire(&path, "ingest", None).unwrap_err();
        assert!(matches!(err, Error::LockBusy { .. }));
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        let err = LakeLock::acquire(&path, "ingest", Some(Duration::from_millis(250))).unwrap_err();
        assert!(matches!(err, Error::LockBusy { .. }));
        let holder = current_holder(&path).expect("held");
        assert!(holder.contains("running ingest"), "{holder}");
        drop(first);
        assert_eq!(current_holder(&path), None);
        let _again = LakeLock::acquire(&path, "ingest", None).unwrap();
        assert!(path.exists());
    }
}
