//! A checksum of every Parquet file's data pages, recorded in the file itself.
//!
//! parquet-rs writes no page CRCs, so a flipped byte inside a data page would decode into
//! altered text, pass `verify` and be copied into a new file by `compact`. Every file wxlake
//! writes therefore records, in its key-value metadata under [`CHECKSUM_KEY`], the xxh64 of its
//! bytes from the start to the end of the last row group (`xxh64:<16 hex>:<length>`): the data
//! pages, whose corruption would go unnoticed. The page index and footer follow and are not
//! covered; damage there makes the file unreadable instead, which every reader reports.
//! `verify` checks every file, and `compact`/`archive` check their inputs before rewriting.

use std::fs::File;
use std::hash::Hasher;
use std::io::{self, Read, Write};
use std::path::Path;

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::writer::SerializedFileWriter;
use twox_hash::XxHash64;

use crate::error::{Error, Result};

/// Key-value metadata key of the data checksum.
pub const CHECKSUM_KEY: &str = "wxlake.checksum";

/// A writer that hashes everything written through it.
pub struct Checksummed<W> {
    inner: W,
    hasher: XxHash64,
    len: u64,
}

impl<W: Write> Checksummed<W> {
    pub fn new(inner: W) -> Self {
        Checksummed {
            inner,
            hasher: XxHash64::with_seed(0),
            len: 0,
        }
    }

    pub fn into_inner(self) -> W {
        self.inner
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner writer, for calls that do not write through it (what it writes would not be
    /// hashed).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The checksum text of what was written so far.
    fn value(&self) -> String {
        format!("xxh64:{:016x}:{}", self.hasher.finish(), self.len)
    }
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.write(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Close `writer` with the checksum of its row groups recorded; returns the inner writer.
pub fn close<W: Write + Send>(writer: ArrowWriter<Checksummed<W>>) -> parquet::errors::Result<W> {
    let (file, _) = writer.into_serialized_writer()?;
    close_file(file)
}

/// [`close`] for a file written through its row group writers.
pub fn close_file<W: Write + Send>(
    mut writer: SerializedFileWriter<Checksummed<W>>,
) -> parquet::errors::Result<W> {
    writer.flush()?;
    let value = writer.inner().value();
    writer.append_key_value_metadata(KeyValue::new(CHECKSUM_KEY.to_string(), value));
    Ok(writer.into_inner()?.into_inner())
}

/// What checking a file's checksum found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Matches,
    /// The file records no checksum (written by an older wxlake, or by another tool).
    NotRecorded,
    /// The bytes differ from what was written.
    Corrupt,
}

/// Check the data checksum of `path` against its recorded value (`recorded`, from the footer).
pub fn check(path: &Path, recorded: Option<&str>) -> Result<Check> {
    let Some(recorded) = recorded else {
        return Ok(Check::NotRecorded);
    };
    let mut parts = recorded.split(':');
    let (Some("xxh64"), Some(hex), Some(len), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(Check::Corrupt);
    };
    let (Ok(want), Ok(len)) = (u64::from_str_radix(hex, 16), len.parse::<u64>()) else {
        return Ok(Check::Corrupt);
    };
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut hasher = XxHash64::with_seed(0);
    let mut reader = file.take(len);
    let mut buf = vec![0u8; 1 << 20];
    let mut read = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| Error::io("read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.write(&buf[..n]);
        read += n as u64;
    }
    Ok(if read == len && hasher.finish() == want {
        Check::Matches
    } else {
        Check::Corrupt
    })
}

/// Write `batch` through a checksummed writer into memory (for tests).
pub fn to_bytes(batch: &RecordBatch) -> Vec<u8> {
    let writer = ArrowWriter::try_new(Checksummed::new(Vec::new()), batch.schema(), None)
        .expect("a writer for the batch's schema");
    let mut writer = writer;
    writer.write(batch).expect("in memory");
    close(writer).expect("in memory")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, RecordBatch, StringArray};
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    #[test]
    fn a_flipped_byte_in_a_data_page_is_found() {
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from_iter_values(0..2000)) as _),
            (
                "text",
                Arc::new(StringArray::from_iter_values(
                    (0..2000).map(|i| format!("message {i}")),
                )) as _,
            ),
        ])
        .unwrap();
        let bytes = to_bytes(&batch);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.parquet");
        std::fs::write(&path, &bytes).unwrap();
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let recorded = reader
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|e| e.key == CHECKSUM_KEY))
            .and_then(|e| e.value.clone())
            .expect("recorded");
        assert_eq!(check(&path, Some(&recorded)).unwrap(), Check::Matches);
        assert_eq!(check(&path, None).unwrap(), Check::NotRecorded);
        let len: usize = recorded.rsplit(':').next().unwrap().parse().unwrap();
        assert!(len > 4 && len < bytes.len());
        let mut damaged = bytes.clone();
        for b in &mut damaged[len / 2..len / 2 + 40] {
            *b ^= 0x55;
        }
        std::fs::write(&path, &damaged).unwrap();
        assert_eq!(check(&path, Some(&recorded)).unwrap(), Check::Corrupt);
        assert_eq!(check(&path, Some("nonsense")).unwrap(), Check::Corrupt);
    }
}
