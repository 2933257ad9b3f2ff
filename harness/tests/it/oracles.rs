//! Every oracle of `lockstep verify` can fire: a case with a planted mistake (a wrong expectation or a
//! broken artifact, see `Sabotage`) fails exactly that oracle, and the same case without it passes.

use crate::support::lockstep_bin;
use lockstep_harness::verify::case::{run_case, Case, Options, Sabotage, Size, Start};
use lockstep_harness::verify::intent::Intent;
use lockstep_harness::verify::oracle::Oracle;
use lockstep_harness::verify::BuildConfig;
use std::path::Path;

fn case(intents: &[&str]) -> Case {
    Case {
        start: Start::Generated { seed: 7, size: Size::Small },
        config: BuildConfig::default(),
        schedule_seed: 3,
        intents: intents.iter().map(|i| i.parse::<Intent>().expect("an intent")).collect(),
    }
}

/// Runs `intents` with `sabotage` (expecting `oracle` to fire) and without (expecting a pass).
fn check(intents: &[&str], sabotage: Sabotage, oracle: Oracle, lockstep: &Path) {
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut options = Options::new(lockstep_bin(), scratch.path().to_path_buf());
    let clean = run_case(&case(intents), &options).expect("the case runs");
    assert!(clean.failure.is_none(), "{intents:?} without sabotage: {:?}\n{}", clean.failure, clean.trace.join("\n"));
    options.sabotage = Some(sabotage.clone());
    options.lockstep = lockstep.to_path_buf();
    let outcome = run_case(&case(intents), &options).expect("the case runs");
    let failure =
        outcome.failure.unwrap_or_else(|| panic!("{sabotage:?} went unnoticed:\n{}", outcome.trace.join("\n")));
    assert_eq!(failure.oracle, oracle, "{sabotage:?} was caught by the wrong oracle: {failure}");
}

#[test]
fn every_oracle_fires_on_a_planted_mistake() {
    let real = lockstep_bin();
    let body = ["body 1 4"];
    check(&body, Sabotage::InvalidProgram, Oracle::Build, &real);
    check(&body, Sabotage::ExpectRecompile("main::nothing".to_string()), Oracle::Precision, &real);
    check(&body, Sabotage::ExpectKeyChange, Oracle::Precision, &real);
    check(&body, Sabotage::CorruptExecutable, Oracle::CleanEquality, &real);
    check(&body, Sabotage::WrongInterpreter, Oracle::Behaviour, &real);
    check(&body, Sabotage::WrongCTranslation, Oracle::Behaviour, &real);
    check(&body, Sabotage::CorruptFuzzed, Oracle::Schedule, &real);
    check(&body, Sabotage::ForgeCacheEntries, Oracle::VerifyCache, &real);
    check(&["break parse 2"], Sabotage::ExpectErrorElsewhere, Oracle::Diagnostics, &real);
    check(&["break type 2"], Sabotage::ExpectErrorElsewhere, Oracle::Diagnostics, &real);
    check(&["fault codegen 3"], Sabotage::WrongFaultTarget, Oracle::Faults, &real);
}

/// A `lockstep` that panics at once: what the kill and race faults must report.
#[cfg(unix)]
fn panicking_lockstep(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("lockstep-that-panics");
    std::fs::write(&path, "#!/bin/sh\necho \"thread 'main' panicked at src/x.rs:1:1: planted\" >&2\nexit 101\n")
        .expect("write the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("make it executable");
    path
}

#[cfg(unix)]
#[test]
fn a_panicking_child_build_fails_the_fault_oracle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = panicking_lockstep(dir.path());
    // The case itself is sound: only the binary the faults start is a fake.
    let scratch = tempfile::tempdir().expect("tempdir");
    for intents in [["fault kill 5"], ["fault race 9"]] {
        let mut options = Options::new(fake.clone(), scratch.path().to_path_buf());
        options.only = Some(Oracle::Faults);
        let outcome = run_case(&case(&intents), &options).expect("the case runs");
        let failure = outcome.failure.unwrap_or_else(|| panic!("{intents:?}: the panic went unnoticed"));
        assert_eq!(failure.oracle, Oracle::Faults, "{intents:?}: {failure}");
    }
}
