//! The typed, resolved, span-free tree of one function.
//!
//! The checker produces it from the AST; lowering turns it into MIR. It is
//! also what the incremental engine hashes: every name is resolved to a
//! [`Symbol`] or a local slot, every constant is folded to its value, and no
//! span survives, so whitespace, comments and local renames never change it
//! while every edit that can change the compiled code does.

use crate::mir::{BinOp, Const, Signature, Symbol, Ty, UnOp, Visibility};
use serde::{Deserialize, Serialize};

/// Index of a local variable (parameters first, then `let`s in order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LocalIdx(pub u32);

/// The type of an expression: a value, no value (`print(x)`, an `if`
/// without `else`), or no completion at all (`return`, `while true`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExprTy {
    Value(Ty),
    Unit,
    Never,
}

impl ExprTy {
    pub fn value(self) -> Option<Ty> {
        match self {
            ExprTy::Value(t) => Some(t),
            _ => None,
        }
    }
}

/// A checked function (or a module initialiser, whose body assigns the
/// module's globals in source order).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Function {
    pub symbol: Symbol,
    pub visibility: Visibility,
    pub signature: Signature,
    /// Types of all locals; the first `signature.params.len()` are parameters.
    pub locals: Vec<Local>,
    pub body: Block,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Local {
    pub ty: Ty,
    pub mutable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub tail: Option<Box<Expr>>,
    pub ty: ExprTy,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stmt {
    Let { local: LocalIdx, init: Expr },
    AssignLocal { local: LocalIdx, value: Expr },
    AssignGlobal { global: Symbol, value: Expr },
    While { cond: Expr, body: Block },
    Return(Option<Expr>),
    Expr(Expr),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Expr {
    pub ty: ExprTy,
    pub kind: ExprKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExprKind {
    Const(Const),
    Local(LocalIdx),
    Global(Symbol),
    Call { callee: Symbol, args: Vec<Expr> },
    Print(Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Block(Block),
    If { cond: Box<Expr>, then_block: Block, else_branch: Option<Box<Expr>> },
}
