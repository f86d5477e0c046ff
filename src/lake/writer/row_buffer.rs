//! Rows collected in Arrow builders, their derived columns computed on the way in
//! ([`crate::message_kind`]), taken as one batch at a time.

use std::sync::Arc;

use arrow_array::builder::{Int32Builder, Int64Builder, ListBuilder, StringBuilder};
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};

use super::sparse_column::{SparsePrimitive, SparseStrings};
use crate::message_kind::derive_record;
use crate::record::{Record, arrow_schema};

/// Arrow builders for the rows of one row group.
pub struct RowBuffer {
    msg_id: StringBuilder,
    create_time: Int64Builder,
    msg_type: Int32Builder,
    text: [StringBuilder; 6],
    // Null in nearly every row (guid and notify_type but for webhook collectors).
    extra_fields: SparseStrings,
    guid: SparseStrings,
    notify_type: SparsePrimitive<Int32Type>,
    as_sent: SparseStrings,
    derived: DerivedBuilders,
    rows: usize,
    bytes: usize,
    /// Rows of the previous batch: with this one, a capacity hint for the next.
    last_rows: usize,
}

impl Default for RowBuffer {
    fn default() -> Self {
        RowBuffer {
            msg_id: StringBuilder::new(),
            create_time: Int64Builder::new(),
            msg_type: Int32Builder::new(),
            text: std::array::from_fn(|_| StringBuilder::new()),
            extra_fields: SparseStrings::default(),
            guid: SparseStrings::default(),
            notify_type: SparsePrimitive::default(),
            as_sent: SparseStrings::default(),
            derived: DerivedBuilders::default(),
            rows: 0,
            bytes: 0,
            last_rows: 0,
        }
    }
}

/// Builders of the derived columns ([`crate::record::DERIVED`]).
#[derive(Default)]
struct DerivedBuilders {
    kind: StringBuilder,
    // Set for app messages (and quotes, revokes) only.
    app_type: SparsePrimitive<Int32Type>,
    title: SparseStrings,
    url: SparseStrings,
    file_size: SparsePrimitive<Int64Type>,
    quoted_msg_id: SparseStrings,
    revoked_msg_id: SparseStrings,
    mentions: ListBuilder<StringBuilder>,
    text: StringBuilder,
}

impl DerivedBuilders {
    /// Derive `r`'s columns and append them as row `row`; true when its XML card did not parse.
    fn push(&mut self, row: usize, r: &Record<'_>) -> (bool, usize) {
        let d = derive_record(r);
        self.kind.append_option(d.kind.map(|k| k.as_str()));
        self.app_type.set(row, d.app_type);
        self.title.set(row, d.title.as_deref());
        self.url.set(row, d.url.as_deref());
        self.file_size.set(row, d.file_size);
        self.quoted_msg_id.set(row, d.quoted_msg_id.as_deref());
        self.revoked_msg_id.set(row, d.revoked_msg_id.as_deref());
        if d.mentions.is_empty() {
            self.mentions.append_null();
        } else {
            for m in &d.mentions {
                self.mentions.values().append_value(m);
            }
            self.mentions.append(true);
        }
        self.text.append_option(d.text.as_deref());
        let len = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        let bytes = len(&d.title)
            + len(&d.url)
            + d.text.as_ref().map_or(0, |t| t.len())
            + d.mentions.iter().map(String::len).sum::<usize>()
            + 24;
        (d.xml_unparsed, bytes)
    }

    fn finish(&mut self, rows: usize, columns: &mut Vec<ArrayRef>) {
        columns.push(Arc::new(self.kind.finish()));
        columns.push(self.app_type.finish(rows));
        columns.push(self.title.finish(rows));
        columns.push(self.url.finish(rows));
        columns.push(self.file_size.finish(rows));
        columns.push(self.quoted_msg_id.finish(rows));
        columns.push(self.revoked_msg_id.finish(rows));
        columns.push(Arc::new(self.mentions.finish()));
        // Text is about the size of content for text messages: size it like the last batch.
        let text_bytes = self.text.values_slice().len();
        let text = self.text.finish();
        self.text = StringBuilder::with_capacity(text.len(), text_bytes + text_bytes / 8);
        columns.push(Arc::new(text));
    }
}

impl RowBuffer {
    /// Append `r` with its derived columns; true when its XML card did not parse.
    pub fn push(&mut self, r: &Record<'_>) -> bool {
        self.msg_id.append_value(&r.msg_id);
        self.create_time.append_value(r.create_time);
        self.msg_type.append_option(r.msg_type);
        let mut bytes = r.msg_id.len() + 16 + 4 * 9;
        for (builder, value) in self.text.iter_mut().zip(&r.text) {
            builder.append_option(value.as_deref());
            bytes += value.as_ref().map_or(0, |v| v.len());
        }
        let row = self.rows;
        self.extra_fields.set(row, r.extra_fields.as_deref());
        bytes += r.extra_fields.as_ref().map_or(0, |s| s.len());
        self.guid.set(row, r.guid.as_deref());
        bytes += r.guid.as_ref().map_or(0, |s| s.len());
        self.notify_type.set(row, r.notify_type);
        self.as_sent.set(row, r.as_sent.as_deref());
        let (xml_unparsed, derived_bytes) = self.derived.push(row, r);
        self.rows += 1;
        self.bytes += bytes + derived_bytes;
        xml_unparsed
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Approximate memory held by the buffered values.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Take the buffered rows as a batch (in arrival order), leaving the builders empty but
    /// sized like this batch, so the next one fills without reallocating.
    pub fn take_batch(&mut self) -> RecordBatch {
        let rows = self.rows;
        let hint = |b: &StringBuilder| b.values_slice().len();
        let sizes = [
            hint(&self.msg_id),
            hint(&self.text[0]),
            hint(&self.text[1]),
            hint(&self.text[2]),
            hint(&self.text[3]),
            hint(&self.text[4]),
            hint(&self.text[5]),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.msg_id.finish()),
            Arc::new(self.create_time.finish()),
            Arc::new(self.msg_type.finish()),
        ];
        columns.extend(
            self.text
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        columns.push(self.extra_fields.finish(rows));
        columns.push(self.guid.finish(rows));
        columns.push(self.notify_type.finish(rows));
        columns.push(self.as_sent.finish(rows));
        self.derived.finish(rows, &mut columns);
        // Size the next batch's builders like this one (with a little headroom).
        let cap = |n: usize| n + n / 8;
        let rows_cap = cap(rows.max(self.last_rows));
        self.msg_id = StringBuilder::with_capacity(rows_cap, cap(sizes[0]));
        self.create_time = Int64Builder::with_capacity(rows_cap);
        self.msg_type = Int32Builder::with_capacity(rows_cap);
        for (i, b) in self.text.iter_mut().enumerate() {
            *b = StringBuilder::with_capacity(rows_cap, cap(sizes[i + 1]));
        }
        self.last_rows = rows;
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new(arrow_schema(), columns).expect("builders match the schema")
    }
}
