//! The index of *settled* raw files: fully ingested files of past days, with the size, mtime and
//! inode they had then.
//!
//! A lake with years of raw files would otherwise open every checkpoint on every run just to learn
//! that nothing changed. With the index, a run needs one `stat` per settled raw file and no
//! checkpoint reads. It is only a shortcut: written after the checkpoints it summarizes, never
//! trusted when the file's stat differs, and rebuilt from the checkpoints when missing or
//! unreadable, so a stale or lost index costs time, never correctness.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checkpoint::FileStat;
use crate::error::Result;
use crate::fsutil::write_atomic;
use crate::lake::Layout;

/// `metadata/raw_index.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SettledIndex {
    /// Raw file name → its stat when it was settled.
    files: BTreeMap<String, FileStat>,
    #[serde(skip)]
    dirty: bool,
}

impl SettledIndex {
    /// Load the index; an absent or unreadable one is empty (and rebuilt as files are checked).
    pub fn load(layout: &Layout) -> Self {
        let path = layout.settled_index_path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable raw file index; it will be rebuilt");
                SettledIndex::default()
            }),
            Err(_) => SettledIndex::default(),
        }
    }

    /// Whether `name` was settled with exactly this stat.
    pub fn is_settled(&self, name: &str, stat: &FileStat) -> bool {
        self.files.get(name) == Some(stat)
    }

    /// Record that `name` is fully ingested at `stat`.
    pub fn settle(&mut self, name: &str, stat: FileStat) {
        if self.files.get(name) != Some(&stat) {
            self.files.insert(name.to_string(), stat);
            self.dirty = true;
        }
    }

    /// Forget `name` (it changed, or is not fully ingested).
    pub fn unsettle(&mut self, name: &str) {
        self.dirty |= self.files.remove(name).is_some();
    }

    /// Write the index if it changed. Call only after the checkpoints it summarizes are saved.
    pub fn save(&mut self, layout: &Layout) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let json = serde_json::to_vec(self).expect("serializes");
        write_atomic(&layout.settled_index_path(), &json, "raw_index")?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_only_matches_the_same_stat() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        std::fs::create_dir_all(layout.metadata_dir()).unwrap();
        let stat = FileStat {
            size: 10,
            mtime_ns: 5,
            inode: 7,
        };
        let mut index = SettledIndex::load(&layout);
        index.settle("2026-01-01.jsonl", stat);
        index.save(&layout).unwrap();
        let index = SettledIndex::load(&layout);
        assert!(index.is_settled("2026-01-01.jsonl", &stat));
        assert!(!index.is_settled("2026-01-01.jsonl", &FileStat { size: 11, ..stat }));
        assert!(!index.is_settled("2026-01-02.jsonl", &stat));
        std::fs::write(layout.settled_index_path(), "{").unwrap();
        assert!(!SettledIndex::load(&layout).is_settled("2026-01-01.jsonl", &stat));
    }
}
