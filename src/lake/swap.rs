//! Replacing a partition's files as one atomic step, for `compact` and `archive`.
//!
//! The new files are built in a swap directory, `parquet/.swap/<partition>-<run>/`, outside the
//! `parquet/messages` tree that readers glob (DuckDB's `**` descends into hidden directories, so
//! a hidden sibling inside the lake would be read). Then `renameat2(RENAME_EXCHANGE)` swaps the
//! swap directory with the partition directory: at every instant a listing of the partition
//! shows either all of the old files or all of the new ones. The old files, now in the swap
//! directory, are deleted afterwards.
//!
//! A journal in `metadata/journal/` records each swap before it starts. Because the exchange is
//! atomic, the swap directory is disposable at every instant (before the exchange it holds
//! copies, after it the replaced originals), so recovery after a crash is: tell from the
//! partition's listing whether the swap happened (finished) or not (rolled back), log it, and
//! delete the swap directory and the journal. [`recover`] runs at the start of every writer.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::failpoint;
use crate::fsutil::{create_dir_all_durable, fsync_dir, write_atomic};
use crate::lake::Layout;
use crate::lake::layout::list_data_files;

/// One swap in progress, as written to `metadata/journal/<partition date>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapJournal {
    /// `compact` or `archive`.
    pub operation: String,
    /// The partition directory, relative to the lake (`year=2026/month=01/day=20`).
    pub partition: String,
    /// The swap directory, relative to the data directory.
    pub swap_dir: String,
    /// File names in the partition before the swap.
    pub inputs: Vec<String>,
    /// File names in the partition after it.
    pub outputs: Vec<String>,
    /// A side table (`contacts`, `events`) instead of a partition (absent in older journals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

/// Swap the directories `a` and `b` atomically (both must exist, on one filesystem).
pub fn exchange_dirs(a: &Path, b: &Path) -> io::Result<()> {
    let a_c = CString::new(a.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let b_c = CString::new(b.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: both pointers are valid NUL-terminated paths for the duration of the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a_c.as_ptr(),
            libc::AT_FDCWD,
            b_c.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The names of the data files directly in `dir`.
fn data_file_names(dir: &Path) -> Result<Vec<String>> {
    Ok(list_data_files(dir)?
        .iter()
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(String::from))
        .collect())
}

/// Replace the files of `partition_dir` with those of `swap_dir` (already written, fsynced and
/// checked). `journal` describes the swap; `label` names the failpoints `{label}.journaled`,
/// `{label}.swapped` and `{label}.cleaned`.
pub fn swap_in(
    layout: &Layout,
    partition_dir: &Path,
    swap_dir: &Path,
    journal: &SwapJournal,
    label: &str,
) -> Result<()> {
    let journal_path = journal_path(layout, &journal.partition);
    create_dir_all_durable(&layout.journal_dir())?;
    let json = serde_json::to_vec_pretty(journal).expect("journals serialize");
    write_atomic(&journal_path, &json, "journal")?;
    failpoint::hit(&format!("{label}.journaled"));
    exchange_dirs(swap_dir, partition_dir).map_err(|e| {
        Error::io(
            "swap (renameat2 RENAME_EXCHANGE; the filesystem must support it)",
            partition_dir,
            e,
        )
    })?;
    if let Some(parent) = partition_dir.parent() {
        fsync_dir(parent)?;
    }
    fsync_dir(&layout.swap_root())?;
    failpoint::hit(&format!("{label}.swapped"));
    // From here on nothing needs to be durable: if a crash undoes the removals, the next
    // writer's recovery finds the journal, sees the new files in place and removes the rest.
    remove_dir_entries(swap_dir)?;
    failpoint::hit(&format!("{label}.cleaned"));
    fs::remove_file(&journal_path).map_err(|e| Error::io("remove", &journal_path, e))
}

fn remove_dir_entries(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("remove", dir, e)),
        _ => Ok(()),
    }
}

fn journal_path(layout: &Layout, partition: &str) -> PathBuf {
    layout
        .journal_dir()
        .join(format!("{}.json", partition.replace('/', "_")))
}

fn remove_dir(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("remove", dir, e)),
    }
    if let Some(parent) = dir.parent() {
        fsync_dir(parent)?;
    }
    Ok(())
}

/// What [`recover`] found of one interrupted swap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recovered {
    pub partition: String,
    pub outcome: SwapOutcome,
}

/// How an interrupted swap ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SwapOutcome {
    /// The new files were in place: the swap is finished.
    #[serde(rename = "finished")]
    Finished,
    /// The old files were: they stay, the new ones are removed.
    #[serde(rename = "rolled back")]
    RolledBack,
}

impl std::fmt::Display for SwapOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SwapOutcome::Finished => "finished",
            SwapOutcome::RolledBack => "rolled back",
        })
    }
}

/// Clean up after swaps a crash interrupted: every journal and every swap directory. Call with
/// the writer lock held, before touching any partition.
pub fn recover(layout: &Layout) -> Result<Vec<Recovered>> {
    let mut recovered = Vec::new();
    let journal_dir = layout.journal_dir();
    crate::fsutil::remove_stale_temps(&journal_dir)?;
    let mut journals = Vec::new();
    if let Ok(entries) = fs::read_dir(&journal_dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                journals.push(path);
            }
        }
    }
    journals.sort();
    for path in journals {
        let journal: SwapJournal = match fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(journal = %path.display(), error = %e, "unreadable swap journal; removing it and every swap directory");
                fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
                continue;
            }
        };
        let partition_dir = match journal.table.as_deref() {
            Some("contacts") => layout.contacts_dir(),
            Some("events") => layout.events_dir(),
            _ => layout.lake_dir().join(&journal.partition),
        };
        let now = data_file_names(&partition_dir)?;
        let outcome = if !journal.outputs.is_empty() && now == sorted(&journal.outputs) {
            SwapOutcome::Finished
        } else {
            SwapOutcome::RolledBack
        };
        tracing::warn!(
            operation = %journal.operation,
            partition = %journal.partition,
            %outcome,
            "an interrupted swap was found; the partition holds the {} files",
            if outcome == SwapOutcome::Finished { "new" } else { "old" }
        );
        remove_dir(&layout.root().join(&journal.swap_dir))?;
        fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
        recovered.push(Recovered {
            partition: journal.partition,
            outcome,
        });
    }
    // Swap directories without a journal: a crash before the journal was written.
    if let Ok(entries) = fs::read_dir(layout.swap_root()) {
        for entry in entries.flatten() {
            tracing::info!(path = %entry.path().display(), "removing a swap directory left by an interrupted run");
            remove_dir(&entry.path())?;
        }
    }
    if !recovered.is_empty() {
        fsync_dir(&journal_dir)?;
    }
    Ok(recovered)
}

fn sorted(names: &[String]) -> Vec<String> {
    let mut v = names.to_vec();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_swaps_two_directories() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::create_dir(&a).unwrap();
        fs::create_dir(&b).unwrap();
        fs::write(a.join("old.parquet"), b"old").unwrap();
        fs::write(b.join("new.parquet"), b"new").unwrap();
        exchange_dirs(&b, &a).unwrap();
        assert!(a.join("new.parquet").exists() && b.join("old.parquet").exists());
        assert!(exchange_dirs(&a, &dir.path().join("missing")).is_err());
    }
}
