//! Seeing a build: what `lockstep build --timings` and `--trace` write from
//! the spans a build recorded (`lockstep_core::engine::trace`).
//!
//! - [`html::page`]: one self-contained HTML page after cargo's
//!   `--timings` (no script, no network: inline CSS and SVG), with a lane
//!   per worker and one for the link stage, a bar per codegen unit coloured
//!   by cache hit or miss, the concurrency over time, the phases, and the
//!   slowest units.
//! - [`json`]: the same data as JSON (`--timings=json`).
//! - [`chrome::trace_events`]: Chrome trace-event JSON (`--trace FILE`),
//!   which Perfetto and `chrome://tracing` open.

pub mod chrome;
pub mod html;

use lockstep_core::engine::trace::BuildTrace;
use serde::Serialize;

/// What the page and the JSON describe besides the spans.
#[derive(Clone, Debug, Serialize)]
pub struct BuildSummary {
    /// The project, as given on the command line.
    pub project: String,
    /// `ok` or `failed`.
    pub status: String,
    /// `debug` or `release`, and the CGU mode.
    pub profile: String,
    /// Codegen workers.
    pub workers: usize,
    pub functions: usize,
}

/// `--timings=json`: the summary, the phases and every span.
pub fn json(summary: &BuildSummary, trace: &BuildTrace) -> String {
    #[derive(Serialize)]
    struct Timings<'a> {
        summary: &'a BuildSummary,
        clock: &'a str,
        phases: Vec<lockstep_core::engine::trace::Span>,
        spans: &'a [lockstep_core::engine::trace::Span],
    }
    let timings = Timings { summary, clock: trace.clock, phases: trace.phases(), spans: &trace.spans };
    serde_json::to_string_pretty(&timings).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// A duration on the trace's clock, for people: `12.3 ms` or `45 ticks`.
pub fn duration(trace: &BuildTrace, amount: u64) -> String {
    if trace.clock == "logical" {
        return format!("{amount} ticks");
    }
    let ms = amount as f64 / 1000.0;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}
