//! The oracles and fault primitives of `lockstep verify`
//! (`lockstep_harness::verify`), each shown able to fail: an edited
//! workspace equals a clean build and recompiles exactly the edit; a byte
//! flipped in `.text` is named by section; syncing sources deletes and
//! leaves alone what it should; damage, kills, races and injected
//! failures are survived; fuzzed and guided builds record replayable
//! schedules; the C oracle compiles each source once.
//!
//! Every wait on a child process is bounded (the primitives' own
//! watchdogs, or a timeout here). Programs are `GenConfig::small()`.

use crate::support::lockstep_bin;
use lockstep_harness::program::{generate, GenConfig, GeneratedProgram};
use lockstep_harness::verify::{
    check_injected_failure, clean_build, compare_artifacts, compare_behaviour, damage_work_dir, injected_failure,
    interpret_project, kill_build, race_builds, run_c, run_executable, ArtifactDiff, Artifacts, BuildConfig,
    BuildExtras, CCache, DamageKind, DifferencePlace, Workspace,
};
use lockstep_scheduler::fuzz::{shrink, Schedule, Strategy};
use object::{Object, ObjectSection};
use std::path::Path;
use std::time::Duration;

/// How long a generated program may run.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// The configurations fault tests cycle through, one per round: every CGU
/// mode, both opt levels, LTO, one and two workers.
const FAULT_CONFIGS: [&str; 4] =
    ["debug cgu=partition:16 j=2", "debug cgu=function j=2", "release lto cgu=module j=1", "debug cgu=partition:2 j=2"];

/// Rounds per fault test: `default`, or `LOCKSTEP_FAULT_ROUNDS` for a deep run.
fn fault_rounds(default: u64) -> u64 {
    std::env::var("LOCKSTEP_FAULT_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn fault_config(round: u64) -> BuildConfig {
    FAULT_CONFIGS[round as usize % FAULT_CONFIGS.len()].parse().expect("a valid configuration")
}

fn program(seed: u64) -> GeneratedProgram {
    generate(seed, &GenConfig::small())
}

/// A workspace under `dir` holding `files`.
fn workspace_with(dir: &Path, files: &[(String, String)]) -> Workspace {
    let workspace = Workspace::create(dir.join("ws")).expect("workspace");
    workspace.sync_sources(files).expect("sync");
    workspace
}

/// Builds the workspace and returns its artifacts, failing the test with
/// the build's error otherwise.
fn built(workspace: &Workspace, config: &BuildConfig, extras: &BuildExtras, what: &str) -> Artifacts {
    let outcome = workspace.build(config, extras);
    assert!(outcome.succeeded(), "{what}: {:?} {:?}", outcome.error, outcome.panic);
    workspace.artifacts(config).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// The clean build's artifacts for `files`.
fn reference(files: &[(String, String)], config: &BuildConfig, scratch: &Path) -> Artifacts {
    let (outcome, artifacts) = clean_build(files, config, scratch).expect("clean build runs");
    assert!(outcome.succeeded(), "clean build: {:?}", outcome.error);
    artifacts.expect("a successful clean build has artifacts")
}

fn assert_equal_to_clean(incremental: &Artifacts, clean: &Artifacts, what: &str) {
    if let Err(diff) = compare_artifacts(incremental, clean) {
        panic!("{what}: the build differs from a clean build: {diff}");
    }
}

/// A non-main module of the program.
fn some_library_module(files: &[(String, String)]) -> &str {
    files.iter().map(|(name, _)| name.as_str()).find(|name| *name != "main").expect("a non-main module")
}

/// `files` with a private function appended to `module`, returning `value`.
fn with_extra_function(files: &[(String, String)], module: &str, value: i64) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(name, text)| {
            let text = if name == module {
                format!("{text}\nfn verify_extra() -> i64 {{ return {value}; }}\n")
            } else {
                text.clone()
            };
            (name.clone(), text)
        })
        .collect()
}

#[test]
fn an_edited_workspace_equals_a_clean_build_and_recompiles_the_edit_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = BuildConfig::default();
    let files = program(31).files;
    let workspace = workspace_with(tmp.path(), &files);
    let first = workspace.build(&config, &BuildExtras::default());
    assert!(first.succeeded(), "{:?}", first.error);
    let module = some_library_module(&files).to_string();
    // Two steps: a function appears, then its body changes.
    for (step, value) in [(1, 7), (2, 8)] {
        let edited = with_extra_function(&files, &module, value);
        workspace.sync_sources(&edited).expect("sync");
        let outcome = workspace.build(&config, &BuildExtras::default());
        assert!(outcome.succeeded(), "step {step}: {:?}", outcome.error);
        assert_eq!(outcome.report.recompiled_functions, [format!("{module}::verify_extra")], "step {step}");
        assert_eq!(outcome.reproduction(), None, "threads record no schedule");
        let incremental = workspace.artifacts(&config).expect("artifacts");
        assert_equal_to_clean(&incremental, &reference(&edited, &config, tmp.path()), &format!("step {step}"));
        eprintln!("step {step}: in-process incremental build {:?}", outcome.elapsed);
    }
    // The stale artifacts of step 1 are not the clean build of step 2.
    let step1 = reference(&with_extra_function(&files, &module, 7), &config, tmp.path());
    let now = workspace.artifacts(&config).expect("artifacts");
    assert!(matches!(compare_artifacts(&now, &step1), Err(ArtifactDiff::Unit { .. })), "the oracle sees the edit");
}

/// The file range of the first non-empty section whose name starts with `.text`.
fn text_section(bytes: &[u8]) -> (String, u64, u64) {
    let file = object::File::parse(bytes).expect("an ELF file");
    let section = file
        .sections()
        .find(|s| s.name().is_ok_and(|n| n.starts_with(".text")) && s.size() > 0)
        .expect("a .text section");
    let (start, len) = section.file_range().expect("it has file contents");
    (section.name().expect("named").to_string(), start, len)
}

#[test]
fn compare_artifacts_names_the_section_with_a_flipped_byte() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = BuildConfig::default();
    let workspace = workspace_with(tmp.path(), &program(32).files);
    let clean = built(&workspace, &config, &BuildExtras::default(), "build");
    assert_eq!(compare_artifacts(&clean, &clean.clone()), Ok(()));

    // A unit's object.
    let (unit, object) =
        clean.objects.iter().next().map(|(u, o)| (u.clone(), o.bytes.clone().expect("bytes"))).expect("units");
    let (section, start, len) = text_section(&object);
    let mut damaged = clean.clone();
    let at = start + len / 2;
    damaged.objects.get_mut(&unit).and_then(|o| o.bytes.as_mut()).expect("unit")[at as usize] ^= 0x10;
    let diff = compare_artifacts(&damaged, &clean).expect_err("a flipped byte differs");
    match &diff {
        ArtifactDiff::Unit { unit: named, difference } => {
            assert_eq!(named, &unit);
            assert_eq!(
                difference.place,
                DifferencePlace::Section { name: section.clone(), offset: len / 2, differing_sections: 1 }
            );
        }
        other => panic!("expected a unit difference, got {other:?}"),
    }
    let line = diff.to_string();
    assert!(line.contains(&format!("unit `{unit}`")) && line.contains(&format!("section `{section}`")), "{line}");

    // The executable, when every unit is equal.
    let (section, start, _) = text_section(&clean.exe);
    let mut damaged = clean.clone();
    damaged.exe[(start + 3) as usize] ^= 0x01;
    match compare_artifacts(&damaged, &clean) {
        Err(ArtifactDiff::Executable { difference }) => {
            assert_eq!(difference.place, DifferencePlace::Section { name: section, offset: 3, differing_sections: 1 });
        }
        other => panic!("expected an executable difference, got {other:?}"),
    }

    // A unit missing from one side.
    let mut fewer = clean.clone();
    fewer.objects.remove(&unit);
    match compare_artifacts(&fewer, &clean) {
        Err(ArtifactDiff::UnitSet { only_incremental, only_clean }) => {
            assert!(only_incremental.is_empty());
            assert_eq!(only_clean, [unit]);
        }
        other => panic!("expected a unit set difference, got {other:?}"),
    }
}

#[test]
fn sync_sources_deletes_removed_modules_and_leaves_unchanged_files_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let workspace = Workspace::create(tmp.path().join("ws")).expect("workspace");
    let file = |name: &str, text: &str| (name.to_string(), text.to_string());
    let first = [file("a", "fn a() {}\n"), file("b", "fn b() {}\n"), file("main", "fn main() {}\n")];
    let sync = workspace.sync_sources(&first).expect("sync");
    assert_eq!(sync.written, ["a", "b", "main"]);

    // Stamp every file with an old time: a rewrite, even of the same
    // bytes, would give it the current one.
    let old = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let project = workspace.project_dir();
    for name in ["a", "b", "main"] {
        let handle = std::fs::File::options().append(true).open(project.join(format!("{name}.lks"))).expect("open");
        handle.set_modified(old).expect("set mtime");
    }
    std::fs::write(project.join("notes.txt"), "not a module").expect("write");
    let second = [file("a", "fn a() {}\n"), file("c", "fn c() {}\n"), file("main", "fn main() { }\n")];
    let sync = workspace.sync_sources(&second).expect("sync");
    assert_eq!(
        (sync.written, sync.deleted, sync.unchanged),
        (vec!["c".into(), "main".into()], vec!["b".into()], vec!["a".into()])
    );
    let modified = |name: &str| std::fs::metadata(project.join(name)).expect("stat").modified().expect("mtime");
    assert_eq!(modified("a.lks"), old, "an unchanged module is not rewritten");
    assert_ne!(modified("main.lks"), old, "a changed module is rewritten");
    assert!(!project.join("b.lks").exists(), "a removed module is deleted");
    assert!(project.join("notes.txt").exists(), "only modules are managed");
    assert_eq!(workspace.sources().expect("read"), second.to_vec());

    for bad in [file("../escape", ""), file("", ""), file("dir/m", "")] {
        assert!(workspace.sync_sources(std::slice::from_ref(&bad)).is_err(), "{bad:?} is refused");
    }
    assert!(workspace.sync_sources(&[file("a", "1"), file("a", "2")]).is_err(), "a module listed twice is refused");
}

#[test]
fn damage_is_chosen_by_the_seed_and_never_touches_sources() {
    // Two identical trees of build state, no build needed.
    let tmp = tempfile::tempdir().expect("tempdir");
    let make = |name: &str| {
        let workspace = Workspace::create(tmp.path().join(name)).expect("workspace");
        workspace.sync_sources(&[("main".to_string(), "fn main() {}\n".to_string())]).expect("sync");
        for (dir, count) in [(workspace.cache_dir().join("obj"), 6), (workspace.work_dir().join("objects"), 4)] {
            std::fs::create_dir_all(&dir).expect("mkdir");
            for i in 0..count {
                std::fs::write(dir.join(format!("{i}.bin")), vec![i as u8; 64]).expect("write");
            }
        }
        std::fs::write(workspace.work_dir().join("empty"), b"").expect("write");
        workspace
    };
    let mut kinds = std::collections::BTreeSet::new();
    for seed in 0..40 {
        let (a, b) = (make(&format!("a{seed}")), make(&format!("b{seed}")));
        let damage = damage_work_dir(&a, &BuildConfig::default(), seed);
        assert_eq!(
            damage,
            damage_work_dir(&b, &BuildConfig::default(), seed),
            "seed {seed}: the same state, the same damage"
        );
        assert!((1..=3).contains(&damage.len()), "seed {seed}: {damage:?}");
        for d in &damage {
            assert!(d.path.starts_with("cache/") || d.path.starts_with("project/.lockstep/"), "{d}");
            kinds.insert(match d.kind {
                DamageKind::FlippedByte { .. } => "flip",
                DamageKind::Truncated { .. } => "truncate",
                DamageKind::Deleted => "delete",
            });
            if let DamageKind::Truncated { from, to } = d.kind {
                assert!(to < from, "{d}");
            }
        }
        assert_eq!(std::fs::read_to_string(a.project_dir().join("main.lks")).expect("source"), "fn main() {}\n");
    }
    assert_eq!(kinds.len(), 3, "flips, truncations and deletions all happen");
}

#[test]
fn damaged_build_state_then_a_rebuild_equals_a_clean_build() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let files = program(33).files;
    let module = some_library_module(&files).to_string();
    let workspace = workspace_with(tmp.path(), &files);
    for round in 0..fault_rounds(6) {
        let config = fault_config(round);
        built(&workspace, &config, &BuildExtras::default(), &format!("round {round}: {config}"));
        let damage = damage_work_dir(&workspace, &config, round);
        assert!(!damage.is_empty(), "round {round}: something to damage");
        let damage: Vec<String> = damage.iter().map(|d| d.to_string()).collect();
        let mut what = format!("round {round} ({config}) after {}", damage.join(", "));
        // Every other round edits too, so the rebuild cannot be up to
        // date and must work on the damaged state.
        let sources = if round % 2 == 1 {
            what.push_str(" and an edit");
            with_extra_function(&files, &module, round as i64)
        } else {
            files.clone()
        };
        workspace.sync_sources(&sources).expect("sync");
        let incremental = built(&workspace, &config, &BuildExtras::default(), &what);
        assert_equal_to_clean(&incremental, &reference(&sources, &config, tmp.path()), &what);
    }
}

/// Prepares round `round` of a kill or race test: even rounds start cold
/// from `files`, odd rounds warm (the previous round's state) with an
/// edit, so the interrupted or raced build is an incremental one. Returns
/// the sources to build.
fn start_round(workspace: &Workspace, files: &[(String, String)], round: u64) -> Vec<(String, String)> {
    if round.is_multiple_of(2) {
        workspace.forget_builds().expect("forget");
        workspace.sync_sources(files).expect("sync");
        files.to_vec()
    } else {
        let edited = with_extra_function(files, some_library_module(files), round as i64);
        workspace.sync_sources(&edited).expect("sync");
        edited
    }
}

#[test]
fn a_killed_build_leaves_nothing_a_later_build_trips_on() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let files = program(34).files;
    let workspace = workspace_with(tmp.path(), &files);
    for round in 0..fault_rounds(3) {
        let config = fault_config(round);
        let sources = start_round(&workspace, &files, round);
        let (clean_outcome, clean) = clean_build(&sources, &config, tmp.path()).expect("clean build");
        let clean = clean.expect("clean artifacts");
        eprintln!("clean build ({config}, -j1, in-process): {:?}", clean_outcome.elapsed);
        // The first kill, at 0 ms, always lands; the others land somewhere
        // in the build (a clean build's time is an upper bound).
        let max_delay = if round == 0 { Duration::ZERO } else { clean_outcome.elapsed };
        let kill = kill_build(&workspace, &config, &lockstep_bin(), round, max_delay);
        let what = format!("round {round} ({config}), killed after {:?}: {}", kill.delay, kill.child);
        eprintln!("{what}");
        assert!(!kill.panicked(), "{what}");
        assert!(kill.killed() || kill.child.succeeded(), "{what}");
        if max_delay.is_zero() {
            assert!(kill.killed(), "a kill at 0 ms lands: {what}");
        }
        let incremental = built(&workspace, &config, &BuildExtras::default(), &what);
        assert_equal_to_clean(&incremental, &clean, &what);
    }
}

#[test]
fn racing_builds_neither_panic_nor_wedge() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let files = program(35).files;
    let workspace = workspace_with(tmp.path(), &files);
    let mut shared = std::collections::BTreeSet::new();
    for seed in 0..fault_rounds(3) {
        let config = fault_config(seed);
        // Cold rounds race on writing the same cache entries, staged
        // objects and manifest; warm ones on an incremental build.
        let sources = start_round(&workspace, &files, seed);
        let clean = reference(&sources, &config, tmp.path());
        let race = race_builds(&workspace, &config, &lockstep_bin(), seed);
        shared.insert(race.shared_output);
        let what = format!(
            "race seed {seed} ({config}, {:?} apart, shared output {}): {} / {}",
            race.stagger, race.shared_output, race.first, race.second
        );
        eprintln!("{what}");
        assert!(!race.panicked() && !race.wedged(), "{what}");
        assert!(race.first.succeeded() && race.second.succeeded(), "{what}");
        let incremental = built(&workspace, &config, &BuildExtras::default(), &what);
        assert_equal_to_clean(&incremental, &clean, &what);
    }
    assert_eq!(shared.len(), 2, "the seeds race on one output and on two");
}

#[test]
fn an_injected_failure_skips_its_dependents_and_the_next_build_is_clean() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = BuildConfig::default();
    let generated = program(36);
    let workspace = workspace_with(tmp.path(), &generated.files);
    let module = some_library_module(&generated.files).to_string();
    let source = generated.module(&module).expect("module");
    let name = source
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("pub fn ").or_else(|| l.trim_start().strip_prefix("fn ")))
        .and_then(|rest| rest.split('(').next())
        .expect("a function");
    let victim = lockstep_core::mir::Symbol::new(&module, name);
    let outcome = injected_failure(&workspace, &config, victim.clone());
    assert_eq!(check_injected_failure(&outcome, &victim), Ok(()), "{:?}", outcome.report);
    // The check can fail: the right failure does not pass for another function.
    let other = lockstep_core::mir::Symbol::new("main", "main");
    assert!(check_injected_failure(&outcome, &other).is_err());
    let incremental = built(&workspace, &config, &BuildExtras::default(), "after the fault");
    assert_equal_to_clean(&incremental, &reference(&generated.files, &config, tmp.path()), "after the fault");
}

#[test]
fn fuzzed_builds_record_schedules_that_guided_builds_follow() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = BuildConfig::default();
    let files = program(37).files;
    let clean = reference(&files, &config, tmp.path());
    // Each build starts from the same state: a fresh workspace.
    let fresh_build = |tag: &str, extras: BuildExtras| {
        let workspace = Workspace::create(tmp.path().join(tag)).expect("workspace");
        workspace.sync_sources(&files).expect("sync");
        let outcome = workspace.build(&config, &extras);
        assert!(outcome.succeeded(), "{tag}: {:?}", outcome.error);
        assert_equal_to_clean(&workspace.artifacts(&config).expect("artifacts"), &clean, tag);
        let _ = std::fs::remove_dir_all(workspace.root());
        outcome
    };
    let fuzzed = fresh_build("random", BuildExtras::fuzzed(Strategy::Random { seed: 3 }));
    let recorded = fuzzed.reproduction().expect("a fuzzed build records its schedule");
    assert!(recorded.preemptions > 0, "a random schedule departs from the default: {}", recorded.schedule);
    eprintln!("fuzzed build: {:?}, {} steps", fuzzed.elapsed, recorded.schedule.len());

    let guided = fresh_build("guided", BuildExtras::guided(recorded.schedule.clone()));
    assert_eq!(guided.reproduction(), Some(recorded.clone()), "a whole guide is followed exactly");
    let default = fresh_build("default", BuildExtras::guided(Schedule::default()));
    let default = default.reproduction().expect("schedule");
    assert_eq!(default.preemptions, 0, "an empty guide takes every default");
    assert_eq!(default.schedule.len(), recorded.schedule.len(), "the same events, in another order");

    // Shrinking drives guided builds: a failure that shows under any
    // schedule shrinks to the default one at the first try.
    let mut tries = 0;
    let shrunk = shrink(&recorded, |guide| {
        tries += 1;
        fresh_build(&format!("shrink{tries}"), BuildExtras::guided(guide.clone())).reproduction()
    });
    assert_eq!((shrunk, tries), (default, 1));
    assert!(BuildExtras::default().scheduling == lockstep_harness::verify::Scheduling::Threads);
}

#[test]
fn behaviour_agrees_three_ways_and_the_c_oracle_compiles_each_source_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = BuildConfig::default();
    let generated = program(38);
    let workspace = workspace_with(tmp.path(), &generated.files);
    let outcome = workspace.build(&config, &BuildExtras::default());
    assert!(outcome.succeeded(), "{:?}", outcome.error);
    let native = run_executable(outcome.exe.as_deref().expect("exe"), RUN_TIMEOUT).expect("runs");

    let started = std::time::Instant::now();
    let interpreted = interpret_project(&workspace.project_dir()).expect("interprets");
    eprintln!("interpreter run: {:?}", started.elapsed());
    let mut cache = CCache::new();
    let started = std::time::Instant::now();
    let c = run_c(&generated.c_source, &tmp.path().join("c"), &mut cache).expect("gcc oracle");
    eprintln!("C oracle compile + run: {:?}", started.elapsed());
    assert_eq!(compare_behaviour(&native, &c), Ok(()), "lockstep against gcc");
    assert_eq!(compare_behaviour(&interpreted, &c), Ok(()), "the interpreter against gcc");

    let again = run_c(&generated.c_source, &tmp.path().join("c"), &mut cache).expect("memoised");
    assert_eq!((again, cache.compiles(), cache.hits()), (c.clone(), 1, 1), "one compile per source");
    let other = run_c("int main(void) { return 3; }\n", &tmp.path().join("c"), &mut cache).expect("compiles");
    assert_eq!((other.status, cache.compiles()), (3, 2));
    assert!(compare_behaviour(&other, &c).is_err(), "different programs behave differently");
    let broken = run_c("int main(void) { return }\n", &tmp.path().join("c"), &mut cache);
    assert!(broken.is_err_and(|e| e.contains("failed")), "a compile error is an error");
}

#[test]
fn a_program_that_runs_over_its_timeout_is_killed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let source = tmp.path().join("spin.c");
    std::fs::write(&source, "int main(void) { volatile int x = 0; for (;;) x++; }\n").expect("write");
    let exe = tmp.path().join("spin");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let status = std::process::Command::new(cc).arg("-o").arg(&exe).arg(&source).status().expect("cc runs");
    assert!(status.success());
    let started = std::time::Instant::now();
    let result = run_executable(&exe, Duration::from_millis(200));
    assert!(result.is_err_and(|e| e.contains("ran over")), "a spinning program times out");
    assert!(started.elapsed() < Duration::from_secs(10), "and is not waited for");
}

#[test]
fn bad_sources_fail_cleanly_in_both_builds() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = BuildConfig::default();
    let files = vec![("main".to_string(), "fn main() -> i64 { return true; }\n".to_string())];
    let workspace = workspace_with(tmp.path(), &files);
    let outcome = workspace.build(&config, &BuildExtras::default());
    assert!(outcome.panic.is_none() && outcome.exe.is_none());
    let error = outcome.error.expect("a type error fails the build");
    assert!(error.contains("main.lks:1:") && error.contains("error:"), "{error}");
    assert_eq!(outcome.report.status, "failed");
    let (clean, artifacts) = clean_build(&files, &config, tmp.path()).expect("the clean build runs");
    assert!(artifacts.is_none());
    // The same diagnostic, in another directory.
    let clean_error = clean.error.expect("the clean build fails too");
    let after_path = |e: &str| e.split_once("main.lks").map(|(_, rest)| rest.to_string());
    assert_eq!(after_path(&clean_error), after_path(&error), "{clean_error} / {error}");
}
