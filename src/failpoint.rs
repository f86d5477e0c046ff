//! Named crash points for testing crash safety by really dying.
//!
//! `WXLAKE_FAILPOINTS=stage.written,checkpoint.before_rename` makes the process abort (no
//! destructors, no cleanup: as close to `kill -9` as a process can do to itself) the first time it
//! reaches one of the named points; `NAME:pause=MS` makes it wait there instead (so that a test
//! can change the world at that instant). Unset, a failpoint costs one relaxed load.

use std::sync::OnceLock;

/// Environment variable listing the active failpoints, comma-separated.
pub const ENV: &str = "WXLAKE_FAILPOINTS";

fn active() -> &'static [String] {
    static ACTIVE: OnceLock<Vec<String>> = OnceLock::new();
    ACTIVE.get_or_init(|| {
        std::env::var(ENV)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    })
}

/// Abort the process here if `name` is an active failpoint (or pause, for `name:pause=MS`).
pub fn hit(name: &str) {
    let active = active();
    if active.is_empty() {
        return;
    }
    for a in active {
        if a == name {
            eprintln!("wxlake: failpoint {name} reached; aborting");
            std::process::abort();
        }
        if let Some(ms) = a
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(":pause="))
            .and_then(|ms| ms.parse::<u64>().ok())
        {
            eprintln!("wxlake: failpoint {name} reached; pausing {ms} ms");
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
    }
}
