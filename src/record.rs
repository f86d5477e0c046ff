//! The typed message schema: one normalized WeChat message, its Arrow schema and version.
//!
//! Every file carries its schema version in the Parquet key-value metadata under
//! [`SCHEMA_VERSION_KEY`]. Version 1 had the ten columns from `msg_id` to `extra_fields`;
//! version 2 appends `guid` and `notify_type`, which webhook collectors send with each message;
//! version 3 appends `as_sent` and the columns derived from what a message is ([`DERIVED`]:
//! kind, app_type, title, url, file_size, quoted_msg_id, revoked_msg_id, mentions, text; see
//! [`crate::message_kind`]). Columns are only ever appended, so a reader conforms an older file
//! by name and sees the new columns as null (`wxlake migrate` derives them into old files). Partition columns (year, month, day) are *not* part of the schema: by the
//! Hive convention they live in the directory names only.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::Serialize;

/// The current schema version.
pub const SCHEMA_VERSION: u32 = 3;
/// Parquet key-value metadata key holding the schema version.
pub const SCHEMA_VERSION_KEY: &str = "wxlake.schema_version";

/// Column names, in file order.
pub mod col {
    pub const MSG_ID: &str = "msg_id";
    pub const CREATE_TIME: &str = "create_time";
    pub const MSG_TYPE: &str = "msg_type";
    pub const FROM_USERNAME: &str = "from_username";
    pub const TO_USERNAME: &str = "to_username";
    pub const CHATROOM: &str = "chatroom";
    pub const CHATROOM_SENDER: &str = "chatroom_sender";
    pub const CONTENT: &str = "content";
    pub const SOURCE: &str = "source";
    pub const EXTRA_FIELDS: &str = "extra_fields";
    pub const GUID: &str = "guid";
    pub const NOTIFY_TYPE: &str = "notify_type";
    pub const AS_SENT: &str = "as_sent";
    pub const KIND: &str = "kind";
    pub const APP_TYPE: &str = "app_type";
    pub const TITLE: &str = "title";
    pub const URL: &str = "url";
    pub const FILE_SIZE: &str = "file_size";
    pub const QUOTED_MSG_ID: &str = "quoted_msg_id";
    pub const REVOKED_MSG_ID: &str = "revoked_msg_id";
    pub const MENTIONS: &str = "mentions";
    pub const TEXT: &str = "text";
}

/// Every column, in schema order.
pub const COLUMNS: [&str; 22] = [
    col::MSG_ID,
    col::CREATE_TIME,
    col::MSG_TYPE,
    col::FROM_USERNAME,
    col::TO_USERNAME,
    col::CHATROOM,
    col::CHATROOM_SENDER,
    col::CONTENT,
    col::SOURCE,
    col::EXTRA_FIELDS,
    col::GUID,
    col::NOTIFY_TYPE,
    col::AS_SENT,
    col::KIND,
    col::APP_TYPE,
    col::TITLE,
    col::URL,
    col::FILE_SIZE,
    col::QUOTED_MSG_ID,
    col::REVOKED_MSG_ID,
    col::MENTIONS,
    col::TEXT,
];

/// How many of [`COLUMNS`] each schema version has (version `v` has the first
/// `COLUMNS_OF_VERSION[v - 1]`).
pub const COLUMNS_OF_VERSION: [usize; 3] = [10, 12, 22];

/// The columns that hold what the collector sent (versions 1 and 2): what an export gives back
/// unless derived columns are asked for.
pub const SENT_COLUMNS: &[&str] = COLUMNS.split_at(COLUMNS_OF_VERSION[1]).0;

/// The columns derived from msg_type, content and source (version 3, after `as_sent`): never
/// instead of them.
pub const DERIVED: &[&str] = COLUMNS.split_at(COLUMNS_OF_VERSION[1] + 1).1;

/// The string columns of a record after `msg_id`, in schema order.
pub const TEXT_COLUMNS: [&str; 6] = [
    col::FROM_USERNAME,
    col::TO_USERNAME,
    col::CHATROOM,
    col::CHATROOM_SENDER,
    col::CONTENT,
    col::SOURCE,
];

/// One normalized message. Strings borrow from the raw line where no unescaping was needed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record<'a> {
    pub msg_id: Cow<'a, str>,
    /// Unix seconds.
    pub create_time: i64,
    pub msg_type: Option<i32>,
    /// from_username, to_username, chatroom, chatroom_sender, content, source (see [`TEXT_COLUMNS`]).
    pub text: [Option<Cow<'a, str>>; 6],
    /// A JSON object text of every key the schema does not know, or that had an unusable type.
    pub extra_fields: Option<Cow<'a, str>>,
    /// The webhook request's id (an envelope's `guid`, or the line's own).
    pub guid: Option<Cow<'a, str>>,
    /// The webhook's record kind (1010 for messages), when the collector sent one.
    pub notify_type: Option<i32>,
    /// A JSON object text of the values the collector sent for typed columns that wxlake
    /// filled or split (a 4.x packed msg_type; an empty chatroom_sender filled from a group
    /// text's `wxid:` prefix), so an export gives back what was sent. Null almost always.
    pub as_sent: Option<Cow<'a, str>>,
    /// The app subtype a 4.x packed msg_type carried in its high 32 bits (not a column of its
    /// own: it becomes `app_type`).
    pub packed_app_type: Option<i32>,
}

/// Index into [`Record::text`].
pub mod text {
    pub const FROM_USERNAME: usize = 0;
    pub const TO_USERNAME: usize = 1;
    pub const CHATROOM: usize = 2;
    pub const CHATROOM_SENDER: usize = 3;
    pub const CONTENT: usize = 4;
    pub const SOURCE: usize = 5;
}

impl Record<'_> {
    /// The chatroom, if any.
    pub fn chatroom(&self) -> Option<&str> {
        self.text[text::CHATROOM].as_deref()
    }

    /// A record borrowing the values of a row read back (its packed subtype, if any, is not
    /// recovered: see [`crate::lake::upgrade`]).
    pub fn from_view<'v>(row: &RowView<'v>) -> Record<'v> {
        Record {
            msg_id: Cow::Borrowed(row.msg_id),
            create_time: row.create_time,
            msg_type: row.msg_type,
            text: row.text.map(|t| t.map(Cow::Borrowed)),
            extra_fields: row.extra_fields.map(Cow::Borrowed),
            guid: row.guid.map(Cow::Borrowed),
            notify_type: row.notify_type,
            as_sent: row.as_sent.map(Cow::Borrowed),
            packed_app_type: None,
        }
    }

    /// A copy that owns all of its strings.
    pub fn into_owned(self) -> Record<'static> {
        Record {
            msg_id: Cow::Owned(self.msg_id.into_owned()),
            create_time: self.create_time,
            msg_type: self.msg_type,
            text: self.text.map(|t| t.map(|s| Cow::Owned(s.into_owned()))),
            extra_fields: self.extra_fields.map(|s| Cow::Owned(s.into_owned())),
            guid: self.guid.map(|s| Cow::Owned(s.into_owned())),
            notify_type: self.notify_type,
            as_sent: self.as_sent.map(|s| Cow::Owned(s.into_owned())),
            packed_app_type: self.packed_app_type,
        }
    }

    /// A hash of every column but `guid`, used to tell a conflicting duplicate (same msg_id,
    /// other fields differ) from a plain resend. A webhook retry sends the same message under a
    /// new guid: that is a plain resend. Only compared within one process, so it need not be stable
    /// across versions. 32 bits, because ingest keeps one per msg_id of every partition it
    /// touches: a conflicting duplicate goes uncounted (it is dropped either way; the first copy
    /// wins) with odds of one in four billion.
    pub fn content_hash(&self) -> u32 {
        RowView {
            msg_id: &self.msg_id,
            create_time: self.create_time,
            msg_type: self.msg_type,
            text: std::array::from_fn(|i| self.text[i].as_deref()),
            extra_fields: self.extra_fields.as_deref(),
            guid: self.guid.as_deref(),
            notify_type: self.notify_type,
            as_sent: self.as_sent.as_deref(),
        }
        .content_hash()
    }
}

/// A borrowed view of one row, as read back from Parquet or taken from a [`Record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowView<'a> {
    pub msg_id: &'a str,
    pub create_time: i64,
    pub msg_type: Option<i32>,
    pub text: [Option<&'a str>; 6],
    pub extra_fields: Option<&'a str>,
    pub guid: Option<&'a str>,
    pub notify_type: Option<i32>,
    pub as_sent: Option<&'a str>,
}

impl RowView<'_> {
    /// See [`Record::content_hash`]. Never returns 0 (callers use 0 as "unknown").
    pub fn content_hash(&self) -> u32 {
        let mut h = rustc_hash::FxHasher::default();
        self.msg_id.hash(&mut h);
        self.create_time.hash(&mut h);
        self.msg_type.hash(&mut h);
        self.text.hash(&mut h);
        self.extra_fields.hash(&mut h);
        self.notify_type.hash(&mut h);
        // Derived columns are a function of the others; as_sent is not (a packed type).
        self.as_sent.hash(&mut h);
        let h = h.finish();
        ((h >> 32) as u32 ^ h as u32).max(1)
    }
}

/// The Arrow schema of the current schema version.
pub fn arrow_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut fields = vec![
                Field::new(col::MSG_ID, DataType::Utf8, false),
                Field::new(col::CREATE_TIME, DataType::Int64, false),
                Field::new(col::MSG_TYPE, DataType::Int32, true),
            ];
            fields.extend(
                TEXT_COLUMNS
                    .iter()
                    .map(|c| Field::new(*c, DataType::Utf8, true)),
            );
            fields.push(Field::new(col::EXTRA_FIELDS, DataType::Utf8, true));
            fields.push(Field::new(col::GUID, DataType::Utf8, true));
            fields.push(Field::new(col::NOTIFY_TYPE, DataType::Int32, true));
            fields.push(Field::new(col::AS_SENT, DataType::Utf8, true));
            fields.push(Field::new(col::KIND, DataType::Utf8, true));
            fields.push(Field::new(col::APP_TYPE, DataType::Int32, true));
            fields.push(Field::new(col::TITLE, DataType::Utf8, true));
            fields.push(Field::new(col::URL, DataType::Utf8, true));
            fields.push(Field::new(col::FILE_SIZE, DataType::Int64, true));
            fields.push(Field::new(col::QUOTED_MSG_ID, DataType::Utf8, true));
            fields.push(Field::new(col::REVOKED_MSG_ID, DataType::Utf8, true));
            fields.push(Field::new(col::MENTIONS, mentions_type(), true));
            fields.push(Field::new(col::TEXT, DataType::Utf8, true));
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// The type of `mentions`: a list of wxids.
pub fn mentions_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

/// A table's columns: (name, type, nullable, description), in file order.
pub type FieldTable = [(&'static str, DataType, bool, &'static str)];

/// The Arrow schema of a [`FieldTable`].
pub fn schema_of(fields: &FieldTable) -> SchemaRef {
    Arc::new(Schema::new(
        fields
            .iter()
            .map(|(name, t, nullable, _)| Field::new(*name, t.clone(), *nullable))
            .collect::<Vec<_>>(),
    ))
}

/// The registry entries of a [`FieldTable`].
pub fn specs_of(fields: &FieldTable) -> Vec<FieldSpec> {
    fields
        .iter()
        .map(|(name, t, nullable, doc)| FieldSpec {
            name: name.to_string(),
            data_type: t.to_string(),
            nullable: *nullable,
            description: doc.to_string(),
        })
        .collect()
}

/// One field of a schema version, as listed in the schema registry.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    pub nullable: bool,
    pub description: String,
}

/// The fields of schema `version` (1, 2 or 3) with their documentation, for the schema registry.
pub fn field_specs(version: u32) -> Vec<FieldSpec> {
    let docs = [
        "message id, exact decimal text (a JSON integer of any size or a string)",
        "unix seconds (milliseconds on input are converted)",
        "WeChat message type (1 text, 3 image, 34 voice, 49 app, 10000 system, ...)",
        "sender account (the chatroom id for group messages)",
        "receiving account",
        "chatroom id, null in private chats",
        "actual sender inside a chatroom",
        "message text or XML payload",
        "msgsource XML as sent; numbers as decimal text, objects and arrays as compact JSON",
        "JSON object text of unknown keys and of known keys whose value had an unusable type",
        "webhook request id (the envelope's guid, or the line's own); null when not sent",
        "webhook record kind (1010 for messages); null when not sent",
        "JSON object of the values the collector sent for typed columns wxlake filled or split \
         (a 4.x packed msg_type, an empty chatroom_sender filled from a group text's prefix); \
         null when none",
        "derived: what the message is (text, image, voice, video, sticker, location, card, link, \
         file, quote, forward, mini_program, transfer, red_packet, channels, call, system, \
         recall, other)",
        "derived: the app subtype (<appmsg><type> of a 49 message, or the high 32 bits of a 4.x \
         packed type: 5 link, 6 file, 19 forward, 33/36 mini program, 57 quote, 2000 transfer, \
         2001 red packet, ...)",
        "derived: a card's title (link, file name, quote's reply, forward, mini program, \
         transfer, red packet), a location's poiname, a contact card's nickname",
        "derived: a link's url",
        "derived: a file's size in bytes (appattach/totallen)",
        "derived: the msg_id a quote replies to (refermsg/svrid)",
        "derived: the msg_id a recall withdrew (revokemsg/newmsgid)",
        "derived: the wxids @mentioned (atuserlist of source)",
        "derived: what a person reads: the text without a group sender prefix, a card's title, \
         [image], ...",
    ];
    let columns = COLUMNS_OF_VERSION[(version.clamp(1, SCHEMA_VERSION) - 1) as usize];
    arrow_schema()
        .fields()
        .iter()
        .zip(docs)
        .take(columns)
        .map(|(f, doc)| FieldSpec {
            name: f.name().clone(),
            data_type: f.data_type().to_string(),
            nullable: f.is_nullable(),
            description: doc.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_its_columns_in_order() {
        let schema = arrow_schema();
        let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "msg_id",
                "create_time",
                "msg_type",
                "from_username",
                "to_username",
                "chatroom",
                "chatroom_sender",
                "content",
                "source",
                "extra_fields",
                "guid",
                "notify_type",
                "as_sent",
                "kind",
                "app_type",
                "title",
                "url",
                "file_size",
                "quoted_msg_id",
                "revoked_msg_id",
                "mentions",
                "text",
            ]
        );
        assert_eq!(names, COLUMNS);
        assert_eq!(field_specs(1).len(), 10);
        assert_eq!(field_specs(2).len(), 12);
        assert_eq!(field_specs(3).len(), 22);
        assert_eq!(SENT_COLUMNS.len(), 12);
        assert_eq!(SENT_COLUMNS.last(), Some(&col::NOTIFY_TYPE));
        assert_eq!(DERIVED.len(), 9);
        assert_eq!((DERIVED[0], DERIVED[8]), (col::KIND, col::TEXT));
    }

    #[test]
    fn content_hash_sees_every_column() {
        let base = Record {
            msg_id: "1".into(),
            create_time: 10,
            msg_type: Some(1),
            ..Default::default()
        };
        let mut other = base.clone();
        other.text[text::CONTENT] = Some("x".into());
        assert_ne!(base.content_hash(), other.content_hash());
        let mut other = base.clone();
        other.extra_fields = Some("{}".into());
        assert_ne!(base.content_hash(), other.content_hash());
        let mut other = base.clone();
        other.notify_type = Some(1010);
        assert_ne!(base.content_hash(), other.content_hash());
        // A webhook retry: the same message under another guid is a plain resend.
        let mut other = base.clone();
        other.as_sent = Some(r#"{"msg_type":244813135921}"#.into());
        assert_ne!(base.content_hash(), other.content_hash());
        let mut retry = base.clone();
        retry.guid = Some("another-request".into());
        assert_eq!(base.content_hash(), retry.content_hash());
        assert_eq!(
            base.content_hash(),
            base.clone().into_owned().content_hash()
        );
    }
}
