//! Per-raw-file progress: how far ingest got, what it saw, and how to tell the file is the same.
//!
//! A checkpoint is written (atomically, through [`crate::fsutil::write_atomic`]) only after the
//! Parquet files and quarantine entries of the bytes it covers are durable. So after a crash the
//! checkpoint is behind the lake, never ahead of it: the rerun re-reads a few bytes and dedup
//! drops what had already landed.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;

/// Checkpoint file format version.
pub const CHECKPOINT_VERSION: u32 = 1;

/// How many bytes at each end of the processed prefix the fingerprint covers.
pub const SAMPLE: u64 = 4096;

/// Counts of what ingest did with lines; summed per run and per file.
///
/// Every line read is exactly one of: `written` (a new message), `duplicates` (a message,
/// contact or event record already stored), `rejected`, `blank`, `contacts` (a new contact
/// record) or `events` (a new event record).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub lines_read: u64,
    pub blank: u64,
    pub rejected: u64,
    /// Of every kind; `contact_duplicates` and `event_duplicates` say how many were not messages.
    pub duplicates: u64,
    pub conflicting_duplicates: u64,
    pub type_conflicts: u64,
    pub repaired: u64,
    pub written: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// New contact records stored (updates, deletes and details).
    #[serde(default)]
    pub contacts: u64,
    #[serde(default)]
    pub contact_updates: u64,
    #[serde(default)]
    pub contact_deletes: u64,
    #[serde(default)]
    pub contact_details: u64,
    /// Contact records already stored (a webhook retry, a rerun after a crash).
    #[serde(default)]
    pub contact_duplicates: u64,
    /// New event records stored (notify types that are neither messages nor contacts).
    #[serde(default)]
    pub events: u64,
    #[serde(default)]
    pub event_duplicates: u64,
    /// Messages whose XML card did not parse: stored, with kind `other` and null derived
    /// columns.
    #[serde(default)]
    pub xml_unparsed: u64,
}

impl Counts {
    /// Whether every line is accounted for exactly once (see the type's docs).
    pub fn balanced(&self) -> bool {
        self.lines_read
            == self.written
                + self.duplicates
                + self.rejected
                + self.blank
                + self.contacts
                + self.events
    }
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Self) {
        self.lines_read += o.lines_read;
        self.blank += o.blank;
        self.rejected += o.rejected;
        self.duplicates += o.duplicates;
        self.conflicting_duplicates += o.conflicting_duplicates;
        self.type_conflicts += o.type_conflicts;
        self.repaired += o.repaired;
        self.written += o.written;
        self.bytes_read += o.bytes_read;
        self.bytes_written += o.bytes_written;
        self.contacts += o.contacts;
        self.contact_updates += o.contact_updates;
        self.contact_deletes += o.contact_deletes;
        self.contact_details += o.contact_details;
        self.contact_duplicates += o.contact_duplicates;
        self.events += o.events;
        self.event_duplicates += o.event_duplicates;
        self.xml_unparsed += o.xml_unparsed;
    }
}

/// Where a raw file stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Read to its end; the file's day is over.
    Complete,
    /// Read up to its last complete line; the file may still grow (today's file).
    Partial,
    /// The last run failed on this file; `error` says why. `offset` is still valid.
    Error,
}

/// Identifies the content of a raw file's processed prefix without rereading all of it:
/// FNV-1a hashes of its first and last (up to) 4 KiB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Bytes covered (the checkpoint offset).
    pub len: u64,
    pub head: String,
    pub tail: String,
}

impl Fingerprint {
    /// Fingerprint the first `len` bytes of `file`. Fails with `UnexpectedEof` when the file is
    /// shorter than `len`.
    pub fn of(file: &mut File, len: u64) -> io::Result<Self> {
        let head_len = len.min(SAMPLE);
        let head = hash_range(file, 0, head_len)?;
        let tail = hash_range(file, len - head_len, head_len)?;
        Ok(Fingerprint {
            len,
            head: format!("{head:016x}"),
            tail: format!("{tail:016x}"),
        })
    }

    /// The fingerprint of a prefix of `len` bytes from its first and last bytes as they were
    /// read (at most [`SAMPLE`] each; shorter slices are the whole prefix): so that it describes
    /// the bytes actually processed, not what the file holds afterwards.
    pub fn of_bytes(len: u64, head: &[u8], tail: &[u8]) -> Self {
        let head_len = len.min(SAMPLE) as usize;
        let head = &head[..head_len.min(head.len())];
        let tail = &tail[tail.len().saturating_sub(head_len)..];
        Fingerprint {
            len,
            head: format!("{:016x}", fnv1a64(head)),
            tail: format!("{:016x}", fnv1a64(tail)),
        }
    }

    /// Whether `file` still starts with the bytes this fingerprint was taken of.
    pub fn matches(&self, file: &mut File) -> io::Result<bool> {
        if file.metadata()?.len() < self.len {
            return Ok(false);
        }
        Ok(Fingerprint::of(file, self.len)? == *self)
    }
}

/// Size, modification time and inode of a raw file when its checkpoint was taken: when all
/// three are unchanged the file is untouched, and a run skips it without reading a byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    pub size: u64,
    pub mtime_ns: i128,
    pub inode: u64,
}

impl FileStat {
    pub fn of_info(info: &crate::fsutil::FileInfo) -> Self {
        FileStat {
            size: info.size,
            mtime_ns: info.mtime_ns,
            inode: info.inode,
        }
    }

    pub fn of(meta: &std::fs::Metadata) -> Self {
        Self::of_info(&crate::fsutil::FileInfo::of(meta))
    }
}

fn hash_range(file: &mut File, start: u64, len: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; len as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut buf)?;
    Ok(fnv1a64(&buf))
}

/// FNV-1a, 64 bit: stable across versions and platforms, fine for 8 KiB of samples.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The progress record of one raw file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    pub raw_file: String,
    /// Bytes of the raw file fully processed.
    pub offset: u64,
    /// Lines fully processed (the next line is `line + 1`).
    pub line: u64,
    pub last_msg_id: Option<String>,
    pub last_create_time: Option<i64>,
    /// The newest create_time of the messages read so far: contact and event records after
    /// them are stamped with it (absent in checkpoints of older versions).
    #[serde(default)]
    pub clock: Option<i64>,
    pub fingerprint: Fingerprint,
    /// The file's stat at checkpoint time (absent in checkpoints of older versions).
    #[serde(default)]
    pub stat: Option<FileStat>,
    pub status: Status,
    pub error: Option<String>,
    /// Cumulative over every run since the file was first seen (or replaced).
    pub counts: Counts,
    /// Length of the file's quarantine file when this checkpoint was taken.
    pub rejects_bytes: u64,
    pub updated_at: String,
}

impl Checkpoint {
    /// Load the checkpoint at `path`; `None` when there is none.
    pub fn load(path: &Path) -> Result<Option<Self>> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read checkpoint", path, e)),
        };
        let cp: Checkpoint = serde_json::from_slice(&bytes).map_err(|e| {
            Error::data(
                path,
                format!("unreadable checkpoint ({e}); move it aside to re-ingest the raw file"),
            )
        })?;
        if cp.version != CHECKPOINT_VERSION {
            return Err(Error::data(
                path,
                format!("checkpoint version {} is not supported", cp.version),
            ));
        }
        Ok(Some(cp))
    }

    /// Write atomically. Failpoints: `checkpoint.before_rename`, `checkpoint.after_rename`.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_json(), "checkpoint")
    }

    /// Record a failure of the file's processing in this checkpoint (its offsets stay) and save
    /// it at `path`; a save that fails too is only logged (the run reports the first error).
    pub fn record_failure(mut self, path: &Path, message: String) {
        self.status = Status::Error;
        self.error = Some(message);
        self.updated_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        if let Err(e) = self.save(path) {
            tracing::warn!(error = %e, "could not record the failure in the checkpoint");
        }
    }

    /// [`save`](Self::save), the fsync of the directory put off into `syncs`.
    pub fn save_deferred(&self, path: &Path, syncs: &mut crate::fsutil::DirSyncs) -> Result<()> {
        crate::fsutil::write_atomic_deferred(path, &self.to_json(), "checkpoint", syncs)
    }

    fn to_json(&self) -> Vec<u8> {
        let mut json = serde_json::to_vec_pretty(self).expect("checkpoints serialize");
        json.push(b'\n');
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn fingerprint_detects_replacement_and_shrink_but_not_append() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![b'a'; 10_000]).unwrap();
        let fp = Fingerprint::of(&mut f, 9_000).unwrap();
        assert!(fp.matches(&mut f).unwrap());
        f.write_all(b"more").unwrap();
        assert!(
            fp.matches(&mut f).unwrap(),
            "appending keeps the fingerprint"
        );
        f.set_len(8_000).unwrap();
        assert!(!fp.matches(&mut f).unwrap(), "shrinking breaks it");
        f.set_len(10_000).unwrap();
        f.seek(SeekFrom::Start(8_990)).unwrap();
        f.write_all(b"X").unwrap();
        assert!(
            !fp.matches(&mut f).unwrap(),
            "a change before the offset breaks it"
        );
    }

    #[test]
    fn fingerprint_of_empty_prefix() {
        let mut f = tempfile::tempfile().unwrap();
        let fp = Fingerprint::of(&mut f, 0).unwrap();
        assert!(fp.matches(&mut f).unwrap());
    }

    #[test]
    fn checkpoint_round_trips_through_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("2026-01-01.json");
        assert_eq!(Checkpoint::load(&path).unwrap(), None);
        let cp = Checkpoint {
            version: CHECKPOINT_VERSION,
            raw_file: "2026-01-01.jsonl".into(),
            offset: 10,
            line: 2,
            last_msg_id: Some("12345678901234567890".into()),
            last_create_time: Some(1),
            clock: Some(1),
            fingerprint: Fingerprint {
                len: 10,
                head: "0".into(),
                tail: "1".into(),
            },
            stat: None,
            status: Status::Partial,
            error: None,
            counts: Counts::default(),
            rejects_bytes: 0,
            updated_at: "now".into(),
        };
        cp.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(cp));
        std::fs::write(&path, "{").unwrap();
        let err = Checkpoint::load(&path).unwrap_err();
        assert!(err.to_string().contains("2026-01-01.json"), "{err}");
    }
}
