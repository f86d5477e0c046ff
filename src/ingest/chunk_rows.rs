//! The normalizing half of ingest, on a thread of its own: it reads chunks of lines, normalizes
//! and hashes them into Arrow arrays, and hands them to the thread that deduplicates and buffers
//! them by partition. Everything here is order-independent; everything order-dependent (dedup,
//! "first copy wins", quarantine order) stays on the receiving side, which takes the chunks in
//! file order.

use std::io;
use std::sync::mpsc::SyncSender;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, Int32Array, Int64Array, RecordBatch, StringArray};

use crate::checkpoint::Counts;
use crate::jsonl::{Chunk, JsonlReader};
use crate::lake::writer::RowBuffer;
use crate::normalize::{Line, Reject, normalize_line};
use crate::record::{Record, TEXT_COLUMNS, col};

/// A rejected line, with its original bytes, waiting for the quarantine.
pub struct PendingReject {
    pub line: u64,
    pub offset: u64,
    pub reject: Reject,
    pub bytes: Vec<u8>,
}

/// Line number and row hash of one row of [`ChunkRows::batch`].
#[derive(Debug, Clone, Copy)]
pub struct RowMeta {
    pub line: u64,
    pub hash: u64,
}

/// What one chunk of lines normalized to.
pub struct ChunkRows {
    /// `lines_read`, `blank`, `rejected`, `type_conflicts`, `repaired` and `bytes_read` of the chunk.
    pub counts: Counts,
    pub rejects: Vec<PendingReject>,
    /// The chunk's records in line order.
    pub batch: RecordBatch,
    pub rows: Vec<RowMeta>,
}

/// Normalize every line of `chunk`, collecting records in `buffer` (reused across chunks).
pub fn normalize_chunk(chunk: &Chunk<'_>, buffer: &mut RowBuffer) -> ChunkRows {
    let mut counts = Counts {
        bytes_read: chunk.data.len() as u64,
        ..Counts::default()
    };
    let mut rejects = Vec::new();
    let mut rows = Vec::new();
    for line in chunk.lines() {
        counts.lines_read += 1;
        match normalize_line(line.bytes) {
            Line::Blank => counts.blank += 1,
            Line::Reject(reject) => {
                counts.rejected += 1;
                rejects.push(PendingReject {
                    line: line.number,
                    offset: line.offset,
                    reject,
                    bytes: line.bytes.to_vec(),
                });
            }
            Line::Record(n) => {
                counts.type_conflicts += u64::from(n.type_conflicts);
                counts.repaired += u64::from(n.repaired);
                rows.push(RowMeta {
                    line: line.number,
                    hash: n.record.content_hash(),
                });
                buffer.push(&n.record);
            }
        }
    }
    ChunkRows {
        counts,
        rejects,
        batch: buffer.take_batch(),
        rows,
    }
}

/// Read and normalize chunks until the end of the file (or until the receiver hangs up), sending
/// them in order. Returns the reader, whose offset and line number say how far it got.
pub fn run_normalizer(
    mut reader: JsonlReader,
    tx: SyncSender<io::Result<ChunkRows>>,
) -> JsonlReader {
    let mut buffer = RowBuffer::default();
    loop {
        let rows = match reader.next_chunk() {
            Ok(Some(chunk)) => Ok(normalize_chunk(&chunk, &mut buffer)),
            Ok(None) => break,
            Err(e) => Err(e),
        };
        let failed = rows.is_err();
        if tx.send(rows).is_err() || failed {
            break;
        }
    }
    reader
}

/// Typed access to the rows of a lake batch.
pub struct BatchRows<'a> {
    ids: &'a StringArray,
    times: &'a Int64Array,
    types: &'a Int32Array,
    text: [&'a StringArray; 6],
    extra: &'a StringArray,
}

impl<'a> BatchRows<'a> {
    /// A view of a batch made by [`RowBuffer::take_batch`].
    pub fn new(batch: &'a RecordBatch) -> Self {
        let string = |name: &str| {
            batch
                .column_by_name(name)
                .expect("lake column")
                .as_string::<i32>()
        };
        BatchRows {
            ids: string(col::MSG_ID),
            times: batch
                .column_by_name(col::CREATE_TIME)
                .expect("lake column")
                .as_primitive::<Int64Type>(),
            types: batch
                .column_by_name(col::MSG_TYPE)
                .expect("lake column")
                .as_primitive::<Int32Type>(),
            text: TEXT_COLUMNS.map(string),
            extra: string(col::EXTRA_FIELDS),
        }
    }

    /// Row `i` as a record borrowing the batch.
    pub fn record(&self, i: usize) -> Record<'a> {
        let opt = |a: &'a StringArray| a.is_valid(i).then(|| a.value(i).into());
        Record {
            msg_id: self.ids.value(i).into(),
            create_time: self.times.value(i),
            msg_type: self.types.is_valid(i).then(|| self.types.value(i)),
            text: self.text.map(opt),
            extra_fields: opt(self.extra),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn rows_come_back_as_the_records_they_were() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"{\"msg_id\":1,\"create_time\":5,\"content\":\"a\",\"x\":[1]}\n\nnot json\n{\"msg_id\":\"2\",\"create_time\":6,\"msg_type\":\"abc\"}\n").unwrap();
        let mut reader = JsonlReader::new(f, 0, 1, true).unwrap();
        let chunk = reader.next_chunk().unwrap().unwrap();
        let rows = normalize_chunk(&chunk, &mut RowBuffer::default());
        assert_eq!(
            (
                rows.counts.lines_read,
                rows.counts.blank,
                rows.counts.rejected
            ),
            (4, 1, 1)
        );
        assert_eq!(rows.counts.type_conflicts, 1);
        assert_eq!(rows.rejects[0].line, 3);
        assert_eq!(rows.rejects[0].bytes, b"not json");
        let view = BatchRows::new(&rows.batch);
        let first = view.record(0);
        assert_eq!(first.msg_id, "1");
        assert_eq!(first.extra_fields.as_deref(), Some("{\"x\":[1]}"));
        assert_eq!(rows.rows[0].hash, first.content_hash());
        let second = view.record(1);
        assert_eq!(
            (second.msg_id.as_ref(), second.msg_type, rows.rows[1].line),
            ("2", None, 4)
        );
    }
}
