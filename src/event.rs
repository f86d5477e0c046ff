//! The events table: records of webhook notify types wxlake does not interpret (neither a
//! message nor a contact record), kept verbatim so that nothing a collector sent is lost.
//!
//! Pure: the record type, its Arrow schema and a batch builder. Files live under
//! `parquet/events/`; ingest stamps each record with `observed_at` like a contact record and
//! deduplicates by [`crate::contact::record_key`].

use std::sync::{Arc, OnceLock};

use arrow_array::builder::{Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, SchemaRef};

use crate::record::{FieldSpec, schema_of, specs_of};

/// Version of the events table's schema.
pub const EVENTS_SCHEMA_VERSION: u32 = 1;

/// One event record as read from a raw line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventRecord {
    pub notify_type: Option<i32>,
    pub guid: Option<String>,
    /// The record's JSON text as sent: an envelope's `data`, or the whole flat line.
    pub data: String,
    /// JSON object text of the envelope's other keys.
    pub extra_fields: Option<String>,
    /// See [`crate::contact::ContactRecord::content_hash`].
    pub content_hash: u64,
}

/// An event with where and when it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub record: EventRecord,
    pub observed_at: i64,
    pub record_key: String,
    pub raw_file: String,
    pub line: u64,
}

const FIELDS: [(&str, DataType, bool, &str); 8] = [
    ("notify_type", DataType::Int32, true, "webhook record kind"),
    ("guid", DataType::Utf8, true, "webhook request id"),
    (
        "observed_at",
        DataType::Int64,
        false,
        "unix seconds, as for contacts",
    ),
    (
        "data",
        DataType::Utf8,
        false,
        "the record's JSON text as sent",
    ),
    (
        "extra_fields",
        DataType::Utf8,
        true,
        "JSON object text of the envelope's other keys",
    ),
    (
        "record_key",
        DataType::Utf8,
        false,
        "dedup key: the guid, else a hash of the content and observed_at",
    ),
    (
        "raw_file",
        DataType::Utf8,
        false,
        "the raw file the record came from",
    ),
    ("line", DataType::Int64, false, "its line number there"),
];

/// The Arrow schema of the events table.
pub fn arrow_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA.get_or_init(|| schema_of(&FIELDS)).clone()
}

/// The fields with their documentation, for the schema registry.
pub fn field_specs() -> Vec<FieldSpec> {
    specs_of(&FIELDS)
}

/// Rows as one Arrow batch of [`arrow_schema`].
pub fn to_batch(rows: &[EventRow]) -> RecordBatch {
    let mut notify = Int32Builder::new();
    let mut guid = StringBuilder::new();
    let mut observed = Int64Builder::new();
    let mut data = StringBuilder::new();
    let mut extra = StringBuilder::new();
    let mut key = StringBuilder::new();
    let mut raw_file = StringBuilder::new();
    let mut line = Int64Builder::new();
    for row in rows {
        notify.append_option(row.record.notify_type);
        guid.append_option(row.record.guid.as_deref());
        observed.append_value(row.observed_at);
        data.append_value(&row.record.data);
        extra.append_option(row.record.extra_fields.as_deref());
        key.append_value(&row.record_key);
        raw_file.append_value(&row.raw_file);
        line.append_value(row.line as i64);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(notify.finish()),
        Arc::new(guid.finish()),
        Arc::new(observed.finish()),
        Arc::new(data.finish()),
        Arc::new(extra.finish()),
        Arc::new(key.finish()),
        Arc::new(raw_file.finish()),
        Arc::new(line.finish()),
    ];
    RecordBatch::try_new(arrow_schema(), columns).expect("builders match the schema")
}
