//! Date arguments (`--date`, later `--start`/`--end`): `YYYY-MM-DD`, `today` or `yesterday`,
//! resolved against "today" in the lake's time zone.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

/// A day as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateArg {
    Today,
    Yesterday,
    Date(NaiveDate),
}

impl DateArg {
    /// The calendar date, given today's date in the lake's time zone.
    pub fn resolve(self, today: NaiveDate) -> NaiveDate {
        match self {
            DateArg::Today => today,
            DateArg::Yesterday => today.pred_opt().expect("not the first day of time"),
            DateArg::Date(d) => d,
        }
    }
}

/// `date` as `YYYY-MM-DD`, as `date.format("%Y-%m-%d")` writes it, without parsing a format
/// string: an ingest names a file and a checkpoint per raw file, 730 of each on a two-year lake
/// that has nothing new (chrono's strftime was ~4% of such a run).
pub fn ymd(date: NaiveDate) -> String {
    use chrono::Datelike;
    let year = date.year();
    if !(0..=9999).contains(&year) {
        return date.format("%Y-%m-%d").to_string();
    }
    let mut out = [0u8; 10];
    let digits = |out: &mut [u8], mut n: u32| {
        for slot in out.iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    digits(&mut out[0..4], year as u32);
    out[4] = b'-';
    digits(&mut out[5..7], date.month());
    out[7] = b'-';
    digits(&mut out[8..10], date.day());
    String::from_utf8(out.to_vec()).expect("ASCII digits")
}

/// Parse a strict `YYYY-MM-DD` date.
pub fn parse_ymd(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    // Digits only (checked): read them directly rather than through a parsed format string.
    let number =
        |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'));
    NaiveDate::from_ymd_opt(number(0..4) as i32, number(5..7), number(8..10))
}

impl FromStr for DateArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "today" => Ok(DateArg::Today),
            "yesterday" => Ok(DateArg::Yesterday),
            _ => parse_ymd(s).map(DateArg::Date).ok_or_else(|| {
                "expected a date as YYYY-MM-DD (a real calendar day), today or yesterday"
                    .to_string()
            }),
        }
    }
}

impl fmt::Display for DateArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateArg::Today => f.write_str("today"),
            DateArg::Yesterday => f.write_str("yesterday"),
            DateArg::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ymd_takes_real_calendar_days_only() {
        assert_eq!(
            parse_ymd("2024-02-29"),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        assert_eq!(parse_ymd("0005-07-09"), NaiveDate::from_ymd_opt(5, 7, 9));
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-01-32",
            "2024-1-01",
            "2024/01/01",
            "+024-01-01",
            "2024-01-0a",
            "",
        ] {
            assert_eq!(parse_ymd(bad), None, "{bad}");
        }
    }

    #[test]
    fn ymd_writes_what_chrono_writes() {
        for (y, m, d) in [
            (2026, 1, 2),
            (1999, 12, 31),
            (5, 7, 9),
            (9999, 12, 31),
            (10000, 1, 1),
            (-3, 4, 5),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(ymd(date), date.format("%Y-%m-%d").to_string());
        }
    }

    #[test]
    fn parses_and_resolves() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        assert_eq!("today".parse::<DateArg>().unwrap().resolve(today), today);
        let y = "yesterday".parse::<DateArg>().unwrap().resolve(today);
        assert_eq!(y, NaiveDate::from_ymd_opt(2026, 2, 28).unwrap());
        let d = "2024-02-29".parse::<DateArg>().unwrap();
        assert_eq!(d.to_string(), "2024-02-29");
    }

    #[test]
    fn rejects_non_dates() {
        for bad in [
            "2026-13-01",
            "2026-02-30",
            "../x",
            "2026-1-01",
            "20260101",
            "",
            "Today",
            "2026-01-01 ",
        ] {
            assert!(bad.parse::<DateArg>().is_err(), "{bad}");
        }
    }
}
