//! Where things are in a segment: its header, the directory of hash prefixes, and the blocked
//! Bloom filter (which block and bits a hash sets), as the parent module's layout describes.

pub(super) const MAGIC: &[u8; 8] = b"WXLKSEG1";
pub(super) const HEADER: usize = 24;

/// About this many entries per directory slot.
pub(super) const PER_SLOT: usize = 64;
/// A directory of at most 2^24 slots (64 MiB): enough for a billion ids.
pub(super) const MAX_BITS: u32 = 24;

/// Directory bits for `count` entries.
pub(super) fn bits_for(count: usize) -> u32 {
    let slots = (count / PER_SLOT).max(1);
    (usize::BITS - 1 - slots.leading_zeros()).min(MAX_BITS)
}

pub(super) fn slot(hash: u64, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        (hash >> (64 - bits)) as usize
    }
}

/// Filter bits per entry.
pub(super) const FILTER_BITS_PER_ENTRY: usize = 12;
/// Bits set per entry in its block.
pub(super) const FILTER_PROBES: u32 = 8;

/// Filter blocks for `count` entries.
pub(super) fn blocks_for(count: usize) -> usize {
    (count * FILTER_BITS_PER_ENTRY).div_ceil(512).max(1)
}

/// The filter block of `hash` and the mask of its bits in each of the block's 8 words.
pub(super) fn probe(hash: u64, blocks: usize) -> (usize, [u64; 8]) {
    let block = ((u128::from(hash >> 32) * blocks as u128) >> 32) as usize;
    let mut h = hash.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut masks = [0u64; 8];
    for _ in 0..FILTER_PROBES {
        let bit = (h >> 55) as usize; // 9 bits: 0..512
        masks[bit / 64] |= 1 << (bit % 64);
        h = h.rotate_left(9);
    }
    (block, masks)
}

/// Where each part of a segment of `count` entries with `bits` starts, and its total length.
pub(super) struct Offsets {
    pub dir: usize,
    pub filter: usize,
    pub hashes: usize,
    pub days: usize,
    pub len: usize,
}

impl Offsets {
    pub fn new(count: usize, bits: u32, blocks: usize) -> Offsets {
        let dir = HEADER;
        let dir_len = 4 * ((1usize << bits) + 1);
        let filter = (dir + dir_len).next_multiple_of(64);
        let hashes = filter + 64 * blocks;
        let days = hashes + 8 * count;
        let checksum = days + 4 * count;
        Offsets {
            dir,
            filter,
            hashes,
            days,
            len: checksum + 8,
        }
    }
}
