//! The `lockstep` command line: `build`, `run` and `check` a `.lks` project,
//! look after the artifact cache, and `verify` the pipeline with the harness
//! (`replay` runs a repro file again).

use clap::{Parser, Subcommand, ValueEnum};
use lockstep_core::bug_zoo::{self, Bug};
use lockstep_core::diagnostic::DiagnosticStyle;
use lockstep_core::driver::{self, BuildOptions, Scheduling};
use lockstep_core::engine::cache::{parse_size, ArtifactCache};
use lockstep_core::engine::remote::{RemoteConfig, RemoteMode, RemoteTier};
use lockstep_core::engine::report::BuildReport;
use lockstep_core::engine::session::CguMode;
use lockstep_core::engine::trace::{BuildTrace, Lane, Trace};
use lockstep_core::llvm::OptLevel;
use lockstep_harness::progress::BuildProgress;
use lockstep_harness::timings;
use lockstep_harness::verify::case::Size;
use lockstep_harness::verify::repro::{self, Replayed, Repro};
use lockstep_harness::verify::runner::{self, VerifyOptions};
use lockstep_harness::verify::zoo;
use lockstep_scheduler::fuzz::Strategy;
use lockstep_scheduler::parallelism::Parallelism;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// lockstep: an incremental, parallel LLVM code generation and link pipeline.
///
/// A project is a directory of `.lks` modules whose root is `main.lks`. Try:
///
///   lockstep run examples/tour            build it, then run it
///   lockstep build examples/tour --report r.json
///   lockstep build examples/tour --explain main::tri
///
/// Builds are incremental: a body edit recompiles one function, a
/// signature edit its callers too, a comment edit nothing. Artifacts are
/// cached in DIR/.lockstep/cache (or --cache-dir). Errors in the program are
/// reported as `FILE:LINE:COL: error: MESSAGE` with exit status 1.
#[derive(Debug, Parser)]
#[command(name = "lockstep", version, about, long_about, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// No progress bar and no notes; errors and warnings only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Log what the build does on stderr (-v: a summary per build, -vv:
    /// phases and every function's invalidation decision). LOCKSTEP_LOG
    /// (e.g. `lockstep_core::engine::invalidation=debug`) overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// What `-q` and `-v` ask for, for everything that prints.
#[derive(Clone, Copy, Debug)]
struct Verbosity {
    quiet: bool,
}

/// Structured logs: events from the engine (`tracing`), filtered by
/// LOCKSTEP_LOG when it is set, otherwise by `-v`, written to stderr.
fn init_logging(quiet: bool, verbose: u8) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOCKSTEP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .try_init();
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile a project to a native executable.
    Build {
        #[command(flatten)]
        build: BuildArgs,
        /// Where to write the executable [default: DIR/.lockstep/out/NAME].
        #[arg(short = 'o', long = "output", value_name = "EXE")]
        output: Option<PathBuf>,
    },
    /// Build a project, then run it; exits with the program's exit status.
    Run {
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Parse and type-check a project without generating code.
    Check {
        /// The project directory (containing `main.lks`).
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = Diagnostics::Short)]
        diagnostics: Diagnostics,
        /// `json`: one JSON object per diagnostic on stderr, rustc style.
        #[arg(long, value_enum, value_name = "FORMAT", default_value_t = MessageFormat::Human)]
        message_format: MessageFormat,
    },
    /// Inspect or trim the artifact cache.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
    /// The harness: random edit sequences, each incremental build checked against a clean build, the
    /// interpreter, gcc, fuzzed schedules and faults. Exits 0 only if every oracle held.
    Verify(VerifyArgs),
    /// Replay a repro file written by `verify`; exits 1 while the failure is still there.
    Replay {
        /// The repro file.
        file: PathBuf,
    },
    /// Benchmarks run from the outside, as a user would.
    Bench {
        #[command(subcommand)]
        action: BenchAction,
    },
}

#[derive(Debug, Subcommand)]
enum BenchAction {
    /// lockstep beside make + gcc (and clang) and cargo's incremental rustc
    /// on the same generated program: clean, no-op, body, comment and
    /// signature edits, at debug and release, with one linker for all.
    Peers(lockstep_harness::peers::PeersArgs),
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// A `.lks` project to start from (a copy is edited) [default: generated programs].
    dir: Option<PathBuf>,
    /// Seeds everything: programs, edits, schedules.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Most edits per case.
    #[arg(long, default_value_t = 12)]
    steps: usize,
    /// Most cases [default: as many as the time limit allows].
    #[arg(long)]
    cases: Option<usize>,
    /// Stop starting new steps after this many seconds.
    #[arg(long = "time-limit", value_name = "SECS", default_value_t = 60)]
    time_limit: u64,
    /// Size of generated programs.
    #[arg(long, value_enum, default_value_t = SizeArg::Small)]
    size: SizeArg,
    /// Fuzzed schedules per build step.
    #[arg(long, default_value_t = 1)]
    schedules: usize,
    /// Codegen workers of the incremental builds.
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 2)]
    jobs: usize,
    /// Also write the summary as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Where repro files go.
    #[arg(long, value_name = "DIR", default_value = "lockstep-repros")]
    repro_dir: PathBuf,
    /// Seconds allowed for shrinking a failure.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    shrink_time: u64,
    /// Plant a bug of the bug zoo for the run (a build with `--features bug-zoo`).
    #[arg(long, value_name = "NAME", conflicts_with = "zoo")]
    inject_bug: Option<String>,
    /// List the bug zoo's bugs, one line each, and exit.
    #[arg(long)]
    list_bugs: bool,
    /// Run verify once per zoo bug (the time limit is each bug's budget) and print what was caught.
    #[arg(long)]
    zoo: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SizeArg {
    Small,
    Medium,
    Large,
}

#[derive(Debug, Subcommand)]
enum CacheAction {
    /// Entries and bytes per layer.
    Stats {
        #[arg(long, value_name = "DIR", default_value = ".lockstep/cache")]
        cache_dir: PathBuf,
        /// Also show the remote tier [env: LOCKSTEP_REMOTE_CACHE].
        #[arg(long, value_name = "URL")]
        remote_cache: Option<String>,
    },
    /// Evict least recently used entries until the cache fits, and collect
    /// the work directory's unreferenced link inputs and old manifests.
    Gc {
        #[arg(long, value_name = "DIR", default_value = ".lockstep/cache")]
        cache_dir: PathBuf,
        /// Upper bound, e.g. `500M`, `2G`, `65536`.
        #[arg(long, value_name = "SIZE")]
        max_size: String,
        /// The work directory whose `objects/` and `state/` to collect too
        /// (skipped if it does not exist).
        #[arg(long, value_name = "DIR", default_value = ".lockstep")]
        work_dir: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct BuildArgs {
    /// The project directory (containing `main.lks`).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Optimise with LLVM's O2 pipeline (debug builds run no LLVM passes).
    #[arg(long)]
    release: bool,
    /// LLVM target triple [default: the host]. Only host objects are
    /// linked; for another target the objects go to the output directory.
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
    /// The C compiler driver used to link [default: $LOCKSTEP_CC or `cc`].
    #[arg(long, value_name = "CC")]
    linker: Option<PathBuf>,
    /// The linker the driver runs (`-fuse-ld=NAME`), or `default` for the
    /// driver's own [default: $LOCKSTEP_LD, else the first of gold, lld and
    /// mold on PATH when the driver is `cc`, else the driver's own].
    #[arg(long, value_name = "NAME")]
    ld: Option<String>,
    /// How to show errors in the program: one line each, or with the source.
    #[arg(long, value_enum, default_value_t = Diagnostics::Short)]
    diagnostics: Diagnostics,
    /// `json`: one JSON object per diagnostic on stderr, rustc style, for
    /// editors (`human`: as --diagnostics says).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = MessageFormat::Human)]
    message_format: MessageFormat,
    /// The artifact cache [default: DIR/.lockstep/cache]. Builds may share one.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Codegen units: per module, per function (merged per module with
    /// `ld -r`), or hashed partitions of about `--cgu-size` functions.
    #[arg(long, value_enum, default_value_t = Cgu::Partition)]
    cgu: Cgu,
    /// Functions per unit, on average, for `--cgu partition`.
    #[arg(long, value_name = "N", default_value_t = CguMode::DEFAULT_PARTITION_SIZE)]
    cgu_size: u32,
    /// Link-time optimisation: cache LLVM bitcode, merge and optimise it at
    /// link time.
    #[arg(long)]
    lto: bool,
    /// Recompile every cache hit and fail loudly if it differs.
    #[arg(long)]
    verify_cache: bool,
    /// Write a JSON report of what the build did (also when it fails).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Say why MODULE::FUNCTION was or was not recompiled.
    #[arg(long, value_name = "MODULE::FUNCTION")]
    explain: Option<String>,
    /// Codegen workers [default: available parallelism; a `make` jobserver
    /// is honoured].
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    jobs: Option<usize>,
    /// Build under the deterministic fuzzed scheduler: `random:SEED` or
    /// `pct:SEED:DEPTH` (a testing aid: one OS thread, replayable).
    #[arg(long, value_name = "STRATEGY")]
    schedule: Option<String>,
    /// Write the fuzzed scheduler's schedule string to FILE.
    #[arg(long, value_name = "FILE")]
    schedule_trace: Option<PathBuf>,
    /// Replay a schedule written by --schedule-trace.
    #[arg(long, value_name = "FILE", conflicts_with = "schedule")]
    replay_schedule: Option<PathBuf>,
    /// Make the codegen of MODULE::FUNCTION fail: `codegen:MODULE::FUNCTION`
    /// (a testing aid for failure handling; repeatable).
    #[arg(long, value_name = "codegen:MODULE::FUNCTION")]
    inject_fault: Vec<String>,
    /// Write a timings page (one lane per worker, a bar per codegen unit,
    /// concurrency, phases, slowest units) to
    /// DIR/.lockstep/timings/lockstep-timings.html and print its path;
    /// `--timings=json` writes the same data as JSON beside it.
    #[arg(long, value_enum, value_name = "FORMAT", num_args = 0..=1, require_equals = true, default_missing_value = "html")]
    timings: Option<TimingsFormat>,
    /// After the build, shrink the cache to SIZE (least recently used
    /// entries first, e.g. `500M`) and collect unreferenced link inputs and
    /// old manifests: the work directory stays bounded however many edits
    /// are built.
    #[arg(long, value_name = "SIZE")]
    max_cache_size: Option<String>,
    /// A cache shared past this machine, behind the local one:
    /// `redis://[:PASSWORD@]HOST[:PORT][/DB]` or `file:///DIR`
    /// [env: LOCKSTEP_REMOTE_CACHE]. Entries are checked
    /// against their key and checksum before use; a store that is down or
    /// slow means one warning and a local build.
    #[arg(long, value_name = "URL")]
    remote_cache: Option<String>,
    /// Which directions the remote cache serves.
    #[arg(long, value_name = "MODE", value_parser = ["read", "write", "read-write"], default_value = "read-write")]
    remote_cache_mode: String,
    /// Write a Chrome trace-event file of the build (phases, each unit on
    /// its worker, link steps, cache reads and writes): open it in
    /// https://ui.perfetto.dev or chrome://tracing.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TimingsFormat {
    Html,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Diagnostics {
    Short,
    Rich,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Cgu {
    Module,
    Function,
    Partition,
}

/// How diagnostics are printed, as cargo's `--message-format` says it.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum MessageFormat {
    Human,
    Json,
}

fn diagnostic_style(diagnostics: Diagnostics, format: MessageFormat) -> DiagnosticStyle {
    match format {
        MessageFormat::Json => DiagnosticStyle::Json,
        MessageFormat::Human => diagnostics.into(),
    }
}

impl From<Diagnostics> for DiagnosticStyle {
    fn from(d: Diagnostics) -> DiagnosticStyle {
        match d {
            Diagnostics::Short => DiagnosticStyle::Short,
            Diagnostics::Rich => DiagnosticStyle::Rich,
        }
    }
}

impl BuildArgs {
    fn options(&self, output: Option<PathBuf>, parallelism: &Parallelism) -> Result<BuildOptions, String> {
        let mut options = BuildOptions::new(&self.dir);
        // The process exits after one build (`run` after running it).
        options.free_front_end = false;
        options.output = output;
        options.opt = if self.release { OptLevel::Release } else { OptLevel::Debug };
        options.target = self.target.clone();
        options.linker = self.linker.clone();
        options.ld = self.ld.clone();
        options.diagnostics = diagnostic_style(self.diagnostics, self.message_format);
        options.cache_dir = self.cache_dir.clone();
        options.cgu = match self.cgu {
            Cgu::Module => CguMode::Module,
            Cgu::Function => CguMode::Function,
            Cgu::Partition => CguMode::Partition { size: self.cgu_size },
        };
        if self.cgu_size == 0 {
            return Err("--cgu-size needs at least 1 function per unit".to_string());
        }
        options.lto = self.lto;
        options.verify_cache = self.verify_cache;
        options.explain = self.explain.clone();
        if self.jobs == Some(0) {
            return Err("-j needs at least 1 worker".to_string());
        }
        options.jobs = self.jobs;
        options.parallelism = Some(parallelism.clone());
        if let Some(text) = &self.schedule {
            let strategy: Strategy = text.parse().map_err(|e| format!("--schedule {text}: {e}"))?;
            options.scheduling = Scheduling::Fuzzed(strategy);
        }
        if let Some(path) = &self.replay_schedule {
            let schedule = driver::load_schedule(path).map_err(|e| e.to_string())?;
            options.scheduling = Scheduling::Fuzzed(Strategy::Replay(schedule));
        }
        if let Some(jobs) = self.jobs {
            options.virtual_workers = jobs;
        }
        let remote = self.remote_cache.clone().or_else(|| std::env::var("LOCKSTEP_REMOTE_CACHE").ok());
        if let Some(url) = remote.filter(|u| !u.is_empty()) {
            let mut config = RemoteConfig::new(url);
            config.mode = RemoteMode::parse(&self.remote_cache_mode).unwrap_or(RemoteMode::ReadWrite);
            options.remote = Some(config);
        }
        if let Some(size) = &self.max_cache_size {
            let bytes = parse_size(size)
                .ok_or_else(|| format!("--max-cache-size {size}: expected a size such as 500M, 2G or 65536"))?;
            options.max_cache_size = Some(bytes);
        }
        for fault in &self.inject_fault {
            options.faults.insert(driver::parse_fault(fault).map_err(|e| format!("--inject-fault {e}"))?);
        }
        Ok(options)
    }
}

/// Every error the command line reports: on stderr, as `error: MESSAGE` or
/// (when it is about a place) `PLACE: error: MESSAGE`, and exit status 1.
fn fail(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("{}", error_text(&error.to_string()));
    ExitCode::from(1)
}

/// `text` in the one error form: prefixed with `error: ` unless its first
/// line already has it (a diagnostic, or an error about a file) or is a
/// JSON diagnostic.
fn error_text(text: &str) -> String {
    let text = text.trim_end();
    let first = text.lines().next().unwrap_or_default();
    // JSON diagnostics (`--message-format json`) are one object per line.
    if first.starts_with("error: ") || first.contains(": error: ") || first.starts_with("{\"$message_type\"") {
        text.to_string()
    } else {
        format!("error: {text}")
    }
}

/// Runs a build, writes the report and the explanation, and returns the
/// executable on success.
fn build(
    args: &BuildArgs,
    output: Option<PathBuf>,
    parallelism: &Parallelism,
    verbosity: Verbosity,
) -> Result<PathBuf, ExitCode> {
    let mut options = args.options(output, parallelism).map_err(fail)?;
    let progress =
        (!verbosity.quiet && options.scheduling == Scheduling::Threads).then(BuildProgress::for_terminal).flatten();
    if args.timings.is_some() || args.trace.is_some() || progress.is_some() {
        // Under the fuzzed scheduler the trace follows the schedule's
        // logical time, so a replayed schedule gives the same trace.
        let mut trace = match options.scheduling {
            Scheduling::Threads => Trace::wall(),
            _ => Trace::logical(),
        };
        if let Some(bar) = &progress {
            trace = trace.with_progress(Box::new(bar.clone()));
        }
        options.trace = Some(Arc::new(trace));
    }
    let result = driver::build(&options);
    if let Some(bar) = &progress {
        bar.finish();
    }
    let report: BuildReport = match &result {
        Ok(report) => report.clone(),
        Err(e) => driver::failure_report(e, &options),
    };
    if let Some(path) = &args.report {
        if let Err(e) = std::fs::write(path, report.to_json()) {
            eprintln!("{}: error: cannot write the report: {e}", path.display());
        }
    }
    if let Some(explain) = &report.explain {
        eprintln!("{explain}");
    }
    if let (Some(path), Some(schedule)) = (&args.schedule_trace, &report.schedule) {
        if let Err(e) = std::fs::write(path, schedule) {
            eprintln!("{}: error: cannot write the schedule: {e}", path.display());
        }
    }
    if let Some(reason) = report.remote.as_ref().and_then(|r| r.disabled.as_ref().map(|d| (&r.url, d))) {
        eprintln!("warning: remote cache {}: {}; this build went on with the local cache only", reason.0, reason.1);
    }
    let full_disk = out_of_space(&report, &options);
    match (&full_disk, &result) {
        // One line says it all; the per-object failures it caused would bury it.
        (Some(note), Err(_)) => {
            eprintln!("error: {note}");
            return Err(ExitCode::from(1));
        }
        (Some(note), Ok(_)) => {
            eprintln!("warning: {note} (the build succeeded, but some cache entries were not stored)")
        }
        (None, _) => {
            for problem in &report.cache_problems {
                eprintln!("warning: cache: {problem} (treated as a miss)");
            }
        }
    }
    if let Some(trace) = &options.trace {
        write_timings(args, &options, &report, &trace.finish(), verbosity);
    }
    match result {
        Ok(_) => Ok(options.output_path()),
        Err(e) => Err(fail(e)),
    }
}

/// When the disk filled up during the build (the cache, the staged link
/// inputs or the linker's output), the one thing to say: what ran out,
/// where, and what to do.
fn out_of_space(report: &BuildReport, options: &BuildOptions) -> Option<String> {
    const NO_SPACE: &str = "No space left on device";
    let messages = report.cache_problems.iter().chain(report.failed.iter().map(|f| &f.error));
    let count = messages.filter(|m| m.contains(NO_SPACE)).count();
    (count > 0).then(|| {
        let cache = options.cache_dir();
        format!(
            "no space left on device under {work} ({count} write{s} failed): free some space there, shrink the \
             cache with `lockstep cache gc --cache-dir {cache} --max-size 100M`, or move it with `--cache-dir DIR`",
            work = options.work_dir().display(),
            cache = cache.display(),
            s = if count == 1 { "" } else { "s" }
        )
    })
}

/// Writes what `--timings` and `--trace` asked for; a file that cannot be
/// written is a warning, never a failed build.
fn write_timings(
    args: &BuildArgs,
    options: &BuildOptions,
    report: &BuildReport,
    trace: &BuildTrace,
    verbosity: Verbosity,
) {
    let write = |path: &std::path::Path, text: String, what: &str| {
        let written = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(path, text));
        match written {
            Ok(()) if verbosity.quiet => {}
            Ok(()) => eprintln!("{what}: {}", path.display()),
            Err(e) => eprintln!("warning: cannot write the {what} to {}: {e}", path.display()),
        }
    };
    if let Some(path) = &args.trace {
        write(path, timings::chrome::trace_events(trace), "trace");
    }
    let Some(format) = args.timings else { return };
    let summary = timings::BuildSummary {
        project: args.dir.display().to_string(),
        status: report.status.to_string(),
        profile: format!("{}, cgu {}", if args.release { "release" } else { "debug" }, report.cgu),
        workers: trace
            .spans
            .iter()
            .filter_map(|s| match s.lane {
                Lane::Worker(i) => Some(i as usize + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0),
        functions: report.functions,
    };
    let dir = options.work_dir().join("timings");
    match format {
        TimingsFormat::Html => {
            write(&dir.join("lockstep-timings.html"), timings::html::page(&summary, trace), "timings")
        }
        TimingsFormat::Json => write(&dir.join("lockstep-timings.json"), timings::json(&summary, trace), "timings"),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version go to stdout with status 0; a usage error gets
        // clap's message (already `error: ...`) and the status of every
        // other error.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(1);
        }
    };
    // Connect to a `make` jobserver before opening any file: it arrives as
    // inherited descriptor numbers, trustworthy only until we open our own.
    let jobs = match &cli.command {
        Command::Build { build, .. } | Command::Run { build } => build.jobs,
        _ => None,
    };
    let parallelism = Parallelism::from_env(jobs);
    init_logging(cli.quiet, cli.verbose);
    let verbosity = Verbosity { quiet: cli.quiet };
    match cli.command {
        Command::Build { build: args, output } => match build(&args, output, &parallelism, verbosity) {
            Ok(_) => ExitCode::SUCCESS,
            Err(code) => code,
        },
        Command::Run { build: args } => {
            let exe = match build(&args, None, &parallelism, verbosity) {
                Ok(exe) => exe,
                Err(code) => return code,
            };
            match std::process::Command::new(&exe).status() {
                Ok(status) => match status.code() {
                    Some(code) => ExitCode::from(code as u8),
                    // Killed by a signal: report it the way shells do.
                    None => ExitCode::from(128u8.wrapping_add(signal_of(&status) as u8)),
                },
                Err(e) => fail(format!("error: cannot run `{}`: {e}", exe.display())),
            }
        }
        Command::Check { dir, diagnostics, message_format } => {
            match lockstep_core::lks::check_dir(&dir, diagnostic_style(diagnostics, message_format)) {
                Ok(program) => {
                    let functions: usize = program.modules.iter().map(|m| m.functions.len()).sum();
                    println!("ok: {} modules, {} functions", program.modules.len(), functions);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Command::Cache { action } => cache_command(action),
        Command::Verify(args) => verify_command(&args),
        Command::Replay { file } => replay_command(&file),
        Command::Bench { action: BenchAction::Peers(args) } => peers_command(&args),
    }
}

/// The running `lockstep` binary (verify's fault steps run it as a child) and a scratch directory.
fn binary_and_scratch(prefix: &str) -> Result<(PathBuf, tempfile::TempDir), String> {
    let lockstep = std::env::current_exe().map_err(|e| format!("error: cannot find the lockstep binary: {e}"))?;
    let scratch = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| format!("error: cannot make a scratch directory: {e}"))?;
    Ok((lockstep, scratch))
}

fn list_bugs() -> ExitCode {
    for bug in Bug::ALL {
        println!("{:<28} {:<22} {}", bug.name(), bug.class().name(), bug.description());
    }
    if !bug_zoo::ENABLED {
        println!("(this lockstep was built without the zoo: build with `--features bug-zoo` to plant them)");
    }
    ExitCode::SUCCESS
}

fn verify_command(args: &VerifyArgs) -> ExitCode {
    if args.list_bugs {
        return list_bugs();
    }
    if args.jobs == 0 {
        return fail("error: -j needs at least 1 worker");
    }
    let bug = match args.inject_bug.as_deref().map(|name| (name, Bug::from_name(name))) {
        None => None,
        Some((_, Some(bug))) => Some(bug),
        Some((name, None)) => {
            return fail(format!("error: --inject-bug {name}: no such bug (`lockstep verify --list-bugs` lists them)"))
        }
    };
    if (bug.is_some() || args.zoo) && !bug_zoo::ENABLED {
        return fail(
            "error: this lockstep was built without the bug zoo; build it with `cargo build --release --features bug-zoo`",
        );
    }
    let (lockstep, scratch) = match binary_and_scratch("lockstep-verify-") {
        Ok(found) => found,
        Err(e) => return fail(e),
    };
    let options = VerifyOptions {
        dir: args.dir.clone(),
        seed: args.seed,
        steps: args.steps.max(1),
        cases: args.cases,
        time_limit: Duration::from_secs(args.time_limit),
        size: match args.size {
            SizeArg::Small => Size::Small,
            SizeArg::Medium => Size::Medium,
            SizeArg::Large => Size::Large,
        },
        schedules: args.schedules.max(1),
        jobs: args.jobs,
        repro_dir: args.repro_dir.clone(),
        scratch: scratch.path().to_path_buf(),
        lockstep,
        shrink_budget: Duration::from_secs(args.shrink_time),
        progress: !args.zoo,
        bug,
    };
    if args.zoo {
        return zoo_command(&options, args.json.as_deref());
    }
    let summary = match runner::verify(&options) {
        Ok(summary) => summary,
        Err(e) => return fail(e),
    };
    print!("{}", summary.table());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&summary.to_json()).unwrap_or_default() + "\n";
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("{}: error: cannot write the summary: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    if summary.failure.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn zoo_command(options: &VerifyOptions, json: Option<&std::path::Path>) -> ExitCode {
    let report = zoo::run_zoo(options, Bug::ALL, |entry| {
        let verdict = match &entry.caught {
            Some(c) => format!("caught by {} after {:.1}s", c.oracle, c.detected_after.as_secs_f64()),
            None => format!("MISSED in {} steps", entry.steps),
        };
        eprintln!("zoo: {}: {verdict}", entry.bug);
    });
    let report = match report {
        Ok(report) => report,
        Err(e) => return fail(e),
    };
    print!("{}", report.table());
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default() + "\n";
        if let Err(e) = std::fs::write(path, text) {
            return fail(format!("{}: error: cannot write the zoo report: {e}", path.display()));
        }
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn replay_command(file: &std::path::Path) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => return fail(format!("{}: error: {e}", file.display())),
    };
    let repro = match Repro::parse(&text) {
        Ok(repro) => repro,
        Err(e) => return fail(format!("{}: error: not a repro file: {e}", file.display())),
    };
    let (lockstep, scratch) = match binary_and_scratch("lockstep-replay-") {
        Ok(found) => found,
        Err(e) => return fail(e),
    };
    let (verdict, trace) = match repro::replay(&repro, lockstep, scratch.path().to_path_buf()) {
        Ok(replayed) => replayed,
        Err(e) => return fail(format!("{}: error: {e}", file.display())),
    };
    for line in &trace {
        println!("{line}");
    }
    match verdict {
        Replayed::Reproduced(failure) => {
            println!("reproduced: {failure}");
            ExitCode::from(1)
        }
        Replayed::FailedDifferently(failure) => {
            println!("failed, but not as recorded (`{}` at step {}): {failure}", repro.oracle, repro.step);
            ExitCode::from(1)
        }
        Replayed::Passed => {
            println!("passed: the recorded failure (`{}` at step {}) is gone", repro.oracle, repro.step);
            ExitCode::SUCCESS
        }
    }
}

fn cache_command(action: CacheAction) -> ExitCode {
    match action {
        CacheAction::Stats { cache_dir, remote_cache } => {
            let remote = remote_cache.or_else(|| std::env::var("LOCKSTEP_REMOTE_CACHE").ok()).filter(|u| !u.is_empty());
            if let Some(url) = remote {
                match RemoteTier::new(RemoteConfig::new(url)).and_then(|tier| tier.usage().map(|u| (tier, u))) {
                    Ok((tier, (entries, bytes))) => {
                        println!("remote: {}", tier.report().url);
                        println!("  entries:           {entries:>8} entries {bytes:>12} bytes");
                    }
                    Err(e) => return fail(e),
                }
            }
            if !cache_dir.is_dir() {
                return fail(format!("{}: error: no cache here", cache_dir.display()));
            }
            match ArtifactCache::open(&cache_dir) {
                Ok(cache) => {
                    let s = cache.stats();
                    println!("cache: {}", cache_dir.display());
                    println!("  layer 1 (IR):      {:>8} entries {:>12} bytes", s.ir_entries, s.ir_bytes);
                    println!("  layer 2 (objects): {:>8} entries {:>12} bytes", s.object_entries, s.object_bytes);
                    println!(
                        "  total:             {:>8} entries {:>12} bytes",
                        s.ir_entries + s.object_entries,
                        s.ir_bytes + s.object_bytes
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        CacheAction::Gc { cache_dir, max_size, work_dir } => {
            let Some(max) = parse_size(&max_size) else {
                return fail(format!("error: --max-size {max_size}: expected a size such as 500M, 2G or 65536"));
            };
            if !cache_dir.is_dir() {
                return fail(format!("{}: error: no cache here", cache_dir.display()));
            }
            match ArtifactCache::open(&cache_dir) {
                Ok(cache) => {
                    let (removed, freed) = cache.gc(max);
                    let s = cache.stats();
                    println!("removed {removed} entries ({freed} bytes); {} bytes remain", s.ir_bytes + s.object_bytes);
                    if work_dir.join("state").is_dir() {
                        let work = lockstep_core::engine::gc::collect_work_dir(&work_dir);
                        if work.skipped_busy {
                            println!("{}: a build is running; link inputs left for later", work_dir.display());
                        } else {
                            println!(
                                "{}: removed {} link inputs and {} old manifests ({} bytes)",
                                work_dir.display(),
                                work.objects_removed,
                                work.manifests_removed,
                                work.bytes_freed
                            );
                        }
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}

#[cfg(unix)]
fn signal_of(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.signal().unwrap_or(0)
}

#[cfg(not(unix))]
fn signal_of(_status: &std::process::ExitStatus) -> i32 {
    0
}

fn peers_command(args: &lockstep_harness::peers::PeersArgs) -> ExitCode {
    let mut stdout = std::io::stdout();
    match lockstep_harness::peers::run(args, &mut stdout) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => fail("a target was missed (see `targets:` above)"),
        Err(e) => fail(e),
    }
}
