//! `lockstep verify`: random cases until the time or case budget is spent or an oracle fires; then the
//! failure is shrunk and written as a repro file.

use crate::program::import::import_project;
use crate::program::model::Program;
use crate::verify::case::{run_case, Case, Options, Size, Start, Stats};
use crate::verify::oracle::Failure;
use crate::verify::repro::Repro;
use crate::verify::shrink::shrink;
use crate::verify::strategy;
use crate::verify::BuildConfig;
use lockstep_core::bug_zoo::{self, Bug};
use lockstep_scheduler::clock::Stopwatch;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::path::PathBuf;
use std::time::Duration;

/// What `lockstep verify` was asked to do.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// A user's project to start from (a copy is edited); `None`: generated programs.
    pub dir: Option<PathBuf>,
    pub seed: u64,
    /// Most intents per case.
    pub steps: usize,
    /// Most cases (`None`: as many as the time allows).
    pub cases: Option<usize>,
    pub time_limit: Duration,
    pub size: Size,
    /// Fuzzed schedules per build step.
    pub schedules: usize,
    /// Workers of the main workspace's builds.
    pub jobs: usize,
    /// Where repro files go.
    pub repro_dir: PathBuf,
    /// Where workspaces go while cases run.
    pub scratch: PathBuf,
    /// The `lockstep` binary (for faults that need a child process).
    pub lockstep: PathBuf,
    /// Time allowed for shrinking a failure.
    pub shrink_budget: Duration,
    /// Show a progress bar on stderr (drawn only on a terminal).
    pub progress: bool,
    /// A planted defect to switch on for the run (`--inject-bug`; needs the `bug-zoo` feature).
    pub bug: Option<Bug>,
}

/// A failure, shrunk and written down.
#[derive(Clone, Debug)]
pub struct FoundFailure {
    /// As first found.
    pub original: Failure,
    /// After shrinking (what the repro file replays).
    pub shrunk: Failure,
    pub repro: Repro,
    pub repro_path: PathBuf,
    /// Time from the start of the run to the failing check.
    pub detected_after: Duration,
    /// Cases run while shrinking.
    pub shrink_trials: usize,
    pub shrink_time: Duration,
}

/// What a verify run did.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub seed: u64,
    pub cases: usize,
    pub stats: Stats,
    pub elapsed: Duration,
    pub failure: Option<FoundFailure>,
}

/// Runs `lockstep verify`.
pub fn verify(options: &VerifyOptions) -> Result<Summary, String> {
    bug_zoo::with_bug(options.bug, || verify_cases(options))?
}

/// The cases of a verify run, with its bug (if any) switched on.
fn verify_cases(options: &VerifyOptions) -> Result<Summary, String> {
    let clock = Stopwatch::start();
    let given = match &options.dir {
        Some(dir) => Some(import_project(dir).map_err(|e| e.to_string())?),
        None => None,
    };
    let progress = Progress::new(options);
    let mut case_options = Options::new(options.lockstep.clone(), options.scratch.clone());
    case_options.schedules = options.schedules.max(1);
    case_options.progress = progress.bar.clone();
    let mut runner = TestRunner::new_with_rng(Config::default(), seeded_rng(options.seed));
    let cases = strategy::case(options.steps);
    let mut summary = Summary { seed: options.seed, ..Summary::default() };
    while options.cases.is_none_or(|n| summary.cases < n) && clock.elapsed() < options.time_limit {
        let (program_seed, schedule_seed, intents) =
            cases.new_tree(&mut runner).map_err(|e| format!("drawing a case: {e}"))?.current();
        let case = Case {
            start: start(&given, program_seed, options.size),
            config: BuildConfig { jobs: options.jobs.max(1), ..BuildConfig::default() },
            schedule_seed,
            intents,
        };
        case_options.time_limit = Some(options.time_limit.saturating_sub(clock.elapsed()));
        let outcome = run_case(&case, &case_options)?;
        summary.cases += 1;
        summary.stats.merge(&outcome.stats);
        progress.case_done(&summary);
        if let Some(failure) = outcome.failure {
            let detected_after = clock.elapsed();
            progress.message(&format!("{failure}; shrinking"));
            summary.failure = Some(record_failure(&case, failure, detected_after, &case_options, options)?);
            break;
        }
    }
    progress.finish();
    summary.elapsed = clock.elapsed();
    Ok(summary)
}

fn start(given: &Option<Program>, seed: u64, size: Size) -> Start {
    match given {
        Some(program) => Start::Given(program.clone()),
        None => Start::Generated { seed, size },
    }
}

/// proptest's generator, seeded from `seed` alone: the same seed draws the same cases on every machine.
fn seeded_rng(seed: u64) -> TestRng {
    let bytes =
        *blake3::Hasher::new().update(b"lockstep verify seed").update(&seed.to_le_bytes()).finalize().as_bytes();
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// Shrinks a failure and writes its repro file.
fn record_failure(
    case: &Case,
    failure: Failure,
    detected_after: Duration,
    case_options: &Options,
    options: &VerifyOptions,
) -> Result<FoundFailure, String> {
    let clock = Stopwatch::start();
    let mut quiet = case_options.clone();
    quiet.progress = None;
    let shrunk = shrink(case, &failure, &quiet, options.shrink_budget);
    let shrink_time = clock.elapsed();
    let repro = Repro::new(
        shrunk.case.clone(),
        shrunk.guide.clone(),
        &shrunk.failure,
        options.bug.map(|b| b.name().to_string()),
    );
    std::fs::create_dir_all(&options.repro_dir).map_err(|e| format!("{}: {e}", options.repro_dir.display()))?;
    let name = match options.bug {
        Some(bug) => format!("lockstep-repro-{bug}-{}-{}.txt", options.seed, shrunk.failure.oracle),
        None => format!("lockstep-repro-{}-{}.txt", options.seed, shrunk.failure.oracle),
    };
    let repro_path = options.repro_dir.join(name);
    std::fs::write(&repro_path, repro.to_text()).map_err(|e| format!("{}: {e}", repro_path.display()))?;
    Ok(FoundFailure {
        original: failure,
        shrunk: shrunk.failure,
        repro,
        repro_path,
        detected_after,
        shrink_trials: shrunk.trials,
        shrink_time,
    })
}

/// The progress bar: drawn on stderr when it is a terminal, silent otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    limit: Duration,
}

impl Progress {
    fn new(options: &VerifyOptions) -> Progress {
        let bar = options.progress.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            let style = indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos} steps · {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar, limit: options.time_limit }
    }

    fn case_done(&self, summary: &Summary) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{} case(s), {} builds, {} schedules, no failure yet (limit {}s)",
                summary.cases,
                summary.stats.builds,
                summary.stats.schedules,
                self.limit.as_secs()
            ));
        }
    }

    fn message(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(text.to_string());
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
