//! What a lake file's footer says: rows, bytes, codec, schema. Reading it costs one small read at
//! the end of the file, never the data, so `compact`, `archive` and `status` can plan over a
//! whole lake quickly.

use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::basic::Compression;
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::error::{Error, Result};
use crate::lake::writer::{CODEC_KEY, CODEC_LEVEL_KEY, Codec, TIMEZONE_KEY};
use crate::record::COLUMNS;

/// One data file, as its footer describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub path: PathBuf,
    pub bytes: u64,
    pub rows: u64,
    /// From the `wxlake.codec`/`wxlake.codec_level` metadata; for a file without it, from the
    /// column chunks (a zstd level it cannot know reads as 3).
    pub codec: Codec,
    /// Columns beyond the current schema (a newer wxlake wrote it): rewriting would drop them.
    pub unknown_columns: Vec<String>,
    /// The time zone recorded in the file (`wxlake.timezone`; absent in older files).
    pub timezone: Option<String>,
    /// The checksum of its data pages (see [`crate::lake::checksum`]; absent in older files).
    pub checksum: Option<String>,
    /// The message schema version it was written in (`wxlake.schema_version`; 1 when absent).
    pub schema_version: u32,
}

/// Read the footer of `path`.
pub fn read_footer(path: &Path) -> Result<FileInfo> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let bytes = file
        .metadata()
        .map_err(|e| Error::io("stat", path, e))?
        .len();
    let reader = SerializedFileReader::new(file)
        .map_err(|e| Error::data(path, format!("unreadable Parquet footer: {e}")))?;
    let meta = reader.metadata();
    let file_meta = meta.file_metadata();
    let kv = |key: &str| {
        file_meta
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|e| e.key == key))
            .and_then(|e| e.value.clone())
    };
    let codec = match kv(CODEC_KEY).as_deref() {
        Some("snappy") => Codec::Snappy,
        Some("zstd") => Codec::Zstd(
            kv(CODEC_LEVEL_KEY)
                .and_then(|l| l.parse().ok())
                .unwrap_or(3),
        ),
        _ => match meta
            .row_groups()
            .first()
            .and_then(|rg| rg.columns().first())
        {
            Some(c) if matches!(c.compression(), Compression::ZSTD(_)) => Codec::Zstd(3),
            _ => Codec::Snappy,
        },
    };
    let unknown_columns = file_meta
        .schema_descr()
        .root_schema()
        .get_fields()
        .iter()
        .map(|f| f.name().to_string())
        .filter(|n| !COLUMNS.contains(&n.as_str()))
        .collect();
    Ok(FileInfo {
        path: path.to_path_buf(),
        bytes,
        rows: file_meta.num_rows().max(0) as u64,
        codec,
        unknown_columns,
        timezone: kv(TIMEZONE_KEY),
        checksum: kv(crate::lake::checksum::CHECKSUM_KEY),
        schema_version: kv(crate::record::SCHEMA_VERSION_KEY)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
    })
}

impl FileInfo {
    /// An error naming the file when its data pages no longer match their checksum.
    pub fn check_integrity(&self) -> Result<()> {
        match crate::lake::checksum::check(&self.path, self.checksum.as_deref())? {
            crate::lake::checksum::Check::Corrupt => Err(Error::data(
                &self.path,
                "corrupt: its data pages do not match the checksum recorded when it was written",
            )),
            _ => Ok(()),
        }
    }
}
