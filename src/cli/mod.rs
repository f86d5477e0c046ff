//! The command line: clap types only, one file per command's arguments. Each command's arguments
//! become its library options struct by destructuring every field, so a new flag does not compile
//! until it is handled.

mod archive;
mod compact;
mod contacts;
mod ingest;
mod migrate;
mod query;
mod status;
mod values;
mod verify;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use wxlake::progress::Progress;

pub use archive::ArchiveArgs;
pub use compact::CompactArgs;
pub use contacts::ContactsArgs;
pub use ingest::IngestArgs;
pub use migrate::MigrateArgs;
pub use query::QueryArgs;
pub use status::StatusArgs;
pub use verify::VerifyArgs;

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
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet", env = "WXLAKE_VERBOSE")]
    pub verbose: u8,

    /// Less log output (-q: only errors and the summary; -qq: no log lines at all).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, env = "WXLAKE_QUIET")]
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

// Parsed once per process: the size of its largest variant (query's options) does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read new raw lines into the lake (exactly once; safe to rerun at any time).
    Ingest(IngestArgs),
    /// Print the messages of a date range, filtered, sorted by time.
    ///
    /// Examples:
    ///   wxlake query --start yesterday --chatroom 123@chatroom
    ///   wxlake query --start 2026-01-01 --end 2026-01-31 --chatroom 123@chatroom --output jan.csv
    ///   wxlake query --start 2026-01-20T09:00 --end 2026-01-20T18:00 --from wxid_abc --count
    #[command(verbatim_doc_comment)]
    Query(QueryArgs),
    /// Merge each partition's small files into as few as the target size allows.
    ///
    /// Rows are deduplicated by msg_id and sorted by (chatroom, create_time); each partition's
    /// files are swapped atomically, so readers never see a half-done partition.
    /// Examples:
    ///   wxlake compact --dry-run
    ///   wxlake compact --start 2026-01-01 --end 2026-01-31 --target-file-size 256MiB
    #[command(verbatim_doc_comment)]
    Compact(CompactArgs),
    /// Recompress partitions by age (hot Snappy, warm and cold zstd) and archive old raw files.
    ///
    /// A raw file is archived (to messages/raw/archive/DATE.jsonl.zst, verified, then the
    /// original removed) only when its checkpoint says it is fully ingested.
    /// Examples:
    ///   wxlake archive --dry-run
    ///   wxlake archive --warm-after 14d --cold-after 180d --cold-level 19 --raw-retention 30d
    #[command(verbatim_doc_comment)]
    Archive(ArchiveArgs),
    /// Rewrite partitions of older schema versions to the current one, deriving the new columns.
    ///
    /// Plans first (--dry-run prints the plan), then rewrites each partition as compact does:
    /// every msg_id checked before an atomic swap; safe to interrupt and rerun.
    /// Examples:
    ///   wxlake migrate --dry-run
    ///   wxlake migrate --start 2026-01-01 --end 2026-01-31
    #[command(verbatim_doc_comment)]
    Migrate(MigrateArgs),
    /// List contacts, chatrooms and official accounts with their names (from contact records).
    ///
    /// Examples:
    ///   wxlake contacts --search 王
    ///   wxlake contacts --history --format csv
    ///   wxlake contacts --as-of 2026-01-20
    #[command(verbatim_doc_comment)]
    Contacts(ContactsArgs),
    /// Show what the lake holds and how it is doing (reads footers and metadata only).
    Status(StatusArgs),
    /// Check the lake's integrity, read-only: exit 0 when whole, 65 with each problem listed.
    ///
    /// Checks that every file opens with a valid footer and row count, that no temp, staging
    /// or journal leftovers remain, that every row sits in the partition of its create_time,
    /// that no msg_id is stored twice, and that every checkpoint matches its raw file.
    /// Example:
    ///   wxlake verify --start 2026-01-01 --end 2026-01-31
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),
    /// Print a shell completion script.
    ///
    /// Examples:
    ///   wxlake completions bash > /etc/bash_completion.d/wxlake
    ///   wxlake completions zsh > "${fpath[1]}/_wxlake"
    ///   wxlake completions fish > ~/.config/fish/completions/wxlake.fish
    #[command(verbatim_doc_comment)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the manual page (roff), or write one page per command into a directory.
    ///
    /// Examples:
    ///   wxlake man | gzip > /usr/local/share/man/man1/wxlake.1.gz
    ///   wxlake man --out-dir /usr/local/share/man/man1     # wxlake.1, wxlake-ingest.1, ...
    #[command(verbatim_doc_comment)]
    Man {
        /// Write wxlake.1 and wxlake-COMMAND.1 here instead of printing one page.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

/// The shells `completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The global options every command shares.
#[derive(Debug, Clone)]
pub struct Global {
    pub data_dir: PathBuf,
    pub timezone: Option<String>,
    /// Where long commands report progress (a bar on a terminal, else nowhere).
    pub progress: Progress,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
