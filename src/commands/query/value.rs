//! Typed access to the cells of a result batch, for the text output formats.
//!
//! Result batches hold only the schema's column types: Utf8 text, Int32 and Int64 numbers
//! (create_time, Int64 too, is shown as a local date-time by formats that do so), a list of Utf8
//! (`mentions`), and Boolean flags (in the contacts listing).

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{
    Array, BooleanArray, Int32Array, Int64Array, ListArray, RecordBatch, StringArray,
};
use arrow_schema::DataType;

use crate::record::col;

/// One value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    Null,
    Str(&'a str),
    Int(i64),
    /// Unix seconds.
    Time(i64),
    Bool(bool),
    List(StrList<'a>),
}

/// The strings of one list cell.
#[derive(Debug, Clone, Copy)]
pub struct StrList<'a> {
    values: &'a StringArray,
    start: usize,
    end: usize,
}

impl<'a> StrList<'a> {
    /// The non-null items, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let values = self.values;
        (self.start..self.end)
            .filter(move |&i| values.is_valid(i))
            .map(move |i| values.value(i))
    }

    /// The items joined by `,` (how table and CSV show a list).
    pub fn joined(&self) -> String {
        self.iter().collect::<Vec<_>>().join(",")
    }
}

impl PartialEq for StrList<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for StrList<'_> {}

/// One column of a batch.
pub enum Column<'a> {
    Str(&'a StringArray),
    Int(&'a Int32Array),
    Long(&'a Int64Array),
    Time(&'a Int64Array),
    Bool(&'a BooleanArray),
    List(&'a ListArray, &'a StringArray),
}

impl<'a> Column<'a> {
    /// The value at `row`.
    pub fn get(&self, row: usize) -> Cell<'a> {
        match self {
            Column::Str(a) if a.is_valid(row) => Cell::Str(a.value(row)),
            Column::Int(a) if a.is_valid(row) => Cell::Int(i64::from(a.value(row))),
            Column::Long(a) if a.is_valid(row) => Cell::Int(a.value(row)),
            Column::Time(a) if a.is_valid(row) => Cell::Time(a.value(row)),
            Column::Bool(a) if a.is_valid(row) => Cell::Bool(a.value(row)),
            Column::List(a, values) if a.is_valid(row) => {
                let offsets = a.value_offsets();
                Cell::List(StrList {
                    values,
                    start: offsets[row] as usize,
                    end: offsets[row + 1] as usize,
                })
            }
            _ => Cell::Null,
        }
    }
}

/// The columns of `batch`, typed.
pub fn cells(batch: &RecordBatch) -> Vec<Column<'_>> {
    batch
        .columns()
        .iter()
        .zip(batch.schema_ref().fields())
        .map(|(c, field)| match c.data_type() {
            DataType::Int32 => Column::Int(c.as_primitive::<Int32Type>()),
            // Every Int64 is a time stamp (create_time, a contact's first_seen…) but a size.
            DataType::Int64 if field.name() == col::FILE_SIZE => {
                Column::Long(c.as_primitive::<Int64Type>())
            }
            DataType::Int64 => Column::Time(c.as_primitive::<Int64Type>()),
            DataType::Boolean => Column::Bool(c.as_boolean()),
            DataType::List(_) => {
                let list = c.as_list::<i32>();
                Column::List(list, list.values().as_string::<i32>())
            }
            _ => Column::Str(c.as_string::<i32>()),
        })
        .collect()
}
