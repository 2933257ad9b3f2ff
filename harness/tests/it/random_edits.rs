//! The harness's defining property, as a proptest: for random programs and random sequences of edits,
//! configuration changes and faults, every incremental build equals a clean build and every other oracle
//! of `lockstep verify` holds.
//!
//! `LOCKSTEP_VERIFY_CASES` (default 3) and `LOCKSTEP_VERIFY_STEPS` (default 8) size the run; a deep run is
//! `LOCKSTEP_VERIFY_CASES=200 LOCKSTEP_VERIFY_STEPS=30 cargo test -p lockstep-harness --test it random_edits`,
//! or `lockstep verify --time-limit 3600`. Failures are shrunk by proptest and saved in
//! `random_edits.proptest-regressions` beside this file, which is committed and replayed first.

use crate::support::lockstep_bin;
use lockstep_harness::verify::case::{run_case, Case, Options, Size, Start};
use lockstep_harness::verify::strategy;
use lockstep_harness::verify::BuildConfig;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn env_or(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: env_or("LOCKSTEP_VERIFY_CASES", 3),
        max_shrink_iters: 128,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn incremental_builds_equal_clean_builds(
        (program_seed, schedule_seed, intents) in strategy::case(env_or("LOCKSTEP_VERIFY_STEPS", 8) as usize)
    ) {
        let scratch = tempfile::tempdir().expect("tempdir");
        let options = Options::new(lockstep_bin(), scratch.path().to_path_buf());
        let case = Case {
            start: Start::Generated { seed: program_seed, size: Size::Small },
            config: BuildConfig::default(),
            schedule_seed,
            intents,
        };
        let outcome = run_case(&case, &options).expect("the case runs");
        if let Some(failure) = outcome.failure {
            prop_assert!(false, "{failure}\n{}", outcome.trace.join("\n"));
        }
    }
}
