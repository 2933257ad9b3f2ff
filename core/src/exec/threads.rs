//! [`ExecMode::Threads`](super::ExecMode::Threads): codegen on worker threads, linking on the
//! calling thread.
//!
//! Workers are scoped threads, so the stages can be borrowed rather than shared through `Arc`, and
//! every worker is joined before `execute` returns. A panic on a worker abandons the run (see
//! [`SharedPlan`]) and is re-raised on the calling thread after the join.

use lockstep_scheduler::parallelism::Parallelism;
use lockstep_scheduler::sync::thread;

use super::shared_plan::{run_codegen_worker, run_link_stage, SharedPlan};
use super::{CodegenStage, ExecOutcome, LinkStage, Plan};

pub(super) fn execute_on_threads<C, L>(
    plan: &Plan,
    codegen: &C,
    link: &mut L,
    parallelism: Parallelism,
) -> ExecOutcome<C::Output, C::Error>
where
    C: CodegenStage,
    L: LinkStage<C::Output, C::Error>,
{
    let workers = parallelism.workers.max(1);
    let gate = parallelism.token_gate();
    let shared = SharedPlan::new(plan);
    let link_side = thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|index| {
                let (shared, gate) = (&shared, &gate);
                scope.spawn(move || run_codegen_worker(shared, codegen, index, gate))
            })
            .collect();
        let link_side = run_link_stage(&shared, link);
        for handle in handles {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        link_side
    });
    shared.into_outcome(link_side, workers)
}
