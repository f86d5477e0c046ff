//! `--from`, `--kind` and `--chatroom` decided on the dictionary of a string column, before the
//! Arrow reader runs.
//!
//! These columns are dictionary-encoded in the lake (a few hundred distinct senders a day). The
//! Arrow reader's route made a string of every row's value (perf of a two-year `--from … --count`:
//! `extend_from_dictionary`, memmove, malloc and the comparisons, a third of the run) to compare
//! it with the wanted ones. Here a chunk's dictionary page is read once, each entry is compared
//! once, and the rows come from the data pages' indices ([`crate::commands::query::page_bytes`]);
//! a chunk with no wanted entry reads no data page at all. Only chunks whose every data page is
//! dictionary-encoded (the footer's encoding statistics say so) are read this way; for any other
//! the caller keeps the filter on the Arrow route.

use std::sync::Arc;

use parquet::arrow::arrow_reader::RowSelection;
use parquet::basic::Encoding;
use parquet::column::page::{Page, PageReader};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};
use parquet::file::reader::ChunkReader;
use parquet::file::serialized_reader::SerializedPageReader;

use crate::commands::query::content_match::selection_of;
use crate::commands::query::page_bytes::{
    DataPageParts, data_page_parts, dictionary_indices, plain_values, present_positions,
};

/// Whether every data page of `chunk` is dictionary-encoded, as its footer's encoding
/// statistics say (parquet's own test for it).
fn all_dictionary_encoded(chunk: &ColumnChunkMetaData) -> bool {
    chunk.dictionary_page_offset().is_some()
        && chunk.page_encoding_stats_mask().is_some_and(|mask| {
            mask.is_only(Encoding::PLAIN_DICTIONARY) || mask.is_only(Encoding::RLE_DICTIONARY)
        })
}

/// Which rows of `row_groups` (concatenated, in this order) have a value in the flat string
/// column `column` for which `wanted` is true; a null is never wanted. None when a chunk of
/// `row_groups` is not wholly dictionary-encoded.
pub fn rows_wanted<R: ChunkReader + 'static>(
    reader: &Arc<R>,
    metadata: &ParquetMetaData,
    row_groups: &[usize],
    column: usize,
    wanted: impl Fn(&[u8]) -> bool,
) -> Result<Option<RowSelection>> {
    let descr = metadata.file_metadata().schema_descr().column(column);
    if descr.max_rep_level() > 0 || descr.max_def_level() > 1 {
        return Ok(None);
    }
    let nullable = descr.max_def_level() == 1;
    if !row_groups
        .iter()
        .all(|&rg| all_dictionary_encoded(metadata.row_group(rg).column(column)))
    {
        return Ok(None);
    }
    let mut hits = Vec::new();
    let mut base = 0;
    for &rg in row_groups {
        let group = metadata.row_group(rg);
        let rows = group.num_rows() as usize;
        let pages =
            SerializedPageReader::new(Arc::clone(reader), group.column(column), rows, None)?;
        if !chunk_rows(pages, nullable, &wanted, rg, rows, base, &mut hits)? {
            return Ok(None);
        }
        base += rows;
    }
    Ok(Some(selection_of(hits, base)))
}

fn general(rg: usize, what: impl std::fmt::Display) -> ParquetError {
    ParquetError::General(format!("row group {rg}, dictionary column: {what}"))
}

/// The wanted rows (numbered from `base`) of one chunk of `rows` rows, appended to `hits`.
/// Ok(false) if a page is not what the footer said (not dictionary-encoded).
fn chunk_rows(
    mut pages: impl PageReader,
    nullable: bool,
    wanted: &impl Fn(&[u8]) -> bool,
    rg: usize,
    rows: usize,
    base: usize,
    hits: &mut Vec<usize>,
) -> Result<bool> {
    let flags = match pages.get_next_page()? {
        Some(Page::DictionaryPage {
            buf,
            num_values,
            encoding: Encoding::PLAIN | Encoding::PLAIN_DICTIONARY,
            ..
        }) => {
            let mut flags = Vec::with_capacity(num_values as usize);
            plain_values(&buf, num_values as usize, |v| flags.push(wanted(v)))
                .map_err(|e| general(rg, e))?;
            flags
        }
        _ => return Ok(false),
    };
    if !flags.contains(&true) {
        // No row of this chunk can be wanted: its data pages are not even read.
        return Ok(true);
    }
    let (mut present, mut indices) = (Vec::new(), Vec::new());
    let mut row = 0;
    while let Some(page) = pages.get_next_page()? {
        let Some(DataPageParts {
            levels,
            values: region,
            rows: levels_count,
        }) = data_page_parts(
            &page,
            nullable,
            &[Encoding::RLE_DICTIONARY, Encoding::PLAIN_DICTIONARY],
        )
        .map_err(|e| general(rg, e))?
        else {
            return Ok(false);
        };
        let values = match levels {
            Some(levels) => {
                present_positions(levels, levels_count, &mut present)
                    .map_err(|e| general(rg, e))?;
                present.len()
            }
            None => levels_count,
        };
        dictionary_indices(region, values, flags.len(), &mut indices)
            .map_err(|e| general(rg, e))?;
        for (k, &i) in indices.iter().enumerate() {
            if flags[i as usize] {
                let at = if levels.is_some() {
                    present[k] as usize
                } else {
                    k
                };
                hits.push(base + row + at);
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use bytes::Bytes;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    use parquet::file::reader::FileReader;
    use parquet::file::serialized_reader::SerializedFileReader;

    /// A file of one string column `values`, in row groups of `group_rows` and pages of 100
    /// rows, dictionary-encoded unless `dictionary` is false; with its footer.
    fn file_of(
        values: &[Option<String>],
        group_rows: usize,
        dictionary: bool,
    ) -> (Arc<Bytes>, ParquetMetaData) {
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
        let props = WriterProperties::builder()
            .set_dictionary_enabled(dictionary)
            .set_max_row_group_row_count(Some(group_rows))
            .set_data_page_row_count_limit(100)
            .set_write_batch_size(50)
            .build();
        let mut buf = Vec::new();
        let mut w = ArrowWriter::try_new(&mut buf, Arc::clone(&schema), Some(props)).unwrap();
        let array = StringArray::from(values.to_vec());
        w.write(&RecordBatch::try_new(schema, vec![Arc::new(array)]).unwrap())
            .unwrap();
        w.close().unwrap();
        let bytes = Bytes::from(buf);
        let metadata = SerializedFileReader::new(bytes.clone())
            .unwrap()
            .metadata()
            .clone();
        (Arc::new(bytes), metadata)
    }

    fn wanted_rows(
        bytes: &Arc<Bytes>,
        metadata: &ParquetMetaData,
        groups: &[usize],
        wanted: &[&str],
    ) -> Option<Vec<usize>> {
        let selection = rows_wanted(bytes, metadata, groups, 0, |v| {
            wanted.iter().any(|w| w.as_bytes() == v)
        })
        .unwrap()?;
        let mut rows = Vec::new();
        let mut at = 0;
        for s in selection.iter() {
            if !s.skip {
                rows.extend(at..at + s.row_count);
            }
            at += s.row_count;
        }
        Some(rows)
    }

    fn expected(values: &[Option<String>], wanted: &[&str]) -> Vec<usize> {
        (0..values.len())
            .filter(|&i| values[i].as_deref().is_some_and(|v| wanted.contains(&v)))
            .collect()
    }

    #[test]
    fn the_rows_of_wanted_entries_come_from_the_indices_across_pages_and_row_groups() {
        // 1,000 rows, groups of 400, pages of 100; nulls in a long run and scattered; one value
        // in a long run (RLE indices), the others mixed (bit-packed).
        let values: Vec<Option<String>> = (0..1000)
            .map(|i| match i {
                300..=420 => None,
                500..=560 => Some("wxid_run".to_string()),
                _ if i % 5 == 0 => None,
                _ => Some(format!("wxid_{}", i % 37)),
            })
            .collect();
        let (bytes, metadata) = file_of(&values, 400, true);
        assert_eq!(metadata.num_row_groups(), 3);
        for wanted in [&["wxid_3"][..], &["wxid_run", "wxid_36"], &["nobody"]] {
            assert_eq!(
                wanted_rows(&bytes, &metadata, &[0, 1, 2], wanted),
                Some(expected(&values, wanted)),
                "{wanted:?}"
            );
        }
        assert_eq!(
            wanted_rows(&bytes, &metadata, &[1], &["wxid_run"]),
            Some(expected(&values[400..800], &["wxid_run"]))
        );
    }

    #[test]
    fn a_chunk_not_wholly_dictionary_encoded_is_left_to_the_arrow_route() {
        let values: Vec<Option<String>> = (0..300).map(|i| Some(format!("v{i}"))).collect();
        let (bytes, metadata) = file_of(&values, 300, false);
        assert_eq!(wanted_rows(&bytes, &metadata, &[0], &["v1"]), None);
        // A dictionary that overflows falls back to PLAIN pages part-way through the chunk.
        let long: Vec<Option<String>> = (0..3000).map(|i| Some(format!("{i:0>400}"))).collect();
        let (bytes, metadata) = file_of(&long, 3000, true);
        assert_eq!(wanted_rows(&bytes, &metadata, &[0], &["1"]), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn rows_wanted_agrees_with_a_comparison_of_each_row(
            values in proptest::collection::vec(proptest::option::of("[abc]{0,2}"), 1..400),
            group_rows in 1usize..300,
            wanted in proptest::collection::vec("[abc]{0,2}", 1..3),
        ) {
            let (bytes, metadata) = file_of(&values, group_rows, true);
            let groups: Vec<usize> = (0..metadata.num_row_groups()).collect();
            let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
            proptest::prop_assert_eq!(
                wanted_rows(&bytes, &metadata, &groups, &wanted),
                Some(expected(&values, &wanted))
            );
        }
    }
}
