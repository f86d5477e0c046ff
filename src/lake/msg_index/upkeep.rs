//! The index's upkeep rules, pure: sorting and deduplicating entries, and which segments to merge.

use super::*;
use crate::error::Error;

/// Sort by hash then day and drop repeats (see [`sort_dedup_from`]).
pub fn sort_dedup(entries: &mut Vec<Entry>) {
    let unsorted = std::mem::take(entries);
    *entries = sort_dedup_from(unsorted.len(), |f| {
        unsorted.iter().copied().for_each(f);
        Ok(())
    })
    .expect("entries in memory do not change between the passes");
}

/// The entries `source` hands to its argument (at most `upper_bound` of them), sorted by hash
/// then day, each once. Hashes are uniform, so one counting pass by their top bits sizes a
/// bucket of about 16 for each, a second pass puts every entry in its bucket, and only the
/// buckets need sorting: several times faster than a comparison sort of the millions a run or
/// a rebuild folds. `source` is called twice, so entries read from files (a run's logs) take
/// memory for the result only, not for a copy to sort as well.
pub fn sort_dedup_from(
    upper_bound: usize,
    source: impl FnMut(&mut dyn FnMut(Entry)) -> Result<()>,
) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let len = sort_dedup_with(upper_bound, None, source, |len| {
        out = vec![Entry { hash: 0, day: 0 }; len];
        Some(&mut out[..])
    })?;
    out.truncate(len);
    Ok(out)
}

/// How many entries fall in each bucket of the top [`HashCounts::BITS`] bits of their hash,
/// kept as entries are written (a run's log) so that sorting them takes one pass over them, not
/// two: the log is read around the page cache, so each pass is a read from the disk.
pub struct HashCounts {
    counts: Vec<u32>,
    total: usize,
}

impl Default for HashCounts {
    fn default() -> Self {
        HashCounts {
            counts: vec![0; 1 << Self::BITS],
            total: 0,
        }
    }
}

impl HashCounts {
    /// The most bucket bits a sort uses (buckets of ~55 entries for a two-year backfill's
    /// 3.6 M): the counts are this fine, 256 KiB of them.
    pub const BITS: u32 = 16;

    pub fn add(&mut self, hash: u64) {
        self.counts[(hash >> (64 - Self::BITS)) as usize] += 1;
        self.total += 1;
    }

    /// Entries counted.
    pub fn total(&self) -> usize {
        self.total
    }
}

/// [`sort_dedup_from`] into memory the caller has: `room(len)` gives a slice of exactly `len`
/// entries to sort in (or `None`: nothing to sort, `len` is 0). Returns how many of them are
/// left, sorted and unique, at its start. With `counted`, the counts of exactly the entries
/// `source` hands over, `source` is called once.
pub fn sort_dedup_with<'o>(
    upper_bound: usize,
    counted: Option<&HashCounts>,
    mut source: impl FnMut(&mut dyn FnMut(Entry)) -> Result<()>,
    room: impl FnOnce(usize) -> Option<&'o mut [Entry]>,
) -> Result<usize> {
    if upper_bound < 1 << 12 {
        let mut entries = Vec::with_capacity(upper_bound);
        source(&mut |e| entries.push(e))?;
        entries.sort_unstable();
        entries.dedup();
        let Some(out) = room(entries.len()) else {
            return Ok(0);
        };
        out.copy_from_slice(&entries);
        return Ok(entries.len());
    }
    let bits = (upper_bound / 16).ilog2().min(HashCounts::BITS);
    let bucket = |e: &Entry| (e.hash >> (64 - bits)) as usize;
    let mut starts = vec![0usize; (1 << bits) + 1];
    match counted {
        Some(counted) => {
            let per = 1 << (HashCounts::BITS - bits);
            for (b, fine) in counted.counts.chunks(per).enumerate() {
                starts[b + 1] = fine.iter().map(|&c| c as usize).sum();
            }
        }
        None => source(&mut |e| starts[bucket(&e) + 1] += 1)?,
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    let len = starts[starts.len() - 1];
    let mut next = starts.clone();
    let Some(out) = room(len) else {
        return Ok(0);
    };
    assert_eq!(out.len(), len, "room for exactly the entries counted");
    let mut overflow = false;
    source(&mut |e| {
        let b = bucket(&e);
        if next[b] < starts[b + 1] {
            out[next[b]] = e;
            next[b] += 1;
        } else {
            overflow = true;
        }
    })?;
    if overflow || next[..next.len() - 1] != starts[1..] {
        let why = if counted.is_some() {
            "its log holds other entries than the run counted as it wrote them"
        } else {
            "its entries changed while they were being sorted"
        };
        return Err(Error::data("the msg_id index", why));
    }
    // The buckets in two halves, one per core.
    let half = starts[starts.len() / 2];
    let (low, high) = out.split_at_mut(half);
    let (low_starts, high_starts) = starts.split_at(starts.len() / 2);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for w in high_starts.windows(2) {
                high[w[0] - half..w[1] - half].sort_unstable();
            }
        });
        for w in low_starts.windows(2) {
            low[w[0]..w[1]].sort_unstable();
        }
    });
    // The last bucket of the low half (neither thread's windows reach it).
    let mid = starts.len() / 2;
    out[starts[mid - 1]..starts[mid]].sort_unstable();
    Ok(dedup_in_place(out))
}

/// Drop repeats of a sorted slice, keeping the first of each at the front; the count kept.
fn dedup_in_place(v: &mut [Entry]) -> usize {
    let mut kept = 0;
    for i in 0..v.len() {
        if kept == 0 || v[i] != v[kept - 1] {
            v[kept] = v[i];
            kept += 1;
        }
    }
    kept
}

/// Which segments (by index into `lens`) to merge into one, if any: all of them once the ones
/// beside the largest add up to a quarter of it, else the small ones once there are more than
/// [`MAX_SMALL_SEGMENTS`]. Amortized, an entry is rewritten a bounded number of times.
pub fn plan_merge(lens: &[usize]) -> Option<Vec<usize>> {
    if lens.len() < 2 {
        return None;
    }
    let largest = (0..lens.len()).max_by_key(|&i| lens[i])?;
    let small: usize = lens.iter().sum::<usize>() - lens[largest];
    if small * 4 >= lens[largest] {
        return Some((0..lens.len()).collect());
    }
    if lens.len() - 1 > MAX_SMALL_SEGMENTS {
        return Some((0..lens.len()).filter(|&i| i != largest).collect());
    }
    None
}
