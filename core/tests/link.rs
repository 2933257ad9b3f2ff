//! The system linker driver: which linker a build asks for, and what a
//! failed link reports (its whole command and the tool's own words).

use lockstep_core::link::Linker;
use std::path::{Path, PathBuf};

/// One `Linker::choose` case: the flags, and the driver and `-fuse-ld`
/// value they must give.
struct Choice {
    driver: Option<&'static str>,
    ld: Option<&'static str>,
    want_driver: &'static str,
    want_ld: Option<&'static str>,
}

#[test]
fn the_linker_choice_follows_the_flags() {
    let cases = [
        Choice { driver: None, ld: Some("bfd"), want_driver: "cc", want_ld: Some("bfd") },
        Choice { driver: None, ld: Some("default"), want_driver: "cc", want_ld: None },
        Choice { driver: None, ld: Some(""), want_driver: "cc", want_ld: None },
        Choice { driver: Some("clang"), ld: Some("lld"), want_driver: "clang", want_ld: Some("lld") },
        // Another driver may not know `-fuse-ld`: nothing is asked of it.
        Choice { driver: Some("/opt/cross/bin/cc"), ld: None, want_driver: "/opt/cross/bin/cc", want_ld: None },
    ];
    for Choice { driver, ld, want_driver, want_ld } in cases {
        if ld.is_none() && std::env::var_os(lockstep_core::link::LD_ENV).is_some() {
            continue; // the environment speaks for the missing flag
        }
        let linker = Linker::choose(driver.map(Path::new), ld);
        assert_eq!(linker.program, PathBuf::from(want_driver), "{driver:?} {ld:?}");
        assert_eq!(linker.ld.as_deref(), want_ld, "{driver:?} {ld:?}");
    }
}

#[test]
fn the_linker_is_part_of_its_identity() {
    let ids: Vec<Vec<u8>> = [("cc", None), ("cc", Some("gold")), ("cc", Some("lld")), ("clang", None)]
        .into_iter()
        .map(|(program, ld)| Linker { program: program.into(), ld: ld.map(String::from), remember_in: None }.identity())
        .collect();
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

/// Links an empty object list with `linker` and returns the error.
fn failed_link(linker: &Linker) -> lockstep_core::link::LinkError {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("program");
    let err = linker.link_executable(&[], &out, "00ff").expect_err("this link cannot succeed");
    assert!(!out.exists(), "a failed link left {}", out.display());
    err
}

/// One failing link: the linker, words its command line must contain,
/// words the report must contain, and whether the tool ran to an exit status.
struct FailedLink {
    driver: &'static str,
    ld: Option<&'static str>,
    command_words: &'static [&'static str],
    report_words: &'static [&'static str],
    exited: bool,
}

#[test]
fn a_failed_link_reports_its_command_and_the_tools_words() {
    let cases = [
        // The driver runs, finds no such linker, and says so.
        FailedLink {
            driver: "cc",
            ld: Some("no-such-linker"),
            command_words: &["cc", "-fuse-ld=no-such-linker", "-Wl,--build-id=0x00ff"],
            report_words: &["linking failed (exit status"],
            exited: true,
        },
        // The driver runs and the link fails: there is no `main`.
        FailedLink {
            driver: "cc",
            ld: None,
            command_words: &["cc", "-o"],
            report_words: &["linking failed (exit status", "main"],
            exited: true,
        },
        // There is no driver at all.
        FailedLink {
            driver: "/nonexistent/lockstep-cc",
            ld: None,
            command_words: &["/nonexistent/lockstep-cc"],
            report_words: &["cannot run `/nonexistent/lockstep-cc`"],
            exited: false,
        },
    ];
    for FailedLink { driver, ld, command_words, report_words, exited } in cases {
        let linker = Linker { program: driver.into(), ld: ld.map(String::from), remember_in: None };
        let err = failed_link(&linker);
        for word in command_words {
            assert!(err.command.contains(word), "{driver} {ld:?}: `{word}` missing from `{}`", err.command);
        }
        let report = err.to_string();
        assert!(report.contains(&format!("command: {}", err.command)), "{report}");
        for word in report_words {
            assert!(report.contains(word), "{driver} {ld:?}: `{word}` missing from:\n{report}");
        }
        assert_eq!(err.status.is_some(), exited, "{report}");
        assert!(!err.detail.trim().is_empty(), "{driver} {ld:?}: the tool's own words are missing");
    }
}

/// A C object with a `main`, compiled by the system's `cc`, and its directory.
fn hello_object() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("hello.c");
    std::fs::write(&source, "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 3; }\n").expect("write");
    let object = dir.path().join("hello.o");
    let status = std::process::Command::new("cc").arg("-c").arg(&source).arg("-o").arg(&object).status();
    assert!(status.is_ok_and(|s| s.success()), "cc -c failed");
    (dir, object)
}

/// The linkers of this machine that the default driver can run.
fn installed_lds() -> Vec<Option<&'static str>> {
    let mut lds = vec![None];
    lds.extend(
        ["gold", "bfd", "lld", "mold"]
            .into_iter()
            .filter(|n| lockstep_core::link::on_path(&format!("ld.{n}")))
            .map(Some),
    );
    lds
}

#[test]
fn a_direct_link_writes_the_drivers_bytes_and_remembers_its_command() {
    let (dir, object) = hello_object();
    for ld in installed_lds() {
        let through_driver = Linker { program: "cc".into(), ld: ld.map(String::from), remember_in: None };
        let remembered = dir.path().join(format!("state-{}", ld.unwrap_or("default")));
        let direct = through_driver.clone().remembering_in(remembered.clone());
        let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
        through_driver.link_executable(std::slice::from_ref(&object), &a, "00ff").expect("a driver link");
        direct.link_executable(std::slice::from_ref(&object), &b, "00ff").expect("a direct link");
        let resolutions: Vec<_> = std::fs::read_dir(&remembered).expect("the command is remembered").collect();
        assert_eq!(resolutions.len(), 1, "{ld:?}");
        // The second direct link runs the remembered command.
        direct.link_executable(std::slice::from_ref(&object), &c, "00ff").expect("a second direct link");
        let bytes = |p: &Path| std::fs::read(p).expect("read the executable");
        assert!(bytes(&a) == bytes(&b) && bytes(&b) == bytes(&c), "{ld:?}: a direct link wrote other bytes");
        let run = std::process::Command::new(&c).output().expect("run the program");
        assert_eq!((run.status.code(), run.stdout.as_slice()), (Some(3), b"hello\n".as_slice()), "{ld:?}");
    }
}

#[test]
fn a_remembered_command_that_fails_is_forgotten_and_the_driver_links() {
    let (dir, object) = hello_object();
    let remembered = dir.path().join("state");
    let linker = Linker::choose(None, Some("default")).remembering_in(remembered.clone());
    linker.link_executable(std::slice::from_ref(&object), &dir.path().join("a"), "00ff").expect("a direct link");
    let file = std::fs::read_dir(&remembered).expect("remembered").next().expect("one file").expect("entry").path();
    let stale =
        r#"{"program":"/nonexistent/ld","args":["-o","lockstep-output-placeholder","lockstep-input-placeholder.o"]}"#;
    std::fs::write(&file, stale).expect("make it stale");
    let out = dir.path().join("b");
    linker.link_executable(std::slice::from_ref(&object), &out, "00ff").expect("the driver links after all");
    assert_eq!(std::fs::read(&out).ok(), std::fs::read(dir.path().join("a")).ok());
    assert!(!file.exists(), "the stale command was kept");
    // The next link works the command out again.
    linker.link_executable(std::slice::from_ref(&object), &dir.path().join("c"), "00ff").expect("a direct link");
    assert!(std::fs::read_to_string(&file).is_ok_and(|text| text != stale), "the command was not worked out again");
}
