//! Fuzz target: Random programs under random edits: equal content hashes mean equal MIR, layout edits change no hash, and the dependency graph predicts exactly what the hashes invalidate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_harness::fuzzing::check_invalidation;

fuzz_target!(|data: &[u8]| {
    let _ = check_invalidation(data);
});
