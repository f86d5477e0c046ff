//! JSON Lines (one object per message) and JSON (one array of those objects).
//!
//! An object holds the typed columns that are not null, in schema order, then the members of
//! `extra_fields` merged back in as the collector sent them (numbers keep their digits). So
//! exporting a day gives back the collector's messages, modulo the documented normalizations:
//! msg_id is a string, create_time is in seconds, an explicit `null` of a known field is absent,
//! and keys come in schema order. `as_sent` is applied, not shown: a 4.x packed msg_type comes
//! back as the number sent, a chatroom_sender filled from a prefix as it was sent (empty or
//! absent). Derived columns appear only when `--columns` asks for them; `mentions` is an array.

use std::io::{self, Write};

use arrow_array::RecordBatch;

use super::{Buffered, Sink};
use crate::commands::query::value::{Cell, Column, cells};
use crate::record::col;

pub struct JsonSink<'w> {
    out: Buffered<'w>,
    /// An array rather than lines.
    array: bool,
    /// Apply the `as_sent` column (values come back as sent) instead of showing it.
    overlay: bool,
    rows: u64,
}

impl<'w> JsonSink<'w> {
    pub fn new(out: Box<dyn Write + Send + 'w>, array: bool, overlay: bool) -> Self {
        JsonSink {
            out: Buffered::new(out),
            array,
            overlay,
            rows: 0,
        }
    }
}

/// Append `s` as a JSON string literal.
pub fn push_json_string(out: &mut Vec<u8>, s: &str) {
    // A branch-free scan (it vectorizes); escaping is rare.
    let special = s.bytes().fold(false, |acc, b| {
        acc | (b == b'"') | (b == b'\\') | (b < 0x20)
    });
    if special {
        serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// The members of a JSON object text (`{"a":1,"b":2}` → `"a":1,"b":2`), if it is one.
fn object_members(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?.trim();
    (!inner.is_empty()).then_some(inner)
}

impl Sink for JsonSink<'_> {
    fn write_rows(&mut self, batches: &[RecordBatch], rows: &[(u32, u32)]) -> io::Result<()> {
        let Some(first) = batches.first() else {
            return Ok(());
        };
        let schema = first.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let all: Vec<Vec<Column<'_>>> = batches.iter().map(cells).collect();
        let as_sent_at = names
            .iter()
            .position(|n| *n == col::AS_SENT)
            .filter(|_| self.overlay);
        let mut itoa = itoa::Buffer::new();
        let mut sent = Vec::new();
        for &(b, row) in rows {
            let (columns, row) = (&all[b as usize], row as usize);
            sent.clear();
            if let Some(i) = as_sent_at
                && let Cell::Str(text) = columns[i].get(row)
            {
                // Written by wxlake: an object. Anything else is ignored.
                let _ = crate::json_object::parse_object(text, &mut sent);
            }
            let buf = &mut self.out.buf;
            if self.array {
                buf.extend_from_slice(if self.rows == 0 { b"[\n" } else { b",\n" });
            }
            self.rows += 1;
            buf.push(b'{');
            let mut first = true;
            for (name, column) in names.iter().zip(columns) {
                if *name == col::AS_SENT && self.overlay {
                    continue;
                }
                if let Some((_, raw)) = sent.iter().find(|(k, _)| k == name) {
                    if *raw != "null" {
                        if !first {
                            buf.push(b',');
                        }
                        first = false;
                        push_json_string(buf, name);
                        buf.push(b':');
                        buf.extend_from_slice(raw.as_bytes());
                    }
                    continue;
                }
                let value = column.get(row);
                if value == Cell::Null {
                    continue;
                }
                if *name == col::EXTRA_FIELDS
                    && let Cell::Str(text) = value
                    && let Some(members) = object_members(text)
                {
                    if !first {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(members.as_bytes());
                    first = false;
                    continue;
                }
                if !first {
                    buf.push(b',');
                }
                first = false;
                push_json_string(buf, name);
                buf.push(b':');
                match value {
                    Cell::Null => unreachable!("skipped above"),
                    Cell::Str(s) => push_json_string(buf, s),
                    Cell::Int(n) => buf.extend_from_slice(itoa.format(n).as_bytes()),
                    Cell::Time(t) => buf.extend_from_slice(itoa.format(t).as_bytes()),
                    Cell::Bool(b) => buf.extend_from_slice(if b { b"true" } else { b"false" }),
                    Cell::List(items) => {
                        buf.push(b'[');
                        for (i, item) in items.iter().enumerate() {
                            if i > 0 {
                                buf.push(b',');
                            }
                            push_json_string(buf, item);
                        }
                        buf.push(b']');
                    }
                }
            }
            buf.extend_from_slice(b"}");
            if !self.array {
                buf.push(b'\n');
            }
            self.out.maybe_flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.array {
            self.out
                .buf
                .extend_from_slice(if self.rows == 0 { b"[]\n" } else { b"\n]\n" });
        }
        self.out.finish()
    }
}
