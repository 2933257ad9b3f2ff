//! Tests of the execution engine with toy stages: codegen outputs its node's label, link outputs
//! `label(input,input,...)` from its inputs in dependency order, and chosen nodes fail.
//!
//! The oracle is a sequential reference evaluation in plan order (independent of the engine).
//! Every plan runs on 1, 2 and 8 threads and under 100 random and 100 PCT fuzzed schedules, and
//! every run must render exactly like the reference. Fuzzed runs' schedules are checked against the
//! dependency order, replayed, and re-recorded from their seeds.

#![cfg(not(loom))]

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use lockstep_core::exec::{
    execute, CodegenStage, ExecMode, ExecOutcome, LinkStage, NodeId, Plan, ScheduleEvent, Stage,
};
use lockstep_scheduler::fuzz::{shrink, Chooser, Reproduction, Schedule, Strategy};
use lockstep_scheduler::parallelism::Parallelism;
use lockstep_scheduler::sync::atomic::{AtomicUsize, Ordering};
use lockstep_scheduler::sync::{self, thread, Mutex};
use proptest::prelude::*;
use proptest::strategy::Strategy as _;

/// Codegen: the output is the node's label; nodes in `failing` fail; measures its concurrency.
struct ToyCodegen<'p> {
    plan: &'p Plan,
    failing: BTreeSet<NodeId>,
    panics_at: Option<NodeId>,
    running: AtomicUsize,
    peak_running: AtomicUsize,
    workers_created: AtomicUsize,
    /// When set, each run takes a little wall time so that workers really overlap.
    slow: bool,
}

impl<'p> ToyCodegen<'p> {
    fn new(plan: &'p Plan, failing: &BTreeSet<NodeId>) -> Self {
        ToyCodegen {
            plan,
            failing: failing.clone(),
            panics_at: None,
            running: AtomicUsize::new(0),
            peak_running: AtomicUsize::new(0),
            workers_created: AtomicUsize::new(0),
            slow: false,
        }
    }
}

/// Per-worker state; its only job is to prove it is created once per worker that gets work.
struct ToyWorker {
    nodes_run: usize,
}

impl CodegenStage for ToyCodegen<'_> {
    type Worker = ToyWorker;
    type Output = String;
    type Error = String;

    fn new_worker(&self) -> ToyWorker {
        self.workers_created.fetch_add(1, Ordering::SeqCst);
        ToyWorker { nodes_run: 0 }
    }

    fn run(&self, worker: &mut ToyWorker, node: NodeId) -> Result<String, String> {
        let now_running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_running.fetch_max(now_running, Ordering::SeqCst);
        worker.nodes_run += 1;
        assert_eq!(self.plan.stage(node), Stage::Codegen, "the codegen stage only gets codegen nodes");
        if self.slow {
            std::thread::sleep(std::time::Duration::from_millis(2));
        } else {
            thread::yield_now();
        }
        assert_ne!(self.panics_at, Some(node), "injected codegen panic");
        self.running.fetch_sub(1, Ordering::SeqCst);
        let label = self.plan.label(node);
        if self.failing.contains(&node) {
            Err(format!("{label}-broke"))
        } else {
            Ok(label.to_owned())
        }
    }
}

/// Link: the output is `label(input,...)`; records the order Link nodes ran in.
struct ToyLink<'p> {
    plan: &'p Plan,
    failing: BTreeSet<NodeId>,
    panics_at: Option<NodeId>,
    ran: Vec<NodeId>,
}

impl<'p> ToyLink<'p> {
    fn new(plan: &'p Plan, failing: &BTreeSet<NodeId>) -> Self {
        ToyLink { plan, failing: failing.clone(), panics_at: None, ran: Vec::new() }
    }
}

impl LinkStage<String, String> for ToyLink<'_> {
    fn run(&mut self, node: NodeId, inputs: &[(NodeId, &String)]) -> Result<String, String> {
        assert_eq!(self.plan.stage(node), Stage::Link, "the link stage only gets link nodes");
        let input_ids: Vec<NodeId> = inputs.iter().map(|&(id, _)| id).collect();
        assert_eq!(input_ids, self.plan.deps(node), "inputs come in dependency order");
        assert_ne!(self.panics_at, Some(node), "injected link panic");
        self.ran.push(node);
        let label = self.plan.label(node);
        if self.failing.contains(&node) {
            return Err(format!("{label}-broke"));
        }
        let joined: Vec<&str> = inputs.iter().map(|(_, output)| output.as_str()).collect();
        Ok(format!("{label}({})", joined.join(",")))
    }
}

/// One line per node: `label: ok OUTPUT`, `label: failed ERROR` or `label: skipped`.
fn render(plan: &Plan, outcome: &ExecOutcome<String, String>) -> String {
    let failed: Vec<NodeId> = outcome.failed.iter().map(|&(node, _)| node).collect();
    let mut lines = Vec::new();
    for node in plan.ids() {
        let label = plan.label(node);
        let output = &outcome.outputs[node.index()];
        let failure = outcome.failed.iter().find(|&&(id, _)| id == node);
        let skipped = outcome.skipped.contains(&node);
        let verdicts = usize::from(output.is_some()) + usize::from(failure.is_some()) + usize::from(skipped);
        assert_eq!(verdicts, 1, "{label} must be exactly one of ok, failed or skipped");
        lines.push(match (output, failure) {
            (Some(output), _) => format!("{label}: ok {output}"),
            (None, Some((_, error))) => format!("{label}: failed {error}"),
            (None, None) => format!("{label}: skipped"),
        });
    }
    assert!(failed.windows(2).all(|pair| pair[0] < pair[1]), "failures are in NodeId order");
    assert!(outcome.skipped.windows(2).all(|pair| pair[0] < pair[1]), "skips are in NodeId order");
    lines.join("\n")
}

/// The sequential reference: evaluate nodes in plan order (a topological order by construction).
fn reference(plan: &Plan, failing: &BTreeSet<NodeId>) -> String {
    let mut results: Vec<Result<String, String>> = Vec::new();
    let mut lines = Vec::new();
    for node in plan.ids() {
        let label = plan.label(node);
        let deps = plan.deps(node);
        let result = if deps.iter().any(|dep| results[dep.index()].is_err()) {
            lines.push(format!("{label}: skipped"));
            Err("skipped".to_owned())
        } else if failing.contains(&node) {
            lines.push(format!("{label}: failed {label}-broke"));
            Err("failed".to_owned())
        } else {
            let output = match plan.stage(node) {
                Stage::Codegen => label.to_owned(),
                Stage::Link => {
                    let inputs: Vec<&str> = deps.iter().map(|dep| results[dep.index()].as_deref().unwrap()).collect();
                    format!("{label}({})", inputs.join(","))
                }
            };
            lines.push(format!("{label}: ok {output}"));
            Ok(output)
        };
        results.push(result);
    }
    lines.join("\n")
}

/// Checks that a fuzzed run's schedule is one the threaded protocol could have produced: codegen
/// starts only after every dependency succeeded and was delivered, `done` follows its `codegen`,
/// Link nodes run in plan order, every node that ran appears, and skipped nodes never do.
fn assert_schedule_respects_plan(plan: &Plan, schedule: &Schedule, outcome: &ExecOutcome<String, String>) {
    let failed: BTreeSet<NodeId> = outcome.failed.iter().map(|&(node, _)| node).collect();
    let mut started = BTreeSet::new();
    let mut visible = BTreeSet::new();
    let mut links = Vec::new();
    for label in schedule.steps() {
        let event = ScheduleEvent::parse(label, plan).unwrap_or_else(|| panic!("`{label}` names no node"));
        assert_eq!(&event.label(plan), label, "labels round-trip through ScheduleEvent");
        let node = event.node();
        let deps_succeeded = plan.deps(node).iter().all(|dep| visible.contains(dep) && !failed.contains(dep));
        match event {
            ScheduleEvent::Codegen(_) => {
                assert_eq!(plan.stage(node), Stage::Codegen, "{schedule}");
                assert!(deps_succeeded, "`{label}` ran before its dependencies in `{schedule}`");
                assert!(started.insert(node), "`{label}` ran twice in `{schedule}`");
            }
            ScheduleEvent::Done(_) => {
                assert!(started.contains(&node), "`{label}` before its codegen in `{schedule}`");
                assert!(visible.insert(node), "`{label}` twice in `{schedule}`");
            }
            ScheduleEvent::Link(_) => {
                assert_eq!(plan.stage(node), Stage::Link, "{schedule}");
                assert!(deps_succeeded, "`{label}` ran before its dependencies in `{schedule}`");
                assert!(visible.insert(node), "`{label}` ran twice in `{schedule}`");
                links.push(node);
            }
        }
    }
    let expected_links: Vec<NodeId> = plan.link_order().filter(|node| !outcome.skipped.contains(node)).collect();
    assert_eq!(links, expected_links, "link order is plan order in `{schedule}`");
    for node in plan.ids() {
        assert_eq!(visible.contains(&node), !outcome.skipped.contains(&node), "{} in `{schedule}`", plan.label(node));
    }
}

struct ToyCodegenCounters {
    peak_running: usize,
    workers_created: usize,
}

/// Runs one mode with fresh toy stages and returns the outcome plus the link stage's run order.
fn run(
    plan: &Plan,
    failing: &BTreeSet<NodeId>,
    mode: ExecMode,
) -> (ExecOutcome<String, String>, Vec<NodeId>, ToyCodegenCounters) {
    let codegen = ToyCodegen::new(plan, failing);
    let mut link = ToyLink::new(plan, failing);
    let outcome = execute(plan, &codegen, &mut link, mode);
    let counters = ToyCodegenCounters {
        peak_running: codegen.peak_running.load(Ordering::SeqCst),
        workers_created: codegen.workers_created.load(Ordering::SeqCst),
    };
    (outcome, link.ran, counters)
}

fn fuzzed(strategy: Strategy, virtual_workers: usize) -> ExecMode {
    ExecMode::Fuzzed { chooser: Chooser::new(strategy), virtual_workers }
}

/// The strategies every plan is fuzzed with: 100 random and 100 PCT seeds, 1 to 4 virtual workers.
fn fuzz_strategies() -> Vec<(Strategy, usize)> {
    let random = (0..100).map(|seed| (Strategy::Random { seed }, seed as usize % 3 + 1));
    let pct = (0..100).map(|seed| (Strategy::Pct { seed, depth: (seed % 3 + 1) as u32 }, seed as usize % 4 + 1));
    random.chain(pct).collect()
}

/// Runs `plan` in every mode and checks each run against `expected` and the engine's invariants.
fn check_all_modes(plan: &Plan, failing: &BTreeSet<NodeId>, expected: &str) {
    // Fuzzed runs first: they cannot hang, so an engine bug that loses a node fails here with a
    // message instead of leaving the threaded runs below waiting forever.
    for (strategy, virtual_workers) in fuzz_strategies() {
        let (outcome, _, counters) = run(plan, failing, fuzzed(strategy.clone(), virtual_workers));
        assert_eq!(render(plan, &outcome), expected, "{strategy}");
        assert!(outcome.stats.peak_in_flight <= virtual_workers, "{strategy}: {:?}", outcome.stats);
        assert!(counters.workers_created <= virtual_workers);
        assert_eq!(outcome.replay_divergence, None);
        let schedule = outcome.schedule.clone().expect("fuzzed runs record a schedule");
        assert_schedule_respects_plan(plan, &schedule, &outcome);

        let (again, _, _) = run(plan, failing, fuzzed(strategy.clone(), virtual_workers));
        assert_eq!(again.schedule.as_ref(), Some(&schedule), "{strategy}: the same seed gives the same schedule");

        let (replayed, _, _) = run(plan, failing, fuzzed(Strategy::Replay(schedule.clone()), virtual_workers));
        assert_eq!(replayed.replay_divergence, None, "{strategy}: replay of `{schedule}`");
        assert_eq!(replayed.schedule.as_ref(), Some(&schedule), "{strategy}: replay records the same schedule");
        assert_eq!(replayed.stats.preemptions, outcome.stats.preemptions);
        assert_eq!(render(plan, &replayed), expected);
    }
    for workers in [1, 2, 8] {
        let (outcome, link_order, counters) = run(plan, failing, ExecMode::Threads(Parallelism::fixed(workers)));
        assert_eq!(render(plan, &outcome), expected, "{workers} threads");
        let expected_links: Vec<NodeId> = plan.link_order().filter(|node| !outcome.skipped.contains(node)).collect();
        assert_eq!(link_order, expected_links, "{workers} threads link in plan order");
        assert!(outcome.stats.peak_in_flight <= workers, "{workers} threads: {:?}", outcome.stats);
        assert!(counters.peak_running <= workers, "{workers} threads ran {} at once", counters.peak_running);
        assert!(counters.workers_created <= workers);
        assert_eq!(outcome.schedule, None);
    }
}

/// Parses a plan written one node per line: `LABEL STAGE [COST] [<- DEP...]`, where a label ending
/// in `!` marks a node that fails (the `!` is not part of the label).
fn parse_plan(text: &str) -> (Plan, BTreeSet<NodeId>) {
    let mut plan = Plan::new();
    let mut failing = BTreeSet::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let (head, deps) = line.split_once("<-").unwrap_or((line, ""));
        let mut words = head.split_whitespace();
        let label = words.next().expect("a label");
        let stage = match words.next() {
            Some("codegen") => Stage::Codegen,
            Some("link") => Stage::Link,
            other => panic!("unknown stage {other:?} in `{line}`"),
        };
        let cost = words.next().map_or(0, |cost| cost.parse().expect("a numeric cost"));
        let deps: Vec<NodeId> =
            deps.split_whitespace().map(|dep| plan.find(dep).unwrap_or_else(|| panic!("unknown dep {dep}"))).collect();
        let (label, fails) = match label.strip_suffix('!') {
            Some(label) => (label, true),
            None => (label, false),
        };
        let node = plan.add(label, stage, cost, &deps);
        if fails {
            failing.insert(node);
        }
    }
    (plan, failing)
}

/// The data-driven entry point: a plan, and the outcome every mode must produce.
fn check(plan_text: &str, expected: &str) {
    let (plan, failing) = parse_plan(plan_text);
    let expected = expected.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join("\n");
    assert_eq!(reference(&plan, &failing), expected, "the reference model disagrees with the expectation");
    check_all_modes(&plan, &failing, &expected);
}

#[test]
fn empty_plan() {
    check("", "");
}

#[test]
fn codegen_then_link() {
    check(
        "a codegen 1
         b codegen 2
         exe link <- b a",
        "a: ok a
         b: ok b
         exe: ok exe(b,a)",
    );
}

#[test]
fn diamond_with_partial_links_feeding_a_final_link() {
    check(
        "a codegen 3
         b codegen 1 <- a
         c codegen 5 <- a
         m1 link <- b
         m2 link <- c a
         exe link <- m1 m2",
        "a: ok a
         b: ok b
         c: ok c
         m1: ok m1(b)
         m2: ok m2(c,a)
         exe: ok exe(m1(b),m2(c,a))",
    );
}

#[test]
fn codegen_may_wait_for_a_link() {
    check(
        "pre link
         a codegen 1 <- pre
         b codegen 1
         exe link <- a b pre",
        "pre: ok pre()
         a: ok a
         b: ok b
         exe: ok exe(a,b,pre())",
    );
}

#[test]
fn a_failed_root_skips_its_transitive_dependents_and_nothing_else() {
    check(
        "a! codegen 9
         b codegen 1 <- a
         c codegen 1
         d codegen 1 <- b c
         m1 link <- d
         m2 link <- c
         exe link <- m1 m2",
        "a: failed a-broke
         b: skipped
         c: ok c
         d: skipped
         m1: skipped
         m2: ok m2(c)
         exe: skipped",
    );
}

#[test]
fn a_failed_link_skips_later_links_that_need_it_but_not_the_others() {
    check(
        "a codegen
         b codegen
         m1! link <- a
         m2 link <- b
         late codegen <- m1
         exe link <- m1 m2",
        "a: ok a
         b: ok b
         m1: failed m1-broke
         m2: ok m2(b)
         late: skipped
         exe: skipped",
    );
}

#[test]
fn every_node_failing_still_terminates() {
    check(
        "a! codegen
         b! codegen
         c! link <- a
         d! link",
        "a: failed a-broke
         b: failed b-broke
         c: skipped
         d: failed d-broke",
    );
}

#[test]
fn the_default_schedule_starts_the_most_expensive_codegen_first_and_ties_go_to_the_lower_id() {
    let (plan, failing) = parse_plan(
        "cheap codegen 1
         dear codegen 9
         mid1 codegen 5
         mid2 codegen 5",
    );
    let mode = ExecMode::Fuzzed { chooser: Chooser::lenient_replay(Schedule::default()), virtual_workers: 1 };
    let (outcome, _, _) = run(&plan, &failing, mode);
    assert_eq!(
        outcome.schedule.unwrap().to_string(),
        "codegen(dear) done(dear) codegen(mid1) done(mid1) codegen(mid2) done(mid2) codegen(cheap) done(cheap)"
    );
    assert_eq!(outcome.stats.preemptions, 0);
}

#[test]
fn a_schedule_that_no_longer_fits_is_reported_and_the_run_still_completes() {
    let (plan, failing) = parse_plan(
        "a codegen 1
         b codegen 2
         exe link <- a b",
    );
    let schedule: Schedule = "codegen(b) done(b) link(exe)".parse().unwrap();
    let (outcome, _, _) = run(&plan, &failing, fuzzed(Strategy::Replay(schedule), 2));
    let divergence = outcome.replay_divergence.clone().expect("link(exe) is not enabled before a is done");
    assert_eq!(divergence.step, 2);
    assert_eq!(divergence.expected.as_deref(), Some("link(exe)"));
    assert_eq!(divergence.candidates, vec!["codegen(a)".to_owned()]);
    assert_eq!(outcome.schedule.clone().unwrap().to_string(), "codegen(b) done(b)");
    assert_eq!(render(&plan, &outcome), reference(&plan, &failing));

    let too_long: Schedule = "codegen(b) done(b) codegen(a) done(a) link(exe) link(exe)".parse().unwrap();
    let (outcome, _, _) = run(&plan, &failing, fuzzed(Strategy::Replay(too_long), 2));
    assert_eq!(outcome.replay_divergence.map(|divergence| divergence.step), Some(5));
}

#[test]
fn the_jobserver_bounds_how_many_workers_run_at_once() {
    let (plan, failing) = parse_plan(&(0..12).map(|index| format!("n{index} codegen\n")).collect::<String>());
    let mut codegen = ToyCodegen::new(&plan, &failing);
    codegen.slow = true;
    let parallelism = Parallelism::with_token_limit(4, 1).expect("a private jobserver");
    let outcome = execute(&plan, &codegen, &mut ToyLink::new(&plan, &failing), ExecMode::Threads(parallelism));
    assert!(outcome.succeeded());
    let peak = codegen.peak_running.load(Ordering::SeqCst);
    assert!(peak <= 2, "one implicit and one jobserver token allow 2 workers at once, {peak} ran");
}

#[test]
fn a_panicking_codegen_worker_panics_the_caller_after_joining_instead_of_hanging() {
    let (plan, failing) = parse_plan(
        "a codegen 1
         b codegen 1 <- a
         c codegen 1
         exe link <- b c",
    );
    for workers in [1, 2, 8] {
        let mut codegen = ToyCodegen::new(&plan, &failing);
        codegen.panics_at = plan.find("a");
        let mut link = ToyLink::new(&plan, &failing);
        let mode = ExecMode::Threads(Parallelism::fixed(workers));
        let result = catch_unwind(AssertUnwindSafe(|| execute(&plan, &codegen, &mut link, mode)));
        let panic = result.expect_err("a worker's panic surfaces in the caller");
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("injected codegen panic"), "{message}");
        assert!(link.ran.is_empty(), "exe depends on the lost node and must not run");
    }
}

#[test]
fn a_panicking_link_stage_stops_the_workers_and_panics_the_caller() {
    let (plan, failing) = parse_plan(
        "first link
         a codegen 1 <- first
         b codegen 1",
    );
    let codegen = ToyCodegen::new(&plan, &failing);
    let mut link = ToyLink::new(&plan, &failing);
    link.panics_at = plan.find("first");
    let mode = ExecMode::Threads(Parallelism::fixed(2));
    let result = catch_unwind(AssertUnwindSafe(|| execute(&plan, &codegen, &mut link, mode)));
    let message = result.expect_err("the link stage's panic surfaces").downcast_ref::<String>().cloned();
    assert!(message.unwrap_or_default().contains("injected link panic"));
}

/// A codegen stage with a deliberate ordering bug: it stamps each output with a sequence number
/// taken when the node starts, so outputs depend on the order codegen nodes start in.
struct StartOrderStamping<'p> {
    plan: &'p Plan,
    next_stamp: Mutex<usize>,
}

impl CodegenStage for StartOrderStamping<'_> {
    type Worker = ();
    type Output = String;
    type Error = String;

    fn new_worker(&self) {}

    fn run(&self, _: &mut (), node: NodeId) -> Result<String, String> {
        let mut next_stamp = sync::lock(&self.next_stamp);
        *next_stamp += 1;
        Ok(format!("{}#{}", self.plan.label(node), *next_stamp))
    }
}

#[test]
fn fuzzing_finds_an_ordering_bug_and_shrinking_explains_it_with_one_preemption() {
    let (plan, failing) = parse_plan(
        "a codegen 3
         b codegen 2
         c codegen 1 <- a
         exe link <- a b c",
    );
    let run_stamped = |chooser: Chooser| {
        let codegen = StartOrderStamping { plan: &plan, next_stamp: Mutex::new(0) };
        let mut link = ToyLink::new(&plan, &failing);
        let outcome = execute(&plan, &codegen, &mut link, ExecMode::Fuzzed { chooser, virtual_workers: 2 });
        let preemptions = outcome.stats.preemptions;
        (render(&plan, &outcome), Reproduction { schedule: outcome.schedule.unwrap(), preemptions })
    };
    let (expected, _) = run_stamped(Chooser::lenient_replay(Schedule::default()));
    let failing_run = (0..100)
        .map(|seed| run_stamped(Chooser::new(Strategy::Random { seed })))
        .find(|(rendered, _)| *rendered != expected)
        .map(|(_, reproduction)| reproduction)
        .expect("random schedules start codegen nodes in another order");
    let shrunk = shrink(&failing_run, |guide| {
        let (rendered, reproduction) = run_stamped(Chooser::lenient_replay(guide.clone()));
        (rendered != expected).then_some(reproduction)
    });
    assert!(shrunk.preemptions <= failing_run.preemptions);
    assert_eq!(shrunk.preemptions, 1, "{} shrank to {}", failing_run.schedule, shrunk.schedule);
    let (replayed, reproduction) = run_stamped(Chooser::new(Strategy::Replay(shrunk.schedule.clone())));
    assert_ne!(replayed, expected, "the shrunk schedule reproduces the bug");
    assert_eq!(reproduction, shrunk);
}

#[derive(Clone, Debug)]
struct NodeSpec {
    link: bool,
    cost: u64,
    dep_mask: u32,
    fails: bool,
}

fn plan_specs(failure_rate: f64) -> impl proptest::strategy::Strategy<Value = Vec<NodeSpec>> {
    proptest::collection::vec(
        (prop::bool::weighted(0.3), 0u64..4, any::<u32>(), prop::bool::weighted(failure_rate))
            .prop_map(|(link, cost, dep_mask, fails)| NodeSpec { link, cost, dep_mask, fails }),
        0..12,
    )
}

/// Builds a plan whose node `i` depends on at most 3 of the earlier nodes picked by its mask.
fn build_plan(specs: &[NodeSpec]) -> (Plan, BTreeSet<NodeId>) {
    let mut plan = Plan::new();
    let mut failing = BTreeSet::new();
    for (index, spec) in specs.iter().enumerate() {
        let mut deps: Vec<NodeId> = (0..index)
            .rev()
            .filter(|&dep| spec.dep_mask & (1 << dep) != 0)
            .take(3)
            .map(|dep| NodeId(dep as u32))
            .collect();
        deps.reverse();
        let (stage, prefix) = if spec.link { (Stage::Link, "L") } else { (Stage::Codegen, "m") };
        let node = plan.add(format!("{prefix}{index}"), stage, spec.cost, &deps);
        if spec.fails {
            failing.insert(node);
        }
    }
    (plan, failing)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn random_plans_match_the_sequential_reference_in_every_mode(specs in plan_specs(0.0)) {
        let (plan, failing) = build_plan(&specs);
        check_all_modes(&plan, &failing, &reference(&plan, &failing));
    }

    #[test]
    fn failures_anywhere_skip_exactly_the_transitive_dependents(specs in plan_specs(0.25)) {
        let (plan, failing) = build_plan(&specs);
        check_all_modes(&plan, &failing, &reference(&plan, &failing));
    }
}
