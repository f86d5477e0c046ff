//! Table-driven tests: one row per clause of the input contract.

use super::*;
use crate::contact::{ContactAction, ContactRecord};
use crate::event::EventRecord;
use crate::mask::Mask;
use crate::record::text;

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

// ---- webhook envelopes and record kinds

fn contact(line: &str) -> ContactRecord {
    contact_masked(line, Mask::NONE)
}

fn contact_masked(line: &str, mask: Mask) -> ContactRecord {
    match normalize_line_masked(line.as_bytes(), mask) {
        Line::Contact(c) => c.record,
        other => panic!("expected a contact record for {line}, got {other:?}"),
    }
}

fn event(line: &str) -> EventRecord {
    match normalize_line(line.as_bytes()) {
        Line::Event(e) => e.record,
        other => panic!("expected an event for {line}, got {other:?}"),
    }
}

#[test]
fn an_envelope_unwraps_its_data_and_keeps_guid_and_notify_type() {
    let line = r#"{"guid": "7092457f-325f", "notify_type": 1010, "data": {"msg_id": "9019246177609020522", "from_username": "wxid_abc123", "to_username": "wxid_me", "chatroom": "", "chatroom_sender": "", "msg_type": 1, "create_time": 1762232533, "is_chatroom_msg": 0, "desc": "", "source": "<msgsource/>", "content": "Hello"}}"#;
    let n = record(line);
    let r = &n.record;
    assert_eq!(r.msg_id, "9019246177609020522");
    assert_eq!(r.create_time, 1762232533);
    assert_eq!(r.msg_type, Some(1));
    assert_eq!(r.guid.as_deref(), Some("7092457f-325f"));
    assert_eq!(r.notify_type, Some(1010));
    assert_eq!(r.text[text::CONTENT].as_deref(), Some("Hello"));
    assert_eq!(
        r.extra_fields.as_deref(),
        Some(r#"{"is_chatroom_msg":0,"desc":""}"#)
    );
    assert_eq!(n.type_conflicts, 0);
}

#[test]
fn envelope_forms() {
    // (line, guid, notify_type, extra_fields)
    let cases = [
        // A flat line with its own webhook keys: they are typed columns too.
        (
            r#"{"guid":"g","notify_type":1010,"msg_id":1,"create_time":5}"#,
            Some("g"),
            Some(1010),
            None,
        ),
        // Flat, without them (today's contract).
        (r#"{"msg_id":1,"create_time":5}"#, None, None, None),
        // Other envelope keys go to extra_fields; a clash with the record's own is renamed.
        (
            r#"{"guid":"g","notify_type":1010,"ts":9,"data":{"msg_id":1,"create_time":5,"ts":1}}"#,
            Some("g"),
            Some(1010),
            Some(r#"{"ts":1,"envelope.ts":9}"#),
        ),
        // An envelope without notify_type is still a message.
        (
            r#"{"guid":"g","data":{"msg_id":1,"create_time":5}}"#,
            Some("g"),
            None,
            None,
        ),
        // The record's own guid, when it differs from the envelope's, is kept aside.
        (
            r#"{"guid":"g","notify_type":1010,"data":{"msg_id":1,"create_time":5,"guid":"other"}}"#,
            Some("g"),
            Some(1010),
            Some(r#"{"data.guid":"other"}"#),
        ),
        // A top-level msg_id makes it flat, whatever `data` holds.
        (
            r#"{"msg_id":1,"create_time":5,"data":{"x":1}}"#,
            None,
            None,
            Some(r#"{"data":{"x":1}}"#),
        ),
        // An unusable guid type is a type conflict, kept verbatim.
        (
            r#"{"guid":17,"notify_type":"1010","data":{"msg_id":1,"create_time":5}}"#,
            None,
            Some(1010),
            Some(r#"{"guid":17}"#),
        ),
    ];
    for (line, guid, notify, extra) in cases {
        let r = record(line).record;
        assert_eq!(r.guid.as_deref(), guid, "{line}");
        assert_eq!(r.notify_type, notify, "{line}");
        assert_eq!(r.extra_fields.as_deref(), extra, "{line}");
        assert_eq!(r.msg_id, "1", "{line}");
    }
}

#[test]
fn msg_type_null_is_a_message_without_a_type() {
    let r = record(r#"{"notify_type":1010,"data":{"msg_id":"1","create_time":5,"msg_type":null}}"#);
    assert_eq!(r.record.msg_type, None);
    assert_eq!(r.type_conflicts, 0);
}

#[test]
fn an_envelope_message_without_msg_id_is_rejected() {
    assert_eq!(
        reject_code(br#"{"guid":"g","notify_type":1010,"data":{"create_time":5}}"#),
        "missing_field"
    );
    // Invalid data inside an envelope rejects the line like any other.
    assert_eq!(
        reject_code(br#"{"notify_type":1010,"data":{"msg_id":1,"msg_id":2}}"#),
        "duplicate_key"
    );
}

#[test]
fn contact_update_takes_wrapped_plain_and_empty_strings() {
    // (remark form, remark)
    let cases = [
        (r#"{"string":"老王"}"#, Some("老王")),
        (r#"{}"#, None),
        (r#""老王""#, Some("老王")),
        (r#"{"string":null}"#, None),
    ];
    for (form, want) in cases {
        let line = format!(
            r#"{{"guid":"c1","notify_type":1200,"data":{{"userName":{{"string":"wxid_a"}},"nickName":{{"string":"王伟"}},"remark":{form},"sex":1}}}}"#
        );
        let c = contact(&line);
        assert_eq!(c.remark.as_deref(), want, "{form}");
        assert_eq!(c.username, "wxid_a");
        assert_eq!(c.nickname.as_deref(), Some("王伟"));
        assert_eq!(c.sex, Some(1));
        assert_eq!((c.guid.as_deref(), c.notify_type), (Some("c1"), Some(1200)));
        assert_eq!(c.action(), ContactAction::Update);
        assert_eq!(c.extra_fields, None, "{form}");
    }
    // A missing remark is simply absent.
    let c = contact(r#"{"notify_type":1200,"data":{"userName":{"string":"wxid_a"}}}"#);
    assert_eq!((c.remark, c.nickname), (None, None));
}

#[test]
fn contact_update_typed_columns_and_extras() {
    let line = r#"{"guid":"c2","notify_type":1200,"data":{"userName":{"string":"123@chatroom"},"nickName":{"string":"技术群"},"pyinitial":{"string":"JSQ"},"quanPin":{"string":"jishuqun"},"remarkPyinitial":{"string":""},"remarkQuanPin":{"string":""},"alias":"","sex":0,"contactType":0,"verifyFlag":0,"deleteFlag":0,"mobile":"","country":"CN","province":"Zhejiang","city":"Hangzhou","signature":"hi","chatroomMaxCount":500,"bigHeadImgUrl":"https://a/b","smallHeadImgUrl":"https://a/s","newChatroomData":{"memberCount":42,"infoMask":0},"bitMask":4294967295,"flag":"1","imgBuf":{"iLen":0}}}"#;
    let c = contact(line);
    assert_eq!(c.kind(), crate::contact::ContactKind::Chatroom);
    assert_eq!(c.pyinitial.as_deref(), Some("JSQ"));
    assert_eq!(c.quan_pin.as_deref(), Some("jishuqun"));
    assert_eq!(c.remark_pyinitial.as_deref(), Some(""));
    assert_eq!((c.member_count, c.max_member_count), (Some(42), Some(500)));
    assert_eq!(
        (
            c.country.as_deref(),
            c.province.as_deref(),
            c.city.as_deref()
        ),
        (Some("CN"), Some("Zhejiang"), Some("Hangzhou"))
    );
    assert_eq!(c.signature.as_deref(), Some("hi"));
    assert_eq!(c.big_head_img_url.as_deref(), Some("https://a/b"));
    assert_eq!(c.small_head_img_url.as_deref(), Some("https://a/s"));
    assert_eq!(
        (c.verify_flag, c.delete_flag, c.contact_type),
        (Some(0), Some(0), Some(0))
    );
    // Keys without a column, verbatim and in order; newChatroomData is kept whole too.
    assert_eq!(
        c.extra_fields.as_deref(),
        Some(
            r#"{"newChatroomData":{"memberCount":42,"infoMask":0},"bitMask":4294967295,"flag":"1","imgBuf":{"iLen":0}}"#
        )
    );
    // A typed field of an unusable type keeps its value in extra_fields.
    let c = contact(
        r#"{"notify_type":1200,"data":{"userName":{"string":"gh_x"},"sex":"male","nickName":[1]}}"#,
    );
    assert_eq!(c.kind(), crate::contact::ContactKind::Official);
    assert_eq!((c.sex, c.nickname), (None, None));
    assert_eq!(
        c.extra_fields.as_deref(),
        Some(r#"{"sex":"male","nickName":[1]}"#)
    );
}

#[test]
fn contact_records_without_a_usable_username_are_rejected() {
    let cases = [
        r#"{"notify_type":1200,"data":{"nickName":{"string":"x"}}}"#,
        r#"{"notify_type":1200,"data":{"userName":{"string":""}}}"#,
        r#"{"notify_type":1200,"data":{"userName":{}}}"#,
        r#"{"notify_type":1200,"data":{"userName":5}}"#,
        r#"{"notify_type":1201,"data":{"deleteContactScene":0}}"#,
        r#"{"notify_type":1202,"data":{"nickname":"x"}}"#,
    ];
    for line in cases {
        let code = reject_code(line.as_bytes());
        assert!(
            code == "missing_field" || code == "unusable_field",
            "{line}: {code}"
        );
    }
}

#[test]
fn contact_delete_and_detail() {
    let d = contact(
        r#"{"guid":"x","notify_type":1201,"data":{"userName":{"string":"wxid_gone"},"deleteContactScene":0}}"#,
    );
    assert_eq!(d.action(), ContactAction::Delete);
    assert_eq!(d.username, "wxid_gone");
    assert_eq!(
        d.extra_fields.as_deref(),
        Some(r#"{"deleteContactScene":0}"#)
    );

    let line = r#"{"notify_type":1202,"data":{"tpUsername":"wxid_a","nickname":"王伟","remark":"老王","bigHeadimg":"https://b","smallHeadimg":"https://s","nicknamePyinit":"WW","nicknameQuanpin":"wangwei","customInfo":{"detailVisible":1,"detail":"{\"phone\":\"13900001111\"}"},"appId":""}}"#;
    let d = contact(line);
    assert_eq!(d.action(), ContactAction::Detail);
    assert_eq!(
        (
            d.username.as_str(),
            d.nickname.as_deref(),
            d.remark.as_deref()
        ),
        ("wxid_a", Some("王伟"), Some("老王"))
    );
    assert_eq!(
        (
            d.big_head_img_url.as_deref(),
            d.pyinitial.as_deref(),
            d.quan_pin.as_deref()
        ),
        (Some("https://b"), Some("WW"), Some("wangwei"))
    );
    assert_eq!(d.custom_info.as_deref(), Some(r#"{"phone":"13900001111"}"#));
    assert_eq!(
        d.extra_fields.as_deref(),
        Some(r#"{"customInfo":{"detailVisible":1},"appId":""}"#)
    );
}

#[test]
fn masking_hides_mobile_and_custom_info_everywhere() {
    let mask: Mask = "mobile,custom_info".parse().unwrap();
    let c = contact_masked(
        r#"{"notify_type":1200,"data":{"userName":{"string":"wxid_a"},"mobile":"13812345678"}}"#,
        mask,
    );
    assert_eq!(c.mobile.as_deref(), Some("138****5678"));
    // A number of an odd type cannot slip into extra_fields unmasked.
    let c = contact_masked(
        r#"{"notify_type":1200,"data":{"userName":{"string":"wxid_a"},"mobile":13812345678}}"#,
        mask,
    );
    assert_eq!(c.mobile.as_deref(), Some("138****5678"));
    assert_eq!(c.extra_fields, None);
    let unmasked = contact(
        r#"{"notify_type":1200,"data":{"userName":{"string":"wxid_a"},"mobile":"13812345678"}}"#,
    );
    assert_eq!(unmasked.mobile.as_deref(), Some("13812345678"));
    let d = contact_masked(
        r#"{"notify_type":1202,"data":{"tpUsername":"wxid_a","customInfo":{"detailVisible":1,"detail":"{\"phone\":\"13900001111\"}"}}}"#,
        mask,
    );
    assert_eq!(
        d.custom_info.as_deref(),
        Some(crate::mask::CUSTOM_INFO_MARKER)
    );
    assert!(!d.extra_fields.unwrap().contains("1390000"));
    let d = contact_masked(
        r#"{"notify_type":1202,"data":{"tpUsername":"wxid_a","customInfo":"13900001111"}}"#,
        mask,
    );
    assert!(!d.extra_fields.unwrap().contains("1390000"));
}

#[test]
fn other_notify_types_are_events_kept_verbatim() {
    let e = event(r#"{"guid":"e1","notify_type":1003,"extra":true,"data":{"x": 1}}"#);
    assert_eq!((e.notify_type, e.guid.as_deref()), (Some(1003), Some("e1")));
    assert_eq!(e.data, r#"{"x": 1}"#);
    assert_eq!(e.extra_fields.as_deref(), Some(r#"{"extra":true}"#));
    // Flat, or with data that is not an object: the whole line is the record.
    let line = r#"{"notify_type":77,"data":[1,2]}"#;
    let e = event(line);
    assert_eq!((e.notify_type, e.data.as_str()), (Some(77), line));
    // Same content, same hash; other content, another.
    assert_eq!(
        event(r#"{"notify_type":1003,"data":{"x":1}}"#).content_hash,
        event(r#"{"guid":"z","notify_type":1003,"data":{"x":1}}"#).content_hash
    );
    assert_ne!(
        event(r#"{"notify_type":1003,"data":{"x":1}}"#).content_hash,
        event(r#"{"notify_type":1003,"data":{"x":2}}"#).content_hash
    );
}

#[test]
fn a_flat_line_with_a_contact_notify_type_is_a_contact_record() {
    let c = contact(
        r#"{"guid":"g","notify_type":1200,"userName":{"string":"wxid_a"},"nickName":{"string":"A"}}"#,
    );
    assert_eq!(
        (c.username.as_str(), c.nickname.as_deref()),
        ("wxid_a", Some("A"))
    );
    assert_eq!(c.guid.as_deref(), Some("g"));
    assert_eq!(c.extra_fields, None, "guid/notify_type are the webhook's");
}

#[test]
fn masking_covers_every_contact_kind_and_events() {
    let mask: Mask = "mobile,custom_info".parse().unwrap();
    // A mobile in a detail, custom info in an update: masked as well.
    let d = contact_masked(
        r#"{"notify_type":1202,"data":{"tpUsername":"wxid_a","mobile":"13812345678"}}"#,
        mask,
    );
    assert_eq!(d.mobile.as_deref(), Some("138****5678"));
    assert_eq!(d.extra_fields, None);
    let u = contact_masked(
        r#"{"notify_type":1200,"data":{"userName":"wxid_a","customInfo":{"detail":"{\"p\":\"13900001111\"}"}}}"#,
        mask,
    );
    assert_eq!(
        u.custom_info.as_deref(),
        Some(crate::mask::CUSTOM_INFO_MARKER)
    );
    // A value that happens to be the marker is masked by the same rule as any other.
    let m = contact_masked(
        r#"{"notify_type":1200,"data":{"userName":"wxid_a","mobile":"[masked]"}}"#,
        mask,
    );
    assert_eq!(m.mobile.as_deref(), Some("[ma*ked]"));
    // An event's top-level personal keys too; the rest stays as sent.
    let Line::Event(e) = normalize_line_masked(br#"{"guid":"e","notify_type":1003,"data":{"a":1,"mobile":"13812345678","customInfo":{"detail":"x"}}}"#, mask) else {
        panic!("an event")
    };
    assert_eq!(
        e.record.data,
        r#"{"a":1,"mobile":"138****5678","customInfo":"[masked]"}"#
    );
    let Line::Event(e) = normalize_line_masked(br#"{"notify_type":1003,"data":{"a": 1}}"#, mask)
    else {
        panic!("an event")
    };
    assert_eq!(e.record.data, r#"{"a": 1}"#, "nothing to mask: verbatim");
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
            r#"{"msg_id":1,"create_time":1,"chatroom":"r@chatroom","chatroom_sender":"","content":"wxid_p:\n你好"}"#,
            Some("wxid_p"),
            Some(r#"{"chatroom_sender":""}"#),
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
