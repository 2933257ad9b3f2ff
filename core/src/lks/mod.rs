//! The reference language (`.lks`) front end.
//!
//! `lexer` → `parser` (spanned [`ast`]) → `modules` (project loading, import
//! graph, cycle detection) → `check` (name resolution, types, constants;
//! produces span-free [`thir`]) → `lower` (THIR → MIR).

pub mod ast;
pub mod check;
pub mod lexer;
pub mod lower;
pub mod modules;
pub mod parser;
pub mod thir;

use crate::diagnostic::{render, DiagnosticStyle};
use crate::mir::{self, Signature, Symbol, Ty};
use std::collections::BTreeMap;
use std::path::Path;

/// Why the front end stopped.
#[derive(Debug)]
pub enum FrontendError {
    /// The project directory could not be read.
    Load(modules::LoadError),
    /// The program is malformed; `rendered` holds every diagnostic, one
    /// `FILE:LINE:COL: error: MESSAGE` line each, in source order.
    Diagnostics { rendered: String, count: usize },
}

impl std::fmt::Display for FrontendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrontendError::Load(e) => write!(f, "{e}"),
            FrontendError::Diagnostics { rendered, .. } => f.write_str(rendered.trim_end()),
        }
    }
}

impl std::error::Error for FrontendError {}

/// Parses and checks already-read sources.
pub fn check_sources(
    dir: &Path,
    sources: &modules::ProjectSources,
    style: DiagnosticStyle,
) -> Result<check::CheckedProgram, FrontendError> {
    let (project, mut diagnostics) = modules::parse_project(dir, sources);
    let (graph, graph_errors) = modules::ModuleGraph::build(&project);
    diagnostics.extend(graph_errors);
    // Checking a program that failed to parse would mostly repeat the
    // parser's complaints about the holes it left; stop here instead.
    if diagnostics.is_empty() {
        match check::check_project(&project, &graph) {
            Ok(program) => return Ok(program),
            Err(errors) => diagnostics = errors,
        }
    }
    let count = diagnostics.len();
    Err(FrontendError::Diagnostics { rendered: render(&project.sources, &diagnostics, style), count })
}

/// Reads, parses and checks the project in `dir`.
pub fn check_dir(dir: &Path, style: DiagnosticStyle) -> Result<check::CheckedProgram, FrontendError> {
    let sources = modules::read_project(dir).map_err(FrontendError::Load)?;
    check_sources(dir, &sources, style)
}

/// Every function signature and global type of a checked program: what
/// lowering needs to fill in `mir::Function::externs`.
#[derive(Clone, Debug, Default)]
pub struct ProgramSymbols {
    pub signatures: BTreeMap<Symbol, Signature>,
    pub global_types: BTreeMap<Symbol, Ty>,
}

impl ProgramSymbols {
    /// From the engine's facts: every function and global of the program,
    /// checked in this build or not.
    pub fn from_facts(facts: &crate::engine::ProgramFacts) -> ProgramSymbols {
        let mut symbols = ProgramSymbols::default();
        for module in &facts.modules {
            for f in std::iter::once(&module.init).chain(&module.functions) {
                symbols.signatures.insert(f.symbol.clone(), f.signature.clone());
            }
            for g in &module.globals {
                symbols.global_types.insert(g.symbol.clone(), g.ty);
            }
        }
        symbols
    }

    pub fn of(program: &check::CheckedProgram) -> ProgramSymbols {
        let mut symbols = ProgramSymbols::default();
        for module in &program.modules {
            for f in module.functions.iter().chain(std::iter::once(&module.init)) {
                symbols.signatures.insert(f.symbol.clone(), f.signature.clone());
            }
            for g in &module.globals {
                symbols.global_types.insert(g.symbol.clone(), g.ty);
            }
        }
        symbols
    }

    /// Lowers and optimises one checked function to MIR.
    pub fn lower(&self, f: &thir::Function) -> mir::Function {
        let mut lowered = lower::lower_function(f, &self.signatures, &self.global_types);
        mir::passes::optimize(&mut lowered);
        lowered
    }
}

/// Lowers a whole checked program to MIR (what the interpreter runs).
pub fn lower_program(program: &check::CheckedProgram) -> mir::Program {
    let symbols = ProgramSymbols::of(program);
    let mut globals = Vec::new();
    let mut functions = Vec::new();
    for module in &program.modules {
        globals.extend(module.globals.iter().cloned());
        functions.push(symbols.lower(&module.init));
        functions.extend(module.functions.iter().map(|f| symbols.lower(f)));
    }
    mir::Program { globals, functions, entry: program.entry.clone() }
}
pub mod facts;
pub mod incremental;
