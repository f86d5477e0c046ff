//! A Parquet export: the selected columns, Snappy, one row group per 64 Ki rows, with the schema
//! version in the key-value metadata (the same reader rules as the lake apply to it).

use std::io::{self, Write};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use arrow_select::interleave::interleave_record_batch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::Sink;
use crate::record::{SCHEMA_VERSION, SCHEMA_VERSION_KEY};

pub struct ParquetSink<'w> {
    writer: Option<ArrowWriter<Box<dyn Write + Send + 'w>>>,
}

impl<'w> ParquetSink<'w> {
    pub fn new(out: Box<dyn Write + Send + 'w>, schema: &SchemaRef) -> io::Result<Self> {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("wxlake {}", env!("CARGO_PKG_VERSION")))
            .set_max_row_group_row_count(Some(64 * 1024))
            .set_key_value_metadata(Some(vec![KeyValue::new(
                SCHEMA_VERSION_KEY.to_string(),
                SCHEMA_VERSION.to_string(),
            )]))
            .build();
        let writer =
            ArrowWriter::try_new(out, schema.clone(), Some(props)).map_err(io::Error::other)?;
        Ok(ParquetSink {
            writer: Some(writer),
        })
    }
}

impl Sink for ParquetSink<'_> {
    fn write_rows(&mut self, batches: &[RecordBatch], rows: &[(u32, u32)]) -> io::Result<()> {
        let writer = self.writer.as_mut().expect("not finished");
        let refs: Vec<&RecordBatch> = batches.iter().collect();
        let indices: Vec<(usize, usize)> = rows
            .iter()
            .map(|&(b, r)| (b as usize, r as usize))
            .collect();
        let batch = interleave_record_batch(&refs, &indices).map_err(io::Error::other)?;
        writer.write(&batch).map_err(to_io)
    }

    fn finish(&mut self) -> io::Result<()> {
        if let Some(writer) = self.writer.take() {
            let mut out = writer.into_inner().map_err(to_io)?;
            out.flush()?;
        }
        Ok(())
    }
}

fn to_io(e: parquet::errors::ParquetError) -> io::Error {
    match e {
        parquet::errors::ParquetError::External(inner) => match inner.downcast::<io::Error>() {
            Ok(io) => *io,
            Err(other) => io::Error::other(other),
        },
        other => io::Error::other(other),
    }
}
