//! wxlake turns daily WeChat message logs into a Hive-partitioned Parquet lake.
//!
//! The pipeline: a raw JSONL file is read from its checkpoint ([`jsonl`]), each line is
//! normalized to the typed schema or rejected to quarantine ([`normalize`], [`quarantine`]),
//! assigned a partition by its create_time ([`partition`]), deduplicated by msg_id against the
//! partitions it touches ([`dedup`]) and, for an id new there, the lake-wide msg_id index
//! ([`lake::msg_index`]), written as sorted Snappy Parquet row groups into staging and
//! published into `year=/month=/day=` directories ([`lake`]), and only then is the checkpoint
//! advanced ([`checkpoint`]). Every writer holds one flock ([`lock`]).
//!
//! The pure core (normalize, partition, dedup, json_text, dates) never touches a disk.

pub mod byte_scan;
pub mod checkpoint;
pub mod commands;
pub mod contact;
pub mod dates;
pub mod dedup;
pub mod direct_file;
pub mod directory;
pub mod error;
pub mod event;
pub mod failpoint;
pub mod fsutil;
pub mod json_object;
pub mod json_text;
pub mod jsonl;
pub mod lake;
pub mod lock;
pub mod mask;
pub mod message_kind;
pub mod normalize;
pub mod partition;
pub mod progress;
pub mod quarantine;
pub mod record;
pub mod units;

pub use error::{Error, ExitCode, Result};
