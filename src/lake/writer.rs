//! Rows → sorted row groups → one Parquet file per partition in the staging directory.
//!
//! A [`RowBuffer`] collects rows in Arrow builders (a normalized chunk, or a rewrite's input);
//! the rows of a partition travel to the [`Encoder`] thread as [`PendingRows`], which it sorts by
//! (chatroom, create_time) and writes as one row group of that partition's [`StagedWriter`], so
//! memory is bounded by the rows pending plus one row group in flight. Files are written under a
//! temporary name in `parquet/.staging/` and only become part of the lake when [`publish`] links
//! them into their partition.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;

use arrow_array::builder::{Int32Builder, Int64Builder, ListBuilder, StringBuilder};
use arrow_array::{Array, ArrayRef, RecordBatch};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use tempfile::TempPath;

use crate::error::{Error, Result};
use crate::fsutil::{self, Durability, Publish, PublishError, create_dir_all_durable};
use crate::lake::checksum::Checksummed;
use crate::lake::row_group::PendingRows;
use crate::message_kind::derive_record;
use crate::partition::PartitionKey;
use crate::record::{Record, SCHEMA_VERSION, SCHEMA_VERSION_KEY, arrow_schema, col};

/// Key-value metadata key recording the codec (`snappy`, `zstd`).
pub const CODEC_KEY: &str = "wxlake.codec";
/// Key-value metadata key recording the zstd level (Parquet itself does not keep it).
pub const CODEC_LEVEL_KEY: &str = "wxlake.codec_level";
/// Key-value metadata key recording the time zone the file's partition was cut in, so that a
/// lake whose `metadata/lake.json` is lost can be recovered instead of re-split.
pub const TIMEZONE_KEY: &str = "wxlake.timezone";

/// Rows per data page (at most).
pub const PAGE_ROWS: usize = 1024;

/// The compression a file is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Snappy,
    Zstd(i32),
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Codec::Snappy => f.write_str("snappy"),
            Codec::Zstd(level) => write!(f, "zstd({level})"),
        }
    }
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
/// (chatroom, create_time) within each row group, schema version, codec and the lake's time
/// zone (when known) in the metadata.
pub fn writer_properties(codec: Codec, timezone: Option<&str>) -> Result<WriterProperties> {
    let schema = arrow_schema();
    let index = |name: &str| schema.index_of(name).expect("column exists") as i32;
    let mut kv = vec![KeyValue::new(
        SCHEMA_VERSION_KEY.to_string(),
        SCHEMA_VERSION.to_string(),
    )];
    kv.extend(codec.metadata());
    if let Some(tz) = timezone {
        kv.push(KeyValue::new(TIMEZONE_KEY.to_string(), tz.to_string()));
    }
    let mut builder = WriterProperties::builder()
        .set_compression(codec.parquet()?)
        // Pages of at most 1,024 rows give the page index something to skip: rows are sorted
        // by chatroom, so a one-chatroom query reads only that chatroom's pages.
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_write_batch_size(PAGE_ROWS)
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
        col::GUID,
        col::TITLE,
        col::URL,
        col::QUOTED_MSG_ID,
        col::REVOKED_MSG_ID,
        col::TEXT,
    ] {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(high_cardinality), false);
    }
    // Min/max of message bodies (and of random request ids) prune nothing and cost a string
    // comparison per value; every other column keeps page-level statistics (and so the page
    // index).
    for payload in [
        col::CONTENT,
        col::SOURCE,
        col::EXTRA_FIELDS,
        col::GUID,
        col::AS_SENT,
        col::TITLE,
        col::URL,
        col::QUOTED_MSG_ID,
        col::REVOKED_MSG_ID,
        col::TEXT,
    ] {
        builder = builder
            .set_column_statistics_enabled(ColumnPath::from(payload), EnabledStatistics::None);
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
    guid: StringBuilder,
    notify_type: Int32Builder,
    as_sent: StringBuilder,
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
            extra_fields: StringBuilder::new(),
            guid: StringBuilder::new(),
            notify_type: Int32Builder::new(),
            as_sent: StringBuilder::new(),
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
    app_type: Int32Builder,
    title: StringBuilder,
    url: StringBuilder,
    file_size: Int64Builder,
    quoted_msg_id: StringBuilder,
    revoked_msg_id: StringBuilder,
    mentions: ListBuilder<StringBuilder>,
    text: StringBuilder,
}

impl DerivedBuilders {
    /// Derive `r`'s columns and append them; true when its XML card did not parse.
    fn push(&mut self, r: &Record<'_>) -> (bool, usize) {
        let d = derive_record(r);
        self.kind.append_option(d.kind.map(|k| k.as_str()));
        self.app_type.append_option(d.app_type);
        self.title.append_option(d.title.as_deref());
        self.url.append_option(d.url.as_deref());
        self.file_size.append_option(d.file_size);
        self.quoted_msg_id.append_option(d.quoted_msg_id.as_deref());
        self.revoked_msg_id
            .append_option(d.revoked_msg_id.as_deref());
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

    fn finish(&mut self, columns: &mut Vec<ArrayRef>) {
        columns.push(Arc::new(self.kind.finish()));
        columns.push(Arc::new(self.app_type.finish()));
        columns.push(Arc::new(self.title.finish()));
        columns.push(Arc::new(self.url.finish()));
        columns.push(Arc::new(self.file_size.finish()));
        columns.push(Arc::new(self.quoted_msg_id.finish()));
        columns.push(Arc::new(self.revoked_msg_id.finish()));
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
        self.extra_fields.append_option(r.extra_fields.as_deref());
        bytes += r.extra_fields.as_ref().map_or(0, |s| s.len());
        self.guid.append_option(r.guid.as_deref());
        bytes += r.guid.as_ref().map_or(0, |s| s.len());
        self.notify_type.append_option(r.notify_type);
        self.as_sent.append_option(r.as_sent.as_deref());
        let (xml_unparsed, derived_bytes) = self.derived.push(r);
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
            hint(&self.extra_fields),
            hint(&self.guid),
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
        columns.push(Arc::new(self.extra_fields.finish()));
        columns.push(Arc::new(self.guid.finish()));
        columns.push(Arc::new(self.notify_type.finish()));
        columns.push(Arc::new(self.as_sent.finish()));
        self.derived.finish(&mut columns);
        // Size the next batch's builders like this one (with a little headroom).
        let cap = |n: usize| n + n / 8;
        let rows_cap = cap(rows.max(self.last_rows));
        self.msg_id = StringBuilder::with_capacity(rows_cap, cap(sizes[0]));
        self.create_time = Int64Builder::with_capacity(rows_cap);
        self.msg_type = Int32Builder::with_capacity(rows_cap);
        for (i, b) in self.text.iter_mut().enumerate() {
            *b = StringBuilder::with_capacity(rows_cap, cap(sizes[i + 1]));
        }
        self.extra_fields = StringBuilder::with_capacity(rows_cap, cap(sizes[7]));
        self.guid = StringBuilder::with_capacity(rows_cap, cap(sizes[8]));
        self.notify_type = Int32Builder::with_capacity(rows_cap);
        self.last_rows = rows;
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new(arrow_schema(), columns).expect("builders match the schema")
    }
}

/// A finished file in the staging directory, not yet part of the lake.
#[derive(Debug)]
pub struct StagedFile {
    pub partition: PartitionKey,
    pub tmp: TempPath,
    pub rows: u64,
    pub bytes: u64,
}

/// One partition's Parquet file being written in the staging directory; each batch becomes one
/// sorted row group.
pub struct StagedWriter {
    partition: PartitionKey,
    writer: ArrowWriter<Checksummed<File>>,
    tmp: TempPath,
    rows: u64,
}

impl StagedWriter {
    pub fn create(
        partition: PartitionKey,
        staging_dir: &Path,
        props: WriterProperties,
    ) -> Result<Self> {
        let tmp = crate::fsutil::temp_builder(
            crate::lake::names::STAGED_PREFIX,
            crate::lake::names::STAGED_SUFFIX,
        )
        .tempfile_in(staging_dir)
        .map_err(|e| Error::io("create a staging file in", staging_dir, e))?;
        let (file, tmp) = tmp.into_parts();
        let writer = ArrowWriter::try_new(Checksummed::new(file), arrow_schema(), Some(props))
            .map_err(|e| Error::io("start Parquet file", &tmp, std::io::Error::other(e)))?;
        Ok(StagedWriter {
            partition,
            writer,
            tmp,
            rows: 0,
        })
    }

    /// Sort `batch` and write it as one row group.
    pub fn write_row_group(&mut self, batch: &RecordBatch) -> Result<()> {
        self.write_pending(&PendingRows::whole(batch.clone()))
    }

    /// Sort the rows of `pending` and write them as one row group.
    pub fn write_pending(&mut self, pending: &PendingRows) -> Result<()> {
        let sorted = pending.sorted_batch();
        self.writer
            .write(&sorted)
            .and_then(|()| self.writer.flush())
            .map_err(|e| Error::io("write Parquet", &*self.tmp, std::io::Error::other(e)))?;
        self.rows += sorted.num_rows() as u64;
        Ok(())
    }

    /// Close and fsync the file.
    pub fn finish(self) -> Result<StagedFile> {
        let tmp = self.tmp;
        let file = crate::lake::checksum::close(self.writer)
            .map_err(|e| Error::io("finish Parquet", &tmp, std::io::Error::other(e)))?;
        file.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
        let bytes = file
            .metadata()
            .map_err(|e| Error::io("stat", &tmp, e))?
            .len();
        Ok(StagedFile {
            partition: self.partition,
            tmp,
            rows: self.rows,
            bytes,
        })
    }
}

/// Work for the encoder thread.
enum EncoderMsg {
    /// One row group of a partition, for the file with this sequence number.
    Batch(u64, PartitionKey, PendingRows),
    /// Every row group of this sequence number has been sent: close its files.
    Seal(u64),
}

/// A background thread that sorts and encodes row groups while the caller parses the next
/// lines, so both halves of ingest run on both cores. Row groups are tagged with the sequence
/// number of the raw file they come from; sealing a sequence number closes that file's Parquet
/// files (one per partition) and hands them back through [`Encoder::sealed`]. At most one batch
/// waits in the queue, so memory stays bounded.
pub struct Encoder {
    tx: Option<SyncSender<EncoderMsg>>,
    results: Receiver<Result<(u64, Vec<StagedFile>)>>,
    handle: Option<JoinHandle<()>>,
}

impl Encoder {
    pub fn spawn(staging_dir: &Path, props: WriterProperties) -> Self {
        let (tx, rx) = sync_channel::<EncoderMsg>(1);
        let (result_tx, results) = channel();
        let staging_dir = staging_dir.to_path_buf();
        let handle = std::thread::Builder::new()
            .name("wxlake-encoder".into())
            .spawn(move || {
                let mut writers: BTreeMap<(u64, PartitionKey), StagedWriter> = BTreeMap::new();
                for msg in rx {
                    let result = match msg {
                        EncoderMsg::Batch(seq, key, pending) => {
                            let writer = match writers.entry((seq, key)) {
                                Entry::Occupied(e) => Ok(e.into_mut()),
                                Entry::Vacant(e) => {
                                    StagedWriter::create(key, &staging_dir, props.clone())
                                        .map(|w| e.insert(w))
                                }
                            };
                            match writer.and_then(|w| w.write_pending(&pending)) {
                                Ok(()) => continue,
                                Err(e) => Err(e),
                            }
                        }
                        EncoderMsg::Seal(seq) => {
                            let keys: Vec<_> = writers
                                .range((seq, PartitionKey::MIN)..)
                                .map(|(k, _)| *k)
                                .collect();
                            keys.into_iter()
                                .filter(|(s, _)| *s == seq)
                                .map(|k| writers.remove(&k).expect("listed").finish())
                                .collect::<Result<Vec<_>>>()
                                .map(|files| (seq, files))
                        }
                    };
                    let failed = result.is_err();
                    if result_tx.send(result).is_err() || failed {
                        return; // the caller is gone, or it will see the error
                    }
                }
            })
            .expect("spawn the encoder thread");
        Encoder {
            tx: Some(tx),
            results,
            handle: Some(handle),
        }
    }

    fn send(&mut self, msg: EncoderMsg) -> Result<()> {
        let tx = self.tx.as_ref().expect("not finished");
        if tx.send(msg).is_err() {
            // The encoder stopped on an error: report it.
            return Err(self.next_error());
        }
        Ok(())
    }

    /// The error that stopped the encoder. Results of files sealed before it may still be
    /// queued ahead of it; they are skipped (their files are dropped, so their temp files go).
    fn next_error(&mut self) -> Error {
        self.tx = None;
        loop {
            match self.results.recv() {
                Ok(Ok(_sealed_earlier)) => continue,
                Ok(Err(e)) => return e,
                Err(_) => return Error::data("the encoder thread", "stopped unexpectedly"),
            }
        }
    }

    /// Queue one row group of `partition` for file `seq`.
    pub fn write(&mut self, seq: u64, partition: PartitionKey, rows: PendingRows) -> Result<()> {
        self.send(EncoderMsg::Batch(seq, partition, rows))
    }

    /// Every row group of file `seq` has been queued.
    pub fn seal(&mut self, seq: u64) -> Result<()> {
        self.send(EncoderMsg::Seal(seq))
    }

    /// Wait for the staged files of the oldest sealed file, which must be `seq`.
    pub fn sealed(&mut self, seq: u64) -> Result<Vec<StagedFile>> {
        match self.results.recv() {
            Ok(Ok((got, files))) if got == seq => Ok(files),
            Ok(Ok((got, _))) => Err(Error::data(
                "the encoder thread",
                format!("sealed file {got} before {seq}"),
            )),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::data("the encoder thread", "stopped unexpectedly")),
        }
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take()
            && let Err(panic) = h.join()
            && !std::thread::panicking()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

/// Publish a staged file into `partition_dir` under the next free name of this run.
pub fn publish(staged: StagedFile, partition_dir: &Path, run_id: &str) -> Result<PathBuf> {
    publish_file(staged.tmp, partition_dir, run_id)
}

/// Publish the finished (synced) temp file `tmp` into `dir` as a data file of `run_id`: under
/// the first of its names ([`crate::lake::names::data_file`]) that is free, never replacing a
/// file, then fsync the directory.
pub fn publish_file(tmp: TempPath, dir: &Path, run_id: &str) -> Result<PathBuf> {
    create_dir_all_durable(dir)?;
    let mut tmp = tmp;
    for n in 0u32.. {
        let dest = dir.join(crate::lake::names::data_file(run_id, n));
        match fsutil::publish(tmp, &dest, Publish::NoClobber, Durability::Durable) {
            Ok(()) => return Ok(dest),
            Err(PublishError::Taken(back)) => tmp = back,
            Err(PublishError::Failed(e)) => return Err(e),
        }
    }
    unreachable!("some name is free")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::text;

    fn batch(n: usize) -> RecordBatch {
        let mut buffer = RowBuffer::default();
        for i in 0..n {
            let mut r = Record {
                msg_id: i.to_string().into(),
                create_time: 100 - i as i64,
                ..Default::default()
            };
            r.text[text::CHATROOM] = Some(if i % 2 == 0 { "b" } else { "a" }.into());
            buffer.push(&r);
        }
        buffer.take_batch()
    }

    #[test]
    fn encoder_reports_the_io_error_that_stopped_it() {
        // Regression: a sealed file's OK result queued ahead of the error was taken for the
        // error, and the run ended with "stopped unexpectedly" (exit 65) instead of the I/O error.
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("staging");
        std::fs::create_dir(&staging).unwrap();
        let key = PartitionKey(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        let mut encoder = Encoder::spawn(&staging, writer_properties(Codec::Snappy, None).unwrap());
        encoder.write(0, key, PendingRows::whole(batch(3))).unwrap();
        encoder.seal(0).unwrap();
        std::fs::remove_dir(&staging)
            .unwrap_or_else(|_| std::fs::remove_dir_all(&staging).unwrap());
        let err = (0..100)
            .find_map(|_| encoder.write(1, key, PendingRows::whole(batch(3))).err())
            .expect("the encoder stops once it cannot create a file");
        assert_eq!(err.exit_code() as u8, 74, "{err}");
    }
}
