//! Finding the bytes that end a run of plain JSON string content, sixteen bytes at a time.
//!
//! Why not `memchr`: the runs are short (ids, names, and the few bytes between the `\n\t`
//! escapes of an XML source), where a call that sets up a vector search per run costs more than
//! it saves; and the parser looks for three things at once (a quote, a backslash, a control
//! character), all of a window's from one mask. SSE2 is part of every x86-64 CPU, so these need
//! no feature detection: one compare-and-mask per sixteen bytes, the last sixteen of a slice
//! read as an overlapping block instead of byte by byte. Elsewhere the same work is done eight
//! bytes at a time in a `u64`, or byte by byte.

/// The offset in `b` of the first backslash, or `b.len()` if there is none.
#[inline(always)]
pub fn first_backslash(b: &[u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::first(b, sse2::backslash, swar::backslash)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        swar::first(b, swar::backslash)
    }
}

/// The quotes, backslashes and control characters among the (up to) sixteen bytes of `b` from
/// `at`: a bit per byte (bit `k` for `b[at + k]`), and how many bytes the mask covers
/// (`min(16, b.len() - at)`). A string parser takes every special byte of a window from one
/// mask instead of searching again after each escape (an XML source has one every few bytes).
#[inline(always)]
pub fn special_mask(b: &[u8], at: usize) -> (u32, usize) {
    // Checked in release builds too: past the end, the shift below would be meaningless.
    assert!(
        at <= b.len(),
        "special_mask: {at} is past the end ({})",
        b.len()
    );
    let n = b.len();
    #[cfg(target_arch = "x86_64")]
    {
        if n >= 16 {
            // The window, or the line's last sixteen bytes shifted down to start at `at`.
            let from = at.min(n - 16);
            // SAFETY: `from + 16 <= n`; an unaligned load needs no alignment.
            let v = unsafe { std::arch::x86_64::_mm_loadu_si128(b.as_ptr().add(from).cast()) };
            return (sse2::special(v) >> (at - from), (n - at).min(16));
        }
    }
    let width = (n - at).min(16);
    let mut mask = 0u32;
    for (k, &c) in b[at..at + width].iter().enumerate() {
        if matches!(c, b'"' | b'\\' | 0..=0x1f) {
            mask |= 1 << k;
        }
    }
    (mask, width)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    /// A bit per byte of `v` that ends a run: quote, backslash or control character.
    #[inline(always)]
    pub fn special(v: __m128i) -> u32 {
        // SAFETY: SSE2 instructions, part of the x86-64 baseline.
        unsafe {
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // Unsigned v <= 0x1f exactly when max(v, 0x1f) == 0x1f.
            let low = _mm_set1_epi8(0x1f);
            let control = _mm_cmpeq_epi8(_mm_max_epu8(v, low), low);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        }
    }

    /// A bit per backslash of `v`.
    #[inline(always)]
    pub fn backslash(v: __m128i) -> u32 {
        // SAFETY: SSE2 instructions, part of the x86-64 baseline.
        unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8))) as u32 }
    }

    /// The offset of the first byte `hits` flags, or `b.len()`; a slice shorter than sixteen
    /// bytes is searched with `short`, the same test on eight bytes in a `u64`.
    #[inline(always)]
    pub fn first(b: &[u8], hits: impl Fn(__m128i) -> u32, short: impl Fn(u64) -> u64) -> usize {
        let n = b.len();
        if n < 16 {
            return super::swar::first(b, short);
        }
        let load = |at: usize| {
            debug_assert!(at + 16 <= n);
            // SAFETY: the sixteen bytes from `at` lie inside `b` (every call has
            // `at + 16 <= n`); an unaligned load needs no alignment.
            unsafe { _mm_loadu_si128(b.as_ptr().add(at).cast::<__m128i>()) }
        };
        let mut i = 0;
        while i + 16 <= n {
            let mask = hits(load(i));
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
        if i == n {
            return n;
        }
        // The last sixteen bytes, overlapping those already seen: only bits from `i` on count.
        let mask = hits(load(n - 16)) >> (i - (n - 16));
        if mask != 0 {
            i + mask.trailing_zeros() as usize
        } else {
            n
        }
    }
}

mod swar {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;

    /// Bytes of `x` that are zero get their high bit set (the lowest flagged byte is exact;
    /// bytes above it may be false positives, which do not matter to [`first`]).
    fn zero(x: u64) -> u64 {
        x.wrapping_sub(ONES) & !x & HIGH
    }

    /// The high bit of each backslash byte of `x`.
    pub fn backslash(x: u64) -> u64 {
        zero(x ^ (ONES * u64::from(b'\\')))
    }

    /// The offset of the first byte `hits` flags, or `b.len()`: eight bytes at a time, the last
    /// eight read as an overlapping word; a slice of under eight bytes is padded with a byte no
    /// test flags (`A`). Keys and ids are mostly shorter than sixteen bytes, so this is the
    /// path most of a line's short strings take (a copy per word here was ~2% of ingest).
    #[inline]
    pub fn first(b: &[u8], hits: impl Fn(u64) -> u64) -> usize {
        let n = b.len();
        let word_at = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[at..at + 8]);
            u64::from_le_bytes(w)
        };
        if n < 8 {
            let mut word = [b'A'; 8];
            for (w, &c) in word.iter_mut().zip(b) {
                *w = c;
            }
            let mask = hits(u64::from_le_bytes(word));
            return ((mask.trailing_zeros() / 8) as usize).min(n);
        }
        let mut i = 0;
        while i + 8 <= n {
            let mask = hits(word_at(i));
            if mask != 0 {
                return i + (mask.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
        if i == n {
            return n;
        }
        // The last eight bytes, overlapping those already seen: only bytes from `i` on count.
        // A false positive (see `zero`) sits above a true hit, and the bytes below `i` hold
        // none, so the lowest flagged byte from `i` on is exact.
        let mask = hits(word_at(n - 8)) >> (8 * (i - (n - 8)));
        if mask != 0 {
            i + (mask.trailing_zeros() / 8) as usize
        } else {
            n
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The first special byte found window by window, as the parser does.
    fn first_by_masks(b: &[u8]) -> usize {
        let mut at = 0;
        while at < b.len() {
            let (mask, width) = special_mask(b, at);
            if mask != 0 {
                return at + mask.trailing_zeros() as usize;
            }
            at += width;
        }
        b.len()
    }

    fn naive_special(b: &[u8]) -> usize {
        b.iter()
            .position(|&c| matches!(c, b'"' | b'\\' | 0..=0x1f))
            .unwrap_or(b.len())
    }

    #[test]
    fn every_stop_byte_is_found_at_every_position_of_every_length() {
        for len in 0..70 {
            for at in 0..len {
                for stop in [b'"', b'\\', 0u8, b'\n', 0x1f] {
                    let mut b = vec![b'x'; len];
                    b[at] = stop;
                    let want = if stop == b'\\' { at } else { len };
                    assert_eq!(first_backslash(&b), want, "{stop:#x} at {at} of {len}");
                }
            }
            let plain = vec![b'x'; len];
            assert_eq!(first_backslash(&plain), len);
        }
    }

    #[test]
    fn the_special_mask_flags_exactly_the_stop_bytes_of_its_window() {
        for len in 0..40 {
            for at in 0..=len {
                for stop in [b'"', b'\\', 0u8, b'\n', 0x1f, b'x'] {
                    for pos in at..len.max(at + 1) {
                        let mut b = vec![b'x'; len];
                        if pos < len {
                            b[pos] = stop;
                        }
                        let (mask, width) = special_mask(&b, at);
                        assert_eq!(width, (len - at).min(16), "{len} {at}");
                        let want = (0..width)
                            .filter(|&k| matches!(b[at + k], b'"' | b'\\' | 0..=0x1f))
                            .fold(0u32, |m, k| m | 1 << k);
                        assert_eq!(mask, want, "{stop:#x} at {pos} of {len} from {at}");
                    }
                }
            }
        }
    }

    #[test]
    fn bytes_above_0x7f_and_0x20_are_plain() {
        let b = "漢字 é ~\x7f".as_bytes();
        assert!((0..b.len()).all(|at| special_mask(b, at).0 == 0));
        assert_eq!(first_backslash(b), b.len());
    }

    proptest! {
        #[test]
        fn the_vector_and_word_scans_agree_with_a_byte_by_byte_one(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'"'), Just(b'\\'), Just(b'\n'), 0x20u8..=0xff], 0..80),
            plain_prefix in 0usize..40,
        ) {
            let mut b = vec![b'a'; plain_prefix];
            b.extend(bytes);
            prop_assert_eq!(first_by_masks(&b), naive_special(&b));
            let backslash = b.iter().position(|&c| c == b'\\').unwrap_or(b.len());
            prop_assert_eq!(first_backslash(&b), backslash);
            prop_assert_eq!(swar::first(&b, swar::backslash), backslash);
        }
    }
}
