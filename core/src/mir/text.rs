//! MIR text: a deterministic, human-readable rendering of functions, codegen
//! units and whole programs.
//!
//! The text is used in snapshots and reports, so it must never depend on
//! anything but the MIR value itself: every collection printed is either a
//! `Vec` (printed in index order) or a `BTreeMap` (printed in key order).
//! Printing never panics, even on malformed MIR: locals and blocks are named
//! by number (`_3`, `bb2`) without looking anything up.
//!
//! The shape of a function:
//!
//! ```text
//! pub fn main::tri(_0: i64) -> i64 {
//!     let _1: i64
//!     let _2: bool
//!     extern fn util::clamp(i64, i64, i64) -> i64
//!     extern global main::calls: i64
//!   bb0:
//!     _1 = load main::calls
//!     _1 = add _1, 1
//!     store main::calls, _1
//!     _1 = call util::clamp(_0, 0, 100)
//!     print _1
//!     _2 = lt _1, 10
//!     branch _2, bb1, bb2
//!   bb1:
//!     return _1
//!   bb2:
//!     return 0
//! }
//! ```
//!
//! A unit is `unit NAME`, its globals, then its functions; a program is its
//! globals, its functions and an `entry { ... }` block, items separated by
//! blank lines. Every rendering ends with a newline.

use super::{
    BasicBlock, BinOp, CodegenUnit, Const, EntryPoint, Function, GlobalDef, Operand, Program, Rvalue, Signature,
    Statement, Terminator, UnOp, Visibility,
};
use std::fmt::{self, Display, Formatter};

/// Renders one function, including its locals and externs.
pub fn function_to_string(f: &Function) -> String {
    FunctionText(f).to_string()
}

/// Renders a codegen unit: its name, the globals it defines and its functions.
pub fn unit_to_string(u: &CodegenUnit) -> String {
    let mut out = format!("unit {}\n", u.name);
    for g in &u.globals {
        out.push_str(&GlobalText(g).to_string());
    }
    for f in &u.functions {
        out.push('\n');
        out.push_str(&function_to_string(f));
    }
    out
}

/// Renders a whole program: globals, functions, then the entry point.
pub fn program_to_string(p: &Program) -> String {
    let mut out = String::new();
    for g in &p.globals {
        out.push_str(&GlobalText(g).to_string());
    }
    for f in &p.functions {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&function_to_string(f));
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&EntryText(&p.entry).to_string());
    out
}

/// The mnemonic of a binary operator, as printed in statements.
pub fn binop_name(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "add",
        BinOp::Sub => "sub",
        BinOp::Mul => "mul",
        BinOp::Div => "div",
        BinOp::Rem => "rem",
        BinOp::Eq => "eq",
        BinOp::Ne => "ne",
        BinOp::Lt => "lt",
        BinOp::Le => "le",
        BinOp::Gt => "gt",
        BinOp::Ge => "ge",
    }
}

/// The mnemonic of a unary operator, as printed in statements.
pub fn unop_name(op: UnOp) -> &'static str {
    match op {
        UnOp::Neg => "neg",
        UnOp::Not => "not",
    }
}

/// Renders an operand: `_N` for a local, the literal for a constant.
pub fn operand_to_string(op: &Operand) -> String {
    OperandText(op).to_string()
}

/// Renders a statement exactly as it appears inside a function's text.
pub fn statement_to_string(s: &Statement) -> String {
    StatementText(s).to_string()
}

/// Renders a terminator exactly as it appears inside a function's text.
pub fn terminator_to_string(t: &Terminator) -> String {
    TerminatorText(t).to_string()
}

struct OperandText<'a>(&'a Operand);

impl Display for OperandText<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Operand::Local(l) => write!(f, "_{}", l.0),
            Operand::Const(Const::I64(v)) => write!(f, "{v}"),
            Operand::Const(Const::Bool(b)) => write!(f, "{b}"),
        }
    }
}

/// A comma-separated list of operands, used for call arguments.
struct ArgsText<'a>(&'a [Operand]);

impl Display for ArgsText<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", OperandText(a))?;
        }
        Ok(())
    }
}

/// A signature without parameter names: `(i64, bool) -> i64`.
struct SignatureText<'a>(&'a Signature);

impl Display for SignatureText<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, t) in self.0.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{t}")?;
        }
        f.write_str(")")?;
        if let Some(r) = self.0.ret {
            write!(f, " -> {r}")?;
        }
        Ok(())
    }
}

struct RvalueText<'a>(&'a Rvalue);

impl Display for RvalueText<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Rvalue::Use(op) => write!(f, "{}", OperandText(op)),
            Rvalue::LoadGlobal(g) => write!(f, "load {g}"),
            Rvalue::Unary(op, a) => write!(f, "{} {}", unop_name(*op), OperandText(a)),
            Rvalue::Binary(op, a, b) => write!(f, "{} {}, {}", binop_name(*op), OperandText(a), OperandText(b)),
        }
    }
}

struct StatementText<'a>(&'a Statement);

impl Display for StatementText<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Statement::Assign { dest, value } => write!(f, "_{} = {}", dest.0, RvalueText(value)),
            Statement::StoreGlobal { global, value } => write!(f, "store {global}, {}", OperandText(value)),
            Statement::Call { dest, callee, args } => {
                if let Some(d) = dest {
                    write!(f, "_{} = ", d.0)?;
                }
                write!(f, "call {callee}({})", ArgsText(args))
            }
            Statement::Print(op) => write!(f, "print {}", OperandText(op)),
        }
    }
}

struct TerminatorText<'a>(&'a Terminator);

impl Display for TerminatorText<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Terminator::Goto(b) => write!(f, "goto bb{}", b.0),
            Terminator::Branch { cond, then_block, else_block } => {
                write!(f, "branch {}, bb{}, bb{}", OperandText(cond), then_block.0, else_block.0)
            }
            Terminator::Return(None) => f.write_str("return"),
            Terminator::Return(Some(op)) => write!(f, "return {}", OperandText(op)),
        }
    }
}

struct BlockText<'a>(usize, &'a BasicBlock);

impl Display for BlockText<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "  bb{}:", self.0)?;
        for s in &self.1.statements {
            writeln!(f, "    {}", StatementText(s))?;
        }
        writeln!(f, "    {}", TerminatorText(&self.1.terminator))
    }
}

struct FunctionText<'a>(&'a Function);

impl Display for FunctionText<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let func = self.0;
        if func.visibility == Visibility::Public {
            f.write_str("pub ")?;
        }
        write!(f, "fn {}(", func.symbol)?;
        // Parameters are printed from the signature so that the header reads
        // like a declaration; the validator checks that the first locals agree.
        for (i, t) in func.signature.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "_{i}: {t}")?;
        }
        f.write_str(")")?;
        if let Some(r) = func.signature.ret {
            write!(f, " -> {r}")?;
        }
        f.write_str(" {\n")?;
        for (i, t) in func.locals.iter().enumerate().skip(func.param_count()) {
            writeln!(f, "    let _{i}: {t}")?;
        }
        for (sym, sig) in &func.externs.functions {
            writeln!(f, "    extern fn {sym}{}", SignatureText(sig))?;
        }
        for (sym, ty) in &func.externs.globals {
            writeln!(f, "    extern global {sym}: {ty}")?;
        }
        for (i, b) in func.blocks.iter().enumerate() {
            write!(f, "{}", BlockText(i, b))?;
        }
        f.write_str("}\n")
    }
}

struct GlobalText<'a>(&'a GlobalDef);

impl Display for GlobalText<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "global {}: {}", self.0.symbol, self.0.ty)
    }
}

struct EntryText<'a>(&'a EntryPoint);

impl Display for EntryText<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("entry {\n")?;
        for s in &self.0.init_order {
            writeln!(f, "    init {s}")?;
        }
        write!(f, "    main {}", self.0.main)?;
        if self.0.main_returns_value {
            f.write_str(" -> i64")?;
        }
        f.write_str("\n}\n")
    }
}
