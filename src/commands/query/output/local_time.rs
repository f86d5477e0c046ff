//! Unix seconds → `YYYY-MM-DDTHH:MM:SS+HH:MM` in the lake's time zone, fast enough for millions
//! of rows: the zone's offset is looked up once per UTC day (per row on the days it changes),
//! and the digits are written by hand.

use chrono::{DateTime, Datelike, Offset, TimeZone, Timelike};
use chrono_tz::Tz;

/// Formats create_time values as local date-times with their UTC offset.
#[derive(Debug, Clone)]
pub struct LocalTimeFormat {
    tz: Tz,
    /// `[start, end)` unix seconds over which the offset is `offset` seconds.
    cached: Option<(i64, i64, i32)>,
}

impl LocalTimeFormat {
    pub fn new(tz: Tz) -> Self {
        LocalTimeFormat { tz, cached: None }
    }

    fn offset_at(&self, t: i64) -> i32 {
        let utc = DateTime::from_timestamp(t, 0)
            .unwrap_or_default()
            .naive_utc();
        self.tz
            .offset_from_utc_datetime(&utc)
            .fix()
            .local_minus_utc()
    }

    fn offset(&mut self, t: i64) -> i32 {
        if let Some((start, end, offset)) = self.cached
            && (start..end).contains(&t)
        {
            return offset;
        }
        // Offsets change at most once in a day: if both ends of the day agree, so does the
        // whole day; on the few days they change, nothing is cached.
        let day = t.div_euclid(86_400) * 86_400;
        let (start, end) = if self.offset_at(day) == self.offset_at(day + 86_399) {
            (day, day + 86_400)
        } else {
            (t, t + 1)
        };
        let offset = self.offset_at(t);
        self.cached = Some((start, end, offset));
        offset
    }

    /// Append the local date-time of unix second `t` to `out`.
    pub fn push(&mut self, t: i64, out: &mut Vec<u8>) {
        let offset = self.offset(t);
        let Some(local) = DateTime::from_timestamp(t + i64::from(offset), 0) else {
            out.extend_from_slice(t.to_string().as_bytes());
            return;
        };
        let (d, tm) = (local.date_naive(), local.time());
        let year = d.year();
        if !(0..=9999).contains(&year) {
            out.extend_from_slice(t.to_string().as_bytes());
            return;
        }
        push_digits(out, year as u32, 4);
        out.push(b'-');
        push_digits(out, d.month(), 2);
        out.push(b'-');
        push_digits(out, d.day(), 2);
        out.push(b'T');
        push_digits(out, tm.hour(), 2);
        out.push(b':');
        push_digits(out, tm.minute(), 2);
        out.push(b':');
        push_digits(out, tm.second(), 2);
        out.push(if offset < 0 { b'-' } else { b'+' });
        let abs = offset.unsigned_abs();
        push_digits(out, abs / 3600, 2);
        out.push(b':');
        push_digits(out, abs / 60 % 60, 2);
    }
}

fn push_digits(out: &mut Vec<u8>, value: u32, width: u32) {
    for i in (0..width).rev() {
        out.push(b'0' + (value / 10u32.pow(i) % 10) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(tz: Tz, t: i64) -> String {
        let mut out = Vec::new();
        LocalTimeFormat::new(tz).push(t, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_like_rfc3339_with_the_local_offset() {
        let sh = chrono_tz::Asia::Shanghai;
        assert_eq!(fmt(sh, 1_768_838_400), "2026-01-20T00:00:00+08:00");
        let ny = chrono_tz::America::New_York;
        let kolkata = chrono_tz::Asia::Kolkata;
        let mut f = LocalTimeFormat::new(ny);
        // Every 7 minutes over the 2026 spring-forward day, against chrono's own formatting.
        for t in (1_772_946_000..1_773_032_400).step_by(420) {
            let mut out = Vec::new();
            f.push(t, &mut out);
            let want = ny
                .timestamp_opt(t, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string();
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
        assert_eq!(fmt(kolkata, 0), "1970-01-01T05:30:00+05:30");
    }
}
