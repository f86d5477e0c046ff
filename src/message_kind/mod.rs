//! What a message is: its kind, and the facts people read, derived from msg_type, content and
//! source: the derived columns of schema version 3 ([`crate::record::DERIVED`]).
//!
//! Pure. A third of real messages are not text: app messages (49) carry an XML card whose
//! `<appmsg><type>` says link, file, quote, forward, mini program, transfer or red packet;
//! images, voice, video, stickers, locations and contact cards are XML too; a recall is a
//! `<sysmsg type="revokemsg">`. WeChat 4.x packs the app subtype into the high 32 bits of the
//! type (`57 << 32 | 49` is a quote). XML is read with quick-xml, tolerantly: a card that does not
//! parse never rejects its message; its facts are absent, its kind `other`, and it is counted.
//! Only types that carry XML are parsed, so text costs nothing extra.

mod xml;

use std::borrow::Cow;

use crate::record::{Record, text as field};
use xml::{parses, read_facts, read_facts_checked};

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    Text,
    Image,
    Voice,
    Video,
    Sticker,
    Location,
    Card,
    Link,
    File,
    Quote,
    Forward,
    MiniProgram,
    Transfer,
    RedPacket,
    Channels,
    Call,
    System,
    Recall,
    Other,
}

impl MessageKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [MessageKind; 19] = [
        MessageKind::Text,
        MessageKind::Image,
        MessageKind::Voice,
        MessageKind::Video,
        MessageKind::Sticker,
        MessageKind::Location,
        MessageKind::Card,
        MessageKind::Link,
        MessageKind::File,
        MessageKind::Quote,
        MessageKind::Forward,
        MessageKind::MiniProgram,
        MessageKind::Transfer,
        MessageKind::RedPacket,
        MessageKind::Channels,
        MessageKind::Call,
        MessageKind::System,
        MessageKind::Recall,
        MessageKind::Other,
    ];

    /// The kind named `name` (as stored in the `kind` column).
    pub fn from_name(name: &str) -> Option<MessageKind> {
        MessageKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        use MessageKind::*;
        match self {
            Text => "text",
            Image => "image",
            Voice => "voice",
            Video => "video",
            Sticker => "sticker",
            Location => "location",
            Card => "card",
            Link => "link",
            File => "file",
            Quote => "quote",
            Forward => "forward",
            MiniProgram => "mini_program",
            Transfer => "transfer",
            RedPacket => "red_packet",
            Channels => "channels",
            Call => "call",
            System => "system",
            Recall => "recall",
            Other => "other",
        }
    }
}

/// A 4.x packed type (`subtype << 32 | type`) as (type, app subtype); a plain type as itself.
pub fn split_msg_type(raw: i64) -> (i64, Option<i32>) {
    if raw >= 1 << 32 {
        (raw & 0xffff_ffff, i32::try_from(raw >> 32).ok())
    } else {
        (raw, None)
    }
}

/// Whether a message came to us from a group (`from_username` is the chatroom): only then can
/// its content start with the sender's `wxid:\n` prefix. A message the account itself sent into
/// a group names the chatroom too, but its first line is its own (`TODO:\n…`).
pub fn from_group(from_username: Option<&str>) -> bool {
    from_username.is_some_and(|f| f.ends_with("@chatroom"))
}

/// The msg_type as the collector sent it: a 4.x packed type put back together.
pub fn raw_msg_type(msg_type: Option<i32>, packed_app_type: Option<i32>) -> Option<i64> {
    let t = msg_type?;
    Some(match packed_app_type {
        Some(app) => (i64::from(app) << 32) | i64::from(t as u32),
        None => i64::from(t),
    })
}

/// The facts of a normalized message: [`derive`] of its type and content (a sender prefix is
/// read only in groups), and its mentions.
pub fn derive_record<'a>(r: &'a Record<'_>) -> Derived<'a> {
    let content = r.text[field::CONTENT].as_deref();
    let group = from_group(r.text[field::FROM_USERNAME].as_deref());
    let mut d = derive(raw_msg_type(r.msg_type, r.packed_app_type), content);
    if !group && d.prefix_sender.is_some() && d.kind == Some(MessageKind::Text) {
        // `abc:\n…` in a private chat is what was written, not a sender.
        d.prefix_sender = None;
        d.text = content.map(Cow::Borrowed);
    }
    // Built once: `memmem::find` builds a searcher per call (1% of a short-message ingest).
    static AT_USER_LIST: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"atuserlist"));
    if let Some(source) = r.text[field::SOURCE].as_deref()
        && AT_USER_LIST.find(source.as_bytes()).is_some()
    {
        d.mentions = mentions(source);
    }
    d
}

/// A group text's `wxid_x:\n` sender prefix (pad/iPad protocol collectors): (sender, the rest).
pub fn group_prefix(content: &str) -> Option<(&str, &str)> {
    // An id is at most 64 bytes: look no further (contents can be long XML).
    let window = &content.as_bytes()[..content.len().min(66)];
    let colon = memchr::memchr(b':', window)?;
    if content.as_bytes().get(colon + 1) != Some(&b'\n') {
        return None;
    }
    let (head, rest) = (&content[..colon], &content[colon + 2..]);
    let looks_like_id = !head.is_empty()
        && head.len() <= 64
        && head
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@' | b'.'));
    looks_like_id.then_some((head, rest))
}

/// The wxids of `<atuserlist>` in a msgsource (comma separated; a leading comma is common).
pub fn mentions(source: &str) -> Vec<String> {
    let facts = read_facts(source, &[("atuserlist", None)]);
    facts
        .first()
        .and_then(|v| v.as_deref())
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// What a message's content says, as far as its kind needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Derived<'a> {
    pub kind: Option<MessageKind>,
    pub app_type: Option<i32>,
    pub title: Option<String>,
    pub url: Option<String>,
    pub file_size: Option<i64>,
    pub quoted_msg_id: Option<String>,
    pub revoked_msg_id: Option<String>,
    /// The wxids @mentioned (from source; [`derive_record`] fills it).
    pub mentions: Vec<String>,
    /// What a person reads: `[link] title url`, `[image]`, the text without a sender prefix…
    pub text: Option<Cow<'a, str>>,
    /// The sender named by a group text's prefix.
    pub prefix_sender: Option<String>,
    /// The content should have been an XML card but did not parse.
    pub xml_unparsed: bool,
}

/// The facts of a message of type `msg_type` (a 4.x packed one included) with `content`.
pub fn derive(msg_type: Option<i64>, content: Option<&str>) -> Derived<'_> {
    let content = content.unwrap_or("");
    let Some(raw) = msg_type else {
        return Derived {
            kind: Some(MessageKind::Other),
            ..Derived::default()
        };
    };
    let (t, packed_app) = split_msg_type(raw);
    let simple = |kind: MessageKind, label: &'static str| Derived {
        kind: Some(kind),
        text: Some(Cow::Borrowed(label)),
        ..Derived::default()
    };
    match t {
        1 => {
            let (sender, text) = match group_prefix(content) {
                Some((s, rest)) => (Some(s.to_string()), rest),
                None => (None, content),
            };
            Derived {
                kind: Some(MessageKind::Text),
                text: Some(Cow::Borrowed(text)),
                prefix_sender: sender,
                ..Derived::default()
            }
        }
        3 => simple(MessageKind::Image, "[image]"),
        34 => simple(MessageKind::Voice, "[voice]"),
        43 => simple(MessageKind::Video, "[video]"),
        47 => simple(MessageKind::Sticker, "[sticker]"),
        50 => simple(MessageKind::Call, "[call]"),
        51 => simple(MessageKind::Channels, "[channels]"),
        10000 => Derived {
            kind: Some(MessageKind::System),
            text: Some(Cow::Borrowed(content)),
            ..Derived::default()
        },
        48 => location(content),
        42 => card(content),
        10002 => recall(content),
        49 => app(content, packed_app),
        _ => Derived {
            kind: Some(MessageKind::Other),
            app_type: packed_app,
            ..Derived::default()
        },
    }
}

/// The XML part of a content (after a group prefix, if any).
fn xml_part(content: &str) -> &str {
    let body = group_prefix(content).map_or(content, |(_, rest)| rest);
    body.trim_start()
}

fn location(content: &str) -> Derived<'static> {
    let f = read_facts(
        xml_part(content),
        &[("location", Some("poiname")), ("location", Some("label"))],
    );
    if f.iter().all(Option::is_none) && !parses(xml_part(content)) {
        return unparsed();
    }
    let title = f[0].clone().filter(|s| !s.is_empty()).or(f[1].clone());
    Derived {
        kind: Some(MessageKind::Location),
        text: Some(Cow::Owned(match &title {
            Some(t) => format!("[location] {t}"),
            None => "[location]".to_string(),
        })),
        title,
        ..Derived::default()
    }
}

fn card(content: &str) -> Derived<'static> {
    let f = read_facts(xml_part(content), &[("msg", Some("nickname"))]);
    if f[0].is_none() && !parses(xml_part(content)) {
        return unparsed();
    }
    Derived {
        kind: Some(MessageKind::Card),
        text: Some(Cow::Owned(match &f[0] {
            Some(n) => format!("[card] {n}"),
            None => "[card]".to_string(),
        })),
        title: f[0].clone(),
        ..Derived::default()
    }
}

fn recall(content: &str) -> Derived<'static> {
    let f = read_facts(
        xml_part(content),
        &[("newmsgid", None), ("replacemsg", None)],
    );
    if f.iter().all(Option::is_none) && !parses(xml_part(content)) {
        return unparsed();
    }
    Derived {
        kind: Some(MessageKind::Recall),
        revoked_msg_id: f[0].clone(),
        text: Some(Cow::Owned(match &f[1] {
            Some(r) => format!("[recall] {r}"),
            None => "[recall]".to_string(),
        })),
        ..Derived::default()
    }
}

fn app(content: &str, packed_app: Option<i32>) -> Derived<'static> {
    let xml = xml_part(content);
    // One pass reads the facts and tells whether the card is whole.
    let (f, well_formed) = read_facts_checked(
        xml,
        &[
            ("type", None),
            ("title", None),
            ("url", None),
            ("totallen", None),
            ("svrid", None),
            ("displayname", None),
            ("content", None),
        ],
    );
    if !well_formed {
        return Derived {
            app_type: packed_app,
            ..unparsed()
        };
    }
    let app_type = packed_app.or_else(|| f[0].as_deref().and_then(|t| t.trim().parse().ok()));
    let title = f[1].clone().filter(|s| !s.is_empty());
    let url = f[2].clone().filter(|s| !s.is_empty());
    let file_size = f[3].as_deref().and_then(|n| n.trim().parse().ok());
    let kind = match app_type {
        Some(5) => MessageKind::Link,
        Some(6) => MessageKind::File,
        Some(19) => MessageKind::Forward,
        Some(33 | 36) => MessageKind::MiniProgram,
        Some(57) => MessageKind::Quote,
        Some(2000) => MessageKind::Transfer,
        Some(2001) => MessageKind::RedPacket,
        _ => MessageKind::Other,
    };
    let t = title.as_deref().unwrap_or("");
    let text = match kind {
        MessageKind::Link => format!("[link] {t} {}", url.as_deref().unwrap_or(""))
            .trim_end()
            .to_string(),
        MessageKind::File => match file_size {
            Some(n) => format!("[file] {t} ({})", human_size(n)),
            None => format!("[file] {t}"),
        },
        MessageKind::Quote => {
            let quoted = f[6].as_deref().map(first_line).unwrap_or("");
            format!("[quote] {t} ↩ {quoted}").trim_end().to_string()
        }
        MessageKind::Forward => format!("[forward] {t}"),
        MessageKind::MiniProgram => format!("[mini program] {t}"),
        MessageKind::Transfer => format!("[transfer] {t}"),
        MessageKind::RedPacket => format!("[red packet] {t}"),
        _ => format!("[app] {t}"),
    };
    Derived {
        kind: Some(kind),
        app_type,
        title,
        url: if kind == MessageKind::Link { url } else { None },
        file_size,
        quoted_msg_id: if kind == MessageKind::Quote {
            f[4].clone()
        } else {
            None
        },
        text: Some(Cow::Owned(text.trim_end().to_string())),
        ..Derived::default()
    }
}

fn unparsed() -> Derived<'static> {
    Derived {
        kind: Some(MessageKind::Other),
        xml_unparsed: true,
        ..Derived::default()
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim()
}

/// `471 KB`, `3.2 MB`.
fn human_size(n: i64) -> String {
    let n = n.max(0) as f64;
    if n < 1000.0 {
        format!("{n} B")
    } else if n < 1_000_000.0 {
        format!("{:.0} KB", n / 1000.0)
    } else {
        format!("{:.1} MB", n / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests;
