//! Building under the deterministic fuzzed scheduler, and what schedule
//! shrinking needs from a build.
//!
//! A schedule-independence check builds under `random:SEED` or
//! `pct:SEED:DEPTH` and compares with the threaded build. When it fails,
//! the failing build's [`Reproduction`] (recorded schedule and preemption
//! count) goes to `lockstep_scheduler::fuzz::shrink`, whose closure builds
//! under a lenient replay of each candidate guide
//! ([`BuildExtras::guided`]) from the same starting state and returns
//! [`BuildOutcome::reproduction`] when the failure shows again:
//!
//! ```text
//! shrink(&failing, |guide| {
//!     restore the workspace to the step's starting state;
//!     let outcome = ws.build(&config, &BuildExtras::guided(guide.clone()));
//!     if the oracle fails on outcome { outcome.reproduction() } else { None }
//! })
//! ```
//!
//! The shrunk schedule then replays strictly (`Strategy::Replay`) in a
//! repro file.

use crate::verify::build::{BuildExtras, BuildOutcome};
use lockstep_core::driver::Scheduling;
use lockstep_scheduler::fuzz::{Reproduction, Schedule, Strategy};

impl BuildExtras {
    /// A build under the fuzzed scheduler following `strategy` (random,
    /// PCT, or a strict replay).
    pub fn fuzzed(strategy: Strategy) -> BuildExtras {
        BuildExtras { scheduling: Scheduling::Fuzzed(strategy), ..BuildExtras::default() }
    }

    /// A build under a lenient replay of `guide`: the guide's next event
    /// whenever it is enabled, the default event otherwise.
    pub fn guided(guide: Schedule) -> BuildExtras {
        BuildExtras { scheduling: Scheduling::FuzzedGuide(guide), ..BuildExtras::default() }
    }
}

impl BuildOutcome {
    /// The schedule the fuzzed scheduler recorded, when it ran. `None` for
    /// threaded builds, builds that stopped before the engine ran, and the
    /// up-to-date shortcut (which a fuzzed build never takes).
    pub fn schedule(&self) -> Option<Schedule> {
        // A schedule's text form always parses (`FromStr` for it cannot fail).
        self.report.schedule.as_ref().map(|text| text.parse().unwrap_or_else(|never| match never {}))
    }

    /// The recorded schedule with its preemption count: what
    /// `fuzz::shrink` takes and minimises.
    pub fn reproduction(&self) -> Option<Reproduction> {
        Some(Reproduction { schedule: self.schedule()?, preemptions: self.report.preemptions? })
    }
}
