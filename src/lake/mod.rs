//! The Parquet side of wxlake: where files live, how they are written and read.

pub mod checksum;
pub mod footer;
pub mod gather;
pub mod layout;
pub mod legacy;
pub mod listing;
pub mod meta;
pub mod msg_index;
pub mod names;
pub mod reader;
pub mod rewrite;
pub mod row_group;
pub mod session;
pub mod side_table;
pub mod swap;
pub mod upgrade;
pub mod writer;

pub use layout::Layout;

/// `20260125T020001Z-1234-5f3a`: time, pid and a few random bits; never reused.
pub fn run_id() -> String {
    let now = chrono::Utc::now();
    let nanos = now.timestamp_subsec_nanos();
    format!(
        "{}-{}-{:05x}",
        now.format("%Y%m%dT%H%M%SZ"),
        std::process::id(),
        nanos & 0xfffff
    )
}
