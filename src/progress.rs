//! Progress of long work (a backfill over many raw files, a compaction, an archive), for a
//! person watching a terminal. The library only reports units of work done; the binary decides
//! whether to draw anything (a bar on an interactive stderr, nothing for systemd or a pipe).

use std::sync::Arc;

/// Draws progress somewhere.
pub trait Reporter: Send + Sync {
    /// Work of `total` units, described by `what`, begins.
    fn begin(&self, what: &str, total: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
    /// The work is over (done or failed).
    fn end(&self);
}

/// A handle the commands report through; the default reports nowhere.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<dyn Reporter>>);

impl Progress {
    pub fn new(reporter: Arc<dyn Reporter>) -> Self {
        Progress(Some(reporter))
    }

    pub fn begin(&self, what: &str, total: u64) {
        if let Some(r) = &self.0 {
            r.begin(what, total);
        }
    }

    pub fn advance(&self, n: u64) {
        if let Some(r) = &self.0 {
            r.advance(n);
        }
    }

    pub fn end(&self) {
        if let Some(r) = &self.0 {
            r.end();
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(on)"
        } else {
            "Progress(off)"
        })
    }
}
