//! Which partition a message belongs to: its `create_time` as a local date in the lake's time
//! zone, laid out the Hive way as `year=YYYY/month=MM/day=DD`.
//!
//! Pure. A message's partition is fixed by its create_time, which is what lets dedup and queries
//! look at only the partitions a run or a date range touches.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;

/// One partition: a local calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey(pub NaiveDate);

impl PartitionKey {
    /// The smallest key (for range scans).
    pub const MIN: PartitionKey = PartitionKey(NaiveDate::MIN);

    /// The partition of unix second `create_time` in `tz`.
    pub fn of(create_time: i64, tz: Tz) -> Self {
        let utc = DateTime::from_timestamp(create_time, 0).unwrap_or_default();
        PartitionKey(utc.with_timezone(&tz).date_naive())
    }

    /// The date.
    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// The directory relative to the lake root, e.g. `year=2026/month=01/day=22`.
    pub fn rel_dir(self) -> PathBuf {
        PathBuf::from(self.to_string())
    }

    /// Parse a relative directory such as `year=2026/month=01/day=22`.
    pub fn from_rel_dir(path: &Path) -> Option<Self> {
        let mut parts = path.iter().map(|p| p.to_str());
        let y = parts.next()??.strip_prefix("year=")?;
        let m = parts.next()??.strip_prefix("month=")?;
        let d = parts.next()??.strip_prefix("day=")?;
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).map(PartitionKey)
    }
}

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(
            f,
            "year={:04}/month={:02}/day={:02}",
            d.year(),
            d.month(),
            d.day()
        )
    }
}

/// Maps create_times to partitions, remembering the UTC span of the last local day so that a
/// run over one day's messages needs one time-zone lookup, not one per message.
#[derive(Debug, Clone)]
pub struct Partitioner {
    tz: Tz,
    /// `[start, end)` in unix seconds of the last key's local day.
    span: Option<(i64, i64, PartitionKey)>,
}

impl Partitioner {
    pub fn new(tz: Tz) -> Self {
        Partitioner { tz, span: None }
    }

    /// The partition of unix second `create_time`.
    pub fn key(&mut self, create_time: i64) -> PartitionKey {
        if let Some((start, end, key)) = self.span
            && (start..end).contains(&create_time)
        {
            return key;
        }
        let key = PartitionKey::of(create_time, self.tz);
        self.span = day_span(self.tz, key.0).map(|(s, e)| (s, e, key));
        key
    }
}

/// The unix-second span `[start, end)` of local day `date` in `tz`, when both midnights exist.
fn day_span(tz: Tz, date: NaiveDate) -> Option<(i64, i64)> {
    let start = tz
        .from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .earliest()?;
    let next = date.succ_opt()?.and_hms_opt(0, 0, 0)?;
    let end = tz.from_local_datetime(&next).earliest()?;
    Some((start.timestamp(), end.timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHANGHAI: Tz = chrono_tz::Asia::Shanghai;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn shanghai_midnight_splits_days() {
        // 2026-01-21T23:59:59+08:00 and 2026-01-22T00:00:00+08:00
        let before = 1_769_011_199;
        assert_eq!(PartitionKey::of(before, SHANGHAI).0, date(2026, 1, 21));
        assert_eq!(PartitionKey::of(before + 1, SHANGHAI).0, date(2026, 1, 22));
        assert_eq!(
            PartitionKey::of(before, chrono_tz::UTC).0,
            date(2026, 1, 21)
        );
    }

    #[test]
    fn rel_dir_is_zero_padded_and_round_trips() {
        let key = PartitionKey(date(2026, 1, 2));
        assert_eq!(key.rel_dir(), PathBuf::from("year=2026/month=01/day=02"));
        assert_eq!(PartitionKey::from_rel_dir(&key.rel_dir()), Some(key));
        assert_eq!(
            PartitionKey::from_rel_dir(Path::new("year=2026/month=1/day=02")),
            None
        );
        assert_eq!(
            PartitionKey::from_rel_dir(Path::new("year=2026/month=02/day=30")),
            None
        );
        assert_eq!(
            PartitionKey::from_rel_dir(Path::new("year=2026/month=02")),
            None
        );
    }

    #[test]
    fn partitioner_cache_agrees_with_direct_conversion() {
        for tz in [SHANGHAI, chrono_tz::America::New_York, chrono_tz::UTC] {
            let mut p = Partitioner::new(tz);
            // Walk across a DST change in New York (2026-03-08) in 17-minute steps.
            let start = 1_772_800_000;
            for t in (start..start + 5 * 86_400).step_by(17 * 60) {
                assert_eq!(p.key(t), PartitionKey::of(t, tz), "{tz} {t}");
            }
        }
    }
}
