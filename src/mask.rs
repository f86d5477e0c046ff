//! Masking of personal data in contact records, before anything reaches the lake.
//!
//! Contact records carry phone numbers (`mobile`) and free-form profile data
//! (`customInfo.detail`). With `ingest --mask mobile,custom_info` they are masked while the line
//! is normalized, so no Parquet file of any table holds the clear value. The setting is recorded
//! in `metadata/lake.json` (see [`crate::lake::meta`]), because a lake half masked and half not
//! would give a false sense of safety. The quarantine keeps rejected lines' raw bytes: it is as
//! readable as the raw file, never more (see the README).
//!
//! Pure: no I/O.

use std::fmt;
use std::str::FromStr;

/// What replaces a masked `customInfo.detail`.
pub const CUSTOM_INFO_MARKER: &str = "[masked]";

/// Which personal fields are masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Mask {
    /// `mobile`: keep the first 3 and the last 4 characters (`138****5678`).
    #[serde(default)]
    pub mobile: bool,
    /// `customInfo.detail`: replaced by [`CUSTOM_INFO_MARKER`].
    #[serde(default)]
    pub custom_info: bool,
}

impl Mask {
    /// Nothing masked.
    pub const NONE: Mask = Mask {
        mobile: false,
        custom_info: false,
    };

    /// Whether anything is masked.
    pub fn any(self) -> bool {
        self.mobile || self.custom_info
    }
}

impl FromStr for Mask {
    type Err = String;

    /// A comma-separated list of `mobile`, `custom_info`; `none` or an empty string for nothing.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut mask = Mask::NONE;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "mobile" => mask.mobile = true,
                "custom_info" => mask.custom_info = true,
                "none" => {}
                other => {
                    return Err(format!(
                        "unknown field {other:?}: expected a comma-separated list of mobile, custom_info (or none)"
                    ));
                }
            }
        }
        Ok(mask)
    }
}

impl fmt::Display for Mask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.mobile, self.custom_info) {
            (false, false) => f.write_str("none"),
            (true, false) => f.write_str("mobile"),
            (false, true) => f.write_str("custom_info"),
            (true, true) => f.write_str("mobile,custom_info"),
        }
    }
}

/// A phone number with all but its first 3 and last 4 characters replaced by `*`
/// (`13812345678` → `138****5678`). Shorter values are masked whole; an empty one stays empty.
pub fn mask_mobile(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let mut out = String::with_capacity(number.len());
    out.extend(&chars[..3]);
    out.extend(std::iter::repeat_n('*', chars.len() - 7));
    out.extend(&chars[chars.len() - 4..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_keeps_first_three_and_last_four() {
        let cases = [
            ("13812345678", "138****5678"),
            ("+8613812345678", "+86*******5678"),
            ("1234567", "*******"),
            ("12345678", "123*5678"),
            ("", ""),
            ("电话号码一二三四五六七", "电话号****四五六七"),
        ];
        for (number, want) in cases {
            assert_eq!(mask_mobile(number), want, "{number}");
        }
    }

    #[test]
    fn mask_lists_parse_and_print() {
        assert_eq!("".parse::<Mask>().unwrap(), Mask::NONE);
        assert_eq!("none".parse::<Mask>().unwrap(), Mask::NONE);
        let both: Mask = "mobile, custom_info".parse().unwrap();
        assert!(both.mobile && both.custom_info);
        assert_eq!(both.to_string(), "mobile,custom_info");
        assert_eq!(both.to_string().parse::<Mask>().unwrap(), both);
        let err = "mobile,phone".parse::<Mask>().unwrap_err();
        assert!(err.contains("\"phone\""), "{err}");
    }
}
