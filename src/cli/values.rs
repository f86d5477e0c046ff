//! Values the options take that clap does not parse itself: flags from the environment,
//! durations, sizes and numbers of days.

use std::time::Duration;

/// A flag's value from its environment variable: `1`/`0`, `yes`/`no`, `true`/`false`,
/// `on`/`off`; empty is false (`WXLAKE_INGEST_JSON=` turns the flag off, as in a shell).
pub fn parse_flag(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "no" | "n" | "false" | "f" | "off" => Ok(false),
        "1" | "yes" | "y" | "true" | "t" | "on" => Ok(true),
        _ => Err(format!(
            "expected 1/0, yes/no, true/false or on/off, not {s:?}"
        )),
    }
}

/// `500ms`, `30s`, `10m`, `2h`, `1d`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a duration; use e.g. 30s, 10m or 1h"))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "unknown unit '{unit}' in '{s}'; use ms, s, m, h or d"
            ));
        }
    };
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

/// `128MiB`, `1GiB`, `500MB`, `64KiB`, or a number of bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a size; use e.g. 128MiB, 1GiB or 500MB"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{s}'; use B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    match n.checked_mul(factor) {
        Some(0) => Err("the size must be more than 0".to_string()),
        Some(v) => Ok(v),
        None => Err(format!("'{s}' is too large")),
    }
}

/// A number of days: `7d`, `2w`, or a bare number of days.
pub fn parse_days(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let (digits, factor) = if let Some(d) = t.strip_suffix('d') {
        (d, 1)
    } else if let Some(w) = t.strip_suffix('w') {
        (w, 7)
    } else {
        (t, 1)
    };
    digits
        .parse::<u32>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("'{s}' is not a number of days; use e.g. 7d, 90d or 2w"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days() {
        assert_eq!(parse_days("7d"), Ok(7));
        assert_eq!(parse_days("2w"), Ok(14));
        assert_eq!(parse_days("90"), Ok(90));
        assert!(parse_days("7h").is_err());
        assert!(parse_days("-1d").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("128MiB"), Ok(128 << 20));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("99999999999GiB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("m").is_err());
    }
}
