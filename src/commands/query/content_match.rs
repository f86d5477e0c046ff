//! `--contains` decided on the raw bytes of the content column, before the Arrow reader runs.
//!
//! The Arrow reader validates every string it decodes as UTF-8; for a text search over months
//! that was 38% of the query's time (perf, 120 days, `--contains … --count`), more than the
//! Snappy decompression. The bytes need no validation to be searched: a UTF-8 needle found in
//! bytes is found in the same text, and the lake's writer validated them when it wrote them.
//! So the content column chunks of the kept row groups are read with Parquet's column reader
//! (values as bytes), the matching rows become a [`RowSelection`], and the Arrow reader decodes
//! only the selected rows of the columns the query shows. With `--ignore-case` a value is
//! lowercased as text, so it is validated then (an invalid value matches nothing).

use std::sync::Arc;

use arrow_array::BooleanArray;
use bytes::Bytes;
use parquet::arrow::arrow_reader::RowSelection;
use parquet::column::reader::{get_column_reader, get_typed_column_reader};
use parquet::data_type::ByteArrayType;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::serialized_reader::SerializedPageReader;

use crate::commands::query::filter::TextMatcher;

/// One chunk reader shared by the column reader and the Arrow reader of a file.
pub struct SharedChunks<R>(pub Arc<R>);

impl<R: ChunkReader> Length for SharedChunks<R> {
    fn len(&self) -> u64 {
        self.0.len()
    }
}

impl<R: ChunkReader> ChunkReader for SharedChunks<R> {
    type T = R::T;

    fn get_read(&self, start: u64) -> Result<Self::T> {
        self.0.get_read(start)
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        self.0.get_bytes(start, length)
    }
}

/// Rows read per call of the column reader.
const BATCH: usize = 8192;

/// Which rows of `row_groups` (concatenated, in this order) have a value in column `column`
/// that `matcher` matches. A null matches nothing.
pub fn matching_rows<R: ChunkReader + 'static>(
    reader: &Arc<R>,
    metadata: &ParquetMetaData,
    row_groups: &[usize],
    column: usize,
    matcher: &TextMatcher,
) -> Result<RowSelection> {
    let descr = metadata.file_metadata().schema_descr().column(column);
    let nullable = descr.max_def_level() > 0;
    let mut keep = Vec::new();
    let mut defs = Vec::with_capacity(BATCH);
    let mut values = Vec::with_capacity(BATCH);
    let mut scratch = String::new();
    for &rg in row_groups {
        let group = metadata.row_group(rg);
        let rows = group.num_rows() as usize;
        let pages =
            SerializedPageReader::new(Arc::clone(reader), group.column(column), rows, None)?;
        let mut values_of = get_typed_column_reader::<ByteArrayType>(get_column_reader(
            descr.clone(),
            Box::new(pages),
        ));
        let mut read = 0;
        while read < rows {
            defs.clear();
            values.clear();
            let (records, _, _) = values_of.read_records(
                BATCH.min(rows - read),
                Some(&mut defs),
                None,
                &mut values,
            )?;
            if records == 0 {
                return Err(ParquetError::General(format!(
                    "row group {rg}: {rows} rows, but the content column ends after {read}"
                )));
            }
            // The values are the non-null ones, in order.
            let mut value = values.iter();
            keep.extend((0..records).map(|i| {
                let present = !nullable || defs[i] > 0;
                present
                    && value
                        .next()
                        .is_some_and(|v| matcher.matches_bytes(v.data(), &mut scratch))
            }));
            read += records;
        }
    }
    Ok(RowSelection::from_filters(&[BooleanArray::from(keep)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::writer::{Codec, RowBuffer, StagedWriter, writer_properties};
    use crate::partition::PartitionKey;
    use crate::record::{Record, text};
    use parquet::file::reader::FileReader;

    /// A lake file of two row groups whose contents are `contents` (None: null), split after the
    /// first `split` rows; with its footer.
    fn file_of(contents: &[Option<&str>], split: usize) -> (Arc<Bytes>, Arc<ParquetMetaData>) {
        let dir = tempfile::tempdir().unwrap();
        let key = PartitionKey(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        let props = writer_properties(Codec::Snappy, None).unwrap();
        let mut w = StagedWriter::create(key, dir.path(), props).unwrap();
        for part in [&contents[..split], &contents[split..]] {
            let mut b = RowBuffer::default();
            for (i, c) in part.iter().enumerate() {
                let mut r = Record {
                    msg_id: i.to_string().into(),
                    // In order: the row group's sort keeps them as given.
                    create_time: i as i64,
                    ..Default::default()
                };
                r.text[text::CONTENT] = c.map(Into::into);
                b.push(&r);
            }
            w.write_row_group(&b.take_batch()).unwrap();
        }
        let staged = w.finish().unwrap();
        let bytes = Bytes::from(std::fs::read(&staged.tmp).unwrap());
        let reader =
            parquet::file::serialized_reader::SerializedFileReader::new(bytes.clone()).unwrap();
        (Arc::new(bytes), Arc::new(reader.metadata().clone()))
    }

    fn selected(
        contents: &[Option<&str>],
        groups: &[usize],
        needle: &str,
        ignore_case: bool,
    ) -> Vec<bool> {
        let (bytes, metadata) = file_of(contents, 3);
        let column = metadata
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.name() == crate::record::col::CONTENT)
            .unwrap();
        let matcher = TextMatcher::new(&[needle.to_string()], ignore_case);
        let selection = matching_rows(&bytes, &metadata, groups, column, &matcher).unwrap();
        let rows: usize = groups
            .iter()
            .map(|&g| metadata.row_group(g).num_rows() as usize)
            .sum();
        let mut out = vec![false; rows];
        let mut at = 0;
        for s in selection.iter() {
            if !s.skip {
                out[at..at + s.row_count].fill(true);
            }
            at += s.row_count;
        }
        out
    }

    #[test]
    fn rows_whose_content_holds_the_needle_are_selected_across_row_groups() {
        let contents = [
            Some("服务器宕机"),
            None,
            Some("ok"),
            Some("重启服务器"),
            Some("服务"),
            Some(""),
        ];
        assert_eq!(
            selected(&contents, &[0, 1], "服务器", false),
            [true, false, false, true, false, false]
        );
        assert_eq!(
            selected(&contents, &[1], "服务器", false),
            [true, false, false]
        );
        let cased = [
            Some("Disk FULL"),
            Some("x"),
            None,
            Some("full"),
            Some("Ä"),
            Some("ä"),
        ];
        assert_eq!(
            selected(&cased, &[0, 1], "full", true),
            [true, false, false, true, false, false]
        );
        assert_eq!(
            selected(&cased, &[0, 1], "ä", true),
            [false, false, false, false, true, true]
        );
    }
}
