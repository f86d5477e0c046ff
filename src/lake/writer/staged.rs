//! One partition's Parquet file being written in the staging directory.

use std::fs::File;
use std::path::Path;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use tempfile::TempPath;

use super::column_split::{self, EncodeColumns};
use crate::direct_file::{DirectFile, Finished};
use crate::error::{Error, Result};
use crate::lake::checksum::Checksummed;
use crate::lake::row_group::PendingRows;
use crate::partition::PartitionKey;
use crate::record::arrow_schema;

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
///
/// Written through parquet's column writers rather than `ArrowWriter::write`, so that the
/// columns of a large row group are gathered and encoded on two threads
/// ([`column_split`]); the file is the one `ArrowWriter` writes (same metadata, the
/// same encoders), byte for byte.
pub struct StagedWriter {
    partition: PartitionKey,
    writer: SerializedFileWriter<Checksummed<DirectFile>>,
    columns: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    max_group_rows: usize,
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
        let max_group_rows = props.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
        debug_assert!(
            props.max_row_group_bytes().is_none(),
            "row groups are cut by rows only"
        );
        let schema = arrow_schema();
        // ArrowWriter sets up the file (the schema, the Arrow schema in the metadata); its parts
        // then write the row groups.
        let (writer, columns) = ArrowWriter::try_new(
            Checksummed::new(DirectFile::new(file)),
            schema.clone(),
            Some(props),
        )
        .and_then(ArrowWriter::into_serialized_writer)
        .map_err(|e| Error::io("start Parquet file", &tmp, std::io::Error::other(e)))?;
        Ok(StagedWriter {
            partition,
            writer,
            columns,
            schema,
            max_group_rows,
            tmp,
            rows: 0,
        })
    }

    /// Sort `batch` and write it as one row group.
    pub fn write_row_group(&mut self, batch: &RecordBatch) -> Result<()> {
        self.write_pending(&PendingRows::whole(batch.clone()))
    }

    /// Sort the rows of `pending` and write them as one row group (as several of the
    /// properties' largest row group size, as `ArrowWriter` would, if they hold more rows).
    pub fn write_pending(&mut self, pending: &PendingRows) -> Result<()> {
        let sorted = pending.sorted();
        let rows = sorted.num_rows();
        if rows == 0 {
            return Ok(());
        }
        let parquet_error = |e| Error::io("write Parquet", &*self.tmp, std::io::Error::other(e));
        if let Some(b) = sorted
            .batches()
            .iter()
            .find(|b| b.schema_ref().fields() != self.schema.fields())
        {
            let e = parquet::errors::ParquetError::General(format!(
                "rows of schema {} do not match the file's {}",
                b.schema(),
                self.schema
            ));
            return Err(parquet_error(e));
        }
        let mut start = 0;
        while start < rows {
            let len = (rows - start).min(self.max_group_rows);
            let group = self.writer.flushed_row_groups().len();
            let job = EncodeColumns {
                schema: &self.schema,
                rows: &sorted,
                start,
                len,
                writers: self
                    .columns
                    .create_column_writers(group)
                    .map_err(parquet_error)?,
            };
            let chunks = column_split::encode(job).map_err(parquet_error)?;
            let mut row_group = self.writer.next_row_group().map_err(parquet_error)?;
            for chunk in chunks {
                chunk
                    .append_to_row_group(&mut row_group)
                    .map_err(parquet_error)?;
            }
            row_group.close().map_err(parquet_error)?;
            start += len;
        }
        self.rows += rows as u64;
        // The row group's bytes go to the disk now, and the buffer back to other files.
        let io_error = |e| Error::io("write Parquet", &*self.tmp, e);
        self.writer.flush().map_err(io_error)?;
        let file = self.writer.inner_mut().get_mut();
        if file.is_direct() {
            file.release().map_err(io_error)?;
        } else {
            start_writeback(file.file());
        }
        Ok(())
    }

    /// Close and fsync the file.
    pub fn finish(self) -> Result<StagedFile> {
        self.close()?.sync()
    }

    /// Close the file (footer written), leaving the fsync to [`ClosedFile::sync`], which another
    /// thread can wait for while this one encodes the next file.
    pub fn close(self) -> Result<ClosedFile> {
        let tmp = self.tmp;
        let file = crate::lake::checksum::close_file(self.writer)
            .map_err(|e| Error::io("finish Parquet", &tmp, std::io::Error::other(e)))?
            .finish()
            .map_err(|e| Error::io("write Parquet", &tmp, e))?;
        Ok(ClosedFile {
            file,
            staged: StagedFile {
                partition: self.partition,
                tmp,
                rows: self.rows,
                bytes: 0,
            },
        })
    }
}

/// Ask the kernel to start writing `file`'s dirty pages to the disk now, without waiting.
///
/// Otherwise they stay in the page cache until the file's fsync: the run's files of a group are
/// closed together, and their fsyncs then wrote tens of megabytes while the commit waited.
/// Started after each row group, the writing overlaps the encoding of the next ones, and the
/// fsync finds little left to do. Only a hint: an error shows at the fsync.
fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a plain syscall on an open descriptor; offset 0 and length 0 mean the whole
        // file, and SYNC_FILE_RANGE_WRITE only starts writeback.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

/// A staged file whose bytes are all handed over but not yet durable.
pub struct ClosedFile {
    file: Finished,
    staged: StagedFile,
}

impl ClosedFile {
    /// Wait for the file's writes and fsync it: now it may be published.
    pub fn sync(self) -> Result<StagedFile> {
        let ClosedFile { file, mut staged } = self;
        let file = file
            .complete()
            .map_err(|e| Error::io("write Parquet", &staged.tmp, e))?;
        file.sync_all()
            .map_err(|e| Error::io("fsync", &staged.tmp, e))?;
        staged.bytes = file
            .metadata()
            .map_err(|e| Error::io("stat", &staged.tmp, e))?
            .len();
        Ok(staged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::checksum::Checksummed;
    use crate::lake::row_group::sort_batch;
    use crate::lake::writer::{Codec, RowBuffer, writer_properties};
    use crate::record::{Record, text};

    /// `n` rows in three chatrooms, out of time order, with bodies of a few hundred bytes.
    fn rows(n: usize) -> RecordBatch {
        let mut buffer = RowBuffer::default();
        for i in 0..n {
            let mut r = Record {
                msg_id: (1_000_000 + i).to_string().into(),
                create_time: 1_767_225_600 + ((i * 7919) % n) as i64,
                msg_type: Some(1),
                ..Default::default()
            };
            r.text[text::CHATROOM] = (i % 4 != 0).then(|| format!("room{}@chatroom", i % 3).into());
            r.text[text::CONTENT] = Some(format!("message {i} {}", "好".repeat(i % 90)).into());
            r.text[text::SOURCE] = Some(format!("<msgsource><n>{}</n></msgsource>", i * 31).into());
            buffer.push(&r);
        }
        buffer.take_batch()
    }

    /// The bytes of a StagedWriter's file with `batches` as row groups.
    fn staged_bytes(props: &WriterProperties, batches: &[RecordBatch]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let key = PartitionKey(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        let mut w = StagedWriter::create(key, dir.path(), props.clone()).unwrap();
        for b in batches {
            w.write_row_group(b).unwrap();
        }
        let staged = w.finish().unwrap();
        std::fs::read(&staged.tmp).unwrap()
    }

    /// The bytes ArrowWriter writes for the same sorted batches, each flushed as its row group.
    fn arrow_writer_bytes(props: &WriterProperties, batches: &[RecordBatch]) -> Vec<u8> {
        let mut w = ArrowWriter::try_new(
            Checksummed::new(Vec::new()),
            arrow_schema(),
            Some(props.clone()),
        )
        .unwrap();
        for b in batches {
            w.write(&sort_batch(b)).unwrap();
            w.flush().unwrap();
        }
        crate::lake::checksum::close(w).unwrap()
    }

    #[test]
    fn row_groups_encoded_on_two_threads_are_the_bytes_arrow_writer_writes() {
        let props = writer_properties(Codec::Snappy, Some("Asia/Shanghai")).unwrap();
        // 12,000 rows: several MB, so their columns are shared out; 40 rows: one thread.
        let batches = [rows(12_000), rows(40)];
        let total: usize = batches[0]
            .columns()
            .iter()
            .map(|c| c.get_buffer_memory_size())
            .sum();
        assert!(total > 2 * super::column_split::SPLIT_MIN_BYTES);
        let ours = staged_bytes(&props, &batches);
        assert_eq!(ours, arrow_writer_bytes(&props, &batches));
        let reader = parquet::file::reader::SerializedFileReader::new(bytes::Bytes::from(ours));
        let meta = parquet::file::reader::FileReader::metadata(&reader.unwrap()).clone();
        let groups: Vec<i64> = meta.row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(groups, [12_000, 40]);
    }

    #[test]
    fn a_batch_past_the_largest_row_group_is_cut_as_arrow_writer_cuts_it() {
        let props = writer_properties(Codec::Snappy, None)
            .unwrap()
            .into_builder()
            .set_max_row_group_row_count(Some(1_000))
            .build();
        let batches = [rows(2_500)];
        let ours = staged_bytes(&props, &batches);
        assert_eq!(ours, arrow_writer_bytes(&props, &batches));
        let reader = parquet::file::reader::SerializedFileReader::new(bytes::Bytes::from(ours));
        let meta = parquet::file::reader::FileReader::metadata(&reader.unwrap()).clone();
        let groups: Vec<i64> = meta.row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(groups, [1_000, 1_000, 500]);
    }
}
