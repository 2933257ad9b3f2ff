//! Shrinking a failing schedule to one with as few preemptions as possible.
//!
//! A schedule found by random or PCT fuzzing is long and full of irrelevant choices. Shrinking
//! treats the schedule as a *guide* for [`Chooser::lenient_replay`](super::Chooser::lenient_replay)
//! and deletes guide steps (delta debugging: big chunks first, then single steps) as long as the
//! failure still reproduces and the run does not need more preemptions. Every accepted deletion
//! makes the guide strictly shorter, so shrinking always terminates.
//!
//! The caller's closure owns the system under test: it runs it under a lenient replay of the
//! candidate guide and, if the failure reproduces, returns the [`Reproduction`] the chooser
//! recorded. Preemptions are a property of the run (which choices departed from the default), not
//! of the labels alone, so the closure reports them alongside the recorded schedule.

use super::Schedule;

/// A failing run: the schedule the chooser recorded and the number of preemptions it made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reproduction {
    /// The recorded schedule; a strict replay of it reproduces the failure.
    pub schedule: Schedule,
    /// How many of its steps departed from the default event.
    pub preemptions: usize,
}

/// Shrinks `failing` to a failing run with fewer or equal preemptions.
///
/// `still_fails(guide)` must run the system under `Chooser::lenient_replay(guide.clone())` and return
/// `Some(Reproduction { schedule: chooser.schedule(), preemptions: chooser.preemptions() })` when the
/// failure reproduces, `None` otherwise. It is called `O(n log n)` times for a guide of `n` steps in
/// the common case, `O(n²)` at worst.
pub fn shrink(failing: &Reproduction, mut still_fails: impl FnMut(&Schedule) -> Option<Reproduction>) -> Reproduction {
    let mut best = failing.clone();
    let mut guide: Vec<String> = failing.schedule.steps().to_vec();

    let mut try_guide = |candidate: &[String], best: &mut Reproduction| -> bool {
        match still_fails(&Schedule::new(candidate.iter().cloned())) {
            Some(reproduction) if reproduction.preemptions <= best.preemptions => {
                *best = reproduction;
                true
            }
            _ => false,
        }
    };

    // The default run needs no preemption at all; if it fails, nothing is shorter.
    if try_guide(&[], &mut best) {
        return best;
    }

    let mut chunk = guide.len().div_ceil(2).max(1);
    loop {
        let mut removed_any = false;
        let mut start = 0;
        while start < guide.len() {
            let end = (start + chunk).min(guide.len());
            let candidate: Vec<String> = guide[..start].iter().chain(&guide[end..]).cloned().collect();
            if try_guide(&candidate, &mut best) {
                guide = candidate;
                removed_any = true;
            } else {
                start = end;
            }
        }
        if chunk == 1 {
            if !removed_any {
                return best;
            }
        } else {
            chunk = chunk.div_ceil(2);
        }
    }
}
