//! Writing query results: one [`Sink`] per output format, fed sorted record batches.
//!
//! Every sink streams: it holds at most one batch and a small write buffer, so memory does not
//! grow with the number of rows written. Text formats write through a 64 KiB buffer; a closed
//! pipe surfaces as an `io::ErrorKind::BrokenPipe` error that the caller treats as "stop".

mod csv;
mod json;
mod local_time;
mod parquet;
mod table;
pub mod transcript;

use std::io::{self, Write};
use std::str::FromStr;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use chrono_tz::Tz;

pub use local_time::LocalTimeFormat;

/// The output formats of `wxlake query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a person at a terminal.
    Table,
    /// RFC 4180 CSV with a header line.
    Csv,
    /// One JSON object per line, extra fields merged back in.
    Jsonl,
    /// One JSON array of those objects.
    Json,
    /// A Parquet file (needs an output file).
    Parquet,
    /// One line per message: `2026-02-03 09:30 [chatroom] sender: text`.
    Transcript,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "table" => Format::Table,
            "csv" => Format::Csv,
            "jsonl" => Format::Jsonl,
            "json" => Format::Json,
            "parquet" => Format::Parquet,
            "transcript" => Format::Transcript,
            _ => {
                return Err("expected table, csv, jsonl, json, parquet or transcript".to_string());
            }
        })
    }
}

/// Where results go.
pub trait Sink {
    /// Write rows `rows` (as (batch, row) positions, in output order) of `batches`, whose
    /// columns are the query's, in its order.
    fn write_rows(&mut self, batches: &[RecordBatch], rows: &[(u32, u32)]) -> io::Result<()>;
    /// Write whatever closes the output (a JSON array's `]`, a Parquet footer) and flush.
    fn finish(&mut self) -> io::Result<()>;
}

/// A sink for `format` writing rows of `schema` to `out`. `width` is the terminal width for
/// tables.
pub fn sink<'w>(
    format: Format,
    out: Box<dyn Write + Send + 'w>,
    schema: &SchemaRef,
    tz: Tz,
    width: usize,
    as_sent_overlay: bool,
) -> io::Result<Box<dyn Sink + 'w>> {
    let time = LocalTimeFormat::new(tz);
    Ok(match format {
        Format::Table => Box::new(table::TableSink::new(out, time, width, schema)),
        Format::Csv => Box::new(csv::CsvSink::new(out, time, schema)),
        Format::Jsonl => Box::new(json::JsonSink::new(out, false, as_sent_overlay)),
        Format::Json => Box::new(json::JsonSink::new(out, true, as_sent_overlay)),
        Format::Parquet => Box::new(parquet::ParquetSink::new(out, schema)?),
        Format::Transcript => Box::new(transcript::TranscriptSink::new(out, time)),
    })
}

/// A byte buffer flushed to its writer once it holds 64 KiB.
struct Buffered<'w> {
    buf: Vec<u8>,
    out: Box<dyn Write + Send + 'w>,
}

impl<'w> Buffered<'w> {
    const FLUSH_AT: usize = 64 * 1024;

    fn new(out: Box<dyn Write + Send + 'w>) -> Self {
        Buffered {
            buf: Vec::with_capacity(Self::FLUSH_AT + 8 * 1024),
            out,
        }
    }

    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= Self::FLUSH_AT {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()
    }
}
