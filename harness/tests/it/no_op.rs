//! The no-op check by file stamps: once a build has read sources that had
//! settled, the next build compares a `stat` of each source with what it
//! recorded. Every way of changing a file, including a same-size rewrite
//! with its modification time put back, must still be seen; a change of
//! stamp alone (a `touch`) costs one reading of the sources, after which
//! no-ops go by stamps again.

use lockstep_core::driver::{self, BuildOptions};
use lockstep_core::lks::modules::SourceStamps;
use std::path::Path;
use std::time::Duration;

const MAIN: &str = "import util;\nfn main() -> i64 {\n    print(util::value());\n    return 0;\n}\n";
const UTIL: &str = "pub fn value() -> i64 {\n    return 41;\n}\n";

/// One way of disturbing a built project, and what the next build must do.
struct Case {
    name: &'static str,
    disturb: fn(&Path),
    /// Whether the build after the disturbance finds the output up to date.
    up_to_date: bool,
    /// What the program prints after that build.
    prints: &'static str,
}

fn build(dir: &Path) -> bool {
    let mut options = BuildOptions::new(dir);
    options.jobs = Some(2);
    let report = driver::build(&options).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    report.up_to_date
}

/// Whether the last build recorded stamps for the next no-op to compare.
fn stamps_recorded(dir: &Path) -> bool {
    let options = BuildOptions::new(dir);
    let front = lockstep_core::engine::manifest::Manifest::up_to_date(&driver::manifest_path_for(&options));
    front.is_some_and(|f| f.input_stamps.is_some())
}

fn prints(dir: &Path) -> String {
    let out = std::process::Command::new(BuildOptions::new(dir).output_path()).output().expect("run the program");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Long enough for what was just written to count as settled.
fn settle() {
    std::thread::sleep(Duration::from_nanos(SourceStamps::SETTLE_NS as u64 * 2));
}

fn same_size_edit_with_its_time_put_back(dir: &Path) {
    let path = dir.join("util.lks");
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).expect("mtime");
    std::fs::write(&path, UTIL.replace("41", "42")).expect("rewrite");
    let file = std::fs::File::options().write(true).open(&path).expect("open");
    file.set_modified(modified).expect("put the modification time back");
}

fn touch(dir: &Path) {
    let file = std::fs::File::options().write(true).open(dir.join("util.lks")).expect("open");
    file.set_modified(std::time::SystemTime::now()).expect("touch");
}

fn same_text_in_a_new_file(dir: &Path) {
    let path = dir.join("util.lks");
    std::fs::remove_file(&path).expect("remove");
    std::fs::write(&path, UTIL).expect("write again");
}

fn a_new_module(dir: &Path) {
    std::fs::write(dir.join("extra.lks"), "pub fn unused() -> i64 {\n    return 1;\n}\n").expect("write");
}

fn a_body_edit(dir: &Path) {
    std::fs::write(dir.join("util.lks"), UTIL.replace("41", "7")).expect("rewrite");
}

#[test]
fn every_change_to_a_source_is_seen_and_a_touch_costs_one_read() {
    let cases = [
        Case {
            name: "same-size edit, mtime put back",
            disturb: same_size_edit_with_its_time_put_back,
            up_to_date: false,
            prints: "42\n",
        },
        Case { name: "touch", disturb: touch, up_to_date: true, prints: "41\n" },
        Case { name: "same text, new file", disturb: same_text_in_a_new_file, up_to_date: true, prints: "41\n" },
        Case { name: "a new module", disturb: a_new_module, up_to_date: false, prints: "41\n" },
        Case { name: "a body edit", disturb: a_body_edit, up_to_date: false, prints: "7\n" },
    ];
    for case in cases {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        std::fs::write(dir.join("main.lks"), MAIN).expect("write main");
        std::fs::write(dir.join("util.lks"), UTIL).expect("write util");
        settle();
        assert!(!build(dir), "{}: the first build", case.name);
        assert!(stamps_recorded(dir), "{}: settled sources, but no stamps recorded", case.name);
        assert!(build(dir), "{}: a no-op after a build of settled sources", case.name);
        (case.disturb)(dir);
        assert_eq!(build(dir), case.up_to_date, "{}: the build after the change", case.name);
        assert_eq!(prints(dir), case.prints, "{}", case.name);
        settle();
        assert!(build(dir), "{}: a no-op once the change settled", case.name);
        assert!(stamps_recorded(dir), "{}: the settled stamps were not recorded", case.name);
        assert!(build(dir), "{}: and the next", case.name);
        assert_eq!(prints(dir), case.prints, "{}: after the no-ops", case.name);
    }
}

#[test]
fn only_stamps_well_older_than_the_reading_are_trusted() {
    let stamp = |modified_ns: i128, changed_ns: i128| lockstep_core::engine::manifest::FileStamp {
        len: 10,
        inode: 1,
        modified_ns,
        changed_ns,
    };
    let read_at_ns = 1_000_000_000_000;
    let settle = SourceStamps::SETTLE_NS;
    let cases = [
        (stamp(read_at_ns - 2 * settle, read_at_ns - 2 * settle), true),
        (stamp(read_at_ns - 2 * settle, read_at_ns - settle / 2), false),
        (stamp(read_at_ns - settle / 2, read_at_ns - 2 * settle), false),
        (stamp(read_at_ns + settle, read_at_ns + settle), false),
    ];
    for (file, trusted) in cases {
        let stamps = SourceStamps { files: vec![("main".to_string(), file)], read_at_ns };
        assert_eq!(stamps.settled().is_some(), trusted, "{file:?}");
    }
}
