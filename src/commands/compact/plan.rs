//! The compaction planner: which partitions to rewrite, into how many files. Pure: a function of
//! a listing (file sizes, rows and codecs from the footers), unit-tested without a disk.
//!
//! A partition is rewritten when its rows fit in fewer files than it has: with `n` files of
//! `b` bytes in all and a target size `t`, it gets `max(1, ceil(b / t))` files, and is left
//! alone when that is not fewer than `n`. So a compact partition is never rewritten again
//! (idempotence), and a partition of several files well under the target becomes one.

use serde::Serialize;

use crate::lake::footer::FileInfo;
pub use crate::lake::listing::PartitionListing;
use crate::lake::listing::{files_for, partition_codec};
use crate::lake::writer::Codec;
use crate::partition::PartitionKey;

/// One partition to rewrite.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionPlan {
    #[serde(serialize_with = "crate::lake::listing::key_string")]
    pub key: PartitionKey,
    #[serde(skip)]
    pub inputs: Vec<FileInfo>,
    pub input_files: u64,
    pub input_bytes: u64,
    pub rows: u64,
    pub output_files: u64,
    /// About the input bytes: same rows, same codec.
    pub expected_bytes: u64,
    #[serde(serialize_with = "crate::lake::listing::codec_string")]
    pub codec: Codec,
}

crate::planned_by_fields!(PartitionPlan);

/// Plan the compaction of `listings` with files of about `target` bytes. A partition with a file
/// from a newer schema (columns this version does not know) is never planned: rewriting it would
/// drop those columns.
pub fn plan_compaction(listings: &[PartitionListing], target: u64) -> Vec<PartitionPlan> {
    listings
        .iter()
        .filter_map(|p| {
            let n = p.files.len() as u64;
            let bytes: u64 = p.files.iter().map(|f| f.bytes).sum();
            let wanted = files_for(bytes, target);
            let newer = p.files.iter().any(|f| !f.unknown_columns.is_empty());
            (n > 1 && wanted < n && !newer).then(|| PartitionPlan {
                key: p.key,
                inputs: p.files.clone(),
                input_files: n,
                input_bytes: bytes,
                rows: p.files.iter().map(|f| f.rows).sum(),
                output_files: wanted,
                expected_bytes: bytes,
                codec: partition_codec(&p.files),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    const MIB: u64 = 1 << 20;

    fn file(name: &str, bytes: u64, codec: Codec) -> FileInfo {
        FileInfo {
            path: name.into(),
            bytes,
            rows: bytes / 100,
            codec,
            unknown_columns: Vec::new(),
            timezone: None,
            checksum: None,
            schema_version: crate::record::SCHEMA_VERSION,
        }
    }

    fn listing(day: u32, files: Vec<FileInfo>) -> PartitionListing {
        PartitionListing {
            key: PartitionKey(NaiveDate::from_ymd_opt(2026, 1, day).unwrap()),
            files,
        }
    }

    #[test]
    fn small_files_merge_into_as_few_as_the_target_allows() {
        let many: Vec<_> = (0..24)
            .map(|i| file(&format!("f{i}"), MIB, Codec::Snappy))
            .collect();
        let plan = plan_compaction(&[listing(1, many)], 128 * MIB);
        assert_eq!(plan.len(), 1);
        assert_eq!((plan[0].input_files, plan[0].output_files), (24, 1));
        assert_eq!(plan[0].rows, 24 * (MIB / 100));
        let plan = plan_compaction(
            &[listing(
                2,
                (0..5)
                    .map(|i| file(&format!("g{i}"), 100 * MIB, Codec::Snappy))
                    .collect(),
            )],
            128 * MIB,
        );
        assert_eq!(plan[0].output_files, 4, "500 MiB at 128 MiB per file");
    }

    #[test]
    fn compact_partitions_are_left_alone() {
        let listings = [
            listing(1, vec![file("a", 10 * MIB, Codec::Snappy)]),
            listing(2, vec![]),
            listing(
                3,
                vec![
                    file("b", 128 * MIB, Codec::Snappy),
                    file("c", 100 * MIB, Codec::Snappy),
                ],
            ),
        ];
        assert!(plan_compaction(&listings, 128 * MIB).is_empty());
        let mut newer = file("n", MIB, Codec::Snappy);
        newer.unknown_columns = vec!["reply_to".into()];
        let with_newer = listing(5, vec![file("m", MIB, Codec::Snappy), newer]);
        assert!(plan_compaction(&[with_newer], 128 * MIB).is_empty());
        // ... but a big file and a small one fit in one at a larger target.
        assert_eq!(plan_compaction(&listings, 256 * MIB).len(), 1);
    }

    #[test]
    fn the_partition_keeps_the_codec_of_most_of_its_bytes() {
        let files = vec![
            file("old", 50 * MIB, Codec::Zstd(19)),
            file("late1", MIB, Codec::Snappy),
            file("late2", MIB, Codec::Snappy),
        ];
        assert_eq!(partition_codec(&files), Codec::Zstd(19));
        let plan = plan_compaction(&[listing(4, files)], 128 * MIB);
        assert_eq!(plan[0].codec, Codec::Zstd(19));
        assert_eq!(partition_codec(&[]), Codec::Snappy);
        assert_eq!(files_for(0, 128), 1);
        assert_eq!(files_for(129, 128), 2);
    }
}
