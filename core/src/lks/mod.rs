//! The reference language (`.lks`) front end.
//!
//! `lexer` → `parser` (spanned [`ast`]) → `modules` (project loading, import
//! graph, cycle detection) → `check` (name resolution, types, constants;
//! produces span-free [`thir`]) → `lower` (THIR → MIR).

pub mod ast;
pub mod lexer;
pub mod parser;
