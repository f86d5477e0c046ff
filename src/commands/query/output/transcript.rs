//! A transcript: one line per message, `2026-02-03 09:30 [chatroom] sender: text`, for a person
//! or a language model to read. Names come from the contacts table (ids where nobody names
//! them); private messages have no `[chatroom]`; line breaks inside a message are shown as
//! ` ⏎ ` so that a message stays on its line.

use std::io::{self, Write};

use arrow_array::RecordBatch;

use super::{Buffered, LocalTimeFormat, Sink};
use crate::commands::query::name_col;
use crate::commands::query::value::{Cell, Column, cells};
use crate::record::col;

/// The columns a transcript reads, in this order.
pub const COLUMNS: [&str; 4] = [
    col::CREATE_TIME,
    name_col::CHATROOM_NAME,
    name_col::SENDER_NAME,
    col::TEXT,
];

pub struct TranscriptSink<'w> {
    out: Buffered<'w>,
    time: LocalTimeFormat,
    scratch: Vec<u8>,
}

impl<'w> TranscriptSink<'w> {
    pub fn new(out: Box<dyn Write + Send + 'w>, time: LocalTimeFormat) -> Self {
        TranscriptSink {
            out: Buffered::new(out),
            time,
            scratch: Vec::new(),
        }
    }
}

/// Append `s` with its line breaks shown as ` ⏎ ` and other control characters as spaces.
fn push_one_line(out: &mut Vec<u8>, s: &str) {
    let s = s.trim_end_matches(['\n', '\r']);
    for c in s.chars() {
        match c {
            '\n' => out.extend_from_slice(" ⏎ ".as_bytes()),
            '\r' => {}
            c if c.is_control() => out.push(b' '),
            c => {
                let mut b = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
}

impl Sink for TranscriptSink<'_> {
    fn write_rows(&mut self, batches: &[RecordBatch], rows: &[(u32, u32)]) -> io::Result<()> {
        let all: Vec<Vec<Column<'_>>> = batches.iter().map(cells).collect();
        for &(b, row) in rows {
            let (columns, row) = (&all[b as usize], row as usize);
            let buf = &mut self.out.buf;
            if let Cell::Time(t) = columns[0].get(row) {
                self.scratch.clear();
                self.time.push(t, &mut self.scratch);
                // `2026-02-03T09:30:00+08:00` → `2026-02-03 09:30`.
                if self.scratch.len() >= 16 && self.scratch[10] == b'T' {
                    self.scratch[10] = b' ';
                    self.scratch.truncate(16);
                }
                buf.extend_from_slice(&self.scratch);
                buf.push(b' ');
            }
            if let Cell::Str(room) = columns[1].get(row) {
                buf.push(b'[');
                push_one_line(buf, room);
                buf.extend_from_slice(b"] ");
            }
            match columns[2].get(row) {
                Cell::Str(sender) => push_one_line(buf, sender),
                _ => buf.push(b'?'),
            }
            buf.extend_from_slice(b": ");
            if let Cell::Str(text) = columns[3].get(row) {
                push_one_line(buf, text);
            }
            buf.push(b'\n');
            self.out.maybe_flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_stays_on_its_line() {
        let mut out = Vec::new();
        push_one_line(&mut out, "第一行\n第二行\r\n\tend\n");
        assert_eq!(String::from_utf8(out).unwrap(), "第一行 ⏎ 第二行 ⏎  end");
    }
}
