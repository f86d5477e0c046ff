//! What a run warns about, summarized: one line per kind with a count and where to look,
//! instead of one line per rejected line or conflicting duplicate (those go to the debug log,
//! `-v`; every rejected line is in the quarantine with its reason anyway).

use std::collections::BTreeMap;
use std::path::Path;

/// Rejected lines and conflicting duplicates seen by one run.
#[derive(Debug, Default)]
pub struct WarningTally {
    /// Rejected lines per reject code.
    rejects: BTreeMap<&'static str, u64>,
    /// The first rejected line: (raw file, line).
    first_reject: Option<(String, u64)>,
    conflicts: u64,
    /// The first conflicting duplicate: (raw file, line, msg_id).
    first_conflict: Option<(String, u64, String)>,
}

impl WarningTally {
    /// A line of `raw_file` was rejected with `code`.
    pub fn reject(&mut self, raw_file: &str, line: u64, code: &'static str) {
        *self.rejects.entry(code).or_insert(0) += 1;
        self.first_reject
            .get_or_insert_with(|| (raw_file.to_string(), line));
    }

    /// A duplicate of a stored msg_id whose other fields differ.
    pub fn conflict(&mut self, raw_file: &str, line: u64, msg_id: &str) {
        self.conflicts += 1;
        self.first_conflict
            .get_or_insert_with(|| (raw_file.to_string(), line, msg_id.to_string()));
    }

    /// The summary lines (empty when there is nothing to warn about).
    pub fn lines(&self, rejects_dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let rejected: u64 = self.rejects.values().sum();
        if let Some((file, line)) = &self.first_reject {
            let mut by_code: Vec<(&&str, &u64)> = self.rejects.iter().collect();
            by_code.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let codes: Vec<String> = by_code.iter().map(|(c, n)| format!("{n} {c}")).collect();
            out.push(format!(
                "{} rejected ({}), the first at {file} line {line}; each is quarantined with its reason in {}",
                crate::units::count(rejected, "line"),
                codes.join(", "),
                rejects_dir.display()
            ));
        }
        if let Some((file, line, id)) = &self.first_conflict {
            out.push(format!(
                "{} (same msg_id, other fields differ; the first stored copy is kept), the first at {file} line {line} (msg_id {id}); -v lists each",
                crate::units::count(self.conflicts, "conflicting duplicate"),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_kind_with_counts_and_where_to_look() {
        let mut t = WarningTally::default();
        assert!(t.lines(Path::new("r")).is_empty());
        t.reject("a.jsonl", 3, "invalid_json");
        t.reject("a.jsonl", 9, "missing_msg_id");
        t.reject("b.jsonl", 1, "invalid_json");
        t.conflict("b.jsonl", 7, "42");
        let lines = t.lines(Path::new("/d/metadata/rejects"));
        assert_eq!(
            lines,
            [
                "3 lines rejected (2 invalid_json, 1 missing_msg_id), the first at a.jsonl line 3; each is quarantined with its reason in /d/metadata/rejects",
                "1 conflicting duplicate (same msg_id, other fields differ; the first stored copy is kept), the first at b.jsonl line 7 (msg_id 42); -v lists each",
            ]
        );
    }
}
