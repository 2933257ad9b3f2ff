//! The entry object: C `main` and the runtime helpers, as LLVM IR.
//!
//! ```text
//! int main(void) { init_1(); ...; return (int)(main_main() & 255); }   // or main_main(); return 0;
//! void __lockstep_print(int64_t x) { printf("%lld\n", x); }
//! void __lockstep_div_by_zero(void) { write(2, "division by zero\n", 17); exit(101); }
//! ```

use super::lower::{add_attributes, add_mir_function};
use super::BackendError;
use crate::mir::{runtime, EntryPoint, Signature, Ty};
use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::targets::TargetMachine;
use inkwell::types::{FunctionType, PointerType};
use inkwell::values::{BasicValueEnum, FunctionValue, PointerValue, ValueKind};
use inkwell::AddressSpace;
use std::collections::BTreeMap;

const PRINT_FORMAT: &[u8] = b"%lld\n";
const DIV_BY_ZERO_MESSAGE: &[u8] = b"division by zero\n";

/// `i8*` on LLVM 14 (typed pointers), `ptr` after.
fn byte_ptr_type(ctx: &Context) -> PointerType<'_> {
    #[cfg(feature = "typed-pointers")]
    return ctx.i8_type().ptr_type(AddressSpace::default());
    #[cfg(not(feature = "typed-pointers"))]
    return ctx.ptr_type(AddressSpace::default());
}

/// A private constant byte string named `name`, as a byte pointer.
fn byte_string<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    name: &str,
    bytes: &[u8],
    nul: bool,
) -> PointerValue<'ctx> {
    let value = ctx.const_string(bytes, nul);
    let global = module.add_global(value.get_type(), None, name);
    global.set_initializer(&value);
    global.set_constant(true);
    global.set_unnamed_addr(true);
    global.set_linkage(Linkage::Private);
    global.as_pointer_value().const_cast(byte_ptr_type(ctx))
}

fn declare<'ctx>(module: &Module<'ctx>, name: &str, ty: FunctionType<'ctx>) -> FunctionValue<'ctx> {
    module.add_function(name, ty, Some(Linkage::External))
}

/// Fills `module` (already named and targeted) with the entry glue.
pub(super) fn lower_entry<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    machine: &TargetMachine,
    entry: &EntryPoint,
) -> Result<(), BackendError> {
    let builder = ctx.create_builder();
    let i32_type = ctx.i32_type();
    let i64_type = ctx.i64_type();
    let void_type = ctx.void_type();
    let size_type = ctx.ptr_sized_int_type(&machine.get_target_data(), None);
    let byte_ptr = byte_ptr_type(ctx);

    // int main(void)
    let c_main = declare(module, "main", i32_type.fn_type(&[], false));
    add_attributes(ctx, c_main, &["nounwind"]);
    // Inits are `void()`, the program's main `void()` or `i64()`; one symbol
    // cannot be both (a lockstep bug).
    let mut callees: BTreeMap<String, (FunctionValue<'ctx>, Option<Ty>)> = BTreeMap::new();
    let mut callee = |name: String, ret: Option<Ty>| -> Result<FunctionValue<'ctx>, BackendError> {
        match callees.get(&name) {
            Some(&(f, known)) if known == ret => Ok(f),
            Some(_) => Err(BackendError::new(format!("`{name}` is both an initialiser and the main function"))),
            None => {
                let f = add_mir_function(ctx, module, &name, &Signature { params: Vec::new(), ret });
                callees.insert(name, (f, ret));
                Ok(f)
            }
        }
    };

    let start = ctx.append_basic_block(c_main, "start");
    builder.position_at_end(start);
    for init in &entry.init_order {
        let f = callee(init.mangled_function(), None)?;
        builder.build_call(f, &[], "")?;
    }
    let program_main = callee(entry.main.mangled_function(), entry.main_returns_value.then_some(Ty::I64))?;
    let call = builder.build_call(program_main, &[], "")?;
    let status = if entry.main_returns_value {
        let ValueKind::Basic(BasicValueEnum::IntValue(result)) = call.try_as_basic_value() else {
            return Err(BackendError::new("LLVM call to main has no integer value"));
        };
        let low = builder.build_and(result, i64_type.const_int(255, false), "")?;
        builder.build_int_truncate(low, i32_type, "")?
    } else {
        i32_type.const_zero()
    };
    builder.build_return(Some(&status))?;

    // void __lockstep_print(i64)
    let printf = declare(module, "printf", i32_type.fn_type(&[byte_ptr.into()], true));
    let format = byte_string(ctx, module, "lockstep.print_format", PRINT_FORMAT, true);
    let print = declare(module, runtime::PRINT, void_type.fn_type(&[i64_type.into()], false));
    add_attributes(ctx, print, &["nounwind"]);
    builder.position_at_end(ctx.append_basic_block(print, "start"));
    let value = print.get_nth_param(0).ok_or_else(|| BackendError::new("print lacks its parameter"))?;
    builder.build_call(printf, &[format.into(), value.into()], "")?;
    builder.build_return(None)?;

    // void __lockstep_div_by_zero(void), noreturn
    let write =
        declare(module, "write", size_type.fn_type(&[i32_type.into(), byte_ptr.into(), size_type.into()], false));
    let exit = declare(module, "exit", void_type.fn_type(&[i32_type.into()], false));
    add_attributes(ctx, exit, &["noreturn", "nounwind"]);
    let message = byte_string(ctx, module, "lockstep.div_by_zero_message", DIV_BY_ZERO_MESSAGE, false);
    let trap = declare(module, runtime::DIV_BY_ZERO, void_type.fn_type(&[], false));
    add_attributes(ctx, trap, &["noreturn", "nounwind", "cold"]);
    builder.position_at_end(ctx.append_basic_block(trap, "start"));
    let length = size_type.const_int(DIV_BY_ZERO_MESSAGE.len() as u64, false);
    builder.build_call(write, &[i32_type.const_int(2, false).into(), message.into(), length.into()], "")?;
    builder.build_call(exit, &[i32_type.const_int(101, false).into()], "")?;
    builder.build_unreachable()?;
    Ok(())
}
