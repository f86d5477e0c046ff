//! `wxlake query`: the messages of a date range that pass some filters, sorted by time, in a
//! format for people (table) or programs (CSV, JSON Lines, JSON, Parquet).
//!
//! How it stays fast: only the partition directories of the range's days are opened (no other
//! directory is listed, so a day costs the same in a week-old and a two-year-old lake); inside a
//! file, statistics and the page index skip row groups and pages, only the needed columns are
//! decoded, and filters run on Arrow arrays ([`scan`]). How it stays small: one partition at a
//! time is read, sorted by (create_time, msg_id) and streamed out, so memory is bounded by one
//! day's matching rows. It takes no lock: each partition is read from a consistent snapshot of
//! its files ([`snapshot`]).

pub mod days_in_parallel;
pub mod filter;
pub mod output;
pub mod scan;
pub mod snapshot;
pub mod time_range;
pub mod value;

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema, SchemaRef};
use serde::Serialize;

use crate::directory::{Directory, Resolved};
use crate::error::{Error, Result};
use crate::lake::Layout;
use crate::lake::session::Reader;
use crate::partition::PartitionKey;
use crate::record::{arrow_schema, col};

pub use filter::Filter;
pub use output::Format;
pub use scan::ScanStats;
pub use time_range::{Bound, TimeRange};

/// Columns computed from the contacts table: the display name (remark, else nickname) as of
/// the message's create_time, or the id itself when no contact record names it.
pub mod name_col {
    /// Of `chatroom_sender` in a group message, else of `from_username`.
    pub const SENDER_NAME: &str = "sender_name";
    /// Of `chatroom` (null in private chats).
    pub const CHATROOM_NAME: &str = "chatroom_name";
}

/// Every computed name column.
pub const NAME_COLUMNS: [&str; 2] = [name_col::SENDER_NAME, name_col::CHATROOM_NAME];

/// The columns a table shows unless `--columns` says otherwise: what a person reads (`text`),
/// never raw XML.
pub const TABLE_COLUMNS: [&str; 5] = [
    col::CREATE_TIME,
    name_col::CHATROOM_NAME,
    name_col::SENDER_NAME,
    col::KIND,
    col::TEXT,
];

/// Result order: by create_time, then msg_id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

/// Everything one query needs.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    pub data_dir: PathBuf,
    /// `--timezone`: must match the lake's if given.
    pub timezone: Option<String>,
    pub start: Bound,
    pub end: Option<Bound>,
    pub filter: Filter,
    pub format: Format,
    /// Write here (atomically: a temp file renamed at the end) instead of stdout.
    pub output: Option<PathBuf>,
    /// Column names; `None` for the format's default.
    pub columns: Option<Vec<String>>,
    pub limit: Option<u64>,
    /// Print only the number of matching rows.
    pub count: bool,
    pub order: Order,
    /// Skip unreadable Parquet files with a warning instead of failing.
    pub skip_corrupt: bool,
    /// Terminal width for tables.
    pub terminal_width: usize,
}

/// What a query did.
#[derive(Debug, Clone, Serialize)]
pub struct QueryReport {
    /// Rows written (or counted).
    pub rows: u64,
    /// The reader stopped reading stdout (`| head`): output ended early, not an error.
    pub pipe_closed: bool,
    pub scan: ScanStats,
    pub elapsed_ms: u64,
}

/// Run a query, writing results to `stdout` (or to `--output`).
pub fn run(opts: &QueryOptions, stdout: &mut (dyn Write + Send)) -> Result<QueryReport> {
    let started = Instant::now();
    let Reader { layout, tz } = Reader::open(&opts.data_dir, opts.timezone.as_deref())?;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let range = TimeRange::resolve(opts.start, opts.end, tz, today)?;
    let mut columns = output_columns(opts)?;
    // JSON gives back what the collector sent, unless derived columns are asked for: then the
    // stored values, as every other format shows them.
    if matches!(opts.format, Format::Jsonl | Format::Json)
        && !columns.iter().any(|c| crate::record::DERIVED.contains(c))
        && columns
            .iter()
            .any(|c| *c == col::MSG_TYPE || *c == col::CHATROOM_SENDER)
        && !columns.contains(&col::AS_SENT)
    {
        // Applied by the JSON sink (not shown), so that values come back as sent.
        columns.push(col::AS_SENT);
    }
    let wants_names = columns.iter().any(|c| NAME_COLUMNS.contains(c));
    let directory = if wants_names
        || !opts.filter.chatrooms.is_empty()
        || !opts.filter.senders.is_empty()
        || !opts.filter.mentions.is_empty()
    {
        Some(Arc::new(Directory::load(&layout)?))
    } else {
        None
    };
    let mut filter = opts.filter.clone();
    if let Some(d) = &directory {
        filter.chatrooms = resolve_names(d, "--chatroom", &filter.chatrooms, true)?;
        filter.senders = resolve_names(d, "--from", &filter.senders, false)?;
        filter.mentions = resolve_names(d, "--mentions", &filter.mentions, false)?;
    }
    if opts.format == Format::Parquet && opts.output.is_none() && !opts.count {
        return Err(Error::usage(
            "--format",
            "parquet",
            "Parquet output needs a file: add --output FILE",
        ));
    }

    // The scan reads the output columns (the sources of the name columns instead of those)
    // plus the sort keys.
    let mut scan_columns: Vec<&'static str> = columns
        .iter()
        .copied()
        .filter(|c| !NAME_COLUMNS.contains(c))
        .collect();
    let mut sources = vec![col::CREATE_TIME, col::MSG_ID];
    if columns.contains(&name_col::SENDER_NAME) {
        sources.extend([col::CHATROOM_SENDER, col::FROM_USERNAME]);
    }
    if columns.contains(&name_col::CHATROOM_NAME) {
        sources.push(col::CHATROOM);
    }
    for key in sources {
        if !scan_columns.contains(&key) {
            scan_columns.push(key);
        }
    }
    let full = arrow_schema();
    let nullable = |name: &str| match full.field_with_name(name) {
        Ok(f) => Field::new(name, f.data_type().clone(), true),
        Err(_) => Field::new(name, arrow_schema::DataType::Utf8, true),
    };
    let scan_schema: SchemaRef = Arc::new(Schema::new(
        scan_columns.iter().map(|c| nullable(c)).collect::<Vec<_>>(),
    ));
    let out_schema: SchemaRef = Arc::new(Schema::new(
        columns.iter().map(|c| nullable(c)).collect::<Vec<_>>(),
    ));
    let plan = scan::ScanPlan {
        range,
        matcher: filter::TextMatcher::new(&filter.contains, filter.ignore_case),
        filter: Arc::new(filter),
        schema: scan_schema,
    };

    note_unprocessed_raw_bytes(&layout, &plan.range);
    let mut target = OutputTarget::open(opts.output.as_deref())?;
    let mut report = QueryReport {
        rows: 0,
        pipe_closed: false,
        scan: ScanStats::default(),
        elapsed_ms: 0,
    };
    let result = {
        let writer: Box<dyn Write + Send + '_> = match &mut target {
            OutputTarget::Stdout => Box::new(&mut *stdout),
            OutputTarget::File { file, .. } => {
                Box::new(io::BufWriter::with_capacity(256 * 1024, file))
            }
            OutputTarget::Direct { file, .. } => {
                Box::new(io::BufWriter::with_capacity(256 * 1024, file))
            }
        };
        let projection = Projection {
            schema: &out_schema,
            names: directory.as_deref(),
        };
        execute(opts, &layout, &plan, &projection, tz, writer, &mut report)
    };
    match result {
        Ok(()) => {}
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe && target.is_stdout() => {
            report.pipe_closed = true;
        }
        Err(Failure::Output(e)) => return Err(Error::io("write", target.name(), e)),
        Err(Failure::Lake(e)) => return Err(e),
    }
    target.commit()?;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    let s = &report.scan;
    tracing::debug!(
        rows = report.rows,
        partitions = s.partitions,
        files = s.files,
        files_skipped_corrupt = s.files_skipped_corrupt,
        row_groups = s.row_groups,
        row_groups_skipped = s.row_groups_skipped,
        rows_skipped_by_page_index = s.rows_skipped_by_page_index,
        rows_matched = s.rows_matched,
        elapsed_ms = report.elapsed_ms,
        "query done"
    );
    Ok(report)
}

/// Say on stderr when raw files of the range's days (and the day either side: files may be
/// named by UTC date, and messages arrive late) hold bytes not yet ingested: the answer may miss
/// them. A `stat` and a small read per day.
fn note_unprocessed_raw_bytes(layout: &Layout, range: &TimeRange) {
    let (Some(first), Some(last)) = (range.days().next(), range.days().next_back()) else {
        return;
    };
    let mut day = first - chrono::Duration::days(1);
    while day <= last + chrono::Duration::days(1) {
        let raw = layout.raw_file(day);
        if let Ok(meta) = std::fs::metadata(&raw) {
            let done = crate::checkpoint::Checkpoint::load(&layout.checkpoint_path(day))
                .ok()
                .flatten()
                .map_or(0, |c| c.offset);
            if meta.len() > done {
                tracing::warn!(
                    "{} has {} not yet ingested: this answer may miss messages (run wxlake ingest)",
                    raw.display(),
                    crate::units::human_bytes(meta.len() - done)
                );
            }
        }
        day += chrono::Duration::days(1);
    }
}

/// Why a query stopped: the lake (an [`Error`]) or the output (an I/O error, maybe a closed pipe).
enum Failure {
    Lake(Error),
    Output(io::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Lake(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

fn execute(
    opts: &QueryOptions,
    layout: &Layout,
    plan: &scan::ScanPlan,
    projection: &Projection<'_>,
    tz: chrono_tz::Tz,
    mut writer: Box<dyn Write + Send + '_>,
    report: &mut QueryReport,
) -> std::result::Result<(), Failure> {
    let days: Vec<_> = match opts.order {
        Order::Asc => plan.range.days().collect(),
        Order::Desc => plan.range.days().rev().collect(),
    };
    let limit = opts.limit.unwrap_or(u64::MAX);
    let threads = scan_threads();
    if opts.count {
        let (stopped, stats) = days_in_parallel::for_each_in_order(
            &days,
            threads,
            |day, stats: &mut ScanStats| count_partition(opts, layout, plan, day, stats),
            |n| -> std::result::Result<bool, Failure> {
                report.rows += n?.min(limit - report.rows);
                Ok(report.rows < limit)
            },
        );
        report.scan = stats.into_iter().sum();
        stopped?;
        writer.write_all(format!("{}\n", report.rows).as_bytes())?;
        writer.flush()?;
        return Ok(());
    }
    let mut sink = output::sink(
        opts.format,
        writer,
        projection.schema,
        tz,
        opts.terminal_width,
    )?;
    // Days are read and sorted on every core while this thread writes them out in order.
    let written = std::sync::atomic::AtomicU64::new(0);
    let (stopped, stats) = days_in_parallel::for_each_in_order(
        &days,
        threads,
        |day, stats: &mut ScanStats| {
            // No day needs more rows than the limit leaves once the days before it are written.
            let left = limit.saturating_sub(written.load(std::sync::atomic::Ordering::Relaxed));
            read_partition(opts, layout, plan, day, left, stats)
        },
        |sorted| -> std::result::Result<bool, Failure> {
            let sorted = sorted?;
            let take = sorted.rows.len().min((limit - report.rows) as usize);
            if take > 0 {
                let batches: Vec<RecordBatch> =
                    sorted.batches.iter().map(|b| projection.apply(b)).collect();
                for chunk in sorted.rows[..take].chunks(8192) {
                    sink.write_rows(&batches, chunk)?;
                }
                report.rows += take as u64;
                written.store(report.rows, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(report.rows < limit)
        },
    );
    report.scan = stats.into_iter().sum();
    stopped?;
    sink.finish()?;
    Ok(())
}

/// Threads that read partitions: one per core.
fn scan_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One day's matching rows: the batches as read, and the (batch, row) positions in output order.
struct SortedDay {
    batches: Vec<RecordBatch>,
    rows: Vec<(u32, u32)>,
}

/// Run `f` on each data file of partition `day`, honouring `--skip-corrupt`.
fn each_file<T>(
    opts: &QueryOptions,
    layout: &Layout,
    day: chrono::NaiveDate,
    stats: &mut ScanStats,
    mut f: impl FnMut(&Path, File, &mut ScanStats) -> Result<T>,
) -> Result<Vec<T>> {
    let files = snapshot::open_partition(&layout.partition_dir(PartitionKey(day)))?;
    if !files.is_empty() {
        stats.partitions += 1;
    }
    let mut out = Vec::with_capacity(files.len());
    for (path, file) in files {
        match f(&path, file, stats) {
            Ok(v) => out.push(v),
            Err(e @ Error::Data { .. }) if opts.skip_corrupt => {
                stats.files_skipped_corrupt += 1;
                tracing::warn!("skipping a corrupt file (--skip-corrupt): {e}");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn count_partition(
    opts: &QueryOptions,
    layout: &Layout,
    plan: &scan::ScanPlan,
    day: chrono::NaiveDate,
    stats: &mut ScanStats,
) -> Result<u64> {
    let counts = each_file(
        opts,
        layout,
        day,
        stats,
        |path, file, stats| match scan::scan_file(path, file, plan, true, stats)? {
            scan::FileRows::Count(n) => Ok(n),
            scan::FileRows::Batches(_) => unreachable!("count_only"),
        },
    )?;
    Ok(counts.iter().sum())
}

/// The matching rows of partition `day`, sorted by (create_time, msg_id), at most `limit`.
fn read_partition(
    opts: &QueryOptions,
    layout: &Layout,
    plan: &scan::ScanPlan,
    day: chrono::NaiveDate,
    limit: u64,
    stats: &mut ScanStats,
) -> Result<SortedDay> {
    let per_file = each_file(
        opts,
        layout,
        day,
        stats,
        |path, file, stats| match scan::scan_file(path, file, plan, false, stats)? {
            scan::FileRows::Batches(b) => Ok(b),
            scan::FileRows::Count(_) => unreachable!("not count_only"),
        },
    )?;
    let batches: Vec<RecordBatch> = per_file.into_iter().flatten().collect();
    let keys: Vec<(&Int64Array, &StringArray)> = batches
        .iter()
        .map(|b| {
            let time = b.column_by_name(col::CREATE_TIME).expect("scanned");
            let id = b.column_by_name(col::MSG_ID).expect("scanned");
            (time.as_primitive::<Int64Type>(), id.as_string::<i32>())
        })
        .collect();
    let mut rows: Vec<(u32, u32)> = keys
        .iter()
        .enumerate()
        .flat_map(|(b, (t, _))| (0..t.len() as u32).map(move |r| (b as u32, r)))
        .collect();
    // Nulls (a file without msg_id) sort last either way, as in SQL engines.
    let key = |&(b, r): &(u32, u32)| {
        let (t, id) = keys[b as usize];
        let r = r as usize;
        (
            t.is_valid(r).then(|| t.value(r)),
            id.is_valid(r).then(|| id.value(r).as_bytes()),
        )
    };
    let cmp = |a: &(u32, u32), b: &(u32, u32)| {
        let ((ta, ia), (tb, ib)) = (key(a), key(b));
        let time = match (ta, tb) {
            (Some(x), Some(y)) => x.cmp(&y),
            (x, y) => y.is_some().cmp(&x.is_some()),
        };
        let time = if opts.order == Order::Desc {
            time.reverse()
        } else {
            time
        };
        time.then_with(|| {
            let id = match (ia, ib) {
                (Some(x), Some(y)) => x.cmp(y),
                (x, y) => return y.is_some().cmp(&x.is_some()),
            };
            if opts.order == Order::Desc {
                id.reverse()
            } else {
                id
            }
        })
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if limit < rows.len() {
        rows.select_nth_unstable_by(limit, cmp);
        rows.truncate(limit);
    }
    rows.sort_unstable_by(cmp);
    drop(keys);
    Ok(SortedDay { batches, rows })
}

/// The output columns, and the directory the name columns come from.
struct Projection<'a> {
    schema: &'a SchemaRef,
    names: Option<&'a Directory>,
}

impl Projection<'_> {
    /// `batch` restricted to the output columns, in order, with the name columns computed.
    fn apply(&self, batch: &RecordBatch) -> RecordBatch {
        project(batch, self.schema, self.names)
    }
}

fn project(batch: &RecordBatch, schema: &SchemaRef, names: Option<&Directory>) -> RecordBatch {
    let columns = schema
        .fields()
        .iter()
        .map(|f| match (f.name().as_str(), names) {
            (name_col::SENDER_NAME, Some(d)) => {
                name_column(batch, d, &[col::CHATROOM_SENDER, col::FROM_USERNAME])
            }
            (name_col::CHATROOM_NAME, Some(d)) => name_column(batch, d, &[col::CHATROOM]),
            (name, _) => Arc::clone(batch.column_by_name(name).expect("scanned")),
        })
        .collect();
    RecordBatch::try_new(Arc::clone(schema), columns).expect("same columns")
}

/// For each row, the display name as of its create_time of the first non-empty id among
/// `sources` (or that id when nobody names it; null without one).
fn name_column(batch: &RecordBatch, d: &Directory, sources: &[&str]) -> arrow_array::ArrayRef {
    let times = batch
        .column_by_name(col::CREATE_TIME)
        .expect("scanned")
        .as_primitive::<Int64Type>();
    let ids: Vec<&StringArray> = sources
        .iter()
        .filter_map(|c| batch.column_by_name(c).map(|a| a.as_string::<i32>()))
        .collect();
    let names: StringArray = (0..batch.num_rows())
        .map(|i| {
            let id = ids
                .iter()
                .filter(|a| a.is_valid(i))
                .map(|a| a.value(i))
                .find(|v| !v.is_empty())?;
            let state = times
                .is_valid(i)
                .then(|| d.as_of(id, times.value(i)))
                .flatten();
            Some(
                state
                    .and_then(|s| s.display_name())
                    .unwrap_or(id)
                    .to_string(),
            )
        })
        .collect();
    Arc::new(names)
}

/// `--chatroom`/`--from` values with names replaced by ids.
fn resolve_names(
    d: &Directory,
    flag: &'static str,
    values: &[String],
    chatrooms: bool,
) -> Result<Vec<String>> {
    values
        .iter()
        .map(|v| match d.resolve(v, chatrooms) {
            Resolved::Id(id) | Resolved::Named(id) => Ok(id),
            Resolved::Unknown(name) => {
                tracing::warn!(
                    "no {} is called {name:?} and no id is {name:?}: nothing matches it; see `wxlake contacts --search {name}`",
                    if chatrooms { "chatroom" } else { "contact" }
                );
                Ok(name)
            }
            Resolved::Ambiguous(candidates) => Err(Error::usage(
                flag,
                v.clone(),
                format!(
                    "several {} are called that: {}; pass one of the ids",
                    if chatrooms { "chatrooms" } else { "contacts" },
                    candidates
                        .iter()
                        .map(|(id, name)| format!("{id} ({name})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        })
        .collect()
}

/// The validated output columns.
fn output_columns(opts: &QueryOptions) -> Result<Vec<&'static str>> {
    let all = arrow_schema();
    let stored: Vec<&'static str> = crate::record::COLUMNS.to_vec();
    if opts.format == Format::Transcript {
        if let Some(requested) = &opts.columns {
            return Err(Error::usage(
                "--columns",
                requested.join(","),
                "a transcript has its own columns (time, chatroom, sender, text); use another --format to choose columns",
            ));
        }
        return Ok(output::transcript::COLUMNS.to_vec());
    }
    let Some(requested) = &opts.columns else {
        return Ok(if opts.format == Format::Table {
            TABLE_COLUMNS.to_vec()
        } else {
            // What the collector sent: derived columns only when asked for.
            crate::record::SENT_COLUMNS.to_vec()
        });
    };
    let known: Vec<&'static str> = stored.iter().chain(&NAME_COLUMNS).copied().collect();
    let mut out: Vec<&'static str> = Vec::new();
    for name in requested {
        let name = name.trim();
        let Some(c) = known.iter().find(|k| **k == name) else {
            return Err(Error::usage(
                "--columns",
                requested.join(","),
                format!(
                    "unknown column '{name}'; the columns are {}",
                    known.join(", ")
                ),
            ));
        };
        if out.contains(c) {
            return Err(Error::usage(
                "--columns",
                requested.join(","),
                format!("column '{name}' is listed twice"),
            ));
        }
        out.push(c);
    }
    if out.is_empty() {
        return Err(Error::usage("--columns", "", "name at least one column"));
    }
    debug_assert!(
        out.iter()
            .all(|c| all.field_with_name(c).is_ok() || NAME_COLUMNS.contains(c))
    );
    Ok(out)
}

/// Stdout; or, for `--output`, a temp file beside the (regular) file it names, renamed over it
/// once everything is written; or, when it names something else (a FIFO, `/dev/stdout`, a
/// terminal), that thing itself, written directly. A symlink is followed: the file it points at
/// is replaced, the link stays.
enum OutputTarget {
    Stdout,
    File {
        file: tempfile::NamedTempFile,
        path: PathBuf,
    },
    Direct {
        file: File,
        path: PathBuf,
    },
}

impl OutputTarget {
    fn open(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path else {
            return Ok(OutputTarget::Stdout);
        };
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() && !meta.is_dir() => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| Error::io("open", path, e))?;
                return Ok(OutputTarget::Direct {
                    file,
                    path: path.to_path_buf(),
                });
            }
            _ => {}
        }
        // Through a symlink to a regular file: replace the file, keep the link.
        let target = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                std::fs::canonicalize(path).map_err(|e| Error::io("resolve", path, e))?
            }
            _ => path.to_path_buf(),
        };
        let file = crate::fsutil::temp_for(&target)?;
        Ok(OutputTarget::File { file, path: target })
    }

    fn is_stdout(&self) -> bool {
        matches!(self, OutputTarget::Stdout)
    }

    fn name(&self) -> PathBuf {
        match self {
            OutputTarget::Stdout => PathBuf::from("standard output"),
            OutputTarget::File { path, .. } | OutputTarget::Direct { path, .. } => path.clone(),
        }
    }

    fn commit(self) -> Result<()> {
        if let OutputTarget::File { file, path } = self {
            // Not fsynced: an export is visible only when complete, but its durability
            // across a power cut is not promised (the lake's own files are fsynced).
            crate::fsutil::publish(
                file.into_temp_path(),
                &path,
                crate::fsutil::Publish::Replace,
                crate::fsutil::Durability::VisibleOnly,
            )?;
        }
        Ok(())
    }
}
