//! One row per message shape, written from the public descriptions of WeChat's formats
//! (../shared/COLLECTORS.md): 3.x XML cards for each app subtype, media, location, card,
//! recall, system text, 4.x packed types, prefix-only group texts, mentions, broken XML.

use super::*;

fn kind(t: i64, content: &str) -> Derived<'_> {
    derive(Some(t), Some(content))
}

const LINK: &str = "<?xml version=\"1.0\"?>\n<msg>\n\t<appmsg appid=\"\" sdkver=\"0\">\n\t\t<title>一文读懂数据湖</title>\n\t\t<des>摘要</des>\n\t\t<type>5</type>\n\t\t<url>https://mp.weixin.qq.com/s?__biz=x&amp;mid=1</url>\n\t</appmsg>\n</msg>";
const FILE: &str = "<msg><appmsg><title>季度报告.pdf</title><type>6</type><appattach><totallen>471234</totallen><fileext>pdf</fileext></appattach></appmsg></msg>";
const QUOTE: &str = "<msg><appmsg><title>同意楼上</title><type>57</type><refermsg><type>1</type><svrid>7654321098765432101</svrid><fromusr>wxid_a</fromusr><displayname>王伟</displayname><content>周末去吗</content></refermsg></appmsg></msg>";
const FORWARD: &str = "<msg><appmsg><title>群聊的聊天记录</title><type>19</type><recorditem><![CDATA[<recordinfo>…</recordinfo>]]></recorditem></appmsg></msg>";
const MINI: &str = "<msg><appmsg><title>点外卖</title><type>33</type><weappinfo><username>gh_x@app</username></weappinfo></appmsg></msg>";
const TRANSFER: &str = "<msg><appmsg><title><![CDATA[微信转账]]></title><type>2000</type><wcpayinfo><feedesc>¥100.00</feedesc></wcpayinfo></appmsg></msg>";
const RED: &str = "<msg><appmsg><title>恭喜发财，大吉大利</title><type>2001</type></appmsg></msg>";
const RECALL: &str = "<sysmsg type=\"revokemsg\"><revokemsg><session>123@chatroom</session><msgid>1</msgid><newmsgid>9019246177609020522</newmsgid><replacemsg><![CDATA[\"王伟\" 撤回了一条消息]]></replacemsg></revokemsg></sysmsg>";
const LOCATION: &str = "<?xml version=\"1.0\"?><msg><location x=\"31.2\" y=\"121.4\" scale=\"16\" label=\"上海市黄浦区\" poiname=\"人民广场\" /></msg>";
const CARD: &str = "<?xml version=\"1.0\"?><msg bigheadimgurl=\"\" username=\"wxid_card\" nickname=\"李娜\" alias=\"lina\" />";

/// (type, content, kind, app_type, title)
type Case = (
    i64,
    &'static str,
    MessageKind,
    Option<i32>,
    Option<&'static str>,
);

#[test]
fn kinds_of_every_shape() {
    let cases: [Case; 14] = [
        (1, "你好", MessageKind::Text, None, None),
        (
            3,
            "<msg><img aeskey=\"x\" length=\"1\"/></msg>",
            MessageKind::Image,
            None,
            None,
        ),
        (
            34,
            "<msg><voicemsg voicelength=\"3000\"/></msg>",
            MessageKind::Voice,
            None,
            None,
        ),
        (
            43,
            "<msg><videomsg playlength=\"7\"/></msg>",
            MessageKind::Video,
            None,
            None,
        ),
        (
            47,
            "<msg><emoji md5=\"a\"/></msg>",
            MessageKind::Sticker,
            None,
            None,
        ),
        (48, LOCATION, MessageKind::Location, None, Some("人民广场")),
        (42, CARD, MessageKind::Card, None, Some("李娜")),
        (49, LINK, MessageKind::Link, Some(5), Some("一文读懂数据湖")),
        (49, FILE, MessageKind::File, Some(6), Some("季度报告.pdf")),
        (49, QUOTE, MessageKind::Quote, Some(57), Some("同意楼上")),
        (
            49,
            FORWARD,
            MessageKind::Forward,
            Some(19),
            Some("群聊的聊天记录"),
        ),
        (49, MINI, MessageKind::MiniProgram, Some(33), Some("点外卖")),
        (
            49,
            TRANSFER,
            MessageKind::Transfer,
            Some(2000),
            Some("微信转账"),
        ),
        (
            49,
            RED,
            MessageKind::RedPacket,
            Some(2001),
            Some("恭喜发财，大吉大利"),
        ),
    ];
    for (t, content, want, app, title) in cases {
        let d = kind(t, content);
        assert_eq!(d.kind, Some(want), "{t} {content}");
        assert_eq!(d.app_type, app, "{t} {content}");
        assert_eq!(d.title.as_deref(), title, "{t} {content}");
        assert!(!d.xml_unparsed, "{content}");
        assert!(
            !d.text.as_deref().unwrap_or("").contains("<msg"),
            "no XML in text: {d:?}"
        );
    }
}

#[test]
fn readable_text_of_cards() {
    assert_eq!(
        kind(49, LINK).text.as_deref(),
        Some("[link] 一文读懂数据湖 https://mp.weixin.qq.com/s?__biz=x&mid=1")
    );
    assert_eq!(
        kind(49, LINK).url.as_deref(),
        Some("https://mp.weixin.qq.com/s?__biz=x&mid=1")
    );
    let file = kind(49, FILE);
    assert_eq!(
        (file.file_size, file.text.as_deref()),
        (Some(471234), Some("[file] 季度报告.pdf (471 KB)"))
    );
    let quote = kind(49, QUOTE);
    assert_eq!(quote.quoted_msg_id.as_deref(), Some("7654321098765432101"));
    assert_eq!(quote.text.as_deref(), Some("[quote] 同意楼上 ↩ 周末去吗"));
    let recall = kind(10002, RECALL);
    assert_eq!(recall.kind, Some(MessageKind::Recall));
    assert_eq!(
        recall.revoked_msg_id.as_deref(),
        Some("9019246177609020522")
    );
    assert_eq!(
        recall.text.as_deref(),
        Some("[recall] \"王伟\" 撤回了一条消息")
    );
    assert_eq!(
        kind(3, "<msg><img/></msg>").text.as_deref(),
        Some("[image]")
    );
    assert_eq!(
        kind(48, LOCATION).text.as_deref(),
        Some("[location] 人民广场")
    );
    let system = kind(10000, "\"王伟\"邀请你加入了群聊");
    assert_eq!(
        (system.kind, system.text.as_deref()),
        (Some(MessageKind::System), Some("\"王伟\"邀请你加入了群聊"))
    );
}

#[test]
fn wechat_4_packed_types_are_split() {
    let quote = 57_i64 << 32 | 49;
    assert_eq!(quote, 244_813_135_921);
    assert_eq!(split_msg_type(quote), (49, Some(57)));
    assert_eq!(split_msg_type(49), (49, None));
    // The packed subtype decides even when the card says otherwise.
    let d = kind(5_i64 << 32 | 49, FILE);
    assert_eq!((d.kind, d.app_type), (Some(MessageKind::Link), Some(5)));
}

#[test]
fn group_texts_with_a_sender_prefix() {
    let d = kind(1, "wxid_abc123:\n大家好\n第二行");
    assert_eq!(d.prefix_sender.as_deref(), Some("wxid_abc123"));
    assert_eq!(d.text.as_deref(), Some("大家好\n第二行"));
    // A colon in ordinary text is not a prefix.
    let d = kind(1, "注意: 明天开会");
    assert_eq!(
        (d.prefix_sender, d.text.as_deref()),
        (None, Some("注意: 明天开会"))
    );
    let d = kind(1, "时间:\n10点");
    assert_eq!(d.prefix_sender, None, "not an id");
    // An app card behind a prefix is still read.
    let prefixed = format!("wxid_x:\n{LINK}");
    let d = kind(49, &prefixed);
    assert_eq!(d.kind, Some(MessageKind::Link));
}

#[test]
fn mentions_from_the_msgsource() {
    let source = "<msgsource><atuserlist><![CDATA[,wxid_a,wxid_b]]></atuserlist><silence>0</silence></msgsource>";
    assert_eq!(mentions(source), ["wxid_a", "wxid_b"]);
    assert_eq!(
        mentions("<msgsource><atuserlist>wxid_c</atuserlist></msgsource>"),
        ["wxid_c"]
    );
    assert!(mentions("<msgsource/>").is_empty());
    assert!(mentions("382").is_empty(), "a number as source");
}

#[test]
fn broken_xml_never_rejects_and_is_counted() {
    for content in [
        "<msg><appmsg><title>x</title><type>5",
        "not xml at all",
        "<msg><appmsg></msg>",
    ] {
        let d = kind(49, content);
        assert_eq!(d.kind, Some(MessageKind::Other), "{content}");
        assert!(d.xml_unparsed, "{content}");
    }
    // No type at all: other, nothing parsed.
    let d = derive(None, Some("<msg/>"));
    assert_eq!((d.kind, d.xml_unparsed), (Some(MessageKind::Other), false));
    // Entities and odd whitespace are fine.
    let d = kind(
        49,
        "<msg> <appmsg>\n<title>A &amp; B &#x4E2D;</title> <type> 5 </type><url>u</url></appmsg></msg>",
    );
    assert_eq!(
        (d.kind, d.title.as_deref()),
        (Some(MessageKind::Link), Some("A & B 中"))
    );
}

/// The groundwork read `<atuserlist>,wxid_b</atuserlist>` (no CDATA, a leading comma) as empty:
/// it told a start tag from an empty one by the byte before the reader's position.
#[test]
fn regression_an_element_whose_text_starts_with_a_comma_read_as_empty() {
    assert_eq!(
        mentions("<msgsource><atuserlist>,wxid_b</atuserlist></msgsource>"),
        ["wxid_b"]
    );
    let d = kind(
        49,
        "<msg><appmsg><title>,逗号开头</title><type>5</type><url>u</url></appmsg></msg>",
    );
    assert_eq!(d.title.as_deref(), Some(",逗号开头"));
}

#[test]
fn a_private_text_keeps_what_looks_like_a_prefix() {
    let mut r = Record {
        msg_id: "1".into(),
        msg_type: Some(1),
        ..Default::default()
    };
    r.text[field::FROM_USERNAME] = Some("wxid_f".into());
    r.text[field::CONTENT] = Some("abc:\nxyz".into());
    let d = derive_record(&r);
    assert_eq!(
        (d.text.as_deref(), d.prefix_sender),
        (Some("abc:\nxyz"), None)
    );
    r.text[field::FROM_USERNAME] = Some("r@chatroom".into());
    assert_eq!(derive_record(&r).text.as_deref(), Some("xyz"));
    // A 4.x packed type is put back together for derivation.
    r.msg_type = Some(49);
    r.packed_app_type = Some(5);
    r.text[field::CONTENT] =
        Some("<msg><appmsg><title>t</title><url>u</url></appmsg></msg>".into());
    assert_eq!(derive_record(&r).kind, Some(MessageKind::Link));
    assert_eq!(raw_msg_type(Some(49), Some(57)), Some(244_813_135_921));
}

#[test]
fn one_pass_tells_a_whole_card_from_a_broken_one_as_a_full_parse_does() {
    for xml in [
        LINK,
        FILE,
        QUOTE,
        FORWARD,
        MINI,
        TRANSFER,
        RED,
        RECALL,
        LOCATION,
        CARD,
        "<msg><appmsg><title>x</title><type>5",
        "<msg><appmsg></msg>",
        "not xml at all",
        "",
        "<a/>",
        "<a><b>t</b></a><c>",
    ] {
        let (_, whole) = read_facts_checked(xml, &[("title", None)]);
        assert_eq!(whole, parses(xml), "{xml}");
    }
}

/// Review of issue 12: real quote cards carry an empty `<content/>` in `<appmsg>` before the
/// quoted one in `<refermsg>`; the empty one hid the quoted text.
#[test]
fn regression_an_empty_element_does_not_hide_a_later_one_of_its_name() {
    let card = "<msg><appmsg><title>同意</title><des/><content/><type>57</type><refermsg><svrid>1</svrid><content>周末去吗</content></refermsg></appmsg></msg>";
    assert_eq!(
        kind(49, card).text.as_deref(),
        Some("[quote] 同意 ↩ 周末去吗")
    );
    // Still empty when no element of the name has text.
    let facts = read_facts(
        "<a><b/><c> </c></a>",
        &[("b", None), ("c", None), ("d", None)],
    );
    assert_eq!(facts, [Some(String::new()), Some(String::new()), None]);
}
