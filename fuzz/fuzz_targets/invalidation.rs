//! Fuzz target `invalidation`: A generated program under arbitrary edits of the harness's edit model: the engine's invalidation is sound and precise against the model (see `lockstep_harness::fuzzing::check_invalidation`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockstep_harness::fuzzing::{check_invalidation, plant_bug_from_env};

/// AddressSanitizer's defaults for this target (`ASAN_OPTIONS` still
/// overrides them). One input allocates millions of small blocks through
/// deep recursion; with a stack trace kept per allocation and a 256 MB
/// quarantine, the process outgrows libFuzzer's 2 GB limit in about a
/// minute although the live heap stays near 30 MB. The code is safe Rust,
/// so neither buys anything here.
#[no_mangle]
pub extern "C" fn __asan_default_options() -> *const std::os::raw::c_char {
    c"malloc_context_size=0:quarantine_size_mb=16".as_ptr()
}

fuzz_target!(
    init: plant_bug_from_env(),
    |data: &[u8]| {
        check_invalidation(data);
    }
);
