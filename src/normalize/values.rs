//! The value rules of the input contract: what a msg_id, a create_time, a msg_type and a text
//! column accept, and what makes a value unusable (a type conflict) or the line rejected.

use std::borrow::Cow;

use crate::json_text::{compact, unescape};
use crate::record::col;

use super::*;

/// The JSON kind of a raw value, read from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    String,
    Integer,
    Float,
    Bool,
    Null,
    Object,
    Array,
}

pub(super) fn kind(raw: &str) -> Kind {
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
pub(super) fn string_value(raw: &str) -> Result<Cow<'_, str>, Reject> {
    let inner = &raw[1..raw.len() - 1];
    if crate::json_text::next_backslash(inner.as_bytes()) == inner.len() {
        Ok(Cow::Borrowed(inner))
    } else {
        unescape(inner)
            .map(Cow::Owned)
            .map_err(|_| Reject::InvalidJson(format!("lone surrogate escape in {}", excerpt(raw))))
    }
}

pub(super) fn digits_only(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn excerpt(raw: &str) -> String {
    const MAX: usize = 40;
    match raw.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &raw[..cut]),
        None => raw.to_string(),
    }
}

pub(super) fn msg_id(raw: &str) -> Result<Cow<'_, str>, Reject> {
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

pub(super) fn create_time(raw: &str) -> Result<i64, Reject> {
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

/// An Int32 type column's value (msg_type without a packed subtype, notify_type); `Ok(None)`
/// for an unusable value.
pub(super) fn msg_type(raw: &str) -> Result<Option<i32>, Reject> {
    Ok(msg_type_parts(raw)?.and_then(|(t, app)| app.is_none().then_some(t)))
}

/// A text column's value; `Ok(None)` for an unusable type.
pub(super) fn text_value<'a>(name: &str, raw: &'a str) -> Result<Option<Cow<'a, str>>, Reject> {
    Ok(match kind(raw) {
        Kind::String => Some(string_value(raw)?),
        Kind::Integer | Kind::Float if name == col::SOURCE => Some(Cow::Borrowed(raw)),
        Kind::Object | Kind::Array if name == col::SOURCE => Some(Cow::Owned(compact(raw))),
        _ => None,
    })
}
