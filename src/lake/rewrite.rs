//! Rewriting one partition's files, for `compact` (fewer, larger files), `archive` (another
//! codec) and `migrate` (the current schema version; rows of older files are upgraded by
//! [`crate::lake::upgrade`] in every rewrite). Both need the same thing: every row read once, duplicates by msg_id removed (a repair
//! of anything that slipped in), rows sorted by (chatroom, create_time) across the whole
//! partition, written into the requested number of files with the requested codec, checked, and
//! swapped in atomically ([`crate::lake::swap`]).
//!
//! Memory is bounded by one partition's rows. The check before the swap reads the new files'
//! msg_id column back: the row count and the msg_id set must equal the inputs' (after dedup);
//! otherwise nothing is swapped and the inputs stay as they were.

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::{BooleanArray, RecordBatch};
use arrow_select::concat::concat_batches;
use arrow_select::filter::filter_record_batch;
use rustc_hash::FxHashSet;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::failpoint;
use crate::lake::Layout;
use crate::lake::footer::FileInfo;
use crate::lake::reader::{conform, for_each_msg_id, open_projected};
use crate::lake::row_group::sort_batch;
use crate::lake::swap::{SwapJournal, swap_in};
use crate::lake::upgrade::upgrade_batch;
use crate::lake::writer::{Codec, StagedWriter, publish, writer_properties};
use crate::partition::PartitionKey;
use crate::progress::Progress;
use crate::record::{COLUMNS, SCHEMA_VERSION, arrow_schema};

/// Rows per row group in rewritten files.
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Which command rewrites a partition: it names the failpoints (`compact.staged`, …) and the
/// swap journal's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Compact,
    Archive,
    Migrate,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::Compact => "compact",
            Operation::Archive => "archive",
            Operation::Migrate => "migrate",
        }
    }
}

/// One partition to rewrite.
#[derive(Debug, Clone)]
pub struct Rewrite<'a> {
    pub operation: Operation,
    pub key: PartitionKey,
    pub inputs: &'a [FileInfo],
    pub codec: Codec,
    /// How many files to write (at least one when there are rows).
    pub output_files: usize,
    pub run_id: &'a str,
}

/// A planned partition, as a rewrite needs it (compact's, archive's and migrate's plans).
pub trait Planned {
    fn key(&self) -> PartitionKey;
    fn inputs(&self) -> &[FileInfo];
    fn codec(&self) -> Codec;
    fn output_files(&self) -> u64;
}

/// The rewrites of `plans` by `operation` in run `run_id`.
pub fn jobs<'a, P: Planned>(
    operation: Operation,
    run_id: &'a str,
    plans: &'a [P],
) -> Vec<Rewrite<'a>> {
    plans
        .iter()
        .map(|p| Rewrite {
            operation,
            key: p.key(),
            inputs: p.inputs(),
            codec: p.codec(),
            output_files: p.output_files() as usize,
            run_id,
        })
        .collect()
}

/// Implement [`Planned`] for a plan type with `key`, `inputs`, `codec` and `output_files` fields.
#[doc(hidden)]
#[macro_export]
macro_rules! planned_by_fields {
    ($t:ty) => {
        impl $crate::lake::rewrite::Planned for $t {
            fn key(&self) -> $crate::partition::PartitionKey {
                self.key
            }
            fn inputs(&self) -> &[$crate::lake::footer::FileInfo] {
                &self.inputs
            }
            fn codec(&self) -> $crate::lake::writer::Codec {
                self.codec
            }
            fn output_files(&self) -> u64 {
                self.output_files
            }
        }
    };
}

/// What a rewrite did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RewriteOutcome {
    pub rows: u64,
    pub duplicates_removed: u64,
    pub files_before: u64,
    pub bytes_before: u64,
    pub files_after: u64,
    pub bytes_after: u64,
}

/// Rewrite several partitions, `workers` at a time (each on its own thread: sorting, encoding
/// and compressing are CPU work, and each partition's swap is independent). Memory is bounded
/// by `workers` partitions. Returns the outcomes in `jobs` order; on a failure, the partitions
/// already swapped stay swapped, the others are left as they were, and the first error (in
/// `jobs` order) is returned.
pub fn rewrite_partitions(
    layout: &Layout,
    jobs: &[Rewrite<'_>],
    workers: usize,
    progress: &Progress,
) -> Result<Vec<RewriteOutcome>> {
    progress.begin("partitions", jobs.len() as u64);
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<RewriteOutcome>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= jobs.len() || failed.load(Ordering::Relaxed) {
                        return;
                    }
                    let result = rewrite_partition(layout, &jobs[i]);
                    progress.advance(1);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    results.lock().expect("no panics while held")[i] = Some(result);
                }
            });
        }
    });
    progress.end();
    let mut out = Vec::with_capacity(jobs.len());
    for result in results
        .into_inner()
        .expect("no panics while held")
        .into_iter()
        .flatten()
    {
        out.push(result?);
    }
    Ok(out)
}

/// How many partitions to rewrite at once: the cores, at most four (memory grows with each).
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Rewrite `job.inputs` (every data file of the partition) and swap the result in.
pub fn rewrite_partition(layout: &Layout, job: &Rewrite<'_>) -> Result<RewriteOutcome> {
    let partition_dir = layout.partition_dir(job.key);
    let mut batches = Vec::new();
    for input in job.inputs {
        // A damaged file is never copied into a new one: nothing is swapped.
        input.check_integrity()?;
        if !input.unknown_columns.is_empty() {
            return Err(Error::data(
                &input.path,
                format!(
                    "has columns this wxlake does not know ({}); rewriting would drop them, so \
                     the partition is left alone (use a newer wxlake)",
                    input.unknown_columns.join(", ")
                ),
            ));
        }
        for batch in open_projected(&input.path, &COLUMNS)? {
            let batch = batch
                .map_err(|e| Error::data(&input.path, format!("unreadable Parquet file: {e}")))?;
            let batch = conform(&input.path, &batch, &arrow_schema())?;
            // Written as the current version: rows of older files are upgraded on the way.
            batches.push(if input.schema_version < SCHEMA_VERSION {
                upgrade_batch(&batch).0
            } else {
                batch
            });
        }
    }
    let rows_in: usize = batches.iter().map(RecordBatch::num_rows).sum();

    // First copy of each msg_id wins (inputs are in name order: older runs first).
    let mut seen: FxHashSet<&str> = FxHashSet::default();
    let masks: Vec<BooleanArray> = batches
        .iter()
        .map(|b| {
            let ids = b.column(0).as_string::<i32>();
            ids.iter()
                .map(|id| Some(seen.insert(id.unwrap_or(""))))
                .collect()
        })
        .collect();
    let expected: FxHashSet<String> = seen.iter().map(|s| s.to_string()).collect();
    drop(seen);
    let kept: Vec<RecordBatch> = batches
        .iter()
        .zip(&masks)
        .map(|(b, m)| filter_record_batch(b, m))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::data(&partition_dir, format!("cannot filter rows: {e}")))?;
    drop(batches);
    let all = concat_batches(&arrow_schema(), &kept)
        .map_err(|e| Error::data(&partition_dir, format!("cannot gather rows: {e}")))?;
    drop(kept);
    let duplicates = (rows_in - all.num_rows()) as u64;
    if duplicates > 0 {
        tracing::warn!(partition = %job.key, duplicates, "removed duplicate msg_ids while rewriting");
    }
    let sorted = sort_batch(&all);
    drop(all);

    let swap_dir = layout.swap_root().join(format!(
        "{}-{}",
        job.key.date().format("%Y-%m-%d"),
        job.run_id
    ));
    // Not fsynced: until the exchange the swap directory is disposable, and the exchange
    // fsyncs both parents.
    std::fs::create_dir_all(&swap_dir).map_err(|e| Error::io("create", &swap_dir, e))?;
    let timezone = crate::lake::meta::LakeMeta::load(layout)?.map(|m| m.timezone);
    let props = writer_properties(job.codec, timezone.as_deref())?;
    let n = sorted.num_rows();
    let files = if n == 0 {
        0
    } else {
        job.output_files.clamp(1, n)
    };
    let mut outputs = Vec::new();
    let mut bytes_after = 0;
    for f in 0..files {
        let (start, end) = (n * f / files, n * (f + 1) / files);
        let mut writer = StagedWriter::create(job.key, &swap_dir, props.clone())?;
        let mut offset = start;
        while offset < end {
            let len = (end - offset).min(ROW_GROUP_ROWS);
            writer.write_row_group(&sorted.slice(offset, len))?;
            offset += len;
        }
        let staged = writer.finish()?;
        bytes_after += staged.bytes;
        outputs.push(publish(staged, &swap_dir, job.run_id)?);
    }
    drop(sorted);
    failpoint::hit(&format!("{}.staged", job.operation.name()));

    verify(&swap_dir, &outputs, &expected, n as u64)?;
    let name = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string()
    };
    let journal = SwapJournal {
        operation: job.operation.name().to_string(),
        partition: job.key.to_string(),
        swap_dir: swap_dir
            .strip_prefix(layout.root())
            .unwrap_or(&swap_dir)
            .to_string_lossy()
            .into_owned(),
        inputs: job.inputs.iter().map(|i| name(&i.path)).collect(),
        outputs: outputs.iter().map(|p| name(p)).collect(),
        table: None,
    };
    swap_in(
        layout,
        &partition_dir,
        &swap_dir,
        &journal,
        job.operation.name(),
    )?;
    Ok(RewriteOutcome {
        rows: n as u64,
        duplicates_removed: duplicates,
        files_before: job.inputs.len() as u64,
        bytes_before: job.inputs.iter().map(|i| i.bytes).sum(),
        files_after: outputs.len() as u64,
        bytes_after,
    })
}

/// The new files must hold exactly the expected msg_ids, once each.
fn verify(
    swap_dir: &Path,
    outputs: &[std::path::PathBuf],
    expected: &FxHashSet<String>,
    rows: u64,
) -> Result<()> {
    let mut found: FxHashSet<String> = FxHashSet::default();
    let mut count = 0;
    for path in outputs {
        count += for_each_msg_id(path, |id| {
            found.insert(id.to_string());
        })?;
    }
    if count != rows || found.len() as u64 != rows || &found != expected {
        let _ = std::fs::remove_dir_all(swap_dir);
        return Err(Error::data(
            swap_dir,
            format!(
                "the rewritten files do not match their inputs ({count} rows, {} distinct ids, \
                 {} expected); nothing was changed",
                found.len(),
                expected.len()
            ),
        ));
    }
    Ok(())
}
