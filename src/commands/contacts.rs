//! `wxlake contacts`: who is who — one row per contact, chatroom and official account the
//! collector reported (its latest version, or every version with `--history`), with the name
//! people see (`display_name`: the remark when set, else the nickname).
//!
//! Reads the contacts table only (see [`crate::directory`]); takes no lock.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::commands::query::output::{self, Format};
use crate::commands::query::time_range::{Bound, TimeRange};
use crate::directory::{ContactState, Directory};
use crate::error::{Error, Result};
use crate::lake::session::Reader;

/// What to list.
#[derive(Debug, Clone)]
pub struct ContactsOptions {
    pub data_dir: PathBuf,
    pub timezone: Option<String>,
    /// Only accounts whose username or any name contains this (case-insensitive).
    pub search: Option<String>,
    /// Every version instead of the latest.
    pub history: bool,
    /// As things stood at this moment (a day means its end).
    pub as_of: Option<Bound>,
    pub format: Format,
    pub terminal_width: usize,
}

/// Columns of the listing, in order (`action` only with `--history`).
const COLUMNS: [(&str, DataType); 10] = [
    ("username", DataType::Utf8),
    ("kind", DataType::Utf8),
    ("display_name", DataType::Utf8),
    ("nickname", DataType::Utf8),
    ("remark", DataType::Utf8),
    ("alias", DataType::Utf8),
    ("deleted", DataType::Boolean),
    ("first_seen", DataType::Int64),
    ("last_seen", DataType::Int64),
    ("action", DataType::Utf8),
];

/// List contacts to `out`; returns the number of rows.
pub fn run(opts: &ContactsOptions, out: &mut (dyn Write + Send)) -> Result<u64> {
    let Reader { layout, tz } = Reader::open(&opts.data_dir, opts.timezone.as_deref())?;
    if opts.format == Format::Parquet {
        return Err(Error::usage(
            "--format",
            "parquet",
            "contacts prints table, csv, jsonl or json; read parquet/contacts/ for Parquet",
        ));
    }
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let as_of = opts
        .as_of
        .map(|b| TimeRange::resolve(b, Some(b), tz, today).map(|r| r.end - 1))
        .transpose()?;
    let directory = Directory::load(&layout)?;
    let rows = select(&directory, opts.history, as_of, opts.search.as_deref());
    let schema = schema(opts.history);
    let batch = to_batch(&rows, &schema, opts.history);
    let mut sink = output::sink(
        opts.format,
        Box::new(&mut *out),
        &schema,
        tz,
        opts.terminal_width,
        false,
    )
    .map_err(|e| Error::io("write", "standard output", e))?;
    let positions: Vec<(u32, u32)> = (0..rows.len() as u32).map(|r| (0, r)).collect();
    let written = sink
        .write_rows(std::slice::from_ref(&batch), &positions)
        .and_then(|()| sink.finish());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(Error::io("write", "standard output", e)),
    }
    Ok(rows.len() as u64)
}

/// The states to list: latest (or as of `as_of`), or every version; matching `search`.
pub fn select<'d>(
    d: &'d Directory,
    history: bool,
    as_of: Option<i64>,
    search: Option<&str>,
) -> Vec<&'d ContactState> {
    let needle = search.map(str::to_lowercase);
    let matches = |s: &ContactState| match &needle {
        None => true,
        Some(n) => [
            Some(&s.username),
            s.nickname.as_ref(),
            s.remark.as_ref(),
            s.alias.as_ref(),
        ]
        .into_iter()
        .flatten()
        .any(|v| v.to_lowercase().contains(n.as_str())),
    };
    let seen = |s: &ContactState| as_of.is_none_or(|t| s.last_seen <= t);
    if history {
        d.all_versions().filter(|s| seen(s) && matches(s)).collect()
    } else {
        d.latest()
            .filter_map(|latest| match as_of {
                None => Some(latest),
                Some(t) if latest.first_seen <= t => d.as_of(&latest.username, t),
                Some(_) => None,
            })
            .filter(|s| matches(s))
            .collect()
    }
}

fn schema(history: bool) -> SchemaRef {
    let n = if history {
        COLUMNS.len()
    } else {
        COLUMNS.len() - 1
    };
    Arc::new(Schema::new(
        COLUMNS[..n]
            .iter()
            .map(|(name, t)| Field::new(*name, t.clone(), true))
            .collect::<Vec<_>>(),
    ))
}

fn to_batch(rows: &[&ContactState], schema: &SchemaRef, history: bool) -> RecordBatch {
    let mut text: Vec<StringBuilder> = (0..6).map(|_| StringBuilder::new()).collect();
    let mut deleted = BooleanBuilder::new();
    let mut first = Int64Builder::new();
    let mut last = Int64Builder::new();
    let mut action = StringBuilder::new();
    for s in rows {
        text[0].append_value(&s.username);
        text[1].append_value(s.kind.as_str());
        text[2].append_option(s.display_name());
        text[3].append_option(s.nickname.as_deref());
        text[4].append_option(s.remark.as_deref());
        text[5].append_option(s.alias.as_deref());
        deleted.append_value(s.deleted);
        first.append_value(s.first_seen);
        last.append_value(s.last_seen);
        action.append_value(s.action.as_str());
    }
    let mut columns: Vec<ArrayRef> = text
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    columns.push(Arc::new(deleted.finish()));
    columns.push(Arc::new(first.finish()));
    columns.push(Arc::new(last.finish()));
    if history {
        columns.push(Arc::new(action.finish()));
    }
    RecordBatch::try_new(Arc::clone(schema), columns).expect("columns match the schema")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::ContactAction;
    use crate::directory::Version;

    fn directory() -> Directory {
        let v = |user: &str, action, at, nick: Option<&str>| Version {
            username: user.into(),
            action,
            observed_at: at,
            raw_file: "f".into(),
            line: at,
            nickname: nick.map(String::from),
            remark: None,
            alias: None,
        };
        Directory::from_versions(vec![
            v("wxid_a", ContactAction::Update, 10, Some("Alice")),
            v("wxid_a", ContactAction::Update, 20, Some("Alicia")),
            v("wxid_b", ContactAction::Update, 30, Some("Bob")),
            v("wxid_b", ContactAction::Delete, 40, None),
        ])
    }

    #[test]
    fn latest_history_as_of_and_search() {
        let d = directory();
        let names = |rows: Vec<&ContactState>| -> Vec<(String, Option<String>, bool)> {
            rows.iter()
                .map(|s| {
                    (
                        s.username.clone(),
                        s.display_name().map(String::from),
                        s.deleted,
                    )
                })
                .collect()
        };
        assert_eq!(
            names(select(&d, false, None, None)),
            [
                ("wxid_a".into(), Some("Alicia".into()), false),
                ("wxid_b".into(), Some("Bob".into()), true)
            ]
        );
        assert_eq!(select(&d, true, None, None).len(), 4);
        // As of 15: only wxid_a existed, under its first name.
        assert_eq!(
            names(select(&d, false, Some(15), None)),
            [("wxid_a".into(), Some("Alice".into()), false)]
        );
        assert_eq!(select(&d, true, Some(25), None).len(), 2);
        // Search is case-insensitive over ids and names.
        assert_eq!(names(select(&d, false, None, Some("bOB")))[0].0, "wxid_b");
        assert_eq!(select(&d, false, None, Some("WXID_")).len(), 2);
        assert!(select(&d, false, None, Some("carol")).is_empty());
    }
}
