//! The work directory stays bounded: with `--max-cache-size` set to the size
//! of the whole work directory after one clean build, 100 body edits in a
//! row leave it within twice that size, every build succeeds, and the last
//! executable equals a clean build's. A collection never touches what a
//! running build holds.

use lockstep_core::driver::{self, BuildOptions};
use lockstep_core::engine::gc::{collect_work_dir, disk_usage, WorkDirLock};
use lockstep_harness::program::edit::Edit;
use lockstep_harness::program::generate::{generate, GenConfig};
use lockstep_harness::program::Program;
use std::path::Path;

fn write_program(dir: &Path, program: &Program) {
    for (module, text) in program.files() {
        std::fs::write(dir.join(format!("{module}.lks")), text).expect("write a module");
    }
}

fn options(dir: &Path) -> BuildOptions {
    let mut options = BuildOptions::new(dir);
    options.jobs = Some(2);
    options
}

fn staged_objects(dir: &Path) -> usize {
    std::fs::read_dir(dir.join(".lockstep/objects")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn a_hundred_edits_under_a_size_cap_stay_within_twice_a_clean_work_dir() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("project");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut program = generate(7, &GenConfig::small());
    write_program(&dir, &program);
    driver::build(&options(&dir)).expect("the clean build");
    let clean_size = disk_usage(&dir.join(".lockstep"));
    let clean_objects = staged_objects(&dir);

    let mut capped = options(&dir);
    capped.max_cache_size = Some(clean_size);
    let mut edits = 0;
    let mut variant = 0u16;
    while edits < 100 {
        variant += 1;
        let edit = Edit::Body { function: variant.wrapping_mul(7), variant };
        if edit.apply(&mut program).is_err() {
            continue;
        }
        write_program(&dir, &program);
        let report = driver::build(&capped).unwrap_or_else(|e| panic!("edit {edits} ({edit}): {e}"));
        assert_eq!(report.status, "ok");
        edits += 1;
        let size = disk_usage(&dir.join(".lockstep"));
        assert!(
            size <= 2 * clean_size,
            "after {edits} edits the work directory is {size} bytes, over twice the clean {clean_size}"
        );
    }
    assert!(
        staged_objects(&dir) <= clean_objects + 2,
        "link inputs pile up: {} staged after 100 edits, {clean_objects} after the clean build",
        staged_objects(&dir)
    );

    // The collected work directory still builds, and builds right.
    let elsewhere = tmp.path().join("clean");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    write_program(&elsewhere, &program);
    driver::build(&options(&elsewhere)).expect("a clean build elsewhere");
    let exe = |dir: &Path, name: &str| std::fs::read(dir.join(".lockstep/out").join(name)).expect("the executable");
    assert!(exe(&dir, "project") == exe(&elsewhere, "clean"), "the capped build differs from a clean build");
}

#[test]
fn a_collection_leaves_the_link_inputs_of_a_running_build_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("project");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let program = generate(8, &GenConfig::small());
    write_program(&dir, &program);
    driver::build(&options(&dir)).expect("the build");
    let work = dir.join(".lockstep");
    // An object no manifest names: what a build in flight has just staged.
    let in_flight = work.join("objects").join("in-flight.o");
    std::fs::write(&in_flight, b"staged, not yet linked").expect("stage");
    let running = WorkDirLock::shared(&work).expect("a build's shared lock");
    let gc = collect_work_dir(&work);
    assert!(gc.skipped_busy && gc.objects_removed == 0 && in_flight.exists(), "{gc:?}");
    drop(running);
    let gc = collect_work_dir(&work);
    assert!(!gc.skipped_busy && gc.objects_removed == 1 && !in_flight.exists(), "{gc:?}");
    // Everything a live manifest names stayed: the next build is a no-op.
    let report = driver::build(&options(&dir)).expect("the rebuild");
    assert!(report.up_to_date || report.objects.misses == 0, "the rebuild recompiled: {report:?}");
}
