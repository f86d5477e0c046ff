//! Parquet writer properties of lake files: which columns get dictionaries and statistics,
//! pages, sorting, and the metadata every file records.

use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::Result;
use crate::record::{SCHEMA_VERSION, SCHEMA_VERSION_KEY, arrow_schema, col};

use super::*;

/// Parquet writer properties for lake files: dictionary encoding only for the low-cardinality
/// columns, page statistics and page index (parquet's defaults), rows sorted by
/// (chatroom, create_time) within each row group, schema version, codec and the lake's time
/// zone (when known) in the metadata.
pub fn writer_properties(codec: Codec, timezone: Option<&str>) -> Result<WriterProperties> {
    let schema = arrow_schema();
    let index = |name: &str| schema.index_of(name).expect("column exists") as i32;
    let mut kv = vec![KeyValue::new(
        SCHEMA_VERSION_KEY.to_string(),
        SCHEMA_VERSION.to_string(),
    )];
    kv.extend(codec.metadata());
    if let Some(tz) = timezone {
        kv.push(KeyValue::new(TIMEZONE_KEY.to_string(), tz.to_string()));
    }
    let mut builder = WriterProperties::builder()
        .set_compression(codec.parquet()?)
        // Pages of at most 1,024 rows give the page index something to skip: rows are sorted
        // by chatroom, so a one-chatroom query reads only that chatroom's pages.
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_write_batch_size(PAGE_ROWS)
        .set_created_by(format!("wxlake {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(kv))
        .set_sorting_columns(Some(vec![
            SortingColumn {
                column_idx: index(col::CHATROOM),
                descending: false,
                nulls_first: true,
            },
            SortingColumn {
                column_idx: index(col::CREATE_TIME),
                descending: false,
                nulls_first: true,
            },
        ]));
    for high_cardinality in [
        col::MSG_ID,
        col::CREATE_TIME,
        col::CONTENT,
        col::SOURCE,
        col::EXTRA_FIELDS,
        col::GUID,
        col::TITLE,
        col::URL,
        col::QUOTED_MSG_ID,
        col::REVOKED_MSG_ID,
        col::TEXT,
    ] {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(high_cardinality), false);
    }
    // Min/max of message bodies (and of random request ids) prune nothing and cost a string
    // comparison per value; every other column keeps page-level statistics (and so the page
    // index).
    for payload in [
        col::CONTENT,
        col::SOURCE,
        col::EXTRA_FIELDS,
        col::GUID,
        col::AS_SENT,
        col::TITLE,
        col::URL,
        col::QUOTED_MSG_ID,
        col::REVOKED_MSG_ID,
        col::TEXT,
    ] {
        builder = builder
            .set_column_statistics_enabled(ColumnPath::from(payload), EnabledStatistics::None);
    }
    Ok(builder.build())
}
