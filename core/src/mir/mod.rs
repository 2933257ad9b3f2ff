//! The mid-level IR: one typed control-flow graph per function.
//!
//! This is what Layer 1 of the artifact cache stores, so it is independent of
//! LLVM, of the target and of the optimisation level, serialises with serde
//! (postcard) in a compact stable form, and prints as deterministic text for
//! snapshots (`mir::text`). It knows nothing of `.lks` syntax either: any
//! front end that lowers to it gets the backend, the cache and the queue.
//!
//! Shape: every value lives in a numbered local slot (parameters are the
//! first `param_count` locals); statements are straight-line; blocks end in
//! one terminator. Locals are not SSA: a slot may be assigned many times.

pub mod interp;
pub mod passes;
pub mod text;
pub mod validate;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Ty {
    I64,
    Bool,
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ty::I64 => "i64",
            Ty::Bool => "bool",
        })
    }
}

/// A module-qualified name: `module::name`. Module initialisers use the
/// reserved name [`Symbol::INIT`], which no identifier can spell.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Symbol {
    pub module: String,
    pub name: String,
}

impl Symbol {
    /// The name of a module's initialiser function.
    pub const INIT: &'static str = "$init";

    pub fn new(module: impl Into<String>, name: impl Into<String>) -> Symbol {
        Symbol { module: module.into(), name: name.into() }
    }

    pub fn init_of(module: impl Into<String>) -> Symbol {
        Symbol::new(module, Symbol::INIT)
    }

    pub fn is_init(&self) -> bool {
        self.name == Symbol::INIT
    }

    /// The linker-level name of this symbol as a function. Length-prefixed
    /// (`_LKF4util5clamp`), so distinct symbols never collide and no user
    /// name can clash with a C library symbol such as `main` or `printf`.
    pub fn mangled_function(&self) -> String {
        format!("_LKF{}{}{}{}", self.module.len(), self.module, self.name.len(), self.name)
    }

    /// The linker-level name of this symbol as a global variable.
    pub fn mangled_global(&self) -> String {
        format!("_LKG{}{}{}{}", self.module.len(), self.module, self.name.len(), self.name)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.module, self.name)
    }
}

/// Parameter and return types of a function. `ret: None` returns nothing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Signature {
    pub params: Vec<Ty>,
    pub ret: Option<Ty>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LocalId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BlockId(pub u32);

/// Linkage of a function: `pub` functions are visible to other modules,
/// private ones only inside their module. Private functions are still
/// emitted with external linkage (a codegen unit may hold one function), but
/// the distinction is part of the function's identity for the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Visibility {
    Public,
    Private,
}

/// What a function needs from outside itself, by name: every function it
/// calls (with signature) and every global it reads or writes (with type).
/// The backend declares exactly these; the incremental engine hashes them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Externs {
    pub functions: BTreeMap<Symbol, Signature>,
    pub globals: BTreeMap<Symbol, Ty>,
}

/// One function's body.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Function {
    pub symbol: Symbol,
    pub visibility: Visibility,
    pub signature: Signature,
    /// Types of all local slots; the first `signature.params.len()` are the
    /// parameters, in order.
    pub locals: Vec<Ty>,
    /// Entry block is `BlockId(0)`.
    pub blocks: Vec<BasicBlock>,
    pub externs: Externs,
}

impl Function {
    pub fn param_count(&self) -> usize {
        self.signature.params.len()
    }

    pub fn block(&self, id: BlockId) -> &BasicBlock {
        &self.blocks[id.0 as usize]
    }

    pub fn local_ty(&self, id: LocalId) -> Ty {
        self.locals[id.0 as usize]
    }

    pub fn operand_ty(&self, op: &Operand) -> Ty {
        match op {
            Operand::Const(c) => c.ty(),
            Operand::Local(l) => self.local_ty(*l),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BasicBlock {
    pub statements: Vec<Statement>,
    pub terminator: Terminator,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Statement {
    /// `dest = value`
    Assign { dest: LocalId, value: Rvalue },
    /// `global = value`; the global is listed in `Function::externs`.
    StoreGlobal { global: Symbol, value: Operand },
    /// Calls a function listed in `Function::externs`; `dest` receives the
    /// result when the callee returns one and the caller uses it.
    Call { dest: Option<LocalId>, callee: Symbol, args: Vec<Operand> },
    /// The built-in `print(x)`: `x` in decimal and a newline on stdout.
    Print(Operand),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Rvalue {
    Use(Operand),
    /// Reads a global listed in `Function::externs`.
    LoadGlobal(Symbol),
    Unary(UnOp, Operand),
    Binary(BinOp, Operand, Operand),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operand {
    Const(Const),
    Local(LocalId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Const {
    I64(i64),
    Bool(bool),
}

impl Const {
    pub fn ty(self) -> Ty {
        match self {
            Const::I64(_) => Ty::I64,
            Const::Bool(_) => Ty::Bool,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UnOp {
    /// Wrapping negation of an `i64`.
    Neg,
    /// Logical not of a `bool`.
    Not,
}

/// Binary operators. `&&` and `||` do not appear: they short-circuit, so
/// lowering turns them into control flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BinOp {
    /// Wrapping.
    Add,
    /// Wrapping.
    Sub,
    /// Wrapping.
    Mul,
    /// Truncating; `MIN / -1 == MIN`; a zero divisor stops the program
    /// (exit 101, `division by zero` on stderr).
    Div,
    /// Truncating; `MIN % -1 == 0`; a zero divisor stops the program.
    Rem,
    /// Operands of the same type (`i64` or `bool`).
    Eq,
    Ne,
    /// `i64` operands only.
    Lt,
    Le,
    Gt,
    Ge,
}

impl BinOp {
    /// Result type given the operand type.
    pub fn result_ty(self) -> Ty {
        match self {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => Ty::I64,
            _ => Ty::Bool,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Terminator {
    Goto(BlockId),
    Branch {
        cond: Operand,
        then_block: BlockId,
        else_block: BlockId,
    },
    /// `Return(Some(_))` exactly when the signature has a return type.
    Return(Option<Operand>),
}

/// A module-level variable. Its storage starts zeroed (`0` / `false`); the
/// module's initialiser function assigns the declared initial value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GlobalDef {
    pub symbol: Symbol,
    pub ty: Ty,
}

/// Everything compiled into one object file: the globals it defines and the
/// functions it defines. Names are unique within a program.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodegenUnit {
    /// Stable, human-readable name (`util`, or `util::clamp` for a
    /// one-function unit); used for object file names and in reports.
    pub name: String,
    pub globals: Vec<GlobalDef>,
    pub functions: Vec<Function>,
}

/// The program-level glue that is not any module's: the C `main`, which
/// runs module initialisers in order then the program's `main`, and the
/// runtime helpers (`print`, the division-by-zero trap).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryPoint {
    /// Module initialisers to call, in order (a module after every module it
    /// imports, ties by name).
    pub init_order: Vec<Symbol>,
    /// The program's `main::main`.
    pub main: Symbol,
    /// Whether `main` returns `i64` (its value mod 256 is the exit status).
    pub main_returns_value: bool,
}

/// Names of the runtime helpers every object may call. They are defined in
/// the entry object; a second front end can define them itself.
pub mod runtime {
    /// `void (i64)`: prints its argument and a newline to stdout.
    pub const PRINT: &str = "__lockstep_print";
    /// `void ()`, never returns: `division by zero` on stderr, exit 101.
    pub const DIV_BY_ZERO: &str = "__lockstep_div_by_zero";
}

/// A whole program as MIR, the unit the interpreter runs: every module's
/// globals, initialiser and functions, plus the entry point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    pub globals: Vec<GlobalDef>,
    pub functions: Vec<Function>,
    pub entry: EntryPoint,
}
