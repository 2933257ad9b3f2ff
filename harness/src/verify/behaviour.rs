//! Observing behaviour: what a program prints and how it exits, seen
//! three independent ways: the lockstep-built executable
//! ([`run_executable`]), the MIR interpreter ([`interpret_project`]), and
//! gcc's build of the generator's C translation ([`run_c`]).
//!
//! Behaviours are compared on stdout and exit status. Stderr is kept but
//! compared only for the one thing every implementation must say there:
//! `division by zero` (with status 101), so the oracle does not depend on
//! incidental messages.

use crate::verify::process::{signal_of, CapturedChild, Waited};
use lockstep_core::diagnostic::DiagnosticStyle;
use lockstep_core::lks;
use lockstep_core::mir::interp;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// How long a C oracle program may run: as long as the generator's own
/// differential tests allow (its programs are bounded by construction).
pub const C_RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// What the runtime, the interpreter and the C oracle write on a division by zero.
const DIVISION_BY_ZERO: &str = "division by zero";

/// What one run of a program did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOutcome {
    pub stdout: Vec<u8>,
    /// Kept for failure messages; compared only for `division by zero`.
    pub stderr: Vec<u8>,
    pub status: i32,
}

impl RunOutcome {
    /// Whether the program stopped on a division by zero.
    pub fn divided_by_zero(&self) -> bool {
        String::from_utf8_lossy(&self.stderr).contains(DIVISION_BY_ZERO)
    }
}

/// Runs `exe` (no arguments, stdin empty) for at most `timeout`. Running
/// over (the child is killed and reaped) and death by a signal are errors.
pub fn run_executable(exe: &Path, timeout: Duration) -> Result<RunOutcome, String> {
    let mut child = CapturedChild::spawn(&mut Command::new(exe)).map_err(|e| format!("{}: {e}", exe.display()))?;
    let status = match child.wait_until(timeout).map_err(|e| format!("{}: {e}", exe.display()))? {
        Waited::Exited(status) => status,
        Waited::StillRunning => {
            let _ = child.kill();
            return Err(format!("{} ran over {timeout:?} and was killed", exe.display()));
        }
    };
    let (stdout, stderr) = child.output().map_err(|e| format!("{}: reading its output: {e}", exe.display()))?;
    match (status.code(), signal_of(&status)) {
        (Some(code), _) => Ok(RunOutcome { stdout, stderr, status: code }),
        (None, Some(signal)) => Err(format!(
            "{} was killed by signal {signal}; stderr: {}",
            exe.display(),
            String::from_utf8_lossy(&stderr).trim_end()
        )),
        (None, None) => Err(format!("{} ended without an exit status: {status}", exe.display())),
    }
}

/// Runs the project in `dir` on the MIR interpreter (checked and lowered
/// from source, independently of any build), within the interpreter's
/// default limits.
pub fn interpret_project(dir: &Path) -> Result<RunOutcome, String> {
    let checked = lks::check_dir(dir, DiagnosticStyle::Short).map_err(|e| e.to_string())?;
    let program = lks::lower_program(&checked);
    let outcome = interp::run(&program, &interp::Limits::default()).map_err(|e| format!("interpreter: {e}"))?;
    Ok(RunOutcome { stdout: outcome.stdout, stderr: outcome.stderr, status: outcome.exit_status })
}

/// Results of C oracle runs by the hash of their source, so a state an
/// edit sequence revisits costs one compile. Failures are remembered too:
/// the same source fails the same way.
#[derive(Debug, Default)]
pub struct CCache {
    results: BTreeMap<[u8; 32], Result<RunOutcome, String>>,
    compiles: usize,
    hits: usize,
}

impl CCache {
    pub fn new() -> CCache {
        CCache::default()
    }

    /// How many times [`run_c`] invoked the compiler.
    pub fn compiles(&self) -> usize {
        self.compiles
    }

    /// How many times [`run_c`] answered from memory.
    pub fn hits(&self) -> usize {
        self.hits
    }
}

/// The C compiler driver: `$CC`, else `cc`.
fn c_compiler() -> String {
    std::env::var("CC").ok().filter(|cc| !cc.is_empty()).unwrap_or_else(|| "cc".to_string())
}

/// Compiles `c_source` with `$CC -O1 -w` in `workdir`, runs it, and
/// returns what it did; the same source (for the same compiler) is
/// compiled and run once per `cache`.
pub fn run_c(c_source: &str, workdir: &Path, cache: &mut CCache) -> Result<RunOutcome, String> {
    let cc = c_compiler();
    let key = *blake3::Hasher::new()
        .update(b"lockstep.verify.c-oracle\0")
        .update(cc.as_bytes())
        .update(b"\0-O1 -w\0")
        .update(c_source.as_bytes())
        .finalize()
        .as_bytes();
    if let Some(result) = cache.results.get(&key) {
        cache.hits += 1;
        return result.clone();
    }
    cache.compiles += 1;
    let name: String = key[..8].iter().map(|b| format!("{b:02x}")).collect();
    let result = compile_and_run_c(&cc, c_source, workdir, &format!("oracle-{name}"));
    cache.results.insert(key, result.clone());
    result
}

fn compile_and_run_c(cc: &str, c_source: &str, workdir: &Path, name: &str) -> Result<RunOutcome, String> {
    std::fs::create_dir_all(workdir).map_err(|e| format!("{}: {e}", workdir.display()))?;
    let c_path = workdir.join(format!("{name}.c"));
    let exe = workdir.join(name);
    std::fs::write(&c_path, c_source).map_err(|e| format!("{}: {e}", c_path.display()))?;
    let compiled = Command::new(cc)
        .args(["-O1", "-w", "-o"])
        .arg(&exe)
        .arg(&c_path)
        .output()
        .map_err(|e| format!("cannot run `{cc}`: {e}"))?;
    if !compiled.status.success() {
        // The source stays behind for whoever reads this message.
        return Err(format!(
            "`{cc} -O1 -w` failed on {}: {}",
            c_path.display(),
            String::from_utf8_lossy(&compiled.stderr).trim_end()
        ));
    }
    let result = run_executable(&exe, C_RUN_TIMEOUT);
    // The result is remembered; the files are no longer needed.
    let _ = std::fs::remove_file(&exe);
    let _ = std::fs::remove_file(&c_path);
    result
}

/// How one behaviour departs from the expected one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BehaviourDiff {
    /// Stdout differs first at this line (1-based); `None`: the output had ended.
    Stdout {
        line: usize,
        actual: Option<String>,
        expected: Option<String>,
    },
    /// One stopped on a division by zero, the other did not.
    DivisionByZero {
        actual: bool,
        expected: bool,
    },
    Status {
        actual: i32,
        expected: i32,
    },
}

/// `Ok` when `actual` behaves like `expected`: the same stdout, the same
/// status, and a division by zero in both or neither.
pub fn compare_behaviour(actual: &RunOutcome, expected: &RunOutcome) -> Result<(), BehaviourDiff> {
    if actual.stdout != expected.stdout {
        let actual_text = String::from_utf8_lossy(&actual.stdout);
        let expected_text = String::from_utf8_lossy(&expected.stdout);
        let (mut a, mut e) = (actual_text.split_inclusive('\n'), expected_text.split_inclusive('\n'));
        let mut line = 1;
        loop {
            match (a.next(), e.next()) {
                (Some(x), Some(y)) if x == y => line += 1,
                (x, y) => {
                    let show = |s: Option<&str>| s.map(|s| s.trim_end_matches('\n').to_string());
                    return Err(BehaviourDiff::Stdout { line, actual: show(x), expected: show(y) });
                }
            }
        }
    }
    if actual.divided_by_zero() != expected.divided_by_zero() {
        return Err(BehaviourDiff::DivisionByZero {
            actual: actual.divided_by_zero(),
            expected: expected.divided_by_zero(),
        });
    }
    if actual.status != expected.status {
        return Err(BehaviourDiff::Status { actual: actual.status, expected: expected.status });
    }
    Ok(())
}

impl fmt::Display for BehaviourDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show =
            |line: &Option<String>| line.as_ref().map_or("the end of the output".to_string(), |l| format!("`{l}`"));
        match self {
            BehaviourDiff::Stdout { line, actual, expected } => {
                write!(f, "stdout line {line} is {}, expected {}", show(actual), show(expected))
            }
            BehaviourDiff::DivisionByZero { actual, expected } => {
                let says = |yes: bool| if yes { "a division by zero" } else { "no division by zero" };
                write!(f, "{} reported, expected {}", says(*actual), says(*expected))
            }
            BehaviourDiff::Status { actual, expected } => write!(f, "exit status {actual}, expected {expected}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(stdout: &str, stderr: &str, status: i32) -> RunOutcome {
        RunOutcome { stdout: stdout.into(), stderr: stderr.into(), status }
    }

    #[test]
    fn behaviours_differ_by_stdout_division_by_zero_and_status_only() {
        let expected = outcome("1\n2\n", "", 0);
        let cases: &[(RunOutcome, Option<&str>)] = &[
            (outcome("1\n2\n", "some warning\n", 0), None),
            (outcome("1\n3\n", "", 0), Some("stdout line 2 is `3`, expected `2`")),
            (outcome("1\n", "", 0), Some("stdout line 2 is the end of the output, expected `2`")),
            (
                outcome("1\n2\n", "division by zero\n", 0),
                Some("a division by zero reported, expected no division by zero"),
            ),
            (outcome("1\n2\n", "", 3), Some("exit status 3, expected 0")),
        ];
        for (actual, diff) in cases {
            let got = compare_behaviour(actual, &expected).err().map(|d| d.to_string());
            assert_eq!(got.as_deref(), *diff, "{actual:?}");
        }
    }
}
