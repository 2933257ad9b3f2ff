//! What a build must recompile and relink, predicted from the model alone.
//!
//! Every function (and every module initialiser) gets a **model key**: a hash of exactly what lockstep's
//! documented contract says its compiled code depends on, computed here from the model, independently of the
//! engine's own hashing:
//!
//! | part | in the key as |
//! |---|---|
//! | symbol, visibility, parameter and return types | written out |
//! | body | a span-free tree: comments, parentheses, digit grouping and `let` annotations dropped, locals numbered in order of appearance (so renaming one changes nothing), every const folded to its value |
//! | the types of the locals | with their mutability |
//! | each callee's signature | symbol and types, per callee |
//! | each referenced global's type | symbol and type |
//!
//! A module's initialiser (all its global initialisers, in source order) is keyed the same way. The
//! **link key** covers everything that reaches the executable: every key, every global's definition, the
//! initialisation order and `main`'s return type.
//!
//! [`Knowledge`] turns keys into bounds on the build report. Layer 1 keeps a function's IR under its content
//! hash, so a function whose key this cache has never seen **must** be recompiled, and one whose key is
//! certainly still reachable **must not** be. Between the two lies one conservative fallback that the engine
//! has by design, named here so the oracle can assert everything else exactly:
//!
//! - *IR is found through packs.* Layer 1 stores the IR of a codegen unit's functions together, found by the
//!   unit's exact members or through the unit's recent packs. A function is certainly found when it is
//!   unchanged since the previous build with the same unit layout (`--cgu` mode), or when the whole program
//!   was built before in this `--cgu` mode (a revert). A key seen only in another `--cgu` mode, or in a state
//!   other than those, **may** be recompiled.
//!
//! After a fault that can destroy cache entries (damage, a killed or racing build), only the lower bound
//! holds until the next successful build.

use super::eval::const_values;
use super::model::{
    Block, Else, Expr, FnItem, IfChain, Item, ItemPath, Module, Place, Program, Signature, Stmt, Ty, Val,
};
use super::visit::{visit_block, visit_expr};
use std::collections::{BTreeMap, BTreeSet};

/// A 256-bit BLAKE3 digest of a canonical form.
pub type Key = [u8; 32];

/// Model keys of one program state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    /// `module::function` → key.
    pub functions: BTreeMap<String, Key>,
    /// Module name → key of its initialiser.
    pub initializers: BTreeMap<String, Key>,
    /// Everything that reaches the executable.
    pub link: Key,
}

/// Computes the model keys of `program`. The program must be valid (it renders and checks).
pub fn keys(program: &Program) -> Keys {
    let facts = Facts::of(program);
    let mut functions = BTreeMap::new();
    let mut initializers = BTreeMap::new();
    for m in &program.modules {
        for f in m.fns() {
            let mut canon = Canon::new(&facts);
            canon.word("fn").word(&m.name).word(&f.name).word(if f.is_pub { "pub" } else { "priv" });
            canon.signature(&f.signature());
            for (name, ty) in &f.params {
                canon.declare(name, *ty, false);
            }
            canon.block(&f.body);
            functions.insert(format!("{}::{}", m.name, f.name), canon.finish(&body_refs(f)));
        }
        initializers.insert(m.name.clone(), init_key(&facts, m));
    }
    let link = link_key(program, &functions, &initializers);
    Keys { functions, initializers, link }
}

fn init_key(facts: &Facts, m: &Module) -> Key {
    let mut canon = Canon::new(facts);
    canon.word("init").word(&m.name);
    let mut refs = Refs::default();
    for g in m.globals() {
        let path = ItemPath::new(&m.name, &g.name);
        canon.word("assign").word(&path.symbol());
        canon.expr(&g.init);
        refs.globals.insert(path);
        refs.add_expr(&g.init);
    }
    canon.finish(&refs)
}

fn link_key(program: &Program, functions: &BTreeMap<String, Key>, initializers: &BTreeMap<String, Key>) -> Key {
    let mut h = blake3::Hasher::new();
    h.update(b"lockstep-harness.link");
    for (name, key) in functions.iter().chain(initializers) {
        h.update(&(name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update(key);
    }
    for m in &program.modules {
        for g in m.globals() {
            h.update(format!("global {}::{} {} {}\n", m.name, g.name, g.ty.lks(), g.is_pub).as_bytes());
        }
    }
    for m in program.init_order().unwrap_or_default() {
        h.update(format!("init {}\n", program.modules[m].name).as_bytes());
    }
    let main = program.module(super::model::ROOT).and_then(|m| m.function("main")).and_then(|f| f.ret);
    h.update(format!("main {main:?}\n").as_bytes());
    *h.finalize().as_bytes()
}

/// What keys need to know about the program's items.
struct Facts {
    signatures: BTreeMap<ItemPath, Signature>,
    globals: BTreeMap<ItemPath, Ty>,
    consts: BTreeMap<ItemPath, Val>,
}

impl Facts {
    fn of(program: &Program) -> Facts {
        let mut signatures = BTreeMap::new();
        let mut globals = BTreeMap::new();
        for m in &program.modules {
            for item in &m.items {
                match item {
                    Item::Fn(f) => {
                        signatures.insert(ItemPath::new(&m.name, &f.name), f.signature());
                    }
                    Item::Global(g) => {
                        globals.insert(ItemPath::new(&m.name, &g.name), g.ty);
                    }
                    Item::Const(_) | Item::Comment(_) => {}
                }
            }
        }
        Facts { signatures, globals, consts: const_values(program) }
    }
}

/// The callees and globals a body refers to.
#[derive(Debug, Default)]
struct Refs {
    callees: BTreeSet<ItemPath>,
    globals: BTreeSet<ItemPath>,
}

impl Refs {
    fn add_expr(&mut self, e: &Expr) {
        visit_expr(e, &mut RefsVisit(self));
    }

    fn note(&mut self, e: &Expr) {
        match e {
            Expr::Call(c) => {
                self.callees.insert(c.callee.clone());
            }
            Expr::Global(g) => {
                self.globals.insert(g.clone());
            }
            _ => {}
        }
    }
}

/// The callees and globals a function body refers to (assignment targets included).
fn body_refs(f: &FnItem) -> Refs {
    let mut refs = Refs::default();
    visit_block(&f.body, &mut RefsVisit(&mut refs));
    refs
}

struct RefsVisit<'a>(&'a mut Refs);

impl super::visit::Visit for RefsVisit<'_> {
    fn expr(&mut self, e: &Expr) {
        self.0.note(e);
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Call(c) => {
                self.0.callees.insert(c.callee.clone());
            }
            Stmt::Assign { place: Place::Global(g), .. } => {
                self.0.globals.insert(g.clone());
            }
            _ => {}
        }
    }
}

/// Writes the canonical form of a body into a hash: a prefix notation in which every node is a word.
struct Canon<'a> {
    facts: &'a Facts,
    hasher: blake3::Hasher,
    /// Local name → slot, innermost scope last.
    scopes: Vec<BTreeMap<String, usize>>,
    /// Type and mutability of each slot, in order of declaration.
    locals: Vec<(Ty, bool)>,
}

impl<'a> Canon<'a> {
    fn new(facts: &'a Facts) -> Canon<'a> {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"lockstep-harness.function");
        Canon { facts, hasher, scopes: vec![BTreeMap::new()], locals: Vec::new() }
    }

    fn word(&mut self, w: &str) -> &mut Self {
        self.hasher.update(&(w.len() as u64).to_le_bytes());
        self.hasher.update(w.as_bytes());
        self
    }

    fn signature(&mut self, sig: &Signature) {
        self.word("sig");
        for t in &sig.params {
            self.word(t.lks());
        }
        self.word(sig.ret.map_or("unit", Ty::lks));
    }

    fn declare(&mut self, name: &str, ty: Ty, mutable: bool) {
        let slot = self.locals.len();
        self.locals.push((ty, mutable));
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_string(), slot);
        }
    }

    fn slot(&self, name: &str) -> Option<usize> {
        self.scopes.iter().rev().find_map(|s| s.get(name).copied())
    }

    fn local(&mut self, name: &str) {
        match self.slot(name) {
            Some(slot) => self.word(&format!("local{slot}")),
            None => self.word(&format!("unbound:{name}")),
        };
    }

    fn block(&mut self, b: &Block) {
        self.scopes.push(BTreeMap::new());
        self.word("{");
        for s in &b.stmts {
            self.stmt(s);
        }
        if let Some(t) = &b.tail {
            self.word("tail");
            self.expr(t);
        }
        self.word("}");
        self.scopes.pop();
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Let { name, mutable, ty, value, .. } => {
                self.word("let");
                self.expr(value);
                self.declare(name, *ty, *mutable);
            }
            Stmt::Assign { place, value } => {
                self.word("assign");
                match place {
                    Place::Local(name) => self.local(name),
                    Place::Global(g) => {
                        self.word(&g.symbol());
                    }
                }
                self.expr(value);
            }
            Stmt::While { cond, body } => {
                self.word("while");
                self.expr(cond);
                self.block(body);
            }
            Stmt::Return(v) => {
                self.word("return");
                if let Some(v) = v {
                    self.expr(v);
                }
            }
            // A call statement and an expression statement are the same thing once parsed.
            Stmt::Call(c) => {
                self.word("expr");
                self.word("call").word(&c.callee.symbol());
                c.args.iter().for_each(|a| self.expr(a));
                self.word(")");
            }
            Stmt::Expr(e) => {
                self.word("expr");
                self.expr(e);
            }
            Stmt::Print(e) => {
                self.word("expr").word("print");
                self.expr(e);
            }
            Stmt::If(chain) => {
                self.word("expr");
                self.if_chain(chain);
            }
            Stmt::Block(b) => {
                self.word("expr");
                self.block(b);
            }
            Stmt::Comment(_) => {}
        }
    }

    fn if_chain(&mut self, chain: &IfChain) {
        self.word("if");
        self.expr(&chain.cond);
        self.block(&chain.then);
        match &chain.els {
            None => {
                self.word("noelse");
            }
            Some(Else::Block(b)) => self.block(b),
            Some(Else::If(next)) => self.if_chain(next),
        }
    }

    fn value(&mut self, v: Val) {
        match v {
            Val::I(i) => self.word(&format!("i{i}")),
            Val::B(b) => self.word(&format!("b{b}")),
        };
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Int(v, _) => self.value(Val::I(*v as i64)),
            Expr::Bool(b) => self.value(Val::B(*b)),
            Expr::Local(name) => self.local(name),
            Expr::Const(p) => match self.facts.consts.get(p).copied() {
                Some(v) => self.value(v),
                None => {
                    self.word(&format!("unfolded:{p}"));
                }
            },
            Expr::Global(g) => {
                self.word("global").word(&g.symbol());
            }
            Expr::Call(c) => {
                self.word("call").word(&c.callee.symbol());
                c.args.iter().for_each(|a| self.expr(a));
                self.word(")");
            }
            Expr::Unary(op, a) => {
                self.word(&format!("{op:?}"));
                self.expr(a);
            }
            Expr::Binary(op, a, b) => {
                self.word(&format!("{op:?}"));
                self.expr(a);
                self.expr(b);
            }
            Expr::Paren(inner) => self.expr(inner),
            Expr::Block(b, _) => self.block(b),
            Expr::If(chain, _) => self.if_chain(chain),
        }
    }

    /// Adds the locals' types, the callees' signatures and the globals' types, and returns the key.
    fn finish(&mut self, refs: &Refs) -> Key {
        self.word("locals");
        for (ty, mutable) in self.locals.clone() {
            self.word(ty.lks()).word(if mutable { "mut" } else { "const" });
        }
        self.word("callees");
        for callee in &refs.callees {
            self.word(&callee.symbol());
            match self.facts.signatures.get(callee).cloned() {
                Some(sig) => self.signature(&sig),
                None => {
                    self.word("undefined");
                }
            }
        }
        self.word("globals");
        for global in &refs.globals {
            let ty = self.facts.globals.get(global).map_or("undefined", |t| t.lks());
            self.word(&global.symbol()).word(ty);
        }
        *self.hasher.finalize().as_bytes()
    }
}

/// Bounds on one list of the build report: everything in `must` is reported, nothing outside `may` is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    pub must: BTreeSet<String>,
    pub may: BTreeSet<String>,
}

impl Bounds {
    /// Whether the bounds pin the list down exactly.
    pub fn exact(&self) -> bool {
        self.must == self.may
    }

    /// `None` when `reported` is within the bounds, else what is missing and what is extra.
    pub fn violation(&self, reported: &BTreeSet<String>) -> Option<(Vec<String>, Vec<String>)> {
        let missing: Vec<String> = self.must.difference(reported).cloned().collect();
        let extra: Vec<String> = reported.difference(&self.may).cloned().collect();
        (!missing.is_empty() || !extra.is_empty()).then_some((missing, extra))
    }
}

/// The prediction for one build.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prediction {
    /// `module::function` names (the report's `recompiled_functions`).
    pub functions: Bounds,
    /// Module names (the report's `recompiled_initializers`).
    pub initializers: Bounds,
    /// True when the link inputs are exactly those of the previous build: the link must be skipped.
    pub no_relink: bool,
}

/// What a workspace's cache has seen, as far as the model can tell.
#[derive(Clone, Debug, Default)]
pub struct Knowledge {
    /// Every function and initialiser key any build of this cache compiled.
    ever: BTreeSet<Key>,
    /// Whole-program states (link key) built per `--cgu` mode since the cache was last damaged.
    states: BTreeSet<(String, Key)>,
    /// The previous successful build since the cache was last damaged: its keys, `--cgu` mode and link
    /// configuration.
    previous: Option<(Keys, String, String)>,
}

impl Knowledge {
    /// Bounds for building `keys` with units laid out by `cgu` (e.g. `partition:16`) and a link
    /// configuration `link_config` (everything besides the sources that reaches the executable).
    pub fn predict(&self, keys: &Keys, cgu: &str, link_config: &str) -> Prediction {
        let revisited = self.states.contains(&(cgu.to_string(), keys.link));
        let previous = self.previous.as_ref().filter(|(_, mode, _)| mode == cgu).map(|(k, _, _)| k);
        let bounds = |now: &BTreeMap<String, Key>, before: Option<&BTreeMap<String, Key>>| {
            let mut b = Bounds::default();
            for (name, key) in now {
                if !self.ever.contains(key) {
                    b.must.insert(name.clone());
                    b.may.insert(name.clone());
                } else if !revisited && before.and_then(|p| p.get(name)) != Some(key) {
                    b.may.insert(name.clone());
                }
            }
            b
        };
        let no_relink = self
            .previous
            .as_ref()
            .is_some_and(|(k, mode, config)| k.link == keys.link && mode == cgu && config == link_config);
        Prediction {
            functions: bounds(&keys.functions, previous.map(|k| &k.functions)),
            initializers: bounds(&keys.initializers, previous.map(|k| &k.initializers)),
            no_relink,
        }
    }

    /// Records a successful build.
    pub fn built(&mut self, keys: &Keys, cgu: &str, link_config: &str) {
        self.ever.extend(keys.functions.values().copied());
        self.ever.extend(keys.initializers.values().copied());
        self.states.insert((cgu.to_string(), keys.link));
        self.previous = Some((keys.clone(), cgu.to_string(), link_config.to_string()));
    }

    /// Forgets what may no longer be in the cache (after damage, a killed build or a race): only "never
    /// seen, so must be compiled" survives.
    pub fn forget_reachability(&mut self) {
        self.states.clear();
        self.previous = None;
    }
}
