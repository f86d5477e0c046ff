//! A file written once from its start and not read back soon (a staged Parquet file, a
//! msg_id index segment), written around the page cache (`O_DIRECT`), through a few reused
//! buffers, by a thread of its own.
//!
//! Why: copying a new file into the page cache was the largest kernel cost of ingest.
//! Every byte written lands in a page the kernel must first find and zero, and on this machine
//! kind (a VM that hands its free memory back to the host) each such page may also cost a fault
//! on the host: `copy_folio_from_iter_atomic` held 6–17% of a two-year backfill's samples (13% on
//! the encoder threads in one run) and 4.5% of 60 days of big messages' for the staged files,
//! and the two-year backfill's 44 MB index segment took ~240 ms to write through the cache at
//! the end of the run, with the other core idle. Nothing in the run reads a staged file back
//! (it is fsynced, then linked into its partition), and a segment is read by later runs, whose
//! pages the cache would not keep until then anyway; so their bytes go from a buffer that
//! stays mapped straight to the disk.
//!
//! A direct write returns only once the disk has the bytes, so the writers do not make them:
//! a full buffer is queued, with its offset, on the `wxlake-disk` thread, and the writer goes on
//! filling another buffer. [`DirectFile::release`] queues what a row group left in the buffer up
//! to the last aligned offset and keeps the rest (less than one alignment unit) aside, so a
//! buffer is held only while a row group is being written, not by every partition's open file.
//! [`DirectFile::finish`] queues the last partial block padded with zeros; [`Finished::complete`]
//! waits for the file's writes, reports their first error and cuts the file back to its length.
//! Durability is unchanged: the caller fsyncs the file before it is published, which also makes
//! its length and extents durable.
//!
//! A file system or kernel that cannot write around the cache (tmpfs, a kernel without
//! `STATX_DIOALIGN`) gets ordinary buffered writes, as does every file after a direct write was
//! refused (that write is made again through the cache), and every file while
//! `WXLAKE_DIRECT_IO=0` is set.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};

/// Bytes written to the disk at once: one buffer's worth.
const BLOCK: usize = 1 << 20;

/// The memory alignment of a buffer; the alignments a file system asks for must divide it.
const BUFFER_ALIGN: usize = 4096;

/// Writes queued on the disk thread at most (each holds a buffer): the encoders wait beyond.
const QUEUED: usize = 8;

/// Buffers kept for reuse (fresh memory is what this module avoids); more are freed.
const POOL_SIZE: usize = QUEUED + 8;

/// Set once a direct write was refused: later files do not try.
static REFUSED: AtomicBool = AtomicBool::new(false);

static POOL: Mutex<Vec<Buffer>> = Mutex::new(Vec::new());

/// `BLOCK` bytes aligned to `BUFFER_ALIGN`, inside a slightly larger vector (no unsafe code).
struct Buffer {
    bytes: Vec<u8>,
    start: usize,
}

impl Buffer {
    fn take() -> Buffer {
        let pooled = POOL.lock().unwrap_or_else(PoisonError::into_inner).pop();
        pooled.unwrap_or_else(|| {
            let bytes = vec![0u8; BLOCK + BUFFER_ALIGN];
            let start = bytes.as_ptr().align_offset(BUFFER_ALIGN);
            Buffer { bytes, start }
        })
    }

    fn give_back(self) {
        let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < POOL_SIZE {
            pool.push(self);
        }
    }

    fn block(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..self.start + BLOCK]
    }
}

/// What the disk thread did of one file's writes.
#[derive(Default)]
struct Progress {
    queued: usize,
    done: usize,
    error: Option<io::Error>,
}

/// One file's queued writes, shared with the disk thread.
#[derive(Default)]
struct Writes {
    progress: Mutex<Progress>,
    all_done: Condvar,
}

impl Writes {
    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wait until every queued write is done; the first error of one.
    fn wait(&self) -> io::Result<()> {
        let mut p = self.lock();
        while p.done < p.queued {
            p = self
                .all_done
                .wait(p)
                .unwrap_or_else(PoisonError::into_inner);
        }
        match p.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A write for the disk thread: `len` bytes of `buffer` at `offset` of `file`.
struct Job {
    file: Arc<File>,
    writes: Arc<Writes>,
    offset: u64,
    buffer: Buffer,
    len: usize,
}

/// The disk thread's queue, the thread started with the first direct file.
fn disk() -> &'static SyncSender<Job> {
    static DISK: OnceLock<SyncSender<Job>> = OnceLock::new();
    DISK.get_or_init(|| {
        let (tx, rx) = sync_channel::<Job>(QUEUED);
        let spawned = std::thread::Builder::new()
            .name("wxlake-disk".into())
            .spawn(move || {
                for job in rx {
                    let start = job.buffer.start;
                    let bytes = &job.buffer.bytes[start..start + job.len];
                    let result = write_at(&job.file, bytes, job.offset);
                    job.buffer.give_back();
                    let mut p = job.writes.lock();
                    p.done += 1;
                    if let Err(e) = result
                        && p.error.is_none()
                    {
                        p.error = Some(e);
                    }
                    drop(p);
                    job.writes.all_done.notify_all();
                }
            });
        if spawned.is_err() {
            // No thread: `DirectFile::new` writes through the cache instead (see `queue`).
            REFUSED.store(true, Ordering::Relaxed);
        }
        tx
    })
}

/// `bytes` at `offset`, directly; through the cache if the file system refuses. On a file
/// switched by [`try_direct`], `offset` and `bytes.len()` must be multiples of its alignment and
/// `bytes` must lie in an [`AlignedBlock`].
pub fn write_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    match file.write_all_at(bytes, offset) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            REFUSED.store(true, Ordering::Relaxed);
            set_direct(file, false)?;
            file.write_all_at(bytes, offset)
        }
        result => result,
    }
}

/// One pooled, aligned buffer of [`AlignedBlock::LEN`] bytes, for a module that reads or writes
/// a file around the page cache itself (the msg_id index log); back to the pool when dropped.
pub struct AlignedBlock(Option<Buffer>);

impl AlignedBlock {
    /// Bytes in a block: a multiple of every alignment [`try_direct`] accepts.
    pub const LEN: usize = BLOCK;

    pub fn take() -> AlignedBlock {
        AlignedBlock(Some(Buffer::take()))
    }

    pub fn bytes(&mut self) -> &mut [u8] {
        self.0.as_mut().expect("held until dropped").block()
    }
}

impl Drop for AlignedBlock {
    fn drop(&mut self) {
        if let Some(buffer) = self.0.take() {
            buffer.give_back();
        }
    }
}

/// Switch `file` to reads and writes around the page cache if its file system allows (and
/// neither `WXLAKE_DIRECT_IO=0` nor an earlier refusal says no): its offset alignment.
pub fn try_direct(file: &File) -> Option<usize> {
    if REFUSED.load(Ordering::Relaxed) || disabled_by_env() {
        return None;
    }
    direct_alignment(file).filter(|_| set_direct(file, true).is_ok())
}

/// Read into `buf` at `offset` (aligned as for [`write_at`] on a file switched by
/// [`try_direct`]); through the cache if the file system refuses the direct read.
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    match file.read_at(buf, offset) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            set_direct(file, false)?;
            file.read_at(buf, offset)
        }
        result => result,
    }
}

/// A file being written sequentially from its start, around the page cache where it can be.
pub struct DirectFile {
    file: Arc<File>,
    /// The offset alignment of direct writes; `None`: buffered writes.
    align: Option<usize>,
    writes: Arc<Writes>,
    /// The buffer while bytes are being written, and how many of its bytes are filled.
    buffer: Option<Buffer>,
    filled: usize,
    /// Bytes past the last aligned offset, kept while no buffer is held.
    tail: Vec<u8>,
    /// Where the buffer's (or the tail's) first byte goes in the file.
    offset: u64,
    /// Bytes accepted so far: the file's length once finished.
    len: u64,
}

impl DirectFile {
    /// Write the empty, newly created `file` around the page cache if its file system allows.
    pub fn new(file: File) -> DirectFile {
        Self::with(file, !REFUSED.load(Ordering::Relaxed) && !disabled_by_env())
    }

    /// [`DirectFile::new`], or buffered writes whatever the file system if not `try_direct`.
    fn with(file: File, try_direct: bool) -> DirectFile {
        let align = if try_direct {
            let _ = disk(); // started before the file is switched, so that a failure shows
            direct_alignment(&file)
                .filter(|_| !REFUSED.load(Ordering::Relaxed) && set_direct(&file, true).is_ok())
        } else {
            None
        };
        DirectFile {
            file: Arc::new(file),
            align,
            writes: Arc::default(),
            buffer: None,
            filled: 0,
            tail: Vec::new(),
            offset: 0,
            len: 0,
        }
    }

    /// Whether bytes go around the page cache.
    pub fn is_direct(&self) -> bool {
        self.align.is_some()
    }

    /// The file, for calls that do not write (its length is not final before it is complete).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Queue the buffered bytes up to the last aligned offset and hand the buffer back: the
    /// file holds no buffer until its next write.
    pub fn release(&mut self) -> io::Result<()> {
        let (Some(align), Some(mut buffer)) = (self.align, self.buffer.take()) else {
            return Ok(());
        };
        let whole = self.filled / align * align;
        self.tail.clear();
        self.tail
            .extend_from_slice(&buffer.block()[whole..self.filled]);
        if whole == 0 {
            buffer.give_back();
        } else {
            self.queue(buffer, whole)?;
        }
        self.offset += whole as u64;
        self.filled = 0;
        Ok(())
    }

    /// Queue everything still buffered (the last block padded with zeros): the file, to be
    /// [completed](Finished::complete) once its writes are done.
    pub fn finish(mut self) -> io::Result<Finished> {
        if let Some(align) = self.align
            && (self.buffer.is_some() || !self.tail.is_empty())
        {
            let mut buffer = self.buffer_for_write();
            let padded = self.filled.next_multiple_of(align);
            buffer.block()[self.filled..padded].fill(0);
            self.queue(buffer, padded)?;
        }
        Ok(Finished {
            file: self.file,
            writes: self.align.map(|_| self.writes),
            len: self.len,
        })
    }

    /// The buffer to fill, taken from the pool (with the kept tail at its start) if none is held.
    fn buffer_for_write(&mut self) -> Buffer {
        match self.buffer.take() {
            Some(buffer) => buffer,
            None => {
                let mut buffer = Buffer::take();
                buffer.block()[..self.tail.len()].copy_from_slice(&self.tail);
                self.filled = self.tail.len();
                self.tail.clear();
                buffer
            }
        }
    }

    /// Hand the buffer's first `len` bytes to the disk thread, to be written at `self.offset`.
    fn queue(&mut self, buffer: Buffer, len: usize) -> io::Result<()> {
        self.writes.lock().queued += 1;
        let job = Job {
            file: Arc::clone(&self.file),
            writes: Arc::clone(&self.writes),
            offset: self.offset,
            buffer,
            len,
        };
        if let Err(unsent) = disk().send(job) {
            // The disk thread is gone (it never started): write here.
            let job = unsent.0;
            let start = job.buffer.start;
            let result = write_at(&job.file, &job.buffer.bytes[start..start + len], job.offset);
            job.buffer.give_back();
            self.writes.lock().done += 1;
            result?;
        }
        Ok(())
    }
}

impl Write for DirectFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.align.is_none() {
            let n = (&*self.file).write(data)?;
            self.len += n as u64;
            return Ok(n);
        }
        let mut buffer = self.buffer_for_write();
        let n = data.len().min(BLOCK - self.filled);
        buffer.block()[self.filled..self.filled + n].copy_from_slice(&data[..n]);
        self.filled += n;
        self.len += n as u64;
        if self.filled == BLOCK {
            self.queue(buffer, BLOCK)?;
            self.offset += BLOCK as u64;
            self.filled = 0;
        } else {
            self.buffer = Some(buffer);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Buffered bytes are queued by `release` and `finish`: a partial block cannot be written
        // directly.
        Ok(())
    }
}

/// A file whose bytes are all queued.
pub struct Finished {
    file: Arc<File>,
    writes: Option<Arc<Writes>>,
    len: u64,
}

impl Finished {
    /// Wait for the file's writes and cut it to its length: the file, written but not fsynced.
    pub fn complete(self) -> io::Result<Arc<File>> {
        if let Some(writes) = self.writes {
            writes.wait()?;
            self.file.set_len(self.len)?;
        }
        Ok(self.file)
    }
}

/// `WXLAKE_DIRECT_IO=0`: every staged file through the page cache (to compare, or where a
/// file system's direct writes misbehave).
fn disabled_by_env() -> bool {
    std::env::var_os("WXLAKE_DIRECT_IO").is_some_and(|v| v == "0")
}

/// The offset alignment of direct writes to `file`, if its file system supports them with
/// alignments that divide the buffers'.
#[cfg(target_os = "linux")]
fn direct_alignment(file: &File) -> Option<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: statx on an open descriptor with AT_EMPTY_PATH and an empty C string, into a
    // zeroed struct that it fills.
    let stx = unsafe {
        let mut stx: libc::statx = std::mem::zeroed();
        let rc = libc::statx(
            file.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_DIOALIGN,
            &mut stx,
        );
        (rc == 0).then_some(stx)?
    };
    let (memory, offset) = (
        stx.stx_dio_mem_align as usize,
        stx.stx_dio_offset_align as usize,
    );
    let supported = stx.stx_mask & libc::STATX_DIOALIGN != 0 && memory != 0 && offset != 0;
    (supported && BUFFER_ALIGN.is_multiple_of(offset.max(memory))).then_some(offset)
}

#[cfg(not(target_os = "linux"))]
fn direct_alignment(_file: &File) -> Option<usize> {
    None
}

/// Switch `file`'s writes around the page cache (`on`) or back through it.
#[cfg(target_os = "linux")]
fn set_direct(file: &File, on: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl reads and sets the status flags of an open descriptor.
    let ok = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        let wanted = if on {
            flags | libc::O_DIRECT
        } else {
            flags & !libc::O_DIRECT
        };
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, wanted) == 0
    };
    if ok {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_direct(_file: &File, _on: bool) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use proptest::prelude::*;

    use super::*;

    /// Bytes that differ from one offset to the next, so a block written at the wrong place shows.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 4093) as u8).collect()
    }

    /// Write `data` in pieces of `pieces` bytes (cycled), releasing the buffer after each piece
    /// whose index is in `releases`; the file's bytes once complete, and whether it was direct.
    fn written(
        data: &[u8],
        pieces: &[usize],
        releases: &[usize],
        buffered: bool,
    ) -> (Vec<u8>, bool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = File::create(&path).unwrap();
        let mut f = DirectFile::with(file, !buffered);
        let direct = f.is_direct();
        let (mut at, mut piece) = (0, 0);
        while at < data.len() {
            let n = pieces[piece % pieces.len()].clamp(1, data.len() - at);
            f.write_all(&data[at..at + n]).unwrap();
            if releases.contains(&piece) {
                f.release().unwrap();
            }
            at += n;
            piece += 1;
        }
        let file = f.finish().unwrap().complete().unwrap();
        file.sync_all().unwrap();
        let mut back = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut back).unwrap();
        (back, direct)
    }

    #[test]
    fn a_file_holds_exactly_the_bytes_written_at_every_length_around_the_boundaries() {
        for len in [
            0,
            1,
            511,
            512,
            4095,
            4096,
            4097,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            3 * BLOCK + 123,
        ] {
            let data = pattern(len);
            for buffered in [false, true] {
                let (back, _) = written(&data, &[100_000, 3, 8192], &[1, 4], buffered);
                assert_eq!(back.len(), len, "length {len}, buffered {buffered}");
                assert!(back == data, "bytes of length {len}, buffered {buffered}");
            }
        }
    }

    #[test]
    fn a_direct_file_on_this_file_system_reports_it() {
        // Only informative where the temp dir's file system cannot write around the cache
        // (tmpfs): the bytes are checked either way.
        let (back, direct) = written(&pattern(BLOCK + 5), &[4096], &[2], false);
        assert_eq!(back, pattern(BLOCK + 5));
        eprintln!("direct writes in the temp dir: {direct}");
    }

    #[test]
    fn a_refused_direct_write_is_made_through_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = File::create(&path).unwrap();
        if direct_alignment(&file).is_none() || set_direct(&file, true).is_err() {
            return; // no direct writes here: nothing to refuse
        }
        // An unaligned offset and length: the kernel refuses them directly.
        write_at(&file, b"abc", 1).unwrap();
        assert!(REFUSED.load(Ordering::Relaxed));
        let mut back = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back, b"\0abc");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn any_pieces_and_releases_write_the_same_bytes(
            len in 0usize..(2 * BLOCK + 9000),
            pieces in proptest::collection::vec(1usize..300_000, 1..6),
            releases in proptest::collection::vec(0usize..40, 0..8),
        ) {
            let data = pattern(len);
            let (back, _) = written(&data, &pieces, &releases, false);
            prop_assert!(back == data);
        }
    }
}
