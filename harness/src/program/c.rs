//! The C translation of a [`Program`]: gcc's build of it is the independent oracle for behaviour.
//!
//! The translation evaluates everything in `.lks` order: any operand that could observe or cause a side effect
//! is sequenced into a temporary, because C leaves operand and argument evaluation order unspecified. Wrapping
//! arithmetic, truncating division and the `MIN / -1` cases go through helpers whose behaviour C defines.
//! Names are mangled so that no `.lks` name can collide with a C keyword, a C library name or another item:
//! `lf_MODULE__NAME` (functions), `lg_` (globals), `lc_` (consts), `v_NAME` (locals), `tmp__N` (temporaries).
//! A `let` that shadows a name already declared in the same function gets `sN_NAME` (its `N`th declaration)
//! instead: C cannot redeclare a name in one block, and `int64_t v_x = v_x + 1;` would read the new variable.

use super::eval::ItemFacts;
use super::model::{BinOp, Block, Call, Else, Expr, IfChain, ItemPath, Place, Program, Stmt, Ty, UnOp, Val};
use std::collections::BTreeMap;
use std::fmt::Write as _;

const INDENT: &str = "    ";

const C_PRELUDE: &str = r#"#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* i64 arithmetic wraps: compute in uint64_t, whose overflow is defined, and convert back (gcc: modulo). */
static inline int64_t lks_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t lks_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t lks_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }
static inline int64_t lks_neg(int64_t a) { return (int64_t)((uint64_t)0 - (uint64_t)a); }
static void lks_div_zero(void) {
    fflush(stdout);
    fputs("division by zero\n", stderr);
    exit(101);
}
/* C's / and % truncate like .lks; the -1 cases avoid the MIN / -1 trap and give MIN and 0. */
static inline int64_t lks_div(int64_t a, int64_t b) {
    if (b == 0) lks_div_zero();
    if (b == -1) return lks_neg(a);
    return a / b;
}
static inline int64_t lks_rem(int64_t a, int64_t b) {
    if (b == 0) lks_div_zero();
    if (b == -1) return 0;
    return a % b;
}
static void lks_print(int64_t x) { printf("%lld\n", (long long)x); }
"#;

/// The whole program as one C11 translation unit with the same stdout bytes and exit status. `None` when the
/// model is not a valid program (a const that does not fold, an import cycle): there is nothing to translate.
pub fn render_c(program: &Program, title: &str) -> Option<String> {
    let items = ItemFacts::of(program);
    let mut out = String::new();
    let _ = writeln!(out, "/* C translation of {title}. */");
    out.push_str(C_PRELUDE);
    out.push_str("\n/* consts, folded */\n");
    for m in &program.modules {
        write_consts(&items, m, &mut out)?;
    }
    out.push_str("\n/* globals: zero until their module's initialiser runs */\n");
    for m in &program.modules {
        for g in m.globals() {
            let _ = writeln!(out, "static {} {};", g.ty.c(), global_c_name(&m.name, &g.name));
        }
    }
    out.push_str("\n/* prototypes */\n");
    for m in &program.modules {
        for f in m.fns() {
            let _ = writeln!(out, "{};", c_signature(Linkage::Static, f.ret, &fn_c_name(&m.name, &f.name), &f.params));
        }
    }
    for m in &program.modules {
        let _ = writeln!(out, "\n/* module {} */", m.name);
        write_module_code(&items, m, Linkage::Static, &mut out);
    }
    write_c_main(program, &mut out)?;
    Some(out)
}

/// The program as a C project the way people lay one out: per module a `MODULE.c` and a `MODULE.h` (its consts,
/// its globals `extern`, its prototypes), a `lks_rt.h` with the runtime helpers, a `lks_start.c` with `main`, and
/// a `Makefile` with file-level incremental rebuilds (`-MMD`). A module's `.c` includes only its own header and
/// its imports' headers, so make recompiles exactly the files a change can reach: one file for a body edit, the
/// importers too for a signature edit. `(relative path, text)` pairs; `None` as for [`render_c`].
pub fn render_c_project(program: &Program) -> Option<Vec<(String, String)>> {
    let items = ItemFacts::of(program);
    let mut files = vec![("lks_rt.h".to_string(), format!("#ifndef LKS_RT_H\n#define LKS_RT_H\n{C_PRELUDE}#endif\n"))];
    for m in &program.modules {
        let guard = format!("LKS_{}_H", m.name.to_uppercase());
        let mut h = format!("#ifndef {guard}\n#define {guard}\n#include \"lks_rt.h\"\n");
        write_consts(&items, m, &mut h)?;
        for g in m.globals() {
            let _ = writeln!(h, "extern {} {};", g.ty.c(), global_c_name(&m.name, &g.name));
        }
        for f in m.fns() {
            let _ = writeln!(h, "{};", c_signature(Linkage::Extern, f.ret, &fn_c_name(&m.name, &f.name), &f.params));
        }
        let _ = writeln!(h, "void lks_init_{}(void);\n#endif", m.name);
        let mut c = format!("#include \"{}.h\"\n", m.name);
        for import in &m.imports {
            let _ = writeln!(c, "#include \"{import}.h\"");
        }
        for g in m.globals() {
            let _ = writeln!(c, "{} {};", g.ty.c(), global_c_name(&m.name, &g.name));
        }
        write_module_code(&items, m, Linkage::Extern, &mut c);
        files.push((format!("{}.h", m.name), h));
        files.push((format!("{}.c", m.name), c));
    }
    let mut start = format!("#include \"{}.h\"\n", super::model::ROOT);
    for m in &program.modules {
        let _ = writeln!(start, "void lks_init_{}(void);", m.name);
    }
    write_c_main(program, &mut start)?;
    files.push(("lks_start.c".to_string(), start));
    let mut objects: Vec<String> = program.modules.iter().map(|m| format!("{}.o", m.name)).collect();
    objects.push("lks_start.o".to_string());
    files.push(("Makefile".to_string(), MAKEFILE.replace("@OBJECTS@", &objects.join(" "))));
    Some(files)
}

/// The C project's Makefile: `CC`, `CFLAGS` and `LDFLAGS` come from the command line (the peer benchmark
/// passes its optimisation level and linker there).
const MAKEFILE: &str = "CC ?= cc\nCFLAGS ?= -O0\nLDFLAGS ?=\nOBJECTS := @OBJECTS@\n\nprogram: $(OBJECTS)\n\t$(CC) $(LDFLAGS) -o $@ $(OBJECTS)\n\n%.o: %.c\n\t$(CC) $(CFLAGS) -w -MMD -MP -c -o $@ $<\n\n-include $(OBJECTS:.o=.d)\n";

/// Whether a function is private to its translation unit (the single-file rendering) or shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Linkage {
    Static,
    Extern,
}

fn write_consts(items: &ItemFacts, m: &super::model::Module, out: &mut String) -> Option<()> {
    for c in m.consts() {
        let value = *items.consts.get(&ItemPath::new(&m.name, &c.name))?;
        let _ = writeln!(out, "static const {} {} = {};", c.ty.c(), const_c_name(&m.name, &c.name), c_val(value));
    }
    Some(())
}

/// Module `m`'s functions and its initialiser `lks_init_MODULE`.
fn write_module_code(items: &ItemFacts, m: &super::model::Module, linkage: Linkage, out: &mut String) {
    for f in m.fns() {
        let mut lower = CLower::new(items);
        lower.scopes.push(BTreeMap::new());
        for (name, ty) in &f.params {
            // Parameters are declared first, so they keep the `v_NAME` that `c_signature` writes.
            lower.bind(name, *ty, false);
        }
        let mut lines = vec![format!("{} {{", c_signature(linkage, f.ret, &fn_c_name(&m.name, &f.name), &f.params))];
        lower.fn_body(&f.body, f.ret.is_some(), &mut lines);
        lines.push("}".to_string());
        indent_into(&lines, out);
    }
    let mut lower = CLower::new(items);
    let storage = if linkage == Linkage::Static { "static " } else { "" };
    let mut lines = vec![format!("{storage}void lks_init_{}(void) {{", m.name)];
    for g in m.globals() {
        // Each initialiser gets its own C block, because locals of different initialisers may share names.
        lines.push("{".to_string());
        lower.scopes.push(BTreeMap::new());
        let v = lower.expr(&g.init, &mut lines);
        lower.scopes.pop();
        lines.push(format!("{} = {};", global_c_name(&m.name, &g.name), v.code));
        lines.push("}".to_string());
    }
    lines.push("}".to_string());
    indent_into(&lines, out);
}

/// C's `main`: every module's initialiser in import order, then the root's `main`, whose result is the status.
fn write_c_main(program: &Program, out: &mut String) -> Option<()> {
    let root = program.module(super::model::ROOT)?;
    let main = root.function("main")?;
    out.push_str("\nint main(void) {\n");
    for m in program.init_order()? {
        let _ = writeln!(out, "    lks_init_{}();", program.modules[m].name);
    }
    let main_c = fn_c_name(&root.name, "main");
    if main.ret.is_some() {
        let _ = writeln!(out, "    int64_t r = {main_c}();");
        out.push_str("    fflush(stdout);\n    return (int)((uint64_t)r & 255u);\n}\n");
    } else {
        let _ = writeln!(out, "    {main_c}();");
        out.push_str("    fflush(stdout);\n    return 0;\n}\n");
    }
    Some(())
}

fn global_c_name(module: &str, name: &str) -> String {
    format!("lg_{module}__{name}")
}

fn fn_c_name(module: &str, name: &str) -> String {
    format!("lf_{module}__{name}")
}

fn const_c_name(module: &str, name: &str) -> String {
    format!("lc_{module}__{name}")
}

fn local_c_name(name: &str) -> String {
    format!("v_{name}")
}

/// A C literal for `v`. Values that fit an `int` are written plainly (they convert exactly wherever an
/// `int64_t` is expected), which keeps bench-sized translations smaller and faster to compile.
fn c_int(v: i64) -> String {
    if (0..=i64::from(i32::MAX)).contains(&v) {
        v.to_string()
    } else if v == i64::MIN {
        "(-INT64_C(9223372036854775807) - 1)".to_string()
    } else if v < 0 {
        format!("(-INT64_C({}))", v.unsigned_abs())
    } else {
        format!("INT64_C({v})")
    }
}

fn c_val(v: Val) -> String {
    match v {
        Val::I(i) => c_int(i),
        Val::B(b) => b.to_string(),
    }
}

fn c_signature(linkage: Linkage, ret: Option<Ty>, name: &str, params: &[(String, Ty)]) -> String {
    let ps: Vec<String> = params.iter().map(|(n, t)| format!("{} {}", t.c(), local_c_name(n))).collect();
    let ps = if ps.is_empty() { "void".to_string() } else { ps.join(", ") };
    let storage = if linkage == Linkage::Static { "static " } else { "" };
    format!("{storage}{} {name}({ps})", ret.map_or("void", Ty::c))
}

/// The text of a comment, for a C (or Rust) block comment.
pub(super) fn comment_body(text: &str) -> &str {
    let text = text.trim();
    let text = text.strip_prefix("//").unwrap_or(text);
    let text = text.strip_prefix("/*").and_then(|t| t.strip_suffix("*/")).unwrap_or(text);
    text.trim()
}

/// Indents by brace depth: the lowering emits flat lines, each ending in `{` or starting with `}` when it
/// opens or closes a C block.
fn indent_into(lines: &[String], out: &mut String) {
    let mut depth = 0usize;
    for line in lines {
        if line.starts_with('}') {
            depth = depth.saturating_sub(1);
        }
        let _ = writeln!(out, "{}{line}", INDENT.repeat(depth));
        if line.ends_with('{') {
            depth += 1;
        }
    }
}

/// A lowered C expression: `stable` when it neither reads mutable state nor can trap, so it may be evaluated
/// after later side effects without changing the result.
#[derive(Clone, Debug)]
struct CVal {
    code: String,
    stable: bool,
}

/// A local in scope.
#[derive(Clone, Debug)]
struct CLocal {
    ty: Ty,
    mutable: bool,
    /// Its C name: `v_NAME`, or `sN_NAME` for the `N`th declaration of `NAME` in the function.
    c_name: String,
}

/// Lowers one function body (or one module's initialisers) to C lines, sequencing side effects in `.lks`
/// order through temporaries.
struct CLower<'a> {
    items: &'a ItemFacts,
    /// Locals in scope by `.lks` name.
    scopes: Vec<BTreeMap<String, CLocal>>,
    /// How many times each name has been declared so far, for the C names of shadowing `let`s.
    declared: BTreeMap<String, usize>,
    tmp: usize,
}

impl<'a> CLower<'a> {
    fn new(items: &'a ItemFacts) -> CLower<'a> {
        CLower { items, scopes: Vec::new(), declared: BTreeMap::new(), tmp: 0 }
    }

    /// Declares a local in the innermost scope and returns its C name.
    fn bind(&mut self, name: &str, ty: Ty, mutable: bool) -> String {
        let count = self.declared.entry(name.to_string()).or_insert(0);
        *count += 1;
        let c_name = if *count == 1 { local_c_name(name) } else { format!("s{count}_{name}") };
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_string(), CLocal { ty, mutable, c_name: c_name.clone() });
        }
        c_name
    }

    fn temp(&mut self) -> String {
        self.tmp += 1;
        format!("tmp__{}", self.tmp)
    }

    /// The local `name` refers to here; an unknown name (not a valid program) reads as a mutable `v_NAME`.
    fn local(&self, name: &str) -> CLocal {
        self.scopes.iter().rev().find_map(|s| s.get(name).cloned()).unwrap_or_else(|| CLocal {
            ty: Ty::I64,
            mutable: true,
            c_name: local_c_name(name),
        })
    }

    fn ret_of(&self, callee: &ItemPath) -> Option<Ty> {
        self.items.signatures.get(callee).and_then(|s| s.ret)
    }

    /// The type of `e` in the current scope.
    fn ty(&self, e: &Expr) -> Ty {
        match e {
            Expr::Int(..) => Ty::I64,
            Expr::Bool(_) => Ty::Bool,
            Expr::Local(name) => self.local(name).ty,
            Expr::Const(p) => self.items.consts.get(p).map_or(Ty::I64, |v| v.ty()),
            Expr::Global(p) => self.items.globals.get(p).copied().unwrap_or(Ty::I64),
            Expr::Call(c) => self.ret_of(&c.callee).unwrap_or(Ty::I64),
            Expr::Unary(UnOp::Neg, _) => Ty::I64,
            Expr::Unary(UnOp::Not, _) => Ty::Bool,
            Expr::Binary(op, ..) => op.result(),
            Expr::Paren(e) => self.ty(e),
            Expr::Block(_, t) | Expr::If(_, t) => *t,
        }
    }

    /// A function body; the tail is returned when the function has a result, else evaluated and discarded
    /// (`fn f() { g(1) }` is valid `.lks` and must still call `g`).
    fn fn_body(&mut self, body: &Block, returns: bool, out: &mut Vec<String>) {
        self.scopes.push(BTreeMap::new());
        for st in &body.stmts {
            self.stmt(st, out);
        }
        if let Some(t) = &body.tail {
            let v = self.expr(t, out);
            if returns {
                out.push(format!("return {};", v.code));
            } else {
                out.push(format!("(void)({});", v.code));
            }
        }
        self.scopes.pop();
    }

    /// A nested block whose value is not used (a statement block, a loop body, a branch of an `if`
    /// statement), in a scope of its own. A tail is still evaluated for its effects: `.lks` lets such blocks
    /// end in a value (`while c { i = i + 1; step(i) }`).
    fn block_stmts(&mut self, b: &Block, out: &mut Vec<String>) {
        self.scopes.push(BTreeMap::new());
        for st in &b.stmts {
            self.stmt(st, out);
        }
        if let Some(t) = &b.tail {
            let v = self.expr(t, out);
            out.push(format!("(void)({});", v.code));
        }
        self.scopes.pop();
    }

    fn stmt(&mut self, st: &Stmt, out: &mut Vec<String>) {
        match st {
            Stmt::Let { name, mutable, ty, value, .. } => {
                // The initialiser is lowered before the name is bound: `let x = x + 1;` reads the outer `x`.
                let v = self.expr(value, out);
                let c_name = self.bind(name, *ty, *mutable);
                out.push(format!("{} {c_name} = {};", ty.c(), v.code));
            }
            Stmt::Assign { place, value } => {
                let v = self.expr(value, out);
                out.push(format!("{} = {};", self.place(place), v.code));
            }
            Stmt::While { cond, body } => {
                let mut cl = Vec::new();
                let c = self.expr(cond, &mut cl);
                if cl.is_empty() {
                    out.push(format!("while ({}) {{", c.code));
                } else {
                    out.push("while (1) {".to_string());
                    out.extend(cl);
                    out.push(format!("if (!({})) break;", c.code));
                }
                self.block_stmts(body, out);
                out.push("}".to_string());
            }
            Stmt::Return(None) => out.push("return;".to_string()),
            Stmt::Return(Some(e)) => {
                let v = self.expr(e, out);
                out.push(format!("return {};", v.code));
            }
            Stmt::Call(c) => {
                let args = self.seq(&c.args.iter().collect::<Vec<_>>(), out);
                out.push(format!("{}({});", fn_c_name(&c.callee.module, &c.callee.name), join_codes(&args)));
            }
            Stmt::Expr(e) => {
                let v = self.expr(e, out);
                out.push(format!("(void)({});", v.code));
            }
            Stmt::Print(e) => {
                let v = self.expr(e, out);
                out.push(format!("lks_print({});", v.code));
            }
            Stmt::If(chain) => self.if_stmt(chain, out),
            Stmt::Block(b) => {
                out.push("{".to_string());
                self.block_stmts(b, out);
                out.push("}".to_string());
            }
            Stmt::Comment(text) => out.push(format!("/* {} */", comment_body(text))),
        }
    }

    fn place(&self, place: &Place) -> String {
        match place {
            Place::Local(name) => self.local(name).c_name,
            Place::Global(p) => global_c_name(&p.module, &p.name),
        }
    }

    fn if_stmt(&mut self, chain: &IfChain, out: &mut Vec<String>) {
        let c = self.expr(&chain.cond, out);
        out.push(format!("if ({}) {{", c.code));
        self.block_stmts(&chain.then, out);
        match &chain.els {
            None => out.push("}".to_string()),
            Some(Else::Block(b)) => {
                out.push("} else {".to_string());
                self.block_stmts(b, out);
                out.push("}".to_string());
            }
            Some(Else::If(next)) => {
                // The nested condition may need statements of its own, so it lives inside a plain else block.
                out.push("} else {".to_string());
                self.if_stmt(next, out);
                out.push("}".to_string());
            }
        }
    }

    /// Lowers operands left to right. Whenever an operand needs statements (it has side effects), every
    /// earlier operand that is not stable is first copied into a temporary, so it is read before those effects.
    fn seq(&mut self, exprs: &[&Expr], out: &mut Vec<String>) -> Vec<CVal> {
        let mut vals: Vec<CVal> = Vec::new();
        for e in exprs {
            let mut lines = Vec::new();
            let v = self.expr(e, &mut lines);
            if !lines.is_empty() {
                for (prev, pe) in vals.iter_mut().zip(exprs) {
                    if !prev.stable {
                        self.tmp += 1;
                        let t = format!("tmp__{}", self.tmp);
                        out.push(format!("{} {t} = {};", self.ty(pe).c(), prev.code));
                        *prev = CVal { code: t, stable: true };
                    }
                }
                out.extend(lines);
            }
            vals.push(v);
        }
        vals
    }

    fn call(&mut self, c: &Call, out: &mut Vec<String>) -> CVal {
        let args = self.seq(&c.args.iter().collect::<Vec<_>>(), out);
        let t = self.temp();
        let ret = self.ret_of(&c.callee).unwrap_or(Ty::I64);
        out.push(format!("{} {t} = {}({});", ret.c(), fn_c_name(&c.callee.module, &c.callee.name), join_codes(&args)));
        CVal { code: t, stable: true }
    }

    fn expr(&mut self, e: &Expr, out: &mut Vec<String>) -> CVal {
        match e {
            Expr::Int(v, _) => CVal { code: c_int(*v as i64), stable: true },
            Expr::Bool(b) => CVal { code: b.to_string(), stable: true },
            Expr::Local(name) => {
                let local = self.local(name);
                CVal { code: local.c_name, stable: !local.mutable }
            }
            Expr::Const(p) => CVal { code: const_c_name(&p.module, &p.name), stable: true },
            Expr::Global(p) => CVal { code: global_c_name(&p.module, &p.name), stable: false },
            Expr::Paren(e) => self.expr(e, out),
            Expr::Call(c) => self.call(c, out),
            Expr::Unary(op, a) => {
                let v = self.expr(a, out);
                let code = match op {
                    UnOp::Neg => format!("lks_neg({})", v.code),
                    UnOp::Not => format!("(!{})", v.code),
                };
                CVal { code, stable: v.stable }
            }
            Expr::Binary(op @ (BinOp::And | BinOp::Or), a, b) => self.logic(*op, a, b, out),
            Expr::Binary(op, a, b) => {
                let vals = self.seq(&[&**a, &**b], out);
                let (x, y) = (&vals[0].code, &vals[1].code);
                let code = match op {
                    BinOp::Add => format!("lks_add({x}, {y})"),
                    BinOp::Sub => format!("lks_sub({x}, {y})"),
                    BinOp::Mul => format!("lks_mul({x}, {y})"),
                    BinOp::Div => format!("lks_div({x}, {y})"),
                    BinOp::Rem => format!("lks_rem({x}, {y})"),
                    _ => format!("({x} {} {y})", op.text()),
                };
                // A division may trap, which is an effect that must not move past later side effects.
                let stable = vals[0].stable && vals[1].stable && !matches!(op, BinOp::Div | BinOp::Rem);
                CVal { code, stable }
            }
            Expr::Block(b, ty) => {
                if b.stmts.is_empty() {
                    return match &b.tail {
                        Some(tail) => self.expr(tail, out),
                        None => CVal { code: "0".to_string(), stable: true },
                    };
                }
                // A block without a tail still runs its statements: it is one that never completes
                // (`{ return 1; }`) or, in parentheses, one without a value; either way its value is never used.
                let t = self.temp();
                out.push(format!("{} {t};", ty.c()));
                out.push("{".to_string());
                let v = self.value_block(b, out);
                out.push(format!("{t} = {};", v.code));
                out.push("}".to_string());
                CVal { code: t, stable: true }
            }
            Expr::If(chain, ty) => self.if_expr(chain, *ty, out),
        }
    }

    /// `&&` and `||`: plain C when the right operand has no effects, else an explicit branch.
    fn logic(&mut self, op: BinOp, a: &Expr, b: &Expr, out: &mut Vec<String>) -> CVal {
        let va = self.expr(a, out);
        let mut lines = Vec::new();
        let vb = self.expr(b, &mut lines);
        if lines.is_empty() {
            return CVal { code: format!("({} {} {})", va.code, op.text(), vb.code), stable: va.stable && vb.stable };
        }
        let t = self.temp();
        out.push(format!("bool {t} = {};", va.code));
        out.push(format!("if ({}{t}) {{", if op == BinOp::And { "" } else { "!" }));
        out.extend(lines);
        out.push(format!("{t} = {};", vb.code));
        out.push("}".to_string());
        CVal { code: t, stable: true }
    }

    fn if_expr(&mut self, chain: &IfChain, ty: Ty, out: &mut Vec<String>) -> CVal {
        let c = self.expr(&chain.cond, out);
        let mut then_lines = Vec::new();
        let tv = self.value_block(&chain.then, &mut then_lines);
        let mut else_lines = Vec::new();
        let ev = match &chain.els {
            Some(Else::Block(b)) => self.value_block(b, &mut else_lines),
            Some(Else::If(next)) => self.if_expr(next, ty, &mut else_lines),
            None => CVal { code: "0".to_string(), stable: true },
        };
        if then_lines.is_empty() && else_lines.is_empty() {
            // Only the chosen branch is evaluated by `?:`, so a trap in the other one cannot fire.
            return CVal {
                code: format!("({} ? {} : {})", c.code, tv.code, ev.code),
                stable: c.stable && tv.stable && ev.stable,
            };
        }
        let t = self.temp();
        out.push(format!("{} {t};", ty.c()));
        out.push(format!("if ({}) {{", c.code));
        out.extend(then_lines);
        out.push(format!("{t} = {};", tv.code));
        out.push("} else {".to_string());
        out.extend(else_lines);
        out.push(format!("{t} = {};", ev.code));
        out.push("}".to_string());
        CVal { code: t, stable: true }
    }

    /// Lowers a value block's statements into `out` (the caller wraps them in a C block) and returns its tail.
    fn value_block(&mut self, b: &Block, out: &mut Vec<String>) -> CVal {
        self.scopes.push(BTreeMap::new());
        for st in &b.stmts {
            self.stmt(st, out);
        }
        let v = match &b.tail {
            Some(t) => self.expr(t, out),
            None => CVal { code: "0".to_string(), stable: true },
        };
        self.scopes.pop();
        v
    }
}

fn join_codes(vals: &[CVal]) -> String {
    vals.iter().map(|v| v.code.as_str()).collect::<Vec<_>>().join(", ")
}
