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
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
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
