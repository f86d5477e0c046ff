//! Where everything lives under the data directory.
//!
//! ```text
//! <data>/messages/raw/YYYY-MM-DD.jsonl          input, appended by the collector
//! <data>/messages/raw/archive/YYYY-MM-DD.jsonl.zst  raw files archived by `archive`
//! <data>/parquet/messages/year=YYYY/month=MM/day=DD/*.parquet   the lake
//! <data>/parquet/contacts/*.parquet             every version of every contact (see crate::contact)
//! <data>/parquet/events/*.parquet               records of other webhook kinds (see crate::event)
//! <data>/parquet/.staging/                      temp files being written (never listed by readers)
//! <data>/parquet/.swap/                         partitions being rebuilt by compact/archive
//! <data>/metadata/journal/                      swaps in progress (see lake::swap)
//! <data>/metadata/lake.json                     time zone and schema version of the lake
//! <data>/metadata/schema_registry.json          every schema version
//! <data>/metadata/checkpoints/YYYY-MM-DD.json   per raw file: how far ingest got
//! <data>/metadata/msg_index/*.seg, *.log         where each stored msg_id is (see lake::msg_index)
//! <data>/metadata/raw_index.json                fully ingested raw files (a shortcut)
//! <data>/metadata/rejects/YYYY-MM-DD.jsonl      quarantined lines of each raw file
//! <data>/metadata/wxlake.lock                   the writer lock (never deleted)
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::partition::PartitionKey;

/// The paths of one data directory.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

/// A raw input file named after its date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFile {
    pub date: NaiveDate,
    pub path: PathBuf,
    /// A copy decompressed from `messages/raw/archive/`: finished, whatever its mtime says.
    pub archived: bool,
    /// Whether reading it advances the date's checkpoint. An archive read again beside a live
    /// raw file of the same date (a late write re-created it) is read whole, once per rebuild,
    /// without a checkpoint of its own: the live file keeps the date's checkpoint.
    pub checkpointed: bool,
}

impl RawFile {
    /// The file name, e.g. `2026-01-22.jsonl`.
    pub fn name(&self) -> String {
        raw_file_name(self.date)
    }
}

/// `YYYY-MM-DD.jsonl`.
pub fn raw_file_name(date: NaiveDate) -> String {
    format!("{}.jsonl", crate::dates::ymd(date))
}

/// The date of a raw file name, if it is one.
pub fn parse_raw_file_name(name: &str) -> Option<NaiveDate> {
    let stem = name.strip_suffix(".jsonl")?;
    if stem.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(stem, "%Y-%m-%d").ok()
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    /// An error unless this data directory holds a lake (for the commands that only read or
    /// maintain one; `ingest` creates it).
    pub fn require_lake(&self) -> Result<()> {
        if self.lake_meta_path().exists() || self.lake_dir().is_dir() {
            Ok(())
        } else {
            Err(Error::NotALake {
                path: self.root.clone(),
            })
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn raw_dir(&self) -> PathBuf {
        self.root.join("messages").join("raw")
    }
    pub fn raw_file(&self, date: NaiveDate) -> PathBuf {
        self.raw_dir().join(raw_file_name(date))
    }
    /// The root of the Hive-partitioned lake: what readers point at.
    pub fn lake_dir(&self) -> PathBuf {
        self.root.join("parquet").join("messages")
    }
    /// The contacts table (not partitioned: it is small, and read whole to resolve names).
    pub fn contacts_dir(&self) -> PathBuf {
        self.root.join("parquet").join("contacts")
    }
    /// The events table.
    pub fn events_dir(&self) -> PathBuf {
        self.root.join("parquet").join("events")
    }
    pub fn staging_dir(&self) -> PathBuf {
        self.root.join("parquet").join(".staging")
    }
    /// Compressed raw files of `archive --raw-retention`.
    pub fn raw_archive_dir(&self) -> PathBuf {
        self.raw_dir().join("archive")
    }
    /// `messages/raw/archive/YYYY-MM-DD.jsonl.zst`.
    pub fn raw_archive_path(&self, date: NaiveDate) -> PathBuf {
        self.raw_archive_dir()
            .join(format!("{}.zst", raw_file_name(date)))
    }
    /// Where `compact` and `archive` build a partition's new files (outside the globbed tree).
    pub fn swap_root(&self) -> PathBuf {
        self.root.join("parquet").join(".swap")
    }
    /// Swap journals of `compact` and `archive`.
    pub fn journal_dir(&self) -> PathBuf {
        self.root.join("metadata").join("journal")
    }
    pub fn partition_dir(&self, key: PartitionKey) -> PathBuf {
        self.lake_dir().join(key.rel_dir())
    }
    pub fn metadata_dir(&self) -> PathBuf {
        self.root.join("metadata")
    }
    /// The lake-wide msg_id index (see [`crate::lake::msg_index`]).
    pub fn msg_index_dir(&self) -> PathBuf {
        self.metadata_dir().join("msg_index")
    }
    pub fn lake_meta_path(&self) -> PathBuf {
        self.metadata_dir().join("lake.json")
    }
    pub fn schema_registry_path(&self) -> PathBuf {
        self.metadata_dir().join("schema_registry.json")
    }
    pub fn checkpoint_path(&self, date: NaiveDate) -> PathBuf {
        let name = format!("{}.json", crate::dates::ymd(date));
        self.metadata_dir().join("checkpoints").join(name)
    }
    /// The index of fully ingested raw files (see `ingest::settled`).
    pub fn settled_index_path(&self) -> PathBuf {
        self.metadata_dir().join("raw_index.json")
    }
    /// Dates that have a checkpoint file.
    pub fn checkpoint_dates(&self) -> Result<std::collections::BTreeSet<NaiveDate>> {
        let mut dates = std::collections::BTreeSet::new();
        for entry in entries_or_none(&self.metadata_dir().join("checkpoints"))? {
            let name = entry.file_name();
            if let Some(date) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(crate::dates::parse_ymd)
            {
                dates.insert(date);
            }
        }
        Ok(dates)
    }
    pub fn rejects_dir(&self) -> PathBuf {
        self.metadata_dir().join("rejects")
    }
    pub fn rejects_path(&self, date: NaiveDate) -> PathBuf {
        self.rejects_dir().join(raw_file_name(date))
    }
    /// Where the rejected lines of `raw` go: its date's quarantine, or, for an archive read
    /// beside a live file of its date, one of its own (`YYYY-MM-DD.archived.jsonl`).
    pub fn rejects_path_of(&self, raw: &RawFile) -> PathBuf {
        if raw.checkpointed {
            self.rejects_path(raw.date)
        } else {
            self.rejects_dir()
                .join(format!("{}.archived.jsonl", raw.date.format("%Y-%m-%d")))
        }
    }
    pub fn lock_path(&self) -> PathBuf {
        self.metadata_dir().join("wxlake.lock")
    }

    /// Raw files named `YYYY-MM-DD.jsonl`, oldest first. Other names are ignored.
    pub fn raw_files(&self) -> Result<Vec<RawFile>> {
        let dir = self.raw_dir();
        let entries =
            fs::read_dir(&dir).map_err(|e| Error::io("list the raw directory", &dir, e))?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list the raw directory", &dir, e))?;
            let name = entry.file_name();
            let Some(date) = name.to_str().and_then(parse_raw_file_name) else {
                tracing::debug!(file = ?name, "ignoring a file that is not named YYYY-MM-DD.jsonl");
                continue;
            };
            let path = entry.path();
            // The listing's file type costs no system call: only a symlink needs a look.
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                files.push(RawFile {
                    date,
                    path,
                    archived: false,
                    checkpointed: true,
                });
                continue;
            }
            match self.raw_file_kind(&path) {
                Ok(()) => files.push(RawFile {
                    date,
                    path,
                    archived: false,
                    checkpointed: true,
                }),
                Err(why) => {
                    tracing::warn!(file = %path.display(), "skipping a raw file that {why}");
                }
            }
        }
        files.sort_by_key(|f| f.date);
        Ok(files)
    }

    /// Whether `path` may be read as a raw file: a regular file, or a symlink to a regular file
    /// inside the data directory. Anything else (a directory, a device, a FIFO, a symlink out of
    /// the data directory) says why not: reading it could hang, or copy a file the operator
    /// never meant to feed into a quarantine that others can read.
    fn raw_file_kind(&self, path: &Path) -> std::result::Result<(), &'static str> {
        let own = fs::symlink_metadata(path).map_err(|_| "cannot be read")?;
        if own.file_type().is_file() {
            return Ok(());
        }
        if !own.file_type().is_symlink() {
            return Err("is not a regular file");
        }
        let target = fs::canonicalize(path).map_err(|_| "is a broken symlink")?;
        let root = fs::canonicalize(&self.root).map_err(|_| "cannot be resolved")?;
        if !target.starts_with(&root) {
            return Err("is a symlink out of the data directory");
        }
        match fs::metadata(&target) {
            Ok(m) if m.is_file() => Ok(()),
            _ => Err("is a symlink to something that is not a regular file"),
        }
    }

    /// The readability (group and other read bits) every raw file, archived ones included,
    /// allows: the most the lake's files may have (see [`crate::fsutil::limit_readability`]).
    pub fn raw_readability(&self) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        let mut mode = 0o044;
        for dir in [self.raw_dir(), self.raw_archive_dir()] {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if (name.ends_with(".jsonl") || name.ends_with(".jsonl.zst"))
                    && let Ok(m) = fs::metadata(entry.path())
                    && m.is_file()
                {
                    mode &= m.permissions().mode();
                }
            }
        }
        mode
    }

    /// Things wxlake never reads although they look meant for it: `*.jsonl` files in the raw
    /// directory whose names are not `YYYY-MM-DD.jsonl`, and lake directories that are not
    /// canonical partitions (`month=1`). Each with why; `status` and `verify` warn about them.
    /// (Other files the collector keeps, such as its `YYYY-MM-DD.lock`, are not listed.)
    pub fn oddities(&self) -> Result<Vec<(PathBuf, String)>> {
        let mut out = Vec::new();
        for entry in entries_or_none(&self.raw_dir())? {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".jsonl") && parse_raw_file_name(&name).is_none() {
                out.push((
                    entry.path(),
                    "named like a raw file but not YYYY-MM-DD.jsonl: never read".to_string(),
                ));
            }
        }
        let root = self.lake_dir();
        for year in subdirs(&root)? {
            let y = root.join(&year);
            let canonical_year = year.len() == 9
                && year
                    .strip_prefix("year=")
                    .is_some_and(|v| v.bytes().all(|b| b.is_ascii_digit()));
            if !canonical_year {
                out.push((
                    y,
                    "not a partition directory (year=YYYY): never read".to_string(),
                ));
                continue;
            }
            for month in subdirs(&y)? {
                let m = y.join(&month);
                let days = subdirs(&m)?;
                let bad_month = !(month.len() == 8 && month.starts_with("month="));
                if bad_month {
                    out.push((
                        m,
                        "not a partition directory (month=MM): never read".to_string(),
                    ));
                    continue;
                }
                for day in days {
                    let rel: PathBuf = [&year, &month, &day].iter().collect();
                    if PartitionKey::from_rel_dir(&rel).is_none() {
                        out.push((
                            m.join(&day),
                            "not a partition directory (day=DD of a real date): never read"
                                .to_string(),
                        ));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every partition directory of the lake, oldest first. Directories whose names are not
    /// `year=YYYY/month=MM/day=DD` (hidden ones included) are not partitions.
    pub fn partitions(&self) -> Result<Vec<PartitionKey>> {
        let root = self.lake_dir();
        let mut keys = Vec::new();
        for year in subdirs(&root)? {
            for month in subdirs(&root.join(&year))? {
                for day in subdirs(&root.join(&year).join(&month))? {
                    let rel: PathBuf = [&year, &month, &day].iter().collect();
                    if let Some(key) = PartitionKey::from_rel_dir(&rel) {
                        keys.push(key);
                    }
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// The data files of one partition, sorted by name. Hidden (`.`/`_`) and non-Parquet names
    /// are not data files. A missing partition has none.
    pub fn partition_files(&self, key: PartitionKey) -> Result<Vec<PathBuf>> {
        list_data_files(&self.partition_dir(key))
    }
}

/// The entries of `dir`; none when it does not exist.
fn entries_or_none(dir: &Path) -> Result<Vec<fs::DirEntry>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    entries
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| Error::io("list", dir, e))
}

fn subdirs(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in entries_or_none(dir)? {
        if entry.file_type().is_ok_and(|t| t.is_dir())
            && let Some(name) = entry.file_name().to_str()
            && !name.starts_with('.')
            && !name.starts_with('_')
        {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// `*.parquet` files in `dir` whose names do not start with `.` or `_`, sorted.
pub fn list_data_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in entries_or_none(dir)? {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_data_file_name(name) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Whether `name` is a data file's (see [`crate::lake::names::is_data_file`]).
pub fn is_data_file_name(name: &str) -> bool {
    crate::lake::names::is_data_file(name)
}

/// The entries of `dir` that are not data files (readers globbing the directory may trip over
/// them; `verify` reports them).
pub fn stray_entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| !is_data_file_name(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_file_names() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        assert_eq!(parse_raw_file_name("2026-01-02.jsonl"), Some(d));
        assert_eq!(raw_file_name(d), "2026-01-02.jsonl");
        for bad in [
            "2026-1-02.jsonl",
            "2026-13-01.jsonl",
            "2026-01-02.json",
            "x.jsonl",
            "2026-01-02.jsonl.zst",
        ] {
            assert_eq!(parse_raw_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn lists_raw_files_by_date_and_data_files_without_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        fs::create_dir_all(layout.raw_dir()).unwrap();
        for name in ["2026-01-03.jsonl", "2026-01-01.jsonl", "notes.txt"] {
            fs::write(layout.raw_dir().join(name), "").unwrap();
        }
        let dates: Vec<_> = layout
            .raw_files()
            .unwrap()
            .iter()
            .map(|f| f.name())
            .collect();
        assert_eq!(dates, ["2026-01-01.jsonl", "2026-01-03.jsonl"]);

        let key = PartitionKey(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        assert!(layout.partition_files(key).unwrap().is_empty());
        let pdir = layout.partition_dir(key);
        fs::create_dir_all(&pdir).unwrap();
        for name in [
            "b.parquet",
            "a.parquet",
            ".tmp.parquet",
            "_x.parquet",
            "c.txt",
        ] {
            fs::write(pdir.join(name), "").unwrap();
        }
        let files: Vec<_> = layout.partition_files(key).unwrap();
        assert_eq!(files, [pdir.join("a.parquet"), pdir.join("b.parquet")]);
        fs::create_dir_all(layout.lake_dir().join("year=2026/month=01/.day=02")).unwrap();
        fs::create_dir_all(layout.lake_dir().join("year=2025/month=12/day=31")).unwrap();
        let parts: Vec<String> = layout
            .partitions()
            .unwrap()
            .iter()
            .map(|k| k.to_string())
            .collect();
        assert_eq!(
            parts,
            ["year=2025/month=12/day=31", "year=2026/month=01/day=01"]
        );
    }
}
