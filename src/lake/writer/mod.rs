//! Rows → sorted row groups → one Parquet file per partition in the staging directory.
//!
//! A [`RowBuffer`] collects rows in Arrow builders (a normalized chunk, or a rewrite's input);
//! the rows of a partition travel to the [`Encoder`] thread as [`PendingRows`], which it sorts by
//! (chatroom, create_time) and writes as one row group of that partition's [`StagedWriter`], so
//! memory is bounded by the rows pending plus one row group in flight. Files are written under a
//! temporary name in `parquet/.staging/` and only become part of the lake when [`publish`] links
//! them into their partition.

mod codec;
mod column_split;
mod encoder;
mod properties;
mod row_buffer;
mod sparse_column;
mod staged;

pub use codec::{CODEC_KEY, CODEC_LEVEL_KEY, Codec, PAGE_ROWS, TIMEZONE_KEY};
pub use encoder::Encoder;
pub use properties::writer_properties;
pub use row_buffer::RowBuffer;
pub use staged::{ClosedFile, StagedFile, StagedWriter};

use std::path::{Path, PathBuf};

use tempfile::TempPath;

use crate::error::Result;
use crate::fsutil::{self, DirSyncs, Durability, Publish, PublishError, create_dir_all_durable};

/// Publish a staged file into `partition_dir` under the next free name of this run.
pub fn publish(staged: StagedFile, partition_dir: &Path, run_id: &str) -> Result<PathBuf> {
    publish_file(staged.tmp, partition_dir, run_id)
}

/// Publish the finished (synced) temp file `tmp` into `dir` as a data file of `run_id`: under
/// the first of its names ([`crate::lake::names::data_file`]) that is free, never replacing a
/// file, then fsync the directory.
pub fn publish_file(tmp: TempPath, dir: &Path, run_id: &str) -> Result<PathBuf> {
    create_dir_all_durable(dir)?;
    publish_named(tmp, dir, run_id, Durability::Durable)
}

/// [`publish`], the fsyncs of the partition directory (and of a parent that gained it) put off
/// into `syncs`: the file is visible at once, and durable after [`DirSyncs::sync`].
pub fn publish_deferred(
    staged: StagedFile,
    partition_dir: &Path,
    run_id: &str,
    syncs: &mut DirSyncs,
) -> Result<PathBuf> {
    fsutil::create_dir_all_deferred(partition_dir, syncs)?;
    let path = publish_named(staged.tmp, partition_dir, run_id, Durability::Deferred)?;
    syncs.add(partition_dir);
    // The partition directory may have been made by a run that failed before fsyncing its
    // parent: fsync the parent too (once per group and month, so nearly free).
    if let Some(parent) = partition_dir.parent() {
        syncs.add(parent);
    }
    Ok(path)
}

fn publish_named(
    tmp: TempPath,
    dir: &Path,
    run_id: &str,
    durability: Durability,
) -> Result<PathBuf> {
    let mut tmp = tmp;
    for n in 0u32.. {
        let dest = dir.join(crate::lake::names::data_file(run_id, n));
        match fsutil::publish(tmp, &dest, Publish::NoClobber, durability) {
            Ok(()) => return Ok(dest),
            Err(PublishError::Taken(back)) => tmp = back,
            Err(PublishError::Failed(e)) => return Err(e),
        }
    }
    unreachable!("some name is free")
}
