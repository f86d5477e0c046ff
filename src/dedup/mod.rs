//! The seen-set over msg_ids that makes ingest exactly-once.
//!
//! Pure and compact: an all-digit id without leading zeros (what WeChat sends, up to 38 digits)
//! is held as a 128-bit number, anything else as its text, both exactly: two ids are the same
//! exactly when their texts are. Each entry also keeps a hash of the row's other fields so that a
//! duplicate whose fields differ (a *conflicting* duplicate) can be told from a plain resend;
//! ids loaded from the lake carry [`UNKNOWN_HASH`] until their stored row is compared.

use rustc_hash::FxHashMap;

mod narrow_table;

pub use narrow_table::NarrowTable;

/// The row hash recorded for ids loaded from the lake (their rows are compared on demand).
pub const UNKNOWN_HASH: u32 = 0;

/// What [`SeenIds::check_insert`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time: the id is now recorded.
    New,
    /// Seen before; carries the first copy's row hash ([`UNKNOWN_HASH`] for a lake copy).
    Duplicate { first_hash: u32 },
}

/// A set of msg_ids with the row hash of their first copy.
///
/// Ids below 2^64 (nearly all) get a table of their own with 12-byte entries
/// ([`NarrowTable`]): at a million ids per partition, the table is the largest part of ingest's
/// memory, and its growth step its peak; its lookups can be prefetched ([`SeenIds::prefetch`]).
#[derive(Debug, Default)]
pub struct SeenIds {
    narrow: NarrowTable,
    wide: FxHashMap<u128, u32>,
    text: FxHashMap<Box<str>, u32>,
}

/// How an id is held.
enum Key<'a> {
    Narrow(u64),
    Wide(u128),
    Text(&'a str),
}

fn key(id: &str) -> Key<'_> {
    let b = id.as_bytes();
    if b.is_empty() || b.len() > 38 || (b.len() > 1 && b[0] == b'0') {
        return Key::Text(id);
    }
    // Up to 19 digits always fit in a u64; the parse checks digits as it goes.
    let mut n: u64 = 0;
    for &c in &b[..b.len().min(19)] {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return Key::Text(id);
        }
        n = n * 10 + u64::from(d);
    }
    if b.len() <= 19 {
        return Key::Narrow(n);
    }
    let mut wide = u128::from(n);
    for &c in &b[19..] {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return Key::Text(id);
        }
        wide = wide * 10 + u128::from(d); // 38 digits < 2^127: no overflow
    }
    match u64::try_from(wide) {
        Ok(n) => Key::Narrow(n),
        Err(_) => Key::Wide(wide),
    }
}

/// Insert `hash` under `key` unless present; the first copy's hash if it was.
fn check_insert_in<K: std::hash::Hash + Eq>(
    map: &mut FxHashMap<K, u32>,
    key: K,
    hash: u32,
) -> Option<u32> {
    use std::collections::hash_map::Entry;
    match map.entry(key) {
        Entry::Occupied(e) => Some(*e.get()),
        Entry::Vacant(e) => {
            e.insert(hash);
            None
        }
    }
}

impl SeenIds {
    pub fn new() -> Self {
        Self::default()
    }

    /// Record `id` with row hash `hash` unless present; say whether it was.
    pub fn check_insert(&mut self, id: &str, hash: u32) -> Seen {
        let found = match key(id) {
            Key::Narrow(n) => self.narrow.check_insert(n, hash),
            Key::Wide(n) => check_insert_in(&mut self.wide, n, hash),
            Key::Text(t) => match self.text.get(t) {
                Some(h) => Some(*h),
                None => {
                    self.text.insert(t.into(), hash);
                    None
                }
            },
        };
        match found {
            Some(first_hash) => Seen::Duplicate { first_hash },
            None => Seen::New,
        }
    }

    /// Start loading the memory a lookup of `id` will read (an id below 2^64: the others are
    /// rare), so that deciding the rows of a chunk does not wait for each one's in turn.
    #[inline]
    pub fn prefetch(&self, id: &str) {
        if let Key::Narrow(n) = key(id) {
            self.narrow.prefetch(n);
        }
    }

    /// About `total` ids are expected in all (see [`NarrowTable::expect`]).
    pub fn expect(&mut self, total: usize) {
        self.narrow.expect(total);
    }

    /// Record an id already stored in the lake.
    pub fn insert_stored(&mut self, id: &str) {
        self.check_insert(id, UNKNOWN_HASH);
    }

    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// The row hash recorded with `id`, if it is present.
    pub fn get(&self, id: &str) -> Option<u32> {
        match key(id) {
            Key::Narrow(n) => self.narrow.get(n),
            Key::Wide(n) => self.wide.get(&n).copied(),
            Key::Text(t) => self.text.get(t).copied(),
        }
    }

    /// Forget `id` (a copy recorded before it turned out to be a duplicate of another
    /// partition's).
    pub fn remove(&mut self, id: &str) {
        match key(id) {
            Key::Narrow(n) => {
                self.narrow.remove(n);
            }
            Key::Wide(n) => {
                self.wide.remove(&n);
            }
            Key::Text(t) => {
                self.text.remove(t);
            }
        }
    }

    /// Call `f` with the text of every id recorded by [`SeenIds::check_insert`] with a row
    /// hash (the ids added, not those loaded from the lake).
    pub fn for_each_added(&self, mut f: impl FnMut(&str)) {
        let mut buf = itoa::Buffer::new();
        for (id, hash) in self.narrow.iter() {
            if hash != UNKNOWN_HASH {
                f(buf.format(id));
            }
        }
        for (id, hash) in &self.wide {
            if *hash != UNKNOWN_HASH {
                f(buf.format(*id));
            }
        }
        for (id, hash) in &self.text {
            if *hash != UNKNOWN_HASH {
                f(id);
            }
        }
    }

    /// Call `f` with the text of every id recorded, loaded or added.
    pub fn for_each_id(&self, mut f: impl FnMut(&str)) {
        let mut buf = itoa::Buffer::new();
        for (id, _) in self.narrow.iter() {
            f(buf.format(id));
        }
        for id in self.wide.keys() {
            f(buf.format(*id));
        }
        for id in self.text.keys() {
            f(id);
        }
    }

    pub fn len(&self) -> usize {
        self.narrow.len() + self.wide.len() + self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_id_and_no_rounding() {
        let mut s = SeenIds::new();
        assert_eq!(s.check_insert("7234567890123456789", 5), Seen::New);
        assert_eq!(
            s.check_insert("7234567890123456789", 6),
            Seen::Duplicate { first_hash: 5 }
        );
        // Neighbours above 2^63 and 2^64 stay distinct.
        assert_eq!(s.check_insert("18446744073709551616", 1), Seen::New);
        assert_eq!(s.check_insert("18446744073709551617", 1), Seen::New);
        assert_eq!(
            s.check_insert("12345678901234567890123456789012345678", 1),
            Seen::New
        );
        assert_eq!(
            s.check_insert("123456789012345678901234567890123456789", 1),
            Seen::New
        );
        assert!(s.contains("123456789012345678901234567890123456789"));
        assert_eq!(s.len(), 5);
        // 2^64 - 1 and 2^64 on either side of the narrow/wide split, written both ways.
        assert_eq!(s.check_insert("18446744073709551615", 1), Seen::New);
        assert!(s.contains("18446744073709551615"));
        assert!(s.contains("18446744073709551616"));
        assert!(!s.contains("018446744073709551616"));
        assert!(!s.contains("1844674407370955161x"));
    }

    #[test]
    fn leading_zeros_and_text_ids_are_their_own_ids() {
        let mut s = SeenIds::new();
        assert_eq!(s.check_insert("7", 1), Seen::New);
        assert_eq!(s.check_insert("07", 1), Seen::New);
        assert_eq!(s.check_insert("-7", 1), Seen::New);
        assert_eq!(s.check_insert("abc", 1), Seen::New);
        assert_eq!(s.check_insert("abc", 2), Seen::Duplicate { first_hash: 1 });
        assert_eq!(s.check_insert("0", 1), Seen::New);
        assert_eq!(s.check_insert("0", 1), Seen::Duplicate { first_hash: 1 });
    }

    #[test]
    fn added_ids_come_back_as_their_texts_and_can_be_removed() {
        let mut s = SeenIds::new();
        s.insert_stored("1");
        for id in [
            "7234567890123456789",
            "18446744073709551616",
            "abc",
            "07",
            "0",
        ] {
            assert_eq!(s.check_insert(id, 3), Seen::New);
        }
        let mut added = Vec::new();
        s.for_each_added(|id| added.push(id.to_string()));
        added.sort();
        assert_eq!(
            added,
            [
                "0",
                "07",
                "18446744073709551616",
                "7234567890123456789",
                "abc"
            ]
        );
        assert_eq!(s.get("abc"), Some(3));
        assert_eq!(s.get("1"), Some(UNKNOWN_HASH));
        s.remove("abc");
        s.remove("18446744073709551616");
        s.remove("7234567890123456789");
        assert!(!s.contains("abc") && !s.contains("18446744073709551616"));
        assert!(!s.contains("7234567890123456789"));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn stored_ids_have_unknown_hash() {
        let mut s = SeenIds::new();
        s.insert_stored("42");
        assert_eq!(
            s.check_insert("42", 9),
            Seen::Duplicate {
                first_hash: UNKNOWN_HASH
            }
        );
    }
}

#[cfg(test)]
mod properties {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Two ids are the same exactly when their texts are, whichever table holds them.
        #[test]
        fn behaves_like_a_map_of_texts(
            ids in prop::collection::vec(
                prop_oneof![
                    "[0-9]{1,3}",
                    "[1-9][0-9]{17,21}",
                    "[0-9]{36,40}",
                    "1844674407370955161[0-9]",
                    "[0-9a]{1,5}",
                ],
                0..40,
            ),
        ) {
            let mut seen = SeenIds::new();
            let mut model: HashMap<String, u32> = HashMap::new();
            for (hash, id) in (1..).zip(&ids) {
                let want = match model.get(id) {
                    Some(&first_hash) => Seen::Duplicate { first_hash },
                    None => {
                        model.insert(id.clone(), hash);
                        Seen::New
                    }
                };
                prop_assert_eq!(seen.check_insert(id, hash), want, "{}", id);
            }
            prop_assert_eq!(seen.len(), model.len());
        }
    }
}
