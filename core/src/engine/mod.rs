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
pub mod hash;
pub mod manifest;
pub mod report;
pub mod session;

use crate::mir::{self, EntryPoint, GlobalDef, Signature, Symbol, Ty, Visibility};
use hash::ContentHash;
use std::collections::BTreeSet;

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
    /// Every function's signature, for callee hashing.
    pub fn signature_of(&self, symbol: &Symbol) -> Option<&Signature> {
        let module = self.modules.binary_search_by(|m| m.name.as_str().cmp(&symbol.module)).ok()?;
        let m = &self.modules[module];
        std::iter::once(&m.init).chain(&m.functions).find(|f| &f.symbol == symbol).map(|f| &f.signature)
    }

    /// The content hash of one of this program's functions: its key in
    /// Layer 1 (see [`hash::FunctionContentHash`] for what goes in).
    pub fn content_hash(&self, f: &FunctionFacts) -> hash::FunctionContentHash {
        let unknown = Signature { params: Vec::new(), ret: None };
        let callees: Vec<(&Symbol, &Signature)> =
            f.callees.iter().map(|c| (c, self.signature_of(c).unwrap_or(&unknown))).collect();
        let globals: Vec<(&Symbol, Ty)> =
            f.globals.iter().map(|g| (g, self.global_type(g).unwrap_or(Ty::I64))).collect();
        hash::FunctionContentHash::compute(
            &self.frontend,
            &f.symbol,
            f.visibility,
            &f.signature,
            f.body,
            callees.iter().copied(),
            globals.iter().copied(),
        )
    }

    /// Every function (initialisers included), module by module.
    pub fn all_functions(&self) -> impl Iterator<Item = &FunctionFacts> {
        self.modules.iter().flat_map(|m| std::iter::once(&m.init).chain(&m.functions))
    }

    pub fn global_type(&self, symbol: &Symbol) -> Option<Ty> {
        let module = self.modules.binary_search_by(|m| m.name.as_str().cmp(&symbol.module)).ok()?;
        self.modules[module].globals.iter().find(|g| &g.symbol == symbol).map(|g| g.ty)
    }
}

/// A front end, from the engine's side.
pub trait FrontEnd: Sync {
    fn facts(&self) -> &ProgramFacts;
    /// The MIR of a function named in `facts()`, computed afresh.
    fn lower(&self, symbol: &Symbol) -> Option<mir::Function>;
}
