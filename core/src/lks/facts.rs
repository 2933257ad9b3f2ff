//! What the incremental engine needs to know about each `.lks` function:
//! the reference front end's side of [`crate::engine::FrontEnd`].

use crate::engine::hash::{hash_serialized, ContentHash};
use crate::lks::thir::{self, ExprKind, Stmt};
use crate::mir::Symbol;
use lockstep_scheduler::bug_zoo::{self, Bug};
use std::collections::BTreeSet;

/// The symbols a function body calls and the globals it reads or writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct References {
    pub callees: BTreeSet<Symbol>,
    pub globals: BTreeSet<Symbol>,
    /// Statements and expressions visited: the body's size.
    pub nodes: u64,
}

/// Collects the references of a checked function.
pub fn references(f: &thir::Function) -> References {
    let mut refs = References::default();
    block(&f.body, &mut refs);
    refs
}

fn block(b: &thir::Block, refs: &mut References) {
    refs.nodes += b.stmts.len() as u64;
    for s in &b.stmts {
        match s {
            Stmt::Let { init: e, .. } | Stmt::AssignLocal { value: e, .. } | Stmt::Expr(e) => expr(e, refs),
            Stmt::AssignGlobal { global, value } => {
                refs.globals.insert(global.clone());
                expr(value, refs);
            }
            Stmt::While { cond, body } => {
                expr(cond, refs);
                block(body, refs);
            }
            Stmt::Return(v) => {
                if let Some(v) = v {
                    expr(v, refs);
                }
            }
        }
    }
    if let Some(t) = &b.tail {
        expr(t, refs);
    }
}

fn expr(e: &thir::Expr, refs: &mut References) {
    refs.nodes += 1;
    match &e.kind {
        ExprKind::Const(_) | ExprKind::Local(_) => {}
        ExprKind::Global(g) => {
            refs.globals.insert(g.clone());
        }
        ExprKind::Call { callee, args } => {
            refs.callees.insert(callee.clone());
            args.iter().filter(|_| !bug_zoo::active(Bug::CallArgumentsUnscanned)).for_each(|a| expr(a, refs));
        }
        ExprKind::Print(a) | ExprKind::Unary(_, a) => expr(a, refs),
        ExprKind::Binary(_, l, r) | ExprKind::And(l, r) | ExprKind::Or(l, r) => {
            expr(l, refs);
            expr(r, refs);
        }
        ExprKind::Block(b) => block(b, refs),
        ExprKind::If { cond, then_block, else_branch } => {
            expr(cond, refs);
            block(then_block, refs);
            if let Some(e) = else_branch {
                expr(e, refs);
            }
        }
    }
}

/// The span-free body hash: the typed body (constants folded, names
/// resolved, locals numbered) and the types of its locals. Whitespace,
/// comments and local variable names cannot reach it.
pub fn body_hash(f: &thir::Function) -> ContentHash {
    hash_serialized("lks.body", &(&f.locals, &f.body))
}
