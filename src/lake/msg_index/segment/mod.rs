//! One immutable, sorted file of the msg_id index: `(hash, day)` entries, read in place.
//!
//! A lookup first asks the segment's blocked Bloom filter (12 bits per entry, one cache line per
//! lookup, about 0.5% false positives), and only on a hit reads the directory slot of the hash's
//! top bits and the few hashes of that slot, so its cost does not grow with the segment (a
//! two-year lake's base segment is ~50 MB; a nightly run's new ids nearly all stop at the
//! filter's 5 MB). The file is mapped, never read whole: segments
//! are written once (temp file, fsync, rename) and only ever replaced by a rename or removed
//! under the writer lock, so a mapping never sees its bytes change.
//!
//! Layout, little-endian:
//!
//! ```text
//! magic  "WXLKSEG1"                        8 bytes
//! count  u64                               number of entries
//! bits   u32                               the directory has 2^bits + 1 slots
//! blocks u32                               the filter has this many 64-byte blocks
//! dir    u32 × (2^bits + 1)                dir[b] = first entry whose hash's top bits are ≥ b
//!        (zero padding to a multiple of 64)
//! filter u64 × 8 × blocks                  blocked Bloom filter of the hashes (see `probe`)
//! hashes u64 × count                       ascending (ties ordered by day)
//! days   i32 × count                       partition day of each entry (days from 0001-01-01)
//! xxh64  u64                               of every byte before it
//! ```

use std::hash::Hasher;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use twox_hash::XxHash64;

use super::Entry;
use crate::error::{Error, Result};

mod geometry;

use geometry::*;

/// Write the segment of the entries `entries()` yields (sorted by hash then day, no repeats;
/// at most `upper_bound` of them) to `out`. `entries` is called three times, once per section,
/// so that a merge streams from its inputs instead of holding the result.
pub fn write<I: Iterator<Item = io::Result<Entry>>>(
    upper_bound: usize,
    entries: impl Fn() -> io::Result<I>,
    out: impl Write,
) -> io::Result<()> {
    let bits = bits_for(upper_bound);
    let slots = 1usize << bits;
    let blocks = blocks_for(upper_bound);
    // dir[b + 1] counts slot b, then the prefix sums make dir[b] the first entry of slot b.
    let mut dir = vec![0u32; slots + 1];
    let mut filter = vec![0u64; 8 * blocks];
    let mut count = 0usize;
    let mut last: Option<Entry> = None;
    for e in entries()? {
        let e = e?;
        debug_assert!(last.is_none_or(|l| l < e), "entries not sorted");
        last = Some(e);
        dir[slot(e.hash, bits) + 1] += 1;
        let (block, masks) = probe(e.hash, blocks);
        for (word, mask) in filter[8 * block..8 * block + 8].iter_mut().zip(masks) {
            *word |= mask;
        }
        count += 1;
    }
    assert!(count <= upper_bound, "more entries than announced");
    for b in 1..=slots {
        dir[b] += dir[b - 1];
    }
    let at = Offsets::new(count, bits, blocks);
    // Buffered before the checksum, so that it hashes 64 KiB pieces, not 8-byte ones.
    let mut out = io::BufWriter::with_capacity(
        1 << 16,
        Checksummed {
            out,
            hasher: XxHash64::with_seed(0),
        },
    );
    out.write_all(MAGIC)?;
    out.write_all(&(count as u64).to_le_bytes())?;
    out.write_all(&bits.to_le_bytes())?;
    out.write_all(&(blocks as u32).to_le_bytes())?;
    for v in &dir {
        out.write_all(&v.to_le_bytes())?;
    }
    out.write_all(&vec![0u8; at.filter - (at.dir + 4 * (slots + 1))])?;
    for w in &filter {
        out.write_all(&w.to_le_bytes())?;
    }
    for e in entries()? {
        out.write_all(&e?.hash.to_le_bytes())?;
    }
    for e in entries()? {
        out.write_all(&e?.day.to_le_bytes())?;
    }
    let mut inner = out.into_inner().map_err(|e| e.into_error())?;
    let sum = inner.hasher.finish();
    inner.out.write_all(&sum.to_le_bytes())?;
    inner.out.flush()
}

/// The sorted union of sorted `sources`, each entry once, read from the segments' files (see
/// [`Segment::stream`]).
pub fn merged<'a>(
    sources: &'a [&'a Segment],
) -> io::Result<impl Iterator<Item = io::Result<Entry>> + 'a> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut streams: Vec<Stream<'a>> = sources.iter().map(|s| s.stream()).collect();
    let mut heap = BinaryHeap::new();
    for (i, stream) in streams.iter_mut().enumerate() {
        if let Some(e) = stream.next().transpose()? {
            heap.push(Reverse((e, i)));
        }
    }
    let mut last: Option<Entry> = None;
    Ok(std::iter::from_fn(move || {
        loop {
            let Reverse((e, i)) = heap.pop()?;
            match streams[i].next() {
                Some(Ok(next)) => heap.push(Reverse((next, i))),
                Some(Err(err)) => return Some(Err(err)),
                None => {}
            }
            if last != Some(e) {
                last = Some(e);
                return Some(Ok(e));
            }
        }
    }))
}

/// A segment's entries in order, read in pieces from its file rather than through the mapping:
/// a merge reads every entry once, which through the mapping would make the whole segment part
/// of the process's resident memory.
pub struct Stream<'a> {
    segment: &'a Segment,
    next: usize,
    hashes: Vec<u8>,
    days: Vec<u8>,
    at: usize,
}

const STREAM_PIECE: usize = 8192;

impl Stream<'_> {
    fn refill(&mut self) -> io::Result<()> {
        let n = STREAM_PIECE.min(self.segment.count - self.next);
        self.hashes.resize(8 * n, 0);
        self.days.resize(4 * n, 0);
        let h = self.segment.hashes + 8 * self.next;
        let d = self.segment.days + 4 * self.next;
        match &self.segment.file {
            Some(file) => {
                use std::os::unix::fs::FileExt;
                file.read_exact_at(&mut self.hashes, h as u64)?;
                file.read_exact_at(&mut self.days, d as u64)?;
            }
            None => {
                self.hashes
                    .copy_from_slice(&self.segment.bytes[h..h + 8 * n]);
                self.days.copy_from_slice(&self.segment.bytes[d..d + 4 * n]);
            }
        }
        self.at = 0;
        Ok(())
    }
}

impl Iterator for Stream<'_> {
    type Item = io::Result<Entry>;

    fn next(&mut self) -> Option<io::Result<Entry>> {
        if 8 * self.at == self.hashes.len() {
            if self.next == self.segment.count {
                return None;
            }
            if let Err(e) = self.refill() {
                self.next = self.segment.count;
                return Some(Err(e));
            }
        }
        let i = self.at;
        self.at += 1;
        self.next += 1;
        Some(Ok(Entry {
            hash: u64::from_le_bytes(self.hashes[8 * i..8 * i + 8].try_into().expect("8 bytes")),
            day: i32::from_le_bytes(self.days[4 * i..4 * i + 4].try_into().expect("4 bytes")),
        }))
    }
}

/// A writer that hashes what passes through it.
struct Checksummed<W: Write> {
    out: W,
    hasher: XxHash64,
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.write(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The bytes of a segment: a file mapping, or (in tests) a buffer.
enum Bytes {
    Mapped(memmap2::Mmap),
    #[cfg(test)]
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            #[cfg(test)]
            Bytes::Owned(v) => v,
        }
    }
}

/// An open segment.
pub struct Segment {
    path: PathBuf,
    /// The file, for [`Segment::stream`] (none for a segment built in memory by a test).
    file: Option<std::fs::File>,
    bytes: Bytes,
    count: usize,
    bits: u32,
    blocks: usize,
    filter: usize,
    hashes: usize,
    days: usize,
}

impl Segment {
    /// Map the segment at `path` and check its header and length (not its checksum: that
    /// would read it whole; see [`Segment::checksum_matches`]).
    pub fn open(path: &Path) -> Result<Segment> {
        let file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
        // SAFETY: segments are never modified in place (see the module docs); the writer lock
        // keeps other wxlake processes from replacing or removing one while it is mapped, and
        // replacing or removing a file does not change a mapping of it.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io("map", path, e))?;
        let mut segment = Segment::parse(path, Bytes::Mapped(map))?;
        match &segment.bytes {
            Bytes::Mapped(map) => {
                // Entries are read one slot at a time, after the filter passed: without this
                // the kernel maps 64 KiB around each of them, and a run's resident memory would
                // grow with segments it barely reads. (Only advice: a failure is harmless.)
                let start = segment.hashes / 4096 * 4096;
                let _ = map.advise_range(memmap2::Advice::Random, start, map.len() - start);
            }
            #[cfg(test)]
            Bytes::Owned(_) => {}
        }
        segment.file = Some(file);
        Ok(segment)
    }

    #[cfg(test)]
    fn from_vec(bytes: Vec<u8>) -> Result<Segment> {
        Segment::parse(Path::new("test.seg"), Bytes::Owned(bytes))
    }

    fn parse(path: &Path, bytes: Bytes) -> Result<Segment> {
        let corrupt = |what: &str| Error::data(path, format!("not a msg_id index segment: {what}"));
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return Err(corrupt("no WXLKSEG1 header"));
        }
        let count = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
        let bits = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
        let blocks = u32::from_le_bytes(bytes[20..24].try_into().expect("4 bytes")) as usize;
        let count = usize::try_from(count)
            .ok()
            .filter(|&c| c <= bytes.len() / 12)
            .ok_or_else(|| corrupt("entry count larger than the file"))?;
        if bits > MAX_BITS {
            return Err(corrupt("directory too large"));
        }
        if blocks == 0 || blocks > bytes.len() / 64 {
            return Err(corrupt("filter size out of range"));
        }
        let at = Offsets::new(count, bits, blocks);
        if at.len != bytes.len() {
            return Err(corrupt(&format!(
                "{} bytes, {} expected for {count} entries",
                bytes.len(),
                at.len
            )));
        }
        let segment = Segment {
            path: path.to_path_buf(),
            file: None,
            bytes,
            count,
            bits,
            blocks,
            filter: at.filter,
            hashes: at.hashes,
            days: at.days,
        };
        // The directory must be monotone and end at `count`: lookups index by it.
        let slots = 1usize << bits;
        let mut prev = 0;
        for b in [0, slots / 2, slots] {
            let v = segment.dir(b);
            if v < prev || v > count {
                return Err(corrupt("directory out of order"));
            }
            prev = v;
        }
        if segment.dir(slots) != count {
            return Err(corrupt("directory does not end at the entry count"));
        }
        Ok(segment)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn dir(&self, b: usize) -> usize {
        let at = HEADER + 4 * b;
        u32::from_le_bytes(self.bytes[at..at + 4].try_into().expect("4 bytes")) as usize
    }

    fn hash(&self, i: usize) -> u64 {
        let at = self.hashes + 8 * i;
        u64::from_le_bytes(self.bytes[at..at + 8].try_into().expect("8 bytes"))
    }

    fn day(&self, i: usize) -> i32 {
        let at = self.days + 4 * i;
        i32::from_le_bytes(self.bytes[at..at + 4].try_into().expect("4 bytes"))
    }

    /// Call `f` with the day of every entry of `hash`.
    pub fn days_of(&self, hash: u64, mut f: impl FnMut(i32)) {
        if !self.may_contain(hash) {
            return;
        }
        let b = slot(hash, self.bits);
        // A damaged directory must not index out of bounds: clamp, at worst a miss.
        let (mut lo, mut hi) = (self.dir(b).min(self.count), self.dir(b + 1).min(self.count));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.hash(mid) < hash {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        while lo < self.count && self.hash(lo) == hash {
            f(self.day(lo));
            lo += 1;
        }
    }

    /// The filter's answer: false means `hash` is not in the segment.
    pub fn may_contain(&self, hash: u64) -> bool {
        if self.count == 0 {
            return false;
        }
        let (block, masks) = probe(hash, self.blocks);
        let at = self.filter + 64 * block;
        let words = &self.bytes[at..at + 64];
        masks.iter().zip(words.chunks_exact(8)).all(|(mask, word)| {
            u64::from_le_bytes(word.try_into().expect("8 bytes")) & mask == *mask
        })
    }

    /// Every entry, in order, read from the file in pieces.
    pub fn stream(&self) -> Stream<'_> {
        Stream {
            segment: self,
            next: 0,
            hashes: Vec::new(),
            days: Vec::new(),
            at: 0,
        }
    }

    /// Every entry, in order, through the mapping.
    #[cfg(test)]
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        (0..self.count).map(|i| Entry {
            hash: self.hash(i),
            day: self.day(i),
        })
    }

    /// Whether the trailing checksum matches the bytes (reads the whole segment).
    pub fn checksum_matches(&self) -> bool {
        let end = self.bytes.len() - 8;
        let want = u64::from_le_bytes(self.bytes[end..].try_into().expect("8 bytes"));
        let mut h = XxHash64::with_seed(0);
        h.write(&self.bytes[..end]);
        h.finish() == want
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(entries: &[Entry]) -> Segment {
        let mut bytes = Vec::new();
        write(
            entries.len(),
            || Ok(entries.iter().map(|e| Ok(*e))),
            &mut bytes,
        )
        .unwrap();
        Segment::from_vec(bytes).unwrap()
    }

    fn days(seg: &Segment, hash: u64) -> Vec<i32> {
        let mut out = Vec::new();
        seg.days_of(hash, |d| out.push(d));
        out
    }

    fn pseudo_random(n: usize) -> Vec<Entry> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut v: Vec<Entry> = (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                Entry {
                    hash: x,
                    day: 739_000 + (i % 700) as i32,
                }
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn every_entry_is_found_and_nothing_else() {
        for n in [0, 1, 2, 63, 64, 65, 1000, 20_000] {
            let entries = pseudo_random(n);
            let seg = segment(&entries);
            assert_eq!(seg.len(), entries.len());
            assert!(seg.checksum_matches());
            for e in &entries {
                assert_eq!(days(&seg, e.hash), vec![e.day], "n={n}");
                assert!(days(&seg, e.hash.wrapping_add(1)).is_empty() || n > 0);
            }
            assert!(days(&seg, 0x1234_5678).is_empty());
            assert_eq!(seg.entries().collect::<Vec<_>>(), entries);
        }
    }

    #[test]
    fn the_filter_passes_every_entry_and_few_others() {
        let entries = pseudo_random(50_000);
        let seg = segment(&entries);
        assert!(entries.iter().all(|e| seg.may_contain(e.hash)));
        let others = (0..100_000u64)
            .map(|i| i.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x5555)
            .filter(|h| entries.binary_search_by_key(h, |e| e.hash).is_err());
        let (mut n, mut passed) = (0, 0);
        for h in others {
            n += 1;
            passed += usize::from(seg.may_contain(h));
        }
        let rate = passed as f64 / n as f64;
        assert!(rate < 0.01, "false positive rate {rate}");
    }

    #[test]
    fn one_hash_in_several_days_gives_each_day() {
        let entries = vec![
            Entry { hash: 0, day: 1 },
            Entry { hash: 7, day: 3 },
            Entry { hash: 7, day: 9 },
            Entry {
                hash: u64::MAX,
                day: -5,
            },
        ];
        let seg = segment(&entries);
        assert_eq!(days(&seg, 7), vec![3, 9]);
        assert_eq!(days(&seg, 0), vec![1]);
        assert_eq!(days(&seg, u64::MAX), vec![-5]);
        assert!(days(&seg, 8).is_empty());
    }

    #[test]
    fn a_merge_is_the_sorted_union_once_each() {
        let a = pseudo_random(30_000);
        let (left, right) = a.split_at(17_000);
        let mut odd: Vec<Entry> = a.iter().step_by(3).copied().collect();
        odd.push(Entry { hash: 5, day: 1 });
        odd.sort_unstable();
        let (s1, s2, s3) = (segment(left), segment(right), segment(&odd));
        let sources = [&s1, &s2, &s3];
        let merged: Vec<Entry> = merged(&sources).unwrap().map(Result::unwrap).collect();
        let mut want = a.clone();
        want.push(Entry { hash: 5, day: 1 });
        want.sort_unstable();
        want.dedup();
        assert_eq!(merged, want);
        // Written with a generous bound, it still finds everything.
        let mut bytes = Vec::new();
        write(10 * want.len(), || super::merged(&sources), &mut bytes).unwrap();
        let seg = Segment::from_vec(bytes).unwrap();
        assert_eq!(seg.len(), want.len());
        for e in &want {
            assert!(days(&seg, e.hash).contains(&e.day));
        }
        assert_eq!(
            seg.stream().map(Result::unwrap).collect::<Vec<_>>(),
            want,
            "streamed"
        );
    }

    #[test]
    fn damaged_segments_are_refused_or_detected() {
        let entries = pseudo_random(500);
        let mut bytes = Vec::new();
        write(
            entries.len(),
            || Ok(entries.iter().map(|e| Ok(*e))),
            &mut bytes,
        )
        .unwrap();
        // Truncated: refused at open.
        let short = bytes[..bytes.len() - 3].to_vec();
        assert!(Segment::from_vec(short).is_err());
        assert!(Segment::from_vec(b"WXLKSEG0".to_vec()).is_err());
        // A flipped bit in an entry: opens, but the checksum says so.
        let mut flipped = bytes.clone();
        let at = flipped.len() - 20;
        flipped[at] ^= 1;
        assert!(!Segment::from_vec(flipped).unwrap().checksum_matches());
    }
}
