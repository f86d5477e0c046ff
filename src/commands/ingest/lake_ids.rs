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
use crate::dedup::{NarrowTable, Seen, SeenIds};
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

/// One partition in memory: its seen-set and, unless it is the one `others` leaves out, the
/// index hashes of its ids (the ones loaded from the lake, then the ones this run added), so
/// that neither `others` nor the index has to format and hash its ids again (on the two-year
/// backfill, rehashing the ids of every partition leaving memory was ~3% of the run).
struct Loaded {
    key: PartitionKey,
    seen: SeenIds,
    hashes: Option<Hashes>,
}

/// The index hashes of a partition's ids: `all[..stored]` loaded from the lake, the rest added.
struct Hashes {
    all: Vec<u64>,
    stored: usize,
}

impl Loaded {
    /// Call `f` with the hash of every id in the partition.
    fn for_each_hash(&self, mut f: impl FnMut(u64)) {
        match &self.hashes {
            Some(h) => h.all.iter().copied().for_each(f),
            None => self.seen.for_each_id(|id| f(hash_id(id))),
        }
    }

    /// Call `f` with the hash of every id this run added to the partition.
    fn for_each_added_hash(&self, mut f: impl FnMut(u64)) {
        match &self.hashes {
            Some(h) => h.all[h.stored..].iter().copied().for_each(f),
            None => self.seen.for_each_added(|id| f(hash_id(id))),
        }
    }
}

/// `others` is checked for stale hashes and a new biggest partition every time it grows by
/// this many.
const OTHERS_CHECK_EVERY: usize = 65_536;

/// Seen-sets of the partitions loaded so far, and the index for the rest of the lake.
pub struct LakeIds {
    partitions: Vec<Loaded>,
    /// Where the last lookup found its partition (rows come in runs of one partition).
    last: usize,
    /// The id hashes of every partition in memory but `biggest`, and of some that left memory
    /// since it was last rebuilt: an id not in it is in none of them, so a new id is looked up
    /// in one set, not in each partition's (with a group of files in memory, that was ~4% of a
    /// backfill's time). A stale hash costs a few needless lookups, and only for that very id.
    /// A table of our own, not a hash set: a new id of another partition than the biggest
    /// missed the cache here (two-thirds of `check_insert`'s samples on the two-year backfill),
    /// and its slot can be prefetched with the rows ahead ([`LakeIds::prefetch`]). The values
    /// are unused.
    others: NarrowTable,
    /// `others` is checked again once it holds this many hashes.
    check_others_at: usize,
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
            check_others_at: OTHERS_CHECK_EVERY,
            biggest: None,
            index,
        }
    }

    /// Note that the partition at `at` now holds the id of hash `id_hash`.
    fn note(&mut self, at: usize, id_hash: u64) {
        let loaded = &mut self.partitions[at];
        if let Some(h) = &mut loaded.hashes {
            h.all.push(id_hash);
        }
        if self.biggest != Some(loaded.key) {
            self.others.check_insert(id_hash, 0);
            // Another partition outgrew the one left out (it was the first loaded, say, and
            // held a few late arrivals), or hashes of partitions gone from memory pile up:
            // leave out the biggest again and drop the stale hashes.
            if self.others.len() >= self.check_others_at {
                let biggest = self.partitions.iter().find(|p| Some(p.key) == self.biggest);
                if biggest.is_none_or(|p| self.others.len() > 2 * p.seen.len()) {
                    self.rebuild_others();
                }
                self.check_others_at = self.others.len() + OTHERS_CHECK_EVERY;
            }
        }
    }

    /// Choose `biggest` again and rebuild `others` from the partitions in memory.
    fn rebuild_others(&mut self) {
        let biggest = self
            .partitions
            .iter()
            .enumerate()
            .max_by_key(|(_, p)| p.seen.len())
            .map(|(at, _)| at);
        self.biggest = biggest.map(|at| self.partitions[at].key);
        self.others = NarrowTable::default();
        let total = (self.partitions.iter().enumerate())
            .filter(|(at, _)| Some(*at) != biggest)
            .map(|(_, p)| p.seen.len())
            .sum();
        self.others.expect(total);
        for (at, p) in self.partitions.iter().enumerate() {
            if Some(at) != biggest {
                p.for_each_hash(|h| {
                    self.others.check_insert(h, 0);
                });
            }
        }
        // The biggest is looked up directly: its hashes are not needed while it stays so.
        if let Some(at) = biggest {
            self.partitions[at].hashes = None;
        }
    }

    /// Where `key`'s seen-set is, reading the partition's stored msg_ids the first time.
    fn load(&mut self, stored: &mut impl StoredIds, key: PartitionKey) -> Result<usize> {
        if self.partitions.get(self.last).is_some_and(|p| p.key == key) {
            return Ok(self.last);
        }
        if let Some(at) = self.partitions.iter().position(|p| p.key == key) {
            self.last = at;
            return Ok(at);
        }
        let mut seen = SeenIds::new();
        let rows = stored.load_ids(key, &mut seen)?;
        tracing::debug!(partition = %key, rows, ids = seen.len(), "loaded stored msg_ids");
        let hashes = if self.biggest.is_none() {
            self.biggest = Some(key);
            None
        } else {
            let mut all = Vec::with_capacity(seen.len());
            seen.for_each_id(|id| all.push(hash_id(id)));
            let total = self.others.len() + all.len();
            self.others.expect(total);
            all.iter().for_each(|&h| {
                self.others.check_insert(h, 0);
            });
            Some(Hashes {
                stored: all.len(),
                all,
            })
        };
        self.partitions.push(Loaded { key, seen, hashes });
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
        if let Seen::Duplicate { first_hash } = self.partitions[at].seen.check_insert(id, hash) {
            return Ok(Verdict::Duplicate {
                of: key,
                first_hash,
            });
        }
        if let Some(found) = self.elsewhere(stored, key, id, id_hash, maybe_stored)? {
            let at = self.load(stored, key)?;
            self.partitions[at].seen.remove(id);
            return Ok(found);
        }
        // (Looking elsewhere may have loaded partitions, but never removes one.)
        self.note(at, id_hash);
        self.index.add(id_hash, day_of(key))?;
        Ok(Verdict::New)
    }

    /// About `more` new ids are still to come for partition `key`: its seen-set grows toward
    /// the size that holds them ([`SeenIds::expect`]). Only for the partition of the last row
    /// decided (nearly always the only one of a chunk): finding another among hundreds of
    /// loaded partitions would cost a cache miss each.
    pub fn expect_more(&mut self, key: PartitionKey, more: usize) {
        if let Some(p) = self.partitions.get_mut(self.last)
            && p.key == key
        {
            let total = p.seen.len().saturating_add(more);
            p.seen.expect(total);
        }
    }

    /// About `more` new ids are still to come in this run, in partitions not loaded yet: the
    /// index's table for the ids of partitions that leave memory is made ready for them.
    pub fn expect_run(&mut self, more: usize) {
        self.index.expect_remembered(more);
    }

    /// Start loading what deciding a row of id hash `id_hash` will read from the index, so
    /// that deciding a chunk's rows does not wait for each one's memory in turn.
    #[inline]
    pub fn prefetch(&self, id: &str, id_hash: u64) {
        self.index.prefetch(id_hash);
        self.others.prefetch(id_hash);
        // The partition of the last row decided: nearly always that of the rows ahead too.
        if let Some(p) = self.partitions.get(self.last) {
            p.seen.prefetch(id);
        }
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
        let others = self.others.get(id_hash).is_some();
        for p in &self.partitions {
            if p.key != key
                && (others || Some(p.key) == self.biggest)
                && let Some(first_hash) = p.seen.get(id)
            {
                return Ok(Some(Verdict::Duplicate {
                    of: p.key,
                    first_hash,
                }));
            }
        }
        let mut candidates: Vec<PartitionKey> = Vec::new();
        self.index.days_of(id_hash, maybe_stored, |day| {
            if let Some(k) = key_of(day)
                && k != key
                && !candidates.contains(&k)
                && !self.partitions.iter().any(|p| p.key == k)
            {
                candidates.push(k);
            }
        });
        for k in candidates {
            let at = self.load(stored, k)?;
            if let Some(first_hash) = self.partitions[at].seen.get(id) {
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
    pub fn retain(&mut self, keep: &BTreeSet<PartitionKey>) -> Result<()> {
        let index = &mut self.index;
        let mut biggest_left = false;
        let mut failed = None;
        self.partitions.retain(|p| {
            if keep.contains(&p.key) {
                return true;
            }
            if failed.is_none() {
                let mut added = Vec::new();
                p.for_each_added_hash(|h| added.push(h));
                if let Err(e) = index.remember_all(&added, day_of(p.key)) {
                    failed = Some(e);
                }
            }
            biggest_left |= Some(p.key) == self.biggest;
            false
        });
        self.last = 0;
        // Every partition left holds its hashes in `others`; the next one loaded is left out.
        // The hashes of the partitions gone stay until `others` is next checked.
        if biggest_left {
            self.biggest = None;
        }
        failed.map_or(Ok(()), Err)
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

    /// Check `id` in as a row of `day` whose row hash is the day's number.
    fn insert(layout: &Layout, ids: &mut LakeIds, day: u32, id: &str) -> Verdict {
        ids.check_insert(&mut layout.clone(), key(day), id, meta(id, day))
            .unwrap()
    }

    /// A copy of a row checked in with [`insert`] into `of`.
    fn dup(of: u32) -> Verdict {
        Verdict::Duplicate {
            of: key(of),
            first_hash: of,
        }
    }

    /// The days the index names for `id`.
    fn days_of(ids: &LakeIds, id: &str) -> Vec<i32> {
        let mut days = Vec::new();
        ids.index.days_of(hash_id(id), true, |d| days.push(d));
        days
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
        // Day 1 is loaded first (left out), with one id; day 2 then gets 200,000.
        assert_eq!(insert(&layout, &mut ids, 1, "a"), Verdict::New);
        for i in 0..200_000 {
            assert_eq!(insert(&layout, &mut ids, 2, &format!("b{i}")), Verdict::New);
        }
        assert_eq!(
            ids.biggest,
            Some(key(2)),
            "the left-out partition follows the biggest"
        );
        assert!(ids.others.len() < 1_000, "{}", ids.others.len());
        assert_eq!(insert(&layout, &mut ids, 3, "c"), Verdict::New);
        for (day, id, of) in [
            (3, "a", 1),
            (1, "b7", 2),
            (3, "b199999", 2),
            (2, "c", 3),
            (1, "c", 3),
        ] {
            assert_eq!(
                insert(&layout, &mut ids, day, id),
                dup(of),
                "{id} into day {day}"
            );
        }
        ids.retain(&BTreeSet::from([key(1), key(3)])).unwrap();
        assert_eq!(insert(&layout, &mut ids, 1, "c"), dup(3));
        assert_eq!(insert(&layout, &mut ids, 3, "a"), dup(1));
    }

    #[test]
    fn hashes_of_partitions_gone_from_memory_do_not_pile_up_in_the_prefilter() {
        // A backfill: one partition at a time, each retained away after its day. `others`
        // keeps hashes of partitions gone until it is checked, then drops them; the index
        // names the day of every id added (the rows were never published here, so a copy of
        // a day gone from memory is not confirmed: see the test below).
        let dir = tempfile::tempdir().unwrap();
        let (layout, mut ids) = ids(dir.path());
        for day in 1..=28 {
            for i in 0..10_000 {
                assert_eq!(
                    insert(&layout, &mut ids, day, &format!("{day}-{i}")),
                    Verdict::New
                );
            }
            // One id of another shape per day, looked up by name below.
            assert_eq!(
                insert(&layout, &mut ids, day, &format!("late-{day}")),
                Verdict::New
            );
            ids.retain(&BTreeSet::from([key(day)])).unwrap();
            assert!(
                ids.others.len() <= 2 * OTHERS_CHECK_EVERY + 10_000,
                "day {day}: {} hashes",
                ids.others.len()
            );
        }
        for (id, day) in [("1-5", 1), ("17-9999", 17), ("late-9", 9), ("27-0", 27)] {
            assert_eq!(days_of(&ids, id), [day_of(key(day))], "{id}");
        }
        assert_eq!(insert(&layout, &mut ids, 27, "28-0"), dup(28));
        assert_eq!(insert(&layout, &mut ids, 3, "late-28"), dup(28));
    }

    #[test]
    fn copies_are_found_after_the_partition_left_out_of_the_prefilter_leaves_memory() {
        let dir = tempfile::tempdir().unwrap();
        let (layout, mut ids) = ids(dir.path());
        assert_eq!(insert(&layout, &mut ids, 1, "a"), Verdict::New);
        assert_eq!(ids.biggest, Some(key(1)));
        assert_eq!(insert(&layout, &mut ids, 2, "b"), Verdict::New);
        ids.retain(&BTreeSet::from([key(2)])).unwrap();
        assert_eq!(ids.biggest, None);
        // Day 3 is loaded with no partition left out: it becomes the one left out.
        assert_eq!(insert(&layout, &mut ids, 3, "c"), Verdict::New);
        assert_eq!(ids.biggest, Some(key(3)));
        assert_eq!(insert(&layout, &mut ids, 3, "b"), dup(2));
        assert_eq!(insert(&layout, &mut ids, 2, "c"), dup(3));
        assert_eq!(insert(&layout, &mut ids, 4, "b"), dup(2));
        assert_eq!(insert(&layout, &mut ids, 4, "c"), dup(3));
        // Day 1 left memory: the index names it for "a" (its row is not published here, so
        // the copy is not confirmed).
        assert_eq!(days_of(&ids, "a"), [day_of(key(1))]);
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
        ids.retain(&BTreeSet::from([key(2)])).unwrap();
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
