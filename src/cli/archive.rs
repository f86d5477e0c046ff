//! `wxlake archive`: its arguments.

use std::time::Duration;

use clap::Args;
use wxlake::commands::archive::{ArchiveOptions, Tiers};

use super::Global;
use super::values::*;

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// Partitions at least this old (in days: 7d, 2w) are warm: zstd at --warm-level.
    #[arg(long, env = "WXLAKE_ARCHIVE_WARM_AFTER", value_name = "DAYS", default_value = "7d", value_parser = parse_days)]
    pub warm_after: u32,

    /// zstd level of warm partitions (1-22).
    #[arg(
        long,
        env = "WXLAKE_ARCHIVE_WARM_LEVEL",
        value_name = "N",
        default_value_t = 3
    )]
    pub warm_level: i32,

    /// Partitions at least this old are cold: zstd at --cold-level.
    #[arg(long, env = "WXLAKE_ARCHIVE_COLD_AFTER", value_name = "DAYS", default_value = "90d", value_parser = parse_days)]
    pub cold_after: u32,

    /// zstd level of cold partitions (1-22).
    #[arg(
        long,
        env = "WXLAKE_ARCHIVE_COLD_LEVEL",
        value_name = "N",
        default_value_t = 19
    )]
    pub cold_level: i32,

    /// Archive raw JSONL files at least this old once fully ingested (at least 1d).
    #[arg(long, env = "WXLAKE_ARCHIVE_RAW_RETENTION", value_name = "DAYS", default_value = "7d", value_parser = parse_days)]
    pub raw_retention: u32,

    /// Print the plan and change nothing.
    #[arg(long, env = "WXLAKE_ARCHIVE_DRY_RUN", value_parser = parse_flag)]
    pub dry_run: bool,

    /// Print the summary as one JSON object on stdout.
    #[arg(long, env = "WXLAKE_ARCHIVE_JSON", value_parser = parse_flag)]
    pub json: bool,

    /// Wait up to this long for another writer to finish, e.g. 30s, 10m, 1h.
    #[arg(long, env = "WXLAKE_ARCHIVE_WAIT", value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<Duration>,
}

impl ArchiveArgs {
    /// The library options and whether to print JSON.
    pub fn into_options(self, global: &Global) -> (ArchiveOptions, bool) {
        let ArchiveArgs {
            warm_after,
            warm_level,
            cold_after,
            cold_level,
            raw_retention,
            dry_run,
            json,
            wait,
        } = self;
        let opts = ArchiveOptions {
            data_dir: global.data_dir.clone(),
            timezone: global.timezone.clone(),
            tiers: Tiers {
                warm_after_days: warm_after,
                warm_level,
                cold_after_days: cold_after,
                cold_level,
            },
            raw_retention_days: raw_retention,
            dry_run,
            wait,
            progress: global.progress.clone(),
        };
        (opts, json)
    }
}
