//! Reading one day: every data file of its partition from a consistent snapshot, each
//! scanned, and the matching rows sorted by (create_time, msg_id), at most a limit.

use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, Int64Array, RecordBatch, StringArray};

use crate::error::{Error, Result};
use crate::lake::Layout;
use crate::partition::PartitionKey;
use crate::record::col;

use super::*;

/// Threads that read partitions: one per core.
pub(super) fn scan_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One day's matching rows: the batches as read, and the (batch, row) positions in output order.
pub(super) struct SortedDay {
    pub batches: Vec<RecordBatch>,
    pub rows: Vec<(u32, u32)>,
}

/// Run `f` on each data file of partition `day`, honouring `--skip-corrupt`.
fn each_file<T>(
    opts: &QueryOptions,
    layout: &Layout,
    day: chrono::NaiveDate,
    stats: &mut ScanStats,
    mut f: impl FnMut(&Path, File, &mut ScanStats) -> Result<T>,
) -> Result<Vec<T>> {
    let files = snapshot::open_partition(&layout.partition_dir(PartitionKey(day)))?;
    if !files.is_empty() {
        stats.partitions += 1;
    }
    let mut out = Vec::with_capacity(files.len());
    for (path, file) in files {
        match f(&path, file, stats) {
            Ok(v) => out.push(v),
            Err(e @ Error::Data { .. }) if opts.skip_corrupt => {
                stats.files_skipped_corrupt += 1;
                tracing::warn!("skipping a corrupt file (--skip-corrupt): {e}");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

pub(super) fn count_partition(
    opts: &QueryOptions,
    layout: &Layout,
    plan: &scan::ScanPlan,
    day: chrono::NaiveDate,
    stats: &mut ScanStats,
) -> Result<u64> {
    let counts = each_file(opts, layout, day, stats, |path, file, stats| {
        scan::count_file(path, file, plan, stats)
    })?;
    Ok(counts.iter().sum())
}

/// The matching rows of partition `day`, sorted by (create_time, msg_id), at most `limit`.
pub(super) fn read_partition(
    opts: &QueryOptions,
    layout: &Layout,
    plan: &scan::ScanPlan,
    day: chrono::NaiveDate,
    limit: u64,
    stats: &mut ScanStats,
) -> Result<SortedDay> {
    let per_file = each_file(opts, layout, day, stats, |path, file, stats| {
        scan::read_file(path, file, plan, stats)
    })?;
    let batches: Vec<RecordBatch> = per_file.into_iter().flatten().collect();
    let keys: Vec<(&Int64Array, &StringArray)> = batches
        .iter()
        .map(|b| {
            let time = b.column_by_name(col::CREATE_TIME).expect("scanned");
            let id = b.column_by_name(col::MSG_ID).expect("scanned");
            (time.as_primitive::<Int64Type>(), id.as_string::<i32>())
        })
        .collect();
    let mut rows: Vec<(u32, u32)> = keys
        .iter()
        .enumerate()
        .flat_map(|(b, (t, _))| (0..t.len() as u32).map(move |r| (b as u32, r)))
        .collect();
    // Nulls (a file without msg_id) sort last either way, as in SQL engines.
    let key = |&(b, r): &(u32, u32)| {
        let (t, id) = keys[b as usize];
        let r = r as usize;
        (
            t.is_valid(r).then(|| t.value(r)),
            id.is_valid(r).then(|| id.value(r).as_bytes()),
        )
    };
    let cmp = |a: &(u32, u32), b: &(u32, u32)| {
        let ((ta, ia), (tb, ib)) = (key(a), key(b));
        let time = match (ta, tb) {
            (Some(x), Some(y)) => x.cmp(&y),
            (x, y) => y.is_some().cmp(&x.is_some()),
        };
        let time = if opts.order == Order::Desc {
            time.reverse()
        } else {
            time
        };
        time.then_with(|| {
            let id = match (ia, ib) {
                (Some(x), Some(y)) => x.cmp(y),
                (x, y) => return y.is_some().cmp(&x.is_some()),
            };
            if opts.order == Order::Desc {
                id.reverse()
            } else {
                id
            }
        })
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if limit < rows.len() {
        rows.select_nth_unstable_by(limit, cmp);
        rows.truncate(limit);
    }
    rows.sort_unstable_by(cmp);
    drop(keys);
    Ok(SortedDay { batches, rows })
}
