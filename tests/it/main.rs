//! Integration tests: the real `wxlake` binary in a temp data directory per test.

mod common;
mod crash;
mod ingest;
mod query;
