//! Lowering: typed THIR functions → MIR control-flow graphs.
//!
//! Straightforward and deliberately naive (MIR passes and LLVM clean up):
//! every expression lands in an operand, `&&`/`||`/`if`/`while` become
//! branches, and code after a `return` goes into a fresh block that nothing
//! jumps to (removed by `mir::passes::remove_unreachable_blocks`).

use crate::lks::thir::{self, ExprKind, ExprTy, LocalIdx};
use crate::mir::{
    BasicBlock, BlockId, Const, Externs, Function, LocalId, Operand, Rvalue, Signature, Statement, Symbol, Terminator,
    Ty, UnOp,
};
use std::collections::BTreeMap;

/// Lowers one checked function. `signatures` and `global_types` describe
/// every function and global of the program (for `Function::externs`).
pub fn lower_function(
    f: &thir::Function,
    signatures: &BTreeMap<Symbol, Signature>,
    global_types: &BTreeMap<Symbol, Ty>,
) -> Function {
    let mut builder = Builder {
        locals: f.locals.iter().map(|l| l.ty).collect(),
        mutable: f.locals.iter().map(|l| l.mutable).collect(),
        blocks: vec![PartialBlock::default()],
        current: 0,
        externs: Externs::default(),
        signatures,
        global_types,
        returns_value: f.signature.ret.is_some(),
    };
    let result = builder.block(&f.body);
    let ret = f.signature.ret.map(|t| result.unwrap_or(zero(t)));
    builder.terminate(Terminator::Return(ret));
    Function {
        symbol: f.symbol.clone(),
        visibility: f.visibility,
        signature: f.signature.clone(),
        locals: builder.locals,
        blocks: builder
            .blocks
            .into_iter()
            .map(|b| BasicBlock {
                statements: b.statements,
                // Only unreachable blocks are left open; give them a
                // well-typed exit so the function still validates.
                terminator: b.terminator.unwrap_or_else(|| Terminator::Return(f.signature.ret.map(zero))),
            })
            .collect(),
        externs: builder.externs,
    }
}

#[derive(Default)]
struct PartialBlock {
    statements: Vec<Statement>,
    terminator: Option<Terminator>,
}

struct Builder<'a> {
    locals: Vec<Ty>,
    /// Whether each THIR local can be reassigned (only those need copying
    /// when read, see `expr`). Temporaries are never listed here.
    mutable: Vec<bool>,
    blocks: Vec<PartialBlock>,
    current: usize,
    externs: Externs,
    signatures: &'a BTreeMap<Symbol, Signature>,
    global_types: &'a BTreeMap<Symbol, Ty>,
    returns_value: bool,
}

fn zero(ty: Ty) -> Operand {
    match ty {
        Ty::I64 => Operand::Const(Const::I64(0)),
        Ty::Bool => Operand::Const(Const::Bool(false)),
    }
}

impl Builder<'_> {
    fn temp(&mut self, ty: Ty) -> LocalId {
        self.locals.push(ty);
        LocalId(self.locals.len() as u32 - 1)
    }

    fn new_block(&mut self) -> BlockId {
        self.blocks.push(PartialBlock::default());
        BlockId(self.blocks.len() as u32 - 1)
    }

    fn push(&mut self, statement: Statement) {
        self.blocks[self.current].statements.push(statement);
    }

    /// Ends the current block. Later code goes to a fresh, unreachable block.
    fn terminate(&mut self, terminator: Terminator) {
        if self.blocks[self.current].terminator.is_none() {
            self.blocks[self.current].terminator = Some(terminator);
        }
    }

    fn switch_to(&mut self, block: BlockId) {
        self.current = block.0 as usize;
    }

    fn diverge(&mut self) {
        // A fresh, empty block is already as dead as it gets.
        let current = &self.blocks[self.current];
        if current.terminator.is_none() && current.statements.is_empty() && self.current != 0 {
            return;
        }
        let dead = self.new_block();
        self.switch_to(dead);
    }

    fn assign(&mut self, ty: Ty, value: Rvalue) -> Operand {
        let dest = self.temp(ty);
        self.push(Statement::Assign { dest, value });
        Operand::Local(dest)
    }

    fn note_global(&mut self, symbol: &Symbol) {
        if let Some(ty) = self.global_types.get(symbol) {
            self.externs.globals.insert(symbol.clone(), *ty);
        }
    }

    fn block(&mut self, block: &thir::Block) -> Option<Operand> {
        for stmt in &block.stmts {
            self.stmt(stmt);
        }
        let value = block.tail.as_ref().and_then(|t| self.expr(t));
        if block.ty == ExprTy::Never {
            self.diverge();
            return None;
        }
        value
    }

    fn local(&self, idx: LocalIdx) -> LocalId {
        LocalId(idx.0)
    }

    fn stmt(&mut self, stmt: &thir::Stmt) {
        match stmt {
            thir::Stmt::Let { local, init } | thir::Stmt::AssignLocal { local, value: init } => {
                if let Some(op) = self.expr(init) {
                    let dest = self.local(*local);
                    self.push(Statement::Assign { dest, value: Rvalue::Use(op) });
                }
            }
            thir::Stmt::AssignGlobal { global, value } => {
                if let Some(op) = self.expr(value) {
                    self.note_global(global);
                    self.push(Statement::StoreGlobal { global: global.clone(), value: op });
                }
            }
            thir::Stmt::While { cond, body } => {
                let header = self.new_block();
                self.terminate(Terminator::Goto(header));
                self.switch_to(header);
                let Some(c) = self.expr(cond) else { return };
                let body_block = self.new_block();
                let exit = self.new_block();
                self.terminate(Terminator::Branch { cond: c, then_block: body_block, else_block: exit });
                self.switch_to(body_block);
                self.block(body);
                self.terminate(Terminator::Goto(header));
                self.switch_to(exit);
            }
            thir::Stmt::Return(value) => {
                let op = value.as_ref().and_then(|v| self.expr(v));
                if value.as_ref().is_some_and(|v| v.ty == ExprTy::Never) {
                    return;
                }
                let op = if self.returns_value { op } else { None };
                self.terminate(Terminator::Return(op));
                self.diverge();
            }
            thir::Stmt::Expr(e) => {
                self.expr(e);
            }
        }
    }

    /// Lowers an expression; `None` when it has no value (or never completes).
    fn expr(&mut self, expr: &thir::Expr) -> Option<Operand> {
        let op = match &expr.kind {
            ExprKind::Const(c) => Some(Operand::Const(*c)),
            ExprKind::Local(idx) => {
                let id = self.local(*idx);
                if self.mutable.get(idx.0 as usize).copied().unwrap_or(false) {
                    // A mutable local could be reassigned by a later operand
                    // (`x + { x = 5; x }`) before this read is used, so the
                    // read happens now, into a temporary.
                    let ty = self.locals[id.0 as usize];
                    Some(self.assign(ty, Rvalue::Use(Operand::Local(id))))
                } else {
                    Some(Operand::Local(id))
                }
            }
            ExprKind::Global(symbol) => {
                self.note_global(symbol);
                let ty = self.global_types.get(symbol).copied().unwrap_or(Ty::I64);
                Some(self.assign(ty, Rvalue::LoadGlobal(symbol.clone())))
            }
            ExprKind::Call { callee, args } => {
                let mut ops = Vec::new();
                for arg in args {
                    ops.push(self.expr(arg)?);
                }
                let sig = self.signatures.get(callee).cloned().unwrap_or(Signature { params: Vec::new(), ret: None });
                self.externs.functions.insert(callee.clone(), sig.clone());
                let dest = sig.ret.map(|t| self.temp(t));
                self.push(Statement::Call { dest, callee: callee.clone(), args: ops });
                dest.map(Operand::Local)
            }
            ExprKind::Print(arg) => {
                let op = self.expr(arg)?;
                self.push(Statement::Print(op));
                None
            }
            ExprKind::Unary(op, inner) => {
                let operand = self.expr(inner)?;
                let ty = if *op == UnOp::Neg { Ty::I64 } else { Ty::Bool };
                Some(self.assign(ty, Rvalue::Unary(*op, operand)))
            }
            ExprKind::Binary(op, lhs, rhs) => {
                let l = self.expr(lhs)?;
                let r = self.expr(rhs)?;
                Some(self.assign(op.result_ty(), Rvalue::Binary(*op, l, r)))
            }
            ExprKind::And(lhs, rhs) => self.short_circuit(lhs, rhs, true),
            ExprKind::Or(lhs, rhs) => self.short_circuit(lhs, rhs, false),
            ExprKind::Block(b) => self.block(b),
            ExprKind::If { cond, then_block, else_branch } => {
                let c = self.expr(cond)?;
                let result = expr.ty.value().map(|t| self.temp(t));
                let then_id = self.new_block();
                let else_id = self.new_block();
                let join = self.new_block();
                self.terminate(Terminator::Branch { cond: c, then_block: then_id, else_block: else_id });
                self.switch_to(then_id);
                if let Some(v) = self.block(then_block) {
                    if let Some(dest) = result {
                        self.push(Statement::Assign { dest, value: Rvalue::Use(v) });
                    }
                }
                self.terminate(Terminator::Goto(join));
                self.switch_to(else_id);
                if let Some(e) = else_branch {
                    if let Some(v) = self.expr(e) {
                        if let Some(dest) = result {
                            self.push(Statement::Assign { dest, value: Rvalue::Use(v) });
                        }
                    }
                }
                self.terminate(Terminator::Goto(join));
                self.switch_to(join);
                result.map(Operand::Local)
            }
        };
        if expr.ty == ExprTy::Never {
            self.diverge();
            return None;
        }
        match (op, expr.ty) {
            (Some(op), ExprTy::Value(_)) => Some(op),
            // A value-typed expression whose parts diverged: keep the types
            // consistent in the unreachable code that follows.
            (None, ExprTy::Value(t)) => Some(zero(t)),
            _ => None,
        }
    }

    /// `lhs && rhs` (`is_and`) or `lhs || rhs`: `rhs` runs only when needed.
    fn short_circuit(&mut self, lhs: &thir::Expr, rhs: &thir::Expr, is_and: bool) -> Option<Operand> {
        let l = self.expr(lhs)?;
        let result = self.temp(Ty::Bool);
        self.push(Statement::Assign { dest: result, value: Rvalue::Use(l) });
        let rhs_block = self.new_block();
        let join = self.new_block();
        let (then_block, else_block) = if is_and { (rhs_block, join) } else { (join, rhs_block) };
        self.terminate(Terminator::Branch { cond: Operand::Local(result), then_block, else_block });
        self.switch_to(rhs_block);
        if let Some(r) = self.expr(rhs) {
            self.push(Statement::Assign { dest: result, value: Rvalue::Use(r) });
        }
        self.terminate(Terminator::Goto(join));
        self.switch_to(join);
        Some(Operand::Local(result))
    }
}
