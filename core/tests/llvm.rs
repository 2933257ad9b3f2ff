//! End-to-end tests of the LLVM backend: hand-built MIR → objects → `cc` →
//! run, plus determinism, cross compilation, LTO and IR text.

use lockstep_core::llvm::{backend_version, host_triple, ArtifactKind, CodegenConfig, LlvmBackend, OptLevel};
use lockstep_core::mir::{
    BasicBlock, BinOp, BlockId, CodegenUnit, Const, EntryPoint, Externs, Function, GlobalDef, LocalId, Operand, Rvalue,
    Signature, Statement, Symbol, Terminator, Ty, UnOp, Visibility,
};
use std::path::Path;
use std::process::Command;

// ---------------------------------------------------------------- MIR builder

fn sym(module: &str, name: &str) -> Symbol {
    Symbol::new(module, name)
}

fn c(v: i64) -> Operand {
    Operand::Const(Const::I64(v))
}

fn cb(b: bool) -> Operand {
    Operand::Const(Const::Bool(b))
}

fn l(id: LocalId) -> Operand {
    Operand::Local(id)
}

/// Builds one function; blocks are appended with `block` and filled through
/// the current block.
struct Fb {
    f: Function,
    cur: usize,
}

impl Fb {
    fn new(symbol: Symbol, params: &[Ty], ret: Option<Ty>) -> Fb {
        let f = Function {
            symbol,
            visibility: Visibility::Public,
            signature: Signature { params: params.to_vec(), ret },
            locals: params.to_vec(),
            blocks: vec![BasicBlock { statements: vec![], terminator: Terminator::Return(None) }],
            externs: Externs::default(),
        };
        Fb { f, cur: 0 }
    }

    fn param(&self, i: u32) -> LocalId {
        LocalId(i)
    }

    fn local(&mut self, ty: Ty) -> LocalId {
        self.f.locals.push(ty);
        LocalId(self.f.locals.len() as u32 - 1)
    }

    fn block(&mut self) -> BlockId {
        self.f.blocks.push(BasicBlock { statements: vec![], terminator: Terminator::Return(None) });
        BlockId(self.f.blocks.len() as u32 - 1)
    }

    fn at(&mut self, b: BlockId) {
        self.cur = b.0 as usize;
    }

    fn stmt(&mut self, s: Statement) {
        self.f.blocks[self.cur].statements.push(s);
    }

    fn term(&mut self, t: Terminator) {
        self.f.blocks[self.cur].terminator = t;
    }

    fn assign(&mut self, dest: LocalId, value: Rvalue) {
        self.stmt(Statement::Assign { dest, value });
    }

    fn bin(&mut self, op: BinOp, a: Operand, b: Operand) -> Operand {
        let dest = self.local(op.result_ty());
        self.assign(dest, Rvalue::Binary(op, a, b));
        l(dest)
    }

    fn un(&mut self, op: UnOp, a: Operand) -> Operand {
        let dest = self.local(match op {
            UnOp::Neg => Ty::I64,
            UnOp::Not => Ty::Bool,
        });
        self.assign(dest, Rvalue::Unary(op, a));
        l(dest)
    }

    fn print(&mut self, op: Operand) {
        self.stmt(Statement::Print(op));
    }

    fn call(&mut self, callee: &Symbol, params: &[Ty], ret: Option<Ty>, args: &[Operand]) -> Option<Operand> {
        self.f.externs.functions.insert(callee.clone(), Signature { params: params.to_vec(), ret });
        let dest = ret.map(|ty| self.local(ty));
        self.stmt(Statement::Call { dest, callee: callee.clone(), args: args.to_vec() });
        dest.map(l)
    }

    fn load(&mut self, global: &Symbol, ty: Ty) -> Operand {
        self.f.externs.globals.insert(global.clone(), ty);
        let dest = self.local(ty);
        self.assign(dest, Rvalue::LoadGlobal(global.clone()));
        l(dest)
    }

    fn store(&mut self, global: &Symbol, ty: Ty, value: Operand) {
        self.f.externs.globals.insert(global.clone(), ty);
        self.stmt(Statement::StoreGlobal { global: global.clone(), value });
    }

    /// Prints 1 if `cond` holds, else 0, continuing in a fresh block.
    fn print_bool(&mut self, cond: Operand) {
        let (yes, no, join) = (self.block(), self.block(), self.block());
        self.term(Terminator::Branch { cond, then_block: yes, else_block: no });
        self.at(yes);
        self.print(c(1));
        self.term(Terminator::Goto(join));
        self.at(no);
        self.print(c(0));
        self.term(Terminator::Goto(join));
        self.at(join);
    }

    fn ret(mut self, value: Option<Operand>) -> Function {
        self.term(Terminator::Return(value));
        self.f
    }
}

fn unit(name: &str, globals: &[(Symbol, Ty)], functions: Vec<Function>) -> CodegenUnit {
    CodegenUnit {
        name: name.to_string(),
        globals: globals.iter().map(|(symbol, ty)| GlobalDef { symbol: symbol.clone(), ty: *ty }).collect(),
        functions,
    }
}

fn entry(init_order: &[Symbol], main: Symbol, main_returns_value: bool) -> EntryPoint {
    EntryPoint { init_order: init_order.to_vec(), main, main_returns_value }
}

/// A program whose `main::main` is `body` (in unit `main`) plus extra units.
fn main_returning(ret: Option<Ty>, extra: Vec<CodegenUnit>, body: impl FnOnce(&mut Fb) -> Option<Operand>) -> Program {
    let mut fb = Fb::new(sym("main", "main"), &[], ret);
    let value = body(&mut fb);
    let mut units = vec![unit("main", &[], vec![fb.ret(value)])];
    units.extend(extra);
    Program { units, entry: entry(&[], sym("main", "main"), ret.is_some()) }
}

struct Program {
    units: Vec<CodegenUnit>,
    entry: EntryPoint,
}

// ---------------------------------------------------------------- running

struct Outcome {
    stdout: String,
    stderr: String,
    status: i32,
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Objects,
    Lto,
}

fn link_and_run(dir: &Path, objects: &[Vec<u8>]) -> Outcome {
    let mut cmd = Command::new("cc");
    cmd.arg("-o").arg(dir.join("exe"));
    for (i, bytes) in objects.iter().enumerate() {
        let path = dir.join(format!("{i}.o"));
        std::fs::write(&path, bytes).unwrap();
        cmd.arg(path);
    }
    let out = cmd.output().expect("running cc");
    assert!(out.status.success(), "cc failed: {}", String::from_utf8_lossy(&out.stderr));
    let run = Command::new(dir.join("exe")).output().expect("running the program");
    Outcome {
        stdout: String::from_utf8(run.stdout).unwrap(),
        stderr: String::from_utf8(run.stderr).unwrap(),
        status: run.status.code().expect("killed by a signal"),
    }
}

fn build_and_run(program: &Program, opt: OptLevel, mode: Mode) -> Outcome {
    let backend = LlvmBackend::new();
    let dir = tempfile::tempdir().unwrap();
    let objects = match mode {
        Mode::Objects => {
            let config = CodegenConfig::host(opt);
            let mut objects: Vec<Vec<u8>> = program
                .units
                .iter()
                .map(|u| backend.compile_unit(u, &config).unwrap_or_else(|e| panic!("{e}")))
                .collect();
            objects.push(backend.compile_entry(&program.entry, &config).unwrap_or_else(|e| panic!("{e}")));
            objects
        }
        Mode::Lto => {
            let config = CodegenConfig { artifact: ArtifactKind::Bitcode, ..CodegenConfig::host(opt) };
            let mut bitcode: Vec<Vec<u8>> = program
                .units
                .iter()
                .map(|u| backend.compile_unit(u, &config).unwrap_or_else(|e| panic!("{e}")))
                .collect();
            bitcode.push(backend.compile_entry(&program.entry, &config).unwrap_or_else(|e| panic!("{e}")));
            for b in &bitcode {
                assert_eq!(&b[..4], b"BC\xC0\xDE", "not bitcode");
            }
            vec![backend.lto_link(&bitcode, &CodegenConfig::host(opt)).unwrap_or_else(|e| panic!("{e}"))]
        }
    };
    link_and_run(dir.path(), &objects)
}

/// Builds `program` in Debug and Release, runs it, and checks its output.
fn check(name: &str, program: &Program, stdout: &str, stderr: &str, status: i32) {
    check_modes(name, program, stdout, stderr, status, &[Mode::Objects]);
}

fn check_modes(name: &str, program: &Program, stdout: &str, stderr: &str, status: i32, modes: &[Mode]) {
    for &mode in modes {
        for opt in [OptLevel::Debug, OptLevel::Release] {
            let out = build_and_run(program, opt, mode);
            let what = format!("case `{name}` ({opt:?}, {mode:?})");
            assert_eq!(out.stdout, stdout, "{what}: stdout");
            assert_eq!(out.stderr, stderr, "{what}: stderr");
            assert_eq!(out.status, status, "{what}: exit status");
        }
    }
}

// ---------------------------------------------------------------- programs

/// Unit `ops`: `ops::div`, `ops::rem`, `ops::add`, `ops::mul`, `ops::neg`
/// with i64 parameters, opaque to the optimiser of the calling unit.
fn ops_unit() -> CodegenUnit {
    let binary = |name: &str, op: BinOp| {
        let mut fb = Fb::new(sym("ops", name), &[Ty::I64, Ty::I64], Some(Ty::I64));
        let (a, b) = (fb.param(0), fb.param(1));
        let r = fb.bin(op, l(a), l(b));
        fb.ret(Some(r))
    };
    let mut neg = Fb::new(sym("ops", "neg"), &[Ty::I64], Some(Ty::I64));
    let r = neg.un(UnOp::Neg, l(LocalId(0)));
    let neg = neg.ret(Some(r));
    unit(
        "ops",
        &[],
        vec![
            binary("div", BinOp::Div),
            binary("rem", BinOp::Rem),
            binary("add", BinOp::Add),
            binary("sub", BinOp::Sub),
            binary("mul", BinOp::Mul),
            neg,
        ],
    )
}

fn call_op(fb: &mut Fb, name: &str, a: i64, b: i64) -> Operand {
    fb.call(&sym("ops", name), &[Ty::I64, Ty::I64], Some(Ty::I64), &[c(a), c(b)]).unwrap()
}

#[test]
fn arithmetic_through_calls() {
    let program = main_returning(None, vec![ops_unit()], |fb| {
        for (op, a, b) in [
            ("add", 2, 3),
            ("add", i64::MAX, 1),
            ("sub", i64::MIN, 1),
            ("mul", i64::MAX, 2),
            ("mul", i64::MIN, -1),
            ("div", 7, 2),
            ("div", -7, 2),
            ("div", 7, -2),
            ("div", i64::MIN, -1),
            ("div", i64::MIN, 1),
            ("div", 5, -1),
            ("rem", 7, 2),
            ("rem", -7, 2),
            ("rem", 7, -2),
            ("rem", i64::MIN, -1),
            ("rem", 5, -1),
        ] {
            let r = call_op(fb, op, a, b);
            fb.print(r);
        }
        let r = fb.call(&sym("ops", "neg"), &[Ty::I64], Some(Ty::I64), &[c(i64::MIN)]).unwrap();
        fb.print(r);
        None
    });
    let expected = [
        "5".to_string(),
        i64::MIN.to_string(),
        i64::MAX.to_string(),
        "-2".to_string(),
        i64::MIN.to_string(),
        "3".into(),
        "-3".into(),
        "-3".into(),
        i64::MIN.to_string(),
        i64::MIN.to_string(),
        "-5".into(),
        "1".into(),
        "-1".into(),
        "1".into(),
        "0".into(),
        "0".into(),
        i64::MIN.to_string(),
    ];
    check("arithmetic", &program, &(expected.join("\n") + "\n"), "", 0);
}

#[test]
fn arithmetic_on_constants_and_locals() {
    // The same operations inside one function, on constants (folded by the
    // IR builder) and on locals (folded by the optimiser in release).
    let program = main_returning(None, vec![], |fb| {
        let x = fb.local(Ty::I64);
        fb.assign(x, Rvalue::Use(c(i64::MIN)));
        let r = fb.bin(BinOp::Div, c(i64::MIN), c(-1));
        fb.print(r);
        let r = fb.bin(BinOp::Rem, c(i64::MIN), c(-1));
        fb.print(r);
        let r = fb.bin(BinOp::Div, l(x), c(-1));
        fb.print(r);
        let m1 = fb.un(UnOp::Neg, c(1));
        let r = fb.bin(BinOp::Rem, l(x), m1);
        fb.print(r);
        let r = fb.bin(BinOp::Div, c(-100), c(7));
        fb.print(r);
        let r = fb.bin(BinOp::Rem, c(-100), c(7));
        fb.print(r);
        let r = fb.un(UnOp::Neg, l(x));
        fb.print(r);
        let r = fb.bin(BinOp::Sub, l(x), c(1));
        fb.print(r);
        None
    });
    let min = i64::MIN;
    let max = i64::MAX;
    check("constants", &program, &format!("{min}\n0\n{min}\n0\n-14\n-2\n{min}\n{max}\n"), "", 0);
}

#[test]
fn division_by_zero_stops_the_program() {
    for op in ["div", "rem"] {
        let program = main_returning(Some(Ty::I64), vec![ops_unit()], |fb| {
            fb.print(c(1));
            fb.print(c(2));
            let r = call_op(fb, op, 5, 0);
            fb.print(r);
            Some(c(0))
        });
        check(op, &program, "1\n2\n", "division by zero\n", 101);
    }
    // A constant zero divisor in the same function as the prints.
    for op in [BinOp::Div, BinOp::Rem] {
        let program = main_returning(None, vec![], |fb| {
            fb.print(c(7));
            let r = fb.bin(op, c(5), c(0));
            fb.print(r);
            None
        });
        check("constant zero", &program, "7\n", "division by zero\n", 101);
    }
}

#[test]
fn comparisons_and_bool_ops() {
    let mut cmp = Fb::new(sym("cmp", "lt"), &[Ty::I64, Ty::I64], Some(Ty::Bool));
    let r = cmp.bin(BinOp::Lt, l(LocalId(0)), l(LocalId(1)));
    let lt = cmp.ret(Some(r));
    let mut not = Fb::new(sym("cmp", "not"), &[Ty::Bool], Some(Ty::Bool));
    let r = not.un(UnOp::Not, l(LocalId(0)));
    let not = not.ret(Some(r));
    let cmp_unit = unit("cmp", &[], vec![lt, not]);

    let program = main_returning(None, vec![cmp_unit], |fb| {
        let x = fb.local(Ty::I64);
        fb.assign(x, Rvalue::Use(c(-3)));
        for (a, b) in [(l(x), c(2)), (c(2), l(x)), (l(x), c(-3))] {
            for op in [BinOp::Eq, BinOp::Ne, BinOp::Lt, BinOp::Le, BinOp::Gt, BinOp::Ge] {
                let r = fb.bin(op, a, b);
                fb.print_bool(r);
            }
        }
        let t = fb.local(Ty::Bool);
        fb.assign(t, Rvalue::Use(cb(true)));
        let r = fb.bin(BinOp::Eq, l(t), cb(true));
        fb.print_bool(r);
        let r = fb.bin(BinOp::Ne, l(t), cb(true));
        fb.print_bool(r);
        let r = fb.un(UnOp::Not, l(t));
        fb.print_bool(r);
        // Across units: bool return values and parameters.
        let r = fb.call(&sym("cmp", "lt"), &[Ty::I64, Ty::I64], Some(Ty::Bool), &[c(i64::MIN), c(i64::MAX)]).unwrap();
        fb.print_bool(r);
        let r = fb.call(&sym("cmp", "lt"), &[Ty::I64, Ty::I64], Some(Ty::Bool), &[c(1), c(1)]).unwrap();
        fb.print_bool(r);
        let r = fb.call(&sym("cmp", "not"), &[Ty::Bool], Some(Ty::Bool), &[cb(false)]).unwrap();
        fb.print_bool(r);
        None
    });
    let expected = [
        0, 1, 1, 1, 0, 0, // -3 vs 2
        0, 1, 0, 0, 1, 1, // 2 vs -3
        1, 0, 0, 1, 0, 1, // -3 vs -3
        1, 0, 0, // bools
        1, 0, 1, // across units
    ];
    let expected: String = expected.iter().map(|v| format!("{v}\n")).collect();
    check("comparisons", &program, &expected, "", 0);
}

/// Unit `state` defines `state::flag: bool` and `state::count: i64`, with
/// `state::set(bool)` and `state::bump() -> i64`; `main` reads and writes
/// them directly too.
#[test]
fn globals_across_units() {
    let flag = sym("state", "flag");
    let count = sym("state", "count");
    let mut set = Fb::new(sym("state", "set"), &[Ty::Bool], None);
    set.store(&flag, Ty::Bool, l(LocalId(0)));
    let set = set.ret(None);
    let mut bump = Fb::new(sym("state", "bump"), &[], Some(Ty::I64));
    let v = bump.load(&count, Ty::I64);
    let v = bump.bin(BinOp::Add, v, c(1));
    bump.store(&count, Ty::I64, v);
    let bump = bump.ret(Some(v));
    let state = unit("state", &[(flag.clone(), Ty::Bool), (count.clone(), Ty::I64)], vec![set, bump]);

    let program = main_returning(Some(Ty::I64), vec![state], |fb| {
        let f = fb.load(&flag, Ty::Bool);
        fb.print_bool(f); // 0: zero-initialised
        fb.call(&sym("state", "set"), &[Ty::Bool], None, &[cb(true)]);
        let f = fb.load(&flag, Ty::Bool);
        fb.print_bool(f); // 1
        fb.store(&flag, Ty::Bool, cb(false));
        let f = fb.load(&flag, Ty::Bool);
        fb.print_bool(f); // 0
        fb.store(&count, Ty::I64, c(40));
        fb.call(&sym("state", "bump"), &[], Some(Ty::I64), &[]);
        let r = fb.call(&sym("state", "bump"), &[], Some(Ty::I64), &[]).unwrap();
        fb.print(r); // 42
        let v = fb.load(&count, Ty::I64);
        Some(v)
    });
    check("globals", &program, "0\n1\n0\n42\n", "", 42);
}

/// `main` → `a::tri` → `b::clamp`, with a loop, plus recursion in `b::fact`.
#[test]
fn calls_across_units_and_loops() {
    let i64x3 = [Ty::I64, Ty::I64, Ty::I64];
    // b::clamp(x, lo, hi)
    let mut clamp = Fb::new(sym("b", "clamp"), &i64x3, Some(Ty::I64));
    let (x, lo, hi) = (l(LocalId(0)), l(LocalId(1)), l(LocalId(2)));
    let (low, not_low, high, mid) = (clamp.block(), clamp.block(), clamp.block(), clamp.block());
    let cond = clamp.bin(BinOp::Lt, x, lo);
    clamp.term(Terminator::Branch { cond, then_block: low, else_block: not_low });
    clamp.at(low);
    clamp.term(Terminator::Return(Some(lo)));
    clamp.at(not_low);
    let cond = clamp.bin(BinOp::Gt, x, hi);
    clamp.term(Terminator::Branch { cond, then_block: high, else_block: mid });
    clamp.at(high);
    clamp.term(Terminator::Return(Some(hi)));
    clamp.at(mid);
    let clamp = clamp.ret(Some(x));
    // b::fact(n) = if n <= 1 { 1 } else { n * fact(n - 1) }
    let mut fact = Fb::new(sym("b", "fact"), &[Ty::I64], Some(Ty::I64));
    let n = l(LocalId(0));
    let (base, rec) = (fact.block(), fact.block());
    let cond = fact.bin(BinOp::Le, n, c(1));
    fact.term(Terminator::Branch { cond, then_block: base, else_block: rec });
    fact.at(base);
    fact.term(Terminator::Return(Some(c(1))));
    fact.at(rec);
    let m = fact.bin(BinOp::Sub, n, c(1));
    let r = fact.call(&sym("b", "fact"), &[Ty::I64], Some(Ty::I64), &[m]).unwrap();
    let r = fact.bin(BinOp::Mul, n, r);
    let fact = fact.ret(Some(r));
    let b = unit("b", &[], vec![clamp, fact]);

    // a::tri(n): acc = 0; i = 0; while i <= n { acc += b::clamp(i, 0, 100); i += 1 }; acc
    let mut tri = Fb::new(sym("a", "tri"), &[Ty::I64], Some(Ty::I64));
    let (acc, i) = (tri.local(Ty::I64), tri.local(Ty::I64));
    tri.assign(acc, Rvalue::Use(c(0)));
    tri.assign(i, Rvalue::Use(c(0)));
    let (head, body, done) = (tri.block(), tri.block(), tri.block());
    tri.term(Terminator::Goto(head));
    tri.at(head);
    let cond = tri.bin(BinOp::Le, l(i), l(LocalId(0)));
    tri.term(Terminator::Branch { cond, then_block: body, else_block: done });
    tri.at(body);
    let v = tri.call(&sym("b", "clamp"), &i64x3, Some(Ty::I64), &[l(i), c(0), c(100)]).unwrap();
    tri.assign(acc, Rvalue::Binary(BinOp::Add, l(acc), v));
    tri.assign(i, Rvalue::Binary(BinOp::Add, l(i), c(1)));
    tri.term(Terminator::Goto(head));
    tri.at(done);
    let tri = tri.ret(Some(l(acc)));
    let a = unit("a", &[], vec![tri]);

    let program = main_returning(None, vec![a, b], |fb| {
        let r = fb.call(&sym("a", "tri"), &[Ty::I64], Some(Ty::I64), &[c(10)]).unwrap();
        fb.print(r);
        let r = fb.call(&sym("a", "tri"), &[Ty::I64], Some(Ty::I64), &[c(200)]).unwrap();
        fb.print(r);
        let r = fb.call(&sym("b", "fact"), &[Ty::I64], Some(Ty::I64), &[c(20)]).unwrap();
        fb.print(r);
        let r = fb.call(&sym("b", "fact"), &[Ty::I64], Some(Ty::I64), &[c(25)]).unwrap();
        fb.print(r); // wraps
        None
    });
    let fact25 = (1..=25i64).fold(1i64, |acc, k| acc.wrapping_mul(k));
    check_modes(
        "calls",
        &program,
        &format!("55\n15050\n2432902008176640000\n{fact25}\n"),
        "",
        0,
        &[Mode::Objects, Mode::Lto],
    );
}

/// A loop back to MIR block 0 (allowed in MIR, not for LLVM's entry block).
#[test]
fn loop_to_the_entry_block() {
    let mut count = Fb::new(sym("main", "count"), &[Ty::I64], None);
    let n = LocalId(0);
    let (more, done) = (count.block(), count.block());
    let cond = count.bin(BinOp::Gt, l(n), c(0));
    count.term(Terminator::Branch { cond, then_block: more, else_block: done });
    count.at(more);
    count.print(l(n));
    count.assign(n, Rvalue::Binary(BinOp::Sub, l(n), c(1)));
    count.term(Terminator::Goto(BlockId(0)));
    count.at(done);
    let count = count.ret(None);
    let mut main = Fb::new(sym("main", "main"), &[], None);
    main.call(&sym("main", "count"), &[Ty::I64], None, &[c(3)]);
    let program = Program {
        units: vec![unit("main", &[], vec![main.ret(None), count])],
        entry: entry(&[], sym("main", "main"), false),
    };
    check("entry loop", &program, "3\n2\n1\n", "", 0);
}

/// Initialisers run in `init_order` before `main`.
#[test]
fn init_order() {
    let mut units = Vec::new();
    for (module, value) in [("x", 10), ("y", 20), ("z", 30)] {
        let g = sym(module, "g");
        let mut init = Fb::new(Symbol::init_of(module), &[], None);
        init.print(c(value));
        init.store(&g, Ty::I64, c(value + 1));
        units.push(unit(module, &[(g, Ty::I64)], vec![init.ret(None)]));
    }
    let program = main_returning(Some(Ty::I64), units, |fb| {
        let mut sum = c(0);
        for module in ["x", "y", "z"] {
            let v = fb.load(&sym(module, "g"), Ty::I64);
            fb.print(v);
            sum = fb.bin(BinOp::Add, sum, v);
        }
        Some(sum)
    });
    let program = Program {
        entry: entry(&[Symbol::init_of("z"), Symbol::init_of("x"), Symbol::init_of("y")], sym("main", "main"), true),
        ..program
    };
    check_modes("init order", &program, "30\n10\n20\n11\n21\n31\n", "", 63, &[Mode::Objects, Mode::Lto]);
}

#[test]
fn exit_status_is_main_result_mod_256() {
    for (value, status) in [(0, 0), (7, 7), (300, 44), (256, 0), (-1, 255), (-256, 0), (i64::MIN, 0), (i64::MAX, 255)] {
        let program = main_returning(Some(Ty::I64), vec![], |_| Some(c(value)));
        check(&format!("return {value}"), &program, "", "", status);
    }
    let program = main_returning(None, vec![], |fb| {
        fb.print(c(5));
        None
    });
    check("no value", &program, "5\n", "", 0);
}

// ---------------------------------------------------------------- properties

fn sample_units() -> (CodegenUnit, CodegenUnit) {
    let program = main_returning(Some(Ty::I64), vec![ops_unit()], |fb| {
        let r = call_op(fb, "div", 100, 7);
        fb.print(r);
        let r = fb.bin(BinOp::Rem, r, c(3));
        Some(r)
    });
    let mut units = program.units.into_iter();
    (units.next().unwrap(), units.next().unwrap())
}

#[test]
fn output_is_deterministic() {
    let (a, b) = sample_units();
    let e = entry(&[], sym("main", "main"), true);
    for opt in [OptLevel::Debug, OptLevel::Release] {
        for artifact in [ArtifactKind::Object, ArtifactKind::Bitcode] {
            let config = CodegenConfig { artifact, ..CodegenConfig::host(opt) };
            let reused = LlvmBackend::new();
            let a1 = reused.compile_unit(&a, &config).unwrap();
            let b1 = reused.compile_unit(&b, &config).unwrap();
            let e1 = reused.compile_entry(&e, &config).unwrap();
            let a2 = reused.compile_unit(&a, &config).unwrap();
            let e2 = reused.compile_entry(&e, &config).unwrap();
            let fresh = LlvmBackend::new();
            let a3 = fresh.compile_unit(&a, &config).unwrap();
            let (a4, b4) = std::thread::spawn({
                let (a, b, config) = (a.clone(), b.clone(), config.clone());
                move || {
                    let other = LlvmBackend::new();
                    // Compile something else first on this thread.
                    let b4 = other.compile_unit(&b, &config).unwrap();
                    (other.compile_unit(&a, &config).unwrap(), b4)
                }
            })
            .join()
            .unwrap();
            assert!(a1 == a2 && a1 == a3 && a1 == a4, "unit a differs ({opt:?}, {artifact:?})");
            assert_eq!(b1, b4, "unit b differs ({opt:?}, {artifact:?})");
            assert_eq!(e1, e2, "entry differs ({opt:?}, {artifact:?})");
            assert_ne!(a1, b1);
            let ir1 = reused.unit_llvm_ir(&a, &config).unwrap();
            assert_eq!(ir1, fresh.unit_llvm_ir(&a, &config).unwrap());
        }
    }
}

#[test]
fn concurrent_backends_agree() {
    let (a, b) = sample_units();
    let config = CodegenConfig::host(OptLevel::Release);
    let expected = LlvmBackend::new().compile_unit(&a, &config).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (a, b, config) = (a.clone(), b.clone(), config.clone());
            std::thread::spawn(move || {
                let backend = LlvmBackend::new();
                (0..5)
                    .map(|j| {
                        if (i + j) % 2 == 0 {
                            backend.compile_unit(&b, &config).unwrap();
                        }
                        backend.compile_unit(&a, &config).unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for handle in handles {
        for object in handle.join().unwrap() {
            assert!(object == expected, "a concurrent compilation differs");
        }
    }
}

#[test]
fn different_opt_levels_differ() {
    let (a, _) = sample_units();
    let backend = LlvmBackend::new();
    let debug = backend.compile_unit(&a, &CodegenConfig::host(OptLevel::Debug)).unwrap();
    let release = backend.compile_unit(&a, &CodegenConfig::host(OptLevel::Release)).unwrap();
    assert_ne!(debug, release);
}

fn elf_machine(object: &[u8]) -> u16 {
    assert_eq!(&object[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(object[5], 1, "not little-endian");
    u16::from_le_bytes([object[18], object[19]])
}

#[test]
fn cross_compiles_to_aarch64() {
    let (a, b) = sample_units();
    let backend = LlvmBackend::new();
    for opt in [OptLevel::Debug, OptLevel::Release] {
        let config =
            CodegenConfig { opt, target: "aarch64-unknown-linux-gnu".to_string(), artifact: ArtifactKind::Object };
        for u in [&a, &b] {
            let object = backend.compile_unit(u, &config).unwrap();
            assert_eq!(elf_machine(&object), 183, "EM_AARCH64");
        }
        let object = backend.compile_entry(&entry(&[], sym("main", "main"), true), &config).unwrap();
        assert_eq!(elf_machine(&object), 183);
        let ir = backend.unit_llvm_ir(&a, &config).unwrap();
        assert!(ir.contains("target triple = \"aarch64-unknown-linux-gnu\""), "{ir}");
    }
    // The host still works on the same backend afterwards.
    let host = backend.compile_unit(&a, &CodegenConfig::host(OptLevel::Debug)).unwrap();
    if cfg!(target_arch = "x86_64") {
        assert_eq!(elf_machine(&host), 62, "EM_X86_64");
    }
}

#[test]
fn unknown_target_is_an_error() {
    let (a, _) = sample_units();
    let config =
        CodegenConfig { opt: OptLevel::Debug, target: "mips-unknown-linux-gnu".into(), artifact: ArtifactKind::Object };
    let err = LlvmBackend::new().compile_unit(&a, &config).unwrap_err();
    assert!(err.message.contains("mips") && err.message.contains("`main`"), "{err}");
}

#[test]
fn lto_links_bitcode_into_one_object() {
    let (a, b) = sample_units();
    let program = Program { units: vec![a, b], entry: entry(&[], sym("main", "main"), true) };
    check_modes("lto", &program, "14\n", "", 2, &[Mode::Lto]);

    // In release, LTO inlines `ops::div` into main: no call remains to it,
    // and the internalised symbols disappear from the object.
    let backend = LlvmBackend::new();
    let config = CodegenConfig { artifact: ArtifactKind::Bitcode, ..CodegenConfig::host(OptLevel::Release) };
    let mut bitcode: Vec<Vec<u8>> = program.units.iter().map(|u| backend.compile_unit(u, &config).unwrap()).collect();
    bitcode.push(backend.compile_entry(&program.entry, &config).unwrap());
    let object = backend.lto_link(&bitcode, &CodegenConfig::host(OptLevel::Release)).unwrap();
    let div = sym("ops", "div").mangled_function();
    assert!(!contains(&object, div.as_bytes()), "ops::div survived LTO");
    assert!(contains(&object, b"main"));
    // Deterministic too.
    assert_eq!(object, LlvmBackend::new().lto_link(&bitcode, &CodegenConfig::host(OptLevel::Release)).unwrap());

    // Garbage and mismatched targets are errors, not panics.
    let err = backend.lto_link(&[b"nonsense".to_vec()], &CodegenConfig::host(OptLevel::Debug)).unwrap_err();
    assert!(err.message.contains("LTO"), "{err}");
    let arm = CodegenConfig {
        opt: OptLevel::Debug,
        target: "aarch64-unknown-linux-gnu".into(),
        artifact: ArtifactKind::Bitcode,
    };
    let arm_bitcode = backend.compile_unit(&program.units[1], &arm).unwrap();
    let err = backend.lto_link(&[arm_bitcode], &CodegenConfig::host(OptLevel::Debug)).unwrap_err();
    assert!(err.message.contains("aarch64"), "{err}");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn llvm_ir_text() {
    let (a, b) = sample_units();
    let backend = LlvmBackend::new();
    let debug = backend.unit_llvm_ir(&a, &CodegenConfig::host(OptLevel::Debug)).unwrap();
    for needle in [
        "; ModuleID = 'main'",
        "source_filename = \"main\"",
        "define hidden i64 @_LKF4main4main()",
        "declare hidden i64 @_LKF3ops3div(i64, i64)",
        "@__lockstep_print(i64)",
        &format!("target triple = \"{}\"", host_triple()),
    ] {
        assert!(debug.contains(needle), "missing {needle:?} in\n{debug}");
    }
    let release = backend.unit_llvm_ir(&a, &CodegenConfig::host(OptLevel::Release)).unwrap();
    assert!(release.contains("@_LKF4main4main"), "{release}");
    assert!(!release.contains("alloca"), "mem2reg did not run:\n{release}");
    // Debug promotes locals to registers too (half the code for the link to
    // move), and does nothing else.
    assert!(!debug.contains("alloca"), "mem2reg did not run at debug:\n{debug}");
    assert_ne!(debug, release, "debug ran the release pipeline");
    let ops = backend.unit_llvm_ir(&b, &CodegenConfig::host(OptLevel::Debug)).unwrap();
    assert!(ops.contains("@__lockstep_div_by_zero()") && ops.contains("sdiv"), "{ops}");

    let cmp = Fb::new(sym("c", "t"), &[Ty::I64, Ty::Bool], Some(Ty::Bool)).ret(Some(l(LocalId(1))));
    let ir = backend.unit_llvm_ir(&unit("c", &[], vec![cmp]), &CodegenConfig::host(OptLevel::Debug)).unwrap();
    assert!(ir.contains("define hidden zeroext i1 @_LKF1c1t(i64 %0, i1 zeroext %1)"), "{ir}");

    let globals = unit("g", &[(sym("g", "flag"), Ty::Bool), (sym("g", "n"), Ty::I64)], vec![]);
    let ir = backend.unit_llvm_ir(&globals, &CodegenConfig::host(OptLevel::Debug)).unwrap();
    assert!(ir.contains("@_LKG1g4flag = hidden global i8 0"), "{ir}");
    assert!(ir.contains("@_LKG1g1n = hidden global i64 0"), "{ir}");

    let e = backend
        .entry_llvm_ir(
            &entry(&[Symbol::init_of("g")], sym("main", "main"), true),
            &CodegenConfig::host(OptLevel::Debug),
        )
        .unwrap();
    for needle in [
        "define i32 @main()",
        "call void @\"_LKF1g5$init\"()",
        "call i64 @_LKF4main4main()",
        "define void @__lockstep_print(i64",
        "define void @__lockstep_div_by_zero()",
        "and i64",
        ", 255",
    ] {
        assert!(e.contains(needle), "missing {needle:?} in\n{e}");
    }
}

#[test]
fn malformed_mir_is_an_error_not_a_panic() {
    let backend = LlvmBackend::new();
    let config = CodegenConfig::host(OptLevel::Debug);
    let cases: Vec<(&str, Function)> = vec![
        ("must be bool", {
            let mut fb = Fb::new(sym("m", "f"), &[], None);
            let b = fb.block();
            fb.term(Terminator::Branch { cond: c(1), then_block: b, else_block: b });
            fb.at(b);
            fb.ret(None)
        }),
        ("neither defined", {
            let mut fb = Fb::new(sym("m", "f"), &[], None);
            fb.stmt(Statement::Call { dest: None, callee: sym("m", "ghost"), args: vec![] });
            fb.ret(None)
        }),
        ("does not exist", {
            let mut fb = Fb::new(sym("m", "f"), &[], None);
            fb.print(l(LocalId(9)));
            fb.ret(None)
        }),
        ("bb7 does not exist", {
            let mut fb = Fb::new(sym("m", "f"), &[], None);
            fb.term(Terminator::Goto(BlockId(7)));
            fb.f
        }),
        ("returns nothing", Fb::new(sym("m", "f"), &[], Some(Ty::I64)).ret(None)),
        ("operands of Add", {
            let mut fb = Fb::new(sym("m", "f"), &[], None);
            fb.bin(BinOp::Add, c(1), cb(true));
            fb.ret(None)
        }),
        ("global `m::g`", {
            let mut fb = Fb::new(sym("m", "f"), &[], None);
            fb.stmt(Statement::StoreGlobal { global: sym("m", "g"), value: c(1) });
            fb.ret(None)
        }),
    ];
    for (needle, function) in cases {
        let err = backend.compile_unit(&unit("m", &[], vec![function]), &config).unwrap_err();
        assert!(err.message.contains(needle), "expected {needle:?} in {err}");
        assert!(err.message.contains("codegen unit `m`") && err.message.contains("function `m::f`"), "{err}");
    }
    // The backend is still usable afterwards.
    let (a, _) = sample_units();
    backend.compile_unit(&a, &config).unwrap();
}

#[test]
fn version_and_triple() {
    let v = backend_version();
    assert!(v.starts_with("llvm-"), "{v}");
    if cfg!(feature = "llvm14-0") {
        assert!(v.starts_with("llvm-14"), "{v}");
    }
    assert_eq!(v, backend_version());
    let host = host_triple();
    assert_eq!(host, host_triple());
    if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        assert!(host.starts_with("x86_64-") && host.contains("linux"), "{host}");
    }
}
