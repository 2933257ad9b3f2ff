//! The programs under `examples/` build and print what they promise, with
//! both optimisation levels, and two clean builds are byte-identical.

use crate::support::{lockstep, text, workspace_root};
use std::path::Path;

fn example_dirs() -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(workspace_root().join("examples"))
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("main.lks").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty());
    dirs
}

fn copy_project(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read example") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "lks") {
            std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
        }
    }
}

#[test]
fn examples_print_their_expected_output() {
    for dir in example_dirs() {
        let expected_stdout = std::fs::read_to_string(dir.join("expected.stdout")).expect("expected.stdout");
        let expected_status: i32 =
            std::fs::read_to_string(dir.join("expected.status")).expect("expected.status").trim().parse().expect("int");
        for flags in [&[][..], &["--release"][..]] {
            let tmp = tempfile::tempdir().expect("tempdir");
            copy_project(&dir, &tmp.path().join("proj"));
            let mut args = vec!["run", "proj"];
            args.extend_from_slice(flags);
            let out = lockstep(tmp.path(), &args);
            assert_eq!(text(&out.stdout), expected_stdout, "{} {flags:?}: {}", dir.display(), text(&out.stderr));
            assert_eq!(out.status.code(), Some(expected_status), "{} {flags:?}", dir.display());
        }
    }
}

#[test]
fn clean_builds_are_byte_identical() {
    for dir in example_dirs() {
        for flags in [&[][..], &["--release"][..]] {
            let mut exes = Vec::new();
            for _ in 0..2 {
                // Separate directories: nothing may leak from one build into
                // the other, not even the path the project lives at.
                let tmp = tempfile::tempdir().expect("tempdir");
                copy_project(&dir, &tmp.path().join("proj"));
                let mut args = vec!["build", "proj", "-o", "exe"];
                args.extend_from_slice(flags);
                let out = lockstep(tmp.path(), &args);
                assert!(out.status.success(), "{}", text(&out.stderr));
                exes.push(std::fs::read(tmp.path().join("exe")).expect("read exe"));
            }
            assert!(exes[0] == exes[1], "{} {flags:?}: two clean builds differ", dir.display());
        }
    }
}
