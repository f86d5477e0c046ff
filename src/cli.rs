//! The command line: clap types only. Each subcommand's arguments become a library options
//! struct by destructuring every field, so a new flag does not compile until it is handled.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use wxlake::commands::archive::{ArchiveOptions, Tiers};
use wxlake::commands::compact::CompactOptions;
use wxlake::commands::contacts::ContactsOptions;
use wxlake::dates::DateArg;
use wxlake::commands::ingest::{DEFAULT_BUFFER_BUDGET, IngestOptions, RawDates};
use wxlake::mask::Mask;
use wxlake::commands::migrate::MigrateOptions;
use wxlake::progress::Progress;
use wxlake::commands::query::{Bound, Filter, Format, Order, QueryOptions};
use wxlake::commands::status::StatusOptions;
use wxlake::commands::verify::VerifyOptions;

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

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the report as one JSON object on stdout.
    #[arg(long, env = "WXLAKE_STATUS_JSON", value_parser = parse_flag)]
    pub json: bool,
}

impl StatusArgs {
    pub fn into_options(self, global: &Global) -> (StatusOptions, bool) {
        let StatusArgs { json } = self;
        let opts = StatusOptions {
            data_dir: global.data_dir.clone(),
            timezone: global.timezone.clone(),
        };
        (opts, json)
    }
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// First partition day to check: YYYY-MM-DD, today or yesterday [default: the oldest].
    #[arg(long, value_name = "DATE", env = "WXLAKE_VERIFY_START")]
    pub start: Option<DateArg>,

    /// Last partition day to check, inclusive [default: the newest].
    #[arg(long, value_name = "DATE", env = "WXLAKE_VERIFY_END")]
    pub end: Option<DateArg>,

    /// Print the report as one JSON object on stdout.
    #[arg(long, env = "WXLAKE_VERIFY_JSON", value_parser = parse_flag)]
    pub json: bool,
}

impl VerifyArgs {
    pub fn into_options(self, global: &Global) -> (VerifyOptions, bool) {
        let VerifyArgs { start, end, json } = self;
        let opts = VerifyOptions {
            data_dir: global.data_dir.clone(),
            timezone: global.timezone.clone(),
            start,
            end,
        };
        (opts, json)
    }
}

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

/// A number of days: `7d`, `2w`, or a bare number of days.
pub fn parse_days(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let (digits, factor) = if let Some(d) = t.strip_suffix('d') {
        (d, 1)
    } else if let Some(w) = t.strip_suffix('w') {
        (w, 7)
    } else {
        (t, 1)
    };
    digits
        .parse::<u32>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("'{s}' is not a number of days; use e.g. 7d, 90d or 2w"))
}

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

/// `128MiB`, `1GiB`, `500MB`, `64KiB`, or a number of bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a size; use e.g. 128MiB, 1GiB or 500MB"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{s}'; use B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    match n.checked_mul(factor) {
        Some(0) => Err("the size must be more than 0".to_string()),
        Some(v) => Ok(v),
        None => Err(format!("'{s}' is too large")),
    }
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// First day or instant: YYYY-MM-DD, today, yesterday, a local YYYY-MM-DDTHH:MM[:SS] (in
    /// the lake's time zone), or one with its offset (2026-01-20T09:30:00+08:00).
    #[arg(long, value_name = "WHEN", env = "WXLAKE_QUERY_START")]
    pub start: Bound,

    /// Last day or instant, inclusive (a day includes all of it, HH:MM the whole minute)
    /// [default: the end of --start's day].
    #[arg(long, value_name = "WHEN", env = "WXLAKE_QUERY_END")]
    pub end: Option<Bound>,

    /// Only this chatroom (repeat for any of several).
    #[arg(long, value_name = "ID", env = "WXLAKE_QUERY_CHATROOM")]
    pub chatroom: Vec<String>,

    /// Only messages from this user: from_username or chatroom_sender (repeatable).
    #[arg(long = "from", value_name = "USER", env = "WXLAKE_QUERY_FROM")]
    pub from: Vec<String>,

    /// Only this msg_type, e.g. 1 text, 3 image, 34 voice, 49 app (repeatable).
    #[arg(long = "type", value_name = "N", env = "WXLAKE_QUERY_TYPE")]
    pub msg_type: Vec<i32>,

    /// Only this msg_id (repeatable).
    #[arg(long = "msg-id", value_name = "ID", env = "WXLAKE_QUERY_MSG_ID")]
    pub msg_id: Vec<String>,

    /// Only messages of this kind (repeatable): text, image, voice, video, sticker, location,
    /// card, link, file, quote, forward, mini_program, transfer, red_packet, channels, call,
    /// system, recall, other.
    #[arg(long, value_name = "KIND", env = "WXLAKE_QUERY_KIND", value_parser = parse_kind)]
    pub kind: Vec<String>,

    /// Only messages that @mention this user: an id or a contact's name (repeatable).
    #[arg(long, value_name = "USER", env = "WXLAKE_QUERY_MENTIONS")]
    pub mentions: Vec<String>,

    /// Only messages whose content contains TEXT (repeatable: any of them).
    #[arg(long, value_name = "TEXT", env = "WXLAKE_QUERY_CONTAINS")]
    pub contains: Vec<String>,

    /// Make --contains ignore case.
    #[arg(long, requires = "contains", env = "WXLAKE_QUERY_IGNORE_CASE", value_parser = parse_flag)]
    pub ignore_case: bool,

    /// Output format [default: table on a terminal, else jsonl; with --output, from the file
    /// extension (.csv, .jsonl, .json, .parquet)].
    #[arg(long, value_enum, env = "WXLAKE_QUERY_FORMAT")]
    pub format: Option<FormatArg>,

    /// Write to FILE instead of stdout (created atomically; required for parquet).
    #[arg(long, short = 'o', value_name = "FILE", env = "WXLAKE_QUERY_OUTPUT")]
    pub output: Option<PathBuf>,

    /// Comma-separated columns to print, e.g. create_time,chatroom,content.
    #[arg(
        long,
        value_name = "A,B,..",
        value_delimiter = ',',
        env = "WXLAKE_QUERY_COLUMNS"
    )]
    pub columns: Option<Vec<String>>,

    /// Print at most N messages.
    #[arg(long, value_name = "N", env = "WXLAKE_QUERY_LIMIT")]
    pub limit: Option<u64>,

    /// Print only the number of matching messages (--format and --columns do not apply).
    #[arg(long, env = "WXLAKE_QUERY_COUNT", value_parser = parse_flag)]
    pub count: bool,

    /// Order by create_time, then msg_id.
    #[arg(long, value_enum, default_value_t = OrderArg::Asc, env = "WXLAKE_QUERY_ORDER")]
    pub order: OrderArg,

    /// Skip unreadable Parquet files with a warning instead of failing.
    #[arg(long, env = "WXLAKE_QUERY_SKIP_CORRUPT", value_parser = parse_flag)]
    pub skip_corrupt: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Table,
    Csv,
    Jsonl,
    Json,
    Parquet,
    /// One line per message: `2026-02-03 09:30 [chatroom] sender: text`.
    Transcript,
}

/// A `--kind` value: one of the kinds the `kind` column holds.
fn parse_kind(s: &str) -> Result<String, String> {
    match wxlake::message_kind::MessageKind::from_name(s) {
        Some(k) => Ok(k.as_str().to_string()),
        None => Err(format!(
            "not a message kind; the kinds are {}",
            wxlake::message_kind::MessageKind::ALL
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrderArg {
    Asc,
    Desc,
}

impl QueryArgs {
    /// The library options; `stdout_is_terminal` and `terminal_width` pick the table defaults.
    /// An `--output` whose extension names no format is a usage error.
    pub fn into_options(
        self,
        global: &Global,
        stdout_is_terminal: bool,
        terminal_width: usize,
    ) -> Result<QueryOptions, wxlake::Error> {
        let QueryArgs {
            start,
            end,
            chatroom,
            from,
            msg_type,
            msg_id,
            kind,
            mentions,
            contains,
            ignore_case,
            format,
            output,
            columns,
            limit,
            count,
            order,
            skip_corrupt,
        } = self;
        let format = match (format, &output) {
            (Some(f), _) => match f {
                FormatArg::Table => Format::Table,
                FormatArg::Csv => Format::Csv,
                FormatArg::Jsonl => Format::Jsonl,
                FormatArg::Json => Format::Json,
                FormatArg::Parquet => Format::Parquet,
                FormatArg::Transcript => Format::Transcript,
            },
            (None, Some(path)) => match path
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .as_deref()
            {
                Some("csv") => Format::Csv,
                Some("json") => Format::Json,
                Some("parquet") => Format::Parquet,
                Some("jsonl" | "ndjson") | None => Format::Jsonl,
                Some(other) => {
                    return Err(wxlake::Error::usage(
                        "--output",
                        path.display().to_string(),
                        format!(
                            "the format cannot be told from the extension .{other}: name the file .csv, .jsonl, .json or .parquet, or pass --format"
                        ),
                    ));
                }
            },
            (None, None) if stdout_is_terminal => Format::Table,
            (None, None) => Format::Jsonl,
        };
        Ok(QueryOptions {
            data_dir: global.data_dir.clone(),
            timezone: global.timezone.clone(),
            start,
            end,
            filter: Filter {
                chatrooms: chatroom,
                senders: from,
                types: msg_type,
                msg_ids: msg_id,
                kinds: kind,
                mentions,
                contains,
                ignore_case,
            },
            format,
            output,
            columns,
            limit,
            count,
            order: match order {
                OrderArg::Asc => Order::Asc,
                OrderArg::Desc => Order::Desc,
            },
            skip_corrupt,
            terminal_width,
        })
    }
}

#[derive(Debug, Args)]
pub struct ContactsArgs {
    /// Only accounts whose id, nickname, remark or alias contains TEXT (any case).
    #[arg(long, value_name = "TEXT", env = "WXLAKE_CONTACTS_SEARCH")]
    pub search: Option<String>,

    /// Every version of each account (renames, deletes), not only the latest.
    #[arg(long, env = "WXLAKE_CONTACTS_HISTORY", value_parser = parse_flag)]
    pub history: bool,

    /// As things stood at WHEN: YYYY-MM-DD (its end), today, yesterday or a local
    /// YYYY-MM-DDTHH:MM[:SS].
    #[arg(long, value_name = "WHEN", env = "WXLAKE_CONTACTS_AS_OF")]
    pub as_of: Option<Bound>,

    /// Output format [default: table on a terminal, else jsonl].
    #[arg(long, value_enum, env = "WXLAKE_CONTACTS_FORMAT")]
    pub format: Option<ContactsFormatArg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ContactsFormatArg {
    Table,
    Csv,
    Jsonl,
    Json,
}

impl ContactsArgs {
    pub fn into_options(
        self,
        global: &Global,
        stdout_is_terminal: bool,
        terminal_width: usize,
    ) -> ContactsOptions {
        let ContactsArgs {
            search,
            history,
            as_of,
            format,
        } = self;
        let format = match format {
            Some(ContactsFormatArg::Table) => Format::Table,
            Some(ContactsFormatArg::Csv) => Format::Csv,
            Some(ContactsFormatArg::Jsonl) => Format::Jsonl,
            Some(ContactsFormatArg::Json) => Format::Json,
            None if stdout_is_terminal => Format::Table,
            None => Format::Jsonl,
        };
        ContactsOptions {
            data_dir: global.data_dir.clone(),
            timezone: global.timezone.clone(),
            search,
            history,
            as_of,
            format,
            terminal_width,
        }
    }
}

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

/// The global options every command shares.
#[derive(Debug, Clone)]
pub struct Global {
    pub data_dir: PathBuf,
    pub timezone: Option<String>,
    /// Where long commands report progress (a bar on a terminal, else nowhere).
    pub progress: Progress,
}

/// A flag's value from its environment variable: `1`/`0`, `yes`/`no`, `true`/`false`,
/// `on`/`off`; empty is false (`WXLAKE_INGEST_JSON=` turns the flag off, as in a shell).
pub fn parse_flag(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "no" | "n" | "false" | "f" | "off" => Ok(false),
        "1" | "yes" | "y" | "true" | "t" | "on" => Ok(true),
        _ => Err(format!(
            "expected 1/0, yes/no, true/false or on/off, not {s:?}"
        )),
    }
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
    fn days() {
        assert_eq!(parse_days("7d"), Ok(7));
        assert_eq!(parse_days("2w"), Ok(14));
        assert_eq!(parse_days("90"), Ok(90));
        assert!(parse_days("7h").is_err());
        assert!(parse_days("-1d").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("128MiB"), Ok(128 << 20));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("99999999999GiB").is_err());
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
