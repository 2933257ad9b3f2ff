//! The program model: a `.lks` program as data, with every reference symbolic.
//!
//! A reference to an item names it by `(module, item)` and a local by its name, never by rendered text, so an
//! edit that renames, moves or retypes something changes one place and every rendering (the `.lks` text, the C
//! translation, the precision prediction) follows. The model is deliberately close to the surface syntax: it
//! keeps what a reader of the source sees (parentheses, digit grouping, type annotations, comments, item order),
//! because edits that change only those must be shown to change nothing in the build.

use std::collections::BTreeMap;

/// The two types of the language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ty {
    I64,
    Bool,
}

impl Ty {
    /// The `.lks` spelling.
    pub fn lks(self) -> &'static str {
        match self {
            Ty::I64 => "i64",
            Ty::Bool => "bool",
        }
    }

    /// The C spelling.
    pub fn c(self) -> &'static str {
        match self {
            Ty::I64 => "int64_t",
            Ty::Bool => "bool",
        }
    }

    /// The other type.
    pub fn flipped(self) -> Ty {
        match self {
            Ty::I64 => Ty::Bool,
            Ty::Bool => Ty::I64,
        }
    }
}

/// A compile-time value: a folded `const`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Val {
    I(i64),
    B(bool),
}

impl Val {
    pub fn ty(self) -> Ty {
        match self {
            Val::I(_) => Ty::I64,
            Val::B(_) => Ty::Bool,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BinOp {
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
    /// Binding strength, loosest first (`||` is 1), as the grammar gives it.
    pub fn prec(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 5,
        }
    }

    pub fn text(self) -> &'static str {
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

    pub fn is_cmp(self) -> bool {
        self.prec() == 3
    }

    /// The type an application yields.
    pub fn result(self) -> Ty {
        if self.prec() >= 4 {
            Ty::I64
        } else {
            Ty::Bool
        }
    }

    /// The type its operands must have.
    pub fn operand(self) -> Ty {
        if matches!(self, BinOp::And | BinOp::Or) {
            Ty::Bool
        } else {
            Ty::I64
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnOp {
    Neg,
    Not,
}

/// A module-level item by module and name: how every const, global and function reference is held.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemPath {
    pub module: String,
    pub name: String,
}

impl ItemPath {
    pub fn new(module: impl Into<String>, name: impl Into<String>) -> ItemPath {
        ItemPath { module: module.into(), name: name.into() }
    }

    /// `module::name`, the engine's symbol text.
    pub fn symbol(&self) -> String {
        format!("{}::{}", self.module, self.name)
    }
}

impl std::fmt::Display for ItemPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}::{}", self.module, self.name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub callee: ItemPath,
    pub args: Vec<Expr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// A literal; `true` groups its digits with `_`.
    Int(u64, bool),
    Bool(bool),
    Local(String),
    Const(ItemPath),
    Global(ItemPath),
    Call(Call),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Paren(Box<Expr>),
    /// A value block, with the type of its tail.
    Block(Box<Block>, Ty),
    /// A value `if` (always with an `else`), with the type of its branches.
    If(Box<IfChain>, Ty),
}

impl Expr {
    pub fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
        Expr::Binary(op, Box::new(a), Box::new(b))
    }

    pub fn int(v: u64) -> Expr {
        Expr::Int(v, false)
    }

    /// `v` as an expression: a literal, negated when below zero (`i64::MIN` as `-MAX - 1`).
    pub fn of_i64(v: i64) -> Expr {
        if v == i64::MIN {
            Expr::min()
        } else if v < 0 {
            Expr::Unary(UnOp::Neg, Box::new(Expr::int(v.unsigned_abs())))
        } else {
            Expr::int(v as u64)
        }
    }

    pub fn of_val(v: Val) -> Expr {
        match v {
            Val::I(i) => Expr::of_i64(i),
            Val::B(b) => Expr::Bool(b),
        }
    }

    pub fn negated(e: Expr) -> Expr {
        Expr::Unary(UnOp::Not, Box::new(e))
    }

    pub fn paren(e: Expr) -> Expr {
        Expr::Paren(Box::new(e))
    }

    /// `-9223372036854775807 - 1`, the only way to write `i64::MIN`.
    pub fn min() -> Expr {
        Expr::bin(BinOp::Sub, Expr::Unary(UnOp::Neg, Box::new(Expr::int(i64::MAX as u64))), Expr::int(1))
    }

    /// `e` converted from type `from` to type `to`: `e != 0` or `if e { 1 } else { 0 }`.
    pub fn convert(e: Expr, from: Ty, to: Ty) -> Expr {
        match (from, to) {
            (Ty::I64, Ty::Bool) => Expr::bin(BinOp::Ne, Expr::paren(e), Expr::int(0)),
            (Ty::Bool, Ty::I64) => Expr::If(
                Box::new(IfChain {
                    cond: e,
                    then: Block { stmts: Vec::new(), tail: Some(Expr::int(1)) },
                    els: Some(Else::Block(Block { stmts: Vec::new(), tail: Some(Expr::int(0)) })),
                }),
                Ty::I64,
            ),
            _ => e,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub tail: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfChain {
    pub cond: Expr,
    pub then: Block,
    pub els: Option<Else>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Else {
    Block(Block),
    If(Box<IfChain>),
}

/// What an assignment writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    Local(String),
    Global(ItemPath),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stmt {
    /// `annotate` writes the type (`let x: i64 = ...`), which changes nothing but the text.
    Let {
        name: String,
        mutable: bool,
        annotate: bool,
        ty: Ty,
        value: Expr,
    },
    Assign {
        place: Place,
        value: Expr,
    },
    While {
        cond: Expr,
        body: Block,
    },
    Return(Option<Expr>),
    /// A call whose result (if any) is discarded.
    Call(Call),
    /// Any other expression statement (`EXPR;`).
    Expr(Expr),
    Print(Expr),
    If(IfChain),
    Block(Block),
    /// A comment line; odd lengths are written `/* */`, even ones `//`.
    Comment(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstItem {
    pub name: String,
    pub is_pub: bool,
    pub ty: Ty,
    pub expr: Expr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalItem {
    pub name: String,
    pub is_pub: bool,
    pub ty: Ty,
    pub init: Expr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnItem {
    pub name: String,
    pub is_pub: bool,
    pub params: Vec<(String, Ty)>,
    pub ret: Option<Ty>,
    pub body: Block,
}

impl FnItem {
    pub fn signature(&self) -> Signature {
        Signature { params: self.params.iter().map(|(_, t)| *t).collect(), ret: self.ret }
    }
}

/// A function as its callers see it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signature {
    pub params: Vec<Ty>,
    pub ret: Option<Ty>,
}

/// One top-level entry of a module, in source order. Globals are initialised in this order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Const(ConstItem),
    Global(GlobalItem),
    Fn(FnItem),
    /// A comment between items; odd lengths are written `/* */`, even ones `//`.
    Comment(String),
}

impl Item {
    /// The item's name (`None` for a comment).
    pub fn name(&self) -> Option<&str> {
        match self {
            Item::Const(c) => Some(&c.name),
            Item::Global(g) => Some(&g.name),
            Item::Fn(f) => Some(&f.name),
            Item::Comment(_) => None,
        }
    }
}

/// How a module's text is laid out; nothing here can change what it means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Spaces per indentation level.
    pub indent: usize,
    /// Empty lines before each item.
    pub blank_lines: usize,
    /// A first-line comment.
    pub header: Option<String>,
}

impl Default for Layout {
    fn default() -> Layout {
        Layout { indent: 4, blank_lines: 1, header: None }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    pub name: String,
    /// Imported module names, in source order.
    pub imports: Vec<String>,
    pub items: Vec<Item>,
    pub layout: Layout,
}

impl Module {
    pub fn consts(&self) -> impl Iterator<Item = &ConstItem> {
        self.items.iter().filter_map(|i| if let Item::Const(c) = i { Some(c) } else { None })
    }

    pub fn globals(&self) -> impl Iterator<Item = &GlobalItem> {
        self.items.iter().filter_map(|i| if let Item::Global(g) = i { Some(g) } else { None })
    }

    pub fn fns(&self) -> impl Iterator<Item = &FnItem> {
        self.items.iter().filter_map(|i| if let Item::Fn(f) = i { Some(f) } else { None })
    }

    pub fn fns_mut(&mut self) -> impl Iterator<Item = &mut FnItem> {
        self.items.iter_mut().filter_map(|i| if let Item::Fn(f) = i { Some(f) } else { None })
    }

    pub fn item(&self, name: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.name() == Some(name))
    }

    pub fn item_mut(&mut self, name: &str) -> Option<&mut Item> {
        self.items.iter_mut().find(|i| i.name() == Some(name))
    }

    pub fn function(&self, name: &str) -> Option<&FnItem> {
        self.fns().find(|f| f.name == name)
    }

    pub fn function_mut(&mut self, name: &str) -> Option<&mut FnItem> {
        self.fns_mut().find(|f| f.name == name)
    }
}

/// The name of the root module, which defines `main`.
pub const ROOT: &str = "main";

/// A whole program. Modules are kept in the order they were created (the generator's order: every module
/// after the modules it imports, the root last), which only decides the order of the C translation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    pub modules: Vec<Module>,
}

impl Program {
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }

    pub fn module_mut(&mut self, name: &str) -> Option<&mut Module> {
        self.modules.iter_mut().find(|m| m.name == name)
    }

    pub fn function(&self, path: &ItemPath) -> Option<&FnItem> {
        self.module(&path.module)?.function(&path.name)
    }

    pub fn function_mut(&mut self, path: &ItemPath) -> Option<&mut FnItem> {
        self.module_mut(&path.module)?.function_mut(&path.name)
    }

    /// Every function, `main` included, as `(path, item)`, module by module in source order.
    pub fn functions(&self) -> impl Iterator<Item = (ItemPath, &FnItem)> {
        self.modules.iter().flat_map(|m| m.fns().map(move |f| (ItemPath::new(&m.name, &f.name), f)))
    }

    /// The modules' `.lks` file names and texts, in model order.
    pub fn files(&self) -> Vec<(String, String)> {
        (0..self.modules.len())
            .map(|m| (self.modules[m].name.clone(), crate::program::lks::render_module(self, m)))
            .collect()
    }

    /// Modules in initialisation order: repeatedly the smallest-named module whose imports are all initialised.
    /// `None` if the imports form a cycle or name a missing module.
    pub fn init_order(&self) -> Option<Vec<usize>> {
        let position: BTreeMap<&str, usize> =
            self.modules.iter().enumerate().map(|(i, m)| (m.name.as_str(), i)).collect();
        let mut imports = Vec::new();
        for m in &self.modules {
            let mut list = Vec::new();
            for name in &m.imports {
                list.push(*position.get(name.as_str())?);
            }
            imports.push(list);
        }
        let mut done = vec![false; self.modules.len()];
        let mut order = Vec::new();
        while order.len() < self.modules.len() {
            let next = (0..self.modules.len())
                .filter(|&i| !done[i] && imports[i].iter().all(|&j| done[j]))
                .min_by(|&a, &b| self.modules[a].name.cmp(&self.modules[b].name))?;
            done[next] = true;
            order.push(next);
        }
        Some(order)
    }
}
