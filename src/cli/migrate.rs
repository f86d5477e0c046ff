//! `wxlake migrate`: its arguments.

use std::time::Duration;

use clap::Args;
use wxlake::commands::migrate::MigrateOptions;
use wxlake::dates::DateArg;

use super::Global;
use super::values::*;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// First partition day to consider: YYYY-MM-DD, today or yesterday [default: the oldest].
    #[arg(long, value_name = "DATE", env = "WXLAKE_MIGRATE_START")]
    pub start: Option<DateArg>,

    /// Last partition day to consider, inclusive [default: the newest].
    #[arg(long, value_name = "DATE", env = "WXLAKE_MIGRATE_END")]
    pub end: Option<DateArg>,

    /// Print the plan and change nothing.
    #[arg(long, env = "WXLAKE_MIGRATE_DRY_RUN", value_parser = parse_flag)]
    pub dry_run: bool,

    /// Print the summary as one JSON object on stdout.
    #[arg(long, env = "WXLAKE_MIGRATE_JSON", value_parser = parse_flag)]
    pub json: bool,

    /// Wait up to this long for another writer to finish, e.g. 30s, 10m, 1h.
    #[arg(long, env = "WXLAKE_MIGRATE_WAIT", value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<Duration>,
}

impl MigrateArgs {
    /// The library options and whether to print JSON.
    pub fn into_options(self, global: &Global) -> (MigrateOptions, bool) {
        let MigrateArgs {
            start,
            end,
            dry_run,
            json,
            wait,
        } = self;
        let opts = MigrateOptions {
            data_dir: global.data_dir.clone(),
            timezone: global.timezone.clone(),
            start,
            end,
            dry_run,
            wait,
            progress: global.progress.clone(),
        };
        (opts, json)
    }
}
