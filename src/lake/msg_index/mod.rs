//! The lake-wide msg_id index: in which partition each stored msg_id may be.
//!
//! A msg_id's partition follows from its create_time, so deduplicating within a partition
//! catches every resend of the same message. The same id with another create_time (a collector
//! that re-stamps a resend, a clock fixed in between) falls into another partition, and the lake
//! promises one copy per msg_id. Reading every partition's ids per run would make a nightly run
//! cost as much as the lake; instead ingest asks this index about each id new to its partition.
//!
//! The index maps a 64-bit hash (xxh64) of each stored id to its partition's day. It may say
//! more than the lake holds (a hash collision, a run that crashed before publishing, a partition
//! moved aside), never less: a hit is confirmed against the named partition's ids, a miss is
//! final. Every entry of a row is durable before the row is published ([`MsgIndex::sync`]),
//! so a crash at any point leaves it complete.
//!
//! On disk, `metadata/msg_index/`:
//! - `*.seg`: sorted, immutable [`segment`]s, read in place (a lookup touches a few pages);
//! - `*.log`: entries appended by a run ([`log`]), folded into a segment once there are enough.
//!
//! The files are owner-only ([`FILE_MODE`]): nothing but wxlake reads them.
//!
//! A run's additions land in its log; at the end of a run, logs holding 64 Ki entries or more
//! (or more than 8 logs) become one segment, and segments are merged when the small ones add up
//! to a quarter of the largest (or number more than 8): each entry is rewritten a bounded number
//! of times on average, so the work per run follows its new data, not the lake. An index
//! missing altogether (a lake written before it existed, or the directory removed) is rebuilt
//! from the lake's msg_id columns by the next ingest.

mod files;
pub mod log;
mod recent;
pub mod segment;
mod snapshot;
mod upkeep;

pub use files::FILE_MODE;
use files::*;
pub use snapshot::Snapshot;
pub use upkeep::{plan_merge, sort_dedup};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::Datelike;

use crate::error::Result;
use crate::failpoint;
use crate::fsutil::{create_dir_all_durable, remove_stale_temps};
use crate::lake::Layout;
use crate::partition::PartitionKey;
use log::LogWriter;
use recent::RecentTable;
use segment::Segment;

/// One id's hash and its partition's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    pub hash: u64,
    pub day: i32,
}

/// The index hash of a msg_id (stable: it is stored).
pub fn hash_id(id: &str) -> u64 {
    twox_hash::XxHash64::oneshot(0, id.as_bytes())
}

/// The index's name for a partition: its date as days from 0001-01-01.
pub fn day_of(key: PartitionKey) -> i32 {
    key.date().num_days_from_ce()
}

/// The partition of an index day, if it is a date.
pub fn key_of(day: i32) -> Option<PartitionKey> {
    chrono::NaiveDate::from_num_days_from_ce_opt(day).map(PartitionKey)
}

/// Entries appended to this run's log between syncs, at most (bounds their memory).
const PENDING_MAX: usize = 1 << 16;
/// Logs become a segment at the end of a run once they hold this many entries...
const LOG_ENTRIES_TO_SEGMENT: usize = 1 << 16;
/// ... or there are more than this many of them.
const MAX_LOGS: usize = 8;
/// Segments beside the largest before they are merged into one.
const MAX_SMALL_SEGMENTS: usize = 8;
/// Entries kept in memory for lookups (ids of partitions no longer loaded) before the logs are
/// written out as a segment in the middle of a run: as many as [`RecentTable`]'s largest table
/// (64 MiB) holds. A two-year backfill (3.6 M ids) then writes one segment at its end instead
/// of four in its middle that every new id is looked up in and that the end of the run merges
/// again (a table of a quarter the size did that: 5% more wall time).
const RECENT_MAX: usize = recent::MAX_ENTRIES;

/// The segments a run started with, shared with the normalizer threads: they ask the filters
/// whether an id may be stored, off the thread that deduplicates in file order. No segment of
/// it is removed before the run's end.
#[derive(Clone, Default)]
pub struct StoredFilter(Arc<Vec<Segment>>);

impl StoredFilter {
    /// False when no segment the run started with holds `hash`.
    pub fn may_hold(&self, hash: u64) -> bool {
        self.0.iter().any(|s| s.may_contain(hash))
    }
}

/// The index, open for a run (under the writer lock).
pub struct MsgIndex {
    dir: PathBuf,
    run_id: String,
    /// The segments at the start of the run.
    opened: StoredFilter,
    /// Segments written during the run.
    segments: Vec<Segment>,
    /// Entries of logs of earlier runs, and of this run's ids whose partition is no longer
    /// loaded (the caller hands them back with [`MsgIndex::remember`]).
    recent: RecentTable,
    /// Logs whose entries are in no segment yet: earlier runs' and this run's.
    logs: Vec<PathBuf>,
    /// Entries in `logs` (earlier runs' ones).
    old_log_entries: usize,
    log: Option<LogWriter>,
    pending: Vec<Entry>,
    segments_written: u32,
    /// [`RECENT_MAX`] (smaller in tests).
    recent_max: usize,
}

/// What [`MsgIndex::finish`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Upkeep {
    pub logs_folded: usize,
    pub segments_merged: usize,
}

impl MsgIndex {
    /// Open the index of `layout` for a run named `run_id`, building it from the lake if there
    /// is none (or it is unreadable).
    pub fn open(layout: &Layout, run_id: &str) -> Result<MsgIndex> {
        let dir = layout.msg_index_dir();
        create_dir_all_durable(&dir)?;
        remove_stale_temps(&dir)?;
        let mut index = MsgIndex {
            dir,
            run_id: run_id.to_string(),
            opened: StoredFilter::default(),
            segments: Vec::new(),
            recent: RecentTable::default(),
            logs: Vec::new(),
            old_log_entries: 0,
            log: None,
            pending: Vec::new(),
            segments_written: 0,
            recent_max: RECENT_MAX,
        };
        match index.load() {
            Ok(true) => {}
            Ok(false) => index.rebuild(layout, "no msg_id index yet")?,
            Err(e) => {
                tracing::warn!(error = %e, "the msg_id index is unreadable");
                index.rebuild(layout, "the msg_id index was unreadable")?;
            }
        }
        index.opened = StoredFilter(Arc::new(std::mem::take(&mut index.segments)));
        Ok(index)
    }

    /// The filter of the segments the run started with (see [`StoredFilter`]).
    pub fn stored_filter(&self) -> StoredFilter {
        self.opened.clone()
    }

    /// Map the segments and read the logs; false when there is no segment (no index).
    fn load(&mut self) -> Result<bool> {
        let files = list(&self.dir)?;
        for path in &files.segments {
            self.segments.push(Segment::open(path)?);
        }
        for path in &files.logs {
            let entries = log::read(path)?;
            self.old_log_entries += entries.len();
            for e in entries {
                self.recent.insert(e.hash, e.day);
            }
            self.logs.push(path.clone());
        }
        Ok(!self.segments.is_empty())
    }

    /// Replace whatever is in the index directory by one segment of every id the lake stores.
    fn rebuild(&mut self, layout: &Layout, why: &str) -> Result<()> {
        let started = Instant::now();
        let partitions = layout.partitions()?;
        if !partitions.is_empty() {
            tracing::info!(
                partitions = partitions.len(),
                "{why}: building it from the lake's msg_ids (once)"
            );
        }
        let mut entries = Vec::new();
        for key in &partitions {
            let day = day_of(*key);
            for file in layout.partition_files(*key)? {
                crate::lake::reader::for_each_msg_id(&file, |id| {
                    entries.push(Entry {
                        hash: hash_id(id),
                        day,
                    })
                })?;
            }
        }
        sort_dedup(&mut entries);
        let old = list(&self.dir)?;
        self.segments.clear();
        self.recent.clear();
        self.logs.clear();
        self.old_log_entries = 0;
        let segment = self.write_segment(entries.len(), || Ok(entries.iter().map(|e| Ok(*e))))?;
        self.segments.push(segment);
        for path in old.segments.iter().chain(&old.logs) {
            remove(path)?;
        }
        if !partitions.is_empty() {
            tracing::info!(
                ids = entries.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "built the msg_id index"
            );
        }
        Ok(())
    }

    /// Call `f` with every day in which an id of hash `hash` may be stored (a day may come more
    /// than once). `maybe_stored` is [`StoredFilter::may_hold`]`(hash)`, asked beforehand.
    pub fn days_of(&self, hash: u64, maybe_stored: bool, mut f: impl FnMut(i32)) {
        if maybe_stored {
            for s in self.opened.0.iter() {
                s.days_of(hash, &mut f);
            }
        }
        for s in &self.segments {
            s.days_of(hash, &mut f);
        }
        self.recent.days_of(hash, &mut f);
    }

    /// Start loading what [`MsgIndex::days_of`]`(hash, …)` will read from memory, so that the
    /// caller can ask for the rows ahead of the one it decides and not wait for each.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        self.recent.prefetch(hash);
    }

    /// Record that this run stores an id of hash `hash` in partition `day` (durable at the next
    /// [`MsgIndex::sync`]).
    pub fn add(&mut self, hash: u64, day: i32) -> Result<()> {
        self.pending.push(Entry { hash, day });
        if self.pending.len() >= PENDING_MAX {
            self.write_pending()?;
        }
        Ok(())
    }

    /// About `more` entries are still to be [remembered](MsgIndex::remember) in this run: the
    /// table that keeps them is made ready for them ahead ([`RecentTable::expect`]).
    pub fn expect_remembered(&mut self, more: usize) {
        let entries = self.recent.len().saturating_add(more).min(self.recent_max);
        self.recent.expect(entries);
    }

    /// Keep an entry this run added findable after its partition's ids leave memory. When the
    /// table is full ([`RECENT_MAX`]), the logs (which hold every entry added) are written out
    /// as a segment first.
    pub fn remember(&mut self, hash: u64, day: i32) -> Result<()> {
        if self.recent.len() >= self.recent_max {
            self.fold_logs()?;
        }
        self.recent.insert(hash, day);
        Ok(())
    }

    /// [`MsgIndex::remember`] every hash of `hashes` with `day`, each table bucket loaded a few
    /// entries ahead of its insert.
    pub fn remember_all(&mut self, hashes: &[u64], day: i32) -> Result<()> {
        const AHEAD: usize = 8;
        for (i, &hash) in hashes.iter().enumerate() {
            if let Some(&next) = hashes.get(i + AHEAD) {
                self.recent.prefetch(next);
            }
            self.remember(hash, day)?;
        }
        Ok(())
    }

    fn write_pending(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.log.is_none() {
            let path = self.dir.join(format!("log-{}.log", self.run_id));
            self.log = Some(LogWriter::create(&path)?);
            self.logs.push(path);
        }
        let log = self.log.as_mut().expect("just created");
        log.append(&self.pending)?;
        self.pending.clear();
        Ok(())
    }

    /// Make every entry added so far durable. Call before publishing the rows they describe.
    pub fn sync(&mut self) -> Result<()> {
        self.write_pending()?;
        // Entries may have been appended (by `add`, past PENDING_MAX) with nothing pending now.
        let Some(log) = self.log.as_mut().filter(|l| l.is_unsynced()) else {
            return Ok(());
        };
        log.sync()?;
        failpoint::hit("msg_index.synced");
        Ok(())
    }

    /// Entries in the logs (earlier runs' and this run's).
    fn log_entries(&self) -> usize {
        self.old_log_entries + self.log.as_ref().map_or(0, LogWriter::len)
    }

    /// Write every log's entries as one segment, then remove the logs.
    fn fold_logs(&mut self) -> Result<usize> {
        self.write_pending()?;
        if let Some(log) = &mut self.log {
            log.sync()?;
        }
        // Nothing is looked up while the logs are folded, and a failure ends the run: the
        // table's memory is the sort's, when it is large enough (a backfill's), else fresh.
        let mut scratch = self.recent.take_scratch();
        let mut fresh: Option<Vec<Entry>> = None;
        let logs = &self.logs;
        let (in_scratch, in_fresh) = (&mut scratch, &mut fresh);
        // This run's log counted its entries as it was written: when it is the only log, the
        // sort reads it once.
        let counted = match (&self.log, &logs[..]) {
            (Some(log), [only]) if only == log.path() && log.counts().total() == log.len() => {
                Some(log.counts())
            }
            _ => None,
        };
        let len = upkeep::sort_dedup_with(
            self.log_entries(),
            counted,
            |f| {
                logs.iter()
                    .try_for_each(|path| log::for_each(path, &mut *f))
            },
            move |len| match in_scratch.entries(len) {
                Some(room) => Some(room),
                None => Some(&mut in_fresh.insert(vec![Entry { hash: 0, day: 0 }; len])[..]),
            },
        )?;
        let entries: &[Entry] = match &fresh {
            Some(fresh) => &fresh[..len],
            None => scratch.entries(len).expect("sorted in it"),
        };
        let segment = self.write_segment(entries.len(), || Ok(entries.iter().map(|e| Ok(*e))))?;
        self.segments.push(segment);
        let folded = self.logs.len();
        self.log = None;
        for path in std::mem::take(&mut self.logs) {
            remove(&path)?;
        }
        self.old_log_entries = 0;
        Ok(folded)
    }

    /// Write a new segment (temp file, fsync, rename) and open it.
    fn write_segment<I: Iterator<Item = std::io::Result<Entry>>>(
        &mut self,
        upper_bound: usize,
        entries: impl Fn() -> std::io::Result<I>,
    ) -> Result<Segment> {
        let path = self.next_segment_path();
        publish_segment(&path, "msg_index.segment", upper_bound, entries)?;
        Segment::open(&path)
    }

    /// The name of the run's next segment.
    fn next_segment_path(&mut self) -> PathBuf {
        self.segments_written += 1;
        self.dir
            .join(format!("seg-{}-{}.seg", self.run_id, self.segments_written))
    }

    /// End-of-run upkeep: fold the logs into a segment and merge segments when due (see the
    /// module docs). Call once, last: the index answers nothing afterwards. The index stays
    /// complete whatever happens here: a new file is in place before the ones it replaces are
    /// removed.
    pub fn finish(&mut self) -> Result<Upkeep> {
        let mut upkeep = Upkeep::default();
        self.sync()?;
        if self.log_entries() >= LOG_ENTRIES_TO_SEGMENT || self.logs.len() > MAX_LOGS {
            upkeep.logs_folded = self.fold_logs()?;
        }
        let lens: Vec<usize> = (self.opened.0.iter().chain(&self.segments))
            .map(Segment::len)
            .collect();
        if let Some(merge) = plan_merge(&lens) {
            let path = self.next_segment_path();
            let all: Vec<&Segment> = self.opened.0.iter().chain(&self.segments).collect();
            let chosen: Vec<&Segment> = merge.iter().map(|&i| all[i]).collect();
            let upper = chosen.iter().map(|s| s.len()).sum();
            publish_segment(&path, "msg_index.merge", upper, || segment::merged(&chosen))?;
            let old: Vec<PathBuf> = chosen.iter().map(|s| s.path().to_path_buf()).collect();
            drop(chosen);
            drop(all);
            // Unmap before removing.
            self.opened = StoredFilter::default();
            self.segments.clear();
            for path in &old {
                remove(path)?;
            }
            upkeep.segments_merged = old.len();
        }
        Ok(upkeep)
    }
}

#[cfg(test)]
mod tests;
