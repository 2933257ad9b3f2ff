//! MIR validation: structural and type checks that every pass, the backend
//! and the interpreter may rely on.
//!
//! [`validate_function`] checks one function in isolation against its own
//! signature and `externs`; [`validate_program`] additionally checks that the
//! functions agree with each other (every extern resolves to a definition with
//! the same signature or type, names are unique, the entry point is sound).
//!
//! Validation never panics: every index is range-checked before it is used,
//! and the first problem found is returned as a message naming the function
//! and, where there is one, the block and statement.

use super::{
    BinOp, BlockId, Function, LocalId, Operand, Program, Rvalue, Statement, Symbol, Terminator, Ty, UnOp, Visibility,
};
use std::collections::BTreeMap;

/// Checks one function: every local and block index is in range, every
/// operand has the type its use requires, assignments and call results match
/// their destination's type, calls and global accesses are declared in
/// `externs`, returns agree with the signature and the first locals are the
/// parameters.
pub fn validate_function(f: &Function) -> Result<(), String> {
    let fname = &f.symbol;
    if f.blocks.is_empty() {
        return Err(format!("in {fname}: function has no blocks (bb0 is the entry block)"));
    }
    let params = &f.signature.params;
    if f.locals.len() < params.len() {
        return Err(format!("in {fname}: {} locals cannot hold the {} parameters", f.locals.len(), params.len()));
    }
    for (i, (p, l)) in params.iter().zip(&f.locals).enumerate() {
        if p != l {
            return Err(format!("in {fname}: parameter _{i} has type {p} in the signature but local type {l}"));
        }
    }
    let checker = Checker { f };
    for (bi, block) in f.blocks.iter().enumerate() {
        for (si, stmt) in block.statements.iter().enumerate() {
            checker.statement(stmt).map_err(|e| format!("in {fname}, bb{bi}, statement {si}: {e}"))?;
        }
        checker.terminator(&block.terminator).map_err(|e| format!("in {fname}, bb{bi}, terminator: {e}"))?;
    }
    Ok(())
}

/// Checks a whole program: every function (as [`validate_function`]), unique
/// function and global names, every extern resolving to a definition with
/// the same signature or type, no call to another module's private function,
/// and an entry point whose initialisers take and return nothing and whose
/// `main` takes nothing and returns `i64` exactly when `main_returns_value`.
pub fn validate_program(p: &Program) -> Result<(), String> {
    let mut functions: BTreeMap<&Symbol, &Function> = BTreeMap::new();
    for f in &p.functions {
        validate_function(f)?;
        if functions.insert(&f.symbol, f).is_some() {
            return Err(format!("function {} is defined more than once", f.symbol));
        }
    }
    let mut globals: BTreeMap<&Symbol, Ty> = BTreeMap::new();
    for g in &p.globals {
        if globals.insert(&g.symbol, g.ty).is_some() {
            return Err(format!("global {} is defined more than once", g.symbol));
        }
    }
    for f in &p.functions {
        for (callee, sig) in &f.externs.functions {
            let Some(def) = functions.get(callee) else {
                return Err(format!("in {}: extern function {callee} is not defined in the program", f.symbol));
            };
            if &def.signature != sig {
                return Err(format!(
                    "in {}: extern function {callee} is declared with a different signature than its definition",
                    f.symbol
                ));
            }
            if def.visibility == Visibility::Private && callee.module != f.symbol.module {
                return Err(format!(
                    "in {}: extern function {callee} is private to module {}",
                    f.symbol, callee.module
                ));
            }
        }
        for (global, ty) in &f.externs.globals {
            match globals.get(global) {
                None => {
                    return Err(format!("in {}: extern global {global} is not defined in the program", f.symbol));
                }
                Some(def) if def != ty => {
                    return Err(format!(
                        "in {}: extern global {global} is declared as {ty} but defined as {def}",
                        f.symbol
                    ));
                }
                Some(_) => {}
            }
        }
    }
    for init in &p.entry.init_order {
        let Some(def) = functions.get(init) else {
            return Err(format!("entry: initialiser {init} is not defined in the program"));
        };
        if !def.signature.params.is_empty() || def.signature.ret.is_some() {
            return Err(format!("entry: initialiser {init} must take no parameters and return nothing"));
        }
    }
    let main = &p.entry.main;
    let Some(def) = functions.get(main) else {
        return Err(format!("entry: main function {main} is not defined in the program"));
    };
    if !def.signature.params.is_empty() {
        return Err(format!("entry: main function {main} must take no parameters"));
    }
    let expected = if p.entry.main_returns_value { Some(Ty::I64) } else { None };
    if def.signature.ret != expected {
        return Err(format!(
            "entry: main function {main} must {}",
            if p.entry.main_returns_value { "return i64" } else { "return nothing" }
        ));
    }
    Ok(())
}

/// Per-function checks; errors are phrased without location, which the
/// caller prefixes.
struct Checker<'a> {
    f: &'a Function,
}

impl Checker<'_> {
    fn local(&self, l: LocalId) -> Result<Ty, String> {
        self.f
            .locals
            .get(l.0 as usize)
            .copied()
            .ok_or_else(|| format!("local _{} is out of range ({} locals)", l.0, self.f.locals.len()))
    }

    fn operand(&self, op: &Operand) -> Result<Ty, String> {
        match op {
            Operand::Const(c) => Ok(c.ty()),
            Operand::Local(l) => self.local(*l),
        }
    }

    fn expect(&self, op: &Operand, want: Ty, what: &str) -> Result<(), String> {
        let got = self.operand(op)?;
        if got == want {
            Ok(())
        } else {
            Err(format!("{what} must be {want}, found {got}"))
        }
    }

    fn block(&self, b: BlockId) -> Result<(), String> {
        if (b.0 as usize) < self.f.blocks.len() {
            Ok(())
        } else {
            Err(format!("block bb{} is out of range ({} blocks)", b.0, self.f.blocks.len()))
        }
    }

    fn global(&self, g: &Symbol) -> Result<Ty, String> {
        self.f.externs.globals.get(g).copied().ok_or_else(|| format!("global {g} is not listed in externs"))
    }

    fn rvalue(&self, rv: &Rvalue) -> Result<Ty, String> {
        match rv {
            Rvalue::Use(op) => self.operand(op),
            Rvalue::LoadGlobal(g) => self.global(g),
            Rvalue::Unary(UnOp::Neg, a) => self.expect(a, Ty::I64, "operand of neg").map(|()| Ty::I64),
            Rvalue::Unary(UnOp::Not, a) => self.expect(a, Ty::Bool, "operand of not").map(|()| Ty::Bool),
            Rvalue::Binary(op, a, b) => {
                let name = super::text::binop_name(*op);
                match op {
                    BinOp::Eq | BinOp::Ne => {
                        let ta = self.operand(a)?;
                        let tb = self.operand(b)?;
                        if ta != tb {
                            return Err(format!("operands of {name} must have the same type, found {ta} and {tb}"));
                        }
                    }
                    _ => {
                        self.expect(a, Ty::I64, &format!("left operand of {name}"))?;
                        self.expect(b, Ty::I64, &format!("right operand of {name}"))?;
                    }
                }
                Ok(op.result_ty())
            }
        }
    }

    fn statement(&self, s: &Statement) -> Result<(), String> {
        match s {
            Statement::Assign { dest, value } => {
                let dt = self.local(*dest)?;
                let vt = self.rvalue(value)?;
                if dt != vt {
                    return Err(format!("cannot assign {vt} to _{} of type {dt}", dest.0));
                }
            }
            Statement::StoreGlobal { global, value } => {
                let gt = self.global(global)?;
                self.expect(value, gt, &format!("value stored to {global}"))?;
            }
            Statement::Call { dest, callee, args } => {
                let sig = self
                    .f
                    .externs
                    .functions
                    .get(callee)
                    .ok_or_else(|| format!("callee {callee} is not listed in externs"))?;
                if sig.params.len() != args.len() {
                    return Err(format!(
                        "call to {callee} passes {} arguments, its signature takes {}",
                        args.len(),
                        sig.params.len()
                    ));
                }
                for (i, (a, t)) in args.iter().zip(&sig.params).enumerate() {
                    self.expect(a, *t, &format!("argument {i} of call to {callee}"))?;
                }
                if let Some(d) = dest {
                    let dt = self.local(*d)?;
                    match sig.ret {
                        None => return Err(format!("call to {callee} stores a result, but it returns nothing")),
                        Some(rt) if rt != dt => {
                            return Err(format!("call to {callee} returns {rt}, but _{} has type {dt}", d.0));
                        }
                        Some(_) => {}
                    }
                }
            }
            Statement::Print(op) => self.expect(op, Ty::I64, "operand of print")?,
        }
        Ok(())
    }

    fn terminator(&self, t: &Terminator) -> Result<(), String> {
        match t {
            Terminator::Goto(b) => self.block(*b),
            Terminator::Branch { cond, then_block, else_block } => {
                self.expect(cond, Ty::Bool, "branch condition")?;
                self.block(*then_block)?;
                self.block(*else_block)
            }
            Terminator::Return(op) => match (op, self.f.signature.ret) {
                (None, None) => Ok(()),
                (Some(op), Some(rt)) => self.expect(op, rt, "returned value"),
                (None, Some(rt)) => Err(format!("return without a value in a function returning {rt}")),
                (Some(_), None) => Err("return with a value in a function returning nothing".to_string()),
            },
        }
    }
}
