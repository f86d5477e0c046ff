//! `wxlake migrate`: rewrite the partitions that hold files of an older schema version into the
//! current one, deriving the new columns from what the files hold (content, source, msg_type,
//! extra_fields; see [`crate::lake::upgrade`]).
//!
//! Plan, then execute, as `compact` does: the plan ([`plan_migration`]) is a pure function of a
//! listing of the partitions in range; `--dry-run` prints it and changes nothing. Each planned
//! partition goes through the same rewrite as compact ([`crate::lake::rewrite`]): every row read
//! once, upgraded, sorted, written with the partition's codec, its msg_id set checked against
//! the inputs', and swapped in atomically. A crash at any point leaves either the old files or
//! the new ones (the next writer finishes or undoes the swap), and a rerun migrates only what is
//! still old, so migrate is idempotent.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::commands::compact::DEFAULT_TARGET_FILE_SIZE;
use crate::dates::DateArg;
use crate::error::Result;
use crate::lake::footer::FileInfo;
use crate::lake::listing::{PartitionListing, partition_codec};
use crate::lake::rewrite::{Operation, RewriteOutcome, default_workers, jobs, rewrite_partitions};
use crate::lake::session::{Purpose, Writer};
use crate::lake::swap::Recovered;
use crate::lake::writer::Codec;
use crate::partition::PartitionKey;
use crate::progress::Progress;
use crate::record::SCHEMA_VERSION;

/// Options of one `wxlake migrate`.
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    pub data_dir: PathBuf,
    pub timezone: Option<String>,
    pub start: Option<DateArg>,
    pub end: Option<DateArg>,
    pub dry_run: bool,
    pub wait: Option<Duration>,
    pub progress: Progress,
}

/// One partition to migrate.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationPlan {
    #[serde(serialize_with = "crate::lake::listing::key_string")]
    pub key: PartitionKey,
    #[serde(skip)]
    pub inputs: Vec<FileInfo>,
    pub input_files: u64,
    pub input_bytes: u64,
    pub rows: u64,
    /// Files per schema version before (version → files).
    pub versions: BTreeMap<u32, u64>,
    pub output_files: u64,
    #[serde(serialize_with = "crate::lake::listing::codec_string")]
    pub codec: Codec,
}

crate::planned_by_fields!(MigrationPlan);

/// The partitions that hold a file older than the current schema version, each to be rewritten
/// into as few files as compact would make of it (never more than it has). Pure.
pub fn plan_migration(listings: &[PartitionListing], target_file_size: u64) -> Vec<MigrationPlan> {
    listings
        .iter()
        .filter(|l| l.files.iter().any(|f| f.schema_version < SCHEMA_VERSION))
        .map(|l| {
            let bytes: u64 = l.files.iter().map(|f| f.bytes).sum();
            let mut versions = BTreeMap::new();
            for f in &l.files {
                *versions.entry(f.schema_version).or_insert(0) += 1;
            }
            let wanted = bytes.div_ceil(target_file_size.max(1)).max(1);
            MigrationPlan {
                key: l.key,
                inputs: l.files.clone(),
                input_files: l.files.len() as u64,
                input_bytes: bytes,
                rows: l.files.iter().map(|f| f.rows).sum(),
                versions,
                output_files: wanted.min(l.files.len() as u64),
                codec: partition_codec(&l.files),
            }
        })
        .collect()
}

/// One partition's result.
#[derive(Debug, Clone, Serialize)]
pub struct MigratedPartition {
    pub partition: String,
    #[serde(flatten)]
    pub outcome: RewriteOutcome,
}

/// What a migration did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct MigrateSummary {
    pub dry_run: bool,
    pub schema_version: u32,
    pub partitions_scanned: u64,
    /// Partitions already current.
    pub partitions_current: u64,
    pub plan: Vec<MigrationPlan>,
    pub partitions: Vec<MigratedPartition>,
    pub rows: u64,
    pub duplicates_removed: u64,
    /// Files per schema version in range before (version → files).
    pub versions_before: BTreeMap<u32, u64>,
    pub recovered: Vec<Recovered>,
    pub elapsed_ms: u64,
}

/// Run a migration.
pub fn run(opts: &MigrateOptions) -> Result<MigrateSummary> {
    let started = Instant::now();
    let lake = Writer::open(
        &opts.data_dir,
        opts.timezone.as_deref(),
        "migrate",
        opts.wait,
        Purpose::Maintenance,
    )?;
    let layout = &lake.layout;
    let recovered = lake.recovered.clone();
    let listings = lake.partitions(opts.start, opts.end)?;
    if let Some(f) = listings
        .iter()
        .flat_map(|l| &l.files)
        .find(|f| f.schema_version > SCHEMA_VERSION)
    {
        return Err(crate::error::Error::data(
            &f.path,
            format!(
                "written in schema version {}, newer than this wxlake's {SCHEMA_VERSION}; use a newer wxlake",
                f.schema_version
            ),
        ));
    }
    let plan = plan_migration(&listings, DEFAULT_TARGET_FILE_SIZE);
    let mut versions_before = BTreeMap::new();
    for f in listings.iter().flat_map(|l| &l.files) {
        *versions_before.entry(f.schema_version).or_insert(0) += 1;
    }
    let mut summary = MigrateSummary {
        dry_run: opts.dry_run,
        schema_version: SCHEMA_VERSION,
        partitions_scanned: listings.len() as u64,
        partitions_current: (listings.len() - plan.len()) as u64,
        plan: plan.clone(),
        partitions: Vec::new(),
        rows: plan.iter().map(|p| p.rows).sum(),
        duplicates_removed: 0,
        versions_before,
        recovered,
        elapsed_ms: 0,
    };
    if !opts.dry_run && !plan.is_empty() {
        crate::lake::meta::LakeMeta::load(layout)?
            .map(|mut meta| crate::lake::meta::upgrade(layout, &mut meta))
            .transpose()?;
        let run_id = crate::lake::run_id();
        let jobs = jobs(Operation::Migrate, &run_id, &plan);
        let outcomes = rewrite_partitions(layout, &jobs, default_workers(), &opts.progress)?;
        for (p, outcome) in plan.iter().zip(outcomes) {
            tracing::info!(partition = %p.key, rows = outcome.rows, "migrated");
            summary.rows -= outcome.duplicates_removed;
            summary.duplicates_removed += outcome.duplicates_removed;
            summary.partitions.push(MigratedPartition {
                partition: p.key.to_string(),
                outcome,
            });
        }
    }
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}

impl MigrateSummary {
    /// The summary for people.
    pub fn render(&self) -> String {
        use crate::units::{count, human_bytes};
        let versions = |v: &BTreeMap<u32, u64>| {
            v.iter()
                .map(|(version, files)| format!("{} of version {version}", count(*files, "file")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = String::new();
        if self.dry_run {
            out.push_str(&format!(
                "migrate --dry-run: {} of {} partitions would be rewritten to schema version {}; nothing was changed\n",
                self.plan.len(),
                self.partitions_scanned,
                self.schema_version
            ));
            for p in &self.plan {
                out.push_str(&format!(
                    "  {}  {} ({}), {} -> {} ({}, {})\n",
                    p.key,
                    count(p.input_files, "file"),
                    versions(&p.versions),
                    human_bytes(p.input_bytes),
                    count(p.output_files, "file"),
                    p.codec,
                    count(p.rows, "row")
                ));
            }
            return out;
        }
        out.push_str(&format!(
            "migrated {} of {} partitions to schema version {} in {:.2} s ({} already current)\n",
            self.partitions.len(),
            self.partitions_scanned,
            self.schema_version,
            self.elapsed_ms as f64 / 1000.0,
            self.partitions_current
        ));
        for p in &self.partitions {
            let o = &p.outcome;
            out.push_str(&format!(
                "  {}  {} -> {}, {}{}\n",
                p.partition,
                count(o.files_before, "file"),
                count(o.files_after, "file"),
                count(o.rows, "row"),
                if o.duplicates_removed > 0 {
                    format!(", {} duplicates removed", o.duplicates_removed)
                } else {
                    String::new()
                }
            ));
        }
        if !self.versions_before.is_empty() {
            out.push_str(&format!("before: {}\n", versions(&self.versions_before)));
        }
        for r in &self.recovered {
            out.push_str(&format!(
                "recovered an interrupted swap of {}: {}\n",
                r.partition, r.outcome
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, bytes: u64, version: u32) -> FileInfo {
        FileInfo {
            path: name.into(),
            bytes,
            rows: bytes / 100,
            codec: Codec::Snappy,
            unknown_columns: Vec::new(),
            timezone: None,
            checksum: None,
            schema_version: version,
        }
    }

    fn listing(day: u32, files: Vec<FileInfo>) -> PartitionListing {
        PartitionListing {
            key: PartitionKey(chrono::NaiveDate::from_ymd_opt(2026, 1, day).unwrap()),
            files,
        }
    }

    #[test]
    fn only_partitions_with_an_older_file_are_planned() {
        let listings = [
            listing(1, vec![file("a", 1000, 3)]),
            listing(2, vec![file("b", 1000, 1), file("c", 1000, 3)]),
            listing(3, vec![file("d", 1000, 2)]),
        ];
        let plan = plan_migration(&listings, 128 << 20);
        let days: Vec<u32> = plan
            .iter()
            .map(|p| chrono::Datelike::day(&p.key.date()))
            .collect();
        assert_eq!(days, [2, 3]);
        assert_eq!(plan[0].output_files, 1);
        assert_eq!(plan[0].versions, BTreeMap::from([(1, 1), (3, 1)]));
        // Never more files than the partition has, however small the target.
        assert_eq!(plan_migration(&listings, 10)[0].output_files, 2);
        // Idempotent: a migrated lake plans nothing.
        assert!(plan_migration(&listings[..1], 128 << 20).is_empty());
    }
}
