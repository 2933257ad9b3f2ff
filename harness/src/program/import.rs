//! Import: a user's `.lks` project as a [`Program`], so `lockstep verify` can start from the user's own code.
//!
//! The real front end decides what a program is: the project is parsed and checked by `lockstep_core::lks`,
//! and a project that does not check is refused with the front end's own diagnostics. The model is then built
//! from the **syntax tree**, not the typed tree, because the model keeps what the source says (item order,
//! `pub`, parentheses, `let` annotations, digit grouping, `if`/`else if` chains), all of which checking erases.
//! Names are resolved here with the checker's rules (a bare name is a local in scope, else an item of its own
//! module; `M::x` is an item of module `M`), and the types the model stores are inferred with the checker's
//! rules too, from declarations and operators; the checker has already guaranteed they agree.
//!
//! What the model cannot hold is normalised, never guessed (each case keeps the program's meaning):
//! - comments are dropped (they are not in the syntax tree) and each module gets [`Layout::default`];
//! - `import`s move to the top of their module, in source order;
//! - optional `;` after `while`, `if` and block statements disappear;
//! - a block's trailing expression that has no value (`print(x)`, a call of a function without a result, an
//!   `if` without `else`) or never completes (an `if` whose branches all `return`) becomes the block's last
//!   statement: the model's tails carry values. The rendered text gains a `;` where such a tail was a call;
//!   `if` and block statements render as before. Tails with a value stay tails, even where the value is
//!   discarded (`while c { f(i) }`, `fn g() { f(1) }`);
//! - parentheses around a call that has no value (`(print(x));`) are dropped, the model holds such calls only
//!   as statements;
//! - a literal is grouped (`Expr::Int(_, true)`) iff its source contained `_`; the renderer regroups digits in
//!   threes, so `1_0000` comes back as `10_000`.
//!
//! Modules are ordered as they initialise: each after the modules it imports, ties by name.

use super::model::{
    Block, Call, ConstItem, Else, Expr, FnItem, GlobalItem, IfChain, Item, ItemPath, Layout, Module, Place, Program,
    Stmt, Ty, UnOp, Val,
};
use lockstep_core::diagnostic::{render, Diagnostic, DiagnosticStyle};
use lockstep_core::lks::check::{CheckedProgram, InterfaceKind, PRINT};
use lockstep_core::lks::modules::{self, ParsedModule, ProjectSources, SourceFile};
use lockstep_core::lks::{self, ast, FrontendError};
use lockstep_core::mir::Const;
use lockstep_core::source::Span;
use std::collections::BTreeMap;
use std::path::Path;

/// Why a project could not become a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportError {
    /// The project directory or one of its files could not be read (`PATH: error: cannot read: ...`), or the
    /// sources given name one module twice.
    Read(String),
    /// The front end rejected the project: its diagnostics, one `FILE:LINE:COL: error: MESSAGE` line each.
    Rejected(String),
    /// The project checks, but the model cannot express something in it (`FILE:LINE:COL: error: ...`). The
    /// model covers the whole language, so this is a bug in the import, reported instead of panicking.
    Unsupported(String),
}

impl ImportError {
    /// The diagnostic text, without a trailing newline.
    pub fn message(&self) -> &str {
        match self {
            ImportError::Read(m) | ImportError::Rejected(m) | ImportError::Unsupported(m) => m.trim_end(),
        }
    }
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ImportError {}

/// Reads the `.lks` project in `dir` into a model.
pub fn import_project(dir: &Path) -> Result<Program, ImportError> {
    let sources = modules::read_project(dir).map_err(|e| ImportError::Read(e.to_string()))?;
    import(dir, &sources)
}

/// Same, from `(module name, text)` pairs; diagnostics name the files `MODULE.lks`.
pub fn import_sources(files: &[(String, String)]) -> Result<Program, ImportError> {
    let mut list: Vec<SourceFile> =
        files.iter().map(|(name, text)| SourceFile::new(name.as_str(), format!("{name}.lks"), text.as_str())).collect();
    // The front end expects module-name order (it looks modules up by binary search).
    list.sort_by(|a, b| a.module.cmp(&b.module));
    if let Some(pair) = list.windows(2).find(|pair| pair[0].module == pair[1].module) {
        let name = &pair[0].module;
        return Err(ImportError::Read(format!("{name}.lks: error: module `{name}` is given more than once")));
    }
    import(Path::new(""), &ProjectSources { files: list, stamps: None })
}

/// The phases of an import: check, parse, collect declarations, convert each module, order the modules.
fn import(dir: &Path, sources: &ProjectSources) -> Result<Program, ImportError> {
    let checked = lks::check_sources(dir, sources, DiagnosticStyle::Short).map_err(|e| match e {
        FrontendError::Load(e) => ImportError::Read(e.to_string()),
        FrontendError::Diagnostics { rendered, .. } => ImportError::Rejected(rendered),
    })?;
    // `check_sources` keeps its syntax trees to itself; parsing again is cheap next to checking.
    let (project, diagnostics) = modules::parse_project(dir, sources);
    let unsupported = |d: &[Diagnostic]| ImportError::Unsupported(render(&project.sources, d, DiagnosticStyle::Short));
    if !diagnostics.is_empty() {
        return Err(unsupported(&diagnostics));
    }
    let decls = Decls::collect(&project.modules, &checked).map_err(|d| unsupported(&[d]))?;
    let mut program = Program { modules: Vec::with_capacity(project.modules.len()) };
    for parsed in &project.modules {
        let text = project.sources.text(parsed.file);
        let module = convert_module(parsed, text, &decls).map_err(|d| unsupported(&[d]))?;
        program.modules.push(module);
    }
    // Parsed modules come in name order; the model wants initialisation order (imports first, ties by name),
    // which is also what `init_order` computes, so a checked program always has one.
    let order = program.init_order().ok_or_else(|| {
        ImportError::Unsupported("error: the imports of a checked program form no initialisation order".to_string())
    })?;
    let mut slots: Vec<Option<Module>> = program.modules.into_iter().map(Some).collect();
    program.modules = order.into_iter().filter_map(|i| slots.get_mut(i).and_then(Option::take)).collect();
    Ok(program)
}

/// What an item name stands for, from its declaration.
#[derive(Clone, Copy, Debug)]
enum Decl {
    /// A const's type, and its value (only `while CONST` needs it: a loop on a `true` const never ends).
    Const(Ty, Option<Val>),
    Global(Ty),
    /// A function's return type.
    Fn(Option<Ty>),
}

/// Every item of the program by `(module, name)`.
struct Decls {
    items: BTreeMap<(String, String), Decl>,
}

impl Decls {
    fn collect(parsed: &[ParsedModule], checked: &CheckedProgram) -> Result<Decls, Diagnostic> {
        let mut items = BTreeMap::new();
        for module in parsed {
            for item in &module.ast.items {
                let (name, decl) = match item {
                    ast::Item::Import(_) => continue,
                    ast::Item::Const(c) => {
                        // The checker folded every const; its interface holds the value.
                        let value =
                            checked.interfaces.get(&module.name).and_then(|i| i.items.get(&c.name.name)).and_then(
                                |i| match i.kind {
                                    InterfaceKind::Const(Const::I64(v)) => Some(Val::I(v)),
                                    InterfaceKind::Const(Const::Bool(b)) => Some(Val::B(b)),
                                    _ => None,
                                },
                            );
                        (&c.name, Decl::Const(ty_of(&c.ty)?, value))
                    }
                    ast::Item::Global(g) => (&g.name, Decl::Global(ty_of(&g.ty)?)),
                    ast::Item::Fn(f) => (&f.name, Decl::Fn(f.ret.as_ref().map(ty_of).transpose()?)),
                };
                items.insert((module.name.clone(), name.name.clone()), decl);
            }
        }
        Ok(Decls { items })
    }

    fn get(&self, module: &str, name: &str) -> Option<Decl> {
        self.items.get(&(module.to_string(), name.to_string())).copied()
    }
}

fn ty_of(ty: &ast::TypeRef) -> Result<Ty, Diagnostic> {
    match ty.name.name.as_str() {
        "i64" => Ok(Ty::I64),
        "bool" => Ok(Ty::Bool),
        other => Err(unsupported(ty.name.span, format!("unknown type `{other}`"))),
    }
}

fn unsupported(span: Span, what: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(span, format!("cannot import: {what}"))
}

fn convert_module(parsed: &ParsedModule, text: &str, decls: &Decls) -> Result<Module, Diagnostic> {
    let mut imports = Vec::new();
    let mut items = Vec::new();
    let body = |scope: Vec<(String, Ty)>| Body { module: &parsed.name, text, decls, scopes: vec![scope] };
    for item in &parsed.ast.items {
        match item {
            ast::Item::Import(import) => imports.push(import.module.name.clone()),
            ast::Item::Const(c) => items.push(Item::Const(ConstItem {
                name: c.name.name.clone(),
                is_pub: c.is_pub,
                ty: ty_of(&c.ty)?,
                expr: body(Vec::new()).expr(&c.value)?.0,
            })),
            ast::Item::Global(g) => items.push(Item::Global(GlobalItem {
                name: g.name.name.clone(),
                is_pub: g.is_pub,
                ty: ty_of(&g.ty)?,
                init: body(Vec::new()).expr(&g.value)?.0,
            })),
            ast::Item::Fn(f) => {
                let mut params = Vec::with_capacity(f.params.len());
                for p in &f.params {
                    params.push((p.name.name.clone(), ty_of(&p.ty)?));
                }
                let ret = f.ret.as_ref().map(ty_of).transpose()?;
                let (block, _) = body(params.clone()).block(&f.body)?;
                items.push(Item::Fn(FnItem { name: f.name.name.clone(), is_pub: f.is_pub, params, ret, body: block }));
            }
        }
    }
    Ok(Module { name: parsed.name.clone(), imports, items, layout: Layout::default() })
}

/// How an expression completes, with the checker's rules: with a value, without one (`print`, an `if` without
/// `else`), or never (it always reaches a `return`, or loops forever).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Value(Ty),
    Unit,
    Never,
}

impl Flow {
    /// The type a model node stores for a value `if` or block. One that never completes (or has no value and
    /// is only parenthesised, `(if c { print(1); });`) has no type of its own; `i64` is what the checker gives
    /// a `let` initialised by such an expression.
    fn ty(self) -> Ty {
        match self {
            Flow::Value(t) => t,
            Flow::Unit | Flow::Never => Ty::I64,
        }
    }
}

/// A converted expression, or a call without a value, which the model holds only as a statement.
enum Piece {
    Expr(Expr, Flow),
    Unit(Stmt),
}

/// Converts the expressions and statements of one function body, const or global initialiser.
struct Body<'a> {
    module: &'a str,
    /// The module's source, for the spelling of literals.
    text: &'a str,
    decls: &'a Decls,
    /// Locals in scope, innermost scope last; a later entry shadows an earlier one of the same name.
    scopes: Vec<Vec<(String, Ty)>>,
}

impl Body<'_> {
    fn local(&self, name: &str) -> Option<Ty> {
        self.scopes.iter().rev().flat_map(|s| s.iter().rev()).find(|(n, _)| n == name).map(|(_, t)| *t)
    }

    fn declare(&mut self, name: &str, ty: Ty) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((name.to_string(), ty));
        }
    }

    /// `path` as an item: bare names belong to the current module.
    fn item(&self, path: &ast::Path) -> Result<(ItemPath, Decl), Diagnostic> {
        let module = path.module.as_ref().map_or(self.module, |m| m.name.as_str());
        match self.decls.get(module, &path.name.name) {
            Some(decl) => Ok((ItemPath::new(module, &path.name.name), decl)),
            None => Err(unsupported(path.span, format!("unknown item `{module}::{}`", path.name.name))),
        }
    }

    fn block(&mut self, b: &ast::Block) -> Result<(Block, Flow), Diagnostic> {
        self.scopes.push(Vec::new());
        let result = self.block_in_scope(b);
        self.scopes.pop();
        result
    }

    fn block_in_scope(&mut self, b: &ast::Block) -> Result<(Block, Flow), Diagnostic> {
        let mut stmts = Vec::with_capacity(b.stmts.len() + 1);
        let mut diverges = false;
        for s in &b.stmts {
            let (stmt, d) = self.stmt(s)?;
            diverges |= d;
            stmts.push(stmt);
        }
        let mut tail = None;
        let mut flow = Flow::Unit;
        if let Some(t) = &b.tail {
            match self.piece(t)? {
                Piece::Expr(e, Flow::Value(ty)) => {
                    tail = Some(e);
                    flow = Flow::Value(ty);
                }
                // The model's tails carry values; one without (or one that never completes) is the same
                // program as the block's last statement.
                other => {
                    let (stmt, f) = into_stmt(other);
                    stmts.push(stmt);
                    flow = f;
                }
            }
        }
        if diverges {
            flow = Flow::Never;
        }
        Ok((Block { stmts, tail }, flow))
    }

    /// One statement, and whether it never completes (which makes its block never complete).
    fn stmt(&mut self, s: &ast::Stmt) -> Result<(Stmt, bool), Diagnostic> {
        Ok(match &s.kind {
            ast::StmtKind::Let { mutable, name, ty, init } => {
                let (value, flow) = self.expr(init)?;
                let declared = ty.as_ref().map(ty_of).transpose()?;
                let ty_final = match (declared, flow) {
                    (Some(t), _) | (None, Flow::Value(t)) => t,
                    (None, _) => Ty::I64,
                };
                // Declared after its initialiser: `let x = x + 1;` reads the outer `x`.
                self.declare(&name.name, ty_final);
                let stmt = Stmt::Let {
                    name: name.name.clone(),
                    mutable: *mutable,
                    annotate: ty.is_some(),
                    ty: ty_final,
                    value,
                };
                (stmt, flow == Flow::Never)
            }
            ast::StmtKind::Assign { place, value } => {
                let (value, flow) = self.expr(value)?;
                (Stmt::Assign { place: self.place(place)?, value }, flow == Flow::Never)
            }
            ast::StmtKind::While { cond, body } => {
                let (c, flow) = self.expr(cond)?;
                let (body, _) = self.block(body)?;
                // As in the checker: without `break`, `while true` only ever leaves through `return`.
                let forever = flow == Flow::Never || self.is_true(cond);
                (Stmt::While { cond: c, body }, forever)
            }
            ast::StmtKind::Return(value) => {
                let value = value.as_ref().map(|v| self.expr(v)).transpose()?.map(|(e, _)| e);
                (Stmt::Return(value), true)
            }
            ast::StmtKind::Expr(e) => {
                let (stmt, flow) = into_stmt(self.piece(e)?);
                (stmt, flow == Flow::Never)
            }
        })
    }

    /// Whether `cond` is the constant `true` as the checker sees it: the literal or a `true` const, in any
    /// parentheses (an expression such as `!false` is not folded there, so it is not here either).
    fn is_true(&self, cond: &ast::Expr) -> bool {
        match &cond.kind {
            ast::ExprKind::Paren(inner) => self.is_true(inner),
            ast::ExprKind::Bool(b) => *b,
            ast::ExprKind::Path(p) if p.module.is_none() && self.local(&p.name.name).is_some() => false,
            ast::ExprKind::Path(p) => matches!(self.item(p), Ok((_, Decl::Const(_, Some(Val::B(true)))))),
            _ => false,
        }
    }

    fn place(&self, path: &ast::Path) -> Result<Place, Diagnostic> {
        if path.module.is_none() && self.local(&path.name.name).is_some() {
            return Ok(Place::Local(path.name.name.clone()));
        }
        match self.item(path)? {
            (p, Decl::Global(_)) => Ok(Place::Global(p)),
            (p, _) => Err(unsupported(path.span, format!("`{p}` is not a global"))),
        }
    }

    /// An expression that must have a value (or never complete): an operand, argument, initialiser, condition.
    fn expr(&mut self, e: &ast::Expr) -> Result<(Expr, Flow), Diagnostic> {
        match self.piece(e)? {
            Piece::Expr(expr, flow) => Ok((expr, flow)),
            Piece::Unit(_) => Err(unsupported(e.span, "a call without a value, used as a value")),
        }
    }

    fn piece(&mut self, e: &ast::Expr) -> Result<Piece, Diagnostic> {
        let value = |expr: Expr, ty: Ty| Ok(Piece::Expr(expr, Flow::Value(ty)));
        match &e.kind {
            ast::ExprKind::Int(v) => {
                let Ok(v) = u64::try_from(*v) else { return Err(unsupported(e.span, "a negative literal")) };
                // The renderer groups digits in threes; all the model can keep is whether the source grouped.
                let grouped = self.text.get(e.span.range()).is_some_and(|s| s.contains('_'));
                value(Expr::Int(v, grouped), Ty::I64)
            }
            ast::ExprKind::Bool(b) => value(Expr::Bool(*b), Ty::Bool),
            ast::ExprKind::Paren(inner) => Ok(match self.piece(inner)? {
                Piece::Expr(expr, flow) => Piece::Expr(Expr::paren(expr), flow),
                unit @ Piece::Unit(_) => unit,
            }),
            ast::ExprKind::Path(p) => {
                if p.module.is_none() {
                    if let Some(ty) = self.local(&p.name.name) {
                        return value(Expr::Local(p.name.name.clone()), ty);
                    }
                }
                match self.item(p)? {
                    (path, Decl::Const(ty, _)) => value(Expr::Const(path), ty),
                    (path, Decl::Global(ty)) => value(Expr::Global(path), ty),
                    (path, Decl::Fn(_)) => Err(unsupported(p.span, format!("function `{path}` used as a value"))),
                }
            }
            ast::ExprKind::Call { callee, args } => self.call(callee, args, e.span),
            ast::ExprKind::Unary(op, inner) => {
                let (operand, flow) = self.expr(inner)?;
                let (op, ty) = match op {
                    ast::UnaryOp::Neg => (UnOp::Neg, Ty::I64),
                    ast::UnaryOp::Not => (UnOp::Not, Ty::Bool),
                };
                let flow = if flow == Flow::Never { Flow::Never } else { Flow::Value(ty) };
                Ok(Piece::Expr(Expr::Unary(op, Box::new(operand)), flow))
            }
            ast::ExprKind::Binary(op, lhs, rhs) => {
                let (a, fa) = self.expr(lhs)?;
                let (b, fb) = self.expr(rhs)?;
                let op = binop(*op);
                let flow = if fa == Flow::Never || fb == Flow::Never { Flow::Never } else { Flow::Value(op.result()) };
                Ok(Piece::Expr(Expr::bin(op, a, b), flow))
            }
            ast::ExprKind::Block(b) => {
                let (block, flow) = self.block(b)?;
                Ok(Piece::Expr(Expr::Block(Box::new(block), flow.ty()), flow))
            }
            ast::ExprKind::If { cond, then_block, else_branch } => {
                let (chain, flow) = self.if_chain(cond, then_block, else_branch.as_deref())?;
                Ok(Piece::Expr(Expr::If(Box::new(chain), flow.ty()), flow))
            }
            ast::ExprKind::Error => Err(unsupported(e.span, "a syntax error")),
        }
    }

    fn call(&mut self, callee: &ast::Path, args: &[ast::Expr], span: Span) -> Result<Piece, Diagnostic> {
        // `print` is the built-in whatever else is called `print`: the checker never looks it up.
        if callee.module.is_none() && callee.name.name == PRINT {
            let [arg] = args else { return Err(unsupported(span, "`print` takes one argument")) };
            return Ok(Piece::Unit(Stmt::Print(self.expr(arg)?.0)));
        }
        let (path, decl) = self.item(callee)?;
        let Decl::Fn(ret) = decl else { return Err(unsupported(callee.span, format!("`{path}` is not a function"))) };
        let mut converted = Vec::with_capacity(args.len());
        for a in args {
            converted.push(self.expr(a)?.0);
        }
        let call = Call { callee: path, args: converted };
        Ok(match ret {
            Some(ty) => Piece::Expr(Expr::Call(call), Flow::Value(ty)),
            None => Piece::Unit(Stmt::Call(call)),
        })
    }

    /// `if COND BLOCK [else ...]` and how it completes, with the checker's rules.
    fn if_chain(
        &mut self,
        cond: &ast::Expr,
        then_block: &ast::Block,
        else_branch: Option<&ast::Expr>,
    ) -> Result<(IfChain, Flow), Diagnostic> {
        let (cond, cond_flow) = self.expr(cond)?;
        let (then, then_flow) = self.block(then_block)?;
        let (els, else_flow) = match else_branch.map(|e| (e, &e.kind)) {
            None => (None, None),
            Some((_, ast::ExprKind::Block(b))) => {
                let (block, flow) = self.block(b)?;
                (Some(Else::Block(block)), Some(flow))
            }
            Some((_, ast::ExprKind::If { cond, then_block, else_branch })) => {
                let (chain, flow) = self.if_chain(cond, then_block, else_branch.as_deref())?;
                (Some(Else::If(Box::new(chain))), Some(flow))
            }
            Some((e, _)) => return Err(unsupported(e.span, "an `else` that is neither a block nor an `if`")),
        };
        let flow = match (cond_flow, else_flow) {
            (Flow::Never, _) => Flow::Never,
            (_, None) => Flow::Unit,
            (_, Some(else_flow)) => match (then_flow, else_flow) {
                (Flow::Never, other) | (other, Flow::Never) => other,
                (Flow::Value(t), Flow::Value(_)) => Flow::Value(t),
                _ => Flow::Unit,
            },
        };
        Ok((IfChain { cond, then, els }, flow))
    }
}

/// The statement form of an expression whose value (if any) is discarded. An unparenthesised `if` or block is
/// the statement of that name, a call is a call statement; parentheses keep anything else an expression.
fn into_stmt(piece: Piece) -> (Stmt, Flow) {
    match piece {
        Piece::Unit(stmt) => (stmt, Flow::Unit),
        Piece::Expr(Expr::If(chain, _), flow) => (Stmt::If(*chain), flow),
        Piece::Expr(Expr::Block(block, _), flow) => (Stmt::Block(*block), flow),
        Piece::Expr(Expr::Call(call), flow) => (Stmt::Call(call), flow),
        Piece::Expr(e, flow) => (Stmt::Expr(e), flow),
    }
}

fn binop(op: ast::BinaryOp) -> super::model::BinOp {
    use super::model::BinOp;
    match op {
        ast::BinaryOp::Or => BinOp::Or,
        ast::BinaryOp::And => BinOp::And,
        ast::BinaryOp::Eq => BinOp::Eq,
        ast::BinaryOp::Ne => BinOp::Ne,
        ast::BinaryOp::Lt => BinOp::Lt,
        ast::BinaryOp::Le => BinOp::Le,
        ast::BinaryOp::Gt => BinOp::Gt,
        ast::BinaryOp::Ge => BinOp::Ge,
        ast::BinaryOp::Add => BinOp::Add,
        ast::BinaryOp::Sub => BinOp::Sub,
        ast::BinaryOp::Mul => BinOp::Mul,
        ast::BinaryOp::Div => BinOp::Div,
        ast::BinaryOp::Rem => BinOp::Rem,
    }
}
