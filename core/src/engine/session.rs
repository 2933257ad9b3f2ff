//! One incremental build: hashes → Layer 1 → codegen units → Layer 2 →
//! the parallel plan (codegen on N workers, ordered link stage) → report.
//!
//! The session decides *what* to rebuild; `crate::exec` decides *when* and
//! *where* it runs. Nothing here depends on the schedule: every output byte
//! is a function of the front end's facts, the MIR and the configuration.

use crate::engine::cache::{ArtifactCache, Layer, Lookup};
use crate::engine::config::{ArtifactKind, CodegenConfig, OptLevel};
use crate::engine::hash::{compiler_fingerprint, ContentHash, FunctionContentHash, StableHasher};
use crate::engine::manifest::{self, FunctionRecord, Manifest};
use crate::engine::report::{BuildReport, Failure};
use crate::engine::{FrontEnd, FunctionFacts};
use crate::exec::{self, CodegenStage, ExecMode, LinkStage, NodeId, Plan, Stage};
use crate::link::Linker;
use crate::mir::{self, CodegenUnit, EntryPoint, GlobalDef, Symbol};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CguMode {
    /// One object per module. The default: measured fastest for clean and
    /// incremental builds alike (see `benches/benches/cgu.rs`).
    #[default]
    Module,
    /// One object per function, merged per module by `ld -r`.
    Function,
}

impl CguMode {
    pub fn name(self) -> &'static str {
        match self {
            CguMode::Module => "module",
            CguMode::Function => "function",
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
    pub explain: Option<String>,
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

/// Where a function stands after the Layer 1 pass.
#[derive(Debug)]
struct FunctionState {
    symbol: Symbol,
    is_init: bool,
    record: FunctionRecord,
    ir_hash: ContentHash,
    /// IR produced in this build (a miss): kept for codegen, so it is not
    /// read back from disk.
    fresh_ir: Option<Vec<u8>>,
    hit: bool,
}

/// One codegen unit of this build.
#[derive(Debug)]
struct UnitState {
    name: String,
    module: usize,
    globals: Vec<GlobalDef>,
    /// Indices into the function list, in emission order.
    functions: Vec<usize>,
    key: ContentHash,
    cost: u64,
    /// The cached artifact, on a hit.
    cached: Option<Vec<u8>>,
}

fn record_of(
    facts: &FunctionFacts,
    hash: FunctionContentHash,
    program: &crate::engine::ProgramFacts,
) -> FunctionRecord {
    let callee_signatures = facts
        .callees
        .iter()
        .map(|c| {
            let sig = program.signature_of(c).cloned().unwrap_or(mir::Signature { params: Vec::new(), ret: None });
            (c.to_string(), StableHasher::new("lockstep.signature").serialized(&sig).finish())
        })
        .collect();
    let global_types = facts
        .globals
        .iter()
        .map(|g| (g.to_string(), program.global_type(g).map_or_else(|| "?".to_string(), |t| t.to_string())))
        .collect();
    FunctionRecord { hash, callee_signatures, global_types }
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
    h.str(compiler_fingerprint()).str(backend).serialized(config).str(unit).serialized(&globals);
    for i in ir {
        h.hash(i);
    }
    h.finish()
}

/// Label of the entry unit; `$` keeps it apart from every module name.
pub const ENTRY_UNIT: &str = "$entry";

/// Plan labels, which name steps in schedules and in the report's
/// `skipped`: a codegen step is named after its unit (`m3`, `m3::f7`,
/// `$entry`), a link step after what it produces (`m3.o`, the module's
/// object; `$entry.o`; `program`, the executable).
pub const PROGRAM_NODE: &str = "program";

/// What flows from codegen to the link stage.
#[derive(Debug)]
pub enum Artifact {
    /// An object or bitcode file's bytes.
    Bytes(Vec<u8>),
    /// Link inputs staged on disk (objects) or held for LTO (bitcode).
    Staged { objects: Vec<PathBuf>, bitcode: Vec<Vec<u8>> },
    /// The executable, written; the hash of its bytes.
    Linked(ContentHash),
}

/// The result of a session.
#[derive(Debug)]
pub struct SessionResult {
    pub report: BuildReport,
    pub succeeded: bool,
}

/// Runs one build session.
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

    // Layer 1: one lookup per function.
    let mut functions: Vec<FunctionState> = Vec::new();
    let mut index_of: BTreeMap<Symbol, usize> = BTreeMap::new();
    for module in &program.modules {
        for (facts, is_init) in std::iter::once((&module.init, true)).chain(module.functions.iter().map(|f| (f, false)))
        {
            let hash = program.content_hash(facts);
            let key = hash.combined;
            let record = record_of(facts, hash, program);
            let (ir, hit) = match cache.get(Layer::Ir, &key) {
                Lookup::Hit(bytes) => (bytes, true),
                other => {
                    if let Lookup::Bad(why) = other {
                        report.cache_problems.push(format!("IR of `{}`: {why}", facts.symbol));
                    }
                    match frontend.lower(&facts.symbol).map(|f| postcard::to_stdvec(&f)) {
                        Some(Ok(bytes)) => {
                            if let Err(e) = cache.put(Layer::Ir, &key, &bytes) {
                                report.cache_problems.push(format!("storing IR of `{}`: {e}", facts.symbol));
                            }
                            (bytes, false)
                        }
                        _ => {
                            report.status = "failed";
                            report.failed.push(Failure {
                                function: Some(facts.symbol.to_string()),
                                unit: None,
                                error: "the front end could not lower this function".to_string(),
                            });
                            (Vec::new(), false)
                        }
                    }
                }
            };
            if hit && options.verify_cache {
                let fresh = frontend.lower(&facts.symbol).and_then(|f| postcard::to_stdvec(&f).ok());
                if fresh.as_deref() != Some(ir.as_slice()) {
                    report.status = "failed";
                    report.failed.push(Failure {
                        function: Some(facts.symbol.to_string()),
                        unit: None,
                        error: format!(
                            "--verify-cache: cached IR differs from a fresh lowering with the same content hash {} (body {}, signature {}, callees {}, globals {})",
                            key.short(),
                            record.hash.body.short(),
                            record.hash.signature.short(),
                            record.hash.callees.short(),
                            record.hash.globals.short()
                        ),
                    });
                }
            }
            let ir_hash = ContentHash::of(&ir);
            if !is_init {
                if hit {
                    report.ir.hits += 1;
                } else {
                    report.ir.misses += 1;
                    report.recompiled_functions.push(facts.symbol.to_string());
                }
            } else if !hit {
                report.recompiled_initializers.push(module.name.clone());
            }
            index_of.insert(facts.symbol.clone(), functions.len());
            functions.push(FunctionState {
                symbol: facts.symbol.clone(),
                is_init,
                record,
                ir_hash,
                fresh_ir: (!hit).then_some(ir),
                hit,
            });
        }
    }
    report.functions = functions.iter().filter(|f| !f.is_init).count();
    report.recompiled_functions.sort();
    if let Some(symbol) = &options.explain {
        let now = functions.iter().find(|f| f.symbol.to_string() == *symbol);
        let text = manifest::explain(
            symbol,
            previous.and_then(|m| m.functions.get(symbol)),
            now.map(|f| &f.record),
            now.map(|f| f.hit),
        );
        report.explain = Some(text);
    }
    if report.status == "failed" {
        return SessionResult { report, succeeded: false };
    }

    // Layer 2: one lookup per codegen unit.
    let mut units: Vec<UnitState> = Vec::new();
    for (module_index, module) in program.modules.iter().enumerate() {
        let init = index_of[&module.init.symbol];
        let members: Vec<usize> = module.functions.iter().map(|f| index_of[&f.symbol]).collect();
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
        };
        for (name, globals, members) in groups {
            let ir: Vec<ContentHash> = members.iter().map(|&i| functions[i].ir_hash).collect();
            let key = unit_key(&backend_id, &config, &name, &globals, &ir);
            let forced = members.iter().any(|&i| options.faults.contains(&functions[i].symbol));
            let cached = if forced {
                None
            } else {
                match cache.get(Layer::Object, &key) {
                    Lookup::Hit(bytes) => Some(bytes),
                    Lookup::Miss => None,
                    Lookup::Bad(why) => {
                        report.cache_problems.push(format!("object of unit `{name}`: {why}"));
                        None
                    }
                }
            };
            if let (Some(bytes), true) = (&cached, options.verify_cache) {
                let unit = build_unit(frontend, cache, &functions, &name, &globals, &members);
                let mut backend = backends.create();
                match unit.and_then(|u| backend.compile_unit(&u, &config)) {
                    Ok(fresh) if &fresh == bytes => {}
                    Ok(_) => {
                        report.status = "failed";
                        report.failed.push(Failure {
                            function: None,
                            unit: Some(name.clone()),
                            error: format!(
                                "--verify-cache: cached {} differs from a fresh compile with the same key {}",
                                if options.lto { "bitcode" } else { "object" },
                                key.short()
                            ),
                        });
                    }
                    Err(e) => report.failed.push(Failure { function: None, unit: Some(name.clone()), error: e }),
                }
            }
            if cached.is_some() {
                report.objects.hits += 1;
            } else {
                report.objects.misses += 1;
            }
            let cost = members.iter().map(|&i| functions[i].fresh_ir.as_ref().map_or(64, |b| b.len() as u64)).sum();
            units.push(UnitState { name, module: module_index, globals, functions: members, key, cost, cached });
        }
    }
    if report.status == "failed" {
        return SessionResult { report, succeeded: false };
    }
    let entry_key = StableHasher::new("lockstep.entry")
        .str(compiler_fingerprint())
        .str(&backend_id)
        .serialized(&config)
        .serialized(&program.entry)
        .finish();
    let entry_cached = match cache.get(Layer::Object, &entry_key) {
        Lookup::Hit(bytes) => Some(bytes),
        _ => None,
    };

    let mut link_key = StableHasher::new("lockstep.link");
    link_key.str(compiler_fingerprint()).str(&backend_id).serialized(&config).str(options.cgu.name());
    link_key.bytes(options.linker.program.as_os_str().as_encoded_bytes());
    for unit in &units {
        link_key.str(&unit.name).hash(&unit.key);
    }
    let link_key = link_key.hash(&entry_key).finish();

    let output_abs = std::path::absolute(&options.output).unwrap_or_else(|_| options.output.clone());
    report.output = options.link.then(|| output_abs.display().to_string());

    let all_hits = units.iter().all(|u| u.cached.is_some()) && entry_cached.is_some();
    let up_to_date_link = previous.is_some_and(|m| m.link_key == link_key && m.output_intact(&options.output));
    let mut output_hash = previous.map(|m| m.output_hash).unwrap_or_default();
    if !(all_hits && up_to_date_link && options.link) {
        // Build the plan: codegen for every miss, then the ordered link
        // queue: one step per module, the entry, and the final link.
        let mut plan = Plan::new();
        let mut codegen_of: BTreeMap<usize, NodeId> = BTreeMap::new();
        for (i, unit) in units.iter().enumerate() {
            if unit.cached.is_none() {
                codegen_of.insert(i, plan.add(unit.name.clone(), Stage::Codegen, unit.cost, &[]));
            }
        }
        let entry_codegen = entry_cached.is_none().then(|| plan.add(ENTRY_UNIT, Stage::Codegen, 1, &[]));
        let mut link_nodes = Vec::new();
        let mut module_link: Vec<(NodeId, usize)> = Vec::new();
        for (m, module) in program.modules.iter().enumerate() {
            let deps: Vec<NodeId> = units
                .iter()
                .enumerate()
                .filter(|(_, u)| u.module == m)
                .filter_map(|(i, _)| codegen_of.get(&i).copied())
                .collect();
            let node = plan.add(format!("{}.o", module.name), Stage::Link, 1, &deps);
            link_nodes.push(node);
            module_link.push((node, m));
        }
        let entry_link =
            plan.add(format!("{ENTRY_UNIT}.o"), Stage::Link, 1, &entry_codegen.into_iter().collect::<Vec<_>>());
        link_nodes.push(entry_link);
        let final_link = options.link.then(|| plan.add(PROGRAM_NODE, Stage::Link, 1, &link_nodes));

        // Link inputs are staged in a directory of this build's own, so
        // concurrent builds (even of other configurations) never see each
        // other's files. Without a link (a cross target), the objects are
        // the result and go to the output directory instead.
        let staging_dir = if options.link {
            tempfile::Builder::new().prefix("link-").tempdir_in(ensure_dir(&options.work_dir)).map(Some)
        } else {
            std::fs::create_dir_all(&options.output).map(|_| None)
        };
        let (staging_guard, staging_path) = match staging_dir {
            Ok(Some(dir)) => {
                let path = dir.path().to_path_buf();
                (Some(dir), path)
            }
            Ok(None) => (None, options.output.clone()),
            Err(e) => {
                report.status = "failed";
                report.failed.push(Failure {
                    function: None,
                    unit: None,
                    error: format!("{}: cannot create a staging directory: {e}", options.work_dir.display()),
                });
                return SessionResult { report, succeeded: false };
            }
        };
        let codegen_stage = CodegenWork {
            frontend,
            backends,
            cache,
            config: &config,
            functions: &functions,
            units: &units,
            node_unit: codegen_of.iter().map(|(u, n)| (*n, *u)).collect(),
            entry_node: entry_codegen,
            entry: &program.entry,
            entry_key,
            faults: &options.faults,
        };
        let mut link_stage = LinkWork {
            backends,
            backend: None,
            cache,
            config: &config,
            units: &units,
            modules: module_link.iter().map(|(n, m)| (*n, *m)).collect(),
            module_names: program.modules.iter().map(|m| m.name.clone()).collect(),
            entry_link,
            entry_cached: entry_cached.as_deref(),
            final_link,
            staging: staging_path,
            linker: &options.linker,
            output: options.output.clone(),
            lto: options.lto,
            codegen_of: &codegen_of,
            entry_codegen,
        };
        let outcome = exec::execute(&plan, &codegen_stage, &mut link_stage, options.mode);
        drop(staging_guard);
        report.schedule = outcome.schedule.as_ref().map(|s| s.to_string());
        if let Some(divergence) = &outcome.replay_divergence {
            // The build itself finished (with default choices from there
            // on), but it did not replay what was asked: say so loudly.
            report.status = "failed";
            report.failed.push(Failure {
                function: None,
                unit: None,
                error: format!("--replay-schedule: the build diverged from the schedule: {divergence}"),
            });
        }
        for (node, error) in &outcome.failed {
            let label = plan.label(*node).to_string();
            let unit_name = (plan.stage(*node) == Stage::Codegen).then_some(label.as_str());
            let function = unit_name.and_then(|u| {
                units.iter().find(|x| x.name == u).and_then(|x| {
                    x.functions
                        .iter()
                        .map(|&i| &functions[i].symbol)
                        .find(|s| options.faults.contains(s))
                        .map(|s| s.to_string())
                })
            });
            report.failed.push(Failure {
                function,
                unit: Some(unit_name.map_or(label.clone(), str::to_string)),
                error: error.clone(),
            });
        }
        report.skipped = outcome.skipped.iter().map(|n| plan.label(*n).to_string()).collect();
        report.skipped.sort();
        for (unit, node) in &codegen_of {
            if outcome.outputs[node.index()].is_some() {
                report.codegened_units.push(units[*unit].name.clone());
            }
        }
        report.codegened_units.sort();
        if !outcome.succeeded() || report.status == "failed" {
            report.status = "failed";
            return SessionResult { report, succeeded: false };
        }
        if let Some(final_node) = final_link {
            report.relinked = true;
            if let Some(Artifact::Linked(hash)) = &outcome.outputs[final_node.index()] {
                output_hash = *hash;
            }
        }
    }

    // Record what the next build needs.
    let mut manifest = Manifest::new();
    manifest.inputs = options.inputs;
    manifest.functions = functions.iter().map(|f| (f.symbol.to_string(), f.record.clone())).collect();
    manifest.units = units.iter().map(|u| (u.name.clone(), u.key)).collect();
    manifest.link_key = link_key;
    manifest.output_hash = output_hash;
    manifest.function_count = report.functions;
    manifest.unit_count = units.len();
    if options.link {
        if let Err(e) = manifest.save(&options.manifest_path) {
            report.cache_problems.push(format!("saving the build manifest: {e}"));
        }
    }
    SessionResult { report, succeeded: true }
}

fn ensure_dir(dir: &Path) -> &Path {
    let _ = std::fs::create_dir_all(dir);
    dir
}

/// Reads a function's MIR: this build's fresh IR, else Layer 1, else a new
/// lowering (if the entry vanished since the lookup, e.g. a concurrent gc).
fn function_ir<F: FrontEnd>(frontend: &F, cache: &ArtifactCache, f: &FunctionState) -> Result<mir::Function, String> {
    let from_bytes = |bytes: &[u8]| postcard::from_bytes::<mir::Function>(bytes).ok();
    if let Some(ir) = f.fresh_ir.as_deref().and_then(from_bytes) {
        return Ok(ir);
    }
    if let Lookup::Hit(bytes) = cache.get(Layer::Ir, &f.record.hash.combined) {
        if let Some(ir) = from_bytes(&bytes) {
            return Ok(ir);
        }
    }
    frontend.lower(&f.symbol).ok_or_else(|| format!("cannot lower `{}`", f.symbol))
}

fn build_unit<F: FrontEnd>(
    frontend: &F,
    cache: &ArtifactCache,
    functions: &[FunctionState],
    name: &str,
    globals: &[GlobalDef],
    members: &[usize],
) -> Result<CodegenUnit, String> {
    let mut unit = CodegenUnit { name: name.to_string(), globals: globals.to_vec(), functions: Vec::new() };
    for &i in members {
        unit.functions.push(function_ir(frontend, cache, &functions[i])?);
    }
    Ok(unit)
}

struct CodegenWork<'a, F, B> {
    frontend: &'a F,
    backends: &'a B,
    cache: &'a ArtifactCache,
    config: &'a CodegenConfig,
    functions: &'a [FunctionState],
    units: &'a [UnitState],
    node_unit: BTreeMap<NodeId, usize>,
    entry_node: Option<NodeId>,
    entry: &'a EntryPoint,
    entry_key: ContentHash,
    faults: &'a BTreeSet<Symbol>,
}

impl<F: FrontEnd, B: BackendFactory> CodegenStage for CodegenWork<'_, F, B> {
    type Worker = B::Backend;
    type Output = Artifact;
    type Error = String;

    fn new_worker(&self) -> B::Backend {
        self.backends.create()
    }

    fn run(&self, backend: &mut B::Backend, node: NodeId) -> Result<Artifact, String> {
        if Some(node) == self.entry_node {
            let bytes = backend.compile_entry(self.entry, self.config)?;
            let _ = self.cache.put(Layer::Object, &self.entry_key, &bytes);
            return Ok(Artifact::Bytes(bytes));
        }
        let Some(&u) = self.node_unit.get(&node) else { return Err(format!("no unit for node {node:?}")) };
        let unit = &self.units[u];
        if let Some(fault) =
            unit.functions.iter().map(|&i| &self.functions[i].symbol).find(|s| self.faults.contains(*s))
        {
            return Err(format!("injected fault: codegen of `{fault}` fails (--inject-fault)"));
        }
        // The payload (MIR) is assembled here, on the worker, only while
        // the unit is in flight: memory stays bounded by the worker count.
        let cgu = build_unit(self.frontend, self.cache, self.functions, &unit.name, &unit.globals, &unit.functions)?;
        let bytes = backend.compile_unit(&cgu, self.config)?;
        // A failed store only costs a future miss; the build goes on.
        let _ = self.cache.put(Layer::Object, &unit.key, &bytes);
        Ok(Artifact::Bytes(bytes))
    }
}

struct LinkWork<'a, B: BackendFactory> {
    backends: &'a B,
    backend: Option<B::Backend>,
    cache: &'a ArtifactCache,
    config: &'a CodegenConfig,
    units: &'a [UnitState],
    modules: BTreeMap<NodeId, usize>,
    module_names: Vec<String>,
    entry_link: NodeId,
    entry_cached: Option<&'a [u8]>,
    final_link: Option<NodeId>,
    staging: PathBuf,
    linker: &'a Linker,
    output: PathBuf,
    lto: bool,
    codegen_of: &'a BTreeMap<usize, NodeId>,
    entry_codegen: Option<NodeId>,
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

impl<B: BackendFactory> LinkWork<'_, B> {
    fn artifact_bytes<'x>(&'x self, unit: usize, inputs: &'x [(NodeId, &'x Artifact)]) -> Result<&'x [u8], String> {
        if let Some(bytes) = &self.units[unit].cached {
            return Ok(bytes);
        }
        let node = self.codegen_of.get(&unit).ok_or("unit has neither a cached artifact nor a codegen step")?;
        match inputs.iter().find(|(n, _)| n == node) {
            Some((_, Artifact::Bytes(b))) => Ok(b),
            _ => Err(format!("missing codegen output of `{}`", self.units[unit].name)),
        }
    }

    fn link_module(&mut self, module: usize, inputs: &[(NodeId, &Artifact)]) -> Result<Artifact, String> {
        let members: Vec<usize> = (0..self.units.len()).filter(|&u| self.units[u].module == module).collect();
        let name = &self.module_names[module];
        if self.lto {
            let mut bitcode = Vec::new();
            for &u in &members {
                bitcode.push(self.artifact_bytes(u, inputs)?.to_vec());
            }
            return Ok(Artifact::Staged { objects: Vec::new(), bitcode });
        }
        let path = self.staging.join(format!("{name}.o"));
        if members.len() == 1 {
            write_file(&path, self.artifact_bytes(members[0], inputs)?)?;
            return Ok(Artifact::Staged { objects: vec![path], bitcode: Vec::new() });
        }
        // Per-function objects: merge with `ld -r`, itself cached by the
        // keys of its inputs.
        let mut key = StableHasher::new("lockstep.partial-link");
        key.bytes(self.linker.program.as_os_str().as_encoded_bytes());
        for &u in &members {
            key.hash(&self.units[u].key);
        }
        let key = key.finish();
        if let Lookup::Hit(bytes) = self.cache.get(Layer::Object, &key) {
            write_file(&path, &bytes)?;
            return Ok(Artifact::Staged { objects: vec![path], bitcode: Vec::new() });
        }
        let dir = self.staging.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut parts = Vec::new();
        for (i, &u) in members.iter().enumerate() {
            let part = dir.join(format!("{i}.o"));
            write_file(&part, self.artifact_bytes(u, inputs)?)?;
            parts.push(part);
        }
        self.linker.partial_link(&parts, &path).map_err(|e| e.to_string())?;
        if let Ok(bytes) = std::fs::read(&path) {
            let _ = self.cache.put(Layer::Object, &key, &bytes);
        }
        Ok(Artifact::Staged { objects: vec![path], bitcode: Vec::new() })
    }

    fn link_program(&mut self, inputs: &[(NodeId, &Artifact)]) -> Result<Artifact, String> {
        let mut objects = Vec::new();
        let mut bitcode = Vec::new();
        for (_, artifact) in inputs {
            if let Artifact::Staged { objects: o, bitcode: b } = artifact {
                objects.extend(o.iter().cloned());
                bitcode.extend(b.iter().cloned());
            }
        }
        if self.lto {
            let backend = self.backend.get_or_insert_with(|| self.backends.create());
            let mut object_config = self.config.clone();
            object_config.artifact = ArtifactKind::Object;
            let merged = backend.lto_link(&bitcode, &object_config)?;
            let path = self.staging.join("lto.o");
            write_file(&path, &merged)?;
            objects = vec![path];
        }
        let dir = self.output.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // Link beside the destination, then rename: a concurrent build or
        // a crash never leaves a half-written executable in place.
        let tmp = tempfile::Builder::new()
            .prefix(".lockstep-link-")
            .tempfile_in(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .into_temp_path();
        self.linker.link_executable(&objects, &tmp).map_err(|e| e.to_string())?;
        let bytes = std::fs::read(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        tmp.persist(&self.output).map_err(|e| format!("{}: {}", self.output.display(), e.error))?;
        Ok(Artifact::Linked(ContentHash::of(&bytes)))
    }
}

impl<B: BackendFactory> LinkStage<Artifact, String> for LinkWork<'_, B> {
    fn run(&mut self, node: NodeId, inputs: &[(NodeId, &Artifact)]) -> Result<Artifact, String> {
        if let Some(&module) = self.modules.get(&node) {
            return self.link_module(module, inputs);
        }
        if node == self.entry_link {
            let bytes = match (self.entry_cached, self.entry_codegen) {
                (Some(b), _) => b.to_vec(),
                (None, Some(n)) => match inputs.iter().find(|(x, _)| *x == n) {
                    Some((_, Artifact::Bytes(b))) => b.clone(),
                    _ => return Err("missing entry object".to_string()),
                },
                (None, None) => return Err("missing entry object".to_string()),
            };
            if self.lto {
                return Ok(Artifact::Staged { objects: Vec::new(), bitcode: vec![bytes] });
            }
            let path = self.staging.join("entry.o");
            write_file(&path, &bytes)?;
            return Ok(Artifact::Staged { objects: vec![path], bitcode: Vec::new() });
        }
        if Some(node) == self.final_link {
            return self.link_program(inputs);
        }
        Err(format!("unknown link step {node:?}"))
    }
}
