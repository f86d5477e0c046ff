//! The codecs lake files are written with, and the metadata keys that record them.

use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;

use crate::error::{Error, Result};

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
    pub(super) fn parquet(self) -> Result<Compression> {
        Ok(match self {
            Codec::Snappy => Compression::SNAPPY,
            Codec::Zstd(level) => Compression::ZSTD(
                ZstdLevel::try_new(level)
                    .map_err(|e| Error::usage("zstd level", level.to_string(), e.to_string()))?,
            ),
        })
    }

    pub(super) fn metadata(self) -> Vec<KeyValue> {
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
