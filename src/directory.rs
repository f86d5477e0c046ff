//! Names as of a moment: the contacts table folded into each account's history.
//!
//! Contact records are versions: an update (1200) replaces what the client knew of an account,
//! a detail (1202) overlays the fields it carries, a delete (1201) marks the account deleted
//! from then on (a later update re-adds it). [`Directory`] keeps, per username, the state after
//! each version in time order (`observed_at`, then raw file and line), so that a message can be
//! shown with the name its sender had when it was sent, and an operator can look an account up
//! by any name it ever had.
//!
//! Before an account's first record, its first known state stands in: a name that arrived a
//! little after a message is still the best name for it. The logic is pure; [`Directory::load`]
//! is the one place that reads the table.

use std::collections::{BTreeMap, BTreeSet};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch};

use crate::contact::{ContactAction, ContactKind, col};
use crate::error::Result;
use crate::lake::Layout;
use crate::lake::reader::open_projected;
use crate::lake::side_table::SideTable;

/// One contact record, as the directory needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub username: String,
    pub action: ContactAction,
    pub observed_at: i64,
    pub raw_file: String,
    pub line: i64,
    pub nickname: Option<String>,
    pub remark: Option<String>,
    pub alias: Option<String>,
}

/// What is known of an account after some version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactState {
    pub username: String,
    pub kind: ContactKind,
    pub nickname: Option<String>,
    pub remark: Option<String>,
    pub alias: Option<String>,
    pub deleted: bool,
    /// observed_at of the account's first version.
    pub first_seen: i64,
    /// observed_at of this version.
    pub last_seen: i64,
    /// What changed it: the version's action.
    pub action: ContactAction,
}

impl ContactState {
    /// The remark when it is not empty, else the nickname (when not empty).
    pub fn display_name(&self) -> Option<&str> {
        [&self.remark, &self.nickname]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .find(|s| !s.is_empty())
    }

    /// The names a person may look the account up by.
    fn names(&self) -> impl Iterator<Item = &str> {
        [&self.remark, &self.nickname, &self.alias]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// Every account's history.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// username → states after each version, in time order.
    history: BTreeMap<String, Vec<ContactState>>,
}

/// How a name given on the command line resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// An id (a known username, or not a name of anyone).
    Id(String),
    /// Exactly one account has (or had) this name.
    Named(String),
    /// Several accounts have (or had) it: (username, display name) of each.
    Ambiguous(Vec<(String, String)>),
    /// Nobody is called this and it is no known id.
    Unknown(String),
}

impl Directory {
    /// Fold `versions` (in any order) into histories.
    pub fn from_versions(mut versions: Vec<Version>) -> Self {
        versions.sort_by(|a, b| {
            (&a.username, a.observed_at, &a.raw_file, a.line).cmp(&(
                &b.username,
                b.observed_at,
                &b.raw_file,
                b.line,
            ))
        });
        let mut history: BTreeMap<String, Vec<ContactState>> = BTreeMap::new();
        for v in versions {
            let states = history.entry(v.username.clone()).or_default();
            let next = match states.last() {
                None => ContactState {
                    kind: ContactKind::of(&v.username),
                    username: v.username.clone(),
                    nickname: None,
                    remark: None,
                    alias: None,
                    deleted: false,
                    first_seen: v.observed_at,
                    last_seen: v.observed_at,
                    action: v.action,
                },
                Some(prev) => prev.clone(),
            };
            states.push(apply(next, v));
        }
        Directory { history }
    }

    /// Read the contacts table of `layout` (no table: an empty directory).
    pub fn load(layout: &Layout) -> Result<Self> {
        let mut versions = Vec::new();
        let columns = [
            col::USERNAME,
            col::ACTION,
            col::OBSERVED_AT,
            col::RAW_FILE,
            col::LINE,
            col::NICKNAME,
            col::REMARK,
            col::ALIAS,
        ];
        for path in SideTable::Contacts.files(layout)? {
            for batch in open_projected(&path, &columns)? {
                let batch = batch.map_err(|e| crate::error::Error::data(&path, e.to_string()))?;
                versions.extend(versions_of(&batch));
            }
        }
        Ok(Directory::from_versions(versions))
    }

    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }

    /// Every account's latest state, by username.
    pub fn latest(&self) -> impl Iterator<Item = &ContactState> {
        self.history.values().filter_map(|h| h.last())
    }

    /// Every state of every account, by username then time.
    pub fn all_versions(&self) -> impl Iterator<Item = &ContactState> {
        self.history.values().flatten()
    }

    /// The state of `username` as of unix second `t`: its last version at or before `t`, else
    /// its first one.
    pub fn as_of(&self, username: &str, t: i64) -> Option<&ContactState> {
        let states = self.history.get(username)?;
        let after = states.partition_point(|s| s.last_seen <= t);
        states.get(after.saturating_sub(1))
    }

    /// Resolve a `--chatroom` (`chatrooms`) or `--from` value: an id stays an id; a name any
    /// account of the wanted kind has or had (remark, nickname, alias) becomes its username.
    pub fn resolve(&self, value: &str, chatrooms: bool) -> Resolved {
        if self.history.contains_key(value) || self.is_empty() {
            return Resolved::Id(value.to_string());
        }
        let wanted = |kind: ContactKind| (kind == ContactKind::Chatroom) == chatrooms;
        let matches: BTreeSet<&str> = self
            .history
            .iter()
            .filter(|(u, h)| {
                wanted(ContactKind::of(u)) && h.iter().any(|s| s.names().any(|n| n == value))
            })
            .map(|(u, _)| u.as_str())
            .collect();
        match matches.len() {
            1 => Resolved::Named(matches.into_iter().next().expect("one").to_string()),
            0 if looks_like_an_id(value) => Resolved::Id(value.to_string()),
            0 => Resolved::Unknown(value.to_string()),
            _ => Resolved::Ambiguous(
                matches
                    .into_iter()
                    .map(|u| {
                        let name = self.history[u]
                            .last()
                            .and_then(ContactState::display_name)
                            .unwrap_or("")
                            .to_string();
                        (u.to_string(), name)
                    })
                    .collect(),
            ),
        }
    }
}

/// WeChat ids: `wxid_…`, `…@chatroom`, `gh_…`, or plain ASCII without spaces (custom ids).
fn looks_like_an_id(value: &str) -> bool {
    value.starts_with("wxid_")
        || value.ends_with("@chatroom")
        || value.starts_with("gh_")
        || (!value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic()))
}

fn apply(mut state: ContactState, v: Version) -> ContactState {
    state.last_seen = v.observed_at;
    state.action = v.action;
    match v.action {
        ContactAction::Update => {
            state.nickname = v.nickname;
            state.remark = v.remark;
            state.alias = v.alias;
            state.deleted = false;
        }
        ContactAction::Detail => {
            state.nickname = v.nickname.or(state.nickname);
            state.remark = v.remark.or(state.remark);
            state.deleted = false;
        }
        ContactAction::Delete => state.deleted = true,
    }
    state
}

fn versions_of(batch: &RecordBatch) -> Vec<Version> {
    let text = |name: &str| batch.column_by_name(name).map(|c| c.as_string::<i32>());
    let int = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
    };
    let (Some(users), Some(actions), Some(observed)) = (
        text(col::USERNAME),
        text(col::ACTION),
        int(col::OBSERVED_AT),
    ) else {
        return Vec::new();
    };
    let opt = |a: Option<&arrow_array::StringArray>, i: usize| {
        a.filter(|a| a.is_valid(i)).map(|a| a.value(i).to_string())
    };
    let (files, lines) = (text(col::RAW_FILE), int(col::LINE));
    let (nick, remark, alias) = (text(col::NICKNAME), text(col::REMARK), text(col::ALIAS));
    (0..batch.num_rows())
        .filter(|&i| users.is_valid(i) && observed.is_valid(i))
        .map(|i| Version {
            username: users.value(i).to_string(),
            action: ContactAction::parse(actions.value(i)).unwrap_or(ContactAction::Update),
            observed_at: observed.value(i),
            raw_file: opt(files, i).unwrap_or_default(),
            line: lines.map_or(0, |l| l.value(i)),
            nickname: opt(nick, i),
            remark: opt(remark, i),
            alias: opt(alias, i),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(
        user: &str,
        action: ContactAction,
        at: i64,
        nick: Option<&str>,
        remark: Option<&str>,
    ) -> Version {
        Version {
            username: user.to_string(),
            action,
            observed_at: at,
            raw_file: "2026-01-01.jsonl".to_string(),
            line: at,
            nickname: nick.map(String::from),
            remark: remark.map(String::from),
            alias: None,
        }
    }

    fn directory() -> Directory {
        use ContactAction::*;
        Directory::from_versions(vec![
            v("wxid_a", Update, 30, Some("王伟2"), Some("老王")),
            v("wxid_a", Update, 10, Some("王伟"), None),
            v("wxid_a", Delete, 50, None, None),
            v("wxid_b", Update, 10, Some("张伟"), None),
            v("wxid_c", Update, 10, Some("张伟"), None),
            v("wxid_c", Detail, 20, None, Some("小张")),
            v("1@chatroom", Update, 5, Some("技术群"), None),
        ])
    }

    #[test]
    fn names_are_resolved_as_of_a_moment() {
        let d = directory();
        let name = |u: &str, t: i64| {
            d.as_of(u, t)
                .and_then(|s| s.display_name().map(String::from))
        };
        // Before the first record: the first known name.
        assert_eq!(name("wxid_a", 1), Some("王伟".into()));
        assert_eq!(name("wxid_a", 10), Some("王伟".into()));
        assert_eq!(name("wxid_a", 29), Some("王伟".into()));
        // A remark wins over the nickname.
        assert_eq!(name("wxid_a", 30), Some("老王".into()));
        // A delete keeps the last names and marks the account.
        let deleted = d.as_of("wxid_a", 60).unwrap();
        assert!(deleted.deleted);
        assert_eq!(
            (
                deleted.display_name(),
                deleted.first_seen,
                deleted.last_seen
            ),
            (Some("老王"), 10, 50)
        );
        // A detail overlays only what it carries.
        let c = d.as_of("wxid_c", 25).unwrap();
        assert_eq!(
            (c.nickname.as_deref(), c.remark.as_deref()),
            (Some("张伟"), Some("小张"))
        );
        assert_eq!(d.as_of("nobody", 10), None);
    }

    #[test]
    fn command_line_names_resolve_to_ids() {
        let d = directory();
        assert_eq!(d.resolve("wxid_a", false), Resolved::Id("wxid_a".into()));
        assert_eq!(d.resolve("老王", false), Resolved::Named("wxid_a".into()));
        // A past name still finds the account.
        assert_eq!(d.resolve("王伟", false), Resolved::Named("wxid_a".into()));
        assert_eq!(
            d.resolve("技术群", true),
            Resolved::Named("1@chatroom".into())
        );
        // Chatroom names are not senders, and the other way round.
        assert_eq!(
            d.resolve("技术群", false),
            Resolved::Unknown("技术群".into())
        );
        assert_eq!(d.resolve("老王", true), Resolved::Unknown("老王".into()));
        match d.resolve("张伟", false) {
            Resolved::Ambiguous(c) => assert_eq!(
                c,
                [
                    ("wxid_b".to_string(), "张伟".to_string()),
                    ("wxid_c".to_string(), "小张".to_string())
                ]
            ),
            other => panic!("{other:?}"),
        }
        // Something shaped like an id that nobody has is still an id (0 rows, no hint).
        assert_eq!(
            d.resolve("wxid_zzz", false),
            Resolved::Id("wxid_zzz".into())
        );
        assert_eq!(
            Directory::default().resolve("老王", false),
            Resolved::Id("老王".into())
        );
    }
}
