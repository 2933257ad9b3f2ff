//! `lockstep bench peers`: the C project rendering builds with make and behaves like the oracle, and the
//! command runs every scenario for every tool, checks their programs agree, and reports medians and targets.

use super::support::{lockstep_bin, run_bounded, text};
use lockstep_harness::program::c::render_c_project;
use lockstep_harness::program::generate::{self, GenConfig};
use lockstep_harness::program::{run_c_oracle, run_with_timeout, GeneratedProgram};
use std::process::Command;
use std::time::Duration;

/// Renders `seed` as a C project, builds it with make, and compares its behaviour with the single-file oracle.
fn check_c_project(seed: u64, config: &GenConfig) {
    let model = generate::generate(seed, config);
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = tmp.path().join("c");
    std::fs::create_dir_all(&project).expect("project dir");
    let files = render_c_project(&model).expect("a generated program renders");
    for (path, body) in &files {
        std::fs::write(project.join(path), body).expect("write");
    }
    let mut make = Command::new("make");
    make.arg("-C").arg(&project).arg("-s").arg("-j2").env_remove("MAKEFLAGS");
    let (ok, _, stderr) = run_bounded(make, tmp.path(), Duration::from_secs(120), "make");
    assert!(ok, "seed {seed}: make failed: {stderr}");
    let got = run_with_timeout(&project.join("program"), tmp.path(), Duration::from_secs(20)).expect("run");
    let oracle = GeneratedProgram::render(seed, &model);
    let want = run_c_oracle(&oracle, &tmp.path().join("oracle")).expect("oracle");
    assert_eq!((text(&got.0), got.2), (text(&want.0), want.2), "seed {seed}: the C project disagrees with the oracle");
    // Per module: a `.c` that includes only its imports' headers, so make rebuilds what a change reaches.
    for m in &model.modules {
        let c = &files.iter().find(|(p, _)| *p == format!("{}.c", m.name)).expect("a .c per module").1;
        let includes = c.lines().filter(|l| l.starts_with("#include")).count();
        assert_eq!(includes, 1 + m.imports.len(), "seed {seed}: {}.c includes its own header and its imports'", m.name);
    }
}

#[test]
fn the_c_project_builds_with_make_and_behaves_like_the_oracle() {
    for (seed, config) in
        [(1, GenConfig::small()), (2, GenConfig::small()), (3, GenConfig::bench(6, 5)), (4, GenConfig::bench(3, 8))]
    {
        check_c_project(seed, &config);
    }
}

#[test]
fn bench_peers_times_every_scenario_for_every_tool_and_checks_their_programs_agree() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let json = tmp.path().join("peers.json");
    let mut command = Command::new(lockstep_bin());
    command
        .args(["bench", "peers", "--size", "6x4", "--runs", "1", "--tools", "lockstep,gcc,cargo", "--json"])
        .arg(&json)
        .arg("--keep")
        .arg(tmp.path().join("work"))
        .env_remove("MAKEFLAGS");
    let (ok, stdout, stderr) = run_bounded(command, tmp.path(), Duration::from_secs(600), "peers");
    assert!(ok, "bench peers failed:\n{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("JSON");
    let cells = report["cells"].as_array().expect("cells");
    for profile in ["debug", "release"] {
        for scenario in ["clean", "no-op", "one body edit", "comment edit", "signature edit"] {
            for tool in ["lockstep", "make + gcc", "cargo"] {
                let found =
                    cells.iter().any(|c| c["profile"] == profile && c["scenario"] == scenario && c["tool"] == tool);
                assert!(found, "no {profile} `{scenario}` measurement for {tool}:\n{stdout}");
            }
        }
        let one_job = cells.iter().filter(|c| c["profile"] == profile && c["scenario"] == "clean, -j1").count();
        assert_eq!(one_job, 1, "`clean, -j1` is lockstep's alone");
    }
    assert!(report["signature_edit_callers"].as_u64().is_some_and(|k| k >= 1), "the signature edit has callers");
    let targets = report["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 6, "{targets:?}");
    assert!(targets.iter().all(|t| t["ratio"].as_f64().is_some()), "every target measured: {targets:?}");
    for heading in ["| scenario | lockstep | make + gcc | cargo |", "targets:"] {
        assert!(stdout.contains(heading), "the report has `{heading}`:\n{stdout}");
    }
}

#[test]
fn bench_peers_rejects_a_bad_size_and_an_unknown_tool() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (args, want) in [
        (vec!["--size", "huge"], "expected small, medium, large or MODULESxFUNCTIONS"),
        (vec!["--tools", "ninja"], "`ninja` is not one of lockstep, gcc, clang, cargo"),
    ] {
        let mut command = Command::new(lockstep_bin());
        command.args(["bench", "peers"]).args(&args);
        let (ok, _, stderr) = run_bounded(command, tmp.path(), Duration::from_secs(60), "peers-bad");
        assert!(!ok && stderr.starts_with("error: ") && stderr.contains(want), "{args:?}: {stderr}");
    }
}
