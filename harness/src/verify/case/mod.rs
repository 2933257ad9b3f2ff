//! One verify case: a starting program, a configuration and a sequence of intents, carried out step by
//! step with the oracles after every build.
//!
//! A case owns two workspaces that see the same edits: the main one, built on threads as a user would,
//! and a schedule workspace, built under the fuzzed scheduler (a different seeded random or PCT schedule
//! every step). Both are compared with a clean build of the same sources and configuration into a fresh
//! cache. Faults strike the main workspace only.

mod fault_steps;
mod step;

use crate::program::generate::{generate, GenConfig};
use crate::program::model::Program;
use crate::program::predict::Knowledge;
use crate::verify::intent::{ConfigChange, Intent};
use crate::verify::oracle::{Failure, Oracle};
use crate::verify::{Artifacts, BuildConfig, CCache, CguSetting, RunOutcome, Workspace};
use lockstep_scheduler::clock::Stopwatch;
use lockstep_scheduler::fuzz::Schedule;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// How big generated starting programs are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Size {
    /// 3 to 5 modules of 3 to 6 functions.
    Small,
    /// 6 to 8 modules of 5 to 10 functions.
    Medium,
    /// 18 to 20 modules of 10 to 20 functions.
    Large,
}

impl Size {
    pub fn gen_config(self) -> GenConfig {
        match self {
            Size::Small => GenConfig::small(),
            Size::Medium => GenConfig { modules: 8, functions_per_module: 10, ..GenConfig::small() },
            Size::Large => GenConfig { modules: 20, functions_per_module: 20, ..GenConfig::small() },
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Medium => "medium",
            Size::Large => "large",
        }
    }

    pub fn parse(text: &str) -> Option<Size> {
        [Size::Small, Size::Medium, Size::Large].into_iter().find(|s| s.name() == text)
    }
}

/// Where a case's program comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// The generator's program for a seed and size.
    Generated { seed: u64, size: Size },
    /// A given program (a user's project, read into the model).
    Given(Program),
}

impl Start {
    pub fn program(&self) -> Program {
        match self {
            Start::Generated { seed, size } => generate(*seed, &size.gen_config()),
            Start::Given(program) => program.clone(),
        }
    }
}

/// Everything that determines a case's run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub start: Start,
    pub config: BuildConfig,
    /// Seeds the fuzzed schedules (and which strategy each step uses).
    pub schedule_seed: u64,
    pub intents: Vec<Intent>,
}

/// How often the costly oracles run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sampling {
    /// gcc's build of the C translation, every this many build steps (and at the first).
    pub gcc_every: usize,
    /// A `--verify-cache` build, every this many build steps (and at the second).
    pub verify_cache_every: usize,
}

impl Default for Sampling {
    fn default() -> Sampling {
        Sampling { gcc_every: 2, verify_cache_every: 4 }
    }
}

/// How a case is run (nothing here changes what a step means).
#[derive(Clone, Debug)]
pub struct Options {
    /// The `lockstep` binary, for faults that need a child process (kill, race).
    pub lockstep: PathBuf,
    /// Where the case's workspaces go (a fresh directory inside, removed afterwards).
    pub scratch: PathBuf,
    /// Run only this oracle (and the builds it needs): a shrinker's cheaper trial.
    pub only: Option<Oracle>,
    pub sampling: Sampling,
    /// Fuzzed schedules per build step (the schedule workspace is restored between them).
    pub schedules: usize,
    /// Build step `.0` of the schedule workspace follows this guide (a lenient replay) instead of its
    /// seeded strategy: how a shrunk schedule is replayed.
    pub guide: Option<(usize, Schedule)>,
    /// Stop (between steps) once this much time has gone.
    pub time_limit: Option<Duration>,
    /// Advanced by one per build step.
    pub progress: Option<indicatif::ProgressBar>,
    /// A planted mistake, to show that an oracle fires (`harness/tests/it/oracles.rs`).
    pub sabotage: Option<Sabotage>,
    /// Plant it only in steps of this kind (`body`, `global-init`, `fault-codegen`, ...).
    pub sabotage_kind: Option<String>,
}

/// A deliberate mistake planted in every build step of a case: a wrong expectation or a broken artifact.
/// Each names the oracle that must catch it; the tests run a case with each and see that oracle fire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sabotage {
    /// `build`: the program handed to the main build has a type error.
    InvalidProgram,
    /// `precision`: the prediction says this function (`module::name`) must be recompiled too.
    ExpectRecompile(String),
    /// `precision`: the model's key parts of every function claim a changed body.
    ExpectKeyChange,
    /// `clean-equality`: a byte of the main workspace's executable is flipped after its build.
    CorruptExecutable,
    /// `behaviour`: the interpreter is said to print one more line.
    WrongInterpreter,
    /// `behaviour`: the C translation prints one more line.
    WrongCTranslation,
    /// `schedule`: a byte of the schedule workspace's executable is flipped after its build.
    CorruptFuzzed,
    /// `verify-cache`: the object entries of the main cache rotate payloads (each re-encoded under its new
    /// key, so its checksum holds), as a key missing an input would leave them.
    ForgeCacheEntries,
    /// `diagnostics`: a broken build is expected to name a module that does not exist.
    ExpectErrorElsewhere,
    /// `faults`: an injected codegen failure is expected to name another function.
    WrongFaultTarget,
}

impl Options {
    pub fn new(lockstep: PathBuf, scratch: PathBuf) -> Options {
        Options {
            lockstep,
            scratch,
            only: None,
            sampling: Sampling::default(),
            schedules: 1,
            guide: None,
            time_limit: None,
            progress: None,
            sabotage: None,
            sabotage_kind: None,
        }
    }

    fn runs(&self, oracle: Oracle) -> bool {
        self.only.is_none_or(|o| o == oracle)
    }
}

/// Time spent on steps of one kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindTiming {
    pub steps: usize,
    /// The main workspace's builds.
    pub incremental: Duration,
    /// The clean builds of the same steps.
    pub clean: Duration,
}

/// What a case did, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Build steps carried out.
    pub steps: usize,
    /// Intents that did not apply to the program they met.
    pub not_applicable: usize,
    /// Builds of every kind (main, clean, schedule, verify-cache, failing, child processes).
    pub builds: usize,
    /// Fuzzed schedules explored.
    pub schedules: usize,
    /// Checks made, per oracle.
    pub checks: BTreeMap<Oracle, usize>,
    /// Layer 1 lookups of the main workspace's builds: hits, misses.
    pub ir: (usize, usize),
    /// Layer 2 lookups of the main workspace's builds: hits, misses.
    pub objects: (usize, usize),
    /// Per step kind (`body`, `revert`, `config-release`, ...).
    pub timing: BTreeMap<String, KindTiming>,
    /// Time spent in the case.
    pub elapsed: Duration,
}

impl Stats {
    fn check(&mut self, oracle: Oracle) {
        *self.checks.entry(oracle).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Stats) {
        self.steps += other.steps;
        self.not_applicable += other.not_applicable;
        self.builds += other.builds;
        self.schedules += other.schedules;
        for (o, n) in &other.checks {
            *self.checks.entry(*o).or_default() += n;
        }
        self.ir = (self.ir.0 + other.ir.0, self.ir.1 + other.ir.1);
        self.objects = (self.objects.0 + other.objects.0, self.objects.1 + other.objects.1);
        for (kind, t) in &other.timing {
            let mine = self.timing.entry(kind.clone()).or_default();
            mine.steps += t.steps;
            mine.incremental += t.incremental;
            mine.clean += t.clean;
        }
        self.elapsed += other.elapsed;
    }
}

/// The result of a case.
#[derive(Clone, Debug, Default)]
pub struct CaseOutcome {
    pub failure: Option<Failure>,
    pub stats: Stats,
    /// One line per step: what was done and what the build reported.
    pub trace: Vec<String>,
    /// True when the time limit stopped the case before its last intent.
    pub cut_short: bool,
}

/// Runs a case. Errors that are the harness's own (a scratch directory that cannot be made) are `Err`;
/// everything lockstep does wrong is a [`Failure`] in the outcome.
pub fn run_case(case: &Case, options: &Options) -> Result<CaseOutcome, String> {
    let clock = Stopwatch::start();
    let mut run = CaseRun::new(case, options)?;
    let outcome = run.run(case, &clock);
    let mut outcome = outcome;
    outcome.stats.elapsed = clock.elapsed();
    Ok(outcome)
}

/// How far the build report of the next build can be predicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PrecisionMode {
    /// Bounds hold (exact unless a fallback is named).
    Checked,
    /// Only "never seen, so must be recompiled" holds (after damage).
    LowerBound,
    /// Nothing (after a killed or racing build compiled who knows what).
    Unknown,
}

/// Key parts by function: the model's, and the engine's as its manifest records them.
type PartsSnapshot =
    (BTreeMap<String, crate::program::predict::Parts>, BTreeMap<String, [lockstep_core::engine::hash::ContentHash; 4]>);

/// The state of a running case.
struct CaseRun<'o> {
    options: &'o Options,
    /// Kept for its `Drop`, which removes the case's directory.
    _dir: tempfile::TempDir,
    scratch: PathBuf,
    main: Workspace,
    fuzzed: Workspace,
    model: Program,
    config: BuildConfig,
    schedule_seed: u64,
    /// Programs of the successful build steps, oldest first (the last is the current one).
    history: Vec<Program>,
    knowledge: Knowledge,
    precision: PrecisionMode,
    /// Whether "nothing changed, so no relink" can be asserted for the next build.
    relink_known: bool,
    /// The model's and the engine's key parts at the previous build (see `check_key_parts`).
    previous_parts: Option<PartsSnapshot>,
    /// Whether the engine's recorded key parts can be trusted (not after damage to the manifest).
    parts_known: bool,
    /// Damage struck since the last `--verify-cache` build: the next build step runs one, because every
    /// entry the cache still serves after damage must be sound (a damaged one must be a miss).
    verify_after_damage: bool,
    /// The bytes of the last executable a successful main build wrote.
    last_good_exe: Option<Vec<u8>>,
    ccache: CCache,
    /// Clean builds by (sources, configuration): a revisited state is built clean once.
    clean_builds: BTreeMap<([u8; 32], String), (Artifacts, Duration)>,
    /// Behaviour of executables and interpretations by content hash.
    runs: BTreeMap<[u8; 32], RunOutcome>,
    /// Duration of the last clean build, for the kill fault's delay.
    last_clean: Duration,
    stats: Stats,
    trace: Vec<String>,
    step: usize,
    /// The kind of the step under way (for timings and sabotage).
    kind: String,
}

impl<'o> CaseRun<'o> {
    fn new(case: &Case, options: &'o Options) -> Result<CaseRun<'o>, String> {
        std::fs::create_dir_all(&options.scratch).map_err(|e| format!("{}: {e}", options.scratch.display()))?;
        let dir = tempfile::Builder::new()
            .prefix("case-")
            .tempdir_in(&options.scratch)
            .map_err(|e| format!("{}: {e}", options.scratch.display()))?;
        let workspace = |name: &str| Workspace::create(dir.path().join(name)).map_err(|e| format!("{name}: {e}"));
        let (main, fuzzed) = (workspace("main")?, workspace("fuzzed")?);
        Ok(CaseRun {
            options,
            scratch: dir.path().join("scratch"),
            _dir: dir,
            main,
            fuzzed,
            model: case.start.program(),
            config: case.config,
            schedule_seed: case.schedule_seed,
            history: Vec::new(),
            knowledge: Knowledge::default(),
            precision: PrecisionMode::Checked,
            relink_known: true,
            previous_parts: None,
            parts_known: true,
            verify_after_damage: false,
            last_good_exe: None,
            ccache: CCache::new(),
            clean_builds: BTreeMap::new(),
            runs: BTreeMap::new(),
            last_clean: Duration::from_millis(200),
            stats: Stats::default(),
            trace: Vec::new(),
            step: 0,
            kind: String::new(),
        })
    }

    fn run(&mut self, case: &Case, clock: &Stopwatch) -> CaseOutcome {
        let mut failure = self.build_step(None, "start", "the starting program".to_string()).err();
        let mut cut_short = false;
        for (i, intent) in case.intents.iter().enumerate() {
            if failure.is_some() {
                break;
            }
            if self.options.time_limit.is_some_and(|limit| clock.elapsed() >= limit) {
                cut_short = true;
                break;
            }
            failure = self.intent(i, intent).err();
        }
        CaseOutcome {
            failure,
            stats: std::mem::take(&mut self.stats),
            trace: std::mem::take(&mut self.trace),
            cut_short,
        }
    }

    /// Carries out one intent.
    fn intent(&mut self, i: usize, intent: &Intent) -> Result<(), Failure> {
        let kind = intent.kind();
        match intent {
            Intent::Edit(edit) => match edit.apply(&mut self.model) {
                Ok(applied) => self.build_step(Some(i), &kind, applied.description),
                Err(why) => {
                    self.not_applicable(i, intent, &why.0);
                    Ok(())
                }
            },
            Intent::Break { parse, target } => {
                self.broken_step(i, *parse, *target)?;
                self.build_step(Some(i), &format!("{kind}-fix"), "the break fixed".to_string())
            }
            Intent::Revert { back } => {
                if self.history.len() < 2 {
                    self.not_applicable(i, intent, "no earlier state");
                    return Ok(());
                }
                let earlier = self.history.len() - 2 - usize::from(*back) % (self.history.len() - 1);
                self.model = self.history[earlier].clone();
                let steps_back = self.history.len() - 1 - earlier;
                self.build_step(Some(i), &kind, format!("revert to the program of {steps_back} build(s) ago"))
            }
            Intent::Config(change) => {
                self.apply_config(*change);
                self.build_step(Some(i), &kind, format!("configuration now `{}`", self.config))
            }
            Intent::Fault(fault) => self.fault_step(i, *fault),
        }
    }

    fn apply_config(&mut self, change: ConfigChange) {
        match change {
            ConfigChange::Release => self.config.release = !self.config.release,
            ConfigChange::Lto => self.config.lto = !self.config.lto,
            ConfigChange::Cgu(mode) => {
                self.config.cgu = match mode % 4 {
                    0 => CguSetting::default(),
                    1 => CguSetting::Partition { size: 4 },
                    2 => CguSetting::Module,
                    _ => CguSetting::Function,
                }
            }
            ConfigChange::Jobs(j) => self.config.jobs = usize::from(j.clamp(1, 4)),
        }
    }

    fn not_applicable(&mut self, i: usize, intent: &Intent, why: &str) {
        self.stats.not_applicable += 1;
        self.trace.push(format!("intent {i} `{intent}`: not applicable ({why})"));
    }

    /// Whether the planted mistake `s` applies to the step under way.
    fn sabotaged(&self, s: &Sabotage) -> bool {
        self.options.sabotage.as_ref() == Some(s) && self.kind_sabotaged()
    }

    fn kind_sabotaged(&self) -> bool {
        self.options.sabotage_kind.as_ref().is_none_or(|k| *k == self.kind)
    }

    fn fail(&self, oracle: Oracle, intent: Option<usize>, action: &str, detail: String) -> Failure {
        Failure {
            oracle,
            step: self.step,
            intent,
            action: action.to_string(),
            detail,
            schedule: None,
            preemptions: None,
        }
    }
}
