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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;

use chrono::NaiveDate;

use crate::checkpoint::{CHECKPOINT_VERSION, Checkpoint, Counts, Fingerprint, Status};
use crate::dedup::{Seen, UNKNOWN_HASH};
use crate::error::{Error, Result};
use crate::failpoint;
use crate::ingest::RunContext;
use crate::ingest::summary::FileSummary;
use crate::jsonl::JsonlReader;
use crate::lake::layout::RawFile;
use crate::lake::reader::for_each_row;
use crate::lake::writer::{PartitionWriter, publish};
use crate::normalize::{Line, normalize_line};
use crate::partition::PartitionKey;
use crate::quarantine::{Quarantine, RejectEntry};

/// At most this many rejects and conflicting duplicates per file are logged one by one; the
/// rest are counted and summarized in one line.
const LOG_LIMIT: u64 = 20;

/// A duplicate of a stored row whose fields are compared once the file is read.
struct LakeDuplicate {
    msg_id: String,
    hash: u64,
    line: u64,
}

/// Ingest the new part of `raw`. Returns `None` when there was nothing new.
pub fn ingest_file(
    ctx: &mut RunContext,
    raw: &RawFile,
    today: NaiveDate,
) -> Result<Option<FileSummary>> {
    let name = raw.name();
    let cp_path = ctx.layout.checkpoint_path(raw.date);
    let previous = Checkpoint::load(&cp_path)?;
    let mut file = File::open(&raw.path).map_err(|e| Error::io("open raw file", &raw.path, e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io("stat", &raw.path, e))?
        .len();
    let closed = raw.date < today;

    let (start, next_line, mut cumulative, reprocessed) = match &previous {
        Some(cp)
            if cp
                .fingerprint
                .matches(&mut file)
                .map_err(|e| Error::io("read", &raw.path, e))? =>
        {
            (cp.offset, cp.line + 1, cp.counts, false)
        }
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
    let unchanged_status = if closed {
        Status::Complete
    } else {
        Status::Partial
    };
    let nothing_new = start == len
        && previous
            .as_ref()
            .is_some_and(|cp| cp.status == unchanged_status);
    if nothing_new {
        return Ok(None);
    }
    let rejects_committed = previous.as_ref().map_or(0, |cp| cp.rejects_bytes);

    let result = read_and_publish(
        ctx,
        raw,
        &name,
        file.try_clone()
            .map_err(|e| Error::io("open", &raw.path, e))?,
        start,
        next_line,
        closed,
        rejects_committed,
    );
    let job = match result {
        Ok(job) => job,
        Err(err) => {
            if let Some(mut cp) = previous {
                cp.status = Status::Error;
                cp.error = Some(err.to_string());
                cp.updated_at = now();
                if let Err(e) = cp.save(&cp_path) {
                    tracing::warn!(error = %e, "could not record the failure in the checkpoint");
                }
            }
            return Err(err);
        }
    };

    failpoint::hit("ingest.before_checkpoint");
    cumulative += job.counts;
    let checkpoint = Checkpoint {
        version: CHECKPOINT_VERSION,
        raw_file: name.clone(),
        offset: job.end_offset,
        line: job.next_line - 1,
        last_msg_id: job
            .last
            .as_ref()
            .map(|(id, _)| id.clone())
            .or(previous.as_ref().and_then(|c| c.last_msg_id.clone())),
        last_create_time: job
            .last
            .as_ref()
            .map(|(_, t)| *t)
            .or(previous.as_ref().and_then(|c| c.last_create_time)),
        fingerprint: Fingerprint::of(&mut file, job.end_offset)
            .map_err(|e| Error::io("read", &raw.path, e))?,
        status: unchanged_status,
        error: None,
        counts: cumulative,
        rejects_bytes: job.rejects_len,
        updated_at: now(),
    };
    crate::fsutil::create_dir_all_durable(cp_path.parent().expect("checkpoints dir"))?;
    checkpoint.save(&cp_path)?;
    failpoint::hit("ingest.after_checkpoint");

    Ok(Some(FileSummary {
        counts: job.counts,
        partitions: job.partitions.len(),
        status: unchanged_status,
        offset: job.end_offset,
        reprocessed,
        held_back_bytes: len.saturating_sub(job.end_offset),
        quarantine: (job.counts.rejected > 0)
            .then(|| ctx.layout.rejects_path(raw.date).display().to_string()),
    }))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What [`read_and_publish`] did.
struct JobResult {
    counts: Counts,
    end_offset: u64,
    next_line: u64,
    last: Option<(String, i64)>,
    partitions: BTreeSet<PartitionKey>,
    rejects_len: u64,
}

#[allow(clippy::too_many_arguments)]
fn read_and_publish(
    ctx: &mut RunContext,
    raw: &RawFile,
    name: &str,
    file: File,
    start: u64,
    next_line: u64,
    closed: bool,
    rejects_committed: u64,
) -> Result<JobResult> {
    let mut quarantine = Quarantine::open(&ctx.layout.rejects_path(raw.date), rejects_committed)?;
    let mut reader = JsonlReader::new(file, start, next_line, closed)
        .map_err(|e| Error::io("read", &raw.path, e))?;
    let mut counts = Counts::default();
    let mut writers: BTreeMap<PartitionKey, PartitionWriter> = BTreeMap::new();
    let mut lake_duplicates: HashMap<PartitionKey, Vec<LakeDuplicate>> = HashMap::new();
    let mut last: Option<(String, i64)> = None;
    let mut buffered = 0usize;

    while let Some(chunk) = reader
        .next_chunk()
        .map_err(|e| Error::io("read", &raw.path, e))?
    {
        counts.bytes_read += chunk.data.len() as u64;
        for line in chunk.lines() {
            counts.lines_read += 1;
            let normalized = match normalize_line(line.bytes) {
                Line::Blank => {
                    counts.blank += 1;
                    continue;
                }
                Line::Reject(reject) => {
                    counts.rejected += 1;
                    if counts.rejected <= LOG_LIMIT {
                        tracing::warn!(raw_file = name, line = line.number, offset = line.offset, reason = %reject, "rejected line quarantined");
                    }
                    quarantine.push(&RejectEntry::new(
                        name,
                        line.number,
                        line.offset,
                        &reject,
                        line.bytes,
                    ))?;
                    continue;
                }
                Line::Record(n) => n,
            };
            counts.type_conflicts += u64::from(normalized.type_conflicts);
            counts.repaired += u64::from(normalized.repaired);
            let record = normalized.record;
            let key = ctx.partitioner.key(record.create_time);
            let hash = record.content_hash();
            let seen = ctx.lake_ids.partition(&ctx.layout, key)?;
            match seen.check_insert(&record.msg_id, hash) {
                Seen::New => {
                    let writer = writers.entry(key).or_insert_with(|| {
                        PartitionWriter::new(key, &ctx.layout.staging_dir(), ctx.props.clone())
                    });
                    let before = writer.buffered_bytes();
                    writer.push(&record);
                    buffered += writer.buffered_bytes() - before;
                    counts.written += 1;
                }
                Seen::Duplicate { first_hash } => {
                    counts.duplicates += 1;
                    if first_hash == UNKNOWN_HASH {
                        lake_duplicates.entry(key).or_default().push(LakeDuplicate {
                            msg_id: record.msg_id.to_string(),
                            hash,
                            line: line.number,
                        });
                    } else if first_hash != hash {
                        counts.conflicting_duplicates += 1;
                        if counts.conflicting_duplicates <= LOG_LIMIT {
                            warn_conflict(name, line.number, &record.msg_id);
                        }
                    }
                }
            }
            last = Some((record.msg_id.into_owned(), record.create_time));
            if buffered > ctx.buffer_budget {
                buffered = flush_largest(&mut writers)?;
            }
        }
    }
    if reader.has_held_back_tail() {
        tracing::info!(
            raw_file = name,
            offset = reader.offset(),
            "leaving an unfinished last line for the next run"
        );
    }
    counts.conflicting_duplicates +=
        compare_with_stored(ctx, name, lake_duplicates, counts.conflicting_duplicates)?;
    if counts.rejected > LOG_LIMIT || counts.conflicting_duplicates > LOG_LIMIT {
        tracing::warn!(
            raw_file = name,
            rejected = counts.rejected,
            conflicting_duplicates = counts.conflicting_duplicates,
            "only the first {LOG_LIMIT} of each were logged; see the quarantine for every rejected line"
        );
    }

    let mut staged = Vec::new();
    for (_, writer) in writers {
        if let Some(file) = writer.finish()? {
            staged.push(file);
        }
    }
    failpoint::hit("ingest.staged");
    let partitions: BTreeSet<PartitionKey> = staged.iter().map(|s| s.partition).collect();
    for (i, file) in staged.into_iter().enumerate() {
        if i > 0 {
            failpoint::hit("ingest.between_publishes");
        }
        counts.bytes_written += file.bytes;
        let dir = ctx.layout.partition_dir(file.partition);
        let rows = file.rows;
        let path = publish(file, &dir, &ctx.run_id)?;
        tracing::debug!(path = %path.display(), rows, "published");
    }
    failpoint::hit("ingest.published");
    let rejects_len = quarantine.finish()?;
    ctx.partitions_written.extend(partitions.iter().copied());
    Ok(JobResult {
        counts,
        end_offset: reader.offset(),
        next_line: reader.next_line(),
        last,
        partitions,
        rejects_len,
    })
}

fn warn_conflict(raw_file: &str, line: u64, msg_id: &str) {
    tracing::warn!(
        raw_file,
        line,
        msg_id,
        "conflicting duplicate: same msg_id, other fields differ; the first stored copy is kept"
    );
}

/// Flush the writer holding the most buffered bytes; returns the bytes still buffered.
fn flush_largest(writers: &mut BTreeMap<PartitionKey, PartitionWriter>) -> Result<usize> {
    if let Some(w) = writers.values_mut().max_by_key(|w| w.buffered_bytes()) {
        w.flush()?;
    }
    Ok(writers.values().map(PartitionWriter::buffered_bytes).sum())
}

/// Count the duplicates of stored rows whose fields differ from the stored copy.
fn compare_with_stored(
    ctx: &RunContext,
    raw_file: &str,
    dups: HashMap<PartitionKey, Vec<LakeDuplicate>>,
    already_logged: u64,
) -> Result<u64> {
    let mut conflicting = 0;
    for (key, dups) in dups {
        let mut wanted: HashMap<&str, (u64, u64)> = dups
            .iter()
            .map(|d| (d.msg_id.as_str(), (d.hash, d.line)))
            .collect();
        let mut stored: HashMap<String, u64> = HashMap::new();
        for path in ctx.layout.partition_files(key)? {
            for_each_row(
                &path,
                |id| wanted.contains_key(id),
                |row| {
                    stored
                        .entry(row.msg_id.to_string())
                        .or_insert_with(|| row.content_hash());
                },
            )?;
        }
        for d in &dups {
            if stored.get(&d.msg_id).is_some_and(|h| *h != d.hash) {
                conflicting += 1;
                if already_logged + conflicting <= LOG_LIMIT {
                    warn_conflict(raw_file, d.line, &d.msg_id);
                }
            }
        }
        wanted.clear();
    }
    Ok(conflicting)
}
