//! The bug zoo from the command line: without the `bug-zoo` feature the
//! zoo is listed but nothing can be planted; with it (`cargo test
//! --features bug-zoo`), every planted bug must be caught within its budget
//! by `lockstep verify`, with a repro of at most three edits that replays.

use crate::support::{lockstep, text};
use lockstep_core::bug_zoo::{self, Bug};

#[test]
fn the_zoo_lists_every_bug_with_its_class() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let listed = lockstep(tmp.path(), &["verify", "--list-bugs"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let stdout = text(&listed.stdout);
    for bug in Bug::ALL {
        let line = stdout.lines().find(|l| l.starts_with(&format!("{} ", bug.name())));
        let line = line.unwrap_or_else(|| panic!("`{bug}` is not listed:\n{stdout}"));
        assert!(line.contains(bug.class().name()) && line.contains(bug.description()), "{line}");
    }
}

#[test]
fn injecting_a_bug_needs_the_zoo_and_a_known_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let unknown = lockstep(tmp.path(), &["verify", "--inject-bug", "no-such-bug", "--time-limit", "1"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no such bug"), "{}", text(&unknown.stderr));
    if !bug_zoo::ENABLED {
        let name = Bug::ALL[0].name();
        let planted = lockstep(tmp.path(), &["verify", "--inject-bug", name, "--time-limit", "1"]);
        assert_eq!(planted.status.code(), Some(1));
        assert!(text(&planted.stderr).contains("--features bug-zoo"), "{}", text(&planted.stderr));
    }
}

/// Every bug caught within a minute, by `verify` with the zoo's fixed seed, with a small repro that
/// replays. Slow (a zoo run); only with the feature. CI runs the same through `lockstep verify --zoo`.
#[cfg(feature = "bug-zoo")]
#[test]
fn every_zoo_bug_is_caught_with_a_small_repro_that_replays() {
    use lockstep_harness::verify::case::Size;
    use lockstep_harness::verify::runner::VerifyOptions;
    use lockstep_harness::verify::zoo::{run_zoo, MAX_REPRO_EDITS};
    use std::time::Duration;

    let tmp = tempfile::tempdir().expect("tempdir");
    let options = VerifyOptions {
        dir: None,
        seed: 1,
        steps: 12,
        cases: None,
        time_limit: Duration::from_secs(60),
        size: Size::Small,
        schedules: 1,
        jobs: 2,
        repro_dir: tmp.path().join("repros"),
        scratch: tmp.path().join("scratch"),
        lockstep: crate::support::lockstep_bin(),
        shrink_budget: Duration::from_secs(20),
        progress: false,
        bug: None,
    };
    std::fs::create_dir_all(&options.scratch).expect("scratch");
    let report = run_zoo(&options, Bug::ALL, |_| {}).expect("the zoo runs");
    let table = report.table();
    for entry in &report.entries {
        let caught = entry.caught.as_ref().unwrap_or_else(|| panic!("`{}` was missed:\n{table}", entry.bug));
        assert!(caught.replays, "the repro of `{}` does not replay:\n{table}", entry.bug);
        assert!(caught.edits <= MAX_REPRO_EDITS, "the repro of `{}` is too large:\n{table}", entry.bug);
    }
}
