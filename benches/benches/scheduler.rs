//! The execution engine's own overhead, without LLVM: a plan of N trivial
//! codegen nodes (and one link node per 8 of them) run on threads and under
//! the fuzzed scheduler. The difference per job is the price of fuzzing a
//! schedule, recorded in the README ("Performance").
//!
//! `exec_overhead/*` runs N = 2000 under criterion (its throughput line is
//! jobs per second). After it, `cargo bench` prints `per_job`: each mode's
//! time divided by N, and what the fuzzed scheduler adds per job over
//! `-j1` threads, at N = 500 to 4000 (median of `LOCKSTEP_BENCH_RUNS`,
//! default 5), so a cost that grows with the plan (anything worse than
//! linear in the chooser) shows as a per-job figure that grows with N.

use criterion::{criterion_group, Criterion, Throughput};
use lockstep_core::exec::{self, CodegenStage, ExecMode, LinkStage, NodeId, Plan, Stage};
use lockstep_scheduler::fuzz::{Chooser, Strategy};
use lockstep_scheduler::parallelism::Parallelism;
use std::time::{Duration, Instant};

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

/// Makes a mode afresh for each run: a chooser is used up by one.
type MakeMode<'a> = Box<dyn Fn() -> ExecMode + 'a>;

/// The modes measured, by name.
fn modes(plan: &Plan) -> Vec<(&'static str, MakeMode<'_>)> {
    let fuzzed = move |strategy: Strategy| {
        move || ExecMode::Fuzzed {
            chooser: Chooser::with_step_estimate(strategy.clone(), plan.event_count()),
            virtual_workers: 4,
        }
    };
    vec![
        ("threads_j1", Box::new(|| ExecMode::Threads(Parallelism::fixed(1)))),
        ("threads_j2", Box::new(|| ExecMode::Threads(Parallelism::fixed(2)))),
        ("fuzzed_random", Box::new(fuzzed(Strategy::Random { seed: 7 }))),
        ("fuzzed_pct3", Box::new(fuzzed(Strategy::Pct { seed: 7, depth: 3 }))),
    ]
}

fn overhead(c: &mut Criterion) {
    let jobs = 2000;
    let plan = plan(jobs);
    let mut group = c.benchmark_group("exec_overhead");
    group.throughput(Throughput::Elements(jobs as u64));
    for (name, mode) in modes(&plan) {
        group.bench_function(name, |b| b.iter(|| exec::execute(&plan, &Trivial, &mut Sum(0), mode())));
    }
    group.finish();
}

/// Each mode's median time per job over `runs` executions of a plan of
/// `jobs` jobs, and the fuzzed modes' surcharge over `-j1` threads.
fn per_job() {
    let runs: usize = std::env::var("LOCKSTEP_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    for jobs in [500, 1000, 2000, 4000] {
        let plan = plan(jobs);
        let per_job: Vec<(&str, f64)> = modes(&plan)
            .into_iter()
            .map(|(name, mode)| {
                let mut times: Vec<Duration> = (0..runs.max(1))
                    .map(|_| {
                        let start = Instant::now();
                        std::hint::black_box(exec::execute(&plan, &Trivial, &mut Sum(0), mode()));
                        start.elapsed()
                    })
                    .collect();
                times.sort();
                (name, times[times.len() / 2].as_secs_f64() * 1e9 / jobs as f64)
            })
            .collect();
        let threads = per_job[0].1;
        let figures: Vec<String> = per_job
            .iter()
            .map(|&(name, ns)| match name.strip_prefix("fuzzed_") {
                Some(_) => format!("{name} {ns:.0} ns ({:+.0} ns over threads_j1)", ns - threads),
                None => format!("{name} {ns:.0} ns"),
            })
            .collect();
        println!("per_job[N={jobs}]: {}", figures.join(", "));
    }
}

criterion_group!(benches, overhead);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo test --benches` runs each bench once (without `--bench`); the
    // per-job figures are for real runs only.
    if std::env::args().any(|a| a == "--bench") {
        per_job();
    }
}
