//! Rows → sorted row groups → one Parquet file per partition in the staging directory.
//!
//! A [`PartitionWriter`] buffers rows in Arrow builders; when the caller flushes it (the buffer
//! is full, or the run is done) the buffered rows are sorted by (chatroom, create_time) and
//! written as one row group, so memory is bounded by one row group per open partition. Files are
//! written under a temporary name in `parquet/.staging/` and only become part of the lake when
//! [`crate::lake::writer::publish`] links them into their partition.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_ord::sort::{SortColumn, lexsort_to_indices};
use arrow_schema::SortOptions;
use arrow_select::take::take_record_batch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use tempfile::TempPath;

use crate::error::{Error, Result};
use crate::fsutil::{create_dir_all_durable, fsync_dir, link_no_clobber};
use crate::partition::PartitionKey;
use crate::record::{Record, SCHEMA_VERSION, SCHEMA_VERSION_KEY, arrow_schema, col};

/// Key-value metadata key recording the codec (`snappy`, `zstd`).
pub const CODEC_KEY: &str = "wxlake.codec";
/// Key-value metadata key recording the zstd level (Parquet itself does not keep it).
pub const CODEC_LEVEL_KEY: &str = "wxlake.codec_level";

/// The compression a file is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Snappy,
    Zstd(i32),
}

impl Codec {
    fn parquet(self) -> Result<Compression> {
        Ok(match self {
            Codec::Snappy => Compression::SNAPPY,
            Codec::Zstd(level) => Compression::ZSTD(
                ZstdLevel::try_new(level)
                    .map_err(|e| Error::usage("zstd level", level.to_string(), e.to_string()))?,
            ),
        })
    }

    fn metadata(self) -> Vec<KeyValue> {
        let (name, level) = match self {
            Codec::Snappy => ("snappy", None),
            Codec::Zstd(l) => ("zstd", Some(l)),
        };
        let mut kv = vec![KeyValue::new(CODEC_KEY.to_string(), name.to_string())];
        if let Some(level) = level {
            kv.push(KeyValue::new(
                CODEC_LEVEL_KEY.to_string(),
                level.to_string(),
            ));
        }
        kv
    }
}

/// Parquet writer properties for lake files: dictionary encoding only for the low-cardinality
/// columns, page statistics and page index (parquet's defaults), rows sorted by
/// (chatroom, create_time) within each row group, schema version and codec in the metadata.
pub fn writer_properties(codec: Codec) -> Result<WriterProperties> {
    let schema = arrow_schema();
    let index = |name: &str| schema.index_of(name).expect("column exists") as i32;
    let mut kv = vec![KeyValue::new(
        SCHEMA_VERSION_KEY.to_string(),
        SCHEMA_VERSION.to_string(),
    )];
    kv.extend(codec.metadata());
    let mut builder = WriterProperties::builder()
        .set_compression(codec.parquet()?)
        .set_created_by(format!("wxlake {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(kv))
        .set_sorting_columns(Some(vec![
            SortingColumn {
                column_idx: index(col::CHATROOM),
                descending: false,
                nulls_first: true,
            },
            SortingColumn {
                column_idx: index(col::CREATE_TIME),
                descending: false,
                nulls_first: true,
            },
        ]));
    for high_cardinality in [
        col::MSG_ID,
        col::CREATE_TIME,
        col::CONTENT,
        col::SOURCE,
        col::EXTRA_FIELDS,
    ] {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(high_cardinality), false);
    }
    Ok(builder.build())
}

/// Arrow builders for the rows of one row group.
pub struct RowBuffer {
    msg_id: StringBuilder,
    create_time: Int64Builder,
    msg_type: Int32Builder,
    text: [StringBuilder; 6],
    extra_fields: StringBuilder,
    rows: usize,
    bytes: usize,
}

impl Default for RowBuffer {
    fn default() -> Self {
        RowBuffer {
            msg_id: StringBuilder::new(),
            create_time: Int64Builder::new(),
            msg_type: Int32Builder::new(),
            text: std::array::from_fn(|_| StringBuilder::new()),
            extra_fields: StringBuilder::new(),
            rows: 0,
            bytes: 0,
        }
    }
}

impl RowBuffer {
    pub fn push(&mut self, r: &Record<'_>) {
        self.msg_id.append_value(&r.msg_id);
        self.create_time.append_value(r.create_time);
        self.msg_type.append_option(r.msg_type);
        let mut bytes = r.msg_id.len() + 16 + 4 * 9;
        for (builder, value) in self.text.iter_mut().zip(&r.text) {
            builder.append_option(value.as_deref());
            bytes += value.as_ref().map_or(0, |v| v.len());
        }
        self.extra_fields.append_option(r.extra_fields.as_deref());
        bytes += r.extra_fields.as_ref().map_or(0, String::len);
        self.rows += 1;
        self.bytes += bytes;
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Approximate memory held by the buffered values.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Take the buffered rows as a batch sorted by (chatroom, create_time).
    pub fn take_sorted(&mut self) -> RecordBatch {
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
        columns.push(Arc::new(self.extra_fields.finish()));
        self.rows = 0;
        self.bytes = 0;
        let batch =
            RecordBatch::try_new(arrow_schema(), columns).expect("builders match the schema");
        sort_batch(&batch)
    }
}

/// Sort a batch of lake rows by (chatroom nulls first, create_time, msg_id).
pub fn sort_batch(batch: &RecordBatch) -> RecordBatch {
    let options = Some(SortOptions {
        descending: false,
        nulls_first: true,
    });
    let keys = [col::CHATROOM, col::CREATE_TIME, col::MSG_ID]
        .iter()
        .map(|name| SortColumn {
            values: batch.column_by_name(name).expect("lake column").clone(),
            options,
        })
        .collect::<Vec<_>>();
    let indices = lexsort_to_indices(&keys, None).expect("sortable column types");
    take_record_batch(batch, &indices).expect("indices are in bounds")
}

/// A finished file in the staging directory, not yet part of the lake.
#[derive(Debug)]
pub struct StagedFile {
    pub partition: PartitionKey,
    pub tmp: TempPath,
    pub rows: u64,
    pub bytes: u64,
}

/// Writes the rows of one partition into one staged Parquet file.
pub struct PartitionWriter {
    partition: PartitionKey,
    staging_dir: PathBuf,
    props: WriterProperties,
    buffer: RowBuffer,
    writer: Option<(ArrowWriter<File>, TempPath)>,
    rows_written: u64,
}

impl PartitionWriter {
    pub fn new(partition: PartitionKey, staging_dir: &Path, props: WriterProperties) -> Self {
        PartitionWriter {
            partition,
            staging_dir: staging_dir.to_path_buf(),
            props,
            buffer: RowBuffer::default(),
            writer: None,
            rows_written: 0,
        }
    }

    pub fn partition(&self) -> PartitionKey {
        self.partition
    }

    pub fn push(&mut self, record: &Record<'_>) {
        self.buffer.push(record);
    }

    /// Bytes buffered and not yet written.
    pub fn buffered_bytes(&self) -> usize {
        self.buffer.bytes()
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows_written + self.buffer.rows() as u64
    }

    /// Write the buffered rows as one sorted row group.
    pub fn flush(&mut self) -> Result<()> {
        if self.buffer.rows() == 0 {
            return Ok(());
        }
        let batch = self.buffer.take_sorted();
        let rows = batch.num_rows() as u64;
        if self.writer.is_none() {
            let tmp = tempfile::Builder::new()
                .prefix(".part-")
                .suffix(".parquet.tmp")
                .tempfile_in(&self.staging_dir)
                .map_err(|e| Error::io("create a staging file in", &self.staging_dir, e))?;
            let (file, path) = tmp.into_parts();
            let writer = ArrowWriter::try_new(file, arrow_schema(), Some(self.props.clone()))
                .map_err(|e| Error::io("start Parquet file", &path, std::io::Error::other(e)))?;
            self.writer = Some((writer, path));
        }
        let (writer, path) = self.writer.as_mut().expect("created above");
        writer
            .write(&batch)
            .and_then(|()| writer.flush())
            .map_err(|e| Error::io("write Parquet", &*path, std::io::Error::other(e)))?;
        self.rows_written += rows;
        Ok(())
    }

    /// Flush, close and fsync the staged file; `None` when no row was ever pushed.
    pub fn finish(mut self) -> Result<Option<StagedFile>> {
        self.flush()?;
        let Some((writer, tmp)) = self.writer.take() else {
            return Ok(None);
        };
        let file = writer
            .into_inner()
            .map_err(|e| Error::io("finish Parquet", &tmp, std::io::Error::other(e)))?;
        file.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
        let bytes = file
            .metadata()
            .map_err(|e| Error::io("stat", &tmp, e))?
            .len();
        Ok(Some(StagedFile {
            partition: self.partition,
            tmp,
            rows: self.rows_written,
            bytes,
        }))
    }
}

/// Move a staged file into `partition_dir` under a new, never-reused name
/// `part-{run_id}-{n}.parquet`, and make the new entry durable. Returns the final path.
pub fn publish(staged: StagedFile, partition_dir: &Path, run_id: &str) -> Result<PathBuf> {
    create_dir_all_durable(partition_dir)?;
    for n in 0u32.. {
        let dest = partition_dir.join(format!("part-{run_id}-{n:03}.parquet"));
        match link_no_clobber(&staged.tmp, &dest) {
            Ok(()) => {
                fsync_dir(partition_dir)?;
                return Ok(dest);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io("publish", &dest, e)),
        }
    }
    unreachable!("some name is free")
}
