//! `wxlake archive`: keep cold data cheap. Partitions are recompressed by age into tiers (hot
//! Snappy, warm and cold zstd, [`plan`]) with the same rewriter and atomic swap as `compact`,
//! and raw JSONL files past their retention are compressed away once they are fully ingested
//! ([`raw`]).
//!
//! Plan, then execute: `--dry-run` prints what would be rewritten and archived and changes
//! nothing. A partition already at its tier's codec and level (read from each file's key-value
//! metadata; Parquet itself does not keep a zstd level) is skipped, so a second run does nothing.

pub mod plan;
pub mod raw;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::checkpoint::Checkpoint;
use crate::commands::compact::DEFAULT_TARGET_FILE_SIZE;
use crate::error::{Error, Result};
use crate::lake::listing::list_partitions;
use crate::lake::rewrite::{Operation, RewriteOutcome, default_workers, jobs, rewrite_partitions};
use crate::lake::session::{Purpose, Writer};
use crate::lake::swap::Recovered;
use crate::progress::Progress;

pub use plan::{ArchivePlan, Tier, Tiers, plan_archive};
pub use raw::{RawArchived, RawKept};

/// Options of one `wxlake archive`.
#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    pub data_dir: PathBuf,
    pub timezone: Option<String>,
    pub tiers: Tiers,
    /// Raw files at least this many days old are archived once fully ingested (at least 1).
    pub raw_retention_days: u32,
    pub dry_run: bool,
    pub wait: Option<Duration>,
    /// Reports partitions rewritten.
    pub progress: Progress,
}

/// One rewritten partition.
#[derive(Debug, Clone, Serialize)]
pub struct ArchivedPartition {
    pub partition: String,
    pub tier: Tier,
    pub codec: String,
    #[serde(flatten)]
    pub outcome: RewriteOutcome,
}

/// The lake per tier after the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TierReport {
    pub tier: Option<Tier>,
    pub partitions: u64,
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
    /// Partitions rewritten into this tier by this run, and the bytes that saved.
    pub rewritten: u64,
    pub bytes_saved: i64,
}

/// What an archive run did (or would do).
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveSummary {
    pub dry_run: bool,
    pub today: String,
    pub plan: Vec<ArchivePlan>,
    pub partitions: Vec<ArchivedPartition>,
    pub tiers: Vec<TierReport>,
    pub raw_archived: Vec<RawArchived>,
    pub raw_kept: Vec<RawKept>,
    /// Bytes of raw JSONL ingested so far (from the checkpoints).
    pub raw_jsonl_bytes: u64,
    /// Bytes of the lake's Parquet files after the run.
    pub lake_bytes: u64,
    /// `raw_jsonl_bytes / lake_bytes`.
    pub compression_ratio: f64,
    pub recovered: Vec<Recovered>,
    pub elapsed_ms: u64,
}

/// Run an archive.
pub fn run(opts: &ArchiveOptions) -> Result<ArchiveSummary> {
    let started = Instant::now();
    let t = &opts.tiers;
    if t.cold_after_days <= t.warm_after_days {
        return Err(Error::usage(
            "--cold-after",
            format!("{}d", t.cold_after_days),
            format!("must be later than --warm-after ({}d)", t.warm_after_days),
        ));
    }
    if opts.raw_retention_days == 0 {
        return Err(Error::usage(
            "--raw-retention",
            "0d",
            "must be at least 1d: today's raw file is still being written",
        ));
    }
    for (arg, level) in [
        ("--warm-level", t.warm_level),
        ("--cold-level", t.cold_level),
    ] {
        if !(1..=22).contains(&level) {
            return Err(Error::usage(
                arg,
                level.to_string(),
                "zstd levels are 1 to 22",
            ));
        }
    }
    let lake = Writer::open(
        &opts.data_dir,
        opts.timezone.as_deref(),
        "archive",
        opts.wait,
        Purpose::Maintenance,
    )?;
    let (layout, tz) = (&lake.layout, lake.tz);
    let recovered = lake.recovered.clone();
    // A raw archive being written when a run died.
    crate::fsutil::remove_stale_temps(&layout.raw_archive_dir())?;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let mut listings = list_partitions(layout, None, None)?;
    let plan = plan_archive(&listings, today, t, DEFAULT_TARGET_FILE_SIZE);
    let mut summary = ArchiveSummary {
        dry_run: opts.dry_run,
        today: today.to_string(),
        plan: plan.clone(),
        partitions: Vec::new(),
        tiers: Vec::new(),
        raw_archived: Vec::new(),
        raw_kept: Vec::new(),
        raw_jsonl_bytes: 0,
        lake_bytes: 0,
        compression_ratio: 0.0,
        recovered,
        elapsed_ms: 0,
    };

    let run_id = crate::lake::run_id();
    if !opts.dry_run {
        let jobs = jobs(Operation::Archive, &run_id, &plan);
        let outcomes = rewrite_partitions(layout, &jobs, default_workers(), &opts.progress)?;
        for (p, outcome) in plan.iter().zip(outcomes) {
            tracing::info!(partition = %p.key, tier = %p.tier, codec = %p.codec,
                bytes_before = outcome.bytes_before, bytes_after = outcome.bytes_after, "recompressed");
            summary.partitions.push(ArchivedPartition {
                partition: p.key.to_string(),
                tier: p.tier,
                codec: p.codec.to_string(),
                outcome,
            });
        }
        if !plan.is_empty() {
            listings = list_partitions(layout, None, None)?;
        }
    }

    // The lake per tier, after the rewrites.
    let mut tiers: Vec<TierReport> = [Tier::Hot, Tier::Warm, Tier::Cold]
        .map(|tier| TierReport {
            tier: Some(tier),
            ..Default::default()
        })
        .into();
    for l in &listings {
        let (tier, _) = t.of((today - l.key.date()).num_days());
        let r = &mut tiers[tier as usize];
        r.partitions += 1;
        r.files += l.files.len() as u64;
        r.rows += l.files.iter().map(|f| f.rows).sum::<u64>();
        r.bytes += l.files.iter().map(|f| f.bytes).sum::<u64>();
    }
    for p in &summary.partitions {
        let r = &mut tiers[p.tier as usize];
        r.rewritten += 1;
        r.bytes_saved += p.outcome.bytes_before as i64 - p.outcome.bytes_after as i64;
    }
    summary.lake_bytes = tiers.iter().map(|r| r.bytes).sum();
    summary.tiers = tiers;

    // Raw retention.
    for raw_file in layout.raw_files()? {
        if (today - raw_file.date).num_days() < i64::from(opts.raw_retention_days) {
            continue;
        }
        match raw::not_archivable(layout, &raw_file)? {
            Some(reason) => {
                tracing::warn!(raw_file = %raw_file.path.display(), %reason, "raw file past its retention kept");
                summary.raw_kept.push(RawKept {
                    file: raw_file.name(),
                    reason,
                });
            }
            None if opts.dry_run => summary.raw_archived.push(RawArchived {
                file: raw_file.name(),
                bytes: std::fs::metadata(&raw_file.path)
                    .map(|m| m.len())
                    .unwrap_or(0),
                archived_bytes: 0,
            }),
            None => {
                let done = raw::archive_raw_file(layout, &raw_file)?;
                tracing::info!(raw_file = %done.file, bytes = done.bytes, archived_bytes = done.archived_bytes, "raw file archived");
                summary.raw_archived.push(done);
            }
        }
    }
    for date in layout.checkpoint_dates()? {
        if let Some(cp) = Checkpoint::load(&layout.checkpoint_path(date))? {
            summary.raw_jsonl_bytes += cp.offset;
        }
    }
    if summary.lake_bytes > 0 {
        summary.compression_ratio = summary.raw_jsonl_bytes as f64 / summary.lake_bytes as f64;
    }
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    tracing::info!(
        partitions = summary.partitions.len(),
        raw_archived = summary.raw_archived.len(),
        lake_bytes = summary.lake_bytes,
        dry_run = opts.dry_run,
        "archive finished"
    );
    Ok(summary)
}

impl ArchiveSummary {
    /// The summary for people.
    pub fn render(&self) -> String {
        use crate::units::{count, human_bytes};
        let mut out = String::new();
        let verb = if self.dry_run {
            "would recompress"
        } else {
            "recompressed"
        };
        out.push_str(&format!(
            "archive{}: {verb} {} partition{}{}\n",
            if self.dry_run { " --dry-run" } else { "" },
            self.plan.len(),
            if self.plan.len() == 1 { "" } else { "s" },
            if self.dry_run {
                "; nothing was changed"
            } else {
                ""
            }
        ));
        for p in &self.plan {
            out.push_str(&format!(
                "  {}  {} -> {} ({}, {}, {})\n",
                p.key,
                p.tier,
                p.codec,
                count(p.input_files, "file"),
                human_bytes(p.input_bytes),
                count(p.rows, "row")
            ));
        }
        for r in &self.tiers {
            let tier = r.tier.map(|t| t.to_string()).unwrap_or_default();
            out.push_str(&format!(
                "{tier:>5}: {}, {}, {}, {}",
                count(r.partitions, "partition"),
                count(r.files, "file"),
                human_bytes(r.bytes),
                count(r.rows, "row")
            ));
            if r.rewritten > 0 {
                let saved = if r.bytes_saved >= 0 {
                    format!("{} saved", human_bytes(r.bytes_saved as u64))
                } else {
                    format!("{} more", human_bytes(r.bytes_saved.unsigned_abs()))
                };
                out.push_str(&format!(" ({} rewritten, {saved})", r.rewritten));
            }
            out.push('\n');
        }
        let verb = if self.dry_run {
            "would archive"
        } else {
            "archived"
        };
        for r in &self.raw_archived {
            out.push_str(&format!(
                "raw: {verb} {} ({})",
                r.file,
                human_bytes(r.bytes)
            ));
            if r.archived_bytes > 0 {
                out.push_str(&format!(" -> {}", human_bytes(r.archived_bytes)));
            }
            out.push('\n');
        }
        for k in &self.raw_kept {
            out.push_str(&format!("raw: kept {}: {}\n", k.file, k.reason));
        }
        out.push_str(&format!(
            "lake: {} of Parquet for {} of raw JSONL ingested (ratio {:.1}:1)\n",
            human_bytes(self.lake_bytes),
            human_bytes(self.raw_jsonl_bytes),
            self.compression_ratio
        ));
        for r in &self.recovered {
            out.push_str(&format!(
                "recovered an interrupted swap of {}: {}\n",
                r.partition, r.outcome
            ));
        }
        out
    }
}
