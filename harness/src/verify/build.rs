//! Building a [`Workspace`] in-process, and the reference clean build.
//!
//! Builds run through `lockstep_core::driver::build`, the same entry point
//! the binary uses, so an oracle judges exactly what a user would get. A
//! panic in the engine is caught and returned as a failed outcome
//! ([`BuildOutcome::panic`]): a verify run must report it with its repro,
//! not die with it.

use crate::verify::artifacts::Artifacts;
use crate::verify::config::BuildConfig;
use crate::verify::workspace::Workspace;
use lockstep_core::driver::{self, BuildOptions, Scheduling};
use lockstep_core::engine::report::{BuildReport, Failure};
use lockstep_core::mir::Symbol;
use lockstep_scheduler::clock::Stopwatch;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// What a build does besides its configuration: how it is scheduled and
/// which testing aids are on. The default is a plain threaded build.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildExtras {
    /// Threads, a fuzzed [`Strategy`](lockstep_scheduler::fuzz::Strategy),
    /// or a lenient replay of a guide schedule (see `schedule.rs`).
    pub scheduling: Scheduling,
    /// `--verify-cache`: recompile every hit and fail on a mismatch.
    pub verify_cache: bool,
    /// `--inject-fault`: functions whose codegen fails on purpose.
    pub faults: BTreeSet<Symbol>,
}

/// What one build did.
#[derive(Clone, Debug)]
pub struct BuildOutcome {
    /// The engine's report; for a build that failed before the engine ran
    /// (bad sources), the failure report the binary would write.
    pub report: BuildReport,
    /// The rendered `BuildError` (diagnostics, failed functions) when the
    /// build failed.
    pub error: Option<String>,
    /// How the engine died, when it did (a bug, never an acceptable way to
    /// fail): `panicked: MESSAGE`, or `wedged: ...` when the build gave no
    /// result before the watchdog's deadline.
    pub panic: Option<String>,
    /// The executable, when the build succeeded.
    pub exe: Option<PathBuf>,
    /// Wall-clock time of the build (for summaries; never for a decision).
    pub elapsed: Duration,
}

impl BuildOutcome {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.panic.is_none()
    }
}

impl Workspace {
    /// The driver's options for building this workspace.
    pub fn build_options(&self, config: &BuildConfig, extras: &BuildExtras) -> BuildOptions {
        let mut options = config.build_options(self.project_dir(), self.cache_dir(), self.output_path());
        options.scheduling = extras.scheduling.clone();
        options.verify_cache = extras.verify_cache;
        options.faults = extras.faults.clone();
        options
    }

    /// Builds the workspace in this process, with its cache and output.
    pub fn build(&self, config: &BuildConfig, extras: &BuildExtras) -> BuildOutcome {
        build_with_options(&self.build_options(config, extras))
    }

    /// What the last successful build with `config` produced.
    pub fn artifacts(&self, config: &BuildConfig) -> Result<Artifacts, String> {
        Artifacts::read(self, config)
    }
}

/// The longest in-process build seen so far, in milliseconds: the
/// watchdog's scale.
static LONGEST_BUILD_MS: AtomicU64 = AtomicU64::new(0);

/// How long an in-process build may run before it counts as wedged: five
/// seconds, or five times the longest build this process has seen. A small
/// program builds in well under a second; a lost wake-up never finishes.
fn watchdog() -> Duration {
    let longest = Duration::from_millis(LONGEST_BUILD_MS.load(Ordering::Relaxed));
    (longest * 5).max(Duration::from_secs(5))
}

/// Runs `driver::build(options)` on a thread of its own, timing it, catching
/// a panic, and giving up on it after the [`watchdog`]: a build that never
/// returns (a deadlock, a lost wake-up) must fail the run, not stall it. The
/// wedged thread is left blocked; the workspace it holds is not used again.
pub fn build_with_options(options: &BuildOptions) -> BuildOutcome {
    let stopwatch = Stopwatch::start();
    let (sender, receiver) = mpsc::channel();
    let thread_options = options.clone();
    let spawned = std::thread::Builder::new().name("verify-build".into()).spawn(move || {
        // The engine's state is per build (nothing global survives a build),
        // so observing it after a panic cannot see anything half-updated.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| driver::build(&thread_options)));
        let _ = sender.send(result);
    });
    let deadline = watchdog();
    let result = match spawned {
        Err(e) => Err(format!("the build thread could not start: {e}")),
        Ok(_) => match receiver.recv_timeout(deadline) {
            Ok(result) => Ok(result),
            Err(_) => Err(format!(
                "wedged: the build gave no result within {}s (a lost wake-up or a deadlock)",
                deadline.as_secs()
            )),
        },
    };
    let elapsed = stopwatch.elapsed();
    let result = match result {
        Ok(result) => result,
        // A wedged build is not a measure of how long builds take.
        Err(death) => return died(options, death, elapsed),
    };
    LONGEST_BUILD_MS.fetch_max(elapsed.as_millis() as u64, Ordering::Relaxed);
    match result {
        Ok(Ok(report)) => BuildOutcome { report, error: None, panic: None, exe: Some(options.output_path()), elapsed },
        Ok(Err(error)) => BuildOutcome {
            report: driver::failure_report(&error, options),
            error: Some(error.to_string()),
            panic: None,
            exe: None,
            elapsed,
        },
        Err(payload) => died(options, format!("panicked: {}", panic_message(payload.as_ref())), elapsed),
    }
}

/// The outcome of a build that panicked or wedged.
fn died(options: &BuildOptions, death: String, elapsed: Duration) -> BuildOutcome {
    let report = BuildReport {
        status: "failed",
        cgu: options.cgu.name(),
        failed: vec![Failure { function: None, unit: None, error: death.clone() }],
        ..BuildReport::default()
    };
    BuildOutcome { report, error: None, panic: Some(death), exe: None, elapsed }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// The reference build: `files` written into a fresh workspace under
/// `scratch_dir` with a fresh cache, built at `-j1` on threads with
/// `config`'s other settings, its artifacts read, and the workspace deleted.
///
/// Returns the outcome (whose `exe` is gone with the workspace), and the
/// artifacts when the build succeeded. `Err`
/// means the reference itself could not be made: the scratch directory was
/// unusable, or a successful build left no readable artifacts (an engine
/// bug, said as such).
pub fn clean_build(
    files: &[(String, String)],
    config: &BuildConfig,
    scratch_dir: &Path,
) -> Result<(BuildOutcome, Option<Artifacts>), String> {
    std::fs::create_dir_all(scratch_dir).map_err(|e| format!("{}: {e}", scratch_dir.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix("clean-")
        .tempdir_in(scratch_dir)
        .map_err(|e| format!("{}: {e}", scratch_dir.display()))?;
    let workspace = Workspace::create(scratch.path()).map_err(|e| format!("{}: {e}", scratch.path().display()))?;
    workspace.sync_sources(files).map_err(|e| format!("{}: {e}", workspace.project_dir().display()))?;
    let reference = BuildConfig { jobs: 1, ..*config };
    let mut outcome = workspace.build(&reference, &BuildExtras::default());
    let artifacts = if outcome.succeeded() {
        let read = workspace.artifacts(&reference);
        Some(read.map_err(|e| format!("the clean build succeeded but its artifacts are unreadable: {e}"))?)
    } else {
        None
    };
    // Dropping the directory deletes it (a failure to delete only leaves
    // litter in the caller's scratch directory), and the executable with
    // it: its bytes are in the artifacts.
    drop(scratch);
    outcome.exe = None;
    Ok((outcome, artifacts))
}
