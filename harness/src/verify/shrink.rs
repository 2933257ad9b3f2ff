//! Shrinking a failing case: first its intents, then (for a schedule failure) the schedule.
//!
//! Intents are shrunk by deleting them: everything after the failing one goes at once, then chunks of
//! halving size (delta debugging, one-minimal at the end), keeping a deletion whenever the case still fails
//! the same oracle. Trials run only that oracle, which makes most of them a fraction of a full step's cost.
//! A schedule failure then goes through the scheduler's own shrinker (`fuzz::shrink`), each candidate
//! replayed leniently at the failing step. Everything stops at the time budget, keeping the smallest
//! failing case found so far.

use crate::verify::case::{run_case, Case, Options};
use crate::verify::oracle::{Failure, Oracle};
use lockstep_scheduler::clock::Stopwatch;
use lockstep_scheduler::fuzz::{self, Reproduction, Schedule};
use std::time::Duration;

/// The smallest failing case found, its failure, and the schedule guide it needs (if any).
#[derive(Clone, Debug)]
pub struct Shrunk {
    pub case: Case,
    pub failure: Failure,
    pub guide: Option<(usize, Schedule)>,
    /// Cases run while shrinking.
    pub trials: usize,
}

/// Shrinks `case`, which failed with `failure` under `options`, within `budget`.
pub fn shrink(case: &Case, failure: &Failure, options: &Options, budget: Duration) -> Shrunk {
    let clock = Stopwatch::start();
    let mut trial_options = options.clone();
    trial_options.only = Some(failure.oracle);
    trial_options.time_limit = None;
    let mut best = Shrunk { case: case.clone(), failure: failure.clone(), guide: None, trials: 0 };
    // Nothing after the failing intent can matter.
    let keep = failure.intent.map_or(0, |i| i + 1);
    if keep < best.case.intents.len() {
        best.case.intents.truncate(keep);
    }
    let out_of_time = |clock: &Stopwatch| clock.elapsed() >= budget;
    let mut chunk = best.case.intents.len().div_ceil(2);
    while chunk >= 1 && !out_of_time(&clock) {
        let mut start = 0;
        while start < best.case.intents.len() && !out_of_time(&clock) {
            let mut candidate = best.case.clone();
            let end = (start + chunk).min(candidate.intents.len());
            candidate.intents.drain(start..end);
            best.trials += 1;
            match still_fails(&candidate, failure.oracle, &trial_options) {
                Some(found) => {
                    best.case = candidate;
                    best.failure = found;
                }
                None => start += chunk,
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
    if best.failure.oracle == Oracle::Schedule && !out_of_time(&clock) {
        shrink_schedule(&mut best, &trial_options, budget.saturating_sub(clock.elapsed()));
    }
    best
}

/// Runs `case` and returns its failure if it is one of `oracle`.
fn still_fails(case: &Case, oracle: Oracle, options: &Options) -> Option<Failure> {
    let outcome = run_case(case, options).ok()?;
    outcome.failure.filter(|f| f.oracle == oracle)
}

/// Shrinks the schedule of a schedule failure with the scheduler's shrinker.
fn shrink_schedule(best: &mut Shrunk, options: &Options, budget: Duration) {
    let Some(recorded) = best.failure.schedule.as_ref().map(|s| s.parse::<Schedule>().unwrap_or_else(|n| match n {}))
    else {
        return;
    };
    let step = best.failure.step;
    let failing = Reproduction { schedule: recorded, preemptions: best.failure.preemptions.unwrap_or(usize::MAX) };
    let clock = Stopwatch::start();
    let mut trials = 0;
    let case = best.case.clone();
    let shrunk = fuzz::shrink(&failing, |guide| {
        if clock.elapsed() >= budget {
            return None;
        }
        trials += 1;
        let mut guided = options.clone();
        guided.guide = Some((step, guide.clone()));
        let failure = still_fails(&case, Oracle::Schedule, &guided).filter(|f| f.step == step)?;
        Some(Reproduction { schedule: failure.schedule?.parse().ok()?, preemptions: failure.preemptions? })
    });
    best.trials += trials;
    best.guide = Some((step, shrunk.schedule));
}
