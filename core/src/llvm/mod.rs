//! The LLVM backend: MIR → object code or bitcode, through inkwell.
//!
//! # Shape
//!
//! - [`LlvmBackend::compile_unit`] turns one [`CodegenUnit`] into one LLVM
//!   module (named after the unit, `source_filename` = the unit name, never a
//!   path), runs the pipeline for the [`OptLevel`] and emits an object file or
//!   bitcode. [`LlvmBackend::compile_entry`] does the same for the program
//!   glue ([`EntryPoint`]): the C `main` and the runtime helpers, generated
//!   directly as LLVM IR (there is no C source to compile).
//! - [`LlvmBackend::lto_link`] parses bitcode blobs, links them into one
//!   module, runs the link-time pipeline and emits one object.
//! - `unit_llvm_ir` / `entry_llvm_ir` return the textual IR after the same
//!   pipeline, for snapshots and debugging.
//!
//! # Contexts and threads
//!
//! An inkwell `Context` is `!Send`, so an [`LlvmBackend`] owns exactly one and
//! is itself `!Send`: a parallel build creates one backend per worker thread
//! and reuses it for every unit that thread compiles. Each compilation
//! creates a fresh module in that context and drops it afterwards.
//!
//! Target machines are comparatively expensive to create (target lookup,
//! subtarget tables), so each backend caches one per (triple, opt level) and
//! reuses it for every module it emits. Target registration (X86 and AArch64)
//! happens once per process.
//!
//! # Lowering
//!
//! - Every MIR local gets one `alloca` in a dedicated `start` block (which
//!   then branches to MIR block 0, so MIR may loop back to its entry block);
//!   parameters are stored into their slots and other locals are zeroed.
//!   In release, `mem2reg`/SROA turn the slots into SSA values.
//! - `i64` is `i64`; `bool` is `i1` in registers, `zeroext i1` as a
//!   parameter or result (C's `_Bool`), and `i8` (0/1) in global memory, in
//!   every unit alike, because globals are declared in other units through
//!   `Externs::globals` (loads test `!= 0`).
//! - Arithmetic is wrapping (no `nsw`/`nuw`). `/` and `%` check for a zero
//!   divisor (branching to a per-function block that calls
//!   [`runtime::DIV_BY_ZERO`](crate::mir::runtime::DIV_BY_ZERO)), then
//!   replace a `-1` divisor by `1` and fix up the result with a `select`,
//!   which avoids LLVM's undefined `MIN / -1` without another branch.
//! - Every function and global has external linkage and its mangled name
//!   ([`Symbol::mangled_function`](crate::mir::Symbol::mangled_function),
//!   [`Symbol::mangled_global`](crate::mir::Symbol::mangled_global)); defined
//!   globals start zeroed. Everything a function names in its
//!   [`Externs`](crate::mir::Externs) that the unit does not define is
//!   declared; the runtime helpers are declared on first use.
//! - Each module is verified before optimisation; a verifier failure (a
//!   lockstep bug) is reported as a [`BackendError`], never a panic. MIR that
//!   is malformed in ways that would crash LLVM (type mismatches, bad local
//!   or block numbers, undeclared callees) is rejected before it reaches LLVM.
//!
//! # Pipelines
//!
//! Always the new pass manager (`Module::run_passes`), for every LLVM:
//!
//! | opt       | object (and its IR)         | bitcode (and its IR)  | `lto_link`                   |
//! |-----------|-----------------------------|-----------------------|------------------------------|
//! | `Debug`   | no passes; codegen O0       | no passes             | link only; codegen O0        |
//! | `Release` | `default<O2>`; codegen O2   | `lto-pre-link<O2>`    | internalise, `lto<O2>`; codegen O2 |
//!
//! In a release `lto_link` whose inputs define `main` (i.e. a whole
//! program), every other definition is made internal first, so the LTO
//! pipeline may inline across units and drop what is unused.
//!
//! # Determinism
//!
//! The same input gives byte-identical output whatever backend instance or
//! thread compiles it and whatever it compiled before:
//! - Every name in a module is chosen by us from the MIR (mangled symbols,
//!   `lockstep.*` names for the entry's strings, block names from MIR block
//!   numbers); nothing is auto-numbered across a context, so a reused
//!   context cannot leak earlier modules into names. Modules do not outlive
//!   their compilation, so names never collide with leftovers.
//! - Functions, globals, declarations and blocks are emitted in MIR order
//!   (extern declarations in the `BTreeMap` order of `Externs`).
//! - `source_filename` and the module identifier are the unit name, never a
//!   path; the triple is normalised; the CPU is `generic` with no host
//!   features; relocation model PIC (the system `cc` links PIE).
//! - A context does keep interned types and constants alive until the
//!   backend is dropped; they never reach the output.
//! - [`backend_version`] (for cache keys) reads the version of the LLVM
//!   actually loaded, from the producer string it writes into bitcode.

mod entry;
mod lower;
mod version;

use crate::mir::{CodegenUnit, EntryPoint};
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::{Linkage, Module};
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple};
use inkwell::OptimizationLevel;
use lockstep_scheduler::sync::{Once, OnceLock};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

pub use crate::engine::config::{ArtifactKind, CodegenConfig, OptLevel};

impl CodegenConfig {
    /// Object files for the machine we run on.
    pub fn host(opt: OptLevel) -> CodegenConfig {
        CodegenConfig { opt, target: host_triple(), artifact: ArtifactKind::Object }
    }
}

/// The normalised triple of the machine we run on, e.g.
/// `x86_64-pc-linux-gnu`.
pub fn host_triple() -> String {
    let triple = TargetMachine::normalize_triple(&TargetMachine::get_default_triple());
    triple.as_str().to_string_lossy().into_owned()
}

/// `triple` in LLVM's normal form (`x86_64-linux-gnu` and
/// `x86_64-unknown-linux-gnu` both name the host, for instance).
pub fn normalize_triple(triple: &str) -> String {
    let normalized = TargetMachine::normalize_triple(&TargetTriple::create(triple));
    normalized.as_str().to_string_lossy().into_owned()
}

/// The LLVM in use, e.g. `llvm-14.0.6`, for cache keys.
/// Whether this build of LLVM can generate code for `triple`: checked once,
/// before planning, so a bad `--target` is one error rather than one per
/// codegen unit.
pub fn check_target(triple: &str) -> Result<(), String> {
    initialise_targets();
    let normalised = TargetMachine::normalize_triple(&TargetTriple::create(triple));
    Target::from_triple(&normalised).map(|_| ()).map_err(|e| {
        format!(
            "unsupported target `{triple}`: {} (this lockstep generates code for x86-64 and AArch64)",
            e.to_string_lossy().trim_end_matches('.')
        )
    })
}

pub fn backend_version() -> String {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(version::detect).clone()
}

/// A failure in the backend. The message names the unit (and function)
/// concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendError {
    pub message: String,
}

impl BackendError {
    pub(crate) fn new(message: impl Into<String>) -> BackendError {
        BackendError { message: message.into() }
    }

    /// Prefixes the message with where the error happened.
    pub(crate) fn context(self, what: impl fmt::Display) -> BackendError {
        BackendError { message: format!("{what}: {}", self.message) }
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BackendError {}

impl From<inkwell::builder::BuilderError> for BackendError {
    fn from(e: inkwell::builder::BuilderError) -> BackendError {
        BackendError::new(format!("LLVM builder: {e}"))
    }
}

/// Which pipeline a module goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// A unit or the entry, emitted as an object (or printed as IR).
    Compile,
    /// A unit or the entry, emitted as bitcode for a later `lto_link`.
    PreLink,
    /// The merged module of `lto_link`.
    Link,
}

impl Stage {
    fn of(artifact: ArtifactKind) -> Stage {
        match artifact {
            ArtifactKind::Object => Stage::Compile,
            ArtifactKind::Bitcode => Stage::PreLink,
        }
    }

    fn pipeline(self, opt: OptLevel) -> Option<&'static str> {
        match (opt, self) {
            (OptLevel::Debug, Stage::Compile) => Some("function(mem2reg)"),
            (OptLevel::Debug, _) => None,
            (OptLevel::Release, Stage::Compile) => Some("default<O2>"),
            (OptLevel::Release, Stage::PreLink) => Some("lto-pre-link<O2>"),
            (OptLevel::Release, Stage::Link) => Some("lto<O2>"),
        }
    }
}

/// A target machine and the normalised triple it was made for.
struct Machine {
    triple: String,
    machine: TargetMachine,
}

/// Compiles MIR with LLVM. Owns one LLVM context, so it stays on the thread
/// that created it; create one per worker thread.
pub struct LlvmBackend {
    context: Context,
    machines: RefCell<HashMap<(String, OptLevel), Rc<Machine>>>,
}

impl fmt::Debug for LlvmBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut cached: Vec<_> = self.machines.borrow().keys().cloned().collect();
        cached.sort();
        f.debug_struct("LlvmBackend").field("target_machines", &cached).finish_non_exhaustive()
    }
}

impl Default for LlvmBackend {
    fn default() -> LlvmBackend {
        LlvmBackend::new()
    }
}

fn initialise_targets() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let config = InitializationConfig::default();
        Target::initialize_x86(&config);
        Target::initialize_aarch64(&config);
    });
}

impl LlvmBackend {
    pub fn new() -> LlvmBackend {
        initialise_targets();
        LlvmBackend { context: Context::create(), machines: RefCell::new(HashMap::new()) }
    }

    /// Object code or bitcode (per `config.artifact`) for one unit.
    pub fn compile_unit(&self, unit: &CodegenUnit, config: &CodegenConfig) -> Result<Vec<u8>, BackendError> {
        self.unit_module(unit, config, |module, machine| {
            self.emit(module, machine, config.opt, Stage::of(config.artifact), config.artifact)
        })
        .map_err(|e| e.context(format_args!("codegen unit `{}`", unit.name)))
    }

    /// Object code or bitcode (per `config.artifact`) for the program glue.
    pub fn compile_entry(&self, entry: &EntryPoint, config: &CodegenConfig) -> Result<Vec<u8>, BackendError> {
        self.entry_module(entry, config, |module, machine| {
            self.emit(module, machine, config.opt, Stage::of(config.artifact), config.artifact)
        })
        .map_err(|e| e.context("entry point"))
    }

    /// The unit's textual IR after the pipeline `compile_unit` would run.
    pub fn unit_llvm_ir(&self, unit: &CodegenUnit, config: &CodegenConfig) -> Result<String, BackendError> {
        self.unit_module(unit, config, |module, machine| {
            self.optimise(module, machine, config.opt, Stage::of(config.artifact))?;
            Ok(module.print_to_string().to_string())
        })
        .map_err(|e| e.context(format_args!("codegen unit `{}`", unit.name)))
    }

    /// The entry's textual IR after the pipeline `compile_entry` would run.
    pub fn entry_llvm_ir(&self, entry: &EntryPoint, config: &CodegenConfig) -> Result<String, BackendError> {
        self.entry_module(entry, config, |module, machine| {
            self.optimise(module, machine, config.opt, Stage::of(config.artifact))?;
            Ok(module.print_to_string().to_string())
        })
        .map_err(|e| e.context("entry point"))
    }

    /// Link-time optimisation: parses each bitcode blob (in order), links
    /// them into one module, runs the link-time pipeline for `config.opt`
    /// and emits one object (`config.artifact` is ignored). Every blob must
    /// have been compiled for `config.target`.
    pub fn lto_link(&self, bitcode: &[Vec<u8>], config: &CodegenConfig) -> Result<Vec<u8>, BackendError> {
        let result = (|| {
            let machine = self.machine(&config.target, config.opt)?;
            let module = self.context.create_module(LTO_MODULE);
            module.set_source_file_name(LTO_MODULE);
            set_target(&module, &machine);
            for (i, blob) in bitcode.iter().enumerate() {
                let name = format!("lto.input.{i}");
                let buffer = MemoryBuffer::create_from_memory_range_copy(blob, &name);
                let input = Module::parse_bitcode_from_buffer(&buffer, &self.context)
                    .map_err(|e| BackendError::new(format!("bitcode input {i}: {}", e.to_string_lossy())))?;
                let triple = input.get_triple();
                let triple = triple.as_str().to_string_lossy();
                if triple != machine.triple.as_str() {
                    return Err(BackendError::new(format!(
                        "bitcode input {i} targets `{triple}`, not `{}`",
                        machine.triple
                    )));
                }
                module
                    .link_in_module(input)
                    .map_err(|e| BackendError::new(format!("linking bitcode input {i}: {}", e.to_string_lossy())))?;
            }
            if config.opt == OptLevel::Release
                && module.get_function("main").is_some_and(|f| f.count_basic_blocks() > 0)
            {
                internalise_all_but_main(&module);
            }
            self.emit(&module, &machine, config.opt, Stage::Link, ArtifactKind::Object)
        })();
        result.map_err(|e| e.context("LTO link"))
    }

    /// The cached target machine for `triple` at `opt`, created on first use.
    fn machine(&self, triple: &str, opt: OptLevel) -> Result<Rc<Machine>, BackendError> {
        let key = (triple.to_string(), opt);
        if let Some(machine) = self.machines.borrow().get(&key) {
            return Ok(Rc::clone(machine));
        }
        let normalised = TargetMachine::normalize_triple(&TargetTriple::create(triple));
        let target = Target::from_triple(&normalised)
            .map_err(|e| BackendError::new(format!("unsupported target `{triple}`: {}", e.to_string_lossy())))?;
        let level = match opt {
            OptLevel::Debug => OptimizationLevel::None,
            OptLevel::Release => OptimizationLevel::Default,
        };
        let machine = target
            .create_target_machine(&normalised, "generic", "", level, RelocMode::PIC, CodeModel::Default)
            .ok_or_else(|| BackendError::new(format!("LLVM cannot create a target machine for `{triple}`")))?;
        let machine = Rc::new(Machine { triple: normalised.as_str().to_string_lossy().into_owned(), machine });
        self.machines.borrow_mut().insert(key, Rc::clone(&machine));
        Ok(machine)
    }

    fn unit_module<T>(
        &self,
        unit: &CodegenUnit,
        config: &CodegenConfig,
        finish: impl FnOnce(&Module<'_>, &Machine) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        self.new_module(&unit.name, config, |module, _| lower::lower_unit(&self.context, module, unit), finish)
    }

    fn entry_module<T>(
        &self,
        entry: &EntryPoint,
        config: &CodegenConfig,
        finish: impl FnOnce(&Module<'_>, &Machine) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        self.new_module(
            ENTRY_MODULE,
            config,
            |module, machine| entry::lower_entry(&self.context, module, &machine.machine, entry),
            finish,
        )
    }

    /// A module named `name` for `config`'s target, filled by `lower`,
    /// verified, then handed to `finish`.
    fn new_module<'s, T>(
        &'s self,
        name: &str,
        config: &CodegenConfig,
        lower: impl FnOnce(&Module<'s>, &Machine) -> Result<(), BackendError>,
        finish: impl FnOnce(&Module<'_>, &Machine) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        let machine = self.machine(&config.target, config.opt)?;
        let module = self.context.create_module(name);
        module.set_source_file_name(name);
        set_target(&module, &machine);
        lower(&module, &machine)?;
        verify(&module)?;
        finish(&module, &machine)
    }

    fn optimise(
        &self,
        module: &Module<'_>,
        machine: &Machine,
        opt: OptLevel,
        stage: Stage,
    ) -> Result<(), BackendError> {
        let Some(pipeline) = stage.pipeline(opt) else {
            return Ok(());
        };
        module
            .run_passes(pipeline, &machine.machine, PassBuilderOptions::create())
            .map_err(|e| BackendError::new(format!("LLVM pipeline `{pipeline}`: {}", e.to_string_lossy())))
    }

    fn emit(
        &self,
        module: &Module<'_>,
        machine: &Machine,
        opt: OptLevel,
        stage: Stage,
        artifact: ArtifactKind,
    ) -> Result<Vec<u8>, BackendError> {
        self.optimise(module, machine, opt, stage)?;
        match artifact {
            ArtifactKind::Bitcode => Ok(module.write_bitcode_to_memory().as_slice().to_vec()),
            ArtifactKind::Object => machine
                .machine
                .write_to_memory_buffer(module, FileType::Object)
                .map(|buffer| buffer.as_slice().to_vec())
                .map_err(|e| BackendError::new(format!("LLVM code generation: {}", e.to_string_lossy()))),
        }
    }
}

/// Module name (and source file name) of the entry object.
const ENTRY_MODULE: &str = "lockstep.entry";
/// Module name (and source file name) of the merged LTO module.
const LTO_MODULE: &str = "lockstep.lto";

fn set_target(module: &Module<'_>, machine: &Machine) {
    module.set_triple(&TargetTriple::create(&machine.triple));
    module.set_data_layout(&machine.machine.get_target_data().get_data_layout());
}

fn verify(module: &Module<'_>) -> Result<(), BackendError> {
    module.verify().map_err(|e| {
        BackendError::new(format!("LLVM verifier rejected the module (a lockstep bug): {}", e.to_string_lossy()))
    })
}

/// Whole-program LTO: only `main` must stay visible to the system linker.
fn internalise_all_but_main(module: &Module<'_>) {
    for function in module.get_functions() {
        let global = function.as_global_value();
        if !global.is_declaration()
            && function.get_linkage() == Linkage::External
            && function.get_name().to_bytes() != b"main"
        {
            function.set_linkage(Linkage::Internal);
        }
    }
    for global in module.get_globals() {
        if !global.is_declaration()
            && global.get_linkage() == Linkage::External
            && !global.get_name().to_bytes().starts_with(b"llvm.")
        {
            global.set_linkage(Linkage::Internal);
        }
    }
}
