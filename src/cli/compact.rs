//! `wxlake compact`: its arguments.

use std::time::Duration;

use clap::Args;
use wxlake::commands::compact::CompactOptions;
use wxlake::dates::DateArg;

use super::Global;
use super::values::*;

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// First partition day to consider: YYYY-MM-DD, today or yesterday [default: the oldest].
    #[arg(long, value_name = "DATE", env = "WXLAKE_COMPACT_START")]
    pub start: Option<DateArg>,

    /// Last partition day to consider, inclusive [default: the newest].
    #[arg(long, value_name = "DATE", env = "WXLAKE_COMPACT_END")]
    pub end: Option<DateArg>,

    /// Aim for files of this size, e.g. 64MiB, 1GiB, 500MB.
    #[arg(long, env = "WXLAKE_COMPACT_TARGET_FILE_SIZE", value_name = "SIZE", default_value = "128MiB", value_parser = parse_size)]
    pub target_file_size: u64,

    /// Print the plan and change nothing.
    #[arg(long, env = "WXLAKE_COMPACT_DRY_RUN", value_parser = parse_flag)]
    pub dry_run: bool,

    /// Print the summary as one JSON object on stdout.
    #[arg(long, env = "WXLAKE_COMPACT_JSON", value_parser = parse_flag)]
    pub json: bool,

    /// Wait up to this long for another writer to finish, e.g. 30s, 10m, 1h.
    #[arg(long, env = "WXLAKE_COMPACT_WAIT", value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<Duration>,
}

impl CompactArgs {
    /// The library options and whether to print JSON.
    pub fn into_options(self, global: &Global) -> (CompactOptions, bool) {
        let CompactArgs {
            start,
            end,
            target_file_size,
            dry_run,
            json,
            wait,
        } = self;
        let opts = CompactOptions {
            data_dir: global.data_dir.clone(),
            timezone: global.timezone.clone(),
            start,
            end,
            target_file_size,
            dry_run,
            wait,
            progress: global.progress.clone(),
        };
        (opts, json)
    }
}
