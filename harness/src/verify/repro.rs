//! Repro files: a failing case as readable text that `lockstep replay FILE` runs again.
//!
//! ```text
//! # lockstep verify repro (replay: lockstep replay FILE)
//! lockstep: 0.1.0
//! program: generated small 1234
//! config: debug cgu=partition:16 j=2
//! schedule-seed: 99
//! intent: add-param 7
//! intent: body 3 1
//! guide: 4 codegen(main#0) done(main#0) ...
//! failed: precision at step 2 (parameter `extra: i64` added to alpha::calc3)
//! detail: recompiled functions ["alpha::calc3"], predicted exactly ["alpha::calc3", "main::main"]; ...
//! ```
//!
//! A project given by its sources (`lockstep verify DIR`) carries them after a `--- sources` line, as
//! `//- NAME.lks` sections. Everything a replay needs is in the file; nothing refers to the machine it was
//! written on.

use crate::program::import::import_sources;
use crate::verify::case::{run_case, Case, Options, Size, Start};
use crate::verify::intent::Intent;
use crate::verify::oracle::{Failure, Oracle};
use crate::verify::BuildConfig;
use lockstep_core::bug_zoo;
use lockstep_scheduler::fuzz::Schedule;
use std::fmt::Write as _;
use std::path::PathBuf;

/// A failing case, with what it failed of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repro {
    pub case: Case,
    /// The schedule workspace's build at step `.0` follows this guide (a shrunk schedule).
    pub guide: Option<(usize, Schedule)>,
    /// The oracle that failed and where, as found (a replay must fail the same oracle).
    pub oracle: Oracle,
    pub step: usize,
    pub action: String,
    pub detail: String,
    /// A planted defect that was switched on (`--inject-bug`), if any.
    pub bug: Option<String>,
}

impl Repro {
    pub fn new(case: Case, guide: Option<(usize, Schedule)>, failure: &Failure, bug: Option<String>) -> Repro {
        Repro {
            case,
            guide,
            oracle: failure.oracle,
            step: failure.step,
            action: failure.action.clone(),
            detail: failure.detail.clone(),
            bug,
        }
    }

    /// The number of edits (intents) it takes.
    pub fn edits(&self) -> usize {
        self.case.intents.len()
    }

    pub fn to_text(&self) -> String {
        let mut out = String::from("# lockstep verify repro (replay: lockstep replay FILE)\n");
        let _ = writeln!(out, "lockstep: {}", env!("CARGO_PKG_VERSION"));
        match &self.case.start {
            Start::Generated { seed, size } => {
                let _ = writeln!(out, "program: generated {} {seed}", size.name());
            }
            Start::Given(_) => out.push_str("program: sources\n"),
        }
        let _ = writeln!(out, "config: {}", self.case.config);
        let _ = writeln!(out, "schedule-seed: {}", self.case.schedule_seed);
        if let Some(bug) = &self.bug {
            let _ = writeln!(out, "inject-bug: {bug}");
        }
        for intent in &self.case.intents {
            let _ = writeln!(out, "intent: {intent}");
        }
        if let Some((step, guide)) = &self.guide {
            let _ = writeln!(out, "guide: {step} {guide}");
        }
        let _ = writeln!(out, "failed: {} at step {} ({})", self.oracle, self.step, one_line(&self.action));
        for line in self.detail.lines() {
            let _ = writeln!(out, "detail: {line}");
        }
        if let Start::Given(program) = &self.case.start {
            out.push_str("--- sources\n");
            for (name, text) in program.files() {
                let _ = writeln!(out, "//- {name}.lks");
                out.push_str(&text);
                if !text.ends_with('\n') {
                    out.push('\n');
                }
            }
        }
        out
    }

    pub fn parse(text: &str) -> Result<Repro, String> {
        let (head, sources) = match text.split_once("\n--- sources\n") {
            Some((head, sources)) => (head, Some(sources)),
            None => (text, None),
        };
        let mut fields = Fields::default();
        for (n, line) in head.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // `detail:` alone is an empty line of a multi-line detail.
            let (key, value) = line
                .split_once(": ")
                .or_else(|| line.strip_suffix(':').map(|key| (key, "")))
                .ok_or_else(|| format!("line {}: expected `KEY: VALUE`", n + 1))?;
            fields.take(key, value.trim()).map_err(|e| format!("line {}: {e}", n + 1))?;
        }
        fields.finish(sources)
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The fields of a repro file as they are read.
#[derive(Default)]
struct Fields {
    program: Option<String>,
    config: Option<BuildConfig>,
    schedule_seed: Option<u64>,
    intents: Vec<Intent>,
    guide: Option<(usize, Schedule)>,
    failed: Option<(Oracle, usize, String)>,
    detail: Vec<String>,
    bug: Option<String>,
}

impl Fields {
    fn take(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "lockstep" => {}
            "program" => self.program = Some(value.to_string()),
            "config" => self.config = Some(value.parse()?),
            "schedule-seed" => self.schedule_seed = Some(value.parse().map_err(|_| "not a number".to_string())?),
            "inject-bug" => self.bug = Some(value.to_string()),
            "intent" => self.intents.push(value.parse()?),
            "guide" => {
                let (step, schedule) = value.split_once(' ').unwrap_or((value, ""));
                let step = step.parse().map_err(|_| format!("`{step}` is not a step number"))?;
                let schedule: Schedule = schedule.parse().unwrap_or_else(|never| match never {});
                self.guide = Some((step, schedule));
            }
            "failed" => {
                let (oracle, rest) = value.split_once(" at step ").ok_or("expected `ORACLE at step N (...)`")?;
                let oracle = Oracle::parse(oracle).ok_or_else(|| format!("`{oracle}` is not an oracle"))?;
                let (step, action) = rest.split_once(' ').unwrap_or((rest, ""));
                let step = step.parse().map_err(|_| format!("`{step}` is not a step number"))?;
                // Exactly one pair of parentheses wraps the action, which may
                // hold parentheses of its own; spaces as `to_text` writes them.
                let action = action.trim();
                let action = action.strip_prefix('(').and_then(|a| a.strip_suffix(')')).unwrap_or(action);
                let action = one_line(action);
                self.failed = Some((oracle, step, action));
            }
            "detail" => self.detail.push(value.to_string()),
            other => return Err(format!("unknown field `{other}`")),
        }
        Ok(())
    }

    fn finish(self, sources: Option<&str>) -> Result<Repro, String> {
        let program = self.program.ok_or("no `program:` line")?;
        let start = match program.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["generated", size, seed] => Start::Generated {
                size: Size::parse(size).ok_or_else(|| format!("`{size}` is not a size"))?,
                seed: seed.parse().map_err(|_| format!("`{seed}` is not a seed"))?,
            },
            ["sources"] => {
                let files = parse_sources(sources.ok_or("`program: sources` but no `--- sources` section")?);
                Start::Given(import_sources(&files).map_err(|e| e.to_string())?)
            }
            _ => return Err(format!("`program: {program}`: expected `generated SIZE SEED` or `sources`")),
        };
        let (oracle, step, action) = self.failed.ok_or("no `failed:` line")?;
        Ok(Repro {
            case: Case {
                start,
                config: self.config.ok_or("no `config:` line")?,
                schedule_seed: self.schedule_seed.unwrap_or(0),
                intents: self.intents,
            },
            guide: self.guide,
            oracle,
            step,
            action,
            detail: self.detail.join("\n"),
            bug: self.bug,
        })
    }
}

/// `//- NAME.lks` sections into `(module, text)` pairs.
fn parse_sources(text: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("//- ") {
            let name = name.trim();
            files.push((name.strip_suffix(".lks").unwrap_or(name).to_string(), String::new()));
        } else if let Some((_, body)) = files.last_mut() {
            body.push_str(line);
        }
    }
    files
}

/// What replaying a repro found.
#[derive(Clone, Debug)]
pub enum Replayed {
    /// The recorded oracle failed again.
    Reproduced(Failure),
    /// Something failed, but not the recorded oracle.
    FailedDifferently(Failure),
    /// Every oracle held: the recorded failure is gone.
    Passed,
}

/// Runs a repro's case again (with its planted bug, if it names one, switched on for the run), with
/// the `lockstep` binary for child processes and `scratch` for workspaces. Returns the verdict and
/// the case's trace.
pub fn replay(repro: &Repro, lockstep: PathBuf, scratch: PathBuf) -> Result<(Replayed, Vec<String>), String> {
    let bug = match &repro.bug {
        Some(name) => Some(
            bug_zoo::Bug::from_name(name)
                .ok_or_else(|| format!("the repro plants `{name}`, which the bug zoo does not have"))?,
        ),
        None => None,
    };
    let mut options = Options::new(lockstep, scratch);
    options.guide = repro.guide.clone();
    let outcome = bug_zoo::with_bug(bug, || run_case(&repro.case, &options))??;
    let verdict = match outcome.failure {
        Some(failure) if failure.oracle == repro.oracle => Replayed::Reproduced(failure),
        Some(failure) => Replayed::FailedDifferently(failure),
        None => Replayed::Passed,
    };
    Ok((verdict, outcome.trace))
}
