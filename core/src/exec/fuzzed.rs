//! [`ExecMode::Fuzzed`](super::ExecMode::Fuzzed): the whole run on one OS thread, every
//! interleaving decision made by a [`Chooser`].
//!
//! A threaded run is a sequence of three kinds of event, and the fuzzed executor enacts them one at
//! a time:
//!
//! - `codegen(LABEL)`: a free virtual worker starts a ready codegen node and runs it. The result is
//!   held, not yet visible: on real threads the worker would still be busy.
//! - `done(LABEL)`: a held result is delivered; on success the node's dependents may become ready,
//!   on failure its transitive dependents are skipped, and the virtual worker is free again.
//! - `link(LABEL)`: the link stage runs the next Link node in plan order, once all its
//!   dependencies were delivered.
//!
//! At every step the enabled events are offered to the chooser in a canonical order: `done` events
//! oldest first, then the `link` event, then `codegen` events in the coordinator's order (most
//! expensive first). Always picking the first one is the sequential run, so a preemption is a step
//! that departs from it. Events are named by node label, never by thread, so a recorded schedule
//! replays after unrelated changes, and the same seed always records the same schedule.

use std::collections::BTreeSet;

use lockstep_scheduler::fuzz::Chooser;

use super::compilation_plan::{CompilationPlan, LinkTicket, Progress};
use super::link_queue::{LinkQueue, LinkQueuePoll};
use super::plan::{NodeId, Plan};
use super::{assemble_outcome, CodegenStage, ExecOutcome, ExecStats, LinkStage};

/// One step of a fuzzed run, as recorded in a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScheduleEvent {
    /// A virtual worker starts (and runs) a codegen node: `codegen(LABEL)`.
    Codegen(NodeId),
    /// A codegen node's held result becomes visible: `done(LABEL)`.
    Done(NodeId),
    /// The link stage runs a Link node: `link(LABEL)`.
    Link(NodeId),
}

impl ScheduleEvent {
    /// The node the event is about.
    pub fn node(self) -> NodeId {
        match self {
            ScheduleEvent::Codegen(node) | ScheduleEvent::Done(node) | ScheduleEvent::Link(node) => node,
        }
    }

    /// The event's label in a schedule, e.g. `codegen(m3)`.
    pub fn label(self, plan: &Plan) -> String {
        let kind = match self {
            ScheduleEvent::Codegen(_) => "codegen",
            ScheduleEvent::Done(_) => "done",
            ScheduleEvent::Link(_) => "link",
        };
        format!("{kind}({})", plan.label(self.node()))
    }

    /// The event a schedule label names, if it names a node of `plan`.
    pub fn parse(label: &str, plan: &Plan) -> Option<ScheduleEvent> {
        let (kind, rest) = label.split_once('(')?;
        let node = plan.find(rest.strip_suffix(')')?)?;
        match kind {
            "codegen" => Some(ScheduleEvent::Codegen(node)),
            "done" => Some(ScheduleEvent::Done(node)),
            "link" => Some(ScheduleEvent::Link(node)),
            _ => None,
        }
    }
}

/// A codegen result that ran but is not visible yet.
struct HeldResult<O, E> {
    node: NodeId,
    virtual_worker: usize,
    result: Result<O, E>,
}

pub(super) fn execute_fuzzed<C, L>(
    plan: &Plan,
    codegen: &C,
    link: &mut L,
    mut chooser: Chooser,
    virtual_workers: usize,
) -> ExecOutcome<C::Output, C::Error>
where
    C: CodegenStage,
    L: LinkStage<C::Output, C::Error>,
{
    let virtual_workers = virtual_workers.max(1);
    chooser.suggest_step_estimate(plan.event_count());
    let (mut state, initial) = CompilationPlan::new(plan);
    let link_queue = LinkQueue::new(state.link_count());
    publish_link_tickets(&link_queue, initial);

    let mut workers: Vec<Option<C::Worker>> = (0..virtual_workers).map(|_| None).collect();
    let mut free_workers: BTreeSet<usize> = (0..virtual_workers).collect();
    let mut held: Vec<HeldResult<C::Output, C::Error>> = Vec::new();
    let mut next_link: Option<NodeId> = None;
    let mut outputs: Vec<Option<C::Output>> = (0..plan.len()).map(|_| None).collect();
    let mut failures = Vec::new();
    let mut stats = ExecStats { workers: virtual_workers, ..ExecStats::default() };
    let mut divergence = None;

    loop {
        if next_link.is_none() {
            next_link = take_runnable_link(&link_queue);
        }
        let mut events: Vec<ScheduleEvent> = held.iter().map(|held| ScheduleEvent::Done(held.node)).collect();
        events.extend(next_link.map(ScheduleEvent::Link));
        if held.len() < virtual_workers {
            events.extend(state.ready_codegen().map(ScheduleEvent::Codegen));
        }
        if events.is_empty() {
            break;
        }
        let chosen = if divergence.is_some() {
            0
        } else {
            let labels: Vec<String> = events.iter().map(|event| event.label(plan)).collect();
            chooser.choose(&labels).unwrap_or_else(|diverged| {
                divergence = Some(diverged);
                0
            })
        };
        match events[chosen] {
            ScheduleEvent::Codegen(node) => {
                state.start(node);
                let virtual_worker = free_workers.pop_first().expect("a codegen event needs a free worker");
                let worker = workers[virtual_worker].get_or_insert_with(|| codegen.new_worker());
                let result = codegen.run(worker, node);
                held.push(HeldResult { node, virtual_worker, result });
                stats.codegen_runs += 1;
                stats.peak_in_flight = stats.peak_in_flight.max(held.len());
            }
            ScheduleEvent::Done(node) => {
                let position = held.iter().position(|held| held.node == node).expect("done events are held");
                let delivered = held.remove(position);
                free_workers.insert(delivered.virtual_worker);
                let progress = settle(&mut state, &mut outputs, &mut failures, node, delivered.result);
                publish_link_tickets(&link_queue, progress);
            }
            ScheduleEvent::Link(node) => {
                next_link = None;
                state.start(node);
                let inputs: Vec<(NodeId, &C::Output)> = state
                    .deps(node)
                    .iter()
                    .map(|&dep| {
                        (dep, outputs[dep.index()].as_ref().expect("every dependency of a ready node completed"))
                    })
                    .collect();
                let result = link.run(node, &inputs);
                drop(inputs);
                stats.link_runs += 1;
                let progress = settle(&mut state, &mut outputs, &mut failures, node, result);
                publish_link_tickets(&link_queue, progress);
            }
        }
    }
    assert!(state.is_complete(), "a fuzzed run with no enabled event has resolved every node");
    if divergence.is_none() {
        divergence = chooser.verify_replay_finished().err();
    }
    stats.preemptions = chooser.preemptions();
    assemble_outcome(&state, outputs, failures, stats, Some(chooser.schedule()), divergence)
}

/// Records a node's result in the plan: its output on success (dependents
/// may become ready), or the failure (dependents are skipped).
fn settle<O, E>(
    state: &mut CompilationPlan,
    outputs: &mut [Option<O>],
    failures: &mut Vec<(NodeId, E)>,
    node: NodeId,
    result: Result<O, E>,
) -> Progress {
    match result {
        Ok(output) => {
            outputs[node.index()] = Some(output);
            state.complete(node)
        }
        Err(error) => {
            failures.push((node, error));
            state.fail(node)
        }
    }
}

fn publish_link_tickets(queue: &LinkQueue<LinkTicket>, progress: Progress) {
    for (position, ticket) in progress.link_tickets {
        queue.publish(position, ticket);
    }
}

/// The next Link node the link stage may run now, passing over skipped positions.
fn take_runnable_link(queue: &LinkQueue<LinkTicket>) -> Option<NodeId> {
    loop {
        match queue.try_next() {
            LinkQueuePoll::Ready(_, LinkTicket::Run(node)) => return Some(node),
            LinkQueuePoll::Ready(_, LinkTicket::Skip(_)) => continue,
            LinkQueuePoll::Waiting(_) | LinkQueuePoll::Finished => return None,
        }
    }
}
