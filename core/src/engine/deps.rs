//! Dependency graphs: modules (imports) and functions (calls, globals).
//!
//! The function graph answers "who must be recompiled?" from what changed,
//! signature-aware: a body change dirties only the function itself; a
//! signature change dirties the function and every direct caller; a global
//! whose type changed dirties every function that touches it. Content
//! hashes answer the same question by construction (a caller's key
//! includes its callees' signatures); the graph says *why*, and the fuzz
//! target `invalidation` checks the two answers agree.
//!
//! Module-level initialisation is the fallback: every global initialiser
//! of a module lives in one initialiser function, because their order is
//! observable and cannot be attributed to any one function, so a change to
//! any of them recompiles the module's whole initialiser.

use crate::engine::hash::FunctionContentHash;
use crate::engine::ProgramFacts;
use crate::mir::{Signature, Symbol, Ty};
use std::collections::{BTreeMap, BTreeSet};

/// Callers and users, per function and per global.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionDependencyGraph {
    pub signatures: BTreeMap<Symbol, Signature>,
    pub global_types: BTreeMap<Symbol, Ty>,
    /// For each function, the functions that call it.
    pub callers: BTreeMap<Symbol, BTreeSet<Symbol>>,
    /// For each global, the functions that read or write it.
    pub users: BTreeMap<Symbol, BTreeSet<Symbol>>,
    /// For each function, what it calls and touches.
    pub callees: BTreeMap<Symbol, BTreeSet<Symbol>>,
    pub globals: BTreeMap<Symbol, BTreeSet<Symbol>>,
}

impl FunctionDependencyGraph {
    pub fn of(program: &ProgramFacts) -> FunctionDependencyGraph {
        let mut graph = FunctionDependencyGraph::default();
        for module in &program.modules {
            for g in &module.globals {
                graph.global_types.insert(g.symbol.clone(), g.ty);
            }
            for f in std::iter::once(&module.init).chain(&module.functions) {
                graph.signatures.insert(f.symbol.clone(), f.signature.clone());
                graph.callees.insert(f.symbol.clone(), f.callees.clone());
                graph.globals.insert(f.symbol.clone(), f.globals.clone());
                for callee in &f.callees {
                    graph.callers.entry(callee.clone()).or_default().insert(f.symbol.clone());
                }
                for global in &f.globals {
                    graph.users.entry(global.clone()).or_default().insert(f.symbol.clone());
                }
            }
        }
        graph
    }
}

/// The functions of `now` that must be recompiled relative to `before`:
/// those whose own body hash, signature, callee set or global set changed
/// (or that are new), the direct callers of every function whose signature
/// changed, and the users of every global whose type changed.
pub fn functions_to_recompile(
    before: &FunctionDependencyGraph,
    before_bodies: &BTreeMap<Symbol, FunctionContentHash>,
    now: &FunctionDependencyGraph,
    now_bodies: &BTreeMap<Symbol, FunctionContentHash>,
) -> BTreeSet<Symbol> {
    let mut dirty = BTreeSet::new();
    for (symbol, signature) in &now.signatures {
        let own_change = match (before.signatures.get(symbol), before_bodies.get(symbol), now_bodies.get(symbol)) {
            (Some(old_sig), Some(old), Some(new)) => {
                old_sig != signature
                    || old.body != new.body
                    || old.signature != new.signature
                    || before.callees.get(symbol) != now.callees.get(symbol)
                    || before.globals.get(symbol) != now.globals.get(symbol)
            }
            _ => true,
        };
        if own_change {
            dirty.insert(symbol.clone());
        }
        if before.signatures.get(symbol).is_some_and(|old| old != signature) {
            dirty.extend(now.callers.get(symbol).into_iter().flatten().cloned());
        }
    }
    for (global, ty) in &now.global_types {
        if before.global_types.get(global).is_some_and(|old| old != ty) {
            dirty.extend(now.users.get(global).into_iter().flatten().cloned());
        }
    }
    dirty
}
