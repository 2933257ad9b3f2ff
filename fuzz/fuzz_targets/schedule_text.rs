//! Fuzz target `schedule_text`: Arbitrary text as a scheduling strategy, schedule, build configuration, intent or repro file: a clear error or a value that round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_harness::fuzzing::{check_schedule_text, plant_bug_from_env};

fuzz_target!(
    init: plant_bug_from_env(),
    |data: &[u8]| {
        check_schedule_text(data);
    }
);
