//! A run's additions to the msg_id index, appended as it goes and made durable before each
//! publish.
//!
//! Appending and `fdatasync` costs one sync per commit, where a new sorted segment per commit
//! would cost a file, a rename and a directory sync. A crash can leave a torn last entry (ignored
//! on reading) or entries of rows never published (harmless: the index may over-state, see the
//! parent module), never a missing entry of a published row, because the sync comes first.
//!
//! Layout: the magic `WXLKLOG1`, then 12-byte entries (hash u64, day i32, little-endian). The
//! log is written around the page cache where the file system allows ([`crate::direct_file`]:
//! a backfill's log is tens of megabytes, which cost the deciding thread ~2% of a two-year
//! backfill's samples in fresh cache pages, and is read once, at the end of the run). A direct
//! write covers whole blocks, so each append rewrites the last partial block with the new
//! entries after it and pads the file with zeros to a block's end; the next append overwrites
//! the padding. Readers skip an all-zero entry: day 0 (0000-12-31) is no partition's day, as
//! a message's time is after 1970.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::Entry;
use super::upkeep::HashCounts;
use crate::direct_file::{self, AlignedBlock};
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
    /// Bytes of the log so far (a directly written file is longer: zero padding).
    end: u64,
    /// Direct appends: the alignment, and the block holding the log's last partial block.
    direct: Option<(usize, AlignedBlock)>,
    /// Entries encoded for an append.
    encoded: Vec<u8>,
    /// The entries appended, counted for the sort that folds the log.
    counts: HashCounts,
}

impl LogWriter {
    /// Create the log at `path` (a new name); the first [`LogWriter::sync`] makes it durable.
    pub fn create(path: &Path) -> Result<LogWriter> {
        Self::create_with(path, true)
    }

    /// [`LogWriter::create`], through the page cache whatever the file system if not `try_direct`.
    fn create_with(path: &Path, try_direct: bool) -> Result<LogWriter> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(super::FILE_MODE)
            .open(path)
            .map_err(|e| Error::io("create", path, e))?;
        let direct = try_direct
            .then(|| direct_file::try_direct(&file))
            .flatten()
            .map(|align| (align, AlignedBlock::take()));
        let mut log = LogWriter {
            path: path.to_path_buf(),
            file,
            entries: 0,
            named: false,
            unsynced: false,
            end: 0,
            direct,
            encoded: Vec::new(),
            counts: HashCounts::default(),
        };
        log.write(MAGIC).map_err(|e| Error::io("write", path, e))?;
        Ok(log)
    }

    /// Append `entries` (not yet durable: see [`LogWriter::sync`]).
    pub fn append(&mut self, entries: &[Entry]) -> Result<()> {
        let mut encoded = std::mem::take(&mut self.encoded);
        encoded.clear();
        for e in entries {
            encoded.extend_from_slice(&e.hash.to_le_bytes());
            encoded.extend_from_slice(&e.day.to_le_bytes());
        }
        let written = self.write(&encoded);
        if written.is_ok() {
            entries.iter().for_each(|e| self.counts.add(e.hash));
        }
        self.encoded = encoded;
        written.map_err(|e| Error::io("write", &self.path, e))?;
        self.entries += entries.len();
        self.unsynced |= !entries.is_empty();
        Ok(())
    }

    /// Write `bytes` at the log's end.
    fn write(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let Some((align, block)) = self.direct.as_mut() else {
            self.file.write_all_at(bytes, self.end)?;
            self.end += bytes.len() as u64;
            return Ok(());
        };
        let align = *align;
        let block = block.bytes();
        while !bytes.is_empty() {
            // `block` holds the log's bytes from the last aligned offset on.
            let kept = (self.end % align as u64) as usize;
            let start = self.end - kept as u64;
            let n = bytes.len().min(block.len() - kept);
            block[kept..kept + n].copy_from_slice(&bytes[..n]);
            let filled = kept + n;
            let padded = filled.next_multiple_of(align);
            block[filled..padded].fill(0);
            direct_file::write_at(&self.file, &block[..padded], start)?;
            self.end += n as u64;
            bytes = &bytes[n..];
            let whole = filled / align * align;
            block.copy_within(whole..filled, 0);
        }
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

    /// The entries appended, counted by hash (see [`HashCounts`]).
    pub fn counts(&self) -> &HashCounts {
        &self.counts
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

/// Call `f` with each entry of the log at `path`, in order, reading it in pieces around the
/// page cache where the file system allows (a torn last entry and all-zero padding are
/// dropped).
pub fn for_each(path: &Path, mut f: impl FnMut(Entry)) -> Result<()> {
    let not_a_log = || Error::data(path, "not a msg_id index log: no WXLKLOG1 header");
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let _ = direct_file::try_direct(&file);
    let mut block = AlignedBlock::take();
    let buf = block.bytes();
    // An entry split between two pieces: its first bytes.
    let mut carry = [0u8; ENTRY];
    let mut carried = 0;
    let mut offset = 0u64;
    loop {
        // A full block at a time, so that offsets stay aligned; a short read is the end.
        let mut got = 0;
        while got < buf.len() {
            let n = direct_file::read_at(&file, &mut buf[got..], offset + got as u64)
                .map_err(|e| Error::io("read", path, e))?;
            if n == 0 {
                break;
            }
            got += n;
        }
        let mut piece = &buf[..got];
        if offset == 0 {
            if piece.len() < MAGIC.len() || &piece[..MAGIC.len()] != MAGIC {
                // A crash before the log's first sync can leave it empty or zero-filled: it
                // never held a synced entry, so it holds none (instead of a rebuild of the
                // whole index).
                if got < buf.len() && piece.iter().all(|&b| b == 0) {
                    return Ok(());
                }
                return Err(not_a_log());
            }
            piece = &piece[MAGIC.len()..];
        }
        if carried > 0 {
            let n = (ENTRY - carried).min(piece.len());
            carry[carried..carried + n].copy_from_slice(&piece[..n]);
            carried += n;
            piece = &piece[n..];
            if carried == ENTRY {
                decode_entries(&carry).for_each(&mut f);
                carried = 0;
            }
        }
        let whole = piece.len() / ENTRY * ENTRY;
        decode_entries(&piece[..whole]).for_each(&mut f);
        let rest = &piece[whole..];
        carry[carried..carried + rest.len()].copy_from_slice(rest);
        carried += rest.len();
        if got < buf.len() {
            return Ok(()); // a torn last entry is what is carried
        }
        offset += got as u64;
    }
}

/// The entries of `bytes`, whole entries only, padding (all-zero entries) left out.
fn decode_entries(bytes: &[u8]) -> impl Iterator<Item = Entry> + '_ {
    bytes
        .chunks_exact(ENTRY)
        .map(|c| Entry {
            hash: u64::from_le_bytes(c[..8].try_into().expect("8 bytes")),
            day: i32::from_le_bytes(c[8..].try_into().expect("4 bytes")),
        })
        .filter(|e| *e != PADDING)
}

/// What a directly written log's unwritten tail reads as.
const PADDING: Entry = Entry { hash: 0, day: 0 };

#[cfg(test)]
fn decode(bytes: &[u8]) -> Option<Vec<Entry>> {
    let body = bytes.strip_prefix(MAGIC.as_slice())?;
    Some(decode_entries(body).collect())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

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
        let many: Vec<Entry> = (1..20_000)
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
        // What a crash before the first sync can leave: no entries, not a broken log.
        std::fs::write(&path2, b"").unwrap();
        assert_eq!(read(&path2).unwrap(), []);
        std::fs::write(&path2, [0u8; 4096]).unwrap();
        assert_eq!(read(&path2).unwrap(), []);
        std::fs::write(&path2, [0u8, 0, 0, 0, 0, 0, 0, 1]).unwrap();
        assert!(read(&path2).is_err());
        assert!(decode(b"WXLKLOG0").is_none());
        assert_eq!(decode(MAGIC).unwrap(), []);
        // A second run never reuses a name.
        assert!(LogWriter::create(&path).is_err());
    }

    fn entries(from: u64, n: u64) -> Vec<Entry> {
        (from..from + n)
            .map(|i| Entry {
                hash: i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                day: 739_000 + (i % 700) as i32,
            })
            .collect()
    }

    #[test]
    fn appends_of_every_size_read_back_exactly_written_directly_or_through_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        for try_direct in [true, false] {
            let path = dir.path().join(format!("log-{try_direct}.log"));
            let mut log = LogWriter::create_with(&path, try_direct).unwrap();
            let mut all = Vec::new();
            // Sizes around the alignment (341 entries fill 4 KiB) and past a whole block
            // (87,382 entries fill 1 MiB), each followed by a sync as a commit does.
            for (k, n) in [1u64, 340, 341, 342, 0, 5, 87_381, 87_383, 3, 200_000, 1]
                .into_iter()
                .enumerate()
            {
                let more = entries(1 + all.len() as u64, n);
                log.append(&more).unwrap();
                all.extend(more);
                if k % 2 == 0 {
                    log.sync().unwrap();
                }
                assert_eq!(
                    read(&path).unwrap(),
                    all,
                    "after {n} more, direct: {try_direct}"
                );
            }
            log.sync().unwrap();
            assert_eq!(log.len(), all.len());
            let len = std::fs::metadata(&path).unwrap().len();
            let exact = (MAGIC.len() + all.len() * ENTRY) as u64;
            if log.direct.is_some() {
                assert!(
                    len >= exact && len.is_multiple_of(512),
                    "padded to a block: {len}"
                );
            } else {
                assert_eq!(len, exact);
            }
        }
    }

    /// A log's bytes as written through the cache: the magic, then the entries.
    fn log_bytes(entries: &[Entry]) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        for e in entries {
            bytes.extend_from_slice(&e.hash.to_le_bytes());
            bytes.extend_from_slice(&e.day.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn zero_padding_and_a_torn_entry_after_it_are_not_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log-padded.log");
        let want = entries(1, 1000);
        let mut bytes = log_bytes(&want);
        // What a crash after a direct append leaves: padding to the block's end, and a next
        // append's entries whose first block never reached the disk.
        bytes.resize(bytes.len().next_multiple_of(4096), 0);
        bytes.extend_from_slice(&[9; 7]);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read(&path).unwrap(), want);
    }

    /// A crash can leave a hole of zeros inside unsynced entries (a block of a large write that
    /// never reached the disk while later ones did). Every entry outside the hole still reads
    /// back, in order; at most the two entries cut by the hole's edges read as made-up entries,
    /// which the index tolerates (a hit is always confirmed against the partition).
    #[test]
    fn a_hole_of_zeros_loses_only_the_entries_it_covers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log-hole.log");
        let want = entries(1, 2000);
        let bytes = log_bytes(&want);
        for hole_start in [4096usize, 8192, 12_288 + 4, 16_000] {
            let hole = hole_start..hole_start + 4096;
            let mut holed = bytes.clone();
            holed[hole.clone()].fill(0);
            std::fs::write(&path, &holed).unwrap();
            let back = read(&path).unwrap();
            let outside: Vec<Entry> = want
                .iter()
                .enumerate()
                .filter(|(i, _)| {
                    let at = MAGIC.len() + i * ENTRY;
                    at + ENTRY <= hole.start || at >= hole.end
                })
                .map(|(_, e)| *e)
                .collect();
            let mut kept = back.iter().filter(|e| want.contains(e));
            assert!(
                outside.iter().all(|e| kept.any(|k| k == e)),
                "hole {hole:?}: an entry outside it is missing or out of order"
            );
            let made_up = back.iter().filter(|e| !want.contains(e)).count();
            assert!(made_up <= 2, "hole {hole:?}: {made_up} made-up entries");
            assert!(back.len() <= outside.len() + 2, "hole {hole:?}");
        }
    }
}
