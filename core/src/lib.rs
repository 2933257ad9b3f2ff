//! lockstep-core: the engine of lockstep.
//!
//! What lives where:
//! - [`source`], [`diagnostic`]: files, spans, and `FILE:LINE:COL: error:` output.
//! - [`lks`]: the reference language front end (lexer, parser, module graph,
//!   name resolution, type checking, constant evaluation, lowering to MIR).
//! - [`mir`]: the mid-level IR, its passes, text form and interpreter.
//! - [`llvm`]: the LLVM backend (MIR → object or bitcode) through inkwell.
//! - [`link`]: the system linker driver (`cc`, `ld -r`).
//! - [`driver`]: a whole build, from a project directory to an executable.

pub mod diagnostic;
/// The bug zoo's switches (planted defects, compiled away without the `bug-zoo` feature).
pub use lockstep_scheduler::bug_zoo;
pub mod driver;
pub mod engine;
pub mod exec;
pub mod link;
pub mod lks;
pub mod llvm;
pub mod mir;
pub mod source;
