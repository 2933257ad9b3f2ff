//! The [`Chooser`]: the one type that makes every scheduling decision of a fuzzed run.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::fmt;

use super::schedule::assert_valid_label;
use super::{Schedule, SplitMix64, Strategy};

/// The number of steps PCT spreads its priority change points over when nobody estimated it.
pub const DEFAULT_STEP_ESTIMATE: usize = 100;

/// Picks one of the enabled events at every step of a fuzzed run, and records what it picked.
///
/// Callers pass the labels of the currently enabled events in a canonical order whose first entry
/// is the "default" event: the one a plain sequential executor would run next. A step where the
/// chooser picks anything else counts as a preemption ([`Chooser::preemptions`]); shrinking
/// minimises that number, so a shrunk schedule reads as "the default run, except here and here".
#[derive(Debug)]
pub struct Chooser {
    mode: Mode,
    recorded: Schedule,
    preemptions: usize,
}

#[derive(Debug)]
enum Mode {
    Random(SplitMix64),
    Pct(Pct),
    Replay(Schedule),
    LenientReplay(LenientGuide),
    Scripted { choices: Vec<u8>, cursor: usize },
}

/// The seed a strategy runs with: the one it was given.
fn seed_used(seed: u64) -> u64 {
    if crate::bug_zoo::active(crate::bug_zoo::Bug::ScheduleSeedIgnored) {
        return 0;
    }
    seed
}

impl Chooser {
    /// A chooser following `strategy`. PCT spreads its change points over the step estimate given
    /// later by [`Chooser::suggest_step_estimate`], or over [`DEFAULT_STEP_ESTIMATE`] steps.
    pub fn new(strategy: Strategy) -> Chooser {
        let mode = match strategy {
            Strategy::Random { seed } => Mode::Random(SplitMix64::new(seed_used(seed))),
            Strategy::Pct { seed, depth } => Mode::Pct(Pct::new(seed_used(seed), depth, None)),
            Strategy::Replay(schedule) => Mode::Replay(schedule),
        };
        Chooser { mode, recorded: Schedule::default(), preemptions: 0 }
    }

    /// A chooser following `strategy`, where PCT expects a run of about `steps` steps and draws its
    /// priority change points among the first `steps` steps. Other strategies ignore the estimate.
    pub fn with_step_estimate(strategy: Strategy, steps: usize) -> Chooser {
        let mut chooser = Chooser::new(strategy);
        if let Mode::Pct(pct) = &mut chooser.mode {
            pct.step_estimate = Some(steps.max(1));
        }
        chooser
    }

    /// A forgiving replay of `guide`, used while shrinking: at each step it picks the guide's next
    /// label if that event is enabled, and the default event (`candidates[0]`) otherwise, waiting
    /// for the guide's label to become enabled later. Guide labels that already happened as a
    /// default are passed over, and once the guide is exhausted every step takes the default.
    pub fn lenient_replay(guide: Schedule) -> Chooser {
        let mut occurrences: BTreeMap<&str, usize> = BTreeMap::new();
        let ordinals = guide
            .steps()
            .iter()
            .map(|label| {
                let seen = occurrences.entry(label.as_str()).or_default();
                *seen += 1;
                *seen
            })
            .collect();
        let guide = LenientGuide { labels: guide.steps().to_vec(), ordinals, cursor: 0, chosen: BTreeMap::new() };
        Chooser { mode: Mode::LenientReplay(guide), recorded: Schedule::default(), preemptions: 0 }
    }

    /// A chooser whose decisions are given as bytes, for coverage-guided fuzzers: at each step the next
    /// byte, modulo the number of enabled events, picks one; once the bytes run out every step takes
    /// the default event. A fuzzer that mutates the bytes mutates the schedule directly, and a short
    /// input is the sequential run with a few preemptions at its start.
    pub fn scripted(choices: Vec<u8>) -> Chooser {
        Chooser { mode: Mode::Scripted { choices, cursor: 0 }, recorded: Schedule::default(), preemptions: 0 }
    }

    /// Tells PCT how many steps the run will take, unless it was told already or has started.
    /// The executor calls this with the plan's event count, so `Chooser::new(pct)` just works.
    pub fn suggest_step_estimate(&mut self, steps: usize) {
        if let Mode::Pct(pct) = &mut self.mode {
            if pct.step_estimate.is_none() && pct.change_points.is_none() {
                pct.step_estimate = Some(steps.max(1));
            }
        }
    }

    /// Picks one of `candidates` (the labels of the enabled events, default first) and records it.
    ///
    /// Only strict replay fails: when the schedule's next label is not among `candidates`, or the
    /// schedule has ended, the run no longer matches the recording. Nothing is recorded then.
    ///
    /// # Panics
    ///
    /// If `candidates` is empty (the caller must stop when nothing is enabled) or a label is empty
    /// or contains whitespace.
    pub fn choose(&mut self, candidates: &[String]) -> Result<usize, ReplayDiverged> {
        assert!(!candidates.is_empty(), "Chooser::choose needs at least one enabled event");
        let step = self.recorded.len();
        let index = match &mut self.mode {
            Mode::Random(rng) => rng.index(candidates.len()),
            Mode::Pct(pct) => pct.choose(step, candidates),
            Mode::Replay(schedule) => {
                let expected = schedule.steps().get(step);
                match expected.and_then(|label| candidates.iter().position(|candidate| candidate == label)) {
                    Some(index) => index,
                    None => {
                        return Err(ReplayDiverged {
                            step,
                            expected: expected.cloned(),
                            candidates: candidates.to_vec(),
                        })
                    }
                }
            }
            Mode::LenientReplay(guide) => guide.choose(candidates),
            Mode::Scripted { choices, cursor } => {
                let choice = choices.get(*cursor).map_or(0, |&byte| usize::from(byte) % candidates.len());
                *cursor += 1;
                choice
            }
        };
        self.recorded.push(&candidates[index]);
        if index != 0 {
            self.preemptions += 1;
        }
        Ok(index)
    }

    /// Checks, once the run has ended, that a strict replay used up its whole schedule: a run that
    /// ends early has diverged from the recording just as much as one that takes another step.
    /// Always `Ok` for the other strategies.
    pub fn verify_replay_finished(&self) -> Result<(), ReplayDiverged> {
        match &self.mode {
            Mode::Replay(schedule) if schedule.len() > self.recorded.len() => Err(ReplayDiverged {
                step: self.recorded.len(),
                expected: Some(schedule.steps()[self.recorded.len()].clone()),
                candidates: Vec::new(),
            }),
            _ => Ok(()),
        }
    }

    /// The labels chosen so far, in order.
    pub fn schedule(&self) -> Schedule {
        self.recorded.clone()
    }

    /// The number of steps so far where the choice was not the default event `candidates[0]`.
    pub fn preemptions(&self) -> usize {
        self.preemptions
    }
}

/// A strict replay met a step that its schedule does not describe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayDiverged {
    /// The 0-based step at which the run and the schedule parted.
    pub step: usize,
    /// The label the schedule expected, or `None` if the schedule had ended.
    pub expected: Option<String>,
    /// The labels that were enabled instead (empty if the run ended before the schedule did).
    pub candidates: Vec<String>,
}

impl fmt::Display for ReplayDiverged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "replay diverged at step {}: ", self.step)?;
        match &self.expected {
            Some(expected) if self.candidates.is_empty() => {
                write!(f, "the schedule expects `{expected}` but the run has ended")
            }
            Some(expected) => {
                write!(
                    f,
                    "the schedule expects `{expected}` but the enabled events are `{}`",
                    self.candidates.join(" ")
                )
            }
            None => write!(f, "the schedule has ended but the run goes on with `{}`", self.candidates.join(" ")),
        }
    }
}

impl Error for ReplayDiverged {}

/// The job an event label belongs to: `JOB` for a label `KIND(JOB)`, otherwise the whole label.
///
/// PCT gives all events of one job the same priority, like the steps of one thread in the paper:
/// `codegen(m3)` and `done(m3)` are two steps of job `m3`.
pub fn job_of_label(label: &str) -> &str {
    match (label.find('('), label.strip_suffix(')')) {
        (Some(open), Some(without_close)) if open < without_close.len() => &without_close[open + 1..],
        _ => label,
    }
}

/// PCT's state: one random priority per job, and the steps at which the running job is demoted.
#[derive(Debug)]
struct Pct {
    rng: SplitMix64,
    depth: u32,
    step_estimate: Option<usize>,
    /// Step number -> the low priority the job chosen at that step drops to; drawn at the first step.
    change_points: Option<BTreeMap<usize, u64>>,
    priorities: BTreeMap<String, u64>,
    priorities_in_use: BTreeSet<u64>,
}

impl Pct {
    fn new(seed: u64, depth: u32, step_estimate: Option<usize>) -> Pct {
        Pct {
            rng: SplitMix64::new(seed),
            depth: depth.max(1),
            step_estimate,
            change_points: None,
            priorities: BTreeMap::new(),
            priorities_in_use: BTreeSet::new(),
        }
    }

    fn choose(&mut self, step: usize, candidates: &[String]) -> usize {
        if self.change_points.is_none() {
            self.draw_change_points();
        }
        let mut best: Option<(usize, u64)> = None;
        for (index, candidate) in candidates.iter().enumerate() {
            assert_valid_label(candidate);
            let priority = self.priority_of(job_of_label(candidate));
            if best.is_none_or(|(_, best_priority)| priority > best_priority) {
                best = Some((index, priority));
            }
        }
        let (index, _) = best.expect("candidates are not empty");
        if let Some(&demoted) = self.change_points.as_ref().and_then(|points| points.get(&step)) {
            self.priorities.insert(job_of_label(&candidates[index]).to_owned(), demoted);
        }
        index
    }

    /// Draws `depth - 1` distinct change points uniformly among the first `k` steps. The `i`-th one
    /// (1-based) demotes to priority `i`, below every initial priority (those are at least `depth`).
    fn draw_change_points(&mut self) {
        let steps = self.step_estimate.unwrap_or(DEFAULT_STEP_ESTIMATE);
        let wanted = (self.depth as usize - 1).min(steps);
        let mut points = BTreeMap::new();
        let mut demoted_priority = 1;
        while points.len() < wanted {
            let step = self.rng.index(steps);
            if let std::collections::btree_map::Entry::Vacant(slot) = points.entry(step) {
                slot.insert(demoted_priority);
                demoted_priority += 1;
            }
        }
        self.change_points = Some(points);
    }

    /// The job's priority, drawn on first sight: uniformly random and distinct, so the initial
    /// priorities form a uniformly random order of the jobs, all above the demoted priorities.
    fn priority_of(&mut self, job: &str) -> u64 {
        if let Some(&priority) = self.priorities.get(job) {
            return priority;
        }
        let lowest_initial = u64::from(self.depth);
        let priority = loop {
            let candidate = lowest_initial + self.rng.below(u64::MAX - lowest_initial);
            if self.priorities_in_use.insert(candidate) {
                break candidate;
            }
        };
        self.priorities.insert(job.to_owned(), priority);
        priority
    }
}

/// The state of a lenient replay: where in the guide it is, and how often each label was chosen.
#[derive(Debug)]
struct LenientGuide {
    labels: Vec<String>,
    /// `ordinals[i]` = how many times `labels[i]` occurs in `labels[..=i]`.
    ordinals: Vec<usize>,
    cursor: usize,
    chosen: BTreeMap<String, usize>,
}

impl LenientGuide {
    fn choose(&mut self, candidates: &[String]) -> usize {
        let index = loop {
            let Some(label) = self.labels.get(self.cursor) else { break 0 };
            let already_chosen = self.chosen.get(label).copied().unwrap_or(0);
            if already_chosen >= self.ordinals[self.cursor] {
                // This occurrence already happened as a default; it will not be enabled again.
                self.cursor += 1;
                continue;
            }
            match candidates.iter().position(|candidate| candidate == label) {
                Some(index) => {
                    self.cursor += 1;
                    break index;
                }
                None => break 0,
            }
        };
        *self.chosen.entry(candidates[index].clone()).or_default() += 1;
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_the_parenthesised_part_of_a_label() {
        assert_eq!(job_of_label("codegen(m3)"), "m3");
        assert_eq!(job_of_label("done(a(b))"), "a(b)");
        assert_eq!(job_of_label("plain"), "plain");
        assert_eq!(job_of_label("odd)"), "odd)");
        assert_eq!(job_of_label("empty()"), "");
    }

    #[test]
    fn scripted_choices_wrap_around_the_candidates_then_default() {
        let candidates = |n: usize| (0..n).map(|i| format!("e{i}")).collect::<Vec<_>>();
        let mut chooser = Chooser::scripted(vec![1, 5, 2]);
        let picks: Vec<usize> = [3, 3, 2, 4, 4].iter().map(|&n| chooser.choose(&candidates(n)).unwrap()).collect();
        assert_eq!(picks, [1, 2, 0, 0, 0]);
        assert_eq!(chooser.preemptions(), 2);
        assert_eq!(chooser.schedule().to_string(), "e1 e2 e0 e0 e0");
    }
}
