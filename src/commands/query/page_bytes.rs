//! The data pages of the lake's string columns read as bytes, without parquet's decoders: a
//! text search inside a page of PLAIN values, the values of a dictionary page, the dictionary
//! indices of a data page, and definition levels.
//!
//! Decoding the content column value by value (parquet's column reader) cost a reference count
//! taken and dropped per value and one needle search per value: a third of a two-year
//! `--contains … --count` (perf), beside Snappy's 39%. A PLAIN page is `[u32 length][bytes]…`,
//! so the needle is searched once over the whole values region at memchr's full speed, and only
//! the values it is found in are located, by walking the lengths up to the hit. A hit that
//! starts in a length prefix or runs past its value's end is no match: the search resumes one
//! byte further, so an overlapping true match is not lost. The rows of the matching values come
//! from the definition levels (an optional column stores no bytes for a null), decoded only for
//! a page that has a hit.
//!
//! Likewise an equality filter on a dictionary-encoded column (`--from`, `--kind`) is decided
//! once per dictionary entry and then per row on the entry's index, instead of comparing a
//! string materialized for every row.
//!
//! Only what the lake's writer produces for a flat optional column is handled here: levels of bit
//! width 1 and indices in the RLE/bit-packed hybrid. Anything else is the caller's to decode the
//! slow way.

use memchr::memmem::Finder;
use parquet::basic::Encoding;
use parquet::column::page::Page;

/// A page's bytes that cannot be what their header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPage(pub String);

impl std::fmt::Display for BadPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(what: impl Into<String>) -> BadPage {
    BadPage(what.into())
}

/// A value of a PLAIN page that holds a needle: its index among the page's values and where
/// its bytes lie in the values region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ValueHit {
    pub index: usize,
    pub start: usize,
    pub end: usize,
}

/// A data page of a flat column split into its definition levels (None for a column without
/// nulls) and its values region, with its number of levels: its rows.
pub struct DataPageParts<'a> {
    pub levels: Option<&'a [u8]>,
    pub values: &'a [u8],
    pub rows: usize,
}

/// The parts of `page` if it is a data page (v1 or v2) whose values have one of `encodings` and
/// whose levels, if `nullable`, are RLE; None for any other page.
pub fn data_page_parts<'a>(
    page: &'a Page,
    nullable: bool,
    encodings: &[Encoding],
) -> Result<Option<DataPageParts<'a>>, BadPage> {
    match page {
        Page::DataPage {
            buf,
            num_values,
            encoding,
            def_level_encoding,
            ..
        } if encodings.contains(encoding) => {
            let rows = *num_values as usize;
            if !nullable {
                return Ok(Some(DataPageParts {
                    levels: None,
                    values: &buf[..],
                    rows,
                }));
            }
            if *def_level_encoding != Encoding::RLE {
                return Ok(None);
            }
            let len = buf
                .get(..4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("four bytes")) as usize)
                .ok_or_else(|| bad("a page too short for its levels"))?;
            let levels = buf
                .get(4..4 + len)
                .ok_or_else(|| bad("definition levels past the page's end"))?;
            Ok(Some(DataPageParts {
                levels: Some(levels),
                values: &buf[4 + len..],
                rows,
            }))
        }
        Page::DataPageV2 {
            buf,
            num_values,
            encoding,
            def_levels_byte_len,
            rep_levels_byte_len,
            ..
        } if encodings.contains(encoding) => {
            let (r, d) = (*rep_levels_byte_len as usize, *def_levels_byte_len as usize);
            let levels = buf
                .get(r..r + d)
                .ok_or_else(|| bad("definition levels past the page's end"))?;
            Ok(Some(DataPageParts {
                levels: nullable.then_some(levels),
                values: &buf[r + d..],
                rows: *num_values as usize,
            }))
        }
        _ => Ok(None),
    }
}

/// The values, ascending, of a PLAIN byte-array region `values` that contain one of `finders`'
/// needles (none of them empty), appended to `out`.
pub fn values_containing(
    values: &[u8],
    finders: &[Finder<'_>],
    out: &mut Vec<ValueHit>,
) -> Result<(), BadPage> {
    let first = out.len();
    if values.is_empty() {
        // A page of nulls only.
        return Ok(());
    }
    for finder in finders {
        let needle = finder.needle().len();
        debug_assert!(
            needle > 0,
            "an empty needle matches every value: the caller's case"
        );
        let before = out.len();
        // The value under the cursor: its index and where its length prefix starts.
        let (mut index, mut at) = (0usize, 0usize);
        let mut end = value_end(values, at)?;
        let mut from = 0;
        while let Some(found) = finder.find(&values[from..]) {
            let hit = from + found;
            while hit >= end {
                index += 1;
                at = end;
                end = value_end(values, at)?;
            }
            if hit >= at + 4 && hit + needle <= end {
                out.push(ValueHit {
                    index,
                    start: at + 4,
                    end,
                });
                // The rest of this value cannot add anything.
                from = end;
            } else {
                from = hit + 1;
            }
            if from >= values.len() {
                break;
            }
        }
        if finders.len() > 1 && before > first {
            // Each needle's hits are ascending; several needles' need merging.
            out[first..].sort_unstable();
            let mut kept = first;
            for i in first..out.len() {
                if kept == first || out[i].index != out[kept - 1].index {
                    out[kept] = out[i];
                    kept += 1;
                }
            }
            out.truncate(kept);
        }
    }
    Ok(())
}

/// The end of the value whose length prefix starts at `at`.
fn value_end(values: &[u8], at: usize) -> Result<usize, BadPage> {
    let prefix = values.get(at..at + 4).ok_or_else(|| {
        bad(format!(
            "a value's length is cut off at byte {at} of the page"
        ))
    })?;
    let len = u32::from_le_bytes(prefix.try_into().expect("four bytes")) as usize;
    let end = at + 4 + len;
    if end > values.len() {
        return Err(bad(format!(
            "a value of {len} bytes at byte {at} runs past the page's {} bytes",
            values.len()
        )));
    }
    Ok(end)
}

/// Calls `each` with every value of a PLAIN byte-array region holding `count` values (a
/// dictionary page), in order; the region must hold exactly those.
pub fn plain_values(
    values: &[u8],
    count: usize,
    mut each: impl FnMut(&[u8]),
) -> Result<(), BadPage> {
    let mut at = 0;
    for _ in 0..count {
        let end = value_end(values, at)?;
        each(&values[at + 4..end]);
        at = end;
    }
    if at != values.len() {
        return Err(bad(format!(
            "{count} values end at byte {at} of a page of {} bytes",
            values.len()
        )));
    }
    Ok(())
}

/// The first `count` dictionary indices of an RLE_DICTIONARY values region (one byte of bit
/// width, then the hybrid runs), into `out` (cleared first); each checked to be below
/// `dictionary_len`.
pub fn dictionary_indices(
    region: &[u8],
    count: usize,
    dictionary_len: usize,
    out: &mut Vec<u32>,
) -> Result<(), BadPage> {
    out.clear();
    if count == 0 {
        return Ok(());
    }
    let (&width, runs) = region
        .split_first()
        .ok_or_else(|| bad("a dictionary-encoded page without its bit width"))?;
    if width > 32 {
        return Err(bad(format!("dictionary indices of {width} bits")));
    }
    let width = usize::from(width);
    let value_bytes = width.div_ceil(8);
    let mask = if width == 32 {
        u64::from(u32::MAX)
    } else {
        (1u64 << width) - 1
    };
    let mut at = 0;
    while out.len() < count {
        let header = uleb128(runs, &mut at)?;
        let run = usize::try_from(header >> 1).map_err(|_| bad("an index run too long"))?;
        if header & 1 == 1 {
            // Bit-packed: `run` groups of eight indices of `width` bits, least significant first.
            let len = run.saturating_mul(width);
            let bytes = runs
                .get(at..at.saturating_add(len))
                .ok_or_else(|| bad("bit-packed dictionary indices are cut off"))?;
            at += len;
            let (mut acc, mut bits) = (0u64, 0usize);
            let mut bytes = bytes.iter();
            // The last group may be padded past `count`; nothing after it is read.
            for _ in 0..run.saturating_mul(8) {
                if out.len() == count {
                    break;
                }
                while bits < width {
                    acc |= u64::from(*bytes.next().expect("width bytes a group")) << bits;
                    bits += 8;
                }
                out.push((acc & mask) as u32);
                acc = if width == 0 { acc } else { acc >> width };
                bits -= width;
            }
        } else {
            if run == 0 {
                return Err(bad("an empty run of dictionary indices"));
            }
            let bytes = runs
                .get(at..at + value_bytes)
                .ok_or_else(|| bad("a run of dictionary indices is cut off"))?;
            at += value_bytes;
            let value = bytes
                .iter()
                .rev()
                .fold(0u32, |v, &b| (v << 8) | u32::from(b));
            let take = run.min(count - out.len());
            out.extend(std::iter::repeat_n(value, take));
        }
    }
    if let Some(&i) = out.iter().find(|&&i| i as usize >= dictionary_len) {
        return Err(bad(format!(
            "dictionary index {i} past the dictionary's {dictionary_len} values"
        )));
    }
    Ok(())
}

/// The positions, ascending, of the levels equal to 1 among the first `count` levels of a
/// bit-width-1 RLE/bit-packed hybrid run sequence, into `out` (cleared first). For an optional
/// flat column: the rows of the page that have a value.
pub fn present_positions(levels: &[u8], count: usize, out: &mut Vec<u32>) -> Result<(), BadPage> {
    out.clear();
    let (mut at, mut row) = (0usize, 0usize);
    while row < count {
        let header = uleb128(levels, &mut at)?;
        let run = usize::try_from(header >> 1).map_err(|_| bad("a level run too long"))?;
        if header & 1 == 1 {
            // Bit-packed: `run` groups of eight levels, one byte per group at bit width 1.
            let bytes = levels
                .get(at..at.saturating_add(run))
                .ok_or_else(|| bad("bit-packed definition levels are cut off"))?;
            at += run;
            for (g, &byte) in bytes.iter().enumerate() {
                for bit in 0..8 {
                    let r = row + g * 8 + bit;
                    if r < count && byte >> bit & 1 == 1 {
                        out.push(r as u32);
                    }
                }
            }
            row = row.saturating_add(run.saturating_mul(8));
        } else {
            if run == 0 {
                return Err(bad("an empty run of definition levels"));
            }
            let value = *levels
                .get(at)
                .ok_or_else(|| bad("a run of definition levels is cut off"))?;
            at += 1;
            match value {
                0 => {}
                1 => out.extend((row..row.saturating_add(run).min(count)).map(|r| r as u32)),
                v => {
                    return Err(bad(format!(
                        "definition level {v} in a column whose levels are 0 or 1"
                    )));
                }
            }
            row = row.saturating_add(run);
        }
    }
    Ok(())
}

fn uleb128(bytes: &[u8], at: &mut usize) -> Result<u64, BadPage> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes
            .get(*at)
            .ok_or_else(|| bad("a run header of the definition levels is cut off"))?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(bad(
        "a run header of the definition levels is longer than 64 bits",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn plain(values: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in values {
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v);
        }
        out
    }

    fn search(values: &[&[u8]], needles: &[&str]) -> Vec<usize> {
        let finders: Vec<_> = needles.iter().map(|n| Finder::new(n.as_bytes())).collect();
        let page = plain(values);
        let kept = ValueHit {
            index: 99,
            start: 0,
            end: 0,
        };
        let mut out = vec![kept];
        values_containing(&page, &finders, &mut out).unwrap();
        assert_eq!(out.remove(0), kept, "what was in `out` stays");
        for hit in &out {
            assert_eq!(
                &page[hit.start..hit.end],
                values[hit.index],
                "a hit's bytes are its value's"
            );
        }
        out.iter().map(|h| h.index).collect()
    }

    #[test]
    fn values_holding_a_needle_are_found_and_the_others_not() {
        let values: [&[u8]; 6] = [b"disk full", b"", b"ok", b"full disk", b"ful", b"l"];
        assert_eq!(search(&values, &["full"]), [0, 3]);
        assert_eq!(search(&values, &["ok", "disk"]), [0, 2, 3]);
        assert_eq!(search(&values, &["nothing"]), Vec::<usize>::new());
        assert_eq!(search(&[], &["x"]), Vec::<usize>::new());
    }

    #[test]
    fn a_needle_across_two_values_or_in_a_length_is_no_match() {
        // "ab" spans the end of value 0 and the start of value 1's length prefix; "ful" + "l".
        assert_eq!(search(&[b"xa", b"b"], &["ab"]), Vec::<usize>::new());
        assert_eq!(search(&[b"ful", b"l"], &["full"]), Vec::<usize>::new());
        // A value of 0x61 ('a') bytes has a length prefix that reads "a\0\0\0".
        let long = vec![b'z'; 0x61];
        assert_eq!(search(&[&long, b"a"], &["a"]), [1]);
    }

    #[test]
    fn a_match_overlapping_a_false_hit_is_still_found() {
        // The page is [2,0,0,0][0,0]: "\0\0" is first found at bytes 1, 2 and 3 (in the length
        // prefix); a search resuming after each false hit's end would jump over the true one at 4.
        assert_eq!(search(&[b"\x00\x00"], &["\x00\x00"]), [0]);
        assert_eq!(search(&[b"aaa"], &["aa"]), [0]);
    }

    #[test]
    fn a_truncated_page_is_an_error_not_a_panic() {
        let mut page = plain(&[b"hello", b"world"]);
        page.truncate(page.len() - 2);
        let mut out = Vec::new();
        let f = [Finder::new("wor")];
        assert!(values_containing(&page, &f, &mut out).is_err());
        assert!(values_containing(&[1, 0], &f, &mut out).is_err());
    }

    /// The hybrid encoding of `levels`, alternating RLE and bit-packed runs as a writer may.
    fn hybrid(levels: &[bool]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        let mut packed = false;
        while i < levels.len() {
            if packed {
                let groups = ((levels.len() - i).min(16)).div_ceil(8);
                out.push(((groups as u8) << 1) | 1);
                for g in 0..groups {
                    let mut byte = 0u8;
                    for bit in 0..8 {
                        if levels.get(i + g * 8 + bit) == Some(&true) {
                            byte |= 1 << bit;
                        }
                    }
                    out.push(byte);
                }
                i += groups * 8;
            } else {
                let v = levels[i];
                let run = levels[i..].iter().take_while(|&&l| l == v).count();
                let mut header = (run as u64) << 1;
                while header >= 0x80 {
                    out.push((header as u8) | 0x80);
                    header >>= 7;
                }
                out.push(header as u8);
                out.push(u8::from(v));
                i += run;
            }
            packed = !packed;
        }
        out
    }

    proptest! {
        #[test]
        fn present_positions_are_the_levels_that_are_one(levels in proptest::collection::vec(any::<bool>(), 0..600)) {
            let mut out = Vec::new();
            present_positions(&hybrid(&levels), levels.len(), &mut out).unwrap();
            let expected: Vec<u32> = (0..levels.len() as u32).filter(|&i| levels[i as usize]).collect();
            prop_assert_eq!(out, expected);
        }

        #[test]
        fn values_containing_agrees_with_a_search_of_each_value(
            values in proptest::collection::vec(proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(b'a'), Just(b'b')], 0..12), 0..40),
            needles in proptest::collection::vec(proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(b'a'), Just(b'b')], 1..4), 1..3),
        ) {
            let slices: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
            let finders: Vec<_> = needles.iter().map(|n| Finder::new(n.as_slice())).collect();
            let mut out = Vec::new();
            values_containing(&plain(&slices), &finders, &mut out).unwrap();
            let out: Vec<usize> = out.iter().map(|h| h.index).collect();
            let expected: Vec<usize> = (0..values.len())
                .filter(|&i| finders.iter().any(|f| f.find(&values[i]).is_some()))
                .collect();
            prop_assert_eq!(out, expected);
        }
    }

    #[test]
    fn levels_other_than_zero_and_one_or_cut_off_runs_are_errors() {
        let mut out = Vec::new();
        assert!(present_positions(&[4 << 1, 2], 4, &mut out).is_err());
        assert!(present_positions(&[4 << 1], 4, &mut out).is_err());
        assert!(present_positions(&[(2 << 1) | 1, 0xff], 16, &mut out).is_err());
        assert!(present_positions(&[0], 1, &mut out).is_err());
        assert!(present_positions(&[0x80, 0x80], 1, &mut out).is_err());
    }

    /// The hybrid encoding of `indices` at `width` bits: a run of one value RLE-encoded when it
    /// is eight or longer, the rest bit-packed, as parquet's writer chooses.
    fn indices_region(indices: &[u32], width: u8) -> Vec<u8> {
        let mut out = vec![width];
        let w = usize::from(width);
        let push_header = |out: &mut Vec<u8>, mut h: u64| {
            while h >= 0x80 {
                out.push((h as u8) | 0x80);
                h >>= 7;
            }
            out.push(h as u8);
        };
        let mut i = 0;
        while i < indices.len() {
            let run = indices[i..]
                .iter()
                .take_while(|&&v| v == indices[i])
                .count();
            if run >= 8 {
                push_header(&mut out, (run as u64) << 1);
                out.extend_from_slice(&indices[i].to_le_bytes()[..w.div_ceil(8)]);
                i += run;
            } else {
                let group = &indices[i..(i + 8).min(indices.len())];
                push_header(&mut out, (1 << 1) | 1);
                let (mut acc, mut bits) = (0u64, 0);
                for k in 0..8 {
                    acc |= u64::from(group.get(k).copied().unwrap_or(0)) << bits;
                    bits += w;
                    while bits >= 8 {
                        out.push(acc as u8);
                        acc >>= 8;
                        bits -= 8;
                    }
                }
                i += group.len();
            }
        }
        out
    }

    proptest! {
        #[test]
        fn dictionary_indices_are_decoded_as_encoded(
            width in 0u8..=20,
            picks in proptest::collection::vec((any::<u32>(), 1usize..20), 0..40),
        ) {
            let limit = if width == 0 { 1 } else { 1u64 << width };
            let indices: Vec<u32> = picks
                .iter()
                .flat_map(|&(v, n)| std::iter::repeat_n((u64::from(v) % limit) as u32, n))
                .collect();
            let mut out = Vec::new();
            dictionary_indices(&indices_region(&indices, width), indices.len(), limit as usize, &mut out).unwrap();
            prop_assert_eq!(out, indices);
        }
    }

    #[test]
    fn an_index_past_the_dictionary_or_a_cut_off_run_is_an_error() {
        let region = indices_region(&[0, 1, 2, 3], 2);
        let mut out = Vec::new();
        assert!(dictionary_indices(&region, 4, 4, &mut out).is_ok());
        assert!(dictionary_indices(&region, 4, 3, &mut out).is_err());
        assert!(dictionary_indices(&region[..2], 4, 4, &mut out).is_err());
        assert!(dictionary_indices(&[], 1, 4, &mut out).is_err());
        assert!(dictionary_indices(&[33, 2, 0], 1, 4, &mut out).is_err());
        assert!(dictionary_indices(&[], 0, 4, &mut out).is_ok());
        // Width 0 with a bit-packed run of 2^62 groups: the three indices asked for, at once.
        let huge = [0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        dictionary_indices(&huge, 3, 1, &mut out).unwrap();
        assert_eq!(out, [0, 0, 0]);
    }

    #[test]
    fn plain_values_walks_every_value_and_rejects_a_wrong_count() {
        let page = plain(&[b"a", b"", b"ccc"]);
        let mut seen = Vec::new();
        plain_values(&page, 3, |v| seen.push(v.to_vec())).unwrap();
        assert_eq!(seen, [b"a".to_vec(), vec![], b"ccc".to_vec()]);
        assert!(plain_values(&page, 2, |_| {}).is_err());
        assert!(plain_values(&page, 4, |_| {}).is_err());
    }
}
