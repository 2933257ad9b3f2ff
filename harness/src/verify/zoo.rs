//! `lockstep verify --zoo`: one verify run per planted bug of the bug zoo
//! (`lockstep_core::bug_zoo`), each with the same seed and time budget, then
//! a replay of each repro with the bug still planted, and a table: caught or
//! missed, by which oracle, after how long, and how small the repro is.
//!
//! A miss is a finding: either an oracle gets stronger, or the README says
//! why the bug's class is out of reach. The run fails (and CI with it) when
//! a bug is missed or its repro does not replay.

use crate::verify::oracle::Oracle;
use crate::verify::repro::{self, Replayed};
use crate::verify::runner::{verify, VerifyOptions};
use lockstep_core::bug_zoo::Bug;
use lockstep_scheduler::clock::Stopwatch;
use serde_json::json;
use std::fmt::Write as _;
use std::time::Duration;

/// The most edits a zoo repro should need (the bar).
pub const MAX_REPRO_EDITS: usize = 3;

/// What the zoo found for one bug.
#[derive(Clone, Debug)]
pub struct ZooEntry {
    pub bug: Bug,
    /// `None`: missed within the budget.
    pub caught: Option<Caught>,
    /// Verified steps run for this bug (all of them, when it was missed).
    pub steps: usize,
}

/// How a bug was caught.
#[derive(Clone, Debug)]
pub struct Caught {
    /// The oracle of the shrunk failure (what the repro replays).
    pub oracle: Oracle,
    /// The oracle that fired first.
    pub first_oracle: Oracle,
    pub detected_after: Duration,
    pub edits: usize,
    pub schedule_steps: Option<usize>,
    pub repro_path: std::path::PathBuf,
    /// Whether `lockstep replay` of the repro fails the same way.
    pub replays: bool,
    pub detail: String,
}

impl ZooEntry {
    /// Caught, with a repro that replays.
    pub fn passed(&self) -> bool {
        self.caught.as_ref().is_some_and(|c| c.replays)
    }
}

/// The zoo's result.
#[derive(Clone, Debug, Default)]
pub struct ZooReport {
    pub entries: Vec<ZooEntry>,
    pub budget: Duration,
    pub seed: u64,
    pub elapsed: Duration,
}

/// Runs `verify` once per bug in `bugs` with `base`'s options (its `bug` is replaced; its time limit is
/// each bug's budget), replays each repro, and reports. `Err` is the harness's own trouble.
pub fn run_zoo(base: &VerifyOptions, bugs: &[Bug], mut on_entry: impl FnMut(&ZooEntry)) -> Result<ZooReport, String> {
    let clock = Stopwatch::start();
    let mut report = ZooReport { budget: base.time_limit, seed: base.seed, ..ZooReport::default() };
    for &bug in bugs {
        let options = VerifyOptions { bug: Some(bug), ..base.clone() };
        let summary = verify(&options)?;
        let caught = match summary.failure {
            None => None,
            Some(found) => {
                let scratch = tempfile::Builder::new()
                    .prefix("zoo-replay-")
                    .tempdir_in(&base.scratch)
                    .map_err(|e| format!("{}: {e}", base.scratch.display()))?;
                let (verdict, _) = repro::replay(&found.repro, base.lockstep.clone(), scratch.path().to_path_buf())?;
                Some(Caught {
                    oracle: found.shrunk.oracle,
                    first_oracle: found.original.oracle,
                    detected_after: found.detected_after,
                    edits: found.repro.edits(),
                    schedule_steps: found.repro.guide.as_ref().map(|(_, g)| g.len()),
                    repro_path: found.repro_path.clone(),
                    replays: matches!(verdict, Replayed::Reproduced(_)),
                    detail: found.shrunk.detail.lines().next().unwrap_or_default().to_string(),
                })
            }
        };
        let entry = ZooEntry { bug, caught, steps: summary.stats.steps };
        on_entry(&entry);
        report.entries.push(entry);
    }
    report.elapsed = clock.elapsed();
    Ok(report)
}

impl ZooReport {
    /// Whether every bug was caught with a repro that replays.
    pub fn passed(&self) -> bool {
        self.entries.iter().all(ZooEntry::passed)
    }

    /// Median and longest time to detect, over the caught bugs.
    pub fn detection_times(&self) -> Option<(Duration, Duration)> {
        let mut times: Vec<Duration> =
            self.entries.iter().filter_map(|e| e.caught.as_ref()).map(|c| c.detected_after).collect();
        times.sort();
        let median = *times.get(times.len() / 2)?;
        Some((median, *times.last()?))
    }

    /// The human table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "lockstep verify --zoo (seed {}, budget {}s per bug): {:.1}s",
            self.seed,
            self.budget.as_secs(),
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "  {:<28}{:<22}{:<8}{:<16}{:>9}{:>7}{:>10}{:>9}",
            "bug", "class", "result", "oracle", "detect", "edits", "schedule", "replays"
        );
        for entry in &self.entries {
            let class = entry.bug.class().name();
            match &entry.caught {
                None => {
                    let _ = writeln!(
                        out,
                        "  {:<28}{:<22}{:<8}{:<16}{:>9}{:>7}{:>10}{:>9}",
                        entry.bug.name(),
                        class,
                        "MISSED",
                        "-",
                        format!("{} steps", entry.steps),
                        "-",
                        "-",
                        "-"
                    );
                }
                Some(c) => {
                    let edits = if c.edits > MAX_REPRO_EDITS { format!("{}!", c.edits) } else { c.edits.to_string() };
                    let _ = writeln!(
                        out,
                        "  {:<28}{:<22}{:<8}{:<16}{:>8.1}s{:>7}{:>10}{:>9}",
                        entry.bug.name(),
                        class,
                        "caught",
                        c.oracle.name(),
                        c.detected_after.as_secs_f64(),
                        edits,
                        c.schedule_steps.map_or("-".to_string(), |n| n.to_string()),
                        if c.replays { "yes" } else { "NO" }
                    );
                }
            }
        }
        let caught = self.entries.iter().filter(|e| e.caught.is_some()).count();
        let _ = write!(out, "  caught {caught} of {}", self.entries.len());
        if let Some((median, longest)) = self.detection_times() {
            let _ = write!(
                out,
                "; time to detect: median {:.1}s, longest {:.1}s",
                median.as_secs_f64(),
                longest.as_secs_f64()
            );
        }
        let _ = writeln!(out);
        for entry in &self.entries {
            if let Some(c) = &entry.caught {
                let _ = writeln!(out, "  {}: {}", entry.bug.name(), c.detail);
                let _ = writeln!(out, "    lockstep replay {}", c.repro_path.display());
            }
        }
        out
    }

    pub fn to_json(&self) -> serde_json::Value {
        let entries: Vec<serde_json::Value> = self
            .entries
            .iter()
            .map(|e| {
                json!({
                    "bug": e.bug.name(),
                    "class": e.bug.class().name(),
                    "description": e.bug.description(),
                    "caught": e.caught.is_some(),
                    "steps": e.steps,
                    "oracle": e.caught.as_ref().map(|c| c.oracle.name()),
                    "first_oracle": e.caught.as_ref().map(|c| c.first_oracle.name()),
                    "detected_after_s": e.caught.as_ref().map(|c| c.detected_after.as_secs_f64()),
                    "edits": e.caught.as_ref().map(|c| c.edits),
                    "schedule_steps": e.caught.as_ref().and_then(|c| c.schedule_steps),
                    "replays": e.caught.as_ref().map(|c| c.replays),
                    "repro": e.caught.as_ref().map(|c| c.repro_path.display().to_string()),
                })
            })
            .collect();
        json!({
            "seed": self.seed,
            "budget_s": self.budget.as_secs(),
            "elapsed_s": self.elapsed.as_secs_f64(),
            "passed": self.passed(),
            "bugs": entries,
        })
    }
}
