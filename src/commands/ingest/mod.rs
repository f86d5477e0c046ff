//! `wxlake ingest`: raw JSONL files → the Parquet lake, exactly once.
//!
//! Under the writer lock, every selected raw file is read from its checkpoint on (see
//! [`file_job`] for the per-file protocol). With a date, the file of that date and every earlier
//! file with unprocessed bytes are read, so the nightly run for `today` also finishes yesterday's
//! tail and catches up after a missed night.

pub mod checkpoint_saver;
pub mod chunk_rows;
pub mod file_job;
pub mod lake_ids;
pub mod normalizers;
pub mod routing;
pub mod settled;
pub mod side_rows;
pub mod summary;
pub mod warnings;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use parquet::file::properties::WriterProperties;

use crate::dates::DateArg;
use crate::error::{Error, Result};
use crate::lake::Layout;
use crate::lake::layout::{RawFile, raw_file_name};
use crate::lake::meta::{init_lake, resolve_mask, upgrade};
use crate::lake::msg_index::MsgIndex;
use crate::lake::session::{Purpose, Writer};
use crate::lake::side_table::SideTable;
use crate::lake::writer::{Codec, Encoder, writer_properties};
use crate::mask::Mask;
use crate::partition::{PartitionKey, Partitioner};
use crate::progress::Progress;
use file_job::ParsedFile;
use lake_ids::LakeIds;
pub use summary::{FileSummary, IngestSummary};

/// Bytes of rows buffered across all partitions before the largest is written out as a row
/// group. Bounds ingest's memory independently of the raw file's size.
pub const DEFAULT_BUFFER_BUDGET: usize = 24 << 20;

/// Bytes of rows in one partition's buffer that make a row group. Smaller than the budget so
/// that the encoder thread starts while the raw file is still being read.
pub const ROW_GROUP_BYTES: usize = 8 << 20;

/// How long a raw file must go unmodified before it counts as finished (an unterminated last
/// line in it is then a complete line, not a write in progress).
pub const DEFAULT_SETTLE_TIME: Duration = Duration::from_secs(10 * 60);

/// Which calendar the collector's raw file names follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RawDates {
    /// Dates in the lake's time zone.
    #[default]
    Lake,
    /// UTC dates (webhook forwarders name files by the UTC date at write time).
    Utc,
}

/// What to ingest and how.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The data directory.
    pub data_dir: PathBuf,
    /// `--timezone`: must match the lake's; `None` takes the lake's (or the default for a new lake).
    pub timezone: Option<String>,
    /// `--date`: that day's file and every earlier one with new bytes; `None`: every file.
    pub date: Option<DateArg>,
    /// `--wait`: how long to wait for another writer; `None` fails at once.
    pub wait: Option<Duration>,
    /// Row buffer budget in bytes (default [`DEFAULT_BUFFER_BUDGET`]).
    pub buffer_budget: usize,
    /// Reports raw files done.
    pub progress: Progress,
    /// `--mask`: what to mask in contact records; `None` takes the lake's setting.
    pub mask: Option<Mask>,
    /// `--allow-mask-change`: record another masking setting instead of refusing it.
    pub allow_mask_change: bool,
    /// `--raw-dates`: the calendar of the raw file names (which file is "today's").
    pub raw_dates: RawDates,
    /// `--settle-time`: see [`DEFAULT_SETTLE_TIME`].
    pub settle_time: Duration,
    /// `--max-line-bytes`: see [`crate::jsonl::DEFAULT_MAX_LINE`].
    pub max_line_bytes: usize,
}

impl IngestOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        IngestOptions {
            data_dir: data_dir.into(),
            timezone: None,
            date: None,
            wait: None,
            buffer_budget: DEFAULT_BUFFER_BUDGET,
            progress: Progress::default(),
            mask: None,
            allow_mask_change: false,
            raw_dates: RawDates::Lake,
            settle_time: DEFAULT_SETTLE_TIME,
            max_line_bytes: crate::jsonl::DEFAULT_MAX_LINE,
        }
    }
}

/// State shared by the raw files of one run.
pub struct RunContext {
    pub layout: Layout,
    pub partitioner: Partitioner,
    pub lake_ids: LakeIds,
    pub props: WriterProperties,
    /// Unique per run; part of every file name this run publishes.
    pub run_id: String,
    pub buffer_budget: usize,
    /// See [`ROW_GROUP_BYTES`].
    pub row_group_bytes: usize,
    pub settled: settled::SettledIndex,
    /// Dates whose checkpoint existed when the run started (one directory listing instead of a
    /// `stat` per raw file).
    pub checkpoints_at_start: BTreeSet<chrono::NaiveDate>,
    /// Stats the raw files by name in their directory.
    pub raw_stats: crate::fsutil::DirStats,
    pub partitions_written: BTreeSet<PartitionKey>,
    /// The lake's time zone.
    pub tz: chrono_tz::Tz,
    /// What normalizing masks in contact records.
    pub mask: Mask,
    /// The record keys stored in each side table, loaded when a first record needs them.
    pub side_keys: HashMap<SideTable, HashSet<String>>,
    /// Contact and event rows waiting for the next group commit.
    pub side_rows: side_rows::SideRows,
    /// Makes rejects durable and saves checkpoints once their rows are published.
    pub checkpoints: checkpoint_saver::CheckpointSaver,
    /// See [`IngestOptions::settle_time`].
    pub settle_time: Duration,
    /// See [`IngestOptions::max_line_bytes`].
    pub max_line_bytes: usize,
    /// Rejected lines and conflicting duplicates, summarized at the end of the run.
    pub warnings: warnings::WarningTally,
}

impl RunContext {
    /// The record keys of `table`: those stored, plus those this run added.
    pub fn side_keys(&mut self, table: SideTable) -> Result<&mut HashSet<String>> {
        if !self.side_keys.contains_key(&table) {
            let keys = table.load_keys(&self.layout)?;
            self.side_keys.insert(table, keys);
        }
        Ok(self.side_keys.get_mut(&table).expect("just loaded"))
    }
}

/// Run an ingest.
pub fn run(opts: &IngestOptions) -> Result<IngestSummary> {
    let started = Instant::now();
    // Each raw file's permissions then tighten what is written from it (see file_job::prepare).
    let lake = Writer::open(
        &opts.data_dir,
        opts.timezone.as_deref(),
        "ingest",
        opts.wait,
        Purpose::Ingest,
    )?;
    let Writer {
        layout, tz, meta, ..
    } = &lake;
    let (layout, tz) = (layout.clone(), *tz);
    let mask = match meta.clone() {
        Some(mut meta) => {
            upgrade(&layout, &mut meta)?;
            resolve_mask(&layout, &mut meta, opts.mask, opts.allow_mask_change)?
        }
        None => {
            let mask = opts.mask.unwrap_or_default();
            init_lake(&layout, tz, mask)?;
            tracing::info!(timezone = tz.name(), mask = %mask, lake = %layout.lake_dir().display(), "created a new lake");
            mask
        }
    };
    // "Today" in the calendar the raw files are named by: that file may still be written.
    let today = match opts.raw_dates {
        RawDates::Lake => chrono::Utc::now().with_timezone(&tz).date_naive(),
        RawDates::Utc => chrono::Utc::now().date_naive(),
    };
    let until = opts.date.map(|d| d.resolve(today));

    let mut raw_files = layout.raw_files()?;
    let (restored, unreadable_archives) = restore_archives(&layout, &mut raw_files)?;
    if let Some(until) = until
        && !raw_files.iter().any(|f| f.date == until)
    {
        tracing::info!(file = %layout.raw_file(until).display(), "no raw file for this date yet");
    }
    let run_id = crate::lake::run_id();
    let index = MsgIndex::open(&layout, &run_id)?;
    let mut ctx = RunContext {
        partitioner: Partitioner::new(tz),
        lake_ids: LakeIds::new(index),
        props: writer_properties(Codec::Snappy, Some(tz.name()))?,
        run_id,
        buffer_budget: opts.buffer_budget,
        row_group_bytes: ROW_GROUP_BYTES.min(opts.buffer_budget),
        settled: settled::SettledIndex::load(&layout),
        checkpoints_at_start: layout.checkpoint_dates()?,
        raw_stats: crate::fsutil::DirStats::default(),
        partitions_written: BTreeSet::new(),
        tz,
        mask,
        side_keys: HashMap::new(),
        side_rows: Default::default(),
        checkpoints: Default::default(),
        settle_time: opts.settle_time,
        max_line_bytes: opts.max_line_bytes,
        warnings: Default::default(),
        layout,
    };
    let mut summary = IngestSummary {
        counts: Default::default(),
        partitions: 0,
        elapsed_ms: 0,
        timezone: tz.name().to_string(),
        lake: ctx.layout.lake_dir().display().to_string(),
        files: Default::default(),
    };
    let selected: Vec<&RawFile> = raw_files
        .iter()
        .filter(|f| until.is_none_or(|u| f.date <= u))
        .collect();
    opts.progress.begin("raw files", selected.len() as u64);
    let stored = ctx.lake_ids.stored_filter();
    let normalizer_state = normalizers::NormalizerState::default();
    std::thread::scope(|scope| {
        let mut pool = normalizers::Normalizers::start(
            scope,
            &normalizer_state,
            normalizers::normalizer_threads(),
            ctx.mask,
            &stored,
        );
        let mut encoder = Encoder::spawn(&ctx.layout.staging_dir(), ctx.props.clone());
        pipeline(
            &mut ctx,
            &mut summary,
            &mut pool,
            &mut encoder,
            selected,
            today,
            &opts.progress,
        )
    })?;
    drop(stored);
    group_commit(&mut ctx)?;
    ctx.checkpoints.finish()?;
    opts.progress.end();
    for path in restored {
        let _ = std::fs::remove_file(path);
    }
    if let Err(e) = ctx.settled.save(&ctx.layout) {
        // Only a shortcut: the next run rebuilds it from the checkpoints.
        tracing::warn!(error = %e, "could not update the raw file index");
    }
    for line in ctx.warnings.lines(&ctx.layout.rejects_dir()) {
        tracing::warn!("{line}");
    }
    if let Some(first) = unreadable_archives.into_iter().next() {
        return Err(first);
    }
    debug_assert!(
        summary.counts.balanced(),
        "every line counted once: {:?}",
        summary.counts
    );
    summary.partitions = ctx.partitions_written.len();
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    let c = &summary.counts;
    tracing::info!(
        files = summary.files.len(),
        lines_read = c.lines_read,
        written = c.written,
        duplicates = c.duplicates,
        conflicting_duplicates = c.conflicting_duplicates,
        rejected = c.rejected,
        blank = c.blank,
        contacts = c.contacts,
        events = c.events,
        partitions = summary.partitions,
        elapsed_ms = summary.elapsed_ms,
        "ingest finished"
    );
    Ok(summary)
}

/// Add the archived raw files (`messages/raw/archive/DATE.jsonl.zst`) that are not fully
/// ingested (their checkpoint is gone: moved aside, say, to rebuild a lost lake) and have no `.jsonl`
/// beside them: each is decompressed into staging and read like any raw file. Byte for byte the
/// original, it matches its checkpoint's fingerprint and offsets. Returns the copies to remove.
/// An archive that cannot be decompressed blocks only its own day: it is reported (and the run
/// ends with its error, exit 65) after the other files are ingested.
fn restore_archives(
    layout: &Layout,
    raw_files: &mut Vec<RawFile>,
) -> Result<(Vec<PathBuf>, Vec<Error>)> {
    let dir = layout.raw_archive_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut unreadable = Vec::new();
    // Only files whose checkpoint says complete are archived, and nothing rewrites such a
    // checkpoint, so an archive with a checkpoint is done with: one directory listing instead
    // of a checkpoint read per archived day.
    let checkpoints = layout.checkpoint_dates()?;
    let mut restored = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(date) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".zst"))
            .and_then(crate::lake::layout::parse_raw_file_name)
        else {
            continue;
        };
        if checkpoints.contains(&date) {
            continue;
        }
        // A late write re-created the day's raw file after it was archived: both copies hold
        // messages of the day, so the archive is read too, without a checkpoint of its own.
        let beside_live = raw_files.iter().any(|f| f.date == date);
        let copy = layout.staging_dir().join(format!(
            "restore-{}{}",
            raw_file_name(date),
            if beside_live { ".archived" } else { "" }
        ));
        tracing::info!(archive = %entry.path().display(), "reading an archived raw file that is not fully ingested");
        if let Err(e) = crate::commands::archive::raw::restore(layout, date, &copy) {
            let _ = std::fs::remove_file(&copy);
            let archive = entry.path();
            tracing::error!(archive = %archive.display(), error = %e, "cannot read an archived raw file; its day is skipped");
            unreadable.push(Error::data(
                &archive,
                format!("corrupt archive, not read ({e}); the other raw files were ingested"),
            ));
            continue;
        }
        raw_files.push(RawFile {
            date,
            path: copy.clone(),
            archived: true,
            checkpointed: !beside_live,
        });
        restored.push(copy);
    }
    // An archive before the live file of its date: it holds the day's earlier lines.
    raw_files.sort_by_key(|f| (f.date, f.checkpointed));
    Ok((restored, unreadable))
}

/// Sealed groups whose commit may wait while the next files are parsed. A commit waits for the
/// syncer's fsyncs of its files; committing each group as soon as the next file was parsed held
/// the thread that decides rows there for ~10 ms a group on 60 days of big messages, and the
/// normalizers (their window full) and encoders (their input) with it. A group is committed once
/// its files are synced, or when more than this many are waiting.
const SEALED_AHEAD: usize = 2;

/// Files queued on the normalizers ahead of the one being parsed: the next ones are read while
/// this one is committed. (Two left the normalizers without a file while a group of small files
/// was committed; the normalizers' window bounds the memory either way.)
const LOOKAHEAD: usize = 4;

/// Ingest the `selected` raw files in order: queue each on the normalizers (up to [`LOOKAHEAD`]
/// ahead), parse it into the encoder, and commit the files before it in groups.
fn pipeline(
    ctx: &mut RunContext,
    summary: &mut IngestSummary,
    pool: &mut normalizers::Normalizers<'_>,
    encoder: &mut Encoder,
    selected: Vec<&RawFile>,
    today: chrono::NaiveDate,
    progress: &Progress,
) -> Result<()> {
    let selected_files = selected.len() as u64;
    let mut rows_so_far = 0u64;
    let mut upcoming = (0u64..).zip(selected);
    let mut exhausted = false;
    // A file that could not be prepared fails the run in its turn, as it did before it was
    // prepared ahead.
    let mut queued: std::collections::VecDeque<(u64, Result<file_job::FileJob>)> =
        Default::default();
    // The files parsed into the encoder's open group, and the groups sealed before it, committed
    // in order once the syncer has their files (see `SEALED_AHEAD`).
    let mut open = Group::default();
    let mut sealed: VecDeque<Group> = VecDeque::new();
    loop {
        while !exhausted && queued.len() < LOOKAHEAD {
            let Some((seq, raw)) = upcoming.next() else {
                exhausted = true;
                pool.close();
                break;
            };
            progress.advance(1);
            let job = match file_job::prepare(ctx, raw, today) {
                Ok(None) => continue,
                Ok(Some(job)) => match file_job::reader(ctx, &job, pool.threads()) {
                    Ok(reader) => {
                        pool.enqueue(seq, reader);
                        Ok(job)
                    }
                    Err(e) => Err(file_job::record_failure(ctx, job, e)),
                },
                Err(e) => Err(e),
            };
            queued.push_back((seq, job));
        }
        let Some((seq, job)) = queued.pop_front() else {
            break;
        };
        let job = match job {
            Ok(job) => job,
            Err(e) => {
                // Nothing of this file reached the encoder: the files before it are committed,
                // so that a file that keeps failing does not hold them back, then the run ends.
                while let Some(group) = sealed.pop_front() {
                    commit(ctx, encoder, summary, group)?;
                }
                seal_and_commit(ctx, encoder, summary, open)?;
                return Err(e);
            }
        };
        if open.due() {
            encoder.seal(open.id)?;
            let next = Group::after(&open);
            sealed.push_back(std::mem::replace(&mut open, next));
        }
        let parsed = match file_job::parse(ctx, job, pool, encoder, seq, open.id) {
            Ok(parsed) => parsed,
            Err(e) => {
                // The run ends here. The sealed groups are complete and are committed; the open
                // one holds some of this file's rows, so its files are read again by the next run.
                while let Some(group) = sealed.pop_front() {
                    if let Err(commit_error) = commit(ctx, encoder, summary, group) {
                        // The encoder may be what failed: the first error is the one to report.
                        tracing::debug!(error = %commit_error, "could not commit the files before a failed one");
                        break;
                    }
                }
                return Err(e);
            }
        };
        let mut committed = false;
        while !sealed.is_empty() && (sealed.len() > SEALED_AHEAD || encoder.is_sealed()) {
            let group = sealed.pop_front().expect("not empty");
            commit(ctx, encoder, summary, group)?;
            committed = true;
        }
        // The files to come hold about as many new rows each as those so far (a backfill):
        // the index's table for the ids that leave memory is made ready for them ahead.
        rows_so_far += parsed.rows_written();
        let (done, left) = (seq + 1, selected_files.saturating_sub(seq + 1));
        if left > 0 {
            let more = rows_so_far.saturating_mul(left) / done;
            ctx.lake_ids
                .expect_run(usize::try_from(more).unwrap_or(usize::MAX));
        }
        if committed {
            // Every partition but those of the files not yet published is in the lake: their
            // seen-sets can go.
            let mut unpublished = parsed.partitions().clone();
            for file in sealed.iter().flat_map(|g| &g.files).chain(&open.files) {
                unpublished.extend(file.partitions().iter().copied());
            }
            ctx.lake_ids.retain(&unpublished)?;
        }
        open.push(parsed);
    }
    // Every line is read and deduplicated: the index has all the run's entries. Its upkeep
    // runs while the encoder finishes the last group, instead of alone after it (~45 ms of a
    // million-message day's ~1.2 s).
    let last = (!open.files.is_empty()).then_some(open);
    if let Some(open) = &last {
        encoder.seal(open.id)?;
    }
    index_upkeep(ctx);
    for group in sealed.into_iter().chain(last) {
        commit(ctx, encoder, summary, group)?;
    }
    Ok(())
}

/// The msg_id index's end-of-run upkeep ([`LakeIds::finish`]): once no more ids are added.
///
/// Before the last group is published: a crash in between leaves index entries of rows not in
/// the lake, which the index allows (a hit is confirmed against the partition). Segments the
/// normalizers' filter still maps may be removed: the mappings stay valid until dropped.
fn index_upkeep(ctx: &mut RunContext) {
    let upkeep_started = Instant::now();
    match ctx.lake_ids.finish() {
        Ok(upkeep) => tracing::debug!(
            ?upkeep,
            elapsed_ms = upkeep_started.elapsed().as_millis() as u64,
            "msg_id index upkeep"
        ),
        // Only upkeep: the index is complete without it, and the next run tries again.
        Err(e) => tracing::warn!(error = %e, "could not fold the msg_id index's logs"),
    }
}

/// Parsed files committed together (see [`file_job::commit_group`]); the encoder writes their
/// rows into one file per partition.
#[derive(Default)]
struct Group {
    /// The encoder's sequence number for the group's rows.
    id: u64,
    files: Vec<ParsedFile>,
    rows: u64,
    started: Option<Instant>,
}

impl Group {
    /// At most this many files in a group. Each file's partitions stay in memory until the
    /// group is committed, and every new id is looked up in each of them: on the two-year
    /// backfill, groups of 16 spent what they saved in fsyncs on those lookups (8 measured
    /// best of 4, 8 and 16 on both workloads).
    const FILES: usize = 8;
    /// A group of this many rows is committed (the seen-sets of its partitions stay in memory
    /// until it is).
    const ROWS: u64 = 500_000;
    /// A group older than this is committed: a crash costs at most this much work again.
    const AGE: Duration = Duration::from_secs(1);

    /// The empty group after `group`.
    fn after(group: &Group) -> Group {
        Group {
            id: group.id + 1,
            ..Group::default()
        }
    }

    fn push(&mut self, parsed: ParsedFile) {
        self.started.get_or_insert_with(Instant::now);
        self.rows += parsed.rows_written();
        self.files.push(parsed);
    }

    fn due(&self) -> bool {
        self.files.len() >= Self::FILES
            || self.rows >= Self::ROWS
            || self.started.is_some_and(|t| t.elapsed() >= Self::AGE)
    }
}

/// Seal the open `group` on the encoder and commit it (nothing when it is empty).
fn seal_and_commit(
    ctx: &mut RunContext,
    encoder: &mut Encoder,
    summary: &mut IngestSummary,
    group: Group,
) -> Result<()> {
    if group.files.is_empty() {
        return Ok(());
    }
    encoder.seal(group.id)?;
    commit(ctx, encoder, summary, group)
}

/// Commit the files of `group` once the encoder has sealed it.
fn commit(
    ctx: &mut RunContext,
    encoder: &mut Encoder,
    summary: &mut IngestSummary,
    group: Group,
) -> Result<()> {
    let names: Vec<String> = group
        .files
        .iter()
        .map(|f| f.raw_name().to_string())
        .collect();
    let staged = encoder.sealed(group.id)?;
    for (name, file_summary) in
        names
            .into_iter()
            .zip(file_job::commit_group(ctx, group.files, staged)?)
    {
        summary.counts += file_summary.counts;
        summary.files.insert(name, file_summary);
    }
    if ctx.side_rows.due() {
        group_commit(ctx)?;
    }
    Ok(())
}

/// Publish the side rows read so far, then the checkpoints that waited for them.
fn group_commit(ctx: &mut RunContext) -> Result<()> {
    // The checkpoints below come after the rejects of their files, made durable by the saver.
    ctx.checkpoints.drain()?;
    let RunContext {
        layout,
        run_id,
        side_rows,
        settled,
        ..
    } = ctx;
    side_rows.commit(layout, run_id, |name, stat| settled.settle(name, stat))
}
