//! A whole build of a `.lks` project: sources → executable.
//!
//! The driver wires the reference front end to the LLVM backend and the
//! system linker. Objects go to `DIR/.lockstep/` (the project's work
//! directory); the executable defaults to `DIR/.lockstep/out/NAME`.

use crate::diagnostic::DiagnosticStyle;
use crate::link::{LinkError, Linker};
use crate::lks::{self, FrontendError};
use crate::llvm::{self, ArtifactKind, BackendError, CodegenConfig, LlvmBackend, OptLevel};
use crate::mir::{CodegenUnit, Function};
use std::path::{Path, PathBuf};

/// Name of the per-project work directory.
pub const WORK_DIR: &str = ".lockstep";

/// What to build and how.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub project_dir: PathBuf,
    /// Where the executable goes; default `DIR/.lockstep/out/NAME`.
    pub output: Option<PathBuf>,
    pub opt: OptLevel,
    /// LLVM target triple; default: the host.
    pub target: Option<String>,
    /// Linker driver; default `LOCKSTEP_CC` or `cc`.
    pub linker: Option<PathBuf>,
    pub diagnostics: DiagnosticStyle,
}

impl BuildOptions {
    pub fn new(project_dir: impl Into<PathBuf>) -> BuildOptions {
        BuildOptions {
            project_dir: project_dir.into(),
            output: None,
            opt: OptLevel::Debug,
            target: None,
            linker: None,
            diagnostics: DiagnosticStyle::Short,
        }
    }

    pub fn work_dir(&self) -> PathBuf {
        self.project_dir.join(WORK_DIR)
    }

    /// The executable's path.
    pub fn output_path(&self) -> PathBuf {
        match &self.output {
            Some(p) => p.clone(),
            None => {
                let name = self
                    .project_dir
                    .canonicalize()
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| "program".to_string());
                self.work_dir().join("out").join(name)
            }
        }
    }

    pub fn codegen_config(&self) -> CodegenConfig {
        CodegenConfig {
            opt: self.opt,
            target: self.target.clone().unwrap_or_else(llvm::host_triple),
            artifact: ArtifactKind::Object,
        }
    }
}

/// Why a build failed.
#[derive(Debug)]
pub enum BuildError {
    Frontend(FrontendError),
    Backend(BackendError),
    Link(LinkError),
    Io { path: PathBuf, error: std::io::Error },
    /// The build produced objects for a target this machine cannot link.
    CrossLink { target: String },
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Frontend(e) => write!(f, "{e}"),
            BuildError::Backend(e) => write!(f, "error: code generation failed: {e}"),
            BuildError::Link(e) => write!(f, "error: {e}"),
            BuildError::Io { path, error } => write!(f, "{}: error: {error}", path.display()),
            BuildError::CrossLink { target } => {
                write!(f, "error: objects for `{target}` were built, but only the host target can be linked")
            }
        }
    }
}

impl std::error::Error for BuildError {}

impl From<FrontendError> for BuildError {
    fn from(e: FrontendError) -> BuildError {
        BuildError::Frontend(e)
    }
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |error| BuildError::Io { path: path.to_path_buf(), error }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a
/// rename, so a reader never sees half a file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_error(dir))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(io_error(path))?;
    tmp.persist(path).map_err(|e| BuildError::Io { path: path.to_path_buf(), error: e.error })?;
    Ok(())
}

/// Groups a module's initialiser and functions into its codegen unit.
pub fn module_unit(module: &lks::check::CheckedModule, lower: impl Fn(&lks::thir::Function) -> Function) -> CodegenUnit {
    let mut functions = vec![lower(&module.init)];
    functions.extend(module.functions.iter().map(lower));
    CodegenUnit { name: module.name.clone(), globals: module.globals.clone(), functions }
}

/// Builds the project: check, lower, codegen one object per module plus the
/// entry object, link. Returns the executable's path.
pub fn build(options: &BuildOptions) -> Result<PathBuf, BuildError> {
    let program = lks::check_dir(&options.project_dir, options.diagnostics)?;
    let symbols = lks::ProgramSymbols::of(&program);
    let config = options.codegen_config();
    let backend = LlvmBackend::new();
    let objects_dir = options.work_dir().join("objects");
    std::fs::create_dir_all(&objects_dir).map_err(io_error(&objects_dir))?;
    let mut inputs = Vec::new();
    for module in &program.modules {
        let unit = module_unit(module, |f| symbols.lower(f));
        let bytes = backend.compile_unit(&unit, &config).map_err(BuildError::Backend)?;
        let path = objects_dir.join(format!("{}.o", unit.name));
        write_atomic(&path, &bytes)?;
        inputs.push(path);
    }
    let entry = backend.compile_entry(&program.entry, &config).map_err(BuildError::Backend)?;
    // `$` cannot start a module name, so this never collides with a module.
    let entry_path = objects_dir.join("$entry.o");
    write_atomic(&entry_path, &entry)?;
    inputs.push(entry_path);
    if config.target != llvm::host_triple() {
        return Err(BuildError::CrossLink { target: config.target });
    }
    let output = options.output_path();
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    }
    Linker::choose(options.linker.as_deref()).link_executable(&inputs, &output).map_err(BuildError::Link)?;
    Ok(output)
}
