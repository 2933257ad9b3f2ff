//! The threaded protocol: a [`CompilationPlan`] under one lock, N codegen workers pulling from it,
//! and the link stage consuming the [`LinkQueue`] on the calling thread.
//!
//! Workers block on one condition variable until a codegen node is ready or no codegen node can
//! ever become ready again (everything left was started, finished or skipped); they then retire.
//! Every transition that can change a waiting worker's answer (new ready work, the last unstarted
//! node started, a failure skipping the remaining work) wakes all of them, so nobody waits forever,
//! even when failures happen. Link positions are published to the [`LinkQueue`] as their fate
//! becomes known, which wakes the link stage only for exactly the position it waits for.
//!
//! A panic on any thread (a bug) abandons the run: [`AbortOnUnwind`] flags the plan aborted and
//! closes the link queue, so every other thread stops waiting, and the panic surfaces where the
//! thread is joined.
//!
//! Outputs: workers leave codegen outputs in the shared state. The link stage moves the outputs its
//! next node needs into its own store before running it, so it never holds the lock while linking
//! and never copies an output.

use lockstep_scheduler::parallelism::TokenGate;
use lockstep_scheduler::sync::{self, Condvar, Mutex, MutexGuard};

use super::compilation_plan::{CompilationPlan, LinkTicket, Progress};
use super::link_queue::LinkQueue;
use super::plan::{NodeId, Plan};
use super::{assemble_outcome, CodegenStage, ExecOutcome, ExecStats, LinkStage};

/// The plan state shared by the codegen workers and the link stage of one threaded run.
#[derive(Debug)]
pub struct SharedPlan<O, E> {
    state: Mutex<SharedState<O, E>>,
    /// Signalled when a waiting worker's answer may have changed (see the module docs).
    work_changed: Condvar,
    link_queue: LinkQueue<LinkTicket>,
    /// A deliberately broken wake-up rule, compiled only for loom builds, so the loom tests can
    /// show that the model checker catches it.
    #[cfg(loom)]
    wakes_only_for_new_work: bool,
}

#[derive(Debug)]
struct SharedState<O, E> {
    plan: CompilationPlan,
    codegen_outputs: Vec<Option<O>>,
    failures: Vec<(NodeId, E)>,
    aborted: bool,
    in_flight: usize,
    peak_in_flight: usize,
    codegen_runs: usize,
}

impl<O, E> SharedPlan<O, E> {
    /// The shared state of a fresh run of `plan`.
    pub fn new(plan: &Plan) -> SharedPlan<O, E> {
        let (compilation_plan, initial) = CompilationPlan::new(plan);
        let link_queue = LinkQueue::new(compilation_plan.link_count());
        for (position, ticket) in initial.link_tickets {
            link_queue.publish(position, ticket);
        }
        SharedPlan {
            state: Mutex::new(SharedState {
                codegen_outputs: (0..plan.len()).map(|_| None).collect(),
                plan: compilation_plan,
                failures: Vec::new(),
                aborted: false,
                in_flight: 0,
                peak_in_flight: 0,
                codegen_runs: 0,
            }),
            work_changed: Condvar::new(),
            link_queue,
            #[cfg(loom)]
            wakes_only_for_new_work: false,
        }
    }

    /// A shared plan whose workers are woken only when new codegen work becomes ready, not when a
    /// failure skips the last unstarted work: idle workers then wait forever. Only loom builds have
    /// it; it exists so that `tests/loom.rs` can prove the model checker would catch that bug.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn with_no_wake_on_skip_bug(plan: &Plan) -> SharedPlan<O, E> {
        SharedPlan { wakes_only_for_new_work: true, ..SharedPlan::new(plan) }
    }

    /// Waits for a ready codegen node and marks it running; `None` once no codegen node can ever
    /// become ready again, or the run was abandoned.
    pub fn next_codegen(&self) -> Option<NodeId> {
        let mut state = sync::lock(&self.state);
        loop {
            if state.aborted {
                return None;
            }
            if let Some(node) = state.plan.take_next_codegen() {
                state.in_flight += 1;
                state.peak_in_flight = state.peak_in_flight.max(state.in_flight);
                let last_unstarted = !state.plan.has_unstarted_codegen();
                drop(state);
                if last_unstarted {
                    // Idle workers can retire now instead of waiting for this node to finish.
                    self.work_changed.notify_all();
                }
                return Some(node);
            }
            if !state.plan.has_unstarted_codegen() {
                return None;
            }
            state = sync::wait(&self.work_changed, state);
        }
    }

    /// Records the result of a codegen node started by [`SharedPlan::next_codegen`].
    pub fn finish_codegen(&self, node: NodeId, result: Result<O, E>) {
        let mut state = sync::lock(&self.state);
        state.in_flight -= 1;
        state.codegen_runs += 1;
        let progress = match result {
            Ok(output) => {
                state.codegen_outputs[node.index()] = Some(output);
                state.plan.complete(node)
            }
            Err(error) => {
                state.failures.push((node, error));
                state.plan.fail(node)
            }
        };
        self.announce(state, progress);
    }

    /// Abandons the run: workers retire after their current node and the link stage stops waiting.
    pub fn abort(&self) {
        sync::lock(&self.state).aborted = true;
        self.work_changed.notify_all();
        self.link_queue.close();
    }

    /// The outcome of the run, once every worker has returned and the link stage has finished.
    ///
    /// # Panics
    ///
    /// If the plan is not complete, which would mean the protocol lost a node (a bug).
    pub fn into_outcome(self, link_side: LinkStageOutputs<O>, workers: usize) -> ExecOutcome<O, E> {
        let state = sync::into_inner(self.state);
        assert!(state.plan.is_complete() && !state.aborted, "a finished threaded run resolved every node");
        let outputs = link_side.outputs.into_iter().zip(state.codegen_outputs).map(|(own, shared)| own.or(shared));
        let stats = ExecStats {
            workers,
            peak_in_flight: state.peak_in_flight,
            codegen_runs: state.codegen_runs,
            link_runs: link_side.runs,
            preemptions: 0,
        };
        assemble_outcome(&state.plan, outputs.collect(), state.failures, stats, None, None)
    }

    /// Wakes whoever the transition that produced `progress` may concern, after unlocking.
    fn announce(&self, state: MutexGuard<'_, SharedState<O, E>>, progress: Progress) {
        let nothing_left_to_start = !state.plan.has_unstarted_codegen();
        #[cfg(loom)]
        let nothing_left_to_start = nothing_left_to_start && !self.wakes_only_for_new_work;
        drop(state);
        // The transition happened under the lock, so a worker that checks its condition after this
        // wake-up, or before it started waiting, sees the new state: no wake-up can be missed.
        if progress.codegen_ready > 0 || nothing_left_to_start {
            self.work_changed.notify_all();
        }
        for (position, ticket) in progress.link_tickets {
            self.link_queue.publish(position, ticket);
        }
    }
}

/// What the link stage owns at the end of a threaded run.
#[derive(Debug)]
pub struct LinkStageOutputs<O> {
    /// Link outputs, plus the codegen outputs moved here as link inputs; `None` elsewhere.
    outputs: Vec<Option<O>>,
    runs: usize,
}

/// Abandons the run if dropped while armed, i.e. when the thread holding it unwinds from a panic.
struct AbortOnUnwind<'a, O, E> {
    shared: &'a SharedPlan<O, E>,
    armed: bool,
}

impl<'a, O, E> AbortOnUnwind<'a, O, E> {
    fn new(shared: &'a SharedPlan<O, E>) -> Self {
        AbortOnUnwind { shared, armed: true }
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl<O, E> Drop for AbortOnUnwind<'_, O, E> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.abort();
        }
    }
}

/// One codegen worker's life: pull ready nodes until none can become ready, running each one
/// while holding a jobserver token from `gate` (worker 0 runs under the implicit token). The
/// per-worker state is created lazily on this thread, so a worker that never gets a node never
/// creates one.
pub fn run_codegen_worker<C: CodegenStage>(
    shared: &SharedPlan<C::Output, C::Error>,
    codegen: &C,
    index: usize,
    gate: &TokenGate,
) {
    let abort_on_unwind = AbortOnUnwind::new(shared);
    let mut worker = None;
    while let Some(node) = shared.next_codegen() {
        let token = gate.acquire_for_worker(index);
        let worker = worker.get_or_insert_with(|| codegen.new_worker());
        let result = codegen.run(worker, node);
        drop(token);
        shared.finish_codegen(node, result);
    }
    abort_on_unwind.disarm();
}

/// The link stage's life: run each Link node in link order, waiting for exactly the next one,
/// until the link order is exhausted (or the run was abandoned by a panicking thread).
pub fn run_link_stage<O, E, L: LinkStage<O, E>>(shared: &SharedPlan<O, E>, link: &mut L) -> LinkStageOutputs<O> {
    let abort_on_unwind = AbortOnUnwind::new(shared);
    let mut outputs: Vec<Option<O>> = (0..sync::lock(&shared.state).plan.len()).map(|_| None).collect();
    let mut runs = 0;
    while let Some((_, ticket)) = shared.link_queue.wait_next() {
        let node = match ticket {
            LinkTicket::Run(node) => node,
            LinkTicket::Skip(_) => continue,
        };
        let deps = {
            let mut state = sync::lock(&shared.state);
            state.plan.start(node);
            let deps = state.plan.deps(node).to_vec();
            for &dep in &deps {
                if let Some(output) = state.codegen_outputs[dep.index()].take() {
                    outputs[dep.index()] = Some(output);
                }
            }
            deps
        };
        let inputs: Vec<(NodeId, &O)> = deps
            .iter()
            .map(|&dep| (dep, outputs[dep.index()].as_ref().expect("every dependency of a ready node completed")))
            .collect();
        let result = link.run(node, &inputs);
        drop(inputs);
        runs += 1;
        let mut state = sync::lock(&shared.state);
        let progress = match result {
            Ok(output) => {
                outputs[node.index()] = Some(output);
                state.plan.complete(node)
            }
            Err(error) => {
                state.failures.push((node, error));
                state.plan.fail(node)
            }
        };
        shared.announce(state, progress);
    }
    abort_on_unwind.disarm();
    LinkStageOutputs { outputs, runs }
}
