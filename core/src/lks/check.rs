//! Name resolution, type checking and constant evaluation.
//!
//! Turns the parsed project into span-free typed functions ([`thir`]). Every
//! error is collected (not just the first), each pointing at the code it is
//! about. An expression that failed to check is given the type `Never`,
//! which fits anywhere, so one mistake does not cascade into many reports.

use crate::diagnostic::Diagnostic;
use crate::lks::ast::{self, BinaryOp, UnaryOp};
use crate::lks::modules::{ModuleGraph, ParsedProject};
use crate::lks::thir::{self, ExprTy, LocalIdx};
use crate::mir::{BinOp, Const, EntryPoint, GlobalDef, Signature, Symbol, Ty, UnOp, Visibility};
use crate::source::Span;
use std::collections::{BTreeMap, BTreeSet};

/// One module after checking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedModule {
    pub name: String,
    /// Modules this one imports, sorted.
    pub imports: Vec<String>,
    /// Globals in source order.
    pub globals: Vec<GlobalDef>,
    /// The initialiser: assigns every global its initial value, in order.
    pub init: thir::Function,
    /// Functions in source order.
    pub functions: Vec<thir::Function>,
}

/// A whole checked program, modules in name order. With incremental
/// checking, `modules` holds only the modules that were checked; the others
/// are known by their interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedProgram {
    pub modules: Vec<CheckedModule>,
    pub entry: EntryPoint,
    /// The interface of every checked module.
    pub interfaces: BTreeMap<String, ModuleInterface>,
}

/// The built-in function every module can call.
pub const PRINT: &str = "print";

/// One item of a module, as the checker sees it: from the AST of a module
/// being checked, or from the interface of a module that is unchanged
/// since an earlier build (incremental checking never parses it).
#[derive(Clone, Copy)]
enum ItemRef<'a> {
    Const(&'a ast::ValueItem),
    Global(&'a ast::ValueItem),
    Fn(&'a ast::FnItem),
    Known(&'a InterfaceItem),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ItemKind {
    Const,
    Global,
    Fn,
}

impl ItemRef<'_> {
    fn is_pub(&self) -> bool {
        match self {
            ItemRef::Const(v) | ItemRef::Global(v) => v.is_pub,
            ItemRef::Fn(f) => f.is_pub,
            ItemRef::Known(k) => k.is_pub,
        }
    }

    fn kind(&self) -> ItemKind {
        match self {
            ItemRef::Const(_) | ItemRef::Known(InterfaceItem { kind: InterfaceKind::Const(_), .. }) => ItemKind::Const,
            ItemRef::Global(_) | ItemRef::Known(InterfaceItem { kind: InterfaceKind::Global(_), .. }) => {
                ItemKind::Global
            }
            ItemRef::Fn(_) | ItemRef::Known(InterfaceItem { kind: InterfaceKind::Fn(_), .. }) => ItemKind::Fn,
        }
    }
}

/// What other modules can see of a module's items: everything checking an
/// importer needs, with constants already evaluated.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InterfaceItem {
    pub is_pub: bool,
    pub kind: InterfaceKind,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum InterfaceKind {
    Const(Const),
    Global(Ty),
    Fn(Signature),
}

/// A module's interface: its items by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModuleInterface {
    pub imports: Vec<String>,
    pub items: BTreeMap<String, InterfaceItem>,
}

struct ModuleScope<'a> {
    items: BTreeMap<&'a str, ItemRef<'a>>,
    imports: BTreeSet<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum ConstState {
    Evaluating,
    Done(Option<Const>),
}

/// Program-wide tables shared by every function's checker.
struct ProgramContext<'a> {
    scopes: BTreeMap<&'a str, ModuleScope<'a>>,
    signatures: BTreeMap<Symbol, Signature>,
    global_types: BTreeMap<Symbol, Ty>,
    consts: BTreeMap<Symbol, ConstState>,
    diagnostics: Vec<Diagnostic>,
}

fn resolve_type(ty: &ast::TypeRef, diagnostics: &mut Vec<Diagnostic>) -> Option<Ty> {
    match ty.name.name.as_str() {
        "i64" => Some(Ty::I64),
        "bool" => Some(Ty::Bool),
        other => {
            diagnostics
                .push(Diagnostic::error(ty.name.span, format!("unknown type `{other}` (expected `i64` or `bool`)")));
            None
        }
    }
}

fn binop(op: BinaryOp) -> Option<BinOp> {
    Some(match op {
        BinaryOp::Add => BinOp::Add,
        BinaryOp::Sub => BinOp::Sub,
        BinaryOp::Mul => BinOp::Mul,
        BinaryOp::Div => BinOp::Div,
        BinaryOp::Rem => BinOp::Rem,
        BinaryOp::Eq => BinOp::Eq,
        BinaryOp::Ne => BinOp::Ne,
        BinaryOp::Lt => BinOp::Lt,
        BinaryOp::Le => BinOp::Le,
        BinaryOp::Gt => BinOp::Gt,
        BinaryOp::Ge => BinOp::Ge,
        BinaryOp::And | BinaryOp::Or => return None,
    })
}

/// Checks a parsed project. Returns every diagnostic if anything is wrong.
pub fn check_project(project: &ParsedProject, graph: &ModuleGraph) -> Result<CheckedProgram, Vec<Diagnostic>> {
    check_with_interfaces(project, std::iter::empty(), graph, true)
}

/// Checks the parsed modules of `project`; every other module of the
/// program is `known` only by its interface (it is unchanged, and so are
/// the interfaces it depends on). The typed functions produced are the
/// same as a check of the whole program would produce. A module sees the
/// rest of the program only through its imports, so `known` need hold no
/// more than the checked modules' imports.
pub fn check_with_interfaces<'a>(
    project: &'a ParsedProject,
    known: impl IntoIterator<Item = (&'a String, &'a ModuleInterface)>,
    graph: &'a ModuleGraph,
    with_entry: bool,
) -> Result<CheckedProgram, Vec<Diagnostic>> {
    let mut cx = ProgramContext::declare(project, known, graph);
    let mut modules = Vec::new();
    for module in &project.modules {
        modules.push(cx.check_module(module));
    }
    // Checking a few modules on their own (incremental checking) leaves
    // the entry point to the caller, who knows the whole program.
    let entry = if with_entry {
        cx.check_main(project, graph)
    } else {
        Some(EntryPoint { init_order: Vec::new(), main: Symbol::new("main", "main"), main_returns_value: false })
    };
    if cx.diagnostics.is_empty() {
        match entry {
            Some(entry) => {
                let interfaces = modules.iter().map(|m| (m.name.clone(), cx.interface_named(&m.name))).collect();
                Ok(CheckedProgram { modules, entry, interfaces })
            }
            None => Err(cx.diagnostics),
        }
    } else {
        Err(cx.diagnostics)
    }
}

/// The interfaces of `project`'s modules, worked out from their
/// declarations alone: signatures and global types as written, constants
/// evaluated. No body is checked, so this costs a small part of a check.
/// `known` must hold the imports' interfaces, as for
/// [`check_with_interfaces`], whose interfaces these are whenever its
/// check succeeds: a module's interface never depends on a body. That is
/// what lets incremental checking settle every module's interface first,
/// in import order, and then check all bodies at once.
pub fn declared_interfaces<'a>(
    project: &'a ParsedProject,
    known: impl IntoIterator<Item = (&'a String, &'a ModuleInterface)>,
    graph: &'a ModuleGraph,
) -> Result<BTreeMap<String, ModuleInterface>, Vec<Diagnostic>> {
    let cx = ProgramContext::declare(project, known, graph);
    if !cx.diagnostics.is_empty() {
        return Err(cx.diagnostics);
    }
    Ok(project.modules.iter().map(|m| (m.name.clone(), cx.interface_named(&m.name))).collect())
}

impl<'a> ProgramContext<'a> {
    /// Everything declared: the project's items, the known interfaces, and
    /// every constant's value.
    fn declare(
        project: &'a ParsedProject,
        known: impl IntoIterator<Item = (&'a String, &'a ModuleInterface)>,
        graph: &'a ModuleGraph,
    ) -> ProgramContext<'a> {
        let mut cx = ProgramContext {
            scopes: BTreeMap::new(),
            signatures: BTreeMap::new(),
            global_types: BTreeMap::new(),
            consts: BTreeMap::new(),
            diagnostics: Vec::new(),
        };
        cx.collect_items(project, graph);
        cx.add_known(known);
        for module in &project.modules {
            for item in &module.ast.items {
                if let ast::Item::Const(c) = item {
                    cx.const_value(&module.name, &c.name.name);
                }
            }
        }
        cx
    }

    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::error(span, message));
    }

    fn collect_items(&mut self, project: &'a ParsedProject, graph: &ModuleGraph) {
        for module in &project.modules {
            let mut items: BTreeMap<&'a str, ItemRef<'a>> = BTreeMap::new();
            let mut first_spans: BTreeMap<&str, Span> = BTreeMap::new();
            for item in &module.ast.items {
                let (name, item_ref) = match item {
                    ast::Item::Import(_) => continue,
                    ast::Item::Const(c) => (&c.name, ItemRef::Const(c)),
                    ast::Item::Global(g) => (&g.name, ItemRef::Global(g)),
                    ast::Item::Fn(f) => (&f.name, ItemRef::Fn(f)),
                };
                if let ItemRef::Fn(_) = item_ref {
                    if name.name == PRINT {
                        self.error(name.span, "`print` is a built-in function and cannot be redefined");
                        continue;
                    }
                }
                if let Some(first) = first_spans.get(name.name.as_str()) {
                    let d = Diagnostic::error(name.span, format!("`{}` is defined more than once", name.name))
                        .with_note(Some(*first), "first defined here");
                    self.diagnostics.push(d);
                    continue;
                }
                first_spans.insert(&name.name, name.span);
                items.insert(&name.name, item_ref);
                let symbol = Symbol::new(&module.name, &name.name);
                match item_ref {
                    ItemRef::Fn(f) => {
                        let mut params = Vec::new();
                        for p in &f.params {
                            params.push(resolve_type(&p.ty, &mut self.diagnostics).unwrap_or(Ty::I64));
                        }
                        let ret = f.ret.as_ref().map(|t| resolve_type(t, &mut self.diagnostics).unwrap_or(Ty::I64));
                        self.signatures.insert(symbol, Signature { params, ret });
                    }
                    ItemRef::Global(g) => {
                        let ty = resolve_type(&g.ty, &mut self.diagnostics).unwrap_or(Ty::I64);
                        self.global_types.insert(symbol, ty);
                    }
                    ItemRef::Const(_) | ItemRef::Known(_) => {}
                }
            }
            let imports = graph.imports.get(&module.name).cloned().unwrap_or_default();
            self.scopes.insert(&module.name, ModuleScope { items, imports });
        }
    }

    /// Makes the items of unchanged modules visible through their interfaces.
    fn add_known(&mut self, known: impl IntoIterator<Item = (&'a String, &'a ModuleInterface)>) {
        for (module, interface) in known {
            let mut items = BTreeMap::new();
            for (name, item) in &interface.items {
                let symbol = Symbol::new(module, name);
                match &item.kind {
                    InterfaceKind::Const(value) => {
                        self.consts.insert(symbol, ConstState::Done(Some(*value)));
                    }
                    InterfaceKind::Global(ty) => {
                        self.global_types.insert(symbol, *ty);
                    }
                    InterfaceKind::Fn(sig) => {
                        self.signatures.insert(symbol, sig.clone());
                    }
                }
                items.insert(name.as_str(), ItemRef::Known(item));
            }
            let imports = interface.imports.iter().cloned().collect();
            self.scopes.insert(module.as_str(), ModuleScope { items, imports });
        }
    }

    /// The interface of module `module`, from its scope: what checking it
    /// settled (its declarations), never anything from a body.
    fn interface_named(&self, module: &str) -> ModuleInterface {
        let mut items = BTreeMap::new();
        let mut imports = Vec::new();
        if let Some(scope) = self.scopes.get(module) {
            imports = scope.imports.iter().cloned().collect();
            for (name, item) in &scope.items {
                let symbol = Symbol::new(module, *name);
                let kind = match item.kind() {
                    ItemKind::Const => match self.consts.get(&symbol) {
                        Some(ConstState::Done(Some(v))) => InterfaceKind::Const(*v),
                        _ => continue,
                    },
                    ItemKind::Global => match self.global_types.get(&symbol) {
                        Some(ty) => InterfaceKind::Global(*ty),
                        None => continue,
                    },
                    ItemKind::Fn => match self.signatures.get(&symbol) {
                        Some(sig) => InterfaceKind::Fn(sig.clone()),
                        None => continue,
                    },
                };
                items.insert(name.to_string(), InterfaceItem { is_pub: item.is_pub(), kind });
            }
        }
        ModuleInterface { imports, items }
    }

    fn item(&self, module: &str, name: &str) -> Option<ItemRef<'a>> {
        self.scopes.get(module).and_then(|s| s.items.get(name).copied())
    }

    /// Resolves `MODULE::NAME` from inside `from`, checking import and
    /// visibility. Reports and returns `None` on failure.
    fn qualified_item(&mut self, from: &str, path: &ast::Path, module: &ast::Ident) -> Option<ItemRef<'a>> {
        let imported = self.scopes.get(from).is_some_and(|s| s.imports.contains(&module.name));
        if !imported {
            let message = if self.scopes.contains_key(module.name.as_str()) {
                format!("module `{}` is not imported here (add `import {};`)", module.name, module.name)
            } else {
                format!("unknown module `{}`", module.name)
            };
            self.error(module.span, message);
            return None;
        }
        let Some(item) = self.item(&module.name, &path.name.name) else {
            self.error(path.name.span, format!("module `{}` has no item `{}`", module.name, path.name.name));
            return None;
        };
        if !item.is_pub() {
            self.error(path.name.span, format!("`{}` is private to module `{}`", path.name.name, module.name));
            return None;
        }
        Some(item)
    }

    /// The value of constant `module::name`, evaluating it on first use.
    fn const_value(&mut self, module: &str, name: &str) -> Option<Const> {
        let symbol = Symbol::new(module, name);
        match self.consts.get(&symbol) {
            Some(ConstState::Done(v)) => return *v,
            Some(ConstState::Evaluating) => return None,
            None => {}
        }
        let Some(ItemRef::Const(item)) = self.item(module, name) else { return None };
        self.consts.insert(symbol.clone(), ConstState::Evaluating);
        let declared = resolve_type(&item.ty, &mut Vec::new());
        let value = self.eval_const_expr(module, &item.value).and_then(|v| match declared {
            Some(ty) if ty != v.ty() => {
                self.error(item.value.span, format!("mismatched types: expected `{ty}`, found `{}`", v.ty()));
                None
            }
            _ => Some(v),
        });
        self.consts.insert(symbol, ConstState::Done(value));
        value
    }

    fn eval_const_expr(&mut self, module: &str, expr: &ast::Expr) -> Option<Const> {
        match &expr.kind {
            ast::ExprKind::Int(v) => Some(Const::I64(*v)),
            ast::ExprKind::Bool(b) => Some(Const::Bool(*b)),
            ast::ExprKind::Paren(inner) => self.eval_const_expr(module, inner),
            ast::ExprKind::Error => None,
            ast::ExprKind::Path(path) => {
                let (target_module, item) = match &path.module {
                    None => (module.to_string(), self.item(module, &path.name.name)),
                    Some(m) => (m.name.clone(), self.qualified_item(module, path, m)),
                };
                match item.map(|i| i.kind()) {
                    Some(ItemKind::Const) => {
                        let symbol = Symbol::new(&target_module, &path.name.name);
                        if self.consts.get(&symbol) == Some(&ConstState::Evaluating) {
                            self.error(path.span, format!("constant `{}` depends on itself", path.name.name));
                            return None;
                        }
                        self.const_value(&target_module, &path.name.name)
                    }
                    Some(ItemKind::Global) => {
                        self.error(path.span, format!("a constant cannot read global `{}`", path.name.name));
                        None
                    }
                    Some(ItemKind::Fn) => {
                        self.error(path.span, format!("`{}` is a function, not a value", path.name.name));
                        None
                    }
                    None if path.module.is_none() => {
                        self.error(path.span, format!("unknown name `{}`", path.name.name));
                        None
                    }
                    None => None,
                }
            }
            ast::ExprKind::Unary(op, inner) => {
                let value = self.eval_const_expr(module, inner)?;
                match (op, value) {
                    (UnaryOp::Neg, Const::I64(v)) => Some(Const::I64(v.wrapping_neg())),
                    (UnaryOp::Not, Const::Bool(b)) => Some(Const::Bool(!b)),
                    (UnaryOp::Neg, _) => {
                        self.error(inner.span, "operator `-` needs an `i64` operand, found `bool`");
                        None
                    }
                    (UnaryOp::Not, _) => {
                        self.error(inner.span, "operator `!` needs a `bool` operand, found `i64`");
                        None
                    }
                }
            }
            ast::ExprKind::Binary(op, lhs, rhs) => {
                let l = self.eval_const_expr(module, lhs);
                let r = self.eval_const_expr(module, rhs);
                let (l, r) = (l?, r?);
                self.fold_const_binary(*op, l, r, lhs.span, rhs.span, expr.span)
            }
            ast::ExprKind::Call { .. } | ast::ExprKind::Block(_) | ast::ExprKind::If { .. } => {
                self.error(expr.span, "a constant may only use literals, constants and operators");
                None
            }
        }
    }

    fn fold_const_binary(&mut self, op: BinaryOp, l: Const, r: Const, ls: Span, rs: Span, span: Span) -> Option<Const> {
        use Const::{Bool, I64};
        let sym = op.symbol();
        Some(match (op, l, r) {
            (BinaryOp::And, Bool(a), Bool(b)) => Bool(a && b),
            (BinaryOp::Or, Bool(a), Bool(b)) => Bool(a || b),
            (BinaryOp::And | BinaryOp::Or, a, b) => {
                let bad = if a.ty() != Ty::Bool { ls } else { rs };
                let found = if a.ty() != Ty::Bool { a.ty() } else { b.ty() };
                self.error(bad, format!("operator `{sym}` needs `bool` operands, found `{found}`"));
                return None;
            }
            (BinaryOp::Eq, a, b) if a.ty() == b.ty() => Bool(a == b),
            (BinaryOp::Ne, a, b) if a.ty() == b.ty() => Bool(a != b),
            (BinaryOp::Eq | BinaryOp::Ne, a, b) => {
                self.error(span, format!("cannot compare `{}` with `{}`", a.ty(), b.ty()));
                return None;
            }
            (_, I64(a), I64(b)) => match op {
                BinaryOp::Add => I64(a.wrapping_add(b)),
                BinaryOp::Sub => I64(a.wrapping_sub(b)),
                BinaryOp::Mul => I64(a.wrapping_mul(b)),
                BinaryOp::Div | BinaryOp::Rem if b == 0 => {
                    self.error(span, "division by zero in a constant");
                    return None;
                }
                BinaryOp::Div => I64(a.wrapping_div(b)),
                BinaryOp::Rem => I64(a.wrapping_rem(b)),
                BinaryOp::Lt => Bool(a < b),
                BinaryOp::Le => Bool(a <= b),
                BinaryOp::Gt => Bool(a > b),
                BinaryOp::Ge => Bool(a >= b),
                _ => return None,
            },
            (_, a, _) => {
                let (bad, found) = if a.ty() != Ty::I64 { (ls, a.ty()) } else { (rs, Ty::Bool) };
                self.error(bad, format!("operator `{sym}` needs `i64` operands, found `{found}`"));
                return None;
            }
        })
    }

    fn check_module(&mut self, module: &'a crate::lks::modules::ParsedModule) -> CheckedModule {
        let name = module.name.clone();
        let mut globals = Vec::new();
        let mut init_stmts = Vec::new();
        let mut init_checker = FnChecker::new(&name, None, true);
        let mut functions = Vec::new();
        for item in &module.ast.items {
            match item {
                ast::Item::Global(g) => {
                    let symbol = Symbol::new(&name, &g.name.name);
                    let Some(ty) = self.global_types.get(&symbol).copied() else { continue };
                    // Only the first definition of a duplicated name counts.
                    if !matches!(self.item(&name, &g.name.name), Some(ItemRef::Global(x)) if std::ptr::eq(x, g)) {
                        continue;
                    }
                    let value = init_checker.check_expr(self, &g.value);
                    init_checker.expect_value(self, &value, ty, g.value.span);
                    globals.push(GlobalDef { symbol: symbol.clone(), ty });
                    init_stmts.push(thir::Stmt::AssignGlobal { global: symbol, value });
                }
                ast::Item::Fn(f) => {
                    if !matches!(self.item(&name, &f.name.name), Some(ItemRef::Fn(x)) if std::ptr::eq(x, f)) {
                        continue;
                    }
                    functions.push(self.check_function(&name, f));
                }
                ast::Item::Const(_) | ast::Item::Import(_) => {}
            }
        }
        let init = thir::Function {
            symbol: Symbol::init_of(&name),
            visibility: Visibility::Public,
            signature: Signature { params: Vec::new(), ret: None },
            locals: init_checker.locals,
            body: thir::Block { stmts: init_stmts, tail: None, ty: ExprTy::Unit },
        };
        let imports = self.scopes.get(name.as_str()).map(|s| s.imports.iter().cloned().collect()).unwrap_or_default();
        CheckedModule { name, imports, globals, init, functions }
    }

    fn check_function(&mut self, module: &str, f: &ast::FnItem) -> thir::Function {
        let symbol = Symbol::new(module, &f.name.name);
        let signature = self.signatures.get(&symbol).cloned().unwrap_or(Signature { params: Vec::new(), ret: None });
        let mut checker = FnChecker::new(module, signature.ret, false);
        checker.scopes.push(Vec::new());
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for (param, ty) in f.params.iter().zip(&signature.params) {
            if let Some(first) = seen.insert(&param.name.name, param.name.span) {
                let d =
                    Diagnostic::error(param.name.span, format!("parameter `{}` is declared twice", param.name.name))
                        .with_note(Some(first), "first declared here");
                self.diagnostics.push(d);
            }
            checker.declare(&param.name.name, *ty, false);
        }
        let body = checker.check_block(self, &f.body);
        match (signature.ret, body.ty) {
            (Some(expected), ExprTy::Value(found)) if expected != found => {
                let span = f.body.tail.as_ref().map_or(f.body.span, |t| t.span);
                self.error(span, format!("mismatched types: expected `{expected}`, found `{found}`"));
            }
            (Some(expected), ExprTy::Unit) => {
                let end = f.body.span.end.saturating_sub(1) as usize;
                let span = Span::new(f.body.span.file, end, f.body.span.end as usize);
                self.error(
                    span,
                    format!("function `{}` must return a value of type `{expected}` on every path", f.name.name),
                );
            }
            _ => {}
        }
        let visibility = if f.is_pub { Visibility::Public } else { Visibility::Private };
        thir::Function { symbol, visibility, signature, locals: checker.locals, body }
    }

    fn check_main(&mut self, project: &ParsedProject, graph: &ModuleGraph) -> Option<EntryPoint> {
        let main = Symbol::new("main", "main");
        let returns_value = match self.item("main", "main") {
            Some(ItemRef::Fn(f)) => {
                let sig = self.signatures.get(&main).cloned()?;
                if !sig.params.is_empty() || sig.ret == Some(Ty::Bool) {
                    self.error(f.sig_span, "`main` must be declared as `fn main()` or `fn main() -> i64`");
                    return None;
                }
                sig.ret.is_some()
            }
            // An unchanged `main` module: it was checked before.
            Some(ItemRef::Known(InterfaceItem { kind: InterfaceKind::Fn(sig), .. })) => sig.ret.is_some(),
            Some(_) => {
                let span = self.item_span("main", "main").unwrap_or_default();
                self.error(span, "`main` must be a function");
                return None;
            }
            None => {
                let file = project.module("main")?.file;
                self.error(Span::new(file, 0, 0), "module `main` has no `fn main()`");
                return None;
            }
        };
        if graph.find_cycle().is_some() {
            return None;
        }
        let init_order = graph.init_order().into_iter().map(Symbol::init_of).collect();
        Some(EntryPoint { init_order, main, main_returns_value: returns_value })
    }

    fn item_span(&self, module: &str, name: &str) -> Option<Span> {
        self.item(module, name).map(|i| match i {
            ItemRef::Const(v) | ItemRef::Global(v) => v.name.span,
            ItemRef::Fn(f) => f.name.span,
            ItemRef::Known(_) => Span::default(),
        })
    }
}

/// Checks one function body (or the global initialisers of one module).
struct FnChecker {
    module: String,
    ret: Option<Ty>,
    in_initialiser: bool,
    locals: Vec<thir::Local>,
    scopes: Vec<Vec<(String, LocalIdx)>>,
}

enum ValuePath {
    Local(LocalIdx, thir::Local),
    Const(Const),
    Global(Symbol, Ty),
}

fn error_expr() -> thir::Expr {
    thir::Expr { ty: ExprTy::Never, kind: thir::ExprKind::Const(Const::I64(0)) }
}

fn stmt_diverges(stmt: &thir::Stmt) -> bool {
    match stmt {
        thir::Stmt::Return(_) => true,
        thir::Stmt::Let { init: e, .. }
        | thir::Stmt::AssignLocal { value: e, .. }
        | thir::Stmt::AssignGlobal { value: e, .. }
        | thir::Stmt::Expr(e) => e.ty == ExprTy::Never,
        // There is no `break`: a loop whose condition is always true only
        // ever leaves through `return`.
        thir::Stmt::While { cond, .. } => {
            cond.ty == ExprTy::Never || matches!(cond.kind, thir::ExprKind::Const(Const::Bool(true)))
        }
    }
}

impl FnChecker {
    fn new(module: &str, ret: Option<Ty>, in_initialiser: bool) -> FnChecker {
        FnChecker { module: module.to_string(), ret, in_initialiser, locals: Vec::new(), scopes: vec![Vec::new()] }
    }

    fn declare(&mut self, name: &str, ty: Ty, mutable: bool) -> LocalIdx {
        let idx = LocalIdx(self.locals.len() as u32);
        self.locals.push(thir::Local { ty, mutable });
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((name.to_string(), idx));
        }
        idx
    }

    fn lookup_local(&self, name: &str) -> Option<LocalIdx> {
        self.scopes.iter().rev().flat_map(|s| s.iter().rev()).find(|(n, _)| n == name).map(|(_, i)| *i)
    }

    /// Reports unless `expr` has type `ty` (or never completes).
    fn expect_value(&self, cx: &mut ProgramContext<'_>, expr: &thir::Expr, ty: Ty, span: Span) {
        match expr.ty {
            ExprTy::Value(found) if found != ty => {
                cx.error(span, format!("mismatched types: expected `{ty}`, found `{found}`"));
            }
            ExprTy::Unit => {
                cx.error(span, format!("expected a value of type `{ty}`, but this expression has no value"))
            }
            _ => {}
        }
    }

    /// Reports unless `expr` has a value; returns its type.
    fn require_value(&self, cx: &mut ProgramContext<'_>, expr: &thir::Expr, span: Span) -> Option<Ty> {
        match expr.ty {
            ExprTy::Value(t) => Some(t),
            ExprTy::Unit => {
                cx.error(span, "this expression has no value");
                None
            }
            ExprTy::Never => None,
        }
    }

    fn resolve_value(&self, cx: &mut ProgramContext<'_>, path: &ast::Path) -> Option<ValuePath> {
        let (module, item) = match &path.module {
            None => {
                if let Some(idx) = self.lookup_local(&path.name.name) {
                    return Some(ValuePath::Local(idx, self.locals[idx.0 as usize]));
                }
                match cx.item(&self.module, &path.name.name) {
                    Some(item) => (self.module.clone(), item),
                    None => {
                        let message = if path.name.name == PRINT {
                            "`print` is a function, not a value".to_string()
                        } else {
                            format!("unknown name `{}`", path.name.name)
                        };
                        cx.error(path.span, message);
                        return None;
                    }
                }
            }
            Some(m) => (m.name.clone(), cx.qualified_item(&self.module, path, m)?),
        };
        match item.kind() {
            ItemKind::Const => cx.const_value(&module, &path.name.name).map(ValuePath::Const),
            ItemKind::Global => {
                let symbol = Symbol::new(&module, &path.name.name);
                let ty = cx.global_types.get(&symbol).copied()?;
                Some(ValuePath::Global(symbol, ty))
            }
            ItemKind::Fn => {
                cx.error(path.span, format!("`{}` is a function, not a value", path.name.name));
                None
            }
        }
    }

    fn check_block(&mut self, cx: &mut ProgramContext<'_>, block: &ast::Block) -> thir::Block {
        self.scopes.push(Vec::new());
        let mut stmts = Vec::new();
        let mut diverges = false;
        for stmt in &block.stmts {
            let checked = self.check_stmt(cx, stmt);
            diverges |= stmt_diverges(&checked);
            stmts.push(checked);
        }
        let tail = block.tail.as_ref().map(|e| Box::new(self.check_expr(cx, e)));
        self.scopes.pop();
        let ty = match &tail {
            _ if diverges => ExprTy::Never,
            Some(t) => t.ty,
            None => ExprTy::Unit,
        };
        thir::Block { stmts, tail, ty }
    }

    fn check_stmt(&mut self, cx: &mut ProgramContext<'_>, stmt: &ast::Stmt) -> thir::Stmt {
        match &stmt.kind {
            ast::StmtKind::Let { mutable, name, ty, init } => {
                let init_checked = self.check_expr(cx, init);
                let declared = ty.as_ref().and_then(|t| resolve_type(t, &mut cx.diagnostics));
                let local_ty = match (declared, init_checked.ty) {
                    (Some(t), _) => {
                        self.expect_value(cx, &init_checked, t, init.span);
                        t
                    }
                    (None, ExprTy::Value(t)) => t,
                    (None, ExprTy::Unit) => {
                        cx.error(init.span, "this expression has no value");
                        Ty::I64
                    }
                    (None, ExprTy::Never) => Ty::I64,
                };
                // Declared after checking the initialiser: `let x = x + 1;`
                // reads the outer `x`.
                let local = self.declare(&name.name, local_ty, *mutable);
                thir::Stmt::Let { local, init: init_checked }
            }
            ast::StmtKind::Assign { place, value } => {
                let checked = self.check_expr(cx, value);
                match self.resolve_value(cx, place) {
                    Some(ValuePath::Local(idx, local)) => {
                        if !local.mutable {
                            cx.error(
                                place.span,
                                format!(
                                    "cannot assign to `{}`: it is not mutable (declare it with `let mut`)",
                                    place.name.name
                                ),
                            );
                        }
                        self.expect_value(cx, &checked, local.ty, value.span);
                        thir::Stmt::AssignLocal { local: idx, value: checked }
                    }
                    Some(ValuePath::Global(symbol, ty)) => {
                        self.expect_value(cx, &checked, ty, value.span);
                        thir::Stmt::AssignGlobal { global: symbol, value: checked }
                    }
                    Some(ValuePath::Const(_)) => {
                        cx.error(place.span, format!("cannot assign to constant `{}`", place.name.name));
                        thir::Stmt::Expr(error_expr())
                    }
                    None => thir::Stmt::Expr(error_expr()),
                }
            }
            ast::StmtKind::While { cond, body } => {
                let cond_checked = self.check_expr(cx, cond);
                self.expect_value(cx, &cond_checked, Ty::Bool, cond.span);
                let body = self.check_block(cx, body);
                thir::Stmt::While { cond: cond_checked, body }
            }
            ast::StmtKind::Return(value) => {
                if self.in_initialiser {
                    cx.error(stmt.span, "`return` outside of a function");
                    return thir::Stmt::Expr(error_expr());
                }
                let checked = value.as_ref().map(|v| self.check_expr(cx, v));
                match (self.ret, &checked, value) {
                    (Some(t), Some(e), Some(v)) => self.expect_value(cx, e, t, v.span),
                    (Some(t), None, _) => cx.error(stmt.span, format!("`return` needs a value of type `{t}`")),
                    (None, Some(e), Some(v)) if e.ty != ExprTy::Never => {
                        cx.error(v.span, "this function returns nothing, but `return` has a value")
                    }
                    _ => {}
                }
                thir::Stmt::Return(checked)
            }
            ast::StmtKind::Expr(e) => thir::Stmt::Expr(self.check_expr(cx, e)),
        }
    }

    fn check_expr(&mut self, cx: &mut ProgramContext<'_>, expr: &ast::Expr) -> thir::Expr {
        use thir::ExprKind as K;
        let value = |ty: Ty, kind: K| thir::Expr { ty: ExprTy::Value(ty), kind };
        match &expr.kind {
            ast::ExprKind::Int(v) => value(Ty::I64, K::Const(Const::I64(*v))),
            ast::ExprKind::Bool(b) => value(Ty::Bool, K::Const(Const::Bool(*b))),
            ast::ExprKind::Paren(inner) => self.check_expr(cx, inner),
            ast::ExprKind::Error => error_expr(),
            ast::ExprKind::Path(path) => match self.resolve_value(cx, path) {
                Some(ValuePath::Local(idx, local)) => value(local.ty, K::Local(idx)),
                Some(ValuePath::Const(c)) => value(c.ty(), K::Const(c)),
                Some(ValuePath::Global(symbol, ty)) => value(ty, K::Global(symbol)),
                None => error_expr(),
            },
            ast::ExprKind::Call { callee, args } => self.check_call(cx, callee, args),
            ast::ExprKind::Unary(op, inner) => {
                let operand = self.check_expr(cx, inner);
                let (want, mir_op) = match op {
                    UnaryOp::Neg => (Ty::I64, UnOp::Neg),
                    UnaryOp::Not => (Ty::Bool, UnOp::Not),
                };
                match self.require_value(cx, &operand, inner.span) {
                    Some(t) if t == want => value(want, K::Unary(mir_op, Box::new(operand))),
                    Some(t) => {
                        let sym = if *op == UnaryOp::Neg { "-" } else { "!" };
                        cx.error(inner.span, format!("operator `{sym}` needs a `{want}` operand, found `{t}`"));
                        error_expr()
                    }
                    None => error_expr(),
                }
            }
            ast::ExprKind::Binary(op, lhs, rhs) => {
                let l = self.check_expr(cx, lhs);
                let r = self.check_expr(cx, rhs);
                let lt = self.require_value(cx, &l, lhs.span);
                let rt = self.require_value(cx, &r, rhs.span);
                let (Some(lt), Some(rt)) = (lt, rt) else { return error_expr() };
                let sym = op.symbol();
                match op {
                    BinaryOp::And | BinaryOp::Or => {
                        for (t, span) in [(lt, lhs.span), (rt, rhs.span)] {
                            if t != Ty::Bool {
                                cx.error(span, format!("operator `{sym}` needs `bool` operands, found `{t}`"));
                                return error_expr();
                            }
                        }
                        let kind = if *op == BinaryOp::And {
                            K::And(Box::new(l), Box::new(r))
                        } else {
                            K::Or(Box::new(l), Box::new(r))
                        };
                        value(Ty::Bool, kind)
                    }
                    BinaryOp::Eq | BinaryOp::Ne => {
                        if lt != rt {
                            cx.error(expr.span, format!("cannot compare `{lt}` with `{rt}`"));
                            return error_expr();
                        }
                        let Some(mir_op) = binop(*op) else { return error_expr() };
                        value(Ty::Bool, K::Binary(mir_op, Box::new(l), Box::new(r)))
                    }
                    _ => {
                        for (t, span) in [(lt, lhs.span), (rt, rhs.span)] {
                            if t != Ty::I64 {
                                cx.error(span, format!("operator `{sym}` needs `i64` operands, found `{t}`"));
                                return error_expr();
                            }
                        }
                        let Some(mir_op) = binop(*op) else { return error_expr() };
                        value(mir_op.result_ty(), K::Binary(mir_op, Box::new(l), Box::new(r)))
                    }
                }
            }
            ast::ExprKind::Block(block) => {
                let b = self.check_block(cx, block);
                thir::Expr { ty: b.ty, kind: K::Block(b) }
            }
            ast::ExprKind::If { cond, then_block, else_branch } => {
                let c = self.check_expr(cx, cond);
                self.expect_value(cx, &c, Ty::Bool, cond.span);
                let then_checked = self.check_block(cx, then_block);
                let else_checked = else_branch.as_ref().map(|e| self.check_expr(cx, e));
                let ty = match &else_checked {
                    _ if c.ty == ExprTy::Never => ExprTy::Never,
                    None => ExprTy::Unit,
                    Some(e) => match (then_checked.ty, e.ty) {
                        (ExprTy::Never, other) | (other, ExprTy::Never) => other,
                        (ExprTy::Value(a), ExprTy::Value(b)) if a != b => {
                            cx.error(expr.span, format!("`if` and `else` have different types: `{a}` and `{b}`"));
                            ExprTy::Never
                        }
                        (ExprTy::Value(a), ExprTy::Value(_)) => ExprTy::Value(a),
                        // One branch has no value: neither does the `if`.
                        _ => ExprTy::Unit,
                    },
                };
                thir::Expr {
                    ty,
                    kind: K::If {
                        cond: Box::new(c),
                        then_block: then_checked,
                        else_branch: else_checked.map(Box::new),
                    },
                }
            }
        }
    }

    fn check_call(&mut self, cx: &mut ProgramContext<'_>, callee: &ast::Path, args: &[ast::Expr]) -> thir::Expr {
        let checked_args: Vec<thir::Expr> = args.iter().map(|a| self.check_expr(cx, a)).collect();
        if callee.module.is_none() && callee.name.name == PRINT {
            if checked_args.len() != 1 {
                cx.error(
                    callee.span,
                    format!("`print` takes 1 argument, but {} given", count_verb(checked_args.len())),
                );
                return error_expr();
            }
            let mut checked_args = checked_args;
            let arg = checked_args.remove(0);
            self.expect_value(cx, &arg, Ty::I64, args[0].span);
            return thir::Expr { ty: ExprTy::Unit, kind: thir::ExprKind::Print(Box::new(arg)) };
        }
        let (module, item) = match &callee.module {
            None => match cx.item(&self.module, &callee.name.name) {
                Some(item) => (self.module.clone(), item),
                None => {
                    cx.error(callee.span, format!("unknown function `{}`", callee.name.name));
                    return error_expr();
                }
            },
            Some(m) => match cx.qualified_item(&self.module, callee, m) {
                Some(item) => (m.name.clone(), item),
                None => return error_expr(),
            },
        };
        if item.kind() != ItemKind::Fn {
            cx.error(callee.span, format!("`{}` is not a function", callee.name.name));
            return error_expr();
        }
        let symbol = Symbol::new(&module, &callee.name.name);
        let Some(sig) = cx.signatures.get(&symbol).cloned() else { return error_expr() };
        if sig.params.len() != checked_args.len() {
            let message = format!(
                "`{}` takes {}, but {} given",
                callee.name.name,
                count(sig.params.len(), "argument"),
                count_verb(checked_args.len())
            );
            cx.error(callee.span, message);
            return error_expr();
        }
        for ((arg, ty), span) in checked_args.iter().zip(&sig.params).zip(args.iter().map(|a| a.span)) {
            self.expect_value(cx, arg, *ty, span);
        }
        let ty = match sig.ret {
            Some(t) => ExprTy::Value(t),
            None => ExprTy::Unit,
        };
        thir::Expr { ty, kind: thir::ExprKind::Call { callee: symbol, args: checked_args } }
    }
}

/// `1 argument`, `2 arguments`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `1 was`, `2 were`.
fn count_verb(n: usize) -> String {
    if n == 1 {
        "1 was".to_string()
    } else {
        format!("{n} were")
    }
}
