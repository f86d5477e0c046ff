//! `--start`/`--end` → the half-open range of unix seconds a query covers, and the partition days
//! it touches.
//!
//! Pure. A bound is a day (`YYYY-MM-DD`, `today`, `yesterday`) or a local date-time
//! (`YYYY-MM-DDTHH:MM[:SS]`), both in the lake's time zone, or a date-time with its UTC offset
//! (`2026-01-20T09:30:00+08:00`, the form tables and CSV print), an instant in any zone. Both bounds are inclusive to their
//! precision: `--end 2026-01-20` includes that whole day, `--end 2026-01-20T10:30` that whole
//! minute. A local time that a DST change skips is taken at the first instant after the gap; one it
//! repeats, at its first occurrence (for a start) or its last (for an end), so a range never
//! loses the doubled hour.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Timelike,
};
use chrono_tz::Tz;

use crate::dates::{DateArg, parse_ymd};
use crate::error::{Error, Result};
use crate::partition::PartitionKey;

/// One `--start` or `--end` value as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// A whole day.
    Day(DateArg),
    /// A local date-time; `seconds` says whether seconds were given (else the whole minute).
    At { at: NaiveDateTime, seconds: bool },
    /// A date-time with its UTC offset: an instant (unix seconds), whole second or minute.
    Instant {
        unix: i64,
        offset_secs: i32,
        seconds: bool,
    },
}

impl FromStr for Bound {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some((day, time)) = s.split_once('T') {
            // A trailing UTC offset (+08:00, -05:00, Z) makes it an instant.
            let offset = time.strip_suffix('Z').map(|t| (t, 0)).or_else(|| {
                let at = time.rfind(['+', '-'])?;
                let (t, off) = time.split_at(at);
                let sign = if off.starts_with('-') { -1 } else { 1 };
                let (h, m) = off[1..].split_once(':')?;
                let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
                (h <= 23 && m <= 59 && off.len() == 6).then_some((t, sign * (h * 3600 + m * 60)))
            });
            if let Some((local, offset_secs)) = offset {
                return match format!("{day}T{local}").parse::<Bound>() {
                    Ok(Bound::At { at, seconds }) => Ok(Bound::Instant {
                        unix: at.and_utc().timestamp() - i64::from(offset_secs),
                        offset_secs,
                        seconds,
                    }),
                    _ => Err(BOUND_FORMS.to_string()),
                };
            }
            let shape = |t: &str| {
                t.bytes().enumerate().all(|(i, b)| {
                    if i % 3 == 2 {
                        b == b':'
                    } else {
                        b.is_ascii_digit()
                    }
                })
            };
            let time = match time.len() {
                5 if shape(time) => NaiveTime::parse_from_str(time, "%H:%M")
                    .ok()
                    .map(|t| (t, false)),
                8 if shape(time) => NaiveTime::parse_from_str(time, "%H:%M:%S")
                    .ok()
                    .map(|t| (t, true)),
                _ => None,
            };
            // chrono reads second 60 as a leap second; a log never holds one.
            let time = time.filter(|(t, _)| t.nanosecond() == 0);
            return match (parse_ymd(day), time) {
                (Some(d), Some((t, seconds))) => Ok(Bound::At {
                    at: d.and_time(t),
                    seconds,
                }),
                _ => Err(BOUND_FORMS.to_string()),
            };
        }
        s.parse::<DateArg>().map(Bound::Day).map_err(|_| {
            // The right shape but no such day (2026-01-32) says so, as `ingest --date` does.
            let shaped = s.len() == 10
                && s.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            if shaped {
                format!("{s} is not a real calendar day")
            } else {
                BOUND_FORMS.to_string()
            }
        })
    }
}

const BOUND_FORMS: &str = "expected YYYY-MM-DD, today, yesterday, a local date-time \
     YYYY-MM-DDTHH:MM[:SS], or one with its offset (2026-01-20T09:30:00+08:00)";

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Day(d) => d.fmt(f),
            Bound::At { at, seconds: true } => write!(f, "{}", at.format("%Y-%m-%dT%H:%M:%S")),
            Bound::At { at, seconds: false } => write!(f, "{}", at.format("%Y-%m-%dT%H:%M")),
            Bound::Instant {
                unix,
                offset_secs,
                seconds,
            } => {
                let offset = chrono::FixedOffset::east_opt(*offset_secs).expect("parsed offset");
                let at = DateTime::from_timestamp(*unix, 0)
                    .unwrap_or_default()
                    .with_timezone(&offset);
                let form = if *seconds {
                    "%Y-%m-%dT%H:%M:%S%:z"
                } else {
                    "%Y-%m-%dT%H:%M%:z"
                };
                write!(f, "{}", at.format(form))
            }
        }
    }
}

/// The instants and days a query covers: `start <= create_time < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// First unix second included.
    pub start: i64,
    /// First unix second excluded.
    pub end: i64,
    /// The partition of `start`.
    pub first_day: NaiveDate,
    /// The partition of `end - 1`.
    pub last_day: NaiveDate,
}

impl TimeRange {
    /// Resolve `--start`/`--end` in `tz`, given today's date there. Without `end`, the range ends
    /// with the start's day. An end before the start is a usage error.
    pub fn resolve(start: Bound, end: Option<Bound>, tz: Tz, today: NaiveDate) -> Result<Self> {
        let lo = match start {
            Bound::Day(d) => day_start(d.resolve(today), tz),
            Bound::At { at, .. } => local_instant(at, tz, Edge::Earliest),
            Bound::Instant { unix, .. } => unix,
        };
        let hi = match end.unwrap_or(match start {
            Bound::Day(d) => Bound::Day(d),
            Bound::At { at, .. } => Bound::Day(DateArg::Date(at.date())),
            Bound::Instant { unix, .. } => {
                Bound::Day(DateArg::Date(PartitionKey::of(unix, tz).date()))
            }
        }) {
            Bound::Instant { unix, seconds, .. } => unix + if seconds { 1 } else { 60 },
            Bound::Day(d) => day_start(next_day(d.resolve(today)), tz),
            Bound::At { at, seconds } => {
                // Up to the end of the bound's last occurrence (a repeated 01:30 covers both),
                // never into a repeated hour that only starts after it: `--end 00:59` on a
                // fall-back night stops at the first 01:00.
                let step = if seconds { 1 } else { 60 };
                match tz.from_local_datetime(&at) {
                    LocalResult::None => {
                        local_instant(at + Duration::seconds(step), tz, Edge::Earliest)
                    }
                    _ => local_instant(at, tz, Edge::Latest) + step,
                }
            }
        };
        if hi <= lo {
            return Err(Error::usage(
                "--end",
                end.map(|e| e.to_string()).unwrap_or_default(),
                format!("the end is before the start ({start}); pass an --end on or after it"),
            ));
        }
        Ok(TimeRange {
            start: lo,
            end: hi,
            first_day: PartitionKey::of(lo, tz).date(),
            last_day: PartitionKey::of(hi - 1, tz).date(),
        })
    }

    /// The partition days of the range, oldest first.
    pub fn days(&self) -> impl DoubleEndedIterator<Item = NaiveDate> + use<> {
        let first = self.first_day;
        let n = (self.last_day - first).num_days().max(-1) + 1;
        (0..n).map(move |i| first + Duration::days(i))
    }

    /// Whether every instant of `[lo, hi]` (inclusive) is inside the range.
    pub fn covers(&self, lo: i64, hi: i64) -> bool {
        lo >= self.start && hi < self.end
    }

    /// Whether some instant of `[lo, hi]` (inclusive) is inside the range.
    pub fn overlaps(&self, lo: i64, hi: i64) -> bool {
        hi >= self.start && lo < self.end
    }
}

#[derive(Clone, Copy)]
enum Edge {
    Earliest,
    Latest,
}

fn next_day(d: NaiveDate) -> NaiveDate {
    d.succ_opt().unwrap_or(NaiveDate::MAX)
}

/// The first instant of local day `d`.
fn day_start(d: NaiveDate, tz: Tz) -> i64 {
    local_instant(d.and_time(NaiveTime::MIN), tz, Edge::Earliest)
}

/// Unix seconds of local time `t` in `tz`. A time in a DST gap maps to the end of the gap.
fn local_instant(t: NaiveDateTime, tz: Tz, edge: Edge) -> i64 {
    match tz.from_local_datetime(&t) {
        LocalResult::Single(dt) => dt.timestamp(),
        LocalResult::Ambiguous(a, b) => match edge {
            Edge::Earliest => a.timestamp().min(b.timestamp()),
            Edge::Latest => a.timestamp().max(b.timestamp()),
        },
        LocalResult::None => first_instant_at_or_after(t, tz),
    }
}

/// The first instant whose local time is `t` or later; for a `t` inside a DST gap, the moment
/// the clocks jump. Local time only goes backwards at a fall-back, never within a day of a gap,
/// so bisection over one day either side is exact.
fn first_instant_at_or_after(t: NaiveDateTime, tz: Tz) -> i64 {
    let target = t.and_utc().timestamp();
    let local = |u: i64| {
        let utc = DateTime::from_timestamp(u, 0)
            .unwrap_or_default()
            .naive_utc();
        u + i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
    };
    let (mut lo, mut hi) = (target - 86_400, target + 86_400);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local(mid) >= target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHANGHAI: Tz = chrono_tz::Asia::Shanghai;
    const NEW_YORK: Tz = chrono_tz::America::New_York;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 21).unwrap()
    }

    fn range(start: &str, end: Option<&str>, tz: Tz) -> Result<TimeRange> {
        let start = start.parse().unwrap();
        let end = end.map(|e| e.parse().unwrap());
        TimeRange::resolve(start, end, tz, today())
    }

    fn utc(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    #[test]
    fn parses_every_bound_form_and_rejects_the_rest() {
        for ok in [
            "2026-01-20",
            "today",
            "yesterday",
            "2026-01-20T10:30",
            "2026-01-20T23:59:59",
        ] {
            let b: Bound = ok.parse().unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(b.to_string(), ok);
        }
        for bad in [
            "2026-01-20T",
            "2026-01-20T1:30",
            "2026-01-20T10:3",
            "2026-01-20T24:00",
            "2026-01-20T10:30:60",
            "2026-01-20 10:30",
            "2026-01-20T+1:30",
            "T10:30",
            "2026-02-30T10:30",
            "x",
            "",
        ] {
            assert!(bad.parse::<Bound>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_day_is_local_midnight_to_midnight() {
        let r = range("2026-01-20", None, SHANGHAI).unwrap();
        assert_eq!(r.start, utc("2026-01-19T16:00:00Z"));
        assert_eq!(r.end, utc("2026-01-20T16:00:00Z"));
        assert_eq!(
            r.days().collect::<Vec<_>>(),
            [NaiveDate::from_ymd_opt(2026, 1, 20).unwrap()]
        );
        let r = range("yesterday", Some("today"), SHANGHAI).unwrap();
        assert_eq!(r.days().count(), 2);
        assert_eq!(r.last_day, today());
    }

    #[test]
    fn date_times_are_inclusive_to_their_precision() {
        let r = range("2026-01-20T10:30", Some("2026-01-20T10:30"), SHANGHAI).unwrap();
        assert_eq!(r.start, utc("2026-01-20T02:30:00Z"));
        assert_eq!(r.end, utc("2026-01-20T02:31:00Z"), "the whole minute");
        let r = range("2026-01-20T23:59:59", Some("2026-01-21T00:00:00"), SHANGHAI).unwrap();
        assert_eq!(r.end - r.start, 2);
        assert_eq!(
            r.days().count(),
            2,
            "the two partitions either side of midnight"
        );
        let r = range("2026-01-20T12:00", None, SHANGHAI).unwrap();
        assert_eq!(
            r.end,
            utc("2026-01-20T16:00:00Z"),
            "to the end of the start's day"
        );
        assert!(r.covers(r.start, r.end - 1) && !r.covers(r.start - 1, r.end - 1));
        assert!(r.overlaps(0, r.start) && !r.overlaps(r.end, r.end + 5));
    }

    #[test]
    fn an_end_before_the_start_is_a_usage_error() {
        let err = range("2026-01-20", Some("2026-01-19"), SHANGHAI).unwrap_err();
        assert_eq!(err.exit_code() as u8, 64);
        assert!(err.to_string().contains("--end"), "{err}");
        assert!(range("2026-01-20T10:00:00", Some("2026-01-20T09:59:59"), SHANGHAI).is_err());
        assert!(range("2026-01-20T10:00:00", Some("2026-01-20T10:00:00"), SHANGHAI).is_ok());
    }

    #[test]
    fn dst_gaps_and_repeats_lose_nothing() {
        // 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 does not exist; it starts at the jump.
        let r = range("2026-03-08T02:30", None, NEW_YORK).unwrap();
        assert_eq!(r.start, utc("2026-03-08T07:00:00Z"));
        let day = range("2026-03-08", None, NEW_YORK).unwrap();
        assert_eq!(day.end - day.start, 23 * 3600);
        // 2026-11-01 01:00-01:59 happens twice: an end at 01:30 reaches the second one.
        let r = range("2026-11-01T01:00", Some("2026-11-01T01:30"), NEW_YORK).unwrap();
        assert_eq!(r.start, utc("2026-11-01T05:00:00Z"));
        assert_eq!(r.end, utc("2026-11-01T06:31:00Z"));
        let day = range("2026-11-01", None, NEW_YORK).unwrap();
        assert_eq!(day.end - day.start, 25 * 3600);
    }

    /// Issue 13 (operator surface): the form tables and CSV print was refused as a bound, and a
    /// day that does not exist got the generic message.
    #[test]
    fn regression_bounds_with_an_offset_and_unreal_days() {
        let b: Bound = "2026-01-20T09:30:00+08:00".parse().unwrap();
        assert_eq!(b.to_string(), "2026-01-20T09:30:00+08:00");
        let r = range(
            "2026-01-20T09:30:00+08:00",
            Some("2026-01-20T01:31Z"),
            NEW_YORK,
        )
        .unwrap();
        assert_eq!(
            (r.start, r.end),
            (utc("2026-01-20T01:30:00Z"), utc("2026-01-20T01:32:00Z"))
        );
        // Without an end: the rest of that instant's day in the lake's zone.
        let r = range("2026-01-20T09:30:00+08:00", None, SHANGHAI).unwrap();
        assert_eq!(r.end, utc("2026-01-20T16:00:00Z"));
        let r = range("2026-01-19T20:30-05:00", None, SHANGHAI).unwrap();
        assert_eq!(r.start, utc("2026-01-20T01:30:00Z"));
        // UTC as Z, printed as its offset.
        let z: Bound = "2026-01-20T10:30Z".parse().unwrap();
        assert_eq!(z.to_string(), "2026-01-20T10:30+00:00");
        for bad in [
            "2026-01-20T09:30+25:00",
            "2026-01-20T09:30+0800",
            "2026-01-20T9:30+08:00",
        ] {
            assert!(bad.parse::<Bound>().is_err(), "{bad}");
        }
        let err = "2026-01-32".parse::<Bound>().unwrap_err();
        assert!(err.contains("not a real calendar day"), "{err}");
    }

    /// Issue 11, item 11: on a fall-back night `--end 00:59` also took the repeated hour.
    #[test]
    fn regression_dst_fall_back_end_bound_stops_before_the_repeated_hour() {
        // New York, 2026-11-01: 00:59 EDT is 04:59Z; the first 01:00 (EDT) is 05:00Z.
        let r = range("2026-11-01T00:00", Some("2026-11-01T00:59"), NEW_YORK).unwrap();
        assert_eq!(r.end, utc("2026-11-01T05:00:00Z"));
        let r = range("2026-11-01T00:00", Some("2026-11-01T00:59:59"), NEW_YORK).unwrap();
        assert_eq!(r.end, utc("2026-11-01T05:00:00Z"));
        // Dublin, 2026-10-25: 02:00 IST -> 01:00 GMT; 00:59 IST is 23:59Z the day before.
        let dublin = chrono_tz::Europe::Dublin;
        let r = range("2026-10-25T00:00", Some("2026-10-25T00:59"), dublin).unwrap();
        assert_eq!(r.end, utc("2026-10-25T00:00:00Z"));
        // A bound inside a spring-forward gap ends at the jump.
        let r = range("2026-03-08T01:00", Some("2026-03-08T02:30"), NEW_YORK).unwrap();
        assert_eq!(r.end, utc("2026-03-08T07:00:00Z"));
    }
}
