//! Pure helpers over raw JSON text: compaction and lone-surrogate repair.
//!
//! Both work on bytes of *already valid* (compaction) or *almost valid* (repair) JSON and never
//! reinterpret numbers, so a value keeps its exact digits: `12345678901234567890` stays as written.

/// Append `raw` (one valid JSON value) to `out` with all insignificant whitespace removed.
/// String contents, escapes included, are copied verbatim.
pub fn compact_into(raw: &str, out: &mut String) {
    let bytes = raw.as_bytes();
    let mut in_string = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            out.push_str(&raw[start..i]);
            start = i + 1;
        }
    }
    out.push_str(&raw[start..]);
}

/// Compact a JSON value (see [`compact_into`]).
pub fn compact(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    compact_into(raw, &mut out);
    out
}

/// Replace every `\uXXXX` escape that is a lone UTF-16 surrogate (a high surrogate not followed by
/// a low one, or a low surrogate not preceded by a high one) with `\ufffd`.
///
/// Returns `None` when the text has no lone surrogate escape. Only escapes inside strings are
/// touched; an escaped backslash followed by `u` (`\\u...`) is not an escape.
pub fn repair_lone_surrogates(line: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0; // bytes of `line` already copied into `out`
    let mut in_string = false;
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        if !in_string {
            in_string = b == b'"';
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = false;
                i += 1;
            }
            b'\\' if line.get(i + 1) == Some(&b'u') => {
                let Some(unit) = hex4(line, i + 2) else {
                    i += 2; // malformed escape: leave it for the JSON parser to reject
                    continue;
                };
                let is_high = (0xD800..0xDC00).contains(&unit);
                let is_low = (0xDC00..0xE000).contains(&unit);
                let paired_low = is_high
                    && line.get(i + 6) == Some(&b'\\')
                    && line.get(i + 7) == Some(&b'u')
                    && hex4(line, i + 8).is_some_and(|u| (0xDC00..0xE000).contains(&u));
                if paired_low {
                    i += 12;
                } else if is_high || is_low {
                    let buf = out.get_or_insert_with(|| Vec::with_capacity(line.len()));
                    buf.extend_from_slice(&line[copied..i]);
                    buf.extend_from_slice(b"\\ufffd");
                    i += 6;
                    copied = i;
                } else {
                    i += 6;
                }
            }
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    let mut buf = out?;
    buf.extend_from_slice(&line[copied..]);
    Some(buf)
}

/// A JSON string escape that does not decode: a lone surrogate, or a malformed escape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadEscape;

/// The offset of the first backslash in `b` (or `b.len()`).
pub(crate) fn next_backslash(b: &[u8]) -> usize {
    crate::byte_scan::first_backslash(b)
}

/// Decode the contents of a JSON string (between the quotes, already validated by a JSON parser
/// except for surrogates). Fails on a lone surrogate escape, which callers repair first.
pub fn unescape(inner: &str) -> Result<String, BadEscape> {
    // An XML source has an escape every few bytes (`\n\t\t<tag>`): the runs between them are
    // copied sixteen bytes at a time into a buffer with room to spare, and a run of escapes is
    // decoded in a loop of its own, so an escape costs a few instructions, not a search and a
    // copy call.
    const SLACK: usize = 16;
    let bytes = inner.as_bytes();
    let n = bytes.len();
    let mut out: Vec<u8> = Vec::with_capacity(n + SLACK);
    let dst = out.as_mut_ptr();
    // Bytes decoded into `out`. Invariant: `len <= i` (a decoded escape is never longer than its
    // text), so with `SLACK` bytes of room every write below stays inside the capacity.
    let mut len = 0usize;
    let mut i = 0usize;
    loop {
        let run = next_backslash(&bytes[i..]);
        // SAFETY: reads stay inside `bytes` (`i + 16 <= n`, or `run` bytes, which `bytes` has);
        // writes end at `len + max(run, 16) <= n + SLACK`, inside the capacity.
        unsafe {
            let copy = if run <= SLACK && i + SLACK <= n {
                SLACK
            } else {
                run
            };
            std::ptr::copy_nonoverlapping(bytes.as_ptr().add(i), dst.add(len), copy);
        }
        len += run;
        i += run;
        if i >= n {
            break;
        }
        while i < n && bytes[i] == b'\\' {
            let esc = *bytes.get(i + 1).ok_or(BadEscape)?;
            let simple = match esc {
                b'n' => b'\n',
                b't' => b'\t',
                b'"' => b'"',
                b'\\' => b'\\',
                b'/' => b'/',
                b'r' => b'\r',
                b'b' => 0x08,
                b'f' => 0x0c,
                b'u' => 0,
                _ => return Err(BadEscape),
            };
            if esc != b'u' {
                // SAFETY: `len < i + 2 <= n + SLACK`: inside the capacity.
                unsafe { dst.add(len).write(simple) };
                len += 1;
                i += 2;
                continue;
            }
            let unit = hex4(bytes, i + 2).ok_or(BadEscape)?;
            i += 6;
            let c = match unit {
                0xD800..=0xDBFF => {
                    let low = (bytes.get(i) == Some(&b'\\') && bytes.get(i + 1) == Some(&b'u'))
                        .then(|| hex4(bytes, i + 2))
                        .flatten()
                        .filter(|u| (0xDC00..0xE000).contains(u))
                        .ok_or(BadEscape)?;
                    i += 6;
                    char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                        .ok_or(BadEscape)?
                }
                0xDC00..=0xDFFF => return Err(BadEscape),
                _ => char::from_u32(unit).ok_or(BadEscape)?,
            };
            // SAFETY: at most 4 bytes for the 6 (or 12) just read: inside the capacity.
            let room = unsafe { std::slice::from_raw_parts_mut(dst.add(len), 4) };
            len += c.encode_utf8(room).len();
        }
    }
    // SAFETY: `len` bytes are initialized: runs of the (valid UTF-8) input cut at ASCII
    // backslashes, and whole characters decoded from escapes.
    unsafe {
        out.set_len(len);
        Ok(String::from_utf8_unchecked(out))
    }
}

fn hex4(line: &[u8], at: usize) -> Option<u32> {
    let digits = line.get(at..at + 4)?;
    let text = std::str::from_utf8(digits).ok()?;
    u32::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_backslash_finds_the_first_one_at_any_position() {
        for len in 0..20 {
            for at in 0..=len {
                let mut b = vec![b'x'; len];
                if at < len {
                    b[at] = b'\\';
                }
                assert_eq!(super::next_backslash(&b), at, "len {len}, at {at}");
            }
        }
        assert_eq!(super::next_backslash("é漢\\".as_bytes()), 5);
    }

    use super::*;

    #[test]
    fn compact_removes_whitespace_outside_strings_only() {
        assert_eq!(
            compact(r#"{ "a" : [1, 2.50, "x y\" z" ] }"#),
            r#"{"a":[1,2.50,"x y\" z"]}"#
        );
        assert_eq!(compact("12345678901234567890"), "12345678901234567890");
        assert_eq!(compact(r#""\\" "#), r#""\\""#);
    }

    #[test]
    fn repairs_lone_high_and_low_surrogates() {
        let fixed = repair_lone_surrogates(br#"{"c":"a\ud83d"}"#).unwrap();
        assert_eq!(fixed, br#"{"c":"a\ufffd"}"#);
        let fixed = repair_lone_surrogates(br#"{"c":"\udc00x\ud83dy"}"#).unwrap();
        assert_eq!(fixed, br#"{"c":"\ufffdx\ufffdy"}"#);
    }

    #[test]
    fn keeps_valid_pairs_and_escaped_backslashes() {
        assert_eq!(repair_lone_surrogates(br#"{"c":"\ud83d\ude00"}"#), None);
        assert_eq!(repair_lone_surrogates(br#"{"c":"\\ud83d"}"#), None);
        assert_eq!(repair_lone_surrogates(br#"{"c":"plain"}"#), None);
    }

    #[test]
    fn unescape_agrees_with_serde_json() {
        let cases = [
            r#"plain"#,
            r#"a\"b\\c\/d\be\ff\ng\rh\ti"#,
            r#"\u00e9\u4f60\u597d \ud83d\ude00 end"#,
            r#"<msgsource>\n\t<sig>v1</sig></msgsource>"#,
            "中文 😀 direct",
        ];
        for inner in cases {
            let want: String = serde_json::from_str(&format!("\"{inner}\"")).unwrap();
            assert_eq!(unescape(inner), Ok(want), "{inner}");
        }
        for lone in [r#"\ud83d"#, r#"\ud83dx"#, r#"\udc00"#, r#"\ud83d\u0041"#] {
            assert_eq!(unescape(lone), Err(BadEscape), "{lone}");
        }
    }

    #[test]
    fn high_surrogate_followed_by_non_low_escape_is_lone() {
        let fixed = repair_lone_surrogates(br#"["\ud83d\u0041"]"#).unwrap();
        assert_eq!(fixed, br#"["\ufffd\u0041"]"#);
    }

    proptest::proptest! {
        /// Any string serde_json writes (escapes of every kind, runs of any length) decodes
        /// back to itself.
        #[test]
        fn unescape_inverts_serde_json(text in "(\\PC|[\\n\\t\"\\\\\\x00-\\x1f]|\u{1F600}){0,80}") {
            let quoted = serde_json::to_string(&text).unwrap();
            proptest::prop_assert_eq!(unescape(&quoted[1..quoted.len() - 1]), Ok(text.clone()));
            // Forced \u escapes too (serde_json writes most characters as they are).
            let mut escaped = String::new();
            for c in text.chars() {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    escaped.push_str(&format!("\\u{u:04x}"));
                }
            }
            proptest::prop_assert_eq!(unescape(&escaped), Ok(text));
        }
    }
}
