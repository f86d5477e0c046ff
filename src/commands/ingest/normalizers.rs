//! The normalizer threads of a run: one per core, alive from the first raw file to the last.
//!
//! Raw files are queued as readers; the threads take turns reading the next chunk of the file at
//! the head of the queue, normalize it ([`normalize_chunk`]) and send it back. The thread that
//! reaches a file's end hands its reader back and the next turn reads the next file, so the
//! threads never wait for a file's dedup, encoding or commit, and a file of one chunk still
//! overlaps the files around it. (Each file had its own threads before issue 14: between two
//! files every core but one was idle.)
//!
//! Turns are numbered in queue order and taken by whichever thread is free; each result waits in
//! a window of [`WINDOW_PER_THREAD`] turns per thread until the receiver takes it, in turn order.
//! The receiver (dedup, routing, commit) works in bursts at file ends, and the threads in turns
//! that the OS may preempt: with one-slot channels and fixed turns (thread `i` took turns `i`,
//! `i + threads`, …) both sides waited for each other. On the two-year backfill the receiver
//! waited 4.1-4.8 s for chunks while the normalizers were blocked 7.0 s (together) on a full
//! channel and 4.9 s on their turn.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::Scope;

use crate::commands::ingest::chunk_rows::{ChunkRows, normalize_chunk};
use crate::jsonl::JsonlReader;
use crate::lake::msg_index::StoredFilter;
use crate::lake::writer::RowBuffer;
use crate::mask::Mask;

/// How many threads normalize chunks at once: one per core (the dedup and encoder threads
/// mostly wait on them), at most four.
pub fn normalizer_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(4))
}

/// Turns per thread that may be taken and not yet received: a chunk being normalized and up
/// to three waiting (a raw chunk and its rows are at most ~2 MiB).
pub const WINDOW_PER_THREAD: usize = 4;

/// Bytes per chunk for a file of `remaining` new bytes on `threads` normalizers: about four
/// chunks per thread, so that a small file still keeps every normalizer busy, between 256 KiB
/// (per-chunk costs stay small) and 1 MiB. Chunks of up to 4 MiB cost the same CPU but held
/// ~45 MB more at the peak of a million-message day (170 → 126 MB; raw chunks, their batches
/// and the selections waiting for a row group all scale with it).
pub fn chunk_size_for(remaining: u64, threads: usize) -> usize {
    const MIN: u64 = 256 << 10;
    const MAX: u64 = 1 << 20;
    (remaining / (4 * threads.max(1) as u64)).clamp(MIN, MAX) as usize
}

/// What the threads send back about a queued file, tagged with the number it was queued under.
pub enum Normalized {
    /// The next chunk of the file.
    Chunk(ChunkRows),
    /// The file is read to its end: its reader, whose offset and line number say how far.
    End(JsonlReader),
    /// Reading the file failed; nothing more comes of it.
    Failed(io::Error),
}

/// The queue of files, the turns taken and the results waiting.
struct Turns {
    files: VecDeque<(u64, JsonlReader)>,
    /// Number of the next turn to take.
    next: usize,
    /// Number of the next turn the receiver takes.
    received: usize,
    /// Results of turns taken, until received.
    done: BTreeMap<usize, (u64, Normalized)>,
    /// Most turns taken and not yet received.
    window: usize,
    /// Threads still running.
    running: usize,
    /// No more files will be queued: the threads end once the queue is empty.
    closed: bool,
    /// The receiver is gone: the threads end now.
    stopped: bool,
}

impl Turns {
    /// Nothing more will come: the queue is closed and read, and every turn taken received.
    fn finished(&self) -> bool {
        self.closed && self.files.is_empty() && self.next == self.received
    }
}

struct Shared {
    turns: Mutex<Turns>,
    /// A turn may be free (a file queued, a result received, the queue closed).
    turn_free: Condvar,
    /// A result is in (or a thread ended).
    result_in: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Turns> {
        self.turns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, f: impl FnOnce(&mut Turns)) {
        f(&mut self.lock());
        self.turn_free.notify_all();
        self.result_in.notify_all();
    }
}

/// The run's normalizer threads, started in a thread scope. Dropping it stops them.
pub struct Normalizers<'scope> {
    shared: &'scope Shared,
    threads: usize,
}

/// State the threads share; lives outside the scope that runs them.
pub struct NormalizerState(Shared);

impl Default for NormalizerState {
    fn default() -> Self {
        NormalizerState(Shared {
            turns: Mutex::new(Turns {
                files: VecDeque::new(),
                next: 0,
                received: 0,
                done: BTreeMap::new(),
                window: WINDOW_PER_THREAD,
                running: 0,
                closed: false,
                stopped: false,
            }),
            turn_free: Condvar::new(),
            result_in: Condvar::new(),
        })
    }
}

impl<'scope> Normalizers<'scope> {
    /// Start `threads` threads in `scope`.
    pub fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        state: &'scope NormalizerState,
        threads: usize,
        mask: Mask,
        stored: &'scope StoredFilter,
    ) -> Self {
        let threads = threads.max(1);
        let shared = &state.0;
        shared.update(|t| {
            t.window = WINDOW_PER_THREAD * threads;
            t.running = threads;
        });
        for me in 0..threads {
            std::thread::Builder::new()
                .name(format!("wxlake-normalizer-{me}"))
                .spawn_scoped(scope, move || {
                    // Counted out on a panic too, so that the receiver does not wait for it.
                    let _running = Running(shared);
                    take_turns(mask, stored, shared);
                })
                .expect("spawn a normalizer thread");
        }
        Normalizers { shared, threads }
    }

    /// How many threads normalize.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Queue `reader` as file `file`: its chunks come after those of every file queued before.
    pub fn enqueue(&mut self, file: u64, reader: JsonlReader) {
        self.shared.update(|t| t.files.push_back((file, reader)));
    }

    /// No more files: the threads end when the queue is read.
    pub fn close(&mut self) {
        self.shared.update(|t| t.closed = true);
    }

    /// The next message, in queue order; `None` once every queued file is read and the queue is
    /// closed. Blocks while the queue is empty and open: queue the file first.
    pub fn receive(&mut self) -> Option<(u64, Normalized)> {
        let mut t = self.shared.lock();
        loop {
            let turn = t.received;
            if let Some(message) = t.done.remove(&turn) {
                t.received += 1;
                drop(t);
                self.shared.turn_free.notify_one();
                return Some(message);
            }
            // Every thread gone without this turn's result: a thread panicked (the scope
            // reports it) or the pool stopped.
            if t.finished() || t.running == 0 {
                return None;
            }
            t = self
                .shared
                .result_in
                .wait(t)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Drop for Normalizers<'_> {
    fn drop(&mut self) {
        self.shared.update(|t| {
            t.stopped = true;
            t.done.clear();
        });
    }
}

/// A running thread: counted out when it ends, however it ends.
struct Running<'a>(&'a Shared);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.update(|t| t.running -= 1);
    }
}

/// One thread: take the next turn, read a chunk of the head file (or find its end), normalize
/// it and leave the result for the receiver; until the queue is closed and read, or stopped.
fn take_turns(mask: Mask, stored: &StoredFilter, shared: &Shared) {
    let mut buffer = RowBuffer::default();
    let mut spare = Vec::new();
    loop {
        let (turn, file, read) = {
            let mut t = shared.lock();
            loop {
                if t.stopped || (t.closed && t.files.is_empty()) {
                    return;
                }
                if !t.files.is_empty() && t.next < t.received + t.window {
                    break;
                }
                t = shared
                    .turn_free
                    .wait(t)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            let turn = t.next;
            let (file, reader) = t.files.front_mut().expect("not empty");
            let file = *file;
            let read = match reader.next_owned_chunk(std::mem::take(&mut spare)) {
                Ok(Some(chunk)) => Ok(chunk),
                Ok(None) => Err(Normalized::End(t.files.pop_front().expect("head").1)),
                Err(e) => {
                    t.files.pop_front();
                    Err(Normalized::Failed(e))
                }
            };
            t.next += 1;
            (turn, file, read)
        };
        // Another thread may take the next turn while this one normalizes.
        shared.turn_free.notify_one();
        let message = match read {
            Ok(chunk) => {
                let rows = normalize_chunk(&chunk.chunk(), &mut buffer, mask, stored);
                spare = chunk.data;
                Normalized::Chunk(rows)
            }
            Err(end) => end,
        };
        let mut t = shared.lock();
        if t.stopped {
            return; // the receiver is gone
        }
        t.done.insert(turn, (file, message));
        drop(t);
        shared.result_in.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use arrow_array::Array;
    use arrow_array::cast::AsArray;

    use super::*;
    use crate::record::col;

    /// A closed file of `n` valid lines with ids from `first`, read in chunks of `chunk` bytes.
    fn reader_of(first: usize, n: usize, chunk: usize) -> (JsonlReader, u64) {
        let mut f = tempfile::tempfile().unwrap();
        for i in first..first + n {
            writeln!(
                f,
                "{{\"msg_id\":{i},\"create_time\":{}}}",
                1_700_000_000 + i
            )
            .unwrap();
        }
        let len = f.metadata().unwrap().len();
        let reader = JsonlReader::new(f, 0, 1, true)
            .unwrap()
            .with_chunk_size(chunk);
        (reader, len)
    }

    /// Every message of a run over `files`, as (file, ids of a chunk or "end at offset/line").
    fn run(threads: usize, files: Vec<(JsonlReader, u64)>) -> Vec<(u64, String)> {
        let state = NormalizerState::default();
        let stored = StoredFilter::default();
        std::thread::scope(|scope| {
            let mut pool = Normalizers::start(scope, &state, threads, Mask::NONE, &stored);
            for (i, (reader, _)) in files.into_iter().enumerate() {
                pool.enqueue(i as u64, reader);
            }
            pool.close();
            let mut out = Vec::new();
            while let Some((file, message)) = pool.receive() {
                out.push((
                    file,
                    match message {
                        Normalized::Chunk(rows) => {
                            let ids = rows.batch.column_by_name(col::MSG_ID).unwrap();
                            let ids = ids.as_string::<i32>();
                            (0..ids.len())
                                .map(|i| ids.value(i))
                                .collect::<Vec<_>>()
                                .join(",")
                        }
                        Normalized::End(r) => format!("end {} {}", r.offset(), r.next_line()),
                        Normalized::Failed(e) => format!("failed {e}"),
                    },
                ));
            }
            out
        })
    }

    #[test]
    fn chunks_of_several_files_come_back_in_queue_order() {
        for threads in [1, 2, 3] {
            let files = vec![
                reader_of(0, 300, 40),
                reader_of(300, 1, 40),
                reader_of(301, 200, 200),
            ];
            let lens: Vec<u64> = files.iter().map(|f| f.1).collect();
            let out = run(threads, files);
            let mut ids = Vec::new();
            let mut ends = Vec::new();
            let mut last_file = 0;
            for (file, m) in &out {
                assert!(
                    *file >= last_file,
                    "{threads} threads: file {file} after {last_file}"
                );
                last_file = *file;
                match m.strip_prefix("end ") {
                    Some(end) => ends.push((*file, end.to_string())),
                    None => ids.extend(m.split(',').map(str::to_string)),
                }
            }
            let want: Vec<String> = (0..501).map(|i| i.to_string()).collect();
            assert_eq!(ids, want, "{threads} threads");
            assert_eq!(
                ends,
                vec![
                    (0, format!("{} 301", lens[0])),
                    (1, format!("{} 2", lens[1])),
                    (2, format!("{} 201", lens[2])),
                ],
                "{threads} threads"
            );
        }
    }

    /// Wait (up to five seconds) until `reached` holds of the threads' shared state.
    fn settle(state: &NormalizerState, reached: impl Fn(&Turns) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !reached(&state.0.lock()) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn every_thread_ends_once_the_closed_queue_is_read() {
        // Regression: only the thread whose turn it was ended; the others waited for a turn
        // until the pool was dropped.
        let state = NormalizerState::default();
        let stored = StoredFilter::default();
        std::thread::scope(|scope| {
            let mut pool = Normalizers::start(scope, &state, 3, Mask::NONE, &stored);
            pool.enqueue(0, reader_of(0, 10, 40).0);
            pool.close();
            while pool.receive().is_some() {}
            settle(&state, |t| t.running == 0);
            assert_eq!(
                state.0.lock().running,
                0,
                "threads still waiting for a turn"
            );
        });
    }

    #[test]
    fn regression_a_slow_receiver_does_not_hold_the_threads_to_one_chunk_each() {
        // With one-slot channels, each thread could be at most two chunks ahead of a receiver
        // busy committing; now every thread goes on until the window is full.
        let state = NormalizerState::default();
        let stored = StoredFilter::default();
        std::thread::scope(|scope| {
            let mut pool = Normalizers::start(scope, &state, 2, Mask::NONE, &stored);
            pool.enqueue(0, reader_of(0, 400, 40).0);
            pool.close();
            let window = 2 * WINDOW_PER_THREAD;
            settle(&state, |t| t.done.len() >= window);
            {
                let t = state.0.lock();
                assert_eq!(t.done.len(), window, "results waiting for a busy receiver");
                assert_eq!(t.next, window, "no turn beyond the window");
            }
            let mut ids = 0;
            while let Some((_, m)) = pool.receive() {
                if let Normalized::Chunk(rows) = m {
                    ids += rows.batch.num_rows();
                }
            }
            assert_eq!(ids, 400);
        });
    }

    #[test]
    fn a_panicking_thread_does_not_leave_the_receiver_waiting() {
        let state = NormalizerState::default();
        let shared = &state.0;
        shared.update(|t| t.running = 1);
        let result = std::thread::scope(|scope| {
            let h = scope.spawn(|| {
                let _running = Running(shared);
                panic!("a normalizer bug");
            });
            let mut pool = Normalizers { shared, threads: 1 };
            let got = pool.receive().is_none();
            (got, h.join().is_err())
        });
        assert_eq!(result, (true, true));
    }

    #[test]
    fn chunks_are_four_per_thread_between_a_quarter_and_one_mebibyte() {
        assert_eq!(chunk_size_for(570 << 20, 2), 1 << 20);
        assert_eq!(chunk_size_for(3 << 20, 2), (3 << 20) / 8);
        assert_eq!(chunk_size_for(100, 2), 256 << 10);
        assert_eq!(chunk_size_for(1 << 30, 0), 1 << 20);
    }

    #[test]
    fn an_empty_queue_ends_at_once() {
        assert!(run(2, Vec::new()).is_empty());
    }

    #[test]
    fn dropping_the_pool_stops_the_threads_mid_file() {
        // The scope joins every thread: this test ends only if dropping the pool stops them.
        let state = NormalizerState::default();
        let stored = StoredFilter::default();
        let taken = std::thread::scope(|scope| {
            let mut pool = Normalizers::start(scope, &state, 2, Mask::NONE, &stored);
            pool.enqueue(0, reader_of(0, 5000, 40).0);
            // Never closed: the threads would wait for another file if the drop did not stop them.
            let taken = (0..3).filter_map(|_| pool.receive()).count();
            drop(pool);
            taken
        });
        assert_eq!(taken, 3);
    }
}
