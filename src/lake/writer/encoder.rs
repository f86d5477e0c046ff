//! The encoder thread: sorts and encodes row groups while the caller parses the next lines.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
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

/// A background thread that sorts and encodes row groups while the normalizer threads parse the
/// next lines, so encoding overlaps parsing. Row groups are tagged with a sequence number (ingest
/// numbers its commit groups of raw files); sealing a sequence number closes its Parquet files
/// (one per partition), and a second thread fsyncs them and hands them back through
/// [`Encoder::sealed`], so the encoder goes on with the next file instead of waiting for the
/// disk. At most one batch waits in the queue, so memory stays bounded.
pub struct Encoder {
    tx: Option<SyncSender<EncoderMsg>>,
    results: Receiver<Result<(u64, Vec<StagedFile>)>>,
    /// The encoder and the syncer.
    handles: Vec<JoinHandle<()>>,
}

impl Encoder {
    pub fn spawn(staging_dir: &Path, props: WriterProperties) -> Self {
        let (tx, rx) = sync_channel::<EncoderMsg>(1);
        let (closed_tx, closed) = channel::<Result<(u64, Vec<ClosedFile>)>>();
        let (result_tx, results) = channel();
        let syncer = std::thread::Builder::new()
            .name("wxlake-syncer".into())
            .spawn(move || {
                for closed in closed {
                    let result = closed.and_then(|(seq, files)| {
                        let files = files.into_iter().map(ClosedFile::sync);
                        Ok((seq, files.collect::<Result<Vec<_>>>()?))
                    });
                    let failed = result.is_err();
                    if result_tx.send(result).is_err() || failed {
                        return; // the caller is gone, or it will see the error
                    }
                }
            })
            .expect("spawn the syncer thread");
        let staging_dir = staging_dir.to_path_buf();
        let handle = std::thread::Builder::new()
            .name("wxlake-encoder".into())
            .spawn(move || {
                let mut writers: BTreeMap<(u64, PartitionKey), StagedWriter> = BTreeMap::new();
                for msg in rx {
                    let result = match msg {
                        EncoderMsg::Batch(seq, key, pending) => {
                            let writer = match writers.entry((seq, key)) {
                                Entry::Occupied(e) => Ok(e.into_mut()),
                                Entry::Vacant(e) => {
                                    StagedWriter::create(key, &staging_dir, props.clone())
                                        .map(|w| e.insert(w))
                                }
                            };
                            match writer.and_then(|w| w.write_pending(&pending)) {
                                Ok(()) => continue,
                                Err(e) => Err(e),
                            }
                        }
                        EncoderMsg::Seal(seq) => {
                            let keys: Vec<_> = writers
                                .range((seq, PartitionKey::MIN)..)
                                .map(|(k, _)| *k)
                                .collect();
                            keys.into_iter()
                                .filter(|(s, _)| *s == seq)
                                .map(|k| writers.remove(&k).expect("listed").close())
                                .collect::<Result<Vec<_>>>()
                                .map(|files| (seq, files))
                        }
                    };
                    let failed = result.is_err();
                    if closed_tx.send(result).is_err() || failed {
                        return; // the syncer is gone, or the caller will see the error
                    }
                }
            })
            .expect("spawn the encoder thread");
        Encoder {
            tx: Some(tx),
            results,
            handles: vec![handle, syncer],
        }
    }

    fn send(&mut self, msg: EncoderMsg) -> Result<()> {
        let tx = self.tx.as_ref().expect("not finished");
        if tx.send(msg).is_err() {
            // The encoder stopped on an error: report it.
            return Err(self.next_error());
        }
        Ok(())
    }

    /// The error that stopped the encoder. Results of files sealed before it may still be
    /// queued ahead of it; they are skipped (their files are dropped, so their temp files go).
    fn next_error(&mut self) -> Error {
        self.tx = None;
        loop {
            match self.results.recv() {
                Ok(Ok(_sealed_earlier)) => continue,
                Ok(Err(e)) => return e,
                Err(_) => return Error::data("the encoder thread", "stopped unexpectedly"),
            }
        }
    }

    /// Queue one row group of `partition` for file `seq`.
    pub fn write(&mut self, seq: u64, partition: PartitionKey, rows: PendingRows) -> Result<()> {
        self.send(EncoderMsg::Batch(seq, partition, rows))
    }

    /// Every row group of file `seq` has been queued.
    pub fn seal(&mut self, seq: u64) -> Result<()> {
        self.send(EncoderMsg::Seal(seq))
    }

    /// Wait for the staged files of the oldest sealed file, which must be `seq`.
    pub fn sealed(&mut self, seq: u64) -> Result<Vec<StagedFile>> {
        match self.results.recv() {
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

impl Drop for Encoder {
    fn drop(&mut self) {
        self.tx = None;
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
        let mut encoder = Encoder::spawn(&staging, writer_properties(Codec::Snappy, None).unwrap());
        encoder.write(0, key, PendingRows::whole(batch(3))).unwrap();
        encoder.seal(0).unwrap();
        std::fs::remove_dir(&staging)
            .unwrap_or_else(|_| std::fs::remove_dir_all(&staging).unwrap());
        let err = (0..100)
            .find_map(|_| encoder.write(1, key, PendingRows::whole(batch(3))).err())
            .expect("the encoder stops once it cannot create a file");
        assert_eq!(err.exit_code() as u8, 74, "{err}");
    }
}
