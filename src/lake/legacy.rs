//! Files as older versions of wxlake wrote them: for the tests and the interoperability checks
//! that must build a lake of mixed schema versions (what `migrate` and every reader meet in a
//! lake ingested before an upgrade). Not used by any command.
//!
//! A file is rewritten in place as schema version 1 or 2 would have stored its rows: only that
//! version's columns, a 4.x packed msg_type back as a type conflict (msg_type null, the number
//! in extra_fields), a chatroom_sender filled from a prefix back as sent, and no data checksum
//! (older files have none).

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::Schema;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};
use crate::lake::reader::{conform, open_projected};
use crate::lake::writer::{CODEC_KEY, TIMEZONE_KEY};
use crate::record::{COLUMNS, COLUMNS_OF_VERSION, SCHEMA_VERSION_KEY, arrow_schema, col};

/// Rewrite the lake file at `path` as schema `version` (1 or 2) wrote it, recording `timezone`.
pub fn rewrite_as_version(path: &Path, version: u32, timezone: &str) -> Result<()> {
    assert!(matches!(version, 1 | 2), "older versions are 1 and 2");
    let keep = COLUMNS_OF_VERSION[version as usize - 1];
    let full = arrow_schema();
    let schema = Arc::new(Schema::new(full.fields()[..keep].to_vec()));
    let mut batches = Vec::new();
    for batch in open_projected(path, &COLUMNS)? {
        let batch = batch.map_err(|e| Error::data(path, e.to_string()))?;
        let batch = conform(path, &batch, &full)?;
        let columns: Vec<ArrayRef> = downgrade_columns(&batch).into_iter().take(keep).collect();
        batches.push(RecordBatch::try_new(schema.clone(), columns).expect("same columns"));
    }
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata(Some(vec![
            KeyValue::new(SCHEMA_VERSION_KEY.to_string(), version.to_string()),
            KeyValue::new(CODEC_KEY.to_string(), "snappy".to_string()),
            KeyValue::new(TIMEZONE_KEY.to_string(), timezone.to_string()),
        ]))
        .build();
    let dir = path.parent().expect("a file in a partition");
    let tmp = tempfile::Builder::new()
        .prefix(".legacy-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io("create a file in", dir, e))?;
    let file = tmp.reopen().map_err(|e| Error::io("open", tmp.path(), e))?;
    let mut writer = ArrowWriter::try_new(file, schema, Some(props))
        .map_err(|e| Error::data(path, e.to_string()))?;
    for b in &batches {
        writer
            .write(b)
            .map_err(|e| Error::data(path, e.to_string()))?;
    }
    writer
        .close()
        .map_err(|e| Error::data(path, e.to_string()))?;
    tmp.persist(path)
        .map_err(|e| Error::io("replace", path, e.error))?;
    Ok(())
}

/// The batch's columns with what `as_sent` records put back as older versions stored it.
fn downgrade_columns(batch: &RecordBatch) -> Vec<ArrayRef> {
    let strings = |name: &str| batch.column_by_name(name).unwrap().as_string::<i32>();
    let (as_sent, extra, sender) = (
        strings(col::AS_SENT),
        strings(col::EXTRA_FIELDS),
        strings(col::CHATROOM_SENDER),
    );
    let types = batch
        .column_by_name(col::MSG_TYPE)
        .unwrap()
        .as_primitive::<Int32Type>();
    let (mut new_types, mut new_extra, mut new_sender) = (
        Int32Builder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    for i in 0..batch.num_rows() {
        let mut sent = Vec::new();
        if as_sent.is_valid(i) {
            let _ = crate::json_object::parse_object(as_sent.value(i), &mut sent);
        }
        let find = |key: &str| sent.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
        let value = |a: &arrow_array::StringArray| a.is_valid(i).then(|| a.value(i).to_string());
        match find(col::MSG_TYPE) {
            Some(raw) => {
                new_types.append_null();
                let member = format!("\"msg_type\":{raw}");
                new_extra.append_value(match value(extra) {
                    Some(e) if e.len() > 2 => format!("{},{member}}}", &e[..e.len() - 1]),
                    _ => format!("{{{member}}}"),
                });
            }
            None => {
                new_types.append_option(types.is_valid(i).then(|| types.value(i)));
                new_extra.append_option(value(extra));
            }
        }
        match find(col::CHATROOM_SENDER) {
            Some("null") => new_sender.append_null(),
            Some(_) => new_sender.append_value(""),
            None => new_sender.append_option(value(sender)),
        }
    }
    let replaced: [(&str, ArrayRef); 3] = [
        (col::MSG_TYPE, Arc::new(new_types.finish())),
        (col::EXTRA_FIELDS, Arc::new(new_extra.finish())),
        (col::CHATROOM_SENDER, Arc::new(new_sender.finish())),
    ];
    batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| {
            replaced
                .iter()
                .find(|(name, _)| name == f.name())
                .map_or_else(|| c.clone(), |(_, a)| a.clone())
        })
        .collect()
}
