//! Committing one parsed raw file, in the order that makes a crash harmless (see the parent
//! module): publish its staged files, make its rejects durable, then advance its checkpoint.

use crate::checkpoint::{CHECKPOINT_VERSION, Checkpoint, FileStat, Status};
use crate::commands::ingest::RunContext;
use crate::commands::ingest::summary::FileSummary;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::fsutil::create_dir_all_durable;
use crate::lake::writer::{StagedFile, publish};

use super::*;

/// Publish what the encoder staged for `parsed`, make its rejects durable, then advance its
/// checkpoint.
pub fn commit(
    ctx: &mut RunContext,
    parsed: ParsedFile,
    staged: Vec<StagedFile>,
) -> Result<FileSummary> {
    let ParsedFile { job, out } = parsed;
    let ParseOutput {
        counts: mut file_counts,
        end_offset,
        next_line,
        held_back_bytes,
        last,
        clock,
        quarantine,
        partitions,
        status,
        fingerprint,
    } = out;
    let result = (|| {
        failpoint::hit("ingest.staged");
        // The index must list every row before any reader can see it.
        ctx.lake_ids.sync()?;
        for (i, file) in staged.into_iter().enumerate() {
            if i > 0 {
                failpoint::hit("ingest.between_publishes");
            }
            file_counts.bytes_written += file.bytes;
            let dir = ctx.layout.partition_dir(file.partition);
            let rows = file.rows;
            let path = publish(file, &dir, &ctx.run_id)?;
            tracing::debug!(path = %path.display(), rows, "published");
        }
        failpoint::hit("ingest.published");
        quarantine.finish()
    })();
    let rejects_len = match result {
        Ok(len) => len,
        Err(err) => return Err(record_failure(ctx, job, err)),
    };
    ctx.partitions_written.extend(partitions.iter().copied());

    failpoint::hit("ingest.before_checkpoint");
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
    if !raw.checkpointed {
        // An archive read beside the live file of its date: the date's checkpoint is the
        // live file's; this copy is read whole whenever that checkpoint is missing.
    } else if ctx.side_rows.unpublished() {
        // Contact or event rows read before this point are not durable yet: the checkpoint
        // waits for the group commit that publishes them.
        ctx.side_rows.defer(cp_path, checkpoint);
    } else {
        checkpoint.save(&cp_path)?;
        failpoint::hit("ingest.after_checkpoint");
        if let Some(stat) = checkpoint.stat
            && status == Status::Complete
            && stat.size == end_offset
        {
            ctx.settled.settle(&checkpoint.raw_file, stat);
        }
    }

    Ok(FileSummary {
        counts: file_counts,
        partitions: partitions.len(),
        status,
        offset: end_offset,
        reprocessed,
        held_back_bytes,
        quarantine: (file_counts.rejected > 0)
            .then(|| ctx.layout.rejects_path_of(&raw).display().to_string()),
    })
}
