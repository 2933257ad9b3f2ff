//! loom models of the threaded execution protocol, explored exhaustively (up to a preemption bound).
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p lockstep-core --test loom --target-dir target/loom`
//!
//! The models drive the engine's real code ([`LinkQueue`], [`SharedPlan`], [`run_codegen_worker`],
//! [`run_link_stage`]) on loom threads, through the `lockstep_scheduler::sync` facade, which is
//! loom's under `--cfg loom`. Each model also runs against a deliberately broken variant that
//! exists only in loom builds, and the test asserts that loom catches it: a model that cannot fail
//! proves nothing.

#![cfg(loom)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
// std's Arc, not loom's: reference counting is not under test, and loom's Arc cannot be dropped
// while a model unwinds from the deadlock loom reports for the broken variants.
use std::sync::Arc;
use std::time::Instant;

use lockstep_core::exec::{
    run_codegen_worker, run_link_stage, CodegenStage, ExecOutcome, LinkQueue, LinkStage, NodeId, Plan, SharedPlan,
    Stage,
};
use lockstep_scheduler::parallelism::TokenGate;
use lockstep_scheduler::sync::thread;

/// Explores `model` with loom and returns how many executions it took, or the failure loom found.
fn explore(name: &str, model: impl Fn() + Send + Sync + 'static) -> Result<usize, String> {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        // Without LOOM_MAX_PREEMPTIONS the search is unbounded; 2 preemptions find the bugs that
        // matter here and keep the run within seconds.
        builder.preemption_bound = Some(2);
    }
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&executions);
    let started = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| {
        builder.check(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            model();
        })
    }));
    let executions = executions.load(Ordering::Relaxed);
    println!("{name}: {executions} executions in {:.2?}", started.elapsed());
    result.map(|()| executions).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|message| message.to_string()))
            .unwrap_or_else(|| "a non-string panic".to_owned())
    })
}

/// Two producers publish link positions out of order; the consumer must take 0, 1, 2 in order.
fn link_queue_model(buggy: bool) {
    let queue = Arc::new(if buggy { LinkQueue::with_missed_wakeup_bug(3) } else { LinkQueue::new(3) });
    let first_producer = {
        let queue = Arc::clone(&queue);
        thread::spawn(move || queue.publish(1, "one"))
    };
    let second_producer = {
        let queue = Arc::clone(&queue);
        thread::spawn(move || {
            queue.publish(2, "two");
            queue.publish(0, "zero");
        })
    };
    assert_eq!(queue.wait_next(), Some((0, "zero")));
    assert_eq!(queue.wait_next(), Some((1, "one")));
    assert_eq!(queue.wait_next(), Some((2, "two")));
    assert_eq!(queue.wait_next(), None);
    first_producer.join().unwrap();
    second_producer.join().unwrap();
}

#[test]
fn the_link_queue_hands_out_positions_in_order_under_every_interleaving() {
    let executions = explore("link queue", || link_queue_model(false)).expect("the link queue is correct");
    assert!(executions > 1, "loom explored more than one interleaving");
}

#[test]
fn loom_catches_a_link_queue_that_wakes_before_publishing() {
    let failure = explore("link queue with a missed wake-up", || link_queue_model(true))
        .expect_err("loom must find the missed wake-up");
    assert!(failure.contains("deadlock"), "loom reports the lost wake-up as a deadlock: {failure}");
}

/// Codegen for the plan model: outputs `10 * index`, fails on `failing`.
struct ModelCodegen {
    failing: NodeId,
}

impl CodegenStage for ModelCodegen {
    type Worker = ();
    type Output = u32;
    type Error = &'static str;

    fn new_worker(&self) {}

    fn run(&self, _: &mut (), node: NodeId) -> Result<u32, &'static str> {
        if node == self.failing {
            Err("codegen failed")
        } else {
            Ok(10 * node.0)
        }
    }
}

/// Link for the plan model: outputs `1000 + the sum of its inputs`.
struct ModelLink;

impl LinkStage<u32, &'static str> for ModelLink {
    fn run(&mut self, _: NodeId, inputs: &[(NodeId, &u32)]) -> Result<u32, &'static str> {
        Ok(1000 + inputs.iter().map(|&(_, output)| *output).sum::<u32>())
    }
}

/// `a` fails; `b` needs `a`; `c` is independent; link `m` needs `c` and link `l` needs `b`.
fn model_plan() -> Plan {
    let mut plan = Plan::new();
    let a = plan.add("a", Stage::Codegen, 3, &[]);
    let c = plan.add("c", Stage::Codegen, 2, &[]);
    let b = plan.add("b", Stage::Codegen, 1, &[a]);
    plan.add("m", Stage::Link, 0, &[c]);
    plan.add("l", Stage::Link, 0, &[b]);
    plan
}

/// Runs `shared` to the end: two codegen workers on loom threads (`failing` is the node whose
/// codegen fails), the link stage on the model's main thread.
fn run_with_two_workers(shared: Arc<SharedPlan<u32, &'static str>>, failing: NodeId) -> ExecOutcome<u32, &'static str> {
    let codegen = Arc::new(ModelCodegen { failing });
    let workers: Vec<_> = (0..2)
        .map(|index| {
            let (shared, codegen) = (Arc::clone(&shared), Arc::clone(&codegen));
            thread::spawn(move || run_codegen_worker(&shared, &*codegen, index, &TokenGate::unlimited()))
        })
        .collect();
    let link_side = run_link_stage(&*shared, &mut ModelLink);
    for worker in workers {
        worker.join().unwrap();
    }
    let shared = Arc::try_unwrap(shared).unwrap_or_else(|_| panic!("every worker was joined"));
    shared.into_outcome(link_side, 2)
}

/// Two workers pull from the shared plan while the model's main thread runs the link stage.
fn plan_model(buggy: bool) {
    let plan = model_plan();
    let shared = Arc::new(if buggy { SharedPlan::with_no_wake_on_skip_bug(&plan) } else { SharedPlan::new(&plan) });
    let outcome = run_with_two_workers(shared, NodeId(0));
    assert_eq!(outcome.failed, vec![(NodeId(0), "codegen failed")]);
    assert_eq!(outcome.skipped, vec![NodeId(2), NodeId(4)]);
    assert_eq!(outcome.outputs, vec![None, Some(10), None, Some(1010), None]);
    assert!(outcome.stats.peak_in_flight <= 2);
    assert_eq!((outcome.stats.codegen_runs, outcome.stats.link_runs), (2, 1));
}

#[test]
fn workers_and_the_link_stage_finish_with_the_right_outcome_under_every_interleaving() {
    let executions = explore("plan and workers", || plan_model(false)).expect("the protocol is correct");
    assert!(executions > 1, "loom explored more than one interleaving");
}

#[test]
fn loom_catches_workers_left_waiting_after_a_failure_skips_the_remaining_work() {
    let failure = explore("plan and workers with no wake-up on skip", || plan_model(true))
        .expect_err("loom must find the worker that waits forever");
    assert!(failure.contains("deadlock"), "loom reports the stranded worker as a deadlock: {failure}");
}

/// No failure, but every kind of hand-off: link `first` waits for a codegen chain, codegen `c`
/// waits for link `first`, and link `last` waits for `c` while `a`'s output must still be there.
fn hand_off_model() {
    let mut plan = Plan::new();
    let a = plan.add("a", Stage::Codegen, 2, &[]);
    let b = plan.add("b", Stage::Codegen, 1, &[a]);
    let first = plan.add("first", Stage::Link, 0, &[b]);
    let c = plan.add("c", Stage::Codegen, 1, &[first]);
    plan.add("last", Stage::Link, 0, &[c, a]);
    let shared = Arc::new(SharedPlan::new(&plan));
    let outcome = run_with_two_workers(shared, NodeId(u32::MAX));
    assert!(outcome.succeeded());
    // first = 1000 + b(10); c = 30; last = 1000 + c(30) + a(0).
    assert_eq!(outcome.outputs, vec![Some(0), Some(10), Some(1010), Some(30), Some(1030)]);
}

#[test]
fn outputs_flow_from_codegen_to_link_and_back_under_every_interleaving() {
    let executions = explore("codegen and link hand-offs", hand_off_model).expect("the hand-offs are correct");
    assert!(executions > 1, "loom explored more than one interleaving");
}
