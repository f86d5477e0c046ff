//! Rows of an older schema version brought to the current one: what `migrate` writes, and
//! what `compact` and `archive` write when a partition they rewrite still holds older files.
//!
//! A file of version 1 or 2 lacks `as_sent` and the derived columns (kind, app_type, title, …):
//! every row is read back as a [`Record`], brought to what ingest makes of the same line today
//! ([`crate::normalize::upgrade_record`]: a 4.x packed msg_type that those versions kept as a
//! type conflict in `extra_fields` is split, an empty group sender is filled from the content's
//! prefix), and derived again through the same [`RowBuffer`] ingest writes with. So a migrated
//! row equals the row a fresh ingest of its line would store.

use std::borrow::Cow;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch, StringArray};

use crate::lake::writer::RowBuffer;
use crate::normalize::upgrade_record;
use crate::record::{Record, TEXT_COLUMNS, col};

/// `batch` (conformed to the current schema, read from a file of an older version) with its
/// rows upgraded and their derived columns filled; and how many cards did not parse.
pub fn upgrade_batch(batch: &RecordBatch) -> (RecordBatch, u64) {
    let strings = |name: &str| -> &StringArray {
        batch
            .column_by_name(name)
            .expect("conformed to the current schema")
            .as_string::<i32>()
    };
    let ints = |name: &str| {
        batch
            .column_by_name(name)
            .expect("conformed to the current schema")
            .as_primitive::<Int32Type>()
    };
    let (ids, times) = (
        strings(col::MSG_ID),
        batch
            .column_by_name(col::CREATE_TIME)
            .expect("conformed to the current schema")
            .as_primitive::<Int64Type>(),
    );
    let (types, notify) = (ints(col::MSG_TYPE), ints(col::NOTIFY_TYPE));
    let text: Vec<&StringArray> = TEXT_COLUMNS.iter().map(|c| strings(c)).collect();
    let (extra, guid, as_sent) = (
        strings(col::EXTRA_FIELDS),
        strings(col::GUID),
        strings(col::AS_SENT),
    );
    fn get(a: &StringArray, i: usize) -> Option<Cow<'_, str>> {
        a.is_valid(i).then(|| Cow::Borrowed(a.value(i)))
    }
    let mut buffer = RowBuffer::default();
    let mut unparsed = 0;
    for i in 0..batch.num_rows() {
        let mut record = Record {
            msg_id: Cow::Borrowed(ids.value(i)),
            create_time: times.value(i),
            msg_type: types.is_valid(i).then(|| types.value(i)),
            text: std::array::from_fn(|c| get(text[c], i)),
            extra_fields: get(extra, i),
            guid: get(guid, i),
            notify_type: notify.is_valid(i).then(|| notify.value(i)),
            as_sent: get(as_sent, i),
            packed_app_type: None,
        };
        if record.as_sent.is_none() {
            upgrade_record(&mut record);
        } else if let Some(sent) = record.as_sent.as_deref() {
            record.packed_app_type = packed_app_type(sent);
        }
        unparsed += u64::from(buffer.push(&record));
    }
    (buffer.take_batch(), unparsed)
}

/// The app subtype of the packed msg_type an `as_sent` object records, if it records one.
pub fn packed_app_type(as_sent: &str) -> Option<i32> {
    let mut entries = Vec::new();
    crate::json_object::parse_object(as_sent, &mut entries).ok()?;
    let raw = entries.iter().find(|(k, _)| k == col::MSG_TYPE)?.1;
    crate::normalize::msg_type_parts(raw).ok()??.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::arrow_schema;
    use arrow_array::ListArray;

    fn old_row(
        msg_type: Option<i32>,
        extra: Option<&str>,
        room: &str,
        content: &str,
    ) -> Record<'static> {
        let mut r = Record {
            msg_id: "1".into(),
            create_time: 1_767_225_600,
            msg_type,
            extra_fields: extra.map(|s| Cow::Owned(s.to_string())),
            ..Default::default()
        };
        r.text[crate::record::text::CHATROOM] = Some(room.to_string().into());
        r.text[crate::record::text::FROM_USERNAME] = Some(room.to_string().into());
        r.text[crate::record::text::CHATROOM_SENDER] = Some("".into());
        r.text[crate::record::text::CONTENT] = Some(content.to_string().into());
        r.text[crate::record::text::SOURCE] =
            Some("<msgsource><atuserlist>,wxid_b</atuserlist></msgsource>".into());
        r
    }

    /// A version-2 batch: what a file of that version reads as, conformed (derived columns null).
    fn v2_batch(rows: &[Record<'_>]) -> RecordBatch {
        let mut b = RowBuffer::default();
        for r in rows {
            b.push(r);
        }
        let full = b.take_batch();
        let nulls: Vec<_> = arrow_schema()
            .fields()
            .iter()
            .zip(full.columns())
            .map(|(f, c)| {
                if crate::record::SENT_COLUMNS.contains(&f.name().as_str()) {
                    c.clone()
                } else {
                    arrow_array::new_null_array(f.data_type(), full.num_rows())
                }
            })
            .collect();
        RecordBatch::try_new(arrow_schema(), nulls).unwrap()
    }

    #[test]
    fn an_old_packed_type_conflict_is_split_and_its_columns_derived() {
        let quote = "<msg><appmsg><title>同意</title><type>57</type><refermsg><svrid>42</svrid></refermsg></appmsg></msg>";
        let rows = [
            old_row(
                None,
                Some(r#"{"msg_type":244813135921,"x":1}"#),
                "r@chatroom",
                quote,
            ),
            old_row(Some(1), None, "r@chatroom", "wxid_a:\n大家好"),
        ];
        let (up, unparsed) = upgrade_batch(&v2_batch(&rows));
        assert_eq!(unparsed, 0);
        let s = |name: &str, i: usize| {
            let a = up.column_by_name(name).unwrap().as_string::<i32>();
            a.is_valid(i).then(|| a.value(i).to_string())
        };
        let ints = |name: &str, i: usize| {
            let a = up.column_by_name(name).unwrap().as_primitive::<Int32Type>();
            a.is_valid(i).then(|| a.value(i))
        };
        assert_eq!(ints(col::MSG_TYPE, 0), Some(49));
        assert_eq!(ints(col::APP_TYPE, 0), Some(57));
        assert_eq!(s(col::KIND, 0).as_deref(), Some("quote"));
        assert_eq!(s(col::QUOTED_MSG_ID, 0).as_deref(), Some("42"));
        assert_eq!(s(col::EXTRA_FIELDS, 0).as_deref(), Some(r#"{"x":1}"#));
        assert_eq!(
            s(col::AS_SENT, 0).as_deref(),
            Some(r#"{"msg_type":244813135921}"#)
        );
        assert_eq!(s(col::CHATROOM_SENDER, 1).as_deref(), Some("wxid_a"));
        assert_eq!(s(col::CONTENT, 1).as_deref(), Some("wxid_a:\n大家好"));
        assert_eq!(s(col::TEXT, 1).as_deref(), Some("大家好"));
        assert_eq!(
            s(col::AS_SENT, 1).as_deref(),
            Some(r#"{"chatroom_sender":""}"#)
        );
        let mentions = up.column_by_name(col::MENTIONS).unwrap();
        let mentions = mentions.as_any().downcast_ref::<ListArray>().unwrap();
        assert_eq!(mentions.value(0).as_string::<i32>().value(0), "wxid_b");
        // Upgrading again changes nothing.
        let (again, _) = upgrade_batch(&up);
        assert_eq!(again, up);
    }
}
