//! One incremental build: hashes → Layer 1 → codegen units → Layer 2 →
//! the parallel plan (codegen on N workers, ordered link stage) → report.
//!
//! The session decides *what* to rebuild; `crate::exec` decides *when* and
//! *where* it runs. Nothing here depends on the schedule: every output byte
//! is a function of the front end's facts, the MIR and the configuration.

use crate::engine::cache::{ArtifactCache, Layer, Lookup};
use crate::engine::config::{ArtifactKind, CodegenConfig, OptLevel};
use crate::engine::hash::{self, compiler_fingerprint, ContentHash, FunctionContentHash, StableHasher};
use crate::engine::manifest::{self, FileStamp, FunctionRecord, Manifest, UnitRecord};
use crate::engine::report::{BuildReport, Failure};
use crate::engine::trace::{traced, Category, Detail, Lane, Trace};
use crate::engine::{FrontEnd, FunctionFacts, ProgramIndex};
use crate::exec::{self, CodegenStage, ExecMode, LinkStage, NodeId, Plan, Stage};
use crate::link::Linker;
use crate::mir::{self, CodegenUnit, EntryPoint, GlobalDef, Symbol};
use lockstep_scheduler::bug_zoo::{self, Bug};
use lockstep_scheduler::sync::{thread, Arc};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod codegen;
mod link;

use codegen::CodegenWork;
use link::LinkWork;

/// A code generator, one per worker thread (it may hold thread-bound state
/// such as an LLVM context).
pub trait Backend {
    fn compile_unit(&mut self, unit: &CodegenUnit, config: &CodegenConfig) -> Result<Vec<u8>, String>;
    fn compile_entry(&mut self, entry: &EntryPoint, config: &CodegenConfig) -> Result<Vec<u8>, String>;
    /// Merges bitcode, optimises the whole program, emits one object.
    fn lto_link(&mut self, bitcode: &[Vec<u8>], config: &CodegenConfig) -> Result<Vec<u8>, String>;
}

/// Makes backends, one per worker, on the worker's own thread.
pub trait BackendFactory: Sync {
    type Backend: Backend;
    /// Names the backend and its version; part of every object key.
    fn identity(&self) -> String;
    fn create(&self) -> Self::Backend;
}

/// How functions are grouped into objects.
///
/// Measured on the 50 modules × 40 functions bench workload (2 cores,
/// debug; `benches/benches/pipeline.rs`, figures in README.md): module
/// units and partitions cost the same clean build, but a body edit
/// regenerates a fraction of a module's code instead of all of it, so
/// partitions are the default. Their size is 8 functions: against 16, an
/// edit's codegen took 12-15 ms instead of 18 (debug) and 52-63 ms instead
/// of 94-96 (release), with clean builds equal within noise (three paired
/// runs each). Per-function units make edits cheapest and clean builds
/// about four times dearer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CguMode {
    /// One object per module.
    Module,
    /// One object per function, merged per module by `ld -r`.
    Function,
    /// Each module's functions spread over `ceil(n / size)` units by a
    /// stable hash of their names (see `partition`); the first also holds
    /// the module's globals and initialiser. Objects go straight to the
    /// final link.
    Partition { size: u32 },
}

impl Default for CguMode {
    fn default() -> CguMode {
        CguMode::Partition { size: CguMode::DEFAULT_PARTITION_SIZE }
    }
}

impl CguMode {
    /// Functions per unit of `--cgu partition` unless told otherwise.
    pub const DEFAULT_PARTITION_SIZE: u32 = 8;

    /// Parses `module`, `function`, `partition` or `partition:SIZE`.
    pub fn parse(text: &str) -> Option<CguMode> {
        match text.split_once(':') {
            None => match text {
                "module" => Some(CguMode::Module),
                "function" => Some(CguMode::Function),
                "partition" => Some(CguMode::Partition { size: CguMode::DEFAULT_PARTITION_SIZE }),
                _ => None,
            },
            Some(("partition", size)) => size.parse().ok().filter(|s| *s > 0).map(|size| CguMode::Partition { size }),
            Some(_) => None,
        }
    }

    /// The mode as `parse` reads it back.
    pub fn describe(self) -> String {
        match self {
            CguMode::Partition { size } => format!("partition:{size}"),
            other => other.name().to_string(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CguMode::Module => "module",
            CguMode::Function => "function",
            CguMode::Partition { .. } => "partition",
        }
    }
}

/// Everything a session needs besides the front end and the backend.
#[derive(Debug)]
pub struct SessionOptions {
    pub opt: OptLevel,
    pub target: String,
    pub cgu: CguMode,
    /// Store bitcode, merge and optimise it at link time.
    pub lto: bool,
    /// Recompile every cache hit and compare (rustc's verify-ich).
    pub verify_cache: bool,
    /// Functions whose codegen must fail (a testing aid).
    pub faults: BTreeSet<Symbol>,
    pub mode: ExecMode,
    pub linker: Linker,
    /// Whether to link at all (only host objects can be linked).
    pub link: bool,
    /// Where link inputs are staged and the manifest lives.
    pub work_dir: PathBuf,
    pub output: PathBuf,
    pub manifest_path: PathBuf,
    /// Fingerprint of every input (sources and options), for the next
    /// build's up-to-date check.
    pub inputs: ContentHash,
    /// The same with the sources' stamps for their texts, when the stamps
    /// can be trusted: the next build's up-to-date check by `stat`.
    pub input_stamps: Option<ContentHash>,
    pub explain: Option<String>,
    /// Records phases, units, link steps and cache operations (`--timings`, `--trace`).
    pub trace: Option<Arc<Trace>>,
}

impl SessionOptions {
    pub fn codegen_config(&self) -> CodegenConfig {
        CodegenConfig {
            opt: self.opt,
            target: self.target.clone(),
            artifact: if self.lto { ArtifactKind::Bitcode } else { ArtifactKind::Object },
        }
    }
}

/// One function of this build, as the producer sees it (no IR yet).
#[derive(Debug)]
struct FunctionEntry<'a> {
    symbol: &'a Symbol,
    is_init: bool,
    hash: FunctionContentHash,
    /// The function as its callers see it (`hash::callee_view`).
    view: ContentHash,
}

/// One codegen unit of this build.
#[derive(Debug)]
struct UnitPlan {
    name: String,
    module: usize,
    globals: Vec<GlobalDef>,
    /// Indices into the function list, in emission order.
    functions: Vec<usize>,
    /// Codegen of this unit must fail (`--inject-fault`).
    faulted: Option<Symbol>,
}

/// The manifest's tables: functions with their records, globals with
/// their types, each sorted by name.
type ManifestTables = (Vec<(String, FunctionRecord)>, Vec<(String, String)>);

/// This build's function and global tables for the manifest (see
/// [`FunctionRecord`]): `functions` in build order with their hashes.
fn manifest_tables(program: &crate::engine::ProgramFacts, functions: &[FunctionEntry]) -> ManifestTables {
    let mut globals: Vec<(&Symbol, String, String)> = program
        .modules
        .iter()
        .flat_map(|m| &m.globals)
        .map(|g| (&g.symbol, g.symbol.to_string(), g.ty.to_string()))
        .collect();
    globals.sort_by(|a, b| a.1.cmp(&b.1));
    let global_at: BTreeMap<&Symbol, u32> = (0u32..).zip(&globals).map(|(i, g)| (g.0, i)).collect();
    let all: Vec<&FunctionFacts> = program.all_functions().collect();
    let mut order: Vec<(String, usize)> =
        functions.iter().enumerate().map(|(i, f)| (f.symbol.to_string(), i)).collect();
    order.sort();
    let function_at: BTreeMap<&Symbol, u32> =
        (0u32..).zip(&order).map(|(at, (_, i))| (functions[*i].symbol, at)).collect();
    let table = order
        .into_iter()
        .map(|(name, i)| {
            let facts = all[i];
            let mut callees: Vec<u32> = facts.callees.iter().filter_map(|c| function_at.get(c).copied()).collect();
            callees.sort_unstable();
            let mut globals: Vec<u32> = facts.globals.iter().filter_map(|g| global_at.get(g).copied()).collect();
            globals.sort_unstable();
            let record = FunctionRecord { hash: functions[i].hash.clone(), view: functions[i].view, callees, globals };
            (name, record)
        })
        .collect();
    (table, globals.into_iter().map(|(_, name, ty)| (name, ty)).collect())
}

/// The Layer 1 pack key of a unit: its name and its members' content
/// hashes, in order.
fn pack_key(unit: &UnitPlan, functions: &[FunctionEntry]) -> ContentHash {
    let mut key = StableHasher::new("lockstep.ir-pack");
    key.str(&unit.name);
    for &i in &unit.functions {
        key.hash(&functions[i].hash.combined);
    }
    key.finish()
}

/// Spreads a module's functions over `ceil(members / size)` units by a
/// stable hash of each function's name, so a body edit never moves a
/// function between units, and adding or removing one changes only its own
/// unit (until the unit count itself changes). Unit `MODULE#0` also holds
/// the initialiser and the globals. Members keep their source order.
fn partition<'n>(
    module: &str,
    globals: Vec<GlobalDef>,
    init: usize,
    members: &[usize],
    size: u32,
    name_of: impl Fn(usize) -> &'n str,
) -> Vec<(String, Vec<GlobalDef>, Vec<usize>)> {
    let count = members.len().div_ceil(size.max(1) as usize).max(1);
    let mut groups: Vec<(String, Vec<GlobalDef>, Vec<usize>)> =
        (0..count).map(|p| (format!("{module}#{p}"), Vec::new(), Vec::new())).collect();
    groups[0].1 = globals;
    groups[0].2.push(init);
    for &i in members {
        let hash = StableHasher::new("lockstep.partition").str(name_of(i)).finish();
        let slot = u64::from_le_bytes(hash.0[..8].try_into().expect("8 bytes")) % count as u64;
        groups[slot as usize].2.push(i);
    }
    groups.retain(|(_, _, members)| !members.is_empty());
    groups
}

/// The object key of a unit: its IR, its globals, and the whole codegen
/// configuration.
fn unit_key(
    backend: &str,
    config: &CodegenConfig,
    unit: &str,
    globals: &[GlobalDef],
    ir: &[ContentHash],
) -> ContentHash {
    let mut h = StableHasher::new("lockstep.object");
    h.str(compiler_fingerprint()).str(backend);
    if !bug_zoo::active(Bug::ObjectKeyIgnoresConfig) {
        h.serialized(config);
    }
    h.str(unit).serialized(&globals);
    for i in ir {
        h.hash(i);
    }
    h.finish()
}

/// Where a link input with these bytes is staged: `STAGING/HASH.o`, named
/// by the hash of its bytes.
pub fn staged_object_path(staging: &Path, object_hash: &ContentHash) -> PathBuf {
    staging.join(format!("{}.o", object_hash.hex()))
}

/// Puts an object whose bytes hash to `object_hash` in the staging
/// directory, under that hash. A file already there with these bytes is
/// reused; the name promises the content, so a damaged one is replaced.
/// Concurrent placements of one object (two workers, two builds) write the
/// same bytes and each renames atomically.
fn place_staged(staging: &Path, bytes: &[u8], object_hash: &ContentHash) -> Result<PathBuf, String> {
    let path = staged_object_path(staging, object_hash);
    if std::fs::read(&path).is_ok_and(|existing| existing == bytes) {
        return Ok(path);
    }
    crate::engine::cache::write_atomic(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Label of the entry unit; `$` keeps it apart from every module name.
pub const ENTRY_UNIT: &str = "$entry";

/// Plan labels, which name steps in schedules and in the report's
/// `skipped`: a codegen step is named after its unit (`m3`, `m3::f7`,
/// `$entry`), a link step after what it produces (`m3.o`, the module's
/// object; `$entry.o`; `program`, the executable).
pub const PROGRAM_NODE: &str = "program";

/// What one codegen step found and made.
#[derive(Debug)]
pub struct UnitOutcome {
    /// The unit's object (or bitcode).
    pub bytes: Vec<u8>,
    /// Its Layer 2 key.
    pub key: ContentHash,
    /// The Layer 1 pack holding its functions' IR.
    pub ir_pack: ContentHash,
    /// Hash of each member function's IR, in unit order.
    pub ir_hashes: Vec<ContentHash>,
    /// Hash of the object's bytes: its name in the staging directory.
    pub object_hash: ContentHash,
    /// The object already staged for the link (found by the previous
    /// build's unit record, or placed by the worker); `bytes` is then
    /// empty.
    pub staged: Option<PathBuf>,
    /// Layer 1 result per member function: (function index, hit).
    pub ir_lookups: Vec<(usize, bool)>,
    /// Whether the artifact came from Layer 2.
    pub object_hit: bool,
    /// Unusable cache entries met on the way (each was a miss).
    pub problems: Vec<String>,
}

/// What flows from codegen to the link stage and on.
#[derive(Debug)]
pub enum Artifact {
    Unit(UnitOutcome),
    /// Link inputs staged on disk (objects) or held for LTO (bitcode), with
    /// the keys of the units they came from.
    Staged {
        objects: Vec<PathBuf>,
        bitcode: Vec<Vec<u8>>,
        keys: Vec<ContentHash>,
    },
    /// The final link step: the link key, and the executable's stamp if it
    /// was (re)written, `None` if the one on disk was already right.
    Linked {
        link_key: ContentHash,
        written: Option<FileStamp>,
        /// The staged files the link read, by file name.
        inputs: Vec<String>,
    },
}

/// Where every function's invalidation decision is logged, at debug level
/// (`LOCKSTEP_LOG=lockstep_core::engine::invalidation=debug`): what
/// `--explain` says, for all of them.
pub const INVALIDATION_LOG: &str = "lockstep_core::engine::invalidation";

fn explain_all_enabled() -> bool {
    tracing::enabled!(target: INVALIDATION_LOG, tracing::Level::DEBUG)
}

fn log_invalidation(functions: &[FunctionEntry], previous: Option<&Manifest>, now: &Manifest, ir_hit: &[Option<bool>]) {
    for (i, f) in functions.iter().enumerate() {
        let symbol = f.symbol.to_string();
        let why = manifest::explain(&symbol, previous, now, ir_hit.get(i).copied().flatten());
        tracing::debug!(target: INVALIDATION_LOG, function = %symbol, "{why}");
    }
}

/// The result of a session.
#[derive(Debug)]
pub struct SessionResult {
    pub report: BuildReport,
    pub succeeded: bool,
}

fn failure(function: Option<String>, unit: Option<String>, error: impl Into<String>) -> Failure {
    Failure { function, unit, error: error.into() }
}

/// Runs one build session.
///
/// The producer (this thread) only hashes: it computes every function's
/// content hash from the front end's facts and groups functions into
/// units. Everything that touches the cache or LLVM happens in the plan's
/// codegen steps, on the workers: Layer 1 lookups (lowering the misses),
/// the unit's Layer 2 key, the Layer 2 lookup, and codegen on a miss. The
/// link stage then consumes units strictly in module order.
pub fn run_session<F: FrontEnd, B: BackendFactory>(
    frontend: &F,
    backends: &B,
    cache: &ArtifactCache,
    options: SessionOptions,
    previous: Option<&Manifest>,
) -> SessionResult {
    let program = frontend.facts();
    let config = options.codegen_config();
    let backend_id = backends.identity();
    let mut report = BuildReport { status: "ok", cgu: options.cgu.name(), ..BuildReport::default() };

    let trace = options.trace.as_deref();
    let hashes = traced(trace, Category::Phase, Lane::Main, "hash", || {
        hash_functions(frontend, previous, options.verify_cache, &mut report)
    });
    if !report.failed.is_empty() {
        return SessionResult { report, succeeded: false };
    }
    let HashedFunctions { module_keys, functions, weights } = hashes;
    report.functions = functions.iter().filter(|f| !f.is_init).count();
    let (units, pack_keys, mut layout) = traced(trace, Category::Phase, Lane::Main, "plan", || {
        let units = group_into_units(program, &functions, &options);
        let pack_keys: Vec<ContentHash> = units.iter().map(|u| pack_key(u, &functions)).collect();
        let layout = lay_out_plan(program, &units, &pack_keys, &weights, &options, previous);
        (units, pack_keys, layout)
    });
    if let Some(trace) = trace {
        trace.planned(layout.unit_nodes.len() + 1);
    }
    let entry_key = StableHasher::new("lockstep.entry")
        .str(compiler_fingerprint())
        .str(&backend_id)
        .serialized(&config)
        .serialized(&program.entry)
        .finish();

    // Link inputs live in `WORK/objects`, each named by the hash of its
    // bytes: written once, never changed, so builds (concurrent ones too,
    // of any configuration) share them, and an edit writes one new file
    // instead of restaging every object (creating files is what costs on
    // an ordinary disk). Without a link (a cross target), the objects are
    // the result and go to the output directory, by module name.
    let (staging, named) =
        if options.link { (options.work_dir.join("objects"), false) } else { (options.output.clone(), true) };
    if let Err(e) = std::fs::create_dir_all(&staging) {
        report.status = "failed";
        report.failed.push(failure(None, None, format!("{}: cannot create a directory: {e}", staging.display())));
        return SessionResult { report, succeeded: false };
    }
    let shortcut_dir = staging.clone();
    let named_outputs = named;
    let codegen_stage = CodegenWork {
        frontend,
        backends,
        cache,
        config: &config,
        backend_id: &backend_id,
        functions: &functions,
        units: &units,
        pack_keys,
        node_unit: layout.unit_nodes.iter().enumerate().map(|(u, n)| (*n, u)).collect(),
        entry_node: layout.entry_codegen,
        entry: &program.entry,
        entry_key,
        verify: options.verify_cache,
        previous_packs: previous.map(|m| m.ir_packs.clone()).unwrap_or_default(),
        previous_units: previous.map(|m| m.units.clone()).unwrap_or_default(),
        // Verifying recompiles every hit; LTO needs the bitcode itself; a
        // cross build writes the objects out by name.
        shortcut_staging: (!options.verify_cache && !options.lto && !named).then_some(shortcut_dir.as_path()),
        // Objects are staged by the worker that made them, in parallel,
        // not one after another by the link stage.
        worker_staging: (!options.lto && !named).then_some(shortcut_dir.as_path()),
        trace,
    };
    let mut link_stage = LinkWork {
        backends,
        backend: None,
        cache,
        config: &config,
        backend_id: &backend_id,
        cgu: options.cgu,
        modules: std::mem::take(&mut layout.module_links),
        module_names: program.modules.iter().map(|m| m.name.clone()).collect(),
        entry_link: layout.entry_link,
        final_link: layout.final_link,
        staging,
        named,
        linker: &options.linker,
        output: options.output.clone(),
        lto: options.lto,
        previous_link: previous.map(|m| (m.link_key, m.output)),
        trace,
    };
    // The manifest's tables need only the hashes, so on threads they are
    // built beside the pipeline, mostly while the system linker runs.
    let wants_tables = options.link || options.explain.is_some() || explain_all_enabled();
    let tables = || wants_tables.then(|| manifest_tables(program, &functions));
    let (outcome, tables) = match options.mode {
        mode @ ExecMode::Threads(_) => thread::scope(|scope| {
            let beside = scope.spawn(tables);
            let outcome = exec::execute(&layout.plan, &codegen_stage, &mut link_stage, mode);
            (outcome, beside.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
        }),
        mode => (exec::execute(&layout.plan, &codegen_stage, &mut link_stage, mode), tables()),
    };

    let mut manifest = Manifest::new();
    if let Some(tables) = tables {
        (manifest.functions, manifest.globals) = tables;
    }
    let staged_dir = (!named_outputs).then_some(shortcut_dir.as_path());
    let built = BuiltUnits::read(&outcome, &layout, &units, &functions, previous, staged_dir, &mut report);
    if let Some(symbol) = &options.explain {
        let now = functions.iter().position(|f| f.symbol.to_string() == *symbol);
        report.explain = Some(manifest::explain(symbol, previous, &manifest, now.and_then(|i| built.ir_hit[i])));
    }
    if explain_all_enabled() {
        log_invalidation(&functions, previous, &manifest, &built.ir_hit);
    }
    report_failures(&mut report, &outcome, &layout.plan, &codegen_stage.node_unit, &units);
    if let Some(Some(Artifact::Linked { link_key, written, inputs })) =
        layout.final_link.map(|n| &outcome.outputs[n.index()])
    {
        report.relinked = written.is_some();
        manifest.link_key = *link_key;
        manifest.link_inputs.clone_from(inputs);
        manifest.output = written.or(previous.map(|m| m.output)).unwrap_or_default();
    }
    let output_abs = std::path::absolute(&options.output).unwrap_or_else(|_| options.output.clone());
    report.output = Some(output_abs.display().to_string());
    if !report.failed.is_empty() || !outcome.skipped.is_empty() {
        report.status = "failed";
        return SessionResult { report, succeeded: false };
    }

    // Record what the next build needs.
    manifest.inputs = options.inputs;
    manifest.input_stamps = options.input_stamps;
    manifest.module_keys = module_keys;
    manifest.ir_packs = built.ir_packs;
    manifest.units = built.records;
    manifest.function_count = report.functions;
    manifest.unit_count = units.len();
    if options.link {
        let saved = traced(trace, Category::Phase, Lane::Main, "manifest", || manifest.save(&options.manifest_path));
        if let Err(e) = saved {
            report.cache_problems.push(format!("saving the build manifest: {e}"));
        }
    }
    SessionResult { report, succeeded: true }
}

/// Every function's content hash and view, in build order.
struct HashedFunctions<'a> {
    /// The front end's module keys, for the manifest.
    module_keys: Vec<(String, ContentHash)>,
    functions: Vec<FunctionEntry<'a>>,
    /// Each function's codegen weight (at least 1).
    weights: Vec<u64>,
}

/// The content hashes. A module whose front-end key is the one the previous
/// build recorded keeps that build's hashes and callee views
/// (`FrontEnd::module_key`): in an edit build, that is every module but the
/// edited one. The rest are computed; verifying computes them all and fails
/// (in `report`) on any recorded hash that differs from a fresh one.
fn hash_functions<'a, F: FrontEnd>(
    frontend: &'a F,
    previous: Option<&Manifest>,
    verify: bool,
    report: &mut BuildReport,
) -> HashedFunctions<'a> {
    let program = frontend.facts();
    let mut module_keys = Vec::new();
    let mut recorded: Vec<Option<&FunctionRecord>> = Vec::new();
    for (m, module) in program.modules.iter().enumerate() {
        let key = frontend.module_key(m);
        if let Some(key) = key {
            module_keys.push((module.name.clone(), key));
        }
        let known = previous.filter(|p| key.is_some() && p.module_key(&module.name) == key);
        for facts in std::iter::once(&module.init).chain(&module.functions) {
            recorded.push(known.and_then(|p| p.function(&facts.symbol.to_string())));
        }
    }
    let views: Vec<ContentHash> = program
        .all_functions()
        .zip(&recorded)
        .map(|(f, r)| r.filter(|_| !verify).map_or_else(|| hash::callee_view(&f.symbol, &f.signature), |r| r.view))
        .collect();
    let index = ProgramIndex::with_views(program, views.iter().copied());
    let mut functions: Vec<FunctionEntry> = Vec::with_capacity(views.len());
    let mut weights: Vec<u64> = Vec::with_capacity(views.len());
    for ((facts, record), view) in program.all_functions().zip(&recorded).zip(views) {
        let hash = record.filter(|_| !verify).map_or_else(|| index.content_hash(facts), |r| r.hash.clone());
        if let Some(r) = record.filter(|r| r.hash != hash || r.view != view) {
            report.status = "failed";
            report.failed.push(failure(
                Some(facts.symbol.to_string()),
                None,
                format!(
                    "--verify-cache: the content hash the previous build recorded for `{}` ({}) differs from a fresh computation ({}), although the front end's key for its module is unchanged",
                    facts.symbol,
                    r.hash.combined.short(),
                    hash.combined.short()
                ),
            ));
        }
        functions.push(FunctionEntry { symbol: &facts.symbol, is_init: facts.symbol.is_init(), hash, view });
        weights.push(facts.weight.max(1));
    }
    HashedFunctions { module_keys, functions, weights }
}

/// Groups each module's functions into codegen units as `--cgu` says.
/// Functions are numbered module by module, the initialiser first.
fn group_into_units(
    program: &crate::engine::ProgramFacts,
    functions: &[FunctionEntry],
    options: &SessionOptions,
) -> Vec<UnitPlan> {
    let mut units: Vec<UnitPlan> = Vec::new();
    let mut module_start = 0;
    for (module_index, module) in program.modules.iter().enumerate() {
        let init = module_start;
        let members: Vec<usize> = (init + 1..=init + module.functions.len()).collect();
        module_start += 1 + module.functions.len();
        let groups: Vec<(String, Vec<GlobalDef>, Vec<usize>)> = match options.cgu {
            CguMode::Module => {
                let mut all = vec![init];
                all.extend(&members);
                vec![(module.name.clone(), module.globals.clone(), all)]
            }
            CguMode::Function => {
                let mut groups = vec![(module.init.symbol.to_string(), module.globals.clone(), vec![init])];
                groups.extend(members.iter().map(|&i| (functions[i].symbol.to_string(), Vec::new(), vec![i])));
                groups
            }
            CguMode::Partition { size } => partition(&module.name, module.globals.clone(), init, &members, size, |i| {
                functions[i].symbol.name.as_str()
            }),
        };
        for (name, globals, members) in groups {
            let faulted = members.iter().map(|&i| functions[i].symbol).find(|s| options.faults.contains(*s)).cloned();
            units.push(UnitPlan { name, module: module_index, globals, functions: members, faulted });
        }
    }
    units
}

/// The plan of a build and where its steps are.
struct PlanLayout {
    plan: Plan,
    /// One codegen step per unit, in unit order.
    unit_nodes: Vec<NodeId>,
    entry_codegen: NodeId,
    /// Each module's link step, with the module's position (taken by the
    /// link stage).
    module_links: BTreeMap<NodeId, usize>,
    entry_link: NodeId,
    final_link: Option<NodeId>,
}

/// The plan: a codegen step per unit (most expensive first), then the
/// ordered link queue: each module's object, the entry, the program. A unit
/// whose members are the previous build's (its pack key is the one
/// recorded) will most likely take the unchanged-unit shortcut and cost
/// next to nothing, so the units an edit touched start first. Only on
/// threads: under the fuzzed scheduler, costs order the candidates a seed
/// chooses from, and a seed must give the same schedule whatever the cache
/// holds.
fn lay_out_plan(
    program: &crate::engine::ProgramFacts,
    units: &[UnitPlan],
    pack_keys: &[ContentHash],
    weights: &[u64],
    options: &SessionOptions,
    previous: Option<&Manifest>,
) -> PlanLayout {
    let recorded_units = previous.filter(|_| matches!(options.mode, ExecMode::Threads(_))).map(|m| &m.units);
    let mut plan = Plan::new();
    let unit_nodes: Vec<NodeId> = units
        .iter()
        .zip(pack_keys)
        .map(|(u, pack)| {
            let unchanged = recorded_units.and_then(|r| r.get(&u.name)).is_some_and(|r| r.ir_pack == *pack);
            let weight = if unchanged { 1 } else { u.functions.iter().map(|&i| weights[i]).sum() };
            plan.add(u.name.clone(), Stage::Codegen, weight, &[])
        })
        .collect();
    let entry_codegen = plan.add(ENTRY_UNIT, Stage::Codegen, 1, &[]);
    let mut module_links = BTreeMap::new();
    let mut link_nodes = Vec::new();
    for (m, module) in program.modules.iter().enumerate() {
        let deps: Vec<NodeId> = units.iter().zip(&unit_nodes).filter(|(u, _)| u.module == m).map(|(_, n)| *n).collect();
        let node = plan.add(format!("{}.o", module.name), Stage::Link, 1, &deps);
        module_links.insert(node, m);
        link_nodes.push(node);
    }
    let entry_link = plan.add(format!("{ENTRY_UNIT}.o"), Stage::Link, 1, &[entry_codegen]);
    link_nodes.push(entry_link);
    let final_link = options.link.then(|| plan.add(PROGRAM_NODE, Stage::Link, 1, &link_nodes));
    PlanLayout { plan, unit_nodes, entry_codegen, module_links, entry_link, final_link }
}

/// What the codegen steps found and made, read into the report and into the
/// manifest's unit records.
struct BuiltUnits {
    /// Per function: whether Layer 1 had its IR (`None`: its unit did not run).
    ir_hit: Vec<Option<bool>>,
    ir_packs: BTreeMap<String, Vec<ContentHash>>,
    records: BTreeMap<String, UnitRecord>,
}

impl BuiltUnits {
    fn read(
        outcome: &exec::ExecOutcome<Artifact, String>,
        layout: &PlanLayout,
        units: &[UnitPlan],
        functions: &[FunctionEntry],
        previous: Option<&Manifest>,
        staged_dir: Option<&Path>,
        report: &mut BuildReport,
    ) -> BuiltUnits {
        report.schedule = outcome.schedule.as_ref().map(|s| s.to_string());
        report.preemptions = outcome.schedule.as_ref().map(|_| outcome.stats.preemptions);
        let mut built =
            BuiltUnits { ir_hit: vec![None; functions.len()], ir_packs: BTreeMap::new(), records: BTreeMap::new() };
        for (u, node) in layout.unit_nodes.iter().enumerate() {
            let Some(Artifact::Unit(out)) = &outcome.outputs[node.index()] else { continue };
            for &(f, hit) in &out.ir_lookups {
                built.ir_hit[f] = Some(hit);
            }
            if out.object_hit {
                report.objects.hits += 1;
            } else {
                report.objects.misses += 1;
                report.codegened_units.push(units[u].name.clone());
            }
            report.cache_problems.extend(out.problems.iter().cloned());
            let mut history = vec![out.ir_pack];
            if let Some(old) = previous.and_then(|m| m.ir_packs.get(&units[u].name)) {
                history.extend(old.iter().filter(|k| **k != out.ir_pack).take(manifest::PACK_HISTORY - 1));
            }
            built.ir_packs.insert(units[u].name.clone(), history);
            let record = UnitRecord {
                ir_pack: out.ir_pack,
                ir_hashes: out.ir_hashes.clone(),
                object_key: out.key,
                object_hash: out.object_hash,
                object_stamp: out
                    .staged
                    .clone()
                    .or_else(|| staged_dir.map(|dir| staged_object_path(dir, &out.object_hash)))
                    .as_deref()
                    .and_then(manifest::FileStamp::of),
            };
            built.records.insert(units[u].name.clone(), record);
        }
        for (f, hit) in functions.iter().zip(&built.ir_hit) {
            match (hit, f.is_init) {
                (Some(true), false) => report.ir.hits += 1,
                (Some(false), false) => {
                    report.ir.misses += 1;
                    report.recompiled_functions.push(f.symbol.to_string());
                }
                (Some(false), true) => report.recompiled_initializers.push(f.symbol.module.clone()),
                _ => {}
            }
        }
        report.recompiled_functions.sort();
        report.recompiled_initializers.sort();
        report.codegened_units.sort();
        report.cache_problems.sort();
        built
    }
}

/// Failed and skipped steps, and a schedule replay that diverged, into the
/// report.
fn report_failures(
    report: &mut BuildReport,
    outcome: &exec::ExecOutcome<Artifact, String>,
    plan: &Plan,
    node_unit: &BTreeMap<NodeId, usize>,
    units: &[UnitPlan],
) {
    for (node, error) in &outcome.failed {
        let label = plan.label(*node).to_string();
        let (function, unit) = match node_unit.get(node) {
            Some(&u) => (units[u].faulted.as_ref().map(|s| s.to_string()), Some(units[u].name.clone())),
            None => (None, Some(label)),
        };
        report.failed.push(failure(function, unit, error.clone()));
    }
    report.skipped = outcome.skipped.iter().map(|n| plan.label(*n).to_string()).collect();
    report.skipped.sort();
    if let Some(divergence) = &outcome.replay_divergence {
        // The build itself finished (with default choices from there on),
        // but it did not replay what was asked: say so loudly.
        report.failed.push(failure(
            None,
            None,
            format!("--replay-schedule: the build diverged from the schedule: {divergence}"),
        ));
    }
}
