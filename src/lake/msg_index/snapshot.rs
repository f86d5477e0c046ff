//! The whole index read into memory, for `verify`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lake::Layout;
use segment::Segment;

use super::*;

/// The whole index read into memory, for `verify` (which may run beside an ingest: a file
/// removed by a merge between listing and reading makes it list again).
pub struct Snapshot {
    entries: Vec<Entry>,
    pub segments: usize,
    pub logs: usize,
    /// Segments whose checksum does not match.
    pub damaged: Vec<PathBuf>,
}

impl Snapshot {
    /// `None` when the lake has no index yet.
    pub fn load(layout: &Layout) -> Result<Option<Snapshot>> {
        let dir = layout.msg_index_dir();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Snapshot::try_load(&dir) {
                Err(Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound && attempt < 5 =>
                {
                    continue;
                }
                other => return other,
            }
        }
    }

    fn try_load(dir: &Path) -> Result<Option<Snapshot>> {
        let files = list(dir)?;
        if files.segments.is_empty() {
            return Ok(None);
        }
        let mut snapshot = Snapshot {
            entries: Vec::new(),
            segments: files.segments.len(),
            logs: files.logs.len(),
            damaged: Vec::new(),
        };
        for path in &files.segments {
            let seg = Segment::open(path)?;
            if !seg.checksum_matches() {
                snapshot.damaged.push(path.clone());
            }
            for e in seg.stream() {
                snapshot
                    .entries
                    .push(e.map_err(|e| Error::io("read", path, e))?);
            }
        }
        for path in &files.logs {
            log::read_into(path, &mut snapshot.entries)?;
        }
        sort_dedup(&mut snapshot.entries);
        Ok(Some(snapshot))
    }

    pub fn contains(&self, e: Entry) -> bool {
        self.entries.binary_search(&e).is_ok()
    }
}
