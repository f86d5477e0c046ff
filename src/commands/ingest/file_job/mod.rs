//! Ingesting one raw file: read the new lines, normalize, dedup, write, publish, checkpoint.
//!
//! The order is what makes a crash at any instant harmless:
//! 1. rows are written to temp files in `parquet/.staging/` and fsynced;
//! 2. each file is linked into its partition and the directory fsynced;
//! 3. quarantine entries are fsynced;
//! 4. the checkpoint is replaced atomically.
//!
//! A crash before 4 leaves the checkpoint behind the lake: the rerun reads those lines again,
//! dedup drops the messages that already landed, and the quarantine is cut back to the length the
//! old checkpoint recorded. Temp files left in staging are removed by the next run.
//!
//! A file goes through three steps so that the run can overlap them across files: [`prepare`]
//! (is there anything new?), [`parse`] (the normalizers' chunks → row batches queued on the
//! encoder thread) and [`commit_group`] (steps 1–4 for a group of files, once the encoder has
//! finished their row groups, each directory fsynced once for all of them). The run queues the
//! [`reader`]s of the next files on the normalizer threads before it parses a file; the encoder
//! writes a group's rows into one file per partition, and the run commits a group while the
//! normalizers read the next one's first file.
//! Preparing is here; parsing (with the dedup decision of
//! [`crate::commands::ingest::routing`]) in [`parse`], publishing in [`commit_group`].

mod commit;
mod parse;

pub use commit::commit_group;
pub use parse::{parse, reader};

use std::collections::BTreeSet;
use std::fs::File;

use chrono::NaiveDate;

use crate::checkpoint::{Checkpoint, Counts, FileStat, Fingerprint, Status};
use crate::commands::ingest::RunContext;
use crate::error::{Error, Result};
use crate::lake::layout::RawFile;
use crate::partition::PartitionKey;
use crate::quarantine::Quarantine;

/// A raw file with new bytes, and where to start reading it.
pub struct FileJob {
    raw: RawFile,
    name: String,
    file: File,
    previous: Option<Checkpoint>,
    start: u64,
    /// The file's length when it was prepared.
    len: u64,
    next_line: u64,
    cumulative: Counts,
    reprocessed: bool,
    status: Status,
    /// The file will not grow any more: its day is over (by its name) and it has not been
    /// modified for the settle time. Only then is an unterminated last line complete.
    closed: bool,
    /// The newest message create_time read before `start` (see [`Checkpoint::clock`]).
    clock: Option<i64>,
    /// The first and last bytes before `start`, as verified.
    prefix: Prefix,
}

/// The first and last (up to 4 KiB) bytes of a raw file's first `len` bytes.
#[derive(Debug, Clone, Default)]
struct Prefix {
    len: u64,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Prefix {
    fn read(file: &mut File, len: u64) -> std::io::Result<Self> {
        use std::io::{Read, Seek, SeekFrom};
        let n = len.min(crate::checkpoint::SAMPLE);
        let mut head = vec![0u8; n as usize];
        file.seek(SeekFrom::Start(0))?;
        file.read_exact(&mut head)?;
        let mut tail = vec![0u8; n as usize];
        file.seek(SeekFrom::Start(len - n))?;
        file.read_exact(&mut tail)?;
        Ok(Prefix { len, head, tail })
    }

    fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_bytes(self.len, &self.head, &self.tail)
    }

    /// The fingerprint of the first `end` bytes: these, followed by the `head`/`tail` samples of
    /// the bytes processed from here on.
    fn extended(&self, end: u64, head: &[u8], tail: &[u8]) -> Fingerprint {
        let mut h = self.head.clone();
        if (h.len() as u64) == self.len {
            h.extend_from_slice(head);
        }
        let mut t = self.tail.clone();
        t.extend_from_slice(tail);
        Fingerprint::of_bytes(end, &h, &t)
    }
}

/// A parsed file whose row groups are queued on the encoder.
pub struct ParsedFile {
    job: FileJob,
    out: ParseOutput,
}

impl ParsedFile {
    /// The raw file's name.
    pub fn raw_name(&self) -> &str {
        &self.job.name
    }

    /// Rows of the file written to the lake.
    pub fn rows_written(&self) -> u64 {
        self.out.counts.written
    }

    /// Partitions that received new rows from this file.
    pub fn partitions(&self) -> &BTreeSet<PartitionKey> {
        &self.out.partitions
    }
}

/// What reading a file's new lines produced.
struct ParseOutput {
    counts: Counts,
    end_offset: u64,
    next_line: u64,
    held_back_bytes: u64,
    last: Option<(String, i64)>,
    clock: Option<i64>,
    /// Taken when the file's rejects are made durable.
    quarantine: Option<Quarantine>,
    partitions: BTreeSet<PartitionKey>,
    /// Partial when an unterminated last line was left for later, else the job's status.
    status: Status,
    /// The fingerprint of the bytes processed, from the bytes as read.
    fingerprint: Fingerprint,
}

/// Decide whether `raw` has anything new. `None` when it does not.
pub fn prepare(ctx: &mut RunContext, raw: &RawFile, today: NaiveDate) -> Result<Option<FileJob>> {
    let name = raw.name();
    let status = if raw.date < today {
        Status::Complete
    } else {
        Status::Partial
    };
    let info = ctx
        .raw_stats
        .stat(&raw.path)
        .map_err(|e| Error::io("stat", &raw.path, e))?;
    // Nothing made from this file may be more readable than it is.
    crate::fsutil::tighten_readability(info.mode);
    let stat = FileStat::of_info(&info);
    // A collector may still be writing an earlier day's file (it names files by another zone's
    // date, or flushes a long line in pieces): recently modified, it is not finished.
    let settled_for = info.age();
    let closed = status == Status::Complete && (raw.archived || settled_for >= ctx.settle_time);
    // The checkpoint must still be there: moving it aside is how an operator asks for a re-read.
    if raw.checkpointed
        && status == Status::Complete
        && ctx.settled.is_settled(&name, &stat)
        && ctx.checkpoints_at_start.contains(&raw.date)
    {
        return Ok(None); // fully ingested and untouched since
    }
    let cp_path = ctx.layout.checkpoint_path(raw.date);
    let previous = if raw.checkpointed {
        Checkpoint::load(&cp_path)?
    } else {
        None
    };
    if let Some(cp) = &previous
        && cp.status == status
        && cp.stat == Some(stat)
        && cp.offset == info.size
    {
        if status == Status::Complete {
            ctx.settled.settle(&name, stat);
        }
        return Ok(None); // untouched since its checkpoint
    }
    ctx.settled.unsettle(&name);
    let mut file = File::open(&raw.path).map_err(|e| Error::io("open raw file", &raw.path, e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io("stat", &raw.path, e))?
        .len();
    // The bytes the checkpoint's fingerprint covers, read once: they verify that the file still
    // starts with what was processed, and they begin the next fingerprint.
    let prefix = match &previous {
        Some(cp) if cp.offset <= len => {
            Some(Prefix::read(&mut file, cp.offset).map_err(|e| Error::io("read", &raw.path, e))?)
        }
        _ => None,
    };
    let same_file = match (&previous, &prefix) {
        (Some(cp), Some(p)) => p.fingerprint() == cp.fingerprint,
        _ => false,
    };
    let (start, next_line, cumulative, reprocessed) = match &previous {
        Some(cp) if same_file => (cp.offset, cp.line + 1, cp.counts, false),
        Some(cp) => {
            tracing::warn!(
                raw_file = %raw.path.display(),
                checkpoint_offset = cp.offset,
                size = len,
                "raw file changed since its checkpoint (shrunk or replaced); reading it again from the start, dedup keeps messages exactly once"
            );
            (0, 1, Counts::default(), true)
        }
        None => (0, 1, Counts::default(), false),
    };
    if start == len && previous.as_ref().is_some_and(|cp| cp.status == status) {
        return Ok(None);
    }
    let clock = match &previous {
        Some(cp) if !reprocessed => cp.clock.or(cp.last_create_time),
        _ => None,
    };
    let prefix = if start > 0 {
        prefix.unwrap_or_default()
    } else {
        Prefix::default()
    };
    Ok(Some(FileJob {
        raw: raw.clone(),
        name,
        closed,
        clock,
        prefix,
        file,
        previous,
        start,
        len,
        next_line,
        cumulative,
        reprocessed,
        status,
    }))
}

/// Note the failure in the file's checkpoint (keeping its offset) and hand the error back.
pub fn record_failure(ctx: &RunContext, job: FileJob, err: Error) -> Error {
    record_failure_message(ctx, job, err.to_string());
    err
}

/// Note the failure `message` in the file's checkpoint (keeping its offset).
pub fn record_failure_message(ctx: &RunContext, job: FileJob, message: String) {
    if let Some(cp) = job.previous {
        cp.record_failure(&ctx.layout.checkpoint_path(job.raw.date), message);
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
