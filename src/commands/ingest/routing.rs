//! The exactly-once decision for one chunk of normalized rows: which partition each row belongs
//! to, and whether it is new there, a copy of a row this run or the lake already has (in any
//! partition), or a conflicting copy (same msg_id, other fields).
//!
//! Pure but for [`StoredIds`]: the msg_ids a partition stores are read through it the first time
//! a row needs them (the lake's files in a run, memory in the tests below). Rows are decided in
//! line order, so the first copy wins.

use arrow_array::{Int64Array, StringArray};

use crate::commands::ingest::chunk_rows::RowMeta;
use crate::commands::ingest::lake_ids::{LakeIds, StoredIds, Verdict};
use crate::dedup::UNKNOWN_HASH;
use crate::error::Result;
use crate::partition::PartitionKey;

/// What [`route`] decided for a chunk.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Routing {
    /// The new rows (indexes into the chunk) per partition, in line order; every partition a
    /// row maps to, in order of its first row (with no rows when all its rows were copies).
    pub new_rows: Vec<(PartitionKey, Vec<u32>)>,
    /// Rows that copy a row of this run or of the lake.
    pub duplicates: u64,
    /// Copies of a row this run read, whose fields differ from it.
    pub conflicts: Vec<u32>,
    /// Copies of a row the lake stores (in the partition named): whether they conflict is known
    /// only once the stored row is read.
    pub copies_of_stored: Vec<(PartitionKey, u32)>,
}

impl Routing {
    /// How many rows are new.
    pub fn written(&self) -> u64 {
        self.new_rows.iter().map(|(_, r)| r.len() as u64).sum()
    }
}

/// Decide every row of a chunk: `times` and `ids` are its create_time and msg_id columns,
/// `meta` its rows' hashes, `partition` maps a create_time to its partition.
pub fn route(
    times: &Int64Array,
    ids: &StringArray,
    meta: &[RowMeta],
    mut partition: impl FnMut(i64) -> PartitionKey,
    lake_ids: &mut LakeIds,
    stored: &mut impl StoredIds,
) -> Result<Routing> {
    let mut out = Routing::default();
    let n = meta.len();
    let mut at = 0;
    // Rows ahead of the one decided whose index memory is loaded meanwhile.
    const AHEAD: usize = 8;
    for (i, row) in meta.iter().enumerate().take(AHEAD) {
        lake_ids.prefetch(ids.value(i), row.id_hash);
    }
    for (i, row) in meta.iter().enumerate() {
        if let Some(ahead) = meta.get(i + AHEAD) {
            lake_ids.prefetch(ids.value(i + AHEAD), ahead.id_hash);
        }
        let key = partition(times.value(i));
        if out.new_rows.get(at).is_none_or(|(k, _)| *k != key) {
            at = match out.new_rows.iter().position(|(k, _)| *k == key) {
                Some(at) => at,
                None => {
                    out.new_rows.push((key, Vec::with_capacity(n - i)));
                    out.new_rows.len() - 1
                }
            };
        }
        match lake_ids.check_insert(stored, key, ids.value(i), *row)? {
            Verdict::New => out.new_rows[at].1.push(i as u32),
            Verdict::Duplicate { of, first_hash } => {
                out.duplicates += 1;
                if first_hash == UNKNOWN_HASH {
                    out.copies_of_stored.push((of, i as u32));
                } else if first_hash != row.hash {
                    out.conflicts.push(i as u32);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::dedup::SeenIds;
    use crate::lake::Layout;
    use crate::lake::msg_index::{MsgIndex, hash_id};

    /// Partitions' stored msg_ids, in memory.
    #[derive(Default)]
    struct Stored(HashMap<PartitionKey, Vec<&'static str>>, u32);

    impl StoredIds for Stored {
        fn load_ids(&mut self, key: PartitionKey, seen: &mut SeenIds) -> Result<u64> {
            self.1 += 1;
            let ids = self.0.get(&key).cloned().unwrap_or_default();
            for id in &ids {
                seen.insert_stored(id);
            }
            Ok(ids.len() as u64)
        }
    }

    fn day(d: u32) -> PartitionKey {
        PartitionKey(chrono::NaiveDate::from_ymd_opt(2026, 1, d).unwrap())
    }

    /// Rows (msg_id, day, row hash) as a chunk: days map to their partition.
    fn chunk(rows: &[(&str, u32, u32)]) -> (Int64Array, StringArray, Vec<RowMeta>) {
        let times: Int64Array = rows.iter().map(|r| i64::from(r.1)).collect();
        let ids: StringArray = rows.iter().map(|r| Some(r.0)).collect();
        let meta = rows
            .iter()
            .enumerate()
            .map(|(i, r)| RowMeta {
                line: i as u64 + 1,
                hash: r.2,
                id_hash: hash_id(r.0),
                maybe_stored: true,
            })
            .collect();
        (times, ids, meta)
    }

    fn decide(rows: &[(&str, u32, u32)], stored: &mut Stored) -> Routing {
        let dir = tempfile::tempdir().unwrap();
        let index = MsgIndex::open(&Layout::new(dir.path()), "test").unwrap();
        let mut lake_ids = LakeIds::new(index);
        let (times, ids, meta) = chunk(rows);
        route(
            &times,
            &ids,
            &meta,
            |t| day(t as u32),
            &mut lake_ids,
            stored,
        )
        .unwrap()
    }

    #[test]
    fn new_rows_go_to_the_partition_of_their_time_in_line_order() {
        let mut stored = Stored::default();
        let r = decide(
            &[("a", 2, 1), ("b", 2, 1), ("late", 1, 1), ("c", 2, 1)],
            &mut stored,
        );
        assert_eq!(r.new_rows, [(day(2), vec![0, 1, 3]), (day(1), vec![2])]);
        assert_eq!((r.written(), r.duplicates), (4, 0));
        assert_eq!(stored.1, 2, "each partition's stored ids read once");
    }

    #[test]
    fn a_late_arrival_already_stored_in_its_day_is_a_copy_of_the_stored_row() {
        let mut stored = Stored(HashMap::from([(day(1), vec!["late"])]), 0);
        let r = decide(&[("a", 2, 1), ("late", 1, 5)], &mut stored);
        assert_eq!(r.new_rows, [(day(2), vec![0]), (day(1), vec![])]);
        assert_eq!(r.duplicates, 1);
        assert_eq!(r.copies_of_stored, [(day(1), 1)]);
        assert!(
            r.conflicts.is_empty(),
            "decided once the stored row is read"
        );
    }

    #[test]
    fn a_second_copy_in_the_run_is_a_duplicate_and_a_conflict_when_its_fields_differ() {
        let mut stored = Stored::default();
        let r = decide(&[("a", 2, 7), ("a", 2, 7), ("a", 2, 8)], &mut stored);
        assert_eq!(r.new_rows, [(day(2), vec![0])]);
        assert_eq!(r.duplicates, 2);
        assert_eq!(
            r.conflicts,
            [2],
            "only the copy with other fields conflicts"
        );
    }

    #[test]
    fn a_copy_in_another_day_is_a_duplicate_of_the_first_wherever_it_is() {
        // Re-stamped: the same msg_id with a create_time on another day.
        let mut stored = Stored(HashMap::from([(day(1), vec!["s"])]), 0);
        let r = decide(&[("a", 1, 3), ("a", 3, 4), ("s", 1, 1)], &mut stored);
        assert_eq!(r.new_rows, [(day(1), vec![0]), (day(3), vec![])]);
        assert_eq!(r.duplicates, 2);
        assert_eq!(r.conflicts, [1], "other fields (its time): a conflict");
        assert_eq!(r.copies_of_stored, [(day(1), 2)]);
    }
}
