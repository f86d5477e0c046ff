//! The parser is checked against serde_json as an oracle: on any input, both accept or both
//! refuse, and accepted objects have the same keys and value texts.

use std::borrow::Cow;
use std::fmt;

use proptest::prelude::*;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::*;

/// serde_json's view of a line: keys and raw values, duplicates refused.
struct Oracle<'a>(Vec<(String, &'a str)>);

impl<'de> Deserialize<'de> for Oracle<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Oracle<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(String, &'de str)> = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    let v: &'de RawValue = map.next_value()?;
                    if out.iter().any(|(o, _)| *o == k) {
                        return Err(de::Error::custom("duplicate key"));
                    }
                    out.push((k, v.get()));
                }
                Ok(Oracle(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn mine(text: &str) -> Result<Vec<(String, String)>, ObjectError> {
    let mut out = Vec::new();
    parse_object(text, &mut out)?;
    Ok(out
        .into_iter()
        .map(|(k, v)| (k.into_owned(), v.to_string()))
        .collect())
}

fn oracle(text: &str) -> Option<Vec<(String, String)>> {
    serde_json::from_str::<Oracle<'_>>(text)
        .ok()
        .map(|o| o.0.into_iter().map(|(k, v)| (k, v.to_string())).collect())
}

#[track_caller]
fn agree(text: &str) {
    let got = mine(text);
    let want = oracle(text);
    match (&got, &want) {
        (Ok(g), Some(w)) => assert_eq!(g, w, "{text:?}"),
        (Err(_), None) => {}
        _ => panic!("disagree on {text:?}: mine {got:?}, serde_json {want:?}"),
    }
}

#[test]
fn accepts_what_messages_look_like() {
    let line = r#"{"msg_id": 12345678901234567890, "create_time":"1767225600","content":"a\"b\\n\u4f60 😀","source":{"a":[1,2.5e-3,true,null,{}]},"x":-0.0,"e":[]}"#;
    let got = mine(line).unwrap();
    assert_eq!(
        got[0],
        ("msg_id".to_string(), "12345678901234567890".to_string())
    );
    assert_eq!(got[3].1, r#"{"a":[1,2.5e-3,true,null,{}]}"#);
    agree(line);
    agree("  {}  ");
    agree(r#"{"k\u00e9":1}"#);
}

#[test]
fn classifies_failures() {
    let cases: [(&str, ObjectError); 6] = [
        ("[1,2]", ObjectError::NotAnObject("found an array")),
        ("42", ObjectError::NotAnObject("found a number")),
        (r#"{"a":1} x"#, ObjectError::Trailing),
        (r#"{"a":1}{"b":2}"#, ObjectError::Trailing),
        (r#"{"a":1,"a":2}"#, ObjectError::DuplicateKey("a".into())),
        (r#"{"\ud83d":1}"#, ObjectError::BadKeyEscape),
    ];
    for (text, want) in cases {
        assert_eq!(parse_object(text, &mut Vec::new()), Err(want), "{text}");
    }
    // Keys of one length: a repeat is found whatever its first byte, others are not repeats.
    let mut out = Vec::new();
    assert_eq!(
        parse_object(r#"{"msg_id":1,"source":2,"mab":3,"mac":4,"":5}"#, &mut out),
        Ok(())
    );
    assert_eq!(out.len(), 5);
    for text in [
        r#"{"msg_id":1,"source":2,"msg_id":3}"#,
        r#"{"":1,"a":2,"":3}"#,
        r#"{"mab":1,"mac":2,"mac":3}"#,
    ] {
        assert!(
            matches!(
                parse_object(text, &mut Vec::new()),
                Err(ObjectError::DuplicateKey(_))
            ),
            "{text}"
        );
    }
    for bad in [
        "",
        "{",
        r#"{"a"}"#,
        r#"{"a":}"#,
        r#"{"a":01}"#,
        r#"{"a":1.}"#,
        r#"{"a":.5}"#,
        r#"{"a":1e}"#,
        r#"{"a":tru}"#,
        r#"{"a":"x\q"}"#,
        r#"{"a":"\u12"}"#,
        "{\"a\":\"\t\"}",
        r#"{"a":[1,]}"#,
        r#"{"a":1,}"#,
        r#"{a:1}"#,
        r#"{"a":-}"#,
        "{\"a\":\"unterminated}",
    ] {
        assert!(
            matches!(
                parse_object(bad, &mut Vec::new()),
                Err(ObjectError::Syntax(_))
            ),
            "{bad:?}"
        );
        agree(bad);
    }
}

#[test]
fn lone_surrogates_in_values_are_syntax_not_errors() {
    let got = mine(r#"{"c":"\ud83d"}"#).unwrap();
    assert_eq!(got[0].1, r#""\ud83d""#);
}

/// Fragments that make up JSON lines, valid and not.
fn token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        " ",
        "\"",
        "\\",
        "\"a\"",
        "\"msg_id\"",
        "\"x\\\"y\"",
        "\"\\u00e9\"",
        "\"\\n\"",
        "1",
        "0",
        "-",
        "12345678901234567890",
        ".",
        "5",
        "e",
        "E",
        "+",
        "true",
        "false",
        "null",
        "tru",
        "\t",
        "\u{1}",
        "é",
        "😀",
        "\\u",
        "00",
        "\"k\":",
        "\"v\"",
        "{\"a\":1}",
        "[1,2]",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn agrees_with_serde_json_on_token_soup(tokens in prop::collection::vec(token(), 0..24)) {
        agree(&tokens.concat());
    }

    #[test]
    fn agrees_with_serde_json_on_objects_with_noise(
        tokens in prop::collection::vec(token(), 0..12),
        at in 0usize..200,
    ) {
        let mut text = String::from(r#"{"msg_id":1,"create_time":"2","content":"a\"b","source":{"x":[1,true]}}"#);
        let at = text.char_indices().map(|(i, _)| i).nth(at % text.chars().count()).unwrap_or(0);
        text.insert_str(at, &tokens.concat());
        agree(&text);
    }

    #[test]
    fn agrees_with_serde_json_on_truncations(cut in 0usize..80) {
        let text = r#"{"msg_id":12,"create_time":1767225600123,"content":"\u4f60\"","ext":[{"a":null}],"f":-1.5E+3}"#;
        let cut = cut.min(text.len());
        if text.is_char_boundary(cut) {
            agree(&text[..cut]);
        }
    }
}

#[test]
fn nesting_deeper_than_128_levels_is_refused() {
    // serde_json's raw values have no depth limit; ours bounds the recursion of the skipper.
    for inner in ["1", ""] {
        let nested = |depth: usize| {
            format!(
                "{{\"a\":{}{}{}}}",
                "[".repeat(depth),
                inner,
                "]".repeat(depth)
            )
        };
        agree(&nested(100));
        assert!(mine(&nested(127)).is_ok(), "{inner:?}");
        let err = mine(&nested(128)).unwrap_err();
        assert!(
            matches!(&err, ObjectError::Syntax(m) if m.contains("nesting")),
            "{err:?}"
        );
    }
}

#[test]
fn keys_borrow_when_plain() {
    let mut out = Vec::new();
    parse_object(r#"{"plain":1,"esc\u0041":2}"#, &mut out).unwrap();
    assert!(matches!(out[0].0, Cow::Borrowed("plain")));
    assert!(matches!(&out[1].0, Cow::Owned(k) if k == "escA"));
}

/// Keys go through the same scan: an escape anywhere in a key, on either side of a sixteen-byte
/// window's edge, makes it owned and decoded, and two keys equal once decoded are duplicates.
#[test]
fn an_escaped_key_at_every_position_is_decoded_and_compared_decoded() {
    for len in 1..40 {
        for at in 0..len {
            let plain = "a".repeat(len);
            let mut escaped = plain.clone();
            escaped.replace_range(at..at + 1, "\\u0061");
            let line = format!("{{\"{escaped}\":1,\"z\":2}}");
            let mut out = Vec::new();
            parse_object(&line, &mut out).unwrap();
            assert!(matches!(&out[0].0, Cow::Owned(k) if *k == plain), "{line}");
            let line = format!("{{\"{escaped}\":1,\"{plain}\":2}}");
            assert!(
                matches!(
                    parse_object(&line, &mut Vec::new()),
                    Err(ObjectError::DuplicateKey(k)) if k == plain
                ),
                "{line}"
            );
            let mut newline = plain.clone();
            newline.replace_range(at..at + 1, "\\n");
            let line = format!("{{\"{newline}\":1}}");
            let mut out = Vec::new();
            parse_object(&line, &mut out).unwrap();
            let mut want = plain.clone();
            want.replace_range(at..at + 1, "\n");
            assert!(matches!(&out[0].0, Cow::Owned(k) if *k == want), "{line}");
        }
    }
}

/// A JSON string body from pieces that stress the string scanner: runs of plain text, every
/// kind of escape (one straddling any window edge), raw control characters and quotes.
fn string_piece() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        "[a-z漢é<>/ ]{0,20}",
        Just("\\n\\t".to_string()),
        Just("\\\"".to_string()),
        Just("\\\\".to_string()),
        Just("\\/\\b\\f\\r".to_string()),
        Just("\\u00e9\\u4E2D".to_string()),
        Just("\\u12".to_string()),
        Just("\\x".to_string()),
        Just("\u{1}".to_string()),
        Just("\t".to_string()),
        Just("\"".to_string()),
    ]
}

proptest::proptest! {
    /// The parser accepts a string exactly when serde_json does, and its value is the text
    /// between the quotes.
    #[test]
    fn strings_are_accepted_and_delimited_as_serde_json_does(
        pieces in proptest::collection::vec(string_piece(), 0..12),
        pad in 0usize..20,
    ) {
        let body: String = pieces.concat();
        let line = format!("{{\"{}\":\"{body}\",\"z\":1}}", "k".repeat(pad + 1));
        let ours = parse_object(&line, &mut Vec::new());
        let theirs = serde_json::from_str::<serde_json::Value>(&line);
        proptest::prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{}", line);
        if ours.is_ok() {
            let mut out = Vec::new();
            parse_object(&line, &mut out).unwrap();
            proptest::prop_assert_eq!(out.len(), 2);
            proptest::prop_assert_eq!(out[0].1, format!("\"{body}\""));
        }
    }
}

#[test]
fn a_stop_byte_or_escape_at_every_position_of_a_string() {
    for len in 0..50 {
        for at in 0..len {
            for (stop, ok) in [
                ("\\n", true),
                ("\\u0041", true),
                ("\\\"", true),
                ("\\q", false),
                ("\\u00g0", false),
                ("\u{1f}", false),
            ] {
                let mut body = "x".repeat(len);
                body.insert_str(at, stop);
                let line = format!("{{\"k\":\"{body}\"}}");
                let mut out = Vec::new();
                assert_eq!(parse_object(&line, &mut out).is_ok(), ok, "{line}");
                if ok {
                    assert_eq!(out[0].1, format!("\"{body}\""), "{line}");
                }
            }
            // An unterminated string that ends in an escape.
            let line = format!("{{\"k\":\"{}\\", "x".repeat(at));
            assert!(parse_object(&line, &mut Vec::new()).is_err(), "{line}");
        }
    }
}

#[test]
fn a_captured_object_is_read_in_the_same_pass() {
    let text = r#"{"guid":"g","data":{"a":1,"b":{"c":[2]}},"x":null}"#;
    let (mut out, mut inner) = (Vec::new(), Vec::new());
    assert!(
        parse_object_capturing(text, &mut out, "data", &mut inner)
            .unwrap()
            .captured
    );
    let keys: Vec<&str> = out.iter().map(|(k, _)| k.as_ref()).collect();
    assert_eq!(keys, ["guid", "data", "x"]);
    assert_eq!(out[1].1, r#"{"a":1,"b":{"c":[2]}}"#);
    let inner: Vec<(&str, &str)> = inner.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
    assert_eq!(inner, [("a", "1"), ("b", r#"{"c":[2]}"#)]);
    // Not an object, or absent: nothing captured, the line parsed as usual.
    for text in [r#"{"data":[1]}"#, r#"{"other":{"a":1}}"#] {
        let mut inner = vec![("stale".into(), "1")];
        assert!(
            !parse_object_capturing(text, &mut out, "data", &mut inner)
                .unwrap()
                .captured
        );
        assert!(inner.is_empty());
    }
    // Errors inside the captured object are the line's errors.
    assert_eq!(
        parse_object_capturing(
            r#"{"data":{"a":1,"a":2}}"#,
            &mut out,
            "data",
            &mut Vec::new()
        ),
        Err(ObjectError::DuplicateKey("a".into()))
    );
    assert!(
        parse_object_capturing(r#"{"data":{"a":}}"#, &mut out, "data", &mut Vec::new()).is_err()
    );
    // The depth limit counts the same whether the object is captured or skipped.
    for (n, ok) in [(127, true), (128, false)] {
        for key in ["data", "other"] {
            let deep = format!(r#"{{"{key}":{}1{}}}"#, r#"{"a":"#.repeat(n), "}".repeat(n));
            let got = parse_object_capturing(&deep, &mut Vec::new(), "data", &mut Vec::new());
            assert_eq!(got.is_ok(), ok, "{key} {n}");
        }
    }
}

#[test]
fn surrogate_escapes_are_noted_wherever_they_are() {
    let noted = |text: &str| {
        parse_object_capturing(text, &mut Vec::new(), "data", &mut Vec::new())
            .unwrap()
            .surrogate_escape
    };
    for text in [
        r#"{"a":"\ud83d\ude00"}"#,
        r#"{"a":"x\uDC00"}"#,
        r#"{"\uD83D\uDE00":1}"#,
        r#"{"data":{"b":["\udbff"]}}"#,
        r#"{"a":{"b":[{"c":"\uDfFf"}]}}"#,
    ] {
        assert!(noted(text), "{text}");
    }
    for text in [
        r#"{"a":"\u00e9\ud7ff\ue000"}"#,
        r#"{"a":"\\ud800"}"#,
        r#"{"a":"ud800","b":1}"#,
    ] {
        assert!(!noted(text), "{text}");
    }
}
