//! Constant folding with the language's semantics, and the folded value of every `const` of a program.

use super::model::{BinOp, Expr, Item, ItemPath, Program, Signature, Ty, UnOp, Val};
use std::collections::BTreeMap;

/// Folds a const initialiser; `None` when it divides by zero, uses something that is not a constant, or names
/// a const `lookup` does not know.
pub fn eval_const(e: &Expr, lookup: &dyn Fn(&ItemPath) -> Option<Val>) -> Option<Val> {
    Some(match e {
        Expr::Int(v, _) => Val::I(*v as i64),
        Expr::Bool(b) => Val::B(*b),
        Expr::Const(path) => lookup(path)?,
        Expr::Paren(e) => eval_const(e, lookup)?,
        Expr::Unary(UnOp::Neg, e) => Val::I(as_i(eval_const(e, lookup)?).wrapping_neg()),
        Expr::Unary(UnOp::Not, e) => Val::B(!as_b(eval_const(e, lookup)?)),
        // Both sides are folded even where `&&`/`||` would skip one: a division by zero anywhere in a const
        // is rejected, because a compiler may fold it eagerly and report it.
        Expr::Binary(BinOp::And, a, b) => {
            let (x, y) = (eval_const(a, lookup)?, eval_const(b, lookup)?);
            Val::B(as_b(x) && as_b(y))
        }
        Expr::Binary(BinOp::Or, a, b) => {
            let (x, y) = (eval_const(a, lookup)?, eval_const(b, lookup)?);
            Val::B(as_b(x) || as_b(y))
        }
        Expr::Binary(op, a, b) => {
            let (x, y) = (as_i(eval_const(a, lookup)?), as_i(eval_const(b, lookup)?));
            match op {
                BinOp::Add => Val::I(x.wrapping_add(y)),
                BinOp::Sub => Val::I(x.wrapping_sub(y)),
                BinOp::Mul => Val::I(x.wrapping_mul(y)),
                BinOp::Div => Val::I(if y == 0 { return None } else { x.wrapping_div(y) }),
                BinOp::Rem => Val::I(if y == 0 { return None } else { x.wrapping_rem(y) }),
                BinOp::Eq => Val::B(x == y),
                BinOp::Ne => Val::B(x != y),
                BinOp::Lt => Val::B(x < y),
                BinOp::Le => Val::B(x <= y),
                BinOp::Gt => Val::B(x > y),
                BinOp::Ge => Val::B(x >= y),
                BinOp::And | BinOp::Or => unreachable!("handled above"),
            }
        }
        Expr::Local(_) | Expr::Global(_) | Expr::Call(_) | Expr::Block(..) | Expr::If(..) => return None,
    })
}

fn as_i(v: Val) -> i64 {
    match v {
        Val::I(i) => i,
        Val::B(b) => i64::from(b),
    }
}

fn as_b(v: Val) -> bool {
    match v {
        Val::B(b) => b,
        Val::I(i) => i != 0,
    }
}

/// The value of every const of `program` that folds; a const that divides by zero, or depends on one that
/// does (or on a cycle), is absent.
pub fn const_values(program: &Program) -> BTreeMap<ItemPath, Val> {
    let mut exprs: BTreeMap<ItemPath, &Expr> = BTreeMap::new();
    for m in &program.modules {
        for item in &m.items {
            if let Item::Const(c) = item {
                exprs.insert(ItemPath::new(&m.name, &c.name), &c.expr);
            }
        }
    }
    // Each round folds every const whose operands are known; a cycle or a failure never becomes known, and
    // the rounds stop as soon as one adds nothing.
    let mut values: BTreeMap<ItemPath, Val> = BTreeMap::new();
    loop {
        let before = values.len();
        for (path, expr) in &exprs {
            if values.contains_key(path) {
                continue;
            }
            if let Some(v) = eval_const(expr, &|p| values.get(p).copied()) {
                values.insert(path.clone(), v);
            }
        }
        if values.len() == before {
            return values;
        }
    }
}

/// What renderings and keys need to know about a program's items: each function's signature, each
/// global's type, each const's folded value.
#[derive(Clone, Debug, Default)]
pub struct ItemFacts {
    pub signatures: BTreeMap<ItemPath, Signature>,
    pub globals: BTreeMap<ItemPath, Ty>,
    pub consts: BTreeMap<ItemPath, Val>,
}

impl ItemFacts {
    pub fn of(program: &Program) -> ItemFacts {
        let mut facts = ItemFacts { consts: const_values(program), ..ItemFacts::default() };
        for m in &program.modules {
            for item in &m.items {
                match item {
                    Item::Fn(f) => {
                        facts.signatures.insert(ItemPath::new(&m.name, &f.name), f.signature());
                    }
                    Item::Global(g) => {
                        facts.globals.insert(ItemPath::new(&m.name, &g.name), g.ty);
                    }
                    Item::Const(_) | Item::Comment(_) => {}
                }
            }
        }
        facts
    }
}
