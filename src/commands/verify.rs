//! `wxlake verify`: a read-only integrity check of the lake. It proves what the writers promise:
//! every file opens and its footer and row count agree with its data; nothing half-done is
//! left (temp files, staging or swap directories, journals, stray files in partitions); every
//! row sits in the partition its create_time maps to; no msg_id is stored twice; the msg_id
//! index lists every stored id (or the next ingest could store a later copy in another day);
//! and every checkpoint matches its raw file. Each problem is reported with its path.
//!
//! msg_ids are compared by a 128-bit hash (16 bytes each, sorted, so a two-year lake fits in a
//! few hundred MB); a hash seen twice is then confirmed by reading the actual ids again, so a
//! reported duplicate is always a real one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch};
use serde::Serialize;

use crate::checkpoint::{Checkpoint, fnv1a64};
use crate::dates::DateArg;
use crate::error::{Error, Result};
use crate::lake::Layout;
use crate::lake::footer::read_footer;
use crate::lake::listing::resolve_days;
use crate::lake::msg_index::{self, Entry, Snapshot};
use crate::lake::reader::open_projected;
use crate::lake::session::Reader;
use crate::lake::side_table::SideTable;
use crate::partition::PartitionKey;
use crate::record::col;

/// Options of `wxlake verify`.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub data_dir: PathBuf,
    pub timezone: Option<String>,
    pub start: Option<DateArg>,
    pub end: Option<DateArg>,
}

/// One thing wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub problem: String,
}

/// What `verify` checked and found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub partitions: u64,
    pub files: u64,
    pub rows: u64,
    pub checkpoints: u64,
    /// Rows of the contacts and events tables (always checked whole).
    pub contact_rows: u64,
    pub event_rows: u64,
    pub problems: Vec<Problem>,
    /// Things never read that look meant for wxlake (odd raw file names, non-canonical
    /// partition directories): reported, but the lake is whole without them.
    pub warnings: Vec<Problem>,
    pub elapsed_ms: u64,
}

/// What `e` says about `path`, without repeating the path (the problem names it already).
pub fn reason_for(e: &Error, path: &Path) -> String {
    match e {
        Error::Data { path: p, reason } if p == path => reason.clone(),
        other => other.to_string(),
    }
}

/// 128 bits of two unrelated hashes of a msg_id; the high half is the msg_id index's hash.
fn id_hash(id: &str) -> u128 {
    (u128::from(msg_index::hash_id(id)) << 64) | u128::from(fnv1a64(id.as_bytes()))
}

/// Check the lake.
pub fn run(opts: &VerifyOptions) -> Result<VerifyReport> {
    let started = Instant::now();
    let Reader { layout, tz } = Reader::open(&opts.data_dir, opts.timezone.as_deref())?;
    let (start, end) = resolve_days(opts.start, opts.end, tz)?;
    let mut report = VerifyReport {
        ok: true,
        partitions: 0,
        files: 0,
        rows: 0,
        checkpoints: 0,
        contact_rows: 0,
        event_rows: 0,
        problems: Vec::new(),
        warnings: layout
            .oddities()?
            .into_iter()
            .map(|(path, why)| Problem {
                path: path.display().to_string(),
                problem: why,
            })
            .collect(),
        elapsed_ms: 0,
    };
    let mut side_problems = Vec::new();
    for table in SideTable::ALL {
        let stats = table.verify(&layout, |path, what| {
            side_problems.push(Problem {
                path: path.display().to_string(),
                problem: what,
            })
        })?;
        match table {
            SideTable::Contacts => report.contact_rows = stats.rows,
            SideTable::Events => report.event_rows = stats.rows,
        }
    }
    report.problems.extend(side_problems);
    let mut problem = |path: &Path, what: String| {
        report.problems.push(Problem {
            path: path.display().to_string(),
            problem: what,
        })
    };

    // Leftovers of interrupted writers.
    for dir in [
        layout.staging_dir(),
        layout.swap_root(),
        layout.journal_dir(),
    ] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            // An empty directory holds nothing half-done (a swap that failed to start, on a
            // full disk, say): not a problem.
            let path = entry.path();
            if path.is_dir() && std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none()) {
                continue;
            }
            problem(
                &path,
                "left by an interrupted run (the next writer removes it)".into(),
            );
        }
    }
    for dir in [
        layout.metadata_dir(),
        layout.metadata_dir().join("checkpoints"),
        layout.msg_index_dir(),
        layout.raw_archive_dir(),
    ] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if crate::lake::names::is_temp(&name) {
                problem(&entry.path(), "temp file left by an interrupted run".into());
            }
        }
    }

    // Every file, every row.
    let mut ids: Vec<(u128, u32)> = Vec::new();
    let mut files: Vec<(PathBuf, PartitionKey)> = Vec::new();
    for key in layout.partitions()? {
        if start.is_some_and(|s| key.date() < s) || end.is_some_and(|e| key.date() > e) {
            continue;
        }
        report.partitions += 1;
        for path in crate::lake::layout::stray_entries(&layout.partition_dir(key)) {
            problem(&path, "not a data file; readers may trip over it".into());
        }
        for path in layout.partition_files(key)? {
            report.files += 1;
            let index = files.len() as u32;
            files.push((path.clone(), key));
            match check_file(&path, key, tz, |h| ids.push((h, index))) {
                Ok((rows, issues)) => {
                    report.rows += rows;
                    for issue in issues {
                        problem(&path, issue);
                    }
                }
                Err(e) => problem(&path, reason_for(&e, &path)),
            }
        }
    }
    let index = check_index(&layout, &ids, &files);
    for p in index.problems {
        problem(Path::new(&p.path), p.problem);
    }
    let index_warnings = index.warnings;
    ids.sort_unstable();
    let suspects: BTreeSet<u128> = ids
        .windows(2)
        .filter(|w| w[0].0 == w[1].0)
        .map(|w| w[0].0)
        .collect();
    if !suspects.is_empty() {
        let involved: BTreeSet<u32> = ids
            .iter()
            .filter(|(h, _)| suspects.contains(h))
            .map(|(_, f)| *f)
            .collect();
        drop(ids);
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        for f in involved {
            let path = &files[f as usize].0;
            let _ = crate::lake::reader::for_each_msg_id(path, |id| {
                if suspects.contains(&id_hash(id)) {
                    found.push((id.to_string(), path.clone()));
                }
            });
        }
        found.sort();
        for group in found.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
            let places: Vec<String> = group.iter().map(|(_, p)| p.display().to_string()).collect();
            problem(
                &group[0].1,
                format!(
                    "msg_id {} is stored {} times: {}",
                    group[0].0,
                    group.len(),
                    places.join(", ")
                ),
            );
        }
    }

    // Checkpoints against their raw files.
    for date in layout.checkpoint_dates()? {
        let path = layout.checkpoint_path(date);
        report.checkpoints += 1;
        let cp = match Checkpoint::load(&path) {
            Ok(Some(cp)) => cp,
            Ok(None) => continue,
            Err(e) => {
                problem(&path, reason_for(&e, &path));
                continue;
            }
        };
        let raw = layout.raw_file(date);
        match std::fs::File::open(&raw) {
            Ok(mut file) => {
                let len = file.metadata().map(|m| m.len()).unwrap_or(0);
                if cp.offset > len {
                    problem(
                        &raw,
                        format!(
                            "shorter ({len} bytes) than its checkpoint's offset {}",
                            cp.offset
                        ),
                    );
                } else if !cp.fingerprint.matches(&mut file).unwrap_or(false) {
                    problem(
                        &raw,
                        "no longer matches its checkpoint's fingerprint (replaced or rewritten)"
                            .into(),
                    );
                }
            }
            Err(_) if layout.raw_archive_path(date).exists() => {}
            Err(_) => problem(
                &path,
                format!("checkpoint of a raw file that is gone ({})", raw.display()),
            ),
        }
    }
    report.warnings.extend(index_warnings);
    report.ok = report.problems.is_empty();
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Problems and warnings of one check.
#[derive(Default)]
struct Findings {
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
}

/// Every stored id (`ids`: hash and index into `files`) must be in the msg_id index.
fn check_index(
    layout: &Layout,
    ids: &[(u128, u32)],
    files: &[(PathBuf, PartitionKey)],
) -> Findings {
    let mut out = Findings::default();
    const FIX: &str = "remove metadata/msg_index and the next ingest rebuilds it from the lake";
    let dir = layout.msg_index_dir();
    let snapshot = match Snapshot::load(layout) {
        Ok(Some(s)) => s,
        Ok(None) => {
            if !files.is_empty() {
                out.warnings.push(Problem {
                    path: dir.display().to_string(),
                    problem:
                        "no msg_id index yet (a lake from before it): the next ingest builds it"
                            .into(),
                });
            }
            return out;
        }
        // Owner-only (see msg_index::FILE_MODE): another user's verify cannot check it.
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::PermissionDenied => {
            out.warnings.push(Problem {
                path: dir.display().to_string(),
                problem: "msg_id index not checked: only its owner may read it".into(),
            });
            return out;
        }
        Err(e) => {
            out.problems.push(Problem {
                path: dir.display().to_string(),
                problem: format!("unreadable msg_id index ({e}); {FIX}"),
            });
            return out;
        }
    };
    for path in &snapshot.damaged {
        out.problems.push(Problem {
            path: path.display().to_string(),
            problem: format!("msg_id index segment does not match its checksum; {FIX}"),
        });
    }
    let mut missing = vec![0u64; files.len()];
    for &(h, f) in ids {
        let entry = Entry {
            hash: (h >> 64) as u64,
            day: msg_index::day_of(files[f as usize].1),
        };
        if !snapshot.contains(entry) {
            missing[f as usize] += 1;
        }
    }
    for (n, (path, _)) in missing.iter().zip(files) {
        if *n > 0 {
            out.problems.push(Problem {
                path: path.display().to_string(),
                problem: format!(
                    "{} not in the msg_id index (a later copy in another day would be stored \
                     again); {FIX}",
                    crate::units::count(*n, "msg_id")
                ),
            });
        }
    }
    out
}

/// Read `path`'s msg_id and create_time columns: its row count must match the footer and every
/// row must belong to partition `key`. Returns the rows and the problems found.
fn check_file(
    path: &Path,
    key: PartitionKey,
    tz: chrono_tz::Tz,
    mut each_id: impl FnMut(u128),
) -> Result<(u64, Vec<String>)> {
    let footer = read_footer(path)?;
    let mut rows = 0u64;
    let mut misplaced = 0u64;
    let mut example = None;
    for batch in open_projected(path, &[col::MSG_ID, col::CREATE_TIME])? {
        let batch: RecordBatch =
            batch.map_err(|e| Error::data(path, format!("unreadable Parquet data: {e}")))?;
        let ids = batch
            .column_by_name(col::MSG_ID)
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| Error::data(path, "no msg_id column"))?;
        let times = batch
            .column_by_name(col::CREATE_TIME)
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| Error::data(path, "no create_time column"))?;
        for i in 0..batch.num_rows() {
            each_id(id_hash(if ids.is_valid(i) { ids.value(i) } else { "" }));
            if times.is_null(i) || PartitionKey::of(times.value(i), tz) != key {
                misplaced += 1;
                example.get_or_insert_with(|| ids.value(i).to_string());
            }
        }
        rows += batch.num_rows() as u64;
    }
    let mut issues = Vec::new();
    if let Err(Error::Data { reason, .. }) = footer.check_integrity() {
        issues.push(reason);
    }
    if rows != footer.rows {
        issues.push(format!(
            "{rows} rows read, but the footer says {}",
            footer.rows
        ));
    }
    if misplaced > 0 {
        issues.push(format!(
            "{misplaced} rows whose create_time is not in {key} (e.g. msg_id {})",
            example.unwrap_or_default()
        ));
    }
    Ok((rows, issues))
}

impl VerifyReport {
    /// The report for people.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Each path once, with all of its problems.
        let mut by_path: Vec<(&str, Vec<&str>)> = Vec::new();
        for p in &self.problems {
            match by_path.iter_mut().find(|(path, _)| *path == p.path) {
                Some((_, problems)) => problems.push(&p.problem),
                None => by_path.push((&p.path, vec![&p.problem])),
            }
        }
        for (path, problems) in by_path {
            out.push_str(&format!("{path}: {}\n", problems.join("; ")));
        }
        for w in &self.warnings {
            out.push_str(&format!("warning: {}: {}\n", w.path, w.problem));
        }
        out.push_str(&format!(
            "verify: {}, {}, {}, {} and {}, {} checked in {:.2} s: {}\n",
            crate::units::count(self.partitions, "partition"),
            crate::units::count(self.files, "file"),
            crate::units::count(self.rows, "row"),
            crate::units::count(self.contact_rows, "contact row"),
            crate::units::count(self.event_rows, "event row"),
            crate::units::count(self.checkpoints, "checkpoint"),
            self.elapsed_ms as f64 / 1000.0,
            if self.ok {
                "the lake is whole".to_string()
            } else {
                format!(
                    "{} problem{}",
                    self.problems.len(),
                    if self.problems.len() == 1 { "" } else { "s" }
                )
            }
        ));
        out
    }
}
