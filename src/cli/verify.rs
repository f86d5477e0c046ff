//! `wxlake verify`: its arguments.

use clap::Args;
use wxlake::commands::verify::VerifyOptions;
use wxlake::dates::DateArg;

use super::Global;
use super::values::*;

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
