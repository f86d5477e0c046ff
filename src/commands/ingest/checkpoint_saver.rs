//! Steps 3 and 4 of a commit (see [`super::file_job`]) on a thread of their own.
//!
//! Once a group's rows are published, what is left for each raw file is to make its rejects
//! durable and then replace its checkpoint: an fsync each, and a write and a rename, ~0.5 ms a
//! file, serially, on the thread the normalizers and the encoder wait for (on a two-year
//! backfill, 1,460 fsyncs: the largest part of the time that thread ran alone). Nothing in the
//! run reads them back, and a crash before they are done only means that those lines are read
//! again (dedup keeps every message once), so the run hands each group's to this thread and goes
//! on. The order within a file stays rejects, then checkpoint; the run waits for this thread
//! before it writes checkpoints itself (those that waited for contact rows) and before it ends,
//! and an error here fails the run, as it did on the dedup thread.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::fsutil::DirSyncs;
use crate::quarantine::Quarantine;

/// What is left to commit of one raw file once its rows are published.
pub struct FileRest {
    /// Its rejects, made durable first.
    pub quarantine: Quarantine,
    /// Its new checkpoint, if it is saved now (not when it waits for contact rows, nor for an
    /// archive read beside the live file of its date).
    pub checkpoint: Option<(PathBuf, Checkpoint)>,
    /// Its checkpoint before the run: where a failure is recorded.
    pub previous: Option<(PathBuf, Checkpoint)>,
}

enum Work {
    Group(Vec<FileRest>),
    /// Answer once everything before has been done.
    Drain,
}

/// The thread, and the way to it.
pub struct CheckpointSaver {
    work: Option<Sender<Work>>,
    drained: Receiver<()>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl Default for CheckpointSaver {
    fn default() -> Self {
        Self::start()
    }
}

impl CheckpointSaver {
    pub fn start() -> Self {
        let (work, queue) = channel();
        let (drained_tx, drained) = channel();
        let thread = std::thread::Builder::new()
            .name("wxlake-checkpoints".into())
            .spawn(move || save_groups(queue, drained_tx))
            .expect("spawn the checkpoint thread");
        CheckpointSaver {
            work: Some(work),
            drained,
            thread: Some(thread),
        }
    }

    /// Queue the rest of a group's commit.
    pub fn save(&mut self, group: Vec<FileRest>) -> Result<()> {
        match &self.work {
            Some(work) if work.send(Work::Group(group)).is_ok() => Ok(()),
            _ => Err(self.stopped()),
        }
    }

    /// Wait until everything queued so far is done.
    pub fn drain(&mut self) -> Result<()> {
        match &self.work {
            Some(work) if work.send(Work::Drain).is_ok() && self.drained.recv().is_ok() => Ok(()),
            _ => Err(self.stopped()),
        }
    }

    /// Wait for everything queued, and stop the thread.
    pub fn finish(&mut self) -> Result<()> {
        self.work = None;
        match self.thread.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(panic)) => std::panic::resume_unwind(panic),
        }
    }

    /// The error that stopped the thread.
    fn stopped(&mut self) -> Error {
        match self.finish() {
            Err(e) => e,
            Ok(()) => Error::data("the checkpoint thread", "stopped unexpectedly"),
        }
    }
}

impl Drop for CheckpointSaver {
    fn drop(&mut self) {
        self.work = None;
        if let Some(thread) = self.thread.take()
            && let Err(panic) = thread.join()
            && !std::thread::panicking()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

fn save_groups(queue: Receiver<Work>, drained: Sender<()>) -> Result<()> {
    for work in queue {
        match work {
            Work::Group(files) => save_group(files)?,
            Work::Drain => {
                let _ = drained.send(());
            }
        }
    }
    Ok(())
}

/// The rejects of every file of a group, then their checkpoints, each directory fsynced once per
/// step; on an error, the files not saved record it in their old checkpoints.
fn save_group(files: Vec<FileRest>) -> Result<()> {
    let mut syncs = DirSyncs::default();
    let mut rest = Vec::with_capacity(files.len());
    let mut failed = None;
    for file in files {
        if failed.is_none()
            && let Err(e) = file.quarantine.finish_deferred(&mut syncs)
        {
            failed = Some(e);
        }
        rest.push((file.checkpoint, file.previous));
    }
    let synced = match failed {
        Some(e) => Err(e),
        None => syncs.sync(),
    };
    let mut saved = 0;
    let result = synced.and_then(|()| {
        for (checkpoint, _) in &rest {
            failpoint::hit("ingest.before_checkpoint");
            if let Some((path, checkpoint)) = checkpoint {
                checkpoint.save_deferred(path, &mut syncs)?;
            }
            saved += 1;
        }
        syncs.sync()?;
        for _ in rest.iter().filter(|(c, _)| c.is_some()) {
            failpoint::hit("ingest.after_checkpoint");
        }
        Ok(())
    });
    if let Err(err) = &result {
        // What was renamed before the failure is made durable anyway.
        let _ = syncs.sync();
        for (_, previous) in rest.into_iter().skip(saved) {
            if let Some((path, cp)) = previous {
                cp.record_failure(&path, err.to_string());
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{CHECKPOINT_VERSION, Counts, Fingerprint, Status};
    use crate::normalize::Reject;
    use crate::quarantine::RejectEntry;

    fn checkpoint(raw_file: &str, offset: u64) -> Checkpoint {
        Checkpoint {
            version: CHECKPOINT_VERSION,
            raw_file: raw_file.into(),
            offset,
            line: 2,
            last_msg_id: None,
            last_create_time: None,
            clock: None,
            fingerprint: Fingerprint {
                len: offset,
                head: "0".into(),
                tail: "1".into(),
            },
            stat: None,
            status: Status::Complete,
            error: None,
            counts: Counts::default(),
            rejects_bytes: 0,
            updated_at: "then".into(),
        }
    }

    fn quarantine(path: &std::path::Path) -> Quarantine {
        let mut q = Quarantine::open(path, 0).unwrap();
        let reject = Reject::InvalidJson("expected value".into());
        q.push(&RejectEntry::new("2026-01-01.jsonl", 1, 0, &reject, b"{x"))
            .unwrap();
        q
    }

    #[test]
    fn rejects_then_checkpoints_are_saved_by_the_time_drain_returns() {
        let dir = tempfile::tempdir().unwrap();
        let mut saver = CheckpointSaver::start();
        let mut group = Vec::new();
        for day in ["2026-01-01", "2026-01-02"] {
            let q = quarantine(&dir.path().join(format!("{day}.rejects.jsonl")));
            let mut cp = checkpoint(&format!("{day}.jsonl"), 10);
            cp.rejects_bytes = q.bytes();
            group.push(FileRest {
                quarantine: q,
                checkpoint: Some((dir.path().join(format!("{day}.json")), cp)),
                previous: None,
            });
        }
        saver.save(group).unwrap();
        saver.drain().unwrap();
        for day in ["2026-01-01", "2026-01-02"] {
            let cp = Checkpoint::load(&dir.path().join(format!("{day}.json")))
                .unwrap()
                .expect("saved");
            let rejects = std::fs::metadata(dir.path().join(format!("{day}.rejects.jsonl")));
            assert_eq!(rejects.unwrap().len(), cp.rejects_bytes, "{day}");
            assert!(cp.rejects_bytes > 0);
        }
        saver.finish().unwrap();
    }

    #[test]
    fn a_checkpoint_that_cannot_be_saved_fails_the_run_and_the_rest_record_the_failure() {
        let dir = tempfile::tempdir().unwrap();
        let mut saver = CheckpointSaver::start();
        let old = dir.path().join("2026-01-02.json");
        checkpoint("2026-01-02.jsonl", 5).save(&old).unwrap();
        let group = vec![
            FileRest {
                quarantine: Quarantine::open(&dir.path().join("a.rejects.jsonl"), 0).unwrap(),
                // Its directory is missing: the save fails.
                checkpoint: Some((
                    dir.path().join("gone/2026-01-01.json"),
                    checkpoint("2026-01-01.jsonl", 10),
                )),
                previous: None,
            },
            FileRest {
                quarantine: Quarantine::open(&dir.path().join("b.rejects.jsonl"), 0).unwrap(),
                checkpoint: Some((old.clone(), checkpoint("2026-01-02.jsonl", 20))),
                previous: Some((old.clone(), checkpoint("2026-01-02.jsonl", 5))),
            },
        ];
        saver.save(group).unwrap();
        let err = saver.drain().unwrap_err();
        assert_eq!(err.exit_code() as u8, 74, "{err}");
        let recorded = Checkpoint::load(&old).unwrap().unwrap();
        assert_eq!(recorded.offset, 5, "the old offset stays");
        assert_eq!(recorded.status, Status::Error);
        assert!(recorded.error.unwrap().contains("gone"));
        // Stopped: what comes next is refused, not lost silently.
        assert!(saver.save(Vec::new()).is_err());
    }
}
