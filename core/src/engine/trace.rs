//! What ran where and when: the spans of one build, for `--timings` (an
//! HTML page, or JSON) and `--trace` (Chrome trace-event JSON, which
//! Perfetto opens).
//!
//! A [`Trace`] is shared by the driver (phases), the codegen workers (one
//! span per unit, with its cache reads and writes nested inside) and the
//! link stage (one span per link step). It never reaches an output byte or
//! a cache key: it only watches.
//!
//! Time comes from one of two clocks. On threads it is the wall clock
//! (microseconds since the build started). Under the fuzzed scheduler it is
//! a logical clock, one tick per reading: every reading happens on the one
//! OS thread in an order the schedule fixes, so a replayed schedule gives
//! the identical trace.

use lockstep_scheduler::clock::Stopwatch;
use lockstep_scheduler::sync::atomic::{AtomicU64, Ordering};
use lockstep_scheduler::sync::{self, Mutex};
use serde::Serialize;

/// What a span measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// A phase of the build: read, check, hash, plan, codegen, link, manifest.
    Phase,
    /// One codegen unit (or the entry point) on a worker.
    Codegen,
    /// One link step on the link stage.
    Link,
    /// A cache lookup (Layer 1 IR, Layer 2 object).
    CacheRead,
    /// A cache store.
    CacheWrite,
}

/// Where a span ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "index")]
pub enum Lane {
    /// The driver's thread: phases.
    Main,
    /// A codegen worker, numbered in the order the workers started.
    Worker(u32),
    /// The link stage.
    Link,
}

/// One measured interval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    pub name: String,
    pub category: Category,
    pub lane: Lane,
    /// Microseconds since the build started (ticks, on the logical clock).
    pub start: u64,
    pub end: u64,
    /// For units: `hit` (from Layer 2 or already staged) or `miss`; for
    /// cache operations: the layer. Empty otherwise.
    pub outcome: String,
    /// For units: how many functions they hold.
    pub functions: usize,
}

impl Span {
    pub fn duration(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

#[derive(Debug)]
enum Clock {
    Wall(Stopwatch),
    Logical(AtomicU64),
}

/// Told about progress as it happens (a progress bar): how many units the
/// plan has, then each unit as it finishes, on the worker that ran it.
pub trait ProgressObserver: Send + Sync {
    fn planned(&self, units: usize);
    fn unit_done(&self, unit: &str, hit: bool);
}

/// The recorder, shared by everything that runs in one build.
pub struct Trace {
    clock: Clock,
    spans: Mutex<Vec<Span>>,
    next_worker: AtomicU64,
    progress: Option<Box<dyn ProgressObserver>>,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace").field("clock", &self.clock).field("progress", &self.progress.is_some()).finish()
    }
}

/// The spans of a finished build, sorted by start, then lane, then name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BuildTrace {
    /// `"wall"` (microseconds) or `"logical"` (ticks of the fuzzed schedule).
    pub clock: &'static str,
    pub spans: Vec<Span>,
}

impl Trace {
    /// A trace timed by the wall clock, starting now.
    pub fn wall() -> Trace {
        Trace::with(Clock::Wall(Stopwatch::start()))
    }

    /// A trace timed by a logical clock (see the module docs).
    pub fn logical() -> Trace {
        Trace::with(Clock::Logical(AtomicU64::new(0)))
    }

    fn with(clock: Clock) -> Trace {
        Trace { clock, spans: Mutex::new(Vec::new()), next_worker: AtomicU64::new(0), progress: None }
    }

    /// This trace, also telling `observer` about progress.
    pub fn with_progress(mut self, observer: Box<dyn ProgressObserver>) -> Trace {
        self.progress = Some(observer);
        self
    }

    /// The plan is laid out: `units` codegen steps will run.
    pub fn planned(&self, units: usize) {
        if let Some(progress) = &self.progress {
            progress.planned(units);
        }
    }

    /// The time now, on this trace's clock.
    pub fn now(&self) -> u64 {
        match &self.clock {
            Clock::Wall(stopwatch) => u64::try_from(stopwatch.elapsed().as_micros()).unwrap_or(u64::MAX),
            Clock::Logical(ticks) => ticks.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The lane of a worker starting now: the next worker number.
    pub fn new_worker_lane(&self) -> Lane {
        let index = self.next_worker.fetch_add(1, Ordering::Relaxed);
        Lane::Worker(u32::try_from(index).unwrap_or(u32::MAX))
    }

    /// Records a span that started at `start` (a reading of [`Trace::now`]) and ends now.
    pub fn record(&self, category: Category, lane: Lane, name: impl Into<String>, start: u64, detail: Detail) {
        let end = self.now();
        let span = Span {
            name: name.into(),
            category,
            lane,
            start,
            end: end.max(start),
            outcome: detail.outcome.to_owned(),
            functions: detail.functions,
        };
        if let (Some(progress), Category::Codegen) = (&self.progress, category) {
            progress.unit_done(&span.name, span.outcome == "hit");
        }
        sync::lock(&self.spans).push(span);
    }

    /// Every span recorded so far, sorted.
    pub fn finish(&self) -> BuildTrace {
        let mut spans = sync::lock(&self.spans).clone();
        spans.sort_by(|a, b| (a.start, a.lane, &a.name, a.end).cmp(&(b.start, b.lane, &b.name, b.end)));
        let clock = match self.clock {
            Clock::Wall(_) => "wall",
            Clock::Logical(_) => "logical",
        };
        BuildTrace { clock, spans }
    }
}

/// What a span says besides its name and time.
#[derive(Clone, Copy, Debug, Default)]
pub struct Detail {
    pub outcome: &'static str,
    pub functions: usize,
}

impl Detail {
    pub const NONE: Detail = Detail { outcome: "", functions: 0 };

    pub fn outcome(outcome: &'static str) -> Detail {
        Detail { outcome, functions: 0 }
    }
}

/// Records a span around `run` when there is a trace; just runs it otherwise.
/// The name is formatted only when it is recorded, so an untraced build
/// (the usual one) pays nothing for it: pass `format_args!(...)`.
pub fn traced<T>(
    trace: Option<&Trace>,
    category: Category,
    lane: Lane,
    name: impl std::fmt::Display,
    run: impl FnOnce() -> T,
) -> T {
    match trace {
        Some(trace) => {
            let start = trace.now();
            let value = run();
            trace.record(category, lane, name.to_string(), start, Detail::NONE);
            value
        }
        None => run(),
    }
}

impl BuildTrace {
    /// The codegen spans (one per unit and one for the entry point).
    pub fn units(&self) -> impl Iterator<Item = &Span> {
        self.spans.iter().filter(|s| s.category == Category::Codegen)
    }

    /// The phases, with `codegen` and `link` derived from the spans of
    /// their stage (they overlap: the link stage consumes units as they come).
    pub fn phases(&self) -> Vec<Span> {
        let mut phases: Vec<Span> = self.spans.iter().filter(|s| s.category == Category::Phase).cloned().collect();
        for (category, name) in [(Category::Codegen, "codegen"), (Category::Link, "link")] {
            let stage: Vec<&Span> = self.spans.iter().filter(|s| s.category == category).collect();
            if let (Some(start), Some(end)) = (stage.iter().map(|s| s.start).min(), stage.iter().map(|s| s.end).max()) {
                phases.push(Span {
                    name: name.to_owned(),
                    category: Category::Phase,
                    lane: Lane::Main,
                    start,
                    end,
                    outcome: String::new(),
                    functions: 0,
                });
            }
        }
        phases.sort_by_key(|s| (s.start, s.end));
        phases
    }

    /// When the last span ended.
    pub fn end(&self) -> u64 {
        self.spans.iter().map(|s| s.end).max().unwrap_or(0)
    }
}
