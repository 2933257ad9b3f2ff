//! Fault steps: what a verify run does to a workspace between builds to
//! check that lockstep is crash-safe, self-healing and safe to run
//! concurrently. After each, the caller's next plain build must equal a
//! clean build.
//!
//! - [`kill_build`]: SIGKILL a `lockstep build` child part-way through;
//! - [`damage_work_dir`]: flip, truncate or delete files of the cache and
//!   the work directory (never the sources);
//! - [`race_builds`]: two `lockstep build` children on one project and cache;
//! - [`injected_failure`]: an in-process build whose codegen of one
//!   function fails on purpose.
//!
//! Every random choice comes from the step's `seed` through SplitMix64,
//! never from the clock, so a repro file's seed makes the same choices.
//! (When a SIGKILL lands inside the child still depends on timing; the
//! outcome says what happened.)

use crate::verify::build::{BuildExtras, BuildOutcome};
use crate::verify::config::BuildConfig;
use crate::verify::process::{signal_of, CapturedChild, Waited};
use crate::verify::workspace::Workspace;
use lockstep_core::bug_zoo;
use lockstep_core::driver;
use lockstep_core::engine::cache::{ArtifactCache, Layer};
use lockstep_core::engine::manifest::Manifest;
use lockstep_core::engine::session::staged_object_path;
use lockstep_core::mir::Symbol;
use lockstep_scheduler::fuzz::SplitMix64;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// How long a raced build may take before it counts as wedged. A small
/// program builds in well under a second; a minute means it is stuck.
pub const RACE_WATCHDOG: Duration = Duration::from_secs(60);

/// The exit status of a Rust program that panicked.
const PANIC_EXIT_STATUS: i32 = 101;

/// How a `lockstep build` child ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildEnd {
    /// It exited by itself with this status.
    Exited { code: i32 },
    /// The fault step killed it on purpose.
    Killed,
    /// A signal nobody here sent ended it (a crash: SIGSEGV, SIGABRT, ...).
    Signalled { signal: i32 },
    /// It was still running at the watchdog's deadline and was killed.
    Wedged,
    /// It could not be spawned, waited for or read (the reason).
    Unobserved { reason: String },
}

/// One `lockstep build` child, as observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildReport {
    pub end: ChildEnd,
    pub stderr: String,
    pub elapsed: Duration,
}

impl ChildReport {
    /// Whether lockstep panicked: a Rust panic exits with status 101 and
    /// says `panicked at` on stderr.
    pub fn panicked(&self) -> bool {
        self.end == ChildEnd::Exited { code: PANIC_EXIT_STATUS } || self.stderr.contains("panicked at")
    }

    pub fn wedged(&self) -> bool {
        self.end == ChildEnd::Wedged
    }

    pub fn succeeded(&self) -> bool {
        self.end == ChildEnd::Exited { code: 0 } && !self.panicked()
    }

    /// Succeeded, or failed the documented way (status 1, a message, no
    /// panic): what a build may do when something else got in its way.
    pub fn ended_cleanly(&self) -> bool {
        matches!(self.end, ChildEnd::Exited { code: 0 | 1 }) && !self.panicked()
    }
}

impl fmt::Display for ChildReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.end {
            ChildEnd::Exited { code } => write!(f, "exited with status {code}")?,
            ChildEnd::Killed => f.write_str("killed on purpose")?,
            ChildEnd::Signalled { signal } => write!(f, "killed by signal {signal}")?,
            ChildEnd::Wedged => write!(f, "wedged (still running after {:?}, killed)", self.elapsed)?,
            ChildEnd::Unobserved { reason } => write!(f, "could not be observed: {reason}")?,
        }
        if self.panicked() {
            f.write_str(", panicked")?;
        }
        match self.stderr.lines().find(|l| !l.trim().is_empty()) {
            Some(first) => write!(f, "; stderr: {}", first.trim()),
            None => Ok(()),
        }
    }
}

/// `lockstep build` of the workspace's project into `output`, with the
/// workspace's cache and `config`.
fn lockstep_build(workspace: &Workspace, config: &BuildConfig, lockstep: &Path, output: &Path) -> Command {
    let mut command = Command::new(lockstep);
    command
        .arg("build")
        .arg(workspace.project_dir())
        .arg("-o")
        .arg(output)
        .arg("--cache-dir")
        .arg(workspace.cache_dir())
        .args(config.cli_args());
    // The binary joins a `make` jobserver it inherits (cargo test passes
    // one); without it, `-j N` means N workers, as in-process builds.
    for variable in ["MAKEFLAGS", "CARGO_MAKEFLAGS", "MFLAGS"] {
        command.env_remove(variable);
    }
    // A planted bug (`--inject-bug`) is planted in the child too.
    match bug_zoo::current() {
        Some(bug) => command.env(bug_zoo::ENV_VAR, bug.name()),
        None => command.env_remove(bug_zoo::ENV_VAR),
    };
    command
}

/// Classifies a finished child; `killed_on_purpose` is whether this step
/// sent the SIGKILL that ended it.
fn child_report(child: CapturedChild, status: ExitStatus, killed_on_purpose: bool) -> ChildReport {
    let elapsed = child.elapsed();
    let (_, stderr) = match child.output() {
        Ok(output) => output,
        Err(e) => (Vec::new(), format!("(stderr unreadable: {e})").into_bytes()),
    };
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    let end = match (status.code(), signal_of(&status)) {
        (Some(code), _) => ChildEnd::Exited { code },
        (None, Some(_)) if killed_on_purpose => ChildEnd::Killed,
        (None, Some(signal)) => ChildEnd::Signalled { signal },
        (None, None) => ChildEnd::Unobserved { reason: format!("no exit status: {status}") },
    };
    ChildReport { end, stderr, elapsed }
}

fn unobserved(reason: impl fmt::Display) -> ChildReport {
    ChildReport {
        end: ChildEnd::Unobserved { reason: reason.to_string() },
        stderr: String::new(),
        elapsed: Duration::ZERO,
    }
}

/// What [`kill_build`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KillOutcome {
    /// When the SIGKILL was due, drawn from the seed.
    pub delay: Duration,
    /// The child: `Killed` if the signal landed, `Exited` if it finished first.
    pub child: ChildReport,
}

impl KillOutcome {
    /// Whether the build was killed part-way (rather than finishing first).
    pub fn killed(&self) -> bool {
        self.child.end == ChildEnd::Killed
    }

    pub fn panicked(&self) -> bool {
        self.child.panicked()
    }
}

/// Starts `lockstep build` on the workspace (its cache, its output, the
/// configuration of in-process builds) and sends it SIGKILL after a delay
/// drawn from `seed` in `0..=max_delay`. Pass about a clean build's
/// duration as `max_delay`, so kills land in every phase; a child that
/// finishes first is reported as such.
pub fn kill_build(
    workspace: &Workspace,
    config: &BuildConfig,
    lockstep: &Path,
    seed: u64,
    max_delay: Duration,
) -> KillOutcome {
    let mut rng = SplitMix64::new(seed);
    let max_ms = u64::try_from(max_delay.as_millis()).unwrap_or(u64::MAX - 1);
    let delay = Duration::from_millis(rng.below(max_ms + 1));
    let command = &mut lockstep_build(workspace, config, lockstep, &workspace.output_path());
    let mut child = match CapturedChild::spawn(command) {
        Ok(child) => child,
        Err(e) => return KillOutcome { delay, child: unobserved(format!("cannot spawn {}: {e}", lockstep.display())) },
    };
    let (status, killed_on_purpose) = match child.wait_until(delay) {
        Ok(Waited::Exited(status)) => (Ok(status), false),
        Ok(Waited::StillRunning) | Err(_) => (child.kill(), true),
    };
    let report = match status {
        Ok(status) => child_report(child, status, killed_on_purpose),
        Err(e) => unobserved(format!("waiting for the build: {e}")),
    };
    KillOutcome { delay, child: report }
}

/// What [`damage_work_dir`] did to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// Relative to the workspace root, `/`-separated (`cache/obj/…bin`).
    pub path: String,
    pub kind: DamageKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DamageKind {
    /// The byte at `offset` was XORed with `mask` (never 0).
    FlippedByte {
        offset: u64,
        mask: u8,
    },
    /// Cut from `from` bytes to `to` (`to < from`).
    Truncated {
        from: u64,
        to: u64,
    },
    Deleted,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DamageKind::FlippedByte { offset, mask } => write!(f, "{}: byte {offset:#x} ^= {mask:#04x}", self.path),
            DamageKind::Truncated { from, to } => write!(f, "{}: truncated from {from} to {to} bytes", self.path),
            DamageKind::Deleted => write!(f, "{}: deleted", self.path),
        }
    }
}

/// Damages one to three files of the workspace's build state, chosen by
/// `seed`: cache entries (and the cache's format stamp), the work
/// directory's manifests, module records and staged objects, and the
/// executable (whose file stamp the engine must notice). Sources are
/// never touched. Returns what was done, in the order it was done.
///
/// Three times in four (as the seed says) the damage is aimed at the *live*
/// state of the last build with `config` (see [`live_files`]): a cache
/// holds entries of many earlier states, and damage spread over all of them
/// would seldom touch a file the next build reads.
///
/// A file that cannot be damaged (it vanished, permissions) is skipped:
/// damage is a test input, and its absence is not a finding.
pub fn damage_work_dir(workspace: &Workspace, config: &BuildConfig, seed: u64) -> Vec<Damage> {
    let mut rng = SplitMix64::new(seed);
    let mut candidates = if rng.below(4) < 3 { live_files(workspace, config) } else { Vec::new() };
    if candidates.is_empty() {
        collect_files(&workspace.cache_dir(), &mut candidates);
        collect_files(&workspace.work_dir(), &mut candidates);
        if workspace.output_path().is_file() {
            candidates.push(workspace.output_path());
        }
    }
    // Sorted by path, so the seed picks the same files whatever order the
    // directory listing came in.
    candidates.sort();
    let wanted = 1 + rng.below(3) as usize;
    let mut done = Vec::new();
    while done.len() < wanted && !candidates.is_empty() {
        let file = candidates.remove(rng.index(candidates.len()));
        if let Some(kind) = damage_file(&file, &mut rng) {
            let relative = file.strip_prefix(workspace.root()).unwrap_or(&file);
            let path = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            done.push(Damage { path, kind });
        }
    }
    done
}

/// The files the last build with `config` left for the next one to read,
/// as its manifest names them: the manifest itself, the executable, and per
/// unit its staged object, its object entry and its IR pack. Only those that
/// exist.
pub fn live_files(workspace: &Workspace, config: &BuildConfig) -> Vec<PathBuf> {
    let options = config.build_options(workspace.project_dir(), workspace.cache_dir(), workspace.output_path());
    let manifest_path = driver::manifest_path_for(&options);
    let mut files = vec![manifest_path.clone(), workspace.output_path()];
    // Opening creates a missing cache directory; a build would create it too.
    let cache = ArtifactCache::open(workspace.cache_dir()).ok();
    if let (Some(manifest), Some(cache)) = (Manifest::load(&manifest_path), cache) {
        let staging = workspace.work_dir().join("objects");
        for record in manifest.units.values() {
            files.push(staged_object_path(&staging, &record.object_hash));
            files.push(cache.entry_path(Layer::Object, &record.object_key));
            files.push(cache.entry_path(Layer::Ir, &record.ir_pack));
        }
    }
    files.retain(|f| f.is_file());
    files.sort();
    files.dedup();
    files
}

/// Flips a byte, truncates or deletes `file`, as `rng` decides; an empty
/// file can only be deleted.
fn damage_file(file: &Path, rng: &mut SplitMix64) -> Option<DamageKind> {
    let mut bytes = std::fs::read(file).ok()?;
    let len = bytes.len() as u64;
    // Flips weigh three times the others: a flipped byte keeps the file's
    // length, so only a checksum can tell.
    let choice = rng.below(5);
    let kind = match choice {
        0 | 3 | 4 if len > 0 => {
            let offset = rng.below(len);
            let mask = 1 + rng.below(255) as u8;
            bytes[offset as usize] ^= mask;
            std::fs::write(file, &bytes).ok()?;
            DamageKind::FlippedByte { offset, mask }
        }
        1 if len > 0 => {
            let to = rng.below(len);
            bytes.truncate(to as usize);
            std::fs::write(file, &bytes).ok()?;
            DamageKind::Truncated { from: len, to }
        }
        _ => {
            std::fs::remove_file(file).ok()?;
            DamageKind::Deleted
        }
    };
    Some(kind)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => collect_files(&path, out),
            Ok(kind) if kind.is_file() => out.push(path),
            _ => {}
        }
    }
}

/// What [`race_builds`] saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaceOutcome {
    /// How long after the first build the second one started (from the seed).
    pub stagger: Duration,
    /// Whether both wrote the workspace's executable, or the second its own.
    pub shared_output: bool,
    pub first: ChildReport,
    pub second: ChildReport,
}

impl RaceOutcome {
    pub fn panicked(&self) -> bool {
        self.first.panicked() || self.second.panicked()
    }

    pub fn wedged(&self) -> bool {
        self.first.wedged() || self.second.wedged()
    }

    /// Both succeeded or failed the documented way.
    pub fn ended_cleanly(&self) -> bool {
        self.first.ended_cleanly() && self.second.ended_cleanly()
    }
}

/// Runs two `lockstep build` children on the workspace's project and
/// cache at once. The seed chooses the second's head start (0–20 ms
/// after the first) and whether both write the workspace's executable or
/// the second writes a sibling (removed afterwards). A child still
/// running after [`RACE_WATCHDOG`] is wedged: both are killed.
pub fn race_builds(workspace: &Workspace, config: &BuildConfig, lockstep: &Path, seed: u64) -> RaceOutcome {
    let mut rng = SplitMix64::new(seed);
    let stagger = Duration::from_millis(rng.below(21));
    let shared_output = rng.below(2) == 0;
    let second_output =
        if shared_output { workspace.output_path() } else { workspace.output_path().with_file_name("program-raced") };
    let first = CapturedChild::spawn(&mut lockstep_build(workspace, config, lockstep, &workspace.output_path()));
    let mut first = match first {
        Ok(child) => child,
        Err(e) => {
            let report = unobserved(format!("cannot spawn {}: {e}", lockstep.display()));
            return RaceOutcome { stagger, shared_output, first: report.clone(), second: report };
        }
    };
    // The head start, or less if the first build is done already.
    let _ = first.wait_until(stagger);
    let second = CapturedChild::spawn(&mut lockstep_build(workspace, config, lockstep, &second_output));
    let (first, second) = match second {
        Ok(second) => watch_both(first, second),
        Err(e) => {
            let first = watch_one(first);
            (first, unobserved(format!("cannot spawn {}: {e}", lockstep.display())))
        }
    };
    if !shared_output {
        let _ = std::fs::remove_file(&second_output);
    }
    RaceOutcome { stagger, shared_output, first, second }
}

/// Waits for one child under the watchdog.
fn watch_one(mut child: CapturedChild) -> ChildReport {
    match child.wait_until(RACE_WATCHDOG) {
        Ok(Waited::Exited(status)) => child_report(child, status, false),
        Ok(Waited::StillRunning) | Err(_) => wedged(child),
    }
}

/// Waits for both children; if either is still running at its
/// watchdog deadline, both still running are killed and reported wedged.
fn watch_both(mut first: CapturedChild, mut second: CapturedChild) -> (ChildReport, ChildReport) {
    let first_status = first.wait_until(RACE_WATCHDOG);
    let second_status = match first_status {
        // No point waiting out a second minute for the other one.
        Ok(Waited::StillRunning) | Err(_) => second.wait_until(Duration::ZERO),
        Ok(Waited::Exited(_)) => second.wait_until(RACE_WATCHDOG),
    };
    let report = |child: CapturedChild, status: std::io::Result<Waited>| match status {
        Ok(Waited::Exited(status)) => child_report(child, status, false),
        Ok(Waited::StillRunning) | Err(_) => wedged(child),
    };
    (report(first, first_status), report(second, second_status))
}

/// Kills a child that ran past its deadline and reports it wedged.
fn wedged(mut child: CapturedChild) -> ChildReport {
    let _ = child.kill();
    let elapsed = child.elapsed();
    let stderr = child.output().map(|(_, e)| String::from_utf8_lossy(&e).into_owned()).unwrap_or_default();
    ChildReport { end: ChildEnd::Wedged, stderr, elapsed }
}

/// An in-process build of the workspace whose codegen of `function` fails
/// on purpose. See [`check_injected_failure`] for what must follow.
pub fn injected_failure(workspace: &Workspace, config: &BuildConfig, function: Symbol) -> BuildOutcome {
    let extras = BuildExtras { faults: BTreeSet::from([function]), ..BuildExtras::default() };
    workspace.build(config, &extras)
}

/// Checks an [`injected_failure`] outcome: the build failed without a
/// panic, the only failure names `function`, and exactly what depends on
/// it was skipped (its module's link step and the final link).
pub fn check_injected_failure(outcome: &BuildOutcome, function: &Symbol) -> Result<(), String> {
    if let Some(panic) = &outcome.panic {
        return Err(format!("the build {panic}"));
    }
    if outcome.succeeded() {
        return Err(format!("the build succeeded although the codegen of `{function}` failed"));
    }
    let failed: Vec<Option<&str>> = outcome.report.failed.iter().map(|f| f.function.as_deref()).collect();
    let name = function.to_string();
    if failed != [Some(name.as_str())] {
        return Err(format!("expected exactly `{name}` to fail, the report lists {failed:?}"));
    }
    let mut expected = vec![format!("{}.o", function.module), "program".to_string()];
    expected.sort();
    if outcome.report.skipped != expected {
        return Err(format!("expected {expected:?} to be skipped, the report lists {:?}", outcome.report.skipped));
    }
    Ok(())
}
