//! Differential testing on generated programs: every program the generator
//! makes is built by lockstep (debug and release) and by gcc from its C
//! translation; stdout and exit status must agree, and the MIR interpreter
//! must agree too. `LOCKSTEP_DIFF_SEEDS=N` runs more seeds.

use crate::support::{lockstep, text};
use lockstep_core::diagnostic::DiagnosticStyle;
use lockstep_core::lks;
use lockstep_core::mir::interp;
use lockstep_harness::program::{generate, run_c_oracle, run_with_timeout, GenConfig};
use std::time::Duration;

fn seeds() -> u64 {
    std::env::var("LOCKSTEP_DIFF_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(16)
}

#[test]
fn generated_programs_agree_with_gcc_and_the_interpreter() {
    for seed in 0..seeds() {
        let mut config = GenConfig::small();
        // Every fourth program may divide by zero at run time.
        config.allow_div_by_zero = seed % 4 == 3;
        let program = generate(1000 + seed, &config);
        let tmp = tempfile::tempdir().expect("tempdir");
        let project = tmp.path().join("proj");
        program.write_lks(&project).expect("write");
        let expected = run_c_oracle(&program, tmp.path()).expect("gcc oracle");
        let release = seed % 2 == 1;
        let mut args = vec!["build", "proj", "-o", "exe"];
        if release {
            args.push("--release");
        }
        let build = lockstep(tmp.path(), &args);
        assert!(build.status.success(), "seed {seed}: {}", text(&build.stderr));
        let actual = run_with_timeout(&tmp.path().join("exe"), tmp.path(), Duration::from_secs(20)).expect("run");
        assert_eq!(
            (text(&actual.0), text(&actual.1), actual.2),
            (text(&expected.0), text(&expected.1), expected.2),
            "seed {seed} (release: {release}): lockstep and gcc disagree"
        );
        let checked = lks::check_dir(&project, DiagnosticStyle::Short).expect("checks");
        let outcome = interp::run(&lks::lower_program(&checked), &interp::Limits::default()).expect("interprets");
        assert_eq!(
            (text(&outcome.stdout), text(&outcome.stderr), outcome.exit_status),
            (text(&expected.0), text(&expected.1), expected.2),
            "seed {seed}: the interpreter and gcc disagree"
        );
    }
}
