//! One row group's columns gathered and encoded on two threads.
//!
//! Why: a single day is one partition, so one encoder thread, and that thread set the wall
//! time of a million-message day (on CPU 79% of the run while the normalizers waited for it at
//! the end, and it waited for them at the start). A row group's columns are independent until
//! their chunks are appended in order, so a large row group's columns are shared out between
//! the encoder thread and a helper by their size (`source` alone is about half of a short
//! message's bytes): each side gathers a column into row-group order, encodes it and drops the
//! gathered copy before the next. The chunks are appended in column order, so the file is the
//! same, byte for byte, whichever thread encoded what.

use arrow_array::ArrayRef;
use arrow_schema::{DataType, Field, SchemaRef};
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, compute_leaves};
use parquet::errors::{ParquetError, Result};

use crate::lake::row_group::SortedRows;

/// Row groups with fewer bytes than this (estimated from their batches' buffers) are encoded
/// on the calling thread alone: starting a thread (~50 µs) costs more than it saves on a small
/// group. A day of the two-year backfill (~2 MB) is split, a 60-row test batch is not.
pub const SPLIT_MIN_BYTES: usize = 1 << 20;

/// Rows `start..start + len` of `rows` to encode as one row group with `writers` (one per
/// leaf column of `schema`, from `ArrowRowGroupWriterFactory::create_column_writers`).
pub struct EncodeColumns<'a> {
    pub schema: &'a SchemaRef,
    pub rows: &'a SortedRows<'a>,
    pub start: usize,
    pub len: usize,
    pub writers: Vec<ArrowColumnWriter>,
}

/// One top-level column with its leaves' writers.
struct Column {
    index: usize,
    writers: Vec<ArrowColumnWriter>,
}

/// Encode the row group; its column chunks in column order.
pub fn encode(job: EncodeColumns<'_>) -> Result<Vec<ArrowColumnChunk>> {
    let EncodeColumns {
        schema,
        rows,
        start,
        len,
        writers,
    } = job;
    let expected: usize = schema
        .fields()
        .iter()
        .map(|f| leaf_count(f.data_type()))
        .sum();
    if writers.len() != expected {
        return Err(ParquetError::General(format!(
            "{} column writers for the {expected} leaf columns of the schema",
            writers.len()
        )));
    }
    let mut writers = writers.into_iter();
    let columns: Vec<Column> = (schema.fields().iter().enumerate())
        .map(|(index, field)| Column {
            index,
            writers: writers
                .by_ref()
                .take(leaf_count(field.data_type()))
                .collect(),
        })
        .collect();
    let sizes: Vec<usize> = (0..columns.len()).map(|c| rows.column_bytes(c)).collect();
    let total: usize = sizes.iter().sum();
    let fraction = len as f64 / rows.num_rows().max(1) as f64;
    let parallel = (total as f64 * fraction) as usize >= SPLIT_MIN_BYTES
        && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    let encode_side = |side: Vec<Column>| -> Result<Vec<(usize, Vec<ArrowColumnChunk>)>> {
        side.into_iter()
            .map(|column| {
                let field = schema.field(column.index);
                let array = rows.column(column.index, start, len);
                encode_column(field, &array, column.writers).map(|chunks| (column.index, chunks))
            })
            .collect()
    };
    let mut encoded = if parallel {
        let (here, helper) = share_out(columns, &sizes);
        // Taken by the helper thread, or by this one if no thread can be started.
        let helper = std::sync::Mutex::new(Some(helper));
        let take = || {
            helper
                .lock()
                .ok()
                .and_then(|mut h| h.take())
                .unwrap_or_default()
        };
        std::thread::scope(|scope| {
            let spawned = std::thread::Builder::new()
                .name("wxlake-columns".into())
                .spawn_scoped(scope, || encode_side(take()));
            let mut here = encode_side(here)?;
            let there = match spawned {
                Ok(thread) => thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
                Err(e) => {
                    tracing::debug!(error = %e, "no thread for a row group's columns: encoding them here");
                    encode_side(take())?
                }
            };
            here.extend(there);
            Ok::<_, ParquetError>(here)
        })?
    } else {
        encode_side(columns)?
    };
    encoded.sort_unstable_by_key(|(index, _)| *index);
    Ok(encoded.into_iter().flat_map(|(_, chunks)| chunks).collect())
}

/// Write `array` to its leaves' writers and close them.
fn encode_column(
    field: &Field,
    array: &ArrayRef,
    writers: Vec<ArrowColumnWriter>,
) -> Result<Vec<ArrowColumnChunk>> {
    let leaves = compute_leaves(field, array)?;
    if leaves.len() != writers.len() {
        return Err(ParquetError::General(format!(
            "column {} has {} leaves, expected {}",
            field.name(),
            leaves.len(),
            writers.len()
        )));
    }
    writers
        .into_iter()
        .zip(&leaves)
        .map(|(mut writer, leaf)| {
            writer.write(leaf)?;
            writer.close()
        })
        .collect()
}

/// The columns for this thread and for the helper: the largest first, each to the side with
/// fewer bytes so far (this thread also appends the chunks, so it takes the ties).
fn share_out(columns: Vec<Column>, sizes: &[usize]) -> (Vec<Column>, Vec<Column>) {
    let mut columns = columns;
    columns.sort_by_key(|c| std::cmp::Reverse(sizes[c.index]));
    let (mut here, mut helper) = (Vec::new(), Vec::new());
    let (mut here_bytes, mut helper_bytes) = (0usize, 0usize);
    for column in columns {
        let size = sizes[column.index];
        if helper_bytes < here_bytes {
            helper_bytes += size;
            helper.push(column);
        } else {
            here_bytes += size;
            here.push(column);
        }
    }
    (here, helper)
}

/// How many Parquet leaf columns a field of this type becomes.
fn leaf_count(data_type: &DataType) -> usize {
    match data_type {
        DataType::Struct(fields) => fields.iter().map(|f| leaf_count(f.data_type())).sum(),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::FixedSizeList(f, _)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::Map(f, _) => leaf_count(f.data_type()),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn leaf_counts_follow_nesting() {
        let item = Arc::new(Field::new("item", DataType::Utf8, true));
        assert_eq!(leaf_count(&DataType::Int64), 1);
        assert_eq!(leaf_count(&DataType::List(item.clone())), 1);
        let pair = DataType::Struct(
            vec![
                Field::new("a", DataType::Int32, true),
                Field::new("b", DataType::List(item), true),
            ]
            .into(),
        );
        assert_eq!(leaf_count(&pair), 2);
    }

    #[test]
    fn columns_are_shared_out_largest_first_to_the_lighter_side() {
        let columns = (0..5)
            .map(|index| Column {
                index,
                writers: Vec::new(),
            })
            .collect();
        let (here, helper) = share_out(columns, &[10, 50, 30, 5, 20]);
        let idx = |side: &[Column]| side.iter().map(|c| c.index).collect::<Vec<_>>();
        // 50 here; 30 helper; 20 helper (30 < 50); 10 here (50 = 50: here); 5 helper.
        assert_eq!(idx(&here), [1, 0]);
        assert_eq!(idx(&helper), [2, 4, 3]);
    }
}
