//! Fuzz target `invalidation`: A generated program under arbitrary edits of the harness's edit model: the engine's invalidation is sound and precise against the model (see `lockstep_harness::fuzzing::check_invalidation`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_harness::fuzzing::{check_invalidation, plant_bug_from_env};

fuzz_target!(
    init: plant_bug_from_env(),
    |data: &[u8]| {
        check_invalidation(data);
    }
);
