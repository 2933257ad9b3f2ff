//! Data-driven language tests: `lang/run/*.test` programs are built and run
//! (expected stdout and status), `lang/err/*.test` programs must be
//! rejected with exactly the expected diagnostics and exit status 1.
//!
//! Every `run` case is also executed by the MIR interpreter, which must
//! agree with the native executable: two independent implementations.

use crate::support::{compare_or_bless, fixtures, lockstep, text, Fixture};
use lockstep_core::diagnostic::DiagnosticStyle;
use lockstep_core::mir::interp;

/// Builds and runs one fixture; returns it with expectations filled in
/// from what happened.
fn run_case(fixture: &Fixture) -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = tmp.path().join("proj");
    fixture.write_project(&project);
    let build = lockstep(tmp.path(), &["build", "proj", "-o", "exe"]);
    let mut actual = fixture.clone();
    if !build.status.success() {
        actual.set("build-error", text(&build.stderr));
        return actual;
    }
    actual.remove("build-error");
    let run = std::process::Command::new(tmp.path().join("exe")).output().expect("run exe");
    let status = run.status.code().unwrap_or(-1);
    actual.set("stdout", text(&run.stdout));
    actual.set("status", format!("{status}\n"));
    if run.stderr.is_empty() {
        actual.remove("stderr");
    } else {
        actual.set("stderr", text(&run.stderr));
    }

    // The interpreter is the second opinion.
    let checked = lockstep_core::lks::check_dir(&project, DiagnosticStyle::Short).expect("built, so it checks");
    let program = lockstep_core::lks::lower_program(&checked);
    let limits = interp::Limits { max_call_depth: 1_000_000, ..interp::Limits::default() };
    let outcome = interp::run(&program, &limits).expect("interpreter runs the program");
    assert_eq!(
        (text(&outcome.stdout), outcome.exit_status, text(&outcome.stderr)),
        (text(&run.stdout), status, text(&run.stderr)),
        "interpreter and executable disagree"
    );
    actual
}

fn check_case(fixture: &Fixture) -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    fixture.write_project(&tmp.path().join("proj"));
    let check = lockstep(tmp.path(), &["check", "proj"]);
    let build = lockstep(tmp.path(), &["build", "proj"]);
    assert_eq!(check.stderr, build.stderr, "`check` and `build` report the same errors");
    let mut actual = fixture.clone();
    actual.set("stderr", text(&check.stderr));
    actual.set("status", format!("{}\n", check.status.code().unwrap_or(-1)));
    assert_eq!(build.status.code(), check.status.code());
    actual
}

fn check_all(subdir: &str, case: fn(&Fixture) -> Fixture) {
    let mut failures = Vec::new();
    for path in fixtures(subdir) {
        let original = std::fs::read_to_string(&path).expect("read fixture");
        let fixture = Fixture::parse(&original);
        let actual = case(&fixture).render();
        failures.extend(compare_or_bless(&path, &original, &actual));
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn programs_run_with_expected_output() {
    check_all("run", run_case);
}

#[test]
fn malformed_programs_are_rejected_with_diagnostics() {
    check_all("err", check_case);
    // Every error case must fail in the documented format, never panic.
    for path in fixtures("err") {
        let fixture = Fixture::parse(&std::fs::read_to_string(&path).expect("read"));
        let stderr = fixture.get("stderr").unwrap_or("");
        assert_eq!(fixture.get("status"), Some("1\n"), "{}", path.display());
        assert!(!stderr.contains("panicked"), "{}: {stderr}", path.display());
        let first = stderr.lines().next().unwrap_or("");
        let mut parts = first.splitn(4, ':');
        let (file, line, col, rest) = (parts.next(), parts.next(), parts.next(), parts.next());
        assert!(
            file.is_some_and(|f| f.ends_with(".lks"))
                && line.is_some_and(|l| l.parse::<u32>().is_ok())
                && col.is_some_and(|c| c.parse::<u32>().is_ok())
                && rest.is_some_and(|r| r.starts_with(" error: ")),
            "{}: not FILE:LINE:COL: error: MESSAGE: {first}",
            path.display()
        );
    }
}
