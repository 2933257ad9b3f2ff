//! A failure becomes a small repro that replays: shrinking keeps only the intent that matters (and, for a
//! schedule failure, a schedule guide), the repro file round-trips as text, and `lockstep replay` fails the
//! same way while the mistake is there and passes once it is gone (the bug zoo replays real failures).

use crate::support::{lockstep, lockstep_bin, text};
use lockstep_harness::verify::case::{run_case, Case, Options, Sabotage, Size, Start};
use lockstep_harness::verify::intent::Intent;
use lockstep_harness::verify::oracle::Oracle;
use lockstep_harness::verify::repro::Repro;
use lockstep_harness::verify::shrink::shrink;
use lockstep_harness::verify::BuildConfig;
use std::time::Duration;

fn case(intents: &[&str]) -> Case {
    Case {
        start: Start::Generated { seed: 11, size: Size::Small },
        config: BuildConfig::default(),
        schedule_seed: 5,
        intents: intents.iter().map(|i| i.parse::<Intent>().expect("an intent")).collect(),
    }
}

/// Runs `case` with a mistake planted in the steps of one kind, shrinks the failure, and checks the
/// shrunk case.
fn shrunk(case: &Case, sabotage: Sabotage, kind: &str, oracle: Oracle) -> (Repro, Options, tempfile::TempDir) {
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut options = Options::new(lockstep_bin(), scratch.path().to_path_buf());
    options.sabotage = Some(sabotage);
    options.sabotage_kind = Some(kind.to_string());
    let outcome = run_case(case, &options).expect("the case runs");
    let failure = outcome.failure.expect("the planted mistake is found");
    assert_eq!(failure.oracle, oracle, "{failure}");
    let small = shrink(case, &failure, &options, Duration::from_secs(120));
    assert_eq!(small.failure.oracle, oracle);
    (Repro::new(small.case, small.guide, &small.failure, None), options, scratch)
}

#[test]
fn shrinking_keeps_the_one_intent_that_matters_and_the_repro_replays() {
    let long = case(&["body 1 4", "comment 0 1", "rename-local 2 0", "global-init 0 3", "body 3 0", "add-param 1"]);
    let (repro, options, _scratch) = shrunk(&long, Sabotage::CorruptExecutable, "global-init", Oracle::CleanEquality);
    let kept: Vec<String> = repro.case.intents.iter().map(|i| i.to_string()).collect();
    assert_eq!(kept, ["global-init 0 3"], "shrunk to exactly the intent whose step is broken");
    assert_eq!(Repro::parse(&repro.to_text()).as_ref(), Ok(&repro), "the repro file round-trips");
    let replayed = run_case(&repro.case, &options).expect("replays");
    assert_eq!(replayed.failure.map(|f| f.oracle), Some(Oracle::CleanEquality));
}

#[test]
fn a_schedule_failure_keeps_a_schedule_guide() {
    let (repro, mut options, _scratch) =
        shrunk(&case(&["body 2 2"]), Sabotage::CorruptFuzzed, "body", Oracle::Schedule);
    let (step, guide) = repro.guide.clone().expect("a schedule failure is shrunk to a guide");
    assert_eq!(step, 2, "the guide belongs to the failing step");
    assert_eq!(Repro::parse(&repro.to_text()).as_ref(), Ok(&repro), "the repro file round-trips");
    options.guide = Some((step, guide));
    let replayed = run_case(&repro.case, &options).expect("replays");
    assert_eq!(replayed.failure.map(|f| f.oracle), Some(Oracle::Schedule));
}

#[test]
fn lockstep_replay_passes_when_the_failure_is_gone_and_rejects_bad_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Without a planted mistake this case passes, so replaying its file says the failure is gone; a file
    // naming an oracle and a step is all `replay` needs.
    let passing = "program: generated small 11\nconfig: debug cgu=partition:16 j=2\nschedule-seed: 5\n\
                   intent: body 1 4\nfailed: clean-equality at step 2 (planted)\n";
    std::fs::write(dir.path().join("passing.txt"), passing).expect("write");
    let out = lockstep(dir.path(), &["replay", "passing.txt"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("is gone"), "{}", text(&out.stdout));
    // A damaged repro file is an error, not a panic.
    std::fs::write(dir.path().join("bad.txt"), "program: generated huge 1\n").expect("write");
    let out = lockstep(dir.path(), &["replay", "bad.txt"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not a repro file"), "{}", text(&out.stderr));
}

/// Repro files written for failures whose action or detail is awkward text read back as the same repro
/// (the `schedule_text` fuzz target found the action's spacing and parentheses mangled on the way).
#[test]
fn awkward_actions_and_details_round_trip_through_the_repro_file() {
    for (action, detail) in [
        ("add function f(x)", "one line"),
        ("body  1\t4", "spaced"),
        ("((nested))", "first\n\nafter a blank line\n  indented"),
        ("", ""),
    ] {
        let repro = Repro {
            case: case(&["body 1 4"]),
            guide: None,
            oracle: Oracle::CleanEquality,
            step: 2,
            action: action.split_whitespace().collect::<Vec<_>>().join(" "),
            detail: detail.lines().map(str::trim).collect::<Vec<_>>().join("\n"),
            bug: None,
        };
        let text = repro.to_text();
        let again = Repro::parse(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
        assert_eq!(again, repro, "{text}");
    }
}
