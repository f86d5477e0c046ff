//! Whether the raw files of a query's days hold bytes not yet ingested: said on stderr, since
//! the answer may then miss messages.

use crate::lake::Layout;

use super::*;

/// Say on stderr when raw files of the range's days (and the day either side: files may be
/// named by UTC date, and messages arrive late) hold bytes not yet ingested: the answer may miss
/// them. A `stat` and a small read per day.
pub(super) fn note_unprocessed_raw_bytes(layout: &Layout, range: &TimeRange) {
    let (Some(first), Some(last)) = (range.days().next(), range.days().next_back()) else {
        return;
    };
    let mut day = first - chrono::Duration::days(1);
    while day <= last + chrono::Duration::days(1) {
        let raw = layout.raw_file(day);
        if let Ok(meta) = std::fs::metadata(&raw) {
            let done = crate::checkpoint::Checkpoint::load(&layout.checkpoint_path(day))
                .ok()
                .flatten()
                .map_or(0, |c| c.offset);
            if meta.len() > done {
                tracing::warn!(
                    "{} has {} not yet ingested: this answer may miss messages (run wxlake ingest)",
                    raw.display(),
                    crate::units::human_bytes(meta.len() - done)
                );
            }
        }
        day += chrono::Duration::days(1);
    }
}
