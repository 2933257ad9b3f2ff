//! The Rust translation of a [`Program`]: a Cargo package with one module file per `.lks` module, so that
//! cargo's incremental rustc can be measured against lockstep on the same program (`lockstep bench peers`).
//!
//! Rust evaluates operands, arguments and receivers left to right, as `.lks` does, so expressions translate
//! one to one, unlike C ([`super::c`]) which needs temporaries. Arithmetic wraps (`wrapping_*`); division and
//! remainder go through helpers with the language's rules (`MIN / -1`, division by zero). Globals are atomics
//! (relaxed: the program has one thread), so no `unsafe` is needed. Names are prefixed so that no `.lks` name
//! can collide with a Rust keyword or another item: `m_MODULE`, `f_NAME`, `G_NAME`, `C_NAME`, `v_NAME`.
//! A module's file depends only on that module (and the names and types of what it uses), so a body or
//! comment edit in one `.lks` module changes one Rust file, as it would in a hand-written crate.

use super::eval::ItemFacts;
use super::model::{BinOp, Block, Call, Else, Expr, IfChain, Item, Module, Place, Program, Stmt, Ty, UnOp, Val, ROOT};
use std::fmt::Write as _;

/// The runtime and `fn main`, before the module declarations.
const MAIN_PRELUDE: &str = r#"//! Rust translation of a generated lockstep program.
#![allow(warnings)]

use std::io::Write as _;

/// Fully buffered like C's stdio on a file, flushed at exit: one write per line would make the program's
/// run time, not its output, differ from the C build's.
static OUT: std::sync::LazyLock<std::sync::Mutex<std::io::BufWriter<std::io::Stdout>>> =
    std::sync::LazyLock::new(|| std::sync::Mutex::new(std::io::BufWriter::new(std::io::stdout())));

pub fn lks_flush() {
    let _ = OUT.lock().unwrap_or_else(|e| e.into_inner()).flush();
}

/// Integer division as the language defines it: `MIN / -1` is `MIN`, a zero divisor ends the program.
pub fn lks_div(a: i64, b: i64) -> i64 {
    if b == 0 {
        lks_div_zero();
    }
    a.wrapping_div(b)
}

pub fn lks_rem(a: i64, b: i64) -> i64 {
    if b == 0 {
        lks_div_zero();
    }
    a.wrapping_rem(b)
}

fn lks_div_zero() -> ! {
    lks_flush();
    eprintln!("division by zero");
    std::process::exit(101);
}

pub fn lks_print(x: i64) {
    let _ = writeln!(OUT.lock().unwrap_or_else(|e| e.into_inner()), "{x}");
}
"#;

/// The program as a Cargo package: `(relative path, text)` pairs: `Cargo.toml`, `src/main.rs`, and
/// `src/m_MODULE.rs` per module. `None` when the model is not a valid program (as for the C rendering).
pub fn render_rust_crate(program: &Program, package_name: &str) -> Option<Vec<(String, String)>> {
    let items = ItemFacts::of(program);
    let mut files = vec![(
        "Cargo.toml".to_string(),
        format!("[package]\nname = \"{package_name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"),
    )];
    let mut main = MAIN_PRELUDE.to_string();
    for m in &program.modules {
        let _ = writeln!(main, "mod {};", module_name(&m.name));
        files.push((rust_module_path(&m.name), render_module(&items, m)?));
    }
    let root = program.module(ROOT)?;
    let entry = root.function("main")?;
    main.push_str("\nfn main() {\n");
    for m in program.init_order()? {
        let _ = writeln!(main, "    {}::lks_init();", module_name(&program.modules[m].name));
    }
    let call = format!("{}::{}()", module_name(ROOT), fn_name("main"));
    if entry.ret.is_some() {
        let _ = writeln!(main, "    let status = ({call} as u64 & 255) as i32;");
        main.push_str("    lks_flush();\n    std::process::exit(status);\n}\n");
    } else {
        let _ = writeln!(main, "    {call};");
        main.push_str("    lks_flush();\n}\n");
    }
    files.insert(1, ("src/main.rs".to_string(), main));
    Some(files)
}

/// The file module `module` is rendered to, relative to the package.
pub fn rust_module_path(module: &str) -> String {
    format!("src/{}.rs", module_name(module))
}

fn module_name(module: &str) -> String {
    format!("m_{module}")
}

fn fn_name(name: &str) -> String {
    format!("f_{name}")
}

fn global_name(name: &str) -> String {
    format!("G_{name}")
}

fn const_name(name: &str) -> String {
    format!("C_{name}")
}

fn local_name(name: &str) -> String {
    format!("v_{name}")
}

fn rust_ty(ty: Ty) -> &'static str {
    match ty {
        Ty::I64 => "i64",
        Ty::Bool => "bool",
    }
}

fn atomic_ty(ty: Ty) -> &'static str {
    match ty {
        Ty::I64 => "std::sync::atomic::AtomicI64",
        Ty::Bool => "std::sync::atomic::AtomicBool",
    }
}

fn int_literal(v: i64) -> String {
    if v == i64::MIN {
        "i64::MIN".to_string()
    } else if v < 0 {
        format!("(-{}i64)", v.unsigned_abs())
    } else {
        format!("{v}i64")
    }
}

fn val_literal(v: Val) -> String {
    match v {
        Val::I(i) => int_literal(i),
        Val::B(b) => b.to_string(),
    }
}

fn default_value(ty: Ty) -> &'static str {
    match ty {
        Ty::I64 => "0i64",
        Ty::Bool => "false",
    }
}

/// A comment's text, for a Rust block comment (which nests, so no `*/` may close it early).
fn comment_text(text: &str) -> String {
    super::c::comment_body(text).replace("*/", "* /")
}

/// Whether a statement of the block itself is a `return`, so its tail is never reached.
fn returns_first(b: &Block) -> bool {
    b.stmts.iter().any(|s| matches!(s, Stmt::Return(_)))
}

/// Module `m`: its consts, globals, functions (with its comments between items), and its initialiser.
fn render_module(items: &ItemFacts, m: &Module) -> Option<String> {
    let mut w = Writer::default();
    w.line(&format!("//! Module `{}`.", m.name));
    for item in &m.items {
        match item {
            Item::Const(c) => {
                let value = items.consts.get(&super::model::ItemPath::new(&m.name, &c.name))?;
                w.line(&format!("pub const {}: {} = {};", const_name(&c.name), rust_ty(c.ty), val_literal(*value)));
            }
            Item::Global(g) => {
                let ty = atomic_ty(g.ty);
                w.line(&format!("pub static {}: {ty} = {ty}::new({});", global_name(&g.name), default_value(g.ty)));
            }
            Item::Fn(f) => {
                let params: Vec<String> =
                    f.params.iter().map(|(n, t)| format!("{}: {}", local_name(n), rust_ty(*t))).collect();
                let ret = f.ret.map_or(String::new(), |t| format!(" -> {}", rust_ty(t)));
                w.open(&format!("pub fn {}({}){ret} {{", fn_name(&f.name), params.join(", ")));
                w.body(&f.body, f.ret);
                w.close("}");
            }
            Item::Comment(text) => w.line(&format!("/* {} */", comment_text(text))),
        }
    }
    w.open("pub fn lks_init() {");
    for g in m.globals() {
        // Each initialiser in a block of its own: their locals may share names.
        w.open("{");
        let value = w.expr(&g.init);
        w.line(&format!("{}.store({value}, std::sync::atomic::Ordering::Relaxed);", global_name(&g.name)));
        w.close("}");
    }
    w.close("}");
    Some(w.out)
}

/// Rust text with indentation by nesting depth.
#[derive(Default)]
struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{}{text}", "    ".repeat(self.depth));
    }

    fn open(&mut self, text: &str) {
        self.line(text);
        self.depth += 1;
    }

    fn close(&mut self, text: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.line(text);
    }

    /// A function body: the tail is the result when the function has one, else evaluated and discarded.
    fn body(&mut self, b: &Block, ret: Option<Ty>) {
        for s in &b.stmts {
            self.stmt(s);
        }
        if returns_first(b) {
            // `{ return 1; true }` checks in `.lks`; rustc would type the unreachable tail.
            self.line("unreachable!()");
            return;
        }
        match (&b.tail, ret) {
            (Some(tail), Some(_)) => {
                let value = self.expr(tail);
                self.line(&value);
            }
            (Some(tail), None) => {
                let value = self.expr(tail);
                self.line(&format!("let _ = {value};"));
            }
            // The checker guarantees every path returns; rustc wants the end marked unreachable.
            (None, Some(_)) if !matches!(b.stmts.last(), Some(Stmt::Return(_))) => self.line("unreachable!()"),
            (None, _) => {}
        }
    }

    /// A block whose value is not used (a statement block, a loop body, a branch of an `if` statement).
    fn stmts(&mut self, b: &Block) {
        for s in &b.stmts {
            self.stmt(s);
        }
        if let Some(tail) = &b.tail {
            let value = self.expr(tail);
            self.line(&format!("let _ = {value};"));
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Let { name, mutable, ty, value, .. } => {
                let value = self.expr(value);
                let mutable = if *mutable { "mut " } else { "" };
                self.line(&format!("let {mutable}{}: {} = {value};", local_name(name), rust_ty(*ty)));
            }
            Stmt::Assign { place: Place::Local(name), value } => {
                let value = self.expr(value);
                self.line(&format!("{} = {value};", local_name(name)));
            }
            Stmt::Assign { place: Place::Global(p), value } => {
                let value = self.expr(value);
                let global = format!("crate::{}::{}", module_name(&p.module), global_name(&p.name));
                self.line(&format!("{global}.store({value}, std::sync::atomic::Ordering::Relaxed);"));
            }
            Stmt::While { cond, body } => {
                let cond = self.expr(cond);
                self.open(&format!("while {cond} {{"));
                self.stmts(body);
                self.close("}");
            }
            Stmt::Return(None) => self.line("return;"),
            Stmt::Return(Some(e)) => {
                let value = self.expr(e);
                self.line(&format!("return {value};"));
            }
            Stmt::Call(c) => {
                let call = self.call(c);
                self.line(&format!("{call};"));
            }
            Stmt::Expr(e) => {
                let value = self.expr(e);
                self.line(&format!("let _ = {value};"));
            }
            Stmt::Print(e) => {
                let value = self.expr(e);
                self.line(&format!("crate::lks_print(({value}) as i64);"));
            }
            Stmt::If(chain) => {
                self.if_stmt(chain, "if");
                self.close("}");
            }
            Stmt::Block(b) => {
                self.open("{");
                self.stmts(b);
                self.close("}");
            }
            Stmt::Comment(text) => self.line(&format!("/* {} */", comment_text(text))),
        }
    }

    /// `if` statements, as a chain of `else if`; the caller closes the last branch.
    fn if_stmt(&mut self, chain: &IfChain, keyword: &str) {
        let cond = self.expr(&chain.cond);
        self.open(&format!("{keyword} {cond} {{"));
        self.stmts(&chain.then);
        match &chain.els {
            None => {}
            Some(Else::Block(b)) => {
                self.close("} else {");
                self.depth += 1;
                self.stmts(b);
            }
            Some(Else::If(next)) => {
                self.depth = self.depth.saturating_sub(1);
                self.if_stmt(next, "} else if");
            }
        }
    }

    fn call(&mut self, c: &Call) -> String {
        let args: Vec<String> = c.args.iter().map(|a| self.expr(a)).collect();
        format!("crate::{}::{}({})", module_name(&c.callee.module), fn_name(&c.callee.name), args.join(", "))
    }

    /// An expression as Rust text; value blocks and `if`s become Rust block expressions.
    fn expr(&mut self, e: &Expr) -> String {
        match e {
            Expr::Int(v, _) => int_literal(*v as i64),
            Expr::Bool(b) => b.to_string(),
            Expr::Local(name) => local_name(name),
            Expr::Const(p) => format!("crate::{}::{}", module_name(&p.module), const_name(&p.name)),
            Expr::Global(p) => format!(
                "crate::{}::{}.load(std::sync::atomic::Ordering::Relaxed)",
                module_name(&p.module),
                global_name(&p.name)
            ),
            Expr::Call(c) => self.call(c),
            Expr::Unary(UnOp::Neg, a) => format!("({}).wrapping_neg()", self.expr(a)),
            Expr::Unary(UnOp::Not, a) => format!("(!{})", self.expr(a)),
            Expr::Paren(a) => format!("({})", self.expr(a)),
            Expr::Binary(op, a, b) => {
                let (x, y) = (self.expr(a), self.expr(b));
                match op {
                    BinOp::Add => format!("({x}).wrapping_add({y})"),
                    BinOp::Sub => format!("({x}).wrapping_sub({y})"),
                    BinOp::Mul => format!("({x}).wrapping_mul({y})"),
                    BinOp::Div => format!("crate::lks_div({x}, {y})"),
                    BinOp::Rem => format!("crate::lks_rem({x}, {y})"),
                    _ => format!("({x} {} {y})", op.text()),
                }
            }
            Expr::Block(b, ty) => self.value_block(b, *ty),
            Expr::If(chain, ty) => self.if_expr(chain, *ty),
        }
    }

    /// `{ statements; tail }` as one Rust expression. A block without a tail never completes or is never
    /// used; it gets the type's default so that it still has a type.
    fn value_block(&mut self, b: &Block, ty: Ty) -> String {
        if b.stmts.is_empty() {
            return match &b.tail {
                Some(tail) => self.expr(tail),
                None => default_value(ty).to_string(),
            };
        }
        let mut inner = Writer { out: String::new(), depth: self.depth + 1 };
        for s in &b.stmts {
            inner.stmt(s);
        }
        let tail = match &b.tail {
            _ if returns_first(b) => "unreachable!()".to_string(),
            Some(tail) => inner.expr(tail),
            None => default_value(ty).to_string(),
        };
        inner.line(&tail);
        format!("{{\n{}{}}}", inner.out, "    ".repeat(self.depth))
    }

    /// A value `if`, in parentheses so it can be an operand.
    fn if_expr(&mut self, chain: &IfChain, ty: Ty) -> String {
        format!("({})", self.if_chain(chain, ty))
    }

    fn if_chain(&mut self, chain: &IfChain, ty: Ty) -> String {
        let cond = self.expr(&chain.cond);
        let then = self.value_block_braced(&chain.then, ty);
        let els = match &chain.els {
            Some(Else::Block(b)) => self.value_block_braced(b, ty),
            Some(Else::If(next)) => self.if_chain(next, ty),
            None => format!("{{ {} }}", default_value(ty)),
        };
        format!("if {cond} {then} else {els}")
    }

    /// A value block that is always written in braces (an `if` branch).
    fn value_block_braced(&mut self, b: &Block, ty: Ty) -> String {
        let text = self.value_block(b, ty);
        if text.starts_with('{') {
            text
        } else {
            format!("{{ {text} }}")
        }
    }
}
