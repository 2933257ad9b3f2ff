//! A whole build of a `.lks` project, through the incremental engine.
//!
//! The driver is the glue: it reads the sources, decides whether anything
//! can have changed, runs the reference front end, and hands the engine a
//! [`LksFrontEnd`] and an [`LlvmBackends`] factory. Everything that makes
//! builds incremental, cached and parallel lives in `crate::engine` and
//! `crate::exec`, which know nothing of `.lks`.
//!
//! Paths: the cache defaults to `DIR/.lockstep/cache`, staging and build
//! state to `DIR/.lockstep/`, the executable to `DIR/.lockstep/out/NAME`.

use crate::diagnostic::DiagnosticStyle;
use crate::engine::cache::ArtifactCache;
use crate::engine::config::{ArtifactKind, CodegenConfig, OptLevel};
use crate::engine::hash::{compiler_fingerprint, ContentHash, StableHasher};
use crate::engine::manifest::Manifest;
use crate::engine::report::{BuildReport, Failure};
use crate::engine::session::{self, Backend, BackendFactory, CguMode, SessionOptions};
use crate::engine::{FrontEnd, FunctionFacts, ModuleFacts, ProgramFacts};
use crate::exec::ExecMode;
use crate::link::Linker;
use crate::lks::{self, check::CheckedProgram, facts, thir, FrontendError, ProgramSymbols};
use crate::llvm::{self, LlvmBackend};
use crate::mir::{self, CodegenUnit, EntryPoint, Symbol};
use lockstep_scheduler::fuzz::{Chooser, Schedule, Strategy};
use lockstep_scheduler::parallelism::Parallelism;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Name of the per-project work directory.
pub const WORK_DIR: &str = ".lockstep";

/// How the codegen/link plan is executed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Scheduling {
    /// OS threads: `-j N` workers (default: available parallelism, or the
    /// `make` jobserver's tokens).
    #[default]
    Threads,
    /// The deterministic fuzzed scheduler (one OS thread).
    Fuzzed(Strategy),
}

/// What to build and how.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub project_dir: PathBuf,
    /// Where the executable goes; default `DIR/.lockstep/out/NAME`.
    pub output: Option<PathBuf>,
    pub opt: OptLevel,
    /// LLVM target triple; default: the host.
    pub target: Option<String>,
    /// Linker driver; default `LOCKSTEP_CC` or `cc`.
    pub linker: Option<PathBuf>,
    pub diagnostics: DiagnosticStyle,
    /// Cache directory; default `DIR/.lockstep/cache`.
    pub cache_dir: Option<PathBuf>,
    pub cgu: CguMode,
    pub lto: bool,
    pub verify_cache: bool,
    pub jobs: Option<usize>,
    pub scheduling: Scheduling,
    /// Virtual workers under the fuzzed scheduler (default 2).
    pub virtual_workers: usize,
    /// Functions whose codegen fails on purpose (`--inject-fault`).
    pub faults: BTreeSet<Symbol>,
    pub explain: Option<String>,
}

impl BuildOptions {
    pub fn new(project_dir: impl Into<PathBuf>) -> BuildOptions {
        BuildOptions {
            project_dir: project_dir.into(),
            output: None,
            opt: OptLevel::Debug,
            target: None,
            linker: None,
            diagnostics: DiagnosticStyle::Short,
            cache_dir: None,
            cgu: CguMode::default(),
            lto: false,
            verify_cache: false,
            jobs: None,
            scheduling: Scheduling::Threads,
            virtual_workers: 2,
            faults: BTreeSet::new(),
            explain: None,
        }
    }

    pub fn work_dir(&self) -> PathBuf {
        self.project_dir.join(WORK_DIR)
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir.clone().unwrap_or_else(|| self.work_dir().join("cache"))
    }

    pub fn target_triple(&self) -> String {
        self.target.clone().unwrap_or_else(llvm::host_triple)
    }

    /// Whether the objects can be linked here (host target only).
    pub fn links(&self) -> bool {
        // The vendor field (`pc`, `unknown`) does not change the machine.
        let without_vendor = |t: &str| -> Vec<String> {
            t.split('-').enumerate().filter(|(i, _)| *i != 1).map(|(_, p)| p.to_string()).collect()
        };
        self.target
            .as_ref()
            .is_none_or(|t| without_vendor(&llvm::normalize_triple(t)) == without_vendor(&llvm::host_triple()))
    }

    /// The executable's path (or, for a cross target, the directory that
    /// receives the objects).
    pub fn output_path(&self) -> PathBuf {
        if let Some(p) = &self.output {
            return p.clone();
        }
        let name = std::path::absolute(&self.project_dir)
            .ok()
            .and_then(|p| p.components().next_back().map(|c| c.as_os_str().to_string_lossy().into_owned()))
            .filter(|n| !n.is_empty() && n != "." && n != "..")
            .unwrap_or_else(|| "program".to_string());
        if self.links() {
            self.work_dir().join("out").join(name)
        } else {
            self.work_dir().join("out").join(format!("{name}-{}", self.target_triple()))
        }
    }

    pub fn codegen_config(&self) -> CodegenConfig {
        CodegenConfig {
            opt: self.opt,
            target: self.target_triple(),
            artifact: if self.lto { ArtifactKind::Bitcode } else { ArtifactKind::Object },
        }
    }
}

/// Why a build could not even start or finish.
#[derive(Debug)]
pub enum BuildError {
    Frontend(FrontendError),
    /// The build ran and failed; the report says what failed.
    Failed(Box<BuildReport>),
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    Usage(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Frontend(e) => write!(f, "{e}"),
            BuildError::Failed(report) => {
                let mut first = true;
                for failure in &report.failed {
                    if !first {
                        writeln!(f)?;
                    }
                    first = false;
                    let what = match (&failure.function, &failure.unit) {
                        (Some(func), _) => format!("function `{func}`"),
                        (None, Some(unit)) => format!("unit `{unit}`"),
                        (None, None) => "build".to_string(),
                    };
                    write!(f, "error: {what}: {}", failure.error)?;
                }
                if !report.skipped.is_empty() {
                    write!(f, "\nnote: not built because of the failure above: {}", report.skipped.join(", "))?;
                }
                Ok(())
            }
            BuildError::Io { path, error } => write!(f, "{}: error: {error}", path.display()),
            BuildError::Usage(message) => write!(f, "error: {message}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// The reference language seen through the engine's front-end interface.
#[derive(Debug)]
pub struct LksFrontEnd {
    program: CheckedProgram,
    symbols: ProgramSymbols,
    facts: ProgramFacts,
    index: BTreeMap<Symbol, (usize, Option<usize>)>,
}

fn function_facts(f: &thir::Function) -> FunctionFacts {
    let refs = facts::references(f);
    FunctionFacts {
        symbol: f.symbol.clone(),
        visibility: f.visibility,
        signature: f.signature.clone(),
        body: facts::body_hash(f),
        callees: refs.callees,
        globals: refs.globals,
        weight: refs.nodes,
    }
}

impl LksFrontEnd {
    pub fn new(program: CheckedProgram) -> LksFrontEnd {
        let symbols = ProgramSymbols::of(&program);
        let mut index = BTreeMap::new();
        let modules = program
            .modules
            .iter()
            .enumerate()
            .map(|(m, module)| {
                index.insert(module.init.symbol.clone(), (m, None));
                for (i, f) in module.functions.iter().enumerate() {
                    index.insert(f.symbol.clone(), (m, Some(i)));
                }
                ModuleFacts {
                    name: module.name.clone(),
                    globals: module.globals.clone(),
                    init: function_facts(&module.init),
                    functions: module.functions.iter().map(function_facts).collect(),
                }
            })
            .collect();
        let facts = ProgramFacts {
            frontend: format!("lks-1/{}", env!("CARGO_PKG_VERSION")),
            modules,
            entry: program.entry.clone(),
        };
        LksFrontEnd { program, symbols, facts, index }
    }

    pub fn program(&self) -> &CheckedProgram {
        &self.program
    }
}

impl FrontEnd for LksFrontEnd {
    fn facts(&self) -> &ProgramFacts {
        &self.facts
    }

    fn lower(&self, symbol: &Symbol) -> Option<mir::Function> {
        let (m, i) = *self.index.get(symbol)?;
        let module = &self.program.modules[m];
        let f = match i {
            None => &module.init,
            Some(i) => &module.functions[i],
        };
        Some(self.symbols.lower(f))
    }
}

/// One LLVM backend (one LLVM context) per worker thread.
#[derive(Debug, Default)]
pub struct LlvmBackends;

impl Backend for LlvmBackend {
    fn compile_unit(&mut self, unit: &CodegenUnit, config: &CodegenConfig) -> Result<Vec<u8>, String> {
        LlvmBackend::compile_unit(self, unit, config).map_err(|e| e.to_string())
    }

    fn compile_entry(&mut self, entry: &EntryPoint, config: &CodegenConfig) -> Result<Vec<u8>, String> {
        LlvmBackend::compile_entry(self, entry, config).map_err(|e| e.to_string())
    }

    fn lto_link(&mut self, bitcode: &[Vec<u8>], config: &CodegenConfig) -> Result<Vec<u8>, String> {
        LlvmBackend::lto_link(self, bitcode, config).map_err(|e| e.to_string())
    }
}

impl BackendFactory for LlvmBackends {
    type Backend = LlvmBackend;

    fn identity(&self) -> String {
        llvm::backend_version()
    }

    fn create(&self) -> LlvmBackend {
        LlvmBackend::new()
    }
}

/// Groups a module's initialiser and functions into its codegen unit.
pub fn module_unit(
    module: &lks::check::CheckedModule,
    lower: impl Fn(&thir::Function) -> mir::Function,
) -> CodegenUnit {
    let mut functions = vec![lower(&module.init)];
    functions.extend(module.functions.iter().map(lower));
    CodegenUnit { name: module.name.clone(), globals: module.globals.clone(), functions }
}

/// The fingerprint of everything a build reads: every source file and
/// every option that can change an output byte.
fn inputs_fingerprint(options: &BuildOptions, sources: &lks::modules::ProjectSources, linker: &Linker) -> ContentHash {
    let mut h = StableHasher::new("lockstep.inputs");
    h.str(compiler_fingerprint()).str(&llvm::backend_version()).serialized(&options.codegen_config());
    h.str(options.cgu.name()).bytes(linker.program.as_os_str().as_encoded_bytes());
    for file in &sources.files {
        h.str(&file.module).str(&file.text);
    }
    h.finish()
}

/// Where the state of builds writing `output` with this configuration is
/// kept, so debug and release builds of one project don't overwrite each
/// other's manifest.
fn manifest_path(options: &BuildOptions, output: &Path) -> PathBuf {
    let abs = std::path::absolute(output).unwrap_or_else(|_| output.to_path_buf());
    let key = StableHasher::new("lockstep.manifest")
        .bytes(abs.as_os_str().as_encoded_bytes())
        .serialized(&options.codegen_config())
        .str(options.cgu.name())
        .finish();
    options.work_dir().join("state").join(format!("{}.json", key.short()))
}

/// Builds the project. On success and on build failures alike, the report
/// describes what happened; the error carries it for failures.
pub fn build(options: &BuildOptions) -> Result<BuildReport, BuildError> {
    let timings = Timings::from_env();
    let dir = &options.project_dir;
    let sources = lks::modules::read_project(dir).map_err(|e| BuildError::Frontend(FrontendError::Load(e)))?;
    let linker = Linker::choose(options.linker.as_deref());
    let output = options.output_path();
    let inputs = inputs_fingerprint(options, &sources, &linker);
    let manifest_path = manifest_path(options, &output);
    let previous = Manifest::load(&manifest_path);

    // A no-op build reads and hashes the sources, and stops.
    let may_shortcut = options.links()
        && !options.verify_cache
        && options.faults.is_empty()
        && options.explain.is_none()
        && options.scheduling == Scheduling::Threads;
    if let Some(previous) = previous.as_ref().filter(|m| may_shortcut && m.inputs == inputs) {
        if previous.output_intact(&output) {
            let hits = previous.function_count;
            return Ok(BuildReport {
                status: "ok",
                functions: hits,
                ir: crate::engine::report::HitMiss { hits, misses: 0 },
                objects: crate::engine::report::HitMiss { hits: previous.unit_count, misses: 0 },
                output: std::path::absolute(&output).ok().map(|p| p.display().to_string()),
                up_to_date: true,
                cgu: options.cgu.name(),
                ..BuildReport::default()
            });
        }
    }

    timings.mark("read and hash sources");
    let program = lks::check_sources(dir, &sources, options.diagnostics).map_err(BuildError::Frontend)?;
    timings.mark("parse and check");
    let frontend = LksFrontEnd::new(program);
    timings.mark("front-end facts");
    for fault in &options.faults {
        if frontend.facts().signature_of(fault).is_none() || fault.is_init() {
            return Err(BuildError::Usage(format!("--inject-fault: `{fault}` is not a function of this program")));
        }
    }
    let cache_dir = options.cache_dir();
    let cache = ArtifactCache::open(&cache_dir).map_err(|e| BuildError::Io { path: e.path.clone(), error: e.error })?;
    let mode = match &options.scheduling {
        Scheduling::Threads => ExecMode::Threads(Parallelism::from_env(options.jobs)),
        Scheduling::Fuzzed(strategy) => {
            let steps = frontend.facts().modules.iter().map(|m| m.functions.len() + 1).sum::<usize>() * 3;
            ExecMode::Fuzzed {
                chooser: Chooser::with_step_estimate(strategy.clone(), steps.max(1)),
                virtual_workers: options.virtual_workers.max(1),
            }
        }
    };
    let session_options = SessionOptions {
        opt: options.opt,
        target: options.target_triple(),
        cgu: options.cgu,
        lto: options.lto,
        verify_cache: options.verify_cache,
        faults: options.faults.clone(),
        mode,
        linker,
        link: options.links(),
        work_dir: options.work_dir(),
        output,
        manifest_path,
        inputs,
        explain: options.explain.clone(),
    };
    let result = session::run_session(&frontend, &LlvmBackends, &cache, session_options, previous.as_ref());
    timings.mark("codegen and link");
    drop(frontend);
    timings.mark("tear down");
    if result.succeeded {
        Ok(result.report)
    } else {
        Err(BuildError::Failed(Box::new(result.report)))
    }
}

/// The report to write when a build failed before the engine ran (bad
/// input, unreadable directory): status failed, the error as the reason.
pub fn failure_report(error: &BuildError, options: &BuildOptions) -> BuildReport {
    match error {
        BuildError::Failed(report) => (**report).clone(),
        other => BuildReport {
            status: "failed",
            cgu: options.cgu.name(),
            failed: vec![Failure { function: None, unit: None, error: other.to_string() }],
            ..BuildReport::default()
        },
    }
}

/// Parses `--inject-fault codegen:MODULE::FUNCTION`.
pub fn parse_fault(text: &str) -> Result<Symbol, String> {
    let rest = text.strip_prefix("codegen:").ok_or_else(|| format!("`{text}`: expected `codegen:MODULE::FUNCTION`"))?;
    let (module, name) =
        rest.split_once("::").ok_or_else(|| format!("`{text}`: expected `codegen:MODULE::FUNCTION`"))?;
    Ok(Symbol::new(module, name))
}

/// Parses a recorded schedule file for `--replay-schedule`.
pub fn load_schedule(path: &Path) -> Result<Schedule, BuildError> {
    let text = std::fs::read_to_string(path).map_err(|error| BuildError::Io { path: path.to_path_buf(), error })?;
    text.parse::<Schedule>().map_err(|e| BuildError::Usage(format!("{}: not a schedule: {e}", path.display())))
}

/// Phase timings on stderr when `LOCKSTEP_TIMINGS` is set: for people
/// tuning lockstep, never part of any output or report.
struct Timings {
    clock: Option<std::cell::Cell<lockstep_scheduler::clock::Stopwatch>>,
}

impl Timings {
    fn from_env() -> Timings {
        let on = std::env::var_os("LOCKSTEP_TIMINGS").is_some();
        Timings { clock: on.then(|| std::cell::Cell::new(lockstep_scheduler::clock::Stopwatch::start())) }
    }

    fn mark(&self, phase: &str) {
        if let Some(clock) = &self.clock {
            eprintln!("timing: {phase}: {:.1} ms", clock.get().elapsed().as_secs_f64() * 1e3);
            clock.set(lockstep_scheduler::clock::Stopwatch::start());
        }
    }
}
