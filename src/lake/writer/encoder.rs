//! The encoder thread: sorts and encodes row groups while the caller parses the next lines.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};

use chrono::Datelike;
use std::thread::JoinHandle;

use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};
use crate::lake::row_group::PendingRows;
use crate::partition::PartitionKey;

use super::*;

/// Work for the encoder thread.
enum EncoderMsg {
    /// One row group of a partition, for the file with this sequence number.
    Batch(u64, PartitionKey, PendingRows),
    /// Every row group of this sequence number has been sent: close its files.
    Seal(u64),
}

/// Background threads that sort and encode row groups while the normalizer threads parse the
/// next lines, so encoding overlaps parsing. Row groups are tagged with a sequence number (ingest
/// numbers its commit groups of raw files); sealing a sequence number closes its Parquet files
/// (one per partition), and a syncer thread fsyncs them and hands them back through
/// [`Encoder::sealed`], so the encoders go on with the next file instead of waiting for the
/// disk. At most one batch waits in each encoder's queue, so memory stays bounded.
///
/// Each partition belongs to one encoder (by its day), so a partition's file is written by one
/// writer in the order its row groups came, as with a single encoder: the files are
/// byte-identical. Consecutive days, the shape of a backfill, are encoded side by side, where a
/// single encoder held the next day's normalizing back (two-year backfill 9.3-12.6 s -> 8.1-8.5
/// s); a single day is one encoder's work, as before.
pub struct Encoder {
    txs: Option<Vec<SyncSender<EncoderMsg>>>,
    results: Receiver<Result<(u64, Vec<StagedFile>)>>,
    /// A result taken by [`Encoder::is_sealed`] before its [`Encoder::sealed`] call.
    ready: Option<Result<(u64, Vec<StagedFile>)>>,
    /// The encoders and the syncer.
    handles: Vec<JoinHandle<()>>,
}

/// How many encoder threads: one per core, at most four.
pub fn encoder_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4))
}

impl Encoder {
    pub fn spawn(staging_dir: &Path, props: WriterProperties) -> Self {
        Self::with_threads(staging_dir, props, encoder_threads())
    }

    pub fn with_threads(staging_dir: &Path, props: WriterProperties, threads: usize) -> Self {
        let threads = threads.max(1);
        let (closed_tx, closed) = channel::<(u64, Result<Vec<ClosedFile>>)>();
        let (result_tx, results) = channel();
        let syncer = std::thread::Builder::new()
            .name("wxlake-syncer".into())
            .spawn(move || {
                // A sequence number is sealed once every encoder has closed its files of it;
                // each encoder seals in order, so they complete in order. An error of one
                // sequence number is handed on after every group before it (each already sealed
                // by every encoder, so all on their way), as a single encoder would have.
                let mut partial: BTreeMap<u64, (usize, Vec<StagedFile>)> = BTreeMap::new();
                let mut failed: Option<(u64, Error)> = None;
                for (seq, closed) in closed {
                    let synced = closed.and_then(|files| {
                        files
                            .into_iter()
                            .map(ClosedFile::sync)
                            .collect::<Result<Vec<_>>>()
                    });
                    match synced {
                        Ok(files) => {
                            let entry = partial.entry(seq).or_default();
                            entry.0 += 1;
                            entry.1.extend(files);
                        }
                        Err(e) => {
                            if failed.as_ref().is_none_or(|(s, _)| seq < *s) {
                                failed = Some((seq, e));
                            }
                        }
                    }
                    while let Some(first) = partial.first_entry() {
                        let before_failure = failed.as_ref().is_none_or(|(s, _)| *first.key() < *s);
                        if first.get().0 < threads || !before_failure {
                            break;
                        }
                        let (seq, (_, mut files)) = first.remove_entry();
                        files.sort_by_key(|f| f.partition);
                        if result_tx.send(Ok((seq, files))).is_err() {
                            return; // the caller is gone
                        }
                    }
                    if let Some((s, _)) = &failed
                        && partial.first_key_value().is_none_or(|(k, _)| k >= s)
                    {
                        let (_, e) = failed.take().expect("just seen");
                        let _ = result_tx.send(Err(e));
                        return; // the caller will see the error
                    }
                }
            })
            .expect("spawn the syncer thread");
        let mut txs = Vec::with_capacity(threads);
        let mut handles = Vec::with_capacity(threads + 1);
        for _ in 0..threads {
            let (tx, rx) = sync_channel::<EncoderMsg>(1);
            let closed_tx = closed_tx.clone();
            let staging_dir = staging_dir.to_path_buf();
            let props = props.clone();
            let handle = std::thread::Builder::new()
                .name("wxlake-encoder".into())
                .spawn(move || encode(rx, closed_tx, &staging_dir, props))
                .expect("spawn an encoder thread");
            txs.push(tx);
            handles.push(handle);
        }
        handles.push(syncer);
        Encoder {
            txs: Some(txs),
            results,
            ready: None,
            handles,
        }
    }

    fn send(&mut self, to: usize, msg: EncoderMsg) -> Result<()> {
        let tx = &self.txs.as_ref().expect("not finished")[to];
        if tx.send(msg).is_err() {
            // An encoder stopped on an error: report it.
            return Err(self.next_error());
        }
        Ok(())
    }

    /// The error that stopped the encoder. Results of files sealed before it may still be
    /// queued ahead of it; they are skipped (their files are dropped, so their temp files go).
    fn next_error(&mut self) -> Error {
        self.txs = None;
        loop {
            match self.ready.take().map_or_else(|| self.results.recv(), Ok) {
                Ok(Ok(_sealed_earlier)) => continue,
                Ok(Err(e)) => return e,
                Err(_) => return Error::data("the encoder thread", "stopped unexpectedly"),
            }
        }
    }

    /// Queue one row group of `partition` for file `seq`.
    pub fn write(&mut self, seq: u64, partition: PartitionKey, rows: PendingRows) -> Result<()> {
        let threads = self.txs.as_ref().expect("not finished").len();
        let to = partition.0.num_days_from_ce().unsigned_abs() as usize % threads;
        self.send(to, EncoderMsg::Batch(seq, partition, rows))
    }

    /// Every row group of file `seq` has been queued.
    pub fn seal(&mut self, seq: u64) -> Result<()> {
        let threads = self.txs.as_ref().expect("not finished").len();
        for to in 0..threads {
            self.send(to, EncoderMsg::Seal(seq))?;
        }
        Ok(())
    }

    /// Whether the staged files of the oldest sealed file are ready (synced, or failed): then
    /// [`Encoder::sealed`] returns at once.
    pub fn is_sealed(&mut self) -> bool {
        if self.ready.is_none() {
            match self.results.try_recv() {
                Ok(result) => self.ready = Some(result),
                // Nothing yet; or the threads are gone, which `sealed` reports.
                Err(std::sync::mpsc::TryRecvError::Empty) => return false,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return true,
            }
        }
        true
    }

    /// Wait for the staged files of the oldest sealed file, which must be `seq`.
    pub fn sealed(&mut self, seq: u64) -> Result<Vec<StagedFile>> {
        match self.ready.take().map_or_else(|| self.results.recv(), Ok) {
            Ok(Ok((got, files))) if got == seq => Ok(files),
            Ok(Ok((got, _))) => Err(Error::data(
                "the encoder thread",
                format!("sealed file {got} before {seq}"),
            )),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::data("the encoder thread", "stopped unexpectedly")),
        }
    }
}

/// One encoder thread: its partitions' writers, until its queue closes or a write fails. A
/// panic is reported to the syncer as an error of the file in hand (the other encoders would
/// otherwise keep the syncer waiting for this one's part), then goes on unwinding.
fn encode(
    rx: Receiver<EncoderMsg>,
    closed_tx: std::sync::mpsc::Sender<(u64, Result<Vec<ClosedFile>>)>,
    staging_dir: &Path,
    props: WriterProperties,
) {
    let mut current = 0u64;
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut writers: BTreeMap<(u64, PartitionKey), StagedWriter> = BTreeMap::new();
        for msg in rx {
            let (seq, result) = match msg {
                EncoderMsg::Batch(seq, key, pending) => {
                    current = seq;
                    let writer = match writers.entry((seq, key)) {
                        Entry::Occupied(e) => Ok(e.into_mut()),
                        Entry::Vacant(e) => StagedWriter::create(key, staging_dir, props.clone())
                            .map(|w| e.insert(w)),
                    };
                    match writer.and_then(|w| w.write_pending(&pending)) {
                        Ok(()) => continue,
                        Err(e) => (seq, Err(e)),
                    }
                }
                EncoderMsg::Seal(seq) => {
                    current = seq;
                    let keys: Vec<_> = writers
                        .range((seq, PartitionKey::MIN)..)
                        .map(|(k, _)| *k)
                        .collect();
                    let closed = keys
                        .into_iter()
                        .filter(|(s, _)| *s == seq)
                        .map(|k| writers.remove(&k).expect("listed").close())
                        .collect::<Result<Vec<_>>>();
                    (seq, closed)
                }
            };
            let failed = result.is_err();
            if closed_tx.send((seq, result)).is_err() || failed {
                return; // the syncer is gone, or the caller will see the error
            }
        }
    }));
    if let Err(panic) = run {
        let error = Error::data("an encoder thread", "stopped on a panic");
        let _ = closed_tx.send((current, Err(error)));
        std::panic::resume_unwind(panic);
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        self.txs = None;
        for h in std::mem::take(&mut self.handles) {
            if let Err(panic) = h.join()
                && !std::thread::panicking()
            {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::writer::{Codec, RowBuffer, writer_properties};
    use crate::record::Record;
    use crate::record::text;
    use arrow_array::RecordBatch;
    use std::sync::Arc;

    fn batch(n: usize) -> RecordBatch {
        let mut buffer = RowBuffer::default();
        for i in 0..n {
            let mut r = Record {
                msg_id: i.to_string().into(),
                create_time: 100 - i as i64,
                ..Default::default()
            };
            r.text[text::CHATROOM] = Some(if i % 2 == 0 { "b" } else { "a" }.into());
            buffer.push(&r);
        }
        buffer.take_batch()
    }

    #[test]
    fn encoder_reports_the_io_error_that_stopped_it() {
        // Regression: a sealed file's OK result queued ahead of the error was taken for the
        // error, and the run ended with "stopped unexpectedly" (exit 65) instead of the I/O error.
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("staging");
        std::fs::create_dir(&staging).unwrap();
        let key = PartitionKey(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        let props = writer_properties(Codec::Snappy, None).unwrap();
        let mut encoder = Encoder::with_threads(&staging, props, 2);
        encoder.write(0, key, PendingRows::whole(batch(3))).unwrap();
        encoder.seal(0).unwrap();
        std::fs::remove_dir(&staging)
            .unwrap_or_else(|_| std::fs::remove_dir_all(&staging).unwrap());
        let err = (0..100)
            .find_map(|_| encoder.write(1, key, PendingRows::whole(batch(3))).err())
            .expect("the encoder stops once it cannot create a file");
        assert_eq!(err.exit_code() as u8, 74, "{err}");
    }

    #[test]
    fn several_encoders_hand_back_every_partition_of_a_sealed_file_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let props = writer_properties(Codec::Snappy, None).unwrap();
        let mut encoder = Encoder::with_threads(dir.path(), props, 3);
        let day = |d: u32| PartitionKey(chrono::NaiveDate::from_ymd_opt(2026, 1, d).unwrap());
        // File 0: days 1-5, day 2 in two row groups; file 1: days 5 and 9.
        for d in [3, 1, 2, 5, 4, 2] {
            encoder
                .write(0, day(d), PendingRows::whole(batch(d as usize)))
                .unwrap();
        }
        encoder.seal(0).unwrap();
        encoder
            .write(1, day(9), PendingRows::whole(batch(9)))
            .unwrap();
        encoder
            .write(1, day(5), PendingRows::whole(batch(1)))
            .unwrap();
        encoder.seal(1).unwrap();
        let summary = |files: Vec<StagedFile>| {
            files
                .iter()
                .map(|f| (f.partition.0.format("%d").to_string(), f.rows))
                .collect::<Vec<_>>()
        };
        let s = |d: &str, n: u64| (d.to_string(), n);
        assert_eq!(
            summary(encoder.sealed(0).unwrap()),
            [s("01", 1), s("02", 4), s("03", 3), s("04", 4), s("05", 5)]
        );
        assert_eq!(
            summary(encoder.sealed(1).unwrap()),
            [s("05", 1), s("09", 9)]
        );
        // A sealed file with nothing in it still comes back, empty.
        encoder.seal(2).unwrap();
        assert!(encoder.sealed(2).unwrap().is_empty());
    }

    #[test]
    fn regression_a_later_files_error_does_not_hide_an_earlier_sealed_file() {
        // With several encoders, the syncer handed on the first error it saw: a failure in file
        // 1 on one encoder could take the place of file 0, complete on the other.
        let dir = tempfile::tempdir().unwrap();
        let props = writer_properties(Codec::Snappy, None).unwrap();
        let mut encoder = Encoder::with_threads(dir.path(), props, 2);
        let day = |d: u32| PartitionKey(chrono::NaiveDate::from_ymd_opt(2026, 1, d).unwrap());
        encoder
            .write(0, day(1), PendingRows::whole(batch(3)))
            .unwrap();
        encoder
            .write(0, day(2), PendingRows::whole(batch(4)))
            .unwrap();
        encoder.seal(0).unwrap();
        // Sortable, but not the lake's schema: the Parquet writer refuses it.
        let schema = Arc::new(arrow_schema::Schema::new(vec![
            arrow_schema::Field::new(
                crate::record::col::CHATROOM,
                arrow_schema::DataType::Utf8,
                true,
            ),
            arrow_schema::Field::new(
                crate::record::col::CREATE_TIME,
                arrow_schema::DataType::Int64,
                true,
            ),
        ]));
        let bad = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(arrow_array::StringArray::from(vec!["r"])),
                Arc::new(arrow_array::Int64Array::from(vec![1])),
            ],
        )
        .unwrap();
        encoder.write(1, day(1), PendingRows::whole(bad)).unwrap();
        let sealed = encoder.sealed(0).unwrap();
        assert_eq!(sealed.iter().map(|f| f.rows).collect::<Vec<_>>(), [3, 4]);
        assert!(encoder.sealed(1).is_err());
    }
}
