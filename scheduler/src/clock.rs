//! Wall-clock timing for reports only.
//!
//! Output bytes must never depend on the clock, so the core never reads it directly; a
//! [`Stopwatch`] is how the driver and benchmarks time phases for human-readable reports.

use std::time::{Duration, Instant};

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
