//! The `queue` target: the plan executor (the codegen coordinator and the
//! ordered link queue) on an arbitrary DAG, failure set, worker count and
//! schedule, run under the deterministic fuzzed scheduler with the input
//! making every scheduling decision.

use arbitrary::{Arbitrary, Unstructured};
use lockstep_core::exec::{execute, CodegenStage, ExecMode, LinkStage, NodeId, Plan, Stage};
use lockstep_scheduler::fuzz::Chooser;
use std::collections::BTreeSet;
use std::sync::Mutex;

/// The most nodes a plan gets: enough for chains, diamonds and several link
/// steps, few enough that a run takes microseconds.
const MAX_NODES: usize = 40;
/// Each node may depend on any of the this many nodes before it.
const DEPENDENCY_WINDOW: usize = 16;

/// One node of a fuzzed plan.
#[derive(Clone, Debug, Arbitrary)]
pub struct NodeSpec {
    /// A link node (run in plan order on the link stage) rather than a codegen node.
    pub link: bool,
    /// The coordinator's cost estimate: ready codegen nodes start most expensive first.
    pub cost: u8,
    /// Bit `i` set: depends on the node `i + 1` places earlier.
    pub deps: u16,
    /// The node's stage reports a failure when it runs.
    pub fails: bool,
}

/// What one input means.
#[derive(Clone, Debug)]
pub struct QueueCase {
    /// Virtual codegen workers, 1 to 4.
    pub workers: usize,
    pub nodes: Vec<NodeSpec>,
    /// The fuzzed scheduler's decisions ([`Chooser::scripted`]).
    pub choices: Vec<u8>,
}

impl QueueCase {
    /// The case `data` describes; every input describes one.
    pub fn from_bytes(data: &[u8]) -> QueueCase {
        let mut input = Unstructured::new(data);
        let workers = 1 + usize::from(u8::arbitrary(&mut input).unwrap_or(0) % 4);
        let count = input.int_in_range(0..=MAX_NODES).unwrap_or(0);
        let nodes = (0..count).map_while(|_| NodeSpec::arbitrary(&mut input).ok()).collect();
        QueueCase { workers, nodes, choices: input.take_rest().to_vec() }
    }

    fn plan(&self) -> Plan {
        let mut plan = Plan::new();
        for (index, spec) in self.nodes.iter().enumerate() {
            let deps: Vec<NodeId> = (0..DEPENDENCY_WINDOW.min(index))
                .filter(|bit| spec.deps & (1 << bit) != 0)
                .map(|bit| NodeId((index - 1 - bit) as u32))
                .collect();
            let stage = if spec.link { Stage::Link } else { Stage::Codegen };
            plan.add(format!("n{index}"), stage, u64::from(spec.cost), &deps);
        }
        plan
    }
}

/// Every stage run, in the order the run made them (the fuzzed executor runs
/// on one thread, so this is a total order).
#[derive(Default)]
struct RunLog(Mutex<Vec<NodeId>>);

impl RunLog {
    fn record(&self, node: NodeId) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(node);
    }
}

struct Codegen<'a> {
    case: &'a QueueCase,
    log: &'a RunLog,
}

impl CodegenStage for Codegen<'_> {
    type Worker = ();
    type Output = u64;
    type Error = NodeId;

    fn new_worker(&self) {}

    fn run(&self, (): &mut (), node: NodeId) -> Result<u64, NodeId> {
        self.log.record(node);
        if self.case.nodes[node.index()].fails {
            Err(node)
        } else {
            Ok(output_of(node))
        }
    }
}

struct Link<'a> {
    case: &'a QueueCase,
    plan: &'a Plan,
    log: &'a RunLog,
}

impl LinkStage<u64, NodeId> for Link<'_> {
    fn run(&mut self, node: NodeId, inputs: &[(NodeId, &u64)]) -> Result<u64, NodeId> {
        self.log.record(node);
        let got: Vec<(NodeId, u64)> = inputs.iter().map(|&(dep, output)| (dep, *output)).collect();
        let want: Vec<(NodeId, u64)> = self.plan.deps(node).iter().map(|&dep| (dep, output_of(dep))).collect();
        assert_eq!(got, want, "link node {node} got other inputs than its dependencies' outputs, in order");
        if self.case.nodes[node.index()].fails {
            Err(node)
        } else {
            Ok(output_of(node))
        }
    }
}

/// A node's output: distinct per node, so a mixed-up input shows.
fn output_of(node: NodeId) -> u64 {
    0x5eed_0000 + u64::from(node.0)
}

/// What a correct executor must do with `case`, derived from the plan
/// alone: a node is skipped when a dependency failed or was skipped, and
/// fails when it runs and its stage fails.
struct Expected {
    skipped: BTreeSet<NodeId>,
    failed: BTreeSet<NodeId>,
}

fn expected(case: &QueueCase, plan: &Plan) -> Expected {
    let mut skipped = BTreeSet::new();
    let mut failed = BTreeSet::new();
    for node in plan.ids() {
        if plan.deps(node).iter().any(|dep| skipped.contains(dep) || failed.contains(dep)) {
            skipped.insert(node);
        } else if case.nodes[node.index()].fails {
            failed.insert(node);
        }
    }
    Expected { skipped, failed }
}

/// Checks the executor on the case `data` describes:
///
/// - the run terminates (under libFuzzer, a hang is a timeout finding);
/// - every node that is not skipped runs exactly once, after each of its
///   dependencies ran and succeeded;
/// - the skipped set is exactly the transitive dependents of the failures,
///   and the failed set exactly the failing nodes that ran;
/// - the link stage runs its nodes in plan order, each with its
///   dependencies' outputs in dependency order;
/// - outputs exist exactly for the nodes that succeeded, and no more
///   codegen nodes were in flight than workers.
pub fn check_queue(data: &[u8]) {
    let case = QueueCase::from_bytes(data);
    let plan = case.plan();
    let log = RunLog::default();
    let codegen = Codegen { case: &case, log: &log };
    let mut link = Link { case: &case, plan: &plan, log: &log };
    let mode = ExecMode::Fuzzed { chooser: Chooser::scripted(case.choices.clone()), virtual_workers: case.workers };
    let outcome = execute(&plan, &codegen, &mut link, mode);
    let ran = log.0.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let want = expected(&case, &plan);

    let skipped: BTreeSet<NodeId> = outcome.skipped.iter().copied().collect();
    assert_eq!(skipped, want.skipped, "the skipped nodes are not the transitive dependents of the failures");
    let failed: BTreeSet<NodeId> = outcome.failed.iter().map(|&(node, _)| node).collect();
    assert_eq!(failed, want.failed, "the failed nodes are not the failing nodes that ran");
    assert!(outcome.failed.iter().all(|&(node, error)| node == error), "a failure is reported against another node");

    let mut seen = BTreeSet::new();
    for &node in &ran {
        assert!(seen.insert(node), "{node} ran twice");
        for dep in plan.deps(node) {
            assert!(seen.contains(dep), "{node} ran before its dependency {dep}");
            assert!(!want.failed.contains(dep), "{node} ran although its dependency {dep} failed");
        }
    }
    let should_run: BTreeSet<NodeId> = plan.ids().filter(|node| !want.skipped.contains(node)).collect();
    assert_eq!(seen, should_run, "the nodes that ran are not the nodes that are not skipped");

    let links: Vec<NodeId> = ran.iter().copied().filter(|&node| plan.stage(node) == Stage::Link).collect();
    let link_order: Vec<NodeId> = plan.link_order().filter(|node| !want.skipped.contains(node)).collect();
    assert_eq!(links, link_order, "the link stage did not run its nodes in plan order");

    for node in plan.ids() {
        let succeeded = should_run.contains(&node) && !want.failed.contains(&node);
        assert_eq!(outcome.outputs[node.index()].is_some(), succeeded, "{node}: an output iff it succeeded");
    }
    assert!(outcome.stats.peak_in_flight <= case.workers, "more codegen nodes in flight than workers");
    assert!(outcome.replay_divergence.is_none(), "a scripted schedule cannot diverge");
}
