//! Contact and event rows of a run, on their way to the contacts and events tables.
//!
//! They are rare (about one line in a hundred) and spread over every raw file, so writing them
//! per raw file would double the files, fsyncs and directory syncs of a backfill. Instead the run
//! collects them, and writes each table's rows as one file at a *group commit*: at the end of the
//! run, or once [`ROWS_PER_FILE`] rows or [`MAX_DEFERRED`] raw files are waiting. The order stays
//! what makes a crash harmless: a raw file's checkpoint is written only after every side row read
//! before it is published, so a raw file whose rows are still waiting has its checkpoint
//! *deferred* to the group commit. A crash before it re-reads those files; the record keys drop
//! what had landed.

use std::path::PathBuf;

use tempfile::TempPath;

use crate::checkpoint::{Checkpoint, FileStat, Status};
use crate::contact::ContactRow;
use crate::error::Result;
use crate::event::EventRow;
use crate::failpoint;
use crate::lake::Layout;
use crate::lake::side_table::{self, SideTable};
use crate::lake::writer::publish_file;

/// Rows buffered before they are staged as a file (bounds memory: a contact row is ~1–2 KB).
pub const ROWS_PER_FILE: usize = 4_096;

/// Raw files whose checkpoints may wait for a group commit (bounds what a crash re-reads).
pub const MAX_DEFERRED: usize = 8;

/// A checkpoint written once the side rows before it are published.
struct Deferred {
    path: PathBuf,
    checkpoint: Checkpoint,
}

/// The run's side rows, staged files and deferred checkpoints.
#[derive(Default)]
pub struct SideRows {
    contacts: Vec<ContactRow>,
    events: Vec<EventRow>,
    staged: Vec<(SideTable, TempPath)>,
    deferred: Vec<Deferred>,
}

impl SideRows {
    pub fn push_contact(&mut self, layout: &Layout, row: ContactRow) -> Result<()> {
        self.contacts.push(row);
        self.stage_if_full(layout)
    }

    pub fn push_event(&mut self, layout: &Layout, row: EventRow) -> Result<()> {
        self.events.push(row);
        self.stage_if_full(layout)
    }

    fn stage_if_full(&mut self, layout: &Layout) -> Result<()> {
        if self.contacts.len() + self.events.len() >= ROWS_PER_FILE {
            self.stage(layout)?;
        }
        Ok(())
    }

    /// Write the buffered rows to fsynced files in staging.
    fn stage(&mut self, layout: &Layout) -> Result<()> {
        let staging = layout.staging_dir();
        if !self.contacts.is_empty() {
            let batch = crate::contact::to_batch(&self.contacts);
            let tmp = side_table::stage(SideTable::Contacts, &staging, &batch)?;
            self.staged.push((SideTable::Contacts, tmp));
            self.contacts.clear();
        }
        if !self.events.is_empty() {
            let batch = crate::event::to_batch(&self.events);
            let tmp = side_table::stage(SideTable::Events, &staging, &batch)?;
            self.staged.push((SideTable::Events, tmp));
            self.events.clear();
        }
        Ok(())
    }

    /// Whether rows read so far are not yet published (a checkpoint now would be ahead of them).
    pub fn unpublished(&self) -> bool {
        !self.contacts.is_empty() || !self.events.is_empty() || !self.staged.is_empty()
    }

    /// Keep `checkpoint` (for `path`) until the next group commit.
    pub fn defer(&mut self, path: PathBuf, checkpoint: Checkpoint) {
        self.deferred.push(Deferred { path, checkpoint });
    }

    /// Whether a group commit is due before the run's end.
    pub fn due(&self) -> bool {
        self.deferred.len() >= MAX_DEFERRED || !self.staged.is_empty()
    }

    /// Group commit: publish every side row, then write the deferred checkpoints. Calls
    /// `settled` with each raw file that is now fully ingested.
    pub fn commit(
        &mut self,
        layout: &Layout,
        run_id: &str,
        mut settled: impl FnMut(&str, FileStat),
    ) -> Result<()> {
        self.stage(layout)?;
        for (table, tmp) in self.staged.drain(..) {
            let path = publish_file(tmp, &table.dir(layout), run_id)?;
            tracing::debug!(path = %path.display(), table = table.name(), "published");
        }
        let saved = self.deferred.len();
        for (i, d) in self.deferred.drain(..).enumerate() {
            if i == 0 {
                failpoint::hit("ingest.before_checkpoint");
            }
            d.checkpoint.save(&d.path)?;
            if let Some(stat) = d.checkpoint.stat
                && d.checkpoint.status == Status::Complete
                && stat.size == d.checkpoint.offset
            {
                settled(&d.checkpoint.raw_file, stat);
            }
        }
        if saved > 0 {
            failpoint::hit("ingest.after_checkpoint");
        }
        Ok(())
    }
}
