//! The rows of one partition on their way to a row group, and their order inside it.
//!
//! Ingest's dedup thread does not copy rows: it notes which rows of each normalized chunk are
//! new, per partition, and shares the chunk's batch ([`PendingRows`]). The encoder thread then
//! copies every row exactly once, straight into (chatroom, create_time) order. A selection of
//! less than half a chunk (a few late arrivals in a chunk that belongs to another day, or a chunk
//! of mostly duplicates) is copied out at once instead, so that it cannot keep its chunk alive:
//! memory stays within twice the rows held.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, UInt32Array};
use arrow_select::take::take_record_batch;
use rustc_hash::FxHashMap;

use crate::lake::gather::{interleave_batches, interleave_column};
use crate::record::{arrow_schema, col};

/// Rows of one chunk batch: all of them, or the listed ones in arrival order.
#[derive(Debug)]
struct Part {
    batch: Arc<RecordBatch>,
    rows: Option<Vec<u32>>,
}

impl Part {
    fn len(&self) -> usize {
        self.rows.as_ref().map_or(self.batch.num_rows(), Vec::len)
    }

    fn row(&self, i: usize) -> usize {
        self.rows.as_ref().map_or(i, |r| r[i] as usize)
    }
}

/// Rows of one partition waiting to become a row group, as shared selections of chunk batches.
#[derive(Debug, Default)]
pub struct PendingRows {
    parts: Vec<Part>,
    rows: usize,
    bytes: usize,
}

impl PendingRows {
    /// All rows of `batch`, in order.
    pub fn whole(batch: RecordBatch) -> Self {
        let mut pending = PendingRows::default();
        pending.add(&Arc::new(batch), None, 0);
        pending
    }

    /// Add rows of `batch` (in arrival order; `None`: all of them). `bytes` estimates their size
    /// for the caller's memory budget.
    pub fn add(&mut self, batch: &Arc<RecordBatch>, rows: Option<Vec<u32>>, bytes: usize) {
        let part = match rows {
            Some(rows) if rows.len() == batch.num_rows() => Part {
                batch: batch.clone(),
                rows: None,
            },
            Some(rows) if rows.len() * 2 < batch.num_rows() => {
                let n = rows.len() as u32;
                let small = take_record_batch(batch, &UInt32Array::from(rows))
                    .expect("indices are in bounds");
                debug_assert_eq!(small.num_rows() as u32, n);
                Part {
                    batch: Arc::new(small),
                    rows: None,
                }
            }
            rows => Part {
                batch: batch.clone(),
                rows,
            },
        };
        self.rows += part.len();
        self.bytes += bytes;
        if part.len() > 0 {
            self.parts.push(part);
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Estimated bytes of the rows held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Take everything, leaving this empty.
    pub fn take(&mut self) -> PendingRows {
        std::mem::take(self)
    }

    /// All the rows, sorted by (chatroom, nulls first; create_time), ties in arrival
    /// order. Chatrooms are few: each row's room is looked up once, rows are counting-sorted by
    /// the rooms' rank, and only rooms whose rows did not arrive in time order (late arrivals)
    /// are sorted by time. The rows are copied once, straight into sorted order; a whole batch
    /// already in order is not copied at all.
    pub fn sorted(&self) -> SortedRows<'_> {
        let columns: Vec<(&StringArray, &Int64Array)> = self
            .parts
            .iter()
            .map(|p| {
                let column = |name| p.batch.column_by_name(name).expect("lake column");
                (
                    column(col::CHATROOM).as_string::<i32>(),
                    column(col::CREATE_TIME).as_primitive::<Int64Type>(),
                )
            })
            .collect();
        // Rooms numbered in order of appearance (0 = no chatroom), then ranked by name.
        let mut ids: FxHashMap<&str, u32> = FxHashMap::default();
        let mut names: Vec<&str> = Vec::new();
        let mut flat: Vec<(usize, usize)> = Vec::with_capacity(self.rows);
        let mut room_of: Vec<u32> = Vec::with_capacity(self.rows);
        for (p, part) in self.parts.iter().enumerate() {
            let rooms = columns[p].0;
            for i in 0..part.len() {
                let r = part.row(i);
                let room = if rooms.is_valid(r) {
                    *ids.entry(rooms.value(r)).or_insert_with_key(|name| {
                        names.push(name);
                        names.len() as u32
                    })
                } else {
                    0
                };
                flat.push((p, r));
                room_of.push(room);
            }
        }
        let mut by_name: Vec<u32> = (1..=names.len() as u32).collect();
        by_name.sort_unstable_by_key(|&id| names[id as usize - 1]);
        let mut rank = vec![0u32; names.len() + 1];
        for (position, &id) in by_name.iter().enumerate() {
            rank[id as usize] = position as u32 + 1;
        }
        // Counting sort by rank (stable: arrival order within a room).
        let mut starts = vec![0usize; names.len() + 2];
        for &room in &room_of {
            starts[rank[room as usize] as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut order = vec![(0usize, 0usize); flat.len()];
        let mut next = starts.clone();
        for (&row, &room) in flat.iter().zip(&room_of) {
            let slot = &mut next[rank[room as usize] as usize];
            order[*slot] = row;
            *slot += 1;
        }
        let time = |&(p, r): &(usize, usize)| columns[p].1.value(r);
        for room in starts.windows(2) {
            let group = &mut order[room[0]..room[1]];
            if !group.is_sorted_by_key(time) {
                group.sort_by_key(time); // stable: ties keep arrival order
            }
        }
        let batches: Vec<&RecordBatch> = self.parts.iter().map(|p| p.batch.as_ref()).collect();
        let in_place = matches!(self.parts.as_slice(), [part] if part.rows.is_none())
            && order.iter().enumerate().all(|(i, &(_, r))| i == r);
        SortedRows {
            rows: order.len(),
            order: (!in_place).then_some(order),
            batches,
        }
    }

    /// One batch of all the rows, in [`PendingRows::sorted`] order.
    pub fn sorted_batch(&self) -> RecordBatch {
        let sorted = self.sorted();
        if sorted.rows == 0 {
            return RecordBatch::new_empty(arrow_schema());
        }
        match &sorted.order {
            None => sorted.batches[0].clone(),
            Some(order) => {
                interleave_batches(&sorted.batches, order).expect("indices are in bounds")
            }
        }
    }
}

/// The rows of a [`PendingRows`] in row-group order, gathered a column at a time (and only
/// when asked), so that the columns of one row group can be gathered and encoded on several
/// threads, and each gathered column freed as soon as it is encoded.
pub struct SortedRows<'a> {
    batches: Vec<&'a RecordBatch>,
    /// `(batch, row)` of each row in order; `None` when the rows are one batch already in order.
    order: Option<Vec<(usize, usize)>>,
    rows: usize,
}

impl SortedRows<'_> {
    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// The batches the rows come from (their schema is the rows' schema).
    pub fn batches(&self) -> &[&RecordBatch] {
        &self.batches
    }

    /// Rows `start..start + len` of column `c`, in order (a slice of the batch when it is in
    /// order already, else a copy).
    pub fn column(&self, c: usize, start: usize, len: usize) -> ArrayRef {
        match &self.order {
            None => self.batches[0].column(c).slice(start, len),
            Some(order) => interleave_column(&self.batches, c, &order[start..start + len])
                .expect("indices are in bounds"),
        }
    }

    /// Bytes of column `c`'s buffers over the batches the rows come from: what encoding it
    /// costs, roughly, for sharing the columns out between threads.
    pub fn column_bytes(&self, c: usize) -> usize {
        self.batches
            .iter()
            .map(|b| b.column(c).get_buffer_memory_size())
            .sum()
    }
}

/// Sort a batch of lake rows by (chatroom, nulls first; create_time), ties in arrival order
/// (see [`PendingRows::sorted_batch`]).
pub fn sort_batch(batch: &RecordBatch) -> RecordBatch {
    PendingRows::whole(batch.clone()).sorted_batch()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::writer::RowBuffer;
    use crate::record::{Record, text};

    /// Rows (msg_id, chatroom, create_time) as a lake batch.
    fn batch(rows: &[(&str, Option<&str>, i64)]) -> RecordBatch {
        let mut buffer = RowBuffer::default();
        for &(id, room, time) in rows {
            let mut r = Record {
                msg_id: id.into(),
                create_time: time,
                ..Default::default()
            };
            r.text[text::CHATROOM] = room.map(Into::into);
            buffer.push(&r);
        }
        buffer.take_batch()
    }

    fn ids(batch: &RecordBatch) -> Vec<&str> {
        let ids = batch
            .column_by_name(col::MSG_ID)
            .unwrap()
            .as_string::<i32>();
        ids.iter().flatten().collect()
    }

    #[test]
    fn sorts_by_chatroom_then_time_with_ties_in_arrival_order() {
        let b = batch(&[
            ("0", Some("b"), 100),
            ("1", Some("a"), 99),
            ("2", None, 50),
            ("3", Some("b"), 98),
            ("4", Some("a"), 97),
            ("5", Some("a"), 97),
            ("6", None, 10),
        ]);
        // no room first (10, 50), then a (97 tie in arrival order, 99), then b (98, 100)
        assert_eq!(ids(&sort_batch(&b)), ["6", "2", "4", "5", "1", "3", "0"]);
    }

    #[test]
    fn selections_of_several_batches_are_merged_in_one_order() {
        let first = Arc::new(batch(&[
            ("a1", Some("x"), 5),
            ("dup", Some("x"), 6),
            ("a2", Some("y"), 7),
        ]));
        let second = Arc::new(batch(&[
            ("b1", Some("x"), 1),
            ("b2", Some("y"), 2),
            ("late", Some("x"), 8),
            ("b3", Some("x"), 3),
            ("dup2", Some("x"), 3),
        ]));
        let mut pending = PendingRows::default();
        pending.add(&first, Some(vec![0, 2]), 20);
        pending.add(&second, Some(vec![0, 1, 2, 3]), 40);
        pending.add(&second, Some(vec![]), 0);
        assert_eq!((pending.rows(), pending.bytes()), (6, 60));
        assert_eq!(
            ids(&pending.sorted_batch()),
            ["b1", "b3", "a1", "late", "b2", "a2"]
        );
        let taken = pending.take();
        assert_eq!((taken.rows(), pending.rows()), (6, 0));
        assert_eq!(pending.sorted_batch().num_rows(), 0);
    }

    #[test]
    fn a_small_selection_does_not_share_its_chunk() {
        let chunk = Arc::new(batch(&[
            ("0", None, 1),
            ("1", None, 2),
            ("2", None, 3),
            ("3", None, 4),
        ]));
        let mut pending = PendingRows::default();
        pending.add(&chunk, Some(vec![2]), 10);
        assert_eq!(Arc::strong_count(&chunk), 1, "copied out, not shared");
        pending.add(&chunk, Some(vec![0, 1, 3]), 30);
        assert_eq!(Arc::strong_count(&chunk), 2);
        assert_eq!(ids(&pending.sorted_batch()), ["0", "1", "2", "3"]);
    }

    #[test]
    fn a_whole_batch_in_order_is_not_copied() {
        let b = batch(&[("0", Some("a"), 1), ("1", Some("a"), 2)]);
        let sorted = sort_batch(&b);
        assert_eq!(
            sorted.column(0).to_data().buffers()[1].as_ptr(),
            b.column(0).to_data().buffers()[1].as_ptr()
        );
    }
}
