//! Integration tests: the real `wxlake` binary in a temp data directory per test.

mod archive;
mod cli;
mod common;
mod compact;
mod contacts;
mod crash;
mod deploy;
mod envelope;
mod ingest;
mod kinds;
mod query;
mod regression;
mod status;
mod verify;
