//! One partition's Parquet file being written in the staging directory.

use std::fs::File;
use std::path::Path;

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use tempfile::TempPath;

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
        start_writeback(self.writer.inner().get_ref());
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
        let file = crate::lake::checksum::close(self.writer)
            .map_err(|e| Error::io("finish Parquet", &tmp, std::io::Error::other(e)))?;
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

/// A staged file whose bytes are all written but not yet durable.
pub struct ClosedFile {
    file: File,
    staged: StagedFile,
}

impl ClosedFile {
    /// Fsync the file: now it may be published.
    pub fn sync(self) -> Result<StagedFile> {
        let ClosedFile { file, mut staged } = self;
        file.sync_all()
            .map_err(|e| Error::io("fsync", &staged.tmp, e))?;
        staged.bytes = file
            .metadata()
            .map_err(|e| Error::io("stat", &staged.tmp, e))?
            .len();
        Ok(staged)
    }
}
