//! Fuzz target `frontend`: Arbitrary bytes as up to three modules: no panic, every error points into an input file, accepted programs lower to valid MIR the interpreter runs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_harness::fuzzing::{check_frontend, plant_bug_from_env};

fuzz_target!(
    init: plant_bug_from_env(),
    |data: &[u8]| {
        check_frontend(data);
    }
);
