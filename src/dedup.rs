//! The seen-set over msg_ids that makes ingest exactly-once.
//!
//! Pure and compact: an all-digit id without leading zeros (what WeChat sends, up to 38 digits)
//! is held as a 128-bit number, anything else as its text, both exactly: two ids are the same
//! exactly when their texts are. Each entry also keeps a hash of the row's other fields so that a
//! duplicate whose fields differ (a *conflicting* duplicate) can be told from a plain resend;
//! ids loaded from the lake carry [`UNKNOWN_HASH`] until their stored row is compared.

use rustc_hash::FxHashMap;

/// The row hash recorded for ids loaded from the lake (their rows are compared on demand).
pub const UNKNOWN_HASH: u64 = 0;

/// What [`SeenIds::check_insert`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time: the id is now recorded.
    New,
    /// Seen before; carries the first copy's row hash ([`UNKNOWN_HASH`] for a lake copy).
    Duplicate { first_hash: u64 },
}

/// A set of msg_ids with the row hash of their first copy.
#[derive(Debug, Default)]
pub struct SeenIds {
    numeric: FxHashMap<[u64; 2], u64>,
    text: FxHashMap<Box<str>, u64>,
}

fn numeric_key(id: &str) -> Option<[u64; 2]> {
    let b = id.as_bytes();
    if b.is_empty()
        || b.len() > 38
        || (b.len() > 1 && b[0] == b'0')
        || !b.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let n: u128 = id.parse().ok()?;
    Some([(n >> 64) as u64, n as u64])
}

impl SeenIds {
    pub fn new() -> Self {
        Self::default()
    }

    /// Record `id` with row hash `hash` unless present; say whether it was.
    pub fn check_insert(&mut self, id: &str, hash: u64) -> Seen {
        use std::collections::hash_map::Entry;
        let found = match numeric_key(id) {
            Some(k) => match self.numeric.entry(k) {
                Entry::Occupied(e) => Some(*e.get()),
                Entry::Vacant(e) => {
                    e.insert(hash);
                    None
                }
            },
            None => match self.text.get(id) {
                Some(h) => Some(*h),
                None => {
                    self.text.insert(id.into(), hash);
                    None
                }
            },
        };
        match found {
            Some(first_hash) => Seen::Duplicate { first_hash },
            None => Seen::New,
        }
    }

    /// Record an id already stored in the lake.
    pub fn insert_stored(&mut self, id: &str) {
        self.check_insert(id, UNKNOWN_HASH);
    }

    pub fn contains(&self, id: &str) -> bool {
        match numeric_key(id) {
            Some(k) => self.numeric.contains_key(&k),
            None => self.text.contains_key(id),
        }
    }

    pub fn len(&self) -> usize {
        self.numeric.len() + self.text.len()
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
