//! The input contract: one raw JSONL line → a typed [`Record`], a blank, or a [`Reject`].
//!
//! Pure: no I/O, no clock. The rules (also in the README):
//! - `msg_id`: a non-empty string, or a JSON integer of any size kept as its exact digits.
//! - `create_time`: an integer or a digit string; values ≥ 10^11 are milliseconds. Must be > 0.
//! - `msg_type`: an integer or a digit string that fits Int32.
//! - the text columns: strings; `source` also takes a number (its text) or an object/array
//!   (compact JSON text).
//! - a known key with an unusable type becomes null and keeps its original value in
//!   `extra_fields` (a *type conflict*); unknown keys go to `extra_fields` with their values
//!   verbatim. Nothing a collector sent is dropped.
//! - lone UTF-16 surrogate escapes are repaired to U+FFFD (*repaired*).
//! - invalid UTF-8 or JSON, a non-object, two values on one line, a duplicate key, or a missing or
//!   unusable `msg_id`/`create_time` reject the whole line.

use std::borrow::Cow;

use crate::json_object::{Entry, ObjectError, parse_object};
use crate::json_text::{compact, compact_into, repair_lone_surrogates, unescape};
use crate::record::{Record, TEXT_COLUMNS, col};

/// Unix seconds at and above which a `create_time` is taken to be in milliseconds.
pub const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// A day before 10000-01-01T00:00:00Z: partitions have four-digit years in every time zone.
const MAX_SECONDS: i64 = 253_402_300_800 - 86_400;

/// What one line turned into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// Empty or whitespace only.
    Blank,
    /// A message to store.
    Record(Normalized<'a>),
    /// A line that cannot be stored; it goes to quarantine.
    Reject(Reject),
}

/// A normalized message and what normalization had to do to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized<'a> {
    pub record: Record<'a>,
    /// Known keys whose value had an unusable type (set to null, kept in `extra_fields`).
    pub type_conflicts: u32,
    /// Lone surrogate escapes were replaced with U+FFFD.
    pub repaired: bool,
}

/// Why a line was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("invalid UTF-8 at byte {0} of the line")]
    InvalidUtf8(usize),
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("not a JSON object: {0}")]
    NotAnObject(String),
    #[error("more than one JSON value on the line")]
    TrailingData,
    #[error("duplicate key \"{0}\"")]
    DuplicateKey(String),
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("unusable {field} {value}: {why}")]
    Unusable {
        field: &'static str,
        value: String,
        why: &'static str,
    },
}

impl Reject {
    /// A stable machine-readable code for the quarantine file.
    pub fn code(&self) -> &'static str {
        match self {
            Reject::InvalidUtf8(_) => "invalid_utf8",
            Reject::InvalidJson(_) => "invalid_json",
            Reject::NotAnObject(_) => "not_an_object",
            Reject::TrailingData => "trailing_data",
            Reject::DuplicateKey(_) => "duplicate_key",
            Reject::Missing(_) => "missing_field",
            Reject::Unusable { .. } => "unusable_field",
        }
    }
}

/// Normalize one line (without its line terminator; a trailing CR is tolerated).
pub fn normalize_line(line: &[u8]) -> Line<'_> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // JSON whitespace only: a form feed is not blank, it is invalid JSON.
    if line
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    {
        return Line::Blank;
    }
    // simdutf8 validates several times faster than std; std then locates the bad byte.
    let text = match simdutf8::basic::from_utf8(line) {
        Ok(text) => text,
        Err(_) => {
            let valid_up_to = std::str::from_utf8(line).map_or_else(|e| e.valid_up_to(), |_| 0);
            return Line::Reject(Reject::InvalidUtf8(valid_up_to));
        }
    };
    let first = parse_entries(text).and_then(build_record);
    // serde_json skips over escapes inside raw values, so a lone surrogate may surface only
    // when a string is decoded, or never (inside an unknown field): look for one whenever the
    // line failed or has a surrogate escape at all.
    if first.is_ok() && !has_surrogate_escape(line) {
        return to_line(first);
    }
    let Some(fixed) = repair_lone_surrogates(line) else {
        return to_line(first);
    };
    // The repair only rewrites ASCII escapes, so the text stays valid UTF-8.
    let fixed = String::from_utf8(fixed).expect("repair keeps UTF-8");
    match parse_entries(&fixed).and_then(build_record) {
        Ok(n) => {
            let mut n = n.into_owned();
            n.repaired = true;
            Line::Record(n)
        }
        Err(e) => Line::Reject(first.err().unwrap_or(e)),
    }
}

fn to_line(result: Result<Normalized<'_>, Reject>) -> Line<'_> {
    match result {
        Ok(n) => Line::Record(n),
        Err(r) => Line::Reject(r),
    }
}

/// Whether the line has a `\uD8..`–`\uDF..` escape (or something that looks like one).
fn has_surrogate_escape(line: &[u8]) -> bool {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    // Two vectorized substring scans, instead of a look at every backslash (XML sources hold
    // dozens of `\n`/`\t` escapes per line).
    static LOWER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\\ud"));
    static UPPER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\\uD"));
    LOWER.find(line).is_some() || UPPER.find(line).is_some()
}

impl Normalized<'_> {
    fn into_owned(self) -> Normalized<'static> {
        Normalized {
            record: self.record.into_owned(),
            type_conflicts: self.type_conflicts,
            repaired: self.repaired,
        }
    }
}

type Entries<'a> = Vec<Entry<'a>>;

fn parse_entries(text: &str) -> Result<Entries<'_>, Reject> {
    let mut entries = Vec::with_capacity(12);
    parse_object(text, &mut entries).map_err(|e| match e {
        ObjectError::Syntax(msg) => Reject::InvalidJson(msg),
        ObjectError::NotAnObject(found) => Reject::NotAnObject(found.to_string()),
        ObjectError::Trailing => Reject::TrailingData,
        ObjectError::DuplicateKey(key) => Reject::DuplicateKey(key),
        ObjectError::BadKeyEscape => {
            Reject::InvalidJson("lone surrogate escape in a key".to_string())
        }
    })?;
    Ok(entries)
}

/// The JSON kind of a raw value, read from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Integer,
    Float,
    Bool,
    Null,
    Object,
    Array,
}

fn kind(raw: &str) -> Kind {
    match raw.as_bytes().first() {
        Some(b'"') => Kind::String,
        Some(b'{') => Kind::Object,
        Some(b'[') => Kind::Array,
        Some(b't' | b'f') => Kind::Bool,
        Some(b'n') => Kind::Null,
        _ if raw.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) => Kind::Float,
        _ => Kind::Integer,
    }
}

/// The decoded contents of a raw JSON string; borrows when there is nothing to unescape.
/// Fails on a lone surrogate escape (which the raw-value parser lets through).
fn string_value(raw: &str) -> Result<Cow<'_, str>, Reject> {
    let inner = &raw[1..raw.len() - 1];
    if crate::json_text::next_backslash(inner.as_bytes()) == inner.len() {
        Ok(Cow::Borrowed(inner))
    } else {
        unescape(inner)
            .map(Cow::Owned)
            .map_err(|_| Reject::InvalidJson(format!("lone surrogate escape in {}", excerpt(raw))))
    }
}

fn digits_only(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn excerpt(raw: &str) -> String {
    const MAX: usize = 40;
    match raw.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &raw[..cut]),
        None => raw.to_string(),
    }
}

fn msg_id(raw: &str) -> Result<Cow<'_, str>, Reject> {
    let unusable = |why| Reject::Unusable {
        field: col::MSG_ID,
        value: excerpt(raw),
        why,
    };
    match kind(raw) {
        Kind::Integer => Ok(Cow::Borrowed(raw)),
        Kind::String => {
            let id = string_value(raw)?;
            if id.is_empty() {
                Err(unusable("empty string"))
            } else {
                Ok(id)
            }
        }
        Kind::Null => Err(unusable("null")),
        _ => Err(unusable("expected a string or an integer")),
    }
}

fn create_time(raw: &str) -> Result<i64, Reject> {
    let unusable = |why| Reject::Unusable {
        field: col::CREATE_TIME,
        value: excerpt(raw),
        why,
    };
    let digits: Cow<'_, str> = match kind(raw) {
        Kind::Integer => Cow::Borrowed(raw),
        Kind::String => {
            let s = string_value(raw)?;
            if !digits_only(&s) {
                return Err(unusable("a string must hold digits only"));
            }
            s
        }
        _ => return Err(unusable("expected an integer or a digit string")),
    };
    let value: i64 = digits.parse().map_err(|_| unusable("out of range"))?;
    let seconds = if value >= MILLIS_THRESHOLD {
        value.div_euclid(1000)
    } else {
        value
    };
    if seconds <= 0 {
        return Err(unusable("must be after 1970-01-01"));
    }
    if seconds >= MAX_SECONDS {
        return Err(unusable("after the year 9999"));
    }
    Ok(seconds)
}

/// `Ok(None)` for an unusable value.
fn msg_type(raw: &str) -> Result<Option<i32>, Reject> {
    Ok(match kind(raw) {
        Kind::Integer => raw.parse().ok(),
        Kind::String => {
            let s = string_value(raw)?;
            if digits_only(&s) {
                s.parse().ok()
            } else {
                None
            }
        }
        _ => None,
    })
}

/// A text column's value; `Ok(None)` for an unusable type.
fn text_value<'a>(name: &str, raw: &'a str) -> Result<Option<Cow<'a, str>>, Reject> {
    Ok(match kind(raw) {
        Kind::String => Some(string_value(raw)?),
        Kind::Integer | Kind::Float if name == col::SOURCE => Some(Cow::Borrowed(raw)),
        Kind::Object | Kind::Array if name == col::SOURCE => Some(Cow::Owned(compact(raw))),
        _ => None,
    })
}

fn build_record(entries: Entries<'_>) -> Result<Normalized<'_>, Reject> {
    let mut record = Record::default();
    let mut have_id = false;
    let mut have_time = false;
    let mut type_conflicts = 0;
    let mut extras: Vec<(&str, &str)> = Vec::new();
    for (key, raw) in entries.iter().map(|(k, r)| (k.as_ref(), *r)) {
        if kind(raw) == Kind::Null && key != col::MSG_ID && key != col::CREATE_TIME {
            if !is_known(key) {
                extras.push((key, raw));
            }
            continue;
        }
        match key {
            col::MSG_ID => {
                record.msg_id = msg_id(raw)?;
                have_id = true;
            }
            col::CREATE_TIME => {
                record.create_time = create_time(raw)?;
                have_time = true;
            }
            col::MSG_TYPE => match msg_type(raw)? {
                Some(t) => record.msg_type = Some(t),
                None => {
                    type_conflicts += 1;
                    extras.push((key, raw));
                }
            },
            _ => match TEXT_COLUMNS.iter().position(|c| *c == key) {
                Some(i) => match text_value(key, raw)? {
                    Some(v) => record.text[i] = Some(v),
                    None => {
                        type_conflicts += 1;
                        extras.push((key, raw));
                    }
                },
                None => extras.push((key, raw)),
            },
        }
    }
    if !have_id {
        return Err(Reject::Missing(col::MSG_ID));
    }
    if !have_time {
        return Err(Reject::Missing(col::CREATE_TIME));
    }
    if !extras.is_empty() {
        record.extra_fields = Some(Cow::Owned(extra_fields_json(&extras)));
    }
    Ok(Normalized {
        record,
        type_conflicts,
        repaired: false,
    })
}

fn is_known(key: &str) -> bool {
    key == col::MSG_ID
        || key == col::CREATE_TIME
        || key == col::MSG_TYPE
        || TEXT_COLUMNS.contains(&key)
}

/// Append `s` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(&serde_json::to_string(s).expect("strings serialize"));
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

fn extra_fields_json(extras: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(extras.iter().map(|(k, v)| k.len() + v.len() + 4).sum());
    out.push('{');
    for (i, (key, raw)) in extras.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, key);
        out.push(':');
        compact_into(raw, &mut out);
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests;
