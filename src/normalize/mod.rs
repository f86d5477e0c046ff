//! The input contract: one raw JSONL line → a typed [`Record`], a blank, or a [`Reject`].
//!
//! Pure: no I/O, no clock. The rules (also in the README):
//! - `msg_id`: a non-empty string, or a JSON integer of any size kept as its exact digits.
//! - `create_time`: an integer or a digit string; values ≥ 10^11 are milliseconds. Must be > 0.
//! - `msg_type`: an integer or a digit string that fits Int32, or a WeChat 4.x packed type
//!   (`subtype << 32 | type`, ≥ 2^32): split into `msg_type` (the low 32 bits) and the app
//!   subtype (which becomes `app_type`), the number as sent kept in `as_sent`.
//! - a message from a group (`from_username` is the chatroom) with an empty `chatroom_sender`
//!   whose content starts with a `wxid:\n` prefix (pad/iPad protocol collectors) gets that id
//!   as `chatroom_sender`; content stays as sent, the empty value is kept in `as_sent`.
//! - the text columns: strings; `source` also takes a number (its text) or an object/array
//!   (compact JSON text).
//! - a known key with an unusable type becomes null and keeps its original value in
//!   `extra_fields` (a *type conflict*); unknown keys go to `extra_fields` with their values
//!   verbatim. Nothing a collector sent is dropped.
//! - lone UTF-16 surrogate escapes are repaired to U+FFFD (*repaired*).
//! - invalid UTF-8 or JSON, a non-object, two values on one line, a duplicate key, or a missing or
//!   unusable `msg_id`/`create_time` reject the whole line.
//!
//! Webhook collectors wrap each record in an *envelope* `{"guid", "notify_type", "data": {…}}`:
//! an object with an object under `data` and no top-level `msg_id`. Its `data` is the record,
//! `guid` and `notify_type` go with it, and its other keys go to the record's `extra_fields`.
//! The record's kind follows from notify_type ([`classify`]): a record with `msg_id`, 1010 or no
//! notify_type is a message; 1200/1201/1202 are contact records ([`contact`]); anything else is
//! an event, kept verbatim. Nothing is rejected for being of an unknown kind.

mod contact;
mod message;
mod values;

pub use message::upgrade_record;
use message::*;
pub use values::msg_type_parts;
use values::*;

use std::borrow::Cow;

use crate::checkpoint::fnv1a64 as stable_hash;
use crate::contact::{ContactAction, ContactRecord};
use crate::event::EventRecord;
use crate::json_object::{Entry, ObjectError, parse_object_capturing};
use crate::json_text::repair_lone_surrogates;
use crate::mask::Mask;
use crate::record::{Record, col};

/// notify_type of a message.
pub const NOTIFY_MESSAGE: i64 = 1010;

/// Unix seconds at and above which a `create_time` is taken to be in milliseconds.
pub const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// A day before 10000-01-01T00:00:00Z: partitions have four-digit years in every time zone.
const MAX_SECONDS: i64 = 253_402_300_800 - 86_400;

/// What one line turned into.
// A record is what nearly every line is: boxing it would cost an allocation per line.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// Empty or whitespace only.
    Blank,
    /// A message to store.
    Record(Normalized<'a>),
    /// A contact record (update, delete or detail) for the contacts table.
    Contact(Box<Other<ContactRecord>>),
    /// A record of another kind, for the events table.
    Event(Box<Other<EventRecord>>),
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

/// A contact or event record and what normalization had to do to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Other<T> {
    pub record: T,
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
    #[error(
        "a line of {len} bytes is longer than the maximum ({max} bytes, --max-line-bytes); quarantined by reference: its first {kept} bytes are kept"
    )]
    LineTooLong { len: u64, max: u64, kept: usize },
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
            Reject::LineTooLong { .. } => "line_too_long",
        }
    }
}

/// Normalize one line (without its line terminator; a trailing CR is tolerated), masking
/// nothing.
pub fn normalize_line(line: &[u8]) -> Line<'_> {
    normalize_line_masked(line, Mask::NONE)
}

/// Normalize one line, masking the personal fields of contact records that `mask` names.
pub fn normalize_line_masked(line: &[u8], mask: Mask) -> Line<'_> {
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
    let mut surrogate_escape = false;
    let first = parse_entries(text).and_then(|(e, data, surrogate)| {
        surrogate_escape = surrogate;
        classify(text, e, data, mask)
    });
    // The object parser skips over escapes inside raw values, so a lone surrogate may surface
    // only when a string is decoded, or never (inside an unknown field): look for one whenever
    // the line failed or has a surrogate escape at all (which the parser notes as it passes).
    if first.is_ok() && !surrogate_escape {
        return to_line(first);
    }
    let Some(fixed) = repair_lone_surrogates(line) else {
        return to_line(first);
    };
    // The repair only rewrites ASCII escapes, so the text stays valid UTF-8.
    let fixed = String::from_utf8(fixed).expect("repair keeps UTF-8");
    let fixed_text: &str = &fixed;
    match parse_entries(fixed_text).and_then(|(e, data, _)| classify(fixed_text, e, data, mask)) {
        Ok(Line::Record(n)) => {
            let mut n = n.into_owned();
            n.repaired = true;
            Line::Record(n)
        }
        Ok(Line::Contact(mut c)) => {
            c.repaired = true;
            Line::Contact(c)
        }
        Ok(Line::Event(mut e)) => {
            e.repaired = true;
            Line::Event(e)
        }
        Ok(Line::Blank) => Line::Blank,
        Ok(Line::Reject(r)) => Line::Reject(r),
        // Two keys that differ only by a lone surrogate are the same key once repaired.
        Err(e @ Reject::DuplicateKey(_)) => Line::Reject(e),
        Err(e) => Line::Reject(first.err().unwrap_or(e)),
    }
}

fn to_line(result: Result<Line<'_>, Reject>) -> Line<'_> {
    result.unwrap_or_else(Line::Reject)
}

/// The webhook fields that travel with a record: an envelope's `guid`, `notify_type` and other
/// keys (raw JSON values), or those of a flat line.
#[derive(Debug, Default)]
struct Envelope<'a> {
    guid: Option<&'a str>,
    notify_type: Option<&'a str>,
    /// An envelope's keys other than guid, notify_type and data.
    extras: Vec<(Cow<'a, str>, &'a str)>,
}

impl Envelope<'_> {
    /// The notify_type as an integer (a digit string counts), if usable.
    fn notify_type(&self) -> Option<i64> {
        let raw = self.notify_type?;
        match kind(raw) {
            Kind::Integer => raw.parse().ok(),
            Kind::String => string_value(raw)
                .ok()
                .filter(|s| digits_only(s))
                .and_then(|s| s.parse().ok()),
            _ => None,
        }
    }

    /// The guid as a string, if it is one.
    fn guid(&self) -> Option<String> {
        let raw = self.guid?;
        (kind(raw) == Kind::String)
            .then(|| string_value(raw).ok().map(Cow::into_owned))
            .flatten()
    }
}

/// Unwrap an envelope and decide what kind of record the line holds.
/// `data` holds the entries of the line's `data` object, when it has one (read in the same
/// pass as the line).
fn classify<'a>(
    text: &'a str,
    entries: Entries<'a>,
    data: Option<Entries<'a>>,
    mask: Mask,
) -> Result<Line<'a>, Reject> {
    let has_id = |e: &Entries<'_>| e.iter().any(|(k, _)| k == col::MSG_ID);
    let data_text = entries
        .iter()
        .find(|(k, _)| k == "data")
        .map(|(_, raw)| *raw)
        .filter(|raw| kind(raw) == Kind::Object);
    let (record_text, record_entries, envelope) = match (data_text, data) {
        (Some(data), Some(inner)) if !has_id(&entries) => {
            let mut envelope = Envelope::default();
            for (key, raw) in entries {
                match key.as_ref() {
                    "data" => {}
                    "guid" => envelope.guid = Some(raw),
                    "notify_type" => envelope.notify_type = Some(raw),
                    _ => envelope.extras.push((key, raw)),
                }
            }
            (data, inner, Some(envelope))
        }
        _ => (text, entries, None),
    };
    if has_id(&record_entries) {
        return build_record(record_entries, envelope).map(Line::Record);
    }
    // A flat line's own guid/notify_type decide its kind too.
    let flat;
    let fields = match &envelope {
        Some(e) => e,
        None => {
            flat = Envelope {
                guid: find(&record_entries, "guid"),
                notify_type: find(&record_entries, "notify_type"),
                extras: Vec::new(),
            };
            &flat
        }
    };
    let action = match fields.notify_type() {
        None | Some(NOTIFY_MESSAGE) => {
            return build_record(record_entries, envelope).map(Line::Record);
        }
        Some(1200) => ContactAction::Update,
        Some(1201) => ContactAction::Delete,
        Some(1202) => ContactAction::Detail,
        Some(notify_type) => {
            return Ok(Line::Event(Box::new(Other {
                record: EventRecord {
                    notify_type: i32::try_from(notify_type).ok(),
                    guid: fields.guid(),
                    data: masked_event_data(&record_entries, mask)
                        .unwrap_or_else(|| record_text.to_string()),
                    extra_fields: envelope
                        .as_ref()
                        .filter(|e| !e.extras.is_empty())
                        .map(|e| extra_fields_json(&e.extras)),
                    content_hash: stable_hash(record_text.as_bytes()),
                },
                repaired: false,
            })));
        }
    };
    // In a flat contact line, guid and notify_type are the webhook's, not the contact's.
    let record_entries: Entries<'_> = match envelope {
        Some(_) => record_entries,
        None => record_entries
            .into_iter()
            .filter(|(k, _)| k != "guid" && k != "notify_type")
            .collect(),
    };
    let mut record = contact::contact_record(action, &record_entries, mask)?;
    record.guid = fields.guid();
    record.notify_type = fields.notify_type().and_then(|n| i32::try_from(n).ok());
    record.content_hash = stable_hash(record_text.as_bytes());
    if let Some(e) = &envelope
        && !e.extras.is_empty()
    {
        record.extra_fields = Some(merge_extras(record.extra_fields.take(), &e.extras));
    }
    Ok(Line::Contact(Box::new(Other {
        record,
        repaired: false,
    })))
}

/// An event's data with its top-level `mobile` and `customInfo` masked as in contact records,
/// when `mask` asks for it and they are there (`None`: keep the text as sent).
fn masked_event_data(entries: &Entries<'_>, mask: Mask) -> Option<String> {
    use crate::mask::{CUSTOM_INFO_MARKER, mask_mobile};
    let hit = |k: &str| (mask.mobile && k == "mobile") || (mask.custom_info && k == "customInfo");
    if !entries.iter().any(|(k, _)| hit(k)) {
        return None;
    }
    let quoted = |s: &str| serde_json::to_string(s).expect("strings serialize");
    let values: Vec<(&str, String)> = entries
        .iter()
        .map(|(k, raw)| {
            let v = match (k.as_ref(), kind(raw)) {
                (k, _) if !hit(k) => raw.to_string(),
                ("mobile", Kind::String) => match string_value(raw) {
                    Ok(s) => quoted(&mask_mobile(&s)),
                    Err(_) => quoted(CUSTOM_INFO_MARKER),
                },
                ("mobile", Kind::Integer | Kind::Float) => quoted(&mask_mobile(raw)),
                ("mobile", Kind::Null) => raw.to_string(),
                _ => quoted(CUSTOM_INFO_MARKER),
            };
            (k.as_ref(), v)
        })
        .collect();
    let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Some(extra_fields_json(&pairs))
}

fn find<'a>(entries: &Entries<'a>, key: &str) -> Option<&'a str> {
    entries.iter().find(|(k, _)| k == key).map(|(_, raw)| *raw)
}

/// `extra_fields` text with more members appended.
fn merge_extras(existing: Option<String>, more: &[(Cow<'_, str>, &str)]) -> String {
    let more = extra_fields_json(more);
    match existing {
        Some(mut text) if text.len() > 2 => {
            text.pop();
            text.push(',');
            text.push_str(&more[1..]);
            text
        }
        _ => more,
    }
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

/// The line's entries, those of its `data` object if it has one, and whether a string has a
/// surrogate escape.
fn parse_entries(text: &str) -> Result<(Entries<'_>, Option<Entries<'_>>, bool), Reject> {
    let mut entries = Vec::with_capacity(12);
    // Sized for a message record, so that an envelope's data does not grow it key by key.
    let mut data = Vec::with_capacity(16);
    let parsed =
        parse_object_capturing(text, &mut entries, "data", &mut data).map_err(object_reject)?;
    Ok((
        entries,
        parsed.captured.then_some(data),
        parsed.surrogate_escape,
    ))
}

fn object_reject(e: ObjectError) -> Reject {
    match e {
        ObjectError::Syntax(msg) => Reject::InvalidJson(msg),
        ObjectError::NotAnObject(found) => Reject::NotAnObject(found.to_string()),
        ObjectError::Trailing => Reject::TrailingData,
        ObjectError::DuplicateKey(key) => Reject::DuplicateKey(key),
        ObjectError::BadKeyEscape => {
            Reject::InvalidJson("lone surrogate escape in a key".to_string())
        }
    }
}

#[cfg(test)]
mod tests;
