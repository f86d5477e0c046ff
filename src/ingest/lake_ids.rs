//! The dedup scope of a run: the msg_ids of every partition the run touches, loaded lazily.
//!
//! A message's partition is fixed by its create_time, so a msg_id can only collide with ids in
//! the same partition; reading only those partitions' msg_id column keeps the cost of a run in
//! proportion to its new data, not to the size of the lake.

use std::collections::{BTreeMap, BTreeSet};

use crate::dedup::SeenIds;
use crate::error::Result;
use crate::lake::Layout;
use crate::lake::reader::for_each_msg_id;
use crate::partition::PartitionKey;

/// Seen-sets of the partitions touched so far.
#[derive(Default)]
pub struct LakeIds {
    partitions: BTreeMap<PartitionKey, SeenIds>,
}

impl LakeIds {
    /// The seen-set of `key`, reading the partition's stored msg_ids the first time.
    pub fn partition(&mut self, layout: &Layout, key: PartitionKey) -> Result<&mut SeenIds> {
        use std::collections::btree_map::Entry;
        match self.partitions.entry(key) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => {
                let mut seen = SeenIds::new();
                let mut rows = 0;
                for file in layout.partition_files(key)? {
                    rows += for_each_msg_id(&file, |id| seen.insert_stored(id))?;
                }
                tracing::debug!(partition = %key, rows, ids = seen.len(), "loaded stored msg_ids");
                Ok(e.insert(seen))
            }
        }
    }

    /// Forget every partition not in `keep` (they are reloaded from the lake if touched again).
    pub fn retain(&mut self, keep: &BTreeSet<PartitionKey>) {
        self.partitions.retain(|k, _| keep.contains(k));
    }
}
