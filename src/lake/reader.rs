//! Reading lake files back: only the columns asked for, by name, tolerant of schema versions.
//!
//! Schema-on-read: a column a file does not have reads as null, and columns a file has beyond
//! the current schema are ignored.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray, new_null_array};
use arrow_schema::SchemaRef;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowFilter,
};

use crate::error::{Error, Result};
use crate::record::{RowView, TEXT_COLUMNS, col};

fn corrupt(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::data(path, format!("unreadable Parquet file: {e}"))
}

/// Open `path` reading only `columns` (those it has).
pub fn open_projected(path: &Path, columns: &[&str]) -> Result<ParquetRecordBatchReader> {
    open_filtered(path, columns, None)
}

/// Like [`open_projected`], but with `ids`, decode the other columns only for rows whose msg_id
/// is in `ids` (a Parquet row filter: the msg_id column is read first).
fn open_filtered(
    path: &Path,
    columns: &[&str],
    ids: Option<Arc<HashSet<String>>>,
) -> Result<ParquetRecordBatchReader> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| corrupt(path, e))?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), columns.iter().copied());
    if let Some(ids) = ids {
        let id_mask = ProjectionMask::columns(builder.parquet_schema(), [col::MSG_ID]);
        let predicate = ArrowPredicateFn::new(id_mask, move |batch: RecordBatch| {
            let column = batch.column(0).as_string::<i32>();
            Ok(column
                .iter()
                .map(|id| Some(id.is_some_and(|id| ids.contains(id))))
                .collect::<BooleanArray>())
        });
        builder = builder.with_row_filter(RowFilter::new(vec![Box::new(predicate)]));
    }
    builder
        .with_projection(mask)
        .with_batch_size(8192)
        .build()
        .map_err(|e| corrupt(path, e))
}

/// Call `f` with every msg_id stored in `path`. Returns the number of rows.
pub fn for_each_msg_id(path: &Path, f: impl FnMut(&str)) -> Result<u64> {
    for_each_string(path, col::MSG_ID, f)
}

/// Call `f` with every non-null value of the Utf8 column `column` of `path`. Returns the
/// number of rows.
pub fn for_each_string(path: &Path, column: &str, mut f: impl FnMut(&str)) -> Result<u64> {
    let mut rows = 0;
    for batch in open_projected(path, &[column])? {
        let batch = batch.map_err(|e| corrupt(path, e))?;
        let values = string_column(&batch, column)
            .ok_or_else(|| corrupt(path, format!("no {column} column")))?;
        for v in values.iter().flatten() {
            f(v);
        }
        rows += batch.num_rows() as u64;
    }
    Ok(rows)
}

/// Call `f` with every full row of `path` for which `want(msg_id)` holds.
pub fn for_each_row(
    path: &Path,
    want: impl FnMut(&str) -> bool,
    f: impl FnMut(RowView<'_>),
) -> Result<()> {
    rows(path, None, want, f)
}

/// Call `f` with every full row of `path` whose msg_id is in `ids`, decoding the other columns
/// only for those rows.
pub fn for_each_row_with_ids(
    path: &Path,
    ids: Arc<HashSet<String>>,
    f: impl FnMut(RowView<'_>),
) -> Result<()> {
    let wanted = ids.clone();
    rows(path, Some(ids), move |id| wanted.contains(id), f)
}

fn rows(
    path: &Path,
    ids: Option<Arc<HashSet<String>>>,
    mut want: impl FnMut(&str) -> bool,
    mut f: impl FnMut(RowView<'_>),
) -> Result<()> {
    let mut columns = vec![
        col::MSG_ID,
        col::CREATE_TIME,
        col::MSG_TYPE,
        col::EXTRA_FIELDS,
        col::GUID,
        col::NOTIFY_TYPE,
        col::AS_SENT,
    ];
    columns.extend(TEXT_COLUMNS);
    for batch in open_filtered(path, &columns, ids)? {
        let batch = batch.map_err(|e| corrupt(path, e))?;
        let ids =
            string_column(&batch, col::MSG_ID).ok_or_else(|| corrupt(path, "no msg_id column"))?;
        let times = batch
            .column_by_name(col::CREATE_TIME)
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| corrupt(path, "no create_time column"))?;
        let types = batch
            .column_by_name(col::MSG_TYPE)
            .and_then(|c| c.as_primitive_opt::<Int32Type>());
        let text: Vec<Option<&StringArray>> = TEXT_COLUMNS
            .iter()
            .map(|c| string_column(&batch, c))
            .collect();
        let extra = string_column(&batch, col::EXTRA_FIELDS);
        let guid = string_column(&batch, col::GUID);
        let as_sent = string_column(&batch, col::AS_SENT);
        let notify = batch
            .column_by_name(col::NOTIFY_TYPE)
            .and_then(|c| c.as_primitive_opt::<Int32Type>());
        for i in 0..batch.num_rows() {
            if ids.is_null(i) || !want(ids.value(i)) {
                continue;
            }
            f(RowView {
                msg_id: ids.value(i),
                create_time: times.value(i),
                msg_type: types.and_then(|t| t.is_valid(i).then(|| t.value(i))),
                text: std::array::from_fn(|c| {
                    text[c].and_then(|a| a.is_valid(i).then(|| a.value(i)))
                }),
                extra_fields: extra.and_then(|a| a.is_valid(i).then(|| a.value(i))),
                guid: guid.and_then(|a| a.is_valid(i).then(|| a.value(i))),
                notify_type: notify.and_then(|t| t.is_valid(i).then(|| t.value(i))),
                as_sent: as_sent.and_then(|a| a.is_valid(i).then(|| a.value(i))),
            });
        }
    }
    Ok(())
}

/// `batch` with exactly the columns of `schema`, by name (schema-on-read): a column the file
/// lacks is null if the field is nullable (an error otherwise), a column of another type is an
/// error naming `path`, and columns beyond `schema` are dropped.
pub fn conform(path: &Path, batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(c) if c.data_type() == field.data_type() => Ok(Arc::clone(c)),
            Some(c) => Err(Error::data(
                path,
                format!(
                    "column {} is {}, but wxlake reads it as {}",
                    field.name(),
                    c.data_type(),
                    field.data_type()
                ),
            )),
            None if field.is_nullable() => Ok(new_null_array(field.data_type(), batch.num_rows())),
            None => Err(Error::data(path, format!("no {} column", field.name()))),
        })
        .collect::<Result<_>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| corrupt(path, e))
}

fn string_column<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a StringArray> {
    batch.column_by_name(name)?.as_string_opt::<i32>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::writer::{Codec, RowBuffer, StagedWriter, publish, writer_properties};
    use crate::partition::PartitionKey;
    use crate::record::{Record, text};

    fn rec(id: &str, t: i64, room: Option<&str>) -> Record<'static> {
        let mut r = Record {
            msg_id: id.to_string().into(),
            create_time: t,
            msg_type: Some(1),
            ..Default::default()
        };
        r.text[text::CHATROOM] = room.map(|s| s.to_string().into());
        r.text[text::CONTENT] = Some(format!("hello {id}").into());
        r
    }

    #[test]
    fn written_rows_read_back_sorted_by_chatroom_then_time() {
        let dir = tempfile::tempdir().unwrap();
        let key = PartitionKey(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        let props = writer_properties(Codec::Snappy, None).unwrap();
        let mut w = StagedWriter::create(key, dir.path(), props).unwrap();
        let mut buf = RowBuffer::default();
        let input = [
            rec("3", 30, Some("b")),
            rec("1", 10, None),
            rec("2", 20, Some("a")),
            rec("4", 5, Some("b")),
        ];
        for r in &input {
            buf.push(r);
        }
        w.write_row_group(&buf.take_batch()).unwrap();
        buf.push(&rec("12345678901234567890", 1, Some("a")));
        w.write_row_group(&buf.take_batch()).unwrap();
        let staged = w.finish().unwrap();
        assert_eq!(staged.rows, 5);
        let path = publish(staged, &dir.path().join("p"), "run").unwrap();

        let mut ids = Vec::new();
        assert_eq!(
            for_each_msg_id(&path, |id| ids.push(id.to_string())).unwrap(),
            5
        );
        // Two row groups, each sorted: (null, a, b, b) then (a).
        assert_eq!(ids, ["1", "2", "4", "3", "12345678901234567890"]);

        let mut rows = Vec::new();
        for_each_row(
            &path,
            |id| id != "1",
            |r| {
                rows.push((
                    r.msg_id.to_string(),
                    r.text[text::CONTENT].map(str::to_string),
                ))
            },
        )
        .unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0], ("2".to_string(), Some("hello 2".to_string())));
        let ids: Arc<HashSet<String>> = Arc::new(["2".to_string(), "4".to_string()].into());
        let mut filtered = Vec::new();
        for_each_row_with_ids(&path, ids, |r| filtered.push(r.msg_id.to_string())).unwrap();
        assert_eq!(filtered, ["2", "4"]);
        let back = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(back, 1, "the staged temp file is gone after publishing");
    }

    #[test]
    fn a_corrupt_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.parquet");
        std::fs::write(&path, b"PAR1 not really").unwrap();
        let err = for_each_msg_id(&path, |_| {}).unwrap_err();
        assert_eq!(err.exit_code() as u8, 65);
        assert!(err.to_string().contains("bad.parquet"), "{err}");
    }
}
