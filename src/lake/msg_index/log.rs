//! A run's additions to the msg_id index, appended as it goes and made durable before each
//! publish.
//!
//! Appending and `fdatasync` costs one sync per commit, where a new sorted segment per commit
//! would cost a file, a rename and a directory sync. A crash can leave a torn last entry (ignored
//! on reading) or entries of rows never published (harmless: the index may over-state, see the
//! parent module), never a missing entry of a published row, because the sync comes first.
//!
//! Layout: the magic `WXLKLOG1`, then 12-byte entries (hash u64, day i32, little-endian).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Entry;
use crate::error::{Error, Result};
use crate::fsutil::fsync_dir;

const MAGIC: &[u8; 8] = b"WXLKLOG1";
const ENTRY: usize = 12;

/// This run's log, open for appending.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    entries: usize,
    /// Whether the directory entry is known durable.
    named: bool,
    /// Whether something was appended since the last sync.
    unsynced: bool,
}

impl LogWriter {
    /// Create the log at `path` (a new name); the first [`LogWriter::sync`] makes it durable.
    pub fn create(path: &Path) -> Result<LogWriter> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(super::FILE_MODE)
            .open(path)
            .map_err(|e| Error::io("create", path, e))?;
        file.write_all(MAGIC)
            .map_err(|e| Error::io("write", path, e))?;
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            entries: 0,
            named: false,
            unsynced: false,
        })
    }

    /// Append `entries` (not yet durable: see [`LogWriter::sync`]).
    pub fn append(&mut self, entries: &[Entry]) -> Result<()> {
        let mut buf = Vec::with_capacity(entries.len() * ENTRY);
        for e in entries {
            buf.extend_from_slice(&e.hash.to_le_bytes());
            buf.extend_from_slice(&e.day.to_le_bytes());
        }
        self.file
            .write_all(&buf)
            .map_err(|e| Error::io("write", &self.path, e))?;
        self.entries += entries.len();
        self.unsynced |= !entries.is_empty();
        Ok(())
    }

    /// Make everything appended durable (and the log's name, the first time).
    pub fn sync(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io("sync", &self.path, e))?;
        if !self.named {
            fsync_dir(self.path.parent().unwrap_or(Path::new(".")))?;
            self.named = true;
        }
        self.unsynced = false;
        Ok(())
    }

    /// Whether entries were appended since the last [`LogWriter::sync`].
    pub fn is_unsynced(&self) -> bool {
        self.unsynced
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }
}

/// The entries of the log at `path` (a torn last entry is dropped).
pub fn read(path: &Path) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    read_into(path, &mut entries)?;
    Ok(entries)
}

/// Append the entries of the log at `path` to `out`, reading it in pieces (a run's log can
/// hold millions of entries).
pub fn read_into(path: &Path, out: &mut Vec<Entry>) -> Result<()> {
    if let Ok(meta) = std::fs::metadata(path) {
        out.reserve((meta.len() as usize).saturating_sub(MAGIC.len()) / ENTRY);
    }
    for_each(path, |e| out.push(e))
}

/// Call `f` with each entry of the log at `path`, in order, reading it in pieces (a torn last
/// entry is dropped).
pub fn for_each(path: &Path, mut f: impl FnMut(Entry)) -> Result<()> {
    use std::io::Read;
    let not_a_log = || Error::data(path, "not a msg_id index log: no WXLKLOG1 header");
    let mut file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut filled = 0;
    let mut header = true;
    loop {
        let n = file
            .read(&mut buf[filled..])
            .map_err(|e| Error::io("read", path, e))?;
        filled += n;
        let mut start = 0;
        if header {
            if filled < MAGIC.len() {
                if n == 0 {
                    return Err(not_a_log());
                }
                continue;
            }
            if &buf[..MAGIC.len()] != MAGIC {
                return Err(not_a_log());
            }
            header = false;
            start = MAGIC.len();
        }
        let whole = start + (filled - start) / ENTRY * ENTRY;
        decode_entries(&buf[start..whole]).for_each(&mut f);
        buf.copy_within(whole..filled, 0);
        filled -= whole;
        if n == 0 {
            return Ok(()); // a torn last entry is what remains
        }
    }
}

fn decode_entries(bytes: &[u8]) -> impl Iterator<Item = Entry> + '_ {
    bytes.chunks_exact(ENTRY).map(|c| Entry {
        hash: u64::from_le_bytes(c[..8].try_into().expect("8 bytes")),
        day: i32::from_le_bytes(c[8..].try_into().expect("4 bytes")),
    })
}

#[cfg(test)]
fn decode(bytes: &[u8]) -> Option<Vec<Entry>> {
    let body = bytes.strip_prefix(MAGIC.as_slice())?;
    Some(decode_entries(body).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_entries_read_back_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log-test.log");
        let mut log = LogWriter::create(&path).unwrap();
        let entries = [
            Entry { hash: 1, day: 2 },
            Entry {
                hash: u64::MAX,
                day: -1,
            },
        ];
        log.append(&entries).unwrap();
        log.append(&entries[..1]).unwrap();
        log.sync().unwrap();
        assert_eq!(log.len(), 3);
        let back = read(&path).unwrap();
        assert_eq!(back, [entries[0], entries[1], entries[0]]);
        // A crash in the middle of an append: the partial entry is not an entry.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&[7, 7, 7]);
        assert_eq!(decode(&bytes).unwrap().len(), 3);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read(&path).unwrap().len(), 3);
        // Many entries, across read pieces, with a torn tail.
        let many: Vec<Entry> = (0..20_000)
            .map(|i| Entry {
                hash: i * 7,
                day: i as i32,
            })
            .collect();
        let path2 = dir.path().join("log-many.log");
        let mut log = LogWriter::create(&path2).unwrap();
        log.append(&many).unwrap();
        drop(log);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path2)
            .unwrap();
        f.write_all(&[1, 2, 3, 4, 5]).unwrap();
        assert_eq!(read(&path2).unwrap(), many);
        std::fs::write(&path2, b"WXLK").unwrap();
        assert!(read(&path2).is_err());
        assert!(decode(b"WXLKLOG0").is_none());
        assert_eq!(decode(MAGIC).unwrap(), []);
        // A second run never reuses a name.
        assert!(LogWriter::create(&path).is_err());
    }
}
