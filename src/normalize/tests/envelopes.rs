//! Webhook envelopes and record kinds: messages, contact records (update, delete, detail) and
//! events, and masking.

use super::*;

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
