//! Contact records (webhook notify types 1200, 1201, 1202) → [`ContactRecord`].
//!
//! The pad protocol's contact struct wraps its text fields as `{"string": "…"}` (`userName`,
//! `nickName`, `remark`, …); `remark` may also be `{}` (none) or a plain string, and details
//! (1202) use plain strings throughout. Every text field takes either form here. A field of an
//! unusable type keeps its original value in `extra_fields`, as do all keys without a column:
//! nothing is dropped. Only a record without a usable username is rejected.

use std::borrow::Cow;

use super::{Entries, Kind, Reject, digits_only, excerpt, extra_fields_json, kind, string_value};
use crate::contact::{ContactAction, ContactRecord};
use crate::json_object::parse_object;
use crate::mask::{CUSTOM_INFO_MARKER, Mask, mask_mobile};

/// Where a key of a contact record goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Username,
    Text(TextField),
    Int(IntField),
    Mobile,
    /// `newChatroomData`: kept verbatim, its `memberCount` also typed.
    ChatroomData,
    /// A detail's `customInfo`: its `detail` is typed, the rest kept.
    CustomInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextField {
    Nickname,
    Remark,
    Alias,
    Pyinitial,
    QuanPin,
    RemarkPyinitial,
    RemarkQuanPin,
    Country,
    Province,
    City,
    Signature,
    BigHead,
    SmallHead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntField {
    Sex,
    ContactType,
    VerifyFlag,
    DeleteFlag,
    MaxMemberCount,
}

fn target(action: ContactAction, key: &str) -> Option<Target> {
    use IntField as I;
    use Target::*;
    use TextField as T;
    Some(match (action, key) {
        (ContactAction::Update | ContactAction::Delete, "userName") => Username,
        (ContactAction::Detail, "tpUsername") => Username,
        (ContactAction::Update, "nickName") | (ContactAction::Detail, "nickname") => {
            Text(T::Nickname)
        }
        (ContactAction::Update | ContactAction::Detail, "remark") => Text(T::Remark),
        (ContactAction::Update, "alias") => Text(T::Alias),
        (ContactAction::Update, "pyinitial") | (ContactAction::Detail, "nicknamePyinit") => {
            Text(T::Pyinitial)
        }
        (ContactAction::Update, "quanPin") | (ContactAction::Detail, "nicknameQuanpin") => {
            Text(T::QuanPin)
        }
        (ContactAction::Update, "remarkPyinitial") | (ContactAction::Detail, "remarkPyinit") => {
            Text(T::RemarkPyinitial)
        }
        (ContactAction::Update, "remarkQuanPin") | (ContactAction::Detail, "remarkQuanpin") => {
            Text(T::RemarkQuanPin)
        }
        (ContactAction::Update, "country") => Text(T::Country),
        (ContactAction::Update, "province") => Text(T::Province),
        (ContactAction::Update, "city") => Text(T::City),
        (ContactAction::Update, "signature") => Text(T::Signature),
        (ContactAction::Update, "bigHeadImgUrl") | (ContactAction::Detail, "bigHeadimg") => {
            Text(T::BigHead)
        }
        (ContactAction::Update, "smallHeadImgUrl") | (ContactAction::Detail, "smallHeadimg") => {
            Text(T::SmallHead)
        }
        (ContactAction::Update | ContactAction::Detail, "sex") => Int(I::Sex),
        (ContactAction::Update, "contactType") => Int(I::ContactType),
        (ContactAction::Update, "verifyFlag") => Int(I::VerifyFlag),
        (ContactAction::Update, "deleteFlag") => Int(I::DeleteFlag),
        (ContactAction::Update, "chatroomMaxCount") => Int(I::MaxMemberCount),
        // Personal data is masked in whichever record kind carries it.
        (_, "mobile") => Mobile,
        (ContactAction::Update, "newChatroomData") => ChatroomData,
        (_, "customInfo") => CustomInfo,
        _ => return None,
    })
}

/// A text field's value: a string, `{"string": s}`, or `{}` / `{"string": null}` / null for
/// none. `Err(())` for anything else (a type conflict).
fn wrapped_text(raw: &str) -> Result<Option<String>, ()> {
    // The common `{"string":"…"}` without quotes inside, without parsing the object again.
    let quick = raw
        .strip_prefix('{')
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix("\"string\""))
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix(':'))
        .and_then(|r| r.trim().strip_suffix('}'))
        .map(str::trim_end);
    if let Some(v) = quick
        && v.len() >= 2
        && v.starts_with('"')
        && v.ends_with('"')
        && !v[1..v.len() - 1].contains('"')
    {
        return string_value(v)
            .map(|s| Some(s.into_owned()))
            .map_err(|_| ());
    }
    match kind(raw) {
        Kind::String => string_value(raw)
            .map(|s| Some(s.into_owned()))
            .map_err(|_| ()),
        Kind::Null => Ok(None),
        Kind::Object => {
            let mut inner = Vec::new();
            parse_object(raw, &mut inner).map_err(|_| ())?;
            match inner.as_slice() {
                [] => Ok(None),
                [(k, v)] if k == "string" => match kind(v) {
                    Kind::String => string_value(v)
                        .map(|s| Some(s.into_owned()))
                        .map_err(|_| ()),
                    Kind::Null => Ok(None),
                    _ => Err(()),
                },
                _ => Err(()),
            }
        }
        _ => Err(()),
    }
}

/// An integer field: a JSON integer or a digit string.
fn int_value(raw: &str) -> Result<Option<i64>, ()> {
    match kind(raw) {
        Kind::Integer => raw.parse().map(Some).map_err(|_| ()),
        Kind::Null => Ok(None),
        Kind::String => {
            let s = string_value(raw).map_err(|_| ())?;
            if digits_only(&s) {
                s.parse().map(Some).map_err(|_| ())
            } else {
                Err(())
            }
        }
        _ => Err(()),
    }
}

/// The value of `key` inside the object text `raw`, if it is an object and has that key.
fn member<'a>(raw: &'a str, key: &str) -> Option<&'a str> {
    let mut inner = Vec::new();
    parse_object(raw, &mut inner).ok()?;
    inner.into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Build the contact record of `action` from a record's entries.
pub(super) fn contact_record<'a>(
    action: ContactAction,
    entries: &'a Entries<'a>,
    mask: Mask,
) -> Result<ContactRecord, Reject> {
    let mut r = ContactRecord {
        action: Some(action),
        ..ContactRecord::default()
    };
    let mut username: Option<String> = None;
    // Keys and values borrow from the line: most keys of a contact struct have no column.
    let mut extras: Vec<(&'a str, Cow<'a, str>)> = Vec::with_capacity(entries.len());
    let keep = |extras: &mut Vec<(&'a str, Cow<'a, str>)>, key: &'a Cow<'a, str>, raw: &'a str| {
        extras.push((key.as_ref(), Cow::Borrowed(raw)));
    };
    for (key, raw) in entries {
        let raw: &'a str = raw;
        let Some(t) = target(action, key) else {
            keep(&mut extras, key, raw);
            continue;
        };
        match t {
            Target::Username => match wrapped_text(raw) {
                Ok(Some(name)) if !name.is_empty() => username = Some(name),
                _ => {
                    return Err(Reject::Unusable {
                        field: if action == ContactAction::Detail {
                            "tpUsername"
                        } else {
                            "userName"
                        },
                        value: excerpt(raw),
                        why: "expected a non-empty string or {\"string\": …}",
                    });
                }
            },
            Target::Text(field) => match wrapped_text(raw) {
                Ok(value) => *text_slot(&mut r, field) = value,
                Err(()) => keep(&mut extras, key, raw),
            },
            Target::Int(field) => match int_value(raw) {
                Ok(value) => match field {
                    IntField::Sex => match value.map(i32::try_from).transpose() {
                        Ok(v) => r.sex = v,
                        Err(_) => keep(&mut extras, key, raw),
                    },
                    IntField::ContactType => r.contact_type = value,
                    IntField::VerifyFlag => r.verify_flag = value,
                    IntField::DeleteFlag => r.delete_flag = value,
                    IntField::MaxMemberCount => r.max_member_count = value,
                },
                Err(()) => keep(&mut extras, key, raw),
            },
            Target::Mobile => {
                // Any scalar is taken as the number's text, so that a number of an odd type
                // cannot slip past the mask into extra_fields.
                let text = match kind(raw) {
                    Kind::Null => Ok(None),
                    Kind::Integer | Kind::Float | Kind::Bool => Ok(Some(raw.to_string())),
                    _ => wrapped_text(raw),
                };
                r.mobile = match text {
                    Ok(Some(t)) if mask.mobile => Some(mask_mobile(&t)),
                    Ok(t) => t,
                    // An object or array: nothing to keep the digits of.
                    Err(()) if mask.mobile => Some(CUSTOM_INFO_MARKER.to_string()),
                    Err(()) => {
                        keep(&mut extras, key, raw);
                        None
                    }
                };
            }
            Target::ChatroomData => {
                if let Some(count) = member(raw, "memberCount") {
                    r.member_count = int_value(count).ok().flatten();
                }
                keep(&mut extras, key, raw);
            }
            Target::CustomInfo => custom_info(&mut r, &mut extras, key, raw, mask),
        }
    }
    r.username = username.ok_or(Reject::Missing(if action == ContactAction::Detail {
        "tpUsername"
    } else {
        "userName"
    }))?;
    if !extras.is_empty() {
        let pairs: Vec<(&str, &str)> = extras.iter().map(|(k, v)| (*k, v.as_ref())).collect();
        r.extra_fields = Some(extra_fields_json(&pairs));
    }
    Ok(r)
}

fn text_slot(r: &mut ContactRecord, field: TextField) -> &mut Option<String> {
    match field {
        TextField::Nickname => &mut r.nickname,
        TextField::Remark => &mut r.remark,
        TextField::Alias => &mut r.alias,
        TextField::Pyinitial => &mut r.pyinitial,
        TextField::QuanPin => &mut r.quan_pin,
        TextField::RemarkPyinitial => &mut r.remark_pyinitial,
        TextField::RemarkQuanPin => &mut r.remark_quan_pin,
        TextField::Country => &mut r.country,
        TextField::Province => &mut r.province,
        TextField::City => &mut r.city,
        TextField::Signature => &mut r.signature,
        TextField::BigHead => &mut r.big_head_img_url,
        TextField::SmallHead => &mut r.small_head_img_url,
    }
}

/// `customInfo {detailVisible, detail}`: `detail` (a JSON string) becomes the custom_info column,
/// the other members stay in extra_fields. Masked, the detail is replaced by a marker, and a
/// customInfo of an unexpected shape is replaced whole.
fn custom_info<'a>(
    r: &mut ContactRecord,
    extras: &mut Vec<(&'a str, Cow<'a, str>)>,
    key: &'a str,
    raw: &str,
    mask: Mask,
) {
    let mut inner = Vec::new();
    if kind(raw) != Kind::Object || parse_object(raw, &mut inner).is_err() {
        let value = if mask.custom_info {
            format!("\"{CUSTOM_INFO_MARKER}\"")
        } else {
            raw.to_string()
        };
        extras.push((key, Cow::Owned(value)));
        return;
    }
    let mut rest: Vec<(&str, &str)> = Vec::new();
    for (k, v) in &inner {
        if k == "detail" {
            match wrapped_text(v) {
                Ok(Some(detail)) => {
                    r.custom_info = Some(if mask.custom_info {
                        CUSTOM_INFO_MARKER.to_string()
                    } else {
                        detail
                    });
                }
                Ok(None) => {}
                Err(()) if mask.custom_info => r.custom_info = Some(CUSTOM_INFO_MARKER.to_string()),
                Err(()) => rest.push((k.as_ref(), v)),
            }
        } else {
            rest.push((k.as_ref(), v));
        }
    }
    extras.push((key, Cow::Owned(extra_fields_json(&rest))));
}
