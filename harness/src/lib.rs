//! lockstep-harness: the `lockstep` command line (`src/main.rs`) and the
//! test harness's reusable parts, shared by the integration tests, the
//! benches and the fuzz targets.
//!
//! - [`program`]: the program model shared by every harness part: a seeded
//!   generator of random, valid multi-module `.lks` programs, their `.lks`
//!   and C renderings (gcc's build of the C is the differential oracle),
//!   and the edits `lockstep verify` applies to them.
//! - [`fuzzing`]: the properties the fuzz targets check, callable from
//!   tests for a bounded slice on every `cargo test`.
//! - [`peers`]: `lockstep bench peers`, lockstep beside make + gcc/clang and
//!   cargo's incremental rustc on the same generated program.
//! - [`progress`]: the progress bar of a long build on a terminal.
//! - [`timings`]: the `--timings` page and JSON, and the `--trace` file.
//! - [`verify`]: the oracles and fault primitives of `lockstep verify`
//!   (clean-build equality, behaviour, schedules, kills, damage, races).

pub mod fuzzing;
pub mod peers;
pub mod program;
pub mod progress;
pub mod timings;
pub mod verify;
