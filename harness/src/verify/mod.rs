//! The oracles and fault primitives of `lockstep verify`, acting on a
//! project directory and a build configuration, whatever produced the
//! sources.
//!
//! - `workspace.rs`: [`Workspace`], a project with its own cache and
//!   output under one root; [`Workspace::sync_sources`] makes it hold a
//!   given set of modules without touching unchanged files.
//! - `config.rs`: [`BuildConfig`] (`debug cgu=partition:16 j=2`), the
//!   options a run varies, for in-process builds and the binary alike.
//! - `build.rs`: [`Workspace::build`] in-process, [`clean_build`] (the
//!   reference: fresh directory, fresh cache, `-j1`).
//! - `artifacts.rs`: [`Artifacts`] (the executable and every staged unit
//!   object) and [`compare_artifacts`], which names the first differing
//!   unit and ELF section.
//! - `schedule.rs`: fuzzed and guided (lenient replay) builds, and the
//!   [`Reproduction`](lockstep_scheduler::fuzz::Reproduction) that
//!   `fuzz::shrink` needs.
//! - `behaviour.rs`: [`run_executable`], [`interpret_project`], [`run_c`]
//!   with its [`CCache`], and [`compare_behaviour`].
//! - `faults.rs`: [`kill_build`], [`damage_work_dir`], [`race_builds`],
//!   [`injected_failure`].
//! - `process.rs`: child processes with captured output and deadlines.
//! - `zoo.rs`: `verify --zoo`, one run per planted bug of the bug zoo, and its table.

mod artifacts;
mod behaviour;
mod build;
pub mod case;
mod config;
mod faults;
pub mod intent;
pub mod oracle;
mod process;
pub mod repro;
pub mod runner;
mod schedule;
pub mod shrink;
pub mod strategy;
pub mod summary;
mod workspace;
pub mod zoo;

pub use artifacts::{
    compare_artifacts, compare_files, ArtifactDiff, Artifacts, BytesDifference, DifferencePlace, UnitObject,
};
pub use behaviour::{
    compare_behaviour, interpret_project, run_c, run_executable, BehaviourDiff, CCache, RunOutcome, C_RUN_TIMEOUT,
};
pub use build::{build_with_options, clean_build, BuildExtras, BuildOutcome};
pub use config::{BuildConfig, CguSetting};
pub use faults::{
    check_injected_failure, damage_work_dir, injected_failure, kill_build, race_builds, ChildEnd, ChildReport, Damage,
    DamageKind, KillOutcome, RaceOutcome, RACE_WATCHDOG,
};
pub use lockstep_core::driver::Scheduling;
pub use workspace::{SourceSync, Workspace};
