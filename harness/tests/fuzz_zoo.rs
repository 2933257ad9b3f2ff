//! `fuzz/regressions/T/zoo-BUG` is the input with which fuzz target T first
//! found the planted bug BUG (`fuzz/README.md`). Without the bug it passes
//! (`tests/it/fuzzing.rs` replays it); with the bug zoo built in (`cargo
//! test --features bug-zoo --test fuzz_zoo`), it must fail with BUG
//! planted, so the targets keep catching what they caught.
//!
//! A test binary of its own: planting a bug is process-wide, and nothing
//! else may run beside it.
#![cfg(feature = "bug-zoo")]

use lockstep_core::bug_zoo::{self, Bug};
use lockstep_harness::fuzzing::{committed_inputs, run_target, TARGETS};
use std::path::Path;

#[test]
fn zoo_regressions_fail_with_their_bug_planted() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut missed = Vec::new();
    let mut checked = 0;
    for target in TARGETS {
        for path in committed_inputs(&fuzz, target).1 {
            let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("zoo-")) else {
                continue;
            };
            let bug = Bug::from_name(name).unwrap_or_else(|| panic!("{}: no bug `{name}` in the zoo", path.display()));
            let input = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let planted = bug_zoo::with_bug(Some(bug), || run_target(target, &input)).expect("the zoo is built in");
            let clean = run_target(target, &input);
            checked += 1;
            match (planted, clean) {
                (Some(_), None) => {}
                (None, _) => missed.push(format!("{}: passes with `{bug}` planted", path.display())),
                (_, Some(why)) => missed.push(format!("{}: fails without a bug: {why}", path.display())),
            }
        }
    }
    assert!(missed.is_empty(), "zoo regressions no longer catch their bug:\n{}", missed.join("\n"));
    assert!(checked >= 5, "only {checked} zoo regressions under fuzz/regressions");
}
