//! Committing parsed raw files, in the order that makes a crash harmless (see the parent
//! module): publish their staged files, make their rejects durable, then advance their
//! checkpoints.

use crate::checkpoint::{CHECKPOINT_VERSION, Checkpoint, FileStat, Status};
use crate::commands::ingest::RunContext;
use crate::commands::ingest::summary::FileSummary;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::fsutil::{DirSyncs, create_dir_all_durable};
use crate::lake::writer::{StagedFile, publish_deferred};

use super::*;

/// A parsed file with the files the encoder staged for it.
pub struct Sealed {
    pub parsed: ParsedFile,
    pub staged: Vec<StagedFile>,
}

/// Commit several files at once, in the order of the parent module, each step for all of them
/// before the next: publish their staged files, make their rejects durable, then advance their
/// checkpoints. Each directory is fsynced once per step for all of them instead of once per
/// file (a group commit). On an error, every file of the group records it in its checkpoint.
pub fn commit_group(ctx: &mut RunContext, files: Vec<Sealed>) -> Result<Vec<FileSummary>> {
    let mut syncs = DirSyncs::default();
    let mut published = Vec::with_capacity(files.len());
    let mut files = files.into_iter();
    let result = (|| -> Result<Vec<u64>> {
        failpoint::hit("ingest.staged");
        // The index must list every row before any reader can see it.
        ctx.lake_ids.sync()?;
        let mut first = true;
        for Sealed { parsed, staged } in files.by_ref() {
            let mut bytes_written = 0;
            for file in staged {
                if !std::mem::take(&mut first) {
                    failpoint::hit("ingest.between_publishes");
                }
                bytes_written += file.bytes;
                let dir = ctx.layout.partition_dir(file.partition);
                let rows = file.rows;
                let path = publish_deferred(file, &dir, &ctx.run_id, &mut syncs)?;
                tracing::debug!(path = %path.display(), rows, "published");
            }
            published.push((parsed, bytes_written));
        }
        syncs.sync()?;
        failpoint::hit("ingest.published");
        let mut rejects_lens = Vec::with_capacity(published.len());
        for (parsed, _) in &mut published {
            let quarantine = parsed.out.quarantine.take().expect("finished once");
            rejects_lens.push(quarantine.finish_deferred(&mut syncs)?);
        }
        syncs.sync()?;
        Ok(rejects_lens)
    })();
    let rejects_lens = match result {
        Ok(lens) => lens,
        Err(err) => {
            let message = err.to_string();
            let unpublished = files.map(|s| s.parsed);
            for parsed in published.into_iter().map(|(p, _)| p).chain(unpublished) {
                let again = Error::data(&parsed.job.raw.path, message.clone());
                let _ = record_failure(ctx, parsed.job, again);
            }
            return Err(err);
        }
    };
    let mut summaries = Vec::with_capacity(published.len());
    let mut saved = Vec::new();
    for ((parsed, bytes_written), rejects_len) in published.into_iter().zip(rejects_lens) {
        failpoint::hit("ingest.before_checkpoint");
        let (summary, checkpoint) = checkpoint_of(ctx, parsed, bytes_written, rejects_len)?;
        if let Some((cp_path, checkpoint)) = checkpoint {
            if ctx.side_rows.unpublished() {
                // Contact or event rows read before this point are not durable yet: the
                // checkpoint waits for the group commit that publishes them.
                ctx.side_rows.defer(cp_path, checkpoint);
            } else {
                checkpoint.save_deferred(&cp_path, &mut syncs)?;
                saved.push(checkpoint);
            }
        }
        summaries.push(summary);
    }
    syncs.sync()?;
    for checkpoint in saved {
        failpoint::hit("ingest.after_checkpoint");
        if let Some(stat) = checkpoint.stat
            && checkpoint.status == Status::Complete
            && stat.size == checkpoint.offset
        {
            ctx.settled.settle(&checkpoint.raw_file, stat);
        }
    }
    Ok(summaries)
}

/// The summary of a published file, and the checkpoint to save for it (none for an archive read
/// beside the live file of its date: the date's checkpoint is the live file's; this copy is read
/// whole whenever that checkpoint is missing).
fn checkpoint_of(
    ctx: &mut RunContext,
    parsed: ParsedFile,
    bytes_written: u64,
    rejects_len: u64,
) -> Result<(FileSummary, Option<(std::path::PathBuf, Checkpoint)>)> {
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
    Ok((summary, raw.checkpointed.then_some((cp_path, checkpoint))))
}
