//! The incremental engine: content hashes, invalidation, the two-layer
//! artifact cache, and the build session that ties them to the parallel
//! executor. It knows nothing of `.lks` syntax or of LLVM: front ends
//! describe their functions through [`FrontEnd`], backends turn MIR into
//! bytes through [`Backend`].
//!
//! ```text
//! FrontEnd::facts() ─▶ FunctionContentHash per function ─▶ Layer 1 (MIR)
//!      │                          misses: FrontEnd::lower()
//!      └─▶ codegen units ─▶ ObjectKey per unit ─▶ Layer 2 (object/bitcode)
//!                                 misses: Backend::compile_unit() on N workers
//!          ─▶ ordered link queue ─▶ final link (skipped when nothing changed)
//! ```
//!
//! A front end plugs in like this (the reference language's implementation
//! is `crate::driver::LksFrontEnd`):
//!
//! ```
//! use lockstep_core::engine::{FrontEnd, FunctionFacts, ModuleFacts, ProgramFacts};
//! use lockstep_core::mir;
//!
//! struct Tiny { facts: ProgramFacts }
//!
//! impl FrontEnd for Tiny {
//!     fn facts(&self) -> &ProgramFacts { &self.facts }
//!     fn lower(&self, symbol: &mir::Symbol) -> Option<mir::Function> {
//!         // Produce the function's MIR on a Layer 1 miss.
//!         None
//!     }
//! }
//! ```

pub mod cache;
pub mod config;
pub mod deps;
pub mod gc;
pub mod hash;
pub mod manifest;
pub mod remote;
pub mod report;
pub mod session;
pub mod trace;

use crate::mir::{self, EntryPoint, GlobalDef, Signature, Symbol, Ty, Visibility};
use hash::ContentHash;
use lockstep_scheduler::bug_zoo::{self, Bug};
use std::collections::{BTreeMap, BTreeSet};

/// What the engine needs to know about one function, before any IR exists.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FunctionFacts {
    /// Identity: `module::name`, unique in the program.
    pub symbol: Symbol,
    pub visibility: Visibility,
    pub signature: Signature,
    /// Hash of everything in the body that can change the compiled output,
    /// and nothing that cannot (spans, comments, local names).
    pub body: ContentHash,
    pub callees: BTreeSet<Symbol>,
    pub globals: BTreeSet<Symbol>,
    /// Rough size of the body (e.g. its number of expressions): how the
    /// coordinator orders work most-expensive-first. Not part of any key.
    pub weight: u64,
}

/// One module: its globals, its initialiser and its functions.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModuleFacts {
    pub name: String,
    pub globals: Vec<GlobalDef>,
    /// Module-level initialisation (every global initialiser, in order).
    pub init: FunctionFacts,
    pub functions: Vec<FunctionFacts>,
}

/// A whole program as the engine sees it. Modules are in name order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramFacts {
    /// Names the front end and its version; part of every function key.
    pub frontend: String,
    pub modules: Vec<ModuleFacts>,
    pub entry: EntryPoint,
}

impl ProgramFacts {
    /// Where the program defines `symbol`: its module's position, and its
    /// position among the module's functions (`None` for the initialiser).
    pub fn locate(&self, symbol: &Symbol) -> Option<(usize, Option<usize>)> {
        let m = self.modules.binary_search_by(|m| m.name.as_str().cmp(&symbol.module)).ok()?;
        let module = &self.modules[m];
        if module.init.symbol == *symbol {
            return Some((m, None));
        }
        Some((m, Some(module.functions.iter().position(|f| f.symbol == *symbol)?)))
    }

    /// A function's signature, if the program defines it.
    pub fn signature_of(&self, symbol: &Symbol) -> Option<&Signature> {
        let (m, i) = self.locate(symbol)?;
        let module = &self.modules[m];
        Some(&i.map_or(&module.init, |i| &module.functions[i]).signature)
    }

    /// Every function (initialisers included), module by module.
    pub fn all_functions(&self) -> impl Iterator<Item = &FunctionFacts> {
        self.modules.iter().flat_map(|m| std::iter::once(&m.init).chain(&m.functions))
    }
}

/// What hashing a function needs from the rest of the program, looked up
/// once per build: each function's interface as its callers see it, and
/// each global's type.
#[derive(Debug)]
pub struct ProgramIndex<'a> {
    program: &'a ProgramFacts,
    callee_views: BTreeMap<&'a Symbol, ContentHash>,
    global_types: BTreeMap<&'a Symbol, Ty>,
}

impl<'a> ProgramIndex<'a> {
    pub fn new(program: &'a ProgramFacts) -> ProgramIndex<'a> {
        let views = program.all_functions().map(|f| hash::callee_view(&f.symbol, &f.signature));
        ProgramIndex::with_views(program, views)
    }

    /// An index whose callee views are already known: `views` holds one per
    /// function, in [`ProgramFacts::all_functions`] order.
    pub fn with_views(program: &'a ProgramFacts, views: impl IntoIterator<Item = ContentHash>) -> ProgramIndex<'a> {
        let callee_views = program.all_functions().map(|f| &f.symbol).zip(views).collect();
        let global_types = program.modules.iter().flat_map(|m| &m.globals).map(|g| (&g.symbol, g.ty)).collect();
        ProgramIndex { program, callee_views, global_types }
    }

    /// A callee's interface hash (symbol and signature); a callee the
    /// program does not define hashes as one without parameters or result.
    pub fn callee_view(&self, callee: &Symbol) -> ContentHash {
        self.callee_views
            .get(callee)
            .copied()
            .unwrap_or_else(|| hash::callee_view(callee, &Signature { params: Vec::new(), ret: None }))
    }

    pub fn global_type(&self, global: &Symbol) -> Option<Ty> {
        self.global_types.get(global).copied()
    }

    /// The function's Layer 1 key (see [`hash::FunctionContentHash`]).
    pub fn content_hash(&self, f: &FunctionFacts) -> hash::FunctionContentHash {
        hash::FunctionContentHash::compute(
            &self.program.frontend,
            &f.symbol,
            f.visibility,
            &f.signature,
            f.body,
            f.callees.iter().filter(|_| !bug_zoo::active(Bug::CalleeSignaturesUnhashed)).map(|c| self.callee_view(c)),
            f.globals.iter().map(|g| {
                (g, self.global_type(g).filter(|_| !bug_zoo::active(Bug::GlobalTypesUnhashed)).unwrap_or(Ty::I64))
            }),
        )
    }
}

/// A front end, from the engine's side.
pub trait FrontEnd: Sync {
    fn facts(&self) -> &ProgramFacts;
    /// The MIR of a function named in `facts()`, computed afresh.
    fn lower(&self, symbol: &Symbol) -> Option<mir::Function>;

    /// A key for module `module` (a position in `facts().modules`), if the
    /// front end can vouch for one: equal keys, in any two builds, promise
    /// equal facts for the module's functions *and* equal signatures and
    /// types for everything they reference in other modules, so equal
    /// content hashes. The engine then takes the module's content hashes
    /// from the previous build instead of computing them again (a no-op for
    /// correctness, a saving for a 2000-function program in which one
    /// module changed); `--verify-cache` computes them and compares. A
    /// front end that cannot promise this returns `None` (the default).
    fn module_key(&self, _module: usize) -> Option<ContentHash> {
        None
    }
}
