//! Edits inside items: bodies, comments and layout, local names, consts, globals.

use super::{all_functions, fresh_name, function_mut, local_names, names_in_use, pick, prints_directly, NotApplicable};
use crate::program::eval::const_values;
use crate::program::model::{BinOp, Expr, Item, ItemPath, Place, Program, Stmt, Ty, UnOp, Val};
use crate::program::visit::{rewrite_block, rewrite_program, Rewrite, ScopedRewrite};

/// A body change that keeps the function's signature: its result shifted, a `print` added, or (for a
/// function without a result that prints nothing itself) a dead `let`.
pub(super) fn body(program: &mut Program, function: u16, variant: u16) -> Result<String, NotApplicable> {
    let path = pick(&all_functions(program), function, "function")?;
    let taken = names_in_use(program, &path.module);
    let f = function_mut(program, &path);
    let c = 1 + u64::from(variant % 97);
    let tail_edit = variant % 3 != 2;
    match (f.ret, f.body.tail.take()) {
        (Some(Ty::I64), Some(tail)) if tail_edit => {
            f.body.tail = Some(Expr::bin(BinOp::Add, Expr::paren(tail), Expr::int(c)));
            Ok(format!("body of {path}: result + {c}"))
        }
        (Some(Ty::Bool), Some(tail)) if tail_edit => {
            f.body.tail = Some(Expr::Unary(UnOp::Not, Box::new(Expr::paren(tail))));
            Ok(format!("body of {path}: result negated"))
        }
        (_, tail) => {
            f.body.tail = tail;
            if prints_directly(f) {
                f.body.stmts.insert(0, Stmt::Print(Expr::int(c)));
                Ok(format!("body of {path}: print({c}) first"))
            } else {
                let name = fresh_name(&taken, "edited");
                let dead = Stmt::Let { name, mutable: false, annotate: false, ty: Ty::I64, value: Expr::int(c) };
                f.body.stmts.insert(0, dead);
                Ok(format!("body of {path}: a dead `let` = {c}"))
            }
        }
    }
}

/// A change only a reader sees: a comment in a body or between items, or a module's indentation or
/// spacing.
pub(super) fn comment(program: &mut Program, target: u16, variant: u16) -> Result<String, NotApplicable> {
    match variant % 4 {
        0 => {
            let path = pick(&all_functions(program), target, "function")?;
            let f = function_mut(program, &path);
            let at = usize::from(variant / 4) % (f.body.stmts.len() + 1);
            f.body.stmts.insert(at, Stmt::Comment(format!("// edited ({variant})")));
            Ok(format!("comment in {path}"))
        }
        1 => {
            let m = usize::from(target) % program.modules.len();
            let module = &mut program.modules[m];
            let at = usize::from(variant / 4) % (module.items.len() + 1);
            module.items.insert(at, Item::Comment(format!("/* note {variant} */")));
            Ok(format!("comment between the items of {}", module.name))
        }
        2 => {
            let m = usize::from(target) % program.modules.len();
            let layout = &mut program.modules[m].layout;
            layout.indent = match layout.indent {
                4 => 2,
                2 => 8,
                _ => 4,
            };
            Ok(format!("indentation of {} now {}", program.modules[m].name, program.modules[m].layout.indent))
        }
        _ => {
            let m = usize::from(target) % program.modules.len();
            let layout = &mut program.modules[m].layout;
            layout.blank_lines = if layout.blank_lines == 1 { 2 } else { 1 };
            Ok(format!("blank lines between the items of {}", program.modules[m].name))
        }
    }
}

/// Renames a parameter or a `let` of a function, and every use.
pub(super) fn rename_local(program: &mut Program, function: u16, local: u16) -> Result<String, NotApplicable> {
    let path = pick(&all_functions(program), function, "function")?;
    let taken = names_in_use(program, &path.module);
    let f = function_mut(program, &path);
    let mut locals: Vec<String> = f.params.iter().map(|(n, _)| n.clone()).collect();
    locals.extend(local_names(f));
    let old = pick(&locals, local, &format!("local in {path}"))?;
    let new = fresh_name(&taken, &format!("{old}_r"));
    for (name, _) in &mut f.params {
        if *name == old {
            name.clone_from(&new);
        }
    }
    struct Rename<'a> {
        old: &'a str,
        new: &'a str,
    }
    impl Rewrite for Rename<'_> {
        fn expr(&mut self, e: &mut Expr) {
            if matches!(e, Expr::Local(n) if n == self.old) {
                *e = Expr::Local(self.new.to_string());
            }
        }
        fn stmt(&mut self, s: &mut Stmt) {
            match s {
                Stmt::Let { name, .. } | Stmt::Assign { place: Place::Local(name), .. } if name == self.old => {
                    *name = self.new.to_string();
                }
                _ => {}
            }
        }
    }
    rewrite_block(&mut f.body, &mut Rename { old: &old, new: &new });
    Ok(format!("local `{old}` of {path} renamed `{new}`"))
}

/// A type error: `let broken: i64 = true;` first in a function.
pub(super) fn type_error(program: &mut Program, function: u16) -> Result<String, NotApplicable> {
    let path = pick(&all_functions(program), function, "function")?;
    let taken = names_in_use(program, &path.module);
    let f = function_mut(program, &path);
    let name = fresh_name(&taken, "broken");
    f.body.stmts.insert(0, Stmt::Let { name, mutable: false, annotate: true, ty: Ty::I64, value: Expr::Bool(true) });
    Ok(format!("type error in {path}"))
}

fn consts(program: &Program) -> Vec<ItemPath> {
    program.modules.iter().flat_map(|m| m.consts().map(move |c| ItemPath::new(&m.name, &c.name))).collect()
}

fn globals(program: &Program) -> Vec<ItemPath> {
    program.modules.iter().flat_map(|m| m.globals().map(move |g| ItemPath::new(&m.name, &g.name))).collect()
}

/// A new value for a const: an `i64` moves by 1 to 9, a `bool` flips. A value that would make another const
/// divide by zero is skipped for the next one.
pub(super) fn const_value(program: &mut Program, constant: u16, delta: u16) -> Result<String, NotApplicable> {
    let path = pick(&consts(program), constant, "const")?;
    let before = const_values(program);
    let Some(&old) = before.get(&path) else {
        return Err(NotApplicable(format!("{path} does not fold")));
    };
    for attempt in 0..5u16 {
        let new = match old {
            Val::I(v) => Val::I(v.wrapping_add(1 + i64::from((delta + attempt) % 9))),
            Val::B(b) => Val::B(!b),
        };
        let mut edited = program.clone();
        if let Some(Item::Const(c)) = edited.module_mut(&path.module).and_then(|m| m.item_mut(&path.name)) {
            c.expr = Expr::of_val(new);
        }
        if const_values(&edited).len() == before.len() {
            *program = edited;
            return Ok(format!("const {path} = {}", show(new)));
        }
    }
    Err(NotApplicable(format!("every new value of {path} makes a const divide by zero")))
}

fn show(v: Val) -> String {
    match v {
        Val::I(i) => i.to_string(),
        Val::B(b) => b.to_string(),
    }
}

/// A different initialiser: an `i64` one gains 1 to 97, a `bool` one is negated.
pub(super) fn global_init(program: &mut Program, global: u16, delta: u16) -> Result<String, NotApplicable> {
    let path = pick(&globals(program), global, "global")?;
    let Some(Item::Global(g)) = program.module_mut(&path.module).and_then(|m| m.item_mut(&path.name)) else {
        unreachable!("a path taken from the program names one of its globals")
    };
    let init = std::mem::replace(&mut g.init, Expr::int(0));
    g.init = match g.ty {
        Ty::I64 => Expr::bin(BinOp::Add, Expr::paren(init), Expr::int(1 + u64::from(delta % 97))),
        Ty::Bool => Expr::Unary(UnOp::Not, Box::new(Expr::paren(init))),
    };
    Ok(format!("initialiser of {path}"))
}

/// Flips a global's type: its initialiser converts to the new type, every read converts back, and every
/// assignment converts its value, so the program means what it meant (`i64` values become `!= 0`).
pub(super) fn global_type(program: &mut Program, global: u16) -> Result<String, NotApplicable> {
    let path = pick(&globals(program), global, "global")?;
    let Some(Item::Global(g)) = program.module(&path.module).and_then(|m| m.item(&path.name)) else {
        unreachable!("a path taken from the program names one of its globals")
    };
    let (old, new) = (g.ty, g.ty.flipped());
    struct Retype<'a> {
        path: &'a ItemPath,
        old: Ty,
        new: Ty,
    }
    impl Rewrite for Retype<'_> {
        fn expr(&mut self, e: &mut Expr) {
            if matches!(e, Expr::Global(p) if p == self.path) {
                let read = std::mem::replace(e, Expr::int(0));
                *e = Expr::convert(read, self.new, self.old);
            }
        }
        fn stmt(&mut self, s: &mut Stmt) {
            if let Stmt::Assign { place: Place::Global(p), value } = s {
                if p == self.path {
                    let v = std::mem::replace(value, Expr::int(0));
                    *value = Expr::convert(v, self.old, self.new);
                }
            }
        }
    }
    impl ScopedRewrite for Retype<'_> {}
    rewrite_program(program, &mut Retype { path: &path, old, new });
    if let Some(Item::Global(g)) = program.module_mut(&path.module).and_then(|m| m.item_mut(&path.name)) {
        let init = std::mem::replace(&mut g.init, Expr::int(0));
        g.init = Expr::convert(init, old, new);
        g.ty = new;
    }
    Ok(format!("type of {path} now {}", new.lks()))
}
