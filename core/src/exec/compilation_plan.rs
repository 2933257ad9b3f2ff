//! The execution state of a [`Plan`]: what is ready, running, done, failed or skipped.
//!
//! This is a plain single-threaded state machine. The threaded executor keeps it under one lock
//! ([`SharedPlan`](super::SharedPlan)); the fuzzed executor drives it directly. Every transition
//! returns a [`Progress`] saying what it made possible, and the caller turns that into wake-ups.
//!
//! Failure propagation: a failed node marks its transitive dependents skipped in one walk. A
//! dependent of a failed node can never have started (one of its dependencies never completed),
//! so skipping never races with running work, and nobody ever waits for a skipped node.

use std::cmp::Reverse;
use std::collections::BTreeSet;

use lockstep_scheduler::bug_zoo::{self, Bug};

use super::plan::{NodeId, Plan, Stage};

/// Where one node is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Some dependency has not completed yet.
    Pending,
    /// Every dependency completed; the node may start.
    Ready,
    /// A worker (or the link stage) is running it.
    Running,
    /// It ran and succeeded.
    Done,
    /// It ran and failed.
    Failed,
    /// A dependency failed (directly or transitively), so it never runs.
    Skipped,
}

/// What the link stage must do at one position of the link order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkTicket {
    /// Every dependency of the Link node completed: run it.
    Run(NodeId),
    /// A dependency failed: pass over it.
    Skip(NodeId),
}

/// What one state transition made possible.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// How many codegen nodes became ready.
    pub codegen_ready: usize,
    /// Link positions whose fate became known, with their ticket.
    pub link_tickets: Vec<(usize, LinkTicket)>,
    /// Nodes that became skipped.
    pub skipped: Vec<NodeId>,
}

/// The mutable state of a plan being executed.
#[derive(Clone, Debug)]
pub struct CompilationPlan {
    stages: Vec<Stage>,
    costs: Vec<u64>,
    deps: Vec<Vec<NodeId>>,
    /// The reverse dependency index: completing a node touches only its dependents.
    dependents: Vec<Vec<NodeId>>,
    /// For Link nodes, their position in the link order.
    link_positions: Vec<Option<usize>>,
    link_count: usize,
    /// How many dependencies of each node have not completed yet.
    remaining_deps: Vec<usize>,
    states: Vec<NodeState>,
    /// Ready codegen nodes, most expensive first, ties broken by the lower NodeId.
    ready_codegen: BTreeSet<(Reverse<u64>, NodeId)>,
    /// Codegen nodes that are Pending or Ready: work that may still be handed to a worker.
    unstarted_codegen: usize,
    /// Nodes that are neither Done, Failed nor Skipped.
    unresolved: usize,
    running: usize,
}

impl CompilationPlan {
    /// The initial state of `plan`, and the progress that state already represents: codegen
    /// nodes without dependencies are ready, and Link nodes without dependencies can run.
    pub fn new(plan: &Plan) -> (CompilationPlan, Progress) {
        let count = plan.len();
        let mut dependents = vec![Vec::new(); count];
        let mut link_positions = vec![None; count];
        let mut link_count = 0;
        for node in plan.ids() {
            for dep in plan.deps(node) {
                dependents[dep.index()].push(node);
            }
            if plan.stage(node) == Stage::Link {
                link_positions[node.index()] = Some(link_count);
                link_count += 1;
            }
        }
        let mut state = CompilationPlan {
            stages: plan.ids().map(|node| plan.stage(node)).collect(),
            costs: plan.ids().map(|node| plan.cost(node)).collect(),
            deps: plan.ids().map(|node| plan.deps(node).to_vec()).collect(),
            dependents,
            link_positions,
            link_count,
            remaining_deps: plan.ids().map(|node| plan.deps(node).len()).collect(),
            states: vec![NodeState::Pending; count],
            ready_codegen: BTreeSet::new(),
            unstarted_codegen: plan.ids().filter(|&node| plan.stage(node) == Stage::Codegen).count(),
            unresolved: count,
            running: 0,
        };
        let mut progress = Progress::default();
        for node in plan.ids() {
            if state.remaining_deps[node.index()] == 0 {
                state.become_ready(node, &mut progress);
            }
        }
        (state, progress)
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether the plan has no node.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The number of Link nodes, i.e. of positions in the link order.
    pub fn link_count(&self) -> usize {
        self.link_count
    }

    /// The node's dependencies, in plan order.
    pub fn deps(&self, node: NodeId) -> &[NodeId] {
        &self.deps[node.index()]
    }

    /// The node's stage.
    pub fn stage(&self, node: NodeId) -> Stage {
        self.stages[node.index()]
    }

    /// Where the node is in its life.
    pub fn state(&self, node: NodeId) -> NodeState {
        self.states[node.index()]
    }

    /// Ready codegen nodes in the order the coordinator starts them: most expensive first.
    pub fn ready_codegen(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.ready_codegen.iter().map(|&(_, node)| node)
    }

    /// Starts the most expensive ready codegen node, if any.
    pub fn take_next_codegen(&mut self) -> Option<NodeId> {
        let node = self.ready_codegen().next()?;
        self.start(node);
        Some(node)
    }

    /// Whether some codegen node has not been started yet and still may be: a worker that finds
    /// nothing ready must wait exactly as long as this is true.
    pub fn has_unstarted_codegen(&self) -> bool {
        self.unstarted_codegen > 0
    }

    /// The number of nodes currently running.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Whether every node is done, failed or skipped.
    pub fn is_complete(&self) -> bool {
        self.unresolved == 0
    }

    /// Marks a ready node as running.
    ///
    /// # Panics
    ///
    /// If the node is not ready: starting it would break the dependency order.
    pub fn start(&mut self, node: NodeId) {
        assert_eq!(self.state(node), NodeState::Ready, "only a ready node can start ({node})");
        self.states[node.index()] = NodeState::Running;
        self.running += 1;
        if self.stage(node) == Stage::Codegen {
            self.ready_codegen.remove(&(Reverse(self.costs[node.index()]), node));
            self.unstarted_codegen -= 1;
        }
    }

    /// Records that a running node succeeded; its dependents whose last dependency this was
    /// become ready.
    pub fn complete(&mut self, node: NodeId) -> Progress {
        self.resolve_running(node, NodeState::Done);
        let mut progress = Progress::default();
        for index in 0..self.dependents[node.index()].len() {
            let dependent = self.dependents[node.index()][index];
            self.remaining_deps[dependent.index()] -= 1;
            if self.remaining_deps[dependent.index()] == 0 && self.state(dependent) == NodeState::Pending {
                self.become_ready(dependent, &mut progress);
            }
        }
        progress
    }

    /// Records that a running node failed; its transitive dependents become skipped.
    pub fn fail(&mut self, node: NodeId) -> Progress {
        self.resolve_running(node, NodeState::Failed);
        let mut progress = Progress::default();
        let mut to_visit: Vec<NodeId> = self.dependents[node.index()].iter().rev().copied().collect();
        while let Some(dependent) = to_visit.pop() {
            match self.state(dependent) {
                NodeState::Skipped => continue,
                NodeState::Pending => {}
                other => unreachable!("{dependent} depends on the failed {node} but is {other:?}"),
            }
            self.states[dependent.index()] = NodeState::Skipped;
            self.unresolved -= 1;
            match self.link_positions[dependent.index()] {
                Some(_) if bug_zoo::active(Bug::SkipNotAnnounced) => {}
                Some(position) => progress.link_tickets.push((position, LinkTicket::Skip(dependent))),
                None => self.unstarted_codegen -= 1,
            }
            progress.skipped.push(dependent);
            if !bug_zoo::active(Bug::FailureNotTransitive) {
                to_visit.extend(self.dependents[dependent.index()].iter().rev());
            }
        }
        progress
    }

    fn resolve_running(&mut self, node: NodeId, outcome: NodeState) {
        assert_eq!(self.state(node), NodeState::Running, "only a running node can finish ({node})");
        self.states[node.index()] = outcome;
        self.running -= 1;
        self.unresolved -= 1;
    }

    fn become_ready(&mut self, node: NodeId, progress: &mut Progress) {
        self.states[node.index()] = NodeState::Ready;
        match self.link_positions[node.index()] {
            Some(position) => progress.link_tickets.push((position, LinkTicket::Run(node))),
            None => {
                self.ready_codegen.insert((Reverse(self.costs[node.index()]), node));
                progress.codegen_ready += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diamond() -> (Plan, [NodeId; 4]) {
        let mut plan = Plan::new();
        let a = plan.add("a", Stage::Codegen, 1, &[]);
        let b = plan.add("b", Stage::Codegen, 5, &[a]);
        let c = plan.add("c", Stage::Codegen, 5, &[a]);
        let d = plan.add("d", Stage::Link, 0, &[b, c]);
        (plan, [a, b, c, d])
    }

    #[test]
    fn completion_readies_dependents_most_expensive_first() {
        let (plan, [a, b, c, d]) = diamond();
        let (mut state, initial) = CompilationPlan::new(&plan);
        assert_eq!(initial.codegen_ready, 1);
        assert_eq!(state.take_next_codegen(), Some(a));
        assert_eq!(state.take_next_codegen(), None);
        assert!(state.has_unstarted_codegen());
        let progress = state.complete(a);
        assert_eq!(progress.codegen_ready, 2);
        assert_eq!(state.ready_codegen().collect::<Vec<_>>(), vec![b, c], "equal costs: lower id first");
        assert_eq!(state.take_next_codegen(), Some(b));
        assert_eq!(state.take_next_codegen(), Some(c));
        assert!(!state.has_unstarted_codegen());
        assert!(state.complete(b).link_tickets.is_empty());
        assert_eq!(state.complete(c).link_tickets, vec![(0, LinkTicket::Run(d))]);
        state.start(d);
        state.complete(d);
        assert!(state.is_complete());
    }

    #[test]
    fn failure_skips_exactly_the_transitive_dependents() {
        let (plan, [a, b, c, d]) = diamond();
        let (mut state, _) = CompilationPlan::new(&plan);
        state.take_next_codegen();
        state.complete(a);
        state.take_next_codegen();
        let progress = state.fail(b);
        assert_eq!(progress.skipped, vec![d]);
        assert_eq!(progress.link_tickets, vec![(0, LinkTicket::Skip(d))]);
        assert_eq!(state.state(c), NodeState::Ready, "independent work keeps going");
        assert!(!state.is_complete());
        state.take_next_codegen();
        state.complete(c);
        assert!(state.is_complete());
    }
}
