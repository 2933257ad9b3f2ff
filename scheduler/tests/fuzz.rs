//! Tests of the fuzzed scheduler's decision seam: determinism, PCT's guarantees, schedule text
//! round trips, replay (strict and lenient) and shrinking, on a toy model of threads with a known
//! depth-2 ordering bug.

use std::collections::BTreeSet;

use lockstep_scheduler::fuzz::{shrink, Chooser, ReplayDiverged, Reproduction, Schedule, Strategy};
use proptest::prelude::*;

/// Threads that each run a fixed number of steps, labelled `sN(THREAD)`. The enabled events are
/// each unfinished thread's next step, in thread order, so the default run is thread by thread.
struct ToyThreads {
    steps: Vec<(&'static str, usize)>,
}

/// The known bug: B's first step runs after A's first step and before A's last (third) step.
/// Finding it needs two ordering constraints (depth 2), and one preemption: a switch to B in
/// the middle of A.
fn b_interrupts_a(schedule: &Schedule) -> bool {
    let position = |label: &str| schedule.steps().iter().position(|step| step == label);
    match (position("s0(A)"), position("s0(B)"), position("s2(A)")) {
        (Some(a_start), Some(b_start), Some(a_end)) => a_start < b_start && b_start < a_end,
        _ => false,
    }
}

impl ToyThreads {
    fn a_then_b() -> ToyThreads {
        ToyThreads { steps: vec![("A", 3), ("B", 2)] }
    }

    fn step_count(&self) -> usize {
        self.steps.iter().map(|&(_, count)| count).sum()
    }

    /// Runs the model to the end under `chooser`.
    fn run(&self, chooser: &mut Chooser) -> Result<Schedule, ReplayDiverged> {
        let mut done = vec![0; self.steps.len()];
        loop {
            let enabled: Vec<usize> =
                (0..self.steps.len()).filter(|&thread| done[thread] < self.steps[thread].1).collect();
            if enabled.is_empty() {
                return Ok(chooser.schedule());
            }
            let labels: Vec<String> =
                enabled.iter().map(|&thread| format!("s{}({})", done[thread], self.steps[thread].0)).collect();
            let chosen = enabled[chooser.choose(&labels)?];
            done[chosen] += 1;
        }
    }

    /// Runs under `strategy` and returns the failing run, if the bug showed up.
    fn find_bug(&self, strategy: Strategy) -> Option<Reproduction> {
        let mut chooser = Chooser::with_step_estimate(strategy, self.step_count());
        let schedule = self.run(&mut chooser).expect("only replays diverge");
        b_interrupts_a(&schedule).then(|| Reproduction { schedule, preemptions: chooser.preemptions() })
    }

    /// The closure `shrink` wants: a lenient replay of `guide` that reports a reproduction.
    fn still_fails(&self, guide: &Schedule) -> Option<Reproduction> {
        let mut chooser = Chooser::lenient_replay(guide.clone());
        let schedule = self.run(&mut chooser).expect("lenient replay never diverges");
        b_interrupts_a(&schedule).then(|| Reproduction { schedule, preemptions: chooser.preemptions() })
    }
}

fn labels(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn the_same_seed_makes_the_same_choices_and_seeds_differ() {
    let model = ToyThreads::a_then_b();
    let mut distinct = BTreeSet::new();
    for seed in 0..50 {
        for strategy in [Strategy::Random { seed }, Strategy::Pct { seed, depth: 3 }] {
            let first = model.run(&mut Chooser::new(strategy.clone())).unwrap();
            let second = model.run(&mut Chooser::new(strategy)).unwrap();
            assert_eq!(first, second);
            distinct.insert(first.to_string());
        }
    }
    assert!(distinct.len() >= 5, "seeds explore different schedules: {distinct:?}");
}

#[test]
fn always_taking_the_default_is_zero_preemptions() {
    let mut chooser = Chooser::lenient_replay(Schedule::default());
    let schedule = ToyThreads::a_then_b().run(&mut chooser).unwrap();
    assert_eq!(schedule.to_string(), "s0(A) s1(A) s2(A) s0(B) s1(B)");
    assert_eq!(chooser.preemptions(), 0);
}

#[test]
fn preemptions_count_the_departures_from_the_default() {
    let guide: Schedule = "s0(A) s0(B) s1(A) s1(B) s2(A)".parse().unwrap();
    let mut chooser = Chooser::new(Strategy::Replay(guide.clone()));
    assert_eq!(ToyThreads::a_then_b().run(&mut chooser).unwrap(), guide);
    // s0(B) and s1(B) are picked while A is enabled and first; the other steps are defaults.
    assert_eq!(chooser.preemptions(), 2);
}

#[test]
fn pct_of_depth_one_never_finds_a_depth_two_bug() {
    let model = ToyThreads::a_then_b();
    for seed in 0..500 {
        assert_eq!(model.find_bug(Strategy::Pct { seed, depth: 1 }), None, "seed {seed}");
    }
}

#[test]
fn pct_of_depth_two_finds_the_bug_at_least_as_often_as_promised() {
    // PCT finds a depth-d bug among n jobs and k steps with probability >= 1/(n·k^(d-1)).
    let model = ToyThreads::a_then_b();
    let (jobs, steps, seeds) = (2, model.step_count(), 1000);
    let found = (0..seeds).filter(|&seed| model.find_bug(Strategy::Pct { seed, depth: 2 }).is_some()).count();
    assert!(found * jobs * steps >= seeds as usize, "found in {found} of {seeds} runs");
    assert!(found < seeds as usize, "PCT is not expected to find it every time");
}

#[test]
fn pct_of_depth_one_keeps_one_priority_order_between_jobs() {
    let model = ToyThreads { steps: vec![("A", 3), ("B", 3), ("C", 3)] };
    for seed in 0..100 {
        let schedule = model.run(&mut Chooser::new(Strategy::Pct { seed, depth: 1 })).unwrap();
        // Without change points the highest-priority job runs to completion, then the next.
        let jobs: Vec<&str> = schedule.steps().iter().map(|step| &step[3..4]).collect();
        let mut runs = jobs.clone();
        runs.dedup();
        assert_eq!(runs.len(), 3, "seed {seed}: {schedule}");
    }
}

#[test]
fn random_search_finds_the_bug() {
    let model = ToyThreads::a_then_b();
    assert!((0..100).any(|seed| model.find_bug(Strategy::Random { seed }).is_some()));
}

#[test]
fn strict_replay_reproduces_and_reports_where_it_diverges() {
    let model = ToyThreads::a_then_b();
    let recorded = model.run(&mut Chooser::new(Strategy::Random { seed: 9 })).unwrap();
    let mut replay = Chooser::new(Strategy::Replay(recorded.clone()));
    assert_eq!(model.run(&mut replay).unwrap(), recorded);
    assert_eq!(replay.verify_replay_finished(), Ok(()));

    let wrong: Schedule = "s0(A) s2(A)".parse().unwrap();
    let diverged = model.run(&mut Chooser::new(Strategy::Replay(wrong))).unwrap_err();
    assert_eq!(
        diverged,
        ReplayDiverged { step: 1, expected: Some("s2(A)".to_owned()), candidates: labels("s1(A) s0(B)") }
    );
    assert_eq!(
        diverged.to_string(),
        "replay diverged at step 1: the schedule expects `s2(A)` but the enabled events are `s1(A) s0(B)`"
    );

    let short: Schedule = "s0(A)".parse().unwrap();
    let diverged = model.run(&mut Chooser::new(Strategy::Replay(short))).unwrap_err();
    assert_eq!(diverged.expected, None, "the schedule ended while events were still enabled");

    let long: Schedule = format!("{recorded} s9(A)").parse().unwrap();
    let mut replay = Chooser::new(Strategy::Replay(long));
    model.run(&mut replay).unwrap();
    let diverged = replay.verify_replay_finished().unwrap_err();
    assert_eq!((diverged.step, diverged.expected.as_deref()), (5, Some("s9(A)")));
}

#[test]
fn lenient_replay_waits_for_guide_labels_and_defaults_otherwise() {
    let guide: Schedule = "s1(A) s0(B) s9(Z)".parse().unwrap();
    let mut chooser = Chooser::lenient_replay(guide);
    let schedule = ToyThreads::a_then_b().run(&mut chooser).unwrap();
    // s1(A) is not enabled at step 0: default s0(A); then s1(A) as guided; then s0(B) as guided;
    // s9(Z) never becomes enabled, so the rest are defaults.
    assert_eq!(schedule.to_string(), "s0(A) s1(A) s0(B) s2(A) s1(B)");
    assert_eq!(chooser.preemptions(), 1);
}

#[test]
fn lenient_replay_passes_over_guide_labels_that_already_happened() {
    // s1(A) is not enabled at step 0, so s0(A) runs as the default while the guide waits. When the
    // guide then reaches its own s0(A), that step already happened and is passed over instead of
    // stalling the guide forever.
    let guide: Schedule = "s1(A) s0(A) s0(B)".parse().unwrap();
    let mut chooser = Chooser::lenient_replay(guide);
    let schedule = ToyThreads::a_then_b().run(&mut chooser).unwrap();
    assert_eq!(schedule.to_string(), "s0(A) s1(A) s0(B) s2(A) s1(B)");
}

#[test]
fn shrinking_finds_the_single_preemption_the_bug_needs() {
    let model = ToyThreads::a_then_b();
    let mut shrunk_any = 0;
    for seed in 0..200 {
        let Some(failing) = model.find_bug(Strategy::Random { seed }) else { continue };
        let shrunk = shrink(&failing, |guide| model.still_fails(guide));
        assert!(shrunk.preemptions <= failing.preemptions, "seed {seed}: shrinking never adds preemptions");
        assert_eq!(shrunk.preemptions, 1, "seed {seed}: {} -> {}", failing.schedule, shrunk.schedule);
        // The shrunk schedule is a real recording: a strict replay reproduces it and the bug.
        let mut replay = Chooser::new(Strategy::Replay(shrunk.schedule.clone()));
        let replayed = model.run(&mut replay).unwrap();
        assert_eq!(replayed, shrunk.schedule);
        assert!(b_interrupts_a(&replayed));
        shrunk_any += 1;
    }
    assert!(shrunk_any >= 10, "random search found the bug only {shrunk_any} times");
}

#[test]
fn shrinking_keeps_a_run_that_cannot_get_simpler() {
    let model = ToyThreads::a_then_b();
    let minimal = model.still_fails(&"s0(A) s0(B)".parse().unwrap()).expect("this guide triggers the bug");
    assert_eq!(minimal.preemptions, 1);
    assert_eq!(shrink(&minimal, |guide| model.still_fails(guide)).preemptions, 1);
}

#[test]
fn strategies_round_trip_through_their_text_form() {
    for text in ["random:0", "random:18446744073709551615", "pct:7:3", "replay:codegen(a) done(a) link(b)", "replay:"] {
        let strategy: Strategy = text.parse().unwrap();
        assert_eq!(strategy.to_string(), text);
    }
    assert_eq!("pct:7:3".parse(), Ok(Strategy::Pct { seed: 7, depth: 3 }));
    for bad in ["random", "random:x", "pct:1", "pct:1:0", "pct:x:2", "dfs:1", ""] {
        let error = bad.parse::<Strategy>().unwrap_err();
        assert!(error.to_string().contains("expected `random:SEED`"), "{bad}: {error}");
    }
}

proptest! {
    #[test]
    fn schedules_round_trip_through_text(steps in proptest::collection::vec("[a-z]{1,6}\\([a-z0-9_.]{0,5}\\)", 0..20)) {
        let schedule = Schedule::new(steps.clone());
        let text = schedule.to_string();
        prop_assert_eq!(text.parse::<Schedule>().unwrap(), schedule.clone());
        prop_assert_eq!(schedule.steps(), &steps[..]);
        let one_per_line = steps.join("\n");
        prop_assert_eq!(one_per_line.parse::<Schedule>().unwrap(), schedule);
    }

    #[test]
    fn any_strategy_replays_its_own_recording(seed in any::<u64>(), depth in 1u32..4) {
        let model = ToyThreads { steps: vec![("A", 3), ("B", 2), ("C", 2)] };
        for strategy in [Strategy::Random { seed }, Strategy::Pct { seed, depth }] {
            let mut chooser = Chooser::new(strategy);
            let recorded = model.run(&mut chooser).unwrap();
            let mut replay = Chooser::new(Strategy::Replay(recorded.clone()));
            prop_assert_eq!(model.run(&mut replay).unwrap(), recorded);
            prop_assert_eq!(replay.preemptions(), chooser.preemptions());
        }
    }
}
