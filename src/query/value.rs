//! Typed access to the cells of a result batch, for the text output formats.
//!
//! Result batches hold only the schema's column types: Utf8 text, Int32 msg_type and Int64
//! create_time (shown as a local date-time by formats that do so), and Boolean flags (in the
//! contacts listing).

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::DataType;

/// One value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    Null,
    Str(&'a str),
    Int(i32),
    /// Unix seconds.
    Time(i64),
    Bool(bool),
}

/// One column of a batch.
pub enum Column<'a> {
    Str(&'a StringArray),
    Int(&'a Int32Array),
    Time(&'a Int64Array),
    Bool(&'a BooleanArray),
}

impl<'a> Column<'a> {
    /// The value at `row`.
    pub fn get(&self, row: usize) -> Cell<'a> {
        match self {
            Column::Str(a) if a.is_valid(row) => Cell::Str(a.value(row)),
            Column::Int(a) if a.is_valid(row) => Cell::Int(a.value(row)),
            Column::Time(a) if a.is_valid(row) => Cell::Time(a.value(row)),
            Column::Bool(a) if a.is_valid(row) => Cell::Bool(a.value(row)),
            _ => Cell::Null,
        }
    }
}

/// The columns of `batch`, typed.
pub fn cells(batch: &RecordBatch) -> Vec<Column<'_>> {
    batch
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Int32 => Column::Int(c.as_primitive::<Int32Type>()),
            DataType::Int64 => Column::Time(c.as_primitive::<Int64Type>()),
            DataType::Boolean => Column::Bool(c.as_boolean()),
            _ => Column::Str(c.as_string::<i32>()),
        })
        .collect()
}
