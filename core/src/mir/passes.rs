//! MIR passes: semantics-preserving optimisations over one [`Function`].
//!
//! Every pass takes a valid function and leaves it valid, returns whether it
//! changed anything, and preserves observable behaviour exactly: output,
//! exit status, and traps. In particular a division or remainder whose
//! divisor may be zero is never removed or folded, because the trap is
//! behaviour; a division by a constant zero stays in place and traps at run
//! time. A function that does not validate is left untouched (the pass
//! returns `false`) rather than risking a panic on an out-of-range index.
//!
//! Locals are mutable slots, not SSA values, and a local read before any
//! assignment has no value the passes may assume (the contract does not give
//! it one), so every analysis here treats such reads as unknown.
//!
//! The passes:
//! - [`fold_constants`]: forward constant propagation over the whole CFG
//!   (a local is constant at a point when every path reaching it assigns the
//!   same constant), folding with wrapping semantics and a few algebraic
//!   identities that cannot trap.
//! - [`simplify_branches`]: a branch on a constant or with equal targets
//!   becomes a `goto`.
//! - [`remove_unreachable_blocks`]: drops blocks not reachable from `bb0`,
//!   renumbering the rest in their original order.
//! - [`merge_blocks`]: threads jumps through empty `goto` blocks and merges a
//!   block into its predecessor when that is its only predecessor.
//! - [`remove_dead_assignments`]: liveness-based removal of side-effect-free
//!   assignments whose result is never read, and of unused call results.
//! - [`prune_externs`]: drops extern entries the body no longer uses.
//!
//! [`optimize`] runs them to a fixed point; locals are never renumbered, so
//! slots an optimisation left unused stay declared.

use super::validate::validate_function;
use super::{BasicBlock, BinOp, BlockId, Const, Function, Operand, Program, Rvalue, Statement, Terminator, UnOp};
use std::collections::BTreeSet;

/// Upper bound on rounds of [`optimize`]; each round that changes something
/// makes the function strictly simpler, so this is a safety net, not a tuning
/// knob.
const MAX_ROUNDS: usize = 32;

/// Runs every pass to a fixed point (at most [`MAX_ROUNDS`] rounds), then
/// prunes externs the body no longer uses.
pub fn optimize(f: &mut Function) {
    if validate_function(f).is_err() {
        return;
    }
    for _ in 0..MAX_ROUNDS {
        let mut changed = fold_impl(f);
        changed |= simplify_branches_impl(f);
        changed |= remove_unreachable_impl(f);
        changed |= merge_blocks_impl(f);
        changed |= remove_dead_impl(f);
        if !changed {
            break;
        }
    }
    prune_externs_impl(f);
}

/// Optimises every function of a program independently.
pub fn optimize_program(p: &mut Program) {
    for f in &mut p.functions {
        optimize(f);
    }
}

/// Constant propagation and folding; see the module docs.
pub fn fold_constants(f: &mut Function) -> bool {
    validate_function(f).is_ok() && fold_impl(f)
}

/// Turns branches on constants, and branches whose targets are equal, into
/// `goto`s.
pub fn simplify_branches(f: &mut Function) -> bool {
    validate_function(f).is_ok() && simplify_branches_impl(f)
}

/// Removes blocks unreachable from `bb0` and renumbers the rest, keeping their
/// order (so `bb0` stays the entry).
pub fn remove_unreachable_blocks(f: &mut Function) -> bool {
    validate_function(f).is_ok() && remove_unreachable_impl(f)
}

/// Threads jumps through empty `goto` blocks and merges each block that ends
/// in `goto B` with `B` when it is `B`'s only predecessor, then removes the
/// blocks this left unreachable.
pub fn merge_blocks(f: &mut Function) -> bool {
    validate_function(f).is_ok() && merge_blocks_impl(f)
}

/// Removes assignments whose value is never read afterwards on any path, when
/// evaluating them has no effect (reading a global does not; a division or
/// remainder by anything but a non-zero constant may trap, so it does). A
/// call is never removed, but a result nobody reads is dropped (`dest` set to
/// `None`).
pub fn remove_dead_assignments(f: &mut Function) -> bool {
    validate_function(f).is_ok() && remove_dead_impl(f)
}

/// Removes extern functions and globals that no statement mentions any more,
/// so that the function's declared dependencies are exactly its real ones.
pub fn prune_externs(f: &mut Function) -> bool {
    validate_function(f).is_ok() && prune_externs_impl(f)
}

/// Which locals some path from the entry may read before assigning them:
/// the locals live on entry to `bb0`, parameters excluded (the caller
/// assigns those). The backend zeroes only these slots at function entry,
/// so no behaviour depends on stack garbage while the rest cost nothing;
/// zeroing every slot made a quarter of all instructions in debug builds.
/// For a function that does not validate, every local is reported, which
/// is always safe.
pub fn locals_read_before_assignment(f: &Function) -> Vec<bool> {
    let params = f.param_count();
    if validate_function(f).is_err() {
        return (0..f.locals.len()).map(|i| i >= params).collect();
    }
    let entry = &live_in(f)[0];
    (0..f.locals.len()).map(|i| i >= params && entry.contains(i)).collect()
}

// ---------------------------------------------------------------------------
// Shared helpers.

/// The blocks a terminator may transfer control to, in order, with repeats.
fn successors(t: &Terminator) -> impl Iterator<Item = usize> {
    let (a, b) = match t {
        Terminator::Goto(b) => (Some(b.0 as usize), None),
        Terminator::Branch { then_block, else_block, .. } => (Some(then_block.0 as usize), Some(else_block.0 as usize)),
        Terminator::Return(_) => (None, None),
    };
    a.into_iter().chain(b)
}

/// Mutable access to every block target of a terminator.
fn targets_mut(t: &mut Terminator) -> Vec<&mut BlockId> {
    match t {
        Terminator::Goto(b) => vec![b],
        Terminator::Branch { then_block, else_block, .. } => vec![then_block, else_block],
        Terminator::Return(_) => Vec::new(),
    }
}

/// Calls `visit` on every operand a statement reads, in evaluation order.
fn statement_operands(s: &Statement, mut visit: impl FnMut(&Operand)) {
    match s {
        Statement::Assign { value, .. } => match value {
            Rvalue::Use(a) | Rvalue::Unary(_, a) => visit(a),
            Rvalue::Binary(_, a, b) => {
                visit(a);
                visit(b);
            }
            Rvalue::LoadGlobal(_) => {}
        },
        Statement::StoreGlobal { value, .. } | Statement::Print(value) => visit(value),
        Statement::Call { args, .. } => args.iter().for_each(visit),
    }
}

/// Calls `visit` on every operand a terminator reads.
fn terminator_operands(t: &Terminator, mut visit: impl FnMut(&Operand)) {
    match t {
        Terminator::Branch { cond, .. } => visit(cond),
        Terminator::Return(Some(op)) => visit(op),
        Terminator::Goto(_) | Terminator::Return(None) => {}
    }
}

/// Folds a unary operator on a constant; `None` when the types do not fit
/// (which validation rules out).
fn fold_unary(op: UnOp, a: Const) -> Option<Const> {
    match (op, a) {
        (UnOp::Neg, Const::I64(v)) => Some(Const::I64(v.wrapping_neg())),
        (UnOp::Not, Const::Bool(b)) => Some(Const::Bool(!b)),
        _ => None,
    }
}

/// Folds a binary operator on constants with the language's semantics.
/// `None` for a division or remainder by zero, which must trap at run time
/// and is therefore never folded, and for ill-typed operands.
fn fold_binary(op: BinOp, a: Const, b: Const) -> Option<Const> {
    use Const::{Bool, I64};
    Some(match (op, a, b) {
        (BinOp::Add, I64(x), I64(y)) => I64(x.wrapping_add(y)),
        (BinOp::Sub, I64(x), I64(y)) => I64(x.wrapping_sub(y)),
        (BinOp::Mul, I64(x), I64(y)) => I64(x.wrapping_mul(y)),
        (BinOp::Div, I64(x), I64(y)) if y != 0 => I64(x.wrapping_div(y)),
        (BinOp::Rem, I64(x), I64(y)) if y != 0 => I64(x.wrapping_rem(y)),
        (BinOp::Eq, I64(x), I64(y)) => Bool(x == y),
        (BinOp::Eq, Bool(x), Bool(y)) => Bool(x == y),
        (BinOp::Ne, I64(x), I64(y)) => Bool(x != y),
        (BinOp::Ne, Bool(x), Bool(y)) => Bool(x != y),
        (BinOp::Lt, I64(x), I64(y)) => Bool(x < y),
        (BinOp::Le, I64(x), I64(y)) => Bool(x <= y),
        (BinOp::Gt, I64(x), I64(y)) => Bool(x > y),
        (BinOp::Ge, I64(x), I64(y)) => Bool(x >= y),
        _ => return None,
    })
}

/// Whether evaluating `rv` can be skipped without changing behaviour: only a
/// division or remainder may trap, and it cannot when its divisor is a
/// non-zero constant.
fn rvalue_is_pure(rv: &Rvalue) -> bool {
    match rv {
        Rvalue::Binary(BinOp::Div | BinOp::Rem, _, divisor) => {
            matches!(divisor, Operand::Const(Const::I64(d)) if *d != 0)
        }
        Rvalue::Use(_) | Rvalue::LoadGlobal(_) | Rvalue::Unary(..) | Rvalue::Binary(..) => true,
    }
}

// ---------------------------------------------------------------------------
// Constant propagation and folding.

/// What is known about a local at a program point. "Not yet reached" is
/// represented one level up, by a block having no entry state at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fact {
    Const(Const),
    Unknown,
}

impl Fact {
    fn meet(self, other: Fact) -> Fact {
        if self == other {
            self
        } else {
            Fact::Unknown
        }
    }
}

/// Replaces `op` by its constant value when the facts know it.
fn subst(facts: &[Fact], op: Operand) -> Operand {
    match op {
        Operand::Local(l) => match facts.get(l.0 as usize) {
            Some(Fact::Const(c)) => Operand::Const(*c),
            _ => op,
        },
        Operand::Const(_) => op,
    }
}

/// Simplifies an rvalue whose operands have already been substituted: folds
/// it to a constant when possible, otherwise applies identities that keep the
/// value and cannot remove a trap (every divisor they inspect is a non-zero
/// constant).
fn simplify_rvalue(rv: Rvalue) -> Rvalue {
    use Operand::Const as K;
    match rv {
        Rvalue::Unary(op, K(a)) => fold_unary(op, a).map_or(rv, |c| Rvalue::Use(K(c))),
        Rvalue::Binary(op, K(a), K(b)) => fold_binary(op, a, b).map_or(rv, |c| Rvalue::Use(K(c))),
        Rvalue::Binary(op, a, b) => {
            let i = |o: &Operand, v: i64| matches!(o, K(Const::I64(x)) if *x == v);
            let t = |o: &Operand, v: bool| matches!(o, K(Const::Bool(x)) if *x == v);
            match op {
                BinOp::Add if i(&b, 0) => Rvalue::Use(a),
                BinOp::Add if i(&a, 0) => Rvalue::Use(b),
                BinOp::Sub if i(&b, 0) => Rvalue::Use(a),
                BinOp::Mul if i(&b, 1) => Rvalue::Use(a),
                BinOp::Mul if i(&a, 1) => Rvalue::Use(b),
                BinOp::Mul if i(&a, 0) || i(&b, 0) => Rvalue::Use(K(Const::I64(0))),
                BinOp::Div if i(&b, 1) => Rvalue::Use(a),
                // Wrapping negation agrees with `MIN / -1 == MIN`.
                BinOp::Div if i(&b, -1) => Rvalue::Unary(UnOp::Neg, a),
                BinOp::Rem if i(&b, 1) || i(&b, -1) => Rvalue::Use(K(Const::I64(0))),
                BinOp::Eq if t(&b, true) => Rvalue::Use(a),
                BinOp::Eq if t(&a, true) => Rvalue::Use(b),
                BinOp::Eq if t(&b, false) => Rvalue::Unary(UnOp::Not, a),
                BinOp::Eq if t(&a, false) => Rvalue::Unary(UnOp::Not, b),
                BinOp::Ne if t(&b, false) => Rvalue::Use(a),
                BinOp::Ne if t(&a, false) => Rvalue::Use(b),
                BinOp::Ne if t(&b, true) => Rvalue::Unary(UnOp::Not, a),
                BinOp::Ne if t(&a, true) => Rvalue::Unary(UnOp::Not, b),
                _ => rv,
            }
        }
        Rvalue::Use(_) | Rvalue::LoadGlobal(_) | Rvalue::Unary(..) => rv,
    }
}

/// Substitutes known constants into a statement's operands and simplifies
/// its rvalue.
fn rewrite_statement(facts: &[Fact], s: &Statement) -> Statement {
    match s {
        Statement::Assign { dest, value } => {
            let value = match value {
                Rvalue::Use(a) => Rvalue::Use(subst(facts, *a)),
                Rvalue::LoadGlobal(g) => Rvalue::LoadGlobal(g.clone()),
                Rvalue::Unary(op, a) => Rvalue::Unary(*op, subst(facts, *a)),
                Rvalue::Binary(op, a, b) => Rvalue::Binary(*op, subst(facts, *a), subst(facts, *b)),
            };
            Statement::Assign { dest: *dest, value: simplify_rvalue(value) }
        }
        Statement::StoreGlobal { global, value } => {
            Statement::StoreGlobal { global: global.clone(), value: subst(facts, *value) }
        }
        Statement::Call { dest, callee, args } => Statement::Call {
            dest: *dest,
            callee: callee.clone(),
            args: args.iter().map(|a| subst(facts, *a)).collect(),
        },
        Statement::Print(a) => Statement::Print(subst(facts, *a)),
    }
}

/// Updates the facts for the effect of a statement that has already been
/// rewritten (so a constant result shows up as `Use(Const)`).
fn transfer(facts: &mut [Fact], s: &Statement) {
    let (dest, fact) = match s {
        Statement::Assign { dest, value: Rvalue::Use(Operand::Const(c)) } => (*dest, Fact::Const(*c)),
        Statement::Assign { dest, value: Rvalue::Use(Operand::Local(src)) } => {
            (*dest, facts.get(src.0 as usize).copied().unwrap_or(Fact::Unknown))
        }
        Statement::Assign { dest, .. } => (*dest, Fact::Unknown),
        Statement::Call { dest: Some(dest), .. } => (*dest, Fact::Unknown),
        Statement::Call { dest: None, .. } | Statement::StoreGlobal { .. } | Statement::Print(_) => return,
    };
    if let Some(slot) = facts.get_mut(dest.0 as usize) {
        *slot = fact;
    }
}

fn rewrite_terminator(facts: &[Fact], t: &Terminator) -> Terminator {
    match t {
        Terminator::Goto(b) => Terminator::Goto(*b),
        Terminator::Branch { cond, then_block, else_block } => {
            Terminator::Branch { cond: subst(facts, *cond), then_block: *then_block, else_block: *else_block }
        }
        Terminator::Return(op) => Terminator::Return(op.map(|o| subst(facts, o))),
    }
}

/// Runs the block's statements over `facts`, returning the rewritten block.
fn rewrite_block(facts: &mut [Fact], b: &BasicBlock) -> BasicBlock {
    let mut statements = Vec::with_capacity(b.statements.len());
    for s in &b.statements {
        let s = rewrite_statement(facts, s);
        transfer(facts, &s);
        statements.push(s);
    }
    BasicBlock { statements, terminator: rewrite_terminator(facts, &b.terminator) }
}

fn fold_impl(f: &mut Function) -> bool {
    let n = f.locals.len();
    let nb = f.blocks.len();
    // Entry facts per block; `None` means no executable path reaches it yet.
    // At function entry every local is unknown: parameters are inputs, and
    // other locals have no value the contract guarantees.
    let mut entry: Vec<Option<Vec<Fact>>> = vec![None; nb];
    entry[0] = Some(vec![Fact::Unknown; n]);
    let mut work: BTreeSet<usize> = BTreeSet::from([0]);
    while let Some(b) = work.pop_first() {
        let Some(mut facts) = entry[b].clone() else { continue };
        let out = rewrite_block(&mut facts, &f.blocks[b]);
        // A branch on a condition known at this point only follows one
        // edge. Facts only ever move from constant to unknown, so if the
        // condition later becomes unknown the block is revisited and the
        // other edge is added then.
        let succs: Vec<usize> = match out.terminator {
            Terminator::Branch { cond: Operand::Const(Const::Bool(c)), then_block, else_block } => {
                vec![if c { then_block.0 as usize } else { else_block.0 as usize }]
            }
            ref t => successors(t).collect(),
        };
        for s in succs {
            let changed = match &mut entry[s] {
                slot @ None => {
                    *slot = Some(facts.clone());
                    true
                }
                Some(old) => {
                    let mut changed = false;
                    for (o, new) in old.iter_mut().zip(&facts) {
                        let m = o.meet(*new);
                        if m != *o {
                            *o = m;
                            changed = true;
                        }
                    }
                    changed
                }
            };
            if changed {
                work.insert(s);
            }
        }
    }
    let mut changed = false;
    for (b, facts) in entry.into_iter().enumerate() {
        // A block no executable path reaches never runs, so any rewrite is
        // sound there; starting from "unknown" still folds within the block.
        let mut facts = facts.unwrap_or_else(|| vec![Fact::Unknown; n]);
        let new = rewrite_block(&mut facts, &f.blocks[b]);
        if new != f.blocks[b] {
            f.blocks[b] = new;
            changed = true;
        }
    }
    changed
}

// ---------------------------------------------------------------------------
// Branch simplification and CFG clean-up.

fn simplify_branches_impl(f: &mut Function) -> bool {
    let mut changed = false;
    for b in &mut f.blocks {
        if let Terminator::Branch { cond, then_block, else_block } = b.terminator {
            let target = match cond {
                Operand::Const(Const::Bool(c)) => Some(if c { then_block } else { else_block }),
                _ if then_block == else_block => Some(then_block),
                _ => None,
            };
            if let Some(t) = target {
                b.terminator = Terminator::Goto(t);
                changed = true;
            }
        }
    }
    changed
}

fn remove_unreachable_impl(f: &mut Function) -> bool {
    let nb = f.blocks.len();
    let mut reachable = vec![false; nb];
    let mut stack = vec![0usize];
    reachable[0] = true;
    while let Some(b) = stack.pop() {
        for s in successors(&f.blocks[b].terminator) {
            if !reachable[s] {
                reachable[s] = true;
                stack.push(s);
            }
        }
    }
    if reachable.iter().all(|&r| r) {
        return false;
    }
    // New numbers follow the old order, so bb0 stays bb0.
    let mut renumber = vec![0u32; nb];
    let mut next = 0u32;
    for (i, &r) in reachable.iter().enumerate() {
        if r {
            renumber[i] = next;
            next += 1;
        }
    }
    let old = std::mem::take(&mut f.blocks);
    for (mut block, r) in old.into_iter().zip(reachable) {
        if r {
            for t in targets_mut(&mut block.terminator) {
                t.0 = renumber[t.0 as usize];
            }
            f.blocks.push(block);
        }
    }
    true
}

/// Follows a chain of empty `goto` blocks from `start` to the first block
/// that does something, stopping on a cycle of empty blocks (an infinite
/// loop, which must stay one).
fn thread_target(f: &Function, start: usize) -> usize {
    let mut seen = BTreeSet::new();
    let mut cur = start;
    while let Some(BasicBlock { statements, terminator: Terminator::Goto(next) }) = f.blocks.get(cur) {
        if !statements.is_empty() || !seen.insert(cur) {
            break;
        }
        let next = next.0 as usize;
        if seen.contains(&next) {
            break;
        }
        cur = next;
    }
    cur
}

fn merge_blocks_impl(f: &mut Function) -> bool {
    let nb = f.blocks.len();
    let mut changed = false;
    // Jump threading: an edge into an empty block that only jumps on can go
    // straight to that block's destination.
    let threaded: Vec<usize> = (0..nb).map(|b| thread_target(f, b)).collect();
    for b in &mut f.blocks {
        for t in targets_mut(&mut b.terminator) {
            let new = threaded[t.0 as usize];
            if new != t.0 as usize {
                t.0 = new as u32;
                changed = true;
            }
        }
    }
    // Merging: `A: ...; goto B` where A is B's only predecessor (and B is not
    // the entry, which has an implicit predecessor) becomes one block. The
    // emptied B is left as an unreachable self-loop and removed below.
    let mut preds = vec![0usize; nb];
    for b in &f.blocks {
        for s in successors(&b.terminator) {
            preds[s] += 1;
        }
    }
    let mut absorbed = vec![false; nb];
    for a in 0..nb {
        if absorbed[a] {
            continue;
        }
        while let Terminator::Goto(next) = f.blocks[a].terminator {
            let b = next.0 as usize;
            if b == a || b == 0 || preds[b] != 1 || absorbed[b] {
                break;
            }
            let taken = std::mem::replace(
                &mut f.blocks[b],
                BasicBlock { statements: Vec::new(), terminator: Terminator::Goto(next) },
            );
            absorbed[b] = true;
            let target = &mut f.blocks[a];
            target.statements.extend(taken.statements);
            target.terminator = taken.terminator;
            changed = true;
        }
    }
    if changed {
        remove_unreachable_impl(f);
    }
    changed
}

// ---------------------------------------------------------------------------
// Dead assignment removal.

/// A fixed-size set of local indices.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LocalSet(Vec<u64>);

impl LocalSet {
    fn new(n: usize) -> LocalSet {
        LocalSet(vec![0; n.div_ceil(64)])
    }

    fn insert(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    fn remove(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w &= !(1 << (i % 64));
        }
    }

    fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn union_with(&mut self, other: &LocalSet) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
}

fn read(live: &mut LocalSet, op: &Operand) {
    if let Operand::Local(l) = op {
        live.insert(l.0 as usize);
    }
}

/// Computes the locals live on entry to each block (read on some path before
/// being overwritten), by backward iteration to a fixed point.
fn live_in(f: &Function) -> Vec<LocalSet> {
    let n = f.locals.len();
    let nb = f.blocks.len();
    let mut live_in = vec![LocalSet::new(n); nb];
    let mut changed = true;
    while changed {
        changed = false;
        // Reverse order converges quickly on mostly-forward control flow.
        for b in (0..nb).rev() {
            let block = &f.blocks[b];
            let mut live = LocalSet::new(n);
            for s in successors(&block.terminator) {
                live.union_with(&live_in[s]);
            }
            terminator_operands(&block.terminator, |o| read(&mut live, o));
            for s in block.statements.iter().rev() {
                match s {
                    Statement::Assign { dest, .. } | Statement::Call { dest: Some(dest), .. } => {
                        live.remove(dest.0 as usize)
                    }
                    _ => {}
                }
                statement_operands(s, |o| read(&mut live, o));
            }
            if live != live_in[b] {
                live_in[b] = live;
                changed = true;
            }
        }
    }
    live_in
}

/// One sweep: removes what is dead under the current liveness. Removing a
/// statement can make the assignments feeding it dead in turn, so the caller
/// repeats until nothing changes.
fn remove_dead_once(f: &mut Function) -> bool {
    let n = f.locals.len();
    let live_in = live_in(f);
    let mut changed = false;
    for b in 0..f.blocks.len() {
        let mut live = LocalSet::new(n);
        for s in successors(&f.blocks[b].terminator) {
            live.union_with(&live_in[s]);
        }
        let block = &mut f.blocks[b];
        terminator_operands(&block.terminator, |o| read(&mut live, o));
        let mut kept = Vec::with_capacity(block.statements.len());
        for mut s in std::mem::take(&mut block.statements).into_iter().rev() {
            match &mut s {
                Statement::Assign { dest, value } => {
                    let d = dest.0 as usize;
                    let self_copy = *value == Rvalue::Use(Operand::Local(*dest));
                    if self_copy || (!live.contains(d) && rvalue_is_pure(value)) {
                        changed = true;
                        continue;
                    }
                    live.remove(d);
                }
                Statement::Call { dest, .. } => {
                    if let Some(d) = *dest {
                        if live.contains(d.0 as usize) {
                            live.remove(d.0 as usize);
                        } else {
                            *dest = None;
                            changed = true;
                        }
                    }
                }
                Statement::StoreGlobal { .. } | Statement::Print(_) => {}
            }
            statement_operands(&s, |o| read(&mut live, o));
            kept.push(s);
        }
        kept.reverse();
        block.statements = kept;
    }
    changed
}

fn remove_dead_impl(f: &mut Function) -> bool {
    let mut changed = false;
    while remove_dead_once(f) {
        changed = true;
    }
    changed
}

// ---------------------------------------------------------------------------
// Extern pruning.

fn prune_externs_impl(f: &mut Function) -> bool {
    let mut callees = BTreeSet::new();
    let mut globals = BTreeSet::new();
    for b in &f.blocks {
        for s in &b.statements {
            match s {
                Statement::Call { callee, .. } => {
                    callees.insert(callee.clone());
                }
                Statement::StoreGlobal { global, .. } | Statement::Assign { value: Rvalue::LoadGlobal(global), .. } => {
                    globals.insert(global.clone());
                }
                Statement::Assign { .. } | Statement::Print(_) => {}
            }
        }
    }
    let before = (f.externs.functions.len(), f.externs.globals.len());
    f.externs.functions.retain(|s, _| callees.contains(s));
    f.externs.globals.retain(|s, _| globals.contains(s));
    before != (f.externs.functions.len(), f.externs.globals.len())
}
