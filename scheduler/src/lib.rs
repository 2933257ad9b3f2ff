//! lockstep-scheduler: where lockstep's concurrency and nondeterminism come from.
//!
//! The core is written against this crate and never against the standard library's threads, locks,
//! clock or a random number generator directly (`tests/tidy.rs` enforces that). That single seam is
//! what lets the same engine code run on OS threads, under loom's exhaustive model checker, and
//! under the deterministic fuzzed scheduler.
//!
//! What lives where:
//! - [`sync`]: the facade over locks, atomics and threads (std normally, loom under `--cfg loom`),
//!   plus [`sync::lock`] and [`sync::wait`], which turn lock poisoning into "the panic surfaces
//!   where the thread is joined".
//! - [`clock`]: [`clock::Stopwatch`], wall-clock timing for reports only, never for output bytes.
//! - [`parallelism`]: how many codegen workers to run and the jobserver token discipline.
//! - [`bug_zoo`]: planted defects for measuring the harness, compiled away without `bug-zoo`.
//! - [`fuzz`]: the deterministic fuzzed scheduler's decision seam ([`fuzz::Chooser`]), its strategies
//!   (random, PCT, replay), recorded [`fuzz::Schedule`]s and schedule shrinking.

pub mod bug_zoo;
pub mod clock;
pub mod fuzz;
pub mod parallelism;
pub mod sync;
