//! The typed message schema: one normalized WeChat message, its Arrow schema and version.
//!
//! Version 1 is the schema every file written by this crate carries (in the Parquet key-value
//! metadata under [`SCHEMA_VERSION_KEY`]). Partition columns (year, month, day) are *not* part of
//! it: by the Hive convention they live in the directory names only.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::Serialize;

/// The current schema version.
pub const SCHEMA_VERSION: u32 = 1;
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
}

/// Every column, in schema order.
pub const COLUMNS: [&str; 10] = [
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
];

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

    /// A copy that owns all of its strings.
    pub fn into_owned(self) -> Record<'static> {
        Record {
            msg_id: Cow::Owned(self.msg_id.into_owned()),
            create_time: self.create_time,
            msg_type: self.msg_type,
            text: self.text.map(|t| t.map(|s| Cow::Owned(s.into_owned()))),
            extra_fields: self.extra_fields.map(|s| Cow::Owned(s.into_owned())),
        }
    }

    /// A hash of every column, used to tell a conflicting duplicate (same msg_id, other fields
    /// differ) from a plain resend. Only compared within one process, so it need not be stable
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
        let h = h.finish();
        ((h >> 32) as u32 ^ h as u32).max(1)
    }
}

/// The Arrow schema of schema version 1.
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
            Arc::new(Schema::new(fields))
        })
        .clone()
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

/// The fields of schema version 1 with their documentation, for the schema registry.
pub fn field_specs() -> Vec<FieldSpec> {
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
    ];
    arrow_schema()
        .fields()
        .iter()
        .zip(docs)
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
    fn schema_has_ten_columns_in_order() {
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
                "extra_fields"
            ]
        );
        assert_eq!(field_specs().len(), 10);
    }

    #[test]
    fn content_hash_sees_every_column() {
        let base = Record {
            msg_id: "1".into(),
            create_time: 10,
            msg_type: Some(1),
            text: Default::default(),
            extra_fields: None,
        };
        let mut other = base.clone();
        other.text[text::CONTENT] = Some("x".into());
        assert_ne!(base.content_hash(), other.content_hash());
        let mut other = base.clone();
        other.extra_fields = Some("{}".into());
        assert_ne!(base.content_hash(), other.content_hash());
        assert_eq!(
            base.content_hash(),
            base.clone().into_owned().content_hash()
        );
    }
}
