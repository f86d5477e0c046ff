//! The command line: clap types only. Each subcommand's arguments become a library options
//! struct by destructuring every field, so a new flag does not compile until it is handled.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use wxlake::dates::DateArg;
use wxlake::ingest::{DEFAULT_BUFFER_BUDGET, IngestOptions};

/// Turn daily WeChat message logs (JSONL) into a Hive-partitioned Parquet lake.
#[derive(Debug, Parser)]
#[command(name = "wxlake", version, about, propagate_version = true)]
pub struct Cli {
    /// Data directory holding messages/raw, parquet/ and metadata/.
    #[arg(
        long,
        global = true,
        env = "WXLAKE_DATA_DIR",
        default_value = "./data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,

    /// IANA time zone that partitions days, e.g. Asia/Shanghai. Recorded by the first ingest;
    /// later runs must match it [default: the lake's, or Asia/Shanghai for a new lake].
    #[arg(long, global = true, env = "WXLAKE_TIMEZONE", value_name = "TZ")]
    pub timezone: Option<String>,

    /// More log output (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Less log output (-q warnings only, -qq errors only).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,

    /// Log format on stderr.
    #[arg(long, global = true, env = "WXLAKE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read new raw lines into the lake (exactly once; safe to rerun at any time).
    Ingest(IngestArgs),
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Ingest this day's raw file and every earlier one with unprocessed bytes:
    /// YYYY-MM-DD, today or yesterday (in the lake's time zone). Default: every raw file.
    #[arg(long, value_name = "DATE")]
    pub date: Option<DateArg>,

    /// Print the run summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,

    /// Wait up to this long for another writer to finish, e.g. 30s, 10m, 1h.
    #[arg(long, env = "WXLAKE_WAIT", value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<Duration>,
}

impl IngestArgs {
    /// The library options for this run.
    pub fn into_options(self, global: &Global) -> (IngestOptions, bool) {
        let IngestArgs { date, json, wait } = self;
        let opts = IngestOptions {
            data_dir: global.data_dir.clone(),
            timezone: global.timezone.clone(),
            date,
            wait,
            buffer_budget: DEFAULT_BUFFER_BUDGET,
        };
        (opts, json)
    }
}

/// The global options every command shares.
#[derive(Debug, Clone)]
pub struct Global {
    pub data_dir: PathBuf,
    pub timezone: Option<String>,
}

/// `500ms`, `30s`, `10m`, `2h`, `1d`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a duration; use e.g. 30s, 10m or 1h"))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "unknown unit '{unit}' in '{s}'; use ms, s, m, h or d"
            ));
        }
    };
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("m").is_err());
    }
}
