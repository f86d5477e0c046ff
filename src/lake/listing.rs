//! Listing what the lake holds, for the commands that plan over it (compact, archive, migrate,
//! status, verify): the partitions of a range of days with their files' footers, and the rules
//! every plan shares (which codec a partition keeps, how many files its bytes make).

use chrono::NaiveDate;

use crate::dates::DateArg;
use crate::error::{Error, Result};
use crate::lake::Layout;
use crate::lake::footer::{FileInfo, read_footer};
use crate::lake::writer::Codec;
use crate::partition::PartitionKey;

/// A partition's data files, as listed.
#[derive(Debug, Clone)]
pub struct PartitionListing {
    pub key: PartitionKey,
    pub files: Vec<FileInfo>,
}

/// The partitions of the lake between `start` and `end` (inclusive), with their files' footers.
pub fn list_partitions(
    layout: &Layout,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
) -> Result<Vec<PartitionListing>> {
    let keys = layout.partitions()?;
    let mut out = Vec::new();
    for key in keys {
        if start.is_some_and(|s| key.date() < s) || end.is_some_and(|e| key.date() > e) {
            continue;
        }
        let files = layout
            .partition_files(key)?
            .iter()
            .map(|p| read_footer(p))
            .collect::<Result<Vec<_>>>()?;
        out.push(PartitionListing { key, files });
    }
    Ok(out)
}

/// `--start`/`--end` as days in `tz`; an end before the start is a usage error.
pub fn resolve_days(
    start: Option<DateArg>,
    end: Option<DateArg>,
    tz: chrono_tz::Tz,
) -> Result<(Option<NaiveDate>, Option<NaiveDate>)> {
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let (s, e) = (
        start.map(|d| d.resolve(today)),
        end.map(|d| d.resolve(today)),
    );
    if let (Some(s), Some(e)) = (s, e)
        && e < s
    {
        return Err(Error::usage(
            "--end",
            e.to_string(),
            format!("the end is before the start ({s})"),
        ));
    }
    Ok((s, e))
}

/// The codec a partition keeps: that of most of its bytes (ties: the later file's).
pub fn partition_codec(files: &[FileInfo]) -> Codec {
    let mut by_codec: Vec<(Codec, u64)> = Vec::new();
    for f in files {
        match by_codec.iter_mut().find(|(c, _)| *c == f.codec) {
            Some((_, b)) => *b += f.bytes,
            None => by_codec.push((f.codec, f.bytes)),
        }
    }
    by_codec
        .iter()
        .rev()
        .max_by_key(|(_, b)| *b)
        .map(|(c, _)| *c)
        .unwrap_or(Codec::Snappy)
}

/// How many files `bytes` of data make at `target` bytes per file (at least one).
pub fn files_for(bytes: u64, target: u64) -> u64 {
    bytes.div_ceil(target.max(1)).max(1)
}

/// Serialize a partition key as its day (`2026-01-20`), for plans printed with `--json`.
pub fn key_string<S: serde::Serializer>(
    k: &PartitionKey,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&k.date().format("%Y-%m-%d").to_string())
}

/// Serialize a codec as its name (`snappy`, `zstd(19)`).
pub fn codec_string<S: serde::Serializer>(c: &Codec, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&c.to_string())
}
