//! Durable file publishing: the one way wxlake makes a file visible ([`publish`]).
//!
//! A file is written under a temporary name in the directory (or staging directory) it will live
//! in, fsynced, renamed to its final name (without replacing one, for data files), and the
//! directory is fsynced. A reader
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
    create_dir_all_then(dir, &mut fsync_dir)
}

/// [`create_dir_all_durable`], the parents' fsyncs put off into `syncs`.
pub fn create_dir_all_deferred(dir: &Path, syncs: &mut DirSyncs) -> Result<()> {
    create_dir_all_then(dir, &mut |parent| {
        syncs.add(parent);
        Ok(())
    })
}

/// Create `dir` and any missing parents, calling `gained` with each parent that gained an entry.
fn create_dir_all_then(dir: &Path, gained: &mut dyn FnMut(&Path) -> Result<()>) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent()
        && !parent.as_os_str().is_empty()
    {
        create_dir_all_then(parent, gained)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(Error::io("create directory", dir, e)),
    }
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => gained(parent),
        _ => Ok(()),
    }
}

/// Directories whose fsync a group commit puts off until [`DirSyncs::sync`], so that each is
/// fsynced once for all the files published or replaced in it (an fsync of a directory costs
/// a device flush: on the 60-day workload, ingest spent ~0.4 s in them, one file at a time).
#[derive(Debug, Default)]
pub struct DirSyncs(std::collections::BTreeSet<std::path::PathBuf>);

impl DirSyncs {
    /// Put off the fsync of `dir`.
    pub fn add(&mut self, dir: &Path) {
        if !self.0.contains(dir) {
            self.0.insert(dir.to_path_buf());
        }
    }

    /// fsync every directory added since the last call: what was published in them is now
    /// durable.
    pub fn sync(&mut self) -> Result<()> {
        for dir in std::mem::take(&mut self.0) {
            fsync_dir(&dir)?;
        }
        Ok(())
    }
}

/// The mode new files get (less the umask): 0644 unless [`limit_readability`] said otherwise.
static FILE_MODE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0o644);

/// What ingest looks at in a raw file before reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileInfo {
    pub size: u64,
    /// Modification time, in nanoseconds since the epoch.
    pub mtime_ns: i128,
    pub inode: u64,
    pub mode: u32,
}

impl FileInfo {
    pub fn of(meta: &fs::Metadata) -> FileInfo {
        use std::os::unix::fs::MetadataExt;
        FileInfo {
            size: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            inode: meta.ino(),
            mode: meta.mode(),
        }
    }

    /// How long ago the file was last modified (zero if in the future).
    pub fn age(&self) -> std::time::Duration {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        let ns = (now - self.mtime_ns).clamp(0, i128::from(u64::MAX));
        std::time::Duration::from_nanos(ns as u64)
    }
}

/// `stat(2)` of files by name relative to their directory, kept open: every run stats each raw
/// file (a settled one is skipped only if it is unchanged), and on a two-year lake with one new
/// day resolving the full path of each of 730 files was half of that cost. Follows symlinks,
/// as `std::fs::metadata` does, which it falls back to when the directory cannot be opened.
#[derive(Debug, Default)]
pub struct DirStats {
    dir: Option<(std::path::PathBuf, File)>,
}

impl DirStats {
    pub fn stat(&mut self, path: &Path) -> io::Result<FileInfo> {
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::OpenOptionsExt;
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return fs::metadata(path).map(|m| FileInfo::of(&m));
        };
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if self.dir.as_ref().is_none_or(|(p, _)| p != parent) {
            self.dir = fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
                .open(parent)
                .ok()
                .map(|f| (parent.to_path_buf(), f));
        }
        let Some((_, dir)) = &self.dir else {
            return fs::metadata(path).map(|m| FileInfo::of(&m));
        };
        let name = std::ffi::CString::new(name.as_bytes()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in a file name")
        })?;
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `dir` is an open descriptor, `name` a NUL-terminated string, and `st` room for
        // one `struct stat`, which fstatat fills when it returns 0.
        let st = unsafe {
            if libc::fstatat(dir.as_raw_fd(), name.as_ptr(), st.as_mut_ptr(), 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            st.assume_init()
        };
        Ok(FileInfo {
            size: st.st_size as u64,
            mtime_ns: i128::from(st.st_mtime) * 1_000_000_000 + i128::from(st.st_mtime_nsec),
            inode: st.st_ino,
            mode: st.st_mode,
        })
    }
}

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
    write_atomic_then(path, label, write, Durability::Durable)
}

/// [`write_atomic`], the fsync of the directory put off into `syncs`: the new contents are
/// visible at once and durable after [`DirSyncs::sync`].
pub fn write_atomic_deferred(
    path: &Path,
    bytes: &[u8],
    label: &str,
    syncs: &mut DirSyncs,
) -> Result<()> {
    write_atomic_then(
        path,
        label,
        |out| out.write_all(bytes),
        Durability::Deferred,
    )?;
    syncs.add(parent_or_dot(path));
    Ok(())
}

fn write_atomic_then(
    path: &Path,
    label: &str,
    write: impl FnOnce(&mut fs::File) -> io::Result<()>,
    durability: Durability,
) -> Result<()> {
    let mut tmp = temp_for(path)?;
    write(tmp.as_file_mut())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io("write", path, e))?;
    failpoint::hit(&format!("{label}.before_rename"));
    publish(tmp.into_temp_path(), path, Publish::Replace, durability)?;
    failpoint::hit(&format!("{label}.after_rename"));
    Ok(())
}

/// A temp file beside `dest`, named as [`crate::lake::names`] says (`.NAME.XXXXXX.tmp`).
pub fn temp_for(dest: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = dest.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    temp_builder(
        &crate::lake::names::temp_prefix(name),
        crate::lake::names::TEMP_SUFFIX,
    )
    .tempfile_in(dir)
    .map_err(|e| Error::io("create a file in", dir, e))
}

/// How [`publish`] puts a finished temp file at its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// Replace whatever is there (metadata, checkpoints, archives, exports).
    Replace,
    /// Never replace: fail with [`io::ErrorKind::AlreadyExists`] when the name is taken (data
    /// files: a name is never reused, so a retry after a crash cannot overwrite a published file).
    NoClobber,
}

/// Whether a publication must survive a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The directory is fsynced after the rename (the temp file's contents must already be).
    Durable,
    /// The caller fsyncs the directory later, once for many files (a [`DirSyncs`]).
    Deferred,
    /// Visible only when complete, but not promised across a power cut (query's exports).
    VisibleOnly,
}

/// The directory `path` is in.
pub fn parent_or_dot(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The one way a file becomes visible: the finished temp file `tmp`, written in the directory of
/// `dest`, is renamed to `dest` atomically (a reader sees the old file or the new one, never part
/// of one), without replacing an existing file for [`Publish::NoClobber`]. On an error the temp
/// file is removed, except when the name was taken: then it is handed back in the error, to be
/// published under another name.
pub fn publish(
    tmp: tempfile::TempPath,
    dest: &Path,
    mode: Publish,
    durability: Durability,
) -> std::result::Result<(), PublishError> {
    let persisted = match mode {
        Publish::Replace => tmp.persist(dest),
        Publish::NoClobber => match tmp.persist_noclobber(dest) {
            // A filesystem with neither renameat2's NOREPLACE nor hard links: check, then
            // rename (the writer lock makes that safe).
            Err(e)
                if matches!(
                    e.error.kind(),
                    io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
                ) =>
            {
                if dest.exists() {
                    return Err(PublishError::Taken(e.path));
                }
                e.path.persist(dest)
            }
            other => other,
        },
    };
    if let Err(e) = persisted {
        if e.error.kind() == io::ErrorKind::AlreadyExists {
            return Err(PublishError::Taken(e.path));
        }
        return Err(PublishError::Failed(Error::io("publish", dest, e.error)));
    }
    if durability == Durability::Durable {
        fsync_dir(parent_or_dot(dest)).map_err(PublishError::Failed)?;
    }
    Ok(())
}

/// Why [`publish`] did not publish.
#[derive(Debug)]
pub enum PublishError {
    /// [`Publish::NoClobber`] and the name is taken: the temp file, still unpublished.
    Taken(tempfile::TempPath),
    Failed(Error),
}

impl From<PublishError> for Error {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Taken(tmp) => Error::io(
                "publish",
                &tmp,
                io::Error::new(io::ErrorKind::AlreadyExists, "the name is taken"),
            ),
            PublishError::Failed(e) => e,
        }
    }
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
        if crate::lake::names::is_temp(&name) && entry.file_type().is_ok_and(|t| t.is_file()) {
            let path = entry.path();
            tracing::info!(path = %path.display(), "removing a temp file left by an interrupted run");
            fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_stats_agree_with_std_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("2026-01-01.jsonl");
        let b = dir.path().join("sub").join("2026-01-02.jsonl");
        std::fs::write(&a, b"one line\n").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(&b, b"two\nlines\n").unwrap();
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&b, &link).unwrap();
        let mut stats = DirStats::default();
        for path in [&a, &b, &link, &a] {
            let ours = stats.stat(path).unwrap();
            assert_eq!(
                ours,
                FileInfo::of(&std::fs::metadata(path).unwrap()),
                "{path:?}"
            );
        }
        let missing = stats.stat(&dir.path().join("none.jsonl")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        assert!(stats.stat(&a).unwrap().age() < std::time::Duration::from_secs(600));
    }

    #[test]
    fn deferred_creation_and_replacement_name_each_directory_to_fsync_once() {
        let root = tempfile::tempdir().unwrap();
        let mut syncs = DirSyncs::default();
        let day = root.path().join("year=2026/month=01/day=02");
        create_dir_all_deferred(&day, &mut syncs).unwrap();
        create_dir_all_deferred(&root.path().join("year=2026/month=01/day=03"), &mut syncs)
            .unwrap();
        assert!(day.is_dir());
        write_atomic_deferred(&day.join("a"), b"1", "test", &mut syncs).unwrap();
        write_atomic_deferred(&day.join("b"), b"2", "test", &mut syncs).unwrap();
        let month = root.path().join("year=2026/month=01");
        let want: Vec<std::path::PathBuf> = vec![
            root.path().to_path_buf(),
            root.path().join("year=2026"),
            month.clone(),
            day.clone(),
        ];
        assert_eq!(syncs.0.iter().cloned().collect::<Vec<_>>(), want);
        syncs.sync().unwrap();
        assert!(syncs.0.is_empty(), "each fsynced once, then forgotten");
        assert_eq!(std::fs::read(day.join("b")).unwrap(), b"2");
    }

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
    fn publishing_without_clobbering_refuses_a_taken_name_and_hands_the_file_back() {
        let dir = tempfile::tempdir().unwrap();
        let (b, c) = (dir.path().join("b"), dir.path().join("c"));
        fs::write(&b, "b").unwrap();
        let mut tmp = temp_for(&b).unwrap();
        tmp.write_all(b"a").unwrap();
        let tmp = tmp.into_temp_path();
        let back = match publish(tmp, &b, Publish::NoClobber, Durability::Durable) {
            Err(PublishError::Taken(back)) => back,
            other => panic!("expected Taken, got {other:?}"),
        };
        assert_eq!(fs::read(&b).unwrap(), b"b", "the taken name is untouched");
        publish(back, &c, Publish::NoClobber, Durability::Durable).unwrap();
        assert_eq!(fs::read(&c).unwrap(), b"a");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temp file left"
        );
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
