//! The execution engine's own overhead, without LLVM: a plan of N trivial
//! codegen nodes (and one link node per 8 of them) run on threads and under
//! the fuzzed scheduler. The difference per job is the price of fuzzing a
//! schedule, recorded in the README ("Performance").

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lockstep_core::exec::{self, CodegenStage, ExecMode, LinkStage, NodeId, Plan, Stage};
use lockstep_scheduler::fuzz::{Chooser, Strategy};
use lockstep_scheduler::parallelism::Parallelism;

struct Trivial;

impl CodegenStage for Trivial {
    type Worker = ();
    type Output = u64;
    type Error = String;

    fn new_worker(&self) {}

    fn run(&self, _worker: &mut (), node: NodeId) -> Result<u64, String> {
        Ok(u64::from(node.0).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

struct Sum(u64);

impl LinkStage<u64, String> for Sum {
    fn run(&mut self, _node: NodeId, inputs: &[(NodeId, &u64)]) -> Result<u64, String> {
        for (_, v) in inputs {
            self.0 = self.0.wrapping_add(**v);
        }
        Ok(self.0)
    }
}

fn plan(jobs: usize) -> Plan {
    let mut plan = Plan::new();
    let mut batch = Vec::new();
    for i in 0..jobs {
        batch.push(plan.add(format!("u{i}"), Stage::Codegen, (i % 7) as u64, &[]));
        if batch.len() == 8 || i + 1 == jobs {
            plan.add(format!("l{i}"), Stage::Link, 1, &batch);
            batch.clear();
        }
    }
    plan
}

fn overhead(c: &mut Criterion) {
    let jobs = 2000;
    let plan = plan(jobs);
    let mut group = c.benchmark_group("exec_overhead");
    group.throughput(Throughput::Elements(jobs as u64));
    group.bench_function("threads_j1", |b| {
        b.iter(|| exec::execute(&plan, &Trivial, &mut Sum(0), ExecMode::Threads(Parallelism::fixed(1))))
    });
    group.bench_function("threads_j2", |b| {
        b.iter(|| exec::execute(&plan, &Trivial, &mut Sum(0), ExecMode::Threads(Parallelism::fixed(2))))
    });
    for (name, strategy) in
        [("fuzzed_random", Strategy::Random { seed: 7 }), ("fuzzed_pct3", Strategy::Pct { seed: 7, depth: 3 })]
    {
        group.bench_function(name, |b| {
            b.iter(|| {
                let chooser = Chooser::with_step_estimate(strategy.clone(), plan.event_count());
                exec::execute(&plan, &Trivial, &mut Sum(0), ExecMode::Fuzzed { chooser, virtual_workers: 4 })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
