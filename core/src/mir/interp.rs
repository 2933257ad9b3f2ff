//! MIR interpreter: runs a whole [`Program`] and reports what a compiled
//! executable would have printed and exited with.
//!
//! It is the test oracle for the LLVM backend, so it is written to be
//! obviously right rather than clever, and independent of the backend and of
//! the passes. It is still reasonably fast, because tests run many programs:
//! the program is first loaded into a compact internal form in which every
//! callee and global is resolved to an index (so no name is looked up while
//! running), and values of both types are kept as `i64` (`bool` as 0 or 1).
//!
//! MIR calls do not use Rust recursion: the interpreter keeps an explicit
//! frame stack and one shared vector of local slots, so a deeply recursive
//! program is bounded by [`Limits::max_call_depth`], never by the Rust stack.
//!
//! Semantics, as specified by the MIR contract and the reference language:
//! globals start zeroed, the initialisers in `entry.init_order` run in order,
//! then `entry.main`; the exit status is `main`'s result `& 255` (0 when it
//! returns nothing); arithmetic wraps; division or remainder by zero stops
//! the program with exit status 101 and `division by zero\n` on stderr,
//! keeping everything already printed. Locals that are read before being
//! assigned read as `0` / `false`; the contract leaves that case open and
//! validated front-end output never does it, but a fixed answer keeps the
//! interpreter deterministic.

use super::validate::validate_function;
use super::{BinOp, Const, Function, Operand, Program, Rvalue, Statement, Symbol, Terminator, Ty, UnOp};
use std::collections::BTreeMap;
use std::fmt;

/// Resource bounds for one run, so that a runaway program ends with an error
/// instead of hanging or exhausting memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Statements plus terminators executed, over the whole run.
    pub max_steps: u64,
    /// Frames live at once, counting the initialiser or `main` itself.
    pub max_call_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_steps: 50_000_000, max_call_depth: 10_000 }
    }
}

/// What the program did: its output streams and its exit status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_status: i32,
}

/// Why the program could not be run to completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterpError {
    /// More than [`Limits::max_steps`] steps were executed.
    OutOfSteps,
    /// More than [`Limits::max_call_depth`] frames were live at once.
    CallDepthExceeded,
    /// The program is not valid MIR (an unknown callee, a type error, a
    /// missing `main`, ...); nothing was run.
    Malformed(String),
}

impl fmt::Display for InterpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterpError::OutOfSteps => f.write_str("the program ran out of steps"),
            InterpError::CallDepthExceeded => f.write_str("the program exceeded the maximum call depth"),
            InterpError::Malformed(m) => write!(f, "malformed MIR: {m}"),
        }
    }
}

impl std::error::Error for InterpError {}

/// The message the division-by-zero trap writes to stderr.
const DIV_BY_ZERO_MESSAGE: &[u8] = b"division by zero\n";
/// The exit status of the division-by-zero trap.
const DIV_BY_ZERO_STATUS: i32 = 101;

/// Runs `program`: zeroes globals, runs the initialisers, then `main`.
pub fn run(program: &Program, limits: &Limits) -> Result<Outcome, InterpError> {
    let machine = Machine::load(program)?;
    machine.run(limits)
}

/// An operand with its local resolved to a slot offset or its constant
/// widened to `i64`.
#[derive(Clone, Copy, Debug)]
enum Val {
    Local(u32),
    Const(i64),
}

#[derive(Clone, Debug)]
enum Inst {
    Copy(u32, Val),
    Load(u32, usize),
    Neg(u32, Val),
    Not(u32, Val),
    Binary(u32, BinOp, Val, Val),
    Store(usize, Val),
    Call { dest: Option<u32>, callee: usize, args: Box<[Val]> },
    Print(Val),
}

#[derive(Clone, Copy, Debug)]
enum Term {
    Goto(u32),
    Branch(Val, u32, u32),
    Return(Option<Val>),
}

#[derive(Debug)]
struct Block {
    insts: Vec<Inst>,
    term: Term,
}

#[derive(Debug)]
struct Func {
    locals: usize,
    blocks: Vec<Block>,
}

/// The loaded program: functions and globals by index.
#[derive(Debug)]
struct Machine {
    funcs: Vec<Func>,
    globals: usize,
    init_order: Vec<usize>,
    main: usize,
    main_returns_value: bool,
}

/// One activation: which function, where in it, where its locals start in
/// the shared slot vector, and where its caller wants the result.
#[derive(Clone, Copy, Debug)]
struct Frame {
    func: usize,
    block: usize,
    pc: usize,
    base: usize,
    dest: Option<u32>,
}

/// How a top-level call (an initialiser or `main`) ended.
enum Flow {
    Returned(Option<i64>),
    DivisionByZero,
}

/// Mutable state of a run, shared by the initialisers and `main`.
struct State {
    globals: Vec<i64>,
    stdout: Vec<u8>,
    steps: u64,
    locals: Vec<i64>,
    callers: Vec<Frame>,
}

fn malformed<T>(msg: String) -> Result<T, InterpError> {
    Err(InterpError::Malformed(msg))
}

fn widen(c: Const) -> i64 {
    match c {
        Const::I64(v) => v,
        Const::Bool(b) => i64::from(b),
    }
}

fn val(op: &Operand) -> Val {
    match op {
        Operand::Local(l) => Val::Local(l.0),
        Operand::Const(c) => Val::Const(widen(*c)),
    }
}

impl Machine {
    fn load(p: &Program) -> Result<Machine, InterpError> {
        let mut globals: BTreeMap<&Symbol, (usize, Ty)> = BTreeMap::new();
        for (i, g) in p.globals.iter().enumerate() {
            if globals.insert(&g.symbol, (i, g.ty)).is_some() {
                return malformed(format!("global {} is defined more than once", g.symbol));
            }
        }
        let mut functions: BTreeMap<&Symbol, usize> = BTreeMap::new();
        for (i, f) in p.functions.iter().enumerate() {
            if functions.insert(&f.symbol, i).is_some() {
                return malformed(format!("function {} is defined more than once", f.symbol));
            }
        }
        let mut funcs = Vec::with_capacity(p.functions.len());
        for f in &p.functions {
            // Validation guarantees every local and block index is in range
            // and every operand well typed, which the run loop relies on.
            validate_function(f).map_err(InterpError::Malformed)?;
            funcs.push(Self::load_function(f, p, &functions, &globals)?);
        }
        let lookup = |s: &Symbol, what: &str| -> Result<usize, InterpError> {
            let Some(&i) = functions.get(s) else {
                return malformed(format!("{what} {s} is not defined"));
            };
            if !p.functions[i].signature.params.is_empty() {
                return malformed(format!("{what} {s} must take no parameters"));
            }
            Ok(i)
        };
        let mut init_order = Vec::with_capacity(p.entry.init_order.len());
        for s in &p.entry.init_order {
            let i = lookup(s, "initialiser")?;
            if p.functions[i].signature.ret.is_some() {
                return malformed(format!("initialiser {s} must return nothing"));
            }
            init_order.push(i);
        }
        let main = lookup(&p.entry.main, "main function")?;
        let want = if p.entry.main_returns_value { Some(Ty::I64) } else { None };
        if p.functions[main].signature.ret != want {
            return malformed(format!(
                "main function {} does not match the entry point's main_returns_value = {}",
                p.entry.main, p.entry.main_returns_value
            ));
        }
        Ok(Machine {
            funcs,
            globals: p.globals.len(),
            init_order,
            main,
            main_returns_value: p.entry.main_returns_value,
        })
    }

    fn load_function(
        f: &Function,
        p: &Program,
        functions: &BTreeMap<&Symbol, usize>,
        globals: &BTreeMap<&Symbol, (usize, Ty)>,
    ) -> Result<Func, InterpError> {
        let global = |g: &Symbol| -> Result<usize, InterpError> {
            match (globals.get(g), f.externs.globals.get(g)) {
                (Some(&(i, def)), Some(&decl)) if def == decl => Ok(i),
                (Some(_), Some(_)) => malformed(format!("in {}: global {g} is declared with the wrong type", f.symbol)),
                _ => malformed(format!("in {}: global {g} is not defined", f.symbol)),
            }
        };
        let mut blocks = Vec::with_capacity(f.blocks.len());
        for b in &f.blocks {
            let mut insts = Vec::with_capacity(b.statements.len());
            for s in &b.statements {
                insts.push(match s {
                    Statement::Assign { dest, value } => match value {
                        Rvalue::Use(op) => Inst::Copy(dest.0, val(op)),
                        Rvalue::LoadGlobal(g) => Inst::Load(dest.0, global(g)?),
                        Rvalue::Unary(UnOp::Neg, a) => Inst::Neg(dest.0, val(a)),
                        Rvalue::Unary(UnOp::Not, a) => Inst::Not(dest.0, val(a)),
                        Rvalue::Binary(op, a, b) => Inst::Binary(dest.0, *op, val(a), val(b)),
                    },
                    Statement::StoreGlobal { global: g, value } => Inst::Store(global(g)?, val(value)),
                    Statement::Call { dest, callee, args } => {
                        let Some(&ci) = functions.get(callee) else {
                            return malformed(format!("in {}: call to unknown function {callee}", f.symbol));
                        };
                        // The validator checked the call against the extern
                        // declaration; the declaration must also match the
                        // definition, or arity and result would disagree.
                        if f.externs.functions.get(callee) != Some(&p.functions[ci].signature) {
                            return malformed(format!(
                                "in {}: {callee} is declared with a signature different from its definition",
                                f.symbol
                            ));
                        }
                        Inst::Call { dest: dest.map(|d| d.0), callee: ci, args: args.iter().map(val).collect() }
                    }
                    Statement::Print(op) => Inst::Print(val(op)),
                });
            }
            let term = match &b.terminator {
                Terminator::Goto(t) => Term::Goto(t.0),
                Terminator::Branch { cond, then_block, else_block } => {
                    Term::Branch(val(cond), then_block.0, else_block.0)
                }
                Terminator::Return(op) => Term::Return(op.as_ref().map(val)),
            };
            blocks.push(Block { insts, term });
        }
        Ok(Func { locals: f.locals.len(), blocks })
    }

    fn run(&self, limits: &Limits) -> Result<Outcome, InterpError> {
        let mut st = State {
            globals: vec![0; self.globals],
            stdout: Vec::new(),
            steps: 0,
            locals: Vec::new(),
            callers: Vec::new(),
        };
        let trapped = |st: State| Outcome {
            stdout: st.stdout,
            stderr: DIV_BY_ZERO_MESSAGE.to_vec(),
            exit_status: DIV_BY_ZERO_STATUS,
        };
        for &init in &self.init_order {
            if let Flow::DivisionByZero = self.call(init, &mut st, limits)? {
                return Ok(trapped(st));
            }
        }
        let status = match self.call(self.main, &mut st, limits)? {
            Flow::DivisionByZero => return Ok(trapped(st)),
            Flow::Returned(Some(v)) if self.main_returns_value => (v & 255) as i32,
            Flow::Returned(_) => 0,
        };
        Ok(Outcome { stdout: st.stdout, stderr: Vec::new(), exit_status: status })
    }

    /// Runs `func` (which takes no arguments) to completion from an empty
    /// stack, iteratively.
    fn call(&self, func: usize, st: &mut State, limits: &Limits) -> Result<Flow, InterpError> {
        if limits.max_call_depth == 0 {
            return Err(InterpError::CallDepthExceeded);
        }
        st.locals.clear();
        st.callers.clear();
        st.locals.resize(self.funcs[func].locals, 0);
        let mut cur = Frame { func, block: 0, pc: 0, base: 0, dest: None };
        'frames: loop {
            let block = &self.funcs[cur.func].blocks[cur.block];
            while let Some(inst) = block.insts.get(cur.pc) {
                st.steps += 1;
                if st.steps > limits.max_steps {
                    return Err(InterpError::OutOfSteps);
                }
                let locals = &mut st.locals;
                let base = cur.base;
                let get = |locals: &[i64], v: Val| match v {
                    Val::Local(l) => locals[base + l as usize],
                    Val::Const(c) => c,
                };
                match inst {
                    Inst::Copy(d, a) => locals[base + *d as usize] = get(locals, *a),
                    Inst::Load(d, g) => locals[base + *d as usize] = st.globals[*g],
                    Inst::Neg(d, a) => locals[base + *d as usize] = get(locals, *a).wrapping_neg(),
                    Inst::Not(d, a) => locals[base + *d as usize] = i64::from(get(locals, *a) == 0),
                    Inst::Binary(d, op, a, b) => {
                        let (a, b) = (get(locals, *a), get(locals, *b));
                        let Some(v) = binary(*op, a, b) else {
                            return Ok(Flow::DivisionByZero);
                        };
                        locals[base + *d as usize] = v;
                    }
                    Inst::Store(g, a) => st.globals[*g] = get(locals, *a),
                    Inst::Print(a) => push_decimal(&mut st.stdout, get(locals, *a)),
                    Inst::Call { dest, callee, args } => {
                        if st.callers.len() + 1 >= limits.max_call_depth {
                            return Err(InterpError::CallDepthExceeded);
                        }
                        let new_base = locals.len();
                        locals.resize(new_base + self.funcs[*callee].locals, 0);
                        for (k, a) in args.iter().enumerate() {
                            locals[new_base + k] = get(locals, *a);
                        }
                        cur.pc += 1;
                        st.callers.push(cur);
                        cur = Frame { func: *callee, block: 0, pc: 0, base: new_base, dest: *dest };
                        continue 'frames;
                    }
                }
                cur.pc += 1;
            }
            st.steps += 1;
            if st.steps > limits.max_steps {
                return Err(InterpError::OutOfSteps);
            }
            let get = |v: Val| match v {
                Val::Local(l) => st.locals[cur.base + l as usize],
                Val::Const(c) => c,
            };
            match block.term {
                Term::Goto(t) => {
                    cur.block = t as usize;
                    cur.pc = 0;
                }
                Term::Branch(c, t, e) => {
                    cur.block = if get(c) != 0 { t as usize } else { e as usize };
                    cur.pc = 0;
                }
                Term::Return(v) => {
                    let result = v.map(get);
                    st.locals.truncate(cur.base);
                    let Some(caller) = st.callers.pop() else {
                        return Ok(Flow::Returned(result));
                    };
                    if let (Some(d), Some(r)) = (cur.dest, result) {
                        st.locals[caller.base + d as usize] = r;
                    }
                    cur = caller;
                }
            }
        }
    }
}

/// Evaluates a binary operator on widened values; `None` is a division or
/// remainder by zero.
fn binary(op: BinOp, a: i64, b: i64) -> Option<i64> {
    Some(match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        // `wrapping_div` and `wrapping_rem` give `MIN / -1 == MIN` and
        // `MIN % -1 == 0`, exactly the language's rules.
        BinOp::Div if b == 0 => return None,
        BinOp::Div => a.wrapping_div(b),
        BinOp::Rem if b == 0 => return None,
        BinOp::Rem => a.wrapping_rem(b),
        BinOp::Eq => i64::from(a == b),
        BinOp::Ne => i64::from(a != b),
        BinOp::Lt => i64::from(a < b),
        BinOp::Le => i64::from(a <= b),
        BinOp::Gt => i64::from(a > b),
        BinOp::Ge => i64::from(a >= b),
    })
}

/// Appends `v` in decimal and a newline without allocating a string.
fn push_decimal(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    // Work on the magnitude as u64 so that `i64::MIN` needs no special case.
    let mut m = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
    out.push(b'\n');
}
