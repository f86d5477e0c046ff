//! Committing parsed raw files, in the order that makes a crash harmless (see the parent
//! module): publish their staged files, make their rejects durable, then advance their
//! checkpoints.

use crate::checkpoint::{CHECKPOINT_VERSION, Checkpoint, FileStat, Status};
use crate::commands::ingest::RunContext;
use crate::commands::ingest::checkpoint_saver::FileRest;
use crate::commands::ingest::summary::FileSummary;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::fsutil::{DirSyncs, create_dir_all_durable};
use crate::lake::writer::{StagedFile, publish_deferred};

use super::*;

/// Commit several files at once, in the order of the parent module, each step for all of them
/// before the next: publish the files the encoder staged for their rows (`staged`: one per
/// partition for the whole group), then hand making their rejects durable and advancing their
/// checkpoints to the run's [`CheckpointSaver`](crate::commands::ingest::checkpoint_saver).
/// Each directory is fsynced once per step for all of them instead of once per file (a group
/// commit). On an error, every file of the group records it in its checkpoint.
pub fn commit_group(
    ctx: &mut RunContext,
    mut files: Vec<ParsedFile>,
    staged: Vec<StagedFile>,
) -> Result<Vec<FileSummary>> {
    let mut syncs = DirSyncs::default();
    let staged_bytes: u64 = staged.iter().map(|f| f.bytes).sum();
    let result = (|| -> Result<()> {
        failpoint::hit("ingest.staged");
        // The index must list every row before any reader can see it.
        ctx.lake_ids.sync()?;
        for (i, file) in staged.into_iter().enumerate() {
            if i > 0 {
                failpoint::hit("ingest.between_publishes");
            }
            let dir = ctx.layout.partition_dir(file.partition);
            let rows = file.rows;
            let path = publish_deferred(file, &dir, &ctx.run_id, &mut syncs)?;
            tracing::debug!(path = %path.display(), rows, "published");
        }
        syncs.sync()?;
        failpoint::hit("ingest.published");
        Ok(())
    })();
    if let Err(err) = result {
        // What was created before the failure is made durable anyway: a directory made now
        // is not made again, so its entry would never be fsynced by a later run.
        if let Err(e) = syncs.sync() {
            tracing::warn!(error = %e, "could not fsync the directories of a failed commit");
        }
        let message = err.to_string();
        for parsed in files {
            record_failure_message(ctx, parsed.job, message.clone());
        }
        return Err(err);
    }
    let bytes_written = shares(
        staged_bytes,
        &files
            .iter()
            .map(ParsedFile::rows_written)
            .collect::<Vec<_>>(),
    );
    let mut summaries = Vec::with_capacity(files.len());
    let mut rest = Vec::with_capacity(files.len());
    for (mut parsed, bytes_written) in files.drain(..).zip(bytes_written) {
        let quarantine = parsed.out.quarantine.take().expect("finished once");
        let rejects_len = quarantine.bytes();
        let (summary, checkpoint, previous) =
            checkpoint_of(ctx, parsed, bytes_written, rejects_len)?;
        let checkpoint = match checkpoint {
            Some((cp_path, checkpoint)) if ctx.side_rows.unpublished() => {
                // Contact or event rows read before this point are not durable yet: the
                // checkpoint waits for the group commit that publishes them.
                ctx.side_rows.defer(cp_path, checkpoint);
                None
            }
            Some((cp_path, checkpoint)) => {
                // Only recorded at the end of the run, once every checkpoint is saved.
                if let Some(stat) = checkpoint.stat
                    && checkpoint.status == Status::Complete
                    && stat.size == checkpoint.offset
                {
                    ctx.settled.settle(&checkpoint.raw_file, stat);
                }
                Some((cp_path, checkpoint))
            }
            None => None,
        };
        rest.push(FileRest {
            quarantine,
            checkpoint,
            previous,
        });
        summaries.push(summary);
    }
    ctx.checkpoints.save(rest)?;
    Ok(summaries)
}

/// `total` split in proportion to `weights` (the last takes the rounding): a file's share of
/// the bytes written for its group, by the rows it wrote.
fn shares(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u64 = weights.iter().sum();
    let mut left = total;
    let mut out: Vec<u64> = weights
        .iter()
        .map(|&w| {
            let share = if sum == 0 {
                0
            } else {
                (u128::from(total) * u128::from(w) / u128::from(sum)) as u64
            };
            left -= share;
            share
        })
        .collect();
    if let Some(last) = out.last_mut() {
        *last += left;
    }
    out
}

/// A checkpoint and where it is saved.
type CheckpointAt = (std::path::PathBuf, Checkpoint);

/// The summary of a published file, and the checkpoint to save for it (none for an archive read
/// beside the live file of its date: the date's checkpoint is the live file's; this copy is read
/// whole whenever that checkpoint is missing), and the one it replaces (where a failure is recorded).
fn checkpoint_of(
    ctx: &mut RunContext,
    parsed: ParsedFile,
    bytes_written: u64,
    rejects_len: u64,
) -> Result<(FileSummary, Option<CheckpointAt>, Option<CheckpointAt>)> {
    let ParsedFile { job, out } = parsed;
    let ParseOutput {
        counts: mut file_counts,
        end_offset,
        next_line,
        held_back_bytes,
        last,
        clock,
        partitions,
        status,
        fingerprint,
        ..
    } = out;
    file_counts.bytes_written += bytes_written;
    ctx.partitions_written.extend(partitions.iter().copied());
    let FileJob {
        raw,
        name,
        file,
        previous,
        mut cumulative,
        reprocessed,
        ..
    } = job;
    cumulative += file_counts;
    let checkpoint = Checkpoint {
        version: CHECKPOINT_VERSION,
        raw_file: name.clone(),
        offset: end_offset,
        line: next_line - 1,
        last_msg_id: last
            .as_ref()
            .map(|(id, _)| id.clone())
            .or(previous.as_ref().and_then(|c| c.last_msg_id.clone())),
        last_create_time: last
            .as_ref()
            .map(|(_, t)| *t)
            .or(previous.as_ref().and_then(|c| c.last_create_time)),
        clock,
        fingerprint,
        stat: Some(FileStat::of(
            &file
                .metadata()
                .map_err(|e| Error::io("stat", &raw.path, e))?,
        )),
        status,
        error: None,
        counts: cumulative,
        rejects_bytes: rejects_len,
        updated_at: now(),
    };
    let cp_path = ctx.layout.checkpoint_path(raw.date);
    create_dir_all_durable(cp_path.parent().expect("checkpoints dir"))?;
    let summary = FileSummary {
        counts: file_counts,
        partitions: partitions.len(),
        status,
        offset: end_offset,
        reprocessed,
        held_back_bytes,
        quarantine: (file_counts.rejected > 0)
            .then(|| ctx.layout.rejects_path_of(&raw).display().to_string()),
    };
    let previous = previous
        .filter(|_| raw.checkpointed)
        .map(|p| (cp_path.clone(), p));
    Ok((
        summary,
        raw.checkpointed.then_some((cp_path, checkpoint)),
        previous,
    ))
}

#[cfg(test)]
mod tests {
    use super::shares;

    #[test]
    fn a_groups_bytes_are_shared_by_rows_and_add_up() {
        assert_eq!(shares(100, &[1, 1, 2]), [25, 25, 50]);
        assert_eq!(shares(10, &[1, 1, 1]), [3, 3, 4]);
        assert_eq!(shares(7, &[0, 0]), [0, 7]);
        assert_eq!(shares(5, &[]), Vec::<u64>::new());
    }
}
