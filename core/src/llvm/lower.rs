//! Lowering of one [`CodegenUnit`] into an LLVM module.
//!
//! MIR is checked as it is lowered (local and block numbers, operand and
//! signature types, declared callees and globals), so malformed MIR becomes a
//! [`BackendError`] instead of reaching LLVM, where it could crash.

use super::BackendError;
use crate::mir::{
    runtime, BinOp, CodegenUnit, Const, Function, Operand, Rvalue, Signature, Statement, Symbol, Terminator, Ty, UnOp,
};
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::types::{BasicMetadataTypeEnum, FunctionType, IntType};
use inkwell::values::{BasicValueEnum, FunctionValue, GlobalValue, IntValue, PointerValue, ValueKind};
use inkwell::GlobalVisibility;
use inkwell::IntPredicate;
use std::collections::BTreeMap;

/// The register type of a MIR type: `i64` or `i1`.
pub(super) fn value_type(ctx: &Context, ty: Ty) -> IntType<'_> {
    match ty {
        Ty::I64 => ctx.i64_type(),
        Ty::Bool => ctx.bool_type(),
    }
}

/// The in-memory type of a global of a MIR type: `i64` or `i8` (0/1).
pub(super) fn memory_type(ctx: &Context, ty: Ty) -> IntType<'_> {
    match ty {
        Ty::I64 => ctx.i64_type(),
        Ty::Bool => ctx.i8_type(),
    }
}

fn function_type<'ctx>(ctx: &'ctx Context, signature: &Signature) -> FunctionType<'ctx> {
    let params: Vec<BasicMetadataTypeEnum<'ctx>> =
        signature.params.iter().map(|&ty| value_type(ctx, ty).into()).collect();
    match signature.ret {
        Some(ty) => value_type(ctx, ty).fn_type(&params, false),
        None => ctx.void_type().fn_type(&params, false),
    }
}

/// Adds a MIR function (definition or declaration) named `name` with
/// external linkage. `bool` parameters and results are `zeroext i1`, like C's
/// `_Bool`, so the ABI matches C and is the same in every unit.
///
/// Every lockstep symbol has hidden visibility: all of them end up in the
/// one executable, so calls and global accesses may go direct instead of
/// through the GOT and PLT, which shrinks the code and the linker's work.
pub(super) fn add_mir_function<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    name: &str,
    signature: &Signature,
) -> FunctionValue<'ctx> {
    let function = module.add_function(name, function_type(ctx, signature), Some(Linkage::External));
    function.as_global_value().set_visibility(GlobalVisibility::Hidden);
    let zeroext = || ctx.create_enum_attribute(Attribute::get_named_enum_kind_id("zeroext"), 0);
    for (i, ty) in (0u32..).zip(&signature.params) {
        if *ty == Ty::Bool {
            function.add_attribute(AttributeLoc::Param(i), zeroext());
        }
    }
    if signature.ret == Some(Ty::Bool) {
        function.add_attribute(AttributeLoc::Return, zeroext());
    }
    function
}

/// Declares a MIR global (a definition once given an initialiser): external
/// linkage, hidden like every lockstep symbol (see [`add_mir_function`]).
fn add_mir_global<'ctx>(ctx: &'ctx Context, module: &Module<'ctx>, symbol: &Symbol, ty: Ty) -> GlobalValue<'ctx> {
    let global = module.add_global(memory_type(ctx, ty), None, &symbol.mangled_global());
    global.set_linkage(Linkage::External);
    global.set_visibility(GlobalVisibility::Hidden);
    global
}

/// Adds the enum attributes `names` (e.g. `nounwind`) to a function.
pub(super) fn add_attributes(ctx: &Context, function: FunctionValue<'_>, names: &[&str]) {
    for name in names {
        let kind = Attribute::get_named_enum_kind_id(name);
        function.add_attribute(AttributeLoc::Function, ctx.create_enum_attribute(kind, 0));
    }
}

/// Loads an integer of type `ty` (typed pointers on LLVM 14, opaque after).
pub(super) fn load<'ctx>(
    builder: &Builder<'ctx>,
    ty: IntType<'ctx>,
    ptr: PointerValue<'ctx>,
    name: &str,
) -> Result<IntValue<'ctx>, BackendError> {
    #[cfg(feature = "typed-pointers")]
    let value = {
        let _ = ty;
        builder.build_load(ptr, name)?
    };
    #[cfg(not(feature = "typed-pointers"))]
    let value = builder.build_load(ty, ptr, name)?;
    match value {
        BasicValueEnum::IntValue(v) => Ok(v),
        other => Err(BackendError::new(format!("LLVM load produced a non-integer: {other:?}"))),
    }
}

fn as_int(value: BasicValueEnum<'_>) -> Result<IntValue<'_>, BackendError> {
    match value {
        BasicValueEnum::IntValue(v) => Ok(v),
        other => Err(BackendError::new(format!("expected an integer value, LLVM built {other:?}"))),
    }
}

struct Callee<'ctx> {
    value: FunctionValue<'ctx>,
    signature: Signature,
}

struct Unit<'a, 'ctx> {
    ctx: &'ctx Context,
    module: &'a Module<'ctx>,
    /// Defined and declared functions, by symbol.
    functions: BTreeMap<Symbol, Callee<'ctx>>,
    /// Defined and declared globals, by symbol.
    globals: BTreeMap<Symbol, (GlobalValue<'ctx>, Ty)>,
    print: Option<FunctionValue<'ctx>>,
    div_by_zero: Option<FunctionValue<'ctx>>,
}

impl<'ctx> Unit<'_, 'ctx> {
    /// `runtime::PRINT`, declared on first use.
    fn print(&mut self) -> FunctionValue<'ctx> {
        let (ctx, module) = (self.ctx, self.module);
        *self.print.get_or_insert_with(|| {
            let ty = ctx.void_type().fn_type(&[ctx.i64_type().into()], false);
            let f = module.add_function(runtime::PRINT, ty, Some(Linkage::External));
            f.as_global_value().set_visibility(GlobalVisibility::Hidden);
            add_attributes(ctx, f, &["nounwind"]);
            f
        })
    }

    /// `runtime::DIV_BY_ZERO`, declared on first use.
    fn div_by_zero(&mut self) -> FunctionValue<'ctx> {
        let (ctx, module) = (self.ctx, self.module);
        *self.div_by_zero.get_or_insert_with(|| {
            let ty = ctx.void_type().fn_type(&[], false);
            let f = module.add_function(runtime::DIV_BY_ZERO, ty, Some(Linkage::External));
            f.as_global_value().set_visibility(GlobalVisibility::Hidden);
            add_attributes(ctx, f, &["noreturn", "nounwind", "cold"]);
            f
        })
    }

    fn declare_externs(&mut self, function: &Function) -> Result<(), BackendError> {
        for (symbol, signature) in &function.externs.functions {
            match self.functions.get(symbol) {
                Some(known) if known.signature != *signature => {
                    return Err(BackendError::new(format!(
                        "extern function `{symbol}` has signature {signature:?} here but {:?} elsewhere in the unit",
                        known.signature
                    )))
                }
                Some(_) => {}
                None => {
                    let value = add_mir_function(self.ctx, self.module, &symbol.mangled_function(), signature);
                    self.functions.insert(symbol.clone(), Callee { value, signature: signature.clone() });
                }
            }
        }
        for (symbol, &ty) in &function.externs.globals {
            match self.globals.get(symbol) {
                Some(&(_, known)) if known != ty => {
                    return Err(BackendError::new(format!(
                        "extern global `{symbol}` has type {ty} here but {known} elsewhere in the unit"
                    )))
                }
                Some(_) => {}
                None => {
                    let global = add_mir_global(self.ctx, self.module, symbol, ty);
                    self.globals.insert(symbol.clone(), (global, ty));
                }
            }
        }
        Ok(())
    }
}

/// Fills `module` (already named and targeted) with the unit's globals and
/// functions.
pub(super) fn lower_unit<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    unit: &CodegenUnit,
) -> Result<(), BackendError> {
    let mut u =
        Unit { ctx, module, functions: BTreeMap::new(), globals: BTreeMap::new(), print: None, div_by_zero: None };
    for def in &unit.globals {
        if u.globals.contains_key(&def.symbol) {
            return Err(BackendError::new(format!("global `{}` is defined twice", def.symbol)));
        }
        let global = add_mir_global(ctx, module, &def.symbol, def.ty);
        global.set_initializer(&memory_type(ctx, def.ty).const_zero());
        u.globals.insert(def.symbol.clone(), (global, def.ty));
    }
    for function in &unit.functions {
        if u.functions.contains_key(&function.symbol) {
            return Err(BackendError::new(format!("function `{}` is defined twice", function.symbol)));
        }
        let value = add_mir_function(ctx, module, &function.symbol.mangled_function(), &function.signature);
        add_attributes(ctx, value, &["nounwind"]);
        u.functions.insert(function.symbol.clone(), Callee { value, signature: function.signature.clone() });
    }
    for function in &unit.functions {
        u.declare_externs(function).map_err(|e| e.context(format_args!("function `{}`", function.symbol)))?;
    }
    for function in &unit.functions {
        lower_function(&mut u, function).map_err(|e| e.context(format_args!("function `{}`", function.symbol)))?;
    }
    Ok(())
}

fn lower_function<'ctx>(unit: &mut Unit<'_, 'ctx>, func: &Function) -> Result<(), BackendError> {
    let llfn = unit
        .functions
        .get(&func.symbol)
        .map(|c| c.value)
        .ok_or_else(|| BackendError::new("function was not declared (backend bug)"))?;
    let ctx = unit.ctx;
    let params = func.param_count();
    if func.locals.len() < params || func.locals[..params] != func.signature.params[..] {
        return Err(BackendError::new(format!(
            "the first locals {:?} do not match the parameters {:?}",
            func.locals, func.signature.params
        )));
    }
    if func.blocks.is_empty() {
        return Err(BackendError::new("function has no blocks"));
    }
    let builder = ctx.create_builder();
    // A dedicated entry block holds the slots, so MIR may branch to block 0.
    let start = ctx.append_basic_block(llfn, "start");
    let blocks: Vec<BasicBlock<'ctx>> =
        (0..func.blocks.len()).map(|i| ctx.append_basic_block(llfn, &format!("bb{i}"))).collect();
    builder.position_at_end(start);
    let mut slots = Vec::with_capacity(func.locals.len());
    for (i, &ty) in func.locals.iter().enumerate() {
        slots.push(builder.build_alloca(value_type(ctx, ty), &format!("l{i}"))?);
    }
    let read_early = crate::mir::passes::locals_read_before_assignment(func);
    for (i, (&slot, &ty)) in slots.iter().zip(&func.locals).enumerate() {
        let value = if i < params {
            let param = u32::try_from(i).ok().and_then(|n| llfn.get_nth_param(n));
            as_int(param.ok_or_else(|| BackendError::new(format!("LLVM function lacks parameter {i}")))?)?
        } else if read_early[i] {
            // Read before any assignment on some path: zeroed, so that
            // behaviour never depends on stack garbage.
            value_type(ctx, ty).const_zero()
        } else {
            continue;
        };
        builder.build_store(slot, value)?;
    }
    builder.build_unconditional_branch(blocks[0])?;

    let mut lowering =
        FnLower { unit, ctx, builder, func, slots, blocks: blocks.clone(), trap: None, current: 0, splits: 0 };
    for (i, block) in func.blocks.iter().enumerate() {
        lowering.current = i;
        lowering.builder.position_at_end(blocks[i]);
        for (s, statement) in block.statements.iter().enumerate() {
            lowering.statement(statement).map_err(|e| e.context(format_args!("bb{i}[{s}]")))?;
        }
        lowering.terminator(&block.terminator).map_err(|e| e.context(format_args!("bb{i} terminator")))?;
    }
    Ok(())
}

struct FnLower<'u, 'a, 'ctx> {
    unit: &'u mut Unit<'a, 'ctx>,
    ctx: &'ctx Context,
    builder: Builder<'ctx>,
    func: &'u Function,
    slots: Vec<PointerValue<'ctx>>,
    blocks: Vec<BasicBlock<'ctx>>,
    /// The shared block that calls the division-by-zero trap.
    trap: Option<BasicBlock<'ctx>>,
    /// The MIR block being lowered, for naming split-off blocks.
    current: usize,
    /// How many blocks division checks split off so far.
    splits: u32,
}

impl<'ctx> FnLower<'_, '_, 'ctx> {
    fn local(&self, id: crate::mir::LocalId) -> Result<(PointerValue<'ctx>, Ty), BackendError> {
        let i = id.0 as usize;
        match (self.slots.get(i), self.func.locals.get(i)) {
            (Some(&slot), Some(&ty)) => Ok((slot, ty)),
            _ => Err(BackendError::new(format!("local _{} does not exist ({} locals)", id.0, self.func.locals.len()))),
        }
    }

    fn block(&self, id: crate::mir::BlockId) -> Result<BasicBlock<'ctx>, BackendError> {
        self.blocks
            .get(id.0 as usize)
            .copied()
            .ok_or_else(|| BackendError::new(format!("block bb{} does not exist", id.0)))
    }

    fn operand(&self, op: &Operand) -> Result<(IntValue<'ctx>, Ty), BackendError> {
        match *op {
            Operand::Const(Const::I64(v)) => Ok((self.ctx.i64_type().const_int(v as u64, true), Ty::I64)),
            Operand::Const(Const::Bool(b)) => Ok((self.ctx.bool_type().const_int(u64::from(b), false), Ty::Bool)),
            Operand::Local(id) => {
                let (slot, ty) = self.local(id)?;
                Ok((load(&self.builder, value_type(self.ctx, ty), slot, "")?, ty))
            }
        }
    }

    fn typed_operand(&self, op: &Operand, want: Ty, what: &str) -> Result<IntValue<'ctx>, BackendError> {
        let (value, ty) = self.operand(op)?;
        if ty != want {
            return Err(BackendError::new(format!("{what} must be {want}, found {ty}")));
        }
        Ok(value)
    }

    fn global(&self, symbol: &Symbol) -> Result<(GlobalValue<'ctx>, Ty), BackendError> {
        self.unit.globals.get(symbol).copied().ok_or_else(|| {
            BackendError::new(format!("global `{symbol}` is neither defined in the unit nor listed in the externs"))
        })
    }

    fn store_local(&self, dest: crate::mir::LocalId, value: IntValue<'ctx>, ty: Ty) -> Result<(), BackendError> {
        let (slot, dest_ty) = self.local(dest)?;
        if dest_ty != ty {
            return Err(BackendError::new(format!("cannot assign a {ty} to local _{} of type {dest_ty}", dest.0)));
        }
        self.builder.build_store(slot, value)?;
        Ok(())
    }

    fn statement(&mut self, statement: &Statement) -> Result<(), BackendError> {
        match statement {
            Statement::Assign { dest, value } => {
                let (value, ty) = self.rvalue(value)?;
                self.store_local(*dest, value, ty)
            }
            Statement::StoreGlobal { global, value } => {
                let (ptr, ty) = self.global(global)?;
                let value = self.typed_operand(value, ty, "the stored value")?;
                let value = match ty {
                    Ty::I64 => value,
                    Ty::Bool => self.builder.build_int_z_extend(value, self.ctx.i8_type(), "")?,
                };
                self.builder.build_store(ptr.as_pointer_value(), value)?;
                Ok(())
            }
            Statement::Call { dest, callee, args } => {
                let (function, signature) = match self.unit.functions.get(callee) {
                    Some(c) => (c.value, c.signature.clone()),
                    None => {
                        return Err(BackendError::new(format!(
                            "calls `{callee}`, which is neither defined in the unit nor listed in the externs"
                        )))
                    }
                };
                if args.len() != signature.params.len() {
                    return Err(BackendError::new(format!(
                        "calls `{callee}` with {} arguments, it takes {}",
                        args.len(),
                        signature.params.len()
                    )));
                }
                let mut values = Vec::with_capacity(args.len());
                for (i, (arg, &ty)) in args.iter().zip(&signature.params).enumerate() {
                    values.push(self.typed_operand(arg, ty, &format!("argument {i} of `{callee}`"))?.into());
                }
                let call = self.builder.build_call(function, &values, "")?;
                if let Some(dest) = dest {
                    let ret = signature.ret.ok_or_else(|| {
                        BackendError::new(format!("uses the result of `{callee}`, which returns nothing"))
                    })?;
                    let ValueKind::Basic(value) = call.try_as_basic_value() else {
                        return Err(BackendError::new(format!("LLVM call to `{callee}` has no value")));
                    };
                    self.store_local(*dest, as_int(value)?, ret)?;
                }
                Ok(())
            }
            Statement::Print(op) => {
                let value = self.typed_operand(op, Ty::I64, "the argument of print")?;
                let print = self.unit.print();
                self.builder.build_call(print, &[value.into()], "")?;
                Ok(())
            }
        }
    }

    fn rvalue(&mut self, rvalue: &Rvalue) -> Result<(IntValue<'ctx>, Ty), BackendError> {
        match rvalue {
            Rvalue::Use(op) => self.operand(op),
            Rvalue::LoadGlobal(symbol) => {
                let (ptr, ty) = self.global(symbol)?;
                let value = load(&self.builder, memory_type(self.ctx, ty), ptr.as_pointer_value(), "")?;
                let value = match ty {
                    Ty::I64 => value,
                    Ty::Bool => {
                        self.builder.build_int_compare(IntPredicate::NE, value, self.ctx.i8_type().const_zero(), "")?
                    }
                };
                Ok((value, ty))
            }
            Rvalue::Unary(UnOp::Neg, op) => {
                let value = self.typed_operand(op, Ty::I64, "the operand of `-`")?;
                Ok((self.builder.build_int_neg(value, "")?, Ty::I64))
            }
            Rvalue::Unary(UnOp::Not, op) => {
                let value = self.typed_operand(op, Ty::Bool, "the operand of `!`")?;
                Ok((self.builder.build_not(value, "")?, Ty::Bool))
            }
            Rvalue::Binary(op, lhs, rhs) => self.binary(*op, lhs, rhs),
        }
    }

    fn binary(&mut self, op: BinOp, lhs: &Operand, rhs: &Operand) -> Result<(IntValue<'ctx>, Ty), BackendError> {
        let (a, ta) = self.operand(lhs)?;
        let (b, tb) = self.operand(rhs)?;
        let operands_ok = match op {
            BinOp::Eq | BinOp::Ne => ta == tb,
            _ => ta == Ty::I64 && tb == Ty::I64,
        };
        if !operands_ok {
            return Err(BackendError::new(format!("operands of {op:?} have types {ta} and {tb}")));
        }
        let b_ = &self.builder;
        let value = match op {
            BinOp::Add => b_.build_int_add(a, b, "")?,
            BinOp::Sub => b_.build_int_sub(a, b, "")?,
            BinOp::Mul => b_.build_int_mul(a, b, "")?,
            BinOp::Div | BinOp::Rem => self.div_rem(op, a, b, rhs)?,
            BinOp::Eq => b_.build_int_compare(IntPredicate::EQ, a, b, "")?,
            BinOp::Ne => b_.build_int_compare(IntPredicate::NE, a, b, "")?,
            BinOp::Lt => b_.build_int_compare(IntPredicate::SLT, a, b, "")?,
            BinOp::Le => b_.build_int_compare(IntPredicate::SLE, a, b, "")?,
            BinOp::Gt => b_.build_int_compare(IntPredicate::SGT, a, b, "")?,
            BinOp::Ge => b_.build_int_compare(IntPredicate::SGE, a, b, "")?,
        };
        Ok((value, op.result_ty()))
    }

    /// `a / b` or `a % b` with the language's semantics: a zero divisor
    /// traps; `MIN / -1 == MIN` and `MIN % -1 == 0` (LLVM's `sdiv`/`srem`
    /// are undefined there, so a `-1` divisor is replaced by `1` and the
    /// quotient negated instead).
    fn div_rem(
        &mut self,
        op: BinOp,
        a: IntValue<'ctx>,
        b: IntValue<'ctx>,
        divisor: &Operand,
    ) -> Result<IntValue<'ctx>, BackendError> {
        let i64_type = self.ctx.i64_type();
        match *divisor {
            Operand::Const(Const::I64(c)) if c != 0 && c != -1 => {
                return Ok(match op {
                    BinOp::Div => self.builder.build_int_signed_div(a, b, "")?,
                    _ => self.builder.build_int_signed_rem(a, b, "")?,
                })
            }
            _ => {}
        }
        let trap = self.trap_block()?;
        let here = self.builder.get_insert_block().ok_or_else(|| BackendError::new("builder is not positioned"))?;
        self.splits += 1;
        let next = self.ctx.insert_basic_block_after(here, &format!("bb{}.{}", self.current, self.splits));
        let is_zero = self.builder.build_int_compare(IntPredicate::EQ, b, i64_type.const_zero(), "")?;
        self.builder.build_conditional_branch(is_zero, trap, next)?;
        self.builder.position_at_end(next);
        let minus_one = i64_type.const_all_ones();
        let is_minus_one = self.builder.build_int_compare(IntPredicate::EQ, b, minus_one, "")?;
        let safe = as_int(self.builder.build_select(is_minus_one, i64_type.const_int(1, false), b, "")?)?;
        Ok(match op {
            BinOp::Div => {
                let quotient = self.builder.build_int_signed_div(a, safe, "")?;
                let negated = self.builder.build_int_neg(a, "")?;
                as_int(self.builder.build_select(is_minus_one, negated, quotient, "")?)?
            }
            // x % 1 == 0 == x % -1, so the substituted divisor is the answer.
            _ => self.builder.build_int_signed_rem(a, safe, "")?,
        })
    }

    /// The function's block that calls the trap, created on first use.
    fn trap_block(&mut self) -> Result<BasicBlock<'ctx>, BackendError> {
        if let Some(block) = self.trap {
            return Ok(block);
        }
        let here = self.builder.get_insert_block().ok_or_else(|| BackendError::new("builder is not positioned"))?;
        let llfn = here.get_parent().ok_or_else(|| BackendError::new("block without a function"))?;
        let block = self.ctx.append_basic_block(llfn, "div.zero");
        let trap = self.unit.div_by_zero();
        self.builder.position_at_end(block);
        self.builder.build_call(trap, &[], "")?;
        self.builder.build_unreachable()?;
        self.builder.position_at_end(here);
        self.trap = Some(block);
        Ok(block)
    }

    fn terminator(&mut self, terminator: &Terminator) -> Result<(), BackendError> {
        match terminator {
            Terminator::Goto(target) => {
                let target = self.block(*target)?;
                self.builder.build_unconditional_branch(target)?;
            }
            Terminator::Branch { cond, then_block, else_block } => {
                let cond = self.typed_operand(cond, Ty::Bool, "a branch condition")?;
                let (then_block, else_block) = (self.block(*then_block)?, self.block(*else_block)?);
                self.builder.build_conditional_branch(cond, then_block, else_block)?;
            }
            Terminator::Return(value) => match (value, self.func.signature.ret) {
                (Some(op), Some(ty)) => {
                    let value = self.typed_operand(op, ty, "the returned value")?;
                    self.builder.build_return(Some(&value))?;
                }
                (None, None) => {
                    self.builder.build_return(None)?;
                }
                (Some(_), None) => return Err(BackendError::new("returns a value from a function without a result")),
                (None, Some(ty)) => {
                    return Err(BackendError::new(format!("returns nothing, the function returns {ty}")))
                }
            },
        }
        Ok(())
    }
}
