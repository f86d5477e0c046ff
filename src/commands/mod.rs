//! The commands, one module each: its options, its `run`, and its report (what it prints for
//! people, and serializes for `--json`). The binary parses the command line into these options
//! and prints the reports; everything a command does to the lake goes through
//! [`crate::lake::session`] (opening it), [`crate::lake::listing`] (what it holds) and
//! [`crate::fsutil::publish`] (making a file visible).

pub mod archive;
pub mod compact;
pub mod contacts;
pub mod ingest;
pub mod migrate;
pub mod query;
pub mod status;
pub mod verify;
