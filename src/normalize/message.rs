//! A message record built from its entries: the typed columns, `extra_fields` for everything
//! else, the envelope's guid and notify_type, a 4.x packed type split and a group sender filled
//! (`as_sent`); and the same upgrade for rows stored by older schema versions.

use std::borrow::Cow;

use crate::json_text::compact_into;
use crate::record::{Record, TEXT_COLUMNS, col};

use super::*;

pub(super) fn build_record<'a>(
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

/// A message from a group whose chatroom_sender is empty and whose content starts with `wxid:\n`
/// (pad/iPad protocol collectors send the sender only so): the prefix's id becomes
/// chatroom_sender, and the value sent (`""`, or `null` when absent) goes to `as_sent`.
pub(super) fn fill_sender_from_prefix<'a, 'b>(
    record: &mut Record<'a>,
    as_sent: &mut Vec<(Cow<'b, str>, &'b str)>,
) {
    use crate::record::text;
    let sender = record.text[text::CHATROOM_SENDER].as_deref();
    if sender.is_some_and(|s| !s.is_empty())
        || !crate::message_kind::from_group(record.text[text::FROM_USERNAME].as_deref())
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

pub(super) fn is_known(key: &str) -> bool {
    key == col::MSG_ID
        || key == col::CREATE_TIME
        || key == col::MSG_TYPE
        || key == col::GUID
        || key == col::NOTIFY_TYPE
        || TEXT_COLUMNS.contains(&key)
}

/// Append `s` as a JSON string literal.
pub(super) fn push_json_string(out: &mut String, s: &str) {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(&serde_json::to_string(s).expect("strings serialize"));
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

pub(super) fn extra_fields_json<K: AsRef<str>, V: AsRef<str>>(extras: &[(K, V)]) -> String {
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
