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
//! (is there anything new?), [`parse`] (lines → row batches queued on the encoder thread) and
//! [`commit`] (steps 1–4, once the encoder has finished the file's row groups). The run parses
//! file N+1 while the encoder finishes file N.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use chrono::NaiveDate;

use crate::checkpoint::{CHECKPOINT_VERSION, Checkpoint, Counts, FileStat, Fingerprint, Status};
use crate::commands::ingest::RunContext;
use crate::commands::ingest::chunk_rows::{
    ChunkRows, OtherRecord, PendingOther, normalize_in_order, normalizer_threads,
};
use crate::commands::ingest::lake_ids::Verdict;
use crate::commands::ingest::summary::FileSummary;
use crate::commands::ingest::warnings::WarningTally;
use crate::contact::{ContactAction, ContactRow, record_key};
use crate::dedup::UNKNOWN_HASH;
use crate::error::{Error, Result};
use crate::event::EventRow;
use crate::failpoint;
use crate::fsutil::create_dir_all_durable;
use crate::jsonl::JsonlReader;
use crate::lake::layout::RawFile;
use crate::lake::reader::for_each_row_with_ids;
use crate::lake::row_group::PendingRows;
use crate::lake::side_table::SideTable;
use crate::lake::writer::{Encoder, StagedFile, publish};
use crate::partition::PartitionKey;
use crate::quarantine::{Quarantine, RejectEntry};
use crate::record::col;

/// A raw file with new bytes, and where to start reading it.
pub struct FileJob {
    raw: RawFile,
    name: String,
    file: File,
    previous: Option<Checkpoint>,
    start: u64,
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
    quarantine: Quarantine,
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
    let meta = std::fs::metadata(&raw.path).map_err(|e| Error::io("stat", &raw.path, e))?;
    {
        // Nothing made from this file may be more readable than it is.
        use std::os::unix::fs::PermissionsExt;
        crate::fsutil::tighten_readability(meta.permissions().mode());
    }
    let stat = FileStat::of(&meta);
    // A collector may still be writing an earlier day's file (it names files by another zone's
    // date, or flushes a long line in pieces): recently modified, it is not finished.
    let settled_for = meta
        .modified()
        .ok()
        .and_then(|m| std::time::SystemTime::now().duration_since(m).ok())
        .unwrap_or_default();
    let closed = status == Status::Complete && (raw.archived || settled_for >= ctx.settle_time);
    let cp_path = ctx.layout.checkpoint_path(raw.date);
    // The checkpoint must still be there: moving it aside is how an operator asks for a re-read.
    if raw.checkpointed
        && status == Status::Complete
        && ctx.settled.is_settled(&name, &stat)
        && ctx.checkpoints_at_start.contains(&raw.date)
    {
        return Ok(None); // fully ingested and untouched since
    }
    let previous = if raw.checkpointed {
        Checkpoint::load(&cp_path)?
    } else {
        None
    };
    if let Some(cp) = &previous
        && cp.status == status
        && cp.stat == Some(stat)
        && cp.offset == meta.len()
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
        next_line,
        cumulative,
        reprocessed,
        status,
    }))
}

/// A duplicate of a stored row whose fields are compared once the file is read.
struct LakeDuplicate {
    msg_id: String,
    hash: u32,
    line: u64,
}

/// Read the new lines of `job`, queue its rows on `encoder` and seal them as sequence `seq`.
pub fn parse(
    ctx: &mut RunContext,
    job: FileJob,
    encoder: &mut Encoder,
    seq: u64,
) -> Result<ParsedFile> {
    match parse_lines(ctx, &job, encoder, seq) {
        Ok(out) => Ok(ParsedFile { job, out }),
        Err(err) => Err(record_failure(ctx, job, err)),
    }
}

fn parse_lines(
    ctx: &mut RunContext,
    job: &FileJob,
    encoder: &mut Encoder,
    seq: u64,
) -> Result<ParseOutput> {
    let name = job.name.as_str();
    let rejects = ctx.layout.rejects_path_of(&job.raw);
    let mut quarantine = match &job.previous {
        Some(cp) if job.reprocessed => {
            let aside = rejects.with_extension(format!("jsonl.replaced-{}", cp.fingerprint.tail));
            Quarantine::open_replaced(&rejects, &aside)?
        }
        Some(cp) => Quarantine::open(&rejects, cp.rejects_bytes)?,
        None => Quarantine::open(&rejects, 0)?,
    };
    let file = job
        .file
        .try_clone()
        .map_err(|e| Error::io("open", &job.raw.path, e))?;
    let reader = JsonlReader::new(file, job.start, job.next_line, job.closed)
        .map_err(|e| Error::io("read", &job.raw.path, e))?
        .with_max_line(ctx.max_line_bytes);
    let mut state = ApplyState {
        name,
        seq,
        counts: Counts::default(),
        buffers: BTreeMap::new(),
        lake_duplicates: HashMap::new(),
        last: None,
        buffered: 0,
        clock: job.clock,
        day_start: day_start(ctx.tz, job.raw.date),
    };
    // Normalizer threads read and normalize the next chunks while this one deduplicates and
    // buffers the current one, in file order.
    let mask = ctx.mask;
    let stored = ctx.lake_ids.stored_filter();
    let (reader, applied) =
        normalize_in_order(reader, normalizer_threads(), mask, &stored, |rows| {
            let rows = rows.map_err(|e| Error::io("read", &job.raw.path, e))?;
            state.apply(ctx, rows, &mut quarantine, encoder)
        });
    applied?;
    let ApplyState {
        mut counts,
        buffers,
        lake_duplicates,
        last,
        clock,
        ..
    } = state;
    let held_back_bytes = if reader.has_held_back_tail() {
        let len = job
            .file
            .metadata()
            .map_err(|e| Error::io("stat", &job.raw.path, e))?
            .len();
        tracing::info!(
            raw_file = name,
            offset = reader.offset(),
            "leaving an unfinished last line for the next run"
        );
        len.saturating_sub(reader.offset())
    } else {
        0
    };
    counts.conflicting_duplicates += compare_with_stored(ctx, name, lake_duplicates)?;
    let mut partitions = BTreeSet::new();
    for (key, mut pending) in buffers {
        partitions.insert(key);
        if pending.rows() > 0 {
            encoder.write(seq, key, pending.take())?;
        }
    }
    encoder.seal(seq)?;
    Ok(ParseOutput {
        counts,
        end_offset: reader.offset(),
        next_line: reader.next_line(),
        held_back_bytes,
        last,
        clock,
        quarantine,
        partitions,
        status: if reader.has_held_back_tail() {
            Status::Partial
        } else {
            job.status
        },
        fingerprint: {
            let (head, tail) = reader.processed_sample();
            job.prefix.extended(reader.offset(), head, tail)
        },
    })
}

/// Unix seconds of 00:00 on `date` in `tz` (the earliest such instant; the day's first instant
/// when midnight does not exist).
fn day_start(tz: chrono_tz::Tz, date: NaiveDate) -> i64 {
    use chrono::TimeZone;
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight");
    (0..4)
        .find_map(|h| {
            tz.from_local_datetime(&(midnight + chrono::Duration::hours(h)))
                .earliest()
        })
        .map_or_else(|| midnight.and_utc().timestamp(), |t| t.timestamp())
}

/// The order-dependent half of reading a file: dedup and partition buffering, chunk by chunk.
struct ApplyState<'a> {
    name: &'a str,
    seq: u64,
    counts: Counts,
    buffers: BTreeMap<PartitionKey, PendingRows>,
    lake_duplicates: HashMap<PartitionKey, Vec<LakeDuplicate>>,
    last: Option<(String, i64)>,
    buffered: usize,
    /// The newest message create_time so far in the file: the time stamp of the contact and
    /// event records that follow.
    clock: Option<i64>,
    /// Stamp for records that no message precedes: the raw file's day at 00:00.
    day_start: i64,
}

impl ApplyState<'_> {
    /// Stamp a contact or event record with the time of the messages before it, and keep it
    /// unless its record key is already stored.
    fn keep_other(&mut self, ctx: &mut RunContext, other: PendingOther) -> Result<()> {
        let observed_at = self.clock.unwrap_or(self.day_start);
        let (table, guid, hash) = match &other.record {
            OtherRecord::Contact(c) => (SideTable::Contacts, c.guid.as_deref(), c.content_hash),
            OtherRecord::Event(e) => (SideTable::Events, e.guid.as_deref(), e.content_hash),
        };
        let key = record_key(guid, hash, observed_at);
        if !ctx.side_keys(table)?.insert(key.clone()) {
            self.counts.duplicates += 1;
            match table {
                SideTable::Contacts => self.counts.contact_duplicates += 1,
                SideTable::Events => self.counts.event_duplicates += 1,
            }
            return Ok(());
        }
        let raw_file = self.name.to_string();
        match other.record {
            OtherRecord::Contact(record) => {
                self.counts.contacts += 1;
                match record.action() {
                    ContactAction::Update => self.counts.contact_updates += 1,
                    ContactAction::Delete => self.counts.contact_deletes += 1,
                    ContactAction::Detail => self.counts.contact_details += 1,
                }
                let row = ContactRow {
                    record: *record,
                    observed_at,
                    record_key: key,
                    raw_file,
                    line: other.line,
                };
                ctx.side_rows.push_contact(&ctx.layout, row)?;
            }
            OtherRecord::Event(record) => {
                self.counts.events += 1;
                let row = EventRow {
                    record: *record,
                    observed_at,
                    record_key: key,
                    raw_file,
                    line: other.line,
                };
                ctx.side_rows.push_event(&ctx.layout, row)?;
            }
        }
        Ok(())
    }

    fn apply(
        &mut self,
        ctx: &mut RunContext,
        rows: ChunkRows,
        quarantine: &mut Quarantine,
        encoder: &mut Encoder,
    ) -> Result<()> {
        let name = self.name;
        for r in &rows.rejects {
            tracing::debug!(raw_file = name, line = r.line, offset = r.offset, reason = %r.reject, "rejected line quarantined");
            ctx.warnings.reject(name, r.line, r.reject.code());
            quarantine.push(&RejectEntry::new(
                name, r.line, r.offset, &r.reject, &r.bytes,
            ))?;
        }
        self.counts += rows.counts;
        let ids = rows
            .batch
            .column_by_name(col::MSG_ID)
            .expect("lake column")
            .as_string::<i32>();
        let times = rows
            .batch
            .column_by_name(col::CREATE_TIME)
            .expect("lake column")
            .as_primitive::<Int64Type>();
        // New rows of this chunk per partition (nearly always one), in line order.
        let mut selected: Vec<(PartitionKey, Vec<u32>)> = Vec::new();
        let RunContext {
            layout,
            partitioner,
            lake_ids,
            warnings,
            ..
        } = ctx;
        let n = rows.rows.len();
        let mut at = 0;
        for i in 0..n {
            let key = partitioner.key(times.value(i));
            if selected.get(at).is_none_or(|(k, _)| *k != key) {
                at = match selected.iter().position(|(k, _)| *k == key) {
                    Some(at) => at,
                    None => {
                        selected.push((key, Vec::with_capacity(n - i)));
                        selected.len() - 1
                    }
                };
            }
            let meta = rows.rows[i];
            let msg_id = ids.value(i);
            match lake_ids.check_insert(layout, key, msg_id, meta)? {
                Verdict::New => {
                    selected[at].1.push(i as u32);
                    self.counts.written += 1;
                }
                Verdict::Duplicate { of, first_hash } => {
                    self.counts.duplicates += 1;
                    if first_hash == UNKNOWN_HASH {
                        self.lake_duplicates
                            .entry(of)
                            .or_default()
                            .push(LakeDuplicate {
                                msg_id: msg_id.to_string(),
                                hash: meta.hash,
                                line: meta.line,
                            });
                    } else if first_hash != meta.hash {
                        self.counts.conflicting_duplicates += 1;
                        log_conflict(warnings, name, meta.line, msg_id);
                    }
                }
            }
        }
        if let Some(i) = rows.rows.len().checked_sub(1) {
            self.last = Some((ids.value(i).to_string(), times.value(i)));
        }
        // Contact and event records take the newest time of the messages before them.
        let mut next_row = 0;
        for other in rows.others {
            while next_row < n && rows.rows[next_row].line < other.line {
                self.clock = self.clock.max(Some(times.value(next_row)));
                next_row += 1;
            }
            self.keep_other(ctx, other)?;
        }
        for j in next_row..n {
            self.clock = self.clock.max(Some(times.value(j)));
        }
        let total = rows.rows.len().max(1);
        let batch = Arc::new(rows.batch);
        for (key, sel) in selected {
            let bytes = rows.bytes * sel.len() / total;
            let pending = self.buffers.entry(key).or_default();
            pending.add(&batch, Some(sel), bytes);
            self.buffered += bytes;
            if pending.bytes() >= ctx.row_group_bytes {
                self.buffered -= pending.bytes();
                encoder.write(self.seq, key, pending.take())?;
            }
        }
        if self.buffered > ctx.buffer_budget {
            self.buffered = flush_largest(&mut self.buffers, encoder, self.seq)?;
        }
        Ok(())
    }
}

/// Publish what the encoder staged for `parsed`, make its rejects durable, then advance its
/// checkpoint.
pub fn commit(
    ctx: &mut RunContext,
    parsed: ParsedFile,
    staged: Vec<StagedFile>,
) -> Result<FileSummary> {
    let ParsedFile { job, out } = parsed;
    let ParseOutput {
        counts: mut file_counts,
        end_offset,
        next_line,
        held_back_bytes,
        last,
        clock,
        quarantine,
        partitions,
        status,
        fingerprint,
    } = out;
    let result = (|| {
        failpoint::hit("ingest.staged");
        // The index must list every row before any reader can see it.
        ctx.lake_ids.sync()?;
        for (i, file) in staged.into_iter().enumerate() {
            if i > 0 {
                failpoint::hit("ingest.between_publishes");
            }
            file_counts.bytes_written += file.bytes;
            let dir = ctx.layout.partition_dir(file.partition);
            let rows = file.rows;
            let path = publish(file, &dir, &ctx.run_id)?;
            tracing::debug!(path = %path.display(), rows, "published");
        }
        failpoint::hit("ingest.published");
        quarantine.finish()
    })();
    let rejects_len = match result {
        Ok(len) => len,
        Err(err) => return Err(record_failure(ctx, job, err)),
    };
    ctx.partitions_written.extend(partitions.iter().copied());

    failpoint::hit("ingest.before_checkpoint");
    let FileJob {
        raw,
        name,
        file,
        previous,
        mut cumulative,
        reprocessed,
        ..
    } = job;
    cumulative += file_counts;
    let checkpoint = Checkpoint {
        version: CHECKPOINT_VERSION,
        raw_file: name.clone(),
        offset: end_offset,
        line: next_line - 1,
        last_msg_id: last
            .as_ref()
            .map(|(id, _)| id.clone())
            .or(previous.as_ref().and_then(|c| c.last_msg_id.clone())),
        last_create_time: last
            .as_ref()
            .map(|(_, t)| *t)
            .or(previous.as_ref().and_then(|c| c.last_create_time)),
        clock,
        fingerprint,
        stat: Some(FileStat::of(
            &file
                .metadata()
                .map_err(|e| Error::io("stat", &raw.path, e))?,
        )),
        status,
        error: None,
        counts: cumulative,
        rejects_bytes: rejects_len,
        updated_at: now(),
    };
    let cp_path = ctx.layout.checkpoint_path(raw.date);
    create_dir_all_durable(cp_path.parent().expect("checkpoints dir"))?;
    if !raw.checkpointed {
        // An archive read beside the live file of its date: the date's checkpoint is the
        // live file's; this copy is read whole whenever that checkpoint is missing.
    } else if ctx.side_rows.unpublished() {
        // Contact or event rows read before this point are not durable yet: the checkpoint
        // waits for the group commit that publishes them.
        ctx.side_rows.defer(cp_path, checkpoint);
    } else {
        checkpoint.save(&cp_path)?;
        failpoint::hit("ingest.after_checkpoint");
        if let Some(stat) = checkpoint.stat
            && status == Status::Complete
            && stat.size == end_offset
        {
            ctx.settled.settle(&checkpoint.raw_file, stat);
        }
    }

    Ok(FileSummary {
        counts: file_counts,
        partitions: partitions.len(),
        status,
        offset: end_offset,
        reprocessed,
        held_back_bytes,
        quarantine: (file_counts.rejected > 0)
            .then(|| ctx.layout.rejects_path_of(&raw).display().to_string()),
    })
}

/// Note the failure in the file's checkpoint (keeping its offset) and hand the error back.
fn record_failure(ctx: &RunContext, job: FileJob, err: Error) -> Error {
    if let Some(mut cp) = job.previous {
        cp.status = Status::Error;
        cp.error = Some(err.to_string());
        cp.updated_at = now();
        if let Err(e) = cp.save(&ctx.layout.checkpoint_path(job.raw.date)) {
            tracing::warn!(error = %e, "could not record the failure in the checkpoint");
        }
    }
    err
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A conflicting duplicate: one debug line, and the run's summary warning counts it.
fn log_conflict(warnings: &mut WarningTally, raw_file: &str, line: u64, msg_id: &str) {
    tracing::debug!(
        raw_file,
        line,
        msg_id,
        "conflicting duplicate: same msg_id, other fields differ; the first stored copy is kept"
    );
    warnings.conflict(raw_file, line, msg_id);
}

/// Hand the largest buffer to the encoder as one row group; returns the bytes still buffered.
fn flush_largest(
    buffers: &mut BTreeMap<PartitionKey, PendingRows>,
    encoder: &mut Encoder,
    seq: u64,
) -> Result<usize> {
    if let Some((key, pending)) = buffers.iter_mut().max_by_key(|(_, b)| b.bytes()) {
        encoder.write(seq, *key, pending.take())?;
    }
    Ok(buffers.values().map(PendingRows::bytes).sum())
}

/// Count the duplicates of stored rows whose fields differ from the stored copy.
fn compare_with_stored(
    ctx: &mut RunContext,
    raw_file: &str,
    dups: HashMap<PartitionKey, Vec<LakeDuplicate>>,
) -> Result<u64> {
    let mut conflicting = 0;
    for (key, dups) in dups {
        let wanted: Arc<HashSet<String>> =
            Arc::new(dups.iter().map(|d| d.msg_id.clone()).collect());
        let mut stored: HashMap<String, u32> = HashMap::new();
        for path in ctx.layout.partition_files(key)? {
            for_each_row_with_ids(&path, wanted.clone(), |row| {
                stored
                    .entry(row.msg_id.to_string())
                    .or_insert_with(|| row.content_hash());
            })?;
        }
        for d in &dups {
            if stored.get(&d.msg_id).is_some_and(|h| *h != d.hash) {
                conflicting += 1;
                log_conflict(&mut ctx.warnings, raw_file, d.line, &d.msg_id);
            }
        }
    }
    Ok(conflicting)
}
