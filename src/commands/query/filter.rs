//! The row filters of a query and how they are decided, for one row or for a whole row group or
//! page at once from its statistics.
//!
//! Pure. Filters combine with AND; the values of one repeated flag combine with OR. A null (or
//! a column the file does not have) matches no filter. Decisions on statistics are conservative:
//! "may match" is true unless the statistics prove that no row can match.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, BooleanArray, RecordBatch, StringArray};
use arrow_schema::ArrowError;
use memchr::memmem::Finder;
use rustc_hash::FxHashSet;

use crate::commands::query::time_range::TimeRange;
use crate::record::col;

/// What rows a query keeps, besides its time range.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `--chatroom`: chatroom is one of these.
    pub chatrooms: Vec<String>,
    /// `--from`: from_username or chatroom_sender is one of these.
    pub senders: Vec<String>,
    /// `--type`: msg_type is one of these.
    pub types: Vec<i32>,
    /// `--msg-id`: msg_id is one of these.
    pub msg_ids: Vec<String>,
    /// `--kind`: kind is one of these.
    pub kinds: Vec<String>,
    /// `--mentions`: mentions holds one of these.
    pub mentions: Vec<String>,
    /// `--contains`: content contains one of these.
    pub contains: Vec<String>,
    /// `--ignore-case`: `contains` ignores case.
    pub ignore_case: bool,
}

/// Statistics of one column over a set of rows (a row group or a page). `None` is unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats<T> {
    pub min: Option<T>,
    pub max: Option<T>,
    /// Whether every row is null.
    pub all_null: bool,
}

impl Filter {
    /// Whether no filter is set.
    pub fn is_empty(&self) -> bool {
        self.chatrooms.is_empty()
            && self.senders.is_empty()
            && self.types.is_empty()
            && self.msg_ids.is_empty()
            && self.kinds.is_empty()
            && self.mentions.is_empty()
            && self.contains.is_empty()
    }

    /// Whether a filter reads a column that upgrading a row of an older schema version derives
    /// or may change: kind and mentions, and msg_type (a 4.x packed type is split) and the
    /// senders (an empty group sender is filled from its prefix).
    pub fn reads_derived(&self) -> bool {
        !self.kinds.is_empty()
            || !self.mentions.is_empty()
            || !self.types.is_empty()
            || !self.senders.is_empty()
    }

    /// This filter without the filters of [`Filter::reads_derived`]: what may run on the stored
    /// rows of an older file before they are upgraded.
    pub fn without_derived(&self) -> Filter {
        Filter {
            kinds: Vec::new(),
            mentions: Vec::new(),
            types: Vec::new(),
            senders: Vec::new(),
            ..self.clone()
        }
    }

    /// This filter without `--contains` (decided before, on the content column's bytes).
    pub fn without_contains(&self) -> Filter {
        Filter {
            contains: Vec::new(),
            ..self.clone()
        }
    }

    /// This filter without `equality` (decided before, on a dictionary).
    pub fn without_equality(&self, equality: Equality) -> Filter {
        let mut f = self.clone();
        match equality {
            Equality::Chatroom => f.chatrooms.clear(),
            Equality::Sender => f.senders.clear(),
            Equality::Kind => f.kinds.clear(),
        }
        f
    }

    /// The columns the filters read.
    pub fn columns(&self) -> Vec<&'static str> {
        let mut cols = Vec::new();
        if !self.msg_ids.is_empty() {
            cols.push(col::MSG_ID);
        }
        if !self.types.is_empty() {
            cols.push(col::MSG_TYPE);
        }
        if !self.senders.is_empty() {
            cols.push(col::FROM_USERNAME);
        }
        if !self.chatrooms.is_empty() {
            cols.push(col::CHATROOM);
        }
        if !self.senders.is_empty() {
            cols.push(col::CHATROOM_SENDER);
        }
        if !self.contains.is_empty() {
            cols.push(col::CONTENT);
        }
        if !self.kinds.is_empty() {
            cols.push(col::KIND);
        }
        if !self.mentions.is_empty() {
            cols.push(col::MENTIONS);
        }
        cols
    }

    /// The string values that `column` must equal (one of); `None` if it is unconstrained.
    fn equals(&self, column: &str) -> Option<&[String]> {
        let values = match column {
            col::CHATROOM => &self.chatrooms,
            col::MSG_ID => &self.msg_ids,
            col::FROM_USERNAME | col::CHATROOM_SENDER => &self.senders,
            col::KIND => &self.kinds,
            _ => return None,
        };
        (!values.is_empty()).then_some(values.as_slice())
    }

    /// The columns whose statistics can rule rows out, in groups: a row may match only if, in
    /// every group, one of the group's columns may match (`--from` is one group of two).
    pub fn pruning_groups(&self) -> Vec<&'static [&'static str]> {
        let mut groups: Vec<&'static [&'static str]> = Vec::new();
        if !self.chatrooms.is_empty() {
            groups.push(&[col::CHATROOM]);
        }
        if !self.senders.is_empty() {
            groups.push(&[col::FROM_USERNAME, col::CHATROOM_SENDER]);
        }
        if !self.types.is_empty() {
            groups.push(&[col::MSG_TYPE]);
        }
        if !self.msg_ids.is_empty() {
            groups.push(&[col::MSG_ID]);
        }
        if !self.kinds.is_empty() {
            groups.push(&[col::KIND]);
        }
        groups
    }

    /// Whether rows whose string `column` has these statistics may satisfy its filter.
    pub fn string_may_match(&self, column: &str, stats: Stats<&str>) -> bool {
        self.equals(column)
            .is_none_or(|values| any_in_range(values.iter().map(String::as_str), stats))
    }

    /// Whether rows whose msg_type has these statistics may satisfy `--type`.
    pub fn type_may_match(&self, stats: Stats<i32>) -> bool {
        self.types.is_empty() || any_in_range(self.types.iter().copied(), stats)
    }

    /// The rows of `batch` that pass the filters and, with `time`, lie in the time range.
    /// `batch` holds (at least) the columns of [`Filter::columns`] it has, plus create_time when
    /// `time` is given.
    pub fn evaluate(
        &self,
        batch: &RecordBatch,
        time: Option<&TimeRange>,
        matcher: &TextMatcher,
    ) -> Result<BooleanArray, ArrowError> {
        let n = batch.num_rows();
        let mut keep = vec![true; n];
        if let Some(range) = time {
            let times = batch
                .column_by_name(col::CREATE_TIME)
                .and_then(|c| c.as_primitive_opt::<Int64Type>())
                .ok_or_else(|| ArrowError::SchemaError("no create_time column".into()))?;
            for (k, i) in keep.iter_mut().zip(0..n) {
                *k = times.is_valid(i) && range.overlaps(times.value(i), times.value(i));
            }
        }
        let strings = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>())
        };
        for column in [col::CHATROOM, col::MSG_ID, col::KIND] {
            if let Some(values) = self.equals(column) {
                let set = ValueSet::new(values);
                and_strings(&mut keep, strings(column), |v| set.contains(v));
            }
        }
        if !self.senders.is_empty() {
            let set = ValueSet::new(&self.senders);
            let from = strings(col::FROM_USERNAME);
            let sender = strings(col::CHATROOM_SENDER);
            for (i, k) in keep.iter_mut().enumerate() {
                if *k {
                    let hit = |a: Option<&StringArray>| {
                        a.is_some_and(|a| a.is_valid(i) && set.contains(a.value(i)))
                    };
                    *k = hit(from) || hit(sender);
                }
            }
        }
        if !self.types.is_empty() {
            let types = batch
                .column_by_name(col::MSG_TYPE)
                .and_then(|c| c.as_primitive_opt::<Int32Type>());
            for (i, k) in keep.iter_mut().enumerate() {
                *k = *k && types.is_some_and(|t| t.is_valid(i) && self.types.contains(&t.value(i)));
            }
        }
        if !self.mentions.is_empty() {
            let set = ValueSet::new(&self.mentions);
            match batch
                .column_by_name(col::MENTIONS)
                .and_then(|c| c.as_list_opt::<i32>())
            {
                None => keep.fill(false),
                Some(lists) => {
                    let values = lists.values().as_string::<i32>();
                    let offsets = lists.value_offsets();
                    for (i, k) in keep.iter_mut().enumerate() {
                        *k = *k
                            && lists.is_valid(i)
                            && (offsets[i] as usize..offsets[i + 1] as usize)
                                .any(|j| values.is_valid(j) && set.contains(values.value(j)));
                    }
                }
            }
        }
        if !self.contains.is_empty() {
            let mut scratch = String::new();
            and_strings(&mut keep, strings(col::CONTENT), |v| {
                matcher.matches(v, &mut scratch)
            });
        }
        Ok(BooleanArray::from(keep))
    }
}

/// `keep[i] &= pred(value)`, false for nulls and for an absent column.
fn and_strings(
    keep: &mut [bool],
    column: Option<&StringArray>,
    mut pred: impl FnMut(&str) -> bool,
) {
    match column {
        None => keep.fill(false),
        Some(a) => {
            for (i, k) in keep.iter_mut().enumerate() {
                *k = *k && a.is_valid(i) && pred(a.value(i));
            }
        }
    }
}

/// Whether some value lies within the statistics' [min, max].
fn any_in_range<T: PartialOrd + Copy>(
    values: impl IntoIterator<Item = T>,
    stats: Stats<T>,
) -> bool {
    !stats.all_null
        && values
            .into_iter()
            .any(|v| stats.min.is_none_or(|min| min <= v) && stats.max.is_none_or(|max| v <= max))
}

/// An equality filter on low-cardinality string columns, which the lake dictionary-encodes: a
/// row passes when one of the columns holds one of the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Equality {
    Chatroom,
    Sender,
    Kind,
}

impl Equality {
    pub const ALL: [Equality; 3] = [Equality::Chatroom, Equality::Sender, Equality::Kind];

    /// The columns it reads; a row passes if any of them matches.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Equality::Chatroom => &[col::CHATROOM],
            Equality::Sender => &[col::FROM_USERNAME, col::CHATROOM_SENDER],
            Equality::Kind => &[col::KIND],
        }
    }

    /// The values of `filter` it asks for (none: unconstrained).
    pub fn values(self, filter: &Filter) -> &[String] {
        match self {
            Equality::Chatroom => &filter.chatrooms,
            Equality::Sender => &filter.senders,
            Equality::Kind => &filter.kinds,
        }
    }

    /// Whether a stored value (bytes, as in a dictionary page) is one of `values`; bytes that
    /// are not UTF-8 are none of them.
    pub fn matcher(values: &[String]) -> impl Fn(&[u8]) -> bool + '_ {
        let set = ValueSet::new(values);
        move |v| std::str::from_utf8(v).is_ok_and(|v| set.contains(v))
    }
}

/// A set of strings: a scan for a few, a hash set for many.
enum ValueSet<'a> {
    Few(&'a [String]),
    Many(FxHashSet<&'a str>),
}

impl<'a> ValueSet<'a> {
    fn new(values: &'a [String]) -> Self {
        if values.len() <= 8 {
            ValueSet::Few(values)
        } else {
            ValueSet::Many(values.iter().map(String::as_str).collect())
        }
    }

    fn contains(&self, v: &str) -> bool {
        match self {
            ValueSet::Few(values) => values.iter().any(|x| x == v),
            ValueSet::Many(set) => set.contains(v),
        }
    }
}

/// `--contains` needles, compiled once: substring search, optionally ignoring case (both sides
/// lowercased character by character, as SQL's `lower()` does; ASCII text takes a fast path).
#[derive(Clone)]
pub struct TextMatcher {
    finders: Arc<Vec<Finder<'static>>>,
    ignore_case: bool,
}

impl TextMatcher {
    pub fn new(needles: &[String], ignore_case: bool) -> Self {
        let finders = needles
            .iter()
            .map(|n| {
                let n = if ignore_case {
                    n.chars().flat_map(char::to_lowercase).collect()
                } else {
                    n.clone()
                };
                Finder::new(n.as_bytes()).into_owned()
            })
            .collect();
        TextMatcher {
            finders: Arc::new(finders),
            ignore_case,
        }
    }

    /// Whether the bytes of a text value contain one of the needles. Ignoring case, they are
    /// lowercased as text: bytes that are not UTF-8 match nothing then.
    pub fn matches_bytes(&self, bytes: &[u8], scratch: &mut String) -> bool {
        if !self.ignore_case {
            return self.finders.iter().any(|f| f.find(bytes).is_some());
        }
        simdutf8::basic::from_utf8(bytes).is_ok_and(|text| self.matches(text, scratch))
    }

    /// The needles as byte searches when a match is a plain substring of the bytes (case kept),
    /// and none of them is empty; None otherwise.
    pub fn byte_finders(&self) -> Option<&[Finder<'static>]> {
        let plain = !self.ignore_case && self.finders.iter().all(|f| !f.needle().is_empty());
        plain.then_some(self.finders.as_slice())
    }

    /// Whether `text` contains one of the needles. `scratch` is reused between calls.
    pub fn matches(&self, text: &str, scratch: &mut String) -> bool {
        let hay: &str = if !self.ignore_case {
            text
        } else if text.is_ascii() {
            scratch.clear();
            scratch.push_str(text);
            scratch.make_ascii_lowercase();
            scratch
        } else {
            scratch.clear();
            scratch.extend(text.chars().flat_map(char::to_lowercase));
            scratch
        };
        self.finders
            .iter()
            .any(|f| f.find(hay.as_bytes()).is_some())
    }
}

impl std::fmt::Debug for TextMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextMatcher")
            .field("needles", &self.finders.len())
            .field("ignore_case", &self.ignore_case)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::writer::RowBuffer;
    use crate::record::{Record, text};

    /// Rows with (kind as derived from msg_type/content, mentions from source).
    fn batch() -> RecordBatch {
        let mut b = RowBuffer::default();
        let rows = [
            (
                1,
                "hi",
                Some("<msgsource><atuserlist>,wxid_b</atuserlist></msgsource>"),
            ),
            (3, "<msg><img/></msg>", None),
            (
                49,
                "<msg><appmsg><title>t</title><type>5</type></appmsg></msg>",
                Some("<msgsource><atuserlist>wxid_c,wxid_b</atuserlist></msgsource>"),
            ),
        ];
        for (i, (t, content, source)) in rows.into_iter().enumerate() {
            let mut r = Record {
                msg_id: i.to_string().into(),
                create_time: 1,
                msg_type: Some(t),
                ..Default::default()
            };
            r.text[text::CONTENT] = Some(content.into());
            r.text[text::SOURCE] = source.map(Into::into);
            b.push(&r);
        }
        b.take_batch()
    }

    fn keep(filter: &Filter) -> Vec<bool> {
        let m = TextMatcher::new(&filter.contains, filter.ignore_case);
        let kept = filter.evaluate(&batch(), None, &m).unwrap();
        kept.iter().map(|k| k.unwrap()).collect()
    }

    #[test]
    fn kinds_and_mentions_filter_rows() {
        let f = |kinds: &[&str], mentions: &[&str]| Filter {
            kinds: kinds.iter().map(|s| s.to_string()).collect(),
            mentions: mentions.iter().map(|s| s.to_string()).collect(),
            ..Filter::default()
        };
        assert_eq!(keep(&f(&["image"], &[])), [false, true, false]);
        assert_eq!(keep(&f(&["link", "text"], &[])), [true, false, true]);
        assert_eq!(keep(&f(&[], &["wxid_b"])), [true, false, true]);
        assert_eq!(keep(&f(&[], &["wxid_c"])), [false, false, true]);
        assert_eq!(keep(&f(&["text"], &["wxid_c"])), [false, false, false]);
        assert!(f(&["text"], &[]).reads_derived());
        assert!(!f(&["text"], &["x"]).without_derived().reads_derived());
        let by_type = Filter {
            types: vec![49],
            ..Filter::default()
        };
        assert!(by_type.reads_derived(), "an upgrade splits packed types");
        // Statistics of the kind column prune: a row group of only texts cannot hold a link.
        let stats = Stats {
            min: Some("text"),
            max: Some("text"),
            all_null: false,
        };
        assert!(!f(&["link"], &[]).string_may_match(col::KIND, stats));
        assert!(f(&["text"], &[]).string_may_match(col::KIND, stats));
    }
}
