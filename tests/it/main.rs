//! Integration tests: the real `wxlake` binary in a temp data directory per test.

mod common;
mod compact;
mod crash;
mod ingest;
mod query;
