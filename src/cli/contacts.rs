//! `wxlake contacts`: its arguments.

use clap::{Args, ValueEnum};
use wxlake::commands::contacts::ContactsOptions;
use wxlake::commands::query::{Bound, Format};

use super::Global;
use super::values::*;

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
