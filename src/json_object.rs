//! A strict, single-pass parser for one JSON object per line: its keys (decoded) and the exact
//! text of each value.
//!
//! Why not serde_json: a raw message line is a flat object whose values are mostly strings, and
//! ingest needs each value's *text* (to keep integers of any size exactly and unknown fields
//! verbatim) rather than a typed value. Scanning strings with memchr and validating nested values
//! without building them is several times faster than serde_json's raw-value path, which was the
//! largest cost of ingest. The grammar accepted is RFC 8259's, exactly; nesting is limited to 128
//! levels. Lone surrogate escapes are *not* an error here (they are valid JSON
//! syntax); decoding such a string fails later and the line is repaired.

use std::borrow::Cow;

use crate::json_text::unescape;

/// Containers may nest this deep, the line's own object included. serde_json's raw values have no
/// limit; ours bounds the recursion of the skipper, and a deeper line is rejected to quarantine.
const MAX_DEPTH: usize = 128;

/// Why a line is not one JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectError {
    /// Not JSON at all; the message names the byte column.
    Syntax(String),
    /// A JSON value other than an object (`"found an array"`, ...).
    NotAnObject(&'static str),
    /// An object followed by more text.
    Trailing,
    /// A key that appears twice.
    DuplicateKey(String),
    /// A key with a lone surrogate escape (repairable).
    BadKeyEscape,
}

/// One key and its value's exact text.
pub type Entry<'a> = (Cow<'a, str>, &'a str);

/// Parse `text` as one JSON object, appending its entries to `out` (cleared first).
pub fn parse_object<'a>(text: &'a str, out: &mut Vec<Entry<'a>>) -> Result<(), ObjectError> {
    parse_object_with(text, out, None).map(|_| ())
}

/// What [`parse_object_capturing`] found besides the entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// The captured key's object was read into `inner`.
    pub captured: bool,
    /// Some string (a key or a value, at any depth) has a `\uD800`–`\uDFFF` escape: a
    /// surrogate, perhaps a lone one that only decoding the string would find.
    pub surrogate_escape: bool,
}

/// Like [`parse_object`], and when the object has a key `capture` whose value is an object,
/// also its entries into `inner` (cleared first) in the same pass — a webhook envelope's
/// `data` is then read once, not skipped and parsed again.
pub fn parse_object_capturing<'a>(
    text: &'a str,
    out: &mut Vec<Entry<'a>>,
    capture: &str,
    inner: &mut Vec<Entry<'a>>,
) -> Result<Parsed, ObjectError> {
    inner.clear();
    let mut captured = false;
    let surrogate_escape = parse_object_with(text, out, Some((capture, inner, &mut captured)))?;
    Ok(Parsed {
        captured,
        surrogate_escape,
    })
}

type Capture<'c, 'a> = Option<(&'c str, &'c mut Vec<Entry<'a>>, &'c mut bool)>;

/// Returns whether a string had a surrogate escape ([`Parsed::surrogate_escape`]).
fn parse_object_with<'a>(
    text: &'a str,
    out: &mut Vec<Entry<'a>>,
    capture: Capture<'_, 'a>,
) -> Result<bool, ObjectError> {
    out.clear();
    let mut p = Parser {
        b: text.as_bytes(),
        i: 0,
        surrogate: false,
        escaped: false,
    };
    p.ws();
    match p.peek() {
        Some(b'{') => {}
        Some(_) => {
            // A complete other value is "not an object"; anything else is not JSON.
            let found = match p.peek() {
                Some(b'[') => "found an array",
                Some(b'"') => "found a string",
                Some(b't' | b'f') => "found a boolean",
                Some(b'n') => "found null",
                _ => "found a number",
            };
            p.value(0)?;
            p.ws();
            return if p.i == p.b.len() {
                Err(ObjectError::NotAnObject(found))
            } else {
                Err(ObjectError::Trailing)
            };
        }
        None => return Err(p.err("expected a JSON object, found nothing")),
    }
    p.entries(text, out, 0, capture)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(ObjectError::Trailing);
    }
    Ok(p.surrogate)
}

/// Past this many keys, duplicates are looked up in a hash set instead of by a scan of the keys
/// so far (a line of 160,000 keys would otherwise take quadratic time).
const DUPLICATE_SCAN_LIMIT: usize = 64;

/// Finds a key seen twice among the keys of one object, in time linear in their number.
#[derive(Default)]
struct KeySet<'k> {
    set: Option<rustc_hash::FxHashSet<Cow<'k, str>>>,
}

impl<'k> KeySet<'k> {
    /// Whether `key`, about to be pushed onto `entries`, is already one of theirs.
    // The set keeps a clone of the Cow itself (a borrowed key costs nothing to clone).
    #[allow(clippy::ptr_arg)]
    fn is_duplicate(&mut self, entries: &[Entry<'k>], key: &Cow<'k, str>) -> bool {
        if entries.len() < DUPLICATE_SCAN_LIMIT {
            // Keys of one length mostly differ in their first byte (`msg_id`/`source`,
            // `msg_type`/`chatroom`): compared before a `memcmp` call (~1% of ingest).
            let (len, first) = (key.len(), key.as_bytes().first());
            return entries
                .iter()
                .any(|(k, _)| k.len() == len && k.as_bytes().first() == first && k == key);
        }
        let set = self
            .set
            .get_or_insert_with(|| entries.iter().map(|(k, _)| k.clone()).collect());
        !set.insert(key.clone())
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    /// A `\uD800`–`\uDFFF` escape was seen.
    surrogate: bool,
    /// The last string skipped had an escape (a key without one is borrowed, not rescanned).
    escaped: bool,
}

impl<'a> Parser<'a> {
    /// Parse an object starting at its `{`, appending its entries (key decoded, value text) to
    /// `out`; with `capture`, the entries of the object under that key go to its vector too.
    fn entries(
        &mut self,
        text: &'a str,
        out: &mut Vec<Entry<'a>>,
        depth: usize,
        mut capture: Capture<'_, 'a>,
    ) -> Result<(), ObjectError> {
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        let mut keys = KeySet::default();
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            let key_start = self.i;
            self.string()?;
            let key_raw = &text[key_start + 1..self.i - 1];
            let key = if !self.escaped {
                Cow::Borrowed(key_raw)
            } else {
                Cow::Owned(unescape(key_raw).map_err(|_| ObjectError::BadKeyEscape)?)
            };
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':'"));
            }
            self.i += 1;
            self.ws();
            let value_start = self.i;
            match capture.as_mut() {
                Some((name, inner, captured))
                    if !**captured && self.peek() == Some(b'{') && key == *name =>
                {
                    if depth + 1 >= MAX_DEPTH {
                        return Err(self.err("nesting deeper than 128 levels"));
                    }
                    self.entries(text, inner, depth + 1, None)?;
                    **captured = true;
                }
                _ => self.value(depth + 1)?,
            }
            let value = &text[value_start..self.i];
            if keys.is_duplicate(out, &key) {
                return Err(ObjectError::DuplicateKey(key.into_owned()));
            }
            out.push((key, value));
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn err(&self, what: &str) -> ObjectError {
        match self.peek() {
            None => ObjectError::Syntax(format!("{what} at column {} (end of line)", self.i + 1)),
            Some(_) => ObjectError::Syntax(format!("{what} at column {}", self.i + 1)),
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Skip one value, validating it.
    fn value(&mut self, depth: usize) -> Result<(), ObjectError> {
        match self.peek() {
            Some(b'{' | b'[') if depth >= MAX_DEPTH => {
                Err(self.err("nesting deeper than 128 levels"))
            }
            Some(b'"') => self.string(),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err("expected a value")),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), ObjectError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<(), ObjectError> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        Ok(())
    }

    /// Skip a string starting at its opening quote, validating escapes and control characters.
    fn string(&mut self) -> Result<(), ObjectError> {
        let b = self.b;
        self.escaped = false;
        // Sixteen bytes at a time: every quote, backslash and control character of a window
        // comes from one mask, an escape clears the bits of the bytes it covers, and the next
        // window starts after the last escape when one runs past the window's end.
        let mut window = self.i + 1;
        loop {
            if window >= b.len() {
                self.i = b.len();
                return Err(self.err("unterminated string"));
            }
            let (mut mask, width) = crate::byte_scan::special_mask(b, window);
            let mut next = window + width;
            while mask != 0 {
                let at = window + mask.trailing_zeros() as usize;
                match b[at] {
                    b'"' => {
                        self.i = at + 1;
                        return Ok(());
                    }
                    b'\\' => {}
                    _ => {
                        self.i = at;
                        return Err(self.err("control character in string"));
                    }
                }
                // A backslash: one escape.
                self.escaped = true;
                let end = match b.get(at + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at + 2,
                    Some(b'u') => {
                        let hex = match b.get(at + 2..at + 6) {
                            Some(h) if h.iter().all(u8::is_ascii_hexdigit) => h,
                            _ => {
                                self.i = at;
                                return Err(self.err("invalid \\u escape"));
                            }
                        };
                        self.surrogate |= matches!(hex[0], b'd' | b'D')
                            && matches!(hex[1], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F');
                        at + 6
                    }
                    _ => {
                        self.i = at;
                        return Err(self.err("invalid escape"));
                    }
                };
                if end >= next {
                    next = end;
                    break;
                }
                mask &= !((1u32 << (end - window)) - 1);
            }
            window = next;
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), ObjectError> {
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':'"));
            }
            self.i += 1;
            self.ws();
            self.value(depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), ObjectError> {
        self.i += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            self.value(depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or ']'")),
            }
        }
    }
}

#[cfg(test)]
mod tests;
