//! The library's error type and its mapping to process exit codes.
//!
//! Every error names what it concerns (a path, an argument, a line) so that the binary can print it
//! as-is. Line-level problems in raw input are *not* errors: they are quarantined rejects (see
//! [`crate::quarantine`]). An [`Error`] aborts the command; nothing already stored is changed by it.

use std::io;
use std::path::{Path, PathBuf};

/// Convenient alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// sysexits-style exit codes (see `sysexits.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Everything went fine.
    Ok = 0,
    /// `EX_USAGE`: a bad argument or a configuration that contradicts the lake.
    Usage = 64,
    /// `EX_DATAERR`: stored data is not what it must be (corrupt file, broken invariant).
    Data = 65,
    /// `EX_IOERR`: reading or writing failed.
    Io = 74,
    /// `EX_TEMPFAIL`: another writer holds the lock; try again later.
    TempFail = 75,
}

/// Everything that can stop a wxlake command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line argument or setting is unusable.
    #[error("invalid {argument} '{value}': {reason}")]
    Usage {
        argument: &'static str,
        value: String,
        reason: String,
    },

    /// The lake was created with another time zone than the one requested.
    #[error(
        "the lake at {path} was created with time zone {lake}, but {requested} was requested; \
         pass --timezone {lake} (or leave --timezone and WXLAKE_TIMEZONE unset)"
    )]
    TimeZoneMismatch {
        path: PathBuf,
        lake: String,
        requested: String,
    },

    /// The data directory holds no lake.
    #[error(
        "no wxlake lake at {path} (neither metadata/lake.json nor parquet/messages exists); \
         pass the right --data-dir (or WXLAKE_DATA_DIR), or run `wxlake ingest` first"
    )]
    NotALake { path: PathBuf },

    /// A file or directory could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A stored file (Parquet, checkpoint, metadata) is unreadable or inconsistent.
    #[error("{path}: {reason}")]
    Data { path: PathBuf, reason: String },

    /// `verify` found problems (it printed them).
    #[error("the lake is not whole: verify found {}, listed above", crate::units::count(*problems as u64, "problem"))]
    NotWhole { problems: usize },

    /// The exclusive writer lock is held by another process.
    #[error(
        "another wxlake holds the lock {path}{holder}; retry later or pass --wait 10m",
        holder = holder_suffix(.holder)
    )]
    LockBusy { path: PathBuf, holder: String },
}

fn holder_suffix(holder: &str) -> String {
    if holder.trim().is_empty() {
        String::new()
    } else {
        format!(" ({})", holder.trim())
    }
}

impl Error {
    /// Build an [`Error::Io`] for `path`.
    pub fn io(action: &'static str, path: impl AsRef<Path>, source: io::Error) -> Self {
        // tempfile appends the temp file's own path ("… at path \".x.tmp\""): the error names
        // the directory already, and a temp name means nothing to the person reading it.
        let text = source.to_string();
        let source = match text.find(" at path \"") {
            Some(cut) => io::Error::new(source.kind(), text[..cut].to_string()),
            None => source,
        };
        Error::Io {
            action,
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// Build an [`Error::Data`] for `path`.
    pub fn data(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        let reason: String = reason.into();
        Error::Data {
            path: path.as_ref().to_path_buf(),
            // One message per cause: parquet prefixes its own errors with what the message
            // already says ("unreadable Parquet file: Parquet error: …").
            reason: reason.replace("Parquet error: ", ""),
        }
    }

    /// Build an [`Error::Usage`] for a command-line argument.
    pub fn usage(
        argument: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Usage {
            argument,
            value: value.into(),
            reason: reason.into(),
        }
    }

    /// What to do next, when the message itself does not say.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Io { source, .. } => match source.kind() {
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => Some(
                    "free some disk space and run the same command again; nothing already stored \
                     was changed",
                ),
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => Some(
                    "run as the user that owns the data directory (the systemd units use \
                     `wxlake`: sudo -u wxlake wxlake ...)",
                ),
                _ => None,
            },
            Error::Data { .. } => Some(
                "`wxlake verify` lists every problem; `wxlake query --skip-corrupt` reads around a \
                 corrupt file; the README's troubleshooting section says how to rebuild",
            ),
            Error::NotWhole { .. } => {
                Some("the README's troubleshooting section says what to do for each problem")
            }
            _ => None,
        }
    }

    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage { .. } | Error::TimeZoneMismatch { .. } | Error::NotALake { .. } => {
                ExitCode::Usage
            }
            Error::Data { .. } | Error::NotWhole { .. } => ExitCode::Data,
            Error::Io { source, .. } if source.kind() == io::ErrorKind::InvalidData => {
                ExitCode::Data
            }
            Error::Io { .. } => ExitCode::Io,
            Error::LockBusy { .. } => ExitCode::TempFail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_sysexits() {
        assert_eq!(Error::usage("--date", "x", "bad").exit_code() as u8, 64);
        assert_eq!(Error::data("f.parquet", "corrupt").exit_code() as u8, 65);
        let io = io::Error::new(io::ErrorKind::PermissionDenied, "denied");
        assert_eq!(Error::io("write", "/x", io).exit_code() as u8, 74);
        let busy = Error::LockBusy {
            path: "l".into(),
            holder: "pid 1".into(),
        };
        assert_eq!(busy.exit_code() as u8, 75);
    }

    #[test]
    fn io_and_data_errors_come_with_a_next_step() {
        let full = io::Error::from(io::ErrorKind::StorageFull);
        assert!(
            Error::io("write", "/d/x", full)
                .hint()
                .unwrap()
                .contains("disk space")
        );
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(
            Error::io("write", "/d/x", denied)
                .hint()
                .unwrap()
                .contains("sudo -u wxlake")
        );
        assert!(
            Error::data("f.parquet", "bad")
                .hint()
                .unwrap()
                .contains("verify")
        );
        assert_eq!(Error::usage("--date", "x", "bad").hint(), None);
    }

    /// Issue 13 (operator surface): temp file names never reach the person reading an error.
    #[test]
    fn regression_temp_paths_are_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let e = crate::fsutil::temp_builder(".out.", ".tmp")
            .tempfile_in(&missing)
            .unwrap_err();
        assert!(
            e.to_string().contains(".tmp"),
            "tempfile names its temp file: {e}"
        );
        let err = Error::io("create a file in", &missing, e);
        let shown = err.to_string();
        assert!(
            !shown.contains(".out.") && shown.contains("missing"),
            "{shown}"
        );
        assert_eq!(err.exit_code() as u8, 74);
    }

    #[test]
    fn lock_message_says_what_to_do() {
        let busy = Error::LockBusy {
            path: "/d/metadata/wxlake.lock".into(),
            holder: "pid 42 since 02:00:01".into(),
        };
        let msg = busy.to_string();
        assert!(
            msg.contains("/d/metadata/wxlake.lock (pid 42 since 02:00:01)"),
            "{msg}"
        );
        assert!(msg.contains("--wait"), "{msg}");
    }
}
