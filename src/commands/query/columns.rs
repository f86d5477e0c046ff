//! Which columns a query shows, checked against the schema, and the computed name columns
//! (the display name of a sender or chatroom as of each message).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::SchemaRef;

use crate::directory::{Directory, Resolved};
use crate::error::{Error, Result};
use crate::record::{arrow_schema, col};

use super::*;

/// The output columns, and the directory the name columns come from.
pub(super) struct Projection<'a> {
    pub schema: &'a SchemaRef,
    pub names: Option<&'a Directory>,
    /// The last column is `as_sent`, added to be applied (not shown) by the JSON sink.
    pub as_sent_overlay: bool,
}

impl Projection<'_> {
    /// `batch` restricted to the output columns, in order, with the name columns computed.
    pub fn apply(&self, batch: &RecordBatch) -> RecordBatch {
        project(batch, self.schema, self.names)
    }
}

fn project(batch: &RecordBatch, schema: &SchemaRef, names: Option<&Directory>) -> RecordBatch {
    let columns = schema
        .fields()
        .iter()
        .map(|f| match (f.name().as_str(), names) {
            (name_col::SENDER_NAME, Some(d)) => {
                name_column(batch, d, &[col::CHATROOM_SENDER, col::FROM_USERNAME])
            }
            (name_col::CHATROOM_NAME, Some(d)) => name_column(batch, d, &[col::CHATROOM]),
            (name, _) => Arc::clone(batch.column_by_name(name).expect("scanned")),
        })
        .collect();
    RecordBatch::try_new(Arc::clone(schema), columns).expect("same columns")
}

/// For each row, the display name as of its create_time of the first non-empty id among
/// `sources` (or that id when nobody names it; null without one).
fn name_column(batch: &RecordBatch, d: &Directory, sources: &[&str]) -> arrow_array::ArrayRef {
    let times = batch
        .column_by_name(col::CREATE_TIME)
        .expect("scanned")
        .as_primitive::<Int64Type>();
    let ids: Vec<&StringArray> = sources
        .iter()
        .filter_map(|c| batch.column_by_name(c).map(|a| a.as_string::<i32>()))
        .collect();
    let names: StringArray = (0..batch.num_rows())
        .map(|i| {
            let id = ids
                .iter()
                .filter(|a| a.is_valid(i))
                .map(|a| a.value(i))
                .find(|v| !v.is_empty())?;
            let state = times
                .is_valid(i)
                .then(|| d.as_of(id, times.value(i)))
                .flatten();
            Some(
                state
                    .and_then(|s| s.display_name())
                    .unwrap_or(id)
                    .to_string(),
            )
        })
        .collect();
    Arc::new(names)
}

/// `--chatroom`/`--from` values with names replaced by ids.
pub(super) fn resolve_names(
    d: &Directory,
    flag: &'static str,
    values: &[String],
    chatrooms: bool,
) -> Result<Vec<String>> {
    values
        .iter()
        .map(|v| match d.resolve(v, chatrooms) {
            Resolved::Id(id) | Resolved::Named(id) => Ok(id),
            Resolved::Unknown(name) => {
                tracing::warn!(
                    "no {} is called {name:?} and no id is {name:?}: nothing matches it; see `wxlake contacts --search {name}`",
                    if chatrooms { "chatroom" } else { "contact" }
                );
                Ok(name)
            }
            Resolved::Ambiguous(candidates) => Err(Error::usage(
                flag,
                v.clone(),
                format!(
                    "several {} are called that: {}; pass one of the ids",
                    if chatrooms { "chatrooms" } else { "contacts" },
                    candidates
                        .iter()
                        .map(|(id, name)| format!("{id} ({name})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        })
        .collect()
}

/// The validated output columns.
pub(super) fn output_columns(opts: &QueryOptions) -> Result<Vec<&'static str>> {
    let all = arrow_schema();
    let stored: Vec<&'static str> = crate::record::COLUMNS.to_vec();
    if opts.format == Format::Transcript {
        if let Some(requested) = &opts.columns {
            return Err(Error::usage(
                "--columns",
                requested.join(","),
                "a transcript has its own columns (time, chatroom, sender, text); use another --format to choose columns",
            ));
        }
        return Ok(output::transcript::COLUMNS.to_vec());
    }
    let Some(requested) = &opts.columns else {
        return Ok(if opts.format == Format::Table {
            TABLE_COLUMNS.to_vec()
        } else {
            // What the collector sent: derived columns only when asked for.
            crate::record::SENT_COLUMNS.to_vec()
        });
    };
    let known: Vec<&'static str> = stored.iter().chain(&NAME_COLUMNS).copied().collect();
    let mut out: Vec<&'static str> = Vec::new();
    for name in requested {
        let name = name.trim();
        let Some(c) = known.iter().find(|k| **k == name) else {
            return Err(Error::usage(
                "--columns",
                requested.join(","),
                format!(
                    "unknown column '{name}'; the columns are {}",
                    known.join(", ")
                ),
            ));
        };
        if out.contains(c) {
            return Err(Error::usage(
                "--columns",
                requested.join(","),
                format!("column '{name}' is listed twice"),
            ));
        }
        out.push(c);
    }
    if out.is_empty() {
        return Err(Error::usage("--columns", "", "name at least one column"));
    }
    debug_assert!(
        out.iter()
            .all(|c| all.field_with_name(c).is_ok() || NAME_COLUMNS.contains(c))
    );
    Ok(out)
}
