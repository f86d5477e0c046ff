//! Builders for the columns that are null in nearly every row: `extra_fields`, `as_sent`, and
//! the derived columns of app messages (title, url, app_type, file_size, quoted and revoked ids).
//!
//! Why not arrow's builders: they pay an offset, a validity bit and a branch for every null, and
//! a short-message ingest appends eleven nulls per row (2.5% of its time). Here a null costs
//! nothing until the batch is taken; a column with no value becomes a null array at once, and
//! one with a few values is laid out in one pass. A column whose every row has a value (the
//! `guid` of a webhook collector) costs about what a builder does.

use std::sync::Arc;

use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{ArrayRef, PrimitiveArray, StringArray, new_null_array};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::DataType;

/// A Utf8 column, as the rows that have a value and the values' bytes.
#[derive(Debug, Default)]
pub struct SparseStrings {
    rows: Vec<u32>,
    /// Where each value ends in `values`.
    ends: Vec<u32>,
    values: Vec<u8>,
}

impl SparseStrings {
    /// Give row `row` (rows come in increasing order) the value `value`, if any.
    pub fn set(&mut self, row: usize, value: Option<&str>) {
        if let Some(v) = value {
            debug_assert!(self.rows.last().is_none_or(|&r| (r as usize) < row));
            self.values.extend_from_slice(v.as_bytes());
            self.rows.push(row as u32);
            self.ends
                .push(u32::try_from(self.values.len()).expect("a batch under 4 GiB"));
        }
    }

    /// The column of `len` rows; leaves this empty (its memory kept for the next batch).
    pub fn finish(&mut self, len: usize) -> ArrayRef {
        if self.rows.is_empty() {
            return new_null_array(&DataType::Utf8, len);
        }
        let mut offsets: Vec<i32> = Vec::with_capacity(len + 1);
        let mut valid = BooleanBufferBuilder::new(len);
        offsets.push(0);
        let mut end = 0i32;
        let mut next = 0;
        for row in 0..len {
            let here = self.rows.get(next).is_some_and(|&r| r as usize == row);
            if here {
                end = i32::try_from(self.ends[next]).expect("a column under 2 GiB");
                next += 1;
            }
            valid.append(here);
            offsets.push(end);
        }
        debug_assert_eq!(next, self.rows.len(), "every row set is below len");
        let values = std::mem::take(&mut self.values);
        let capacity = values.capacity();
        self.rows.clear();
        self.ends.clear();
        let array = StringArray::new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            values.into(),
            Some(NullBuffer::new(valid.finish())),
        );
        self.values = Vec::with_capacity(capacity);
        Arc::new(array)
    }
}

/// A primitive column, as the rows that have a value and the values.
#[derive(Debug)]
pub struct SparsePrimitive<T: ArrowPrimitiveType> {
    rows: Vec<u32>,
    values: Vec<T::Native>,
}

impl<T: ArrowPrimitiveType> Default for SparsePrimitive<T> {
    fn default() -> Self {
        SparsePrimitive {
            rows: Vec::new(),
            values: Vec::new(),
        }
    }
}

impl<T: ArrowPrimitiveType> SparsePrimitive<T> {
    /// Give row `row` (rows come in increasing order) the value `value`, if any.
    pub fn set(&mut self, row: usize, value: Option<T::Native>) {
        if let Some(v) = value {
            debug_assert!(self.rows.last().is_none_or(|&r| (r as usize) < row));
            self.rows.push(row as u32);
            self.values.push(v);
        }
    }

    /// The column of `len` rows; leaves this empty.
    pub fn finish(&mut self, len: usize) -> ArrayRef {
        if self.rows.is_empty() {
            return new_null_array(&T::DATA_TYPE, len);
        }
        let mut values = vec![T::Native::default(); len];
        let mut valid = BooleanBufferBuilder::new(len);
        valid.append_n(len, false);
        for (&row, &v) in self.rows.iter().zip(&self.values) {
            values[row as usize] = v;
            valid.set_bit(row as usize, true);
        }
        self.rows.clear();
        self.values.clear();
        Arc::new(
            PrimitiveArray::<T>::new(
                ScalarBuffer::from(values),
                Some(NullBuffer::new(valid.finish())),
            )
            .with_data_type(T::DATA_TYPE),
        )
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;
    use arrow_array::builder::{Int32Builder, StringBuilder};
    use arrow_array::types::Int32Type;

    use super::*;

    #[test]
    fn sparse_columns_equal_what_arrow_builders_make() {
        let cases: [&[Option<&str>]; 5] = [
            &[],
            &[None, None, None],
            &[Some("a"), None, Some(""), None, Some("中文")],
            &[Some("x"), Some("y")],
            &[None, None, Some("last")],
        ];
        let mut sparse = SparseStrings::default();
        let mut ints = SparsePrimitive::<Int32Type>::default();
        // The same builders across batches: what one batch leaves must not leak into the next.
        for rows in cases {
            let mut builder = StringBuilder::new();
            let mut int_builder = Int32Builder::new();
            for (i, v) in rows.iter().enumerate() {
                sparse.set(i, *v);
                builder.append_option(*v);
                let n = v.map(|s| s.len() as i32);
                ints.set(i, n);
                int_builder.append_option(n);
            }
            let got = sparse.finish(rows.len());
            let want = builder.finish();
            assert_eq!(got.to_data(), want.to_data(), "{rows:?}");
            assert_eq!(got.null_count(), want.null_count());
            assert_eq!(
                ints.finish(rows.len()).to_data(),
                int_builder.finish().to_data(),
                "{rows:?}"
            );
        }
    }
}
