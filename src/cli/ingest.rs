//! `wxlake ingest`: its arguments.

use std::time::Duration;

use clap::{Args, ValueEnum};
use wxlake::commands::ingest::{DEFAULT_BUFFER_BUDGET, IngestOptions, RawDates};
use wxlake::dates::DateArg;
use wxlake::mask::Mask;

use super::Global;
use super::values::*;

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Ingest this day's raw file and every earlier one with unprocessed bytes:
    /// YYYY-MM-DD, today or yesterday (in the lake's time zone). Default: every raw file.
    #[arg(long, value_name = "DATE", env = "WXLAKE_INGEST_DATE")]
    pub date: Option<DateArg>,

    /// Print the run summary as one JSON object on stdout.
    #[arg(long, env = "WXLAKE_INGEST_JSON", value_parser = parse_flag)]
    pub json: bool,

    /// Wait up to this long for another writer to finish, e.g. 30s, 10m, 1h.
    #[arg(long, env = "WXLAKE_INGEST_WAIT", value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<Duration>,

    /// Mask personal data of contact records before anything is written: a comma-separated
    /// list of mobile (keeps the first 3 and last 4 digits) and custom_info (replaced by a
    /// marker), or none. Recorded in the lake; default: the lake's setting (none for a new lake).
    #[arg(long, env = "WXLAKE_MASK", value_name = "FIELDS", value_parser = parse_mask)]
    pub mask: Option<Mask>,

    /// Record a --mask that differs from the lake's instead of refusing it (contact rows
    /// already stored keep the old setting).
    #[arg(long, env = "WXLAKE_INGEST_ALLOW_MASK_CHANGE", value_parser = parse_flag)]
    pub allow_mask_change: bool,

    /// The calendar of the raw file names: lake (dates in the lake's time zone) or utc (webhook
    /// forwarders name files by the UTC date). Decides which file is today's.
    #[arg(long, value_enum, default_value_t = RawDatesArg::Lake, env = "WXLAKE_INGEST_RAW_DATES")]
    pub raw_dates: RawDatesArg,

    /// A raw file unmodified for this long is finished: only then is an unterminated last line
    /// in an earlier day's file taken as complete (until then it is a write in progress).
    #[arg(long, value_name = "DURATION", default_value = "10m", env = "WXLAKE_INGEST_SETTLE_TIME", value_parser = parse_duration)]
    pub settle_time: Duration,

    /// The longest line read into memory; a longer one is quarantined by reference (where it
    /// is, how long, its first bytes) and memory stays bounded.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", env = "WXLAKE_INGEST_MAX_LINE_BYTES", value_parser = parse_size)]
    pub max_line_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RawDatesArg {
    Lake,
    Utc,
}

fn parse_mask(s: &str) -> Result<Mask, String> {
    s.parse()
}

impl IngestArgs {
    /// The library options for this run.
    pub fn into_options(self, global: &Global) -> (IngestOptions, bool) {
        let IngestArgs {
            date,
            json,
            wait,
            mask,
            allow_mask_change,
            raw_dates,
            settle_time,
            max_line_bytes,
        } = self;
        let opts = IngestOptions {
            data_dir: global.data_dir.clone(),
            timezone: global.timezone.clone(),
            date,
            wait,
            buffer_budget: DEFAULT_BUFFER_BUDGET,
            progress: global.progress.clone(),
            mask,
            allow_mask_change,
            raw_dates: match raw_dates {
                RawDatesArg::Lake => RawDates::Lake,
                RawDatesArg::Utc => RawDates::Utc,
            },
            settle_time,
            max_line_bytes: usize::try_from(max_line_bytes).unwrap_or(usize::MAX),
        };
        (opts, json)
    }
}
