//! Reading a raw JSONL file from a byte offset, in chunks of complete lines.
//!
//! Guarantees: every byte before the returned end offset belongs to a complete line that was
//! handed out exactly once; a UTF-8 BOM at the very start of the file is skipped; line numbers are
//! 1-based and count every line, blank ones included. A last line without a trailing newline is
//! handed out only when the caller says the file is closed (an earlier day's file); otherwise it
//! is a write in progress and is left for the next run.
//!
//! A line is at most [`DEFAULT_MAX_LINE`] bytes (configurable): a longer one is never held in
//! memory. It is read past and handed out as an [`OversizedLine`] (where it starts, how long it
//! is, its first bytes), so memory stays bounded by the chunk size plus the maximum whatever the
//! file holds — a 2 GB file without a newline included.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The longest line read into memory (64 MiB).
pub const DEFAULT_MAX_LINE: usize = 64 << 20;

/// How many leading bytes of an oversized line are kept (for the quarantine).
const OVERSIZED_HEAD: usize = 256;

/// A line longer than the maximum: read past, described instead of held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OversizedLine {
    pub number: u64,
    pub offset: u64,
    /// Its length in bytes, without the newline.
    pub len: u64,
    /// Its first bytes.
    pub head: Vec<u8>,
    /// The maximum it exceeded.
    pub max: u64,
}

/// A block of complete lines read from one raw file, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    /// The lines' bytes, each ending in `\n` except perhaps the file's closing line.
    pub data: &'a [u8],
    /// File offset of `data[0]`.
    pub start_offset: u64,
    /// Line number of the first line in `data`.
    pub first_line: u64,
    /// A line too long to hold that came just before `data` (its number is `first_line - 1`).
    pub oversized: Option<&'a OversizedLine>,
    /// The maximum line length: a line of `data` longer than this (read whole because it fit in
    /// one read) is to be treated like an [`OversizedLine`] all the same.
    pub max_line: usize,
}

/// One line of a [`Chunk`], without its `\n` (a CR before it is left to the normalizer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLine<'a> {
    pub number: u64,
    pub offset: u64,
    pub bytes: &'a [u8],
}

impl<'a> Chunk<'a> {
    /// The file offset just past this chunk.
    pub fn end_offset(&self) -> u64 {
        self.start_offset + self.data.len() as u64
    }

    /// Iterate over the lines.
    pub fn lines(&self) -> impl Iterator<Item = RawLine<'a>> + 'a {
        let data = self.data;
        let start_offset = self.start_offset;
        let mut pos = 0usize;
        let mut number = self.first_line;
        std::iter::from_fn(move || {
            if pos >= data.len() {
                return None;
            }
            let rest = &data[pos..];
            let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            let line = RawLine {
                number,
                offset: start_offset + pos as u64,
                bytes: &rest[..len],
            };
            pos += (len + 1).min(rest.len());
            number += 1;
            Some(line)
        })
    }

    /// Number of lines in the chunk.
    pub fn line_count(&self) -> u64 {
        let newlines = memchr::memchr_iter(b'\n', self.data).count() as u64;
        newlines + u64::from(self.data.last().is_some_and(|&b| b != b'\n'))
    }
}

/// Reads complete lines from `offset` on, reusing one buffer.
pub struct JsonlReader {
    file: File,
    /// `buf[..filled]` holds bytes read; `buf[..handed_out]` went out in the last chunk.
    buf: Vec<u8>,
    filled: usize,
    handed_out: usize,
    /// File offset of `buf[0]`.
    buf_offset: u64,
    next_line: u64,
    closed: bool,
    eof: bool,
    chunk_size: usize,
    max_line: usize,
    /// An oversized line read past, to go out with the next chunk.
    oversized: Option<OversizedLine>,
    /// The one that went out with the last borrowed chunk.
    last_oversized: Option<OversizedLine>,
    /// The first and the last (up to) [`SAMPLE`] bytes handed out since the start offset, so
    /// that a checkpoint's fingerprint describes the bytes processed, whatever the file holds
    /// by then (see [`crate::checkpoint::Fingerprint::of_bytes`]).
    seen: Seen,
}

/// Bytes sampled at each end of what was handed out.
#[derive(Debug, Clone, Default)]
struct Seen {
    head: Vec<u8>,
    tail: Vec<u8>,
}

/// How many bytes [`Seen`] keeps at each end.
const SAMPLE: usize = crate::checkpoint::SAMPLE as usize;

impl Seen {
    fn record(&mut self, bytes: &[u8]) {
        if self.head.len() < SAMPLE {
            let take = (SAMPLE - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
        }
        if bytes.len() >= SAMPLE {
            self.tail.clear();
            self.tail.extend_from_slice(&bytes[bytes.len() - SAMPLE..]);
        } else {
            self.tail.extend_from_slice(bytes);
            if self.tail.len() > 2 * SAMPLE {
                self.tail.drain(..self.tail.len() - SAMPLE);
            }
        }
    }

    fn tail(&self) -> &[u8] {
        &self.tail[self.tail.len().saturating_sub(SAMPLE)..]
    }
}

impl JsonlReader {
    /// Start reading `file` at `offset`, where `next_line` is the number of the line found there.
    /// `closed`: the file will not grow any more, so an unterminated last line is complete.
    pub fn new(mut file: File, mut offset: u64, next_line: u64, closed: bool) -> io::Result<Self> {
        let mut skipped_bom = false;
        if offset == 0 {
            let mut head = [0u8; 3];
            file.seek(SeekFrom::Start(0))?;
            let n = read_full(&mut file, &mut head)?;
            if head[..n] == *BOM {
                offset = BOM.len() as u64;
                skipped_bom = true;
            }
        }
        file.seek(SeekFrom::Start(offset))?;
        Ok(JsonlReader {
            file,
            buf: Vec::new(),
            filled: 0,
            handed_out: 0,
            buf_offset: offset,
            next_line,
            closed,
            eof: false,
            chunk_size: 4 << 20,
            max_line: DEFAULT_MAX_LINE,
            oversized: None,
            last_oversized: None,
            seen: Seen {
                head: if skipped_bom {
                    BOM.to_vec()
                } else {
                    Vec::new()
                },
                tail: if skipped_bom {
                    BOM.to_vec()
                } else {
                    Vec::new()
                },
            },
        })
    }

    /// The first and last (up to 4 KiB) bytes handed out since the start offset (a skipped BOM
    /// included).
    pub fn processed_sample(&self) -> (&[u8], &[u8]) {
        (&self.seen.head, self.seen.tail())
    }

    /// Lines longer than `max` bytes are read past and handed out as [`OversizedLine`]s.
    pub fn with_max_line(mut self, max: usize) -> Self {
        self.max_line = max.max(1);
        self
    }

    /// Read blocks of about `size` bytes (default 4 MiB; a longer line makes a longer chunk).
    pub fn with_chunk_size(mut self, size: usize) -> Self {
        self.chunk_size = size.max(1);
        self
    }

    /// The offset up to which lines have been handed out.
    pub fn offset(&self) -> u64 {
        self.buf_offset + self.handed_out as u64
    }

    /// The number the next line will get.
    pub fn next_line(&self) -> u64 {
        self.next_line
    }

    /// Whether unread bytes of an unterminated last line were left behind at end of file.
    pub fn has_held_back_tail(&self) -> bool {
        self.eof && self.filled > self.handed_out
    }

    /// The next chunk of complete lines, or `None` at the end.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk<'_>>> {
        let Some(end) = self.fill()? else {
            return Ok(None);
        };
        self.handed_out = end;
        self.last_oversized = self.oversized.take();
        self.seen.record(&self.buf[..end]);
        let chunk = Chunk {
            data: &self.buf[..end],
            start_offset: self.buf_offset,
            first_line: self.next_line,
            oversized: self.last_oversized.as_ref(),
            max_line: self.max_line,
        };
        self.next_line += chunk.line_count();
        Ok(Some(chunk))
    }

    /// Like [`next_chunk`](Self::next_chunk), but the chunk's bytes are handed over rather than
    /// lent, so another thread can work on them while this reader reads on. `spare` (a buffer
    /// of an earlier chunk, or empty) becomes the reader's buffer; only the start of an
    /// unfinished line is copied into it.
    pub fn next_owned_chunk(&mut self, mut spare: Vec<u8>) -> io::Result<Option<OwnedChunk>> {
        let Some(end) = self.fill()? else {
            return Ok(None);
        };
        self.seen.record(&self.buf[..end]);
        // Keep the spare's length: its bytes are initialized already, so refilling it does not
        // zero it again.
        let tail = self.filled - end;
        if spare.len() < tail {
            spare.resize(tail, 0);
        }
        spare[..tail].copy_from_slice(&self.buf[end..self.filled]);
        let mut data = std::mem::replace(&mut self.buf, spare);
        data.truncate(end);
        let chunk = OwnedChunk {
            data,
            start_offset: self.buf_offset,
            first_line: self.next_line,
            oversized: self.oversized.take(),
            max_line: self.max_line,
        };
        self.filled -= end;
        self.buf_offset += end as u64;
        self.next_line += chunk.chunk().line_count();
        Ok(Some(chunk))
    }

    /// Read until the buffer holds at least one complete line (or the closed file's tail, or an
    /// oversized line was read past); returns the end of the complete lines in `buf`, `None` at
    /// the end.
    fn fill(&mut self) -> io::Result<Option<usize>> {
        // Drop what the last chunk handed out; keep the start of an incomplete line.
        if self.handed_out > 0 {
            self.buf.copy_within(self.handed_out..self.filled, 0);
            self.filled -= self.handed_out;
            self.buf_offset += self.handed_out as u64;
            self.handed_out = 0;
        }
        loop {
            if self.eof {
                if self.closed && self.filled > 0 {
                    return Ok(Some(self.filled));
                }
                return Ok(if self.oversized.is_some() {
                    Some(0)
                } else {
                    None
                });
            }
            if self.buf.len() < self.filled + self.chunk_size {
                self.buf.resize(self.filled + self.chunk_size, 0);
            }
            let read_from = self.filled;
            let n = read_full(
                &mut self.file,
                &mut self.buf[read_from..read_from + self.chunk_size],
            )?;
            self.filled += n;
            if n == 0 {
                self.eof = true;
                continue;
            }
            if let Some(nl) = memchr::memrchr(b'\n', &self.buf[read_from..self.filled]) {
                return Ok(Some(read_from + nl + 1));
            }
            if self.filled > self.max_line {
                // The line at buf[0] is too long to hold: read past it.
                if !self.skip_oversized()? {
                    return Ok(None);
                }
                // Hand it out now, with the complete lines that followed it in the same read.
                let end = memchr::memrchr(b'\n', &self.buf[..self.filled]).map_or(0, |nl| nl + 1);
                return Ok(Some(end));
            }
        }
    }

    /// Read past the line that starts at `buf[0]` and is longer than the maximum, keeping only
    /// its first bytes; afterwards `buf` holds what follows its newline. Returns false when the
    /// file ends first in a file that may still grow: the line is a write in progress, left
    /// (unread) for the next run.
    fn skip_oversized(&mut self) -> io::Result<bool> {
        let start = self.buf_offset;
        let head = self.buf[..OVERSIZED_HEAD.min(self.filled)].to_vec();
        let seen_before = self.seen.clone();
        self.seen.record(&self.buf[..self.filled]);
        let mut len = self.filled as u64;
        let after = loop {
            let n = read_full(&mut self.file, &mut self.buf[..self.chunk_size])?;
            if n == 0 {
                self.eof = true;
                break None;
            }
            if let Some(nl) = memchr::memchr(b'\n', &self.buf[..n]) {
                len += nl as u64;
                self.seen.record(&self.buf[..nl + 1]);
                break Some((nl + 1, n));
            }
            self.seen.record(&self.buf[..n]);
            len += n as u64;
        };
        match after {
            Some((from, n)) => {
                self.buf.copy_within(from..n, 0);
                self.filled = n - from;
                self.buf_offset = start + len + 1;
            }
            None if self.closed => {
                self.filled = 0;
                self.buf_offset = start + len;
            }
            None => {
                // Not processed after all: the samples are those from before it.
                self.seen = seen_before;
                // Keep the line's start so the offset and the held-back tail stay right.
                self.buf[..head.len()].copy_from_slice(&head);
                self.filled = head.len();
                self.buf_offset = start;
                return Ok(false);
            }
        }
        self.oversized = Some(OversizedLine {
            number: self.next_line,
            offset: start,
            len,
            head,
            max: self.max_line as u64,
        });
        self.next_line += 1;
        Ok(true)
    }
}

/// A chunk whose bytes belong to the caller (see [`JsonlReader::next_owned_chunk`]).
#[derive(Debug)]
pub struct OwnedChunk {
    pub data: Vec<u8>,
    pub start_offset: u64,
    pub first_line: u64,
    pub oversized: Option<OversizedLine>,
    pub max_line: usize,
}

impl OwnedChunk {
    /// The chunk as a borrowed [`Chunk`].
    pub fn chunk(&self) -> Chunk<'_> {
        Chunk {
            data: &self.data,
            start_offset: self.start_offset,
            first_line: self.first_line,
            oversized: self.oversized.as_ref(),
            max_line: self.max_line,
        }
    }
}

fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut total = 0;
    while total < buf.len() {
        match file.read(&mut buf[total..]) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// (line number, offset, bytes) of each line, then the end offset and next line number.
    type ReadBack = (Vec<(u64, u64, Vec<u8>)>, u64, u64);

    fn read_all(content: &[u8], offset: u64, closed: bool, chunk: usize) -> ReadBack {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(content).unwrap();
        let mut r = JsonlReader::new(f, offset, 1, closed)
            .unwrap()
            .with_chunk_size(chunk);
        let mut lines = Vec::new();
        while let Some(c) = r.next_chunk().unwrap() {
            lines.extend(c.lines().map(|l| (l.number, l.offset, l.bytes.to_vec())));
        }
        (lines, r.offset(), r.next_line())
    }

    /// Lines as (number, offset, bytes), oversized ones as (number, offset, "<len>") — then the
    /// end offset, the next line number and whether a tail was held back.
    fn read_bounded(
        content: &[u8],
        closed: bool,
        chunk: usize,
        max: usize,
    ) -> (Vec<(u64, u64, String)>, u64, u64, bool) {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(content).unwrap();
        let mut r = JsonlReader::new(f, 0, 1, closed)
            .unwrap()
            .with_chunk_size(chunk)
            .with_max_line(max);
        let mut out = Vec::new();
        loop {
            let owned = r.next_owned_chunk(Vec::new()).unwrap();
            let Some(c) = owned else { break };
            if let Some(long) = &c.oversized {
                assert!(long.head.len() <= OVERSIZED_HEAD);
                assert!(content[long.offset as usize..].starts_with(&long.head));
                out.push((long.number, long.offset, format!("<{}>", long.len)));
            }
            for l in c.chunk().lines() {
                let text = if l.bytes.len() > c.max_line {
                    format!("<{}>", l.bytes.len())
                } else {
                    String::from_utf8_lossy(l.bytes).into_owned()
                };
                out.push((l.number, l.offset, text));
            }
        }
        (out, r.offset(), r.next_line(), r.has_held_back_tail())
    }

    /// Issue 11, item 7: a line without end was held in memory whole (2 GB of RSS).
    #[test]
    fn regression_unbounded_lines_are_read_past_not_held() {
        let long = "x".repeat(1000);
        let content = format!("a\n{long}\nb\n{long}\n{long}\nc\n");
        for chunk in [7, 64, 300, 4096] {
            let (lines, end, next, held) = read_bounded(content.as_bytes(), false, chunk, 100);
            let want = vec![
                (1, 0, "a".to_string()),
                (2, 2, "<1000>".to_string()),
                (3, 1003, "b".to_string()),
                (4, 1005, "<1000>".to_string()),
                (5, 2006, "<1000>".to_string()),
                (6, 3007, "c".to_string()),
            ];
            assert_eq!(lines, want, "chunk {chunk}");
            assert_eq!(
                (end, next, held),
                (content.len() as u64, 7, false),
                "chunk {chunk}"
            );
        }
        // An unterminated long last line: a write in progress unless the file is closed.
        let content = format!("a\n{long}");
        let (lines, end, next, held) = read_bounded(content.as_bytes(), false, 64, 100);
        assert_eq!((lines.len(), end, next, held), (1, 2, 2, true));
        let (lines, end, next, held) = read_bounded(content.as_bytes(), true, 64, 100);
        assert_eq!(lines[1], (2, 2, "<1000>".to_string()));
        assert_eq!((end, next, held), (content.len() as u64, 3, false));
        // At the limit exactly, a line is an ordinary line.
        let line = "y".repeat(100);
        let (lines, _, _, _) = read_bounded(format!("{line}\n").as_bytes(), false, 16, 100);
        assert_eq!(lines, vec![(1, 0, line)]);
    }

    #[test]
    fn splits_lines_across_chunk_sizes() {
        let content = b"\xEF\xBB\xBF{\"a\":1}\r\n\n{\"b\":22}\nlast";
        for chunk in [1, 2, 3, 7, 64, 1 << 20] {
            let (lines, end, next) = read_all(content, 0, false, chunk);
            let want: Vec<(u64, u64, Vec<u8>)> = vec![
                (1, 3, b"{\"a\":1}\r".to_vec()),
                (2, 12, b"".to_vec()),
                (3, 13, b"{\"b\":22}".to_vec()),
            ];
            assert_eq!(lines, want, "chunk size {chunk}");
            assert_eq!(end, 22, "unterminated tail is left for later");
            assert_eq!(next, 4);
        }
    }

    #[test]
    fn closed_file_hands_out_its_unterminated_tail() {
        let (lines, end, next) = read_all(b"x\nlast", 0, true, 3);
        assert_eq!(lines.last().unwrap(), &(2, 2, b"last".to_vec()));
        assert_eq!((end, next), (6, 3));
    }

    #[test]
    fn resumes_at_an_offset_without_bom_logic() {
        let content = b"aa\nbb\ncc\n";
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(content).unwrap();
        let mut r = JsonlReader::new(f, 3, 2, false).unwrap();
        let c = r.next_chunk().unwrap().unwrap();
        let lines: Vec<_> = c.lines().map(|l| (l.number, l.offset, l.bytes)).collect();
        assert_eq!(lines, vec![(2, 3, &b"bb"[..]), (3, 6, &b"cc"[..])]);
        assert!(r.next_chunk().unwrap().is_none());
        assert!(!r.has_held_back_tail());
    }

    #[test]
    fn bom_only_counts_at_file_start() {
        let (lines, _, _) = read_all(b"a\n\xEF\xBB\xBFb\n", 0, false, 64);
        assert_eq!(lines[1].2, b"\xEF\xBB\xBFb".to_vec());
    }
}

#[cfg(test)]
mod properties {
    use std::io::Write;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the chunk size, the lines handed out are exactly the complete lines of the
        /// file, in order, with their offsets; an unterminated tail is held back unless closed.
        #[test]
        fn lines_and_offsets_match_the_file(
            content in prop::collection::vec(prop_oneof![Just(b'\n'), Just(b'x'), Just(b'\r'), any::<u8>()], 0..300),
            chunk in 1usize..64,
            closed in any::<bool>(),
            owned in any::<bool>(),
        ) {
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(&content).unwrap();
            let mut r = JsonlReader::new(f, 0, 1, closed).unwrap().with_chunk_size(chunk);
            let start = if content.starts_with(BOM) { BOM.len() } else { 0 };
            let mut rebuilt = Vec::new();
            let mut expected_line = 1;
            let mut spare = Vec::new();
            let mut next = |r: &mut JsonlReader| -> Option<Vec<(u64, u64, Vec<u8>)>> {
                let collect = |c: Chunk<'_>| c.lines().map(|l| (l.number, l.offset, l.bytes.to_vec())).collect();
                if owned {
                    let c = r.next_owned_chunk(std::mem::take(&mut spare)).unwrap()?;
                    let lines = collect(c.chunk());
                    spare = c.data;
                    Some(lines)
                } else {
                    r.next_chunk().unwrap().map(collect)
                }
            };
            while let Some(lines) = next(&mut r) {
                for (number, offset, bytes) in lines {
                    let line = RawLine { number, offset, bytes: &bytes };
                    prop_assert_eq!(line.number, expected_line);
                    prop_assert_eq!(line.offset as usize, start + rebuilt.len());
                    expected_line += 1;
                    rebuilt.extend_from_slice(line.bytes);
                    if start + rebuilt.len() < content.len() && content[start + rebuilt.len()] == b'\n' {
                        rebuilt.push(b'\n');
                    }
                }
            }
            let body = &content[start..];
            let complete = if closed { body.len() } else { body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) };
            prop_assert_eq!(&rebuilt[..], &body[..complete]);
            prop_assert_eq!(r.offset() as usize, start + complete);
        }
    }
}
