//! Table-driven tests: one row per clause of the input contract.

use super::*;
use crate::contact::{ContactAction, ContactRecord};
use crate::event::EventRecord;
use crate::mask::Mask;
use crate::record::text;

mod envelopes;

fn record(line: &str) -> Normalized<'_> {
    match normalize_line(line.as_bytes()) {
        Line::Record(n) => n,
        other => panic!("expected a record for {line}, got {other:?}"),
    }
}

fn reject_code(line: &[u8]) -> &'static str {
    match normalize_line(line) {
        Line::Reject(r) => r.code(),
        other => panic!(
            "expected a reject for {:?}, got {other:?}",
            String::from_utf8_lossy(line)
        ),
    }
}

#[test]
fn msg_id_accepts_strings_and_integers_of_any_size_exactly() {
    let cases = [
        (
            r#"{"msg_id":7234567890123456789,"create_time":1}"#,
            "7234567890123456789",
        ),
        (
            r#"{"msg_id":"7234567890123456789","create_time":1}"#,
            "7234567890123456789",
        ),
        (
            r#"{"msg_id":12345678901234567890,"create_time":1}"#,
            "12345678901234567890",
        ),
        (
            r#"{"msg_id":123456789012345678901234567890123,"create_time":1}"#,
            "123456789012345678901234567890123",
        ),
        (r#"{"msg_id":"abc\u0041","create_time":1}"#, "abcA"),
        (r#"{"msg_id": 42 ,"create_time":1}"#, "42"),
    ];
    for (line, want) in cases {
        assert_eq!(record(line).record.msg_id, want, "{line}");
    }
}

#[test]
fn msg_id_missing_or_unusable_rejects() {
    let cases = [
        (r#"{"create_time":1}"#, "missing_field"),
        (r#"{"msg_id":null,"create_time":1}"#, "unusable_field"),
        (r#"{"msg_id":"","create_time":1}"#, "unusable_field"),
        (r#"{"msg_id":1.5,"create_time":1}"#, "unusable_field"),
        (r#"{"msg_id":1e3,"create_time":1}"#, "unusable_field"),
        (r#"{"msg_id":true,"create_time":1}"#, "unusable_field"),
        (r#"{"msg_id":{"a":1},"create_time":1}"#, "unusable_field"),
    ];
    for (line, code) in cases {
        assert_eq!(reject_code(line.as_bytes()), code, "{line}");
    }
}

#[test]
fn create_time_rules() {
    let cases = [
        (r#"{"msg_id":1,"create_time":1767225600}"#, 1767225600),
        (r#"{"msg_id":1,"create_time":"1767225600"}"#, 1767225600),
        (r#"{"msg_id":1,"create_time":1767225600123}"#, 1767225600),
        (r#"{"msg_id":1,"create_time":"1767225600999"}"#, 1767225600),
        (r#"{"msg_id":1,"create_time":99999999999}"#, 99999999999),
        (r#"{"msg_id":1,"create_time":100000000000}"#, 100000000),
    ];
    for (line, want) in cases {
        assert_eq!(record(line).record.create_time, want, "{line}");
    }
    let bad = [
        r#"{"msg_id":1}"#,
        r#"{"msg_id":1,"create_time":"yesterday"}"#,
        r#"{"msg_id":1,"create_time":"-5"}"#,
        r#"{"msg_id":1,"create_time":0}"#,
        r#"{"msg_id":1,"create_time":-1}"#,
        r#"{"msg_id":1,"create_time":1.5}"#,
        r#"{"msg_id":1,"create_time":null}"#,
        r#"{"msg_id":1,"create_time":99999999999999999999}"#,
    ];
    for line in bad {
        assert!(
            matches!(normalize_line(line.as_bytes()), Line::Reject(_)),
            "{line}"
        );
    }
}

#[test]
fn msg_type_rules() {
    let ok = [
        (r#"{"msg_id":1,"create_time":1,"msg_type":49}"#, Some(49)),
        (
            r#"{"msg_id":1,"create_time":1,"msg_type":"10000"}"#,
            Some(10000),
        ),
        (r#"{"msg_id":1,"create_time":1,"msg_type":-1}"#, Some(-1)),
        (r#"{"msg_id":1,"create_time":1,"msg_type":null}"#, None),
        (r#"{"msg_id":1,"create_time":1}"#, None),
    ];
    for (line, want) in ok {
        let n = record(line);
        assert_eq!(n.record.msg_type, want, "{line}");
        assert_eq!(n.type_conflicts, 0, "{line}");
        assert_eq!(n.record.extra_fields, None, "{line}");
    }
    let conflicts = [
        (
            r#"{"msg_id":1,"create_time":1,"msg_type":"abc"}"#,
            r#"{"msg_type":"abc"}"#,
        ),
        (
            r#"{"msg_id":1,"create_time":1,"msg_type":2147483648}"#,
            r#"{"msg_type":2147483648}"#,
        ),
        (
            r#"{"msg_id":1,"create_time":1,"msg_type":1.0}"#,
            r#"{"msg_type":1.0}"#,
        ),
        (
            r#"{"msg_id":1,"create_time":1,"msg_type":[1]}"#,
            r#"{"msg_type":[1]}"#,
        ),
    ];
    for (line, extra) in conflicts {
        let n = record(line);
        assert_eq!(n.record.msg_type, None, "{line}");
        assert_eq!(n.type_conflicts, 1, "{line}");
        assert_eq!(n.record.extra_fields.as_deref(), Some(extra), "{line}");
    }
}

#[test]
fn text_columns_take_strings_and_keep_type_conflicts() {
    let n = record(
        r#"{"msg_id":1,"create_time":1,"from_username":"wxid_a","to_username":"me","chatroom":"1@chatroom","chatroom_sender":"wxid_b","content":"hi \"there\" 😀\n"}"#,
    );
    let t = &n.record.text;
    assert_eq!(t[text::FROM_USERNAME].as_deref(), Some("wxid_a"));
    assert_eq!(t[text::TO_USERNAME].as_deref(), Some("me"));
    assert_eq!(t[text::CHATROOM].as_deref(), Some("1@chatroom"));
    assert_eq!(t[text::CHATROOM_SENDER].as_deref(), Some("wxid_b"));
    assert_eq!(t[text::CONTENT].as_deref(), Some("hi \"there\" 😀\n"));
    assert_eq!(n.type_conflicts, 0);

    let n = record(
        r#"{"msg_id":1,"create_time":1,"content":{"a": [1, 2]},"chatroom":5,"to_username":""}"#,
    );
    assert_eq!(n.record.text[text::CONTENT], None);
    assert_eq!(n.record.text[text::CHATROOM], None);
    assert_eq!(n.record.text[text::TO_USERNAME].as_deref(), Some(""));
    assert_eq!(n.type_conflicts, 2);
    assert_eq!(
        n.record.extra_fields.as_deref(),
        Some(r#"{"content":{"a":[1,2]},"chatroom":5}"#)
    );
}

#[test]
fn source_takes_xml_numbers_and_json() {
    let cases = [
        (
            r#""<msgsource><silence>1</silence></msgsource>""#,
            Some("<msgsource><silence>1</silence></msgsource>"),
        ),
        ("12345678901234567890", Some("12345678901234567890")),
        (
            r#"{ "atuserlist" : "wxid_a", "silence": 1 }"#,
            Some(r#"{"atuserlist":"wxid_a","silence":1}"#),
        ),
        ("[1, 2]", Some("[1,2]")),
        ("null", None),
    ];
    for (value, want) in cases {
        let line = format!(r#"{{"msg_id":1,"create_time":1,"source":{value}}}"#);
        let n = record(&line);
        assert_eq!(n.record.text[text::SOURCE].as_deref(), want, "{line}");
        assert_eq!(n.type_conflicts, 0);
    }
    let n = record(r#"{"msg_id":1,"create_time":1,"source":true}"#);
    assert_eq!(n.type_conflicts, 1);
    assert_eq!(n.record.extra_fields.as_deref(), Some(r#"{"source":true}"#));
}

#[test]
fn unknown_fields_are_kept_verbatim_in_order() {
    let n = record(
        r#"{"status": 3,"msg_id":1,"create_time":1,"big":12345678901234567890,"f":2.50,"ext":{"a":[1, true, null]},"n":null,"s":"x\"y","k\u00e9":1}"#,
    );
    assert_eq!(
        n.record.extra_fields.as_deref(),
        Some(
            r#"{"status":3,"big":12345678901234567890,"f":2.50,"ext":{"a":[1,true,null]},"n":null,"s":"x\"y","ké":1}"#
        )
    );
    let back: serde_json::Value =
        serde_json::from_str(n.record.extra_fields.as_deref().unwrap()).unwrap();
    assert_eq!(back["status"], 3);
    assert_eq!(n.type_conflicts, 0);
    assert_eq!(
        record(r#"{"msg_id":1,"create_time":1}"#)
            .record
            .extra_fields,
        None
    );
}

#[test]
fn lone_surrogates_are_repaired() {
    let n =
        record(r#"{"msg_id":1,"create_time":1,"content":"cut \ud83d","x\udc00":"\ud83d\ude00"}"#);
    assert!(n.repaired);
    assert_eq!(
        n.record.text[text::CONTENT].as_deref(),
        Some("cut \u{fffd}")
    );
    assert_eq!(
        n.record.extra_fields.as_deref(),
        Some("{\"x\u{fffd}\":\"\\ud83d\\ude00\"}")
    );
    assert!(!record(r#"{"msg_id":1,"create_time":1,"content":"\ud83d\ude00"}"#).repaired);
    // A lone surrogate inside an unknown field is repaired too, so extra_fields is valid UTF-16.
    let n = record(r#"{"msg_id":1,"create_time":1,"other":{"t":"\udc00"}}"#);
    assert!(n.repaired);
    assert_eq!(
        n.record.extra_fields.as_deref(),
        Some(r#"{"other":{"t":"\ufffd"}}"#)
    );
    // Only in a value that is decoded later (no error while parsing the object).
    let n = record(r#"{"msg_id":1,"create_time":1,"content":"a\ud83db"}"#);
    assert!(n.repaired);
    assert_eq!(n.record.text[text::CONTENT].as_deref(), Some("a\u{fffd}b"));
}

#[test]
fn blank_lines_bom_free_and_crlf() {
    assert_eq!(normalize_line(b""), Line::Blank);
    assert_eq!(normalize_line(b"  \t\r"), Line::Blank);
    // A form feed is not JSON whitespace (regression: it used to count as blank).
    assert!(matches!(
        normalize_line(b"\x0c"),
        Line::Reject(Reject::InvalidJson(_))
    ));
    assert_eq!(
        record("{\"msg_id\":1,\"create_time\":1}\r").record.msg_id,
        "1"
    );
}

#[test]
fn structural_rejects() {
    let cases: [(&[u8], &str); 8] = [
        (b"{\"msg_id\":1,\"cre", "invalid_json"),
        (b"not json", "invalid_json"),
        (b"[1,2]", "not_an_object"),
        (b"42", "not_an_object"),
        (b"\"s\"", "not_an_object"),
        (
            b"{\"msg_id\":1,\"create_time\":1} {\"msg_id\":2,\"create_time\":1}",
            "trailing_data",
        ),
        (
            b"{\"msg_id\":\"a\xff\xfe\",\"create_time\":1}",
            "invalid_utf8",
        ),
        (
            b"{\"msg_id\":1,\"msg_id\":2,\"create_time\":1}",
            "duplicate_key",
        ),
    ];
    for (line, code) in cases {
        assert_eq!(
            reject_code(line),
            code,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
    // A repairable surrogate does not rescue an otherwise broken line.
    assert_eq!(
        reject_code(br#"{"msg_id":1,"content":"\ud83d""#),
        "invalid_json"
    );
}

#[test]
fn reject_messages_name_the_problem() {
    let Line::Reject(r) = normalize_line(br#"{"msg_id":1,"create_time":"yesterday"}"#) else {
        panic!()
    };
    assert_eq!(
        r.to_string(),
        "unusable create_time \"yesterday\": a string must hold digits only"
    );
    let Line::Reject(r) = normalize_line(b"{\"a\":1,\"a\":2}") else {
        panic!()
    };
    assert_eq!(r.to_string(), "duplicate key \"a\"");
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any bytes at all: no panic, and a record always has what the contract promises.
        #[test]
        fn never_panics_and_records_are_well_formed(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Line::Record(n) = normalize_line(&bytes) {
                prop_assert!(!n.record.msg_id.is_empty());
                prop_assert!(n.record.create_time > 0);
                if let Some(extra) = &n.record.extra_fields {
                    prop_assert!(serde_json::from_str::<serde_json::Value>(extra).is_ok(), "{}", extra);
                }
            }
        }

        /// Unknown fields survive exactly: parsing extra_fields gives back every unknown key
        /// with its value.
        #[test]
        fn unknown_fields_round_trip(
            keys in prop::collection::btree_set("[a-z]{1,8}", 0..5),
            values in prop::collection::vec(prop_oneof![
                Just("1".to_string()),
                Just("12345678901234567890123".to_string()),
                Just("-2.5e3".to_string()),
                Just("true".to_string()),
                Just("null".to_string()),
                Just("\"s \\\" 😀\"".to_string()),
                Just("{\"a\": [1, {\"b\": null}]}".to_string()),
            ], 5),
        ) {
            let unknown: Vec<(String, String)> = keys
                .into_iter()
                .filter(|k| !["msg_id", "create_time", "msg_type", "content", "source"].contains(&k.as_str()))
                .zip(values)
                .collect();
            let mut line = String::from(r#"{"msg_id":"x","create_time":5"#);
            for (k, v) in &unknown {
                line.push_str(&format!(",\"{k}\": {v}"));
            }
            line.push('}');
            let n = record(&line);
            match n.record.extra_fields {
                None => prop_assert!(unknown.is_empty()),
                Some(extra) => {
                    let got: serde_json::Value = serde_json::from_str(&extra).unwrap();
                    for (k, v) in &unknown {
                        let want: serde_json::Value = serde_json::from_str(v).unwrap();
                        prop_assert_eq!(&got[k.as_str()], &want);
                    }
                    prop_assert_eq!(got.as_object().unwrap().len(), unknown.len());
                }
            }
        }
    }
}

/// Issue 11, item 6: a line with 160,000 keys took 44 s (a quadratic duplicate-key check).
#[test]
fn regression_quadratic_duplicate_key_check_of_a_line_with_160000_keys() {
    let mut line = String::from(r#"{"msg_id":1,"create_time":5"#);
    for i in 0..160_000 {
        line.push_str(&format!(",\"k{i}\":{i}"));
    }
    line.push('}');
    let n = record(&line);
    let extras = n.record.extra_fields.unwrap();
    assert!(extras.starts_with(r#"{"k0":0,"k1":1,"#) && extras.ends_with(r#""k159999":159999}"#));
    // A duplicate far apart is still found.
    let dup = format!("{},\"k7\":1}}", &line[..line.len() - 1]);
    assert_eq!(reject_code(dup.as_bytes()), "duplicate_key");
    // Also inside an envelope's data.
    let env = format!(r#"{{"notify_type":1010,"data":{dup}}}"#);
    assert_eq!(reject_code(env.as_bytes()), "duplicate_key");
}

/// Issue 11, smaller item: two keys that collide once their lone surrogates are repaired were
/// reported as invalid JSON instead of as the duplicate key they become.
#[test]
fn regression_keys_colliding_after_surrogate_repair_are_duplicate_keys() {
    let line = br#"{"msg_id":1,"create_time":5,"k\ud800":1,"k\ufffd":2}"#;
    assert_eq!(reject_code(line), "duplicate_key");
    let Line::Reject(r) = normalize_line(line) else {
        panic!("a reject")
    };
    assert!(r.to_string().contains("k\u{fffd}"), "{r}");
}

#[test]
fn a_wechat_4_packed_msg_type_is_split_not_a_type_conflict() {
    for line in [
        r#"{"msg_id":1,"create_time":1,"msg_type":244813135921}"#,
        r#"{"msg_id":1,"create_time":1,"msg_type":"244813135921"}"#,
    ] {
        let n = record(line);
        assert_eq!(n.type_conflicts, 0, "{line}");
        assert_eq!(
            (n.record.msg_type, n.record.packed_app_type),
            (Some(49), Some(57))
        );
        assert_eq!(n.record.extra_fields, None);
        let sent = n.record.as_sent.as_deref().unwrap();
        assert!(sent.starts_with(r#"{"msg_type":"#), "{sent}");
        assert!(sent.contains("244813135921"), "{sent}");
    }
    // A low half beyond Int32 is not a packed type: a type conflict, as before.
    let n = record(r#"{"msg_id":1,"create_time":1,"msg_type":8589934591}"#);
    assert_eq!((n.record.msg_type, n.type_conflicts), (None, 1));
    assert_eq!(n.record.as_sent, None);
}

#[test]
fn an_empty_group_sender_is_filled_from_the_content_prefix() {
    let cases = [
        // (line, chatroom_sender, as_sent)
        (
            r#"{"msg_id":1,"create_time":1,"from_username":"r@chatroom","chatroom":"r@chatroom","chatroom_sender":"","content":"wxid_p:\n你好"}"#,
            Some("wxid_p"),
            Some(r#"{"chatroom_sender":""}"#),
        ),
        // Sent by the account itself into the group: its first line is its own.
        (
            r#"{"msg_id":1,"create_time":1,"from_username":"wxid_me","chatroom":"r@chatroom","chatroom_sender":"","content":"TODO:\n买菜"}"#,
            Some(""),
            None,
        ),
        (
            r#"{"msg_id":1,"create_time":1,"from_username":"r@chatroom","content":"wxid_p:\n你好"}"#,
            Some("wxid_p"),
            Some(r#"{"chatroom_sender":null}"#),
        ),
        // A sender already named is kept.
        (
            r#"{"msg_id":1,"create_time":1,"chatroom":"r@chatroom","chatroom_sender":"wxid_s","content":"wxid_p:\n你好"}"#,
            Some("wxid_s"),
            None,
        ),
        // Not a group: nothing filled.
        (
            r#"{"msg_id":1,"create_time":1,"from_username":"wxid_f","content":"wxid_p:\n你好"}"#,
            None,
            None,
        ),
        // No prefix.
        (
            r#"{"msg_id":1,"create_time":1,"chatroom":"r@chatroom","chatroom_sender":"","content":"注意: 开会"}"#,
            Some(""),
            None,
        ),
    ];
    for (line, sender, sent) in cases {
        let n = record(line);
        assert_eq!(
            n.record.text[text::CHATROOM_SENDER].as_deref(),
            sender,
            "{line}"
        );
        assert_eq!(n.record.as_sent.as_deref(), sent, "{line}");
        assert!(
            n.record.text[text::CONTENT]
                .as_deref()
                .unwrap()
                .contains(':'),
            "content stays as sent: {line}"
        );
    }
}

#[test]
fn upgrading_an_old_row_splits_a_packed_type_kept_in_extra_fields() {
    let mut old = Record {
        msg_id: "1".into(),
        create_time: 1,
        extra_fields: Some(r#"{"a":1,"msg_type":25769803825}"#.into()),
        ..Default::default()
    };
    upgrade_record(&mut old);
    assert_eq!((old.msg_type, old.packed_app_type), (Some(49), Some(6)));
    assert_eq!(old.extra_fields.as_deref(), Some(r#"{"a":1}"#));
    assert_eq!(old.as_sent.as_deref(), Some(r#"{"msg_type":25769803825}"#));
    // What ingest makes of the same line today.
    let today = record(r#"{"msg_id":"1","create_time":1,"a":1,"msg_type":25769803825}"#);
    assert_eq!(today.record.content_hash(), old.content_hash());
}
