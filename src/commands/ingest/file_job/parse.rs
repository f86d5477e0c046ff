//! Parsing one raw file: its new lines normalized on every core, routed (new row, copy,
//! conflicting copy) in line order, buffered per partition and queued on the encoder.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use chrono::NaiveDate;

use crate::checkpoint::{Counts, Status};
use crate::commands::ingest::RunContext;
use crate::commands::ingest::chunk_rows::{ChunkRows, OtherRecord, PendingOther};
use crate::commands::ingest::normalizers::{Normalized, Normalizers, chunk_size_for};
use crate::commands::ingest::routing::route;
use crate::commands::ingest::warnings::WarningTally;
use crate::contact::{ContactAction, ContactRow, record_key};
use crate::error::{Error, Result};
use crate::event::EventRow;
use crate::jsonl::JsonlReader;
use crate::lake::reader::for_each_row_with_ids;
use crate::lake::row_group::PendingRows;
use crate::lake::side_table::SideTable;
use crate::lake::writer::Encoder;
use crate::partition::PartitionKey;
use crate::quarantine::{Quarantine, RejectEntry};
use crate::record::col;

use super::*;

/// A duplicate of a stored row whose fields are compared once the file is read.
struct LakeDuplicate {
    msg_id: String,
    hash: u32,
    line: u64,
}

/// The reader of `job`'s new lines, to queue on `threads` normalizers.
pub fn reader(ctx: &RunContext, job: &FileJob, threads: usize) -> Result<JsonlReader> {
    let file = job
        .file
        .try_clone()
        .map_err(|e| Error::io("open", &job.raw.path, e))?;
    Ok(JsonlReader::new(file, job.start, job.next_line, job.closed)
        .map_err(|e| Error::io("read", &job.raw.path, e))?
        .with_max_line(ctx.max_line_bytes)
        .with_chunk_size(chunk_size_for(job.len.saturating_sub(job.start), threads)))
}

/// Take the normalized chunks of `job` (queued on `normalizers` as file `seq`) in line order
/// and queue its rows on `encoder` as part of the encoder's group `group` (the run seals the
/// group once its last file is parsed).
pub fn parse(
    ctx: &mut RunContext,
    job: FileJob,
    normalizers: &mut Normalizers<'_>,
    encoder: &mut Encoder,
    seq: u64,
    group: u64,
) -> Result<ParsedFile> {
    match parse_lines(ctx, &job, normalizers, encoder, seq, group) {
        Ok(out) => Ok(ParsedFile { job, out }),
        Err(err) => Err(record_failure(ctx, job, err)),
    }
}

fn parse_lines(
    ctx: &mut RunContext,
    job: &FileJob,
    normalizers: &mut Normalizers<'_>,
    encoder: &mut Encoder,
    seq: u64,
    group: u64,
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
    let mut state = ApplyState {
        name,
        group,
        counts: Counts::default(),
        buffers: BTreeMap::new(),
        lake_duplicates: HashMap::new(),
        last: None,
        buffered: 0,
        clock: job.clock,
        day_start: day_start(ctx.tz, job.raw.date),
        file_bytes: job.len.saturating_sub(job.start),
        raw_date: job.raw.date,
    };
    // The normalizer threads read and normalize the next chunks (of this file and the next)
    // while this thread deduplicates and buffers the current one, in file order.
    let reader = loop {
        match normalizers.receive() {
            Some((file, message)) => {
                debug_assert_eq!(file, seq, "the normalizers hand files over in queue order");
                match message {
                    Normalized::Chunk(rows) => state.apply(ctx, rows, &mut quarantine, encoder)?,
                    Normalized::End(reader) => break reader,
                    Normalized::Failed(e) => return Err(Error::io("read", &job.raw.path, e)),
                }
            }
            None => {
                return Err(Error::data(
                    "the normalizer threads",
                    "stopped before the end of a queued file",
                ));
            }
        }
    };
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
            encoder.write(group, key, pending.take())?;
        }
    }
    Ok(ParseOutput {
        counts,
        end_offset: reader.offset(),
        next_line: reader.next_line(),
        held_back_bytes,
        last,
        clock,
        quarantine: Some(quarantine),
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
    /// The encoder's group the rows go to.
    group: u64,
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
    /// New bytes of the file this run reads.
    file_bytes: u64,
    /// The date the raw file is named by.
    raw_date: chrono::NaiveDate,
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
        let RunContext {
            layout,
            partitioner,
            lake_ids,
            warnings,
            ..
        } = ctx;
        let n = rows.rows.len();
        let routing = route(
            times,
            ids,
            &rows.rows,
            |t| partitioner.key(t),
            lake_ids,
            layout,
        )?;
        self.counts.written += routing.written();
        self.counts.duplicates += routing.duplicates;
        for &i in &routing.conflicts {
            self.counts.conflicting_duplicates += 1;
            log_conflict(
                warnings,
                name,
                rows.rows[i as usize].line,
                ids.value(i as usize),
            );
        }
        for &(of, i) in &routing.copies_of_stored {
            let meta = rows.rows[i as usize];
            self.lake_duplicates
                .entry(of)
                .or_default()
                .push(LakeDuplicate {
                    msg_id: ids.value(i as usize).to_string(),
                    hash: meta.hash,
                    line: meta.line,
                });
        }
        let selected = routing.new_rows;
        let remaining = self.file_bytes.saturating_sub(self.counts.bytes_read);
        for (key, sel) in &selected {
            if let Some(more) = ids_to_come(
                *key,
                self.raw_date,
                sel.len(),
                rows.counts.bytes_read,
                remaining,
            ) {
                ctx.lake_ids.expect_more(*key, more);
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
                encoder.write(self.group, key, pending.take())?;
            }
        }
        if self.buffered > ctx.buffer_budget {
            self.buffered = flush_largest(&mut self.buffers, encoder, self.group)?;
        }
        Ok(())
    }
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
    group: u64,
) -> Result<usize> {
    if let Some((key, pending)) = buffers.iter_mut().max_by_key(|(_, b)| b.bytes()) {
        encoder.write(group, *key, pending.take())?;
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
                stored.entry(row.msg_id.to_string()).or_insert_with(|| {
                    // A row of an older schema version hashes as today's ingest of its
                    // line would store it (a packed type split, a sender filled): a plain
                    // resend of it is no conflict.
                    let mut record = crate::record::Record::from_view(&row);
                    crate::normalize::upgrade_record(&mut record);
                    record.content_hash()
                });
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

/// How many more new ids partition `key` will get from the rest of a raw file named by
/// `raw_date`, from its `rows` of a chunk of `chunk_bytes` with `remaining` bytes after it: its
/// share of the chunk, projected. `None` for a day such a file does not hold (any but its date
/// and the days next to it, in any zone): a file of many days in time order (a dump, a backfill
/// in one file) gives each day all of a chunk in turn, and projecting that over the rest of
/// the file sized every day's seen-set for the whole file (a two-year file: 16 GB).
fn ids_to_come(
    key: PartitionKey,
    raw_date: chrono::NaiveDate,
    rows: usize,
    chunk_bytes: u64,
    remaining: u64,
) -> Option<usize> {
    if (key.0 - raw_date).num_days().abs() > 1 {
        return None;
    }
    let more = rows as u128 * u128::from(remaining) / u128::from(chunk_bytes.max(1));
    Some(usize::try_from(more).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_a_raw_file_of_many_days_projects_only_its_own_days() {
        let date = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
        // 1,000 rows of a 1 MB chunk, 9 MB still to read: 9,000 more for the file's own days.
        for d in [9, 10, 11] {
            assert_eq!(
                ids_to_come(PartitionKey(date(d)), date(10), 1_000, 1 << 20, 9 << 20),
                Some(9_000)
            );
        }
        // A day two or more away from the file's date is not projected at all.
        for d in [1, 8, 12, 31] {
            assert_eq!(
                ids_to_come(PartitionKey(date(d)), date(10), 1_000, 1 << 20, 9 << 20),
                None
            );
        }
        assert_eq!(
            ids_to_come(PartitionKey(date(10)), date(10), 5, 0, 0),
            Some(0)
        );
    }
}
