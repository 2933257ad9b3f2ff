//! lockstep-harness: the `lockstep` command line (`src/main.rs`) and the
//! test harness's reusable parts, shared by the integration tests, the
//! benches and the fuzz targets.
//!
//! - [`gen`]: a seeded generator of random, valid multi-module `.lks`
//!   programs, each with an equivalent C program (the differential oracle,
//!   and the benches' workload).
//! - [`fuzzing`]: the properties the fuzz targets check, callable from
//!   tests for a bounded slice on every `cargo test`.
//! - [`verify`]: the oracles and fault primitives of `lockstep verify`
//!   (clean-build equality, behaviour, schedules, kills, damage, races).

pub mod fuzzing;
pub mod gen;
pub mod verify;
