//! Wall-clock time: timing for reports, and file timestamps for cache recency.
//!
//! Output bytes must never depend on the clock, so the core never reads it directly; a
//! [`Stopwatch`] is how the driver and benchmarks time phases for human-readable reports.

use std::time::{Duration, Instant, SystemTime};

/// A file timestamp (modification time), as the file system keeps it.
pub type FileTime = SystemTime;

/// The earliest file time; what an unreadable timestamp counts as.
pub const EPOCH: FileTime = SystemTime::UNIX_EPOCH;

/// Now, as a file timestamp. The artifact cache stamps an entry with it on
/// every hit so `cache gc` can evict the least recently used entries; it
/// never reaches a cache key or an output byte.
pub fn file_time_now() -> FileTime {
    SystemTime::now()
}

/// Measures the wall-clock time elapsed since it was started.
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch {
    started: Instant,
}

impl Stopwatch {
    /// Starts measuring now.
    pub fn start() -> Stopwatch {
        Stopwatch { started: Instant::now() }
    }

    /// The time elapsed since [`Stopwatch::start`].
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_time_never_decreases() {
        let stopwatch = Stopwatch::start();
        let first = stopwatch.elapsed();
        let second = stopwatch.elapsed();
        assert!(second >= first);
    }
}
