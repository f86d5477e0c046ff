//! The input contract: one raw JSONL line → a typed [`Record`], a blank, or a [`Reject`].
//!
//! Pure: no I/O, no clock. The rules (also in the README):
//! - `msg_id`: a non-empty string, or a JSON integer of any size kept as its exact digits.
//! - `create_time`: an integer or a digit string; values ≥ 10^11 are milliseconds. Must be > 0.
//! - `msg_type`: an integer or a digit string that fits Int32, or a WeChat 4.x packed type
//!   (`subtype << 32 | type`, ≥ 2^32): split into `msg_type` (the low 32 bits) and the app
//!   subtype (which becomes `app_type`), the number as sent kept in `as_sent`.
//! - a group message (it names a chatroom, or comes from one) with an empty `chatroom_sender`
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

use std::borrow::Cow;

use crate::checkpoint::fnv1a64 as stable_hash;
use crate::contact::{ContactAction, ContactRecord};
use crate::event::EventRecord;
use crate::json_object::{Entry, ObjectError, parse_object_capturing};
use crate::json_text::{compact, compact_into, repair_lone_surrogates, unescape};
use crate::mask::Mask;
use crate::record::{Record, TEXT_COLUMNS, col};

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
    let first = parse_entries(text).and_then(|(e, data)| classify(text, e, data, mask));
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
    let fixed_text: &str = &fixed;
    match parse_entries(fixed_text).and_then(|(e, data)| classify(fixed_text, e, data, mask)) {
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

/// The line's entries, and those of its `data` object if it has one.
fn parse_entries(text: &str) -> Result<(Entries<'_>, Option<Entries<'_>>), Reject> {
    let mut entries = Vec::with_capacity(12);
    // Sized for a message record, so that an envelope's data does not grow it key by key.
    let mut data = Vec::with_capacity(16);
    let captured =
        parse_object_capturing(text, &mut entries, "data", &mut data).map_err(object_reject)?;
    Ok((entries, captured.then_some(data)))
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

/// A msg_type value as (type, app subtype of a 4.x packed type); `Ok(None)` for an unusable
/// value.
pub fn msg_type_parts(raw: &str) -> Result<Option<(i32, Option<i32>)>, Reject> {
    let number: Option<i64> = match kind(raw) {
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
    };
    Ok(number.and_then(|n| {
        if n >= 1 << 32 {
            let (t, app) = crate::message_kind::split_msg_type(n);
            Some((i32::try_from(t).ok()?, Some(app?)))
        } else {
            Some((i32::try_from(n).ok()?, None))
        }
    }))
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

fn build_record<'a>(
    entries: Entries<'a>,
    envelope: Option<Envelope<'a>>,
) -> Result<Normalized<'a>, Reject> {
    let mut record = Record::default();
    let mut have_id = false;
    let mut have_time = false;
    let mut type_conflicts = 0;
    let mut extras: Vec<(Cow<'a, str>, &'a str)> = Vec::new();
    let mut as_sent: Vec<(Cow<'a, str>, &'a str)> = Vec::new();
    // An envelope's guid and notify_type fill the columns; the record's own, if it has any,
    // then stay in extra_fields under `data.guid`/`data.notify_type` (unless equal).
    let (guid_raw, notify_raw) = match &envelope {
        Some(e) => (e.guid, e.notify_type),
        None => (None, None),
    };
    for (key, raw) in &entries {
        let raw = *raw;
        let key_str = key.as_ref();
        if (key_str == col::GUID && guid_raw.is_some())
            || (key_str == col::NOTIFY_TYPE && notify_raw.is_some())
        {
            let outer = if key_str == col::GUID {
                guid_raw
            } else {
                notify_raw
            };
            if outer != Some(raw) {
                extras.push((Cow::Owned(format!("data.{key_str}")), raw));
            }
            continue;
        }
        if kind(raw) == Kind::Null && key_str != col::MSG_ID && key_str != col::CREATE_TIME {
            if !is_known(key_str) {
                extras.push((key.clone(), raw));
            }
            continue;
        }
        match key_str {
            col::MSG_ID => {
                record.msg_id = msg_id(raw)?;
                have_id = true;
            }
            col::CREATE_TIME => {
                record.create_time = create_time(raw)?;
                have_time = true;
            }
            col::MSG_TYPE => match msg_type_parts(raw)? {
                Some((t, app)) => {
                    record.msg_type = Some(t);
                    if app.is_some() {
                        record.packed_app_type = app;
                        as_sent.push((Cow::Borrowed(col::MSG_TYPE), raw));
                    }
                }
                None => {
                    type_conflicts += 1;
                    extras.push((key.clone(), raw));
                }
            },
            col::GUID => match text_value(key_str, raw)? {
                Some(v) => record.guid = Some(v),
                None => {
                    type_conflicts += 1;
                    extras.push((key.clone(), raw));
                }
            },
            col::NOTIFY_TYPE => match msg_type(raw)? {
                Some(t) => record.notify_type = Some(t),
                None => {
                    type_conflicts += 1;
                    extras.push((key.clone(), raw));
                }
            },
            _ => match TEXT_COLUMNS.iter().position(|c| *c == key_str) {
                Some(i) => match text_value(key_str, raw)? {
                    Some(v) => record.text[i] = Some(v),
                    None => {
                        type_conflicts += 1;
                        extras.push((key.clone(), raw));
                    }
                },
                None => extras.push((key.clone(), raw)),
            },
        }
    }
    if let Some(envelope) = envelope {
        if let Some(raw) = envelope.guid {
            match kind(raw) {
                Kind::String => record.guid = Some(string_value(raw)?),
                Kind::Null => {}
                _ => {
                    type_conflicts += 1;
                    extras.push((Cow::Borrowed(col::GUID), raw));
                }
            }
        }
        if let Some(raw) = envelope.notify_type {
            match msg_type(raw)? {
                Some(t) => record.notify_type = Some(t),
                None if kind(raw) == Kind::Null => {}
                None => {
                    type_conflicts += 1;
                    extras.push((Cow::Borrowed(col::NOTIFY_TYPE), raw));
                }
            }
        }
        // An envelope key that the record has too keeps the record's name free.
        for (key, raw) in envelope.extras {
            let taken = entries.iter().any(|(k, _)| *k == key);
            let key = if taken {
                Cow::Owned(format!("envelope.{key}"))
            } else {
                key
            };
            extras.push((key, raw));
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
    fill_sender_from_prefix(&mut record, &mut as_sent);
    if !as_sent.is_empty() {
        record.as_sent = Some(Cow::Owned(extra_fields_json(&as_sent)));
    }
    Ok(Normalized {
        record,
        type_conflicts,
        repaired: false,
    })
}

/// Bring a row stored by schema version 1 or 2 to what ingest makes of the same line today: a
/// 4.x packed msg_type, then a type conflict kept in `extra_fields`, is split, and an empty
/// group sender is filled from the content's prefix (both recorded in `as_sent`). Rows already
/// current are left as they are.
pub fn upgrade_record(record: &mut Record<'_>) {
    let mut as_sent_text: Vec<(String, String)> = Vec::new();
    if record.msg_type.is_none()
        && let Some(extra) = record.extra_fields.as_deref()
    {
        let mut entries = Vec::new();
        if crate::json_object::parse_object(extra, &mut entries).is_ok()
            && let Some(pos) = entries.iter().position(|(k, _)| k == col::MSG_TYPE)
            && let Ok(Some((t, Some(app)))) = msg_type_parts(entries[pos].1)
        {
            as_sent_text.push((col::MSG_TYPE.to_string(), entries[pos].1.to_string()));
            entries.remove(pos);
            let rest = (!entries.is_empty()).then(|| extra_fields_json(&entries));
            record.msg_type = Some(t);
            record.packed_app_type = Some(app);
            record.extra_fields = rest.map(Cow::Owned);
        }
    }
    let mut filled = Vec::new();
    fill_sender_from_prefix(record, &mut filled);
    as_sent_text.extend(filled.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    if !as_sent_text.is_empty() && record.as_sent.is_none() {
        record.as_sent = Some(Cow::Owned(extra_fields_json(&as_sent_text)));
    }
}

/// A group message whose chatroom_sender is empty and whose content starts with `wxid:\n`
/// (pad/iPad protocol collectors send the sender only so): the prefix's id becomes
/// chatroom_sender, and the value sent (`""`, or `null` when absent) goes to `as_sent`.
fn fill_sender_from_prefix<'a, 'b>(
    record: &mut Record<'a>,
    as_sent: &mut Vec<(Cow<'b, str>, &'b str)>,
) {
    use crate::record::text;
    let sender = record.text[text::CHATROOM_SENDER].as_deref();
    if sender.is_some_and(|s| !s.is_empty())
        || !crate::message_kind::in_group(
            record.chatroom(),
            record.text[text::FROM_USERNAME].as_deref(),
        )
    {
        return;
    }
    let Some(content) = record.text[text::CONTENT].as_deref() else {
        return;
    };
    let Some((id, _)) = crate::message_kind::group_prefix(content) else {
        return;
    };
    let id = id.to_string();
    let sent = if sender.is_some() { "\"\"" } else { "null" };
    as_sent.push((Cow::Borrowed(col::CHATROOM_SENDER), sent));
    record.text[text::CHATROOM_SENDER] = Some(Cow::Owned(id));
}

fn is_known(key: &str) -> bool {
    key == col::MSG_ID
        || key == col::CREATE_TIME
        || key == col::MSG_TYPE
        || key == col::GUID
        || key == col::NOTIFY_TYPE
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

fn extra_fields_json<K: AsRef<str>, V: AsRef<str>>(extras: &[(K, V)]) -> String {
    let mut out = String::with_capacity(
        extras
            .iter()
            .map(|(k, v)| k.as_ref().len() + v.as_ref().len() + 4)
            .sum(),
    );
    out.push('{');
    for (i, (key, raw)) in extras.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, key.as_ref());
        out.push(':');
        compact_into(raw.as_ref(), &mut out);
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests;
