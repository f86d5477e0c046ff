//! The dedup scope of a run: the whole lake, one copy per msg_id.
//!
//! A message's partition is fixed by its create_time, so nearly every duplicate is found in
//! the msg_ids of its own partition, read once per run the first time the partition is touched.
//! An id new to its partition is then looked up in the other partitions this run has loaded and
//! in the lake-wide [`MsgIndex`], which names the partitions that may hold it; those are read
//! and checked. The first copy wins: a later one with another create_time is a duplicate (and,
//! its fields differing, a conflicting one). The cost of a run follows its new data: the
//! partitions it writes, a few index pages per id, and a partition read only for a real hit.

use std::collections::BTreeSet;

use crate::commands::ingest::chunk_rows::RowMeta;
use crate::dedup::{Seen, SeenIds};
use crate::error::Result;
use crate::lake::Layout;
use crate::lake::msg_index::{self, MsgIndex, StoredFilter, day_of, hash_id, key_of};
use crate::lake::reader::for_each_msg_id;
use crate::partition::PartitionKey;

/// What [`LakeIds::check_insert`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// First copy: recorded, to be written.
    New,
    /// A copy of an id partition `of` holds; `first_hash` is the first copy's row hash
    /// ([`UNKNOWN_HASH`](crate::dedup::UNKNOWN_HASH) for a stored copy, compared later against the stored row).
    Duplicate { of: PartitionKey, first_hash: u32 },
}

/// Where the msg_ids a partition stores come from: the lake's files ([`Layout`]), or, in tests,
/// memory. The only I/O of the dedup decision.
pub trait StoredIds {
    /// Insert every msg_id partition `key` stores into `seen`; returns the rows read.
    fn load_ids(&mut self, key: PartitionKey, seen: &mut SeenIds) -> Result<u64>;
}

impl StoredIds for Layout {
    fn load_ids(&mut self, key: PartitionKey, seen: &mut SeenIds) -> Result<u64> {
        let mut rows = 0;
        for file in self.partition_files(key)? {
            rows += for_each_msg_id(&file, |id| seen.insert_stored(id))?;
        }
        Ok(rows)
    }
}

/// Seen-sets of the partitions loaded so far, and the index for the rest of the lake.
pub struct LakeIds {
    partitions: Vec<(PartitionKey, SeenIds)>,
    /// Where the last lookup found its partition (rows come in runs of one partition).
    last: usize,
    /// The id hashes of every partition in memory but `biggest` (a few stale ones too): an id
    /// not in it is in none of them, so a new id is looked up in one set, not in each
    /// partition's (with a group of files in memory, that was ~4% of a backfill's time).
    others: rustc_hash::FxHashSet<u64>,
    /// The partition `others` leaves out: the largest when it was chosen, so `others` stays
    /// small when one day holds nearly every id (a million-message day).
    biggest: Option<PartitionKey>,
    index: MsgIndex,
}

impl LakeIds {
    pub fn new(index: MsgIndex) -> Self {
        LakeIds {
            partitions: Vec::new(),
            last: 0,
            others: Default::default(),
            biggest: None,
            index,
        }
    }

    /// Note that partition `key` holds an id of hash `id_hash`.
    fn note(&mut self, key: PartitionKey, id_hash: u64) {
        if self.biggest != Some(key) {
            self.others.insert(id_hash);
            // Another partition outgrew the one left out (it was the first loaded, say, and
            // held a few late arrivals): leave out the biggest again.
            if self.others.len().is_multiple_of(65_536) {
                let biggest = self
                    .partitions
                    .iter()
                    .find(|(k, _)| Some(*k) == self.biggest);
                if biggest.is_none_or(|(_, seen)| self.others.len() > 2 * seen.len()) {
                    self.rebuild_others();
                }
            }
        }
    }

    /// Choose `biggest` again and rebuild `others` from the partitions in memory.
    fn rebuild_others(&mut self) {
        self.biggest = self
            .partitions
            .iter()
            .max_by_key(|(_, seen)| seen.len())
            .map(|(k, _)| *k);
        self.others.clear();
        for (k, seen) in &self.partitions {
            if Some(*k) != self.biggest {
                seen.for_each_id(|id| {
                    self.others.insert(hash_id(id));
                });
            }
        }
    }

    /// Where `key`'s seen-set is, reading the partition's stored msg_ids the first time.
    fn load(&mut self, stored: &mut impl StoredIds, key: PartitionKey) -> Result<usize> {
        if self
            .partitions
            .get(self.last)
            .is_some_and(|(k, _)| *k == key)
        {
            return Ok(self.last);
        }
        if let Some(at) = self.partitions.iter().position(|(k, _)| *k == key) {
            self.last = at;
            return Ok(at);
        }
        let mut seen = SeenIds::new();
        let rows = stored.load_ids(key, &mut seen)?;
        tracing::debug!(partition = %key, rows, ids = seen.len(), "loaded stored msg_ids");
        if self.biggest.is_none() {
            self.biggest = Some(key);
        } else {
            seen.for_each_id(|id| {
                self.others.insert(hash_id(id));
            });
        }
        self.partitions.push((key, seen));
        self.last = self.partitions.len() - 1;
        Ok(self.last)
    }

    /// Record `id` (whose row's hashes `meta` holds) as a row of partition `key` unless the
    /// lake or this run already has it, in any partition.
    pub fn check_insert(
        &mut self,
        stored: &mut impl StoredIds,
        key: PartitionKey,
        id: &str,
        meta: RowMeta,
    ) -> Result<Verdict> {
        let RowMeta {
            hash,
            id_hash,
            maybe_stored,
            ..
        } = meta;
        debug_assert_eq!(id_hash, hash_id(id));
        let at = self.load(stored, key)?;
        if let Seen::Duplicate { first_hash } = self.partitions[at].1.check_insert(id, hash) {
            return Ok(Verdict::Duplicate {
                of: key,
                first_hash,
            });
        }
        if let Some(found) = self.elsewhere(stored, key, id, id_hash, maybe_stored)? {
            let at = self.load(stored, key)?;
            self.partitions[at].1.remove(id);
            return Ok(found);
        }
        self.note(key, id_hash);
        self.index.add(id_hash, day_of(key))?;
        Ok(Verdict::New)
    }

    /// The copy of `id` in a partition other than `key`, if there is one.
    fn elsewhere(
        &mut self,
        stored: &mut impl StoredIds,
        key: PartitionKey,
        id: &str,
        id_hash: u64,
        maybe_stored: bool,
    ) -> Result<Option<Verdict>> {
        // The biggest partition is looked up directly, the others only if `others` may hold
        // the id.
        let others = self.others.contains(&id_hash);
        for (k, seen) in &self.partitions {
            if *k != key
                && (others || Some(*k) == self.biggest)
                && let Some(first_hash) = seen.get(id)
            {
                return Ok(Some(Verdict::Duplicate { of: *k, first_hash }));
            }
        }
        let mut candidates: Vec<PartitionKey> = Vec::new();
        self.index.days_of(id_hash, maybe_stored, |day| {
            if let Some(k) = key_of(day)
                && k != key
                && !candidates.contains(&k)
                && !self.partitions.iter().any(|(p, _)| *p == k)
            {
                candidates.push(k);
            }
        });
        for k in candidates {
            let at = self.load(stored, k)?;
            if let Some(first_hash) = self.partitions[at].1.get(id) {
                return Ok(Some(Verdict::Duplicate { of: k, first_hash }));
            }
            tracing::debug!(partition = %k, "msg_id index hit not confirmed (a stale entry or a hash collision)");
        }
        Ok(None)
    }

    /// See [`MsgIndex::stored_filter`].
    pub fn stored_filter(&self) -> StoredFilter {
        self.index.stored_filter()
    }

    /// Make the index entries of every row recorded so far durable: call before publishing.
    pub fn sync(&mut self) -> Result<()> {
        self.index.sync()
    }

    /// Forget every partition not in `keep` (they are reloaded from the lake if touched
    /// again); the ids this run added to them stay findable through the index.
    pub fn retain(&mut self, keep: &BTreeSet<PartitionKey>) {
        let index = &mut self.index;
        self.partitions.retain(|(k, seen)| {
            if keep.contains(k) {
                return true;
            }
            let day = day_of(*k);
            seen.for_each_added(|id| index.remember(hash_id(id), day));
            false
        });
        self.last = 0;
        self.rebuild_others();
    }

    /// End-of-run upkeep of the index (see [`MsgIndex::finish`]).
    pub fn finish(&mut self) -> Result<msg_index::Upkeep> {
        // The seen-sets are done with; free them before the upkeep needs its memory.
        self.partitions = Vec::new();
        self.others = Default::default();
        self.index.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(day: u32) -> PartitionKey {
        PartitionKey(chrono::NaiveDate::from_ymd_opt(2026, 1, day).unwrap())
    }

    fn meta(id: &str, hash: u32) -> RowMeta {
        RowMeta {
            line: 1,
            hash,
            id_hash: hash_id(id),
            maybe_stored: true,
        }
    }

    fn ids(dir: &std::path::Path) -> (Layout, LakeIds) {
        // (A Layout reads the partitions' ids from their files: none here.)
        let layout = Layout::new(dir);
        let index = MsgIndex::open(&layout, "test").unwrap();
        (layout.clone(), LakeIds::new(index))
    }

    #[test]
    fn the_first_copy_wins_across_partitions_within_a_run() {
        let dir = tempfile::tempdir().unwrap();
        let (layout, mut ids) = ids(dir.path());
        assert_eq!(
            ids.check_insert(&mut layout.clone(), key(1), "42", meta("42", 7))
                .unwrap(),
            Verdict::New
        );
        assert_eq!(
            ids.check_insert(&mut layout.clone(), key(3), "42", meta("42", 8))
                .unwrap(),
            Verdict::Duplicate {
                of: key(1),
                first_hash: 7
            }
        );
        // The later copy was not recorded in its partition: a third copy is still a copy of
        // the first.
        assert_eq!(
            ids.check_insert(&mut layout.clone(), key(3), "42", meta("42", 8))
                .unwrap(),
            Verdict::Duplicate {
                of: key(1),
                first_hash: 7
            }
        );
        assert_eq!(
            ids.check_insert(&mut layout.clone(), key(3), "43", meta("43", 8))
                .unwrap(),
            Verdict::New
        );
    }

    #[test]
    fn copies_are_found_in_every_partition_in_memory_whichever_is_left_out_of_the_prefilter() {
        // `others` leaves out one partition (the biggest): a copy must be found from and in
        // each of them, also after the partition left out changes (when another outgrows it)
        // and after a retain.
        let dir = tempfile::tempdir().unwrap();
        let (layout, mut ids) = ids(dir.path());
        let insert = |ids: &mut LakeIds, day: u32, id: &str| {
            ids.check_insert(&mut layout.clone(), key(day), id, meta(id, day))
                .unwrap()
        };
        // Day 1 is loaded first (left out), with one id; day 2 then gets 200,000.
        assert_eq!(insert(&mut ids, 1, "a"), Verdict::New);
        for i in 0..200_000 {
            assert_eq!(insert(&mut ids, 2, &format!("b{i}")), Verdict::New);
        }
        assert_eq!(
            ids.biggest,
            Some(key(2)),
            "the left-out partition follows the biggest"
        );
        assert!(ids.others.len() < 1_000, "{}", ids.others.len());
        assert_eq!(insert(&mut ids, 3, "c"), Verdict::New);
        let dup = |of: u32| Verdict::Duplicate {
            of: key(of),
            first_hash: of,
        };
        for (day, id, of) in [
            (3, "a", 1),
            (1, "b7", 2),
            (3, "b199999", 2),
            (2, "c", 3),
            (1, "c", 3),
        ] {
            assert_eq!(insert(&mut ids, day, id), dup(of), "{id} into day {day}");
        }
        ids.retain(&BTreeSet::from([key(1), key(3)]));
        assert_eq!(insert(&mut ids, 1, "c"), dup(3));
        assert_eq!(insert(&mut ids, 3, "a"), dup(1));
    }

    #[test]
    fn an_index_hit_is_confirmed_against_the_partition_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let (layout, mut ids) = ids(dir.path());
        assert_eq!(
            ids.check_insert(&mut layout.clone(), key(1), "42", meta("42", 7))
                .unwrap(),
            Verdict::New
        );
        ids.retain(&BTreeSet::from([key(2)]));
        // key(1) is no longer loaded; the index names it for "42", but its row was never
        // published (as after a crash), so reading the partition does not confirm the hit.
        assert_eq!(
            ids.check_insert(&mut layout.clone(), key(2), "42", meta("42", 9))
                .unwrap(),
            Verdict::New
        );
        assert_eq!(
            ids.check_insert(&mut layout.clone(), key(2), "42", meta("42", 9))
                .unwrap(),
            Verdict::Duplicate {
                of: key(2),
                first_hash: 9
            }
        );
    }
}
