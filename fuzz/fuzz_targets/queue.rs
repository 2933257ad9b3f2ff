//! Fuzz target `queue`: The plan executor on an arbitrary DAG, failure set, worker count and schedule: each job once after its dependencies, exactly the transitive dependents of failures skipped, links in plan order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_harness::fuzzing::{check_queue, plant_bug_from_env};

fuzz_target!(
    init: plant_bug_from_env(),
    |data: &[u8]| {
        check_queue(data);
    }
);
