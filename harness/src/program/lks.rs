//! The `.lks` rendering of a [`Program`]: what lockstep builds.
//!
//! Rendering is a pure function of the model. Names are qualified (`module::item`) exactly when they refer to
//! another module, and parentheses are added only where the grammar needs them (the model's own `Paren` nodes
//! are kept as written).

use super::model::{Block, Call, Else, Expr, IfChain, Item, Module, Place, Program, Stmt, UnOp};
use std::fmt::Write as _;

/// The text of module `m`.
pub fn render_module(program: &Program, m: usize) -> String {
    let module = &program.modules[m];
    let printer = Printer { module, indent: " ".repeat(module.layout.indent) };
    printer.module()
}

/// Prints one module; `indent` is one level of indentation.
struct Printer<'a> {
    module: &'a Module,
    indent: String,
}

impl Printer<'_> {
    fn module(&self) -> String {
        let md = self.module;
        let mut out = String::new();
        if let Some(header) = &md.layout.header {
            let _ = writeln!(out, "{header}");
        }
        for name in &md.imports {
            let _ = writeln!(out, "import {name};");
        }
        for item in &md.items {
            for _ in 0..md.layout.blank_lines {
                out.push('\n');
            }
            self.item(item, &mut out);
        }
        out
    }

    fn item(&self, item: &Item, out: &mut String) {
        let vis = |is_pub: bool| if is_pub { "pub " } else { "" };
        match item {
            Item::Comment(text) => {
                let _ = writeln!(out, "{text}");
            }
            Item::Const(c) => {
                let _ = writeln!(
                    out,
                    "{}const {}: {} = {};",
                    vis(c.is_pub),
                    c.name,
                    c.ty.lks(),
                    self.expr(&c.expr, 0, false, 0)
                );
            }
            Item::Global(g) => {
                let _ = writeln!(
                    out,
                    "{}global {}: {} = {};",
                    vis(g.is_pub),
                    g.name,
                    g.ty.lks(),
                    self.expr(&g.init, 0, false, 0)
                );
            }
            Item::Fn(f) => {
                let params: Vec<String> = f.params.iter().map(|(n, t)| format!("{n}: {}", t.lks())).collect();
                let ret = f.ret.map_or(String::new(), |t| format!(" -> {}", t.lks()));
                let _ = writeln!(
                    out,
                    "{}fn {}({}){} {}",
                    vis(f.is_pub),
                    f.name,
                    params.join(", "),
                    ret,
                    self.block(&f.body, 0)
                );
            }
        }
    }

    fn pad(&self, ind: usize) -> String {
        self.indent.repeat(ind)
    }

    /// `name` or `module::name`, as seen from the module being printed.
    fn path(&self, module: &str, name: &str) -> String {
        if module == self.module.name {
            name.to_string()
        } else {
            format!("{module}::{name}")
        }
    }

    /// Prints `e`, parenthesised when its precedence is below `min_prec`. `no_block` marks an `if`/`while`
    /// condition, where a bare block or `if` would be taken for the body, so those get parentheses.
    fn expr(&self, e: &Expr, min_prec: u8, no_block: bool, ind: usize) -> String {
        let inner = match e {
            Expr::Int(v, g) => int_text(*v, *g),
            Expr::Bool(b) => b.to_string(),
            Expr::Local(name) => name.clone(),
            Expr::Const(p) | Expr::Global(p) => self.path(&p.module, &p.name),
            Expr::Call(c) => self.call(c, ind),
            Expr::Paren(e) => format!("({})", self.expr(e, 0, false, ind)),
            Expr::Unary(op, operand) => {
                let s = self.expr(operand, 6, no_block, ind);
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
                format!("{} {} {}", self.expr(a, lp, no_block, ind), op.text(), self.expr(b, p + 1, no_block, ind))
            }
            Expr::Block(b, _) => {
                let s = self.block(b, ind);
                return if no_block { format!("({s})") } else { s };
            }
            Expr::If(chain, _) => {
                let s = self.if_chain(chain, ind);
                return if no_block { format!("({s})") } else { s };
            }
        };
        if expr_prec(e) < min_prec {
            format!("({inner})")
        } else {
            inner
        }
    }

    fn call(&self, c: &Call, ind: usize) -> String {
        let args: Vec<String> = c.args.iter().map(|a| self.expr(a, 0, false, ind)).collect();
        format!("{}({})", self.path(&c.callee.module, &c.callee.name), args.join(", "))
    }

    fn if_chain(&self, chain: &IfChain, ind: usize) -> String {
        let mut s = format!("if {} {}", self.expr(&chain.cond, 0, true, ind), self.block(&chain.then, ind));
        match &chain.els {
            None => {}
            Some(Else::Block(b)) => {
                let _ = write!(s, " else {}", self.block(b, ind));
            }
            Some(Else::If(next)) => {
                let _ = write!(s, " else {}", self.if_chain(next, ind));
            }
        }
        s
    }

    fn block(&self, b: &Block, ind: usize) -> String {
        if b.stmts.is_empty() {
            return match &b.tail {
                None => "{}".to_string(),
                Some(t) => format!("{{ {} }}", self.tail(t, false, ind)),
            };
        }
        let mut s = String::from("{\n");
        for st in &b.stmts {
            self.stmt(st, ind + 1, &mut s);
        }
        if let Some(t) = &b.tail {
            let after_brace = matches!(
                b.stmts.iter().rev().find(|s| !matches!(s, Stmt::Comment(_))),
                Some(Stmt::If(_) | Stmt::While { .. } | Stmt::Block(_))
            );
            let _ = writeln!(s, "{}{}", self.pad(ind + 1), self.tail(t, after_brace, ind + 1));
        }
        let _ = write!(s, "{}}}", self.pad(ind));
        s
    }

    /// A block's tail: an `if` or block on its own stays bare (as in the spec's example), but a tail that
    /// merely starts with one is parenthesised, as is a tail starting with `-` right after a brace-ended
    /// statement, because those would otherwise read as a statement followed by something else.
    fn tail(&self, t: &Expr, after_brace: bool, ind: usize) -> String {
        let text = self.expr(t, 0, false, ind);
        if matches!(t, Expr::If(..) | Expr::Block(..)) {
            return text;
        }
        match leftmost(t) {
            Expr::If(..) | Expr::Block(..) => format!("({text})"),
            Expr::Unary(UnOp::Neg, _) if after_brace => format!("({text})"),
            _ => text,
        }
    }

    fn stmt(&self, st: &Stmt, ind: usize, out: &mut String) {
        let pad = self.pad(ind);
        match st {
            Stmt::Let { name, mutable, annotate, ty, value } => {
                let _ = writeln!(
                    out,
                    "{pad}let {}{}{} = {};",
                    if *mutable { "mut " } else { "" },
                    name,
                    if *annotate { format!(": {}", ty.lks()) } else { String::new() },
                    self.expr(value, 0, false, ind)
                );
            }
            Stmt::Assign { place, value } => {
                let target = match place {
                    Place::Local(name) => name.clone(),
                    Place::Global(p) => self.path(&p.module, &p.name),
                };
                let _ = writeln!(out, "{pad}{target} = {};", self.expr(value, 0, false, ind));
            }
            Stmt::While { cond, body } => {
                let _ = writeln!(out, "{pad}while {} {}", self.expr(cond, 0, true, ind), self.block(body, ind));
            }
            Stmt::Return(None) => {
                let _ = writeln!(out, "{pad}return;");
            }
            Stmt::Return(Some(e)) => {
                let _ = writeln!(out, "{pad}return {};", self.expr(e, 0, false, ind));
            }
            Stmt::Call(c) => {
                let _ = writeln!(out, "{pad}{};", self.call(c, ind));
            }
            Stmt::Expr(e) => {
                // A statement that starts with `if` or a block would end at its closing brace.
                let text = self.expr(e, 0, false, ind);
                let text =
                    if matches!(leftmost(e), Expr::If(..) | Expr::Block(..)) { format!("({text})") } else { text };
                let _ = writeln!(out, "{pad}{text};");
            }
            Stmt::Print(e) => {
                let _ = writeln!(out, "{pad}print({});", self.expr(e, 0, false, ind));
            }
            Stmt::If(chain) => {
                let _ = writeln!(out, "{pad}{}", self.if_chain(chain, ind));
            }
            Stmt::Block(b) => {
                let _ = writeln!(out, "{pad}{}", self.block(b, ind));
            }
            Stmt::Comment(text) => {
                let _ = writeln!(out, "{pad}{text}");
            }
        }
    }
}

fn expr_prec(e: &Expr) -> u8 {
    match e {
        Expr::Binary(op, ..) => op.prec(),
        Expr::Unary(..) => 6,
        _ => 7,
    }
}

/// What an expression starts with, to avoid tails that a parser would read as a statement followed by more.
fn leftmost(e: &Expr) -> &Expr {
    match e {
        Expr::Binary(_, a, _) => leftmost(a),
        _ => e,
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
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(ch);
    }
    out
}
