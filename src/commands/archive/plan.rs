//! The archive planner: which tier each partition belongs to, and which partitions are not yet
//! at their tier's codec. Pure: a function of a listing (codecs from the footers' key-value
//! metadata) and today's date, unit-tested without a disk.
//!
//! Tiers by age in days (today minus the partition's date, in the lake's time zone): younger
//! than `warm_after` is hot (Snappy, fast to write and read), from `warm_after` warm (zstd at
//! `warm_level`), from `cold_after` cold (zstd at `cold_level`, small and rarely read).

use chrono::NaiveDate;
use serde::Serialize;

use crate::lake::footer::FileInfo;
use crate::lake::listing::{PartitionListing, files_for};
use crate::lake::writer::Codec;
use crate::partition::PartitionKey;

/// A compression tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Hot,
    Warm,
    Cold,
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Tier::Hot => "hot",
            Tier::Warm => "warm",
            Tier::Cold => "cold",
        })
    }
}

/// Where the tiers start and what they are compressed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiers {
    pub warm_after_days: u32,
    pub warm_level: i32,
    pub cold_after_days: u32,
    pub cold_level: i32,
}

impl Default for Tiers {
    /// Warm after 7 days at zstd 3, cold after 90 days at zstd 19.
    fn default() -> Self {
        Tiers {
            warm_after_days: 7,
            warm_level: 3,
            cold_after_days: 90,
            cold_level: 19,
        }
    }
}

impl Tiers {
    /// The tier of a partition `age_days` old, and its codec.
    pub fn of(&self, age_days: i64) -> (Tier, Codec) {
        if age_days >= i64::from(self.cold_after_days) {
            (Tier::Cold, Codec::Zstd(self.cold_level))
        } else if age_days >= i64::from(self.warm_after_days) {
            (Tier::Warm, Codec::Zstd(self.warm_level))
        } else {
            (Tier::Hot, Codec::Snappy)
        }
    }
}

/// One partition to recompress.
#[derive(Debug, Clone, Serialize)]
pub struct ArchivePlan {
    #[serde(serialize_with = "crate::lake::listing::key_string")]
    pub key: PartitionKey,
    pub tier: Tier,
    #[serde(serialize_with = "crate::lake::listing::codec_string")]
    pub codec: Codec,
    #[serde(skip)]
    pub inputs: Vec<FileInfo>,
    pub input_files: u64,
    pub input_bytes: u64,
    pub rows: u64,
    pub output_files: u64,
}

crate::planned_by_fields!(ArchivePlan);

/// Every partition's tier (for the report), and the plan: the partitions with a file not at
/// its tier's codec. Partitions holding a file of a newer schema are never planned.
pub fn plan_archive(
    listings: &[PartitionListing],
    today: NaiveDate,
    tiers: &Tiers,
    target_file_size: u64,
) -> Vec<ArchivePlan> {
    listings
        .iter()
        .filter_map(|p| {
            let (tier, codec) = tiers.of((today - p.key.date()).num_days());
            let done = p.files.iter().all(|f| f.codec == codec);
            let newer = p.files.iter().any(|f| !f.unknown_columns.is_empty());
            if done || newer || p.files.is_empty() {
                return None;
            }
            let bytes: u64 = p.files.iter().map(|f| f.bytes).sum();
            Some(ArchivePlan {
                key: p.key,
                tier,
                codec,
                inputs: p.files.clone(),
                input_files: p.files.len() as u64,
                input_bytes: bytes,
                rows: p.files.iter().map(|f| f.rows).sum(),
                output_files: files_for(bytes, target_file_size).min(p.files.len() as u64),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(d.into())
    }

    fn listing(d: u32, codecs: &[Codec]) -> PartitionListing {
        PartitionListing {
            key: PartitionKey(day(d)),
            files: codecs
                .iter()
                .enumerate()
                .map(|(i, c)| FileInfo {
                    path: format!("f{i}").into(),
                    bytes: 1000,
                    rows: 10,
                    codec: *c,
                    unknown_columns: Vec::new(),
                    timezone: None,
                    checksum: None,
                    schema_version: crate::record::SCHEMA_VERSION,
                })
                .collect(),
        }
    }

    #[test]
    fn tiers_by_age() {
        let t = Tiers::default();
        assert_eq!(t.of(0), (Tier::Hot, Codec::Snappy));
        assert_eq!(t.of(6), (Tier::Hot, Codec::Snappy));
        assert_eq!(t.of(7), (Tier::Warm, Codec::Zstd(3)));
        assert_eq!(t.of(89), (Tier::Warm, Codec::Zstd(3)));
        assert_eq!(t.of(90), (Tier::Cold, Codec::Zstd(19)));
    }

    #[test]
    fn only_partitions_off_their_tier_are_planned() {
        let today = day(200);
        let t = Tiers::default();
        let listings = [
            listing(199, &[Codec::Snappy]),                 // hot, fine
            listing(190, &[Codec::Snappy, Codec::Snappy]),  // warm, Snappy: rewrite
            listing(180, &[Codec::Zstd(3)]),                // warm, done
            listing(100, &[Codec::Zstd(3)]),                // cold at zstd 3: rewrite
            listing(50, &[Codec::Zstd(19), Codec::Snappy]), // cold with a late Snappy file
            listing(40, &[Codec::Zstd(19)]),                // cold, done
            listing(30, &[]),                               // empty
        ];
        let plan = plan_archive(&listings, today, &t, 128 << 20);
        let got: Vec<_> = plan
            .iter()
            .map(|p| (p.key.date(), p.tier, p.codec))
            .collect();
        assert_eq!(
            got,
            [
                (day(190), Tier::Warm, Codec::Zstd(3)),
                (day(100), Tier::Cold, Codec::Zstd(19)),
                (day(50), Tier::Cold, Codec::Zstd(19)),
            ]
        );
        assert_eq!(plan[0].output_files, 1, "small files are merged on the way");
        // Running again on the result plans nothing.
        let done = [
            listing(190, &[Codec::Zstd(3)]),
            listing(100, &[Codec::Zstd(19)]),
        ];
        assert!(plan_archive(&done, today, &t, 128 << 20).is_empty());
    }
}
