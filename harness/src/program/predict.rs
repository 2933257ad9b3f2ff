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
//! After damage to the cache only the lower bound holds, for the rest of the case: a damaged entry is a
//! miss (and is rewritten) only when some build needs it, which can be many builds later, when an edit
//! touches its unit. (After a killed or racing build the harness skips the one prediction that follows;
//! their writes are atomic, so nothing is left damaged.)

use super::eval::ItemFacts;
use super::model::{
    Block, Call, Else, Expr, FnItem, IfChain, ItemPath, Module, Place, Program, Signature, Stmt, Ty, Val,
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
    /// The key of every function and initialiser (`module::$init`) in its parts.
    pub parts: BTreeMap<String, Parts>,
    /// Everything that reaches the executable.
    pub link: Key,
}

/// A key in the four parts the engine's `FunctionContentHash` documents, so each input can be checked to
/// reach the key on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    /// The body: its canonical tree (with the type of each call's result and each global read, as a typed
    /// tree has them) and the types of its locals.
    pub body: Key,
    /// Symbol, visibility, parameter and return types.
    pub signature: Key,
    /// Each callee's symbol and signature.
    pub callees: Key,
    /// Each referenced global's symbol and type.
    pub globals: Key,
}

impl Parts {
    pub const NAMES: [&'static str; 4] = ["body", "signature", "callees", "globals"];

    pub fn as_array(&self) -> [Key; 4] {
        [self.body, self.signature, self.callees, self.globals]
    }

    fn combined(&self) -> Key {
        let mut h = blake3::Hasher::new();
        h.update(b"lockstep-harness.key");
        for part in self.as_array() {
            h.update(&part);
        }
        *h.finalize().as_bytes()
    }
}

/// Where the engine's content hash of `name` and the model disagree between two program states: the
/// first part (body, signature, callees, globals) whose engine hash changed while the model's input did
/// not, or the other way round, described; `None` if every part agrees. The engine's parts are given in
/// [`Parts::NAMES`] order.
pub fn key_part_disagreement<E: PartialEq>(
    name: &str,
    model: (&Parts, &Parts),
    engine: (&[E; 4], &[E; 4]),
) -> Option<String> {
    let (model_before, model_now) = (model.0.as_array(), model.1.as_array());
    Parts::NAMES.iter().enumerate().find_map(|(i, part)| {
        let model_changed = model_before[i] != model_now[i];
        let engine_changed = engine.0[i] != engine.1[i];
        (model_changed != engine_changed).then(|| {
            if model_changed {
                format!("the {part} part of `{name}`'s content hash did not change, although its input did")
            } else {
                format!("the {part} part of `{name}`'s content hash changed, although its input did not")
            }
        })
    })
}

/// Computes the model keys of `program`. The program must be valid (it renders and checks).
pub fn keys(program: &Program) -> Keys {
    let facts = ItemFacts::of(program);
    let mut functions = BTreeMap::new();
    let mut initializers = BTreeMap::new();
    let mut all_parts = BTreeMap::new();
    for m in &program.modules {
        for f in m.fns() {
            let mut canon = Canon::new(&facts);
            for (name, ty) in &f.params {
                canon.declare(name, *ty, false);
            }
            canon.block(&f.body);
            let signature = signature_key(&format!("{}::{}", m.name, f.name), f.is_pub, &f.signature());
            let parts = canon.finish(signature, &body_refs(f));
            let name = format!("{}::{}", m.name, f.name);
            functions.insert(name.clone(), parts.combined());
            all_parts.insert(name, parts);
        }
        let parts = init_parts(&facts, m);
        initializers.insert(m.name.clone(), parts.combined());
        all_parts.insert(format!("{}::$init", m.name), parts);
    }
    let link = link_key(program, &functions, &initializers);
    Keys { functions, initializers, parts: all_parts, link }
}

fn signature_key(symbol: &str, is_pub: bool, sig: &Signature) -> Key {
    let mut h = blake3::Hasher::new();
    h.update(format!("signature {symbol} {is_pub} {sig:?}").as_bytes());
    *h.finalize().as_bytes()
}

fn init_parts(facts: &ItemFacts, m: &Module) -> Parts {
    let mut canon = Canon::new(facts);
    let mut refs = Refs::default();
    for g in m.globals() {
        let path = ItemPath::new(&m.name, &g.name);
        canon.word("assign").word(&path.symbol());
        canon.expr(&g.init);
        refs.globals.insert(path);
        refs.add_expr(&g.init);
    }
    let signature = signature_key(&format!("{}::$init", m.name), false, &Signature { params: Vec::new(), ret: None });
    canon.finish(signature, &refs)
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
    facts: &'a ItemFacts,
    hasher: blake3::Hasher,
    /// Local name → slot, innermost scope last.
    scopes: Vec<BTreeMap<String, usize>>,
    /// Type and mutability of each slot, in order of declaration.
    locals: Vec<(Ty, bool)>,
}

impl<'a> Canon<'a> {
    fn new(facts: &'a ItemFacts) -> Canon<'a> {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"lockstep-harness.function");
        Canon { facts, hasher, scopes: vec![BTreeMap::new()], locals: Vec::new() }
    }

    fn word(&mut self, w: &str) -> &mut Self {
        self.hasher.update(&(w.len() as u64).to_le_bytes());
        self.hasher.update(w.as_bytes());
        self
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
                self.call(c);
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
                let ty = self.facts.globals.get(g).map_or("undefined", |t| t.lks());
                self.word("global").word(&g.symbol()).word(ty);
            }
            Expr::Call(c) => self.call(c),
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

    /// A call, with the type of its result, which a typed tree records at every call.
    fn call(&mut self, c: &Call) {
        let ret = match self.facts.signatures.get(&c.callee) {
            Some(sig) => sig.ret.map_or("unit", Ty::lks),
            None => "undefined",
        };
        self.word("call").word(&c.callee.symbol()).word(ret);
        c.args.iter().for_each(|a| self.expr(a));
        self.word(")");
    }

    /// Adds the locals' types to the body, and computes the other parts.
    fn finish(&mut self, signature: Key, refs: &Refs) -> Parts {
        self.word("locals");
        for (ty, mutable) in self.locals.clone() {
            self.word(ty.lks()).word(if mutable { "mut" } else { "const" });
        }
        let mut callees = blake3::Hasher::new();
        callees.update(b"callees");
        for callee in &refs.callees {
            let sig = self.facts.signatures.get(callee);
            callees.update(format!("{} {sig:?}\n", callee.symbol()).as_bytes());
        }
        let mut globals = blake3::Hasher::new();
        globals.update(b"globals");
        for global in &refs.globals {
            let ty = self.facts.globals.get(global).map_or("undefined", |t| t.lks());
            globals.update(format!("{} {ty}\n", global.symbol()).as_bytes());
        }
        Parts {
            body: *self.hasher.finalize().as_bytes(),
            signature,
            callees: *callees.finalize().as_bytes(),
            globals: *globals.finalize().as_bytes(),
        }
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
    /// Whether the cache was damaged: from then on any key seen may be a miss.
    damaged: bool,
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
                } else if self.damaged || (!revisited && before.and_then(|p| p.get(name)) != Some(key)) {
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

    /// Records damage to the cache: from now on only "never seen, so must be compiled" holds.
    pub fn damaged(&mut self) {
        self.damaged = true;
        self.states.clear();
        self.previous = None;
    }
}
