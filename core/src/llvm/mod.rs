//! The LLVM backend: MIR → object code or bitcode, through inkwell.
