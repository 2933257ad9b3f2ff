//! lockstep's integration tests: one test binary, one module per area.
//!
//! Most tests are data: fixture files under `harness/tests/lang/` run
//! through one `check` helper each. Set `UPDATE_EXPECT=1` to rewrite the
//! expectations from what lockstep does today, then review the diff.

mod cli_errors;
mod differential;
mod edits;
mod examples;
mod fuzzing;
mod import;
mod incremental;
mod lang;
mod no_op;
mod oracles;
mod parallel;
mod peers;
mod random_edits;
mod remote;
mod repro;
mod rust_peer;
mod snapshots;
mod support;
mod timings;
mod verify;
mod verify_primitives;
mod work_dir;
mod zoo;
