//! Walking a model: every expression and every statement list, read-only or in place.
//!
//! Edits are written as small rewrites ("every call of `m::f` gets one more argument"), and these walkers are
//! the one place that knows where expressions and statements nest, so a rewrite cannot miss a corner such as
//! a call inside a value block inside a `while` condition.

use super::model::{Block, Else, Expr, IfChain, Item, Module, Program, Stmt};

/// A read-only walk: `expr` sees every expression parents-first, `stmt` every statement parents-first.
pub trait Visit {
    fn expr(&mut self, _e: &Expr) {}
    fn stmt(&mut self, _s: &Stmt) {}
}

pub fn visit_block(b: &Block, v: &mut dyn Visit) {
    for s in &b.stmts {
        visit_stmt(s, v);
    }
    if let Some(t) = &b.tail {
        visit_expr(t, v);
    }
}

pub fn visit_stmt(s: &Stmt, v: &mut dyn Visit) {
    v.stmt(s);
    match s {
        Stmt::Let { value, .. } | Stmt::Assign { value, .. } | Stmt::Expr(value) | Stmt::Print(value) => {
            visit_expr(value, v)
        }
        Stmt::While { cond, body } => {
            visit_expr(cond, v);
            visit_block(body, v);
        }
        Stmt::Return(value) => {
            if let Some(value) = value {
                visit_expr(value, v);
            }
        }
        Stmt::Call(c) => c.args.iter().for_each(|a| visit_expr(a, v)),
        Stmt::If(chain) => visit_if(chain, v),
        Stmt::Block(b) => visit_block(b, v),
        Stmt::Comment(_) => {}
    }
}

pub fn visit_expr(e: &Expr, v: &mut dyn Visit) {
    v.expr(e);
    match e {
        Expr::Int(..) | Expr::Bool(_) | Expr::Local(_) | Expr::Const(_) | Expr::Global(_) => {}
        Expr::Call(c) => c.args.iter().for_each(|a| visit_expr(a, v)),
        Expr::Unary(_, a) | Expr::Paren(a) => visit_expr(a, v),
        Expr::Binary(_, a, b) => {
            visit_expr(a, v);
            visit_expr(b, v);
        }
        Expr::Block(b, _) => visit_block(b, v),
        Expr::If(chain, _) => visit_if(chain, v),
    }
}

fn visit_if(chain: &IfChain, v: &mut dyn Visit) {
    visit_expr(&chain.cond, v);
    visit_block(&chain.then, v);
    match &chain.els {
        None => {}
        Some(Else::Block(b)) => visit_block(b, v),
        Some(Else::If(next)) => visit_if(next, v),
    }
}

/// Adapts a closure over expressions to [`Visit`].
pub struct Exprs<F>(pub F);

impl<F> std::fmt::Debug for Exprs<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Exprs(..)")
    }
}

impl<F: FnMut(&Expr)> Visit for Exprs<F> {
    fn expr(&mut self, e: &Expr) {
        (self.0)(e)
    }
}

/// A rewrite applied in place, children first: `expr` sees every expression after its operands were
/// rewritten (so it may replace the node), `stmt` every statement after its expressions and nested blocks,
/// and `stmts` every statement list after its statements (so it may drop some).
pub trait Rewrite {
    fn expr(&mut self, _e: &mut Expr) {}
    fn stmt(&mut self, _s: &mut Stmt) {}
    fn stmts(&mut self, _stmts: &mut Vec<Stmt>) {}
}

pub fn rewrite_block(b: &mut Block, r: &mut dyn Rewrite) {
    for s in &mut b.stmts {
        rewrite_stmt(s, r);
    }
    if let Some(t) = &mut b.tail {
        rewrite_expr(t, r);
    }
    r.stmts(&mut b.stmts);
}

fn rewrite_stmt(s: &mut Stmt, r: &mut dyn Rewrite) {
    match s {
        Stmt::Let { value, .. } | Stmt::Expr(value) | Stmt::Print(value) => rewrite_expr(value, r),
        Stmt::Assign { value, .. } => rewrite_expr(value, r),
        Stmt::While { cond, body } => {
            rewrite_expr(cond, r);
            rewrite_block(body, r);
        }
        Stmt::Return(v) => {
            if let Some(v) = v {
                rewrite_expr(v, r);
            }
        }
        Stmt::Call(c) => c.args.iter_mut().for_each(|a| rewrite_expr(a, r)),
        Stmt::If(chain) => rewrite_if(chain, r),
        Stmt::Block(b) => rewrite_block(b, r),
        Stmt::Comment(_) => {}
    }
    r.stmt(s);
}

pub fn rewrite_expr(e: &mut Expr, r: &mut dyn Rewrite) {
    match e {
        Expr::Int(..) | Expr::Bool(_) | Expr::Local(_) | Expr::Const(_) | Expr::Global(_) => {}
        Expr::Call(c) => c.args.iter_mut().for_each(|a| rewrite_expr(a, r)),
        Expr::Unary(_, a) | Expr::Paren(a) => rewrite_expr(a, r),
        Expr::Binary(_, a, b) => {
            rewrite_expr(a, r);
            rewrite_expr(b, r);
        }
        Expr::Block(b, _) => rewrite_block(b, r),
        Expr::If(chain, _) => rewrite_if(chain, r),
    }
    r.expr(e);
}

fn rewrite_if(chain: &mut IfChain, r: &mut dyn Rewrite) {
    rewrite_expr(&mut chain.cond, r);
    rewrite_block(&mut chain.then, r);
    match &mut chain.els {
        None => {}
        Some(Else::Block(b)) => rewrite_block(b, r),
        Some(Else::If(next)) => rewrite_if(next, r),
    }
}

/// Applies `r` to every function body, global initialiser and const initialiser of the program, telling it
/// (through [`ScopedRewrite`]) where it is before each item.
pub fn rewrite_program<R: Rewrite + ScopedRewrite>(program: &mut Program, r: &mut R) {
    for m in &mut program.modules {
        r.enter_module(&m.name);
        for item in &mut m.items {
            match item {
                Item::Fn(f) => {
                    r.enter_function(Some(&f.name));
                    rewrite_block(&mut f.body, r);
                }
                Item::Global(g) => {
                    r.enter_function(None);
                    rewrite_expr(&mut g.init, r);
                }
                Item::Const(c) => {
                    r.enter_function(None);
                    rewrite_expr(&mut c.expr, r);
                }
                Item::Comment(_) => {}
            }
        }
    }
}

/// Where a program-wide rewrite is: told the module and the function (`None`: an initialiser) before it
/// sees their expressions.
pub trait ScopedRewrite {
    fn enter_module(&mut self, _module: &str) {}
    fn enter_function(&mut self, _function: Option<&str>) {}
}

/// Visits every function body, global initialiser and const initialiser of a module.
pub fn visit_module(m: &Module, v: &mut dyn Visit) {
    for item in &m.items {
        match item {
            Item::Fn(f) => visit_block(&f.body, v),
            Item::Global(g) => visit_expr(&g.init, v),
            Item::Const(c) => visit_expr(&c.expr, v),
            Item::Comment(_) => {}
        }
    }
}

/// Every expression of the program (bodies and initialisers), with its module's name.
pub fn program_exprs(program: &Program, f: &mut dyn FnMut(&str, &Expr)) {
    for m in &program.modules {
        let mut visit = Exprs(|e: &Expr| f(&m.name, e));
        for item in &m.items {
            match item {
                Item::Fn(func) => visit_block(&func.body, &mut visit),
                Item::Global(g) => visit_expr(&g.init, &mut visit),
                Item::Const(c) => visit_expr(&c.expr, &mut visit),
                Item::Comment(_) => {}
            }
        }
    }
}
