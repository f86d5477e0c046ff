//! What an ingest run did, for people (text on stdout) and machines (`--json`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::checkpoint::{Counts, Status};
use crate::units::{count, human_bytes};

/// The result of one raw file in one run.
#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    #[serde(flatten)]
    pub counts: Counts,
    pub partitions: usize,
    pub status: Status,
    /// Byte offset reached (the next run starts here).
    pub offset: u64,
    /// The file no longer matched its checkpoint and was read again from the start.
    pub reprocessed: bool,
    /// Bytes of an unterminated last line left for the next run.
    pub held_back_bytes: u64,
    /// Where this file's rejected lines went, when there were any this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
}

/// The result of a whole run.
#[derive(Debug, Clone, Serialize)]
pub struct IngestSummary {
    #[serde(flatten)]
    pub counts: Counts,
    /// Distinct partitions that received rows.
    pub partitions: usize,
    pub elapsed_ms: u64,
    pub timezone: String,
    pub lake: String,
    pub files: BTreeMap<String, FileSummary>,
}

impl IngestSummary {
    /// The run summary for a person at a terminal.
    pub fn render(&self) -> String {
        let c = &self.counts;
        let mut out = String::new();
        if self.files.is_empty() {
            let _ = writeln!(out, "nothing new to ingest; lake: {}", self.lake);
            return out;
        }
        let _ = writeln!(
            out,
            "ingested {} in {:.2} s: {} read, {} written, {} ({} conflicting), {} rejected, {} blank",
            count(self.files.len() as u64, "raw file"),
            self.elapsed_ms as f64 / 1000.0,
            count(c.lines_read, "line"),
            c.written,
            count(c.duplicates, "duplicate"),
            c.conflicting_duplicates,
            c.rejected,
            c.blank,
        );
        if c.contacts + c.events + c.contact_duplicates + c.event_duplicates > 0 {
            let _ = writeln!(
                out,
                "  {} kept ({}, {}, {}) and {} kept; of the duplicates, {} and {}",
                count(c.contacts, "contact record"),
                count(c.contact_updates, "update"),
                count(c.contact_deletes, "delete"),
                count(c.contact_details, "detail"),
                count(c.events, "event"),
                count(c.contact_duplicates, "contact record"),
                count(c.event_duplicates, "event"),
            );
        }
        let _ = writeln!(
            out,
            "  {} type conflicts, {} repaired{}; {} read, {} written to {} partition{}",
            c.type_conflicts,
            c.repaired,
            if c.xml_unparsed > 0 {
                format!(
                    ", {} whose XML card did not parse (kind other)",
                    count(c.xml_unparsed, "message")
                )
            } else {
                String::new()
            },
            human_bytes(c.bytes_read),
            human_bytes(c.bytes_written),
            self.partitions,
            if self.partitions == 1 { "" } else { "s" },
        );
        for (name, f) in &self.files {
            let side = if f.counts.contacts + f.counts.events > 0 {
                format!(
                    ", {}, {}",
                    count(f.counts.contacts, "contact"),
                    count(f.counts.events, "event")
                )
            } else {
                String::new()
            };
            let mut line = format!(
                "  {name}: {} read, {} written, {}, {} rejected, {} blank{side} -> {}",
                f.counts.lines_read,
                f.counts.written,
                count(f.counts.duplicates, "duplicate"),
                f.counts.rejected,
                f.counts.blank,
                serde_json::to_value(f.status)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
            );
            if f.reprocessed {
                line.push_str(" (changed since last run: read again from the start)");
            }
            if f.held_back_bytes > 0 {
                let _ = write!(
                    line,
                    " ({} B of an unfinished last line left for the next run)",
                    f.held_back_bytes
                );
            }
            let _ = writeln!(out, "{line}");
        }
        let quarantined: Vec<&str> = self
            .files
            .values()
            .filter_map(|f| f.quarantine.as_deref())
            .collect();
        if c.rejected > 0 {
            let _ = writeln!(
                out,
                "  {} rejected lines quarantined in: {}",
                c.rejected,
                quarantined.join(", ")
            );
        }
        let _ = writeln!(out, "lake: {} (time zone {})", self.lake, self.timezone);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_contract_keys() {
        let s = IngestSummary {
            counts: Counts::default(),
            partitions: 0,
            elapsed_ms: 1,
            timezone: "UTC".into(),
            lake: "l".into(),
            files: BTreeMap::new(),
        };
        let v = serde_json::to_value(&s).unwrap();
        for key in [
            "lines_read",
            "blank",
            "rejected",
            "duplicates",
            "conflicting_duplicates",
            "type_conflicts",
            "repaired",
            "written",
            "contacts",
            "contact_updates",
            "contact_deletes",
            "contact_details",
            "contact_duplicates",
            "events",
            "event_duplicates",
            "xml_unparsed",
            "partitions",
            "bytes_read",
            "bytes_written",
            "elapsed_ms",
            "files",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
    }
}
