//! Errors that scale: every command-line error has one form (`error: ...`,
//! or `PLACE: error: ...`) and exit status 1; a garbled or binary file, a
//! bad `--target` and a full disk each give a handful of lines, not
//! thousands; `--message-format json` gives one rustc-style object per
//! diagnostic.

use crate::support::{available_or_skipped, lockstep, text, workspace_root};
use lockstep_harness::program::{generate, GenConfig};
use lockstep_scheduler::fuzz::SplitMix64;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn project(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (name, bytes) in files {
        std::fs::write(tmp.path().join(name), bytes).expect("write a module");
    }
    tmp
}

/// Runs `lockstep ARGS` in `dir`: (exit status, stderr lines).
fn run(dir: &Path, args: &[&str]) -> (Option<i32>, Vec<String>) {
    let out = lockstep(dir, args);
    (out.status.code(), text(&out.stderr).lines().map(str::to_string).collect())
}

fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// Printable noise: valid UTF-8 text that is nothing like a program.
fn random_text(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    let alphabet = b"abcxyz019 (){};:=+-*/<>!&|,.\"'#@$%^~`[]\n\t";
    (0..len).map(|_| alphabet[rng.below(alphabet.len() as u64) as usize]).collect()
}

#[test]
fn garbage_and_binary_files_give_a_bounded_number_of_errors() {
    let valid_main = b"fn main() -> i64 {\n    return 0;\n}\n".as_slice();
    let binary = random_bytes(3, 3 * 1024);
    let noise = random_text(4, 3 * 1024);
    let mut nul = b"fn main() -> i64 { return 0; }\n".to_vec();
    nul.push(0);
    for (what, files, most) in [
        ("3 KB of random bytes as main.lks", vec![("main.lks", binary.as_slice())], 1),
        ("3 KB of printable noise as main.lks", vec![("main.lks", noise.as_slice())], 21),
        ("a NUL byte in a module", vec![("main.lks", valid_main), ("util.lks", nul.as_slice())], 1),
    ] {
        let tmp = project(&files);
        for command in ["build", "check"] {
            let (status, lines) = run(tmp.path(), &[command, "."]);
            assert_eq!(status, Some(1), "{what}: `{command}` must fail with status 1");
            assert!(
                !lines.is_empty() && lines.len() <= most,
                "{what}: `{command}` printed {} lines (at most {most}):\n{}",
                lines.len(),
                lines.join("\n")
            );
            assert!(lines.iter().all(|l| l.contains(": error: ") || l.starts_with("note: and ")), "{lines:#?}");
        }
    }
}

#[test]
fn every_command_line_error_has_one_form_and_status_one() {
    let tour = workspace_root().join("examples/tour");
    let tour = tour.to_str().expect("utf-8");
    let tmp = tempfile::tempdir().expect("tempdir");
    for args in [
        vec!["build", tour, "--target", "riscv64-unknown-linux-gnu"],
        vec!["build", tour, "--target", "no-such-target"],
        vec!["build", tour, "-j", "0"],
        vec!["build", tour, "--cgu-size", "0"],
        vec!["build", tour, "--schedule", "sometimes"],
        vec!["build", tour, "--inject-fault", "nonsense"],
        vec!["build", tour, "--replay-schedule", "/no/such/schedule"],
        vec!["build", "/no/such/project"],
        vec!["build", tour, "--no-such-flag"],
        vec!["cache", "gc", "--max-size", "lots"],
        vec!["replay", "/no/such/repro"],
        vec!["frobnicate"],
    ] {
        let (status, lines) = run(tmp.path(), &args);
        assert_eq!(status, Some(1), "lockstep {args:?}: status");
        let first = lines.first().unwrap_or_else(|| panic!("lockstep {args:?}: no error printed"));
        assert!(first.starts_with("error: ") || first.contains(": error: "), "lockstep {args:?}: {first:?}");
        if args.contains(&"--target") {
            assert_eq!(lines.len(), 1, "a bad target is one error, not one per unit: {lines:#?}");
        }
    }
}

#[test]
fn json_diagnostics_are_one_rustc_style_object_each() {
    let tmp = project(&[("main.lks", b"fn main() -> i64 {\n    return missing + true;\n}\n".as_slice())]);
    let (status, lines) = run(tmp.path(), &["check", ".", "--message-format", "json"]);
    assert_eq!(status, Some(1));
    assert!(!lines.is_empty());
    for line in &lines {
        let diagnostic: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(diagnostic["$message_type"], "diagnostic");
        assert_eq!(diagnostic["level"], "error");
        assert!(diagnostic["message"].as_str().is_some_and(|m| !m.is_empty()));
        let span = &diagnostic["spans"][0];
        assert!(span["file_name"].as_str().is_some_and(|f| f.ends_with("main.lks")), "{span}");
        assert_eq!(span["line_start"], 2, "{span}");
        assert_eq!(span["is_primary"], true);
        assert!(diagnostic["rendered"].as_str().is_some_and(|r| r.contains("main.lks:2:")), "{diagnostic}");
    }
}

/// A tmpfs of `size` at `dir` (root only); `false` if it cannot be mounted here.
fn mount_tmpfs(dir: &Path, size: &str) -> bool {
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}

/// Unmounts on drop, so a failed assertion leaves no mount behind.
struct Mounted<'a>(&'a Path);

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

#[test]
fn a_full_disk_is_one_error_and_the_next_build_recovers() {
    let outer = tempfile::tempdir().expect("tempdir");
    let dir = outer.path().join("small-disk");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let lacking = "a tmpfs cannot be mounted here (needs root)";
    if !available_or_skipped(mount_tmpfs(&dir, "450k"), "LOCKSTEP_REQUIRE_TMPFS", "a_full_disk", lacking) {
        return;
    }
    let _mounted = Mounted(&dir);
    let config = GenConfig { modules: 12, functions_per_module: 10, vary_sizes: false, ..GenConfig::small() };
    let program = generate(21, &config);
    for (module, text) in &program.files {
        std::fs::write(dir.join(format!("{module}.lks")), text).expect("write a module");
    }
    let (status, lines) = run(&dir, &["build", ".", "-j", "2"]);
    assert_eq!(status, Some(1), "a full disk fails the build:\n{}", lines.join("\n"));
    assert!(lines.len() <= 3, "a full disk printed {} lines:\n{}", lines.len(), lines.join("\n"));
    let all = lines.join("\n");
    assert!(all.contains("no space left on device") && all.contains("cache gc"), "{all}");

    // Free space: the next build succeeds and runs as a clean build elsewhere does.
    let remounted = Command::new("mount").args(["-o", "remount,size=64m"]).arg(&dir).status();
    assert!(remounted.is_ok_and(|s| s.success()), "remount the tmpfs larger");
    let (status, lines) = run(&dir, &["build", ".", "-j", "2"]);
    assert_eq!(status, Some(0), "the build after freeing space:\n{}", lines.join("\n"));
    let elsewhere = outer.path().join("small-disk-clean");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    for (module, text) in &program.files {
        std::fs::write(elsewhere.join(format!("{module}.lks")), text).expect("write a module");
    }
    let (status, lines) = run(&elsewhere, &["build", ".", "-j", "2"]);
    assert_eq!(status, Some(0), "{}", lines.join("\n"));
    let exe = |dir: &Path, name: &str| std::fs::read(dir.join(".lockstep/out").join(name)).expect("the executable");
    assert!(
        exe(&dir, "small-disk") == exe(&elsewhere, "small-disk-clean"),
        "the recovered build differs from a clean build"
    );
}

/// What a build prints besides errors: nothing in a pipe (no progress bar in
/// a CI log), a summary with `-v`, the invalidation decisions with
/// LOCKSTEP_LOG, no notes with `-q`; and a progress bar on a terminal.
#[test]
fn quiet_verbose_logs_and_the_progress_bar() {
    let tour = workspace_root().join("examples/tour");
    let copy = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(&tour).expect("examples/tour").flatten() {
        if entry.path().extension().is_some_and(|e| e == "lks") {
            std::fs::copy(entry.path(), copy.path().join(entry.file_name())).expect("copy");
        }
    }
    let dir = copy.path();
    let (status, lines) = run(dir, &["build", "."]);
    assert_eq!((status, lines.len()), (Some(0), 0), "a plain build in a pipe prints nothing: {lines:#?}");
    let (status, lines) = run(dir, &["build", ".", "-q", "--timings"]);
    assert_eq!((status, lines.len()), (Some(0), 0), "-q prints no notes: {lines:#?}");
    std::fs::write(dir.join("main.lks"), std::fs::read_to_string(dir.join("main.lks")).unwrap() + "\n// edit\n")
        .expect("edit");
    let (status, lines) = run(dir, &["build", ".", "-v"]);
    assert_eq!(status, Some(0));
    assert!(lines.iter().any(|l| l.contains("build finished")), "-v logs a summary: {lines:#?}");
    let out = Command::new(crate::support::lockstep_bin())
        .args(["build", ".", "--cgu", "function"])
        .env("LOCKSTEP_LOG", "lockstep_core::engine::invalidation=debug")
        .current_dir(dir)
        .output()
        .expect("run lockstep");
    let log = text(&out.stderr);
    assert!(log.contains("invalidation") && log.contains("main::main"), "every function's decision:\n{log}");

    // On a terminal (a pty from `script`), the bar appears.
    let Ok(found) = Command::new("script").arg("--version").output() else {
        eprintln!("quiet_verbose_logs: skipped the terminal half: no `script` (util-linux)");
        return;
    };
    assert!(found.status.success());
    // A configuration not built yet, so the build has units to show.
    let command = format!("{} build . --cgu module -j 1", crate::support::lockstep_bin().display());
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("LOCKSTEP_PROGRESS_DELAY_MS", "0")
        .env("TERM", "xterm")
        .current_dir(dir)
        .output()
        .expect("run script");
    let shown = text(&out.stdout);
    assert!(out.status.success() && shown.contains("units"), "no progress bar on a terminal:\n{shown:?}");
}
