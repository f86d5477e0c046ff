//! Raw retention: a raw JSONL file that is fully ingested and older than the retention period is
//! compressed to `messages/raw/archive/YYYY-MM-DD.jsonl.zst`, read back and compared byte for
//! byte with the original, and only then is the original removed. A file whose checkpoint does
//! not say "complete up to its last byte", or whose fingerprint no longer matches, is never
//! touched. `ingest` can read the archives again for a rebuild.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

use crate::checkpoint::{Checkpoint, Status};
use crate::error::{Error, Result};
use crate::failpoint;
use crate::fsutil::{Durability, Publish, create_dir_all_durable, fsync_dir};
use crate::lake::Layout;
use crate::lake::layout::RawFile;

/// The zstd level of raw archives: most of level 19's ratio on JSON at several times its speed.
pub const RAW_ZSTD_LEVEL: i32 = 9;

/// One raw file archived (or, in a dry run, that would be).
#[derive(Debug, Clone, Serialize)]
pub struct RawArchived {
    pub file: String,
    pub bytes: u64,
    /// Size of the `.jsonl.zst` (0 in a dry run).
    pub archived_bytes: u64,
}

/// A raw file old enough that was left alone, and why.
#[derive(Debug, Clone, Serialize)]
pub struct RawKept {
    pub file: String,
    pub reason: String,
}

/// Why `raw` may not be archived yet, or `None` if it may.
pub fn not_archivable(layout: &Layout, raw: &RawFile) -> Result<Option<String>> {
    let Some(cp) = Checkpoint::load(&layout.checkpoint_path(raw.date))? else {
        return Ok(Some("never ingested".into()));
    };
    let mut file = File::open(&raw.path).map_err(|e| Error::io("open", &raw.path, e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io("stat", &raw.path, e))?
        .len();
    if cp.status != Status::Complete || cp.offset != len {
        return Ok(Some(format!(
            "not fully ingested (checkpoint {:?} at byte {} of {len}); run wxlake ingest",
            cp.status, cp.offset
        )));
    }
    if !cp
        .fingerprint
        .matches(&mut file)
        .map_err(|e| Error::io("read", &raw.path, e))?
    {
        return Ok(Some(
            "its content no longer matches its checkpoint's fingerprint; run wxlake ingest".into(),
        ));
    }
    Ok(None)
}

/// Compress `raw` into the archive, verify it, and remove the original.
pub fn archive_raw_file(layout: &Layout, raw: &RawFile) -> Result<RawArchived> {
    let dir = layout.raw_archive_dir();
    create_dir_all_durable(&dir)?;
    let dest = layout.raw_archive_path(raw.date);
    let bytes = fs::metadata(&raw.path)
        .map_err(|e| Error::io("stat", &raw.path, e))?
        .len();
    if !dest.exists() {
        write_archive(&dest, &[&raw.path])?;
    } else if same_content(&[&raw.path], &dest).is_ok() {
        // A crash after the rename left both: the archive is whole; finish.
    } else {
        // A late write re-created the day's raw file after it was archived: the archive keeps
        // both, the earlier content first. (A crash after this rename left the raw file too:
        // the archive then already ends with it, and that is checked first.)
        let earlier = dir.join(format!(".{}.earlier.tmp", raw.name()));
        let tail_present = restore_to(&dest, &earlier).and_then(|()| {
            let earlier_len = fs::metadata(&earlier)
                .map_err(|e| Error::io("stat", &earlier, e))?
                .len();
            ends_with(&earlier, earlier_len, &raw.path, bytes)
        });
        match tail_present {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(raw_file = %raw.path.display(), archive = %dest.display(), "the raw file was re-created after it was archived; appending it to the archive");
                write_archive(&dest, &[&earlier, &raw.path])?;
            }
            Err(e) => {
                let _ = fs::remove_file(&earlier);
                return Err(e);
            }
        }
        let _ = fs::remove_file(&earlier);
    }
    fs::remove_file(&raw.path).map_err(|e| Error::io("remove", &raw.path, e))?;
    fsync_dir(&layout.raw_dir())?;
    let archived_bytes = fs::metadata(&dest)
        .map_err(|e| Error::io("stat", &dest, e))?
        .len();
    Ok(RawArchived {
        file: raw.name(),
        bytes,
        archived_bytes,
    })
}

/// Compress the concatenation of `inputs` into `dest` (through a temp file beside it), verify
/// it byte for byte, then rename it into place.
fn write_archive(dest: &Path, inputs: &[&Path]) -> Result<()> {
    let tmp = crate::fsutil::temp_for(dest)?;
    let (file, tmp_path) = tmp.into_parts();
    let mut encoder = zstd::stream::Encoder::new(file, RAW_ZSTD_LEVEL)
        .map_err(|e| Error::io("compress into", &*tmp_path, e))?;
    let total: u64 = inputs
        .iter()
        .map(|p| fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    encoder
        .set_pledged_src_size(Some(total))
        .map_err(|e| Error::io("compress into", &*tmp_path, e))?;
    for input in inputs {
        let mut reader =
            BufReader::new(File::open(input).map_err(|e| Error::io("open", input, e))?);
        io::copy(&mut reader, &mut encoder).map_err(|e| Error::io("compress", input, e))?;
    }
    let file = encoder
        .finish()
        .map_err(|e| Error::io("compress into", &*tmp_path, e))?;
    file.sync_all()
        .map_err(|e| Error::io("fsync", &*tmp_path, e))?;
    same_content(inputs, &tmp_path)?;
    failpoint::hit("archive_raw.written");
    crate::fsutil::publish(tmp_path, dest, Publish::Replace, Durability::Durable)?;
    failpoint::hit("archive_raw.renamed");
    Ok(())
}

/// Decompress `archive` into `dest`.
fn restore_to(archive: &Path, dest: &Path) -> Result<()> {
    let mut decoder =
        zstd::stream::Decoder::new(File::open(archive).map_err(|e| Error::io("open", archive, e))?)
            .map_err(|e| Error::io("decompress", archive, e))?;
    use std::os::unix::fs::OpenOptionsExt;
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(crate::fsutil::file_mode())
        .open(dest)
        .map_err(|e| Error::io("create", dest, e))?;
    io::copy(&mut decoder, &mut out).map_err(|e| Error::io("decompress", archive, e))?;
    Ok(())
}

/// Whether the file `whole` (of `whole_len` bytes) ends with the `part_len` bytes of `part`.
fn ends_with(whole: &Path, whole_len: u64, part: &Path, part_len: u64) -> Result<bool> {
    use std::io::{Seek, SeekFrom};
    if part_len > whole_len {
        return Ok(false);
    }
    let mut w = File::open(whole).map_err(|e| Error::io("open", whole, e))?;
    w.seek(SeekFrom::Start(whole_len - part_len))
        .map_err(|e| Error::io("read", whole, e))?;
    let mut a = BufReader::new(w);
    let mut b = BufReader::new(File::open(part).map_err(|e| Error::io("open", part, e))?);
    let (mut x, mut y) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = read_full(&mut a, &mut x).map_err(|e| Error::io("read", whole, e))?;
        let m = read_full(&mut b, &mut y).map_err(|e| Error::io("read", part, e))?;
        if n != m || x[..n] != y[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Decompress `archive` and compare it with the concatenation of `originals`, byte for byte.
fn same_content(originals: &[&Path], archive: &Path) -> Result<()> {
    let mut chain: Box<dyn Read> = Box::new(io::empty());
    for original in originals {
        let f = File::open(original).map_err(|e| Error::io("open", original, e))?;
        chain = Box::new(chain.chain(f));
    }
    let original = originals.last().copied().unwrap_or(archive);
    let mut a = BufReader::new(chain);
    let decoder =
        zstd::stream::Decoder::new(File::open(archive).map_err(|e| Error::io("open", archive, e))?)
            .map_err(|e| Error::io("decompress", archive, e))?;
    let mut b = BufReader::new(decoder);
    let (mut x, mut y) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = read_full(&mut a, &mut x).map_err(|e| Error::io("read", original, e))?;
        let m = read_full(&mut b, &mut y).map_err(|e| Error::io("decompress", archive, e))?;
        if n != m || x[..n] != y[..m] {
            return Err(Error::data(
                archive,
                format!(
                    "does not decompress to {}; the original is kept",
                    original.display()
                ),
            ));
        }
        if n == 0 {
            return Ok(());
        }
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Decompress the archive of `date` into `dest` (for ingest's rebuild from archives).
pub fn restore(layout: &Layout, date: NaiveDate, dest: &Path) -> Result<PathBuf> {
    let src = layout.raw_archive_path(date);
    let mut decoder =
        zstd::stream::Decoder::new(File::open(&src).map_err(|e| Error::io("open", &src, e))?)
            .map_err(|e| Error::io("decompress", &src, e))?;
    let mut out = File::create(dest).map_err(|e| Error::io("create", dest, e))?;
    io::copy(&mut decoder, &mut out).map_err(|e| Error::io("decompress", &src, e))?;
    out.flush().map_err(|e| Error::io("write", dest, e))?;
    Ok(dest.to_path_buf())
}
