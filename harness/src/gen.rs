//! A seeded generator of random, valid, multi-module `.lks` programs, each with an equivalent C translation.
//!
//! The generator is the workload of the differential tests (a gcc-built C program is the oracle for the
//! lockstep-built executable) and of the benches (e.g. 50 modules × 40 functions). Everything it produces is a
//! pure function of `(seed, GenConfig)`: the PRNG is SplitMix64 written out below, no hash map iteration order
//! reaches the output, and the layout of the output text never depends on the platform, so a seed names the
//! same program on every machine forever.
//!
//! How validity and termination are guaranteed by construction:
//! - Every expression is generated for a known type, and every name is drawn from what is in scope, so the
//!   program type-checks. Local names are unique within a function and item names come from word lists that
//!   are disjoint per kind, so shadowing and name clashes never arise.
//! - Module `i` imports only modules with a smaller index, and every module is reachable from `main`.
//! - A function may call only functions of strictly smaller rank (earlier in its own module, or any `pub`
//!   function of a module it imports) plus itself through a `depth` parameter that is decremented to 0, so the
//!   call graph is a DAG apart from bounded self-recursion. Loops are counter loops with at most
//!   `max_loop_trips` iterations.
//! - A planned call tree gives every function one parent of higher rank (or `main`) that calls it once, at top
//!   level and outside loops, before any early `return`; so every function is reachable from `main` and a run
//!   executes nearly all of the program. On top of the tree, optional calls and loops are only generated while
//!   the function's budget (an upper bound of dynamic work and prints, tracked per function) can afford them,
//!   calls inside loops only reach functions that never print, and self-recursive functions are never tree
//!   parents. The work of a run is therefore bounded by roughly `functions × fn_work_budget +
//!   main_work_budget + globals × init_work_budget`, with no exponential call trees.
//! - Divisors are guarded (`e % 7 + 8`, `e % 5 - 9`, non-zero literals, `if d != 0`) unless
//!   `GenConfig::allow_div_by_zero` lets some unguarded ones through.
//! - By default no global is read or written before its initialiser has run, so the result never depends on
//!   the zero value of an uninitialised global (see `GenConfig::allow_reads_before_init`).
//!
//! The C translation evaluates everything in `.lks` order: any operand that could observe or cause a side
//! effect is sequenced into a temporary, because C leaves operand and argument evaluation order unspecified.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The generator's randomness: the scheduler's SplitMix64 (one
/// implementation in the workspace), plus the drawing helpers the generator
/// needs. Its output for a seed is fixed forever, which makes seeds portable.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    inner: lockstep_scheduler::fuzz::SplitMix64,
}

impl SplitMix64 {
    /// Creates a generator; every seed (including 0) gives a good sequence.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { inner: lockstep_scheduler::fuzz::SplitMix64::new(seed) }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A uniform value in `0..n` (`n > 0`), by the multiply-high method so that no platform detail matters.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0) has no values");
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform value in `lo..=hi`; an empty range yields `lo`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }

    /// A uniform `usize` in `lo..=hi`; an empty range yields `lo`.
    pub fn range_usize(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as u64, hi as u64) as usize
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// Picks one element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// The shape of the generated programs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenConfig {
    /// Number of modules, including `main` (at least 1). With `vary_sizes` this is the maximum.
    pub modules: usize,
    /// Functions per module, not counting `main`. With `vary_sizes` this is the maximum.
    pub functions_per_module: usize,
    /// When true, each seed draws the module count from `modules-2..=modules` and each module's function
    /// count from `functions_per_module/2..=functions_per_module` (both at least 1), and const and global
    /// counts from `0..=` their maxima. When false every count is exact, which is what benches want.
    pub vary_sizes: bool,
    /// Fewest top-level statements in a function body (nested statements come on top).
    pub min_stmts: usize,
    /// Most top-level statements in a function body.
    pub max_stmts: usize,
    /// Maximum nesting of generated expressions.
    pub max_expr_depth: usize,
    /// Globals per module.
    pub globals_per_module: usize,
    /// Consts per module.
    pub consts_per_module: usize,
    /// Most parameters of a function (a recursive function's `depth` comes on top).
    pub max_params: usize,
    /// Most imports of a non-root module (the root may import more, to reach every module).
    pub max_imports: usize,
    /// Most iterations of any `while` loop.
    pub max_loop_trips: u64,
    /// Most recursion depth of a self-recursive function.
    pub max_recursion_depth: u64,
    /// Most call sites in one function body (the root `main` may have three times as many).
    pub max_calls_per_fn: usize,
    /// Upper bound of the dynamic work (roughly: evaluated expression nodes) one call of a function spends on
    /// its own statements and optional calls; its planned call-tree calls come on top.
    pub fn_work_budget: u64,
    /// The part of `fn_work_budget` a function may spend itself (its loops and expressions); the rest is left
    /// for its calls, which is what lets calls nest deeply enough to reach most functions.
    pub own_work_budget: u64,
    /// Upper bound of the dynamic work of `main`, apart from its planned call-tree calls.
    pub main_work_budget: u64,
    /// Upper bound of the dynamic work of one global initialiser.
    pub init_work_budget: u64,
    /// When true, some divisors are left unguarded, so some programs stop with "division by zero" (exit 101).
    pub allow_div_by_zero: bool,
    /// When true, global initialisers may read and write globals of their own module that are initialised
    /// later (directly or through calls), observing the 0/false they hold before initialisation. Off by
    /// default because the spec leaves that value implicit.
    pub allow_reads_before_init: bool,
    /// When true, `//` and `/* */` comments are sprinkled through the sources.
    pub comments: bool,
}

impl GenConfig {
    /// Small programs for differential testing: 3-5 modules of 3-6 functions.
    pub fn small() -> Self {
        GenConfig {
            modules: 5,
            functions_per_module: 6,
            vary_sizes: true,
            min_stmts: 2,
            max_stmts: 7,
            max_expr_depth: 3,
            globals_per_module: 3,
            consts_per_module: 3,
            max_params: 3,
            max_imports: 3,
            max_loop_trips: 20,
            max_recursion_depth: 6,
            max_calls_per_fn: 4,
            fn_work_budget: 5_000,
            own_work_budget: 1_500,
            main_work_budget: 100_000,
            init_work_budget: 10_000,
            allow_div_by_zero: false,
            allow_reads_before_init: false,
            comments: true,
        }
    }

    /// Bench-sized programs: exactly `modules` modules of `functions` functions with realistic bodies
    /// (about 10-30 statements each, counting nested ones).
    pub fn bench(modules: usize, functions: usize) -> Self {
        GenConfig {
            modules,
            functions_per_module: functions,
            vary_sizes: false,
            min_stmts: 4,
            max_stmts: 12,
            max_expr_depth: 3,
            globals_per_module: 4,
            consts_per_module: 4,
            max_params: 4,
            max_imports: 4,
            max_loop_trips: 20,
            max_recursion_depth: 5,
            max_calls_per_fn: 6,
            fn_work_budget: 5_000,
            own_work_budget: 1_500,
            main_work_budget: 200_000,
            init_work_budget: 20_000,
            allow_div_by_zero: false,
            allow_reads_before_init: false,
            comments: true,
        }
    }
}

/// One generated program: its `.lks` modules and the equivalent C program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedProgram {
    /// The seed it was generated from.
    pub seed: u64,
    /// `(module name, source)`, imported modules before importers, `main` last.
    pub files: Vec<(String, String)>,
    /// A single C11 translation unit with the same stdout bytes and exit status.
    pub c_source: String,
}

impl GeneratedProgram {
    /// Writes every module as `DIR/NAME.lks` (creating `dir`), so `dir` is a lockstep project.
    pub fn write_lks(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        for (name, text) in &self.files {
            fs::write(dir.join(format!("{name}.lks")), text)?;
        }
        Ok(())
    }

    /// Writes the C translation to `path`.
    pub fn write_c(&self, path: &Path) -> io::Result<()> {
        fs::write(path, &self.c_source)
    }

    /// The source of module `name`, if there is one.
    pub fn module(&self, name: &str) -> Option<&str> {
        self.files.iter().find(|(n, _)| n == name).map(|(_, s)| s.as_str())
    }
}

/// Compiles the C translation with `$CC` (default `cc`) `-O1 -w` in `workdir` and runs it with a 20 s limit.
///
/// Returns the program's stdout, stderr and exit status. Compile failures, timeouts and deaths by signal are
/// errors, because the oracle itself must never misbehave.
pub fn run_c_oracle(program: &GeneratedProgram, workdir: &Path) -> io::Result<(Vec<u8>, Vec<u8>, i32)> {
    let exe = compile_c_oracle(program, workdir)?;
    run_with_timeout(&exe, workdir, Duration::from_secs(20))
}

/// Writes `workdir/oracle.c` and compiles it with `$CC` (default `cc`) `-O1 -w` into `workdir/oracle`.
pub fn compile_c_oracle(program: &GeneratedProgram, workdir: &Path) -> io::Result<PathBuf> {
    fs::create_dir_all(workdir)?;
    let c_path = workdir.join("oracle.c");
    let exe = workdir.join("oracle");
    program.write_c(&c_path)?;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(&cc).arg("-O1").arg("-w").arg("-o").arg(&exe).arg(&c_path).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{cc} failed on {}: {}",
            c_path.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(exe)
}

/// Runs `exe` (no arguments, stdin empty) and returns its stdout, stderr and exit status; it suits the
/// lockstep-built executable as well as the oracle, so both are observed the same way.
///
/// The outputs go through files in `workdir` rather than pipes, so a chatty program cannot block on a full
/// pipe while this polls. Running over `timeout` (the child is killed and reaped) and death by a signal are
/// errors.
pub fn run_with_timeout(exe: &Path, workdir: &Path, timeout: Duration) -> io::Result<(Vec<u8>, Vec<u8>, i32)> {
    fs::create_dir_all(workdir)?;
    let stem = exe.file_name().map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
    let stdout_path = workdir.join(format!("{stem}.stdout"));
    let stderr_path = workdir.join(format!("{stem}.stderr"));
    let mut child = Command::new(exe)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path)?)
        .stderr(fs::File::create(&stderr_path)?)
        .spawn()?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > timeout {
            // Only our own child is killed; the error reports the timeout.
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(io::ErrorKind::TimedOut, format!("{} ran over {timeout:?}", exe.display())));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let code = status.code().ok_or_else(|| io::Error::other(format!("{} died: {status}", exe.display())))?;
    Ok((fs::read(&stdout_path)?, fs::read(&stderr_path)?, code))
}

/// Generates the program of `seed` under `config`.
pub fn generate(seed: u64, config: &GenConfig) -> GeneratedProgram {
    let mut gen = Gen::new(seed, config);
    gen.plan();
    gen.plan_call_tree();
    for m in 0..gen.mods.len() {
        gen.gen_module(m);
    }
    let files = (0..gen.mods.len()).map(|m| (gen.mods[m].name.clone(), print_module(&gen.mods, m))).collect();
    let c_source = emit_c(&gen.mods, seed);
    GeneratedProgram { seed, files, c_source }
}

// ---------------------------------------------------------------------------------------------------------
// The program representation shared by the `.lks` printer and the C emitter.
// ---------------------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    I64,
    Bool,
}

impl Ty {
    fn lks(self) -> &'static str {
        match self {
            Ty::I64 => "i64",
            Ty::Bool => "bool",
        }
    }

    fn c(self) -> &'static str {
        match self {
            Ty::I64 => "int64_t",
            Ty::Bool => "bool",
        }
    }
}

/// A compile-time value, used to evaluate consts (their C translation is the folded value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Val {
    I(i64),
    B(bool),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    fn prec(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 5,
        }
    }

    fn text(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }

    fn is_cmp(self) -> bool {
        self.prec() == 3
    }

    fn result(self) -> Ty {
        if self.prec() >= 4 {
            Ty::I64
        } else {
            Ty::Bool
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnOp {
    Neg,
    Not,
}

/// A resolved name: how `.lks` spells it, how C spells it, and what C lowering needs to know.
#[derive(Clone, Debug)]
struct NameRef {
    lks: String,
    c: String,
    ty: Ty,
    /// True when the value cannot change while an expression is evaluated (params, immutable locals, consts),
    /// so the C translation need not snapshot it before later side effects.
    stable: bool,
    /// The value of a const, so const initialisers can be folded.
    value: Option<Val>,
}

#[derive(Clone, Debug)]
struct Call {
    lks: String,
    c: String,
    args: Vec<Expr>,
    ret: Option<Ty>,
}

#[derive(Clone, Debug)]
enum Expr {
    Int(u64, bool),
    Bool(bool),
    Name(NameRef),
    Call(Call),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Paren(Box<Expr>),
    Block(Box<Block>, Ty),
    If(Box<IfChain>, Ty),
}

impl Expr {
    fn ty(&self) -> Ty {
        match self {
            Expr::Int(..) => Ty::I64,
            Expr::Bool(_) => Ty::Bool,
            Expr::Name(n) => n.ty,
            Expr::Call(c) => c.ret.unwrap_or(Ty::I64),
            Expr::Unary(UnOp::Neg, _) => Ty::I64,
            Expr::Unary(UnOp::Not, _) => Ty::Bool,
            Expr::Binary(op, ..) => op.result(),
            Expr::Paren(e) => e.ty(),
            Expr::Block(_, t) | Expr::If(_, t) => *t,
        }
    }

    fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
        Expr::Binary(op, Box::new(a), Box::new(b))
    }

    fn int(v: u64) -> Expr {
        Expr::Int(v, false)
    }

    /// `-9223372036854775807 - 1`, the only way to write `i64::MIN`.
    fn min() -> Expr {
        Expr::bin(BinOp::Sub, Expr::Unary(UnOp::Neg, Box::new(Expr::int(i64::MAX as u64))), Expr::int(1))
    }
}

#[derive(Clone, Debug, Default)]
struct Block {
    stmts: Vec<Stmt>,
    tail: Option<Expr>,
}

#[derive(Clone, Debug)]
struct IfChain {
    cond: Expr,
    then: Block,
    els: Option<Else>,
}

#[derive(Clone, Debug)]
enum Else {
    Block(Block),
    If(Box<IfChain>),
}

#[derive(Clone, Debug)]
enum Stmt {
    Let { name: String, mutable: bool, annotate: bool, ty: Ty, value: Expr },
    Assign { lks: String, c: String, value: Expr },
    While { cond: Expr, body: Block },
    Return(Option<Expr>),
    Call(Call),
    Print(Expr),
    If(IfChain),
    Block(Block),
    Comment(String),
}

#[derive(Clone, Debug)]
struct ConstItem {
    name: String,
    is_pub: bool,
    ty: Ty,
    value: Val,
    expr: Expr,
}

#[derive(Clone, Debug)]
struct GlobalItem {
    name: String,
    is_pub: bool,
    ty: Ty,
    init: Option<Expr>,
}

#[derive(Clone, Debug)]
struct FnItem {
    name: String,
    is_pub: bool,
    params: Vec<(String, Ty)>,
    ret: Option<Ty>,
    /// The recursion bound of a self-recursive function; its first parameter is `depth`.
    rec_depth: Option<u64>,
    body: Option<Block>,
    /// Upper bound of the dynamic work of one call, including everything it calls.
    cost: u64,
    /// Upper bound of the `print`s one call performs.
    prints: u64,
    /// Globals of its own module that it (or its own-module callees) reads or writes, by index.
    touches: BTreeSet<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ItemRef {
    Const(usize),
    Global(usize),
    Fn(usize),
    Main,
    Comment(u64),
}

#[derive(Clone, Debug)]
struct Module {
    name: String,
    imports: Vec<usize>,
    consts: Vec<ConstItem>,
    globals: Vec<GlobalItem>,
    fns: Vec<FnItem>,
    /// `Some(ret)` for the root module: `main`'s return type (`None` inside means `fn main()`).
    main_ret: Option<Option<Ty>>,
    main_body: Option<Block>,
    /// Source order of the items after the imports.
    layout: Vec<ItemRef>,
}

// Word lists are disjoint per kind of name, so a local can never clash with an item or a module name.
const MODULE_WORDS: &[&str] = &[
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima",
    "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray",
    "yankee", "zulu",
];
const FN_WORDS: &[&str] = &["calc", "mix", "step", "fold", "scan", "probe", "blend", "twist", "walk", "spin", "churn"];
const GLOBAL_WORDS: &[&str] = &["total", "state", "seed", "hits", "level", "sum", "count", "mark"];
const BOOL_GLOBAL_WORDS: &[&str] = &["flag", "armed", "ready", "dirty"];
const CONST_WORDS: &[&str] = &["LIMIT", "BASE", "SCALE", "OFFSET", "BIG", "FACTOR", "SHIFT"];
const LOCAL_WORDS: &[&str] = &["x", "y", "z", "acc", "val", "cur", "n", "w", "res", "part"];
const BOOL_LOCAL_WORDS: &[&str] = &["ok", "hit", "on", "cond"];
const PARAM_WORDS: &[&str] = &["a", "b", "c", "d", "e", "f", "g", "h"];
const COMMENTS: &[&str] = &[
    "keep the running value moving",
    "wraps on purpose",
    "bounded loop",
    "cross-module traffic",
    "nothing to see here",
    "edge cases live below",
];

// ---------------------------------------------------------------------------------------------------------
// The generator.
// ---------------------------------------------------------------------------------------------------------

struct Gen<'a> {
    rng: SplitMix64,
    cfg: &'a GenConfig,
    mods: Vec<Module>,
    /// Call sites generated so far per function, to steer calls towards functions nobody calls yet.
    call_sites: BTreeMap<(usize, usize), usize>,
    /// The planned call tree: each function is called once, outside loops, by its parent here.
    children: BTreeMap<Parent, Vec<(usize, usize)>>,
}

/// A caller in the planned call tree: a function `(module, index)` or the root's `main`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Parent {
    Fn(usize, usize),
    Main,
}

#[derive(Clone, Debug)]
struct Local {
    name: String,
    ty: Ty,
    mutable: bool,
    /// Loop counters are never assigned by generated statements, which keeps loops bounded.
    counter: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// A const initialiser: literals, earlier consts and operators only.
    Const { limit: usize },
    /// A global initialiser: own globals below `limit` (unless reads before init are allowed).
    Init { limit: usize },
    /// A function body.
    Fn,
}

/// Upper bounds of dynamic work and prints per call: in total (including callees) and by the body itself.
///
/// Keeping a function's own share small leaves most of its budget to callees, so the budget-limited call
/// graph still forms deep trees that reach most functions instead of a crowd of budget-filling leaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Usage {
    work: u64,
    prints: u64,
    own_work: u64,
    own_prints: u64,
}

impl Usage {
    fn minus(self, base: Usage) -> Usage {
        Usage {
            work: self.work.saturating_sub(base.work),
            prints: self.prints.saturating_sub(base.prints),
            own_work: self.own_work.saturating_sub(base.own_work),
            own_prints: self.own_prints.saturating_sub(base.own_prints),
        }
    }

    fn plus_max(self, a: Usage, b: Usage) -> Usage {
        Usage {
            work: self.work.saturating_add(a.work.max(b.work)),
            prints: self.prints.saturating_add(a.prints.max(b.prints)),
            own_work: self.own_work.saturating_add(a.own_work.max(b.own_work)),
            own_prints: self.own_prints.saturating_add(a.own_prints.max(b.own_prints)),
        }
    }
}

/// The state of one body (or initialiser) being generated.
struct Cx {
    module: usize,
    mode: Mode,
    scopes: Vec<Vec<Local>>,
    next_name: usize,
    /// The function's return type, or `None` for a function without a value.
    ret: Option<Ty>,
    /// Whether `return` may appear (function bodies, outside expression blocks).
    can_return: bool,
    /// How many times the code being generated runs per call (product of enclosing loop trips).
    mult: u64,
    used: Usage,
    limit: Usage,
    /// Weight of `print` statements: high in `main`, low elsewhere, so that callees stay affordable.
    print_weight: u64,
    calls: usize,
    max_calls: usize,
    /// Depth of pure contexts (while conditions): no calls, blocks or ifs there.
    pure: usize,
    touches: BTreeSet<usize>,
    callees: Vec<(usize, usize)>,
}

impl Cx {
    fn remaining(&self) -> u64 {
        self.limit.work.saturating_sub(self.used.work)
    }

    /// Work the body may still spend itself (loops, expressions), as opposed to in callees.
    fn own_remaining(&self) -> u64 {
        self.limit.own_work.saturating_sub(self.used.own_work).min(self.remaining())
    }

    fn can_print(&self) -> bool {
        self.used.prints + self.mult <= self.limit.prints && self.used.own_prints + self.mult <= self.limit.own_prints
    }

    fn note_print(&mut self) {
        self.used.prints += self.mult;
        self.used.own_prints += self.mult;
    }

    fn fresh(&mut self, words: &[&str], rng: &mut SplitMix64) -> String {
        let n = self.next_name;
        self.next_name += 1;
        format!("{}{}", rng.pick(words), n)
    }

    fn locals(&self) -> impl Iterator<Item = &Local> {
        self.scopes.iter().flatten()
    }

    fn is_pure(&self) -> bool {
        self.pure > 0 || matches!(self.mode, Mode::Const { .. })
    }
}

/// A const or global, by module and index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ItemName {
    Const(usize, usize),
    Global(usize, usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LocalFilter {
    Any,
    Immutable,
    Assignable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExprKind {
    Leaf,
    Arith,
    DivRem,
    GuardedDiv,
    Neg,
    Call,
    If,
    Block,
    Paren,
    Cmp,
    Logic,
    Not,
    MinEdge,
    Interleave,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StmtKind {
    Let,
    Assign,
    If,
    While,
    Print,
    Call,
    Return,
    Block,
    Comment,
}

impl<'a> Gen<'a> {
    fn new(seed: u64, cfg: &'a GenConfig) -> Self {
        Gen {
            rng: SplitMix64::new(seed),
            cfg,
            mods: Vec::new(),
            call_sites: BTreeMap::new(),
            children: BTreeMap::new(),
        }
    }

    fn weighted<T: Copy>(&mut self, opts: &[(u64, T)]) -> T {
        let total: u64 = opts.iter().map(|o| o.0).sum();
        let mut r = self.rng.below(total);
        for &(w, v) in opts {
            if r < w {
                return v;
            }
            r -= w;
        }
        opts[opts.len() - 1].1
    }

    /// Decides the module graph and every item's name, type and signature, before any body exists, so bodies
    /// can refer to anything they may see.
    fn plan(&mut self) {
        let cfg = self.cfg;
        let max_mods = cfg.modules.max(1);
        let n =
            if cfg.vary_sizes { self.rng.range_usize(max_mods.saturating_sub(2).max(1), max_mods) } else { max_mods };
        let mut pool: Vec<String> = Vec::new();
        let mut round = 0;
        while pool.len() < n {
            for w in MODULE_WORDS {
                pool.push(if round == 0 { (*w).to_string() } else { format!("{w}{round}") });
            }
            round += 1;
        }
        self.rng.shuffle(&mut pool);
        let mut names: Vec<String> = pool.into_iter().take(n - 1).collect();
        names.push("main".to_string());

        let mut imports: Vec<Vec<usize>> = Vec::new();
        let mut imported = vec![false; n];
        for i in 0..n {
            let mut set = BTreeSet::new();
            if i > 0 {
                let k = if i == n - 1 {
                    self.rng.range_usize(1, cfg.max_imports.max(1).min(i))
                } else {
                    self.rng.range_usize(0, cfg.max_imports.min(i))
                };
                // Importing the previous module half the time builds long dependency chains.
                if k > 0 && self.rng.chance(1, 2) {
                    set.insert(i - 1);
                }
                while set.len() < k {
                    set.insert(self.rng.below(i as u64) as usize);
                }
            }
            if i == n - 1 {
                // Every module must be reachable from `main`, so the root imports each module nobody imports.
                for (j, was) in imported.iter().enumerate().take(n - 1) {
                    if !was && !set.contains(&j) {
                        set.insert(j);
                    }
                }
            }
            for &j in &set {
                imported[j] = true;
            }
            let mut list: Vec<usize> = set.into_iter().collect();
            self.rng.shuffle(&mut list);
            imports.push(list);
        }

        for (i, (name, imports)) in names.into_iter().zip(imports).enumerate() {
            let is_main = i == n - 1;
            let nf = self.count(cfg.functions_per_module, true);
            let nc = self.count(cfg.consts_per_module, false);
            let ng = self.count(cfg.globals_per_module, false);
            let consts = (0..nc)
                .map(|k| {
                    let ty = if self.rng.chance(1, 5) { Ty::Bool } else { Ty::I64 };
                    let word = if ty == Ty::Bool { "FLAG" } else { *self.rng.pick(CONST_WORDS) };
                    let is_pub = self.rng.chance(2, 3);
                    ConstItem { name: format!("{word}{k}"), is_pub, ty, value: Val::I(0), expr: Expr::int(0) }
                })
                .collect();
            let globals = (0..ng)
                .map(|k| {
                    let ty = if self.rng.chance(1, 4) { Ty::Bool } else { Ty::I64 };
                    let words = if ty == Ty::Bool { BOOL_GLOBAL_WORDS } else { GLOBAL_WORDS };
                    let name = format!("{}{k}", self.rng.pick(words));
                    GlobalItem { name, is_pub: self.rng.chance(2, 3), ty, init: None }
                })
                .collect();
            let fns = (0..nf)
                .map(|k| {
                    let rec_depth = if self.rng.chance(1, 6) {
                        Some(self.rng.range(1, cfg.max_recursion_depth.max(1)))
                    } else {
                        None
                    };
                    let mut params = Vec::new();
                    if rec_depth.is_some() {
                        params.push(("depth".to_string(), Ty::I64));
                    }
                    for p in 0..self.rng.range_usize(0, cfg.max_params) {
                        let ty = if self.rng.chance(1, 5) { Ty::Bool } else { Ty::I64 };
                        params.push((format!("{}{p}", self.rng.pick(PARAM_WORDS)), ty));
                    }
                    let ret = self.weighted(&[(6, Some(Ty::I64)), (2, Some(Ty::Bool)), (2, None)]);
                    FnItem {
                        name: format!("{}{k}", self.rng.pick(FN_WORDS)),
                        is_pub: self.rng.chance(2, 3),
                        params,
                        ret,
                        rec_depth,
                        body: None,
                        cost: 0,
                        prints: 0,
                        touches: BTreeSet::new(),
                    }
                })
                .collect();
            let main_ret = if is_main { Some(if self.rng.chance(4, 5) { Some(Ty::I64) } else { None }) } else { None };
            self.mods.push(Module {
                name,
                imports,
                consts,
                globals,
                fns,
                main_ret,
                main_body: None,
                layout: Vec::new(),
            });
        }
    }

    /// Gives every function a parent of higher rank that will call it once, at top level and outside loops: a
    /// later function of its module, a function of a module importing it, or `main`. Every function is then
    /// reachable from `main`, and a run executes most of the program instead of a few budget-limited corners.
    /// Self-recursive functions are never parents, so their depth factor cannot multiply a whole subtree.
    fn plan_call_tree(&mut self) {
        let root = self.mods.len() - 1;
        for m in 0..self.mods.len() {
            let importers: Vec<usize> = (0..self.mods.len()).filter(|&i| self.mods[i].imports.contains(&m)).collect();
            for f in 0..self.mods[m].fns.len() {
                let mut cands: Vec<Parent> = (f + 1..self.mods[m].fns.len())
                    .filter(|&g| self.mods[m].fns[g].rec_depth.is_none())
                    .map(|g| Parent::Fn(m, g))
                    .collect();
                if cands.is_empty() && m != root {
                    // Only importers can call it, so it must be `pub`.
                    self.mods[m].fns[f].is_pub = true;
                }
                let own = cands.len();
                if self.mods[m].fns[f].is_pub || m == root {
                    for &i in &importers {
                        for g in 0..self.mods[i].fns.len() {
                            if self.mods[i].fns[g].rec_depth.is_none() {
                                cands.push(Parent::Fn(i, g));
                            }
                        }
                    }
                    if m == root || self.mods[root].imports.contains(&m) {
                        cands.push(Parent::Main);
                    }
                }
                if cands.is_empty() {
                    continue;
                }
                // Mostly a parent in the same module, which builds long intra-module chains.
                let parent = if own > 0 && self.rng.chance(2, 3) {
                    cands[self.rng.below(own as u64) as usize]
                } else {
                    *self.rng.pick(&cands)
                };
                self.children.entry(parent).or_default().push((m, f));
            }
        }
    }

    /// The planned call of `child`, charged on top of the caller's limits so its optional calls keep their budget.
    fn planned_call(&mut self, cx: &mut Cx, child: (usize, usize)) -> Stmt {
        let before = cx.used;
        cx.max_calls += 1;
        let call = self.gen_call(cx, child);
        let extra = cx.used.minus(before);
        cx.limit.work = cx.limit.work.saturating_add(extra.work);
        cx.limit.prints = cx.limit.prints.saturating_add(extra.prints);
        match call.ret {
            Some(Ty::I64) if cx.can_print() && self.rng.chance(1, 2) => {
                cx.note_print();
                Stmt::Print(Expr::Call(call))
            }
            Some(ty) if self.rng.chance(2, 3) => {
                let name = cx.fresh(if ty == Ty::Bool { BOOL_LOCAL_WORDS } else { LOCAL_WORDS }, &mut self.rng);
                let mutable = self.rng.chance(1, 3);
                cx.scopes.last_mut().expect("scope").push(Local { name: name.clone(), ty, mutable, counter: false });
                Stmt::Let { name, mutable, annotate: self.rng.chance(1, 2), ty, value: Expr::Call(call) }
            }
            _ => Stmt::Call(call),
        }
    }

    /// Spreads the planned calls of `parent` over the top-level statement slots `0..=n`.
    fn planned_slots(&mut self, parent: Parent, n: usize) -> Vec<Vec<(usize, usize)>> {
        let mut slots = vec![Vec::new(); n + 1];
        for child in self.children.get(&parent).cloned().unwrap_or_default() {
            slots[self.rng.range_usize(0, n)].push(child);
        }
        slots
    }

    fn count(&mut self, max: usize, at_least_one: bool) -> usize {
        if !self.cfg.vary_sizes {
            return max;
        }
        if at_least_one {
            self.rng.range_usize((max / 2).max(1), max.max(1))
        } else {
            self.rng.range_usize(0, max)
        }
    }

    fn gen_module(&mut self, m: usize) {
        for k in 0..self.mods[m].consts.len() {
            self.gen_const(m, k);
        }
        for f in 0..self.mods[m].fns.len() {
            self.gen_fn(m, f);
        }
        for k in 0..self.mods[m].globals.len() {
            self.gen_global(m, k);
        }
        if self.mods[m].main_ret.is_some() {
            self.gen_main(m);
        }
        self.gen_layout(m);
    }

    /// Items after the imports: consts and globals keep their relative order (initialisation order is source
    /// order, and consts only refer to earlier consts), while functions are scattered anywhere, so calls to
    /// functions defined further down are exercised.
    fn gen_layout(&mut self, m: usize) {
        let md = &self.mods[m];
        let mut values: Vec<ItemRef> = Vec::new();
        let (mut c, mut g) = (0, 0);
        while c < md.consts.len() || g < md.globals.len() {
            let take_const = g >= md.globals.len() || (c < md.consts.len() && self.rng.chance(1, 2));
            if take_const {
                values.push(ItemRef::Const(c));
                c += 1;
            } else {
                values.push(ItemRef::Global(g));
                g += 1;
            }
        }
        let mut fns: Vec<ItemRef> = (0..md.fns.len()).map(ItemRef::Fn).collect();
        if md.main_ret.is_some() {
            fns.push(ItemRef::Main);
        }
        self.rng.shuffle(&mut fns);
        let mut layout = Vec::new();
        let (mut vi, mut fi) = (0, 0);
        while vi < values.len() || fi < fns.len() {
            if self.cfg.comments && self.rng.chance(1, 8) {
                layout.push(ItemRef::Comment(self.rng.below(COMMENTS.len() as u64)));
            }
            let take_value = fi >= fns.len() || (vi < values.len() && self.rng.chance(1, 2));
            if take_value {
                layout.push(values[vi]);
                vi += 1;
            } else {
                layout.push(fns[fi]);
                fi += 1;
            }
        }
        self.mods[m].layout = layout;
    }

    fn new_cx(&self, m: usize, mode: Mode, limit: Usage, max_calls: usize) -> Cx {
        Cx {
            module: m,
            mode,
            scopes: vec![Vec::new()],
            next_name: 0,
            ret: None,
            can_return: false,
            mult: 1,
            used: Usage::default(),
            limit,
            print_weight: 1,
            calls: 0,
            max_calls,
            pure: 0,
            touches: BTreeSet::new(),
            callees: Vec::new(),
        }
    }

    /// `pub` functions of every imported module, which any code of module `m` may call.
    fn imported_callees(&self, m: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for &j in &self.mods[m].imports {
            for (f, item) in self.mods[j].fns.iter().enumerate() {
                if item.is_pub {
                    out.push((j, f));
                }
            }
        }
        out
    }

    fn gen_const(&mut self, m: usize, k: usize) {
        let ty = self.mods[m].consts[k].ty;
        let limit = Usage { work: u64::MAX, prints: 0, own_work: u64::MAX, own_prints: 0 };
        let mut cx = self.new_cx(m, Mode::Const { limit: k }, limit, 0);
        // Unguarded divisors are allowed in consts because folding rejects the ones that divide by zero.
        for attempt in 0..20 {
            let depth = if attempt < 10 { self.cfg.max_expr_depth } else { 0 };
            let expr = self.gen_expr(&mut cx, ty, depth);
            if let Some(value) = eval_const(&expr) {
                let item = &mut self.mods[m].consts[k];
                item.expr = expr;
                item.value = value;
                return;
            }
        }
        let item = &mut self.mods[m].consts[k];
        (item.expr, item.value) =
            if ty == Ty::Bool { (Expr::Bool(true), Val::B(true)) } else { (Expr::int(7), Val::I(7)) };
    }

    fn gen_global(&mut self, m: usize, k: usize) {
        let ty = self.mods[m].globals[k].ty;
        let work = self.cfg.init_work_budget;
        let limit = Usage { work, prints: 16, own_work: work, own_prints: 4 };
        let mut cx = self.new_cx(m, Mode::Init { limit: k }, limit, 2);
        let mut callees: Vec<(usize, usize)> = (0..self.mods[m].fns.len()).map(|f| (m, f)).collect();
        callees.extend(self.imported_callees(m));
        cx.callees = callees;
        let depth = (self.cfg.max_expr_depth / 2 + 1).min(self.cfg.max_expr_depth.max(1));
        let init = self.gen_expr(&mut cx, ty, depth);
        self.mods[m].globals[k].init = Some(init);
    }

    fn gen_fn(&mut self, m: usize, f: usize) {
        let cfg = self.cfg;
        let item = self.mods[m].fns[f].clone();
        let factor = item.rec_depth.map_or(1, |d| d + 1);
        let limit = Usage {
            work: cfg.fn_work_budget / factor,
            prints: (100 / factor).max(2),
            own_work: cfg.own_work_budget / factor,
            own_prints: 1,
        };
        let mut cx = self.new_cx(m, Mode::Fn, limit, cfg.max_calls_per_fn);
        cx.ret = item.ret;
        cx.can_return = true;
        let mut callees: Vec<(usize, usize)> = (0..f).map(|g| (m, g)).collect();
        callees.extend(self.imported_callees(m));
        cx.callees = callees;
        for (name, ty) in &item.params {
            cx.scopes[0].push(Local { name: name.clone(), ty: *ty, mutable: false, counter: false });
        }
        let mut stmts = Vec::new();
        if item.rec_depth.is_some() {
            stmts.push(self.recursion_guard(&mut cx));
        }
        let n = self.rng.range_usize(cfg.min_stmts, cfg.max_stmts.max(cfg.min_stmts));
        let rec_at = item.rec_depth.map(|_| self.rng.range_usize(0, n));
        let slots = self.planned_slots(Parent::Fn(m, f), n);
        let last_planned = slots.iter().rposition(|s| !s.is_empty());
        for (i, slot) in slots.into_iter().enumerate() {
            // No early `return` before the last planned call, or whole subtrees of the call tree would rarely run.
            cx.can_return = last_planned.is_none_or(|l| i >= l);
            if rec_at == Some(i) {
                stmts.push(self.self_call(&mut cx, m, f));
            }
            for child in slot {
                stmts.push(self.planned_call(&mut cx, child));
            }
            if i < n {
                stmts.extend(self.gen_stmt(&mut cx, 2));
            }
        }
        let tail = item.ret.map(|t| self.gen_expr(&mut cx, t, cfg.max_expr_depth));
        let item = &mut self.mods[m].fns[f];
        item.body = Some(Block { stmts, tail });
        item.cost = cx.used.work.saturating_add(1).saturating_mul(factor);
        item.prints = cx.used.prints.saturating_mul(factor);
        item.touches = cx.touches;
    }

    fn gen_main(&mut self, m: usize) {
        let cfg = self.cfg;
        let work = cfg.main_work_budget;
        let limit = Usage { work, prints: 3_000, own_work: work, own_prints: 300 };
        let mut cx = self.new_cx(m, Mode::Fn, limit, cfg.max_calls_per_fn * 3);
        cx.print_weight = 3;
        cx.ret = self.mods[m].main_ret.flatten();
        cx.can_return = true;
        let mut callees: Vec<(usize, usize)> = (0..self.mods[m].fns.len()).map(|f| (m, f)).collect();
        callees.extend(self.imported_callees(m));
        cx.callees = callees;
        let mut stmts = Vec::new();
        // `main` always prints a few values first, so the stdout comparison has something to compare.
        for _ in 0..self.rng.range_usize(1, 3) {
            let e = self.gen_expr(&mut cx, Ty::I64, cfg.max_expr_depth);
            cx.note_print();
            stmts.push(Stmt::Print(e));
        }
        let n = self.rng.range_usize(cfg.min_stmts.max(3), cfg.max_stmts.max(3) * 2);
        let slots = self.planned_slots(Parent::Main, n);
        let last_planned = slots.iter().rposition(|s| !s.is_empty());
        for (i, slot) in slots.into_iter().enumerate() {
            cx.can_return = last_planned.is_none_or(|l| i >= l);
            for child in slot {
                stmts.push(self.planned_call(&mut cx, child));
            }
            if i < n {
                stmts.extend(self.gen_stmt(&mut cx, 2));
            }
        }
        // Printing some globals at the end shows the effect of every assignment made on the way.
        let globals = self.readable(&cx, Ty::I64, true);
        for _ in 0..self.rng.range_usize(0, 2) {
            if !globals.is_empty() {
                let item = *self.rng.pick(&globals);
                stmts.push(Stmt::Print(Expr::Name(self.use_item(&mut cx, item))));
            }
        }
        let tail = cx.ret.map(|t| self.gen_expr(&mut cx, t, cfg.max_expr_depth));
        self.mods[m].main_body = Some(Block { stmts, tail });
    }

    /// `if depth <= 0 { return BASE; }`, the first statement of every self-recursive function.
    fn recursion_guard(&mut self, cx: &mut Cx) -> Stmt {
        let depth = Expr::Name(local_ref("depth", Ty::I64, false));
        let cond = match self.rng.below(3) {
            0 => Expr::bin(BinOp::Le, depth, Expr::int(0)),
            1 => Expr::bin(BinOp::Lt, depth, Expr::int(1)),
            _ => Expr::Unary(UnOp::Not, Box::new(Expr::Paren(Box::new(Expr::bin(BinOp::Gt, depth, Expr::int(0)))))),
        };
        let value = cx.ret.map(|t| self.gen_expr(cx, t, 1));
        Stmt::If(IfChain { cond, then: Block { stmts: vec![Stmt::Return(value)], tail: None }, els: None })
    }

    /// The one self-call of a recursive function, at top level (never in a loop), with `depth - 1`.
    fn self_call(&mut self, cx: &mut Cx, m: usize, f: usize) -> Stmt {
        let item = self.mods[m].fns[f].clone();
        let mut args = vec![Expr::bin(BinOp::Sub, Expr::Name(local_ref("depth", Ty::I64, false)), Expr::int(1))];
        for (_, ty) in &item.params[1..] {
            args.push(self.gen_expr(cx, *ty, 1));
        }
        let call = Call { lks: item.name.clone(), c: fn_c_name(&self.mods[m].name, &item.name), args, ret: item.ret };
        match item.ret {
            Some(ty) => {
                let name = cx.fresh(if ty == Ty::Bool { BOOL_LOCAL_WORDS } else { LOCAL_WORDS }, &mut self.rng);
                cx.scopes.last_mut().expect("scope").push(Local {
                    name: name.clone(),
                    ty,
                    mutable: false,
                    counter: false,
                });
                Stmt::Let { name, mutable: false, annotate: self.rng.chance(1, 2), ty, value: Expr::Call(call) }
            }
            None => Stmt::Call(call),
        }
    }

    // ----- statements -----

    fn gen_stmt(&mut self, cx: &mut Cx, nest: usize) -> Vec<Stmt> {
        let mut opts: Vec<(u64, StmtKind)> = vec![(5, StmtKind::Let)];
        if !self.assign_targets(cx).is_empty() {
            opts.push((4, StmtKind::Assign));
        }
        if nest > 0 {
            opts.push((3, StmtKind::If));
            if cx.own_remaining() / cx.mult.max(1) >= 60 {
                opts.push((3, StmtKind::While));
            }
            opts.push((1, StmtKind::Block));
        }
        if cx.can_print() {
            opts.push((cx.print_weight, StmtKind::Print));
        }
        if self.can_afford_any(cx, None) {
            opts.push((3, StmtKind::Call));
        }
        if cx.can_return {
            opts.push((1, StmtKind::Return));
        }
        if self.cfg.comments {
            opts.push((1, StmtKind::Comment));
        }
        let depth = self.cfg.max_expr_depth;
        match self.weighted(&opts) {
            StmtKind::Let => vec![self.gen_let(cx, depth)],
            StmtKind::Assign => vec![self.gen_assign(cx, depth)],
            StmtKind::If => {
                let chain = self.gen_if_stmt(cx, nest);
                vec![Stmt::If(chain)]
            }
            StmtKind::While => self.gen_while(cx, nest),
            StmtKind::Block => {
                cx.scopes.push(Vec::new());
                let block = self.gen_unit_block(cx, nest - 1);
                cx.scopes.pop();
                vec![Stmt::Block(block)]
            }
            StmtKind::Print => {
                let e = self.gen_expr(cx, Ty::I64, depth);
                cx.note_print();
                vec![Stmt::Print(e)]
            }
            StmtKind::Call => {
                let callees = self.affordable(cx, None);
                let callee = self.pick_callee(&callees);
                vec![Stmt::Call(self.gen_call(cx, callee))]
            }
            StmtKind::Return => {
                // A mid-function return always sits in an `if`, so nothing after it is unreachable.
                let cond = self.gen_expr(cx, Ty::Bool, depth.min(2));
                let mut then = Block::default();
                if self.rng.chance(1, 3) && cx.can_print() {
                    let e = self.gen_expr(cx, Ty::I64, 1);
                    cx.note_print();
                    then.stmts.push(Stmt::Print(e));
                }
                let value = cx.ret.map(|t| self.gen_expr(cx, t, depth));
                then.stmts.push(Stmt::Return(value));
                vec![Stmt::If(IfChain { cond, then, els: None })]
            }
            StmtKind::Comment => vec![Stmt::Comment(self.rng.pick(COMMENTS).to_string())],
        }
    }

    /// A block of statements without a value, in a fresh scope pushed by the caller.
    fn gen_unit_block(&mut self, cx: &mut Cx, nest: usize) -> Block {
        let n = self.rng.range_usize(1, 2);
        let mut stmts = Vec::new();
        for _ in 0..n {
            stmts.extend(self.gen_stmt(cx, nest));
        }
        Block { stmts, tail: None }
    }

    fn gen_if_stmt(&mut self, cx: &mut Cx, nest: usize) -> IfChain {
        let cond = self.gen_expr(cx, Ty::Bool, self.cfg.max_expr_depth);
        let base = cx.used;
        let (then, used_then) = self.branch(cx, base, |g, cx| {
            cx.scopes.push(Vec::new());
            let b = g.gen_unit_block(cx, nest - 1);
            cx.scopes.pop();
            b
        });
        let (els, used_else) = self.branch(cx, base, |g, cx| match g.rng.below(7) {
            0..=2 => None,
            3..=5 => {
                cx.scopes.push(Vec::new());
                let b = g.gen_unit_block(cx, nest - 1);
                cx.scopes.pop();
                Some(Else::Block(b))
            }
            _ => Some(Else::If(Box::new(g.gen_if_stmt(cx, nest)))),
        });
        Self::join_branches(cx, base, used_then, used_else);
        IfChain { cond, then, els }
    }

    /// Generates one of several mutually exclusive branches from the counters `base` and returns what it used,
    /// resetting the counters, so the caller can charge only the most expensive branch: an upper bound that is
    /// much tighter than the sum, which leaves budget for deeper call chains.
    fn branch<T>(&mut self, cx: &mut Cx, base: Usage, f: impl FnOnce(&mut Self, &mut Cx) -> T) -> (T, Usage) {
        let out = f(self, cx);
        let used = cx.used.minus(base);
        cx.used = base;
        (out, used)
    }

    fn join_branches(cx: &mut Cx, base: Usage, a: Usage, b: Usage) {
        cx.used = base.plus_max(a, b);
    }

    fn gen_let(&mut self, cx: &mut Cx, depth: usize) -> Stmt {
        let ty = if self.rng.chance(1, 5) { Ty::Bool } else { Ty::I64 };
        let value = self.gen_expr(cx, ty, depth);
        let name = cx.fresh(if ty == Ty::Bool { BOOL_LOCAL_WORDS } else { LOCAL_WORDS }, &mut self.rng);
        let mutable = self.rng.chance(1, 2);
        cx.scopes.last_mut().expect("scope").push(Local { name: name.clone(), ty, mutable, counter: false });
        Stmt::Let { name, mutable, annotate: self.rng.chance(2, 5), ty, value }
    }

    /// Places the current code may assign: mutable non-counter locals, own globals and imported `pub` globals.
    fn assign_targets(&self, cx: &Cx) -> Vec<(NameRef, Option<usize>)> {
        let mut out: Vec<(NameRef, Option<usize>)> =
            cx.locals().filter(|l| l.mutable && !l.counter).map(|l| (local_ref(&l.name, l.ty, true), None)).collect();
        let own_limit = match cx.mode {
            Mode::Const { .. } => return Vec::new(),
            Mode::Init { limit } if !self.cfg.allow_reads_before_init => limit,
            _ => usize::MAX,
        };
        let md = &self.mods[cx.module];
        for (k, g) in md.globals.iter().enumerate().take(own_limit) {
            out.push((global_ref(&md.name, &g.name, g.ty, false), Some(k)));
        }
        for &j in &md.imports {
            let mj = &self.mods[j];
            for g in mj.globals.iter().filter(|g| g.is_pub) {
                out.push((global_ref(&mj.name, &g.name, g.ty, true), None));
            }
        }
        out
    }

    fn gen_assign(&mut self, cx: &mut Cx, depth: usize) -> Stmt {
        let targets = self.assign_targets(cx);
        let (target, own) = self.rng.pick(&targets).clone();
        if let Some(k) = own {
            cx.touches.insert(k);
        }
        let value = if target.ty == Ty::I64 && self.rng.chance(1, 2) {
            // Accumulating into the target keeps values evolving from one statement to the next.
            let op = *self.rng.pick(&[BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Add]);
            let rhs = self.gen_expr(cx, Ty::I64, depth.saturating_sub(1));
            Expr::bin(op, Expr::Name(target.clone()), rhs)
        } else if target.ty == Ty::Bool && self.rng.chance(1, 3) {
            Expr::Unary(UnOp::Not, Box::new(Expr::Name(target.clone())))
        } else {
            self.gen_expr(cx, target.ty, depth)
        };
        Stmt::Assign { lks: target.lks, c: target.c, value }
    }

    /// A counter loop: `let mut i = 0; while i < N { ...; i = i + 1; }` or the counting-down variant.
    fn gen_while(&mut self, cx: &mut Cx, nest: usize) -> Vec<Stmt> {
        let per_trip = cx.mult.saturating_mul(30);
        let affordable = cx.own_remaining() / per_trip.max(1);
        let trips = self.rng.range(1, self.cfg.max_loop_trips.max(1)).min(affordable);
        if trips < 2 {
            return vec![self.gen_let(cx, 1)];
        }
        let counter = cx.fresh(&["i", "j", "k"], &mut self.rng);
        let up = self.rng.chance(2, 3);
        let cref = local_ref(&counter, Ty::I64, true);
        let start = if up { 0 } else { trips };
        let init = Stmt::Let {
            name: counter.clone(),
            mutable: true,
            annotate: self.rng.chance(1, 3),
            ty: Ty::I64,
            value: Expr::int(start),
        };
        cx.scopes.last_mut().expect("scope").push(Local {
            name: counter.clone(),
            ty: Ty::I64,
            mutable: true,
            counter: true,
        });
        let mut cond = if up {
            Expr::bin(BinOp::Lt, Expr::Name(cref.clone()), Expr::int(trips))
        } else {
            Expr::bin(BinOp::Gt, Expr::Name(cref.clone()), Expr::int(0))
        };
        let saved = cx.mult;
        cx.mult = cx.mult.saturating_mul(trips + 1);
        if self.rng.chance(1, 4) {
            // An extra pure condition can only end the loop earlier, so the trip bound still holds.
            cx.pure += 1;
            let extra = self.gen_expr(cx, Ty::Bool, 2);
            cx.pure -= 1;
            cond = Expr::bin(BinOp::And, cond, extra);
        }
        cx.mult = saved.saturating_mul(trips);
        cx.scopes.push(Vec::new());
        let n = self.rng.range_usize(1, (self.cfg.max_stmts / 4).max(2));
        let mut stmts = Vec::new();
        for _ in 0..n {
            stmts.extend(self.gen_stmt(cx, nest - 1));
        }
        cx.scopes.pop();
        cx.mult = saved;
        let step = if up {
            Expr::bin(BinOp::Add, Expr::Name(cref.clone()), Expr::int(1))
        } else {
            Expr::bin(BinOp::Sub, Expr::Name(cref.clone()), Expr::int(1))
        };
        stmts.push(Stmt::Assign { lks: cref.lks.clone(), c: cref.c.clone(), value: step });
        vec![init, Stmt::While { cond, body: Block { stmts, tail: None } }]
    }

    // ----- expressions -----

    /// Callees the current code can still afford, optionally only those returning `ret`.
    fn affordable(&self, cx: &Cx, ret: Option<Ty>) -> Vec<(usize, usize)> {
        if cx.is_pure() || cx.calls >= cx.max_calls {
            return Vec::new();
        }
        cx.callees.iter().copied().filter(|&c| self.callable(cx, ret, c)).collect()
    }

    /// Whether [`Self::affordable`] would be non-empty, without building the list.
    fn can_afford_any(&self, cx: &Cx, ret: Option<Ty>) -> bool {
        !cx.is_pure() && cx.calls < cx.max_calls && cx.callees.iter().any(|&c| self.callable(cx, ret, c))
    }

    /// Whether the current code may call `(m, f)`: right return type, within the work and print budgets,
    /// and (in a global initialiser) touching no global of its own module that is not initialised yet.
    fn callable(&self, cx: &Cx, ret: Option<Ty>, (m, f): (usize, usize)) -> bool {
        let item = &self.mods[m].fns[f];
        if ret.is_some() && item.ret != ret {
            return false;
        }
        if let Mode::Init { limit } = cx.mode {
            if m == cx.module && !self.cfg.allow_reads_before_init && item.touches.iter().any(|&k| k >= limit) {
                return false;
            }
        }
        // Inside a loop only silent callees are allowed: printing callees there would multiply their output
        // by the trip count and exhaust every caller's print budget after a level or two.
        if cx.mult > 1 && item.prints > 0 {
            return false;
        }
        let cost = cx.mult.saturating_mul(item.cost);
        let prints = cx.mult.saturating_mul(item.prints);
        cost <= cx.remaining() && cx.used.prints.saturating_add(prints) <= cx.limit.prints
    }

    /// Picks a callee, preferring functions without a call site yet: uniformly random picks would leave half of
    /// a bench program uncalled (dead code that a pipeline might drop and that no run would exercise).
    fn pick_callee(&mut self, callees: &[(usize, usize)]) -> (usize, usize) {
        let fresh: Vec<(usize, usize)> = callees.iter().copied().filter(|c| !self.call_sites.contains_key(c)).collect();
        if !fresh.is_empty() && self.rng.chance(3, 4) {
            *self.rng.pick(&fresh)
        } else {
            *self.rng.pick(callees)
        }
    }

    fn gen_call(&mut self, cx: &mut Cx, (m, f): (usize, usize)) -> Call {
        let item = self.mods[m].fns[f].clone();
        cx.calls += 1;
        *self.call_sites.entry((m, f)).or_default() += 1;
        cx.used.work = cx.used.work.saturating_add(cx.mult.saturating_mul(item.cost));
        cx.used.prints = cx.used.prints.saturating_add(cx.mult.saturating_mul(item.prints));
        if m == cx.module {
            cx.touches.extend(item.touches.iter().copied());
        }
        let mut args = Vec::new();
        let arg_depth = self.cfg.max_expr_depth.saturating_sub(1).min(2);
        for (i, (_, ty)) in item.params.iter().enumerate() {
            if i == 0 && item.rec_depth.is_some() {
                let d = item.rec_depth.unwrap_or(1);
                // The depth argument stays at most `d`; a negative value just means the base case.
                args.push(if self.rng.chance(1, 2) {
                    Expr::int(self.rng.range(0, d))
                } else {
                    let e = self.gen_expr(cx, Ty::I64, 1);
                    Expr::bin(BinOp::Rem, e, Expr::int(d + 1))
                });
            } else {
                args.push(self.gen_expr(cx, *ty, arg_depth));
            }
        }
        let (lks, c) = if m == cx.module {
            (item.name.clone(), fn_c_name(&self.mods[m].name, &item.name))
        } else {
            (format!("{}::{}", self.mods[m].name, item.name), fn_c_name(&self.mods[m].name, &item.name))
        };
        Call { lks, c, args, ret: item.ret }
    }

    /// Names of type `ty` the current code may read.
    /// Consts and globals of type `ty` the current code may read (globals only when `globals_only`), as cheap
    /// handles; only the one picked is turned into a [`NameRef`], which keeps bench-sized generation fast.
    fn readable(&self, cx: &Cx, ty: Ty, globals_only: bool) -> Vec<ItemName> {
        let md = &self.mods[cx.module];
        let mut out = Vec::new();
        if !globals_only {
            let const_limit = match cx.mode {
                Mode::Const { limit } => limit,
                _ => usize::MAX,
            };
            for (k, c) in md.consts.iter().enumerate().take(const_limit) {
                if c.ty == ty {
                    out.push(ItemName::Const(cx.module, k));
                }
            }
            for &j in &md.imports {
                for (k, c) in self.mods[j].consts.iter().enumerate() {
                    if c.is_pub && c.ty == ty {
                        out.push(ItemName::Const(j, k));
                    }
                }
            }
        }
        let global_limit = match cx.mode {
            Mode::Const { .. } => return out,
            Mode::Init { limit } if !self.cfg.allow_reads_before_init => limit,
            _ => usize::MAX,
        };
        for (k, g) in md.globals.iter().enumerate().take(global_limit) {
            if g.ty == ty {
                out.push(ItemName::Global(cx.module, k));
            }
        }
        for &j in &md.imports {
            for (k, g) in self.mods[j].globals.iter().enumerate() {
                if g.is_pub && g.ty == ty {
                    out.push(ItemName::Global(j, k));
                }
            }
        }
        out
    }

    /// Turns a handle into a name, recording a read of an own-module global in the function's `touches`.
    fn use_item(&self, cx: &mut Cx, item: ItemName) -> NameRef {
        match item {
            ItemName::Const(m, k) => const_ref(&self.mods[m].name, &self.mods[m].consts[k], m != cx.module),
            ItemName::Global(m, k) => {
                if m == cx.module {
                    cx.touches.insert(k);
                }
                let g = &self.mods[m].globals[k];
                global_ref(&self.mods[m].name, &g.name, g.ty, m != cx.module)
            }
        }
    }

    /// A random local of type `ty` (optionally only immutable or only mutable non-counter ones).
    fn pick_local(&mut self, cx: &Cx, ty: Ty, filter: LocalFilter) -> Option<NameRef> {
        let ok = |l: &&Local| {
            l.ty == ty
                && match filter {
                    LocalFilter::Any => true,
                    LocalFilter::Immutable => !l.mutable,
                    LocalFilter::Assignable => l.mutable && !l.counter,
                }
        };
        let count = cx.locals().filter(ok).count();
        if count == 0 {
            return None;
        }
        let l = cx.locals().filter(ok).nth(self.rng.below(count as u64) as usize).expect("counted");
        Some(local_ref(&l.name, l.ty, l.mutable))
    }

    fn gen_leaf(&mut self, cx: &mut Cx, ty: Ty) -> Expr {
        if self.rng.chance(3, 5) {
            if let Some(local) = self.pick_local(cx, ty, LocalFilter::Any) {
                return Expr::Name(local);
            }
        }
        if self.rng.chance(1, 2) {
            let items = self.readable(cx, ty, false);
            if !items.is_empty() {
                let item = *self.rng.pick(&items);
                return Expr::Name(self.use_item(cx, item));
            }
        }
        match ty {
            Ty::Bool => Expr::Bool(self.rng.chance(1, 2)),
            Ty::I64 => self.gen_literal(),
        }
    }

    fn gen_literal(&mut self) -> Expr {
        match self.rng.below(24) {
            0..=12 => Expr::int(self.rng.range(0, 20)),
            13..=16 => Expr::Int(self.rng.range(21, 100_000), self.rng.chance(1, 3)),
            // Large values make additions and multiplications overflow, which must wrap.
            17..=19 => Expr::Int(self.rng.range(1 << 40, i64::MAX as u64), self.rng.chance(1, 2)),
            20 => Expr::int(i64::MAX as u64 - self.rng.range(0, 3)),
            21 | 22 => Expr::int(1u64 << self.rng.range(31, 62)),
            _ => Expr::min(),
        }
    }

    fn gen_expr(&mut self, cx: &mut Cx, ty: Ty, depth: usize) -> Expr {
        cx.used.work = cx.used.work.saturating_add(cx.mult);
        cx.used.own_work = cx.used.own_work.saturating_add(cx.mult);
        if depth == 0 || self.rng.chance(1, 6) {
            return self.gen_leaf(cx, ty);
        }
        let pure = cx.is_pure();
        let can_call = self.can_afford_any(cx, Some(ty));
        let mut opts: Vec<(u64, ExprKind)> = vec![(2, ExprKind::Leaf), (1, ExprKind::Paren)];
        match ty {
            Ty::I64 => {
                opts.extend([(5, ExprKind::Arith), (2, ExprKind::DivRem), (1, ExprKind::Neg), (1, ExprKind::MinEdge)]);
                if !pure && cx.locals().any(|l| l.ty == Ty::I64 && !l.mutable) {
                    opts.push((1, ExprKind::GuardedDiv));
                }
            }
            Ty::Bool => opts.extend([(5, ExprKind::Cmp), (3, ExprKind::Logic), (1, ExprKind::Not)]),
        }
        if can_call {
            opts.push((3, ExprKind::Call));
            if ty == Ty::I64 {
                opts.push((2, ExprKind::Interleave));
            }
        }
        // Value `if`s and blocks spread over many lines, so they stay near the top of expression trees.
        if !pure && depth >= 2 {
            opts.push((1, ExprKind::If));
        }
        if !pure && depth >= 3 {
            opts.push((1, ExprKind::Block));
        }
        let d = depth - 1;
        match self.weighted(&opts) {
            ExprKind::Leaf => self.gen_leaf(cx, ty),
            ExprKind::Paren => Expr::Paren(Box::new(self.gen_expr(cx, ty, d))),
            ExprKind::Arith => {
                let op = *self.rng.pick(&[BinOp::Add, BinOp::Sub, BinOp::Mul]);
                let a = self.gen_operand(cx, Ty::I64, d);
                let b = self.gen_operand(cx, Ty::I64, d);
                Expr::bin(op, a, b)
            }
            ExprKind::DivRem => {
                let op = if self.rng.chance(1, 2) { BinOp::Div } else { BinOp::Rem };
                let a = if self.rng.chance(1, 16) { Expr::min() } else { self.gen_operand(cx, Ty::I64, d) };
                let b = self.gen_divisor(cx, d);
                Expr::bin(op, a, b)
            }
            ExprKind::GuardedDiv => self.gen_guarded_div(cx, d),
            ExprKind::Neg => Expr::Unary(UnOp::Neg, Box::new(self.gen_operand(cx, Ty::I64, d))),
            ExprKind::Call => {
                let callees = self.affordable(cx, Some(ty));
                let callee = self.pick_callee(&callees);
                Expr::Call(self.gen_call(cx, callee))
            }
            ExprKind::If => Expr::If(Box::new(self.gen_if_expr(cx, ty, d)), ty),
            ExprKind::Block => self.gen_block_expr(cx, ty, d),
            ExprKind::Cmp => {
                let op = *self.rng.pick(&[BinOp::Eq, BinOp::Ne, BinOp::Lt, BinOp::Le, BinOp::Gt, BinOp::Ge]);
                let a = self.gen_operand(cx, Ty::I64, d);
                let b = self.gen_operand(cx, Ty::I64, d);
                Expr::bin(op, a, b)
            }
            ExprKind::Logic => {
                let op = if self.rng.chance(1, 2) { BinOp::And } else { BinOp::Or };
                let a = self.gen_operand(cx, Ty::Bool, d);
                let b = self.gen_operand(cx, Ty::Bool, d);
                Expr::bin(op, a, b)
            }
            ExprKind::Not => Expr::Unary(UnOp::Not, Box::new(self.gen_operand(cx, Ty::Bool, d))),
            ExprKind::MinEdge => self.gen_min_edge(cx),
            ExprKind::Interleave => self.gen_interleave(cx, d),
        }
    }

    /// `MIN / -1` and `MIN % -1`, with the `MIN` often coming from a variable, so that not every instance can
    /// be folded at compile time (C and LLVM both leave these undefined; the helpers and lockstep must not).
    fn gen_min_edge(&mut self, cx: &mut Cx) -> Expr {
        let lhs = if self.rng.chance(1, 3) {
            Expr::min()
        } else {
            // `v - v - 1 - MAX` is MIN for every `v`, computed at run time.
            let n = self.pick_variable(cx);
            Expr::bin(
                BinOp::Sub,
                Expr::bin(BinOp::Sub, Expr::bin(BinOp::Sub, n.clone(), n), Expr::int(1)),
                Expr::int(i64::MAX as u64),
            )
        };
        let op = if self.rng.chance(1, 2) { BinOp::Div } else { BinOp::Rem };
        let divisor = if self.rng.chance(1, 2) {
            Expr::Unary(UnOp::Neg, Box::new(Expr::int(1)))
        } else {
            // `e % 2 * (e % 2) - 2` is -1 for odd `e` and -2 for even `e`: never zero, and a -1 that only
            // shows up at run time, where a plain `sdiv`/`srem` instruction would trap on MIN.
            let n = self.pick_variable(cx);
            let half = || Expr::bin(BinOp::Rem, n.clone(), Expr::int(2));
            Expr::bin(BinOp::Sub, Expr::bin(BinOp::Mul, half(), half()), Expr::int(2))
        };
        Expr::bin(op, lhs, divisor)
    }

    /// An i64 value that is not a compile-time constant: a local or a global, else a literal.
    fn pick_variable(&mut self, cx: &mut Cx) -> Expr {
        if self.rng.chance(1, 2) {
            if let Some(local) = self.pick_local(cx, Ty::I64, LocalFilter::Any) {
                return Expr::Name(local);
            }
        }
        let globals = self.readable(cx, Ty::I64, true);
        if globals.is_empty() {
            return self.gen_literal();
        }
        let item = *self.rng.pick(&globals);
        Expr::Name(self.use_item(cx, item))
    }

    /// `g OP f(...)` where `f` may write `g` (its own-module globals are preferred), or `x OP { x = ...; x }`:
    /// the `.lks` result depends on reading the left operand first, which is exactly what the C translation
    /// must preserve with temporaries.
    fn gen_interleave(&mut self, cx: &mut Cx, depth: usize) -> Expr {
        let op = *self.rng.pick(&[BinOp::Add, BinOp::Sub, BinOp::Mul]);
        let mutable = if self.rng.chance(1, 4) { self.pick_local(cx, Ty::I64, LocalFilter::Assignable) } else { None };
        if let Some(x) = mutable {
            let value = self.gen_expr(cx, Ty::I64, depth.min(1));
            let assign = Stmt::Assign { lks: x.lks.clone(), c: x.c.clone(), value };
            let tail = Expr::bin(BinOp::Mul, Expr::Name(x.clone()), Expr::int(2));
            let block = Expr::Block(Box::new(Block { stmts: vec![assign], tail: Some(tail) }), Ty::I64);
            return Expr::bin(op, Expr::Name(x), block);
        }
        let callees = self.affordable(cx, Some(Ty::I64));
        let callee = self.pick_callee(&callees);
        let md = &self.mods[callee.0];
        let written: Vec<ItemName> = if callee.0 == cx.module {
            md.fns[callee.1]
                .touches
                .iter()
                .filter(|&&k| md.globals[k].ty == Ty::I64)
                .map(|&k| ItemName::Global(callee.0, k))
                .collect()
        } else {
            Vec::new()
        };
        let candidates = if written.is_empty() { self.readable(cx, Ty::I64, true) } else { written };
        let lhs_item = (!candidates.is_empty()).then(|| *self.rng.pick(&candidates));
        let lhs = match lhs_item {
            Some(item) => {
                let e = Expr::Name(self.use_item(cx, item));
                if self.rng.chance(1, 3) {
                    Expr::Unary(UnOp::Neg, Box::new(e))
                } else {
                    e
                }
            }
            None => self.gen_leaf(cx, Ty::I64),
        };
        let call = Expr::Call(self.gen_call(cx, callee));
        Expr::bin(op, lhs, call)
    }

    /// An operand of an operator: an `if` or block operand is parenthesised half the time, so both the bare
    /// form (valid per the grammar) and the parenthesised one are exercised.
    fn gen_operand(&mut self, cx: &mut Cx, ty: Ty, depth: usize) -> Expr {
        let e = self.gen_expr(cx, ty, depth);
        if matches!(e, Expr::If(..) | Expr::Block(..)) && self.rng.chance(1, 2) {
            Expr::Paren(Box::new(e))
        } else {
            e
        }
    }

    /// A divisor that is never zero (unless division by zero is allowed), covering negative divisors and -1.
    fn gen_divisor(&mut self, cx: &mut Cx, depth: usize) -> Expr {
        // Consts may always try an unguarded divisor (folding rejects zero); at run time only one divisor in
        // 80 is unguarded, so that most programs with `allow_div_by_zero` still run to the end.
        let is_const = matches!(cx.mode, Mode::Const { .. });
        let unguarded = is_const || (self.cfg.allow_div_by_zero && self.rng.chance(1, 80));
        let form = if unguarded { 5 } else { self.rng.below(5) };
        match form {
            0 => {
                let k = self.rng.range(2, 9);
                let e = self.gen_expr(cx, Ty::I64, depth);
                Expr::bin(BinOp::Add, Expr::bin(BinOp::Rem, e, Expr::int(k)), Expr::int(k + self.rng.range(0, 5)))
            }
            1 => {
                let k = self.rng.range(2, 9);
                let e = self.gen_expr(cx, Ty::I64, depth);
                Expr::bin(BinOp::Sub, Expr::bin(BinOp::Rem, e, Expr::int(k)), Expr::int(k + self.rng.range(0, 5)))
            }
            2 => Expr::Unary(UnOp::Neg, Box::new(Expr::int(1))),
            3 => {
                let v = *self.rng.pick(&[1, 2, 3, 7, 10, 1000, 4_294_967_296, i64::MAX as u64]);
                if self.rng.chance(1, 2) {
                    Expr::Unary(UnOp::Neg, Box::new(Expr::int(v)))
                } else {
                    Expr::int(v)
                }
            }
            4 => Expr::min(),
            // Only reached for consts (folding rejects zero) or when division by zero is allowed.
            _ => {
                if !matches!(cx.mode, Mode::Const { .. }) && self.rng.chance(1, 2) {
                    let e = self.gen_expr(cx, Ty::I64, depth.min(1));
                    Expr::bin(BinOp::Rem, e, Expr::int(3))
                } else {
                    self.gen_expr(cx, Ty::I64, depth)
                }
            }
        }
    }

    /// `if d != 0 { a / d } else { b }` with `d` an immutable i64 local, so its two reads agree.
    fn gen_guarded_div(&mut self, cx: &mut Cx, depth: usize) -> Expr {
        let Some(d) = self.pick_local(cx, Ty::I64, LocalFilter::Immutable) else {
            return self.gen_literal();
        };
        let op = if self.rng.chance(1, 2) { BinOp::Div } else { BinOp::Rem };
        let num = self.gen_operand(cx, Ty::I64, depth);
        let other = self.gen_expr(cx, Ty::I64, depth);
        let chain = IfChain {
            cond: Expr::bin(BinOp::Ne, Expr::Name(d.clone()), Expr::int(0)),
            then: Block { stmts: Vec::new(), tail: Some(Expr::bin(op, num, Expr::Name(d))) },
            els: Some(Else::Block(Block { stmts: Vec::new(), tail: Some(other) })),
        };
        Expr::If(Box::new(chain), Ty::I64)
    }

    fn gen_if_expr(&mut self, cx: &mut Cx, ty: Ty, depth: usize) -> IfChain {
        let cond = self.gen_expr(cx, Ty::Bool, depth);
        let base = cx.used;
        let (then, used_then) = self.branch(cx, base, |g, cx| g.gen_value_block(cx, ty, depth));
        let (els, used_else) = self.branch(cx, base, |g, cx| {
            if g.rng.chance(1, 6) {
                Else::If(Box::new(g.gen_if_expr(cx, ty, depth.saturating_sub(1))))
            } else {
                Else::Block(g.gen_value_block(cx, ty, depth))
            }
        });
        Self::join_branches(cx, base, used_then, used_else);
        IfChain { cond, then, els: Some(els) }
    }

    fn gen_block_expr(&mut self, cx: &mut Cx, ty: Ty, depth: usize) -> Expr {
        Expr::Block(Box::new(self.gen_value_block(cx, ty, depth)), ty)
    }

    /// `{ simple statements; tail }` in its own scope; no `return` inside, so its type is the tail's.
    fn gen_value_block(&mut self, cx: &mut Cx, ty: Ty, depth: usize) -> Block {
        cx.scopes.push(Vec::new());
        let saved = cx.can_return;
        cx.can_return = false;
        let mut stmts = Vec::new();
        let n = if self.rng.chance(2, 3) { 0 } else { self.rng.range_usize(1, 2) };
        for _ in 0..n {
            let has_targets = !self.assign_targets(cx).is_empty();
            let s = match self.rng.below(5) {
                0 | 1 => self.gen_let(cx, depth),
                2 | 3 if has_targets => self.gen_assign(cx, depth),
                4 if cx.can_print() => {
                    let e = self.gen_expr(cx, Ty::I64, depth);
                    cx.note_print();
                    Stmt::Print(e)
                }
                _ => self.gen_let(cx, depth),
            };
            stmts.push(s);
        }
        let tail = self.gen_expr(cx, ty, depth);
        cx.can_return = saved;
        cx.scopes.pop();
        Block { stmts, tail: Some(tail) }
    }
}

fn local_ref(name: &str, ty: Ty, mutable: bool) -> NameRef {
    NameRef { lks: name.to_string(), c: name.to_string(), ty, stable: !mutable, value: None }
}

fn global_c_name(module: &str, name: &str) -> String {
    format!("lg_{module}__{name}")
}

fn fn_c_name(module: &str, name: &str) -> String {
    format!("lf_{module}__{name}")
}

fn global_ref(module: &str, name: &str, ty: Ty, qualified: bool) -> NameRef {
    let lks = if qualified { format!("{module}::{name}") } else { name.to_string() };
    NameRef { lks, c: global_c_name(module, name), ty, stable: false, value: None }
}

fn const_ref(module: &str, c: &ConstItem, qualified: bool) -> NameRef {
    let lks = if qualified { format!("{module}::{}", c.name) } else { c.name.clone() };
    NameRef { lks, c: format!("lc_{module}__{}", c.name), ty: c.ty, stable: true, value: Some(c.value) }
}

/// Folds a const initialiser with the language's semantics; `None` when it divides by zero.
fn eval_const(e: &Expr) -> Option<Val> {
    Some(match e {
        Expr::Int(v, _) => Val::I(*v as i64),
        Expr::Bool(b) => Val::B(*b),
        Expr::Name(n) => n.value?,
        Expr::Paren(e) => eval_const(e)?,
        Expr::Unary(UnOp::Neg, e) => Val::I(as_i(eval_const(e)?).wrapping_neg()),
        Expr::Unary(UnOp::Not, e) => Val::B(!as_b(eval_const(e)?)),
        // Both sides are folded even where `&&`/`||` would skip one: a division by zero anywhere in a const
        // is rejected, because a compiler may fold it eagerly and report it.
        Expr::Binary(BinOp::And, a, b) => {
            let (x, y) = (eval_const(a)?, eval_const(b)?);
            Val::B(as_b(x) && as_b(y))
        }
        Expr::Binary(BinOp::Or, a, b) => {
            let (x, y) = (eval_const(a)?, eval_const(b)?);
            Val::B(as_b(x) || as_b(y))
        }
        Expr::Binary(op, a, b) => {
            let (x, y) = (as_i(eval_const(a)?), as_i(eval_const(b)?));
            match op {
                BinOp::Add => Val::I(x.wrapping_add(y)),
                BinOp::Sub => Val::I(x.wrapping_sub(y)),
                BinOp::Mul => Val::I(x.wrapping_mul(y)),
                BinOp::Div => Val::I(if y == 0 { return None } else { x.wrapping_div(y) }),
                BinOp::Rem => Val::I(if y == 0 { return None } else { x.wrapping_rem(y) }),
                BinOp::Eq => Val::B(x == y),
                BinOp::Ne => Val::B(x != y),
                BinOp::Lt => Val::B(x < y),
                BinOp::Le => Val::B(x <= y),
                BinOp::Gt => Val::B(x > y),
                BinOp::Ge => Val::B(x >= y),
                BinOp::And | BinOp::Or => unreachable!("handled above"),
            }
        }
        Expr::Call(_) | Expr::Block(..) | Expr::If(..) => return None,
    })
}

fn as_i(v: Val) -> i64 {
    match v {
        Val::I(i) => i,
        Val::B(b) => i64::from(b),
    }
}

fn as_b(v: Val) -> bool {
    match v {
        Val::B(b) => b,
        Val::I(i) => i != 0,
    }
}

// ---------------------------------------------------------------------------------------------------------
// The `.lks` printer.
// ---------------------------------------------------------------------------------------------------------

const INDENT: &str = "    ";

fn print_module(mods: &[Module], m: usize) -> String {
    let md = &mods[m];
    let mut out = String::new();
    let _ = writeln!(out, "// module {} (generated by lockstep_harness::gen)", md.name);
    for &j in &md.imports {
        let _ = writeln!(out, "import {};", mods[j].name);
    }
    for item in &md.layout {
        out.push('\n');
        match *item {
            ItemRef::Comment(k) => {
                if k % 2 == 0 {
                    let _ = writeln!(out, "// {}", COMMENTS[k as usize]);
                } else {
                    let _ = writeln!(out, "/* {} */", COMMENTS[k as usize]);
                }
            }
            ItemRef::Const(k) => {
                let c = &md.consts[k];
                let _ = writeln!(
                    out,
                    "{}const {}: {} = {};",
                    if c.is_pub { "pub " } else { "" },
                    c.name,
                    c.ty.lks(),
                    expr_text(&c.expr, 0, false, 0)
                );
            }
            ItemRef::Global(k) => {
                let g = &md.globals[k];
                let init = g.init.as_ref().expect("initialiser generated");
                let _ = writeln!(
                    out,
                    "{}global {}: {} = {};",
                    if g.is_pub { "pub " } else { "" },
                    g.name,
                    g.ty.lks(),
                    expr_text(init, 0, false, 0)
                );
            }
            ItemRef::Fn(k) => {
                let f = &md.fns[k];
                let params: Vec<String> = f.params.iter().map(|(n, t)| format!("{n}: {}", t.lks())).collect();
                let ret = f.ret.map_or(String::new(), |t| format!(" -> {}", t.lks()));
                let body = f.body.as_ref().expect("body generated");
                let _ = writeln!(
                    out,
                    "{}fn {}({}){} {}",
                    if f.is_pub { "pub " } else { "" },
                    f.name,
                    params.join(", "),
                    ret,
                    block_text(body, 0)
                );
            }
            ItemRef::Main => {
                let ret = md.main_ret.flatten().map_or(String::new(), |t| format!(" -> {}", t.lks()));
                let body = md.main_body.as_ref().expect("main generated");
                let _ = writeln!(out, "fn main(){ret} {}", block_text(body, 0));
            }
        }
    }
    out
}

fn expr_prec(e: &Expr) -> u8 {
    match e {
        Expr::Binary(op, ..) => op.prec(),
        Expr::Unary(..) => 6,
        _ => 7,
    }
}

fn int_text(v: u64, grouped: bool) -> String {
    let digits = v.to_string();
    if !grouped || digits.len() <= 3 {
        return digits;
    }
    // `_` between digit groups of three, as the lexer allows between any two digits.
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('_');
        }
        out.push(ch);
    }
    out
}

/// Prints `e`, parenthesised when its precedence is below `min_prec`. `no_block` marks an `if`/`while`
/// condition, where a bare block or `if` would be taken for the body, so those get parentheses.
fn expr_text(e: &Expr, min_prec: u8, no_block: bool, ind: usize) -> String {
    let inner = match e {
        Expr::Int(v, g) => int_text(*v, *g),
        Expr::Bool(b) => b.to_string(),
        Expr::Name(n) => n.lks.clone(),
        Expr::Call(c) => call_text(c, ind),
        Expr::Paren(e) => format!("({})", expr_text(e, 0, false, ind)),
        Expr::Unary(op, operand) => {
            let s = expr_text(operand, 6, no_block, ind);
            let sym = if *op == UnOp::Neg { "-" } else { "!" };
            // A space keeps `- -x` readable; the lexer has no `--` token either way.
            if s.starts_with('-') {
                format!("{sym} {s}")
            } else {
                format!("{sym}{s}")
            }
        }
        Expr::Binary(op, a, b) => {
            let p = op.prec();
            // Comparisons are not chainable, so a comparison operand of a comparison needs parentheses.
            let lp = if op.is_cmp() { p + 1 } else { p };
            format!("{} {} {}", expr_text(a, lp, no_block, ind), op.text(), expr_text(b, p + 1, no_block, ind))
        }
        Expr::Block(b, _) => {
            let s = block_text(b, ind);
            return if no_block { format!("({s})") } else { s };
        }
        Expr::If(chain, _) => {
            let s = if_text(chain, ind);
            return if no_block { format!("({s})") } else { s };
        }
    };
    if expr_prec(e) < min_prec {
        format!("({inner})")
    } else {
        inner
    }
}

fn call_text(c: &Call, ind: usize) -> String {
    let args: Vec<String> = c.args.iter().map(|a| expr_text(a, 0, false, ind)).collect();
    format!("{}({})", c.lks, args.join(", "))
}

fn if_text(chain: &IfChain, ind: usize) -> String {
    let mut s = format!("if {} {}", expr_text(&chain.cond, 0, true, ind), block_text(&chain.then, ind));
    match &chain.els {
        None => {}
        Some(Else::Block(b)) => {
            let _ = write!(s, " else {}", block_text(b, ind));
        }
        Some(Else::If(next)) => {
            let _ = write!(s, " else {}", if_text(next, ind));
        }
    }
    s
}

/// What an expression starts with, to avoid tails that a parser would read as a statement followed by more.
fn leftmost(e: &Expr) -> &Expr {
    match e {
        Expr::Binary(_, a, _) => leftmost(a),
        _ => e,
    }
}

fn block_text(b: &Block, ind: usize) -> String {
    if b.stmts.is_empty() {
        return match &b.tail {
            None => "{}".to_string(),
            Some(t) => format!("{{ {} }}", tail_text(t, false, ind)),
        };
    }
    let mut s = String::from("{\n");
    for st in &b.stmts {
        stmt_text(st, ind + 1, &mut s);
    }
    if let Some(t) = &b.tail {
        let after_brace = matches!(
            b.stmts.iter().rev().find(|s| !matches!(s, Stmt::Comment(_))),
            Some(Stmt::If(_) | Stmt::While { .. } | Stmt::Block(_))
        );
        let _ = writeln!(s, "{}{}", INDENT.repeat(ind + 1), tail_text(t, after_brace, ind + 1));
    }
    let _ = write!(s, "{}}}", INDENT.repeat(ind));
    s
}

/// A block's tail: an `if` or block on its own stays bare (as in the spec's example), but a tail that merely
/// starts with one is parenthesised, as is a tail starting with `-` right after a brace-ended statement,
/// because those would otherwise read as a statement followed by something else.
fn tail_text(t: &Expr, after_brace: bool, ind: usize) -> String {
    let text = expr_text(t, 0, false, ind);
    if matches!(t, Expr::If(..) | Expr::Block(..)) {
        return text;
    }
    match leftmost(t) {
        Expr::If(..) | Expr::Block(..) => format!("({text})"),
        Expr::Unary(UnOp::Neg, _) if after_brace => format!("({text})"),
        _ => text,
    }
}

fn stmt_text(st: &Stmt, ind: usize, out: &mut String) {
    let pad = INDENT.repeat(ind);
    match st {
        Stmt::Let { name, mutable, annotate, ty, value } => {
            let _ = writeln!(
                out,
                "{pad}let {}{}{} = {};",
                if *mutable { "mut " } else { "" },
                name,
                if *annotate { format!(": {}", ty.lks()) } else { String::new() },
                expr_text(value, 0, false, ind)
            );
        }
        Stmt::Assign { lks, value, .. } => {
            let _ = writeln!(out, "{pad}{lks} = {};", expr_text(value, 0, false, ind));
        }
        Stmt::While { cond, body } => {
            let _ = writeln!(out, "{pad}while {} {}", expr_text(cond, 0, true, ind), block_text(body, ind));
        }
        Stmt::Return(None) => {
            let _ = writeln!(out, "{pad}return;");
        }
        Stmt::Return(Some(e)) => {
            let _ = writeln!(out, "{pad}return {};", expr_text(e, 0, false, ind));
        }
        Stmt::Call(c) => {
            let _ = writeln!(out, "{pad}{};", call_text(c, ind));
        }
        Stmt::Print(e) => {
            let _ = writeln!(out, "{pad}print({});", expr_text(e, 0, false, ind));
        }
        Stmt::If(chain) => {
            let _ = writeln!(out, "{pad}{}", if_text(chain, ind));
        }
        Stmt::Block(b) => {
            let _ = writeln!(out, "{pad}{}", block_text(b, ind));
        }
        Stmt::Comment(text) => {
            if text.len() % 2 == 0 {
                let _ = writeln!(out, "{pad}// {text}");
            } else {
                let _ = writeln!(out, "{pad}/* {text} */");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The C emitter.
// ---------------------------------------------------------------------------------------------------------

const C_PRELUDE: &str = r#"#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* i64 arithmetic wraps: compute in uint64_t, whose overflow is defined, and convert back (gcc: modulo). */
static inline int64_t lks_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t lks_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t lks_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }
static inline int64_t lks_neg(int64_t a) { return (int64_t)((uint64_t)0 - (uint64_t)a); }
static void lks_div_zero(void) {
    fflush(stdout);
    fputs("division by zero\n", stderr);
    exit(101);
}
/* C's / and % truncate like .lks; the -1 cases avoid the MIN / -1 trap and give MIN and 0. */
static inline int64_t lks_div(int64_t a, int64_t b) {
    if (b == 0) lks_div_zero();
    if (b == -1) return lks_neg(a);
    return a / b;
}
static inline int64_t lks_rem(int64_t a, int64_t b) {
    if (b == 0) lks_div_zero();
    if (b == -1) return 0;
    return a % b;
}
static void lks_print(int64_t x) { printf("%lld\n", (long long)x); }
"#;

/// A C literal for `v`. Values that fit an `int` are written plainly (they convert exactly wherever an
/// `int64_t` is expected), which keeps bench-sized translations smaller and faster to compile.
fn c_int(v: i64) -> String {
    if (0..=i64::from(i32::MAX)).contains(&v) {
        v.to_string()
    } else if v == i64::MIN {
        "(-INT64_C(9223372036854775807) - 1)".to_string()
    } else if v < 0 {
        format!("(-INT64_C({}))", v.unsigned_abs())
    } else {
        format!("INT64_C({v})")
    }
}

fn c_val(v: Val) -> String {
    match v {
        Val::I(i) => c_int(i),
        Val::B(b) => b.to_string(),
    }
}

fn c_signature(ret: Option<Ty>, name: &str, params: &[(String, Ty)]) -> String {
    let ps: Vec<String> = params.iter().map(|(n, t)| format!("{} {n}", t.c())).collect();
    let ps = if ps.is_empty() { "void".to_string() } else { ps.join(", ") };
    format!("static {} {name}({ps})", ret.map_or("void", Ty::c))
}

/// Modules in initialisation order: repeatedly the smallest-named module whose imports are all initialised.
fn init_order(mods: &[Module]) -> Vec<usize> {
    let mut done = vec![false; mods.len()];
    let mut order = Vec::new();
    while order.len() < mods.len() {
        let next = (0..mods.len())
            .filter(|&i| !done[i] && mods[i].imports.iter().all(|&j| done[j]))
            .min_by(|&a, &b| mods[a].name.cmp(&mods[b].name))
            .expect("imports form a DAG");
        done[next] = true;
        order.push(next);
    }
    order
}

fn emit_c(mods: &[Module], seed: u64) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "/* C translation of lockstep_harness::gen seed {seed}. */");
    out.push_str(C_PRELUDE);
    out.push_str("\n/* consts, folded */\n");
    for md in mods {
        for c in &md.consts {
            let _ = writeln!(out, "static const {} lc_{}__{} = {};", c.ty.c(), md.name, c.name, c_val(c.value));
        }
    }
    out.push_str("\n/* globals: zero until their module's initialiser runs */\n");
    for md in mods {
        for g in &md.globals {
            let _ = writeln!(out, "static {} {};", g.ty.c(), global_c_name(&md.name, &g.name));
        }
    }
    out.push_str("\n/* prototypes */\n");
    for md in mods {
        for f in &md.fns {
            let _ = writeln!(out, "{};", c_signature(f.ret, &fn_c_name(&md.name, &f.name), &f.params));
        }
        if let Some(ret) = md.main_ret {
            let _ = writeln!(out, "{};", c_signature(ret, &fn_c_name(&md.name, "main"), &[]));
        }
    }
    for md in mods {
        let _ = writeln!(out, "\n/* module {} */", md.name);
        for f in &md.fns {
            let body = f.body.as_ref().expect("body generated");
            let mut lw = CLower::default();
            let mut lines = vec![format!("{} {{", c_signature(f.ret, &fn_c_name(&md.name, &f.name), &f.params))];
            lw.fn_body(body, &mut lines);
            lines.push("}".to_string());
            indent_into(&lines, &mut out);
        }
        if let (Some(ret), Some(body)) = (md.main_ret, md.main_body.as_ref()) {
            let mut lw = CLower::default();
            let mut lines = vec![format!("{} {{", c_signature(ret, &fn_c_name(&md.name, "main"), &[]))];
            lw.fn_body(body, &mut lines);
            lines.push("}".to_string());
            indent_into(&lines, &mut out);
        }
        let mut lw = CLower::default();
        let mut lines = vec![format!("static void lks_init_{}(void) {{", md.name)];
        for g in &md.globals {
            let init = g.init.as_ref().expect("initialiser generated");
            // Each initialiser gets its own C block, because locals of different initialisers may share names.
            lines.push("{".to_string());
            let v = lw.expr(init, &mut lines);
            lines.push(format!("{} = {};", global_c_name(&md.name, &g.name), v.code));
            lines.push("}".to_string());
        }
        lines.push("}".to_string());
        indent_into(&lines, &mut out);
    }
    let root = &mods[mods.len() - 1];
    out.push_str("\nint main(void) {\n");
    for m in init_order(mods) {
        let _ = writeln!(out, "    lks_init_{}();", mods[m].name);
    }
    let main_c = fn_c_name(&root.name, "main");
    if root.main_ret.flatten().is_some() {
        let _ = writeln!(out, "    int64_t r = {main_c}();");
        out.push_str("    fflush(stdout);\n    return (int)((uint64_t)r & 255u);\n}\n");
    } else {
        let _ = writeln!(out, "    {main_c}();");
        out.push_str("    fflush(stdout);\n    return 0;\n}\n");
    }
    out
}

/// Indents by brace depth: the lowering emits flat lines, each ending in `{` or starting with `}` when it
/// opens or closes a C block.
fn indent_into(lines: &[String], out: &mut String) {
    let mut depth = 0usize;
    for line in lines {
        if line.starts_with('}') {
            depth = depth.saturating_sub(1);
        }
        let _ = writeln!(out, "{}{line}", INDENT.repeat(depth));
        if line.ends_with('{') {
            depth += 1;
        }
    }
}

/// A lowered C expression: `stable` when it neither reads mutable state nor can trap, so it may be evaluated
/// after later side effects without changing the result.
#[derive(Clone, Debug)]
struct CVal {
    code: String,
    stable: bool,
}

/// Lowers one function body to C lines, sequencing side effects in `.lks` order through temporaries.
#[derive(Debug, Default)]
struct CLower {
    tmp: usize,
}

impl CLower {
    fn temp(&mut self) -> String {
        self.tmp += 1;
        format!("tmp__{}", self.tmp)
    }

    fn fn_body(&mut self, body: &Block, out: &mut Vec<String>) {
        for st in &body.stmts {
            self.stmt(st, out);
        }
        if let Some(t) = &body.tail {
            let v = self.expr(t, out);
            out.push(format!("return {};", v.code));
        }
    }

    fn block_stmts(&mut self, b: &Block, out: &mut Vec<String>) {
        for st in &b.stmts {
            self.stmt(st, out);
        }
    }

    fn stmt(&mut self, st: &Stmt, out: &mut Vec<String>) {
        match st {
            Stmt::Let { name, ty, value, .. } => {
                let v = self.expr(value, out);
                out.push(format!("{} {name} = {};", ty.c(), v.code));
            }
            Stmt::Assign { c, value, .. } => {
                let v = self.expr(value, out);
                out.push(format!("{c} = {};", v.code));
            }
            Stmt::While { cond, body } => {
                let mut cl = Vec::new();
                let c = self.expr(cond, &mut cl);
                if cl.is_empty() {
                    out.push(format!("while ({}) {{", c.code));
                } else {
                    out.push("while (1) {".to_string());
                    out.extend(cl);
                    out.push(format!("if (!({})) break;", c.code));
                }
                self.block_stmts(body, out);
                out.push("}".to_string());
            }
            Stmt::Return(None) => out.push("return;".to_string()),
            Stmt::Return(Some(e)) => {
                let v = self.expr(e, out);
                out.push(format!("return {};", v.code));
            }
            Stmt::Call(c) => {
                let args = self.seq(&c.args.iter().collect::<Vec<_>>(), out);
                out.push(format!("{}({});", c.c, join_codes(&args)));
            }
            Stmt::Print(e) => {
                let v = self.expr(e, out);
                out.push(format!("lks_print({});", v.code));
            }
            Stmt::If(chain) => self.if_stmt(chain, out),
            Stmt::Block(b) => {
                out.push("{".to_string());
                self.block_stmts(b, out);
                out.push("}".to_string());
            }
            Stmt::Comment(text) => out.push(format!("/* {text} */")),
        }
    }

    fn if_stmt(&mut self, chain: &IfChain, out: &mut Vec<String>) {
        let c = self.expr(&chain.cond, out);
        out.push(format!("if ({}) {{", c.code));
        self.block_stmts(&chain.then, out);
        match &chain.els {
            None => out.push("}".to_string()),
            Some(Else::Block(b)) => {
                out.push("} else {".to_string());
                self.block_stmts(b, out);
                out.push("}".to_string());
            }
            Some(Else::If(next)) => {
                // The nested condition may need statements of its own, so it lives inside a plain else block.
                out.push("} else {".to_string());
                self.if_stmt(next, out);
                out.push("}".to_string());
            }
        }
    }

    /// Lowers operands left to right. Whenever an operand needs statements (it has side effects), every
    /// earlier operand that is not stable is first copied into a temporary, so it is read before those effects.
    fn seq(&mut self, exprs: &[&Expr], out: &mut Vec<String>) -> Vec<CVal> {
        let mut vals: Vec<CVal> = Vec::new();
        for e in exprs {
            let mut lines = Vec::new();
            let v = self.expr(e, &mut lines);
            if !lines.is_empty() {
                for (prev, pe) in vals.iter_mut().zip(exprs) {
                    if !prev.stable {
                        let t = self.temp();
                        out.push(format!("{} {t} = {};", pe.ty().c(), prev.code));
                        *prev = CVal { code: t, stable: true };
                    }
                }
                out.extend(lines);
            }
            vals.push(v);
        }
        vals
    }

    fn expr(&mut self, e: &Expr, out: &mut Vec<String>) -> CVal {
        match e {
            Expr::Int(v, _) => CVal { code: c_int(*v as i64), stable: true },
            Expr::Bool(b) => CVal { code: b.to_string(), stable: true },
            Expr::Name(n) => CVal { code: n.c.clone(), stable: n.stable },
            Expr::Paren(e) => self.expr(e, out),
            Expr::Call(c) => {
                let args = self.seq(&c.args.iter().collect::<Vec<_>>(), out);
                let t = self.temp();
                out.push(format!("{} {t} = {}({});", c.ret.unwrap_or(Ty::I64).c(), c.c, join_codes(&args)));
                CVal { code: t, stable: true }
            }
            Expr::Unary(op, a) => {
                let v = self.expr(a, out);
                let code = match op {
                    UnOp::Neg => format!("lks_neg({})", v.code),
                    UnOp::Not => format!("(!{})", v.code),
                };
                CVal { code, stable: v.stable }
            }
            Expr::Binary(op @ (BinOp::And | BinOp::Or), a, b) => {
                let va = self.expr(a, out);
                let mut lines = Vec::new();
                let vb = self.expr(b, &mut lines);
                if lines.is_empty() {
                    return CVal {
                        code: format!("({} {} {})", va.code, op.text(), vb.code),
                        stable: va.stable && vb.stable,
                    };
                }
                // The right operand has side effects, so short-circuiting must be an explicit branch.
                let t = self.temp();
                out.push(format!("bool {t} = {};", va.code));
                out.push(format!("if ({}{t}) {{", if *op == BinOp::And { "" } else { "!" }));
                out.extend(lines);
                out.push(format!("{t} = {};", vb.code));
                out.push("}".to_string());
                CVal { code: t, stable: true }
            }
            Expr::Binary(op, a, b) => {
                let vals = self.seq(&[&**a, &**b], out);
                let (x, y) = (&vals[0].code, &vals[1].code);
                let code = match op {
                    BinOp::Add => format!("lks_add({x}, {y})"),
                    BinOp::Sub => format!("lks_sub({x}, {y})"),
                    BinOp::Mul => format!("lks_mul({x}, {y})"),
                    BinOp::Div => format!("lks_div({x}, {y})"),
                    BinOp::Rem => format!("lks_rem({x}, {y})"),
                    _ => format!("({x} {} {y})", op.text()),
                };
                // A division may trap, which is an effect that must not move past later side effects.
                let stable = vals[0].stable && vals[1].stable && !matches!(op, BinOp::Div | BinOp::Rem);
                CVal { code, stable }
            }
            Expr::Block(b, ty) => {
                if b.stmts.is_empty() {
                    return self.expr(b.tail.as_ref().expect("value block has a tail"), out);
                }
                let t = self.temp();
                out.push(format!("{} {t};", ty.c()));
                out.push("{".to_string());
                self.block_stmts(b, out);
                let v = self.expr(b.tail.as_ref().expect("value block has a tail"), out);
                out.push(format!("{t} = {};", v.code));
                out.push("}".to_string());
                CVal { code: t, stable: true }
            }
            Expr::If(chain, ty) => self.if_expr(chain, *ty, out),
        }
    }

    fn if_expr(&mut self, chain: &IfChain, ty: Ty, out: &mut Vec<String>) -> CVal {
        let c = self.expr(&chain.cond, out);
        let mut then_lines = Vec::new();
        let tv = self.value_block(&chain.then, &mut then_lines);
        let mut else_lines = Vec::new();
        let ev = match &chain.els {
            Some(Else::Block(b)) => self.value_block(b, &mut else_lines),
            Some(Else::If(next)) => self.if_expr(next, ty, &mut else_lines),
            None => unreachable!("an if expression always has an else"),
        };
        if then_lines.is_empty() && else_lines.is_empty() {
            // Only the chosen branch is evaluated by `?:`, so a trap in the other one cannot fire.
            return CVal {
                code: format!("({} ? {} : {})", c.code, tv.code, ev.code),
                stable: c.stable && tv.stable && ev.stable,
            };
        }
        let t = self.temp();
        out.push(format!("{} {t};", ty.c()));
        out.push(format!("if ({}) {{", c.code));
        out.extend(then_lines);
        out.push(format!("{t} = {};", tv.code));
        out.push("} else {".to_string());
        out.extend(else_lines);
        out.push(format!("{t} = {};", ev.code));
        out.push("}".to_string());
        CVal { code: t, stable: true }
    }

    /// Lowers a value block's statements into `out` (the caller wraps them in a C block) and returns its tail.
    fn value_block(&mut self, b: &Block, out: &mut Vec<String>) -> CVal {
        self.block_stmts(b, out);
        self.expr(b.tail.as_ref().expect("value block has a tail"), out)
    }
}

fn join_codes(vals: &[CVal]) -> String {
    vals.iter().map(|v| v.code.as_str()).collect::<Vec<_>>().join(", ")
}
