//! Statements and expressions of generated bodies, within the budgets the planner set.

use super::*;

impl Gen<'_> {
    pub(super) fn gen_stmt(&mut self, cx: &mut Cx, nest: usize) -> Vec<Stmt> {
        let mut opts: Vec<(u64, StmtKind)> = vec![(5, StmtKind::Let)];
        if !self.assign_targets(cx).is_empty() {
            opts.push((4, StmtKind::Assign));
        }
        if nest > 0 {
            opts.push((3, StmtKind::If));
            if cx.own_remaining() / cx.mult.max(1) >= 60 {
                opts.push((3, StmtKind::While));
            }
            opts.push((1, StmtKind::Block));
        }
        if cx.can_print() {
            opts.push((cx.print_weight, StmtKind::Print));
        }
        if self.can_afford_any(cx, None) {
            opts.push((3, StmtKind::Call));
        }
        if cx.can_return {
            opts.push((1, StmtKind::Return));
        }
        if self.cfg.comments {
            opts.push((1, StmtKind::Comment));
        }
        let depth = self.cfg.max_expr_depth;
        match self.weighted(&opts) {
            StmtKind::Let => vec![self.gen_let(cx, depth)],
            StmtKind::Assign => vec![self.gen_assign(cx, depth)],
            StmtKind::If => {
                let chain = self.gen_if_stmt(cx, nest);
                vec![Stmt::If(chain)]
            }
            StmtKind::While => self.gen_while(cx, nest),
            StmtKind::Block => {
                cx.scopes.push(Vec::new());
                let block = self.gen_unit_block(cx, nest - 1);
                cx.scopes.pop();
                vec![Stmt::Block(block)]
            }
            StmtKind::Print => {
                let e = self.gen_expr(cx, Ty::I64, depth);
                cx.note_print();
                vec![Stmt::Print(e)]
            }
            StmtKind::Call => {
                let callees = self.affordable(cx, None);
                let callee = self.pick_callee(&callees);
                vec![Stmt::Call(self.gen_call(cx, callee))]
            }
            StmtKind::Return => {
                // A mid-function return always sits in an `if`, so nothing after it is unreachable.
                let cond = self.gen_expr(cx, Ty::Bool, depth.min(2));
                let mut then = Block::default();
                if self.rng.chance(1, 3) && cx.can_print() {
                    let e = self.gen_expr(cx, Ty::I64, 1);
                    cx.note_print();
                    then.stmts.push(Stmt::Print(e));
                }
                let value = cx.ret.map(|t| self.gen_expr(cx, t, depth));
                then.stmts.push(Stmt::Return(value));
                vec![Stmt::If(IfChain { cond, then, els: None })]
            }
            StmtKind::Comment => {
                let text = *self.rng.pick(COMMENTS);
                // Even lengths are line comments, odd ones block comments: both forms, no extra draw.
                vec![Stmt::Comment(if text.len().is_multiple_of(2) {
                    format!("// {text}")
                } else {
                    format!("/* {text} */")
                })]
            }
        }
    }

    /// A block of statements without a value, in a fresh scope pushed by the caller.
    pub(super) fn gen_unit_block(&mut self, cx: &mut Cx, nest: usize) -> Block {
        let n = self.rng.range_usize(1, 2);
        let mut stmts = Vec::new();
        for _ in 0..n {
            stmts.extend(self.gen_stmt(cx, nest));
        }
        Block { stmts, tail: None }
    }

    pub(super) fn gen_if_stmt(&mut self, cx: &mut Cx, nest: usize) -> IfChain {
        let cond = self.gen_expr(cx, Ty::Bool, self.cfg.max_expr_depth);
        let base = cx.used;
        let (then, used_then) = self.branch(cx, base, |g, cx| {
            cx.scopes.push(Vec::new());
            let b = g.gen_unit_block(cx, nest - 1);
            cx.scopes.pop();
            b
        });
        let (els, used_else) = self.branch(cx, base, |g, cx| match g.rng.below(7) {
            0..=2 => None,
            3..=5 => {
                cx.scopes.push(Vec::new());
                let b = g.gen_unit_block(cx, nest - 1);
                cx.scopes.pop();
                Some(Else::Block(b))
            }
            _ => Some(Else::If(Box::new(g.gen_if_stmt(cx, nest)))),
        });
        Self::join_branches(cx, base, used_then, used_else);
        IfChain { cond, then, els }
    }

    /// Generates one of several mutually exclusive branches from the counters `base` and returns what it used,
    /// resetting the counters, so the caller can charge only the most expensive branch: an upper bound that is
    /// much tighter than the sum, which leaves budget for deeper call chains.
    pub(super) fn branch<T>(
        &mut self,
        cx: &mut Cx,
        base: Usage,
        f: impl FnOnce(&mut Self, &mut Cx) -> T,
    ) -> (T, Usage) {
        let out = f(self, cx);
        let used = cx.used.minus(base);
        cx.used = base;
        (out, used)
    }

    pub(super) fn join_branches(cx: &mut Cx, base: Usage, a: Usage, b: Usage) {
        cx.used = base.plus_max(a, b);
    }

    pub(super) fn gen_let(&mut self, cx: &mut Cx, depth: usize) -> Stmt {
        let ty = if self.rng.chance(1, 5) { Ty::Bool } else { Ty::I64 };
        let value = self.gen_expr(cx, ty, depth);
        let name = cx.fresh(if ty == Ty::Bool { BOOL_LOCAL_WORDS } else { LOCAL_WORDS }, &mut self.rng);
        let mutable = self.rng.chance(1, 2);
        cx.scopes.last_mut().expect("scope").push(Local { name: name.clone(), ty, mutable, counter: false });
        Stmt::Let { name, mutable, annotate: self.rng.chance(2, 5), ty, value }
    }

    /// Places the current code may assign: mutable non-counter locals, own globals and imported `pub` globals.
    fn assign_targets(&self, cx: &Cx) -> Vec<Target> {
        let mut out: Vec<Target> = cx
            .locals()
            .filter(|l| l.mutable && !l.counter)
            .map(|l| Target { place: Place::Local(l.name.clone()), ty: l.ty, own: None })
            .collect();
        let own_limit = match cx.mode {
            Mode::Const { .. } => return Vec::new(),
            Mode::Init { limit } if !self.cfg.allow_reads_before_init => limit,
            _ => usize::MAX,
        };
        let md = &self.mods[cx.module];
        for (k, g) in md.globals.iter().enumerate().take(own_limit) {
            out.push(Target { place: Place::Global(ItemPath::new(&md.name, &g.name)), ty: g.ty, own: Some(k) });
        }
        for &j in &md.imports {
            let mj = &self.mods[j];
            for g in mj.globals.iter().filter(|g| g.is_pub) {
                out.push(Target { place: Place::Global(ItemPath::new(&mj.name, &g.name)), ty: g.ty, own: None });
            }
        }
        out
    }

    pub(super) fn gen_assign(&mut self, cx: &mut Cx, depth: usize) -> Stmt {
        let targets = self.assign_targets(cx);
        let target = self.rng.pick(&targets).clone();
        if let Some(k) = target.own {
            cx.touches.insert(k);
        }
        let read = match &target.place {
            Place::Local(name) => Expr::Local(name.clone()),
            Place::Global(path) => Expr::Global(path.clone()),
        };
        let value = if target.ty == Ty::I64 && self.rng.chance(1, 2) {
            // Accumulating into the target keeps values evolving from one statement to the next.
            let op = *self.rng.pick(&[BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Add]);
            let rhs = self.gen_expr(cx, Ty::I64, depth.saturating_sub(1));
            Expr::bin(op, read, rhs)
        } else if target.ty == Ty::Bool && self.rng.chance(1, 3) {
            Expr::Unary(UnOp::Not, Box::new(read))
        } else {
            self.gen_expr(cx, target.ty, depth)
        };
        Stmt::Assign { place: target.place, value }
    }

    /// A counter loop: `let mut i = 0; while i < N { ...; i = i + 1; }` or the counting-down variant.
    pub(super) fn gen_while(&mut self, cx: &mut Cx, nest: usize) -> Vec<Stmt> {
        let per_trip = cx.mult.saturating_mul(30);
        let affordable = cx.own_remaining() / per_trip.max(1);
        let trips = self.rng.range(1, self.cfg.max_loop_trips.max(1)).min(affordable);
        if trips < 2 {
            return vec![self.gen_let(cx, 1)];
        }
        let counter = cx.fresh(&["i", "j", "k"], &mut self.rng);
        let up = self.rng.chance(2, 3);
        let cref = Expr::Local(counter.clone());
        let start = if up { 0 } else { trips };
        let init = Stmt::Let {
            name: counter.clone(),
            mutable: true,
            annotate: self.rng.chance(1, 3),
            ty: Ty::I64,
            value: Expr::int(start),
        };
        cx.scopes.last_mut().expect("scope").push(Local {
            name: counter.clone(),
            ty: Ty::I64,
            mutable: true,
            counter: true,
        });
        let mut cond = if up {
            Expr::bin(BinOp::Lt, cref.clone(), Expr::int(trips))
        } else {
            Expr::bin(BinOp::Gt, cref.clone(), Expr::int(0))
        };
        let saved = cx.mult;
        cx.mult = cx.mult.saturating_mul(trips + 1);
        if self.rng.chance(1, 4) {
            // An extra pure condition can only end the loop earlier, so the trip bound still holds.
            cx.pure += 1;
            let extra = self.gen_expr(cx, Ty::Bool, 2);
            cx.pure -= 1;
            cond = Expr::bin(BinOp::And, cond, extra);
        }
        cx.mult = saved.saturating_mul(trips);
        cx.scopes.push(Vec::new());
        let n = self.rng.range_usize(1, (self.cfg.max_stmts / 4).max(2));
        let mut stmts = Vec::new();
        for _ in 0..n {
            stmts.extend(self.gen_stmt(cx, nest - 1));
        }
        cx.scopes.pop();
        cx.mult = saved;
        let step = if up {
            Expr::bin(BinOp::Add, cref.clone(), Expr::int(1))
        } else {
            Expr::bin(BinOp::Sub, cref, Expr::int(1))
        };
        stmts.push(Stmt::Assign { place: Place::Local(counter), value: step });
        vec![init, Stmt::While { cond, body: Block { stmts, tail: None } }]
    }

    // ----- expressions -----

    /// Callees the current code can still afford, optionally only those returning `ret`.
    pub(super) fn affordable(&self, cx: &Cx, ret: Option<Ty>) -> Vec<(usize, usize)> {
        if cx.is_pure() || cx.calls >= cx.max_calls {
            return Vec::new();
        }
        cx.callees.iter().copied().filter(|&c| self.callable(cx, ret, c)).collect()
    }

    /// Whether [`Self::affordable`] would be non-empty, without building the list.
    pub(super) fn can_afford_any(&self, cx: &Cx, ret: Option<Ty>) -> bool {
        !cx.is_pure() && cx.calls < cx.max_calls && cx.callees.iter().any(|&c| self.callable(cx, ret, c))
    }

    /// Whether the current code may call `(m, f)`: right return type, within the work and print budgets,
    /// and (in a global initialiser) touching no global of its own module that is not initialised yet.
    pub(super) fn callable(&self, cx: &Cx, ret: Option<Ty>, (m, f): (usize, usize)) -> bool {
        let item = &self.mods[m].fns[f];
        if ret.is_some() && (item.ret != ret || item.discarded) {
            return false;
        }
        if let Mode::Init { limit } = cx.mode {
            if m == cx.module && !self.cfg.allow_reads_before_init && item.touches.iter().any(|&k| k >= limit) {
                return false;
            }
        }
        // Inside a loop only silent callees are allowed: printing callees there would multiply their output
        // by the trip count and exhaust every caller's print budget after a level or two.
        if cx.mult > 1 && item.prints > 0 {
            return false;
        }
        let cost = cx.mult.saturating_mul(item.cost);
        let prints = cx.mult.saturating_mul(item.prints);
        cost <= cx.remaining() && cx.used.prints.saturating_add(prints) <= cx.limit.prints
    }

    /// Picks a callee, preferring functions without a call site yet: uniformly random picks would leave half of
    /// a bench program uncalled (dead code that a pipeline might drop and that no run would exercise).
    pub(super) fn pick_callee(&mut self, callees: &[(usize, usize)]) -> (usize, usize) {
        let fresh: Vec<(usize, usize)> = callees.iter().copied().filter(|c| !self.call_sites.contains_key(c)).collect();
        if !fresh.is_empty() && self.rng.chance(3, 4) {
            *self.rng.pick(&fresh)
        } else {
            *self.rng.pick(callees)
        }
    }

    pub(super) fn gen_call(&mut self, cx: &mut Cx, (m, f): (usize, usize)) -> Call {
        let item = self.mods[m].fns[f].clone();
        cx.calls += 1;
        *self.call_sites.entry((m, f)).or_default() += 1;
        cx.used.work = cx.used.work.saturating_add(cx.mult.saturating_mul(item.cost));
        cx.used.prints = cx.used.prints.saturating_add(cx.mult.saturating_mul(item.prints));
        if m == cx.module {
            cx.touches.extend(item.touches.iter().copied());
        }
        let mut args = Vec::new();
        let arg_depth = self.cfg.max_expr_depth.saturating_sub(1).min(2);
        for (i, (_, ty)) in item.params.iter().enumerate() {
            if i == 0 && item.rec_depth.is_some() {
                let d = item.rec_depth.unwrap_or(1);
                // The depth argument stays at most `d`; a negative value just means the base case.
                args.push(if self.rng.chance(1, 2) {
                    Expr::int(self.rng.range(0, d))
                } else {
                    let e = self.gen_expr(cx, Ty::I64, 1);
                    Expr::bin(BinOp::Rem, e, Expr::int(d + 1))
                });
            } else {
                args.push(self.gen_expr(cx, *ty, arg_depth));
            }
        }
        Call { callee: ItemPath::new(&self.mods[m].name, &item.name), args }
    }

    /// Consts and globals of type `ty` the current code may read (globals only when `globals_only`), as cheap
    /// handles; only the one picked is turned into an expression, which keeps bench-sized generation fast.
    pub(super) fn readable(&self, cx: &Cx, ty: Ty, globals_only: bool) -> Vec<ItemName> {
        let md = &self.mods[cx.module];
        let mut out = Vec::new();
        if !globals_only {
            let const_limit = match cx.mode {
                Mode::Const { limit } => limit,
                _ => usize::MAX,
            };
            for (k, c) in md.consts.iter().enumerate().take(const_limit) {
                if c.ty == ty {
                    out.push(ItemName::Const(cx.module, k));
                }
            }
            for &j in &md.imports {
                for (k, c) in self.mods[j].consts.iter().enumerate() {
                    if c.is_pub && c.ty == ty {
                        out.push(ItemName::Const(j, k));
                    }
                }
            }
        }
        let global_limit = match cx.mode {
            Mode::Const { .. } => return out,
            Mode::Init { limit } if !self.cfg.allow_reads_before_init => limit,
            _ => usize::MAX,
        };
        for (k, g) in md.globals.iter().enumerate().take(global_limit) {
            if g.ty == ty {
                out.push(ItemName::Global(cx.module, k));
            }
        }
        for &j in &md.imports {
            for (k, g) in self.mods[j].globals.iter().enumerate() {
                if g.is_pub && g.ty == ty {
                    out.push(ItemName::Global(j, k));
                }
            }
        }
        out
    }

    /// Turns a handle into an expression, recording a read of an own-module global in the function's `touches`.
    pub(super) fn use_item(&self, cx: &mut Cx, item: ItemName) -> Expr {
        match item {
            ItemName::Const(m, k) => Expr::Const(ItemPath::new(&self.mods[m].name, &self.mods[m].consts[k].name)),
            ItemName::Global(m, k) => {
                if m == cx.module {
                    cx.touches.insert(k);
                }
                Expr::Global(ItemPath::new(&self.mods[m].name, &self.mods[m].globals[k].name))
            }
        }
    }

    /// A random local of type `ty` (optionally only immutable or only mutable non-counter ones).
    pub(super) fn pick_local(&mut self, cx: &Cx, ty: Ty, filter: LocalFilter) -> Option<Expr> {
        let ok = |l: &&Local| {
            l.ty == ty
                && match filter {
                    LocalFilter::Any => true,
                    LocalFilter::Immutable => !l.mutable,
                    LocalFilter::Assignable => l.mutable && !l.counter,
                }
        };
        let count = cx.locals().filter(ok).count();
        if count == 0 {
            return None;
        }
        let l = cx.locals().filter(ok).nth(self.rng.below(count as u64) as usize).expect("counted");
        Some(Expr::Local(l.name.clone()))
    }

    pub(super) fn gen_leaf(&mut self, cx: &mut Cx, ty: Ty) -> Expr {
        if self.rng.chance(3, 5) {
            if let Some(local) = self.pick_local(cx, ty, LocalFilter::Any) {
                return local;
            }
        }
        if self.rng.chance(1, 2) {
            let items = self.readable(cx, ty, false);
            if !items.is_empty() {
                let item = *self.rng.pick(&items);
                return self.use_item(cx, item);
            }
        }
        match ty {
            Ty::Bool => Expr::Bool(self.rng.chance(1, 2)),
            Ty::I64 => self.gen_literal(),
        }
    }

    pub(super) fn gen_literal(&mut self) -> Expr {
        match self.rng.below(24) {
            0..=12 => Expr::int(self.rng.range(0, 20)),
            13..=16 => Expr::Int(self.rng.range(21, 100_000), self.rng.chance(1, 3)),
            // Large values make additions and multiplications overflow, which must wrap.
            17..=19 => Expr::Int(self.rng.range(1 << 40, i64::MAX as u64), self.rng.chance(1, 2)),
            20 => Expr::int(i64::MAX as u64 - self.rng.range(0, 3)),
            21 | 22 => Expr::int(1u64 << self.rng.range(31, 62)),
            _ => Expr::min(),
        }
    }

    pub(super) fn gen_expr(&mut self, cx: &mut Cx, ty: Ty, depth: usize) -> Expr {
        cx.used.work = cx.used.work.saturating_add(cx.mult);
        cx.used.own_work = cx.used.own_work.saturating_add(cx.mult);
        if depth == 0 || self.rng.chance(1, 6) {
            return self.gen_leaf(cx, ty);
        }
        let pure = cx.is_pure();
        let can_call = self.can_afford_any(cx, Some(ty));
        let mut opts: Vec<(u64, ExprKind)> = vec![(2, ExprKind::Leaf), (1, ExprKind::Paren)];
        match ty {
            Ty::I64 => {
                opts.extend([(5, ExprKind::Arith), (2, ExprKind::DivRem), (1, ExprKind::Neg), (1, ExprKind::MinEdge)]);
                if !pure && cx.locals().any(|l| l.ty == Ty::I64 && !l.mutable) {
                    opts.push((1, ExprKind::GuardedDiv));
                }
            }
            Ty::Bool => opts.extend([(5, ExprKind::Cmp), (3, ExprKind::Logic), (1, ExprKind::Not)]),
        }
        if can_call {
            opts.push((3, ExprKind::Call));
            if ty == Ty::I64 {
                opts.push((2, ExprKind::Interleave));
            }
        }
        // Value `if`s and blocks spread over many lines, so they stay near the top of expression trees.
        if !pure && depth >= 2 {
            opts.push((1, ExprKind::If));
        }
        if !pure && depth >= 3 {
            opts.push((1, ExprKind::Block));
        }
        let d = depth - 1;
        match self.weighted(&opts) {
            ExprKind::Leaf => self.gen_leaf(cx, ty),
            ExprKind::Paren => Expr::Paren(Box::new(self.gen_expr(cx, ty, d))),
            ExprKind::Arith => {
                let op = *self.rng.pick(&[BinOp::Add, BinOp::Sub, BinOp::Mul]);
                let a = self.gen_operand(cx, Ty::I64, d);
                let b = self.gen_operand(cx, Ty::I64, d);
                Expr::bin(op, a, b)
            }
            ExprKind::DivRem => {
                let op = if self.rng.chance(1, 2) { BinOp::Div } else { BinOp::Rem };
                let a = if self.rng.chance(1, 16) { Expr::min() } else { self.gen_operand(cx, Ty::I64, d) };
                let b = self.gen_divisor(cx, d);
                Expr::bin(op, a, b)
            }
            ExprKind::GuardedDiv => self.gen_guarded_div(cx, d),
            ExprKind::Neg => Expr::Unary(UnOp::Neg, Box::new(self.gen_operand(cx, Ty::I64, d))),
            ExprKind::Call => {
                let callees = self.affordable(cx, Some(ty));
                let callee = self.pick_callee(&callees);
                Expr::Call(self.gen_call(cx, callee))
            }
            ExprKind::If => Expr::If(Box::new(self.gen_if_expr(cx, ty, d)), ty),
            ExprKind::Block => self.gen_block_expr(cx, ty, d),
            ExprKind::Cmp => {
                let op = *self.rng.pick(&[BinOp::Eq, BinOp::Ne, BinOp::Lt, BinOp::Le, BinOp::Gt, BinOp::Ge]);
                let a = self.gen_operand(cx, Ty::I64, d);
                let b = self.gen_operand(cx, Ty::I64, d);
                Expr::bin(op, a, b)
            }
            ExprKind::Logic => {
                let op = if self.rng.chance(1, 2) { BinOp::And } else { BinOp::Or };
                let a = self.gen_operand(cx, Ty::Bool, d);
                let b = self.gen_operand(cx, Ty::Bool, d);
                Expr::bin(op, a, b)
            }
            ExprKind::Not => Expr::Unary(UnOp::Not, Box::new(self.gen_operand(cx, Ty::Bool, d))),
            ExprKind::MinEdge => self.gen_min_edge(cx),
            ExprKind::Interleave => self.gen_interleave(cx, d),
        }
    }

    /// `MIN / -1` and `MIN % -1`, with the `MIN` often coming from a variable, so that not every instance can
    /// be folded at compile time (C and LLVM both leave these undefined; the helpers and lockstep must not).
    pub(super) fn gen_min_edge(&mut self, cx: &mut Cx) -> Expr {
        let lhs = if self.rng.chance(1, 3) {
            Expr::min()
        } else {
            // `v - v - 1 - MAX` is MIN for every `v`, computed at run time.
            let n = self.pick_variable(cx);
            Expr::bin(
                BinOp::Sub,
                Expr::bin(BinOp::Sub, Expr::bin(BinOp::Sub, n.clone(), n), Expr::int(1)),
                Expr::int(i64::MAX as u64),
            )
        };
        let op = if self.rng.chance(1, 2) { BinOp::Div } else { BinOp::Rem };
        let divisor = if self.rng.chance(1, 2) {
            Expr::Unary(UnOp::Neg, Box::new(Expr::int(1)))
        } else {
            // `e % 2 * (e % 2) - 2` is -1 for odd `e` and -2 for even `e`: never zero, and a -1 that only
            // shows up at run time, where a plain `sdiv`/`srem` instruction would trap on MIN.
            let n = self.pick_variable(cx);
            let half = || Expr::bin(BinOp::Rem, n.clone(), Expr::int(2));
            Expr::bin(BinOp::Sub, Expr::bin(BinOp::Mul, half(), half()), Expr::int(2))
        };
        Expr::bin(op, lhs, divisor)
    }

    /// An i64 value that is not a compile-time constant: a local or a global, else a literal.
    pub(super) fn pick_variable(&mut self, cx: &mut Cx) -> Expr {
        if self.rng.chance(1, 2) {
            if let Some(local) = self.pick_local(cx, Ty::I64, LocalFilter::Any) {
                return local;
            }
        }
        let globals = self.readable(cx, Ty::I64, true);
        if globals.is_empty() {
            return self.gen_literal();
        }
        let item = *self.rng.pick(&globals);
        self.use_item(cx, item)
    }

    /// `g OP f(...)` where `f` may write `g` (its own-module globals are preferred), or `x OP { x = ...; x }`:
    /// the `.lks` result depends on reading the left operand first, which is exactly what the C translation
    /// must preserve with temporaries.
    pub(super) fn gen_interleave(&mut self, cx: &mut Cx, depth: usize) -> Expr {
        let op = *self.rng.pick(&[BinOp::Add, BinOp::Sub, BinOp::Mul]);
        let mutable = if self.rng.chance(1, 4) { self.pick_local(cx, Ty::I64, LocalFilter::Assignable) } else { None };
        if let Some(x) = mutable {
            let Expr::Local(name) = &x else { unreachable!("pick_local gives locals") };
            let value = self.gen_expr(cx, Ty::I64, depth.min(1));
            let assign = Stmt::Assign { place: Place::Local(name.clone()), value };
            let tail = Expr::bin(BinOp::Mul, x.clone(), Expr::int(2));
            let block = Expr::Block(Box::new(Block { stmts: vec![assign], tail: Some(tail) }), Ty::I64);
            return Expr::bin(op, x, block);
        }
        let callees = self.affordable(cx, Some(Ty::I64));
        let callee = self.pick_callee(&callees);
        let md = &self.mods[callee.0];
        let written: Vec<ItemName> = if callee.0 == cx.module {
            md.fns[callee.1]
                .touches
                .iter()
                .filter(|&&k| md.globals[k].ty == Ty::I64)
                .map(|&k| ItemName::Global(callee.0, k))
                .collect()
        } else {
            Vec::new()
        };
        let candidates = if written.is_empty() { self.readable(cx, Ty::I64, true) } else { written };
        let lhs_item = (!candidates.is_empty()).then(|| *self.rng.pick(&candidates));
        let lhs = match lhs_item {
            Some(item) => {
                let e = self.use_item(cx, item);
                if self.rng.chance(1, 3) {
                    Expr::Unary(UnOp::Neg, Box::new(e))
                } else {
                    e
                }
            }
            None => self.gen_leaf(cx, Ty::I64),
        };
        let call = Expr::Call(self.gen_call(cx, callee));
        Expr::bin(op, lhs, call)
    }

    /// An operand of an operator: an `if` or block operand is parenthesised half the time, so both the bare
    /// form (valid per the grammar) and the parenthesised one are exercised.
    pub(super) fn gen_operand(&mut self, cx: &mut Cx, ty: Ty, depth: usize) -> Expr {
        let e = self.gen_expr(cx, ty, depth);
        if matches!(e, Expr::If(..) | Expr::Block(..)) && self.rng.chance(1, 2) {
            Expr::Paren(Box::new(e))
        } else {
            e
        }
    }

    /// A divisor that is never zero (unless division by zero is allowed), covering negative divisors and -1.
    pub(super) fn gen_divisor(&mut self, cx: &mut Cx, depth: usize) -> Expr {
        // Consts may always try an unguarded divisor (folding rejects zero); at run time only one divisor in
        // 80 is unguarded, so that most programs with `allow_div_by_zero` still run to the end.
        let is_const = matches!(cx.mode, Mode::Const { .. });
        let unguarded = is_const || (self.cfg.allow_div_by_zero && self.rng.chance(1, 80));
        let form = if unguarded { 5 } else { self.rng.below(5) };
        match form {
            0 => {
                let k = self.rng.range(2, 9);
                let e = self.gen_expr(cx, Ty::I64, depth);
                Expr::bin(BinOp::Add, Expr::bin(BinOp::Rem, e, Expr::int(k)), Expr::int(k + self.rng.range(0, 5)))
            }
            1 => {
                let k = self.rng.range(2, 9);
                let e = self.gen_expr(cx, Ty::I64, depth);
                Expr::bin(BinOp::Sub, Expr::bin(BinOp::Rem, e, Expr::int(k)), Expr::int(k + self.rng.range(0, 5)))
            }
            2 => Expr::Unary(UnOp::Neg, Box::new(Expr::int(1))),
            3 => {
                let v = *self.rng.pick(&[1, 2, 3, 7, 10, 1000, 4_294_967_296, i64::MAX as u64]);
                if self.rng.chance(1, 2) {
                    Expr::Unary(UnOp::Neg, Box::new(Expr::int(v)))
                } else {
                    Expr::int(v)
                }
            }
            4 => Expr::min(),
            // Only reached for consts (folding rejects zero) or when division by zero is allowed.
            _ => {
                if !matches!(cx.mode, Mode::Const { .. }) && self.rng.chance(1, 2) {
                    let e = self.gen_expr(cx, Ty::I64, depth.min(1));
                    Expr::bin(BinOp::Rem, e, Expr::int(3))
                } else {
                    self.gen_expr(cx, Ty::I64, depth)
                }
            }
        }
    }

    /// `if d != 0 { a / d } else { b }` with `d` an immutable i64 local, so its two reads agree.
    pub(super) fn gen_guarded_div(&mut self, cx: &mut Cx, depth: usize) -> Expr {
        let Some(d) = self.pick_local(cx, Ty::I64, LocalFilter::Immutable) else {
            return self.gen_literal();
        };
        let op = if self.rng.chance(1, 2) { BinOp::Div } else { BinOp::Rem };
        let num = self.gen_operand(cx, Ty::I64, depth);
        let other = self.gen_expr(cx, Ty::I64, depth);
        let chain = IfChain {
            cond: Expr::bin(BinOp::Ne, d.clone(), Expr::int(0)),
            then: Block { stmts: Vec::new(), tail: Some(Expr::bin(op, num, d)) },
            els: Some(Else::Block(Block { stmts: Vec::new(), tail: Some(other) })),
        };
        Expr::If(Box::new(chain), Ty::I64)
    }

    pub(super) fn gen_if_expr(&mut self, cx: &mut Cx, ty: Ty, depth: usize) -> IfChain {
        let cond = self.gen_expr(cx, Ty::Bool, depth);
        let base = cx.used;
        let (then, used_then) = self.branch(cx, base, |g, cx| g.gen_value_block(cx, ty, depth));
        let (els, used_else) = self.branch(cx, base, |g, cx| {
            if g.rng.chance(1, 6) {
                Else::If(Box::new(g.gen_if_expr(cx, ty, depth.saturating_sub(1))))
            } else {
                Else::Block(g.gen_value_block(cx, ty, depth))
            }
        });
        Self::join_branches(cx, base, used_then, used_else);
        IfChain { cond, then, els: Some(els) }
    }

    pub(super) fn gen_block_expr(&mut self, cx: &mut Cx, ty: Ty, depth: usize) -> Expr {
        Expr::Block(Box::new(self.gen_value_block(cx, ty, depth)), ty)
    }

    /// `{ simple statements; tail }` in its own scope; no `return` inside, so its type is the tail's.
    pub(super) fn gen_value_block(&mut self, cx: &mut Cx, ty: Ty, depth: usize) -> Block {
        cx.scopes.push(Vec::new());
        let saved = cx.can_return;
        cx.can_return = false;
        let mut stmts = Vec::new();
        let n = if self.rng.chance(2, 3) { 0 } else { self.rng.range_usize(1, 2) };
        for _ in 0..n {
            let has_targets = !self.assign_targets(cx).is_empty();
            let s = match self.rng.below(5) {
                0 | 1 => self.gen_let(cx, depth),
                2 | 3 if has_targets => self.gen_assign(cx, depth),
                4 if cx.can_print() => {
                    let e = self.gen_expr(cx, Ty::I64, depth);
                    cx.note_print();
                    Stmt::Print(e)
                }
                _ => self.gen_let(cx, depth),
            };
            stmts.push(s);
        }
        let tail = self.gen_expr(cx, ty, depth);
        cx.can_return = saved;
        cx.scopes.pop();
        Block { stmts, tail: Some(tail) }
    }
}

/// A place an assignment may write, with its type and (for an own-module global) its index.
#[derive(Clone, Debug)]
struct Target {
    place: Place,
    ty: Ty,
    own: Option<usize>,
}
