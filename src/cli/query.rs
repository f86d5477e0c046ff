//! `wxlake query`: its arguments, and how the output format follows from them.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use wxlake::commands::query::{Bound, Filter, Format, Order, QueryOptions};

use super::Global;
use super::values::*;

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
