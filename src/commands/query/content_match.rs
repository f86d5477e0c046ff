//! `--contains` decided on the raw bytes of the content column, before the Arrow reader runs.
//!
//! The Arrow reader validates every string it decodes as UTF-8; for a text search over months
//! that was 38% of the query's time (perf, 120 days, `--contains … --count`), more than the
//! Snappy decompression. The bytes need no validation to be searched: a UTF-8 needle found in
//! bytes is found in the same text, and the lake's writer validated them when it wrote them.
//! So the content column chunks of the kept row groups are searched as bytes, the matching rows
//! become a [`RowSelection`], and the Arrow reader decodes only the selected rows of the columns
//! the query shows. The lake's PLAIN pages are searched in place, a needle once over a whole
//! page ([`crate::commands::query::page_bytes`]); a dictionary-encoded chunk (another writer's file) is decoded by
//! Parquet's column reader and its values tested one by one, and so is every chunk under
//! `--ignore-case`, where a value is lowercased as text, so validated then (an invalid value
//! matches nothing).

use std::sync::Arc;

use arrow_array::StringArray;
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use bytes::Bytes;
use memchr::memmem::Finder;
use parquet::arrow::arrow_reader::RowSelection;
use parquet::basic::Encoding;
use parquet::column::page::PageReader;
use parquet::column::reader::{ColumnReaderImpl, get_column_reader, get_typed_column_reader};
use parquet::data_type::ByteArrayType;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::serialized_reader::SerializedPageReader;

use crate::commands::query::filter::TextMatcher;
use crate::commands::query::page_bytes::{
    DataPageParts, data_page_parts, present_positions, values_containing,
};

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

/// The values of the matching rows, in row order, collected while they are searched: shown by
/// a query, they need not be decompressed and decoded a second time by the Arrow reader (the
/// content column was a fifth of a two-year `--contains` to CSV).
#[derive(Debug, Default)]
pub struct MatchedValues {
    bytes: Vec<u8>,
    /// Where each value ends in `bytes`.
    ends: Vec<i32>,
}

impl MatchedValues {
    fn push(&mut self, value: &[u8]) -> std::result::Result<(), String> {
        self.bytes.extend_from_slice(value);
        let end = i32::try_from(self.bytes.len())
            .map_err(|_| "more than 2 GiB of matching content in one file".to_string())?;
        self.ends.push(end);
        Ok(())
    }

    /// Keeps the first `n` values.
    fn truncate(&mut self, n: usize) {
        self.ends.truncate(n);
        self.bytes
            .truncate(self.ends.last().map_or(0, |&e| e as usize));
    }

    /// The values as text: each must be UTF-8 (what the Arrow reader would check).
    pub fn into_array(self) -> std::result::Result<StringArray, String> {
        let mut offsets = Vec::with_capacity(self.ends.len() + 1);
        offsets.push(0i32);
        offsets.extend_from_slice(&self.ends);
        // The whole buffer valid, and every value starting on a character's first byte, is
        // every value valid (arrow's own check of a string array, with SIMD).
        let valid = simdutf8::basic::from_utf8(&self.bytes).is_ok()
            && offsets.iter().all(|&o| {
                self.bytes
                    .get(o as usize)
                    .is_none_or(|&b| (b as i8) >= -0x40)
            });
        if !valid {
            return Err("a content value is not UTF-8".into());
        }
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        // SAFETY: the offsets start at 0, ascend and end at the buffer's length (pushed as the
        // buffer grew), and the values were checked above to be UTF-8.
        Ok(unsafe { StringArray::new_unchecked(offsets, Buffer::from_vec(self.bytes), None) })
    }
}

/// Rows read per call of the column reader.
const BATCH: usize = 8192;

/// Which rows of `row_groups` (concatenated, in this order) have a value in column `column`
/// that `matcher` matches. A null matches nothing.
///
/// A column chunk of PLAIN pages (the lake's content column) is searched in place, page by
/// page ([`crate::commands::query::page_bytes`]); a dictionary-encoded chunk, or a search
/// ignoring case, decodes the values with parquet's column reader and tests them one by one.
/// With `values`, the matching values are also collected there, in row order.
pub fn matching_rows<R: ChunkReader + 'static>(
    reader: &Arc<R>,
    metadata: &ParquetMetaData,
    row_groups: &[usize],
    column: usize,
    matcher: &TextMatcher,
    mut values: Option<&mut MatchedValues>,
) -> Result<RowSelection> {
    let descr = metadata.file_metadata().schema_descr().column(column);
    let flat = descr.max_rep_level() == 0 && descr.max_def_level() <= 1;
    let mut hits = Vec::new();
    let mut base = 0;
    for &rg in row_groups {
        let group = metadata.row_group(rg);
        let rows = group.num_rows() as usize;
        let chunk = group.column(column);
        let pages = || SerializedPageReader::new(Arc::clone(reader), chunk, rows, None);
        let searched = match matcher.byte_finders() {
            Some(finders) if flat && chunk.dictionary_page_offset().is_none() => {
                let before = hits.len();
                let nullable = descr.max_def_level() == 1;
                let searched = search_pages(
                    pages()?,
                    nullable,
                    finders,
                    (rg, rows, base),
                    &mut hits,
                    values.as_deref_mut(),
                )?;
                if !searched {
                    hits.truncate(before);
                    if let Some(v) = values.as_deref_mut() {
                        v.truncate(before);
                    }
                }
                searched
            }
            _ => false,
        };
        if !searched {
            let column_reader = get_typed_column_reader::<ByteArrayType>(get_column_reader(
                descr.clone(),
                Box::new(pages()?),
            ));
            decode_values(
                column_reader,
                descr.max_def_level() > 0,
                matcher,
                (rg, rows, base),
                &mut hits,
                values.as_deref_mut(),
            )?;
        }
        base += rows;
    }
    Ok(selection_of(hits, base))
}

/// The selection of `total` rows that keeps the rows `hits` (ascending, each once).
pub fn selection_of(hits: Vec<usize>, total: usize) -> RowSelection {
    RowSelection::from_consecutive_ranges(hits.into_iter().map(|r| r..r + 1), total)
}

fn general(rg: usize, what: impl std::fmt::Display) -> ParquetError {
    ParquetError::General(format!("row group {rg}, content column: {what}"))
}

/// The rows (numbered from `base`) of a column chunk of `rows` rows whose value contains one of
/// `finders`' needles, searched in the decompressed pages; appended to `hits`. Ok(false) at the
/// first page this search cannot read in place (what it appended is then the caller's to drop).
fn search_pages(
    mut pages: impl PageReader,
    nullable: bool,
    finders: &[Finder<'static>],
    (rg, rows, base): (usize, usize, usize),
    hits: &mut Vec<usize>,
    mut collected: Option<&mut MatchedValues>,
) -> Result<bool> {
    let mut row = 0;
    let (mut found, mut present) = (Vec::new(), Vec::new());
    while let Some(page) = pages.get_next_page()? {
        let Some(DataPageParts {
            levels,
            values,
            rows: levels_count,
        }) = data_page_parts(&page, nullable, &[Encoding::PLAIN]).map_err(|e| general(rg, e))?
        else {
            return Ok(false);
        };
        found.clear();
        values_containing(values, finders, &mut found).map_err(|e| general(rg, e))?;
        if !found.is_empty() {
            match levels {
                None => hits.extend(found.iter().map(|v| base + row + v.index)),
                Some(levels) => {
                    present_positions(levels, levels_count, &mut present)
                        .map_err(|e| general(rg, e))?;
                    for v in &found {
                        let at = present.get(v.index).ok_or_else(|| {
                            general(
                                rg,
                                format!("value {} of a page has no row in its levels", v.index),
                            )
                        })?;
                        hits.push(base + row + *at as usize);
                    }
                }
            }
            if let Some(c) = collected.as_deref_mut() {
                for v in &found {
                    c.push(&values[v.start..v.end])
                        .map_err(|e| general(rg, e))?;
                }
            }
        }
        row += levels_count;
    }
    if row != rows {
        return Err(general(
            rg,
            format!("{rows} rows, but the pages hold {row}"),
        ));
    }
    Ok(true)
}

/// The rows (numbered from `base`) of a column chunk of `rows` rows whose value `matcher`
/// matches, the values decoded by parquet's column reader; appended to `hits`.
fn decode_values(
    mut values_of: ColumnReaderImpl<ByteArrayType>,
    nullable: bool,
    matcher: &TextMatcher,
    (rg, rows, base): (usize, usize, usize),
    hits: &mut Vec<usize>,
    mut collected: Option<&mut MatchedValues>,
) -> Result<()> {
    let mut defs = Vec::with_capacity(BATCH);
    let mut values = Vec::with_capacity(BATCH);
    let mut scratch = String::new();
    let mut read = 0;
    while read < rows {
        defs.clear();
        values.clear();
        let (records, _, _) =
            values_of.read_records(BATCH.min(rows - read), Some(&mut defs), None, &mut values)?;
        if records == 0 {
            return Err(general(
                rg,
                format!("{rows} rows, but the column ends after {read}"),
            ));
        }
        // The values are the non-null ones, in order.
        let mut value = values.iter();
        for i in 0..records {
            let present = !nullable || defs.get(i).is_some_and(|&d| d > 0);
            if !present {
                continue;
            }
            if let Some(v) = value.next()
                && matcher.matches_bytes(v.data(), &mut scratch)
            {
                hits.push(base + read + i);
                if let Some(c) = collected.as_deref_mut() {
                    c.push(v.data()).map_err(|e| general(rg, e))?;
                }
            }
        }
        read += records;
    }
    Ok(())
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
            if part.is_empty() {
                continue;
            }
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

    fn content_column(metadata: &ParquetMetaData) -> usize {
        metadata
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.name() == crate::record::col::CONTENT)
            .unwrap()
    }

    /// The rows of `groups` that `matching_rows` selects, as one flag per row.
    fn selected_in(
        bytes: &Arc<Bytes>,
        metadata: &ParquetMetaData,
        groups: &[usize],
        needles: &[&str],
        ignore_case: bool,
    ) -> Vec<bool> {
        let needles: Vec<String> = needles.iter().map(|n| n.to_string()).collect();
        let matcher = TextMatcher::new(&needles, ignore_case);
        let column = content_column(metadata);
        let mut values = MatchedValues::default();
        let selection =
            matching_rows(bytes, metadata, groups, column, &matcher, Some(&mut values)).unwrap();
        let values = values.into_array().unwrap();
        let texts: Vec<&str> = values.iter().map(Option::unwrap).collect();
        assert_eq!(
            texts.len(),
            selection.row_count(),
            "one value per selected row"
        );
        assert!(
            texts.iter().all(|t| needles.iter().any(|n| if ignore_case {
                t.to_lowercase().contains(&n.to_lowercase())
            } else {
                t.contains(n.as_str())
            })),
            "the collected values are the matching ones: {texts:?}"
        );
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
        assert_eq!(at, rows, "the selection covers every row");
        out
    }

    fn selected(
        contents: &[Option<&str>],
        groups: &[usize],
        needle: &str,
        ignore_case: bool,
    ) -> Vec<bool> {
        let (bytes, metadata) = file_of(contents, 3);
        selected_in(&bytes, &metadata, groups, &[needle], ignore_case)
    }

    /// What a search of each value gives: the oracle of the page search.
    fn expected(contents: &[Option<String>], needles: &[&str]) -> Vec<bool> {
        contents
            .iter()
            .map(|c| {
                c.as_ref()
                    .is_some_and(|c| needles.iter().any(|n| c.contains(n)))
            })
            .collect()
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

    #[test]
    fn pages_with_nulls_in_runs_and_scattered_are_searched_in_place() {
        // Three pages per row group (1,024 rows a page), nulls in long runs (RLE levels) and
        // every third row (bit-packed levels).
        let contents: Vec<Option<String>> = (0..5000)
            .map(|i| match i {
                1000..=2200 => None,
                _ if i % 3 == 0 => None,
                _ if i % 7 == 0 => Some(format!("服务器 {i} 宕机")),
                _ => Some(format!("消息 {i}")),
            })
            .collect();
        let refs: Vec<Option<&str>> = contents.iter().map(Option::as_deref).collect();
        let (bytes, metadata) = file_of(&refs, 2600);
        let column = content_column(&metadata);
        assert!(
            (0..2).all(|g| metadata
                .row_group(g)
                .column(column)
                .dictionary_page_offset()
                .is_none()),
            "the lake's content column is PLAIN: this test covers the page search"
        );
        for needles in [
            &["服务器"][..],
            &["4999", "服务器 7 "],
            &["宕"],
            &["nowhere"],
        ] {
            assert_eq!(
                selected_in(&bytes, &metadata, &[0, 1], needles, false),
                expected(&contents, needles),
                "{needles:?}"
            );
        }
        assert_eq!(
            selected_in(&bytes, &metadata, &[1], &["服务器"], false),
            expected(&contents[2600..], &["服务器"])
        );
    }

    #[test]
    fn a_dictionary_encoded_content_column_is_decoded_not_searched_in_place() {
        // A file another tool wrote, with a dictionary for content.
        let contents = [
            Some("服务器宕机"),
            None,
            Some("ok"),
            Some("服务器宕机"),
            Some("x"),
        ];
        let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            crate::record::col::CONTENT,
            arrow_schema::DataType::Utf8,
            true,
        )]));
        let batch = arrow_array::RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(arrow_array::StringArray::from(contents.to_vec()))],
        )
        .unwrap();
        let mut buf = Vec::new();
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let bytes = Bytes::from(buf);
        let reader =
            parquet::file::serialized_reader::SerializedFileReader::new(bytes.clone()).unwrap();
        let metadata = reader.metadata().clone();
        assert!(
            metadata
                .row_group(0)
                .column(0)
                .dictionary_page_offset()
                .is_some()
        );
        let owned: Vec<Option<String>> = contents.iter().map(|c| c.map(Into::into)).collect();
        assert_eq!(
            selected_in(&Arc::new(bytes), &metadata, &[0], &["服务器"], false),
            expected(&owned, &["服务器"])
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn the_page_search_selects_the_rows_a_search_of_each_value_does(
            contents in proptest::collection::vec(
                proptest::option::of("[ab服\\n\"]{0,6}"), 1..80),
            split in 0usize..80,
            needles in proptest::collection::vec("[ab服]{1,3}", 1..3),
        ) {
            let split = split.min(contents.len());
            let refs: Vec<Option<&str>> = contents.iter().map(Option::as_deref).collect();
            let (bytes, metadata) = file_of(&refs, split);
            let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
            let groups: Vec<usize> = (0..metadata.num_row_groups()).collect();
            proptest::prop_assert_eq!(
                selected_in(&bytes, &metadata, &groups, &needles, false),
                expected(&contents, &needles)
            );
        }
    }
}
