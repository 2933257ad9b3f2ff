//! The parallel execution engine: a dependency-respecting plan, a coordinator for N codegen
//! workers, and an ordered link queue. It knows nothing about LLVM or `.lks`: the pipeline plugs
//! in through [`CodegenStage`] and [`LinkStage`].
//!
//! # Shape (1 : N : 1)
//!
//! A [`Plan`] is a DAG of nodes, each run by one of two stages. **Codegen** nodes run on N workers,
//! each with per-worker state created on its own thread (one LLVM context per thread). **Link**
//! nodes run on the calling thread, one at a time, strictly in the order they were added to the
//! plan (Zig's `link/Queue.zig`): if the next Link node's dependencies are not done, the link stage
//! waits for exactly those and never runs a later Link node first, so the link order, and with it
//! the output bytes, never depends on timing.
//!
//! # Properties
//!
//! - **Dependency order.** A node starts only after every dependency completed successfully.
//! - **Coordinator** (rustc's `back/write.rs`): ready codegen nodes start most expensive first,
//!   ties broken by [`NodeId`], and at most `workers` are in flight; a node's payload is produced
//!   inside [`CodegenStage::run`], so memory stays bounded by the number of workers.
//! - **Failure propagation** (make -k): a failed node marks its transitive dependents skipped
//!   (never run, never waited for); everything independent still runs and running work finishes.
//!   The run ends when nothing is ready, running or pending, so nothing waits forever.
//! - **Determinism.** [`ExecOutcome`] depends only on the plan and the stages, not on the worker
//!   count or the schedule, as long as the stages are deterministic functions of their node.
//! - **One seam.** Everything here is written against `lockstep_scheduler::sync`, so the same code
//!   runs on OS threads ([`ExecMode::Threads`]), under loom (`tests/loom.rs`), and under the
//!   deterministic fuzzed scheduler ([`ExecMode::Fuzzed`]).
//!
//! # Code map
//!
//! - `plan.rs`: [`Plan`], [`NodeId`], [`Stage`]: the static DAG.
//! - `compilation_plan.rs`: [`CompilationPlan`]: ready queue, remaining-dependency counts, reverse
//!   dependency index, failure propagation. Single-threaded.
//! - `link_queue.rs`: [`LinkQueue`]: the wait/wake core of the ordered link stage.
//! - `shared_plan.rs`: [`SharedPlan`], [`run_codegen_worker`], [`run_link_stage`]: the threaded
//!   protocol, also driven by the loom models.
//! - `threads.rs`: [`ExecMode::Threads`]: spawns the workers, links on the calling thread.
//! - `fuzzed.rs`: [`ExecMode::Fuzzed`]: one OS thread, every interleaving decision made by a
//!   [`Chooser`] over named events ([`ScheduleEvent`]).

mod compilation_plan;
mod fuzzed;
mod link_queue;
mod plan;
mod shared_plan;
mod threads;

use lockstep_scheduler::fuzz::{Chooser, ReplayDiverged, Schedule};
use lockstep_scheduler::parallelism::Parallelism;

pub use compilation_plan::{CompilationPlan, LinkTicket, NodeState, Progress};
pub use fuzzed::ScheduleEvent;
pub use link_queue::{LinkQueue, LinkQueuePoll};
pub use plan::{NodeId, Plan, Stage};
pub use shared_plan::{run_codegen_worker, run_link_stage, LinkStageOutputs, SharedPlan};

/// The codegen stage: runs Codegen nodes, on up to N workers at once.
pub trait CodegenStage: Sync {
    /// Per-worker state, created on the worker's own thread (for example one LLVM context).
    type Worker;
    /// What a node produces; it is moved to the link stage, possibly on another thread.
    type Output: Send;
    /// Why a node failed.
    type Error: Send + Clone + std::fmt::Debug;

    /// Creates the state of one worker, on that worker's thread.
    fn new_worker(&self) -> Self::Worker;

    /// Runs one Codegen node. Its payload is produced here, lazily, so only nodes in flight hold one.
    fn run(&self, worker: &mut Self::Worker, node: NodeId) -> Result<Self::Output, Self::Error>;
}

/// The link stage: runs Link nodes on the calling thread, one at a time, in plan order.
pub trait LinkStage<O, E> {
    /// Runs one Link node; `inputs` are the outputs of its dependencies, in dependency order.
    fn run(&mut self, node: NodeId, inputs: &[(NodeId, &O)]) -> Result<O, E>;
}

/// How to execute a plan.
#[derive(Debug)]
pub enum ExecMode {
    /// On OS threads: `workers` codegen threads (extra ones gated by the jobserver), linking on the
    /// calling thread.
    Threads(Parallelism),
    /// On the calling thread alone, under the deterministic fuzzed scheduler: `chooser` decides
    /// every interleaving of `virtual_workers` simulated codegen workers and the link stage.
    Fuzzed {
        /// Makes (and records) every scheduling decision.
        chooser: Chooser,
        /// How many codegen nodes may be in flight at once; at least 1.
        virtual_workers: usize,
    },
}

/// Counters describing a run; timing-free, so fuzzed runs report the same stats every time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecStats {
    /// The number of (real or virtual) codegen workers.
    pub workers: usize,
    /// The most codegen nodes in flight at once; never more than `workers`.
    pub peak_in_flight: usize,
    /// How many codegen nodes ran (succeeded or failed).
    pub codegen_runs: usize,
    /// How many link nodes ran (succeeded or failed).
    pub link_runs: usize,
    /// For fuzzed runs, the steps that departed from the default event; 0 for threaded runs.
    pub preemptions: usize,
}

/// What a run produced.
#[derive(Debug)]
pub struct ExecOutcome<O, E> {
    /// Each node's output, indexed by [`NodeId::index`]; `None` for failed and skipped nodes.
    pub outputs: Vec<Option<O>>,
    /// The nodes that ran and failed, in [`NodeId`] order.
    pub failed: Vec<(NodeId, E)>,
    /// The nodes that never ran because a dependency failed, in [`NodeId`] order.
    pub skipped: Vec<NodeId>,
    /// For fuzzed runs, the schedule the chooser recorded.
    pub schedule: Option<Schedule>,
    /// For fuzzed runs under strict replay, where the run stopped matching the schedule. The run
    /// then finished with default choices, so `outputs` are complete but `schedule` ends at the
    /// divergence; a caller replaying a schedule must check this.
    pub replay_divergence: Option<ReplayDiverged>,
    /// Counters.
    pub stats: ExecStats,
}

impl<O, E> ExecOutcome<O, E> {
    /// Whether every node ran and succeeded.
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty()
    }
}

/// Executes `plan`: codegen nodes through `codegen`, link nodes through `link` on the calling
/// thread, as `mode` says. Returns when every node ran, failed or was skipped.
///
/// # Panics
///
/// If a stage panics (a bug, not a user error): in threaded mode every other thread winds down and
/// the panic is re-raised here once all workers are joined.
pub fn execute<C, L>(plan: &Plan, codegen: &C, link: &mut L, mode: ExecMode) -> ExecOutcome<C::Output, C::Error>
where
    C: CodegenStage,
    L: LinkStage<C::Output, C::Error>,
{
    match mode {
        ExecMode::Threads(parallelism) => threads::execute_on_threads(plan, codegen, link, parallelism),
        ExecMode::Fuzzed { chooser, virtual_workers } => {
            fuzzed::execute_fuzzed(plan, codegen, link, chooser, virtual_workers)
        }
    }
}

/// Builds the outcome shared by both modes: failures and skips in NodeId order.
fn assemble_outcome<O, E>(
    plan: &CompilationPlan,
    outputs: Vec<Option<O>>,
    mut failed: Vec<(NodeId, E)>,
    stats: ExecStats,
    schedule: Option<Schedule>,
    replay_divergence: Option<ReplayDiverged>,
) -> ExecOutcome<O, E> {
    failed.sort_by_key(|&(node, _)| node);
    let skipped = (0..plan.len())
        .map(|index| NodeId(index as u32))
        .filter(|&node| plan.state(node) == NodeState::Skipped)
        .collect();
    ExecOutcome { outputs, failed, skipped, schedule, replay_divergence, stats }
}

/// `work` applied to every item, on up to `workers` threads (this one
/// among them) when there is more than one item; results in item order
/// either way, so the threads never show in what is built. Items are handed
/// out one at a time, in order, to whichever thread is free, so a thread
/// that drew a large item does not leave the others idle at the end (put
/// the largest items first).
pub(crate) fn parallel_map<T: Send, R: Send>(items: Vec<T>, workers: usize, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    let workers = workers.min(items.len());
    if workers <= 1 {
        return items.into_iter().map(work).collect();
    }
    let queue = lockstep_scheduler::sync::Mutex::new(items.into_iter().enumerate());
    let drain = || {
        let mut done = Vec::new();
        loop {
            // The guard is a temporary: the queue is unlocked while `work` runs.
            let Some((i, item)) = lockstep_scheduler::sync::lock(&queue).next() else { return done };
            done.push((i, work(item)));
        }
    };
    let mut results: Vec<(usize, R)> = lockstep_scheduler::sync::thread::scope(|scope| {
        let helpers: Vec<_> = (1..workers).map(|_| scope.spawn(drain)).collect();
        let mut results = drain();
        for helper in helpers {
            results.extend(helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        results
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::parallel_map;
    use lockstep_scheduler::clock::Stopwatch;
    use lockstep_scheduler::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn results_come_back_in_item_order_whatever_the_thread_count() {
        for workers in [0, 1, 2, 3, 8] {
            for len in [0, 1, 2, 5, 37] {
                let items: Vec<usize> = (0..len).collect();
                let expected: Vec<usize> = items.iter().map(|i| i * 10).collect();
                assert_eq!(parallel_map(items, workers, |i| i * 10), expected, "{workers} workers, {len} items");
            }
        }
    }

    /// The first item waits until every other item is done. Items handed
    /// out one at a time let the other thread take them all; shares fixed
    /// up front (the old round-robin split) would leave half of them
    /// behind the waiting item, which the watchdog turns into a failure.
    #[test]
    fn a_slow_item_does_not_hold_up_the_others() {
        let done = AtomicUsize::new(0);
        let items: Vec<usize> = (0..9).collect();
        let out = parallel_map(items, 2, |i| {
            if i == 0 {
                let watchdog = Stopwatch::start();
                while done.load(Ordering::SeqCst) < 8 {
                    assert!(
                        watchdog.elapsed() < Duration::from_secs(10),
                        "the other items were not handed to the free thread"
                    );
                    lockstep_scheduler::sync::thread::yield_now();
                }
            } else {
                done.fetch_add(1, Ordering::SeqCst);
            }
            i
        });
        assert_eq!(out, (0..9).collect::<Vec<_>>());
    }

    #[test]
    fn a_panic_in_an_item_reaches_the_caller() {
        let caught =
            std::panic::catch_unwind(|| parallel_map((0..6).collect(), 2, |i: usize| assert!(i != 3, "item 3")));
        assert!(caught.is_err());
    }
}
