//! The peer comparison's results: medians per tool and scenario, the ratios lockstep / peer, and the targets
//! BENCHMARKS.md names.

use super::tools::{Kind, Profile};
use serde_json::json;
use std::fmt::Write as _;
use std::time::Duration;

/// What is timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    /// A build with no build state (lockstep: no cache; make: no objects; cargo: no target directory).
    Clean,
    /// The same, with one job: lockstep only, for its parallel speed-up, timed in the clean rounds right
    /// after each `-jN` build (paired).
    CleanOneJob,
    /// Nothing changed since the last build.
    NoOp,
    /// One function's body changed.
    BodyEdit,
    /// A comment added to that function's body.
    CommentEdit,
    /// A parameter added to the function with the most callers; every caller passes it.
    SignatureEdit,
}

impl Scenario {
    pub const ALL: [Scenario; 6] = [
        Scenario::Clean,
        Scenario::CleanOneJob,
        Scenario::NoOp,
        Scenario::BodyEdit,
        Scenario::CommentEdit,
        Scenario::SignatureEdit,
    ];

    /// What is timed on its own rounds (`CleanOneJob` rides along with `Clean`).
    pub const MEASURED: [Scenario; 5] =
        [Scenario::Clean, Scenario::NoOp, Scenario::BodyEdit, Scenario::CommentEdit, Scenario::SignatureEdit];

    pub fn label(self) -> &'static str {
        match self {
            Scenario::Clean => "clean",
            Scenario::CleanOneJob => "clean, -j1",
            Scenario::NoOp => "no-op",
            Scenario::BodyEdit => "one body edit",
            Scenario::CommentEdit => "comment edit",
            Scenario::SignatureEdit => "signature edit",
        }
    }

    pub fn is_clean(self) -> bool {
        matches!(self, Scenario::Clean | Scenario::CleanOneJob)
    }

    pub fn applies_to(self, kind: &Kind) -> bool {
        self != Scenario::CleanOneJob || matches!(kind, Kind::Lockstep { .. })
    }
}

/// The timed builds of one tool in one scenario.
#[derive(Clone, Debug)]
pub struct Cell {
    pub profile: Profile,
    pub scenario: Scenario,
    pub tool: String,
    pub times: Vec<Duration>,
}

impl Cell {
    pub fn median(&self) -> Duration {
        median(&self.times)
    }

    /// `median (min–max, n runs)`.
    pub fn summary(&self) -> String {
        let min = self.times.iter().min().copied().unwrap_or_default();
        let max = self.times.iter().max().copied().unwrap_or_default();
        format!("{} ({}–{}, {} runs)", show(self.median()), show(min), show(max), self.times.len())
    }
}

/// The median (the mean of the middle two for an even count); zero for none.
pub fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

/// `12.3 ms` below a second, `1.23 s` above.
pub fn show(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1e3)
    }
}

/// One target: a ratio and the bound it must meet.
#[derive(Clone, Debug)]
pub struct Target {
    pub what: String,
    /// `lockstep / peer` (or `-j2 / -j1`).
    pub ratio: Option<f64>,
    pub at_most: f64,
    /// `None` when a tool or scenario it needs was not run.
    pub met: Option<bool>,
}

/// Everything one run measured.
#[derive(Clone, Debug)]
pub struct Peers {
    pub modules: usize,
    pub functions: usize,
    pub lines: usize,
    pub jobs: usize,
    pub runs: usize,
    pub ld: String,
    pub lockstep: String,
    pub llvm_linkage: String,
    pub callers: usize,
    pub cells: Vec<Cell>,
}

impl Peers {
    pub fn heading(&self) -> String {
        format!(
            "peers: {}x{} ({} lines of .lks), -j{}, linker {}, median of {} runs\n  lockstep: {} ({})\n  signature \
             edit: a parameter added to a function with {} callers",
            self.modules,
            self.functions,
            self.lines,
            self.jobs,
            self.ld,
            self.runs,
            self.lockstep,
            self.llvm_linkage,
            self.callers
        )
    }

    fn cell(&self, profile: Profile, scenario: Scenario, tool: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.profile == profile && c.scenario == scenario && c.tool == tool)
    }

    fn tools(&self) -> Vec<String> {
        let mut tools: Vec<String> = Vec::new();
        for c in &self.cells {
            if !tools.contains(&c.tool) {
                tools.push(c.tool.clone());
            }
        }
        tools
    }

    /// `lockstep / tool` in `scenario`, by medians.
    pub fn ratio(&self, profile: Profile, scenario: Scenario, tool: &str) -> Option<f64> {
        let ours = self.cell(profile, scenario, "lockstep")?.median().as_secs_f64();
        let theirs = self.cell(profile, scenario, tool)?.median().as_secs_f64();
        (theirs > 0.0).then(|| ours / theirs)
    }

    /// A markdown table: medians, then `lockstep / peer` per peer.
    pub fn table(&self, profile: Profile) -> String {
        let tools = self.tools();
        let peers: Vec<&String> = tools.iter().filter(|t| *t != "lockstep").collect();
        let mut out = format!(
            "{}, {}x{}, -j{}, {}\n\n| scenario |",
            profile.name(),
            self.modules,
            self.functions,
            self.jobs,
            self.ld
        );
        for t in &tools {
            let _ = write!(out, " {t} |");
        }
        for p in &peers {
            let _ = write!(out, " lockstep / {p} |");
        }
        out.push_str("\n|---|");
        out.push_str(&"---:|".repeat(tools.len() + peers.len()));
        for scenario in Scenario::ALL {
            let _ = write!(out, "\n| {} |", scenario.label());
            for t in &tools {
                let cell = self.cell(profile, scenario, t).map_or("—".to_string(), |c| show(c.median()));
                let _ = write!(out, " {cell} |");
            }
            for p in &peers {
                let ratio = self.ratio(profile, scenario, p).map_or("—".to_string(), |r| format!("{r:.2}"));
                let _ = write!(out, " {ratio} |");
            }
        }
        out.push('\n');
        out
    }

    /// The targets of the peer comparison (BENCHMARKS.md), from this run's medians.
    pub fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        let mut target = |what: String, ratio: Option<f64>, at_most: f64| {
            targets.push(Target { what, ratio, at_most, met: ratio.map(|r| r <= at_most) });
        };
        let gcc = "make + gcc";
        target("no-op, debug: lockstep / make + gcc".into(), self.ratio(Profile::Debug, Scenario::NoOp, gcc), 1.0);
        for profile in [Profile::Debug, Profile::Release] {
            target(
                format!("one body edit, {}: lockstep / make + gcc", profile.name()),
                self.ratio(profile, Scenario::BodyEdit, gcc),
                1.0 / 3.0,
            );
        }
        target(
            "one body edit, debug: lockstep / cargo".into(),
            self.ratio(Profile::Debug, Scenario::BodyEdit, "cargo"),
            0.1,
        );
        target("clean, debug: lockstep / make + gcc".into(), self.ratio(Profile::Debug, Scenario::Clean, gcc), 0.5);
        let scaling = (|| {
            let parallel = self.cell(Profile::Debug, Scenario::Clean, "lockstep")?.median().as_secs_f64();
            let serial = self.cell(Profile::Debug, Scenario::CleanOneJob, "lockstep")?.median().as_secs_f64();
            (serial > 0.0).then(|| parallel / serial)
        })();
        target(format!("clean, debug: lockstep -j{} / -j1", self.jobs), scaling, 0.55);
        targets
    }

    pub fn json(&self, targets: &[Target]) -> serde_json::Value {
        let cells: Vec<serde_json::Value> = self
            .cells
            .iter()
            .map(|c| {
                json!({
                    "profile": c.profile.name(),
                    "scenario": c.scenario.label(),
                    "tool": c.tool,
                    "median_ms": c.median().as_secs_f64() * 1e3,
                    "runs_ms": c.times.iter().map(|t| t.as_secs_f64() * 1e3).collect::<Vec<_>>(),
                })
            })
            .collect();
        let targets: Vec<serde_json::Value> = targets
            .iter()
            .map(|t| json!({ "target": t.what, "ratio": t.ratio, "at_most": t.at_most, "met": t.met }))
            .collect();
        json!({
            "modules": self.modules,
            "functions": self.functions,
            "lines": self.lines,
            "jobs": self.jobs,
            "linker": self.ld,
            "lockstep": self.lockstep,
            "llvm": self.llvm_linkage,
            "signature_edit_callers": self.callers,
            "cells": cells,
            "targets": targets,
        })
    }
}

/// The targets, one line each: the ratio, the bound, and whether it was met.
pub fn targets_text(targets: &[Target]) -> String {
    let mut out = String::from("targets:\n");
    for t in targets {
        let verdict = match t.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        };
        let ratio = t.ratio.map_or("—".to_string(), |r| format!("{r:.3}"));
        let _ = writeln!(out, "  {:<46} {ratio:>7}  (at most {:.3})  {verdict}", t.what, t.at_most);
    }
    out
}
