//! Fuzz target `cache_entry`: Arbitrary bytes as a cache entry, manifest, IR pack or module summary: a miss or an error, never a panic and never a wrong hit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_harness::fuzzing::{check_cache_entry, plant_bug_from_env};

fuzz_target!(
    init: plant_bug_from_env(),
    |data: &[u8]| {
        check_cache_entry(data);
    }
);
