//! The one place that knows what files are called: data files, and the temp files every writer
//! makes before publishing. Readers (ours and other engines' globs) see only data files; a temp
//! name starts with `.` (hidden from `*.parquet` globs and from Hive listings) and ends with
//! `.tmp`, so a crash can leave one behind but never one a reader would open.

/// The suffix of every temp file.
pub const TEMP_SUFFIX: &str = ".tmp";

/// The name of the `n`th data file a run (`run_id`) publishes into one directory:
/// `part-<run id>-<n>.parquet`. Names are never reused (a run id is unique).
pub fn data_file(run_id: &str, n: u32) -> String {
    format!("part-{run_id}-{n:03}.parquet")
}

/// Whether `name` is a data file's: `*.parquet`, not hidden (`.`) or private (`_`).
pub fn is_data_file(name: &str) -> bool {
    name.ends_with(".parquet") && !name.starts_with('.') && !name.starts_with('_')
}

/// The prefix of a temp file that will become `name` (`.NAME.`; a random part and
/// [`TEMP_SUFFIX`] follow).
pub fn temp_prefix(name: &str) -> String {
    format!(".{name}.")
}

/// The prefix of a data file being written (`.part-`; its suffix is `.parquet.tmp`).
pub const STAGED_PREFIX: &str = ".part-";
/// The suffix of a data file being written.
pub const STAGED_SUFFIX: &str = ".parquet.tmp";

/// Whether `name` is a temp file's (what a crash may leave behind).
pub fn is_temp(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_are_never_data_files() {
        let data = data_file("20260101T000000Z-1-abcde", 7);
        assert_eq!(data, "part-20260101T000000Z-1-abcde-007.parquet");
        assert!(is_data_file(&data) && !is_temp(&data));
        for temp in [
            format!("{}x{TEMP_SUFFIX}", temp_prefix("lake.json")),
            format!("{STAGED_PREFIX}x{STAGED_SUFFIX}"),
        ] {
            assert!(is_temp(&temp) && !is_data_file(&temp), "{temp}");
        }
        assert!(!is_data_file("_x.parquet") && !is_data_file("notes.txt"));
    }
}
