//! The `schedule_text` target: arbitrary text where lockstep reads a
//! scheduling strategy (`--schedule`), a recorded schedule, a build
//! configuration, an edit intent, or a whole `lockstep verify` repro file
//! (`lockstep replay FILE`).

use crate::verify::repro::Repro;
use crate::verify::{intent::Intent, BuildConfig};
use lockstep_core::exec::{execute, CodegenStage, ExecMode, LinkStage, NodeId, Plan, Stage};
use lockstep_scheduler::fuzz::{Chooser, Schedule, Strategy};
use std::fmt::{Debug, Display};
use std::str::FromStr;

/// Checks that every reader of schedule-related text either rejects the
/// text with an error or accepts a value whose text form reads back as the
/// same value; and that an accepted strategy drives a small plan to the
/// end (a replay that does not fit the plan diverges, it does not panic).
pub fn check_schedule_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(strategy) = round_trips::<Strategy>(&text) {
        run_small_plan(strategy);
    }
    let _ = round_trips::<Schedule>(&text);
    let _ = round_trips::<BuildConfig>(&text);
    let _ = round_trips::<Intent>(&text);
    for line in text.lines() {
        let _ = round_trips::<Intent>(line);
        let _ = round_trips::<Strategy>(line);
    }
    match Repro::parse(&text) {
        Ok(repro) => {
            let written = repro.to_text();
            let again =
                Repro::parse(&written).unwrap_or_else(|e| panic!("a repro's own text does not parse: {e}\n{written}"));
            assert!(again == repro, "a repro does not read back as itself:\n{written}");
        }
        Err(e) => assert!(!e.trim().is_empty(), "a repro was rejected without a reason"),
    }
}

/// Parses `text`; an accepted value must print as text that parses to it again.
fn round_trips<T>(text: &str) -> Result<T, ()>
where
    T: FromStr + Display + PartialEq + Debug,
    T::Err: Display,
{
    match text.parse::<T>() {
        Ok(value) => {
            let printed = value.to_string();
            match printed.parse::<T>() {
                Ok(again) => assert_eq!(again, value, "{} `{printed}` reads back as another value", type_name::<T>()),
                Err(e) => panic!("{} `{printed}`, printed from a parsed value, does not parse: {e}", type_name::<T>()),
            }
            Ok(value)
        }
        Err(e) => {
            assert!(!e.to_string().trim().is_empty(), "{} rejected {text:?} without a reason", type_name::<T>());
            Err(())
        }
    }
}

fn type_name<T>() -> &'static str {
    std::any::type_name::<T>().rsplit("::").next().unwrap_or("a value")
}

/// A diamond and a chain with two link steps: every event kind, a choice at
/// most steps.
fn small_plan() -> Plan {
    let mut plan = Plan::new();
    let a = plan.add("a", Stage::Codegen, 3, &[]);
    let b = plan.add("b", Stage::Codegen, 1, &[a]);
    let c = plan.add("c", Stage::Codegen, 2, &[a]);
    let d = plan.add("d", Stage::Codegen, 2, &[]);
    plan.add("link1", Stage::Link, 0, &[b, c]);
    plan.add("link2", Stage::Link, 0, &[d]);
    plan
}

struct Stages;

impl CodegenStage for Stages {
    type Worker = ();
    type Output = ();
    type Error = ();

    fn new_worker(&self) {}

    fn run(&self, (): &mut (), _: NodeId) -> Result<(), ()> {
        Ok(())
    }
}

impl LinkStage<(), ()> for Stages {
    fn run(&mut self, _: NodeId, _: &[(NodeId, &())]) -> Result<(), ()> {
        Ok(())
    }
}

fn run_small_plan(strategy: Strategy) {
    let plan = small_plan();
    let outcome =
        execute(&plan, &Stages, &mut Stages, ExecMode::Fuzzed { chooser: Chooser::new(strategy), virtual_workers: 2 });
    assert!(outcome.succeeded(), "a plan without failures did not finish: {:?}", outcome.skipped);
}
