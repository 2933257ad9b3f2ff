//! Fuzz target: Arbitrary bytes as up to three modules: the front end never panics, and accepted programs lower to valid MIR.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_harness::fuzzing::check_frontend;

fuzz_target!(|data: &[u8]| {
    check_frontend(data);
});
