//! The one way into the lake: every command opens it through a [`Reader`] or a [`Writer`].
//!
//! A reader needs the layout and the time zone partitions were cut in, and takes no lock. A
//! writer also holds the lake's one `flock`, and before it changes anything it finishes or undoes
//! whatever a crashed writer left: interrupted partition swaps ([`crate::lake::swap::recover`])
//! and temp files in staging and metadata. Keeping this in one place means no command can forget
//! a step, and a second storage backend later is a new implementation of this module and of the
//! listing and publishing functions, not edits across commands.

use std::path::Path;
use std::time::Duration;

use chrono_tz::Tz;

use crate::dates::DateArg;
use crate::error::{Error, Result};
use crate::fsutil::{create_dir_all_durable, remove_stale_temps};
use crate::lake::Layout;
use crate::lake::listing::{PartitionListing, list_partitions, resolve_days};
use crate::lake::meta::{LakeMeta, resolve_timezone};
use crate::lake::swap::{Recovered, recover};
use crate::lock::LakeLock;

/// A lake opened for reading.
#[derive(Debug, Clone)]
pub struct Reader {
    pub layout: Layout,
    pub tz: Tz,
}

impl Reader {
    /// Open the lake in `data_dir` (an error when there is none), checking `timezone` (from
    /// `--timezone`) against the lake's.
    pub fn open(data_dir: &Path, timezone: Option<&str>) -> Result<Self> {
        let layout = Layout::new(data_dir);
        layout.require_lake()?;
        let (tz, _) = resolve_timezone(&layout, timezone)?;
        Ok(Reader { layout, tz })
    }

    /// Today in the lake's time zone.
    pub fn today(&self) -> chrono::NaiveDate {
        chrono::Utc::now().with_timezone(&self.tz).date_naive()
    }
}

/// What a writer is opening the lake for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Adding new data: the lake is created when there is none yet.
    Ingest,
    /// Rewriting what is stored (compact, archive, migrate): the lake must exist.
    Maintenance,
}

/// A lake opened for writing: its lock is held until this is dropped.
#[derive(Debug)]
pub struct Writer {
    pub layout: Layout,
    pub tz: Tz,
    /// `metadata/lake.json`; `None` for a lake that ingest is about to create.
    pub meta: Option<LakeMeta>,
    /// Swaps a crashed writer left, finished or undone on opening.
    pub recovered: Vec<Recovered>,
    _lock: LakeLock,
}

impl Writer {
    /// Lock the lake in `data_dir` as `command` (waiting up to `wait`), resolve its time zone,
    /// recover interrupted swaps and remove temp files left by a crashed run.
    pub fn open(
        data_dir: &Path,
        timezone: Option<&str>,
        command: &str,
        wait: Option<Duration>,
        purpose: Purpose,
    ) -> Result<Self> {
        let layout = Layout::new(data_dir);
        match purpose {
            Purpose::Ingest => check_data_dir(&layout)?,
            Purpose::Maintenance => layout.require_lake()?,
        }
        // What is written is never more readable than what it is made from (see ingest's
        // per-file rule: this is the ceiling for the whole run).
        crate::fsutil::limit_readability(match purpose {
            Purpose::Ingest => 0o644,
            Purpose::Maintenance => layout.raw_readability(),
        });
        create_dir_all_durable(&layout.metadata_dir())?;
        let lock = LakeLock::acquire(&layout.lock_path(), command, wait)?;
        let (tz, meta) = resolve_timezone(&layout, timezone)?;
        // Each recovered swap is logged where it is found.
        let recovered = recover(&layout)?;
        clean_temps(&layout)?;
        Ok(Writer {
            layout,
            tz,
            meta,
            recovered,
            _lock: lock,
        })
    }
}

impl Writer {
    /// The partitions between `start` and `end` (`--start`/`--end`: days in the lake's zone,
    /// inclusive; none for the oldest/newest), with their files' footers.
    pub fn partitions(
        &self,
        start: Option<DateArg>,
        end: Option<DateArg>,
    ) -> Result<Vec<PartitionListing>> {
        let (start, end) = resolve_days(start, end, self.tz)?;
        list_partitions(&self.layout, start, end)
    }
}

fn check_data_dir(layout: &Layout) -> Result<()> {
    let root = layout.root();
    if !root.is_dir() {
        return Err(Error::usage(
            "--data-dir",
            root.display().to_string(),
            "no such directory; pass the directory that holds messages/raw (or set WXLAKE_DATA_DIR)",
        ));
    }
    if !layout.raw_dir().is_dir() {
        return Err(Error::usage(
            "--data-dir",
            root.display().to_string(),
            format!(
                "{} does not exist; the collector writes YYYY-MM-DD.jsonl files there",
                layout.raw_dir().display()
            ),
        ));
    }
    Ok(())
}

/// Remove temp files a crashed run left in staging and metadata (we hold the lock: nobody else
/// writes there).
fn clean_temps(layout: &Layout) -> Result<()> {
    remove_stale_temps(&layout.metadata_dir())?;
    remove_stale_temps(&layout.metadata_dir().join("checkpoints"))?;
    let staging = layout.staging_dir();
    create_dir_all_durable(&staging)?;
    let entries = std::fs::read_dir(&staging).map_err(|e| Error::io("list", &staging, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        tracing::info!(path = %path.display(), "removing a temp file left by an interrupted run");
        std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
    }
    Ok(())
}
