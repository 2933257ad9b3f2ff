//! `--timings` and `--trace`: the page renders in a real browser with one
//! bar per codegen unit, the trace is well-formed trace-event JSON whose
//! spans nest per thread (what Perfetto requires), a replayed schedule
//! gives the identical trace, and neither changes an output byte.

use crate::support::{available_or_skipped, lockstep, text, workspace_root};
use lockstep_core::link::find_on_path;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh copy of `examples/tour`.
fn tour() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("tour");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for entry in std::fs::read_dir(workspace_root().join("examples/tour")).expect("examples/tour").flatten() {
        if entry.path().extension().is_some_and(|e| e == "lks") {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy");
        }
    }
    (tmp, dir)
}

fn build(dir: &Path, extra: &[&str]) -> (String, Value) {
    let report = dir.join("report.json");
    let mut args = vec!["build", dir.to_str().expect("utf-8 path"), "--report", report.to_str().expect("utf-8")];
    args.extend(extra);
    let out = lockstep(dir, &args);
    assert!(out.status.success(), "lockstep {args:?} failed:\n{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("report JSON");
    (text(&out.stderr), report)
}

/// Codegen units the report counts, plus the entry point's own object.
fn expected_bars(report: &Value) -> usize {
    let objects = &report["objects"];
    (objects["hits"].as_u64().expect("hits") + objects["misses"].as_u64().expect("misses")) as usize + 1
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// Headless Chromium, if installed: the distribution's `chromium`.
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"].into_iter().find_map(find_on_path)
}

/// Runs Chromium headless on `url` with `extra` flags, under a watchdog.
fn run_chromium(browser: &Path, profile: &Path, extra: &[String], url: &str) -> String {
    let child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let output = wait_with_watchdog(child, 90, &format!("chromium rendering {url}"));
    text(&output.stdout)
}

/// Waits for `child` at most `seconds`, then kills it and fails, naming
/// `what`: a hung tool fails the test instead of stalling CI.
fn wait_with_watchdog(mut child: std::process::Child, seconds: u64, what: &str) -> std::process::Output {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if child.try_wait().expect("wait for a child process").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not finish within {seconds} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("the child's output")
}

/// Perfetto's `trace_processor_shell`: `LOCKSTEP_TRACE_PROCESSOR`, or on
/// `PATH`. It has no distribution package, and the pip package `perfetto`
/// downloads it on first use; BENCHMARKS.md ("Seeing a build") says how it
/// was built where the download hosts are out of reach.
fn trace_processor() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LOCKSTEP_TRACE_PROCESSOR") {
        return Some(PathBuf::from(path));
    }
    ["trace_processor_shell", "trace_processor"].into_iter().find_map(find_on_path)
}

/// One row of `trace_processor_shell -q` output (CSV with a header line).
fn query_trace(processor: &Path, trace: &Path, sql: &str) -> Vec<String> {
    let query = trace.with_extension("sql");
    std::fs::write(&query, sql).expect("write the query");
    let child = Command::new(processor)
        .arg("-q")
        .arg(&query)
        .arg(trace)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start trace_processor_shell");
    let out = wait_with_watchdog(child, 120, "trace_processor_shell");
    assert!(out.status.success(), "trace_processor_shell failed on {}:\n{}", trace.display(), text(&out.stderr));
    let stdout = text(&out.stdout);
    let row = stdout.lines().filter(|l| !l.trim().is_empty()).nth(1).unwrap_or_else(|| panic!("no row in:\n{stdout}"));
    row.split(',').map(|field| field.trim_matches('"').to_string()).collect()
}

#[test]
fn the_trace_loads_in_perfettos_trace_processor() {
    let processor = trace_processor();
    let lacking = "no trace_processor_shell (LOCKSTEP_TRACE_PROCESSOR or PATH)";
    if !available_or_skipped(processor.is_some(), "LOCKSTEP_REQUIRE_TRACE_PROCESSOR", "the_trace_loads", lacking) {
        return;
    }
    let processor = processor.expect("checked above");
    // On threads (the wall clock) and under a fuzzed schedule (the logical clock).
    for extra in [&["-j", "2"][..], &["--schedule", "pct:5:3"][..]] {
        let (_tmp, dir) = tour();
        let trace = dir.join("trace.json");
        let mut args = extra.to_vec();
        args.extend(["--trace", trace.to_str().expect("utf-8")]);
        build(&dir, &args);
        let events: Value = serde_json::from_slice(&std::fs::read(&trace).expect("trace")).expect("trace JSON");
        let complete = events["traceEvents"].as_array().expect("events").iter().filter(|e| e["ph"] == "X").count();
        let row = query_trace(
            &processor,
            &trace,
            "select (select count(*) from slice) as slices, \
             (select count(*) from thread where name like 'codegen worker%') as workers, \
             (select count(*) from stats where value > 0 and severity in ('error', 'data_loss')) as problems, \
             (select group_concat(name || '=' || value, ' ') from stats \
                where value > 0 and severity in ('error', 'data_loss')) as which;",
        );
        assert_eq!(row[0], complete.to_string(), "{extra:?}: every complete event is a slice ({row:?})");
        assert!(row[1].parse::<usize>().is_ok_and(|n| n >= 1), "{extra:?}: the workers' thread names ({row:?})");
        assert_eq!(row[2], "0", "{extra:?}: import errors or data loss: {}", row[3]);
    }
}

#[test]
fn the_timings_page_shows_one_bar_per_unit_in_a_real_browser() {
    let (tmp, dir) = tour();
    let (stderr, report) = build(&dir, &["--timings", "-j", "2"]);
    let page_path = dir.join(".lockstep/timings/lockstep-timings.html");
    assert!(stderr.contains(&format!("timings: {}", page_path.display())), "the path is not printed:\n{stderr}");
    let page = std::fs::read_to_string(&page_path).expect("the timings page");
    let bars = expected_bars(&report);
    assert_eq!(count(&page, "<rect class=\"unit "), bars, "one bar per unit in the page source");
    assert!(page.contains("data-unit=\"$entry\""), "the entry point has its bar");
    for phase in ["read", "check", "hash", "plan", "codegen", "link"] {
        assert!(page.contains(&format!("data-phase=\"{phase}\"")), "phase `{phase}` missing");
    }
    for external in ["<script", " src=", " href=", "@import", "url("] {
        assert!(!page.contains(external), "the page must be self-contained, but has `{external}`");
    }

    let browser = chromium();
    let lacking = "no chromium is installed, for the browser half (apt-get install chromium)";
    if !available_or_skipped(browser.is_some(), "LOCKSTEP_REQUIRE_BROWSER", "the_timings_page", lacking) {
        return;
    }
    let browser = browser.expect("checked above");
    let url = format!("file://{}", page_path.display());
    let dom = run_chromium(&browser, &tmp.path().join("profile-dom"), &["--dump-dom".to_string()], &url);
    assert_eq!(count(&dom, "<rect class=\"unit "), bars, "one bar per unit in the rendered DOM");
    assert_eq!(count(&dom, "<tr><td>"), bars.min(20), "the slowest-units table");
    let shot = tmp.path().join("timings.png");
    let flags = [format!("--screenshot={}", shot.display()), "--window-size=1300,1000".to_string()];
    run_chromium(&browser, &tmp.path().join("profile-shot"), &flags, &url);
    let png = std::fs::read(&shot).expect("chromium wrote a screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot ({} bytes)", png.len());
}

/// Complete events on one thread must nest or be disjoint, or Perfetto
/// drops them; metadata names every thread that has events.
fn check_trace_events(trace: &Value) -> usize {
    let events = trace["traceEvents"].as_array().expect("traceEvents");
    let named: Vec<u64> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["tid"].as_u64().expect("tid"))
        .collect();
    let mut by_thread: std::collections::BTreeMap<u64, Vec<(u64, u64)>> = Default::default();
    for event in events.iter().filter(|e| e["ph"] == "X") {
        let (ts, dur, tid) = (event["ts"].as_u64(), event["dur"].as_u64(), event["tid"].as_u64());
        let (Some(ts), Some(dur), Some(tid)) = (ts, dur, tid) else {
            panic!("an X event without ts, dur or tid: {event}")
        };
        assert!(event["name"].is_string() && event["pid"].is_u64(), "{event}");
        assert!(named.contains(&tid), "thread {tid} has events but no name");
        by_thread.entry(tid).or_default().push((ts, ts + dur));
    }
    for (tid, spans) in &mut by_thread {
        spans.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut open: Vec<(u64, u64)> = Vec::new();
        for &(start, end) in spans.iter() {
            while open.last().is_some_and(|&(_, e)| e <= start) {
                open.pop();
            }
            if let Some(&(s, e)) = open.last() {
                assert!(end <= e, "thread {tid}: [{start}, {end}) overlaps [{s}, {e}) without nesting");
            }
            open.push((start, end));
        }
    }
    by_thread.values().map(Vec::len).sum()
}

#[test]
fn the_trace_is_well_formed_and_a_replayed_schedule_gives_the_same_trace() {
    let (_a, first) = tour();
    let (_b, second) = tour();
    let schedule = first.join("schedule.txt");
    let (trace1, trace2) = (first.join("trace.json"), second.join("trace.json"));
    build(
        &first,
        &[
            "--schedule",
            "random:11",
            "--schedule-trace",
            schedule.to_str().unwrap(),
            "--trace",
            trace1.to_str().unwrap(),
        ],
    );
    let (_, report) = build(
        &second,
        &["--replay-schedule", schedule.to_str().unwrap(), "--trace", trace2.to_str().unwrap(), "--timings=json"],
    );
    let (one, two) = (std::fs::read(&trace1).expect("trace 1"), std::fs::read(&trace2).expect("trace 2"));
    assert!(one == two, "a replayed schedule gave another trace");
    let trace: Value = serde_json::from_slice(&one).expect("trace JSON");
    assert!(check_trace_events(&trace) >= expected_bars(&report), "fewer events than units");
    let events = trace["traceEvents"].as_array().expect("events");
    let units = events.iter().filter(|e| e["cat"] == "codegen").count();
    assert_eq!(units, expected_bars(&report), "one codegen event per unit");
    for category in ["phase", "link", "cache-read", "cache-write"] {
        assert!(events.iter().any(|e| e["cat"] == category), "no `{category}` events");
    }
    let json: Value = serde_json::from_slice(
        &std::fs::read(second.join(".lockstep/timings/lockstep-timings.json")).expect("--timings=json"),
    )
    .expect("timings JSON");
    assert_eq!(json["clock"], "logical");
    assert_eq!(json["spans"].as_array().map(|s| s.iter().filter(|s| s["category"] == "codegen").count()), Some(units));
}

#[test]
fn timings_and_trace_change_no_output_byte() {
    let (_a, plain) = tour();
    let (_b, traced) = tour();
    build(&plain, &["-j", "2"]);
    let trace = traced.join("trace.json");
    build(&traced, &["-j", "2", "--timings", "--trace", trace.to_str().unwrap()]);
    let exe = |dir: &Path| std::fs::read(dir.join(".lockstep/out/tour")).expect("the executable");
    assert!(exe(&plain) == exe(&traced), "--timings/--trace changed the executable");
}
