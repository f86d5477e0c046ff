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

mod columns;
mod content_match;
mod day;
pub mod days_in_parallel;
mod dictionary_match;
pub mod filter;
pub mod output;
mod output_target;
mod page_bytes;
mod raw_freshness;
pub mod scan;
pub mod snapshot;
pub mod time_range;
pub mod value;

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_schema::{Field, Schema, SchemaRef};
use serde::Serialize;

use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::lake::Layout;
use crate::lake::session::Reader;
use crate::record::{arrow_schema, col};

use columns::{Projection, output_columns, resolve_names};
use day::{count_partition, read_partition, scan_threads};
use output_target::OutputTarget;
use raw_freshness::note_unprocessed_raw_bytes;

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
    let mut as_sent_overlay = false;
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
        as_sent_overlay = true;
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
            as_sent_overlay,
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
        projection.as_sent_overlay,
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
