//! The Rust crate rendering (cargo's program in `lockstep bench peers`): it builds without warnings, behaves
//! like the C oracle (stdout bytes and exit status), and renders per module, so an edit to one `.lks` module
//! rewrites one Rust file.

use super::support::{run_bounded, text};
use lockstep_harness::program::generate::{self, GenConfig};
use lockstep_harness::program::model::{Expr, Program, Stmt, ROOT};
use lockstep_harness::program::rust::{render_rust_crate, rust_module_path};
use lockstep_harness::program::{run_c_oracle, run_with_timeout, GeneratedProgram};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Small programs that may divide by zero and read globals before their initialiser: the riskiest semantics.
fn risky() -> GenConfig {
    GenConfig { allow_div_by_zero: true, allow_reads_before_init: true, ..GenConfig::small() }
}

/// Builds `seed`'s crate with cargo in `root` (all cases share one target directory, so the runtime's std is
/// linked once), runs it, and compares with the oracle. Returns the oracle's exit status.
fn check(root: &Path, seed: u64, config: &GenConfig, release: bool) -> i32 {
    let model = generate::generate(seed, config);
    let package = format!("peer_{seed}");
    let dir = root.join(&package);
    for (path, body) in render_rust_crate(&model, &package).expect("a generated program renders") {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a file has a directory")).expect("mkdir");
        std::fs::write(path, body).expect("write");
    }
    let target = root.join("target");
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo.args(["build", "--offline", "-q", "--manifest-path"]).arg(dir.join("Cargo.toml"));
    if release {
        cargo.arg("--release");
    }
    // Built as the benchmark builds it: nothing inherited from the cargo running this test.
    cargo.env("CARGO_TARGET_DIR", &target);
    for var in ["CARGO_INCREMENTAL", "CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "RUSTC_WRAPPER", "CARGO_BUILD_TARGET"] {
        cargo.env_remove(var);
    }
    cargo.env_remove("MAKEFLAGS").env_remove("CARGO_MAKEFLAGS");
    let (ok, _, stderr) = run_bounded(cargo, root, Duration::from_secs(180), &format!("cargo-{seed}"));
    assert!(ok, "seed {seed}: cargo build failed:\n{stderr}");
    assert!(!stderr.contains("warning"), "seed {seed}: the crate builds with warnings:\n{stderr}");

    let exe = target.join(if release { "release" } else { "debug" }).join(&package);
    let got = run_with_timeout(&exe, root, Duration::from_secs(20)).expect("run the cargo-built program");
    let oracle = GeneratedProgram::render(seed, &model);
    let want = run_c_oracle(&oracle, &root.join(format!("oracle-{seed}"))).expect("oracle");
    assert_eq!(got.0, want.0, "seed {seed} (release: {release}): stdout differs from the oracle's");
    assert_eq!(
        (text(&got.1), got.2),
        (text(&want.1), want.2),
        "seed {seed} (release: {release}): stderr or status differs from the oracle's"
    );
    want.2
}

#[test]
fn the_rust_crate_builds_and_behaves_like_the_oracle() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases = [
        // Prints, then divides by zero: the buffered output must still be flushed before exit 101.
        (2, risky(), false),
        (2, risky(), true),
        (0, risky(), false),
        (1, GenConfig::small(), false),
        (3, GenConfig::bench(4, 5), false),
    ];
    let mut statuses = Vec::new();
    for (seed, config, release) in &cases {
        statuses.push(check(tmp.path(), *seed, config, *release));
    }
    // The cases must keep covering both non-zero exits, whatever the generator becomes.
    assert!(statuses.contains(&101), "no case divides by zero any more: {statuses:?}");
    assert!(statuses.iter().any(|&s| s != 0 && s != 101), "no case returns a status from main: {statuses:?}");
}

#[test]
fn every_generated_program_renders() {
    for seed in 0..64 {
        let config = if seed % 2 == 0 { risky() } else { GenConfig::bench(5, 4) };
        let model = generate::generate(seed, &config);
        let files = render_rust_crate(&model, "peer").expect("renders");
        let mut paths: Vec<String> = files.into_iter().map(|(p, _)| p).collect();
        paths.sort();
        // The root module may share `src/main.rs` with the runtime or have a file of its own.
        let mut want: Vec<String> = ["Cargo.toml", "src/main.rs"].iter().map(|p| p.to_string()).collect();
        want.extend(model.modules.iter().map(|m| rust_module_path(&m.name)));
        want.sort();
        want.dedup();
        assert_eq!(paths, want, "seed {seed}: Cargo.toml, src/main.rs and one file per module");
    }
}

/// The paths whose text differs between two renderings of the same crate.
fn changed_files(before: &Program, after: &Program) -> Vec<String> {
    let (a, b) =
        (render_rust_crate(before, "peer").expect("renders"), render_rust_crate(after, "peer").expect("renders"));
    assert_eq!(a.len(), b.len(), "the same files");
    a.iter().zip(&b).filter(|(x, y)| x != y).map(|(x, _)| x.0.clone()).collect()
}

/// Applies `change` to the first function of `module` and checks that exactly that module's file changed,
/// now containing `marker`.
fn check_one_file_changes(model: &Program, module: &str, marker: &str, change: impl Fn(&mut Vec<Stmt>)) {
    let mut edited = model.clone();
    let f = edited.module_mut(module).and_then(|m| m.fns_mut().next()).expect("a function");
    change(&mut f.body.stmts);
    let path = rust_module_path(module);
    assert_eq!(changed_files(model, &edited), vec![path.clone()], "an edit of {module} changes one file");
    let files = render_rust_crate(&edited, "peer").expect("renders");
    let text = &files.iter().find(|(p, _)| *p == path).expect("the module's file").1;
    assert!(text.contains(marker), "{path} shows the edit `{marker}`:\n{text}");
}

#[test]
fn a_body_or_comment_edit_changes_exactly_one_file() {
    let model = generate::generate(7, &GenConfig::bench(4, 3));
    let leaf = model.modules.iter().find(|m| m.name != ROOT).expect("a non-root module").name.clone();
    for module in [leaf.as_str(), ROOT] {
        check_one_file_changes(&model, module, "4242", |stmts| stmts.insert(0, Stmt::Print(Expr::int(4242))));
        check_one_file_changes(&model, module, "edited here", |stmts| {
            stmts.insert(0, Stmt::Comment("// edited here".to_string()))
        });
    }
}
