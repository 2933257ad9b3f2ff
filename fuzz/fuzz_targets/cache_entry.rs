//! Fuzz target: Arbitrary bytes as cache entries: only real entries decode, and damage is always caught.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_harness::fuzzing::check_cache_entry;

fuzz_target!(|data: &[u8]| {
    check_cache_entry(data);
});
