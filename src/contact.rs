//! The contacts table: every version of every contact, chatroom and official account a collector
//! reported, one row per contact record (webhook notify types 1200 update, 1201 delete and 1202
//! detail).
//!
//! Contact records are the only place where names live, so the table keeps history: a rename is
//! a new row, never an update of an old one. A record has no time of its own; ingest stamps it
//! with `observed_at` from the messages around it (see [`crate::commands::ingest`]). Typed columns hold what
//! operators need; every other key the collector sent is kept verbatim in `extra_fields`.
//!
//! Pure: the record type, its Arrow schema and a batch builder. Files live under
//! `parquet/contacts/` (see [`crate::lake::layout`]).

use std::sync::{Arc, OnceLock};

use arrow_array::builder::{Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, SchemaRef};

use crate::record::{FieldSpec, schema_of, specs_of};

/// Version of the contacts table's schema (key-value metadata `wxlake.schema_version`).
pub const CONTACTS_SCHEMA_VERSION: u32 = 1;

/// What a contact record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactAction {
    /// notify_type 1200: the whole contact (or chatroom) as the client knows it now.
    Update,
    /// notify_type 1201: the contact was deleted.
    Delete,
    /// notify_type 1202: a few profile fields (nickname, remark, head images, custom info).
    Detail,
}

impl ContactAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactAction::Update => "update",
            ContactAction::Delete => "delete",
            ContactAction::Detail => "detail",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "update" => ContactAction::Update,
            "delete" => ContactAction::Delete,
            "detail" => ContactAction::Detail,
            _ => return None,
        })
    }

    /// The webhook notify_type that carries this action.
    pub fn notify_type(self) -> i32 {
        match self {
            ContactAction::Update => 1200,
            ContactAction::Delete => 1201,
            ContactAction::Detail => 1202,
        }
    }
}

/// What kind of account a username names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactKind {
    Person,
    /// `…@chatroom`.
    Chatroom,
    /// `gh_…`.
    Official,
}

impl ContactKind {
    /// By WeChat's naming rules.
    pub fn of(username: &str) -> Self {
        if username.ends_with("@chatroom") {
            ContactKind::Chatroom
        } else if username.starts_with("gh_") {
            ContactKind::Official
        } else {
            ContactKind::Person
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Person => "person",
            ContactKind::Chatroom => "chatroom",
            ContactKind::Official => "official",
        }
    }
}

/// One contact record as normalized from a raw line (masking already applied).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactRecord {
    pub action: Option<ContactAction>,
    pub username: String,
    pub guid: Option<String>,
    pub notify_type: Option<i32>,
    pub nickname: Option<String>,
    pub remark: Option<String>,
    pub alias: Option<String>,
    pub pyinitial: Option<String>,
    pub quan_pin: Option<String>,
    pub remark_pyinitial: Option<String>,
    pub remark_quan_pin: Option<String>,
    pub sex: Option<i32>,
    pub contact_type: Option<i64>,
    pub verify_flag: Option<i64>,
    pub delete_flag: Option<i64>,
    pub mobile: Option<String>,
    pub country: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub signature: Option<String>,
    pub member_count: Option<i64>,
    pub max_member_count: Option<i64>,
    pub big_head_img_url: Option<String>,
    pub small_head_img_url: Option<String>,
    pub custom_info: Option<String>,
    /// JSON object text of every other key, verbatim.
    pub extra_fields: Option<String>,
    /// A stable hash of the record's JSON text: with `observed_at`, the dedup key of a record
    /// that has no guid.
    pub content_hash: u64,
}

impl ContactRecord {
    pub fn action(&self) -> ContactAction {
        self.action.unwrap_or(ContactAction::Update)
    }

    pub fn kind(&self) -> ContactKind {
        ContactKind::of(&self.username)
    }
}

/// A contact record with where and when it was seen: one row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRow {
    pub record: ContactRecord,
    /// Unix seconds.
    pub observed_at: i64,
    /// The dedup key (see [`record_key`]).
    pub record_key: String,
    pub raw_file: String,
    pub line: u64,
}

/// The dedup key of a contact or event record: its guid when the collector sent one (a webhook
/// retry repeats it), else a hash of its content and the time it was observed — so a resend
/// right after is a duplicate, while a later record with the same content (renamed back) is a
/// new version.
pub fn record_key(guid: Option<&str>, content_hash: u64, observed_at: i64) -> String {
    match guid {
        Some(g) if !g.is_empty() => g.to_string(),
        _ => format!("content:{content_hash:016x}@{observed_at}"),
    }
}

/// Column names of the contacts table.
pub mod col {
    pub const USERNAME: &str = "username";
    pub const KIND: &str = "kind";
    pub const ACTION: &str = "action";
    pub const OBSERVED_AT: &str = "observed_at";
    pub const NICKNAME: &str = "nickname";
    pub const REMARK: &str = "remark";
    pub const ALIAS: &str = "alias";
    pub const MOBILE: &str = "mobile";
    pub const CUSTOM_INFO: &str = "custom_info";
    pub const EXTRA_FIELDS: &str = "extra_fields";
    pub const GUID: &str = "guid";
    pub const RECORD_KEY: &str = "record_key";
    pub const RAW_FILE: &str = "raw_file";
    pub const LINE: &str = "line";
}

/// (name, type, nullable, description) of every column, in file order.
const FIELDS: [(&str, DataType, bool, &str); 31] = [
    (
        "username",
        DataType::Utf8,
        false,
        "the account: wxid_…, …@chatroom, gh_…",
    ),
    (
        "kind",
        DataType::Utf8,
        false,
        "person, chatroom or official (from the username)",
    ),
    (
        "action",
        DataType::Utf8,
        false,
        "update (1200), delete (1201) or detail (1202)",
    ),
    (
        "observed_at",
        DataType::Int64,
        false,
        "unix seconds: the newest message before the record in its raw file, else the raw file's day at 00:00",
    ),
    (
        "nickname",
        DataType::Utf8,
        true,
        "the account's own name (nickName, or a detail's nickname)",
    ),
    (
        "remark",
        DataType::Utf8,
        true,
        "the owner's name for the account; null when none",
    ),
    (
        "alias",
        DataType::Utf8,
        true,
        "WeChat ID chosen by the account",
    ),
    (
        "pyinitial",
        DataType::Utf8,
        true,
        "pinyin initials of the nickname",
    ),
    (
        "quan_pin",
        DataType::Utf8,
        true,
        "full pinyin of the nickname",
    ),
    (
        "remark_pyinitial",
        DataType::Utf8,
        true,
        "pinyin initials of the remark",
    ),
    (
        "remark_quan_pin",
        DataType::Utf8,
        true,
        "full pinyin of the remark",
    ),
    ("sex", DataType::Int32, true, "0 unknown, 1 male, 2 female"),
    ("contact_type", DataType::Int64, true, "contactType"),
    (
        "verify_flag",
        DataType::Int64,
        true,
        "verifyFlag (non-zero for verified official accounts)",
    ),
    ("delete_flag", DataType::Int64, true, "deleteFlag"),
    (
        "mobile",
        DataType::Utf8,
        true,
        "phone number (masked with --mask mobile)",
    ),
    ("country", DataType::Utf8, true, "country"),
    ("province", DataType::Utf8, true, "province"),
    ("city", DataType::Utf8, true, "city"),
    (
        "signature",
        DataType::Utf8,
        true,
        "the account's signature line",
    ),
    (
        "member_count",
        DataType::Int64,
        true,
        "chatrooms: newChatroomData.memberCount",
    ),
    (
        "max_member_count",
        DataType::Int64,
        true,
        "chatrooms: chatroomMaxCount",
    ),
    ("big_head_img_url", DataType::Utf8, true, "large avatar URL"),
    (
        "small_head_img_url",
        DataType::Utf8,
        true,
        "small avatar URL",
    ),
    (
        "custom_info",
        DataType::Utf8,
        true,
        "a detail's customInfo.detail as sent (JSON text); masked with --mask custom_info",
    ),
    (
        "extra_fields",
        DataType::Utf8,
        true,
        "JSON object text of every other key, verbatim",
    ),
    ("guid", DataType::Utf8, true, "webhook request id"),
    (
        "notify_type",
        DataType::Int32,
        true,
        "webhook record kind (1200, 1201, 1202)",
    ),
    (
        "record_key",
        DataType::Utf8,
        false,
        "dedup key: the guid, else a hash of the content and observed_at",
    ),
    (
        "raw_file",
        DataType::Utf8,
        false,
        "the raw file the record came from",
    ),
    ("line", DataType::Int64, false, "its line number there"),
];

/// The Arrow schema of the contacts table.
pub fn arrow_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA.get_or_init(|| schema_of(&FIELDS)).clone()
}

/// The fields with their documentation, for the schema registry.
pub fn field_specs() -> Vec<FieldSpec> {
    specs_of(&FIELDS)
}

/// Rows as one Arrow batch of [`arrow_schema`].
pub fn to_batch(rows: &[ContactRow]) -> RecordBatch {
    let n = rows.len();
    let mut s: Vec<StringBuilder> = (0..FIELDS.len()).map(|_| StringBuilder::new()).collect();
    let mut sex = Int32Builder::with_capacity(n);
    let mut notify = Int32Builder::with_capacity(n);
    let mut ints: Vec<Int64Builder> = (0..FIELDS.len())
        .map(|_| Int64Builder::with_capacity(n))
        .collect();
    for row in rows {
        let r = &row.record;
        let text: [(usize, Option<&str>); 22] = [
            (0, Some(&r.username)),
            (1, Some(r.kind().as_str())),
            (2, Some(r.action().as_str())),
            (4, r.nickname.as_deref()),
            (5, r.remark.as_deref()),
            (6, r.alias.as_deref()),
            (7, r.pyinitial.as_deref()),
            (8, r.quan_pin.as_deref()),
            (9, r.remark_pyinitial.as_deref()),
            (10, r.remark_quan_pin.as_deref()),
            (15, r.mobile.as_deref()),
            (16, r.country.as_deref()),
            (17, r.province.as_deref()),
            (18, r.city.as_deref()),
            (19, r.signature.as_deref()),
            (22, r.big_head_img_url.as_deref()),
            (23, r.small_head_img_url.as_deref()),
            (24, r.custom_info.as_deref()),
            (25, r.extra_fields.as_deref()),
            (26, r.guid.as_deref()),
            (28, Some(&row.record_key)),
            (29, Some(&row.raw_file)),
        ];
        for (i, v) in text {
            s[i].append_option(v);
        }
        let int: [(usize, Option<i64>); 7] = [
            (3, Some(row.observed_at)),
            (12, r.contact_type),
            (13, r.verify_flag),
            (14, r.delete_flag),
            (20, r.member_count),
            (21, r.max_member_count),
            (30, Some(row.line as i64)),
        ];
        for (i, v) in int {
            ints[i].append_option(v);
        }
        sex.append_option(r.sex);
        notify.append_option(r.notify_type);
    }
    let columns: Vec<ArrayRef> = FIELDS
        .iter()
        .enumerate()
        .map(|(i, (name, t, _, _))| -> ArrayRef {
            match (t, *name) {
                (DataType::Int32, "sex") => Arc::new(sex.finish()),
                (DataType::Int32, _) => Arc::new(notify.finish()),
                (DataType::Int64, _) => Arc::new(ints[i].finish()),
                _ => Arc::new(s[i].finish()),
            }
        })
        .collect();
    RecordBatch::try_new(arrow_schema(), columns).expect("builders match the schema")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_wechat_naming() {
        assert_eq!(ContactKind::of("123@chatroom"), ContactKind::Chatroom);
        assert_eq!(ContactKind::of("gh_abc"), ContactKind::Official);
        assert_eq!(ContactKind::of("wxid_abc"), ContactKind::Person);
        assert_eq!(ContactKind::of("someone"), ContactKind::Person);
    }

    #[test]
    fn record_keys_prefer_the_guid() {
        assert_eq!(record_key(Some("g-1"), 7, 100), "g-1");
        assert_eq!(record_key(None, 7, 100), "content:0000000000000007@100");
        assert_ne!(record_key(None, 7, 100), record_key(None, 7, 101));
        assert_eq!(record_key(Some(""), 7, 100), record_key(None, 7, 100));
    }

    #[test]
    fn batches_put_every_value_in_its_column() {
        let row = ContactRow {
            record: ContactRecord {
                action: Some(ContactAction::Update),
                username: "9@chatroom".into(),
                nickname: Some("群".into()),
                sex: Some(2),
                member_count: Some(42),
                notify_type: Some(1200),
                ..Default::default()
            },
            observed_at: 1_700_000_000,
            record_key: "k".into(),
            raw_file: "2026-01-01.jsonl".into(),
            line: 7,
        };
        let batch = to_batch(&[row]);
        assert_eq!(batch.num_columns(), 31);
        let show = arrow_cast_free_debug(&batch);
        for want in [
            "9@chatroom",
            "chatroom",
            "update",
            "群",
            "1700000000",
            "42",
            "1200",
            "k",
            "7",
        ] {
            assert!(show.contains(want), "{want} in {show}");
        }
    }

    fn arrow_cast_free_debug(batch: &RecordBatch) -> String {
        format!("{:?}", batch.columns())
    }
}
