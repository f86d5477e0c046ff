//! The lake's two small tables beside the messages: contacts and events.
//!
//! Both are unpartitioned directories of Parquet files (`parquet/contacts/`, `parquet/events/`)
//! that any engine reads as a plain dataset. Ingest writes one file per raw file that had such
//! records, staged and published exactly like message files, before the checkpoint. Exactly once
//! comes from the `record_key` column: every run loads the keys already stored (one column of a
//! small table) and drops records whose key is there.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use tempfile::TempPath;

use crate::error::{Error, Result};
use crate::lake::Layout;
use crate::lake::footer::read_footer;
use crate::lake::layout::list_data_files;
use crate::lake::reader::for_each_string;
use crate::record::SCHEMA_VERSION_KEY;

/// Which side table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SideTable {
    Contacts,
    Events,
}

impl SideTable {
    pub const ALL: [SideTable; 2] = [SideTable::Contacts, SideTable::Events];

    pub fn name(self) -> &'static str {
        match self {
            SideTable::Contacts => "contacts",
            SideTable::Events => "events",
        }
    }

    pub fn dir(self, layout: &Layout) -> PathBuf {
        match self {
            SideTable::Contacts => layout.contacts_dir(),
            SideTable::Events => layout.events_dir(),
        }
    }

    pub fn schema_version(self) -> u32 {
        match self {
            SideTable::Contacts => crate::contact::CONTACTS_SCHEMA_VERSION,
            SideTable::Events => crate::event::EVENTS_SCHEMA_VERSION,
        }
    }

    /// The table's data files, sorted by name.
    pub fn files(self, layout: &Layout) -> Result<Vec<PathBuf>> {
        list_data_files(&self.dir(layout))
    }

    /// Every `record_key` stored in the table.
    pub fn load_keys(self, layout: &Layout) -> Result<HashSet<String>> {
        let mut keys = HashSet::new();
        for path in self.files(layout)? {
            for_each_string(&path, "record_key", |k| {
                keys.insert(k.to_string());
            })?;
        }
        Ok(keys)
    }
}

/// Size of a side table, from its footers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableStats {
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
}

impl SideTable {
    /// Files, rows and bytes, from the footers only.
    pub fn stats(self, layout: &Layout) -> Result<TableStats> {
        let mut stats = TableStats::default();
        for path in self.files(layout)? {
            let info = read_footer(&path)?;
            stats.files += 1;
            stats.rows += info.rows;
            stats.bytes += info.bytes;
        }
        Ok(stats)
    }

    /// Read every file whole: each must open, hold as many rows as its footer says and a
    /// record_key in every row, and no record_key may be stored twice; the directory holds only
    /// data files. Each problem goes to `problem`.
    pub fn verify(
        self,
        layout: &Layout,
        mut problem: impl FnMut(&Path, String),
    ) -> Result<TableStats> {
        for path in crate::lake::layout::stray_entries(&self.dir(layout)) {
            problem(&path, "not a data file; readers may trip over it".into());
        }
        let mut stats = TableStats::default();
        let mut first: std::collections::HashMap<String, PathBuf> = Default::default();
        for path in self.files(layout)? {
            let info = match read_footer(&path) {
                Ok(info) => info,
                Err(e) => {
                    problem(&path, crate::commands::verify::reason_for(&e, &path));
                    continue;
                }
            };
            if let Err(e) = info.check_integrity() {
                problem(&path, crate::commands::verify::reason_for(&e, &path));
            }
            stats.files += 1;
            stats.bytes += info.bytes;
            let mut keys = 0u64;
            let mut twice = 0u64;
            let read = for_each_string(&path, "record_key", |k| {
                keys += 1;
                if first.insert(k.to_string(), path.clone()).is_some() {
                    twice += 1;
                }
            });
            match read {
                Ok(rows) => {
                    stats.rows += rows;
                    if rows != info.rows {
                        problem(
                            &path,
                            format!("footer says {} rows, the data holds {rows}", info.rows),
                        );
                    }
                    if keys != rows {
                        problem(&path, format!("{} rows without a record_key", rows - keys));
                    }
                    if twice > 0 {
                        problem(
                            &path,
                            format!(
                                "{twice} record_keys stored twice in the {} table",
                                self.name()
                            ),
                        );
                    }
                }
                Err(e) => problem(&path, crate::commands::verify::reason_for(&e, &path)),
            }
        }
        Ok(stats)
    }
}

/// What compacting a side table did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableCompaction {
    pub table: &'static str,
    pub files_before: u64,
    pub files_after: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub rows: u64,
    pub duplicates_removed: u64,
}

impl SideTable {
    /// Whether compacting would change anything: more than one file.
    pub fn needs_compaction(self, layout: &Layout) -> Result<bool> {
        Ok(self.files(layout)?.len() > 1)
    }

    /// Merge the table's files into one, in file order, keeping the first row of each
    /// record_key; the new file replaces the old ones in one atomic directory exchange (see
    /// [`crate::lake::swap`]), after its record_keys are checked against the inputs'.
    /// Failpoints `compact_table.staged`, `.journaled`, `.swapped` and `.cleaned`.
    pub fn compact(self, layout: &Layout, run_id: &str) -> Result<Option<TableCompaction>> {
        use crate::lake::reader::{conform, open_projected};
        let inputs = self.files(layout)?;
        if inputs.len() <= 1 {
            return Ok(None);
        }
        let schema = match self {
            SideTable::Contacts => crate::contact::arrow_schema(),
            SideTable::Events => crate::event::arrow_schema(),
        };
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let mut batches = Vec::new();
        let mut bytes_before = 0;
        for path in &inputs {
            let info = read_footer(path)?;
            info.check_integrity()?;
            bytes_before += info.bytes;
            for batch in open_projected(path, &names)? {
                let batch = batch.map_err(|e| Error::data(path, e.to_string()))?;
                batches.push(conform(path, &batch, &schema)?);
            }
        }
        let all = arrow_select::concat::concat_batches(&schema, &batches)
            .map_err(|e| Error::data(self.dir(layout), e.to_string()))?;
        drop(batches);
        let keys = all
            .column_by_name("record_key")
            .and_then(|c| c.as_any().downcast_ref::<arrow_array::StringArray>())
            .ok_or_else(|| Error::data(self.dir(layout), "no record_key column"))?;
        let mut seen = HashSet::new();
        let keep: Vec<u32> = (0..all.num_rows() as u32)
            .filter(|&i| seen.insert(keys.value(i as usize).to_string()))
            .collect();
        let duplicates = all.num_rows() as u64 - keep.len() as u64;
        let merged =
            arrow_select::take::take_record_batch(&all, &arrow_array::UInt32Array::from(keep))
                .map_err(|e| Error::data(self.dir(layout), e.to_string()))?;
        drop(all);

        let swap_dir = layout.swap_root().join(format!("{}-{run_id}", self.name()));
        std::fs::create_dir_all(&swap_dir).map_err(|e| Error::io("create", &swap_dir, e))?;
        let tmp = stage(self, &swap_dir, &merged)?;
        let output = crate::lake::writer::publish_file(tmp, &swap_dir, run_id)?;
        crate::failpoint::hit("compact_table.staged");
        let mut stored = HashSet::new();
        let rows = for_each_string(&output, "record_key", |k| {
            stored.insert(k.to_string());
        })?;
        if stored != seen || rows != merged.num_rows() as u64 {
            return Err(Error::data(
                &output,
                "the merged file does not hold the inputs' records; nothing was replaced",
            ));
        }
        let bytes_after = read_footer(&output)?.bytes;
        let name = |p: &Path| {
            p.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string()
        };
        let journal = crate::lake::swap::SwapJournal {
            operation: "compact".to_string(),
            partition: self.name().to_string(),
            swap_dir: swap_dir
                .strip_prefix(layout.root())
                .unwrap_or(&swap_dir)
                .to_string_lossy()
                .into_owned(),
            inputs: inputs.iter().map(|p| name(p)).collect(),
            outputs: vec![name(&output)],
            table: Some(self.name().to_string()),
        };
        crate::lake::swap::swap_in(
            layout,
            &self.dir(layout),
            &swap_dir,
            &journal,
            "compact_table",
        )?;
        Ok(Some(TableCompaction {
            table: self.name(),
            files_before: inputs.len() as u64,
            files_after: 1,
            bytes_before,
            bytes_after,
            rows,
            duplicates_removed: duplicates,
        }))
    }
}

/// Writer properties of side-table files: Snappy, schema version in the metadata.
fn properties(table: SideTable) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("wxlake {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(
                SCHEMA_VERSION_KEY.to_string(),
                table.schema_version().to_string(),
            ),
            KeyValue::new("wxlake.table".to_string(), table.name().to_string()),
        ]))
        .build()
}

/// Write `batch` as one fsynced Parquet file in `staging_dir`; publish it with
/// [`crate::lake::writer::publish_file`].
pub fn stage(table: SideTable, staging_dir: &Path, batch: &RecordBatch) -> Result<TempPath> {
    let tmp = crate::fsutil::temp_builder(
        crate::lake::names::STAGED_PREFIX,
        crate::lake::names::STAGED_SUFFIX,
    )
    .tempfile_in(staging_dir)
    .map_err(|e| Error::io("create a staging file in", staging_dir, e))?;
    let (file, tmp) = tmp.into_parts();
    let fail = |e: parquet::errors::ParquetError| {
        Error::io("write Parquet", &*tmp, std::io::Error::other(e))
    };
    let mut writer = ArrowWriter::try_new(
        crate::lake::checksum::Checksummed::new(file),
        batch.schema(),
        Some(properties(table)),
    )
    .map_err(fail)?;
    writer.write(batch).map_err(fail)?;
    let file = crate::lake::checksum::close(writer).map_err(fail)?;
    file.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
    Ok(tmp)
}
