//! Tests for the MIR text form, validation, passes and interpreter.
//!
//! MIR is built either with the small [`Fb`] builder below or, for the pass
//! tests, parsed from the text form by the test-only [`parse_function`], so
//! each pass case reads as "this function text becomes that function text".
//! Every area has one `check_*` helper and a table of cases.

use lockstep_core::mir::interp::{run, InterpError, Limits, Outcome};
use lockstep_core::mir::passes;
use lockstep_core::mir::text::{function_to_string, program_to_string, unit_to_string};
use lockstep_core::mir::validate::{validate_function, validate_program};
use lockstep_core::mir::{
    BasicBlock, BinOp, BlockId, CodegenUnit, Const, EntryPoint, Function, GlobalDef, LocalId, Operand, Program, Rvalue,
    Signature, Statement, Symbol, Terminator, Ty, UnOp, Visibility,
};
use proptest::prelude::*;

const I: Ty = Ty::I64;
const B: Ty = Ty::Bool;

// ---------------------------------------------------------------------------
// Builders.

fn l(i: u32) -> Operand {
    Operand::Local(LocalId(i))
}

fn k(v: i64) -> Operand {
    Operand::Const(Const::I64(v))
}

fn kb(v: bool) -> Operand {
    Operand::Const(Const::Bool(v))
}

/// `"module::name"` to a symbol; the module is everything before the first `::`.
fn sym(s: &str) -> Symbol {
    let (m, n) = s.split_once("::").unwrap_or_else(|| panic!("not a qualified name: {s}"));
    Symbol::new(m, n)
}

fn sig(params: &[Ty], ret: Option<Ty>) -> Signature {
    Signature { params: params.to_vec(), ret }
}

/// A function builder: statements go to the current block (`at`), externs
/// are declared automatically by the statements that need them.
struct Fb {
    f: Function,
    cur: usize,
}

impl Fb {
    fn new(name: &str, params: &[Ty], ret: Option<Ty>) -> Fb {
        Fb {
            f: Function {
                symbol: sym(name),
                visibility: Visibility::Private,
                signature: sig(params, ret),
                locals: params.to_vec(),
                blocks: vec![BasicBlock { statements: Vec::new(), terminator: Terminator::Return(None) }],
                externs: Default::default(),
            },
            cur: 0,
        }
    }

    fn public(mut self) -> Fb {
        self.f.visibility = Visibility::Public;
        self
    }

    /// Declares a local and returns its index.
    fn local(&mut self, ty: Ty) -> u32 {
        self.f.locals.push(ty);
        (self.f.locals.len() - 1) as u32
    }

    /// Adds a block (not made current) and returns its index.
    fn block(&mut self) -> u32 {
        self.f.blocks.push(BasicBlock { statements: Vec::new(), terminator: Terminator::Return(None) });
        (self.f.blocks.len() - 1) as u32
    }

    fn at(&mut self, b: u32) -> &mut Fb {
        self.cur = b as usize;
        self
    }

    fn stmt(&mut self, s: Statement) -> &mut Fb {
        self.f.blocks[self.cur].statements.push(s);
        self
    }

    fn assign(&mut self, d: u32, value: Rvalue) -> &mut Fb {
        self.stmt(Statement::Assign { dest: LocalId(d), value })
    }

    fn copy(&mut self, d: u32, a: Operand) -> &mut Fb {
        self.assign(d, Rvalue::Use(a))
    }

    fn bin(&mut self, d: u32, op: BinOp, a: Operand, b: Operand) -> &mut Fb {
        self.assign(d, Rvalue::Binary(op, a, b))
    }

    fn un(&mut self, d: u32, op: UnOp, a: Operand) -> &mut Fb {
        self.assign(d, Rvalue::Unary(op, a))
    }

    fn load(&mut self, d: u32, g: &str, ty: Ty) -> &mut Fb {
        self.f.externs.globals.insert(sym(g), ty);
        self.assign(d, Rvalue::LoadGlobal(sym(g)))
    }

    fn store(&mut self, g: &str, ty: Ty, a: Operand) -> &mut Fb {
        self.f.externs.globals.insert(sym(g), ty);
        self.stmt(Statement::StoreGlobal { global: sym(g), value: a })
    }

    fn call(&mut self, dest: Option<u32>, callee: &str, s: Signature, args: &[Operand]) -> &mut Fb {
        self.f.externs.functions.insert(sym(callee), s);
        self.stmt(Statement::Call { dest: dest.map(LocalId), callee: sym(callee), args: args.to_vec() })
    }

    fn print(&mut self, a: Operand) -> &mut Fb {
        self.stmt(Statement::Print(a))
    }

    fn term(&mut self, t: Terminator) -> &mut Fb {
        self.f.blocks[self.cur].terminator = t;
        self
    }

    fn goto(&mut self, b: u32) -> &mut Fb {
        self.term(Terminator::Goto(BlockId(b)))
    }

    fn branch(&mut self, c: Operand, t: u32, e: u32) -> &mut Fb {
        self.term(Terminator::Branch { cond: c, then_block: BlockId(t), else_block: BlockId(e) })
    }

    fn ret(&mut self, a: Option<Operand>) -> &mut Fb {
        self.term(Terminator::Return(a))
    }

    fn build(&self) -> Function {
        self.f.clone()
    }
}

fn program(functions: Vec<Function>, globals: &[(&str, Ty)], init: &[&str], main_returns_value: bool) -> Program {
    Program {
        globals: globals.iter().map(|(s, ty)| GlobalDef { symbol: sym(s), ty: *ty }).collect(),
        functions,
        entry: EntryPoint {
            init_order: init.iter().map(|s| sym(s)).collect(),
            main: sym("main::main"),
            main_returns_value,
        },
    }
}

// ---------------------------------------------------------------------------
// A parser for the text form, used to write pass cases as text. It accepts
// exactly what `function_to_string` prints and panics on anything else.

fn parse_ty(s: &str) -> Ty {
    match s {
        "i64" => Ty::I64,
        "bool" => Ty::Bool,
        _ => panic!("bad type {s:?}"),
    }
}

fn parse_local(s: &str) -> LocalId {
    LocalId(s.strip_prefix('_').and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("bad local {s:?}")))
}

fn parse_block(s: &str) -> BlockId {
    BlockId(s.strip_prefix("bb").and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("bad block {s:?}")))
}

fn parse_operand(s: &str) -> Operand {
    match s {
        "true" => kb(true),
        "false" => kb(false),
        _ if s.starts_with('_') => Operand::Local(parse_local(s)),
        _ => k(s.parse().unwrap_or_else(|_| panic!("bad operand {s:?}"))),
    }
}

/// `SYM(a, b)` to the symbol and the comma-separated items.
fn parse_call_like(s: &str) -> (Symbol, Vec<&str>) {
    let (name, rest) = s.split_once('(').unwrap_or_else(|| panic!("bad call {s:?}"));
    let inner = rest.strip_suffix(')').unwrap_or_else(|| panic!("bad call {s:?}"));
    let items = if inner.is_empty() { Vec::new() } else { inner.split(", ").collect() };
    (sym(name), items)
}

fn parse_binop(s: &str) -> Option<BinOp> {
    Some(match s {
        "add" => BinOp::Add,
        "sub" => BinOp::Sub,
        "mul" => BinOp::Mul,
        "div" => BinOp::Div,
        "rem" => BinOp::Rem,
        "eq" => BinOp::Eq,
        "ne" => BinOp::Ne,
        "lt" => BinOp::Lt,
        "le" => BinOp::Le,
        "gt" => BinOp::Gt,
        "ge" => BinOp::Ge,
        _ => return None,
    })
}

fn parse_rvalue(s: &str) -> Rvalue {
    let (head, rest) = s.split_once(' ').unwrap_or((s, ""));
    if let Some(op) = parse_binop(head) {
        let (a, b) = rest.split_once(", ").unwrap_or_else(|| panic!("bad binary {s:?}"));
        return Rvalue::Binary(op, parse_operand(a), parse_operand(b));
    }
    match head {
        "load" => Rvalue::LoadGlobal(sym(rest)),
        "neg" => Rvalue::Unary(UnOp::Neg, parse_operand(rest)),
        "not" => Rvalue::Unary(UnOp::Not, parse_operand(rest)),
        _ => Rvalue::Use(parse_operand(s)),
    }
}

fn parse_statement(s: &str) -> Statement {
    if let Some(rest) = s.strip_prefix("print ") {
        return Statement::Print(parse_operand(rest));
    }
    if let Some(rest) = s.strip_prefix("store ") {
        let (g, v) = rest.split_once(", ").unwrap_or_else(|| panic!("bad store {s:?}"));
        return Statement::StoreGlobal { global: sym(g), value: parse_operand(v) };
    }
    let (dest, rhs) = match s.split_once(" = ") {
        Some((d, r)) => (Some(parse_local(d)), r),
        None => (None, s),
    };
    if let Some(rest) = rhs.strip_prefix("call ") {
        let (callee, args) = parse_call_like(rest);
        return Statement::Call { dest, callee, args: args.into_iter().map(parse_operand).collect() };
    }
    let dest = dest.unwrap_or_else(|| panic!("bad statement {s:?}"));
    Statement::Assign { dest, value: parse_rvalue(rhs) }
}

fn parse_terminator(s: &str) -> Option<Terminator> {
    if s == "return" {
        return Some(Terminator::Return(None));
    }
    if let Some(rest) = s.strip_prefix("return ") {
        return Some(Terminator::Return(Some(parse_operand(rest))));
    }
    if let Some(rest) = s.strip_prefix("goto ") {
        return Some(Terminator::Goto(parse_block(rest)));
    }
    if let Some(rest) = s.strip_prefix("branch ") {
        let parts: Vec<&str> = rest.split(", ").collect();
        assert_eq!(parts.len(), 3, "bad branch {s:?}");
        return Some(Terminator::Branch {
            cond: parse_operand(parts[0]),
            then_block: parse_block(parts[1]),
            else_block: parse_block(parts[2]),
        });
    }
    None
}

fn parse_function(text: &str) -> Function {
    let mut lines = text.lines().map(str::trim).filter(|s| !s.is_empty());
    let header = lines.next().expect("empty function text");
    let (visibility, header) = match header.strip_prefix("pub ") {
        Some(h) => (Visibility::Public, h),
        None => (Visibility::Private, header),
    };
    let header = header.strip_prefix("fn ").and_then(|h| h.strip_suffix(" {")).expect("bad header");
    let (decl, ret) = match header.split_once(" -> ") {
        Some((d, r)) => (d, Some(parse_ty(r))),
        None => (header, None),
    };
    let (symbol, params) = parse_call_like(decl);
    let params: Vec<Ty> = params
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let (name, ty) = p.split_once(": ").expect("bad parameter");
            assert_eq!(parse_local(name), LocalId(i as u32));
            parse_ty(ty)
        })
        .collect();
    let mut f = Function {
        symbol,
        visibility,
        signature: Signature { params: params.clone(), ret },
        locals: params,
        blocks: Vec::new(),
        externs: Default::default(),
    };
    let mut pending: Vec<Statement> = Vec::new();
    for line in lines {
        if line == "}" {
            break;
        } else if let Some(rest) = line.strip_prefix("let ") {
            let (name, ty) = rest.split_once(": ").expect("bad let");
            assert_eq!(parse_local(name), LocalId(f.locals.len() as u32));
            f.locals.push(parse_ty(ty));
        } else if let Some(rest) = line.strip_prefix("extern fn ") {
            let (decl, ret) = match rest.split_once(" -> ") {
                Some((d, r)) => (d, Some(parse_ty(r))),
                None => (rest, None),
            };
            let (s, params) = parse_call_like(decl);
            f.externs.functions.insert(s, sig(&params.into_iter().map(parse_ty).collect::<Vec<_>>(), ret));
        } else if let Some(rest) = line.strip_prefix("extern global ") {
            let (s, ty) = rest.rsplit_once(": ").expect("bad extern global");
            f.externs.globals.insert(sym(s), parse_ty(ty));
        } else if let Some(label) = line.strip_suffix(':') {
            assert_eq!(parse_block(label), BlockId(f.blocks.len() as u32), "blocks must be in order");
            assert!(pending.is_empty(), "statements after a terminator");
        } else if let Some(t) = parse_terminator(line) {
            f.blocks.push(BasicBlock { statements: std::mem::take(&mut pending), terminator: t });
        } else {
            pending.push(parse_statement(line));
        }
    }
    f
}

// ---------------------------------------------------------------------------
// Interpreter: operators.

fn outcome(stdout: &str, stderr: &str, exit_status: i32) -> Outcome {
    Outcome { stdout: stdout.as_bytes().to_vec(), stderr: stderr.as_bytes().to_vec(), exit_status }
}

fn show(o: &Outcome) -> String {
    format!(
        "stdout={:?} stderr={:?} exit={}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        o.exit_status
    )
}

/// Runs `p` as is and after `optimize_program`; both must validate and give
/// `expected`, so every interpreter case also checks the passes.
fn check_program(p: &Program, expected: &Outcome, limits: &Limits) {
    validate_program(p).unwrap_or_else(|e| panic!("invalid test program: {e}\n{}", program_to_string(p)));
    let got = run(p, limits).unwrap_or_else(|e| panic!("run failed: {e}\n{}", program_to_string(p)));
    assert_eq!(show(&got), show(expected), "\n{}", program_to_string(p));
    let mut opt = p.clone();
    passes::optimize_program(&mut opt);
    validate_program(&opt).unwrap_or_else(|e| panic!("optimised program invalid: {e}\n{}", program_to_string(&opt)));
    let got = run(&opt, limits).unwrap_or_else(|e| panic!("optimised run failed: {e}"));
    assert_eq!(show(&got), show(expected), "optimised:\n{}", program_to_string(&opt));
}

/// What evaluating an operator should do.
#[derive(Clone, Copy, Debug)]
enum Expect {
    Value(Const),
    DivByZero,
}

/// Builds `main`: prints 7, evaluates the operator on locals holding the
/// inputs (so the raw run really executes it), then prints the result
/// (a `bool` as 1 or 0).
fn op_program(rv: impl Fn(Operand, Operand) -> Rvalue, a: Const, b: Const, result: Ty) -> Program {
    let mut fb = Fb::new("main::main", &[], None);
    let (la, lb, lr) = (fb.local(a.ty()), fb.local(b.ty()), fb.local(result));
    let (yes, no) = (fb.block(), fb.block());
    fb.at(0).print(k(7)).copy(la, Operand::Const(a)).copy(lb, Operand::Const(b)).assign(lr, rv(l(la), l(lb)));
    match result {
        Ty::I64 => fb.print(l(lr)).ret(None),
        Ty::Bool => fb.branch(l(lr), yes, no),
    };
    fb.at(yes).print(k(1)).ret(None);
    fb.at(no).print(k(0)).ret(None);
    program(vec![fb.build()], &[], &[], false)
}

fn expected_op_outcome(e: Expect) -> Outcome {
    match e {
        Expect::Value(Const::I64(v)) => outcome(&format!("7\n{v}\n"), "", 0),
        Expect::Value(Const::Bool(v)) => outcome(&format!("7\n{}\n", i64::from(v)), "", 0),
        Expect::DivByZero => outcome("7\n", "division by zero\n", 101),
    }
}

fn check_binop(op: BinOp, a: Const, b: Const, e: Expect) {
    let p = op_program(|x, y| Rvalue::Binary(op, x, y), a, b, op.result_ty());
    check_program(&p, &expected_op_outcome(e), &Limits::default());
}

#[test]
fn interp_binary_operators() {
    use Const::{Bool as Bo, I64 as N};
    use Expect::{DivByZero, Value};
    const MIN: i64 = i64::MIN;
    const MAX: i64 = i64::MAX;
    let cases: &[(BinOp, Const, Const, Expect)] = &[
        (BinOp::Add, N(2), N(3), Value(N(5))),
        (BinOp::Add, N(MAX), N(1), Value(N(MIN))),
        (BinOp::Add, N(MIN), N(-1), Value(N(MAX))),
        (BinOp::Sub, N(2), N(3), Value(N(-1))),
        (BinOp::Sub, N(MIN), N(1), Value(N(MAX))),
        (BinOp::Sub, N(0), N(MIN), Value(N(MIN))),
        (BinOp::Mul, N(-4), N(5), Value(N(-20))),
        (BinOp::Mul, N(MAX), N(2), Value(N(-2))),
        (BinOp::Mul, N(MIN), N(-1), Value(N(MIN))),
        (BinOp::Mul, N(1 << 32), N(1 << 32), Value(N(0))),
        (BinOp::Div, N(7), N(2), Value(N(3))),
        (BinOp::Div, N(-7), N(2), Value(N(-3))),
        (BinOp::Div, N(7), N(-2), Value(N(-3))),
        (BinOp::Div, N(-7), N(-2), Value(N(3))),
        (BinOp::Div, N(MIN), N(-1), Value(N(MIN))),
        (BinOp::Div, N(MIN), N(1), Value(N(MIN))),
        (BinOp::Div, N(0), N(5), Value(N(0))),
        (BinOp::Div, N(7), N(0), DivByZero),
        (BinOp::Div, N(0), N(0), DivByZero),
        (BinOp::Div, N(MIN), N(0), DivByZero),
        (BinOp::Rem, N(7), N(2), Value(N(1))),
        (BinOp::Rem, N(-7), N(2), Value(N(-1))),
        (BinOp::Rem, N(7), N(-2), Value(N(1))),
        (BinOp::Rem, N(-7), N(-2), Value(N(-1))),
        (BinOp::Rem, N(MIN), N(-1), Value(N(0))),
        (BinOp::Rem, N(MIN), N(MAX), Value(N(-1))),
        (BinOp::Rem, N(7), N(0), DivByZero),
        (BinOp::Rem, N(0), N(0), DivByZero),
        (BinOp::Eq, N(3), N(3), Value(Bo(true))),
        (BinOp::Eq, N(3), N(-3), Value(Bo(false))),
        (BinOp::Eq, Bo(true), Bo(true), Value(Bo(true))),
        (BinOp::Eq, Bo(false), Bo(true), Value(Bo(false))),
        (BinOp::Ne, N(3), N(3), Value(Bo(false))),
        (BinOp::Ne, N(MIN), N(MAX), Value(Bo(true))),
        (BinOp::Ne, Bo(true), Bo(false), Value(Bo(true))),
        (BinOp::Ne, Bo(false), Bo(false), Value(Bo(false))),
        (BinOp::Lt, N(-1), N(0), Value(Bo(true))),
        (BinOp::Lt, N(0), N(0), Value(Bo(false))),
        (BinOp::Lt, N(MIN), N(MAX), Value(Bo(true))),
        (BinOp::Le, N(0), N(0), Value(Bo(true))),
        (BinOp::Le, N(1), N(0), Value(Bo(false))),
        (BinOp::Gt, N(1), N(0), Value(Bo(true))),
        (BinOp::Gt, N(0), N(0), Value(Bo(false))),
        (BinOp::Gt, N(MIN), N(MAX), Value(Bo(false))),
        (BinOp::Ge, N(0), N(0), Value(Bo(true))),
        (BinOp::Ge, N(-1), N(0), Value(Bo(false))),
    ];
    for &(op, a, b, e) in cases {
        check_binop(op, a, b, e);
    }
}

#[test]
fn interp_unary_operators() {
    use Const::{Bool as Bo, I64 as N};
    let cases: &[(UnOp, Const, Const)] = &[
        (UnOp::Neg, N(5), N(-5)),
        (UnOp::Neg, N(-5), N(5)),
        (UnOp::Neg, N(0), N(0)),
        (UnOp::Neg, N(i64::MIN), N(i64::MIN)),
        (UnOp::Neg, N(i64::MAX), N(-i64::MAX)),
        (UnOp::Not, Bo(true), Bo(false)),
        (UnOp::Not, Bo(false), Bo(true)),
    ];
    for &(op, a, r) in cases {
        let p = op_program(|x, _| Rvalue::Unary(op, x), a, a, r.ty());
        check_program(&p, &expected_op_outcome(Expect::Value(r)), &Limits::default());
    }
}

// ---------------------------------------------------------------------------
// Interpreter: whole programs.

/// `fn main::fact(n) -> i64 { if n <= 1 { 1 } else { n * fact(n - 1) } }`
fn fact() -> Function {
    let mut fb = Fb::new("main::fact", &[I], Some(I));
    let (c, t) = (fb.local(B), fb.local(I));
    let (base, rec) = (fb.block(), fb.block());
    fb.at(0).bin(c, BinOp::Le, l(0), k(1)).branch(l(c), base, rec);
    fb.at(base).ret(Some(k(1)));
    fb.at(rec)
        .bin(t, BinOp::Sub, l(0), k(1))
        .call(Some(t), "main::fact", sig(&[I], Some(I)), &[l(t)])
        .bin(t, BinOp::Mul, l(0), l(t))
        .ret(Some(l(t)));
    fb.build()
}

/// `fn main::fib(n) -> i64 { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }`
fn fib_recursive() -> Function {
    let mut fb = Fb::new("main::fib", &[I], Some(I));
    let (c, a, b) = (fb.local(B), fb.local(I), fb.local(I));
    let (base, rec) = (fb.block(), fb.block());
    let s = sig(&[I], Some(I));
    fb.at(0).bin(c, BinOp::Lt, l(0), k(2)).branch(l(c), base, rec);
    fb.at(base).ret(Some(l(0)));
    fb.at(rec)
        .bin(a, BinOp::Sub, l(0), k(1))
        .call(Some(a), "main::fib", s.clone(), &[l(a)])
        .bin(b, BinOp::Sub, l(0), k(2))
        .call(Some(b), "main::fib", s, &[l(b)])
        .bin(a, BinOp::Add, l(a), l(b))
        .ret(Some(l(a)));
    fb.build()
}

/// Iterative Fibonacci with a `while` loop: `a, b = b, a + b` n times.
fn fib_loop() -> Function {
    let mut fb = Fb::new("main::fib_loop", &[I], Some(I));
    let (a, b, t, i, c) = (fb.local(I), fb.local(I), fb.local(I), fb.local(I), fb.local(B));
    let (head, body, exit) = (fb.block(), fb.block(), fb.block());
    fb.at(0).copy(a, k(0)).copy(b, k(1)).copy(i, k(0)).goto(head);
    fb.at(head).bin(c, BinOp::Lt, l(i), l(0)).branch(l(c), body, exit);
    fb.at(body).bin(t, BinOp::Add, l(a), l(b)).copy(a, l(b)).copy(b, l(t)).bin(i, BinOp::Add, l(i), k(1)).goto(head);
    fb.at(exit).ret(Some(l(a)));
    fb.build()
}

/// A `main` that prints `callee(arg)` for each argument and returns `ret`.
fn main_printing(callee: &str, args: &[i64], ret: Option<i64>) -> Function {
    let mut fb = Fb::new("main::main", &[], ret.map(|_| I));
    let r = fb.local(I);
    for &a in args {
        fb.call(Some(r), callee, sig(&[I], Some(I)), &[k(a)]).print(l(r));
    }
    fb.ret(ret.map(k));
    fb.build()
}

#[test]
fn interp_programs() {
    let cases: Vec<(&str, Vec<Function>, &str)> = vec![
        (
            "factorial, including wrap-around past 20!",
            vec![fact(), main_printing("main::fact", &[0, 1, 5, 20, 21, 25], None)],
            "1\n1\n120\n2432902008176640000\n-4249290049419214848\n7034535277573963776\n",
        ),
        (
            "recursive fibonacci",
            vec![fib_recursive(), main_printing("main::fib", &[0, 1, 2, 10, 20], None)],
            "0\n1\n1\n55\n6765\n",
        ),
        (
            "iterative fibonacci",
            vec![fib_loop(), main_printing("main::fib_loop", &[0, 1, 10, 90], None)],
            "0\n1\n55\n2880067194370816120\n",
        ),
    ];
    for (name, functions, stdout) in cases {
        eprintln!("case: {name}");
        check_program(&program(functions, &[], &[], false), &outcome(stdout, "", 0), &Limits::default());
    }
}

/// The example from the language reference: `util::clamp`, a global counter
/// and `main` returning it.
fn tri_program() -> Program {
    let mut clamp = Fb::new("util::clamp", &[I, I, I], Some(I)).public();
    let c = clamp.local(B);
    let [lo, hi_test, hi, mid] = [clamp.block(), clamp.block(), clamp.block(), clamp.block()];
    clamp.at(0).bin(c, BinOp::Lt, l(0), l(1)).branch(l(c), lo, hi_test);
    clamp.at(lo).ret(Some(l(1)));
    clamp.at(hi_test).bin(c, BinOp::Gt, l(0), l(2)).branch(l(c), hi, mid);
    clamp.at(hi).ret(Some(l(2)));
    clamp.at(mid).ret(Some(l(0)));

    let mut tri = Fb::new("main::tri", &[I], Some(I));
    let (t, acc, i, c) = (tri.local(I), tri.local(I), tri.local(I), tri.local(B));
    let [head, body, exit] = [tri.block(), tri.block(), tri.block()];
    tri.at(0)
        .load(t, "main::calls", I)
        .bin(t, BinOp::Add, l(t), k(1))
        .store("main::calls", I, l(t))
        .copy(acc, k(0))
        .copy(i, k(0))
        .goto(head);
    tri.at(head).bin(c, BinOp::Le, l(i), l(0)).branch(l(c), body, exit);
    tri.at(body)
        .call(Some(t), "util::clamp", sig(&[I, I, I], Some(I)), &[l(i), k(0), k(100)])
        .bin(acc, BinOp::Add, l(acc), l(t))
        .bin(i, BinOp::Add, l(i), k(1))
        .goto(head);
    tri.at(exit).ret(Some(l(acc)));

    let mut init = Fb::new("main::$init", &[], None);
    init.store("main::calls", I, k(0)).ret(None);

    let mut main = Fb::new("main::main", &[], Some(I));
    let r = main.local(I);
    let tri_sig = sig(&[I], Some(I));
    main.call(Some(r), "main::tri", tri_sig.clone(), &[k(10)])
        .print(l(r))
        .call(Some(r), "main::tri", tri_sig, &[k(200)])
        .print(l(r))
        .load(r, "main::calls", I)
        .ret(Some(l(r)));
    program(vec![clamp.build(), tri.build(), init.build(), main.build()], &[("main::calls", I)], &["main::$init"], true)
}

#[test]
fn interp_reference_example() {
    check_program(&tri_program(), &outcome("55\n15050\n", "", 2), &Limits::default());
}

#[test]
fn interp_exit_status() {
    let cases: &[(Option<i64>, i32)] = &[
        (None, 0),
        (Some(0), 0),
        (Some(2), 2),
        (Some(255), 255),
        (Some(256), 0),
        (Some(300), 44),
        (Some(-1), 255),
        (Some(-255), 1),
        (Some(-256), 0),
        (Some(i64::MIN), 0),
        (Some(i64::MAX), 255),
    ];
    for &(ret, status) in cases {
        // The value passes through a local so that the raw run computes it.
        let mut fb = Fb::new("main::main", &[], ret.map(|_| I));
        let r = fb.local(I);
        fb.copy(r, k(ret.unwrap_or(0))).print(k(1)).ret(ret.map(|_| l(r)));
        check_program(
            &program(vec![fb.build()], &[], &[], ret.is_some()),
            &outcome("1\n", "", status),
            &Limits::default(),
        );
    }
}

#[test]
fn interp_division_by_zero_keeps_stdout() {
    // Prints 1 and 2, then divides by a zero computed at run time inside a
    // callee; nothing after the trap runs, in the callee or in main.
    let mut div = Fb::new("main::div", &[I, I], Some(I));
    let r = div.local(I);
    div.bin(r, BinOp::Div, l(0), l(1)).print(k(99)).ret(Some(l(r)));
    let mut main = Fb::new("main::main", &[], Some(I));
    let (z, r) = (main.local(I), main.local(I));
    main.print(k(1))
        .print(k(2))
        .bin(z, BinOp::Sub, k(5), k(5))
        .call(Some(r), "main::div", sig(&[I, I], Some(I)), &[k(10), l(z)])
        .print(k(3))
        .ret(Some(k(4)));
    let p = program(vec![div.build(), main.build()], &[], &[], true);
    check_program(&p, &outcome("1\n2\n", "division by zero\n", 101), &Limits::default());

    // An unused division by a constant zero must still trap after passes.
    let mut main = Fb::new("main::main", &[], None);
    let r = main.local(I);
    main.print(k(1)).bin(r, BinOp::Rem, k(1), k(0)).print(k(2)).ret(None);
    let p = program(vec![main.build()], &[], &[], false);
    check_program(&p, &outcome("1\n", "division by zero\n", 101), &Limits::default());
}

/// `fn main::sum(n) -> i64 { if n == 0 { 0 } else { n + sum(n - 1) } }`
fn sum_recursive() -> Function {
    let mut fb = Fb::new("main::sum", &[I], Some(I));
    let (c, t) = (fb.local(B), fb.local(I));
    let [base, rec] = [fb.block(), fb.block()];
    fb.at(0).bin(c, BinOp::Eq, l(0), k(0)).branch(l(c), base, rec);
    fb.at(base).ret(Some(k(0)));
    fb.at(rec)
        .bin(t, BinOp::Sub, l(0), k(1))
        .call(Some(t), "main::sum", sig(&[I], Some(I)), &[l(t)])
        .bin(t, BinOp::Add, l(0), l(t))
        .ret(Some(l(t)));
    fb.build()
}

#[test]
fn interp_deep_recursion_uses_no_rust_stack() {
    let p = program(vec![sum_recursive(), main_printing("main::sum", &[100_000], None)], &[], &[], false);
    let limits = Limits { max_call_depth: 200_000, ..Limits::default() };
    check_program(&p, &outcome("5000050000\n", "", 0), &limits);
    // The default depth limit stops it cleanly instead.
    assert_eq!(run(&p, &Limits::default()), Err(InterpError::CallDepthExceeded));
    // The limit counts live frames: main plus 100_001 activations of sum.
    let exact = Limits { max_call_depth: 100_002, ..Limits::default() };
    assert!(run(&p, &exact).is_ok());
    let short = Limits { max_call_depth: 100_001, ..Limits::default() };
    assert_eq!(run(&p, &short), Err(InterpError::CallDepthExceeded));
}

#[test]
fn interp_limits() {
    let mut fb = Fb::new("main::main", &[], None);
    let lp = fb.block();
    fb.goto(lp).at(lp).print(k(1)).goto(lp);
    let p = program(vec![fb.build()], &[], &[], false);
    assert_eq!(run(&p, &Limits { max_steps: 1000, max_call_depth: 10 }), Err(InterpError::OutOfSteps));
    assert_eq!(run(&p, &Limits { max_steps: 1000, max_call_depth: 0 }), Err(InterpError::CallDepthExceeded));
    // Steps are statements plus terminators: this main takes exactly 3.
    let mut fb = Fb::new("main::main", &[], None);
    fb.print(k(1)).print(k(2)).ret(None);
    let p = program(vec![fb.build()], &[], &[], false);
    assert!(run(&p, &Limits { max_steps: 3, max_call_depth: 1 }).is_ok());
    assert_eq!(run(&p, &Limits { max_steps: 2, max_call_depth: 1 }), Err(InterpError::OutOfSteps));
}

/// Modules `a` and `b`: `a::$init` sets `a::x = 5`, `b::$init` sets
/// `b::y = a::x * 2`; `main` prints `b::y`, the never-assigned `b::flag` and
/// `main::z`, and returns `a::x`.
fn globals_program(init_order: &[&str]) -> Program {
    let mut a = Fb::new("a::$init", &[], None);
    a.print(k(1)).store("a::x", I, k(5)).ret(None);
    let mut b = Fb::new("b::$init", &[], None);
    let t = b.local(I);
    b.print(k(2)).load(t, "a::x", I).bin(t, BinOp::Mul, l(t), k(2)).store("b::y", I, l(t)).ret(None);
    let mut m = Fb::new("main::main", &[], Some(I));
    let (t, f) = (m.local(I), m.local(B));
    let [yes, no, rest] = [m.block(), m.block(), m.block()];
    m.at(0).load(t, "b::y", I).print(l(t)).load(f, "b::flag", B).branch(l(f), yes, no);
    m.at(yes).print(k(1)).goto(rest);
    m.at(no).print(k(0)).goto(rest);
    m.at(rest).load(t, "main::z", I).print(l(t)).load(t, "a::x", I).ret(Some(l(t)));
    program(
        vec![a.build(), b.build(), m.build()],
        &[("a::x", I), ("b::y", I), ("b::flag", B), ("main::z", I)],
        init_order,
        true,
    )
}

#[test]
fn interp_globals_and_init_order() {
    let cases: &[(&[&str], &str)] = &[
        (&["a::$init", "b::$init"], "1\n2\n10\n0\n0\n"),
        // In the other order b reads a::x before a's initialiser ran: zero.
        (&["b::$init", "a::$init"], "2\n1\n0\n0\n0\n"),
    ];
    for &(order, stdout) in cases {
        check_program(&globals_program(order), &outcome(stdout, "", 5), &Limits::default());
    }
    // Without a's initialiser a::x stays zero, and so does the exit status.
    check_program(&globals_program(&["b::$init"]), &outcome("2\n0\n0\n0\n", "", 0), &Limits::default());
}

#[test]
fn interp_trap_in_initialiser_stops_everything() {
    let mut init = Fb::new("a::$init", &[], None);
    let t = init.local(I);
    init.print(k(1)).load(t, "a::x", I).bin(t, BinOp::Div, k(1), l(t)).ret(None);
    let mut m = Fb::new("main::main", &[], Some(I));
    m.print(k(2)).ret(Some(k(3)));
    let p = program(vec![init.build(), m.build()], &[("a::x", I)], &["a::$init"], true);
    check_program(&p, &outcome("1\n", "division by zero\n", 101), &Limits::default());
}

#[test]
fn interp_rejects_malformed_programs() {
    let ok = || main_printing("main::fact", &[3], None);
    let cases: Vec<(&str, Program)> = vec![
        ("unknown function main::fact", program(vec![ok()], &[], &[], false)),
        ("main function main::main is not defined", program(vec![fact()], &[], &[], false)),
        ("main_returns_value", program(vec![fact(), ok()], &[], &[], true)),
        ("initialiser a::$init is not defined", program(vec![fact(), ok()], &[], &["a::$init"], false)),
        ("initialiser main::fact must take no parameters", program(vec![fact(), ok()], &[], &["main::fact"], false)),
        ("function main::fact is defined more than once", program(vec![fact(), fact(), ok()], &[], &[], false)),
        ("global a::x is not defined", globals_program(&[]).tap(|p| p.globals.remove(0))),
        (
            "declared with a signature different from its definition",
            program(vec![fact(), ok()], &[], &[], false).tap(|p| {
                p.functions[1].externs.functions.insert(sym("main::fact"), sig(&[I, I], Some(I)));
                if let Statement::Call { args, .. } = &mut p.functions[1].blocks[0].statements[0] {
                    args.push(k(1));
                }
            }),
        ),
        (
            "operand of print must be i64",
            program(vec![fact(), ok()], &[], &[], false).tap(|p| {
                p.functions[1].blocks[0].statements[1] = Statement::Print(kb(true));
            }),
        ),
    ];
    for (msg, p) in cases {
        match run(&p, &Limits::default()) {
            Err(InterpError::Malformed(m)) => assert!(m.contains(msg), "expected {msg:?} in {m:?}"),
            other => panic!("expected Malformed({msg:?}), got {other:?}"),
        }
    }
    let e = InterpError::Malformed("x".into());
    assert_eq!(e.to_string(), "malformed MIR: x");
    let _: &dyn std::error::Error = &e;
}

/// Lets a test mutate a value inline while building a table.
trait Tap: Sized {
    fn tap<R>(mut self, f: impl FnOnce(&mut Self) -> R) -> Self {
        f(&mut self);
        self
    }
}

impl<T> Tap for T {}

// ---------------------------------------------------------------------------
// Text form.

#[test]
fn text_function_and_program() {
    let p = tri_program();
    assert_eq!(
        function_to_string(&p.functions[1]),
        "\
fn main::tri(_0: i64) -> i64 {
    let _1: i64
    let _2: i64
    let _3: i64
    let _4: bool
    extern fn util::clamp(i64, i64, i64) -> i64
    extern global main::calls: i64
  bb0:
    _1 = load main::calls
    _1 = add _1, 1
    store main::calls, _1
    _2 = 0
    _3 = 0
    goto bb1
  bb1:
    _4 = le _3, _0
    branch _4, bb2, bb3
  bb2:
    _1 = call util::clamp(_3, 0, 100)
    _2 = add _2, _1
    _3 = add _3, 1
    goto bb1
  bb3:
    return _2
}
"
    );
    assert_eq!(
        program_to_string(&p),
        "\
global main::calls: i64

pub fn util::clamp(_0: i64, _1: i64, _2: i64) -> i64 {
    let _3: bool
  bb0:
    _3 = lt _0, _1
    branch _3, bb1, bb2
  bb1:
    return _1
  bb2:
    _3 = gt _0, _2
    branch _3, bb3, bb4
  bb3:
    return _2
  bb4:
    return _0
}

fn main::tri(_0: i64) -> i64 {
    let _1: i64
    let _2: i64
    let _3: i64
    let _4: bool
    extern fn util::clamp(i64, i64, i64) -> i64
    extern global main::calls: i64
  bb0:
    _1 = load main::calls
    _1 = add _1, 1
    store main::calls, _1
    _2 = 0
    _3 = 0
    goto bb1
  bb1:
    _4 = le _3, _0
    branch _4, bb2, bb3
  bb2:
    _1 = call util::clamp(_3, 0, 100)
    _2 = add _2, _1
    _3 = add _3, 1
    goto bb1
  bb3:
    return _2
}

fn main::$init() {
    extern global main::calls: i64
  bb0:
    store main::calls, 0
    return
}

fn main::main() -> i64 {
    let _0: i64
    extern fn main::tri(i64) -> i64
    extern global main::calls: i64
  bb0:
    _0 = call main::tri(10)
    print _0
    _0 = call main::tri(200)
    print _0
    _0 = load main::calls
    return _0
}

entry {
    init main::$init
    main main::main -> i64
}
"
    );
}

#[test]
fn text_unit_and_every_construct() {
    let mut fb = Fb::new("m::f", &[I, B], None).public();
    let (x, y) = (fb.local(I), fb.local(B));
    fb.copy(x, k(-9_223_372_036_854_775_808))
        .copy(y, kb(false))
        .un(x, UnOp::Neg, l(0))
        .un(y, UnOp::Not, l(1))
        .bin(y, BinOp::Ne, l(1), kb(true))
        .call(None, "m::g", sig(&[], None), &[])
        .store("m::v", B, l(y))
        .print(l(x))
        .ret(None);
    let unit = CodegenUnit {
        name: "m".into(),
        globals: vec![GlobalDef { symbol: sym("m::v"), ty: B }, GlobalDef { symbol: sym("m::w"), ty: I }],
        functions: vec![fb.build()],
    };
    assert_eq!(
        unit_to_string(&unit),
        "\
unit m
global m::v: bool
global m::w: i64

pub fn m::f(_0: i64, _1: bool) {
    let _2: i64
    let _3: bool
    extern fn m::g()
    extern global m::v: bool
  bb0:
    _2 = -9223372036854775808
    _3 = false
    _2 = neg _0
    _3 = not _1
    _3 = ne _1, true
    call m::g()
    store m::v, _3
    print _2
    return
}
"
    );
    assert_eq!(unit_to_string(&CodegenUnit { name: "empty".into(), ..Default::default() }), "unit empty\n");
}

#[test]
fn text_round_trips_through_the_test_parser() {
    let mut functions = tri_program().functions;
    functions.extend([fact(), fib_recursive(), fib_loop(), sum_recursive()]);
    functions.extend(globals_program(&[]).functions);
    for f in functions {
        let text = function_to_string(&f);
        assert_eq!(parse_function(&text), f, "{text}");
    }
}

// ---------------------------------------------------------------------------
// Validation.

/// A valid function touching every construct the validator checks.
fn validation_base() -> Function {
    parse_function(
        "
fn m::f(_0: i64, _1: bool) -> i64 {
    let _2: i64
    let _3: bool
    extern fn m::g(i64) -> i64
    extern fn m::h()
    extern global m::v: i64
  bb0:
    _2 = add _0, 1
    _3 = lt _2, 10
    _2 = call m::g(_2)
    store m::v, _2
    _2 = load m::v
    print _2
    call m::h()
    branch _3, bb1, bb2
  bb1:
    return _2
  bb2:
    _3 = not _1
    _3 = eq _1, _3
    _2 = neg _0
    return 0
}",
    )
}

fn check_validation(mutate: impl FnOnce(&mut Function), expected: &str) {
    let mut f = validation_base();
    mutate(&mut f);
    match validate_function(&f) {
        Ok(()) => panic!("expected error {expected:?}, function validated:\n{}", function_to_string(&f)),
        Err(e) => assert_eq!(e, expected),
    }
}

fn set_stmt(f: &mut Function, b: usize, i: usize, s: &str) {
    f.blocks[b].statements[i] = parse_statement(s);
}

#[test]
fn validation_accepts_valid_functions() {
    validate_function(&validation_base()).unwrap();
    for p in [tri_program(), globals_program(&["a::$init", "b::$init"])] {
        validate_program(&p).unwrap();
    }
    for f in [fact(), fib_recursive(), fib_loop(), sum_recursive()] {
        validate_function(&f).unwrap();
    }
}

#[test]
fn validation_errors() {
    type Mutation = Box<dyn FnOnce(&mut Function)>;
    let stmt = |b: usize, i: usize, s: &'static str| -> Mutation { Box::new(move |f| set_stmt(f, b, i, s)) };
    let term = |b: usize, s: &'static str| -> Mutation {
        Box::new(move |f| f.blocks[b].terminator = parse_terminator(s).unwrap())
    };
    let cases: Vec<(Mutation, &str)> = vec![
        (stmt(0, 0, "_9 = add _0, 1"), "in m::f, bb0, statement 0: local _9 is out of range (4 locals)"),
        (stmt(0, 0, "_2 = add _0, _7"), "in m::f, bb0, statement 0: local _7 is out of range (4 locals)"),
        (stmt(0, 5, "print _4"), "in m::f, bb0, statement 5: local _4 is out of range (4 locals)"),
        (term(1, "goto bb3"), "in m::f, bb1, terminator: block bb3 is out of range (3 blocks)"),
        (term(0, "branch _3, bb1, bb7"), "in m::f, bb0, terminator: block bb7 is out of range (3 blocks)"),
        (term(0, "branch _9, bb1, bb2"), "in m::f, bb0, terminator: local _9 is out of range (4 locals)"),
        (stmt(0, 0, "_2 = add _0, _1"), "in m::f, bb0, statement 0: right operand of add must be i64, found bool"),
        (stmt(0, 0, "_2 = div true, 1"), "in m::f, bb0, statement 0: left operand of div must be i64, found bool"),
        (stmt(0, 1, "_3 = lt _1, _1"), "in m::f, bb0, statement 1: left operand of lt must be i64, found bool"),
        (stmt(0, 1, "_3 = ge _0, false"), "in m::f, bb0, statement 1: right operand of ge must be i64, found bool"),
        (
            stmt(0, 1, "_3 = eq _0, _1"),
            "in m::f, bb0, statement 1: operands of eq must have the same type, found i64 and bool",
        ),
        (
            stmt(0, 1, "_3 = ne true, 1"),
            "in m::f, bb0, statement 1: operands of ne must have the same type, found bool and i64",
        ),
        (stmt(2, 0, "_3 = not _0"), "in m::f, bb2, statement 0: operand of not must be bool, found i64"),
        (stmt(2, 2, "_2 = neg _1"), "in m::f, bb2, statement 2: operand of neg must be i64, found bool"),
        (stmt(0, 0, "_2 = lt _0, 1"), "in m::f, bb0, statement 0: cannot assign bool to _2 of type i64"),
        (stmt(0, 1, "_3 = _0"), "in m::f, bb0, statement 1: cannot assign i64 to _3 of type bool"),
        (stmt(0, 4, "_3 = load m::v"), "in m::f, bb0, statement 4: cannot assign i64 to _3 of type bool"),
        (term(0, "branch _2, bb1, bb2"), "in m::f, bb0, terminator: branch condition must be bool, found i64"),
        (term(0, "branch 1, bb1, bb2"), "in m::f, bb0, terminator: branch condition must be bool, found i64"),
        (stmt(0, 2, "_2 = call m::q(_2)"), "in m::f, bb0, statement 2: callee m::q is not listed in externs"),
        (
            stmt(0, 2, "_2 = call m::g(_2, 1)"),
            "in m::f, bb0, statement 2: call to m::g passes 2 arguments, its signature takes 1",
        ),
        (
            stmt(0, 2, "_2 = call m::g()"),
            "in m::f, bb0, statement 2: call to m::g passes 0 arguments, its signature takes 1",
        ),
        (
            stmt(0, 2, "_2 = call m::g(_3)"),
            "in m::f, bb0, statement 2: argument 0 of call to m::g must be i64, found bool",
        ),
        (stmt(0, 2, "_3 = call m::g(_2)"), "in m::f, bb0, statement 2: call to m::g returns i64, but _3 has type bool"),
        (
            stmt(0, 6, "_2 = call m::h()"),
            "in m::f, bb0, statement 6: call to m::h stores a result, but it returns nothing",
        ),
        (stmt(0, 4, "_2 = load m::w"), "in m::f, bb0, statement 4: global m::w is not listed in externs"),
        (stmt(0, 3, "store m::w, _2"), "in m::f, bb0, statement 3: global m::w is not listed in externs"),
        (stmt(0, 3, "store m::v, _3"), "in m::f, bb0, statement 3: value stored to m::v must be i64, found bool"),
        (stmt(0, 5, "print _3"), "in m::f, bb0, statement 5: operand of print must be i64, found bool"),
        (term(1, "return"), "in m::f, bb1, terminator: return without a value in a function returning i64"),
        (term(2, "return false"), "in m::f, bb2, terminator: returned value must be i64, found bool"),
        (
            Box::new(|f| {
                f.signature.ret = None;
                f.blocks[1].terminator = Terminator::Return(None);
            }),
            "in m::f, bb2, terminator: return with a value in a function returning nothing",
        ),
        (Box::new(|f| f.locals[1] = I), "in m::f: parameter _1 has type bool in the signature but local type i64"),
        (Box::new(|f| f.locals.truncate(1)), "in m::f: 1 locals cannot hold the 2 parameters"),
        (Box::new(|f| f.blocks.clear()), "in m::f: function has no blocks (bb0 is the entry block)"),
    ];
    for (mutate, expected) in cases {
        check_validation(mutate, expected);
    }
}

#[test]
fn program_validation_errors() {
    type Mutation = Box<dyn FnOnce(&mut Program)>;
    let cases: Vec<(Mutation, &str)> = vec![
        (
            Box::new(|p| p.functions[1].blocks[0].statements[0] = parse_statement("_1 = add _9, 1")),
            "in main::tri, bb0, statement 0: local _9 is out of range (5 locals)",
        ),
        (
            Box::new(|p| drop(p.functions.remove(0))),
            "in main::tri: extern function util::clamp is not defined in the program",
        ),
        (
            Box::new(|p| p.functions[0].visibility = Visibility::Private),
            "in main::tri: extern function util::clamp is private to module util",
        ),
        // Adding a local is harmless.
        (Box::new(|p| p.functions[0].locals.push(I)), ""),
        (
            Box::new(|p| p.functions[0].signature.params.push(I)),
            "in util::clamp: parameter _3 has type i64 in the signature but local type bool",
        ),
        (
            Box::new(|p| {
                p.functions[3].externs.functions.insert(sym("util::clamp"), sig(&[I], Some(I)));
            }),
            "in main::main: extern function util::clamp is declared with a different signature than its definition",
        ),
        (Box::new(|p| p.globals.clear()), "in main::tri: extern global main::calls is not defined in the program"),
        (
            Box::new(|p| p.globals[0].ty = B),
            "in main::tri: extern global main::calls is declared as i64 but defined as bool",
        ),
        (Box::new(|p| p.globals.push(p.globals[0].clone())), "global main::calls is defined more than once"),
        (Box::new(|p| p.functions.push(p.functions[0].clone())), "function util::clamp is defined more than once"),
        (
            Box::new(|p| p.entry.main = sym("main::nope")),
            "entry: main function main::nope is not defined in the program",
        ),
        (Box::new(|p| p.entry.main_returns_value = false), "entry: main function main::main must return nothing"),
        (Box::new(|p| p.entry.main = sym("main::tri")), "entry: main function main::tri must take no parameters"),
        (
            Box::new(|p| p.entry.init_order.push(sym("util::$init"))),
            "entry: initialiser util::$init is not defined in the program",
        ),
        (
            Box::new(|p| p.entry.init_order.push(sym("main::main"))),
            "entry: initialiser main::main must take no parameters and return nothing",
        ),
    ];
    for (mutate, expected) in cases {
        let mut p = tri_program();
        mutate(&mut p);
        match validate_program(&p) {
            Ok(()) => assert_eq!(expected, "", "expected an error"),
            Err(e) => assert_eq!(e, expected),
        }
    }
    // A private function may be called from its own module.
    let mut p = tri_program();
    p.functions[1].visibility = Visibility::Private;
    validate_program(&p).unwrap();
}

// ---------------------------------------------------------------------------
// Passes: exact before/after text.

type Pass = fn(&mut Function) -> bool;

/// Parses `before` (which must print back identically and validate), runs
/// the pass, and compares the result's text with `after`. The pass must
/// report a change exactly when the text changed, and keep the function valid.
fn check_pass(name: &str, pass: Pass, before: &str, after: &str) {
    let before = before.trim_start_matches('\n');
    let after = after.trim_start_matches('\n');
    let mut f = parse_function(before);
    assert_eq!(function_to_string(&f), before, "{name}: input is not in canonical form");
    validate_function(&f).unwrap_or_else(|e| panic!("{name}: invalid input: {e}"));
    let changed = pass(&mut f);
    let got = function_to_string(&f);
    assert_eq!(got, after, "{name}: unexpected result");
    assert_eq!(changed, before != after, "{name}: wrong change report");
    validate_function(&f).unwrap_or_else(|e| panic!("{name}: invalid output: {e}"));
}

#[test]
fn pass_fold_constants() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "propagates within a block and folds",
            "
fn m::f() -> i64 {
    let _0: i64
    let _1: i64
    let _2: bool
  bb0:
    _0 = 6
    _1 = mul _0, 7
    _2 = lt _1, 40
    print _1
    branch _2, bb1, bb2
  bb1:
    return _1
  bb2:
    return 0
}
",
            // bb1 is not reached once the branch is known, so nothing flows
            // into it; the branch itself is left to simplify_branches.
            "
fn m::f() -> i64 {
    let _0: i64
    let _1: i64
    let _2: bool
  bb0:
    _0 = 6
    _1 = 42
    _2 = false
    print 42
    branch false, bb1, bb2
  bb1:
    return _1
  bb2:
    return 0
}
",
        ),
        (
            "wraps, keeps every division that may trap, applies safe identities",
            "
fn m::f(_0: i64, _1: bool) {
    let _2: i64
    let _3: bool
  bb0:
    _2 = add 9223372036854775807, 1
    _2 = mul _2, -1
    _2 = neg -9223372036854775808
    _2 = div -9223372036854775808, -1
    _2 = rem -9223372036854775808, -1
    _2 = div 7, 0
    _2 = rem _0, 0
    _2 = div _0, _0
    _2 = div _0, 1
    _2 = div _0, -1
    _2 = rem _0, -1
    _2 = mul _0, 0
    _2 = add 0, _0
    _2 = sub _0, 0
    _3 = eq _1, true
    _3 = eq false, _1
    _3 = ne _1, true
    _3 = not true
    _3 = eq true, false
    _3 = ge 3, 3
    return
}
",
            "
fn m::f(_0: i64, _1: bool) {
    let _2: i64
    let _3: bool
  bb0:
    _2 = -9223372036854775808
    _2 = -9223372036854775808
    _2 = -9223372036854775808
    _2 = -9223372036854775808
    _2 = 0
    _2 = div 7, 0
    _2 = rem _0, 0
    _2 = div _0, _0
    _2 = _0
    _2 = neg _0
    _2 = 0
    _2 = 0
    _2 = _0
    _2 = _0
    _3 = _1
    _3 = not _1
    _3 = not _1
    _3 = false
    _3 = false
    _3 = true
    return
}
",
        ),
        (
            "locals are mutable slots",
            "
fn m::f(_0: i64) -> i64 {
    let _1: i64
  bb0:
    _1 = 1
    print _1
    _1 = _0
    print _1
    _1 = 2
    return _1
}
",
            "
fn m::f(_0: i64) -> i64 {
    let _1: i64
  bb0:
    _1 = 1
    print 1
    _1 = _0
    print _1
    _1 = 2
    return 2
}
",
        ),
        (
            "a constant reaching a join on every path is a constant there",
            "
fn m::f(_0: bool) -> i64 {
    let _1: i64
    let _2: i64
  bb0:
    branch _0, bb1, bb2
  bb1:
    _1 = 5
    _2 = 1
    goto bb3
  bb2:
    _1 = 5
    _2 = 2
    goto bb3
  bb3:
    print _2
    return _1
}
",
            "
fn m::f(_0: bool) -> i64 {
    let _1: i64
    let _2: i64
  bb0:
    branch _0, bb1, bb2
  bb1:
    _1 = 5
    _2 = 1
    goto bb3
  bb2:
    _1 = 5
    _2 = 2
    goto bb3
  bb3:
    print _2
    return 5
}
",
        ),
        (
            "a loop-carried local is not constant, the bound is",
            "
fn m::f() {
    let _0: i64
    let _1: i64
    let _2: bool
  bb0:
    _0 = 0
    _1 = 10
    goto bb1
  bb1:
    print _0
    _0 = add _0, 1
    _2 = lt _0, _1
    branch _2, bb1, bb2
  bb2:
    print _1
    return
}
",
            "
fn m::f() {
    let _0: i64
    let _1: i64
    let _2: bool
  bb0:
    _0 = 0
    _1 = 10
    goto bb1
  bb1:
    print _0
    _0 = add _0, 1
    _2 = lt _0, 10
    branch _2, bb1, bb2
  bb2:
    print 10
    return
}
",
        ),
        (
            "an assignment on only some paths does not make a constant",
            "
fn m::f(_0: bool) -> i64 {
    let _1: i64
  bb0:
    branch _0, bb1, bb2
  bb1:
    _1 = 3
    goto bb2
  bb2:
    return _1
}
",
            "
fn m::f(_0: bool) -> i64 {
    let _1: i64
  bb0:
    branch _0, bb1, bb2
  bb1:
    _1 = 3
    goto bb2
  bb2:
    return _1
}
",
        ),
        (
            "a single dominating assignment, parameters overwritten, call results",
            "
fn m::f(_0: i64, _1: bool) -> i64 {
    let _2: i64
    extern fn m::g(i64) -> i64
  bb0:
    _0 = 4
    _2 = 3
    branch _1, bb1, bb2
  bb1:
    _2 = call m::g(_2)
    print _2
    return _0
  bb2:
    return _2
}
",
            "
fn m::f(_0: i64, _1: bool) -> i64 {
    let _2: i64
    extern fn m::g(i64) -> i64
  bb0:
    _0 = 4
    _2 = 3
    branch _1, bb1, bb2
  bb1:
    _2 = call m::g(3)
    print _2
    return 4
  bb2:
    return 3
}
",
        ),
        (
            "copies carry constants, loads do not",
            "
fn m::f() -> i64 {
    let _0: i64
    let _1: i64
    extern global m::g: i64
  bb0:
    _0 = 8
    _1 = _0
    store m::g, _1
    _1 = load m::g
    return _1
}
",
            "
fn m::f() -> i64 {
    let _0: i64
    let _1: i64
    extern global m::g: i64
  bb0:
    _0 = 8
    _1 = 8
    store m::g, 8
    _1 = load m::g
    return _1
}
",
        ),
    ];
    for (name, before, after) in cases {
        check_pass(name, passes::fold_constants, before, after);
    }
}

#[test]
fn pass_simplify_branches() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "constant and same-target branches",
            "
fn m::f(_0: bool) {
  bb0:
    branch true, bb1, bb2
  bb1:
    branch false, bb2, bb3
  bb2:
    branch _0, bb3, bb3
  bb3:
    return
}
",
            "
fn m::f(_0: bool) {
  bb0:
    goto bb1
  bb1:
    goto bb3
  bb2:
    goto bb3
  bb3:
    return
}
",
        ),
        (
            "a real branch stays",
            "
fn m::f(_0: bool) {
  bb0:
    branch _0, bb1, bb0
  bb1:
    return
}
",
            "
fn m::f(_0: bool) {
  bb0:
    branch _0, bb1, bb0
  bb1:
    return
}
",
        ),
    ];
    for (name, before, after) in cases {
        check_pass(name, passes::simplify_branches, before, after);
    }
}

#[test]
fn pass_remove_unreachable_blocks() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "removes and renumbers in order",
            "
fn m::f(_0: bool) {
  bb0:
    goto bb2
  bb1:
    print 1
    goto bb2
  bb2:
    branch _0, bb3, bb4
  bb3:
    return
  bb4:
    goto bb2
  bb5:
    goto bb5
}
",
            "
fn m::f(_0: bool) {
  bb0:
    goto bb1
  bb1:
    branch _0, bb2, bb3
  bb2:
    return
  bb3:
    goto bb1
}
",
        ),
        (
            "a loop back to the entry keeps everything",
            "
fn m::f(_0: bool) {
  bb0:
    branch _0, bb1, bb2
  bb1:
    goto bb0
  bb2:
    return
}
",
            "
fn m::f(_0: bool) {
  bb0:
    branch _0, bb1, bb2
  bb1:
    goto bb0
  bb2:
    return
}
",
        ),
    ];
    for (name, before, after) in cases {
        check_pass(name, passes::remove_unreachable_blocks, before, after);
    }
}

#[test]
fn pass_merge_blocks() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "a straight-line chain becomes one block",
            "
fn m::f() {
  bb0:
    print 1
    goto bb2
  bb1:
    print 3
    return
  bb2:
    print 2
    goto bb1
}
",
            "
fn m::f() {
  bb0:
    print 1
    print 2
    print 3
    return
}
",
        ),
        (
            "jumps thread through empty blocks; joins are not merged",
            "
fn m::f(_0: bool) {
  bb0:
    branch _0, bb1, bb2
  bb1:
    goto bb3
  bb2:
    print 2
    goto bb3
  bb3:
    print 3
    return
}
",
            "
fn m::f(_0: bool) {
  bb0:
    branch _0, bb2, bb1
  bb1:
    print 2
    goto bb2
  bb2:
    print 3
    return
}
",
        ),
        (
            "a loop header with two predecessors stays; an empty infinite loop stays",
            "
fn m::f(_0: bool) {
  bb0:
    print 0
    goto bb1
  bb1:
    print 1
    branch _0, bb1, bb2
  bb2:
    goto bb2
}
",
            "
fn m::f(_0: bool) {
  bb0:
    print 0
    goto bb1
  bb1:
    print 1
    branch _0, bb1, bb2
  bb2:
    goto bb2
}
",
        ),
        (
            "a block merges into the entry; the entry keeps its back edge",
            "
fn m::f(_0: bool) {
  bb0:
    print 0
    goto bb1
  bb1:
    branch _0, bb0, bb2
  bb2:
    return
}
",
            "
fn m::f(_0: bool) {
  bb0:
    print 0
    branch _0, bb0, bb1
  bb1:
    return
}
",
        ),
        (
            "the entry block is never merged into a predecessor",
            "
fn m::f(_0: bool) {
  bb0:
    branch _0, bb1, bb2
  bb1:
    print 1
    goto bb0
  bb2:
    return
}
",
            "
fn m::f(_0: bool) {
  bb0:
    branch _0, bb1, bb2
  bb1:
    print 1
    goto bb0
  bb2:
    return
}
",
        ),
    ];
    for (name, before, after) in cases {
        check_pass(name, passes::merge_blocks, before, after);
    }
}

#[test]
fn pass_remove_dead_assignments() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "pure dead assignments go, possible traps and calls stay",
            "
fn m::f(_0: i64) -> i64 {
    let _1: i64
    let _2: i64
    let _3: i64
    extern fn m::g(i64) -> i64
    extern global m::v: i64
  bb0:
    _1 = add _0, 1
    _1 = div _0, _0
    _1 = div _0, 2
    _1 = div 7, 0
    _1 = rem _0, -1
    _1 = call m::g(_0)
    _1 = load m::v
    _2 = 3
    _3 = add _2, 1
    _0 = 1
    _0 = 2
    _0 = _0
    return _0
}
",
            "
fn m::f(_0: i64) -> i64 {
    let _1: i64
    let _2: i64
    let _3: i64
    extern fn m::g(i64) -> i64
    extern global m::v: i64
  bb0:
    _1 = div _0, _0
    _1 = div 7, 0
    call m::g(_0)
    _0 = 2
    return _0
}
",
        ),
        (
            "liveness across blocks and around loops",
            "
fn m::f(_0: bool) {
    let _1: i64
    let _2: i64
    let _3: i64
  bb0:
    _1 = 5
    _2 = 6
    _3 = 7
    goto bb1
  bb1:
    print _1
    _1 = add _1, 1
    _3 = 8
    branch _0, bb1, bb2
  bb2:
    print _2
    return
}
",
            "
fn m::f(_0: bool) {
    let _1: i64
    let _2: i64
    let _3: i64
  bb0:
    _1 = 5
    _2 = 6
    goto bb1
  bb1:
    print _1
    _1 = add _1, 1
    branch _0, bb1, bb2
  bb2:
    print _2
    return
}
",
        ),
        (
            "a used call result stays",
            "
fn m::f() -> i64 {
    let _0: i64
    extern fn m::g(i64) -> i64
  bb0:
    _0 = call m::g(1)
    return _0
}
",
            "
fn m::f() -> i64 {
    let _0: i64
    extern fn m::g(i64) -> i64
  bb0:
    _0 = call m::g(1)
    return _0
}
",
        ),
    ];
    for (name, before, after) in cases {
        check_pass(name, passes::remove_dead_assignments, before, after);
    }
}

fn optimize_pass(f: &mut Function) -> bool {
    let before = f.clone();
    passes::optimize(f);
    *f != before
}

#[test]
fn pass_optimize() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "everything folds away to prints, a kept trap and externs pruned",
            "
fn m::f(_0: i64) -> i64 {
    let _1: i64
    let _2: bool
    let _3: i64
    extern fn m::g(i64) -> i64
    extern global m::v: i64
  bb0:
    _1 = 20
    _2 = gt _1, 10
    branch _2, bb1, bb2
  bb1:
    _1 = add _1, 22
    print _1
    goto bb3
  bb2:
    _1 = call m::g(_1)
    store m::v, _1
    goto bb3
  bb3:
    _3 = div _0, 0
    _3 = mul _0, 0
    return _1
}
",
            "
fn m::f(_0: i64) -> i64 {
    let _1: i64
    let _2: bool
    let _3: i64
  bb0:
    print 42
    _3 = div _0, 0
    return 42
}
",
        ),
        (
            "a loop stays a loop",
            "
fn m::f(_0: i64) -> i64 {
    let _1: i64
    let _2: i64
    let _3: bool
  bb0:
    _1 = 0
    _2 = 0
    goto bb1
  bb1:
    _3 = lt _2, _0
    branch _3, bb2, bb3
  bb2:
    _1 = add _1, _2
    _2 = add _2, 1
    goto bb1
  bb3:
    return _1
}
",
            "
fn m::f(_0: i64) -> i64 {
    let _1: i64
    let _2: i64
    let _3: bool
  bb0:
    _1 = 0
    _2 = 0
    goto bb1
  bb1:
    _3 = lt _2, _0
    branch _3, bb2, bb3
  bb2:
    _1 = add _1, _2
    _2 = add _2, 1
    goto bb1
  bb3:
    return _1
}
",
        ),
    ];
    for (name, before, after) in cases {
        check_pass(name, optimize_pass, before, after);
    }
}

#[test]
fn passes_leave_invalid_functions_alone() {
    let mut f = validation_base();
    f.blocks[0].statements[0] = parse_statement("_9 = add 1, 2");
    let before = f.clone();
    let all: [Pass; 7] = [
        passes::fold_constants,
        passes::simplify_branches,
        passes::remove_unreachable_blocks,
        passes::merge_blocks,
        passes::remove_dead_assignments,
        passes::prune_externs,
        optimize_pass,
    ];
    for pass in all {
        assert!(!pass(&mut f));
        assert_eq!(f, before);
    }
}

// ---------------------------------------------------------------------------
// Property: optimisation preserves behaviour and validity.

const POOL: [i64; 12] = [0, 1, -1, 2, 3, 7, -7, 10, 100, i64::MIN, i64::MAX, i64::MIN + 1];
const I64_LOCALS: [u32; 7] = [0, 2, 3, 4, 5, 6, 7];
const BOOL_LOCALS: [u32; 4] = [1, 8, 9, 10];
const FUEL: u32 = 11;

fn pick<T: Copy>(xs: &[T], r: u16) -> T {
    xs[r as usize % xs.len()]
}

fn int_operand(r: u16) -> Operand {
    if r.is_multiple_of(3) {
        k(pick(&POOL, r / 3))
    } else {
        l(pick(&I64_LOCALS, r / 3))
    }
}

fn bool_operand(r: u16) -> Operand {
    if r.is_multiple_of(3) {
        kb(r.is_multiple_of(2))
    } else {
        l(pick(&BOOL_LOCALS, r / 3))
    }
}

/// Decodes four random numbers into a valid statement of `main::f`.
fn random_statement(fb: &mut Fb, [kind, x, y, z]: [u16; 4]) {
    let di = pick(&I64_LOCALS, x);
    let db = pick(&BOOL_LOCALS, x);
    let arith = [BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div, BinOp::Rem];
    let cmp = [BinOp::Eq, BinOp::Ne, BinOp::Lt, BinOp::Le, BinOp::Gt, BinOp::Ge];
    match kind % 11 {
        0 | 1 => {
            let op = pick(&arith, x / 7);
            // Divisors are mostly non-zero constants so that most programs
            // get past their divisions; the rest may well be zero.
            let b = if matches!(op, BinOp::Div | BinOp::Rem) && z % 4 != 0 {
                k(pick(&POOL[1..], z))
            } else {
                int_operand(z)
            };
            fb.bin(di, op, int_operand(y), b);
        }
        2 => {
            fb.bin(db, pick(&cmp, x / 4), int_operand(y), int_operand(z));
        }
        3 => {
            fb.bin(db, pick(&[BinOp::Eq, BinOp::Ne], x / 4), bool_operand(y), bool_operand(z));
        }
        4 => {
            if y % 2 == 0 {
                fb.un(di, UnOp::Neg, int_operand(z));
            } else {
                fb.un(db, UnOp::Not, bool_operand(z));
            }
        }
        5 => {
            if y % 2 == 0 {
                fb.copy(di, int_operand(z));
            } else {
                fb.copy(db, bool_operand(z));
            }
        }
        6 => {
            if y % 2 == 0 {
                fb.load(di, "main::g", I);
            } else {
                fb.store("main::g", I, int_operand(z));
            }
        }
        7 => {
            fb.print(int_operand(z));
        }
        8 => {
            let dest = if y % 2 == 0 { Some(di) } else { None };
            fb.call(dest, "main::h", sig(&[I], Some(I)), &[int_operand(z)]);
        }
        _ => {
            fb.copy(di, k(pick(&POOL, z)));
        }
    }
}

/// One random block: statements and a terminator code.
type RawBlock = (Vec<[u16; 4]>, [u16; 3]);

/// Builds `main::f(a: i64, b: bool) -> i64` from raw blocks. Control flow
/// only goes forward except through "loop" terminators, which decrement a
/// shared fuel counter first, so every program terminates.
fn random_function(blocks: &[RawBlock], fuel: i64) -> Function {
    let mut fb = Fb::new("main::f", &[I, B], Some(I));
    fb.f.locals = vec![I, B, I, I, I, I, I, I, B, B, B, I];
    let n = blocks.len() as u32;
    for _ in 1..n {
        fb.block();
    }
    fb.at(0).copy(FUEL, k(fuel));
    for (i, (stmts, [kind, x, y])) in blocks.iter().enumerate() {
        let i = i as u32;
        fb.at(i);
        for s in stmts {
            random_statement(&mut fb, *s);
        }
        let fwd = |r: u16| if i + 1 >= n { None } else { Some(i + 1 + u32::from(r) % (n - i - 1)) };
        match (kind % 5, fwd(*x), fwd(*y)) {
            (1, Some(t), _) => {
                fb.goto(t);
            }
            (2, Some(t), Some(e)) => {
                fb.branch(bool_operand(*kind / 5), t, e);
            }
            (3 | 4, Some(exit), _) if i >= 1 => {
                let back = 1 + u32::from(*y) % i;
                let c = pick(&BOOL_LOCALS[1..], *kind / 5);
                fb.bin(FUEL, BinOp::Sub, l(FUEL), k(1)).bin(c, BinOp::Gt, l(FUEL), k(0)).branch(l(c), back, exit);
            }
            _ => {
                fb.ret(Some(int_operand(*x)));
            }
        }
    }
    fb.build()
}

fn random_program(blocks: &[RawBlock], fuel: i64, a: i64, b: bool) -> Program {
    let mut h = Fb::new("main::h", &[I], Some(I));
    let t = h.local(I);
    h.print(l(0)).bin(t, BinOp::Mul, l(0), k(3)).ret(Some(l(t)));
    let mut main = Fb::new("main::main", &[], Some(I));
    let r = main.local(I);
    main.call(Some(r), "main::f", sig(&[I, B], Some(I)), &[k(a), kb(b)]).print(l(r)).ret(Some(l(r)));
    program(vec![random_function(blocks, fuel), h.build(), main.build()], &[("main::g", I)], &[], true)
}

fn raw_block() -> impl Strategy<Value = RawBlock> {
    (prop::collection::vec(any::<[u16; 4]>(), 0..7), any::<[u16; 3]>())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn optimize_preserves_behaviour(
        blocks in prop::collection::vec(raw_block(), 1..9),
        fuel in 0i64..12,
        a in prop::sample::select(POOL.to_vec()),
        b in any::<bool>(),
    ) {
        let p = random_program(&blocks, fuel, a, b);
        prop_assert_eq!(validate_program(&p), Ok(()));
        let before = run(&p, &Limits::default());
        prop_assert!(before.is_ok(), "{:?}", before);
        let mut opt = p.clone();
        passes::optimize_program(&mut opt);
        let text = function_to_string(&opt.functions[0]);
        prop_assert_eq!(validate_program(&opt), Ok(()), "{}", text);
        let after = run(&opt, &Limits::default());
        prop_assert_eq!(
            before.map(|o| show(&o)),
            after.map(|o| show(&o)),
            "before:\n{}\nafter:\n{}",
            function_to_string(&p.functions[0]),
            text
        );
        // The result is a fixed point: optimising again changes nothing.
        let mut again = opt.clone();
        passes::optimize_program(&mut again);
        prop_assert_eq!(function_to_string(&again.functions[0]), text);
    }
}

// ---------------------------------------------------------------------------
// Which slots the backend zeroes at entry.

#[test]
fn locals_read_before_assignment() {
    use lockstep_core::mir::passes::locals_read_before_assignment;
    // (function, the non-parameter locals some path reads before writing)
    let cases: &[(&str, &[u32])] = &[
        ("fn m::f(_0: i64) -> i64 {\n let _1: i64\n bb0:\n _1 = add _0, 1\n return _1\n}", &[]),
        ("fn m::f(_0: i64) -> i64 {\n let _1: i64\n bb0:\n return _1\n}", &[1]),
        // Written on one branch only, read after the join.
        (
            "fn m::f(_0: bool) -> i64 {\n let _1: i64\n bb0:\n branch _0, bb1, bb2\n bb1:\n _1 = 5\n goto bb2\n bb2:\n return _1\n}",
            &[1],
        ),
        // Written on both branches: never read unwritten.
        (
            "fn m::f(_0: bool) -> i64 {\n let _1: i64\n bb0:\n branch _0, bb1, bb2\n bb1:\n _1 = 5\n goto bb3\n bb2:\n _1 = 6\n goto bb3\n bb3:\n return _1\n}",
            &[],
        ),
        // A loop that reads the slot before the body first writes it.
        (
            "fn m::f(_0: bool) -> i64 {\n let _1: i64\n let _2: i64\n bb0:\n goto bb1\n bb1:\n _2 = add _1, 1\n _1 = _2\n branch _0, bb1, bb2\n bb2:\n return _2\n}",
            &[1],
        ),
        // Reads in the same statement as the write count as before it.
        ("fn m::f() -> i64 {\n let _0: i64\n bb0:\n _0 = add _0, 1\n return _0\n}", &[0]),
    ];
    for (text, expected) in cases {
        let f = parse_function(text);
        let got: Vec<u32> = locals_read_before_assignment(&f)
            .iter()
            .enumerate()
            .filter(|(_, read)| **read)
            .map(|(i, _)| i as u32)
            .collect();
        assert_eq!(got, *expected, "{text}");
    }
}
