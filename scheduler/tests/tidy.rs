//! Style checks as ordinary tests, so `cargo test` is the whole gate.
//!
//! - Outside `scheduler/`, the core names no thread, lock, clock or random number generator
//!   directly: all of them come through `lockstep_scheduler`, the seam that lets the same code run
//!   on OS threads, under loom and under the fuzzed scheduler. Comments count too, so a mention
//!   in a doc comment has to be reworded rather than silently allowed.
//! - Every source file starts with a `//!` doc comment saying what it is for.

use std::fs;
use std::path::{Path, PathBuf};

/// Names that bypass the scheduler seam or make output depend on the process.
const FORBIDDEN_OUTSIDE_SCHEDULER: &[&str] =
    &["std::sync", "std::thread", "Instant::now", "SystemTime", "thread_rng", "DefaultHasher", "RandomState"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the scheduler crate sits in the workspace").to_path_buf()
}

fn rust_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut to_visit = vec![dir.to_path_buf()];
    while let Some(dir) = to_visit.pop() {
        let entries = fs::read_dir(&dir).unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()));
        for entry in entries {
            let path = entry.expect("a readable directory entry").path();
            if path.is_dir() {
                to_visit.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace_root()).unwrap_or(path).display().to_string()
}

/// `file:line: name` for every forbidden name in `files`.
fn forbidden_names(files: &[PathBuf]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let text = fs::read_to_string(file).expect("source files are UTF-8");
        for (line_index, line) in text.lines().enumerate() {
            for name in FORBIDDEN_OUTSIDE_SCHEDULER {
                if line.contains(name) {
                    found.push(format!("{}:{}: names `{name}`", relative(file), line_index + 1));
                }
            }
        }
    }
    found
}

#[test]
fn core_reaches_threads_locks_clocks_and_randomness_only_through_the_scheduler() {
    let files = rust_files_under(&workspace_root().join("core/src"));
    assert!(!files.is_empty(), "core/src has Rust files");
    let found = forbidden_names(&files);
    assert!(found.is_empty(), "use lockstep_scheduler::{{sync, clock, fuzz}} instead of these:\n{}", found.join("\n"));
}

#[test]
fn the_forbidden_name_check_can_fail() {
    let sample = std::env::temp_dir().join(format!("lockstep-tidy-sample-{}.rs", std::process::id()));
    fs::write(&sample, "//! A sample.\nuse std::collections::HashMap;\nuse std::sync::Mutex;\n").unwrap();
    let found = forbidden_names(std::slice::from_ref(&sample));
    fs::remove_file(&sample).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with(":3: names `std::sync`"), "{found:?}");
}

#[test]
fn every_source_file_starts_with_a_module_doc_comment() {
    let root = workspace_root();
    let mut files = rust_files_under(&root.join("core/src"));
    files.extend(rust_files_under(&root.join("scheduler/src")));
    let undocumented: Vec<String> = files
        .iter()
        .filter(|file| !fs::read_to_string(file).expect("source files are UTF-8").starts_with("//!"))
        .map(|file| relative(file))
        .collect();
    assert!(undocumented.is_empty(), "these files must start with a `//!` comment:\n{}", undocumented.join("\n"));
}
