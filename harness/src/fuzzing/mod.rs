//! The properties lockstep's fuzz targets check, as plain functions of the
//! input bytes. The `fuzz/` targets (cargo fuzz, coverage-guided) and the
//! stable replay in `cargo test` (`harness/tests/it/fuzzing.rs`: every
//! committed corpus and regression input, then a bounded number of
//! generated ones) call the same code, listed in [`TARGETS`].
//!
//! - [`check_invalidation`]: the invalidation logic is sound and precise
//!   on generated programs under the harness's own edits.
//! - [`check_frontend`]: arbitrary bytes never panic the front end, every
//!   error points at a real place in a real file, and an accepted program
//!   lowers to valid MIR that the interpreter runs.
//! - [`check_cache_entry`]: arbitrary bytes as a cache entry, a manifest,
//!   an IR pack or a module summary are a miss or an error, never a panic
//!   and never a wrong hit.
//! - [`check_queue`]: the plan executor on an arbitrary DAG, failure set,
//!   worker count and schedule runs each job once after its dependencies,
//!   skips exactly the transitive dependents of failures, and links in
//!   plan order.
//! - [`check_schedule_text`]: arbitrary text as a scheduling strategy, a
//!   schedule or a repro file is a clear error or a value that round-trips.

mod cache;
mod frontend;
mod invalidation;
mod queue;
mod schedule_text;

pub use cache::check_cache_entry;
pub use frontend::{check_frontend, MODULE_SEPARATOR};
pub use invalidation::{check_invalidation, check_invalidation_case, InvalidationCase};
pub use queue::{check_queue, QueueCase};
pub use schedule_text::check_schedule_text;

use lockstep_core::diagnostic::DiagnosticStyle;
use lockstep_core::driver::LksFrontEnd;
use lockstep_core::engine::hash::FunctionContentHash;
use lockstep_core::engine::{FrontEnd, ProgramIndex};
use lockstep_core::lks::{self, modules::ProjectSources, modules::SourceFile};
use lockstep_core::mir::Symbol;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A fuzz target: its `fuzz/` name and the property it checks (which
/// panics, with a description, when the property fails).
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub name: &'static str,
    pub check: fn(&[u8]),
}

/// Every fuzz target, by the name of its `fuzz/fuzz_targets/NAME.rs`.
pub const TARGETS: [Target; 5] = [
    Target {
        name: "invalidation",
        check: |data| {
            check_invalidation(data);
        },
    },
    Target { name: "frontend", check: check_frontend },
    Target { name: "cache_entry", check: check_cache_entry },
    Target { name: "queue", check: check_queue },
    Target { name: "schedule_text", check: check_schedule_text },
];

/// Runs `target` on `input`: `None` if its property held, else the panic
/// message that says what failed (the panic is caught).
pub fn run_target(target: Target, input: &[u8]) -> Option<String> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (target.check)(input)));
    outcome.err().map(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".to_string())
    })
}

/// The committed inputs of `target` under the `fuzz/` directory `fuzz`:
/// its corpus (`corpus/NAME/`) and its regressions (`regressions/NAME/`),
/// each sorted.
pub fn committed_inputs(fuzz: &Path, target: Target) -> (Vec<PathBuf>, Vec<PathBuf>) {
    (files_in(&fuzz.join("corpus").join(target.name)), files_in(&fuzz.join("regressions").join(target.name)))
}

/// The files of `dir`, sorted; none if it does not exist.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// Switches on the planted defect `LOCKSTEP_INJECT_BUG` names, if any: the
/// fuzz targets call it once at start-up, so `LOCKSTEP_INJECT_BUG=NAME
/// cargo fuzz run T --features bug-zoo` measures how long the target takes
/// to find that bug (the README's findings table).
///
/// # Panics
///
/// If the variable names no bug, or names one in a build without the
/// `bug-zoo` feature: a measurement that plants nothing must not pass for
/// one that found nothing.
pub fn plant_bug_from_env() {
    use lockstep_core::bug_zoo::{self, Bug};
    if let Ok(name) = std::env::var(bug_zoo::ENV_VAR) {
        let bug = Bug::from_name(&name)
            .unwrap_or_else(|| panic!("{}={name}: no such bug (see `lockstep verify --list-bugs`)", bug_zoo::ENV_VAR));
        bug_zoo::activate(Some(bug)).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// `(module, text)` pairs as the front end reads a project.
pub fn sources(files: &[(String, String)]) -> ProjectSources {
    let mut files: Vec<SourceFile> = files
        .iter()
        .map(|(module, text)| SourceFile::new(module.clone(), format!("{module}.lks"), text.clone()))
        .collect();
    files.sort_by(|a, b| a.module.cmp(&b.module));
    ProjectSources { files, stamps: None }
}

fn frontend(files: &[(String, String)]) -> Option<LksFrontEnd> {
    lks::check_sources(Path::new("fuzz"), &sources(files), DiagnosticStyle::Short).ok().map(LksFrontEnd::new)
}

fn hashes(fe: &LksFrontEnd) -> BTreeMap<Symbol, FunctionContentHash> {
    let program = fe.facts();
    let index = ProgramIndex::new(program);
    program.all_functions().map(|f| (f.symbol.clone(), index.content_hash(f))).collect()
}

fn lowered(fe: &LksFrontEnd, symbol: &Symbol) -> Vec<u8> {
    fe.lower(symbol).and_then(|f| postcard::to_stdvec(&f).ok()).unwrap_or_default()
}
