//! The seen-set's table of ids below 2^64 (nearly every msg_id) with their row hash.
//!
//! Why not hashbrown: at a million ids in one partition the table is tens of megabytes, and
//! nearly every new id missed the cache on the thread that deduplicates in file order (4% of a
//! million-message day). hashbrown cannot say where an id will be before it is looked up; here an
//! id's home slot is a function of the id alone (Fibonacci hashing), so the caller prefetches the
//! slots of the rows ahead of the one it decides ([`NarrowTable::prefetch`]). Open addressing
//! with linear probing over 12-byte slots (the id as two halves and the hash), at most 70% full;
//! removal shifts the following entries back, so no tombstones build up.

/// The marker of an empty slot; the id `u64::MAX` itself is held aside.
const EMPTY: u64 = u64::MAX;

/// The smallest table, and how full it may be before it doubles (in tenths).
const MIN_SLOTS: usize = 16;
const MAX_LOAD_TENTHS: usize = 7;

/// The most a growth toward an expected size multiplies the doubled size by.
const EXPECTED_STEP: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The id's high and low 32 bits: 12-byte slots with the hash.
    id: [u32; 2],
    hash: u32,
}

impl Slot {
    const EMPTY: Slot = Slot {
        id: [u32::MAX, u32::MAX],
        hash: 0,
    };

    fn id(&self) -> u64 {
        u64::from(self.id[0]) << 32 | u64::from(self.id[1])
    }

    fn new(id: u64, hash: u32) -> Slot {
        Slot {
            id: [(id >> 32) as u32, id as u32],
            hash,
        }
    }
}

/// Ids below 2^64 with a `u32` each (the row hash of their first copy).
#[derive(Debug, Default)]
pub struct NarrowTable {
    slots: Vec<Slot>,
    /// 64 − log2(slots.len()).
    shift: u32,
    len: usize,
    /// The value of id `u64::MAX`, which cannot be stored in a slot.
    max_id: Option<u32>,
    /// How many ids the caller expects the table to end with ([`NarrowTable::expect`]).
    expected: usize,
}

impl NarrowTable {
    pub fn len(&self) -> usize {
        self.len + usize::from(self.max_id.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn home(&self, id: u64) -> usize {
        (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The slot holding `id`, or the empty slot where it would go.
    fn find(&self, id: u64) -> (usize, bool) {
        let mask = self.mask();
        let mut i = self.home(id);
        loop {
            let found = self.slots[i].id();
            if found == id {
                return (i, true);
            }
            if found == EMPTY {
                return (i, false);
            }
            i = (i + 1) & mask;
        }
    }

    /// Start loading the memory a lookup of `id` will read first.
    #[inline]
    pub fn prefetch(&self, id: u64) {
        if self.slots.is_empty() {
            return;
        }
        let slot: *const Slot = &self.slots[self.home(id)];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint; it reads nothing and cannot fault.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(slot.cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    /// Insert `hash` under `id` unless present; the value already there if it was.
    pub fn check_insert(&mut self, id: u64, hash: u32) -> Option<u32> {
        if id == EMPTY {
            return match self.max_id {
                Some(h) => Some(h),
                None => {
                    self.max_id = Some(hash);
                    None
                }
            };
        }
        if (self.len + 1) * 10 > self.slots.len() * MAX_LOAD_TENTHS {
            self.grow();
        }
        let (i, found) = self.find(id);
        if found {
            return Some(self.slots[i].hash);
        }
        self.slots[i] = Slot::new(id, hash);
        self.len += 1;
        None
    }

    pub fn get(&self, id: u64) -> Option<u32> {
        if id == EMPTY {
            return self.max_id;
        }
        if self.slots.is_empty() {
            return None;
        }
        let (i, found) = self.find(id);
        found.then(|| self.slots[i].hash)
    }

    /// Forget `id`; whether it was present.
    pub fn remove(&mut self, id: u64) -> bool {
        if id == EMPTY {
            return self.max_id.take().is_some();
        }
        if self.slots.is_empty() {
            return false;
        }
        let (mut hole, found) = self.find(id);
        if !found {
            return false;
        }
        // Shift back every entry after the hole that may sit there: one whose home is not
        // between the hole and its slot (cyclically).
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let next = self.slots[j].id();
            if next == EMPTY {
                break;
            }
            let home = self.home(next);
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots[hole] = self.slots[j];
                hole = j;
            }
        }
        self.slots[hole] = Slot::EMPTY;
        self.len -= 1;
        true
    }

    /// Every (id, value), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.id() != EMPTY)
            .map(|s| (s.id(), s.hash))
            .chain(self.max_id.map(|h| (EMPTY, h)))
    }

    /// The caller expects about `total` ids in all: the next growths go toward a table that
    /// holds them (by up to [`EXPECTED_STEP`] times the doubled size each), instead of doubling
    /// through every size between. On this machine kind fresh memory costs ~2 ms a megabyte
    /// (the kernel zeroing it), and a million-message day's doublings touched 48 MB where its
    /// last table is 25.
    pub fn expect(&mut self, total: usize) {
        self.expected = total;
    }

    fn grow(&mut self) {
        let doubled = (self.slots.len() * 2).max(MIN_SLOTS);
        let for_expected = (self.expected.saturating_mul(10) / MAX_LOAD_TENTHS + 1)
            .checked_next_power_of_two()
            .unwrap_or(doubled);
        // At most EXPECTED_STEP times the doubled size at once: an expectation that does not
        // come true (its rows went elsewhere) wastes a bounded multiple of what is held.
        let slots = doubled.max(for_expected.min(doubled * EXPECTED_STEP));
        let old = std::mem::replace(&mut self.slots, vec![Slot::EMPTY; slots]);
        self.shift = 64 - slots.trailing_zeros();
        let mask = self.mask();
        for s in old.into_iter().filter(|s| s.id() != EMPTY) {
            let mut i = self.home(s.id());
            while self.slots[i].id() != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn an_expected_total_skips_the_doublings_in_between() {
        let mut t = NarrowTable::default();
        t.expect(100_000);
        assert_eq!(t.check_insert(5, 7), None);
        // 100,000 ids at 70% need 142,858 slots (2^18), but a growth goes at most to 64 times
        // the doubled size: 16 -> 2^10 slots, then (at 717 ids) 2^17, then 2^18, where it stays
        // while the table holds what was expected.
        let mut sizes = vec![t.slots.len()];
        for id in 0..100_000u64 {
            t.check_insert(id * 3, id as u32);
            if sizes.last() != Some(&t.slots.len()) {
                sizes.push(t.slots.len());
            }
        }
        assert_eq!(sizes, [1 << 10, 1 << 17, 1 << 18]);
        assert_eq!(t.get(5), Some(7));
        assert_eq!(t.get(299_997), Some(99_999));
        // Past the expectation it doubles again.
        for id in 100_000..200_000u64 {
            t.check_insert(id * 3, 0);
        }
        assert_eq!(t.slots.len(), 1 << 19);
        assert_eq!(t.len(), 200_001);
    }

    #[test]
    fn slots_are_twelve_bytes_and_the_table_stays_under_seventy_percent() {
        assert_eq!(std::mem::size_of::<Slot>(), 12);
        let mut t = NarrowTable::default();
        for id in 0..10_000u64 {
            assert_eq!(t.check_insert(id * 7919, id as u32), None);
            assert!(t.len * 10 <= t.slots.len() * MAX_LOAD_TENTHS);
        }
        assert_eq!(t.len(), 10_000);
        assert_eq!(t.slots.len(), 16_384);
    }

    #[test]
    fn the_empty_marker_is_an_id_like_any_other() {
        let mut t = NarrowTable::default();
        assert_eq!(t.get(u64::MAX), None);
        assert_eq!(t.check_insert(u64::MAX, 3), None);
        assert_eq!(t.check_insert(u64::MAX, 4), Some(3));
        assert_eq!(t.check_insert(0, 5), None);
        assert_eq!((t.len(), t.get(u64::MAX), t.get(0)), (2, Some(3), Some(5)));
        let mut all: Vec<_> = t.iter().collect();
        all.sort();
        assert_eq!(all, [(0, 5), (u64::MAX, 3)]);
        assert!(t.remove(u64::MAX) && !t.remove(u64::MAX));
        assert_eq!((t.len(), t.get(u64::MAX)), (1, None));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64, u32),
        Remove(u64),
    }

    proptest! {
        /// Inserts and removals (of ids that collide in few slots, and of any id) agree with a
        /// map, and every entry stays reachable from its home slot.
        #[test]
        fn behaves_like_a_map(
            ops in prop::collection::vec(
                prop_oneof![
                    (0u64..64, any::<u32>()).prop_map(|(i, h)| Op::Insert(i << 58, h)),
                    (0u64..64).prop_map(|i| Op::Remove(i << 58)),
                    (any::<u64>(), any::<u32>()).prop_map(|(i, h)| Op::Insert(i, h)),
                    (0u64..300, any::<u32>()).prop_map(|(i, h)| Op::Insert(i, h)),
                    (0u64..300).prop_map(Op::Remove),
                ],
                0..400,
            ),
        ) {
            let mut t = NarrowTable::default();
            let mut model: HashMap<u64, u32> = HashMap::new();
            for op in &ops {
                match *op {
                    Op::Insert(id, h) => {
                        let want = model.get(&id).copied();
                        if want.is_none() {
                            model.insert(id, h);
                        }
                        prop_assert_eq!(t.check_insert(id, h), want);
                    }
                    Op::Remove(id) => {
                        prop_assert_eq!(t.remove(id), model.remove(&id).is_some());
                    }
                }
                prop_assert_eq!(t.len(), model.len());
            }
            for (id, h) in &model {
                prop_assert_eq!(t.get(*id), Some(*h));
            }
            let mut all: Vec<_> = t.iter().collect();
            all.sort();
            let mut want: Vec<_> = model.into_iter().collect();
            want.sort();
            prop_assert_eq!(all, want);
        }
    }
}
