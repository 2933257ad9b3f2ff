//! The static description of the work: nodes, their stage, cost and dependencies.

use std::collections::BTreeMap;
use std::fmt;

/// A node of a [`Plan`], numbered in the order nodes were added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The node's position in the plan, for indexing per-node vectors.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Which stage runs a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Runs on one of N codegen workers, in any order its dependencies allow.
    Codegen,
    /// Runs on the calling thread, one at a time, strictly in the order the nodes were added.
    Link,
}

#[derive(Clone, Debug)]
struct PlanNode {
    label: String,
    stage: Stage,
    cost: u64,
    deps: Vec<NodeId>,
}

/// The work to execute: a DAG by construction, because a node may only depend on earlier nodes.
///
/// Labels name nodes in recorded schedules (`codegen(LABEL)`), so they are unique, non-empty and
/// free of whitespace. Insertion order matters twice: it is the order the link stage runs Link
/// nodes in, and it breaks ties between equally expensive codegen nodes.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    nodes: Vec<PlanNode>,
    by_label: BTreeMap<String, NodeId>,
}

impl Plan {
    /// An empty plan.
    pub fn new() -> Plan {
        Plan::default()
    }

    /// Adds a node run by `stage` that may start once every node in `deps` completed successfully.
    /// `cost` is an estimate: ready codegen nodes start most expensive first.
    ///
    /// # Panics
    ///
    /// If a dependency is not an earlier node, or the label is empty, contains whitespace or is
    /// already used. These are bugs in the code building the plan, not user errors.
    pub fn add(&mut self, label: impl Into<String>, stage: Stage, cost: u64, deps: &[NodeId]) -> NodeId {
        let label = label.into();
        let id = NodeId(u32::try_from(self.nodes.len()).expect("a plan holds fewer than 2^32 nodes"));
        assert!(
            !label.is_empty() && !label.contains(char::is_whitespace),
            "plan node label {label:?} must be non-empty and free of whitespace"
        );
        for dep in deps {
            assert!(dep.index() < self.nodes.len(), "node {label:?} depends on {dep}, which is not an earlier node");
        }
        let previous = self.by_label.insert(label.clone(), id);
        assert!(previous.is_none(), "plan node label {label:?} is used twice");
        self.nodes.push(PlanNode { label, stage, cost, deps: deps.to_vec() });
        id
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the plan has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node, in insertion order.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.nodes.len()).map(|index| NodeId(index as u32))
    }

    /// The node's label.
    pub fn label(&self, node: NodeId) -> &str {
        &self.nodes[node.index()].label
    }

    /// The stage that runs the node.
    pub fn stage(&self, node: NodeId) -> Stage {
        self.nodes[node.index()].stage
    }

    /// The node's cost estimate.
    pub fn cost(&self, node: NodeId) -> u64 {
        self.nodes[node.index()].cost
    }

    /// The node's dependencies, in the order they were given.
    pub fn deps(&self, node: NodeId) -> &[NodeId] {
        &self.nodes[node.index()].deps
    }

    /// The node labelled `label`, if any.
    pub fn find(&self, label: &str) -> Option<NodeId> {
        self.by_label.get(label).copied()
    }

    /// The Link nodes in the order the link stage runs them: insertion order.
    pub fn link_order(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.ids().filter(|&node| self.stage(node) == Stage::Link)
    }

    /// The number of events a failure-free fuzzed run takes: `codegen` and `done` for each codegen
    /// node, `link` for each link node. PCT uses it as its step estimate.
    pub fn event_count(&self) -> usize {
        self.nodes.iter().map(|node| if node.stage == Stage::Codegen { 2 } else { 1 }).sum()
    }
}
