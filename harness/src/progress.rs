//! The build's progress bar: units done out of the plan's total, the unit
//! that just finished, and the time elapsed, on stderr. Only on a terminal
//! (never in a pipe or a CI log), only once the build has run for a second
//! (a quick build never flickers), and never under `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lockstep_core::engine::trace::ProgressObserver;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a build runs before its bar appears; `LOCKSTEP_PROGRESS_DELAY_MS`
/// changes it (tests show the bar at once).
fn show_after() -> Duration {
    let ms = std::env::var("LOCKSTEP_PROGRESS_DELAY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    Duration::from_millis(ms)
}

/// A progress bar that stays hidden until the build has run for a second.
#[derive(Clone, Debug)]
pub struct BuildProgress {
    bar: ProgressBar,
    started: Instant,
    show_after: Duration,
    shown: Arc<AtomicBool>,
}

impl BuildProgress {
    /// A bar for this process's stderr, if it is a terminal that can draw one.
    pub fn for_terminal() -> Option<BuildProgress> {
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        (std::io::stderr().is_terminal() && !dumb).then(BuildProgress::hidden)
    }

    /// A bar that draws nowhere until the build has run for a while.
    fn hidden() -> BuildProgress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        let style =
            ProgressStyle::with_template("{prefix:>10.cyan.bold} [{bar:30}] {pos}/{len} units: {wide_msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix("Building");
        BuildProgress {
            bar,
            started: Instant::now(),
            show_after: show_after(),
            shown: Arc::new(AtomicBool::new(false)),
        }
    }

    fn show_if_slow(&self) {
        if self.started.elapsed() >= self.show_after && !self.shown.swap(true, Ordering::Relaxed) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.bar.enable_steady_tick(Duration::from_millis(120));
        }
    }

    /// Removes the bar, before anything else is printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl ProgressObserver for BuildProgress {
    fn planned(&self, units: usize) {
        self.bar.set_length(units as u64);
        self.show_if_slow();
    }

    fn unit_done(&self, unit: &str, hit: bool) {
        self.bar.inc(1);
        self.bar.set_message(format!("{unit}{}", if hit { " (cached)" } else { "" }));
        self.show_if_slow();
    }
}
