//! The `lockstep` command line: `build`, `run` and `check` a `.lks` project.

use clap::{Parser, Subcommand, ValueEnum};
use lockstep_core::diagnostic::DiagnosticStyle;
use lockstep_core::driver::{self, BuildOptions};
use lockstep_core::llvm::OptLevel;
use std::path::PathBuf;
use std::process::ExitCode;

/// lockstep: an incremental, parallel LLVM code generation and link pipeline.
///
/// A project is a directory of `.lks` modules whose root is `main.lks`. Try:
///
///   lockstep run examples/tour
///
/// Errors in the program are reported as `FILE:LINE:COL: error: MESSAGE`
/// with exit status 1.
#[derive(Debug, Parser)]
#[command(name = "lockstep", version, about, long_about, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile a project to a native executable.
    Build {
        #[command(flatten)]
        build: BuildArgs,
        /// Where to write the executable [default: DIR/.lockstep/out/NAME].
        #[arg(short = 'o', long = "output", value_name = "EXE")]
        output: Option<PathBuf>,
    },
    /// Build a project, then run it; exits with the program's exit status.
    Run {
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Parse and type-check a project without generating code.
    Check {
        /// The project directory (containing `main.lks`).
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = Diagnostics::Short)]
        diagnostics: Diagnostics,
    },
}

#[derive(Debug, clap::Args)]
struct BuildArgs {
    /// The project directory (containing `main.lks`).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Optimise with LLVM's O2 pipeline (debug builds run no LLVM passes).
    #[arg(long)]
    release: bool,
    /// LLVM target triple for the objects [default: the host]. Only host
    /// objects can be linked.
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
    /// The C compiler driver used to link [default: $LOCKSTEP_CC or `cc`].
    #[arg(long, value_name = "CC")]
    linker: Option<PathBuf>,
    /// How to show errors in the program: one line each, or with the source.
    #[arg(long, value_enum, default_value_t = Diagnostics::Short)]
    diagnostics: Diagnostics,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Diagnostics {
    Short,
    Rich,
}

impl From<Diagnostics> for DiagnosticStyle {
    fn from(d: Diagnostics) -> DiagnosticStyle {
        match d {
            Diagnostics::Short => DiagnosticStyle::Short,
            Diagnostics::Rich => DiagnosticStyle::Rich,
        }
    }
}

impl BuildArgs {
    fn options(&self, output: Option<PathBuf>) -> BuildOptions {
        let mut options = BuildOptions::new(&self.dir);
        options.output = output;
        options.opt = if self.release { OptLevel::Release } else { OptLevel::Debug };
        options.target = self.target.clone();
        options.linker = self.linker.clone();
        options.diagnostics = self.diagnostics.into();
        options
    }
}

fn fail(error: impl std::fmt::Display) -> ExitCode {
    let text = error.to_string();
    eprintln!("{}", text.trim_end());
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Build { build, output } => match driver::build(&build.options(output)) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Command::Run { build } => {
            let exe = match driver::build(&build.options(None)) {
                Ok(exe) => exe,
                Err(e) => return fail(e),
            };
            match std::process::Command::new(&exe).status() {
                Ok(status) => match status.code() {
                    Some(code) => ExitCode::from(code as u8),
                    // Killed by a signal: report it the way shells do.
                    None => ExitCode::from(128 + signal_of(&status) as u8),
                },
                Err(e) => fail(format!("error: cannot run `{}`: {e}", exe.display())),
            }
        }
        Command::Check { dir, diagnostics } => match lockstep_core::lks::check_dir(&dir, diagnostics.into()) {
            Ok(program) => {
                let functions: usize = program.modules.iter().map(|m| m.functions.len()).sum();
                println!("ok: {} modules, {} functions", program.modules.len(), functions);
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    }
}

#[cfg(unix)]
fn signal_of(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.signal().unwrap_or(0)
}

#[cfg(not(unix))]
fn signal_of(_status: &std::process::ExitStatus) -> i32 {
    0
}
