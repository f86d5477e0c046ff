//! `wxlake compact`: merge each partition's small files into as few as the target size allows.
//!
//! Plan, then execute: the plan ([`plan`]) is a pure function of a listing of the partitions in
//! range (file sizes, rows and codecs read from footers); `--dry-run` prints it and changes
//! nothing. Each planned partition is rewritten ([`crate::lake::rewrite`]): rows deduplicated by
//! msg_id, sorted by (chatroom, create_time), written with the partition's codec, checked
//! against the inputs, and swapped in atomically, so readers, ours or DuckDB's or pyarrow's,
//! see either the old files or the new ones.

pub mod plan;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::dates::DateArg;
use crate::error::Result;
use crate::lake::rewrite::{Operation, RewriteOutcome, default_workers, jobs, rewrite_partitions};
use crate::lake::session::{Purpose, Writer};
use crate::lake::side_table::{SideTable, TableCompaction};
use crate::lake::swap::Recovered;
use crate::partition::PartitionKey;
use crate::progress::Progress;

pub use plan::{PartitionListing, PartitionPlan, plan_compaction};

/// The default target file size: 128 MiB.
pub const DEFAULT_TARGET_FILE_SIZE: u64 = 128 << 20;

/// Options of one `wxlake compact`.
#[derive(Debug, Clone)]
pub struct CompactOptions {
    pub data_dir: PathBuf,
    pub timezone: Option<String>,
    /// First partition day considered (default: the oldest).
    pub start: Option<DateArg>,
    /// Last partition day considered (default: the newest).
    pub end: Option<DateArg>,
    pub target_file_size: u64,
    pub dry_run: bool,
    pub wait: Option<Duration>,
    /// Reports partitions rewritten.
    pub progress: Progress,
}

/// One partition's result.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionResult {
    pub partition: String,
    #[serde(flatten)]
    pub outcome: RewriteOutcome,
}

/// What a compaction did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct CompactSummary {
    pub dry_run: bool,
    pub partitions_scanned: u64,
    pub plan: Vec<PartitionPlan>,
    pub partitions: Vec<PartitionResult>,
    pub files_before: u64,
    pub files_after: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub rows: u64,
    pub duplicates_removed: u64,
    /// Side tables (contacts, events) with more than one file: merged (or, with `--dry-run`,
    /// would be).
    pub tables_planned: Vec<&'static str>,
    pub tables: Vec<TableCompaction>,
    pub recovered: Vec<Recovered>,
    pub elapsed_ms: u64,
}

/// Run a compaction.
pub fn run(opts: &CompactOptions) -> Result<CompactSummary> {
    let started = Instant::now();
    let lake = Writer::open(
        &opts.data_dir,
        opts.timezone.as_deref(),
        "compact",
        opts.wait,
        Purpose::Maintenance,
    )?;
    let layout = &lake.layout;
    let recovered = lake.recovered.clone();
    let listings = lake.partitions(opts.start, opts.end)?;
    let plan = plan_compaction(&listings, opts.target_file_size);
    for l in &listings {
        for f in l.files.iter().filter(|f| !f.unknown_columns.is_empty()) {
            tracing::warn!(
                file = %f.path.display(),
                columns = %f.unknown_columns.join(", "),
                "a file has columns this wxlake does not know; its partition is not rewritten"
            );
        }
    }
    let mut summary = CompactSummary {
        dry_run: opts.dry_run,
        partitions_scanned: listings.len() as u64,
        plan: plan.clone(),
        partitions: Vec::new(),
        files_before: listings.iter().map(|l| l.files.len() as u64).sum(),
        files_after: 0,
        bytes_before: listings
            .iter()
            .flat_map(|l| &l.files)
            .map(|f| f.bytes)
            .sum(),
        bytes_after: 0,
        rows: listings.iter().flat_map(|l| &l.files).map(|f| f.rows).sum(),
        duplicates_removed: 0,
        tables_planned: Vec::new(),
        tables: Vec::new(),
        recovered,
        elapsed_ms: 0,
    };
    for table in SideTable::ALL {
        if table.needs_compaction(layout)? {
            summary.tables_planned.push(table.name());
        }
    }
    summary.files_after = summary.files_before;
    summary.bytes_after = summary.bytes_before;
    if !opts.dry_run {
        let run_id = crate::lake::run_id();
        let jobs = jobs(Operation::Compact, &run_id, &plan);
        let outcomes = rewrite_partitions(layout, &jobs, default_workers(), &opts.progress)?;
        for table in SideTable::ALL {
            if let Some(done) = table.compact(layout, &run_id)? {
                tracing::info!(
                    table = done.table,
                    files_before = done.files_before,
                    rows = done.rows,
                    "compacted"
                );
                summary.tables.push(done);
            }
        }
        for (p, outcome) in plan.iter().zip(outcomes) {
            tracing::info!(
                partition = %p.key,
                files_before = outcome.files_before,
                files_after = outcome.files_after,
                rows = outcome.rows,
                "compacted"
            );
            summary.files_after = summary.files_after - outcome.files_before + outcome.files_after;
            summary.bytes_after = summary.bytes_after - outcome.bytes_before + outcome.bytes_after;
            summary.rows -= outcome.duplicates_removed;
            summary.duplicates_removed += outcome.duplicates_removed;
            summary.partitions.push(PartitionResult {
                partition: p.key.to_string(),
                outcome,
            });
        }
    }
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    tracing::info!(
        partitions = summary.partitions.len(),
        files_before = summary.files_before,
        files_after = summary.files_after,
        bytes_before = summary.bytes_before,
        bytes_after = summary.bytes_after,
        dry_run = opts.dry_run,
        "compact finished"
    );
    Ok(summary)
}

impl CompactSummary {
    /// The summary for people.
    pub fn render(&self) -> String {
        use crate::units::{count, human_bytes};
        let mut out = String::new();
        if self.dry_run {
            out.push_str(&format!(
                "compact --dry-run: {} of {} partitions would be rewritten; nothing was changed\n",
                self.plan.len(),
                self.partitions_scanned
            ));
            for p in &self.plan {
                out.push_str(&format!(
                    "  {}  {}, {} -> {} ({}, {})\n",
                    PartitionKey::to_string(&p.key),
                    count(p.input_files, "file"),
                    human_bytes(p.input_bytes),
                    count(p.output_files, "file"),
                    p.codec,
                    count(p.rows, "row")
                ));
            }
            for t in &self.tables_planned {
                out.push_str(&format!(
                    "  {t} table: its files would be merged into one\n"
                ));
            }
            return out;
        }
        out.push_str(&format!(
            "compacted {} of {} partitions in {:.2} s\n",
            self.partitions.len(),
            self.partitions_scanned,
            self.elapsed_ms as f64 / 1000.0
        ));
        for p in &self.partitions {
            let o = &p.outcome;
            out.push_str(&format!(
                "  {}  {}, {} -> {}, {}  ({}{})\n",
                p.partition,
                count(o.files_before, "file"),
                human_bytes(o.bytes_before),
                count(o.files_after, "file"),
                human_bytes(o.bytes_after),
                count(o.rows, "row"),
                if o.duplicates_removed > 0 {
                    format!(", {} duplicates removed", o.duplicates_removed)
                } else {
                    String::new()
                }
            ));
        }
        out.push_str(&format!(
            "lake: {}, {} -> {}, {}; {}\n",
            count(self.files_before, "file"),
            human_bytes(self.bytes_before),
            count(self.files_after, "file"),
            human_bytes(self.bytes_after),
            count(self.rows, "row")
        ));
        for t in &self.tables {
            out.push_str(&format!(
                "{} table: {}, {} -> 1 file, {}; {}{}\n",
                t.table,
                count(t.files_before, "file"),
                human_bytes(t.bytes_before),
                human_bytes(t.bytes_after),
                count(t.rows, "row"),
                if t.duplicates_removed > 0 {
                    format!(", {} duplicates removed", t.duplicates_removed)
                } else {
                    String::new()
                }
            ));
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
