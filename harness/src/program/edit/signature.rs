//! Signature edits: parameters added or removed with every call updated, and a return type that changes
//! where no caller's text shows it.

use super::NotApplicable;
use super::{default_value, fresh_name, function_mut, names_in_use, ordinary_functions, pick, rewrite_calls};
use crate::program::model::{Expr, ItemPath, Program, Stmt, Ty};
use crate::program::visit::{program_exprs, rewrite_block, Rewrite};
use std::collections::BTreeSet;

/// Appends an `i64` parameter (unused by the body); every call passes a literal for it.
pub(super) fn add_param(program: &mut Program, function: u16) -> Result<String, NotApplicable> {
    let path = pick(&ordinary_functions(program), function, "function besides main")?;
    let taken = names_in_use(program, &path.module);
    let name = fresh_name(&taken, "extra");
    let f = function_mut(program, &path);
    f.params.push((name.clone(), Ty::I64));
    let value = 3 + f.params.len() as u64;
    rewrite_calls(program, &path, &mut |call| call.args.push(Expr::int(value)));
    Ok(format!("parameter `{name}: i64` added to {path}"))
}

/// Drops a parameter: its uses in the body become `0` or `false`, and every call drops the argument. (A
/// recursion bound becomes 0, which is the base case, so recursion still ends.)
pub(super) fn remove_param(program: &mut Program, function: u16, param: u16) -> Result<String, NotApplicable> {
    let candidates: Vec<ItemPath> = ordinary_functions(program)
        .into_iter()
        .filter(|p| program.function(p).is_some_and(|f| !f.params.is_empty()))
        .collect();
    let path = pick(&candidates, function, "function with a parameter")?;
    let f = function_mut(program, &path);
    let at = usize::from(param) % f.params.len();
    let (name, ty) = f.params.remove(at);
    struct Constant<'a> {
        name: &'a str,
        ty: Ty,
    }
    impl Rewrite for Constant<'_> {
        fn expr(&mut self, e: &mut Expr) {
            if matches!(e, Expr::Local(n) if n == self.name) {
                *e = default_value(self.ty);
            }
        }
    }
    rewrite_block(&mut f.body, &mut Constant { name: &name, ty });
    rewrite_calls(program, &path, &mut |call| {
        if at < call.args.len() {
            call.args.remove(at);
        }
    });
    Ok(format!("parameter `{name}` removed from {path}"))
}

/// Flips the return type (`i64` ↔ `bool`) of a function whose every call discards the result: its callers'
/// text stays the same, but they call it differently, so they must be recompiled.
pub(super) fn return_type(program: &mut Program, function: u16) -> Result<String, NotApplicable> {
    let mut used_as_value: BTreeSet<ItemPath> = BTreeSet::new();
    program_exprs(program, &mut |_, e| {
        if let Expr::Call(c) = e {
            used_as_value.insert(c.callee.clone());
        }
    });
    let candidates: Vec<ItemPath> = ordinary_functions(program)
        .into_iter()
        .filter(|p| {
            !used_as_value.contains(p) && program.function(p).is_some_and(|f| f.ret.is_some() && f.body.tail.is_some())
        })
        .collect();
    let path = pick(&candidates, function, "function whose callers all discard its result")?;
    let f = function_mut(program, &path);
    let old = f.ret.expect("candidates return a value");
    let new = old.flipped();
    struct Returns {
        old: Ty,
        new: Ty,
    }
    impl Rewrite for Returns {
        fn stmt(&mut self, s: &mut Stmt) {
            if let Stmt::Return(Some(v)) = s {
                let value = std::mem::replace(v, Expr::int(0));
                *v = Expr::convert(value, self.old, self.new);
            }
        }
    }
    rewrite_block(&mut f.body, &mut Returns { old, new });
    if let Some(tail) = f.body.tail.take() {
        f.body.tail = Some(Expr::convert(tail, old, new));
    }
    f.ret = Some(new);
    Ok(format!("{path} now returns {}", new.lks()))
}
