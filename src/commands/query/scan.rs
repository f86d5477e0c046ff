//! Reading one lake file for a query, touching as little of it as the statistics allow.
//!
//! In order: row groups whose create_time, chatroom, sender, type or msg_id statistics rule them
//! out are skipped; inside the rest, the page index skips the pages those columns rule out; the
//! remaining rows are filtered on Arrow arrays by a Parquet row filter, which decodes only the
//! filter columns first and the other projected columns only for matching rows.
//!
//! Schema-on-read: types come from the Parquet schema (not the embedded Arrow schema), a column
//! the file lacks reads as null, columns it has beyond the query's are never read. A file of an
//! older schema version lacks the derived columns (kind, text, …): when a query shows them or
//! filters on a column an upgrade derives or changes (kind, mentions, msg_type, the senders),
//! its rows are read whole and upgraded on read ([`crate::lake::upgrade`]), so such a query gives
//! the same answer before and after `wxlake migrate`. A file whose
//! footer, statistics or pages cannot be decoded is an [`Error::Data`] naming it.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{Schema, SchemaRef};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowFilter, RowSelection,
    RowSelector,
};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use parquet::file::reader::ChunkReader;
use serde::Serialize;

use crate::commands::query::content_match::{MatchedValues, SharedChunks, matching_rows};
use crate::commands::query::dictionary_match::rows_wanted;
use crate::commands::query::filter::{Equality, Filter, Stats, TextMatcher};
use crate::commands::query::time_range::TimeRange;
use crate::error::{Error, Result};
use crate::record::{DERIVED, SCHEMA_VERSION, SCHEMA_VERSION_KEY, SENT_COLUMNS, arrow_schema, col};

/// What every file of one query is read for.
#[derive(Debug, Clone)]
pub struct ScanPlan {
    pub range: TimeRange,
    pub filter: Arc<Filter>,
    pub matcher: TextMatcher,
    /// The columns to return (all nullable), in this order.
    pub schema: SchemaRef,
}

/// Counters of what the scan read and skipped.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct ScanStats {
    pub partitions: u64,
    pub files: u64,
    pub files_skipped_corrupt: u64,
    pub row_groups: u64,
    pub row_groups_skipped: u64,
    /// Rows of kept row groups that the page index ruled out without decoding them.
    pub rows_skipped_by_page_index: u64,
    pub rows_matched: u64,
}

impl std::iter::Sum for ScanStats {
    fn sum<I: Iterator<Item = ScanStats>>(iter: I) -> ScanStats {
        iter.fold(ScanStats::default(), |a, b| ScanStats {
            partitions: a.partitions + b.partitions,
            files: a.files + b.files,
            files_skipped_corrupt: a.files_skipped_corrupt + b.files_skipped_corrupt,
            row_groups: a.row_groups + b.row_groups,
            row_groups_skipped: a.row_groups_skipped + b.row_groups_skipped,
            rows_skipped_by_page_index: a.rows_skipped_by_page_index + b.rows_skipped_by_page_index,
            rows_matched: a.rows_matched + b.rows_matched,
        })
    }
}

fn corrupt(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::data(path, format!("unreadable Parquet file: {e}"))
}

/// The number of rows of `file` (read from `path`) that `plan` asks for.
pub fn count_file<R: ChunkReader + 'static>(
    path: &Path,
    file: R,
    plan: &ScanPlan,
    stats: &mut ScanStats,
) -> Result<u64> {
    Ok(scan_file(path, file, plan, true, stats)?.0)
}

/// The rows of `file` (read from `path`) that `plan` asks for, in [`ScanPlan::schema`].
pub fn read_file<R: ChunkReader + 'static>(
    path: &Path,
    file: R,
    plan: &ScanPlan,
    stats: &mut ScanStats,
) -> Result<Vec<RecordBatch>> {
    Ok(scan_file(path, file, plan, false, stats)?.1)
}

/// The number of matching rows and, unless `count_only`, the rows.
fn scan_file<R: ChunkReader + 'static>(
    path: &Path,
    file: R,
    plan: &ScanPlan,
    count_only: bool,
    stats: &mut ScanStats,
) -> Result<(u64, Vec<RecordBatch>)> {
    stats.files += 1;
    let options = ArrowReaderOptions::new()
        .with_page_index_policy(PageIndexPolicy::Optional)
        .with_skip_arrow_metadata(true);
    let file = Arc::new(file);
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
        SharedChunks(Arc::clone(&file)),
        options,
    )
    .map_err(|e| corrupt(path, e))?;
    let metadata = Arc::clone(builder.metadata());
    let file_schema = Arc::clone(builder.schema());
    // Counting needs no output columns: only a filter can call for the upgrade then.
    let upgrade = file_version(&metadata) < SCHEMA_VERSION
        && (plan.filter.reads_derived()
            || (!count_only
                && plan
                    .schema
                    .fields()
                    .iter()
                    .any(|f| DERIVED.contains(&f.name().as_str()))));
    // Read upgraded, the file is filtered on its stored columns first and on derived ones after.
    let stored_filter;
    let filter = if upgrade {
        stored_filter = Arc::new(plan.filter.without_derived());
        &stored_filter
    } else {
        &plan.filter
    };
    let pruning = Pruning::new(path, &metadata, &file_schema, plan, filter)?;
    stats.row_groups += metadata.num_row_groups() as u64;
    stats.row_groups_skipped += (metadata.num_row_groups() - pruning.row_groups.len()) as u64;
    let total: usize = pruning
        .row_groups
        .iter()
        .map(|&rg| metadata.row_group(rg).num_rows() as usize)
        .sum();
    let selected = pruning
        .selection
        .as_ref()
        .map_or(total, RowSelection::row_count);
    stats.rows_skipped_by_page_index += (total - selected) as u64;
    let has = |name: &str| file_schema.column_with_name(name).is_some();
    if selected == 0 || (!filter.contains.is_empty() && !has(col::CONTENT)) {
        return Ok((0, Vec::new()));
    }
    let parquet_schema = metadata.file_metadata().schema_descr_ptr();
    let mut selection = pruning.selection;
    // `--contains` on the content column's bytes first (see content_match), unless the rows are
    // upgraded on read: then every filter runs on the upgraded rows.
    // When the search's matches are exactly the rows shown (no page-index selection, no other
    // filter), the content values it found are shown as they are: the Arrow reader does not
    // decode the content column a second time.
    let splice_content = !count_only
        && !upgrade
        && selection.is_none()
        && !pruning.needs_time_filter
        && filter.without_contains().is_empty()
        && plan.schema.fields().len() > 1
        && plan.schema.field_with_name(col::CONTENT).is_ok()
        && file_schema
            .field_with_name(col::CONTENT)
            .is_ok_and(|f| f.data_type() == &arrow_schema::DataType::Utf8);
    let mut matched_values = splice_content.then(MatchedValues::default);
    let without_contains;
    let filter = match content_column(&parquet_schema) {
        Some(column) if !filter.contains.is_empty() && !upgrade => {
            let matching = matching_rows(
                &file,
                &metadata,
                &pruning.row_groups,
                column,
                &plan.matcher,
                matched_values.as_mut(),
            )
            .map_err(|e| corrupt(path, e))?;
            let matching = match selection {
                Some(s) => s.intersection(&matching),
                None => matching,
            };
            if matching.row_count() == 0 {
                return Ok((0, Vec::new()));
            }
            selection = Some(matching);
            without_contains = Arc::new(filter.without_contains());
            &without_contains
        }
        _ => {
            matched_values = None;
            filter
        }
    };
    // Equality filters on dictionary-encoded columns on their dictionaries (see
    // dictionary_match), unless the rows are upgraded on read.
    let mut decided;
    let filter = if upgrade {
        filter
    } else {
        decided = None::<Arc<Filter>>;
        for equality in Equality::ALL {
            let current = decided.as_ref().unwrap_or(filter);
            let values = equality.values(current);
            if values.is_empty() {
                continue;
            }
            let Some(rows) =
                dictionary_rows(&file, &metadata, &pruning.row_groups, equality, values)
                    .map_err(|e| corrupt(path, e))?
            else {
                continue;
            };
            let rows = match selection {
                Some(s) => s.intersection(&rows),
                None => rows,
            };
            if rows.row_count() == 0 {
                return Ok((0, Vec::new()));
            }
            selection = Some(rows);
            decided = Some(Arc::new(current.without_equality(equality)));
        }
        match &decided {
            Some(f) => f,
            None => filter,
        }
    };
    let needs_predicate = !filter.is_empty() || pruning.needs_time_filter;
    let derived_filter = upgrade && plan.filter.reads_derived();
    if count_only && !needs_predicate && !derived_filter {
        let count = selection.as_ref().map_or(total, RowSelection::row_count);
        stats.rows_matched += count as u64;
        return Ok((count as u64, Vec::new()));
    }

    let mut builder = builder
        .with_row_groups(pruning.row_groups.clone())
        .with_batch_size(8192);
    if let Some(selection) = selection {
        builder = builder.with_row_selection(selection);
    }
    if needs_predicate {
        let mut columns = filter.columns();
        if pruning.needs_time_filter {
            columns.push(col::CREATE_TIME);
        }
        let mask =
            ProjectionMask::columns(&parquet_schema, columns.iter().copied().filter(|c| has(c)));
        let (filter, matcher) = (Arc::clone(filter), plan.matcher.clone());
        let time = pruning.needs_time_filter.then_some(plan.range);
        let predicate = ArrowPredicateFn::new(mask, move |batch: RecordBatch| {
            filter.evaluate(&batch, time.as_ref(), &matcher)
        });
        builder = builder.with_row_filter(RowFilter::new(vec![Box::new(predicate)]));
    }
    let output: Vec<&str> = if upgrade && (derived_filter || !count_only) {
        SENT_COLUMNS.to_vec()
    } else if count_only {
        vec![col::CREATE_TIME]
    } else {
        plan.schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect()
    };
    let content = matched_values
        .map(|v| v.into_array().map_err(|e| Error::data(path, e)))
        .transpose()?;
    let read = |c: &&str| has(c) && !(content.is_some() && *c == col::CONTENT);
    let mask = ProjectionMask::columns(&parquet_schema, output.iter().copied().filter(read));
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| corrupt(path, e))?;
    let mut count = 0u64;
    let mut batches = Vec::new();
    for batch in reader {
        let mut batch = batch.map_err(|e| corrupt(path, e))?;
        if upgrade && batch.num_rows() > 0 {
            batch = derive_on_read(path, &batch, plan)?;
        }
        if let Some(content) = &content {
            batch = with_content(path, &batch, content, count as usize)?;
        }
        count += batch.num_rows() as u64;
        if !count_only && batch.num_rows() > 0 {
            batches.push(crate::lake::reader::conform(path, &batch, &plan.schema)?);
        }
    }
    if let Some(content) = &content
        && content.len() != count as usize
    {
        return Err(Error::data(
            path,
            format!(
                "{} content values matched, but {count} rows were read",
                content.len()
            ),
        ));
    }
    stats.rows_matched += count;
    Ok((count, batches))
}

/// `batch` with the content column: the values of `content` from row `at` on.
fn with_content(
    path: &Path,
    batch: &RecordBatch,
    content: &StringArray,
    at: usize,
) -> Result<RecordBatch> {
    let n = batch.num_rows();
    if at + n > content.len() {
        return Err(Error::data(
            path,
            format!(
                "{} content values matched, but more rows were read",
                content.len()
            ),
        ));
    }
    let mut fields: Vec<_> = batch.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(arrow_schema::Field::new(
        col::CONTENT,
        arrow_schema::DataType::Utf8,
        true,
    )));
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(content.slice(at, n)));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| corrupt(path, e))
}

/// The rows of `row_groups` that pass `equality` with `values`, decided on the dictionaries of
/// its columns; None when one of them is not wholly dictionary-encoded. A column the file lacks
/// is null: it passes no row.
fn dictionary_rows<R: ChunkReader + 'static>(
    file: &Arc<R>,
    metadata: &ParquetMetaData,
    row_groups: &[usize],
    equality: Equality,
    values: &[String],
) -> parquet::errors::Result<Option<RowSelection>> {
    let schema = metadata.file_metadata().schema_descr();
    let total: usize = row_groups
        .iter()
        .map(|&rg| metadata.row_group(rg).num_rows() as usize)
        .sum();
    let mut passing = RowSelection::from(vec![RowSelector::skip(total)]);
    for name in equality.columns() {
        let Some(column) = schema.columns().iter().position(|c| {
            c.path().parts() == [*name] && c.physical_type() == parquet::basic::Type::BYTE_ARRAY
        }) else {
            continue;
        };
        match rows_wanted(
            file,
            metadata,
            row_groups,
            column,
            Equality::matcher(values),
        )? {
            Some(rows) => passing = passing.union(&rows),
            None => return Ok(None),
        }
    }
    Ok(Some(passing))
}

/// The leaf index of the content column, if the file has it as byte arrays (a foreign file's
/// other type takes the Arrow route, which reports it).
fn content_column(schema: &parquet::schema::types::SchemaDescriptor) -> Option<usize> {
    schema.columns().iter().position(|c| {
        c.path().parts() == [col::CONTENT]
            && c.physical_type() == parquet::basic::Type::BYTE_ARRAY
            && c.max_rep_level() == 0
    })
}

/// The schema version a file records (1 when it records none).
fn file_version(metadata: &ParquetMetaData) -> u32 {
    metadata
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|e| e.key == SCHEMA_VERSION_KEY))
        .and_then(|e| e.value.as_deref()?.parse().ok())
        .unwrap_or(1)
}

/// Rows of an older file (every stored column) upgraded, derived, and filtered on the derived
/// columns too.
fn derive_on_read(path: &Path, batch: &RecordBatch, plan: &ScanPlan) -> Result<RecordBatch> {
    let full = crate::lake::reader::conform(path, batch, &arrow_schema())?;
    let (upgraded, _) = crate::lake::upgrade::upgrade_batch(&full);
    if !plan.filter.reads_derived() {
        return Ok(upgraded);
    }
    let keep = plan
        .filter
        .evaluate(&upgraded, Some(&plan.range), &plan.matcher)
        .map_err(|e| corrupt(path, e))?;
    arrow_select::filter::filter_record_batch(&upgraded, &keep).map_err(|e| corrupt(path, e))
}

/// Which row groups and rows of a file the statistics leave to read.
struct Pruning {
    row_groups: Vec<usize>,
    /// Rows of `row_groups` (concatenated) to read; `None` for all.
    selection: Option<RowSelection>,
    /// Whether some kept row group has rows outside the time range.
    needs_time_filter: bool,
}

impl Pruning {
    fn new(
        path: &Path,
        metadata: &ParquetMetaData,
        file_schema: &Schema,
        plan: &ScanPlan,
        filter: &Filter,
    ) -> Result<Self> {
        let parquet_schema = metadata.file_metadata().schema_descr();
        let converter = |name: &str| {
            file_schema
                .column_with_name(name)
                .and_then(|_| StatisticsConverter::try_new(name, file_schema, parquet_schema).ok())
        };
        let err = |e| corrupt(path, e);
        let time = converter(col::CREATE_TIME)
            .ok_or_else(|| Error::data(path, "no create_time column: not a wxlake file"))?;
        let groups = filter.pruning_groups();
        let rgs = metadata.row_groups();
        let time_stats = column_stats(&time, rgs, None).map_err(err)?;
        let mut group_stats = Vec::new();
        for group in &groups {
            let mut members = Vec::new();
            for name in group.iter() {
                if let Some(conv) = converter(name) {
                    members.push((*name, column_stats(&conv, rgs, None).map_err(err)?, conv));
                }
            }
            group_stats.push(members);
        }

        let mut pruning = Pruning {
            row_groups: Vec::new(),
            selection: None,
            needs_time_filter: false,
        };
        let page_index = metadata.page_index().filter(|p| p.is_complete());
        let mut selectors: Vec<RowSelector> = Vec::new();
        let mut skipped_any = false;
        for rg in 0..rgs.len() {
            let (tmin, tmax) = time_stats.int64(rg);
            let time_known = tmin.is_some() && tmax.is_some();
            if time_known && !plan.range.overlaps(tmin.unwrap(), tmax.unwrap()) {
                continue;
            }
            if !group_stats.iter().all(|members| {
                members
                    .iter()
                    .any(|(name, s, _)| s.may_match(filter, name, rg))
            }) {
                continue;
            }
            let covered = time_known && plan.range.covers(tmin.unwrap(), tmax.unwrap());
            let rows = rgs[rg].num_rows() as usize;
            let Some(page_index) = page_index else {
                pruning.needs_time_filter |= !covered;
                pruning.row_groups.push(rg);
                selectors.push(RowSelector::select(rows));
                continue;
            };
            let pages = |conv: &StatisticsConverter| {
                column_stats(conv, rgs, Some((page_index.as_ref(), rg))).map_err(err)
            };
            let mut selection = RowSelection::from(vec![RowSelector::select(rows)]);
            if !covered {
                let p = pages(&time)?;
                selection = selection.intersection(&p.selection(rows, |i| {
                    let (lo, hi) = p.int64(i);
                    lo.zip(hi)
                        .is_none_or(|(lo, hi)| plan.range.overlaps(lo, hi))
                }));
            }
            for members in &group_stats {
                let mut any = RowSelection::from(vec![RowSelector::skip(rows)]);
                for (name, _, conv) in members {
                    let p = pages(conv)?;
                    any = any.union(&p.selection(rows, |i| p.may_match(filter, name, i)));
                }
                selection = selection.intersection(&any);
            }
            if !selection.selects_any() {
                continue;
            }
            pruning.needs_time_filter |= !covered;
            pruning.row_groups.push(rg);
            skipped_any |= selection.row_count() < rows;
            selectors.extend(selection.iter().copied());
        }
        if skipped_any {
            pruning.selection = Some(RowSelection::from(selectors));
        }
        Ok(pruning)
    }
}

/// Min/max/null statistics of one column, per row group or per page of one row group.
struct ColumnStats {
    mins: ArrayRef,
    maxes: ArrayRef,
    nulls: UInt64Array,
    rows: Option<UInt64Array>,
}

fn column_stats(
    conv: &StatisticsConverter,
    rgs: &[parquet::file::metadata::RowGroupMetaData],
    pages_of: Option<(
        &dyn parquet::file::metadata::page_index::PageIndexProvider,
        usize,
    )>,
) -> parquet::errors::Result<ColumnStats> {
    match pages_of {
        None => Ok(ColumnStats {
            mins: conv.row_group_mins(rgs)?,
            maxes: conv.row_group_maxes(rgs)?,
            nulls: conv.row_group_null_counts(rgs)?,
            rows: conv.row_group_row_counts(rgs)?,
        }),
        Some((index, rg)) => Ok(ColumnStats {
            mins: conv.data_page_mins(index, [&rg])?,
            maxes: conv.data_page_maxes(index, [&rg])?,
            nulls: conv.data_page_null_counts(index, [&rg])?,
            rows: conv.data_page_row_counts(index, rgs, [&rg])?,
        }),
    }
}

impl ColumnStats {
    fn int64(&self, i: usize) -> (Option<i64>, Option<i64>) {
        let get = |a: &ArrayRef| {
            a.as_primitive_opt::<Int64Type>()
                .and_then(|a| a.is_valid(i).then(|| a.value(i)))
        };
        (get(&self.mins), get(&self.maxes))
    }

    fn all_null(&self, i: usize) -> bool {
        let rows = self
            .rows
            .as_ref()
            .and_then(|r| r.is_valid(i).then(|| r.value(i)));
        let nulls = self.nulls.is_valid(i).then(|| self.nulls.value(i));
        matches!((nulls, rows), (Some(n), Some(r)) if n == r)
    }

    /// Whether entry `i` (a row group or a page) may satisfy the filter on column `name`.
    fn may_match(&self, filter: &Filter, name: &str, i: usize) -> bool {
        let all_null = self.all_null(i);
        if name == col::MSG_TYPE {
            let get = |a: &ArrayRef| {
                a.as_primitive_opt::<Int32Type>()
                    .and_then(|a| a.is_valid(i).then(|| a.value(i)))
            };
            return filter.type_may_match(Stats {
                min: get(&self.mins),
                max: get(&self.maxes),
                all_null,
            });
        }
        fn get(a: &ArrayRef, i: usize) -> Option<&str> {
            a.as_string_opt::<i32>()
                .and_then(|a| a.is_valid(i).then(|| a.value(i)))
        }
        filter.string_may_match(
            name,
            Stats {
                min: get(&self.mins, i),
                max: get(&self.maxes, i),
                all_null,
            },
        )
    }

    /// The rows of a row group of `rows` rows whose page `i` satisfies `keep(i)`. Without
    /// page row counts, every row.
    fn selection(&self, rows: usize, keep: impl Fn(usize) -> bool) -> RowSelection {
        let Some(counts) = &self.rows else {
            return RowSelection::from(vec![RowSelector::select(rows)]);
        };
        if counts.null_count() > 0 || counts.values().iter().sum::<u64>() != rows as u64 {
            return RowSelection::from(vec![RowSelector::select(rows)]);
        }
        let mut start = 0;
        let ranges = counts.values().iter().enumerate().filter_map(|(i, &n)| {
            let range = start..start + n as usize;
            start += n as usize;
            keep(i).then_some(range)
        });
        let ranges: Vec<_> = ranges.collect();
        RowSelection::from_consecutive_ranges(ranges.into_iter(), rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::query::filter::TextMatcher;
    use crate::lake::writer::{Codec, PAGE_ROWS, RowBuffer, writer_properties};
    use crate::record::{Record, arrow_schema, text};
    use parquet::arrow::ArrowWriter;

    #[test]
    fn regression_a_content_column_of_another_type_takes_the_arrow_route() {
        // The byte search read any `content` leaf as byte arrays: a foreign file's INT64 content
        // made parquet's column reader panic.
        let schema = |content: &str| {
            let message = format!("message m {{ required int64 create_time; {content}; }}");
            let t = parquet::schema::parser::parse_message_type(&message).unwrap();
            parquet::schema::types::SchemaDescriptor::new(Arc::new(t))
        };
        assert_eq!(
            content_column(&schema("optional binary content (STRING)")),
            Some(1)
        );
        assert_eq!(content_column(&schema("optional int64 content")), None);
        assert_eq!(
            content_column(&schema("repeated binary content (STRING)")),
            None
        );
    }

    /// A lake file in memory: row group 1 holds chatroom `a` at times 0..2048 (two pages of
    /// 1,024 rows), row group 2 chatroom `b` at times 10,000..10,100; every 100th row of each
    /// says "needle".
    fn file() -> bytes::Bytes {
        let mut out = Vec::new();
        let props = writer_properties(Codec::Snappy, None).unwrap();
        let mut w = ArrowWriter::try_new(&mut out, arrow_schema(), Some(props)).unwrap();
        for (room, start, n) in [("a", 0i64, 2 * PAGE_ROWS), ("b", 10_000, 100)] {
            let mut b = RowBuffer::default();
            for i in 0..n {
                let mut r = Record {
                    msg_id: format!("{room}{i}").into(),
                    create_time: start + i as i64,
                    msg_type: Some(1),
                    ..Default::default()
                };
                r.text[text::CHATROOM] = Some(room.into());
                let said = if i % 100 == 0 { "a needle" } else { "hay" };
                r.text[text::CONTENT] = Some(said.into());
                b.push(&r);
            }
            w.write(&b.take_batch()).unwrap();
            w.flush().unwrap();
        }
        w.close().unwrap();
        bytes::Bytes::from(out)
    }

    fn plan(start: i64, end: i64, filter: Filter, columns: &[&str]) -> ScanPlan {
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|c| {
                    let f = arrow_schema().field_with_name(c).unwrap().clone();
                    f.with_nullable(true)
                })
                .collect::<Vec<_>>(),
        ));
        ScanPlan {
            range: TimeRange {
                start,
                end,
                first_day: chrono::NaiveDate::MIN,
                last_day: chrono::NaiveDate::MIN,
            },
            matcher: TextMatcher::new(&filter.contains, filter.ignore_case),
            filter: Arc::new(filter),
            schema,
        }
    }

    /// The values of the first column (strings) of `batches`, in order.
    fn first_column(batches: &[RecordBatch]) -> Vec<String> {
        batches
            .iter()
            .flat_map(|b| {
                let a = b.column(0).as_string::<i32>();
                (0..a.len())
                    .map(|i| a.value(i).to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn count(plan: &ScanPlan) -> (u64, ScanStats) {
        let mut stats = ScanStats::default();
        let n = count_file(Path::new("mem.parquet"), file(), plan, &mut stats).unwrap();
        (n, stats)
    }

    #[test]
    fn statistics_skip_row_groups_and_pages_that_cannot_match() {
        // Everything.
        let (n, s) = count(&plan(0, 1 << 40, Filter::default(), &[col::CREATE_TIME]));
        assert_eq!((n, s.row_groups, s.row_groups_skipped), (2148, 2, 0));
        // A chatroom: the other row group is never read.
        let only_b = Filter {
            chatrooms: vec!["b".into()],
            ..Filter::default()
        };
        let (n, s) = count(&plan(0, 1 << 40, only_b, &[col::CREATE_TIME]));
        assert_eq!((n, s.row_groups_skipped), (100, 1));
        // A time range inside a's second page: its first page is skipped by the page index.
        let (n, s) = count(&plan(1500, 1600, Filter::default(), &[col::CREATE_TIME]));
        assert_eq!(n, 100);
        assert_eq!(s.row_groups_skipped, 1, "b lies after the range");
        assert_eq!(s.rows_skipped_by_page_index, PAGE_ROWS as u64);
        // A chatroom no row group holds: nothing is decoded.
        let none = Filter {
            chatrooms: vec!["zz".into()],
            ..Filter::default()
        };
        let (n, s) = count(&plan(0, 1 << 40, none, &[col::CREATE_TIME]));
        assert_eq!((n, s.row_groups_skipped), (0, 2));
    }

    #[test]
    fn filters_that_cannot_prune_run_on_the_rows_and_read_back_the_same_values() {
        let needle = Filter {
            contains: vec!["needle".into()],
            ..Filter::default()
        };
        let p = plan(0, 1 << 40, needle, &[col::MSG_ID, col::CONTENT]);
        let mut stats = ScanStats::default();
        let batches = read_file(Path::new("mem.parquet"), file(), &p, &mut stats).unwrap();
        let ids = first_column(&batches);
        let mut want: Vec<String> = (0..2 * PAGE_ROWS)
            .step_by(100)
            .map(|i| format!("a{i}"))
            .collect();
        want.push("b0".into());
        assert_eq!(ids, want);
        assert_eq!(stats.rows_matched, want.len() as u64);
        assert_eq!(
            batches[0].schema(),
            p.schema,
            "the plan's columns, in its order"
        );
        // The content shown is the one the search collected (no other filter): the same rows
        // and values as the Arrow reader's decoding of it (another filter, which keeps all rows),
        // also ignoring case (the column reader's route).
        let rows_of = |filter: Filter| {
            let p = plan(0, 1 << 40, filter, &[col::CONTENT, col::MSG_ID]);
            let batches = read_file(
                Path::new("mem.parquet"),
                file(),
                &p,
                &mut ScanStats::default(),
            )
            .unwrap();
            arrow_select::concat::concat_batches(&p.schema, &batches).unwrap()
        };
        let spliced = rows_of(Filter {
            contains: vec!["needle".into()],
            ..Filter::default()
        });
        let decoded = rows_of(Filter {
            contains: vec!["needle".into()],
            types: vec![1],
            ..Filter::default()
        });
        let ignoring_case = rows_of(Filter {
            contains: vec!["NEEDLE".into()],
            ignore_case: true,
            ..Filter::default()
        });
        assert_eq!(spliced.num_rows(), want.len());
        assert_eq!(spliced, decoded);
        assert_eq!(spliced, ignoring_case);
        assert!(
            spliced
                .column(0)
                .as_string::<i32>()
                .iter()
                .all(|c| c == Some("a needle")),
            "every row shows its own content"
        );
        // Kinds are pruned by their statistics too: no row group holds a link.
        let links = Filter {
            kinds: vec!["link".into()],
            ..Filter::default()
        };
        let (n, s) = count(&plan(0, 1 << 40, links, &[col::CREATE_TIME]));
        assert_eq!((n, s.row_groups_skipped), (0, 2));
    }

    /// 3,000 rows in one row group (three pages) at times 0..3000: from_username `wxid_x` on
    /// every third row, null on the next, others between; chatroom_sender `wxid_x` on every
    /// seventh row, else null; kind `image` (msg_type 3) on every fourth row, else `text`.
    fn senders_file() -> bytes::Bytes {
        let mut out = Vec::new();
        let props = writer_properties(Codec::Snappy, None).unwrap();
        let mut w = ArrowWriter::try_new(&mut out, arrow_schema(), Some(props)).unwrap();
        let mut b = RowBuffer::default();
        for i in 0..3000usize {
            let mut r = Record {
                msg_id: i.to_string().into(),
                create_time: i as i64,
                // Kind image (3) on every fourth row, text (1) on the others.
                msg_type: Some(if i.is_multiple_of(4) { 3 } else { 1 }),
                ..Default::default()
            };
            r.text[text::CHATROOM] = Some("r@chatroom".into());
            r.text[text::FROM_USERNAME] = match i % 3 {
                0 => Some("wxid_x".into()),
                1 => None,
                _ => Some(format!("wxid_{}", i % 50).into()),
            };
            r.text[text::CHATROOM_SENDER] = (i.is_multiple_of(7)).then(|| "wxid_x".into());
            b.push(&r);
        }
        w.write(&b.take_batch()).unwrap();
        w.close().unwrap();
        bytes::Bytes::from(out)
    }

    #[test]
    fn sender_and_kind_filters_decided_on_dictionaries_keep_the_rows_a_row_filter_keeps() {
        let bytes = senders_file();
        let reader =
            parquet::file::serialized_reader::SerializedFileReader::new(bytes.clone()).unwrap();
        let meta = parquet::file::reader::FileReader::metadata(&reader);
        for name in [col::FROM_USERNAME, col::CHATROOM_SENDER, col::KIND] {
            let i = meta
                .file_metadata()
                .schema_descr()
                .columns()
                .iter()
                .position(|c| c.name() == name)
                .unwrap();
            assert!(
                meta.row_group(0)
                    .column(i)
                    .dictionary_page_offset()
                    .is_some(),
                "{name} is dictionary-encoded: this test covers the dictionary route"
            );
        }
        let from_x = |i: usize| i.is_multiple_of(3) || i.is_multiple_of(7);
        type Keep = Box<dyn Fn(usize) -> bool>;
        let cases: [(Filter, i64, i64, Keep); 4] = [
            (
                Filter {
                    senders: vec!["wxid_x".into()],
                    ..Filter::default()
                },
                0,
                1 << 40,
                Box::new(from_x),
            ),
            (
                Filter {
                    senders: vec!["wxid_x".into(), "wxid_2".into()],
                    kinds: vec!["image".into()],
                    ..Filter::default()
                },
                100,
                2500,
                Box::new(move |i| {
                    (from_x(i) || (i % 3 == 2 && i % 50 == 2)) && i.is_multiple_of(4)
                }),
            ),
            (
                Filter {
                    kinds: vec!["image".into()],
                    ..Filter::default()
                },
                0,
                1 << 40,
                Box::new(|i| i.is_multiple_of(4)),
            ),
            (
                Filter {
                    senders: vec!["nobody".into()],
                    ..Filter::default()
                },
                0,
                1 << 40,
                Box::new(|_| false),
            ),
        ];
        for (filter, start, end, keep) in cases {
            let want: Vec<String> = (0..3000usize)
                .filter(|&i| (start..=end).contains(&(i as i64)) && keep(i))
                .map(|i| i.to_string())
                .collect();
            let p = plan(start, end, filter.clone(), &[col::MSG_ID]);
            let mut stats = ScanStats::default();
            let n = count_file(Path::new("mem.parquet"), bytes.clone(), &p, &mut stats).unwrap();
            assert_eq!(n as usize, want.len(), "{filter:?}");
            let batches =
                read_file(Path::new("mem.parquet"), bytes.clone(), &p, &mut stats).unwrap();
            let ids = first_column(&batches);
            assert_eq!(ids, want, "{filter:?}");
        }
    }

    #[test]
    fn collected_content_is_shown_on_its_own_rows_across_batches_and_row_groups() {
        // 20,000 rows in two row groups, 18,000 matching: three batches of 8,192 and more.
        let mut out = Vec::new();
        let props = writer_properties(Codec::Snappy, None).unwrap();
        let mut w = ArrowWriter::try_new(&mut out, arrow_schema(), Some(props)).unwrap();
        for part in [0..12_000usize, 12_000..20_000] {
            let mut b = RowBuffer::default();
            for i in part {
                let mut r = Record {
                    msg_id: i.to_string().into(),
                    create_time: i as i64,
                    msg_type: Some(1),
                    ..Default::default()
                };
                r.text[text::CHATROOM] = Some("r@chatroom".into());
                r.text[text::CONTENT] = Some(if i.is_multiple_of(10) {
                    format!("hay {i}").into()
                } else {
                    format!("needle {i}").into()
                });
                b.push(&r);
            }
            w.write(&b.take_batch()).unwrap();
            w.flush().unwrap();
        }
        w.close().unwrap();
        let bytes = bytes::Bytes::from(out);
        let filter = Filter {
            contains: vec!["needle".into()],
            ..Filter::default()
        };
        let p = plan(0, 1 << 40, filter, &[col::MSG_ID, col::CONTENT]);
        let batches = read_file(
            Path::new("mem.parquet"),
            bytes,
            &p,
            &mut ScanStats::default(),
        )
        .unwrap();
        assert!(batches.len() >= 3, "{} batches", batches.len());
        let mut rows = 0;
        for b in &batches {
            let (ids, contents) = (
                b.column(0).as_string::<i32>(),
                b.column(1).as_string::<i32>(),
            );
            for i in 0..b.num_rows() {
                assert_eq!(contents.value(i), format!("needle {}", ids.value(i)));
            }
            rows += b.num_rows();
        }
        assert_eq!(rows, 18_000);
    }
}
