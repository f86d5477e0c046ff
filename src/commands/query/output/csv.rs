//! CSV as in RFC 4180 (with LF line ends): a header line of column names, then one line per message. A field is quoted
//! when it holds a comma, a quote or a line break; null is an empty field. create_time is the
//! local date-time with its offset; extra_fields stays one JSON text.

use std::io::{self, Write};

use arrow_array::RecordBatch;

use super::{Buffered, LocalTimeFormat, Sink};
use crate::commands::query::value::{Cell, Column, cells};
use arrow_schema::SchemaRef;

pub struct CsvSink<'w> {
    out: Buffered<'w>,
    time: LocalTimeFormat,
}

impl<'w> CsvSink<'w> {
    pub fn new(out: Box<dyn Write + Send + 'w>, time: LocalTimeFormat, schema: &SchemaRef) -> Self {
        let mut out = Buffered::new(out);
        for (i, field) in schema.fields().iter().enumerate() {
            if i > 0 {
                out.buf.push(b',');
            }
            push_field(&mut out.buf, field.name());
        }
        out.buf.push(b'\n');
        CsvSink { out, time }
    }
}

/// Append `s` as one CSV field.
pub fn push_field(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let special = memchr::memchr3(b',', b'"', b'\n', bytes).is_some()
        || memchr::memchr(b'\r', bytes).is_some();
    if !special {
        out.extend_from_slice(bytes);
        return;
    }
    out.push(b'"');
    let mut rest = bytes;
    while let Some(i) = memchr::memchr(b'"', rest) {
        out.extend_from_slice(&rest[..=i]);
        out.push(b'"');
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

impl Sink for CsvSink<'_> {
    fn write_rows(&mut self, batches: &[RecordBatch], rows: &[(u32, u32)]) -> io::Result<()> {
        let columns: Vec<Vec<Column<'_>>> = batches.iter().map(cells).collect();
        let mut itoa = itoa::Buffer::new();
        for &(b, row) in rows {
            let row = row as usize;
            for (i, column) in columns[b as usize].iter().enumerate() {
                if i > 0 {
                    self.out.buf.push(b',');
                }
                match column.get(row) {
                    Cell::Null => {}
                    Cell::Str(s) => push_field(&mut self.out.buf, s),
                    Cell::Int(n) => self.out.buf.extend_from_slice(itoa.format(n).as_bytes()),
                    Cell::Time(t) => self.time.push(t, &mut self.out.buf),
                    Cell::List(items) => push_field(&mut self.out.buf, &items.joined()),
                    Cell::Bool(b) => {
                        self.out
                            .buf
                            .extend_from_slice(if b { b"true" } else { b"false" })
                    }
                }
            }
            self.out.buf.push(b'\n');
            self.out.maybe_flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.finish()
    }
}
