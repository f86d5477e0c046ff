//! Rewrite some partitions of a lake as an older wxlake (schema version 1 or 2) wrote them, to
//! build the mixed-version lakes that `migrate` and the interoperability checks are tested on.
//!
//!     legacy_lake DATA_DIR VERSION [YYYY-MM-DD ...]
//!
//! With no days, every partition is rewritten.

use std::process::ExitCode;

use wxlake::lake::Layout;
use wxlake::lake::legacy::rewrite_as_version;
use wxlake::partition::PartitionKey;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(data), Some(version)) = (args.first(), args.get(1).and_then(|v| v.parse().ok()))
    else {
        eprintln!("usage: legacy_lake DATA_DIR VERSION(1|2) [YYYY-MM-DD ...]");
        return ExitCode::from(64);
    };
    let layout = Layout::new(data);
    let timezone = wxlake::lake::meta::LakeMeta::load(&layout)
        .ok()
        .flatten()
        .map_or_else(|| "Asia/Shanghai".to_string(), |m| m.timezone);
    let days: Vec<chrono::NaiveDate> = args[2..]
        .iter()
        .map(|d| d.parse().expect("a day is YYYY-MM-DD"))
        .collect();
    let mut files = 0;
    for key in layout.partitions().expect("a lake") {
        if !days.is_empty() && !days.contains(&key.date()) {
            continue;
        }
        for file in layout
            .partition_files(PartitionKey(key.date()))
            .expect("readable")
        {
            if let Err(e) = rewrite_as_version(&file, version, &timezone) {
                eprintln!("legacy_lake: {e}");
                return ExitCode::from(1);
            }
            files += 1;
        }
    }
    println!("rewrote {files} files as schema version {version}");
    ExitCode::SUCCESS
}
