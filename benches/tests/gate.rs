//! The regression gate on criterion-shaped fixtures: each case lays out
//! `DIR/<group>/<function>/{BASELINE,new}/` as criterion 0.8 does, runs the
//! comparison, and checks every benchmark's verdict and the exit status.

use lockstep_benches::gate::{compare, GateOptions, Report, Verdict};
use std::path::Path;
use std::time::{Duration, SystemTime};

const BASELINE: &str = "before";

/// One benchmark's medians in nanoseconds; `None`: that side has no file.
struct Bench {
    id: &'static str,
    baseline: Option<f64>,
    new: Option<f64>,
}

fn bench(id: &'static str, baseline: Option<f64>, new: Option<f64>) -> Bench {
    Bench { id, baseline, new }
}

/// Both sides present, `new` measured after the baseline was saved.
fn both(id: &'static str, baseline: f64, new: f64) -> Bench {
    bench(id, Some(baseline), Some(new))
}

/// Writes one side of a benchmark as criterion does, dated `modified`.
fn write_side(dir: &Path, id: &str, median_ns: f64, modified: SystemTime) {
    std::fs::create_dir_all(dir).unwrap();
    let estimate = |v: f64| {
        format!(
            r#"{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":{lo},"upper_bound":{hi}}},"point_estimate":{v},"standard_error":1.0}}"#,
            lo = v * 0.99,
            hi = v * 1.01
        )
    };
    let estimates = format!(
        r#"{{"mean":{m},"median":{median},"median_abs_dev":{d},"slope":null,"std_dev":{d}}}"#,
        m = estimate(median_ns * 1.02),
        median = estimate(median_ns),
        d = estimate(median_ns / 50.0)
    );
    let (group, function) = id.split_once('/').unwrap();
    let benchmark = format!(
        r#"{{"group_id":"{group}","function_id":"{function}","value_str":null,"throughput":null,"full_id":"{id}","directory_name":"{group}/{safe}","title":"{id}"}}"#,
        safe = function.replace('/', "_")
    );
    for (file, text) in [("estimates.json", estimates), ("benchmark.json", benchmark)] {
        std::fs::write(dir.join(file), text).unwrap();
        std::fs::File::options().write(true).open(dir.join(file)).unwrap().set_modified(modified).unwrap();
    }
}

/// Criterion's directory for `id`: the group, then the function made
/// file-name safe.
fn bench_dir(root: &Path, id: &str) -> std::path::PathBuf {
    let (group, function) = id.split_once('/').unwrap();
    root.join(group).join(function.replace('/', "_"))
}

fn fixture(root: &Path, benches: &[Bench]) {
    let saved = SystemTime::now() - Duration::from_secs(600);
    let rerun = saved + Duration::from_secs(60);
    for b in benches {
        let dir = bench_dir(root, b.id);
        if let Some(ns) = b.baseline {
            write_side(&dir.join(BASELINE), b.id, ns, saved);
        }
        if let Some(ns) = b.new {
            write_side(&dir.join("new"), b.id, ns, rerun);
        }
    }
    // Criterion's HTML and other baselines, which the gate must pass over.
    std::fs::create_dir_all(root.join("report")).unwrap();
    std::fs::write(root.join("report").join("index.html"), "<html></html>").unwrap();
}

/// Runs the gate over `benches` and checks each verdict (by id) and the
/// exit status; returns the report for further checks.
fn check(threshold: f64, benches: &[Bench], verdicts: &[(&str, Verdict)], exit: i32) -> Report {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), benches);
    let mut options = GateOptions::new(BASELINE);
    options.threshold_percent = threshold;
    let report = compare(dir.path(), &options).unwrap();
    let got: Vec<(&str, &Verdict)> = report.rows.iter().map(|r| (r.id.as_str(), &r.verdict)).collect();
    let want: Vec<(&str, &Verdict)> = verdicts.iter().map(|(id, v)| (*id, v)).collect();
    assert_eq!(got, want, "verdicts\n{}", report.render());
    assert_eq!(report.exit_code(), exit, "exit status\n{}", report.render());
    report
}

#[test]
fn no_change_passes() {
    let report = check(10.0, &[both("clean/partition", 1.5e9, 1.5e9)], &[("clean/partition", Verdict::Ok)], 0);
    assert!(report.render().contains("bench-gate: pass: 1 benchmarks within +10%"), "{}", report.render());
}

#[test]
fn nine_percent_slower_passes_at_ten() {
    check(10.0, &[both("incremental/noop/partition", 1e6, 1.09e6)], &[("incremental/noop/partition", Verdict::Ok)], 0);
}

#[test]
fn twenty_percent_slower_fails_and_is_named() {
    let report = check(
        10.0,
        &[both("revert/partition", 2e7, 2.4e7), both("revert/module", 2e7, 2.02e7)],
        &[("revert/module", Verdict::Ok), ("revert/partition", Verdict::Regressed)],
        1,
    );
    let text = report.render();
    assert!(text.contains("+20.0%"), "{text}");
    assert!(text.contains("20.00 ms") && text.contains("24.00 ms"), "{text}");
    assert!(text.contains("FAIL: 1 of 2 benchmarks") && text.ends_with("revert/partition\n"), "{text}");
}

#[test]
fn faster_passes() {
    check(10.0, &[both("jobs/2", 3e9, 1.7e9)], &[("jobs/2", Verdict::Ok)], 0);
}

#[test]
fn threshold_is_configurable() {
    check(25.0, &[both("jobs/1", 1e9, 1.2e9)], &[("jobs/1", Verdict::Ok)], 0);
    check(5.0, &[both("jobs/1", 1e9, 1.09e9)], &[("jobs/1", Verdict::Regressed)], 1);
    // At the threshold exactly (1.25 is exact in binary) is not above it.
    check(25.0, &[both("jobs/1", 1e9, 1.25e9)], &[("jobs/1", Verdict::Ok)], 0);
    check(0.0, &[both("jobs/1", 1e9, 1e9)], &[("jobs/1", Verdict::Ok)], 0);
}

#[test]
fn missing_counterparts_are_reported_not_fatal() {
    let report = check(
        10.0,
        &[
            both("layer1/read_decode", 1e6, 1.01e6),
            bench("layer1/lower_encode", None, Some(3e6)),
            bench("opt_switch/release_after_debug", Some(4e8), None),
        ],
        &[
            ("layer1/lower_encode", Verdict::NoBaseline),
            ("layer1/read_decode", Verdict::Ok),
            ("opt_switch/release_after_debug", Verdict::NoNewRun),
        ],
        0,
    );
    let text = report.render();
    assert!(text.contains("no baseline") && text.contains("not run") && text.contains("2 not compared"), "{text}");
}

#[test]
fn nothing_compared_is_an_error() {
    check(10.0, &[bench("a/only_new", None, Some(1e6))], &[("a/only_new", Verdict::NoBaseline)], 2);
    let empty = tempfile::tempdir().unwrap();
    let report = compare(empty.path(), &GateOptions::new(BASELINE)).unwrap();
    assert_eq!(report.exit_code(), 2);
    assert!(compare(&empty.path().join("absent"), &GateOptions::new(BASELINE)).is_err());
    assert!(compare(empty.path(), &GateOptions::new("new")).is_err(), "`new` is criterion's own directory");
}

#[test]
fn results_older_than_the_baseline_are_stale() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), &[both("incremental/noop/partition", 1e6, 2e6)]);
    let new = bench_dir(dir.path(), "incremental/noop/partition").join("new").join("estimates.json");
    let old = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&new).unwrap().set_modified(old).unwrap();
    let report = compare(dir.path(), &GateOptions::new(BASELINE)).unwrap();
    assert_eq!(report.rows[0].verdict, Verdict::Stale, "{}", report.render());
    assert_eq!(report.exit_code(), 2, "a stale run guards nothing");
}

#[test]
fn unreadable_estimates_fail_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), &[both("clean/module", 1e9, 1e9), both("clean/function", 1e9, 1e9)]);
    std::fs::write(bench_dir(dir.path(), "clean/function").join("new").join("estimates.json"), "{").unwrap();
    let report = compare(dir.path(), &GateOptions::new(BASELINE)).unwrap();
    assert!(matches!(report.rows[0].verdict, Verdict::Unreadable(_)), "{}", report.render());
    assert_eq!(report.rows[1].verdict, Verdict::Ok);
    assert_eq!(report.exit_code(), 2);
}

#[test]
fn filter_selects_by_id() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), &[both("revert/partition", 1e6, 1e6), both("clean/partition", 1e9, 2e9)]);
    let mut options = GateOptions::new(BASELINE);
    options.filter = Some("revert/".to_string());
    let report = compare(dir.path(), &options).unwrap();
    assert_eq!(report.rows.len(), 1);
    assert_eq!(report.exit_code(), 0, "the regressed clean build is filtered out");
}

#[test]
fn the_binary_prints_the_table_and_exits_one_on_a_regression() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), &[both("revert/partition", 1e6, 1.3e6), both("noop/partition", 1e6, 1e6)]);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_bench-gate"))
            .args(args)
            .arg("--criterion-dir")
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let out = run(&["--baseline", BASELINE]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("revert/partition") && l.contains("REGRESSED")), "{stdout}");
    assert_eq!(run(&["--baseline", BASELINE, "--threshold", "50"]).status.code(), Some(0));
    assert_eq!(run(&["--baseline", BASELINE, "--filter", "noop"]).status.code(), Some(0));
    assert_eq!(run(&["--threshold", "10"]).status.code(), Some(2), "no baseline named");
    assert_eq!(run(&["--baseline", BASELINE, "--threshold", "ten"]).status.code(), Some(2));
}
