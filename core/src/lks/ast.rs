//! The syntax tree of one `.lks` module, exactly as written (with spans).
//!
//! The parser produces it; the checker (`lks::check`) resolves names and
//! types and turns it into the span-free typed tree (`lks::thir`).

use crate::source::Span;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// One parsed module (one `.lks` file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Import(Import),
    Const(ValueItem),
    Global(ValueItem),
    Fn(FnItem),
}

impl Item {
    pub fn name(&self) -> &Ident {
        match self {
            Item::Import(i) => &i.module,
            Item::Const(c) | Item::Global(c) => &c.name,
            Item::Fn(f) => &f.name,
        }
    }
}

/// `import NAME;`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    pub module: Ident,
    pub span: Span,
}

/// `[pub] const NAME: TYPE = EXPR;` or `[pub] global NAME: TYPE = EXPR;`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueItem {
    pub is_pub: bool,
    pub name: Ident,
    pub ty: TypeRef,
    pub value: Expr,
    pub span: Span,
}

/// `[pub] fn NAME(PARAMS) [-> TYPE] BLOCK`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnItem {
    pub is_pub: bool,
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: Option<TypeRef>,
    pub body: Block,
    /// From `fn` (or `pub`) to the closing `)` or return type: the signature.
    pub sig_span: Span,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeRef,
}

/// A type as written; the checker decides whether the name is a type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeRef {
    pub name: Ident,
}

/// `{ STMT* EXPR? }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub tail: Option<Box<Expr>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StmtKind {
    /// `let [mut] NAME [: TYPE] = EXPR;`
    Let { mutable: bool, name: Ident, ty: Option<TypeRef>, init: Expr },
    /// `PLACE = EXPR;`
    Assign { place: Path, value: Expr },
    /// `while EXPR BLOCK`
    While { cond: Expr, body: Block },
    /// `return [EXPR];`
    Return(Option<Expr>),
    /// `EXPR;`, or an `if`/block in statement position without `;`.
    Expr(Expr),
}

/// `NAME` or `MODULE::NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    pub module: Option<Ident>,
    pub name: Ident,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    /// A decimal literal, already range-checked (0 ..= i64::MAX).
    Int(i64),
    Bool(bool),
    Path(Path),
    Call {
        callee: Path,
        args: Vec<Expr>,
    },
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `( EXPR )`, kept so spans and snapshots show what was written.
    Paren(Box<Expr>),
    Block(Block),
    /// `if COND BLOCK [else (BLOCK | IF)]`; `else_branch` is a `Block` or `If`
    /// expression.
    If {
        cond: Box<Expr>,
        then_block: Block,
        else_branch: Option<Box<Expr>>,
    },
    /// Stands in for an expression the parser could not read, after it has
    /// reported the error, so checking can go on without cascading errors.
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(self, BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge)
    }
}

/// The reserved words of the language.
pub const KEYWORDS: &[&str] =
    &["fn", "pub", "let", "mut", "if", "else", "while", "return", "import", "global", "const", "true", "false"];

pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}
