//! Rows of several batches gathered into one, in a given order: `arrow_select`'s
//! `interleave_record_batch`, with a faster path for string columns.
//!
//! Why: every row a run writes is gathered once into (chatroom, create_time) order before it is
//! encoded ([`PendingRows::sorted_batch`](crate::lake::row_group::PendingRows::sorted_batch)),
//! on the encoder thread that sets a single day's wall time. Arrow copies each string with a
//! `memcpy` call of its own; most of the lake's strings are ids and names of 20-odd bytes, where
//! the call costs more than the copy (the gather was ~6% of a million-message day's samples).
//! Here a value of up to 32 bytes is copied as one fixed 32-byte block into a buffer with room
//! to spare (the bytes past the value are overwritten by the next one), longer ones with
//! `memcpy`. The result is the same array: same values, same nulls.

use std::sync::Arc;

use arrow_array::builder::BooleanBufferBuilder;
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{ArrowError, DataType};
use arrow_select::interleave::interleave;

/// `indices[k] = (batch, row)`: row `k` of the result. All batches have the schema of the first.
pub fn interleave_batches(
    batches: &[&RecordBatch],
    indices: &[(usize, usize)],
) -> Result<RecordBatch, ArrowError> {
    let schema = batches[0].schema();
    let columns = (0..schema.fields().len())
        .map(|c| interleave_column(batches, c, indices))
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    RecordBatch::try_new(schema, columns)
}

/// Column `c` of [`interleave_batches`]`(batches, indices)`, alone: the encoder gathers each
/// column just before it encodes it, on whichever thread encodes it.
pub fn interleave_column(
    batches: &[&RecordBatch],
    c: usize,
    indices: &[(usize, usize)],
) -> Result<ArrayRef, ArrowError> {
    let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
    match batches[0].schema_ref().field(c).data_type() {
        DataType::Utf8 => {
            let strings: Vec<&StringArray> = arrays.iter().map(|a| a.as_string::<i32>()).collect();
            interleave_strings(&strings, indices)
        }
        _ => interleave(&arrays, indices),
    }
}

/// The fixed block short values are copied in.
const BLOCK: usize = 32;

/// Strings `indices` names, in that order (see the module docs).
fn interleave_strings(
    arrays: &[&StringArray],
    indices: &[(usize, usize)],
) -> Result<ArrayRef, ArrowError> {
    let mut offsets: Vec<i32> = Vec::with_capacity(indices.len() + 1);
    offsets.push(0);
    let mut total = 0usize;
    for &(a, r) in indices {
        let o = arrays[a].value_offsets();
        total += (o[r + 1] - o[r]) as usize;
        offsets.push(i32::try_from(total).map_err(|_| ArrowError::OffsetOverflowError(total))?);
    }
    let mut values: Vec<u8> = Vec::with_capacity(total + BLOCK);
    let dst = values.as_mut_ptr();
    let mut at = 0usize;
    for &(a, r) in indices {
        let array = arrays[a];
        let o = array.value_offsets();
        let (start, end) = (o[r] as usize, o[r + 1] as usize);
        let src = array.values().as_slice();
        let len = end - start;
        if len <= BLOCK && start + BLOCK <= src.len() {
            // SAFETY: `src[start..start + BLOCK]` is inside `src` (checked); `at + len <= total`,
            // so `at + BLOCK <= total + BLOCK`, the capacity of `values`.
            unsafe {
                std::ptr::copy_nonoverlapping(src.as_ptr().add(start), dst.add(at), BLOCK);
            }
        } else {
            // SAFETY: `src[start..end]` is the value (offsets of a valid array); `at + len <=
            // total` bytes of capacity.
            unsafe {
                std::ptr::copy_nonoverlapping(src.as_ptr().add(start), dst.add(at), len);
            }
        }
        at += len;
    }
    debug_assert_eq!(at, total);
    // SAFETY: every byte below `total` was written above, each value's bytes in its place.
    unsafe { values.set_len(total) };
    let nulls = if arrays.iter().any(|a| a.null_count() > 0) {
        let mut valid = BooleanBufferBuilder::new(indices.len());
        for &(a, r) in indices {
            valid.append(arrays[a].is_valid(r));
        }
        Some(NullBuffer::new(valid.finish()))
    } else {
        None
    };
    // SAFETY: offsets start at 0 and grow by each value's length up to `values.len()`; every
    // value is a whole value of a valid UTF-8 array, so the concatenation splits into valid UTF-8
    // at each offset.
    let array = unsafe {
        StringArray::new_unchecked(
            OffsetBuffer::new_unchecked(offsets.into()),
            values.into(),
            nulls,
        )
    };
    Ok(Arc::new(array))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, ListArray, types::Int32Type};
    use arrow_schema::{Field, Schema};
    use arrow_select::interleave::interleave_record_batch;

    /// Strings of every length around the block size, some null, ending near the buffer's end.
    fn strings(seed: usize, n: usize) -> StringArray {
        (0..n)
            .map(|i| {
                let len = (i * 7 + seed * 3) % 70;
                (!(i + seed).is_multiple_of(5)).then(|| {
                    (0..len)
                        .map(|k| char::from(b'a' + ((i + k + seed) % 26) as u8))
                        .chain(std::iter::once('中'))
                        .collect::<String>()
                })
            })
            .collect()
    }

    fn batch(seed: usize, n: usize) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("t", DataType::Int64, false),
            Field::new(
                "l",
                DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
                true,
            ),
        ]));
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(
            (0..n).map(|i| Some(vec![Some(i as i32); i % 3])),
        );
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(strings(seed, n)),
                Arc::new(Int64Array::from_iter_values((0..n as i64).map(|i| i * 10))),
                Arc::new(list),
            ],
        )
        .unwrap()
    }

    #[test]
    fn gathers_the_same_batch_as_arrow() {
        let a = batch(1, 200);
        let b = batch(2, 90);
        // A slice: offsets that do not start at 0, and the values buffer's last value.
        let c = batch(3, 120).slice(40, 80);
        let batches = [&a, &b, &c];
        let mut indices = Vec::new();
        for k in 0..600usize {
            let p = (k * 31) % 3;
            let rows = batches[p].num_rows();
            indices.push((p, (k * 17 + k / 3) % rows));
        }
        // Every batch's last row, whose value ends at the end of its buffer.
        indices.extend([(0, 199), (1, 89), (2, 79)]);
        let ours = interleave_batches(&batches, &indices).unwrap();
        let arrows = interleave_record_batch(&batches, &indices).unwrap();
        assert_eq!(ours, arrows);
        let s = ours.column(0).as_string::<i32>();
        assert!(s.null_count() > 0);
    }

    #[test]
    fn columns_without_nulls_get_no_null_buffer() {
        let a: StringArray = (0..10).map(|i| Some(format!("v{i}"))).collect();
        let out = interleave_strings(&[&a], &[(0, 3), (0, 0), (0, 9)]).unwrap();
        assert!(out.nulls().is_none());
        assert_eq!(
            out.as_string::<i32>().iter().collect::<Vec<_>>(),
            [Some("v3"), Some("v0"), Some("v9")]
        );
    }

    #[test]
    fn an_empty_order_gives_empty_columns() {
        let a = batch(1, 5);
        let out = interleave_batches(&[&a], &[]).unwrap();
        assert_eq!(out.num_rows(), 0);
        assert_eq!(out.schema(), a.schema());
    }
}
