//! The deterministic fuzzed scheduler's decision seam.
//!
//! A fuzzed run executes on one OS thread. Whenever more than one thing could happen next (a
//! codegen worker could start a node, a finished result could become visible, the link stage could
//! take its next node), the executor lists the enabled events by label, in a canonical order, and
//! asks the [`Chooser`] which one happens. Every nondeterministic choice goes through that one call,
//! like Cranelift's `ControlPlane`, so a run is a pure function of its [`Strategy`]:
//!
//! - [`Strategy::Random`] picks uniformly among the enabled events;
//! - [`Strategy::Pct`] is probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010),
//!   which finds a bug of depth `d` among `n` jobs and `k` steps with probability at least
//!   `1/(n·k^(d-1))`;
//! - [`Strategy::Replay`] follows a recorded [`Schedule`] exactly and reports a [`ReplayDiverged`]
//!   error the moment the run stops matching it.
//!
//! The chooser records the label of every event it picks. That [`Schedule`] is the whole story of
//! a run: it replays the run exactly, and because events are named by what they do (for example
//! `codegen(m3) done(m3) link(m3)`) rather than by thread ids, it still replays after unrelated
//! changes. [`shrink`] reduces a failing schedule to one with as few preemptions as it can find.
//!
//! What lives where: [`SplitMix64`] in `rng.rs`, [`Schedule`] in `schedule.rs`, [`Strategy`] in
//! `strategy.rs`, [`Chooser`] in `chooser.rs`, [`shrink`] in `shrink.rs`.

mod chooser;
mod rng;
mod schedule;
mod shrink;
mod strategy;

pub use chooser::{job_of_label, Chooser, ReplayDiverged, DEFAULT_STEP_ESTIMATE};
pub use rng::SplitMix64;
pub use schedule::Schedule;
pub use shrink::{shrink, Reproduction};
pub use strategy::{ParseStrategyError, Strategy};
