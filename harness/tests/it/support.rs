//! Shared test plumbing: fixtures, running the `lockstep` binary, blessing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `lockstep` binary built for this test run.
pub fn lockstep_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lockstep"))
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("harness/ has a parent").to_path_buf()
}

pub fn update_expect() -> bool {
    std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v != "0")
}

/// A test case written as one file of `//- NAME` sections: `*.lks`
/// sections are the project's modules; other sections (`stdout`,
/// `status`, `stderr`) are expectations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fixture {
    pub sections: Vec<(String, String)>,
}

impl Fixture {
    pub fn parse(text: &str) -> Fixture {
        let mut sections: Vec<(String, String)> = Vec::new();
        for line in text.split_inclusive('\n') {
            if let Some(name) = line.strip_prefix("//- ") {
                sections.push((name.trim().to_string(), String::new()));
            } else if let Some((_, body)) = sections.last_mut() {
                body.push_str(line);
            }
        }
        Fixture { sections }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, body) in &self.sections {
            out.push_str(&format!("//- {name}\n{body}"));
            if !body.is_empty() && !body.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.sections.iter().find(|(n, _)| n == name).map(|(_, b)| b.as_str())
    }

    /// Replaces (or appends) an expectation section.
    pub fn set(&mut self, name: &str, body: String) {
        match self.sections.iter_mut().find(|(n, _)| n == name) {
            Some((_, b)) => *b = body,
            None => self.sections.push((name.to_string(), body)),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.sections.retain(|(n, _)| n != name);
    }

    /// Writes the `.lks` sections into `dir`.
    pub fn write_project(&self, dir: &Path) {
        std::fs::create_dir_all(dir).expect("create project dir");
        for (name, body) in &self.sections {
            if name.ends_with(".lks") {
                std::fs::write(dir.join(name), body).expect("write module");
            }
        }
    }
}

/// Runs `lockstep ARGS` in `cwd`.
pub fn lockstep(cwd: &Path, args: &[&str]) -> Output {
    Command::new(lockstep_bin()).args(args).current_dir(cwd).output().expect("run lockstep")
}

/// For a test that needs something the machine may lack (a browser, a
/// tmpfs, a tool): `true` means go on. Without it the test is skipped with
/// a line on stderr, unless the environment variable `require` is set (CI
/// sets it where it installs the thing), which makes the lack a failure.
pub fn available_or_skipped(available: bool, require: &str, test: &str, lacking: &str) -> bool {
    if !available {
        assert!(std::env::var_os(require).is_none(), "{require} is set, but {lacking}");
        eprintln!("{test}: skipped: {lacking}");
    }
    available
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every fixture file in `harness/tests/lang/SUBDIR`, sorted.
pub fn fixtures(subdir: &str) -> Vec<PathBuf> {
    let dir = workspace_root().join("harness/tests/lang").join(subdir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

/// Compares `actual` with the fixture file's content, or rewrites it under
/// `UPDATE_EXPECT`. Returns a failure description.
pub fn compare_or_bless(path: &Path, original: &str, updated: &str) -> Option<String> {
    if original == updated {
        return None;
    }
    if update_expect() {
        std::fs::write(path, updated).expect("bless fixture");
        return None;
    }
    Some(format!("{}: expectation differs\n{}", path.display(), diff(original, updated)))
}

/// A minimal line diff for failure messages.
pub fn diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                if let Some(x) = x {
                    out.push_str(&format!("-{i:>4} {x}\n"));
                }
                if let Some(y) = y {
                    out.push_str(&format!("+{i:>4} {y}\n"));
                }
            }
        }
    }
    out
}

/// Runs `command` to completion, or fails the test after `limit` naming `what`.
pub fn run_bounded(mut command: Command, dir: &Path, limit: Duration, what: &str) -> (bool, String, String) {
    let (out_path, err_path) = (dir.join(format!("{what}.out")), dir.join(format!("{what}.err")));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}: {}", text(&std::fs::read(&err_path).unwrap_or_default()));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| text(&std::fs::read(p).unwrap_or_default());
    (status.success(), read(&out_path), read(&err_path))
}
