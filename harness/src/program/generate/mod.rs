//! A seeded generator of random, valid, multi-module `.lks` programs, as [`Program`] models.
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

mod body;

use super::eval::eval_const;
use super::model::{
    BinOp, Block, Call, ConstItem, Else, Expr, FnItem, GlobalItem, IfChain, Item, ItemPath, Layout, Module, Place,
    Program, Stmt, Ty, UnOp, Val,
};
use super::rng::SplitMix64;
use std::collections::{BTreeMap, BTreeSet};

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

/// Generates the program of `seed` under `config`.
pub fn generate(seed: u64, config: &GenConfig) -> Program {
    let mut gen = Gen::new(seed, config);
    gen.plan();
    gen.plan_call_tree();
    for m in 0..gen.mods.len() {
        gen.gen_module(m);
    }
    gen.into_program()
}

/// A const being generated: its folded value is known as soon as it exists, for later consts to use.
#[derive(Clone, Debug)]
struct GenConst {
    name: String,
    is_pub: bool,
    ty: Ty,
    value: Val,
    expr: Expr,
}

/// A global being generated.
#[derive(Clone, Debug)]
struct GenGlobal {
    name: String,
    is_pub: bool,
    ty: Ty,
    init: Option<Expr>,
}

/// A function being generated, with the bounds the planner keeps for its callers.
#[derive(Clone, Debug)]
struct GenFn {
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
    /// Every call discards its result: such a function's return type can change without any caller's
    /// text showing it (the harness's `return-type` edit needs them).
    discarded: bool,
}

/// An entry of a module's source order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ItemRef {
    Const(usize),
    Global(usize),
    Fn(usize),
    Main,
    Comment(u64),
}

/// A module being generated: items by kind and index (bodies refer to them by index), plus their source order.
#[derive(Clone, Debug)]
struct GenModule {
    name: String,
    imports: Vec<usize>,
    consts: Vec<GenConst>,
    globals: Vec<GenGlobal>,
    fns: Vec<GenFn>,
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

struct Gen<'a> {
    rng: SplitMix64,
    cfg: &'a GenConfig,
    mods: Vec<GenModule>,
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
        let names = self.plan_module_names();
        let imports = self.plan_imports(names.len());
        let n = names.len();
        for (i, (name, imports)) in names.into_iter().zip(imports).enumerate() {
            self.plan_module(name, imports, i == n - 1);
        }
    }

    /// The modules' names (their count drawn first), `main` last.
    fn plan_module_names(&mut self) -> Vec<String> {
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
        names
    }

    /// Each module's imports: only modules with a smaller index, and the root imports every module that
    /// nobody else does, so all are reachable from `main`.
    fn plan_imports(&mut self, n: usize) -> Vec<Vec<usize>> {
        let cfg = self.cfg;
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
        imports
    }

    /// One module's consts, globals and function signatures (bodies come later).
    fn plan_module(&mut self, name: String, imports: Vec<usize>, is_main: bool) {
        let cfg = self.cfg;
        let nf = self.count(cfg.functions_per_module, true);
        let nc = self.count(cfg.consts_per_module, false);
        let ng = self.count(cfg.globals_per_module, false);
        let consts = (0..nc)
            .map(|k| {
                let ty = if self.rng.chance(1, 5) { Ty::Bool } else { Ty::I64 };
                let word = if ty == Ty::Bool { "FLAG" } else { *self.rng.pick(CONST_WORDS) };
                let is_pub = self.rng.chance(2, 3);
                GenConst { name: format!("{word}{k}"), is_pub, ty, value: Val::I(0), expr: Expr::int(0) }
            })
            .collect();
        let globals = (0..ng)
            .map(|k| {
                let ty = if self.rng.chance(1, 4) { Ty::Bool } else { Ty::I64 };
                let words = if ty == Ty::Bool { BOOL_GLOBAL_WORDS } else { GLOBAL_WORDS };
                let name = format!("{}{k}", self.rng.pick(words));
                GenGlobal { name, is_pub: self.rng.chance(2, 3), ty, init: None }
            })
            .collect();
        let fns = (0..nf).map(|k| self.plan_fn(k)).collect();
        let main_ret = if is_main { Some(if self.rng.chance(4, 5) { Some(Ty::I64) } else { None }) } else { None };
        self.mods.push(GenModule {
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

    /// The `k`-th function's signature and traits.
    fn plan_fn(&mut self, k: usize) -> GenFn {
        let cfg = self.cfg;
        let rec_depth =
            if self.rng.chance(1, 6) { Some(self.rng.range(1, cfg.max_recursion_depth.max(1))) } else { None };
        let mut params = Vec::new();
        if rec_depth.is_some() {
            params.push(("depth".to_string(), Ty::I64));
        }
        for p in 0..self.rng.range_usize(0, cfg.max_params) {
            let ty = if self.rng.chance(1, 5) { Ty::Bool } else { Ty::I64 };
            params.push((format!("{}{p}", self.rng.pick(PARAM_WORDS)), ty));
        }
        let ret = self.weighted(&[(6, Some(Ty::I64)), (2, Some(Ty::Bool)), (2, None)]);
        let discarded = ret.is_some() && self.rng.chance(1, 5);
        GenFn {
            name: format!("{}{k}", self.rng.pick(FN_WORDS)),
            is_pub: self.rng.chance(2, 3),
            params,
            ret,
            rec_depth,
            body: None,
            cost: 0,
            prints: 0,
            touches: BTreeSet::new(),
            discarded,
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
        let ret = self.mods[child.0].fns[child.1].ret;
        let call = self.gen_call(cx, child);
        let extra = cx.used.minus(before);
        cx.limit.work = cx.limit.work.saturating_add(extra.work);
        cx.limit.prints = cx.limit.prints.saturating_add(extra.prints);
        if self.mods[child.0].fns[child.1].discarded {
            return Stmt::Call(call);
        }
        match ret {
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

    /// The folded value of a const generated so far.
    fn const_value(&self, path: &ItemPath) -> Option<Val> {
        let module = self.mods.iter().find(|md| md.name == path.module)?;
        module.consts.iter().find(|c| c.name == path.name).map(|c| c.value)
    }

    /// The finished program: every module's items in their source order.
    fn into_program(self) -> Program {
        let names: Vec<String> = self.mods.iter().map(|md| md.name.clone()).collect();
        let modules = self
            .mods
            .into_iter()
            .map(|md| {
                let items = md
                    .layout
                    .iter()
                    .map(|entry| match *entry {
                        ItemRef::Comment(k) => Item::Comment(if k % 2 == 0 {
                            format!("// {}", COMMENTS[k as usize])
                        } else {
                            format!("/* {} */", COMMENTS[k as usize])
                        }),
                        ItemRef::Const(k) => {
                            let c = &md.consts[k];
                            Item::Const(ConstItem {
                                name: c.name.clone(),
                                is_pub: c.is_pub,
                                ty: c.ty,
                                expr: c.expr.clone(),
                            })
                        }
                        ItemRef::Global(k) => {
                            let g = &md.globals[k];
                            let init = g.init.clone().expect("initialiser generated");
                            Item::Global(GlobalItem { name: g.name.clone(), is_pub: g.is_pub, ty: g.ty, init })
                        }
                        ItemRef::Fn(k) => {
                            let f = &md.fns[k];
                            Item::Fn(FnItem {
                                name: f.name.clone(),
                                is_pub: f.is_pub,
                                params: f.params.clone(),
                                ret: f.ret,
                                body: f.body.clone().expect("body generated"),
                            })
                        }
                        ItemRef::Main => Item::Fn(FnItem {
                            name: "main".to_string(),
                            is_pub: false,
                            params: Vec::new(),
                            ret: md.main_ret.flatten(),
                            body: md.main_body.clone().expect("main generated"),
                        }),
                    })
                    .collect();
                let header = Some(format!("// module {} (generated by lockstep_harness::gen)", md.name));
                Module {
                    name: md.name.clone(),
                    imports: md.imports.iter().map(|&j| names[j].clone()).collect(),
                    items,
                    layout: Layout { header, ..Layout::default() },
                }
            })
            .collect();
        Program { modules }
    }

    fn gen_const(&mut self, m: usize, k: usize) {
        let ty = self.mods[m].consts[k].ty;
        let limit = Usage { work: u64::MAX, prints: 0, own_work: u64::MAX, own_prints: 0 };
        let mut cx = self.new_cx(m, Mode::Const { limit: k }, limit, 0);
        // Unguarded divisors are allowed in consts because folding rejects the ones that divide by zero.
        for attempt in 0..20 {
            let depth = if attempt < 10 { self.cfg.max_expr_depth } else { 0 };
            let expr = self.gen_expr(&mut cx, ty, depth);
            if let Some(value) = eval_const(&expr, &|path| self.const_value(path)) {
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
                stmts.push(Stmt::Print(self.use_item(&mut cx, item)));
            }
        }
        let tail = cx.ret.map(|t| self.gen_expr(&mut cx, t, cfg.max_expr_depth));
        self.mods[m].main_body = Some(Block { stmts, tail });
    }

    /// `if depth <= 0 { return BASE; }`, the first statement of every self-recursive function.
    fn recursion_guard(&mut self, cx: &mut Cx) -> Stmt {
        let depth = Expr::Local("depth".to_string());
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
        let mut args = vec![Expr::bin(BinOp::Sub, Expr::Local("depth".to_string()), Expr::int(1))];
        for (_, ty) in &item.params[1..] {
            args.push(self.gen_expr(cx, *ty, 1));
        }
        let call = Call { callee: ItemPath::new(&self.mods[m].name, &item.name), args };
        match item.ret.filter(|_| !item.discarded) {
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
}
