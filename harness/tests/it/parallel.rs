//! The parallel pipeline is reproducible: the same bytes for any worker
//! count and any schedule the fuzzed scheduler picks; every recorded
//! schedule respects dependencies and the ordered link queue; a recorded
//! schedule replays exactly; an injected codegen failure skips exactly what
//! depends on it; concurrent builds can share one cache.
//!
//! `LOCKSTEP_SCHEDULES=N` sets how many random and how many PCT schedules
//! run (default 100 each).

use crate::support::{lockstep, text};
use lockstep_core::driver::{self, BuildOptions, Scheduling};
use lockstep_core::engine::session::CguMode;
use lockstep_harness::program::{generate, GenConfig};
use lockstep_scheduler::fuzz::{Schedule, Strategy};
use std::path::Path;

fn schedules_per_strategy() -> u64 {
    std::env::var("LOCKSTEP_SCHEDULES").ok().and_then(|v| v.parse().ok()).unwrap_or(100)
}

/// Builds `project` with a fresh cache (so every unit is code-generated and
/// the schedule has real choices) and returns (executable, schedule).
fn build_fresh(
    project: &Path,
    scratch: &Path,
    tag: &str,
    configure: impl FnOnce(&mut BuildOptions),
) -> (Vec<u8>, Option<String>) {
    let mut options = BuildOptions::new(project);
    options.cache_dir = Some(scratch.join(format!("cache-{tag}")));
    options.output = Some(scratch.join(format!("exe-{tag}")));
    configure(&mut options);
    let report = driver::build(&options).unwrap_or_else(|e| panic!("{tag}: {e}"));
    let bytes = std::fs::read(options.output_path()).expect("executable");
    let _ = std::fs::remove_dir_all(scratch.join(format!("cache-{tag}")));
    (bytes, report.schedule)
}

fn generated_project(dir: &Path, seed: u64) {
    generate(seed, &GenConfig::small()).write_lks(dir).expect("write program");
}

/// Checks a recorded schedule against the pipeline's rules: a module's
/// object is linked only after all its units are done, link steps run in
/// module order with the entry and then the program last, and nothing
/// is done before it started.
fn check_schedule(schedule: &str, modules: &[String]) {
    let steps: Schedule = schedule.parse().expect("schedule parses");
    let mut started = std::collections::BTreeSet::new();
    let mut done = std::collections::BTreeSet::new();
    let mut links = Vec::new();
    for step in steps.steps() {
        let (kind, rest) = step.split_once('(').expect("kind(label)");
        let label = rest.strip_suffix(')').expect("closing paren").to_string();
        match kind {
            "codegen" => assert!(started.insert(label), "{step} twice"),
            "done" => {
                assert!(started.contains(&label), "{step} before it started");
                done.insert(label);
            }
            "link" => {
                if let Some(module) = label.strip_suffix(".o") {
                    for unit in &started {
                        let unit_module = unit.split("::").next().unwrap_or(unit);
                        if unit_module == module {
                            assert!(done.contains(unit), "{step} before done({unit})");
                        }
                    }
                }
                links.push(label);
            }
            other => panic!("unknown event {other}"),
        }
    }
    let mut expected: Vec<String> = modules.iter().map(|m| format!("{m}.o")).collect();
    expected.push("$entry.o".to_string());
    expected.push("program".to_string());
    assert_eq!(links, expected, "link steps in canonical order");
}

fn module_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| {
            let p = e.ok()?.path();
            if p.extension()? != "lks" {
                return None;
            }
            Some(p.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}

#[test]
fn identical_bytes_for_any_worker_count_and_schedule() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = tmp.path().join("proj");
    generated_project(&project, 11);
    let modules = module_names(&project);
    let (reference, _) = build_fresh(&project, tmp.path(), "j1", |o| o.jobs = Some(1));
    for jobs in [2, 8] {
        let (bytes, _) = build_fresh(&project, tmp.path(), &format!("j{jobs}"), |o| o.jobs = Some(jobs));
        assert!(bytes == reference, "-j{jobs} differs from -j1");
    }
    for seed in 0..schedules_per_strategy() {
        for strategy in [Strategy::Random { seed }, Strategy::Pct { seed, depth: 1 + (seed % 3) as u32 }] {
            let tag = format!("{strategy}").replace(':', "-");
            let (bytes, schedule) = build_fresh(&project, tmp.path(), &tag, |o| {
                o.scheduling = Scheduling::Fuzzed(strategy.clone());
                o.virtual_workers = 1 + (seed % 3) as usize;
            });
            assert!(bytes == reference, "{strategy} differs from -j1");
            check_schedule(&schedule.expect("fuzzed builds record a schedule"), &modules);
        }
    }
}

#[test]
fn same_seed_same_schedule_and_replay_reproduces_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = tmp.path().join("proj");
    generated_project(&project, 5);
    for cgu in [CguMode::Module, CguMode::Function, CguMode::Partition { size: 3 }] {
        let strategy = Strategy::Pct { seed: 42, depth: 3 };
        let fuzzed = |tag: &str, strategy: Strategy| {
            build_fresh(&project, tmp.path(), tag, |o| {
                o.scheduling = Scheduling::Fuzzed(strategy);
                o.virtual_workers = 3;
                o.cgu = cgu;
            })
        };
        let (first_bytes, first) = fuzzed("a", strategy.clone());
        let (second_bytes, second) = fuzzed("b", strategy.clone());
        assert_eq!(first, second, "same seed, same schedule");
        // Again with "a", whose previous build left its manifest behind:
        // what a build remembers must not steer the seed's choices.
        let (_, again) = fuzzed("a", strategy);
        assert_eq!(again, first, "same seed, same schedule, whatever the previous build left");
        assert!(first_bytes == second_bytes);
        let recorded: Schedule = first.clone().expect("schedule").parse().expect("parses");
        let (replayed_bytes, replayed) = fuzzed("c", Strategy::Replay(recorded));
        assert_eq!(replayed, first, "replay records the same schedule");
        assert!(replayed_bytes == first_bytes);
    }
}

#[test]
fn an_injected_failure_skips_exactly_its_dependents() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = tmp.path().join("proj");
    generated_project(&project, 23);
    let modules = module_names(&project);
    let victim_module = modules.iter().find(|m| *m != "main").expect("a non-main module").clone();
    let source = std::fs::read_to_string(project.join(format!("{victim_module}.lks"))).expect("read");
    let victim_fn = source
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("pub fn ").or_else(|| l.trim_start().strip_prefix("fn ")))
        .and_then(|rest| rest.split('(').next())
        .expect("a function")
        .to_string();
    let fault = format!("codegen:{victim_module}::{victim_fn}");
    let cache = tmp.path().join("cache");
    let out = lockstep(
        tmp.path(),
        &["build", "proj", "-o", "exe", "--cache-dir", "cache", "--report", "r.json", "--inject-fault", &fault],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("r.json")).expect("report")).expect("json");
    assert_eq!(report["status"], "failed");
    assert_eq!(report["failed"][0]["function"], format!("{victim_module}::{victim_fn}"));
    let mut expected_skipped = vec![format!("{victim_module}.o"), "program".to_string()];
    expected_skipped.sort();
    assert_eq!(report["skipped"], serde_json::json!(expected_skipped), "exactly its dependents");
    // Codegen units are partitions of modules (`MODULE#N`): the failed one
    // is the victim's, and every other module's were built.
    let failed_unit = report["failed"][0]["unit"].as_str().expect("the failed unit").to_string();
    assert!(failed_unit.starts_with(&format!("{victim_module}#")), "{failed_unit}");
    let built: Vec<&str> =
        report["codegened_units"].as_array().expect("units").iter().filter_map(|u| u.as_str()).collect();
    assert!(!built.contains(&failed_unit.as_str()), "{built:?}");
    for other in modules.iter().filter(|m| **m != victim_module) {
        assert!(built.contains(&format!("{other}#0").as_str()), "everything independent was built: {built:?}");
    }
    assert!(!tmp.path().join("exe").exists(), "no executable from a failed build");

    // Without the fault: only the failed unit is left to build, and the
    // result equals a clean build.
    let out = lockstep(tmp.path(), &["build", "proj", "-o", "exe", "--cache-dir", "cache", "--report", "r.json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("r.json")).expect("report")).expect("json");
    assert_eq!(report["codegened_units"], serde_json::json!([failed_unit]));
    let incremental = std::fs::read(tmp.path().join("exe")).expect("exe");
    let _ = std::fs::remove_dir_all(&cache);
    let files: Vec<(String, String)> = modules
        .iter()
        .map(|m| (format!("{m}.lks"), std::fs::read_to_string(project.join(format!("{m}.lks"))).expect("read")))
        .collect();
    assert!(incremental == crate::incremental::clean_build(&files, &[]), "equal to a clean build");
}

#[test]
fn concurrent_builds_share_one_cache() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = tmp.path().join("proj");
    generated_project(&project, 3);
    for round in 0..20 {
        let cache = tmp.path().join(format!("cache-{round}"));
        let spawn = |out: &str, extra: &[&str]| {
            let mut args = vec!["build".to_string(), "proj".into(), "-o".into(), out.into(), "--cache-dir".into()];
            args.push(cache.display().to_string());
            args.extend(extra.iter().map(|s| s.to_string()));
            std::process::Command::new(crate::support::lockstep_bin())
                .args(&args)
                .current_dir(tmp.path())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        };
        // Same configuration into two outputs, plus one release build, all at once.
        let children = [spawn("exe-a", &[]), spawn("exe-b", &[]), spawn("exe-r", &["--release"])];
        for child in children {
            let out = child.wait_with_output().expect("wait");
            assert!(out.status.success(), "round {round}: {}", text(&out.stderr));
        }
        let a = std::fs::read(tmp.path().join("exe-a")).expect("a");
        let b = std::fs::read(tmp.path().join("exe-b")).expect("b");
        assert!(a == b, "round {round}: concurrent builds disagree");
        let _ = std::fs::remove_dir_all(&cache);
    }
}
