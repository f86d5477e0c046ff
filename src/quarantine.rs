//! The quarantine: every rejected raw line, kept losslessly with where it came from and why.
//!
//! One JSONL file per raw file under `metadata/rejects/`. Each entry names the raw file, line
//! number, byte offset, reason, and the original bytes: as `raw` text when they are UTF-8, else as
//! `raw_base64`. Exactly-once across crashes: the checkpoint records the quarantine's length, and
//! a run first cuts the file back to that length, dropping entries of an interrupted run that
//! it is about to write again.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::fsutil::{create_dir_all_durable, fsync_dir};
use crate::normalize::Reject;

/// One quarantined line.
#[derive(Debug, Serialize)]
pub struct RejectEntry<'a> {
    pub raw_file: &'a str,
    pub line: u64,
    pub offset: u64,
    pub code: &'static str,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_base64: Option<String>,
}

impl<'a> RejectEntry<'a> {
    pub fn new(
        raw_file: &'a str,
        line: u64,
        offset: u64,
        reject: &Reject,
        bytes: &'a [u8],
    ) -> Self {
        let (raw, raw_base64) = match std::str::from_utf8(bytes) {
            Ok(text) => (Some(text), None),
            Err(_) => (None, Some(base64(bytes))),
        };
        RejectEntry {
            raw_file,
            line,
            offset,
            code: reject.code(),
            reason: reject.to_string(),
            raw,
            raw_base64,
        }
    }
}

/// Entries held in memory before they are written to the file: most raw files have a few
/// rejects or none, and creating their files is left to [`Quarantine::finish_deferred`], which
/// ingest calls on its checkpoint thread, not on the thread that decides rows in file order
/// (on a two-year backfill, creating 730 quarantine files there was ~1.5% of its samples).
const HOLD_MAX: usize = 1 << 20;

/// An open quarantine file of one raw file.
pub struct Quarantine {
    path: PathBuf,
    out: Option<File>,
    /// Entries not written yet.
    held: Vec<u8>,
    len: u64,
}

impl Quarantine {
    /// Open the quarantine at `path`, cutting it back to `committed_len` bytes (what the last
    /// checkpoint covered). The file is only created once there is something to write.
    pub fn open(path: &Path, committed_len: u64) -> Result<Self> {
        let len = match std::fs::metadata(path) {
            Ok(m) if m.len() > committed_len => {
                let f = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| Error::io("open quarantine", path, e))?;
                f.set_len(committed_len)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| Error::io("truncate quarantine", path, e))?;
                tracing::info!(path = %path.display(), "dropped quarantine entries of an interrupted run");
                committed_len
            }
            Ok(m) => m.len(),
            Err(_) => 0,
        };
        Ok(Quarantine {
            path: path.to_path_buf(),
            out: None,
            held: Vec::new(),
            len,
        })
    }

    /// Open the quarantine of a raw file that is read again from the start because it was
    /// replaced: the old entries are moved aside to `aside` (they describe the old content), so
    /// the lines of the new content are quarantined once. Repeatable after a crash: when `aside`
    /// already exists, the current file only holds entries of the interrupted run and is emptied.
    pub fn open_replaced(path: &Path, aside: &Path) -> Result<Self> {
        if path.exists() && !aside.exists() {
            std::fs::rename(path, aside).map_err(|e| Error::io("move aside", path, e))?;
            if let Some(dir) = path.parent() {
                fsync_dir(dir)?;
            }
            tracing::info!(old = %aside.display(), "kept the quarantine of the raw file's previous content aside");
        }
        Quarantine::open(path, 0)
    }

    /// Append one entry (held in memory until there is a megabyte of them, or the end).
    pub fn push(&mut self, entry: &RejectEntry<'_>) -> Result<()> {
        let before = self.held.len();
        serde_json::to_writer(&mut self.held, entry).expect("reject entries serialize");
        self.held.push(b'\n');
        self.len += (self.held.len() - before) as u64;
        if self.held.len() >= HOLD_MAX {
            self.write_held()?;
        }
        Ok(())
    }

    /// Write the entries held, creating the file (and its directory) the first time.
    fn write_held(&mut self) -> Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        let out = match &mut self.out {
            Some(out) => out,
            None => {
                if let Some(dir) = self.path.parent() {
                    create_dir_all_durable(dir)?;
                }
                use std::os::unix::fs::OpenOptionsExt;
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(crate::fsutil::file_mode())
                    .open(&self.path)
                    .map_err(|e| Error::io("open quarantine", &self.path, e))?;
                self.out.insert(f)
            }
        };
        out.write_all(&self.held)
            .map_err(|e| Error::io("write quarantine", &self.path, e))?;
        self.held.clear();
        Ok(())
    }

    /// Make everything durable; returns the quarantine's length for the checkpoint.
    pub fn finish(self) -> Result<u64> {
        let mut syncs = crate::fsutil::DirSyncs::default();
        let len = self.finish_deferred(&mut syncs)?;
        syncs.sync()?;
        Ok(len)
    }

    /// [`finish`](Self::finish), the fsync of the directory put off into `syncs`.
    pub fn finish_deferred(mut self, syncs: &mut crate::fsutil::DirSyncs) -> Result<u64> {
        self.write_held()?;
        if let Some(f) = &self.out {
            f.sync_all()
                .map_err(|e| Error::io("fsync quarantine", &self.path, e))?;
            // The file may be new: make its directory entry durable too.
            if let Some(dir) = self.path.parent() {
                syncs.add(dir);
            }
        }
        Ok(self.len)
    }

    /// Its length in bytes with every entry pushed so far: what the checkpoint records.
    pub fn bytes(&self) -> u64 {
        self.len
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, want) in cases {
            assert_eq!(base64(plain.as_bytes()), want);
        }
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
    }

    #[test]
    fn invalid_utf8_is_kept_as_base64() {
        let e = RejectEntry::new("f.jsonl", 3, 40, &Reject::InvalidUtf8(1), b"a\xff");
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains(r#""raw_base64":"Yf8=""#), "{json}");
        assert!(!json.contains(r#""raw":"#), "{json}");
    }

    #[test]
    fn reopening_cuts_back_to_the_committed_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rejects/2026-01-01.jsonl");
        let reject = Reject::TrailingData;
        let mut q = Quarantine::open(&path, 0).unwrap();
        q.push(&RejectEntry::new("r", 1, 0, &reject, b"x")).unwrap();
        let committed = q.finish().unwrap();
        let mut q = Quarantine::open(&path, committed).unwrap();
        q.push(&RejectEntry::new("r", 2, 2, &reject, b"y")).unwrap();
        q.finish().unwrap(); // a crash before the checkpoint: this entry is not committed
        let mut q = Quarantine::open(&path, committed).unwrap();
        q.push(&RejectEntry::new("r", 2, 2, &reject, b"y")).unwrap();
        q.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
    }

    #[test]
    fn entries_are_held_until_finish_unless_they_pass_a_megabyte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rejects/2026-01-01.jsonl");
        let reject = Reject::TrailingData;
        let mut q = Quarantine::open(&path, 0).unwrap();
        q.push(&RejectEntry::new("r", 1, 0, &reject, b"x")).unwrap();
        assert!(!path.exists(), "a few rejects: the file is made at the end");
        let held = q.bytes();
        let committed = q.finish().unwrap();
        assert_eq!(committed, held);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), committed);

        let mut q = Quarantine::open(&path, committed).unwrap();
        let big = vec![b'y'; 4096];
        let mut pushed = 0;
        while std::fs::metadata(&path).unwrap().len() == committed {
            q.push(&RejectEntry::new("r", 2 + pushed, 2, &reject, &big))
                .unwrap();
            pushed += 1;
            assert!(pushed < 1000, "never written while held past a megabyte");
        }
        assert_eq!(std::fs::metadata(&path).unwrap().len(), q.bytes());
        q.push(&RejectEntry::new("r", 9999, 2, &reject, b"z"))
            .unwrap();
        let len = q.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len() as u64, len);
        assert_eq!(text.lines().count() as u64, 1 + pushed + 1);
    }
}
