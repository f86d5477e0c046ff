//! `wxlake status`: its arguments.

use clap::Args;
use wxlake::commands::status::StatusOptions;

use super::Global;
use super::values::*;

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
