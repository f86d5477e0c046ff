//! Durable file publishing: the one way wxlake makes a file visible.
//!
//! A file is written under a temporary name in the directory (or staging directory) it will live
//! in, fsynced, renamed (or hard-linked) to its final name, and the directory is fsynced. A reader
//! therefore sees either nothing or the whole file; after a crash, at worst a temporary file is
//! left behind, which the next writer removes. On error the temporary file is removed.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::failpoint;

/// fsync a directory so that renames and new entries in it are durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("fsync directory", dir, e))
}

/// Create `dir` and any missing parents, fsyncing each parent that gained an entry.
pub fn create_dir_all_durable(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent()
        && !parent.as_os_str().is_empty()
    {
        create_dir_all_durable(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(Error::io("create directory", dir, e)),
    }
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => fsync_dir(parent),
        _ => Ok(()),
    }
}

/// The mode new files get (less the umask): 0644 unless [`limit_readability`] said otherwise.
static FILE_MODE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0o644);

/// Make every file this process creates from now on no more readable by group and others than
/// `mode` allows: the lake and the quarantine hold private messages, and must not be more
/// readable than the raw files they come from.
pub fn limit_readability(mode: u32) {
    FILE_MODE.store(0o600 | (mode & 0o044), std::sync::atomic::Ordering::Relaxed);
}

/// Like [`limit_readability`], but only ever takes bits away: for the raw files of a run, one
/// at a time, before anything made from each is written.
pub fn tighten_readability(mode: u32) {
    FILE_MODE.fetch_and(0o600 | (mode & 0o044), std::sync::atomic::Ordering::Relaxed);
}

/// The mode for new files (see [`limit_readability`]).
pub fn file_mode() -> u32 {
    FILE_MODE.load(std::sync::atomic::Ordering::Relaxed)
}

/// A temp-file builder whose files end up readable like any file the process creates
/// (0644 less the umask, or less when the raw files are private: [`limit_readability`]), not
/// tempfile's private 0600: the lake is read by other users' tools.
pub fn temp_builder<'a>(prefix: &'a str, suffix: &'a str) -> tempfile::Builder<'a, 'a> {
    use std::os::unix::fs::PermissionsExt;
    let mut builder = tempfile::Builder::new();
    builder
        .prefix(prefix)
        .suffix(suffix)
        .permissions(std::fs::Permissions::from_mode(file_mode()));
    builder
}

/// Atomically replace `path` with `bytes`. `label` names the failpoints
/// `{label}.before_rename` (temp file written and synced) and `{label}.after_rename`.
pub fn write_atomic(path: &Path, bytes: &[u8], label: &str) -> Result<()> {
    write_atomic_with(path, label, |out| out.write_all(bytes))
}

/// [`write_atomic`] for contents too large to build in memory first: `write` streams them
/// into the temp file.
pub fn write_atomic_with(
    path: &Path,
    label: &str,
    write: impl FnOnce(&mut fs::File) -> io::Result<()>,
) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let mut tmp = temp_builder(&format!(".{name}."), ".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io("create a temporary file in", dir, e))?;
    write(tmp.as_file_mut())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io("write", tmp.path(), e))?;
    failpoint::hit(&format!("{label}.before_rename"));
    tmp.persist(path)
        .map_err(|e| Error::io("rename into place", path, e.error))?;
    fsync_dir(dir)?;
    failpoint::hit(&format!("{label}.after_rename"));
    Ok(())
}

/// Remove the temporary files [`write_atomic`] leaves in `dir` when a process dies between
/// writing and renaming (`.NAME.XXXXXX.tmp`). Call only while holding the writer lock.
pub fn remove_stale_temps(dir: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.')
            && name.ends_with(".tmp")
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            let path = entry.path();
            tracing::info!(path = %path.display(), "removing a temp file left by an interrupted run");
            fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
        }
    }
    Ok(())
}

/// Give the synced file at `tmp` the name `dest` without ever replacing an existing file:
/// hard-link, then remove `tmp`. Fails with `AlreadyExists` when `dest` exists. The caller
/// fsyncs `dest`'s directory.
pub fn link_no_clobber(tmp: &Path, dest: &Path) -> io::Result<()> {
    match fs::hard_link(tmp, dest) {
        Ok(()) => {}
        // Filesystems without hard links: check, then rename (we hold the writer lock).
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
            ) =>
        {
            if dest.exists() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "destination exists",
                ));
            }
            return fs::rename(tmp, dest);
        }
        Err(e) => return Err(e),
    }
    fs::remove_file(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        write_atomic(&p, b"one", "test").unwrap();
        write_atomic(&p, b"two", "test").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn published_files_are_readable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lake.json");
        write_atomic(&p, b"{}", "test").unwrap();
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o044, 0o044, "mode {mode:o}");
    }

    #[test]
    fn link_no_clobber_refuses_to_replace() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        fs::write(&a, "a").unwrap();
        fs::write(&b, "b").unwrap();
        let err = link_no_clobber(&a, &b).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&b).unwrap(), b"b");
        link_no_clobber(&a, &c).unwrap();
        assert!(!a.exists());
        assert_eq!(fs::read(&c).unwrap(), b"a");
    }

    #[test]
    fn create_dir_all_durable_makes_nested_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("x/y/z");
        create_dir_all_durable(&deep).unwrap();
        assert!(deep.is_dir());
        create_dir_all_durable(&deep).unwrap();
    }
}
