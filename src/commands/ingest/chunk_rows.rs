//! The normalizing half of ingest: a chunk of lines normalized and hashed into Arrow arrays, on
//! one of the [`normalizers`](crate::commands::ingest::normalizers) threads, for the thread that
//! deduplicates them and assigns their rows to partitions. Everything here is order-independent;
//! everything order-dependent (dedup, "first copy wins", quarantine order) stays on the receiving
//! side, which takes the chunks in file order.

use arrow_array::RecordBatch;

use crate::checkpoint::Counts;
use crate::contact::ContactRecord;
use crate::event::EventRecord;
use crate::jsonl::Chunk;
use crate::lake::msg_index::StoredFilter;
use crate::lake::writer::RowBuffer;
use crate::mask::Mask;
use crate::normalize::{Line, Reject, normalize_line_masked};

/// A rejected line, with its original bytes, waiting for the quarantine.
pub struct PendingReject {
    pub line: u64,
    pub offset: u64,
    pub reject: Reject,
    pub bytes: Vec<u8>,
}

/// A contact or event record of a chunk (rare: about one line in a hundred).
pub enum OtherRecord {
    Contact(Box<ContactRecord>),
    Event(Box<EventRecord>),
}

/// A contact or event record with its line number, waiting for its time stamp and dedup.
pub struct PendingOther {
    pub line: u64,
    pub record: OtherRecord,
}

/// Line number, row hash and msg_id index hash of one row of [`ChunkRows::batch`].
#[derive(Debug, Clone, Copy)]
pub struct RowMeta {
    pub line: u64,
    pub hash: u32,
    /// [`crate::lake::msg_index::hash_id`] of the msg_id, computed here on a normalizer thread
    /// rather than on the thread that deduplicates in file order.
    pub id_hash: u64,
    /// [`StoredFilter::may_hold`]`(id_hash)`: false when the lake surely does not store the id
    /// (asked here, on a normalizer thread, too).
    pub maybe_stored: bool,
}

/// What one chunk of lines normalized to.
pub struct ChunkRows {
    /// `lines_read`, `blank`, `rejected`, `type_conflicts`, `repaired` and `bytes_read` of the chunk.
    pub counts: Counts,
    pub rejects: Vec<PendingReject>,
    /// The chunk's records in line order.
    pub batch: RecordBatch,
    pub rows: Vec<RowMeta>,
    /// Approximate bytes of the batch's values.
    pub bytes: usize,
    /// Contact and event records, in line order.
    pub others: Vec<PendingOther>,
}

/// Normalize every line of `chunk`, collecting records in `buffer` (reused across chunks).
pub fn normalize_chunk(
    chunk: &Chunk<'_>,
    buffer: &mut RowBuffer,
    mask: Mask,
    stored: &StoredFilter,
) -> ChunkRows {
    let mut counts = Counts {
        bytes_read: chunk.data.len() as u64,
        ..Counts::default()
    };
    let mut rejects = Vec::new();
    let mut rows = Vec::new();
    let mut others = Vec::new();
    if let Some(long) = chunk.oversized {
        counts.lines_read += 1;
        counts.rejected += 1;
        counts.bytes_read += long.len + 1;
        rejects.push(PendingReject {
            line: long.number,
            offset: long.offset,
            reject: Reject::LineTooLong {
                len: long.len,
                max: long.max,
                kept: long.head.len(),
            },
            bytes: long.head.clone(),
        });
    }
    for line in chunk.lines() {
        counts.lines_read += 1;
        if line.bytes.len() > chunk.max_line {
            // Read whole because it fit in one read, but as long as one that did not: treated
            // the same, by reference.
            let kept = line.bytes.len().min(256);
            counts.rejected += 1;
            rejects.push(PendingReject {
                line: line.number,
                offset: line.offset,
                reject: Reject::LineTooLong {
                    len: line.bytes.len() as u64,
                    max: chunk.max_line as u64,
                    kept,
                },
                bytes: line.bytes[..kept].to_vec(),
            });
            continue;
        }
        match normalize_line_masked(line.bytes, mask) {
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
                let id_hash = crate::lake::msg_index::hash_id(&n.record.msg_id);
                counts.type_conflicts += u64::from(n.type_conflicts);
                counts.repaired += u64::from(n.repaired);
                rows.push(RowMeta {
                    line: line.number,
                    hash: n.record.content_hash(),
                    id_hash,
                    maybe_stored: true, // asked below
                });
                counts.xml_unparsed += u64::from(buffer.push(&n.record));
            }
            Line::Contact(c) => {
                counts.repaired += u64::from(c.repaired);
                others.push(PendingOther {
                    line: line.number,
                    record: OtherRecord::Contact(Box::new(c.record)),
                });
            }
            Line::Event(e) => {
                counts.repaired += u64::from(e.repaired);
                others.push(PendingOther {
                    line: line.number,
                    record: OtherRecord::Event(Box::new(e.record)),
                });
            }
        }
    }
    // In a loop of its own, the filter's cache misses overlap (its loads are independent), where
    // between the lines' parsing each would stall alone.
    for row in &mut rows {
        row.maybe_stored = stored.may_hold(row.id_hash);
    }
    ChunkRows {
        counts,
        rejects,
        others,
        bytes: buffer.bytes(),
        batch: buffer.take_batch(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use crate::jsonl::JsonlReader;

    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type};
    use arrow_array::{Array, Int32Array, Int64Array, StringArray};

    use super::*;
    use crate::record::{Record, TEXT_COLUMNS, col};

    /// Typed access to the rows of a lake batch.
    struct BatchRows<'a> {
        ids: &'a StringArray,
        times: &'a Int64Array,
        types: &'a Int32Array,
        text: [&'a StringArray; 6],
        extra: &'a StringArray,
    }

    impl<'a> BatchRows<'a> {
        /// A view of a batch made by [`RowBuffer::take_batch`].
        fn new(batch: &'a RecordBatch) -> Self {
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
        fn record(&self, i: usize) -> Record<'a> {
            let opt = |a: &'a StringArray| a.is_valid(i).then(|| a.value(i).into());
            Record {
                msg_id: self.ids.value(i).into(),
                create_time: self.times.value(i),
                msg_type: self.types.is_valid(i).then(|| self.types.value(i)),
                text: self.text.map(opt),
                extra_fields: opt(self.extra),
                ..Default::default()
            }
        }
    }

    #[test]
    fn rows_come_back_as_the_records_they_were() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"{\"msg_id\":1,\"create_time\":5,\"content\":\"a\",\"x\":[1]}\n\nnot json\n{\"msg_id\":\"2\",\"create_time\":6,\"msg_type\":\"abc\"}\n").unwrap();
        let mut reader = JsonlReader::new(f, 0, 1, true).unwrap();
        let chunk = reader.next_chunk().unwrap().unwrap();
        let rows = normalize_chunk(
            &chunk,
            &mut RowBuffer::default(),
            Mask::NONE,
            &StoredFilter::default(),
        );
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
