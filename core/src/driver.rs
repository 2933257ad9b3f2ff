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
use crate::engine::cache::{ArtifactCache, Layer, Lookup};
use crate::engine::config::{ArtifactKind, CodegenConfig, OptLevel};
use crate::engine::gc::{self, WorkDirLock};
use crate::engine::hash::{compiler_fingerprint, ContentHash, StableHasher};
use crate::engine::manifest::{FileStamp, Manifest, UpToDate};
use crate::engine::remote::{RemoteConfig, RemoteTier};
use crate::engine::report::{BuildReport, Failure};
use crate::engine::session::{self, Backend, BackendFactory, CguMode, SessionOptions};
use crate::engine::trace::{traced, Category, Lane, Trace};
use crate::engine::{FrontEnd, FunctionFacts, ModuleFacts, ProgramFacts};
use crate::exec::ExecMode;
use crate::link::Linker;
use crate::lks::check::{CheckedModule, CheckedProgram, InterfaceKind, ModuleInterface};
use crate::lks::incremental::{IncrementalProgram, ModuleRecord, ModuleState, ModuleSummary};
use crate::lks::modules::ModuleGraph;
use crate::lks::{self, facts, thir, FrontendError, ProgramSymbols};
use crate::llvm::{self, LlvmBackend};
use crate::mir::{self, CodegenUnit, EntryPoint, Symbol};
use crate::source::SourceMap;
use lockstep_scheduler::fuzz::{Chooser, Schedule, Strategy};
use lockstep_scheduler::parallelism::Parallelism;
use lockstep_scheduler::sync::{Arc, OnceLock};
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
    /// The fuzzed scheduler following a guide schedule leniently
    /// (`Chooser::lenient_replay`): the guide's next event when it is
    /// enabled, the default event otherwise. This is what `fuzz::shrink`
    /// runs candidate guides under; the report records the schedule taken
    /// and its preemptions, which a strict replay then reproduces.
    FuzzedGuide(Schedule),
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
    /// The linker the driver runs (`-fuse-ld=NAME`, `default` for its own);
    /// `None` lets [`Linker::choose`] decide.
    pub ld: Option<String>,
    pub diagnostics: DiagnosticStyle,
    /// Whether the build frees the front end's data when it ends. A
    /// process that exits right after the build (the command line) sets
    /// `false` and leaves that to the OS, as clang's `-disable-free` does:
    /// freeing some 100,000 allocations cost 3 ms of every edit build.
    pub free_front_end: bool,
    /// Cache directory; default `DIR/.lockstep/cache`.
    pub cache_dir: Option<PathBuf>,
    pub cgu: CguMode,
    pub lto: bool,
    pub verify_cache: bool,
    pub jobs: Option<usize>,
    /// Workers and jobserver, when the caller connected to one (the binary
    /// does, at startup: see `Parallelism::from_env`). Otherwise `jobs` or
    /// the available parallelism, without a jobserver.
    pub parallelism: Option<Parallelism>,
    pub scheduling: Scheduling,
    /// Virtual workers under the fuzzed scheduler (default 2).
    pub virtual_workers: usize,
    /// Functions whose codegen fails on purpose (`--inject-fault`).
    pub faults: BTreeSet<Symbol>,
    pub explain: Option<String>,
    /// Records what ran where and when (`--timings`, `--trace`); the
    /// caller reads it after the build. Never changes an output byte.
    pub trace: Option<Arc<Trace>>,
    /// After the build, evict least recently used cache entries down to
    /// this many bytes, and collect unreferenced link inputs and old
    /// manifests (`--max-cache-size`).
    pub max_cache_size: Option<u64>,
    /// A shared cache behind the local one (`--remote-cache`).
    pub remote: Option<RemoteConfig>,
}

impl BuildOptions {
    pub fn new(project_dir: impl Into<PathBuf>) -> BuildOptions {
        BuildOptions {
            project_dir: project_dir.into(),
            output: None,
            opt: OptLevel::Debug,
            target: None,
            linker: None,
            ld: None,
            diagnostics: DiagnosticStyle::Short,
            free_front_end: true,
            cache_dir: None,
            cgu: CguMode::default(),
            lto: false,
            verify_cache: false,
            jobs: None,
            parallelism: None,
            scheduling: Scheduling::Threads,
            virtual_workers: 2,
            faults: BTreeSet::new(),
            explain: None,
            trace: None,
            max_cache_size: None,
            remote: None,
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
///
/// Modules checked in this build carry their typed bodies; modules restored
/// from a summary (incremental checking) are checked again on demand, only
/// if one of their functions must be lowered.
#[derive(Debug)]
pub struct LksFrontEnd {
    facts: ProgramFacts,
    symbols: ProgramSymbols,
    modules: Vec<LazyModule>,
    /// Each module's summary key, when it was checked incrementally (see
    /// [`FrontEnd::module_key`]).
    module_keys: Vec<Option<ContentHash>>,
    interfaces: BTreeMap<String, ModuleInterface>,
    graph: ModuleGraph,
    checked_now: usize,
}

#[derive(Debug)]
struct LazyModule {
    /// Display path and text, for a module that may need checking later.
    source: Option<(String, String)>,
    checked: OnceLock<Option<CheckedModule>>,
}

/// The engine's facts about one checked module.
pub fn module_facts(module: &CheckedModule) -> ModuleFacts {
    ModuleFacts {
        name: module.name.clone(),
        globals: module.globals.clone(),
        init: function_facts(&module.init),
        functions: module.functions.iter().map(function_facts).collect(),
    }
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

/// Names the reference front end in every function key.
pub fn frontend_identity() -> String {
    format!("lks-1/{}", env!("CARGO_PKG_VERSION"))
}

impl LksFrontEnd {
    /// From a program checked as a whole.
    pub fn new(program: CheckedProgram) -> LksFrontEnd {
        let modules: Vec<(ModuleFacts, LazyModule, Option<ContentHash>)> = program
            .modules
            .into_iter()
            .map(|m| (module_facts(&m), LazyModule { source: None, checked: OnceLock::from(Some(m)) }, None))
            .collect();
        let checked_now = modules.len();
        LksFrontEnd::assemble(modules, program.entry, program.interfaces, ModuleGraph::default(), checked_now)
    }

    /// From incremental checking.
    pub fn from_incremental(program: IncrementalProgram) -> Option<LksFrontEnd> {
        let main = program.interfaces.get("main")?;
        let main_returns_value = match main.items.get("main").map(|i| &i.kind) {
            Some(InterfaceKind::Fn(sig)) if sig.params.is_empty() && sig.ret != Some(mir::Ty::Bool) => {
                sig.ret.is_some()
            }
            _ => return None,
        };
        let entry = EntryPoint {
            init_order: program.graph.init_order().into_iter().map(Symbol::init_of).collect(),
            main: Symbol::new("main", "main"),
            main_returns_value,
        };
        let modules = program
            .modules
            .into_iter()
            .map(|m| {
                let source = match m.state {
                    ModuleState::Checked(checked) => {
                        LazyModule { source: None, checked: OnceLock::from(Some(*checked)) }
                    }
                    ModuleState::Known { display_path, text } => {
                        LazyModule { source: Some((display_path, text)), checked: OnceLock::new() }
                    }
                };
                (m.facts, source, Some(m.key))
            })
            .collect();
        Some(LksFrontEnd::assemble(modules, entry, program.interfaces, program.graph, program.checked))
    }

    fn assemble(
        modules: Vec<(ModuleFacts, LazyModule, Option<ContentHash>)>,
        entry: EntryPoint,
        interfaces: BTreeMap<String, ModuleInterface>,
        graph: ModuleGraph,
        checked_now: usize,
    ) -> LksFrontEnd {
        let mut module_facts = Vec::new();
        let mut lazies = Vec::new();
        let mut module_keys = Vec::new();
        for (facts, lazy, key) in modules {
            module_facts.push(facts);
            lazies.push(lazy);
            module_keys.push(key);
        }
        let facts = ProgramFacts { frontend: frontend_identity(), modules: module_facts, entry };
        let symbols = ProgramSymbols::from_facts(&facts);
        LksFrontEnd { facts, symbols, modules: lazies, module_keys, interfaces, graph, checked_now }
    }

    /// How many modules were parsed and checked to make this front end.
    pub fn checked_modules(&self) -> usize {
        self.checked_now
    }

    fn checked(&self, m: usize) -> Option<&CheckedModule> {
        let lazy = self.modules.get(m)?;
        lazy.checked
            .get_or_init(|| {
                let (path, text) = lazy.source.as_ref()?;
                let name = &self.facts.modules[m].name;
                let mut sources = SourceMap::new();
                let file = sources.add(path.clone(), text.clone());
                let (ast, errors) = lks::parser::parse_module(file, text);
                if !errors.is_empty() {
                    return None;
                }
                let project = lks::modules::ParsedProject {
                    sources,
                    modules: vec![lks::modules::ParsedModule { name: name.clone(), file, ast }],
                };
                lks::incremental::check_alone(&project, &self.interfaces, &self.graph).map(|(module, _)| module)
            })
            .as_ref()
    }
}

impl FrontEnd for LksFrontEnd {
    fn facts(&self) -> &ProgramFacts {
        &self.facts
    }

    fn lower(&self, symbol: &Symbol) -> Option<mir::Function> {
        let (m, i) = self.facts.locate(symbol)?;
        let module = self.checked(m)?;
        let f = match i {
            None => &module.init,
            Some(i) => module.functions.get(i)?,
        };
        Some(self.symbols.lower(f))
    }

    fn module_key(&self, module: usize) -> Option<ContentHash> {
        self.module_keys.get(module).copied().flatten()
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

/// Fingerprint of every build input but the sources: the compiler, the
/// backend, every option that can change an output byte, the linker.
fn config_fingerprint(options: &BuildOptions, linker: &Linker) -> ContentHash {
    let mut h = StableHasher::new("lockstep.config");
    h.str(compiler_fingerprint()).str(&llvm::backend_version()).serialized(&options.codegen_config());
    h.str(&options.cgu.describe()).bytes(&linker.identity());
    h.finish()
}

/// Fingerprint of everything a build reads: the configuration and each
/// source's text.
fn inputs_fingerprint(config: &ContentHash, sources: &lks::modules::ProjectSources) -> ContentHash {
    let mut h = StableHasher::new("lockstep.inputs");
    h.hash(config);
    for file in &sources.files {
        h.str(&file.module).hash(&file.hash);
    }
    h.finish()
}

/// Fingerprint of the configuration and each source's stamp.
fn stamps_fingerprint(config: &ContentHash, stamps: &[(String, FileStamp)]) -> ContentHash {
    let mut h = StableHasher::new("lockstep.input-stamps");
    h.hash(config).serialized(&stamps);
    h.finish()
}

/// The report of a build that found its output up to date.
fn up_to_date_report(options: &BuildOptions, front: &UpToDate, output: &Path) -> BuildReport {
    let hits = front.function_count;
    BuildReport {
        status: "ok",
        functions: hits,
        ir: crate::engine::report::HitMiss { hits, misses: 0 },
        objects: crate::engine::report::HitMiss { hits: front.unit_count, misses: 0 },
        output: std::path::absolute(output).ok().map(|p| p.display().to_string()),
        up_to_date: true,
        cgu: options.cgu.name(),
        ..BuildReport::default()
    }
}

/// Where the state of builds writing `output` with this configuration is
/// kept, so debug and release builds of one project don't overwrite each
/// other's manifest.
fn manifest_path(options: &BuildOptions, output: &Path) -> PathBuf {
    let abs = std::path::absolute(output).unwrap_or_else(|_| output.to_path_buf());
    let key = StableHasher::new("lockstep.manifest")
        .bytes(abs.as_os_str().as_encoded_bytes())
        .serialized(&options.codegen_config())
        .str(&options.cgu.describe())
        .finish();
    options.work_dir().join("state").join(format!("{}.manifest", key.short()))
}

/// Where [`build`] keeps the manifest of builds with these options: for
/// tools that read what a build staged (the manifest names each unit's
/// object in `WORK/objects`).
pub fn manifest_path_for(options: &BuildOptions) -> PathBuf {
    manifest_path(options, &options.output_path())
}

/// Builds the project. On success and on build failures alike, the report
/// describes what happened; the error carries it for failures.
pub fn build(options: &BuildOptions) -> Result<BuildReport, BuildError> {
    let phases = PhaseLog::start();
    let trace = options.trace.as_deref();
    let dir = &options.project_dir;
    // Reading, parsing and checking share the codegen workers' count, worked out once.
    let workers = front_end_workers(options);
    let output = options.output_path();
    let manifest_path = manifest_path(options, &output);
    let linker = Linker::choose(options.linker.as_deref(), options.ld.as_deref())
        .remembering_in(manifest_path.parent().unwrap_or(Path::new(".")).to_path_buf());
    let config = config_fingerprint(options, &linker);

    // A no-op build reads the front of the manifest and a `stat` of each
    // source; if a stamp changed (or could not be trusted), it reads and
    // hashes the sources, and stops if their texts are the same.
    let may_shortcut = options.links()
        && !options.verify_cache
        && options.faults.is_empty()
        && options.explain.is_none()
        && options.scheduling == Scheduling::Threads;
    let front =
        may_shortcut.then(|| Manifest::up_to_date(&manifest_path)).flatten().filter(|f| f.output_intact(&output));
    if let Some(front) = front.filter(|f| f.input_stamps.is_some()) {
        let stamps = lks::modules::current_stamps(dir).map(|s| stamps_fingerprint(&config, &s));
        if stamps == front.input_stamps {
            return Ok(up_to_date_report(options, &front, &output));
        }
    }
    let sources = traced(trace, Category::Phase, Lane::Main, "read", || lks::modules::read_project_with(dir, workers))
        .map_err(|e| BuildError::Frontend(FrontendError::Load(e)))?;
    let inputs = inputs_fingerprint(&config, &sources);
    let input_stamps =
        sources.stamps.as_ref().and_then(|s| s.settled()).map(|stamps| stamps_fingerprint(&config, stamps));
    if let Some(front) = front.filter(|f| f.inputs == inputs) {
        if front.input_stamps != input_stamps {
            // Same texts, new stamps (a `touch`, a checkout): remember the
            // stamps so the next no-op is a `stat` again.
            if let Some(mut manifest) = Manifest::load(&manifest_path).filter(|m| m.inputs == inputs) {
                manifest.input_stamps = input_stamps;
                let _ = manifest.save(&manifest_path);
            }
        }
        return Ok(up_to_date_report(options, &front, &output));
    }
    phases.mark("read and hash sources");
    // Once, before planning (not once per unit), and off the no-op path:
    // a no-op needs a host target, which LLVM always has.
    if options.target.is_some() {
        llvm::check_target(&options.target_triple()).map_err(BuildError::Usage)?;
    }
    // Held while this build may stage link inputs: a collection (ours at
    // the end, or another process's) never deletes what a build in flight
    // is about to link.
    let work_lock = WorkDirLock::shared(&options.work_dir())
        .map_err(|error| BuildError::Io { path: options.work_dir().join("state").join("lock"), error })?;
    let cache_dir = options.cache_dir();
    let mut cache =
        ArtifactCache::open(&cache_dir).map_err(|e| BuildError::Io { path: e.path.clone(), error: e.error })?;
    let remote = match &options.remote {
        Some(config) => Some(Arc::new(RemoteTier::new(config.clone()).map_err(BuildError::Usage)?)),
        None => None,
    };
    if let Some(remote) = &remote {
        cache = cache.with_remote(Arc::clone(remote));
    }
    let check = || {
        traced(trace, Category::Phase, Lane::Main, "check", || check_incrementally(options, &sources, &cache, workers))
    };
    // The previous build's manifest (560 KB at 50x40) is read and decoded
    // while the edited modules are parsed, which leaves a thread idle.
    let (previous, frontend) = if workers > 1 {
        lockstep_scheduler::sync::thread::scope(|scope| {
            let previous = scope.spawn(|| Manifest::load(&manifest_path));
            let frontend = check();
            (previous.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), frontend)
        })
    } else {
        (Manifest::load(&manifest_path), check())
    };
    let frontend = frontend?;
    phases.mark("parse and check");
    for fault in &options.faults {
        if frontend.facts().signature_of(fault).is_none() || fault.is_init() {
            return Err(BuildError::Usage(format!("--inject-fault: `{fault}` is not a function of this program")));
        }
    }
    let mode = match &options.scheduling {
        Scheduling::Threads => {
            ExecMode::Threads(options.parallelism.clone().unwrap_or_else(|| Parallelism::local(options.jobs)))
        }
        Scheduling::Fuzzed(strategy) => {
            let steps = frontend.facts().modules.iter().map(|m| m.functions.len() + 1).sum::<usize>() * 3;
            ExecMode::Fuzzed {
                chooser: Chooser::with_step_estimate(strategy.clone(), steps.max(1)),
                virtual_workers: options.virtual_workers.max(1),
            }
        }
        Scheduling::FuzzedGuide(guide) => ExecMode::Fuzzed {
            chooser: Chooser::lenient_replay(guide.clone()),
            virtual_workers: options.virtual_workers.max(1),
        },
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
        input_stamps,
        explain: options.explain.clone(),
        trace: options.trace.clone(),
    };
    let mut result = session::run_session(&frontend, &LlvmBackends, &cache, session_options, previous.as_ref());
    result.report.modules_checked = frontend.checked_modules();
    if let Some(remote) = &remote {
        result.report.remote = Some(remote.report());
        result.report.cache_problems.extend(remote.problems());
    }
    phases.mark("codegen and link");
    if options.free_front_end {
        drop(frontend);
    } else {
        std::mem::forget(frontend);
    }
    phases.mark("tear down");
    let r = &result.report;
    tracing::info!(
        functions = r.functions,
        ir_hits = r.ir.hits,
        ir_misses = r.ir.misses,
        objects_hit = r.objects.hits,
        objects_compiled = r.objects.misses,
        relinked = r.relinked,
        status = r.status,
        "build finished"
    );
    drop(work_lock);
    if let Some(max) = options.max_cache_size {
        let (entries, cache_bytes) = cache.gc(max);
        let work = gc::collect_work_dir(&options.work_dir());
        tracing::info!(
            cache_entries_removed = entries,
            cache_bytes_freed = cache_bytes,
            objects_removed = work.objects_removed,
            manifests_removed = work.manifests_removed,
            work_bytes_freed = work.bytes_freed,
            skipped_busy = work.skipped_busy,
            "collected the work directory"
        );
    }
    if result.succeeded {
        Ok(result.report)
    } else {
        Err(BuildError::Failed(Box::new(result.report)))
    }
}

/// Module summaries live in the artifact cache, beside the IR.
struct CacheSummaries<'a>(&'a ArtifactCache);

impl lks::incremental::SummaryStore for CacheSummaries<'_> {
    fn load(&self, key: &ContentHash) -> Option<ModuleSummary> {
        match self.0.get(Layer::Ir, key) {
            Lookup::Hit(bytes) => postcard::from_bytes(&bytes).ok(),
            _ => None,
        }
    }

    fn store(&self, key: &ContentHash, summary: &ModuleSummary) {
        // A summary that cannot be stored only costs a later re-check.
        if let Ok(bytes) = postcard::to_stdvec(summary) {
            let _ = self.0.put(Layer::Ir, key, &bytes);
        }
    }
}

/// Threads for parsing and checking: as many as codegen gets, since the
/// two never run at once; one under the fuzzed scheduler, whose build is
/// one thread by design.
fn front_end_workers(options: &BuildOptions) -> usize {
    match options.scheduling {
        Scheduling::Threads => match &options.parallelism {
            Some(parallelism) => parallelism.workers,
            None => Parallelism::local(options.jobs).workers,
        },
        _ => 1,
    }
}

/// Checks only what changed, when the previous build left module records;
/// otherwise (or on any error) checks the whole program, which is also what
/// reports diagnostics.
fn check_incrementally(
    options: &BuildOptions,
    sources: &lks::modules::ProjectSources,
    cache: &ArtifactCache,
    workers: usize,
) -> Result<LksFrontEnd, BuildError> {
    let records_path = options.work_dir().join("state").join("modules.records");
    let previous: BTreeMap<String, ModuleRecord> =
        std::fs::read(&records_path).ok().and_then(|bytes| postcard::from_bytes(&bytes).ok()).unwrap_or_default();
    let incremental = lks::incremental::check_incremental(
        &frontend_identity(),
        sources,
        &previous,
        &CacheSummaries(cache),
        &module_facts,
        workers,
    );
    let records = incremental.as_ref().map(|p| p.records.clone());
    let frontend = match incremental.and_then(LksFrontEnd::from_incremental) {
        Some(frontend) => frontend,
        None => {
            let program =
                lks::check_sources(&options.project_dir, sources, options.diagnostics).map_err(BuildError::Frontend)?;
            LksFrontEnd::new(program)
        }
    };
    if let Some(records) = records.filter(|r| *r != previous) {
        // Records are a pure function of the texts, so a concurrent build
        // writing its own is never wrong, only possibly older.
        if let Ok(bytes) = postcard::to_stdvec(&records) {
            let _ = crate::engine::cache::write_atomic(&records_path, &bytes);
        }
    }
    Ok(frontend)
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

/// Phase durations as debug events of the `lockstep_core::driver` target
/// (`LOCKSTEP_LOG=lockstep_core::driver=debug`): for people tuning
/// lockstep, never part of any output or report.
struct PhaseLog {
    clock: std::cell::Cell<lockstep_scheduler::clock::Stopwatch>,
}

impl PhaseLog {
    fn start() -> PhaseLog {
        PhaseLog { clock: std::cell::Cell::new(lockstep_scheduler::clock::Stopwatch::start()) }
    }

    fn mark(&self, phase: &str) {
        if tracing::enabled!(tracing::Level::DEBUG) {
            let elapsed_ms = self.clock.get().elapsed().as_secs_f64() * 1e3;
            tracing::debug!(phase, elapsed_ms = format!("{elapsed_ms:.1}"), "phase finished");
            self.clock.set(lockstep_scheduler::clock::Stopwatch::start());
        }
    }
}
