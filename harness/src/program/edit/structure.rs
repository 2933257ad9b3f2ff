//! Structural edits: functions, modules and imports added, removed or moved.

use super::{
    call_statement, default_value, fresh_name, names_in_use, ordinary_functions, pick, rewrite_calls, NotApplicable,
};
use crate::program::eval::const_values;
use crate::program::model::{
    BinOp, Block, Call, ConstItem, Else, Expr, FnItem, GlobalItem, IfChain, Item, ItemPath, Layout, Module, Place,
    Program, Stmt, Ty, ROOT,
};
use crate::program::visit::{rewrite_program, visit_block, visit_module, Rewrite, ScopedRewrite, Visit};
use std::collections::{BTreeMap, BTreeSet};

/// A new function in a module (no calls, no loops: constant work), called once, first thing, from one
/// function of the same module.
pub(super) fn add_function(program: &mut Program, module: u16, variant: u16) -> Result<String, NotApplicable> {
    let m = usize::from(module) % program.modules.len();
    let module_name = program.modules[m].name.clone();
    let taken = names_in_use(program, &module_name);
    let name = fresh_name(&taken, "added");
    let c = 2 + u64::from(variant % 50);
    let (params, body, args) = match variant % 3 {
        0 => {
            let a = fresh_name(&taken, "arg");
            let t = fresh_name(&taken, "tmp");
            let body = Block {
                stmts: vec![Stmt::Let {
                    name: t.clone(),
                    mutable: false,
                    annotate: false,
                    ty: Ty::I64,
                    value: Expr::bin(
                        BinOp::Add,
                        Expr::bin(BinOp::Mul, Expr::Local(a.clone()), Expr::int(3)),
                        Expr::int(c),
                    ),
                }],
                tail: Some(Expr::bin(BinOp::Sub, Expr::Local(t), Expr::int(1))),
            };
            (vec![(a, Ty::I64)], body, vec![Expr::int(c + 5)])
        }
        1 => {
            let a = fresh_name(&taken, "arg");
            let b = fresh_name(&taken, "flag");
            let chain = IfChain {
                cond: Expr::Local(b.clone()),
                then: Block {
                    stmts: Vec::new(),
                    tail: Some(Expr::bin(BinOp::Add, Expr::Local(a.clone()), Expr::int(c))),
                },
                els: Some(Else::Block(Block {
                    stmts: Vec::new(),
                    tail: Some(Expr::bin(BinOp::Sub, Expr::Local(a.clone()), Expr::int(c))),
                })),
            };
            let body = Block { stmts: Vec::new(), tail: Some(Expr::If(Box::new(chain), Ty::I64)) };
            (vec![(a, Ty::I64), (b, Ty::Bool)], body, vec![Expr::int(c), Expr::Bool(variant.is_multiple_of(2))])
        }
        _ => (
            Vec::new(),
            Block { stmts: Vec::new(), tail: Some(Expr::bin(BinOp::Mul, Expr::int(c), Expr::int(2))) },
            Vec::new(),
        ),
    };
    let new = FnItem { name: name.clone(), is_pub: false, params, ret: Some(Ty::I64), body };
    let callers: Vec<String> = program.modules[m].fns().map(|f| f.name.clone()).collect();
    let items = &mut program.modules[m].items;
    let at = usize::from(variant / 3) % (items.len() + 1);
    items.insert(at, Item::Fn(new));
    let path = ItemPath::new(&module_name, &name);
    if callers.is_empty() {
        return Ok(format!("function {path} added (nothing calls it)"));
    }
    let caller = callers[usize::from(variant / 7) % callers.len()].clone();
    let caller_fn = program.modules[m].function_mut(&caller).expect("caller listed from the module");
    let call = Call { callee: path.clone(), args };
    let stmt = call_statement(caller_fn, call);
    caller_fn.body.stmts.insert(0, stmt);
    Ok(format!("function {path} added, called by {module_name}::{caller}"))
}

/// What a use of a removed item becomes.
struct Removed<'a> {
    /// Removed functions, with their return types.
    functions: &'a BTreeMap<ItemPath, Option<Ty>>,
    /// Removed globals, with their types.
    globals: &'a BTreeMap<ItemPath, Ty>,
    /// Removed consts, with their values.
    consts: &'a BTreeMap<ItemPath, crate::program::model::Val>,
}

impl Rewrite for Removed<'_> {
    fn expr(&mut self, e: &mut Expr) {
        let replacement = match e {
            Expr::Call(c) => self.functions.get(&c.callee).map(|ret| default_value(ret.unwrap_or(Ty::I64))),
            Expr::Global(g) => self.globals.get(g).map(|ty| default_value(*ty)),
            Expr::Const(k) => self.consts.get(k).map(|v| Expr::of_val(*v)),
            _ => None,
        };
        if let Some(r) = replacement {
            *e = r;
        }
    }

    fn stmts(&mut self, stmts: &mut Vec<Stmt>) {
        stmts.retain(|s| match s {
            Stmt::Call(c) => !self.functions.contains_key(&c.callee),
            Stmt::Assign { place: Place::Global(g), .. } => !self.globals.contains_key(g),
            _ => true,
        });
    }
}

impl ScopedRewrite for Removed<'_> {}

/// Removes a function: a call whose value is used becomes `0` or `false`, a call statement disappears.
pub(super) fn remove_function(program: &mut Program, function: u16) -> Result<String, NotApplicable> {
    let path = pick(&ordinary_functions(program), function, "function besides main")?;
    let ret = program.function(&path).expect("listed").ret;
    let module = program.module_mut(&path.module).expect("listed");
    module.items.retain(|i| !matches!(i, Item::Fn(f) if f.name == path.name));
    let functions = BTreeMap::from([(path.clone(), ret)]);
    rewrite_program(
        program,
        &mut Removed { functions: &functions, globals: &BTreeMap::new(), consts: &BTreeMap::new() },
    );
    Ok(format!("function {path} removed"))
}

/// A new module with a const, a global and two functions, imported by one module whose first function
/// calls it.
pub(super) fn add_module(program: &mut Program, importer: u16) -> Result<String, NotApplicable> {
    let m = usize::from(importer) % program.modules.len();
    let taken: BTreeSet<String> = program.modules.iter().map(|md| md.name.clone()).collect();
    let name = fresh_name(&taken, "extra");
    let at = |item: &str| ItemPath::new(&name, item);
    let step = Expr::bin(BinOp::Add, Expr::Global(at("level")), Expr::Local("amount".to_string()));
    let module = Module {
        name: name.clone(),
        imports: Vec::new(),
        items: vec![
            Item::Const(ConstItem { name: "STEP".to_string(), is_pub: true, ty: Ty::I64, expr: Expr::int(7) }),
            Item::Global(GlobalItem { name: "level".to_string(), is_pub: true, ty: Ty::I64, init: Expr::int(100) }),
            Item::Fn(FnItem {
                name: "bump".to_string(),
                is_pub: true,
                params: vec![("amount".to_string(), Ty::I64)],
                ret: Some(Ty::I64),
                body: Block {
                    stmts: vec![Stmt::Assign { place: Place::Global(at("level")), value: step }],
                    tail: Some(Expr::bin(BinOp::Mul, Expr::Global(at("level")), Expr::Const(at("STEP")))),
                },
            }),
            Item::Fn(FnItem {
                name: "peek".to_string(),
                is_pub: true,
                params: Vec::new(),
                ret: Some(Ty::I64),
                body: Block { stmts: Vec::new(), tail: Some(Expr::Global(at("level"))) },
            }),
        ],
        layout: Layout::default(),
    };
    program.modules.insert(0, module);
    let importer = &mut program.modules[m + 1];
    importer.imports.push(name.clone());
    let importer_name = importer.name.clone();
    let Some(caller) = importer.fns_mut().next() else {
        return Ok(format!("module {name} added, imported by {importer_name}"));
    };
    let call = Call { callee: at("bump"), args: vec![Expr::int(3)] };
    let stmt = call_statement(caller, call);
    caller.body.stmts.insert(0, stmt);
    Ok(format!("module {name} added, imported and called by {importer_name}::{}", caller.name))
}

/// Removes a module: its importers lose the import, calls and global reads become constants, const uses
/// become the const's value, and call statements and assignments to its globals disappear.
pub(super) fn remove_module(program: &mut Program, module: u16) -> Result<String, NotApplicable> {
    let candidates: Vec<String> = program.modules.iter().filter(|m| m.name != ROOT).map(|m| m.name.clone()).collect();
    let name = pick(&candidates, module, "module besides main")?;
    let values = const_values(program);
    let removed = program.module(&name).expect("listed");
    let at = |item: &str| ItemPath::new(&name, item);
    let functions: BTreeMap<ItemPath, Option<Ty>> = removed.fns().map(|f| (at(&f.name), f.ret)).collect();
    let globals: BTreeMap<ItemPath, Ty> = removed.globals().map(|g| (at(&g.name), g.ty)).collect();
    let consts: BTreeMap<ItemPath, crate::program::model::Val> =
        removed.consts().filter_map(|c| values.get(&at(&c.name)).map(|v| (at(&c.name), *v))).collect();
    program.modules.retain(|m| m.name != name);
    for m in &mut program.modules {
        m.imports.retain(|i| *i != name);
    }
    rewrite_program(program, &mut Removed { functions: &functions, globals: &globals, consts: &consts });
    Ok(format!("module {name} removed"))
}

/// Which modules each module imports, directly or not.
fn reachable_imports(program: &Program, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(m) = stack.pop() {
        for i in program.module(&m).map(|md| md.imports.clone()).unwrap_or_default() {
            if seen.insert(i.clone()) {
                stack.push(i);
            }
        }
    }
    seen
}

/// An import nothing uses yet, of a module that does not (even indirectly) import this one.
pub(super) fn add_import(program: &mut Program, module: u16, imported: u16) -> Result<String, NotApplicable> {
    let m = usize::from(module) % program.modules.len();
    let name = program.modules[m].name.clone();
    let candidates: Vec<String> = program
        .modules
        .iter()
        .map(|md| md.name.clone())
        .filter(|c| {
            *c != name && !program.modules[m].imports.contains(c) && !reachable_imports(program, c).contains(&name)
        })
        .collect();
    let target = pick(&candidates, imported, &format!("module {name} could import"))?;
    program.modules[m].imports.push(target.clone());
    Ok(format!("{name} imports {target}"))
}

/// Collects every item path a walk meets: callees, globals read or written, consts.
#[derive(Default)]
struct Uses(BTreeSet<ItemPath>);

impl Visit for Uses {
    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Call(c) => {
                self.0.insert(c.callee.clone());
            }
            Expr::Global(p) | Expr::Const(p) => {
                self.0.insert(p.clone());
            }
            _ => {}
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Call(c) => {
                self.0.insert(c.callee.clone());
            }
            Stmt::Assign { place: Place::Global(p), .. } => {
                self.0.insert(p.clone());
            }
            _ => {}
        }
    }
}

/// The modules whose items a module's code names.
fn modules_used_by(program: &Program, module: &str) -> BTreeSet<String> {
    let mut uses = Uses::default();
    if let Some(m) = program.module(module) {
        visit_module(m, &mut uses);
    }
    uses.0.into_iter().map(|p| p.module).collect()
}

/// Removes an import the module does not use.
pub(super) fn remove_import(program: &mut Program, module: u16, import: u16) -> Result<String, NotApplicable> {
    let m = usize::from(module) % program.modules.len();
    let name = program.modules[m].name.clone();
    let used = modules_used_by(program, &name);
    let unused: Vec<String> = program.modules[m].imports.iter().filter(|i| !used.contains(*i)).cloned().collect();
    let target = pick(&unused, import, &format!("unused import in {name}"))?;
    program.modules[m].imports.retain(|i| *i != target);
    Ok(format!("{name} no longer imports {target}"))
}

/// Moves a function to another module. Calls follow it (qualified now), the modules involved gain the
/// imports they need, and whatever crosses a module boundary becomes `pub`. Target modules are tried in
/// turn from `to`; one that would close an import cycle is skipped.
pub(super) fn move_function(program: &mut Program, function: u16, to: u16) -> Result<String, NotApplicable> {
    let path = pick(&ordinary_functions(program), function, "function besides main")?;
    let n = program.modules.len();
    for k in 0..n {
        let target = program.modules[(usize::from(to) + k) % n].name.clone();
        if target == path.module {
            continue;
        }
        let mut edited = program.clone();
        if let Some(name) = move_into(&mut edited, &path, &target) {
            if edited.init_order().is_some() {
                *program = edited;
                return Ok(format!("{path} moved to {target}::{name}"));
            }
        }
    }
    Err(NotApplicable(format!("no module can take {path} without an import cycle")))
}

/// Moves `path` into module `target`; returns its new name.
fn move_into(program: &mut Program, path: &ItemPath, target: &str) -> Option<String> {
    let taken = names_in_use(program, target);
    let from = program.module_mut(&path.module)?;
    let at = from.items.iter().position(|i| matches!(i, Item::Fn(f) if f.name == path.name))?;
    let Item::Fn(mut f) = from.items.remove(at) else { return None };
    let name = if taken.contains(&f.name) { fresh_name(&taken, &format!("{}_moved", f.name)) } else { f.name.clone() };
    f.name.clone_from(&name);
    let moved = ItemPath::new(target, &name);
    program.module_mut(target)?.items.push(Item::Fn(f));
    rewrite_calls(program, path, &mut |call| call.callee = moved.clone());
    // What the moved body names in other modules: each such module is imported, each such item is `pub`.
    let used = uses_of(program, &moved);
    for item in &used {
        if item.module != target {
            make_pub(program, item);
            add_import_edge(program, target, &item.module);
        }
    }
    // Every module calling it imports the target, and calls from elsewhere need it `pub`.
    let callers = callers_of(program, &moved);
    for caller in &callers {
        if *caller != target {
            add_import_edge(program, caller, target);
            make_pub(program, &moved);
        }
    }
    Some(name)
}

fn add_import_edge(program: &mut Program, importer: &str, imported: &str) {
    if let Some(m) = program.module_mut(importer) {
        if !m.imports.iter().any(|i| i == imported) {
            m.imports.push(imported.to_string());
        }
    }
}

fn make_pub(program: &mut Program, item: &ItemPath) {
    match program.module_mut(&item.module).and_then(|m| m.item_mut(&item.name)) {
        Some(Item::Fn(f)) => f.is_pub = true,
        Some(Item::Global(g)) => g.is_pub = true,
        Some(Item::Const(c)) => c.is_pub = true,
        _ => {}
    }
}

/// The items a function's body names (callees, globals read or written, consts).
fn uses_of(program: &Program, path: &ItemPath) -> BTreeSet<ItemPath> {
    let mut uses = Uses::default();
    if let Some(f) = program.function(path) {
        visit_block(&f.body, &mut uses);
    }
    uses.0
}

/// The modules with code calling `path`.
fn callers_of(program: &Program, path: &ItemPath) -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    for m in &program.modules {
        let mut uses = Uses::default();
        visit_module(m, &mut uses);
        if uses.0.contains(path) {
            modules.insert(m.name.clone());
        }
    }
    modules
}
