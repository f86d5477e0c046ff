//! `wxlake status`: what the lake holds and how it is doing, from footers and metadata only
//! (never the data), so it is quick on any lake: partitions, files, rows and bytes per codec
//! tier, the largest and smallest partitions, partitions that need compaction, raw bytes not yet
//! ingested, the last ingest of each raw file, rejects, and whether a writer is running now.
//! It takes no lock and changes nothing.

use std::path::PathBuf;

use serde::Serialize;

use crate::checkpoint::{Checkpoint, Counts, Status};
use crate::commands::archive::Tiers;
use crate::commands::compact::DEFAULT_TARGET_FILE_SIZE;
use crate::commands::compact::plan::plan_compaction;
use crate::error::Result;
use crate::lake::listing::list_partitions;
use crate::lake::session::Reader;
use crate::lake::side_table::{SideTable, TableStats};
use crate::lake::writer::Codec;
use crate::lock::current_holder;

/// Options of `wxlake status`.
#[derive(Debug, Clone)]
pub struct StatusOptions {
    pub data_dir: PathBuf,
    pub timezone: Option<String>,
}

/// The files of one message schema version.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VersionReport {
    pub version: u32,
    /// Partitions holding a file of this version (a partition may hold several versions).
    pub partitions: u64,
    pub files: u64,
    pub rows: u64,
}

/// The files of one codec.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CodecReport {
    pub codec: String,
    /// `hot`, `warm` or `cold` when the codec is that of a default archive tier.
    pub tier: Option<String>,
    pub partitions: u64,
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
}

/// One partition's size.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionSize {
    pub partition: String,
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
}

/// One raw file and its checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct RawReport {
    pub file: String,
    pub stored: RawStored,
    pub bytes: Option<u64>,
    pub unprocessed_bytes: u64,
    pub status: RawStatus,
    pub last_ingest: Option<String>,
    pub error: Option<String>,
    pub counts: Option<Counts>,
}

/// Where a raw file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RawStored {
    /// `messages/raw/DATE.jsonl`.
    Jsonl,
    /// Only in `messages/raw/archive/DATE.jsonl.zst`.
    Archived,
}

/// How far a raw file is ingested, by its checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RawStatus {
    #[serde(rename = "complete")]
    Complete,
    #[serde(rename = "partial")]
    Partial,
    #[serde(rename = "error")]
    Error,
    #[serde(rename = "never ingested")]
    NeverIngested,
}

impl std::fmt::Display for RawStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            RawStatus::Complete => "complete",
            RawStatus::Partial => "partial",
            RawStatus::Error => "error",
            RawStatus::NeverIngested => "never ingested",
        })
    }
}

/// `wxlake status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub lake: String,
    pub timezone: String,
    pub partitions: u64,
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
    pub codecs: Vec<CodecReport>,
    /// Files per schema version, oldest first; `wxlake migrate` brings older ones current.
    pub schema_versions: Vec<VersionReport>,
    pub largest_partitions: Vec<PartitionSize>,
    pub smallest_partitions: Vec<PartitionSize>,
    /// Partitions `compact` (at the default target size) would rewrite.
    pub need_compaction: Vec<String>,
    pub raw_files: Vec<RawReport>,
    pub raw_files_with_unprocessed_bytes: u64,
    pub unprocessed_bytes: u64,
    pub rejected_lines: u64,
    pub rejects_dir: String,
    /// The holder of the writer lock, if a writer runs now.
    pub writer: Option<String>,
    /// The contacts table (`parquet/contacts`).
    pub contacts: TableStats,
    /// The events table (`parquet/events`).
    pub events: TableStats,
    /// Files and directories that look meant for wxlake but are never read, with why.
    pub warnings: Vec<String>,
}

/// Gather the status of a lake.
pub fn run(opts: &StatusOptions) -> Result<StatusReport> {
    let Reader { layout, tz } = Reader::open(&opts.data_dir, opts.timezone.as_deref())?;
    let listings = list_partitions(&layout, None, None)?;
    let tiers = Tiers::default();
    let tier_of = |c: Codec| match c {
        Codec::Snappy => Some("hot"),
        Codec::Zstd(l) if l == tiers.warm_level => Some("warm"),
        Codec::Zstd(l) if l == tiers.cold_level => Some("cold"),
        Codec::Zstd(_) => None,
    };
    let mut codecs: Vec<(Codec, CodecReport, Vec<String>)> = Vec::new();
    let mut sizes = Vec::new();
    let mut versions: std::collections::BTreeMap<u32, VersionReport> = Default::default();
    for l in &listings {
        let partition = l.key.to_string();
        let mut seen_versions = Vec::new();
        for f in &l.files {
            let v = versions.entry(f.schema_version).or_insert(VersionReport {
                version: f.schema_version,
                ..Default::default()
            });
            if !seen_versions.contains(&f.schema_version) {
                seen_versions.push(f.schema_version);
                v.partitions += 1;
            }
            v.files += 1;
            v.rows += f.rows;
        }
        for f in &l.files {
            let i = match codecs.iter().position(|(c, _, _)| *c == f.codec) {
                Some(i) => i,
                None => {
                    codecs.push((
                        f.codec,
                        CodecReport {
                            codec: f.codec.to_string(),
                            tier: tier_of(f.codec).map(String::from),
                            ..Default::default()
                        },
                        Vec::new(),
                    ));
                    codecs.len() - 1
                }
            };
            let (_, r, seen) = &mut codecs[i];
            if !seen.contains(&partition) {
                seen.push(partition.clone());
                r.partitions += 1;
            }
            r.files += 1;
            r.rows += f.rows;
            r.bytes += f.bytes;
        }
        sizes.push(PartitionSize {
            partition,
            files: l.files.len() as u64,
            rows: l.files.iter().map(|f| f.rows).sum(),
            bytes: l.files.iter().map(|f| f.bytes).sum(),
        });
    }
    codecs.sort_by_key(|(c, _, _)| match c {
        Codec::Snappy => -1,
        Codec::Zstd(l) => *l,
    });
    let mut by_size = sizes.clone();
    by_size.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.partition.cmp(&b.partition)));
    let largest: Vec<_> = by_size.iter().take(3).cloned().collect();
    let smallest: Vec<_> = by_size.iter().rev().take(3).cloned().collect();

    let mut raw_files = Vec::new();
    let mut dates: Vec<_> = layout
        .raw_files()?
        .into_iter()
        .map(|f| (f.date, true))
        .collect();
    if let Ok(entries) = std::fs::read_dir(layout.raw_archive_dir()) {
        for e in entries.flatten() {
            if let Some(date) = e
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".zst"))
                .and_then(crate::lake::layout::parse_raw_file_name)
                && !dates.iter().any(|(d, _)| *d == date)
            {
                dates.push((date, false));
            }
        }
    }
    dates.sort();
    let mut rejected = 0;
    for (date, present) in dates {
        let cp = Checkpoint::load(&layout.checkpoint_path(date))?;
        let bytes = present
            .then(|| {
                std::fs::metadata(layout.raw_file(date))
                    .ok()
                    .map(|m| m.len())
            })
            .flatten();
        let offset = cp.as_ref().map_or(0, |c| c.offset);
        rejected += cp.as_ref().map_or(0, |c| c.counts.rejected);
        raw_files.push(RawReport {
            file: crate::lake::layout::raw_file_name(date),
            stored: if present {
                RawStored::Jsonl
            } else {
                RawStored::Archived
            },
            bytes,
            unprocessed_bytes: bytes.map_or(0, |b| b.saturating_sub(offset)),
            status: match cp.as_ref().map(|c| c.status) {
                Some(Status::Complete) => RawStatus::Complete,
                Some(Status::Partial) => RawStatus::Partial,
                Some(Status::Error) => RawStatus::Error,
                None => RawStatus::NeverIngested,
            },
            last_ingest: cp.as_ref().map(|c| c.updated_at.clone()),
            error: cp.as_ref().and_then(|c| c.error.clone()),
            counts: cp.map(|c| c.counts),
        });
    }
    let unprocessed: Vec<&RawReport> = raw_files
        .iter()
        .filter(|r| r.unprocessed_bytes > 0)
        .collect();
    Ok(StatusReport {
        lake: layout.lake_dir().display().to_string(),
        timezone: tz.name().to_string(),
        partitions: listings.len() as u64,
        files: sizes.iter().map(|s| s.files).sum(),
        rows: sizes.iter().map(|s| s.rows).sum(),
        bytes: sizes.iter().map(|s| s.bytes).sum(),
        codecs: codecs.into_iter().map(|(_, r, _)| r).collect(),
        schema_versions: versions.into_values().collect(),
        largest_partitions: largest,
        smallest_partitions: smallest,
        need_compaction: plan_compaction(&listings, DEFAULT_TARGET_FILE_SIZE)
            .iter()
            .map(|p| p.key.to_string())
            .collect(),
        raw_files_with_unprocessed_bytes: unprocessed.len() as u64,
        unprocessed_bytes: unprocessed.iter().map(|r| r.unprocessed_bytes).sum(),
        raw_files,
        rejected_lines: rejected,
        rejects_dir: layout.rejects_dir().display().to_string(),
        writer: current_holder(&layout.lock_path()),
        contacts: SideTable::Contacts.stats(&layout)?,
        events: SideTable::Events.stats(&layout)?,
        warnings: layout
            .oddities()?
            .into_iter()
            .map(|(path, why)| format!("{}: {why}", path.display()))
            .collect(),
    })
}

impl StatusReport {
    /// The report for people.
    pub fn render(&self) -> String {
        use crate::units::{count, human_bytes};
        let mut out = format!(
            "lake: {} (time zone {})\n{}, {}, {}, {}\n",
            self.lake,
            self.timezone,
            count(self.partitions, "partition"),
            count(self.files, "file"),
            count(self.rows, "row"),
            human_bytes(self.bytes)
        );
        for c in &self.codecs {
            out.push_str(&format!(
                "  {:<9} {:<5} {}, {}, {}, {}\n",
                c.codec,
                c.tier.as_deref().unwrap_or(""),
                count(c.partitions, "partition"),
                count(c.files, "file"),
                count(c.rows, "row"),
                human_bytes(c.bytes)
            ));
        }
        if !self.schema_versions.is_empty() {
            let parts: Vec<String> = self
                .schema_versions
                .iter()
                .map(|v| {
                    format!(
                        "version {}: {}, {}",
                        v.version,
                        count(v.partitions, "partition"),
                        count(v.files, "file")
                    )
                })
                .collect();
            out.push_str(&format!("schema {}\n", parts.join("; ")));
            let current = crate::record::SCHEMA_VERSION;
            if self.schema_versions.iter().any(|v| v.version < current) {
                out.push_str(&format!(
                    "  files of older versions are read with their derived columns computed on read; `wxlake migrate` rewrites them to version {current} (for other engines)\n"
                ));
            }
        }
        for (name, t) in [("contacts", &self.contacts), ("events", &self.events)] {
            out.push_str(&format!(
                "{name}: {} row{} in {} file{}, {}\n",
                t.rows,
                if t.rows == 1 { "" } else { "s" },
                t.files,
                if t.files == 1 { "" } else { "s" },
                human_bytes(t.bytes)
            ));
        }
        let list = |v: &[PartitionSize]| {
            v.iter()
                .map(|p| {
                    format!(
                        "{} ({}, {} file{})",
                        p.partition,
                        human_bytes(p.bytes),
                        p.files,
                        if p.files == 1 { "" } else { "s" }
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.largest_partitions.is_empty() {
            out.push_str(&format!("largest: {}\n", list(&self.largest_partitions)));
            out.push_str(&format!("smallest: {}\n", list(&self.smallest_partitions)));
        }
        match self.need_compaction.len() {
            0 => out.push_str("compaction: nothing to do\n"),
            n => out.push_str(&format!(
                "compaction: {n} partition{} would be merged (wxlake compact), e.g. {}\n",
                if n == 1 { "" } else { "s" },
                self.need_compaction[0]
            )),
        }
        out.push_str(&format!(
            "raw: {} files, {} with unprocessed bytes ({})\n",
            self.raw_files.len(),
            self.raw_files_with_unprocessed_bytes,
            human_bytes(self.unprocessed_bytes)
        ));
        for r in self.raw_files.iter().rev().take(7).rev() {
            out.push_str(&format!(
                "  {}  {:<14} {}{}{}\n",
                r.file,
                r.status,
                r.last_ingest.as_deref().unwrap_or("-"),
                if r.unprocessed_bytes > 0 {
                    format!(", {} unprocessed", human_bytes(r.unprocessed_bytes))
                } else {
                    String::new()
                },
                r.error
                    .as_deref()
                    .map(|e| format!(", error: {e}"))
                    .unwrap_or_default()
            ));
        }
        out.push_str(&format!(
            "rejected lines: {} (in {})\n",
            self.rejected_lines, self.rejects_dir
        ));
        out.push_str(&match &self.writer {
            Some(h) => format!("writer: running ({h})\n"),
            None => "writer: none running\n".to_string(),
        });
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        out
    }
}
