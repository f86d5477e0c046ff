//! The index entries a run must still find that are in no segment: earlier runs' logs, and the
//! ids of this run's partitions that left memory.
//!
//! Why not a `HashMap`: on a backfill nearly every new msg_id is looked up here, in a table of
//! up to ~50 MB, so nearly every lookup is a cache miss on the one thread that decides rows in
//! file order (`days_of` and inserts were ~5% of a two-year backfill's samples, all on that
//! thread). Here an entry's place follows from its hash alone, so the caller can
//! [`prefetch`](RecentTable::prefetch) the rows ahead of the one it decides, and a lookup
//! touches one cache line: entries live in 64-byte buckets of five, an entry in the first bucket
//! not full from its home one on (linear probing by buckets; entries are never removed one by
//! one, only all at once).

use super::Entry;

/// Entries per bucket.
const WIDTH: usize = 5;

/// Five entries (hash halves and day) and how many are used: one cache line.
#[repr(C, align(64))]
#[derive(Clone, Copy, Default)]
struct Bucket {
    hi: [u32; WIDTH],
    lo: [u32; WIDTH],
    day: [i32; WIDTH],
    len: u32,
}

/// The most entries a table of `buckets` buckets holds before it grows: 70% of its slots.
fn limit(buckets: usize) -> usize {
    buckets * WIDTH * 7 / 10
}

/// The largest table: 2^20 buckets (64 MiB).
const MAX_BUCKETS: usize = 1 << 20;

/// Entries the index keeps in memory before it writes them out: as many as the largest table
/// holds.
pub const MAX_ENTRIES: usize = MAX_BUCKETS * WIDTH * 7 / 10;

/// Tables from this many buckets (1 MiB) on get their successor zeroed ahead on a thread of its
/// own (see [`RecentTable::insert`]).
const ZEROED_AHEAD_FROM: usize = 1 << 14;

/// A multiset-free map from 64-bit hashes to the days they were seen in (a hash may have
/// several days: a collision, or a stale entry).
#[derive(Default)]
pub struct RecentTable {
    buckets: Vec<Bucket>,
    len: usize,
    /// The next, twice as large table, being zeroed on another thread.
    next: Option<std::thread::JoinHandle<Vec<Bucket>>>,
}

impl RecentTable {
    pub fn len(&self) -> usize {
        self.len
    }

    /// The home bucket of `hash` (Fibonacci hashing: every bit of the hash counts).
    fn home(&self, hash: u64) -> usize {
        let bits = self.buckets.len().trailing_zeros();
        if bits == 0 {
            return 0;
        }
        (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    /// Start loading the bucket `hash` lives in, for a lookup or insert soon after.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        if self.buckets.is_empty() {
            return;
        }
        let bucket: *const Bucket = &self.buckets[self.home(hash)];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint; it reads nothing and cannot fault.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(bucket.cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = bucket;
    }

    /// Add `hash` seen in `day`, unless the table has that very pair.
    ///
    /// Once a large table is three quarters full, its successor is allocated and zeroed on
    /// another thread: on this machine kind the kernel hands out fresh memory at ~0.5 GB/s, and
    /// zeroing the 64 MiB table in place held the thread that decides rows in file order for
    /// ~130 ms, with the normalizers and encoders waiting (two-year backfill). The growth then
    /// only rehashes.
    pub fn insert(&mut self, hash: u64, day: i32) {
        if self.len >= limit(self.buckets.len()) {
            self.grow();
        } else if self.next.is_none()
            && self.buckets.len() >= ZEROED_AHEAD_FROM
            && self.buckets.len() * 2 <= MAX_BUCKETS
            && self.len * 4 >= limit(self.buckets.len()) * 3
        {
            let buckets = self.buckets.len() * 2;
            self.next = std::thread::Builder::new()
                .name("wxlake-zeroing".into())
                .spawn(move || zeroed_table(buckets))
                .ok();
        }
        if self.place(hash, day) {
            self.len += 1;
        }
    }

    /// Put the pair in the first bucket not full from its home on; false if it was there.
    fn place(&mut self, hash: u64, day: i32) -> bool {
        let (hi, lo) = ((hash >> 32) as u32, hash as u32);
        let mask = self.buckets.len() - 1;
        let mut at = self.home(hash);
        loop {
            let b = &mut self.buckets[at];
            let used = b.len as usize;
            if (0..used).any(|i| b.hi[i] == hi && b.lo[i] == lo && b.day[i] == day) {
                return false;
            }
            if used < WIDTH {
                b.hi[used] = hi;
                b.lo[used] = lo;
                b.day[used] = day;
                b.len += 1;
                return true;
            }
            at = (at + 1) & mask;
        }
    }

    /// Start zeroing a table that holds `entries` on another thread, if that is more than the
    /// next growth gives: the growths in between are skipped (each doubling zeroes fresh memory,
    /// ~2 ms a megabyte on this machine kind, and rehashes every entry).
    ///
    /// A two-year backfill grew the table from 1 to 64 MiB, zeroing 127 MiB on the zeroing
    /// thread (6.7% of the run's samples) and rehashing on the thread that decides rows.
    pub fn expect(&mut self, entries: usize) {
        // `limit`: 70% of the slots.
        let wanted = entries
            .saturating_mul(10)
            .div_ceil(WIDTH * 7)
            .next_power_of_two();
        let buckets = wanted.min(MAX_BUCKETS);
        if self.next.is_some() || buckets < ZEROED_AHEAD_FROM || buckets <= self.buckets.len() * 2 {
            return;
        }
        self.next = std::thread::Builder::new()
            .name("wxlake-zeroing".into())
            .spawn(move || zeroed_table(buckets))
            .ok();
    }

    fn grow(&mut self) {
        let doubled = (self.buckets.len() * 2).max(64);
        // A table zeroed ahead is taken if it is the doubled one or larger; a larger one not yet
        // zeroed is waited for only once the table is large (a small one doubles here at once).
        let ahead = match self.next.take() {
            Some(t) if t.is_finished() || self.buckets.len() >= ZEROED_AHEAD_FROM => t.join().ok(),
            pending => {
                self.next = pending;
                None
            }
        };
        let table = match ahead {
            Some(table) if table.len() >= doubled => table,
            _ => zeroed_table(doubled),
        };
        let old = std::mem::replace(&mut self.buckets, table);
        for b in &old {
            for i in 0..b.len as usize {
                let hash = u64::from(b.hi[i]) << 32 | u64::from(b.lo[i]);
                self.place(hash, b.day[i]);
            }
        }
    }

    /// Call `f` with every day `hash` was inserted with.
    pub fn days_of(&self, hash: u64, mut f: impl FnMut(i32)) {
        if self.buckets.is_empty() {
            return;
        }
        let (hi, lo) = ((hash >> 32) as u32, hash as u32);
        let mask = self.buckets.len() - 1;
        let mut at = self.home(hash);
        loop {
            let b = &self.buckets[at];
            for i in 0..b.len as usize {
                if b.hi[i] == hi && b.lo[i] == lo {
                    f(b.day[i]);
                }
            }
            if (b.len as usize) < WIDTH {
                return;
            }
            at = (at + 1) & mask;
        }
    }

    /// Forget every entry and hand the memory over instead of giving it back: the index's fold
    /// sorts a backfill's millions of entries in it (fresh memory from the kernel came at
    /// ~0.5 GB/s on this machine kind, a third of the fold's time).
    pub fn take_scratch(&mut self) -> Scratch {
        let buckets = std::mem::take(&mut self.buckets);
        self.clear();
        Scratch(buckets)
    }

    /// Forget every entry and give the memory back.
    pub fn clear(&mut self) {
        // A successor being zeroed is waited for and freed too: the caller wants the memory.
        if let Some(next) = self.next.take() {
            let _ = next.join();
        }
        *self = RecentTable::default();
    }
}

/// A table of `buckets` empty buckets, its memory touched (zeroed) here.
fn zeroed_table(buckets: usize) -> Vec<Bucket> {
    let mut table = Vec::with_capacity(buckets);
    advise_huge_pages(&table);
    table.resize(buckets, Bucket::default());
    table
}

/// A table's memory, emptied, as room for index entries ([`RecentTable::take_scratch`]).
pub struct Scratch(Vec<Bucket>);

// A bucket is all integers, no padding: every byte of the memory is initialized, and its
// alignment suits entries.
const _: () = assert!(std::mem::size_of::<Bucket>() == 4 * (3 * WIDTH + 1));
const _: () = assert!(std::mem::align_of::<Bucket>().is_multiple_of(std::mem::align_of::<Entry>()));

impl Scratch {
    /// Room for exactly `n` entries (their values unspecified), if the memory holds that many.
    pub fn entries(&mut self, n: usize) -> Option<&mut [Entry]> {
        let bytes = self.0.len() * std::mem::size_of::<Bucket>();
        if n.checked_mul(std::mem::size_of::<Entry>())? > bytes {
            return None;
        }
        // SAFETY: `n` entries fit in the buckets' bytes, which are all initialized (asserted
        // above) and suitably aligned; any bytes are a valid entry (two integers and padding).
        // The slice borrows `self` mutably, and the memory is never read as buckets again: a
        // `Scratch` only hands out entries, then frees the memory.
        Some(unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<Entry>(), n) })
    }
}

/// Ask the kernel to back the 2 MiB-aligned stretches of `table`'s (untouched) allocation with
/// huge pages: a lookup into a table of tens of megabytes otherwise misses the TLB as well as
/// the cache, and the page walk is most of what a prefetch cannot hide.
fn advise_huge_pages(table: &Vec<Bucket>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = table.as_ptr() as usize;
        let end = start + table.capacity() * std::mem::size_of::<Bucket>();
        let (from, to) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if to > from {
            // SAFETY: the range lies inside the vector's own allocation; MADV_HUGEPAGE changes
            // how its pages are backed, never their contents. A failure (no THP) is harmless.
            unsafe {
                libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = table;
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;

    fn days(t: &RecentTable, hash: u64) -> BTreeSet<i32> {
        let mut out = BTreeSet::new();
        t.days_of(hash, |d| assert!(out.insert(d), "day {d} of {hash} twice"));
        out
    }

    #[test]
    fn a_bucket_is_one_cache_line_and_the_largest_table_holds_the_index_limit() {
        assert_eq!(std::mem::size_of::<Bucket>(), 64);
        assert_eq!(std::mem::align_of::<Bucket>(), 64);
        assert_eq!(MAX_ENTRIES, limit(1 << 20));
        let mut t = RecentTable::default();
        for h in 0..limit(64) as u64 {
            t.insert(h, 1);
        }
        assert_eq!(t.buckets.len(), 64, "grows only past its limit");
        t.insert(u64::MAX, 1);
        assert_eq!(t.buckets.len(), 128);
    }

    #[test]
    fn hashes_that_share_their_low_bits_crowd_no_bucket_chain() {
        // The index's tests use hashes like `h << 20`: the home bucket mixes all the bits.
        let mut t = RecentTable::default();
        for h in 1..=1000u64 {
            t.insert(h << 20, 3);
        }
        let homes: BTreeSet<usize> = (1..=1000u64).map(|h| t.home(h << 20)).collect();
        assert!(homes.len() > 100, "{} home buckets", homes.len());
        assert_eq!(days(&t, 5 << 20), BTreeSet::from([3]));
    }

    #[test]
    fn a_large_table_grows_into_the_successor_zeroed_ahead() {
        let mut t = RecentTable::default();
        let mix = |h: u64| h.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let mut h = 0u64;
        while t.buckets.len() < ZEROED_AHEAD_FROM {
            t.insert(mix(h), 1);
            h += 1;
        }
        let buckets = t.buckets.len();
        // Zeroing starts once the table is three quarters full, well before it must grow.
        while t.next.is_none() {
            assert!(
                t.len * 4 <= limit(buckets) * 3,
                "not zeroing ahead at {}",
                t.len
            );
            t.insert(mix(h), 1);
            h += 1;
        }
        assert!(t.len * 4 > limit(buckets) * 3 && t.buckets.len() == buckets);
        while t.buckets.len() == buckets {
            t.insert(mix(h), 2);
            h += 1;
        }
        assert_eq!(t.buckets.len(), 2 * buckets);
        assert!(t.next.is_none(), "taken by the growth");
        assert_eq!(t.len(), h as usize);
        for k in (0..h).step_by(97) {
            assert!(!days(&t, mix(k)).is_empty(), "{k} lost in the growth");
        }
        // Three quarters full again, it prepares the next one; clear waits for it, frees both.
        while t.next.is_none() {
            t.insert(mix(h), 3);
            h += 1;
        }
        t.clear();
        assert!(t.next.is_none() && t.buckets.is_empty());
    }

    #[test]
    fn an_expected_size_is_zeroed_ahead_and_taken_at_the_next_growth_skipping_those_between() {
        let mix = |h: u64| h.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let mut t = RecentTable::default();
        // Too few to be worth a table of their own: the table grows as before.
        t.expect(limit(ZEROED_AHEAD_FROM) / 4);
        assert!(t.next.is_none());
        // Enough for 2^17 buckets, eight times a table zeroed ahead by doubling.
        let entries = limit(ZEROED_AHEAD_FROM * 8);
        t.expect(entries);
        let pending = t.next.as_ref().expect("zeroing the expected table");
        while !pending.is_finished() {
            std::thread::yield_now();
        }
        // The first growth takes it, whatever the size before.
        t.insert(mix(0), 1);
        assert_eq!(t.buckets.len(), ZEROED_AHEAD_FROM * 8);
        assert!(t.next.is_none());
        for h in 1..entries as u64 {
            t.insert(mix(h), 1);
        }
        assert_eq!(
            t.buckets.len(),
            ZEROED_AHEAD_FROM * 8,
            "no growth for what was expected"
        );
        for k in (0..entries as u64).step_by(101) {
            assert_eq!(days(&t, mix(k)), BTreeSet::from([1]), "{k}");
        }
    }

    #[test]
    fn a_small_table_does_not_wait_for_a_large_one_still_being_zeroed() {
        let mut t = RecentTable::default();
        t.expect(limit(MAX_BUCKETS));
        assert!(t.next.is_some());
        // Growing while the 64 MiB table may still be zeroed: the small tables double here.
        for h in 0..1000u64 {
            t.insert(h.wrapping_mul(0x2545_F491_4F6C_DD1D), 1);
        }
        assert_eq!(t.len(), 1000);
        if t.next.is_some() {
            assert!(t.buckets.len() < ZEROED_AHEAD_FROM);
        } else {
            assert_eq!(t.buckets.len(), MAX_BUCKETS, "taken once zeroed");
        }
        t.clear();
        assert!(t.next.is_none() && t.buckets.is_empty());
    }

    #[test]
    fn a_tables_memory_is_room_for_as_many_entries_as_its_bytes_hold() {
        let mut t = RecentTable::default();
        for h in 0..1000u64 {
            t.insert(h.wrapping_mul(0x2545_F491_4F6C_DD1D), 1);
        }
        let buckets = t.buckets.len();
        let mut scratch = t.take_scratch();
        assert_eq!((t.len(), t.buckets.len()), (0, 0), "the table is empty");
        let fits = buckets * 64 / 16;
        assert!(scratch.entries(fits + 1).is_none());
        let room = scratch.entries(fits).unwrap();
        for (i, e) in room.iter_mut().enumerate() {
            *e = Entry {
                hash: i as u64,
                day: -(i as i32),
            };
        }
        let again = scratch.entries(3).unwrap();
        assert_eq!(again[2], Entry { hash: 2, day: -2 });
        assert!(
            RecentTable::default()
                .take_scratch()
                .entries(0)
                .unwrap()
                .is_empty()
        );
    }

    proptest! {
        #[test]
        fn finds_what_a_map_of_sets_finds(
            pairs in proptest::collection::vec((0u64..400, 0i32..4), 0..2000),
            spread in any::<bool>(),
        ) {
            // Few distinct hashes (many shared by several days, many repeats) or hashes spread
            // over the whole range.
            let hash = |h: u64| if spread { h.wrapping_mul(0x2545_F491_4F6C_DD1D) } else { h };
            let mut t = RecentTable::default();
            let mut want: BTreeMap<u64, BTreeSet<i32>> = BTreeMap::new();
            for &(h, d) in &pairs {
                t.prefetch(hash(h));
                t.insert(hash(h), d);
                want.entry(hash(h)).or_default().insert(d);
            }
            prop_assert_eq!(t.len(), want.values().map(BTreeSet::len).sum::<usize>());
            for h in 0..400 {
                let got = days(&t, hash(h));
                let none = BTreeSet::new();
                prop_assert_eq!(&got, want.get(&hash(h)).unwrap_or(&none));
            }
            t.clear();
            prop_assert_eq!(t.len(), 0);
            prop_assert!(days(&t, hash(1)).is_empty());
        }
    }
}
